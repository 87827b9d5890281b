/* tests/test_joint.c - sections 7.4 and 7.5: the CTC prefix score, the joint CTC/attention
 * beam search, the multi-task loss, n-best rescoring and MWER.
 *
 * Where each expected value comes from: the enumeration of the prefix score's definition
 * (asr_ctc_prefix_score_naive, inside asr_check_ctc_prefix_score), section 5's CTC loss
 * and prefix beam search, brute-force enumeration of every output sequence for the beam
 * search (scored by a toy attention model written out in this file and by section 5's
 * loss), finite differences for MWER (inside asr_check_mwer), and arithmetic written out
 * for the loss combinations. PyTorch comparisons: tests/torch/test_joint.py. */

/* Tolerances. Scores of the beam search against the enumeration: the same double sums of
 * the same asr_real inputs in another order (1e-9 in double); in float the CTC side of
 * the search uses float exponentials (about 1e-7 relative per term) and section 5's loss
 * is rounded to float (6e-8 relative), on scores of magnitude <= 30: 2e-5 relative. */
#define JOINT_MAX(a, b) ((a) > (b) ? (a) : (b))
#if ASR_REAL_DOUBLE
#define JOINT_TOL 1e-9
#else
#define JOINT_TOL 2e-5
#endif

static void joint_log_fail(void *user, const char *line) {
  /* print only the failing lines of a checker run */
  (void)user;
  if (strncmp(line, "[FAIL]", 6) == 0) printf("    %s\n", line);
}

/* A checker's report: every case passed, and at least `min_cases` of them ran. */
static void joint_report(tctx *t, const asr_check_report *rep, int min_cases) {
  CHECKF(rep->failed == 0 && rep->passed >= min_cases, "%d failed (first: %s), %d passed", rep->failed,
         rep->first_failure, rep->passed);
  snprintf(t->msg, sizeof t->msg, "%d cases, worst error/tolerance %.2g", rep->passed, rep->worst);
}

/* A zeroed report that prints only failing lines. */
static asr_check_report joint_rep(void) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  rep.log = joint_log_fail;
  return rep;
}
#define JOINT_PREFIX_CHECK(fn)                                    \
  asr_check_report rep = joint_rep();                             \
  CHECK_OK(asr_check_ctc_prefix_score(fn, 2024, &rep));           \
  joint_report(t, &rep, 30)
#define JOINT_MWER_CHECK(fn)                                      \
  asr_check_report rep = joint_rep();                             \
  CHECK_OK(asr_check_mwer(fn, 7, &rep));                          \
  joint_report(t, &rep, 25)
static void t_joint_prefix_check_naive(tctx *t) { JOINT_PREFIX_CHECK(asr_ctc_prefix_score_naive); }
static void t_joint_prefix_check_ref(tctx *t) { JOINT_PREFIX_CHECK(asr_ctc_prefix_score_ref); }
static void t_joint_prefix_check_fast(tctx *t) { JOINT_PREFIX_CHECK(asr_ctc_prefix_score); }
static void t_mwer_check_naive(tctx *t) { JOINT_MWER_CHECK(asr_mwer_loss_naive); }
static void t_mwer_check_ref(tctx *t) { JOINT_MWER_CHECK(asr_mwer_loss_ref); }
static void t_mwer_check_fast(tctx *t) { JOINT_MWER_CHECK(asr_mwer_loss); }

/* The prefix score of a label sequence's prefixes, chained, against the enumeration: one
 * explicit walk (the checker does many): T = 4, V = 3 (blank 0, eos 2, label 1), g = (1),
 * candidates {1, 2}; ln psi((1)(1)) and p((1)) from _naive. Also psi(empty) = 1: psi(1) +
 * p(empty) must be 1 (ln: 0), the only label being 1. */
static void t_joint_prefix_chain_small(tctx *t) {
  asr_rng rng;
  asr_real lp[4 * 3];
  double st0[8], st1[2 * 8], psi[2], psin[2], root = -INFINITY;
  int cands[2] = {1, 2}, g[1] = {1}, k;
  asr_rng_seed(&rng, 3, 0);
  for (k = 0; k < 4; k++) {
    /* the eos id is not a CTC label: probability 0 */
    fill_uniform(&rng, lp + k * 3, 3, -2, 2);
    lp[k * 3 + 2] = (asr_real)-INFINITY;
    asr_log_softmax(lp + k * 3, lp + k * 3, 3);
  }
  CHECK_OK(asr_ctc_prefix_init(st0, lp, 4, 3, 0, NULL));
  /* the empty prefix: psi(1) + p(empty) = 1 */
  CHECK_OK(asr_ctc_prefix_score_ref(psi, st1, st0, NULL, 0, cands, 2, lp, 4, 3, 0, 2, NULL));
  root = asr_logaddexp(psi[0], psi[1]);
  CHECK_NEAR(root, 0.0, JOINT_TOL);
  /* g = (1): the state from the call above, then both tiers against _naive */
  CHECK_OK(asr_ctc_prefix_score(psi, NULL, st1, g, 1, cands, 2, lp, 4, 3, 0, 2, NULL));
  CHECK_OK(asr_ctc_prefix_score_naive(psin, NULL, NULL, g, 1, cands, 2, lp, 4, 3, 0, 2, NULL));
  CHECK_NEAR(psi[0], psin[0], JOINT_TOL);
  CHECK_NEAR(psi[1], psin[1], JOINT_TOL);
  snprintf(t->msg, sizeof t->msg, "ln psi(1 1) = %.6f, ln p(1) = %.6f", psi[0], psi[1]);
}

