/* examples/assignments/conv_se/library.c - the conv_se assignment answered by asr.h itself:
 * each function hands its arguments to the library's (the grader must give it full marks;
 * make test checks that). Built with ASR_REAL=double, as the grader is.
 * With -DBREAK=k, part k carries a typical student bug instead (make test checks that the
 * grader fails that part with the expected message and passes the others):
 *   1 the depthwise taps without the dilation: x[c][t S + k - P]
 *   2 the pointwise weights read transposed: w[c][o] for w[o][c]
 *   3 the pointwise weight gradient written (=), not accumulated (+=)
 *   4 the depthwise weight gradient reads the padded frames s >= L (not 0 there)
 *   5 the SE mean over all T frames, the padding included
 *   6 the SE input gradient without the mean's share dxbar_c / L
 *   7 a crash (NULL write) in part 2 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../../asr.h"
#include "conv_se_assignment.h"
#ifndef BREAK
#define BREAK 0
#endif
#if !ASR_REAL_DOUBLE
#error "build with -DASR_REAL=double, as the grader"
#endif

void depthwise_conv1d(double *y, const double *x, const double *w, const double *b, int C, int T, int L, int K,
                      int stride, int padding, int dilation) {
  asr_depthwise_conv1d_forward(y, x, w, b, &L, 1, C, T, K, stride, padding, dilation);
  if (BREAK == 1) {   /* y[c][t] = b[c] + sum_k w[c][k] x[c][t S + k - P] */
    int c, t, k, Lo = asr_conv1d_out_frames(L, K, stride, padding, dilation);
    for (c = 0; c < C; c++)
      for (t = 0; t < Lo; t++) {
        double s = b[c];
        for (k = 0; k < K; k++) {
          int j = t * stride + k - padding;
          if (j >= 0 && j < L) s += w[c * K + k] * x[(size_t)c * T + j];
        }
        y[(size_t)c * asr_conv1d_out_frames(T, K, stride, padding, dilation) + t] = s;
      }
  }
}

void pointwise_conv1d(double *y, const double *x, const double *w, const double *b, int C_in, int C_out, int T,
                      int L) {
  if (BREAK == 7) *(volatile int *)NULL = 0;
  asr_pointwise_conv1d_forward(y, x, w, b, &L, 1, C_in, C_out, T);
  if (BREAK == 2) {   /* w read as (C_in, C_out): w[c C_out + o] (in bounds, C_in C_out entries) */
    int o, c, t;
    for (o = 0; o < C_out; o++)
      for (t = 0; t < L; t++) {
        double s = b[o];
        for (c = 0; c < C_in; c++) s += w[(size_t)c * C_out + o] * x[(size_t)c * T + t];
        y[(size_t)o * T + t] = s;
      }
  }
}

void pointwise_conv1d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                               const double *w, int C_in, int C_out, int T, int L) {
  if (BREAK == 3) {   /* dw = dy x^T: the caller's dw overwritten */
    memset(dw, 0, sizeof(double) * (size_t)C_in * C_out);
  }
  asr_pointwise_conv1d_backward(dx, dw, db, dy, x, w, &L, 1, C_in, C_out, T);
}

void depthwise_conv1d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                               const double *w, int C, int T, int L, int K, int stride, int padding, int dilation) {
  asr_depthwise_conv1d_backward(dx, dw, db, dy, x, w, &L, 1, C, T, K, stride, padding, dilation);
  if (BREAK == 4) {   /* dw[c][k] also gets dy[c][t] x[c][s] for the padded frames L <= s < T */
    int c, t, k, Lo = asr_conv1d_out_frames(L, K, stride, padding, dilation),
                 To = asr_conv1d_out_frames(T, K, stride, padding, dilation);
    for (c = 0; c < C; c++)
      for (t = 0; t < Lo; t++)
        for (k = 0; k < K; k++) {
          int s = t * stride + k * dilation - padding;
          if (s >= L && s < T) dw[c * K + k] += dy[(size_t)c * To + t] * x[(size_t)c * T + s];
        }
  }
}

/* asr_se_forward on one item; mean (C), z (R), gate (C) kept for the backward */
static void se_run(double *y, double *mean, double *z, double *gate, const double *x, const double *w1,
                   const double *b1, const double *w2, const double *b2, int C, int R, int T, int L) {
  size_t wb = asr_se_workspace_size(1, C, R);
  void *work = malloc(wb + 1);
  asr_se_forward(y, mean, z, gate, x, w1, b1, w2, b2, &L, 1, C, R, T, work, wb);
  free(work);
}

void se_forward(double *y, const double *x, const double *w1, const double *b1, const double *w2, const double *b2,
                int C, int R, int T, int L) {
  double *mean = (double *)malloc(sizeof(double) * C), *z = (double *)malloc(sizeof(double) * R),
         *gate = (double *)malloc(sizeof(double) * C);
  se_run(y, mean, z, gate, x, w1, b1, w2, b2, C, R, T, BREAK == 5 ? T : L);   /* 5: the mean over T */
  if (BREAK == 5) {   /* ... but the padded outputs still 0 */
    int c, t;
    for (c = 0; c < C; c++)
      for (t = L; t < T; t++) y[(size_t)c * T + t] = 0;
  }
  free(mean), free(z), free(gate);
}

void se_backward(double *dx, double *dw1, double *db1, double *dw2, double *db2, const double *dy, const double *x,
                 const double *w1, const double *b1, const double *w2, const double *b2, int C, int R, int T, int L) {
  double *y = (double *)malloc(sizeof(double) * (size_t)C * T), *mean = (double *)malloc(sizeof(double) * C),
         *z = (double *)malloc(sizeof(double) * R), *gate = (double *)malloc(sizeof(double) * C);
  size_t wb = asr_se_workspace_size(1, C, R);
  void *work = malloc(wb + 1);
  se_run(y, mean, z, gate, x, w1, b1, w2, b2, C, R, T, L);
  if (BREAK == 6) {   /* dx[c][t] += theta_c dy[c][t] only: the mean's share forgotten */
    int c, t;
    double *none = (double *)calloc((size_t)C * T, sizeof(double));
    asr_se_backward(none, dw1, db1, dw2, db2, dy, x, mean, z, gate, w1, w2, &L, 1, C, R, T, work, wb);
    for (c = 0; c < C; c++)
      for (t = 0; t < L; t++) dx[(size_t)c * T + t] += gate[c] * dy[(size_t)c * T + t];
    free(none);
  } else {
    asr_se_backward(dx, dw1, db1, dw2, db2, dy, x, mean, z, gate, w1, w2, &L, 1, C, R, T, work, wb);
  }
  free(y), free(mean), free(z), free(gate), free(work);
}
