/* examples/asrtool/ctc.c - the CTC commands of asrtool (section 5 of asr.h):
 *
 *   asrtool ctc [--blank 0] [--reduction none|sum|mean] [--zero-infinity] [--logprobs]
 *               [--impl naive|ref|simd] LOGITS TARGETS INPUT_LENGTHS TARGET_LENGTHS OUTDIR
 *   asrtool ctc-decode [--blank 0] [--beam 1] [--prune LOGP] LOGITS INPUT_LENGTHS OUTDIR
 *   asrtool ctc-align [--blank 0] LOGITS TARGETS INPUT_LENGTHS TARGET_LENGTHS OUTDIR
 *
 * plus `asrtool gradcheck ctc|ctc_logprobs` and the CTC rows of `asrtool bench`.
 * Every input is checked (shapes, label range, lengths, NaN/inf) before anything runs;
 * a problem exits 2 with one line naming the file, and nothing is written. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The shape checks every CTC input shares: logits (N,T,V) and lengths (N,). */
static int check_dims(const char *path, const int64_t *shape, int ndim) {
  int d;
  for (d = 0; d < ndim; d++)
    if (shape[d] > INT_MAX / 4) return at_fail("%s: dimension %d (%lld) is too large", path, d, (long long)shape[d]);
  return 0;
}

/* Reads the logits (N,T,V) every CTC command starts from, checks their sizes and that
 * there is at least the blank, and gives N, T, V. allow_nonfinite: as at_npy_real. */
static int read_logits(const char *path, int64_t *xs, asr_real **x, int allow_nonfinite, int *N, int *T,
                       int *V) {
  if (at_npy_real(path, 3, xs, x, allow_nonfinite) || check_dims(path, xs, 3)) return 2;
  *N = (int)xs[0];
  *T = (int)xs[1];
  *V = (int)xs[2];
  if (*V < 1) return at_fail("%s: V = 0: there must be at least the blank", path);
  return 0;
}

static int check_lengths(const char *path, const int *len, int N, int max, const char *what, const char *max_name) {
  int n;
  for (n = 0; n < N; n++) {
    if (len[n] < 0) return at_fail("%s: %s[%d] = %d is negative", path, what, n, len[n]);
    if (len[n] > max)
      return at_fail("%s: %s[%d] = %d is above %s = %d", path, what, n, len[n], max_name, max);
  }
  return 0;
}

