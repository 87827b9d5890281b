/* tests/test_util.h - the few macros the test runner needs.
 *
 * A test is `static void t_name(tctx *t)`. CHECK* macros record the first failure with
 * its file and line and return from the test; SKIP returns with a reason (used when
 * ../shared/data is absent). Each test file ends with a table
 *     static const test_case TESTS_<file>[] = { {"group/name", t_name}, ..., {0, 0} };
 * that tests/test_asr.c lists. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include <stdarg.h>

typedef struct tctx {
  const char *name;
  int failed, skipped;
  char msg[1024];
  const char *tmpdir;      /* a fresh directory for this run's files */
  const char *shared;      /* ../shared/data, or NULL when absent */
} tctx;

typedef struct test_case {
  const char *name;
  void (*fn)(tctx *t);
} test_case;

static void tfail(tctx *t, const char *file, int line, const char *fmt, ...) ASR__PRINTF(4, 5);
static void tfail(tctx *t, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  int n;
  if (t->failed) return;
  t->failed = 1;
  n = snprintf(t->msg, sizeof t->msg, "%s:%d: ", file, line);
  va_start(ap, fmt);
  vsnprintf(t->msg + n, sizeof t->msg - (size_t)n, fmt, ap);
  va_end(ap);
}

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      tfail(t, __FILE__, __LINE__, "%s", #cond);                      \
      return;                                                         \
    }                                                                 \
  } while (0)

#define CHECKF(cond, ...)                                             \
  do {                                                                \
    if (!(cond)) {                                                    \
      tfail(t, __FILE__, __LINE__, __VA_ARGS__);                      \
      return;                                                         \
    }                                                                 \
  } while (0)

/* |a - b| <= tol, with both values printed on failure */
#define CHECK_NEAR(a, b, tol)                                                          \
  do {                                                                                 \
    double a_ = (double)(a), b_ = (double)(b), tol_ = (double)(tol);                   \
    if (!(fabs(a_ - b_) <= tol_)) {                                                    \
      tfail(t, __FILE__, __LINE__, "%s = %.10g, %s = %.10g, |diff| %.3g > %.3g", #a, a_, \
            #b, b_, fabs(a_ - b_), tol_);                                               \
      return;                                                                          \
    }                                                                                  \
  } while (0)

#define CHECK_OK(expr)                                                                  \
  do {                                                                                  \
    asr_result r_ = (expr);                                                             \
    if (r_ != ASR_OK) {                                                                 \
      tfail(t, __FILE__, __LINE__, "%s returned %d (%s)", #expr, (int)r_,               \
            asr_result_string(r_));                                                     \
      return;                                                                           \
    }                                                                                   \
  } while (0)

#define SKIP(...)                                                     \
  do {                                                                \
    t->skipped = 1;                                                   \
    snprintf(t->msg, sizeof t->msg, __VA_ARGS__);                     \
    return;                                                           \
  } while (0)

/* Path of a file under ../shared/data; SKIPs the test when the folder is absent. */
#define SHARED_PATH(buf, rel)                                                            \
  do {                                                                                   \
    if (!t->shared) SKIP("../shared/data is absent (set ASR_SHARED_DATA to its path)");  \
    snprintf(buf, sizeof buf, "%s/%s", t->shared, rel);                                  \
  } while (0)

/* The largest |a_i - b_i| over n elements. */
static double max_abs_diff(const asr_real *a, const asr_real *b, size_t n) {
  double m = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (d > m || d != d) m = d;
  }
  return m;
}

/* Fills x (n) with uniform values in [lo, hi). */
static void fill_uniform(asr_rng *rng, asr_real *x, size_t n, double lo, double hi) {
  size_t i;
  for (i = 0; i < n; i++) x[i] = (asr_real)(lo + (hi - lo) * asr_rng_uniform(rng));
}

/* Checked allocation for tests (C and C++). */
#define TALLOC(type, n) ((type *)talloc_((size_t)(n) * sizeof(type)))
static void *talloc_(size_t n) {
  void *p = calloc(n ? n : 1, 1);
  if (!p) {
    fprintf(stderr, "test: out of memory\n");
    exit(3);
  }
  return p;
}
#endif
