/* examples/asrtool/las.c - asr.h section 7.1 (the LAS speller) and 7.3 (sequence losses)
 * on .npy files, their `asrtool gradcheck` entries and their `asrtool bench` row.
 *
 *   asrtool layer las_speller --weights DIR --targets YS_IN.npy [--type dot|add|loc]
 *                 [--scaling 2] [--lengths ENC_LENS.npy] [--grad-output G.npy] H.npy OUTDIR
 *   asrtool seqloss [--smoothing 0] [--padding-idx -1] [--normalize-length]
 *                 LOGITS TARGETS OUTDIR
 *
 * The speller's weights are the state_dict of ESPnet's RNN Decoder (embed.weight,
 * decoder.<l>.weight_ih, ..., att.0.mlp_enc.weight, ..., output.weight); docs/seq2seq.md
 * lists them. Exit status: 0 success, 2 bad input (one line naming the file, key or
 * option). */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <stdlib.h>
#include <string.h>

/* The one error line of a library call's negative result. */
static int las_check(at_layer_ctx *L, asr_result r, const char *what) {
  if (r >= 0) return 0;
  return at_layer_fail(L, "%s: %s", what, asr_result_string(r));
}

static at_opt las_opt(const char *name, at_opt_type type, void *dst, double lo, double hi,
                      const char *choices) {
  at_opt o;
  o.name = name, o.type = type, o.dst = dst, o.lo = lo, o.hi = hi, o.choices = choices;
  return o;
}

/* ======================================================================================
 * las_speller: ESPnet's RNN Decoder, teacher-forced over ys_in (N,U); X = the encoder
 * output h (N,T,E). Writes y.npy = the logits (N,U,V) and alpha.npy (N,U,T); with
 * --grad-output G (N,U,V): grad_x.npy = dL/dh and grad_<key>.npy for every weight.
 * The sizes come from the weights: V, D from embed.weight, the layers from the
 * decoder.<l>.weight_ih present, A, C, F from the attention's, context_residual from
 * output.weight's width (D + E or D).
 * ====================================================================================== */
