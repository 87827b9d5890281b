/* examples/assignments/fbank/grader.c - grades a student's Kaldi log-mel filterbank
 * (fbank_assignment.h) part by part.
 *
 *   build/assignments/fbank/graded-... REFDIR    (made and run by: make grade A=fbank STUDENT=...)
 *
 * REFDIR holds the inputs (data/course/fbank_wave*.npy) and the reference arrays that
 * examples/assignments/fbank/make_refs.sh made with asrtool fbank --stages (never typed by
 * hand), for the two configurations of CONFIGS (the options make_refs.sh passes). Parts 3
 * and 5 start from the reference frames, power spectra and mel banks, so a wrong part 2 or
 * 4 fails alone. Each part runs in a child process with a time limit
 * (examples/assignments/grading.h). A failing part prints the equation, the configuration,
 * frame and index of the first wrong element, the expected and the got value, and a hint
 * found by trying the usual slips on that input. Built with ASR_REAL=double; instructor
 * mode (-DASR_ASSIGNMENT_FBANK) leaves the student no fbank of asr.h's to call. */
#define _POSIX_C_SOURCE 200809L
#define ASR_IMPLEMENTATION
#include <float.h>
#include "../../../asr.h"
#include "../grading.h"
#include "fbank_assignment.h"

#define TIME_LIMIT 10   /* seconds per part: a direct DFT of every frame needs milliseconds */
#define TOL 1e-9        /* relative to the largest entry of the row compared (1 at least):
                           a direct DFT (Python, tests/assignments_check.py) and asr.h's FFT
                           differ by 2e-15 of it on P, 6e-16 on the features */
#define NCONF 2

typedef grading_verdict verdict;

/* The configurations of make_refs.sh: the defaults (povey), and hamming without snip_edges. */
static const fbank_config CONFIGS[NCONF] = {
  {16000, 400, 160, 512, 1, 0.97, FBANK_POVEY, 23, 20, 8000},
  {16000, 400, 160, 512, 0, 0.97, FBANK_HAMMING, 15, 64, 7000},
};
static const char *const NAMES[NCONF] = {"povey", "hamming"};

/* The reference data, read before any part runs. */
typedef struct refs {
  double *wave, *wave_short;
  int n, n_short;
  int T[NCONF], T_short[NCONF];           /* frames of the wave and of the short wave */
  double *feats[NCONF], *window[NCONF], *frames[NCONF], *power[NCONF], *banks[NCONF];
} refs;

static void read_refs(refs *r, const char *dir) {
  int64_t s[2];
  char name[64];
  int c;
  r->wave = (double *)grading_load(dir, "fbank_wave.npy", ASR_DTYPE_F64, 1, s);
  r->n = (int)s[0];
  r->wave_short = (double *)grading_load(dir, "fbank_wave_short.npy", ASR_DTYPE_F64, 1, s);
  r->n_short = (int)s[0];
  for (c = 0; c < NCONF; c++) {
#define LOAD(field, file, nd)                                                            \
  snprintf(name, sizeof name, "%s/%s", NAMES[c], file);                                  \
  r->field[c] = (double *)grading_load(dir, name, ASR_DTYPE_F64, nd, s)
    LOAD(feats, "feats.npy", 2);
    r->T[c] = (int)s[0];
    LOAD(window, "window.npy", 1);
    LOAD(frames, "frames.npy", 2);
    LOAD(power, "power.npy", 2);
    LOAD(banks, "mel_banks.npy", 2);
#undef LOAD
  }
  free(grading_load(dir, "short_snip.npy", ASR_DTYPE_F64, 2, s));
  r->T_short[0] = (int)s[0];
  free(grading_load(dir, "short_nosnip.npy", ASR_DTYPE_F64, 2, s));
  r->T_short[1] = (int)s[0];
}

/* Compares got with want, (rows, cols), each row with tolerance tol max(1, max |want row|);
 * on the first difference writes "WHAT of configuration NAME, R=r, C=c: expected E, got G"
 * and returns 0 with the place in *br, *bc. */
