/* tests/test_audio.c - section 2: WAV read/write (every format, chunk layouts, malformed
 * files), Ogg Vorbis through stb_vorbis, resampling. */

/* ---- hand-made WAV files, byte by byte (independent of asr_wav_encode) */
typedef struct wavbuf {
  unsigned char b[4096];
  size_t n;
} wavbuf;
static void wb_bytes(wavbuf *w, const void *p, size_t n) {
  memcpy(w->b + w->n, p, n);
  w->n += n;
}
static void wb_u16(wavbuf *w, unsigned v) {
  unsigned char c[2];
  c[0] = (unsigned char)(v & 0xff);
  c[1] = (unsigned char)((v >> 8) & 0xff);
  wb_bytes(w, c, 2);
}
static void wb_u32(wavbuf *w, unsigned long v) {
  wb_u16(w, (unsigned)(v & 0xffff));
  wb_u16(w, (unsigned)((v >> 16) & 0xffff));
}
static void wb_chunk(wavbuf *w, const char *id, const void *body, size_t n) {
  wb_bytes(w, id, 4);
  wb_u32(w, (unsigned long)n);
  wb_bytes(w, body, n);
  if (n & 1) w->b[w->n++] = 0;      /* pad */
}
/* "fmt " body of 16 bytes */
static void fmt16(unsigned char *f, unsigned tag, unsigned ch, unsigned long rate, unsigned bits) {
  wavbuf t;
  t.n = 0;
  wb_u16(&t, tag);
  wb_u16(&t, ch);
  wb_u32(&t, rate);
  wb_u32(&t, rate * ch * (bits / 8));
  wb_u16(&t, ch * (bits / 8));
  wb_u16(&t, bits);
  memcpy(f, t.b, 16);
}
static void riff_start(wavbuf *w) {
  w->n = 0;
  wb_bytes(w, "RIFF\0\0\0\0WAVE", 12);
}
static void riff_end(wavbuf *w) {
  unsigned long v = (unsigned long)w->n - 8;
  w->b[4] = (unsigned char)(v & 0xff);
  w->b[5] = (unsigned char)((v >> 8) & 0xff);
  w->b[6] = (unsigned char)((v >> 16) & 0xff);
  w->b[7] = (unsigned char)((v >> 24) & 0xff);
}

/* Known bytes -> known samples, each format (values worked out by hand). */
static void t_wav_known_bytes(tctx *t) {
  wavbuf w;
  unsigned char f[40];
  asr_audio a;
  asr_error err;
  /* 8-bit unsigned: 0x00 -> -128, 0x80 -> 0, 0xFF -> 127 (times 256 in the 16-bit scale) */
  static const unsigned char d8[3] = {0x00, 0x80, 0xFF};
  /* 24-bit: 0x800000 -> -8388608 (-32768 in 16-bit scale), 0x000100 -> 256 (1), 0x7FFFFF */
  static const unsigned char d24[9] = {0x00, 0x00, 0x80, 0x00, 0x01, 0x00, 0xFF, 0xFF, 0x7F};
  /* 32-bit: 0x00010000 -> 65536 (1), 0x80000000 -> -2^31 (-32768) */
  static const unsigned char d32[8] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x80};
  /* float32 0.5 = 0x3F000000, -0.25 = 0xBE800000 */
  static const unsigned char df[8] = {0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x80, 0xBE};
  /* float64 0.125 = 0x3FC0000000000000 */
  static const unsigned char dd[8] = {0, 0, 0, 0, 0, 0, 0xC0, 0x3F};
  riff_start(&w);
  fmt16(f, 1, 1, 8000, 8);
  wb_chunk(&w, "fmt ", f, 16);
  wb_chunk(&w, "data", d8, 3);
  riff_end(&w);
  CHECKF(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
  CHECK(a.n == 3 && a.sample_rate == 8000 && a.bits == 8 && a.channels == 1);
  CHECK(a.samples[0] == -32768 && a.samples[1] == 0 && a.samples[2] == 127 * 256);
  asr_audio_free(&a, NULL);
  CHECK_OK(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_UNIT, &a, NULL, &err));
  CHECK(a.samples[0] == -1 && a.samples[2] == (asr_real)(127 / 128.0));
  asr_audio_free(&a, NULL);

  riff_start(&w);
  fmt16(f, 1, 1, 44100, 24);
  wb_chunk(&w, "fmt ", f, 16);
  wb_chunk(&w, "data", d24, 9);
  riff_end(&w);
  CHECK_OK(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err));
  CHECK(a.n == 3 && a.samples[0] == -32768 && a.samples[1] == 1);
  CHECK_NEAR(a.samples[2], 8388607 / 256.0, 1e-3);
  asr_audio_free(&a, NULL);

  riff_start(&w);
  fmt16(f, 1, 1, 16000, 32);
  wb_chunk(&w, "fmt ", f, 16);
  wb_chunk(&w, "data", d32, 8);
  riff_end(&w);
  CHECK_OK(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err));
  CHECK(a.n == 2 && a.samples[0] == 1 && a.samples[1] == -32768);
  asr_audio_free(&a, NULL);

  riff_start(&w);
  fmt16(f, 3, 2, 16000, 32);                 /* float32, 2 channels: one frame */
  wb_chunk(&w, "fmt ", f, 16);
  wb_chunk(&w, "data", df, 8);
  riff_end(&w);
  CHECK_OK(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_UNIT, &a, NULL, &err));
  CHECK(a.n == 1 && a.channels == 2 && a.samples[0] == (asr_real)0.125);   /* (0.5 - 0.25) / 2 */
  asr_audio_free(&a, NULL);
  CHECK_OK(asr_wav_parse(w.b, w.n, 1, ASR_SCALE_INT16, &a, NULL, &err));
  CHECK(a.samples[0] == -8192);
  asr_audio_free(&a, NULL);

  /* WAVE_FORMAT_EXTENSIBLE, float64 sub-format */
  riff_start(&w);
  {
    wavbuf x;
    static const unsigned char tail[14] = {0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71};
    x.n = 0;
    fmt16(x.b, 0xFFFE, 1, 16000, 64);
    x.n = 16;
    wb_u16(&x, 22);
    wb_u16(&x, 64);
    wb_u32(&x, 4);
    wb_u16(&x, 3);
    wb_bytes(&x, tail, 14);
    wb_chunk(&w, "fmt ", x.b, x.n);
    wb_chunk(&w, "data", dd, 8);
    riff_end(&w);
    CHECKF(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
    CHECK(a.n == 1 && a.samples[0] == 4096 && a.codec == ASR_CODEC_WAV_FLOAT && a.bits == 64);
    asr_audio_free(&a, NULL);
    /* an unknown GUID is refused */
    w.b[12 + 8 + 24 + 4] ^= 0xFF;
    CHECK(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_UNSUPPORTED);
  }
}

/* Chunk layouts: LIST before fmt, an odd-sized unknown chunk with its pad byte, fmt after
 * data, an odd data chunk without its pad at the end, a data size of 0xFFFFFFFF. */
