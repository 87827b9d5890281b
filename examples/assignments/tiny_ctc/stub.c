/* examples/assignments/tiny_ctc/stub.c - the student's file of the tiny CTC assignment: fill
 * in the TODOs (handout: examples/assignments/tiny_ctc/README.md), then
 *     make grade A=tiny_ctc STUDENT=path/to/your.c      (DEBUG=1: under AddressSanitizer)
 * Build the model from asr.h's public layers (the grader links them in, ASR_REAL=double):
 * asr_conv1d_forward/_backward, asr_tanh_forward/_backward, asr_linear_forward/_backward,
 * asr_ctc_loss, asr_log_softmax, asr_ctc_greedy_decode, asr_adam_step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "asr.h"
#include "tiny_ctc_assignment.h"

double tiny_forward_loss(double *logits, const tiny_model *m, const double *feats, int T, const int *labels, int U) {
  /* TODO: x (T', TINY_I) is feats read in rows of 3 frames; transpose it to (TINY_I, T'),
   * asr_conv1d_forward (asr_conv1d_dims_init, padding TINY_K/2, its workspace), transpose
   * back to (T', TINY_H), tanh, asr_linear_forward into logits; then asr_ctc_loss (N = 1,
   * blank 0, ASR_REDUCTION_NONE) */
  (void)logits, (void)m, (void)feats, (void)T, (void)labels, (void)U;
  return 0;
}

double tiny_loss_grad(tiny_model *grad, const tiny_model *m, const double *feats, int T, const int *labels, int U) {
  /* TODO: the forward pass keeping x and h; asr_ctc_loss's gradient dL/dz; then back
   * through asr_linear_backward, asr_tanh_backward and asr_conv1d_backward (+= into grad) */
  (void)grad, (void)m, (void)feats, (void)T, (void)labels, (void)U;
  return 0;
}

void tiny_adam_step(tiny_model *model, tiny_model *m, tiny_model *v, const tiny_model *grad, long t, double lr) {
  /* TODO: every parameter: m = 0.9 m + 0.1 g, v = 0.999 v + 0.001 g^2, bias correction,
   * p -= lr m_hat / (sqrt(v_hat) + 1e-8) (asr_adam_step does it over TINY_PARAMS doubles) */
  (void)model, (void)m, (void)v, (void)grad, (void)t, (void)lr;
}

int tiny_greedy_decode(int *tokens, const tiny_model *m, const double *feats, int T) {
  /* TODO: the logits, the argmax per frame, then B: merge repeats, drop blanks */
  (void)tokens, (void)m, (void)feats, (void)T;
  return 0;
}

double tiny_train_step(tiny_model *model, tiny_model *m, tiny_model *v, long t, double lr, const double *const *feats,
                       const int *T, const int *const *labels, const int *U, int B) {
  /* TODO: a zeroed gradient, part 2 for every utterance of the batch, divide by B, part 3 */
  (void)model, (void)m, (void)v, (void)t, (void)lr, (void)feats, (void)T, (void)labels, (void)U, (void)B;
  return 0;
}
