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

/* The finite-difference tolerance: 1e-6 relative in the double build (what the issue
 * asks for); 5e-2 in float, where central differences of float sums are only good to a
 * few digits (see asr_gradcheck). */
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
  {0, 0}
};
