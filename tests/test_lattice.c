/* tests/test_lattice.c - the lattice internals a course grades (sections 5 and 6):
 * l' and its skips, alpha / beta / gamma of a batch with both beta conventions and both
 * domains, and the loss entry points for every input domain and layout.
 *
 * Where each expected value comes from: l' and the skips from the rule of [Graves06]
 * sec. 4.1 / eq. (6) applied by hand to a three-label target (written in the test);
 * _naive's alpha and beta are the definitions (eqs. (5), (9): every prefix and suffix
 * enumerated), independent of _ref's recursions; the identities are the paper's
 * (eq. (14) at every frame, [Graves12] eq. (19) on every diagonal); the posteriors are
 * compared with the gradients of the loss functions, which tests/test_ctc.c and
 * tests/test_rnnt.c check against enumeration, finite differences and published cases;
 * the probability-domain gradient against finite differences (double build). PyTorch
 * comparisons of the time-major and probability-domain entry points are in
 * tests/torch/test_lattice.py.
 *
 * Tolerances. _naive and _ref both sum in double from the same inputs, in different
 * orders: logs of size O(10) after a few dozen roundings of 1.1e-16 relative, measured
 * 7e-15, so 1e-13 (absolute on the logs). The identities hold to rounding in double,
 * measured 1.6e-14 over T = 40 frames (CTC) and 4e-15 (RNN-T): 1e-12 and 1e-13. Posteriors vs the loss's gradient: the gradient is rounded to
 * asr_real, so 1e-6 in float (gradient entries are <= 1) and 1e-12 in double. */
#if ASR_REAL_DOUBLE
#define LAT_GRAD_TOL 1e-12
#else
#define LAT_GRAD_TOL 1e-6
#endif

static double lat_max(double a, double b) { return a > b ? a : b; }

/* |a - b| for two logs or two probabilities: equal infinities are 0 apart. */
static double lat_diff(double a, double b) {
  if (a == b) return 0;
  return fabs(a - b);
}

/* A random batch: logits (N,T,V) in [-3,3), lengths, targets with repeats. */
static void lat_batch(asr_rng *rng, asr_real *x, int *targets, int *il, int *tl, int N, int T, int V, int S,
                      int blank) {
  int n, j;
  fill_uniform(rng, x, (size_t)N * T * V, -3, 3);
  for (n = 0; n < N; n++) {
    il[n] = n == 0 ? T : 1 + asr_rng_int(rng, T);
    tl[n] = n == 0 ? S : asr_rng_int(rng, S + 1);
    for (j = 0; j < S; j++) {
      int c = asr_rng_int(rng, V - 1);
      if (c >= blank) c++;
      if (j > 0 && asr_rng_int(rng, 3) == 0) c = targets[n * S + j - 1];   /* repeats */
      targets[n * S + j] = c;
    }
  }
}

/* l' and the skips of l = (1, 1, 2), blank 0, by the rule of [Graves06] sec. 4.1: l' =
 * b 1 b 1 b 2 b; a skip s-2 -> s only onto a label different from l'_{s-2}: s = 5 (2 after
 * 1), not s = 3 (1 after 1), never onto a blank. */
static void t_lattice_extended_labels(tctx *t) {
  int l[3] = {1, 1, 2}, lp[7], s;
  const int want[7] = {0, 1, 0, 1, 0, 2, 0}, skip[7] = {0, 0, 0, 0, 0, 1, 0};
  CHECK(asr_ctc_extended_labels(lp, l, 3, 0) == 7);
  for (s = 0; s < 7; s++) {
    CHECKF(lp[s] == want[s], "l'_%d = %d, want %d", s, lp[s], want[s]);
    CHECKF(asr_ctc_can_skip(l, 3, 0, s) == skip[s], "can_skip(s=%d) = %d", s, asr_ctc_can_skip(l, 3, 0, s));
  }
  CHECK(asr_ctc_can_skip(l, 3, 0, 7) == 0 && asr_ctc_can_skip(l, 3, 0, -1) == 0);
  CHECK(asr_ctc_extended_labels(NULL, l, 3, 0) == -1 && asr_ctc_extended_labels(lp, NULL, 0, 0) == 1 && lp[0] == 0);
}

/* _naive (the definitions) = _ref (the recursions) on every labelling of tiny cases, every
 * flag, logits and probabilities in both layouts. */
