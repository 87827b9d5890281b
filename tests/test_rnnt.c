/* tests/test_rnnt.c - section 6, RNN-T [Graves12]: the lattice, the loss in three tiers and
 * two contracts, the joint network, row-at-a-time training, the prediction network and the
 * decoders. Expected values come from asr_rnnt_loss_naive (the sum over every alignment),
 * from the published cases (asr_rnnt_known_cases, checked against
 * ../shared/data/known_answers/ctc_rnnt_known_answers.json below) and from finite
 * differences. The torchaudio comparison is tests/torch/test_rnnt.py. */

static void rnnt_log_line(void *user, const char *line) {
  (void)user;
  (void)line;   /* set ASR_TEST_VERBOSE to print every checker line */
  if (getenv("ASR_TEST_VERBOSE")) printf("    %s\n", line);
}

static void rnnt_run_checker(tctx *t, asr_rnnt_loss_fn fn) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  rep.log = rnnt_log_line;
  CHECK_OK(asr_check_rnnt(fn, 7, &rep));
  CHECKF(rep.failed == 0, "%d of %d cases failed; first: %s", rep.failed, rep.passed + rep.failed,
         rep.first_failure);
  CHECK(rep.passed >= 28);
  snprintf(t->msg, sizeof t->msg, "%d cases, worst %.2g", rep.passed, rep.worst);
}

/* The checker on every tier: tiny lattices vs naive, batches vs ref, finite differences,
 * the published cases. naive checks itself against itself in part 1 (trivially) but meets
 * ref in part 2 and the published numbers in part 4. */
static void t_rnnt_check_naive(tctx *t) { rnnt_run_checker(t, asr_rnnt_loss_naive); }
static void t_rnnt_check_ref(tctx *t) { rnnt_run_checker(t, asr_rnnt_loss_ref); }
static void t_rnnt_check_fast(tctx *t) { rnnt_run_checker(t, asr_rnnt_loss); }

/* Random logits (T,U+1,V) and labels for one utterance. */
static void rnnt_random_item(asr_rng *rng, asr_real *z, int *y, int T, int U, int V, int blank, double scale) {
  int i;
  for (i = 0; i < T * (U + 1) * V; i++) z[i] = (asr_real)(scale * asr_rng_normal(rng));
  for (i = 0; i < U; i++) {
    int k = asr_rng_int(rng, V - 1);
    y[i] = k >= blank ? k + 1 : k;
  }
}

/* [Graves12]: Pr(y*|x) = alpha(T,U) blank(T,U) (eq. 17) = beta(1,0) (eq. 18), and the sum of
 * alpha(t,u) beta(t,u) over every diagonal t + u = n is Pr(y*|x) again (eq. 19). */
static void t_rnnt_lattice_identities(tctx *t) {
  enum { T = 7, U = 5, V = 6 };
  asr_real z[T * (U + 1) * V];
  int y[U], n, tt;
  double lb[T * (U + 1)], ll[T * (U + 1)], la[T * (U + 1)], lbeta[T * (U + 1)], pa, pb, worst = 0;
  asr_rng rng;
  asr_rng_seed(&rng, 11, 0);
  rnnt_random_item(&rng, z, y, T, U, V, 2, 2.0);
  asr_rnnt_lattice(lb, ll, NULL, z, y, T, U, U + 1, V, 2);
  pa = asr_rnnt_alpha(la, lb, ll, T, U);
  pb = asr_rnnt_beta(lbeta, lb, ll, T, U);
  /* float logits, double lattice: only the order of the additions differs */
  CHECK_NEAR(pa, pb, 1e-12 * fabs(pa));
  for (n = 0; n <= T - 1 + U; n++) {
    double s = -INFINITY;
    for (tt = 0; tt < T; tt++) {
      int u = n - tt;
      if (u >= 0 && u <= U) s = asr_logaddexp(s, la[tt * (U + 1) + u] + lbeta[tt * (U + 1) + u]);
    }
    if (fabs(s - pa) > worst) worst = fabs(s - pa);
  }
  CHECKF(worst < 1e-12 * fabs(pa) + 1e-13, "a diagonal of alpha*beta differs from P by %.3g (log)", worst);
  snprintf(t->msg, sizeof t->msg, "ln P %.6f, diagonals within %.1e", pa, worst);
}

/* The two contracts: the log-probs gradient chained through log-softmax's backward is the
 * logits gradient; and the published grad_logprobs (warp-transducer options_test). */
