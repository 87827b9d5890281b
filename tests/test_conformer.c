/* tests/test_conformer.c - tests of sections 4.3 (Conformer) and 4.4 (LSTM, attention):
 * the conformance checkers of section 10.3 run on the library's own tiers, plus the
 * cases that only make sense for the library itself. */

/* Runs a checker and fails the test with its first failing case. */
#define RUN_CHECKER(call)                                                              \
  do {                                                                                 \
    asr_check_report rep_;                                                             \
    memset(&rep_, 0, sizeof rep_);                                                     \
    CHECK_OK(call);                                                                    \
    CHECKF(rep_.failed == 0, "%d of %d cases failed, first: %s", rep_.failed,          \
           rep_.failed + rep_.passed, rep_.first_failure);                             \
    CHECKF(rep_.passed > 0, "no case ran");                                            \
    snprintf(t->msg, sizeof t->msg, "%d cases, worst %.2g", rep_.passed, rep_.worst);  \
  } while (0)
#define REP (&rep_)

/* The finite-difference tolerance: 1e-6 relative in the double build (the differences are
 * good to ~1e-10 there, so 1e-6 leaves room for rounding, not for a wrong term); 5e-2 in
 * float, where central differences of float sums are only good to a few digits (see
 * asr_gradcheck). */
#define FD_TOL (ASR_REAL_DOUBLE ? 1e-6 : 5e-2)

#define CHECK_GRADCHECK(call)                                                               \
  do {                                                                                      \
    asr_gradcheck_report gr_;                                                               \
    CHECK_OK(call);                                                                         \
    CHECKF(gr_.max_rel_err <= FD_TOL, "max rel. error %.3g at %s[%ld] (numeric %.10g, "      \
           "analytic %.10g)", gr_.max_rel_err, gr_.worst_param ? gr_.worst_param : "-",     \
           gr_.worst_index, gr_.worst_numeric, gr_.worst_analytic);                         \
    CHECK(gr_.checks > 0);                                                                  \
    snprintf(t->msg, sizeof t->msg, "max rel. error %.2g over %d checks", gr_.max_rel_err,  \
             gr_.checks);                                                                   \
  } while (0)
#define GR (&gr_)

/* ---- 4.4 LSTM */
static void t_lstm_checker_ref(tctx *t) { RUN_CHECKER(asr_check_lstm(asr_lstm_forward_ref, asr_lstm_backward_ref, 1, REP)); }
static void t_lstm_checker_fast(tctx *t) { RUN_CHECKER(asr_check_lstm(asr_lstm_forward, asr_lstm_backward, 2, REP)); }

/* A bigger instance than the checker's, with lengths: every input and weight. */
static void t_lstm_gradcheck(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_lstm(asr_lstm_forward, asr_lstm_backward, 4, 6, 5, 4, 0, 1, 7, GR)); }
static void t_lstm_gradcheck_reverse(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_lstm(asr_lstm_forward, asr_lstm_backward, 4, 6, 5, 4, 1, 1, 8, GR)); }

/* A checker must be able to fail: a backward that gets the gradient of the initial
 * cell state c0 wrong (it adds 1 to its first entry) is caught. */
static asr_result broken_lstm_backward(asr_real *dx, asr_real *dh0, asr_real *dc0, const asr_lstm_grads *g,
                                       const asr_real *dy, int lddy, const asr_real *dh_n,
                                       const asr_real *dc_n, const asr_real *y, int ldy,
                                       const asr_real *gates, const asr_real *cell, const asr_real *x,
                                       const asr_real *h0, const asr_real *c0, const asr_lstm_params *p,
                                       int N, int T, int I, int H, const int *lengths, int reverse,
                                       void *work, size_t work_bytes) {
  asr_result r = asr_lstm_backward_ref(dx, dh0, dc0, g, dy, lddy, dh_n, dc_n, y, ldy, gates, cell, x,
                                       h0, c0, p, N, T, I, H, lengths, reverse, work, work_bytes);
  if (r == ASR_OK && dc0) dc0[0] += 1;
  return r;
}
static void t_lstm_checker_catches_bug(tctx *t) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  CHECK_OK(asr_check_lstm(asr_lstm_forward_ref, broken_lstm_backward, 3, &rep));
  CHECKF(rep.failed > 0, "the checker passed a backward with a wrong dc0 (%d cases)", rep.passed);
}

/* The pyramidal concatenation of [Chan16]: (N,T,C) -> (N,T/2,2C), odd steps dropped. */
static void t_pyramid_concat(tctx *t) {
  asr_real x[2 * 5 * 2], y[2 * 2 * 4], dx[2 * 5 * 2];
  int lens[2] = {5, 2}, lo[2], i, k;
  for (i = 0; i < 20; i++) x[i] = (asr_real)(i + 1);
  CHECK_OK(asr_pyramid_concat_forward(y, lo, x, 2, 5, 2, lens));
  CHECK(lo[0] == 2 && lo[1] == 1);
  /* item 0: rows (x0,x1), (x2,x3); x4 dropped. item 1: (x0,x1) then padding */
  for (k = 0; k < 4; k++) CHECK(y[k] == x[k]);
  for (k = 0; k < 4; k++) CHECK(y[4 + k] == x[4 + k]);
  for (k = 0; k < 4; k++) CHECK(y[8 + k] == x[10 + k]);
  for (k = 0; k < 4; k++) CHECK(y[12 + k] == 0);
  /* backward is the transpose: <dy, J dx> = <J^T dy, dx> with dy = y */
  memset(dx, 0, sizeof dx);
  CHECK_OK(asr_pyramid_concat_backward(dx, y, 2, 5, 2, lens));
  for (i = 0; i < 8; i++) CHECK(dx[i] == x[i]);
  CHECK(dx[8] == 0 && dx[9] == 0);            /* the dropped odd step */
  for (i = 10; i < 14; i++) CHECK(dx[i] == x[i]);
  for (i = 14; i < 20; i++) CHECK(dx[i] == 0);  /* padding */
  CHECK(asr_pyramid_concat_forward(y, lo, x, 2, 5, 2, NULL) == ASR_OK);
  lens[1] = 6;
  CHECK(asr_pyramid_concat_forward(y, lo, x, 2, 5, 2, lens) == ASR_ERR_RANGE);
}

/* ---- 4.4 attention */
static void t_attention_checker_ref(tctx *t) { RUN_CHECKER(asr_check_attention(asr_attention_forward_ref, asr_attention_backward_ref, 1, REP)); }
static void t_attention_checker_fast(tctx *t) { RUN_CHECKER(asr_check_attention(asr_attention_forward, asr_attention_backward, 2, REP)); }
static void t_attention_gradcheck_dot(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_attention(asr_attention_forward, asr_attention_backward, ASR_ATTENTION_DOT, 4, 7, 11, GR)); }
static void t_attention_gradcheck_add(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_attention(asr_attention_forward, asr_attention_backward, ASR_ATTENTION_ADDITIVE, 4, 7, 12, GR)); }
static void t_attention_gradcheck_loc(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_attention(asr_attention_forward, asr_attention_backward, ASR_ATTENTION_LOCATION, 4, 7, 13, GR)); }

/* ESPnet's first-step alignment: uniform over the valid frames. */
static void t_attention_uniform(tctx *t) {
  asr_real a[2 * 4];
  int lens[2] = {4, 3};
  CHECK_OK(asr_attention_uniform(a, 2, 4, lens));
  CHECK(a[0] == (asr_real)0.25 && a[3] == (asr_real)0.25);
  CHECK(a[4] == (asr_real)(1.0 / 3) && a[6] == (asr_real)(1.0 / 3) && a[7] == 0);
}

/* With all energies equal (zero weights), alpha is uniform and the context is the mean
 * of the valid frames; gvec.bias shifts every energy and changes nothing. */
static void t_attention_known_values(tctx *t) {
  asr_attention_config cfg;
  asr_attention_params p;
  asr_real W[16], bias[1] = {3}, enc[2 * 3 * 2], q[2 * 2], ctx[4], al[6], act[2 * 3 * 4], work[64];
  int lens[2] = {3, 2}, i;
  memset(&cfg, 0, sizeof cfg);
  memset(W, 0, sizeof W);
  cfg.type = ASR_ATTENTION_ADDITIVE, cfg.enc_dim = 2, cfg.dec_dim = 2, cfg.att_dim = 4, cfg.scaling = 2;
  p.enc_w = W, p.enc_b = NULL, p.dec_w = W, p.att_w = NULL, p.conv_w = NULL, p.gvec_w = W, p.gvec_b = bias;
  for (i = 0; i < 12; i++) enc[i] = (asr_real)i;
  q[0] = q[1] = q[2] = q[3] = 1;
  CHECK(asr_attention_forward_workspace_size(&cfg, 2, 3) <= sizeof work);
  CHECK_OK(asr_attention_forward(ctx, al, act, NULL, enc, lens, q, NULL, &p, &cfg, 2, 3, work, sizeof work));
  /* item 0: mean of (0,1),(2,3),(4,5) = (2,3); item 1: mean of (6,7),(8,9) = (7,8) */
  CHECK_NEAR(ctx[0], 2, 1e-6);
  CHECK_NEAR(ctx[1], 3, 1e-6);
  CHECK_NEAR(ctx[2], 7, 1e-5);
  CHECK_NEAR(ctx[3], 8, 1e-5);
  CHECK(al[5] == 0);
}