/* ---- the multi-task loss: lambda L_ctc + (1 - lambda) L_att, written out */
static void t_joint_hybrid_loss(tctx *t) {
  asr_real loss, sc, sa;
  asr_error err;
  CHECK_OK(asr_hybrid_loss(&loss, &sc, &sa, (asr_real)2.0, (asr_real)4.0, 0.25, NULL));
  CHECK_NEAR(loss, 0.25 * 2.0 + 0.75 * 4.0, 1e-6);
  CHECK_NEAR(sc, 0.25, 0);
  CHECK_NEAR(sa, 0.75, 0);
  /* lambda = 0 and 1 do not read the other loss: +inf and NaN there change nothing */
  CHECK_OK(asr_hybrid_loss(&loss, NULL, NULL, (asr_real)INFINITY, (asr_real)4.0, 0.0, NULL));
  CHECK_NEAR(loss, 4.0, 0);
  CHECK_OK(asr_hybrid_loss(&loss, NULL, NULL, (asr_real)2.0, (asr_real)NAN, 1.0, NULL));
  CHECK_NEAR(loss, 2.0, 0);
  /* an infeasible CTC loss with a weight: +inf, not NaN */
  CHECK_OK(asr_hybrid_loss(&loss, NULL, NULL, (asr_real)INFINITY, (asr_real)4.0, 0.3, NULL));
  CHECK(loss == (asr_real)INFINITY);
  /* bad input: lambda outside [0, 1] or NaN, a NaN loss that is used; nothing written */
  loss = 123;
  CHECK(asr_hybrid_loss(&loss, NULL, NULL, 1, 1, -0.1, &err) == ASR_ERR_RANGE && loss == 123);
  CHECK(strstr(err.msg, "ctc_weight") != NULL);
  CHECK(asr_hybrid_loss(&loss, NULL, NULL, 1, 1, 1.5, NULL) == ASR_ERR_RANGE && loss == 123);
  CHECK(asr_hybrid_loss(&loss, NULL, NULL, 1, 1, NAN, NULL) == ASR_ERR_RANGE && loss == 123);
  CHECK(asr_hybrid_loss(&loss, NULL, NULL, (asr_real)NAN, 1, 0.5, &err) == ASR_ERR_NONFINITE && loss == 123);
  CHECK(strstr(err.msg, "loss_ctc") != NULL);
}

/* ---- a toy attention decoder with a state, for the search tests:
 *   h_i = tanh(W h_{i-1} + E[y_{i-1}]),  logp_i = log_softmax(U h_i + b)
 * H = 4 hidden units, parameters drawn from a seed; the state is h (H doubles). It counts
 * its steps and remembers the largest step index it was asked for. */
#define TOY_H 4
typedef struct toy_att {
  int V;
  double W[TOY_H * TOY_H], E[8 * TOY_H], U[8 * TOY_H], b[8];
  long steps;
  int max_step;
  int uniform;   /* 1: logp = -ln V everywhere, no state */
} toy_att;

static size_t toy_state_bytes(void *user, int max_steps) {
  (void)user, (void)max_steps;
  return sizeof(double) * TOY_H;
}
static asr_result toy_init(void *user, void *state, int max_steps) {
  (void)user, (void)max_steps;
  memset(state, 0, sizeof(double) * TOY_H);
  return ASR_OK;
}
/* one step of the toy model, shared by the scorer callback and the enumeration */
static void toy_step_math(const toy_att *m, double *h_out, asr_real *logp, const double *h_in, int prev) {
  asr_real z[8] = {0};
  int j, k;
  for (j = 0; j < TOY_H; j++) {
    double a = m->E[prev * TOY_H + j];
    for (k = 0; k < TOY_H; k++) a += m->W[j * TOY_H + k] * h_in[k];
    h_out[j] = tanh(a);
  }
  for (k = 0; k < m->V; k++) {
    double a = m->b[k];
    for (j = 0; j < TOY_H; j++) a += m->U[k * TOY_H + j] * h_out[j];
    z[k] = (asr_real)(m->uniform ? 0 : a);
  }
  asr_log_softmax(logp, z, m->V);
}
static asr_result toy_step(void *user, asr_real *logp, void *state_out, const void *state_in, int prev, int step) {
  toy_att *m = (toy_att *)user;
  double hi[TOY_H], ho[TOY_H];
  memcpy(hi, state_in, sizeof hi);
  toy_step_math(m, ho, logp, hi, prev);
  memcpy(state_out, ho, sizeof ho);
  m->steps++;
  if (step > m->max_step) m->max_step = step;
  return ASR_OK;
}
static void toy_make(toy_att *m, asr_s2s_scorer *s, int V, uint64_t seed, double scale) {
  asr_rng rng;
  int i;
  memset(m, 0, sizeof *m);
  m->V = V;
  asr_rng_seed(&rng, seed, 9);
  for (i = 0; i < TOY_H * TOY_H; i++) m->W[i] = asr_rng_normal(&rng);
  for (i = 0; i < V * TOY_H; i++) m->E[i] = asr_rng_normal(&rng), m->U[i] = scale * asr_rng_normal(&rng);
  for (i = 0; i < V; i++) m->b[i] = asr_rng_normal(&rng);
  s->user = m;
  s->V = V;
  s->state_bytes = toy_state_bytes;
  s->init = toy_init;
  s->step = toy_step;
}
/* ln p_att(y, <eos>|x) of the toy model by its own loop (no callback) */
static double toy_seq_logprob(const toy_att *m, const int *y, int n, int eos) {
  double h[TOY_H] = {0}, h2[TOY_H], sum = 0;
  asr_real lp[8];
  int i;
  for (i = 0; i <= n; i++) {
    toy_step_math(m, h2, lp, h, i == 0 ? eos : y[i - 1]);
    sum += lp[i < n ? y[i] : eos];
    memcpy(h, h2, sizeof h);
  }
  return sum;
}

/* Random CTC log-probabilities (T,V); the eos column is probability 0 (it is not a CTC
 * label), the rest renormalized. */
static void joint_ctc_logprobs(asr_rng *rng, asr_real *lp, int T, int V, int eos, double sharp) {
  int k, j;
  for (k = 0; k < T; k++) {
    for (j = 0; j < V; j++) lp[k * V + j] = (asr_real)(sharp * asr_rng_normal(rng));
    lp[k * V + eos] = (asr_real)-INFINITY;
    asr_log_softmax(lp + k * V, lp + k * V, V);
  }
}

