/* examples/asrtool/tdec.c - asr.h section 7.2, ESPnet's Transformer decoder, on .npy files:
 * the `asrtool layer transformer_decoder` NAME (registered in LAYERS of asrtool/layer.c),
 * its `asrtool gradcheck` entries and its `asrtool bench` cases.
 *
 *   asrtool layer transformer_decoder --weights DIR --targets YS_IN.npy --heads H
 *       [--layers L] [--lengths MEM_LENS.npy] [--target-lengths YS_LENS.npy]
 *       [--grad-output G.npy] [--step] [--ln-eps 1e-12] MEMORY.npy OUTDIR
 *
 * The weights are espnet2's TransformerDecoder state_dict keys (embed.0.weight,
 * decoders.{l}.self_attn.linear_q.weight, ..., after_norm.*, output_layer.*). Writes
 * y.npy, the logits (N, U, V) before the softmax (what ESPnet's forward returns); with
 * G (N, U, V) grad_memory.npy and grad_<key>.npy of sum(G * y); with --step also
 * step_logp.npy, the log-probabilities of the cached one-step decoder fed the targets
 * token by token (rows past a target length are 0).
 *
 * Exit status: 0 success, 2 bad input (one line naming the file, key or argument;
 * nothing written). */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <stdlib.h>
#include <string.h>

static at_opt td_opt(const char *name, at_opt_type type, void *dst, double lo, double hi) {
  at_opt o;
  o.name = name, o.type = type, o.dst = dst, o.lo = lo, o.hi = hi, o.choices = NULL;
  return o;
}

/* A negative asr_result of a library call as the layer's one error line. */
static int td_check(at_layer_ctx *L, asr_result r, const char *what) {
  if (r >= 0) return 0;
  return at_layer_fail(L, "%s: %s", what, asr_result_string(r));
}

/* The number of layers in DIR: decoders.{l}.norm1.weight for l = 0, 1, ... Each one found
 * is loaded (shape (D)) and remembered in pre[] so that it is not loaded twice. */
typedef struct td_preloaded {
  char key[64];
  const asr_real *w;
} td_preloaded;
static int td_count_layers(at_layer_ctx *L, int D, td_preloaded *pre, int *npre) {
  int l, d1[1];
  for (l = 0; l < ASR_TDEC_MAX_LAYERS; l++) {
    td_preloaded *q = &pre[*npre];
    snprintf(q->key, sizeof q->key, "decoders.%d.norm1.weight", l);
    d1[0] = D;
    q->w = at_layer_weight_opt(L, q->key, 1, d1, "d_model");
    if (!q->w) break;
    (*npre)++;
  }
  return l;
}

/* Feeds ys_in token by token to the cached step, items batched while their targets
 * run: logp (N,U,V), rows past ys_lens[n] left 0. */
static int td_step_all(at_layer_ctx *L, asr_real *logp, const int *ys_in, const int *ys_lens,
                       const int *mem_lens, const asr_tdec_params *p, const asr_tdec_config *cfg,
                       int N, int U, int T) {
  const int V = cfg->vocab;
  size_t srcb = asr_tdec_source_size(cfg, N, T), stb = asr_tdec_state_size(cfg, U);
  size_t swb = asr_tdec_step_workspace_size(cfg, N, T, U);
  void *srcbuf = at_layer_alloc(L, srcb), *sw = at_layer_alloc(L, swb);
  asr_real *states = (asr_real *)at_layer_alloc(L, stb * (size_t)N), *lp = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)N * V);
  asr_real **sts = (asr_real **)at_layer_alloc(L, sizeof(asr_real *) * (size_t)N);
  int *pos = (int *)at_layer_alloc(L, sizeof(int) * 3 * (size_t)N), *tok = pos + N, *item = tok + N;
  asr_tdec_source src;
  int t, n, B, k;
  if (at_layer_failed(L)) return 2;
  if (td_check(L, asr_tdec_source_init(&src, srcbuf, srcb, L->x, mem_lens, p, cfg, N, T), "step: source")) return 2;
  for (t = 0; t < U; t++) {
    for (B = 0, n = 0; n < N; n++)
      if (t < (ys_lens ? ys_lens[n] : U)) {
        sts[B] = states + (size_t)n * (stb / sizeof(asr_real));
        pos[B] = t, tok[B] = ys_in[(size_t)n * U + t], item[B] = n;
        B++;
      }
    if (B == 0) break;
    if (td_check(L, asr_tdec_step(lp, sts, pos, tok, item, &src, p, cfg, B, U, sw, swb), "step")) return 2;
    for (k = 0; k < B; k++)
      memcpy(logp + ((size_t)item[k] * U + t) * V, lp + (size_t)k * V, sizeof(asr_real) * (size_t)V);
  }
  return 0;
}

