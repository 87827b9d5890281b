/* examples/recognizer/posteriorgram.c - what a CTC model sees and says about one utterance.
 *
 *   build/posteriorgram --model MODEL.npz FILE OUT.svg
 *
 * Draws, one above the other on a common time axis: the log-mel features of FILE, the
 * model's posteriorgram (the probability of every token at every output frame, white 0
 * to black 1; the blank row on top), and the best path: each non-blank token is written
 * at the frames where it is emitted. The picture is an SVG with the two heat maps as
 * embedded PNG images (stb_image_write from Debian's libstb-dev). */
#define _POSIX_C_SOURCE 200809L
#include "asrdata.h"
#include "../outpath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stb/stb_image_write.h>

/* "viridis"-like ramp from dark blue through green to yellow, t in [0,1] */
static void ramp(double t, unsigned char *rgb) {
  static const double k[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  double x = t < 0 ? 0 : t > 1 ? 4 : t * 4;
  int i = x >= 4 ? 3 : (int)x, c;
  double f = x - i;
  for (c = 0; c < 3; c++) rgb[c] = (unsigned char)(k[i][c] + f * (k[i + 1][c] - k[i][c]) + 0.5);
}

static void write_b64(FILE *fp, const unsigned char *p, int n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int i;
  for (i = 0; i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    fputc(tab[v >> 18 & 63], fp);
    fputc(tab[v >> 12 & 63], fp);
    fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', fp);
    fputc(i + 2 < n ? tab[v & 63] : '=', fp);
  }
}

/* stb_image_write hands the PNG over in pieces: collect them. */
typedef struct membuf {
  unsigned char *p;
  int len, cap;
} membuf;
static void collect(void *ctx, void *data, int size) {
  membuf *b = (membuf *)ctx;
  if (b->len + size > b->cap) {
    int ncap = 2 * (b->len + size);
    unsigned char *np = (unsigned char *)realloc(b->p, (size_t)ncap);
    if (!np) return;
    b->p = np;
    b->cap = ncap;
  }
  memcpy(b->p + b->len, data, (size_t)size);
  b->len += size;
}

/* An RGB image (w, h) as <image> at (x, y) scaled to (W, H). */
static int embed(FILE *fp, const unsigned char *rgb, int w, int h, double x, double y, double W, double H) {
  membuf b = {NULL, 0, 0};
  unsigned char *png;
  int len;
  if (!stbi_write_png_to_func(collect, &b, w, h, 3, rgb, w * 3) || !b.p) return -1;
  png = b.p;
  len = b.len;
  fprintf(fp, "<image x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" preserveAspectRatio=\"none\" "
              "style=\"image-rendering:pixelated\" href=\"data:image/png;base64,", x, y, W, H);
  write_b64(fp, png, len);
  fprintf(fp, "\"/>\n");
  free(png);
  return 0;
}

/* The name of token k for a label: the character, or blank / space. */
static const char *token_name(int k, char *buf) {
  if (k == 0) return "blank";
  if (k == 1) return "space";
  buf[0] = ASR_CHARSET[k];
  buf[1] = 0;
  return buf;
}

int main(int argc, char **argv) {
  asr_model m;
  asr_error err;
  asr_audio a;
  asr_real *feats = NULL, *lp = NULL;
  int T, Tout, len, V, t, k, *path = NULL, ntok, *tok = NULL, status = 2;
  unsigned char *img = NULL;
  double lo = INFINITY, hi = -INFINITY, W = 900, x0 = 70, sub;
  FILE *fp;
  char *buf = NULL, text[1024], name[8];
  size_t blen = 0;
  void *work = NULL;
  size_t wb;
  if (argc != 5 || strcmp(argv[1], "--model") != 0) {
    fprintf(stderr, "usage: posteriorgram --model MODEL.npz FILE OUT.svg\n");
    return 2;
  }
  if (op_check("posteriorgram", argv[4], (const char *const *)argv + 2, 2)) return 2;
  if (asr_model_load(&m, argv[2], NULL, &err) != ASR_OK) {
    fprintf(stderr, "posteriorgram: %s\n", err.msg);
    return 2;
  }
  if (ad_audio_read(argv[3], &a)) goto done;
  k = ad_features(&m, a.samples, a.n, a.sample_rate, argv[3], &feats, &T);
  asr_audio_free(&a, NULL);
  if (k) goto done;
  V = m.cfg.vocab;
  Tout = asr_model_out_frames(&m, T);
  wb = asr_model_infer_workspace_size(&m, 1, T);
  work = malloc(wb);
  lp = (asr_real *)malloc(sizeof *lp * (size_t)Tout * V);
  path = (int *)malloc(sizeof *path * (size_t)Tout);
  tok = (int *)malloc(sizeof *tok * (size_t)Tout);
  img = (unsigned char *)malloc(3 * (size_t)T * (m.cfg.n_mels > V ? m.cfg.n_mels : V));
  if (!work || !lp || !path || !tok || !img) {
    fprintf(stderr, "posteriorgram: out of memory\n");
    goto done;
  }
  if (asr_model_logprobs(&m, lp, &len, feats, &T, 1, T, work, wb, &err) != ASR_OK) {
    fprintf(stderr, "posteriorgram: %s\n", err.msg);
    goto done;
  }
  asr_ctc_greedy_decode(tok, &ntok, NULL, path, lp, len, V, 0);
  if (asr_text_decode(tok, ntok, text, sizeof text) < 0) text[0] = 0;
  fp = open_memstream(&buf, &blen);
  if (!fp) {
    fprintf(stderr, "posteriorgram: out of memory\n");
    goto done;
  }
  fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"520\" font-family=\"sans-serif\" "
              "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W + x0 + 20);
  fprintf(fp, "<text x=\"%.0f\" y=\"20\" font-size=\"14\">%s: \"%s\"</text>\n", x0, argv[3], text);
  /* panel 1: log-mel features, low bins at the bottom */
  for (t = 0; t < T * m.cfg.n_mels; t++) {
    if (feats[t] < lo) lo = feats[t];
    if (feats[t] > hi) hi = feats[t];
  }
  for (k = 0; k < m.cfg.n_mels; k++)
    for (t = 0; t < T; t++)
      ramp((feats[(size_t)t * m.cfg.n_mels + k] - lo) / (hi - lo + 1e-9),
           img + 3 * ((size_t)(m.cfg.n_mels - 1 - k) * T + t));
  embed(fp, img, T, m.cfg.n_mels, x0, 32, W, 160);
  fprintf(fp, "<text x=\"%.0f\" y=\"115\" text-anchor=\"end\">%d mel</text>\n", x0 - 6, m.cfg.n_mels);
  /* panel 2: the posteriorgram, one row per token, blank on top */
  for (k = 0; k < V; k++)
    for (t = 0; t < len; t++) {
      int g = 255 - (int)(255 * exp(lp[(size_t)t * V + k]) + 0.5);
      unsigned char *px = img + 3 * ((size_t)k * len + t);
      px[0] = px[1] = px[2] = (unsigned char)(g < 0 ? 0 : g);
    }
  embed(fp, img, len, V, x0, 210, W, 232);
  for (k = 0; k < V; k++)
    fprintf(fp, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"8\">%s</text>\n", x0 - 4,
            210 + (k + 0.8) * 232.0 / V, token_name(k, name));
  /* panel 3: the best path, each token at its frames */
  sub = W / len;
  for (t = 0; t < len; t++)
    if (path[t] != 0 && (t == 0 || path[t] != path[t - 1]))
      fprintf(fp, "<text x=\"%.1f\" y=\"466\" text-anchor=\"middle\" fill=\"#d62728\">%s</text>\n",
              x0 + (t + 0.5) * sub, path[t] == 1 ? "_" : token_name(path[t], name));
  fprintf(fp, "<text x=\"%.0f\" y=\"466\" text-anchor=\"end\">best path</text>\n", x0 - 6);
  fprintf(fp, "<text x=\"%.0f\" y=\"500\" text-anchor=\"middle\">time: %.2f s, %d feature frames, %d output frames "
              "(%dx subsampling)</text>\n</svg>\n", x0 + W / 2, T * 0.01, T, len, asr_model_subsampling(&m));
  fclose(fp);
  if (asr_write_file_atomic(argv[4], buf, blen, &err) != ASR_OK) {
    fprintf(stderr, "posteriorgram: %s\n", err.msg);
    goto done;
  }
  status = 0;
done:
  free(buf), free(work), free(lp), free(path), free(tok), free(img), free(feats);
  asr_model_free(&m);
  return status;
}
