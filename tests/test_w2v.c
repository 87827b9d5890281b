/* tests/test_w2v.c - group norm (section 4.1) and the wav2vec / vq-wav2vec pieces of
 * section 8 (feature encoder, context network, contrastive loss, the whole model).
 *
 * Uses test_layers.c's GRADCHECK (tolerance GC_TOL: 1e-6 double, 5e-2 float, see there),
 * set_param, dot_real and rnd, and test_las.c's las_rel. Tier agreement: TIER_TOL relative to the largest entry,
 * 1e-10 in double (different summation orders only) and 2e-5 in float (the fast group
 * norm's E[x^2] - mu^2 loses ~log2(|mu|/sigma) bits against the centred sums). */
#if ASR_REAL_DOUBLE
#define TIER_TOL 1e-10
#else
#define TIER_TOL 2e-5
#endif

/* w2v_rel(a, b, n): max |a - b| / max(1, max |b|), test_las.c's las_rel */
#define w2v_rel las_rel

/* ======================================================================================
 * 4.1 group norm
 * ====================================================================================== */
static const asr_group_norm_forward_fn GN_FWD[3] = {asr_group_norm_forward_naive, asr_group_norm_forward_ref,
                                                    asr_group_norm_forward};
static const asr_group_norm_backward_fn GN_BWD[3] = {asr_group_norm_backward_naive, asr_group_norm_backward_ref,
                                                     asr_group_norm_backward};
typedef struct gn_ctx {
  asr_real *x, *g, *b, *y, *G, *mean, *rstd;
  int N, C, T, Gr, tier;
} gn_ctx;
static double gn_f(void *v) {
  gn_ctx *c = (gn_ctx *)v;
  GN_FWD[c->tier](c->y, c->mean, c->rstd, c->x, c->g, c->b, c->N, c->C, c->T, c->Gr, 1e-5);
  return dot_real(c->G, c->y, (size_t)c->N * c->C * c->T);
}

/* finite differences of sum(G * y) for every tier, G = 1, 2 and C (instance norm), with
 * and without the affine part */
static void t_group_norm_gradcheck(tctx *t) {
  static const int groups[3] = {1, 2, 6};
  asr_rng rng;
  int tier, gi, affine;
  asr_rng_seed(&rng, 17, 0);
  for (tier = 0; tier < 3; tier++)
    for (gi = 0; gi < 3; gi++)
      for (affine = 0; affine < 2; affine++) {
        gn_ctx c;
        asr_real *dx, *dg, *db;
        asr_gradcheck_param p[3];
        size_t n;
        c.N = 2, c.C = 6, c.T = 5, c.Gr = groups[gi], c.tier = tier;
        n = (size_t)c.N * c.C * c.T;
        c.x = rnd(&rng, n, 2), c.G = rnd(&rng, n, 1);
        c.g = affine ? rnd(&rng, 6, 1) : NULL, c.b = affine ? rnd(&rng, 6, 1) : NULL;
        c.y = TALLOC(asr_real, n), c.mean = TALLOC(asr_real, 12), c.rstd = TALLOC(asr_real, 12);
        dx = TALLOC(asr_real, n), dg = TALLOC(asr_real, 6), db = TALLOC(asr_real, 6);
        gn_f(&c);
        CHECK_OK(GN_BWD[tier](dx, affine ? dg : NULL, affine ? db : NULL, c.G, c.x, c.mean, c.rstd, c.g,
                              c.N, c.C, c.T, c.Gr));
        set_param(&p[0], "x", c.x, dx, n);
        set_param(&p[1], "weight", c.g, dg, 6);
        set_param(&p[2], "bias", c.b, db, 6);
        GRADCHECK(gn_f, &c, p, affine ? 3 : 1);
        free(c.x), free(c.G), free(c.g), free(c.b), free(c.y), free(c.mean), free(c.rstd);
        free(dx), free(dg), free(db);
      }
}

/* the three tiers agree (outputs, saved statistics, every gradient), on inputs with a
 * large common offset (where one-pass statistics lose digits) */
static void t_group_norm_tiers(tctx *t) {
  enum { N = 3, C = 8, T = 7, G = 4, n = N * C * T };
  asr_rng rng;
  asr_real *x, *g, *b, *dy, *y[3], *mu[3], *rs[3], *dx[3], *dg[3], *db[3];
  int k;
  size_t i;
  asr_rng_seed(&rng, 18, 0);
  x = rnd(&rng, n, 1.5), g = rnd(&rng, C, 1), b = rnd(&rng, C, 1), dy = rnd(&rng, n, 1);
  for (i = 0; i < n; i++) x[i] += 10;
  for (k = 0; k < 3; k++) {
    y[k] = TALLOC(asr_real, n), mu[k] = TALLOC(asr_real, N * G), rs[k] = TALLOC(asr_real, N * G);
    dx[k] = TALLOC(asr_real, n), dg[k] = TALLOC(asr_real, C), db[k] = TALLOC(asr_real, C);
    CHECK_OK(GN_FWD[k](y[k], mu[k], rs[k], x, g, b, N, C, T, G, 1e-5));
    CHECK_OK(GN_BWD[k](dx[k], dg[k], db[k], dy, x, mu[k], rs[k], g, N, C, T, G));
  }
  for (k = 1; k < 3; k++) {
    CHECKF(w2v_rel(y[k], y[0], n) <= TIER_TOL, "tier %d y: %.3g", k, w2v_rel(y[k], y[0], n));
    CHECKF(w2v_rel(mu[k], mu[0], N * G) <= TIER_TOL, "tier %d mean", k);
    CHECKF(w2v_rel(rs[k], rs[0], N * G) <= TIER_TOL, "tier %d rstd", k);
    CHECKF(w2v_rel(dx[k], dx[0], n) <= TIER_TOL, "tier %d dx: %.3g", k, w2v_rel(dx[k], dx[0], n));
    CHECKF(w2v_rel(dg[k], dg[0], C) <= TIER_TOL, "tier %d dgamma", k);
    CHECKF(w2v_rel(db[k], db[0], C) <= TIER_TOL, "tier %d dbeta", k);
  }
  free(x), free(g), free(b), free(dy);
  for (k = 0; k < 3; k++) free(y[k]), free(mu[k]), free(rs[k]), free(dx[k]), free(dg[k]), free(db[k]);
}

/* The fast tier's blocks and tails (8 frames a step in the float AVX2 build, 4 in the NEON
 * one under make test-arm, 64 groups a block): _ref against it on T = 1, 7, 17, 33, more
 * groups than a block, arrays one element off alignment; a NaN in the last group of more
 * than a block (checked before anything is written) and of a single block (in the pass of
 * sums). */
