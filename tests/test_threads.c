/* tests/test_threads.c - ASR_THREADS (-fopenmp -DASR_THREADS, build/test_threads): every
 * function that `asrtool bench --threads 2` times (examples/asrtool/bench.c: the rows
 * beside torch at 2 threads) gives the same bits on 2 and 3 threads as on 1.
 *
 * What runs on threads: asr_gemm's SIMD kernel (products of at least 262144 multiply-adds
 * split their blocks of C over the threads, each element still one thread's fixed
 * sequence of operations: core/gemm_threads_bits), the batch norms and depthwise
 * convolutions channel by channel (ASR__PAR_FOR: each channel's sums, over the items in
 * order, made by one thread), swish in chunks (its kernels work lane by lane), and the
 * ContextNet block's conv layers in one parallel region (items, channels, and dW_pw's
 * columns in per-thread ranges). These tests check that nothing (a reduction over the batch,
 * scratch shared between items, ...) depends on the number of threads: with lengths where
 * the layer takes them, each layer runs forward and backward from one fixed
 * state of all its buffers (inputs, weights, gradients accumulated into, running
 * statistics, saved activations) on 1 thread, then again from the same state on 2 and 3
 * threads, and every byte of those buffers must match the 1-thread run. The sizes make the
 * layers' products large enough to be split (each says which). Built without
 * ASR_THREADS, or without a SIMD GEMM (the products then run _ref on one thread), the
 * tests compare one thread with itself or skip. */
#if defined(ASR_THREADS) && defined(_OPENMP)
#include <omp.h>

/* Every buffer of one test, carved from one allocation so that its whole state can be
 * saved, restored and compared at once. Offsets are multiples of 64 bytes. */
typedef struct thr_arena {
  unsigned char *buf;
  size_t cap, used;
  asr_rng rng;
} thr_arena;
static void thr_arena_init(thr_arena *a, size_t cap, uint64_t seed) {
  a->buf = TALLOC(unsigned char, cap);
  a->cap = cap;
  a->used = 0;
  asr_rng_seed(&a->rng, seed, 0);
}
/* n zeroed bytes of the arena (exits like TALLOC when the test asked for too few) */
static void *thr_bytes(thr_arena *a, size_t n) {
  void *p = a->buf + a->used;
  n = (n + 63) / 64 * 64;
  if (n > a->cap - a->used) {
    fprintf(stderr, "test: thr_arena of %zu bytes is too small\n", a->cap);
    exit(3);
  }
  a->used += n;
  return p;
}
/* n reals uniform in [lo, hi) */
static asr_real *thr_real(thr_arena *a, size_t n, double lo, double hi) {
  asr_real *p = (asr_real *)thr_bytes(a, n * sizeof(asr_real));
  fill_uniform(&a->rng, p, n, lo, hi);
  return p;
}

/* Runs run(ctx) from the arena's present state on 1 thread, then from the same state on 2
 * and 3 threads; every byte of the arena must equal the 1-thread run's. *work (wb bytes of
 * scratch, outside the arena) is allocated here; both are freed at the end. Restores the
 * number of threads the other tests run with. */
static void thr_same_bits(tctx *t, const char *what, asr_result (*run)(void *ctx), void *ctx, thr_arena *a,
                          void **work, size_t wb) {
  unsigned char *init = TALLOC(unsigned char, a->used), *one = TALLOC(unsigned char, a->used);
  int nt, bad_nt = 0, prev = omp_get_max_threads();
  size_t at = 0;
  asr_result r1, r = ASR_OK;
  *work = TALLOC(unsigned char, wb);
  memcpy(init, a->buf, a->used);
  omp_set_num_threads(1);
  r1 = run(ctx);
  memcpy(one, a->buf, a->used);
  for (nt = 2; nt <= 3 && r1 == ASR_OK && r == ASR_OK && !bad_nt; nt++) {
    memcpy(a->buf, init, a->used);
    omp_set_num_threads(nt);
    r = run(ctx);
    for (at = 0; at < a->used; at++)
      if (a->buf[at] != one[at]) {
        bad_nt = nt;
        break;
      }
  }
  omp_set_num_threads(prev);
  free(init), free(one), free(*work), free(a->buf);
  CHECKF(r1 == ASR_OK && r == ASR_OK, "%s returned %s", what, asr_result_string(r1 != ASR_OK ? r1 : r));
  CHECKF(!bad_nt, "%s: on %d threads byte %zu of %zu (the buffers in the order the test takes them) "
         "differs from 1 thread", what, bad_nt, at, a->used);
}

