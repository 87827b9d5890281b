/* examples/asrtool/fbank.c - the features commands of asrtool (section 2 and 3 of asr.h):
 *
 *   asrtool fbank [options] IN OUT.npy       Kaldi log-mel filterbank (frames, bins)
 *   asrtool decode [options] IN OUT.npy      the samples of a WAV / Ogg Vorbis file
 *   asrtool resample [options] IN OUT.npy    windowed-sinc resampling (torchaudio's filter)
 *
 * IN is a WAV or Ogg Vorbis file, or a 1-D .npy waveform; which one is told by the first
 * bytes of the file, not by its name. Everything is read and checked before anything is
 * written: bad input exits 2 with one line on stderr and leaves no output file. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <stdlib.h>
#include <string.h>

/* A waveform from IN: WAV / Ogg Vorbis (Kaldi's 16-bit scale unless `scale` says
 * otherwise, rate from the file) or a 1-D .npy (samples as they are, rate 0: unknown). */
typedef struct fb_wave {
  asr_real *x;
  int n, rate, channels, is_npy;
} fb_wave;

static int fb_read_wave(const char *path, int channel, asr_audio_scale scale, fb_wave *w) {
  unsigned char *buf;
  size_t len;
  asr_error err;
  memset(w, 0, sizeof *w);
  if (asr_read_file(path, &buf, &len, NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
  if (len == 0) {
    free(buf);
    return at_fail("%s: empty file", path);
  }
  if (len >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0) {
    asr_array a;
    asr_result r = asr_npy_parse(buf, len, &a, NULL, &err);
    free(buf);
    if (r != ASR_OK) return at_fail("%s: %s", path, err.msg);
    if (a.ndim != 1 || a.dtype == ASR_DTYPE_U8 || a.count > 0x7FFFFFFF) {
      int nd = a.ndim;
      asr_dtype dt = a.dtype;
      asr_array_free(&a, NULL);
      return at_fail("%s: expected a 1-D float waveform, got a %d-D %s array", path, nd, asr_dtype_name(dt));
    }
    if (channel > 0) {
      asr_array_free(&a, NULL);
      return at_fail("%s: --channel %d, but a .npy waveform has one channel", path, channel);
    }
    w->x = (asr_real *)malloc(sizeof(asr_real) * (a.count ? a.count : 1));
    if (!w->x) {
      asr_array_free(&a, NULL);
      return at_fail("%s: out of memory", path);
    }
    if (asr_array_to_real(&a, w->x, 0, &err) != ASR_OK) {
      asr_array_free(&a, NULL);
      free(w->x);
      w->x = NULL;
      return at_fail("%s: %s", path, err.msg);
    }
    w->n = (int)a.count;
    w->channels = 1;
    w->is_npy = 1;
    asr_array_free(&a, NULL);
    return 0;
  } else {
    asr_audio au;
    asr_result r = asr_audio_parse(buf, len, channel, scale, &au, NULL, &err);
    free(buf);
    if (r != ASR_OK) {
      if (r == ASR_ERR_FORMAT && strcmp(err.msg, "not a WAV or Ogg Vorbis file") == 0)
        return at_fail("%s: not a WAV, Ogg Vorbis or .npy file", path);
      return at_fail("%s: %s", path, err.msg);
    }
    w->x = au.samples;      /* ASR_MALLOC is malloc here */
    w->n = au.n;
    w->rate = au.sample_rate;
    w->channels = au.channels;
    return 0;
  }
}

/* asrtool fbank --stages: feats (T, D) and the steps before the mel banks into OUTDIR, all
 * written together (at_out_commit). The stages are computed again from the same dither
 * seed, so frames and power are those of the features. Returns 0, 2 (written nothing), or
 * -1 with err filled. */
static int fb_write_stages(const asr_real *feats, int T, int D, const fb_wave *w, const asr_fbank_opts *o,
                           asr_rng *rng, int seed, void *work, size_t wbytes, const char *outdir, asr_error *err) {
  const int L = asr_fbank_window_size(o), K = asr_fbank_padded_size(o) / 2 + 1, B = o->num_mel_bins;
  asr_real *win = (asr_real *)malloc(sizeof(asr_real) * (size_t)L);
  asr_real *frames = (asr_real *)malloc(sizeof(asr_real) * ((size_t)T * L + 1));
  asr_real *power = (asr_real *)malloc(sizeof(asr_real) * ((size_t)T * K + 1));
  asr_real *banks = (asr_real *)malloc(sizeof(asr_real) * (size_t)B * K);
  at_outputs outs;
  int64_t s_f[2], s_w[1], s_fr[2], s_p[2], s_b[2];
  int r = -1;
  outs.n = 0;
  if (!win || !frames || !power || !banks) {
    free(win), free(frames), free(power), free(banks);
    return at_fail("out of memory");
  }
  asr_rng_seed(rng, (uint64_t)seed, 0);
  if (asr_fbank_window(win, o, err) == ASR_OK && asr_fbank_mel_banks(banks, NULL, o, err) == ASR_OK &&
      asr_fbank_stages(frames, power, w->x, w->n, o, rng, work, wbytes, err) == ASR_OK) {
    s_f[0] = T, s_f[1] = D, s_w[0] = L, s_fr[0] = T, s_fr[1] = L, s_p[0] = T, s_p[1] = K, s_b[0] = B, s_b[1] = K;
    at_out_add(&outs, "feats.npy", ASR_DTYPE_REAL, 2, s_f, feats);
    at_out_add(&outs, "window.npy", ASR_DTYPE_REAL, 1, s_w, win);
    at_out_add(&outs, "frames.npy", ASR_DTYPE_REAL, 2, s_fr, frames);
    at_out_add(&outs, "power.npy", ASR_DTYPE_REAL, 2, s_p, power);
    at_out_add(&outs, "mel_banks.npy", ASR_DTYPE_REAL, 2, s_b, banks);
    r = at_out_commit(&outs, outdir);
  }
  free(win), free(frames), free(power), free(banks);
  return r;
}

/* ---- asrtool fbank */
int cmd_fbank(int argc, char **argv) {
  asr_fbank_opts o = asr_fbank_opts_default();
  double fs = 0;                 /* 0: not given (file's rate, or 16000 for .npy) */
  int window = 0, channel = -1, seed = 0, stages = 0, npos, r, T, D;
  char *pos[2];
  fb_wave w;
  asr_error err;
  asr_real *feats;
  void *work;
  size_t wbytes;
  asr_rng rng;
  int64_t shape[2];
  asr_result res;
  const at_opt opts[] = {
    {"num-mel-bins", AT_INT, &o.num_mel_bins, -1e9, 1e9, NULL},
    {"frame-length", AT_REAL, &o.frame_length, -1e9, 1e9, NULL},
    {"frame-shift", AT_REAL, &o.frame_shift, -1e9, 1e9, NULL},
    {"dither", AT_REAL, &o.dither, -1e9, 1e9, NULL},
    {"preemphasis-coefficient", AT_REAL, &o.preemphasis_coefficient, -1e9, 1e9, NULL},
    {"remove-dc-offset", AT_BOOL, &o.remove_dc_offset, 0, 0, NULL},
    {"window-type", AT_CHOICE, &window, 0, 0, "povey|hamming|hanning|rectangular|blackman"},
    {"blackman-coeff", AT_REAL, &o.blackman_coeff, -1e9, 1e9, NULL},
    {"round-to-power-of-two", AT_BOOL, &o.round_to_power_of_two, 0, 0, NULL},
    {"snip-edges", AT_BOOL, &o.snip_edges, 0, 0, NULL},
    {"low-freq", AT_REAL, &o.low_freq, -1e12, 1e12, NULL},
    {"high-freq", AT_REAL, &o.high_freq, -1e12, 1e12, NULL},
    {"use-energy", AT_BOOL, &o.use_energy, 0, 0, NULL},
    {"raw-energy", AT_BOOL, &o.raw_energy, 0, 0, NULL},
    {"energy-floor", AT_REAL, &o.energy_floor, -1e300, 1e300, NULL},
    {"use-log-fbank", AT_BOOL, &o.use_log_fbank, 0, 0, NULL},
    {"use-power", AT_BOOL, &o.use_power, 0, 0, NULL},
    {"subtract-mean", AT_BOOL, &o.subtract_mean, 0, 0, NULL},
    {"htk-compat", AT_BOOL, &o.htk_compat, 0, 0, NULL},
    {"vtln-warp", AT_REAL, &o.vtln_warp, -1e12, 1e12, NULL},
    {"vtln-low", AT_REAL, &o.vtln_low, -1e12, 1e12, NULL},
    {"vtln-high", AT_REAL, &o.vtln_high, -1e12, 1e12, NULL},
    {"sample-frequency", AT_REAL, &fs, 1e-300, 1e12, NULL},
    {"channel", AT_INT, &channel, -1, 65535, NULL},
    {"seed", AT_INT, &seed, 0, 2147483647, NULL},
    {"stages", AT_FLAG, &stages, 0, 0, NULL},
  };
  r = at_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 2, 2, &npos,
               "fbank [options] IN OUT.npy\n"
               "  Kaldi log-mel filterbank of IN (.wav, .ogg or 1-D .npy) as a (frames, bins) array,\n"
               "  option for option torchaudio.compliance.kaldi.fbank (names with dashes, defaults):\n"
               "    --num-mel-bins 23 --frame-length 25 --frame-shift 10 --dither 0\n"
               "    --preemphasis-coefficient 0.97 --remove-dc-offset true\n"
               "    --window-type povey|hamming|hanning|rectangular|blackman --blackman-coeff 0.42\n"
               "    --round-to-power-of-two true --snip-edges true --low-freq 20 --high-freq 0\n"
               "    --use-energy false --raw-energy true --energy-floor 1 --use-log-fbank true\n"
               "    --use-power true --subtract-mean false --htk-compat false\n"
               "    --vtln-warp 1 --vtln-low 100 --vtln-high -500   (Kaldi's VTLN warp of the mel\n"
               "    triangles' edges; the cut-offs in Hz, --vtln-high <= 0 below Nyquist)\n"
               "    --sample-frequency HZ   (.npy: default 16000; .wav/.ogg: must match the file)\n"
               "  and --channel -1 (mean of the channels) | C, --seed S (dither noise),\n"
               "  --impl naive|ref|simd, --verbose. WAV/Ogg samples are in Kaldi's 16-bit scale.\n"
               "  --stages: OUT is a folder: OUT/feats.npy (the fbank) and the steps before the mel banks:\n"
               "    window.npy (L), frames.npy (T, L) after DC offset, pre-emphasis and window,\n"
               "    power.npy (T, N/2+1) the power spectrum, mel_banks.npy (bins, N/2+1)\n"
               "    (asr_fbank_stages, asr_fbank_window, asr_fbank_mel_banks).");
  if (r) return r == 1 ? 0 : r;
  o.window_type = (asr_window_type)window;
  if (fb_read_wave(pos[0], channel, ASR_SCALE_INT16, &w)) return 2;
  if (w.is_npy) {
    o.sample_frequency = fs > 0 ? fs : 16000;
  } else {
    if (fs > 0 && fs != w.rate) {
      free(w.x);
      return at_fail("%s: the file is %d Hz but --sample-frequency is %g (resample it first, "
                     "e.g. asrtool resample, or leave the option out)", pos[0], w.rate, fs);
    }
    o.sample_frequency = w.rate;
  }
  if (asr_fbank_check_opts(&o, &err) != ASR_OK) {
    free(w.x);
    return at_fail("%s", err.msg);
  }
  T = asr_fbank_num_frames(w.n, &o);
  D = asr_fbank_dim(&o);
  wbytes = asr_fbank_workspace_size(&o);
  feats = (asr_real *)malloc(sizeof(asr_real) * ((size_t)T * (size_t)D + 1));
  work = malloc(wbytes);
  if (!feats || !work) {
    free(w.x), free(feats), free(work);
    return at_fail("out of memory");
  }
  asr_rng_seed(&rng, (uint64_t)seed, 0);
  if (at_impl == AT_IMPL_NAIVE) res = asr_fbank_naive(feats, w.x, w.n, &o, &rng, work, wbytes, &err);
  else if (at_impl == AT_IMPL_REF) res = asr_fbank_ref(feats, w.x, w.n, &o, &rng, work, wbytes, &err);
  else res = asr_fbank(feats, w.x, w.n, &o, &rng, work, wbytes, &err);
  if (res == ASR_OK && stages) {
    r = fb_write_stages(feats, T, D, &w, &o, &rng, seed, work, wbytes, pos[1], &err);
    free(work), free(w.x), free(feats);
    return r == -1 ? at_fail("%s: %s", pos[0], err.msg) : r;
  }
  free(work);
  if (res != ASR_OK) {
    free(w.x), free(feats);
    return at_fail("%s: %s", pos[0], err.msg);
  }
  shape[0] = T;
  shape[1] = D;
  if (asr_npy_write(pos[1], ASR_DTYPE_REAL, 2, shape, feats, &err) != ASR_OK) {
    free(w.x), free(feats);
    return at_fail("%s", err.msg);
  }
  if (at_verbose)
    printf("%s: %d samples at %g Hz -> %s (%d, %d), %s window, %d-point FFT\n", pos[0], w.n,
           o.sample_frequency, pos[1], T, D, asr_window_name(o.window_type), asr_fbank_padded_size(&o));
  free(w.x);
  free(feats);
  return 0;
}

/* ---- asrtool decode */
int cmd_decode(int argc, char **argv) {
  int channel = -1, scale = 0, npos, r;
  char *pos[2];
  fb_wave w;
  asr_error err;
  int64_t shape[1];
  const at_opt opts[] = {
    {"channel", AT_INT, &channel, -1, 65535, NULL},
    {"scale", AT_CHOICE, &scale, 0, 0, "int16|unit"},
  };
  r = at_parse(argc, argv, opts, 2, pos, 2, 2, &npos,
               "decode [--channel -1|C] [--scale int16|unit] IN OUT.npy\n"
               "  the samples of a WAV or Ogg Vorbis file as a 1-D array: the mean of the channels\n"
               "  (--channel -1) or one channel, in the 16-bit integer range (Kaldi) or in [-1, 1].\n"
               "  With --verbose, prints the sample rate, channels and sample count.");
  if (r) return r == 1 ? 0 : r;
  if (fb_read_wave(pos[0], channel, scale ? ASR_SCALE_UNIT : ASR_SCALE_INT16, &w)) return 2;
  if (w.is_npy) {
    free(w.x);
    return at_fail("%s: is a .npy array, not a WAV or Ogg Vorbis file", pos[0]);
  }
  shape[0] = w.n;
  if (asr_npy_write(pos[1], ASR_DTYPE_REAL, 1, shape, w.x, &err) != ASR_OK) {
    free(w.x);
    return at_fail("%s", err.msg);
  }
  if (at_verbose) printf("%s: %d Hz, %d channel%s, %d samples\n", pos[0], w.rate, w.channels, w.channels == 1 ? "" : "s", w.n);
  free(w.x);
  return 0;
}

/* ---- asrtool resample */
int cmd_resample(int argc, char **argv) {
  int orig = 0, nw = 0, width = 6, npos, r, m;
  double rolloff = 0.99;
  char *pos[2];
  fb_wave w;
  asr_error err;
  asr_real *y;
  int64_t shape[1];
  size_t plen;
  const at_opt opts[] = {
    {"orig-freq", AT_INT, &orig, 1, 2147483647, NULL},
    {"new-freq", AT_INT, &nw, 1, 2147483647, NULL},
    {"lowpass-filter-width", AT_INT, &width, 1, 1000, NULL},
    {"rolloff", AT_REAL, &rolloff, 1e-6, 1, NULL},
  };
  r = at_parse(argc, argv, opts, 4, pos, 2, 2, &npos,
               "resample --new-freq HZ [--orig-freq HZ] [--lowpass-filter-width 6] [--rolloff 0.99] IN OUT\n"
               "  windowed-sinc resampling with a Hann window, the filter of\n"
               "  torchaudio.functional.resample. IN: .wav/.ogg (rate from the file, 16-bit scale)\n"
               "  or 1-D .npy (--orig-freq required). OUT: .npy, or .wav (16-bit PCM).");
  if (r) return r == 1 ? 0 : r;
  if (nw < 1) return at_fail("--new-freq is required");
  if (fb_read_wave(pos[0], -1, ASR_SCALE_INT16, &w)) return 2;
  if (w.is_npy && orig < 1) {
    free(w.x);
    return at_fail("%s: a .npy waveform needs --orig-freq", pos[0]);
  }
  if (!w.is_npy) {
    if (orig > 0 && orig != w.rate) {
      free(w.x);
      return at_fail("%s: the file is %d Hz but --orig-freq is %d", pos[0], w.rate, orig);
    }
    orig = w.rate;
  }
  m = asr_resample_length(w.n, orig, nw);
  if (m < 0) {
    free(w.x);
    return at_fail("%s: %s", pos[0],
                   (int64_t)orig > (int64_t)ASR_RESAMPLE_MAX_RATIO * nw || (int64_t)nw > (int64_t)ASR_RESAMPLE_MAX_RATIO * orig
                       ? "the ratio of the rates is above 96 (asr.h's ASR_RESAMPLE_MAX_RATIO)"
                       : "the resampled signal would be too long");
  }
  y = (asr_real *)malloc(sizeof(asr_real) * ((size_t)m + 1));
  if (!y) {
    free(w.x);
    return at_fail("out of memory");
  }
  asr_resample(y, w.x, w.n, orig, nw, width, rolloff);
  free(w.x);
  plen = strlen(pos[1]);
  if (plen > 4 && strcmp(pos[1] + plen - 4, ".wav") == 0) {
    if (asr_wav_write(pos[1], y, m, 1, nw, ASR_WAV_PCM16, ASR_SCALE_INT16, &err) != ASR_OK) {
      free(y);
      return at_fail("%s", err.msg);
    }
  } else {
    shape[0] = m;
    if (asr_npy_write(pos[1], ASR_DTYPE_REAL, 1, shape, y, &err) != ASR_OK) {
      free(y);
      return at_fail("%s", err.msg);
    }
  }
  if (at_verbose) printf("%s: %d samples at %d Hz -> %s: %d samples at %d Hz\n", pos[0], w.n, orig, pos[1], m, nw);
  free(y);
  return 0;
}

/* ---- bench: fbank naive / ref / fast on 60 s of 16 kHz audio (white noise in the 16-bit
 * scale), Kaldi's default options with 80 mel bins. Case name shared with bench/compare.py. */
typedef struct fb_bench_ctx {
  asr_fbank_fn fn;
  asr_fbank_opts o;
  asr_real *x, *y;
  int n;
  void *work;
  size_t wb;
} fb_bench_ctx;
static void fb_bench_call(void *v) {
  fb_bench_ctx *c = (fb_bench_ctx *)v;
  asr_error err;
  if (c->fn(c->y, c->x, c->n, &c->o, NULL, c->work, c->wb, &err) != ASR_OK) fprintf(stderr, "bench fbank: %s\n", err.msg);
}
/* ---- bench: resampling 60 s of 8 kHz noise to 16 kHz (the FSDD case), naive (every
 * tap's sin and cos), ref (asr_resample_ref's per-phase tables) and simd (asr_resample,
 * the polyphase FIR); case name shared with bench/compare.py. */
typedef struct rs_bench_ctx {
  asr_result (*fn)(asr_real *, const asr_real *, int, int, int, int, double);
  asr_real *x, *y;
  int n;
} rs_bench_ctx;
static void rs_bench_call(void *v) {
  rs_bench_ctx *c = (rs_bench_ctx *)v;
  if (c->fn(c->y, c->x, c->n, 8000, 16000, 6, 0.99) != ASR_OK) fprintf(stderr, "bench resample: failed\n");
}
void bench_resample(at_bench *b) {
  rs_bench_ctx c;
  asr_rng rng;
  int i;
  c.n = 60 * 8000;
  c.x = (asr_real *)malloc(sizeof(asr_real) * (size_t)c.n);
  c.y = (asr_real *)malloc(sizeof(asr_real) * (size_t)asr_resample_length(c.n, 8000, 16000));
  if (!c.x || !c.y) {
    free(c.x), free(c.y);
    return;
  }
  asr_rng_seed(&rng, 8, 0);
  for (i = 0; i < c.n; i++) c.x[i] = (asr_real)(1000 * asr_rng_normal(&rng));
  c.fn = asr_resample_naive;
  at_bench_report(b, "resample 60 s 8 kHz -> 16 kHz", "naive", at_bench_time(rs_bench_call, &c, 0));
  c.fn = asr_resample_ref;
  at_bench_report(b, "resample 60 s 8 kHz -> 16 kHz", "ref", at_bench_time(rs_bench_call, &c, 1.0));
  c.fn = asr_resample;
  at_bench_report(b, "resample 60 s 8 kHz -> 16 kHz", "simd", at_bench_time(rs_bench_call, &c, 1.0));
  free(c.x), free(c.y);
}

void bench_fbank(at_bench *b) {
  static const char *impls[3] = {"naive", "ref", "simd"};
  static const asr_fbank_fn fns[3] = {asr_fbank_naive, asr_fbank_ref, asr_fbank};
  fb_bench_ctx c;
  asr_rng rng;
  int i, k;
  c.o = asr_fbank_opts_default();
  c.o.num_mel_bins = 80;
  c.n = 60 * 16000;
  c.x = (asr_real *)malloc(sizeof(asr_real) * (size_t)c.n);
  c.y = (asr_real *)malloc(sizeof(asr_real) * (size_t)asr_fbank_num_frames(c.n, &c.o) * 80);
  c.wb = asr_fbank_workspace_size(&c.o);
  c.work = malloc(c.wb);
  if (!c.x || !c.y || !c.work) {
    free(c.x), free(c.y), free(c.work);
    return;
  }
  asr_rng_seed(&rng, 60, 0);
  for (i = 0; i < c.n; i++) c.x[i] = (asr_real)(1000 * asr_rng_normal(&rng));
  for (k = 0; k < 3; k++) {
    c.fn = fns[k];
    at_bench_report(b, "fbank 60 s 16 kHz, 80 bins", impls[k], at_bench_time(fb_bench_call, &c, k == 0 ? 0 : 1.0));
  }
  free(c.x), free(c.y), free(c.work);
}