/* ---- 4.3 relative positions and rel_shift */

/* rel_shift against its literal definition: _naive does ESPnet's pad / view / slice on a
 * flat buffer, _ref the closed-form index map; they must agree exactly, for every T. */
static void t_rel_shift_literal(tctx *t) {
  asr_rng rng;
  int T, ty, i;
  asr_rng_seed(&rng, 5, 0);
  for (ty = 0; ty < 2; ty++)
    for (T = 1; T <= 12; T++) {
      asr_rel_pos_type type = (asr_rel_pos_type)ty;
      int P = asr_rel_pos_len(type, T);
      asr_real x[12 * 23], a[144], b[144], dy[144], dx[12 * 23];
      double lhs = 0, rhs = 0;
      fill_uniform(&rng, x, (size_t)T * P, -1, 1);
      CHECK_OK(asr_rel_shift_naive(a, x, T, type));
      CHECK_OK(asr_rel_shift_ref(b, x, T, type));
      for (i = 0; i < T * T; i++) CHECKF(a[i] == b[i], "%s T=%d entry %d: %g vs %g", ty ? "legacy" : "latest", T, i, a[i], b[i]);
      /* the backward is the transpose: <shift(x), dy> = <x, shift^T(dy)> */
      fill_uniform(&rng, dy, (size_t)T * T, -1, 1);
      memset(dx, 0, sizeof dx);
      CHECK_OK(asr_rel_shift_backward(dx, dy, T, type));
      for (i = 0; i < T * T; i++) lhs += (double)a[i] * dy[i];
      for (i = 0; i < T * P; i++) rhs += (double)x[i] * dx[i];
      CHECK_NEAR(lhs, rhs, 1e-4);
    }
}

/* The closed forms written out for T = 3 (docs/conformer.md draws them). latest, x (3,5):
 * out[i][j] = x[i][2-i+j], so row 0 = x[0][2..4], row 2 = x[2][0..2]. legacy, x (3,3):
 * below the diagonal x[i][2-i+j], on the superdiagonal 0, above it x[i+1][j-i-2]. */
static void t_rel_shift_by_hand(tctx *t) {
  asr_real x[15], out[9];
  int i;
  for (i = 0; i < 15; i++) x[i] = (asr_real)(10 * (i / 5) + i % 5);   /* x[r][c] = 10 r + c */
  CHECK_OK(asr_rel_shift_ref(out, x, 3, ASR_REL_POS_LATEST));
  {
    static const int want[9] = {2, 3, 4, 11, 12, 13, 20, 21, 22};
    for (i = 0; i < 9; i++) CHECKF(out[i] == want[i], "latest entry %d: %g, want %d", i, out[i], want[i]);
  }
  for (i = 0; i < 9; i++) x[i] = (asr_real)(10 * (i / 3) + i % 3);
  CHECK_OK(asr_rel_shift_naive(out, x, 3, ASR_REL_POS_LEGACY));
  {
    /* row 0: x[0][2], 0, x[1][0];  row 1: x[1][1], x[1][2], 0;  row 2: x[2][0..2] */
    static const int want[9] = {2, 0, 10, 11, 12, 0, 20, 21, 22};
    for (i = 0; i < 9; i++) CHECKF(out[i] == want[i], "legacy entry %d: %g, want %d", i, out[i], want[i]);
  }
}

/* The attention of one head (asr_rel_attention_head_forward/_backward) run on the
 * projections the naive MHSA saved, head by head and item by item, against that MHSA:
 * attn and ctx, and, through the MHSA's own backward, dWq = dq^T x (the same for k, v),
 * dWpos = dp^T pos_emb and the two bias gradients. Both variants, a padded item. */
static void t_rel_attention_head(tctx *t) {
  enum { N = 2, T = 5, D = 8, H = 2, DK = D / H, PM = 2 * T - 1 };
  static const int lens[N] = {5, 3};
  asr_real x[N * T * D], pe[PM * D], w[7][D * D], pbu[D], pbv[D], dy[N * T * D], y[N * T * D];
  asr_real attn[T * T], ctx[T * D], dctx[N * T * D], dq[N * T * D], dk[N * T * D], dv[N * T * D], dp[PM * D];
  asr_real dpbu[D], dpbv[D], gw[4][D * D], gpbu[D], gpbv[D];
  double worst = 0, tol = ASR_REAL_DOUBLE ? 1e-12 : 1e-5;
  int type, i, j, c, b, h, m;
  asr_rng rng;
  asr_rng_seed(&rng, 41, 0);
  for (type = 0; type < 2; type++) {
    asr_rel_pos_type ty = (asr_rel_pos_type)type;
    int P = asr_rel_pos_len(ty, T);
    size_t sb = asr_rel_mhsa_saved_size(N, T, D, H, ty);
    void *buf = malloc(sb);
    asr_rel_mhsa_saved s;
    asr_rel_mhsa_params prm;
    asr_rel_mhsa_grads g;
    for (i = 0; i < N * T * D; i++) x[i] = (asr_real)asr_rng_normal(&rng), dy[i] = (asr_real)asr_rng_normal(&rng);
    for (m = 0; m < 7; m++)
      for (i = 0; i < D * D; i++) w[m][i] = (asr_real)(0.4 * asr_rng_normal(&rng));
    for (i = 0; i < D; i++) pbu[i] = (asr_real)asr_rng_normal(&rng), pbv[i] = (asr_real)asr_rng_normal(&rng);
    CHECK_OK(asr_rel_pos_encoding(pe, T, D, ty, 5000));
    memset(&prm, 0, sizeof prm);
    prm.wq = w[0], prm.wk = w[1], prm.wv = w[2], prm.wo = w[3], prm.wpos = w[4], prm.pos_bias_u = pbu, prm.pos_bias_v = pbv;
    CHECK(buf != NULL);
    CHECK_OK(asr_rel_mhsa_saved_init(&s, buf, sb, N, T, D, H, ty));
    CHECK_OK(asr_rel_mhsa_forward_naive(y, &s, x, pe, lens, &prm, N, T, D, H, ty));
    memset(&g, 0, sizeof g);
    memset(gw, 0, sizeof gw), memset(gpbu, 0, sizeof gpbu), memset(gpbv, 0, sizeof gpbv);
    g.wq = gw[0], g.wk = gw[1], g.wv = gw[2], g.wpos = gw[3], g.pos_bias_u = gpbu, g.pos_bias_v = gpbv;
    CHECK_OK(asr_rel_mhsa_backward_naive(NULL, NULL, &g, dy, &s, x, pe, lens, &prm, N, T, D, H, ty));
    memset(dq, 0, sizeof dq), memset(dk, 0, sizeof dk), memset(dv, 0, sizeof dv), memset(dp, 0, sizeof dp);
    memset(dpbu, 0, sizeof dpbu), memset(dpbv, 0, sizeof dpbv);
    for (i = 0; i < N * T; i++)                               /* dctx = dy Wo on valid rows */
      for (c = 0; c < D; c++) {
        double a = 0;
        for (m = 0; m < D; m++) a += (double)dy[i * D + m] * w[3][m * D + c];
        dctx[i * D + c] = (asr_real)(i % T < lens[i / T] ? a : 0);
      }
    for (b = 0; b < N; b++)
      for (h = 0; h < H; h++) {
        size_t o = (size_t)b * T * D + h * DK;
        CHECK_OK(asr_rel_attention_head_forward(attn, ctx, NULL, NULL, NULL, s.q + o, s.k + o, s.v + o, s.p + h * DK,
                                                pbu + h * DK, pbv + h * DK, lens[b], T, DK, D, ty));
        for (i = 0; i < T; i++) {
          for (j = 0; j < T; j++)
            worst = fmax(worst, fabs((double)attn[i * T + j] - s.attn[((size_t)(b * H + h) * T + i) * T + j]));
          for (c = 0; c < DK; c++) worst = fmax(worst, fabs((double)ctx[i * D + c] - s.ctx[o + (size_t)i * D + c]));
        }
        CHECK_OK(asr_rel_attention_head_backward(dq + o, dk + o, dv + o, dp + h * DK, dpbu + h * DK, dpbv + h * DK,
                                                 dctx + o, s.attn + (size_t)(b * H + h) * T * T, s.q + o, s.k + o,
                                                 s.v + o, s.p + h * DK, pbu + h * DK, pbv + h * DK, lens[b], T, DK, D,
                                                 ty));
      }
    CHECKF(worst <= tol, "%s: attn / ctx differ from the MHSA's by %.3g", type ? "legacy" : "latest", worst);
    for (c = 0; c < D; c++) {
      worst = fmax(worst, fabs((double)dpbu[c] - gpbu[c]));
      worst = fmax(worst, fabs((double)dpbv[c] - gpbv[c]));
      for (m = 0; m < D; m++) {
        double a[4] = {0, 0, 0, 0};
        for (i = 0; i < N * T; i++) {                         /* dW = d{q,k,v}^T x, dWpos = dp^T pos_emb */
          a[0] += (double)dq[i * D + c] * x[i * D + m];
          a[1] += (double)dk[i * D + c] * x[i * D + m];
          a[2] += (double)dv[i * D + c] * x[i * D + m];
        }
        for (i = 0; i < P; i++) a[3] += (double)dp[i * D + c] * pe[i * D + m];
        for (i = 0; i < 4; i++) worst = fmax(worst, fabs(a[i] - gw[i][c * D + m]));
      }
    }
    CHECKF(worst <= tol * 10, "%s: gradients differ from the MHSA's by %.3g", type ? "legacy" : "latest", worst);
    for (c = 0, m = 0; c < D; c++) m += fabs((double)gpbv[c]) > 1e-3 && fabs((double)gw[3][c * D + c]) > 1e-4;
    CHECKF(m >= D / 2, "%s: the MHSA's gradients are (near) zero: nothing was compared", type ? "legacy" : "latest");
    CHECK(asr_rel_attention_head_forward(attn, ctx, NULL, NULL, NULL, s.q, s.k, s.v, s.p, pbu, pbv, T + 1, T, DK, D,
                                         ty) == ASR_ERR_INVALID_ARG);
    free(buf);
  }
  snprintf(t->msg, sizeof t->msg, "worst difference %.2g", worst);
}

