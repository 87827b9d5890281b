/* examples/asrtool/bench.c - `asrtool bench [--json FILE] [--filter S[,S...]] [--min-time SEC]
 * [--threads N]`.
 *
 * Times the naive, ref and fast (simd) paths of every component on fixed sizes, one
 * thread, in CPU time (the median of repeated calls), and prints one table: case, impl,
 * milliseconds per call, and the speed-up over the slowest tier of the same case. With
 * --threads N above 1 (build/asrtool-omp): the simd tier alone, in wall time, its rows
 * named simd-Nt (at_bench_skip). `make bench` runs both and then bench/compare.py, which
 * times the same cases in PyTorch (on 1 thread, and on 2 beside the simd-2t rows) and
 * prints the ratios side by side. Each component adds a function to BENCHES below. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>   /* asrtool-omp (-fopenmp -DASR_THREADS): --threads N */
#endif

struct at_bench {
  const char *filter;
  double min_time;
  FILE *json;
  int n_json;
  char last_case[128];
  double case_slowest;
  int threads;        /* --threads: above 1, rows are wall time and impl gets "-Nt" */
};

/* the clock of at_bench_time: CPU time of the process on one thread, wall time on more
 * (CPU time would add the threads up) */
static int bench_wall_clock;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* CPU time of the process: what one thread spent on the call, not what the other jobs on a
 * shared machine took from it (wall time would count those too). */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* median CPU seconds per call of fn over at least min_seconds of wall time (>= 3 calls) */
double at_bench_time(void (*fn)(void *ctx), void *ctx, double min_seconds) {
  double t[64], start = at_now();
  int n = 0;
  do {
    double t0 = bench_wall_clock ? at_now() : cpu_now();
    fn(ctx);
    t[n++] = (bench_wall_clock ? at_now() : cpu_now()) - t0;
  } while (n < 64 && (at_now() - start < min_seconds || n < 3));
  qsort(t, (size_t)n, sizeof t[0], cmp_double);
  return t[n / 2];
}

void at_bench_report(at_bench *b, const char *case_name, const char *impl_name, double seconds) {
  char impl[32];
  if (b->threads > 1) snprintf(impl, sizeof impl, "%s-%dt", impl_name, b->threads);
  else snprintf(impl, sizeof impl, "%s", impl_name);
  if (strcmp(case_name, b->last_case) != 0) {
    snprintf(b->last_case, sizeof b->last_case, "%s", case_name);
    b->case_slowest = seconds;
  }
  if (seconds > b->case_slowest) b->case_slowest = seconds;
  printf("%-44s %-6s %12.3f ms %9.1fx\n", case_name, impl, seconds * 1e3, b->case_slowest / seconds);
  fflush(stdout);
  if (b->json) {
    fprintf(b->json, "%s\n  {\"case\": \"%s\", \"impl\": \"%s\", \"seconds\": %.9g}",
            b->n_json ? "," : "", case_name, impl, seconds);
    b->n_json++;
  }
}

/* 1 when this run does not time the tier impl_name: with --threads above 1 only "simd"
 * runs: ASR_THREADS threads asr_gemm's SIMD kernel, which the naive and ref tiers do not
 * call (their products would stay on one thread). */
int at_bench_skip(const at_bench *b, const char *impl_name) {
  return b->threads > 1 && strcmp(impl_name, "simd") != 0;
}

/* true when the component name contains one of filter's comma-separated parts (or there
 * is no filter) */
static int bench_wanted(const char *filter, const char *name) {
  char part[64];
  size_t n;
  if (!filter) return 1;
  while (*filter) {
    n = strcspn(filter, ",");
    if (n > 0 && n < sizeof part) {
      memcpy(part, filter, n);
      part[n] = 0;
      if (strstr(name, part)) return 1;
    }
    filter += n;
    if (*filter == ',') filter++;
  }
  return 0;
}

