/* tests/test_tdec.c - tests of section 7.2, ESPnet's Transformer decoder: the checkers of
 * section 10.7.2 on each of the library's tiers, a bigger finite-difference instance, the
 * cached step, the parameter keys, the positional encoding's values, and a decoder that
 * learns to copy. Included by tests/test_asr.c after tests/test_conformer.c, whose
 * RUN_CHECKER / CHECK_GRADCHECK (and the tolerance FD_TOL) it uses. */

/* ---- 7.2.1 the positional encoding, against [Vaswani17] sec. 3.5 evaluated by hand:
 * PE(pos, 2k) = sin(pos / 10000^(2k/D)), PE(pos, 2k+1) = cos(...). With D = 4: k = 0 has
 * the frequency 1, k = 1 the frequency 10000^(-2/4) = 0.01. */
static void t_tdec_pos_encoding(tctx *t) {
  asr_real pe[3 * 4];
  const double tol = ASR_REAL_DOUBLE ? 1e-15 : 1e-7;   /* one rounding of the value */
  CHECK_OK(asr_abs_pos_encoding(pe, 1, 3, 4));   /* positions 1, 2, 3 */
  CHECK_NEAR(pe[0], sin(1.0), tol);
  CHECK_NEAR(pe[1], cos(1.0), tol);
  CHECK_NEAR(pe[2], sin(0.01), tol);
  CHECK_NEAR(pe[3], cos(0.01), tol);
  CHECK_NEAR(pe[8 + 0], sin(3.0), tol);
  CHECK_NEAR(pe[8 + 2], sin(0.03), tol);
  CHECK_NEAR(pe[8 + 3], cos(0.03), tol);
  CHECK_OK(asr_abs_pos_encoding(pe, 0, 1, 4));   /* PE(0) = (0, 1, 0, 1) */
  CHECK(pe[0] == 0 && pe[1] == 1 && pe[2] == 0 && pe[3] == 1);
  CHECK(asr_abs_pos_encoding(pe, 0, 1, 3) == ASR_ERR_INVALID_ARG);   /* odd D: ESPnet cannot */
}

/* ---- 7.2.2 multi-head attention */
static void t_tdec_mha_checker_naive(tctx *t) { RUN_CHECKER(asr_check_mha(asr_mha_forward_naive, asr_mha_backward_naive, 1, REP)); }
static void t_tdec_mha_checker_ref(tctx *t) { RUN_CHECKER(asr_check_mha(asr_mha_forward_ref, asr_mha_backward_ref, 2, REP)); }
static void t_tdec_mha_checker_fast(tctx *t) { RUN_CHECKER(asr_check_mha(asr_mha_forward, asr_mha_backward, 3, REP)); }
/* bigger than the checker's: 3 items, 12 heads' worth of D, cross-attention */
static void t_tdec_mha_gradcheck(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_mha(asr_mha_forward, asr_mha_backward, 0, 0, 3, 5, 9, 12, 3, 4, GR)); }

/* ---- 7.2.3-7.2.4 the decoder */
static void t_tdec_checker_naive(tctx *t) { RUN_CHECKER(asr_check_tdec(asr_tdec_forward_naive, asr_tdec_backward_naive, 5, REP)); }
static void t_tdec_checker_ref(tctx *t) { RUN_CHECKER(asr_check_tdec(asr_tdec_forward_ref, asr_tdec_backward_ref, 6, REP)); }
static void t_tdec_checker_fast(tctx *t) { RUN_CHECKER(asr_check_tdec(asr_tdec_forward, asr_tdec_backward, 7, REP)); }
/* 3 layers, 3 items, targets 6,5,4 over memories 7,6,5: every one of the 83 tensors */
static void t_tdec_gradcheck(tctx *t) { CHECK_GRADCHECK(asr_gradcheck_tdec(asr_tdec_forward, asr_tdec_backward, 3, 3, 6, 7, 8, GR)); }

/* A checker must be able to fail: a backward that forgets the source attention's
 * linear_v bias gradient of the last layer is caught. */
