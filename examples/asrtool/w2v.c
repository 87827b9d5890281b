/* examples/asrtool/w2v.c - wav2vec / vq-wav2vec (asr.h sections 8.8-8.10 and 9.9) on the
 * command line:
 *
 *   asrtool w2v-init RECIPE OUT.npz [--seed 1] [--channels C] [--agg-layers J] [--steps K]
 *                    [--negatives N] [--groups G] [--vars V]
 *   asrtool w2v MODEL.npz WAVES OUTDIR [--train] [--seed 1] [--step 0]
 *
 * w2v-init writes a freshly initialized model (fairseq's state_dict keys, see asr.h 9.9);
 * w2v runs one step of the model on WAVES (B, n) float samples: OUTDIR gets loss.npy
 * (float64: loss, contrastive sum, codebook, commitment, pairs, correct, logits, tau),
 * z.npy, q.npy, c.npy (B, C, T), neg.npy (B, T, negatives) int32, and for the quantizers
 * index.npy (B T, G); with --train also noise.npy (Gumbel, (B T, G V)) and grads.npz, the
 * gradient of the loss under the parameters' keys. tests/torch/test_w2v.py replays the
 * step in PyTorch from these files. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_w2v_init(int argc, char **argv) {
  char *pos[2];
  int npos, r, seed = 1, channels = 0, agg = -1, steps = 0, negatives = 0, groups = 0, vars = 0;
  asr_w2v_config cfg;
  asr_w2v_model m;
  asr_rng rng;
  asr_error err;
  const at_opt opts[] = {
    {"seed", AT_INT, &seed, 0, 2147483647, NULL},
    {"channels", AT_INT, &channels, 1, 4096, NULL},
    {"agg-layers", AT_INT, &agg, 0, ASR_W2V_MAX_LAYERS, NULL},
    {"steps", AT_INT, &steps, 1, 64, NULL},
    {"negatives", AT_INT, &negatives, 1, 1000, NULL},
    {"groups", AT_INT, &groups, 1, 64, NULL},
    {"vars", AT_INT, &vars, 1, 65536, NULL},
  };
  r = at_parse(argc, argv, opts, 7, pos, 2, 2, &npos,
               "w2v-init RECIPE OUT.npz [--seed 1] [--channels C] [--agg-layers J] [--steps K] "
               "[--negatives N] [--groups G] [--vars V]\n"
               "  RECIPE: wav2vec, vq-wav2vec-gumbel, vq-wav2vec-kmeans, or one of them with toy- in front");
  if (r) return r == 1 ? 0 : r;
  if (asr_w2v_config_default(&cfg, pos[0]) != ASR_OK) return at_fail("unknown recipe '%s'", pos[0]);
  if (channels) cfg.channels = channels;
  if (agg >= 0) {
    int j;
    cfg.agg_layers = agg;
    for (j = 0; j < agg; j++) cfg.agg_kernel[j] = j + 2;
  }
  if (steps) cfg.steps = steps;
  if (negatives) cfg.negatives = negatives;
  if (groups) cfg.vq_groups = groups;
  if (vars) cfg.vq_vars = vars;
  asr_rng_seed(&rng, (uint64_t)seed, 0);
  if (asr_w2v_model_create(&m, &cfg, &rng, NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
  r = asr_w2v_model_save(&m, pos[1], &err) == ASR_OK ? 0 : at_fail("%s", err.msg);
  asr_w2v_model_free(&m);
  return r;
}

int cmd_w2v(int argc, char **argv) {
  char *pos[3], path[4096];
  int npos, r, seed = 1, step = 0, train = 0, B, n, ret = 2;
  int64_t shape[ASR_MAX_DIMS], sz[3];
  asr_real *wave = NULL;
  asr_w2v_model m;
  asr_w2v_stats st;
  asr_rng rng;
  asr_error err;
  void *work = NULL;
  size_t wb;
  double loss[8];
  const asr_real *z, *q, *c, *noise;
  const int *index, *neg;
  at_outputs outs;
  const at_opt opts[] = {
    {"train", AT_FLAG, &train, 0, 0, NULL},
    {"seed", AT_INT, &seed, 0, 2147483647, NULL},
    {"step", AT_INT, &step, 0, 2147483647, NULL},
  };
  r = at_parse(argc, argv, opts, 3, pos, 3, 3, &npos, "w2v MODEL.npz WAVES OUTDIR [--train] [--seed 1] [--step 0]\n"
                                                         "  WAVES (B, n) float samples, every crop n long");
  if (r) return r == 1 ? 0 : r;
  if (asr_w2v_model_load(&m, pos[0], NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
  if (at_npy_real(pos[1], 2, shape, &wave, 0)) goto done;
  B = (int)shape[0], n = (int)shape[1];
  if (B < 1 || asr_w2v_frames(&m.cfg, n) < 1) {
    at_fail("%s: (%d, %d): needs B >= 1 crops of at least %d samples (the receptive field)", pos[1], B, n,
            asr_w2v_receptive_field(&m.cfg));
    goto done;
  }
  wb = asr_w2v_model_workspace_size(&m, B, n);
  work = malloc(wb ? wb : 1);
  if (!work) {
    at_fail("out of memory (%zu bytes)", wb);
    goto done;
  }
  asr_rng_seed(&rng, (uint64_t)seed, 0);
  asr_params_zero_grad(&m.params);
  if (asr_w2v_model_step(&m, &st, wave, B, n, step, train, &rng, work, wb, &err) != ASR_OK) {
    at_fail("%s: %s", pos[1], err.msg);
    goto done;
  }
  asr_w2v_model_view(&m, work, B, n, &z, &q, &c, &index, &neg, &noise);
  loss[0] = st.loss, loss[1] = st.contrastive, loss[2] = st.codebook, loss[3] = st.commitment;
  loss[4] = (double)st.pairs, loss[5] = (double)st.correct, loss[6] = (double)st.logits, loss[7] = st.tau;
  outs.n = 0;
  sz[0] = 8;
  at_out_add(&outs, "loss.npy", ASR_DTYPE_F64, 1, sz, loss);
  sz[0] = B, sz[1] = m.cfg.channels, sz[2] = st.T;
  at_out_add(&outs, "z.npy", ASR_DTYPE_REAL, 3, sz, z);
  at_out_add(&outs, "q.npy", ASR_DTYPE_REAL, 3, sz, q);
  at_out_add(&outs, "c.npy", ASR_DTYPE_REAL, 3, sz, c);
  sz[0] = B, sz[1] = st.T, sz[2] = m.cfg.negatives;
  at_out_add(&outs, "neg.npy", ASR_DTYPE_I32, 3, sz, neg);
  if (index) {
    sz[0] = (int64_t)B * st.T, sz[1] = m.cfg.vq_groups;
    at_out_add(&outs, "index.npy", ASR_DTYPE_I32, 2, sz, index);
  }
  if (train && noise) {
    sz[0] = (int64_t)B * st.T, sz[1] = (int64_t)m.cfg.vq_groups * m.cfg.vq_vars;
    at_out_add(&outs, "noise.npy", ASR_DTYPE_REAL, 2, sz, noise);
  }
  snprintf(path, sizeof path, "%s/grads.npz", pos[2]);
  if (train && at_out_check(path)) goto done;           /* OUTDIR/grads.npz is not an input */
  if (at_out_commit(&outs, pos[2])) goto done;
  if (train) {                      /* the gradients under the parameters' keys, one .npz */
    asr_params g = m.params;
    g.data = m.params.grad;
    if (asr_checkpoint_save(path, &g, NULL, NULL, &err) != ASR_OK) {
      at_fail("%s", err.msg);
      goto done;
    }
  }
  if (at_verbose)
    printf("loss %.6f contrastive %.6f pairs %ld correct %ld T %d\n", st.loss, st.contrastive, st.pairs, st.correct,
           st.T);
  ret = 0;
