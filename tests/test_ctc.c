/* tests/test_ctc.c - section 5 (CTC): loss tiers, lattice, decoders, the checker.
 *
 * Where each expected value comes from: _naive (the enumeration of [Graves06] eq. (3)),
 * the forward-backward identity eq. (14), finite differences (asr_gradcheck), the
 * published warp-ctc cases (asr_ctc_known_answers, checked against ../shared/data), and
 * brute-force enumeration of paths or labellings for the decoders. PyTorch comparisons
 * are in tests/torch/test_ctc.py. */

/* Tolerances, used below. In the double build both sides of a tier comparison sum in
 * double, so they agree to ~1e-14; 1e-10 leaves four orders of magnitude for other
 * summation orders (the checker's bound too). In the float build _naive
 * and _ref still compute in double from the same float inputs and differ only by the
 * final rounding to float (6e-8 relative), so 1e-6; the fast path adds its float
 * exp/log (about 1e-7 per frame), so 1e-5 for it. */
#define CTC_MAX(a, b) ((a) > (b) ? (a) : (b))
#if ASR_REAL_DOUBLE
#define CTC_TIER_TOL 1e-10
#define CTC_FAST_TOL 1e-10
#else
#define CTC_TIER_TOL 1e-6
#define CTC_FAST_TOL 1e-5
#endif

static void ctc_log_fail(void *user, const char *line) {
  /* print only the failing lines of a checker run */
  (void)user;
  if (strncmp(line, "[FAIL]", 6) == 0) printf("    %s\n", line);
}

static void ctc_run_check(tctx *t, asr_ctc_loss_fn fn, int lp) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  rep.log = ctc_log_fail;
  CHECK_OK(asr_check_ctc(fn, lp, 2024, &rep));
  CHECKF(rep.failed == 0 && rep.passed > 40, "%d failed (first: %s), %d passed", rep.failed, rep.first_failure,
         rep.passed);
  snprintf(t->msg, sizeof t->msg, "%d cases, worst error/tolerance %.2g", rep.passed, rep.worst);
}
static void t_ctc_check_naive(tctx *t) { ctc_run_check(t, asr_ctc_loss_naive, 0); }
static void t_ctc_check_ref(tctx *t) { ctc_run_check(t, asr_ctc_loss_ref, 0); }
static void t_ctc_check_fast(tctx *t) { ctc_run_check(t, asr_ctc_loss, 0); }
static void t_ctc_check_logprobs_naive(tctx *t) { ctc_run_check(t, asr_ctc_loss_logprobs_naive, 1); }
static void t_ctc_check_logprobs_ref(tctx *t) { ctc_run_check(t, asr_ctc_loss_logprobs_ref, 1); }
static void t_ctc_check_logprobs_fast(tctx *t) { ctc_run_check(t, asr_ctc_loss_logprobs, 1); }

/* Exhaustively: on every tiny case (T <= 6, V <= 4, S <= 3, every labelling, so
 * with repeats, every blank index) _naive and _ref agree, loss and gradient, both
 * contracts. Each (T, S, labelling) is its own call, N = 1. */
static void t_ctc_naive_equals_ref_every_tiny_case(tctx *t) {
  asr_rng rng;
  int V, blank, T, S, code, lp, cases = 0, infeasible = 0;
  double worst = 0;
  size_t wb = asr_ctc_loss_workspace_size(6, 4, 3);
  void *work = TALLOC(char, wb);
  asr_real x[6 * 4], ga[6 * 4], gb[6 * 4], la, lb;
  asr_rng_seed(&rng, 77, 0);
  for (V = 2; V <= 4; V++)
    for (blank = 0; blank < V; blank++)
      for (T = 1; T <= 6; T++)
        for (S = 0; S <= 3; S++) {
          int count = 1, j;
          for (j = 0; j < S; j++) count *= V - 1;
          for (code = 0; code < count; code++)
            for (lp = 0; lp <= 1; lp++) {
              int target[3], rest = code, k, il = T, tl = S;
              asr_result ra, rb;
              for (j = 0; j < S; j++) {
                target[j] = rest % (V - 1);
                if (target[j] >= blank) target[j]++;   /* the labels skip the blank */
                rest /= V - 1;
              }
              fill_uniform(&rng, x, (size_t)T * V, -3, 3);
              if (lp)
                for (k = 0; k < T; k++) asr_log_softmax(x + k * V, x + k * V, V);
              memset(ga, 0, sizeof ga);
              memset(gb, 0, sizeof gb);
              ra = (lp ? asr_ctc_loss_logprobs_naive : asr_ctc_loss_naive)(&la, ga, x, target, &il, &tl, 1, T, V, S,
                                                                           blank, ASR_REDUCTION_NONE, 0, work, wb, NULL);
              rb = (lp ? asr_ctc_loss_logprobs_ref : asr_ctc_loss_ref)(&lb, gb, x, target, &il, &tl, 1, T, V, S, blank,
                                                                       ASR_REDUCTION_NONE, 0, work, wb, NULL);
              CHECKF(ra == rb, "V%d blank %d T%d S%d code %d: results %d and %d", V, blank, T, S, code, ra, rb);
              /* the infeasible condition of [Graves06]: T < S + repeats */
              CHECK((ra == ASR_INFEASIBLE) == (T < asr_ctc_min_frames(target, S)));
              if (ra == ASR_INFEASIBLE) {
                CHECK(la == INFINITY && lb == INFINITY);
                infeasible++;
              } else {
                double e = fabs((double)la - lb) / CTC_MAX(1.0, fabs((double)lb));
                CHECKF(e <= CTC_TIER_TOL, "V%d blank %d T%d S%d code %d lp %d: loss %.17g vs %.17g", V, blank, T,
                       S, code, lp, (double)la, (double)lb);
                worst = CTC_MAX(worst, e);
              }
              worst = CTC_MAX(worst, max_abs_diff(ga, gb, (size_t)T * V));
              CHECKF(max_abs_diff(ga, gb, (size_t)T * V) <= CTC_TIER_TOL, "V%d blank %d T%d S%d code %d lp %d: grad",
                     V, blank, T, S, code, lp);
              cases++;
            }
        }
  free(work);
  snprintf(t->msg, sizeof t->msg, "%d cases (%d infeasible), worst difference %.2g", cases, infeasible, worst);
}

