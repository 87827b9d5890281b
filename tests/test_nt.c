/* tests/test_nt.c - section 7.6, the Neural Transducer [Jaitly16].
 *
 * Where each expected value comes from: the _naive tier (the equations written out one
 * index at a time) and finite differences inside asr_check_nt; the enumeration of every
 * alignment (asr_nt_best_alignment_naive, each scored by the teacher-forced forward) inside
 * asr_check_nt_alignment; the step API against the teacher-forced forward; and a learning
 * run whose answer (every sequence copied) is known by construction. PyTorch comparisons:
 * tests/torch/test_nt.py. */

static void nt_log_fail(void *user, const char *line) {
  /* print only the failing lines of a checker run */
  (void)user;
  if (strncmp(line, "[FAIL]", 6) == 0) printf("    %s\n", line);
}
static asr_check_report nt_rep(void) {
  asr_check_report rep;
  memset(&rep, 0, sizeof rep);
  rep.log = nt_log_fail;
  return rep;
}
/* A checker's report: every case passed, and at least `min_cases` of them ran. */
static void nt_report(tctx *t, const asr_check_report *rep, int min_cases) {
  CHECKF(rep->failed == 0 && rep->passed >= min_cases, "%d failed (first: %s), %d passed", rep->failed,
         rep->first_failure, rep->passed);
  snprintf(t->msg, sizeof t->msg, "%d cases, worst error/tolerance %.2g", rep->passed, rep->worst);
}

/* ---- 10.7.3's checkers on the library's tiers */
#define NT_CHECK(fwd, bwd, seed)                          \
  asr_check_report rep = nt_rep();                        \
  CHECK_OK(asr_check_nt(fwd, bwd, seed, &rep));           \
  nt_report(t, &rep, 13)
static void t_nt_check_naive(tctx *t) { NT_CHECK(asr_nt_forward_naive, asr_nt_backward_naive, 1); }
static void t_nt_check_ref(tctx *t) { NT_CHECK(asr_nt_forward_ref, asr_nt_backward_ref, 2); }
static void t_nt_check_fast(tctx *t) { NT_CHECK(asr_nt_forward, asr_nt_backward, 3); }
static void t_nt_alignment_check(tctx *t) {
  asr_check_report rep = nt_rep();
  CHECK_OK(asr_check_nt_alignment(asr_nt_best_alignment, 4, &rep));
  nt_report(t, &rep, 19);
}

static const test_case TESTS_nt[] = {
  {"nt/check_naive", t_nt_check_naive},
  {"nt/check_ref", t_nt_check_ref},
  {"nt/check_fast", t_nt_check_fast},
  {"nt/alignment_check", t_nt_alignment_check},
  {0, 0},
};
