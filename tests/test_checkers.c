/* tests/test_checkers.c - the checkers of section 10 grade: each one is shown a correct
 * implementation written the way a student would (it must pass) and one-bug variants of it
 * with the mistakes students make (each must fail, and its first failure must name the
 * array element and the right hint).
 *
 * The CTC and RNN-T students below are written from the equations ([Graves06] eq. (6)-(8),
 * (16); [Graves12] eq. (16)-(23)) in double, one item at a time, with the library's own
 * argument checks in front (they call the _ref tier once with no gradient to refuse what
 * it refuses: argument checking is not what these tests grade). The layer and quantizer
 * bugs are wrappers around the library's functions that change one thing. No expected
 * value here is typed in: the checkers compare with the library's _naive / _ref tiers, the
 * published cases and finite differences. */

static void chk_log_line(void *user, const char *line) {
  (void)user;   /* set ASR_TEST_VERBOSE to print every checker line */
  if (getenv("ASR_TEST_VERBOSE")) printf("    %s\n", line);
}

static void chk_rep_init(asr_check_report *rep) {
  memset(rep, 0, sizeof *rep);
  rep->log = chk_log_line;
}

/* A correct implementation: every case passes. */
#define CHK_MUST_PASS(call)                                                                  \
  do {                                                                                       \
    asr_check_report rep_;                                                                   \
    chk_rep_init(&rep_);                                                                     \
    (void)(call);                                                                            \
    CHECKF(rep_.failed == 0 && rep_.passed > 0, "%d of %d cases failed; first: %s", rep_.failed, \
           rep_.failed + rep_.passed, rep_.first_failure);                                   \
    snprintf(t->msg, sizeof t->msg, "%d cases pass, worst error/tolerance %.2g", rep_.passed, rep_.worst); \
  } while (0)

/* A one-bug implementation: some case fails, and the first failure's line contains `want`
 * (the array element or the hint that points at the bug). */
#define CHK_MUST_FAIL(call, want)                                                            \
  do {                                                                                       \
    asr_check_report rep_;                                                                   \
    chk_rep_init(&rep_);                                                                     \
    (void)(call);                                                                            \
    CHECKF(rep_.failed > 0, "the bug passed all %d cases", rep_.passed);                     \
    CHECKF(strstr(rep_.first_failure, want) != NULL, "first failure does not say \"%s\": %s", want, \
           rep_.first_failure);                                                              \
    snprintf(t->msg, sizeof t->msg, "%d of %d cases fail; first: %.150s", rep_.failed,       \
             rep_.failed + rep_.passed, rep_.first_failure);                                 \
  } while (0)

/* ---- CTC, the way a course writes it ------------------------------------------------- */
enum {
  CTC_OK,            /* correct, in double */
  CTC_FLOAT,         /* correct, alpha, beta and the gradient rounded to float at every step */
  CTC_ASSIGN,        /* grad = instead of += */
  CTC_SKIP_ALWAYS,   /* the skip from s-2 also between repeated labels */
  CTC_SKIP_NEVER,    /* no skip from s-2 at all */
  CTC_ONE_FINAL,     /* p(l|x) = alpha_T(|l'|) only: the final state ending in a label is lost */
  CTC_NO_SOFTMAX,    /* grad = -gamma: the softmax's y_k term forgotten */
  CTC_BLANK0,        /* the blank is always symbol 0 */
  CTC_MEAN_PLAIN     /* mean = (1/N) sum_n loss_n, not divided by the target lengths */
};

static double ctc_r(int bug, double v) { return bug == CTC_FLOAT ? (double)(float)v : v; }
static double ctc_lse(int bug, double a, double b) {
  double m = a > b ? a : b;
  if (m == -INFINITY) return m;
  return ctc_r(bug, m + ctc_r(bug, log1p(ctc_r(bug, exp(-fabs(a - b))))));
}

/* One item: loss (-ln p, inf if no path) and, if g, g += wgt * dL/dlogits. */
static double ctc_student_item(int bug, asr_real *g, double wgt, const asr_real *x, const int *l, int T, int V,
                               int S, int blank) {
  int L = 2 * S + 1, t, s, k;
  double *lp = (double *)malloc(sizeof(double) * (size_t)T * V);
  double *a = (double *)calloc((size_t)T * L, sizeof(double)), *b = (double *)calloc((size_t)T * L, sizeof(double));
  double logp, loss;
  int *ext = (int *)malloc(sizeof(int) * (size_t)L);
  if (bug == CTC_BLANK0) blank = 0;
  for (s = 0; s < L; s++) ext[s] = s % 2 ? l[s / 2] : blank;   /* l' = (b, l1, b, l2, ..., b) */
  for (t = 0; t < T; t++) {                                     /* log_softmax of each frame */
    double m = -INFINITY, z = 0;
    for (k = 0; k < V; k++) m = fmax(m, (double)x[t * V + k]);
    for (k = 0; k < V; k++) z = ctc_r(bug, z + ctc_r(bug, exp((double)x[t * V + k] - m)));
    for (k = 0; k < V; k++) lp[t * V + k] = ctc_r(bug, (double)x[t * V + k] - m - log(z));
  }
  /* alpha, eq. (6)-(7), in logs */
  for (s = 0; s < L; s++) a[s] = s < 2 ? lp[ext[s]] : -INFINITY;
  for (t = 1; t < T; t++)
    for (s = 0; s < L; s++) {
      double v = a[(t - 1) * L + s];
      int skip = s >= 2 && ext[s] != blank && ext[s] != ext[s - 2];
      if (bug == CTC_SKIP_ALWAYS) skip = s >= 2 && ext[s] != blank;
      if (bug == CTC_SKIP_NEVER) skip = 0;
      if (s >= 1) v = ctc_lse(bug, v, a[(t - 1) * L + s - 1]);
      if (skip) v = ctc_lse(bug, v, a[(t - 1) * L + s - 2]);
      a[t * L + s] = v == -INFINITY ? v : ctc_r(bug, v + lp[t * V + ext[s]]);
    }
  /* eq. (8) */
  logp = a[(T - 1) * L + L - 1];
  if (L >= 2 && bug != CTC_ONE_FINAL) logp = ctc_lse(bug, logp, a[(T - 1) * L + L - 2]);
  loss = -logp;
  if (g && isfinite(logp)) {
    /* beta with the frame's emission, as [Graves06] eq. (10)-(11) */
    for (s = 0; s < L; s++) b[(T - 1) * L + s] = s >= L - 2 ? lp[(T - 1) * V + ext[s]] : -INFINITY;
    for (t = T - 2; t >= 0; t--)
      for (s = 0; s < L; s++) {
        double v = b[(t + 1) * L + s];
        int skip = s + 2 < L && ext[s] != blank && ext[s] != ext[s + 2];
        if (bug == CTC_SKIP_ALWAYS) skip = s + 2 < L && ext[s] != blank;
        if (bug == CTC_SKIP_NEVER) skip = 0;
        if (s + 1 < L) v = ctc_lse(bug, v, b[(t + 1) * L + s + 1]);
        if (skip) v = ctc_lse(bug, v, b[(t + 1) * L + s + 2]);
        b[t * L + s] = v == -INFINITY ? v : ctc_r(bug, v + lp[t * V + ext[s]]);
      }
    /* eq. (16): dL/du_k = y_k - gamma_t(k), gamma from eq. (14)-(15) */
    for (t = 0; t < T; t++) {
      double gam[64];                  /* V <= 64 in the checker */
      for (k = 0; k < V; k++) gam[k] = 0;
      for (s = 0; s < L; s++)
        gam[ext[s]] = ctc_r(bug, gam[ext[s]] + ctc_r(bug, exp(a[t * L + s] + b[t * L + s] - lp[t * V + ext[s]] - logp)));
      for (k = 0; k < V; k++) {
        double d = (bug == CTC_NO_SOFTMAX ? 0 : exp(lp[t * V + k])) - gam[k];
        if (bug == CTC_ASSIGN) g[t * V + k] = (asr_real)ctc_r(bug, wgt * d);
        else g[t * V + k] = (asr_real)ctc_r(bug, g[t * V + k] + wgt * d);
      }
    }
  }
  free(lp), free(a), free(b), free(ext);
  return loss;
}

