/* examples/recognizer/asrdata.c - data folders, audio, features and progress for train/transcribe. */
#define _POSIX_C_SOURCE 200809L
#include "asrdata.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stb/stb_image_write.h>

static const char *const DIGIT_WORDS[10] = {"zero", "one", "two",   "three", "four",
                                            "five", "six", "seven", "eight", "nine"};

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = (char *)malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int add_item(ad_list *l, const char *path, const char *text, int speaker, int take) {
  ad_item *it;
  if (l->count == l->cap) {
    int ncap = l->cap ? 2 * l->cap : 256;
    ad_item *ni = (ad_item *)realloc(l->items, sizeof *ni * (size_t)ncap);
    if (!ni) return -1;
    l->items = ni;
    l->cap = ncap;
  }
  it = &l->items[l->count];
  it->path = dupstr(path);
  it->text = dupstr(text);
  it->speaker = speaker;
  it->take = take;
  if (!it->path || !it->text) return -1;
  l->count++;
  return 0;
}

void ad_list_free(ad_list *l) {
  int i;
  for (i = 0; i < l->count; i++) {
    free(l->items[i].path);
    free(l->items[i].text);
  }
  free(l->items);
  memset(l, 0, sizeof *l);
}

/* Normalizes text through the character set; 0, or 2 with a message naming where. */
static int normalize(const char *text, char *out, size_t cap, const char *where) {
  int ids[1024], n;
  asr_error err;
  n = asr_text_encode(text, ids, 1024, &err);
  if (n < 0) {
    fprintf(stderr, "%s: %s\n", where, err.msg);
    return 2;
  }
  if (asr_text_decode(ids, n, out, cap) < 0) {
    fprintf(stderr, "%s: transcript too long\n", where);
    return 2;
  }
  return 0;
}

static int read_tsv(ad_list *l, const char *dir, const char *tsv) {
  FILE *fp = fopen(tsv, "r");
  char line[4096], path[4096 + 256], norm[1024];
  int lineno = 0;
  if (!fp) {
    fprintf(stderr, "%s: cannot open: %s\n", tsv, strerror(errno));
    return 2;
  }
  while (fgets(line, sizeof line, fp)) {
    char *tab, *end, where[4200];
    lineno++;
    end = line + strlen(line);
    while (end > line && (end[-1] == '\n' || end[-1] == '\r')) *--end = 0;
    if (!line[0] || line[0] == '#') continue;
    snprintf(where, sizeof where, "%s:%d", tsv, lineno);
    tab = strchr(line, '\t');
    if (!tab) {
      fclose(fp);
      fprintf(stderr, "%s: expected path<TAB>text\n", where);
      return 2;
    }
    *tab = 0;
    if (normalize(tab + 1, norm, sizeof norm, where)) {
      fclose(fp);
      return 2;
    }
    if (!norm[0]) {
      fclose(fp);
      fprintf(stderr, "%s: empty transcript\n", where);
      return 2;
    }
    snprintf(path, sizeof path, "%s/%s", dir, line);
    if (add_item(l, path, norm, 0, -1)) {
      fclose(fp);
      fprintf(stderr, "out of memory\n");
      return 2;
    }
  }
  fclose(fp);
  if (l->count == 0) {
    fprintf(stderr, "%s: no utterances\n", tsv);
    return 2;
  }
  return 0;
}

static int cmp_items(const void *a, const void *b) {
  return strcmp(((const ad_item *)a)->path, ((const ad_item *)b)->path);
}

