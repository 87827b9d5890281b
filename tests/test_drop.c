/* tests/test_drop.c - training-mode regularization of the encoder blocks: stochastic depth
 * [Huang16] and dropout (asr_block_drop, asr_{contextnet,conformer}_block_*_train,
 * asr_model_set_regularization).
 *
 * Gradients: finite differences of f = sum(G * y), G random, through the _train functions
 * with FIXED masks (asr_block_drop.rng = NULL: the flags drawn once by the test, then
 * read by every forward and by the backward): the ContextNet block through
 * asr_gradcheck_contextnet_block (its fourth-order differences, GC_TOL of test_layers.c),
 * the Conformer block through central differences over x and every weight below
 * (DROP_FD_TOL). The PyTorch side (the same masks in torch modules built from the same
 * weights) is tests/torch/test_drop.py. */

/* Central differences in the double build are good to ~1e-9 relative here (h = 1e-5,
 * O(1) third derivatives); 1e-6 leaves room for rounding only. Float: h = 1e-2 and sums
 * of float terms, ~1e-2 relative: those runs only catch gross errors. */
#if ASR_REAL_DOUBLE
#define DROP_FD_H 1e-5
#define DROP_FD_TOL 1e-6
#else
#define DROP_FD_H 1e-2
#define DROP_FD_TOL 5e-2
#endif

/* Random keep flags at rate p (the test's own draws). */
static void drop_flags(unsigned char *m, size_t n, double p, asr_rng *rng) {
  size_t i;
  for (i = 0; i < n; i++) m[i] = (unsigned char)(asr_rng_uniform(rng) >= p);
}

/* ---- ContextNet: asr_gradcheck_contextnet_block over the _train functions with the
 * block drop in g_cn_drop (fixed masks). */
static const asr_block_drop *g_cn_drop;
static asr_result cn_fwd_drop(asr_real *y, void *saved, size_t sb, const asr_real *x, const asr_contextnet_block_params *p,
                              const int *lengths, const asr_contextnet_block_config *cfg, void *work, size_t wb) {
  return asr_contextnet_block_forward_train(y, saved, sb, x, p, lengths, cfg, g_cn_drop, work, wb);
}
static asr_result cn_bwd_drop(asr_real *dx, const asr_contextnet_block_grads *g, const asr_real *dy, const void *saved,
                              size_t sb, const asr_real *x, const asr_contextnet_block_params *p, const int *lengths,
                              const asr_contextnet_block_config *cfg, void *work, size_t wb) {
  return asr_contextnet_block_backward_train(dx, g, dy, saved, sb, x, p, lengths, cfg, g_cn_drop, work, wb);
}

/* Kept blocks (coeff 1.25, dropout 0.3 with fixed flags) and dropped ones (skip: only
 * P and the swish), stride 1 and 2, evaluation and training batch norm, with lengths. */
static void t_drop_contextnet_gradcheck(tctx *t) {
  int k;
  double worst = 0;
  for (k = 0; k < 4; k++) {
    asr_contextnet_block_config cfg;
    asr_gradcheck_report rep;
    asr_block_drop d;
    asr_rng rng;
    asr_result r;
    unsigned char *mask;
    asr_contextnet_block_config_init(&cfg, 3, 4, 8, 9);
    cfg.num_layers = 2 + (k % 2);
    cfg.kernel = 3;
    cfg.stride = k >= 2 ? 2 : 1;
    cfg.training = k & 1;
    cfg.se_channels = 3;
    mask = TALLOC(unsigned char, asr_contextnet_block_drop_mask_size(&cfg));
    asr_rng_seed(&rng, 60 + (uint64_t)k, 0);
    drop_flags(mask, asr_contextnet_block_drop_mask_size(&cfg), 0.3, &rng);
    d.skip = k == 3, d.coeff = 1.25, d.p = 0.3, d.rng = NULL, d.mask = mask;
    g_cn_drop = &d;
    r = asr_gradcheck_contextnet_block(cn_fwd_drop, cn_bwd_drop, &cfg, 1, 70 + (uint64_t)k, &rep);
    free(mask);
    CHECK_OK(r);
    CHECKF(rep.max_rel_err <= GC_TOL, "case %d: %s[%ld]: numeric %.10g analytic %.10g rel %.3g", k, rep.worst_param,
           rep.worst_index, rep.worst_numeric, rep.worst_analytic, rep.max_rel_err);
    worst = fmax(worst, rep.max_rel_err);
  }
  snprintf(t->msg, sizeof t->msg, "4 instances, worst rel. err %.2g", worst);
}