int layer_las_speller(at_layer_ctx *L) {
  static const char *const IMPL_NAME[3] = {"naive", "ref", "simd"};
  const char *ypath = NULL;
  double scaling = 2;
  int type = 2, N, T, E, U, V, D, A = 0, C = 0, F = 0, nl, l, r;
  int d2[2], d1[1], d4[4], yd[3], ad[3];
  int *ys;
  const int *lens;
  at_opt opts[3];
  asr_lstm_params dec[16];      /* up to 16 decoder layers are read (ESPnet recipes use 1 or 2) */
  asr_lstm_grads gdec[16];
  asr_las_speller_params p;
  asr_las_speller_config cfg;
  asr_las_speller_saved s;
  asr_real *logits, *alpha;
  void *sbuf, *work;
  size_t sb, wb, m;
  char key[64];
  opts[0] = las_opt("targets", AT_STR, &ypath, 0, 0, NULL);
  opts[1] = las_opt("type", AT_CHOICE, &type, 0, 0, "dot|add|loc");
  opts[2] = las_opt("scaling", AT_REAL, &scaling, 0, 1e6, NULL);
  r = at_layer_parse(L, opts, 3, "--targets YS_IN.npy [--type dot|add|loc] [--scaling 2]",
                     "(N, T, E) the encoder output h; YS_IN (N, U) ints: <sos>, the target, <eos> padding;\n"
                     "  ESPnet Decoder keys: docs/seq2seq.md");
  if (r) return r;
  if (L->x_ndim != 3) return at_layer_fail(L, "%s: X must be (N, T, E), got %d dimensions", L->x_path, L->x_ndim);
  N = L->x_dims[0], T = L->x_dims[1], E = L->x_dims[2];
  if (N < 1 || T < 1 || E < 1) return at_layer_fail(L, "%s: X (N, T, E) has an empty dimension", L->x_path);
  if (!ypath) return at_layer_fail(L, "--targets YS_IN.npy (the decoder inputs, (N, U) ints) is required");
  d2[0] = N, d2[1] = -1;
  ys = at_layer_input_int(L, ypath, 2, d2, "N,U");
  U = d2[1];
  lens = at_layer_lengths(L, N, T, 1);
  memset(&p, 0, sizeof p);
  d2[0] = -1, d2[1] = -1;
  p.embed = at_layer_weight(L, "embed.weight", 2, d2, "odim,dunits");
  V = d2[0], D = d2[1];
  if (at_layer_failed(L)) return 2;
  if (U < 1) return at_layer_fail(L, "%s: no target steps (U = 0)", ypath);
  for (m = 0; m < (size_t)N * U; m++)
    if (ys[m] < 0 || ys[m] >= V)
      return at_layer_fail(L, "%s: token %d at (%d, %d) is outside [0, odim=%d)", ypath, ys[m], (int)(m / U),
                           (int)(m % U), V);
  /* decoder.0 .. decoder.<L-1>: as many as there are */
  for (nl = 0; nl < 16; nl++) {
    d2[0] = 4 * D, d2[1] = nl ? D : D + E;
    snprintf(key, sizeof key, "decoder.%d.weight_ih", nl);
    dec[nl].w_ih = nl ? at_layer_weight_opt(L, key, 2, d2, "4*dunits,in") : at_layer_weight(L, key, 2, d2, "4*dunits,dunits+eprojs");
    if (!dec[nl].w_ih) break;
    d2[0] = 4 * D, d2[1] = D;
    snprintf(key, sizeof key, "decoder.%d.weight_hh", nl);
    dec[nl].w_hh = at_layer_weight(L, key, 2, d2, "4*dunits,dunits");
    d1[0] = 4 * D;
    snprintf(key, sizeof key, "decoder.%d.bias_ih", nl);
    dec[nl].b_ih = at_layer_weight_opt(L, key, 1, d1, "4*dunits");
    snprintf(key, sizeof key, "decoder.%d.bias_hh", nl);
    dec[nl].b_hh = at_layer_weight_opt(L, key, 1, d1, "4*dunits");
  }
  if (at_layer_failed(L)) return 2;
  if (type != 0) {
    d2[0] = -1, d2[1] = E;
    p.att.enc_w = at_layer_weight(L, "att.0.mlp_enc.weight", 2, d2, "adim,eprojs");
    A = d2[0];
    d1[0] = A;
    p.att.enc_b = at_layer_weight_opt(L, "att.0.mlp_enc.bias", 1, d1, "adim");
    d2[0] = A, d2[1] = D;
    p.att.dec_w = at_layer_weight(L, "att.0.mlp_dec.weight", 2, d2, "adim,dunits");
    d2[0] = 1, d2[1] = A;
    p.att.gvec_w = at_layer_weight(L, "att.0.gvec.weight", 2, d2, "1,adim");
    d1[0] = 1;
    p.att.gvec_b = at_layer_weight_opt(L, "att.0.gvec.bias", 1, d1, "1");
    if (type == 2) {
      d4[0] = -1, d4[1] = 1, d4[2] = 1, d4[3] = -1;
      p.att.conv_w = at_layer_weight(L, "att.0.loc_conv.weight", 4, d4, "aconv_chans,1,1,2*aconv_filts+1");
      C = d4[0];
      if (!at_layer_failed(L) && d4[3] % 2 == 0)
        return at_layer_fail(L, "weight 'att.0.loc_conv.weight': the filter width %d must be odd", d4[3]);
      F = (d4[3] - 1) / 2;
      d2[0] = A, d2[1] = C;
      p.att.att_w = at_layer_weight(L, "att.0.mlp_att.weight", 2, d2, "adim,aconv_chans");
    }
  } else if (D != E) {
    return at_layer_fail(L, "--type dot: the decoder state (dunits %d) and h (eprojs %d) must have one size", D, E);
  }
  d2[0] = V, d2[1] = -1;
  p.out_w = at_layer_weight(L, "output.weight", 2, d2, "odim,dunits(+eprojs)");
  d1[0] = V;
  p.out_b = at_layer_weight_opt(L, "output.bias", 1, d1, "odim");
  if (at_layer_failed(L)) return 2;
  if (d2[1] != D && d2[1] != D + E)
    return at_layer_fail(L, "weight 'output.weight' has %d columns: dunits + eprojs = %d (context_residual) or "
                         "dunits = %d", d2[1], D + E, D);
  asr_las_speller_config_init(&cfg, V, D, nl, E, (asr_attention_type)type, A, C, F);
  cfg.context_residual = d2[1] == D + E;
  cfg.att.scaling = scaling;
  p.dec = dec;
  sb = asr_las_speller_saved_size(&cfg, N, U, T);
  wb = asr_las_speller_forward_workspace_size(&cfg, N, U, T);
  if (L->has_grad) {
    size_t bb = asr_las_speller_backward_workspace_size(&cfg, N, U, T);
    if (bb > wb) wb = bb;
  }
  if (sb == (size_t)-1 || wb == (size_t)-1) return at_layer_fail(L, "sizes too large");
  sbuf = at_layer_alloc(L, sb);
  work = at_layer_alloc(L, wb);
  yd[0] = N, yd[1] = U, yd[2] = V;
  logits = at_layer_output(L, "y", 3, yd);
  ad[0] = N, ad[1] = U, ad[2] = T;
  alpha = at_layer_output(L, "alpha", 3, ad);
  if (at_layer_failed(L)) return 2;
  if (las_check(L, asr_las_speller_saved_init(&s, sbuf, sb, &cfg, N, U, T), "saved buffers")) return 2;
  r = las_check(L, (L->impl == AT_IMPL_NAIVE  ? asr_las_speller_forward_naive
                    : L->impl == AT_IMPL_REF ? asr_las_speller_forward_ref
                                             : asr_las_speller_forward)(logits, &s, ys, L->x, lens, &p, &cfg, N, U, T,
                                                                        work, wb),
                L->impl == AT_IMPL_NAIVE ? "forward (naive: tiny sizes only)" : "forward");
  if (r) return r;
  memcpy(alpha, s.alpha, sizeof(asr_real) * (size_t)N * U * T);
  if (L->has_grad) {
    asr_las_speller_grads g;
    const asr_real *G = at_layer_grad_output(L, 3, yd);
    asr_real *dx = at_layer_grad_x(L);
    memset(&g, 0, sizeof g);
    g.embed = at_layer_grad(L, "embed.weight");
    for (l = 0; l < nl; l++) {
      snprintf(key, sizeof key, "decoder.%d.weight_ih", l), gdec[l].w_ih = at_layer_grad(L, key);
      snprintf(key, sizeof key, "decoder.%d.weight_hh", l), gdec[l].w_hh = at_layer_grad(L, key);
      snprintf(key, sizeof key, "decoder.%d.bias_ih", l), gdec[l].b_ih = at_layer_grad(L, key);
      snprintf(key, sizeof key, "decoder.%d.bias_hh", l), gdec[l].b_hh = at_layer_grad(L, key);
    }
    g.dec = gdec;
    g.att.enc_w = at_layer_grad(L, "att.0.mlp_enc.weight");
    g.att.enc_b = at_layer_grad(L, "att.0.mlp_enc.bias");
    g.att.dec_w = at_layer_grad(L, "att.0.mlp_dec.weight");
    g.att.att_w = at_layer_grad(L, "att.0.mlp_att.weight");
    g.att.conv_w = at_layer_grad(L, "att.0.loc_conv.weight");
    g.att.gvec_w = at_layer_grad(L, "att.0.gvec.weight");
    g.att.gvec_b = at_layer_grad(L, "att.0.gvec.bias");
    g.out_w = at_layer_grad(L, "output.weight");
    g.out_b = at_layer_grad(L, "output.bias");
    if (at_layer_failed(L)) return 2;
    r = las_check(L, (L->impl == AT_IMPL_NAIVE  ? asr_las_speller_backward_naive
                      : L->impl == AT_IMPL_REF ? asr_las_speller_backward_ref
                                               : asr_las_speller_backward)(dx, &g, G, &s, ys, L->x, lens, &p, &cfg,
                                                                           N, U, T, work, wb),
                  "backward");
    if (r) return r;
  }
  if (at_verbose)
    fprintf(stderr, "las_speller (%s): N %d, U %d, T %d, V %d, D %d, E %d, %d layer%s, %s attention, "
            "context_residual %d\n", IMPL_NAME[L->impl], N, U, T, V, D, E, nl, nl > 1 ? "s" : "",
            type == 0 ? "dot" : type == 1 ? "additive" : "location-aware", cfg.context_residual);
  return at_layer_failed(L) ? 2 : 0;
}

