/* examples/fbank_png.c - draws the log-mel filterbank of a WAV or Ogg Vorbis file as a PNG.
 *
 *   build/fbank_png [--num-mel-bins 80] [--range 14] IN.wav|IN.ogg OUT.png
 *
 * Time runs left to right (one column per 10 ms frame, widened to at least 600 pixels),
 * mel bins bottom to top, colour from dark (quiet) to bright (loud). The colour scale
 * covers the loudest value down to `range` below it in natural-log units (14 nats is
 * about 61 dB of power: 10 log10(e^14)); quieter cells are drawn as the darkest colour.
 * The axes are labelled in seconds and kHz (at the mel-bin centres). Everything the
 * picture shows comes from asr.h: asr_audio_read, asr_fbank, asr_fbank_mel_banks; the PNG
 * is encoded by stb_image_write from Debian's libstb-dev and written at once (op_write_png). */
#define _POSIX_C_SOURCE 200809L
#include "../asr.h"
#include "outpath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A colour ramp through six stops (our own choice: black-violet-red-orange-yellow-white,
 * brightness rising monotonically so it also reads in grey). t in [0, 1]. */
static void colour(double t, unsigned char *rgb) {
  static const double stops[6][3] = {
    {0, 0, 8}, {60, 12, 100}, {150, 30, 110}, {225, 75, 55}, {250, 175, 50}, {252, 250, 200}};
  double x;
  int i, c;
  if (t < 0) t = 0;
  if (t > 1) t = 1;
  x = t * 5;
  i = (int)x;
  if (i > 4) i = 4;
  x -= i;
  for (c = 0; c < 3; c++) rgb[c] = (unsigned char)(stops[i][c] + x * (stops[i + 1][c] - stops[i][c]) + 0.5);
}

