/* examples/asrtool/layer_conformer.c - the `asrtool layer` NAMEs of asr.h sections 4.3 and
 * 4.4 (Conformer pieces, LSTM, attention) and their `asrtool gradcheck` entries. The
 * framework (at_layer_*) is in asrtool/layer.c; docs/layers.md documents every NAME, its
 * weight keys (the PyTorch / ESPnet state_dict names), options and shapes.
 *
 *   asrtool layer lstm --weights DIR [--hidden H] [--bidirectional] [--pyramidal]
 *                      [--lengths L] [--grad-output G] X OUTDIR
 *   asrtool layer attention --weights DIR --query S [--type dot|add|loc] [--prev A]
 *                      [--scaling 2] [--lengths L] [--grad-output G] [--grad-alpha GA] X OUTDIR
 *   asrtool layer conv2d_subsampling --weights DIR [--odim D] [--rel-pos latest|legacy] X OUTDIR
 *   asrtool layer rel_pos_mhsa --weights DIR [--heads H] [--rel-pos latest|legacy] X OUTDIR
 *   asrtool layer conformer_block --weights DIR [--heads H] [--kernel K] [--rel-pos ...] [--train] X OUTDIR
 *
 * Exit status: 0 success, 2 bad input (one line naming the file, key or dimension). */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <stdlib.h>
#include <string.h>

/* Reports a negative asr_result of a library call as the layer's one error line. */
static int cf_check(at_layer_ctx *L, asr_result r, const char *what) {
  if (r >= 0) return 0;
  return at_layer_fail(L, "%s: %s", what, asr_result_string(r));
}

static at_opt cf_opt(const char *name, at_opt_type type, void *dst, double lo, double hi,
                     const char *choices) {
  at_opt o;
  o.name = name, o.type = type, o.dst = dst, o.lo = lo, o.hi = hi, o.choices = choices;
  return o;
}

/* ======================================================================================
 * lstm: nn.LSTM(batch_first=True), one layer, optionally bidirectional, optionally
 * preceded by the pyramidal concatenation of [Chan16].
 * ====================================================================================== */

/* One direction's weights: <key>_l0 or <key>_l0_reverse. */
static int lstm_weights(at_layer_ctx *L, asr_lstm_params *p, const char *suffix, int I, int *H) {
  char k1[64], k2[64], k3[64], k4[64];
  int d_ih[2], d_hh[2], d_b[1];
  asr_real *bi, *bh;
  snprintf(k1, sizeof k1, "weight_ih_l0%s", suffix);
  snprintf(k2, sizeof k2, "weight_hh_l0%s", suffix);
  snprintf(k3, sizeof k3, "bias_ih_l0%s", suffix);
  snprintf(k4, sizeof k4, "bias_hh_l0%s", suffix);
  /* weight_hh_l0 is (4H, H): it fixes H unless --hidden did */
  d_hh[0] = *H > 0 ? 4 * *H : -1;
  d_hh[1] = *H > 0 ? *H : -1;
  p->w_hh = at_layer_weight(L, k2, 2, d_hh, "4*hidden,hidden");
  if (at_layer_failed(L)) return 2;
  if (d_hh[0] != 4 * d_hh[1] || d_hh[1] < 1)
    return at_layer_fail(L, "weight '%s' has shape (%d, %d), expected (4*hidden, hidden)", k2,
                         d_hh[0], d_hh[1]);
  *H = d_hh[1];
  d_ih[0] = 4 * *H, d_ih[1] = I;
  p->w_ih = at_layer_weight(L, k1, 2, d_ih, "4*hidden,input");
  d_b[0] = 4 * *H;
  bi = at_layer_weight_opt(L, k3, 1, d_b, "4*hidden");
  d_b[0] = 4 * *H;
  bh = at_layer_weight_opt(L, k4, 1, d_b, "4*hidden");
  if (at_layer_failed(L)) return 2;
  if (!bi != !bh)
    return at_layer_fail(L, "%s: '%s' and '%s' come together (nn.LSTM(bias=...))", k3, k3, k4);
  p->b_ih = bi, p->b_hh = bh;
  return 0;
}

int layer_lstm(at_layer_ctx *L) {
  int hidden = 0, bidir = 0, pyramid = 0, N, T, C, I, T2, H = 0, ndir, dir, r, d;
  int yd[3], sd[3];
  at_opt opts[3];
  const int *len0, *len;
  int *len2 = NULL;
  const asr_real *x;
  asr_real *xin = NULL, *y, *hn, *cn;
  asr_lstm_params p[2];
  asr_real *gates[2], *cell[2];
  opts[0] = cf_opt("hidden", AT_INT, &hidden, 1, 1 << 20, NULL);
  opts[1] = cf_opt("bidirectional", AT_FLAG, &bidir, 0, 0, NULL);
  opts[2] = cf_opt("pyramidal", AT_FLAG, &pyramid, 0, 0, NULL);
  r = at_layer_parse(L, opts, 3, "[--hidden H] [--bidirectional] [--pyramidal]", "(N, T, input)");
  if (r) return r;
  if (L->x_ndim != 3) return at_layer_fail(L, "%s: X must be (N, T, input), got %d dimensions", L->x_path, L->x_ndim);
  N = L->x_dims[0], T = L->x_dims[1], C = L->x_dims[2];
  if (C < 1) return at_layer_fail(L, "%s: the input size (dimension 2) is 0", L->x_path);
  len0 = at_layer_lengths(L, N, T, 0);
  if (at_layer_failed(L)) return 2;
  ndir = bidir ? 2 : 1;
  /* --pyramidal: [x_2i, x_2i+1] concatenated first, (N, T/2, 2C) */
  x = L->x, T2 = T, I = C, len = len0;
  if (pyramid) {
    T2 = T / 2, I = 2 * C;
    xin = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * ((size_t)N * T2 * I + 1));
    len2 = (int *)at_layer_alloc(L, sizeof(int) * (size_t)(N + 1));
    if (at_layer_failed(L)) return 2;
    if (cf_check(L, asr_pyramid_concat_forward(xin, len2, L->x, N, T, C, len0), "pyramidal concat")) return 2;
    x = xin;
    len = len2;
  }
  H = hidden;
  if (lstm_weights(L, &p[0], "", I, &H)) return 2;
  if (bidir && lstm_weights(L, &p[1], "_reverse", I, &H)) return 2;
  yd[0] = N, yd[1] = T2, yd[2] = ndir * H;
  sd[0] = ndir, sd[1] = N, sd[2] = H;
  y = at_layer_output(L, "y", 3, yd);
  hn = at_layer_output(L, "h_n", 3, sd);
  cn = at_layer_output(L, "c_n", 3, sd);
  for (dir = 0; dir < ndir; dir++) {
    gates[dir] = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * ((size_t)N * T2 * 4 * H + 1));
    cell[dir] = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * ((size_t)N * T2 * H + 1));
  }
  if (at_layer_failed(L)) return 2;
  for (dir = 0; dir < ndir; dir++) {
    asr_real *yo = y + (size_t)dir * H, *ho = hn + (size_t)dir * N * H, *co = cn + (size_t)dir * N * H;
    if (L->impl == AT_IMPL_NAIVE) {
      r = cf_check(L, asr_lstm_forward_naive(yo, ndir * H, ho, co, gates[dir], cell[dir], x, NULL, NULL,
                                             &p[dir], N, T2, I, H, len, dir), "forward (naive)");
    } else {
      size_t wb = asr_lstm_forward_workspace_size(N, T2, I, H);
      void *w = at_layer_alloc(L, wb);
      if (!w) return 2;
      r = cf_check(L, (L->impl == AT_IMPL_REF ? asr_lstm_forward_ref : asr_lstm_forward)(
                          yo, ndir * H, ho, co, gates[dir], cell[dir], x, NULL, NULL, &p[dir], N, T2, I,
                          H, len, dir, w, wb), "forward");
    }
    if (r) return r;
  }
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, 3, yd);
    asr_real *dx = at_layer_grad_x(L), *dxin = dx;
    asr_lstm_grads g[2];
    static const char *keys[4] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
    for (dir = 0; dir < ndir; dir++) {
      char k[4][64];
      for (d = 0; d < 4; d++) snprintf(k[d], sizeof k[d], "%s%s", keys[d], dir ? "_reverse" : "");
      g[dir].w_ih = at_layer_grad(L, k[0]);
      g[dir].w_hh = at_layer_grad(L, k[1]);
      g[dir].b_ih = at_layer_grad(L, k[2]);
      g[dir].b_hh = at_layer_grad(L, k[3]);
    }
    if (pyramid) dxin = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * ((size_t)N * T2 * I + 1));
    if (at_layer_failed(L)) return 2;
    for (dir = 0; dir < ndir; dir++) {
      const asr_real *yo = y + (size_t)dir * H;
      if (L->impl == AT_IMPL_NAIVE) {
        r = cf_check(L, asr_lstm_backward_naive(dxin, NULL, NULL, &g[dir], G + (size_t)dir * H, ndir * H,
                                                NULL, NULL, yo, ndir * H, gates[dir], cell[dir], x, NULL,
                                                NULL, &p[dir], N, T2, I, H, len, dir), "backward (naive)");
      } else {
        size_t wb = asr_lstm_backward_workspace_size(N, T2, I, H);
        void *w = at_layer_alloc(L, wb);
        if (!w) return 2;
        r = cf_check(L, (L->impl == AT_IMPL_REF ? asr_lstm_backward_ref : asr_lstm_backward)(
                            dxin, NULL, NULL, &g[dir], G + (size_t)dir * H, ndir * H, NULL, NULL, yo,
                            ndir * H, gates[dir], cell[dir], x, NULL, NULL, &p[dir], N, T2, I, H, len,
                            dir, w, wb), "backward");
      }
      if (r) return r;
    }
    if (pyramid && cf_check(L, asr_pyramid_concat_backward(dx, dxin, N, T, C, len0), "pyramidal concat backward"))
      return 2;
  }
  return at_layer_failed(L) ? 2 : 0;
}

