/* examples/vq_toy.c - learn k-means codebooks and a Gumbel quantizer on a 2-D toy mixture
 * and draw what they learned.
 *
 *   make build/vq_toy && build/vq_toy [--steps 1000] [--alpha 3] [--seed 1] [--every 50] [--out DIR]
 *
 * The data: 2048 points from eight Gaussian blobs on a ring of radius 4 (sd 0.35) with
 * weights 1..8, so some blobs are rare. Everything is 2-D so that the codewords can be
 * drawn over the data. K = V = 16 codewords for 8 blobs.
 *
 * 1.  k-means offline: k-means++ seeding and Lloyd's algorithm (asr_kmeans_fit).
 * 2a. k-means online, as vq-wav2vec trains its codebook: the codebook term ||sg(z) - e||^2
 *     of the VQ loss (asr_vq_forward / asr_vq_backward), Adam on minibatches, starting where
 *     fairseq starts (0.01 N(0,1)). Most codewords never win a point and never move: dead
 *     codes. (With z the data itself there is no encoder for the commitment term to move;
 *     docs/vq.md explains its role.)
 * 2b. The same from k-means++ seeds of the first batch: every codeword starts on the data.
 * 3a. A Gumbel quantizer (asr_gumbel_quantizer_*: linear 2 -> 32, ReLU, linear 32 -> 16
 *     logits, hard straight-through Gumbel-softmax, 16 2-D codewords) trained to reproduce
 *     its input: loss = mean ||q - x||^2 + alpha * diversity, tau = max(2 d^step, 0.5) with d
 *     chosen to reach 0.5 at 70% of the steps. alpha = 0.1 (wav2vec 2.0's weight, which
 *     there balances a contrastive loss of another scale): the codes collapse.
 * 3b. The same with --alpha (default 3): the diversity penalty keeps most codes in use.
 * Every --every steps a line gives the loss and the code perplexity (and a progress bar
 * runs on a terminal). At the end three SVG pictures go to --out (default build/vq_toy):
 * vq_kmeans.svg and vq_gumbel.svg (the data, the codewords sized by their use, the usage
 * histograms) and vq_tau.svg (one Gumbel-softmax sample at several temperatures).
 * docs/img/ holds the pictures of `build/vq_toy --out docs/img`. */
#define _POSIX_C_SOURCE 200809L
#include "../asr.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { NPTS = 2048, BLOBS = 8, K = 16, BATCH = 256, HID = 32 };

static void die(const char *msg) {
  fprintf(stderr, "vq_toy: %s\n", msg);
  exit(2);
}

static void *xalloc(size_t n) {
  void *p = calloc(n ? n : 1, 1);
  if (!p) die("out of memory");
  return p;
}

/* ---- the data: eight blobs on a ring, blob b drawn with weight b + 1 */
static void make_data(asr_real *x, asr_rng *rng) {
  double cum[BLOBS], total = 0;
  int i, b;
  for (b = 0; b < BLOBS; b++) cum[b] = (total += 1 + b);
  for (i = 0; i < NPTS; i++) {
    double u = asr_rng_uniform(rng) * total, a;
    for (b = 0; b < BLOBS - 1 && u > cum[b]; b++) {}
    a = 2 * 3.14159265358979 * b / BLOBS;
    x[i * 2] = (asr_real)(4 * cos(a) + 0.35 * asr_rng_normal(rng));
    x[i * 2 + 1] = (asr_real)(4 * sin(a) + 0.35 * asr_rng_normal(rng));
  }
}

/* A minibatch of BATCH points drawn with replacement. */
static void draw_batch(asr_real *batch, const asr_real *x, asr_rng *rng) {
  int i;
  for (i = 0; i < BATCH; i++) {
    int j = asr_rng_int(rng, NPTS);
    batch[i * 2] = x[j * 2], batch[i * 2 + 1] = x[j * 2 + 1];
  }
}

