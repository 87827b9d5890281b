/* examples/asrtool_layer_conformer.c - the `asrtool layer` NAMEs of asr.h sections 4.3 and
 * 4.4 (Conformer pieces, LSTM, attention) and their `asrtool gradcheck` entries. The
 * framework (at_layer_*) is in asrtool_layer.c; docs/layers.md documents every NAME, its
 * weight keys (the PyTorch / ESPnet state_dict names), options and shapes.
 *
 *   asrtool layer lstm --weights DIR [--hidden H] [--bidirectional] [--pyramidal]
 *                      [--lengths L] [--grad-output G] X OUTDIR
 *   asrtool layer attention --weights DIR --query S [--type dot|add|loc] [--prev A]
 *                      [--scaling 2] [--lengths L] [--grad-output G] [--grad-alpha GA] X OUTDIR
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