/* The sinusoids, against pow() written independently of the library's exp/log form. */
static void t_rel_pos_encoding(tctx *t) {
  asr_real pe[(2 * 5 - 1) * 8], pl[5 * 8];
  int r, m;
  CHECK(asr_rel_pos_len(ASR_REL_POS_LATEST, 5) == 9 && asr_rel_pos_len(ASR_REL_POS_LEGACY, 5) == 5);
  CHECK_OK(asr_rel_pos_encoding(pe, 5, 8, ASR_REL_POS_LATEST, 5000));
  CHECK_OK(asr_rel_pos_encoding(pl, 5, 8, ASR_REL_POS_LEGACY, 5000));
  for (r = 0; r < 9; r++)
    for (m = 0; m < 4; m++) {
      double pos = 4 - r, w = pow(10000.0, -2.0 * m / 8);   /* rows: positions 4 .. -4 */
      CHECK_NEAR(pe[r * 8 + 2 * m], sin(pos * w), 1e-6);
      CHECK_NEAR(pe[r * 8 + 2 * m + 1], cos(pos * w), 1e-6);
    }
  for (r = 0; r < 5; r++)
    for (m = 0; m < 4; m++) {
      double pos = 4999 - r, w = pow(10000.0, -2.0 * m / 8);   /* ESPnet's reversed table */
      /* float: sin of an angle near 5000 rounded to float loses ~5000 * 6e-8 = 3e-4 */
      CHECK_NEAR(pl[r * 8 + 2 * m], sin(pos * w), ASR_REAL_DOUBLE ? 1e-9 : 1e-6);
      CHECK_NEAR(pl[r * 8 + 2 * m + 1], cos(pos * w), ASR_REAL_DOUBLE ? 1e-9 : 1e-6);
    }
  CHECK(asr_rel_pos_encoding(pe, 5, 7, ASR_REL_POS_LATEST, 5000) == ASR_ERR_INVALID_ARG);  /* odd D */
}

/* ---- 4.3 rel-pos multi-head self-attention */
static void t_mhsa_checker_ref(tctx *t) { RUN_CHECKER(asr_check_rel_pos_mhsa(asr_rel_mhsa_forward_ref, asr_rel_mhsa_backward_ref, 1, REP)); }
static void t_mhsa_checker_fast(tctx *t) { RUN_CHECKER(asr_check_rel_pos_mhsa(asr_rel_mhsa_forward, asr_rel_mhsa_backward, 2, REP)); }
static void t_mhsa_gradcheck_latest(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_rel_pos_mhsa(asr_rel_mhsa_forward, asr_rel_mhsa_backward, ASR_REL_POS_LATEST, 3, 7, 12, 3, 21, GR)); }
static void t_mhsa_gradcheck_legacy(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_rel_pos_mhsa(asr_rel_mhsa_forward, asr_rel_mhsa_backward, ASR_REL_POS_LEGACY, 3, 7, 12, 3, 22, GR)); }

/* ---- 4.3 conv2d and Conv2dSubsampling */
static void t_conv2d_naive_vs_ref(tctx *t) {
  enum { N = 2, C = 3, Hh = 9, Ww = 8, O = 4, K = 3, S = 2 };
  const int Ho = (Hh - K) / S + 1, Wo = (Ww - K) / S + 1;
  asr_real x[N * C * Hh * Ww], w[O * C * K * K], b[O], ya[N * O * 4 * 3], yb[N * O * 4 * 3], dy[N * O * 4 * 3];
  asr_real dxa[N * C * Hh * Ww], dxb[N * C * Hh * Ww], dwa[O * C * K * K], dwb[O * C * K * K], dba[O], dbb[O];
  int lens[2] = {9, 6};
  asr_rng rng;
  size_t wb = asr_conv2d_workspace_size(C, Hh, Ww, O, K, S);
  void *work = talloc_(wb);
  double tol = ASR_REAL_DOUBLE ? 1e-12 : 1e-5;   /* sums of 27 O(1) products, two orders */
  int i;
  CHECK(Ho == 4 && Wo == 3);
  asr_rng_seed(&rng, 9, 0);
  fill_uniform(&rng, x, sizeof x / sizeof x[0], -1, 1);
  fill_uniform(&rng, w, sizeof w / sizeof w[0], -1, 1);
  fill_uniform(&rng, b, O, -1, 1);
  fill_uniform(&rng, dy, sizeof dy / sizeof dy[0], -1, 1);
  memset(dxa, 0, sizeof dxa), memset(dxb, 0, sizeof dxb), memset(dwa, 0, sizeof dwa);
  memset(dwb, 0, sizeof dwb), memset(dba, 0, sizeof dba), memset(dbb, 0, sizeof dbb);
  CHECK_OK(asr_conv2d_forward_naive(ya, x, w, b, lens, N, C, Hh, Ww, O, K, S));
  CHECK_OK(asr_conv2d_forward_ref(yb, x, w, b, lens, N, C, Hh, Ww, O, K, S, work, wb));
  CHECK(max_abs_diff(ya, yb, sizeof ya / sizeof ya[0]) <= tol);
  /* item 1 has 6 valid rows: output rows 0..1 valid ((6-3)/2+1 = 2), rows 2..3 are 0 */
  for (i = 0; i < O; i++) CHECK(yb[((1 * O + i) * Ho + 2) * Wo] == 0 && yb[((1 * O + i) * Ho + 3) * Wo + 2] == 0);
  CHECK_OK(asr_conv2d_backward_naive(dxa, dwa, dba, dy, x, w, lens, N, C, Hh, Ww, O, K, S));
  CHECK_OK(asr_conv2d_backward_ref(dxb, dwb, dbb, dy, x, w, lens, N, C, Hh, Ww, O, K, S, work, wb));
  CHECK(max_abs_diff(dxa, dxb, sizeof dxa / sizeof dxa[0]) <= tol);
  CHECK(max_abs_diff(dwa, dwb, sizeof dwa / sizeof dwa[0]) <= tol);
  CHECK(max_abs_diff(dba, dbb, O) <= tol);
  /* rows past item 1's length get no gradient */
  for (i = 6 * Ww; i < Hh * Ww; i++) CHECK(dxb[(size_t)(1 * C) * Hh * Ww + i] == 0);
  CHECK(asr_conv2d_forward_ref(yb, x, w, b, NULL, N, C, 2, Ww, O, K, S, work, wb) == ASR_ERR_SHAPE);  /* K > H */
  free(work);
}

static void t_subsampling_lengths(tctx *t) {
  CHECK(asr_conv2d_subsampling_out_len(6) == 0);
  CHECK(asr_conv2d_subsampling_out_len(7) == 1);
  CHECK(asr_conv2d_subsampling_out_len(10) == 1);
  CHECK(asr_conv2d_subsampling_out_len(11) == 2);
  CHECK(asr_conv2d_subsampling_out_len(200) == 49);   /* ((199 // 2) - 1) // 2 */
}

