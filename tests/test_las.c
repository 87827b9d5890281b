/* tests/test_las.c - tests of section 7.1 (the LAS speller) and 7.3 (sequence losses):
 * the checker of section 10.7.1 on the library's own tiers, bigger finite-difference and
 * tier-agreement cases, decoding one step at a time, refusals, a learning test, and the
 * losses against their definitions written out. Included by tests/test_asr.c after
 * test_conformer.c, whose RUN_CHECKER / CHECK_GRADCHECK / FD_TOL macros it uses. */

#define LAS_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- a speller's parameters in one buffer, their gradients in another */
typedef struct las_model {
  asr_las_speller_config cfg;
  asr_las_speller_params p;
  asr_las_speller_grads g;
  asr_lstm_params dec[4];
  asr_lstm_grads gdec[4];
  asr_real *w, *gw;
  size_t count;
} las_model;

/* Hands out n reals of w (and gw) at *at; with w NULL only counts. */
static asr_real *las_cut(asr_real *w, size_t *at, size_t n) {
  asr_real *r = w ? w + *at : NULL;
  *at += n;
  return r;
}

/* Lays the parameters of cfg out in w / gw (PyTorch's shapes, see asr_las_speller_params)
 * and returns their count. */
static size_t las_model_layout(las_model *m, asr_real *w, asr_real *gw) {
  const asr_las_speller_config *c = &m->cfg;
  size_t at = 0, gat = 0;
  int V = c->vocab, D = c->dunits, E = c->eprojs, A = c->att.att_dim, C = c->att.conv_chans;
  int K = 2 * c->att.conv_filts + 1, l, Do = c->context_residual ? D + E : D;
  int add = c->att.type != ASR_ATTENTION_DOT, loc = c->att.type == ASR_ATTENTION_LOCATION;
#define LAS_CUT(field, gfield, n) (m->field = las_cut(w, &at, (size_t)(n)), m->gfield = las_cut(gw, &gat, (size_t)(n)))
  LAS_CUT(p.embed, g.embed, (size_t)V * D);
  for (l = 0; l < c->dlayers; l++) {
    LAS_CUT(dec[l].w_ih, gdec[l].w_ih, (size_t)4 * D * (l ? D : D + E));
    LAS_CUT(dec[l].w_hh, gdec[l].w_hh, (size_t)4 * D * D);
    LAS_CUT(dec[l].b_ih, gdec[l].b_ih, 4 * D);
    LAS_CUT(dec[l].b_hh, gdec[l].b_hh, 4 * D);
  }
  memset(&m->p.att, 0, sizeof m->p.att);
  memset(&m->g.att, 0, sizeof m->g.att);
  if (add) {
    LAS_CUT(p.att.enc_w, g.att.enc_w, (size_t)A * E);
    LAS_CUT(p.att.enc_b, g.att.enc_b, A);
    LAS_CUT(p.att.dec_w, g.att.dec_w, (size_t)A * D);
    LAS_CUT(p.att.gvec_w, g.att.gvec_w, A);
    LAS_CUT(p.att.gvec_b, g.att.gvec_b, 1);
  }
  if (loc) {
    LAS_CUT(p.att.att_w, g.att.att_w, (size_t)A * C);
    LAS_CUT(p.att.conv_w, g.att.conv_w, (size_t)C * K);
  }
  LAS_CUT(p.out_w, g.out_w, (size_t)V * Do);
  LAS_CUT(p.out_b, g.out_b, V);
#undef LAS_CUT
  m->p.dec = m->dec, m->g.dec = m->gdec;
  return at;
}

/* A model of configuration cfg with N(0, scale^2) weights drawn from rng. */
static void las_model_init(las_model *m, const asr_las_speller_config *cfg, asr_rng *rng, double scale) {
  size_t i;
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  m->count = las_model_layout(m, NULL, NULL);
  m->w = TALLOC(asr_real, m->count);
  m->gw = TALLOC(asr_real, m->count);
  las_model_layout(m, m->w, m->gw);
  for (i = 0; i < m->count; i++) m->w[i] = (asr_real)(scale * asr_rng_normal(rng));
}
static void las_model_free(las_model *m) { free(m->w), free(m->gw); }

/* One forward + backward of tier `tier` (0 naive, 1 ref, 2 fast) on ys (N,U), enc
 * (N,T,E): logits (N,U,V) out, gradients of sum(G * logits) into m->gw and denc. */
typedef struct las_run {
  asr_real *logits, *denc;
  asr_las_speller_saved s;
  void *sbuf;
} las_run;
static asr_result las_fwd_bwd(las_run *r, las_model *m, int tier, const int *ys, const asr_real *enc,
                              const int *lens, const asr_real *G, int N, int U, int T) {
  static asr_las_speller_forward_fn const F[3] = {asr_las_speller_forward_naive, asr_las_speller_forward_ref,
                                                  asr_las_speller_forward};
  static asr_las_speller_backward_fn const B[3] = {asr_las_speller_backward_naive, asr_las_speller_backward_ref,
                                                   asr_las_speller_backward};
  size_t sb = asr_las_speller_saved_size(&m->cfg, N, U, T);
  size_t fb = asr_las_speller_forward_workspace_size(&m->cfg, N, U, T);
  size_t bb = asr_las_speller_backward_workspace_size(&m->cfg, N, U, T);
  void *fw = talloc_(fb), *bw = talloc_(bb);
  asr_result res;
  r->logits = TALLOC(asr_real, (size_t)N * U * m->cfg.vocab);
  r->denc = TALLOC(asr_real, (size_t)N * T * m->cfg.eprojs);
  r->sbuf = talloc_(sb);
  memset(m->gw, 0, sizeof(asr_real) * m->count);
  res = asr_las_speller_saved_init(&r->s, r->sbuf, sb, &m->cfg, N, U, T);
  if (res == ASR_OK) res = F[tier](r->logits, &r->s, ys, enc, lens, &m->p, &m->cfg, N, U, T, fw, fb);
  if (res == ASR_OK && G) res = B[tier](r->denc, &m->g, G, &r->s, ys, enc, lens, &m->p, &m->cfg, N, U, T, bw, bb);
  free(fw), free(bw);
  return res;
}
static void las_run_free(las_run *r) { free(r->logits), free(r->denc), free(r->sbuf); }

