/* examples/asrtool/joint.c - hybrid CTC/attention and MWER (asr.h sections 7.4, 7.5) on the
 * command line:
 *
 *   asrtool ctc-prefix-score [--blank 0] [--eos ID] [--logprobs] [--states] [--impl I]
 *                            LOGITS PREFIX CANDIDATES OUTDIR
 *   asrtool mwer [--ce-loss L] [--mle-weight W] [--impl I] LOGP ERRORS OUTDIR
 *
 * plus `asrtool gradcheck mwer` and the prefix-score row of `asrtool bench`. Every input is
 * checked before anything runs; a problem exits 2 with one line naming the file, and
 * nothing is written. docs/seq2seq.md explains the maths. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The tiers, indexed by at_impl. */
static const asr_ctc_prefix_score_fn PREFIX_FN[3] = {asr_ctc_prefix_score_naive, asr_ctc_prefix_score_ref,
                                                     asr_ctc_prefix_score};
static const asr_mwer_loss_fn MWER_FN[3] = {asr_mwer_loss_naive, asr_mwer_loss_ref, asr_mwer_loss};

/* A 1-D int array (an empty one is allowed: shape (0,)). Returns 0 or 2. */
static int read_ids(const char *path, int **ids, int *n) {
  int64_t shape[ASR_MAX_DIMS];
  if (at_npy_int(path, 1, shape, ids)) return 2;
  if (shape[0] > INT_MAX / 4) return at_fail("%s: %lld ids is too many", path, (long long)shape[0]);
  *n = (int)shape[0];
  return 0;
}

/* Checks ids against [0,V) and the ids they must not be (-1: none). Returns 0 or 2. */
static int check_ids(const char *path, const char *what, const int *ids, int n, int V, int blank, int eos) {
  int i;
  for (i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= V) return at_fail("%s: %s[%d] = %d is outside [0, V=%d)", path, what, i, ids[i], V);
    if (ids[i] == blank) return at_fail("%s: %s[%d] = %d is the blank", path, what, i, ids[i]);
    if (ids[i] == eos)
      return at_fail("%s: %s[%d] = %d is --eos, which cannot be inside a prefix", path, what, i, ids[i]);
  }
  return 0;
}