/* naive vs ref forward, and an item alone (unpadded) equals its row of a padded batch. */
static void t_subsampling_naive_ref_padding(tctx *t) {
  enum { N = 2, T = 17, F = 9, D = 4 };
  const int T2 = 3, F2 = 1;
  asr_conv2d_subsampling_params p;
  asr_conv2d_subsampling_saved s, s1;
  asr_real x[N * T * F], w0[D * 9], b0[D], w2[D * D * 9], b2[D], wo[D * D * F2], bo[D];
  asr_real ya[N * T2 * D], yb[N * T2 * D], y1[2 * D];
  int lens[2] = {17, 11}, lo[2], lo1[1], i;
  size_t sb = asr_conv2d_subsampling_saved_size(N, T, F, D), wb = asr_conv2d_subsampling_workspace_size(N, T, F, D);
  void *sbuf = talloc_(sb), *s1buf = talloc_(sb), *work = talloc_(wb);
  asr_rng rng;
  double tol = ASR_REAL_DOUBLE ? 1e-12 : 2e-5;   /* float: sums of ~40 O(1) terms, two orders */
  CHECK(asr_conv2d_subsampling_out_len(T) == T2 && asr_conv2d_subsampling_out_len(F) == F2);
  asr_rng_seed(&rng, 10, 0);
  fill_uniform(&rng, x, sizeof x / sizeof x[0], -1, 1);
  fill_uniform(&rng, w0, sizeof w0 / sizeof w0[0], -0.5, 0.5);
  fill_uniform(&rng, b0, D, -0.5, 0.5);
  fill_uniform(&rng, w2, sizeof w2 / sizeof w2[0], -0.3, 0.3);
  fill_uniform(&rng, b2, D, -0.3, 0.3);
  fill_uniform(&rng, wo, sizeof wo / sizeof wo[0], -0.5, 0.5);
  fill_uniform(&rng, bo, D, -0.5, 0.5);
  p.conv0_w = w0, p.conv0_b = b0, p.conv2_w = w2, p.conv2_b = b2, p.out_w = wo, p.out_b = bo;
  CHECK_OK(asr_conv2d_subsampling_saved_init(&s, sbuf, sb, N, T, F, D));
  CHECK_OK(asr_conv2d_subsampling_forward_naive(ya, lo, &s, x, lens, &p, N, T, F, D, work, wb));
  CHECK_OK(asr_conv2d_subsampling_forward(yb, lo, &s, x, lens, &p, N, T, F, D, work, wb));
  CHECK(lo[0] == 3 && lo[1] == 2);
  CHECK(max_abs_diff(ya, yb, sizeof ya / sizeof ya[0]) <= tol);
  for (i = 0; i < D; i++) CHECK(yb[(1 * T2 + 2) * D + i] == 0);        /* item 1, frame 2: padding */
  /* item 1 alone: T = 11 */
  CHECK_OK(asr_conv2d_subsampling_saved_init(&s1, s1buf, sb, 1, 11, F, D));
  CHECK_OK(asr_conv2d_subsampling_forward(y1, lo1, &s1, x + T * F, NULL, &p, 1, 11, F, D, work, wb));
  CHECK(lo1[0] == 2);
  CHECK(max_abs_diff(y1, yb + T2 * D, 2 * D) <= tol);
  CHECK(asr_conv2d_subsampling_forward(yb, lo, &s, x, lens, &p, N, 6, F, D, work, wb) == ASR_ERR_SHAPE);
  free(sbuf), free(s1buf), free(work);
}

/* A 40 s window at the recipes' size (D = 64 channels, F = 80 mels, T = 4000 frames): the
 * front end used to refuse it (a guard on D^2 9 T F / 4 < 2^31 that no int product needed;
 * ctc-conformer failed past 29 s). Each output frame t reads input frames 4t..4t+6 only,
 * so the first rows of the long window must equal those of its first 4.1 s computed alone
 * (the same GEMM sums over k in the same order: equal up to the GEMM's column blocking). */
static void t_subsampling_long_window(tctx *t) {
  enum { T = 4000, F = 80, D = 64, TS = 411 };
  const int F2 = 19, T2 = 999, T2s = 102;
  asr_conv2d_subsampling_params p;
  asr_conv2d_subsampling_saved s;
  asr_real *x = TALLOC(asr_real, (size_t)T * F), *w0 = TALLOC(asr_real, D * 9), *b0 = TALLOC(asr_real, D);
  asr_real *w2 = TALLOC(asr_real, D * D * 9), *b2 = TALLOC(asr_real, D), *wo = TALLOC(asr_real, D * D * F2);
  asr_real *bo = TALLOC(asr_real, D), *y = TALLOC(asr_real, (size_t)T2 * D), *ys = TALLOC(asr_real, (size_t)T2s * D);
  size_t sb = asr_conv2d_subsampling_saved_size(1, T, F, D), wb = asr_conv2d_subsampling_workspace_size(1, T, F, D);
  void *sbuf = talloc_(sb), *work = talloc_(wb);
  int lo = -1, los = -1, i, finite = 1;
  asr_rng rng;
  double tol = ASR_REAL_DOUBLE ? 1e-12 : 1e-5;   /* float: the same sums, at most a blocking apart */
  CHECK(asr_conv2d_subsampling_out_len(T) == T2 && asr_conv2d_subsampling_out_len(TS) == T2s);
  CHECK(asr_conv2d_subsampling_out_len(F) == F2);
  asr_rng_seed(&rng, 40, 0);
  fill_uniform(&rng, x, (size_t)T * F, -1, 1);
  fill_uniform(&rng, w0, D * 9, -0.3, 0.3);
  fill_uniform(&rng, b0, D, -0.3, 0.3);
  fill_uniform(&rng, w2, D * D * 9, -0.04, 0.04);
  fill_uniform(&rng, b2, D, -0.04, 0.04);
  fill_uniform(&rng, wo, D * D * F2, -0.03, 0.03);
  fill_uniform(&rng, bo, D, -0.03, 0.03);
  p.conv0_w = w0, p.conv0_b = b0, p.conv2_w = w2, p.conv2_b = b2, p.out_w = wo, p.out_b = bo;
  CHECK_OK(asr_conv2d_subsampling_saved_init(&s, sbuf, sb, 1, T, F, D));
  CHECK_OK(asr_conv2d_subsampling_forward(y, &lo, &s, x, NULL, &p, 1, T, F, D, work, wb));
  CHECK(lo == T2);
  CHECK_OK(asr_conv2d_subsampling_saved_init(&s, sbuf, sb, 1, TS, F, D));
  CHECK_OK(asr_conv2d_subsampling_forward(ys, &los, &s, x, NULL, &p, 1, TS, F, D, work, wb));
  CHECK(los == T2s);
  for (i = 0; i < T2 * D; i++) finite &= isfinite(y[i]) != 0;
  CHECK(finite);
  CHECK(max_abs_diff(y, ys, (size_t)T2s * D) <= tol);
  free(x), free(w0), free(b0), free(w2), free(b2), free(wo), free(bo), free(y), free(ys), free(sbuf), free(work);
}

static void t_subsampling_gradcheck(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_conv2d_subsampling(2, 15, 9, 3, 31, GR)); }

/* ---- 4.3 feed-forward, convolution module, block */
static void t_ff_gradcheck(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_conformer_ff(1, 41, GR)); }
static void t_conv_gradcheck_eval(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_conformer_conv(1, 0, 3, 7, 42, GR)); }
static void t_conv_gradcheck_train(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_conformer_conv(1, 1, 3, 7, 43, GR)); }
static void t_conv_gradcheck_ref(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_conformer_conv(0, 1, 2, 6, 44, GR)); }
static void t_block_gradcheck_latest(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_conformer_block(1, ASR_REL_POS_LATEST, 0, 3, 6, 45, GR)); }
static void t_block_gradcheck_legacy(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_conformer_block(1, ASR_REL_POS_LEGACY, 0, 3, 6, 46, GR)); }
static void t_block_gradcheck_train_ref(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_conformer_block(0, ASR_REL_POS_LATEST, 1, 2, 5, 47, GR)); }

/* Random ESPnet EncoderLayer weights of cfg's D, F and K, one after the other from w (in
 * this order, so the same rng gives the same weights); returns the reals used. */
static size_t blk_params_layout(asr_conformer_block_params *p, asr_real *w, const asr_conformer_config *cfg,
                                asr_rng *rng) {
  const int D = cfg->d_model, F = cfg->ff_dim, K = cfg->kernel;
  size_t used = 0;
#define TAKE(n, scale, off) (fill_uniform(rng, w + used, (n), (off) - (scale), (off) + (scale)), used += (n), w + used - (n))
  p->ff_macaron.w1 = TAKE(F * D, 0.4, 0), p->ff_macaron.b1 = TAKE(F, 0.3, 0);
  p->ff_macaron.w2 = TAKE(D * F, 0.3, 0), p->ff_macaron.b2 = TAKE(D, 0.3, 0);
  p->ff.w1 = TAKE(F * D, 0.4, 0), p->ff.b1 = TAKE(F, 0.3, 0);
  p->ff.w2 = TAKE(D * F, 0.3, 0), p->ff.b2 = TAKE(D, 0.3, 0);
  p->mhsa.wq = TAKE(D * D, 0.4, 0), p->mhsa.bq = TAKE(D, 0.3, 0);
  p->mhsa.wk = TAKE(D * D, 0.4, 0), p->mhsa.bk = TAKE(D, 0.3, 0);
  p->mhsa.wv = TAKE(D * D, 0.4, 0), p->mhsa.bv = TAKE(D, 0.3, 0);
  p->mhsa.wo = TAKE(D * D, 0.4, 0), p->mhsa.bo = TAKE(D, 0.3, 0);
  p->mhsa.wpos = TAKE(D * D, 0.4, 0);
  p->mhsa.pos_bias_u = TAKE(D, 0.3, 0), p->mhsa.pos_bias_v = TAKE(D, 0.3, 0);
  p->conv.pw1_w = TAKE(2 * D * D, 0.4, 0), p->conv.pw1_b = TAKE(2 * D, 0.3, 0);
  p->conv.dw_w = TAKE(D * K, 0.5, 0), p->conv.dw_b = TAKE(D, 0.3, 0);
  p->conv.bn_w = TAKE(D, 0.2, 1), p->conv.bn_b = TAKE(D, 0.2, 0);
  p->conv.bn_mean = TAKE(D, 0.2, 0), p->conv.bn_var = TAKE(D, 0.4, 1);
  p->conv.pw2_w = TAKE(D * D, 0.4, 0), p->conv.pw2_b = TAKE(D, 0.3, 0);
  p->norm_ff_macaron.weight = TAKE(D, 0.2, 1), p->norm_ff_macaron.bias = TAKE(D, 0.2, 0);
  p->norm_mha.weight = TAKE(D, 0.2, 1), p->norm_mha.bias = TAKE(D, 0.2, 0);
  p->norm_conv.weight = TAKE(D, 0.2, 1), p->norm_conv.bias = TAKE(D, 0.2, 0);
  p->norm_ff.weight = TAKE(D, 0.2, 1), p->norm_ff.bias = TAKE(D, 0.2, 0);
  p->norm_final.weight = TAKE(D, 0.2, 1), p->norm_final.bias = TAKE(D, 0.2, 0);
#undef TAKE
  return used;
}