static void t_lattice_ctc_naive_equals_ref(tctx *t) {
  enum { N = 3, T = 5, V = 3, S = 3, L = 2 * S + 1 };
  asr_rng rng;
  asr_real x[N * T * V], xt[N * T * V];
  int targets[N * S], il[N], tl[N], rep, flags, dom, n, tt, k;
  double a[2][N * T * L], b[2][N * T * L], g[2][N * T * L], po[2][N * T * V], lp[2][N], worst = 0;
  size_t wb = asr_ctc_lattice_workspace_size(N, T, V, S), i;
  void *work = TALLOC(char, wb);
  asr_rng_seed(&rng, 151, 0);
  for (rep = 0; rep < 40; rep++) {
    lat_batch(&rng, x, targets, il, tl, N, T, V, S, rep % V);
    for (dom = 0; dom < 2; dom++) {
      asr_loss_input in = asr_loss_input_make(dom ? ASR_INPUT_PROBS : ASR_INPUT_LOGITS,
                                              dom ? ASR_LAYOUT_TBV : ASR_LAYOUT_BTV);
      for (n = 0; n < N; n++)   /* probabilities: softmax rows scaled by 0.9, time-major */
        for (tt = 0; tt < T; tt++) {
          asr_real row[V];
          asr_softmax(row, x + (n * T + tt) * V, V);
          for (k = 0; k < V; k++) xt[(tt * N + n) * V + k] = (asr_real)(0.9 * row[k]);
        }
      for (flags = 0; flags < 4; flags++) {
        asr_result r0 = asr_ctc_lattice_batch_naive(a[0], b[0], g[0], po[0], lp[0], dom ? xt : x, in, targets, il,
                                                    tl, N, T, V, S, rep % V, flags, work, wb, NULL);
        asr_result r1 = asr_ctc_lattice_batch_ref(a[1], b[1], g[1], po[1], lp[1], dom ? xt : x, in, targets, il, tl,
                                                  N, T, V, S, rep % V, flags, work, wb, NULL);
        CHECKF(r0 >= 0 && r0 == r1, "rep %d: naive %d, ref %d", rep, (int)r0, (int)r1);
        for (i = 0; i < (size_t)N * T * L; i++) {
          double d = lat_max(lat_diff(a[0][i], a[1][i]), lat_max(lat_diff(b[0][i], b[1][i]), lat_diff(g[0][i], g[1][i])));
          worst = lat_max(worst, d);
          CHECKF(d <= 1e-13, "rep %d flags %d dom %d: state %lu: alpha %g/%g beta %g/%g gamma %g/%g", rep, flags, dom,
                 (unsigned long)i, a[0][i], a[1][i], b[0][i], b[1][i], g[0][i], g[1][i]);
        }
        for (i = 0; i < (size_t)N * T * V; i++) CHECK(lat_diff(po[0][i], po[1][i]) <= 1e-13);
        for (n = 0; n < N; n++) CHECK(lat_diff(lp[0][n], lp[1][n]) <= 1e-13);
      }
    }
  }
  free(work);
  snprintf(t->msg, sizeof t->msg, "480 batches, worst |naive - ref| %.2g", worst);
}

/* The identities on a wider batch (_ref): eq. (14) at every frame with either beta,
 * sum_s gamma_t(s) = 1, the per-symbol posterior = -grad of asr_ctc_loss_logprobs_ref and
 * y - grad of asr_ctc_loss_ref, ln p = -loss, and the PROB flag = exp of the logs. */
static void t_lattice_ctc_identities(tctx *t) {
  enum { N = 4, T = 40, V = 6, S = 12, L = 2 * S + 1 };
  asr_rng rng;
  asr_real *x = TALLOC(asr_real, N * T * V), *lpx = TALLOC(asr_real, N * T * V), *grad = TALLOC(asr_real, N * T * V);
  asr_real loss[N];
  int targets[N * S], il[N], tl[N], n, tt, s, k;
  double *a = TALLOC(double, N * T * L), *b = TALLOC(double, N * T * L), *be = TALLOC(double, N * T * L);
  double *g = TALLOC(double, N * T * L), *po = TALLOC(double, N * T * V), *pp = TALLOC(double, N * T * L), lp[N];
  double worst14 = 0, worstg = 0;
  size_t wb = asr_ctc_lattice_workspace_size(N, T, V, S), wl = asr_ctc_loss_workspace_size(T, V, S), i;
  void *work = TALLOC(char, wb > wl ? wb : wl);
  asr_loss_input in = asr_loss_input_make(ASR_INPUT_LOGITS, ASR_LAYOUT_BTV);
  asr_rng_seed(&rng, 152, 0);
  lat_batch(&rng, x, targets, il, tl, N, T, V, S, 0);
  il[0] = T;
  CHECK(asr_ctc_lattice_batch_ref(a, b, g, po, lp, x, in, targets, il, tl, N, T, V, S, 0, 0, work, wb, NULL) >= 0);
  CHECK(asr_ctc_lattice_batch_ref(NULL, be, NULL, NULL, NULL, x, in, targets, il, tl, N, T, V, S, 0,
                                  ASR_LATTICE_BETA_EXCL, work, wb, NULL) >= 0);
  for (n = 0; n < N; n++) {
    if (lp[n] == -INFINITY) continue;
    for (tt = 0; tt < il[n]; tt++) {
      double s14 = 0, s14e = 0, sg = 0;
      for (s = 0; s < L; s++) {
        size_t o = ((size_t)n * T + tt) * L + s;
        int lab = (s & 1) && (s >> 1) < tl[n] ? targets[n * S + (s >> 1)] : 0;
        double ly = (double)x[(n * T + tt) * V + lab] - asr_logsumexp(x + (n * T + tt) * V, V);
        if (a[o] > -INFINITY && b[o] > -INFINITY) s14 += exp(a[o] + b[o] - ly - lp[n]);   /* eq. (14) */
        if (a[o] > -INFINITY && be[o] > -INFINITY) s14e += exp(a[o] + be[o] - lp[n]);     /* beta without y */
        sg += exp(g[o]);
      }
      worst14 = lat_max(worst14, lat_max(fabs(s14 - 1), lat_max(fabs(s14e - 1), fabs(sg - 1))));
      CHECKF(fabs(s14 - 1) <= 1e-12 && fabs(s14e - 1) <= 1e-12 && fabs(sg - 1) <= 1e-12,
             "item %d frame %d: sum alpha beta / y / p = %.15g, with beta excl. %.15g, sum gamma %.15g", n, tt, s14,
             s14e, sg);
    }
  }
  /* the posterior is the loss's gradient: -dO/dz (log-probabilities), y - dO/du (logits) */
  for (i = 0; i < (size_t)N * T; i++) asr_log_softmax(lpx + i * V, x + i * V, V);
  CHECK(asr_ctc_loss_logprobs_ref(loss, grad, lpx, targets, il, tl, N, T, V, S, 0, ASR_REDUCTION_NONE, 0, work, wl,
                                  NULL) >= 0);
  for (n = 0; n < N; n++) CHECK_NEAR(-loss[n], lp[n], 1e-5 * fabs(lp[n]));
  for (n = 0; n < N; n++)
    for (tt = 0; tt < il[n]; tt++)
      for (k = 0; k < V; k++) {
        size_t o = ((size_t)n * T + tt) * V + k;
        worstg = lat_max(worstg, fabs(exp(po[o]) + grad[o]));
        CHECKF(fabs(exp(po[o]) + grad[o]) <= LAT_GRAD_TOL, "item %d t %d k %d: posterior %.9g, -grad %.9g", n, tt, k,
               exp(po[o]), -grad[o]);
      }
  memset(grad, 0, sizeof(asr_real) * N * T * V);
  CHECK(asr_ctc_loss_ref(loss, grad, x, targets, il, tl, N, T, V, S, 0, ASR_REDUCTION_NONE, 0, work, wl, NULL) >= 0);
  for (n = 0; n < N; n++)
    for (tt = 0; tt < il[n]; tt++)
      for (k = 0; k < V; k++) {
        size_t o = ((size_t)n * T + tt) * V + k;
        CHECK_NEAR(exp((double)lpx[o]) - exp(po[o]), grad[o], LAT_GRAD_TOL);
      }
  /* ASR_LATTICE_PROB: the same numbers, exponentiated; the padding is 0 */
  CHECK(asr_ctc_lattice_batch_ref(pp, NULL, NULL, NULL, NULL, x, in, targets, il, tl, N, T, V, S, 0,
                                  ASR_LATTICE_PROB, work, wb, NULL) >= 0);
  for (i = 0; i < (size_t)N * T * L; i++) CHECK(fabs(pp[i] - exp(a[i])) <= 1e-15 * exp(a[i]));
  CHECK(pp[((size_t)1 * T + T - 1) * L + L - 1] == 0 || il[1] == T);
  snprintf(t->msg, sizeof t->msg, "eq. (14), sum gamma = 1 to %.2g; posterior = -grad to %.2g", worst14, worstg);
  free(x), free(lpx), free(grad), free(a), free(b), free(be), free(g), free(po), free(pp), free(work);
}