/* ---- the known answers restated in asr.h equal the shared JSON file's numbers */
/* Reads the numbers of `field` inside the object `key` of a JSON text: a scalar or a
 * (nested) array, flattened. Returns how many, or -1 when not found. */
static int ctc_json_numbers(const char *text, const char *key, const char *field, double *out, int max) {
  char pat[128];
  const char *p;
  int n = 0, depth = 0;
  snprintf(pat, sizeof pat, "\"%s\"", key);
  p = strstr(text, pat);
  if (!p) return -1;
  snprintf(pat, sizeof pat, "\"%s\"", field);
  p = strstr(p, pat);
  if (!p) return -1;
  p = strchr(p + strlen(pat), ':');
  if (!p) return -1;
  for (p++;; p++) {
    if (*p == '[') depth++;
    else if (*p == ']') {
      if (--depth <= 0) break;
    } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
      char *end;
      double v = strtod(p, &end);
      if (n < max) out[n] = v;
      n++;
      p = end - 1;
      if (depth == 0) break;         /* a scalar */
    } else if (*p == 0 || (depth == 0 && *p == ',')) {
      break;
    }
  }
  return n;
}

static int ctc_same_numbers(const double *a, const double *b, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;      /* the same decimal text: the same double */
  return 1;
}

static void t_ctc_known_answers_match_json(tctx *t) {
  char path[512];
  unsigned char *buf;
  size_t len;
  char *text;
  double v[128];
  int count, n, i, compared = 0;
  const asr_ctc_known_answer *ka = asr_ctc_known_answers(&count);
  SHARED_PATH(path, "known_answers/ctc_rnnt_known_answers.json");
  CHECK_OK(asr_read_file(path, &buf, &len, NULL, NULL));
  text = TALLOC(char, len + 1);
  memcpy(text, buf, len);
  text[len] = 0;
  free(buf);
  CHECK(count == 2);
  /* warp-ctc small_test */
  n = ctc_json_numbers(text, "ctc_small", "activations", v, 128);
  CHECK(n == 10 && ctc_same_numbers(v, ka[0].activations, 10));
  n = ctc_json_numbers(text, "ctc_small", "labels", v, 128);
  CHECK(n == 2 && v[0] == ka[0].targets[0] && v[1] == ka[0].targets[1]);
  n = ctc_json_numbers(text, "ctc_small", "derived_loss", v, 128);
  CHECK(n == 1 && v[0] == ka[0].expected_loss[0]);
  n = ctc_json_numbers(text, "ctc_small", "derived_grad_logits_not_published", v, 128);
  CHECK(n == 10 && ctc_same_numbers(v, ka[0].expected_grad, 10));
  n = ctc_json_numbers(text, "ctc_small", "blank", v, 128);
  CHECK(n == 1 && v[0] == ka[0].blank);
  /* warp-ctc options_test */
  n = ctc_json_numbers(text, "ctc_options_T5_N2_V6_blank5", "probs_flat", v, 128);
  CHECK(n == 60 && ctc_same_numbers(v, ka[1].activations, 60));
  n = ctc_json_numbers(text, "ctc_options_T5_N2_V6_blank5", "grad_logits_flat", v, 128);
  CHECK(n == 60 && ctc_same_numbers(v, ka[1].expected_grad, 60));
  n = ctc_json_numbers(text, "ctc_options_T5_N2_V6_blank5", "expected_cost", v, 128);
  CHECK(n == 2 && ctc_same_numbers(v, ka[1].expected_loss, 2));
  n = ctc_json_numbers(text, "ctc_options_T5_N2_V6_blank5", "labels", v, 128);
  CHECK(n == 9);
  for (i = 0; i < 5; i++) CHECK(v[i] == ka[1].targets[i]);
  for (i = 0; i < 4; i++) CHECK(v[5 + i] == ka[1].targets[5 + i]);
  n = ctc_json_numbers(text, "ctc_options_T5_N2_V6_blank5", "input_lengths", v, 128);
  CHECK(n == 2 && v[0] == ka[1].input_lengths[0] && v[1] == ka[1].input_lengths[1]);
  n = ctc_json_numbers(text, "ctc_options_T5_N2_V6_blank5", "label_lengths", v, 128);
  CHECK(n == 2 && v[0] == ka[1].target_lengths[0] && v[1] == ka[1].target_lengths[1]);
  compared = 10 + 2 + 1 + 10 + 60 + 60 + 2 + 9 + 4;
  free(text);
  snprintf(t->msg, sizeof t->msg, "%d embedded numbers equal the JSON's", compared);
}

