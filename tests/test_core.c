/* tests/test_core.c - section 1: results, rng, log-sum-exp, softmax, GEMM, .npy/.npz,
 * gradient check. */
#include <dirent.h>     /* npy_write_no_partial lists a directory */
#include <sys/wait.h>   /* npy_read_pipe waits for its writer */
#if defined(ASR_THREADS) && defined(_OPENMP)
#include <omp.h>        /* gemm_threads_bits sets the number of threads */
#endif

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

/* The fast tier's softmax rows (asr__softmax_tier, the attention of 4.3 and 7.2) against
 * asr_softmax (double exponentials) on odd lengths with masked tails, unaligned rows,
 * -inf entries, rows spanning 80 nats, and in place. Bound per element, relative:
 * 4 ulp (exp a few ulp, the float sum and the division one each) plus the rounding of the
 * float difference x_i - max, at most |x_i - max| 2^-24 absolute in the exponent. */
static void t_softmax_fast(tctx *t) {
#if defined(ASR_TEST_SEPARATE_IMPL)
  SKIP("a private kernel: the separate-implementation build sees only the public API");
#else
  static const int lens[] = {1, 2, 7, 8, 9, 15, 17, 33, 64, 65, 147, 300};
  asr_rng rng;
  double worst = 0;
  size_t li;
  int i;
  asr_rng_seed(&rng, 31, 0);
  for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
    int n = lens[li];
    asr_real *xb = TALLOC(asr_real, (size_t)n + 1), *x = xb + 1, *y = TALLOC(asr_real, n);
    asr_real *f = TALLOC(asr_real, (size_t)n + 1);
    fill_uniform(&rng, x, (size_t)n, -40, 40);
    if (n > 3) x[n / 2] = -INFINITY;
    double mx = -INFINITY;
    asr_softmax(y, x, n);
    asr__softmax_tier(ASR__TIER_FAST, f + 1, x, n);       /* unaligned in and out */
    for (i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (i = 0; i < n; i++) {
      double r = fabs((double)f[1 + i] - y[i]) / (y[i] > 0 ? (double)y[i] : 1.0);
      double bound = 4 * 1.2e-7 + (mx - x[i]) * 5.9604644775390625e-8;   /* 2^-24 */
      if (y[i] == 0) CHECKF(f[1 + i] == 0, "n %d: element %d is %g, not 0", n, i, (double)f[1 + i]);
      else if (r / bound > worst) worst = r / bound;
    }
    asr__softmax_tier(ASR__TIER_FAST, x, x, n);            /* in place gives the same */
    mx = max_abs_diff(x, f + 1, (size_t)n);
    free(xb), free(y), free(f);
    CHECKF(mx == 0, "n %d: in place differs", n);
  }
  CHECKF(worst <= 1, "an element's error is %.2f times its bound", worst);
  snprintf(t->msg, sizeof t->msg, "worst error %.2f of its bound against asr_softmax (12 lengths, 1..300)", worst);
#endif
}

/* The fast tier's GLU on channels-last rows (asr__glu_forward_tier / _backward_tier, the
 * Conformer convolution module's) against asr_glu_forward / asr_glu_backward (double
 * sigmoid), for widths with masked tails, gates from -100 to 100 (exp's saturation), and
 * gradients added onto a pre-filled dx. Bound per element, absolute: 8 float ulp of the
 * product's magnitude (|a| forward; |dy| and |dy a| backward, plus the pre-fill's own
 * rounding): exp a few ulp, 1 + e^-b, the division, the products and 1 - s one each. */