/* One ContextNet block (N 3, 4 -> 8 channels, T 9, 2 layers, training BN) run by a
 * forward function of cfg into y, and its backward's dx and gradients. */
typedef struct cn_run {
  asr_contextnet_block_config cfg;
  cn_fixture f;
  asr_real x[3 * 4 * 9], dy[3 * 8 * 9], y[3 * 8 * 9], dx[3 * 4 * 9];
  int len[3];
  void *saved, *work;
  size_t sb, wb;
} cn_run;
static void cn_run_init(cn_run *c, uint64_t seed) {
  asr_rng rng;
  memset(c, 0, sizeof *c);
  asr_contextnet_block_config_init(&c->cfg, 3, 4, 8, 9);
  c->cfg.num_layers = 2, c->cfg.kernel = 3, c->cfg.se_channels = 3, c->cfg.training = 1;
  c->len[0] = 9, c->len[1] = 7, c->len[2] = 4;
  asr_rng_seed(&rng, seed, 0);
  cn_make(&c->f, &rng, &c->cfg);
  fill_uniform(&rng, c->x, sizeof c->x / sizeof c->x[0], -2, 2);
  fill_uniform(&rng, c->dy, sizeof c->dy / sizeof c->dy[0], -1, 1);
  c->sb = asr_contextnet_block_saved_size(&c->cfg), c->wb = asr_contextnet_block_workspace_size(&c->cfg);
  c->saved = talloc_(c->sb), c->work = talloc_(c->wb);
}
static void cn_run_free(cn_run *c) {
  cn_free(&c->f);
  free(c->saved), free(c->work);
}
/* forward (d NULL: the unsuffixed evaluation-path function) and backward into gradient set k */
static asr_result cn_run_pass(cn_run *c, const asr_block_drop *d, int k) {
  asr_result r;
  memset(c->dx, 0, sizeof c->dx);
  r = d ? asr_contextnet_block_forward_train(c->y, c->saved, c->sb, c->x, &c->f.p, c->len, &c->cfg, d, c->work, c->wb)
        : asr_contextnet_block_forward(c->y, c->saved, c->sb, c->x, &c->f.p, c->len, &c->cfg, c->work, c->wb);
  if (r) return r;
  return d ? asr_contextnet_block_backward_train(c->dx, &c->f.g[k], c->dy, c->saved, c->sb, c->x, &c->f.p, c->len,
                                                 &c->cfg, d, c->work, c->wb)
           : asr_contextnet_block_backward(c->dx, &c->f.g[k], c->dy, c->saved, c->sb, c->x, &c->f.p, c->len, &c->cfg,
                                           c->work, c->wb);
}

/* Rate 0 and coeff 1 (and d = NULL) is the unsuffixed function bit for bit: output, dx,
 * every gradient; and the BN running statistics move the same. */
static void t_drop_contextnet_rate0(tctx *t) {
  cn_run a, b;
  asr_block_drop d = {0, 1, 0, NULL, NULL};
  cn_run_init(&a, 80), cn_run_init(&b, 80);
  CHECK_OK(cn_run_pass(&a, NULL, 0));
  CHECK_OK(cn_run_pass(&b, &d, 0));
  CHECK(memcmp(a.y, b.y, sizeof a.y) == 0 && memcmp(a.dx, b.dx, sizeof a.dx) == 0);
  CHECK(cn_grads_err(&a.f.g[0], &b.f.g[0], &a.cfg) == 0);
  CHECK(memcmp(a.f.p.layer[1].bn.running_var, b.f.p.layer[1].bn.running_var, 8 * sizeof(asr_real)) == 0);
  cn_run_free(&a), cn_run_free(&b);
}

/* A dropped block is swish(P(x)): the main branch's weights do not reach the output
 * (new random ones give the same bits) and get no gradient; its BN running statistics
 * stay; a block without residual refuses to be dropped. */