static void t_rnnt_logprobs_contract(tctx *t) {
  enum { N = 3, T = 5, U = 3, V = 7 };
  static asr_real z[N * T * (U + 1) * V], lp[N * T * (U + 1) * V], g_lp[N * T * (U + 1) * V],
      g_z[N * T * (U + 1) * V], g_chain[N * T * (U + 1) * V];
  int y[N * U], Tl[N] = {5, 3, 4}, Ul[N] = {3, 1, 0}, i, nk;
  asr_real l1[N], l2[N];
  asr_rng rng;
  asr_rnnt_opts o = asr_rnnt_default_opts();
  size_t wb = asr_rnnt_loss_workspace_size(T, U, V);
  void *w = malloc(wb);
  const asr_rnnt_known_case *ka = asr_rnnt_known_cases(&nk);
  double worst = 0, tol = ASR_REAL_DOUBLE ? 1e-12 : 2e-6;
  asr_rng_seed(&rng, 3, 0);
  o.reduction = ASR_REDUCTION_NONE;
  o.blank = 2;
  for (i = 0; i < N; i++) rnnt_random_item(&rng, z + i * T * (U + 1) * V, y + i * U, T, U, V, 2, 2.0);
  for (i = 0; i < N * T * (U + 1); i++) asr_log_softmax(lp + i * V, z + i * V, V);
  CHECK_OK(asr_rnnt_loss_ref(l1, g_z, z, y, Tl, Ul, N, T, U, V, &o, w, wb, NULL));
  CHECK_OK(asr_rnnt_loss_logprobs(l2, g_lp, lp, y, Tl, Ul, N, T, U, V, &o, w, wb, NULL));
  for (i = 0; i < N; i++) CHECK_NEAR(l1[i], l2[i], tol * (1 + fabs(l1[i])));
  memset(g_chain, 0, sizeof g_chain);
  for (i = 0; i < N * T * (U + 1); i++) asr_log_softmax_backward(g_chain + i * V, lp + i * V, g_lp + i * V, V);
  worst = max_abs_diff(g_chain, g_z, (size_t)N * T * (U + 1) * V);
  /* float: log-softmax stored in float loses ~1e-7 relative per entry */
  CHECKF(worst <= tol, "chained log-probs gradient differs from the logits gradient by %.3g", worst);
  /* the published log-probs gradient of the B2 case, through the fast and the naive tier */
  for (i = 0; i < 2 * nk; i++)
    if (ka[i / 2].grad_logprobs) {
      const asr_rnnt_known_case *k = &ka[i / 2];
      asr_rnnt_loss_fn fn = i % 2 ? asr_rnnt_loss_logprobs_naive : asr_rnnt_loss_logprobs;
      int m = k->N * k->T * (k->U + 1) * k->V, j;
      double e = 0;
      for (j = 0; j < m; j++) z[j] = (asr_real)k->logits[j];
      for (j = 0; j < m / k->V; j++) asr_log_softmax(lp + j * k->V, z + j * k->V, k->V);
      o.blank = k->blank;
      CHECK_OK(fn(l2, g_lp, lp, k->targets, k->logit_lengths, k->target_lengths, k->N, k->T, k->U, k->V, &o, w,
                  wb, NULL));
      for (j = 0; j < m; j++) e = fmax(e, fabs((double)g_lp[j] - k->grad_logprobs[j]));
      /* printed to 6 decimals */
      CHECKF(e <= 1e-6, "%s (%s): grad_logprobs differs by %.3g", k->name, i % 2 ? "naive" : "fast", e);
      for (j = 0; j < k->N; j++) CHECK_NEAR(l2[j], k->cost[j], 1e-6);
    }
  free(w);
  snprintf(t->msg, sizeof t->msg, "chain rule within %.1e", worst);
}

/* The log-probability contract's _naive (every alignment enumerated, [Graves12] eq. (1))
 * against _ref (alpha-beta) on every tiny lattice, T = 1..4, U = 0..3, blank first and
 * last, as one ragged batch per size with every reduction and a clamp; the inputs are
 * normalized log-probabilities (log-softmax of random logits) and, since the contract takes
 * them as given, unnormalized ones too (rnnt/logprobs_contract also runs _naive on the
 * published warp-transducer log-probability gradient). Tolerance: both sum in double from the same
 * inputs, so 1e-10 in the double build (measured ~1e-15); in float the results are rounded
 * to float at the end (6e-8 relative on values up to ~10), so 1e-6. */
static void t_rnnt_logprobs_naive_vs_ref(tctx *t) {
  enum { N = 3, MT = 4, MU = 3, V = 5 };
  static asr_real lp[N * MT * (MU + 1) * V], ga[N * MT * (MU + 1) * V], gb[N * MT * (MU + 1) * V];
  asr_real la[N], lb[N];
  int y[N * MU], Tl[N], Ul[N], T, U, pass, red, i, cases = 0;
  size_t wb = asr_rnnt_loss_workspace_size(MT, MU, V);
  void *w = malloc(wb);
  const double tol = ASR_REAL_DOUBLE ? 1e-10 : 1e-6;
  double worst = 0;
  asr_rng rng;
  asr_rng_seed(&rng, 21, 0);
  for (T = 1; T <= MT; T++)
    for (U = 0; U <= MU; U++)
      for (pass = 0; pass < 4; pass++) {
        asr_rnnt_opts o = asr_rnnt_default_opts();
        int blank = pass & 1 ? V - 1 : 0, b;
        size_t n = (size_t)N * T * (U + 1) * V;
        o.blank = blank;
        o.clamp = pass == 3 ? 0.1 : -1;
        for (b = 0; b < N; b++) {
          Tl[b] = b == 0 ? T : 1 + asr_rng_int(&rng, T);
          Ul[b] = b == 0 ? U : asr_rng_int(&rng, U + 1);
          rnnt_random_item(&rng, lp + (size_t)b * T * (U + 1) * V, y + b * U, T, U, V, blank, 2.0);
        }
        if (pass < 2) /* normalized: log Pr(k|t,u) of random logits */
          for (i = 0; i < (int)(n / V); i++) asr_log_softmax(lp + (size_t)i * V, lp + (size_t)i * V, V);
        else          /* unnormalized: any log-probabilities below 0 */
          for (i = 0; i < (int)n; i++) lp[i] = (asr_real)(-fabs((double)lp[i]));
        for (red = 0; red < 3; red++) {
          o.reduction = (asr_reduction)red;
          for (i = 0; i < (int)n; i++) ga[i] = gb[i] = (asr_real)NAN;   /* every entry must be written */
          CHECK_OK(asr_rnnt_loss_logprobs_naive(la, ga, lp, y, Tl, Ul, N, T, U, V, &o, w, wb, NULL));
          CHECK_OK(asr_rnnt_loss_logprobs_ref(lb, gb, lp, y, Tl, Ul, N, T, U, V, &o, w, wb, NULL));
          for (i = 0; i < (red == 0 ? N : 1); i++) {
            double e = fabs((double)la[i] - lb[i]) / fmax(1.0, fabs((double)lb[i]));
            if (!(e <= worst)) worst = e;
          }
          {
            double e = max_abs_diff(ga, gb, n);
            if (!(e <= worst)) worst = e;
          }
          cases++;
        }
      }
  CHECKF(worst <= tol, "logprobs naive and ref differ by %.3g (tolerance %.0e)", worst, tol);
  free(w);
  snprintf(t->msg, sizeof t->msg, "%d batches x reductions, worst difference %.1e", cases, worst);
}

/* ---- the embedded published numbers equal ../shared/data's JSON file */
/* Reads every number of the (possibly nested) array that follows `"field":` inside the
 * top-level object `"case_name": {...}`, flattened, into out (cap); returns the count, -1
 * if absent. A bare number (not an array) counts as one element. */
