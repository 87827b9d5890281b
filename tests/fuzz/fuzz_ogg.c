/* tests/fuzz/fuzz_ogg.c - libFuzzer target: asr_ogg_parse (stb_vorbis underneath, compiled
 * from Debian's stb_vorbis.h with the same sanitizers by stb_vorbis_impl.c). */
#define ASR_IMPLEMENTATION
#define ASR_USE_STB_VORBIS
#include "../../asr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  asr_audio a;
  asr_error err;
  asr_result r = asr_ogg_parse(data, size, ASR_CHANNEL_MIX, ASR_SCALE_INT16, &a, NULL, &err);
  if (r == ASR_OK) {
    int i;
    for (i = 0; i < a.n; i++)
      if (!isfinite(a.samples[i])) __builtin_trap();
    asr_audio_free(&a, NULL);
  } else if (r >= 0 || a.samples != NULL || err.msg[0] == 0) {
    __builtin_trap();
  }
  return 0;
}