/* max |a - b| / max(1, max |b|) */
static double las_rel(const asr_real *a, const asr_real *b, size_t n) {
  double m = 1;
  size_t i;
  for (i = 0; i < n; i++)
    if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
  return max_abs_diff(a, b, n) / m;
}

/* ---- 10.7.1's checker on the library's tiers */
static void t_las_checker_ref(tctx *t) { RUN_CHECKER(asr_check_las_speller(asr_las_speller_forward_ref, asr_las_speller_backward_ref, 1, REP)); }
static void t_las_checker_fast(tctx *t) { RUN_CHECKER(asr_check_las_speller(asr_las_speller_forward, asr_las_speller_backward, 2, REP)); }

/* The checker must be able to fail: a backward whose dL/dh is off by 1e-3 in one entry. */
static asr_result broken_las_backward(asr_real *d_enc, const asr_las_speller_grads *g, const asr_real *d_logits,
                                      const asr_las_speller_saved *s, const int *ys_in, const asr_real *enc,
                                      const int *enc_lens, const asr_las_speller_params *p,
                                      const asr_las_speller_config *cfg, int N, int U, int T, void *work,
                                      size_t work_bytes) {
  asr_result r = asr_las_speller_backward(d_enc, g, d_logits, s, ys_in, enc, enc_lens, p, cfg, N, U, T, work,
                                          work_bytes);
  if (d_enc) d_enc[0] += (asr_real)1e-3;
  return r;
}
static void t_las_checker_can_fail(tctx *t) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  CHECK_OK(asr_check_las_speller(asr_las_speller_forward, broken_las_backward, 3, &rep));
  CHECK(rep.failed > 0);
  snprintf(t->msg, sizeof t->msg, "%d of %d cases caught it", rep.failed, rep.failed + rep.passed);
}

/* Finite differences on bigger instances than the checker's: more steps and frames,
 * every attention type, two layers: enc and every parameter (double: <= 1e-6). */
static void t_las_gradcheck_loc(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_las_speller(asr_las_speller_forward, asr_las_speller_backward, ASR_ATTENTION_LOCATION, 2, 1, 4, 6, 7, 21, GR)); }
static void t_las_gradcheck_add(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_las_speller(asr_las_speller_forward, asr_las_speller_backward, ASR_ATTENTION_ADDITIVE, 2, 1, 4, 6, 7, 22, GR)); }
static void t_las_gradcheck_dot(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_las_speller(asr_las_speller_forward, asr_las_speller_backward, ASR_ATTENTION_DOT, 1, 0, 4, 6, 7, 23, GR)); }
static void t_las_gradcheck_naive(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_las_speller(asr_las_speller_forward_naive, asr_las_speller_backward_naive, ASR_ATTENTION_LOCATION, 2, 1, 3, 5, 6, 24, GR)); }

/* naive = ref = fast on a medium instance with three layers, wider than the checker's
 * (D 12, E 10, A 9, C 4, F 3, V 11), lengths 9, 4, 1: logits, dL/dh, every gradient.
 * Tolerance: 1e-9 in double (the tiers sum in different orders: rounding only), 5e-4
 * in float (relative to the largest entry; float sums of ~100 terms through 8 steps). */
static void t_las_tiers_agree(tctx *t) {
  asr_las_speller_config cfg;
  las_model m;
  las_run r[3];
  asr_rng rng;
  int N = 3, U = 8, T = 9, lens[3] = {9, 4, 1}, *ys, k, i;
  asr_real *enc, *G, *grads[3];
  double tol = ASR_REAL_DOUBLE ? 1e-9 : 5e-4, e = 0;
  asr_rng_seed(&rng, 5, 0);
  asr_las_speller_config_init(&cfg, 11, 12, 3, 10, ASR_ATTENTION_LOCATION, 9, 4, 3);
  las_model_init(&m, &cfg, &rng, 0.4);
  ys = TALLOC(int, N * U);
  for (i = 0; i < N * U; i++) ys[i] = i % U ? asr_rng_int(&rng, 11) : 10;
  enc = TALLOC(asr_real, (size_t)N * T * 10);
  G = TALLOC(asr_real, (size_t)N * U * 11);
  fill_uniform(&rng, enc, (size_t)N * T * 10, -1, 1);
  fill_uniform(&rng, G, (size_t)N * U * 11, -1, 1);
  for (k = 0; k < 3; k++) {
    CHECK_OK(las_fwd_bwd(&r[k], &m, k, ys, enc, lens, G, N, U, T));
    grads[k] = TALLOC(asr_real, m.count);
    memcpy(grads[k], m.gw, sizeof(asr_real) * m.count);
  }
  for (k = 1; k < 3; k++) {
    e = LAS_MAX(e, las_rel(r[k].logits, r[0].logits, (size_t)N * U * 11));
    e = LAS_MAX(e, las_rel(r[k].denc, r[0].denc, (size_t)N * T * 10));
    e = LAS_MAX(e, las_rel(grads[k], grads[0], m.count));
    e = LAS_MAX(e, las_rel(r[k].s.alpha, r[0].s.alpha, (size_t)N * U * T));
  }
  CHECKF(e <= tol, "tiers differ by %.3g", e);
  snprintf(t->msg, sizeof t->msg, "naive/ref/fast agree to %.2g", e);
  for (k = 0; k < 3; k++) las_run_free(&r[k]), free(grads[k]);
  free(ys), free(enc), free(G);
  las_model_free(&m);
}

