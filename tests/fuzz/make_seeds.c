/* tests/fuzz/make_seeds.c DIR - writes the seed corpora of the fuzzers, made by asr.h itself:
 * DIR/wav: every WAV format (plain and extensible, 1-3 channels, a LIST chunk, odd sizes);
 * DIR/npy: every dtype and a few shapes; DIR/npz: small archives; DIR/model: a checkpoint
 * of every recipe at the smallest sizes and of each wav2vec recipe, and a config alone
 * (asr_model_save, asr_w2v_model_save, asr_bert_model_save). (The Ogg seeds are the
 * project's own data/demo.ogg, cut to a few sizes by tests/fuzz/run.sh.) */
#define ASR_IMPLEMENTATION
#include "../../asr.h"
#include <stdlib.h>

static void put(const char *dir, const char *name, const void *p, size_t n) {
  char path[1024];
  FILE *fp;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  fp = fopen(path, "wb");
  if (!fp || fwrite(p, 1, n, fp) != n) {
    fprintf(stderr, "make_seeds: cannot write %s\n", path);
    exit(1);
  }
  fclose(fp);
}

int main(int argc, char **argv) {
  char dir[900], name[64];
  static unsigned char buf[1 << 16];
  asr_real x[3 * 64];
  double d[12];
  int32_t k32[6];
  int64_t k64[6], shape[3];
  unsigned char u8[6];
  size_t len;
  int f, ch, i;
  asr_npz_writer w;
  if (argc != 2) return 2;
  for (i = 0; i < 3 * 64; i++) x[i] = (asr_real)(8000 * sin(0.3 * i) + (i % 7) * 100);
  /* WAV */
  snprintf(dir, sizeof dir, "%s/wav", argv[1]);
  for (f = ASR_WAV_PCM8; f <= ASR_WAV_FLOAT64; f++)
    for (ch = 1; ch <= 3; ch++) {
      int ext = ch == 3;
      if (asr_wav_encode(buf, sizeof buf, &len, x, 63 / ch, ch, 16000, f | (ext ? ASR_WAV_EXTENSIBLE : 0),
                         ASR_SCALE_INT16) != ASR_OK) return 1;
      snprintf(name, sizeof name, "f%d-c%d.wav", f, ch);
      put(dir, name, buf, len);
    }
  /* a LIST chunk with an odd-sized body (and its pad byte) before the audio */
  {
    static unsigned char b2[4096];
    size_t n2;
    if (asr_wav_encode(b2, sizeof b2, &n2, x, 20, 1, 8000, ASR_WAV_PCM16, ASR_SCALE_INT16) != ASR_OK) return 1;
    memcpy(buf, b2, 12);
    memcpy(buf + 12, "LIST\x05\x00\x00\x00INFO\x01\x00", 14);   /* header 8, body 5, pad 1 */
    memcpy(buf + 26, b2 + 12, n2 - 12);
    put(dir, "list.wav", buf, n2 + 14);
  }
  /* .npy */
  snprintf(dir, sizeof dir, "%s/npy", argv[1]);
  for (i = 0; i < 12; i++) d[i] = i * 0.5 - 2;
  for (i = 0; i < 6; i++) k32[i] = i - 3, k64[i] = (int64_t)i << 33, u8[i] = (unsigned char)(i * 40);
  shape[0] = 3;
  shape[1] = 4;
  shape[2] = 1;
  asr_npy_encode(buf, sizeof buf, &len, ASR_DTYPE_F64, 2, shape, d);
  put(dir, "f8.npy", buf, len);
  asr_npy_encode(buf, sizeof buf, &len, ASR_DTYPE_F32, 3, shape, x);
  put(dir, "f4.npy", buf, len);
  shape[0] = 6;
  asr_npy_encode(buf, sizeof buf, &len, ASR_DTYPE_I32, 1, shape, k32);
  put(dir, "i4.npy", buf, len);
  asr_npy_encode(buf, sizeof buf, &len, ASR_DTYPE_I64, 1, shape, k64);
  put(dir, "i8.npy", buf, len);
  asr_npy_encode(buf, sizeof buf, &len, ASR_DTYPE_U8, 1, shape, u8);
  put(dir, "u1.npy", buf, len);
  asr_npy_encode(buf, sizeof buf, &len, ASR_DTYPE_F32, 0, shape, x);
  put(dir, "scalar.npy", buf, len);
  /* .npz, written by asr.h's writer */
  snprintf(dir, sizeof dir, "%s/npz/a.npz", argv[1]);
  if (asr_npz_writer_open(&w, dir, NULL, NULL) != ASR_OK) return 1;
  shape[0] = 2;
  shape[1] = 3;
  asr_npz_writer_add(&w, "encoder.weight", ASR_DTYPE_F32, 2, shape, x, NULL);
  shape[0] = 6;
  asr_npz_writer_add(&w, "lengths", ASR_DTYPE_I64, 1, shape, k64, NULL);
  if (asr_npz_writer_close(&w, NULL) != ASR_OK) return 1;
  snprintf(dir, sizeof dir, "%s/npz/empty.npz", argv[1]);
  if (asr_npz_writer_open(&w, dir, NULL, NULL) != ASR_OK || asr_npz_writer_close(&w, NULL) != ASR_OK) return 1;
  /* model checkpoints: every recipe, shrunk so that each file is a few KB */
  for (i = 0; asr_model_recipe_name(i); i++) {
    asr_model_config c;
    asr_model m;
    asr_rng rng;
    asr_model_config_default(&c, asr_model_recipe_name(i));
    c.n_mels = 10, c.channels = 8, c.blocks = 1, c.layers = 1, c.kernel = 3, c.heads = 2, c.ff_dim = 8;
    c.pred_dim = 4, c.joint_dim = 4, c.dec_layers = 1, c.dec_units = 4, c.att_dim = 4, c.aconv_chans = 2;
    c.aconv_filts = 1;
    asr_rng_seed(&rng, (uint64_t)i, 0);
    snprintf(dir, sizeof dir, "%s/model/%s.npz", argv[1], c.recipe);
    if (asr_model_create(&m, &c, &rng, NULL, NULL) != ASR_OK || asr_model_save(&m, dir, NULL) != ASR_OK) return 1;
    asr_model_free(&m);
  }
  {
    static const char *const w2v[3] = {"toy-wav2vec", "toy-vq-wav2vec-gumbel", "toy-vq-wav2vec-kmeans"};
    for (i = 0; i < 3; i++) {
      asr_w2v_config c;
      asr_w2v_model m;
      asr_rng rng;
      asr_w2v_config_default(&c, w2v[i]);
      c.channels = 4, c.agg_layers = 1, c.vq_groups = 2, c.vq_vars = 4;
      asr_rng_seed(&rng, (uint64_t)i, 0);
      snprintf(dir, sizeof dir, "%s/model/%s.npz", argv[1], w2v[i]);
      if (asr_w2v_model_create(&m, &c, &rng, NULL, NULL) != ASR_OK || asr_w2v_model_save(&m, dir, NULL) != ASR_OK)
        return 1;
      asr_w2v_model_free(&m);
    }
  }
  {                                                  /* a BERT on units (asr.h 9.10) */
    asr_bert_config c;
    asr_bert_model m;
    asr_rng rng;
    asr_bert_config_init(&c, 6, 4, 2, 4, 1);
    asr_rng_seed(&rng, 7, 0);
    snprintf(dir, sizeof dir, "%s/model/bert.npz", argv[1]);
    if (asr_bert_model_create(&m, &c, &rng, NULL, NULL) != ASR_OK || asr_bert_model_save(&m, dir, NULL) != ASR_OK)
      return 1;
    asr_bert_model_free(&m);
  }
  snprintf(dir, sizeof dir, "%s/model/config-only.npz", argv[1]);
  shape[0] = (int64_t)strlen("{\"recipe\": \"ctc-contextnet\", \"channels\": 1712}");
  if (asr_npz_writer_open(&w, dir, NULL, NULL) != ASR_OK ||
      asr_npz_writer_add(&w, "config", ASR_DTYPE_U8, 1, shape, "{\"recipe\": \"ctc-contextnet\", \"channels\": 1712}",
                         NULL) != ASR_OK || asr_npz_writer_close(&w, NULL) != ASR_OK)
    return 1;
  return 0;
}
