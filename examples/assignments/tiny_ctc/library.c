/* examples/assignments/tiny_ctc/library.c - the tiny CTC assignment answered by asr.h's
 * layers (tiny_ref.h, the grader's reference): the grader must give it full marks; make
 * test checks that. Built with ASR_REAL=double, as the grader is.
 * With -DBREAK=k, part k carries a typical student bug instead (make test checks that the
 * grader fails that part with the expected message and passes the others):
 *   1 the log-softmax of the logits handed back as the logits
 *   2 the gradient written into grad instead of added
 *   3 Adam without the bias correction
 *   4 B dropping the blanks but not merging repeats
 *   5 the training step's gradient never zeroed: every step adds to the last one's
 *   6 a crash (NULL write) in part 1 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../../asr.h"
#include "tiny_ctc_assignment.h"
#include "tiny_ref.h"
#ifndef BREAK
#define BREAK 0   /* tiny_ref.h stops the build unless ASR_REAL=double */
#endif

double tiny_forward_loss(double *logits, const tiny_model *m, const double *feats, int T, const int *labels, int U) {
  double loss = tiny_ref_loss(logits, m, feats, T, labels, U);
  int t;
  if (BREAK == 6) *(volatile int *)NULL = 0;
  if (BREAK == 1)
    for (t = 0; t < TINY_FRAMES(T); t++) asr_log_softmax(logits + (size_t)t * TINY_V, logits + (size_t)t * TINY_V, TINY_V);
  return loss;
}

double tiny_loss_grad(tiny_model *grad, const tiny_model *m, const double *feats, int T, const int *labels, int U) {
  if (BREAK == 2) memset(grad, 0, sizeof *grad);   /* = instead of += */
  return tiny_ref_loss_grad(grad, m, feats, T, labels, U);
}

void tiny_adam_step(tiny_model *model, tiny_model *m, tiny_model *v, const tiny_model *grad, long t, double lr) {
  int i;
  if (BREAK != 3) {
    tiny_ref_adam_step(model, m, v, grad, t, lr);
    return;
  }
  for (i = 0; i < TINY_PARAMS; i++) {   /* no bias correction */
    double *p = (double *)model + i, *mi = (double *)m + i, *vi = (double *)v + i, g = ((const double *)grad)[i];
    *mi = 0.9 * *mi + 0.1 * g;
    *vi = 0.999 * *vi + 0.001 * g * g;
    *p -= lr * *mi / (sqrt(*vi) + 1e-8);
  }
}

int tiny_greedy_decode(int *tokens, const tiny_model *m, const double *feats, int T) {
  int n = tiny_ref_greedy(tokens, m, feats, T), t, k;
  if (BREAK == 4) {   /* the best path with its blanks dropped, repeats kept */
    tiny_ref_acts a;
    if (tiny_ref_forward(&a, m, feats, T)) return 0;
    for (n = 0, t = 0; t < a.Tp; t++) {
      int best = 0;
      for (k = 1; k < TINY_V; k++)
        if (a.z[(size_t)t * TINY_V + k] > a.z[(size_t)t * TINY_V + best]) best = k;
      if (best) tokens[n++] = best;
    }
    tiny_ref_free(&a);
  }
  return n;
}

double tiny_train_step(tiny_model *model, tiny_model *m, tiny_model *v, long t, double lr, const double *const *feats,
                       const int *T, const int *const *labels, const int *U, int B) {
  static tiny_model kept;   /* BREAK 5: the batch's gradients go on adding up over the steps */
  tiny_model *g;
  double loss = 0;
  int b, i;
  if (BREAK != 5) return tiny_ref_train_step(model, m, v, t, lr, feats, T, labels, U, B);
  g = (tiny_model *)calloc(1, sizeof(tiny_model));
  for (b = 0; b < B; b++) loss += tiny_ref_loss_grad(g, model, feats[b], T[b], labels[b], U[b]);
  for (i = 0; i < TINY_PARAMS; i++) ((double *)&kept)[i] += ((double *)g)[i] / B;
  tiny_ref_adam_step(model, m, v, &kept, t, lr);
  free(g);
  return loss / B;
}
