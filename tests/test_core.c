/* tests/test_core.c - section 1: results, rng, log-sum-exp, softmax, GEMM, .npy/.npz,
 * gradient check. */

static void t_result_strings(tctx *t) {
  int c;
  for (c = -10; c <= 1; c++) {
    const char *s = asr_result_string((asr_result)c);
    CHECKF(s && s[0] && strcmp(s, "unknown result code") != 0, "code %d has no name", c);
  }
  CHECK(strcmp(asr_result_string((asr_result)-99), "unknown result code") == 0);
}

/* Same seed, same stream: same numbers; another stream: other numbers. */
static void t_rng_deterministic(tctx *t) {
  asr_rng a, b, c;
  int i, same_c = 0;
  asr_rng_seed(&a, 42, 7);
  asr_rng_seed(&b, 42, 7);
  asr_rng_seed(&c, 42, 8);
  for (i = 0; i < 1000; i++) {
    uint32_t x = asr_rng_u32(&a), y = asr_rng_u32(&b), z = asr_rng_u32(&c);
    CHECK(x == y);
    same_c += (x == z);
  }
  CHECK(same_c < 5);
}

/* The reference PCG32 stream (pcg32-demo from O'Neill's pcg-c-basic, seeded with
 * initstate 42, initseq 54) begins 0xa15c02b7 0x7b47f409 0xba1d3330 0x83d2f293. */
static void t_rng_pcg32_reference(tctx *t) {
  static const uint32_t expect[4] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u, 0x83d2f293u};
  asr_rng r;
  int i;
  asr_rng_seed(&r, 42, 54);
  for (i = 0; i < 4; i++) {
    uint32_t v = asr_rng_u32(&r);
    CHECKF(v == expect[i], "draw %d: 0x%08x, expected 0x%08x", i, (unsigned)v, (unsigned)expect[i]);
  }
}

/* Moments of 200000 draws. Standard errors: uniform mean 0.29/sqrt(n) = 6.5e-4, normal
 * mean 1/sqrt(n) = 2.2e-3, Gumbel mean (Euler's gamma 0.5772) pi/sqrt(6n) = 2.9e-3;
 * tolerances are 5 standard errors, so a correct generator fails about once in 10^6. */
static void t_rng_moments(tctx *t) {
  asr_rng r;
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0, sg = 0, umin = 1, umax = 0;
  int i, counts[7] = {0};
  asr_rng_seed(&r, 1234, 1);
  for (i = 0; i < n; i++) {
    double u = asr_rng_uniform(&r), z = asr_rng_normal(&r), g = asr_rng_gumbel(&r);
    su += u;
    sn += z;
    sn2 += z * z;
    sg += g;
    if (u < umin) umin = u;
    if (u > umax) umax = u;
    counts[asr_rng_int(&r, 7)]++;
  }
  CHECK(umin > 0 && umax < 1);
  CHECK_NEAR(su / n, 0.5, 5 * 6.5e-4);
  CHECK_NEAR(sn / n, 0.0, 5 * 2.2e-3);
  CHECK_NEAR(sn2 / n, 1.0, 5 * 3.2e-3);   /* sd of z^2 is sqrt(2) */
  CHECK_NEAR(sg / n, 0.5772156649, 5 * 2.9e-3);
  for (i = 0; i < 7; i++) CHECK_NEAR(counts[i] / (double)n, 1.0 / 7, 5 * 7.8e-4);
}

static void t_logsumexp(tctx *t) {
  asr_real x[4] = {1000, 1000, -INFINITY, 999};
  asr_real ninf[3] = {-INFINITY, -INFINITY, -INFINITY};
  asr_real small[3] = {-1, 0, 2};
  double direct = log(exp(-1.0) + exp(0.0) + exp(2.0));
  /* 1000 + log(2 + e^-1): would overflow if computed directly */
  CHECK_NEAR(asr_logsumexp(x, 4), 1000 + log(2 + exp(-1.0)), 1e-3);
  CHECK(asr_logsumexp(ninf, 3) == -INFINITY);
  CHECK_NEAR(asr_logsumexp(small, 3), direct, 1e-12 + (ASR_REAL_DOUBLE ? 0 : 1e-6));
  CHECK(asr_logaddexp(-INFINITY, -INFINITY) == -INFINITY);
  CHECK_NEAR(asr_logaddexp(3, 3), 3 + log(2.0), 1e-15);
  CHECK_NEAR(asr_logaddexp(-800, -801), -800 + log1p(exp(-1.0)), 1e-12);
}