int layer_transformer_decoder(at_layer_ctx *L) {
  const char *targets = NULL, *target_lengths = NULL;
  int heads = 0, layers = 0, step = 0, N, T, D, U, V, F, r, i, d, tdims[2], ldims[1], ed[2], fd[2];
  double ln_eps = 1e-12;
  at_opt opts[6];
  const int *mem_lens;
  int *ys_in, *ys_lens = NULL;
  td_preloaded pre[2 + ASR_TDEC_MAX_LAYERS];
  asr_real *y;
  int npre = 0;
  asr_tdec_config cfg;
  asr_tdec_params p;
  asr_tdec_grads g;
  asr_tdec_saved s;
  asr_params st;
  asr_error err;
  void *sbuf, *work;
  size_t sb, wb;
  opts[0] = td_opt("targets", AT_STR, &targets, 0, 0);
  opts[1] = td_opt("target-lengths", AT_STR, &target_lengths, 0, 0);
  opts[2] = td_opt("heads", AT_INT, &heads, 1, 1 << 16);
  opts[3] = td_opt("layers", AT_INT, &layers, 1, ASR_TDEC_MAX_LAYERS);
  opts[4] = td_opt("step", AT_FLAG, &step, 0, 0);
  opts[5] = td_opt("ln-eps", AT_REAL, &ln_eps, 0, 0.5);
  r = at_layer_parse(L, opts, 6,
                     "--targets YS_IN.npy --heads H [--layers L] [--target-lengths YS_LENS.npy] [--step] "
                     "[--ln-eps 1e-12]",
                     "MEMORY (N, T, d_model), the encoder output; --lengths: its lengths (N,) in [1, T]\n"
                     "  --targets: token ids (N, U) fed to the decoder (teacher forcing: <sos> then the\n"
                     "    transcript, padded with any valid id, ESPnet pads with <eos>);\n"
                     "  --target-lengths: (N,) in [1, U] (default U): self-attention sees keys j <= i, j < length\n"
                     "  --heads: attention_heads (the weights do not tell it); --layers: num_blocks (default:\n"
                     "    as many decoders.{l} as DIR holds, at most 7 here)\n"
                     "  y.npy: logits (N, U, V) before the softmax; with G: grad_memory.npy and grad_<key>.npy;\n"
                     "  --step: also step_logp.npy (N, U, V), the cached one-step decoder fed the targets\n"
                     "    token by token (log-probabilities; rows past a target length 0).\n"
                     "  Rows past a target length are computed as ESPnet computes them (they see the valid\n"
                     "    keys); the rows before it never see them.\n"
                     "  weights: espnet2 TransformerDecoder keys: embed.0.weight (V, d_model),\n"
                     "    decoders.{l}.self_attn|src_attn.linear_q|k|v|out.weight|bias,\n"
                     "    decoders.{l}.feed_forward.w_1|w_2.weight|bias, decoders.{l}.norm1|2|3.weight|bias,\n"
                     "    after_norm.weight|bias, output_layer.weight|bias (docs/seq2seq.md, The Transformer\n"
                     "    decoder)");
  if (r) return r;
  if (L->x_ndim != 3)
    return at_layer_fail(L, "%s: MEMORY must be (N, T, d_model), got %d dimensions", L->x_path, L->x_ndim);
  N = L->x_dims[0], T = L->x_dims[1], D = L->x_dims[2];
  if (N < 1 || T < 1) return at_layer_fail(L, "%s: MEMORY has shape (%d, %d, %d): no item or no frame", L->x_path, N, T, D);
  if (D < 2 || D % 2) return at_layer_fail(L, "%s: d_model = %d must be even (the sinusoidal encoding)", L->x_path, D);
  if (!targets) return at_layer_fail(L, "--targets YS_IN.npy is required (token ids (N, U))");
  if (!heads) return at_layer_fail(L, "--heads H is required (ESPnet's attention_heads)");
  if (D % heads) return at_layer_fail(L, "--heads %d does not divide d_model = %d (dimension 2 of MEMORY)", heads, D);
  tdims[0] = N, tdims[1] = -1;
  ys_in = at_layer_input_int(L, targets, 2, tdims, "N,U");
  if (!ys_in) return 2;
  U = tdims[1];
  if (U < 1) return at_layer_fail(L, "%s: an empty target (U = 0): ys_in holds at least <sos>", targets);
  if (target_lengths) {
    ldims[0] = N;
    ys_lens = at_layer_input_int(L, target_lengths, 1, ldims, "N");
    if (!ys_lens) return 2;
  }
  mem_lens = at_layer_lengths(L, N, T, 1);
  /* the sizes from the weights: V from the embedding, F from the first w_1, L from DIR */
  ed[0] = -1, ed[1] = D;
  snprintf(pre[0].key, sizeof pre[0].key, "embed.0.weight");
  if (!(pre[0].w = at_layer_weight(L, pre[0].key, 2, ed, "vocab,d_model"))) return 2;
  V = ed[0];
  fd[0] = -1, fd[1] = D;
  snprintf(pre[1].key, sizeof pre[1].key, "decoders.0.feed_forward.w_1.weight");
  if (!(pre[1].w = at_layer_weight(L, pre[1].key, 2, fd, "linear_units,d_model"))) return 2;
  F = fd[0];
  npre = 2;
  i = td_count_layers(L, D, pre, &npre);
  if (at_layer_failed(L)) return 2;
  if (layers && layers != i)
    return at_layer_fail(L, "--layers %d, but the weights hold %d decoder layers (decoders.0 .. decoders.%d)", layers,
                         i, i - 1);
  if (i > 7)
    return at_layer_fail(L, "%d decoder layers: asrtool layer reads at most 192 weight files, 7 layers' worth", i);
  layers = i;
  asr_tdec_config_init(&cfg, V, D, heads, F, layers);
  cfg.ln_eps = ln_eps;
  if (asr_tdec_check_args(&cfg, ys_in, ys_lens, mem_lens, N, U, T, &err) < 0) {
    const char *what = strstr(err.msg, "ys_in") ? targets : strstr(err.msg, "ys_lens") ? target_lengths : NULL;
    return what ? at_layer_fail(L, "%s: %s", what, err.msg) : at_layer_fail(L, "%s", err.msg);
  }
  /* every key, with its shape, from the library's own list; loaded into one store */
  asr_params_init(&st, NULL);
  if (td_check(L, asr_tdec_params_declare(&st, "", &cfg), "parameters") || td_check(L, asr_params_alloc(&st), "parameters")) {
    asr_params_free(&st);
    return 2;
  }
  for (i = 0; i < st.count && !at_layer_failed(L); i++) {
    const asr_param *it = &st.items[i];
    int dims[2];
    const asr_real *w;
    int k;
    for (d = 0; d < it->ndim; d++) dims[d] = (int)it->shape[d];
    for (w = NULL, k = 0; k < npre && !w; k++)     /* loaded above to learn the sizes */
      if (!strcmp(pre[k].key, it->name)) w = pre[k].w;
    if (!w) w = at_layer_weight(L, it->name, it->ndim, dims, it->ndim == 2 ? "out,in" : "size");
    if (w) memcpy(st.data + it->offset, w, sizeof(asr_real) * it->count);
  }
  if (at_layer_failed(L) || td_check(L, asr_tdec_params_bind(&p, &g, &st, "", &cfg), "parameters")) {
    asr_params_free(&st);
    return 2;
  }
  if (L->impl == AT_IMPL_NAIVE && (N > 8 || U > 16 || T > 32 || D > 64 || F > 256 || V > 64 || layers > 4)) {
    asr_params_free(&st);
    return at_layer_fail(L, "--impl naive: N %d, U %d, T %d, d_model %d, linear_units %d, vocab %d, %d layers: "
                         "the naive tier takes at most 8, 16, 32, 64, 256, 64, 4", N, U, T, D, F, V, layers);
  }
  sb = asr_tdec_saved_size(&cfg, N, U, T);
  wb = L->has_grad ? asr_tdec_backward_workspace_size(&cfg, N, U, T) : 0;
  {
    int yd[3];
    yd[0] = N, yd[1] = U, yd[2] = V;
    y = at_layer_output(L, "y", 3, yd);
  }
  sbuf = at_layer_alloc(L, sb);
  work = at_layer_alloc(L, wb);
  if (at_layer_failed(L) || td_check(L, asr_tdec_saved_init(&s, sbuf, sb, &cfg, N, U, T), "saved buffers")) {
    asr_params_free(&st);
    return 2;
  }
  r = td_check(L, (L->impl == AT_IMPL_NAIVE ? asr_tdec_forward_naive
                   : L->impl == AT_IMPL_REF ? asr_tdec_forward_ref : asr_tdec_forward)(
                      y, &s, ys_in, ys_lens, L->x, mem_lens, &p, &cfg, N, U, T, NULL, 0), "forward");
  if (!r && step) {
    int yd[3];
    asr_real *lp;
    yd[0] = N, yd[1] = U, yd[2] = V;
    lp = at_layer_output(L, "step_logp", 3, yd);
    r = lp ? td_step_all(L, lp, ys_in, ys_lens, mem_lens, &p, &cfg, N, U, T) : 2;
  }
  if (!r && L->has_grad) {
    int yd[3], md[3];
    const asr_real *G;
    asr_real *dmem;
    yd[0] = N, yd[1] = U, yd[2] = V;
    md[0] = N, md[1] = T, md[2] = D;
    G = at_layer_grad_output(L, 3, yd);
    dmem = at_layer_output(L, "grad_memory", 3, md);
    if (!G || !dmem) r = 2;
    if (!r) {
      memset(st.grad, 0, sizeof(asr_real) * st.total);
      r = td_check(L, (L->impl == AT_IMPL_NAIVE ? asr_tdec_backward_naive
                       : L->impl == AT_IMPL_REF ? asr_tdec_backward_ref : asr_tdec_backward)(
                          dmem, &g, G, &s, ys_in, ys_lens, L->x, mem_lens, &p, &cfg, N, U, T, work, wb), "backward");
    }
    for (i = 0; i < st.count && !r; i++) {
      asr_real *gk = at_layer_grad(L, st.items[i].name);
      if (!gk) r = 2;
      else memcpy(gk, st.grad + st.items[i].offset, sizeof(asr_real) * st.items[i].count);
    }
  }
  asr_params_free(&st);
  return r ? r : (at_layer_failed(L) ? 2 : 0);
}