/* warp-ctc's published criterion for small_test, computed here from the softmax:
 * exp(-loss) = softmax(a_0)_1 softmax(a_1)_2 (the only path) */
static void t_ctc_known_small_criterion(tctx *t) {
  const asr_ctc_known_answer *ka = asr_ctc_known_answers(NULL);
  asr_real x[10], loss;
  double p = 1;
  int k, r;
  size_t wb = asr_ctc_loss_workspace_size(2, 5, 2);
  void *work = TALLOC(char, wb);
  for (r = 0; r < 2; r++) {
    double s = 0;
    for (k = 0; k < 5; k++) s += exp(ka[0].activations[r * 5 + k]);
    p *= exp(ka[0].activations[r * 5 + 1 + r]) / s;
  }
  for (k = 0; k < 10; k++) x[k] = (asr_real)ka[0].activations[k];
  CHECK_OK(asr_ctc_loss(&loss, NULL, x, ka[0].targets, ka[0].input_lengths, ka[0].target_lengths, 1, 2, 5, 2, 0,
                        ASR_REDUCTION_NONE, 0, work, wb, NULL));
  free(work);
  /* warp-ctc's eps is 1e-6 on the probability */
  CHECK_NEAR(exp(-(double)loss), p, 1e-6);
  snprintf(t->msg, sizeof t->msg, "exp(-loss) = %.9g, softmax product %.9g", exp(-(double)loss), p);
}

/* ---- finite differences (asr_gradcheck in core), on a bigger case than the checker's */
typedef struct ctc_fd {
  asr_ctc_loss_fn fn;
  asr_real *x, loss[1];
  const int *targets, *il, *tl;
  int N, T, V, S, blank;
  void *work;
  size_t wb;
} ctc_fd;
static double ctc_fd_f(void *v) {
  ctc_fd *f = (ctc_fd *)v;
  f->fn(f->loss, NULL, f->x, f->targets, f->il, f->tl, f->N, f->T, f->V, f->S, f->blank, ASR_REDUCTION_MEAN, 0,
        f->work, f->wb, NULL);
  return f->loss[0];
}
static void t_ctc_gradcheck(tctx *t) {
  static const int targets[3 * 5] = {2, 2, 4, 1, 2, 3, 0, 3, 1, 1, 4, 4, 4, 4, 4}, il[3] = {12, 9, 11},
                   tl[3] = {5, 3, 1};
  asr_ctc_loss_fn fns[4] = {asr_ctc_loss_ref, asr_ctc_loss, asr_ctc_loss_logprobs_ref, asr_ctc_loss_logprobs};
  asr_real x[3 * 12 * 6], grad[3 * 12 * 6];
  asr_rng rng;
  ctc_fd f;
  int k, i;
  double worst = 0;
  f.targets = targets;
  f.il = il;
  f.tl = tl;
  f.N = 3;
  f.T = 12;
  f.V = 6;
  f.S = 5;
  f.blank = 5;
  f.x = x;
  f.wb = asr_ctc_loss_workspace_size(12, 6, 5);
  f.work = TALLOC(char, f.wb);
  asr_rng_seed(&rng, 31, 0);
  for (k = 0; k < 4; k++) {
    asr_gradcheck_param p;
    asr_gradcheck_report rep;
    asr_gradcheck_opts o;
    fill_uniform(&rng, x, 3 * 12 * 6, -2.5, 2.5);
    for (i = 0; i < 3 * 12 * 6; i++) grad[i] = 0;
    f.fn = fns[k];
    CHECK_OK(fns[k](f.loss, grad, x, targets, il, tl, 3, 12, 6, 5, 5, ASR_REDUCTION_MEAN, 0, f.work, f.wb, NULL));
    memset(&o, 0, sizeof o);
    o.max_elements = 3 * 12 * 6;   /* every element */
    p.name = "x";
    p.x = x;
    p.grad = grad;
    p.n = 3 * 12 * 6;
    CHECK_OK(asr_gradcheck(ctc_fd_f, &f, &p, 1, &o, &rng, &rep));
    /* fourth-order differences: ~1e-9 in double; float differences give 1e-3 at best */
    CHECKF(rep.max_rel_err <= (ASR_REAL_DOUBLE ? 1e-6 : 5e-2), "fn %d: max rel err %g at %ld (num %g ana %g)", k,
           rep.max_rel_err, rep.worst_index, rep.worst_numeric, rep.worst_analytic);
    worst = CTC_MAX(worst, rep.max_rel_err);
  }
  free(f.work);
  snprintf(t->msg, sizeof t->msg, "ref, fast, both contracts: max rel err %.2g", worst);
}

