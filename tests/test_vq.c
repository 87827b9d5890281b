/* tests/test_vq.c - tests of section "vq" (none yet). */
static const test_case TESTS_vq[] = {
  {0, 0}
};