/* ---- core: GEMM */
typedef struct bench_gemm_ctx {
  int M, N, K, impl;
  asr_real *A, *B, *C;
} bench_gemm_ctx;
static void bench_gemm_call(void *v) {
  bench_gemm_ctx *c = (bench_gemm_ctx *)v;
  if (c->impl == 0) asr_gemm_naive(0, 0, c->M, c->N, c->K, 1, c->A, c->K, c->B, c->N, 0, c->C, c->N);
  if (c->impl == 1) asr_gemm_ref(0, 0, c->M, c->N, c->K, 1, c->A, c->K, c->B, c->N, 0, c->C, c->N);
  if (c->impl == 2) asr_gemm(0, 0, c->M, c->N, c->K, 1, c->A, c->K, c->B, c->N, 0, c->C, c->N);
}
static void bench_core(at_bench *b) {
  static const char *impls[3] = {"naive", "ref", "simd"};
  static const int sizes[2] = {256, 1024};
  bench_gemm_ctx c;
  asr_rng rng;
  size_t i, nn;
  int k, s;
  char name[64];
  for (s = 0; s < 2; s++) {
    c.M = c.N = c.K = sizes[s];
    nn = (size_t)c.M * c.M;
    c.A = (asr_real *)malloc(sizeof(asr_real) * nn);
    c.B = (asr_real *)malloc(sizeof(asr_real) * nn);
    c.C = (asr_real *)malloc(sizeof(asr_real) * nn);
    if (!c.A || !c.B || !c.C) {
      free(c.A), free(c.B), free(c.C);
      return;
    }
    asr_rng_seed(&rng, 1, 0);
    for (i = 0; i < nn; i++) {
      c.A[i] = (asr_real)asr_rng_normal(&rng);
      c.B[i] = (asr_real)asr_rng_normal(&rng);
    }
    snprintf(name, sizeof name, "gemm %dx%dx%d", c.M, c.N, c.K);
    for (k = s ? 1 : 0; k < 3; k++) {   /* 1024^3: no naive (seconds per call) */
      if (at_bench_skip(b, impls[k])) continue;
      c.impl = k;
      at_bench_report(b, name, impls[k], at_bench_time(bench_gemm_call, &c, b->min_time));
    }
    free(c.A);
    free(c.B);
    free(c.C);
  }
}

static const struct {
  const char *name;
  void (*run)(at_bench *b);
} BENCHES[] = {
  {"core", bench_core},
  /* features */
  {"features", bench_fbank},
  {"resample", bench_resample},

  /* ctc */
  {"ctc", bench_ctc},

  /* rnnt */
  {"rnnt", bench_rnnt},

  /* layers */
  {"layers", bench_layers},

  /* conformer, lstm, attention */
  {"conformer", bench_conformer},
  {"transformer_decoder", bench_tdec},

  /* seq2seq */
  {"las", bench_las},

  /* hybrid CTC/attention */
  {"joint", bench_joint},

  /* quantizers */
  {"quantizers", bench_quantizers},
  {"wav2vec", bench_w2v},

  /* training */
  {"training", bench_training},

};

int cmd_bench(int argc, char **argv) {
  char *pos[1];
  const char *json = NULL, *filter = NULL;
  double min_time = 0.3;
  int npos, r, i, threads = 1;
  at_bench b;
  const at_opt opts[] = {
    {"json", AT_STR, &json, 0, 0, NULL},
    {"filter", AT_STR, &filter, 0, 0, NULL},
    {"min-time", AT_REAL, &min_time, 0, 60, NULL},
    {"threads", AT_INT, &threads, 1, 256, NULL},
  };
  r = at_parse(argc, argv, opts, 4, pos, 0, 0, &npos,
               "bench [--json FILE] [--filter COMPONENT[,COMPONENT...]] [--min-time SECONDS] [--threads N]\n"
               "  times naive / ref / simd of every component (or of those whose name contains\n"
               "  one of the COMPONENTs) and prints a table: one thread in CPU time, or with\n"
               "  --threads N (asrtool-omp, built with ASR_THREADS) N threads in wall time, the\n"
               "  simd tier alone (the one whose matrix products run on threads), named simd-Nt");
  if (r) return r == 1 ? 0 : r;
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  if (threads > 1) return at_fail("--threads %d: this asrtool has no threads (build/asrtool-omp has)", threads);
#endif
  bench_wall_clock = threads > 1;
  memset(&b, 0, sizeof b);
  b.filter = filter;
  b.min_time = min_time;
  b.threads = threads;
  if (json) {
    b.json = fopen(json, "w");
    if (!b.json) return at_fail("%s: cannot create", json);
    fprintf(b.json, "[");
  }
  printf("asr.h %s bench: asr_real = %s, SIMD %s, %d thread%s (%s time)\n", ASR_VERSION_STRING,
         ASR_REAL_DOUBLE ? "double" : "float", ASR_SIMD_NAME, threads, threads > 1 ? "s" : "",
         threads > 1 ? "wall" : "CPU");
  printf("%-44s %-6s %15s %10s\n", "case", "impl", "time/call", "speed-up");
  for (i = 0; i < (int)(sizeof BENCHES / sizeof BENCHES[0]); i++)
    if (bench_wanted(filter, BENCHES[i].name)) BENCHES[i].run(&b);
  if (b.json) {
    fprintf(b.json, "\n]\n");
    if (fclose(b.json) != 0) return at_fail("%s: write error", json);
  }
  return 0;
}