/* Random ESPnet EncoderLayer weights for D = 8, H = 2, F = 12, K = 5 in one buffer. */
typedef struct blk_fixture {
  asr_conformer_config cfg;
  asr_conformer_block_params p;
  asr_real w[4096];
} blk_fixture;
static void blk_fixture_init(blk_fixture *f, asr_rng *rng) {
  asr_conformer_config_init(&f->cfg, 8, 2, 12, 5);
  blk_params_layout(&f->p, f->w, &f->cfg, rng);
}

/* The convolution module's padding invariance: (1) in evaluation, item 1 (length 4 of
 * T = 9) alone and unpadded gives exactly its rows of the batch, and its input
 * gradient; (2) in training (batch statistics couple the items) new garbage in the
 * padding changes nothing; (3) padded outputs and input gradients are 0. */
static void t_conv_padding_invariance(tctx *t) {
  enum { N = 2, T = 9, D = 8, L1 = 4 };
  blk_fixture f;
  asr_rng rng;
  asr_conformer_conv_saved s, s1;
  asr_real x[N * T * D], y[N * T * D], y2[N * T * D], y1[L1 * D], dy[N * T * D], dx[N * T * D], dx2[N * T * D], dx1[L1 * D];
  int lens[2] = {T, L1}, training, i;
  size_t sb = asr_conformer_conv_saved_size(N, T, D), wb = asr_conformer_conv_workspace_size(N, T, D);
  void *sbuf = talloc_(sb), *s1buf = talloc_(sb), *work = talloc_(wb);
  double tol = ASR_REAL_DOUBLE ? 1e-12 : 1e-5;   /* the same sums, in the same order */
  asr_rng_seed(&rng, 50, 0);
  blk_fixture_init(&f, &rng);
  fill_uniform(&rng, x, N * T * D, -2, 2);
  fill_uniform(&rng, dy, N * T * D, -1, 1);
  CHECK_OK(asr_conformer_conv_saved_init(&s, sbuf, sb, N, T, D));
  CHECK_OK(asr_conformer_conv_saved_init(&s1, s1buf, sb, 1, L1, D));
  for (training = 0; training < 2; training++) {
    f.cfg.training = training;
    memset(dx, 0, sizeof dx), memset(dx2, 0, sizeof dx2), memset(dx1, 0, sizeof dx1);
    CHECK_OK(asr_conformer_conv_forward(y, &s, x, lens, &f.p.conv, &f.cfg, N, T, work, wb));
    CHECK_OK(asr_conformer_conv_backward(dx, NULL, dy, &s, x, lens, &f.p.conv, &f.cfg, N, T, work, wb));
    for (i = (T + L1) * D; i < 2 * T * D; i++) CHECK(y[i] == 0 && dx[i] == 0);
    /* new garbage in the padding */
    for (i = (T + L1) * D; i < 2 * T * D; i++) x[i] = (asr_real)(50 * asr_rng_normal(&rng));
    CHECK_OK(asr_conformer_conv_forward(y2, &s, x, lens, &f.p.conv, &f.cfg, N, T, work, wb));
    CHECK_OK(asr_conformer_conv_backward(dx2, NULL, dy, &s, x, lens, &f.p.conv, &f.cfg, N, T, work, wb));
    CHECKF(max_abs_diff(y, y2, N * T * D) <= tol, "training %d: output moved by %g", training, max_abs_diff(y, y2, N * T * D));
    CHECK(max_abs_diff(dx, dx2, N * T * D) <= tol);
    if (!training) {
      CHECK_OK(asr_conformer_conv_forward(y1, &s1, x + T * D, NULL, &f.p.conv, &f.cfg, 1, L1, work, wb));
      CHECK_OK(asr_conformer_conv_backward(dx1, NULL, dy + T * D, &s1, x + T * D, NULL, &f.p.conv, &f.cfg, 1, L1, work, wb));
      CHECKF(max_abs_diff(y1, y + T * D, L1 * D) <= tol, "alone vs padded: %g", max_abs_diff(y1, y + T * D, L1 * D));
      CHECK(max_abs_diff(dx1, dx + T * D, L1 * D) <= tol);
    }
  }
  free(sbuf), free(s1buf), free(work);
}

/* The block (latest relative positions, evaluation): an item alone, unpadded, equals
 * its rows of a padded batch, forward and input gradient; padded outputs are 0. */
static void t_block_padding_invariance(tctx *t) {
  enum { N = 2, T = 10, D = 8, L1 = 6 };
  blk_fixture f;
  asr_rng rng;
  asr_conformer_block_saved s, s1;
  asr_real x[N * T * D], y[N * T * D], y1[L1 * D], dy[N * T * D], dx[N * T * D], dx1[L1 * D];
  asr_real pe[(2 * T - 1) * D], pe1[(2 * L1 - 1) * D];
  int lens[2] = {T, L1}, i;
  size_t sb, wf, wbk;
  void *sbuf, *s1buf, *work;
  /* float: the two runs differ only in the positional terms' summation order over
   * different table rows of equal value; ~1e-6 relative after a dozen O(1) layers */
  double tol = ASR_REAL_DOUBLE ? 1e-12 : 1e-5;
  asr_rng_seed(&rng, 51, 0);
  blk_fixture_init(&f, &rng);
  sb = asr_conformer_block_saved_size(&f.cfg, N, T);
  wf = asr_conformer_block_forward_workspace_size(&f.cfg, N, T);
  wbk = asr_conformer_block_backward_workspace_size(&f.cfg, N, T);
  if (wbk > wf) wf = wbk;
  sbuf = talloc_(sb), s1buf = talloc_(sb), work = talloc_(wf);
  fill_uniform(&rng, x, N * T * D, -2, 2);
  fill_uniform(&rng, dy, N * T * D, -1, 1);
  memset(dx, 0, sizeof dx), memset(dx1, 0, sizeof dx1);
  CHECK_OK(asr_rel_pos_encoding(pe, T, D, ASR_REL_POS_LATEST, 5000));
  CHECK_OK(asr_rel_pos_encoding(pe1, L1, D, ASR_REL_POS_LATEST, 5000));
  CHECK_OK(asr_conformer_block_saved_init(&s, sbuf, sb, &f.cfg, N, T));
  CHECK_OK(asr_conformer_block_saved_init(&s1, s1buf, sb, &f.cfg, 1, L1));
  CHECK_OK(asr_conformer_block_forward(y, &s, x, pe, lens, &f.p, &f.cfg, N, T, work, wf));
  CHECK_OK(asr_conformer_block_backward(dx, NULL, NULL, dy, &s, x, pe, lens, &f.p, &f.cfg, N, T, work, wf));
  CHECK_OK(asr_conformer_block_forward(y1, &s1, x + T * D, pe1, NULL, &f.p, &f.cfg, 1, L1, work, wf));
  CHECK_OK(asr_conformer_block_backward(dx1, NULL, NULL, dy + T * D, &s1, x + T * D, pe1, NULL, &f.p, &f.cfg, 1, L1,
                                        work, wf));
  CHECKF(max_abs_diff(y1, y + T * D, L1 * D) <= tol, "alone vs padded: %g", max_abs_diff(y1, y + T * D, L1 * D));
  CHECKF(max_abs_diff(dx1, dx + T * D, L1 * D) <= tol, "grad alone vs padded: %g", max_abs_diff(dx1, dx + T * D, L1 * D));
  for (i = (T + L1) * D; i < 2 * T * D; i++) CHECK(y[i] == 0 && dx[i] == 0);
  /* an even kernel and heads not dividing d_model are refused */
  f.cfg.kernel = 4;
  CHECK(asr_conformer_block_forward(y, &s, x, pe, lens, &f.p, &f.cfg, N, T, work, wf) == ASR_ERR_INVALID_ARG);
  f.cfg.kernel = 5, f.cfg.heads = 3;
  CHECK(asr_conformer_block_forward(y, &s, x, pe, lens, &f.p, &f.cfg, N, T, work, wf) == ASR_ERR_SHAPE);
  free(sbuf), free(s1buf), free(work);
}