static int cmp(verdict *v, const char *what, int conf, const char *rn, const char *cn, const double *got,
               const double *want, int rows, int cols, double tol, int *br, int *bc) {
  int i, j;
  for (i = 0; i < rows; i++) {
    double scale = 1;
    for (j = 0; j < cols; j++) scale = fabs(want[(size_t)i * cols + j]) > scale ? fabs(want[(size_t)i * cols + j]) : scale;
    for (j = 0; j < cols; j++) {
      double g = got[(size_t)i * cols + j], w = want[(size_t)i * cols + j];
      if (!grading_same(g, w, tol * scale)) {
        if (rn)
          snprintf(v->msg, sizeof v->msg, "%s of configuration %s, %s=%d, %s=%d: expected %.9g, got %.9g", what,
                   NAMES[conf], rn, i, cn, j, w, g);
        else
          snprintf(v->msg, sizeof v->msg, "%s of configuration %s, %s=%d: expected %.9g, got %.9g", what, NAMES[conf],
                   cn, j, w, g);
        *br = i, *bc = j;
        return 0;
      }
    }
  }
  return 1;
}

/* 1 when every entry of a (n) is within tol max(1, max |b|) of b's */
static int same_row(const double *a, const double *b, int n, double tol) {
  double scale = 1;
  int j;
  for (j = 0; j < n; j++) scale = fabs(b[j]) > scale ? fabs(b[j]) : scale;
  for (j = 0; j < n; j++)
    if (!grading_same(a[j], b[j], tol * scale)) return 0;
  return 1;
}

static double *newbuf(size_t n) {   /* n doubles, NaN: an entry not written shows */
  double *o = (double *)malloc(sizeof(double) * n + 1);
  size_t i;
  for (i = 0; i < n; i++) o[i] = NAN;
  return o;
}
static double *copy(const double *a, size_t n) {
  double *o = (double *)malloc(sizeof(double) * n + 1);
  memcpy(o, a, sizeof(double) * n);
  return o;
}

/* ---- part 1 */
static void part1(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int c, w;
  for (c = 0; c < NCONF; c++)
    for (w = 0; w < 2; w++) {
      const fbank_config *f = &CONFIGS[c];
      const int n = w ? r->n_short : r->n, want = w ? r->T_short[c] : r->T[c], got = fbank_num_frames(n, f);
      const int snip = n < f->L ? 0 : 1 + (n - f->L) / f->M, centred = (n + f->M / 2) / f->M;
      if (got == want) continue;
      snprintf(v->msg, sizeof v->msg, "fbank_num_frames(n = %d) with snip_edges = %d (configuration %s): "
               "expected %d, got %d", n, f->snip_edges, NAMES[c], want, got);
      if (!f->snip_edges && got == snip)
        grading_hint(v, "that is the snip_edges = 1 count; without snip_edges the frames are centred on t M + M/2 "
                        "and T = (n + M/2) / M (Kaldi's NumFrames)");
      else if (f->snip_edges && got == centred)
        grading_hint(v, "that is the snip_edges = 0 count; with snip_edges only whole frames inside the signal "
                        "count: T = 1 + (n - L) / M");
      else if (f->snip_edges && got == snip - 1)
        grading_hint(v, "count the first frame too: T = 1 + (n - L) / M");
      else
        grading_hint(v, "T = 1 + (n - L) / M with snip_edges (0 if n < L), else (n + M/2) / M, integer division");
      return;
    }
  v->ok = 1;
}

/* ---- part 2: the grader's own preprocessing, with the usual slips as variants (hints only) */
enum { PRE_OK, PRE_FIRST, PRE_FORWARD, PRE_NO_DC, PRE_NO_PREEMPH, PRE_WINDOW_L, PRE_HANN, PRE_ZEROS, PRE_N };
static const char *const PRE_HINT[PRE_N] = {
  NULL,
  "pre-emphasis of the first sample: Kaldi takes x[-1] = x[0], so x[0] -= p x[0] (not kept as it is)",
  "pre-emphasis reads the original x[j-1]: run j from L-1 down to 1 (forwards, x[j-1] is already changed)",
  "remove the DC offset first: x[j] -= (1/L) sum_k x[k]",
  "pre-emphasis: x[j] -= p x[j-1] (j = L-1 down to 1), x[0] -= p x[0]",
  "the window's period is L - 1: a = 2 pi / (L - 1), not 2 pi / L",
  "the povey window is the Hann window to the power 0.85: w[j] = (0.5 - 0.5 cos(a j))^0.85",
  "outside the signal Kaldi mirrors it (s[-1] = s[0], s[-2] = s[1], s[n] = s[n-1]), it does not pad zeros",
};

