/* examples/recognizer/pretrain.c - self-supervised pretraining of wav2vec / vq-wav2vec on
 * a folder of recordings, with asr.h sections 8.8-8.10 and 9.9. No transcripts needed.
 *
 *   build/pretrain --data data/toy/train --out build/w2v.npz [--recipe toy-vq-wav2vec-gumbel]
 *
 * Every .wav / .ogg file of DIR is resampled to 16 kHz; every tenth (in name order) is
 * held out. A step takes --batch random crops of --crop-ms milliseconds from the other
 * recordings (recordings shorter than a crop are skipped, with a note), runs one
 * asr_w2v_model_step and one Adam update (gradient norm clipped at 5). Every --every
 * steps a progress line gives the training loss, the contrastive accuracy of the step
 * (the true future ranked above all the negatives), the code perplexity of each group and
 * the Gumbel temperature; at the end the same on the held-out recordings (centre crops).
 * The model is written atomically with fairseq's state_dict keys (asr.h 9.9). Exit status
 * 0, or 2 with one line naming the problem (and nothing written). */
#define _POSIX_C_SOURCE 200809L
#include "asrdata.h"
#include "../outpath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct opts {
  const char *recipe, *data, *out;
  long steps;
  int batch, crop_ms, every, channels, seed;
  double lr;
} opts;

static int usage(void) {
  fprintf(stderr,
          "usage: pretrain --data DIR --out MODEL.npz [--recipe toy-vq-wav2vec-gumbel] [--steps 600] [--batch 8]\n"
          "                [--crop-ms 250] [--lr 1e-3] [--every 50] [--channels C] [--seed 1]\n"
          "  recipes: wav2vec, vq-wav2vec-gumbel, vq-wav2vec-kmeans (paper sizes) or toy-* of each\n");
  return 2;
}

static int parse_args(int argc, char **argv, opts *o) {
  int i;
  long v;
  double d;
  memset(o, 0, sizeof *o);
  o->recipe = "toy-vq-wav2vec-gumbel", o->steps = 600, o->batch = 8, o->crop_ms = 250, o->lr = 1e-3;
  o->every = 50, o->seed = 1;
  for (i = 1; i < argc; i += 2) {                  /* an option and its value */
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(), 1;
    if (!strncmp(a, "--", 2) && !val) return fprintf(stderr, "pretrain: %s needs a value\n", a), 2;
    if (!strcmp(a, "--data")) o->data = val;
    else if (!strcmp(a, "--out")) o->out = val;
    else if (!strcmp(a, "--recipe")) o->recipe = val;
    else if (!strcmp(a, "--steps")) { if (ad_parse_long("pretrain", "steps", val, 0, 10000000, &v)) return 2; o->steps = v; }
    else if (!strcmp(a, "--batch")) { if (ad_parse_long("pretrain", "batch", val, 1, 256, &v)) return 2; o->batch = (int)v; }
    else if (!strcmp(a, "--crop-ms")) { if (ad_parse_long("pretrain", "crop-ms", val, 30, 60000, &v)) return 2; o->crop_ms = (int)v; }
    else if (!strcmp(a, "--lr")) { if (ad_parse_double("pretrain", "lr", val, 0, 1, &d)) return 2; o->lr = d; }
    else if (!strcmp(a, "--every")) { if (ad_parse_long("pretrain", "every", val, 1, 10000000, &v)) return 2; o->every = (int)v; }
    else if (!strcmp(a, "--channels")) { if (ad_parse_long("pretrain", "channels", val, 1, 4096, &v)) return 2; o->channels = (int)v; }
    else if (!strcmp(a, "--seed")) { if (ad_parse_long("pretrain", "seed", val, 0, 2147483647, &v)) return 2; o->seed = (int)v; }
    else return fprintf(stderr, "pretrain: unknown option '%s'\n", a), usage();
  }
  if (!o->data || !o->out) return fprintf(stderr, "pretrain: --data and --out are required\n"), usage();
  return 0;
}

/* Evaluation on the held-out recordings' centre crops, B at a time: accuracy, loss and the
 * code perplexity of each group over all of them. */
