/* examples/assignments/fbank/stub.c - the student's file of the fbank assignment: fill in the
 * TODOs (handout: examples/assignments/fbank/README.md), then
 *     make grade A=fbank STUDENT=path/to/your.c          (DEBUG=1: under AddressSanitizer)
 * Your code must stand alone: the grader builds asr.h in instructor mode
 * (-DASR_ASSIGNMENT_FBANK), where the library's filterbank is not there to call. */
#include <math.h>
#include "fbank_assignment.h"

int fbank_num_frames(int n, const fbank_config *c) {
  /* TODO: the two formulas of snip_edges */
  (void)n, (void)c;
  return 0;
}

void fbank_frame(double *frame, const double *wave, int n, int t, const fbank_config *c) {
  /* TODO: framing (mirrored at the ends), DC offset, pre-emphasis (backwards; x[0] -= p x[0]),
   * window */
  (void)frame, (void)wave, (void)n, (void)t, (void)c;
}

void fbank_power(double *power, const double *frame, const fbank_config *c) {
  /* TODO: |X[k]|^2 of the frame zero-padded to N, k = 0..N/2 (a direct DFT is fine here) */
  (void)power, (void)frame, (void)c;
}

void fbank_mel_banks(double *W, const fbank_config *c) {
  /* TODO: the B triangles on Kaldi's mel scale, over the FFT bins k = 0..N/2 (W[m][N/2] = 0) */
  (void)W, (void)c;
}

void fbank_log_mel(double *logmel, const double *power, const double *W, const fbank_config *c) {
  /* TODO: e = W P, then ln(max(e, FLT_EPSILON)) */
  (void)logmel, (void)power, (void)W, (void)c;
}

int fbank_compute(double *feats, const double *wave, int n, const fbank_config *c) {
  /* TODO: parts 1-5 for every frame */
  (void)feats, (void)wave, (void)n, (void)c;
  return 0;
}