int cmd_ctc(int argc, char **argv) {
  char *pos[5];
  int npos, r, blank = 0, reduction = ASR_REDUCTION_MEAN, zero_inf = 0, logprobs = 0, input = 0, layout = 0;
  int64_t xs[ASR_MAX_DIMS], ts[ASR_MAX_DIMS], is[ASR_MAX_DIMS], ls[ASR_MAX_DIMS];
  asr_real *x = NULL, *grad = NULL, *loss = NULL;
  int *targets = NULL, *il = NULL, *tl = NULL;
  int N, T, V, S, n, j, status = 2;
  size_t i, count, wbytes;
  void *work = NULL;
  asr_error err;
  asr_result res;
  at_outputs outs;
  const at_opt opts[] = {
    {"blank", AT_INT, &blank, 0, 1e9, NULL},
    {"reduction", AT_CHOICE, &reduction, 0, 0, "none|sum|mean"},
    {"zero-infinity", AT_FLAG, &zero_inf, 0, 0, NULL},
    {"logprobs", AT_FLAG, &logprobs, 0, 0, NULL},
    {"input", AT_CHOICE, &input, 0, 0, "logits|logprobs|probs"},
    {"layout", AT_CHOICE, &layout, 0, 0, "btv|tbv"},
  };
  r = at_parse(argc, argv, opts, 6, pos, 5, 5, &npos,
               "ctc [--blank 0] [--reduction none|sum|mean] [--zero-infinity] [--logprobs]\n"
               "           [--input logits|logprobs|probs] [--layout btv|tbv]\n"
               "           [--impl naive|ref|simd] LOGITS TARGETS INPUT_LENGTHS TARGET_LENGTHS OUTDIR\n"
               "  CTC loss [Graves06] of logits (N,T,V) (log-softmax applied inside) for padded\n"
               "  targets (N,S) and lengths (N,); writes loss.npy ((N,) for none, else a scalar;\n"
               "  mean divides each loss by its target length (at least 1), then averages, as\n"
               "  PyTorch) and grad.npy, d(loss)/d(logits) (N,T,V). An infeasible item (too few\n"
               "  frames) gets loss inf (0 with --zero-infinity) and a zero gradient.\n"
               "  --logprobs: LOGITS are log-probabilities, used as given, and grad.npy is the\n"
               "  true partial derivative w.r.t. them (-posterior; PyTorch's ctc_loss returns\n"
               "  exp(logprobs) - posterior instead, see docs/ctc.md).\n"
               "  --input probs: probabilities, used as given (grad: -posterior / p); --input\n"
               "  logprobs is --logprobs. --layout tbv: LOGITS (T,N,V), time-major, as PyTorch's\n"
               "  ctc_loss; grad.npy then (T,N,V) too. Both run asr_ctc_loss_input (fast tier).\n"
               "  Defaults: --blank 0 --reduction mean (PyTorch's defaults).");
  if (r) return r == 1 ? 0 : r;
  if (logprobs) input = ASR_INPUT_LOGPROBS;
  logprobs = input == ASR_INPUT_LOGPROBS;
  /* logits: with --logprobs, -inf (probability 0) is allowed, NaN and +inf are not */
  if (read_logits(pos[0], xs, &x, logprobs, &N, &T, &V)) goto done;
  if (layout == ASR_LAYOUT_TBV) {   /* (T,N,V): the sizes swap, the checks below are the same */
    n = N;
    N = T;
    T = n;
  }
  if (logprobs) {
    for (i = 0; i < (size_t)N * T * V; i++)
      if (x[i] != x[i] || x[i] == INFINITY) {
        at_fail("%s: element %lu is %s (log-probabilities may be -inf, never NaN or +inf)", pos[0],
                (unsigned long)i, x[i] != x[i] ? "NaN" : "+inf");
        goto done;
      }
  }
  if (at_npy_int(pos[1], 2, ts, &targets)) goto done;
  if (at_npy_int(pos[2], 1, is, &il)) goto done;
  if (at_npy_int(pos[3], 1, ls, &tl)) goto done;
  if (check_dims(pos[1], ts, 2)) goto done;
  S = (int)ts[1];
  if (ts[0] != N) {
    at_fail("%s: %lld rows of targets for %d sequences in %s", pos[1], (long long)ts[0], N, pos[0]);
    goto done;
  }
  if (is[0] != N) {
    at_fail("%s: %lld input lengths for %d sequences in %s", pos[2], (long long)is[0], N, pos[0]);
    goto done;
  }
  if (ls[0] != N) {
    at_fail("%s: %lld target lengths for %d sequences in %s", pos[3], (long long)ls[0], N, pos[0]);
    goto done;
  }
  if (blank >= V) {
    at_fail("--blank %d is outside [0, V=%d) of %s", blank, V, pos[0]);
    goto done;
  }
  if (check_lengths(pos[2], il, N, T, "input_lengths", "T")) goto done;
  if (check_lengths(pos[3], tl, N, S, "target_lengths", "the padded width S")) goto done;
  for (n = 0; n < N; n++)
    for (j = 0; j < tl[n]; j++) {
      int c = targets[(size_t)n * S + j];
      if (c < 0 || c >= V) {
        at_fail("%s: targets[%d][%d] = %d is outside [0, V=%d)", pos[1], n, j, c, V);
        goto done;
      }
      if (c == blank) {
        at_fail("%s: targets[%d][%d] = %d is the blank", pos[1], n, j, c);
        goto done;
      }
    }
  count = (size_t)N * T * V;
  grad = (asr_real *)calloc(count ? count : 1, sizeof(asr_real));
  loss = (asr_real *)calloc(N > 0 ? (size_t)N : 1, sizeof(asr_real));
  wbytes = input == ASR_INPUT_PROBS || layout ? asr_ctc_loss_input_workspace_size(N, T, V, S)
                                               : asr_ctc_loss_workspace_size(T, V, S);
  work = wbytes != (size_t)-1 ? malloc(wbytes) : NULL;
  if (!grad || !loss || !work) {
    at_fail("out of memory (N=%d T=%d V=%d S=%d)", N, T, V, S);
    goto done;
  }
  if (input == ASR_INPUT_PROBS || layout) {
    res = asr_ctc_loss_input(loss, grad, x, asr_loss_input_make((asr_input_domain)input, (asr_input_layout)layout),
                             targets, il, tl, N, T, V, S, blank, (asr_reduction)reduction, zero_inf, work, wbytes, &err);
  } else {
    asr_ctc_loss_fn fn;
    if (logprobs) fn = at_impl == AT_IMPL_NAIVE ? asr_ctc_loss_logprobs_naive
                     : at_impl == AT_IMPL_REF ? asr_ctc_loss_logprobs_ref : asr_ctc_loss_logprobs;
    else fn = at_impl == AT_IMPL_NAIVE ? asr_ctc_loss_naive : at_impl == AT_IMPL_REF ? asr_ctc_loss_ref : asr_ctc_loss;
    res = fn(loss, grad, x, targets, il, tl, N, T, V, S, blank, (asr_reduction)reduction, zero_inf,
             work, wbytes, &err);
  }
  if (res < 0) {
    at_fail("%s", err.msg);
    goto done;
  }
  {
    int64_t lshape[1], gshape[3];
    lshape[0] = N;
    gshape[0] = layout ? T : N;
    gshape[1] = layout ? N : T;
    gshape[2] = V;
    outs.n = 0;
    at_out_add(&outs, "loss.npy", ASR_DTYPE_REAL, reduction == ASR_REDUCTION_NONE ? 1 : 0, lshape, loss);
    at_out_add(&outs, "grad.npy", ASR_DTYPE_REAL, 3, gshape, grad);
    if (at_out_commit(&outs, pos[4])) goto done;
  }
  if (at_verbose)
    printf("ctc: N=%d T=%d V=%d S=%d blank=%d reduction=%s%s: loss[0] = %.9g%s\n", N, T, V, S, blank,
           asr_reduction_name((asr_reduction)reduction), zero_inf ? " zero_infinity" : "", (double)loss[0],
           res == ASR_INFEASIBLE ? " (some target is infeasible: its gradient is zero)" : "");
  status = 0;
done:
  free(x);
  free(targets);
  free(il);
  free(tl);
  free(grad);
  free(loss);
  free(work);
  return status;
}

