/* examples/assignments/rnnt/grader.c - grades a student's RNN-T (rnnt_assignment.h) part by
 * part.
 *
 *   build/assignments/rnnt/graded-... REFDIR    (made and run by: make grade A=rnnt STUDENT=...)
 *
 * REFDIR holds the inputs (data/course/rnnt_*.npy) and the reference arrays that
 * examples/assignments/rnnt/make_refs.sh made with asrtool (never typed by hand). Parts 2 and
 * 4 start from the reference ln blank(t,u), ln y(t,u), so a wrong part 1 fails alone. Each
 * part runs in a child process with a time limit (examples/assignments/grading.h): a part
 * that crashes, loops or (DEBUG=1, AddressSanitizer) writes out of bounds fails alone. A
 * failing part prints the equation, the item and node of the first wrong element, the
 * expected and the got value and a hint. Built with ASR_REAL=double; instructor mode
 * (-DASR_ASSIGNMENT_RNNT) leaves the student no RNN-T of asr.h's to call. */
#define _POSIX_C_SOURCE 200809L
#define ASR_IMPLEMENTATION
#include "../../../asr.h"
#include "../grading.h"
#include "rnnt_assignment.h"

#define TIME_LIMIT 10   /* seconds per part: the reference needs microseconds */
#define TOL 1e-9        /* absolute, on logs, losses and gradients: two correct double
                           implementations differ by ~1e-15 here (other summation orders) */

/* The reference data, read before any part runs. */
typedef struct refs {
  int N, T, U, V, U1;
  double *logits;                 /* (N,T,U+1,V) */
  int *targets, *tl, *il;         /* (N,U), (N), (N) */
  double *lblank, *llabel;        /* (N,T,U+1): ln blank(t,u), ln y(t,u), eqs. (13)-(15) */
  double *alpha, *beta;           /* (N,T,U+1) logs, eqs. (16), (18) */
  double *loss, *grad;            /* (N), (N,T,U+1,V) */
} refs;

static void read_refs(refs *r, const char *dir) {
  int64_t s[4];
  r->logits = (double *)grading_load(dir, "rnnt_logits.npy", ASR_DTYPE_F64, 4, s);
  r->N = (int)s[0], r->T = (int)s[1], r->U1 = (int)s[2], r->V = (int)s[3], r->U = r->U1 - 1;
  r->targets = (int *)grading_load(dir, "rnnt_targets.npy", ASR_DTYPE_I32, 2, s);
  r->il = (int *)grading_load(dir, "rnnt_logit_lengths.npy", ASR_DTYPE_I32, 1, s);
  r->tl = (int *)grading_load(dir, "rnnt_target_lengths.npy", ASR_DTYPE_I32, 1, s);
  r->lblank = (double *)grading_load(dir, "lattice/log_blank.npy", ASR_DTYPE_F64, 3, s);
  r->llabel = (double *)grading_load(dir, "lattice/log_label.npy", ASR_DTYPE_F64, 3, s);
  r->alpha = (double *)grading_load(dir, "lattice/alpha.npy", ASR_DTYPE_F64, 3, s);
  r->beta = (double *)grading_load(dir, "lattice/beta.npy", ASR_DTYPE_F64, 3, s);
  r->loss = (double *)grading_load(dir, "loss/loss.npy", ASR_DTYPE_F64, 1, s);
  r->grad = (double *)grading_load(dir, "loss/grad.npy", ASR_DTYPE_F64, 4, s);
}

/* Item n's logits as a student function takes them: (T_n, U_n+1, V), copied out of the
 * padded (T, U+1, V) block into an exact-size buffer (AddressSanitizer sees overruns). */
static double *item_logits(const refs *r, int n) {
  const int Tn = r->il[n], U1n = r->tl[n] + 1;
  double *z = (double *)malloc(sizeof(double) * ((size_t)Tn * U1n * r->V + 1));
  int t, u;
  for (t = 0; t < Tn; t++)
    for (u = 0; u < U1n; u++)
      memcpy(z + ((size_t)t * U1n + u) * r->V, r->logits + (((size_t)n * r->T + t) * r->U1 + u) * r->V,
             sizeof(double) * r->V);
  return z;
}