static void t_glu_fast(tctx *t) {
#if defined(ASR_TEST_SEPARATE_IMPL)
  SKIP("a private kernel: the separate-implementation build sees only the public API");
#else
  static const int widths[] = {1, 7, 8, 9, 17, 144};
  const double u = 5.9604644775390625e-8;   /* 2^-24 */
  asr_rng rng;
  double worst = 0;
  size_t wi, k;
  int m, c;
  asr_rng_seed(&rng, 37, 0);
  for (wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
    const int M = 3, C = widths[wi];
    const size_t nx = (size_t)M * 2 * C, ny = (size_t)M * C;
    asr_real *x = TALLOC(asr_real, nx), *g = TALLOC(asr_real, ny), *y = TALLOC(asr_real, ny);
    asr_real *yf = TALLOC(asr_real, ny), *dx = TALLOC(asr_real, nx), *dxf = TALLOC(asr_real, nx);
    fill_uniform(&rng, x, nx, -3, 3);
    fill_uniform(&rng, g, ny, -2, 2);
    for (m = 0; m < M; m++)                     /* gates over the whole range */
      for (c = 0; c < C; c++) x[(size_t)m * 2 * C + C + c] = (asr_real)(-100 + 200 * asr_rng_uniform(&rng));
    for (k = 0; k < nx; k++) dx[k] = dxf[k] = (asr_real)0.25;
    CHECK_OK(asr_glu_forward(y, x, M, C, 1));
    CHECK_OK(asr__glu_forward_tier(ASR__TIER_FAST, yf, x, M, C));
    CHECK_OK(asr_glu_backward(dx, g, x, M, C, 1));
    CHECK_OK(asr__glu_backward_tier(ASR__TIER_FAST, dxf, g, x, M, C));
    for (m = 0; m < M; m++)
      for (c = 0; c < C; c++) {
        size_t ia = (size_t)m * 2 * C + c, ib = ia + C, iy = (size_t)m * C + c;
        double a = fabs(x[ia]), gy = fabs(g[iy]);
        double e[3], b[3];
        int j;
        e[0] = fabs((double)yf[iy] - y[iy]), b[0] = 8 * u * a + 1e-38;
        e[1] = fabs((double)dxf[ia] - dx[ia]), b[1] = 8 * u * (gy + 0.25);
        e[2] = fabs((double)dxf[ib] - dx[ib]), b[2] = 8 * u * (gy * a + 0.25);
        for (j = 0; j < 3; j++) worst = e[j] / b[j] > worst ? e[j] / b[j] : worst;
      }
    free(x), free(g), free(y), free(yf), free(dx), free(dxf);
  }
  CHECKF(worst <= 1, "an element's error is %.2f times its bound", worst);
  snprintf(t->msg, sizeof t->msg, "worst error %.2f of its bound against asr_glu_* (6 widths, gates -100..100)",
           worst);
#endif
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
  /* odd sizes on both sides of the micro-kernels' 6/12 rows and 16/32 columns and of the
   * 256-step k blocks */
  static const int sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 260, 129}, {33, 31, 300}, {7, 17, 33},
                                 {13, 65, 65}, {65, 33, 513}};
  asr_rng rng;
  int s, ta, tb;
  asr_rng_seed(&rng, 9, 0);
  for (s = 0; s < 7; s++)
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

/* The SIMD GEMM's bits, from a scalar statement of its summation order: C = beta C, then
 * per block of 256 steps of k one fused multiply-add chain acc = fma(a_ik, b_kj, acc) from
 * 0 in k order, then C += alpha acc, fused (fmaf) in whole groups of 16 columns of a panel
 * and a multiply and an add in the last N mod 16 columns. The AVX-512 (12 x 32), AVX2
 * (6 x 16) and NEON (6 x 16, make test-arm) kernels all follow it, so the builds give the
 * same bits. Unaligned pointers (one float past an allocation), every transpose, sizes
 * crossing the edges. */
static void t_gemm_simd_bits(tctx *t) {
#if (defined(ASR_SIMD_AVX2) || defined(ASR_SIMD_NEON)) && !ASR_REAL_DOUBLE
  static const int sizes[][3] = {{1, 1, 1}, {7, 17, 33}, {13, 47, 257}, {25, 65, 600}};
  asr_rng rng;
  int s, ta, tb;
  asr_rng_seed(&rng, 10, 0);
  for (s = 0; s < 4; s++)
    for (ta = 0; ta < 2; ta++)
      for (tb = 0; tb < 2; tb++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2], i, j, k, k0, same = 1;
        int lda = ta ? M : K, ldb = tb ? K : N;
        float *Ab = TALLOC(float, (size_t)M * K + 1), *Bb = TALLOC(float, (size_t)K * N + 1);
        float *C = TALLOC(float, (size_t)M * N + 1), *E = TALLOC(float, (size_t)M * N);
        float *A = Ab + 1, *B = Bb + 1, *Cu = C + 1, alpha = 0.75f, beta = -1.25f;
        fill_uniform(&rng, A, (size_t)M * K, -1, 1);
        fill_uniform(&rng, B, (size_t)K * N, -1, 1);
        fill_uniform(&rng, Cu, (size_t)M * N, -1, 1);
        memcpy(E, Cu, sizeof(float) * (size_t)M * N);
        asr_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cu, N);
        for (i = 0; i < M; i++)
          for (j = 0; j < N; j++) {
            float e = E[(size_t)i * N + j] * beta;
            for (k0 = 0; k0 < K; k0 += 256) {
              float acc = 0;
              for (k = k0; k < K && k < k0 + 256; k++)
                acc = fmaf(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k],
                           tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j], acc);
              if (j < N - N % 16) {
                e = fmaf(alpha, acc, e);
              } else {
                volatile float p = alpha * acc;   /* rounded on its own, as the kernel's tail */
                e = e + p;
              }
            }
            same &= memcmp(&e, &Cu[(size_t)i * N + j], sizeof e) == 0;
          }
        free(Ab), free(Bb), free(C), free(E);
        CHECKF(same, "M=%d N=%d K=%d ta=%d tb=%d: asr_gemm differs from its stated order", M, N, K, ta, tb);
      }
