/* tests/test_vq.c - section 8, Quantizers: Gumbel noise and temperature, the Gumbel-softmax
 * (soft and straight-through), perplexity and diversity, the Gumbel quantizer module,
 * k-means VQ and Lloyd / k-means++ fitting.
 *
 * Where expected values come from: the checkers of section 10.6 (their own formulas,
 * brute force and finite differences; see asr.h), closed forms written out below (the
 * Gumbel CDF, the temperature schedule, perplexities of uniform and collapsed usage),
 * another tier of our own code (_ref for the fast VQ path), and the sample means of a
 * generated mixture. The PyTorch comparisons are in tests/torch/test_vq.py. */

/* Runs a checker; one line of summary, the first failing case on failure. */
#define VQ_RUN_CHECKER(call)                                                               \
  do {                                                                                     \
    asr_check_report rep_;                                                                 \
    memset(&rep_, 0, sizeof rep_);                                                         \
    call;                                                                                  \
    CHECKF(rep_.failed == 0 && rep_.passed > 0, "%d of %d cases failed; first: %s",        \
           rep_.failed, rep_.failed + rep_.passed, rep_.first_failure);                    \
    snprintf(t->msg, sizeof t->msg, "%d cases, worst %.2g of tolerance", rep_.passed,      \
             rep_.worst);                                                                  \
  } while (0)

static void t_gumbel_checker_naive(tctx *t) {
  VQ_RUN_CHECKER(asr_check_gumbel_softmax(asr_gumbel_softmax_forward_naive, asr_gumbel_softmax_backward_naive, &rep_));
}
static void t_gumbel_checker_ref(tctx *t) {
  VQ_RUN_CHECKER(asr_check_gumbel_softmax(asr_gumbel_softmax_forward_ref, asr_gumbel_softmax_backward_ref, &rep_));
}
static void t_gumbel_checker_simd(tctx *t) {
  VQ_RUN_CHECKER(asr_check_gumbel_softmax(asr_gumbel_softmax_forward, asr_gumbel_softmax_backward, &rep_));
}
static void t_vq_checker_naive(tctx *t) {
  VQ_RUN_CHECKER(asr_check_vq(asr_vq_forward_naive, asr_vq_backward_naive, &rep_));
}
static void t_vq_checker_ref(tctx *t) {
  VQ_RUN_CHECKER(asr_check_vq(asr_vq_forward_ref, asr_vq_backward_ref, &rep_));
}
static void t_vq_checker_simd(tctx *t) {
  VQ_RUN_CHECKER(asr_check_vq(asr_vq_forward, asr_vq_backward, &rep_));
}
static void t_module_checker_naive(tctx *t) {
  VQ_RUN_CHECKER(asr_check_quantizer_module(asr_gumbel_quantizer_forward_naive, asr_gumbel_quantizer_backward_naive,
                                            &rep_));
}
static void t_module_checker_ref(tctx *t) {
  VQ_RUN_CHECKER(asr_check_quantizer_module(asr_gumbel_quantizer_forward_ref, asr_gumbel_quantizer_backward_ref, &rep_));
}
/* the fast (unsuffixed) tier; the name predates the other two */
static void t_module_checker(tctx *t) {
  VQ_RUN_CHECKER(asr_check_quantizer_module(asr_gumbel_quantizer_forward, asr_gumbel_quantizer_backward, &rep_));
}

/* The Gumbel CDF F(v) = exp(-exp(-v)) turned around: noise_from_uniform(F(v)) = v. */
static void t_gumbel_noise_from_uniform(tctx *t) {
  static const double vs[6] = {-2.5, -1.0, 0.0, 0.5, 3.0, 9.0};
  asr_real u[6], v[6], bad[4] = {0.5f, 0.0f, 0.25f, 0.75f}, out[4] = {7, 7, 7, 7};
  asr_error err;
  int i;
  for (i = 0; i < 6; i++) u[i] = (asr_real)exp(-exp(-vs[i]));
  CHECK_OK(asr_gumbel_noise_from_uniform(v, u, 6, &err));
  /* float u carries a relative error 6e-8, which dv = du / (u |log u|) amplifies most at
   * v = 9 (u = 0.99988): 6e-8 / 1.2e-4 = 5e-4 */
  for (i = 0; i < 6; i++) CHECK_NEAR(v[i], vs[i], ASR_REAL_DOUBLE ? 1e-9 : 1e-3);
  /* u = 0, 1, outside and NaN are refused, naming the index, and nothing is written */
  CHECK(asr_gumbel_noise_from_uniform(out, bad, 4, &err) == ASR_ERR_RANGE);
  CHECK(strstr(err.msg, "draw 1") != NULL);
  bad[1] = 1.0f;
  CHECK(asr_gumbel_noise_from_uniform(out, bad, 4, NULL) == ASR_ERR_RANGE);
  bad[1] = -0.5f;
  CHECK(asr_gumbel_noise_from_uniform(out, bad, 4, NULL) == ASR_ERR_RANGE);
  bad[1] = (asr_real)NAN;
  CHECK(asr_gumbel_noise_from_uniform(out, bad, 4, NULL) == ASR_ERR_RANGE);
  for (i = 0; i < 4; i++) CHECK(out[i] == 7);
  /* the extremes of the open interval stay finite: u = 2^-1074 gives -log(744.4) */
  CHECK(isfinite(asr_gumbel_from_uniform(4.9406564584124654e-324)));
  CHECK_NEAR(asr_gumbel_from_uniform(4.9406564584124654e-324), -log(744.44007192138127), 1e-12);
  CHECK(isfinite(asr_gumbel_from_uniform(1.0 - 1.1102230246251565e-16)));
}

/* asr_gumbel_noise is the caller's rng stream through -log(-log u) (a u rounded up to 1,
 * probability 2^-53, would be redrawn; these seeds have none). */
static void t_gumbel_noise_rng(tctx *t) {
  asr_rng a, b;
  asr_real v[1000];
  int i;
  asr_rng_seed(&a, 5, 6);
  asr_rng_seed(&b, 5, 6);
  asr_gumbel_noise(v, 1000, &a);
  for (i = 0; i < 1000; i++) {
    CHECK(isfinite(v[i]));
    CHECK(v[i] == (asr_real)(-log(-log(asr_rng_uniform(&b)))));
  }
}

/* tau = max(2 * 0.999995^step, 0.5): closed form through exp and log1p rather than pow. */
static void t_gumbel_tau_schedule(tctx *t) {
  double cross = log(0.25) / log1p(-5e-6);   /* 2 * d^s = 0.5 at s = 277,258.2 */
  long s = (long)floor(cross);
  CHECK(asr_gumbel_tau(ASR_GUMBEL_TAU_MAX, ASR_GUMBEL_TAU_MIN, ASR_GUMBEL_TAU_DECAY, 0) == 2.0);
  /* 0.999995 and -5e-6 are rounded differently to double (relative 1e-17 each), which
   * the exponent 1e5 turns into ~1e-12: hence 1e-11 */
  CHECK_NEAR(asr_gumbel_tau(2, 0.5, 0.999995, 100000), 2 * exp(100000 * log1p(-5e-6)), 1e-11);
  CHECK_NEAR(asr_gumbel_tau(2, 0.5, 0.999995, 100000), 1.21306, 1e-5);
  CHECK(s == 277258);
  CHECK(asr_gumbel_tau(2, 0.5, 0.999995, s) > 0.5);          /* still annealing */
  CHECK(asr_gumbel_tau(2, 0.5, 0.999995, s + 1) == 0.5);     /* then held at tau_min */
  CHECK(asr_gumbel_tau(2, 0.1, 0.999995, 10000000) == 0.1);  /* LARGE's floor */
  CHECK(asr_gumbel_tau(2, 0.5, 0.999995, -5) == 2.0);
  /* the vq-wav2vec paper's linear anneal over the first 70% of updates */
  CHECK(asr_gumbel_tau_linear(2, 0.5, 0, 700) == 2.0);
  CHECK_NEAR(asr_gumbel_tau_linear(2, 0.5, 350, 700), 1.25, 1e-15);
  CHECK(asr_gumbel_tau_linear(2, 0.5, 700, 700) == 0.5);
  CHECK(asr_gumbel_tau_linear(2, 0.5, 1000, 700) == 0.5);
}

