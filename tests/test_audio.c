/* tests/test_audio.c - tests of section "audio" (none yet). */
static const test_case TESTS_audio[] = {
  {0, 0}
};