int cmd_ctc_decode(int argc, char **argv) {
  char *pos[3];
  int npos, r, blank = 0, beam = 1, N, T, V, n, t, smax = 0, status = 2;
  double prune = -INFINITY;
  int64_t xs[ASR_MAX_DIMS], is[ASR_MAX_DIMS];
  asr_real *x = NULL, *lp = NULL, *scores = NULL;
  int *il = NULL, *tok = NULL, *ntok = NULL, *tokens = NULL, *starts = NULL, *ends = NULL;
  int *path = NULL, *spans = NULL;
  void *work = NULL;
  size_t wbytes = 0;
  at_outputs outs;
  const at_opt opts[] = {
    {"blank", AT_INT, &blank, 0, 1e9, NULL},
    {"beam", AT_INT, &beam, 1, 1e6, NULL},
    {"prune", AT_REAL, &prune, -1e300, 0, NULL},
  };
  r = at_parse(argc, argv, opts, 3, pos, 3, 3, &npos,
               "ctc-decode [--blank 0] [--beam 1] [--prune LOGP] LOGITS INPUT_LENGTHS OUTDIR\n"
               "  greedy (best path, --beam 1) or prefix beam search of logits (N,T,V); writes\n"
               "  tokens.npy (N,S_max) padded with -1, scores.npy (N,) (greedy: ln p of the best\n"
               "  path; beam: ln p of the prefix, summed over its paths), and starts.npy /\n"
               "  ends.npy (N,S_max), the first and last frame of each token (greedy: from the\n"
               "  best path; beam: from the Viterbi alignment of the decoded tokens).\n"
               "  --prune LOGP: the beam search skips labels whose log-probability is below LOGP.");
  if (r) return r == 1 ? 0 : r;
  if (read_logits(pos[0], xs, &x, 0, &N, &T, &V)) goto done;
  if (at_npy_int(pos[1], 1, is, &il)) goto done;
  if (is[0] != N) {
    at_fail("%s: %lld input lengths for %d sequences in %s", pos[1], (long long)is[0], N, pos[0]);
    goto done;
  }
  if (blank >= V) {
    at_fail("--blank %d is outside [0, V=%d) of %s", blank, V, pos[0]);
    goto done;
  }
  if (check_lengths(pos[1], il, N, T, "input_lengths", "T")) goto done;
  lp = (asr_real *)malloc(sizeof(asr_real) * ((size_t)T * V + 1));
  tok = (int *)malloc(sizeof(int) * ((size_t)T + 1));
  path = (int *)malloc(sizeof(int) * ((size_t)T + 1));
  spans = (int *)malloc(sizeof(int) * (2 * (size_t)T + 2));
  ntok = (int *)calloc((size_t)N + 1, sizeof(int));
  scores = (asr_real *)calloc((size_t)N + 1, sizeof(asr_real));
  tokens = (int *)malloc(sizeof(int) * ((size_t)N * T + 1));
  starts = (int *)malloc(sizeof(int) * ((size_t)N * T + 1));
  ends = (int *)malloc(sizeof(int) * ((size_t)N * T + 1));
  if (beam > 1) wbytes = asr_ctc_beam_workspace_size(T, V, beam);
  {
    size_t a = asr_ctc_align_workspace_size(T, T);
    if (a > wbytes) wbytes = a;
  }
  work = wbytes != (size_t)-1 ? malloc(wbytes) : NULL;
  if (!lp || !tok || !path || !spans || !ntok || !scores || !tokens || !starts || !ends || !work) {
    at_fail("out of memory (N=%d T=%d V=%d beam=%d)", N, T, V, beam);
    goto done;
  }
  for (n = 0; n < N; n++) {
    int Tn = il[n], k, nt = 0;
    double sc = 0;
    for (t = 0; t < Tn; t++)
      asr_log_softmax(lp + (size_t)t * V, x + ((size_t)n * T + t) * V, V);
    if (beam == 1) {
      asr_ctc_greedy_decode(tok, &nt, &sc, path, lp, Tn, V, blank);
      asr_ctc_token_spans(NULL, spans, spans + T, path, Tn, blank);
    } else {
      asr_ctc_beam_opts o = asr_ctc_beam_opts_default(beam, blank);
      int nh = 0;
      asr_result br;
      o.prune_logprob = prune;
      br = asr_ctc_prefix_beam_search(tok, &nt, &sc, &nh, lp, Tn, V, &o, work, wbytes);
      if (br < 0 || nh == 0) {
        /* nothing survived the pruning: an empty result */
        nt = 0;
        sc = -INFINITY;
      } else {
        /* where each token sits: the best path that B maps to the decoded tokens */
        if (asr_ctc_align(path, NULL, NULL, lp, tok, Tn, V, nt, blank, work, wbytes) >= 0)
          asr_ctc_token_spans(NULL, spans, spans + T, path, Tn, blank);
      }
    }
    ntok[n] = nt;
    scores[n] = (asr_real)sc;
    for (k = 0; k < nt; k++) {
      tokens[(size_t)n * T + k] = tok[k];
      starts[(size_t)n * T + k] = spans[k];
      ends[(size_t)n * T + k] = spans[T + k];
    }
    if (nt > smax) smax = nt;
  }
  {
    /* pack (N, T) into (N, S_max), padded with -1 */
    int *p[3];
    int q;
    int64_t shape[2], sshape[1];
    p[0] = tokens;
    p[1] = starts;
    p[2] = ends;
    for (q = 0; q < 3; q++)
      for (n = 0; n < N; n++)
        for (t = 0; t < smax; t++)
          p[q][(size_t)n * smax + t] = t < ntok[n] ? p[q][(size_t)n * T + t] : -1;
    shape[0] = N;
    shape[1] = smax;
    sshape[0] = N;
    outs.n = 0;
    at_out_add(&outs, "tokens.npy", ASR_DTYPE_I32, 2, shape, tokens);
    at_out_add(&outs, "scores.npy", ASR_DTYPE_REAL, 1, sshape, scores);
    at_out_add(&outs, "starts.npy", ASR_DTYPE_I32, 2, shape, starts);
    at_out_add(&outs, "ends.npy", ASR_DTYPE_I32, 2, shape, ends);
    if (at_out_commit(&outs, pos[2])) goto done;
  }
  if (at_verbose) printf("ctc-decode: N=%d T=%d V=%d %s%d: longest %d tokens\n", N, T, V,
                         beam == 1 ? "greedy" : "prefix beam search, beam ", beam == 1 ? 1 : beam, smax);
  status = 0;
done:
  free(x);
  free(lp);
  free(il);
  free(tok);
  free(path);
  free(spans);
  free(ntok);
  free(scores);
  free(tokens);
  free(starts);
  free(ends);
  free(work);
  return status;
}