static asr_result broken_tdec_backward(asr_real *d_memory, const asr_tdec_grads *g, const asr_real *dlogits,
                                       const asr_tdec_saved *s, const int *ys_in, const int *ys_lens,
                                       const asr_real *memory, const int *mem_lens, const asr_tdec_params *p,
                                       const asr_tdec_config *cfg, int N, int U, int T, void *work,
                                       size_t work_bytes) {
  asr_tdec_grads g2 = *g;
  g2.layer[cfg->layers - 1].src_attn.bv = NULL;
  return asr_tdec_backward_ref(d_memory, &g2, dlogits, s, ys_in, ys_lens, memory, mem_lens, p, cfg, N, U, T, work,
                               work_bytes);
}
static void t_tdec_checker_catches_bug(tctx *t) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  CHECK_OK(asr_check_tdec(asr_tdec_forward_ref, broken_tdec_backward, 9, &rep));
  CHECKF(rep.failed > 0, "the checker passed a backward without src_attn.linear_v.bias's gradient (%d cases)",
         rep.passed);
}

/* ---- 7.2.5 the cached step and greedy decoding */
static void t_tdec_step_checker(tctx *t) { RUN_CHECKER(asr_check_tdec_step(10, REP)); }

/* The keys and their order, as ESPnet's TransformerDecoder.state_dict() lists them inside
 * ESPnetASRModel (prefix "decoder."): embed, after_norm, output_layer (registered in
 * BaseTransformerDecoder.__init__), then decoders.{l} (assigned by the subclass after). */
static void t_tdec_param_keys(tctx *t) {
  static const char *const first[8] = {
      "decoder.embed.0.weight", "decoder.after_norm.weight", "decoder.after_norm.bias",
      "decoder.output_layer.weight", "decoder.output_layer.bias", "decoder.decoders.0.self_attn.linear_q.weight",
      "decoder.decoders.0.self_attn.linear_q.bias", "decoder.decoders.0.self_attn.linear_k.weight"};
  asr_tdec_config cfg;
  asr_params st;
  asr_tdec_params p;
  asr_tdec_grads g;
  asr_rng rng;
  int i, k;
  asr_tdec_config_init(&cfg, 11, 6, 2, 10, 2);
  asr_params_init(&st, NULL);
  CHECK_OK(asr_tdec_params_declare(&st, "decoder.", &cfg));
  CHECK(st.count == 5 + 26 * 2);
  for (i = 0; i < 8; i++) CHECKF(strcmp(st.items[i].name, first[i]) == 0, "key %d is %s", i, st.items[i].name);
  CHECK(st.items[0].ndim == 2 && st.items[0].shape[0] == 11 && st.items[0].shape[1] == 6);
  k = asr_params_find(&st, "decoder.decoders.1.feed_forward.w_1.weight");
  CHECK(k >= 0 && st.items[k].shape[0] == 10 && st.items[k].shape[1] == 6);
  k = asr_params_find(&st, "decoder.decoders.1.src_attn.linear_out.bias");
  CHECK(k >= 0 && st.items[k].ndim == 1 && st.items[k].shape[0] == 6);
  CHECK(strcmp(st.items[st.count - 1].name, "decoder.decoders.1.norm3.bias") == 0);
  CHECK(asr_tdec_params_bind(&p, &g, &st, "decoder.", &cfg) == ASR_ERR_INVALID_ARG);   /* not allocated yet */
  CHECK_OK(asr_params_alloc(&st));
  CHECK_OK(asr_tdec_params_bind(&p, &g, &st, "decoder.", &cfg));
  CHECK(p.embed == st.data && g.embed == st.grad);
  CHECK(p.layer[1].norm_b[2] == st.data + st.items[st.count - 1].offset);
  asr_rng_seed(&rng, 1, 0);
  CHECK_OK(asr_tdec_params_init(&st, "decoder.", &cfg, &rng));
  CHECK(p.layer[0].norm_w[1][3] == 1 && p.layer[0].norm_b[1][3] == 0 && p.after_norm_w[0] == 1);
  for (i = 0; i < 6 * 6; i++) CHECK(fabs(p.layer[1].src_attn.wq[i]) <= 1 / sqrt(6.0));
  CHECK(asr_tdec_params_bind(&p, &g, &st, "", &cfg) == ASR_ERR_INVALID_ARG);          /* another prefix */
  cfg.layers = 3;
  CHECK(asr_tdec_params_bind(&p, &g, &st, "decoder.", &cfg) == ASR_ERR_INVALID_ARG);  /* a missing layer */
  asr_params_free(&st);
}

