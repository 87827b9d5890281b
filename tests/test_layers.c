/* tests/test_layers.c - sections 4.1 (basic layers), 4.2 (convolutions, SE, ContextNet)
 * and 4.5 (optimizers and schedules).
 *
 * Gradients: every backward is checked against asr_gradcheck's fourth-order central
 * differences of f = sum(G * y) with a random G, w.r.t. the input and every parameter.
 * Tolerance GC_TOL: 1e-6 relative in the double build (the differences themselves are
 * good to ~1e-10 there, so 1e-6 leaves room only for rounding, not for a wrong term);
 * 5e-2 in the float builds, where h = 3e-2 differences of float sums carry ~1e-2
 * relative error (asr_gradcheck's float defaults) - those runs only catch gross errors. */
#if ASR_REAL_DOUBLE
#define GC_TOL 1e-6
#else
#define GC_TOL 5e-2
#endif

/* Runs asr_gradcheck and fails the test above GC_TOL, naming the worst element. */
#define GRADCHECK(f, ctx, params, n)                                                       \
  do {                                                                                     \
    asr_gradcheck_report rep_;                                                             \
    asr_rng grng_;                                                                         \
    asr_rng_seed(&grng_, 99, 1);                                                           \
    CHECK_OK(asr_gradcheck(f, ctx, params, n, NULL, &grng_, &rep_));                       \
    CHECKF(rep_.max_rel_err <= GC_TOL, "%s[%ld]: numeric %.10g, analytic %.10g, rel %.3g", \
           rep_.worst_param, rep_.worst_index, rep_.worst_numeric, rep_.worst_analytic,    \
           rep_.max_rel_err);                                                              \
  } while (0)

static void set_param(asr_gradcheck_param *p, const char *name, asr_real *x, const asr_real *g,
                      size_t n) {
  p->name = name;
  p->x = x;
  p->grad = g;
  p->n = n;
}