/* The brute-force joint search: every sequence of 0..maxlen labels (ids but blank and
 * eos), scored lambda ln p_ctc (section 5's loss) + (1 - lambda) ln p_att(y, eos) (the
 * toy model's own loop) + penalty (n + 1). Writes the best sequence, its score and its
 * two parts; also the `keep` best scores, sorted (for the n-best check). */
typedef struct joint_enum {
  int best[8], best_n;
  double best_score, best_ctc, best_att;
  double top[8];
  int ntop;
} joint_enum;
static void joint_enumerate(joint_enum *E, const asr_real *lp, int T, int V, const toy_att *m, double lam,
                            double penalty, int maxlen, int blank, int eos, int keep) {
  int labels[8], L = 0, n, j, k;
  size_t wb = asr_ctc_loss_workspace_size(T, V, maxlen > 0 ? maxlen : 1);
  void *work = TALLOC(char, wb);
  for (k = 0; k < V; k++)
    if (k != blank && k != eos) labels[L++] = k;
  E->best_score = -INFINITY, E->best_n = -1, E->ntop = 0;
  for (n = 0; n <= maxlen; n++) {
    long count = 1, code;
    for (j = 0; j < n; j++) count *= L;
    for (code = 0; code < count; code++) {
      int y[8], il = T, tl = n;
      long rest = code;
      double s = penalty * (n + 1), ctc = 0, att = 0;
      for (j = 0; j < n; j++) y[j] = labels[rest % L], rest /= L;
      if (lam > 0) {
        asr_real loss;
        asr_ctc_loss_logprobs_ref(&loss, NULL, lp, y, &il, &tl, 1, T, V, n, blank, ASR_REDUCTION_NONE, 0, work, wb,
                                  NULL);
        ctc = -(double)loss;
        s += lam * ctc;
      }
      if (lam < 1) {
        att = toy_seq_logprob(m, y, n, eos);
        s += (1 - lam) * att;
      }
      if (s == -INFINITY) continue;
      if (s > E->best_score) {
        E->best_score = s, E->best_n = n, E->best_ctc = ctc, E->best_att = att;
        memcpy(E->best, y, sizeof(int) * (size_t)n);
      }
      /* insert into the sorted top-`keep` scores */
      {
        int pos;
        if (E->ntop < keep) pos = E->ntop++;
        else if (s > E->top[keep - 1]) pos = keep - 1;
        else continue;
        while (pos > 0 && E->top[pos - 1] < s) E->top[pos] = E->top[pos - 1], pos--;
        E->top[pos] = s;
      }
    }
  }
  free(work);
}

/* Runs the joint search; returns its result. Outputs sized for nbest <= 8, maxlen <= 8. */
typedef struct joint_out {
  int tokens[8 * 8], n_tokens[8], n_hyps;
  double scores[8], ctc[8], att[8];
} joint_out;
static asr_result joint_run(joint_out *out, const asr_real *lp, int T, int V, const asr_s2s_scorer *att,
                            const asr_joint_beam_opts *o) {
  size_t wb = asr_joint_beam_workspace_size(o, T, V, att);
  void *work = TALLOC(char, wb);
  asr_result r = asr_joint_beam_search(out->tokens, out->n_tokens, out->scores, out->ctc, out->att, &out->n_hyps,
                                       lp, T, V, att, o, work, wb, NULL);
  free(work);
  return r;
}

/* Is the search's best equal to the enumeration's, or (a near-tie) within the tolerance? */
static int joint_same_best(const joint_out *o, const joint_enum *E, int maxlen) {
  int j, same = o->n_tokens[0] == E->best_n;
  for (j = 0; same && j < E->best_n; j++) same = o->tokens[j] == E->best[j];
  (void)maxlen;
  return same;
}

/* lambda = 1 with an unpruned beam: the best labelling of section 5's CTC prefix beam
 * search (unpruned too), with its score ln p(l|x). The attention side is ignored: with
 * no decoder, and with a uniform one passed in. */
static void t_joint_lambda1_equals_ctc_prefix_beam(tctx *t) {
  asr_rng rng;
  int trial, cases = 0;
  double worst = 0;
  asr_rng_seed(&rng, 11, 0);
  for (trial = 0; trial < 24; trial++) {
    const int V = trial % 2 ? 5 : 4, T = 1 + trial % (V == 4 ? 5 : 4), eos = V - 1;
    asr_real lp[5 * 5];
    asr_ctc_beam_opts co = asr_ctc_beam_opts_default(128, 0);
    asr_joint_beam_opts jo = asr_joint_beam_opts_default(128, V);
    size_t cwb = asr_ctc_beam_workspace_size(T, V, 128);
    void *cw = TALLOC(char, cwb);
    int ctok[5], cn = 0, chyps = 0, j, pass;
    double cscore;
    toy_att m;
    asr_s2s_scorer uni;
    joint_ctc_logprobs(&rng, lp, T, V, eos, 1.5);
    CHECK(asr_ctc_prefix_beam_search(ctok, &cn, &cscore, &chyps, lp, T, V, &co, cw, cwb) == ASR_OK);
    free(cw);
    toy_make(&m, &uni, V, 1, 1.0);
    m.uniform = 1;
    jo.ctc_weight = 1;
    jo.maxlenratio = 1.0;   /* maxlen = T, end detection off */
    for (pass = 0; pass < 2; pass++) {
      joint_out o;
      CHECK_OK(joint_run(&o, lp, T, V, pass ? &uni : NULL, &jo));
      CHECKF(o.n_tokens[0] == cn, "trial %d: %d tokens, CTC beam %d", trial, o.n_tokens[0], cn);
      for (j = 0; j < cn; j++) CHECKF(o.tokens[j] == ctok[j], "trial %d: token %d differs", trial, j);
      CHECK_NEAR(o.scores[0], cscore, JOINT_TOL * JOINT_MAX(1, fabs(cscore)));
      CHECK_NEAR(o.ctc[0], cscore, JOINT_TOL * JOINT_MAX(1, fabs(cscore)));
      worst = JOINT_MAX(worst, fabs(o.scores[0] - cscore));
      CHECK(m.steps == 0);   /* a weight of 0: the decoder is not run */
      cases++;
    }
  }
  snprintf(t->msg, sizeof t->msg, "%d searches, worst |score difference| %.2g", cases, worst);
}