/* ======================================================================================
 * attention: one decoder step of dot / additive / location-aware attention (ESPnet's
 * AttAdd / AttLoc weight names). X = the encoder output (N, T, E).
 * ====================================================================================== */
int layer_attention(at_layer_ctx *L) {
  int type = 2, N, T, E, Dq = -1, A = -1, C = 0, F = 0, r;
  double scaling = -1;
  const char *qpath = NULL, *ppath = NULL, *gapath = NULL;
  at_opt opts[5];
  const int *len;
  int qd[2], pd[2], d2[2], d1[1], d4[4];
  asr_real *query, *prev = NULL, *ctx, *alpha, *act = NULL, *feat = NULL;
  asr_attention_params p;
  asr_attention_config cfg;
  opts[0] = cf_opt("type", AT_CHOICE, &type, 0, 0, "dot|add|loc");
  opts[1] = cf_opt("query", AT_STR, &qpath, 0, 0, NULL);
  opts[2] = cf_opt("prev", AT_STR, &ppath, 0, 0, NULL);
  opts[3] = cf_opt("scaling", AT_REAL, &scaling, 0, 1e6, NULL);
  opts[4] = cf_opt("grad-alpha", AT_STR, &gapath, 0, 0, NULL);
  r = at_layer_parse(L, opts, 5,
                     "--query S.npy [--type dot|add|loc] [--prev A.npy] [--scaling 2] [--grad-alpha GA.npy]",
                     "(N, T, E) the encoder output");
  if (r) return r;
  if (L->x_ndim != 3) return at_layer_fail(L, "%s: X must be (N, T, E), got %d dimensions", L->x_path, L->x_ndim);
  N = L->x_dims[0], T = L->x_dims[1], E = L->x_dims[2];
  if (E < 1) return at_layer_fail(L, "%s: E (dimension 2) is 0", L->x_path);
  if (!qpath) return at_layer_fail(L, "--query S.npy (the decoder state, (N, Dq)) is required");
  len = at_layer_lengths(L, N, T, 0);
  memset(&p, 0, sizeof p);
  memset(&cfg, 0, sizeof cfg);
  qd[0] = N, qd[1] = type == 0 ? E : -1;
  query = at_layer_input(L, qpath, 2, qd, "N,Dq");
  Dq = qd[1];
  if (at_layer_failed(L)) return 2;
  if (type != 0) {
    d2[0] = -1, d2[1] = E;
    p.enc_w = at_layer_weight(L, "mlp_enc.weight", 2, d2, "att_dim,E");
    A = d2[0];
    d1[0] = A;
    p.enc_b = at_layer_weight_opt(L, "mlp_enc.bias", 1, d1, "att_dim");
    d2[0] = A, d2[1] = Dq;
    p.dec_w = at_layer_weight(L, "mlp_dec.weight", 2, d2, "att_dim,Dq");
    d2[0] = 1, d2[1] = A;
    p.gvec_w = at_layer_weight(L, "gvec.weight", 2, d2, "1,att_dim");
    d1[0] = 1;
    p.gvec_b = at_layer_weight_opt(L, "gvec.bias", 1, d1, "1");
    if (type == 2) {
      d4[0] = -1, d4[1] = 1, d4[2] = 1, d4[3] = -1;
      p.conv_w = at_layer_weight(L, "loc_conv.weight", 4, d4, "chans,1,1,2*filts+1");
      C = d4[0];
      if (!at_layer_failed(L) && d4[3] % 2 == 0)
        return at_layer_fail(L, "weight 'loc_conv.weight': the filter width %d must be odd (2*filts+1)", d4[3]);
      F = (d4[3] - 1) / 2;
      d2[0] = A, d2[1] = C;
      p.att_w = at_layer_weight(L, "mlp_att.weight", 2, d2, "att_dim,chans");
    }
  }
  if (at_layer_failed(L)) return 2;
  cfg.type = (asr_attention_type)type;
  cfg.enc_dim = E, cfg.dec_dim = Dq, cfg.att_dim = A, cfg.conv_chans = C, cfg.conv_filts = F;
  cfg.scaling = scaling >= 0 ? scaling : (type == 0 ? 1.0 : 2.0);
  if (type == 2) {
    if (ppath) {
      pd[0] = N, pd[1] = T;
      prev = at_layer_input(L, ppath, 2, pd, "N,T");
    } else {
      prev = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * ((size_t)N * T + 1));
      if (prev && cf_check(L, asr_attention_uniform(prev, N, T, len), "uniform alignment")) return 2;
    }
    feat = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * ((size_t)N * T * C + 1));
  } else if (ppath) {
    return at_layer_fail(L, "--prev: only --type loc reads the previous alignment");
  }
  if (type != 0) act = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * ((size_t)N * T * A + 1));
  d2[0] = N, d2[1] = E;
  ctx = at_layer_output(L, "y", 2, d2);
  d2[0] = N, d2[1] = T;
  alpha = at_layer_output(L, "alpha", 2, d2);
  if (at_layer_failed(L)) return 2;
  if (L->impl == AT_IMPL_NAIVE) {
    r = cf_check(L, asr_attention_forward_naive(ctx, alpha, act, feat, L->x, len, query, prev, &p, &cfg, N, T),
                 "forward (naive)");
  } else {
    size_t wb = asr_attention_forward_workspace_size(&cfg, N, T);
    void *w = at_layer_alloc(L, wb);
    if (!w) return 2;
    r = cf_check(L, (L->impl == AT_IMPL_REF ? asr_attention_forward_ref : asr_attention_forward)(
                        ctx, alpha, act, feat, L->x, len, query, prev, &p, &cfg, N, T, w, wb), "forward");
  }
  if (r) return r;
  if (gapath && !L->has_grad) return at_layer_fail(L, "--grad-alpha needs --grad-output");
  if (L->has_grad) {
    const asr_real *G, *GA = NULL;
    asr_real *dx, *dq, *dp = NULL;
    asr_attention_grads g;
    d2[0] = N, d2[1] = E;
    G = at_layer_grad_output(L, 2, d2);
    if (gapath) {
      pd[0] = N, pd[1] = T;
      GA = at_layer_input(L, gapath, 2, pd, "N,T");
    }
    dx = at_layer_grad_x(L);
    d2[0] = N, d2[1] = Dq;
    dq = at_layer_output(L, "grad_query", 2, d2);
    if (type == 2) {
      d2[0] = N, d2[1] = T;
      dp = at_layer_output(L, "grad_prev", 2, d2);
    }
    g.enc_w = at_layer_grad(L, "mlp_enc.weight");
    g.enc_b = at_layer_grad(L, "mlp_enc.bias");
    g.dec_w = at_layer_grad(L, "mlp_dec.weight");
    g.att_w = at_layer_grad(L, "mlp_att.weight");
    g.conv_w = at_layer_grad(L, "loc_conv.weight");
    g.gvec_w = at_layer_grad(L, "gvec.weight");
    g.gvec_b = at_layer_grad(L, "gvec.bias");
    if (at_layer_failed(L)) return 2;
    if (L->impl == AT_IMPL_NAIVE) {
      r = cf_check(L, asr_attention_backward_naive(dx, dq, dp, &g, G, GA, alpha, act, feat, L->x, len, query,
                                                   prev, &p, &cfg, N, T), "backward (naive)");
    } else {
      size_t wb = asr_attention_backward_workspace_size(&cfg, N, T);
      void *w = at_layer_alloc(L, wb);
      if (!w) return 2;
      r = cf_check(L, (L->impl == AT_IMPL_REF ? asr_attention_backward_ref : asr_attention_backward)(
                          dx, dq, dp, &g, G, GA, alpha, act, feat, L->x, len, query, prev, &p, &cfg, N, T,
                          w, wb), "backward");
    }
  }
  return at_layer_failed(L) ? 2 : 0;
}

