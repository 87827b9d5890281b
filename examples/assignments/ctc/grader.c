/* examples/assignments/ctc/grader.c - grades a student's CTC (ctc_assignment.h) part by part.
 *
 *   build/assignments/ctc/grader REFDIR        (made and run by: make grade A=ctc STUDENT=...)
 *
 * REFDIR holds the inputs (data/course/ctc_*.npy) and the reference arrays that
 * examples/assignments/ctc/make_refs.sh made with asrtool (never typed by hand). Each part
 * runs in a child process with a time limit, so a part that crashes, loops or (under
 * DEBUG=1, AddressSanitizer) writes out of bounds fails alone, with the signal or the
 * sanitizer's first line, and the next part still runs. A failing part prints the
 * equation, the item and index of the first wrong element, the expected and the got value
 * and a hint. The last line is "score: P/6". Built with ASR_REAL=double; with
 * -DASR_ASSIGNMENT_CTC (instructor mode) asr.h gives the student no CTC to call. */
#define _POSIX_C_SOURCE 200809L
#define ASR_IMPLEMENTATION
#include "../../../asr.h"
#include "../grading.h"
#include "ctc_assignment.h"

#define TIME_LIMIT 10   /* seconds per part: the reference needs milliseconds */
#define TOL 1e-9        /* absolute, on logs and probabilities: two correct double
                           implementations differ by ~1e-14 here (other summation orders) */

/* The reference data, read before any part runs. */
typedef struct refs {
  int N, T, V, S, L;
  double *logits, *logprobs;            /* (N,T,V) */
  int *targets, *il, *tl;               /* (N,S), (N), (N) */
  double *alpha, *beta, *post, *grad;   /* (N,T,L), (N,T,L), (N,T,V) log, (N,T,V) */
  double *loss;                         /* (N) */
  int *lprime, *skip, *tokens, smax;    /* (N,L), (N,L), (N,smax) padded -1 */
} refs;

static void read_refs(refs *r, const char *dir) {
  int64_t s[3];
  size_t i;
  r->logits = (double *)grading_load(dir, "ctc_logits.npy", ASR_DTYPE_F64, 3, s);
  r->N = (int)s[0], r->T = (int)s[1], r->V = (int)s[2];
  r->targets = (int *)grading_load(dir, "ctc_targets.npy", ASR_DTYPE_I32, 2, s);
  r->S = (int)s[1], r->L = 2 * r->S + 1;
  r->il = (int *)grading_load(dir, "ctc_input_lengths.npy", ASR_DTYPE_I32, 1, s);
  r->tl = (int *)grading_load(dir, "ctc_target_lengths.npy", ASR_DTYPE_I32, 1, s);
  r->alpha = (double *)grading_load(dir, "lattice/alpha.npy", ASR_DTYPE_F64, 3, s);
  r->beta = (double *)grading_load(dir, "lattice/beta.npy", ASR_DTYPE_F64, 3, s);
  r->post = (double *)grading_load(dir, "lattice/posterior.npy", ASR_DTYPE_F64, 3, s);
  r->lprime = (int *)grading_load(dir, "lattice/lprime.npy", ASR_DTYPE_I32, 2, s);
  r->skip = (int *)grading_load(dir, "lattice/can_skip.npy", ASR_DTYPE_I32, 2, s);
  r->loss = (double *)grading_load(dir, "loss/loss.npy", ASR_DTYPE_F64, 1, s);
  r->grad = (double *)grading_load(dir, "loss/grad.npy", ASR_DTYPE_F64, 3, s);
  r->tokens = (int *)grading_load(dir, "greedy/tokens.npy", ASR_DTYPE_I32, 2, s);
  r->smax = (int)s[1];
  /* the log-probabilities every part after 1 starts from: log-softmax of each frame */
  r->logprobs = (double *)malloc(sizeof(double) * (size_t)r->N * r->T * r->V);
  for (i = 0; i < (size_t)r->N * r->T; i++) asr_log_softmax(r->logprobs + i * r->V, r->logits + i * r->V, r->V);
}

typedef grading_verdict verdict;

