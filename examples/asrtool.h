/* examples/asrtool.h - what the asrtool command files share (see ../shared/asrtool.md of
 * the project, and docs/asrtool.md).
 *
 * A command is `int cmd_NAME(int argc, char **argv)` returning the exit status:
 * 0 success, 1 a check failed (gradcheck), 2 bad input (one line on stderr, no output
 * written). Commands parse their options with at_parse(), read inputs with at_npy_*(),
 * collect every output with at_out_add() and write them all at the end with
 * at_out_commit(), which renames them into place only when every one was written. */
#ifndef ASRTOOL_H
#define ASRTOOL_H
#include "../asr.h"

/* ---- options */
typedef enum at_opt_type {
  AT_INT,     /* int *dst, range [lo, hi] */
  AT_REAL,    /* double *dst, range [lo, hi] */
  AT_BOOL,    /* int *dst; "--name true|false|1|0" */
  AT_FLAG,    /* int *dst set to 1 by "--name" alone */
  AT_STR,     /* const char **dst */
  AT_CHOICE   /* int *dst = index of the value in choices, "a|b|c" */
} at_opt_type;

typedef struct at_opt {
  const char *name;          /* without the leading dashes */
  at_opt_type type;
  void *dst;
  double lo, hi;             /* AT_INT / AT_REAL: allowed range (inclusive) */
  const char *choices;       /* AT_CHOICE */
} at_opt;

/* The options every command accepts: --verbose, --impl naive|ref|simd, --help. */
extern int at_verbose;
extern int at_impl;          /* AT_IMPL_* */
enum { AT_IMPL_NAIVE = 0, AT_IMPL_REF = 1, AT_IMPL_SIMD = 2 };
extern const char *at_cmd;   /* the command being run, for messages */
extern const char *at_argv0; /* how asrtool was started (gradcheck finds asrtool-f64 beside it) */

/* Parses argv[1..] (argv[0] is the command name). Positional arguments go to pos[],
 * between min_pos and max_pos of them. Returns 0, or 1 after printing usage (--help),
 * or 2 after printing the problem. `usage` is the synopsis printed with --help. */
int at_parse(int argc, char **argv, const at_opt *opts, int nopts, char **pos, int min_pos,
             int max_pos, int *npos, const char *usage);

/* One line "asrtool CMD: message" on stderr; returns 2. */
int at_fail(const char *fmt, ...) ASR__PRINTF(1, 2);

/* ---- inputs. ndim = -1 accepts any rank; shape (ASR_MAX_DIMS) receives the shape.
 * Real arrays refuse NaN/inf unless allow_nonfinite; int arrays refuse non-integers.
 * Return 0 or 2 (message printed). *data is malloc'ed: free() it. */
int at_npy_real(const char *path, int ndim, int64_t *shape, asr_real **data, int allow_nonfinite);
int at_npy_int(const char *path, int ndim, int64_t *shape, int **data);

/* ---- outputs: collected, then written together. Data must stay alive until commit. */
typedef struct at_output {
  char name[96];
  asr_dtype dtype;
  int ndim;
  int64_t shape[ASR_MAX_DIMS];
  const void *data;
} at_output;
typedef struct at_outputs {
  int n;
  at_output o[32];
} at_outputs;
void at_out_add(at_outputs *outs, const char *name, asr_dtype dtype, int ndim,
                const int64_t *shape, const void *data);
/* Creates outdir (and its parents), writes each output to a temporary file, then renames
 * all of them into place. On any failure removes what it wrote; returns 0 or 2. */
int at_out_commit(const at_outputs *outs, const char *outdir);

/* Seconds from a monotonic clock, for bench. */
double at_now(void);

/* ---- the commands */
int cmd_info(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_bench(int argc, char **argv);
/* features */

/* ctc */

/* rnnt */

/* layers */

/* quantizers */

/* training */


/* gradcheck: each component lists its checks in the table of asrtool_gradcheck.c.
 * run() computes the analytic gradient of a random instance (drawn from `seed`) and
 * compares it with asr_gradcheck(); it returns 0, or 2 if the component refused. */
typedef struct at_gradcheck_entry {
  const char *name;
  const char *what;
  int (*run)(uint64_t seed, asr_gradcheck_report *rep);
  double tol_double;           /* pass if max_rel_err <= this in the double build */
} at_gradcheck_entry;

/* bench: each component lists a function in the table of asrtool_bench.c that times its
 * cases and reports each as (case, impl, seconds per call) through at_bench_report(). */
typedef struct at_bench at_bench;
void at_bench_report(at_bench *b, const char *case_name, const char *impl, double seconds);
/* Calls fn(ctx) repeatedly for at least min_seconds (and at least once) and returns the
 * median seconds per call over the repetitions. */
double at_bench_time(void (*fn)(void *ctx), void *ctx, double min_seconds);
#endif
