/* tests/test_lexicon.c - asr.h section 5, "Words": the lexicon tree, the Witten-Bell word
 * n-gram model and its ARPA text, lexicon-constrained CTC decoding with shallow fusion.
 * Independent known answers (a Python reference written from the definitions) are in
 * tests/torch/test_lexicon.py; here: the definitions' own properties and the tiers
 * against each other. */

/* tokens of the small cases: 0 blank, 1 space, 2 'a', 3 'b', 4 'c' */
static const char LEX_ALPHABET[] = "_ abc";

static void t_lexicon_tree(tctx *t) {
  const char *words[] = {"ab", "b", "AB", "abc"};
  const char *bad[] = {"a b", "ad", "", "a_"};
  asr_lexicon lex;
  asr_error err;
  int k, node = 0;
  CHECK(asr_lexicon_build(&lex, words, 4, LEX_ALPHABET, 0, 1, &err) == ASR_OK);
  /* "AB" is "ab" lower-cased, a duplicate: three words; nodes: root, a, ab, abc, b */
  CHECKF(lex.n_words == 3 && lex.n_nodes == 5, "%d words, %d nodes", lex.n_words, lex.n_nodes);
  for (k = 0; k < 3; k++) {
    node = lex.child[node * lex.V + (k == 0 ? 2 : k == 1 ? 3 : 4)];
    CHECK(node > 0);
    CHECKF(lex.word[node] == (k == 0 ? -1 : k == 1 ? 0 : 2), "node of prefix %d: word %d", k, lex.word[node]);
  }
  CHECK(lex.child[0 * lex.V + 4] == -1);        /* no word starts with 'c' */
  asr_lexicon_free(&lex);
  for (k = 0; k < 4; k++) {
    CHECKF(asr_lexicon_build(&lex, &bad[k], 1, LEX_ALPHABET, 0, 1, &err) == ASR_ERR_RANGE, "'%s' accepted", bad[k]);
    CHECK(lex.child == NULL && lex.words == NULL);
  }
}

/* Witten-Bell is a distribution for every history: sum_w P(w | h) = 1 over the predictable
 * words (all but <s>), seen histories or not, orders 1-4. And with one sentence and order 1,
 * the unigram formula by hand: c(.) = 3 ("a a </s>"), N1+(.) = 2, |V| = 3 (a, </s>, <unk>):
 * P(a) = (2 + 2/3) / 5, P(<unk>) = (2/3) / 5. */
static void t_ngram_normalized(tctx *t) {
  const char *sents[] = {"a b a", "b a", "a a b", "c", "", "b b b a c"};
  const char *one[] = {"a a"};
  asr_ngram lm;
  asr_error err;
  int order, i, j, w, a;
  for (order = 1; order <= 4; order++) {
    CHECK(asr_ngram_train(&lm, sents, 6, order, &err) == ASR_OK);
    for (i = 0; i < lm.n_words; i++)
      for (j = 0; j < lm.n_words; j++) {
        int h[2] = {i, j};
        double s = 0;
        for (w = 1; w < lm.n_words; w++) s += exp(asr_ngram_logprob(&lm, h, 2, w));
        /* a sum of 7 terms in double: 1e-12 is rounding with room to spare */
        CHECKF(fabs(s - 1) < 1e-12, "order %d, history %s %s: sum %.15f", order, lm.words[i], lm.words[j], s);
      }
    asr_ngram_free(&lm);
  }
  CHECK(asr_ngram_train(&lm, one, 1, 1, &err) == ASR_OK);
  a = asr_ngram_word_id(&lm, "a");
  CHECK_NEAR(asr_ngram_logprob(&lm, NULL, 0, a), log((2 + 2.0 / 3) / 5), 1e-12);
  CHECK_NEAR(asr_ngram_logprob(&lm, NULL, 0, asr_ngram_word_id(&lm, "zzz")), log((2.0 / 3) / 5), 1e-12);
  asr_ngram_free(&lm);
  CHECK(asr_ngram_train(&lm, one, 1, 7, &err) == ASR_ERR_RANGE);
}