/* ======================================================================================
 * conv2d_subsampling: ESPnet's Conv2dSubsampling with RelPositionalEncoding. X = the
 * features (N, T, idim); y = out(conv(x)) * sqrt(D) (N, T', D) and pos_emb (1, P, D).
 * ====================================================================================== */
static const char *const REL_POS_CHOICES = "latest|legacy";

int layer_conv2d_subsampling(at_layer_ctx *L) {
  int odim = 0, rel = 0, max_len = 5000, N, T, F, D, T2, F2, P, r;
  int d4[4], d2[2], d1[1], yd[3], pd[3];
  at_opt opts[3];
  const int *len;
  asr_conv2d_subsampling_params p;
  asr_conv2d_subsampling_saved s;
  asr_real *y, *pe;
  void *sbuf, *work;
  size_t sb, wb;
  opts[0] = cf_opt("odim", AT_INT, &odim, 1, 1 << 16, NULL);
  opts[1] = cf_opt("rel-pos", AT_CHOICE, &rel, 0, 0, REL_POS_CHOICES);
  opts[2] = cf_opt("max-len", AT_INT, &max_len, 1, 1 << 24, NULL);
  r = at_layer_parse(L, opts, 3, "[--odim D] [--rel-pos latest|legacy] [--max-len 5000]",
                     "(N, T, idim) features");
  if (r) return r;
  if (L->x_ndim != 3) return at_layer_fail(L, "%s: X must be (N, T, idim), got %d dimensions", L->x_path, L->x_ndim);
  N = L->x_dims[0], T = L->x_dims[1], F = L->x_dims[2];
  if (T < 7) return at_layer_fail(L, "%s: T = %d frames is too short for 4x subsampling (the two 3x3 kernels need T >= 7)", L->x_path, T);
  if (F < 7) return at_layer_fail(L, "%s: idim = %d is too small for 4x subsampling (the two 3x3 kernels need idim >= 7)", L->x_path, F);
  len = at_layer_lengths(L, N, T, 0);
  T2 = asr_conv2d_subsampling_out_len(T), F2 = asr_conv2d_subsampling_out_len(F);
  d4[0] = odim > 0 ? odim : -1, d4[1] = 1, d4[2] = 3, d4[3] = 3;
  p.conv0_w = at_layer_weight(L, "conv.0.weight", 4, d4, "odim,1,3,3");
  D = d4[0];
  d1[0] = D;
  p.conv0_b = at_layer_weight(L, "conv.0.bias", 1, d1, "odim");
  d4[0] = D, d4[1] = D, d4[2] = 3, d4[3] = 3;
  p.conv2_w = at_layer_weight(L, "conv.2.weight", 4, d4, "odim,odim,3,3");
  d1[0] = D;
  p.conv2_b = at_layer_weight(L, "conv.2.bias", 1, d1, "odim");
  d2[0] = D, d2[1] = D * F2;
  p.out_w = at_layer_weight(L, "out.0.weight", 2, d2, "odim,odim*(((idim-1)//2-1)//2)");
  d1[0] = D;
  p.out_b = at_layer_weight(L, "out.0.bias", 1, d1, "odim");
  if (at_layer_failed(L)) return 2;
  if (D % 2) return at_layer_fail(L, "odim = %d: the sinusoidal positional encoding needs an even d_model", D);
  P = asr_rel_pos_len((asr_rel_pos_type)rel, T2);
  yd[0] = N, yd[1] = T2, yd[2] = D;
  pd[0] = 1, pd[1] = P, pd[2] = D;
  y = at_layer_output(L, "y", 3, yd);
  pe = at_layer_output(L, "pos_emb", 3, pd);
  sb = asr_conv2d_subsampling_saved_size(N, T, F, D);
  wb = asr_conv2d_subsampling_workspace_size(N, T, F, D);
  sbuf = at_layer_alloc(L, sb);
  work = at_layer_alloc(L, wb);
  if (at_layer_failed(L)) return 2;
  if (cf_check(L, asr_conv2d_subsampling_saved_init(&s, sbuf, sb, N, T, F, D), "saved buffers")) return 2;
  if (L->impl == AT_IMPL_NAIVE)
    r = cf_check(L, asr_conv2d_subsampling_forward_naive(y, NULL, &s, L->x, len, &p, N, T, F, D, work, wb),
                 "forward (naive)");
  else
    r = cf_check(L, (L->impl == AT_IMPL_REF ? asr_conv2d_subsampling_forward_ref : asr_conv2d_subsampling_forward)(
                        y, NULL, &s, L->x, len, &p, N, T, F, D, work, wb), "forward");
  if (r) return r;
  if (T2 > 0 && cf_check(L, asr_rel_pos_encoding(pe, T2, D, (asr_rel_pos_type)rel, max_len), "pos_emb")) return 2;
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, 3, yd);
    asr_real *dx = at_layer_grad_x(L);
    asr_conv2d_subsampling_grads g;
    g.conv0_w = at_layer_grad(L, "conv.0.weight"), g.conv0_b = at_layer_grad(L, "conv.0.bias");
    g.conv2_w = at_layer_grad(L, "conv.2.weight"), g.conv2_b = at_layer_grad(L, "conv.2.bias");
    g.out_w = at_layer_grad(L, "out.0.weight"), g.out_b = at_layer_grad(L, "out.0.bias");
    if (at_layer_failed(L)) return 2;
    r = cf_check(L, (L->impl == AT_IMPL_NAIVE ? asr_conv2d_subsampling_backward_naive
                     : L->impl == AT_IMPL_REF ? asr_conv2d_subsampling_backward_ref : asr_conv2d_subsampling_backward)(
                        dx, &g, G, &s, L->x, len, &p, N, T, F, D, work, wb), "backward");
  }
  return at_layer_failed(L) ? 2 : 0;
}

