/* tests/test_bert.c - BERT on the discrete units (sections 8.11 and 9.10): the span
 * masking, the encoder's tiers, finite differences of the masked loss, a learning run,
 * checkpoints and bad input.
 *
 * Uses test_w2v.c's TIER_TOL, w2v_rel and RELU_GRADCHECK_SKIP, test_layers.c's GC_TOL
 * (1e-6 relative in the double build), set_param and rnd. */

/* A tiny BERT: V units, D = 8, 2 heads, F = 12, 2 layers. */
static void bert_small_cfg(asr_bert_config *cfg, int V) {
  asr_bert_config_init(cfg, V, 8, 2, 12, 2);
  cfg->mask_prob = 0.2, cfg->mask_span = 3;
}

/* The mask is a function of the rng's state: the same seed, the same mask; spans of
 * `span` tokens from floor(p len + u) starts, inside the item's length; over many draws
 * every position of an item is a start equally often (selection sampling is uniform). */
static void t_bert_mask_spans(tctx *t) {
  enum { N = 3, T = 40, R = 4000 };
  int lengths[N] = {40, 25, 1}, n, i, r;
  unsigned char m1[N * T], m2[N * T];
  long c1, c2, starts[T];
  asr_rng a, b;
  double lo = 1e9, hi = 0;
  asr_rng_seed(&a, 7, 0), asr_rng_seed(&b, 7, 0);
  CHECK_OK(asr_bert_mask_spans(m1, &c1, lengths, N, T, 0.05, 10, &a));
  CHECK_OK(asr_bert_mask_spans(m2, &c2, lengths, N, T, 0.05, 10, &b));
  CHECK(c1 == c2 && memcmp(m1, m2, sizeof m1) == 0);
  for (n = 0; n < N; n++)
    for (i = lengths[n]; i < T; i++) CHECK(m1[n * T + i] == 0);      /* never past the length */
  CHECK(m1[2 * T] == 1);                                             /* at least one start */
  asr_rng_seed(&b, 8, 0);
  CHECK_OK(asr_bert_mask_spans(m2, &c2, lengths, N, T, 0.05, 10, &b));
  CHECK(memcmp(m1, m2, sizeof m1) != 0);                             /* another seed, another mask */
  /* span 1: the mask is the set of starts; p = 0.1 of 40 -> exactly 4 or 5 (4 + u) */
  memset(starts, 0, sizeof starts);
  for (r = 0; r < R; r++) {
    long k;
    CHECK_OK(asr_bert_mask_spans(m1, &k, NULL, 1, T, 0.1, 1, &a));
    CHECK(k == 4);                                                   /* floor(4 + u) = 4 */
    for (i = 0; i < T; i++) starts[i] += m1[i];
  }
  for (i = 0; i < T; i++) lo = starts[i] < lo ? starts[i] : lo, hi = starts[i] > hi ? starts[i] : hi;
  /* expected R k / T = 400 per position; binomial sd ~19: 6 sd is 115 */
  CHECKF(lo > 285 && hi < 515, "starts per position in [%.0f, %.0f], expected 400", lo, hi);
  snprintf(t->msg, sizeof t->msg, "starts per position in [%.0f, %.0f], expected 400", lo, hi);
  /* a span runs on from its start, clipped at the end */
  CHECK_OK(asr_bert_mask_spans(m1, &c1, NULL, 1, 5, 0.0, 10, &a));
  CHECK(c1 >= 1 && m1[4] == 1);
  /* bad input */
  CHECK(asr_bert_mask_spans(m1, &c1, NULL, 1, T, 1.5, 10, &a) == ASR_ERR_INVALID_ARG);
  CHECK(asr_bert_mask_spans(m1, &c1, NULL, 1, T, 0.05, 0, &a) == ASR_ERR_INVALID_ARG);
  lengths[0] = 0;
  CHECK(asr_bert_mask_spans(m1, &c1, lengths, N, T, 0.05, 10, &a) == ASR_ERR_RANGE);
}