/* ---- depthwise-separable conv: N 3, C 96, T 48, K 5; the pointwise product of an item
 * is 96 x 96 x 48 = 442368 multiply-adds */
typedef struct thr_dws {
  asr_conv1d_dims d;
  int lengths[3];
  asr_real *x, *y, *h, *dy, *dx, *dw, *pw, *dwb, *pwb, *gdw, *gpw, *gdwb, *gpwb;
  void *work;
  size_t wb;
} thr_dws;
static asr_result thr_dws_run(void *v) {
  thr_dws *c = (thr_dws *)v;
  asr_result r = asr_dwsep_conv1d_forward(c->y, c->h, c->x, c->dw, c->dwb, c->pw, c->pwb, c->lengths, &c->d,
                                          c->work, c->wb);
  if (r != ASR_OK) return r;
  return asr_dwsep_conv1d_backward(c->dx, c->gdw, c->gdwb, c->gpw, c->gpwb, c->dy, c->h, c->x, c->dw, c->pw,
                                   c->lengths, &c->d, c->work, c->wb);
}
static void t_threads_dwsep(tctx *t) {
  enum { N = 3, C = 96, T = 48, K = 5 };
  thr_arena a;
  thr_dws c;
  size_t n = (size_t)N * C * T;
  thr_arena_init(&a, 1u << 22, 61);
  asr_conv1d_dims_init(&c.d, N, C, C, T, K);
  c.d.padding = 2, c.d.groups = C;
  c.lengths[0] = T, c.lengths[1] = 30, c.lengths[2] = 17;
  c.x = thr_real(&a, n, -1, 1), c.dy = thr_real(&a, n, -1, 1);
  c.y = thr_real(&a, n, 0, 0), c.h = thr_real(&a, n, 0, 0), c.dx = thr_real(&a, n, -1, 1);
  c.dw = thr_real(&a, C * K, -0.5, 0.5), c.dwb = thr_real(&a, C, -0.5, 0.5);
  c.pw = thr_real(&a, C * C, -0.2, 0.2), c.pwb = thr_real(&a, C, -0.5, 0.5);
  c.gdw = thr_real(&a, C * K, -1, 1), c.gdwb = thr_real(&a, C, -1, 1);   /* accumulated into */
  c.gpw = thr_real(&a, C * C, -1, 1), c.gpwb = thr_real(&a, C, -1, 1);
  c.wb = asr_dwsep_conv1d_workspace_size(&c.d);
  thr_same_bits(t, "asr_dwsep_conv1d_forward + backward", thr_dws_run, &c, &a, &c.work, c.wb);
}

/* ---- ContextNet block, training (batch statistics, running ones updated): N 2, C 96,
 * T 48; its pointwise products 96 x 96 x 48 per item, 442368 multiply-adds. Then N 3,
 * C_in 40 -> C_out 72, T 37, stride 2 (the last layer's strided depthwise kernel), lengths
 * 37, 20, 9: three items over 2 and 3 threads, and dW_pw's columns (40, 72) split unevenly
 * between the threads (asr__thread_cols) */
