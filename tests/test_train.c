/* tests/test_train.c - section 9: text, error rates, parameters, checkpoints. */

static void t_text_roundtrip(tctx *t) {
  int ids[64], n;
  char out[64];
  asr_error err;
  n = asr_text_encode("  Three  ONE\tfour ", ids, 64, &err);
  CHECK(n == 14);
  CHECK(asr_text_decode(ids, n, out, sizeof out) == 14);
  CHECK(strcmp(out, "three one four") == 0);
  CHECK(ids[0] == 3 + ('t' - 'a') && ids[5] == 1);   /* 't' and the space */
  n = asr_text_encode("don't", ids, 64, &err);
  CHECK(n == 5 && ids[3] == 2);
  CHECK(asr_text_encode("caf\xc3\xa9", ids, 64, &err) == ASR_ERR_RANGE);
  CHECK(strstr(err.msg, "position 3") != NULL);
  CHECK(asr_text_encode("a_b", ids, 64, &err) == ASR_ERR_RANGE);   /* '_' is the blank's glyph */
  CHECK(asr_text_encode("abcdef", ids, 3, &err) == ASR_ERR_TOO_LARGE);
  CHECK(asr_text_encode("", ids, 64, &err) == 0);
  {
    int bad[2] = {3, 29};
    CHECK(asr_text_decode(bad, 2, out, sizeof out) == -1);
  }
}

/* Levenshtein distances of textbook pairs: kitten -> sitting is 3 (k->s, e->i, +g),
 * flaw -> lawn is 2, and the distance to an empty string is the length. */
static void t_edit_distance(tctx *t) {
  int work[16], a[6] = {'k', 'i', 't', 't', 'e', 'n'}, b[7] = {'s', 'i', 't', 't', 'i', 'n', 'g'};
  int c[4] = {'f', 'l', 'a', 'w'}, d[4] = {'l', 'a', 'w', 'n'};
  CHECK(asr_edit_distance(a, 6, b, 7, work) == 3);
  CHECK(asr_edit_distance(b, 7, a, 6, work) == 3);
  CHECK(asr_edit_distance(c, 4, d, 4, work) == 2);
  CHECK(asr_edit_distance(a, 6, a, 0, work) == 6);
  CHECK(asr_edit_distance(a, 0, b, 7, work) == 7);
}

static void t_error_rates(tctx *t) {
  int work[3 * 64];
  long e = 0, n = 0;
  asr_cer_counts("three one", "tree one", work, &e, &n);
  CHECK(e == 1 && n == 9);
  e = n = 0;
  asr_wer_counts("three one four", "three four four five", work, &e, &n);
  CHECK(e == 2 && n == 3);                /* one substitution, one insertion */
  e = n = 0;
  asr_wer_counts("one", "", work, &e, &n);
  CHECK(e == 1 && n == 1);
}

static void make_params(asr_params *p, asr_params *b) {
  int64_t s1[2] = {4, 3}, s2[1] = {4}, s3[3] = {2, 1, 5};
  asr_params_init(p, NULL);
  asr_params_init(b, NULL);
  asr_params_add(p, "encoder.0.weight", 2, s1);
  asr_params_add(p, "encoder.0.bias", 1, s2);
  asr_params_add(p, "conv.weight", 3, s3);
  asr_params_add(b, "bn.running_mean", 1, s2);
}

static void t_params_layout(tctx *t) {
  asr_params p, b;
  int64_t s1[2] = {4, 3};
  asr_rng rng;
  size_t i;
  make_params(&p, &b);
  CHECK(p.count == 3 && p.total == 12 + 4 + 10);
  CHECK(asr_params_add(&p, "encoder.0.bias", 2, s1) < 0);   /* duplicate name */
  CHECK_OK(asr_params_alloc(&p));
  CHECK(asr_params_ptr(&p, 1) == p.data + 12 && asr_params_grad_ptr(&p, 2) == p.grad + 16);
  CHECK(asr_params_find(&p, "conv.weight") == 2 && asr_params_find(&p, "nope") == -1);
  asr_rng_seed(&rng, 3, 0);
  asr_params_init_uniform(&p, &rng);
  for (i = 0; i < 12; i++) CHECK(fabs(p.data[i]) <= 1 / sqrt(3.0) && p.data[i] != 0);
  for (i = 12; i < 16; i++) CHECK(p.data[i] == 0);           /* 1-D: left alone */
  for (i = 16; i < 26; i++) CHECK(fabs(p.data[i]) <= 1 / sqrt(5.0));
  asr_params_free(&p);
  asr_params_free(&b);
}