static void t_softmax(tctx *t) {
  asr_real x[5] = {3, -2, 1e3f, 7, -INFINITY}, y[5], ly[5];
  double s = 0;
  int i;
  asr_softmax(y, x, 5);
  asr_log_softmax(ly, x, 5);
  for (i = 0; i < 5; i++) {
    CHECK(y[i] >= 0 && y[i] <= 1);
    s += y[i];
  }
  CHECK_NEAR(s, 1.0, 1e-6);
  CHECK(y[4] == 0 && ly[4] == -INFINITY);
  CHECK_NEAR(ly[2], 0.0, 1e-6);
  CHECK_NEAR(ly[3], 7.0 - 1e3, 1e-3);
  /* in place */
  asr_log_softmax(x, x, 5);
  CHECK(max_abs_diff(x, ly, 4) == 0);
}

/* Gradient check of softmax and log_softmax backward, objective sum_i w_i y_i. */
typedef struct sm_ctx {
  asr_real *x, *w;
  int n, log;
} sm_ctx;
static double sm_objective(void *vctx) {
  sm_ctx *c = (sm_ctx *)vctx;
  asr_real y[16];
  double f = 0;
  int i;
  if (c->log) asr_log_softmax(y, c->x, c->n);
  else asr_softmax(y, c->x, c->n);
  for (i = 0; i < c->n; i++) f += (double)c->w[i] * y[i];
  return f;
}
static void t_softmax_gradcheck(tctx *t) {
  asr_rng rng;
  asr_real x[9], w[9], y[9], dx[9];
  sm_ctx c;
  asr_gradcheck_param p;
  asr_gradcheck_report rep;
  double tol = ASR_REAL_DOUBLE ? 1e-7 : 2e-2;
  int log;
  asr_rng_seed(&rng, 5, 0);
  for (log = 0; log < 2; log++) {
    fill_uniform(&rng, x, 9, -3, 3);
    fill_uniform(&rng, w, 9, -1, 1);
    c.x = x;
    c.w = w;
    c.n = 9;
    c.log = log;
    memset(dx, 0, sizeof dx);
    if (log) {
      asr_log_softmax(y, x, 9);
      asr_log_softmax_backward(dx, y, w, 9);
    } else {
      asr_softmax(y, x, 9);
      asr_softmax_backward(dx, y, w, 9);
    }
    p.name = "x";
    p.x = x;
    p.grad = dx;
    p.n = 9;
    CHECK_OK(asr_gradcheck(sm_objective, &c, &p, 1, NULL, &rng, &rep));
    CHECKF(rep.max_rel_err < tol, "%s: worst rel. error %.3g at %ld", log ? "log_softmax" : "softmax",
           rep.max_rel_err, rep.worst_index);
    CHECK(rep.checks == 9);
  }
}

/* The checker must notice a wrong gradient, per element and along directions. */
static void t_gradcheck_catches_errors(tctx *t) {
  asr_rng rng;
  asr_real x[200], w[200], y[200], dx[200];
  sm_ctx c;
  asr_gradcheck_param p;
  asr_gradcheck_report rep;
  asr_gradcheck_opts o;
  int n;
  asr_rng_seed(&rng, 6, 0);
  for (n = 9; n <= 16; n += 7) {
    fill_uniform(&rng, x, (size_t)n, -3, 3);
    fill_uniform(&rng, w, (size_t)n, -1, 1);
    c.x = x;
    c.w = w;
    c.n = n;
    c.log = 1;
    memset(dx, 0, sizeof dx);
    asr_log_softmax(y, x, n);
    asr_log_softmax_backward(dx, y, w, n);
    dx[3] += 0.05f;                       /* a wrong entry */
    memset(&o, 0, sizeof o);
    o.max_elements = n == 9 ? 64 : 4;     /* n = 16: checked along random directions */
    o.directions = 16;
    p.name = "x";
    p.x = x;
    p.grad = dx;
    p.n = (size_t)n;
    CHECK_OK(asr_gradcheck(sm_objective, &c, &p, 1, &o, &rng, &rep));
    CHECKF(rep.max_rel_err > 1e-2, "n=%d: a wrong gradient passed (worst %.3g)", n, rep.max_rel_err);
    CHECK(n == 9 ? rep.worst_index == 3 : rep.worst_index < 0);
  }
}