/* ======================================================================================
 * asrtool gradcheck entries (the finite-difference harnesses live in asr.h 10.7.2)
 * ====================================================================================== */
int gc_transformer_decoder(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_tdec(asr_tdec_forward, asr_tdec_backward, 2, 3, 5, 6, seed, rep) < 0 ? 2 : 0;
}
int gc_mha(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_mha(asr_mha_forward, asr_mha_backward, 0, 0, 3, 5, 7, 12, 3, seed, rep) < 0 ? 2 : 0;
}

/* ======================================================================================
 * asrtool bench: the decoder forward + backward at ESPnet's sizes (d_model 256, 4 heads,
 * linear_units 2048, 6 blocks), a 500-token vocabulary, targets of 50 tokens over 200
 * memory frames, batch 8; and greedy decoding of 25 tokens of one utterance with the
 * cache (against ESPnet's forward_one_step, which caches layer outputs). The PyTorch
 * twin is bench/torch_tdec.py.
 * ====================================================================================== */
typedef struct bench_td {
  int impl;                      /* 1 ref, 2 simd */
  int N, U, T;
  asr_tdec_config cfg;
  asr_params st;
  asr_tdec_params p;
  asr_tdec_grads g;
  asr_tdec_saved s;
  asr_tdec_source src;
  int *ys_in, *toks, *ntok;
  asr_real *memory, *logits, *dlogits, *dmem;
  void *sbuf, *work, *srcbuf, *gw;
  size_t wbytes, srcbytes, gwbytes;
} bench_td;

