/* examples/recognizer/bert.c - vq-wav2vec's second stage: a BERT trained by masked-span
 * prediction on the discrete units that build/units wrote (asr.h sections 8.11, 9.10).
 *
 *   build/bert --units build/units --out build/bert.npz [--steps 600] [--batch 8] [--crop 100]
 *              [--d-model 64] [--heads 4] [--ff-dim 256] [--layers 2] [--lr 1e-3] [--every 50]
 *              [--seed 1]
 *
 * UNITS is build/units's output folder: units.tsv (file, frames, one "i.j" code pair per
 * 10 ms frame) and usage.tsv (group, code, frames), which gives the groups G and codes V.
 * A frame's codes make one token u = i V + j (for G = 2; in general the codes read as the
 * digits of a base-V number), V^G tokens in all, as [Baevski20vq] makes a token of every
 * combination. Every tenth sequence (in file order) is held out. A step takes --batch
 * random crops of --crop frames (a shorter sequence whole, padded, with its length), draws
 * the span mask (p = 0.05, spans of 10), runs asr_bert_model_step and one Adam update
 * (gradient norm clipped at 5); progress lines give the loss and the masked accuracy. At
 * the end the held-out sequences' first --crop frames are scored with a fixed mask, beside
 * two baselines a BERT has to beat: the most frequent training token, and the token of
 * the nearest unmasked frame (units repeat for many frames, so copying a neighbour is
 * strong). The model is written atomically (keys encoder.*, lm_head.*). Exit status 0, or
 * 2 with one line naming the problem (and nothing written). */
#define _POSIX_C_SOURCE 200809L
#include "asrdata.h"
#include "../outpath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct opts {
  const char *units, *out;
  long steps;
  int batch, crop, every, seed, d_model, heads, ff_dim, layers;
  double lr;
} opts;

static int usage(void) {
  fprintf(stderr,
          "usage: bert --units DIR --out MODEL.npz [--steps 600] [--batch 8] [--crop 100] [--d-model 64] [--heads 4]\n"
          "            [--ff-dim 256] [--layers 2] [--lr 1e-3] [--every 50] [--seed 1]\n"
          "  DIR: the output folder of build/units (units.tsv, usage.tsv)\n");
  return 2;
}

static int parse_args(int argc, char **argv, opts *o) {
  int i;
  long v;
  double d;
  memset(o, 0, sizeof *o);
  o->steps = 600, o->batch = 8, o->crop = 100, o->d_model = 64, o->heads = 4, o->ff_dim = 256, o->layers = 2;
  o->lr = 1e-3, o->every = 50, o->seed = 1;
  for (i = 1; i < argc; i += 2) {                  /* an option and its value */
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(), 1;
    if (!strncmp(a, "--", 2) && !val) return fprintf(stderr, "bert: %s needs a value\n", a), 2;
    if (!strcmp(a, "--units")) o->units = val;
    else if (!strcmp(a, "--out")) o->out = val;
    else if (!strcmp(a, "--steps")) { if (ad_parse_long("bert", "steps", val, 0, 10000000, &v)) return 2; o->steps = v; }
    else if (!strcmp(a, "--batch")) { if (ad_parse_long("bert", "batch", val, 1, 256, &v)) return 2; o->batch = (int)v; }
    else if (!strcmp(a, "--crop")) { if (ad_parse_long("bert", "crop", val, 1, 4096, &v)) return 2; o->crop = (int)v; }
    else if (!strcmp(a, "--d-model")) { if (ad_parse_long("bert", "d-model", val, 2, 4096, &v)) return 2; o->d_model = (int)v; }
    else if (!strcmp(a, "--heads")) { if (ad_parse_long("bert", "heads", val, 1, 4096, &v)) return 2; o->heads = (int)v; }
    else if (!strcmp(a, "--ff-dim")) { if (ad_parse_long("bert", "ff-dim", val, 1, 65536, &v)) return 2; o->ff_dim = (int)v; }
    else if (!strcmp(a, "--layers")) { if (ad_parse_long("bert", "layers", val, 1, ASR_BERT_MAX_LAYERS, &v)) return 2; o->layers = (int)v; }
    else if (!strcmp(a, "--lr")) { if (ad_parse_double("bert", "lr", val, 0, 1, &d)) return 2; o->lr = d; }
    else if (!strcmp(a, "--every")) { if (ad_parse_long("bert", "every", val, 1, 10000000, &v)) return 2; o->every = (int)v; }
    else if (!strcmp(a, "--seed")) { if (ad_parse_long("bert", "seed", val, 0, 2147483647, &v)) return 2; o->seed = (int)v; }
    else return fprintf(stderr, "bert: unknown option '%s'\n", a), usage();
  }
  if (!o->units || !o->out) return fprintf(stderr, "bert: --units and --out are required\n"), usage();
  return 0;
}