/* GEMM: every transpose combination, odd sizes crossing the block edges, row strides
 * larger than the width, alpha/beta, naive against ref and the fast path. Both sum the
 * same K products; float rounding differs by the summation order: bound 1e-5 relative
 * to sum_k |a_ik b_kj| (K = 300 terms of eps 6e-8). */
static void t_gemm(tctx *t) {
  static const int sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 260, 129}, {33, 31, 300}};
  asr_rng rng;
  int s, ta, tb;
  asr_rng_seed(&rng, 9, 0);
  for (s = 0; s < 4; s++)
    for (ta = 0; ta < 2; ta++)
      for (tb = 0; tb < 2; tb++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
        asr_real *A = TALLOC(asr_real, (size_t)lda * (ta ? K : M));
        asr_real *B = TALLOC(asr_real, (size_t)ldb * (tb ? N : K));
        asr_real *C0 = TALLOC(asr_real, (size_t)ldc * M);
        asr_real *C1 = TALLOC(asr_real, (size_t)ldc * M);
        asr_real *C2 = TALLOC(asr_real, (size_t)ldc * M);
        double d1, d2;
        fill_uniform(&rng, A, (size_t)lda * (ta ? K : M), -1, 1);
        fill_uniform(&rng, B, (size_t)ldb * (tb ? N : K), -1, 1);
        fill_uniform(&rng, C0, (size_t)ldc * M, -1, 1);
        memcpy(C1, C0, sizeof(asr_real) * (size_t)ldc * M);
        memcpy(C2, C0, sizeof(asr_real) * (size_t)ldc * M);
        asr_gemm_naive(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 2.0f, C0, ldc);
        asr_gemm_ref(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 2.0f, C1, ldc);
        asr_gemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 2.0f, C2, ldc);
        d1 = max_abs_diff(C0, C1, (size_t)ldc * M);
        d2 = max_abs_diff(C0, C2, (size_t)ldc * M);
        free(A);
        free(B);
        free(C0);
        free(C1);
        free(C2);
        CHECKF(d1 <= 1e-5 * K && d2 <= 1e-5 * K, "M=%d N=%d K=%d ta=%d tb=%d: ref %.3g fast %.3g",
               M, N, K, ta, tb, d1, d2);
      }
}

/* beta = 0 must not read C (BLAS semantics): NaN garbage in C is overwritten. */
static void t_gemm_beta0_ignores_c(tctx *t) {
  asr_real A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4];
  int k;
  for (k = 0; k < 3; k++) {
    int i;
    for (i = 0; i < 4; i++) C[i] = (asr_real)NAN;
    if (k == 0) asr_gemm_naive(0, 0, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2);
    if (k == 1) asr_gemm_ref(0, 0, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2);
    if (k == 2) asr_gemm(0, 0, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2);
    /* [1 2 3; 4 5 6] [1 0; 0 1; 1 1] = [4 5; 10 11] */
    CHECK(C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11);
  }
}