static int rnnt_json_numbers(const char *json, const char *case_name, const char *field, double *out, int cap) {
  char pat[128];
  const char *c, *end, *f, *p;
  int depth = 0, n = 0;
  snprintf(pat, sizeof pat, "\"%s\": {", case_name);
  c = strstr(json, pat);
  if (!c) return -1;
  end = strstr(c, "\n }");            /* the object's closing brace (one-space indent) */
  snprintf(pat, sizeof pat, "\"%s\":", field);
  f = strstr(c, pat);
  if (!f || (end && f > end)) return -1;
  p = f + strlen(pat);
  while (*p == ' ') p++;
  if (*p != '[') {
    out[0] = strtod(p, NULL);
    return 1;
  }
  for (; *p; p++) {
    if (*p == '[') depth++;
    else if (*p == ']') {
      if (--depth == 0) break;
    } else if ((*p >= '0' && *p <= '9') || *p == '-' || *p == '.') {
      char *stop;
      double v = strtod(p, &stop);
      if (n < cap) out[n] = v;
      n++;
      p = stop - 1;
    }
  }
  return n;
}

static void t_rnnt_known_answers_match_json(tctx *t) {
  char path[512];
  unsigned char *buf;
  size_t len;
  static double v[512];
  int nk, i, j, compared = 0;
  const asr_rnnt_known_case *ka = asr_rnnt_known_cases(&nk);
  SHARED_PATH(path, "known_answers/ctc_rnnt_known_answers.json");
  CHECK_OK(asr_read_file(path, &buf, &len, NULL, NULL));
  {
    char *json = (char *)realloc(buf, len + 1);
    CHECK(json);
    json[len] = 0;
    for (i = 0; i < nk; i++) {
      const asr_rnnt_known_case *k = &ka[i];
      int m = k->N * k->T * (k->U + 1) * k->V;
      struct {
        const char *field, *alt;
        const double *want;
        int n;
      } fields[7];
      int nf = 0, f;
      fields[nf].field = "logits", fields[nf].alt = "logits_flat", fields[nf].want = k->logits, fields[nf++].n = m;
      fields[nf].field = "expected_cost", fields[nf].alt = NULL, fields[nf].want = k->cost, fields[nf++].n = k->N;
      fields[nf].field = "grad_logits", fields[nf].alt = "grad_logits_flat", fields[nf].want = k->grad_logits,
      fields[nf++].n = m;
      fields[nf].field = "grad_logprobs_flat", fields[nf].alt = NULL, fields[nf].want = k->grad_logprobs,
      fields[nf++].n = m;
      fields[nf].field = "emissions", fields[nf].alt = NULL, fields[nf].want = k->emissions, fields[nf++].n = k->T * k->V;
      fields[nf].field = "egrads_flat", fields[nf].alt = NULL, fields[nf].want = k->grad_emissions,
      fields[nf++].n = k->T * k->V;
      fields[nf].field = "pgrads_flat", fields[nf].alt = NULL, fields[nf].want = k->grad_predictions,
      fields[nf++].n = (k->U + 1) * k->V;
      for (f = 0; f < nf; f++) {
        int n;
        if (!fields[f].want) continue;
        n = rnnt_json_numbers(json, k->name, fields[f].field, v, 512);
        if (n < 0 && fields[f].alt) n = rnnt_json_numbers(json, k->name, fields[f].alt, v, 512);
        CHECKF(n == fields[f].n, "%s.%s: %d numbers in the JSON, %d embedded", k->name, fields[f].field, n,
               fields[f].n);
        for (j = 0; j < n; j++)
          CHECKF(v[j] == fields[f].want[j], "%s.%s[%d]: JSON %.17g, embedded %.17g", k->name, fields[f].field, j,
                 v[j], fields[f].want[j]);
        compared += n;
      }
      /* sizes, blank, labels */
      {
        int n = rnnt_json_numbers(json, k->name, "blank", v, 512);
        CHECKF(n == 1 && (int)v[0] == k->blank, "%s: blank", k->name);
        n = rnnt_json_numbers(json, k->name, "labels", v, 512);
        CHECKF(n == k->N * k->U, "%s: %d labels in the JSON", k->name, n);
        for (j = 0; j < n; j++) CHECKF((int)v[j] == k->targets[j], "%s: labels[%d]", k->name, j);
        n = rnnt_json_numbers(json, k->name, "V", v, 512);
        CHECKF(n == 1 && (int)v[0] == k->V, "%s: V", k->name);
        n = rnnt_json_numbers(json, k->name, "U_plus_1", v, 512);
        CHECKF(n == 1 && (int)v[0] == k->U + 1, "%s: U_plus_1", k->name);
      }
    }
    free(json);
  }
  snprintf(t->msg, sizeof t->msg, "%d numbers of %d cases", compared, nk);
}

/* T = 2000 frames, U = 300 labels: alpha(T,U) is about e^-3000 and underflows any
 * floating-point type, its log does not. The loss must be finite, forward and backward
 * must agree, and every gradient entry must be finite. V = 3 keeps it fast. */
static void t_rnnt_long_lattice(tctx *t) {
  enum { T = 2000, U = 300, V = 3 };
  size_t n = (size_t)T * (U + 1) * V, i;
  asr_real *z = TALLOC(asr_real, n), *g = TALLOC(asr_real, n), loss;
  int *y = TALLOC(int, U), Tl = T, Ul = U;
  size_t wb = asr_rnnt_loss_workspace_size(T, U, V);
  void *w = malloc(wb);
  double *lb = TALLOC(double, (size_t)T * (U + 1)), *ll = TALLOC(double, (size_t)T * (U + 1));
  double *la = TALLOC(double, (size_t)T * (U + 1)), pa, pb;
  asr_rng rng;
  asr_rnnt_opts o = asr_rnnt_default_opts();
  asr_rng_seed(&rng, 5, 0);
  rnnt_random_item(&rng, z, y, T, U, V, 0, 1.0);
  CHECK_OK(asr_rnnt_loss(&loss, g, z, y, &Tl, &Ul, 1, T, U, V, &o, w, wb, NULL));
  CHECKF(isfinite(loss) && loss > 1000, "loss %g", (double)loss);
  for (i = 0; i < n; i++) CHECKF(isfinite(g[i]), "grad[%lu] = %g", (unsigned long)i, (double)g[i]);
  asr_rnnt_lattice(lb, ll, NULL, z, y, T, U, U + 1, V, 0);
  pa = asr_rnnt_alpha(la, lb, ll, T, U);
  pb = asr_rnnt_beta(la, lb, ll, T, U);
  /* 600000 log-adds in double: relative agreement ~1e-12 expected, 1e-9 allowed */
  CHECK_NEAR(pa, pb, 1e-9 * fabs(pa));
  CHECK_NEAR(-pa, loss, (ASR_REAL_DOUBLE ? 1e-12 : 1e-6) * fabs(pa));   /* asr_real rounding */
  free(z), free(g), free(y), free(w), free(lb), free(ll), free(la);
  snprintf(t->msg, sizeof t->msg, "loss %.3f", (double)loss);
}