/* ======================================================================================
 * seqloss: ESPnet's LabelSmoothingLoss and th_accuracy on logits (N,U,V) and targets
 * (N,U) (ys_out, padded with --padding-idx). Writes loss.npy (a scalar), grad.npy
 * (N,U,V), d loss / d logits, and acc.npy (a scalar, the token accuracy).
 * ====================================================================================== */
int cmd_seqloss(int argc, char **argv) {
  char *pos[3];
  int npos, r, pad = -1, norm = 0, N, U, V, cnt, status = 2;
  double smoothing = 0, acc;
  int64_t xs[ASR_MAX_DIMS], ts[ASR_MAX_DIMS], one[1] = {1};
  asr_real *x = NULL, *logp = NULL, *grad = NULL, loss, accr;
  int *tg = NULL;
  size_t m;
  at_outputs outs;
  const at_opt opts[] = {
    {"smoothing", AT_REAL, &smoothing, 0, 1, NULL},
    {"padding-idx", AT_INT, &pad, -2147483647.0, 2147483647.0, NULL},
    {"normalize-length", AT_FLAG, &norm, 0, 0, NULL},
  };
  r = at_parse(argc, argv, opts, 3, pos, 3, 3, &npos,
               "seqloss [--smoothing 0] [--padding-idx -1] [--normalize-length] LOGITS TARGETS OUTDIR\n"
               "  ESPnet's LabelSmoothingLoss (KL divergence to 1-eps on the target and eps/(V-1) on\n"
               "  every other class) of logits (N,U,V) for targets (N,U) (ys_out: the tokens, <eos>,\n"
               "  then --padding-idx), divided by the number of non-padding tokens with\n"
               "  --normalize-length, else by N; and ESPnet's th_accuracy. Writes loss.npy (scalar),\n"
               "  grad.npy (N,U,V) = d loss / d logits, acc.npy (scalar). See docs/seq2seq.md.");
  if (r) return r == 1 ? 0 : r;
  if (at_npy_real(pos[0], 3, xs, &x, 0)) goto done;
  if (at_npy_int(pos[1], 2, ts, &tg)) goto done;
  N = (int)xs[0], U = (int)xs[1], V = (int)xs[2];
  if (ts[0] != xs[0] || ts[1] != xs[1]) {
    at_fail("%s: targets are (%lld, %lld), the logits in %s are (%d, %d, V)", pos[1], (long long)ts[0],
            (long long)ts[1], pos[0], N, U);
    goto done;
  }
  if (N < 1 || U < 1) {
    at_fail("%s: no targets (N = %d, U = %d)", pos[0], N, U);
    goto done;
  }
  if (V < 2) {
    at_fail("%s: V = %d classes; label smoothing needs at least 2", pos[0], V);
    goto done;
  }
  for (m = 0, cnt = 0; m < (size_t)N * U; m++) {
    if (tg[m] == pad) continue;
    cnt++;
    if (tg[m] < 0 || tg[m] >= V) {
      at_fail("%s: target %d at (%d, %d) is outside [0, V=%d) and not --padding-idx %d", pos[1], tg[m],
              (int)(m / U), (int)(m % U), V, pad);
      goto done;
    }
  }
  if (cnt == 0) {   /* ESPnet divides by zero (the loss with --normalize-length, and th_accuracy) */
    at_fail("%s: every target is --padding-idx %d: nothing to score", pos[1], pad);
    goto done;
  }
  logp = (asr_real *)malloc(sizeof(asr_real) * (size_t)N * U * V);
  grad = (asr_real *)calloc((size_t)N * U * V, sizeof(asr_real));
  if (!logp || !grad) {
    at_fail("out of memory");
    goto done;
  }
  if (asr_label_smoothing_loss_forward(&loss, logp, &cnt, x, tg, N, U, V, smoothing, pad, norm) != ASR_OK ||
      asr_label_smoothing_loss_backward(grad, 1.0, logp, tg, N, U, V, smoothing, pad, norm) != ASR_OK ||
      asr_token_accuracy(&acc, NULL, NULL, x, tg, N, U, V, pad) != ASR_OK) {
    at_fail("%s: the loss refused these inputs", pos[0]);
    goto done;
  }
  accr = (asr_real)acc;
  outs.n = 0;
  at_out_add(&outs, "loss.npy", ASR_DTYPE_REAL, 0, one, &loss);
  at_out_add(&outs, "grad.npy", ASR_DTYPE_REAL, 3, xs, grad);
  at_out_add(&outs, "acc.npy", ASR_DTYPE_REAL, 0, one, &accr);
  status = at_out_commit(&outs, pos[2]);
  if (status == 0 && at_verbose)
    fprintf(stderr, "seqloss: loss %.6g over %d tokens, accuracy %.4f\n", (double)loss, cnt, acc);
done:
  free(x), free(tg), free(logp), free(grad);
  return status;
}