/* lambda = 0: attention-only decoding. An unpruned beam finds the enumeration's argmax of
 * ln p_att(y, eos) + penalty (n + 1), and its n-best scores are the enumeration's best
 * ones in order; beam 1 is the decoder's greedy decoding. */
static void t_joint_lambda0_attention_only(tctx *t) {
  int trial, cases = 0;
  for (trial = 0; trial < 12; trial++) {
    const int V = trial % 2 ? 5 : 4, T = 2 + trial % 3, eos = V - 1;
    const double penalty = trial % 3 == 0 ? 0 : (trial % 3 == 1 ? 0.5 : -0.7);
    toy_att m;
    asr_s2s_scorer s;
    asr_joint_beam_opts jo = asr_joint_beam_opts_default(128, V);
    joint_out o;
    joint_enum E;
    int j;
    toy_make(&m, &s, V, 100 + trial, 2.0);
    jo.ctc_weight = 0, jo.penalty = penalty, jo.maxlenratio = 1.0, jo.nbest = 5;
    CHECK_OK(joint_run(&o, NULL, T, V, &s, &jo));
    joint_enumerate(&E, NULL, T, V, &m, 0, penalty, T, 0, eos, 5);
    CHECKF(joint_same_best(&o, &E, T), "trial %d: best differs (%d tokens, enumeration %d)", trial, o.n_tokens[0],
           E.best_n);
    CHECKF(o.n_hyps == 5, "trial %d: %d hypotheses", trial, o.n_hyps);
    for (j = 0; j < 5; j++) CHECK_NEAR(o.scores[j], E.top[j], JOINT_TOL * JOINT_MAX(1, fabs(E.top[j])));
    CHECK_NEAR(o.att[0], E.best_att, JOINT_TOL * JOINT_MAX(1, fabs(E.best_att)));
    cases++;
  }
  snprintf(t->msg, sizeof t->msg, "%d toy decoders, best and 5-best equal the enumeration", cases);
}

static void t_joint_beam1_equals_att_greedy(tctx *t) {
  int trial;
  for (trial = 0; trial < 20; trial++) {
    const int V = 8, T = 4 + trial % 7, eos = V - 1;
    toy_att m;
    asr_s2s_scorer s;
    asr_joint_beam_opts jo = asr_joint_beam_opts_default(1, V);
    joint_out o;
    double h[TOY_H] = {0}, h2[TOY_H], sum = 0;
    int y[16], n = 0, i, k;
    asr_real lp[8];
    toy_make(&m, &s, V, 300 + trial, 1.5);
    jo.ctc_weight = 0, jo.maxlenratio = 1.0;
    CHECK_OK(joint_run(&o, NULL, T, V, &s, &jo));
    /* greedy: the most probable id (not the blank; the lower id on ties) until <eos>; after
     * maxlen = T tokens only <eos> */
    for (i = 0; i <= T; i++) {
      int best = -1;
      toy_step_math(&m, h2, lp, h, i == 0 ? eos : y[i - 1]);
      for (k = 1; k < V; k++)
        if (best < 0 || lp[k] > lp[best]) best = k;
      if (i == T) best = eos;
      sum += lp[best];
      memcpy(h, h2, sizeof h);
      if (best == eos) break;
      y[n++] = best;
    }
    CHECKF(o.n_tokens[0] == n, "trial %d: %d tokens, greedy %d", trial, o.n_tokens[0], n);
    for (i = 0; i < n; i++) CHECKF(o.tokens[i] == y[i], "trial %d: token %d differs", trial, i);
    CHECK_NEAR(o.att[0], sum, JOINT_TOL * JOINT_MAX(1, fabs(sum)));
  }
  snprintf(t->msg, sizeof t->msg, "20 toy decoders, V 8, T 4..10");
}

/* 0 < lambda < 1 with an unpruned beam: the argmax over every sequence of at most maxlen
 * labels of lambda ln p_ctc + (1 - lambda) ln p_att + penalty (n + 1), and both parts. */
static void t_joint_exhaustive_argmax(tctx *t) {
  asr_rng rng;
  int trial, cases = 0;
  double worst = 0;
  asr_rng_seed(&rng, 21, 0);
  for (trial = 0; trial < 18; trial++) {
    const int V = trial % 2 ? 5 : 4, T = 1 + trial % 4, eos = V - 1;
    const double lam = 0.2 + 0.3 * (trial % 3), penalty = trial % 4 == 1 ? 0.8 : 0;
    asr_real lp[4 * 5];
    toy_att m;
    asr_s2s_scorer s;
    asr_joint_beam_opts jo = asr_joint_beam_opts_default(128, V);
    joint_out o;
    joint_enum E;
    joint_ctc_logprobs(&rng, lp, T, V, eos, 1.0 + trial % 3);
    toy_make(&m, &s, V, 500 + trial, 2.0);
    jo.ctc_weight = lam, jo.penalty = penalty, jo.maxlenratio = 1.0, jo.nbest = 3;
    CHECK_OK(joint_run(&o, lp, T, V, &s, &jo));
    joint_enumerate(&E, lp, T, V, &m, lam, penalty, T, 0, eos, 3);
    CHECKF(joint_same_best(&o, &E, T), "trial %d: best differs (%d tokens, enumeration %d)", trial, o.n_tokens[0],
           E.best_n);
    CHECK_NEAR(o.scores[0], E.best_score, JOINT_TOL * JOINT_MAX(1, fabs(E.best_score)));
    CHECK_NEAR(o.ctc[0], E.best_ctc, JOINT_TOL * JOINT_MAX(1, fabs(E.best_ctc)));
    CHECK_NEAR(o.att[0], E.best_att, JOINT_TOL * JOINT_MAX(1, fabs(E.best_att)));
    CHECK_NEAR(o.scores[0], lam * o.ctc[0] + (1 - lam) * o.att[0] + penalty * (o.n_tokens[0] + 1),
               JOINT_TOL * JOINT_MAX(1, fabs(o.scores[0])));
    CHECK_NEAR(o.scores[1], E.top[1], JOINT_TOL * JOINT_MAX(1, fabs(E.top[1])));
    worst = JOINT_MAX(worst, fabs(o.scores[0] - E.best_score));
    cases++;
  }
  snprintf(t->msg, sizeof t->msg, "%d searches, worst |score difference| %.2g", cases, worst);
}