/* One tier's forward, then backward of sum(G * logits) into the model's gradients. */
static asr_result bert_tier_run(int tier, asr_bert_model *m, asr_real *logits, const asr_real *G, const int *tokens,
                                const int *lengths, int N, int T) {
  size_t ss = asr_bert_saved_size(&m->cfg, N, T), wb = asr_bert_backward_workspace_size(&m->cfg, N, T);
  void *sb = talloc_(ss), *work = talloc_(wb);
  asr_bert_saved s;
  asr_result r = asr_bert_saved_init(&s, sb, ss, &m->cfg, N, T);
  asr_params_zero_grad(&m->params);
  if (r == ASR_OK)
    r = tier == 0 ? asr_bert_forward_naive(logits, &s, tokens, lengths, &m->p, &m->cfg, N, T)
        : tier == 1 ? asr_bert_forward_ref(logits, &s, tokens, lengths, &m->p, &m->cfg, N, T)
                    : asr_bert_forward(logits, &s, tokens, lengths, &m->p, &m->cfg, N, T);
  if (r == ASR_OK)
    r = tier == 0 ? asr_bert_backward_naive(&m->g, G, &s, tokens, lengths, &m->p, &m->cfg, N, T, work, wb)
        : tier == 1 ? asr_bert_backward_ref(&m->g, G, &s, tokens, lengths, &m->p, &m->cfg, N, T, work, wb)
                    : asr_bert_backward(&m->g, G, &s, tokens, lengths, &m->p, &m->cfg, N, T, work, wb);
  free(sb), free(work);
  return r;
}

/* The three tiers of the forward and the backward agree (different summation orders
 * only: TIER_TOL relative to the largest entry); padded keys do not change valid rows. */
static void t_bert_tiers(tctx *t) {
  enum { N = 2, T = 13, V = 7 };
  asr_bert_config cfg;
  asr_bert_model m;
  asr_rng rng;
  int tokens[N * T], lengths[N] = {13, 9}, k, i;
  asr_real *G, *lg[3], *gr[3];
  size_t nl = (size_t)N * T * V;
  bert_small_cfg(&cfg, V);
  asr_rng_seed(&rng, 61, 0);
  CHECK_OK(asr_bert_model_create(&m, &cfg, &rng, NULL, NULL));
  for (i = 0; i < N * T; i++) tokens[i] = asr_rng_int(&rng, V + 1);   /* the mask id V too */
  G = rnd(&rng, nl, 1.0);
  for (k = 0; k < 3; k++) {
    lg[k] = TALLOC(asr_real, nl);
    gr[k] = TALLOC(asr_real, m.params.total);
    CHECK_OK(bert_tier_run(k, &m, lg[k], G, tokens, lengths, N, T));
    memcpy(gr[k], m.params.grad, sizeof(asr_real) * m.params.total);
  }
  for (k = 1; k < 3; k++) {
    double dl = w2v_rel(lg[k], lg[0], nl), dg = w2v_rel(gr[k], gr[0], m.params.total);
    CHECKF(dl <= TIER_TOL && dg <= TIER_TOL, "tier %d vs naive: logits %.3g, gradients %.3g", k, dl, dg);
  }
  /* item 1's valid rows do not depend on its padded tokens */
  for (i = 9; i < T; i++) tokens[T + i] = (tokens[T + i] + 1) % (V + 1);
  CHECK_OK(bert_tier_run(2, &m, lg[1], G, tokens, lengths, N, T));
  CHECK(w2v_rel(lg[1] + (size_t)T * V, lg[2] + (size_t)T * V, (size_t)9 * V) <= TIER_TOL);
  for (k = 0; k < 3; k++) free(lg[k]), free(gr[k]);
  free(G);
  asr_bert_model_free(&m);
}

/* Finite differences of the masked loss (the model step with a fixed seed: the same mask
 * every call) w.r.t. every parameter, the mask token's embedding row included. */