#else
  SKIP("no SIMD GEMM in this build");
#endif
}

/* The threaded GEMM (-DASR_THREADS -fopenmp) gives the same bits with 1, 2 and 3 threads,
 * on products large enough to be split (every transpose, edges of the blocks). */
static void t_gemm_threads_bits(tctx *t) {
#if defined(ASR_THREADS) && defined(_OPENMP)
  static const int sizes[][3] = {{65, 65, 65}, {200, 47, 300}, {13, 530, 257}, {390, 129, 40}};
  asr_rng rng;
  int s, ta, tb, nt, prev = omp_get_max_threads();   /* restored: the other tests run threaded */
  asr_rng_seed(&rng, 11, 0);
  for (s = 0; s < 4; s++)
    for (ta = 0; ta < 2; ta++)
      for (tb = 0; tb < 2; tb++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2], same = 1;
        asr_real *A = TALLOC(asr_real, (size_t)M * K), *B = TALLOC(asr_real, (size_t)K * N);
        asr_real *C0 = TALLOC(asr_real, (size_t)M * N), *C1 = TALLOC(asr_real, (size_t)M * N);
        fill_uniform(&rng, A, (size_t)M * K, -1, 1);
        fill_uniform(&rng, B, (size_t)K * N, -1, 1);
        fill_uniform(&rng, C0, (size_t)M * N, -1, 1);
        memcpy(C1, C0, sizeof(asr_real) * (size_t)M * N);
        omp_set_num_threads(1);
        asr_gemm(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, 1.5f, C0, N);
        for (nt = 2; nt <= 3; nt++) {
          asr_real *C2 = TALLOC(asr_real, (size_t)M * N);
          memcpy(C2, C1, sizeof(asr_real) * (size_t)M * N);
          omp_set_num_threads(nt);
          asr_gemm(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, 1.5f, C2, N);
          same &= memcmp(C0, C2, sizeof(asr_real) * (size_t)M * N) == 0;
          free(C2);
        }
        omp_set_num_threads(prev);
        free(A), free(B), free(C0), free(C1);
        CHECKF(same, "M=%d N=%d K=%d ta=%d tb=%d: 2 or 3 threads differ from 1", M, N, K, ta, tb);
      }
#else
  SKIP("built without -DASR_THREADS -fopenmp");
#endif
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
    "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",   /* 1 value of 4 */
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
    /* what the message says (issue 18): a garbled 'descr' is a malformed header, a list of
     * fields is numpy's structured dtype */
    static const char *const descr[2] = {"{'descr': <f4', 'fortran_order': False, 'shape': (1,), }",
                                         "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"};
    static const asr_result want[2] = {ASR_ERR_FORMAT, ASR_ERR_UNSUPPORTED};
    static const char *const says[2] = {"malformed .npy header", "structured array"};
    for (i = 0; i < 2; i++) {
      asr_array a;
      asr_error err;
      size_t hl = strlen(descr[i]);
      asr_result r;
      memcpy(buf, "\x93NUMPY\x01\x00", 8);
      buf[8] = (unsigned char)hl;
      buf[9] = 0;
      memcpy(buf + 10, descr[i], hl);
      memset(buf + 10 + hl, 0, 4);
      r = asr_npy_parse(buf, 10 + hl + 4, &a, NULL, &err);
      CHECKF(r == want[i] && strstr(err.msg, says[i]), "descr %lu: %d %s", (unsigned long)i, (int)r, err.msg);
    }
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

/* ---- asr_npy_read_as: the reader that converts in the buffer it reads into. Expected
 * values come from plain C casts of the stored values (the test's own tc_get/tc_put) and
 * from the older path, asr_npy_read + asr_array_to_real / asr_array_to_int. */
static const asr_dtype tc_dtypes[5] = {ASR_DTYPE_F32, ASR_DTYPE_F64, ASR_DTYPE_I32, ASR_DTYPE_I64,
                                       ASR_DTYPE_U8};