/* ======================================================================================
 * rel_pos_mhsa: ESPnet's RelPositionMultiHeadedAttention (latest) or
 * LegacyRelPositionMultiHeadedAttention (legacy), self-attention on X (N, T, D), the
 * positional embeddings made inside by the matching encoding for this T.
 * ====================================================================================== */

/* The attention weights under `prefix` ("" or "self_attn."); H from pos_bias_u unless
 * heads > 0 was given. Returns 0 or 2. */
static int mhsa_weights(at_layer_ctx *L, const char *prefix, int D, int heads, int *H_out,
                        asr_rel_mhsa_params *p) {
  static const char *lin[4] = {"linear_q", "linear_k", "linear_v", "linear_out"};
  const asr_real **w[4], **b[4];
  char key[128];
  int dd[2], d1[1], i, H;
  w[0] = &p->wq, w[1] = &p->wk, w[2] = &p->wv, w[3] = &p->wo;
  b[0] = &p->bq, b[1] = &p->bk, b[2] = &p->bv, b[3] = &p->bo;
  for (i = 0; i < 4; i++) {
    snprintf(key, sizeof key, "%s%s.weight", prefix, lin[i]);
    dd[0] = D, dd[1] = D;
    *w[i] = at_layer_weight(L, key, 2, dd, "d_model,d_model");
    snprintf(key, sizeof key, "%s%s.bias", prefix, lin[i]);
    d1[0] = D;
    *b[i] = at_layer_weight(L, key, 1, d1, "d_model");
  }
  snprintf(key, sizeof key, "%slinear_pos.weight", prefix);
  dd[0] = D, dd[1] = D;
  p->wpos = at_layer_weight(L, key, 2, dd, "d_model,d_model");
  if (at_layer_failed(L)) return 2;
  if (heads > 0 && D % heads)
    return at_layer_fail(L, "--heads %d does not divide d_model = %d (dimension 2 of X)", heads, D);
  snprintf(key, sizeof key, "%spos_bias_u", prefix);
  dd[0] = heads > 0 ? heads : -1, dd[1] = heads > 0 ? D / heads : -1;
  p->pos_bias_u = at_layer_weight(L, key, 2, dd, "heads,d_model/heads");
  if (at_layer_failed(L)) return 2;
  H = dd[0];
  if (H < 1 || (long)H * dd[1] != D)
    return at_layer_fail(L, "weight '%s' has shape (%d, %d): heads x d_k must be d_model = %d", key, dd[0], dd[1], D);
  snprintf(key, sizeof key, "%spos_bias_v", prefix);
  dd[0] = H, dd[1] = D / H;
  p->pos_bias_v = at_layer_weight(L, key, 2, dd, "heads,d_model/heads");
  *H_out = H;
  return at_layer_failed(L) ? 2 : 0;
}

static asr_rel_mhsa_grads mhsa_grads(at_layer_ctx *L, const char *prefix) {
  static const char *keys[11] = {"linear_q.weight", "linear_q.bias", "linear_k.weight", "linear_k.bias",
                                 "linear_v.weight", "linear_v.bias", "linear_out.weight", "linear_out.bias",
                                 "linear_pos.weight", "pos_bias_u", "pos_bias_v"};
  asr_real *g[11];
  asr_rel_mhsa_grads out;
  char key[128];
  int i;
  for (i = 0; i < 11; i++) {
    snprintf(key, sizeof key, "%s%s", prefix, keys[i]);
    g[i] = at_layer_grad(L, key);
  }
  out.wq = g[0], out.bq = g[1], out.wk = g[2], out.bk = g[3], out.wv = g[4], out.bv = g[5];
  out.wo = g[6], out.bo = g[7], out.wpos = g[8], out.pos_bias_u = g[9], out.pos_bias_v = g[10];
  return out;
}

int layer_rel_pos_mhsa(at_layer_ctx *L) {
  int heads = 0, rel = 0, max_len = 5000, N, T, D, H = 1, P, r, ad[4];
  at_opt opts[3];
  const int *len;
  asr_rel_mhsa_params p;
  asr_rel_mhsa_saved s;
  asr_real *y, *attn, *pe;
  void *sbuf, *work;
  size_t sb, wb;
  opts[0] = cf_opt("heads", AT_INT, &heads, 1, 1 << 16, NULL);
  opts[1] = cf_opt("rel-pos", AT_CHOICE, &rel, 0, 0, REL_POS_CHOICES);
  opts[2] = cf_opt("max-len", AT_INT, &max_len, 1, 1 << 24, NULL);
  r = at_layer_parse(L, opts, 3, "[--heads H] [--rel-pos latest|legacy] [--max-len 5000]", "(N, T, d_model)");
  if (r) return r;
  if (L->x_ndim != 3) return at_layer_fail(L, "%s: X must be (N, T, d_model), got %d dimensions", L->x_path, L->x_ndim);
  N = L->x_dims[0], T = L->x_dims[1], D = L->x_dims[2];
  if (D < 2 || D % 2) return at_layer_fail(L, "%s: d_model = %d must be even (the sinusoidal encoding)", L->x_path, D);
  len = at_layer_lengths(L, N, T, 0);
  memset(&p, 0, sizeof p);
  if (mhsa_weights(L, "", D, heads, &H, &p)) return 2;
  P = asr_rel_pos_len((asr_rel_pos_type)rel, T);
  y = at_layer_output(L, "y", 3, L->x_dims);
  ad[0] = N, ad[1] = H, ad[2] = T, ad[3] = T;
  attn = at_layer_output(L, "attn", 4, ad);
  pe = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * ((size_t)P * D + 1));
  sb = asr_rel_mhsa_saved_size(N, T, D, H, (asr_rel_pos_type)rel);
  wb = asr_rel_mhsa_forward_workspace_size(N, T, D, H, (asr_rel_pos_type)rel);
  if (L->has_grad) {
    size_t b2 = asr_rel_mhsa_backward_workspace_size(N, T, D, H, (asr_rel_pos_type)rel);
    if (b2 > wb) wb = b2;
  }
  sbuf = at_layer_alloc(L, sb);
  work = at_layer_alloc(L, wb);
  if (at_layer_failed(L)) return 2;
  if (T > 0 && cf_check(L, asr_rel_pos_encoding(pe, T, D, (asr_rel_pos_type)rel, max_len), "pos_emb")) return 2;
  if (cf_check(L, asr_rel_mhsa_saved_init(&s, sbuf, sb, N, T, D, H, (asr_rel_pos_type)rel), "saved buffers")) return 2;
  if (L->impl == AT_IMPL_NAIVE)
    r = cf_check(L, asr_rel_mhsa_forward_naive(y, &s, L->x, pe, len, &p, N, T, D, H, (asr_rel_pos_type)rel),
                 "forward (naive)");
  else
    r = cf_check(L, (L->impl == AT_IMPL_REF ? asr_rel_mhsa_forward_ref : asr_rel_mhsa_forward)(
                        y, &s, L->x, pe, len, &p, N, T, D, H, (asr_rel_pos_type)rel, work, wb), "forward");
  if (r) return r;
  memcpy(attn, s.attn, sizeof(asr_real) * (size_t)N * H * T * T);
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, 3, L->x_dims);
    asr_real *dx = at_layer_grad_x(L);
    asr_rel_mhsa_grads g = mhsa_grads(L, "");
    if (at_layer_failed(L)) return 2;
    if (L->impl == AT_IMPL_NAIVE)
      r = cf_check(L, asr_rel_mhsa_backward_naive(dx, NULL, &g, G, &s, L->x, pe, len, &p, N, T, D, H,
                                                  (asr_rel_pos_type)rel), "backward (naive)");
    else
      r = cf_check(L, (L->impl == AT_IMPL_REF ? asr_rel_mhsa_backward_ref : asr_rel_mhsa_backward)(
                          dx, NULL, &g, G, &s, L->x, pe, len, &p, N, T, D, H, (asr_rel_pos_type)rel, work, wb),
                   "backward");
  }
  return at_layer_failed(L) ? 2 : 0;
}