typedef struct thr_cn {
  asr_contextnet_block_config cfg;
  asr_contextnet_block_params p;
  asr_contextnet_block_grads g;
  asr_real *x, *y, *dy, *dx;
  void *saved, *work;
  size_t sb, wb;
  int lengths[3];
} thr_cn;
static asr_result thr_cn_run(void *v) {
  thr_cn *c = (thr_cn *)v;
  asr_result r = asr_contextnet_block_forward(c->y, c->saved, c->sb, c->x, &c->p, c->lengths, &c->cfg, c->work,
                                              c->wb);
  if (r != ASR_OK) return r;
  return asr_contextnet_block_backward(c->dx, &c->g, c->dy, c->saved, c->sb, c->x, &c->p, c->lengths, &c->cfg,
                                       c->work, c->wb);
}
/* batch norm weights near 1, running variances in [0.5, 1.5), and their gradients */
static void thr_bn(thr_arena *a, asr_bn_params *bn, asr_bn_grads *g, int C) {
  bn->weight = thr_real(a, C, 0.7, 1.3), bn->bias = thr_real(a, C, -0.5, 0.5);
  bn->running_mean = thr_real(a, C, -0.2, 0.2), bn->running_var = thr_real(a, C, 0.5, 1.5);
  g->weight = thr_real(a, C, -1, 1), g->bias = thr_real(a, C, -1, 1);
}
static void thr_cn_bits(tctx *t, int N, int C_in, int C, int T, int stride, const int *lengths) {
  thr_arena a;
  thr_cn c;
  int i, K, R, Tm;
  memset(&c, 0, sizeof c);
  thr_arena_init(&a, 1u << 23, 62);
  asr_contextnet_block_config_init(&c.cfg, N, C_in, C, T);
  c.cfg.training = 1;
  c.cfg.stride = stride;
  memcpy(c.lengths, lengths, sizeof(int) * (size_t)N);
  K = c.cfg.kernel, R = c.cfg.se_channels, Tm = asr_contextnet_block_out_frames(&c.cfg);
  for (i = 0; i < c.cfg.num_layers; i++) {
    asr_contextnet_layer_params *l = &c.p.layer[i];
    asr_contextnet_layer_grads *gl = &c.g.layer[i];
    int Ci = i == 0 ? C_in : C;
    l->dw_w = thr_real(&a, (size_t)Ci * K, -0.5, 0.5), gl->dw_w = thr_real(&a, (size_t)Ci * K, -1, 1);
    l->dw_b = thr_real(&a, Ci, -0.5, 0.5), gl->dw_b = thr_real(&a, Ci, -1, 1);
    l->pw_w = thr_real(&a, (size_t)C * Ci, -0.2, 0.2), gl->pw_w = thr_real(&a, (size_t)C * Ci, -1, 1);
    l->pw_b = thr_real(&a, C, -0.5, 0.5), gl->pw_b = thr_real(&a, C, -1, 1);
    thr_bn(&a, &l->bn, &gl->bn, C);
  }
  c.p.se_w1 = thr_real(&a, (size_t)R * C, -0.2, 0.2), c.g.se_w1 = thr_real(&a, (size_t)R * C, -1, 1);
  c.p.se_b1 = thr_real(&a, R, -0.5, 0.5), c.g.se_b1 = thr_real(&a, R, -1, 1);
  c.p.se_w2 = thr_real(&a, (size_t)C * R, -0.3, 0.3), c.g.se_w2 = thr_real(&a, (size_t)C * R, -1, 1);
  c.p.se_b2 = thr_real(&a, C, -0.5, 0.5), c.g.se_b2 = thr_real(&a, C, -1, 1);
  c.p.res_w = thr_real(&a, (size_t)C * C_in, -0.2, 0.2), c.g.res_w = thr_real(&a, (size_t)C * C_in, -1, 1);
  c.p.res_b = thr_real(&a, C, -0.5, 0.5), c.g.res_b = thr_real(&a, C, -1, 1);
  thr_bn(&a, &c.p.res_bn, &c.g.res_bn, C);
  c.x = thr_real(&a, (size_t)N * C_in * T, -1, 1), c.dy = thr_real(&a, (size_t)N * C * Tm, -1, 1);
  c.y = thr_real(&a, (size_t)N * C * Tm, 0, 0), c.dx = thr_real(&a, (size_t)N * C_in * T, -1, 1);
  c.sb = asr_contextnet_block_saved_size(&c.cfg);
  c.saved = thr_bytes(&a, c.sb);
  c.wb = asr_contextnet_block_workspace_size(&c.cfg);
  thr_same_bits(t, "asr_contextnet_block_forward + backward", thr_cn_run, &c, &a, &c.work, c.wb);
}
static void t_threads_contextnet_block(tctx *t) {
  static const int len2[2] = {48, 29}, len3[3] = {37, 20, 9};
  thr_cn_bits(t, 2, 96, 96, 48, 1, len2);
  thr_cn_bits(t, 3, 40, 72, 37, 2, len3);
}