static void t_npy_roundtrip(tctx *t) {
  char path[512];
  int64_t shapes[4][3] = {{0, 0, 0}, {5, 0, 0}, {2, 3, 0}, {2, 0, 4}};
  int ndims[4] = {0, 1, 2, 3};
  asr_dtype dt;
  for (dt = ASR_DTYPE_F32; dt <= ASR_DTYPE_U8; dt = (asr_dtype)(dt + 1)) {
    int s;
    for (s = 0; s < 4; s++) {
      unsigned char data[64 * 8];
      asr_array a;
      asr_error err;
      size_t count = 1, i, nbytes;
      int d;
      for (d = 0; d < ndims[s]; d++) count *= (size_t)shapes[s][d];
      nbytes = count * asr_dtype_size(dt);
      for (i = 0; i < nbytes; i++) data[i] = (unsigned char)(i * 37 + 11);
      if (dt == ASR_DTYPE_F32 || dt == ASR_DTYPE_F64)   /* keep floats finite and not NaN */
        for (i = 0; i < count; i++) {
          if (dt == ASR_DTYPE_F32) ((float *)data)[i] = (float)i * 0.25f - 1;
          else ((double *)data)[i] = (double)i / 3.0;
        }
      snprintf(path, sizeof path, "%s/a_%d_%d.npy", t->tmpdir, (int)dt, s);
      CHECK_OK(asr_npy_write(path, dt, ndims[s], shapes[s], data, &err));
      CHECK_OK(asr_npy_read(path, &a, NULL, &err));
      CHECK(a.dtype == dt && a.ndim == ndims[s] && a.count == count);
      for (d = 0; d < ndims[s]; d++) CHECK(a.shape[d] == shapes[s][d]);
      CHECK(nbytes == 0 || memcmp(a.data, data, nbytes) == 0);
      asr_array_free(&a, NULL);
    }
  }
}

/* The header layout numpy itself writes: magic, version, little-endian length, a dict
 * padded with spaces to a multiple of 64 bytes, ending in '\n'. */
static void t_npy_header_layout(tctx *t) {
  unsigned char buf[256];
  size_t len;
  int64_t shape[2] = {2, 3};
  float data[8] = {0};
  const char *expect = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  int64_t shape1[1] = {7};
  CHECK_OK(asr_npy_encode(buf, sizeof buf, &len, ASR_DTYPE_F32, 2, shape, data));
  CHECK(len == 128 + 24);
  CHECK(memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0 && buf[8] == 118 && buf[9] == 0);
  CHECK(memcmp(buf + 10, expect, strlen(expect)) == 0 && buf[127] == '\n');
  CHECK_OK(asr_npy_encode(buf, sizeof buf, &len, ASR_DTYPE_I32, 1, shape1, data));
  buf[len - 4] = 0;   /* the data bytes follow the header; make the header a C string */
  CHECK(strstr((const char *)buf + 10, "'shape': (7,)") != NULL);
}

/* Hand-written files of the variants numpy can produce: version 2.0, big endian,
 * a 1-D Fortran-order array (allowed: same bytes), Python 2 'L' suffixes. */
static void t_npy_variants(tctx *t) {
  unsigned char buf[256];
  asr_array a;
  asr_error err;
  const char *h = "{'descr': '>i4', 'fortran_order': True, 'shape': (2L,), }";
  size_t hl = strlen(h), n = 0;
  memcpy(buf, "\x93NUMPY\x02\x00", 8);
  buf[8] = (unsigned char)hl;
  buf[9] = buf[10] = buf[11] = 0;
  memcpy(buf + 12, h, hl);
  n = 12 + hl;
  memcpy(buf + n, "\x00\x00\x01\x02\xff\xff\xff\xfe", 8);
  n += 8;
  CHECK_OK(asr_npy_parse(buf, n, &a, NULL, &err));
  CHECK(a.dtype == ASR_DTYPE_I32 && a.ndim == 1 && a.shape[0] == 2);
  CHECK(((int32_t *)a.data)[0] == 258 && ((int32_t *)a.data)[1] == -2);
  asr_array_free(&a, NULL);
}