/* ---- Adam (Kingma & Ba, 2015) over one parameter array; the toy keeps its optimiser in
 * sight: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, x -= lr m^ / (sqrt(v^) + eps). */
typedef struct adam {
  asr_real *x, *g;
  double *m, *v;
  size_t n;
  int t;
} adam;
static void adam_init(adam *a, asr_real *x, asr_real *g, size_t n) {
  a->x = x, a->g = g, a->n = n, a->t = 0;
  a->m = (double *)xalloc(sizeof(double) * n);
  a->v = (double *)xalloc(sizeof(double) * n);
}
static void adam_step(adam *a, double lr) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double c1, c2;
  size_t i;
  a->t++;
  c1 = 1 - pow(b1, a->t), c2 = 1 - pow(b2, a->t);   /* bias corrections */
  for (i = 0; i < a->n; i++) {
    a->m[i] = b1 * a->m[i] + (1 - b1) * a->g[i];
    a->v[i] = b2 * a->v[i] + (1 - b2) * (double)a->g[i] * a->g[i];
    a->x[i] -= (asr_real)(lr * (a->m[i] / c1) / (sqrt(a->v[i] / c2) + eps));
    a->g[i] = 0;                                      /* backward passes accumulate */
  }
}
static void adam_free(adam *a) {
  free(a->m);
  free(a->v);
}

/* ---- a progress bar on stderr when it is a terminal */
static void progress(const char *what, int step, int steps) {
  int i, w = 30, done = (int)((double)w * step / steps);
  if (!isatty(2)) return;
  fprintf(stderr, "\r%-10s [", what);
  for (i = 0; i < w; i++) fputc(i < done ? '#' : '.', stderr);
  fprintf(stderr, "] %d/%d", step, steps);
  if (step == steps) fprintf(stderr, "\r%60s\r", "");
  fflush(stderr);
}

static void usage_of(int *usage, const int *index, int n) {
  int i;
  for (i = 0; i < K; i++) usage[i] = 0;
  for (i = 0; i < n; i++) usage[index[i]]++;
}

static int dead_codes(const int *usage) {
  int i, dead = 0;
  for (i = 0; i < K; i++) dead += usage[i] == 0;
  return dead;
}

/* ---- 2. online k-means: Adam on the codebook term of the VQ loss.
 * init 0: fairseq's 0.01 N(0,1); init 1: k-means++ seeds of the first batch. Fills cb (K,2)
 * and the usage over all data; returns the code perplexity over all data. */
static double run_online(asr_real *cb, int *usage, const asr_real *x, double lloyd_j, int init, int steps,
                         int every, asr_rng *rng) {
  adam opt;
  size_t ws = asr_vq_workspace_size(K);
  void *work = xalloc(ws);
  asr_real dcb[K * 2], zq[BATCH * 2], batch[BATCH * 2];
  double ppl, kwork[BATCH];
  asr_vq_loss loss;
  int i, t, bidx[BATCH], *idx = (int *)xalloc(sizeof(int) * NPTS);
  printf("2%c. k-means online: Adam (lr 0.05, batch %d) on the codebook term of the VQ loss,\n"
         "    codebook from %s\n",
         init ? 'b' : 'a', BATCH, init ? "k-means++ seeds of the first batch" : "0.01 N(0,1) as fairseq");
  for (i = 0; i < K * 2; i++) cb[i] = (asr_real)(0.01 * asr_rng_normal(rng)), dcb[i] = 0;
  adam_init(&opt, cb, dcb, K * 2);
  for (t = 1; t <= steps; t++) {
    draw_batch(batch, x, rng);
    if (t == 1 && init && asr_kmeans_plusplus(cb, batch, BATCH, 2, 2, K, rng, kwork, sizeof kwork) != ASR_OK)
      die("k-means++ refused the batch");
    /* forward: nearest codewords and the loss; backward: d(codebook term)/d codebook */
    if (asr_vq_forward(bidx, zq, &loss, batch, cb, BATCH, 2, 1, K, 1, ASR_VQ_GAMMA, work, ws) != ASR_OK ||
        asr_vq_backward(NULL, dcb, NULL, 1.0, bidx, batch, cb, BATCH, 2, 1, K, 1, ASR_VQ_GAMMA) != ASR_OK)
      die("vq refused the batch");
    adam_step(&opt, 0.05);
    if (t % every == 0 || t == 1)
      printf("    step %4d   loss %.5f (codebook %.5f + 0.25 x commitment)   code perplexity %5.2f\n", t, loss.total,
             loss.codebook, asr_code_perplexity(NULL, bidx, BATCH, 1, K, 0));
    progress(init ? "online-b" : "online-a", t, steps);
  }
  if (asr_vq_forward(idx, NULL, &loss, x, cb, NPTS, 2, 1, K, 1, ASR_VQ_GAMMA, work, ws) != ASR_OK) die("vq");
  usage_of(usage, idx, NPTS);
  ppl = asr_code_perplexity(NULL, idx, NPTS, 1, K, 0);
  /* the codebook term is (1/(N D)) sum ||x - e||^2 with D = 2, so J/N = 2 x codebook term */
  printf("    all data: J/N = %.5f (Lloyd %.5f), code perplexity %.2f of %d, %d dead codes\n\n", 2 * loss.codebook,
         lloyd_j, ppl, K, dead_codes(usage));
  adam_free(&opt);
  free(work);
  free(idx);
  return ppl;
}

