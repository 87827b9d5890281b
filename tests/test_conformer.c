/* tests/test_conformer.c - tests of sections 4.3-4.4 (none yet). */
static const test_case TESTS_conformer[] = {
  {0, 0}
};