static int evaluate(asr_w2v_model *m, const ad_waves *w, const int *held, int nh, int n, int B, void *work, size_t wb,
                    asr_real *buf, double *acc, double *loss, double *ppl) {
  asr_w2v_stats st;
  asr_rng rng;
  asr_error err;
  long pairs = 0, correct = 0;
  double lsum = 0;
  int i, b, nb = 0, G = m->cfg.quantizer == ASR_W2V_NONE ? 0 : m->cfg.vq_groups;
  int *codes = NULL, nc = 0;
  if (G) codes = (int *)malloc(sizeof(int) * (size_t)nh * asr_w2v_frames(&m->cfg, n) * G + 1);
  asr_rng_seed(&rng, 12345, 7);                            /* the same negatives every time */
  for (i = 0; i + B <= nh; i += B) {
    const int *index;
    for (b = 0; b < B; b++) {
      int r = held[i + b];
      memcpy(buf + (size_t)b * n, w->x[r] + (w->n[r] - n) / 2, sizeof(asr_real) * (size_t)n);
    }
    if (asr_w2v_model_step(m, &st, buf, B, n, 0, 0, &rng, work, wb, &err) != ASR_OK) {
      fprintf(stderr, "pretrain: held-out step: %s\n", err.msg);
      free(codes);
      return 2;
    }
    pairs += st.pairs, correct += st.correct, lsum += st.loss, nb++;
    asr_w2v_model_view(m, work, B, n, NULL, NULL, NULL, &index, NULL, NULL);
    if (G && codes) {
      memcpy(codes + (size_t)nc * G, index, sizeof(int) * (size_t)B * st.T * G);
      nc += B * st.T;
    }
  }
  *acc = pairs ? (double)correct / pairs : 0;
  *loss = nb ? lsum / nb : 0;
  if (G && codes && nc) asr_code_perplexity(ppl, codes, nc, G, m->cfg.vq_vars, 0);
  free(codes);
  return 0;
}