/* ======================================================================================
 * asrtool gradcheck: the speller (checker sizes, 4 items, 6 steps, 7 frames) and the loss
 * ====================================================================================== */
int gc_las_speller_loc(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_las_speller(asr_las_speller_forward, asr_las_speller_backward, ASR_ATTENTION_LOCATION, 2, 1,
                                   4, 6, 7, seed, rep) < 0 ? 2 : 0;
}
int gc_las_speller_add(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_las_speller(asr_las_speller_forward, asr_las_speller_backward, ASR_ATTENTION_ADDITIVE, 1, 0,
                                   4, 6, 7, seed, rep) < 0 ? 2 : 0;
}
int gc_las_speller_dot(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_las_speller(asr_las_speller_forward, asr_las_speller_backward, ASR_ATTENTION_DOT, 1, 1, 4, 6,
                                   7, seed, rep) < 0 ? 2 : 0;
}

typedef struct gc_seqloss_ctx {
  asr_real x[3 * 4 * 6], logp[3 * 4 * 6];
  int y[3 * 4];
} gc_seqloss_ctx;
static double gc_seqloss_f(void *v) {
  gc_seqloss_ctx *c = (gc_seqloss_ctx *)v;
  asr_real l = 0;
  asr_label_smoothing_loss_forward(&l, c->logp, NULL, c->x, c->y, 3, 4, 6, 0.1, -1, 1);
  return l;
}
int gc_seqloss(uint64_t seed, asr_gradcheck_report *rep) {
  static gc_seqloss_ctx c;
  asr_real g[3 * 4 * 6];
  asr_gradcheck_param p;
  asr_rng rng;
  int i;
  asr_rng_seed(&rng, seed, 73);
  for (i = 0; i < 72; i++) c.x[i] = (asr_real)(2 * asr_rng_normal(&rng)), g[i] = 0;
  for (i = 0; i < 12; i++) c.y[i] = i % 4 == 3 && i > 3 ? -1 : asr_rng_int(&rng, 6);   /* two padded */
  gc_seqloss_f(&c);
  if (asr_label_smoothing_loss_backward(g, 1.0, c.logp, c.y, 3, 4, 6, 0.1, -1, 1) != ASR_OK) return 2;
  p.name = "logits", p.x = c.x, p.grad = g, p.n = 72;
  return asr_gradcheck(gc_seqloss_f, &c, &p, 1, NULL, &rng, rep) == ASR_OK ? 0 : 2;
}

