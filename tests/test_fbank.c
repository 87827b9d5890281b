/* tests/test_fbank.c - tests of section "fbank" (none yet). */
static const test_case TESTS_fbank[] = {
  {0, 0}
};