/* A 3x5 pixel font for the labels: digits, '.', 'k', 'H', 'z', 's' (each row 3 bits). */
static const char *GLYPHS = "0123456789.kHzs ";
static const unsigned char FONT[16][5] = {
  {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
  {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 2, 2}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
  {0, 0, 0, 0, 2}, {4, 5, 6, 5, 5}, {5, 5, 7, 5, 5}, {0, 7, 1, 2, 7}, {0, 3, 6, 1, 6},
  {0, 0, 0, 0, 0}};

typedef struct image {
  int w, h;
  unsigned char *px;   /* (h, w, 3) */
} image;

static void put(image *im, int x, int y, const unsigned char *rgb) {
  if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
  memcpy(im->px + 3 * ((size_t)y * im->w + x), rgb, 3);
}

/* Text at (x, y) (top-left), each font pixel drawn as s x s. */
static void text(image *im, int x, int y, const char *s, int scale, const unsigned char *rgb) {
  for (; *s; s++, x += 4 * scale) {
    const char *g = strchr(GLYPHS, *s);
    int r, c, a, b;
    if (!g) continue;
    for (r = 0; r < 5; r++)
      for (c = 0; c < 3; c++)
        if (FONT[g - GLYPHS][r] & (4 >> c))
          for (a = 0; a < scale; a++)
            for (b = 0; b < scale; b++) put(im, x + c * scale + b, y + r * scale + a, rgb);
  }
}

static int text_width(const char *s, int scale) { return (int)strlen(s) * 4 * scale - scale; }

int main(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  int bins = 80, i, t, m, T, D, xs, ys, left = 50, bottom = 28, top = 10, right = 14, npos = 0;
  double range = 14, hi = -INFINITY;
  asr_audio a;
  asr_error err;
  asr_fbank_opts o = asr_fbank_opts_default();
  asr_real *feats, *W, *centre;
  void *work;
  size_t wb;
  image im;
  static const unsigned char white[3] = {235, 235, 235}, grey[3] = {120, 120, 120}, bg[3] = {24, 24, 28};
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--num-mel-bins") && i + 1 < argc) bins = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--range") && i + 1 < argc) range = atof(argv[++i]);
    else if (argv[i][0] == '-') {
      fprintf(stderr, "usage: fbank_png [--num-mel-bins 80] [--range 14] IN.wav|IN.ogg OUT.png\n");
      return argv[i][1] == 'h' || !strcmp(argv[i], "--help") ? 0 : 2;
    } else if (npos == 0) in = argv[i], npos++;
    else if (npos == 1) out = argv[i], npos++;
    else npos++;
  }
  if (npos != 2 || !(range > 0)) {
    fprintf(stderr, "usage: fbank_png [--num-mel-bins 80] [--range 14] IN.wav|IN.ogg OUT.png\n");
    return 2;
  }
  if (op_check("fbank_png", out, &in, 1)) return 2;
  /* 1. decode, in Kaldi's 16-bit scale */
  if (asr_audio_read(in, ASR_CHANNEL_MIX, ASR_SCALE_INT16, &a, NULL, &err) != ASR_OK) {
    fprintf(stderr, "fbank_png: %s\n", err.msg);
    return 2;
  }
  /* 2. the filterbank with Kaldi's defaults at the file's rate */
  o.sample_frequency = a.sample_rate;
  o.num_mel_bins = bins;
  if (asr_fbank_check_opts(&o, &err) != ASR_OK) {
    fprintf(stderr, "fbank_png: %s\n", err.msg);
    return 2;
  }
  T = asr_fbank_num_frames(a.n, &o);
  D = asr_fbank_dim(&o);
  if (T < 1) {
    fprintf(stderr, "fbank_png: %s: shorter than one frame\n", in);
    return 2;
  }
  wb = asr_fbank_workspace_size(&o);
  work = malloc(wb);
  feats = (asr_real *)malloc(sizeof(asr_real) * (size_t)T * D);
  W = (asr_real *)malloc(sizeof(asr_real) * (size_t)D * (asr_fbank_padded_size(&o) / 2 + 1));
  centre = (asr_real *)malloc(sizeof(asr_real) * (size_t)D);
  if (!work || !feats || !W || !centre) return 3;
  if (asr_fbank(feats, a.samples, a.n, &o, NULL, work, wb, &err) != ASR_OK ||
      asr_fbank_mel_banks(W, centre, &o, &err) != ASR_OK) {
    fprintf(stderr, "fbank_png: %s\n", err.msg);
    return 2;
  }
  for (i = 0; i < T * D; i++) hi = fmax(hi, feats[i]);
  /* 3. the picture: each frame xs pixels wide, each bin ys pixels tall, axes around */
  xs = T >= 600 ? 1 : (600 + T - 1) / T;
  ys = D >= 240 ? 1 : (240 + D - 1) / D;
  im.w = left + T * xs + right;
  im.h = top + D * ys + bottom;
  im.px = (unsigned char *)malloc((size_t)im.w * im.h * 3);
  if (!im.px) return 3;
  for (i = 0; i < im.w * im.h; i++) memcpy(im.px + 3 * (size_t)i, bg, 3);
  for (t = 0; t < T; t++)
    for (m = 0; m < D; m++) {
      unsigned char rgb[3];
      int a0, b0;
      colour((feats[(size_t)t * D + m] - (hi - range)) / range, rgb);
      for (a0 = 0; a0 < ys; a0++)            /* low bins at the bottom */
        for (b0 = 0; b0 < xs; b0++) put(&im, left + t * xs + b0, top + (D - 1 - m) * ys + a0, rgb);
    }
  /* x axis: a tick every 0.5 s, labelled every second */
  for (i = 0;; i++) {
    double sec = 0.5 * i;
    int x = left + (int)(sec * 1000 / o.frame_shift * xs), k;
    char lab[16];
    if (x > left + T * xs) break;
    for (k = 0; k < (i % 2 ? 3 : 6); k++) put(&im, x, top + D * ys + k, white);
    if (i % 2 == 0) {
      snprintf(lab, sizeof lab, "%gs", sec);
      text(&im, x - text_width(lab, 2) / 2, top + D * ys + 9, lab, 2, white);
    }
  }
  /* y axis: the bins whose centres are nearest 0.25, 0.5, 1, 2, 4, 8 kHz */
  for (i = 0; i < 6; i++) {
    double f = 250.0 * (1 << i);
    int best = 0, k, y;
    char lab[16];
    if (f > 0.5 * o.sample_frequency) break;
    for (m = 1; m < D; m++)
      if (fabs(centre[m] - f) < fabs(centre[best] - f)) best = m;
    if (fabs(centre[best] - f) > 0.1 * f) continue;
    y = top + (D - 1 - best) * ys + ys / 2;
    for (k = 1; k <= 4; k++) put(&im, left - k, y, white);
    for (k = 0; k < T * xs; k += 4) put(&im, left + k, y, grey);    /* a faint guide line */
    snprintf(lab, sizeof lab, f < 1000 ? "%.2gk" : "%.0fk", f / 1000);
    text(&im, left - 6 - text_width(lab, 2), y - 5, lab, 2, white);
  }
  text(&im, 2, 2, "Hz", 1, grey);
  if (op_write_png("fbank_png", out, im.px, im.w, im.h)) {   /* written at once: never half a file */
    free(im.px), free(work), free(feats), free(W), free(centre);
    asr_audio_free(&a, NULL);
    return 2;
  }
  printf("%s: %.2f s at %d Hz, %d frames x %d mel bins, log-mel %.1f .. %.1f -> %s (%dx%d)\n", in,
         (double)a.n / a.sample_rate, a.sample_rate, T, D, hi - range, hi, out, im.w, im.h);
  free(im.px), free(work), free(feats), free(W), free(centre);
  asr_audio_free(&a, NULL);
  return 0;
}