/* ---- Conformer block (training) and its rel-pos self-attention alone: D 64, H 4, F 256,
 * K 15, N 2, T 48; the projections 96 x 64 x 64 = 393216 multiply-adds, the feed-forward
 * products 96 x 256 x 64 */
typedef struct thr_cf {
  asr_conformer_config cfg;
  asr_conformer_block_params p;
  asr_conformer_block_grads g;
  asr_conformer_block_saved s;
  asr_real *x, *y, *dy, *dx, *pe, *dpe;
  int N, T, lengths[2];
  void *work;
  size_t wb;
} thr_cf;
static asr_result thr_block_run(void *v) {
  thr_cf *c = (thr_cf *)v;
  asr_result r = asr_conformer_block_forward(c->y, &c->s, c->x, c->pe, c->lengths, &c->p, &c->cfg, c->N, c->T,
                                             c->work, c->wb);
  if (r != ASR_OK) return r;
  return asr_conformer_block_backward(c->dx, c->dpe, &c->g, c->dy, &c->s, c->x, c->pe, c->lengths, &c->p, &c->cfg,
                                      c->N, c->T, c->work, c->wb);
}
static asr_result thr_mhsa_run(void *v) {
  thr_cf *c = (thr_cf *)v;
  int D = c->cfg.d_model, H = c->cfg.heads;
  asr_result r = asr_rel_mhsa_forward(c->y, &c->s.mhsa, c->x, c->pe, c->lengths, &c->p.mhsa, c->N, c->T, D, H,
                                      c->cfg.rel_pos, c->work, c->wb);
  if (r != ASR_OK) return r;
  return asr_rel_mhsa_backward(c->dx, c->dpe, &c->g.mhsa, c->dy, &c->s.mhsa, c->x, c->pe, c->lengths, &c->p.mhsa,
                               c->N, c->T, D, H, c->cfg.rel_pos, c->work, c->wb);
}
static void thr_cf_bits(tctx *t, int whole_block) {
  enum { N = 2, T = 48, D = 64 };
  thr_arena a;
  thr_cf c;
  asr_real *w, *gw;
  size_t n = (size_t)N * T * D, nw, sb, wf, wbk;
  void *sbuf;
  int ok;
  memset(&c, 0, sizeof c);
  thr_arena_init(&a, 1u << 23, 63);
  asr_conformer_config_init(&c.cfg, D, 4, 256, 15);
  c.cfg.training = 1;
  c.N = N, c.T = T, c.lengths[0] = T, c.lengths[1] = 29;
  nw = (size_t)4 * 256 * D + (size_t)8 * D * D + (size_t)15 * D + (size_t)64 * D;   /* >= the block's weights */
  w = thr_real(&a, nw, 0, 0);
  ok = blk_params_layout(&c.p, w, &c.cfg, &a.rng) <= nw;
  gw = thr_real(&a, nw, -1, 1);                           /* gradients, accumulated into */
  blk_grads_at(&c.p, w, gw, &c.g);
  c.x = thr_real(&a, n, -1, 1), c.dy = thr_real(&a, n, -1, 1);
  c.y = thr_real(&a, n, 0, 0), c.dx = thr_real(&a, n, -1, 1);
  c.pe = thr_real(&a, (size_t)(2 * T - 1) * D, 0, 0), c.dpe = thr_real(&a, (size_t)(2 * T - 1) * D, -1, 1);
  asr_rel_pos_encoding(c.pe, T, D, c.cfg.rel_pos, 5000);
  sb = asr_conformer_block_saved_size(&c.cfg, N, T);
  sbuf = thr_bytes(&a, sb);
  ok = ok && asr_conformer_block_saved_init(&c.s, sbuf, sb, &c.cfg, N, T) == ASR_OK;
  if (!ok) free(a.buf);
  CHECKF(ok, "the weights take more than %zu reals, or asr_conformer_block_saved_init failed", nw);
  wf = asr_conformer_block_forward_workspace_size(&c.cfg, N, T);
  wbk = asr_conformer_block_backward_workspace_size(&c.cfg, N, T);
  c.wb = wf > wbk ? wf : wbk;
  if (whole_block)
    thr_same_bits(t, "asr_conformer_block_forward + backward", thr_block_run, &c, &a, &c.work, c.wb);
  else
    thr_same_bits(t, "asr_rel_mhsa_forward + backward", thr_mhsa_run, &c, &a, &c.work, c.wb);
}
static void t_threads_conformer_block(tctx *t) { thr_cf_bits(t, 1); }
static void t_threads_rel_mhsa(tctx *t) { thr_cf_bits(t, 0); }

