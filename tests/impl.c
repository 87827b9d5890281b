/* tests/impl.c - the implementation in its own translation unit, for the build of the
 * test runner with ASR_TEST_SEPARATE_IMPL (checks that the header alone declares all). */
#define ASR_IMPLEMENTATION
#ifndef ASR_USE_STB_VORBIS
#define ASR_USE_STB_VORBIS
#endif
#include "../asr.h"
