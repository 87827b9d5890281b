/* tests/test_fbank.c - section 3: Kaldi fbank (naive / ref / fast against each other, against
 * Kaldi's own compute-fbank-feats output and against HTK), frame counts, option checks,
 * mel banks, windows, CMVN and SpecAugment. */

/* A buffer of the workspace size the options need (freed by the caller). */
static void *fb_work(const asr_fbank_opts *o, size_t *bytes) {
  *bytes = asr_fbank_workspace_size(o);
  return talloc_(*bytes);
}

/* Runs one tier on x (n) and returns the (T, dim) output (calloc'ed) and T. */
static asr_real *fb_run(asr_fbank_fn fn, const asr_fbank_opts *o, const asr_real *x, int n, int *T,
                        asr_result *res) {
  size_t wb;
  void *w = fb_work(o, &wb);
  asr_error err;
  asr_real *y;
  *T = asr_fbank_num_frames(n, o);
  y = TALLOC(asr_real, (size_t)(*T > 0 ? *T : 1) * (size_t)asr_fbank_dim(o));
  *res = fn(y, x, n, o, NULL, w, wb, &err);
  free(w);
  return y;
}

/* ---- Kaldi text archives (ark,t): "utt-id  [\n  v v v\n  v v v ]" -> rows x cols floats */
static asr_real *read_ark_text(const char *path, int *rows, int *cols) {
  FILE *fp = fopen(path, "r");
  char word[64];
  int r = 0, c = 0, cur = 0, in = 0, ch;
  size_t cap = 1 << 16, n = 0;
  asr_real *v;
  *rows = *cols = 0;
  if (!fp) return NULL;
  v = TALLOC(asr_real, cap);
  while ((ch = fgetc(fp)) != EOF) {
    if (ch == '[') { in = 1; continue; }
    if (!in) continue;
    if (ch == ']' || ch == '\n') {
      if (cur) {
        if (c == 0) c = cur;
        if (cur != c) { fclose(fp); free(v); return NULL; }
        r++;
        cur = 0;
      }
      if (ch == ']') break;
      continue;
    }
    if (ch == ' ' || ch == '\t' || ch == '\r') continue;
    {
      int k = 0;
      word[k++] = (char)ch;
      while ((ch = fgetc(fp)) != EOF && ch != ' ' && ch != '\n' && ch != ']' && k < 63) word[k++] = (char)ch;
      word[k] = 0;
      if (n == cap) {
        asr_real *nv = TALLOC(asr_real, cap * 2);
        memcpy(nv, v, sizeof(asr_real) * cap);
        free(v);
        v = nv;
        cap *= 2;
      }
      v[n++] = (asr_real)strtod(word, NULL);
      cur++;
      if (ch == '\n' || ch == ']') {
        if (c == 0) c = cur;
        if (cur != c) { fclose(fp); free(v); return NULL; }
        r++;
        cur = 0;
        if (ch == ']') break;
      }
    }
  }
  fclose(fp);
  *rows = r;
  *cols = c;
  return v;
}

/* compute-fbank-feats' defaults (Kaldi's, which differ from torchaudio's in dither and
 * energy_floor), with dither 0 as the golden files were made. */
static asr_fbank_opts kaldi_opts(void) {
  asr_fbank_opts o = asr_fbank_opts_default();
  o.dither = 0;
  o.energy_floor = 0;
  return o;
}

/* Compares asr_fbank_ref on kaldi/chirp/test.wav with one of Kaldi's text archives.
 * Tolerance (the residual docs/fbank.md measures, "The Kaldi residual"): Kaldi computes
 * in float with its own split-radix FFT, and on this pure chirp the bins far from the
 * sweep hold energies ~1e-7 of the frame's, where float rounding in Kaldi moves the log
 * by up to ~0.03; torchaudio in double shows the same residual. So: mean |diff| <= 1e-3,
 * max <= 0.05. */