/* Malformed headers give ASR_ERR_FORMAT / UNSUPPORTED and a message, never a crash. */
static void t_npy_malformed(tctx *t) {
  static const char *const headers[] = {
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3, }",
    "{'descr': '<f4', 'fortran_order': False }",
    "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
    "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
    "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",   /* 1 value short */
    "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
    "'descr'",
  };
  unsigned char buf[256];
  size_t i;
  for (i = 0; i < sizeof headers / sizeof headers[0]; i++) {
    asr_array a;
    asr_error err;
    size_t hl = strlen(headers[i]);
    asr_result r;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)hl;
    buf[9] = 0;
    memcpy(buf + 10, headers[i], hl);
    memset(buf + 10 + hl, 0, 4);
    err.msg[0] = 0;
    r = asr_npy_parse(buf, 10 + hl + 4, &a, NULL, &err);
    CHECKF(r < 0 && err.msg[0], "header %lu accepted: %s", (unsigned long)i, headers[i]);
    CHECK(a.data == NULL);
  }
  {
    asr_array a;
    CHECK(asr_npy_parse("\x93NUMPY", 6, &a, NULL, NULL) == ASR_ERR_FORMAT);
    CHECK(asr_npy_parse("", 0, &a, NULL, NULL) == ASR_ERR_FORMAT);
    CHECK(asr_npy_parse("\x93NUMPY\x01\x00\xff\xff", 10, &a, NULL, NULL) == ASR_ERR_FORMAT);
  }
}

static void t_npy_missing_file(tctx *t) {
  asr_array a;
  asr_error err;
  char path[512];
  snprintf(path, sizeof path, "%s/does_not_exist.npy", t->tmpdir);
  CHECK(asr_npy_read(path, &a, NULL, &err) == ASR_ERR_IO);
  CHECK(strstr(err.msg, "does_not_exist.npy") != NULL);
  /* a directory is not a file */
  CHECK(asr_npy_read(t->tmpdir, &a, NULL, &err) < 0);
}

static void t_array_convert(tctx *t) {
  int64_t shape[1] = {3};
  asr_array a;
  asr_real r[3];
  int v[3];
  asr_error err;
  CHECK_OK(asr_array_alloc(&a, ASR_DTYPE_F64, 1, shape, NULL));
  ((double *)a.data)[0] = 1;
  ((double *)a.data)[1] = -2;
  ((double *)a.data)[2] = 3.5;
  CHECK_OK(asr_array_to_real(&a, r, 0, &err));
  CHECK(r[2] == 3.5f);
  CHECK(asr_array_to_int(&a, v, &err) == ASR_ERR_RANGE);   /* 3.5 is not an integer */
  ((double *)a.data)[2] = NAN;
  CHECK(asr_array_to_real(&a, r, 0, &err) == ASR_ERR_NONFINITE);
  CHECK_OK(asr_array_to_real(&a, r, 1, &err));
  asr_array_free(&a, NULL);
  CHECK_OK(asr_array_alloc(&a, ASR_DTYPE_I64, 1, shape, NULL));
  ((int64_t *)a.data)[1] = (int64_t)1 << 40;
  CHECK(asr_array_to_int(&a, v, &err) == ASR_ERR_RANGE);
  ((int64_t *)a.data)[1] = -7;
  CHECK_OK(asr_array_to_int(&a, v, &err));
  CHECK(v[0] == 0 && v[1] == -7);
  asr_array_free(&a, NULL);
}

static void t_npz_roundtrip(tctx *t) {
  char path[512];
  asr_npz_writer w;
  asr_npz z;
  asr_error err;
  float a[6] = {1, 2, 3, 4, 5, 6};
  int64_t b[2] = {-1, 1LL << 40};
  unsigned char cfg[5] = {'{', '"', 'x', '"', '}'};
  int64_t sa[2] = {2, 3}, sb[1] = {2}, sc[1] = {5};
  const asr_array *x;
  snprintf(path, sizeof path, "%s/m.npz", t->tmpdir);
  CHECK_OK(asr_npz_writer_open(&w, path, NULL, &err));
  CHECK_OK(asr_npz_writer_add(&w, "encoder.0.weight", ASR_DTYPE_F32, 2, sa, a, &err));
  CHECK_OK(asr_npz_writer_add(&w, "steps", ASR_DTYPE_I64, 1, sb, b, &err));
  CHECK_OK(asr_npz_writer_add(&w, "config", ASR_DTYPE_U8, 1, sc, cfg, &err));
  {
    /* nothing under the name until close */
    FILE *fp = fopen(path, "rb");
    CHECK(fp == NULL);
  }
  CHECK_OK(asr_npz_writer_close(&w, &err));
  CHECK_OK(asr_npz_read(path, &z, NULL, &err));
  CHECK(z.count == 3);
  x = asr_npz_get(&z, "encoder.0.weight");
  CHECK(x && x->dtype == ASR_DTYPE_F32 && x->ndim == 2 && x->shape[1] == 3);
  CHECK(memcmp(x->data, a, sizeof a) == 0);
  x = asr_npz_get(&z, "steps");
  CHECK(x && ((int64_t *)x->data)[1] == (1LL << 40));
  x = asr_npz_get(&z, "config");
  CHECK(x && x->dtype == ASR_DTYPE_U8 && memcmp(x->data, cfg, 5) == 0);
  CHECK(asr_npz_get(&z, "nope") == NULL);
  asr_npz_free(&z, NULL);
}