/* End detection (maxlenratio = 0): on utterances whose CTC output is a short, sharp
 * labelling and T = 40 frames, the search stops long before maxlen = T and returns the
 * answer the search without end detection (maxlenratio = 1) returns. */
static void t_joint_end_detection(tctx *t) {
  int trial, max_step = 0;
  for (trial = 0; trial < 6; trial++) {
    const int V = 6, T = 40, eos = V - 1;
    asr_real lp[40 * 6];
    toy_att m;
    asr_s2s_scorer s;
    asr_joint_beam_opts jo = asr_joint_beam_opts_default(4, V);
    joint_out a, b;
    asr_rng rng;
    int k, j;
    asr_rng_seed(&rng, 40 + trial, 0);
    /* frames 0..11: the labels 1, 2, 3 (4 frames each, a blank frame between), then blanks */
    for (k = 0; k < T; k++) {
      int want = k < 12 && k % 4 != 3 ? 1 + k / 4 : 0;
      for (j = 0; j < V; j++) lp[k * V + j] = (asr_real)(j == want ? 12.0 : asr_rng_normal(&rng));
      lp[k * V + eos] = (asr_real)-INFINITY;
      asr_log_softmax(lp + k * V, lp + k * V, V);
    }
    toy_make(&m, &s, V, 700 + trial, 0.5);
    jo.ctc_weight = 0.5;
    CHECK_OK(joint_run(&a, lp, T, V, &s, &jo));
    CHECKF(m.max_step < T / 2, "trial %d: the search ran to step %d of %d", trial, m.max_step, T);
    if (m.max_step > max_step) max_step = m.max_step;
    jo.maxlenratio = 1.0;
    CHECK_OK(joint_run(&b, lp, T, V, &s, &jo));
    CHECK(a.n_tokens[0] == b.n_tokens[0] && a.n_tokens[0] == 3);
    for (k = 0; k < 3; k++) CHECK(a.tokens[k] == b.tokens[k] && a.tokens[k] == k + 1);
    CHECK_NEAR(a.scores[0], b.scores[0], 0);
  }
  snprintf(t->msg, sizeof t->msg, "stopped by step %d of 40 (maxlen), answer unchanged", max_step);
}

/* Bad input: a negative result naming the argument, and the outputs untouched. */
static void t_joint_beam_badinput(tctx *t) {
  const int V = 4, T = 3;
  asr_real lp[3 * 4];
  toy_att m;
  asr_s2s_scorer s;
  asr_rng rng;
  int kase;
  asr_rng_seed(&rng, 5, 0);
  joint_ctc_logprobs(&rng, lp, T, V, V - 1, 1.0);
  toy_make(&m, &s, V, 1, 1.0);
  for (kase = 0; kase < 11; kase++) {
    static const char *what[11] = {"beam", "nbest", "ctc_weight", "ctc_weight", "ctc_weight", "T",
                                   "eos", "logprobs", "att", "work", "blank"};
    asr_joint_beam_opts o = asr_joint_beam_opts_default(4, V);
    asr_real bl[12];
    const asr_s2s_scorer *att = &s;
    int tokens[3 * 4], n_tokens[4], n_hyps = 77, i, Tk = T, untouched = 1;
    double scores[4];
    size_t wb;
    void *work;
    asr_error err;
    asr_result r;
    memcpy(bl, lp, sizeof bl);
    switch (kase) {
      case 0: o.beam = 0; break;
      case 1: o.nbest = 0; break;
      case 2: o.ctc_weight = -0.1; break;
      case 3: o.ctc_weight = 1.5; break;
      case 4: o.ctc_weight = NAN; break;
      case 5: Tk = 0; break;
      case 6: o.eos = o.blank; break;
      case 7: bl[6] = (asr_real)NAN; break;
      case 8: att = NULL; break;
      case 9: break;
      case 10: o.blank = V; break;
    }
    wb = asr_joint_beam_workspace_size(&o, T, V, &s);
    if (wb == (size_t)-1) wb = 1 << 16;   /* the bad option is refused by the size query too */
    work = TALLOC(char, wb);
    for (i = 0; i < 12; i++) tokens[i] = 99;
    for (i = 0; i < 4; i++) n_tokens[i] = 99, scores[i] = 99;
    memset(&err, 0, sizeof err);
    r = asr_joint_beam_search(tokens, n_tokens, scores, NULL, NULL, &n_hyps, bl, Tk, V, att, &o, work,
                              kase == 9 ? wb - 1 : wb, &err);
    free(work);
    for (i = 0; i < 12; i++) untouched = untouched && tokens[i] == 99;
    for (i = 0; i < 4; i++) untouched = untouched && n_tokens[i] == 99 && scores[i] == 99;
    untouched = untouched && n_hyps == 77;
    CHECKF(r < 0 && untouched, "case %s: result %d, outputs %s", what[kase], (int)r,
           untouched ? "untouched" : "WRITTEN");
    CHECKF(strstr(err.msg, what[kase]) != NULL, "case %d: the message \"%s\" does not name %s", kase, err.msg,
           what[kase]);
  }
}