static void bench_td_call(void *v) {
  bench_td *c = (bench_td *)v;
  memset(c->st.grad, 0, sizeof(asr_real) * c->st.total);
  memset(c->dmem, 0, sizeof(asr_real) * (size_t)c->N * c->T * c->cfg.d_model);
  (c->impl == 2 ? asr_tdec_forward : asr_tdec_forward_ref)(c->logits, &c->s, c->ys_in, NULL, c->memory, NULL, &c->p,
                                                           &c->cfg, c->N, c->U, c->T, NULL, 0);
  (c->impl == 2 ? asr_tdec_backward : asr_tdec_backward_ref)(c->dmem, &c->g, c->dlogits, &c->s, c->ys_in, NULL,
                                                             c->memory, NULL, &c->p, &c->cfg, c->N, c->U, c->T,
                                                             c->work, c->wbytes);
}

/* Greedy decoding of item 0 alone (one utterance, as a beam search decodes), with an eos
 * no token can win (its output bias is -1e4), so that it runs all 25 steps. */
static void bench_td_greedy(void *v) {
  bench_td *c = (bench_td *)v;
  asr_tdec_source_init(&c->src, c->srcbuf, c->srcbytes, c->memory, NULL, &c->p, &c->cfg, 1, c->T);
  asr_tdec_greedy(c->toks, c->ntok, &c->src, &c->p, &c->cfg, c->cfg.vocab - 1, c->cfg.vocab - 1, 25, c->gw,
                  c->gwbytes);
}