/* ---- 3. the Gumbel quantizer trained to reproduce its input, with alpha * diversity.
 * Fills the codebook copy cb (K,2) and the usage at inference; returns the perplexity. */
static double run_gumbel(asr_real *cb, int *usage, const asr_real *x, double alpha, int steps, int every,
                         asr_rng *rng, char part) {
  asr_gumbel_quantizer cfg;
  asr_gumbel_quantizer_params w, g;
  size_t cnt[5], total, off, ws = 0;
  asr_real *pw, *pg, *noise, *q, *h, *logits, *p, *probs, avg[K], *dq, *dl, batch[BATCH * 2];
  int *idx = (int *)xalloc(sizeof(int) * NPTS), t, i;
  void *work, *dwork;
  adam opt;
  double decay = pow(ASR_GUMBEL_TAU_MIN / ASR_GUMBEL_TAU_MAX, 1.0 / (0.7 * steps)), rec = 0, ppl;
  cfg.in_dim = 2, cfg.hidden = HID, cfg.groups = 1, cfg.vars = K, cfg.entry_dim = 2;
  cfg.shared = 0, cfg.hard = 1, cfg.tau = ASR_GUMBEL_TAU_MAX;
  if (asr_gumbel_quantizer_sizes(&cfg, cnt) != ASR_OK) die("module sizes");
  /* the parameters and their gradients, each in one block (one Adam over all of them) */
  total = cnt[0] + cnt[1] + cnt[2] + cnt[3] + cnt[4];
  pw = (asr_real *)xalloc(sizeof(asr_real) * total);
  pg = (asr_real *)xalloc(sizeof(asr_real) * total);
  off = 0;
  w.w1 = pw + off, g.w1 = pg + off, off += cnt[0];
  w.b1 = pw + off, g.b1 = pg + off, off += cnt[1];
  w.w2 = pw + off, g.w2 = pg + off, off += cnt[2];
  w.b2 = pw + off, g.b2 = pg + off, off += cnt[3];
  w.codebook = pw + off, g.codebook = pg + off;
  if (asr_gumbel_quantizer_init(&w, &cfg, rng) != ASR_OK) die("init");
  /* fairseq draws the codebook from U(0,1); the data here is centred: U(-1,1) */
  for (i = 0; i < (int)cnt[4]; i++) w.codebook[i] = (asr_real)(2 * w.codebook[i] - 1);
  noise = (asr_real *)xalloc(sizeof(asr_real) * BATCH * K);
  q = (asr_real *)xalloc(sizeof(asr_real) * NPTS * 2);
  h = (asr_real *)xalloc(sizeof(asr_real) * NPTS * HID);
  logits = (asr_real *)xalloc(sizeof(asr_real) * NPTS * K);
  p = (asr_real *)xalloc(sizeof(asr_real) * NPTS * K);
  probs = (asr_real *)xalloc(sizeof(asr_real) * BATCH * K);
  dq = (asr_real *)xalloc(sizeof(asr_real) * BATCH * 2);
  dl = (asr_real *)xalloc(sizeof(asr_real) * BATCH * K);
  ws = asr_gumbel_quantizer_workspace_size(&cfg, BATCH);
  work = xalloc(ws);
  dwork = xalloc(asr_diversity_workspace_size(1, K));
  adam_init(&opt, pw, pg, total);
  printf("3%c. Gumbel quantizer: 2 -> %d -> ReLU -> %d logits, hard straight-through, %d codewords;\n"
         "    loss mean ||q - x||^2 + %g x diversity; tau = max(2 x %.6f^step, 0.5); Adam lr 0.01, batch %d\n",
         part, HID, K, K, alpha, decay, BATCH);
  for (t = 1; t <= steps; t++) {
    double div = 0, ppl_prob = 0;
    draw_batch(batch, x, rng);
    cfg.tau = asr_gumbel_tau(ASR_GUMBEL_TAU_MAX, ASR_GUMBEL_TAU_MIN, decay, t - 1);
    asr_gumbel_noise(noise, (size_t)BATCH * K, rng);
    if (asr_gumbel_quantizer_forward(q, idx, h, logits, p, batch, noise, &w, &cfg, BATCH) != ASR_OK)
      die("quantizer forward refused");
    /* reconstruction L_r = (1/B) sum ||q - x||^2, so dL_r/dq = 2 (q - x) / B */
    rec = 0;
    for (i = 0; i < BATCH * 2; i++) {
      double d = (double)q[i] - batch[i];
      rec += d * d / BATCH;
      dq[i] = (asr_real)(2 * d / BATCH);
    }
    /* the diversity penalty's gradient enters the module's backward at the logits */
    memset(dl, 0, sizeof(asr_real) * BATCH * K);
    if (asr_diversity_forward(&div, &ppl_prob, probs, avg, logits, BATCH, 1, K, 0, ASR_DIVERSITY_PERPLEXITY) !=
            ASR_OK ||
        asr_diversity_backward(dl, probs, alpha, BATCH, 1, K, 0, ASR_DIVERSITY_PERPLEXITY, dwork,
                               asr_diversity_workspace_size(1, K)) != ASR_OK ||
        asr_gumbel_quantizer_backward(NULL, &g, dq, dl, batch, h, p, idx, &w, &cfg, BATCH, work, ws) != ASR_OK)
      die("quantizer backward refused");
    adam_step(&opt, 0.01);
    if (t % every == 0 || t == 1)
      printf("    step %4d   tau %.3f   loss %.5f = reconstruction %.5f + %g x diversity %.4f   code ppl %5.2f"
             "   prob ppl %5.2f\n",
             t, cfg.tau, rec + alpha * div, rec, alpha, div, asr_code_perplexity(NULL, idx, BATCH, 1, K, 0), ppl_prob);
    progress(part == 'a' ? "gumbel-a" : "gumbel-b", t, steps);
  }
  /* inference, as the paper: no noise, the argmax of the logits */
  if (asr_gumbel_quantizer_forward(q, idx, h, logits, p, x, NULL, &w, &cfg, NPTS) != ASR_OK) die("inference");
  rec = 0;
  for (i = 0; i < NPTS * 2; i++) rec += ((double)q[i] - x[i]) * ((double)q[i] - x[i]) / NPTS;
  usage_of(usage, idx, NPTS);
  ppl = asr_code_perplexity(NULL, idx, NPTS, 1, K, 0);
  printf("    all data at inference (argmax, no noise): mean ||q - x||^2 = %.5f, code perplexity %.2f of %d, "
         "%d dead codes\n\n",
         rec, ppl, K, dead_codes(usage));
  memcpy(cb, w.codebook, sizeof(asr_real) * K * 2);
  adam_free(&opt);
  free(pw), free(pg), free(noise), free(q), free(h), free(logits), free(p), free(probs), free(dq), free(dl);
  free(work), free(dwork), free(idx);
  return ppl;
}