/* ARPA write then read: every stored n-gram and every query agrees to the 6 decimals
 * written (a log10 rounding of 5e-7 per stored value; a query sums at most order of them,
 * times ln 10: 1e-5 covers it). Broken files are refused with the line named. */
static void t_ngram_arpa(tctx *t) {
  const char *sents[] = {"one two three", "two three", "three one", "one"};
  char path[512], bad[512];
  asr_ngram lm, back;
  asr_error err;
  int i, j, w;
  FILE *fp;
  snprintf(path, sizeof path, "%s/lm.arpa", t->tmpdir);
  CHECK(asr_ngram_train(&lm, sents, 4, 3, &err) == ASR_OK);
  CHECK(asr_ngram_write_arpa(&lm, path, &err) == ASR_OK);
  CHECKF(asr_ngram_read_arpa(&back, path, &err) == ASR_OK, "%s", err.msg);
  CHECK(back.order == 3 && back.n_entries == lm.n_entries && back.n_words == lm.n_words);
  for (i = 0; i < lm.n_words; i++)
    for (j = 0; j < lm.n_words; j++)
      for (w = 1; w < lm.n_words; w++) {
        int h[2] = {i, j}, hb[2];
        hb[0] = asr_ngram_word_id(&back, lm.words[i]);
        hb[1] = asr_ngram_word_id(&back, lm.words[j]);
        CHECK_NEAR(asr_ngram_logprob(&back, hb, 2, asr_ngram_word_id(&back, lm.words[w])),
                   asr_ngram_logprob(&lm, h, 2, w), 1e-5);
      }
  CHECK_NEAR(asr_ngram_sentence_logprob(&back, "one two zzz"), asr_ngram_sentence_logprob(&lm, "one two zzz"), 1e-5);
  asr_ngram_free(&back);
  asr_ngram_free(&lm);
  snprintf(bad, sizeof bad, "%s/bad.arpa", t->tmpdir);
  fp = fopen(bad, "w");
  CHECK(fp != NULL);
  fputs("\\data\\\nngram 1=2\n\n\\1-grams:\n-0.5\ta\n-0.5 b c\n\\end\\\n", fp);   /* "b c" in unigrams */
  fclose(fp);
  CHECK(asr_ngram_read_arpa(&back, bad, &err) == ASR_ERR_FORMAT);
  CHECKF(strstr(err.msg, "bad.arpa:6") != NULL, "%s", err.msg);
  fp = fopen(bad, "w");
  CHECK(fp != NULL);
  fputs("\\data\\\nngram 1=3\n\n\\1-grams:\n-0.5\ta\n-0.5 b\n\\end\\\n", fp);     /* 2 of 3 */
  fclose(fp);
  CHECK(asr_ngram_read_arpa(&back, bad, &err) == ASR_ERR_FORMAT);
}

/* Random log-probabilities (T = 0..4, V = 5), a lexicon, with and without a bigram LM:
 * _ref with a beam that never prunes (121 >= every labelling of length <= 4 over 4 labels)
 * returns _naive's labelling and score. Sums are in double in both: 1e-9. */