static asr_result ctc_student(int bug, asr_real *loss, asr_real *grad, const asr_real *x, const int *targets,
                              const int *il, const int *tl, int N, int T, int V, int S, int blank,
                              asr_reduction red, int zi, void *work, size_t wb, asr_error *err) {
  asr_real *tmp = (asr_real *)malloc(sizeof(asr_real) * (N > 0 ? (size_t)N : 1));
  asr_result r;
  int n, infeasible = 0;
  double total = 0;
  if (!tmp || V > 64) {
    free(tmp);
    return ASR_ERR_INVALID_ARG;
  }
  r = asr_ctc_loss_ref(tmp, NULL, x, targets, il, tl, N, T, V, S, blank, red, zi, work, wb, err);
  free(tmp);
  if (r < 0) return r;                           /* the library's argument checks */
  for (n = 0; n < N; n++) {
    double tln = tl[n] > 1 ? tl[n] : 1;
    double w = red == ASR_REDUCTION_MEAN ? 1.0 / (N * (bug == CTC_MEAN_PLAIN ? 1.0 : tln)) : 1.0;
    double Ln = INFINITY;
    asr_real *gn = grad ? grad + (size_t)n * T * V : NULL;
    if (il[n] > 0 || tl[n] > 0)
      Ln = il[n] > 0 ? ctc_student_item(bug, gn, w, x + (size_t)n * T * V, targets + (size_t)n * S, il[n], V, tl[n],
                                        blank)
                     : INFINITY;
    else Ln = 0;                                  /* nothing to emit in no frames: p = 1 */
    if (!isfinite(Ln)) {
      infeasible = 1;
      Ln = zi ? 0 : INFINITY;
    }
    if (red == ASR_REDUCTION_NONE) loss[n] = (asr_real)Ln;
    total += w * Ln;
  }
  if (red != ASR_REDUCTION_NONE) loss[0] = (asr_real)total;
  return infeasible ? ASR_INFEASIBLE : ASR_OK;
}

#define CTC_STUDENT(NAME, BUG)                                                                          \
  static asr_result NAME(asr_real *loss, asr_real *grad, const asr_real *x, const int *targets, const int *il, \
                         const int *tl, int N, int T, int V, int S, int blank, asr_reduction red, int zi,     \
                         void *work, size_t wb, asr_error *err) {                                         \
    return ctc_student(BUG, loss, grad, x, targets, il, tl, N, T, V, S, blank, red, zi, work, wb, err);   \
  }
CTC_STUDENT(ctc_s_ok, CTC_OK)
CTC_STUDENT(ctc_s_float, CTC_FLOAT)
CTC_STUDENT(ctc_s_assign, CTC_ASSIGN)
CTC_STUDENT(ctc_s_skip_always, CTC_SKIP_ALWAYS)
CTC_STUDENT(ctc_s_skip_never, CTC_SKIP_NEVER)
CTC_STUDENT(ctc_s_one_final, CTC_ONE_FINAL)
CTC_STUDENT(ctc_s_no_softmax, CTC_NO_SOFTMAX)
CTC_STUDENT(ctc_s_blank0, CTC_BLANK0)
CTC_STUDENT(ctc_s_mean_plain, CTC_MEAN_PLAIN)

static void t_chk_ctc_student(tctx *t) { CHK_MUST_PASS(asr_check_ctc(ctc_s_ok, 0, 2024, &rep_)); }
/* the case: a correct CTC whose alpha and beta are float, as PyTorch float32's;
 * it must pass the float build (in the double build it is not a double implementation) */
static void t_chk_ctc_float_alpha(tctx *t) {
  if (ASR_REAL_DOUBLE) SKIP("double build: alpha and beta in float are not a double implementation");
  CHK_MUST_PASS(asr_check_ctc(ctc_s_float, 0, 2024, &rep_));
}
static void t_chk_ctc_assign(tctx *t) { CHK_MUST_FAIL(asr_check_ctc(ctc_s_assign, 0, 2024, &rep_), "written (=), not added (+=)"); }
static void t_chk_ctc_skip_always(tctx *t) { CHK_MUST_FAIL(asr_check_ctc(ctc_s_skip_always, 0, 2024, &rep_), "skip from s-2"); }
static void t_chk_ctc_skip_never(tctx *t) { CHK_MUST_FAIL(asr_check_ctc(ctc_s_skip_never, 0, 2024, &rep_), "skip from s-2"); }
static void t_chk_ctc_one_final(tctx *t) { CHK_MUST_FAIL(asr_check_ctc(ctc_s_one_final, 0, 2024, &rep_), "final states"); }
static void t_chk_ctc_no_softmax(tctx *t) { CHK_MUST_FAIL(asr_check_ctc(ctc_s_no_softmax, 0, 2024, &rep_), "softmax term"); }
static void t_chk_ctc_blank0(tctx *t) { CHK_MUST_FAIL(asr_check_ctc(ctc_s_blank0, 0, 2024, &rep_), "blank"); }
static void t_chk_ctc_mean_plain(tctx *t) { CHK_MUST_FAIL(asr_check_ctc(ctc_s_mean_plain, 0, 2024, &rep_), "divides each loss by its target length"); }