done:
  free(wave), free(work);
  asr_w2v_model_free(&m);
  return ret;
}

/* ---- bench: one wav2vec training step, forward and backward through the feature encoder
 * f, the context network g and the contrastive loss [Schneider19] eq. (1) (with its 10
 * negatives a frame drawn anew, as build/pretrain does), at the toy-wav2vec size build/pretrain
 * trains (C = 64, 5 encoder layers, 4 context layers, K = 4 steps) on a batch of 8 crops of
 * 2 s at 16 kHz (198 frames each). asr_w2v_model_step runs the fast tier of every piece;
 * bench/torch_w2v.py times the PyTorch twin of tests/torch/test_w2v.py on the same sizes. */
typedef struct bench_w2v_ctx {
  asr_w2v_model m;
  asr_real *wave;
  void *work;
  size_t wb;
  asr_rng rng;
} bench_w2v_ctx;
enum { BW_B = 8, BW_N = 32000 };
static void bench_w2v_call(void *v) {
  bench_w2v_ctx *c = (bench_w2v_ctx *)v;
  asr_w2v_stats st;
  asr_params_zero_grad(&c->m.params);
  asr_w2v_model_step(&c->m, &st, c->wave, BW_B, BW_N, 0, 1, &c->rng, c->work, c->wb, NULL);
}

void bench_w2v(struct at_bench *b) {
  bench_w2v_ctx c;
  asr_w2v_config cfg;
  size_t k;
  memset(&c, 0, sizeof c);
  asr_w2v_config_default(&cfg, "toy-wav2vec");
  asr_rng_seed(&c.rng, 2, 0);
  if (asr_w2v_model_create(&c.m, &cfg, &c.rng, NULL, NULL) != ASR_OK) return;
  c.wave = (asr_real *)malloc(sizeof(asr_real) * BW_B * BW_N);
  c.wb = asr_w2v_model_workspace_size(&c.m, BW_B, BW_N);
  c.work = malloc(c.wb);
  if (c.wave && c.work) {
    for (k = 0; k < (size_t)BW_B * BW_N; k++) c.wave[k] = (asr_real)(0.1 * asr_rng_normal(&c.rng));
#if defined(ASR_SIMD_AVX2) || defined(ASR_SIMD_NEON)
    at_bench_report(b, "wav2vec toy C64 step fwd+bwd B8 2s", "simd", at_bench_time(bench_w2v_call, &c, 1.0));
#else
    at_bench_report(b, "wav2vec toy C64 step fwd+bwd B8 2s", "ref", at_bench_time(bench_w2v_call, &c, 1.0));
#endif
  }
  free(c.wave), free(c.work);
  asr_w2v_model_free(&c.m);
}