/* Item n's reference (T_n, U_n+1) block of a padded (N,T,U+1) array, in a new buffer. */
static double *item_nodes(const refs *r, const double *a, int n) {
  const int Tn = r->il[n], U1n = r->tl[n] + 1;
  double *o = (double *)malloc(sizeof(double) * ((size_t)Tn * U1n + 1));
  int t;
  for (t = 0; t < Tn; t++) memcpy(o + (size_t)t * U1n, a + ((size_t)n * r->T + t) * r->U1, sizeof(double) * U1n);
  return o;
}

static void part1(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  int n, bt, bu;
  for (n = 0; n < r->N; n++) {
    const int Tn = r->il[n], Un = r->tl[n], U1n = Un + 1, V = r->V;
    const int *y = r->targets + (size_t)n * r->U;
    double *z = item_logits(r, n), *lb = (double *)malloc(sizeof(double) * ((size_t)Tn * U1n + 1)),
           *ll = (double *)malloc(sizeof(double) * ((size_t)Tn * U1n + 1));
    double *wb = item_nodes(r, r->lblank, n), *wl = item_nodes(r, r->llabel, n);
    int ok = 1;
    rnnt_log_probs(lb, ll, z, y, Tn, Un, V, 0);
    if (!grading_compare(v, "ln blank(t,u)", "t", "u", lb, wb, Tn, U1n, U1n, n, TOL, &bt, &bu)) {
      const double *zz = z + ((size_t)bt * U1n + bu) * V;
      grading_hint(v, fabs(lb[(size_t)bt * U1n + bu] - zz[0]) < 1e-12
                          ? "that is the raw logit z[t][u][blank]: subtract ln sum_k exp z[t][u][k] (the softmax "
                            "of [Graves12] eq. (13))"
                          : "ln blank(t,u) = z[t][u][blank] - ln sum_k exp z[t][u][k] ([Graves12] eqs. (13), (15))");
      ok = 0;
    } else if (!grading_compare(v, "ln y(t,u)", "t", "u", ll, wl, Tn, U1n, U1n, n, TOL, &bt, &bu)) {
      double got = ll[(size_t)bt * U1n + bu], lse = asr_logsumexp(z + ((size_t)bt * U1n + bu) * V, V);
      const double *zz = z + ((size_t)bt * U1n + bu) * V;
      if (bu == Un)
        grading_hint(v, "there is no label U+1: ln y(t,U) = ln 0 = -INFINITY");
      else if (bu >= 1 && fabs(got - (zz[y[bu - 1]] - lse)) < 1e-12)
        grading_hint(v, "that is the probability of y_u: y(t,u) = Pr(y_{u+1}|t,u), the NEXT label, labels[u] "
                        "0-based ([Graves12] eq. (14))");
      else
        grading_hint(v, "ln y(t,u) = z[t][u][y_{u+1}] - ln sum_k exp z[t][u][k] ([Graves12] eqs. (13)-(14))");
      ok = 0;
    }
    free(z), free(lb), free(ll), free(wb), free(wl);
    if (!ok) return;
  }
  v->ok = 1;
}

/* The hint for the first wrong ln alpha(t,u) or ln beta(t,u), from where it is and what the
 * usual slips would have given there. lb, ll: the item's reference logs (T_n, U_n+1). */