static void pre_frame(double *x, const double *wave, int n, int t, const fbank_config *f, int variant) {
  const int L = f->L, M = f->M;
  const long start = f->snip_edges ? (long)t * M : (long)t * M + M / 2 - L / 2;
  const double a = 2 * 3.14159265358979323846 / (variant == PRE_WINDOW_L ? L : L - 1);
  double mean = 0;
  int j;
  for (j = 0; j < L; j++) {
    long s = start + j;
    if (variant == PRE_ZEROS && (s < 0 || s >= n)) {
      x[j] = 0;
      continue;
    }
    while (s < 0 || s >= n) s = s < 0 ? -s - 1 : 2 * (long)n - 1 - s;
    x[j] = wave[s];
  }
  for (j = 0; j < L; j++) mean += x[j];
  if (variant != PRE_NO_DC)
    for (j = 0; j < L; j++) x[j] -= mean / L;
  if (variant == PRE_FORWARD) {
    for (j = 1; j < L; j++) x[j] -= f->preemph * x[j - 1];
    x[0] -= f->preemph * x[0];
  } else if (variant != PRE_NO_PREEMPH) {
    for (j = L - 1; j > 0; j--) x[j] -= f->preemph * x[j - 1];
    if (variant != PRE_FIRST) x[0] -= f->preemph * x[0];
  }
  for (j = 0; j < L; j++) {
    double hann = 0.5 - 0.5 * cos(a * j);
    x[j] *= f->window == FBANK_HAMMING ? 0.54 - 0.46 * cos(a * j) : variant == PRE_HANN ? hann : pow(hann, 0.85);
  }
}

static void part2(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int c, t, bt, bj, k;
  for (c = 0; c < NCONF; c++) {
    const fbank_config *f = &CONFIGS[c];
    double *wave = copy(r->wave, (size_t)r->n), *x = newbuf((size_t)f->L), *slip = newbuf((size_t)f->L);
    for (t = 0; t < r->T[c]; t++) {
      const double *want = r->frames[c] + (size_t)t * f->L;
      fbank_frame(x, wave, r->n, t, f);
      if (!cmp(v, "frame x[j]", c, NULL, "j", x, want, 1, f->L, TOL, &bt, &bj)) {
        const char *hint = "framing, DC offset, pre-emphasis (j = L-1 down to 1, then x[0] -= p x[0]), window";
        size_t m = strlen(v->msg);
        snprintf(v->msg + m, sizeof v->msg - m, " (frame t=%d)", t);
        for (k = 1; k < PRE_N; k++) {
          if (k == PRE_HANN && f->window != FBANK_POVEY) continue;
          pre_frame(slip, r->wave, r->n, t, f, k);
          if (same_row(x, slip, f->L, TOL)) {
            hint = PRE_HINT[k];
            break;
          }
        }
        grading_hint(v, hint);
        free(wave), free(x), free(slip);
        return;
      }
    }
    free(wave), free(x), free(slip);
  }
  v->ok = 1;
}