/* ======================================================================================
 * conformer_block: ESPnet's EncoderLayer (macaron FF, rel-pos MHSA, conv module, final
 * layer norm; normalize_before, concat_after false, swish), keys as its state_dict.
 * ====================================================================================== */
static int ff_weights(at_layer_ctx *L, const char *prefix, int D, int *F, asr_conformer_ff_params *p) {
  char key[128];
  int dd[2], d1[1];
  snprintf(key, sizeof key, "%s.w_1.weight", prefix);
  dd[0] = *F > 0 ? *F : -1, dd[1] = D;
  p->w1 = at_layer_weight(L, key, 2, dd, "linear_units,d_model");
  if (at_layer_failed(L)) return 2;
  *F = dd[0];
  snprintf(key, sizeof key, "%s.w_1.bias", prefix);
  d1[0] = *F;
  p->b1 = at_layer_weight_opt(L, key, 1, d1, "linear_units");
  snprintf(key, sizeof key, "%s.w_2.weight", prefix);
  dd[0] = D, dd[1] = *F;
  p->w2 = at_layer_weight(L, key, 2, dd, "d_model,linear_units");
  snprintf(key, sizeof key, "%s.w_2.bias", prefix);
  d1[0] = D;
  p->b2 = at_layer_weight_opt(L, key, 1, d1, "d_model");
  return at_layer_failed(L) ? 2 : 0;
}

static void ff_grads(at_layer_ctx *L, const char *prefix, asr_conformer_ff_grads *g) {
  char key[128];
  snprintf(key, sizeof key, "%s.w_1.weight", prefix), g->w1 = at_layer_grad(L, key);
  snprintf(key, sizeof key, "%s.w_1.bias", prefix), g->b1 = at_layer_grad(L, key);
  snprintf(key, sizeof key, "%s.w_2.weight", prefix), g->w2 = at_layer_grad(L, key);
  snprintf(key, sizeof key, "%s.w_2.bias", prefix), g->b2 = at_layer_grad(L, key);
}

