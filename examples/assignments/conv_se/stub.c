/* examples/assignments/conv_se/stub.c - the student's file of the conv_se assignment: fill in
 * the TODOs (handout: examples/assignments/conv_se/README.md), then
 *     make grade A=conv_se STUDENT=path/to/your.c       (DEBUG=1: under AddressSanitizer)
 * Your code must stand alone: the grader builds asr.h in instructor mode
 * (-DASR_ASSIGNMENT_CONV_SE), where the library's convolutions and SE are not there to call. */
#include <math.h>
#include "conv_se_assignment.h"

void depthwise_conv1d(double *y, const double *x, const double *w, const double *b, int C, int T, int L, int K,
                      int stride, int padding, int dilation) {
  /* TODO: T_out and L_out, then y[c][t] = b[c] + sum_k w[c][k] x[c][t S + k D - P] for t < L_out
   * (x read as 0 outside [0, L)), and 0 for L_out <= t < T_out */
  (void)y, (void)x, (void)w, (void)b, (void)C, (void)T, (void)L, (void)K, (void)stride, (void)padding,
      (void)dilation;
}

void pointwise_conv1d(double *y, const double *x, const double *w, const double *b, int C_in, int C_out, int T,
                      int L) {
  /* TODO: y[o][t] = b[o] + sum_c w[o][c] x[c][t] for t < L, 0 after */
  (void)y, (void)x, (void)w, (void)b, (void)C_in, (void)C_out, (void)T, (void)L;
}

void pointwise_conv1d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                               const double *w, int C_in, int C_out, int T, int L) {
  /* TODO: dx += W^T dy, dw += dy x^T, db += row sums of dy, over t < L; ADD (+=) */
  (void)dx, (void)dw, (void)db, (void)dy, (void)x, (void)w, (void)C_in, (void)C_out, (void)T, (void)L;
}

void depthwise_conv1d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                               const double *w, int C, int T, int L, int K, int stride, int padding, int dilation) {
  /* TODO: for every valid output t < L_out and tap k with 0 <= s = t S + k D - P < L:
   * dx[c][s] += w[c][k] dy[c][t], dw[c][k] += dy[c][t] x[c][s]; db[c] += dy[c][t] */
  (void)dx, (void)dw, (void)db, (void)dy, (void)x, (void)w, (void)C, (void)T, (void)L, (void)K, (void)stride,
      (void)padding, (void)dilation;
}

void se_forward(double *y, const double *x, const double *w1, const double *b1, const double *w2, const double *b2,
                int C, int R, int T, int L) {
  /* TODO: xbar over the L valid frames, z = W1 xbar + b1, theta = sigmoid(W2 swish(z) + b2),
   * y = theta x (t < L), 0 after */
  (void)y, (void)x, (void)w1, (void)b1, (void)w2, (void)b2, (void)C, (void)R, (void)T, (void)L;
}

void se_backward(double *dx, double *dw1, double *db1, double *dw2, double *db2, const double *dy, const double *x,
                 const double *w1, const double *b1, const double *w2, const double *b2, int C, int R, int T, int L) {
  /* TODO: the forward again, then dtheta, du, dW2, db2, dz, dW1, db1, dxbar, and dx (the
   * gate's share and the mean's share); ADD (+=) into every gradient */
  (void)dx, (void)dw1, (void)db1, (void)dw2, (void)db2, (void)dy, (void)x, (void)w1, (void)b1, (void)w2, (void)b2,
      (void)C, (void)R, (void)T, (void)L;
}