/* ---- RNN-T, the way a course writes it ----------------------------------------------- */
enum {
  RNNT_OK,
  RNNT_MEAN_TL,      /* mean also divided by the target length (torch's CTC mean) */
  RNNT_Y_TU,         /* the label leaving (t,u-1) read as y(t,u) instead of y(t,u-1) */
  RNNT_NO_FINAL,     /* Pr = alpha(T,U): the final blank forgotten */
  RNNT_BLANK0        /* the blank is always symbol 0 */
};

static double rnnt_lse(double a, double b) {
  double m = a > b ? a : b;
  return m == -INFINITY ? m : m + log1p(exp(-fabs(a - b)));
}

/* One item: returns -ln Pr; g (T,U+1,V) of this item gets dL/dz (written) times wgt, clamped. */
static double rnnt_student_item(int bug, asr_real *g, double wgt, double clamp, const asr_real *z, const int *y,
                                int Tn, int Un, int Up1, int V, int blank) {
  int t, u, k;
  size_t cells = (size_t)Tn * Up1;
  double *lp = (double *)malloc(sizeof(double) * cells * V + 1);
  double *a = (double *)malloc(sizeof(double) * cells + 1), *b = (double *)malloc(sizeof(double) * cells + 1);
  double logp;
#define LP(t, u, k) lp[((size_t)(t) * Up1 + (u)) * V + (k)]
#define A(t, u) a[(size_t)(t) * Up1 + (u)]
#define B(t, u) b[(size_t)(t) * Up1 + (u)]
  for (t = 0; t < Tn; t++)
    for (u = 0; u <= Un; u++) {                  /* log_softmax, eq. (13) */
      const asr_real *row = z + ((size_t)t * Up1 + u) * V;
      double m = -INFINITY, s = 0;
      for (k = 0; k < V; k++) m = fmax(m, (double)row[k]);
      for (k = 0; k < V; k++) s += exp((double)row[k] - m);
      for (k = 0; k < V; k++) LP(t, u, k) = (double)row[k] - m - log(s);
    }
  /* alpha, eq. (16) */
  for (t = 0; t < Tn; t++)
    for (u = 0; u <= Un; u++) {
      double v = t == 0 && u == 0 ? 0 : -INFINITY;
      if (t > 0) v = rnnt_lse(v, A(t - 1, u) + LP(t - 1, u, blank));
      if (u > 0) v = rnnt_lse(v, A(t, u - 1) + (bug == RNNT_Y_TU ? LP(t, u, y[u - 1]) : LP(t, u - 1, y[u - 1])));
      A(t, u) = v;
    }
  logp = A(Tn - 1, Un) + (bug == RNNT_NO_FINAL ? 0 : LP(Tn - 1, Un, blank));   /* eq. (17) */
  /* beta, eq. (18) */
  for (t = Tn - 1; t >= 0; t--)
    for (u = Un; u >= 0; u--) {
      double v = t == Tn - 1 && u == Un ? LP(t, u, blank) : -INFINITY;
      if (t + 1 < Tn) v = rnnt_lse(v, B(t + 1, u) + LP(t, u, blank));
      if (u < Un) v = rnnt_lse(v, B(t, u + 1) + LP(t, u, y[u]));
      B(t, u) = v;
    }
  /* eq. (20)-(23) through the softmax: dL/dz_k = y_k gamma(t,u) - (flow out of (t,u) by k) */
  for (t = 0; t < Tn && g; t++)
    for (u = 0; u <= Un; u++) {
      double occ = exp(A(t, u) + B(t, u) - logp);
      double nb = t + 1 < Tn ? B(t + 1, u) : (u == Un ? 0 : -INFINITY);
      for (k = 0; k < V; k++) {
        double d = exp(LP(t, u, k)) * occ;
        if (k == blank) d -= exp(A(t, u) + LP(t, u, k) + nb - logp);
        if (u < Un && k == y[u]) d -= exp(A(t, u) + LP(t, u, k) + B(t, u + 1) - logp);
        if (clamp > 0) d = d > clamp ? clamp : (d < -clamp ? -clamp : d);
        g[((size_t)t * Up1 + u) * V + k] = (asr_real)(wgt * d);
      }
    }
#undef LP
#undef A
#undef B
  free(lp), free(a), free(b);
  return -logp;
}

static asr_result rnnt_student(int bug, asr_real *loss, asr_real *grad, const asr_real *logits, const int *targets,
                               const int *Tl, const int *Ul, int N, int T, int U, int V, const asr_rnnt_opts *o,
                               void *work, size_t wb, asr_error *err) {
  asr_real tmp[64];
  asr_result r;
  int n, blank;
  double total = 0;
  size_t item = (size_t)T * (U + 1) * V, i;
  if (N < 0 || N > 64) return ASR_ERR_INVALID_ARG;
  r = asr_rnnt_loss_ref(tmp, NULL, logits, targets, Tl, Ul, N, T, U, V, o, work, wb, err);
  if (r < 0) return r;                           /* the library's argument checks */
  blank = o->blank < 0 ? V + o->blank : o->blank;
  if (bug == RNNT_BLANK0) blank = 0;
  if (grad)
    for (i = 0; i < (size_t)N * item; i++) grad[i] = 0;   /* written, padding included */
  for (n = 0; n < N; n++) {
    double w = o->reduction == ASR_REDUCTION_MEAN ? 1.0 / N : 1.0, Ln = 0;
    if (bug == RNNT_MEAN_TL && o->reduction == ASR_REDUCTION_MEAN) w /= Ul[n] > 1 ? Ul[n] : 1;
    if (Tl[n] > 0)
      Ln = rnnt_student_item(bug, grad ? grad + n * item : NULL, w, o->clamp, logits + n * item,
                             targets ? targets + (size_t)n * U : NULL, Tl[n], Ul[n], U + 1, V, blank);
    if (o->reduction == ASR_REDUCTION_NONE) loss[n] = (asr_real)Ln;
    total += w * Ln;
  }
  if (o->reduction != ASR_REDUCTION_NONE) loss[0] = (asr_real)total;
  return ASR_OK;
}