/* ---- LSTM: N 4, T 20, I 40, H 160; the recurrent product of a step 4 x 640 x 160 =
 * 409600 multiply-adds, the input projection 80 x 640 x 40 */
typedef struct thr_lstm {
  asr_lstm_params p;
  asr_lstm_grads g;
  asr_real *x, *y, *gates, *cell, *dy, *dx;
  int N, T, I, H;
  void *work;
  size_t wb;
} thr_lstm;
static asr_result thr_lstm_run(void *v) {
  thr_lstm *c = (thr_lstm *)v;
  asr_result r = asr_lstm_forward(c->y, c->H, NULL, NULL, c->gates, c->cell, c->x, NULL, NULL, &c->p, c->N, c->T,
                                  c->I, c->H, NULL, 0, c->work, c->wb);
  if (r != ASR_OK) return r;
  return asr_lstm_backward(c->dx, NULL, NULL, &c->g, c->dy, c->H, NULL, NULL, c->y, c->H, c->gates, c->cell, c->x,
                           NULL, NULL, &c->p, c->N, c->T, c->I, c->H, NULL, 0, c->work, c->wb);
}
static void t_threads_lstm(tctx *t) {
  thr_arena a;
  thr_lstm c;
  size_t G, nx, ny, wf, wbk;
  c.N = 4, c.T = 20, c.I = 40, c.H = 160;
  G = (size_t)4 * c.H, nx = (size_t)c.N * c.T * c.I, ny = (size_t)c.N * c.T * c.H;
  thr_arena_init(&a, 1u << 23, 64);
  c.p.w_ih = thr_real(&a, G * c.I, -0.1, 0.1), c.g.w_ih = thr_real(&a, G * c.I, -1, 1);
  c.p.w_hh = thr_real(&a, G * c.H, -0.1, 0.1), c.g.w_hh = thr_real(&a, G * c.H, -1, 1);
  c.p.b_ih = thr_real(&a, G, -0.1, 0.1), c.g.b_ih = thr_real(&a, G, -1, 1);
  c.p.b_hh = thr_real(&a, G, -0.1, 0.1), c.g.b_hh = thr_real(&a, G, -1, 1);
  c.x = thr_real(&a, nx, -1, 1), c.dx = thr_real(&a, nx, -1, 1), c.dy = thr_real(&a, ny, -1, 1);
  c.y = thr_real(&a, ny, 0, 0), c.cell = thr_real(&a, ny, 0, 0), c.gates = thr_real(&a, ny * 4, 0, 0);
  wf = asr_lstm_forward_workspace_size(c.N, c.T, c.I, c.H);
  wbk = asr_lstm_backward_workspace_size(c.N, c.T, c.I, c.H);
  c.wb = wf > wbk ? wf : wbk;
  thr_same_bits(t, "asr_lstm_forward + backward", thr_lstm_run, &c, &a, &c.work, c.wb);
}