/* ---- T = 5000: finite, and the fast path equals _ref. Blank-biased logits: the
 * all-blank prefix outweighs the states far along l' by e^-thousands, which underflow
 * any probability-space recursion (the paper's rescaling included). */
static void t_ctc_long_T5000(tctx *t) {
  const int T = 5000, V = 10, S = 100;
  asr_real *x = TALLOC(asr_real, (size_t)T * V), *ga = TALLOC(asr_real, (size_t)T * V),
           *gb = TALLOC(asr_real, (size_t)T * V), la, lb;
  int target[100], il = T, tl = S, j, k;
  size_t wb = asr_ctc_loss_workspace_size(T, V, S);
  void *work = TALLOC(char, wb);
  asr_rng rng;
  double gsum = 0;
  asr_rng_seed(&rng, 5000, 0);
  for (j = 0; j < S; j++) target[j] = 1 + asr_rng_int(&rng, V - 1);
  fill_uniform(&rng, x, (size_t)T * V, -2, 2);
  for (k = 0; k < T; k++) x[(size_t)k * V] += 20;  /* blank (0) dominates every frame */
  CHECK_OK(asr_ctc_loss_ref(&la, ga, x, target, &il, &tl, 1, T, V, S, 0, ASR_REDUCTION_NONE, 0, work, wb, NULL));
  CHECK_OK(asr_ctc_loss(&lb, gb, x, target, &il, &tl, 1, T, V, S, 0, ASR_REDUCTION_NONE, 0, work, wb, NULL));
  CHECK(isfinite(la) && la > 0 && asr_all_finite(ga, (size_t)T * V));
  CHECK(isfinite(lb) && asr_all_finite(gb, (size_t)T * V));
  CHECK_NEAR(lb, la, CTC_FAST_TOL * la);
  CHECK(max_abs_diff(ga, gb, (size_t)T * V) <= CTC_FAST_TOL);
  /* each frame's logits gradient sums to 0 (softmax minus a distribution) */
  for (k = 0; k < V; k++) gsum += ga[(size_t)2500 * V + k];
  CHECK_NEAR(gsum, 0, 1e-5);
  free(x);
  free(ga);
  free(gb);
  free(work);
  snprintf(t->msg, sizeof t->msg, "loss %.6g (p(l|x) = e^-%.0f), fast path equal", (double)la, (double)la);
}

/* ---- batching: a ragged batch equals its items one by one (same tier), and the fast
 * path equals _ref on it, for every reduction */