static double dot_real(const asr_real *a, const asr_real *b, size_t n) {
  double s = 0;
  size_t i;
  for (i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

static asr_real *rnd(asr_rng *rng, size_t n, double scale) {
  asr_real *p = TALLOC(asr_real, n);
  size_t i;
  for (i = 0; i < n; i++) p[i] = (asr_real)(scale * asr_rng_normal(rng));
  return p;
}

/* ======================================================================================
 * 4.1 linear
 * ====================================================================================== */
typedef struct lin_ctx {
  asr_real *x, *W, *b, *y, *G;
  int M, I, O;
} lin_ctx;
static double lin_f(void *v) {
  lin_ctx *c = (lin_ctx *)v;
  asr_linear_forward(c->y, c->x, c->W, c->b, c->M, c->I, c->O);
  return dot_real(c->G, c->y, (size_t)c->M * c->O);
}

static void t_linear_gradcheck(tctx *t) {
  lin_ctx c;
  asr_rng rng;
  asr_real *dx, *dW, *db;
  asr_gradcheck_param p[3];
  asr_rng_seed(&rng, 1, 0);
  c.M = 5, c.I = 6, c.O = 3;
  c.x = rnd(&rng, 30, 1), c.W = rnd(&rng, 18, 1), c.b = rnd(&rng, 3, 1), c.G = rnd(&rng, 15, 1);
  c.y = TALLOC(asr_real, 15);
  dx = TALLOC(asr_real, 30), dW = TALLOC(asr_real, 18), db = TALLOC(asr_real, 3);
  CHECK_OK(asr_linear_backward(dx, dW, db, c.G, c.x, c.W, c.M, c.I, c.O));
  set_param(&p[0], "x", c.x, dx, 30);
  set_param(&p[1], "W", c.W, dW, 18);
  set_param(&p[2], "b", c.b, db, 3);
  GRADCHECK(lin_f, &c, p, 3);
  free(c.x), free(c.W), free(c.b), free(c.G), free(c.y), free(dx), free(dW), free(db);
}

/* _ref and the fast path against the definition y_mo = sum_i x_mi W_oi + b_o written as
 * a loop here (in double). Tolerance: sums of 37 products of N(0,1) numbers in float
 * have rounding errors around 1e-6 * sqrt(37) * |terms|; 1e-4 is ~20x that. */
static void t_linear_ref_vs_loop(tctx *t) {
  const int M = 7, I = 37, O = 9;
  asr_rng rng;
  asr_real *x, *W, *b, *y1, *y2;
  double worst = 0;
  int m, o, i;
  asr_rng_seed(&rng, 2, 0);
  x = rnd(&rng, (size_t)M * I, 1), W = rnd(&rng, (size_t)O * I, 1), b = rnd(&rng, O, 1);
  y1 = TALLOC(asr_real, (size_t)M * O), y2 = TALLOC(asr_real, (size_t)M * O);
  CHECK_OK(asr_linear_forward_ref(y1, x, W, b, M, I, O));
  CHECK_OK(asr_linear_forward(y2, x, W, b, M, I, O));
  for (m = 0; m < M; m++)
    for (o = 0; o < O; o++) {
      double s = b[o];
      for (i = 0; i < I; i++) s += (double)x[m * I + i] * W[o * I + i];
      worst = fmax(worst, fabs(s - y1[m * O + o]));
      worst = fmax(worst, fabs(s - y2[m * O + o]));
    }
  CHECKF(worst < (ASR_REAL_DOUBLE ? 1e-12 : 1e-4), "worst |diff| %.3g", worst);
  CHECK(asr_linear_forward(y1, x, W, b, -1, I, O) == ASR_ERR_INVALID_ARG);
  free(x), free(W), free(b), free(y1), free(y2);
}

/* The three tiers of linear, forward and backward, against each other: _naive (one loop
 * per index, in double) against _ref and the fast path (GEMMs in asr_real), on M 7, I 37,
 * O 9 with a bias, accumulating into gradients that start non-zero. Tolerance as above:
 * the float GEMMs' sums of 37 (dx: 9, dW: 7) products carry errors near 1e-6 of their
 * terms, 1e-4 is ~20x that; double: 1e-12. _naive refuses M I O > 2^26. */
static void t_linear_naive_vs_ref(tctx *t) {
  const int M = 7, I = 37, O = 9;
  asr_rng rng;
  asr_real *x, *W, *b, *dy, *y[3], *dx[3], *dW[3], *db[3];
  double worst = 0, tol = ASR_REAL_DOUBLE ? 1e-12 : 1e-4;
  int k, i;
  asr_rng_seed(&rng, 12, 0);
  x = rnd(&rng, (size_t)M * I, 1), W = rnd(&rng, (size_t)O * I, 1), b = rnd(&rng, O, 1);
  dy = rnd(&rng, (size_t)M * O, 1);
  for (k = 0; k < 3; k++) {
    asr_rng same;
    asr_rng_seed(&same, 13, 0);                    /* the same non-zero starting gradients */
    y[k] = TALLOC(asr_real, (size_t)M * O);
    dx[k] = rnd(&same, (size_t)M * I, 1), dW[k] = rnd(&same, (size_t)O * I, 1), db[k] = rnd(&same, O, 1);
  }
  CHECK_OK(asr_linear_forward_naive(y[0], x, W, b, M, I, O));
  CHECK_OK(asr_linear_forward_ref(y[1], x, W, b, M, I, O));
  CHECK_OK(asr_linear_forward(y[2], x, W, b, M, I, O));
  CHECK_OK(asr_linear_backward_naive(dx[0], dW[0], db[0], dy, x, W, M, I, O));
  CHECK_OK(asr_linear_backward_ref(dx[1], dW[1], db[1], dy, x, W, M, I, O));
  CHECK_OK(asr_linear_backward(dx[2], dW[2], db[2], dy, x, W, M, I, O));
  for (k = 1; k < 3; k++) {
    for (i = 0; i < M * O; i++) worst = fmax(worst, fabs((double)y[k][i] - y[0][i]));
    for (i = 0; i < M * I; i++) worst = fmax(worst, fabs((double)dx[k][i] - dx[0][i]));
    for (i = 0; i < O * I; i++) worst = fmax(worst, fabs((double)dW[k][i] - dW[0][i]));
    for (i = 0; i < O; i++) worst = fmax(worst, fabs((double)db[k][i] - db[0][i]));
  }
  CHECKF(worst <= tol, "worst |naive - ref or fast| %.3g > %.3g", worst, tol);
  CHECK(asr_linear_forward_naive(y[0], x, W, b, 4096, 4096, 5) == ASR_ERR_TOO_LARGE);
  CHECK(asr_linear_backward_naive(dx[0], NULL, NULL, dy, x, W, 4096, 4096, 5) == ASR_ERR_TOO_LARGE);
  CHECK(asr_linear_forward_naive(NULL, x, W, b, M, I, O) == ASR_ERR_INVALID_ARG);
  snprintf(t->msg, sizeof t->msg, "forward and backward, worst %.2e", worst);
  for (k = 0; k < 3; k++) free(y[k]), free(dx[k]), free(dW[k]), free(db[k]);
  free(x), free(W), free(b), free(dy);
}

/* ======================================================================================
 * 4.1 activations, GLU
 * ====================================================================================== */
typedef struct act_ctx {
  asr_real *x, *y, *G;
  size_t n;
  int which;   /* 0 relu, 1 sigmoid, 2 tanh, 3 swish */
} act_ctx;
static double act_f(void *v) {
  act_ctx *c = (act_ctx *)v;
  switch (c->which) {
    case 0: asr_relu_forward(c->y, c->x, c->n); break;
    case 1: asr_sigmoid_forward(c->y, c->x, c->n); break;
    case 2: asr_tanh_forward(c->y, c->x, c->n); break;
    default: asr_swish_forward(c->y, c->x, c->n); break;
  }
  return dot_real(c->G, c->y, c->n);
}

static void t_activations_gradcheck(tctx *t) {
  static const char *names[4] = {"relu", "sigmoid", "tanh", "swish"};
  act_ctx c;
  asr_rng rng;
  asr_real dx[40];
  asr_gradcheck_param p;
  size_t i;
  asr_rng_seed(&rng, 3, 0);
  c.n = 40;
  c.x = rnd(&rng, 40, 3), c.G = rnd(&rng, 40, 1), c.y = TALLOC(asr_real, 40);
  /* relu is not differentiable at 0: keep every x at least 0.2 away from it (the finite
   * difference steps are 2h = 2e-3 in double, 6e-2 in float) */
  for (i = 0; i < c.n; i++)
    if (fabs(c.x[i]) < 0.2) c.x[i] = (asr_real)(c.x[i] < 0 ? -0.2 : 0.2);
  for (c.which = 0; c.which < 4; c.which++) {
    memset(dx, 0, sizeof dx);
    act_f(&c);
    if (c.which == 0) asr_relu_backward(dx, c.G, c.x, c.n);
    if (c.which == 1) asr_sigmoid_backward(dx, c.G, c.y, c.n);
    if (c.which == 2) asr_tanh_backward(dx, c.G, c.y, c.n);
    if (c.which == 3) asr_swish_backward(dx, c.G, c.x, c.n);
    set_param(&p, names[c.which], c.x, dx, c.n);
    GRADCHECK(act_f, &c, &p, 1);
  }
  /* values against libm: sigmoid(0) = 1/2, swish(1) = 1/(1+e^-1), large |x| finite */
  {
    asr_real xs[4] = {0, 1, -800, 800}, ys[4];
    asr_sigmoid_forward(ys, xs, 4);
    CHECK(ys[0] == (asr_real)0.5 && ys[2] == 0 && ys[3] == 1);
    asr_swish_forward(ys, xs, 4);
    CHECK_NEAR(ys[1], 1 / (1 + exp(-1.0)), 1e-7);
    CHECK(ys[2] == 0 && ys[3] == 800);   /* no NaN from -800 * e^-800 / (1 + e^-800) */
  }
  free(c.x), free(c.G), free(c.y);
}

/* swish's fast kernels (AVX2: 8 lanes and masked tails; NEON: 4 lanes and padded tails)
 * against the formulas in double from libm's exp, every length 1..37 (all tail sizes),
 * x in [-12, 12]: forward y = x s, backward dx += dy s (1 + x (1 - s)) accumulating onto a
 * nonzero dx. Bound: 1e-6 relative to |y|, |dy s (1 + x (1 - s))| + |dx| (the kernels'
 * float steps give a few 1e-7). */
static void t_swish_tails(tctx *t) {
  asr_real x[37], y[37], dy[37], dx[37], dx0[37];
  asr_rng rng;
  double worst = 0;
  int n, i;
  asr_rng_seed(&rng, 21, 0);
  for (n = 1; n <= 37; n++) {
    fill_uniform(&rng, x, (size_t)n, -12, 12);
    fill_uniform(&rng, dy, (size_t)n, -1, 1);
    fill_uniform(&rng, dx0, (size_t)n, -1, 1);
    memcpy(dx, dx0, sizeof(asr_real) * (size_t)n);
    asr_swish_forward(y, x, (size_t)n);
    asr_swish_backward(dx, dy, x, (size_t)n);
    for (i = 0; i < n; i++) {
      double s = 1 / (1 + exp(-(double)x[i])), d = (double)dy[i] * s * (1 + x[i] * (1 - s));
      double ey = fabs(y[i] - x[i] * s) / (fabs(x[i] * s) + 1e-30);
      double ed = fabs(dx[i] - (dx0[i] + d)) / (fabs(d) + fabs(dx0[i]));
      worst = fmax(worst, fmax(ey, ed));
    }
  }
  CHECKF(worst < 1e-6, "worst relative error %.3g", worst);
  snprintf(t->msg, sizeof t->msg, "lengths 1..37, worst relative error %.2g", worst);
}

typedef struct glu_ctx {
  asr_real *x, *y, *G;
  int outer, C, inner;
} glu_ctx;
static double glu_f(void *v) {
  glu_ctx *c = (glu_ctx *)v;
  asr_glu_forward(c->y, c->x, c->outer, c->C, c->inner);
  return dot_real(c->G, c->y, (size_t)c->outer * c->C * c->inner);
}

static void t_glu(tctx *t) {
  glu_ctx c;
  asr_rng rng;
  asr_real *dx;
  asr_gradcheck_param p;
  int k;
  asr_rng_seed(&rng, 4, 0);
  for (k = 0; k < 2; k++) {
    /* (N=2, 2C=6, T=5) split on dim 1, then (M=5, 2C=8) split on the last dim */
    c.outer = k ? 5 : 2, c.C = k ? 4 : 3, c.inner = k ? 1 : 5;
    {
      size_t n = (size_t)c.outer * 2 * c.C * c.inner, ny = n / 2;
      c.x = rnd(&rng, n, 2), c.G = rnd(&rng, ny, 1), c.y = TALLOC(asr_real, ny);
      dx = TALLOC(asr_real, n);
      glu_f(&c);
      /* y = a * sigmoid(b) at one element, computed here directly */
      {
        int o = 1, ch = c.C - 1, i = c.inner - 1;
        double a = c.x[((size_t)o * 2 * c.C + ch) * c.inner + i];
        double b = c.x[((size_t)o * 2 * c.C + c.C + ch) * c.inner + i];
        CHECK_NEAR(c.y[((size_t)o * c.C + ch) * c.inner + i], a / (1 + exp(-b)),
                   ASR_REAL_DOUBLE ? 1e-14 : 1e-6);
      }
      CHECK_OK(asr_glu_backward(dx, c.G, c.x, c.outer, c.C, c.inner));
      set_param(&p, "x", c.x, dx, n);
      GRADCHECK(glu_f, &c, &p, 1);
      free(c.x), free(c.G), free(c.y), free(dx);
    }
  }
}

/* ======================================================================================
 * 4.1 dropout, embedding
 * ====================================================================================== */
/* Keep rate and scaling over 100000 draws with p = 0.3: the kept fraction has standard
 * error sqrt(0.21/1e5) = 1.45e-3; 5 standard errors. Backward uses the same mask. */
static void t_dropout(tctx *t) {
  const size_t n = 100000;
  asr_real *x = TALLOC(asr_real, n), *y = TALLOC(asr_real, n), *dx = TALLOC(asr_real, n);
  unsigned char *mask = TALLOC(unsigned char, n), *mask2 = TALLOC(unsigned char, n);
  asr_rng rng, rng2;
  size_t i, kept = 0;
  for (i = 0; i < n; i++) x[i] = (asr_real)(1 + i % 7);
  asr_rng_seed(&rng, 5, 0);
  CHECK_OK(asr_dropout_forward(y, mask, x, n, 0.3, &rng));
  for (i = 0; i < n; i++) {
    kept += mask[i];
    CHECK(mask[i] ? fabs(y[i] - x[i] / 0.7) < 1e-5 * x[i] : y[i] == 0);
  }
  CHECK_NEAR((double)kept / n, 0.7, 5 * 1.45e-3);
  CHECK_OK(asr_dropout_backward(dx, x, mask, n, 0.3));   /* dy = x: dx must equal y */
  CHECK(max_abs_diff(dx, y, n) < 1e-5 * 7);
  /* the same seed gives the same mask */
  asr_rng_seed(&rng2, 5, 0);
  CHECK_OK(asr_dropout_forward(dx, mask2, x, n, 0.3, &rng2));
  CHECK(memcmp(mask, mask2, n) == 0);
  /* p = 0 is the identity, p = 1 gives zeros; p outside [0,1] is refused */
  CHECK_OK(asr_dropout_forward(y, mask, x, n, 0.0, &rng));
  CHECK(max_abs_diff(x, y, n) == 0);
  CHECK_OK(asr_dropout_forward(y, mask, x, n, 1.0, &rng));
  for (i = 0; i < n; i++) CHECK(y[i] == 0);
  CHECK(asr_dropout_forward(y, mask, x, n, 1.5, &rng) == ASR_ERR_INVALID_ARG);
  free(x), free(y), free(dx), free(mask), free(mask2);
}

static void t_embedding(tctx *t) {
  const int V = 5, D = 3, M = 6;
  int ids[6] = {1, 4, 1, 0, 2, 1}, bad[2] = {0, 5};
  asr_rng rng;
  asr_real *W, y[18], dy[18], dW[15];
  int m, d;
  asr_rng_seed(&rng, 6, 0);
  W = rnd(&rng, 15, 1);
  for (m = 0; m < 18; m++) dy[m] = (asr_real)(m + 1);
  CHECK_OK(asr_embedding_forward(y, ids, W, M, V, D));
  for (m = 0; m < M; m++)
    for (d = 0; d < D; d++) CHECK(y[m * D + d] == W[ids[m] * D + d]);
  memset(dW, 0, sizeof dW);
  CHECK_OK(asr_embedding_backward(dW, dy, ids, M, V, D, 4));   /* row 4 is padding */
  /* row 1 is used by m = 0, 2, 5: dW[1][d] = dy[0][d] + dy[2][d] + dy[5][d] */
  for (d = 0; d < D; d++) CHECK(dW[1 * D + d] == dy[d] + dy[6 + d] + dy[15 + d]);
  for (d = 0; d < D; d++) CHECK(dW[4 * D + d] == 0 && dW[3 * D + d] == 0);
  CHECK(asr_embedding_forward(y, bad, W, 2, V, D) == ASR_ERR_RANGE);
  free(W);
}

/* ======================================================================================
 * 4.1 layer norm, batch norm
 * ====================================================================================== */
typedef struct ln_ctx {
  asr_real *x, *g, *b, *y, *G, *mean, *rstd;
  int M, C;
} ln_ctx;
static double ln_f(void *v) {
  ln_ctx *c = (ln_ctx *)v;
  asr_layer_norm_forward(c->y, c->mean, c->rstd, c->x, c->g, c->b, c->M, c->C, 1e-5);
  return dot_real(c->G, c->y, (size_t)c->M * c->C);
}

static void t_layer_norm(tctx *t) {
  ln_ctx c;
  asr_rng rng;
  asr_real *dx, *dg, *db;
  asr_gradcheck_param p[3];
  int m, k;
  asr_rng_seed(&rng, 7, 0);
  c.M = 3, c.C = 8;
  c.x = rnd(&rng, 24, 2), c.g = rnd(&rng, 8, 1), c.b = rnd(&rng, 8, 1), c.G = rnd(&rng, 24, 1);
  c.y = TALLOC(asr_real, 24), c.mean = TALLOC(asr_real, 3), c.rstd = TALLOC(asr_real, 3);
  dx = TALLOC(asr_real, 24), dg = TALLOC(asr_real, 8), db = TALLOC(asr_real, 8);
  /* without the affine part each row has mean 0 and biased variance 1 - eps rstd^2 */
  CHECK_OK(asr_layer_norm_forward(c.y, c.mean, c.rstd, c.x, NULL, NULL, c.M, c.C, 1e-5));
  for (m = 0; m < c.M; m++) {
    double s = 0, s2 = 0;
    for (k = 0; k < c.C; k++) s += c.y[m * 8 + k], s2 += (double)c.y[m * 8 + k] * c.y[m * 8 + k];
    CHECK_NEAR(s / 8, 0, 1e-6);
    CHECK_NEAR(s2 / 8, 1 - 1e-5 * (double)c.rstd[m] * c.rstd[m], 1e-5);
  }
  ln_f(&c);
  CHECK_OK(asr_layer_norm_backward(dx, dg, db, c.G, c.x, c.mean, c.rstd, c.g, c.M, c.C));
  set_param(&p[0], "x", c.x, dx, 24);
  set_param(&p[1], "gamma", c.g, dg, 8);
  set_param(&p[2], "beta", c.b, db, 8);
  GRADCHECK(ln_f, &c, p, 3);
  free(c.x), free(c.g), free(c.b), free(c.G), free(c.y), free(c.mean), free(c.rstd);
  free(dx), free(dg), free(db);
}

typedef struct bn_ctx {
  asr_real *x, *g, *b, *y, *G, *mean, *rstd, *rm, *rv;
  const int *len;
  int N, C, T, training;
} bn_ctx;
static double bn_f(void *v) {
  bn_ctx *c = (bn_ctx *)v;
  /* running statistics are not passed in training (they would drift across probes) */
  asr_batch_norm_forward(c->y, c->mean, c->rstd, c->training ? NULL : c->rm,
                         c->training ? NULL : c->rv, c->x, c->g, c->b, c->len, c->N, c->C, c->T,
                         c->training, 0.1, 1e-5);
  return dot_real(c->G, c->y, (size_t)c->N * c->C * c->T);
}

static void t_batch_norm_gradcheck(tctx *t) {
  static const int len[3] = {4, 2, 5};
  bn_ctx c;
  asr_rng rng;
  asr_real *dx, *dg, *db;
  asr_gradcheck_param p[3];
  int k, n, ch, tt;
  asr_rng_seed(&rng, 8, 0);
  c.N = 3, c.C = 3, c.T = 5;
  for (k = 0; k < 4; k++) {
    c.training = k & 1;
    c.len = k & 2 ? len : NULL;
    c.x = rnd(&rng, 45, 2), c.g = rnd(&rng, 3, 1), c.b = rnd(&rng, 3, 1), c.G = rnd(&rng, 45, 1);
    c.rm = rnd(&rng, 3, 1), c.rv = TALLOC(asr_real, 3);
    for (ch = 0; ch < 3; ch++) c.rv[ch] = (asr_real)(0.5 + ch);
    c.y = TALLOC(asr_real, 45), c.mean = TALLOC(asr_real, 3), c.rstd = TALLOC(asr_real, 3);
    dx = TALLOC(asr_real, 45), dg = TALLOC(asr_real, 3), db = TALLOC(asr_real, 3);
    bn_f(&c);
    /* padded outputs are exactly 0 */
    if (c.len)
      for (n = 0; n < 3; n++)
        for (ch = 0; ch < 3; ch++)
          for (tt = len[n]; tt < 5; tt++) CHECK(c.y[(n * 3 + ch) * 5 + tt] == 0);
    CHECK_OK(asr_batch_norm_backward(dx, dg, db, c.G, c.x, c.mean, c.rstd, c.g, c.len, c.N, c.C,
                                     c.T, c.training));
    set_param(&p[0], "x", c.x, dx, 45);
    set_param(&p[1], "gamma", c.g, dg, 3);
    set_param(&p[2], "beta", c.b, db, 3);
    GRADCHECK(bn_f, &c, p, 3);
    free(c.x), free(c.g), free(c.b), free(c.G), free(c.y), free(c.mean), free(c.rstd);
    free(c.rm), free(c.rv), free(dx), free(dg), free(db);
  }
}

/* The running averages after one training step, against the definitions computed here
 * from the data in double: mean, and the unbiased variance sum (x - mean)^2 / (n - 1). */
static void t_batch_norm_running_stats(tctx *t) {
  asr_real x[12] = {1, 2, 3, 4, 10, 20, 30, 40, -1, 0, 1, 5}, y[12], mean[2], rstd[2];
  asr_real rm[2] = {0.5f, -1}, rv[2] = {2, 3};
  /* (N=2, C=2, T=3): channel 0 holds 1,2,3,-1,0,1... laid out (n, c, t) */
  double m0 = 0, v0 = 0;
  int n, tt;
  CHECK_OK(asr_batch_norm_forward(y, mean, rstd, rm, rv, x, NULL, NULL, NULL, 2, 2, 3, 1, 0.25, 0));
  for (n = 0; n < 2; n++)
    for (tt = 0; tt < 3; tt++) m0 += x[(n * 2 + 0) * 3 + tt];
  m0 /= 6;
  for (n = 0; n < 2; n++)
    for (tt = 0; tt < 3; tt++) v0 += pow(x[(n * 2 + 0) * 3 + tt] - m0, 2);
  CHECK_NEAR(mean[0], m0, 1e-6);
  CHECK_NEAR(rm[0], 0.75 * 0.5 + 0.25 * m0, 1e-6);
  CHECK_NEAR(rv[0], 0.75 * 2 + 0.25 * v0 / 5, 1e-6);
  CHECK_NEAR(rstd[0], 1 / sqrt(v0 / 6), 1e-6);
  /* n = 1 value per channel cannot be normalized in training */
  CHECK(asr_batch_norm_forward(y, mean, rstd, rm, rv, x, NULL, NULL, NULL, 1, 2, 1, 1, 0.1, 1e-5) ==
        ASR_ERR_SHAPE);
}

/* ======================================================================================
 * 4.1 cross-entropy with label smoothing
 * ====================================================================================== */
typedef struct ce_ctx {
  asr_real *x, *loss, *logp, *w;
  const int *y;
  int M, V, ig;
  double eps;
} ce_ctx;
static double ce_f(void *v) {
  ce_ctx *c = (ce_ctx *)v;
  int cnt;
  asr_cross_entropy_forward(c->loss, c->logp, &cnt, c->x, c->y, c->M, c->V, c->eps, c->ig);
  return dot_real(c->w, c->loss, (size_t)c->M);
}

static void t_cross_entropy(tctx *t) {
  static const int y[5] = {2, -100, 0, 6, 3};
  ce_ctx c;
  asr_rng rng;
  asr_real *dx;
  asr_gradcheck_param p;
  int cnt, v;
  asr_rng_seed(&rng, 9, 0);
  c.M = 5, c.V = 7, c.ig = -100, c.y = y, c.eps = 0.1;
  c.x = rnd(&rng, 35, 2), c.w = rnd(&rng, 5, 1);
  c.loss = TALLOC(asr_real, 5), c.logp = TALLOC(asr_real, 35), dx = TALLOC(asr_real, 35);
  ce_f(&c);
  CHECK(c.loss[1] == 0);
  CHECK_OK(asr_cross_entropy_backward(dx, c.w, c.logp, c.y, c.M, c.V, c.eps, c.ig));
  for (v = 0; v < 7; v++) CHECK(dx[7 + v] == 0);   /* the ignored row has no gradient */
  set_param(&p, "logits", c.x, dx, 35);
  GRADCHECK(ce_f, &c, &p, 1);
  /* equal logits: every logp is -log V, so loss = log V whatever eps (independent value) */
  {
    asr_real z[7] = {3, 3, 3, 3, 3, 3, 3}, l, lp[7];
    int tgt = 4;
    CHECK_OK(asr_cross_entropy_forward(&l, lp, &cnt, z, &tgt, 1, 7, 0.3, -1));
    CHECK_NEAR(l, log(7.0), 1e-6);
    CHECK(cnt == 1);
  }
  CHECK(asr_cross_entropy_forward(c.loss, c.logp, &cnt, c.x, y, 5, 6, 0, -100) == ASR_ERR_RANGE);
  free(c.x), free(c.w), free(c.loss), free(c.logp), free(dx);
}

/* ======================================================================================
 * 4.2 convolutions: the conformance checkers of section 10.2 on every tier
 * ====================================================================================== */
static void layers_report_line(void *user, const char *line) {
  (void)user;
  if (getenv("ASR_TEST_VERBOSE")) printf("    %s\n", line);
}

#define LAYERS_CHECKER(call)                                                                  \
  do {                                                                                     \
    asr_check_report rep_;                                                                 \
    memset(&rep_, 0, sizeof rep_);                                                         \
    rep_.log = layers_report_line;                                                                \
    CHECK_OK(call);                                                                        \
    CHECKF(rep_.failed == 0 && rep_.passed > 0, "%d of %d cases failed; first: %s",        \
           rep_.failed, rep_.failed + rep_.passed, rep_.first_failure);                    \
    snprintf(t->msg, sizeof t->msg, "%d cases, worst %.2g", rep_.passed, rep_.worst);     \
  } while (0)

static void t_conv1d_check_naive(tctx *t) {
  LAYERS_CHECKER(asr_check_conv1d(asr_conv1d_forward_naive, asr_conv1d_backward_naive, 1, &rep_));
}
static void t_conv1d_check_ref(tctx *t) {
  LAYERS_CHECKER(asr_check_conv1d(asr_conv1d_forward_ref, asr_conv1d_backward_ref, 2, &rep_));
}
static void t_conv1d_check_fast(tctx *t) {
  LAYERS_CHECKER(asr_check_conv1d(asr_conv1d_forward, asr_conv1d_backward, 3, &rep_));
}
static void t_dwsep_check_naive(tctx *t) {
  LAYERS_CHECKER(asr_check_dwsep_conv1d(asr_dwsep_conv1d_forward_naive, asr_dwsep_conv1d_backward_naive, 4, &rep_));
}
static void t_dwsep_check_ref(tctx *t) {
  LAYERS_CHECKER(asr_check_dwsep_conv1d(asr_dwsep_conv1d_forward_ref, asr_dwsep_conv1d_backward_ref, 5, &rep_));
}
static void t_dwsep_check_fast(tctx *t) {
  LAYERS_CHECKER(asr_check_dwsep_conv1d(asr_dwsep_conv1d_forward, asr_dwsep_conv1d_backward, 6, &rep_));
}

/* A deliberately wrong conv (one output off by 0.01) must fail the checker: the
 * checker is able to fail. */
static asr_result bad_conv_fwd(asr_real *y, const asr_real *x, const asr_real *w, const asr_real *b,
                               const int *lengths, const asr_conv1d_dims *d, void *work, size_t wb) {
  /* the definition, then one output off by 0.01 */
  asr_result r = asr_conv1d_forward_naive(y, x, w, b, lengths, d, work, wb);
  if (r == ASR_OK && d->N > 0) y[0] += (asr_real)0.01;
  return r;
}
static void t_conv1d_checker_can_fail(tctx *t) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  CHECK_OK(asr_check_conv1d(bad_conv_fwd, NULL, 7, &rep));
  CHECKF(rep.failed > 0, "a wrong forward passed all %d cases", rep.passed);
}

/* The depthwise and pointwise entry points are conv1d with groups = C / kernel 1: the
 * same numbers as the general _ref path (the depthwise one runs the AVX2 loop in the
 * float SIMD build; tolerance as the tier comparisons of the checkers). */
static void t_depthwise_pointwise_entry_points(tctx *t) {
  const int N = 2, C = 5, T = 23, K = 5, Co = 3;
  static const int len[2] = {23, 17};
  asr_conv1d_dims d;
  asr_rng rng;
  asr_real *x, *w, *b, *pw, *y1, *y2, *dy, *dx1, *dx2, *dw1, *dw2, *p1, *p2, *dyp, *dxp1, *dxp2, *dpw1, *dpw2;
  double tol = ASR_REAL_DOUBLE ? 1e-12 : 2e-5;
  asr_rng_seed(&rng, 10, 0);
  x = rnd(&rng, (size_t)N * C * T, 1), w = rnd(&rng, (size_t)C * K, 1), b = rnd(&rng, C, 1);
  pw = rnd(&rng, (size_t)Co * C, 1), dy = rnd(&rng, (size_t)N * C * T, 1), dyp = rnd(&rng, (size_t)N * Co * T, 1);
  y1 = TALLOC(asr_real, N * C * T), y2 = TALLOC(asr_real, N * C * T);
  dx1 = TALLOC(asr_real, N * C * T), dx2 = TALLOC(asr_real, N * C * T);
  dw1 = TALLOC(asr_real, C * K), dw2 = TALLOC(asr_real, C * K);
  p1 = TALLOC(asr_real, N * Co * T), p2 = TALLOC(asr_real, N * Co * T);
  dxp1 = TALLOC(asr_real, N * C * T), dxp2 = TALLOC(asr_real, N * C * T);
  dpw1 = TALLOC(asr_real, Co * C), dpw2 = TALLOC(asr_real, Co * C);
  asr_conv1d_dims_init(&d, N, C, C, T, K);
  d.padding = 2, d.groups = C;
  CHECK_OK(asr_depthwise_conv1d_forward(y1, x, w, b, len, N, C, T, K, 1, 2, 1));
  CHECK_OK(asr_conv1d_forward_ref(y2, x, w, b, len, &d, NULL, 0));
  CHECK(max_abs_diff(y1, y2, (size_t)N * C * T) <= tol * 10);
  CHECK_OK(asr_depthwise_conv1d_backward(dx1, dw1, NULL, dy, x, w, len, N, C, T, K, 1, 2, 1));
  CHECK_OK(asr_conv1d_backward_ref(dx2, dw2, NULL, dy, x, w, len, &d, NULL, 0));
  CHECK(max_abs_diff(dx1, dx2, (size_t)N * C * T) <= tol * 10);
  CHECK(max_abs_diff(dw1, dw2, (size_t)C * K) <= tol * 100);   /* sums of ~40 products */
  asr_conv1d_dims_init(&d, N, C, Co, T, 1);
  CHECK_OK(asr_pointwise_conv1d_forward(p1, x, pw, b, len, N, C, Co, T));
  CHECK_OK(asr_conv1d_forward_naive(p2, x, pw, b, len, &d, NULL, 0));
  CHECK(max_abs_diff(p1, p2, (size_t)N * Co * T) <= tol * 10);
  CHECK_OK(asr_pointwise_conv1d_backward(dxp1, dpw1, NULL, dyp, x, pw, len, N, C, Co, T));
  CHECK_OK(asr_conv1d_backward_naive(dxp2, dpw2, NULL, dyp, x, pw, len, &d, NULL, 0));
  CHECK(max_abs_diff(dxp1, dxp2, (size_t)N * C * T) <= tol * 10);
  CHECK(max_abs_diff(dpw1, dpw2, (size_t)Co * C) <= tol * 100);
  free(x), free(w), free(b), free(pw), free(dy), free(dyp), free(y1), free(y2), free(dx1), free(dx2);
  free(dw1), free(dw2), free(p1), free(p2), free(dxp1), free(dxp2), free(dpw1), free(dpw2);
}

/* The strided convolutions of wav2vec's encoder: one input channel per group (Cg_in = 1,
 * stride > 1: the first layer, strided depthwise ones; AVX2 tiles of 256 frames in the
 * float SIMD build) and im2col's rows at strides 1, 2, 4 (loads and shuffles) and 3 (the
 * scalar loop), and the stride-1 depthwise taps (AVX2, or NEON under make test-arm) at
 * T = 1, 17, 33, 65. The fast tier against _ref on odd sizes, several tiles and a short last
 * tile, lengths, kernels at and above the tile's 16 taps, padding and dilation, and arrays
 * one element off alignment. Gradients start at 0.25 (the tiers add). max|diff| relative
 * to max|ref|. */
static double rel_diff(const asr_real *a, const asr_real *b, size_t n) {
  double m = 0;
  size_t i;
  for (i = 0; i < n; i++)
    if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
  return max_abs_diff(a, b, n) / (m > 0 ? m : 1);
}
static void t_conv1d_strided(tctx *t) {
  /* N, C_in, C_out, groups, T_in, K, stride, padding, dilation */
  static const int cases[][9] = {
    {3, 1, 7, 1, 1001, 10, 5, 0, 1},   /* wav2vec's layer 1 shape, two tiles and a tail */
    {2, 1, 1, 1, 33, 1, 2, 0, 1},      /* one filter, one tap */
    {2, 1, 17, 1, 65, 7, 3, 2, 2},     /* padding, dilation */
    {2, 3, 6, 3, 517, 4, 2, 1, 1},     /* depthwise, multiplier 2, stride 2 */
    {1, 1, 33, 1, 2051, 16, 4, 0, 1},  /* 16 taps: the tile's widest */
    {2, 1, 5, 1, 301, 17, 2, 3, 1},    /* 17 taps: the scalar taps */
    {1, 1, 65, 1, 7, 7, 5, 0, 1},      /* one output frame */
    {2, 3, 5, 1, 301, 4, 2, 1, 1},     /* im2col, stride 2 */
    {2, 4, 6, 2, 517, 8, 4, 3, 1},     /* im2col, stride 4, two groups */
    {2, 2, 3, 1, 203, 3, 3, 0, 2},     /* im2col, stride 3, dilation 2 */
    {1, 2, 3, 1, 33, 5, 1, 2, 1},      /* im2col, stride 1 */
    {2, 7, 7, 7, 1, 1, 1, 0, 1},       /* depthwise taps (AVX2/NEON at stride 1): one frame */
    {2, 5, 10, 5, 17, 3, 1, 1, 1},     /* depthwise, multiplier 2, every vector tail */
    {1, 3, 3, 3, 33, 5, 1, 4, 2},      /* depthwise, padding, dilation */
    {2, 4, 4, 4, 65, 7, 1, 3, 1},      /* depthwise, 65 frames */
  };
  double tol = ASR_REAL_DOUBLE ? 1e-12 : 1e-5, worst = 0;
  size_t ci;
  for (ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const int *c = cases[ci];
    asr_conv1d_dims d;
    asr_rng rng;
    int lens[3], T_out, n, wl;
    size_t nx, nw, ny, i, wb;
    void *work;
    asr_real *x0, *w0, *b0, *dy0, *y1, *y2, *dx1, *dx2, *dw1, *dw2, *db1, *db2;
    asr_conv1d_dims_init(&d, c[0], c[1], c[2], c[4], c[5]);
    d.groups = c[3], d.stride = c[6], d.padding = c[7], d.dilation = c[8];
    CHECK_OK(asr_conv1d_validate(&d, NULL));
    wb = asr_conv1d_workspace_size(&d);
    work = wb ? malloc(wb) : NULL;
    T_out = asr_conv1d_out_frames(d.T_in, d.K, d.stride, d.padding, d.dilation);
    nx = (size_t)d.N * d.C_in * d.T_in, nw = (size_t)d.C_out * (d.C_in / d.groups) * d.K;
    ny = (size_t)d.N * d.C_out * T_out;
    for (n = 0; n < d.N; n++) lens[n] = d.T_in - (n * 97) % (d.T_in > 1 ? d.T_in / 2 + 1 : 1);
    asr_rng_seed(&rng, 40 + ci, 0);
    /* one element past malloc's alignment */
    x0 = rnd(&rng, nx + 1, 1), w0 = rnd(&rng, nw + 1, 0.5), b0 = rnd(&rng, (size_t)d.C_out + 1, 0.5);
    dy0 = rnd(&rng, ny + 1, 1);
    y1 = TALLOC(asr_real, ny + 1), y2 = TALLOC(asr_real, ny + 1);
    dx1 = TALLOC(asr_real, nx + 1), dx2 = TALLOC(asr_real, nx + 1);
    dw1 = TALLOC(asr_real, nw + 1), dw2 = TALLOC(asr_real, nw + 1);
    db1 = TALLOC(asr_real, d.C_out + 1), db2 = TALLOC(asr_real, d.C_out + 1);
    for (wl = 0; wl < 2; wl++) {
      const int *L = wl ? lens : NULL;
      for (i = 0; i <= nx; i++) dx1[i] = dx2[i] = 0.25f;
      for (i = 0; i <= nw; i++) dw1[i] = dw2[i] = 0.25f;
      for (i = 0; i <= (size_t)d.C_out; i++) db1[i] = db2[i] = 0.25f;
      CHECK_OK(asr_conv1d_forward(y1 + 1, x0 + 1, w0 + 1, b0 + 1, L, &d, work, wb));
      CHECK_OK(asr_conv1d_forward_ref(y2 + 1, x0 + 1, w0 + 1, b0 + 1, L, &d, work, wb));
      CHECK(rel_diff(y1 + 1, y2 + 1, ny) <= tol);
      worst = fmax(worst, rel_diff(y1 + 1, y2 + 1, ny));
      CHECK_OK(asr_conv1d_backward(dx1 + 1, dw1 + 1, db1 + 1, dy0 + 1, x0 + 1, w0 + 1, L, &d, work, wb));
      CHECK_OK(asr_conv1d_backward_ref(dx2 + 1, dw2 + 1, db2 + 1, dy0 + 1, x0 + 1, w0 + 1, L, &d, work, wb));
      CHECK(rel_diff(dx1 + 1, dx2 + 1, nx) <= tol);
      CHECK(rel_diff(dw1 + 1, dw2 + 1, nw) <= tol);
      CHECK(rel_diff(db1 + 1, db2 + 1, (size_t)d.C_out) <= tol);
      worst = fmax(worst, fmax(rel_diff(dx1 + 1, dx2 + 1, nx), rel_diff(dw1 + 1, dw2 + 1, nw)));
      worst = fmax(worst, rel_diff(db1 + 1, db2 + 1, (size_t)d.C_out));
      CHECK(dx1[0] == 0.25f && dw1[0] == 0.25f && db1[0] == 0.25f);   /* nothing before the arrays */
      /* dw alone and dx alone (the other NULL), as wav2vec's first layer asks */
      for (i = 0; i <= nw; i++) dw1[i] = 0.25f;
      CHECK_OK(asr_conv1d_backward(NULL, dw1 + 1, NULL, dy0 + 1, x0 + 1, w0 + 1, L, &d, work, wb));
      CHECK(rel_diff(dw1 + 1, dw2 + 1, nw) <= tol);
      for (i = 0; i <= nx; i++) dx1[i] = 0.25f;
      CHECK_OK(asr_conv1d_backward(dx1 + 1, NULL, NULL, dy0 + 1, x0 + 1, w0 + 1, L, &d, work, wb));
      CHECK(rel_diff(dx1 + 1, dx2 + 1, nx) <= tol);
    }
    free(x0), free(w0), free(b0), free(dy0), free(y1), free(y2), free(dx1), free(dx2);
    free(dw1), free(dw2), free(db1), free(db2), free(work);
  }
  snprintf(t->msg, sizeof t->msg, "%d cases, worst max|fast - _ref| / max|_ref| %.2g", (int)ci, worst);
}

/* Sizes and the refusals of asr_conv1d_validate, with torch's T_out formula. */
static void t_conv1d_sizes(tctx *t) {
  asr_conv1d_dims d;
  asr_error err;
  /* torch.nn.Conv1d(1,1,5,stride=2,padding=2)(zeros(1,1,11)).shape[-1] == 6 */
  CHECK(asr_conv1d_out_frames(11, 5, 2, 2, 1) == 6);
  /* dilation 3, kernel 3: span 7; T = 7, no padding: one frame; T = 6: none */
  CHECK(asr_conv1d_out_frames(7, 3, 1, 0, 3) == 1);
  CHECK(asr_conv1d_out_frames(6, 3, 1, 0, 3) == 0);
  asr_conv1d_dims_init(&d, 1, 4, 6, 3, 5);
  CHECK(asr_conv1d_validate(&d, &err) == ASR_ERR_SHAPE);
  CHECKF(strstr(err.msg, "larger than the padded input") != NULL, "%s", err.msg);
  d.padding = 1;
  CHECK(asr_conv1d_validate(&d, &err) == ASR_OK);
  d.groups = 4;
  CHECK(asr_conv1d_validate(&d, &err) == ASR_ERR_INVALID_ARG);   /* 6 % 4 != 0 */
  CHECKF(strstr(err.msg, "groups 4") != NULL, "%s", err.msg);
}

/* ======================================================================================
 * 4.2 SE and the ContextNet block
 * ====================================================================================== */
static void t_se_check_naive(tctx *t) {
  LAYERS_CHECKER(asr_check_se(asr_se_forward_naive, asr_se_backward_naive, 11, &rep_));
}
static void t_se_check_ref(tctx *t) {
  LAYERS_CHECKER(asr_check_se(asr_se_forward_ref, asr_se_backward_ref, 12, &rep_));
}
static void t_se_check_fast(tctx *t) {
  LAYERS_CHECKER(asr_check_se(asr_se_forward, asr_se_backward, 13, &rep_));
}

/* Finite differences of the whole block w.r.t. x and every parameter: evaluation and
 * training BN, with and without lengths, stride 1 and 2, with and without residual. */
static void t_contextnet_block_gradcheck(tctx *t) {
  asr_contextnet_block_config cfg;
  int k;
  double worst = 0;
  for (k = 0; k < 6; k++) {
    asr_gradcheck_report rep;
    asr_contextnet_block_config_init(&cfg, 3, 4, 8, 9);
    cfg.num_layers = 2 + (k % 2);
    cfg.kernel = 3 + 2 * (k % 2);
    cfg.stride = k >= 2 ? 2 : 1;
    cfg.training = k & 1;
    cfg.se_channels = 3;
    cfg.residual = k != 4;
    CHECK_OK(asr_gradcheck_contextnet_block(asr_contextnet_block_forward, asr_contextnet_block_backward, &cfg,
                                            k != 1, 30 + (uint64_t)k, &rep));
    CHECKF(rep.max_rel_err <= GC_TOL, "case %d: %s[%ld]: numeric %.10g analytic %.10g rel %.3g", k,
           rep.worst_param, rep.worst_index, rep.worst_numeric, rep.worst_analytic, rep.max_rel_err);
    CHECK_OK(asr_gradcheck_contextnet_block(asr_contextnet_block_forward_ref, asr_contextnet_block_backward_ref,
                                            &cfg, 1, 40 + (uint64_t)k, &rep));
    CHECKF(rep.max_rel_err <= GC_TOL, "ref case %d: %s[%ld] rel %.3g", k, rep.worst_param, rep.worst_index,
           rep.max_rel_err);
    worst = fmax(worst, rep.max_rel_err);
  }
  snprintf(t->msg, sizeof t->msg, "12 instances, worst rel. err %.2g", worst);
}

/* Evaluation mode: each item alone (unpadded, no lengths) gives the outputs it gets in a
 * padded batch, padded outputs are 0, and the padding's content does not matter. */
static void t_contextnet_block_padding_invariance(tctx *t) {
  static const int len[3] = {11, 6, 1};
  asr_contextnet_block_config cfg, one;
  asr_contextnet_block_params p;
  asr_rng rng;
  int i, n, c, tt, Tm;
  size_t sb, wb;
  asr_real *x, *y, *y1, *x1, *bufs[32];
  void *saved, *work;
  int nb = 0;
  double e = 0;
  asr_rng_seed(&rng, 14, 0);
  asr_contextnet_block_config_init(&cfg, 3, 4, 8, 11);
  cfg.num_layers = 3, cfg.stride = 2, cfg.se_channels = 2;
  memset(&p, 0, sizeof p);
  for (i = 0; i < 3; i++) {
    int Ci = i == 0 ? 4 : 8;
    p.layer[i].dw_w = bufs[nb++] = rnd(&rng, (size_t)Ci * 5, 0.5);
    p.layer[i].pw_w = bufs[nb++] = rnd(&rng, (size_t)8 * Ci, 0.5);
    p.layer[i].bn.weight = bufs[nb++] = rnd(&rng, 8, 1);
    p.layer[i].bn.bias = bufs[nb++] = rnd(&rng, 8, 1);
    p.layer[i].bn.running_mean = bufs[nb++] = rnd(&rng, 8, 0.2);
    p.layer[i].bn.running_var = bufs[nb++] = rnd(&rng, 8, 0.1);
    for (c = 0; c < 8; c++) p.layer[i].bn.running_var[c] = (asr_real)fabs(p.layer[i].bn.running_var[c]) + 0.5f;
  }
  p.se_w1 = bufs[nb++] = rnd(&rng, 16, 0.5), p.se_b1 = bufs[nb++] = rnd(&rng, 2, 0.5);
  p.se_w2 = bufs[nb++] = rnd(&rng, 16, 0.5), p.se_b2 = bufs[nb++] = rnd(&rng, 8, 0.5);
  p.res_w = bufs[nb++] = rnd(&rng, 32, 0.5);
  p.res_bn.running_mean = bufs[nb++] = rnd(&rng, 8, 0.2);
  p.res_bn.running_var = bufs[nb++] = rnd(&rng, 8, 0.1);
  for (c = 0; c < 8; c++) p.res_bn.running_var[c] = (asr_real)fabs(p.res_bn.running_var[c]) + 0.5f;
  Tm = asr_contextnet_block_out_frames(&cfg);
  CHECK(Tm == 6);                                   /* ceil(11 / 2) */
  sb = asr_contextnet_block_saved_size(&cfg), wb = asr_contextnet_block_workspace_size(&cfg);
  saved = talloc_(sb), work = talloc_(wb);
  x = rnd(&rng, 3 * 4 * 11, 1), y = TALLOC(asr_real, 3 * 8 * Tm);
  for (n = 0; n < 3; n++)                           /* garbage in the padding */
    for (c = 0; c < 4; c++)
      for (tt = len[n]; tt < 11; tt++) x[(n * 4 + c) * 11 + tt] = 1e3f;
  CHECK_OK(asr_contextnet_block_forward(y, saved, sb, x, &p, len, &cfg, work, wb));
  for (n = 0; n < 3; n++) {
    int Lo = (len[n] + 1) / 2;
    one = cfg;
    one.N = 1, one.T = len[n];
    x1 = TALLOC(asr_real, 4 * len[n]), y1 = TALLOC(asr_real, 8 * Lo);
    for (c = 0; c < 4; c++)
      for (tt = 0; tt < len[n]; tt++) x1[c * len[n] + tt] = x[(n * 4 + c) * 11 + tt];
    {
      size_t sb1 = asr_contextnet_block_saved_size(&one), wb1 = asr_contextnet_block_workspace_size(&one);
      void *s1 = talloc_(sb1), *w1 = talloc_(wb1);
      CHECK_OK(asr_contextnet_block_forward_ref(y1, s1, sb1, x1, &p, NULL, &one, w1, wb1));
      free(s1), free(w1);
    }
    for (c = 0; c < 8; c++) {
      for (tt = 0; tt < Lo; tt++) e = fmax(e, fabs(y1[c * Lo + tt] - y[(n * 8 + c) * Tm + tt]));
      for (tt = Lo; tt < Tm; tt++) CHECK(y[(n * 8 + c) * Tm + tt] == 0);
    }
    free(x1), free(y1);
  }
  /* float: the two paths differ in GEMM summation order over <= 8 channels: ~1e-6 */
  CHECKF(e <= (ASR_REAL_DOUBLE ? 1e-12 : 1e-5), "max |alone - batched| %.3g", e);
  for (i = 0; i < nb; i++) free(bufs[i]);
  free(x), free(y), free(saved), free(work);
}

/* Random weights of a ContextNet block for cfg, into p, and zeroed gradients into g; the
 * buffers are listed in bufs (freed by cn_free). A second parameter set p2 shares the
 * weights but has its own copies of the running statistics, which training updates. */
typedef struct cn_fixture {
  asr_contextnet_block_params p, p2;
  asr_contextnet_block_grads g[2];
  asr_real *bufs[160];
  int nb;
} cn_fixture;
static asr_real *cn_keep(cn_fixture *f, asr_real *b) {
  f->bufs[f->nb++] = b;
  return b;
}
static asr_real *cn_copy(cn_fixture *f, const asr_real *src, int n) {
  asr_real *b = cn_keep(f, TALLOC(asr_real, n));
  memcpy(b, src, sizeof(asr_real) * (size_t)n);
  return b;
}
static void cn_bn(cn_fixture *f, asr_rng *rng, asr_bn_params *bn, asr_bn_params *bn2, asr_bn_grads *g, int C) {
  int c, k;
  bn->weight = cn_keep(f, rnd(rng, (size_t)C, 0.3)), bn->bias = cn_keep(f, rnd(rng, (size_t)C, 0.5));
  for (c = 0; c < C; c++) ((asr_real *)bn->weight)[c] += 1;          /* gamma near 1 */
  bn->running_mean = cn_keep(f, rnd(rng, (size_t)C, 0.2)), bn->running_var = cn_keep(f, rnd(rng, (size_t)C, 0.1));
  for (c = 0; c < C; c++) bn->running_var[c] = (asr_real)fabs(bn->running_var[c]) + 0.5f;
  *bn2 = *bn;
  bn2->running_mean = cn_copy(f, bn->running_mean, C), bn2->running_var = cn_copy(f, bn->running_var, C);
  for (k = 0; k < 2; k++) {
    g[k].weight = cn_keep(f, TALLOC(asr_real, C));
    g[k].bias = cn_keep(f, TALLOC(asr_real, C));
  }
}
static void cn_make(cn_fixture *f, asr_rng *rng, const asr_contextnet_block_config *cfg) {
  int i, k, Co = cfg->C_out, R = cfg->se_channels;
  asr_bn_grads bg[2];
  memset(f, 0, sizeof *f);
  for (i = 0; i < cfg->num_layers; i++) {
    int Ci = i == 0 ? cfg->C_in : Co;
    asr_contextnet_layer_params *l = &f->p.layer[i];
    l->dw_w = cn_keep(f, rnd(rng, (size_t)Ci * cfg->kernel, 0.5)), l->dw_b = cn_keep(f, rnd(rng, (size_t)Ci, 0.5));
    l->pw_w = cn_keep(f, rnd(rng, (size_t)Co * Ci, 0.5)), l->pw_b = cn_keep(f, rnd(rng, (size_t)Co, 0.5));
    cn_bn(f, rng, &l->bn, &f->p2.layer[i].bn, bg, Co);
    for (k = 0; k < 2; k++) {
      asr_contextnet_layer_grads *gl = &f->g[k].layer[i];
      gl->dw_w = cn_keep(f, TALLOC(asr_real, Ci * cfg->kernel)), gl->dw_b = cn_keep(f, TALLOC(asr_real, Ci));
      gl->pw_w = cn_keep(f, TALLOC(asr_real, Co * Ci)), gl->pw_b = cn_keep(f, TALLOC(asr_real, Co));
      gl->bn = bg[k];
    }
    f->p2.layer[i].dw_w = l->dw_w, f->p2.layer[i].dw_b = l->dw_b, f->p2.layer[i].pw_w = l->pw_w;
    f->p2.layer[i].pw_b = l->pw_b;
  }
  f->p.se_w1 = cn_keep(f, rnd(rng, (size_t)R * Co, 0.5)), f->p.se_b1 = cn_keep(f, rnd(rng, (size_t)R, 0.5));
  f->p.se_w2 = cn_keep(f, rnd(rng, (size_t)Co * R, 0.5)), f->p.se_b2 = cn_keep(f, rnd(rng, (size_t)Co, 0.5));
  f->p2.se_w1 = f->p.se_w1, f->p2.se_b1 = f->p.se_b1, f->p2.se_w2 = f->p.se_w2, f->p2.se_b2 = f->p.se_b2;
  for (k = 0; k < 2; k++) {
    f->g[k].se_w1 = cn_keep(f, TALLOC(asr_real, R * Co)), f->g[k].se_b1 = cn_keep(f, TALLOC(asr_real, R));
    f->g[k].se_w2 = cn_keep(f, TALLOC(asr_real, Co * R)), f->g[k].se_b2 = cn_keep(f, TALLOC(asr_real, Co));
  }
  if (cfg->residual) {
    f->p.res_w = cn_keep(f, rnd(rng, (size_t)Co * cfg->C_in, 0.5)), f->p.res_b = cn_keep(f, rnd(rng, (size_t)Co, 0.5));
    cn_bn(f, rng, &f->p.res_bn, &f->p2.res_bn, bg, Co);
    f->p2.res_w = f->p.res_w, f->p2.res_b = f->p.res_b;
    for (k = 0; k < 2; k++) {
      f->g[k].res_w = cn_keep(f, TALLOC(asr_real, Co * cfg->C_in)), f->g[k].res_b = cn_keep(f, TALLOC(asr_real, Co));
      f->g[k].res_bn = bg[k];
    }
  }
}
static void cn_free(cn_fixture *f) {
  int i;
  for (i = 0; i < f->nb; i++) free(f->bufs[i]);
}
/* max |a - b| / max(1, max |b|) over n entries: the measure of a tier comparison */
static double layers_rel_err(const asr_real *a, const asr_real *b, size_t n) {
  double e = max_abs_diff(a, b, n), m = 1;
  size_t i;
  for (i = 0; i < n; i++)
    if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
  return e / m;
}
/* The largest such error over the gradients of two grads structures of cfg's block. */
static double cn_grads_err(const asr_contextnet_block_grads *a, const asr_contextnet_block_grads *b,
                           const asr_contextnet_block_config *cfg) {
  int i, Co = cfg->C_out, R = cfg->se_channels;
  double e = 0;
  for (i = 0; i < cfg->num_layers; i++) {
    int Ci = i == 0 ? cfg->C_in : Co;
    e = fmax(e, layers_rel_err(a->layer[i].dw_w, b->layer[i].dw_w, (size_t)Ci * cfg->kernel));
    e = fmax(e, layers_rel_err(a->layer[i].dw_b, b->layer[i].dw_b, (size_t)Ci));
    e = fmax(e, layers_rel_err(a->layer[i].pw_w, b->layer[i].pw_w, (size_t)Co * Ci));
    e = fmax(e, layers_rel_err(a->layer[i].pw_b, b->layer[i].pw_b, (size_t)Co));
    e = fmax(e, layers_rel_err(a->layer[i].bn.weight, b->layer[i].bn.weight, (size_t)Co));
    e = fmax(e, layers_rel_err(a->layer[i].bn.bias, b->layer[i].bn.bias, (size_t)Co));
  }
  e = fmax(e, layers_rel_err(a->se_w1, b->se_w1, (size_t)R * Co));
  e = fmax(e, layers_rel_err(a->se_b1, b->se_b1, (size_t)R));
  e = fmax(e, layers_rel_err(a->se_w2, b->se_w2, (size_t)Co * R));
  e = fmax(e, layers_rel_err(a->se_b2, b->se_b2, (size_t)Co));
  if (cfg->residual) {
    e = fmax(e, layers_rel_err(a->res_w, b->res_w, (size_t)Co * cfg->C_in));
    e = fmax(e, layers_rel_err(a->res_b, b->res_b, (size_t)Co));
    e = fmax(e, layers_rel_err(a->res_bn.weight, b->res_bn.weight, (size_t)Co));
    e = fmax(e, layers_rel_err(a->res_bn.bias, b->res_bn.bias, (size_t)Co));
  }
  return e;
}

/* The _naive block (the _naive pieces, batch norms written out) against _ref: outputs,
 * updated running statistics, input and every parameter gradient; evaluation and
 * training, with and without lengths, stride 1 and 2, with and without residual. The
 * measure is max |naive - ref| / max(1, max |ref|). Tolerance: 1e-12 in double (the two
 * tiers sum the same terms in different orders and precisions: 9e-15 measured); 2e-5 in
 * float, where _ref rounds its GEMM sums and every piece's output to float and the
 * batch norms divide by standard deviations near 0.1 (2e-6 measured). Also:
 * the _naive tier refuses a block of more than 1e8 multiply-adds, writing nothing. */
static void t_contextnet_block_naive_vs_ref(tctx *t) {
  static const int len[3] = {11, 6, 2};
  double tol = ASR_REAL_DOUBLE ? 1e-12 : 2e-5, worst = 0;
  int k;
  for (k = 0; k < 4; k++) {
    asr_contextnet_block_config cfg;
    cn_fixture f;
    asr_rng rng;
    size_t sb, wb, nx, ny;
    void *sa, *sr, *work;
    asr_real *x, *ya, *yr, *dy, *dxa, *dxr;
    const int *L = k == 1 ? NULL : len;
    double e;
    int i;
    asr_rng_seed(&rng, 60 + (uint64_t)k, 0);
    asr_contextnet_block_config_init(&cfg, 3, 4, 6, 11);
    cfg.num_layers = k == 3 ? 1 : 2 + (k % 2), cfg.kernel = 3 + 2 * (k % 2), cfg.stride = k == 0 || k == 3 ? 2 : 1;
    cfg.training = k == 1 || k == 2, cfg.se_channels = 2, cfg.residual = k != 3;
    cn_make(&f, &rng, &cfg);
    sb = asr_contextnet_block_saved_size(&cfg), wb = asr_contextnet_block_workspace_size(&cfg);
    nx = (size_t)3 * 4 * 11, ny = (size_t)3 * 6 * asr_contextnet_block_out_frames(&cfg);
    sa = talloc_(sb), sr = talloc_(sb), work = talloc_(wb);
    x = rnd(&rng, nx, 1), dy = rnd(&rng, ny, 1);
    ya = TALLOC(asr_real, ny), yr = TALLOC(asr_real, ny), dxa = TALLOC(asr_real, nx), dxr = TALLOC(asr_real, nx);
    CHECK_OK(asr_contextnet_block_forward_naive(ya, sa, sb, x, &f.p, L, &cfg, work, wb));
    CHECK_OK(asr_contextnet_block_forward_ref(yr, sr, sb, x, &f.p2, L, &cfg, work, wb));
    CHECK_OK(asr_contextnet_block_backward_naive(dxa, &f.g[0], dy, sa, sb, x, &f.p, L, &cfg, work, wb));
    CHECK_OK(asr_contextnet_block_backward_ref(dxr, &f.g[1], dy, sr, sb, x, &f.p2, L, &cfg, work, wb));
    e = fmax(layers_rel_err(ya, yr, ny), layers_rel_err(dxa, dxr, nx));
    e = fmax(e, cn_grads_err(&f.g[0], &f.g[1], &cfg));
    for (i = 0; i < cfg.num_layers; i++)
      e = fmax(e, fmax(layers_rel_err(f.p.layer[i].bn.running_mean, f.p2.layer[i].bn.running_mean, 6),
                       layers_rel_err(f.p.layer[i].bn.running_var, f.p2.layer[i].bn.running_var, 6)));
    CHECKF(e <= tol, "case %d: naive vs ref rel. err %.3g", k, e);
    worst = fmax(worst, e);
    free(sa), free(sr), free(work), free(x), free(dy), free(ya), free(yr), free(dxa), free(dxr);
    cn_free(&f);
  }
  {
    /* 4 items x 2 layers of 64 channels, kernel 5, 2000 frames: 2.2e8 multiply-adds */
    asr_contextnet_block_config cfg;
    asr_real y[4] = {7, 7, 7, 7}, x[4] = {0};
    char saved[64], work[64];
    asr_contextnet_block_params p;
    memset(&p, 0, sizeof p);
    asr_contextnet_block_config_init(&cfg, 4, 64, 64, 2000);
    cfg.num_layers = 2;
    CHECK(asr_contextnet_block_forward_naive(y, saved, sizeof saved, x, &p, NULL, &cfg, work, sizeof work) ==
          ASR_ERR_TOO_LARGE);
    CHECK(asr_contextnet_block_backward_naive(x, NULL, y, saved, sizeof saved, x, &p, NULL, &cfg, work, sizeof work) ==
          ASR_ERR_TOO_LARGE);
    CHECK(y[0] == 7 && x[0] == 0);
  }
  snprintf(t->msg, sizeof t->msg, "4 blocks, worst rel. err %.2g", worst);
}

/* Finite differences of the _naive block (x and every parameter), evaluation and
 * training BN, with lengths (tolerance GC_TOL, as for the other tiers). */
static void t_contextnet_block_naive_gradcheck(tctx *t) {
  asr_contextnet_block_config cfg;
  int k;
  double worst = 0;
  for (k = 0; k < 2; k++) {
    asr_gradcheck_report rep;
    asr_contextnet_block_config_init(&cfg, 2, 3, 4, 7);
    cfg.num_layers = 2, cfg.kernel = 3, cfg.stride = 1 + k, cfg.training = k, cfg.se_channels = 2;
    CHECK_OK(asr_gradcheck_contextnet_block(asr_contextnet_block_forward_naive, asr_contextnet_block_backward_naive,
                                            &cfg, 1, 50 + (uint64_t)k, &rep));
    CHECKF(rep.max_rel_err <= GC_TOL, "case %d: %s[%ld] rel %.3g", k, rep.worst_param, rep.worst_index,
           rep.max_rel_err);
    worst = fmax(worst, rep.max_rel_err);
  }
  snprintf(t->msg, sizeof t->msg, "2 instances, worst rel. err %.2g", worst);
}

/* The config table: 23 blocks, three of them downsampling (8x), alpha scales widths. */
static void t_contextnet_table(tctx *t) {
  asr_contextnet_block_spec s;
  int i, down = 1, params_layers = 0;
  for (i = 0; i < 23; i++) {
    CHECK(asr_contextnet_table(i, 1.0, &s) == 0);
    down *= s.stride;
    params_layers += s.num_layers;
    CHECK(s.kernel == 5);
  }
  CHECK(down == 8);
  CHECK(params_layers == 2 + 21 * 5);
  CHECK(asr_contextnet_table(0, 2.0, &s) == 0 && s.channels == 512 && !s.residual && s.num_layers == 1);
  CHECK(asr_contextnet_table(22, 0.5, &s) == 0 && s.channels == 320 && !s.residual);
  CHECK(asr_contextnet_table(14, 1.0, &s) == 0 && s.channels == 512 && s.stride == 2 && s.residual);
  CHECK(asr_contextnet_table(23, 1.0, &s) == -1);
}

/* ======================================================================================
 * 4.5 optimizers and schedules (the full comparison with torch.optim is in tests/torch;
 * these are the properties that follow from the papers' definitions directly)
 * ====================================================================================== */
/* Adam's first step [Kingma15]: with m = v = 0, m_hat = g and v_hat = g^2 exactly, so
 * the update is lr g / (|g| + eps): about lr in size whatever the gradient's scale. */
static void t_adam_first_step(tctx *t) {
  asr_real p[4] = {1, -2, 0.5f, 3}, g[4] = {1e-3f, -50, 2, 0}, m[4] = {0}, v[4] = {0}, p0[4];
  asr_adam_opts o;
  int i;
  memcpy(p0, p, sizeof p);
  asr_adam_opts_init(&o, 0.1);
  CHECK_OK(asr_adam_step(p, m, v, NULL, g, 4, &o, 1));
  for (i = 0; i < 4; i++)   /* float: the update is computed in double, stored to float */
    CHECK_NEAR(p[i], p0[i] - 0.1 * g[i] / (fabs((double)g[i]) + 1e-8), 1e-6);
  /* AdamW with weight decay 0.5, lr 0.1, zero gradient: only the decay, p (1 - 0.05) */
  asr_adamw_opts_init(&o, 0.1);
  o.weight_decay = 0.5;
  memset(m, 0, sizeof m), memset(v, 0, sizeof v);
  memcpy(p, p0, sizeof p);
  g[0] = g[1] = g[2] = g[3] = 0;
  CHECK_OK(asr_adam_step(p, m, v, NULL, g, 4, &o, 1));
  for (i = 0; i < 4; i++) CHECK_NEAR(p[i], p0[i] * 0.95, 1e-6);
  CHECK(asr_adam_step(p, m, v, NULL, g, 4, &o, 0) == ASR_ERR_INVALID_ARG);   /* steps count from 1 */
}

/* SGD with momentum: the buffer is the first gradient, then mu b + (1 - dampening) g. */
static void t_sgd_momentum(tctx *t) {
  asr_real p[1] = {1}, b[1] = {123}, g1[1] = {2}, g2[1] = {-1};
  asr_sgd_opts o;
  asr_sgd_opts_init(&o, 0.5);
  o.momentum = 0.9, o.dampening = 0.5;
  CHECK_OK(asr_sgd_step(p, b, g1, 1, &o, 1));
  CHECK_NEAR(b[0], 2, 0);                     /* not 123 * 0.9 + ...: t = 1 starts it */
  CHECK_NEAR(p[0], 1 - 0.5 * 2, 1e-7);
  CHECK_OK(asr_sgd_step(p, b, g2, 1, &o, 2));
  CHECK_NEAR(b[0], 0.9 * 2 + 0.5 * -1, 1e-7);
  CHECK_NEAR(p[0], 0 - 0.5 * 1.3, 1e-7);
  o.nesterov = 1;                             /* nesterov needs zero dampening */
  CHECK(asr_sgd_step(p, b, g2, 1, &o, 3) == ASR_ERR_INVALID_ARG);
}

/* Noam rises linearly to its peak d^-0.5 warmup^-0.5 at t = warmup, then falls as
 * t^-0.5 ([Vaswani17] eq. (3)); the warmup variant peaks at base_lr; linear goes up to
 * base_lr at warmup and down to 0 at total. */
static void t_lr_schedules(tctx *t) {
  double peak = asr_lr_noam(4000, 512, 4000, 1.0);
  CHECK_NEAR(peak, 1 / sqrt(512.0) / sqrt(4000.0), 1e-15);
  CHECK_NEAR(asr_lr_noam(1000, 512, 4000, 1.0), peak / 4, 1e-15);            /* linear part */
  CHECK_NEAR(asr_lr_noam(16000, 512, 4000, 1.0), peak / 2, 1e-15);           /* t^-0.5 part */
  CHECK(asr_lr_noam(3999, 512, 4000, 1.0) < peak && asr_lr_noam(4001, 512, 4000, 1.0) < peak);
  CHECK_NEAR(asr_lr_warmup(25000, 1e-3, 25000), 1e-3, 1e-15);
  CHECK_NEAR(asr_lr_warmup(100000, 1e-3, 25000), 5e-4, 1e-15);
  CHECK_NEAR(asr_lr_linear_warmup(5, 1.0, 10, 110), 0.5, 1e-15);
  CHECK_NEAR(asr_lr_linear_warmup(10, 1.0, 10, 110), 1.0, 1e-15);
  CHECK_NEAR(asr_lr_linear_warmup(60, 1.0, 10, 110), 0.5, 1e-15);
  CHECK(asr_lr_linear_warmup(200, 1.0, 10, 110) == 0);
}

/* Clipping two arrays together: the norm of their concatenation (3-4-12 -> 13). */
static void t_clip_grad_norm(tctx *t) {
  asr_real a[2] = {3, 4}, b[1] = {12}, c[1] = {NAN};
  asr_real *gs[2];
  size_t sz[2] = {2, 1};
  double total, k;
  gs[0] = a, gs[1] = b;
  CHECK_OK(asr_clip_grad_norm(gs, sz, 2, 6.5, 2, &total));
  CHECK_NEAR(total, 13, 1e-12);
  k = 6.5 / (13 + 1e-6);                      /* torch's coefficient */
  CHECK_NEAR(a[0], 3 * k, 1e-6);
  CHECK_NEAR(b[0], 12 * k, 1e-5);
  CHECK_OK(asr_clip_grad_norm(gs, sz, 2, 100, INFINITY, &total));   /* not clipped */
  CHECK_NEAR(total, 12 * k, 1e-5);
  CHECK_NEAR(b[0], 12 * k, 1e-5);
  gs[1] = c;
  CHECK(asr_clip_grad_norm(gs, sz, 2, 1, 2, &total) == ASR_ERR_NONFINITE);
  CHECK_NEAR(a[0], 3 * k, 1e-6);              /* left untouched */
}

static const test_case TESTS_layers[] = {
  {"layers/linear_gradcheck", t_linear_gradcheck},
  {"layers/linear_ref_vs_loop", t_linear_ref_vs_loop},
  {"layers/linear_naive_vs_ref", t_linear_naive_vs_ref},
  {"layers/activations_gradcheck", t_activations_gradcheck},
  {"layers/swish_tails", t_swish_tails},
  {"layers/glu", t_glu},
  {"layers/dropout", t_dropout},
  {"layers/embedding", t_embedding},
  {"layers/layer_norm", t_layer_norm},
  {"layers/batch_norm_gradcheck", t_batch_norm_gradcheck},
  {"layers/batch_norm_running_stats", t_batch_norm_running_stats},
  {"layers/cross_entropy", t_cross_entropy},
  {"layers/conv1d_sizes", t_conv1d_sizes},
  {"layers/conv1d_check_naive", t_conv1d_check_naive},
  {"layers/conv1d_check_ref", t_conv1d_check_ref},
  {"layers/conv1d_check_fast", t_conv1d_check_fast},
  {"layers/conv1d_strided", t_conv1d_strided},
  {"layers/conv1d_checker_can_fail", t_conv1d_checker_can_fail},
  {"layers/depthwise_pointwise_entry_points", t_depthwise_pointwise_entry_points},
  {"layers/dwsep_check_naive", t_dwsep_check_naive},
  {"layers/dwsep_check_ref", t_dwsep_check_ref},
  {"layers/dwsep_check_fast", t_dwsep_check_fast},
  {"layers/se_check_naive", t_se_check_naive},
  {"layers/se_check_ref", t_se_check_ref},
  {"layers/se_check_fast", t_se_check_fast},
  {"layers/contextnet_block_gradcheck", t_contextnet_block_gradcheck},
  {"layers/contextnet_block_padding_invariance", t_contextnet_block_padding_invariance},
  {"layers/contextnet_block_naive_vs_ref", t_contextnet_block_naive_vs_ref},
  {"layers/contextnet_block_naive_gradcheck", t_contextnet_block_naive_gradcheck},
  {"layers/contextnet_table", t_contextnet_table},
  {"layers/adam_first_step", t_adam_first_step},
  {"layers/sgd_momentum", t_sgd_momentum},
  {"layers/lr_schedules", t_lr_schedules},
  {"layers/clip_grad_norm", t_clip_grad_norm},
  {0, 0}
};