/* Gumbel-softmax inputs shared by the next tests: n rows of V with fixed noise. */
static void gs_instance(asr_real *l, asr_real *v, int count, uint64_t seed) {
  asr_rng rng;
  int i;
  asr_rng_seed(&rng, seed, 1);
  for (i = 0; i < count; i++) {
    l[i] = (asr_real)(2 * asr_rng_normal(&rng));
    v[i] = (asr_real)asr_rng_gumbel(&rng);
  }
}

static const asr_gumbel_softmax_forward_fn GS_FWD[3] = {
    asr_gumbel_softmax_forward_naive, asr_gumbel_softmax_forward_ref, asr_gumbel_softmax_forward};
static const asr_gumbel_softmax_backward_fn GS_BWD[3] = {
    asr_gumbel_softmax_backward_naive, asr_gumbel_softmax_backward_ref, asr_gumbel_softmax_backward};

/* With fixed noise the hard sample is the one-hot of argmax_j (l_j + v_j), computed here
 * in double, in every tier and for several temperatures (tau does not move the argmax). */
static void t_gumbel_hard_is_argmax(tctx *t) {
  enum { n = 40, V = 37 };
  asr_real *l = TALLOC(asr_real, n * V), *v = TALLOC(asr_real, n * V), *y = TALLOC(asr_real, n * V);
  asr_real *p = TALLOC(asr_real, n * V);
  int idx[n], tier, r, j, k;
  static const double taus[3] = {2.0, 0.5, 0.05};
  gs_instance(l, v, n * V, 11);
  for (tier = 0; tier < 3; tier++)
    for (k = 0; k < 3; k++) {
      CHECK_OK(GS_FWD[tier](y, p, idx, l, v, taus[k], 1, n, V));
      for (r = 0; r < n; r++) {
        int best = 0;
        for (j = 1; j < V; j++)
          if ((double)l[r * V + j] + v[r * V + j] > (double)l[r * V + best] + v[r * V + best]) best = j;
        CHECKF(idx[r] == best, "tier %d tau %g row %d: index %d, argmax(l+v) %d", tier, taus[k], r, idx[r], best);
        for (j = 0; j < V; j++) CHECK(y[r * V + j] == (j == best ? 1 : 0));
      }
    }
  free(l), free(v), free(y), free(p);
}

/* The straight-through backward is the soft backward: the hard call saves the same soft
 * sample p, and the gradient that arrives at the one-hot is pushed through J_p. Both the
 * saved p and the gradients must agree bit for bit, in every tier. */
static void t_gumbel_st_equals_soft(tctx *t) {
  enum { n = 8, V = 50 };
  asr_real *l = TALLOC(asr_real, n * V), *v = TALLOC(asr_real, n * V), *yh = TALLOC(asr_real, n * V);
  asr_real *ph = TALLOC(asr_real, n * V), *ys = TALLOC(asr_real, n * V), *g = TALLOC(asr_real, n * V);
  asr_real *dh = TALLOC(asr_real, n * V), *ds = TALLOC(asr_real, n * V);
  int tier, i;
  asr_rng rng;
  asr_rng_seed(&rng, 3, 3);
  gs_instance(l, v, n * V, 12);
  for (i = 0; i < n * V; i++) g[i] = (asr_real)asr_rng_normal(&rng);
  for (tier = 0; tier < 3; tier++) {
    memset(dh, 0, sizeof(asr_real) * n * V);
    memset(ds, 0, sizeof(asr_real) * n * V);
    CHECK_OK(GS_FWD[tier](yh, ph, NULL, l, v, 0.6, 1, n, V));
    CHECK_OK(GS_FWD[tier](ys, ys, NULL, l, v, 0.6, 0, n, V));
    CHECK(memcmp(ph, ys, sizeof(asr_real) * n * V) == 0);
    CHECK_OK(GS_BWD[tier](dh, ph, g, 0.6, n, V));
    CHECK_OK(GS_BWD[tier](ds, ys, g, 0.6, n, V));
    CHECK(memcmp(dh, ds, sizeof(asr_real) * n * V) == 0);
  }
  free(l), free(v), free(yh), free(ph), free(ys), free(g), free(dh), free(ds);
}

/* As tau -> 0 the soft sample tends to the hard one: max |p - one_hot| decreases with tau
 * and is below e^{-gap/tau} * V at the smallest tau, gap = the row's top-two margin of
 * l + v. (The naive tier refuses small tau: its literal exp overflows.) */
static void t_gumbel_tau_to_zero(tctx *t) {
  enum { n = 30, V = 12 };
  asr_real *l = TALLOC(asr_real, n * V), *v = TALLOC(asr_real, n * V), *yh = TALLOC(asr_real, n * V);
  asr_real *ph = TALLOC(asr_real, n * V), *ys = TALLOC(asr_real, n * V);
  static const double taus[5] = {1.0, 0.3, 0.1, 0.03, 0.01};
  double prev[n];
  int tier, k, r, j, idx[n];
  gs_instance(l, v, n * V, 13);
  for (tier = 1; tier < 3; tier++) {
    for (r = 0; r < n; r++) prev[r] = INFINITY;
    for (k = 0; k < 5; k++) {
      CHECK_OK(GS_FWD[tier](yh, ph, idx, l, v, taus[k], 1, n, V));
      CHECK_OK(GS_FWD[tier](ys, ys, NULL, l, v, taus[k], 0, n, V));
      for (r = 0; r < n; r++) {
        double d = 0, top = -INFINITY, second = -INFINITY, bound;
        for (j = 0; j < V; j++) {
          double s = (double)l[r * V + j] + v[r * V + j];
          d = fmax(d, fabs((double)ys[r * V + j] - yh[r * V + j]));
          if (s > top) second = top, top = s;
          else if (s > second) second = s;
        }
        /* each loser has p <= e^{-gap/tau}; float rounding adds 1.2e-7 near p = 1 */
        bound = V * exp(-(top - second) / taus[k]) + (ASR_REAL_DOUBLE ? 1e-15 : 1.2e-7);
        CHECKF(d <= prev[r] + (ASR_REAL_DOUBLE ? 1e-15 : 1.2e-7), "tier %d row %d: distance grew at tau %g", tier, r,
               taus[k]);
        CHECKF(d <= bound, "tier %d row %d tau %g: |p - one_hot| %.3g > %.3g", tier, r, taus[k], d, bound);
        prev[r] = d;
      }
    }
  }
  free(l), free(v), free(yh), free(ph), free(ys);
}

/* The fast tier (AVX2 or NEON kernels where built, else _ref itself) against _ref on odd
 * row lengths V = 1, 3, 7, 17, 33, 65, 129 (every vector tail), 1 and 5 rows, with and
 * without noise, soft and hard, every array one float off its allocation's alignment.
 * Bounds, per element, from float rounding against _ref's double sums: s_j = (l_j + v_j)/tau
 * is rounded in float (2 ulp of |s_j|) and so is s_j - m, the kernels' exp is within 2 ulp,
 * the float sum and the scale a few more: |p_fast - p_ref| <= p_ref (2^-21 (|s_j| + |m| + 4)).
 * Backward: dl += p (g - dot) / tau in float, the dot in double: within 2^-21 (|dl_0| +
 * p (|g| + |dot|) / tau). The index and the hard one-hot must be the same. */