/* ---- asrtool ctc-prefix-score */
int cmd_ctc_prefix_score(int argc, char **argv) {
  char *pos[4];
  int npos, r, blank = 0, eos = -1, logprobs = 0, want_states = 0, status = 2;
  int T, V, L = 0, C = 0, i, t;
  int64_t xs[ASR_MAX_DIMS];
  asr_real *x = NULL;
  int *prefix = NULL, *cands = NULL;
  double *state = NULL, *next = NULL, *psi = NULL, *states = NULL;
  asr_real *out_psi = NULL, *out_states = NULL;
  asr_error err;
  asr_result res;
  at_outputs outs;
  const at_opt opts[] = {
    {"blank", AT_INT, &blank, 0, 1e9, NULL},
    {"eos", AT_INT, &eos, -1, 1e9, NULL},
    {"logprobs", AT_FLAG, &logprobs, 0, 0, NULL},
    {"states", AT_FLAG, &want_states, 0, 0, NULL},
  };
  r = at_parse(argc, argv, opts, 4, pos, 4, 4, &npos,
               "ctc-prefix-score [--blank 0] [--eos ID] [--logprobs] [--states] [--impl naive|ref|simd]\n"
               "           LOGITS PREFIX CANDIDATES OUTDIR\n"
               "  The CTC prefix score of [Watanabe17] (Algorithm 2; ESPnet's CTCPrefixScore) of\n"
               "  one utterance's logits (T,V) (log-softmax applied inside; --logprobs: they are\n"
               "  log-probabilities, used as given, -inf allowed): for the prefix PREFIX (L,) (int,\n"
               "  labels: not the blank, not --eos; may be empty) and each candidate c of\n"
               "  CANDIDATES (C,) (int, not the blank; or the word `all`: every id but the blank),\n"
               "  writes scores.npy (C,) = ln psi(PREFIX.c), the log-probability that the CTC\n"
               "  output starts with PREFIX.c; the candidate --eos gets ln p_ctc(PREFIX|x) (ESPnet:\n"
               "  --eos V-1; default -1, none). --states also writes states.npy (C,2,T): ln gamma^n\n"
               "  and ln gamma^b of PREFIX.c at every frame (-inf rows for --eos). The state of\n"
               "  PREFIX is built by the recursion; --impl picks the tier that scores the\n"
               "  candidates (naive: the enumeration of every path, tiny T and V only).");
  if (r) return r == 1 ? 0 : r;
  if (at_npy_real(pos[0], 2, xs, &x, logprobs)) goto done;
  if (xs[0] > INT_MAX / 4 || xs[1] > INT_MAX / 4) {
    at_fail("%s: dimensions too large", pos[0]);
    goto done;
  }
  T = (int)xs[0], V = (int)xs[1];
  if (T < 1) {
    at_fail("%s: T = 0 frames: the prefix score needs at least one", pos[0]);
    goto done;
  }
  if (V < 2) {
    at_fail("%s: V = %d: need the blank and at least one label", pos[0], V);
    goto done;
  }
  if (blank >= V) {
    at_fail("--blank %d is outside [0, V=%d) of %s", blank, V, pos[0]);
    goto done;
  }
  if (eos >= V || eos == blank) {
    at_fail("--eos %d: need -1 or an id in [0, V=%d) other than the blank", eos, V);
    goto done;
  }
  if (logprobs) {
    for (i = 0; i < T * V; i++)
      if (x[i] != x[i] || x[i] == INFINITY) {
        at_fail("%s: element %d is %s (log-probabilities may be -inf, never NaN or +inf)", pos[0], i,
                x[i] != x[i] ? "NaN" : "+inf");
        goto done;
      }
  } else {
    for (t = 0; t < T; t++) asr_log_softmax(x + (size_t)t * V, x + (size_t)t * V, V);
  }
  if (read_ids(pos[1], &prefix, &L) || check_ids(pos[1], "prefix", prefix, L, V, blank, eos)) goto done;
  if (!strcmp(pos[2], "all")) {
    cands = (int *)malloc(sizeof(int) * (size_t)V);
    if (!cands) {
      at_fail("out of memory");
      goto done;
    }
    for (i = 0; i < V; i++)
      if (i != blank) cands[C++] = i;
  } else {
    if (read_ids(pos[2], &cands, &C) || check_ids(pos[2], "candidates", cands, C, V, blank, -2)) goto done;
  }
  state = (double *)malloc(sizeof(double) * 4 * (size_t)T);
  psi = (double *)malloc(sizeof(double) * ((size_t)C + 1));
  out_psi = (asr_real *)malloc(sizeof(asr_real) * ((size_t)C + 1));
  if (want_states) {
    states = (double *)malloc(sizeof(double) * 2 * (size_t)T * ((size_t)C + 1));
    out_states = (asr_real *)malloc(sizeof(asr_real) * 2 * (size_t)T * ((size_t)C + 1));
  }
  if (!state || !psi || !out_psi || (want_states && (!states || !out_states))) {
    at_fail("out of memory (T=%d V=%d C=%d)", T, V, C);
    goto done;
  }
  next = state + 2 * T;
  /* the state of PREFIX: the empty prefix's, then one label at a time */
  if (asr_ctc_prefix_init(state, x, T, V, blank, &err) != ASR_OK) {
    at_fail("%s: %s", pos[0], err.msg);
    goto done;
  }
  for (i = 0; i < L; i++) {
    double lp;
    if (asr_ctc_prefix_score_ref(&lp, next, state, prefix, i, prefix + i, 1, x, T, V, blank, eos, &err) != ASR_OK) {
      at_fail("%s", err.msg);
      goto done;
    }
    memcpy(state, next, sizeof(double) * 2 * (size_t)T);
  }
  res = PREFIX_FN[at_impl](psi, states, state, prefix, L, cands, C, x, T, V, blank, eos, &err);
  if (res != ASR_OK) {
    if (res == ASR_ERR_TOO_LARGE) at_fail("--impl naive refuses this input (%s); use --impl ref", err.msg);
    else at_fail("%s", err.msg);
    goto done;
  }
  {
    int64_t ps[1], ss[3];
    for (i = 0; i < C; i++) out_psi[i] = (asr_real)psi[i];
    for (i = 0; want_states && i < 2 * T * C; i++) out_states[i] = (asr_real)states[i];
    ps[0] = C, ss[0] = C, ss[1] = 2, ss[2] = T;
    outs.n = 0;
    at_out_add(&outs, "scores.npy", ASR_DTYPE_REAL, 1, ps, out_psi);
    if (want_states) at_out_add(&outs, "states.npy", ASR_DTYPE_REAL, 3, ss, out_states);
    if (at_out_commit(&outs, pos[3])) goto done;
  }
  if (at_verbose)
    printf("ctc-prefix-score: T=%d V=%d |prefix|=%d C=%d blank=%d eos=%d: best ln psi %.9g\n", T, V, L, C, blank, eos,
           C ? psi[0] : 0.0);
  status = 0;
done:
  free(x);
  free(prefix);
  free(cands);
  free(state);
  free(psi);
  free(states);
  free(out_psi);
  free(out_states);
  return status;
}