/* ---- teacher forcing and rescoring */
static void t_joint_sequence_logprob(tctx *t) {
  toy_att m;
  asr_s2s_scorer s;
  int y[5] = {2, 1, 1, 3, 2}, n;
  size_t wb;
  void *work;
  toy_make(&m, &s, 5, 9, 1.0);
  wb = asr_s2s_sequence_workspace_size(&s, 5);
  work = TALLOC(char, wb);
  for (n = 0; n <= 5; n++) {
    double lp;
    CHECK_OK(asr_s2s_sequence_logprob(&lp, &s, y, n, 4, work, wb, NULL));
    CHECK_NEAR(lp, toy_seq_logprob(&m, y, n, 4), 1e-12);
  }
  {
    /* bad input: no decoder; the eos id inside the sequence */
    double lp = 123;
    CHECK(asr_s2s_sequence_logprob(&lp, NULL, y, 5, 4, work, wb, NULL) == ASR_ERR_INVALID_ARG && lp == 123);
    y[2] = 4;
    CHECK(asr_s2s_sequence_logprob(&lp, &s, y, 5, 4, work, wb, NULL) == ASR_ERR_RANGE && lp == 123);
  }
  free(work);
}

static void t_joint_rescore(tctx *t) {
  /* combined_i = w f_i + (1 - w) s_i + bonus |y_i|, written out */
  const double f[3] = {-3.0, -2.0, -5.0}, s2[3] = {-4.0, -6.0, -1.0};
  const int len[3] = {2, 3, 1};
  double comb[3];
  int best = -1, i, tokens[3 * 3] = {1, 2, -1, 1, 2, 2, 3, -1, -1};
  toy_att m;
  asr_s2s_scorer s;
  double att[3], comb2[3];
  size_t wb;
  void *work;
  asr_error err;
  CHECK_OK(asr_nbest_rescore(&best, comb, f, s2, len, 3, 0.3, 0.5, NULL));
  for (i = 0; i < 3; i++) CHECK_NEAR(comb[i], 0.3 * f[i] + 0.7 * s2[i] + 0.5 * len[i], 1e-12);
  CHECK(best == 2);   /* combined = {-2.7, -3.3, -1.7} */
  CHECK_OK(asr_nbest_rescore(&best, NULL, f, s2, NULL, 3, 1.0, 0, NULL));
  CHECK(best == 1);   /* the first pass alone */
  CHECK_OK(asr_nbest_rescore(&best, NULL, f, s2, NULL, 3, 0.0, 0, NULL));
  CHECK(best == 2);   /* the second pass alone ([Sainath19] with lambda = 0) */
  /* attention rescoring: the toy decoder's teacher-forced scores, then the same sum */
  toy_make(&m, &s, 5, 17, 1.5);
  wb = asr_s2s_sequence_workspace_size(&s, 3);
  work = TALLOC(char, wb);
  CHECK_OK(asr_attention_rescore(&best, att, comb2, tokens, len, f, 3, 3, 0.4, 0.1, &s, 4, work, wb, NULL));
  for (i = 0; i < 3; i++) {
    CHECK_NEAR(att[i], toy_seq_logprob(&m, tokens + 3 * i, len[i], 4), 1e-12);
    CHECK_NEAR(comb2[i], 0.4 * f[i] + 0.6 * att[i] + 0.1 * len[i], 1e-12);
  }
  CHECK(comb2[best] >= comb2[0] && comb2[best] >= comb2[1] && comb2[best] >= comb2[2]);
  /* bad input: an empty n-best, a weight outside [0, 1], NaN scores */
  best = 77;
  CHECK(asr_nbest_rescore(&best, NULL, f, s2, NULL, 0, 0.5, 0, &err) == ASR_ERR_INVALID_ARG && best == 77);
  CHECK(strstr(err.msg, "empty") != NULL);
  CHECK(asr_nbest_rescore(&best, NULL, f, s2, NULL, 3, 1.2, 0, &err) == ASR_ERR_RANGE && best == 77);
  CHECK(strstr(err.msg, "weight") != NULL);
  {
    double nanf[3] = {-1, NAN, -2};
    CHECK(asr_nbest_rescore(&best, NULL, nanf, s2, NULL, 3, 0.5, 0, NULL) == ASR_ERR_NONFINITE && best == 77);
  }
  free(work);
}

/* W(y_i, y*) through section 9: word errors of texts, counted by hand on these strings
 * (one substitution; one deletion; one insertion; all three words wrong plus one deleted),
 * and token errors of token sequences (the same counts on ids). */
static void t_mwer_word_errors(tctx *t) {
  const char *hyps[5] = {"the cat sat", "the bat sat", "the cat", "the cat sat down", "a dog ran"};
  asr_real e[5];
  size_t wi = asr_nbest_word_errors_workspace_ints(hyps, 5, "the cat sat");
  int *work = TALLOC(int, wi), tok[4 * 4] = {1, 2, 3, 0, 1, 4, 3, 0, 1, 2, 0, 0, 1, 2, 3, 5};
  int lens[4] = {3, 3, 2, 4}, ref[3] = {1, 2, 3}, w2[5];
  asr_error err;
  CHECK_OK(asr_nbest_word_errors(e, hyps, 5, "the cat sat", work, wi, NULL));
  CHECK(e[0] == 0 && e[1] == 1 && e[2] == 1 && e[3] == 1 && e[4] == 3);
  CHECK_OK(asr_nbest_token_errors(e, tok, lens, 4, 4, ref, 3, w2, 5, NULL));
  CHECK(e[0] == 0 && e[1] == 1 && e[2] == 1 && e[3] == 1);
  CHECK(asr_nbest_word_errors(e, hyps, 0, "x", work, wi, &err) == ASR_ERR_INVALID_ARG);
  CHECK(strstr(err.msg, "empty") != NULL);
  free(work);
}

