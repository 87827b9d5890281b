/* examples/asrtool/model.c - `asrtool model`: run a recipe model (a checkpoint written by
 * build/train) on features, in evaluation mode, and write what it computes.
 * tests/torch/test_recipes.py compares the outputs with the same checkpoint loaded into
 * PyTorch.
 *
 *   asrtool model --model MODEL.npz [--targets Y --target-lengths UL [--grads G.npz]] [--adapt-bn A.npz]
 *                 FEATS LENGTHS OUTDIR
 *     FEATS (N, T, n_mels) features (as asr_model_features makes them), LENGTHS (N) int
 *     writes enc.npy (N, T', E) the encoder output, lengths.npy (N,) int32 its lengths,
 *     logprobs.npy (N, T', vocab) for a CTC head or CTC branch, and with Y (N, S) int token
 *     ids and UL (N,) int their lengths, losses.npy (N,): -ln p(y|x) (CTC or RNN-T; inf
 *     where the transcript cannot fit), for the attention recipes lambda L_ctc + (1 -
 *     lambda) L_att (asr_model_loss); --grads G.npz: also one training step on the batch
 *     (asr_model_train_step: training mode, the loss averaged over the batch) and its
 *     gradient with respect to every parameter, written as G.npz under the parameters' own
 *     keys (the checkpoint's names; atomically, before OUTDIR's files, and removed if they
 *     fail). tests/torch/test_recipes.py compares it with torch's autograd. --adapt-bn
 *     A.npz: also the model after AdaBN on the batch (asr_model_adapt_bn with momentum 1:
 *     every BatchNorm layer's running statistics those of the batch; after the outputs
 *     above, which use the checkpoint's), written like G.npz; tests/torch/test_recipes.py
 *     compares its statistics with torch's BatchNorm in training mode. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include "../outpath.h"
#include <stdlib.h>
#include <string.h>

int cmd_model(int argc, char **argv) {
  char *pos[3];
  const char *model_path = NULL, *targets_path = NULL, *tlen_path = NULL, *grads_path = NULL, *adapt_path = NULL;
  int npos, r, n, N, T, Tout, S = 0, has_ctc, *lengths = NULL, *out_len = NULL, *targets = NULL, *tlens = NULL;
  int64_t fs[ASR_MAX_DIMS], ls[ASR_MAX_DIMS], ys[ASR_MAX_DIMS], us[ASR_MAX_DIMS], shape[3], lshape[1];
  asr_real *feats = NULL, *lp = NULL, *enc = NULL, *losses = NULL;
  double *dl = NULL;
  asr_model m;
  asr_error err;
  void *work = NULL;
  size_t wb;
  at_outputs outs;
  const at_opt opts[] = {{"model", AT_STR, &model_path, 0, 0, NULL},
                         {"targets", AT_STR, &targets_path, 0, 0, NULL},
                         {"target-lengths", AT_STR, &tlen_path, 0, 0, NULL},
                         {"grads", AT_STR, &grads_path, 0, 0, NULL},
                         {"adapt-bn", AT_STR, &adapt_path, 0, 0, NULL}};
  r = at_parse(argc, argv, opts, 5, pos, 3, 3, &npos,
               "model --model MODEL.npz [--targets Y.npy --target-lengths UL.npy [--grads G.npz]] [--adapt-bn A.npz]\n"
               "      FEATS LENGTHS OUTDIR\n"
               "  a recipe model (from build/train) in evaluation mode on features (N, T, n_mels)\n"
               "  with lengths (N,): writes enc.npy (N, T', E), lengths.npy (N,), logprobs.npy\n"
               "  (N, T', vocab) for a CTC head or branch, and losses.npy (N,) given targets (N, S);\n"
               "  --grads: also one training step's gradient (training mode, the batch mean of the\n"
               "  loss) of every parameter, in G.npz under the checkpoint's keys; --adapt-bn: also the\n"
               "  model after AdaBN on the batch (BatchNorm running statistics: the batch's), in A.npz");
  if (r) return r == 1 ? 0 : r;
  if (!model_path) return at_fail("--model MODEL.npz is required");
  if (!targets_path != !tlen_path) return at_fail("--targets and --target-lengths go together");
  if (grads_path && !targets_path) return at_fail("--grads needs --targets and --target-lengths (the loss)");
  if (asr_model_load(&m, model_path, NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
  r = at_npy_real(pos[0], 3, fs, &feats, 0);
  if (!r) r = at_npy_int(pos[1], 1, ls, &lengths);
  if (!r && fs[2] != m.cfg.n_mels)
    r = at_fail("%s: %lld feature columns, the model takes %d", pos[0], (long long)fs[2], m.cfg.n_mels);
  if (!r && ls[0] != fs[0]) r = at_fail("%s: %lld lengths for %lld utterances", pos[1], (long long)ls[0], (long long)fs[0]);
  N = (int)fs[0];
  T = (int)fs[1];
  for (n = 0; !r && n < N; n++)
    if (lengths[n] < asr_model_min_frames(&m) || lengths[n] > T)
      r = at_fail("%s: lengths[%d] = %d is outside [%d, %d]", pos[1], n, lengths[n], asr_model_min_frames(&m), T);
  if (!r && targets_path) {
    r = at_npy_int(targets_path, 2, ys, &targets);
    if (!r) r = at_npy_int(tlen_path, 1, us, &tlens);
    if (!r && (ys[0] != N || us[0] != N))
      r = at_fail("%s: targets for %lld utterances, features for %d", targets_path, (long long)ys[0], N);
    S = r ? 0 : (int)ys[1];
    for (n = 0; !r && n < N; n++) {
      int s;
      if (tlens[n] < 0 || tlens[n] > S) r = at_fail("%s: target_lengths[%d] = %d is outside [0, %d]", tlen_path, n, tlens[n], S);
      for (s = 0; !r && s < tlens[n]; s++)
        if (targets[(size_t)n * S + s] < 1 || targets[(size_t)n * S + s] >= m.cfg.vocab)
          r = at_fail("%s: targets[%d][%d] = %d is not a token in [1, %d)", targets_path, n, s, targets[(size_t)n * S + s],
                      m.cfg.vocab);
    }
  }
  if (r) {
    free(feats), free(lengths), free(targets), free(tlens);
    asr_model_free(&m);
    return r;
  }
  Tout = asr_model_out_frames(&m, T);
  /* the CTC head, or the CTC branch of an attention head (ctc_weight > 0) */
  has_ctc = m.cfg.head == ASR_HEAD_CTC ||
            ((m.cfg.head == ASR_HEAD_TRANSFORMER || m.cfg.head == ASR_HEAD_LAS) && m.cfg.ctc_weight > 0);
  wb = asr_model_infer_workspace_size(&m, N, T);
  if (targets && asr_model_train_workspace_size(&m, N, T, S) > wb) wb = asr_model_train_workspace_size(&m, N, T, S);
  if (adapt_path && asr_model_train_workspace_size(&m, N, T, 0) > wb) wb = asr_model_train_workspace_size(&m, N, T, 0);
  work = malloc(wb ? wb : 1);
  enc = (asr_real *)malloc(sizeof *enc * ((size_t)N * Tout * asr_model_encoder_dim(&m) + 1));
  lp = (asr_real *)malloc(sizeof *lp * ((size_t)N * Tout * m.cfg.vocab + 1));
  out_len = (int *)malloc(sizeof *out_len * (size_t)(N + 1));
  dl = (double *)malloc(sizeof *dl * (size_t)(N + 1));
  losses = (asr_real *)malloc(sizeof *losses * (size_t)(N + 1));
  if (!work || !enc || !lp || !out_len || !dl || !losses) r = at_fail("out of memory");
  else if (asr_model_encode(&m, enc, out_len, feats, lengths, N, T, work, wb, &err) != ASR_OK)
    r = at_fail("%s", err.msg);
  else if (has_ctc && asr_model_logprobs(&m, lp, out_len, feats, lengths, N, T, work, wb, &err) != ASR_OK)
    r = at_fail("%s", err.msg);
  else if (targets && asr_model_loss(&m, dl, feats, lengths, targets, tlens, N, T, S, work, wb, &err) < 0)
    r = at_fail("%s", err.msg);
  if (!r && adapt_path) {   /* AdaBN, momentum 1: the batch's statistics (asr_model_save: atomic) */
    if (asr_model_adapt_bn(&m, feats, lengths, N, T, 1.0, work, wb, &err) != ASR_OK ||
             asr_model_save(&m, adapt_path, &err) != ASR_OK)
      r = at_fail("%s", err.msg);
  }
  if (!r && grads_path) {
    /* one train step from zero gradients; the gradients saved as a "checkpoint" whose
     * values are the gradients (asr_checkpoint_save: atomic, the same keys) */
    asr_params g = m.params;
    double loss;
    g.data = m.params.grad;
    asr_params_zero_grad(&m.params);
    if (asr_model_train_step(&m, &loss, feats, lengths, targets, tlens, N, T, S, work, wb, &err) != ASR_OK ||
        asr_checkpoint_save(grads_path, &g, NULL, NULL, &err) != ASR_OK)
      r = at_fail("%s", err.msg);
  }
  if (!r) {
    memset(&outs, 0, sizeof outs);
    shape[0] = N, shape[1] = Tout, shape[2] = asr_model_encoder_dim(&m);
    lshape[0] = N;
    at_out_add(&outs, "enc.npy", ASR_DTYPE_REAL, 3, shape, enc);
    at_out_add(&outs, "lengths.npy", ASR_DTYPE_I32, 1, lshape, out_len);
    shape[2] = m.cfg.vocab;
    if (has_ctc) at_out_add(&outs, "logprobs.npy", ASR_DTYPE_REAL, 3, shape, lp);
    if (targets) {
      for (n = 0; n < N; n++) losses[n] = (asr_real)dl[n];
      at_out_add(&outs, "losses.npy", ASR_DTYPE_REAL, 1, lshape, losses);
    }
    r = at_out_commit(&outs, pos[2]);
    if (r && grads_path) remove(grads_path);   /* all or nothing */
    if (r && adapt_path) remove(adapt_path);
  }
  free(feats), free(lengths), free(targets), free(tlens), free(work), free(enc), free(lp), free(out_len), free(dl);
  free(losses);
  asr_model_free(&m);
  return r;
}