/* Element i of data (dtype dt) as a double, through the C type of dt. */
static double tc_get(const void *data, asr_dtype dt, size_t i) {
  switch (dt) {
    case ASR_DTYPE_F32: return ((const float *)data)[i];
    case ASR_DTYPE_F64: return ((const double *)data)[i];
    case ASR_DTYPE_I32: return ((const int32_t *)data)[i];
    case ASR_DTYPE_I64: return (double)((const int64_t *)data)[i];
    case ASR_DTYPE_U8: return ((const unsigned char *)data)[i];
  }
  return 0;
}

/* Stores v (exactly representable in dt) as element i of data. */
static void tc_put(void *data, asr_dtype dt, size_t i, double v) {
  switch (dt) {
    case ASR_DTYPE_F32: ((float *)data)[i] = (float)v; break;
    case ASR_DTYPE_F64: ((double *)data)[i] = v; break;
    case ASR_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)v; break;
    case ASR_DTYPE_I64: ((int64_t *)data)[i] = (int64_t)v; break;
    case ASR_DTYPE_U8: ((unsigned char *)data)[i] = (unsigned char)v; break;
  }
}

/* Every stored dtype to every dtype, 1000 elements (the growing conversions run their
 * loop backward over the whole buffer): small integers, which every dtype holds, and for
 * float data fractional values too. */
static void t_npy_read_as_dtypes(tctx *t) {
  enum { N = 1000 };
  char path[512];
  double vals[N];
  int64_t shape[2] = {25, 40};
  int from, to, set;
  for (set = 0; set < 2; set++)
    for (from = 0; from < 5; from++) {
      asr_dtype fd = tc_dtypes[from];
      unsigned char *stored = (unsigned char *)malloc(N * 8);
      asr_error err;
      size_t i;
      int fl = fd == ASR_DTYPE_F32 || fd == ASR_DTYPE_F64;
      CHECK(stored != NULL);
      if (set == 1 && !fl) {
        free(stored);
        continue;
      }
      for (i = 0; i < N; i++) {
        /* set 0: integers 0..255; set 1: multiples of 1/8 in [-62.5, 62.375] (exact in float) */
        vals[i] = set == 0 ? (double)((i * 37) % 256) : ((double)((i * 53) % 1000) - 500) / 8;
        tc_put(stored, fd, i, vals[i]);
      }
      snprintf(path, sizeof path, "%s/as_%d_%d.npy", t->tmpdir, set, from);
      CHECK_OK(asr_npy_write(path, fd, 2, shape, stored, &err));
      for (to = 0; to < 5; to++) {
        asr_dtype td = tc_dtypes[to], st = ASR_DTYPE_U8;
        asr_array a, old;
        asr_result r = asr_npy_read_as(path, td, 0, &a, &st, NULL, &err);
        int tfl = td == ASR_DTYPE_F32 || td == ASR_DTYPE_F64;
        if (set == 1 && !tfl) {
          /* 0.0 (element 500 * k) fits, but element 0 is -62.5: not an integer */
          CHECKF(r == ASR_ERR_RANGE && a.data == NULL, "%s -> %s: %d", asr_dtype_name(fd),
                 asr_dtype_name(td), (int)r);
          CHECK(strstr(err.msg, "element 0 ") != NULL && strstr(err.msg, path) != NULL);
          continue;
        }
        CHECKF(r == ASR_OK, "%s -> %s: %s", asr_dtype_name(fd), asr_dtype_name(td), err.msg);
        CHECK(st == fd && a.dtype == td && a.ndim == 2 && a.shape[0] == 25 && a.shape[1] == 40 &&
              a.count == N);
        for (i = 0; i < N; i++) {
          double want = vals[i], got = tc_get(a.data, td, i);
          if (td == ASR_DTYPE_F32) want = (float)vals[i];   /* what a C cast gives */
          CHECKF(got == want, "%s -> %s element %lu: %g, want %g", asr_dtype_name(fd),
                 asr_dtype_name(td), (unsigned long)i, got, want);
        }
        /* the older path gives the same bytes for asr_real and int */
        CHECK_OK(asr_npy_read(path, &old, NULL, &err));
        if (td == ASR_DTYPE_REAL) {
          asr_real *x = (asr_real *)malloc(sizeof(asr_real) * N);
          CHECK(x != NULL);
          CHECK_OK(asr_array_to_real(&old, x, 0, &err));
          CHECK(memcmp(x, a.data, sizeof(asr_real) * N) == 0);
          free(x);
        }
        if (td == ASR_DTYPE_I32) {
          int *k = (int *)malloc(sizeof(int) * N);
          CHECK(k != NULL);
          CHECK_OK(asr_array_to_int(&old, k, &err));
          CHECK(memcmp(k, a.data, sizeof(int) * N) == 0);
          free(k);
        }
        asr_array_free(&old, NULL);
        asr_array_free(&a, NULL);
      }
      free(stored);
    }
}