static void t_drop_contextnet_skip(tctx *t) {
  cn_run a;
  asr_block_drop d = {1, 2, 0, NULL, NULL};
  asr_real y0[3 * 8 * 9], dx0[3 * 4 * 9], rv[8];
  asr_rng rng;
  int i;
  cn_run_init(&a, 81);
  memcpy(rv, a.f.p.layer[0].bn.running_mean, sizeof rv);
  CHECK_OK(cn_run_pass(&a, &d, 0));
  CHECK(memcmp(rv, a.f.p.layer[0].bn.running_mean, sizeof rv) == 0);
  for (i = 0; i < 8 * 4; i++) CHECK(a.f.g[0].layer[0].pw_w[i] == 0);
  for (i = 0; i < 8 * 3; i++) CHECK(a.f.g[0].se_w2[i] == 0);
  memcpy(y0, a.y, sizeof y0), memcpy(dx0, a.dx, sizeof dx0);
  asr_rng_seed(&rng, 82, 0);
  fill_uniform(&rng, (asr_real *)a.f.p.layer[0].pw_w, 8 * 4, -3, 3);
  fill_uniform(&rng, (asr_real *)a.f.p.se_w1, 3 * 8, -3, 3);
  CHECK_OK(cn_run_pass(&a, &d, 1));
  CHECK(memcmp(y0, a.y, sizeof y0) == 0 && memcmp(dx0, a.dx, sizeof dx0) == 0);
  a.cfg.residual = 0;
  CHECK(cn_run_pass(&a, &d, 1) == ASR_ERR_INVALID_ARG);
  d.skip = 0;   /* coeff 2 on a block without residual: refused too */
  CHECK(cn_run_pass(&a, &d, 1) == ASR_ERR_INVALID_ARG);
  cn_run_free(&a);
}

/* Drawn masks: deterministic under a seed, keep rate near 1 - p, the flags a second
 * forward with rng NULL reads give the same output; bad rates are refused. */
static void t_drop_contextnet_draws(tctx *t) {
  cn_run a;
  asr_rng r1, r2;
  size_t n, i, kept = 0;
  unsigned char *m1, *m2;
  asr_real y1[3 * 8 * 9];
  asr_block_drop d;
  cn_run_init(&a, 83);
  a.cfg.training = 0;   /* evaluation BN: the second forward is the same function of x */
  n = asr_contextnet_block_drop_mask_size(&a.cfg);
  CHECK(n == 3 * 8 * 9 * 2);
  m1 = TALLOC(unsigned char, n), m2 = TALLOC(unsigned char, n);
  asr_rng_seed(&r1, 5, 1), asr_rng_seed(&r2, 5, 1);
  d.skip = 0, d.coeff = 1, d.p = 0.25, d.rng = &r1, d.mask = m1;
  CHECK_OK(cn_run_pass(&a, &d, 0));
  memcpy(y1, a.y, sizeof y1);
  d.rng = &r2, d.mask = m2;
  CHECK_OK(cn_run_pass(&a, &d, 0));
  CHECK(memcmp(m1, m2, n) == 0 && memcmp(y1, a.y, sizeof y1) == 0);
  for (i = 0; i < n; i++) kept += m1[i];
  CHECKF(fabs((double)kept / n - 0.75) < 0.1, "kept %lu of %lu", (unsigned long)kept, (unsigned long)n);
  d.rng = NULL;   /* the saved flags again */
  CHECK_OK(cn_run_pass(&a, &d, 0));
  CHECK(memcmp(y1, a.y, sizeof y1) == 0);
  d.p = 1;
  CHECK(cn_run_pass(&a, &d, 0) == ASR_ERR_INVALID_ARG);
  d.p = 0.1, d.coeff = 0.5;
  CHECK(cn_run_pass(&a, &d, 0) == ASR_ERR_INVALID_ARG);
  d.coeff = 1, d.mask = NULL;
  CHECK(cn_run_pass(&a, &d, 0) == ASR_ERR_INVALID_ARG);
  free(m1), free(m2);
  cn_run_free(&a);
}

#ifndef ASR_ASSIGNMENT_RELPOS
/* ---- Conformer: the blk_fixture of test_conformer.c (D 8, 2 heads, F 12, K 5), N 2,
 * T 5, lengths 5 and 3, latest relative positions, training batch norm. */