/* ---- 4.3 the _naive tiers of the feed-forward, the convolution module, the block and
 * Conv2dSubsampling's backward, against _ref. The measure is max |naive - ref| / max(1,
 * max |ref|) over every output, saved activation, updated running statistic and gradient.
 * Tolerance CONF_TIER_TOL: 1e-12 in double (the same terms summed in other orders: up to
 * 2e-15 measured); 5e-6 in float, where _ref rounds every GEMM sum and every module's
 * output to float and the norms divide by standard deviations of order 0.1 (up to 5e-7
 * measured). */
#define CONF_TIER_TOL (ASR_REAL_DOUBLE ? 1e-12 : 5e-6)
/* the measure: layers_rel_err of test_layers.c (the same translation unit) */
#define conf_rel_err layers_rel_err
/* The gradients of weights p laid out from w, each at its weight's offset from w in gw. */
static void blk_grads_at(const asr_conformer_block_params *p, const asr_real *w, asr_real *gw,
                         asr_conformer_block_grads *g) {
#define G(ptr) (gw + ((ptr) - w))
  g->ff_macaron.w1 = G(p->ff_macaron.w1), g->ff_macaron.b1 = G(p->ff_macaron.b1);
  g->ff_macaron.w2 = G(p->ff_macaron.w2), g->ff_macaron.b2 = G(p->ff_macaron.b2);
  g->ff.w1 = G(p->ff.w1), g->ff.b1 = G(p->ff.b1), g->ff.w2 = G(p->ff.w2), g->ff.b2 = G(p->ff.b2);
  g->mhsa.wq = G(p->mhsa.wq), g->mhsa.bq = G(p->mhsa.bq), g->mhsa.wk = G(p->mhsa.wk), g->mhsa.bk = G(p->mhsa.bk);
  g->mhsa.wv = G(p->mhsa.wv), g->mhsa.bv = G(p->mhsa.bv), g->mhsa.wo = G(p->mhsa.wo), g->mhsa.bo = G(p->mhsa.bo);
  g->mhsa.wpos = G(p->mhsa.wpos), g->mhsa.pos_bias_u = G(p->mhsa.pos_bias_u);
  g->mhsa.pos_bias_v = G(p->mhsa.pos_bias_v);
  g->conv.pw1_w = G(p->conv.pw1_w), g->conv.pw1_b = G(p->conv.pw1_b), g->conv.dw_w = G(p->conv.dw_w);
  g->conv.dw_b = G(p->conv.dw_b), g->conv.bn_w = G(p->conv.bn_w), g->conv.bn_b = G(p->conv.bn_b);
  g->conv.pw2_w = G(p->conv.pw2_w), g->conv.pw2_b = G(p->conv.pw2_b);
  g->norm_w[0] = G(p->norm_ff_macaron.weight), g->norm_b[0] = G(p->norm_ff_macaron.bias);
  g->norm_w[1] = G(p->norm_mha.weight), g->norm_b[1] = G(p->norm_mha.bias);
  g->norm_w[2] = G(p->norm_conv.weight), g->norm_b[2] = G(p->norm_conv.bias);
  g->norm_w[3] = G(p->norm_ff.weight), g->norm_b[3] = G(p->norm_ff.bias);
  g->norm_w[4] = G(p->norm_final.weight), g->norm_b[4] = G(p->norm_final.bias);
#undef G
}
/* The gradients of a blk_fixture's weights, each at its weight's offset in gw (4096). */
static void blk_grads_init(const blk_fixture *f, asr_real *gw, asr_conformer_block_grads *g) {
  blk_grads_at(&f->p, f->w, gw, g);
}

/* The feed-forward module over 21 rows (D 8, F 12): y, the saved h and s, dx and the four
 * weight gradients. */
static void t_ff_naive_vs_ref(tctx *t) {
  enum { M = 21, D = 8, F = 12 };
  blk_fixture f;
  asr_rng rng;
  asr_conformer_ff_saved sa, sr;
  asr_conformer_block_grads ga, gr;
  asr_real x[M * D], dy[M * D], ya[M * D], yr[M * D], dxa[M * D], dxr[M * D], ha[2 * M * F], hr[2 * M * F];
  asr_real *gwa = TALLOC(asr_real, 4096), *gwr = TALLOC(asr_real, 4096);
  size_t wb = asr_conformer_ff_workspace_size(M, F);
  void *work = talloc_(wb);
  double e;
  asr_rng_seed(&rng, 52, 0);
  blk_fixture_init(&f, &rng);
  blk_grads_init(&f, gwa, &ga), blk_grads_init(&f, gwr, &gr);
  fill_uniform(&rng, x, M * D, -2, 2);
  fill_uniform(&rng, dy, M * D, -1, 1);
  memset(dxa, 0, sizeof dxa), memset(dxr, 0, sizeof dxr);
  sa.h = ha, sa.s = ha + M * F, sr.h = hr, sr.s = hr + M * F;
  CHECK_OK(asr_conformer_ff_forward_naive(ya, &sa, x, &f.p.ff, M, D, F));
  CHECK_OK(asr_conformer_ff_forward_ref(yr, &sr, x, &f.p.ff, M, D, F));
  CHECK_OK(asr_conformer_ff_backward_naive(dxa, &ga.ff, dy, &sa, x, &f.p.ff, M, D, F, work, wb));
  CHECK_OK(asr_conformer_ff_backward_ref(dxr, &gr.ff, dy, &sr, x, &f.p.ff, M, D, F, work, wb));
  e = fmax(fmax(conf_rel_err(ya, yr, M * D), conf_rel_err(ha, hr, 2 * M * F)),
           fmax(conf_rel_err(dxa, dxr, M * D), conf_rel_err(gwa, gwr, 4096)));
  CHECKF(e <= CONF_TIER_TOL, "naive vs ref: rel. err %.3g", e);
  snprintf(t->msg, sizeof t->msg, "rel. err %.2g", e);
  free(gwa), free(gwr), free(work);
}

/* The convolution module (lengths 9 and 4 of T = 9), evaluation and training: y, the
 * saved activations and statistics, the updated running statistics, dx, every gradient. */
static void t_conv_naive_vs_ref(tctx *t) {
  enum { N = 2, T = 9, D = 8 };
  int lens[2] = {T, 4}, training;
  double worst = 0;
  for (training = 0; training < 2; training++) {
    blk_fixture fa, fr;
    asr_rng ra, rr;
    asr_conformer_conv_saved sa, sr;
    asr_conformer_block_grads ga, gr;
    asr_real x[N * T * D], dy[N * T * D], ya[N * T * D], yr[N * T * D], dxa[N * T * D], dxr[N * T * D];
    asr_real *gwa = TALLOC(asr_real, 4096), *gwr = TALLOC(asr_real, 4096);
    size_t sb = asr_conformer_conv_saved_size(N, T, D), wb = asr_conformer_conv_workspace_size(N, T, D);
    void *sba = talloc_(sb), *sbr = talloc_(sb), *work = talloc_(wb);
    double e;
    asr_rng_seed(&ra, 53, 0), asr_rng_seed(&rr, 53, 0);   /* two copies of the same weights */
    blk_fixture_init(&fa, &ra), blk_fixture_init(&fr, &rr);
    fa.cfg.training = fr.cfg.training = training;
    blk_grads_init(&fa, gwa, &ga), blk_grads_init(&fr, gwr, &gr);
    fill_uniform(&ra, x, N * T * D, -2, 2);
    fill_uniform(&ra, dy, N * T * D, -1, 1);
    memset(dxa, 0, sizeof dxa), memset(dxr, 0, sizeof dxr);
    CHECK_OK(asr_conformer_conv_saved_init(&sa, sba, sb, N, T, D));
    CHECK_OK(asr_conformer_conv_saved_init(&sr, sbr, sb, N, T, D));
    CHECK_OK(asr_conformer_conv_forward_naive(ya, &sa, x, lens, &fa.p.conv, &fa.cfg, N, T, work, wb));
    CHECK_OK(asr_conformer_conv_forward_ref(yr, &sr, x, lens, &fr.p.conv, &fr.cfg, N, T, work, wb));
    CHECK_OK(asr_conformer_conv_backward_naive(dxa, &ga.conv, dy, &sa, x, lens, &fa.p.conv, &fa.cfg, N, T, work, wb));
    CHECK_OK(asr_conformer_conv_backward_ref(dxr, &gr.conv, dy, &sr, x, lens, &fr.p.conv, &fr.cfg, N, T, work, wb));
    e = fmax(fmax(conf_rel_err(ya, yr, N * T * D), conf_rel_err((asr_real *)sba, (asr_real *)sbr, sb / sizeof(asr_real))),
             fmax(conf_rel_err(dxa, dxr, N * T * D), conf_rel_err(gwa, gwr, 4096)));
    e = fmax(e, conf_rel_err(fa.w, fr.w, 4096));           /* the running statistics */
    CHECKF(e <= CONF_TIER_TOL, "training %d: naive vs ref rel. err %.3g", training, e);
    worst = fmax(worst, e);
    free(gwa), free(gwr), free(sba), free(sbr), free(work);
  }
  snprintf(t->msg, sizeof t->msg, "evaluation and training, worst rel. err %.2g", worst);
}