#define RNNT_STUDENT(NAME, BUG)                                                                            \
  static asr_result NAME(asr_real *loss, asr_real *grad, const asr_real *logits, const int *targets,         \
                         const int *Tl, const int *Ul, int N, int T, int U, int V, const asr_rnnt_opts *o,    \
                         void *work, size_t wb, asr_error *err) {                                            \
    return rnnt_student(BUG, loss, grad, logits, targets, Tl, Ul, N, T, U, V, o, work, wb, err);             \
  }
RNNT_STUDENT(rnnt_s_ok, RNNT_OK)
RNNT_STUDENT(rnnt_s_mean_tl, RNNT_MEAN_TL)
RNNT_STUDENT(rnnt_s_y_tu, RNNT_Y_TU)
RNNT_STUDENT(rnnt_s_no_final, RNNT_NO_FINAL)
RNNT_STUDENT(rnnt_s_blank0, RNNT_BLANK0)

/* a gradient that leaves the padding as it found it (NaN here): the contract writes 0 */
static asr_result rnnt_s_padding(asr_real *loss, asr_real *grad, const asr_real *logits, const int *targets,
                                 const int *Tl, const int *Ul, int N, int T, int U, int V, const asr_rnnt_opts *o,
                                 void *work, size_t wb, asr_error *err) {
  size_t item = (size_t)T * (U + 1) * V, i;
  asr_real *keep = grad ? (asr_real *)malloc(sizeof(asr_real) * item * (N > 0 ? N : 1)) : NULL;
  asr_result r;
  int n, t, u;
  if (keep) memcpy(keep, grad, sizeof(asr_real) * item * (N > 0 ? N : 1));
  r = rnnt_student(RNNT_OK, loss, grad, logits, targets, Tl, Ul, N, T, U, V, o, work, wb, err);
  if (r == ASR_OK && keep)
    for (n = 0; n < N; n++)
      for (t = 0; t < T; t++)
        for (u = 0; u <= U; u++)
          if (t >= Tl[n] || u > Ul[n])
            for (i = 0; i < (size_t)V; i++) {
              size_t j = n * item + ((size_t)t * (U + 1) + u) * V + i;
              grad[j] = keep[j];
            }
  free(keep);
  return r;
}

static void t_chk_rnnt_student(tctx *t) { CHK_MUST_PASS(asr_check_rnnt(rnnt_s_ok, 7, &rep_)); }
static void t_chk_rnnt_mean_tl(tctx *t) { CHK_MUST_FAIL(asr_check_rnnt(rnnt_s_mean_tl, 7, &rep_), "not divided by target lengths"); }
static void t_chk_rnnt_y_tu(tctx *t) { CHK_MUST_FAIL(asr_check_rnnt(rnnt_s_y_tu, 7, &rep_), "y(t,u-1)"); }
static void t_chk_rnnt_no_final(tctx *t) { CHK_MUST_FAIL(asr_check_rnnt(rnnt_s_no_final, 7, &rep_), "final blank"); }
static void t_chk_rnnt_blank0(tctx *t) { CHK_MUST_FAIL(asr_check_rnnt(rnnt_s_blank0, 7, &rep_), "the blank index"); }
static void t_chk_rnnt_padding(tctx *t) { CHK_MUST_FAIL(asr_check_rnnt(rnnt_s_padding, 7, &rep_), "not written"); }

/* ---- layers: conv1d, depthwise-separable conv1d, SE ---------------------------------- */
static void chk_zero(asr_real *g, size_t n) {
  if (g) memset(g, 0, sizeof(asr_real) * n);
}

/* backward with = : the gradients are cleared first, so earlier contents are lost */
static asr_result conv_assign_bwd(asr_real *dx, asr_real *dw, asr_real *db, const asr_real *dy, const asr_real *x,
                                  const asr_real *w, const int *lengths, const asr_conv1d_dims *d, void *work,
                                  size_t wb) {
  chk_zero(dx, (size_t)d->N * d->C_in * d->T_in);
  chk_zero(dw, (size_t)d->C_out * (d->C_in / d->groups) * d->K);
  chk_zero(db, (size_t)d->C_out);
  return asr_conv1d_backward(dx, dw, db, dy, x, w, lengths, d, work, wb);
}
/* padding: the lengths ignored, so padded frames are convolved as data */
static asr_result conv_nolen_fwd(asr_real *y, const asr_real *x, const asr_real *w, const asr_real *b,
                                 const int *lengths, const asr_conv1d_dims *d, void *work, size_t wb) {
  (void)lengths;
  return asr_conv1d_forward(y, x, w, b, NULL, d, work, wb);
}
/* dilation: the kernel's taps read k frames apart instead of k * dilation */
static asr_result conv_nodil_fwd(asr_real *y, const asr_real *x, const asr_real *w, const asr_real *b,
                                 const int *lengths, const asr_conv1d_dims *d, void *work, size_t wb) {
  int Lo[64], n, o, t, c, k, cpg = d->C_in / d->groups, opg = d->C_out / d->groups;
  int T_out = asr_conv1d_out_frames(d->T_in, d->K, d->stride, d->padding, d->dilation);
  asr_result r = asr_conv1d_forward(y, x, w, b, lengths, d, work, wb);   /* its checks, and padded zeros */
  if (r != ASR_OK || d->N > 64) return r;
  asr_conv1d_out_lengths(Lo, lengths, d);
  for (n = 0; n < d->N; n++)
    for (o = 0; o < d->C_out; o++)
      for (t = 0; t < Lo[n]; t++) {
        int len = lengths ? lengths[n] : d->T_in, g = o / opg;
        double a = b ? b[o] : 0;
        for (c = 0; c < cpg; c++)
          for (k = 0; k < d->K; k++) {
            int j = t * d->stride + k - d->padding;        /* the bug: k, not k * dilation */
            if (j >= 0 && j < len)
              a += (double)w[((size_t)o * cpg + c) * d->K + k] * x[((size_t)n * d->C_in + g * cpg + c) * d->T_in + j];
          }
        y[((size_t)n * d->C_out + o) * T_out + t] = (asr_real)a;
      }
  return ASR_OK;
}
static asr_result dws_assign_bwd(asr_real *dx, asr_real *d_dw_w, asr_real *d_dw_b, asr_real *d_pw_w, asr_real *d_pw_b,
                                 const asr_real *dy, const asr_real *h, const asr_real *x, const asr_real *dw_w,
                                 const asr_real *pw_w, const int *lengths, const asr_conv1d_dims *d, void *work,
                                 size_t wb) {
  chk_zero(dx, (size_t)d->N * d->C_in * d->T_in);
  chk_zero(d_dw_w, (size_t)d->C_in * d->K);
  chk_zero(d_dw_b, (size_t)d->C_in);
  chk_zero(d_pw_w, (size_t)d->C_out * d->C_in);
  chk_zero(d_pw_b, (size_t)d->C_out);
  return asr_dwsep_conv1d_backward(dx, d_dw_w, d_dw_b, d_pw_w, d_pw_b, dy, h, x, dw_w, pw_w, lengths, d, work, wb);
}
static asr_result se_assign_bwd(asr_real *dx, asr_real *dw1, asr_real *db1, asr_real *dw2, asr_real *db2,
                                const asr_real *dy, const asr_real *x, const asr_real *mean, const asr_real *z,
                                const asr_real *gate, const asr_real *w1, const asr_real *w2, const int *lengths, int N,
                                int C, int R, int T, void *work, size_t wb) {
  chk_zero(dx, (size_t)N * C * T);
  chk_zero(dw1, (size_t)R * C);
  chk_zero(db1, (size_t)R);
  chk_zero(dw2, (size_t)C * R);
  chk_zero(db2, (size_t)C);
  return asr_se_backward(dx, dw1, db1, dw2, db2, dy, x, mean, z, gate, w1, w2, lengths, N, C, R, T, work, wb);
}
/* the squeeze averages all T frames, padding included (the outputs' padding is still 0) */
static asr_result se_padmean_fwd(asr_real *y, asr_real *mean, asr_real *z, asr_real *gate, const asr_real *x,
                                 const asr_real *w1, const asr_real *b1, const asr_real *w2, const asr_real *b2,
                                 const int *lengths, int N, int C, int R, int T, void *work, size_t wb) {
  int n, c, t;
  asr_result r = asr_se_forward(y, mean, z, gate, x, w1, b1, w2, b2, lengths, N, C, R, T, work, wb);
  if (r != ASR_OK) return r;                      /* its checks */
  r = asr_se_forward(y, mean, z, gate, x, w1, b1, w2, b2, NULL, N, C, R, T, work, wb);
  for (n = 0; lengths && n < N; n++)
    for (c = 0; c < C; c++)
      for (t = lengths[n]; t < T; t++) y[((size_t)n * C + c) * T + t] = 0;
  return r;
}

