/* examples/assignments/rnnt/stub.c - the student's file of the RNN-T assignment: fill in the
 * TODOs (handout: examples/assignments/rnnt/README.md), then
 *     make grade A=rnnt STUDENT=path/to/your.c          (DEBUG=1: under AddressSanitizer)
 * Your code must stand alone: the grader builds asr.h in instructor mode
 * (-DASR_ASSIGNMENT_RNNT), where the library's RNN-T functions are not there to call. */
#include <math.h>
#include "rnnt_assignment.h"

void rnnt_log_probs(double *log_blank, double *log_label, const double *logits, const int *labels, int T, int U,
                    int V, int blank) {
  /* TODO: per node (t,u), the log-softmax of z[t][u][.] at the blank and at labels[u]
   * (eqs. (13)-(15)); log_label[t][U] = -INFINITY */
  (void)log_blank, (void)log_label, (void)logits, (void)labels, (void)T, (void)U, (void)V, (void)blank;
}

void rnnt_alpha(double *log_alpha, const double *log_blank, const double *log_label, int T, int U) {
  /* TODO: ln alpha(1,0) = 0, then eq. (16) in log space (log-sum-exp) */
  (void)log_alpha, (void)log_blank, (void)log_label, (void)T, (void)U;
}

double rnnt_loss(const double *logits, const int *labels, int T, int U, int V, int blank) {
  /* TODO: parts 1 and 2, then eq. (17) */
  (void)logits, (void)labels, (void)T, (void)U, (void)V, (void)blank;
  return 0;
}

void rnnt_beta(double *log_beta, const double *log_blank, const double *log_label, int T, int U) {
  /* TODO: ln beta(T,U) = ln blank(T,U), then eq. (18) backwards */
  (void)log_beta, (void)log_blank, (void)log_label, (void)T, (void)U;
}

double rnnt_loss_grad(double *grad, const double *logits, const int *labels, int T, int U, int V, int blank) {
  /* TODO: alpha, beta, then eqs. (20)-(23) through the softmax */
  (void)grad, (void)logits, (void)labels, (void)T, (void)U, (void)V, (void)blank;
  return 0;
}
