/* examples/ctc_align.c - force-align a transcript to CTC posteriors and draw the lattice.
 *
 *   build/ctc_align [--svg OUT.svg] [--png OUT.png] [--blank B] [LOGITS.npy TARGET.npy]
 *   build/ctc_align --transitions OUT.svg
 *
 * With LOGITS (T,V) and TARGET (S,) (integer labels), it aligns them; without, it makes
 * up posteriors for the transcript "the cat sat" over the alphabet
 * "_ abcdefghijklmnopqrstuvwxyz'" (blank first), so it runs on its own.
 *
 * What it computes, all with asr.h section 5 ([Graves06]):
 *   alpha, beta        asr_ctc_alpha_ref, asr_ctc_beta_ref over l' (2S+1 states)
 *   the posterior      gamma_t(s) = alpha_t(s) beta_t(s) / (y^t_{l'_s} p(l|x)), the
 *                      probability that the paths of l are in state s at frame t
 *                      (eq. (14) divided by p(l|x): each column sums to 1)
 *   the best path      asr_ctc_align (Viterbi: alpha with max for sum), and from it the
 *                      first and last frame of every token (asr_ctc_token_spans)
 * and draws gamma over (t, s) with the best path on top, as SVG (with labels) and/or
 * PNG (through Debian's stb_image_write), each written at once. docs/ctc.md shows the picture.
 * --transitions draws the allowed transitions of the lattice for "cat" (the paper's
 * Figure 3): which states each state may move to, and which cells lie on a complete path.
 */
#define _POSIX_C_SOURCE 200809L
#include "../asr.h"
#include "outpath.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ALPHABET[] = "_ abcdefghijklmnopqrstuvwxyz'";   /* index 0 is the blank */

static void die(const char *msg, const char *arg) {
  fprintf(stderr, "ctc_align: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
  exit(2);
}

/* Every output is made in memory and written at once (asr_write_file_atomic: a temporary
 * renamed into place), so a failed or killed run leaves no half-written picture. */
static char *g_svg;
static size_t g_svg_len;
static FILE *svg_open(void) {
  FILE *f = open_memstream(&g_svg, &g_svg_len);
  if (!f) die("out of memory", NULL);
  return f;
}
static void svg_close(FILE *f, const char *path) {
  asr_error err;
  if (fclose(f) != 0) die("out of memory", NULL);
  if (asr_write_file_atomic(path, g_svg, g_svg_len, &err) != ASR_OK) die(err.msg, NULL);
  free(g_svg);
  g_svg = NULL;
}

/* A made-up acoustic model: each character of `text` held for 1-4 frames, blanks of 0-3
 * frames between them (always one between equal neighbours), the posteriors peaked on
 * the true label with noise, softened at the edges of each segment and now and then
 * confused with a neighbouring letter. Returns T; fills logits (T,V) and target (S). */
static int synthesize(asr_real *logits, int *target, int *S, const char *text, int V, int maxT) {
  asr_rng rng;
  int truth[512], T = 0, i, t, k, prev = -1;
  asr_rng_seed(&rng, 2006, 0);
  *S = 0;
  for (i = 0; text[i]; i++) {
    int c = (int)(strchr(ALPHABET, text[i]) - ALPHABET), gap = asr_rng_int(&rng, 4), len = 1 + asr_rng_int(&rng, 4);
    if (c == prev && gap == 0) gap = 1;
    while (gap-- > 0 && T < maxT) truth[T++] = 0;
    while (len-- > 0 && T < maxT) truth[T++] = c;
    target[(*S)++] = c;
    prev = c;
  }
  for (k = 0; k < 3 && T < maxT; k++) truth[T++] = 0;
  for (t = 0; t < T; t++) {
    asr_real *row = logits + (size_t)t * V;
    int edge = (t > 0 && truth[t - 1] != truth[t]) || (t + 1 < T && truth[t + 1] != truth[t]);
    for (k = 0; k < V; k++) row[k] = (asr_real)(0.6 * asr_rng_normal(&rng));
    row[truth[t]] += (asr_real)(edge ? 4.0 : 8.0);
    if (edge) {
      /* the neighbouring segment's label leaks into the boundary frame */
      int other = t > 0 && truth[t - 1] != truth[t] ? truth[t - 1] : truth[t + 1];
      row[other] += 3.5f;
    }
    if (truth[t] > 1 && asr_rng_uniform(&rng) < 0.15) row[truth[t] + (truth[t] + 1 < V ? 1 : -1)] += 4.0f;
  }
  return T;
}

static char label_char(int k) { return k >= 0 && k < (int)sizeof ALPHABET - 1 ? ALPHABET[k] : '?'; }

/* light yellow -> dark blue as g goes 0 -> 1 (a sqrt scale shows the faint states) */
static void colour(double g, int *r, int *gr, int *b) {
  double u = sqrt(g < 0 ? 0 : g > 1 ? 1 : g);
  *r = (int)(255 * (1 - u) + 8 * u);
  *gr = (int)(252 * (1 - u) + 48 * u);
  *b = (int)(235 * (1 - u) + 107 * u);
}

static void write_svg(const char *path, const double *post, const int *states, const int *target, int T, int S,
                      int blank, int alphabet_labels, double logp) {
  const int L = 2 * S + 1, cw = 12, ch = 14, left = 44, top = 34;
  int W = left + T * cw + 16, H = top + L * ch + 46, t, s;
  FILE *f = svg_open();
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"monospace\" "
             "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
  fprintf(f, "<text x=\"%d\" y=\"13\">posterior gamma_t(s) = alpha*beta/(y p) of the states s of l' (down) "
             "at frame t (across)</text>\n<text x=\"%d\" y=\"27\">red: the Viterbi path; ln p(l|x) = %.3f</text>\n",
          4, 4, logp);
  for (s = 0; s < L; s++) {
    int k = (s & 1) ? target[s >> 1] : blank;
    char lab[16];
    if (alphabet_labels) snprintf(lab, sizeof lab, "%c", k == blank ? '-' : (label_char(k) == ' ' ? '_' : label_char(k)));
    else snprintf(lab, sizeof lab, "%d", k);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s %d</text>\n", left - 4, top + s * ch + ch - 3,
            (s & 1) ? lab : "-", s);
    for (t = 0; t < T; t++) {
      int r, g, b;
      colour(post[(size_t)t * L + s], &r, &g, &b);
      fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\"/>\n", left + t * cw,
              top + s * ch, cw, ch, r, g, b);
    }
  }
  for (t = 0; t < T; t += 10)
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", left + t * cw + cw / 2,
            top + L * ch + 14, t);
  fprintf(f, "<text x=\"%d\" y=\"%d\">frame t</text>\n", left, top + L * ch + 30);
  fprintf(f, "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"");
  for (t = 0; t < T; t++) fprintf(f, "%d,%d ", left + t * cw + cw / 2, top + states[t] * ch + ch / 2);
  fprintf(f, "\"/>\n</svg>\n");
  svg_close(f, path);
}

