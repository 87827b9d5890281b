/* examples/asrtool/rnnt.c - the RNN-T commands of asrtool (section 6 of asr.h):
 *
 *   asrtool rnnt [--blank 0] [--reduction none|sum|mean] [--clamp -1] [--impl I]
 *                LOGITS TARGETS LOGIT_LENGTHS TARGET_LENGTHS OUTDIR
 *
 * the loss of torchaudio.functional.rnnt_loss on joint-network logits (N,T,U+1,V), padded
 * targets (N,U) and lengths (N,); writes OUTDIR/loss.npy ((N,) for none, else a scalar) and
 * OUTDIR/grad.npy (N,T,U+1,V), the gradient of the reduced loss w.r.t. LOGITS, 0 in the
 * padding. Also: the gradcheck entries "rnnt" and "joint" and the RNN-T bench. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Which input file a library message is about, from the array it names. */
static const char *rnnt_blame(const char *msg, char **pos) {
  if (strstr(msg, "targets[")) return pos[1];
  if (strstr(msg, "logit_lengths") || strstr(msg, "no frames")) return pos[2];
  if (strstr(msg, "target_lengths")) return pos[3];
  if (strstr(msg, "logits[")) return pos[0];
  return "options";
}

int cmd_rnnt(int argc, char **argv) {
  char *pos[5];
  int npos, r, blank = 0, reduction = 2, N, T, U, V, b, input = 0, layout = 0;
  double clamp = -1;
  int64_t sl[ASR_MAX_DIMS], st[ASR_MAX_DIMS], s1[ASR_MAX_DIMS], s2[ASR_MAX_DIMS], gshape[4], lshape[1];
  asr_real *logits = NULL, *grad = NULL, *loss = NULL;
  int *targets = NULL, *Tl = NULL, *Ul = NULL;
  void *work = NULL;
  size_t work_bytes, count;
  asr_rnnt_opts o;
  asr_error err;
  asr_result res;
  at_outputs outs;
  const at_opt opts[] = {
    {"blank", AT_INT, &blank, -1e9, 1e9, NULL},
    {"reduction", AT_CHOICE, &reduction, 0, 0, "none|sum|mean"},
    {"clamp", AT_REAL, &clamp, -1e300, 1e300, NULL},
    {"input", AT_CHOICE, &input, 0, 0, "logits|logprobs|probs"},
    {"layout", AT_CHOICE, &layout, 0, 0, "btv|tbv"},
  };
  r = at_parse(argc, argv, opts, 5, pos, 5, 5, &npos,
               "rnnt [--blank 0] [--reduction none|sum|mean] [--clamp -1] [--impl naive|ref|simd]\n"
               "      [--input logits|logprobs|probs] [--layout btv|tbv]\n"
               "      LOGITS TARGETS LOGIT_LENGTHS TARGET_LENGTHS OUTDIR\n"
               "  RNN-T loss [Graves12] of joint logits (N,T,U+1,V) (log-softmax inside), padded int\n"
               "  targets (N,U), lengths (N,), as torchaudio.functional.rnnt_loss: blank may be\n"
               "  negative (-1 = V-1), --clamp > 0 clamps each gradient entry to [-clamp, clamp]\n"
               "  before the reduction, mean = plain batch mean. Writes OUTDIR/loss.npy and\n"
               "  OUTDIR/grad.npy (d loss / d LOGITS, 0 in the padding).\n"
               "  --input logprobs|probs: LOGITS hold log-probabilities or probabilities (used as\n"
               "  given; grad w.r.t. them). --layout tbv: (T,N,U+1,V), time-major, grad likewise.\n"
               "  Either runs asr_rnnt_loss_input (the fast tier).");
  if (r) return r == 1 ? 0 : r;
  r = at_npy_real(pos[0], 4, sl, &logits, input == ASR_INPUT_LOGPROBS);
  if (!r) r = at_npy_int(pos[1], 2, st, &targets);
  if (!r) r = at_npy_int(pos[2], 1, s1, &Tl);
  if (!r) r = at_npy_int(pos[3], 1, s2, &Ul);
  if (r) goto done;
  N = (int)sl[layout ? 1 : 0], T = (int)sl[layout ? 0 : 1], U = (int)sl[2] - 1, V = (int)sl[3];
  if (sl[0] > 1000000000 || sl[1] > 1000000000 || sl[2] > 1000000000 || sl[3] > 1000000000) {
    r = at_fail("%s: dimensions too large", pos[0]);
    goto done;
  }
  if (U < 0 || V < 1) {
    r = at_fail("%s: shape (%lld, %lld, %lld, %lld) has no room for U+1 >= 1 rows and V >= 1 classes", pos[0],
                (long long)sl[0], (long long)sl[1], (long long)sl[2], (long long)sl[3]);
    goto done;
  }
  if (st[0] != N || st[1] != U) {
    r = at_fail("%s: shape (%lld, %lld), expected (%d, %d) to match %s (N, T, U+1, V)", pos[1],
                (long long)st[0], (long long)st[1], N, U, pos[0]);
    goto done;
  }
  if (s1[0] != N) {
    r = at_fail("%s: %lld lengths for %d items", pos[2], (long long)s1[0], N);
    goto done;
  }
  if (s2[0] != N) {
    r = at_fail("%s: %lld lengths for %d items", pos[3], (long long)s2[0], N);
    goto done;
  }
  count = (size_t)N * T * (U + 1) * V;
  work_bytes = input || layout ? asr_rnnt_loss_input_workspace_size(N, T, U, V) : asr_rnnt_loss_workspace_size(T, U, V);
  grad = (asr_real *)malloc(sizeof(asr_real) * (count ? count : 1));
  loss = (asr_real *)malloc(sizeof(asr_real) * (N ? N : 1));
  work = malloc(work_bytes);
  if (!grad || !loss || !work) {
    r = at_fail("out of memory for %lu logits", (unsigned long)count);
    goto done;
  }
  o = asr_rnnt_default_opts();
  o.blank = blank;
  o.clamp = clamp;
  o.reduction = (asr_reduction)reduction;
  if (input || layout)
    res = asr_rnnt_loss_input(loss, grad, logits, asr_loss_input_make((asr_input_domain)input, (asr_input_layout)layout),
                              targets, Tl, Ul, N, T, U, V, &o, work, work_bytes, &err);
  else if (at_impl == AT_IMPL_NAIVE)
    res = asr_rnnt_loss_naive(loss, grad, logits, targets, Tl, Ul, N, T, U, V, &o, work, work_bytes, &err);
  else if (at_impl == AT_IMPL_REF)
    res = asr_rnnt_loss_ref(loss, grad, logits, targets, Tl, Ul, N, T, U, V, &o, work, work_bytes, &err);
  else
    res = asr_rnnt_loss(loss, grad, logits, targets, Tl, Ul, N, T, U, V, &o, work, work_bytes, &err);
  if (res != ASR_OK) {
    r = at_fail("%s: %s", rnnt_blame(err.msg, pos), err.msg + (strncmp(err.msg, "rnnt: ", 6) ? 0 : 6));
    goto done;
  }
  memset(&outs, 0, sizeof outs);
  lshape[0] = N;
  for (b = 0; b < 4; b++) gshape[b] = sl[b];
  at_out_add(&outs, "loss.npy", ASR_DTYPE_REAL, reduction == 0 ? 1 : 0, lshape, loss);
  at_out_add(&outs, "grad.npy", ASR_DTYPE_REAL, 4, gshape, grad);
  r = at_out_commit(&outs, pos[4]);
  if (!r && at_verbose) {
    double s = 0;
    for (b = 0; b < (reduction == 0 ? N : 1); b++) s += loss[b];
    printf("rnnt: N=%d T=%d U=%d V=%d blank=%d reduction=%s: loss %s %.9g\n", N, T, U, V, blank,
           reduction == 0 ? "none" : reduction == 1 ? "sum" : "mean", reduction == 0 ? "sum" : "", s);
  }
done:
  free(logits), free(targets), free(Tl), free(Ul), free(grad), free(loss), free(work);
  return r;
}