#if ASR_REAL_DOUBLE
typedef struct bert_fx {
  asr_bert_model m;
  int *units, *lengths, N, T;
  void *work;
  size_t wb;
} bert_fx;
static double bert_f(void *v) {
  bert_fx *f = (bert_fx *)v;
  asr_bert_stats st;
  asr_rng rng;
  asr_rng_seed(&rng, 71, 0);
  st.loss = NAN;
  asr_bert_model_step(&f->m, &st, NULL, f->units, f->lengths, f->N, f->T, 0, &rng, f->work, f->wb, NULL);
  return st.loss;
}
#endif
static void t_bert_gradcheck(tctx *t) {
#if ASR_REAL_DOUBLE
  bert_fx f;
  asr_bert_config cfg;
  asr_bert_stats st;
  asr_rng rng;
  asr_gradcheck_param p[64];
  asr_real *g;
  int lengths[2] = {12, 8}, k, i;
  bert_small_cfg(&cfg, 6);
  asr_rng_seed(&rng, 72, 0);
  CHECK_OK(asr_bert_model_create(&f.m, &cfg, &rng, NULL, NULL));
  f.N = 2, f.T = 12, f.lengths = lengths;
  f.units = TALLOC(int, f.N * f.T);
  for (i = 0; i < f.N * f.T; i++) f.units[i] = asr_rng_int(&rng, 6);
  f.wb = asr_bert_model_workspace_size(&f.m, f.N, f.T);
  f.work = talloc_(f.wb);
  asr_params_zero_grad(&f.m.params);
  asr_rng_seed(&rng, 71, 0);
  CHECK_OK(asr_bert_model_step(&f.m, &st, NULL, f.units, f.lengths, f.N, f.T, 1, &rng, f.work, f.wb, NULL));
  CHECK(st.masked > 0 && st.masked < 20);
  g = TALLOC(asr_real, f.m.params.total);
  memcpy(g, f.m.params.grad, sizeof(asr_real) * f.m.params.total);
  CHECK(f.m.params.count == 1 + 16 * cfg.layers + 4);
  for (k = 0; k < f.m.params.count && k < 64; k++)
    set_param(&p[k], f.m.params.items[k].name, asr_params_ptr(&f.m.params, k), g + f.m.params.items[k].offset,
              f.m.params.items[k].count);
  {   /* the mask token's row (id V) is read at every masked position: it has a gradient */
    double gm = 0;
    for (i = 0; i < cfg.d_model; i++) gm += fabs((double)g[f.m.params.items[0].offset + 6 * cfg.d_model + i]);
    CHECK(gm > 0);
  }
  {   /* asr_gradcheck's defaults (h = 1e-3, floor 1e-5 |f|): no pre-activation of this
       * fixed seed is within 2h of a ReLU kink; the worst error reported */
    asr_gradcheck_opts o;
    asr_gradcheck_report gr;
    asr_rng grng;
    memset(&o, 0, sizeof o);
    asr_rng_seed(&grng, 99, 2);
    CHECK_OK(asr_gradcheck(bert_f, &f, p, k, &o, &grng, &gr));
    CHECKF(gr.max_rel_err <= GC_TOL, "BERT masked loss %s[%ld]: numeric %.10g analytic %.10g rel %.3g",
           gr.worst_param, gr.worst_index, gr.worst_numeric, gr.worst_analytic, gr.max_rel_err);
    snprintf(t->msg, sizeof t->msg, "%d tensors, %d comparisons, worst relative error %.2g (%s)", k, gr.checks,
             gr.max_rel_err, gr.worst_param);
  }
  asr_bert_model_free(&f.m);
  free(f.units), free(f.work), free(g);
#else
  RELU_GRADCHECK_SKIP();
#endif
}

/* Toy unit sequences a masked span can be read from: two "words", unit a before a cut
 * and unit b from it on (a != b, the cut uniform in [T/4, 3T/4)), so a masked token is
 * the unit of the nearest visible tokens on its side of the cut. */
static void bert_toy_units(int *u, int N, int T, int V, asr_rng *rng) {
  int n, i;
  for (n = 0; n < N; n++) {
    int a = asr_rng_int(rng, V), b = (a + 1 + asr_rng_int(rng, V - 1)) % V, cut = T / 4 + asr_rng_int(rng, T / 2);
    for (i = 0; i < T; i++) u[(size_t)n * T + i] = i < cut ? a : b;
  }
}