static void t_gumbel_fast_vs_ref_tails(tctx *t) {
  static const int Vs[7] = {1, 3, 7, 17, 33, 65, 129}, ns[2] = {1, 5};
  static const double taus[2] = {1.0, 0.3};
  enum { MAXN = 5 * 129 + 1 };
  asr_real *lb = TALLOC(asr_real, MAXN), *vb = TALLOC(asr_real, MAXN), *gb = TALLOC(asr_real, MAXN);
  asr_real *pfb = TALLOC(asr_real, MAXN), *prb = TALLOC(asr_real, MAXN), *yfb = TALLOC(asr_real, MAXN);
  asr_real *yrb = TALLOC(asr_real, MAXN), *dfb = TALLOC(asr_real, MAXN), *drb = TALLOC(asr_real, MAXN);
  asr_real *l = lb + 1, *v = vb + 1, *g = gb + 1, *pf = pfb + 1, *pr = prb + 1, *yf = yfb + 1, *yr = yrb + 1;
  asr_real *df = dfb + 1, *dr = drb + 1;
  int idf[5], idr[5], a, b, k, noisy, hard, i, cases = 0;
  double worst_p = 0, worst_d = 0;
  asr_rng rng;
  asr_rng_seed(&rng, 41, 4);
  for (a = 0; a < 7; a++)
    for (b = 0; b < 2; b++)
      for (k = 0; k < 2; k++)
        for (noisy = 0; noisy < 2; noisy++)
          for (hard = 0; hard < 2; hard++) {
            int V = Vs[a], n = ns[b], cnt = n * V, r, j;
            const asr_real *vn = noisy ? v : NULL;
            gs_instance(l, v, cnt, (uint64_t)(100 + a * 8 + b * 4 + k * 2 + noisy));
            for (i = 0; i < cnt; i++) g[i] = (asr_real)asr_rng_normal(&rng);
            for (i = 0; i < cnt; i++) df[i] = dr[i] = (asr_real)(0.5 * asr_rng_normal(&rng));
            CHECK_OK(asr_gumbel_softmax_forward(yf, pf, idf, l, vn, taus[k], hard, n, V));
            CHECK_OK(asr_gumbel_softmax_forward_ref(yr, pr, idr, l, vn, taus[k], hard, n, V));
            CHECK_OK(asr_gumbel_softmax_backward(df, pf, g, taus[k], n, V));
            CHECK_OK(asr_gumbel_softmax_backward_ref(dr, pr, g, taus[k], n, V));
            for (r = 0; r < n; r++) {
              double m = -INFINITY, dot = 0;
              CHECKF(idf[r] == idr[r], "V %d n %d tau %g noise %d row %d: index %d, _ref %d", V, n, taus[k], noisy,
                     r, idf[r], idr[r]);
              for (j = 0; j < V; j++)
                m = fmax(m, ((double)l[r * V + j] + (noisy ? v[r * V + j] : 0)) / taus[k]);
              for (j = 0; j < V; j++) dot += (double)g[r * V + j] * pr[r * V + j];
              for (j = 0; j < V; j++) {
                int q = r * V + j;
                double s = ((double)l[q] + (noisy ? v[q] : 0)) / taus[k];
                double bp = pr[q] * ldexp(fabs(s) + fabs(m) + 4, -21), ep = fabs((double)pf[q] - pr[q]);
                double d0 = dr[q] - (double)pr[q] * ((double)g[q] - dot) / taus[k];
                double bd = ldexp(fabs(d0) + pr[q] * (fabs(g[q]) + fabs(dot)) / taus[k], -21) + bp / taus[k] *
                            (fabs(g[q]) + fabs(dot));
                double ed = fabs((double)df[q] - dr[q]);
                CHECKF(ep <= bp, "V %d n %d tau %g noise %d: p[%d] %.9g, _ref %.9g", V, n, taus[k], noisy, q, pf[q],
                       pr[q]);
                CHECKF(ed <= bd, "V %d n %d tau %g noise %d: dl[%d] %.9g, _ref %.9g", V, n, taus[k], noisy, q,
                       df[q], dr[q]);
                CHECK(yf[q] == (hard ? (asr_real)(j == idf[r]) : pf[q]));
                if (pr[q] > 0) worst_p = fmax(worst_p, ep / bp);
                if (bd > 0) worst_d = fmax(worst_d, ed / bd);
              }
            }
            cases++;
          }
  snprintf(t->msg, sizeof t->msg, "%d cases, worst %.2g of the p bound, %.2g of the dl bound", cases, worst_p,
           worst_d);
  free(lb), free(vb), free(gb), free(pfb), free(prb), free(yfb), free(yrb), free(dfb), free(drb);
}

typedef struct gs_fd_ctx {
  asr_gumbel_softmax_forward_fn fwd;
  asr_real *l, *v, *y, *w;
  double tau;
  int n, V;
} gs_fd_ctx;
static double gs_fd_f(void *vc) {
  gs_fd_ctx *c = (gs_fd_ctx *)vc;
  double f = 0;
  int i;
  c->fwd(c->y, c->y, NULL, c->l, c->v, c->tau, 0, c->n, c->V);
  for (i = 0; i < c->n * c->V; i++) f += (double)c->w[i] * c->y[i];
  return f;
}

/* Finite differences of f = sum w . p(l) (soft sample, fixed noise) against each tier's
 * backward. Double build: truncation (h^4 f^(5)/30) is ~1e-12 here; the rounding of f,
 * 1e-16 |f| / h = 3e-13, measured against the gradient floor 1e-5 gives up to ~3e-8
 * (2.5e-8 is seen), so 1e-7; float build: 2e-2 (rounding of f over h). */
static void t_gumbel_gradcheck_soft(tctx *t) {
  enum { n = 4, V = 10 };
  asr_real l[n * V], v[n * V], y[n * V], w[n * V], dl[n * V];
  gs_fd_ctx c;
  asr_gradcheck_param p;
  asr_gradcheck_report rep;
  asr_rng rng;
  double worst = 0;
  int tier, i;
  static const double taus[2] = {1.0, 0.4};
  asr_rng_seed(&rng, 99, 1);
  gs_instance(l, v, n * V, 14);
  for (i = 0; i < n * V; i++) w[i] = (asr_real)asr_rng_normal(&rng);
  for (tier = 0; tier < 3; tier++)
    for (i = 0; i < 2; i++) {
      c.fwd = GS_FWD[tier], c.l = l, c.v = v, c.y = y, c.w = w, c.tau = taus[i], c.n = n, c.V = V;
      gs_fd_f(&c);
      memset(dl, 0, sizeof dl);
      CHECK_OK(GS_BWD[tier](dl, y, w, taus[i], n, V));
      p.name = "logits", p.x = l, p.grad = dl, p.n = n * V;
      CHECK_OK(asr_gradcheck(gs_fd_f, &c, &p, 1, NULL, &rng, &rep));
      CHECKF(rep.max_rel_err <= (ASR_REAL_DOUBLE ? 1e-7 : 2e-2), "tier %d tau %g: rel err %.3g at %ld", tier, taus[i],
             rep.max_rel_err, rep.worst_index);
      worst = fmax(worst, rep.max_rel_err);
    }
  snprintf(t->msg, sizeof t->msg, "max rel err %.2g over 3 tiers x 2 tau", worst);
}

/* VQ: finite differences of the two loss terms with their stop-gradient arguments held,
 * with groups, shared and separate codebooks (z within 0.05 of codewords 3 apart keeps the
 * argmin fixed under the probes). Double: 1e-8; float: 2e-2. */