/* The argument check names what is wrong. */
static void t_tdec_bad_args_messages(tctx *t) {
  asr_tdec_config cfg;
  asr_error err;
  int ys[2 * 3] = {6, 1, 2, 6, 7, 0}, yl[2] = {3, 2}, ml[2] = {4, 5};
  asr_tdec_config_init(&cfg, 7, 8, 2, 12, 1);
  CHECK(asr_tdec_check_args(&cfg, ys, yl, ml, 2, 3, 4, &err) == ASR_ERR_RANGE);
  CHECKF(strstr(err.msg, "ys_in[1][1] = 7") != NULL, "%s", err.msg);
  ys[4] = 3;
  CHECK(asr_tdec_check_args(&cfg, ys, yl, ml, 2, 3, 4, &err) == ASR_ERR_RANGE);
  CHECKF(strstr(err.msg, "mem_lens[1] = 5") != NULL, "%s", err.msg);
  ml[1] = 4, yl[0] = 0;
  CHECK(asr_tdec_check_args(&cfg, ys, yl, ml, 2, 3, 4, &err) == ASR_ERR_SHAPE);
  CHECKF(strstr(err.msg, "ys_lens[0] = 0") != NULL && strstr(err.msg, "empty target"), "%s", err.msg);
  yl[0] = 3;
  CHECK(asr_tdec_check_args(&cfg, ys, yl, ml, 2, 0, 4, &err) == ASR_ERR_SHAPE);
  CHECKF(strstr(err.msg, "U = 0") != NULL, "%s", err.msg);
  cfg.heads = 3;
  CHECK(asr_tdec_check_args(&cfg, ys, yl, ml, 2, 3, 4, &err) == ASR_ERR_SHAPE);
  CHECKF(strstr(err.msg, "heads = 3 does not divide d_model = 8") != NULL, "%s", err.msg);
  cfg.heads = 2;
  CHECK_OK(asr_tdec_check_args(&cfg, ys, yl, ml, 2, 3, 4, &err));
}

/* ---- learning: a one-layer decoder learns to copy its "encoder" output.
 * The memory of a sequence x_0..x_{K-1} (K in 2..5, symbols 1..4) is fixed: frame t is
 * R[x_t] + PE(t), R a fixed random table, so the decoder must learn to attend to frame i
 * at output position i and read its symbol. Targets as ESPnet's add_sos_eos makes them:
 * ys_in = <sos> x (padded with <eos>), ys_out = x <eos> (padded with the ignore id -1),
 * <sos> = <eos> = 5 = V-1. Loss: section 4.1's cross-entropy, mean over the tokens;
 * Adam (4.5), lr 3e-3, full batch of 24 sequences. Greedy decoding (asr_tdec_greedy)
 * must give every sequence back exactly after a fixed number of steps. */
