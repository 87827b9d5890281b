/* tests/fuzz/fuzz_model.c - libFuzzer target: the model checkpoint readers (config JSON and
 * tensors) on an .npz parsed from memory: asr_model_load's, asr_w2v_model_load's and
 * asr_bert_model_load's own code after the file is read (asr__model_load_npz,
 * asr__w2v_load_npz, asr__bert_load_npz). Each checks every
 * tensor its config implies against the archive before allocating, so what a run
 * allocates is bounded by the input's size, not by the size its config claims: the
 * fuzzer's -rss_limit_mb is never reached by a small file claiming a huge model. A
 * loaded model must have every tensor finite or not (asr_array_to_real allows both) and
 * its first frames' features computable. */
#define ASR_IMPLEMENTATION
#include "../../asr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  asr_npz z;
  asr_error err;
  asr_model m;
  asr_w2v_model w;
  asr_bert_model b;
  asr_result r;
  if (asr_npz_parse(data, size, &z, NULL, &err) != ASR_OK) return 0;
  r = asr__model_load_npz(&m, &z, "fuzz.npz", NULL, &err);
  if (r == ASR_OK) {
    /* a loaded model answers its size questions without failing */
    if (asr_model_num_frames(&m, 16000, 16000) < 0 || asr_model_encoder_dim(&m) < 1) __builtin_trap();
    asr_model_free(&m);
  } else if (r >= 0 || m.params.data != NULL) {
    __builtin_trap();
  }
  r = asr__w2v_load_npz(&w, &z, "fuzz.npz", NULL, &err);
  if (r == ASR_OK) asr_w2v_model_free(&w);
  else if (r >= 0 || w.params.data != NULL) __builtin_trap();
  r = asr__bert_load_npz(&b, &z, "fuzz.npz", NULL, &err);
  if (r == ASR_OK) asr_bert_model_free(&b);
  else if (r >= 0 || b.params.data != NULL) __builtin_trap();
  asr_npz_free(&z, NULL);
  return 0;
}