/* ---- part 3 */
static void part3(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int c, t, bt, bk;
  for (c = 0; c < NCONF; c++) {
    const fbank_config *f = &CONFIGS[c];
    const int K = f->N / 2 + 1;
    double *P = newbuf((size_t)K);
    for (t = 0; t < r->T[c]; t++) {
      double *x = copy(r->frames[c] + (size_t)t * f->L, (size_t)f->L);
      const double *want = r->power[c] + (size_t)t * K;
      fbank_power(P, x, f);
      free(x);
      if (!cmp(v, "P[k]", c, NULL, "k", P, want, 1, K, TOL, &bt, &bk)) {
        size_t m = strlen(v->msg);
        double sq[1024];
        int k, mag = K <= 1024;
        for (k = 0; k < K && mag; k++) sq[k] = sqrt(want[k]);
        mag = mag && same_row(P, sq, K, TOL);
        snprintf(v->msg + m, sizeof v->msg - m, " (frame t=%d)", t);
        grading_hint(v, mag ? "that is the magnitude |X[k]|: the power spectrum is |X[k]|^2"
                            : "X[k] = sum_{j<L} x[j] exp(-2 pi i j k / N) (the frame zero-padded to N samples), "
                              "P[k] = |X[k]|^2 for k = 0..N/2");
        free(P);
        return;
      }
    }
    free(P);
  }
  v->ok = 1;
}

/* ---- part 4: the grader's own banks with the usual slips (hints only). The mel scale's
 * constant is not among them: W is a ratio of mel differences, the same for any c in
 * c ln(1 + f/700) (HTK's 2595 log10 included); nor is the Nyquist bin, which no triangle
 * reaches while high_freq <= fs/2 (mel(fs/2) >= r_m). */
enum { BANK_HZ_TRIANGLES = 1, BANK_HZ_EDGES, BANK_N };
static double mel_of(double f) { return 1127 * log(1 + f / 700); }
static double hz_of(double m) { return 700 * (exp(m / 1127) - 1); }
static void bank_slip(double *W, const fbank_config *f, int variant) {
  const int K = f->N / 2 + 1;
  const double lo = variant == BANK_HZ_EDGES ? f->low_freq : mel_of(f->low_freq);
  const double delta = ((variant == BANK_HZ_EDGES ? f->high_freq : mel_of(f->high_freq)) - lo) / (f->B + 1);
  int m, k;
  for (m = 0; m < f->B; m++)
    for (k = 0; k < K; k++) {
      double l = lo + m * delta, ce = l + delta, ri = l + 2 * delta, mk = mel_of(k * f->fs / f->N), w = 0;
      if (variant == BANK_HZ_TRIANGLES) l = hz_of(l), ce = hz_of(ce), ri = hz_of(ri), mk = k * f->fs / f->N;
      if (variant == BANK_HZ_EDGES) mk = k * f->fs / f->N;
      if (k == K - 1) w = 0;
      else if (mk > l && mk <= ce) w = (mk - l) / (ce - l);
      else if (mk > ce && mk < ri) w = (ri - mk) / (ri - ce);
      W[(size_t)m * K + k] = w;
    }
}

static void part4(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  static const char *const hints[BANK_N] = {
    NULL,
    "Kaldi's triangles are linear in mel, not in Hz: weigh FFT bin k by its own mel(k fs / N) = 1127 ln(1 + "
    "(k fs / N) / 700) between the mel edges (torchaudio.functional.melscale_fbanks and librosa interpolate in Hz)",
    "space the B + 2 edges evenly on the mel scale mel(f) = 1127 ln(1 + f/700), not in Hz",
  };
  int c, bm, bk, k;
  for (c = 0; c < NCONF; c++) {
    const fbank_config *f = &CONFIGS[c];
    const int K = f->N / 2 + 1;
    double *W = newbuf((size_t)f->B * K), *slip = newbuf((size_t)f->B * K);
    fbank_mel_banks(W, f);
    if (!cmp(v, "W[m][k]", c, "m", "k", W, r->banks[c], f->B, K, TOL, &bm, &bk)) {
      const char *hint = "W[m][k] = (mel_k - l_m) / (c_m - l_m) on the rising edge, (r_m - mel_k) / (r_m - c_m) on "
                         "the falling one, mel_k = 1127 ln(1 + (k fs / N) / 700), delta = (mel(high) - mel(low)) / "
                         "(B + 1)";
      for (k = 1; k < BANK_N; k++) {
        bank_slip(slip, f, k);
        if (same_row(W, slip, f->B * K, TOL)) {
          hint = hints[k];
          break;
        }
      }
      grading_hint(v, hint);
      free(W), free(slip);
      return;
    }
    free(W), free(slip);
  }
  v->ok = 1;
}

