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
#include "ctc_assignment.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

static void *load(const char *dir, const char *name, asr_dtype dt, int ndim, int64_t *shape) {
  char path[1024];
  asr_array a;
  asr_error err;
  int d;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (asr_npy_read_as(path, dt, 1, &a, NULL, NULL, &err) != ASR_OK || a.ndim != ndim) {
    fprintf(stderr, "grader: %s: %s\n", path, a.ndim != ndim && a.data ? "unexpected rank" : err.msg);
    exit(2);
  }
  for (d = 0; d < ndim; d++) shape[d] = a.shape[d];
  return a.data;
}

static void read_refs(refs *r, const char *dir) {
  int64_t s[3];
  size_t i;
  r->logits = (double *)load(dir, "ctc_logits.npy", ASR_DTYPE_F64, 3, s);
  r->N = (int)s[0], r->T = (int)s[1], r->V = (int)s[2];
  r->targets = (int *)load(dir, "ctc_targets.npy", ASR_DTYPE_I32, 2, s);
  r->S = (int)s[1], r->L = 2 * r->S + 1;
  r->il = (int *)load(dir, "ctc_input_lengths.npy", ASR_DTYPE_I32, 1, s);
  r->tl = (int *)load(dir, "ctc_target_lengths.npy", ASR_DTYPE_I32, 1, s);
  r->alpha = (double *)load(dir, "lattice/alpha.npy", ASR_DTYPE_F64, 3, s);
  r->beta = (double *)load(dir, "lattice/beta.npy", ASR_DTYPE_F64, 3, s);
  r->post = (double *)load(dir, "lattice/posterior.npy", ASR_DTYPE_F64, 3, s);
  r->lprime = (int *)load(dir, "lattice/lprime.npy", ASR_DTYPE_I32, 2, s);
  r->skip = (int *)load(dir, "lattice/can_skip.npy", ASR_DTYPE_I32, 2, s);
  r->loss = (double *)load(dir, "loss/loss.npy", ASR_DTYPE_F64, 1, s);
  r->grad = (double *)load(dir, "loss/grad.npy", ASR_DTYPE_F64, 3, s);
  r->tokens = (int *)load(dir, "greedy/tokens.npy", ASR_DTYPE_I32, 2, s);
  r->smax = (int)s[1];
  /* the log-probabilities every part after 1 starts from: log-softmax of each frame */
  r->logprobs = (double *)malloc(sizeof(double) * (size_t)r->N * r->T * r->V);
  for (i = 0; i < (size_t)r->N * r->T; i++) asr_log_softmax(r->logprobs + i * r->V, r->logits + i * r->V, r->V);
}

/* A part's verdict, sent from the child through a pipe. */
typedef struct verdict {
  int ok;
  char msg[600];
} verdict;

/* |got - want| <= TOL, infinities equal. */
static int same(double got, double want) {
  if (got == want) return 1;
  return fabs(got - want) <= TOL;
}

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

/* Compares one item's (rows, cols) block of a student array with the reference's (padded
 * to (R, C) per item); on the first difference writes the message. */
static int compare(verdict *v, const char *what, const double *got, const double *want, int rows, int cols, int C,
                   int n, int *bad_t, int *bad_s) {
  int t, s;
  for (t = 0; t < rows; t++)
    for (s = 0; s < cols; s++) {
      double g = got[(size_t)t * cols + s], w = want[(size_t)t * C + s];
      if (!same(g, w)) {
        snprintf(v->msg, sizeof v->msg, "%s at item %d, t=%d, %s=%d: expected %.6g, got %.6g", what, n, t,
                 strncmp(what, "ln ", 3) == 0 ? "s" : "k", s, w, g);
        *bad_t = t, *bad_s = s;
        return 0;
      }
    }
  return 1;
}

static void part1(const refs *r, verdict *v) {
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
      size_t m = strlen(v->msg);
      snprintf(v->msg + m, sizeof v->msg - m, ": %s", lattice_hint(r, n, bt, bs, is_beta, a[(size_t)bt * Ln + bs], want[(size_t)bt * r->L + bs]));
      free(a);
      return;
    }
    free(a);
  }
  v->ok = 1;
}

static void part2(const refs *r, verdict *v) { part_lattice(r, v, 0); }
static void part3(const refs *r, verdict *v) { part_lattice(r, v, 1); }

static void part4(const refs *r, verdict *v) {
  int n, k, bt, bs;
  for (n = 0; n < r->N; n++) {
    const int Tn = r->il[n];
    double *p = (double *)malloc(sizeof(double) * (size_t)Tn * r->V), *want = (double *)malloc(sizeof(double) * (size_t)Tn * r->V);
    for (k = 0; k < Tn * r->V; k++) want[k] = exp(r->post[(size_t)n * r->T * r->V + k]);
    ctc_posterior(p, r->logprobs + (size_t)n * r->T * r->V, r->targets + (size_t)n * r->S, Tn, r->V, r->tl[n], 0);
    if (!compare(v, "gamma_t(k)", p, want, Tn, r->V, r->V, n, &bt, &bs)) {
      size_t m = strlen(v->msg);
      snprintf(v->msg + m, sizeof v->msg - m, ": gamma_t(k) = sum_{s: l'_s = k} alpha_t(s) beta_t(s) / (y^t_k p(l|x)) "
               "([Graves06] eq. (14)); each frame's gammas sum to 1");
      free(p), free(want);
      return;
    }
    free(p), free(want);
  }
  v->ok = 1;
}