/* ---- gradcheck "rnnt": the loss of a random ragged batch (mean, clamp off), by finite
 * differences on every logit. */
typedef struct gc_rnnt {
  asr_real logits[2 * 4 * 4 * 5], loss[2];
  int targets[6], Tl[2], Ul[2];
  asr_rnnt_opts o;
  unsigned char work[4096];
} gc_rnnt;
static double gc_rnnt_f(void *vctx) {
  gc_rnnt *c = (gc_rnnt *)vctx;
  if (asr_rnnt_loss_ref(c->loss, NULL, c->logits, c->targets, c->Tl, c->Ul, 2, 4, 3, 5, &c->o, c->work,
                        sizeof c->work, NULL) != ASR_OK)
    return NAN;
  return c->loss[0];
}
int gc_rnnt_loss(uint64_t seed, asr_gradcheck_report *rep) {
  gc_rnnt c;
  asr_real grad[2 * 4 * 4 * 5];
  asr_rng rng;
  asr_gradcheck_param p;
  asr_gradcheck_opts go;
  int i;
  asr_rng_seed(&rng, seed, 4);
  memset(&go, 0, sizeof go);
  go.max_elements = 1000;   /* every one of the 160 logits */
  c.o = asr_rnnt_default_opts();
  c.o.blank = asr_rng_int(&rng, 5);
  c.Tl[0] = 4, c.Ul[0] = 3, c.Tl[1] = 1 + asr_rng_int(&rng, 4), c.Ul[1] = asr_rng_int(&rng, 4);
  for (i = 0; i < 6; i++) {
    int y = asr_rng_int(&rng, 4);
    c.targets[i] = y >= c.o.blank ? y + 1 : y;
  }
  for (i = 0; i < 160; i++) c.logits[i] = (asr_real)(2 * asr_rng_normal(&rng));
  if (asr_rnnt_loss_ref(c.loss, grad, c.logits, c.targets, c.Tl, c.Ul, 2, 4, 3, 5, &c.o, c.work, sizeof c.work,
                        NULL) != ASR_OK)
    return 2;
  p.name = "logits", p.x = c.logits, p.grad = grad, p.n = 160;
  return asr_gradcheck(gc_rnnt_f, &c, &p, 1, &go, &rng, rep) == ASR_OK ? 0 : 2;
}