typedef struct vq_fd_ctx {
  asr_real *z, *cb, *zq, *w;
  int *idx;
  int N, D, G, K, shared, which;
  double gamma;
} vq_fd_ctx;
static double vq_fd_f(void *vc) {
  vq_fd_ctx *c = (vq_fd_ctx *)vc;
  asr_vq_loss loss;
  double f = 0;
  int i;
  asr_vq_forward_ref(c->idx, c->zq, &loss, c->z, c->cb, c->N, c->D, c->G, c->K, c->shared, c->gamma, NULL, 0);
  if (c->which == 0) return loss.codebook;
  for (i = 0; i < c->N * c->D; i++) f += (double)c->w[i] * c->z[i];
  return f + c->gamma * loss.commitment;
}
static void t_vq_gradcheck_loss(tctx *t) {
  enum { N = 10, D = 6, K = 5 };
  asr_real z[N * D], cb[3 * K * 2], zq[N * D], w[N * D], dz[N * D], dcb[3 * K * 2];
  int idx[N * 3], shared, which, G = 3, E = 2, n, g, d, i;
  vq_fd_ctx c;
  asr_gradcheck_param p;
  asr_gradcheck_report rep;
  asr_rng rng;
  double worst = 0;
  asr_rng_seed(&rng, 77, 2);
  for (shared = 0; shared <= 1; shared++) {
    int ncb = (shared ? 1 : G) * K * E;
    for (i = 0; i < ncb; i++) cb[i] = (asr_real)(3 * asr_rng_normal(&rng));
    for (n = 0; n < N; n++)
      for (g = 0; g < G; g++) {
        int k = asr_rng_int(&rng, K);
        for (d = 0; d < E; d++)
          z[n * D + g * E + d] = (asr_real)(cb[((shared ? 0 : g) * K + k) * E + d] + 0.05 * asr_rng_normal(&rng));
      }
    for (i = 0; i < N * D; i++) w[i] = (asr_real)asr_rng_normal(&rng);
    CHECK_OK(asr_vq_forward_ref(idx, zq, NULL, z, cb, N, D, G, K, shared, 0.25, NULL, 0));
    for (which = 0; which < 2; which++) {
      memset(dz, 0, sizeof dz);
      memset(dcb, 0, sizeof dcb);
      CHECK_OK(asr_vq_backward(which ? dz : NULL, which ? NULL : dcb, which ? w : NULL, 1.0, idx, z, cb, N, D, G, K,
                               shared, 0.25));
      c.z = z, c.cb = cb, c.zq = zq, c.w = w, c.idx = idx, c.N = N, c.D = D, c.G = G, c.K = K;
      c.shared = shared, c.which = which, c.gamma = 0.25;
      p.name = which ? "z" : "codebook", p.x = which ? z : cb, p.grad = which ? dz : dcb;
      p.n = (size_t)(which ? N * D : ncb);
      CHECK_OK(asr_gradcheck(vq_fd_f, &c, &p, 1, NULL, &rng, &rep));
      CHECKF(rep.max_rel_err <= (ASR_REAL_DOUBLE ? 1e-8 : 2e-2), "%s shared=%d: rel err %.3g", p.name, shared,
             rep.max_rel_err);
      worst = fmax(worst, rep.max_rel_err);
    }
  }
  snprintf(t->msg, sizeof t->msg, "max rel err %.2g (z and codebook, shared and separate)", worst);
}

/* The fast VQ path (GEMM distances + exact re-measure of near candidates) picks exactly
 * _ref's codewords and gives _ref's loss bit for bit, also when every vector sits far from
 * the origin (an offset of 1000 makes ||z||^2 - 2<z,e> + ||e||^2 lose ~6 digits to
 * cancellation: the re-measure is what keeps the choice exact). */
static void t_vq_fast_equals_ref(tctx *t) {
  enum { N = 300, D = 64, G = 2, K = 100 };
  asr_real *z = TALLOC(asr_real, N * D), *cb = TALLOC(asr_real, G * K * D / G);
  asr_real *zq1 = TALLOC(asr_real, N * D), *zq2 = TALLOC(asr_real, N * D);
  int *i1 = TALLOC(int, N * G), *i2 = TALLOC(int, N * G), off, i;
  size_t ws = asr_vq_workspace_size(K);
  void *work = malloc(ws);
  asr_vq_loss l1, l2;
  asr_rng rng;
  asr_rng_seed(&rng, 4, 4);
  CHECK(work != NULL);
  for (off = 0; off <= 1000; off += 1000) {
    for (i = 0; i < G * K * D / G; i++) cb[i] = (asr_real)(off + asr_rng_normal(&rng));
    for (i = 0; i < N * D; i++) z[i] = (asr_real)(off + asr_rng_normal(&rng));
    CHECK_OK(asr_vq_forward_ref(i1, zq1, &l1, z, cb, N, D, G, K, 0, 0.25, NULL, 0));
    CHECK_OK(asr_vq_forward(i2, zq2, &l2, z, cb, N, D, G, K, 0, 0.25, work, ws));
    CHECK(memcmp(i1, i2, sizeof(int) * N * G) == 0);
    CHECK(memcmp(zq1, zq2, sizeof(asr_real) * N * D) == 0);
    CHECK(l1.total == l2.total && l1.codebook == l2.codebook);
  }
  /* too small a workspace is refused (when the fast path exists), nothing written */
#if (defined(ASR_SIMD_AVX2) || defined(ASR_SIMD_NEON)) && !ASR_REAL_DOUBLE
  i2[0] = -5;
  CHECK(asr_vq_forward(i2, zq2, &l2, z, cb, N, D, G, K, 0, 0.25, work, ws - 1) == ASR_ERR_WORKSPACE);
  CHECK(i2[0] == -5);
#endif
  free(z), free(cb), free(zq1), free(zq2), free(i1), free(i2), free(work);
}

/* The fast VQ kernels (AVX2 builds: the row pass asr__vq_nearest_avx2, the loss sum
 * asr__vq_sum_sqdist4; every build: the backward asr__vq_backward_fast) against _ref,
 * bit for bit, on odd sizes: E and K in {1, 7, 17, 33, 65} (tails of the 4- and 8-wide
 * loops), N in {1, 7, 17} with G = 3 (N G vectors: tails of the 4-vector loss loop), shared
 * and separate codebooks, every array one float past an aligned address. Three kinds of
 * data: normal; near ties (codeword K-1 a copy of codeword 0, so the first must win;
 * codeword 1 one ulp from codeword 0; half the vectors at the midpoint of two codewords);
 * and the same offset by 1000 (the GEMM form loses ~6 digits there). The backward with and
 * without dzq, dz and dcodebook. (Without AVX2 the fast forward is _ref's or the NEON
 * build's loops.) */