/* ---- asrtool mwer */
int cmd_mwer(int argc, char **argv) {
  char *pos[3];
  int npos, r, n, status = 2;
  double ce = 0, mle = 0;
  int64_t ls[ASR_MAX_DIMS], es[ASR_MAX_DIMS];
  asr_real *logp = NULL, *errors = NULL, *grad = NULL, loss;
  asr_error err;
  asr_result res;
  at_outputs outs;
  const at_opt opts[] = {
    {"ce-loss", AT_REAL, &ce, -1e308, 1e308, NULL},
    {"mle-weight", AT_REAL, &mle, 0, 1e308, NULL},
  };
  r = at_parse(argc, argv, opts, 2, pos, 3, 3, &npos,
               "mwer [--ce-loss L] [--mle-weight W] [--impl naive|ref|simd] LOGP ERRORS OUTDIR\n"
               "  The MWER loss of [Prabhavalkar18] over an n-best list: LOGP (N,) the model's\n"
               "  ln P(y_i|x) (-inf allowed, not all), ERRORS (N,) the word errors W(y_i, y*) (>= 0):\n"
               "    Phat = softmax(LOGP),  What = mean(ERRORS),\n"
               "    loss = sum_i Phat_i (W_i - What) + W * L   (W, L: --mle-weight, --ce-loss; 0)\n"
               "  Writes loss.npy (a scalar) and grad.npy (N,) = d loss / d LOGP\n"
               "  = Phat_i (W_i - sum_j Phat_j W_j) (the CE term's gradient is the caller's).");
  if (r) return r == 1 ? 0 : r;
  if (at_npy_real(pos[0], 1, ls, &logp, 1)) goto done;
  if (at_npy_real(pos[1], 1, es, &errors, 0)) goto done;
  if (ls[0] != es[0]) {
    at_fail("%s: %lld errors for %lld hypotheses in %s", pos[1], (long long)es[0], (long long)ls[0], pos[0]);
    goto done;
  }
  if (ls[0] < 1 || ls[0] > INT_MAX / 4) {
    at_fail("%s: %lld hypotheses: the n-best list must have 1 or more", pos[0], (long long)ls[0]);
    goto done;
  }
  n = (int)ls[0];
  grad = (asr_real *)calloc((size_t)n, sizeof(asr_real));
  if (!grad) {
    at_fail("out of memory");
    goto done;
  }
  res = MWER_FN[at_impl](&loss, grad, logp, errors, n, (asr_real)ce, mle, &err);
  if (res != ASR_OK) {
    at_fail("%s: %s", res == ASR_ERR_TOO_LARGE ? "--impl naive refuses this input; use --impl ref" : pos[0],
            err.msg);
    goto done;
  }
  {
    int64_t gs[1];
    gs[0] = n;
    outs.n = 0;
    at_out_add(&outs, "loss.npy", ASR_DTYPE_REAL, 0, gs, &loss);
    at_out_add(&outs, "grad.npy", ASR_DTYPE_REAL, 1, gs, grad);
    if (at_out_commit(&outs, pos[2])) goto done;
  }
  if (at_verbose) printf("mwer: N=%d mle_weight=%g: loss %.9g\n", n, mle, (double)loss);
  status = 0;
done:
  free(logp);
  free(errors);
  free(grad);
  return status;
}