/* ---- SVG pictures */
static const char *const COLORS[K] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                      "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a",
                                      "#637939", "#8c6d31", "#843c39", "#7b4173"};

/* One panel at (ox, oy): the data (grey dots), the codewords as discs sized by their use
 * (pale when unused), optional reference crosses, and the usage histogram below. The plot
 * shows [-6, 6]^2 in 330 px. */
static void svg_panel(FILE *f, double ox, double oy, const char *title, const char *sub, const asr_real *x,
                      const asr_real *cb, const int *usage, const asr_real *crosses, double ppl) {
  const double S = 330, R = 6, bw = S / K;
  int i, maxu = 1;
#define PX(v) (ox + ((v) + R) / (2 * R) * S)
#define PY(v) (oy + 44 + (R - (v)) / (2 * R) * S)
  for (i = 0; i < K; i++) maxu = usage[i] > maxu ? usage[i] : maxu;
  fprintf(f, "<text x='%.1f' y='%.1f' font-size='14' font-weight='bold'>%s</text>\n", ox, oy + 16, title);
  fprintf(f, "<text x='%.1f' y='%.1f' font-size='11'>%s</text>\n", ox, oy + 32, sub);
  fprintf(f, "<rect x='%.1f' y='%.1f' width='%.0f' height='%.0f' fill='white' stroke='#999'/>\n", ox, oy + 44, S, S);
  for (i = 0; i < NPTS; i += 2)
    fprintf(f, "<circle cx='%.1f' cy='%.1f' r='1.2' fill='#bbb'/>\n", PX(x[i * 2]), PY(x[i * 2 + 1]));
  for (i = 0; crosses && i < K; i++)
    fprintf(f, "<path d='M%.1f %.1fl8 8m0 -8l-8 8' stroke='black' stroke-width='1.5'/>\n", PX(crosses[i * 2]) - 4,
            PY(crosses[i * 2 + 1]) - 4);
  for (i = 0; i < K; i++) {
    double r = 3 + 10 * sqrt((double)usage[i] / maxu);
    fprintf(f, "<circle cx='%.1f' cy='%.1f' r='%.1f' fill='%s' fill-opacity='%s' stroke='black' stroke-width='0.7'/>\n",
            PX(cb[i * 2]), PY(cb[i * 2 + 1]), r, COLORS[i], usage[i] ? "0.85" : "0.2");
  }
  fprintf(f, "<text x='%.1f' y='%.1f' font-size='12'>code usage: perplexity %.2f of %d, %d unused</text>\n", ox,
          oy + 44 + S + 20, ppl, K, dead_codes(usage));
  for (i = 0; i < K; i++) {
    double hgt = 70.0 * usage[i] / maxu;
    fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'/>\n", ox + i * bw + 2,
            oy + 44 + S + 100 - hgt, bw - 4, hgt, COLORS[i]);
    fprintf(f, "<text x='%.1f' y='%.1f' font-size='9' text-anchor='middle'>%d</text>\n", ox + i * bw + bw / 2,
            oy + 44 + S + 112, i);
  }