static void write_png(const char *path, const double *post, const int *states, int T, int S) {
  const int L = 2 * S + 1, cw = 8, ch = 8, W = T * cw, H = L * ch;
  unsigned char *img = (unsigned char *)malloc((size_t)W * H * 3);
  int t, s, x, y;
  if (!img) die("out of memory", NULL);
  for (s = 0; s < L; s++)
    for (t = 0; t < T; t++) {
      int r, g, b, on = states[t] == s;
      colour(post[(size_t)t * L + s], &r, &g, &b);
      for (y = 0; y < ch; y++)
        for (x = 0; x < cw; x++) {
          unsigned char *p = img + (((size_t)(s * ch + y) * W) + (size_t)(t * cw + x)) * 3;
          /* the best path: a red dot in the middle of its cells */
          int dot = on && x >= 2 && x < cw - 2 && y >= 2 && y < ch - 2;
          p[0] = (unsigned char)(dot ? 214 : r);
          p[1] = (unsigned char)(dot ? 39 : g);
          p[2] = (unsigned char)(dot ? 40 : b);
        }
    }
  if (op_write_png("ctc_align", path, img, W, H)) exit(2);
  free(img);
}

/* The paper's Figure 3 for "cat": states of l' down, frames across; an arrow for each
 * transition eq. (6) allows (stay, next, skip over a blank between different labels),
 * drawn only between cells that lie on some complete path. */