/* Bad input: each is refused with its code, and nothing is written. */
static void t_rnnt_bad_input(tctx *t) {
  enum { N = 2, T = 3, U = 2, V = 4 };
  asr_real z[N * T * (U + 1) * V], g[N * T * (U + 1) * V], loss[N];
  int y[N * U] = {1, 2, 3, 1}, Tl[N] = {3, 2}, Ul[N] = {2, 1}, i;
  size_t wb = asr_rnnt_loss_workspace_size(T, U, V);
  void *w = malloc(wb);
  asr_rnnt_opts o = asr_rnnt_default_opts();
  asr_error err;
  asr_rnnt_loss_fn fns[6];
  int f;
  fns[0] = asr_rnnt_loss_naive, fns[1] = asr_rnnt_loss_ref, fns[2] = asr_rnnt_loss;
  fns[3] = asr_rnnt_loss_logprobs_naive, fns[4] = asr_rnnt_loss_logprobs_ref, fns[5] = asr_rnnt_loss_logprobs;
  for (i = 0; i < N * T * (U + 1) * V; i++) z[i] = (asr_real)(0.1 * i);
  for (f = 0; f < 6; f++) {
    asr_rnnt_loss_fn fn = fns[f];
    loss[0] = g[0] = 12345;
    o.reduction = ASR_REDUCTION_NONE;
    Tl[1] = 0;                                                      /* U > 0 with T = 0 */
    CHECK(fn(loss, g, z, y, Tl, Ul, N, T, U, V, &o, w, wb, &err) == ASR_ERR_RANGE);
    CHECKF(strstr(err.msg, "no frames") != NULL, "%s", err.msg);
    Tl[1] = 4;                                                      /* length > T */
    CHECK(fn(loss, g, z, y, Tl, Ul, N, T, U, V, &o, w, wb, &err) == ASR_ERR_RANGE);
    Tl[1] = 2;
    Ul[0] = -1;
    CHECK(fn(loss, g, z, y, Tl, Ul, N, T, U, V, &o, w, wb, &err) == ASR_ERR_RANGE);
    Ul[0] = 2;
    y[1] = 0;                                                       /* the blank as a label */
    CHECK(fn(loss, g, z, y, Tl, Ul, N, T, U, V, &o, w, wb, &err) == ASR_ERR_RANGE);
    CHECKF(strstr(err.msg, "targets[0][1] = 0 is the blank") != NULL, "%s", err.msg);
    y[1] = 4;                                                       /* label >= V */
    CHECK(fn(loss, g, z, y, Tl, Ul, N, T, U, V, &o, w, wb, &err) == ASR_ERR_RANGE);
    y[1] = 2;
    y[3] = 9;                          /* past target_lengths[1] = 1: padding, never read */
    z[5] = (asr_real)NAN;                                           /* NaN in a valid node */
    CHECK(fn(loss, g, z, y, Tl, Ul, N, T, U, V, &o, w, wb, &err) == ASR_ERR_NONFINITE);
    z[5] = 0.5;
    o.blank = 4;                                                    /* blank >= V */
    CHECK(fn(loss, g, z, y, Tl, Ul, N, T, U, V, &o, w, wb, &err) == ASR_ERR_RANGE);
    o.blank = 0;
    CHECK(fn(loss, g, z, y, Tl, Ul, N, T, U, V, &o, w, wb - 1, &err) == ASR_ERR_WORKSPACE);
    CHECK(loss[0] == 12345 && g[0] == 12345);                       /* nothing was written */
    /* a NaN in the padding is not read */
    z[((size_t)1 * T + 2) * (U + 1) * V] = (asr_real)NAN;
    CHECK_OK(fn(loss, g, z, y, Tl, Ul, N, T, U, V, &o, w, wb, &err));
    CHECK(isfinite(loss[1]));
    z[((size_t)1 * T + 2) * (U + 1) * V] = 0;
    y[3] = 1;
  }
  {
    /* _naive refuses what it cannot enumerate, before writing */
    enum { TB = 12, UB = 10, VB = 3 };
    static asr_real zb[TB * (UB + 1) * VB];
    int yb[UB], tb = TB, ub = UB;
    size_t wbb = asr_rnnt_loss_workspace_size(TB, UB, VB);
    void *wb2 = malloc(wbb);
    for (i = 0; i < UB; i++) yb[i] = 1;
    loss[0] = 12345;
    CHECK(asr_rnnt_loss_naive(loss, NULL, zb, yb, &tb, &ub, 1, TB, UB, VB, &o, wb2, wbb, &err) == ASR_ERR_TOO_LARGE);
    CHECK(asr_rnnt_loss_logprobs_naive(loss, NULL, zb, yb, &tb, &ub, 1, TB, UB, VB, &o, wb2, wbb, &err) ==
          ASR_ERR_TOO_LARGE);
    CHECK(loss[0] == 12345);
    CHECK_OK(asr_rnnt_loss_ref(loss, NULL, zb, yb, &tb, &ub, 1, TB, UB, VB, &o, wb2, wbb, &err));
    free(wb2);
  }
  free(w);
}

/* ---- the joint network */
typedef struct rnnt_joint_fd {
  asr_rnnt_joint J;
  asr_real *f, *g, *w;          /* w (T,U1,V): objective sum(w * z) + the RNN-T loss */
  int T, U, with_loss;
  int *labels;
  void *work;
  size_t wb;
} rnnt_joint_fd;