static void t_ctc_random_length_batches(tctx *t) {
  asr_rng rng;
  int trial, worst_n = 0;
  double worst = 0;
  asr_rng_seed(&rng, 8, 0);
  for (trial = 0; trial < 12; trial++) {
    int N = 1 + asr_rng_int(&rng, 6), T = 1 + asr_rng_int(&rng, 80), V = 2 + asr_rng_int(&rng, 20);
    int S = asr_rng_int(&rng, 20), blank = asr_rng_int(&rng, V), n, j, red;
    int *targets = TALLOC(int, (size_t)N * S + 1), *il = TALLOC(int, N), *tl = TALLOC(int, N);
    asr_real *x = TALLOC(asr_real, (size_t)N * T * V), *gb = TALLOC(asr_real, (size_t)N * T * V);
    asr_real *gi = TALLOC(asr_real, (size_t)N * T * V), *gf = TALLOC(asr_real, (size_t)N * T * V);
    asr_real *lb = TALLOC(asr_real, N), *lf = TALLOC(asr_real, N), li;
    size_t wb = asr_ctc_loss_workspace_size(T, V, S);
    void *work = TALLOC(char, wb);
    fill_uniform(&rng, x, (size_t)N * T * V, -4, 4);
    for (n = 0; n < N; n++) {
      il[n] = asr_rng_int(&rng, T + 1);
      tl[n] = asr_rng_int(&rng, S + 1);
      for (j = 0; j < S; j++) {
        int c = asr_rng_int(&rng, V - 1 > 0 ? V - 1 : 1);
        targets[(size_t)n * S + j] = c >= blank ? c + 1 : c;
      }
    }
    for (red = 0; red < 3; red++) {
      asr_real total = 0;
      asr_result r;
      memset(gb, 0, sizeof(asr_real) * N * T * V);
      memset(gi, 0, sizeof(asr_real) * N * T * V);
      memset(gf, 0, sizeof(asr_real) * N * T * V);
      r = asr_ctc_loss_ref(lb, gb, x, targets, il, tl, N, T, V, S, blank, (asr_reduction)red, 1, work, wb, NULL);
      CHECK(r == ASR_OK || r == ASR_INFEASIBLE);
      CHECK(asr_ctc_loss(lf, gf, x, targets, il, tl, N, T, V, S, blank, (asr_reduction)red, 1, work, wb, NULL) == r);
      for (n = 0; n < N; n++) {
        /* item n alone, scaled as the reduction scales it */
        asr_result ri = asr_ctc_loss_ref(&li, gi + (size_t)n * T * V, x + (size_t)n * T * V, targets + (size_t)n * S,
                                         il + n, tl + n, 1, T, V, S, blank,
                                         red == 2 ? ASR_REDUCTION_MEAN : ASR_REDUCTION_SUM, 1, work, wb, NULL);
        CHECK(ri == ASR_OK || ri == ASR_INFEASIBLE);
        if (red == 0) CHECK(li == lb[n]);
        total += red == 2 ? li / N : li;
        if (red == 2) {
          size_t i;
          for (i = 0; i < (size_t)T * V; i++) gi[(size_t)n * T * V + i] /= (asr_real)N;
        }
      }
      if (red != 0) CHECK_NEAR(lb[0], total, 1e-6 * CTC_MAX(1.0, fabs((double)total)));
      /* one call per item vs one batch: the same sums, up to the order of float adds */
      CHECK(max_abs_diff(gb, gi, (size_t)N * T * V) <= 1e-6);
      for (n = 0; n < (red == 0 ? N : 1); n++)
        CHECK_NEAR(lf[n], lb[n], CTC_FAST_TOL * CTC_MAX(1.0, fabs((double)lb[n])));
      CHECK(max_abs_diff(gf, gb, (size_t)N * T * V) <= CTC_FAST_TOL);
      worst = CTC_MAX(worst, max_abs_diff(gf, gb, (size_t)N * T * V));
    }
    if (N > worst_n) worst_n = N;
    free(targets), free(il), free(tl), free(x), free(gb), free(gi), free(gf), free(lb), free(lf), free(work);
  }
  snprintf(t->msg, sizeof t->msg, "12 batches x 3 reductions: batch = items one by one; fast - ref %.2g", worst);
}

/* ---- the lattice: eq. (14) at every frame, eq. (8) and beta's total agree, and the
 * gradient identity sum_k gamma_t(k) = 1 */
static void t_ctc_lattice_identities(tctx *t) {
  const int T = 9, V = 5, S = 4, L = 2 * S + 1;
  int target[4] = {2, 2, 3, 1}, s, k, tt;
  asr_real lp[9 * 5];
  double la[9 * 9], lb[9 * 9], pa, pb, worst = 0;
  asr_rng rng;
  asr_rng_seed(&rng, 14, 0);
  fill_uniform(&rng, lp, (size_t)T * V, -3, 3);
  for (tt = 0; tt < T; tt++) asr_log_softmax(lp + tt * V, lp + tt * V, V);
  CHECK_OK(asr_ctc_alpha_ref(la, &pa, lp, target, T, V, S, 0));
  CHECK_OK(asr_ctc_beta_ref(lb, &pb, lp, target, T, V, S, 0));
  CHECK_NEAR(pa, pb, 1e-12 * fabs(pa));
  for (tt = 0; tt < T; tt++) {
    /* eq. (14): p(l|x) = sum_s alpha_t(s) beta_t(s) / y^t_{l'_s} */
    double sum = 0;
    for (s = 0; s < L; s++) {
      k = (s & 1) ? target[s >> 1] : 0;
      if (la[tt * L + s] > -INFINITY && lb[tt * L + s] > -INFINITY)
        sum += exp(la[tt * L + s] + lb[tt * L + s] - lp[tt * V + k] - pa);
    }
    worst = CTC_MAX(worst, fabs(sum - 1));
    CHECKF(fabs(sum - 1) <= 1e-12, "frame %d: sum_s alpha beta / y / p = %.15g", tt, sum);
  }
  /* alpha_1: only the first blank and the first label are reachable */
  for (s = 2; s < L; s++) CHECK(la[s] == -INFINITY);
  /* an infeasible labelling: -inf and ASR_INFEASIBLE, from both directions */
  {
    int rep[3] = {1, 1, 1};    /* needs 5 frames */
    double a2[5 * 7], b2[5 * 7];
    CHECK(asr_ctc_alpha_ref(a2, &pa, lp, rep, 4, V, 3, 0) == ASR_INFEASIBLE && pa == -INFINITY);
    CHECK(asr_ctc_beta_ref(b2, &pb, lp, rep, 4, V, 3, 0) == ASR_INFEASIBLE && pb == -INFINITY);
    CHECK(asr_ctc_min_frames(rep, 3) == 5);
    CHECK(asr_ctc_alpha_ref(a2, &pa, lp, rep, 5, V, 3, 0) == ASR_OK);
  }
  snprintf(t->msg, sizeof t->msg, "eq. (14) holds at every frame to %.2g", worst);
}