/* Corrupt archives: every truncation, and flipped bytes, fail cleanly (ASan watches). */
static void t_npz_corrupt(tctx *t) {
  char path[512];
  asr_npz_writer w;
  asr_npz z;
  asr_error err;
  float a[4] = {1, 2, 3, 4};
  int64_t sa[1] = {4};
  unsigned char *buf;
  size_t len, cut;
  int ok_count = 0;
  snprintf(path, sizeof path, "%s/c.npz", t->tmpdir);
  CHECK_OK(asr_npz_writer_open(&w, path, NULL, &err));
  CHECK_OK(asr_npz_writer_add(&w, "a", ASR_DTYPE_F32, 1, sa, a, &err));
  CHECK_OK(asr_npz_writer_close(&w, &err));
  CHECK_OK(asr_read_file(path, &buf, &len, NULL, &err));
  for (cut = 0; cut < len; cut++) {
    asr_result r = asr_npz_parse(buf, cut, &z, NULL, &err);
    if (r == ASR_OK) {
      ok_count++;
      asr_npz_free(&z, NULL);
    }
  }
  CHECK(ok_count == 0);
  buf[100] ^= 0x40;   /* inside the data: the CRC-32 must catch it */
  CHECK(asr_npz_parse(buf, len, &z, NULL, &err) == ASR_ERR_FORMAT);
  CHECK(strstr(err.msg, "CRC") != NULL);
  free(buf);
}

/* Atomic writes: a failing write leaves no file behind. */
static void t_write_atomic_failure(tctx *t) {
  char path[512];
  int64_t s[1] = {1};
  float v = 1;
  asr_error err;
  snprintf(path, sizeof path, "%s/no/such/dir/x.npy", t->tmpdir);
  CHECK(asr_npy_write(path, ASR_DTYPE_F32, 1, s, &v, &err) == ASR_ERR_IO);
  CHECK(strstr(err.msg, "x.npy") != NULL);
}

static const test_case TESTS_core[] = {
  {"core/result_strings", t_result_strings},
  {"core/rng_deterministic", t_rng_deterministic},
  {"core/rng_pcg32_reference", t_rng_pcg32_reference},
  {"core/rng_moments", t_rng_moments},
  {"core/logsumexp", t_logsumexp},
  {"core/softmax", t_softmax},
  {"core/softmax_gradcheck", t_softmax_gradcheck},
  {"core/gradcheck_catches_errors", t_gradcheck_catches_errors},
  {"core/gemm_naive_ref_fast", t_gemm},
  {"core/gemm_beta0_ignores_c", t_gemm_beta0_ignores_c},
  {"core/npy_roundtrip", t_npy_roundtrip},
  {"core/npy_header_layout", t_npy_header_layout},
  {"core/npy_variants", t_npy_variants},
  {"core/npy_malformed", t_npy_malformed},
  {"core/npy_missing_file", t_npy_missing_file},
  {"core/array_convert", t_array_convert},
  {"core/npz_roundtrip", t_npz_roundtrip},
  {"core/npz_corrupt", t_npz_corrupt},
  {"core/write_atomic_failure", t_write_atomic_failure},
  {0, 0}
};