/* The unit sequences of units.tsv, tokens u = sum_g i_g V^(G-1-g). */
typedef struct seqs {
  int count, G, V, vocab;
  int **u, *len;
} seqs;

static void seqs_free(seqs *s) {
  int i;
  for (i = 0; i < s->count; i++) free(s->u[i]);
  free(s->u), free(s->len);
  memset(s, 0, sizeof *s);
}

static int read_units(seqs *s, const char *dir) {
  char path[4096], *line = NULL;
  size_t cap = 0;
  FILE *fp;
  int g, code, cap_s = 0, lineno = 0;
  long frames;
  memset(s, 0, sizeof *s);
  snprintf(path, sizeof path, "%s/usage.tsv", dir);
  if (!(fp = fopen(path, "r"))) return fprintf(stderr, "bert: %s: cannot open (is it build/units's folder?)\n", path), 2;
  while (fscanf(fp, "%d\t%d\t%ld\n", &g, &code, &frames) == 3) {
    if (g + 1 > s->G) s->G = g + 1;
    if (code + 1 > s->V) s->V = code + 1;
  }
  fclose(fp);
  if (s->G < 1 || s->G > 4 || s->V < 1 || pow(s->V, s->G) > 65536)
    return fprintf(stderr, "bert: %s: %d groups of %d codes: need 1..4 groups and at most 65536 tokens\n", path, s->G,
                   s->V), 2;
  s->vocab = (int)pow(s->V, s->G);
  if (s->vocab < 2) return fprintf(stderr, "bert: %s: one token only\n", path), 2;
  snprintf(path, sizeof path, "%s/units.tsv", dir);
  if (!(fp = fopen(path, "r"))) return fprintf(stderr, "bert: %s: cannot open\n", path), 2;
  while (getline(&line, &cap, fp) > 0) {
    char *p = strchr(line, '\t'), *end;
    long T;
    int t;
    lineno++;
    if (!p) goto bad;
    T = strtol(p + 1, &end, 10);
    if (end == p + 1 || *end != '\t' || T < 1 || T > 10000000) goto bad;
    if (s->count == cap_s) {
      int **nu;
      int *nl;
      cap_s = cap_s ? 2 * cap_s : 64;
      if (!(nu = (int **)realloc(s->u, sizeof *s->u * (size_t)cap_s))) goto oom;
      s->u = nu;
      if (!(nl = (int *)realloc(s->len, sizeof *s->len * (size_t)cap_s))) goto oom;
      s->len = nl;
    }
    s->u[s->count] = (int *)malloc(sizeof(int) * (size_t)T);
    if (!s->u[s->count]) goto oom;
    s->len[s->count++] = (int)T;
    p = end + 1;
    for (t = 0; t < T; t++) {
      int tok = 0;
      for (g = 0; g < s->G; g++) {
        long c = strtol(p, &end, 10);
        if (end == p || c < 0 || c >= s->V || (g + 1 < s->G ? *end != '.' : (*end != ' ' && *end != '\n' && *end)))
          goto bad;
        tok = tok * s->V + (int)c;
        p = end + 1;
      }
      s->u[s->count - 1][t] = tok;
    }
  }
  free(line);
  fclose(fp);
  if (s->count < 2) {
    fprintf(stderr, "bert: %s: %d sequences: need 2 (one held out)\n", path, s->count);
    seqs_free(s);
    return 2;
  }
  return 0;
bad:
  fprintf(stderr, "bert: %s:%d: not file<TAB>frames<TAB>codes (%d groups of %d)\n", path, lineno, s->G, s->V);
  free(line), fclose(fp), seqs_free(s);
  return 2;
oom:
  fprintf(stderr, "bert: out of memory\n");
  free(line), fclose(fp), seqs_free(s);
  return 2;
}

