/* bench/blas_gemm.c - the OpenBLAS side of `make bench`'s GEMM rows, and the machine's peak.
 *
 *   build/bench_blas --json FILE [--min-time SEC]
 *
 * Times Debian's OpenBLAS cblas_sgemm (libopenblas-dev) on the GEMM cases of `asrtool bench`
 * (row-major, no transposes, alpha 1, beta 0, uniform inputs), on one thread (CPU
 * time of the calling thread) and on two threads (wall time), and measures the single-core
 * float FMA peak: independent chains of vector FMAs (10 accumulators, more than latency x
 * ports on current x86 cores), the widest the build allows (AVX-512 with -mavx512f, else
 * AVX2+FMA, else a scalar loop that measures nothing useful and says so). Writes the rows
 * as `asrtool bench --json` does, plus {"case": "fma peak", "gflops": ...}; bench/compare.py
 * prints them beside asr.h's rows of the same run. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int);

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* median seconds per call over at least min_time (at least 3 calls), on clock id */
static double time_gemm(int n, const float *A, const float *B, float *C, double min_time, clockid_t id) {
  double t[64], start = clock_s(CLOCK_MONOTONIC);
  int k = 0;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
  do {
    double t0 = clock_s(id);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
    t[k++] = clock_s(id) - t0;
  } while (k < 64 && (clock_s(CLOCK_MONOTONIC) - start < min_time || k < 3));
  qsort(t, (size_t)k, sizeof t[0], cmp_double);
  return t[k / 2];
}

/* GFLOP/s of one thread running 10 independent FMA chains, best of 5 runs. The chains are
 * ten named variables (an array would live in memory); the loop has no other work. */
#define PEAK_ITERS 20000000L
#define PEAK_STEP(fma) c0 = fma(c0, a, b), c1 = fma(c1, a, b), c2 = fma(c2, a, b), \
  c3 = fma(c3, a, b), c4 = fma(c4, a, b), c5 = fma(c5, a, b), c6 = fma(c6, a, b),   \
  c7 = fma(c7, a, b), c8 = fma(c8, a, b), c9 = fma(c9, a, b)
static double fma_peak(const char **isa) {
  double best = 0;
  int run;
  for (run = 0; run < 5; run++) {
    double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID), t, flops;
    float out[16];
    long i;
#if defined(__AVX512F__)
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    __m512 c0 = a, c1 = b, c2 = a, c3 = b, c4 = a, c5 = b, c6 = a, c7 = b, c8 = a, c9 = b;
    *isa = "avx512f";
    for (i = 0; i < PEAK_ITERS; i++) PEAK_STEP(_mm512_fmadd_ps);
    _mm512_storeu_ps(out, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                     _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)),
                                   _mm512_add_ps(c8, c9))));
    flops = 2.0 * 16 * 10 * PEAK_ITERS;
#elif defined(__AVX2__) && defined(__FMA__)
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    __m256 c0 = a, c1 = b, c2 = a, c3 = b, c4 = a, c5 = b, c6 = a, c7 = b, c8 = a, c9 = b;
    *isa = "avx2+fma";
    for (i = 0; i < PEAK_ITERS; i++) PEAK_STEP(_mm256_fmadd_ps);
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                     _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)),
                                   _mm256_add_ps(c8, c9))));
    flops = 2.0 * 8 * 10 * PEAK_ITERS;
#else
    volatile float c = 1;
    *isa = "scalar (no -mavx2 -mfma: not the machine's peak)";
    for (i = 0; i < PEAK_ITERS; i++) c = c * 0.999999f + 1e-7f;
    out[0] = c;
    flops = 2.0 * PEAK_ITERS;
#endif
    t = clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
    if (out[0] != out[0]) return 0;   /* uses the chains' results */
    if (flops / t / 1e9 > best) best = flops / t / 1e9;
  }
  return best;
}

int main(int argc, char **argv) {
  static const int sizes[2] = {256, 1024};
  const char *json = NULL, *isa = "";
  double min_time = 0.3, peak;
  FILE *f;
  int i, s;
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
    else if (!strcmp(argv[i], "--min-time") && i + 1 < argc) min_time = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_blas --json FILE [--min-time SEC]\n");
      return 2;
    }
  }
  if (!json) {
    fprintf(stderr, "usage: bench_blas --json FILE [--min-time SEC]\n");
    return 2;
  }
  f = fopen(json, "w");
  if (!f) {
    fprintf(stderr, "%s: cannot create\n", json);
    return 2;
  }
  peak = fma_peak(&isa);
  printf("FMA peak, one core (%s): %.1f GFLOP/s\n", isa, peak);
  fprintf(f, "[\n  {\"case\": \"fma peak\", \"impl\": \"%s\", \"gflops\": %.6g}", isa, peak);
  for (s = 0; s < 2; s++) {
    int n = sizes[s];
    size_t nn = (size_t)n * n, j;
    float *A = (float *)malloc(nn * sizeof *A), *B = (float *)malloc(nn * sizeof *B),
          *C = (float *)malloc(nn * sizeof *C);
    char name[64];
    unsigned x = 12345;
    if (!A || !B || !C) return 1;
    for (j = 0; j < nn; j++) {   /* uniform in [-1, 1): the speed does not depend on it */
      x = x * 1664525u + 1013904223u;
      A[j] = (float)(x >> 8) / 8388608.0f - 1.0f;
      x = x * 1664525u + 1013904223u;
      B[j] = (float)(x >> 8) / 8388608.0f - 1.0f;
    }
    snprintf(name, sizeof name, "gemm %dx%dx%d", n, n, n);
    for (i = 1; i <= 2; i++) {
      double t;
      openblas_set_num_threads(i);
      t = time_gemm(n, A, B, C, min_time, i == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC);
      printf("%-24s openblas %d thread%s %10.3f ms %8.1f GFLOP/s\n", name, i, i > 1 ? "s" : " ",
             t * 1e3, 2.0 * n * n * n / t / 1e9);
      fprintf(f, ",\n  {\"case\": \"%s\", \"impl\": \"openblas-%dt\", \"seconds\": %.9g}", name, i, t);
    }
    free(A), free(B), free(C);
  }
  fprintf(f, "\n]\n");
  if (fclose(f) != 0) {
    fprintf(stderr, "%s: write error\n", json);
    return 2;
  }
  return 0;
}
