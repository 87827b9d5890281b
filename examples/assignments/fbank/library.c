/* examples/assignments/fbank/library.c - the fbank assignment answered by asr.h itself: each
 * function hands its arguments to the library's (the grader must give it full marks; make
 * test checks that). Built with ASR_REAL=double, as the grader is.
 * With -DBREAK=k, part k carries a typical student bug instead (make test checks that the
 * grader fails that part with the expected message and passes the others):
 *   1 snip_edges = 0 counted as snip_edges = 1: T = 1 + (n - L) / M
 *   2 the first sample not pre-emphasized (x[0] kept; Kaldi: x[0] -= p x[0])
 *   3 the magnitude |X[k]| for the power |X[k]|^2
 *   4 the triangles linear in Hz between mel-spaced edges (torchaudio.functional's
 *     melscale_fbanks, librosa), where Kaldi's are linear in mel
 *   5 log10 for the natural log
 *   6 no floor under the log in the whole filterbank: ln(0) = -inf on a silent frame
 *   7 a crash (NULL write) in part 3 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../../asr.h"
#include "fbank_assignment.h"
#ifndef BREAK
#define BREAK 0
#endif
#if !ASR_REAL_DOUBLE
#error "build with -DASR_REAL=double, as the grader"
#endif

/* asr.h's options for a configuration: no dither, no energy; lengths in ms that asr.h's
 * int(fs ms / 1000) turns back into L and M (the half sample absorbs rounding) */
static asr_fbank_opts opts_of(const fbank_config *c) {
  asr_fbank_opts o = asr_fbank_opts_default();
  o.sample_frequency = c->fs;
  o.frame_length = (c->L + 0.5) * 1000.0 / c->fs;
  o.frame_shift = (c->M + 0.5) * 1000.0 / c->fs;
  o.snip_edges = c->snip_edges;
  o.preemphasis_coefficient = c->preemph;
  o.window_type = c->window == FBANK_HAMMING ? ASR_WINDOW_HAMMING : ASR_WINDOW_POVEY;
  o.num_mel_bins = c->B;
  o.low_freq = c->low_freq;
  o.high_freq = c->high_freq;
  return o;
}

/* asr_fbank_stages of a signal: frames (T, L) and power (T, N/2 + 1), either may be NULL */
static void stages(double *frames, double *power, const double *wave, int n, const asr_fbank_opts *o) {
  size_t wb = asr_fbank_workspace_size(o);
  void *work = malloc(wb);
  asr_fbank_stages(frames, power, wave, n, o, NULL, work, wb, NULL);
  free(work);
}

int fbank_num_frames(int n, const fbank_config *c) {
  asr_fbank_opts o = opts_of(c);
  if (BREAK == 1) o.snip_edges = 1;
  return asr_fbank_num_frames(n, &o);
}

void fbank_frame(double *frame, const double *wave, int n, int t, const fbank_config *c) {
  asr_fbank_opts o = opts_of(c);
  int T = asr_fbank_num_frames(n, &o);
  double *all = (double *)malloc(sizeof(double) * ((size_t)T * c->L + 1));
  stages(all, NULL, wave, n, &o);
  memcpy(frame, all + (size_t)t * c->L, sizeof(double) * c->L);
  if (BREAK == 2) {   /* x[0] not pre-emphasized: the windowed x[0] / (1 - p) */
    double w0 = c->window == FBANK_HAMMING ? 0.54 - 0.46 : 0.0;   /* w[0]; povey: 0 hides x[0] */
    asr_fbank_opts dc = o;
    double *raw = (double *)malloc(sizeof(double) * ((size_t)T * c->L + 1));
    dc.preemphasis_coefficient = 0, dc.window_type = ASR_WINDOW_RECTANGULAR;   /* after the DC offset only */
    stages(raw, NULL, wave, n, &dc);
    frame[0] = raw[(size_t)t * c->L] * w0;
    free(raw);
  }
  free(all);
}

void fbank_power(double *power, const double *frame, const fbank_config *c) {
  /* the frame as a signal of one frame, through nothing but the FFT */
  asr_fbank_opts o = opts_of(c);
  int k;
  if (BREAK == 7) *(volatile int *)NULL = 0;
  o.snip_edges = 1, o.remove_dc_offset = 0, o.preemphasis_coefficient = 0, o.window_type = ASR_WINDOW_RECTANGULAR;
  stages(NULL, power, frame, c->L, &o);
  if (BREAK == 3)
    for (k = 0; k <= c->N / 2; k++) power[k] = sqrt(power[k]);
}

void fbank_mel_banks(double *W, const fbank_config *c) {
  asr_fbank_opts o = opts_of(c);
  asr_fbank_mel_banks(W, NULL, &o, NULL);
  if (BREAK == 4) {   /* the edges on the mel scale, but the triangles linear in Hz between them */
    const int K = c->N / 2 + 1;
    double lo = 1127 * log(1 + c->low_freq / 700), hi = 1127 * log(1 + c->high_freq / 700);
    double delta = (hi - lo) / (c->B + 1);
    int m, k;
    for (m = 0; m < c->B; m++) {
      double l = 700 * (exp((lo + m * delta) / 1127) - 1), ce = 700 * (exp((lo + (m + 1) * delta) / 1127) - 1),
             r = 700 * (exp((lo + (m + 2) * delta) / 1127) - 1);
      for (k = 0; k < K; k++) {
        double f = k * c->fs / c->N, w = 0;
        if (k < K - 1 && f > l && f <= ce) w = (f - l) / (ce - l);
        else if (k < K - 1 && f > ce && f < r) w = (r - f) / (r - ce);
        W[(size_t)m * K + k] = w;
      }
    }
  }
}

void fbank_log_mel(double *logmel, const double *power, const double *W, const fbank_config *c) {
  /* e = W P (asr_linear_forward: one row P of N/2 + 1 inputs, B outputs), then the log */
  int m;
  asr_linear_forward(logmel, power, W, NULL, 1, c->N / 2 + 1, c->B);
  for (m = 0; m < c->B; m++) {
    double e = logmel[m] > FLT_EPSILON ? logmel[m] : FLT_EPSILON;
    logmel[m] = BREAK == 5 ? log10(e) : log(e);
  }
}

int fbank_compute(double *feats, const double *wave, int n, const fbank_config *c) {
  asr_fbank_opts o = opts_of(c);
  size_t wb = asr_fbank_workspace_size(&o);
  void *work = malloc(wb);
  int T = asr_fbank_num_frames(n, &o), t;
  asr_fbank(feats, wave, n, &o, NULL, work, wb, NULL);
  free(work);
  if (BREAK == 6)   /* ln e_m without the floor: the silent frame's e_m = 0 gives -inf */
    for (t = 0; t < T * c->B; t++)
      if (feats[t] <= log(FLT_EPSILON) + 1e-12) feats[t] = -INFINITY;
  return T;
}