/* One bad value (two, to see that the first is named) in 1000 elements: refused with the
 * result code and element index expected, no data, the path in the message; the older
 * path (asr_array_to_real / to_int) refuses the same arrays with the same code. */
static void t_npy_read_as_refusals(tctx *t) {
  static const struct {
    asr_dtype from, to;
    int allow;
    double bad;
    asr_result want;
    const char *msg;
  } cases[] = {
    {ASR_DTYPE_F32, ASR_DTYPE_F32, 0, NAN, ASR_ERR_NONFINITE, "element 700 is NaN"},
    {ASR_DTYPE_F32, ASR_DTYPE_F64, 0, INFINITY, ASR_ERR_NONFINITE, "element 700 is infinite"},
    {ASR_DTYPE_F64, ASR_DTYPE_F32, 0, -INFINITY, ASR_ERR_NONFINITE, "element 700 is infinite"},
    {ASR_DTYPE_F64, ASR_DTYPE_F32, 0, 1e300, ASR_ERR_RANGE, "element 700 (1e+300) is outside"},
    {ASR_DTYPE_F64, ASR_DTYPE_F32, 1, 1e300, ASR_OK, ""},     /* allowed: becomes inf */
    {ASR_DTYPE_F32, ASR_DTYPE_F64, 1, NAN, ASR_OK, ""},
    {ASR_DTYPE_F32, ASR_DTYPE_I32, 0, 2.5, ASR_ERR_RANGE, "element 700 (2.5) is not an integer"},
    {ASR_DTYPE_F32, ASR_DTYPE_I64, 0, 2.5, ASR_ERR_RANGE, "element 700 (2.5) is not an integer"},
    {ASR_DTYPE_F64, ASR_DTYPE_I32, 0, NAN, ASR_ERR_RANGE, "element 700 (nan) is not an integer"},
    {ASR_DTYPE_F64, ASR_DTYPE_I32, 0, 3e9, ASR_ERR_RANGE, "element 700 (3e+09) does not fit in int"},
    {ASR_DTYPE_F64, ASR_DTYPE_I64, 0, 3e9, ASR_OK, ""},
    {ASR_DTYPE_F64, ASR_DTYPE_I64, 0, 1e19, ASR_ERR_RANGE, "element 700 (1e+19) does not fit"},
    {ASR_DTYPE_I64, ASR_DTYPE_I32, 0, 1099511627776.0, ASR_ERR_RANGE,
     "element 700 (1099511627776) does not fit in int"},
    {ASR_DTYPE_I64, ASR_DTYPE_F32, 0, 1099511627776.0, ASR_OK, ""},
    {ASR_DTYPE_I32, ASR_DTYPE_U8, 0, -1, ASR_ERR_RANGE, "element 700 (-1) does not fit in uint8"},
    {ASR_DTYPE_U8, ASR_DTYPE_F64, 0, 255, ASR_OK, ""},
  };
  enum { N = 1000 };
  char path[512];
  size_t c;
  for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    unsigned char data[N * 8];
    int64_t shape[1] = {N};
    asr_array a, old;
    asr_error err, olderr;
    asr_result r;
    size_t i;
    for (i = 0; i < N; i++) tc_put(data, cases[c].from, i, (double)(i % 100));
    tc_put(data, cases[c].from, 700, cases[c].bad);
    tc_put(data, cases[c].from, 900, cases[c].bad);
    snprintf(path, sizeof path, "%s/bad_%lu.npy", t->tmpdir, (unsigned long)c);
    CHECK_OK(asr_npy_write(path, cases[c].from, 1, shape, data, &err));
    err.msg[0] = 0;
    r = asr_npy_read_as(path, cases[c].to, cases[c].allow, &a, NULL, NULL, &err);
    CHECKF(r == cases[c].want, "case %lu: %d, want %d (%s)", (unsigned long)c, (int)r,
           (int)cases[c].want, err.msg);
    if (r != ASR_OK) {
      CHECK(a.data == NULL);
      CHECKF(strstr(err.msg, cases[c].msg) && strstr(err.msg, path), "case %lu: %s",
             (unsigned long)c, err.msg);
    } else {
      double got = tc_get(a.data, cases[c].to, 700), want = cases[c].bad;
      if (cases[c].to == ASR_DTYPE_F32) want = (float)want;
      CHECKF(got == want || (got != got && want != want), "case %lu: %g, want %g",
             (unsigned long)c, got, want);
      asr_array_free(&a, NULL);
    }
    /* the older path to asr_real / int agrees on success or failure, with the same
     * message (read_as's starts with "path: ") */
    CHECK_OK(asr_npy_read(path, &old, NULL, &olderr));
    olderr.msg[0] = 0;
    if (cases[c].to == ASR_DTYPE_REAL) {
      asr_real x[N];
      CHECKF(asr_array_to_real(&old, x, cases[c].allow, &olderr) == r, "case %lu: to_real", (unsigned long)c);
    }
    if (cases[c].to == ASR_DTYPE_I32) {
      int k[N];
      CHECKF(asr_array_to_int(&old, k, &olderr) == r, "case %lu: to_int", (unsigned long)c);
    }
    asr_array_free(&old, NULL);
    if (r != ASR_OK && (cases[c].to == ASR_DTYPE_REAL || cases[c].to == ASR_DTYPE_I32))
      CHECKF(strcmp(olderr.msg, err.msg + strlen(path) + 2) == 0, "case %lu: '%s' vs '%s'",
             (unsigned long)c, olderr.msg, err.msg);
  }
  {
    asr_array a;
    asr_error err;
    CHECK(asr_npy_read_as(path, (asr_dtype)99, 0, &a, NULL, NULL, &err) == ASR_ERR_INVALID_ARG);
    CHECK(a.data == NULL);
  }
}

