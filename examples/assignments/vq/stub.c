/* examples/assignments/vq/stub.c - the student's file of the vq assignment: fill in the
 * TODOs (handout: examples/assignments/vq/README.md), then
 *     make grade A=vq STUDENT=path/to/your.c          (DEBUG=1: under AddressSanitizer)
 * Your code must stand alone: the grader builds asr.h in instructor mode
 * (-DASR_ASSIGNMENT_VQ), where the library's quantizers are not there to call. */
#include <math.h>
#include "vq_assignment.h"

void gumbel_softmax(double *y, double *p, int *index, const double *logits, const double *u, double tau, int hard,
                    int n, int V) {
  /* TODO: per row, the noise v = -log(-log u), p = softmax((l + v) / tau) (subtract the
   * row's maximum before exp), index = argmax (l + v), y = p or one_hot(index) */
  (void)y, (void)p, (void)index, (void)logits, (void)u, (void)tau, (void)hard, (void)n, (void)V;
}

void gumbel_softmax_backward(double *grad_logits, const double *p, const double *grad_y, double tau, int n, int V) {
  /* TODO: dL/dl_k = (1/tau) p_k (g_k - sum_j g_j p_j), the same for the hard sample */
  (void)grad_logits, (void)p, (void)grad_y, (void)tau, (void)n, (void)V;
}

void vq_nearest(int *index, double *zq, const double *z, const double *codebook, int N, int D, int G, int K) {
  /* TODO: per vector and group, the codeword of smallest squared Euclidean distance */
  (void)index, (void)zq, (void)z, (void)codebook, (void)N, (void)D, (void)G, (void)K;
}

double vq_loss(double *codebook_term, double *commitment_term, const double *z, const double *codebook,
               const int *index, int N, int D, int G, int K, double gamma) {
  /* TODO: the two means of [Baevski20vq] eq. (3); return codebook + gamma * commitment */
  (void)codebook_term, (void)commitment_term, (void)z, (void)codebook, (void)index, (void)N, (void)D, (void)G,
      (void)K, (void)gamma;
  return 0;
}

void vq_backward(double *dz, double *dcodebook, const double *dzq, double dloss, const int *index, const double *z,
                 const double *codebook, int N, int D, int G, int K, double gamma) {
  /* TODO: straight-through dz = dzq plus the commitment term's gradient; the codebook
   * gradient from the codebook term only (sg(zq) in the commitment term) */
  (void)dz, (void)dcodebook, (void)dzq, (void)dloss, (void)index, (void)z, (void)codebook, (void)N, (void)D,
      (void)G, (void)K, (void)gamma;
}