/* ---- k-means VQ: N 200, D 256, G 2, K 64; the distance product of a block of 192 rows
 * 192 x 64 x 128 = 1572864 multiply-adds, its row pass 192 x 64 values. (The forward re-measures every near-best codeword
 * in double, so even a GEMM whose bits changed with the threads would not reach index,
 * zq or the loss: a GEMM made thread-dependent on purpose failed every test of this file
 * but this one. It checks the rest: the backward's accumulation over the items.) */
typedef struct thr_vq {
  int N, D, G, K;
  int *idx;
  asr_vq_loss *loss;
  asr_real *z, *cb, *zq, *dzq, *dz, *dcb;
  void *work;
  size_t wb;
} thr_vq;
static asr_result thr_vq_run(void *v) {
  thr_vq *c = (thr_vq *)v;
  asr_result r = asr_vq_forward(c->idx, c->zq, c->loss, c->z, c->cb, c->N, c->D, c->G, c->K, 0, 0.25, c->work,
                                c->wb);
  if (r != ASR_OK) return r;
  return asr_vq_backward(c->dz, c->dcb, c->dzq, 1.0, c->idx, c->z, c->cb, c->N, c->D, c->G, c->K, 0, 0.25);
}
static void t_threads_kmeans_vq(tctx *t) {
  thr_arena a;
  thr_vq c;
  size_t nz, nc;
  c.N = 200, c.D = 256, c.G = 2, c.K = 64;
  nz = (size_t)c.N * c.D, nc = (size_t)c.G * c.K * (c.D / c.G);
  thr_arena_init(&a, 1u << 22, 65);
  c.z = thr_real(&a, nz, -1, 1), c.cb = thr_real(&a, nc, -1, 1), c.dzq = thr_real(&a, nz, -1, 1);
  c.zq = thr_real(&a, nz, 0, 0), c.dz = thr_real(&a, nz, -1, 1), c.dcb = thr_real(&a, nc, -1, 1);
  c.idx = (int *)thr_bytes(&a, sizeof(int) * (size_t)c.N * c.G);
  c.loss = (asr_vq_loss *)thr_bytes(&a, sizeof(asr_vq_loss));
  c.wb = asr_vq_workspace_size(c.K);
  thr_same_bits(t, "asr_vq_forward + backward", thr_vq_run, &c, &a, &c.work, c.wb);
}

/* ---- the ctc-conformer recipe's training step as `asrtool bench` times it (its default
 * sizes, D 64): zero the gradients, forward, CTC loss, backward, clip at norm 5, Adam.
 * N 2, T 64 frames (16 after the 4x subsampling); the encoder's projections 32 x 64 x
 * 64 = 131072 multiply-adds. The model is created afresh from one seed for each run (its
 * dropout draws from the model's own generator); compared: the loss, the gradient norm,
 * the gradients and the parameters after the step. */