enum { DB_N = 2, DB_T = 5, DB_D = 8 };
typedef struct cf_run {
  blk_fixture f;
  asr_conformer_block_saved s;
  asr_conformer_block_grads g;
  asr_real x[DB_N * DB_T * DB_D], dy[DB_N * DB_T * DB_D], y[DB_N * DB_T * DB_D], dx[DB_N * DB_T * DB_D];
  asr_real pe[(2 * DB_T - 1) * DB_D], *gw;
  int len[DB_N];
  size_t used, sb, wb;
  void *sbuf, *work;
} cf_run;
static void cf_run_init(cf_run *c, uint64_t seed) {
  asr_rng rng;
  size_t wbk;
  memset(c, 0, sizeof *c);
  asr_rng_seed(&rng, seed, 0);
  asr_conformer_config_init(&c->f.cfg, DB_D, 2, 12, 5);
  c->used = blk_params_layout(&c->f.p, c->f.w, &c->f.cfg, &rng);
  c->f.cfg.training = 1;
  c->gw = TALLOC(asr_real, 4096);
  blk_grads_init(&c->f, c->gw, &c->g);
  c->len[0] = DB_T, c->len[1] = 3;
  fill_uniform(&rng, c->x, DB_N * DB_T * DB_D, -2, 2);
  fill_uniform(&rng, c->dy, DB_N * DB_T * DB_D, -1, 1);
  asr_rel_pos_encoding(c->pe, DB_T, DB_D, ASR_REL_POS_LATEST, 5000);
  c->sb = asr_conformer_block_saved_size(&c->f.cfg, DB_N, DB_T);
  c->wb = asr_conformer_block_forward_workspace_size(&c->f.cfg, DB_N, DB_T);
  wbk = asr_conformer_block_backward_workspace_size(&c->f.cfg, DB_N, DB_T);
  if (wbk > c->wb) c->wb = wbk;
  c->sbuf = talloc_(c->sb), c->work = talloc_(c->wb);
  asr_conformer_block_saved_init(&c->s, c->sbuf, c->sb, &c->f.cfg, DB_N, DB_T);
}
static void cf_run_free(cf_run *c) { free(c->gw), free(c->sbuf), free(c->work); }
static asr_result cf_fwd(cf_run *c, const asr_block_drop *d) {
  return d ? asr_conformer_block_forward_train(c->y, &c->s, c->x, c->pe, c->len, &c->f.p, &c->f.cfg, DB_N, DB_T, d,
                                               c->work, c->wb)
           : asr_conformer_block_forward(c->y, &c->s, c->x, c->pe, c->len, &c->f.p, &c->f.cfg, DB_N, DB_T, c->work,
                                         c->wb);
}
static asr_result cf_pass(cf_run *c, const asr_block_drop *d) {
  asr_result r = cf_fwd(c, d);
  if (r) return r;
  memset(c->dx, 0, sizeof c->dx), memset(c->gw, 0, 4096 * sizeof(asr_real));
  return d ? asr_conformer_block_backward_train(c->dx, NULL, &c->g, c->dy, &c->s, c->x, c->pe, c->len, &c->f.p,
                                                &c->f.cfg, DB_N, DB_T, d, c->work, c->wb)
           : asr_conformer_block_backward(c->dx, NULL, &c->g, c->dy, &c->s, c->x, c->pe, c->len, &c->f.p, &c->f.cfg,
                                          DB_N, DB_T, c->work, c->wb);
}
/* f = sum(dy * y) at the current x and weights */
static double cf_objective(cf_run *c, const asr_block_drop *d) {
  double f = 0;
  int i;
  if (cf_fwd(c, d) != ASR_OK) return NAN;
  for (i = 0; i < DB_N * DB_T * DB_D; i++) f += (double)c->dy[i] * c->y[i];
  return f;
}
/* central difference of f in *v against the analytic a; the worst relative error so far */
static double cf_fd(cf_run *c, const asr_block_drop *d, asr_real *v, double a, double worst) {
  asr_real keep = *v;
  double fp, fm, num, e;
  *v = (asr_real)(keep + DROP_FD_H);
  fp = cf_objective(c, d);
  *v = (asr_real)(keep - DROP_FD_H);
  fm = cf_objective(c, d);
  *v = keep;
  num = (fp - fm) / (2 * DROP_FD_H);
  e = fabs(num - a) / fmax(1, fmax(fabs(num), fabs(a)));
  return e > worst ? e : worst;
}

/* Finite differences over x and every weight (the running statistics excepted: the
 * forward only writes them) of a kept block (coeff 1.25, dropout 0.25 at all six points,
 * fixed flags) and a dropped one (y = x). */
