/* tests/assignments/rnnt_solution.c - a stand-alone answer to the RNN-T assignment
 * (examples/assignments/rnnt/), written as a student would: no asr.h, only <math.h> and
 * <stdlib.h>. tests/assignments_check.py grades it in instructor mode (-DASR_ASSIGNMENT_RNNT),
 * where asr.h's section 6 is compiled out, and expects full marks: the grader accepts an
 * implementation it does not share code with. Kept out of the assignment's folder, which
 * is what students get. */
#include <math.h>
#include <stdlib.h>
#include "rnnt_assignment.h"

static double lae(double a, double b) {   /* ln(e^a + e^b) */
  double m = a > b ? a : b;
  if (m == -INFINITY) return -INFINITY;
  return m + log(exp(a - m) + exp(b - m));
}

void rnnt_log_probs(double *log_blank, double *log_label, const double *logits, const int *labels, int T, int U,
                    int V, int blank) {
  int t, u, k;
  for (t = 0; t < T; t++)
    for (u = 0; u <= U; u++) {
      const double *z = logits + ((size_t)t * (U + 1) + u) * V;
      double m = z[0], s = 0;
      for (k = 1; k < V; k++) m = z[k] > m ? z[k] : m;
      for (k = 0; k < V; k++) s += exp(z[k] - m);
      log_blank[t * (U + 1) + u] = z[blank] - m - log(s);
      log_label[t * (U + 1) + u] = u < U ? z[labels[u]] - m - log(s) : -INFINITY;
    }
}

void rnnt_alpha(double *log_alpha, const double *log_blank, const double *log_label, int T, int U) {
  int t, u, W = U + 1;
  for (t = 0; t < T; t++)
    for (u = 0; u <= U; u++) {
      double a = t == 0 && u == 0 ? 0 : -INFINITY;
      if (t > 0) a = lae(a, log_alpha[(t - 1) * W + u] + log_blank[(t - 1) * W + u]);
      if (u > 0) a = lae(a, log_alpha[t * W + u - 1] + log_label[t * W + u - 1]);
      log_alpha[t * W + u] = a;
    }
}

void rnnt_beta(double *log_beta, const double *log_blank, const double *log_label, int T, int U) {
  int t, u, W = U + 1;
  for (t = T - 1; t >= 0; t--)
    for (u = U; u >= 0; u--) {
      double b = t == T - 1 && u == U ? log_blank[t * W + u] : -INFINITY;
      if (t < T - 1) b = lae(b, log_beta[(t + 1) * W + u] + log_blank[t * W + u]);
      if (u < U) b = lae(b, log_beta[t * W + u + 1] + log_label[t * W + u]);
      log_beta[t * W + u] = b;
    }
}

double rnnt_loss_grad(double *grad, const double *logits, const int *labels, int T, int U, int V, int blank) {
  int t, u, k, W = U + 1;
  size_t n = (size_t)T * W;
  double *lb = malloc(sizeof(double) * n), *ll = malloc(sizeof(double) * n);
  double *la = malloc(sizeof(double) * n), *lbe = malloc(sizeof(double) * n), lp;
  rnnt_log_probs(lb, ll, logits, labels, T, U, V, blank);
  rnnt_alpha(la, lb, ll, T, U);
  rnnt_beta(lbe, lb, ll, T, U);
  lp = la[n - 1] + lb[n - 1];
  if (grad)
    for (t = 0; t < T; t++)
      for (u = 0; u <= U; u++) {
        const double *z = logits + ((size_t)t * W + u) * V;
        double *g = grad + ((size_t)t * W + u) * V, m = z[0], s = 0;
        double gam = exp(la[t * W + u] + lbe[t * W + u] - lp);
        double eb = exp(la[t * W + u] + lb[t * W + u] + (t < T - 1 ? lbe[(t + 1) * W + u] : u == U ? 0 : -INFINITY) - lp);
        double ey = u < U ? exp(la[t * W + u] + ll[t * W + u] + lbe[t * W + u + 1] - lp) : 0;
        for (k = 1; k < V; k++) m = z[k] > m ? z[k] : m;
        for (k = 0; k < V; k++) s += exp(z[k] - m);
        for (k = 0; k < V; k++) g[k] = exp(z[k] - m) / s * gam;   /* Pr(k|t,u) gamma(t,u) */
        g[blank] -= eb;
        if (u < U) g[labels[u]] -= ey;
      }
  free(lb), free(ll), free(la), free(lbe);
  return -lp;
}

double rnnt_loss(const double *logits, const int *labels, int T, int U, int V, int blank) {
  return rnnt_loss_grad(NULL, logits, labels, T, U, V, blank);
}