#undef PX
#undef PY
}

static FILE *svg_open(const char *dir, const char *name, int w, int h) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "vq_toy: cannot write %s: %s\n", path, strerror(errno));
    exit(2);
  }
  fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif'>\n", w, h);
  fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
  return f;
}
static void svg_close(FILE *f, const char *dir, const char *name) {
  fprintf(f, "</svg>\n");
  if (fclose(f) != 0) die("write error");
  printf("wrote %s/%s\n", dir, name);
}

/* One Gumbel-softmax sample (fixed logits and noise) at falling temperatures, and the hard
 * straight-through sample, as bar charts. */
static void svg_tau(const char *dir) {
  static const asr_real l[6] = {1.0f, 0.2f, -0.5f, 0.8f, 0.0f, -1.2f};
  static const double taus[5] = {5.0, 2.0, 1.0, 0.5, 0.1};
  asr_real v[6], y[6], p[6];
  int c, j, id;
  asr_rng r2;
  FILE *f = svg_open(dir, "vq_tau.svg", 790, 250);
  /* a draw whose winner is not argmax l = 0 and whose two best are 0.2..0.6 apart: the
   * noise, not the logits alone, decides the sample */
  for (c = 0;; c++) {
    double top = -INFINITY, second = -INFINITY;
    asr_rng_seed(&r2, (uint64_t)c, 7);
    asr_gumbel_noise(v, 6, &r2);
    for (j = 0; j < 6; j++) {
      double s = (double)l[j] + v[j];
      if (s > top) second = top, top = s, id = j;
      else if (s > second) second = s;
    }
    if (id != 0 && top - second > 0.2 && top - second < 0.6) break;
  }
  fprintf(f, "<text x='10' y='20' font-size='14' font-weight='bold'>One Gumbel-softmax sample as tau falls: logits "
             "(1, .2, -.5, .8, 0, -1.2), the same noise v</text>\n");
  fprintf(f, "<text x='10' y='38' font-size='11'>v = (%.2f, %.2f, %.2f, %.2f, %.2f, %.2f); red: argmax (l + v), "
             "the entry every sample tends to</text>\n",
          v[0], v[1], v[2], v[3], v[4], v[5]);
  for (c = 0; c < 6; c++) {
    double ox = 10 + c * 128;
    if (c < 5) {
      asr_gumbel_softmax_forward(y, y, &id, l, v, taus[c], 0, 1, 6);
      fprintf(f, "<text x='%.0f' y='62' font-size='12'>tau = %g</text>\n", ox, taus[c]);
    } else {
      asr_gumbel_softmax_forward(y, p, &id, l, v, 1.0, 1, 1, 6);
      fprintf(f, "<text x='%.0f' y='62' font-size='12'>hard: one-hot</text>\n", ox);
      fprintf(f, "<text x='%.0f' y='76' font-size='11'>(gradient of tau = 1)</text>\n", ox);
    }
    for (j = 0; j < 6; j++) {
      double hgt = 140 * y[j];
      fprintf(f, "<rect x='%.0f' y='%.1f' width='14' height='%.1f' fill='%s'/>\n", ox + j * 18, 225 - hgt, hgt,
              j == id ? "#d62728" : "#1f77b4");
      fprintf(f, "<text x='%.0f' y='240' font-size='9'>%d</text>\n", ox + j * 18 + 4, j);
    }
    fprintf(f, "<line x1='%.0f' y1='225' x2='%.0f' y2='225' stroke='black'/>\n", ox, ox + 108);
  }
  svg_close(f, dir, "vq_tau.svg");
}