/* ---- parts 5 and 6: the log-mel energies */
static const char *log_hint(double got, double want) {
  if (want <= log(FLT_EPSILON) + 1e-9 && !(got >= log(FLT_EPSILON) - 1e-9))
    return "floor the energy under the log: y_m = ln(max(e_m, FLT_EPSILON)), e_m = 0 on a silent frame";
  if (fabs(want) > 1e-6 && grading_same(got, want / log(10.0), 1e-9 * fabs(want)))
    return "that is log10: the filterbank's log is the natural log";
  return "y_m = ln(max(e_m, FLT_EPSILON)), e_m = sum_k W[m][k] P[k]";
}

static void part5(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int c, t, bt, bm;
  for (c = 0; c < NCONF; c++) {
    const fbank_config *f = &CONFIGS[c];
    const int K = f->N / 2 + 1;
    double *W = copy(r->banks[c], (size_t)f->B * K), *y = newbuf((size_t)f->B);
    for (t = 0; t < r->T[c]; t++) {
      double *P = copy(r->power[c] + (size_t)t * K, (size_t)K);
      const double *want = r->feats[c] + (size_t)t * f->B;
      fbank_log_mel(y, P, W, f);
      free(P);
      if (!cmp(v, "y_m", c, NULL, "m", y, want, 1, f->B, TOL, &bt, &bm)) {
        size_t m = strlen(v->msg);
        snprintf(v->msg + m, sizeof v->msg - m, " (frame t=%d)", t);
        grading_hint(v, log_hint(y[bm], want[bm]));
        free(W), free(y);
        return;
      }
    }
    free(W), free(y);
  }
  v->ok = 1;
}

static void part6(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int c, bt, bm;
  for (c = 0; c < NCONF; c++) {
    const fbank_config *f = &CONFIGS[c];
    double *wave = copy(r->wave, (size_t)r->n), *y = newbuf((size_t)r->T[c] * f->B + 1);
    int T = fbank_compute(y, wave, r->n, f);
    if (T != r->T[c]) {
      snprintf(v->msg, sizeof v->msg, "fbank_compute of configuration %s returned T = %d frames, expected %d: "
               "T = fbank_num_frames(n) (part 1)", NAMES[c], T, r->T[c]);
      free(wave), free(y);
      return;
    }
    if (!cmp(v, "feats[t][m]", c, "t", "m", y, r->feats[c], T, f->B, TOL, &bt, &bm)) {
      const double got = y[(size_t)bt * f->B + bm], want = r->feats[c][(size_t)bt * f->B + bm];
      const char *h = log_hint(got, want);
      grading_hint(v, strncmp(h, "y_m =", 5) ? h : "feats[t] = part 5 of part 3 of part 2's frame t, with part 4's W");
      free(wave), free(y);
      return;
    }
    free(wave), free(y);
  }
  v->ok = 1;
}

static const grading_part PARTS[] = {
  {part1, "the number of frames, with and without snip_edges"},
  {part2, "a frame: framing, DC offset, pre-emphasis, window"},
  {part3, "the power spectrum |X[k]|^2"},
  {part4, "the mel filterbank on Kaldi's mel scale"},
  {part5, "the log-mel energies ln(max(W P, eps))"},
  {part6, "the whole filterbank"},
};
#define NPARTS (int)(sizeof PARTS / sizeof PARTS[0])

int main(int argc, char **argv) {
  refs r;
  if (argc != 2) {
    fprintf(stderr, "usage: grader REFDIR   (make grade A=fbank STUDENT=path.c runs it)\n");
    return 2;
  }
  (void)grading_compare;   /* the shared per-item compare: this grader's rows are per configuration */
  read_refs(&r, argv[1]);
  printf("fbank assignment: %d samples at 16 kHz; configurations %s (T = %d, %d bins) and %s (T = %d, %d bins); "
         "tolerance %g of each row's largest entry\n", r.n, NAMES[0], r.T[0], CONFIGS[0].B, NAMES[1], r.T[1],
         CONFIGS[1].B, TOL);
  return grading_main(&r, PARTS, NPARTS, TIME_LIMIT);
}