static void t_tdec_learns_copy(tctx *t) {
  enum { V = 6, D = 16, NS = 24, U = 6, TT = 5, STEPS = 400 };
  const int M = NS * U, EOS = V - 1;
  asr_adam_opts opt;
  asr_rng rng;
  asr_tdec_config cfg;
  asr_tdec_source src;
  asr_tdec_saved s;
  asr_tdec_params p;
  asr_tdec_grads g;
  asr_params st;
  int x[NS][TT], K[NS], ys_in[NS * U], ys_out[NS * U], ylen[NS], toks[NS * TT], ntok[NS];
  int step, n, i, c, count, correct = 0, first_all = -1;
  size_t sb, wb, srcb, gwb;
  asr_real *R, *pe, *memory, *logits, *logp, *loss, *dloss, *dlogits, *m1, *m2;
  void *sbuf, *work, *srcbuf, *gw;
  asr_tdec_config_init(&cfg, V, D, 2, 32, 1);
  asr_rng_seed(&rng, 2024, 0);
  /* the data */
  for (n = 0; n < NS; n++) {
    K[n] = 2 + asr_rng_int(&rng, 4);
    ylen[n] = K[n] + 1;
    for (i = 0; i < U; i++) ys_in[n * U + i] = EOS, ys_out[n * U + i] = -1;
    for (i = 0; i < K[n]; i++) {
      x[n][i] = 1 + asr_rng_int(&rng, 4);
      ys_in[n * U + i + 1] = x[n][i];
      ys_out[n * U + i] = x[n][i];
    }
    ys_out[n * U + K[n]] = EOS;
  }
  R = TALLOC(asr_real, V * D), pe = TALLOC(asr_real, TT * D), memory = TALLOC(asr_real, NS * TT * D);
  fill_uniform(&rng, R, V * D, -1.5, 1.5);
  CHECK_OK(asr_abs_pos_encoding(pe, 0, TT, D));
  for (n = 0; n < NS; n++)
    for (i = 0; i < K[n]; i++)
      for (c = 0; c < D; c++) memory[(n * TT + i) * D + c] = R[x[n][i] * D + c] + pe[i * D + c];
  /* the model */
  asr_params_init(&st, NULL);
  CHECK_OK(asr_tdec_params_declare(&st, "decoder.", &cfg));
  CHECK_OK(asr_params_alloc(&st));
  CHECK_OK(asr_tdec_params_bind(&p, &g, &st, "decoder.", &cfg));
  CHECK_OK(asr_tdec_params_init(&st, "decoder.", &cfg, &rng));
  sb = asr_tdec_saved_size(&cfg, NS, U, TT);
  wb = asr_tdec_backward_workspace_size(&cfg, NS, U, TT);
  srcb = asr_tdec_source_size(&cfg, NS, TT);
  gwb = asr_tdec_greedy_workspace_size(&cfg, NS, TT, TT);
  sbuf = TALLOC(char, sb), work = TALLOC(char, wb), srcbuf = TALLOC(char, srcb), gw = TALLOC(char, gwb);
  logits = TALLOC(asr_real, M * V), logp = TALLOC(asr_real, M * V), dlogits = TALLOC(asr_real, M * V);
  loss = TALLOC(asr_real, M), dloss = TALLOC(asr_real, M);
  m1 = TALLOC(asr_real, st.total), m2 = TALLOC(asr_real, st.total);
  CHECK_OK(asr_tdec_saved_init(&s, sbuf, sb, &cfg, NS, U, TT));
  asr_adam_opts_init(&opt, 3e-3);
  for (step = 1; step <= STEPS; step++) {
    CHECK_OK(asr_tdec_forward(logits, &s, ys_in, ylen, memory, K, &p, &cfg, NS, U, TT, NULL, 0));
    CHECK_OK(asr_cross_entropy_forward(loss, logp, &count, logits, ys_out, M, V, 0, -1));
    for (i = 0; i < M; i++) dloss[i] = (asr_real)(1.0 / count);     /* the mean over tokens */
    memset(dlogits, 0, sizeof(asr_real) * (size_t)M * V);
    CHECK_OK(asr_cross_entropy_backward(dlogits, dloss, logp, ys_out, M, V, 0, -1));
    asr_params_zero_grad(&st);
    CHECK_OK(asr_tdec_backward(NULL, &g, dlogits, &s, ys_in, ylen, memory, K, &p, &cfg, NS, U, TT, work, wb));
    CHECK_OK(asr_adam_step(st.data, m1, m2, NULL, st.grad, st.total, &opt, step));
    if (step % 25 == 0 || step == STEPS) {   /* greedy decoding of all 24 */
      CHECK_OK(asr_tdec_source_init(&src, srcbuf, srcb, memory, K, &p, &cfg, NS, TT));
      CHECK_OK(asr_tdec_greedy(toks, ntok, &src, &p, &cfg, EOS, EOS, TT, gw, gwb));
      for (correct = 0, n = 0; n < NS; n++) {
        int same = ntok[n] == K[n];
        for (i = 0; i < K[n] && same; i++) same = toks[n * TT + i] == x[n][i];
        correct += same;
      }
      if (correct == NS && first_all < 0) first_all = step;
    }
  }
  CHECKF(correct == NS, "after %d Adam steps greedy decoding copies %d of %d sequences", STEPS, correct, NS);
  snprintf(t->msg, sizeof t->msg, "all %d sequences copied from step %d (of %d run)", NS, first_all, STEPS);
  asr_params_free(&st);
  free(R), free(pe), free(memory), free(sbuf), free(work), free(srcbuf), free(gw), free(logits), free(logp);
  free(dlogits), free(loss), free(dloss), free(m1), free(m2);
}

static const test_case TESTS_tdec[] = {
  {"tdec/pos_encoding", t_tdec_pos_encoding},
  {"tdec/mha_checker_naive", t_tdec_mha_checker_naive},
  {"tdec/mha_checker_ref", t_tdec_mha_checker_ref},
  {"tdec/mha_checker_fast", t_tdec_mha_checker_fast},
  {"tdec/mha_gradcheck", t_tdec_mha_gradcheck},
  {"tdec/checker_naive", t_tdec_checker_naive},
  {"tdec/checker_ref", t_tdec_checker_ref},
  {"tdec/checker_fast", t_tdec_checker_fast},
  {"tdec/gradcheck", t_tdec_gradcheck},
  {"tdec/checker_catches_bug", t_tdec_checker_catches_bug},
  {"tdec/step_checker", t_tdec_step_checker},
  {"tdec/param_keys", t_tdec_param_keys},
  {"tdec/bad_args_messages", t_tdec_bad_args_messages},
  {"tdec/learns_copy", t_tdec_learns_copy},
  {0, 0}
};