static void t_vq_fast_vs_ref_odd(tctx *t) {
  static const int Es[5] = {1, 7, 17, 33, 65}, Ks[5] = {1, 7, 17, 33, 65}, Ns[3] = {1, 7, 17};
  enum { G = 3, MAXZ = 17 * 3 * 65, MAXC = 3 * 65 * 65, MAXI = 17 * 3 };
  asr_real *zb = TALLOC(asr_real, MAXZ + 1), *cbb = TALLOC(asr_real, MAXC + 1), *dqb = TALLOC(asr_real, MAXZ + 1);
  asr_real *q1b = TALLOC(asr_real, MAXZ + 1), *q2b = TALLOC(asr_real, MAXZ + 1);
  asr_real *dz1b = TALLOC(asr_real, MAXZ + 1), *dz2b = TALLOC(asr_real, MAXZ + 1);
  asr_real *dc1b = TALLOC(asr_real, MAXC + 1), *dc2b = TALLOC(asr_real, MAXC + 1);
  asr_real *z = zb + 1, *cb = cbb + 1, *dq = dqb + 1, *q1 = q1b + 1, *q2 = q2b + 1;
  asr_real *dz1 = dz1b + 1, *dz2 = dz2b + 1, *dc1 = dc1b + 1, *dc2 = dc2b + 1;
  int *i1 = TALLOC(int, MAXI), *i2 = TALLOC(int, MAXI), a, b, c, shared, kind, cases = 0;
  size_t ws = asr_vq_workspace_size(65);
  char *workb = (char *)malloc(ws + sizeof(asr_real));
  void *work = workb + sizeof(asr_real);
  asr_rng rng;
  asr_rng_seed(&rng, 17, 33);
  CHECK(workb != NULL);
  for (a = 0; a < 5; a++)
    for (b = 0; b < 5; b++)
      for (c = 0; c < 3; c++)
        for (shared = 0; shared < 2; shared++)
          for (kind = 0; kind < 3; kind++) {
            int E = Es[a], K = Ks[b], N = Ns[c], D = G * E, ncb = (shared ? 1 : G) * K * E, nz = N * D, i, n, g;
            double off = kind == 2 ? 1000 : 0;
            asr_vq_loss l1, l2;
            asr_real *dqp = (cases & 1) ? dq : NULL;
            for (i = 0; i < ncb; i++) cb[i] = (asr_real)(off + asr_rng_normal(&rng));
            for (i = 0; i < nz; i++) z[i] = (asr_real)(off + asr_rng_normal(&rng));
            if (kind > 0 && K > 1)
              for (g = 0; g < (shared ? 1 : G); g++) {
                asr_real *e = cb + (size_t)g * K * E;
                for (i = 0; i < E; i++) e[(size_t)(K - 1) * E + i] = e[i];   /* an exact tie */
                for (i = 0; i < E; i++) e[E + i] = e[i];
                e[E] = nextafterf(e[0], INFINITY);                          /* one ulp away */
              }
            if (kind > 0)
              for (n = 0; n < N; n += 2)
                for (g = 0; g < G; g++) {
                  const asr_real *e = cb + (size_t)(shared ? 0 : g) * K * E;
                  int j0 = asr_rng_int(&rng, K), j1 = asr_rng_int(&rng, K);
                  for (i = 0; i < E; i++)   /* the midpoint of two codewords */
                    z[(size_t)n * D + g * E + i] = (asr_real)(0.5 * ((double)e[(size_t)j0 * E + i] + e[(size_t)j1 * E + i]));
                }
            CHECK_OK(asr_vq_forward_ref(i1, q1, &l1, z, cb, N, D, G, K, shared, 0.25, NULL, 0));
            CHECK_OK(asr_vq_forward(i2, q2, &l2, z, cb, N, D, G, K, shared, 0.25, work, ws));
            CHECKF(memcmp(i1, i2, sizeof(int) * (size_t)N * G) == 0, "E %d K %d N %d shared %d kind %d: index", E, K,
                   N, shared, kind);
            CHECKF(memcmp(q1, q2, sizeof(asr_real) * (size_t)nz) == 0, "E %d K %d N %d shared %d kind %d: zq", E, K, N,
                   shared, kind);
            CHECKF(l1.total == l2.total && l1.codebook == l2.codebook && l1.commitment == l2.commitment,
                   "E %d K %d N %d shared %d kind %d: loss %.17g, _ref %.17g", E, K, N, shared, kind, l2.total,
                   l1.total);
            /* the backward, from the same starting gradients */
            for (i = 0; i < nz; i++) dq[i] = (asr_real)asr_rng_normal(&rng), dz1[i] = dz2[i] = (asr_real)asr_rng_normal(&rng);
            for (i = 0; i < ncb; i++) dc1[i] = dc2[i] = (asr_real)asr_rng_normal(&rng);
            CHECK_OK(asr_vq_backward_ref(cases % 3 == 2 ? NULL : dz1, cases % 3 == 1 ? NULL : dc1, dqp, 0.7, i1, z, cb,
                                         N, D, G, K, shared, 0.25));
            CHECK_OK(asr_vq_backward(cases % 3 == 2 ? NULL : dz2, cases % 3 == 1 ? NULL : dc2, dqp, 0.7, i1, z, cb, N,
                                     D, G, K, shared, 0.25));
            CHECKF(memcmp(dz1, dz2, sizeof(asr_real) * (size_t)nz) == 0, "E %d K %d N %d shared %d kind %d: dz", E, K,
                   N, shared, kind);
            CHECKF(memcmp(dc1, dc2, sizeof(asr_real) * (size_t)ncb) == 0, "E %d K %d N %d shared %d kind %d: dcodebook",
                   E, K, N, shared, kind);
            cases++;
          }
  snprintf(t->msg, sizeof t->msg, "%d cases bit for bit", cases);
  free(zb), free(cbb), free(dqb), free(q1b), free(q2b), free(dz1b), free(dz2b), free(dc1b), free(dc2b), free(i1);
  free(i2), free(workb);
}

/* Code perplexity: exp(H) of the usage histogram. One code per group -> 1 each; all V
 * codes equally often -> V each; fairseq's eps = 1e-7 moves the uniform case slightly. */
static void t_vq_code_perplexity(tctx *t) {
  enum { N = 12, G = 2, V = 4 };
  int idx[N * G], n;
  double per[G], want;
  for (n = 0; n < N; n++) idx[n * G] = 2, idx[n * G + 1] = n % V;   /* group 0 collapsed, 1 uniform */
  CHECK_NEAR(asr_code_perplexity(per, idx, N, G, V, 0), 1.0 + V, 1e-12);
  CHECK_NEAR(per[0], 1.0, 1e-15);
  CHECK_NEAR(per[1], 4.0, 1e-12);
  want = exp(-(1.0 * log(1.0 + 1e-7))) + exp(-(4 * 0.25 * log(0.25 + 1e-7)));
  CHECK_NEAR(asr_code_perplexity(NULL, idx, N, G, V, 1e-7), want, 1e-12);
  /* three codes used 6, 3, 3 times of 12: exp(-(.5 log .5 + 2 * .25 log .25)) = 2^1.5 */
  for (n = 0; n < N; n++) idx[n * G + 1] = n < 6 ? 0 : (n < 9 ? 1 : 3);
  CHECK_NEAR(asr_code_perplexity(per, idx, N, G, V, 0), 1.0 + pow(2.0, 1.5), 1e-12);
}

/* The diversity penalty at its two ends: uniform averaged softmax (all logits equal) gives
 * perplexity V per group, so (GV - GV)/GV = 0, and the entropy form -log(V)/V; a collapsed
 * one (one logit 40 above the rest in every frame) gives (GV - G)/GV = (V-1)/V. */
static void t_vq_diversity_values(tctx *t) {
  enum { N = 5, G = 2, V = 8 };
  asr_real l[N * G * V], probs[N * G * V], avg[G * V];
  double loss, ppl;
  int i;
  for (i = 0; i < N * G * V; i++) l[i] = 0.3f;
  CHECK_OK(asr_diversity_forward(&loss, &ppl, probs, avg, l, N, G, V, 0, ASR_DIVERSITY_PERPLEXITY));
  CHECK_NEAR(loss, 0, 1e-6);
  CHECK_NEAR(ppl, G * V, 1e-5);
  CHECK_OK(asr_diversity_forward(&loss, NULL, probs, avg, l, N, G, V, 0, ASR_DIVERSITY_ENTROPY));
  CHECK_NEAR(loss, -log((double)V) / V, 1e-6);
  for (i = 0; i < N * G * V; i++) l[i] = (i % V == 5) ? 40.0f : 0.0f;
  CHECK_OK(asr_diversity_forward(&loss, &ppl, probs, avg, l, N, G, V, 0, ASR_DIVERSITY_PERPLEXITY));
  CHECK_NEAR(loss, (V - 1.0) / V, 1e-6);      /* the other entries have p = 7e-18 */
  CHECK_NEAR(ppl, G, 1e-6);
  CHECK(asr_diversity_forward(&loss, &ppl, probs, avg, l, N, G, V, -1, ASR_DIVERSITY_PERPLEXITY) ==
        ASR_ERR_INVALID_ARG);
  l[3] = (asr_real)NAN;
  CHECK(asr_diversity_forward(&loss, &ppl, probs, avg, l, N, G, V, 0, ASR_DIVERSITY_PERPLEXITY) ==
        ASR_ERR_NONFINITE);
}