static double rnnt_joint_objective(void *vctx) {
  rnnt_joint_fd *c = (rnnt_joint_fd *)vctx;
  int U1 = c->U + 1, i, n = c->T * U1 * c->J.V;
  asr_real *z = TALLOC(asr_real, n);
  double s = 0;
  if (asr_rnnt_joint_forward(z, NULL, c->f, c->g, &c->J, c->T, U1, c->work, c->wb) != ASR_OK) s = NAN;
  for (i = 0; i < n; i++) s += (double)c->w[i] * z[i];
  if (c->with_loss) {
    double l;
    asr_rnnt_opts o = asr_rnnt_default_opts();
    o.blank = 0;
    if (asr_rnnt_joint_loss_rowwise(&l, NULL, NULL, NULL, c->f, c->g, &c->J, c->labels, c->T, c->U, &o, c->work,
                                    c->wb, NULL) != ASR_OK)
      l = NAN;
    s = l;
  }
  free(z);
  return s;
}

/* Joint forward/backward against finite differences, for every activation; then the
 * row-at-a-time loss against joint_forward + loss_ref + joint_backward. */
static void t_rnnt_joint(tctx *t) {
  enum { T = 4, U = 3, E = 5, P = 4, H = 6, V = 5 };
  const int U1 = U + 1;
  asr_real Wenc[H * E], Wpred[H * P], b[H], Wout[V * H], bout[V], f[T * E], g[U1 * P], w[T * U1 * V];
  asr_real z[T * U1 * V], hid[T * U1 * H], df[T * E], dg[U1 * P];
  asr_real dWenc[H * E], dWpred[H * P], db[H], dWout[V * H], dbout[V];
  int labels[U] = {1, 3, 2}, act;
  rnnt_joint_fd c;
  asr_rng rng;
  asr_rnnt_joint_grad dJ;
  size_t wb;
  void *work;
  double worst = 0, tol = ASR_REAL_DOUBLE ? 1e-6 : 5e-2;
  asr_rng_seed(&rng, 21, 0);
  c.J.E = E, c.J.P = P, c.J.H = H, c.J.V = V;
  wb = asr_rnnt_joint_loss_rowwise_workspace_size(&c.J, T, U);
  if (asr_rnnt_joint_workspace_size(&c.J, T, U1) > wb) wb = asr_rnnt_joint_workspace_size(&c.J, T, U1);
  work = malloc(wb);
  fill_uniform(&rng, Wenc, H * E, -0.7, 0.7);
  fill_uniform(&rng, Wpred, H * P, -0.7, 0.7);
  fill_uniform(&rng, b, H, -0.5, 0.5);
  fill_uniform(&rng, Wout, V * H, -0.7, 0.7);
  fill_uniform(&rng, bout, V, -0.5, 0.5);
  fill_uniform(&rng, f, T * E, -1, 1);
  fill_uniform(&rng, g, U1 * P, -1, 1);
  fill_uniform(&rng, w, T * U1 * V, -1, 1);
  c.J.W_enc = Wenc, c.J.W_pred = Wpred, c.J.b = b, c.J.W_out = Wout, c.J.b_out = bout;
  c.f = f, c.g = g, c.w = w, c.T = T, c.U = U, c.labels = labels, c.work = work, c.wb = wb;
  dJ.W_enc = dWenc, dJ.W_pred = dWpred, dJ.b = db, dJ.W_out = dWout, dJ.b_out = dbout;
  for (c.with_loss = 0; c.with_loss < 2; c.with_loss++)
    for (act = 0; act < 3; act++) {
      asr_gradcheck_param p[7];
      asr_gradcheck_report rep;
      asr_gradcheck_opts go;
      memset(&go, 0, sizeof go);
      go.max_elements = 256;
      /* relu has kinks: float's default step 3e-2 crosses them; 3e-3 still keeps the
       * rounding error (~eps |f| / h ~ 1e-4) far below the float tolerance */
      if (!ASR_REAL_DOUBLE && act == ASR_RNNT_ACT_RELU) go.h = 3e-3;
      c.J.act = (asr_rnnt_act)act;
      memset(df, 0, sizeof df), memset(dg, 0, sizeof dg), memset(dWenc, 0, sizeof dWenc);
      memset(dWpred, 0, sizeof dWpred), memset(db, 0, sizeof db), memset(dWout, 0, sizeof dWout);
      memset(dbout, 0, sizeof dbout);
      if (!c.with_loss) {
        CHECK_OK(asr_rnnt_joint_forward(z, hid, f, g, &c.J, T, U1, work, wb));
        CHECK_OK(asr_rnnt_joint_backward(df, dg, &dJ, w, hid, f, g, &c.J, T, U1, work, wb));
      } else {
        double l;
        asr_rnnt_opts o = asr_rnnt_default_opts();
        CHECK_OK(asr_rnnt_joint_loss_rowwise(&l, df, dg, &dJ, f, g, &c.J, labels, T, U, &o, work, wb, NULL));
      }
      p[0].name = "f", p[0].x = f, p[0].grad = df, p[0].n = T * E;
      p[1].name = "g", p[1].x = g, p[1].grad = dg, p[1].n = U1 * P;
      p[2].name = "W_enc", p[2].x = Wenc, p[2].grad = dWenc, p[2].n = H * E;
      p[3].name = "W_pred", p[3].x = Wpred, p[3].grad = dWpred, p[3].n = H * P;
      p[4].name = "b", p[4].x = b, p[4].grad = db, p[4].n = H;
      p[5].name = "W_out", p[5].x = Wout, p[5].grad = dWout, p[5].n = V * H;
      p[6].name = "b_out", p[6].x = bout, p[6].grad = dbout, p[6].n = V;
      CHECK_OK(asr_gradcheck(rnnt_joint_objective, &c, p, 7, &go, &rng, &rep));
      /* relu has kinks: a random point lies within 2h of one with probability ~ 4h |W|/|x|,
       * small at h = 1e-3 with these sizes; the same seed is used every run */
      CHECKF(rep.max_rel_err <= tol, "%s, act %d: %s[%ld] numeric %.10g analytic %.10g (rel %.3g)",
             c.with_loss ? "rowwise loss" : "joint", act, rep.worst_param, rep.worst_index, rep.worst_numeric,
             rep.worst_analytic, rep.max_rel_err);
      if (rep.max_rel_err > worst) worst = rep.max_rel_err;
    }
  {
    /* rowwise == joint_forward -> loss_ref -> joint_backward (same arithmetic, other order) */
    asr_real df2[T * E], dg2[U1 * P], dWout2[V * H], gz[T * U1 * V], loss;
    double l;
    int Tl = T, Ul = U;
    asr_rnnt_opts o = asr_rnnt_default_opts();
    size_t lw = asr_rnnt_loss_workspace_size(T, U, V);
    void *w2 = malloc(lw);
    asr_rnnt_joint_grad dJ2;
    c.J.act = ASR_RNNT_ACT_TANH;
    o.reduction = ASR_REDUCTION_SUM;
    o.clamp = 0.1;
    memset(df, 0, sizeof df), memset(dg, 0, sizeof dg), memset(dWout, 0, sizeof dWout);
    memset(df2, 0, sizeof df2), memset(dg2, 0, sizeof dg2), memset(dWout2, 0, sizeof dWout2);
    memset(&dJ2, 0, sizeof dJ2);
    dJ2.W_out = dWout2;
    memset(&dJ, 0, sizeof dJ);
    dJ.W_out = dWout;
    CHECK_OK(asr_rnnt_joint_loss_rowwise(&l, df, dg, &dJ, f, g, &c.J, labels, T, U, &o, work, wb, NULL));
    CHECK_OK(asr_rnnt_joint_forward(z, hid, f, g, &c.J, T, U1, work, wb));
    CHECK_OK(asr_rnnt_loss_ref(&loss, gz, z, labels, &Tl, &Ul, 1, T, U, V, &o, w2, lw, NULL));
    CHECK_OK(asr_rnnt_joint_backward(df2, dg2, &dJ2, gz, hid, f, g, &c.J, T, U1, work, wb));
    CHECK_NEAR(l, loss, ASR_REAL_DOUBLE ? 1e-12 : 1e-5);
    CHECK(max_abs_diff(df, df2, T * E) <= (ASR_REAL_DOUBLE ? 1e-12 : 1e-6));
    CHECK(max_abs_diff(dg, dg2, U1 * P) <= (ASR_REAL_DOUBLE ? 1e-12 : 1e-6));
    CHECK(max_abs_diff(dWout, dWout2, V * H) <= (ASR_REAL_DOUBLE ? 1e-12 : 1e-6));
    free(w2);
  }
  free(work);
  snprintf(t->msg, sizeof t->msg, "worst relative error %.2g", worst);
}