/* {digit}_{speaker}_{take}.wav */
static int read_fsdd(ad_list *l, const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  if (!d) {
    fprintf(stderr, "%s: cannot open the data folder: %s\n", dir, strerror(errno));
    return 2;
  }
  while ((e = readdir(d)) != NULL) {
    const char *name = e->d_name;
    char speaker[32], path[4096 + 256];
    int digit, take, s, len, consumed = 0;
    len = (int)strlen(name);
    if (len < 9 || strcmp(name + len - 4, ".wav") != 0) continue;
    if (name[0] < '0' || name[0] > '9' || name[1] != '_') continue;
    digit = name[0] - '0';
    {
      const char *us = strchr(name + 2, '_');
      if (!us || us - (name + 2) >= (int)sizeof speaker || us == name + 2) continue;
      memcpy(speaker, name + 2, (size_t)(us - (name + 2)));
      speaker[us - (name + 2)] = 0;
      if (sscanf(us + 1, "%d.wav%n", &take, &consumed) != 1 || us + 1 + consumed != name + len) continue;
    }
    for (s = 0; s < l->n_speakers; s++)
      if (!strcmp(l->speakers[s], speaker)) break;
    if (s == l->n_speakers) {
      if (s == 64) continue;
      snprintf(l->speakers[s], sizeof l->speakers[s], "%s", speaker);
      l->n_speakers++;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (add_item(l, path, DIGIT_WORDS[digit], s, take)) {
      closedir(d);
      fprintf(stderr, "out of memory\n");
      return 2;
    }
  }
  closedir(d);
  if (l->count == 0) {
    fprintf(stderr, "%s: no transcripts.tsv and no {digit}_{speaker}_{index}.wav recordings\n", dir);
    return 2;
  }
  /* directory order is arbitrary: sort, so that a seed means the same thing everywhere */
  qsort(l->items, (size_t)l->count, sizeof l->items[0], cmp_items);
  return 0;
}

int ad_list_read(ad_list *l, const char *dir) {
  char tsv[4096 + 32];
  memset(l, 0, sizeof *l);
  snprintf(tsv, sizeof tsv, "%s/transcripts.tsv", dir);
  if (access(tsv, F_OK) == 0) return read_tsv(l, dir, tsv);
  return read_fsdd(l, dir);
}

/* Is `name` one of the comma-separated names in `set`? */
static int in_set(const char *set, const char *name) {
  size_t n = strlen(name);
  while (*set) {
    const char *comma = strchr(set, ',');
    size_t len = comma ? (size_t)(comma - set) : strlen(set);
    if (len == n && !strncmp(set, name, n)) return 1;
    set += len + (comma != NULL);
  }
  return 0;
}

/* Every name of `set` must be a speaker of the folder: 0, or 2 with a message. */
static int check_set(const ad_list *l, const char *set, const char *option, const char *what) {
  const char *p = set;
  if (!*set) {
    fprintf(stderr, "%s: %s: no speaker named\n", what, option);
    return 2;
  }
  while (*p) {
    const char *comma = strchr(p, ',');
    int len = comma ? (int)(comma - p) : (int)strlen(p), s;
    for (s = 0; s < l->n_speakers; s++)
      if ((int)strlen(l->speakers[s]) == len && !strncmp(l->speakers[s], p, (size_t)len)) break;
    if (len == 0 || s == l->n_speakers) {
      fprintf(stderr, "%s: %s: '%.*s' is not a speaker of the data folder (it has", what, option, len, p);
      for (s = 0; s < l->n_speakers; s++) fprintf(stderr, " %s", l->speakers[s]);
      fprintf(stderr, ")\n");
      return 2;
    }
    p += len + (comma != NULL);
  }
  return 0;
}

int ad_list_select_speakers(ad_list *l, const char *only, const char *except, const char *what) {
  int i, s, kept = 0, n_new = 0, map[64];
  char names[64][32];
  if (!only && !except) return 0;
  if (l->n_speakers == 0) {
    fprintf(stderr, "%s: %s: the data folder names no speakers (transcripts.tsv; speakers come from "
                    "{digit}_{speaker}_{take}.wav names)\n", what, only ? "--speakers" : "--exclude-speakers");
    return 2;
  }
  if ((only && check_set(l, only, "--speakers", what)) || (except && check_set(l, except, "--exclude-speakers", what)))
    return 2;
  /* the speakers that remain, numbered in their old order */
  for (s = 0; s < l->n_speakers; s++) {
    int keep = (!only || in_set(only, l->speakers[s])) && !(except && in_set(except, l->speakers[s]));
    map[s] = keep ? n_new : -1;
    if (keep) memcpy(names[n_new++], l->speakers[s], sizeof names[0]);
  }
  if (n_new == 0) {
    fprintf(stderr, "%s: --speakers/--exclude-speakers leave no speaker\n", what);
    return 2;
  }
  for (i = 0; i < l->count; i++) {
    ad_item it = l->items[i];
    if (map[it.speaker] < 0) {
      free(it.path);
      free(it.text);
      continue;
    }
    it.speaker = map[it.speaker];
    l->items[kept++] = it;
  }
  l->count = kept;
  l->n_speakers = n_new;
  memcpy(l->speakers, names, sizeof names[0] * (size_t)n_new);
  return 0;
}

int ad_audio_read(const char *path, asr_audio *audio) {
  asr_error err;
  if (asr_audio_read(path, ASR_CHANNEL_MIX, ASR_SCALE_INT16, audio, NULL, &err) != ASR_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 2;
  }
  return 0;
}

/* ad_features with the fbank's VTLN warp factor alpha (1: none). */
static int features_warped(const asr_model *m, const asr_real *wave, int n, int sample_rate, double alpha,
                           const char *what, asr_real **feats, int *T) {
  size_t wb = asr_model_features_workspace_size(m, n, sample_rate);
  void *work;
  asr_error err;
  int frames = asr_model_num_frames(m, n, sample_rate);
  *feats = NULL;
  *T = 0;
  if (frames < 1) {
    fprintf(stderr, "%s: audio too short to recognize (%d samples at %d Hz: no 25 ms feature frame; asrtool fbank "
                    "gives such a file Kaldi's empty (0, bins) matrix, a model needs frames)\n", what, n, sample_rate);
    return 2;
  }
  work = malloc(wb ? wb : 1);
  *feats = (asr_real *)malloc(sizeof(asr_real) * (size_t)frames * m->cfg.n_mels);
  if (!work || !*feats) {
    free(work);
    free(*feats);
    *feats = NULL;
    fprintf(stderr, "%s: out of memory\n", what);
    return 2;
  }
  if (asr_model_features_warped(m, *feats, wave, n, sample_rate, alpha, work, wb, &err) != ASR_OK) {
    free(work);
    free(*feats);
    *feats = NULL;
    fprintf(stderr, "%s: %s\n", what, err.msg);
    return 2;
  }
  free(work);
  *T = frames;
  return 0;
}

int ad_features(const asr_model *m, const asr_real *wave, int n, int sample_rate, const char *what,
                asr_real **feats, int *T) {
  return features_warped(m, wave, n, sample_rate, 1.0, what, feats, T);
}

void ad_utt_free(ad_utt *u) {
  free(u->feats);
  free(u->wave);
  free(u->tokens);
  free(u->text);
  memset(u, 0, sizeof *u);
}

int ad_is_tty(void) { return isatty(STDOUT_FILENO); }

int ad_default_beam(const asr_model *m) { return m->cfg.head == ASR_HEAD_RNNT_LAS ? 4 : 1; }

double ad_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- SVG line chart */
static void svg_polyline(FILE *fp, const double *x, const double *y, int n, double x0, double x1,
                         double y0, double y1, const char *colour) {
  int i;
  fprintf(fp, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", colour);
  for (i = 0; i < n; i++) {
    double px = 60 + 560 * (x[i] - x0) / (x1 - x0), py = 330 - 290 * (y[i] - y0) / (y1 - y0);
    fprintf(fp, "%.1f,%.1f ", px, py);
  }
  fprintf(fp, "\"/>\n");
}

int ad_svg_curve(const char *path, const char *title, const char *ylabel, const double *x,
                 const double *y, int n, const double *x2, const double *y2, int n2,
                 const char *label1, const char *label2) {
  char *buf = NULL;
  size_t len = 0;
  FILE *fp;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  int i, k;
  asr_error err;
  for (i = 0; i < n; i++) {
    x0 = fmin(x0, x[i]), x1 = fmax(x1, x[i]);
    y0 = fmin(y0, y[i]), y1 = fmax(y1, y[i]);
  }
  for (i = 0; i < n2; i++) {
    x0 = fmin(x0, x2[i]), x1 = fmax(x1, x2[i]);
    y0 = fmin(y0, y2[i]), y1 = fmax(y1, y2[i]);
  }
  if (n + n2 == 0) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 <= x0) x1 = x0 + 1;
  if (y0 > 0) y0 = 0;
  if (y1 <= y0) y1 = y0 + 1;
  fp = open_memstream(&buf, &len);
  if (!fp) return 2;
  fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"380\" "
              "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"640\" height=\"380\" fill=\"white\"/>\n");
  fprintf(fp, "<text x=\"320\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n", title);
  fprintf(fp, "<rect x=\"60\" y=\"40\" width=\"560\" height=\"290\" fill=\"none\" stroke=\"#888\"/>\n");
  for (k = 0; k <= 4; k++) {
    double v = y0 + (y1 - y0) * k / 4, py = 330 - 290.0 * k / 4;
    double u = x0 + (x1 - x0) * k / 4, px = 60 + 560.0 * k / 4;
    fprintf(fp, "<line x1=\"60\" x2=\"620\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", py, py);
    fprintf(fp, "<text x=\"54\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", py + 4, v);
    fprintf(fp, "<text x=\"%.1f\" y=\"348\" text-anchor=\"middle\">%.0f</text>\n", px, u);
  }
  fprintf(fp, "<text x=\"340\" y=\"372\" text-anchor=\"middle\">step</text>\n");
  fprintf(fp, "<text x=\"16\" y=\"185\" text-anchor=\"middle\" transform=\"rotate(-90 16 185)\">%s</text>\n", ylabel);
  if (n) svg_polyline(fp, x, y, n, x0, x1, y0, y1, "#1f77b4");
  if (n2) svg_polyline(fp, x2, y2, n2, x0, x1, y0, y1, "#d62728");
  if (label1) fprintf(fp, "<text x=\"600\" y=\"60\" text-anchor=\"end\" fill=\"#1f77b4\">%s</text>\n", label1);
  if (label2 && n2) fprintf(fp, "<text x=\"600\" y=\"76\" text-anchor=\"end\" fill=\"#d62728\">%s</text>\n", label2);
  fprintf(fp, "</svg>\n");
  fclose(fp);
  k = asr_write_file_atomic(path, buf, len, &err) == ASR_OK ? 0 : 2;
  if (k) fprintf(stderr, "%s\n", err.msg);
  free(buf);
  return k;
}