typedef struct div_fd_ctx {
  asr_real *l, *probs, *avg;
  int N, G, V;
  double eps;
  asr_diversity_form form;
} div_fd_ctx;
static double div_fd_f(void *vc) {
  div_fd_ctx *c = (div_fd_ctx *)vc;
  double loss = NAN;
  asr_diversity_forward(&loss, NULL, c->probs, c->avg, c->l, c->N, c->G, c->V, c->eps, c->form);
  return loss;
}
/* Both diversity forms, eps 0 and fairseq's 1e-7, against finite differences. The loss is
 * O(1/V) with gradients O(1/(NV)): the gradient check's floor (1e-5 * max(1,|f|)) is the
 * scale, so 1e-6 relative is tight in double; 2e-2 in float. */
static void t_vq_diversity_gradcheck(tctx *t) {
  enum { N = 7, G = 2, V = 5 };
  asr_real l[N * G * V], probs[N * G * V], avg[G * V], dl[N * G * V];
  div_fd_ctx c;
  asr_gradcheck_param p;
  asr_gradcheck_report rep;
  asr_gradcheck_opts o;
  asr_rng rng;
  double work[2 * G * V], worst = 0, loss;
  int form, e, i;
  asr_rng_seed(&rng, 8, 8);
  memset(&o, 0, sizeof o);
  o.abs_floor = ASR_REAL_DOUBLE ? 1e-8 : 0;   /* gradients here are ~1e-3: compare them relatively */
  for (i = 0; i < N * G * V; i++) l[i] = (asr_real)(1.5 * asr_rng_normal(&rng));
  for (form = 0; form < 2; form++)
    for (e = 0; e < 2; e++) {
      c.l = l, c.probs = probs, c.avg = avg, c.N = N, c.G = G, c.V = V, c.eps = e ? 1e-7 : 0;
      c.form = (asr_diversity_form)form;
      CHECK_OK(asr_diversity_forward(&loss, NULL, probs, avg, l, N, G, V, c.eps, c.form));
      memset(dl, 0, sizeof dl);
      CHECK_OK(asr_diversity_backward(dl, probs, 1.0, N, G, V, c.eps, c.form, work, sizeof work));
      p.name = "logits", p.x = l, p.grad = dl, p.n = N * G * V;
      CHECK_OK(asr_gradcheck(div_fd_f, &c, &p, 1, &o, &rng, &rep));
      CHECKF(rep.max_rel_err <= (ASR_REAL_DOUBLE ? 1e-6 : 2e-2), "form %d eps %g: rel err %.3g", form, c.eps,
             rep.max_rel_err);
      worst = fmax(worst, rep.max_rel_err);
    }
  /* too small a workspace is refused */
  CHECK(asr_diversity_backward(dl, probs, 1.0, N, G, V, 0, ASR_DIVERSITY_ENTROPY, work, sizeof work - 1) ==
        ASR_ERR_WORKSPACE);
  snprintf(t->msg, sizeof t->msg, "max rel err %.2g (2 forms x 2 eps)", worst);
}

/* The module at inference (no noise, hard): q is the codebook row of argmax of its own
 * logits, group by group. */
static void t_module_inference(tctx *t) {
  asr_gumbel_quantizer cfg;
  asr_gumbel_quantizer_params w;
  size_t cnt[5];
  enum { N = 9, D = 4, H = 6, G = 2, V = 5, E = 3 };
  asr_real w1[H * D], b1[H], w2[G * V * H], b2[G * V], cb[G * V * E], z[N * D], q[N * G * E], h[N * H];
  asr_real logits[N * G * V], p[N * G * V];
  int idx[N * G], n, g, j;
  asr_rng rng;
  asr_rng_seed(&rng, 21, 0);
  cfg.in_dim = D, cfg.hidden = H, cfg.groups = G, cfg.vars = V, cfg.entry_dim = E, cfg.shared = 0, cfg.hard = 1;
  cfg.tau = 2;
  CHECK_OK(asr_gumbel_quantizer_sizes(&cfg, cnt));
  CHECK(cnt[0] == H * D && cnt[2] == G * V * H && cnt[4] == G * V * E);
  w.w1 = w1, w.b1 = b1, w.w2 = w2, w.b2 = b2, w.codebook = cb;
  CHECK_OK(asr_gumbel_quantizer_init(&w, &cfg, &rng));
  for (j = 0; j < N * D; j++) z[j] = (asr_real)asr_rng_normal(&rng);
  CHECK_OK(asr_gumbel_quantizer_forward(q, idx, h, logits, p, z, NULL, &w, &cfg, N));
  for (n = 0; n < N; n++)
    for (g = 0; g < G; g++) {
      int best = 0;
      for (j = 1; j < V; j++)
        if (logits[(n * G + g) * V + j] > logits[(n * G + g) * V + best]) best = j;
      CHECK(idx[n * G + g] == best);
      CHECK(memcmp(q + n * G * E + g * E, cb + (g * V + best) * E, sizeof(asr_real) * E) == 0);
    }
  /* refusals: tau <= 0, NaN in z */
  cfg.tau = 0;
  CHECK(asr_gumbel_quantizer_forward(q, idx, h, logits, p, z, NULL, &w, &cfg, N) == ASR_ERR_INVALID_ARG);
  cfg.tau = 1;
  z[3] = (asr_real)NAN;
  CHECK(asr_gumbel_quantizer_forward(q, idx, h, logits, p, z, NULL, &w, &cfg, N) == ASR_ERR_NONFINITE);
}

/* The module's three tiers on one instance (N 7, D 6, H 5, G 2, V 6, E 4, tau 0.7, fixed
 * noise), soft and hard, separate and shared codebooks: the same indices and, within
 * rounding, the same h, logits, p, q and gradients (dz, every parameter, with a gradient on
 * the logits added as the diversity penalty would). The tiers differ only in summation:
 * _naive sums in double, _ref and fast in asr_real (fast with FMA). Sums here have at most
 * 12 terms of size ~1-3, so in double they agree to ~1e-15 (1e-12 allowed) and in float to
 * ~12 u = 7e-7 relative, which the softmax (1/tau) and the two backward products can grow a
 * few times (2e-6 allowed), all relative to max(1, |value|). The naive tier refuses an
 * instance past its size limit, writing nothing. */