/* ---- a small random transducer: stateless prediction network + joint */
typedef struct rnnt_toy {
  asr_rnnt_joint J;
  asr_rnnt_stateless P;
  asr_real Wenc[6 * 4], Wpred[6 * 5], b[6], Wout[3 * 6], bout[3], emb[3 * 5], conv[5 * 2], f[8 * 4];
} rnnt_toy;

static void rnnt_toy_init(rnnt_toy *m, asr_rng *rng, int T, double scale) {
  int V = 3;
  fill_uniform(rng, m->Wenc, 24, -scale, scale);
  fill_uniform(rng, m->Wpred, 30, -scale, scale);
  fill_uniform(rng, m->b, 6, -0.5, 0.5);
  fill_uniform(rng, m->Wout, 18, -scale, scale);
  fill_uniform(rng, m->bout, 3, -0.5, 0.5);
  fill_uniform(rng, m->emb, 15, -1, 1);
  fill_uniform(rng, m->conv, 10, -1, 1);
  fill_uniform(rng, m->f, (size_t)T * 4, -1, 1);
  m->J.E = 4, m->J.P = 5, m->J.H = 6, m->J.V = V, m->J.act = ASR_RNNT_ACT_TANH;
  m->J.W_enc = m->Wenc, m->J.W_pred = m->Wpred, m->J.b = m->b, m->J.W_out = m->Wout, m->J.b_out = m->bout;
  m->P.V = V, m->P.D = 5, m->P.C = 2, m->P.blank = 0, m->P.embedding = m->emb, m->P.conv = m->conv;
}

/* -ln Pr(y|x) of the toy model for one label sequence, through the loss (eqs. 16-17). */
static double rnnt_toy_nll(const rnnt_toy *m, const int *y, int U, int T) {
  asr_real g[9 * 5], z[8 * 9 * 3], loss;
  unsigned char w[8192], jw[4096];
  int Tl = T, Ul = U;
  asr_rnnt_opts o = asr_rnnt_default_opts();
  o.reduction = ASR_REDUCTION_SUM;
  if (asr_rnnt_stateless_forward(g, NULL, y, U, &m->P) != ASR_OK) return NAN;
  if (asr_rnnt_joint_forward(z, NULL, m->f, g, &m->J, T, U + 1, jw, sizeof jw) != ASR_OK) return NAN;
  if (asr_rnnt_loss_ref(&loss, NULL, z, y, &Tl, &Ul, 1, T, U, 3, &o, w, sizeof w, NULL) != ASR_OK) return NAN;
  return loss;
}

/* The whole transducer by finite differences: stateless network -> joint -> row-at-a-time
 * loss -> joint backward -> stateless backward, w.r.t. the embedding and the conv. */
