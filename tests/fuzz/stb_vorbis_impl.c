/* tests/fuzz/stb_vorbis_impl.c - Debian's stb_vorbis (libstb-dev) compiled into the fuzzer
 * with the sanitizers, instead of linking the uninstrumented libstb.so. */
#include <stb/stb_vorbis.h>