static void t_group_norm_fast_tails(tctx *t) {
  static const int cases[][4] = {{2, 6, 1, 1}, {3, 4, 7, 2}, {5, 30, 17, 15}, {1, 3, 33, 1}, {7, 20, 9, 10}};
  size_t ci;
  for (ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    int N = cases[ci][0], C = cases[ci][1], T = cases[ci][2], G = cases[ci][3], k;
    size_t n = (size_t)N * C * T, i;
    asr_rng rng;
    asr_real *x, *g, *b, *dy, *y[2], *mu[2], *rs[2], *dx[2], *dg[2], *db[2];
    asr_rng_seed(&rng, 60 + ci, 0);
    x = rnd(&rng, n + 1, 2), g = rnd(&rng, C + 1, 1), b = rnd(&rng, C + 1, 1), dy = rnd(&rng, n + 1, 1);
    for (k = 0; k < 2; k++) {
      y[k] = TALLOC(asr_real, n + 1), mu[k] = TALLOC(asr_real, N * G + 1), rs[k] = TALLOC(asr_real, N * G + 1);
      dx[k] = TALLOC(asr_real, n + 1), dg[k] = TALLOC(asr_real, C + 1), db[k] = TALLOC(asr_real, C + 1);
      for (i = 0; i <= n; i++) dx[k][i] = 0.25f;
      CHECK_OK(GN_FWD[k + 1](y[k] + 1, mu[k] + 1, rs[k] + 1, x + 1, g + 1, b + 1, N, C, T, G, 1e-5));
      CHECK_OK(GN_BWD[k + 1](dx[k] + 1, dg[k] + 1, db[k] + 1, dy + 1, x + 1, mu[k] + 1, rs[k] + 1, g + 1, N, C, T, G));
    }
    CHECKF(w2v_rel(y[1] + 1, y[0] + 1, n) <= TIER_TOL, "case %d y: %.3g", (int)ci, w2v_rel(y[1] + 1, y[0] + 1, n));
    CHECKF(w2v_rel(mu[1] + 1, mu[0] + 1, N * G) <= TIER_TOL, "case %d mean", (int)ci);
    CHECKF(w2v_rel(rs[1] + 1, rs[0] + 1, N * G) <= TIER_TOL, "case %d rstd", (int)ci);
    CHECKF(w2v_rel(dx[1] + 1, dx[0] + 1, n) <= TIER_TOL, "case %d dx: %.3g", (int)ci, w2v_rel(dx[1] + 1, dx[0] + 1, n));
    CHECKF(w2v_rel(dg[1] + 1, dg[0] + 1, C) <= TIER_TOL, "case %d dgamma", (int)ci);
    CHECKF(w2v_rel(db[1] + 1, db[0] + 1, C) <= TIER_TOL, "case %d dbeta", (int)ci);
    CHECK(dx[1][0] == 0.25f);
    for (i = 0; i <= n; i++) y[1][i] = -7;
    x[n] = (asr_real)NAN;                                         /* the last value */
    CHECK(asr_group_norm_forward(y[1] + 1, mu[1] + 1, rs[1] + 1, x + 1, g + 1, b + 1, N, C, T, G, 1e-5) ==
          ASR_ERR_NONFINITE);
    for (i = 0; i <= n; i++) CHECK(y[1][i] == -7);                  /* nothing written */
    free(x), free(g), free(b), free(dy);
    for (k = 0; k < 2; k++) free(y[k]), free(mu[k]), free(rs[k]), free(dx[k]), free(dg[k]), free(db[k]);
  }
}

/* one group without the affine part is layer norm over each item's C*T values: compare
 * with asr_layer_norm_* (written independently, section 4.1), forward and backward */
static void t_group_norm_one_group_is_layer_norm(tctx *t) {
  enum { N = 2, C = 4, T = 6, n = N * C * T };
  asr_rng rng;
  asr_real *x, *dy, y1[n], y2[n], m1[N], m2[N], r1[N], r2[N], d1[n], d2[n];
  int k;
  asr_rng_seed(&rng, 19, 0);
  x = rnd(&rng, n, 3), dy = rnd(&rng, n, 1);
  CHECK_OK(asr_layer_norm_forward(y2, m2, r2, x, NULL, NULL, N, C * T, 1e-5));
  memset(d2, 0, sizeof d2);
  CHECK_OK(asr_layer_norm_backward(d2, NULL, NULL, dy, x, m2, r2, NULL, N, C * T));
  for (k = 0; k < 3; k++) {
    memset(d1, 0, sizeof d1);
    CHECK_OK(GN_FWD[k](y1, m1, r1, x, NULL, NULL, N, C, T, 1, 1e-5));
    CHECK_OK(GN_BWD[k](d1, NULL, NULL, dy, x, m1, r1, NULL, N, C, T, 1));
    CHECKF(w2v_rel(y1, y2, n) <= TIER_TOL, "tier %d y %.3g", k, w2v_rel(y1, y2, n));
    CHECKF(w2v_rel(d1, d2, n) <= TIER_TOL, "tier %d dx %.3g", k, w2v_rel(d1, d2, n));
  }
  free(x), free(dy);
}

static void t_group_norm_bad_input(tctx *t) {
  asr_real x[24], y[24], m[4], r[4];
  int k;
  for (k = 0; k < 24; k++) x[k] = (asr_real)k, y[k] = -7;
  for (k = 0; k < 3; k++) {
    CHECK(GN_FWD[k](y, m, r, x, NULL, NULL, 2, 6, 2, 4, 1e-5) == ASR_ERR_SHAPE);   /* 6 % 4 */
    CHECK(GN_FWD[k](y, m, r, x, NULL, NULL, 2, 6, 2, 0, 1e-5) == ASR_ERR_SHAPE);
    CHECK(GN_FWD[k](y, m, r, x, NULL, NULL, 2, 6, 0, 1, 1e-5) == ASR_ERR_INVALID_ARG);
    CHECK(GN_FWD[k](y, m, r, x, NULL, NULL, 2, 6, 2, 1, -1) == ASR_ERR_INVALID_ARG);
    CHECK(GN_FWD[k](NULL, m, r, x, NULL, NULL, 2, 6, 2, 1, 1e-5) == ASR_ERR_INVALID_ARG);
    x[5] = (asr_real)NAN;
    CHECK(GN_FWD[k](y, m, r, x, NULL, NULL, 2, 6, 2, 1, 1e-5) == ASR_ERR_NONFINITE);
    x[5] = 5;
  }
  for (k = 0; k < 24; k++) CHECK(y[k] == -7);                              /* nothing written */
  CHECK(asr_group_norm_forward_naive(y, m, r, x, NULL, NULL, 1, 64, 4096, 1, 1e-5) == ASR_ERR_TOO_LARGE);
}

/* ======================================================================================
 * 8.8-8.9 the encoder f and the context network g
 * Finite differences in the double build only, with a step h = 1e-6: the networks have
 * ReLUs, and a probe of size h that moves a pre-activation across 0 adds an O(h) error to
 * that difference; with ~1000 pre-activations near N(0,1) the chance of one crossing is
 * ~1e-3 at h = 1e-6 (and ~1 at the default 1e-3). Rounding then costs ~1e-10 |f| per
 * difference, so the floor of the denominator is 1e-3 |f| (instead of 1e-5 |f|): larger
 * gradients are held to GC_TOL relative, smaller ones to ~1e-9 |f| absolute.
 * The float builds check the tiers against each other instead.
 * ====================================================================================== */
