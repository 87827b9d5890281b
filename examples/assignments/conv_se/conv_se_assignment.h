/* examples/assignments/conv_se/conv_se_assignment.h - the functions the conv_se assignment asks
 * for (handout: examples/assignments/conv_se/README.md). One item at a time, channels first:
 * an array (C, T) holds channel c's T frames in row c; every array is row-major, double. The
 * item has L <= T valid frames: frames t >= L are padding, whatever they hold (read them as
 * 0), and the outputs at padded frames are 0. Weights have PyTorch's shapes: the depthwise
 * conv's w (C, 1, K), the pointwise conv's w (C_out, C_in, 1), SE's fc1.weight (R, C) and
 * fc2.weight (C, R). The backward functions ACCUMULATE (+=) into every gradient they are
 * given, as asr.h's do: the caller zeroes them (or sums several contributions). */
#ifndef CONV_SE_ASSIGNMENT_H
#define CONV_SE_ASSIGNMENT_H

/* Part 1: the depthwise convolution (one filter per channel, [Howard17]), zero padding P,
 * dilation D, stride S:
 *   y[c][t] = b[c] + sum_{k<K} w[c][k] x[c][t S + k D - P]        x = 0 outside [0, L)
 * y (C, T_out), T_out = floor((T + 2P - D (K-1) - 1) / S) + 1; only the first
 * L_out = floor((L + 2P - D (K-1) - 1) / S) + 1 outputs are valid (0 when that is < 1), the
 * rest are 0. */
void depthwise_conv1d(double *y, const double *x, const double *w, const double *b, int C, int T, int L, int K,
                      int stride, int padding, int dilation);

/* Part 2: the pointwise convolution (kernel 1: a linear map of the channels per frame):
 *   y[o][t] = b[o] + sum_{c<C_in} w[o][c] x[c][t]      t < L;   y[o][t] = 0 for t >= L
 * x (C_in, T), y (C_out, T). */
void pointwise_conv1d(double *y, const double *x, const double *w, const double *b, int C_in, int C_out, int T,
                      int L);

/* Part 3: the pointwise convolution's backward, from dy (C_out, T) (dy at t >= L is ignored):
 *   dx[c][t] += sum_o w[o][c] dy[o][t],   dw[o][c] += sum_{t<L} dy[o][t] x[c][t],
 *   db[o] += sum_{t<L} dy[o][t]                                     (t < L) */
void pointwise_conv1d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                               const double *w, int C_in, int C_out, int T, int L);

/* Part 4: the depthwise convolution's backward, from dy (C, T_out) (dy at t >= L_out is
 * ignored): with s = t S + k D - P,
 *   dx[c][s] += w[c][k] dy[c][t],   dw[c][k] += dy[c][t] x[c][s],   db[c] += dy[c][t]
 * summed over the valid outputs t < L_out and the taps k with 0 <= s < L. */
void depthwise_conv1d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                               const double *w, int C, int T, int L, int K, int stride, int padding, int dilation);

/* Part 5: Squeeze-and-Excitation over time (ContextNet [Han20] sec. 2, after [Hu18]):
 *   xbar[c] = (1/L) sum_{t<L} x[c][t]                     the mean over the VALID frames
 *   z = W1 xbar + b1 (R),   theta = sigmoid(W2 swish(z) + b2) (C),   swish(z) = z sigmoid(z)
 *   y[c][t] = theta[c] x[c][t]   (t < L; 0 after)
 * x, y (C, T); w1 (R, C), b1 (R), w2 (C, R), b2 (C). */
void se_forward(double *y, const double *x, const double *w1, const double *b1, const double *w2, const double *b2,
                int C, int R, int T, int L);

/* Part 6: SE's backward, from dy (C, T): the gradients of part 5 w.r.t. x, w1, b1, w2, b2,
 * accumulated (+=); recompute what you need of the forward. */
void se_backward(double *dx, double *dw1, double *db1, double *dw2, double *db2, const double *dy, const double *x,
                 const double *w1, const double *b1, const double *w2, const double *b2, int C, int R, int T, int L);

#endif
