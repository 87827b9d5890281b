/* examples/asrtool/gradcheck.c - `asrtool gradcheck NAME [--seed S]`: the finite-difference
 * check of one component's backward pass, in double precision.
 *
 * The float build of asrtool hands the command to build/asrtool-f64 (the same program
 * built with ASR_REAL=double) when it sits beside it: central differences in float have
 * about 1e-3 relative error and could not tell a small bug from rounding. Without it,
 * the check runs in float with float tolerances and says so. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- core: softmax and log-softmax, objective sum_i w_i y_i(x) */
typedef struct gc_softmax {
  asr_real x[37], w[37], y[37];
  int n, log;
} gc_softmax;
static double gc_softmax_f(void *vctx) {
  gc_softmax *c = (gc_softmax *)vctx;
  double f = 0;
  int i;
  if (c->log) asr_log_softmax(c->y, c->x, c->n);
  else asr_softmax(c->y, c->x, c->n);
  for (i = 0; i < c->n; i++) f += (double)c->w[i] * c->y[i];
  return f;
}
static int gc_softmax_run(uint64_t seed, asr_gradcheck_report *rep, int log) {
  gc_softmax c;
  asr_real dx[37];
  asr_rng rng;
  asr_gradcheck_param p;
  int i;
  asr_rng_seed(&rng, seed, 1);
  c.n = 37;
  c.log = log;
  for (i = 0; i < c.n; i++) {
    c.x[i] = (asr_real)(4 * asr_rng_normal(&rng));
    c.w[i] = (asr_real)asr_rng_normal(&rng);
    dx[i] = 0;
  }
  gc_softmax_f(&c);
  if (log) asr_log_softmax_backward(dx, c.y, c.w, c.n);
  else asr_softmax_backward(dx, c.y, c.w, c.n);
  p.name = "x";
  p.x = c.x;
  p.grad = dx;
  p.n = (size_t)c.n;
  return asr_gradcheck(gc_softmax_f, &c, &p, 1, NULL, &rng, rep) == ASR_OK ? 0 : 2;
}
static int gc_softmax_plain(uint64_t seed, asr_gradcheck_report *rep) { return gc_softmax_run(seed, rep, 0); }
static int gc_log_softmax(uint64_t seed, asr_gradcheck_report *rep) { return gc_softmax_run(seed, rep, 1); }

/* Components define their run functions in their own asrtool_*.c files (declared in
 * asrtool.h) and add one row each below. */
static const at_gradcheck_entry ENTRIES[] = {
  {"softmax", "softmax over 37 logits", gc_softmax_plain, 1e-6},
  {"log_softmax", "log-softmax over 37 logits", gc_log_softmax, 1e-6},
  /* features */

  /* ctc */
  {"ctc", "CTC loss (mean) of a ragged batch w.r.t. the logits", gc_ctc_logits, 1e-6},
  {"ctc_logprobs", "CTC loss (mean) w.r.t. unnormalized log-probabilities", gc_ctc_logprobs, 1e-6},

  /* rnnt */
  {"rnnt", "RNN-T loss of a ragged batch (2x4x4x5 logits, random blank)", gc_rnnt_loss, 1e-6},
  {"joint", "RNN-T joint network W_out tanh(W_enc f + W_pred g + b) + b_out", gc_rnnt_joint, 1e-6},

  /* layers */
  {"linear", "nn.Linear, 6x5 -> 4: x, weight, bias", gc_layer_linear, 1e-6},
  {"layer_norm", "nn.LayerNorm(7) on 4 rows: x, weight, bias", gc_layer_layer_norm, 1e-6},
  {"batch_norm", "BatchNorm1d training mode, (3,2,5) with lengths: x, weight, bias", gc_layer_batch_norm, 1e-6},
  {"conv1d", "Conv1d 4->6, K 5, stride 2, pad 2, groups 2, lengths: x, weight, bias", gc_layer_conv1d, 1e-6},
  {"dwsep_conv1d", "depthwise K 5 stride 2 + pointwise 5->7, lengths: x and 4 weights", gc_layer_dwsep_conv1d, 1e-6},
  {"se", "ContextNet SE, C 8, R 3, lengths 7/6/5: x, fc1, fc2", gc_layer_se, 1e-6},
  {"contextnet_block", "3 layers 4->8, K 5, stride 2, training BN, lengths: x, all weights", gc_layer_contextnet_block, 1e-6},
  {"cross_entropy", "softmax cross-entropy, 5 rows x 7, smoothing 0.1, one ignored row", gc_layer_cross_entropy, 1e-6},
  {"glu_swish", "GLU over channels of (2,6,5), then swish", gc_layer_glu_swish, 1e-6},

  /* conformer, lstm, attention */
  {"lstm", "nn.LSTM (3,6,4) -> 3 with lengths 6,5,4: x, h0, c0, all weights", gc_lstm, 1e-6},
  {"lstm_reverse", "the reverse direction of a BLSTM, same sizes", gc_lstm_reverse, 1e-6},
  {"attention_dot", "dot-product attention, 3 items of 6 frames with lengths", gc_attention_dot, 1e-6},
  {"attention_add", "additive attention (ESPnet AttAdd keys), with lengths", gc_attention_add, 1e-6},
  {"attention_loc", "location-aware attention (ESPnet AttLoc keys), with lengths", gc_attention_loc, 1e-6},
  {"rel_pos_mhsa", "rel-pos MHSA (latest), D 12, 3 heads, lengths 7,6,5: x, pos_emb, 11 weights", gc_rel_pos_mhsa, 1e-6},
  {"rel_pos_mhsa_legacy", "the same with ESPnet's legacy relative positions", gc_rel_pos_mhsa_legacy, 1e-6},
  {"conv2d_subsampling", "Conv2dSubsampling (2,15,9) -> D 3, lengths 15,12: x and 6 weights", gc_conv2d_subsampling, 1e-6},
  {"conformer_ff", "the feed-forward module (swish), 6 rows, D 8, F 12: x, w_1, w_2", gc_conformer_ff, 1e-6},
  {"conformer_conv", "the conv module, batch statistics, (3,7,8), kernel 5, lengths 7,6,5", gc_conformer_conv, 1e-6},
  {"conformer_block", "EncoderLayer (latest), D 8, 2 heads, F 12, K 5, lengths 6,5,4: x, pos_emb, all 37 weights",
   gc_conformer_block, 1e-6},
  {"conformer_block_legacy", "the same with the legacy relative positions", gc_conformer_block_legacy, 1e-6},
  {"conformer_block_train", "the same (latest) with batch statistics in the conv module", gc_conformer_block_train, 1e-6},
  {"transformer_decoder", "ESPnet TransformerDecoder, 2 layers, V 7, D 8, 3 items: memory, all 57 tensors", gc_transformer_decoder, 1e-6},
  {"mha", "ESPnet MultiHeadedAttention, source attention Tq 5 Tk 7, D 12, 3 heads, key lengths", gc_mha, 1e-6},

  /* hybrid CTC/attention, MWER */
  {"mwer", "MWER loss (7 hypotheses, mle_weight 0.3) w.r.t. the log-probabilities", gc_mwer, 1e-6},
  {"nt", "Neural Transducer, W 3, items of 8,7,6 frames, 4,3,2 symbols: enc and all 17 tensors", gc_nt, 1e-6},

  /* quantizers */
  {"gumbel", "soft Gumbel-softmax, 5 rows of 11, fixed noise, tau 0.6", gc_vq_gumbel, 1e-6},
  {"gumbel_quantizer", "Gumbel quantizer module (soft) + 0.1 * diversity, all parameters", gc_vq_gumbel_quantizer, 1e-6},
  {"vq", "k-means VQ loss terms w.r.t. codebook and z (stop-gradients held), G = 2", gc_vq_kmeans, 1e-6},
  {"diversity", "wav2vec 2.0 diversity penalty (perplexity form), 6 x 2 x 5 logits", gc_vq_diversity, 1e-6},
  /* seq2seq */
  {"las_speller", "LAS speller, location attention, 2 layers, (4,7,5) -> U 6, V 7: h and all weights", gc_las_speller_loc, 1e-6},
  {"las_speller_add", "the same, additive attention, 1 layer, output layer over z only", gc_las_speller_add, 1e-6},
  {"las_speller_dot", "the same, dot attention (D = E = 5), 1 layer", gc_las_speller_dot, 1e-6},
  {"seqloss", "ESPnet's LabelSmoothingLoss, eps 0.1, normalize_length, 3x4x6, 2 padded", gc_seqloss, 1e-6},

};
#define N_ENTRIES (int)(sizeof ENTRIES / sizeof ENTRIES[0])