static void part5(const refs *r, verdict *v) {
  int n, bt, bs;
  for (n = 0; n < r->N; n++) {
    const int Tn = r->il[n];
    double *g = (double *)malloc(sizeof(double) * (size_t)Tn * r->V), loss;
    loss = ctc_loss_grad(g, r->logits + (size_t)n * r->T * r->V, r->targets + (size_t)n * r->S, Tn, r->V, r->tl[n], 0);
    if (!same(loss, r->loss[n])) {
      snprintf(v->msg, sizeof v->msg, "the loss -ln p(l|x) of item %d: expected %.9g, got %.9g ([Graves06] eq. (12))", n,
               r->loss[n], loss);
      free(g);
      return;
    }
    if (!compare(v, "dO/du^t_k", g, r->grad + (size_t)n * r->T * r->V, Tn, r->V, r->V, n, &bt, &bs)) {
      size_t m = strlen(v->msg);
      snprintf(v->msg + m, sizeof v->msg - m, ": the logits' gradient is y^t_k - gamma_t(k) ([Graves06] eq. (16)); "
               "-gamma_t(k) alone is the gradient w.r.t. the log-probabilities");
      free(g);
      return;
    }
    free(g);
  }
  v->ok = 1;
}

static void part6(const refs *r, verdict *v) {
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

static const struct {
  void (*run)(const refs *, verdict *);
  const char *name;
} PARTS[] = {
  {part1, "extended labelling l' and its skips"},
  {part2, "forward variables alpha, eqs. (6)-(7)"},
  {part3, "backward variables beta, eqs. (10)-(11)"},
  {part4, "symbol posteriors gamma, eq. (14)"},
  {part5, "loss and gradient w.r.t. the logits, eq. (16)"},
  {part6, "best path decoding, sec. 3.2"},
};
#define NPARTS (int)(sizeof PARTS / sizeof PARTS[0])

/* Runs one part in a child with a time limit; its stderr (a sanitizer's report) is kept. */
static void run_child(const refs *r, int p, verdict *v) {
  int fd[2], fe[2], status;
  pid_t pid;
  char err[4096];
  ssize_t got, n_err = 0;
  memset(v, 0, sizeof *v);
  if (pipe(fd) || pipe(fe)) {
    snprintf(v->msg, sizeof v->msg, "grader: pipe failed");
    return;
  }
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    verdict mine;
    memset(&mine, 0, sizeof mine);
    close(fd[0]), close(fe[0]);
    dup2(fe[1], 2);
    alarm(TIME_LIMIT);
    PARTS[p].run(r, &mine);
    if (write(fd[1], &mine, sizeof mine) != (ssize_t)sizeof mine) _exit(3);
    _exit(0);
  }
  close(fd[1]), close(fe[1]);
  got = read(fd[0], v, sizeof *v);
  while (n_err < (ssize_t)sizeof err - 1) {
    ssize_t k = read(fe[0], err + n_err, sizeof err - 1 - (size_t)n_err);
    if (k <= 0) break;
    n_err += k;
  }
  err[n_err] = 0;
  close(fd[0]), close(fe[0]);
  waitpid(pid, &status, 0);
  if (got == (ssize_t)sizeof *v && WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  v->ok = 0;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
    snprintf(v->msg, sizeof v->msg, "did not finish within %d s (an endless loop?)", TIME_LIMIT);
  } else {
    /* the sanitizer's first line that names an error, else the signal or exit status */
    const char *line = strstr(err, "ERROR: ");
    if (line) {
      const char *end = strchr(line, '\n');
      snprintf(v->msg, sizeof v->msg, "crashed: %.*s", end ? (int)(end - line) : (int)strlen(line), line);
    } else if (WIFSIGNALED(status)) {
      snprintf(v->msg, sizeof v->msg, "crashed with signal %d (%s)", WTERMSIG(status),
               WTERMSIG(status) == SIGSEGV ? "SIGSEGV: a bad pointer or an index out of bounds" : "see DEBUG=1");
    } else {
      snprintf(v->msg, sizeof v->msg, "the part's process exited with status %d", WEXITSTATUS(status));
    }
  }
}

int main(int argc, char **argv) {
  refs r;
  int p, score = 0;
  if (argc != 2) {
    fprintf(stderr, "usage: grader REFDIR   (make grade A=ctc STUDENT=path.c runs it)\n");
    return 2;
  }
  read_refs(&r, argv[1]);
  printf("CTC assignment: %d items, T <= %d, V = %d, S <= %d; tolerance %g\n", r.N, r.T, r.V, r.S, TOL);
  for (p = 0; p < NPARTS; p++) {
    verdict v;
    run_child(&r, p, &v);
    printf("[%s] part %d: %s%s%s\n", v.ok ? "PASS" : "FAIL", p + 1, PARTS[p].name, v.ok ? "" : "\n       ", v.ok ? "" : v.msg);
    score += v.ok;
  }
  printf("score: %d/%d\n", score, NPARTS);
  return score == NPARTS ? 0 : 1;
}