int layer_conformer_block(at_layer_ctx *L) {
  static const char *norms[5] = {"norm_ff_macaron", "norm_mha", "norm_conv", "norm_ff", "norm_final"};
  int heads = 0, kernel = 0, rel = 0, max_len = 5000, train = 0, N, T, D, H = 1, F = -1, F2, P, r, i, drop;
  double ln_eps = 1e-12, bn_eps = 1e-5, momentum = 0.1;
  int d1[1], d3[3];
  at_opt opts[12];
  at_drop_opts dro;
  asr_block_drop dr;
  const int *len;
  asr_conformer_block_params p;
  asr_conformer_config cfg;
  asr_conformer_block_saved s;
  asr_real *y, *pe;
  void *sbuf, *work;
  size_t sb, wb, wb2;
  opts[0] = cf_opt("heads", AT_INT, &heads, 1, 1 << 16, NULL);
  opts[1] = cf_opt("kernel", AT_INT, &kernel, 1, 1 << 16, NULL);
  opts[2] = cf_opt("rel-pos", AT_CHOICE, &rel, 0, 0, REL_POS_CHOICES);
  opts[3] = cf_opt("max-len", AT_INT, &max_len, 1, 1 << 24, NULL);
  opts[4] = cf_opt("train", AT_FLAG, &train, 0, 0, NULL);
  opts[5] = cf_opt("ln-eps", AT_REAL, &ln_eps, 0, 1, NULL);
  opts[6] = cf_opt("bn-eps", AT_REAL, &bn_eps, 0, 1, NULL);
  opts[7] = cf_opt("momentum", AT_REAL, &momentum, 0, 1, NULL);
  at_drop_opts_add(opts + 8, &dro);
  r = at_layer_parse(L, opts, 12,
                     "[--heads H] [--kernel K] [--rel-pos latest|legacy] [--max-len 5000] [--train] "
                     "[--ln-eps 1e-12] [--bn-eps 1e-5] [--momentum 0.1] [--dropout P --drop-mask M.npy] "
                     "[--stoch-coeff C] [--stoch-skip]",
                     "(N, T, d_model)");
  if (r) return r;
  if (L->x_ndim != 3) return at_layer_fail(L, "%s: X must be (N, T, d_model), got %d dimensions", L->x_path, L->x_ndim);
  N = L->x_dims[0], T = L->x_dims[1], D = L->x_dims[2];
  if (D < 2 || D % 2) return at_layer_fail(L, "%s: d_model = %d must be even (the sinusoidal encoding)", L->x_path, D);
  len = at_layer_lengths(L, N, T, 0);
  memset(&p, 0, sizeof p);
  /* the two feed-forward modules */
  if (ff_weights(L, "feed_forward_macaron", D, &F, &p.ff_macaron)) return 2;
  F2 = F;
  if (ff_weights(L, "feed_forward", D, &F2, &p.ff)) return 2;
  /* self-attention */
  if (mhsa_weights(L, "self_attn.", D, heads, &H, &p.mhsa)) return 2;
  /* the convolution module */
  d3[0] = 2 * D, d3[1] = D, d3[2] = 1;
  p.conv.pw1_w = at_layer_weight(L, "conv_module.pointwise_conv1.weight", 3, d3, "2*d_model,d_model,1");
  d1[0] = 2 * D;
  p.conv.pw1_b = at_layer_weight_opt(L, "conv_module.pointwise_conv1.bias", 1, d1, "2*d_model");
  d3[0] = D, d3[1] = 1, d3[2] = kernel > 0 ? kernel : -1;
  p.conv.dw_w = at_layer_weight(L, "conv_module.depthwise_conv.weight", 3, d3, "d_model,1,kernel");
  if (at_layer_failed(L)) return 2;
  kernel = d3[2];
  if (kernel % 2 == 0)
    return at_layer_fail(L, "weight 'conv_module.depthwise_conv.weight': kernel %d must be odd (ESPnet pads (kernel-1)/2)", kernel);
  d1[0] = D;
  p.conv.dw_b = at_layer_weight_opt(L, "conv_module.depthwise_conv.bias", 1, d1, "d_model");
  p.conv.bn_w = at_layer_weight_opt(L, "conv_module.norm.weight", 1, d1, "d_model");
  p.conv.bn_b = at_layer_weight_opt(L, "conv_module.norm.bias", 1, d1, "d_model");
  p.conv.bn_mean = at_layer_weight(L, "conv_module.norm.running_mean", 1, d1, "d_model");
  p.conv.bn_var = at_layer_weight(L, "conv_module.norm.running_var", 1, d1, "d_model");
  at_layer_weight_opt(L, "conv_module.norm.num_batches_tracked", 0, d1, NULL);   /* unused */
  d3[0] = D, d3[1] = D, d3[2] = 1;
  p.conv.pw2_w = at_layer_weight(L, "conv_module.pointwise_conv2.weight", 3, d3, "d_model,d_model,1");
  d1[0] = D;
  p.conv.pw2_b = at_layer_weight_opt(L, "conv_module.pointwise_conv2.bias", 1, d1, "d_model");
  /* the five layer norms */
  {
    asr_conformer_norm *nm[5];
    nm[0] = &p.norm_ff_macaron, nm[1] = &p.norm_mha, nm[2] = &p.norm_conv, nm[3] = &p.norm_ff, nm[4] = &p.norm_final;
    for (i = 0; i < 5; i++) {
      char key[64];
      snprintf(key, sizeof key, "%s.weight", norms[i]);
      d1[0] = D;
      nm[i]->weight = at_layer_weight(L, key, 1, d1, "d_model");
      snprintf(key, sizeof key, "%s.bias", norms[i]);
      nm[i]->bias = at_layer_weight(L, key, 1, d1, "d_model");
    }
  }
  if (at_layer_failed(L)) return 2;
  if (!p.conv.bn_w != !p.conv.bn_b)
    return at_layer_fail(L, "conv_module.norm.weight and conv_module.norm.bias come together (affine)");
  if (F2 != F) return at_layer_fail(L, "feed_forward and feed_forward_macaron have different linear_units (%d, %d)", F2, F);
  asr_conformer_config_init(&cfg, D, H, F, kernel);
  cfg.rel_pos = (asr_rel_pos_type)rel;
  cfg.training = train;
  cfg.ln_eps = ln_eps, cfg.bn_eps = bn_eps, cfg.bn_momentum = momentum;
  if (train) {
    long cnt = 0;
    for (i = 0; i < N; i++) cnt += len ? len[i] : T;
    if (cnt < 2) return at_layer_fail(L, "%s: --train needs more than 1 valid frame for the batch norm (got %ld)", L->x_path, cnt);
    /* the running statistics are updated in place: outputs */
    p.conv.bn_mean = at_layer_output_copy(L, "conv_module.norm.running_mean", "conv_module.norm.running_mean");
    p.conv.bn_var = at_layer_output_copy(L, "conv_module.norm.running_var", "conv_module.norm.running_var");
  }
  P = asr_rel_pos_len(cfg.rel_pos, T);
  y = at_layer_output(L, "y", 3, L->x_dims);
  pe = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * ((size_t)P * D + 1));
  sb = asr_conformer_block_saved_size(&cfg, N, T);
  wb = asr_conformer_block_forward_workspace_size(&cfg, N, T);
  wb2 = L->has_grad ? asr_conformer_block_backward_workspace_size(&cfg, N, T) : 0;
  if (wb2 > wb) wb = wb2;
  if (sb == (size_t)-1 || wb == (size_t)-1) return at_layer_fail(L, "%s: sizes too large", L->x_path);
  sbuf = at_layer_alloc(L, sb);
  work = at_layer_alloc(L, wb);
  drop = at_layer_drop(L, &dro, asr_conformer_block_drop_mask_size(&cfg, N, T), &dr);
  if (at_layer_failed(L) || drop < 0) return 2;
  if (T > 0 && cf_check(L, asr_rel_pos_encoding(pe, T, D, cfg.rel_pos, max_len), "pos_emb")) return 2;
  if (cf_check(L, asr_conformer_block_saved_init(&s, sbuf, sb, &cfg, N, T), "saved buffers")) return 2;
  r = cf_check(L, drop ? asr_conformer_block_forward_train(y, &s, L->x, pe, len, &p, &cfg, N, T, &dr, work, wb)
                       : (L->impl == AT_IMPL_NAIVE ? asr_conformer_block_forward_naive
                          : L->impl == AT_IMPL_REF ? asr_conformer_block_forward_ref : asr_conformer_block_forward)(
                             y, &s, L->x, pe, len, &p, &cfg, N, T, work, wb), "forward");
  if (r) return r;
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, 3, L->x_dims);
    asr_real *dx = at_layer_grad_x(L);
    asr_conformer_block_grads g;
    memset(&g, 0, sizeof g);
    ff_grads(L, "feed_forward_macaron", &g.ff_macaron);
    ff_grads(L, "feed_forward", &g.ff);
    g.mhsa = mhsa_grads(L, "self_attn.");
    g.conv.pw1_w = at_layer_grad(L, "conv_module.pointwise_conv1.weight");
    g.conv.pw1_b = at_layer_grad(L, "conv_module.pointwise_conv1.bias");
    g.conv.dw_w = at_layer_grad(L, "conv_module.depthwise_conv.weight");
    g.conv.dw_b = at_layer_grad(L, "conv_module.depthwise_conv.bias");
    g.conv.bn_w = at_layer_grad(L, "conv_module.norm.weight");
    g.conv.bn_b = at_layer_grad(L, "conv_module.norm.bias");
    g.conv.pw2_w = at_layer_grad(L, "conv_module.pointwise_conv2.weight");
    g.conv.pw2_b = at_layer_grad(L, "conv_module.pointwise_conv2.bias");
    for (i = 0; i < 5; i++) {
      char key[64];
      snprintf(key, sizeof key, "%s.weight", norms[i]), g.norm_w[i] = at_layer_grad(L, key);
      snprintf(key, sizeof key, "%s.bias", norms[i]), g.norm_b[i] = at_layer_grad(L, key);
    }
    if (at_layer_failed(L)) return 2;
    r = cf_check(L, drop ? asr_conformer_block_backward_train(dx, NULL, &g, G, &s, L->x, pe, len, &p, &cfg, N, T, &dr,
                                                              work, wb)
                         : (L->impl == AT_IMPL_NAIVE ? asr_conformer_block_backward_naive
                            : L->impl == AT_IMPL_REF ? asr_conformer_block_backward_ref
                                                     : asr_conformer_block_backward)(dx, NULL, &g, G, &s, L->x, pe,
                                                                                     len, &p, &cfg, N, T, work, wb),
                 "backward");
  }
  return at_layer_failed(L) ? 2 : 0;
}

/* ======================================================================================
 * asrtool gradcheck entries (the finite-difference harnesses live in asr.h 10.3)
 * ====================================================================================== */
int gc_lstm(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_lstm(asr_lstm_forward, asr_lstm_backward, 3, 6, 4, 3, 0, 1, seed, rep) < 0 ? 2 : 0;
}
int gc_lstm_reverse(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_lstm(asr_lstm_forward, asr_lstm_backward, 3, 6, 4, 3, 1, 1, seed, rep) < 0 ? 2 : 0;
}
int gc_attention_dot(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_attention(asr_attention_forward, asr_attention_backward, ASR_ATTENTION_DOT, 3, 6,
                                 seed, rep) < 0 ? 2 : 0;
}
int gc_attention_add(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_attention(asr_attention_forward, asr_attention_backward, ASR_ATTENTION_ADDITIVE, 3, 6,
                                 seed, rep) < 0 ? 2 : 0;
}
int gc_attention_loc(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_attention(asr_attention_forward, asr_attention_backward, ASR_ATTENTION_LOCATION, 3, 6,
                                 seed, rep) < 0 ? 2 : 0;
}
int gc_rel_pos_mhsa(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_rel_pos_mhsa(asr_rel_mhsa_forward, asr_rel_mhsa_backward, ASR_REL_POS_LATEST, 3, 7, 12,
                                    3, seed, rep) < 0 ? 2 : 0;
}
int gc_rel_pos_mhsa_legacy(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_rel_pos_mhsa(asr_rel_mhsa_forward, asr_rel_mhsa_backward, ASR_REL_POS_LEGACY, 3, 7, 12,
                                    3, seed, rep) < 0 ? 2 : 0;
}
int gc_conv2d_subsampling(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_conv2d_subsampling(2, 15, 9, 3, seed, rep) < 0 ? 2 : 0;
}
int gc_conformer_block(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_conformer_block(1, ASR_REL_POS_LATEST, 0, 3, 6, seed, rep) < 0 ? 2 : 0;
}
int gc_conformer_block_legacy(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_conformer_block(1, ASR_REL_POS_LEGACY, 0, 3, 6, seed, rep) < 0 ? 2 : 0;
}
int gc_conformer_block_train(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_conformer_block(1, ASR_REL_POS_LATEST, 1, 3, 6, seed, rep) < 0 ? 2 : 0;
}
int gc_conformer_conv(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_conformer_conv(1, 1, 3, 7, seed, rep) < 0 ? 2 : 0;
}
int gc_conformer_ff(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_conformer_ff(1, seed, rep) < 0 ? 2 : 0;
}