/* asr_gradcheck with those options, failing above GC_TOL with `what` in the message. */
#define RELU_GRADCHECK(f, ctx, params, n, what)                                                       \
  do {                                                                                              \
    asr_gradcheck_opts o_;                                                                          \
    asr_gradcheck_report gr_;                                                                      \
    asr_rng g_;                                                                                     \
    memset(&o_, 0, sizeof o_);                                                                      \
    o_.h = 1e-6, o_.abs_floor = 1e-3;                                                               \
    asr_rng_seed(&g_, 99, 2);                                                                       \
    CHECK_OK(asr_gradcheck(f, ctx, params, n, &o_, &g_, &gr_));                                     \
    CHECKF(gr_.max_rel_err <= GC_TOL, "%s %s[%ld]: numeric %.10g analytic %.10g rel %.3g", what,    \
           gr_.worst_param, gr_.worst_index, gr_.worst_numeric, gr_.worst_analytic, gr_.max_rel_err); \
  } while (0)
#define RELU_GRADCHECK_SKIP() SKIP("finite differences of the ReLU networks run in the double build")

static const asr_w2v_encoder_forward_fn ENC_FWD[3] = {asr_w2v_encoder_forward_naive, asr_w2v_encoder_forward_ref,
                                                      asr_w2v_encoder_forward};
static const asr_w2v_encoder_backward_fn ENC_BWD[3] = {asr_w2v_encoder_backward_naive, asr_w2v_encoder_backward_ref,
                                                       asr_w2v_encoder_backward};
static const asr_w2v_context_forward_fn CTX_FWD[3] = {asr_w2v_context_forward_naive, asr_w2v_context_forward_ref,
                                                      asr_w2v_context_forward};
static const asr_w2v_context_backward_fn CTX_BWD[3] = {asr_w2v_context_backward_naive, asr_w2v_context_backward_ref,
                                                       asr_w2v_context_backward};

/* A small model of the paper's shape: the default five encoder layers (kernels 10, 8, 4,
 * 4, 4, strides 5, 4, 2, 2, 2) with C channels, a context network of kernels 2, 3, 4. */
static void w2v_small_cfg(asr_w2v_config *cfg, int C) {
  asr_w2v_config_default(cfg, "toy-wav2vec");
  cfg->channels = C;
  cfg->agg_layers = 3;
  cfg->steps = 2;
  cfg->negatives = 2;
}

typedef struct w2v_enc_fx {
  asr_w2v_config cfg;
  asr_w2v_encoder_params p, g;
  asr_real *wave, *z, *saved, *G;
  void *work;
  size_t wb, nz;
  int B, n, T, tier;
} w2v_enc_fx;
static void w2v_enc_make(w2v_enc_fx *f, asr_rng *rng, int C, int B, int n) {
  int l;
  w2v_small_cfg(&f->cfg, C);
  f->B = B, f->n = n, f->T = asr_w2v_frames(&f->cfg, n), f->tier = 2;
  for (l = 0; l < f->cfg.enc_layers; l++) {
    size_t nw = (size_t)C * (l ? C : 1) * f->cfg.enc_kernel[l];
    f->p.conv[l] = rnd(rng, nw, 1.0 / sqrt((double)(l ? C : 1) * f->cfg.enc_kernel[l]));
    f->p.norm_w[l] = rnd(rng, C, 0.3), f->p.norm_b[l] = rnd(rng, C, 0.3);
    for (nw = 0; nw < (size_t)C; nw++) f->p.norm_w[l][nw] += 1;
    f->g.conv[l] = TALLOC(asr_real, (size_t)C * (l ? C : 1) * f->cfg.enc_kernel[l]);
    f->g.norm_w[l] = TALLOC(asr_real, C), f->g.norm_b[l] = TALLOC(asr_real, C);
  }
  f->wave = rnd(rng, (size_t)B * n, 1);
  f->nz = (size_t)B * C * f->T;
  f->z = TALLOC(asr_real, f->nz), f->G = rnd(rng, f->nz, 1);
  f->saved = TALLOC(asr_real, asr_w2v_encoder_saved_size(&f->cfg, B, n));
  f->wb = asr_w2v_encoder_workspace_size(&f->cfg, B, n);
  f->work = talloc_(f->wb);
}
static void w2v_enc_free(w2v_enc_fx *f) {
  int l;
  for (l = 0; l < f->cfg.enc_layers; l++)
    free(f->p.conv[l]), free(f->p.norm_w[l]), free(f->p.norm_b[l]), free(f->g.conv[l]), free(f->g.norm_w[l]),
        free(f->g.norm_b[l]);
  free(f->wave), free(f->z), free(f->G), free(f->saved), free(f->work);
}
static double w2v_enc_f(void *v) {
  w2v_enc_fx *f = (w2v_enc_fx *)v;
  ENC_FWD[f->tier](f->z, f->saved, f->wave, &f->p, &f->cfg, f->B, f->n, f->work, f->wb);
  return dot_real(f->G, f->z, f->nz);
}

static void t_w2v_encoder_frames(tctx *t) {
  asr_w2v_config cfg;
  CHECK_OK(asr_w2v_config_default(&cfg, "vq-wav2vec-gumbel"));
  /* [Schneider19] sec. 2.1: frames every 10 ms (160 samples at 16 kHz), about 30 ms of
   * receptive field: 10 + 7*5 + 3*20 + 3*40 + 3*80 = 465 samples (29 ms) */
  CHECK(asr_w2v_hop(&cfg) == 160);
  CHECK(asr_w2v_receptive_field(&cfg) == 465);
  CHECK(asr_w2v_frames(&cfg, 464) == 0);
  CHECK(asr_w2v_frames(&cfg, 465) == 1);
  CHECK(asr_w2v_frames(&cfg, 465 + 159) == 1);
  CHECK(asr_w2v_frames(&cfg, 465 + 160) == 2);
  CHECK(asr_w2v_frames(&cfg, 32000) == (32000 - 465) / 160 + 1);
  CHECK(asr_w2v_config_default(&cfg, "wav3vec") == ASR_ERR_INVALID_ARG);
}