static void t_drop_conformer_gradcheck(tctx *t) {
  int k;
  double worst_all = 0;
  for (k = 0; k < 2; k++) {
    cf_run c;
    asr_block_drop d;
    asr_rng rng;
    size_t n, i, bm, bv;
    double worst = 0;
    asr_real *ga;
    cf_run_init(&c, 90 + (uint64_t)k);
    n = asr_conformer_block_drop_mask_size(&c.f.cfg, DB_N, DB_T);
    CHECK(n == (size_t)DB_N * DB_T * (4 * DB_D + 2 * 12));
    d.mask = TALLOC(unsigned char, n);
    asr_rng_seed(&rng, 95 + (uint64_t)k, 0);
    drop_flags(d.mask, n, 0.25, &rng);
    d.skip = k, d.coeff = 1.25, d.p = 0.25, d.rng = NULL;
    CHECK_OK(cf_pass(&c, &d));
    ga = TALLOC(asr_real, 4096);
    memcpy(ga, c.gw, 4096 * sizeof(asr_real));
    {
      asr_real dxa[DB_N * DB_T * DB_D];
      memcpy(dxa, c.dx, sizeof dxa);
      for (i = 0; i < DB_N * DB_T * DB_D; i++) worst = cf_fd(&c, &d, &c.x[i], dxa[i], worst);
    }
    bm = (size_t)(c.f.p.conv.bn_mean - c.f.w), bv = (size_t)(c.f.p.conv.bn_var - c.f.w);
    for (i = 0; i < c.used; i++)
      if (!(i >= bm && i < bm + DB_D) && !(i >= bv && i < bv + DB_D)) worst = cf_fd(&c, &d, &c.f.w[i], ga[i], worst);
    free(ga), free(d.mask);
    cf_run_free(&c);
    CHECKF(worst <= DROP_FD_TOL, "case %d (skip %d): worst rel. err %.3g", k, k, worst);
    worst_all = fmax(worst_all, worst);
  }
  snprintf(t->msg, sizeof t->msg, "x and every weight, kept and dropped: worst rel. err %.2g", worst_all);
}

/* Rate 0 and coeff 1 is the unsuffixed block bit for bit; a dropped block is the
 * identity (y = x, dx = dy, no weight gradient, the running statistics untouched). */
static void t_drop_conformer_rate0_identity(tctx *t) {
  cf_run a, b;
  asr_block_drop d = {0, 1, 0, NULL, NULL};
  asr_real rv[DB_D];
  size_t i;
  cf_run_init(&a, 96), cf_run_init(&b, 96);
  CHECK_OK(cf_pass(&a, NULL));
  CHECK_OK(cf_pass(&b, &d));
  CHECK(memcmp(a.y, b.y, sizeof a.y) == 0 && memcmp(a.dx, b.dx, sizeof a.dx) == 0);
  CHECK(memcmp(a.gw, b.gw, 4096 * sizeof(asr_real)) == 0);
  CHECK(memcmp(a.f.w, b.f.w, sizeof a.f.w) == 0);   /* the running statistics moved alike */
  d.skip = 1, d.coeff = 3;
  memcpy(rv, b.f.p.conv.bn_var, sizeof rv);
  CHECK_OK(cf_pass(&b, &d));
  CHECK(memcmp(b.y, b.x, sizeof b.y) == 0 && memcmp(b.dx, b.dy, sizeof b.dx) == 0);
  for (i = 0; i < 4096; i++) CHECK(b.gw[i] == 0);
  CHECK(memcmp(rv, b.f.p.conv.bn_var, sizeof rv) == 0);
  d.skip = 0, d.p = 1;
  CHECK(cf_pass(&b, &d) == ASR_ERR_INVALID_ARG);
  cf_run_free(&a), cf_run_free(&b);
}
#endif /* ASR_ASSIGNMENT_RELPOS */

/* The model: asr_model_set_regularization's errors; with both rates 0 a train step is
 * today's bit for bit (and draws nothing); with rates, two runs from one seed agree bit
 * for bit, and differ from the unregularized step. ctc-contextnet and ctc-conformer. */