static void write_transitions(const char *path) {
  const int target[3] = {4, 2, 21};   /* c a t in ALPHABET */
  const int S = 3, L = 7, T = 8, V = 29, dx = 70, dy = 40, left = 60, top = 40;
  asr_real lp[8 * 29];
  double la[8 * 7], lb[8 * 7], logp;
  int t, s, d;
  FILE *f = svg_open();
  for (t = 0; t < T * V; t++) lp[t] = (asr_real)-log((double)V);   /* uniform: only reachability matters */
  asr_ctc_alpha_ref(la, &logp, lp, target, T, V, S, 0);
  asr_ctc_beta_ref(lb, &logp, lp, target, T, V, S, 0);
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
             "font-size=\"13\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
             "<defs><marker id=\"a\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" "
             "markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker></defs>\n",
          left + (T - 1) * dx + 40, top + (L - 1) * dy + 60);
  fprintf(f, "<text x=\"%d\" y=\"20\">allowed transitions for l = \"cat\", l' = - c - a - t -; filled: on a "
             "complete path</text>\n", left - 40);
  for (s = 0; s < L; s++) {
    const char *lab = (s & 1) ? (s == 1 ? "c" : s == 3 ? "a" : "t") : "-";
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", left - 20, top + s * dy + 5, lab);
  }
  for (t = 0; t < T; t++)
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">t=%d</text>\n", left + t * dx,
            top + (L - 1) * dy + 35, t + 1);
  for (t = 0; t + 1 < T; t++)
    for (s = 0; s < L; s++)
      for (d = 0; d <= 2; d++) {
        int s2 = s + d, k2, k0;
        if (s2 >= L) continue;
        k2 = (s2 & 1) ? target[s2 >> 1] : 0;
        k0 = (s & 1) ? target[s >> 1] : 0;
        if (d == 2 && (k2 == 0 || k2 == k0)) continue;   /* eq. (6): no skip onto a blank or a repeat */
        if (la[t * L + s] == -INFINITY || lb[(t + 1) * L + s2] == -INFINITY || lb[t * L + s] == -INFINITY ||
            la[(t + 1) * L + s2] == -INFINITY)
          continue;                                       /* not on any complete path */
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\" stroke-width=\"1.2\" "
                   "marker-end=\"url(#a)\"/>\n", left + t * dx + 7, top + s * dy, left + (t + 1) * dx - 9,
                top + s2 * dy);
      }
  for (t = 0; t < T; t++)
    for (s = 0; s < L; s++) {
      int live = la[t * L + s] > -INFINITY && lb[t * L + s] > -INFINITY;
      fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"7\" fill=\"%s\" stroke=\"#222\"/>\n", left + t * dx, top + s * dy,
              live ? ((s & 1) ? "#222" : "#888") : "white");
    }
  fprintf(f, "</svg>\n");
  svg_close(f, path);
}

