/* examples/assignments/ctc/stub.c - the student's file of the CTC assignment: fill in the
 * TODOs (handout: examples/assignments/ctc/README.md), then
 *     make grade A=ctc STUDENT=path/to/your.c          (DEBUG=1: under AddressSanitizer)
 * Your code must stand alone: the grader builds asr.h in instructor mode
 * (-DASR_ASSIGNMENT_CTC), where the library's CTC functions are not there to call. */
#include <math.h>
#include "ctc_assignment.h"

int ctc_extended_labels(int *lprime, const int *target, int S, int blank) {
  /* TODO: blanks at even s, labels at odd s */
  (void)lprime, (void)target, (void)blank;
  return 2 * S + 1;
}

int ctc_can_skip(const int *target, int S, int blank, int s) {
  /* TODO: the third term of eq. (6) */
  (void)target, (void)S, (void)blank, (void)s;
  return 0;
}

void ctc_alpha(double *log_alpha, const double *logprobs, const int *target, int T, int V, int S,
               int blank) {
  /* TODO: initialisation, then eqs. (6)-(7) in log space (log-sum-exp) */
  (void)log_alpha, (void)logprobs, (void)target, (void)T, (void)V, (void)S, (void)blank;
}

void ctc_beta(double *log_beta, const double *logprobs, const int *target, int T, int V, int S,
              int blank) {
  /* TODO: initialisation at t = T-1, then eqs. (10)-(11) */
  (void)log_beta, (void)logprobs, (void)target, (void)T, (void)V, (void)S, (void)blank;
}

void ctc_posterior(double *post, const double *logprobs, const int *target, int T, int V, int S,
                   int blank) {
  /* TODO: alpha, beta, p(l|x), then gamma_t(k) */
  (void)post, (void)logprobs, (void)target, (void)T, (void)V, (void)S, (void)blank;
}

double ctc_loss_grad(double *grad, const double *logits, const int *target, int T, int V, int S,
                     int blank) {
  /* TODO: log-softmax, the posterior, eq. (16) */
  (void)grad, (void)logits, (void)target, (void)T, (void)V, (void)S, (void)blank;
  return 0;
}

int ctc_greedy(int *tokens, const double *logprobs, int T, int V, int blank) {
  /* TODO: argmax per frame, merge repeats, drop blanks */
  (void)tokens, (void)logprobs, (void)T, (void)V, (void)blank;
  return 0;
}

int ctc_beam_final(int *prefixes, int *lengths, double *scores, int max_out, const double *logprobs, int T, int V,
                   int blank, int beam) {
  /* TODO: p_b, p_nb per prefix; per frame: the blank, the repeat, the extensions; merge
   * equal prefixes; keep the best `beam` (not after the last frame); sort and write */
  (void)prefixes, (void)lengths, (void)scores, (void)max_out, (void)logprobs, (void)T, (void)V, (void)blank,
      (void)beam;
  return 0;
}