/* Writes len bytes to path (a test file, not atomically). */
static int tc_write_bytes(const char *path, const void *p, size_t len) {
  FILE *fp = fopen(path, "wb");
  int ok;
  if (!fp) return 0;
  ok = fwrite(p, 1, len, fp) == len;
  return fclose(fp) == 0 && ok;
}

/* Big-endian data and a version 2.0 header, converted on reading. */
static void t_npy_read_as_big_endian(tctx *t) {
  unsigned char buf[256];
  char path[512];
  const char *h = "{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }";
  size_t hl = strlen(h), n;
  asr_array a;
  asr_error err;
  asr_dtype st;
  /* 1.5, -2, 2^40 as big-endian IEEE doubles */
  static const unsigned char be[24] = {0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0,
                                       0x42, 0x70, 0, 0, 0, 0, 0, 0};
  memcpy(buf, "\x93NUMPY\x02\x00", 8);
  buf[8] = (unsigned char)hl;
  buf[9] = buf[10] = buf[11] = 0;
  memcpy(buf + 12, h, hl);
  n = 12 + hl;
  memcpy(buf + n, be, sizeof be);
  n += sizeof be;
  snprintf(path, sizeof path, "%s/be.npy", t->tmpdir);
  CHECK(tc_write_bytes(path, buf, n));
  CHECK_OK(asr_npy_read_as(path, ASR_DTYPE_F32, 0, &a, &st, NULL, &err));
  CHECK(st == ASR_DTYPE_F64 && a.dtype == ASR_DTYPE_F32 && a.count == 3);
  CHECK(((float *)a.data)[0] == 1.5f && ((float *)a.data)[1] == -2.0f &&
        ((float *)a.data)[2] == 1099511627776.0f);
  asr_array_free(&a, NULL);
  CHECK(asr_npy_read_as(path, ASR_DTYPE_I32, 0, &a, &st, NULL, &err) == ASR_ERR_RANGE);   /* 1.5 */
  CHECK_OK(asr_npy_read_as(path, ASR_DTYPE_F64, 0, &a, &st, NULL, &err));
  CHECK(((double *)a.data)[2] == 1099511627776.0);
  asr_array_free(&a, NULL);
}

/* Malformed files: every truncation of a good file, one byte too many, the malformed
 * headers of npy_malformed, a directory. The file readers fail with the result code the
 * buffer parser gives the same bytes, hold no data and name the file. */