static void t_chk_conv_ok(tctx *t) { CHK_MUST_PASS(asr_check_conv1d(asr_conv1d_forward, asr_conv1d_backward, 3, &rep_)); }
static void t_chk_conv_assign(tctx *t) { CHK_MUST_FAIL(asr_check_conv1d(NULL, conv_assign_bwd, 3, &rep_), "(=), not added (+=)"); }
static void t_chk_conv_nolen(tctx *t) { CHK_MUST_FAIL(asr_check_conv1d(conv_nolen_fwd, NULL, 3, &rep_), "forward vs naive"); }
static void t_chk_conv_nodil(tctx *t) { CHK_MUST_FAIL(asr_check_conv1d(conv_nodil_fwd, NULL, 3, &rep_), "case 2: forward vs naive"); }
static void t_chk_dws_assign(tctx *t) { CHK_MUST_FAIL(asr_check_dwsep_conv1d(NULL, dws_assign_bwd, 6, &rep_), "(=), not added (+=)"); }
static void t_chk_se_assign(tctx *t) { CHK_MUST_FAIL(asr_check_se(NULL, se_assign_bwd, 13, &rep_), "(=), not added (+=)"); }
static void t_chk_se_padmean(tctx *t) { CHK_MUST_FAIL(asr_check_se(se_padmean_fwd, NULL, 13, &rep_), "the mean over the item's own frames"); }

/* ---- features and quantizers ---------------------------------------------------------- */
/* log base: log10 where the definition has the natural log (every log output / ln 10) */
static asr_result fbank_log10(asr_real *f, const asr_real *x, int n, const asr_fbank_opts *o, asr_rng *rng, void *w,
                              size_t wb, asr_error *err) {
  asr_result r = asr_fbank_ref(f, x, n, o, rng, w, wb, err);
  size_t i, cells = (size_t)asr_fbank_num_frames(n, o) * (size_t)asr_fbank_dim(o);
  if (r == ASR_OK && o->use_log_fbank)
    for (i = 0; i < cells; i++) f[i] = (asr_real)(f[i] / log(10.0));
  return r;
}
/* pre-emphasis forgotten */
static asr_result fbank_no_preemph(asr_real *f, const asr_real *x, int n, const asr_fbank_opts *o, asr_rng *rng,
                                   void *w, size_t wb, asr_error *err) {
  asr_fbank_opts p = *o;
  p.preemphasis_coefficient = 0;
  return asr_fbank_ref(f, x, n, &p, rng, w, wb, err);
}
/* hard Gumbel-softmax differentiated through the one-hot itself: its derivative is 0, so
 * nothing reaches the logits (the straight-through estimator uses the soft p's Jacobian) */
static asr_result gumbel_onehot_bwd(asr_real *grad_logits, const asr_real *p, const asr_real *grad_y, double tau,
                                    int n, int V) {
  asr_real *scratch = (asr_real *)malloc(sizeof(asr_real) * (size_t)(n > 0 ? n : 1) * (size_t)(V > 0 ? V : 1));
  asr_result r;
  if (!scratch) return ASR_ERR_OUT_OF_MEMORY;
  memset(scratch, 0, sizeof(asr_real) * (size_t)(n > 0 ? n : 1) * (size_t)(V > 0 ? V : 1));
  r = asr_gumbel_softmax_backward(scratch, p, grad_y, tau, n, V);   /* its checks only */
  (void)grad_logits;
  free(scratch);
  return r;
}
/* the commitment term's gradient also sent into the codebook (the stop-gradient ignored):
 * de[j] gets (1 + gamma) 2 (e_j - z_n) / (N D) instead of 2 (e_j - z_n) / (N D) */
