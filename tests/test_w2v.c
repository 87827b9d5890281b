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

static const test_case TESTS_w2v[] = {
  {"w2v/group_norm_gradcheck", t_group_norm_gradcheck},
  {"w2v/group_norm_tiers", t_group_norm_tiers},
  {"w2v/group_norm_one_group_is_layer_norm", t_group_norm_one_group_is_layer_norm},
  {"w2v/group_norm_bad_input", t_group_norm_bad_input},
  {0, 0},
};