static const char *lattice_hint(const double *lb, const double *ll, const double *a, int Tn, int Un, int t, int u,
                                int is_beta, double got) {
  const int U1 = Un + 1;
#define AT(arr, tt, uu) (arr)[(size_t)(tt) * U1 + (uu)]
  if (!is_beta) {
    if (t == 0 && u == 0) return "alpha(1,0) = 1: ln alpha is 0 at the first node ([Graves12] eq. (16))";
    if (u >= 1) {
      /* the label arrow taken with y(t,u) (the node's own) instead of y(t,u-1) */
      double slip = AT(a, t, u - 1) + AT(ll, t, u);
      if (t >= 1) slip = asr_logaddexp(AT(a, t - 1, u) + AT(lb, t - 1, u), slip);
      if (grading_same(got, slip, 1e-9))
        return "the label arrow into (t,u) leaves (t,u-1): it carries y(t,u-1) = Pr(y_u|t,u-1), not y(t,u)";
    }
    if (t == 0) return "on the first frame only label arrows arrive: alpha(1,u) = alpha(1,u-1) y(1,u-1)";
    if (u == 0) return "with no label emitted only blank arrows arrive: alpha(t,0) = alpha(t-1,0) blank(t-1,0)";
    return "alpha(t,u) = alpha(t-1,u) blank(t-1,u) + alpha(t,u-1) y(t,u-1) ([Graves12] eq. (16))";
  }
  if (t == Tn - 1 && u == Un) return "beta(T,U) = blank(T,U): the final blank ends every alignment ([Graves12] eq. (18))";
  if (u < Un) {
    double slip = AT(a, t, u + 1) + AT(ll, t, u + 1);
    if (t + 1 < Tn) slip = asr_logaddexp(AT(a, t + 1, u) + AT(lb, t, u), slip);
    if (grading_same(got, slip, 1e-9))
      return "the label arrow out of (t,u) carries y(t,u) = Pr(y_{u+1}|t,u), the node's own, not y(t,u+1)";
  }
  if (t == Tn - 1)
    return "on the last frame a blank leaves the lattice only from (T,U): beta(T,u) = beta(T,u+1) y(T,u) for u < U";
  if (u == Un) return "after the last label only blanks remain: beta(t,U) = beta(t+1,U) blank(t,U)";
  return "beta(t,u) = beta(t+1,u) blank(t,u) + beta(t,u+1) y(t,u) ([Graves12] eq. (18))";
#undef AT
}

static void part_lattice(const refs *r, grading_verdict *v, int is_beta) {
  int n, bt, bu;
  for (n = 0; n < r->N; n++) {
    const int Tn = r->il[n], Un = r->tl[n], U1n = Un + 1;
    double *lb = item_nodes(r, r->lblank, n), *ll = item_nodes(r, r->llabel, n);
    double *want = item_nodes(r, is_beta ? r->beta : r->alpha, n);
    double *a = (double *)malloc(sizeof(double) * ((size_t)Tn * U1n + 1));
    int ok;
    if (Tn == 0) {
      free(lb), free(ll), free(want), free(a);
      continue;
    }
    (is_beta ? rnnt_beta : rnnt_alpha)(a, lb, ll, Tn, Un);
    ok = grading_compare(v, is_beta ? "ln beta(t,u)" : "ln alpha(t,u)", "t", "u", a, want, Tn, U1n, U1n, n, TOL, &bt,
                         &bu);
    if (!ok) grading_hint(v, lattice_hint(lb, ll, a, Tn, Un, bt, bu, is_beta, a[(size_t)bt * U1n + bu]));
    free(lb), free(ll), free(want), free(a);
    if (!ok) return;
  }
  v->ok = 1;
}

static void part2(const void *ctx, grading_verdict *v) { part_lattice((const refs *)ctx, v, 0); }
static void part4(const void *ctx, grading_verdict *v) { part_lattice((const refs *)ctx, v, 1); }

static void part3(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  int n;
  for (n = 0; n < r->N; n++) {
    const int Tn = r->il[n], Un = r->tl[n];
    double *z = item_logits(r, n), loss;
    if (Tn == 0) {
      free(z);
      continue;
    }
    loss = rnnt_loss(z, r->targets + (size_t)n * r->U, Tn, Un, r->V, 0);
    free(z);
    if (!grading_same(loss, r->loss[n], TOL)) {
      const size_t last = ((size_t)n * r->T + Tn - 1) * r->U1 + Un;
      snprintf(v->msg, sizeof v->msg, "the loss -ln Pr(y*|x) of item %d: expected %.9g, got %.9g", n, r->loss[n], loss);
      grading_hint(v, fabs(loss - (-r->alpha[last])) < 1e-9
                          ? "that is -ln alpha(T,U): Pr(y*|x) = alpha(T,U) blank(T,U), the final blank included "
                            "([Graves12] eq. (17))"
                          : fabs(loss + r->loss[n]) < 1e-9 ? "the loss is MINUS ln Pr(y*|x)"
                                                            : "Pr(y*|x) = alpha(T,U) blank(T,U) ([Graves12] eq. (17))");
      return;
    }
  }
  v->ok = 1;
}