static asr_result vq_commit_into_codebook(asr_real *dz, asr_real *dcb, const asr_real *dzq, double dloss,
                                          const int *index, const asr_real *z, const asr_real *cb, int N, int D, int G,
                                          int K, int shared, double gamma) {
  asr_result r = asr_vq_backward(dz, dcb, dzq, dloss, index, z, cb, N, D, G, K, shared, gamma);
  int n, g, e, E = G > 0 ? D / G : 0;
  if (r != ASR_OK || !dcb) return r;
  for (n = 0; n < N; n++)
    for (g = 0; g < G; g++) {
      size_t j = ((size_t)(shared ? 0 : g) * K + (size_t)index[(size_t)n * G + g]) * E;
      for (e = 0; e < E; e++)
        dcb[j + e] = (asr_real)(dcb[j + e] + dloss * gamma * 2 * (cb[j + e] - z[(size_t)n * D + g * E + e]) / ((double)N * D));
    }
  return r;
}

static void t_chk_fbank_log10(tctx *t) { CHK_MUST_FAIL(asr_check_fbank(fbank_log10, "log10", 5, 8, 0, &rep_), "max error"); }
static void t_chk_fbank_preemph(tctx *t) { CHK_MUST_FAIL(asr_check_fbank(fbank_no_preemph, "no-preemph", 5, 8, 0, &rep_), "max error"); }
/* the Gumbel-softmax backward written with = (the gradient buffer cleared first) */
static asr_result gumbel_assign_bwd(asr_real *grad_logits, const asr_real *p, const asr_real *grad_y, double tau,
                                    int n, int V) {
  if (n > 0 && V > 0) chk_zero(grad_logits, (size_t)n * V);
  return asr_gumbel_softmax_backward(grad_logits, p, grad_y, tau, n, V);
}
static void t_chk_gumbel_onehot(tctx *t) {
  CHK_MUST_FAIL(asr_check_gumbel_softmax(asr_gumbel_softmax_forward, gumbel_onehot_bwd, &rep_),
                "nothing was added: the hard sample's backward is the soft p's Jacobian");
}
static void t_chk_gumbel_assign(tctx *t) {
  CHK_MUST_FAIL(asr_check_gumbel_softmax(asr_gumbel_softmax_forward, gumbel_assign_bwd, &rep_),
                "written (=), not added (+=)");
}
static void t_chk_vq_commit(tctx *t) {
  CHK_MUST_FAIL(asr_check_vq(asr_vq_forward, vq_commit_into_codebook, &rep_),
                "only the codebook term ||sg(z) - e||^2 reaches the codebook");
}

/* ---- LSTM ------------------------------------------------------------------------------ */
/* backward with = : every gradient cleared first */
static asr_result lstm_assign_bwd(asr_real *dx, asr_real *dh0, asr_real *dc0, const asr_lstm_grads *g,
                                  const asr_real *dy, int lddy, const asr_real *dh_n, const asr_real *dc_n,
                                  const asr_real *y, int ldy, const asr_real *gates, const asr_real *cell,
                                  const asr_real *x, const asr_real *h0, const asr_real *c0, const asr_lstm_params *p,
                                  int N, int T, int I, int H, const int *lengths, int reverse, void *work, size_t wb) {
  chk_zero(dx, (size_t)N * T * I);
  chk_zero(dh0, (size_t)N * H);
  chk_zero(dc0, (size_t)N * H);
  chk_zero(g->w_ih, (size_t)4 * H * I);
  chk_zero(g->w_hh, (size_t)4 * H * H);
  chk_zero(g->b_ih, (size_t)4 * H);
  chk_zero(g->b_hh, (size_t)4 * H);
  return asr_lstm_backward(dx, dh0, dc0, g, dy, lddy, dh_n, dc_n, y, ldy, gates, cell, x, h0, c0, p, N, T, I, H,
                           lengths, reverse, work, wb);
}
/* the final state's gradients (dh_n, dc_n) never enter the recursion */
static asr_result lstm_no_final_bwd(asr_real *dx, asr_real *dh0, asr_real *dc0, const asr_lstm_grads *g,
                                    const asr_real *dy, int lddy, const asr_real *dh_n, const asr_real *dc_n,
                                    const asr_real *y, int ldy, const asr_real *gates, const asr_real *cell,
                                    const asr_real *x, const asr_real *h0, const asr_real *c0,
                                    const asr_lstm_params *p, int N, int T, int I, int H, const int *lengths,
                                    int reverse, void *work, size_t wb) {
  (void)dh_n, (void)dc_n;
  return asr_lstm_backward(dx, dh0, dc0, g, dy, lddy, NULL, NULL, y, ldy, gates, cell, x, h0, c0, p, N, T, I, H,
                           lengths, reverse, work, wb);
}
static void t_chk_lstm_assign(tctx *t) { CHK_MUST_FAIL(asr_check_lstm(asr_lstm_forward, lstm_assign_bwd, 2, &rep_), "(=), not added (+=)"); }
static void t_chk_lstm_no_final(tctx *t) { CHK_MUST_FAIL(asr_check_lstm(asr_lstm_forward, lstm_no_final_bwd, 2, &rep_), "backward"); }

/* ---- attention ------------------------------------------------------------------------- */
/* d_enc, d_query, d_prev written with = (cleared first) */
static asr_result att_assign_bwd(asr_real *d_enc, asr_real *d_query, asr_real *d_prev, const asr_attention_grads *g,
                                 const asr_real *d_context, const asr_real *d_alpha, const asr_real *alpha,
                                 const asr_real *act, const asr_real *feat, const asr_real *enc, const int *lengths,
                                 const asr_real *query, const asr_real *prev, const asr_attention_params *p,
                                 const asr_attention_config *cfg, int N, int T, void *work, size_t wb) {
  chk_zero(d_enc, (size_t)N * T * cfg->enc_dim);
  chk_zero(d_query, (size_t)N * cfg->dec_dim);
  chk_zero(d_prev, (size_t)N * T);
  return asr_attention_backward(d_enc, d_query, d_prev, g, d_context, d_alpha, alpha, act, feat, enc, lengths, query,
                                prev, p, cfg, N, T, work, wb);
}
static void t_chk_att_assign(tctx *t) {
  CHK_MUST_FAIL(asr_check_attention(asr_attention_forward, att_assign_bwd, 2, &rep_), "(=), not added (+=)");
}