/* A batch of n sequences: crop frames from `off`, padded with token 0, and their lengths. */
static void fill(const seqs *s, const int *which, const int *off, int n, int crop, int *u, int *len) {
  int b, t;
  for (b = 0; b < n; b++) {
    int L = s->len[which[b]] - off[b];
    len[b] = L < crop ? L : crop;
    for (t = 0; t < crop; t++) u[(size_t)b * crop + t] = t < len[b] ? s->u[which[b]][off[b] + t] : 0;
  }
}

int main(int argc, char **argv) {
  opts o;
  seqs s;
  asr_bert_config cfg;
  asr_bert_model m;
  asr_bert_stats st;
  asr_adam_opts ao;
  asr_rng rng, erng;
  asr_error err;
  int r = parse_args(argc, argv, &o), i, b, nt = 0, nh = 0, *train = NULL, *held = NULL, *which, *off, *u, *len;
  long *freq = NULL, s_idx;
  unsigned char *mask;
  void *work = NULL;
  size_t wb;
  asr_real *am = NULL, *av = NULL;
  const char *ins[2];
  char up[4096];
  if (r) return r == 1 ? 0 : r;
  snprintf(up, sizeof up, "%s/units.tsv", o.units);
  ins[0] = o.units, ins[1] = up;
  if (op_check("bert", o.out, ins, 2)) return 2;
  if (read_units(&s, o.units)) return 2;
  asr_bert_config_init(&cfg, s.vocab, o.d_model, o.heads, o.ff_dim, o.layers);
  asr_rng_seed(&rng, (uint64_t)o.seed, 0);
  if (asr_bert_model_create(&m, &cfg, &rng, NULL, &err) != ASR_OK) {
    fprintf(stderr, "bert: %s\n", err.msg);
    seqs_free(&s);
    return 2;
  }
  r = 2;
  wb = asr_bert_model_workspace_size(&m, o.batch, o.crop);
  work = wb != (size_t)-1 ? malloc(wb) : NULL;
  am = (asr_real *)calloc(m.params.total, sizeof *am), av = (asr_real *)calloc(m.params.total, sizeof *av);
  train = (int *)malloc(sizeof(int) * (size_t)s.count), held = (int *)malloc(sizeof(int) * (size_t)s.count);
  which = (int *)malloc(sizeof(int) * (size_t)o.batch * 2), off = which ? which + o.batch : NULL;
  u = (int *)malloc(sizeof(int) * (size_t)o.batch * o.crop);
  len = (int *)malloc(sizeof(int) * (size_t)o.batch);
  mask = (unsigned char *)malloc((size_t)o.batch * o.crop);
  freq = (long *)calloc((size_t)s.vocab, sizeof *freq);
  if (!work || !am || !av || !train || !held || !which || !u || !len || !mask || !freq) {
    fprintf(stderr, "bert: out of memory\n");
    goto done;
  }
  for (i = 0; i < s.count; i++) {
    if (i % 10 == 9) held[nh++] = i;
    else {
      int t;
      train[nt++] = i;
      for (t = 0; t < s.len[i]; t++) freq[s.u[i][t]]++;
    }
  }
  printf("bert: %d sequences (%d training, %d held out), %d groups of %d codes = %d tokens; crops of %d frames, "
         "batch %d, %zu parameters\n", s.count, nt, nh, s.G, s.V, s.vocab, o.crop, o.batch, m.params.total);
  asr_adam_opts_init(&ao, o.lr);
  for (s_idx = 0; s_idx < o.steps; s_idx++) {
    asr_real *gp = m.params.grad;
    size_t total = m.params.total;
    double norm;
    for (b = 0; b < o.batch; b++) {                /* random crops */
      which[b] = train[asr_rng_int(&rng, nt)];
      off[b] = s.len[which[b]] > o.crop ? asr_rng_int(&rng, s.len[which[b]] - o.crop + 1) : 0;
    }
    fill(&s, which, off, o.batch, o.crop, u, len);
    asr_params_zero_grad(&m.params);
    if (asr_bert_model_step(&m, &st, NULL, u, len, o.batch, o.crop, 1, &rng, work, wb, &err) != ASR_OK) {
      fprintf(stderr, "bert: step %ld: %s\n", s_idx + 1, err.msg);
      goto done;
    }
    if (asr_clip_grad_norm(&gp, &total, 1, 5.0, 2.0, &norm) != ASR_OK ||
        asr_adam_step(m.params.data, am, av, NULL, m.params.grad, m.params.total, &ao, s_idx + 1) != ASR_OK) {
      fprintf(stderr, "bert: step %ld: the gradient is not finite\n", s_idx + 1);
      goto done;
    }
    if ((s_idx + 1) % o.every == 0 || s_idx + 1 == o.steps)
      printf("step %5ld  loss %.4f  masked accuracy %.3f  (%ld masked)\n", s_idx + 1, st.loss,
             st.masked ? (double)st.correct / st.masked : 0, st.masked);
    fflush(stdout);
  }
  {   /* held out: the first crop frames of each, a fixed mask; and the two baselines */
    long masked = 0, correct = 0, c_freq = 0, c_near = 0;
    int best = 0, h;
    double loss = 0;
    for (i = 1; i < s.vocab; i++)
      if (freq[i] > freq[best]) best = i;
    asr_rng_seed(&erng, 12345, 0);
    for (h = 0; h < nh; h += o.batch) {
      int n = nh - h < o.batch ? nh - h : o.batch, t;
      for (b = 0; b < n; b++) which[b] = held[h + b], off[b] = 0;
      fill(&s, which, off, n, o.crop, u, len);
      if (asr_bert_model_step(&m, &st, mask, u, len, n, o.crop, 0, &erng, work, wb, &err) != ASR_OK) {
        fprintf(stderr, "bert: held-out step: %s\n", err.msg);
        goto done;
      }
      masked += st.masked, correct += st.correct, loss += st.loss * st.masked;
      for (b = 0; b < n; b++)
        for (t = 0; t < len[b]; t++) {
          const unsigned char *mk = mask + (size_t)b * o.crop;
          const int *ub = u + (size_t)b * o.crop;
          int d, near = -1;
          if (!mk[t]) continue;
          c_freq += ub[t] == best;
          for (d = 1; near < 0 && d < len[b]; d++)         /* the nearest unmasked frame, left first */
            if (t - d >= 0 && !mk[t - d]) near = ub[t - d];
            else if (t + d < len[b] && !mk[t + d]) near = ub[t + d];
          c_near += near == ub[t];
        }
    }
    printf("held out: %d sequences, %ld masked frames, loss %.4f, masked accuracy %.3f; baselines: the most frequent "
           "token %.3f, the nearest unmasked frame's token %.3f\n", nh, masked, masked ? loss / masked : 0,
           masked ? (double)correct / masked : 0, masked ? (double)c_freq / masked : 0,
           masked ? (double)c_near / masked : 0);
  }
  if (asr_bert_model_save(&m, o.out, &err) != ASR_OK) {
    fprintf(stderr, "bert: %s\n", err.msg);
    goto done;
  }
  printf("wrote %s\n", o.out);
  r = 0;
done:
  free(work), free(am), free(av), free(train), free(held), free(which), free(u), free(len), free(mask), free(freq);
  asr_bert_model_free(&m);
  seqs_free(&s);
  return r;
}