/* ---- every recording of a folder, as waveforms at one rate (build/pretrain, build/units) */
static int has_ext(const char *name, const char *ext) {
  size_t n = strlen(name), e = strlen(ext);
  return n > e && strcmp(name + n - e, ext) == 0;
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ad_waves_read(ad_waves *w, const char *dir, int rate) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int cap = 0, i;
  memset(w, 0, sizeof *w);
  if (!d) {
    fprintf(stderr, "%s: cannot open the folder (%s)\n", dir, strerror(errno));
    return 2;
  }
  while ((e = readdir(d)) != NULL) {
    char **np;
    if (!has_ext(e->d_name, ".wav") && !has_ext(e->d_name, ".ogg")) continue;
    if (w->count == cap) {
      cap = cap ? 2 * cap : 256;
      np = (char **)realloc(w->paths, sizeof(char *) * (size_t)cap);
      if (!np) break;
      w->paths = np;
    }
    w->paths[w->count] = (char *)malloc(strlen(dir) + strlen(e->d_name) + 2);
    if (!w->paths[w->count]) break;
    sprintf(w->paths[w->count++], "%s/%s", dir, e->d_name);
  }
  closedir(d);
  if (w->count == 0) {
    fprintf(stderr, "%s: no audio (.wav or .ogg files) in this folder\n", dir);
    ad_waves_free(w);
    return 2;
  }
  qsort(w->paths, (size_t)w->count, sizeof(char *), cmp_str);
  w->x = (asr_real **)calloc((size_t)w->count, sizeof(asr_real *));
  w->n = (int *)calloc((size_t)w->count, sizeof(int));
  if (!w->x || !w->n) {
    fprintf(stderr, "out of memory\n");
    ad_waves_free(w);
    return 2;
  }
  for (i = 0; i < w->count; i++) {
    asr_audio a;
    int n, k;
    if (ad_audio_read(w->paths[i], &a)) {
      ad_waves_free(w);
      return 2;
    }
    n = asr_resample_length(a.n, a.sample_rate, rate);
    w->x[i] = (asr_real *)malloc(sizeof(asr_real) * (size_t)(n > 0 ? n : 1));
    if (n < 0 || !w->x[i] || asr_resample(w->x[i], a.samples, a.n, a.sample_rate, rate, 6, 0.99) != ASR_OK) {
      fprintf(stderr, "%s: cannot resample %d Hz to %d Hz\n", w->paths[i], a.sample_rate, rate);
      asr_audio_free(&a, NULL);
      ad_waves_free(w);
      return 2;
    }
    for (k = 0; k < n; k++) w->x[i][k] /= 32768;          /* Kaldi's 16-bit scale -> [-1, 1) */
    w->n[i] = n;
    asr_audio_free(&a, NULL);
  }
  return 0;
}