/* ---- relative-position self-attention ------------------------------------------------- */
/* the lengths ignored: padded frames are attended to as keys */
static asr_result mhsa_nolen_fwd(asr_real *y, const asr_rel_mhsa_saved *sv, const asr_real *x, const asr_real *pos_emb,
                                 const int *lengths, const asr_rel_mhsa_params *p, int N, int T, int D, int H,
                                 asr_rel_pos_type type, void *work, size_t wb) {
  asr_result r = asr_rel_mhsa_forward(y, sv, x, pos_emb, lengths, p, N, T, D, H, type, work, wb);   /* its checks */
  if (r != ASR_OK) return r;
  return asr_rel_mhsa_forward(y, sv, x, pos_emb, NULL, p, N, T, D, H, type, work, wb);
}
static void t_chk_mhsa_nolen(tctx *t) {
  CHK_MUST_FAIL(asr_check_rel_pos_mhsa(mhsa_nolen_fwd, asr_rel_mhsa_backward, 2, &rep_), "forward vs naive (lengths 6,4): rel. error");
  CHECKF(strstr(t->msg, " at y[") != NULL, "no element named: %s", t->msg);
}
/* the attention's backward with = : every gradient cleared first */
static asr_result mhsa_assign_bwd(asr_real *dx, asr_real *d_pos_emb, const asr_rel_mhsa_grads *g, const asr_real *dy,
                                  const asr_rel_mhsa_saved *sv, const asr_real *x, const asr_real *pos_emb,
                                  const int *lengths, const asr_rel_mhsa_params *p, int N, int T, int D, int H,
                                  asr_rel_pos_type type, void *work, size_t wb) {
  size_t dd = (size_t)D * D;
  chk_zero(dx, (size_t)N * T * D);
  chk_zero(d_pos_emb, (size_t)asr_rel_pos_len(type, T) * D);
  if (g) {
    chk_zero(g->wq, dd), chk_zero(g->wk, dd), chk_zero(g->wv, dd), chk_zero(g->wo, dd), chk_zero(g->wpos, dd);
    chk_zero(g->bq, (size_t)D), chk_zero(g->bk, (size_t)D), chk_zero(g->bv, (size_t)D), chk_zero(g->bo, (size_t)D);
    chk_zero(g->pos_bias_u, (size_t)D), chk_zero(g->pos_bias_v, (size_t)D);
  }
  return asr_rel_mhsa_backward(dx, d_pos_emb, g, dy, sv, x, pos_emb, lengths, p, N, T, D, H, type, work, wb);
}
static void t_chk_mhsa_assign(tctx *t) {
  CHK_MUST_FAIL(asr_check_rel_pos_mhsa(asr_rel_mhsa_forward, mhsa_assign_bwd, 2, &rep_), "(=), not added (+=)");
}
/* a backward that does nothing when the weights' gradients are not asked for (g NULL), as
 * if only training called it: dx is never computed for an input-gradient-only call */
static asr_result mhsa_needs_g_bwd(asr_real *dx, asr_real *d_pos_emb, const asr_rel_mhsa_grads *g, const asr_real *dy,
                                   const asr_rel_mhsa_saved *sv, const asr_real *x, const asr_real *pos_emb,
                                   const int *lengths, const asr_rel_mhsa_params *p, int N, int T, int D, int H,
                                   asr_rel_pos_type type, void *work, size_t wb) {
  if (!g) return ASR_OK;
  return asr_rel_mhsa_backward(dx, d_pos_emb, g, dy, sv, x, pos_emb, lengths, p, N, T, D, H, type, work, wb);
}
static void t_chk_mhsa_needs_g(tctx *t) {
  CHK_MUST_FAIL(asr_check_rel_pos_mhsa(asr_rel_mhsa_forward, mhsa_needs_g_bwd, 2, &rep_),
                "the padding's contents change nothing");
  CHECKF(strstr(t->msg, " at dx[") != NULL && strstr(t->msg, ", got 0") != NULL, "no element named: %s", t->msg);
}

/* ---- seq2seq decoders: the LAS speller and the Transformer decoder --------------------- */
static void chk_zero_mha(asr_mha_grads *g, int D) {
  size_t dd = (size_t)D * D;
  chk_zero(g->wq, dd), chk_zero(g->wk, dd), chk_zero(g->wv, dd), chk_zero(g->wo, dd);
  chk_zero(g->bq, (size_t)D), chk_zero(g->bk, (size_t)D), chk_zero(g->bv, (size_t)D), chk_zero(g->bo, (size_t)D);
}
/* the decoder's backward with = : d_memory and every parameter gradient cleared first */
static asr_result tdec_assign_bwd(asr_real *d_memory, const asr_tdec_grads *g, const asr_real *dlogits,
                                  const asr_tdec_saved *s, const int *ys_in, const int *ys_lens, const asr_real *memory,
                                  const int *mem_lens, const asr_tdec_params *p, const asr_tdec_config *cfg, int N,
                                  int U, int T, void *work, size_t wb) {
  size_t V = (size_t)cfg->vocab, D = (size_t)cfg->d_model, F = (size_t)cfg->ff_dim;
  int l, k;
  asr_result r = asr_tdec_check_args(cfg, ys_in, ys_lens, mem_lens, N, U, T, NULL);   /* refused: nothing cleared */
  if (r < 0) return r;
  chk_zero(d_memory, (size_t)N * T * D);
  if (g) {
    asr_tdec_grads gz = *g;
    chk_zero(gz.embed, V * D), chk_zero(gz.out_w, V * D), chk_zero(gz.out_b, V);
    chk_zero(gz.after_norm_w, D), chk_zero(gz.after_norm_b, D);
    for (l = 0; l < cfg->layers; l++) {
      asr_tdec_layer_grads *lg = &gz.layer[l];
      chk_zero_mha(&lg->self_attn, (int)D), chk_zero_mha(&lg->src_attn, (int)D);
      chk_zero(lg->w1, F * D), chk_zero(lg->b1, F), chk_zero(lg->w2, D * F), chk_zero(lg->b2, D);
      for (k = 0; k < 3; k++) chk_zero(lg->norm_w[k], D), chk_zero(lg->norm_b[k], D);
    }
  }
  return asr_tdec_backward(d_memory, g, dlogits, s, ys_in, ys_lens, memory, mem_lens, p, cfg, N, U, T, work, wb);
}
static void t_chk_tdec_ok(tctx *t) { CHK_MUST_PASS(asr_check_tdec(asr_tdec_forward, asr_tdec_backward, 4, &rep_)); }
static void t_chk_tdec_assign(tctx *t) {
  CHK_MUST_FAIL(asr_check_tdec(asr_tdec_forward, tdec_assign_bwd, 4, &rep_), "(=), not added (+=)");
  CHECKF(strstr(t->msg, " at d ") != NULL, "no element named: %s", t->msg);
}
/* the speller's backward with = : d_enc and every parameter gradient cleared first */
static asr_result las_assign_bwd(asr_real *d_enc, const asr_las_speller_grads *g, const asr_real *d_logits,
                                 const asr_las_speller_saved *s, const int *ys_in, const asr_real *enc,
                                 const int *enc_lens, const asr_las_speller_params *p,
                                 const asr_las_speller_config *cfg, int N, int U, int T, void *work, size_t wb) {
  size_t V = (size_t)cfg->vocab, D = (size_t)cfg->dunits, E = (size_t)cfg->eprojs, A = (size_t)cfg->att.att_dim;
  size_t C = (size_t)cfg->att.conv_chans, K = (size_t)(2 * cfg->att.conv_filts + 1);
  int l;
  chk_zero(d_enc, (size_t)N * T * E);
  if (g) {
    chk_zero(g->embed, V * D);
    for (l = 0; g->dec && l < cfg->dlayers; l++) {
      chk_zero(g->dec[l].w_ih, 4 * D * (l ? D : D + E)), chk_zero(g->dec[l].w_hh, 4 * D * D);
      chk_zero(g->dec[l].b_ih, 4 * D), chk_zero(g->dec[l].b_hh, 4 * D);
    }
    if (cfg->att.type != ASR_ATTENTION_DOT) {
      chk_zero(g->att.enc_w, A * E), chk_zero(g->att.enc_b, A), chk_zero(g->att.dec_w, A * D);
      chk_zero(g->att.gvec_w, A), chk_zero(g->att.gvec_b, 1);
      if (cfg->att.type == ASR_ATTENTION_LOCATION) chk_zero(g->att.att_w, A * C), chk_zero(g->att.conv_w, C * K);
    }
    chk_zero(g->out_w, V * (cfg->context_residual ? D + E : D)), chk_zero(g->out_b, V);
  }
  return asr_las_speller_backward(d_enc, g, d_logits, s, ys_in, enc, enc_lens, p, cfg, N, U, T, work, wb);
}
static void t_chk_las_ok(tctx *t) {
  CHK_MUST_PASS(asr_check_las_speller(asr_las_speller_forward, asr_las_speller_backward, 5, &rep_));
}
static void t_chk_las_assign(tctx *t) {
  CHK_MUST_FAIL(asr_check_las_speller(asr_las_speller_forward, las_assign_bwd, 5, &rep_), "(=), not added (+=)");
  CHECKF(strstr(t->msg, "backward vs _naive") != NULL && strstr(t->msg, " at d ") != NULL, "no element named: %s",
         t->msg);
}