/* ======================================================================================
 * asrtool bench: forward + backward of one Conformer block (ESPnet Conformer-S sizes:
 * D 144, 4 heads, linear_units 576, kernel 31), T 200, batch 8, evaluation batch norm;
 * of the rel-pos MHSA alone; and of a 1-layer LSTM (80 -> 256), T 200, batch 8.
 * bench/torch_conformer.py times the same modules in PyTorch.
 * ====================================================================================== */
typedef struct bench_cf {
  int impl;                      /* 1 ref, 2 simd */
  int N, T;
  asr_conformer_config cfg;
  asr_conformer_block_params p;
  asr_conformer_block_grads g;
  asr_conformer_block_saved s;
  asr_real *x, *y, *dy, *dx, *pe, *params, *grads;
  void *work;
  size_t wbytes, nparams;
  /* lstm */
  asr_lstm_params lp;
  asr_lstm_grads lg;
  asr_real *lx, *ly, *lgates, *lcell, *ldx;
  int I, Hh;
} bench_cf;

static void bench_block_call(void *v) {
  bench_cf *c = (bench_cf *)v;
  size_t i;
  for (i = 0; i < c->nparams; i++) c->grads[i] = 0;
  memset(c->dx, 0, sizeof(asr_real) * (size_t)c->N * c->T * c->cfg.d_model);
  (c->impl == 2 ? asr_conformer_block_forward : asr_conformer_block_forward_ref)(
      c->y, &c->s, c->x, c->pe, NULL, &c->p, &c->cfg, c->N, c->T, c->work, c->wbytes);
  (c->impl == 2 ? asr_conformer_block_backward : asr_conformer_block_backward_ref)(
      c->dx, NULL, &c->g, c->dy, &c->s, c->x, c->pe, NULL, &c->p, &c->cfg, c->N, c->T, c->work, c->wbytes);
}

static void bench_mhsa_call(void *v) {
  bench_cf *c = (bench_cf *)v;
  int D = c->cfg.d_model;
  memset(c->dx, 0, sizeof(asr_real) * (size_t)c->N * c->T * D);
  (c->impl == 2 ? asr_rel_mhsa_forward : asr_rel_mhsa_forward_ref)(c->y, &c->s.mhsa, c->x, c->pe, NULL, &c->p.mhsa,
                                                                  c->N, c->T, D, c->cfg.heads, c->cfg.rel_pos,
                                                                  c->work, c->wbytes);
  (c->impl == 2 ? asr_rel_mhsa_backward : asr_rel_mhsa_backward_ref)(c->dx, NULL, &c->g.mhsa, c->dy, &c->s.mhsa, c->x,
                                                                    c->pe, NULL, &c->p.mhsa, c->N, c->T, D,
                                                                    c->cfg.heads, c->cfg.rel_pos, c->work, c->wbytes);
}

static void bench_lstm_call(void *v) {
  bench_cf *c = (bench_cf *)v;
  memset(c->ldx, 0, sizeof(asr_real) * (size_t)c->N * c->T * c->I);
  (c->impl == 2 ? asr_lstm_forward : asr_lstm_forward_ref)(c->ly, c->Hh, NULL, NULL, c->lgates, c->lcell, c->lx, NULL,
                                                          NULL, &c->lp, c->N, c->T, c->I, c->Hh, NULL, 0, c->work,
                                                          c->wbytes);
  (c->impl == 2 ? asr_lstm_backward : asr_lstm_backward_ref)(c->ldx, NULL, NULL, &c->lg, c->dy, c->Hh, NULL, NULL,
                                                            c->ly, c->Hh, c->lgates, c->lcell, c->lx, NULL, NULL,
                                                            &c->lp, c->N, c->T, c->I, c->Hh, NULL, 0, c->work,
                                                            c->wbytes);
}

/* Points every weight (and gradient) of a block into two flat buffers. */
static size_t bench_block_layout(bench_cf *c, asr_real *w, asr_real *g, asr_rng *rng) {
  const int D = c->cfg.d_model, F = c->cfg.ff_dim, K = c->cfg.kernel;
  size_t used = 0, i;
  asr_real *base = w;
#define TAKE(dst, gdst, n, scale, off)                                                   \
  do {                                                                                   \
    if (w) {                                                                             \
      for (i = 0; i < (size_t)(n); i++) base[used + i] = (asr_real)((off) + (scale) * asr_rng_normal(rng)); \
      dst = base + used;                                                                 \
      gdst = g + used;                                                                   \
    }                                                                                    \
    used += (size_t)(n);                                                                 \
  } while (0)
  TAKE(c->p.ff_macaron.w1, c->g.ff_macaron.w1, F * D, 0.08, 0);
  TAKE(c->p.ff_macaron.b1, c->g.ff_macaron.b1, F, 0.05, 0);
  TAKE(c->p.ff_macaron.w2, c->g.ff_macaron.w2, D * F, 0.04, 0);
  TAKE(c->p.ff_macaron.b2, c->g.ff_macaron.b2, D, 0.05, 0);
  TAKE(c->p.ff.w1, c->g.ff.w1, F * D, 0.08, 0);
  TAKE(c->p.ff.b1, c->g.ff.b1, F, 0.05, 0);
  TAKE(c->p.ff.w2, c->g.ff.w2, D * F, 0.04, 0);
  TAKE(c->p.ff.b2, c->g.ff.b2, D, 0.05, 0);
  TAKE(c->p.mhsa.wq, c->g.mhsa.wq, D * D, 0.08, 0);
  TAKE(c->p.mhsa.bq, c->g.mhsa.bq, D, 0.05, 0);
  TAKE(c->p.mhsa.wk, c->g.mhsa.wk, D * D, 0.08, 0);
  TAKE(c->p.mhsa.bk, c->g.mhsa.bk, D, 0.05, 0);
  TAKE(c->p.mhsa.wv, c->g.mhsa.wv, D * D, 0.08, 0);
  TAKE(c->p.mhsa.bv, c->g.mhsa.bv, D, 0.05, 0);
  TAKE(c->p.mhsa.wo, c->g.mhsa.wo, D * D, 0.08, 0);
  TAKE(c->p.mhsa.bo, c->g.mhsa.bo, D, 0.05, 0);
  TAKE(c->p.mhsa.wpos, c->g.mhsa.wpos, D * D, 0.08, 0);
  TAKE(c->p.mhsa.pos_bias_u, c->g.mhsa.pos_bias_u, D, 0.1, 0);
  TAKE(c->p.mhsa.pos_bias_v, c->g.mhsa.pos_bias_v, D, 0.1, 0);
  TAKE(c->p.conv.pw1_w, c->g.conv.pw1_w, 2 * D * D, 0.08, 0);
  TAKE(c->p.conv.pw1_b, c->g.conv.pw1_b, 2 * D, 0.05, 0);
  TAKE(c->p.conv.dw_w, c->g.conv.dw_w, D * K, 0.18, 0);
  TAKE(c->p.conv.dw_b, c->g.conv.dw_b, D, 0.05, 0);
  TAKE(c->p.conv.bn_w, c->g.conv.bn_w, D, 0.1, 1);
  TAKE(c->p.conv.bn_b, c->g.conv.bn_b, D, 0.1, 0);
  TAKE(c->p.conv.bn_mean, c->g.conv.bn_b, D, 0.1, 0);   /* running stats: no gradient */
  TAKE(c->p.conv.bn_var, c->g.conv.bn_b, D, 0.1, 1);
  TAKE(c->p.conv.pw2_w, c->g.conv.pw2_w, D * D, 0.08, 0);
  TAKE(c->p.conv.pw2_b, c->g.conv.pw2_b, D, 0.05, 0);
  TAKE(c->p.norm_ff_macaron.weight, c->g.norm_w[0], D, 0.1, 1);
  TAKE(c->p.norm_ff_macaron.bias, c->g.norm_b[0], D, 0.1, 0);
  TAKE(c->p.norm_mha.weight, c->g.norm_w[1], D, 0.1, 1);
  TAKE(c->p.norm_mha.bias, c->g.norm_b[1], D, 0.1, 0);
  TAKE(c->p.norm_conv.weight, c->g.norm_w[2], D, 0.1, 1);
  TAKE(c->p.norm_conv.bias, c->g.norm_b[2], D, 0.1, 0);
  TAKE(c->p.norm_ff.weight, c->g.norm_w[3], D, 0.1, 1);
  TAKE(c->p.norm_ff.bias, c->g.norm_b[3], D, 0.1, 0);
  TAKE(c->p.norm_final.weight, c->g.norm_w[4], D, 0.1, 1);
  TAKE(c->p.norm_final.bias, c->g.norm_b[4], D, 0.1, 0);
#undef TAKE
  if (w) c->g.conv.bn_b = g + (c->p.conv.bn_b - base);   /* undo the two aliases above */
  return used;
}