/* ---- make bench: one training step of the ctc-conformer recipe (its default sizes,
 * 421k parameters): zero the gradients, forward, CTC loss, backward, clip the gradient
 * norm at 5, Adam. A fixed batch of N = 8 utterances of T = 300 frames (3 s) and
 * S = 30 labels, no padding, so that bench/torch_recipes.py runs the same batch through
 * the same model in PyTorch. */
typedef struct bench_train_ctx {
  asr_model m;
  asr_real *feats, *am, *av;
  int lengths[8], targets[8 * 30], tlens[8];
  void *work;
  size_t wb;
  asr_adam_opts adam;
  long step;
} bench_train_ctx;

static void bench_train_call(void *v) {
  bench_train_ctx *c = (bench_train_ctx *)v;
  asr_real *gp = c->m.params.grad;
  size_t gsize = c->m.params.total;
  double loss, gnorm;
  asr_params_zero_grad(&c->m.params);
  asr_model_train_step(&c->m, &loss, c->feats, c->lengths, c->targets, c->tlens, 8, 300, 30, c->work, c->wb, NULL);
  asr_clip_grad_norm(&gp, &gsize, 1, 5.0, 2.0, &gnorm);
  asr_adam_step(c->m.params.data, c->am, c->av, NULL, c->m.params.grad, c->m.params.total, &c->adam, ++c->step);
}

