/* tests/fuzz/fuzz_npy.c - libFuzzer target: asr_npy_parse, then the conversions asrtool
 * applies to what it read (to asr_real and to int). */
#define ASR_IMPLEMENTATION
#include "../../asr.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  asr_array a;
  asr_error err;
  asr_result r = asr_npy_parse(data, size, &a, NULL, &err);
  if (r == ASR_OK) {
    asr_real *x = (asr_real *)malloc(sizeof(asr_real) * (a.count ? a.count : 1));
    int *k = (int *)malloc(sizeof(int) * (a.count ? a.count : 1));
    if (x && k) {
      (void)asr_array_to_real(&a, x, 0, &err);
      (void)asr_array_to_int(&a, k, &err);
    }
    free(x);
    free(k);
    asr_array_free(&a, NULL);
  } else if (r >= 0 || a.data != NULL) {
    __builtin_trap();
  }
  return 0;
}
