/* tests/test_asr.c - the one test runner of asr.h.
 *
 *   build/test_gcc [FILTER...]     runs every test whose name contains one of the FILTERs
 *   build/test_gcc --list          lists the test names
 *
 * One line per test ("[ OK ] ctc/naive_vs_ref"), then "N passed, N failed"; exit status 1
 * if anything failed. Tests that need ../shared/data skip with a message when it is
 * absent (ASR_SHARED_DATA overrides its location). The same file is compiled as C99 with
 * gcc and clang, with ASR_REAL=double, as C++11, with ASR_STATIC, with the implementation
 * in a separate translation unit (ASR_TEST_SEPARATE_IMPL) and under ASan+UBSan. */
#define _POSIX_C_SOURCE 200809L
#ifndef ASR_TEST_SEPARATE_IMPL
#define ASR_IMPLEMENTATION
#endif
#include "../asr.h"
#include "test_util.h"
#include <float.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_core.c"
#include "test_audio.c"
#include "test_fbank.c"
#include "test_layers.c"
#include "test_conformer.c"
#include "test_tdec.c"
#include "test_ctc.c"
#include "test_rnnt.c"
#include "test_las.c"
#include "test_vq.c"
#include "test_train.c"
#include "test_joint.c"
#include "test_nt.c"
#include "test_checkers.c"
#include "test_w2v.c"
#include "test_bert.c"
#include "test_lattice.c"
#include "test_lexicon.c"
#include "test_threads.c"
#include "test_drop.c"

static const test_case *const ALL_TESTS[] = {
  TESTS_core, TESTS_audio, TESTS_fbank, TESTS_layers, TESTS_conformer, TESTS_tdec, TESTS_ctc, TESTS_lexicon, TESTS_rnnt,
  TESTS_las, TESTS_joint, TESTS_nt, TESTS_vq, TESTS_w2v, TESTS_bert, TESTS_train, TESTS_checkers, TESTS_lattice,
  TESTS_threads, TESTS_drop,
};

static int matches(const char *name, int argc, char **argv) {
  int i, any = 0;
  for (i = 1; i < argc; i++) {
    if (argv[i][0] == '-') continue;
    any = 1;
    if (strstr(name, argv[i])) return 1;
  }
  return !any;
}

static int dir_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(int argc, char **argv) {
  int passed = 0, failed = 0, skipped = 0, list = 0, i;
  size_t g;
  char tmpl[] = "build/tmp/testXXXXXX";
  const char *shared = getenv("ASR_SHARED_DATA");
  tctx t;
  for (i = 1; i < argc; i++)
    if (strcmp(argv[i], "--list") == 0) list = 1;
  if (!shared) shared = "../shared/data";
  if (!list) {
    printf("asr.h %s test runner: asr_real = %s, SIMD path: %s, compiled as %s\n",
           ASR_VERSION_STRING, ASR_REAL_DOUBLE ? "double" : "float", ASR_SIMD_NAME,
#ifdef __cplusplus
           "C++"
#else
           "C"
#endif
    );
    if (!dir_exists(shared)) printf("note: %s is absent: tests that need it will skip\n", shared);
  }
  mkdir("build", 0777);
  mkdir("build/tmp", 0777);
  if (!list && !mkdtemp(tmpl)) {
    fprintf(stderr, "cannot create a temporary directory under build/tmp\n");
    return 2;
  }
  for (g = 0; g < sizeof ALL_TESTS / sizeof ALL_TESTS[0]; g++) {
    const test_case *tc;
    for (tc = ALL_TESTS[g]; tc->name; tc++) {
      if (!matches(tc->name, argc, argv)) continue;
      if (list) {
        printf("%s\n", tc->name);
        continue;
      }
      memset(&t, 0, sizeof t);
      t.name = tc->name;
      t.tmpdir = tmpl;
      t.shared = dir_exists(shared) ? shared : NULL;
      tc->fn(&t);
      if (t.failed) {
        printf("[FAIL] %s: %s\n", tc->name, t.msg);
        failed++;
      } else if (t.skipped) {
        printf("[SKIP] %s: %s\n", tc->name, t.msg);
        skipped++;
      } else {
        printf("[ OK ] %s%s%s\n", tc->name, t.msg[0] ? ": " : "", t.msg);
        passed++;
      }
      fflush(stdout);
    }
  }
  if (list) return 0;
  {
    /* remove the run's temporary files (tests leave only regular files there) */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", tmpl);
  }
  if (skipped) printf("%d skipped\n", skipped);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