static void t_lexicon_naive_vs_ref(tctx *t) {
  const char *words[] = {"ab", "b", "ca", "a"};
  const char *sents[] = {"ab b", "b ab", "ca", "ab ab b"};
  asr_lexicon lex;
  asr_ngram lm;
  asr_error err;
  asr_rng rng;
  int trial, tt, k, i, fused = 0, words_seen = 0;
  CHECK(asr_lexicon_build(&lex, words, 4, LEX_ALPHABET, 0, 1, &err) == ASR_OK);
  CHECK(asr_ngram_train(&lm, sents, 4, 2, &err) == ASR_OK);
  asr_rng_seed(&rng, 5, 1);
  for (trial = 0; trial < 200; trial++) {
    int T = asr_rng_int(&rng, 5), V = 5, n1 = -1, n2 = -2, tk1[8], tk2[8];
    double s1 = 0, s2 = 1;
    asr_real lp[5 * 4], x[5];
    size_t wb;
    void *w;
    asr_result r1, r2;
    asr_ctc_lexicon_opts o = asr_ctc_lexicon_opts_default(&lex, 128, 0, 1);
    for (tt = 0; tt < T; tt++) {
      for (k = 0; k < V; k++) x[k] = (asr_real)(2 * asr_rng_normal(&rng));
      asr_log_softmax(lp + tt * V, x, V);
    }
    if (trial % 2) {
      o.lm = &lm;
      o.lm_weight = 0.3 + asr_rng_uniform(&rng);
      o.word_bonus = asr_rng_normal(&rng);
      fused++;
    }
    wb = asr_ctc_lexicon_workspace_size(T, V, o.beam);
    w = malloc(wb);
    CHECK(w != NULL);
    r1 = asr_ctc_lexicon_decode_naive(tk1, &n1, &s1, lp, T, V, &o, w, wb);
    r2 = asr_ctc_lexicon_decode_ref(tk2, &n2, &s2, lp, T, V, &o, w, wb);
    free(w);
    CHECKF(r1 == ASR_OK && r2 == ASR_OK, "trial %d: naive %d, ref %d", trial, r1, r2);
    CHECKF(n1 == n2 && fabs(s1 - s2) < 1e-9, "trial %d (T=%d): %d tokens, score %.12f vs %d, %.12f", trial, T, n1,
           s1, n2, s2);
    for (i = 0; i < n1; i++) CHECKF(tk1[i] == tk2[i], "trial %d: token %d differs", trial, i);
    words_seen += n1 > 0;
  }
  /* the cases must exercise something: most decode to words, half of them with the LM */
  CHECKF(words_seen > 100 && fused == 100, "%d non-empty results, %d fused", words_seen, fused);
  asr_lexicon_free(&lex);
  asr_ngram_free(&lm);
}

/* Two frames whose best path spells "cb", which the lexicon {ca, b} does not have.
 * By the definition (every path of each labelling, hand-made probabilities below):
 *   p("ca"|x) = 0.6 * 0.4 = 0.24
 *   p("b"|x)  = (b,b) 0.05 * 0.45 + (blank,b) 0.25 * 0.45 + (b,blank) 0.05 * 0.1 = 0.14
 * so without an LM the lexicon decoder says "ca"; an LM that has seen "b" alone four times
 * and "ca" only after "b" makes "b" the answer (its ln P_LM is larger by about 3.4, more
 * than ln(0.24/0.14) = 0.54). _naive confirms both. Bad options are refused. */