/* A deterministic learning run: Adam (lr 3e-3), 150 steps of 8 sequences of 40 units
 * (V = 8, chance 1/8 = 0.125), span masking p = 0.05, M = 10 as vq-wav2vec (2 or 3 spans
 * per sequence: a third to a half of it masked); masked accuracy on 64 held-out sequences
 * before and after. Measured in the float build: 0.107 -> 0.515 (0.37-0.60 from step 100
 * to 400 at lr 1e-3 or 3e-3, D = 16 or 32: about what "the unit most of the visible
 * tokens have" scores; telling which side of the cut a span is on takes longer). The
 * bound, 0.3 and a rise of 0.15, is the run's trend, not its noise. */
static void t_bert_learns(tctx *t) {
  enum { N = 8, T = 40, V = 8, STEPS = 150 };
  asr_bert_config cfg;
  asr_bert_model m;
  asr_bert_stats st;
  asr_adam_opts o;
  asr_rng rng, drng, erng;
  int units[N * T], ev[N * T], s;
  size_t wb, np;
  void *work;
  asr_real *am, *av;
  double acc[2] = {0, 0};
  asr_bert_config_init(&cfg, V, 16, 2, 32, 2);
  asr_rng_seed(&rng, 81, 0), asr_rng_seed(&drng, 82, 0);
  CHECK_OK(asr_bert_model_create(&m, &cfg, &rng, NULL, NULL));
  wb = asr_bert_model_workspace_size(&m, N, T), np = m.params.total;
  work = talloc_(wb), am = TALLOC(asr_real, np), av = TALLOC(asr_real, np);
  bert_toy_units(ev, N, T, V, &drng);
  asr_adam_opts_init(&o, 3e-3);
  for (s = 0; s <= STEPS; s++) {
    if (s == 0 || s == STEPS) {
      long c = 0, n = 0;
      int e;
      asr_rng_seed(&erng, 83, 0);
      for (e = 0; e < 8; e++) {
        CHECK_OK(asr_bert_model_step(&m, &st, NULL, ev, NULL, N, T, 0, &erng, work, wb, NULL));
        c += st.correct, n += st.masked;
      }
      acc[s == STEPS] = (double)c / (double)n;
      if (s == STEPS) break;
    }
    bert_toy_units(units, N, T, V, &drng);
    asr_params_zero_grad(&m.params);
    CHECK_OK(asr_bert_model_step(&m, &st, NULL, units, NULL, N, T, 1, &rng, work, wb, NULL));
    CHECK_OK(asr_adam_step(m.params.data, am, av, NULL, m.params.grad, np, &o, s + 1));
  }
  asr_bert_model_free(&m);
  free(work), free(am), free(av);
  CHECKF(acc[1] > 0.3 && acc[1] > acc[0] + 0.15, "held-out masked accuracy %.3f -> %.3f (chance 0.125)", acc[0],
         acc[1]);
  snprintf(t->msg, sizeof t->msg, "held-out masked accuracy %.3f -> %.3f (chance 0.125)", acc[0], acc[1]);
}