typedef struct rnnt_pred_fd {
  rnnt_toy *m;
  int *y, U, T;
} rnnt_pred_fd;
static double rnnt_pred_objective(void *v) {
  rnnt_pred_fd *c = (rnnt_pred_fd *)v;
  return rnnt_toy_nll(c->m, c->y, c->U, c->T);
}
static void t_rnnt_stateless_gradcheck(tctx *t) {
  enum { T = 5, U = 4 };
  rnnt_toy m;
  int y[U] = {1, 2, 2, 1};
  asr_real g[(U + 1) * 5], emb[(U + 1) * 5], dg[(U + 1) * 5], demb[15], dconv[10];
  unsigned char rw[16384], sw[1024];
  double loss, tol = ASR_REAL_DOUBLE ? 1e-6 : 5e-2;
  asr_rnnt_opts o = asr_rnnt_default_opts();
  asr_rnnt_stateless_grad dP;
  asr_gradcheck_param p[2];
  asr_gradcheck_report rep;
  rnnt_pred_fd c;
  asr_rng rng;
  asr_rng_seed(&rng, 31, 0);
  rnnt_toy_init(&m, &rng, T, 0.8);
  CHECK_OK(asr_rnnt_stateless_forward(g, emb, y, U, &m.P));
  memset(dg, 0, sizeof dg), memset(demb, 0, sizeof demb), memset(dconv, 0, sizeof dconv);
  CHECK_OK(asr_rnnt_joint_loss_rowwise(&loss, NULL, dg, NULL, m.f, g, &m.J, y, T, U, &o, rw, sizeof rw, NULL));
  dP.embedding = demb, dP.conv = dconv;
  CHECK_OK(asr_rnnt_stateless_backward(&dP, dg, g, emb, y, U, &m.P, sw, sizeof sw));
  CHECK(demb[0] == 0 && demb[4] == 0);   /* the blank's row (padding_idx) gets no gradient */
  c.m = &m, c.y = y, c.U = U, c.T = T;
  /* rows 1..2: the blank's row is padding_idx (frozen, no gradient by design) */
  p[0].name = "embedding", p[0].x = m.emb + 5, p[0].grad = demb + 5, p[0].n = 10;
  p[1].name = "conv", p[1].x = m.conv, p[1].grad = dconv, p[1].n = 10;
  {
    /* relu: float's default step 3e-2 crosses kinks; 3e-3 keeps rounding (~1e-4) small */
    asr_gradcheck_opts go;
    memset(&go, 0, sizeof go);
    if (!ASR_REAL_DOUBLE) go.h = 3e-3;
    CHECK_OK(asr_gradcheck(rnnt_pred_objective, &c, p, 2, &go, &rng, &rep));
  }
  /* relu kinks: same fixed seed every run, no unit of g within 2h of 0 */
  CHECKF(rep.max_rel_err <= tol, "%s[%ld]: numeric %.10g analytic %.10g", rep.worst_param, rep.worst_index,
         rep.worst_numeric, rep.worst_analytic);
  {
    /* the single-step form (decoding) gives the same g_u as the sequence form */
    asr_real gs[5];
    int u, ctx[2];
    for (u = 0; u <= U; u++) {
      ctx[0] = u - 1 < 0 ? -1 : (u - 1 == 0 ? 0 : y[u - 2]);
      ctx[1] = u == 0 ? 0 : y[u - 1];
      CHECK_OK(asr_rnnt_stateless_step(gs, ctx, &m.P));
      CHECK(max_abs_diff(gs, g + u * 5, 5) == 0);
    }
  }
  snprintf(t->msg, sizeof t->msg, "max relative error %.2g", rep.max_rel_err);
}

/* Decoders. (1) beam 1 == greedy; (2) with a beam wide enough that nothing is pruned
 * (T = 2, 2 labels, at most 4 tokens: 31 sequences < W = 64), Algorithm 1 is exact: the
 * returned y is the most probable sequence by brute force over all 31, and its ln Pr(y)
 * equals -loss(y) from the forward algorithm, with and without prefix merging; (3) the
 * greedy cap. */
static void t_rnnt_decoders(tctx *t) {
  rnnt_toy m;
  asr_rnnt_model model;
  unsigned char scratch[1024];
  int seed, tok[64], n, tok2[64], n2;
  double lp, lp2, worst = 0;
  size_t wb;
  void *work;
  asr_rnnt_beam_opts bo = asr_rnnt_default_beam_opts();
  bo.beam = 64;
  bo.max_symbols = 4;
  bo.length_norm = 0;
  wb = asr_rnnt_beam_workspace_size(3, 4, &bo);
  work = malloc(wb);
  model.joint = &m.J, model.pred = &m.P, model.f = m.f, model.T = 2, model.scratch = scratch;
  model.scratch_bytes = sizeof scratch;
  for (seed = 0; seed < 6; seed++) {
    asr_rng rng;
    int len, code, best_code = -1, best_len = 0, merge;
    double best_nll = INFINITY;
    asr_rnnt_beam_opts b1 = asr_rnnt_default_beam_opts();
    asr_rng_seed(&rng, 100 + seed, 0);
    rnnt_toy_init(&m, &rng, 8, 1.5);
    /* (1) on 8 frames */
    model.T = 8;
    b1.beam = 1;
    CHECK_OK(asr_rnnt_greedy_decode(tok, &n, &lp, 64, asr_rnnt_model_scorer, &model, 8, 3, 0, 3, work, wb));
    CHECK_OK(asr_rnnt_beam_search(tok2, &n2, &lp2, 64, asr_rnnt_model_scorer, &model, 8, 3, 0, &b1, work, wb));
    CHECK(n == n2 && lp == lp2 && (n == 0 || !memcmp(tok, tok2, sizeof(int) * (size_t)n)));
    /* (2) brute force over every sequence of <= 4 labels from {1, 2} */
    model.T = 2;
    for (len = 0; len <= 4; len++)
      for (code = 0; code < (1 << len); code++) {
        int y[4], i;
        double nll;
        for (i = 0; i < len; i++) y[i] = 1 + ((code >> i) & 1);
        nll = rnnt_toy_nll(&m, y, len, 2);
        if (nll < best_nll) best_nll = nll, best_code = code, best_len = len;
      }
    for (merge = 0; merge < 2; merge++) {
      int i;
      bo.prefix_merge = merge;
      CHECK_OK(asr_rnnt_beam_search(tok, &n, &lp, 4, asr_rnnt_model_scorer, &model, 2, 3, 0, &bo, work, wb));
      CHECKF(n == best_len, "seed %d merge %d: beam found %d labels, brute force %d", seed, merge, n, best_len);
      for (i = 0; i < n; i++) CHECK(tok[i] == 1 + ((best_code >> i) & 1));
      /* float: the toy's logits in asr_real */
      CHECK_NEAR(lp, -best_nll, ASR_REAL_DOUBLE ? 1e-10 : 1e-5);
      if (fabs(lp + best_nll) > worst) worst = fabs(lp + best_nll);
    }
  }
  {
    /* (3) a model whose blank never wins: greedy emits exactly max_symbols per frame */
    asr_rng rng;
    asr_rng_seed(&rng, 9, 0);
    rnnt_toy_init(&m, &rng, 8, 1.0);
    m.bout[0] = -50;
    model.T = 8;
    CHECK_OK(asr_rnnt_greedy_decode(tok, &n, &lp, 64, asr_rnnt_model_scorer, &model, 8, 3, 0, 3, work, wb));
    CHECK(n == 24);
    CHECK(lp < -8 * 40);   /* the 8 forced blanks cost about 50 nats each */
  }
  free(work);
  snprintf(t->msg, sizeof t->msg, "beam vs brute force within %.1e", worst);
}

