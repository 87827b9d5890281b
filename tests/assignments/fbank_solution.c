/* tests/assignments/fbank_solution.c - a stand-alone answer to the fbank assignment
 * (examples/assignments/fbank/), written as a student would: no asr.h, only <math.h>,
 * <float.h> and <stdlib.h>, and a direct DFT. tests/assignments_check.py grades it in
 * instructor mode (-DASR_ASSIGNMENT_FBANK), where asr.h's filterbank is compiled out, and
 * expects full marks: the grader accepts an implementation it does not share code with.
 * Kept out of the assignment's folder, which is what students get. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include "fbank_assignment.h"

static const double PI = 3.14159265358979323846;

int fbank_num_frames(int n, const fbank_config *c) {
  if (c->snip_edges) return n < c->L ? 0 : 1 + (n - c->L) / c->M;
  return (n + c->M / 2) / c->M;
}

void fbank_frame(double *frame, const double *wave, int n, int t, const fbank_config *c) {
  int L = c->L, j;
  long start = c->snip_edges ? (long)t * c->M : (long)t * c->M + c->M / 2 - L / 2;
  double mean = 0, a = 2 * PI / (L - 1);
  for (j = 0; j < L; j++) {
    long s = start + j;
    while (s < 0 || s >= n) s = s < 0 ? -s - 1 : 2L * n - 1 - s;   /* the mirror */
    frame[j] = wave[s];
    mean += frame[j];
  }
  mean /= L;
  for (j = 0; j < L; j++) frame[j] -= mean;
  for (j = L - 1; j > 0; j--) frame[j] -= c->preemph * frame[j - 1];
  frame[0] -= c->preemph * frame[0];
  for (j = 0; j < L; j++) {
    double hann = 0.5 - 0.5 * cos(a * j);
    frame[j] *= c->window == FBANK_HAMMING ? 0.54 - 0.46 * cos(a * j) : pow(hann, 0.85);
  }
}

void fbank_power(double *power, const double *frame, const fbank_config *c) {
  int k, j;
  for (k = 0; k <= c->N / 2; k++) {
    double re = 0, im = 0;
    for (j = 0; j < c->L; j++) {
      double ph = 2 * PI * (double)((long)j * k % c->N) / c->N;   /* the angle reduced mod 2 pi */
      re += frame[j] * cos(ph);
      im -= frame[j] * sin(ph);
    }
    power[k] = re * re + im * im;
  }
}

static double mel(double f) { return 1127 * log(1 + f / 700); }

void fbank_mel_banks(double *W, const fbank_config *c) {
  int K = c->N / 2 + 1, m, k;
  double lo = mel(c->low_freq), delta = (mel(c->high_freq) - lo) / (c->B + 1);
  for (m = 0; m < c->B; m++) {
    double l = lo + m * delta, ce = l + delta, r = l + 2 * delta;
    for (k = 0; k < K; k++) {
      double mk = mel((double)k * c->fs / c->N), w = 0;
      if (k < K - 1) {
        if (mk > l && mk <= ce) w = (mk - l) / (ce - l);
        else if (mk > ce && mk < r) w = (r - mk) / (r - ce);
      }
      W[m * K + k] = w;
    }
  }
}

void fbank_log_mel(double *logmel, const double *power, const double *W, const fbank_config *c) {
  int K = c->N / 2 + 1, m, k;
  for (m = 0; m < c->B; m++) {
    double e = 0;
    for (k = 0; k < K; k++) e += W[m * K + k] * power[k];
    logmel[m] = log(e > FLT_EPSILON ? e : FLT_EPSILON);
  }
}

int fbank_compute(double *feats, const double *wave, int n, const fbank_config *c) {
  int T = fbank_num_frames(n, c), t;
  double *x = malloc(sizeof(double) * c->L), *P = malloc(sizeof(double) * (c->N / 2 + 1)),
         *W = malloc(sizeof(double) * c->B * (c->N / 2 + 1));
  fbank_mel_banks(W, c);
  for (t = 0; t < T; t++) {
    fbank_frame(x, wave, n, t, c);
    fbank_power(P, x, c);
    fbank_log_mel(feats + t * c->B, P, W, c);
  }
  free(x), free(P), free(W);
  return T;
}