int cmd_ctc_align(int argc, char **argv) {
  char *pos[5];
  int npos, r, blank = 0, N, T, V, S, n, j, t, status = 2;
  int64_t xs[ASR_MAX_DIMS], ts[ASR_MAX_DIMS], is[ASR_MAX_DIMS], ls[ASR_MAX_DIMS];
  asr_real *x = NULL, *lp = NULL, *scores = NULL;
  int *targets = NULL, *il = NULL, *tl = NULL, *path = NULL, *states = NULL, *starts = NULL, *ends = NULL;
  int *spans = NULL;
  void *work = NULL;
  size_t wbytes;
  at_outputs outs;
  const at_opt opts[] = {{"blank", AT_INT, &blank, 0, 1e9, NULL}};
  r = at_parse(argc, argv, opts, 1, pos, 5, 5, &npos,
               "ctc-align [--blank 0] LOGITS TARGETS INPUT_LENGTHS TARGET_LENGTHS OUTDIR\n"
               "  Viterbi forced alignment: the most probable path of each target through the CTC\n"
               "  lattice of logits (N,T,V) (log-softmax applied inside). Writes path.npy (N,T), the\n"
               "  label (or blank) of every frame, -1 past the input length; states.npy (N,T), the\n"
               "  state of l' (0..2S) at each frame; starts.npy / ends.npy (N,S), the first and last\n"
               "  frame of each target token, -1 past the target length; scores.npy (N,), ln p of\n"
               "  the path (-inf when the target cannot be aligned: too few frames).");
  if (r) return r == 1 ? 0 : r;
  if (read_logits(pos[0], xs, &x, 0, &N, &T, &V)) goto done;
  if (at_npy_int(pos[1], 2, ts, &targets)) goto done;
  if (at_npy_int(pos[2], 1, is, &il)) goto done;
  if (at_npy_int(pos[3], 1, ls, &tl)) goto done;
  if (check_dims(pos[1], ts, 2)) goto done;
  S = (int)ts[1];
  if (ts[0] != N || is[0] != N || ls[0] != N) {
    at_fail("%s: %lld targets, %lld input lengths, %lld target lengths for %d sequences in %s",
            ts[0] != N ? pos[1] : is[0] != N ? pos[2] : pos[3], (long long)ts[0], (long long)is[0],
            (long long)ls[0], N, pos[0]);
    goto done;
  }
  if (blank >= V) {
    at_fail("--blank %d is outside [0, V=%d) of %s", blank, V, pos[0]);
    goto done;
  }
  if (check_lengths(pos[2], il, N, T, "input_lengths", "T")) goto done;
  if (check_lengths(pos[3], tl, N, S, "target_lengths", "the padded width S")) goto done;
  for (n = 0; n < N; n++)
    for (j = 0; j < tl[n]; j++) {
      int c = targets[(size_t)n * S + j];
      if (c < 0 || c >= V || c == blank) {
        at_fail("%s: targets[%d][%d] = %d is %s", pos[1], n, j, c, c == blank ? "the blank" : "outside [0, V)");
        goto done;
      }
    }
  wbytes = asr_ctc_align_workspace_size(T, S);
  lp = (asr_real *)malloc(sizeof(asr_real) * ((size_t)T * V + 1));
  path = (int *)malloc(sizeof(int) * ((size_t)N * T + 1));
  states = (int *)malloc(sizeof(int) * ((size_t)N * T + 1));
  starts = (int *)malloc(sizeof(int) * ((size_t)N * S + 1));
  ends = (int *)malloc(sizeof(int) * ((size_t)N * S + 1));
  spans = (int *)malloc(sizeof(int) * (2 * (size_t)T + 2));
  scores = (asr_real *)malloc(sizeof(asr_real) * ((size_t)N + 1));
  work = wbytes != (size_t)-1 ? malloc(wbytes) : NULL;
  if (!lp || !path || !states || !starts || !ends || !spans || !scores || !work) {
    at_fail("out of memory (N=%d T=%d V=%d S=%d)", N, T, V, S);
    goto done;
  }
  for (n = 0; n < N; n++) {
    int *pn = path + (size_t)n * T, *sn = states + (size_t)n * T, nt = 0;
    double sc = 0;
    asr_result ar;
    for (t = 0; t < il[n]; t++) asr_log_softmax(lp + (size_t)t * V, x + ((size_t)n * T + t) * V, V);
    ar = asr_ctc_align(pn, sn, &sc, lp, targets + (size_t)n * S, il[n], V, tl[n], blank, work, wbytes);
    if (ar < 0) {
      at_fail("item %d: %s", n, asr_result_string(ar));
      goto done;
    }
    if (ar == ASR_OK) nt = asr_ctc_token_spans(NULL, spans, spans + T, pn, il[n], blank);
    for (t = ar == ASR_OK ? il[n] : 0; t < T; t++) pn[t] = sn[t] = -1;
    for (j = 0; j < S; j++) {
      starts[(size_t)n * S + j] = j < nt ? spans[j] : -1;
      ends[(size_t)n * S + j] = j < nt ? spans[T + j] : -1;
    }
    scores[n] = (asr_real)sc;
  }
  {
    int64_t pshape[2], sshape[2], nshape[1];
    pshape[0] = N;
    pshape[1] = T;
    sshape[0] = N;
    sshape[1] = S;
    nshape[0] = N;
    outs.n = 0;
    at_out_add(&outs, "path.npy", ASR_DTYPE_I32, 2, pshape, path);
    at_out_add(&outs, "states.npy", ASR_DTYPE_I32, 2, pshape, states);
    at_out_add(&outs, "starts.npy", ASR_DTYPE_I32, 2, sshape, starts);
    at_out_add(&outs, "ends.npy", ASR_DTYPE_I32, 2, sshape, ends);
    at_out_add(&outs, "scores.npy", ASR_DTYPE_REAL, 1, nshape, scores);
    if (at_out_commit(&outs, pos[4])) goto done;
  }
  if (at_verbose) printf("ctc-align: N=%d T=%d V=%d S=%d aligned\n", N, T, V, S);
  status = 0;
done:
  free(x);
  free(targets);
  free(il);
  free(tl);
  free(lp);
  free(path);
  free(states);
  free(starts);
  free(ends);
  free(spans);
  free(scores);
  free(work);
  return status;
}