static void t_chk_dws_ok(tctx *t) {
  CHK_MUST_PASS(asr_check_dwsep_conv1d(asr_dwsep_conv1d_forward, asr_dwsep_conv1d_backward, 6, &rep_));
}
static void t_chk_se_ok(tctx *t) { CHK_MUST_PASS(asr_check_se(asr_se_forward, asr_se_backward, 13, &rep_)); }

static const test_case TESTS_checkers[] = {
  {"checkers/ctc/student_passes", t_chk_ctc_student},
  {"checkers/ctc/float_alpha_passes", t_chk_ctc_float_alpha},
  {"checkers/ctc/assign_not_accumulate_fails", t_chk_ctc_assign},
  {"checkers/ctc/skip_between_repeats_fails", t_chk_ctc_skip_always},
  {"checkers/ctc/no_skip_fails", t_chk_ctc_skip_never},
  {"checkers/ctc/one_final_state_fails", t_chk_ctc_one_final},
  {"checkers/ctc/no_softmax_term_fails", t_chk_ctc_no_softmax},
  {"checkers/ctc/blank_always_0_fails", t_chk_ctc_blank0},
  {"checkers/ctc/mean_not_per_target_length_fails", t_chk_ctc_mean_plain},
  {"checkers/rnnt/student_passes", t_chk_rnnt_student},
  {"checkers/rnnt/mean_over_target_length_fails", t_chk_rnnt_mean_tl},
  {"checkers/rnnt/label_from_y_t_u_fails", t_chk_rnnt_y_tu},
  {"checkers/rnnt/no_final_blank_fails", t_chk_rnnt_no_final},
  {"checkers/rnnt/blank_always_0_fails", t_chk_rnnt_blank0},
  {"checkers/rnnt/padding_unwritten_fails", t_chk_rnnt_padding},
  {"checkers/conv1d/library_passes", t_chk_conv_ok},
  {"checkers/conv1d/assign_not_accumulate_fails", t_chk_conv_assign},
  {"checkers/conv1d/lengths_ignored_fails", t_chk_conv_nolen},
  {"checkers/conv1d/dilation_ignored_fails", t_chk_conv_nodil},
  {"checkers/dwsep_conv1d/library_passes", t_chk_dws_ok},
  {"checkers/dwsep_conv1d/assign_not_accumulate_fails", t_chk_dws_assign},
  {"checkers/se/library_passes", t_chk_se_ok},
  {"checkers/se/assign_not_accumulate_fails", t_chk_se_assign},
  {"checkers/se/mean_over_padding_fails", t_chk_se_padmean},
  {"checkers/lstm/assign_not_accumulate_fails", t_chk_lstm_assign},
  {"checkers/lstm/final_state_gradient_ignored_fails", t_chk_lstm_no_final},
  {"checkers/attention/assign_not_accumulate_fails", t_chk_att_assign},
  {"checkers/rel_pos_mhsa/lengths_ignored_fails", t_chk_mhsa_nolen},
  {"checkers/rel_pos_mhsa/written_not_added_fails", t_chk_mhsa_assign},
  {"checkers/rel_pos_mhsa/no_input_gradient_without_weights_fails", t_chk_mhsa_needs_g},
  {"checkers/tdec/library_passes", t_chk_tdec_ok},
  {"checkers/tdec/written_not_added_fails", t_chk_tdec_assign},
  {"checkers/las_speller/library_passes", t_chk_las_ok},
  {"checkers/las_speller/written_not_added_fails", t_chk_las_assign},
  {"checkers/fbank/log10_fails", t_chk_fbank_log10},
  {"checkers/fbank/no_preemphasis_fails", t_chk_fbank_preemph},
  {"checkers/gumbel/backward_through_one_hot_fails", t_chk_gumbel_onehot},
  {"checkers/gumbel/written_not_added_fails", t_chk_gumbel_assign},
  {"checkers/vq/commitment_into_codebook_fails", t_chk_vq_commit},
  {0, 0}
};