static void t_w2v_encoder_gradcheck(tctx *t) {
#if ASR_REAL_DOUBLE
  w2v_enc_fx f;
  asr_rng rng;
  asr_gradcheck_param p[3 * 5];
  int l, tier;
  static const char *names[3] = {"conv", "norm.weight", "norm.bias"};
  asr_rng_seed(&rng, 21, 0);
  w2v_enc_make(&f, &rng, 2, 2, 465 + 3 * 160);
  for (tier = 0; tier < 3; tier++) {
    f.tier = tier;
    for (l = 0; l < 5; l++) {
      memset(f.g.conv[l], 0, sizeof(asr_real) * 2 * (l ? 2 : 1) * f.cfg.enc_kernel[l]);
      memset(f.g.norm_w[l], 0, sizeof(asr_real) * 2), memset(f.g.norm_b[l], 0, sizeof(asr_real) * 2);
    }
    w2v_enc_f(&f);
    CHECK_OK(ENC_BWD[tier](&f.g, f.G, f.saved, f.wave, &f.p, &f.cfg, f.B, f.n, f.work, f.wb));
    for (l = 0; l < 5; l++) {
      set_param(&p[3 * l], names[0], f.p.conv[l], f.g.conv[l], (size_t)2 * (l ? 2 : 1) * f.cfg.enc_kernel[l]);
      set_param(&p[3 * l + 1], names[1], f.p.norm_w[l], f.g.norm_w[l], 2);
      set_param(&p[3 * l + 2], names[2], f.p.norm_b[l], f.g.norm_b[l], 2);
    }
    RELU_GRADCHECK(w2v_enc_f, &f, p, 15, tier == 0 ? "naive" : tier == 1 ? "ref" : "fast");
  }
  w2v_enc_free(&f);
#else
  RELU_GRADCHECK_SKIP();
#endif
}

/* naive, ref and fast: the same z and the same gradients */
static void t_w2v_encoder_tiers(tctx *t) {
  w2v_enc_fx f;
  asr_rng rng;
  asr_real *z0, *g0[3];
  int tier, l, k;
  asr_rng_seed(&rng, 22, 0);
  w2v_enc_make(&f, &rng, 4, 2, 465 + 5 * 160);
  z0 = TALLOC(asr_real, f.nz);
  for (tier = 0; tier < 3; tier++) {
    asr_real *gl[3];
    f.tier = tier;
    for (l = 0; l < 5; l++) {
      memset(f.g.conv[l], 0, sizeof(asr_real) * 4 * (l ? 4 : 1) * f.cfg.enc_kernel[l]);
      memset(f.g.norm_w[l], 0, sizeof(asr_real) * 4), memset(f.g.norm_b[l], 0, sizeof(asr_real) * 4);
    }
    w2v_enc_f(&f);
    CHECK_OK(ENC_BWD[tier](&f.g, f.G, f.saved, f.wave, &f.p, &f.cfg, f.B, f.n, f.work, f.wb));
    gl[0] = f.g.conv[0], gl[1] = f.g.conv[4], gl[2] = f.g.norm_w[2];
    if (tier == 0) {
      memcpy(z0, f.z, sizeof(asr_real) * f.nz);
      g0[0] = TALLOC(asr_real, 40), g0[1] = TALLOC(asr_real, 64), g0[2] = TALLOC(asr_real, 4);
      memcpy(g0[0], gl[0], sizeof(asr_real) * 40), memcpy(g0[1], gl[1], sizeof(asr_real) * 64);
      memcpy(g0[2], gl[2], sizeof(asr_real) * 4);
      continue;
    }
    CHECKF(w2v_rel(f.z, z0, f.nz) <= TIER_TOL, "tier %d z %.3g", tier, w2v_rel(f.z, z0, f.nz));
    for (k = 0; k < 3; k++) {
      size_t n = k == 0 ? 40 : k == 1 ? 64 : 4;
      CHECKF(w2v_rel(gl[k], g0[k], n) <= 20 * TIER_TOL, "tier %d grad %d %.3g", tier, k, w2v_rel(gl[k], g0[k], n));
    }
  }
  free(z0), free(g0[0]), free(g0[1]), free(g0[2]);
  w2v_enc_free(&f);
}

static void t_w2v_encoder_bad_input(tctx *t) {
  w2v_enc_fx f;
  asr_rng rng;
  asr_rng_seed(&rng, 23, 0);
  w2v_enc_make(&f, &rng, 2, 1, 465);
  CHECK(f.T == 1);
  f.z[0] = -7;
  CHECK(asr_w2v_encoder_forward(f.z, f.saved, f.wave, &f.p, &f.cfg, 1, 464, f.work, f.wb) == ASR_ERR_SHAPE);
  CHECK(asr_w2v_encoder_forward(f.z, f.saved, f.wave, &f.p, &f.cfg, 1, 465, f.work, f.wb - 1) == ASR_ERR_WORKSPACE);
  f.wave[3] = (asr_real)INFINITY;
  CHECK(asr_w2v_encoder_forward(f.z, f.saved, f.wave, &f.p, &f.cfg, 1, 465, f.work, f.wb) == ASR_ERR_NONFINITE);
  CHECK(f.z[0] == -7);
  w2v_enc_free(&f);
}

typedef struct w2v_ctx_fx {
  asr_w2v_config cfg;
  asr_w2v_context_params p, g;
  asr_real *z, *c, *saved, *G, *dz;
  void *work;
  size_t wb, nz;
  int B, T, tier;
} w2v_ctx_fx;
static void w2v_ctx_make(w2v_ctx_fx *f, asr_rng *rng, int C, int B, int T, int skip) {
  int j;
  size_t i;
  w2v_small_cfg(&f->cfg, C);
  f->cfg.skip = skip;
  f->B = B, f->T = T, f->tier = 2;
  for (j = 0; j < f->cfg.agg_layers; j++) {
    size_t nw = (size_t)C * C * f->cfg.agg_kernel[j];
    f->p.conv_w[j] = rnd(rng, nw, 1.0 / sqrt((double)C * f->cfg.agg_kernel[j]));
    f->p.conv_b[j] = rnd(rng, C, 0.3), f->p.norm_w[j] = rnd(rng, C, 0.3), f->p.norm_b[j] = rnd(rng, C, 0.3);
    for (i = 0; i < (size_t)C; i++) f->p.norm_w[j][i] += 1;
    f->g.conv_w[j] = TALLOC(asr_real, nw), f->g.conv_b[j] = TALLOC(asr_real, C);
    f->g.norm_w[j] = TALLOC(asr_real, C), f->g.norm_b[j] = TALLOC(asr_real, C);
  }
  f->nz = (size_t)B * C * T;
  f->z = rnd(rng, f->nz, 1), f->c = TALLOC(asr_real, f->nz), f->G = rnd(rng, f->nz, 1);
  f->dz = TALLOC(asr_real, f->nz);
  f->saved = TALLOC(asr_real, asr_w2v_context_saved_size(&f->cfg, B, T));
  f->wb = asr_w2v_context_workspace_size(&f->cfg, B, T);
  f->work = talloc_(f->wb);
}
static void w2v_ctx_free(w2v_ctx_fx *f) {
  int j;
  for (j = 0; j < f->cfg.agg_layers; j++)
    free(f->p.conv_w[j]), free(f->p.conv_b[j]), free(f->p.norm_w[j]), free(f->p.norm_b[j]), free(f->g.conv_w[j]),
        free(f->g.conv_b[j]), free(f->g.norm_w[j]), free(f->g.norm_b[j]);
  free(f->z), free(f->c), free(f->G), free(f->dz), free(f->saved), free(f->work);
}
static double w2v_ctx_f(void *v) {
  w2v_ctx_fx *f = (w2v_ctx_fx *)v;
  CTX_FWD[f->tier](f->c, f->saved, f->z, &f->p, &f->cfg, f->B, f->T, f->work, f->wb);
  return dot_real(f->G, f->c, f->nz);
}
static void w2v_ctx_grads(w2v_ctx_fx *f) {
  int j, C = f->cfg.channels;
  memset(f->dz, 0, sizeof(asr_real) * f->nz);
  for (j = 0; j < f->cfg.agg_layers; j++) {
    memset(f->g.conv_w[j], 0, sizeof(asr_real) * C * C * f->cfg.agg_kernel[j]);
    memset(f->g.conv_b[j], 0, sizeof(asr_real) * C), memset(f->g.norm_w[j], 0, sizeof(asr_real) * C);
    memset(f->g.norm_b[j], 0, sizeof(asr_real) * C);
  }
  w2v_ctx_f(f);
  CTX_BWD[f->tier](f->dz, &f->g, f->G, f->saved, f->z, &f->p, &f->cfg, f->B, f->T, f->work, f->wb);
}