static void t_npy_file_malformed(tctx *t) {
  static const char *const headers[] = {
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3, }",
    "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
    "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",   /* 1 value of 4 */
    "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",   /* 1 value short */
    "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }",   /* 1 value too many */
  };
  char path[512], good[512];
  unsigned char *buf, bad[256];
  size_t len, cut, i;
  int64_t shape[2] = {3, 5};
  float v[15];
  asr_error err;
  for (i = 0; i < 15; i++) v[i] = (float)i - 7;
  snprintf(good, sizeof good, "%s/good.npy", t->tmpdir);
  snprintf(path, sizeof path, "%s/cut.npy", t->tmpdir);
  CHECK_OK(asr_npy_write(good, ASR_DTYPE_F32, 2, shape, v, &err));
  CHECK_OK(asr_read_file(good, &buf, &len, NULL, &err));
  CHECK(len == 128 + 60);
  for (cut = 0; cut <= len + 1; cut++) {
    asr_array a, b;
    asr_result want, r1, r2;
    unsigned char *tmp = (unsigned char *)malloc(len + 1);
    CHECK(tmp != NULL);
    memcpy(tmp, buf, len);
    tmp[len] = 0;   /* cut = len + 1: one byte after the data */
    CHECK(tc_write_bytes(path, tmp, cut));
    want = asr_npy_parse(tmp, cut, &b, NULL, &err);
    free(tmp);
    if (want == ASR_OK) asr_array_free(&b, NULL);
    CHECKF((want == ASR_OK) == (cut == len), "parse of %lu bytes: %d", (unsigned long)cut, (int)want);
    r1 = asr_npy_read(path, &a, NULL, &err);
    if (r1 == ASR_OK) asr_array_free(&a, NULL);
    else CHECKF(a.data == NULL && strstr(err.msg, "cut.npy"), "%lu bytes: %s", (unsigned long)cut, err.msg);
    r2 = asr_npy_read_as(path, ASR_DTYPE_F64, 0, &a, NULL, NULL, &err);
    if (r2 == ASR_OK) asr_array_free(&a, NULL);
    else CHECKF(a.data == NULL && strstr(err.msg, "cut.npy"), "%lu bytes: %s", (unsigned long)cut, err.msg);
    CHECKF(r1 == want && r2 == want, "%lu bytes: read %d, read_as %d, parse %d", (unsigned long)cut,
           (int)r1, (int)r2, (int)want);
  }
  free(buf);
  for (i = 0; i < sizeof headers / sizeof headers[0]; i++) {
    asr_array a;
    asr_result want;
    size_t hl = strlen(headers[i]);
    memcpy(bad, "\x93NUMPY\x01\x00", 8);
    bad[8] = (unsigned char)hl;
    bad[9] = 0;
    memcpy(bad + 10, headers[i], hl);
    memset(bad + 10 + hl, 0, 4);
    CHECK(tc_write_bytes(path, bad, 10 + hl + 4));
    want = asr_npy_parse(bad, 10 + hl + 4, &a, NULL, &err);
    CHECK(want < 0);
    CHECKF(asr_npy_read(path, &a, NULL, &err) == want && a.data == NULL, "header %lu", (unsigned long)i);
    CHECKF(asr_npy_read_as(path, ASR_DTYPE_I32, 0, &a, NULL, NULL, &err) == want && a.data == NULL,
           "header %lu", (unsigned long)i);
    CHECK(strstr(err.msg, "cut.npy") != NULL);
  }
  {
    asr_array a;
    CHECK(asr_npy_read_as(t->tmpdir, ASR_DTYPE_F32, 0, &a, NULL, NULL, &err) == ASR_ERR_IO);
    CHECK(a.data == NULL && strstr(err.msg, "directory") != NULL);
  }
}

/* A stream of unknown size: a named pipe written by a child process, bigger than a pipe's
 * buffer. asr_read_file and asr_npy_read_as read it whole; a short stream is an error. */
static int tc_pipe_read(const char *fifo, const unsigned char *bytes, size_t n, asr_dtype to,
                        asr_array *a, unsigned char **raw, size_t *rawlen, asr_error *err) {
  pid_t pid;
  int status = 0, r;
  pid = fork();
  if (pid < 0) return -100;
  if (pid == 0) {
    FILE *fp = fopen(fifo, "wb");
    int ok = fp && fwrite(bytes, 1, n, fp) == n;
    if (fp) ok = fclose(fp) == 0 && ok;
    _exit(ok ? 0 : 1);
  }
  r = raw ? asr_read_file(fifo, raw, rawlen, NULL, err)
          : asr_npy_read_as(fifo, to, 0, a, NULL, NULL, err);
  waitpid(pid, &status, 0);
  return r;
}

