/* tests/fuzz/fuzz_npy.c - libFuzzer target: asr_npy_parse, then the conversions asrtool
 * applies to what it read (to asr_real and to int); and the same bytes as a file through
 * asr_npy_read / asr_npy_read_as to every dtype, which must agree with the buffer parser
 * (same result code on malformed input, no data on failure) and with asr_array_to_real /
 * asr_array_to_int (the same values, accepted or refused alike). */
#define _POSIX_C_SOURCE 200809L
#define ASR_IMPLEMENTATION
#include "../../asr.h"
#include <stdlib.h>
#include <unistd.h>

/* The file the bytes are written to: one per fuzzing process, in memory (/dev/shm) where
 * there is one. */
static char input_file[64];
static void remove_input(void) { remove(input_file); }
static const char *input_path(void) {
  if (!input_file[0]) {
    snprintf(input_file, sizeof input_file, "%s/fuzz_npy_%ld.npy",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
    atexit(remove_input);
  }
  return input_file;
}

/* Reads the bytes back as a file in every dtype and compares with the buffer path:
 * parsed (r, a) and its conversions (x, rx: asr_real; k, rk: int). */
static void check_file(const uint8_t *data, size_t size, asr_result r, const asr_array *a,
                       const asr_real *x, asr_result rx, const int *k, asr_result rk) {
  static const asr_dtype dts[5] = {ASR_DTYPE_F32, ASR_DTYPE_F64, ASR_DTYPE_I32, ASR_DTYPE_I64,
                                   ASR_DTYPE_U8};
  const char *path = input_path();
  FILE *fp;
  remove(path);   /* a fresh file: rewriting one in place makes ext4 flush it at each close */
  fp = fopen(path, "wb");
  asr_array b;
  asr_error err;
  asr_dtype st;
  int i;
  if (!fp) return;
  if (fwrite(data, 1, size, fp) != size) {
    fclose(fp);
    return;
  }
  if (fclose(fp) != 0) return;
  if (asr_npy_read(path, &b, NULL, &err) != r) __builtin_trap();
  if (r == ASR_OK) {
    size_t nbytes = a->count * asr_dtype_size(a->dtype);
    if (b.dtype != a->dtype || b.count != a->count || memcmp(b.data, a->data, nbytes) != 0)
      __builtin_trap();
    asr_array_free(&b, NULL);
  } else if (b.data != NULL) {
    __builtin_trap();
  }
  for (i = 0; i < 5; i++) {
    asr_result r2 = asr_npy_read_as(path, dts[i], 0, &b, &st, NULL, &err);
    if (r2 != ASR_OK) {
      if (r2 >= 0 || b.data != NULL) __builtin_trap();
      if (r != ASR_OK && r2 != r) __builtin_trap();   /* malformed: the parser's code */
    } else if (r != ASR_OK || st != a->dtype || b.dtype != dts[i] || b.count != a->count) {
      __builtin_trap();
    }
    /* asr_real and int: accepted exactly when the older conversion accepts, same values */
    if (r == ASR_OK && dts[i] == ASR_DTYPE_REAL && x &&
        ((r2 == ASR_OK) != (rx == ASR_OK) ||
         (r2 == ASR_OK && a->count && memcmp(b.data, x, sizeof(asr_real) * a->count) != 0)))
      __builtin_trap();
    if (r == ASR_OK && dts[i] == ASR_DTYPE_I32 && k &&
        ((r2 == ASR_OK) != (rk == ASR_OK) ||
         (r2 == ASR_OK && a->count && memcmp(b.data, k, sizeof(int) * a->count) != 0)))
      __builtin_trap();
    if (r2 == ASR_OK) asr_array_free(&b, NULL);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  asr_array a;
  asr_error err;
  asr_result r = asr_npy_parse(data, size, &a, NULL, &err);
  if (r == ASR_OK) {
    asr_real *x = (asr_real *)malloc(sizeof(asr_real) * (a.count ? a.count : 1));
    int *k = (int *)malloc(sizeof(int) * (a.count ? a.count : 1));
    if (x && k) {
      asr_result rx = asr_array_to_real(&a, x, 0, &err);
      asr_result rk = asr_array_to_int(&a, k, &err);
      check_file(data, size, r, &a, x, rx, k, rk);
    }
    free(x);
    free(k);
    asr_array_free(&a, NULL);
  } else if (r >= 0 || a.data != NULL) {
    __builtin_trap();
  } else {
    check_file(data, size, r, &a, NULL, ASR_OK, NULL, ASR_OK);
  }
  return 0;
}
