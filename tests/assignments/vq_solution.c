/* tests/assignments/vq_solution.c - a model answer of the vq assignment written from the
 * handout alone (examples/assignments/vq/README.md), without asr.h: tests/assignments_check.py
 * grades it in instructor mode (-DASR_ASSIGNMENT_VQ) under AddressSanitizer and expects full
 * marks. Kept out of the students' folder. */
#include <math.h>
#include <string.h>
#include "vq_assignment.h"

void gumbel_softmax(double *y, double *p, int *index, const double *logits, const double *u, double tau, int hard,
                    int n, int V) {
  int r, j;
  for (r = 0; r < n; r++) {
    const double *l = logits + (size_t)r * V, *ur = u + (size_t)r * V;
    double *pr = p + (size_t)r * V, *yr = y + (size_t)r * V, m = -INFINITY, sum = 0;
    int best = 0;
    for (j = 0; j < V; j++) {
      pr[j] = l[j] - log(-log(ur[j]));   /* l + v, v = -log(-log u) */
      if (pr[j] > pr[best]) best = j;
    }
    for (j = 0; j < V; j++) pr[j] /= tau, m = pr[j] > m ? pr[j] : m;
    for (j = 0; j < V; j++) pr[j] = exp(pr[j] - m), sum += pr[j];
    for (j = 0; j < V; j++) pr[j] /= sum;
    index[r] = best;
    for (j = 0; j < V; j++) yr[j] = hard ? (j == best) : pr[j];
  }
}

void gumbel_softmax_backward(double *grad_logits, const double *p, const double *grad_y, double tau, int n, int V) {
  int r, k;
  for (r = 0; r < n; r++) {
    const double *pr = p + (size_t)r * V, *g = grad_y + (size_t)r * V;
    double dot = 0;
    for (k = 0; k < V; k++) dot += g[k] * pr[k];
    for (k = 0; k < V; k++) grad_logits[(size_t)r * V + k] = pr[k] * (g[k] - dot) / tau;
  }
}

void vq_nearest(int *index, double *zq, const double *z, const double *codebook, int N, int D, int G, int K) {
  int n, g, j, e, E = D / G;
  for (n = 0; n < N; n++)
    for (g = 0; g < G; g++) {
      const double *zz = z + (size_t)n * D + g * E;
      double best = INFINITY;
      int bj = 0;
      for (j = 0; j < K; j++) {
        const double *c = codebook + ((size_t)g * K + j) * E;
        double d = 0;
        for (e = 0; e < E; e++) d += (zz[e] - c[e]) * (zz[e] - c[e]);
        if (d < best) best = d, bj = j;
      }
      index[n * G + g] = bj;
      memcpy(zq + (size_t)n * D + g * E, codebook + ((size_t)g * K + bj) * E, sizeof(double) * E);
    }
}

double vq_loss(double *codebook_term, double *commitment_term, const double *z, const double *codebook,
               const int *index, int N, int D, int G, int K, double gamma) {
  int n, g, e, E = D / G;
  double s = 0;
  for (n = 0; n < N; n++)
    for (g = 0; g < G; g++)
      for (e = 0; e < E; e++) {
        double d = z[(size_t)n * D + g * E + e] - codebook[((size_t)g * K + index[n * G + g]) * E + e];
        s += d * d;
      }
  *codebook_term = *commitment_term = s / ((double)N * D);   /* equal values, different gradients */
  return *codebook_term + gamma * *commitment_term;
}

void vq_backward(double *dz, double *dcodebook, const double *dzq, double dloss, const int *index, const double *z,
                 const double *codebook, int N, int D, int G, int K, double gamma) {
  int n, g, e, E = D / G;
  double c = 2 * dloss / ((double)N * D);
  memset(dcodebook, 0, sizeof(double) * (size_t)G * K * E);
  for (n = 0; n < N; n++)
    for (g = 0; g < G; g++)
      for (e = 0; e < E; e++) {
        size_t i = (size_t)n * D + g * E + e, k = ((size_t)g * K + index[n * G + g]) * E + e;
        dz[i] = dzq[i] + gamma * c * (z[i] - codebook[k]);
        dcodebook[k] += c * (codebook[k] - z[i]);
      }
}