/* ---- decoders */
/* posteriors as log-probabilities (T,V) with one top label per frame of probability
 * >= top (or uniform draws when top = 0) */
static void ctc_posteriors(asr_rng *rng, asr_real *lp, int T, int V, double top) {
  int t, k;
  for (t = 0; t < T; t++) {
    double p[16], s = 0;
    int best = asr_rng_int(rng, V);
    for (k = 0; k < V; k++) {
      p[k] = asr_rng_uniform(rng);
      if (k != best) s += p[k];
    }
    if (top > 0) {
      double pt = top + (1 - top) * asr_rng_uniform(rng);
      for (k = 0; k < V; k++) p[k] = k == best ? pt : (1 - pt) * p[k] / s;
    } else {
      s += p[best];
      for (k = 0; k < V; k++) p[k] /= s;
    }
    for (k = 0; k < V; k++) lp[t * V + k] = (asr_real)log(p[k]);
  }
}

static void t_ctc_greedy_decode(tctx *t) {
  /* a hand-made best path: b a a b b a c c b  ->  B = a a c  (blank = 0, a = 1, c = 2) */
  static const int path[9] = {0, 1, 1, 0, 0, 1, 2, 2, 0};
  asr_real lp[9 * 3];
  int tokens[9], fp[9], n, tt, k, tk[9], st[9], en[9];
  double score, want = 0;
  for (tt = 0; tt < 9; tt++)
    for (k = 0; k < 3; k++) {
      lp[tt * 3 + k] = (asr_real)(k == path[tt] ? log(0.6) : log(0.2));
      if (k == path[tt]) want += lp[tt * 3 + k];
    }
  CHECK_OK(asr_ctc_greedy_decode(tokens, &n, &score, fp, lp, 9, 3, 0));
  CHECK(n == 3 && tokens[0] == 1 && tokens[1] == 1 && tokens[2] == 2);
  CHECK(memcmp(fp, path, sizeof path) == 0);
  CHECK_NEAR(score, want, 1e-5);
  /* token spans of that path: a [1,2], a [5,5], c [6,7] */
  CHECK(asr_ctc_token_spans(tk, st, en, fp, 9, 0) == 3);
  CHECK(tk[0] == 1 && st[0] == 1 && en[0] == 2);
  CHECK(tk[1] == 1 && st[1] == 5 && en[1] == 5);
  CHECK(tk[2] == 2 && st[2] == 6 && en[2] == 7);
  /* bad input: a NaN, a blank out of range; nothing written */
  n = -7;
  lp[4] = (asr_real)NAN;
  CHECK(asr_ctc_greedy_decode(tokens, &n, &score, fp, lp, 9, 3, 0) == ASR_ERR_NONFINITE && n == -7);
  CHECK(asr_ctc_greedy_decode(tokens, &n, &score, fp, lp, 9, 3, 3) == ASR_ERR_INVALID_ARG && n == -7);
}

/* Beam 1 and greedy agree when every frame's top probability is >= 3/4 (docs/ctc.md
 * proves it); on flat posteriors they need not, and here is a case where they do not. */