/* ---- the decoders as scorers (asr_las_scorer_init, asr_tdec_scorer_init).
 * For each decoder, on random weights and random encoder outputs of several valid lengths:
 * (1) the joint search with lambda = 0 and beam 1 is the decoder's own greedy decoding
 *     (asr_las_speller_greedy / asr_tdec_greedy) with the search's maxlen (the output bias of the blank is set to -30, so that greedy, which
 *     may pick any id, never picks the blank the search never proposes);
 * (2) asr_s2s_sequence_logprob through the adapter is the teacher-forced forward's
 *     sum_i log_softmax(logits_i)[ys_out_i] (the forward batches its products differently:
 *     float sums differ in the last bits, hence 1e-4 in float, 1e-9 in double). */
typedef struct adapt_dec {
  int las;
  las_model lm;
  asr_tdec_config tcfg;
  asr_params st;
  asr_tdec_params tp;
} adapt_dec;

/* ln p(y, <eos>|x) by the teacher-forced forward of the decoder: ys_in = <sos> y, ys_out = y <eos>. */
static double adapt_forward_logprob(adapt_dec *d, const int *y, int n, const asr_real *enc, int len, int T, int V) {
  int U = n + 1, i, ys_in[16], ys_out[16];
  asr_real *logits = TALLOC(asr_real, U * V), lp[16];
  double sum = 0;
  ys_in[0] = V - 1;
  for (i = 0; i < n; i++) ys_in[i + 1] = y[i], ys_out[i] = y[i];
  ys_out[n] = V - 1;
  if (d->las) {
    size_t sb = asr_las_speller_saved_size(&d->lm.cfg, 1, U, T), wb = asr_las_speller_forward_workspace_size(&d->lm.cfg, 1, U, T);
    void *sbuf = talloc_(sb), *w = talloc_(wb);
    asr_las_speller_saved s;
    asr_las_speller_saved_init(&s, sbuf, sb, &d->lm.cfg, 1, U, T);
    if (asr_las_speller_forward(logits, &s, ys_in, enc, &len, &d->lm.p, &d->lm.cfg, 1, U, T, w, wb) != ASR_OK) sum = NAN;
    free(sbuf), free(w);
  } else {
    size_t sb = asr_tdec_saved_size(&d->tcfg, 1, U, T);
    void *sbuf = talloc_(sb);
    asr_tdec_saved s;
    asr_tdec_saved_init(&s, sbuf, sb, &d->tcfg, 1, U, T);
    if (asr_tdec_forward(logits, &s, ys_in, &U, enc, &len, &d->tp, &d->tcfg, 1, U, T, NULL, 0) != ASR_OK) sum = NAN;
    free(sbuf);
  }
  for (i = 0; i < U; i++) {
    asr_log_softmax(lp, logits + (size_t)i * V, V);
    sum += lp[ys_out[i]];
  }
  free(logits);
  return sum;
}