static void t_lexicon_constrains(tctx *t) {
  const char *words[] = {"ca", "b"};
  const char *sents[] = {"b", "b", "b", "b ca"};
  /* columns: blank, space, a, b, c */
  const double p[2][5] = {{0.25, 0.05, 0.05, 0.05, 0.6}, {0.1, 0.03, 0.4, 0.45, 0.02}};
  asr_real lp[10];
  int tok[4], n, g[4], ng, i, k;
  double s, sn;
  size_t wb = asr_ctc_lexicon_workspace_size(2, 5, 8);
  void *w = malloc(wb);
  asr_lexicon lex;
  asr_ngram lm;
  asr_error err;
  asr_ctc_lexicon_opts o;
  CHECK(w != NULL);
  for (i = 0; i < 2; i++)
    for (k = 0; k < 5; k++) lp[i * 5 + k] = (asr_real)log(p[i][k]);
  CHECK(asr_ctc_greedy_decode(g, &ng, NULL, NULL, lp, 2, 5, 0) == ASR_OK);
  CHECK(ng == 2 && g[0] == 4 && g[1] == 3);                        /* "cb" */
  CHECK(asr_lexicon_build(&lex, words, 2, LEX_ALPHABET, 0, 1, &err) == ASR_OK);
  CHECK(asr_ngram_train(&lm, sents, 4, 2, &err) == ASR_OK);
  o = asr_ctc_lexicon_opts_default(&lex, 8, 0, 1);
  CHECK(asr_ctc_lexicon_decode(tok, &n, &s, lp, 2, 5, &o, w, wb) == ASR_OK);
  CHECKF(n == 2 && tok[0] == 4 && tok[1] == 2, "%d tokens, not \"ca\"", n);
  CHECK_NEAR(s, log(0.24), 1e-6);             /* float log-probabilities: 1e-6 */
  CHECK(asr_ctc_lexicon_decode_naive(g, &ng, &sn, lp, 2, 5, &o, w, wb) == ASR_OK);
  CHECK(ng == 2 && g[0] == 4 && g[1] == 2 && fabs(s - sn) < 1e-9);
  o.lm = &lm;
  o.lm_weight = 1;
  CHECK(asr_ctc_lexicon_decode(tok, &n, &s, lp, 2, 5, &o, w, wb) == ASR_OK);
  CHECKF(n == 1 && tok[0] == 3, "%d tokens, not \"b\"", n);
  CHECK(asr_ctc_lexicon_decode_naive(g, &ng, &sn, lp, 2, 5, &o, w, wb) == ASR_OK);
  CHECK(ng == 1 && g[0] == 3 && fabs(s - sn) < 1e-9);
  o.space = 0;
  CHECK(asr_ctc_lexicon_decode(tok, &n, &s, lp, 2, 5, &o, w, wb) == ASR_ERR_RANGE);
  o.space = 1;
  o.lm_weight = NAN;
  CHECK(asr_ctc_lexicon_decode(tok, &n, &s, lp, 2, 5, &o, w, wb) == ASR_ERR_NONFINITE);
  o.lm_weight = 1;
  CHECK(asr_ctc_lexicon_decode(tok, &n, &s, lp, 2, 4, &o, w, wb) == ASR_ERR_SHAPE);
  CHECK(asr_ctc_lexicon_decode(tok, &n, &s, lp, 2, 5, &o, w, wb - 1) == ASR_ERR_WORKSPACE);
  free(w);
  asr_lexicon_free(&lex);
  asr_ngram_free(&lm);
}

/* ---- 6.6: the transducer's search with the lexicon (asr_rnnt_lexicon_decode_*) */

/* A transducer stand-in: ln Pr(k | t, y) a log-softmax of pseudo-random logits hashed from
 * (seed, t, y), so the same prefix on the same frame always gets the same distribution. */
typedef struct hash_scorer {
  unsigned seed;
  int V;
} hash_scorer;