/* ---- gradcheck "joint": z = W_out tanh(W_enc f + W_pred g + b) + b_out, objective
 * sum(w * z), every input and parameter. */
typedef struct gc_joint {
  asr_rnnt_joint J;
  asr_real f[3 * 4], g[3 * 5], Wenc[6 * 4], Wpred[6 * 5], b[6], Wout[7 * 6], bout[7], w[3 * 3 * 7];
  unsigned char work[4096];
} gc_joint;
static double gc_joint_f(void *vctx) {
  gc_joint *c = (gc_joint *)vctx;
  asr_real z[3 * 3 * 7];
  double s = 0;
  int i;
  if (asr_rnnt_joint_forward(z, NULL, c->f, c->g, &c->J, 3, 3, c->work, sizeof c->work) != ASR_OK)
    return NAN;
  for (i = 0; i < 63; i++) s += (double)c->w[i] * z[i];
  return s;
}
int gc_rnnt_joint(uint64_t seed, asr_gradcheck_report *rep) {
  gc_joint c;
  asr_real hid[3 * 3 * 6], z[63], df[12], dg[15], dWenc[24], dWpred[30], db[6], dWout[42], dbout[7];
  asr_rnnt_joint_grad dJ;
  asr_gradcheck_param p[7];
  asr_rng rng;
  int i;
  asr_rng_seed(&rng, seed, 5);
#define GC_FILL(a) for (i = 0; i < (int)(sizeof a / sizeof a[0]); i++) a[i] = (asr_real)(0.8 * asr_rng_normal(&rng))
  GC_FILL(c.f); GC_FILL(c.g); GC_FILL(c.Wenc); GC_FILL(c.Wpred); GC_FILL(c.b); GC_FILL(c.Wout); GC_FILL(c.bout);
  GC_FILL(c.w);
#undef GC_FILL
  c.J.E = 4, c.J.P = 5, c.J.H = 6, c.J.V = 7, c.J.act = ASR_RNNT_ACT_TANH;
  c.J.W_enc = c.Wenc, c.J.W_pred = c.Wpred, c.J.b = c.b, c.J.W_out = c.Wout, c.J.b_out = c.bout;
  memset(df, 0, sizeof df), memset(dg, 0, sizeof dg), memset(dWenc, 0, sizeof dWenc);
  memset(dWpred, 0, sizeof dWpred), memset(db, 0, sizeof db), memset(dWout, 0, sizeof dWout);
  memset(dbout, 0, sizeof dbout);
  dJ.W_enc = dWenc, dJ.W_pred = dWpred, dJ.b = db, dJ.W_out = dWout, dJ.b_out = dbout;
  if (asr_rnnt_joint_forward(z, hid, c.f, c.g, &c.J, 3, 3, c.work, sizeof c.work) != ASR_OK) return 2;
  if (asr_rnnt_joint_backward(df, dg, &dJ, c.w, hid, c.f, c.g, &c.J, 3, 3, c.work, sizeof c.work) != ASR_OK)
    return 2;
  p[0].name = "f", p[0].x = c.f, p[0].grad = df, p[0].n = 12;
  p[1].name = "g", p[1].x = c.g, p[1].grad = dg, p[1].n = 15;
  p[2].name = "W_enc", p[2].x = c.Wenc, p[2].grad = dWenc, p[2].n = 24;
  p[3].name = "W_pred", p[3].x = c.Wpred, p[3].grad = dWpred, p[3].n = 30;
  p[4].name = "b", p[4].x = c.b, p[4].grad = db, p[4].n = 6;
  p[5].name = "W_out", p[5].x = c.Wout, p[5].grad = dWout, p[5].n = 42;
  p[6].name = "b_out", p[6].x = c.bout, p[6].grad = dbout, p[6].n = 7;
  return asr_gradcheck(gc_joint_f, &c, p, 7, NULL, &rng, rep) == ASR_OK ? 0 : 2;
}