void ad_waves_free(ad_waves *w) {
  int i;
  for (i = 0; i < w->count; i++) {
    if (w->paths) free(w->paths[i]);
    if (w->x) free(w->x[i]);
  }
  free(w->paths), free(w->x), free(w->n);
  memset(w, 0, sizeof *w);
}

/* ---- pictures: a colour ramp and PNG images inside SVG (posteriorgram, units) */
/* "viridis"-like ramp from dark blue through green to yellow, t in [0,1] */
void ad_ramp(double t, unsigned char *rgb) {
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
int ad_svg_png(FILE *fp, const unsigned char *rgb, int w, int h, double x, double y, double W, double H) {
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


/* ---- option values */

int ad_parse_long(const char *prog, const char *name, const char *s, long lo, long hi, long *v) {
  char *end;
  long x = s ? strtol(s, &end, 10) : 0;
  if (!s || end == s || *end || x < lo || x > hi) {
    fprintf(stderr, "%s: --%s: '%s' is not an integer in [%ld, %ld]\n", prog, name, s ? s : "", lo, hi);
    return 2;
  }
  *v = x;
  return 0;
}

int ad_parse_double(const char *prog, const char *name, const char *s, double lo, double hi, double *v) {
  char *end;
  double x = s ? strtod(s, &end) : 0;
  if (!s || end == s || *end || !(x >= lo && x <= hi)) {
    fprintf(stderr, "%s: --%s: '%s' is not a number in [%g, %g]\n", prog, name, s ? s : "", lo, hi);
    return 2;
  }
  *v = x;
  return 0;
}

/* ---- a frozen pretrained front end (docs/wav2vec.md, "A recognizer on the features") */

/* Mean 0, variance 1 in each of the C columns of x (T, C), as the fbank's CMVN. */
static void normalize_cols(asr_real *x, int T, int C) {
  int t, c;
  for (c = 0; c < C; c++) {
    double mu = 0, var = 0;
    for (t = 0; t < T; t++) mu += x[(size_t)t * C + c];
    mu /= T;
    for (t = 0; t < T; t++) var += (x[(size_t)t * C + c] - mu) * (x[(size_t)t * C + c] - mu);
    var = var / T + 1e-10;
    for (t = 0; t < T; t++) x[(size_t)t * C + c] = (asr_real)((x[(size_t)t * C + c] - mu) / sqrt(var));
  }
}

/* x (C, T) -> y (T, C) */
static void transpose_ct(asr_real *y, const asr_real *x, int C, int T) {
  int t, c;
  for (t = 0; t < T; t++)
    for (c = 0; c < C; c++) y[(size_t)t * C + c] = x[(size_t)c * T + t];
}

int ad_frontend_load(ad_frontend *fe, const char *w2v, const char *bert, const char *prog) {
  asr_error err;
  memset(fe, 0, sizeof *fe);
  if (!w2v && !bert) return 0;                   /* the fbank */
  if (!w2v) {
    fprintf(stderr, "%s: --bert-features needs --w2v-features VQ.npz: the vq-wav2vec model whose units the BERT read\n",
            prog);
    return 2;
  }
  if (asr_w2v_model_load(&fe->w2v, w2v, NULL, &err) != ASR_OK) {
    fprintf(stderr, "%s: %s\n", prog, err.msg);
    return 2;
  }
  fe->kind = ASR_FRONT_END_W2V;
  if (bert) {
    if (asr_bert_model_load(&fe->bert, bert, NULL, &err) != ASR_OK) {
      fprintf(stderr, "%s: %s\n", prog, err.msg);
      ad_frontend_free(fe);
      return 2;
    }
    fe->kind = ASR_FRONT_END_W2V_BERT;
    if (fe->w2v.cfg.quantizer != ASR_W2V_GUMBEL ||
        fe->bert.cfg.vocab != (int)lround(pow(fe->w2v.cfg.vq_vars, fe->w2v.cfg.vq_groups))) {
      fprintf(stderr, "%s: --bert-features: %s has %d tokens; %s must be a Gumbel vq-wav2vec model with as many "
                      "code combinations\n", prog, bert, fe->bert.cfg.vocab, w2v);
      ad_frontend_free(fe);
      return 2;
    }
  } else if (fe->w2v.cfg.quantizer != ASR_W2V_NONE) {
    fprintf(stderr, "%s: --w2v-features: %s is a vq-wav2vec model; the context features of wav2vec "
                    "(recipe toy-wav2vec) are what this option reads\n", prog, w2v);
    ad_frontend_free(fe);
    return 2;
  }
  return 0;
}

void ad_frontend_free(ad_frontend *fe) {
  if (fe->kind != ASR_FRONT_END_FBANK) asr_w2v_model_free(&fe->w2v);
  if (fe->kind == ASR_FRONT_END_W2V_BERT) asr_bert_model_free(&fe->bert);
  memset(fe, 0, sizeof *fe);
}

int ad_frontend_width(const ad_frontend *fe) {
  return fe->kind == ASR_FRONT_END_W2V_BERT ? fe->bert.cfg.d_model : fe->w2v.cfg.channels;
}

/* FNV-1a (32 bits) over each tensor's name and float32 values, in store order. */
static uint32_t fnv_params(uint32_t h, const asr_params *p) {
  int i;
  size_t k, b;
  for (i = 0; i < p->count; i++) {
    const asr_param *it = &p->items[i];
    for (b = 0; it->name[b]; b++) h = (h ^ (unsigned char)it->name[b]) * 16777619u;
    for (k = 0; k < it->count; k++) {
      float v = (float)p->data[it->offset + k];
      unsigned char c[sizeof v];
      memcpy(c, &v, sizeof v);
      for (b = 0; b < sizeof v; b++) h = (h ^ c[b]) * 16777619u;
    }
  }
  return h;
}

int ad_frontend_check(const ad_frontend *fe) {
  uint32_t h = 2166136261u;
  if (fe->kind == ASR_FRONT_END_FBANK) return 0;
  h = fnv_params(h, &fe->w2v.params);
  if (fe->kind == ASR_FRONT_END_W2V_BERT) h = fnv_params(h, &fe->bert.params);
  h &= 0x7FFFFFFFu;                              /* a positive int in the config; 0 is "none" */
  return h ? (int)h : 1;
}

int ad_frontend_match(const ad_frontend *fe, const asr_model *m, const char *model, const char *prog) {
  static const char *names[3] = {"the fbank", "a wav2vec model's context features (--w2v-features W2V.npz)",
                                 "a BERT's features of vq-wav2vec units (--w2v-features VQ.npz --bert-features BERT.npz)"};
  int want = m->cfg.front_end >= 0 && m->cfg.front_end <= 2 ? m->cfg.front_end : 0;
  if (fe->kind != want) {
    fprintf(stderr, "%s: %s was trained on %s; %s given\n", prog, model, names[want],
            fe->kind == ASR_FRONT_END_FBANK ? "no such front end is" : fe->kind == ASR_FRONT_END_W2V
                                                                           ? "--w2v-features alone is"
                                                                           : "--w2v-features with --bert-features are");
    return 2;
  }
  if (want != ASR_FRONT_END_FBANK && ad_frontend_check(fe) != m->cfg.front_end_check) {
    fprintf(stderr, "%s: %s was trained on another front end (its weights' checksum %d, these %d): give the "
                    "--w2v-features/--bert-features files it was trained with\n", prog, model, m->cfg.front_end_check,
            ad_frontend_check(fe));
    return 2;
  }
  if (want != ASR_FRONT_END_FBANK && m->cfg.n_mels != ad_frontend_width(fe)) {   /* a checksum collision */
    fprintf(stderr, "%s: %s reads %d features a frame, the front end gives %d\n", prog, model, m->cfg.n_mels,
            ad_frontend_width(fe));
    return 2;
  }
  return 0;
}

/* vq-wav2vec's pipeline ([Baevski20vq] sec. 4-5): the Gumbel quantizer without noise
 * (argmax, as build/units) on f's output z (C, T), the codes of a frame as one token
 * (u = sum_g i_g V^(G-1-g), as build/bert reads units.tsv), then the BERT's features
 * (T, D) of the unmasked tokens. */
static int bert_features(ad_frontend *fe, const asr_real *z, int T, const char *what, asr_real *feats) {
  const asr_w2v_config *c = &fe->w2v.cfg;
  int C = c->channels, G = c->vq_groups, V = c->vq_vars, t, k, ret = 2;
  size_t NC = (size_t)T * C, GV = (size_t)T * G * V, wb = asr_bert_model_workspace_size(&fe->bert, 1, T);
  asr_real *zr = (asr_real *)malloc(sizeof(asr_real) * NC), *q = (asr_real *)malloc(sizeof(asr_real) * NC);
  asr_real *h = (asr_real *)malloc(sizeof(asr_real) * (size_t)T * fe->w2v.gq.hidden);
  asr_real *lg = (asr_real *)malloc(sizeof(asr_real) * GV), *p = (asr_real *)malloc(sizeof(asr_real) * GV);
  int *index = (int *)malloc(sizeof(int) * (size_t)T * G), *tok = (int *)malloc(sizeof(int) * (size_t)T);
  void *work = wb != (size_t)-1 ? malloc(wb) : NULL;
  asr_error err;
  if (!zr || !q || !h || !lg || !p || !index || !tok || !work) {
    fprintf(stderr, "%s: out of memory\n", what);
    goto done;
  }
  transpose_ct(zr, z, C, T);
  if (asr_gumbel_quantizer_forward(q, index, h, lg, p, zr, NULL, &fe->w2v.gq_w, &fe->w2v.gq, T) != ASR_OK) {
    fprintf(stderr, "%s: the quantizer failed on this recording\n", what);
    goto done;
  }
  for (t = 0; t < T; t++) {
    int u = 0;
    for (k = 0; k < G; k++) u = u * V + index[(size_t)t * G + k];
    tok[t] = u;
  }
  if (asr_bert_model_features(&fe->bert, feats, tok, NULL, 1, T, work, wb, &err) != ASR_OK) {
    fprintf(stderr, "%s: %s\n", what, err.msg);
    goto done;
  }
  ret = 0;
done:
  free(zr), free(q), free(h), free(lg), free(p), free(index), free(tok), free(work);
  return ret;
}

/* The wav2vec front end: f, then g (or the quantizer and the BERT), on the 16 kHz waveform
 * scaled to [-1, 1) as build/pretrain trains it, one frame per 10 ms as the fbank,
 * normalized per utterance (mean 0, variance 1 in each dimension) as the fbank is. */
static int frontend_features(ad_frontend *fe, const asr_real *wave, int n, int rate, const char *what,
                             asr_real **feats, int *T) {
  const asr_w2v_config *cfg = &fe->w2v.cfg;
  int m = asr_resample_length(n, rate, 16000), C = cfg->channels, D = ad_frontend_width(fe), F, t;
  asr_real *x = NULL, *z = NULL, *cc = NULL, *es = NULL, *cs = NULL;
  void *work = NULL;
  size_t wb;
  int ret = 2;
  *feats = NULL, *T = 0;
  F = m > 0 ? asr_w2v_frames(cfg, m) : 0;
  if (F < 1) {
    fprintf(stderr, "%s: audio too short for the wav2vec encoder (%d samples at %d Hz)\n", what, n, rate);
    return 2;
  }
  wb = asr_w2v_encoder_workspace_size(cfg, 1, m);
  if (asr_w2v_context_workspace_size(cfg, 1, F) > wb) wb = asr_w2v_context_workspace_size(cfg, 1, F);
  x = (asr_real *)malloc(sizeof(asr_real) * (size_t)m);
  z = (asr_real *)malloc(sizeof(asr_real) * (size_t)C * F);
  cc = (asr_real *)malloc(sizeof(asr_real) * (size_t)C * F);
  es = (asr_real *)malloc(sizeof(asr_real) * (asr_w2v_encoder_saved_size(cfg, 1, m) + 1));
  cs = (asr_real *)malloc(sizeof(asr_real) * (asr_w2v_context_saved_size(cfg, 1, F) + 1));
  work = malloc(wb + 1);
  *feats = (asr_real *)malloc(sizeof(asr_real) * (size_t)D * F);
  if (!x || !z || !cc || !es || !cs || !work || !*feats) {
    fprintf(stderr, "%s: out of memory\n", what);
    goto done;
  }
  if (asr_resample(x, wave, n, rate, 16000, 6, 0.99) != ASR_OK) {
    fprintf(stderr, "%s: cannot resample %d Hz to 16000 Hz\n", what, rate);
    goto done;
  }
  for (t = 0; t < m; t++) x[t] /= 32768;          /* Kaldi's 16-bit scale -> [-1, 1), as pretrain */
  if (asr_w2v_encoder_forward(z, es, x, &fe->w2v.enc, cfg, 1, m, work, wb) != ASR_OK) {
    fprintf(stderr, "%s: the wav2vec encoder failed on this recording\n", what);
    goto done;
  }
  if (fe->kind == ASR_FRONT_END_W2V_BERT) {
    if (bert_features(fe, z, F, what, *feats)) goto done;
  } else {
    if (asr_w2v_context_forward(cc, cs, z, &fe->w2v.ctx, cfg, 1, F, work, wb) != ASR_OK) {
      fprintf(stderr, "%s: the wav2vec context network failed on this recording\n", what);
      goto done;
    }
    transpose_ct(*feats, cc, C, F);
  }
  normalize_cols(*feats, F, D);
  *T = F, ret = 0;
done:
  if (ret) free(*feats), *feats = NULL;
  free(x), free(z), free(cc), free(es), free(cs), free(work);
  return ret;
}

int ad_model_features(const asr_model *m, ad_frontend *fe, const asr_real *wave, int n, int sample_rate,
                      const char *what, asr_real **feats, int *T) {
  if (fe && fe->kind != ASR_FRONT_END_FBANK) return frontend_features(fe, wave, n, sample_rate, what, feats, T);
  return features_warped(m, wave, n, sample_rate, fe && fe->vtln_warp > 0 ? fe->vtln_warp : 1.0, what, feats, T);
}

int ad_check_warps(const asr_model *m, double lo, double hi, const char *what) {
  int k, n = m->cfg.sample_rate / 10, rc = 0;
  asr_real *x = (asr_real *)calloc((size_t)n, sizeof(asr_real)), *f;
  size_t wb = asr_model_features_workspace_size(m, n, m->cfg.sample_rate);
  void *w = malloc(wb ? wb : 1);
  f = (asr_real *)malloc(sizeof(asr_real) * (size_t)(asr_model_num_frames(m, n, m->cfg.sample_rate) + 1) *
                         (size_t)m->cfg.n_mels);
  if (!x || !w || !f) {
    fprintf(stderr, "%s: out of memory\n", what);
    rc = 2;
  }
  for (k = 0; k < 2 && !rc; k++) {
    asr_error err;
    double alpha = k ? hi : lo;
    if (asr_model_features_warped(m, f, x, n, m->cfg.sample_rate, alpha, w, wb, &err) != ASR_OK) {
      fprintf(stderr, "%s: warp factor %g: %s\n", what, alpha, err.msg);
      rc = 2;
    }
  }
  free(x), free(w), free(f);
  return rc;
}

/* Per-speaker CMVN: adds the unnormalized fbank frames of one file to sum (2 D: sums and
 * sums of squares) and *frames. With chunk > 0 the file is read as a stream and featurized
 * in pieces of chunk seconds, the last one up to 2 s longer (a file no longer than
 * that is one piece: its statistics are those of --chunk 0), so a long recording never
 * sits whole in memory and the buffer is smaller than a decoding window. The model's
 * statistics must be the identity. 0 or 2. */
int ad_file_stats(const asr_model *m, ad_frontend *fe, const char *path, double chunk, double *sum, long *frames) {
  int D = m->cfg.n_mels, T, eof = 0, r = 2;
  asr_real *f = NULL, *buf = NULL;
  int64_t L, C, have = 0;
  asr_audio_stream s;
  asr_error err;
  if (chunk <= 0) {                            /* the whole recording at once, as it is decoded */
    asr_audio a;
    if (ad_audio_read(path, &a)) return 2;
    r = ad_model_features(m, fe, a.samples, a.n, a.sample_rate, path, &f, &T);
    asr_audio_free(&a, NULL);
    if (!r) asr_cmvn_accumulate(sum, sum + D, f, T, D), *frames += T;
    free(f);
    return r;
  }
  if (asr_audio_stream_open(&s, path, ASR_CHANNEL_MIX, ASR_SCALE_INT16, NULL, &err) != ASR_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 2;
  }
  L = (int64_t)llround(chunk * s.sample_rate);
  C = (int64_t)llround(2.0 * s.sample_rate);   /* build/transcribe's CONTEXT_S */
  buf = (asr_real *)malloc(sizeof *buf * (size_t)(L + C));
  if (!buf) fprintf(stderr, "%s: out of memory\n", path);
  while (buf) {
    while (!eof && have < L + C) {             /* fill to L + C, or to the end */
      int got = asr_audio_stream_read(&s, buf + have, (int)(L + C - have), &err);
      if (got < 0) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        goto done;
      }
      if (got == 0) eof = 1;
      have += got;
    }
    if (ad_model_features(m, fe, buf, (int)(eof ? have : L), s.sample_rate, path, &f, &T)) goto done;
    asr_cmvn_accumulate(sum, sum + D, f, T, D), *frames += T;
    free(f);
    if (eof) break;                            /* the rest, C..L + C samples, was that piece */
    memmove(buf, buf + L, sizeof *buf * (size_t)(have - L));
    have -= L;
  }
  r = buf ? 0 : 2;
done:
  free(buf);
  asr_audio_stream_close(&s);
  return r;
}