/* The block, both relative-position variants, evaluation and training (lengths 7 and 5 of
 * T = 7): y, the saved buffers, dx, d_pos_emb and every weight gradient. Then the naive
 * tier's refusals, nothing written: T = 33 frames (the attention's limit 32). */
static void t_block_naive_vs_ref(tctx *t) {
  enum { N = 2, T = 7, D = 8 };
  int lens[2] = {T, 5}, k;
  double worst = 0;
  for (k = 0; k < 4; k++) {
    asr_rel_pos_type type = (asr_rel_pos_type)(k & 1);
    int P = asr_rel_pos_len(type, T);
    blk_fixture fa, fr;
    asr_rng ra, rr;
    asr_conformer_block_saved sa, sr;
    asr_conformer_block_grads ga, gr;
    asr_real x[N * T * D], dy[N * T * D], ya[N * T * D], yr[N * T * D], dxa[N * T * D], dxr[N * T * D];
    asr_real pe[(2 * T - 1) * D], dpa[(2 * T - 1) * D], dpr[(2 * T - 1) * D];
    asr_real *gwa = TALLOC(asr_real, 4096), *gwr = TALLOC(asr_real, 4096);
    size_t sb, wb;
    void *sba, *sbr, *work;
    double e;
    asr_rng_seed(&ra, 54 + (uint64_t)k, 0), asr_rng_seed(&rr, 54 + (uint64_t)k, 0);
    blk_fixture_init(&fa, &ra), blk_fixture_init(&fr, &rr);
    fa.cfg.training = fr.cfg.training = k >> 1;
    fa.cfg.rel_pos = fr.cfg.rel_pos = type;
    blk_grads_init(&fa, gwa, &ga), blk_grads_init(&fr, gwr, &gr);
    sb = asr_conformer_block_saved_size(&fa.cfg, N, T);
    wb = asr_conformer_block_forward_workspace_size(&fa.cfg, N, T);
    if (asr_conformer_block_backward_workspace_size(&fa.cfg, N, T) > wb) wb = asr_conformer_block_backward_workspace_size(&fa.cfg, N, T);
    sba = talloc_(sb), sbr = talloc_(sb), work = talloc_(wb);
    fill_uniform(&ra, x, N * T * D, -2, 2);
    fill_uniform(&ra, dy, N * T * D, -1, 1);
    memset(dxa, 0, sizeof dxa), memset(dxr, 0, sizeof dxr), memset(dpa, 0, sizeof dpa), memset(dpr, 0, sizeof dpr);
    CHECK_OK(asr_rel_pos_encoding(pe, T, D, type, 5000));
    CHECK_OK(asr_conformer_block_saved_init(&sa, sba, sb, &fa.cfg, N, T));
    CHECK_OK(asr_conformer_block_saved_init(&sr, sbr, sb, &fr.cfg, N, T));
    CHECK_OK(asr_conformer_block_forward_naive(ya, &sa, x, pe, lens, &fa.p, &fa.cfg, N, T, work, wb));
    CHECK_OK(asr_conformer_block_forward_ref(yr, &sr, x, pe, lens, &fr.p, &fr.cfg, N, T, work, wb));
    CHECK_OK(asr_conformer_block_backward_naive(dxa, dpa, &ga, dy, &sa, x, pe, lens, &fa.p, &fa.cfg, N, T, work, wb));
    CHECK_OK(asr_conformer_block_backward_ref(dxr, dpr, &gr, dy, &sr, x, pe, lens, &fr.p, &fr.cfg, N, T, work, wb));
    e = fmax(fmax(conf_rel_err(ya, yr, N * T * D), conf_rel_err((asr_real *)sba, (asr_real *)sbr, sb / sizeof(asr_real))),
             fmax(conf_rel_err(dxa, dxr, N * T * D), conf_rel_err(dpa, dpr, (size_t)P * D)));
    e = fmax(e, fmax(conf_rel_err(gwa, gwr, 4096), conf_rel_err(fa.w, fr.w, 4096)));
    CHECKF(e <= CONF_TIER_TOL, "%s, training %d: naive vs ref rel. err %.3g", k & 1 ? "legacy" : "latest", k >> 1, e);
    worst = fmax(worst, e);
    free(gwa), free(gwr), free(sba), free(sbr), free(work);
  }
  {
    enum { T2 = 33 };
    blk_fixture f;
    asr_rng rng;
    asr_conformer_block_saved s;
    asr_real *x = TALLOC(asr_real, T2 * D), *y = TALLOC(asr_real, T2 * D), *pe = TALLOC(asr_real, (2 * T2 - 1) * D);
    size_t sb, wb;
    void *sbuf, *work;
    int i, untouched = 1;
    asr_rng_seed(&rng, 58, 0);
    blk_fixture_init(&f, &rng);
    sb = asr_conformer_block_saved_size(&f.cfg, 1, T2), wb = asr_conformer_block_backward_workspace_size(&f.cfg, 1, T2);
    sbuf = talloc_(sb), work = talloc_(wb);
    CHECK_OK(asr_conformer_block_saved_init(&s, sbuf, sb, &f.cfg, 1, T2));
    CHECK_OK(asr_rel_pos_encoding(pe, T2, D, ASR_REL_POS_LATEST, 5000));
    for (i = 0; i < T2 * D; i++) x[i] = 1, y[i] = 7;
    CHECK(asr_conformer_block_forward_naive(y, &s, x, pe, NULL, &f.p, &f.cfg, 1, T2, work, wb) == ASR_ERR_TOO_LARGE);
    CHECK(asr_conformer_block_backward_naive(x, NULL, NULL, y, &s, x, pe, NULL, &f.p, &f.cfg, 1, T2, work, wb) ==
          ASR_ERR_TOO_LARGE);
    for (i = 0; i < T2 * D; i++)
      if (y[i] != 7 || x[i] != 1) untouched = 0;
    CHECK(untouched);
    free(x), free(y), free(pe), free(sbuf), free(work);
  }
  snprintf(t->msg, sizeof t->msg, "latest/legacy x eval/train, worst rel. err %.2g", worst);
}

/* Conv2dSubsampling's backward (lengths 17 and 11 of T = 17): dx and the six gradients. */
static void t_subsampling_backward_naive_vs_ref(tctx *t) {
  enum { N = 2, T = 17, F = 9, D = 4, T2 = 3, F2 = 1 };
  asr_conv2d_subsampling_params p;
  asr_conv2d_subsampling_grads g[2];
  asr_conv2d_subsampling_saved s;
  asr_real x[N * T * F], w[D * 9 + D + D * D * 9 + D + D * D * F2 + D], dy[N * T2 * D], y[N * T2 * D];
  asr_real gw[2][D * 9 + D + D * D * 9 + D + D * D * F2 + D], dx[2][N * T * F];
  int lens[2] = {17, 11}, k;
  size_t sb = asr_conv2d_subsampling_saved_size(N, T, F, D), wb = asr_conv2d_subsampling_workspace_size(N, T, F, D);
  void *sbuf = talloc_(sb), *work = talloc_(wb);
  asr_rng rng;
  double e;
  asr_rng_seed(&rng, 59, 0);
  fill_uniform(&rng, x, N * T * F, -1, 1);
  fill_uniform(&rng, w, sizeof w / sizeof w[0], -0.5, 0.5);
  fill_uniform(&rng, dy, N * T2 * D, -1, 1);
  p.conv0_w = w, p.conv0_b = w + D * 9, p.conv2_w = w + D * 10, p.conv2_b = w + D * 10 + D * D * 9;
  p.out_w = p.conv2_b + D, p.out_b = p.out_w + D * D * F2;
  memset(gw, 0, sizeof gw), memset(dx, 0, sizeof dx);
  for (k = 0; k < 2; k++) {
    g[k].conv0_w = gw[k], g[k].conv0_b = gw[k] + D * 9, g[k].conv2_w = gw[k] + D * 10;
    g[k].conv2_b = gw[k] + D * 10 + D * D * 9, g[k].out_w = g[k].conv2_b + D, g[k].out_b = g[k].out_w + D * D * F2;
  }
  CHECK_OK(asr_conv2d_subsampling_saved_init(&s, sbuf, sb, N, T, F, D));
  CHECK_OK(asr_conv2d_subsampling_forward_ref(y, NULL, &s, x, lens, &p, N, T, F, D, work, wb));
  CHECK_OK(asr_conv2d_subsampling_backward_naive(dx[0], &g[0], dy, &s, x, lens, &p, N, T, F, D, work, wb));
  CHECK_OK(asr_conv2d_subsampling_backward_ref(dx[1], &g[1], dy, &s, x, lens, &p, N, T, F, D, work, wb));
  e = fmax(conf_rel_err(dx[0], dx[1], N * T * F), conf_rel_err(gw[0], gw[1], sizeof gw[0] / sizeof gw[0][0]));
  CHECKF(e <= CONF_TIER_TOL, "naive vs ref: rel. err %.3g", e);
  snprintf(t->msg, sizeof t->msg, "rel. err %.2g", e);
  free(sbuf), free(work);
}