static void t_w2v_context_gradcheck(tctx *t) {
#if ASR_REAL_DOUBLE
  int tier, skip, j;
  asr_rng rng;
  asr_rng_seed(&rng, 24, 0);
  for (skip = 0; skip < 2; skip++)
    for (tier = 0; tier < 3; tier++) {
      w2v_ctx_fx f;
      asr_gradcheck_param p[1 + 4 * 3];
      w2v_ctx_make(&f, &rng, 3, 2, 7, skip);
      f.tier = tier;
      w2v_ctx_grads(&f);
      set_param(&p[0], "z", f.z, f.dz, f.nz);
      for (j = 0; j < 3; j++) {
        set_param(&p[1 + 4 * j], "conv.weight", f.p.conv_w[j], f.g.conv_w[j], (size_t)9 * f.cfg.agg_kernel[j]);
        set_param(&p[2 + 4 * j], "conv.bias", f.p.conv_b[j], f.g.conv_b[j], 3);
        set_param(&p[3 + 4 * j], "norm.weight", f.p.norm_w[j], f.g.norm_w[j], 3);
        set_param(&p[4 + 4 * j], "norm.bias", f.p.norm_b[j], f.g.norm_b[j], 3);
      }
      RELU_GRADCHECK(w2v_ctx_f, &f, p, 13, skip ? "with skip connections" : "without skip connections");
      w2v_ctx_free(&f);
    }
#else
  RELU_GRADCHECK_SKIP();
#endif
}

/* the three tiers agree: c and dz */
static void t_w2v_context_tiers(tctx *t) {
  w2v_ctx_fx f;
  asr_rng rng;
  asr_real *c0, *dz0;
  int tier;
  asr_rng_seed(&rng, 25, 0);
  w2v_ctx_make(&f, &rng, 4, 2, 9, 1);
  c0 = TALLOC(asr_real, f.nz), dz0 = TALLOC(asr_real, f.nz);
  for (tier = 0; tier < 3; tier++) {
    f.tier = tier;
    w2v_ctx_grads(&f);
    if (tier == 0) {
      memcpy(c0, f.c, sizeof(asr_real) * f.nz), memcpy(dz0, f.dz, sizeof(asr_real) * f.nz);
      continue;
    }
    CHECKF(w2v_rel(f.c, c0, f.nz) <= TIER_TOL, "tier %d c %.3g", tier, w2v_rel(f.c, c0, f.nz));
    CHECKF(w2v_rel(f.dz, dz0, f.nz) <= 20 * TIER_TOL, "tier %d dz %.3g", tier, w2v_rel(f.dz, dz0, f.nz));
  }
  free(c0), free(dz0);
  w2v_ctx_free(&f);
}

/* ======================================================================================
 * 8.10 the contrastive loss
 * ====================================================================================== */
static const asr_w2v_contrastive_forward_fn CL_FWD[3] = {
    asr_w2v_contrastive_forward_naive, asr_w2v_contrastive_forward_ref, asr_w2v_contrastive_forward};
static const asr_w2v_contrastive_backward_fn CL_BWD[3] = {
    asr_w2v_contrastive_backward_naive, asr_w2v_contrastive_backward_ref, asr_w2v_contrastive_backward};
typedef struct cl_fx {
  asr_real *c, *z, *W, *b, *proj, *logits, *dc, *dz, *dW, *db;
  int *neg;
  void *work;
  size_t wb;
  int B, T, Cc, D, K, Nn, tier;
  asr_w2v_contrastive_stats st;
} cl_fx;
static void cl_make(cl_fx *f, asr_rng *rng, int B, int T, int Cc, int D, int K, int Nn) {
  f->B = B, f->T = T, f->Cc = Cc, f->D = D, f->K = K, f->Nn = Nn, f->tier = 2;
  f->c = rnd(rng, (size_t)B * T * Cc, 1), f->z = rnd(rng, (size_t)B * T * D, 1);
  f->W = rnd(rng, (size_t)Cc * D * K, 0.5), f->b = rnd(rng, D, 0.5);
  f->proj = TALLOC(asr_real, (size_t)B * T * K * D), f->logits = TALLOC(asr_real, (size_t)B * T * K * (Nn + 1));
  f->dc = TALLOC(asr_real, (size_t)B * T * Cc), f->dz = TALLOC(asr_real, (size_t)B * T * D);
  f->dW = TALLOC(asr_real, (size_t)Cc * D * K), f->db = TALLOC(asr_real, D);
  f->neg = TALLOC(int, (size_t)B * T * Nn);
  asr_w2v_sample_negatives(f->neg, B, T, Nn, rng);
  f->wb = asr_w2v_contrastive_workspace_size(B, T, Cc, D, K, Nn);
  f->work = talloc_(f->wb);
}
static void cl_free(cl_fx *f) {
  free(f->c), free(f->z), free(f->W), free(f->b), free(f->proj), free(f->logits), free(f->dc), free(f->dz);
  free(f->dW), free(f->db), free(f->neg), free(f->work);
}
static double cl_f(void *v) {
  cl_fx *f = (cl_fx *)v;
  CL_FWD[f->tier](&f->st, f->proj, f->logits, f->c, f->z, f->neg, f->W, f->b, f->B, f->T, f->Cc, f->D, f->K, f->Nn,
                  f->work, f->wb);
  return f->st.loss;
}
static asr_result cl_grads(cl_fx *f, double dloss) {
  memset(f->dc, 0, sizeof(asr_real) * f->B * f->T * f->Cc), memset(f->dz, 0, sizeof(asr_real) * f->B * f->T * f->D);
  memset(f->dW, 0, sizeof(asr_real) * f->Cc * f->D * f->K), memset(f->db, 0, sizeof(asr_real) * f->D);
  cl_f(f);
  return CL_BWD[f->tier](f->dc, f->dz, f->dW, f->db, dloss, f->logits, f->proj, f->c, f->z, f->neg, f->W, f->B, f->T,
                         f->Cc, f->D, f->K, f->Nn, f->work, f->wb);
}