int main(int argc, char **argv) {
  opts o;
  ad_waves w;
  asr_w2v_config cfg;
  asr_w2v_model m;
  asr_w2v_stats st;
  asr_adam_opts ao;
  asr_rng rng;
  asr_error err;
  int r = parse_args(argc, argv, &o), i, n, nt = 0, nh = 0, skipped = 0, *train = NULL, *held = NULL, g;
  size_t wb;
  void *work = NULL;
  asr_real *buf = NULL, *am = NULL, *av = NULL;
  double t0, acc = 0, hl = 0, ppl[64];
  long s;
  if (r) return r == 1 ? 0 : 2;
  if (asr_w2v_config_default(&cfg, o.recipe) != ASR_OK) {
    fprintf(stderr, "pretrain: unknown recipe '%s'\n", o.recipe);
    return 2;
  }
  if (o.channels) cfg.channels = o.channels;
  if (asr_w2v_config_check(&cfg, &err) != ASR_OK) return fprintf(stderr, "pretrain: %s\n", err.msg), 2;
  {                                   /* never write over an input (examples/outpath.h) */
    const char *in[1];
    in[0] = o.data;
    if (op_check("pretrain", o.out, in, 1)) return 2;
  }
  n = o.crop_ms * 16;
  if (asr_w2v_frames(&cfg, n) < cfg.negatives + 1 || asr_w2v_frames(&cfg, n) <= cfg.steps)
    return fprintf(stderr, "pretrain: a %d ms crop has %d frames: too few for %d steps and %d negatives\n", o.crop_ms,
                   asr_w2v_frames(&cfg, n), cfg.steps, cfg.negatives), 2;
  if (ad_waves_read(&w, o.data, 16000)) return 2;
  train = (int *)malloc(sizeof(int) * (size_t)w.count), held = (int *)malloc(sizeof(int) * (size_t)w.count);
  for (i = 0; train && held && i < w.count; i++) {
    if (w.n[i] < n) skipped++;
    else if (i % 10 == 9) held[nh++] = i;
    else train[nt++] = i;
  }
  if (skipped)
    printf("note: skipped %d of %d recordings shorter than a %d ms crop\n", skipped, w.count, o.crop_ms);
  if (nt < 1 || nh < o.batch) {
    fprintf(stderr, "pretrain: %s: %d training and %d held-out recordings of at least %d ms: need 1 and --batch %d\n",
            o.data, nt, nh, o.crop_ms, o.batch);
    free(train), free(held), ad_waves_free(&w);
    return 2;
  }
  asr_rng_seed(&rng, (uint64_t)o.seed, 0);
  if (asr_w2v_model_create(&m, &cfg, &rng, NULL, &err) != ASR_OK) {
    fprintf(stderr, "pretrain: %s\n", err.msg);
    free(train), free(held), ad_waves_free(&w);
    return 2;
  }
  wb = asr_w2v_model_workspace_size(&m, o.batch, n);
  work = malloc(wb), buf = (asr_real *)malloc(sizeof(asr_real) * (size_t)o.batch * n);
  am = (asr_real *)calloc(m.params.total, sizeof(asr_real)), av = (asr_real *)calloc(m.params.total, sizeof(asr_real));
  if (!work || !buf || !am || !av) {
    fprintf(stderr, "pretrain: out of memory\n");
    r = 2;
    goto done;
  }
  printf("pretrain: %s, %d recordings (%d training, %d held out), crops of %d ms = %d frames, batch %d, "
         "%zu parameters\n", o.recipe, w.count, nt, nh, o.crop_ms, asr_w2v_frames(&cfg, n), o.batch, m.params.total);
  asr_adam_opts_init(&ao, o.lr);
  t0 = ad_now();
  for (s = 0; s < o.steps; s++) {
    asr_real *gp = m.params.grad;
    size_t total = m.params.total;
    double norm;
    for (i = 0; i < o.batch; i++) {                             /* random crops */
      int rec = train[asr_rng_int(&rng, nt)], off = asr_rng_int(&rng, w.n[rec] - n + 1);
      memcpy(buf + (size_t)i * n, w.x[rec] + off, sizeof(asr_real) * (size_t)n);
    }
    asr_params_zero_grad(&m.params);
    if (asr_w2v_model_step(&m, &st, buf, o.batch, n, s, 1, &rng, work, wb, &err) != ASR_OK) {
      fprintf(stderr, "pretrain: step %ld: %s\n", s + 1, err.msg);
      r = 2;
      goto done;
    }
    if (asr_clip_grad_norm(&gp, &total, 1, 5.0, 2.0, &norm) != ASR_OK ||
        asr_adam_step(m.params.data, am, av, NULL, m.params.grad, m.params.total, &ao, s + 1) != ASR_OK) {
      fprintf(stderr, "pretrain: step %ld: the gradient is not finite\n", s + 1);
      r = 2;
      goto done;
    }
    if ((s + 1) % o.every == 0 || s + 1 == o.steps) {
      printf("step %5ld  loss %.4f  accuracy %.3f", s + 1, st.loss, st.pairs ? (double)st.correct / st.pairs : 0);
      if (cfg.quantizer != ASR_W2V_NONE) {
        printf("  code perplexity");
        for (g = 0; g < cfg.vq_groups && g < 8; g++) printf(" %.1f", st.code_ppl[g]);
      }
      if (cfg.quantizer == ASR_W2V_GUMBEL) printf("  tau %.3f", st.tau);
      if (cfg.quantizer == ASR_W2V_KMEANS) printf("  vq %.4f", st.codebook + cfg.vq_gamma * st.commitment);
      printf("  (%.2f s/step)\n", (ad_now() - t0) / (double)(s + 1));
      fflush(stdout);
    }
  }
  if (evaluate(&m, &w, held, nh, n, o.batch, work, wb, buf, &acc, &hl, ppl)) {
    r = 2;
    goto done;
  }
  printf("held out: %d recordings, loss %.4f, contrastive accuracy %.3f (chance %.3f)", nh - nh % o.batch, hl, acc,
         1.0 / (cfg.negatives + 1));
  if (cfg.quantizer != ASR_W2V_NONE) {
    printf(", code perplexity");
    for (g = 0; g < cfg.vq_groups && g < 8; g++) printf(" %.1f", ppl[g]);
    printf(" of %d", cfg.vq_vars);
  }
  printf("\n");
  if (asr_w2v_model_save(&m, o.out, &err) != ASR_OK) {
    fprintf(stderr, "pretrain: %s\n", err.msg);
    r = 2;
    goto done;
  }
  printf("wrote %s\n", o.out);
  r = 0;
done:
  free(work), free(buf), free(am), free(av), free(train), free(held);
  asr_w2v_model_free(&m);
  ad_waves_free(&w);
  return r;
}