/* ======================================================================================
 * asrtool bench: the speller forward + backward at the sizes of issue 13's Speed section
 * (dunits = eprojs = adim = V = 256, one layer, location-aware attention with 10
 * channels of 201 taps (aconv_filts 100); target 50, source 200, batch 8).
 * bench/torch_las.py times the same in PyTorch.
 * ====================================================================================== */
typedef struct bench_las_ctx {
  asr_las_speller_config cfg;
  asr_las_speller_params p;
  asr_las_speller_grads g;
  asr_lstm_params dec;
  asr_lstm_grads gdec;
  asr_las_speller_saved s;
  asr_real *w, *gw, *enc, *denc, *logits, *dlog;
  int *ys, impl, N, U, T;
  void *work;
  size_t wbytes;
} bench_las_ctx;
static void bench_las_call(void *v) {
  bench_las_ctx *c = (bench_las_ctx *)v;
  if (c->impl == 1) {
    asr_las_speller_forward_ref(c->logits, &c->s, c->ys, c->enc, NULL, &c->p, &c->cfg, c->N, c->U, c->T, c->work, c->wbytes);
    asr_las_speller_backward_ref(c->denc, &c->g, c->dlog, &c->s, c->ys, c->enc, NULL, &c->p, &c->cfg, c->N, c->U, c->T,
                                 c->work, c->wbytes);
  } else {
    asr_las_speller_forward(c->logits, &c->s, c->ys, c->enc, NULL, &c->p, &c->cfg, c->N, c->U, c->T, c->work, c->wbytes);
    asr_las_speller_backward(c->denc, &c->g, c->dlog, &c->s, c->ys, c->enc, NULL, &c->p, &c->cfg, c->N, c->U, c->T,
                             c->work, c->wbytes);
  }
}
void bench_las(at_bench *b) {
  static const char *impls[3] = {"naive", "ref", "simd"};
  bench_las_ctx c;
  asr_rng rng;
  int V = 256, D = 256, E = 256, A = 256, C = 10, F = 100, K = 2 * F + 1, k;
  size_t nw, i, sb, bb;
  void *sbuf;
  asr_real *q;
  memset(&c, 0, sizeof c);
  c.N = 8, c.U = 50, c.T = 200;
  asr_las_speller_config_init(&c.cfg, V, D, 1, E, ASR_ATTENTION_LOCATION, A, C, F);
  nw = (size_t)V * D + (size_t)4 * D * (D + E) + (size_t)4 * D * D + 8 * (size_t)D + (size_t)A * E + A +
       (size_t)A * D + (size_t)A * C + (size_t)C * K + A + 1 + (size_t)V * (D + E) + V;
  sb = asr_las_speller_saved_size(&c.cfg, c.N, c.U, c.T);
  c.wbytes = asr_las_speller_forward_workspace_size(&c.cfg, c.N, c.U, c.T);
  bb = asr_las_speller_backward_workspace_size(&c.cfg, c.N, c.U, c.T);
  if (bb > c.wbytes) c.wbytes = bb;
  c.w = (asr_real *)malloc(sizeof(asr_real) * nw), c.gw = (asr_real *)calloc(nw, sizeof(asr_real));
  c.enc = (asr_real *)malloc(sizeof(asr_real) * (size_t)c.N * c.T * E);
  c.denc = (asr_real *)calloc((size_t)c.N * c.T * E, sizeof(asr_real));
  c.logits = (asr_real *)malloc(sizeof(asr_real) * (size_t)c.N * c.U * V);
  c.dlog = (asr_real *)malloc(sizeof(asr_real) * (size_t)c.N * c.U * V);
  c.ys = (int *)malloc(sizeof(int) * (size_t)c.N * c.U);
  sbuf = malloc(sb), c.work = malloc(c.wbytes);
  if (!c.w || !c.gw || !c.enc || !c.denc || !c.logits || !c.dlog || !c.ys || !sbuf || !c.work ||
      asr_las_speller_saved_init(&c.s, sbuf, sb, &c.cfg, c.N, c.U, c.T) != ASR_OK)
    goto done;
  asr_rng_seed(&rng, 13, 0);
  for (i = 0; i < nw; i++) c.w[i] = (asr_real)(0.05 * asr_rng_normal(&rng));
  for (i = 0; i < (size_t)c.N * c.T * E; i++) c.enc[i] = (asr_real)asr_rng_normal(&rng);
  for (i = 0; i < (size_t)c.N * c.U * V; i++) c.dlog[i] = (asr_real)asr_rng_normal(&rng);
  for (i = 0; i < (size_t)c.N * c.U; i++) c.ys[i] = i % c.U ? asr_rng_int(&rng, V - 1) : V - 1;
  /* the parameters in the order of the sum above; their gradients at the same offsets */
  q = c.w;
#define BL_TAKE(field, gfield, n) (c.field = q, c.gfield = c.gw + (q - c.w), q += (n))
  BL_TAKE(p.embed, g.embed, (size_t)V * D);
  BL_TAKE(dec.w_ih, gdec.w_ih, (size_t)4 * D * (D + E));
  BL_TAKE(dec.w_hh, gdec.w_hh, (size_t)4 * D * D);
  BL_TAKE(dec.b_ih, gdec.b_ih, (size_t)4 * D);
  BL_TAKE(dec.b_hh, gdec.b_hh, (size_t)4 * D);
  BL_TAKE(p.att.enc_w, g.att.enc_w, (size_t)A * E);
  BL_TAKE(p.att.enc_b, g.att.enc_b, (size_t)A);
  BL_TAKE(p.att.dec_w, g.att.dec_w, (size_t)A * D);
  BL_TAKE(p.att.att_w, g.att.att_w, (size_t)A * C);
  BL_TAKE(p.att.conv_w, g.att.conv_w, (size_t)C * K);
  BL_TAKE(p.att.gvec_w, g.att.gvec_w, (size_t)A);
  BL_TAKE(p.att.gvec_b, g.att.gvec_b, 1);
  BL_TAKE(p.out_w, g.out_w, (size_t)V * (D + E));
  BL_TAKE(p.out_b, g.out_b, (size_t)V);
#undef BL_TAKE
  c.p.dec = &c.dec, c.g.dec = &c.gdec;
  /* only the fast tier: _naive refuses these sizes (its limit is 2^24 operations), and
   * _ref recomputes the encoder projection V h at every step, forward and backward (about
   * 2 x 50 x 8 x 200 x 256 x 256 = 5e9 multiply-adds more): tens of seconds a call */
  for (k = 2; k < 3; k++) {
    c.impl = k;
    at_bench_report(b, "las_speller D256 T200 U50 N8 fwd+bwd", impls[k], at_bench_time(bench_las_call, &c, 1.0));
  }
done:
  free(c.w), free(c.gw), free(c.enc), free(c.denc), free(c.logits), free(c.dlog), free(c.ys), free(sbuf),
      free(c.work);
}