void bench_tdec(at_bench *b) {
  static const char *impls[3] = {"naive", "ref", "simd"};
  bench_td c;
  asr_rng rng;
  size_t sb, i, ntd, nl;
  int k;
  memset(&c, 0, sizeof c);
  c.N = 8, c.U = 50, c.T = 200;
  asr_tdec_config_init(&c.cfg, 500, 256, 4, 2048, 6);
  asr_params_init(&c.st, NULL);
  if (asr_tdec_params_declare(&c.st, "", &c.cfg) != ASR_OK || asr_params_alloc(&c.st) != ASR_OK) goto done;
  asr_rng_seed(&rng, 4, 0);
  asr_tdec_params_init(&c.st, "", &c.cfg, &rng);
  asr_tdec_params_bind(&c.p, &c.g, &c.st, "", &c.cfg);
  ntd = (size_t)c.N * c.T * c.cfg.d_model;
  nl = (size_t)c.N * c.U * c.cfg.vocab;
  sb = asr_tdec_saved_size(&c.cfg, c.N, c.U, c.T);
  c.wbytes = asr_tdec_backward_workspace_size(&c.cfg, c.N, c.U, c.T);
  c.srcbytes = asr_tdec_source_size(&c.cfg, c.N, c.T);
  c.gwbytes = asr_tdec_greedy_workspace_size(&c.cfg, c.N, c.T, c.U);
  c.ys_in = (int *)malloc(sizeof(int) * (size_t)c.N * c.U);
  c.toks = (int *)malloc(sizeof(int) * (size_t)c.N * c.U);
  c.ntok = (int *)malloc(sizeof(int) * (size_t)c.N);
  c.memory = (asr_real *)malloc(sizeof(asr_real) * ntd);
  c.dmem = (asr_real *)malloc(sizeof(asr_real) * ntd);
  c.logits = (asr_real *)malloc(sizeof(asr_real) * nl);
  c.dlogits = (asr_real *)malloc(sizeof(asr_real) * nl);
  c.sbuf = malloc(sb), c.work = malloc(c.wbytes), c.srcbuf = malloc(c.srcbytes), c.gw = malloc(c.gwbytes);
  if (!c.ys_in || !c.toks || !c.ntok || !c.memory || !c.dmem || !c.logits || !c.dlogits || !c.sbuf || !c.work ||
      !c.srcbuf || !c.gw)
    goto done;
  for (i = 0; i < (size_t)c.N * c.U; i++) c.ys_in[i] = asr_rng_int(&rng, c.cfg.vocab);
  for (i = 0; i < ntd; i++) c.memory[i] = (asr_real)asr_rng_normal(&rng);
  for (i = 0; i < nl; i++) c.dlogits[i] = (asr_real)(asr_rng_normal(&rng) / (double)(c.N * c.U));
  asr_tdec_saved_init(&c.s, c.sbuf, sb, &c.cfg, c.N, c.U, c.T);
  for (k = 1; k < 3; k++) {
    c.impl = k;
    at_bench_report(b, "transformer_decoder D256 H4 F2048 L6 V500 U50 T200 N8 fwd+bwd", impls[k],
                    at_bench_time(bench_td_call, &c, 1.0));
  }
  ((asr_real *)c.p.out_b)[c.cfg.vocab - 1] = (asr_real)-1e4;
  at_bench_report(b, "transformer_decoder greedy 25 tokens (cached step) D256 L6 T200 N1", impls[2],
                  at_bench_time(bench_td_greedy, &c, 1.0));
done:
  asr_params_free(&c.st);
  free(c.ys_in), free(c.toks), free(c.ntok), free(c.memory), free(c.dmem), free(c.logits), free(c.dlogits);
  free(c.sbuf), free(c.work), free(c.srcbuf), free(c.gw);
}