/* asr_ctc_loss_input: every domain and layout gives asr_ctc_loss's loss, and the gradient
 * w.r.t. its own input: logits and log-probabilities transposed; probabilities p give
 * d/dp = -gamma/p, checked by finite differences in the double build. */
static void t_lattice_ctc_loss_input(tctx *t) {
  enum { N = 3, T = 7, V = 4, S = 3 };
  asr_rng rng;
  asr_real x[N * T * V], lpx[N * T * V], xt[N * T * V], g0[N * T * V], gt[N * T * V];
  asr_real l0[N], l1[N];
  int targets[N * S], il[N], tl[N], n, tt, k, dom;
  size_t wb = asr_ctc_loss_input_workspace_size(N, T, V, S), wl = asr_ctc_loss_workspace_size(T, V, S);
  void *work = TALLOC(char, wb > wl ? wb : wl);
  asr_error err;
  asr_rng_seed(&rng, 153, 0);
  lat_batch(&rng, x, targets, il, tl, N, T, V, S, 1);
  for (n = 0; n < N * T; n++) asr_log_softmax(lpx + n * V, x + n * V, V);
  for (dom = 0; dom < 3; dom++) {
    const asr_real *src = dom == 0 ? x : lpx;
    asr_loss_input in = asr_loss_input_make((asr_input_domain)dom, ASR_LAYOUT_TBV);
    memset(g0, 0, sizeof g0);
    memset(gt, 0, sizeof gt);
    CHECK((dom == 0 ? asr_ctc_loss : asr_ctc_loss_logprobs)(l0, g0, src, targets, il, tl, N, T, V, S, 1,
                                                              ASR_REDUCTION_MEAN, 0, work, wl, NULL) >= 0);
    for (n = 0; n < N; n++)   /* the time-major copy, probabilities exp(log-probabilities) */
      for (tt = 0; tt < T; tt++)
        for (k = 0; k < V; k++) {
          asr_real v = src[(n * T + tt) * V + k];
          xt[(tt * N + n) * V + k] = dom == 2 ? (asr_real)exp((double)v) : v;
        }
    CHECK(asr_ctc_loss_input(l1, gt, xt, in, targets, il, tl, N, T, V, S, 1, ASR_REDUCTION_MEAN, 0, work, wb, &err) >=
          0 || (printf("%s\n", err.msg), 0));
    CHECK_NEAR(l0[0], l1[0], 1e-6 * fabs(l0[0]));
    for (n = 0; n < N; n++)
      for (tt = 0; tt < T; tt++)
        for (k = 0; k < V; k++) {
          double want = g0[(n * T + tt) * V + k];
          if (dom == 2) want /= exp((double)lpx[(n * T + tt) * V + k]);   /* d/dp = d/dln p / p */
          CHECKF(fabs(gt[(tt * N + n) * V + k] - want) <= LAT_GRAD_TOL * (1 + fabs(want)),
                 "domain %d, item %d frame %d label %d: gradient %.9g, want %.9g", dom, n, tt, k,
                 gt[(tt * N + n) * V + k], want);
        }
  }
#if ASR_REAL_DOUBLE
  /* probabilities: the gradient by central differences, every element of every valid frame */
  {
    asr_loss_input in = asr_loss_input_make(ASR_INPUT_PROBS, ASR_LAYOUT_BTV);
    asr_real pt[N * T * V], g1[N * T * V];
    double worst = 0;
    for (n = 0; n < N * T * V; n++) pt[n] = (asr_real)(0.2 + 0.8 * asr_rng_uniform(&rng));   /* unnormalized */
    memset(g1, 0, sizeof g1);
    CHECK_OK(asr_ctc_loss_input(l1, g1, pt, in, targets, il, tl, N, T, V, S, 1, ASR_REDUCTION_SUM, 0, work, wb, NULL));
    for (n = 0; n < N * T * V; n++) {
      const double h = 1e-6;
      double save = pt[n], fd;
      if (n / V % T >= il[n / (T * V)]) continue;
      pt[n] = (asr_real)(save + h);
      CHECK_OK(asr_ctc_loss_input(l0, NULL, pt, in, targets, il, tl, N, T, V, S, 1, ASR_REDUCTION_SUM, 0, work, wb, NULL));
      fd = l0[0];
      pt[n] = (asr_real)(save - h);
      CHECK_OK(asr_ctc_loss_input(l0, NULL, pt, in, targets, il, tl, N, T, V, S, 1, ASR_REDUCTION_SUM, 0, work, wb, NULL));
      fd = (fd - l0[0]) / (2 * h);
      pt[n] = (asr_real)save;
      worst = lat_max(worst, fabs(fd - g1[n]));
      /* rounding of the two losses, eps |L| / h ~ 2e-9 for |L| ~ 10, h = 1e-6; truncation h^2 ~ 1e-12 */
      CHECKF(fabs(fd - g1[n]) <= 2e-8 * (1 + fabs(fd)), "element %d: finite difference %.10g, gradient %.10g", n, fd,
             g1[n]);
    }
    snprintf(t->msg, sizeof t->msg, "probabilities: gradient = finite differences to %.2g", worst);
  }
#endif
  /* bad input: a negative probability, an unknown domain, a short workspace */
  {
    asr_loss_input in = asr_loss_input_make(ASR_INPUT_PROBS, ASR_LAYOUT_TBV);
    for (n = 0; n < N * T * V; n++) xt[n] = (asr_real)0.25;
    xt[(1 * N + 0) * V + 2] = (asr_real)-0.5;   /* item 0, frame 1, label 2 */
    CHECK(asr_ctc_loss_input(l1, gt, xt, in, targets, il, tl, N, T, V, S, 1, ASR_REDUCTION_SUM, 0, work, wb, &err) ==
          ASR_ERR_RANGE);
    CHECKF(strstr(err.msg, "probs[0][1][2]") != NULL, "message: %s", err.msg);
    in.domain = (asr_input_domain)7;
    CHECK(asr_ctc_loss_input(l1, gt, xt, in, targets, il, tl, N, T, V, S, 1, ASR_REDUCTION_SUM, 0, work, wb, &err) ==
          ASR_ERR_INVALID_ARG);
    in.domain = ASR_INPUT_LOGITS;
    CHECK(asr_ctc_loss_input(l1, gt, xt, in, targets, il, tl, N, T, V, S, 1, ASR_REDUCTION_SUM, 0, work, wb - 1,
                             &err) == ASR_ERR_WORKSPACE);
    CHECK(asr_ctc_lattice_batch_ref(NULL, NULL, NULL, NULL, NULL, xt, in, targets, il, tl, N, T, V, S, 1, 8, work, wb,
                                    &err) == ASR_ERR_INVALID_ARG);
  }
  free(work);
}