/* ---- asrtool gradcheck ctc / ctc_logprobs: the mean-reduced loss of a random ragged
 * batch (N=3, T=8, V=5, S=3, blank 2, one target with a repeat) w.r.t. every input. */
typedef struct gc_ctc {
  asr_real x[3 * 8 * 5], loss[1];
  int targets[9], il[3], tl[3];
  int logprobs;
  void *work;
  size_t wbytes;
} gc_ctc;

static double gc_ctc_f(void *vctx) {
  gc_ctc *c = (gc_ctc *)vctx;
  (c->logprobs ? asr_ctc_loss_logprobs : asr_ctc_loss)(c->loss, NULL, c->x, c->targets, c->il, c->tl, 3, 8,
                                                       5, 3, 2, ASR_REDUCTION_MEAN, 0, c->work, c->wbytes, NULL);
  return c->loss[0];
}

static int gc_ctc_run(uint64_t seed, asr_gradcheck_report *rep, int logprobs) {
  static const int targets[9] = {1, 3, 3, 4, 0, 1, 0, 0, 0}, il[3] = {8, 6, 7}, tl[3] = {3, 3, 1};
  gc_ctc c;
  asr_real grad[3 * 8 * 5];
  asr_rng rng;
  asr_gradcheck_param p;
  asr_result r;
  int i;
  asr_rng_seed(&rng, seed, 3);
  memcpy(c.targets, targets, sizeof targets);
  memcpy(c.il, il, sizeof il);
  memcpy(c.tl, tl, sizeof tl);
  c.logprobs = logprobs;
  for (i = 0; i < 3 * 8 * 5; i++) {
    c.x[i] = (asr_real)(2 * asr_rng_normal(&rng) - (logprobs ? 2 : 0));
    grad[i] = 0;
  }
  c.wbytes = asr_ctc_loss_workspace_size(8, 5, 3);
  c.work = malloc(c.wbytes);
  if (!c.work) return 2;
  r = (logprobs ? asr_ctc_loss_logprobs : asr_ctc_loss)(c.loss, grad, c.x, c.targets, c.il, c.tl, 3, 8, 5,
                                                        3, 2, ASR_REDUCTION_MEAN, 0, c.work, c.wbytes, NULL);
  if (r != ASR_OK) {
    free(c.work);
    return 2;
  }
  p.name = logprobs ? "logprobs" : "logits";
  p.x = c.x;
  p.grad = grad;
  p.n = 3 * 8 * 5;
  {
    asr_gradcheck_opts o;
    memset(&o, 0, sizeof o);
    o.max_elements = 3 * 8 * 5;    /* every element */
    r = asr_gradcheck(gc_ctc_f, &c, &p, 1, &o, &rng, rep);
  }
  free(c.work);
  return r == ASR_OK ? 0 : 2;
}
int gc_ctc_logits(uint64_t seed, asr_gradcheck_report *rep) { return gc_ctc_run(seed, rep, 0); }
int gc_ctc_logprobs(uint64_t seed, asr_gradcheck_report *rep) { return gc_ctc_run(seed, rep, 1); }

