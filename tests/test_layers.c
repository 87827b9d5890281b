/* tests/test_layers.c - tests of section "layers" (none yet). */
static const test_case TESTS_layers[] = {
  {0, 0}
};