/* ---- RNN-T */
/* A random RNN-T batch: logits (N,T,U+1,V), lengths (item 0 full), targets. */
static void lat_rnnt_batch(asr_rng *rng, asr_real *x, int *targets, int *il, int *tl, int N, int T, int U, int V,
                           int blank) {
  int n, j;
  fill_uniform(rng, x, (size_t)N * T * (U + 1) * V, -2, 2);
  for (n = 0; n < N; n++) {
    il[n] = n == 0 ? T : 1 + asr_rng_int(rng, T);
    tl[n] = n == 0 ? U : asr_rng_int(rng, U + 1);
    for (j = 0; j < U; j++) {
      int c = asr_rng_int(rng, V - 1);
      targets[n * U + j] = c >= blank ? c + 1 : c;
    }
  }
}

/* _naive (every partial alignment) = _ref (eqs. (16)-(18)); [Graves12] eq. (19) on every
 * diagonal; gamma = post_blank + post_label; the posteriors = -grad of
 * asr_rnnt_loss_logprobs_ref at the blank and y_{u+1}; probabilities in time-major layout
 * give the same lattice as their logs as log-probabilities. */
static void t_lattice_rnnt(tctx *t) {
  enum { N = 3, T = 5, U = 3, V = 4, W = U + 1, NODES = N * T * W };
  asr_rng rng;
  asr_real x[NODES * V], lpx[NODES * V], pt[NODES * V], grad[NODES * V], loss[N];
  int targets[N * U], il[N], tl[N], rep, n, tt, u, d;
  double a[2][NODES], b[2][NODES], g[2][NODES], pb[2][NODES], pl[2][NODES], lp[2][N], worst = 0, worst19 = 0, wg = 0;
  size_t wb = asr_rnnt_lattice_workspace_size(N, T, U, V), wl = asr_rnnt_loss_workspace_size(T, U, V), i;
  void *work = TALLOC(char, wb > wl ? wb : wl);
  asr_rnnt_opts o = asr_rnnt_default_opts();
  asr_error err;
  asr_rng_seed(&rng, 154, 0);
  for (rep = 0; rep < 30; rep++) {
    int blank = rep % V;
    asr_loss_input in = asr_loss_input_make(ASR_INPUT_LOGITS, ASR_LAYOUT_BTV);
    lat_rnnt_batch(&rng, x, targets, il, tl, N, T, U, V, blank);
    CHECK_OK(asr_rnnt_lattice_batch_naive(a[0], b[0], g[0], pb[0], pl[0], lp[0], x, in, targets, il, tl, N, T, U, V,
                                          blank, 0, work, wb, NULL));
    CHECK_OK(asr_rnnt_lattice_batch_ref(a[1], b[1], g[1], pb[1], pl[1], lp[1], x, in, targets, il, tl, N, T, U, V,
                                        blank, 0, work, wb, NULL));
    for (i = 0; i < (size_t)NODES; i++) {
      double dd = lat_max(lat_max(lat_diff(a[0][i], a[1][i]), lat_diff(b[0][i], b[1][i])),
                          lat_max(lat_diff(g[0][i], g[1][i]), lat_max(lat_diff(pb[0][i], pb[1][i]), lat_diff(pl[0][i], pl[1][i]))));
      worst = lat_max(worst, dd);
      CHECKF(dd <= 1e-13, "rep %d node %lu: alpha %g/%g beta %g/%g", rep, (unsigned long)i, a[0][i], a[1][i], b[0][i],
             b[1][i]);
    }
    for (n = 0; n < N; n++) {
      CHECK(lat_diff(lp[0][n], lp[1][n]) <= 1e-13);
      for (d = 0; d < il[n] + tl[n]; d++) {   /* eq. (19): each diagonal t + u = d carries all of Pr */
        double sum = 0;
        for (tt = 0; tt < il[n]; tt++)
          for (u = 0; u <= tl[n]; u++)
            if (tt + u == d) sum += exp(g[1][(n * T + tt) * W + u]);
        worst19 = lat_max(worst19, fabs(sum - 1));
        CHECKF(fabs(sum - 1) <= 1e-13, "rep %d item %d diagonal %d: sum gamma = %.15g", rep, n, d, sum);
      }
      for (tt = 0; tt < il[n]; tt++)   /* every visit leaves by the blank or the label */
        for (u = 0; u <= tl[n]; u++) {
          size_t q = (size_t)(n * T + tt) * W + u;
          CHECK(fabs(exp(g[1][q]) - exp(pb[1][q]) - exp(pl[1][q])) <= 1e-13);
        }
    }
    /* the posteriors are the log-probability contract's gradient */
    for (i = 0; i < (size_t)NODES; i++) asr_log_softmax(lpx + i * V, x + i * V, V);
    o.blank = blank;
    o.reduction = ASR_REDUCTION_NONE;
    CHECK_OK(asr_rnnt_loss_logprobs_ref(loss, grad, lpx, targets, il, tl, N, T, U, V, &o, work, wl, NULL));
    for (n = 0; n < N; n++)
      for (tt = 0; tt < il[n]; tt++)
        for (u = 0; u <= tl[n]; u++) {
          size_t q = (size_t)(n * T + tt) * W + u;
          double e = fabs(exp(pb[1][q]) + grad[q * V + blank]);
          if (u < tl[n]) e = lat_max(e, fabs(exp(pl[1][q]) + grad[q * V + targets[n * U + u]]));
          wg = lat_max(wg, e);
          CHECKF(e <= LAT_GRAD_TOL, "rep %d item %d node (%d,%d): posterior vs -grad differ by %.3g", rep, n, tt, u, e);
        }
    /* probabilities, time-major: the same lattice */
    for (n = 0; n < N; n++)
      for (tt = 0; tt < T; tt++)
        for (i = 0; i < (size_t)W * V; i++)
          pt[((size_t)tt * N + n) * W * V + i] = (asr_real)exp((double)lpx[((size_t)n * T + tt) * W * V + i]);
    in = asr_loss_input_make(ASR_INPUT_PROBS, ASR_LAYOUT_TBV);
    CHECK_OK(asr_rnnt_lattice_batch_ref(a[0], NULL, NULL, NULL, NULL, lp[0], pt, in, targets, il, tl, N, T, U, V,
                                        blank, 0, work, wb, NULL));
    for (i = 0; i < (size_t)NODES; i++)
      CHECK(lat_diff(a[0][i], a[1][i]) <= 1e-5 * (1 + fabs(a[1][i])));   /* float: exp then log rounds */
  }
  /* flags that do not apply, and a zero probability, are refused with a message */
  CHECK(asr_rnnt_lattice_batch_ref(a[0], NULL, NULL, NULL, NULL, NULL, x, asr_loss_input_make(ASR_INPUT_LOGITS, ASR_LAYOUT_BTV),
                                   targets, il, tl, N, T, U, V, 0, ASR_LATTICE_BETA_EXCL, work, wb, &err) ==
        ASR_ERR_INVALID_ARG);
  pt[0] = 0;
  CHECK(asr_rnnt_lattice_batch_ref(a[0], NULL, NULL, NULL, NULL, NULL, pt, asr_loss_input_make(ASR_INPUT_PROBS, ASR_LAYOUT_TBV),
                                   targets, il, tl, N, T, U, V, 0, 0, work, wb, &err) == ASR_ERR_RANGE);
  CHECKF(strstr(err.msg, "probs[0][0][0][0] = 0") != NULL, "message: %s", err.msg);
  free(work);
  snprintf(t->msg, sizeof t->msg, "naive - ref %.2g, eq. (19) %.2g, posterior = -grad %.2g", worst, worst19, wg);
}