/* Decoding for a beam: 4 hypotheses of one utterance (enc_index all 0, B = 1), each fed
 * a different prefix, equal the teacher-forced batch of those 4 prefixes over copies of
 * the utterance; a state forked with memcpy continues like the original. */
static void t_las_step_beam(tctx *t) {
  asr_las_speller_config cfg;
  las_model m;
  las_run r;
  asr_rng rng;
  int N = 4, U = 5, T = 6, V = 8, E = 6, lens[4] = {5, 5, 5, 5}, one = 5, idx[4] = {0, 0, 0, 0};
  int ys[20], prev[4], i, b;
  size_t S, wb;
  asr_real *enc1, *enc4, *st, *lp, *pre, ref[8], *fork;
  void *w;
  double e = 0;
  asr_rng_seed(&rng, 6, 0);
  asr_las_speller_config_init(&cfg, V, 7, 2, E, ASR_ATTENTION_LOCATION, 5, 3, 2);
  las_model_init(&m, &cfg, &rng, 0.5);
  for (i = 0; i < N * U; i++) ys[i] = i % U ? asr_rng_int(&rng, V - 1) : V - 1;
  enc1 = TALLOC(asr_real, (size_t)T * E);
  enc4 = TALLOC(asr_real, (size_t)N * T * E);
  fill_uniform(&rng, enc1, (size_t)T * E, -1, 1);
  for (b = 0; b < N; b++) memcpy(enc4 + (size_t)b * T * E, enc1, sizeof(asr_real) * (size_t)T * E);
  CHECK_OK(las_fwd_bwd(&r, &m, 2, ys, enc4, lens, NULL, N, U, T));
  S = asr_las_speller_state_size(&cfg, T) / sizeof(asr_real);
  CHECK(S == 2 * 2 * 7 + (size_t)T);
  st = TALLOC(asr_real, S * N);
  fork = TALLOC(asr_real, S);
  lp = TALLOC(asr_real, (size_t)N * V);
  pre = (asr_real *)talloc_(asr_las_speller_precompute_size(&cfg, 1, T));
  wb = asr_las_speller_step_workspace_size(&cfg, N, T);
  w = talloc_(wb);
  CHECK_OK(asr_las_speller_precompute(pre, enc1, &m.p, &cfg, 1, T));
  CHECK_OK(asr_las_speller_state_init(st, &one, idx, &cfg, N, 1, T));
  for (i = 0; i < U; i++) {
    for (b = 0; b < N; b++) prev[b] = ys[b * U + i];
    if (i == 2) memcpy(fork, st + 3 * S, sizeof(asr_real) * S);   /* fork hypothesis 3 */
    CHECK_OK(asr_las_speller_step(lp, st, st, prev, enc1, pre, &one, idx, &m.p, &cfg, N, 1, T, w, wb));
    for (b = 0; b < N; b++) {
      asr_log_softmax(ref, r.logits + ((size_t)b * U + i) * V, V);
      e = LAS_MAX(e, max_abs_diff(lp + (size_t)b * V, ref, (size_t)V));
      if (i == 2 && b == 3) {   /* the fork, stepped alone with the same token */
        asr_real lp1[8];
        CHECK_OK(asr_las_speller_step(lp1, fork, fork, prev + 3, enc1, pre, &one, idx, &m.p, &cfg, 1, 1, T, w, wb));
        e = LAS_MAX(e, max_abs_diff(lp1, lp + 3 * V, (size_t)V));
        e = LAS_MAX(e, max_abs_diff(fork, st + 3 * S, S));
      }
    }
  }
  /* the same numbers up to the order of float sums (batched vs per-step GEMMs) */
  CHECKF(e <= (ASR_REAL_DOUBLE ? 1e-12 : 2e-5), "step vs teacher-forced: %.3g", e);
  snprintf(t->msg, sizeof t->msg, "max |diff| %.2g", e);
  las_run_free(&r);
  free(enc1), free(enc4), free(st), free(fork), free(lp), free(pre), free(w);
  las_model_free(&m);
}

/* The fast path's tanh (8 floats at a time with AVX2 in the float build; libm elsewhere)
 * against libm's in double: an additive attention with E = 1, mlp_enc.weight = 1 and
 * biases b_a, so that at the first step (query 0) act_j,a = tanh(fl(h_j + b_a)) exactly
 * as the kernel sees it. Arguments from 1e-7 to 20, around the kernel's switch at 0.375,
 * both signs. Bound: 8 x 2^-24 relative (float; the series and the exp-based branch are
 * each good to a few 2^-24), 8 x 2^-53 in double (libm). */