/* The hint for the first wrong alpha_t(s) or beta_t(s), from where it is. */
static const char *lattice_hint(const refs *r, int n, int t, int s, int is_beta, double got, double want) {
  const int *l = r->targets + (size_t)n * r->S, Tn = r->il[n], Ln = 2 * r->tl[n] + 1;
  int lab = (s & 1) ? l[s / 2] : -1;
  if (is_beta && got != want && fabs(got - want - (-r->logprobs[((size_t)n * r->T + t) * r->V + ((s & 1) ? lab : 0)])) < 1e-6)
    return "beta_t(s) here lacks ln y^t_{l'_s}: [Graves06]'s beta includes frame t's emission";
  if (!is_beta && t == 0) return "check the initialisation: only s = 0 (blank) and s = 1 (l_1) start a path";
  if (is_beta && t == Tn - 1) return "check the initialisation: only the last blank and the last label end a path";
  if (!is_beta && s >= 2 && (s & 1) && lab == l[s / 2 - 1])
    return "check the skip from s-2 when l'_s = l'_{s-2}: it is not allowed (B would merge the two labels)";
  if (is_beta && s + 2 < Ln && (s & 1) && lab == l[s / 2 + 1])
    return "check the skip to s+2 when l'_{s+2} = l'_s: it is not allowed";
  if (!(s & 1)) return "a blank state is entered from s and s-1 only (never skipped into)";
  return is_beta ? "check eqs. (10)-(11)" : "check eqs. (6)-(7)";
}

/* grading_compare with the CTC lattice's index names: t, then s (states of l') for the
 * logs of alpha and beta, k (labels) for the rest. */
static int compare(verdict *v, const char *what, const double *got, const double *want, int rows, int cols, int C,
                   int n, int *bad_t, int *bad_s) {
  return grading_compare(v, what, "t", strncmp(what, "ln ", 3) == 0 ? "s" : "k", got, want, rows, cols, C, n, TOL, bad_t,
                         bad_s);
}

static void part1(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int n, s, lp[64];
  for (n = 0; n < r->N; n++) {
    const int *l = r->targets + (size_t)n * r->S, Sn = r->tl[n], Ln = 2 * Sn + 1;
    int L = ctc_extended_labels(lp, l, Sn, 0);
    if (L != Ln) {
      snprintf(v->msg, sizeof v->msg, "ctc_extended_labels, item %d: returned %d, expected |l'| = 2|l|+1 = %d", n, L, Ln);
      return;
    }
    for (s = 0; s < Ln; s++) {
      int want = r->lprime[(size_t)n * r->L + s], sk = r->skip[(size_t)n * r->L + s], got = ctc_can_skip(l, Sn, 0, s);
      if (lp[s] != want) {
        snprintf(v->msg, sizeof v->msg, "l'_s at item %d, s=%d: expected %d, got %d: blanks go at even s "
                 "(0-based), l_{(s-1)/2} at odd s ([Graves06] sec. 4.1)", n, s, want, lp[s]);
        return;
      }
      if (got != sk) {
        snprintf(v->msg, sizeof v->msg, "can_skip at item %d, s=%d: expected %d, got %d: the skip s-2 -> s "
                 "needs l'_s a label and l'_s != l'_{s-2} ([Graves06] eq. (6))", n, s, sk, got);
        return;
      }
    }
  }
  v->ok = 1;
}

static void part_lattice(const refs *r, verdict *v, int is_beta) {
  int n, bt, bs;
  for (n = 0; n < r->N; n++) {
    const int Tn = r->il[n], Sn = r->tl[n], Ln = 2 * Sn + 1;
    double *a = (double *)malloc(sizeof(double) * (size_t)Tn * Ln);   /* exact size: ASan sees overruns */
    const double *lp = r->logprobs + (size_t)n * r->T * r->V, *want = (is_beta ? r->beta : r->alpha) + (size_t)n * r->T * r->L;
    (is_beta ? ctc_beta : ctc_alpha)(a, lp, r->targets + (size_t)n * r->S, Tn, r->V, Sn, 0);
    if (!compare(v, is_beta ? "ln beta_t(s)" : "ln alpha_t(s)", a, want, Tn, Ln, r->L, n, &bt, &bs)) {
      grading_hint(v, lattice_hint(r, n, bt, bs, is_beta, a[(size_t)bt * Ln + bs], want[(size_t)bt * r->L + bs]));
      free(a);
      return;
    }
    free(a);
  }
  v->ok = 1;
}