static void kaldi_chirp_case(tctx *t, const char *ark, const asr_fbank_opts *o) {
  char wav[512], txt[512];
  asr_audio a;
  asr_error err;
  asr_real *want, *got;
  int rows, cols, T, i;
  double sum = 0, mx = 0;
  asr_result r;
  SHARED_PATH(wav, "kaldi/chirp/test.wav");
  SHARED_PATH(txt, ark);
  CHECKF(asr_wav_read(wav, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
  want = read_ark_text(txt, &rows, &cols);
  CHECKF(want != NULL, "cannot parse %s", txt);
  got = fb_run(asr_fbank_ref, o, a.samples, a.n, &T, &r);
  CHECK_OK(r);
  CHECKF(T == rows && asr_fbank_dim(o) == cols, "%s: shape (%d, %d), Kaldi (%d, %d)", ark, T,
         asr_fbank_dim(o), rows, cols);
  for (i = 0; i < rows * cols; i++) {
    double d = fabs((double)got[i] - want[i]);
    sum += d;
    if (d > mx) mx = d;
  }
  snprintf(t->msg, sizeof t->msg, "%dx%d, mean |diff| %.2e, max %.2e", rows, cols, sum / (rows * cols), mx);
  CHECKF(sum / (rows * cols) <= 1e-3 && mx <= 0.05, "%s: mean |diff| %.3g, max %.3g", ark, sum / (rows * cols), mx);
  free(want);
  free(got);
  asr_audio_free(&a, NULL);
}

static void t_kaldi_default(tctx *t) {
  asr_fbank_opts o = kaldi_opts();
  kaldi_chirp_case(t, "kaldi/chirp/test.txt", &o);
}
static void t_kaldi_40(tctx *t) {
  asr_fbank_opts o = kaldi_opts();
  o.num_mel_bins = 40;
  kaldi_chirp_case(t, "kaldi/chirp/test-40.txt", &o);
}
static void t_kaldi_40_no_snip(tctx *t) {
  asr_fbank_opts o = kaldi_opts();
  o.num_mel_bins = 40;
  o.snip_edges = 0;
  kaldi_chirp_case(t, "kaldi/chirp/test-40-no-snip-edges.txt", &o);
}
static void t_kaldi_energy(tctx *t) {
  asr_fbank_opts o = kaldi_opts();
  o.use_energy = 1;
  kaldi_chirp_case(t, "kaldi/chirp/test-with-energy.txt", &o);
}
static void t_kaldi_htk_compat(tctx *t) {
  asr_fbank_opts o = kaldi_opts();
  o.use_energy = 1;
  o.htk_compat = 1;
  kaldi_chirp_case(t, "kaldi/chirp/test-htk.txt", &o);
}

/* HTK FBANK files: big-endian header (nSamples, sampPeriod, sampSize, parmKind) + floats. */
static asr_real *read_htk(const char *path, int *rows, int *cols) {
  unsigned char *buf;
  size_t len, i;
  asr_real *v;
  uint32_t nsamp, ssize;
  if (asr_read_file(path, &buf, &len, NULL, NULL) != ASR_OK) return NULL;
  if (len < 12) { free(buf); return NULL; }
  nsamp = ((uint32_t)buf[0] << 24) | ((uint32_t)buf[1] << 16) | ((uint32_t)buf[2] << 8) | buf[3];
  ssize = ((uint32_t)buf[8] << 8) | buf[9];
  if ((buf[11] & 0x3f) != 7 || ssize % 4 || 12 + (size_t)nsamp * ssize != len) { free(buf); return NULL; }
  *rows = (int)nsamp;
  *cols = (int)(ssize / 4);
  v = TALLOC(asr_real, (size_t)nsamp * (ssize / 4) + 1);
  for (i = 0; i < (size_t)nsamp * (ssize / 4); i++) {
    const unsigned char *p = buf + 12 + 4 * i;
    uint32_t u = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    float f;
    memcpy(&f, &u, 4);
    v[i] = (asr_real)f;
  }
  free(buf);
  return v;
}

/* As Kaldi's feature-fbank-test.cc UnitTestHTKCompare1: dither 0, no pre-emphasis,
 * hamming window, no DC removal, power-of-two FFT, low_freq 0 (fbank1.conf: LOFREQ 0,
 * HIFREQ 8000, 23 channels), htk_compat, no energy; 10 frames skipped at each end (HTK
 * treats the ends differently) and absolute tolerance 0.001, Kaldi's own. fbank2.conf is
 * the same with LOFREQ 25. fbank3/4.conf add HTK's VTLN warp (WARPFREQ 0.9 / 1.1), which
 * HTK computes with its own warping function; asr.h has no VTLN, so they are not used. */
static void htk_case(tctx *t, const char *feat, double low_freq, int first_col) {
  char wav[512], htk[512];
  asr_audio a;
  asr_error err;
  asr_fbank_opts o = kaldi_opts();
  asr_real *want, *got;
  int rows, cols, T, i, j, bad = 0;
  double mx = 0;
  asr_result r;
  SHARED_PATH(wav, "kaldi/htk/test.wav");
  SHARED_PATH(htk, feat);
  CHECKF(asr_wav_read(wav, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
  want = read_htk(htk, &rows, &cols);
  CHECKF(want != NULL, "cannot read HTK file %s", htk);
  o.preemphasis_coefficient = 0;
  o.window_type = ASR_WINDOW_HAMMING;
  o.remove_dc_offset = 0;
  o.round_to_power_of_two = 1;
  o.low_freq = low_freq;
  o.htk_compat = 1;
  o.use_energy = 0;
  got = fb_run(asr_fbank_ref, &o, a.samples, a.n, &T, &r);
  CHECK_OK(r);
  CHECKF(T == rows && cols == asr_fbank_dim(&o), "shape (%d, %d), HTK (%d, %d)", T, asr_fbank_dim(&o), rows, cols);
  for (i = 10; i + 10 < rows; i++)
    for (j = first_col; j < cols; j++) {
      double d = fabs((double)got[(size_t)i * cols + j] - want[(size_t)i * cols + j]);
      if (d > mx) mx = d;
      bad += d > 0.001;
    }
  snprintf(t->msg, sizeof t->msg, "%dx%d, max |diff| %.2e over frames 10..%d", rows, cols, mx, rows - 11);
  CHECKF(bad == 0, "%d values differ from HTK by more than 0.001 (max %.3g)", bad, mx);
  free(want);
  free(got);
  asr_audio_free(&a, NULL);
}
static void t_htk1(tctx *t) { htk_case(t, "kaldi/htk/test.wav.fbank_htk.1", 0, 0); }
/* With LOFREQ 25 the first channel differs by design: HTK's filterbank (InitFBank) starts
 * at the 1-based FFT bin klo = (int)(LOFREQ N / fs + 2.5) = 3, so it leaves out the
 * 31.25 Hz bin that lies inside Kaldi's first triangle (mel(31.25) > mel(25)). Channels
 * 1..22 are compared. */
static void t_htk2(tctx *t) { htk_case(t, "kaldi/htk/test.wav.fbank_htk.2", 25, 1); }

/* Frame counts, from Kaldi's formulas evaluated by hand: 25 ms / 10 ms at 16 kHz is
 * L = 400, M = 160; snip_edges: 1 + (n - 400) / 160; otherwise (n + 80) / 160. */
static void t_num_frames(tctx *t) {
  asr_fbank_opts o = asr_fbank_opts_default();
  CHECK(asr_fbank_window_size(&o) == 400 && asr_fbank_window_shift(&o) == 160);
  CHECK(asr_fbank_padded_size(&o) == 512);
  CHECK(asr_fbank_num_frames(19200, &o) == 118);   /* 1 + 18800 / 160 = 118.5 */
  CHECK(asr_fbank_num_frames(399, &o) == 0);
  CHECK(asr_fbank_num_frames(400, &o) == 1);
  CHECK(asr_fbank_num_frames(559, &o) == 1);
  CHECK(asr_fbank_num_frames(560, &o) == 2);
  CHECK(asr_fbank_num_frames(0, &o) == 0);
  o.snip_edges = 0;
  CHECK(asr_fbank_num_frames(19200, &o) == 120);   /* 19280 / 160 = 120.5 */
  CHECK(asr_fbank_num_frames(79, &o) == 0);
  CHECK(asr_fbank_num_frames(80, &o) == 1);
  CHECK(asr_fbank_num_frames(239, &o) == 1);
  CHECK(asr_fbank_num_frames(240, &o) == 2);
  o.round_to_power_of_two = 0;
  CHECK(asr_fbank_padded_size(&o) == 400);
  o.sample_frequency = 8000;                        /* 200 / 80 */
  CHECK(asr_fbank_window_size(&o) == 200 && asr_fbank_window_shift(&o) == 80);
  CHECK(asr_fbank_num_frames(-1, &o) == -1);
  o.num_mel_bins = 0;
  CHECK(asr_fbank_num_frames(1000, &o) == -1);
}

/* A signal shorter than one frame gives 0 frames (Kaldi), and writes nothing. */
static void t_short_signal(tctx *t) {
  asr_fbank_opts o = asr_fbank_opts_default();
  asr_real x[399], y[1] = {42};
  size_t wb;
  void *w = fb_work(&o, &wb);
  asr_error err;
  int i;
  for (i = 0; i < 399; i++) x[i] = (asr_real)(i % 7);
  CHECK_OK(asr_fbank_ref(y, x, 399, &o, NULL, w, wb, &err));
  CHECK_OK(asr_fbank_naive(y, x, 399, &o, NULL, w, wb, &err));
  CHECK_OK(asr_fbank(NULL, x, 399, &o, NULL, w, wb, &err));
  CHECK_OK(asr_fbank(NULL, NULL, 0, &o, NULL, w, wb, &err));
  CHECK(y[0] == 42);
  free(w);
}

/* Each bad option is refused with an error code and a message, and nothing is written. */
static void t_bad_options(tctx *t) {
  asr_fbank_opts good = asr_fbank_opts_default(), o;
  asr_real x[1000], y[4 * 24];
  asr_error err;
  size_t wb = asr_fbank_workspace_size(&good);
  void *w = talloc_(wb);
  int i, k;
  for (i = 0; i < 1000; i++) x[i] = (asr_real)(100 * sin(0.1 * i));
  for (k = 0; k < 17; k++) {
    o = good;
    switch (k) {
      case 0: o.num_mel_bins = 0; break;
      case 1: o.num_mel_bins = 2; break;
      case 2: o.frame_shift = -10; break;
      case 3: o.frame_length = 0; break;
      case 4: o.low_freq = 5000; o.high_freq = 4000; break;
      case 5: o.num_mel_bins = 200; break;            /* empty triangles in a 512-point FFT */
      case 6: o.high_freq = 9000; break;              /* above Nyquist */
      case 7: o.high_freq = -9000; break;             /* Nyquist - 9000 < 0 */
      case 8: o.preemphasis_coefficient = 1.5; break;
      case 9: o.dither = -1; break;
      case 10: o.energy_floor = -1; break;
      case 11: o.sample_frequency = 0; break;
      case 12: o.round_to_power_of_two = 0; o.frame_length = 25.0625; break;   /* 401: odd */
      case 13: o.window_type = (asr_window_type)7; break;
      case 14: o.frame_length = 0.0625; break;       /* 1 sample */
      case 15: o.low_freq = -1; break;
      case 16: o.sample_frequency = NAN; break;
    }
    for (i = 0; i < 4 * 24; i++) y[i] = 7;
    err.msg[0] = 0;
    CHECKF(asr_fbank_ref(y, x, 1000, &o, NULL, w, wb, &err) < 0, "case %d accepted", k);
    CHECKF(err.msg[0] != 0, "case %d: no message", k);
    CHECKF(asr_fbank_workspace_size(&o) == 0 && asr_fbank_num_frames(1000, &o) == -1, "case %d", k);
    for (i = 0; i < 4 * 24; i++) CHECKF(y[i] == 7, "case %d wrote output", k);
  }
  /* Non-finite samples, a short workspace, dither without an rng */
  x[500] = (asr_real)NAN;
  CHECK(asr_fbank_ref(y, x, 1000, &good, NULL, w, wb, &err) == ASR_ERR_NONFINITE);
  x[500] = 0;
  CHECK(asr_fbank_ref(y, x, 1000, &good, NULL, w, wb - 1, &err) == ASR_ERR_WORKSPACE);
  o = good;
  o.dither = 1;
  CHECK(asr_fbank_ref(y, x, 1000, &o, NULL, w, wb, &err) == ASR_ERR_INVALID_ARG);
  for (i = 0; i < 4 * 24; i++) CHECK(y[i] == 7);
  /* _naive refuses a DFT it would take too long to sum */
  o = good;
  o.frame_length = 1000;                               /* 16000 samples -> N = 16384 */
  {
    size_t wb2 = asr_fbank_workspace_size(&o);
    void *w2 = talloc_(wb2);
    asr_real *x2 = TALLOC(asr_real, 16000), y2[23];
    CHECK(asr_fbank_naive(y2, x2, 16000, &o, NULL, w2, wb2, &err) == ASR_ERR_TOO_LARGE);
    CHECK_OK(asr_fbank_ref(y2, x2, 16000, &o, NULL, w2, wb2, &err));
    free(w2);
    free(x2);
  }
  free(w);
}

/* The checker on our own tiers: _ref and the fast path against _naive and _ref. */
static void t_check_ref(tctx *t) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  CHECK_OK(asr_check_fbank(asr_fbank_ref, "ref", 11, 24, 0, &rep));
  snprintf(t->msg, sizeof t->msg, "%d cases, worst %.2e", rep.passed + rep.failed, rep.worst);
  CHECKF(rep.failed == 0, "%s", rep.first_failure);
}
static void t_check_fast(tctx *t) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  CHECK_OK(asr_check_fbank(asr_fbank, "fast", 12, 24, 0, &rep));
  snprintf(t->msg, sizeof t->msg, "%d cases, worst %.2e", rep.passed + rep.failed, rep.worst);
  CHECKF(rep.failed == 0, "%s", rep.first_failure);
}

/* Every combination of the options that change the arithmetic (5 windows x snip_edges x
 * energy none/raw/windowed x htk_compat x power/magnitude x log/linear x power-of-two or
 * Bluestein FFT x subtract_mean = 960 sets), _naive against _ref on one short signal
 * (white noise with a DC offset and a sinusoid, 600 samples: 2 or 4 frames). Both tiers
 * compute in double and round once, so they agree to the last float bit on nearly every
 * value; bound: 2 float ulps of the values (|v| < 40 -> 1e-5) on log outputs, 1e-6 of
 * the matrix's largest value on linear ones (double build: 1e-9). */
static void t_naive_vs_ref_grid(tctx *t) {
  asr_real x[600], *a, *b;
  asr_rng rng;
  int i, combo, T, cases = 0;
  double worst = 0;
  asr_result r1, r2;
  asr_rng_seed(&rng, 17, 0);
  for (i = 0; i < 600; i++)
    x[i] = (asr_real)(300 + 800 * asr_rng_normal(&rng) + 2000 * sin(0.37 * i));
  for (combo = 0; combo < 960; combo++) {
    asr_fbank_opts o = asr_fbank_opts_default();
    int c = combo, D, k;
    double amax = 0;
    o.window_type = (asr_window_type)(c % 5), c /= 5;
    o.snip_edges = c % 2, c /= 2;
    o.use_energy = c % 3 != 0, o.raw_energy = c % 3 == 1, c /= 3;
    o.htk_compat = c % 2, c /= 2;
    o.use_power = c % 2, c /= 2;
    o.use_log_fbank = c % 2, c /= 2;
    o.round_to_power_of_two = c % 2, c /= 2;       /* 0: N = 400, Bluestein on 200 points */
    o.subtract_mean = c % 2;
    o.num_mel_bins = 20;
    a = fb_run(asr_fbank_naive, &o, x, 600, &T, &r1);
    b = fb_run(asr_fbank_ref, &o, x, 600, &T, &r2);
    CHECK_OK(r1);
    CHECK_OK(r2);
    D = asr_fbank_dim(&o);
    for (k = 0; k < T * D; k++) amax = fmax(amax, fabs(b[k]));
    for (k = 0; k < T * D; k++) {
      int col = k % D, is_energy = o.use_energy && col == (o.htk_compat ? D - 1 : 0);
      double d = fabs((double)a[k] - b[k]);
      if (!o.use_log_fbank && !is_energy) d /= amax;          /* linear: relative to the largest */
      worst = fmax(worst, d);
      CHECKF(d <= (ASR_REAL_DOUBLE ? 1e-9 : (o.use_log_fbank || is_energy ? 1e-5 : 1e-6)),
             "combination %d (%s window, snip %d, energy %d/%d, htk %d, power %d, log %d, pow2 %d, cms %d): "
             "value %d differs by %g", combo, asr_window_name(o.window_type), o.snip_edges, o.use_energy,
             o.raw_energy, o.htk_compat, o.use_power, o.use_log_fbank, o.round_to_power_of_two, o.subtract_mean, k, d);
    }
    cases++;
    free(a);
    free(b);
  }
  snprintf(t->msg, sizeof t->msg, "%d option sets, worst %.2e", cases, worst);
}

/* _naive prepares each frame with its own code (framing and the mirror, dither, DC offset,
 * energy, pre-emphasis, the window formula per sample), so comparing it with _ref tests
 * _ref's preparation: every combination of the options that change it (5 windows x
 * snip_edges x energy none/raw/windowed x pre-emphasis 0, 0.97, 1 x remove_dc_offset x
 * dither 0 or 1 from the same seed = 360 sets) on two signals: 600 samples (2 or 4 frames)
 * and 130, shorter than a frame, whose frames (snip_edges = 0 only) mirror the signal more
 * than once. Both tiers compute in double and round once; bound: 1e-5 on the log outputs
 * (2 float ulps of values below 40), 1e-9 in the double build. */
static void t_naive_vs_ref_preparation(tctx *t) {
  asr_real x[600], *a, *b;
  asr_rng rng;
  int i, combo, len, cases = 0;
  double worst = 0;
  asr_rng_seed(&rng, 23, 0);
  for (i = 0; i < 600; i++) x[i] = (asr_real)(-700 + 900 * asr_rng_normal(&rng) + 1500 * cos(0.11 * i));
  for (len = 600; len >= 130; len -= 470)
    for (combo = 0; combo < 360; combo++) {
      asr_fbank_opts o = asr_fbank_opts_default();
      int c = combo, T, D, k;
      size_t wb;
      void *w;
      asr_error err;
      asr_rng r1, r2;
      o.window_type = (asr_window_type)(c % 5), c /= 5;
      o.snip_edges = c % 2, c /= 2;
      o.use_energy = c % 3 != 0, o.raw_energy = c % 3 == 1, c /= 3;
      o.preemphasis_coefficient = c % 3 == 0 ? 0.0 : (c % 3 == 1 ? 0.97 : 1.0), c /= 3;
      o.remove_dc_offset = c % 2, c /= 2;
      o.dither = c % 2;
      o.num_mel_bins = 20;
      T = asr_fbank_num_frames(len, &o);
      D = asr_fbank_dim(&o);
      if (T == 0) continue;                         /* 130 samples with snip_edges: no frame */
      w = fb_work(&o, &wb);
      a = TALLOC(asr_real, (size_t)T * D), b = TALLOC(asr_real, (size_t)T * D);
      asr_rng_seed(&r1, 5 + (uint64_t)combo, 1);
      asr_rng_seed(&r2, 5 + (uint64_t)combo, 1);      /* the same dither noise */
      CHECK_OK(asr_fbank_naive(a, x, len, &o, &r1, w, wb, &err));
      CHECK_OK(asr_fbank_ref(b, x, len, &o, &r2, w, wb, &err));
      for (k = 0; k < T * D; k++) {
        double d = fabs((double)a[k] - b[k]);
        worst = fmax(worst, d);
        CHECKF(d <= (ASR_REAL_DOUBLE ? 1e-9 : 1e-5),
               "%d samples, combination %d (%s window, snip %d, energy %d/%d, preemph %g, dc %d, dither %g): "
               "value %d differs by %g", len, combo, asr_window_name(o.window_type), o.snip_edges, o.use_energy,
               o.raw_energy, o.preemphasis_coefficient, o.remove_dc_offset, o.dither, k, d);
      }
      cases++;
      free(a), free(b), free(w);
    }
  snprintf(t->msg, sizeof t->msg, "%d option sets x signals, worst %.2e", cases, worst);
}

/* The checker catches a wrong implementation: here one that forgets the pre-emphasis
 * (a common slip), and one that is off by 1e-3 in one value. */
static asr_result broken_no_preemph(asr_real *f, const asr_real *x, int n, const asr_fbank_opts *o,
                                    asr_rng *rng, void *w, size_t wb, asr_error *err) {
  asr_fbank_opts p = *o;
  p.preemphasis_coefficient = 0;
  return asr_fbank_ref(f, x, n, &p, rng, w, wb, err);
}
static asr_result broken_one_value(asr_real *f, const asr_real *x, int n, const asr_fbank_opts *o,
                                   asr_rng *rng, void *w, size_t wb, asr_error *err) {
  asr_result r = asr_fbank_ref(f, x, n, o, rng, w, wb, err);
  if (r == ASR_OK && asr_fbank_num_frames(n, o) > 0) f[0] = (asr_real)(f[0] * 1.001 + 1e-3);
  return r;
}
static void t_check_catches_bugs(tctx *t) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  CHECK_OK(asr_check_fbank(broken_no_preemph, "no-preemph", 5, 8, 0, &rep));
  CHECKF(rep.failed > 0, "missing pre-emphasis not detected");
  memset(&rep, 0, sizeof rep);
  CHECK_OK(asr_check_fbank(broken_one_value, "one-value", 5, 8, 0, &rep));
  CHECKF(rep.failed > 0, "an error of 1e-3 in one value not detected");
}

/* Same seed, same dither; another seed, other features; dither 0 is deterministic. */
static void t_dither(tctx *t) {
  asr_fbank_opts o = asr_fbank_opts_default();
  asr_real x[4000], a[24 * 23], b[24 * 23], c[24 * 23];
  asr_rng r1, r2, r3;
  asr_error err;
  size_t wb;
  void *w;
  int i, differ = 0;
  o.dither = 1;
  w = fb_work(&o, &wb);
  for (i = 0; i < 4000; i++) x[i] = (asr_real)(i % 50 == 0 ? 1000 : 0);
  asr_rng_seed(&r1, 9, 0);
  asr_rng_seed(&r2, 9, 0);
  asr_rng_seed(&r3, 10, 0);
  CHECK_OK(asr_fbank_ref(a, x, 4000, &o, &r1, w, wb, &err));
  CHECK_OK(asr_fbank_naive(b, x, 4000, &o, &r2, w, wb, &err));
  CHECK_OK(asr_fbank_ref(c, x, 4000, &o, &r3, w, wb, &err));
  CHECK(asr_fbank_num_frames(4000, &o) == 23);
  CHECK(max_abs_diff(a, b, 23 * 23) <= (ASR_REAL_DOUBLE ? 1e-9 : 1e-4));
  for (i = 0; i < 23 * 23; i++) differ += a[i] != c[i];
  CHECK(differ > 23 * 23 / 2);
  free(w);
}

/* use_energy: the energy column is log(sum_j x_j^2) of the DC-removed frame (computed here
 * independently for frame 3), first or (htk_compat) last; the mel columns are unchanged. */
static void t_energy_column(tctx *t) {
  asr_fbank_opts o = asr_fbank_opts_default();
  asr_real x[3000], *plain, *first, *last;
  asr_rng rng;
  double mean = 0, e = 0;
  int i, T, m;
  asr_result r;
  asr_rng_seed(&rng, 3, 0);
  for (i = 0; i < 3000; i++) x[i] = (asr_real)(500 * asr_rng_normal(&rng));
  plain = fb_run(asr_fbank_ref, &o, x, 3000, &T, &r);
  CHECK_OK(r);
  o.use_energy = 1;
  first = fb_run(asr_fbank_ref, &o, x, 3000, &T, &r);
  CHECK_OK(r);
  o.htk_compat = 1;
  last = fb_run(asr_fbank_ref, &o, x, 3000, &T, &r);
  CHECK_OK(r);
  for (i = 0; i < 400; i++) mean += x[3 * 160 + i];
  mean /= 400;
  for (i = 0; i < 400; i++) e += (x[3 * 160 + i] - mean) * (x[3 * 160 + i] - mean);
  CHECK_NEAR(first[3 * 24], log(e), 1e-5 * fabs(log(e)));   /* float rounding of ~18 */
  CHECK_NEAR(last[3 * 24 + 23], log(e), 1e-5 * fabs(log(e)));
  for (i = 0; i < T; i++)
    for (m = 0; m < 23; m++) {
      CHECK(first[i * 24 + 1 + m] == plain[i * 23 + m]);
      CHECK(last[i * 24 + m] == plain[i * 23 + m]);
    }
  free(plain);
  free(first);
  free(last);
}

/* A 1 kHz sine: the largest mel output is the bin whose centre is nearest 1 kHz. */
static void t_sine_peak(tctx *t) {
  asr_fbank_opts o = asr_fbank_opts_default();
  asr_real x[8000], *y, centre[40], *W;
  int i, T, m, best = 0, nearest = 0;
  asr_result r;
  asr_error err;
  o.num_mel_bins = 40;
  for (i = 0; i < 8000; i++) x[i] = (asr_real)(3000 * sin(2 * 3.14159265358979 * 1000 * i / 16000.0));
  y = fb_run(asr_fbank_ref, &o, x, 8000, &T, &r);
  CHECK_OK(r);
  W = TALLOC(asr_real, 40 * 257);
  CHECK_OK(asr_fbank_mel_banks(W, centre, &o, &err));
  for (m = 0; m < 40; m++) {
    if (y[10 * 40 + m] > y[10 * 40 + best]) best = m;
    if (fabs(centre[m] - 1000) < fabs(centre[nearest] - 1000)) nearest = m;
  }
  CHECKF(best == nearest, "peak in bin %d (%.0f Hz), nearest centre bin %d (%.0f Hz)", best,
         (double)centre[best], nearest, (double)centre[nearest]);
  free(y);
  free(W);
}

/* Mel banks: triangles of height <= 1; between the first and last centres, neighbouring
 * triangles add up to 1 at every FFT bin (they are a partition of unity in mel). */
static void t_mel_banks(tctx *t) {
  asr_fbank_opts o = asr_fbank_opts_default();
  asr_real *W, centre[23];
  asr_error err;
  int m, k, inside = 0;
  W = TALLOC(asr_real, 23 * 257);
  CHECK_OK(asr_fbank_mel_banks(W, centre, &o, &err));
  for (k = 0; k <= 256; k++) {
    double f = k * 16000.0 / 512, s = 0;
    for (m = 0; m < 23; m++) {
      CHECK(W[m * 257 + k] >= 0 && W[m * 257 + k] <= 1);
      s += W[m * 257 + k];
    }
    if (f > centre[0] && f < centre[22]) {
      CHECK_NEAR(s, 1.0, 1e-6);
      inside++;
    }
  }
  CHECK(inside > 200);
  CHECK(W[0 * 257 + 256] == 0);                         /* Nyquist unused */
  CHECK_NEAR(centre[0], 700 * (exp((1127 * log(1 + 20 / 700.0) +
                                   (1127 * log(1 + 8000 / 700.0) - 1127 * log(1 + 20 / 700.0)) / 24) /
                                  1127) - 1), 1e-2);
  free(W);
}

/* asr_fbank_stages: the frames and power spectra behind asr_fbank_ref's features. A ramp
 * s[j] = j through no DC offset, pre-emphasis 0.97 and the rectangular window gives
 * x[0] = 0.03 s[0] = 0 and x[j] = s[j] - 0.97 s[j-1] = 0.03 j + 0.97 (the first sample's
 * x[-1] := x[0]); with the defaults and with hamming without snip_edges, on 420 samples of
 * silence and a 1 kHz tone, ln(max(sum_k W[m][k] P[k], FLT_EPSILON)) is the fbank (1e-12 in
 * double; float: 1e-5, the rounding of P to float, measured 1e-6); no output: refused. */
static void t_stages(tctx *t) {
  asr_fbank_opts o = asr_fbank_opts_default();
  asr_real x[1650], *frames, *power, *W, *y;
  size_t wb;
  void *w;
  asr_error err;
  int i, j, T, m, k, pass, bad = 0;
  asr_result r;
  const double tol = sizeof(asr_real) == 4 ? 1e-5 : 1e-12;
  for (i = 0; i < 1650; i++) x[i] = (asr_real)i;
  o.remove_dc_offset = 0, o.window_type = ASR_WINDOW_RECTANGULAR;
  w = fb_work(&o, &wb);
  frames = TALLOC(asr_real, 10 * 400);
  CHECK_OK(asr_fbank_stages(frames, NULL, x, 1650, &o, NULL, w, wb, &err));
  CHECK(frames[0] == 0);
  for (j = 1; j < 400; j++) bad += fabs(frames[j] - (0.03 * j + 0.97)) > 1e-3;
  CHECKF(bad == 0, "%d of 399 ramp samples are not 0.03 j + 0.97", bad);
  CHECK(asr_fbank_stages(NULL, NULL, x, 1650, &o, NULL, w, wb, &err) == ASR_ERR_INVALID_ARG);
  CHECK(asr_fbank_stages(frames, NULL, x, 1650, &o, NULL, w, 16, &err) == ASR_ERR_WORKSPACE);
  free(w);
  free(frames);
  for (i = 0; i < 1650; i++) x[i] = (asr_real)(i < 420 ? 0 : 3000 * sin(2 * 3.14159265358979 * 1000 * i / 16000.0));
  for (pass = 0; pass < 2; pass++) {
    double worst = 0;
    o = asr_fbank_opts_default();
    if (pass) o.window_type = ASR_WINDOW_HAMMING, o.snip_edges = 0, o.num_mel_bins = 15;
    y = fb_run(asr_fbank_ref, &o, x, 1650, &T, &r);
    CHECK_OK(r);
    w = fb_work(&o, &wb);
    power = TALLOC(asr_real, (size_t)T * 257);
    W = TALLOC(asr_real, (size_t)o.num_mel_bins * 257);
    CHECK_OK(asr_fbank_stages(NULL, power, x, 1650, &o, NULL, w, wb, &err));
    CHECK_OK(asr_fbank_mel_banks(W, NULL, &o, &err));
    for (i = 0; i < T; i++)
      for (m = 0; m < o.num_mel_bins; m++) {
        double e = 0;
        for (k = 0; k < 257; k++) e += (double)W[m * 257 + k] * power[i * 257 + k];
        e = log(e > 1.1920928955078125e-07 ? e : 1.1920928955078125e-07);
        if (fabs(e - y[i * o.num_mel_bins + m]) > worst) worst = fabs(e - y[i * o.num_mel_bins + m]);
      }
    CHECKF(worst <= tol, "%s: ln(W P) vs the fbank: %.2e (tolerance %.0e)", pass ? "hamming" : "povey", worst, tol);
    CHECK(y[0] == (asr_real)log(1.1920928955078125e-07));   /* the silent first frame: the floor */
    free(y), free(w), free(power), free(W);
  }
}

/* Windows: hand-evaluated values of the five definitions at the ends and the middle. */
static void t_windows(tctx *t) {
  asr_fbank_opts o = asr_fbank_opts_default();
  asr_real w[401];
  asr_error err;
  o.frame_length = 25.0625;                       /* 401 samples: an exact middle (j = 200) */
  o.window_type = ASR_WINDOW_HANNING;
  CHECK_OK(asr_fbank_window(w, &o, &err));
  CHECK_NEAR(w[0], 0, 1e-7);
  CHECK_NEAR(w[200], 1, 1e-7);
  CHECK_NEAR(w[100], 0.5, 1e-6);                  /* 0.5 - 0.5 cos(pi/2) */
  o.window_type = ASR_WINDOW_HAMMING;
  CHECK_OK(asr_fbank_window(w, &o, &err));
  CHECK_NEAR(w[0], 0.08, 1e-7);
  CHECK_NEAR(w[400], 0.08, 1e-7);
  CHECK_NEAR(w[200], 1, 1e-7);
  o.window_type = ASR_WINDOW_POVEY;
  CHECK_OK(asr_fbank_window(w, &o, &err));
  CHECK_NEAR(w[0], 0, 1e-7);
  CHECK_NEAR(w[100], pow(0.5, 0.85), 1e-6);
  o.window_type = ASR_WINDOW_RECTANGULAR;
  CHECK_OK(asr_fbank_window(w, &o, &err));
  CHECK(w[0] == 1 && w[400] == 1);
  o.window_type = ASR_WINDOW_BLACKMAN;
  CHECK_OK(asr_fbank_window(w, &o, &err));
  CHECK_NEAR(w[0], 0, 1e-7);                      /* 0.42 - 0.5 + 0.08 */
  CHECK_NEAR(w[200], 1, 1e-6);                    /* 0.42 + 0.5 + 0.08 */
  CHECK_NEAR(w[100], 0.42 - 0.08, 1e-6);          /* cos(pi/2) = 0, cos(pi) = -1 */
}

/* subtract_mean leaves every column with mean 0 and equals the plain output minus the
 * column means. */
static void t_subtract_mean(tctx *t) {
  asr_fbank_opts o = asr_fbank_opts_default();
  asr_real x[5000], *a, *b;
  asr_rng rng;
  int i, d, T;
  asr_result r;
  asr_rng_seed(&rng, 4, 0);
  for (i = 0; i < 5000; i++) x[i] = (asr_real)(200 * asr_rng_normal(&rng) + 50 * sin(0.01 * i));
  o.use_energy = 1;
  a = fb_run(asr_fbank_ref, &o, x, 5000, &T, &r);
  CHECK_OK(r);
  o.subtract_mean = 1;
  b = fb_run(asr_fbank_ref, &o, x, 5000, &T, &r);
  CHECK_OK(r);
  for (d = 0; d < 24; d++) {
    double mu = 0, s = 0;
    for (i = 0; i < T; i++) mu += a[i * 24 + d];
    mu /= T;
    for (i = 0; i < T; i++) {
      CHECK_NEAR(b[i * 24 + d], a[i * 24 + d] - mu, 1e-5);
      s += b[i * 24 + d];
    }
    CHECK_NEAR(s / T, 0, 1e-5);
  }
  free(a);
  free(b);
}

/* CMVN: columns end with mean 0 and (norm_vars) variance 1; a constant column becomes 0. */
static void t_cmvn(tctx *t) {
  asr_real x[50 * 4];
  asr_rng rng;
  int i, d;
  asr_rng_seed(&rng, 5, 0);
  for (i = 0; i < 50; i++) {
    x[i * 4 + 0] = (asr_real)(3 + 2 * asr_rng_normal(&rng));
    x[i * 4 + 1] = (asr_real)(-7 + 0.1 * asr_rng_normal(&rng));
    x[i * 4 + 2] = 5;
    x[i * 4 + 3] = (asr_real)i;
  }
  asr_cmvn(x, 50, 4, 1);
  for (d = 0; d < 4; d++) {
    double s = 0, s2 = 0;
    for (i = 0; i < 50; i++) {
      CHECK(isfinite(x[i * 4 + d]));
      s += x[i * 4 + d];
      s2 += x[i * 4 + d] * x[i * 4 + d];
    }
    CHECK_NEAR(s / 50, 0, 1e-5);
    if (d != 2) CHECK_NEAR(s2 / 50, 1, 1e-4);
  }
  CHECK(x[7 * 4 + 2] == 0);
  /* x[.][3] = i: mean 24.5, population variance (50^2 - 1) / 12 */
  CHECK_NEAR(x[0 * 4 + 3], -24.5 / sqrt((2500 - 1) / 12.0), 1e-5);
  asr_cmvn(NULL, 0, 4, 0);
}

/* Global CMVN: the statistics of three utterances accumulated one at a time are those of
 * their frames stacked into one matrix, so asr_cmvn_apply with them normalizes each
 * utterance as per-utterance asr_cmvn normalizes the stack (to float rounding: asr_cmvn
 * multiplies by 1/sigma in double, apply divides by sigma rounded to float); the stack's
 * columns end with mean 0, variance 1; a constant column gets sigma = 1e-10 (Kaldi's
 * floor), finite zeros; no frames or a NaN sum is refused with nothing written. */
static void t_cmvn_global(tctx *t) {
  enum { D = 4, TOT = 17 + 1 + 33 };
  static const int Tu[3] = {17, 1, 33};
  asr_real x[TOT * D], stack[TOT * D], mean[D], sd[D];
  double sum[D] = {0}, sum2[D] = {0}, worst = 0;
  asr_rng rng;
  int u, i, d, off = 0;
  asr_rng_seed(&rng, 9, 0);
  for (i = 0; i < TOT; i++) {
    x[i * D + 0] = (asr_real)(3 + 2 * asr_rng_normal(&rng));
    x[i * D + 1] = (asr_real)(-70 + 0.1 * asr_rng_normal(&rng));
    x[i * D + 2] = 5;
    x[i * D + 3] = (asr_real)(i % 7);
  }
  memcpy(stack, x, sizeof x);
  for (u = 0; u < 3; off += Tu[u++]) asr_cmvn_accumulate(sum, sum2, x + off * D, Tu[u], D);
  asr_cmvn_accumulate(sum, sum2, NULL, 0, D);                 /* no frames: nothing added */
  for (d = 0; d < D; d++) mean[d] = -1, sd[d] = -1;
  CHECK(asr_cmvn_finish(mean, sd, sum, sum2, 0, D) == ASR_ERR_INVALID_ARG && mean[0] == -1 && sd[0] == -1);
  sum2[3] = NAN;
  CHECK(asr_cmvn_finish(mean, sd, sum, sum2, TOT, D) == ASR_ERR_INVALID_ARG && mean[3] == -1);
  sum2[3] = 0;
  for (i = 0; i < TOT; i++) sum2[3] += (double)x[i * D + 3] * x[i * D + 3];
  CHECK_OK(asr_cmvn_finish(mean, sd, sum, sum2, TOT, D));
  CHECK(mean[2] == 5 && sd[2] == (asr_real)1e-10);
  asr_cmvn(stack, TOT, D, 1);
  for (d = 0; d < D; d++) {   /* the stack's mu_d, sigma_d in double, two passes */
    double mu = 0, var = 0;
    for (i = 0; i < TOT; i++) mu += x[i * D + d];
    mu /= TOT;
    for (i = 0; i < TOT; i++) var += ((double)x[i * D + d] - mu) * ((double)x[i * D + d] - mu);
    var = var / TOT < 1e-20 ? 1e-20 : var / TOT;
    CHECKF(fabs(mean[d] - mu) <= fabs(mu) * 5.9604644775390625e-8 /* 2^-24 */ + 1e-12, "mean[%d] %.9g vs %.9g", d, (double)mean[d], mu);
    CHECKF(fabs(sd[d] - sqrt(var)) <= sqrt(var) * 2.384185791015625e-7 /* 2^-22 */, "std[%d] %.9g vs %.9g", d, (double)sd[d], sqrt(var));
  }
  for (u = 0, off = 0; u < 3; off += Tu[u++]) asr_cmvn_apply(x + off * D, Tu[u], D, mean, sd);
  asr_cmvn(stack, TOT, D, 1);
  for (i = 0; i < TOT * D; i++) {
    /* apart from float rounding of the result (1e-6), the stored mean's rounding,
     * |mu_d| 2^-24, divided by sigma_d (column 1: 70 x 6e-8 / 0.1 = 4e-5) */
    double tol = 2e-6 + 2 * fabs(mean[i % D]) * 5.9604644775390625e-8 /* 2^-24 */ / sd[i % D];
    CHECK(isfinite(x[i]));
    worst = fmax(worst, fabs((double)x[i] - stack[i]) / tol);
  }
  CHECKF(worst <= 1, "global vs stacked per-utterance CMVN: %g of the bound", worst);
  for (d = 0; d < D; d++) {
    double s = 0, s2 = 0;
    for (i = 0; i < TOT; i++) s += x[i * D + d], s2 += (double)x[i * D + d] * x[i * D + d];
    CHECK_NEAR(s / TOT, 0, 1e-5 + 2 * fabs(mean[d]) * 5.9604644775390625e-8 /* 2^-24 */ / sd[d]);   /* as above */
    if (d != 2) CHECK_NEAR(s2 / TOT, 1, 1e-4);
  }
  CHECK(x[5 * D + 2] == 0);
  snprintf(t->msg, sizeof t->msg, "three utterances (17, 1, 33 frames) = their stack, %.2g of the bound", worst);
}

/* SpecAugment: masks are contiguous bands inside the picture, of the drawn widths; the
 * same seed gives the same picture; the mean mask width over many draws is F/2. */
static void t_specaugment(tctx *t) {
  enum { T = 120, D = 40 };
  asr_real *x = TALLOC(asr_real, T * D), *y = TALLOC(asr_real, T * D), *work;
  asr_specaug_opts o = asr_specaug_opts_default();
  asr_rng r1, r2;
  int i, d, rep;
  double total = 0;
  for (i = 0; i < T * D; i++) x[i] = (asr_real)(1 + (i % 97));
  o.time_warp = 0;
  o.freq_mask_param = 10;
  o.time_mask_param = 20;
  o.mask_value = -1;
  for (rep = 0; rep < 400; rep++) {
    int masked_cols = 0, masked_rows = 0, first = -1, last = -1;
    memcpy(y, x, sizeof(asr_real) * T * D);
    asr_rng_seed(&r1, (uint64_t)rep, 0);
    CHECK_OK(asr_specaugment(y, T, D, &o, &r1, NULL, 0));
    for (d = 0; d < D; d++) {
      int all = 1;
      for (i = 0; i < T; i++) all &= y[i * D + d] == -1;
      if (all) {
        masked_cols++;
        if (first < 0) first = d;
        last = d;
      }
    }
    CHECK(masked_cols <= 10);
    CHECK(masked_cols == 0 || last - first + 1 == masked_cols);    /* contiguous */
    total += masked_cols;
    for (i = 0; i < T; i++) {
      int all = 1;
      for (d = 0; d < D; d++) all &= y[i * D + d] == -1;
      masked_rows += all;
    }
    CHECK(masked_rows <= 20 || masked_cols == D);
  }
  /* f uniform on {0..10}: mean 5, sd 3.16; mean of 400 has sd 0.16: 5 sd = 0.8 */
  CHECK_NEAR(total / 400, 5.0, 0.8);
  /* determinism, and time warp keeps the first and last frames */
  o = asr_specaug_opts_default();
  o.time_warp = 20;
  o.num_freq_masks = o.num_time_masks = 0;
  work = TALLOC(asr_real, T * D);
  memcpy(y, x, sizeof(asr_real) * T * D);
  asr_rng_seed(&r1, 77, 0);
  CHECK(asr_specaugment(y, T, D, &o, &r1, work, 10) == ASR_ERR_WORKSPACE);
  asr_rng_seed(&r1, 77, 0);
  CHECK_OK(asr_specaugment(y, T, D, &o, &r1, work, asr_specaugment_workspace_size(T, D, &o)));
  for (d = 0; d < D; d++) {
    CHECK(y[d] == x[d]);
    CHECK_NEAR(y[(T - 1) * D + d], x[(T - 1) * D + d], 1e-4);
  }
  {
    asr_real *z = TALLOC(asr_real, T * D);
    int changed = 0;
    memcpy(z, x, sizeof(asr_real) * T * D);
    asr_rng_seed(&r2, 77, 0);
    CHECK_OK(asr_specaugment(z, T, D, &o, &r2, work, asr_specaugment_workspace_size(T, D, &o)));
    for (i = 0; i < T * D; i++) CHECK(z[i] == y[i]);
    /* the warp distance w is 0 with probability 1/41: of 10 seeds, most move frames */
    for (rep = 0; rep < 10; rep++) {
      memcpy(z, x, sizeof(asr_real) * T * D);
      asr_rng_seed(&r2, (uint64_t)rep, 1);
      CHECK_OK(asr_specaugment(z, T, D, &o, &r2, work, asr_specaugment_workspace_size(T, D, &o)));
      changed += memcmp(z, x, sizeof(asr_real) * T * D) != 0;
    }
    CHECK(changed >= 8);
    free(z);
  }
  CHECK(asr_specaugment(y, T, D, &o, NULL, work, 0) == ASR_ERR_INVALID_ARG);
  free(x);
  free(y);
  free(work);
}

/* ---- The VTLN warp (asr_vtln_warp_freq, Kaldi's MelBanks::VtlnWarpFreq).
 * _naive interpolates between the four knots of the definition, _ref is Kaldi's three
 * formulas: over 9 warp factors (from 1/74 to 74, beyond Kaldi's usual 0.8-1.2, each
 * inside the valid range of its cut-offs), 3 cut-off pairs and 401 frequencies from below
 * low_freq to above high_freq, they agree to 1e-9 Hz (both compute in double: the
 * difference is rounding, ~1e-12 Hz at 8 kHz). The expected values at the knots come
 * from the definition itself: F(low) = low, F(high) = high, F(f) = f / alpha on [l, h],
 * F(f) = f outside [low, high]; F is continuous (the pieces meet at l and h to 1e-9 Hz)
 * and increasing. */
static void t_vtln_warp_naive_vs_ref(tctx *t) {
  static const double alphas[9] = {0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.0 / 74, 74};
  static const double cut[3][4] = {       /* low_freq, vtln_low, vtln_high, high_freq */
    {20, 100, 7500, 8000}, {0, 300, 3400, 4000}, {60, 61, 11000, 11025}};
  double worst = 0;
  int a, c, i, cases = 0;
  for (c = 0; c < 3; c++)
    for (a = 0; a < 9; a++) {
      const double lo = cut[c][0], vlo = cut[c][1], vhi = cut[c][2], hi = cut[c][3], al = alphas[a];
      const double l = vlo * (al > 1 ? al : 1), h = vhi * (al < 1 ? al : 1);
      double prev = -1e300, y1, y2, e;
      if (!(l < h)) continue;                          /* 74 and 1/74 need wide cut-offs */
      for (i = 0; i <= 400; i++) {
        double f = lo - 50 + (hi - lo + 100) * i / 400.0;
        CHECK_OK(asr_vtln_warp_freq_naive(&y1, f, vlo, vhi, lo, hi, al));
        CHECK_OK(asr_vtln_warp_freq_ref(&y2, f, vlo, vhi, lo, hi, al));
        worst = fmax(worst, fabs(y1 - y2));
        CHECKF(fabs(y1 - y2) <= 1e-9, "alpha %g, f %g: naive %.17g, ref %.17g", al, f, y1, y2);
        if (f < lo || f > hi) CHECKF(y2 == f, "alpha %g: f %g outside [%g, %g] moved to %g", al, f, lo, hi, y2);
        if (f >= l && f <= h) CHECK_NEAR(y2, f / al, 1e-9);
        if (f >= lo && f <= hi) CHECKF(y2 > prev, "alpha %g: F not increasing at f %g", al, f);
        if (f >= lo && f <= hi) prev = y2;
      }
      CHECK_OK(asr_vtln_warp_freq(&e, lo, vlo, vhi, lo, hi, al));
      CHECK_NEAR(e, lo, 1e-9);
      CHECK_OK(asr_vtln_warp_freq(&e, hi, vlo, vhi, lo, hi, al));
      CHECK_NEAR(e, hi, 1e-9);
      CHECK_OK(asr_vtln_warp_freq_ref(&y1, l * (1 - 1e-15), vlo, vhi, lo, hi, al));  /* continuity at l */
      CHECK_NEAR(y1, l / al, 1e-9 * l);
      CHECK_OK(asr_vtln_warp_freq_ref(&y1, h * (1 - 1e-15), vlo, vhi, lo, hi, al));  /* and at h */
      CHECK_NEAR(y1, h / al, 1e-9 * h);
      CHECK_OK(asr_vtln_warp_freq_ref(&y2, h, vlo, vhi, lo, hi, al));
      CHECK_NEAR(y2, h / al, 1e-9 * h);
      /* the mel warp is the same map seen through mel(f) = 1127 ln(1 + f / 700) */
      CHECK_OK(asr_vtln_warp_mel_freq(&e, 1127 * log(1 + 0.5 * (l + h) / 700), vlo, vhi, lo, hi, al));
      CHECK_NEAR(e, 1127 * log(1 + 0.5 * (l + h) / al / 700), 1e-9);
      cases++;
    }
  CHECK(cases >= 25);
  snprintf(t->msg, sizeof t->msg, "%d warps x 401 frequencies, naive vs ref worst %.1e Hz", cases, worst);
}

/* Bad arguments: ASR_ERR_RANGE (cut-offs out of order, alpha <= 0 or so large that the
 * inflection points cross), ASR_ERR_NONFINITE (NaN frequency), *out untouched; and the
 * fbank options refused with one line, nothing written. */
static void t_vtln_bad(tctx *t) {
  static const double bad[8][5] = {    /* vtln_low, vtln_high, low_freq, high_freq, alpha */
    {100, 7500, 20, 8000, 0}, {100, 7500, 20, 8000, -1}, {100, 7500, 20, 8000, 75},
    {100, 7500, 20, 8000, 1.0 / 75}, {10, 7500, 20, 8000, 1.1}, {100, 8000, 20, 8000, 1.1},
    {7500, 100, 20, 8000, 1.1}, {100, 7500, 20, 8000, NAN}};
  asr_fbank_opts good = asr_fbank_opts_default(), o;
  asr_real x[1000], y[4 * 24];
  asr_error err;
  size_t wb = asr_fbank_workspace_size(&good);
  void *w = talloc_(wb);
  double out = 42;
  int k, i;
  for (k = 0; k < 8; k++) {
    CHECKF(asr_vtln_warp_freq_naive(&out, 1000, bad[k][0], bad[k][1], bad[k][2], bad[k][3], bad[k][4]) ==
           ASR_ERR_RANGE, "case %d accepted by naive", k);
    CHECKF(asr_vtln_warp_freq_ref(&out, 1000, bad[k][0], bad[k][1], bad[k][2], bad[k][3], bad[k][4]) ==
           ASR_ERR_RANGE, "case %d accepted by ref", k);
    CHECKF(asr_vtln_warp_mel_freq(&out, 1000, bad[k][0], bad[k][1], bad[k][2], bad[k][3], bad[k][4]) ==
           ASR_ERR_RANGE, "case %d accepted by the mel warp", k);
  }
  CHECK(asr_vtln_warp_freq(&out, NAN, 100, 7500, 20, 8000, 1.1) == ASR_ERR_NONFINITE);
  CHECK(asr_vtln_warp_freq(NULL, 1000, 100, 7500, 20, 8000, 1.1) == ASR_ERR_INVALID_ARG);
  CHECK(out == 42);
  for (i = 0; i < 1000; i++) x[i] = (asr_real)(100 * sin(0.1 * i));
  for (k = 0; k < 7; k++) {
    o = good;
    switch (k) {
      case 0: o.vtln_warp = 0; break;
      case 1: o.vtln_warp = NAN; break;
      case 2: o.vtln_warp = 80; break;                  /* l = 8000 > h = 7500 */
      case 3: o.vtln_warp = 1.1; o.vtln_low = 10; break;  /* below low_freq 20 */
      case 4: o.vtln_warp = 0.9; o.vtln_high = 9000; break; /* above Nyquist */
      case 5: o.vtln_warp = 0.9; o.vtln_low = 7600; break;  /* above vtln_high 7500 */
      case 6: o.vtln_low = INFINITY; break;
    }
    for (i = 0; i < 4 * 24; i++) y[i] = 7;
    err.msg[0] = 0;
    CHECKF(asr_fbank_ref(y, x, 1000, &o, NULL, w, wb, &err) == ASR_ERR_RANGE, "case %d accepted", k);
    CHECKF(err.msg[0] != 0 && !strchr(err.msg, '\n'), "case %d: no one-line message", k);
    for (i = 0; i < 4 * 24; i++) CHECKF(y[i] == 7, "case %d wrote output", k);
  }
  /* Kaldi checks the cut-offs only when the warp is not 1: so do we */
  o = good;
  o.vtln_low = 10;
  CHECK_OK(asr_fbank_check_opts(&o, &err));
  free(w);
}

/* The warped fbank: _naive (its own edges, through asr_vtln_warp_freq_naive, and its own
 * DFT) against _ref on 6 warp factors x 16 option sets (windows, energy, power/magnitude,
 * log/linear, pow2 or not, cut-offs), same bounds as fbank/naive_vs_ref_grid; warp 1 is
 * the unwarped fbank bit for bit, and a warp of 1.1 changes every frame. The warped
 * triangles still add up to 1 between the first and last centres (the warp moves each
 * edge where the neighbouring triangles move theirs), and centre_hz is F(unwarped centre). */
static void t_vtln_fbank(tctx *t) {
  static const double alphas[6] = {0.8, 0.9, 0.95, 1.05, 1.1, 1.2};
  asr_real x[1200], *a, *b, *W, centre[23], centre0[23];
  asr_rng rng;
  asr_error err;
  asr_result r1, r2;
  int i, k, al, combo, T, T2, cases = 0;
  double worst = 0;
  asr_rng_seed(&rng, 23, 0);
  for (i = 0; i < 1200; i++) x[i] = (asr_real)(200 * asr_rng_normal(&rng) + 3000 * sin(0.21 * i + 0.0003 * i * i));
  for (al = 0; al < 6; al++)
    for (combo = 0; combo < 16; combo++) {
      asr_fbank_opts o = asr_fbank_opts_default();
      int c = combo, D;
      double amax = 0;
      o.vtln_warp = alphas[al];
      o.window_type = (asr_window_type)(combo % 5);
      o.use_energy = c % 2, c /= 2;
      o.use_power = c % 2, c /= 2;
      o.use_log_fbank = c % 2, c /= 2;
      o.round_to_power_of_two = c % 2;
      if (combo % 3 == 1) o.vtln_low = 300, o.vtln_high = 6000, o.low_freq = 60;
      if (combo % 3 == 2) o.vtln_high = -1000, o.high_freq = -200, o.num_mel_bins = 40;
      a = fb_run(asr_fbank_naive, &o, x, 1200, &T, &r1);
      b = fb_run(asr_fbank_ref, &o, x, 1200, &T, &r2);
      CHECK_OK(r1);
      CHECK_OK(r2);
      D = asr_fbank_dim(&o);
      for (k = 0; k < T * D; k++) amax = fmax(amax, fabs(b[k]));
      for (k = 0; k < T * D; k++) {
        double d = fabs((double)a[k] - b[k]);
        if (!o.use_log_fbank && !(o.use_energy && k % D == 0)) d /= amax;
        worst = fmax(worst, d);
        CHECKF(d <= (ASR_REAL_DOUBLE ? 1e-9 : 1e-5), "warp %g, combination %d: value %d differs by %g",
               o.vtln_warp, combo, k, d);
      }
      cases++;
      free(a);
      free(b);
    }
  {
    asr_fbank_opts o = asr_fbank_opts_default(), o1 = o;
    o1.vtln_warp = 1.0;
    o1.vtln_low = 10;                                   /* ignored at warp 1, as in Kaldi */
    a = fb_run(asr_fbank_ref, &o, x, 1200, &T, &r1);
    b = fb_run(asr_fbank_ref, &o1, x, 1200, &T2, &r2);
    CHECK_OK(r1);
    CHECK_OK(r2);
    CHECK(T == T2 && memcmp(a, b, sizeof(asr_real) * (size_t)T * 23) == 0);
    free(b);
    o1 = o;
    o1.vtln_warp = 1.1;
    b = fb_run(asr_fbank_ref, &o1, x, 1200, &T2, &r2);
    for (i = 0; i < T; i++) {
      double d = 0;
      for (k = 0; k < 23; k++) d = fmax(d, fabs((double)a[i * 23 + k] - b[i * 23 + k]));
      CHECKF(d > 1e-3, "frame %d unchanged by the warp", i);
    }
    free(a);
    free(b);
    W = TALLOC(asr_real, 23 * 257);
    CHECK_OK(asr_fbank_mel_banks(W, centre0, &o, &err));
    CHECK_OK(asr_fbank_mel_banks(W, centre, &o1, &err));
    for (k = 0; k <= 256; k++) {
      double f = k * 16000.0 / 512, s = 0;
      int m;
      for (m = 0; m < 23; m++) s += W[m * 257 + k];
      if (f > centre[0] && f < centre[22]) CHECK_NEAR(s, 1.0, 1e-6);
    }
    for (k = 0; k < 23; k++) {
      double want;
      CHECK_OK(asr_vtln_warp_freq(&want, centre0[k], 100, 7500, 20, 8000, 1.1));
      CHECK_NEAR(centre[k], want, 2e-3 * want / 1000 + 1e-3);   /* centres rounded to asr_real */
    }
    free(W);
  }
  snprintf(t->msg, sizeof t->msg, "%d warped option sets, naive vs ref worst %.2e", cases, worst);
}

/* ---- chunk by chunk */

/* Streams x (n) cut at the positions the cutting names and pulled in the given mode, and
 * returns the frames (calloc'ed, *T of them), or NULL on an error (reported). Cuttings:
 * 0 one chunk; 1 one sample at a time; 2..5 chunks of 7, 160, 401, 1023 samples; 6
 * random lengths 0..700 (a zero-length push among them). Pull modes: 0 everything after
 * each push; 1 one frame at a time after each push; 2 only after the end; 3 a random
 * number (0..5) after each push. */
static asr_real *fb_stream_run(const asr_fbank_opts *o, const asr_real *x, int n, int cutting, int mode,
                               uint64_t seed, int *T, char *why, size_t why_cap) {
  static const int sizes[4] = {7, 160, 401, 1023};
  asr_fbank_stream s;
  asr_rng cut_rng, dither_rng, *dr = NULL;
  asr_error err;
  int cap = asr_fbank_num_frames(n, o) + 1, dim = asr_fbank_dim(o), i = 0;
  asr_real *y = TALLOC(asr_real, (size_t)cap * dim);
  *T = 0;
  asr_rng_seed(&cut_rng, seed, 1);
  if (o->dither > 0) {
    asr_rng_seed(&dither_rng, seed, 2);
    dr = &dither_rng;
  }
  *why = 0;
  if (asr_fbank_stream_init(&s, o, dr, NULL, &err) != ASR_OK) {
    snprintf(why, why_cap, "init: %.200s", err.msg);
    free(y);
    return NULL;
  }
  for (;;) {
    int k = n - i, want;
    if (cutting == 1) k = 1;
    else if (cutting >= 2 && cutting <= 5) k = sizes[cutting - 2];
    else if (cutting == 6) k = asr_rng_int(&cut_rng, 701);
    if (k > n - i) k = n - i;
    if (asr_fbank_stream_push(&s, x + i, k, &err) != ASR_OK) {
      snprintf(why, why_cap, "push: %.200s", err.msg);
      break;
    }
    i += k;
    if (mode == 0) want = cap;
    else if (mode == 1) want = 1;
    else if (mode == 3) want = asr_rng_int(&cut_rng, 6);
    else want = 0;
    while (want > 0 && asr_fbank_stream_ready(&s) > 0 && *T < cap) {
      int got = asr_fbank_stream_pull(&s, y + (size_t)*T * dim, mode == 1 ? 1 : want);
      *T += got;
      if (mode != 0) break;
    }
    if (i >= n) break;
  }
  if (!*why && asr_fbank_stream_end(&s, &err) != ASR_OK) snprintf(why, why_cap, "end: %.200s", err.msg);
  while (asr_fbank_stream_ready(&s) > 0 && *T < cap) *T += asr_fbank_stream_pull(&s, y + (size_t)*T * dim, 1 + (*T % 3));
  if (!*why && asr_fbank_stream_ready(&s) != 0)
    snprintf(why, why_cap, "%d frames more than asr_fbank_num_frames", asr_fbank_stream_ready(&s));
  if (!*why && s.samples != n) snprintf(why, why_cap, "%lld samples counted", (long long)s.samples);
  asr_fbank_stream_free(&s);
  if (*why) {
    free(y);
    return NULL;
  }
  return y;
}

/* The stream gives asr_fbank's frames bit for bit (memcmp) for every option set below x
 * every length x every cutting x every pull mode: the reference is the whole-signal
 * asr_fbank itself (the numbers must be its numbers, not merely close), whose own
 * correctness is checked against Kaldi above. The option sets cover both snip_edges,
 * every window, FFT sizes that are and are not powers of two, energy in every position,
 * raw and windowed energy, magnitude and linear output, no pre-emphasis / DC removal,
 * shift longer than the window (frames skip samples), 8 kHz, 22.05 kHz (an odd window,
 * 551 samples), and dither
 * (the same seed: the draws come in the same order). The lengths reach the edge cases:
 * empty, shorter than half a window (mirrored several times with snip_edges = 0), one
 * window +- 1, and 1.3 s. */
static void t_stream_bit_identical(tctx *t) {
  enum { NSETS = 12 };
  asr_fbank_opts sets[NSETS];
  int lengths[11], nl = 0, k, c, m, runs = 0, bad = 0;
  char what[200] = "";
  asr_real *x;
  asr_rng rng;
  for (k = 0; k < NSETS; k++) sets[k] = asr_fbank_opts_default();
  sets[1].snip_edges = 0;
  sets[2].snip_edges = 0, sets[2].window_type = ASR_WINDOW_HAMMING, sets[2].use_energy = 1;
  sets[3].window_type = ASR_WINDOW_HANNING, sets[3].use_energy = 1, sets[3].htk_compat = 1, sets[3].raw_energy = 0;
  sets[4].snip_edges = 0, sets[4].window_type = ASR_WINDOW_RECTANGULAR, sets[4].round_to_power_of_two = 0;
  sets[5].window_type = ASR_WINDOW_BLACKMAN, sets[5].preemphasis_coefficient = 0, sets[5].remove_dc_offset = 0;
  sets[6].use_log_fbank = 0, sets[6].use_power = 0, sets[6].num_mel_bins = 40;
  sets[7].frame_length = 10, sets[7].frame_shift = 15;                          /* shift > window */
  sets[8].snip_edges = 0, sets[8].frame_length = 10, sets[8].frame_shift = 15, sets[8].use_energy = 1;
  sets[9].sample_frequency = 8000, sets[9].snip_edges = 0, sets[9].num_mel_bins = 15, sets[9].energy_floor = 0;
  sets[10].sample_frequency = 22050, sets[10].high_freq = -400;
  sets[10].snip_edges = 0;                                                    /* L = 551, odd */
  sets[11].dither = 1, sets[11].snip_edges = 0, sets[11].use_energy = 1;          /* Kaldi's defaults */
  x = TALLOC(asr_real, 60000);
  asr_rng_seed(&rng, 77, 0);
  for (k = 0; k < 60000; k++) x[k] = (asr_real)(3000 * sin(0.031 * k) * sin(0.0007 * k) + 300 * asr_rng_normal(&rng));
  for (k = 0; k < NSETS && !bad; k++) {
    const asr_fbank_opts *o = &sets[k];
    int L = asr_fbank_window_size(o), M = asr_fbank_window_shift(o), li;
    size_t wb = asr_fbank_workspace_size(o);
    void *w = talloc_(wb);
    nl = 0;
    lengths[nl++] = 0, lengths[nl++] = 1, lengths[nl++] = 7, lengths[nl++] = L / 2 - 1, lengths[nl++] = L - 1;
    lengths[nl++] = L, lengths[nl++] = L + 1, lengths[nl++] = L + M, lengths[nl++] = 3 * L + 2 * M + 5;
    lengths[nl++] = (int)(1.3 * o->sample_frequency);
    for (li = 0; li < nl && !bad; li++) {
      int n = lengths[li], Tw = asr_fbank_num_frames(n, o), dim = asr_fbank_dim(o);
      asr_real *whole = TALLOC(asr_real, (size_t)(Tw + 1) * dim);
      asr_rng dr;
      asr_error err;
      asr_rng_seed(&dr, 1000 + (uint64_t)li, 2);
      CHECK_OK(asr_fbank(whole, x, n, o, &dr, w, wb, &err));
      for (c = 0; c < 7 && !bad; c++) {
        if (c == 1 && n > 20000) continue;            /* one sample at a time: the short ones */
        for (m = 0; m < 4 && !bad; m++) {
          int Ts;
          char why[256];
          asr_real *y = fb_stream_run(o, x, n, c, m, 1000 + (uint64_t)li, &Ts, why, sizeof why);
          runs++;
          if (!y || Ts != Tw || (Tw > 0 && memcmp(y, whole, sizeof(asr_real) * (size_t)Tw * dim) != 0)) {
            snprintf(what, sizeof what, "option set %d, n %d, cutting %d, pull mode %d: %d frames vs %d %.120s", k,
                     n, c, m, Ts, Tw, y ? "or different bits" : why);
            bad = 1;
          }
          free(y);
        }
      }
      free(whole);
    }
    free(w);
  }
  free(x);
  CHECKF(!bad, "%s", what);
  snprintf(t->msg, sizeof t->msg, "%d runs (%d option sets x 10 lengths x 7 cuttings x 4 pull modes; one sample at a time only up to 20000 samples), memcmp-equal",
           runs, NSETS);
}

/* What the stream refuses: subtract_mean (at init), dither without an rng, a chunk with a
 * NaN (whole, nothing taken), a push after the end, an end twice; and a failed init frees
 * nothing twice. */
static void t_stream_refusals(tctx *t) {
  asr_fbank_opts o = asr_fbank_opts_default();
  asr_fbank_stream s;
  asr_error err;
  asr_real x[500];
  int i;
  for (i = 0; i < 500; i++) x[i] = (asr_real)(i % 17);
  o.subtract_mean = 1;
  CHECK(asr_fbank_stream_init(&s, &o, NULL, NULL, &err) == ASR_ERR_INVALID_ARG && strstr(err.msg, "subtract_mean"));
  asr_fbank_stream_free(&s);
  o.subtract_mean = 0;
  o.dither = 1;
  CHECK(asr_fbank_stream_init(&s, &o, NULL, NULL, &err) == ASR_ERR_INVALID_ARG);
  o.dither = 0;
  o.num_mel_bins = 2;
  CHECK(asr_fbank_stream_init(&s, &o, NULL, NULL, &err) == ASR_ERR_RANGE);
  o.num_mel_bins = 23;
  CHECK_OK(asr_fbank_stream_init(&s, &o, NULL, NULL, &err));
  CHECK_OK(asr_fbank_stream_push(&s, x, 450, &err));
  CHECK(asr_fbank_stream_ready(&s) == 1);
  x[3] = (asr_real)NAN;
  CHECK(asr_fbank_stream_push(&s, x, 10, &err) == ASR_ERR_NONFINITE && strstr(err.msg, "sample 453"));
  CHECK(s.samples == 450 && asr_fbank_stream_ready(&s) == 1);
  CHECK(asr_fbank_stream_push(&s, x, -1, &err) == ASR_ERR_INVALID_ARG);
  CHECK_OK(asr_fbank_stream_end(&s, &err));
  CHECK(asr_fbank_stream_push(&s, x + 4, 10, &err) == ASR_ERR_INVALID_ARG);
  CHECK(asr_fbank_stream_end(&s, &err) == ASR_ERR_INVALID_ARG);
  CHECK(asr_fbank_stream_pull(&s, NULL, 5) == 0 && asr_fbank_stream_ready(&s) == 1);
  asr_fbank_stream_free(&s);
  asr_fbank_stream_free(&s);                          /* zeroed by the first: safe */
}

static const test_case TESTS_fbank[] = {
  {"fbank/vtln_warp_naive_vs_ref", t_vtln_warp_naive_vs_ref},
  {"fbank/vtln_bad", t_vtln_bad},
  {"fbank/vtln_fbank", t_vtln_fbank},
  {"fbank/num_frames", t_num_frames},
  {"fbank/short_signal", t_short_signal},
  {"fbank/bad_options", t_bad_options},
  {"fbank/windows", t_windows},
  {"fbank/mel_banks", t_mel_banks},
  {"fbank/stages", t_stages},
  {"fbank/naive_vs_ref_grid", t_naive_vs_ref_grid},
  {"fbank/naive_vs_ref_preparation", t_naive_vs_ref_preparation},
  {"fbank/check_ref", t_check_ref},
  {"fbank/check_fast", t_check_fast},
  {"fbank/check_catches_bugs", t_check_catches_bugs},
  {"fbank/dither", t_dither},
  {"fbank/energy_column", t_energy_column},
  {"fbank/sine_peak", t_sine_peak},
  {"fbank/subtract_mean", t_subtract_mean},
  {"fbank/kaldi_default", t_kaldi_default},
  {"fbank/kaldi_40_bins", t_kaldi_40},
  {"fbank/kaldi_40_no_snip_edges", t_kaldi_40_no_snip},
  {"fbank/kaldi_energy", t_kaldi_energy},
  {"fbank/kaldi_htk_compat", t_kaldi_htk_compat},
  {"fbank/htk_fbank1", t_htk1},
  {"fbank/htk_fbank2", t_htk2},
  {"fbank/cmvn", t_cmvn},
  {"fbank/cmvn_global", t_cmvn_global},
  {"fbank/specaugment", t_specaugment},
  {"fbank/stream_bit_identical", t_stream_bit_identical},
  {"fbank/stream_refusals", t_stream_refusals},
  {0, 0}
};