typedef struct thr_step {
  double loss, gnorm;
  asr_real *params, *grads;   /* NULL when a call failed */
  size_t total;
} thr_step;
static void thr_train_step(int threads, thr_step *out) {
  enum { N = 2, T = 64, S = 5 };
  asr_model_config cfg;
  asr_model m;
  asr_rng rng;
  asr_adam_opts adam;
  asr_real *feats, *am, *av, *gp;
  int lengths[N] = {64, 50}, targets[N * S], tlens[N] = {5, 4}, i;
  size_t wb, gsize, nf;
  void *work;
  memset(out, 0, sizeof *out);
  asr_model_config_default(&cfg, "ctc-conformer");
  asr_rng_seed(&rng, 66, 0);
  if (asr_model_create(&m, &cfg, &rng, NULL, NULL) != ASR_OK) return;
  nf = (size_t)N * T * cfg.n_mels;
  feats = TALLOC(asr_real, nf);
  fill_uniform(&rng, feats, nf, -1, 1);
  for (i = 0; i < N * S; i++) targets[i] = 3 + (7 * i) % 26;
  out->total = m.params.total;
  am = TALLOC(asr_real, out->total), av = TALLOC(asr_real, out->total);
  wb = asr_model_train_workspace_size(&m, N, T, S);
  work = TALLOC(unsigned char, wb);
  asr_adam_opts_init(&adam, 1e-3);
  omp_set_num_threads(threads);
  asr_params_zero_grad(&m.params);
  gp = m.params.grad, gsize = m.params.total;
  if (asr_model_train_step(&m, &out->loss, feats, lengths, targets, tlens, N, T, S, work, wb, NULL) == ASR_OK &&
      asr_clip_grad_norm(&gp, &gsize, 1, 5.0, 2.0, &out->gnorm) == ASR_OK &&
      asr_adam_step(m.params.data, am, av, NULL, m.params.grad, m.params.total, &adam, 1) == ASR_OK) {
    out->params = TALLOC(asr_real, out->total), out->grads = TALLOC(asr_real, out->total);
    memcpy(out->params, m.params.data, sizeof(asr_real) * out->total);
    memcpy(out->grads, m.params.grad, sizeof(asr_real) * out->total);
  }
  free(feats), free(am), free(av), free(work);
  asr_model_free(&m);
}
static void t_threads_train_step(tctx *t) {
  thr_step s[3];
  int nt, prev = omp_get_max_threads(), ok = 1, bad = 0;
  for (nt = 1; nt <= 3; nt++) thr_train_step(nt, &s[nt - 1]);
  omp_set_num_threads(prev);
  for (nt = 1; nt <= 3; nt++) ok &= s[nt - 1].params != NULL;
  for (nt = 2; nt <= 3 && ok && !bad; nt++) {
    const thr_step *a = &s[0], *b = &s[nt - 1];
    if (memcmp(&a->loss, &b->loss, sizeof a->loss) || memcmp(&a->gnorm, &b->gnorm, sizeof a->gnorm) ||
        memcmp(a->params, b->params, sizeof(asr_real) * a->total) ||
        memcmp(a->grads, b->grads, sizeof(asr_real) * a->total))
      bad = nt;
  }
  for (nt = 0; nt < 3; nt++) free(s[nt].params), free(s[nt].grads);
  CHECKF(ok, "the model, the training step, the clipping or Adam failed");
  CHECKF(!bad, "ctc-conformer step: %d threads give another loss, gradient norm, gradients or parameters than 1 "
         "(loss %.17g, 1 thread %.17g)", bad, bad ? s[bad - 1].loss : 0.0, s[0].loss);
}
#else
#define THR_SKIP(name) \
  static void name(tctx *t) { SKIP("built without -DASR_THREADS -fopenmp"); }
THR_SKIP(t_threads_dwsep)
THR_SKIP(t_threads_contextnet_block)
THR_SKIP(t_threads_conformer_block)
THR_SKIP(t_threads_rel_mhsa)
THR_SKIP(t_threads_lstm)
THR_SKIP(t_threads_kmeans_vq)
THR_SKIP(t_threads_train_step)
#undef THR_SKIP
#endif

static const test_case TESTS_threads[] = {
  {"threads/dwsep_conv1d_bits", t_threads_dwsep},
  {"threads/contextnet_block_bits", t_threads_contextnet_block},
  {"threads/conformer_block_bits", t_threads_conformer_block},
  {"threads/rel_mhsa_bits", t_threads_rel_mhsa},
  {"threads/lstm_bits", t_threads_lstm},
  {"threads/kmeans_vq_bits", t_threads_kmeans_vq},
  {"threads/ctc_conformer_train_step_bits", t_threads_train_step},
  {0, 0}
};
