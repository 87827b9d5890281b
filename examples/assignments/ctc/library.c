/* examples/assignments/ctc/library.c - the CTC assignment answered by asr.h itself: each
 * function hands its arguments to the library's (the grader must give it full marks; make
 * test checks that). Built with ASR_REAL=double, as the grader is.
 * With -DBREAK=k, part k carries a typical student bug instead (make test checks that the
 * grader fails that part with the expected message and passes the others):
 *   1 labels at even s      2 the skip taken onto a repeated label   3 beta without y^t
 *   4 gamma not divided by y^t_k   5 the log-probability gradient -gamma for the logits'
 *   6 repeats not merged    7 a crash (NULL write) in part 1    8 an endless loop in part 6
 *   9 a write one past log_alpha's end (caught under DEBUG=1, AddressSanitizer)
 *   10 the last frame pruned too: only the best `beam` final prefixes returned */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../../asr.h"
#include "ctc_assignment.h"
#ifndef BREAK
#define BREAK 0
#endif
#if !ASR_REAL_DOUBLE
#error "build with -DASR_REAL=double, as the grader"
#endif

int ctc_extended_labels(int *lprime, const int *target, int S, int blank) {
  int L = asr_ctc_extended_labels(lprime, target, S, blank), s;
  if (BREAK == 7) *(volatile int *)NULL = 0;
  if (BREAK == 1)
    for (s = 0; s < L; s++) lprime[s] = (s & 1) ? blank : s / 2 < S ? target[s / 2] : blank;
  return L;
}

int ctc_can_skip(const int *target, int S, int blank, int s) { return asr_ctc_can_skip(target, S, blank, s); }

void ctc_alpha(double *log_alpha, const double *logprobs, const int *target, int T, int V, int S, int blank) {
  double lp;
  int t, s, L = 2 * S + 1;
  asr_ctc_alpha_ref(log_alpha, &lp, logprobs, target, T, V, S, blank);
  if (BREAK == 9) log_alpha[(size_t)T * L] = 0;
  if (BREAK == 2)   /* the skip s-2 -> s onto every label, repeated or not */
    for (t = 1; t < T; t++)
      for (s = 3; s < L; s += 2) {
        double *a = log_alpha + (size_t)t * L, *p = a - L;
        a[s] = asr_logaddexp(asr_logaddexp(p[s], p[s - 1]), p[s - 2]) + logprobs[(size_t)t * V + target[s / 2]];
      }
}

void ctc_beta(double *log_beta, const double *logprobs, const int *target, int T, int V, int S, int blank) {
  double lp;
  int t, s, L = 2 * S + 1;
  asr_ctc_beta_ref(log_beta, &lp, logprobs, target, T, V, S, blank);
  if (BREAK == 3)   /* beta without frame t's emission */
    for (t = 0; t < T; t++)
      for (s = 0; s < L; s++) log_beta[(size_t)t * L + s] -= logprobs[(size_t)t * V + ((s & 1) ? target[s / 2] : blank)];
}

void ctc_posterior(double *post, const double *logprobs, const int *target, int T, int V, int S, int blank) {
  size_t wb = asr_ctc_lattice_workspace_size(1, T, V, S);
  void *work = malloc(wb);
  int k, t;
  asr_ctc_lattice_batch_ref(NULL, NULL, NULL, post, NULL, logprobs, asr_loss_input_make(ASR_INPUT_LOGPROBS, ASR_LAYOUT_BTV),
                            target, &T, &S, 1, T, V, S, blank, ASR_LATTICE_PROB, work, wb, NULL);
  free(work);
  if (BREAK == 4)   /* sum alpha beta / p, not divided by y^t_k */
    for (t = 0; t < T; t++)
      for (k = 0; k < V; k++) post[(size_t)t * V + k] *= exp(logprobs[(size_t)t * V + k]);
}

double ctc_loss_grad(double *grad, const double *logits, const int *target, int T, int V, int S, int blank) {
  size_t wb = asr_ctc_loss_workspace_size(T, V, S);
  void *work = malloc(wb);
  double *x = (double *)malloc(sizeof(double) * ((size_t)T * V + 1));
  asr_real loss = 0;
  int t;
  memcpy(x, logits, sizeof(double) * (size_t)T * V);
  memset(grad, 0, sizeof(double) * (size_t)T * V);
  if (BREAK == 5) {   /* the log-probability contract's gradient, -gamma, given for the logits' */
    for (t = 0; t < T; t++) asr_log_softmax(x + (size_t)t * V, x + (size_t)t * V, V);
    asr_ctc_loss_logprobs_ref(&loss, grad, x, target, &T, &S, 1, T, V, S, blank, ASR_REDUCTION_NONE, 0, work, wb, NULL);
  } else {
    asr_ctc_loss_ref(&loss, grad, x, target, &T, &S, 1, T, V, S, blank, ASR_REDUCTION_NONE, 0, work, wb, NULL);
  }
  free(work), free(x);
  return loss;
}

int ctc_greedy(int *tokens, const double *logprobs, int T, int V, int blank) {
  int n = 0, t, k;
  if (BREAK == 8)
    for (;;) n = n * 3 + 1;   /* never returns */
  if (BREAK == 6) {   /* argmax per frame, blanks dropped, repeats NOT merged */
    for (t = 0; t < T; t++) {
      int best = 0;
      for (k = 1; k < V; k++)
        if (logprobs[(size_t)t * V + k] > logprobs[(size_t)t * V + best]) best = k;
      if (best != blank) tokens[n++] = best;
    }
    return n;
  }
  asr_ctc_greedy_decode(tokens, &n, NULL, NULL, logprobs, T, V, blank);
  return n;
}

int ctc_beam_final(int *prefixes, int *lengths, double *scores, int max_out, const double *logprobs, int T, int V,
                   int blank, int beam) {
  asr_ctc_beam_opts o = asr_ctc_beam_opts_default(beam, blank);
  size_t wb = asr_ctc_beam_workspace_size(T, V, beam);
  void *work = malloc(wb);
  int n = 0;
  o.all_final = BREAK != 10;
  o.nbest = BREAK == 10 ? beam : max_out;
  asr_ctc_prefix_beam_search(prefixes, lengths, scores, &n, logprobs, T, V, &o, work, wb);
  free(work);
  return n;
}