static void t_module_tiers_agree(tctx *t) {
  enum { N = 7, D = 6, H = 5, G = 2, V = 6, E = 4, GV = G * V, NP = H * D + H + GV * H + GV + GV * E };
  static const asr_gumbel_quantizer_forward_fn fwd[3] = {
      asr_gumbel_quantizer_forward_naive, asr_gumbel_quantizer_forward_ref, asr_gumbel_quantizer_forward};
  static const asr_gumbel_quantizer_backward_fn bwd[3] = {
      asr_gumbel_quantizer_backward_naive, asr_gumbel_quantizer_backward_ref, asr_gumbel_quantizer_backward};
  const double tol = ASR_REAL_DOUBLE ? 1e-12 : 2e-6;
  asr_real par[NP], z[N * D], noise[N * GV], dq[N * G * E], extra[N * GV];
  asr_real q[3][N * G * E], h[3][N * H], l[3][N * GV], p[3][N * GV], dz[3][N * D], gbuf[3][NP];
  asr_real work[2 * N * GV + N * H];
  int idx[3][N * G], shared, hard, tier, i;
  double worst = 0;
  asr_gumbel_quantizer cfg;
  asr_gumbel_quantizer_params w, gr[3];
  asr_rng rng;
  asr_rng_seed(&rng, 3110, 5453);
  for (shared = 0; shared <= 1; shared++)
    for (hard = 0; hard <= 1; hard++) {
      size_t cnt[5];
      cfg.in_dim = D, cfg.hidden = H, cfg.groups = G, cfg.vars = V, cfg.entry_dim = E;
      cfg.shared = shared, cfg.hard = hard, cfg.tau = 0.7;
      CHECK_OK(asr_gumbel_quantizer_sizes(&cfg, cnt));
      CHECK(asr_gumbel_quantizer_workspace_size(&cfg, N) <= sizeof work);
      w.w1 = par, w.b1 = w.w1 + cnt[0], w.w2 = w.b1 + cnt[1], w.b2 = w.w2 + cnt[2], w.codebook = w.b2 + cnt[3];
      CHECK_OK(asr_gumbel_quantizer_init(&w, &cfg, &rng));
      for (i = 0; i < N * D; i++) z[i] = (asr_real)asr_rng_normal(&rng);
      for (i = 0; i < N * GV; i++) noise[i] = (asr_real)asr_rng_gumbel(&rng);
      for (i = 0; i < N * G * E; i++) dq[i] = (asr_real)asr_rng_normal(&rng);
      for (i = 0; i < N * GV; i++) extra[i] = (asr_real)(0.1 * asr_rng_normal(&rng));
      for (tier = 0; tier < 3; tier++) {
        memset(dz[tier], 0, sizeof dz[tier]);
        memset(gbuf[tier], 0, sizeof gbuf[tier]);
        gr[tier].w1 = gbuf[tier], gr[tier].b1 = gr[tier].w1 + cnt[0], gr[tier].w2 = gr[tier].b1 + cnt[1];
        gr[tier].b2 = gr[tier].w2 + cnt[2], gr[tier].codebook = gr[tier].b2 + cnt[3];
        CHECK_OK(fwd[tier](q[tier], idx[tier], h[tier], l[tier], p[tier], z, noise, &w, &cfg, N));
        CHECK_OK(bwd[tier](dz[tier], &gr[tier], dq, extra, z, h[tier], p[tier], idx[tier], &w, &cfg, N, work,
                           sizeof work));
      }
      for (tier = 1; tier < 3; tier++) {
        double err = 0;
        CHECKF(memcmp(idx[0], idx[tier], sizeof idx[0]) == 0, "shared %d hard %d: tier %d chose other entries",
               shared, hard, tier);
#define MOD_CMP(a, b, n)                                                                   \
  for (i = 0; i < (n); i++)                                                                \
    err = fmax(err, fabs((double)(a)[i] - (double)(b)[i]) / fmax(1.0, fabs((double)(a)[i])));
        MOD_CMP(h[0], h[tier], N * H);
        MOD_CMP(l[0], l[tier], N * GV);
        MOD_CMP(p[0], p[tier], N * GV);
        MOD_CMP(q[0], q[tier], N * G * E);
        MOD_CMP(dz[0], dz[tier], N * D);
        MOD_CMP(gbuf[0], gbuf[tier], NP);
#undef MOD_CMP
        CHECKF(err <= tol, "shared %d hard %d: tier %d differs from _naive by %.3g (relative)", shared, hard, tier,
               err);
        worst = fmax(worst, err);
      }
    }
  /* past 2^24 multiply-adds the naive tier refuses, writing nothing: this instance costs
   * 210 per frame (H D + GV H + GV E + GV V), so 80,000 frames are 1.68e7 > 2^24 */
  {
    enum { NB = 80000 };
    asr_real *zb = TALLOC(asr_real, NB * D), *qb = TALLOC(asr_real, NB * G * E), *hb = TALLOC(asr_real, NB * H);
    asr_real *lb = TALLOC(asr_real, NB * GV), *pb = TALLOC(asr_real, NB * GV);
    int *ib = TALLOC(int, NB * G), untouched = 1;
    for (i = 0; i < NB * D; i++) zb[i] = 0.5f;
    for (i = 0; i < NB * G * E; i++) qb[i] = 7;
    for (i = 0; i < NB * H; i++) hb[i] = 7;
    CHECK(asr_gumbel_quantizer_forward_naive(qb, ib, hb, lb, pb, zb, NULL, &w, &cfg, NB) == ASR_ERR_TOO_LARGE);
    for (i = 0; i < NB * G * E; i++) untouched &= qb[i] == 7;
    for (i = 0; i < NB * H; i++) untouched &= hb[i] == 7;
    CHECK(untouched);
    CHECK_OK(asr_gumbel_quantizer_forward_ref(qb, ib, hb, lb, pb, zb, NULL, &w, &cfg, NB));
    free(zb), free(qb), free(hb), free(lb), free(pb), free(ib);
  }
  snprintf(t->msg, sizeof t->msg, "3 tiers x 4 modes agree within %.2g (relative, tol %.0e)", worst, tol);
}

/* A 2-D mixture of `c` Gaussian blobs at (+-5, +-5) (and (0, 0) as a fifth), sd 0.5,
 * `per` points each, in blob order; `label` gets the blob of every point. */
static void km_mixture(asr_real *x, int *label, int c, int per, uint64_t seed) {
  static const double centres[5][2] = {{5, 5}, {-5, 5}, {-5, -5}, {5, -5}, {0, 0}};
  asr_rng rng;
  int k, i;
  asr_rng_seed(&rng, seed, 9);
  for (k = 0; k < c; k++)
    for (i = 0; i < per; i++) {
      x[(k * per + i) * 2] = (asr_real)(centres[k][0] + 0.5 * asr_rng_normal(&rng));
      x[(k * per + i) * 2 + 1] = (asr_real)(centres[k][1] + 0.5 * asr_rng_normal(&rng));
      if (label) label[k * per + i] = k;
    }
}

/* Lloyd's objective never increases from one assignment step to the next, for every
 * seeding. Slack: the centres are rounded to asr_real after the exact mean, which can move
 * J by ~u * J (float 6e-8, double 1e-16); we allow 1e-6 J in float and 1e-12 J in double. */
static void t_kmeans_objective_decreases(tctx *t) {
  enum { C = 5, PER = 60, K = 9 };
  asr_real x[C * PER * 2], cb[K * 2];
  double hist[101];
  int init, restarts, it, total_iters = 0;
  asr_kmeans_opts o;
  asr_kmeans_report rep;
  asr_rng rng;
  km_mixture(x, NULL, C, PER, 1);
  for (init = 0; init < 2; init++)
    for (restarts = 0; restarts < 6; restarts++) {
      asr_rng_seed(&rng, 100 + restarts, (uint64_t)init);
      memset(&o, 0, sizeof o);
      o.init = init, o.history = hist;
      CHECK_OK(asr_kmeans_fit(cb, NULL, &rep, x, C * PER, 2, 2, K, &o, &rng, NULL, NULL));
      CHECK(rep.iterations >= 2 && rep.iterations <= 101 && rep.converged);
      for (it = 1; it < rep.iterations; it++)
        CHECKF(hist[it] <= hist[it - 1] * (1 + (ASR_REAL_DOUBLE ? 1e-12 : 1e-6)),
               "init %d run %d: J went up at iteration %d: %.9g -> %.9g", init, restarts, it, hist[it - 1], hist[it]);
      CHECK_NEAR(rep.objective, hist[rep.iterations - 1], 1e-9 * hist[0]);
      /* the reported objective is that of the returned centres */
      CHECK_NEAR(asr_kmeans_objective(NULL, x, C * PER, 2, 2, cb, K), rep.objective, 1e-6 * rep.objective);
      total_iters += rep.iterations;
    }
  snprintf(t->msg, sizeof t->msg, "12 runs, %d assignment steps, J never increased", total_iters);
}