/* ---- asrtool gradcheck mwer: 7 hypotheses, log-probabilities in [-3, 0], errors 0..4,
 * mle_weight 0.3 with a CE loss of 1.2; objective the loss, w.r.t. the log-probabilities */
typedef struct gc_mwer_ctx {
  asr_real logp[7], errors[7];
} gc_mwer_ctx;
static double gc_mwer_f(void *v) {
  gc_mwer_ctx *c = (gc_mwer_ctx *)v;
  asr_real loss = 0;
  asr_mwer_loss(&loss, NULL, c->logp, c->errors, 7, (asr_real)1.2, 0.3, NULL);
  return (double)loss;
}
int gc_mwer(uint64_t seed, asr_gradcheck_report *rep) {
  gc_mwer_ctx c;
  asr_real g[7] = {0}, loss;
  asr_gradcheck_param p;
  asr_rng rng;
  int i;
  asr_rng_seed(&rng, seed, 31);
  for (i = 0; i < 7; i++) {
    c.logp[i] = (asr_real)(-3 * asr_rng_uniform(&rng));
    c.errors[i] = (asr_real)asr_rng_int(&rng, 5);
  }
  if (asr_mwer_loss(&loss, g, c.logp, c.errors, 7, (asr_real)1.2, 0.3, NULL) != ASR_OK) return 2;
  p.name = "logp", p.x = c.logp, p.grad = g, p.n = 7;
  return asr_gradcheck(gc_mwer_f, &c, &p, 1, NULL, &rng, rep) == ASR_OK ? 0 : 2;
}

/* ---- asrtool bench: the prefix scores of every candidate of one hypothesis, T 200,
 * V 64, a prefix of 20 labels (one step of a joint beam search per hypothesis) */
typedef struct bench_prefix_ctx {
  asr_ctc_prefix_score_fn fn;
  asr_real *lp;
  double *state, psi[64];
  int prefix[20], cands[63];
} bench_prefix_ctx;
static void bench_prefix_call(void *v) {
  bench_prefix_ctx *c = (bench_prefix_ctx *)v;
  c->fn(c->psi, NULL, c->state, c->prefix, 20, c->cands, 63, c->lp, 200, 64, 0, 63, NULL);
}
void bench_joint(at_bench *b) {
  const char *name = "ctc prefix score T200 V64 |g|20, 63 candidates";
  bench_prefix_ctx c;
  asr_rng rng;
  double *tmp;
  int i, t;
  c.lp = (asr_real *)malloc(sizeof(asr_real) * 200 * 64);
  c.state = (double *)malloc(sizeof(double) * 4 * 200);
  if (!c.lp || !c.state) {
    free(c.lp), free(c.state);
    return;
  }
  tmp = c.state + 400;
  asr_rng_seed(&rng, 7, 0);
  for (t = 0; t < 200; t++) {
    for (i = 0; i < 64; i++) c.lp[t * 64 + i] = (asr_real)(2 * asr_rng_normal(&rng));
    asr_log_softmax(c.lp + t * 64, c.lp + t * 64, 64);
  }
  for (i = 0; i < 63; i++) c.cands[i] = 1 + i;
  asr_ctc_prefix_init(c.state, c.lp, 200, 64, 0, NULL);
  for (i = 0; i < 20; i++) {
    double lp;
    c.prefix[i] = 1 + asr_rng_int(&rng, 62);
    asr_ctc_prefix_score_ref(&lp, tmp, c.state, c.prefix, i, c.prefix + i, 1, c.lp, 200, 64, 0, 63, NULL);
    memcpy(c.state, tmp, sizeof(double) * 400);
  }
  c.fn = asr_ctc_prefix_score_ref;
  at_bench_report(b, name, "ref", at_bench_time(bench_prefix_call, &c, 0.5));
  c.fn = asr_ctc_prefix_score;
  at_bench_report(b, name, "simd", at_bench_time(bench_prefix_call, &c, 0.5));
  free(c.lp);
  free(c.state);
}