void bench_training(struct at_bench *b) {
  bench_train_ctx c;
  asr_model_config cfg;
  asr_rng rng;
  size_t k;
  int n, s;
  memset(&c, 0, sizeof c);
  asr_model_config_default(&cfg, "ctc-conformer");
  asr_rng_seed(&rng, 1, 0);
  if (asr_model_create(&c.m, &cfg, &rng, NULL, NULL) != ASR_OK) return;
  c.feats = (asr_real *)malloc(sizeof(asr_real) * 8 * 300 * 80);
  c.am = (asr_real *)calloc(c.m.params.total, sizeof(asr_real));
  c.av = (asr_real *)calloc(c.m.params.total, sizeof(asr_real));
  c.wb = asr_model_train_workspace_size(&c.m, 8, 300, 30);
  c.work = malloc(c.wb);
  if (c.feats && c.am && c.av && c.work) {
    for (k = 0; k < (size_t)8 * 300 * 80; k++) c.feats[k] = (asr_real)asr_rng_normal(&rng);
    for (n = 0; n < 8; n++) {
      c.lengths[n] = 300;
      c.tlens[n] = 30;
      for (s = 0; s < 30; s++) c.targets[n * 30 + s] = 3 + (n + 5 * s) % 26;
    }
    asr_adam_opts_init(&c.adam, 1e-3);
#ifdef ASR_SIMD_AVX2
    at_bench_report(b, "ctc-conformer train step N8 T300 S30", "simd", at_bench_time(bench_train_call, &c, 3.0));
#else
    if (!at_bench_skip(b, "ref"))
      at_bench_report(b, "ctc-conformer train step N8 T300 S30", "ref", at_bench_time(bench_train_call, &c, 3.0));
#endif
  }
  free(c.feats), free(c.am), free(c.av), free(c.work);
  asr_model_free(&c.m);
}

