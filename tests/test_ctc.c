/* tests/test_ctc.c - tests of section "ctc" (none yet). */
static const test_case TESTS_ctc[] = {
  {0, 0}
};