/* The n-best list (asr_rnnt_beam_search_nbest) against brute force. With a beam wide
 * enough that nothing is pruned (T = 2, labels {1, 2}, at most 4 tokens: 31 sequences <
 * W = 64; max_symbols 4 never binds), the list holds every sequence, ranked by ln Pr(y),
 * and each score is the exact ln Pr(y|x): the top 8 are compared, tokens and scores, with
 * the 31 sequences scored one by one by the forward algorithm (rnnt_toy_nll) and sorted.
 * With the default beam (4, length normalization) on 8 frames, entry 0 is
 * asr_rnnt_beam_search's answer, at most 4 are returned, rows are padded with -1 and the
 * list is ranked by ln Pr(y) / |y|. */
static void t_rnnt_beam_nbest(tctx *t) {
  rnnt_toy m;
  asr_rnnt_model model;
  unsigned char scratch[1024];
  int seed, tok[8 * 64], nt[8], nh, tok1[64], n1;
  double lp[8], lp1, worst = 0;
  size_t wb;
  void *work;
  asr_rnnt_beam_opts bo = asr_rnnt_default_beam_opts();
  bo.beam = 64;
  bo.max_symbols = 4;
  bo.length_norm = 0;
  wb = asr_rnnt_beam_workspace_size(3, 64, &bo);
  work = malloc(wb);
  model.joint = &m.J, model.pred = &m.P, model.f = m.f, model.T = 2, model.scratch = scratch;
  model.scratch_bytes = sizeof scratch;
  for (seed = 0; seed < 6; seed++) {
    asr_rng rng;
    int len, code, count = 0, i, j, ys[31][4], yl[31];
    double nll[31];
    asr_rnnt_beam_opts bd = asr_rnnt_default_beam_opts();
    asr_rng_seed(&rng, 300 + seed, 0);
    rnnt_toy_init(&m, &rng, 8, 1.5);
    model.T = 2;
    for (len = 0; len <= 4; len++)
      for (code = 0; code < (1 << len); code++) {
        for (i = 0; i < len; i++) ys[count][i] = 1 + ((code >> i) & 1);
        yl[count] = len;
        nll[count] = rnnt_toy_nll(&m, ys[count], len, 2);
        count++;
      }
    CHECK_OK(asr_rnnt_beam_search_nbest(tok, nt, lp, &nh, 8, 4, asr_rnnt_model_scorer, &model, 2, 3, 0, &bo, work,
                                        wb));
    CHECK(nh == 8);
    for (i = 0; i < nh; i++) {
      int rank = 0, k = -1;
      /* the sequence the beam put at rank i: find it among the 31, and its brute-force rank */
      for (j = 0; j < count; j++)
        if (yl[j] == nt[i] && (nt[i] == 0 || !memcmp(ys[j], tok + i * 4, sizeof(int) * (size_t)nt[i]))) k = j;
      CHECKF(k >= 0, "seed %d: hypothesis %d is not a sequence over {1, 2}", seed, i);
      if (k < 0) break;
      for (j = 0; j < count; j++) rank += nll[j] < nll[k];
      CHECKF(rank == i, "seed %d: the beam's hypothesis %d has brute-force rank %d", seed, i, rank);
      CHECK_NEAR(lp[i], -nll[k], ASR_REAL_DOUBLE ? 1e-10 : 1e-5);
      if (fabs(lp[i] + nll[k]) > worst) worst = fabs(lp[i] + nll[k]);
    }
    /* the default search on 8 frames */
    model.T = 8;
    CHECK_OK(asr_rnnt_beam_search(tok1, &n1, &lp1, 64, asr_rnnt_model_scorer, &model, 8, 3, 0, &bd, work, wb));
    CHECK_OK(asr_rnnt_beam_search_nbest(tok, nt, lp, &nh, 8, 64, asr_rnnt_model_scorer, &model, 8, 3, 0, &bd, work,
                                        wb));
    CHECK(nh >= 1 && nh <= 4);
    CHECK(nt[0] == n1 && lp[0] == lp1 && (n1 == 0 || !memcmp(tok, tok1, sizeof(int) * (size_t)n1)));
    for (i = 0; i < nh; i++) {
      CHECK(nt[i] == 64 || tok[i * 64 + nt[i]] == -1);
      if (i > 0) CHECK(lp[i] / (nt[i] ? nt[i] : 1) <= lp[i - 1] / (nt[i - 1] ? nt[i - 1] : 1));
    }
  }
  CHECK(asr_rnnt_beam_search_nbest(tok, nt, lp, &nh, 0, 4, asr_rnnt_model_scorer, &model, 2, 3, 0, &bo, work, wb) ==
        ASR_ERR_INVALID_ARG);
  free(work);
  snprintf(t->msg, sizeof t->msg, "8-best vs brute force within %.1e", worst);
}

static const test_case TESTS_rnnt[] = {
  {"rnnt/check_naive", t_rnnt_check_naive},
  {"rnnt/check_ref", t_rnnt_check_ref},
  {"rnnt/check_fast", t_rnnt_check_fast},
  {"rnnt/lattice_identities", t_rnnt_lattice_identities},
  {"rnnt/logprobs_contract", t_rnnt_logprobs_contract},
  {"rnnt/logprobs_naive_vs_ref", t_rnnt_logprobs_naive_vs_ref},
  {"rnnt/known_answers_match_json", t_rnnt_known_answers_match_json},
  {"rnnt/long_lattice_T2000_U300", t_rnnt_long_lattice},
  {"rnnt/bad_input", t_rnnt_bad_input},
  {"rnnt/joint_gradcheck_and_rowwise", t_rnnt_joint},
  {"rnnt/stateless_prediction_gradcheck", t_rnnt_stateless_gradcheck},
  {"rnnt/decoders", t_rnnt_decoders},
  {"rnnt/beam_nbest_vs_brute_force", t_rnnt_beam_nbest},
  {0, 0}
};
