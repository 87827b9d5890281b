/* examples/assignments/fbank/fbank_assignment.h - the functions the fbank assignment asks for
 * (handout: examples/assignments/fbank/README.md): Kaldi's log-mel filterbank
 * (compute-fbank-feats, torchaudio.compliance.kaldi.fbank) without dither and without the
 * energy column. Every array is row-major, double; logs are natural. A signal is n samples
 * s[0..n-1] (Kaldi's scale: the 16-bit integer range); frame t is row t. */
#ifndef FBANK_ASSIGNMENT_H
#define FBANK_ASSIGNMENT_H

enum { FBANK_POVEY = 0, FBANK_HAMMING = 1 };

/* The options (Kaldi's names in comments); the sizes are in samples, already converted from
 * milliseconds (L = int(fs * 25 ms), M = int(fs * 10 ms) by default). */
typedef struct fbank_config {
  double fs;                 /* --sample-frequency, Hz */
  int L;                     /* window length (--frame-length in samples) */
  int M;                     /* window shift (--frame-shift in samples) */
  int N;                     /* FFT size: the smallest power of two >= L (--round-to-power-of-two) */
  int snip_edges;            /* --snip-edges: 1 frames inside the signal; 0 centred, mirrored */
  double preemph;            /* --preemphasis-coefficient p, in [0, 1] */
  int window;                /* --window-type: FBANK_POVEY or FBANK_HAMMING */
  int B;                     /* --num-mel-bins */
  double low_freq, high_freq;   /* --low-freq, --high-freq: the mel bank's edges in Hz, 0 <= low < high <= fs/2 */
} fbank_config;

/* Part 1: the number of frames of an n-sample signal:
 *   snip_edges = 1:  T = 0 if n < L, else 1 + (n - L) / M
 *   snip_edges = 0:  T = (n + M/2) / M                     (integer division) */
int fbank_num_frames(int n, const fbank_config *c);

/* Part 2: frame t of the signal, preprocessed, into frame (L):
 *   framing      x[j] = s[start_t + j],  start_t = t M (snip_edges = 1) or t M + M/2 - L/2
 *                (snip_edges = 0); outside 0..n-1 the signal is mirrored: s[-1] = s[0],
 *                s[-2] = s[1], s[n] = s[n-1], s[n+1] = s[n-2]
 *   DC offset    x[j] -= (1/L) sum_k x[k]
 *   pre-emphasis x[j] -= p x[j-1] for j = L-1 down to 1, then x[0] -= p x[0]
 *   window       x[j] *= w[j], a = 2 pi / (L - 1):
 *                  povey    w[j] = (0.5 - 0.5 cos(a j))^0.85
 *                  hamming  w[j] = 0.54 - 0.46 cos(a j) */
void fbank_frame(double *frame, const double *wave, int n, int t, const fbank_config *c);

/* Part 3: the power spectrum of a preprocessed frame (L), zero-padded to N samples:
 *   X[k] = sum_{j<L} x[j] exp(-2 pi i j k / N),   P[k] = |X[k]|^2,   k = 0..N/2
 * power (N/2 + 1). */
void fbank_power(double *power, const double *frame, const fbank_config *c);

/* Part 4: the mel filterbank W (B, N/2 + 1): Kaldi's mel scale mel(f) = 1127 ln(1 + f/700),
 * delta = (mel(high) - mel(low)) / (B + 1); bin m has l_m = mel(low) + m delta,
 * c_m = l_m + delta, r_m = l_m + 2 delta; with f_k = k fs / N and mk = mel(f_k):
 *   W[m][k] = (mk - l_m) / (c_m - l_m)   if l_m < mk <= c_m
 *             (r_m - mk) / (r_m - c_m)   if c_m < mk < r_m
 *             0                          otherwise, and always for k = N/2 */
void fbank_mel_banks(double *W, const fbank_config *c);

/* Part 5: one frame's log-mel energies (B) from its power spectrum (N/2 + 1) and W:
 *   e_m = sum_k W[m][k] P[k],   y_m = ln(max(e_m, eps)),   eps = FLT_EPSILON = 1.1920929e-07 */
void fbank_log_mel(double *logmel, const double *power, const double *W, const fbank_config *c);

/* Part 6: the whole filterbank: feats (T, B), T = fbank_num_frames(n, c); returns T. */
int fbank_compute(double *feats, const double *wave, int n, const fbank_config *c);

#endif