/* asr_rnnt_loss_input: logits time-major, log-probabilities and probabilities give
 * asr_rnnt_loss's / _logprobs' loss, and the gradient w.r.t. their own input. */
static void t_lattice_rnnt_loss_input(tctx *t) {
  enum { N = 3, T = 4, U = 2, V = 5, IN = (U + 1) * V, ALL = N * T * IN };
  asr_rng rng;
  asr_real x[ALL], lpx[ALL], xt[ALL], g0[ALL], gt[ALL], l0[1], l1[1];
  int targets[N * U], il[N], tl[N], n, tt, dom;
  size_t wb = asr_rnnt_loss_input_workspace_size(N, T, U, V), wl = asr_rnnt_loss_workspace_size(T, U, V), i;
  void *work = TALLOC(char, wb > wl ? wb : wl);
  asr_rnnt_opts o = asr_rnnt_default_opts();
  asr_error err;
  asr_rng_seed(&rng, 155, 0);
  lat_rnnt_batch(&rng, x, targets, il, tl, N, T, U, V, 0);
  for (i = 0; i < (size_t)N * T * (U + 1); i++) asr_log_softmax(lpx + i * V, x + i * V, V);
  for (dom = 0; dom < 3; dom++) {
    const asr_real *src = dom == 0 ? x : lpx;
    CHECK_OK((dom == 0 ? asr_rnnt_loss : asr_rnnt_loss_logprobs)(l0, g0, src, targets, il, tl, N, T, U, V, &o, work,
                                                                 wl, NULL));
    for (n = 0; n < N; n++)
      for (tt = 0; tt < T; tt++)
        for (i = 0; i < (size_t)IN; i++) {
          asr_real v = src[((size_t)n * T + tt) * IN + i];
          xt[((size_t)tt * N + n) * IN + i] = dom == 2 ? (asr_real)exp((double)v) : v;
        }
    CHECK(asr_rnnt_loss_input(l1, gt, xt, asr_loss_input_make((asr_input_domain)dom, ASR_LAYOUT_TBV), targets, il, tl,
                              N, T, U, V, &o, work, wb, &err) == ASR_OK ||
          (printf("%s\n", err.msg), 0));
    CHECK_NEAR(l0[0], l1[0], 1e-6 * fabs(l0[0]));
    for (n = 0; n < N; n++)
      for (tt = 0; tt < T; tt++)
        for (i = 0; i < (size_t)IN; i++) {
          double want = g0[((size_t)n * T + tt) * IN + i];
          if (dom == 2) want /= exp((double)lpx[((size_t)n * T + tt) * IN + i]);
          CHECKF(fabs(gt[((size_t)tt * N + n) * IN + i] - want) <= LAT_GRAD_TOL * (1 + fabs(want)),
                 "domain %d item %d frame %d entry %lu: %.9g, want %.9g", dom, n, tt, (unsigned long)i,
                 gt[((size_t)tt * N + n) * IN + i], want);
        }
  }
  free(work);
}

