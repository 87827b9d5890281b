/* tests/test_rnnt.c - tests of section "rnnt" (none yet). */
static const test_case TESTS_rnnt[] = {
  {0, 0}
};
