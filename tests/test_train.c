/* tests/test_train.c - tests of section "train" (none yet). */
static const test_case TESTS_train[] = {
  {0, 0}
};