/* .npy in Fortran order (what np.save writes for x.T) and big-endian: read back row-major
 * and native. The file bytes are written here by the rules of NumPy's format
 * (numpy/lib/format.py: data in the header's order and byte order). */
static void t_lattice_npy_fortran_big_endian(tctx *t) {
  /* C-order x (2,3,2) = 0..11; in Fortran order element (i,j,k) is at i + 2j + 6k */
  unsigned char buf[256];
  float f[12];
  double d[6];
  int i, j, k;
  asr_array a;
  char path[512];
  const char *h = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 2), }";
  size_t hl = strlen(h), n;
  asr_error err;
  for (i = 0; i < 2; i++)
    for (j = 0; j < 3; j++)
      for (k = 0; k < 2; k++) f[i + 2 * j + 6 * k] = (float)(i * 6 + j * 2 + k);
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)hl;
  buf[9] = 0;
  memcpy(buf + 10, h, hl);
  memcpy(buf + 10 + hl, f, sizeof f);   /* '<f4': this test runs on little-endian hosts */
  n = 10 + hl + sizeof f;
  CHECK_OK(asr_npy_parse(buf, n, &a, NULL, &err));
  CHECK(a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 2);
  for (i = 0; i < 12; i++) CHECKF(((float *)a.data)[i] == (float)i, "element %d = %g", i, ((float *)a.data)[i]);
  asr_array_free(&a, NULL);
  /* the same bytes from a file, converted to float64 on the way */
  snprintf(path, sizeof path, "%s/fortran.npy", t->tmpdir);
  {
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    CHECK(fwrite(buf, 1, n, fp) == n);
    fclose(fp);
  }
  CHECK_OK(asr_npy_read_as(path, ASR_DTYPE_F64, 0, &a, NULL, NULL, &err));
  for (i = 0; i < 12; i++) CHECK(((double *)a.data)[i] == (double)i);
  asr_array_free(&a, NULL);
  /* big-endian float64 in Fortran order, shape (3, 2): C order 0..5 */
  {
    const char *hb = "{'descr': '>f8', 'fortran_order': True, 'shape': (3, 2), }";
    size_t hbl = strlen(hb), b;
    for (i = 0; i < 3; i++)
      for (j = 0; j < 2; j++) d[i + 3 * j] = i * 2 + j;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)hbl;
    buf[9] = 0;
    memcpy(buf + 10, hb, hbl);
    for (i = 0; i < 6; i++)
      for (b = 0; b < 8; b++) buf[10 + hbl + i * 8 + b] = ((unsigned char *)&d[i])[7 - b];   /* big-endian bytes */
    CHECK_OK(asr_npy_parse(buf, 10 + hbl + 48, &a, NULL, &err));
    for (i = 0; i < 6; i++) CHECKF(((double *)a.data)[i] == (double)i, "element %d = %g", i, ((double *)a.data)[i]);
    asr_array_free(&a, NULL);
  }
}