static void t_ctc_beam1_equals_greedy(tctx *t) {
  const int T = 40, V = 5;
  asr_real lp[40 * 5];
  int tg[40], tb[40], ng, nb, nh, trial, same_flat = 0;
  double sg, sb;
  asr_ctc_beam_opts o = asr_ctc_beam_opts_default(1, 0);
  size_t wb = asr_ctc_beam_workspace_size(T, V, 1);
  void *work = TALLOC(char, wb);
  asr_rng rng;
  asr_rng_seed(&rng, 1, 1);
  for (trial = 0; trial < 2000; trial++) {
    ctc_posteriors(&rng, lp, T, V, 0.75);
    CHECK_OK(asr_ctc_greedy_decode(tg, &ng, &sg, NULL, lp, T, V, 0));
    CHECK_OK(asr_ctc_prefix_beam_search(tb, &nb, &sb, &nh, lp, T, V, &o, work, wb));
    CHECKF(nh == 1 && ng == nb && memcmp(tg, tb, sizeof(int) * (size_t)ng) == 0, "trial %d: %d vs %d tokens", trial,
           ng, nb);
  }
  for (trial = 0; trial < 200; trial++) {
    ctc_posteriors(&rng, lp, T, V, 0);
    CHECK_OK(asr_ctc_greedy_decode(tg, &ng, &sg, NULL, lp, T, V, 0));
    CHECK_OK(asr_ctc_prefix_beam_search(tb, &nb, &sb, &nh, lp, T, V, &o, work, wb));
    same_flat += ng == nb && memcmp(tg, tb, sizeof(int) * (size_t)ng) == 0;
  }
  {
    /* the counterexample of docs/ctc.md. Frame 0 emits a; frame 1 is a tie of blank and
     * a, so "a" ends with p_b = p_nb = 1/2; frame 2 has y = (blank .35, a .25, c .40):
     * greedy emits c (path a, blank, c), the beam keeps "a" because its paths carry
     * .35 + .5 * .25 = .475 > .40 */
    asr_real lp2[3 * 3];
    lp2[0] = (asr_real)-30, lp2[1] = 0, lp2[2] = (asr_real)-30;
    lp2[3] = (asr_real)log(0.5), lp2[4] = (asr_real)log(0.5), lp2[5] = (asr_real)-30;
    lp2[6] = (asr_real)log(0.35), lp2[7] = (asr_real)log(0.25), lp2[8] = (asr_real)log(0.40);
    CHECK_OK(asr_ctc_greedy_decode(tg, &ng, &sg, NULL, lp2, 3, 3, 0));
    CHECK_OK(asr_ctc_prefix_beam_search(tb, &nb, &sb, &nh, lp2, 3, 3, &o, work, wb));
    CHECK(ng == 2 && tg[0] == 1 && tg[1] == 2);   /* greedy: "ac" */
    CHECK(nb == 1 && tb[0] == 1);                 /* beam 1: "a" */
  }
  free(work);
  snprintf(t->msg, sizeof t->msg, "2000 peaky cases equal; %d of 200 flat cases equal; the counterexample differs",
           same_flat);
}

/* With a beam no prefix falls out of (T = 6, 2 labels: at most 127 prefixes), prefix
 * beam search is exact: its best prefix is the labelling of highest p(l|x), and its
 * scores are ln p(l|x) as _naive computes them. A scorer and bonus shift each score by
 * (weight * c + bonus) |l| for a scorer that returns c. */
static double ctc_const_scorer(void *user, const int *prefix, int len, int token) {
  (void)prefix, (void)len, (void)token;
  return *(const double *)user;
}
static double ctc_no_repeat_scorer(void *user, const int *prefix, int len, int token) {
  /* forbids a token equal to the previous one (a scorer that reads its prefix) */
  int *calls = (int *)user;
  (*calls)++;
  return len > 0 && prefix[len - 1] == token ? -1e6 : 0.0;
}
static void t_ctc_beam_exact_when_unpruned(tctx *t) {
  const int T = 6, V = 3, B = 128;
  asr_real lp[6 * 3], loss;
  int tokens[128 * 6], ntok[128], nh, trial, i, j, il = T, calls = 0;
  double scores[128], c = log(0.5), worst = 0;
  size_t wb = asr_ctc_beam_workspace_size(T, V, B), lw = asr_ctc_loss_workspace_size(T, V, T);
  void *work = TALLOC(char, wb), *lwork = TALLOC(char, lw);
  asr_ctc_beam_opts o = asr_ctc_beam_opts_default(B, 0);
  asr_rng rng;
  int feasible = 0, len, code;
  asr_rng_seed(&rng, 3, 3);
  o.nbest = B;
  /* the labellings over {1, 2} of length <= 6 with S + repeats <= 6 frames */
  for (len = 0; len <= T; len++)
    for (code = 0; code < (1 << len); code++) {
      int lab[6];
      for (j = 0; j < len; j++) lab[j] = 1 + ((code >> j) & 1);
      feasible += asr_ctc_min_frames(lab, len) <= T;
    }
  for (trial = 0; trial < 20; trial++) {
    ctc_posteriors(&rng, lp, T, V, 0);
    if (trial >= 10) {
      o.scorer = ctc_const_scorer;
      o.scorer_user = &c;
      o.lm_weight = 0.7;
      o.insertion_bonus = 0.3;
    }
    CHECK_OK(asr_ctc_prefix_beam_search(tokens, ntok, scores, &nh, lp, T, V, &o, work, wb));
    CHECK(nh == feasible);           /* every labelling that fits in 6 frames */
    for (i = 0; i < nh; i++) {
      int tl = ntok[i];
      double want;
      if (i > 0) CHECK(scores[i] <= scores[i - 1]);
      CHECK_OK(asr_ctc_loss_logprobs_naive(&loss, NULL, lp, tokens + i * T, &il, &tl, 1, T, V, T, 0,
                                           ASR_REDUCTION_NONE, 0, lwork, lw, NULL));
      want = -(double)loss + (trial >= 10 ? (o.lm_weight * c + o.insertion_bonus) * tl : 0.0);
      worst = CTC_MAX(worst, fabs(scores[i] - want));
      CHECKF(fabs(scores[i] - want) <= 1e-5 * CTC_MAX(1.0, fabs(want)), "trial %d hyp %d: %.9g vs %.9g", trial, i,
             scores[i], want);
    }
  }
  /* a scorer that reads the prefix: no hypothesis keeps a repeated neighbour */
  o.scorer = ctc_no_repeat_scorer;
  o.scorer_user = &calls;
  o.lm_weight = 1;
  o.insertion_bonus = 0;
  o.nbest = 5;
  CHECK_OK(asr_ctc_prefix_beam_search(tokens, ntok, scores, &nh, lp, T, V, &o, work, wb));
  CHECK(calls > 0 && nh == 5);
  for (i = 0; i < nh; i++)
    for (j = 1; j < ntok[i]; j++) CHECK(tokens[i * T + j] != tokens[i * T + j - 1]);
  free(work);
  free(lwork);
  snprintf(t->msg, sizeof t->msg, "%d prefixes x 20 cases: scores = ln p(l|x) (+ scorer) to %.2g", feasible, worst);
}