/* ---- asrtool average OUT.npz IN1.npz IN2.npz ...: checkpoint averaging (asr_model_average,
 * ESPnet's average_nbest_models). Every input is loaded and checked against the first
 * (config, tensor names and shapes) before OUT is written; OUT may be none of the inputs. */
#define AVG_MAX 64
int cmd_average(int argc, char **argv) {
  char *pos[AVG_MAX + 1];
  int npos, r, k, n, loaded = 0, status = 2;
  asr_model *ms = NULL;
  const asr_model **ptrs = NULL;
  asr_error err;
  r = at_parse(argc, argv, NULL, 0, pos, 2, AVG_MAX + 1, &npos,
               "average OUT.npz IN1.npz [IN2.npz ...]\n"
               "  checkpoint averaging (ESPnet's average_nbest_models): OUT holds the element-wise\n"
               "  mean of the inputs' parameters and BatchNorm running statistics, summed in double\n"
               "  (asr_model_average). The inputs are build/train checkpoints of one recipe with the\n"
               "  same sizes (up to 64); anything else exits 2 naming the file. OUT is none of them.");
  if (r) return r == 1 ? 0 : r;
  n = npos - 1;
  if (op_check("asrtool average", pos[0], (const char *const *)(pos + 1), n)) return 2;
  ms = (asr_model *)calloc((size_t)n, sizeof *ms);
  ptrs = (const asr_model **)calloc((size_t)n, sizeof *ptrs);
  if (!ms || !ptrs) {
    free(ms), free(ptrs);
    return at_fail("out of memory");
  }
  for (k = 0; k < n; k++, loaded++) {
    if (asr_model_load(&ms[k], pos[k + 1], NULL, &err) != ASR_OK) {
      at_fail("%s", err.msg);
      goto done;
    }
    ptrs[k] = &ms[k];
    if (k > 0) {
      const asr_model *pair[2];
      pair[0] = &ms[0], pair[1] = &ms[k];
      if (asr_model_average(NULL, pair, 2, &err) != ASR_OK) {   /* NULL: the checks only */
        at_fail("%s does not match %s: %s", pos[k + 1], pos[1], err.msg);
        loaded++;
        goto done;
      }
    }
  }
  /* the mean into the first model (each element is read from every model before it is
   * written), then written atomically */
  if (asr_model_average(&ms[0], ptrs, n, &err) != ASR_OK) {
    at_fail("%s", err.msg);
    goto done;
  }
  if (asr_model_save(&ms[0], pos[0], &err) != ASR_OK) {
    at_fail("%s", err.msg);
    goto done;
  }
  if (at_verbose) printf("%s: the mean of %d checkpoints (%lu parameters)\n", pos[0], n, (unsigned long)ms[0].params.total);
  status = 0;
done:
  for (k = 0; k < loaded && k < n; k++) asr_model_free(&ms[k]);
  free(ms), free(ptrs);
  return status;
}