/* save, load: the same tensors and the same loss; bad input refused with nothing written */
static void t_bert_checkpoint_and_bad_input(tctx *t) {
  enum { N = 2, T = 10, V = 5 };
  asr_bert_config cfg, c2;
  asr_bert_model m, m2;
  asr_bert_stats s1, s2;
  asr_rng rng;
  asr_error err;
  char path[512], json[512];
  int units[N * T], lengths[N] = {10, 6}, i;
  unsigned char mk1[N * T], mk2[N * T];
  size_t wb;
  void *work;
  asr_real *feats;
  bert_small_cfg(&cfg, V);
  asr_rng_seed(&rng, 91, 0);
  CHECK_OK(asr_bert_model_create(&m, &cfg, &rng, NULL, NULL));
  for (i = 0; i < N * T; i++) units[i] = asr_rng_int(&rng, V);
  snprintf(path, sizeof path, "%s/bert.npz", t->tmpdir);
  CHECK_OK(asr_bert_model_save(&m, path, &err));
  CHECK_OK(asr_bert_model_load(&m2, path, NULL, &err));
  CHECK(m2.params.total == m.params.total && m2.cfg.mask_span == 3 && m2.cfg.mask_prob == 0.2);
  CHECK(asr_params_find(&m2.params, "encoder.encoders.1.self_attn.linear_out.bias") >= 0);
  CHECK(asr_params_find(&m2.params, "lm_head.weight") >= 0);
  for (i = 0; i < (int)m.params.total; i++) CHECK(m2.params.data[i] == (asr_real)(float)m.params.data[i]);
  memcpy(m.params.data, m2.params.data, sizeof(asr_real) * m.params.total);
  wb = asr_bert_model_workspace_size(&m, N, T);
  work = talloc_(wb);
  asr_rng_seed(&rng, 92, 0);
  CHECK_OK(asr_bert_model_step(&m, &s1, mk1, units, lengths, N, T, 0, &rng, work, wb, &err));
  asr_rng_seed(&rng, 92, 0);
  CHECK_OK(asr_bert_model_step(&m2, &s2, mk2, units, lengths, N, T, 0, &rng, work, wb, &err));
  CHECK(s1.loss == s2.loss && s1.correct == s2.correct && memcmp(mk1, mk2, sizeof mk1) == 0);
  CHECK(isfinite(s1.loss) && s1.masked > 0);
  /* the features of unmasked units: (N,T,D), finite */
  feats = TALLOC(asr_real, (size_t)N * T * cfg.d_model);
  CHECK_OK(asr_bert_model_features(&m, feats, units, lengths, N, T, work, wb, &err));
  CHECK(asr_all_finite(feats, (size_t)N * T * cfg.d_model));
  /* bad input: a unit outside [0, V) (the mask id V is not a unit), a length outside
   * [1, T], no sequence, too little work; forward: a token beyond the mask id */
  units[3] = V;
  CHECK(asr_bert_model_step(&m, &s1, NULL, units, lengths, N, T, 1, &rng, work, wb, &err) == ASR_ERR_RANGE);
  CHECK(strstr(err.msg, "outside [0, 5)") != NULL);
  units[3] = 0, lengths[1] = 0;
  CHECK(asr_bert_model_step(&m, &s1, NULL, units, lengths, N, T, 1, &rng, work, wb, &err) == ASR_ERR_RANGE);
  lengths[1] = 6;
  CHECK(asr_bert_model_step(&m, &s1, NULL, units, lengths, 0, T, 1, &rng, work, wb, &err) == ASR_ERR_SHAPE);
  CHECK(asr_bert_model_step(&m, &s1, NULL, units, lengths, N, T, 1, &rng, work, wb - 1, &err) ==
        ASR_ERR_WORKSPACE);
  {
    asr_bert_saved s;
    void *sb = talloc_(asr_bert_saved_size(&cfg, N, T));
    asr_real *lg = TALLOC(asr_real, (size_t)N * T * V);
    CHECK_OK(asr_bert_saved_init(&s, sb, asr_bert_saved_size(&cfg, N, T), &cfg, N, T));
    units[0] = V + 1;
    CHECK(asr_bert_forward(lg, &s, units, NULL, &m.p, &cfg, N, T) == ASR_ERR_RANGE);
    units[0] = V;                                  /* the mask token is a valid input */
    CHECK_OK(asr_bert_forward_ref(lg, &s, units, NULL, &m.p, &cfg, N, T));
    {                                              /* _naive refuses T > 64 */
      asr_bert_saved s65;
      void *sb65 = talloc_(asr_bert_saved_size(&cfg, 1, 65));
      int *u65 = TALLOC(int, 65);
      asr_real *lg65 = TALLOC(asr_real, (size_t)65 * V);
      CHECK_OK(asr_bert_saved_init(&s65, sb65, asr_bert_saved_size(&cfg, 1, 65), &cfg, 1, 65));
      CHECK(asr_bert_forward_naive(lg65, &s65, u65, NULL, &m.p, &cfg, 1, 65) == ASR_ERR_TOO_LARGE);
      CHECK_OK(asr_bert_forward(lg65, &s65, u65, NULL, &m.p, &cfg, 1, 65));
      free(sb65), free(u65), free(lg65);
    }
    free(sb), free(lg);
  }
  /* configs: heads not dividing d_model, JSON with an unknown key or a missing size */
  c2 = cfg, c2.heads = 3;
  CHECK(asr_bert_config_check(&c2, &err) == ASR_ERR_SHAPE);
  CHECK(asr_bert_config_from_json(&c2, "{\"vocab\": 5, \"d_model\": 8, \"heads\": 2, \"ff_dim\": 4, \"layers\": 1, "
                                       "\"colour\": 3}", &err) == ASR_ERR_FORMAT);
  CHECK(asr_bert_config_from_json(&c2, "{\"vocab\": 5, \"d_model\": 8}", &err) == ASR_ERR_FORMAT);
  CHECK(asr_bert_config_to_json(&cfg, json, sizeof json) < (int)sizeof json);
  CHECK_OK(asr_bert_config_from_json(&c2, json, &err));
  CHECK(c2.vocab == V && c2.d_model == 8 && c2.ff_dim == 12 && c2.mask_prob == 0.2);
  asr_bert_model_free(&m), asr_bert_model_free(&m2);
  free(work), free(feats);
}

