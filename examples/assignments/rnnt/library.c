/* examples/assignments/rnnt/library.c - the RNN-T assignment answered by asr.h itself: each
 * function hands its arguments to the library's (the grader must give it full marks; make
 * test checks that). Built with ASR_REAL=double, as the grader is.
 * With -DBREAK=k, part k carries a typical student bug instead (make test checks that the
 * grader fails that part with the expected message and passes the others):
 *   1 no softmax: ln blank(t,u) = z[t][u][blank]
 *   2 the label arrow into (t,u) with y(t,u) instead of y(t,u-1)
 *   3 the loss without the final blank: -ln alpha(T,U)
 *   4 the label arrow out of (t,u) with y(t,u+1) instead of y(t,u)
 *   5 the log-probability gradient (two entries per node) given for the logits'
 *   6 a crash (NULL write) in part 3 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../../asr.h"
#include "rnnt_assignment.h"
#ifndef BREAK
#define BREAK 0
#endif
#if !ASR_REAL_DOUBLE
#error "build with -DASR_REAL=double, as the grader"
#endif

void rnnt_log_probs(double *log_blank, double *log_label, const double *logits, const int *labels, int T, int U,
                    int V, int blank) {
  int i;
  asr_rnnt_lattice(log_blank, log_label, NULL, logits, labels, T, U, U + 1, V, blank);
  if (BREAK == 1)
    for (i = 0; i < T * (U + 1); i++) log_blank[i] = logits[(size_t)i * V + blank];
}

void rnnt_alpha(double *log_alpha, const double *log_blank, const double *log_label, int T, int U) {
  int t, u;
  asr_rnnt_alpha(log_alpha, log_blank, log_label, T, U);
  if (BREAK == 2)   /* alpha(t,u) = alpha(t-1,u) blank(t-1,u) + alpha(t,u-1) y(t,u) */
    for (t = 0; t < T; t++)
      for (u = 1; u <= U; u++) {
        double *a = log_alpha + (size_t)t * (U + 1) + u, lab = a[-1] + log_label[(size_t)t * (U + 1) + u];
        *a = t ? asr_logaddexp(a[-(U + 1)] + log_blank[(size_t)(t - 1) * (U + 1) + u], lab) : lab;
      }
}

double rnnt_loss(const double *logits, const int *labels, int T, int U, int V, int blank) {
  size_t n = (size_t)T * (U + 1);
  double *lb = (double *)malloc(sizeof(double) * n), *ll = (double *)malloc(sizeof(double) * n),
         *la = (double *)malloc(sizeof(double) * n), lp;
  if (BREAK == 6) *(volatile int *)NULL = 0;
  asr_rnnt_lattice(lb, ll, NULL, logits, labels, T, U, U + 1, V, blank);
  lp = asr_rnnt_alpha(la, lb, ll, T, U);
  if (BREAK == 3) lp = la[n - 1];   /* ln alpha(T,U): the final blank forgotten */
  free(lb), free(ll), free(la);
  return -lp;
}

void rnnt_beta(double *log_beta, const double *log_blank, const double *log_label, int T, int U) {
  int t, u;
  asr_rnnt_beta(log_beta, log_blank, log_label, T, U);
  if (BREAK == 4)   /* beta(t,u) = beta(t+1,u) blank(t,u) + beta(t,u+1) y(t,u+1) */
    for (t = T - 1; t >= 0; t--)
      for (u = U - 1; u >= 0; u--) {
        double *b = log_beta + (size_t)t * (U + 1) + u, lab = b[1] + log_label[(size_t)t * (U + 1) + u + 1];
        *b = t + 1 < T ? asr_logaddexp(b[U + 1] + log_blank[(size_t)t * (U + 1) + u], lab) : lab;
      }
}

double rnnt_loss_grad(double *grad, const double *logits, const int *labels, int T, int U, int V, int blank) {
  asr_rnnt_opts o = asr_rnnt_default_opts();
  size_t wb = asr_rnnt_loss_workspace_size(T, U, V), n = (size_t)T * (U + 1) * V;
  void *work = malloc(wb);
  double *x = (double *)malloc(sizeof(double) * n);
  asr_real loss = 0;
  int t, u;
  o.blank = blank;
  o.reduction = ASR_REDUCTION_NONE;
  memcpy(x, logits, sizeof(double) * n);
  if (BREAK == 5) {   /* the log-probability contract's gradient given for the logits' */
    for (t = 0; t < T; t++)
      for (u = 0; u <= U; u++) asr_log_softmax(x + ((size_t)t * (U + 1) + u) * V, x + ((size_t)t * (U + 1) + u) * V, V);
    asr_rnnt_loss_logprobs_ref(&loss, grad, x, labels, &T, &U, 1, T, U, V, &o, work, wb, NULL);
  } else {
    asr_rnnt_loss_ref(&loss, grad, x, labels, &T, &U, 1, T, U, V, &o, work, wb, NULL);
  }
  free(work), free(x);
  return loss;
}