static void t_wav_chunks(tctx *t) {
  wavbuf w;
  unsigned char f[16];
  static const unsigned char junk[5] = {1, 2, 3, 4, 5};
  static const unsigned char d16[6] = {0x01, 0x00, 0xFF, 0xFF, 0x00, 0x80};   /* 1, -1, -32768 */
  asr_audio a;
  asr_error err;
  fmt16(f, 1, 1, 16000, 16);
  riff_start(&w);
  wb_chunk(&w, "LIST", "INFOISFT\4\0\0\0abc\0", 16);
  wb_chunk(&w, "junk", junk, 5);              /* odd: followed by one pad byte */
  wb_chunk(&w, "fmt ", f, 16);
  wb_chunk(&w, "data", d16, 6);
  wb_chunk(&w, "id3 ", junk, 3);
  riff_end(&w);
  CHECKF(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
  CHECK(a.n == 3 && a.samples[0] == 1 && a.samples[1] == -1 && a.samples[2] == -32768);
  asr_audio_free(&a, NULL);
  /* fmt after data */
  riff_start(&w);
  wb_chunk(&w, "data", d16, 6);
  wb_chunk(&w, "fact", junk, 4);
  wb_chunk(&w, "fmt ", f, 16);
  riff_end(&w);
  CHECKF(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
  CHECK(a.n == 3 && a.samples[2] == -32768);
  asr_audio_free(&a, NULL);
  /* 8-bit data of odd size as the last chunk, pad byte missing */
  fmt16(f, 1, 1, 16000, 8);
  riff_start(&w);
  wb_chunk(&w, "fmt ", f, 16);
  wb_chunk(&w, "data", junk, 5);
  w.n--;                                      /* drop the pad */
  riff_end(&w);
  CHECKF(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
  CHECK(a.n == 5 && a.samples[4] == (5 - 128) * 256);
  asr_audio_free(&a, NULL);
  /* streamed: data size 0xFFFFFFFF runs to the end; a half frame at the end is dropped */
  fmt16(f, 1, 1, 16000, 16);
  riff_start(&w);
  wb_chunk(&w, "fmt ", f, 16);
  wb_bytes(&w, "data\xFF\xFF\xFF\xFF", 8);
  wb_bytes(&w, d16, 5);
  CHECKF(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
  CHECK(a.n == 2 && a.samples[1] == -1);
  asr_audio_free(&a, NULL);
}

/* Malformed files: each gives the expected error code, a message, and nothing allocated. */
static void t_wav_malformed(tctx *t) {
  wavbuf good, w;
  unsigned char f[16];
  static const unsigned char d16[8] = {1, 0, 2, 0, 3, 0, 4, 0};
  asr_audio a;
  asr_error err;
  int k;
  fmt16(f, 1, 2, 16000, 16);
  riff_start(&good);
  wb_chunk(&good, "fmt ", f, 16);
  wb_chunk(&good, "data", d16, 8);
  riff_end(&good);
  CHECK_OK(asr_wav_parse(good.b, good.n, -1, ASR_SCALE_INT16, &a, NULL, &err));
  CHECK(a.n == 2 && a.samples[0] == 1.5);
  asr_audio_free(&a, NULL);
  for (k = 0; k < 16; k++) {
    asr_result want = ASR_ERR_FORMAT, got;
    w = good;
    switch (k) {
      case 0: w.n = 0; break;                                   /* empty */
      case 1: w.n = 4; break;                                   /* "RIFF" only */
      case 2: w.n = 12; break;                                  /* header, no chunks */
      case 3: w.n = 30; break;                                  /* truncated inside fmt */
      case 4: w.n = good.n - 3; break;                          /* data past the end */
      case 5: w.b[16] = 0xFF; w.b[17] = 0xFF; w.b[18] = 0xFF; w.b[19] = 0x7F; break;  /* absurd fmt size */
      case 6: w.b[22] = 0; w.b[23] = 0; break;                  /* zero channels */
      case 7: w.b[24] = w.b[25] = w.b[26] = w.b[27] = 0; break; /* zero sample rate */
      case 8: w.b[32] = 3; break;                               /* block_align 3 */
      case 9: w.b[34] = 12; want = ASR_ERR_UNSUPPORTED; break;  /* 12-bit PCM */
      case 10: w.b[20] = 2; want = ASR_ERR_UNSUPPORTED; break;  /* ADPCM */
      case 11: memcpy(w.b, "RIFX", 4); want = ASR_ERR_UNSUPPORTED; break;
      case 12: memcpy(w.b + 8, "WAVX", 4); break;
      case 13: memcpy(w.b + 12, "xxxx", 4); break;              /* no fmt chunk */
      case 14: memcpy(w.b + 36, "xxxx", 4); w.n = 36 + 8 + 8; break;   /* no data chunk */
      case 15: w.b[40] = 0xF0; w.b[41] = 0xFF; w.b[42] = 0xFF; w.b[43] = 0xFF; break;  /* data size huge */
    }
    memset(&a, 0x55, sizeof a);
    err.msg[0] = 0;
    got = asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err);
    CHECKF(got == want, "case %d: got %d (%s), want %d", k, (int)got, err.msg, (int)want);
    CHECKF(err.msg[0] && a.samples == NULL && a.n == 0, "case %d: no message or output not cleared", k);
  }
  /* channel out of range; NaN in a float file */
  CHECK(asr_wav_parse(good.b, good.n, 2, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_RANGE);
  CHECK(asr_wav_parse(good.b, good.n, -2, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_RANGE);
  {
    static const unsigned char nan32[4] = {0x00, 0x00, 0xC0, 0x7F};
    fmt16(f, 3, 1, 16000, 32);
    riff_start(&w);
    wb_chunk(&w, "fmt ", f, 16);
    wb_chunk(&w, "data", nan32, 4);
    CHECK(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_NONFINITE);
  }
  {
    /* a 'fmt ' chunk whose size field says 14 but that holds 16 bytes: the walk lands two
     * bytes early, on "\x10\0da", which is no chunk id; the message says so (issue 18: it
     * used to print an empty chunk name) */
    unsigned char f16[16];
    static const unsigned char d2[2] = {0, 0};
    fmt16(f16, 1, 1, 16000, 16);
    riff_start(&w);
    wb_bytes(&w, "fmt \x0e\0\0\0", 8);
    wb_bytes(&w, f16, 16);
    wb_chunk(&w, "data", d2, 2);
    riff_end(&w);
    CHECK(asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_FORMAT);
    CHECKF(strstr(err.msg, "no chunk id") && strstr(err.msg, "fmt ") && strstr(err.msg, "14 bytes"), "%s", err.msg);
  }
  CHECK(asr_audio_parse(good.b, 0, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_FORMAT);
  CHECK(asr_audio_parse("hello world", 11, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_FORMAT);
}

/* Random bytes and random corruptions of a valid file never crash (ASan build) and either
 * parse or fail with a negative code and a cleared output. */
static void t_wav_random_bytes(tctx *t) {
  asr_rng rng;
  unsigned char buf[3000];
  asr_real x[300];
  size_t len, i;
  int k, ok = 0;
  asr_rng_seed(&rng, 21, 0);
  for (i = 0; i < 300; i++) x[i] = (asr_real)(1000 * asr_rng_normal(&rng));
  for (k = 0; k < 3000; k++) {
    asr_audio a;
    asr_result r;
    size_t n;
    if (k % 2 == 0) {
      CHECK_OK(asr_wav_encode(buf, sizeof buf, &len, x, 100, 1 + k % 3, 16000,
                              (k / 2) % 6 | (k % 4 == 0 ? ASR_WAV_EXTENSIBLE : 0), ASR_SCALE_INT16));
      for (i = 0; i < 1 + (size_t)asr_rng_int(&rng, 4); i++)   /* corrupt a few bytes */
        buf[asr_rng_int(&rng, (int)(k % 8 == 0 ? len : (len < 80 ? len : (size_t)80)))] = (unsigned char)asr_rng_u32(&rng);
      n = k % 3 == 0 ? (size_t)asr_rng_int(&rng, (int)len + 1) : len;   /* sometimes truncated */
    } else {
      n = (size_t)asr_rng_int(&rng, 600);
      for (i = 0; i < n; i++) buf[i] = (unsigned char)asr_rng_u32(&rng);
      if (n >= 12 && k % 4 == 1) memcpy(buf, "RIFF\0\0\0\0WAVE", 12);
    }
    r = asr_wav_parse(buf, n, ASR_CHANNEL_MIX, ASR_SCALE_INT16, &a, NULL, NULL);
    if (r == ASR_OK) {
      ok++;
      for (i = 0; i < (size_t)a.n; i++) CHECK(isfinite(a.samples[i]));
      asr_audio_free(&a, NULL);
    } else {
      CHECK(r < 0 && a.samples == NULL);
    }
  }
  snprintf(t->msg, sizeof t->msg, "3000 inputs, %d parsed", ok);
}

/* Round trips: every format, plain and extensible, 1-3 channels, each channel and the mix.
 * 16-bit-integer samples survive PCM16/24/32 and float32/64 exactly (24/32-bit store them
 * times 256 / 65536, float32 as x / 32768: all exact); PCM8 keeps the top 8 bits, so
 * |error| <= 128 (half a step of 256), and saturates above 127 * 256. */
static void t_wav_roundtrip(tctx *t) {
  enum { F = 257 };
  asr_real x[F * 3];
  asr_rng rng;
  int fmt, ext, ch, c, i;
  asr_rng_seed(&rng, 31, 0);
  for (i = 0; i < F * 3; i++) x[i] = (asr_real)(asr_rng_int(&rng, 65536) - 32768);
  x[0] = -32768;
  x[1] = 32767;
  for (fmt = ASR_WAV_PCM8; fmt <= ASR_WAV_FLOAT64; fmt++)
    for (ext = 0; ext < 2; ext++)
      for (ch = 1; ch <= 3; ch++) {
        size_t len;
        unsigned char *buf;
        int format = fmt | (ext ? ASR_WAV_EXTENSIBLE : 0);
        asr_error err;
        CHECK_OK(asr_wav_encode(NULL, 0, &len, x, F, ch, 22050, format, ASR_SCALE_INT16));
        {
          size_t data = (size_t)F * ch * (fmt == 0 ? 1 : fmt == 1 ? 2 : fmt == 2 ? 3 : fmt == 5 ? 8 : 4);
          CHECK(len == 44 + (ext ? 24u : 0u) + data + (data & 1));   /* header, data, pad */
        }
        buf = TALLOC(unsigned char, len);
        CHECK(asr_wav_encode(buf, len - 1, &len, x, F, ch, 22050, format, ASR_SCALE_INT16) == ASR_ERR_WORKSPACE);
        CHECK_OK(asr_wav_encode(buf, len, &len, x, F, ch, 22050, format, ASR_SCALE_INT16));
        for (c = -1; c < ch; c++) {
          asr_audio a;
          CHECKF(asr_wav_parse(buf, len, c, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
          CHECK(a.n == F && a.channels == ch && a.sample_rate == 22050);
          for (i = 0; i < F; i++) {
            double want = 0, tol = fmt == ASR_WAV_PCM8 ? 128 : 0;
            int k;
            /* PCM8's largest value is 127 * 256 = 32512: anything above saturates there */
#define RT_STORED(v) (fmt == ASR_WAV_PCM8 && (v) > 32512 ? 32512.0 : (double)(v))
            if (c >= 0) want = RT_STORED(x[i * ch + c]);
            else {
              for (k = 0; k < ch; k++) want += RT_STORED(x[i * ch + k]);
              want /= ch;
              tol += ASR_REAL_DOUBLE ? 1e-9 : 4e-3;        /* the mean, rounded to float */
            }
            CHECKF(fabs(a.samples[i] - want) <= tol, "format %d ext %d ch %d/%d sample %d: %g vs %g", fmt, ext, c, ch,
                   i, (double)a.samples[i], want);
          }
          asr_audio_free(&a, NULL);
        }
        free(buf);
      }
  /* saturation and the [-1, 1] scale */
  {
    asr_real y[3] = {1.5f, -2.0f, 0.25f};
    unsigned char buf[128];
    size_t len;
    asr_audio a;
    CHECK_OK(asr_wav_encode(buf, sizeof buf, &len, y, 3, 1, 8000, ASR_WAV_PCM16, ASR_SCALE_UNIT));
    CHECK_OK(asr_wav_parse(buf, len, -1, ASR_SCALE_INT16, &a, NULL, NULL));
    CHECK(a.samples[0] == 32767 && a.samples[1] == -32768 && a.samples[2] == 8192);
    asr_audio_free(&a, NULL);
    y[0] = (asr_real)NAN;
    CHECK(asr_wav_encode(buf, sizeof buf, &len, y, 3, 1, 8000, ASR_WAV_PCM16, ASR_SCALE_UNIT) == ASR_ERR_NONFINITE);
  }
}

/* Files: asr_wav_write (atomic) then asr_wav_read / asr_audio_read. */
static void t_wav_files(tctx *t) {
  char path[512];
  asr_real x[100];
  asr_audio a;
  asr_error err;
  int i;
  for (i = 0; i < 100; i++) x[i] = (asr_real)(i * 300 - 15000);
  snprintf(path, sizeof path, "%s/a.wav", t->tmpdir);
  CHECK_OK(asr_wav_write(path, x, 100, 1, 16000, ASR_WAV_PCM16, ASR_SCALE_INT16, &err));
  CHECK_OK(asr_wav_read(path, -1, ASR_SCALE_INT16, &a, NULL, &err));
  CHECK(a.n == 100 && a.samples[99] == x[99]);
  asr_audio_free(&a, NULL);
  CHECK_OK(asr_audio_read(path, -1, ASR_SCALE_UNIT, &a, NULL, &err));
  CHECK(a.samples[0] == (asr_real)(-15000 / 32768.0));
  asr_audio_free(&a, NULL);
  snprintf(path, sizeof path, "%s/no/such/dir/a.wav", t->tmpdir);
  CHECK(asr_wav_write(path, x, 100, 1, 16000, ASR_WAV_PCM16, ASR_SCALE_INT16, &err) == ASR_ERR_IO);
  CHECK(asr_wav_read(path, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_IO);
  CHECK(strstr(err.msg, "no/such") != NULL);
}

/* The Kaldi test recording: 16-bit, 16 kHz, 19200 samples; its first samples (read with
 * xxd from the data chunk: 09 01, 6e 0a, 2b 15) are 265, 2670, 5419. */
static void t_wav_shared(tctx *t) {
  char path[512];
  asr_audio a;
  asr_error err;
  SHARED_PATH(path, "kaldi/chirp/test.wav");
  CHECKF(asr_audio_read(path, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
  CHECK(a.n == 19200 && a.sample_rate == 16000 && a.bits == 16 && a.channels == 1);
  CHECK(a.samples[0] == 265 && a.samples[1] == 2670 && a.samples[2] == 5419);
  asr_audio_free(&a, NULL);
  SHARED_PATH(path, "wav/jfk.wav");                 /* has a LIST chunk before data */
  CHECKF(asr_audio_read(path, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
  CHECK(a.sample_rate == 16000 && a.n > 170000);
  asr_audio_free(&a, NULL);
}

/* The LibriSpeech Ogg files decode to the sample counts sox reports (shared data README). */
static void t_ogg_sample_counts(tctx *t) {
  static const char *names[6] = {"198-209-0000", "3436-172162-0000", "5703-47212-0000",
                                 "198-209-0000", "3436-172162-0000", "5703-47212-0000"};
  static const int counts[6] = {222561, 267920, 237440, 306717, 369227, 327222};
  int i;
  char path[512], rel[128];
  for (i = 0; i < 6; i++) {
    asr_audio a;
    asr_error err;
    double peak = 0;
    int k;
    snprintf(rel, sizeof rel, "ogg/%s%s.ogg", names[i], i < 3 ? ".hq" : "");
    SHARED_PATH(path, rel);
    CHECKF(asr_ogg_read(path, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK, "%s", err.msg);
    CHECKF(a.n == counts[i], "%s: %d samples, sox says %d", rel, a.n, counts[i]);
    CHECK(a.sample_rate == (i < 3 ? 16000 : 22050) && a.codec == ASR_CODEC_VORBIS);
    for (k = 0; k < a.n; k++) peak = fmax(peak, fabs(a.samples[k]));
    CHECKF(peak > 1000 && peak <= 32768 * 1.2, "%s: peak %g: not speech in the 16-bit scale?", rel, peak);
    asr_audio_free(&a, NULL);
  }
}

/* Broken Ogg: header only, cut inside the headers, garbage after "OggS", random flips. */
static void t_ogg_malformed(tctx *t) {
  char path[512];
  unsigned char *buf, *copy;
  size_t len;
  asr_audio a;
  asr_error err;
  asr_rng rng;
  int k, ok = 0;
  SHARED_PATH(path, "ogg/198-209-0000.hq.ogg");
  CHECK_OK(asr_read_file(path, &buf, &len, NULL, &err));
  CHECK(asr_ogg_parse(buf, 4, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_FORMAT);
  CHECK(asr_ogg_parse(buf, 200, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_FORMAT);
  CHECK(a.samples == NULL);
  CHECK(asr_ogg_parse("OggSxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 32, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_FORMAT);
  CHECK(asr_ogg_parse(buf, len, 1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_RANGE);
  /* half the file: the first half of the audio, no error */
  CHECK_OK(asr_ogg_parse(buf, len / 2, -1, ASR_SCALE_INT16, &a, NULL, &err));
  CHECK(a.n > 50000 && a.n < 222561);
  asr_audio_free(&a, NULL);
  copy = TALLOC(unsigned char, 8192);
  asr_rng_seed(&rng, 8, 0);
  for (k = 0; k < 40; k++) {
    size_t n = 4096 + (size_t)asr_rng_int(&rng, 4096), i;
    asr_result r;
    memcpy(copy, buf, n);
    for (i = 0; i < 4; i++) copy[asr_rng_int(&rng, (int)n)] ^= (unsigned char)(1 + asr_rng_int(&rng, 255));
    r = asr_ogg_parse(copy, n, -1, ASR_SCALE_INT16, &a, NULL, NULL);
    if (r == ASR_OK) {
      ok++;
      asr_audio_free(&a, NULL);
    } else {
      CHECK(r < 0 && a.samples == NULL);
    }
  }
  snprintf(t->msg, sizeof t->msg, "40 corrupted files, %d decoded", ok);
  free(copy);
  free(buf);
}

/* Resampling: lengths ceil(n F'/F); a sine below both Nyquist rates comes out as the same
 * sine at the new rate (compared with sin() itself away from the ends, where the filter's
 * passband ripple and the truncated kernel leave < 0.3%); a tone above the new Nyquist
 * rate is removed (the Hann-windowed sinc of 6 zero crossings attenuates it below 2%). */
static void t_resample(tctx *t) {
  static const int rates[4][2] = {{16000, 8000}, {8000, 16000}, {44100, 16000}, {22050, 16000}};
  const double pi = 3.14159265358979323846;
  int r, i;
  CHECK(asr_resample_length(16000, 16000, 8000) == 8000);
  CHECK(asr_resample_length(10, 3, 2) == 7);
  CHECK(asr_resample_length(10, 44100, 16000) == 4);       /* ceil(10 * 160 / 441) */
  CHECK(asr_resample_length(-1, 1, 2) == -1 && asr_resample_length(5, 0, 2) == -1);
  for (r = 0; r < 4; r++) {
    int F = rates[r][0], G = rates[r][1], n = F / 4, m = asr_resample_length(n, F, G);
    asr_real *x = TALLOC(asr_real, n), *y = TALLOC(asr_real, m);
    double worst = 0;
    for (i = 0; i < n; i++) x[i] = (asr_real)sin(2 * pi * 440 * i / F);
    CHECK_OK(asr_resample(y, x, n, F, G, 6, 0.99));
    for (i = m / 5; i < 4 * m / 5; i++) worst = fmax(worst, fabs(y[i] - sin(2 * pi * 440 * i / G)));
    CHECKF(worst < 3e-3, "%d -> %d Hz: 440 Hz sine off by %g", F, G, worst);
    free(x);
    free(y);
  }
  {
    int n = 4000, m = asr_resample_length(n, 16000, 8000);
    asr_real *x = TALLOC(asr_real, n), *y = TALLOC(asr_real, m);
    double peak = 0;
    for (i = 0; i < n; i++) x[i] = (asr_real)sin(2 * pi * 6000 * i / 16000.0);
    CHECK_OK(asr_resample(y, x, n, 16000, 8000, 6, 0.99));
    for (i = m / 5; i < 4 * m / 5; i++) peak = fmax(peak, fabs(y[i]));
    CHECKF(peak < 0.02, "6 kHz tone at 8 kHz: peak %g", peak);
    CHECK_OK(asr_resample(y, x, 100, 16000, 16000, 6, 0.99));   /* equal rates: a copy */
    for (i = 0; i < 100; i++) CHECK(y[i] == x[i]);
    CHECK(asr_resample(y, x, n, 16000, 8000, 0, 0.99) == ASR_ERR_INVALID_ARG);
    CHECK(asr_resample(y, x, n, 16000, 8000, 6, 1.5) == ASR_ERR_INVALID_ARG);
    free(x);
    free(y);
  }
  {
    /* asr_resample_ref's per-phase tables (for rates whose F' (2 width + 2) taps fit them)
     * give the bits of the naive loop, which computes every tap's sin and cos where it is
     * used; the last two pairs are too wide for the tables and take the naive loop itself.
     * (asr_resample, the float polyphase FIR: audio/resample_fast_vs_ref.) */
    static const int pairs[7][2] = {{8000, 16000}, {7200, 8000}, {8800, 8000}, {16000, 12000}, {48000, 16000},
                                    {44100, 16000}, {22050, 16000}};
    int n = 700, p;
    asr_real *x = TALLOC(asr_real, n), *y = TALLOC(asr_real, 2 * n), *z = TALLOC(asr_real, 2 * n);
    asr_rng rng;
    asr_rng_seed(&rng, 9, 0);
    for (i = 0; i < n; i++) x[i] = (asr_real)asr_rng_normal(&rng);
    for (p = 0; p < 7; p++) {
      int F0 = pairs[p][0], G0 = pairs[p][1], m = asr_resample_length(n, F0, G0), j, bad = 0;
      CHECK_OK(asr_resample_ref(y, x, n, F0, G0, 6, 0.99));
      CHECK_OK(asr_resample_naive(z, x, n, F0, G0, 6, 0.99));
      for (j = 0; j < m; j++) bad += y[j] != z[j];
      CHECKF(bad == 0, "%d -> %d Hz: %d of %d samples differ from the naive loop", F0, G0, bad, m);
    }
    CHECK(asr_resample_naive(y, x, n, 16000, 8000, 0, 0.99) == ASR_ERR_INVALID_ARG);
    CHECK(asr_resample_ref(y, x, n, 16000, 8000, 6, 0) == ASR_ERR_INVALID_ARG);
    free(x);
    free(y);
    free(z);
  }
  {
    /* asr_noise_floor: frames of L = 80 samples at 8 kHz; frame 2 holds +-3 (RMS 3 exactly),
     * the others louder; the partial last frame (40 zeros) is not a frame */
    int n = 5 * 80 + 40;
    asr_real *x = TALLOC(asr_real, n);
    for (i = 0; i < n; i++) x[i] = (asr_real)(i >= 400 ? 0 : (i / 80 == 2 ? 3 : 50) * (i % 2 ? 1 : -1));
    CHECKF(asr_noise_floor(x, n, 8000) == 3.0, "noise floor %g, expected 3", asr_noise_floor(x, n, 8000));
    CHECK(asr_noise_floor(x, 79, 8000) == 0 && asr_noise_floor(NULL, 0, 8000) == 0);
    free(x);
  }
}

/* asr_resample (the polyphase FIR, float sums, AVX2 where built) against asr_resample_ref
 * (double sums): every output within the rounding bound of asr.h's section 2,
 *     |fast - ref| <= (2 K8 + 4) eps S_j + eps |ref_j|,   S_j = sum_i |x_i h(i/F - j/F')|
 * eps = half an ulp of asr_real, K8 = 2 width + 2 rounded up to 8 (the taps of a row). Why
 * that size: each tap is rounded once (eps), the float sum has depth <= K8 (scalar) or
 * K8/8 + 3 (8 lanes, then 3 adds over them), _ref's double sum of <= K8 products of 3
 * factors is below (K8 + 3) eps S_j, and the output is rounded (eps |y|). S_j is computed
 * here from the formula (sinc and Hann window), not from asr.h. Cases: the usual rates
 * (8 <-> 16 kHz, 44.1, 48, 22.05, 11.025 -> 16 kHz: 640 phases, more than one table,
 * 44.1 -> 16.001 kHz: 16001 phases, and 8 -> 100.001 kHz, where with Z 16 the first
 * outputs that see no end of the signal lie beyond the first group of phases), small
 * co-prime rates, three filters, every length
 * 1..40 and a few odd longer ones (the ends and the 8-output blocks' tails), x one float
 * past an aligned address. A wrong tap or phase is off by about 1e-2 of the signal. */
static double rs_abs_sum(const asr_real *x, int n, int orig, int nw, int j, int Z, double rolloff) {
  const double pi = 3.14159265358979323846;
  long long g = orig, b = nw, F, Fp, i;
  double fc, S = 0;
  while (b) {
    long long tmp = g % b;
    g = b, b = tmp;
  }
  F = orig / g, Fp = nw / g, fc = rolloff * (double)(F < Fp ? F : Fp);
  for (i = 0; i < n; i++) {
    double u = fc * ((double)i / (double)F - (double)j / (double)Fp), w;   /* fc tau */
    if (fabs(u) >= Z) continue;
    w = cos(pi * u / (2.0 * Z));
    S += fabs((double)x[i]) * (fc / (double)F) * fabs(u == 0 ? 1.0 : sin(pi * u) / (pi * u)) * w * w;
  }
  return S;
}

static void t_resample_fast_vs_ref(tctx *t) {
  static const int pairs[][2] = {{8000, 16000}, {16000, 8000}, {44100, 16000}, {48000, 16000}, {22050, 16000},
                                 {11025, 16000}, {44100, 16001}, {16000, 44100}, {8000, 100001}, {7, 3}, {3, 7},
                                 {1, 5}};
  static const int lens[] = {41, 57, 101, 333, 1001, 4801};
  static const double filt[3][2] = {{6, 0.99}, {16, 0.945}, {3, 0.8}};
  const double eps = ASR_REAL_DOUBLE ? DBL_EPSILON / 2 : FLT_EPSILON / 2;
  int P = (int)(sizeof pairs / sizeof pairs[0]), nmax = 4801, p, f, c, cases = 0;
  asr_real *xb = TALLOC(asr_real, nmax + 1), *x = xb + 1;            /* x: not 32-byte aligned */
  asr_real *y = TALLOC(asr_real, 3 * nmax), *z = TALLOC(asr_real, 3 * nmax);
  double worst = 0;   /* the largest |fast - ref| / bound */
  asr_rng rng;
  asr_rng_seed(&rng, 14, 5);
  for (c = 0; c < nmax; c++) x[c] = (asr_real)asr_rng_normal(&rng);
  for (p = 0; p < P; p++)
    for (f = 0; f < 3; f++)
      for (c = 0; c < 40 + 6; c++) {
        int F0 = pairs[p][0], G0 = pairs[p][1], Z = (int)filt[f][0], n = c < 40 ? c + 1 : lens[c - 40];
        int m = asr_resample_length(n, F0, G0), j, bad = -1;
        long long gg = F0, bb = G0, Fr, Fpr, width, K8;
        while (bb) {
          long long tmp = gg % bb;
          gg = bb, bb = tmp;
        }
        Fr = F0 / gg, Fpr = G0 / gg;
        width = (long long)ceil(Z * (double)Fr / (filt[f][1] * (double)(Fr < Fpr ? Fr : Fpr)));
        K8 = (2 * width + 2 + 7) / 8 * 8;
        if (m > 3 * nmax || (n > 101 && Fpr > 1000)) continue;   /* the 16001-phase pair: short n */
        CHECK_OK(asr_resample_ref(z, x, n, F0, G0, Z, filt[f][1]));
        CHECK_OK(asr_resample(y, x, n, F0, G0, Z, filt[f][1]));
        for (j = 0; j < m && bad < 0; j++) {
          double bound = (2.0 * (double)K8 + 4) * eps * rs_abs_sum(x, n, F0, G0, j, Z, filt[f][1]) + eps * fabs(z[j]);
          double d = fabs((double)y[j] - (double)z[j]);
          if (!(d <= bound)) bad = j;
          if (bound > 0) worst = fmax(worst, d / bound);
        }
        CHECKF(bad < 0, "%d -> %d Hz, Z %d, n %d: output %d is %.9g, _ref %.9g", F0, G0, Z, n, bad,
               bad < 0 ? 0.0 : (double)y[bad], bad < 0 ? 0.0 : (double)z[bad]);
        cases++;
      }
  snprintf(t->msg, sizeof t->msg, "%d cases, largest |fast - ref| %.2f of the bound", cases, worst);
  free(xb);
  free(y);
  free(z);
}

/* The Vorbis comment header's lengths are checked before stb_vorbis sees them (it trusts
 * them and writes outside its buffer; found by tests/fuzz/fuzz_ogg.c): on the project's own
 * data/demo.ogg, a vendor length of 2^31 - 1, and then a comment count of 2^29 + 1, are
 * refused with ASR_ERR_FORMAT. */
static void t_ogg_comment_lengths(tctx *t) {
  unsigned char *buf;
  size_t len, page2, body;
  asr_audio a;
  asr_error err;
  uint32_t vendor;
  if (asr_read_file("data/demo.ogg", &buf, &len, NULL, &err) != ASR_OK) SKIP("data/demo.ogg not found (run from the repository root)");
  CHECK_OK(asr_ogg_parse(buf, len, -1, ASR_SCALE_INT16, &a, NULL, &err));
  asr_audio_free(&a, NULL);
  page2 = 27 + buf[26];
  {
    size_t k;
    for (k = 0; k < buf[26]; k++) page2 += buf[27 + k];       /* the first page's body */
  }
  CHECK(memcmp(buf + page2, "OggS", 4) == 0);
  body = page2 + 27 + buf[page2 + 26];
  CHECK(buf[body] == 3 && memcmp(buf + body + 1, "vorbis", 6) == 0);
  vendor = (uint32_t)buf[body + 7] | ((uint32_t)buf[body + 8] << 8) | ((uint32_t)buf[body + 9] << 16) |
           ((uint32_t)buf[body + 10] << 24);
  CHECK(vendor < 200);
  memcpy(buf + body + 7, "\xff\xff\xff\x7f", 4);
  CHECK(asr_ogg_parse(buf, len, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_FORMAT);
  CHECK(strstr(err.msg, "comment header") != NULL);
  buf[body + 7] = (unsigned char)vendor;
  buf[body + 8] = buf[body + 9] = buf[body + 10] = 0;
  memcpy(buf + body + 11 + vendor, "\x01\x00\x00\x20", 4);       /* 2^29 + 1 comments */
  CHECK(asr_ogg_parse(buf, len, -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_ERR_FORMAT);
  free(buf);
}

/* The sample-rate range of section 2 (ASR_SAMPLE_RATE_MIN..MAX = 4-384 kHz, issue 18): the
 * WAV reader refuses a file outside it (a 1 Hz file made build/transcribe upsample 1000
 * samples to 16 million), the writer will not write one, and the resampler refuses a
 * ratio between the rates above ASR_RESAMPLE_MAX_RATIO (96) either way, the Ogg reader
 * and the stream (WAV and Ogg) refuse a file outside it, and the fbank's option check a
 * sample_frequency outside it; the edges pass. */
static void t_sample_rate_bounds(tctx *t) {
  static const unsigned long rates[7] = {1, 3, 3999, 4000, 384000, 384001, 0x7FFFFFFF};
  static const unsigned char d16[4] = {1, 0, 2, 0};
  unsigned char f[16], buf[256];
  asr_real x[2] = {1, 2}, y[200];
  asr_audio a;
  asr_error err;
  wavbuf w;
  size_t len;
  int k;
  for (k = 0; k < 7; k++) {
    int ok = rates[k] >= 4000 && rates[k] <= 384000;
    asr_result r;
    fmt16(f, 1, 1, rates[k], 16);
    riff_start(&w);
    wb_chunk(&w, "fmt ", f, 16);
    wb_chunk(&w, "data", d16, 4);
    riff_end(&w);
    err.msg[0] = 0;
    r = asr_wav_parse(w.b, w.n, -1, ASR_SCALE_INT16, &a, NULL, &err);
    CHECKF(ok ? r == ASR_OK && a.sample_rate == (int)rates[k] && a.n == 2
              : r == ASR_ERR_UNSUPPORTED && strstr(err.msg, "4000-384000 Hz") && !a.samples,
           "read at %lu Hz: got %d (%s)", rates[k], (int)r, err.msg);
    if (r == ASR_OK) asr_audio_free(&a, NULL);
    r = asr_wav_encode(buf, sizeof buf, &len, x, 2, 1, (int)rates[k], ASR_WAV_PCM16, ASR_SCALE_INT16);
    CHECKF(ok ? r == ASR_OK : r == ASR_ERR_INVALID_ARG, "write at %lu Hz: got %d", rates[k], (int)r);
  }
  /* ratios: 96 is the largest accepted, either way */
  CHECK(asr_resample_length(2, 4000, 384000) == 192 && asr_resample_length(192, 384000, 4000) == 2);
  CHECK(asr_resample_length(2, 1, 96) == 192 && asr_resample_length(2, 1, 97) == -1);
  CHECK(asr_resample_length(2, 97, 1) == -1 && asr_resample_length(2, 4000, 384001) == -1);
  CHECK(asr_resample_length(1000, 1, 16000) == -1);
  CHECK_OK(asr_resample(y, x, 2, 1, 96, 6, 0.99));
  CHECK(asr_resample(y, x, 2, 1, 97, 6, 0.99) == ASR_ERR_INVALID_ARG);
  CHECK(asr_resample_naive(y, x, 2, 97, 1, 6, 0.99) == ASR_ERR_INVALID_ARG);
  /* the Ogg reader and the stream (build/transcribe's reader), WAV and Ogg: data/demo.ogg
   * with the identification header's rate (bytes 40-43: a 27-byte page header, one
   * segment byte, then "\x01vorbis", version, channels) set to each rate; stb_vorbis does
   * not check the page CRC */
  {
    unsigned char *ogg;
    size_t olen;
    char path[512];
    asr_audio_stream st;
    FILE *fp;
    int kind;
    if (asr_read_file("data/demo.ogg", &ogg, &olen, NULL, &err) != ASR_OK) ogg = NULL, olen = 0;
    CHECKF(ogg && olen > 44 && ogg[26] == 1 && memcmp(ogg + 28, "\x01vorbis", 7) == 0 && ogg[40] == 0x80 &&
               ogg[41] == 0x3E,
           "data/demo.ogg: not the expected 16 kHz header (%s)", ogg ? "read" : err.msg);
    snprintf(path, sizeof path, "%s/rate.bin", t->tmpdir);
    for (k = 0; ogg && olen > 44 && k < 7; k++) {
      int ok = rates[k] >= 4000 && rates[k] <= 384000;
      asr_result r;
      ogg[40] = (unsigned char)rates[k], ogg[41] = (unsigned char)(rates[k] >> 8);
      ogg[42] = (unsigned char)(rates[k] >> 16), ogg[43] = (unsigned char)(rates[k] >> 24);
      r = asr_ogg_parse(ogg, olen, -1, ASR_SCALE_INT16, &a, NULL, &err);
      CHECKF(ok ? r == ASR_OK && a.sample_rate == (int)rates[k]
                : r == ASR_ERR_UNSUPPORTED && strstr(err.msg, "4000-384000 Hz") && !a.samples,
             "Ogg at %lu Hz: got %d (%s)", rates[k], (int)r, err.msg);
      if (r == ASR_OK) asr_audio_free(&a, NULL);
      for (kind = 0; kind < 2; kind++) {              /* the stream: the Ogg file, a WAV file */
        fmt16(f, 1, 1, rates[k], 16);
        riff_start(&w);
        wb_chunk(&w, "fmt ", f, 16);
        wb_chunk(&w, "data", d16, 4);
        riff_end(&w);
        fp = fopen(path, "wb");
        CHECK(fp && fwrite(kind ? (const void *)w.b : (const void *)ogg, 1, kind ? w.n : olen, fp) ==
                        (kind ? w.n : olen));
        if (fp) fclose(fp);
        err.msg[0] = 0;
        r = asr_audio_stream_open(&st, path, -1, ASR_SCALE_INT16, NULL, &err);
        CHECKF(ok ? r == ASR_OK && st.sample_rate == (int)rates[k]
                  : r == ASR_ERR_UNSUPPORTED && strstr(err.msg, "4000-384000 Hz"),
               "stream of %s at %lu Hz: got %d (%s)", kind ? "WAV" : "Ogg", rates[k], (int)r, err.msg);
        if (r == ASR_OK) asr_audio_stream_close(&st);
      }
    }
    free(ogg);
  }
  /* the fbank's sample_frequency: the same range (asr_fbank_check_opts, so asr_fbank and
   * its stream, and asrtool fbank --sample-frequency on a .npy waveform) */
  for (k = 0; k < 7; k++) {
    asr_fbank_opts o = asr_fbank_opts_default();
    int ok = rates[k] >= 4000 && rates[k] <= 384000;
    asr_result r;
    o.sample_frequency = (double)rates[k];
    o.num_mel_bins = 10;                                       /* 10 bins fit 2 kHz of band */
    err.msg[0] = 0;
    r = asr_fbank_check_opts(&o, &err);
    CHECKF(ok ? r == ASR_OK : r == ASR_ERR_RANGE && strstr(err.msg, "4000-384000 Hz"), "fbank at %lu Hz: %d (%s)",
           rates[k], (int)r, err.msg);
  }
}

/* Streaming (asr_audio_stream_*): the samples of asr_audio_read bit for bit, whatever the
 * sizes asked for, in every WAV format and channel choice, across the 64 KiB blocks the
 * reader works in, and for Ogg Vorbis (data/demo.ogg); the errors asr_audio_read gives. */
static int stream_matches(const char *path, int channel, asr_audio_scale scale, int step) {
  asr_audio a;
  asr_audio_stream s;
  asr_error err;
  asr_real *y;
  int n = 0, got, same;
  if (asr_audio_read(path, channel, scale, &a, NULL, &err) != ASR_OK) return 0;
  if (asr_audio_stream_open(&s, path, channel, scale, NULL, &err) != ASR_OK) {
    asr_audio_free(&a, NULL);
    return 0;
  }
  y = TALLOC(asr_real, (size_t)a.n + (size_t)step);
  while ((got = asr_audio_stream_read(&s, y + n, step, &err)) > 0 && n + got <= a.n) n += got;
  same = got == 0 && n == a.n && !memcmp(y, a.samples, sizeof(asr_real) * (size_t)n) &&
         s.sample_rate == a.sample_rate && s.channels == a.channels && s.bits == a.bits && s.codec == a.codec &&
         (s.length < 0 || s.length == a.n) && asr_audio_stream_read(&s, y, step, &err) == 0;
  asr_audio_stream_close(&s);
  asr_audio_free(&a, NULL);
  free(y);
  return same;
}

static void t_audio_stream(tctx *t) {
  static const int steps[4] = {1, 7, 4099, 200000};
  char path[512];
  asr_real *x = TALLOC(asr_real, 3 * 30000);
  asr_audio a;
  asr_audio_stream s;
  asr_error err, err2;
  asr_rng rng;
  int f, ch, k, i, checked = 0;
  FILE *fp;
  asr_rng_seed(&rng, 18, 0);
  for (i = 0; i < 3 * 30000; i++) x[i] = (asr_real)(8000 * asr_rng_normal(&rng));
  snprintf(path, sizeof path, "%s/stream.wav", t->tmpdir);
  /* 30000 frames of 1-3 channels: up to 720 KB, many 64 KiB blocks */
  for (f = ASR_WAV_PCM8; f <= ASR_WAV_FLOAT64; f++)
    for (ch = 1; ch <= 3; ch++) {
      CHECK_OK(asr_wav_write(path, x, 30000, ch, 16000, f | (ch == 3 ? ASR_WAV_EXTENSIBLE : 0), ASR_SCALE_INT16, &err));
      for (k = 0; k < 4; k++) {
        int channel = k % 2 ? ASR_CHANNEL_MIX : ch - 1;
        asr_audio_scale scale = k < 2 ? ASR_SCALE_INT16 : ASR_SCALE_UNIT;
        CHECKF(stream_matches(path, channel, scale, steps[(f + ch + k) % 4]), "format %d, %d channels, case %d", f, ch,
               k);
        checked++;
      }
    }
  if (asr_audio_read("data/demo.ogg", -1, ASR_SCALE_INT16, &a, NULL, &err) == ASR_OK) {
    asr_audio_free(&a, NULL);
    for (k = 0; k < 4; k++) CHECKF(stream_matches("data/demo.ogg", k % 2 ? 0 : -1, ASR_SCALE_INT16, steps[k]), "ogg %d", k);
  }
  /* errors: what asr_audio_read says, from open (the header) */
  snprintf(path, sizeof path, "%s/no-such.wav", t->tmpdir);
  CHECK(asr_audio_stream_open(&s, path, -1, ASR_SCALE_INT16, NULL, &err) == ASR_ERR_IO && s.priv == NULL);
  snprintf(path, sizeof path, "%s/stream-bad.wav", t->tmpdir);
  for (k = 0; k < 4; k++) {
    static const char *bad[4] = {"", "hello world", "RIFF\x10\0\0\0WAVEfmt \x0e\0\0\0\x01\0\x01\0\x80>\0\0",
                                 "RIFF\x10\0\0\0WAVEdata\xff\0\0\0"};
    static const size_t blen[4] = {0, 11, 28, 20};
    asr_result r1, r2;
    fp = fopen(path, "wb");
    CHECK(fp && fwrite(bad[k], 1, blen[k], fp) == blen[k]);
    if (fp) fclose(fp);
    r1 = asr_audio_read(path, -1, ASR_SCALE_INT16, &a, NULL, &err);
    r2 = asr_audio_stream_open(&s, path, -1, ASR_SCALE_INT16, NULL, &err2);
    CHECKF(r1 < 0 && r1 == r2 && !strcmp(err.msg, err2.msg) && s.priv == NULL, "bad file %d: %d %s / %d %s", k, r1,
           err.msg, r2, err2.msg);
  }
  /* a channel the file has not */
  snprintf(path, sizeof path, "%s/stream.wav", t->tmpdir);
  CHECK(asr_audio_stream_open(&s, path, 5, ASR_SCALE_INT16, NULL, &err) == ASR_ERR_RANGE);
  asr_audio_stream_close(&s);                                   /* closing twice is fine */
  free(x);
  snprintf(t->msg, sizeof t->msg, "%d WAV cases bit-identical", checked);
}

/* ---- Additive noise at an SNR (asr_add_noise). The expected value is the definition
 * measured on the output: SNR = 10 log10(sum x^2 / sum (y - x)^2), in double, from x and y
 * as stored. Bound 1e-6 dB, plus in the float build the rounding of y to float: an error
 * e_i of at most 6e-8 |y_i| per sample, which moves the measured noise power by about
 * 2 sum e_i (g v_i) / sum (g v_i)^2 ~ 2 * 6e-8 * 10^(SNR/20) / sqrt(n) relative, i.e.
 * 10 log10(e) = 4.34 times that in dB; three times it is allowed (1.2e-7 dB at 40 dB,
 * 1.2e-5 dB at 60 dB, where the noise is 1000 times below the speech). The double build
 * is held to 1e-6 dB at every SNR. Cases: white noise and a noise recording (shorter than x:
 * looped; longer: from a random offset), SNRs -10 to 60 dB, in place and out of place. The
 * noise recording's added part must be g times the looped recording (correlation 1, checked
 * sample by sample with rng NULL: offset 0). Same seed, same output; other seed, another. */
static double snr_of(const asr_real *x, const asr_real *y, int n) {
  double px = 0, pe = 0;
  int i;
  for (i = 0; i < n; i++) {
    double e = (double)y[i] - (double)x[i];
    px += (double)x[i] * x[i];
    pe += e * e;
  }
  return 10 * log10(px / pe);
}

static void t_add_noise(tctx *t) {
  static const double snrs[6] = {-10, 0, 5, 20, 40, 60};
  const int n = 16000;
  asr_real *x = TALLOC(asr_real, n), *y = TALLOC(asr_real, n), *y2 = TALLOC(asr_real, n);
  asr_real *rec = TALLOC(asr_real, 40000);
  asr_rng rng, r2;
  double worst = 0, g = 0, w20 = 0;
  int i, k, kind;
  asr_rng_seed(&rng, 5, 0);
  for (i = 0; i < n; i++) x[i] = (asr_real)(3000 * sin(0.05 * i) * (i % 4000 < 2500) + 30 * asr_rng_normal(&rng));
  for (i = 0; i < 40000; i++) rec[i] = (asr_real)(500 * sin(0.31 * i) + 200 * asr_rng_normal(&rng));
  for (kind = 0; kind < 3; kind++)
    for (k = 0; k < 6; k++) {
      const asr_real *noise = kind == 0 ? NULL : rec;
      int len = kind == 1 ? 7001 : 40000;               /* shorter than x: looped; longer */
      double got, tol;
      asr_rng_seed(&r2, 11 + (uint64_t)k, 0);
      CHECK_OK(asr_add_noise(y, x, n, noise, len, snrs[k], &r2));
      got = snr_of(x, y, n);
      tol = 1e-6 + (ASR_REAL_DOUBLE ? 0 : 3 * 4.343 * 2 * 6e-8 * pow(10, snrs[k] / 20) / sqrt((double)n));
      worst = fmax(worst, fabs(got - snrs[k]) / tol);
      if (snrs[k] == 20) w20 = fmax(w20, fabs(got - snrs[k]));
      CHECKF(fabs(got - snrs[k]) <= tol, "%s, %g dB asked, %.9f dB measured",
             kind == 0 ? "white noise" : "recording", snrs[k], got);
      memcpy(y2, x, sizeof(asr_real) * (size_t)n);       /* in place, same seed: same output */
      asr_rng_seed(&r2, 11 + (uint64_t)k, 0);
      CHECK_OK(asr_add_noise(y2, y2, n, noise, len, snrs[k], &r2));
      CHECK(memcmp(y, y2, sizeof(asr_real) * (size_t)n) == 0);
    }
  snprintf(t->msg, sizeof t->msg, "18 cases, achieved SNR error at most %.2f of its bound; at 20 dB: %.1e dB",
           worst, w20);
  /* the added part is g times the looped recording (offset 0 without an rng) */
  CHECK_OK(asr_add_noise(y, x, n, rec, 7001, 10, NULL));
  for (i = 0; i < n; i++) {
    double v = rec[i % 7001], e = (double)y[i] - x[i];
    if (i == 0) g = e / v;
    CHECKF(fabs(e - g * v) <= 1e-3 * (1 + fabs(x[i]) * 1e-3), "sample %d: added %g, expected %g", i, e, g * v);
  }
  /* another seed, other noise; bad arguments write nothing */
  asr_rng_seed(&r2, 1, 0);
  CHECK_OK(asr_add_noise(y, x, n, NULL, 0, 10, &r2));
  asr_rng_seed(&r2, 2, 0);
  CHECK_OK(asr_add_noise(y2, x, n, NULL, 0, 10, &r2));
  CHECK(memcmp(y, y2, sizeof(asr_real) * (size_t)n) != 0);
  memcpy(y2, y, sizeof(asr_real) * (size_t)n);
  CHECK(asr_add_noise(y, x, n, NULL, 0, 10, NULL) == ASR_ERR_INVALID_ARG);
  CHECK(asr_add_noise(y, x, n, NULL, 0, NAN, &r2) == ASR_ERR_RANGE);
  CHECK(asr_add_noise(y, x, n, NULL, 0, 300, &r2) == ASR_ERR_RANGE);
  CHECK(asr_add_noise(y, x, 0, NULL, 0, 10, &r2) == ASR_ERR_INVALID_ARG);
  CHECK(asr_add_noise(y, x, n, rec, 0, 10, &r2) == ASR_ERR_INVALID_ARG);
  for (i = 0; i < 100; i++) rec[i] = 0;
  CHECK(asr_add_noise(y, x, n, rec, 100, 10, NULL) == ASR_ERR_RANGE);     /* silent noise */
  rec[5] = (asr_real)NAN;
  CHECK(asr_add_noise(y, x, n, rec, 100, 10, NULL) == ASR_ERR_NONFINITE);
  for (i = 0; i < n; i++) y2[i] = 0;
  CHECK(asr_add_noise(y, y2, n, NULL, 0, 10, &r2) == ASR_ERR_RANGE);      /* silent signal */
  for (i = 0; i < n; i++) y2[i] = y[i];
  CHECK(memcmp(y, y2, sizeof(asr_real) * (size_t)n) == 0);
  free(x), free(y), free(y2), free(rec);
}

/* ---- A gain (asr_apply_gain): the level moves by gain_db, 20 log10(RMS(y) / RMS(x)), to
 * float rounding; 0 dB is the identity; 20 dB multiplies by exactly 10 (10^1 in double);
 * in place = out of place; bad arguments and a NaN sample refused with nothing written. */
static void t_apply_gain(tctx *t) {
  enum { n = 1000 };
  static const double gains[4] = {-6, 3.5, 0, 20};
  asr_real x[n], y[n], z[n];
  asr_rng r;
  int i, k;
  double worst = 0;
  asr_rng_seed(&r, 4, 0);
  for (i = 0; i < n; i++) x[i] = (asr_real)(1000 * asr_rng_normal(&r));
  for (k = 0; k < 4; k++) {
    double px = 0, py = 0;
    CHECK_OK(asr_apply_gain(y, x, n, gains[k]));
    for (i = 0; i < n; i++) px += (double)x[i] * x[i], py += (double)y[i] * y[i];
    worst = fmax(worst, fabs(10 * log10(py / px) - gains[k]));
    memcpy(z, x, sizeof z);
    CHECK_OK(asr_apply_gain(z, z, n, gains[k]));
    CHECK(memcmp(y, z, sizeof z) == 0);
    if (gains[k] == 0) CHECK(memcmp(y, x, sizeof z) == 0);
    if (gains[k] == 20)
      for (i = 0; i < n; i++) CHECK(y[i] == (asr_real)(10.0 * x[i]));
  }
  CHECKF(worst < 1e-5, "level moved by the gain within %g dB", worst);
  memcpy(z, y, sizeof z);
  CHECK(asr_apply_gain(y, x, 0, 1) == ASR_ERR_INVALID_ARG);
  CHECK(asr_apply_gain(NULL, x, n, 1) == ASR_ERR_INVALID_ARG);
  CHECK(asr_apply_gain(y, x, n, NAN) == ASR_ERR_RANGE);
  CHECK(asr_apply_gain(y, x, n, 61) == ASR_ERR_RANGE);
  x[500] = (asr_real)1e38;   /* 1e39 after 20 dB (x 10): out of float's range, in double's */
  CHECK(asr_apply_gain(y, x, n, 20) == (ASR_REAL_DOUBLE ? ASR_OK : ASR_ERR_NONFINITE));
  memcpy(y, z, sizeof z);
  x[500] = (asr_real)NAN;
  CHECK(asr_apply_gain(y, x, n, 1) == ASR_ERR_NONFINITE);
  CHECK(memcmp(y, z, sizeof z) == 0);
  snprintf(t->msg, sizeof t->msg, "-6, 3.5, 0, 20 dB: level within %.1g dB", worst);
}

/* ---- The image-method room impulse response (asr_rir_image). Expected values computed
 * here from the geometry, not from the image sum: with beta = 0 only the direct path has
 * beta^0 (every other image meets a wall), one pulse 1/(4 pi d) at round(d fs / c); with
 * beta = 0.5 and a response too short for a second reflection, the direct pulse and the
 * six first-order images, each the source mirrored across one wall (x_s -> -x_s, or
 * 2 Lx - x_s, ...), beta / (4 pi d_i) at round(d_i fs / c). Float: relative 1e-6 (one
 * rounding of each pulse, at most two pulses in a sample here), double 1e-14. */
static void rir_expect(asr_real *e, int n, const double m[3], const double sp[3], double amp, int rate) {
  double d = sqrt((m[0] - sp[0]) * (m[0] - sp[0]) + (m[1] - sp[1]) * (m[1] - sp[1]) + (m[2] - sp[2]) * (m[2] - sp[2]));
  long t = lround(d * rate / 343.0);
  if (t < n) e[t] += (asr_real)(amp / (4 * 3.14159265358979323846 * d));
}
static void t_rir_image(tctx *t) {
  /* source and microphone near the middle of the room: the six first-order pulses arrive at
   * samples 164-215, the first second-order one at 237.8 (computed from the geometry) */
  const double room[3] = {4.0, 4.4, 3.6}, src[3] = {2.0, 2.2, 1.8}, mic[3] = {2.3, 2.0, 1.9};
  const int rate = 16000, n = 230;
  asr_real h[230], e[230];
  double worst = 0, tol = ASR_REAL_DOUBLE ? 1e-14 : 1e-6;
  int i, a, nz = 0;
  CHECK_OK(asr_rir_image(h, n, rate, room, src, mic, 0.0, 343.0));
  memset(e, 0, sizeof e);
  rir_expect(e, n, mic, src, 1.0, rate);
  for (i = 0; i < n; i++) {
    nz += h[i] != 0;
    worst = fmax(worst, fabs(h[i] - e[i]) / (fabs(e[i]) > 0 ? fabs(e[i]) : 1));
  }
  CHECKF(nz == 1 && worst <= tol, "beta 0: %d pulses, worst %g", nz, worst);
  CHECK_OK(asr_rir_image(h, n, rate, room, src, mic, 0.5, 343.0));
  memset(e, 0, sizeof e);
  rir_expect(e, n, mic, src, 1.0, rate);
  for (a = 0; a < 3; a++) {                               /* the six walls, one image each */
    double im[3];
    memcpy(im, src, sizeof im);
    im[a] = -src[a];
    rir_expect(e, n, mic, im, 0.5, rate);
    im[a] = 2 * room[a] - src[a];
    rir_expect(e, n, mic, im, 0.5, rate);
  }
  worst = 0, nz = 0;
  for (i = 0; i < n; i++) {
    nz += e[i] != 0;
    worst = fmax(worst, fabs((double)h[i] - e[i]) / (fabs(e[i]) > 0 ? fabs(e[i]) : 1));
  }
  CHECKF(worst <= tol, "beta 0.5, first order: worst relative %g", worst);
  CHECK(nz >= 6);
  snprintf(t->msg, sizeof t->msg, "direct path alone at beta 0; beta 0.5: %d samples with pulses (direct + 6 walls), worst %.1e", nz,
           worst);
  /* every order: the images found by reflecting, not by the formula. Breadth first from
   * the source, each image reflected across each of the six walls (x -> -x, x -> 2 Lx - x,
   * ...), a new position one reflection more than its parent, until depth 24 (in this
   * room every image within reach of the 700 samples has met at most 3 (10.2 m / 3.6 m +
   * 2) walls per axis, 15 in all); each pulse beta^depth / (4 pi d) at round(d fs / c). */
  {
    enum { NR = 700, CAP = 40000 };
    static double pos[CAP][3];
    static int depth[CAP];
    asr_real *hr = TALLOC(asr_real, NR), *er = TALLOC(asr_real, NR);
    int count = 1, head = 0, b2, ok = 1;
    double wr = 0;
    memcpy(pos[0], src, sizeof pos[0]);
    depth[0] = 0;
    while (head < count && ok) {
      const double *q = pos[head];
      int dq = depth[head++];
      if (dq == 24) continue;
      for (b2 = 0; b2 < 6; b2++) {
        double r2[3];
        int z, dup = 0;
        memcpy(r2, q, sizeof r2);
        r2[b2 / 2] = b2 % 2 ? 2 * room[b2 / 2] - q[b2 / 2] : -q[b2 / 2];
        if (fabs(r2[0] - mic[0]) > 343.0 * NR / rate + 1 || fabs(r2[1] - mic[1]) > 343.0 * NR / rate + 1 ||
            fabs(r2[2] - mic[2]) > 343.0 * NR / rate + 1)
          continue;                                     /* out of reach along an axis: its children farther */
        for (z = 0; z < count && !dup; z++)
          dup = fabs(pos[z][0] - r2[0]) + fabs(pos[z][1] - r2[1]) + fabs(pos[z][2] - r2[2]) < 1e-9;
        if (dup) continue;
        if (count == CAP) {
          ok = 0;
          break;
        }
        memcpy(pos[count], r2, sizeof r2);
        depth[count++] = dq + 1;
      }
    }
    CHECKF(ok, "more than %d images", (int)CAP);
    memset(er, 0, sizeof(asr_real) * NR);
    for (i = 0; i < count; i++) rir_expect(er, NR, mic, pos[i], pow(0.7, depth[i]), rate);
    CHECK_OK(asr_rir_image(hr, NR, rate, room, src, mic, 0.7, 343.0));
    for (i = 0; i < NR; i++) wr = fmax(wr, fabs((double)hr[i] - er[i]) / fabs(er[(int)lround(
                                               sqrt(0.09 + 0.04 + 0.01) * rate / 343.0)]));
    CHECKF(wr <= (ASR_REAL_DOUBLE ? 1e-12 : 1e-5), "reflected images: worst %g of the direct pulse", wr);
    snprintf(t->msg + strlen(t->msg), sizeof t->msg - strlen(t->msg), "; %d images by reflection, worst %.1e", count,
             wr);
    free(hr), free(er);
  }
  /* Sabine: beta for T60, and back */
  {
    double b = asr_rir_beta_sabine(room, 0.4), V = 4.0 * 4.4 * 3.6, S = 2 * (4.0 * 4.4 + 4.0 * 3.6 + 4.4 * 3.6);
    CHECKF(fabs(0.161 * V / (S * (1 - b * b)) - 0.4) < 1e-12, "beta %g", b);
    CHECK(asr_rir_beta_sabine(room, 0.05) == -1);         /* alpha > 1: no wall can */
    CHECK(asr_rir_beta_sabine(room, NAN) == -1 && asr_rir_beta_sabine(room, 0) == -1);
  }
  /* bad arguments write nothing */
  for (i = 0; i < n; i++) e[i] = h[i];
  {
    const double out[3] = {4.5, 2.0, 1.0}, same[3] = {2.0, 2.2, 1.8};
    const double tiny_room[3] = {1e-3, 5, 3};
    const double speck[3] = {1e-12, 1e-12, 1e-12}, in_speck[3] = {5e-13, 5e-13, 2e-13};
    const double in_speck2[3] = {5e-13, 5e-13, 7e-13};   /* a room so small the loop bound overflows */
    CHECK(asr_rir_image(h, n, rate, room, out, mic, 0.5, 343) == ASR_ERR_RANGE);
    CHECK(asr_rir_image(h, n, rate, room, src, same, 0.5, 343) == ASR_ERR_RANGE);
    CHECK(asr_rir_image(h, n, rate, room, src, mic, 1.0, 343) == ASR_ERR_RANGE);
    CHECK(asr_rir_image(h, n, rate, room, src, mic, NAN, 343) == ASR_ERR_RANGE);
    CHECK(asr_rir_image(h, n, rate, room, src, mic, 0.5, 0) == ASR_ERR_RANGE);
    CHECK(asr_rir_image(h, n, rate, tiny_room, src, mic, 0.5, 343) == ASR_ERR_RANGE);
    CHECK(asr_rir_image(h, n, rate, speck, in_speck, in_speck2, 0.5, 343) == ASR_ERR_RANGE);
    CHECK(asr_rir_image(h, 0, rate, room, src, mic, 0.5, 343) == ASR_ERR_INVALID_ARG);
    CHECK(asr_rir_image(h, n, 100, room, src, mic, 0.5, 343) == ASR_ERR_INVALID_ARG);
    CHECK(asr_rir_image(NULL, n, rate, room, src, mic, 0.5, 343) == ASR_ERR_INVALID_ARG);
  }
  CHECK(memcmp(e, h, sizeof e) == 0);
}

/* ---- Reverberation (asr_reverberate) against the convolution sum written out here in
 * double, then scaled to x's power: sizes 1, 7, 17, 33, 65, 1000 for x and h (the FFT
 * length a power of two from 2 up), in place and out of place. Bound: float 2e-6 of the
 * largest |y| (the output rounded to float once, the FFT's error far below), double 1e-12. */
static void t_reverberate(tctx *t) {
  static const int sizes[6] = {1, 7, 17, 33, 65, 1000};
  asr_rng rng;
  double worst = 0, tol = ASR_REAL_DOUBLE ? 1e-12 : 2e-6;
  int a, b, i, k;
  asr_rng_seed(&rng, 3, 0);
  for (a = 0; a < 6; a++)
    for (b = 0; b < 6; b++) {
      int n = sizes[a], nh = sizes[b];
      asr_real *x = TALLOC(asr_real, n), *h = TALLOC(asr_real, nh), *y = TALLOC(asr_real, n);
      double *want = TALLOC(double, n), px = 0, py = 0, big = 0;
      size_t wb = asr_reverberate_workspace_size(n, nh);
      void *work = malloc(wb);
      for (i = 0; i < n; i++) x[i] = (asr_real)asr_rng_normal(&rng);
      for (k = 0; k < nh; k++) h[k] = (asr_real)(asr_rng_normal(&rng) * exp(-0.01 * k));
      if (h[0] == 0) h[0] = 1;
      for (i = 0; i < n; i++) {
        double acc = 0;
        for (k = 0; k < nh && k <= i; k++) acc += (double)h[k] * x[i - k];
        want[i] = acc;
        px += (double)x[i] * x[i];
        py += acc * acc;
      }
      for (i = 0; i < n; i++) want[i] *= sqrt(px / py), big = fmax(big, fabs(want[i]));
      CHECK(wb > 0);
      CHECK_OK(asr_reverberate(y, x, n, h, nh, work, wb));
      for (i = 0; i < n; i++) worst = fmax(worst, fabs(y[i] - want[i]) / big);
      CHECKF(worst <= tol, "n %d nh %d: worst %g of the largest |y|", n, nh, worst);
      memcpy(y, x, sizeof(asr_real) * (size_t)n);                 /* in place: the same bits */
      {
        asr_real *y2 = TALLOC(asr_real, n);
        CHECK_OK(asr_reverberate(y2, x, n, h, nh, work, wb));
        CHECK_OK(asr_reverberate(y, y, n, h, nh, work, wb));
        CHECK(memcmp(y, y2, sizeof(asr_real) * (size_t)n) == 0);
        free(y2);
      }
      free(x), free(h), free(y), free(want), free(work);
    }
  snprintf(t->msg, sizeof t->msg, "36 size pairs, worst %.1e of the largest |y|", worst);
  {
    asr_real x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, h[3] = {1, 0.5f, 0.25f}, y[8], keep[8];
    size_t wb = asr_reverberate_workspace_size(8, 3);
    void *work = malloc(wb);
    memcpy(keep, x, sizeof x);
    memcpy(y, x, sizeof x);
    CHECK(asr_reverberate(y, x, 8, h, 3, work, wb - 1) == ASR_ERR_INVALID_ARG);
    CHECK(asr_reverberate(y, x, 0, h, 3, work, wb) == ASR_ERR_INVALID_ARG);
    h[1] = (asr_real)NAN;
    CHECK(asr_reverberate(y, x, 8, h, 3, work, wb) == ASR_ERR_NONFINITE);
    h[1] = 0.5f;
    memset(x, 0, sizeof x);
    CHECK(asr_reverberate(y, x, 8, h, 3, work, wb) == ASR_ERR_RANGE);     /* silence: no level */
    CHECK(memcmp(y, keep, sizeof y) == 0);                                 /* nothing written */
    CHECK(asr_reverberate_workspace_size(0, 3) == 0);
    CHECK(asr_reverberate_workspace_size(2147483647, 2) == 0 && asr_reverberate_workspace_size(3, 2147483647) == 0);
    CHECK(asr_reverberate(y, x, 2147483647, h, 3, work, wb) == ASR_ERR_INVALID_ARG);
    free(work);
  }
}

static const test_case TESTS_audio[] = {
  {"audio/add_noise", t_add_noise},
  {"audio/apply_gain", t_apply_gain},
  {"audio/rir_image", t_rir_image},
  {"audio/reverberate_matches_sum", t_reverberate},
  {"audio/wav_known_bytes", t_wav_known_bytes},
  {"audio/wav_chunks", t_wav_chunks},
  {"audio/wav_malformed", t_wav_malformed},
  {"audio/wav_random_bytes", t_wav_random_bytes},
  {"audio/wav_roundtrip", t_wav_roundtrip},
  {"audio/wav_files", t_wav_files},
  {"audio/wav_shared", t_wav_shared},
  {"audio/ogg_sample_counts", t_ogg_sample_counts},
  {"audio/ogg_malformed", t_ogg_malformed},
  {"audio/ogg_comment_lengths", t_ogg_comment_lengths},
  {"audio/resample", t_resample},
  {"audio/resample_fast_vs_ref", t_resample_fast_vs_ref},
  {"audio/sample_rate_bounds", t_sample_rate_bounds},
  {"audio/stream", t_audio_stream},
  {0, 0}
};
