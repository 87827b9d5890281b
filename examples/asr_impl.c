/* examples/asr_impl.c - the one translation unit of the examples that holds the
 * implementation of asr.h, with Ogg Vorbis decoding through Debian's stb_vorbis. */
#define ASR_IMPLEMENTATION
#define ASR_USE_STB_VORBIS
#include "../asr.h"
