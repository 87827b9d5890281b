/* tests/assignments/conv_se_solution.c - a stand-alone answer to the conv_se assignment
 * (examples/assignments/conv_se/), written as a student would: no asr.h, only <math.h> and
 * <stdlib.h>. tests/assignments_check.py grades it in instructor mode (-DASR_ASSIGNMENT_CONV_SE),
 * where asr.h's public convolutions and SE are compiled out, and expects full marks: the
 * grader accepts an implementation it does not share code with. Kept out of the
 * assignment's folder, which is what students get. */
#include <math.h>
#include <stdlib.h>
#include "conv_se_assignment.h"

static int out_frames(int T, int K, int S, int P, int D) {
  int span = T + 2 * P - D * (K - 1) - 1;
  return T < 1 || span < 0 ? 0 : span / S + 1;
}

void depthwise_conv1d(double *y, const double *x, const double *w, const double *b, int C, int T, int L, int K,
                      int stride, int padding, int dilation) {
  int To = out_frames(T, K, stride, padding, dilation), Lo = out_frames(L, K, stride, padding, dilation), c, t, k;
  for (c = 0; c < C; c++)
    for (t = 0; t < To; t++) {
      double s = 0;
      if (t < Lo) {
        s = b ? b[c] : 0;
        for (k = 0; k < K; k++) {
          int j = t * stride + k * dilation - padding;
          if (j >= 0 && j < L) s += w[c * K + k] * x[c * T + j];
        }
      }
      y[c * To + t] = s;
    }
}

void pointwise_conv1d(double *y, const double *x, const double *w, const double *b, int C_in, int C_out, int T,
                      int L) {
  int o, c, t;
  for (o = 0; o < C_out; o++)
    for (t = 0; t < T; t++) {
      double s = 0;
      if (t < L) {
        s = b ? b[o] : 0;
        for (c = 0; c < C_in; c++) s += w[o * C_in + c] * x[c * T + t];
      }
      y[o * T + t] = s;
    }
}

void pointwise_conv1d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                               const double *w, int C_in, int C_out, int T, int L) {
  int o, c, t;
  for (o = 0; o < C_out; o++)
    for (t = 0; t < L; t++) {
      double g = dy[o * T + t];
      db[o] += g;
      for (c = 0; c < C_in; c++) {
        dw[o * C_in + c] += g * x[c * T + t];
        dx[c * T + t] += w[o * C_in + c] * g;
      }
    }
}

void depthwise_conv1d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                               const double *w, int C, int T, int L, int K, int stride, int padding, int dilation) {
  int To = out_frames(T, K, stride, padding, dilation), Lo = out_frames(L, K, stride, padding, dilation), c, t, k;
  for (c = 0; c < C; c++)
    for (t = 0; t < Lo; t++) {
      double g = dy[c * To + t];
      db[c] += g;
      for (k = 0; k < K; k++) {
        int s = t * stride + k * dilation - padding;
        if (s < 0 || s >= L) continue;
        dx[c * T + s] += w[c * K + k] * g;
        dw[c * K + k] += g * x[c * T + s];
      }
    }
}

static double sigmoid(double z) { return 1 / (1 + exp(-z)); }

/* the forward's intermediates: xbar (C), z (R), theta (C) */
static void se_gate(double *xbar, double *z, double *theta, const double *x, const double *w1, const double *b1,
                    const double *w2, const double *b2, int C, int R, int T, int L) {
  int c, j, t;
  for (c = 0; c < C; c++) {
    double s = 0;
    for (t = 0; t < L; t++) s += x[c * T + t];
    xbar[c] = s / L;
  }
  for (j = 0; j < R; j++) {
    double s = b1 ? b1[j] : 0;
    for (c = 0; c < C; c++) s += w1[j * C + c] * xbar[c];
    z[j] = s;
  }
  for (c = 0; c < C; c++) {
    double u = b2 ? b2[c] : 0;
    for (j = 0; j < R; j++) u += w2[c * R + j] * z[j] * sigmoid(z[j]);
    theta[c] = sigmoid(u);
  }
}

void se_forward(double *y, const double *x, const double *w1, const double *b1, const double *w2, const double *b2,
                int C, int R, int T, int L) {
  double *xbar = malloc(sizeof(double) * C), *z = malloc(sizeof(double) * R), *theta = malloc(sizeof(double) * C);
  int c, t;
  se_gate(xbar, z, theta, x, w1, b1, w2, b2, C, R, T, L);
  for (c = 0; c < C; c++)
    for (t = 0; t < T; t++) y[c * T + t] = t < L ? theta[c] * x[c * T + t] : 0;
  free(xbar), free(z), free(theta);
}

void se_backward(double *dx, double *dw1, double *db1, double *dw2, double *db2, const double *dy, const double *x,
                 const double *w1, const double *b1, const double *w2, const double *b2, int C, int R, int T, int L) {
  double *xbar = malloc(sizeof(double) * C), *z = malloc(sizeof(double) * R), *theta = malloc(sizeof(double) * C);
  double *du = malloc(sizeof(double) * C), *dz = malloc(sizeof(double) * R);
  int c, j, t;
  se_gate(xbar, z, theta, x, w1, b1, w2, b2, C, R, T, L);
  for (c = 0; c < C; c++) {   /* dtheta_c = sum_t dy x;  du = dtheta theta (1 - theta) */
    double dth = 0;
    for (t = 0; t < L; t++) dth += dy[c * T + t] * x[c * T + t];
    du[c] = dth * theta[c] * (1 - theta[c]);
    db2[c] += du[c];
    for (j = 0; j < R; j++) dw2[c * R + j] += du[c] * z[j] * sigmoid(z[j]);
  }
  for (j = 0; j < R; j++) {   /* dz = (W2^T du) swish'(z), swish' = s + z s (1 - s) */
    double s = sigmoid(z[j]), g = 0;
    for (c = 0; c < C; c++) g += w2[c * R + j] * du[c];
    dz[j] = g * (s + z[j] * s * (1 - s));
    db1[j] += dz[j];
    for (c = 0; c < C; c++) dw1[j * C + c] += dz[j] * xbar[c];
  }
  for (c = 0; c < C; c++) {   /* dxbar = W1^T dz; dx = theta dy + dxbar / L */
    double dxbar = 0;
    for (j = 0; j < R; j++) dxbar += w1[j * C + c] * dz[j];
    for (t = 0; t < L; t++) dx[c * T + t] += theta[c] * dy[c * T + t] + dxbar / L;
  }
  free(xbar), free(z), free(theta), free(du), free(dz);
}