static void adapt_run(tctx *t, int las) {
  enum { V = 6, T = 7, E = 8, MAXLEN = 7 };
  const int eos = V - 1;
  adapt_dec d;
  asr_rng rng;
  int trial, ended = 0, nonempty = 0, seqs = 0;
  double worst = 0;
  memset(&d, 0, sizeof d);
  d.las = las;
  asr_rng_seed(&rng, las ? 31 : 32, 0);
  if (las) {
    asr_las_speller_config cfg;
    asr_las_speller_config_init(&cfg, V, 8, 2, E, ASR_ATTENTION_LOCATION, 6, 3, 2);
    las_model_init(&d.lm, &cfg, &rng, 0.8);
    ((asr_real *)d.lm.p.out_b)[0] = -30;          /* never the blank */
  } else {
    asr_tdec_config_init(&d.tcfg, V, E, 2, 16, 2);
    asr_params_init(&d.st, NULL);
    CHECK_OK(asr_tdec_params_declare(&d.st, "", &d.tcfg));
    CHECK_OK(asr_params_alloc(&d.st));
    CHECK_OK(asr_tdec_params_bind(&d.tp, NULL, &d.st, "", &d.tcfg));
    CHECK_OK(asr_tdec_params_init(&d.st, "", &d.tcfg, &rng));
    asr_params_ptr(&d.st, asr_params_find(&d.st, "output_layer.bias"))[0] = -30;
  }
  for (trial = 0; trial < 12; trial++) {
    int len = 1 + trial % T, gtok[MAXLEN], gn = 0, i, same;
    asr_real enc[T * E];
    asr_s2s_scorer s;
    asr_las_scorer lc;
    asr_tdec_scorer tc;
    asr_joint_beam_opts o = asr_joint_beam_opts_default(1, V);
    joint_out out;
    size_t wb = las ? asr_las_scorer_workspace_size(&d.lm.cfg, T) : asr_tdec_scorer_workspace_size(&d.tcfg, T, MAXLEN + 1);
    void *w = talloc_(wb);
    double seq, fwd;
    fill_uniform(&rng, enc, T * E, -1.5, 1.5);
    for (i = len * E; i < T * E; i++) enc[i] = 0;
    /* the output bias of <eos> from -0.5 to 2.25: short and long greedy outputs both */
    if (las) ((asr_real *)d.lm.p.out_b)[eos] = (asr_real)(-0.5 + 0.25 * trial);
    else asr_params_ptr(&d.st, asr_params_find(&d.st, "output_layer.bias"))[eos] = (asr_real)(-0.5 + 0.25 * trial);
    if (las) {
      size_t gb = asr_las_speller_greedy_workspace_size(&d.lm.cfg, 1, T);
      void *gw = talloc_(gb);
      CHECK_OK(asr_las_speller_greedy(gtok, &gn, NULL, enc, &len, &d.lm.p, &d.lm.cfg, 1, T, MAXLEN, eos, eos, gw, gb));
      free(gw);
      CHECK_OK(asr_las_scorer_init(&s, &lc, enc, len, T, &d.lm.p, &d.lm.cfg, w, wb, NULL));
    } else {
      size_t sb = asr_tdec_source_size(&d.tcfg, 1, T), gb = asr_tdec_greedy_workspace_size(&d.tcfg, 1, T, MAXLEN);
      void *sbuf = talloc_(sb), *gw = talloc_(gb);
      asr_tdec_source src;
      CHECK_OK(asr_tdec_source_init(&src, sbuf, sb, enc, &len, &d.tp, &d.tcfg, 1, T));
      CHECK_OK(asr_tdec_greedy(gtok, &gn, &src, &d.tp, &d.tcfg, eos, eos, MAXLEN, gw, gb));
      free(sbuf), free(gw);
      CHECK_OK(asr_tdec_scorer_init(&s, &tc, enc, len, T, MAXLEN + 1, &d.tp, &d.tcfg, w, wb, NULL));
    }
    o.ctc_weight = 0;
    o.maxlenratio = (double)MAXLEN / T;              /* maxlen = MAXLEN tokens */
    CHECK_OK(joint_run(&out, NULL, T, V, &s, &o));
    /* beam 1 keeps greedy's choice at every step; at step MAXLEN only <eos> is offered, so
     * a greedy output cut at MAXLEN tokens is the search's answer too */
    same = out.n_hyps == 1 && out.n_tokens[0] == gn;
    for (i = 0; same && i < gn; i++) same = out.tokens[i] == gtok[i];
    CHECKF(same, "trial %d: the search's best (%d tokens) is not greedy's (%d tokens)", trial, out.n_tokens[0], gn);
    ended += gn < MAXLEN;
    nonempty += gn > 0;
    /* (2) the sequence score: greedy's text and a random one */
    for (i = 0; i < 2; i++) {
      int y[MAXLEN], n = i ? 1 + asr_rng_int(&rng, MAXLEN - 1) : gn, k;
      size_t qb;
      void *qw;
      if (i) for (k = 0; k < n; k++) y[k] = 1 + asr_rng_int(&rng, V - 2);
      else memcpy(y, gtok, sizeof(int) * (size_t)n);
      qb = asr_s2s_sequence_workspace_size(&s, n);
      qw = talloc_(qb);
      CHECK_OK(asr_s2s_sequence_logprob(&seq, &s, y, n, eos, qw, qb, NULL));
      free(qw);
      fwd = adapt_forward_logprob(&d, y, n, enc, len, T, V);
      worst = fmax(worst, fabs(seq - fwd) / fmax(1, fabs(fwd)));
      seqs++;
    }
    if (!las && trial == 0) {                        /* a search longer than the adapter's capacity */
      o.maxlenratio = (double)(MAXLEN + 1) / T;
      CHECK(joint_run(&out, NULL, T, V, &s, &o) == ASR_ERR_TOO_LARGE);
    }
    free(w);
  }
  CHECKF(worst < (ASR_REAL_DOUBLE ? 1e-9 : 1e-4), "sequence score vs teacher-forced forward: relative %.3g", worst);
  {
    asr_s2s_scorer s;
    asr_las_scorer lc;
    asr_tdec_scorer tc;
    asr_real enc[T * E];
    size_t wb = las ? asr_las_scorer_workspace_size(&d.lm.cfg, T) : asr_tdec_scorer_workspace_size(&d.tcfg, T, 4);
    void *w = talloc_(wb);
    memset(enc, 0, sizeof enc);
    if (las) {
      CHECK(asr_las_scorer_init(&s, &lc, enc, 0, T, &d.lm.p, &d.lm.cfg, w, wb, NULL) == ASR_ERR_RANGE);
      CHECK(asr_las_scorer_init(&s, &lc, enc, T, T, &d.lm.p, &d.lm.cfg, w, wb - 1, NULL) == ASR_ERR_WORKSPACE);
    } else {
      CHECK(asr_tdec_scorer_init(&s, &tc, enc, T + 1, T, 4, &d.tp, &d.tcfg, w, wb, NULL) == ASR_ERR_RANGE);
      CHECK(asr_tdec_scorer_init(&s, &tc, enc, T, T, 0, &d.tp, &d.tcfg, w, wb, NULL) == ASR_ERR_RANGE);
      CHECK(asr_tdec_scorer_init(&s, &tc, enc, T, T, 4, &d.tp, &d.tcfg, w, wb - 1, NULL) == ASR_ERR_WORKSPACE);
    }
    free(w);
  }
  snprintf(t->msg, sizeof t->msg, "beam 1 = greedy on 12 (%d ended by <eos>, %d non-empty); %d sequence scores within %.2g",
           ended, nonempty, seqs, worst);
  if (las) las_model_free(&d.lm);
  else asr_params_free(&d.st);
}
static void t_joint_las_scorer(tctx *t) { adapt_run(t, 1); }
static void t_joint_tdec_scorer(tctx *t) { adapt_run(t, 0); }

static const test_case TESTS_joint[] = {
  {"joint/prefix_check_naive", t_joint_prefix_check_naive},
  {"joint/prefix_check_ref", t_joint_prefix_check_ref},
  {"joint/prefix_check_fast", t_joint_prefix_check_fast},
  {"joint/prefix_chain_small", t_joint_prefix_chain_small},
  {"joint/hybrid_loss", t_joint_hybrid_loss},
  {"joint/lambda1_equals_ctc_prefix_beam", t_joint_lambda1_equals_ctc_prefix_beam},
  {"joint/lambda0_attention_only", t_joint_lambda0_attention_only},
  {"joint/beam1_equals_att_greedy", t_joint_beam1_equals_att_greedy},
  {"joint/exhaustive_argmax", t_joint_exhaustive_argmax},
  {"joint/end_detection", t_joint_end_detection},
  {"joint/beam_badinput", t_joint_beam_badinput},
  {"joint/sequence_logprob", t_joint_sequence_logprob},
  {"joint/rescore", t_joint_rescore},
  {"joint/las_scorer", t_joint_las_scorer},
  {"joint/tdec_scorer", t_joint_tdec_scorer},
  {"mwer/check_naive", t_mwer_check_naive},
  {"mwer/check_ref", t_mwer_check_ref},
  {"mwer/check_fast", t_mwer_check_fast},
  {"mwer/word_errors", t_mwer_word_errors},
  {0, 0}
};