static void t_las_fast_tanh(tctx *t) {
  enum { T = 300, A = 16 };
  asr_las_speller_config cfg;
  las_model m;
  las_run r;
  asr_rng rng;
  asr_real h[T];
  int ys = 0, j, a;
  double worst = 0;
  asr_rng_seed(&rng, 14, 0);
  asr_las_speller_config_init(&cfg, 3, 2, 1, 1, ASR_ATTENTION_ADDITIVE, A, 0, 0);
  las_model_init(&m, &cfg, &rng, 0.5);
  for (a = 0; a < A; a++) {
    ((asr_real *)m.p.att.enc_w)[a] = 1;
    ((asr_real *)m.p.att.enc_b)[a] = (asr_real)((a - 8) * 0.01);
  }
  for (j = 0; j < T; j++) {
    double x = j < 100 ? 1e-7 * pow(10, j / 25.0) : j < 200 ? 0.3 + 0.0015 * (j - 100) : 0.5 + 0.2 * (j - 200);
    h[j] = (asr_real)(j % 2 ? -x : x);
  }
  CHECK_OK(las_fwd_bwd(&r, &m, 2, &ys, h, NULL, NULL, 1, 1, T));
  for (j = 0; j < T; j++)
    for (a = 0; a < A; a++) {
      double x = (double)(asr_real)(h[j] + m.p.att.enc_b[a]), want = tanh(x);
      double err = fabs((double)r.s.act[(size_t)j * A + a] - want) / (fabs(want) + 1e-300);
      if (err > worst) worst = err;
    }
  CHECKF(worst <= 8 * (ASR_REAL_DOUBLE ? 1.1e-16 : 6e-8), "relative error %.3g", worst);
  snprintf(t->msg, sizeof t->msg, "worst relative error %.2g (%.1f x 2^-%d)", worst, 
           worst / (ASR_REAL_DOUBLE ? 1.1e-16 : 6e-8), ASR_REAL_DOUBLE ? 53 : 24);
  las_run_free(&r);
  las_model_free(&m);
}