static void t_w2v_contrastive_gradcheck(tctx *t) {
  int tier;
  asr_rng rng;
  asr_rng_seed(&rng, 31, 0);
  for (tier = 0; tier < 3; tier++) {
    cl_fx f;
    asr_gradcheck_param p[4];
    cl_make(&f, &rng, 2, 6, 3, 4, 3, 2);
    f.tier = tier;
    CHECK_OK(cl_grads(&f, 1.0));
    CHECK(f.st.pairs == 2 * (5 + 4 + 3));                   /* B sum_k (T - k) */
    set_param(&p[0], "c", f.c, f.dc, 36);
    set_param(&p[1], "z", f.z, f.dz, 48);
    set_param(&p[2], "W", f.W, f.dW, 36);
    set_param(&p[3], "b", f.b, f.db, 4);
    GRADCHECK(cl_f, &f, p, 4);
    cl_free(&f);
  }
}

/* naive, ref, fast: the same loss, accuracy, logits and gradients (dloss = 1/pairs) */
static void t_w2v_contrastive_tiers(tctx *t) {
  cl_fx f[3];
  asr_rng rng;
  int k;
  for (k = 0; k < 3; k++) {
    asr_rng_seed(&rng, 32, 0);                     /* the same data and negatives for each */
    cl_make(&f[k], &rng, 3, 11, 6, 5, 4, 3);
    f[k].tier = k;
    CHECK_OK(cl_grads(&f[k], 1.0 / 60));
  }
  for (k = 1; k < 3; k++) {
    size_t nl = (size_t)3 * 11 * 4 * 4;
    CHECKF(fabs(f[k].st.loss - f[0].st.loss) <= TIER_TOL * fabs(f[0].st.loss), "tier %d loss %.10g vs %.10g", k,
           f[k].st.loss, f[0].st.loss);
    CHECK(f[k].st.pairs == f[0].st.pairs && f[k].st.correct == f[0].st.correct);
    CHECKF(w2v_rel(f[k].logits, f[0].logits, nl) <= TIER_TOL, "tier %d logits", k);
    CHECKF(w2v_rel(f[k].dc, f[0].dc, 3 * 11 * 6) <= TIER_TOL, "tier %d dc", k);
    CHECKF(w2v_rel(f[k].dz, f[0].dz, 3 * 11 * 5) <= TIER_TOL, "tier %d dz", k);
    CHECKF(w2v_rel(f[k].dW, f[0].dW, 6 * 5 * 4) <= TIER_TOL, "tier %d dW", k);
    CHECKF(w2v_rel(f[k].db, f[0].db, 5) <= TIER_TOL, "tier %d db", k);
  }
  for (k = 0; k < 3; k++) cl_free(&f[k]);
}

/* negatives: never the frame itself, every other frame reachable, roughly uniform; the
 * accuracy counter: a z that copies c through W = I, b = 0 ranks every positive first */
static void t_w2v_contrastive_negatives_and_accuracy(tctx *t) {
  enum { T = 5, Nn = 4, DRAWS = 4000 };
  int neg[T * Nn], count[T][T], i, j, r;
  asr_rng rng;
  cl_fx f;
  memset(count, 0, sizeof count);
  asr_rng_seed(&rng, 33, 0);
  for (r = 0; r < DRAWS; r++) {
    CHECK_OK(asr_w2v_sample_negatives(neg, 1, T, Nn, &rng));
    for (i = 0; i < T; i++)
      for (j = 0; j < Nn; j++) count[i][neg[i * Nn + j]]++;
  }
  for (i = 0; i < T; i++)
    for (j = 0; j < T; j++) {
      if (i == j) CHECK(count[i][j] == 0);
      /* DRAWS*Nn/(T-1) = 4000 expected, binomial sd ~55: 6 sd */
      else CHECKF(fabs(count[i][j] - 4000.0) < 330, "frame %d drew %d %d times", i, j, count[i][j]);
    }
  CHECK(asr_w2v_sample_negatives(neg, 1, 4, 4, &rng) == ASR_ERR_SHAPE);   /* 3 other frames < 4 */
  CHECK(asr_w2v_sample_negatives(neg, 1, 1, 1, &rng) == ASR_ERR_SHAPE);
  /* accuracy: T = 8 one-hot frames z_t = 10 e_t, c_t = z_{t+1} (the next frame), K = 1,
   * W_1 = I, b = 0: h_1(c_t) = z_{t+1} is the positive exactly, every negative scores 0 */
  asr_rng_seed(&rng, 34, 0);
  cl_make(&f, &rng, 1, 8, 8, 8, 1, 3);
  memset(f.z, 0, sizeof(asr_real) * 64), memset(f.c, 0, sizeof(asr_real) * 64);
  memset(f.W, 0, sizeof(asr_real) * 64), memset(f.b, 0, sizeof(asr_real) * 8);
  for (i = 0; i < 8; i++) {
    f.z[i * 8 + i] = 10, f.W[i * 8 + i] = 1;
    if (i + 1 < 8) f.c[i * 8 + i + 1] = 10;
  }
  cl_f(&f);
  CHECK(f.st.pairs == 7 && f.st.correct == 7);
  /* loss = 7 (-log sigma(100)) + 21 (-log sigma(0)) = 7 e^-100 + 21 log 2 */
  CHECK_NEAR(f.st.loss, 21 * log(2.0), 1e-5);
  for (i = 0; i < 8; i++) f.c[i * 8 + (i + 1) % 8] = -10;                 /* now every pair is wrong */
  cl_f(&f);
  CHECK(f.st.correct == 0);
  cl_free(&f);
}

static void t_w2v_contrastive_bad_input(tctx *t) {
  cl_fx f;
  asr_rng rng;
  asr_rng_seed(&rng, 35, 0);
  cl_make(&f, &rng, 1, 4, 2, 2, 3, 2);
  f.logits[0] = -7;
  CHECK(asr_w2v_contrastive_forward(&f.st, f.proj, f.logits, f.c, f.z, f.neg, f.W, f.b, 1, 4, 2, 2, 4, 2, f.work,
                                    f.wb) == ASR_ERR_SHAPE);                    /* K = T */
  f.neg[5] = 2;                                                                  /* frame 2's own */
  CHECK(asr_w2v_contrastive_forward(&f.st, f.proj, f.logits, f.c, f.z, f.neg, f.W, f.b, 1, 4, 2, 2, 3, 2, f.work,
                                    f.wb) == ASR_ERR_RANGE);
  f.neg[5] = 9;
  CHECK(asr_w2v_contrastive_forward(&f.st, f.proj, f.logits, f.c, f.z, f.neg, f.W, f.b, 1, 4, 2, 2, 3, 2, f.work,
                                    f.wb) == ASR_ERR_RANGE);
  f.neg[5] = 0;
  f.c[1] = (asr_real)NAN;
  CHECK(asr_w2v_contrastive_forward(&f.st, f.proj, f.logits, f.c, f.z, f.neg, f.W, f.b, 1, 4, 2, 2, 3, 2, f.work,
                                    f.wb) == ASR_ERR_NONFINITE);
  CHECK(f.logits[0] == -7);
  cl_free(&f);
}