void bench_conformer(at_bench *b) {
  static const char *impls[3] = {"naive", "ref", "simd"};
  bench_cf c;
  asr_rng rng;
  size_t ntd, sb, wf, wbk, i;
  void *sbuf;
  int k;
  memset(&c, 0, sizeof c);
  asr_rng_seed(&rng, 3, 0);
  c.N = 8, c.T = 200;
  asr_conformer_config_init(&c.cfg, 144, 4, 576, 31);
  ntd = (size_t)c.N * c.T * c.cfg.d_model;
  c.nparams = bench_block_layout(&c, NULL, NULL, &rng);
  c.params = (asr_real *)calloc(c.nparams, sizeof(asr_real));
  c.grads = (asr_real *)calloc(c.nparams, sizeof(asr_real));
  sb = asr_conformer_block_saved_size(&c.cfg, c.N, c.T);
  wf = asr_conformer_block_forward_workspace_size(&c.cfg, c.N, c.T);
  wbk = asr_conformer_block_backward_workspace_size(&c.cfg, c.N, c.T);
  c.wbytes = wf > wbk ? wf : wbk;
  c.x = (asr_real *)malloc(sizeof(asr_real) * ntd);
  c.y = (asr_real *)malloc(sizeof(asr_real) * ntd);
  c.dy = (asr_real *)malloc(sizeof(asr_real) * ntd * 4);   /* also the LSTM's (N,T,256) */
  c.dx = (asr_real *)malloc(sizeof(asr_real) * ntd);
  c.pe = (asr_real *)malloc(sizeof(asr_real) * (size_t)(2 * c.T - 1) * c.cfg.d_model);
  sbuf = malloc(sb);
  c.work = malloc(c.wbytes);
  if (!c.params || !c.grads || !c.x || !c.y || !c.dy || !c.dx || !c.pe || !sbuf || !c.work) goto done;
  bench_block_layout(&c, c.params, c.grads, &rng);
  for (i = 0; i < ntd; i++) c.x[i] = (asr_real)asr_rng_normal(&rng);
  for (i = 0; i < ntd * 4; i++) c.dy[i] = (asr_real)asr_rng_normal(&rng);
  asr_rel_pos_encoding(c.pe, c.T, c.cfg.d_model, c.cfg.rel_pos, 5000);
  asr_conformer_block_saved_init(&c.s, sbuf, sb, &c.cfg, c.N, c.T);
  for (k = 1; k < 3; k++) {
    if (at_bench_skip(b, impls[k])) continue;
    c.impl = k;
    at_bench_report(b, "conformer_block D144 H4 K31 T200 N8 fwd+bwd", impls[k], at_bench_time(bench_block_call, &c, 1.0));
  }
  for (k = 1; k < 3; k++) {
    if (at_bench_skip(b, impls[k])) continue;
    c.impl = k;
    at_bench_report(b, "rel_pos_mhsa D144 H4 T200 N8 fwd+bwd", impls[k], at_bench_time(bench_mhsa_call, &c, 1.0));
  }
  /* LSTM 80 -> 256 */
  c.I = 80, c.Hh = 256;
  {
    size_t nx = (size_t)c.N * c.T * c.I, ny = (size_t)c.N * c.T * c.Hh, G = (size_t)4 * c.Hh;
    size_t lwb = asr_lstm_backward_workspace_size(c.N, c.T, c.I, c.Hh);
    asr_real *lw = (asr_real *)calloc(G * (c.I + c.Hh) * 2 + 4 * G, sizeof(asr_real));
    c.lx = (asr_real *)malloc(sizeof(asr_real) * nx), c.ldx = (asr_real *)malloc(sizeof(asr_real) * nx);
    c.ly = (asr_real *)malloc(sizeof(asr_real) * ny), c.lcell = (asr_real *)malloc(sizeof(asr_real) * ny);
    c.lgates = (asr_real *)malloc(sizeof(asr_real) * ny * 4);
    if (lwb > c.wbytes) {
      free(c.work);
      c.work = malloc(lwb);
      c.wbytes = lwb;
    }
    if (lw && c.lx && c.ldx && c.ly && c.lcell && c.lgates && c.work) {
      for (i = 0; i < G * (c.I + c.Hh); i++) lw[i] = (asr_real)(0.06 * asr_rng_normal(&rng));
      for (i = 0; i < nx; i++) c.lx[i] = (asr_real)asr_rng_normal(&rng);
      c.lp.w_ih = lw, c.lp.w_hh = lw + G * c.I, c.lp.b_ih = lw + G * (c.I + c.Hh), c.lp.b_hh = c.lp.b_ih + G;
      c.lg.w_ih = lw + G * (c.I + c.Hh) + 2 * G, c.lg.w_hh = c.lg.w_ih + G * c.I;
      c.lg.b_ih = c.lg.w_hh + G * c.Hh, c.lg.b_hh = c.lg.b_ih + G;
      for (k = 1; k < 3; k++) {
        if (at_bench_skip(b, impls[k])) continue;
        c.impl = k;
        at_bench_report(b, "lstm I80 H256 T200 N8 fwd+bwd", impls[k], at_bench_time(bench_lstm_call, &c, 1.0));
      }
    }
    free(lw), free(c.lx), free(c.ldx), free(c.ly), free(c.lcell), free(c.lgates);
  }
done:
  free(c.params), free(c.grads), free(c.x), free(c.y), free(c.dy), free(c.dx), free(c.pe), free(sbuf), free(c.work);
}