static void part2(const void *ctx, verdict *v) { part_lattice((const refs *)ctx, v, 0); }
static void part3(const void *ctx, verdict *v) { part_lattice((const refs *)ctx, v, 1); }

static void part4(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int n, k, bt, bs;
  for (n = 0; n < r->N; n++) {
    const int Tn = r->il[n];
    double *p = (double *)malloc(sizeof(double) * (size_t)Tn * r->V), *want = (double *)malloc(sizeof(double) * (size_t)Tn * r->V);
    for (k = 0; k < Tn * r->V; k++) want[k] = exp(r->post[(size_t)n * r->T * r->V + k]);
    ctc_posterior(p, r->logprobs + (size_t)n * r->T * r->V, r->targets + (size_t)n * r->S, Tn, r->V, r->tl[n], 0);
    if (!compare(v, "gamma_t(k)", p, want, Tn, r->V, r->V, n, &bt, &bs)) {
      grading_hint(v, "gamma_t(k) = sum_{s: l'_s = k} alpha_t(s) beta_t(s) / (y^t_k p(l|x)) "
                      "([Graves06] eq. (14)); each frame's gammas sum to 1");
      free(p), free(want);
      return;
    }
    free(p), free(want);
  }
  v->ok = 1;
}

static void part5(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int n, bt, bs;
  for (n = 0; n < r->N; n++) {
    const int Tn = r->il[n];
    double *g = (double *)malloc(sizeof(double) * (size_t)Tn * r->V), loss;
    loss = ctc_loss_grad(g, r->logits + (size_t)n * r->T * r->V, r->targets + (size_t)n * r->S, Tn, r->V, r->tl[n], 0);
    if (!grading_same(loss, r->loss[n], TOL)) {
      snprintf(v->msg, sizeof v->msg, "the loss -ln p(l|x) of item %d: expected %.9g, got %.9g ([Graves06] eq. (12))", n,
               r->loss[n], loss);
      free(g);
      return;
    }
    if (!compare(v, "dO/du^t_k", g, r->grad + (size_t)n * r->T * r->V, Tn, r->V, r->V, n, &bt, &bs)) {
      grading_hint(v, "the logits' gradient is y^t_k - gamma_t(k) ([Graves06] eq. (16)); "
                      "-gamma_t(k) alone is the gradient w.r.t. the log-probabilities");
      free(g);
      return;
    }
    free(g);
  }
  v->ok = 1;
}

static void part6(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int n, j, tok[256];
  for (n = 0; n < r->N; n++) {
    const int *want = r->tokens + (size_t)n * r->smax;
    int nw = 0, ng = ctc_greedy(tok, r->logprobs + (size_t)n * r->T * r->V, r->il[n], r->V, 0);
    while (nw < r->smax && want[nw] >= 0) nw++;
    for (j = 0; j < (ng < nw ? ng : nw); j++)
      if (tok[j] != want[j]) break;
    if (ng != nw || j < nw) {
      snprintf(v->msg, sizeof v->msg, "best path of item %d: expected %d tokens, got %d; first difference at token %d: "
               "B merges repeated labels first, then drops the blanks ([Graves06] sec. 3.2)", n, nw, ng, j);
      return;
    }
  }
  v->ok = 1;
}

static const grading_part PARTS[] = {
  {part1, "extended labelling l' and its skips"},
  {part2, "forward variables alpha, eqs. (6)-(7)"},
  {part3, "backward variables beta, eqs. (10)-(11)"},
  {part4, "symbol posteriors gamma, eq. (14)"},
  {part5, "loss and gradient w.r.t. the logits, eq. (16)"},
  {part6, "best path decoding, sec. 3.2"},
};
#define NPARTS (int)(sizeof PARTS / sizeof PARTS[0])

int main(int argc, char **argv) {
  refs r;
  if (argc != 2) {
    fprintf(stderr, "usage: grader REFDIR   (make grade A=ctc STUDENT=path.c runs it)\n");
    return 2;
  }
  read_refs(&r, argv[1]);
  printf("CTC assignment: %d items, T <= %d, V = %d, S <= %d; tolerance %g\n", r.N, r.T, r.V, r.S, TOL);
  return grading_main(&r, PARTS, NPARTS, TIME_LIMIT);
}