static void part5(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  int n, t, u, k;
  for (n = 0; n < r->N; n++) {
    const int Tn = r->il[n], Un = r->tl[n], U1n = Un + 1, V = r->V, *y = r->targets + (size_t)n * r->U;
    double *z = item_logits(r, n), *g = (double *)malloc(sizeof(double) * ((size_t)Tn * U1n * V + 1)), loss;
    if (Tn == 0) {
      free(z), free(g);
      continue;
    }
    loss = rnnt_loss_grad(g, z, y, Tn, Un, V, 0);
    if (!grading_same(loss, r->loss[n], TOL)) {
      snprintf(v->msg, sizeof v->msg, "the loss -ln Pr(y*|x) of item %d: expected %.9g, got %.9g ([Graves12] eq. (17))",
               n, r->loss[n], loss);
      free(z), free(g);
      return;
    }
    for (t = 0; t < Tn; t++)
      for (u = 0; u < U1n; u++)
        for (k = 0; k < V; k++) {
          const double got = g[((size_t)t * U1n + u) * V + k];
          const double want = r->grad[(((size_t)n * r->T + t) * r->U1 + u) * V + k];
          if (!grading_same(got, want, TOL)) {
            /* what the log-probability contract would give here: -e_k, without Pr(k|t,u) gamma */
            const size_t node = ((size_t)n * r->T + t) * r->U1 + u;
            const double lse = asr_logsumexp(z + ((size_t)t * U1n + u) * V, V);
            const double py = exp(z[((size_t)t * U1n + u) * V + k] - lse);
            const double gam = exp(r->alpha[node] + r->beta[node] + r->loss[n]);
            snprintf(v->msg, sizeof v->msg, "dL/dz at item %d, t=%d, u=%d, k=%d: expected %.6g, got %.6g", n, t, u, k,
                     want, got);
            grading_hint(v, fabs(got - (want - py * gam)) < 1e-9
                                ? "that is dL/d ln Pr(k|t,u) (eq. (20) times -Pr(k|t,u)/Pr(y*|x)); through the "
                                  "softmax (eq. (23)) every k also gets Pr(k|t,u) gamma(t,u), gamma = alpha beta / Pr"
                                : "dL/dz_k = Pr(k|t,u) gamma(t,u) - [k = blank] alpha(t,u) blank(t,u) beta(t+1,u) / Pr "
                                  "- [k = y_{u+1}] alpha(t,u) y(t,u) beta(t,u+1) / Pr ([Graves12] eqs. (20)-(23))");
            free(z), free(g);
            return;
          }
        }
    free(z), free(g);
  }
  v->ok = 1;
}

static const grading_part PARTS[] = {
  {part1, "ln blank(t,u) and ln y(t,u) from the joint's logits, eqs. (13)-(15)"},
  {part2, "forward variables alpha, eq. (16)"},
  {part3, "the loss -ln Pr(y*|x), eq. (17)"},
  {part4, "backward variables beta, eq. (18)"},
  {part5, "the gradient w.r.t. the logits, eqs. (20)-(23)"},
};
#define NPARTS (int)(sizeof PARTS / sizeof PARTS[0])

int main(int argc, char **argv) {
  refs r;
  if (argc != 2) {
    fprintf(stderr, "usage: grader REFDIR   (make grade A=rnnt STUDENT=path.c runs it)\n");
    return 2;
  }
  read_refs(&r, argv[1]);
  printf("RNN-T assignment: %d items, T <= %d, U <= %d, V = %d; tolerance %g\n", r.N, r.T, r.U, r.V, TOL);
  return grading_main(&r, PARTS, NPARTS, TIME_LIMIT);
}