static void t_npy_read_pipe(tctx *t) {
  enum { N = 50000 };   /* 200 KB of float32: more than one pipe buffer (64 KB) */
  char fifo[512], path[512];
  float *v = (float *)malloc(sizeof(float) * N);
  unsigned char *file = NULL, *raw = NULL;
  size_t len = 0, rawlen = 0, i;
  int64_t shape[1] = {N};
  asr_array a;
  asr_error err;
  CHECK(v != NULL);
  for (i = 0; i < N; i++) v[i] = (float)i * 0.5f - 3;
  snprintf(path, sizeof path, "%s/p.npy", t->tmpdir);
  snprintf(fifo, sizeof fifo, "%s/fifo", t->tmpdir);
  remove(fifo);
  if (asr_npy_write(path, ASR_DTYPE_F32, 1, shape, v, &err) != ASR_OK ||
      asr_read_file(path, &file, &len, NULL, &err) != ASR_OK) {
    free(v);
    CHECKF(0, "%s", err.msg);
  }
  if (mkfifo(fifo, 0600) != 0) {
    free(v);
    free(file);
    SKIP("mkfifo failed");
  }
  CHECK(tc_pipe_read(fifo, file, len, ASR_DTYPE_F64, NULL, &raw, &rawlen, &err) == ASR_OK);
  CHECK(rawlen == len && memcmp(raw, file, len) == 0);
  free(raw);
  CHECK(tc_pipe_read(fifo, file, len, ASR_DTYPE_F64, &a, NULL, NULL, &err) == ASR_OK);
  CHECK(a.dtype == ASR_DTYPE_F64 && a.count == N);
  for (i = 0; i < N; i++) CHECK(((double *)a.data)[i] == (double)v[i]);
  asr_array_free(&a, NULL);
  /* 3 bytes short: the same message as a file */
  CHECK(tc_pipe_read(fifo, file, len - 3, ASR_DTYPE_F32, &a, NULL, NULL, &err) == ASR_ERR_FORMAT);
  CHECK(a.data == NULL && strstr(err.msg, "fifo: .npy data is") != NULL);
  remove(fifo);
  free(file);
  free(v);
}

/* asr_npy_write streams into a temporary file: when the final rename fails (the target is
 * a directory) the target is untouched and no temporary file is left. */
static void t_npy_write_no_partial(tctx *t) {
  char dir[512], target[600];
  int64_t s[1] = {3};
  float v[3] = {1, 2, 3};
  asr_error err;
  DIR *d;
  struct dirent *e;
  int entries = 0;
  snprintf(dir, sizeof dir, "%s/nopartial", t->tmpdir);
  snprintf(target, sizeof target, "%s/x.npy", dir);
  CHECK(mkdir(dir, 0700) == 0 && mkdir(target, 0700) == 0);
  CHECK(asr_npy_write(target, ASR_DTYPE_F32, 1, s, v, &err) == ASR_ERR_IO);
  CHECK(strstr(err.msg, "x.npy") != NULL);
  d = opendir(dir);
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) entries++;
  closedir(d);
  CHECK(entries == 1);   /* x.npy, the directory, alone */
}

static const test_case TESTS_core[] = {
  {"core/result_strings", t_result_strings},
  {"core/rng_deterministic", t_rng_deterministic},
  {"core/rng_pcg32_reference", t_rng_pcg32_reference},
  {"core/rng_moments", t_rng_moments},
  {"core/logsumexp", t_logsumexp},
  {"core/softmax", t_softmax},
  {"core/softmax_fast_rows", t_softmax_fast},
  {"core/glu_fast_rows", t_glu_fast},
  {"core/softmax_gradcheck", t_softmax_gradcheck},
  {"core/gradcheck_catches_errors", t_gradcheck_catches_errors},
  {"core/gemm_naive_ref_fast", t_gemm},
  {"core/gemm_beta0_ignores_c", t_gemm_beta0_ignores_c},
  {"core/gemm_simd_bits", t_gemm_simd_bits},
  {"core/gemm_threads_bits", t_gemm_threads_bits},
  {"core/npy_roundtrip", t_npy_roundtrip},
  {"core/npy_header_layout", t_npy_header_layout},
  {"core/npy_variants", t_npy_variants},
  {"core/npy_malformed", t_npy_malformed},
  {"core/npy_missing_file", t_npy_missing_file},
  {"core/array_convert", t_array_convert},
  {"core/npz_roundtrip", t_npz_roundtrip},
  {"core/npz_corrupt", t_npz_corrupt},
  {"core/write_atomic_failure", t_write_atomic_failure},
  {"core/npy_read_as_dtypes", t_npy_read_as_dtypes},
  {"core/npy_read_as_refusals", t_npy_read_as_refusals},
  {"core/npy_read_as_big_endian", t_npy_read_as_big_endian},
  {"core/npy_file_malformed", t_npy_file_malformed},
  {"core/npy_read_pipe", t_npy_read_pipe},
  {"core/npy_write_no_partial", t_npy_write_no_partial},
  {0, 0}
};
