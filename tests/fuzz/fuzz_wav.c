/* tests/fuzz/fuzz_wav.c - libFuzzer target: asr_wav_parse on arbitrary bytes, every channel
 * choice and both scales. A crash, a sanitizer report, a leak or a NaN in the output is a
 * finding; an error code is the expected answer to most inputs. */
#define ASR_IMPLEMENTATION
#include "../../asr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int ch;
  for (ch = -1; ch < 3; ch++) {
    asr_audio a;
    asr_error err;
    asr_result r = asr_wav_parse(data, size, ch, ch == 1 ? ASR_SCALE_UNIT : ASR_SCALE_INT16, &a, NULL, &err);
    if (r == ASR_OK) {
      int i;
      for (i = 0; i < a.n; i++)
        if (!isfinite(a.samples[i])) __builtin_trap();      /* the reader promises finite samples */
      asr_audio_free(&a, NULL);
    } else if (r >= 0 || a.samples != NULL || err.msg[0] == 0) {
      __builtin_trap();                                      /* errors are negative, with a message */
    }
  }
  return 0;
}