int main(int argc, char **argv) {
  int steps = 1000, every = 50, seed = 1, i, t;
  double alpha = 3.0, hist[101], lloyd_j, ppl_lloyd, ppl_a, ppl_b, ppl_ga, ppl_gb;
  const char *out = "build/vq_toy";
  asr_real *x = (asr_real *)xalloc(sizeof(asr_real) * NPTS * 2);
  asr_real lloyd[K * 2], cb_a[K * 2], cb_b[K * 2], cb_ga[K * 2], cb_gb[K * 2];
  int *idx = (int *)xalloc(sizeof(int) * NPTS), use_lloyd[K], use_a[K], use_b[K], use_ga[K], use_gb[K];
  asr_kmeans_opts o;
  asr_kmeans_report rep;
  asr_rng rng;
  asr_error err;
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--every") && i + 1 < argc) every = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--alpha") && i + 1 < argc) alpha = atof(argv[++i]);
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else {
      printf("usage: vq_toy [--steps 1000] [--alpha 3] [--seed 1] [--every 50] [--out build/vq_toy]\n");
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (steps < 1 || every < 1 || !(alpha >= 0)) die("--steps and --every must be positive, --alpha >= 0");
  if (mkdir(out, 0777) != 0 && errno != EEXIST) die("cannot create the output directory");
  asr_rng_seed(&rng, (uint64_t)seed, 42);
  make_data(x, &rng);
  printf("data: %d points, %d Gaussian blobs (sd 0.35) on a ring of radius 4, weights 1..%d; K = %d codewords\n\n",
         NPTS, BLOBS, BLOBS, K);

  /* ---- 1. k-means++ then Lloyd */
  memset(&o, 0, sizeof o);
  o.history = hist;
  if (asr_kmeans_fit(lloyd, idx, &rep, x, NPTS, 2, 2, K, &o, &rng, NULL, &err) != ASR_OK) die(err.msg);
  printf("1.  k-means offline: k-means++ seeds, then Lloyd's algorithm\n");
  for (t = 0; t < rep.iterations; t++)
    if (t < 5 || t == rep.iterations - 1 || t % 5 == 0) printf("    iteration %2d   J/N = %.5f\n", t, hist[t] / NPTS);
  usage_of(use_lloyd, idx, NPTS);
  ppl_lloyd = asr_code_perplexity(NULL, idx, NPTS, 1, K, 0);
  lloyd_j = rep.objective / NPTS;
  printf("    %s after %d iterations (J never increased), %d empty clusters re-seeded; code perplexity %.2f\n\n",
         rep.converged ? "a fixed point" : "stopped", rep.iterations, rep.reseeded, ppl_lloyd);

  /* ---- 2. online k-means from fairseq's start, then from k-means++ seeds */
  ppl_a = run_online(cb_a, use_a, x, lloyd_j, 0, steps, every, &rng);
  ppl_b = run_online(cb_b, use_b, x, lloyd_j, 1, steps, every, &rng);

  /* ---- 3. the Gumbel quantizer with wav2vec 2.0's alpha, then with --alpha */
  ppl_ga = run_gumbel(cb_ga, use_ga, x, 0.1, steps, every, &rng, 'a');
  ppl_gb = run_gumbel(cb_gb, use_gb, x, alpha, steps, every, &rng, 'b');

  {
    char sub[128];
    FILE *f = svg_open(out, "vq_kmeans.svg", 1060, 500);
    snprintf(sub, sizeof sub, "J/N = %.4f after %d iterations", lloyd_j, rep.iterations);
    svg_panel(f, 15, 0, "1. k-means++ + Lloyd (offline)", sub, x, lloyd, use_lloyd, NULL, ppl_lloyd);
    svg_panel(f, 365, 0, "2a. online, fairseq's 0.01 N(0,1) start", "codebook loss by Adam; x: Lloyd's centres", x,
              cb_a, use_a, lloyd, ppl_a);
    svg_panel(f, 715, 0, "2b. online, k-means++ start", "codebook loss by Adam; x: Lloyd's centres", x, cb_b, use_b,
              lloyd, ppl_b);
    svg_close(f, out, "vq_kmeans.svg");
    f = svg_open(out, "vq_gumbel.svg", 710, 500);
    svg_panel(f, 15, 0, "3a. Gumbel quantizer, alpha = 0.1", "hard ST, tau 2 -> 0.5; inference (argmax)", x, cb_ga,
              use_ga, NULL, ppl_ga);
    snprintf(sub, sizeof sub, "hard ST, tau 2 -> 0.5; inference (argmax)");
    {
      char title[64];
      snprintf(title, sizeof title, "3b. Gumbel quantizer, alpha = %g", alpha);
      svg_panel(f, 365, 0, title, sub, x, cb_gb, use_gb, NULL, ppl_gb);
    }
    svg_close(f, out, "vq_gumbel.svg");
  }
  svg_tau(out);
  free(x), free(idx);
  return 0;
}