static void t_drop_model(tctx *t) {
  static const char *const recipes[2] = {"ctc-contextnet", "ctc-conformer"};
  int k, run;
  for (k = 0; k < 2; k++) {
    asr_real *grads[3];
    double loss[3];
    size_t total = 0;
    for (run = 0; run < 3; run++) {
      asr_model m;
      asr_model_config cfg;
      asr_rng rng, drng;
      asr_error err;
      asr_real feats[TR_N * TR_T * TR_F];
      int lengths[TR_N], targets[TR_N * TR_S], tlens[TR_N];
      size_t wb;
      void *work;
      small_config(&cfg, recipes[k]);
      if (cfg.encoder == ASR_ENCODER_CONFORMER) cfg.blocks = 2;
      asr_rng_seed(&rng, 11, 0);
      CHECK_OK(asr_model_create(&m, &cfg, &rng, NULL, &err));
      train_batch(feats, lengths, targets, tlens, &rng);
      asr_rng_seed(&drng, 7, 3);
      if (run == 0) {
        CHECK(asr_model_set_regularization(&m, 1, 0, &drng, &err) == ASR_ERR_RANGE);
        CHECK(asr_model_set_regularization(&m, 0, -0.1, &drng, &err) == ASR_ERR_RANGE);
        CHECK(asr_model_set_regularization(&m, 0.1, 0, NULL, &err) == ASR_ERR_INVALID_ARG);
        CHECK_OK(asr_model_set_regularization(&m, 0, 0, &drng, &err));
      } else {
        CHECK_OK(asr_model_set_regularization(&m, 0.2, 0.5, &drng, &err));
      }
      wb = asr_model_train_workspace_size(&m, TR_N, TR_T, TR_S);
      work = talloc_(wb);
      asr_params_zero_grad(&m.params);
      CHECK_OK(asr_model_train_step(&m, &loss[run], feats, lengths, targets, tlens, TR_N, TR_T, TR_S, work, wb, &err));
      total = m.params.total;
      grads[run] = TALLOC(asr_real, total);
      memcpy(grads[run], m.params.grad, sizeof(asr_real) * total);
      if (run == 0) {   /* rates 0: nothing drawn, and the step a model without the call takes */
        asr_rng probe;
        asr_model m0;
        asr_rng_seed(&probe, 7, 3);
        CHECK(asr_rng_u32(&probe) == asr_rng_u32(&drng));
        asr_rng_seed(&rng, 11, 0);
        CHECK_OK(asr_model_create(&m0, &cfg, &rng, NULL, &err));
        asr_params_zero_grad(&m0.params);
        CHECK_OK(asr_model_train_step(&m0, &loss[2], feats, lengths, targets, tlens, TR_N, TR_T, TR_S, work, wb, &err));
        CHECK(loss[2] == loss[0] && memcmp(m0.params.grad, grads[0], sizeof(asr_real) * total) == 0);
        asr_model_free(&m0);
      }
      free(work);
      asr_model_free(&m);
      if (run == 2) {
        CHECKF(loss[1] == loss[2] && memcmp(grads[1], grads[2], sizeof(asr_real) * total) == 0,
               "%s: two seeded runs differ", recipes[k]);
        CHECKF(loss[1] != loss[0], "%s: regularization changed nothing", recipes[k]);
      }
    }
    free(grads[0]), free(grads[1]), free(grads[2]);
  }
  {
    asr_model m;
    asr_model_config cfg;
    asr_rng rng;
    asr_error err;
    small_config(&cfg, "las-pblstm");
    asr_rng_seed(&rng, 11, 0);
    CHECK_OK(asr_model_create(&m, &cfg, &rng, NULL, &err));
    CHECK(asr_model_set_regularization(&m, 0.1, 0, &rng, &err) == ASR_ERR_UNSUPPORTED && strstr(err.msg, "pblstm"));
    CHECK_OK(asr_model_set_regularization(&m, 0, 0, &rng, &err));
    asr_model_free(&m);
  }
}

static const test_case TESTS_drop[] = {
  {"drop/contextnet_gradcheck", t_drop_contextnet_gradcheck},
  {"drop/contextnet_rate0", t_drop_contextnet_rate0},
  {"drop/contextnet_skip", t_drop_contextnet_skip},
  {"drop/contextnet_draws", t_drop_contextnet_draws},
#ifndef ASR_ASSIGNMENT_RELPOS
  {"drop/conformer_gradcheck", t_drop_conformer_gradcheck},
  {"drop/conformer_rate0_identity", t_drop_conformer_rate0_identity},
#endif
  {"drop/model", t_drop_model},
  {0, 0}
};