/* ---- asrtool bench: loss + gradient of a batch of N=16 utterances of T=1000 frames (ten
 * seconds at a 10 ms shift), V=64 symbols, S=200 target labels, reduction mean: the case
 * docs/ctc.md times under "Speed" */
typedef struct bench_ctc_ctx {
  asr_ctc_loss_fn fn;
  asr_real *x, *grad, loss[1];
  int *targets, il[16], tl[16];
  void *work;
  size_t wbytes;
} bench_ctc_ctx;

static void bench_ctc_call(void *v) {
  bench_ctc_ctx *c = (bench_ctc_ctx *)v;
  c->fn(c->loss, c->grad, c->x, c->targets, c->il, c->tl, 16, 1000, 64, 200, 0, ASR_REDUCTION_MEAN, 0,
        c->work, c->wbytes, NULL);
}

void bench_ctc(at_bench *b) {
  const char *name = "ctc loss+grad N16 T1000 V64 S200";
  bench_ctc_ctx c;
  asr_rng rng;
  size_t i, count = (size_t)16 * 1000 * 64;
  int n;
  c.x = (asr_real *)malloc(sizeof(asr_real) * count);
  c.grad = (asr_real *)malloc(sizeof(asr_real) * count);
  c.targets = (int *)malloc(sizeof(int) * 16 * 200);
  c.wbytes = asr_ctc_loss_workspace_size(1000, 64, 200);
  c.work = malloc(c.wbytes);
  if (!c.x || !c.grad || !c.targets || !c.work) {
    free(c.x), free(c.grad), free(c.targets), free(c.work);
    return;
  }
  /* the same data as bench/compare.py draws: standard normal logits, labels 1..63 */
  asr_rng_seed(&rng, 7, 0);
  for (i = 0; i < count; i++) c.x[i] = (asr_real)asr_rng_normal(&rng);
  for (i = 0; i < 16 * 200; i++) c.targets[i] = 1 + asr_rng_int(&rng, 63);
  for (n = 0; n < 16; n++) {
    c.il[n] = 1000;
    c.tl[n] = 200;
  }
  memset(c.grad, 0, sizeof(asr_real) * count);
  c.fn = asr_ctc_loss_ref;
  at_bench_report(b, name, "ref", at_bench_time(bench_ctc_call, &c, 0.5));
  c.fn = asr_ctc_loss;
  at_bench_report(b, name, "simd", at_bench_time(bench_ctc_call, &c, 0.5));
  free(c.x);
  free(c.grad);
  free(c.targets);
  free(c.work);
}
