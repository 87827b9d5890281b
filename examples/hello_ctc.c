/* hello_ctc.c - the smallest program that uses asr.h: the CTC loss of one random
 * utterance in all three tiers, and its gradient (the example in README.md).
 *   cc -O2 examples/hello_ctc.c -lm && ./a.out          (or: make build/hello_ctc)
 * The numbers agree to rounding: _naive sums every one of the 5^6 = 15625 paths,
 * _ref runs the forward-backward recursions, asr_ctc_loss is the fast path. */
#define ASR_IMPLEMENTATION
#include "../asr.h"

#include <stdlib.h>

int main(void) {
  enum { T = 6, V = 5, S = 2 };
  asr_real logits[T * V], grad[T * V], loss[3];
  int targets[S] = {1, 2}, input_len = T, target_len = S, i;
  size_t bytes = asr_ctc_loss_workspace_size(T, V, S);
  void *work = malloc(bytes);
  asr_rng rng;
  asr_error err;
  asr_rng_seed(&rng, 42, 54);
  for (i = 0; i < T * V; i++) logits[i] = (asr_real)asr_rng_normal(&rng);
  /* loss = -ln p(l|x), l = "1 2", blank 0, over the 6 frames of 5 logits each */
  if (!work || asr_ctc_loss_naive(&loss[0], NULL, logits, targets, &input_len, &target_len, 1, T, V, S,
                                  0, ASR_REDUCTION_SUM, 0, work, bytes, &err) < 0 ||
      asr_ctc_loss_ref(&loss[1], NULL, logits, targets, &input_len, &target_len, 1, T, V, S, 0,
                       ASR_REDUCTION_SUM, 0, work, bytes, &err) < 0) {
    fprintf(stderr, "hello_ctc: %s\n", work ? err.msg : "out of memory");
    return 1;
  }
  for (i = 0; i < T * V; i++) grad[i] = 0; /* backward passes add into gradients */
  if (asr_ctc_loss(&loss[2], grad, logits, targets, &input_len, &target_len, 1, T, V, S, 0,
                   ASR_REDUCTION_SUM, 0, work, bytes, &err) < 0) {
    fprintf(stderr, "hello_ctc: %s\n", err.msg);
    return 1;
  }
  printf("CTC loss  naive %.6f  ref %.6f  fast %.6f\n", loss[0], loss[1], loss[2]);
  printf("d loss / d logits at frame 0: %+.4f %+.4f %+.4f %+.4f %+.4f\n", grad[0], grad[1],
         grad[2], grad[3], grad[4]);
  free(work);
  return 0;
}