int cmd_gradcheck(int argc, char **argv) {
  char *pos[1];
  int npos, r, i, seed = 1;
  const at_opt opts[] = {{"seed", AT_INT, &seed, 0, 2147483647.0, NULL}};
  r = at_parse(argc, argv, opts, 1, pos, 1, 1, &npos,
               "gradcheck NAME [--seed S]\n"
               "  finite-difference check of NAME's backward in double precision; prints the\n"
               "  largest relative error and exits 1 above tolerance. NAME is one of:");
  if (r == 1) {
    for (i = 0; i < N_ENTRIES; i++) printf("    %-18s %s\n", ENTRIES[i].name, ENTRIES[i].what);
    return 0;
  }
  if (r) return r;
  for (i = 0; i < N_ENTRIES; i++)
    if (!strcmp(pos[0], ENTRIES[i].name)) break;
  if (i == N_ENTRIES) return at_fail("unknown component '%s' (asrtool gradcheck --help lists them)", pos[0]);
#if !ASR_REAL_DOUBLE
  {
    /* hand over to the double build beside us, if there is one */
    char path[4096];
    const char *slash = strrchr(at_argv0, '/');
    size_t dir = slash ? (size_t)(slash - at_argv0 + 1) : 0;
    if (dir + 16 < sizeof path) {
      char *args[8];
      char seedbuf[32];
      memcpy(path, at_argv0, dir);
      strcpy(path + dir, "asrtool-f64");
      if (access(path, X_OK) == 0) {
        snprintf(seedbuf, sizeof seedbuf, "--seed=%d", seed);
        args[0] = path;
        args[1] = (char *)"gradcheck";
        args[2] = pos[0];
        args[3] = seedbuf;
        args[4] = at_verbose ? (char *)"--verbose" : NULL;
        args[5] = NULL;
        execv(path, args);
      }
    }
  }
#endif
  {
    asr_gradcheck_report rep;
    double tol = ASR_REAL_DOUBLE ? ENTRIES[i].tol_double : 5e-2;
    r = ENTRIES[i].run((uint64_t)seed, &rep);
    if (r) return at_fail("%s: the component refused its random instance", pos[0]);
    printf("%s: max relative error %.3g (%s[%ld]: numeric %.10g, analytic %.10g) over %d checks, "
           "tolerance %.1g, %s%s\n",
           ENTRIES[i].name, rep.max_rel_err, rep.worst_param ? rep.worst_param : "-", rep.worst_index,
           rep.worst_numeric, rep.worst_analytic, rep.checks, tol, ASR_REAL_DOUBLE ? "double" : "float",
           rep.max_rel_err <= tol ? "" : "  FAILED");
    return rep.max_rel_err <= tol ? 0 : 1;
  }
}