int main(int argc, char **argv) {
  const char *svg = NULL, *png = NULL, *trans = NULL, *in[2] = {NULL, NULL};
  int blank = 0, nin = 0, i, T, V, S, t, s, alphabet = 1;
  asr_real *logits, *lp;
  int *target, *fl, *fs, *tok, *st, *en, n;
  double *la, *lb, *post, logp, score;
  void *work;
  size_t wb;
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--svg") && i + 1 < argc) svg = argv[++i];
    else if (!strcmp(argv[i], "--png") && i + 1 < argc) png = argv[++i];
    else if (!strcmp(argv[i], "--transitions") && i + 1 < argc) trans = argv[++i];
    else if (!strcmp(argv[i], "--blank") && i + 1 < argc) blank = atoi(argv[++i]);
    else if (argv[i][0] != '-' && nin < 2) in[nin++] = argv[i];
    else {
      fprintf(stderr, "usage: ctc_align [--svg OUT.svg] [--png OUT.png] [--blank B] [LOGITS.npy TARGET.npy]\n"
                      "       ctc_align --transitions OUT.svg\n");
      return 2;
    }
  }
  if (op_check("ctc_align", svg, in, nin) || op_check("ctc_align", png, in, nin) ||
      op_check("ctc_align", trans, in, nin))
    return 2;
  if (trans) {
    write_transitions(trans);
    if (!svg && !png && !nin) return 0;
  }
  if (nin == 1) die("give both LOGITS.npy and TARGET.npy, or neither", NULL);
  if (nin == 2) {
    asr_array a, b;
    asr_error err;
    size_t j;
    if (asr_npy_read(in[0], &a, NULL, &err) != ASR_OK) die(err.msg, NULL);
    if (asr_npy_read(in[1], &b, NULL, &err) != ASR_OK) die(err.msg, NULL);
    if (a.ndim != 2) die("LOGITS must be (T, V)", in[0]);
    if (b.ndim != 1) die("TARGET must be (S,)", in[1]);
    T = (int)a.shape[0];
    V = (int)a.shape[1];
    S = (int)b.shape[0];
    logits = (asr_real *)malloc(sizeof(asr_real) * ((size_t)T * V + 1));
    target = (int *)malloc(sizeof(int) * ((size_t)S + 1));
    if (!logits || !target) die("out of memory", NULL);
    if (asr_array_to_real(&a, logits, 0, &err) != ASR_OK) die(err.msg, in[0]);
    if (asr_array_to_int(&b, target, &err) != ASR_OK) die(err.msg, in[1]);
    for (j = 0; j < (size_t)S; j++)
      if (target[j] < 0 || target[j] >= V || target[j] == blank) die("a target label is out of range or the blank", in[1]);
    if (blank < 0 || blank >= V) die("--blank is outside [0, V)", NULL);
    asr_array_free(&a, NULL);
    asr_array_free(&b, NULL);
    alphabet = 0;
  } else {
    V = (int)sizeof ALPHABET - 1;
    logits = (asr_real *)malloc(sizeof(asr_real) * 200 * (size_t)V);
    target = (int *)malloc(sizeof(int) * 64);
    if (!logits || !target) die("out of memory", NULL);
    T = synthesize(logits, target, &S, "the cat sat", V, 200);
    blank = 0;
  }
  if (!svg && !png) svg = "ctc_align.svg";
  lp = (asr_real *)malloc(sizeof(asr_real) * ((size_t)T * V + 1));
  la = (double *)malloc(sizeof(double) * ((size_t)T * (2 * S + 1) + 1));
  lb = (double *)malloc(sizeof(double) * ((size_t)T * (2 * S + 1) + 1));
  post = (double *)malloc(sizeof(double) * ((size_t)T * (2 * S + 1) + 1));
  fl = (int *)malloc(sizeof(int) * ((size_t)T + 1));
  fs = (int *)malloc(sizeof(int) * ((size_t)T + 1));
  tok = (int *)malloc(sizeof(int) * ((size_t)T + 1));
  st = (int *)malloc(sizeof(int) * ((size_t)T + 1));
  en = (int *)malloc(sizeof(int) * ((size_t)T + 1));
  wb = asr_ctc_align_workspace_size(T, S);
  work = malloc(wb);
  if (!lp || !la || !lb || !post || !fl || !fs || !tok || !st || !en || !work) die("out of memory", NULL);
  /* the network's log-probabilities ln y^t_k */
  for (t = 0; t < T; t++) asr_log_softmax(lp + (size_t)t * V, logits + (size_t)t * V, V);
  if (asr_ctc_alpha_ref(la, &logp, lp, target, T, V, S, blank) != ASR_OK)
    die("the transcript cannot be aligned: too few frames (T < S + repeats)", NULL);
  asr_ctc_beta_ref(lb, NULL, lp, target, T, V, S, blank);
  /* gamma_t(s) = alpha_t(s) beta_t(s) / (y^t_{l'_s} p(l|x)): both include y^t_{l'_s} */
  for (t = 0; t < T; t++)
    for (s = 0; s < 2 * S + 1; s++) {
      size_t i2 = (size_t)t * (2 * S + 1) + s;
      int k = (s & 1) ? target[s >> 1] : blank;
      post[i2] = la[i2] == -INFINITY || lb[i2] == -INFINITY ? 0.0 : exp(la[i2] + lb[i2] - lp[(size_t)t * V + k] - logp);
    }
  asr_ctc_align(fl, fs, &score, lp, target, T, V, S, blank, work, wb);
  n = asr_ctc_token_spans(tok, st, en, fl, T, blank);
  printf("T = %d frames, S = %d labels, ln p(l|x) = %.4f, best path ln p = %.4f (%.3g%% of p(l|x))\n", T, S, logp,
         score, 100 * exp(score - logp));
  printf("best path: ");
  for (t = 0; t < T; t++) {
    if (alphabet) putchar(fl[t] == blank ? '-' : label_char(fl[t]) == ' ' ? '_' : label_char(fl[t]));
    else printf("%d ", fl[t]);
  }
  printf("\ntokens:\n");
  for (i = 0; i < n; i++) {
    if (alphabet) printf("  '%c'  frames %3d-%3d\n", label_char(tok[i]), st[i], en[i]);
    else printf("  %3d  frames %3d-%3d\n", tok[i], st[i], en[i]);
  }
  if (svg) write_svg(svg, post, fs, target, T, S, blank, alphabet, logp);
  if (png) write_png(png, post, fs, T, S);
  free(logits), free(target), free(lp), free(la), free(lb), free(post), free(fl), free(fs), free(tok), free(st),
      free(en), free(work);
  return 0;
}