/* ---- Two prefix beam searches (docs/ctc.md): [Hannun14]'s, which ranks each prefix by
 * p_b + p_nb, and the lecture-notes variant that keeps blank-ending and label-ending
 * paths as separate entries and prunes them jointly (then merges at the end). The latter
 * is written here, only for this comparison. Paths are at most 8 tokens. */
typedef struct lec_path {
  int tok[8], len;
  double p;
} lec_path;

/* Adds p to the entry of (tok, len) in L (n entries), or appends one. */
static void lec_add(lec_path *L, int *n, const int *tok, int len, double p) {
  int i;
  for (i = 0; i < *n; i++)
    if (L[i].len == len && memcmp(L[i].tok, tok, sizeof(int) * (size_t)len) == 0) {
      L[i].p += p;
      return;
    }
  memcpy(L[*n].tok, tok, sizeof(int) * (size_t)len);
  L[*n].len = len;
  L[*n].p = p;
  (*n)++;
}

/* Keeps the entries of both lists whose score is >= the beam-th best of them all. */
static void lec_prune(lec_path *pb, int *nb, lec_path *ps, int *ns, int beam) {
  double s[64], cut;
  int i, j, n = 0, m;
  for (i = 0; i < *nb; i++) s[n++] = pb[i].p;
  for (i = 0; i < *ns; i++) s[n++] = ps[i].p;
  for (i = 1; i < n; i++)   /* descending */
    for (j = i; j > 0 && s[j] > s[j - 1]; j--) cut = s[j], s[j] = s[j - 1], s[j - 1] = cut;
  cut = n > beam ? s[beam - 1] : s[n - 1];
  for (i = m = 0; i < *nb; i++)
    if (pb[i].p >= cut) pb[m++] = pb[i];
  *nb = m;
  for (i = m = 0; i < *ns; i++)
    if (ps[i].p >= cut) ps[m++] = ps[i];
  *ns = m;
}

/* The lecture variant on probabilities y (T,V), blank 0: the merged final paths in out. */
static int lec_decode(lec_path *out, const double *y, int T, int V, int beam) {
  lec_path pb[64], ps[64], nb_[64], ns_[64];
  int nb = 0, ns = 0, t, i, c, nn, nm, n = 0;
  int tok[8];
  lec_add(pb, &nb, tok, 0, y[0]);
  for (c = 1; c < V; c++) tok[0] = c, lec_add(ps, &ns, tok, 1, y[c]);
  for (t = 1; t < T; t++) {
    lec_prune(pb, &nb, ps, &ns, beam);
    nn = nm = 0;
    for (i = 0; i < nb; i++) {   /* a blank-ending path: + blank stays, + c extends */
      lec_add(nb_, &nn, pb[i].tok, pb[i].len, pb[i].p * y[t * V]);
      for (c = 1; c < V; c++) {
        memcpy(tok, pb[i].tok, sizeof(int) * (size_t)pb[i].len);
        tok[pb[i].len] = c;
        lec_add(ns_, &nm, tok, pb[i].len + 1, pb[i].p * y[t * V + c]);
      }
    }
    for (i = 0; i < ns; i++) {   /* a label-ending path: + blank, + its last label merges */
      lec_add(nb_, &nn, ps[i].tok, ps[i].len, ps[i].p * y[t * V]);
      for (c = 1; c < V; c++) {
        memcpy(tok, ps[i].tok, sizeof(int) * (size_t)ps[i].len);
        tok[ps[i].len] = c;
        lec_add(ns_, &nm, tok, ps[i].len + (c != ps[i].tok[ps[i].len - 1]), ps[i].p * y[t * V + c]);
      }
    }
    memcpy(pb, nb_, sizeof(lec_path) * (size_t)nn), nb = nn;
    memcpy(ps, ns_, sizeof(lec_path) * (size_t)nm), ns = nm;
  }
  for (i = 0; i < nb; i++) lec_add(out, &n, pb[i].tok, pb[i].len, pb[i].p);
  for (i = 0; i < ns; i++) lec_add(out, &n, ps[i].tok, ps[i].len, ps[i].p);
  return n;
}

/* The example of docs/ctc.md: y = [[.4 .58 .02] [.15 .65 .2] [.1 .42 .48]], blank 0,
 * beam 1. [Hannun14] ends with "ab" (beam score .22272), the lecture variant with "a"
 * (.19604); the exact p(l|x) of eq. (3), by asr_ctc_loss_logprobs_naive's enumeration:
 * p(ab) = .4148 > p(a) = .36514, so here the joint pruning loses the answer. Also:
 * all_final returns every merged final prefix ("ab" .22272, "a" .20474, "aa" .03654), and
 * a beam wide enough never to prune gives each prefix its exact p(l|x). */
