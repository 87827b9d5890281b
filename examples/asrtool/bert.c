/* examples/asrtool/bert.c - BERT on the discrete units (asr.h sections 8.11 and 9.10) on
 * the command line:
 *
 *   asrtool bert-init OUT.npz --vocab V [--d-model 64] [--heads 4] [--ff-dim 256]
 *                     [--layers 2] [--mask-prob 0.05] [--mask-span 10] [--seed 1]
 *   asrtool bert MODEL.npz UNITS OUTDIR [--lengths LENS] [--train] [--seed 1]
 *
 * bert-init writes a freshly initialized model (keys encoder.* as ESPnet's
 * TransformerEncoder, lm_head.*; asr.h 9.10). bert runs one masked-prediction step on
 * UNITS (N, T) int32 unit tokens in [0, V) (LENS (N) int32 in [1, T], default all T):
 * the span mask drawn from --seed, the loss on the masked positions. OUTDIR gets loss.npy
 * (float64: loss, masked, correct), mask.npy (N, T) uint8 and feats.npy (N, T, D), the
 * features of the unmasked units (asr_bert_model_features); with --train also grads.npz,
 * the gradient of the loss under the parameters' keys. tests/torch/test_bert.py replays
 * the step in PyTorch from these files. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_bert_init(int argc, char **argv) {
  char *pos[1];
  int npos, r, seed = 1, vocab = 0, d_model = 64, heads = 4, ff_dim = 256, layers = 2, span = 10;
  double prob = 0.05;
  asr_bert_config cfg;
  asr_bert_model m;
  asr_rng rng;
  asr_error err;
  const at_opt opts[] = {
    {"vocab", AT_INT, &vocab, 2, 65536, NULL},
    {"d-model", AT_INT, &d_model, 2, 65536, NULL},
    {"heads", AT_INT, &heads, 1, 65536, NULL},
    {"ff-dim", AT_INT, &ff_dim, 1, 65536, NULL},
    {"layers", AT_INT, &layers, 1, ASR_BERT_MAX_LAYERS, NULL},
    {"mask-prob", AT_REAL, &prob, 0, 1, NULL},
    {"mask-span", AT_INT, &span, 1, 4096, NULL},
    {"seed", AT_INT, &seed, 0, 2147483647, NULL},
  };
  r = at_parse(argc, argv, opts, 8, pos, 1, 1, &npos,
               "bert-init OUT.npz --vocab V [--d-model 64] [--heads 4] [--ff-dim 256] [--layers 2]\n"
               "          [--mask-prob 0.05] [--mask-span 10] [--seed 1]");
  if (r) return r == 1 ? 0 : r;
  if (!vocab) return at_fail("--vocab is required (the number of unit tokens)");
  asr_bert_config_init(&cfg, vocab, d_model, heads, ff_dim, layers);
  cfg.mask_prob = prob, cfg.mask_span = span;
  asr_rng_seed(&rng, (uint64_t)seed, 0);
  if (asr_bert_model_create(&m, &cfg, &rng, NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
  r = asr_bert_model_save(&m, pos[0], &err) == ASR_OK ? 0 : at_fail("%s", err.msg);
  asr_bert_model_free(&m);
  return r;
}

int cmd_bert(int argc, char **argv) {
  char *pos[3], path[4096];
  const char *lens_path = NULL;
  int npos, r, seed = 1, train = 0, N, T, ret = 2, *units = NULL, *lengths = NULL;
  int64_t shape[ASR_MAX_DIMS], sz[3];
  asr_bert_model m;
  asr_bert_stats st;
  asr_rng rng;
  asr_error err;
  void *work = NULL;
  unsigned char *mask = NULL;
  asr_real *feats = NULL;
  size_t wb;
  double loss[3];
  at_outputs outs;
  const at_opt opts[] = {
    {"lengths", AT_STR, &lens_path, 0, 0, NULL},
    {"train", AT_FLAG, &train, 0, 0, NULL},
    {"seed", AT_INT, &seed, 0, 2147483647, NULL},
  };
  r = at_parse(argc, argv, opts, 3, pos, 3, 3, &npos, "bert MODEL.npz UNITS OUTDIR [--lengths LENS] [--train] [--seed 1]\n"
                                                         "  UNITS (N, T) int32 unit tokens, LENS (N) int32");
  if (r) return r == 1 ? 0 : r;
  if (asr_bert_model_load(&m, pos[0], NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
  if (at_npy_int(pos[1], 2, shape, &units)) goto done;
  N = (int)shape[0], T = (int)shape[1];
  if (N < 1 || T < 1) {
    at_fail("%s: (%d, %d): needs at least one sequence of one unit", pos[1], N, T);
    goto done;
  }
  if (lens_path) {
    if (at_npy_int(lens_path, 1, shape, &lengths)) goto done;
    if (shape[0] != N) {
      at_fail("%s: %d lengths for %d sequences", lens_path, (int)shape[0], N);
      goto done;
    }
  }
  wb = asr_bert_model_workspace_size(&m, N, T);
  work = wb != (size_t)-1 ? malloc(wb) : NULL;
  mask = (unsigned char *)malloc((size_t)N * T);
  feats = (asr_real *)malloc(sizeof(asr_real) * (size_t)N * T * m.cfg.d_model);
  if (!work || !mask || !feats) {
    at_fail("out of memory (%zu bytes)", wb);
    goto done;
  }
  asr_rng_seed(&rng, (uint64_t)seed, 0);
  asr_params_zero_grad(&m.params);
  if (asr_bert_model_step(&m, &st, mask, units, lengths, N, T, train, &rng, work, wb, &err) != ASR_OK ||
      asr_bert_model_features(&m, feats, units, lengths, N, T, work, wb, &err) != ASR_OK) {
    at_fail("%s: %s", pos[1], err.msg);
    goto done;
  }
  loss[0] = st.loss, loss[1] = (double)st.masked, loss[2] = (double)st.correct;
  outs.n = 0;
  sz[0] = 3;
  at_out_add(&outs, "loss.npy", ASR_DTYPE_F64, 1, sz, loss);
  sz[0] = N, sz[1] = T, sz[2] = m.cfg.d_model;
  at_out_add(&outs, "mask.npy", ASR_DTYPE_U8, 2, sz, mask);
  at_out_add(&outs, "feats.npy", ASR_DTYPE_REAL, 3, sz, feats);
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
  if (at_verbose) printf("loss %.6f masked %ld correct %ld\n", st.loss, st.masked, st.correct);
  ret = 0;
done:
  free(units), free(lengths), free(work), free(mask), free(feats);
  asr_bert_model_free(&m);
  return ret;
}