/* Conv2dSubsampling's fast tier against _ref at odd sizes: the fast tier runs conv.2 on h1's
 * stride phases (no im2col matrix) and conv.0 on the valid rows only, so sizes of each
 * parity (T1, F1 odd and even; F2 = 1; D = 1, not a multiple of the GEMM's 12 rows or 32
 * columns) and items shorter than the batch (6: conv.0 has rows, conv.2 none) are the cases.
 * Compared: y, the saved h1 and z, dx and the six gradients, each accumulated into
 * nonzero values. Tolerance CONF_TIER_TOL (the same sums in another order). */
static void t_subsampling_fast_vs_ref(tctx *t) {
  static const int Ts[4] = {7, 8, 17, 33}, Fs[3] = {7, 8, 17}, Ds[3] = {1, 7, 17};
  int it, jf, kd, k, i;
  double worst = 0;
  for (it = 0; it < 4; it++)
    for (jf = 0; jf < 3; jf++)
      for (kd = 0; kd < 3; kd++) {
        const int N = 3, T = Ts[it], F = Fs[jf], D = Ds[kd];
        const int T2 = asr_conv2d_subsampling_out_len(T), F2 = asr_conv2d_subsampling_out_len(F);
        const size_t nw = (size_t)D * 9 + D + (size_t)D * D * 9 + D + (size_t)D * D * F2 + D;
        int lens[3] = {T, T - 3 > 0 ? T - 3 : 0, 6};
        size_t sb = asr_conv2d_subsampling_saved_size(N, T, F, D), wb = asr_conv2d_subsampling_workspace_size(N, T, F, D);
        asr_conv2d_subsampling_params p;
        asr_conv2d_subsampling_grads g[2];
        asr_conv2d_subsampling_saved s[2];
        asr_real *w = TALLOC(asr_real, nw), *x = TALLOC(asr_real, (size_t)N * T * F);
        asr_real *dy = TALLOC(asr_real, (size_t)N * T2 * D), *y[2], *dx[2], *gw[2];
        void *sbuf[2], *work = talloc_(wb);
        asr_rng rng;
        double e = 0;
        asr_rng_seed(&rng, 60 + it * 9 + jf * 3 + kd, 0);
        fill_uniform(&rng, w, nw, -0.5, 0.5);
        fill_uniform(&rng, x, (size_t)N * T * F, -1, 1);
        fill_uniform(&rng, dy, (size_t)N * T2 * D, -1, 1);
        p.conv0_w = w, p.conv0_b = w + D * 9, p.conv2_w = w + D * 10, p.conv2_b = p.conv2_w + D * D * 9;
        p.out_w = p.conv2_b + D, p.out_b = p.out_w + (size_t)D * D * F2;
        for (k = 0; k < 2; k++) {
          y[k] = TALLOC(asr_real, (size_t)N * T2 * D), dx[k] = TALLOC(asr_real, (size_t)N * T * F);
          gw[k] = TALLOC(asr_real, nw), sbuf[k] = talloc_(sb);
          asr_rng_seed(&rng, 7, 0);                      /* the same starting values for both */
          fill_uniform(&rng, dx[k], (size_t)N * T * F, -1, 1);
          fill_uniform(&rng, gw[k], nw, -1, 1);
          g[k].conv0_w = gw[k], g[k].conv0_b = gw[k] + D * 9, g[k].conv2_w = gw[k] + D * 10;
          g[k].conv2_b = g[k].conv2_w + D * D * 9, g[k].out_w = g[k].conv2_b + D;
          g[k].out_b = g[k].out_w + (size_t)D * D * F2;
          CHECK_OK(asr_conv2d_subsampling_saved_init(&s[k], sbuf[k], sb, N, T, F, D));
        }
        CHECK_OK(asr_conv2d_subsampling_forward_ref(y[0], NULL, &s[0], x, lens, &p, N, T, F, D, work, wb));
        CHECK_OK(asr_conv2d_subsampling_backward_ref(dx[0], &g[0], dy, &s[0], x, lens, &p, N, T, F, D, work, wb));
        memset(work, 0xff, wb);                          /* NaN: the fast tier must not read stale scratch */
        CHECK_OK(asr_conv2d_subsampling_forward(y[1], NULL, &s[1], x, lens, &p, N, T, F, D, work, wb));
        memset(work, 0xff, wb);
        CHECK_OK(asr_conv2d_subsampling_backward(dx[1], &g[1], dy, &s[1], x, lens, &p, N, T, F, D, work, wb));
        e = fmax(e, conf_rel_err(y[1], y[0], (size_t)N * T2 * D));
        e = fmax(e, conf_rel_err(s[1].h1, s[0].h1, (size_t)N * D * ((T - 1) / 2) * ((F - 1) / 2)));
        e = fmax(e, conf_rel_err(s[1].z, s[0].z, (size_t)N * T2 * D * F2));
        e = fmax(e, conf_rel_err(dx[1], dx[0], (size_t)N * T * F));
        e = fmax(e, conf_rel_err(gw[1], gw[0], nw));
        for (i = 0; i < D; i++) CHECK(y[1][(2 * T2 + T2 - 1) * D + i] == 0);   /* item 2 (length 6): no frame */
        CHECKF(e <= CONF_TIER_TOL, "T %d F %d D %d: fast vs ref rel. err %.3g", T, F, D, e);
        worst = fmax(worst, e);
        for (k = 0; k < 2; k++) free(y[k]), free(dx[k]), free(gw[k]), free(sbuf[k]);
        free(w), free(x), free(dy), free(work);
      }
  snprintf(t->msg, sizeof t->msg, "36 sizes, worst rel. err %.2g", worst);
}

static const test_case TESTS_conformer[] = {
  {"lstm/checker_ref", t_lstm_checker_ref},
  {"lstm/checker_fast", t_lstm_checker_fast},
  {"lstm/gradcheck", t_lstm_gradcheck},
  {"lstm/gradcheck_reverse", t_lstm_gradcheck_reverse},
  {"lstm/checker_catches_bug", t_lstm_checker_catches_bug},
  {"lstm/pyramid_concat", t_pyramid_concat},
  {"attention/checker_ref", t_attention_checker_ref},
  {"attention/checker_fast", t_attention_checker_fast},
  {"attention/gradcheck_dot", t_attention_gradcheck_dot},
  {"attention/gradcheck_additive", t_attention_gradcheck_add},
  {"attention/gradcheck_location", t_attention_gradcheck_loc},
  {"attention/uniform", t_attention_uniform},
  {"attention/known_values", t_attention_known_values},
  {"conformer/rel_shift_literal", t_rel_shift_literal},
  {"conformer/rel_shift_by_hand", t_rel_shift_by_hand},
  {"conformer/rel_pos_encoding", t_rel_pos_encoding},
  {"conformer/rel_attention_head", t_rel_attention_head},
  {"conformer/mhsa_checker_ref", t_mhsa_checker_ref},
  {"conformer/mhsa_checker_fast", t_mhsa_checker_fast},
  {"conformer/mhsa_gradcheck_latest", t_mhsa_gradcheck_latest},
  {"conformer/mhsa_gradcheck_legacy", t_mhsa_gradcheck_legacy},
  {"conformer/conv2d_naive_vs_ref", t_conv2d_naive_vs_ref},
  {"conformer/subsampling_lengths", t_subsampling_lengths},
  {"conformer/subsampling_naive_ref_padding", t_subsampling_naive_ref_padding},
  {"conformer/subsampling_gradcheck", t_subsampling_gradcheck},
  {"conformer/subsampling_fast_vs_ref", t_subsampling_fast_vs_ref},
  {"conformer/subsampling_long_window", t_subsampling_long_window},
  {"conformer/ff_gradcheck", t_ff_gradcheck},
  {"conformer/conv_gradcheck_eval", t_conv_gradcheck_eval},
  {"conformer/conv_gradcheck_train", t_conv_gradcheck_train},
  {"conformer/conv_gradcheck_ref", t_conv_gradcheck_ref},
  {"conformer/conv_padding_invariance", t_conv_padding_invariance},
  {"conformer/block_gradcheck_latest", t_block_gradcheck_latest},
  {"conformer/block_gradcheck_legacy", t_block_gradcheck_legacy},
  {"conformer/block_gradcheck_train_ref", t_block_gradcheck_train_ref},
  {"conformer/block_padding_invariance", t_block_padding_invariance},
  {"conformer/ff_naive_vs_ref", t_ff_naive_vs_ref},
  {"conformer/conv_naive_vs_ref", t_conv_naive_vs_ref},
  {"conformer/block_naive_vs_ref", t_block_naive_vs_ref},
  {"conformer/subsampling_backward_naive_vs_ref", t_subsampling_backward_naive_vs_ref},
  {0, 0}
};
