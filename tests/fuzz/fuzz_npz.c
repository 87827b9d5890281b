/* tests/fuzz/fuzz_npz.c - libFuzzer target: asr_npz_parse and a lookup in what it read. */
#define ASR_IMPLEMENTATION
#include "../../asr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  asr_npz z;
  asr_error err;
  asr_result r = asr_npz_parse(data, size, &z, NULL, &err);
  if (r == ASR_OK) {
    int i;
    for (i = 0; i < z.count; i++)
      if (asr_npz_get(&z, z.names[i]) == NULL) __builtin_trap();
    asr_npz_free(&z, NULL);
  } else if (r >= 0 || z.count != 0 || z.names != NULL) {
    __builtin_trap();
  }
  return 0;
}