/* A config-only checkpoint claiming the largest BERT the config check allows (vocab,
 * d_model and ff_dim 65536, 16 layers: 2.7e11 weights) is refused by the tensor it lacks,
 * before anything of that size is allocated; a truncated JSON config is refused too. */
static void t_bert_model_load_huge_claim(tctx *t) {
  asr_bert_config cfg;
  asr_bert_model m;
  asr_npz_writer w;
  asr_error err;
  char path[512], json[512];
  int64_t n;
  asr_bert_config_init(&cfg, 65536, 65536, 4, 65536, ASR_BERT_MAX_LAYERS);
  CHECK_OK(asr_bert_config_check(&cfg, &err));
  CHECK(asr_bert_config_to_json(&cfg, json, sizeof json) < (int)sizeof json);
  n = (int64_t)strlen(json);
  snprintf(path, sizeof path, "%s/bert_huge.npz", t->tmpdir);
  CHECK_OK(asr_npz_writer_open(&w, path, NULL, &err));
  CHECK_OK(asr_npz_writer_add(&w, "config", ASR_DTYPE_U8, 1, &n, json, &err));
  CHECK_OK(asr_npz_writer_close(&w, &err));
  CHECKF(asr_bert_model_load(&m, path, NULL, &err) == ASR_ERR_FORMAT &&
         strstr(err.msg, "missing tensor 'encoder.embed.0.weight'"), "%s", err.msg);
  asr_bert_model_free(&m);                             /* zeroed by the failed load: safe */
  n = 20;                                              /* the JSON cut short */
  CHECK_OK(asr_npz_writer_open(&w, path, NULL, &err));
  CHECK_OK(asr_npz_writer_add(&w, "config", ASR_DTYPE_U8, 1, &n, json, &err));
  CHECK_OK(asr_npz_writer_close(&w, &err));
  CHECK(asr_bert_model_load(&m, path, NULL, &err) == ASR_ERR_FORMAT);
  asr_bert_model_free(&m);
}

static const test_case TESTS_bert[] = {
  {"bert/mask_spans", t_bert_mask_spans},
  {"bert/tiers", t_bert_tiers},
  {"bert/gradcheck", t_bert_gradcheck},
  {"bert/learns", t_bert_learns},
  {"bert/checkpoint_and_bad_input", t_bert_checkpoint_and_bad_input},
  {"bert/model_load_huge_claim", t_bert_model_load_huge_claim},
  {0, 0}
};