/* ======================================================================================
 * 9.9 the whole model
 * ====================================================================================== */
/* B crops of n samples: tones whose frequency changes every 800 samples (50 ms, 5
 * frames), drawn from 12 values between 250 Hz and 3 kHz, plus a little noise. The frame
 * k <= 2 steps ahead is mostly in the same tone as now; a distractor mostly is not. */
static void w2v_toy_signal(asr_real *wave, int B, int n, asr_rng *rng) {
  int b, i;
  for (b = 0; b < B; b++) {
    double f = 0, ph = 0;
    for (i = 0; i < n; i++) {
      if (i % 800 == 0) f = 250.0 * (1 + asr_rng_int(rng, 12));
      ph += 2 * 3.14159265358979 * f / 16000;
      wave[(size_t)b * n + i] = (asr_real)(0.5 * sin(ph) + 0.01 * asr_rng_normal(rng));
    }
  }
}

static asr_result w2v_train(asr_w2v_model *m, int steps, int B, int n, uint64_t seed, double *acc_before,
                            double *acc_after) {
  asr_rng rng, drng;
  asr_w2v_stats st;
  asr_adam_opts o;
  size_t wb = asr_w2v_model_workspace_size(m, B, n), np = m->params.total;
  void *work = talloc_(wb);
  asr_real *wave = TALLOC(asr_real, (size_t)B * n), *ev = TALLOC(asr_real, (size_t)4 * B * n);
  asr_real *am = TALLOC(asr_real, np), *av = TALLOC(asr_real, np);
  asr_result r = ASR_OK;
  int s, e;
  asr_rng_seed(&rng, seed, 1), asr_rng_seed(&drng, seed, 2);
  w2v_toy_signal(ev, 4 * B, n, &drng);            /* held-out crops, evaluated in 4 batches */
  asr_adam_opts_init(&o, 1e-3);
  for (s = 0; s <= steps && r == ASR_OK; s++) {
    if (s == 0 || s == steps) {                   /* evaluation: accuracy on held-out crops */
      long pairs = 0, correct = 0;
      asr_rng erng;
      asr_rng_seed(&erng, seed, 3);
      for (e = 0; e < 4 && r == ASR_OK; e++) {
        r = asr_w2v_model_step(m, &st, ev + (size_t)e * B * n, B, n, s, 0, &erng, work, wb, NULL);
        pairs += st.pairs, correct += st.correct;
      }
      *(s == 0 ? acc_before : acc_after) = (double)correct / (double)(pairs ? pairs : 1);
      if (s == steps) break;
    }
    w2v_toy_signal(wave, B, n, &drng);
    asr_params_zero_grad(&m->params);
    r = asr_w2v_model_step(m, &st, wave, B, n, s, 1, &rng, work, wb, NULL);
    if (r == ASR_OK) r = asr_adam_step(m->params.data, am, av, NULL, m->params.grad, np, &o, s + 1);
  }
  free(work), free(wave), free(ev), free(am), free(av);
  return r;
}

static void w2v_learn_cfg(asr_w2v_config *cfg, const char *name) {
  asr_w2v_config_default(cfg, name);
  cfg->channels = 16, cfg->agg_layers = 2, cfg->steps = 2, cfg->negatives = 4;
  cfg->vq_groups = 2, cfg->vq_vars = 8;
}

/* A deterministic learning run: 300 Adam steps (lr 1e-3) on 4 crops of 28 frames of the
 * toy tones; held-out contrastive accuracy before and after. Chance is 1/(1 + 4) = 0.2.
 * The run first sits on the plateau where every logit is the same (loss 0.5004 =
 * (-log 0.2 - 4 log 0.8) / 5: the base rate, no information) and leaves it after ~180
 * steps (measured in the float build: 0.23 -> 0.39 at 200 steps). Only wav2vec: the toy
 * Gumbel model collapses onto one code here (docs/wav2vec.md). */
static void t_w2v_model_learns(tctx *t) {
  asr_w2v_config cfg;
  asr_w2v_model m;
  asr_rng rng;
  double a0 = 0, a1 = 0;
  w2v_learn_cfg(&cfg, "toy-wav2vec");
  asr_rng_seed(&rng, 41, 0);
  CHECK_OK(asr_w2v_model_create(&m, &cfg, &rng, NULL, NULL));
  CHECK_OK(w2v_train(&m, 300, 4, 465 + 27 * 160, 42, &a0, &a1));
  asr_w2v_model_free(&m);
  snprintf(t->msg, sizeof t->msg, "held-out accuracy %.3f -> %.3f (chance 0.2)", a0, a1);
  CHECKF(a1 > 0.3 && a1 > a0 + 0.1, "%s", t->msg);
}

/* finite differences of the whole wav2vec step (the quantizers' straight-through
 * gradients are not derivatives of the forward value, so only the model without one);
 * the same seed every call: the same negatives */
#if ASR_REAL_DOUBLE
typedef struct w2v_model_fx {
  asr_w2v_model m;
  asr_real *wave;
  void *work;
  size_t wb;
  int B, n;
} w2v_model_fx;
static double w2v_model_f(void *v) {
  w2v_model_fx *f = (w2v_model_fx *)v;
  asr_w2v_stats st;
  asr_rng rng;
  asr_rng_seed(&rng, 51, 0);
  asr_w2v_model_step(&f->m, &st, f->wave, f->B, f->n, 0, 1, &rng, f->work, f->wb, NULL);
  return st.loss;
}
#endif
static void t_w2v_model_gradcheck(tctx *t) {
#if ASR_REAL_DOUBLE
  w2v_model_fx f;
  asr_w2v_config cfg;
  asr_rng rng;
  asr_gradcheck_param p[64];
  asr_real *g;
  int k;
  w2v_learn_cfg(&cfg, "toy-wav2vec");
  cfg.channels = 4;
  asr_rng_seed(&rng, 52, 0);
  CHECK_OK(asr_w2v_model_create(&f.m, &cfg, &rng, NULL, NULL));
  f.B = 2, f.n = 465 + 11 * 160;
  f.wave = rnd(&rng, (size_t)f.B * f.n, 0.3);
  f.wb = asr_w2v_model_workspace_size(&f.m, f.B, f.n);
  f.work = talloc_(f.wb);
  asr_params_zero_grad(&f.m.params);
  w2v_model_f(&f);
  g = TALLOC(asr_real, f.m.params.total);
  memcpy(g, f.m.params.grad, sizeof(asr_real) * f.m.params.total);
  for (k = 0; k < f.m.params.count && k < 64; k++)
    set_param(&p[k], f.m.params.items[k].name, asr_params_ptr(&f.m.params, k), g + f.m.params.items[k].offset,
              f.m.params.items[k].count);
  RELU_GRADCHECK(w2v_model_f, &f, p, k, "wav2vec step");
  asr_w2v_model_free(&f.m);
  free(f.wave), free(f.work), free(g);
#else
  RELU_GRADCHECK_SKIP();
#endif
}