static void t_lattice_beam_all_final(tctx *t) {
  const double y[9] = {0.4, 0.58, 0.02, 0.15, 0.65, 0.2, 0.1, 0.42, 0.48};
  const int T = 3, V = 3;
  asr_real lp[9], loss;
  lec_path fin[64];
  int *tokens = TALLOC(int, 81 * 3), *ntok = TALLOC(int, 81), nh, i, k, nf, best;
  double *sc = TALLOC(double, 81);
  size_t wb = asr_ctc_beam_workspace_size(T, V, 27), wl = asr_ctc_loss_workspace_size(T, V, 3);
  void *work = TALLOC(char, wb > wl ? wb : wl);
  asr_ctc_beam_opts o = asr_ctc_beam_opts_default(1, 0);
  for (i = 0; i < 9; i++) lp[i] = (asr_real)log(y[i]);
  /* [Hannun14], beam 1 */
  CHECK_OK(asr_ctc_prefix_beam_search(tokens, ntok, sc, &nh, lp, T, V, &o, work, wb));
  CHECK(nh == 1 && ntok[0] == 2 && tokens[0] == 1 && tokens[1] == 2);
  CHECK_NEAR(exp(sc[0]), 0.22272, 1e-6);
  /* all_final: every merged final prefix, best first */
  o.all_final = 1;
  o.nbest = asr_ctc_beam_max_final(1, V);
  CHECK(o.nbest == 3);
  CHECK_OK(asr_ctc_prefix_beam_search(tokens, ntok, sc, &nh, lp, T, V, &o, work, wb));
  CHECKF(nh == 3, "%d final prefixes", nh);
  CHECK(ntok[0] == 2 && tokens[0] == 1 && tokens[1] == 2);
  CHECK(ntok[1] == 1 && tokens[T] == 1);
  CHECK(ntok[2] == 2 && tokens[2 * T] == 1 && tokens[2 * T + 1] == 1);
  CHECK_NEAR(exp(sc[0]), 0.22272, 1e-6);
  CHECK_NEAR(exp(sc[1]), 0.20474, 1e-6);
  CHECK_NEAR(exp(sc[2]), 0.03654, 1e-6);
  /* the lecture variant, beam 1 */
  nf = lec_decode(fin, y, T, V, 1);
  for (best = 0, i = 1; i < nf; i++)
    if (fin[i].p > fin[best].p) best = i;
  CHECK(nf == 2 && fin[best].len == 1 && fin[best].tok[0] == 1);
  CHECK_NEAR(fin[best].p, 0.19604, 1e-12);
  /* the exact probabilities settle it: p(ab) > p(a) */
  {
    int ab[2] = {1, 2}, a1[1] = {1}, il = T, tl;
    tl = 2;
    CHECK_OK(asr_ctc_loss_logprobs_naive(&loss, NULL, lp, ab, &il, &tl, 1, T, V, 2, 0, ASR_REDUCTION_NONE, 0, work,
                                         wl, NULL));
    CHECK_NEAR(exp(-(double)loss), 0.4148, 1e-6);
    tl = 1;
    CHECK_OK(asr_ctc_loss_logprobs_naive(&loss, NULL, lp, a1, &il, &tl, 1, T, V, 1, 0, ASR_REDUCTION_NONE, 0, work,
                                         wl, NULL));
    CHECK_NEAR(exp(-(double)loss), 0.36514, 1e-6);
  }
  /* a beam that never prunes (27 = V^T paths, so at least as many as prefixes) with
   * all_final: every labelling of nonzero probability, each with its exact p(l|x) */
  o = asr_ctc_beam_opts_default(27, 0);
  o.all_final = 1;
  o.nbest = asr_ctc_beam_max_final(27, V);
  CHECK_OK(asr_ctc_prefix_beam_search(tokens, ntok, sc, &nh, lp, T, V, &o, work, wb));
  for (i = 0; i < nh; i++) {
    int il = T, tl = ntok[i];
    if (tl == 0) continue;
    CHECK_OK(asr_ctc_loss_logprobs_naive(&loss, NULL, lp, tokens + i * T, &il, &tl, 1, T, V, tl, 0,
                                         ASR_REDUCTION_NONE, 0, work, wl, NULL) );
    CHECK_NEAR(sc[i], -(double)loss, 1e-6);
  }
  CHECKF(nh == 9, "%d prefixes", nh);   /* "", a, b, aa, ab, ba, bb, aba, bab: what 3 frames can carry */
  for (k = 1; k < nh; k++) CHECK(sc[k] <= sc[k - 1]);
  /* nbest beyond the beam is refused without all_final */
  o.all_final = 0;
  CHECK(asr_ctc_prefix_beam_search(tokens, ntok, sc, &nh, lp, T, V, &o, work, wb) == ASR_ERR_INVALID_ARG);
  free(work), free(tokens), free(ntok), free(sc);
}

static const test_case TESTS_lattice[] = {
  {"lattice/ctc_extended_labels", t_lattice_extended_labels},
  {"lattice/ctc_naive_equals_ref", t_lattice_ctc_naive_equals_ref},
  {"lattice/ctc_identities", t_lattice_ctc_identities},
  {"lattice/ctc_loss_input", t_lattice_ctc_loss_input},
  {"lattice/rnnt_naive_ref_identities", t_lattice_rnnt},
  {"lattice/rnnt_loss_input", t_lattice_rnnt_loss_input},
  {"lattice/npy_fortran_big_endian", t_lattice_npy_fortran_big_endian},
  {"lattice/beam_all_final", t_lattice_beam_all_final},
  {0, 0}
};
