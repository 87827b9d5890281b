/* examples/assignments/vq/library.c - the vq assignment answered by asr.h itself: each
 * function hands its arguments to the library's (the grader must give it full marks; make
 * test checks that). Built with ASR_REAL=double, as the grader is.
 * With -DBREAK=k, part k carries a typical student bug instead (make test checks that the
 * grader fails that part with the expected message and passes the others):
 *   1 the temperature forgotten: p = softmax(l + v)
 *   2 the backward taken through the one-hot y instead of p (it is then 0 everywhere)
 *   3 the "nearest" codeword by the largest dot product <z, e_j>
 *   4 the loss terms averaged over the N vectors instead of the N*D elements
 *   5 the commitment term's gradient let into the codebook (sg(zq) forgotten) */
#include <stdlib.h>
#include <string.h>
#include "../../../asr.h"
#include "vq_assignment.h"
#ifndef BREAK
#define BREAK 0
#endif
#if !ASR_REAL_DOUBLE
#error "build with -DASR_REAL=double, as the grader"
#endif

void gumbel_softmax(double *y, double *p, int *index, const double *logits, const double *u, double tau, int hard,
                    int n, int V) {
  double *v = (double *)malloc(sizeof(double) * ((size_t)n * V + 1));
  asr_gumbel_noise_from_uniform(v, u, (size_t)n * V, NULL);   /* v = -log(-log u) */
  asr_gumbel_softmax_forward(y, p, index, logits, v, BREAK == 1 ? 1.0 : tau, hard, n, V);
  free(v);
}

void gumbel_softmax_backward(double *grad_logits, const double *p, const double *grad_y, double tau, int n, int V) {
  double *at = (double *)malloc(sizeof(double) * ((size_t)n * V + 1));
  int r, k;
  memcpy(at, p, sizeof(double) * (size_t)n * V);
  if (BREAK == 2)   /* the one-hot of each row's argmax where p belongs */
    for (r = 0; r < n; r++) {
      int best = 0;
      for (k = 1; k < V; k++)
        if (p[(size_t)r * V + k] > p[(size_t)r * V + best]) best = k;
      for (k = 0; k < V; k++) at[(size_t)r * V + k] = k == best;
    }
  memset(grad_logits, 0, sizeof(double) * (size_t)n * V);   /* the library accumulates */
  asr_gumbel_softmax_backward(grad_logits, at, grad_y, tau, n, V);
  free(at);
}

void vq_nearest(int *index, double *zq, const double *z, const double *codebook, int N, int D, int G, int K) {
  size_t wb = asr_vq_workspace_size(K);
  void *work = malloc(wb);
  int n, g, j, e, E = D / G;
  asr_vq_forward(index, zq, NULL, z, codebook, N, D, G, K, 0, ASR_VQ_GAMMA, work, wb);
  free(work);
  if (BREAK == 3)   /* argmax_j <z, e_j>: right only when every codeword has the same norm */
    for (n = 0; n < N; n++)
      for (g = 0; g < G; g++) {
        double best = -1e300;
        for (j = 0; j < K; j++) {
          double dot = 0;
          for (e = 0; e < E; e++) dot += z[(size_t)n * D + g * E + e] * codebook[((size_t)g * K + j) * E + e];
          if (dot > best) best = dot, index[(size_t)n * G + g] = j;
        }
        memcpy(zq + (size_t)n * D + g * E, codebook + ((size_t)g * K + index[(size_t)n * G + g]) * E,
               sizeof(double) * E);
      }
}

double vq_loss(double *codebook_term, double *commitment_term, const double *z, const double *codebook,
               const int *index, int N, int D, int G, int K, double gamma) {
  size_t wb = asr_vq_workspace_size(K);
  void *work = malloc(wb);
  int *idx = (int *)malloc(sizeof(int) * ((size_t)N * G + 1));
  asr_vq_loss l;
  (void)index;   /* the library finds the same nearest codewords itself */
  asr_vq_forward(idx, NULL, &l, z, codebook, N, D, G, K, 0, gamma, work, wb);
  free(work), free(idx);
  if (BREAK == 4) l.codebook *= D, l.commitment *= D, l.total *= D;   /* (1/N) sum_n ||z_n - zq_n||^2 */
  *codebook_term = l.codebook, *commitment_term = l.commitment;
  return l.total;
}

void vq_backward(double *dz, double *dcodebook, const double *dzq, double dloss, const int *index, const double *z,
                 const double *codebook, int N, int D, int G, int K, double gamma) {
  int n, g, e, E = D / G;
  memset(dz, 0, sizeof(double) * (size_t)N * D);   /* the library accumulates */
  memset(dcodebook, 0, sizeof(double) * (size_t)G * K * E);
  asr_vq_backward(dz, dcodebook, dzq, dloss, index, z, codebook, N, D, G, K, 0, gamma);
  if (BREAK == 5)   /* gamma ||z - zq||^2 differentiated w.r.t. the codeword too */
    for (n = 0; n < N; n++)
      for (g = 0; g < G; g++)
        for (e = 0; e < E; e++) {
          size_t c = ((size_t)g * K + index[(size_t)n * G + g]) * E + e;
          dcodebook[c] += dloss * gamma * 2 * (codebook[c] - z[(size_t)n * D + g * E + e]) / ((double)N * D);
        }
}