/* Bad input: a clear negative result, nothing written (the logits keep a sentinel). */
static void t_las_bad_input(tctx *t) {
  asr_las_speller_config cfg, bad;
  las_model m;
  asr_las_speller_saved s;
  asr_rng rng;
  int N = 2, U = 3, T = 4, V = 6, E = 5, ys[6] = {5, 1, 2, 5, 3, 4}, lens[2] = {4, 2}, i;
  size_t sb, fb;
  void *sbuf, *fw;
  asr_real enc[2 * 4 * 5], logits[2 * 3 * 6];
  asr_rng_seed(&rng, 7, 0);
  asr_las_speller_config_init(&cfg, V, 4, 1, E, ASR_ATTENTION_LOCATION, 3, 2, 1);
  las_model_init(&m, &cfg, &rng, 0.5);
  fill_uniform(&rng, enc, sizeof enc / sizeof enc[0], -1, 1);
  sb = asr_las_speller_saved_size(&cfg, N, U, T);
  fb = asr_las_speller_forward_workspace_size(&cfg, N, U, T);
  sbuf = talloc_(sb), fw = talloc_(fb);
  CHECK_OK(asr_las_speller_saved_init(&s, sbuf, sb, &cfg, N, U, T));
  for (i = 0; i < N * U * V; i++) logits[i] = 777;
#define LAS_REFUSED(expr, code)                                                      \
  do {                                                                               \
    asr_result r_ = (expr);                                                          \
    CHECKF(r_ == (code), "%s returned %d, expected %d", #expr, (int)r_, (int)(code)); \
    for (i = 0; i < N * U * V; i++) CHECK(logits[i] == 777);                         \
  } while (0)
  ys[4] = V;                                                   /* a token id out of range */
  LAS_REFUSED(asr_las_speller_forward(logits, &s, ys, enc, lens, &m.p, &cfg, N, U, T, fw, fb), ASR_ERR_RANGE);
  ys[4] = -1;                                                  /* ESPnet's ignore id is not an input */
  LAS_REFUSED(asr_las_speller_forward_ref(logits, &s, ys, enc, lens, &m.p, &cfg, N, U, T, fw, fb), ASR_ERR_RANGE);
  ys[4] = 3;
  lens[1] = 0;                                                 /* an encoder length 0 */
  LAS_REFUSED(asr_las_speller_forward(logits, &s, ys, enc, lens, &m.p, &cfg, N, U, T, fw, fb), ASR_ERR_RANGE);
  lens[1] = T + 1;                                             /* longer than T */
  LAS_REFUSED(asr_las_speller_forward_naive(logits, &s, ys, enc, lens, &m.p, &cfg, N, U, T, fw, fb), ASR_ERR_RANGE);
  lens[1] = 2;
  LAS_REFUSED(asr_las_speller_forward(logits, &s, ys, enc, lens, &m.p, &cfg, 0, U, T, fw, fb), ASR_ERR_INVALID_ARG);
  LAS_REFUSED(asr_las_speller_forward(logits, &s, ys, enc, lens, &m.p, &cfg, N, 0, T, fw, fb), ASR_ERR_INVALID_ARG);
  LAS_REFUSED(asr_las_speller_forward(logits, &s, ys, enc, lens, &m.p, &cfg, N, U, T, fw, fb - 1), ASR_ERR_WORKSPACE);
  bad = cfg, bad.att.enc_dim = E + 1;                          /* the attention's E is not eprojs */
  LAS_REFUSED(asr_las_speller_forward(logits, &s, ys, enc, lens, &m.p, &bad, N, U, T, fw, fb), ASR_ERR_SHAPE);
  bad = cfg, bad.att.type = ASR_ATTENTION_DOT;                 /* dot needs D == E */
  LAS_REFUSED(asr_las_speller_forward(logits, &s, ys, enc, lens, &m.p, &bad, N, U, T, fw, fb), ASR_ERR_SHAPE);
  enc[3] = (asr_real)NAN;                                      /* a NaN at a valid frame */
  LAS_REFUSED(asr_las_speller_forward(logits, &s, ys, enc, lens, &m.p, &cfg, N, U, T, fw, fb), ASR_ERR_NONFINITE);
  enc[3] = 0;
  enc[(4 + 3) * 5] = (asr_real)NAN;                            /* ... at a padded one: never read */
  CHECK_OK(asr_las_speller_forward(logits, &s, ys, enc, lens, &m.p, &cfg, N, U, T, fw, fb));
  CHECK(asr_all_finite(logits, (size_t)N * U * V));
  for (i = 0; i < N * U * V; i++) logits[i] = 777;
  /* the naive tier refuses sizes beyond its limit */
  {
    asr_las_speller_config big;
    size_t bb;
    asr_las_speller_config_init(&big, 50, 64, 1, 64, ASR_ATTENTION_LOCATION, 64, 10, 20);
    bb = asr_las_speller_forward_workspace_size(&big, 8, 20, 50);
    CHECK(bb != (size_t)-1);
    LAS_REFUSED(asr_las_speller_forward_naive(logits, &s, ys, enc, lens, &m.p, &big, 8, 20, 50, fw, bb),
                ASR_ERR_TOO_LARGE);
  }
#undef LAS_REFUSED
  free(sbuf), free(fw);
  las_model_free(&m);
}

/* Greedy decoding's bookkeeping against stepping by hand: tokens until <eos>, -1 after,
 * lengths, the summed log-probabilities; max_len cuts a hypothesis without <eos>. */
static void t_las_greedy(tctx *t) {
  asr_las_speller_config cfg;
  las_model m;
  asr_rng rng;
  int N = 3, T = 5, V = 5, E = 4, lens[3] = {5, 3, 1}, tok[3 * 6], len[3], n, i, v, eos = 4, ran = 0;
  asr_real enc[3 * 5 * 4], sc[3];
  size_t gb;
  void *gw;
  asr_rng_seed(&rng, 8, 0);
  asr_las_speller_config_init(&cfg, V, 4, 1, E, ASR_ATTENTION_ADDITIVE, 6, 0, 0);
  las_model_init(&m, &cfg, &rng, 1.0);
  fill_uniform(&rng, enc, sizeof enc / sizeof enc[0], -1, 1);
  gb = asr_las_speller_greedy_workspace_size(&cfg, N, T);
  gw = talloc_(gb);
  CHECK_OK(asr_las_speller_greedy(tok, len, sc, enc, lens, &m.p, &cfg, N, T, 6, eos, eos, gw, gb));
  for (n = 0; n < N; n++) {   /* item n alone, by hand */
    size_t S = asr_las_speller_state_size(&cfg, T) / sizeof(asr_real);
    size_t wb = asr_las_speller_step_workspace_size(&cfg, 1, T);
    asr_real *st = TALLOC(asr_real, S), lp[5], *pre = TALLOC(asr_real, T * 6);
    void *w = talloc_(wb);
    int prev = eos, k = 0, done = 0;
    double score = 0;
    CHECK_OK(asr_las_speller_precompute(pre, enc + n * T * E, &m.p, &cfg, 1, T));
    CHECK_OK(asr_las_speller_state_init(st, lens + n, NULL, &cfg, 1, 1, T));
    for (i = 0; i < 6 && !done; i++) {
      int best = 0;
      CHECK_OK(asr_las_speller_step(lp, st, st, &prev, enc + n * T * E, pre, lens + n, NULL, &m.p, &cfg, 1, 1, T,
                                    w, wb));
      for (v = 1; v < V; v++)
        if (lp[v] > lp[best]) best = v;
      score += lp[best];
      if (best == eos) done = 1;
      else {
        CHECK(tok[n * 6 + k++] == best);
        prev = best;
      }
    }
    CHECK(len[n] == k);
    for (; k < 6; k++) CHECK(tok[n * 6 + k] == -1);
    CHECK_NEAR(sc[n], score, ASR_REAL_DOUBLE ? 1e-12 : 1e-4);
    ran += len[n];
    free(st), free(pre), free(w);
  }
  CHECK_OK(asr_las_speller_greedy(tok, len, NULL, enc, lens, &m.p, &cfg, N, T, 0, eos, eos, gw, gb));
  for (n = 0; n < N; n++) CHECK(len[n] == 0);
  CHECK(asr_las_speller_greedy(tok, len, sc, enc, lens, &m.p, &cfg, N, T, 6, V, eos, gw, gb) == ASR_ERR_RANGE);
  snprintf(t->msg, sizeof t->msg, "%d tokens decoded", ran);
  free(gw);
  las_model_free(&m);
}

/* ---- the learning test: copy a letter sequence.
 * A fixed "listener output": each letter (ids 1..5) is a fixed random vector of E = 8;
 * there is no positional information in it, so the location-aware attention has to find
 * where the next letter is from where it was. 32 fixed sequences of 3 to 5 letters;
 * ys = add_sos_eos(sequence) with the shared <sos>/<eos> id 6; label-smoothed loss (eps
 * 0.1, normalize_length), Adam (lr 0.01); greedy decoding of the 32 sequences must give
 * every one back exactly (100% sequence accuracy) by step 300 (seeded: the same run on
 * every machine up to float rounding). */
static void t_las_learns_copy(tctx *t) {
  enum { NS = 32, SMAX = 5, W = SMAX + 1, V = 7, E = 8, EOS = 6 };
  asr_las_speller_config cfg;
  las_model m;
  asr_rng rng;
  int seq[NS * SMAX], lens[NS], ys_in[NS * W], ys_out[NS * W], n, j, step, solved_at = -1, cnt;
  asr_real *emb, *enc, *logits, *logp, *dlog, *am, *av, loss = 0;
  asr_las_speller_saved s;
  void *sbuf, *fw, *bw, *gw;
  size_t sb, fb, bb, gb;
  asr_adam_opts adam;
  asr_rng_seed(&rng, 2024, 0);
  asr_las_speller_config_init(&cfg, V, 16, 1, E, ASR_ATTENTION_LOCATION, 16, 4, 2);
  las_model_init(&m, &cfg, &rng, 0.3);
  emb = TALLOC(asr_real, 6 * E);
  fill_uniform(&rng, emb, 6 * E, -1, 1);
  enc = TALLOC(asr_real, NS * SMAX * E);
  for (n = 0; n < NS; n++) {
    lens[n] = 3 + asr_rng_int(&rng, 3);
    for (j = 0; j < SMAX; j++) {
      seq[n * SMAX + j] = j < lens[n] ? 1 + asr_rng_int(&rng, 5) : -1;
      if (j < lens[n]) memcpy(enc + ((size_t)n * SMAX + j) * E, emb + (size_t)seq[n * SMAX + j] * E, sizeof(asr_real) * E);
    }
  }
  CHECK_OK(asr_add_sos_eos(ys_in, ys_out, seq, NS, SMAX, V, EOS, EOS, -1));
  sb = asr_las_speller_saved_size(&cfg, NS, W, SMAX);
  fb = asr_las_speller_forward_workspace_size(&cfg, NS, W, SMAX);
  bb = asr_las_speller_backward_workspace_size(&cfg, NS, W, SMAX);
  gb = asr_las_speller_greedy_workspace_size(&cfg, NS, SMAX);
  sbuf = talloc_(sb), fw = talloc_(fb), bw = talloc_(bb), gw = talloc_(gb);
  logits = TALLOC(asr_real, NS * W * V), logp = TALLOC(asr_real, NS * W * V), dlog = TALLOC(asr_real, NS * W * V);
  am = TALLOC(asr_real, m.count), av = TALLOC(asr_real, m.count);
  CHECK_OK(asr_las_speller_saved_init(&s, sbuf, sb, &cfg, NS, W, SMAX));
  asr_adam_opts_init(&adam, 0.01);
  for (step = 1; step <= 300 && solved_at < 0; step++) {
    memset(m.gw, 0, sizeof(asr_real) * m.count);
    memset(dlog, 0, sizeof(asr_real) * NS * W * V);
    CHECK_OK(asr_las_speller_forward(logits, &s, ys_in, enc, lens, &m.p, &cfg, NS, W, SMAX, fw, fb));
    CHECK_OK(asr_label_smoothing_loss_forward(&loss, logp, &cnt, logits, ys_out, NS, W, V, 0.1, -1, 1));
    CHECK_OK(asr_label_smoothing_loss_backward(dlog, 1.0, logp, ys_out, NS, W, V, 0.1, -1, 1));
    CHECK_OK(asr_las_speller_backward(NULL, &m.g, dlog, &s, ys_in, enc, lens, &m.p, &cfg, NS, W, SMAX, bw, bb));
    CHECK_OK(asr_adam_step(m.w, am, av, NULL, m.gw, m.count, &adam, step));
    if (step % 25 == 0) {   /* greedy decoding of all 32 */
      int tok[NS * 8], tl[NS], right = 0;
      CHECK_OK(asr_las_speller_greedy(tok, tl, NULL, enc, lens, &m.p, &cfg, NS, SMAX, 8, EOS, EOS, gw, gb));
      for (n = 0; n < NS; n++) {
        int ok = tl[n] == lens[n];
        for (j = 0; ok && j < lens[n]; j++) ok = tok[n * 8 + j] == seq[n * SMAX + j];
        right += ok;
      }
      if (right == NS) solved_at = step;
    }
  }
  CHECKF(solved_at > 0, "not every sequence copied after 300 steps (loss %.4f)", (double)loss);
  snprintf(t->msg, sizeof t->msg, "32/32 sequences copied at step %d, loss %.3f", solved_at, (double)loss);
  free(emb), free(enc), free(sbuf), free(fw), free(bw), free(gw), free(logits), free(logp), free(dlog), free(am), free(av);
  las_model_free(&m);
}

/* ======================================================================================
 * 7.3 sequence losses
 * ====================================================================================== */

/* ESPnet's LabelSmoothingLoss written out: the full target distribution q as an array,
 * nn.KLDivLoss's sum of q (log q - logp) with 0 log 0 = 0, the mask, the denominator. */
static double lsl_definition(const asr_real *x, const int *y, int N, int U, int V, double eps, int pad, int norm) {
  double total = 0, *q = (double *)talloc_(sizeof(double) * (size_t)V);
  int m, v, cnt = 0;
  for (m = 0; m < N * U; m++) {
    double mx = -INFINITY, z = 0;
    if (y[m] == pad) continue;
    cnt++;
    for (v = 0; v < V; v++) q[v] = eps / (V - 1);              /* true_dist.fill_(eps / (V-1)) */
    q[y[m]] = 1 - eps;                                         /* scatter_(confidence) */
    for (v = 0; v < V; v++) mx = x[m * V + v] > mx ? x[m * V + v] : mx;
    for (v = 0; v < V; v++) z += exp(x[m * V + v] - mx);
    for (v = 0; v < V; v++) {
      double logp = x[m * V + v] - mx - log(z);
      if (q[v] > 0) total += q[v] * (log(q[v]) - logp);
    }
  }
  free(q);
  return total / (norm ? cnt : N);
}

typedef struct lsl_ctx {
  asr_real *x, *logp;
  const int *y;
  int N, U, V, norm;
  double eps;
} lsl_ctx;
static double lsl_f(void *v) {
  lsl_ctx *c = (lsl_ctx *)v;
  asr_real l = 0;
  asr_label_smoothing_loss_forward(&l, c->logp, NULL, c->x, c->y, c->N, c->U, c->V, c->eps, -1, c->norm);
  return l;
}

/* The loss and its gradient against the definition and finite differences, both
 * normalizations, eps 0 (plain cross-entropy), 0.1 and 1 (no mass on the target). */
static void t_seqloss_label_smoothing(tctx *t) {
  static const int y[2 * 4] = {3, 0, 6, -1, 2, -1, -1, -1};
  static const double eps[3] = {0, 0.1, 1};
  asr_rng rng;
  asr_real x[2 * 4 * 7], logp[2 * 4 * 7], dx[2 * 4 * 7], l;
  int e, norm, cnt;
  double worst = 0;
  asr_rng_seed(&rng, 11, 0);
  fill_uniform(&rng, x, 56, -3, 3);
  for (e = 0; e < 3; e++)
    for (norm = 0; norm < 2; norm++) {
      lsl_ctx c;
      asr_gradcheck_param p;
      double want = lsl_definition(x, y, 2, 4, 7, eps[e], -1, norm);
      CHECK_OK(asr_label_smoothing_loss_forward(&l, logp, &cnt, x, y, 2, 4, 7, eps[e], -1, norm));
      CHECK(cnt == 4);
      /* the same sums in another order: a few ulps of double; float's log_softmax rows */
      CHECK_NEAR(l, want, ASR_REAL_DOUBLE ? 1e-12 : 1e-5);
      worst = LAS_MAX(worst, fabs(l - want));
      memset(dx, 0, sizeof dx);
      CHECK_OK(asr_label_smoothing_loss_backward(dx, 1.0, logp, y, 2, 4, 7, eps[e], -1, norm));
      c.x = x, c.logp = logp, c.y = y, c.N = 2, c.U = 4, c.V = 7, c.norm = norm, c.eps = eps[e];
      p.name = "logits", p.x = x, p.grad = dx, p.n = 56;
      {
        asr_gradcheck_report gr;
        asr_rng grng;
        asr_rng_seed(&grng, 3, 0);
        CHECK_OK(asr_gradcheck(lsl_f, &c, &p, 1, NULL, &grng, &gr));
        CHECKF(gr.max_rel_err <= FD_TOL, "eps %g norm %d: %s[%ld] rel %.3g", eps[e], norm, gr.worst_param,
               gr.worst_index, gr.max_rel_err);
      }
    }
  snprintf(t->msg, sizeof t->msg, "vs the definition: worst |diff| %.2g", worst);
}

/* ESPnet's smoothing eps over V-1 classes is PyTorch's eps' = eps V/(V-1) over V
 * (section 4.1's asr_cross_entropy_forward), minus the entropy H(q) of the target
 * distribution per token: the same gradient, sum KL = sum CE - count H(q). */
static void t_seqloss_vs_cross_entropy(tctx *t) {
  static const int y[6] = {1, 4, -1, 0, 2, 2};
  asr_rng rng;
  asr_real x[6 * 5], lp1[30], lp2[30], d1[30], d2[30], kl, ce[6], one[6] = {1, 1, 1, 1, 1, 1};
  int cnt, cnt2, m;
  double eps = 0.2, V = 5, epst = eps * V / (V - 1), H, sum = 0;
  asr_rng_seed(&rng, 12, 0);
  fill_uniform(&rng, x, 30, -2, 2);
  CHECK_OK(asr_label_smoothing_loss_forward(&kl, lp1, &cnt, x, y, 1, 6, 5, eps, -1, 0));
  CHECK_OK(asr_cross_entropy_forward(ce, lp2, &cnt2, x, y, 6, 5, epst, -1));
  CHECK(cnt == 5 && cnt2 == 5);
  for (m = 0; m < 6; m++) sum += ce[m];
  H = -((1 - eps) * log(1 - eps) + (V - 1) * (eps / (V - 1)) * log(eps / (V - 1)));
  CHECK_NEAR(kl, sum - cnt * H, ASR_REAL_DOUBLE ? 1e-12 : 1e-5);
  memset(d1, 0, sizeof d1), memset(d2, 0, sizeof d2);
  CHECK_OK(asr_label_smoothing_loss_backward(d1, 1.0, lp1, y, 1, 6, 5, eps, -1, 0));
  CHECK_OK(asr_cross_entropy_backward(d2, one, lp2, y, 6, 5, epst, -1));
  CHECK(max_abs_diff(d1, d2, 30) <= (ASR_REAL_DOUBLE ? 1e-15 : 1e-7));
  /* and they differ as losses of the SAME eps: the two conventions are not one */
  CHECK_OK(asr_cross_entropy_forward(ce, lp2, &cnt2, x, y, 6, 5, eps, -1));
  for (sum = 0, m = 0; m < 6; m++) sum += ce[m];
  CHECK(fabs(kl - (sum - cnt * H)) > 1e-3);
  snprintf(t->msg, sizeof t->msg, "KL = CE(eps V/(V-1)) - count H(q), H = %.4f", H);
}

/* add_sos_eos on a written-out case (ESPnet's rule: drop the ignore ids, prepend sos,
 * append eos, pad ys_in with eos and ys_out with ignore), th_accuracy likewise. */
static void t_seqloss_sos_eos_accuracy(tctx *t) {
  static const int ys[3 * 3] = {1, 2, 3, 4, -1, -1, -1, -1, -1};
  static const int want_in[3 * 4] = {9, 1, 2, 3, 9, 4, 9, 9, 9, 9, 9, 9};
  static const int want_out[3 * 4] = {1, 2, 3, 9, 4, 9, -1, -1, 9, -1, -1, -1};
  int in[12], out[12], i, good, total, bad[3] = {1, 9, -1};
  double acc;
  asr_real logits[2 * 2 * 3] = {0, 5, 1, 2, 2, 0, 9, 0, 0, 0, 0, 0};
  int tg[4] = {1, 2, 0, -1};
  CHECK_OK(asr_add_sos_eos(in, out, ys, 3, 3, 10, 9, 9, -1));
  for (i = 0; i < 12; i++) CHECK(in[i] == want_in[i] && out[i] == want_out[i]);
  CHECK(asr_add_sos_eos(in, out, bad, 1, 3, 10, 9, 9, -1) == ASR_ERR_RANGE);   /* <eos> in a target */
  bad[1] = 10;
  CHECK(asr_add_sos_eos(in, out, bad, 1, 3, 10, 9, 9, -1) == ASR_ERR_RANGE);   /* beyond V */
  CHECK(asr_add_sos_eos(in, out, ys, 3, 3, 10, 9, 9, 2) == ASR_ERR_INVALID_ARG);   /* ignore id is a token */
  CHECK(asr_add_sos_eos(in, out, ys, 0, 3, 10, 9, 9, -1) == ASR_ERR_INVALID_ARG);
  /* rows: argmax 1 (target 1: right), argmax 0 (tie 2,2 -> first, target 2: wrong),
   * argmax 0 (target 0: right), ignored */
  CHECK_OK(asr_token_accuracy(&acc, &good, &total, logits, tg, 2, 2, 3, -1));
  CHECK(good == 2 && total == 3);
  CHECK_NEAR(acc, 2.0 / 3, 1e-15);
  tg[0] = tg[1] = tg[2] = -1;
  CHECK(asr_token_accuracy(&acc, &good, &total, logits, tg, 2, 2, 3, -1) == ASR_ERR_SHAPE);
}

/* The loss's refusals: nothing written. */
static void t_seqloss_bad_input(tctx *t) {
  asr_real x[2 * 3] = {0, 1, 2, 3, 4, 5}, lp[6], l = 42;
  int y[2] = {1, -1};
  CHECK(asr_label_smoothing_loss_forward(&l, lp, NULL, x, y, 1, 2, 3, 0.1, -1, 1) == ASR_OK);
  l = 42;
  y[0] = 3;                                            /* target out of range */
  CHECK(asr_label_smoothing_loss_forward(&l, lp, NULL, x, y, 1, 2, 3, 0.1, -1, 1) == ASR_ERR_RANGE);
  y[0] = -1;                                           /* only padding, normalize_length */
  CHECK(asr_label_smoothing_loss_forward(&l, lp, NULL, x, y, 1, 2, 3, 0.1, -1, 1) == ASR_ERR_SHAPE);
  CHECK(asr_label_smoothing_loss_forward(&l, lp, NULL, x, y, 1, 2, 3, 0.1, -1, 0) == ASR_OK && l == 0);
  l = 42;
  y[0] = 1;
  CHECK(asr_label_smoothing_loss_forward(&l, lp, NULL, x, y, 1, 0, 3, 0.1, -1, 1) == ASR_ERR_INVALID_ARG);
  CHECK(asr_label_smoothing_loss_forward(&l, lp, NULL, x, y, 1, 2, 3, 1.5, -1, 1) == ASR_ERR_INVALID_ARG);
  CHECK(asr_label_smoothing_loss_forward(&l, lp, NULL, x, y, 2, 1, 1, 0.1, -1, 1) == ASR_ERR_INVALID_ARG);
  x[1] = (asr_real)INFINITY;
  CHECK(asr_label_smoothing_loss_forward(&l, lp, NULL, x, y, 1, 2, 3, 0.1, -1, 1) == ASR_ERR_NONFINITE);
  CHECK(l == 42);
}

static const test_case TESTS_las[] = {
  {"las/checker_ref", t_las_checker_ref},
  {"las/checker_fast", t_las_checker_fast},
  {"las/checker_can_fail", t_las_checker_can_fail},
  {"las/gradcheck_location_2_layers", t_las_gradcheck_loc},
  {"las/gradcheck_additive_2_layers", t_las_gradcheck_add},
  {"las/gradcheck_dot", t_las_gradcheck_dot},
  {"las/gradcheck_naive", t_las_gradcheck_naive},
  {"las/tiers_agree", t_las_tiers_agree},
  {"las/step_beam_equals_teacher_forced", t_las_step_beam},
  {"las/fast_tanh", t_las_fast_tanh},
  {"las/bad_input", t_las_bad_input},
  {"las/greedy", t_las_greedy},
  {"las/learns_copy", t_las_learns_copy},
  {"seqloss/label_smoothing", t_seqloss_label_smoothing},
  {"seqloss/vs_cross_entropy", t_seqloss_vs_cross_entropy},
  {"seqloss/sos_eos_accuracy", t_seqloss_sos_eos_accuracy},
  {"seqloss/bad_input", t_seqloss_bad_input},
  {0, 0}
};