static asr_result hash_score(void *ctx, asr_real *logp, int t, const int *prefix, int n) {
  const hash_scorer *h = (const hash_scorer *)ctx;
  unsigned long x = 2166136261ul ^ h->seed;
  asr_real z[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i, k;
  if (h->V > 8) return ASR_ERR_RANGE;
  x = (x ^ (unsigned long)t) * 16777619ul;
  for (i = 0; i < n; i++) x = ((x ^ (unsigned long)(prefix[i] + 1)) * 16777619ul) & 0xfffffffful;
  for (k = 0; k < h->V; k++) {
    x = (x * 1103515245ul + 12345ul) & 0xfffffffful;
    z[k] = (asr_real)(((double)(x >> 8) / 16777216.0) * 5 - 2.5);
  }
  asr_log_softmax(logp, z, h->V);
  return ASR_OK;
}

/* A scorer whose distribution is the same on every frame after every prefix. */
static asr_result const_score(void *ctx, asr_real *logp, int t, const int *prefix, int n) {
  const double *p = (const double *)ctx;
  int k;
  (void)t, (void)prefix, (void)n;
  for (k = 0; k < 5; k++) logp[k] = (asr_real)log(p[k]);
  return ASR_OK;
}

/* _ref (a beam that prunes nothing, max_symbols = max_tokens: every alignment kept, no
 * length normalization) against _naive (every allowed labelling, its exact ln Pr(y|x)),
 * 120 random transducers, half of them with the LM; then a case by hand: on one frame
 * with the same distribution everywhere, Pr(y|x) = prod_u p(y_u) p(blank), so with
 * p = (blank .5, space .05, a .3, b .1, c .05), lexicon {ca, b} and beta = 3:
 *   ""  ln .5 = -0.693;  "b"  ln(.1 .5) + 3 = 0.004;  "ca"  ln(.05 .3 .5) + 3 = -1.893;
 *   "b " ln(.1 .05 .5) + 3 = -2.991;  "b b"  ln(.1 .05 .1 .5) + 6 = -2.294
 * and "b" is the answer with score ln 0.05 + 3. */
static void t_rnnt_lexicon_naive_vs_ref(tctx *t) {
  const char *words[] = {"ab", "b", "ca", "a"};
  const char *sents[] = {"ab b", "b ab", "ca", "ab ab b"};
  const char *two[] = {"ca", "b"};
  const double p[5] = {0.5, 0.05, 0.3, 0.1, 0.05};
  asr_lexicon lex, lex2;
  asr_ngram lm;
  asr_error err;
  asr_rng rng;
  int trial, i, fused = 0, words_seen = 0, tok[48], n;
  double s, worst = 0;
  size_t wb;
  void *w;
  asr_rnnt_lexicon_opts o;
  CHECK(asr_lexicon_build(&lex, words, 4, LEX_ALPHABET, 0, 1, &err) == ASR_OK);
  CHECK(asr_lexicon_build(&lex2, two, 2, LEX_ALPHABET, 0, 1, &err) == ASR_OK);
  CHECK(asr_ngram_train(&lm, sents, 4, 2, &err) == ASR_OK);
  asr_rng_seed(&rng, 7, 1);
  o = asr_rnnt_lexicon_opts_default(&lex, 256, 1);
  o.search.max_symbols = 4;
  o.search.length_norm = 0;
  wb = asr_rnnt_lexicon_workspace_size(3, 5, 4, &o);
  w = malloc(wb);
  CHECK(w != NULL);
  for (trial = 0; trial < 120 && w; trial++) {
    hash_scorer h;
    int T = 1 + asr_rng_int(&rng, 3), n1 = -1, n2 = -2, tk1[8], tk2[8];
    double s1 = 0, s2 = 1;
    asr_result r1, r2;
    h.seed = 1000u + (unsigned)trial, h.V = 5;
    o.lm = NULL, o.lm_weight = 0, o.word_bonus = 0;
    if (trial % 2) {
      o.lm = &lm;
      o.lm_weight = 0.3 + asr_rng_uniform(&rng);
      o.word_bonus = asr_rng_normal(&rng);
      fused++;
    }
    r1 = asr_rnnt_lexicon_decode_naive(tk1, &n1, &s1, 4, hash_score, &h, T, 5, 0, &o, w, wb);
    r2 = asr_rnnt_lexicon_decode_ref(tk2, &n2, &s2, 4, hash_score, &h, T, 5, 0, &o, w, wb);
    CHECKF(r1 == ASR_OK && r2 == ASR_OK, "trial %d: naive %d, ref %d", trial, r1, r2);
    CHECKF(n1 == n2 && fabs(s1 - s2) < (ASR_REAL_DOUBLE ? 1e-9 : 1e-5),
           "trial %d (T=%d): %d tokens, score %.9f vs %d, %.9f", trial, T, n1, s1, n2, s2);
    for (i = 0; i < n1 && i < n2; i++) CHECKF(tk1[i] == tk2[i], "trial %d: token %d differs", trial, i);
    if (fabs(s1 - s2) > worst) worst = fabs(s1 - s2);
    words_seen += n1 > 0;
  }
  CHECKF(words_seen > 60 && fused == 60, "%d non-empty results, %d fused", words_seen, fused);
  /* the case by hand, both tiers */
  o = asr_rnnt_lexicon_opts_default(&lex2, 64, 1);
  o.search.max_symbols = 3;
  o.search.length_norm = 0;
  o.word_bonus = 3;
  CHECK(asr_rnnt_lexicon_decode(tok, &n, &s, 3, const_score, (void *)p, 1, 5, 0, &o, w, wb) == ASR_OK);
  CHECKF(n == 1 && tok[0] == 3, "%d tokens, not \"b\"", n);
  CHECK_NEAR(s, log(0.05) + 3, 1e-6);
  CHECK(asr_rnnt_lexicon_decode_naive(tok, &n, &s, 3, const_score, (void *)p, 1, 5, 0, &o, w, wb) == ASR_OK);
  CHECK(n == 1 && tok[0] == 3);
  CHECK_NEAR(s, log(0.05) + 3, 1e-6);
  /* no frames: the empty labelling (no words, ln P_LM(</s>|<s>) without an LM: 0) */
  CHECK(asr_rnnt_lexicon_decode(tok, &n, &s, 3, const_score, (void *)p, 0, 5, 0, &o, w, wb) == ASR_OK);
  CHECK(n == 0 && s == 0);
  /* bad options */
  o.space = 0;
  CHECK(asr_rnnt_lexicon_decode(tok, &n, &s, 3, const_score, (void *)p, 1, 5, 0, &o, w, wb) == ASR_ERR_RANGE);
  o.space = 1;
  o.lm_weight = NAN;
  CHECK(asr_rnnt_lexicon_decode(tok, &n, &s, 3, const_score, (void *)p, 1, 5, 0, &o, w, wb) == ASR_ERR_NONFINITE);
  o.lm_weight = 0;
  CHECK(asr_rnnt_lexicon_decode(tok, &n, &s, 3, const_score, (void *)p, 1, 4, 0, &o, w, wb) == ASR_ERR_SHAPE);
  CHECK(asr_rnnt_lexicon_decode(tok, &n, &s, 3, const_score, (void *)p, 1, 5, 0, &o, w, 16) == ASR_ERR_WORKSPACE);
  free(w);
  wb = asr_rnnt_lexicon_workspace_size(4, 5, 12, &o);      /* 4^12 labellings: too many */
  w = malloc(wb);
  CHECK(w && asr_rnnt_lexicon_decode_naive(tok, &n, &s, 12, const_score, (void *)p, 4, 5, 0, &o, w, wb) ==
                 ASR_ERR_TOO_LARGE);
  free(w);
  wb = asr_rnnt_lexicon_workspace_size(0, 5, 40, &o);      /* no frames, but 4^40 labellings to spell */
  w = malloc(wb);
  CHECK(w && asr_rnnt_lexicon_decode_naive(tok, &n, &s, 40, const_score, (void *)p, 0, 5, 0, &o, w, wb) ==
                 ASR_ERR_TOO_LARGE);
  free(w);
  asr_lexicon_free(&lex);
  asr_lexicon_free(&lex2);
  asr_ngram_free(&lm);
  snprintf(t->msg, sizeof t->msg, "120 transducers, ref vs naive within %.1e", worst);
}

static const test_case TESTS_lexicon[] = {
  {"lexicon/rnnt_naive_vs_ref", t_rnnt_lexicon_naive_vs_ref},
  {"lexicon/tree", t_lexicon_tree},
  {"lexicon/ngram_normalized", t_ngram_normalized},
  {"lexicon/ngram_arpa", t_ngram_arpa},
  {"lexicon/naive_vs_ref", t_lexicon_naive_vs_ref},
  {"lexicon/constrains", t_lexicon_constrains},
  {NULL, NULL},
};