/* Viterbi: the best single path of B^-1(l), found by enumerating every path. */
static void t_ctc_viterbi_align(tctx *t) {
  const int T = 7, V = 3;
  int target[3] = {1, 1, 2}, S = 3, trial, fl[7], fs[7], pi[7], k;
  asr_real lp[7 * 3];
  size_t wb = asr_ctc_align_workspace_size(T, S);
  void *work = TALLOC(char, wb);
  asr_rng rng;
  asr_rng_seed(&rng, 9, 9);
  for (trial = 0; trial < 30; trial++) {
    double score, best = -INFINITY;
    int tk[7], n;
    ctc_posteriors(&rng, lp, T, V, trial % 2 ? 0.5 : 0);
    CHECK_OK(asr_ctc_align(fl, fs, &score, lp, target, T, V, S, 0, work, wb));
    /* brute force over the 3^7 paths */
    for (k = 0; k < T; k++) pi[k] = 0;
    for (;;) {
      int m = asr_ctc_token_spans(tk, NULL, NULL, pi, T, 0), i;
      if (m == S && tk[0] == 1 && tk[1] == 1 && tk[2] == 2) {
        double s = 0;
        for (i = 0; i < T; i++) s += lp[i * V + pi[i]];
        if (s > best) best = s;
      }
      for (i = T - 1; i >= 0 && ++pi[i] == V; i--) pi[i] = 0;
      if (i < 0) break;
    }
    CHECK_NEAR(score, best, 1e-9 + 1e-6 * fabs(best));
    /* the path is in B^-1(l), its score is its log-probability, the states walk l' */
    n = asr_ctc_token_spans(tk, NULL, NULL, fl, T, 0);
    CHECK(n == 3 && tk[0] == 1 && tk[1] == 1 && tk[2] == 2);
    {
      double s = 0;
      for (k = 0; k < T; k++) {
        s += lp[k * V + fl[k]];
        CHECK(fl[k] == ((fs[k] & 1) ? target[fs[k] >> 1] : 0));
        if (k > 0) CHECK(fs[k] - fs[k - 1] >= 0 && fs[k] - fs[k - 1] <= 2);
      }
      CHECK_NEAR(s, score, 1e-9 + 1e-6 * fabs(score));
    }
  }
  /* infeasible: 3 frames cannot carry [1, 1, 2] (needs 4) */
  {
    double score;
    CHECK(asr_ctc_align(fl, fs, &score, lp, target, 3, V, S, 0, work, wb) == ASR_INFEASIBLE);
    CHECK(score == -INFINITY && fs[0] == -1);
  }
  free(work);
}

static const test_case TESTS_ctc[] = {
  {"ctc/naive_equals_ref_every_tiny_case", t_ctc_naive_equals_ref_every_tiny_case},
  {"ctc/check_naive", t_ctc_check_naive},
  {"ctc/check_ref", t_ctc_check_ref},
  {"ctc/check_fast", t_ctc_check_fast},
  {"ctc/check_logprobs_naive", t_ctc_check_logprobs_naive},
  {"ctc/check_logprobs_ref", t_ctc_check_logprobs_ref},
  {"ctc/check_logprobs_fast", t_ctc_check_logprobs_fast},
  {"ctc/known_answers_match_json", t_ctc_known_answers_match_json},
  {"ctc/known_small_criterion", t_ctc_known_small_criterion},
  {"ctc/gradcheck", t_ctc_gradcheck},
  {"ctc/long_T5000_finite", t_ctc_long_T5000},
  {"ctc/random_length_batches", t_ctc_random_length_batches},
  {"ctc/lattice_identities", t_ctc_lattice_identities},
  {"ctc/greedy_decode", t_ctc_greedy_decode},
  {"ctc/beam1_equals_greedy", t_ctc_beam1_equals_greedy},
  {"ctc/beam_exact_when_unpruned", t_ctc_beam_exact_when_unpruned},
  {"ctc/viterbi_align", t_ctc_viterbi_align},
  {0, 0}
};
