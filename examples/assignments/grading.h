/* examples/assignments/grading.h - what every assignment's grader (examples/assignments/NAME/
 * grader.c) shares: reading the reference arrays, comparing a student's array with one
 * and naming the first wrong element, running each part in a child process with a time
 * limit, and the report ("[PASS] part k: ...", then "score: P/N").
 *
 * A grader includes asr.h with ASR_IMPLEMENTATION (for the .npy reader and the log-softmax),
 * then this file, then defines its parts as grading_part entries and calls grading_main.
 * Everything here is static: one grader, one translation unit. POSIX (fork, pipe, alarm). */
#ifndef ASR_GRADING_H
#define ASR_GRADING_H

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A part's verdict, sent from the child through a pipe. */
typedef struct grading_verdict {
  int ok;
  char msg[600];
} grading_verdict;

/* One part: run(refs, v) sets v->ok, or writes v->msg on the first wrong element. */
typedef struct grading_part {
  void (*run)(const void *refs, grading_verdict *v);
  const char *name;
} grading_part;

/* Reads DIR/NAME as dtype dt with rank ndim (its shape into shape); exits 2 with one line
 * when it is missing or of another rank (the reference folder is the grader's, not the
 * student's: a problem there is the lecturer's). */
static void *grading_load(const char *dir, const char *name, asr_dtype dt, int ndim, int64_t *shape) {
  char path[1024];
  asr_array a;
  asr_error err;
  int d;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (asr_npy_read_as(path, dt, 1, &a, NULL, NULL, &err) != ASR_OK || a.ndim != ndim) {
    fprintf(stderr, "grader: %s: %s\n", path, a.ndim != ndim && a.data ? "unexpected rank" : err.msg);
    exit(2);
  }
  for (d = 0; d < ndim; d++) shape[d] = a.shape[d];
  return a.data;
}

/* |got - want| <= tol, infinities equal (a state no path reaches is -INFINITY in both). */
static int grading_same(double got, double want, double tol) {
  if (got == want) return 1;
  return fabs(got - want) <= tol;
}

/* Compares one item's (rows, cols) block of a student array (row stride cols) with the
 * reference's (row stride C, the padded width); on the first difference writes
 * "WHAT at item n, ROW=r, COL=c: expected E, got G" into v->msg, the place into *bad_r,
 * *bad_c, and returns 0. */
static int grading_compare(grading_verdict *v, const char *what, const char *row, const char *col, const double *got,
                           const double *want, int rows, int cols, int C, int n, double tol, int *bad_r, int *bad_c) {
  int r, c;
  for (r = 0; r < rows; r++)
    for (c = 0; c < cols; c++) {
      double g = got[(size_t)r * cols + c], w = want[(size_t)r * C + c];
      if (!grading_same(g, w, tol)) {
        snprintf(v->msg, sizeof v->msg, "%s at item %d, %s=%d, %s=%d: expected %.6g, got %.6g", what, n, row, r, col, c,
                 w, g);
        *bad_r = r, *bad_c = c;
        return 0;
      }
    }
  return 1;
}

/* The same for a whole (rows, cols) array with no item (row stride cols in both): on the
 * first difference writes "WHAT at ROW=r, COL=c: expected E, got G" (or "WHAT at ROW=r"
 * when cols is 1 and col is NULL) and returns 0 with the place in *bad_r, *bad_c. */
#if defined(__GNUC__)
__attribute__((unused))   /* a grader may use only grading_compare */
#endif
static int grading_compare_2d(grading_verdict *v, const char *what, const char *row, const char *col,
                              const double *got, const double *want, int rows, int cols, double tol, int *bad_r,
                              int *bad_c) {
  int r, c;
  for (r = 0; r < rows; r++)
    for (c = 0; c < cols; c++) {
      double g = got[(size_t)r * cols + c], w = want[(size_t)r * cols + c];
      if (!grading_same(g, w, tol)) {
        if (col)
          snprintf(v->msg, sizeof v->msg, "%s at %s=%d, %s=%d: expected %.6g, got %.6g", what, row, r, col, c, w, g);
        else
          snprintf(v->msg, sizeof v->msg, "%s at %s=%d: expected %.6g, got %.6g", what, row, r, w, g);
        *bad_r = r, *bad_c = c;
        return 0;
      }
    }
  return 1;
}

/* Appends ": HINT" to v->msg. */
static void grading_hint(grading_verdict *v, const char *hint) {
  size_t m = strlen(v->msg);
  snprintf(v->msg + m, sizeof v->msg - m, ": %s", hint);
}

/* Runs one part in a child with a time limit; its stderr (a sanitizer's report) is kept,
 * and a crash, a sanitizer's error or the time limit fails the part with that reason. */
static void grading_run_child(const void *refs, const grading_part *part, int time_limit, grading_verdict *v) {
  int fd[2], fe[2], status;
  pid_t pid;
  char err[4096];
  ssize_t got, n_err = 0;
  memset(v, 0, sizeof *v);
  if (pipe(fd) || pipe(fe)) {
    snprintf(v->msg, sizeof v->msg, "grader: pipe failed");
    return;
  }
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    grading_verdict mine;
    memset(&mine, 0, sizeof mine);
    close(fd[0]), close(fe[0]);
    dup2(fe[1], 2);
    alarm((unsigned)time_limit);
    part->run(refs, &mine);
    if (write(fd[1], &mine, sizeof mine) != (ssize_t)sizeof mine) _exit(3);
    _exit(0);
  }
  close(fd[1]), close(fe[1]);
  got = read(fd[0], v, sizeof *v);
  while (n_err < (ssize_t)sizeof err - 1) {
    ssize_t k = read(fe[0], err + n_err, sizeof err - 1 - (size_t)n_err);
    if (k <= 0) break;
    n_err += k;
  }
  err[n_err] = 0;
  close(fd[0]), close(fe[0]);
  waitpid(pid, &status, 0);
  if (got == (ssize_t)sizeof *v && WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  v->ok = 0;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
    snprintf(v->msg, sizeof v->msg, "did not finish within %d s (an endless loop?)", time_limit);
  } else {
    /* the sanitizer's first line that names an error, else the signal or exit status */
    const char *line = strstr(err, "ERROR: ");
    if (line) {
      const char *end = strchr(line, '\n');
      snprintf(v->msg, sizeof v->msg, "crashed: %.*s", end ? (int)(end - line) : (int)strlen(line), line);
    } else if (WIFSIGNALED(status)) {
      snprintf(v->msg, sizeof v->msg, "crashed with signal %d (%s)", WTERMSIG(status),
               WTERMSIG(status) == SIGSEGV ? "SIGSEGV: a bad pointer or an index out of bounds" : "see DEBUG=1");
    } else {
      snprintf(v->msg, sizeof v->msg, "the part's process exited with status %d", WEXITSTATUS(status));
    }
  }
}

/* Runs every part, one line each (a failure's message indented below it), then
 * "score: P/N". Returns the grader's exit status: 0 with full marks, else 1. */
static int grading_main(const void *refs, const grading_part *parts, int nparts, int time_limit) {
  int p, score = 0;
  for (p = 0; p < nparts; p++) {
    grading_verdict v;
    grading_run_child(refs, &parts[p], time_limit, &v);
    printf("[%s] part %d: %s%s%s\n", v.ok ? "PASS" : "FAIL", p + 1, parts[p].name, v.ok ? "" : "\n       ",
           v.ok ? "" : v.msg);
    score += v.ok;
  }
  printf("score: %d/%d\n", score, nparts);
  return score == nparts ? 0 : 1;
}

#endif