/* save, load: the same tensors and the same evaluation loss; bad input refused */
static void t_w2v_model_checkpoint_and_bad_input(tctx *t) {
  static const char *names[3] = {"toy-wav2vec", "toy-vq-wav2vec-gumbel", "toy-vq-wav2vec-kmeans"};
  int k, n = 465 + 20 * 160;
  for (k = 0; k < 3; k++) {
    asr_w2v_config cfg;
    asr_w2v_model m, m2;
    asr_w2v_stats s1, s2;
    asr_rng rng;
    asr_error err;
    char path[512];
    size_t wb, i;
    void *work;
    asr_real *wave = TALLOC(asr_real, (size_t)2 * n);
    w2v_learn_cfg(&cfg, names[k]);
    asr_rng_seed(&rng, 43, 0);
    CHECK_OK(asr_w2v_model_create(&m, &cfg, &rng, NULL, NULL));
    w2v_toy_signal(wave, 2, n, &rng);
    snprintf(path, sizeof path, "%s/w2v_%d.npz", t->tmpdir, k);
    CHECK_OK(asr_w2v_model_save(&m, path, &err));
    CHECK_OK(asr_w2v_model_load(&m2, path, NULL, &err));
    CHECK(m2.params.total == m.params.total);
    for (i = 0; i < m.params.total; i++)         /* float32 in the file: the double build rounds */
      CHECK(m2.params.data[i] == (asr_real)(float)m.params.data[i]);
    memcpy(m.params.data, m2.params.data, sizeof(asr_real) * m.params.total);
    wb = asr_w2v_model_workspace_size(&m, 2, n);
    CHECK(wb == asr_w2v_model_workspace_size(&m2, 2, n));
    work = talloc_(wb);
    asr_rng_seed(&rng, 44, 0);
    CHECK_OK(asr_w2v_model_step(&m, &s1, wave, 2, n, 0, 0, &rng, work, wb, &err));
    asr_rng_seed(&rng, 44, 0);
    CHECK_OK(asr_w2v_model_step(&m2, &s2, wave, 2, n, 0, 0, &rng, work, wb, &err));
    CHECK(s1.loss == s2.loss && s1.correct == s2.correct);
    /* shorter than the receptive field; K >= T; fewer frames than negatives */
    CHECK(asr_w2v_model_step(&m, &s1, wave, 2, 464, 0, 0, &rng, work, wb, &err) == ASR_ERR_SHAPE);
    CHECK(asr_w2v_model_step(&m, &s1, wave, 1, 465 + 160, 0, 0, &rng, work, wb, &err) == ASR_ERR_SHAPE);
    CHECK(asr_w2v_model_step(&m, &s1, wave, 1, 465 + 3 * 160, 0, 0, &rng, work, wb, &err) == ASR_ERR_SHAPE);
    CHECK(strstr(err.msg, "negatives") != NULL);
    CHECK(asr_w2v_model_step(&m, &s1, wave, 2, n, 0, 0, &rng, work, wb - 1, &err) == ASR_ERR_WORKSPACE);
    asr_w2v_model_free(&m), asr_w2v_model_free(&m2);
    free(work), free(wave);
  }
}

/* A config-only checkpoint claiming the largest wav2vec the config check allows (4096
 * channels, context layers of 1024 taps: 1.7e10 weights each) is refused by the tensor it
 * lacks, before anything of that size is allocated (the loader that allocated first asked
 * for tens of GB here). */
static void t_w2v_model_load_huge_claim(tctx *t) {
  asr_w2v_config cfg;
  asr_w2v_model m;
  asr_npz_writer w;
  asr_error err;
  char path[512], json[2048];
  int64_t n;
  int l;
  CHECK_OK(asr_w2v_config_default(&cfg, "toy-vq-wav2vec-gumbel"));
  cfg.channels = 4096;
  for (l = 0; l < cfg.agg_layers; l++) cfg.agg_kernel[l] = 1024;
  CHECK_OK(asr_w2v_config_check(&cfg, &err));
  CHECK(asr_w2v_config_to_json(&cfg, json, sizeof json) < (int)sizeof json);
  n = (int64_t)strlen(json);
  snprintf(path, sizeof path, "%s/w2v_huge.npz", t->tmpdir);
  CHECK_OK(asr_npz_writer_open(&w, path, NULL, &err));
  CHECK_OK(asr_npz_writer_add(&w, "config", ASR_DTYPE_U8, 1, &n, json, &err));
  CHECK_OK(asr_npz_writer_close(&w, &err));
  CHECKF(asr_w2v_model_load(&m, path, NULL, &err) == ASR_ERR_FORMAT &&
         strstr(err.msg, "missing tensor 'feature_extractor.conv_layers.0.0.weight'"), "%s", err.msg);
  asr_w2v_model_free(&m);                             /* zeroed by the failed load: safe */
}

static const test_case TESTS_w2v[] = {
  {"w2v/group_norm_gradcheck", t_group_norm_gradcheck},
  {"w2v/group_norm_tiers", t_group_norm_tiers},
  {"w2v/group_norm_fast_tails", t_group_norm_fast_tails},
  {"w2v/group_norm_one_group_is_layer_norm", t_group_norm_one_group_is_layer_norm},
  {"w2v/group_norm_bad_input", t_group_norm_bad_input},
  {"w2v/encoder_frames", t_w2v_encoder_frames},
  {"w2v/encoder_gradcheck", t_w2v_encoder_gradcheck},
  {"w2v/encoder_tiers", t_w2v_encoder_tiers},
  {"w2v/encoder_bad_input", t_w2v_encoder_bad_input},
  {"w2v/context_gradcheck", t_w2v_context_gradcheck},
  {"w2v/context_tiers", t_w2v_context_tiers},
  {"w2v/contrastive_gradcheck", t_w2v_contrastive_gradcheck},
  {"w2v/contrastive_tiers", t_w2v_contrastive_tiers},
  {"w2v/contrastive_negatives_and_accuracy", t_w2v_contrastive_negatives_and_accuracy},
  {"w2v/contrastive_bad_input", t_w2v_contrastive_bad_input},
  {"w2v/model_gradcheck", t_w2v_model_gradcheck},
  {"w2v/model_learns", t_w2v_model_learns},
  {"w2v/model_checkpoint_and_bad_input", t_w2v_model_checkpoint_and_bad_input},
  {"w2v/model_load_huge_claim", t_w2v_model_load_huge_claim},
  {0, 0},
};