/* A well-separated mixture: k-means++ and Lloyd find the blobs, and each centre is the
 * sample mean of one blob's points (computed here from the generating labels): the sample
 * mean is what k-means converges to once every point is with its own blob. The float
 * tolerance is the rounding of a mean of 100 values near 5 (sum in double, one rounding). */
static void t_kmeans_recovers_centres(tctx *t) {
  enum { C = 4, PER = 100 };
  asr_real x[C * PER * 2], cb[C * 2];
  int label[C * PER], assign[C * PER], k, i, j, used[C] = {0};
  double mean[C][2] = {{0}};
  asr_kmeans_report rep;
  asr_rng rng;
  km_mixture(x, label, C, PER, 2);
  for (i = 0; i < C * PER; i++) {
    mean[label[i]][0] += x[i * 2] / (double)PER;
    mean[label[i]][1] += x[i * 2 + 1] / (double)PER;
  }
  asr_rng_seed(&rng, 2007, 0);
  CHECK_OK(asr_kmeans_fit(cb, assign, &rep, x, C * PER, 2, 2, C, NULL, &rng, NULL, NULL));
  for (k = 0; k < C; k++) {
    int best = -1;
    for (j = 0; j < C; j++)
      if (fabs(cb[k * 2] - mean[j][0]) < 1 && fabs(cb[k * 2 + 1] - mean[j][1]) < 1) best = j;
    CHECKF(best >= 0 && !used[best], "centre %d (%g, %g) matches no blob", k, cb[k * 2], cb[k * 2 + 1]);
    used[best] = 1;
    CHECK_NEAR(cb[k * 2], mean[best][0], ASR_REAL_DOUBLE ? 1e-12 : 2e-6);
    CHECK_NEAR(cb[k * 2 + 1], mean[best][1], ASR_REAL_DOUBLE ? 1e-12 : 2e-6);
    /* every point of that blob is assigned to this centre */
    for (i = 0; i < C * PER; i++)
      if (label[i] == best) CHECK(assign[i] == k);
  }
  snprintf(t->msg, sizeof t->msg, "%d iterations, J = %.4g", rep.iterations, rep.objective);
}

/* A given start with one centre far from everything leaves its cluster empty: it must be
 * re-seeded, J must keep decreasing, and every cluster ends with points. */
static void t_kmeans_empty_cluster(tctx *t) {
  enum { C = 4, PER = 50, K = 4 };
  asr_real x[C * PER * 2], cb[K * 2] = {5, 5, -5, 5, 0, -5, 1000, 1000};
  int assign[C * PER], counts[K] = {0}, i;
  double hist[101];
  asr_kmeans_opts o;
  asr_kmeans_report rep;
  km_mixture(x, NULL, C, PER, 3);
  memset(&o, 0, sizeof o);
  o.init = ASR_KMEANS_INIT_GIVEN, o.history = hist;
  CHECK_OK(asr_kmeans_fit(cb, assign, &rep, x, C * PER, 2, 2, K, &o, NULL, NULL, NULL));
  CHECK(rep.reseeded >= 1);
  for (i = 1; i < rep.iterations; i++) CHECK(hist[i] <= hist[i - 1] * (1 + (ASR_REAL_DOUBLE ? 1e-12 : 1e-6)));
  for (i = 0; i < C * PER; i++) counts[assign[i]]++;
  for (i = 0; i < K; i++) CHECKF(counts[i] > 0, "cluster %d is empty", i);
  /* the far centre came back among the data */
  CHECK(fabs(cb[6]) < 20 && fabs(cb[7]) < 20);
  snprintf(t->msg, sizeof t->msg, "%d re-seeded, J %.4g -> %.4g", rep.reseeded, hist[0], hist[rep.iterations - 1]);
}

/* Bad input: fewer points than clusters, NaN, a group of a wider matrix (ldx). */
static void t_kmeans_input(tctx *t) {
  asr_real x[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, cb[6];
  asr_rng rng;
  asr_error err;
  asr_kmeans_report rep;
  asr_rng_seed(&rng, 1, 1);
  err.msg[0] = 0;
  CHECK(asr_kmeans_fit(cb, NULL, &rep, x, 2, 2, 2, 3, NULL, &rng, NULL, &err) == ASR_ERR_SHAPE);
  CHECK(strstr(err.msg, "at least K points") != NULL);
  x[5] = (asr_real)NAN;
  CHECK(asr_kmeans_fit(cb, NULL, &rep, x, 6, 2, 2, 2, NULL, &rng, NULL, &err) == ASR_ERR_NONFINITE);
  /* column 0 of the (6,2) matrix alone (D = 1, ldx = 2), as one group of a grouped
   * input: the NaN sits in column 1 and is not read */
  CHECK_OK(asr_kmeans_fit(cb, NULL, &rep, x, 6, 1, 2, 2, NULL, &rng, NULL, &err));
  /* column 0 holds 0 2 4 6 8 10: two clusters {0,2,4} and {6,8,10}, centres 2 and 8 */
  CHECK((fabs(cb[0] - 2) < 1e-6 && fabs(cb[1] - 8) < 1e-6) || (fabs(cb[0] - 8) < 1e-6 && fabs(cb[1] - 2) < 1e-6));
}

static const test_case TESTS_vq[] = {
  {"vq/gumbel_checker_naive", t_gumbel_checker_naive},
  {"vq/gumbel_checker_ref", t_gumbel_checker_ref},
  {"vq/gumbel_checker_simd", t_gumbel_checker_simd},
  {"vq/gumbel_noise_from_uniform", t_gumbel_noise_from_uniform},
  {"vq/gumbel_noise_rng", t_gumbel_noise_rng},
  {"vq/gumbel_tau_schedule", t_gumbel_tau_schedule},
  {"vq/gumbel_hard_is_argmax_l_plus_v", t_gumbel_hard_is_argmax},
  {"vq/gumbel_straight_through_equals_soft", t_gumbel_st_equals_soft},
  {"vq/gumbel_tau_to_zero", t_gumbel_tau_to_zero},
  {"vq/gumbel_gradcheck_soft", t_gumbel_gradcheck_soft},
  {"vq/gumbel_fast_vs_ref_tails", t_gumbel_fast_vs_ref_tails},
  {"vq/kmeans_vq_checker_naive", t_vq_checker_naive},
  {"vq/kmeans_vq_checker_ref", t_vq_checker_ref},
  {"vq/kmeans_vq_checker_simd", t_vq_checker_simd},
  {"vq/kmeans_vq_gradcheck_loss", t_vq_gradcheck_loss},
  {"vq/kmeans_vq_fast_equals_ref", t_vq_fast_equals_ref},
  {"vq/kmeans_vq_fast_vs_ref_odd_sizes", t_vq_fast_vs_ref_odd},
  {"vq/code_perplexity", t_vq_code_perplexity},
  {"vq/diversity_values", t_vq_diversity_values},
  {"vq/diversity_gradcheck", t_vq_diversity_gradcheck},
  {"vq/module_checker_naive", t_module_checker_naive},
  {"vq/module_checker_ref", t_module_checker_ref},
  {"vq/module_checker", t_module_checker},
  {"vq/module_tiers_agree", t_module_tiers_agree},
  {"vq/module_inference", t_module_inference},
  {"vq/kmeans_fit_objective_decreases", t_kmeans_objective_decreases},
  {"vq/kmeans_fit_recovers_centres", t_kmeans_recovers_centres},
  {"vq/kmeans_fit_empty_cluster", t_kmeans_empty_cluster},
  {"vq/kmeans_fit_input", t_kmeans_input},
  {0, 0}
};