/* ---- bench: the loss and gradient of N=4, T=200, U=50, V=256 (the torchaudio case of
 * bench/compare.py), _ref and the fast path. */
typedef struct bench_rnnt_ctx {
  asr_real *logits, *grad, loss[1];
  int targets[4 * 50], Tl[4], Ul[4], fast;
  asr_rnnt_opts o;
  void *work;
  size_t wb;
} bench_rnnt_ctx;
static void bench_rnnt_call(void *v) {
  bench_rnnt_ctx *c = (bench_rnnt_ctx *)v;
  if (c->fast)
    asr_rnnt_loss(c->loss, c->grad, c->logits, c->targets, c->Tl, c->Ul, 4, 200, 50, 256, &c->o, c->work, c->wb, NULL);
  else
    asr_rnnt_loss_ref(c->loss, c->grad, c->logits, c->targets, c->Tl, c->Ul, 4, 200, 50, 256, &c->o, c->work, c->wb,
                      NULL);
}
void bench_rnnt(struct at_bench *b) {
  bench_rnnt_ctx c;
  size_t n = (size_t)4 * 200 * 51 * 256, i;
  asr_rng rng;
  memset(&c, 0, sizeof c);
  c.logits = (asr_real *)malloc(sizeof(asr_real) * n);
  c.grad = (asr_real *)malloc(sizeof(asr_real) * n);
  c.wb = asr_rnnt_loss_workspace_size(200, 50, 256);
  c.work = malloc(c.wb);
  if (!c.logits || !c.grad || !c.work) {
    free(c.logits), free(c.grad), free(c.work);
    return;
  }
  asr_rng_seed(&rng, 1, 6);
  for (i = 0; i < n; i++) c.logits[i] = (asr_real)asr_rng_normal(&rng);
  for (i = 0; i < 200; i++) c.targets[i] = 1 + asr_rng_int(&rng, 255);
  for (i = 0; i < 4; i++) c.Tl[i] = 200, c.Ul[i] = 50;
  c.o = asr_rnnt_default_opts();
  c.o.reduction = ASR_REDUCTION_SUM;
  c.fast = 0;
  at_bench_report(b, "rnnt loss+grad N=4 T=200 U=50 V=256", "ref", at_bench_time(bench_rnnt_call, &c, 1.0));
  c.fast = 1;
  at_bench_report(b, "rnnt loss+grad N=4 T=200 U=50 V=256", "simd", at_bench_time(bench_rnnt_call, &c, 1.0));
  free(c.logits), free(c.grad), free(c.work);
}