/* save -> load reproduces every value bit for bit (float32 on disk, so the double build
 * compares after rounding to float), with the config text. */
static void t_checkpoint_roundtrip(tctx *t) {
  asr_params p, b, q, c;
  asr_rng rng;
  asr_error err;
  char path[512], *cfg = NULL;
  size_t i;
  make_params(&p, &b);
  make_params(&q, &c);
  CHECK_OK(asr_params_alloc(&p));
  CHECK_OK(asr_params_alloc(&b));
  CHECK_OK(asr_params_alloc(&q));
  CHECK_OK(asr_params_alloc(&c));
  asr_rng_seed(&rng, 4, 0);
  for (i = 0; i < p.total; i++) p.data[i] = (asr_real)(float)asr_rng_normal(&rng);
  for (i = 0; i < b.total; i++) b.data[i] = (asr_real)(float)asr_rng_normal(&rng);
  snprintf(path, sizeof path, "%s/model.npz", t->tmpdir);
  CHECK_OK(asr_checkpoint_save(path, &p, &b, "{\"recipe\": \"test\"}", &err));
  CHECK_OK(asr_checkpoint_load(path, &q, &c, &cfg, NULL, &err));
  CHECK(memcmp(p.data, q.data, sizeof(asr_real) * p.total) == 0);
  CHECK(memcmp(b.data, c.data, sizeof(asr_real) * b.total) == 0);
  CHECK(cfg && strcmp(cfg, "{\"recipe\": \"test\"}") == 0);
  free(cfg);
  asr_params_free(&p);
  asr_params_free(&b);
  asr_params_free(&q);
  asr_params_free(&c);
}

/* A checkpoint of another model: missing, extra and reshaped tensors are named, and the
 * model is left untouched. */
static void t_checkpoint_mismatch(tctx *t) {
  asr_params p, b, q, b2;
  asr_error err;
  char path[512];
  int64_t s[1] = {7};
  make_params(&p, &b);
  CHECK_OK(asr_params_alloc(&p));
  CHECK_OK(asr_params_alloc(&b));
  snprintf(path, sizeof path, "%s/m.npz", t->tmpdir);
  CHECK_OK(asr_checkpoint_save(path, &p, &b, NULL, &err));
  /* the loader expects one tensor more */
  make_params(&q, &b2);
  asr_params_add(&q, "extra.weight", 1, s);
  CHECK_OK(asr_params_alloc(&q));
  q.data[0] = 42;
  CHECK(asr_checkpoint_load(path, &q, NULL, NULL, NULL, &err) == ASR_ERR_FORMAT);
  CHECK(strstr(err.msg, "extra.weight") != NULL && q.data[0] == 42);
  asr_params_free(&q);
  asr_params_free(&b2);
  /* the file has a tensor the model does not know (the buffers were not asked for) */
  CHECK(asr_checkpoint_load(path, &p, NULL, NULL, NULL, &err) == ASR_ERR_FORMAT);
  CHECK(strstr(err.msg, "bn.running_mean") != NULL);
  asr_params_free(&p);
  asr_params_free(&b);
}

static const test_case TESTS_train[] = {
  {"train/text_roundtrip", t_text_roundtrip},
  {"train/edit_distance", t_edit_distance},
  {"train/error_rates", t_error_rates},
  {"train/params_layout", t_params_layout},
  {"train/checkpoint_roundtrip", t_checkpoint_roundtrip},
  {"train/checkpoint_mismatch", t_checkpoint_mismatch},
  {0, 0}
};
