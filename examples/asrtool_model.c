/* examples/asrtool_model.c - `asrtool model`: run a recipe model (a checkpoint written by
 * build/train) on features, in evaluation mode, and write its per-frame token
 * log-probabilities. tests/torch/test_recipes.py compares them with the same checkpoint
 * loaded into PyTorch.
 *
 *   asrtool model --model MODEL.npz FEATS LENGTHS OUTDIR
 *     FEATS (N, T, n_mels) features (as asr_model_features makes them), LENGTHS (N) int
 *     writes logprobs.npy (N, T', vocab) and lengths.npy (N,) int32 */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <stdlib.h>
#include <string.h>

int cmd_model(int argc, char **argv) {
  char *pos[3];
  const char *model_path = NULL;
  int npos, r, n, N, T, Tout, *lengths = NULL, *out_len = NULL;
  int64_t fs[ASR_MAX_DIMS], ls[ASR_MAX_DIMS], shape[3], lshape[1];
  asr_real *feats = NULL, *lp = NULL;
  asr_model m;
  asr_error err;
  void *work = NULL;
  size_t wb;
  at_outputs outs;
  const at_opt opts[] = {{"model", AT_STR, &model_path, 0, 0, NULL}};
  r = at_parse(argc, argv, opts, 1, pos, 3, 3, &npos,
               "model --model MODEL.npz FEATS LENGTHS OUTDIR\n"
               "  a recipe model (from build/train) in evaluation mode on features (N, T, n_mels)\n"
               "  with lengths (N,): writes logprobs.npy (N, T', vocab) and lengths.npy (N,)");
  if (r) return r == 1 ? 0 : r;
  if (!model_path) return at_fail("--model MODEL.npz is required");
  if (asr_model_load(&m, model_path, NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
  r = at_npy_real(pos[0], 3, fs, &feats, 0);
  if (!r) r = at_npy_int(pos[1], 1, ls, &lengths);
  if (!r && fs[2] != m.cfg.n_mels)
    r = at_fail("%s: %lld feature columns, the model takes %d", pos[0], (long long)fs[2], m.cfg.n_mels);
  if (!r && ls[0] != fs[0]) r = at_fail("%s: %lld lengths for %lld utterances", pos[1], (long long)ls[0], (long long)fs[0]);
  N = (int)fs[0];
  T = (int)fs[1];
  for (n = 0; !r && n < N; n++)
    if (lengths[n] < 1 || lengths[n] > T) r = at_fail("%s: lengths[%d] = %d is outside [1, %d]", pos[1], n, lengths[n], T);
  if (r) {
    free(feats), free(lengths);
    asr_model_free(&m);
    return r;
  }
  Tout = asr_model_out_frames(&m, T);
  wb = asr_model_infer_workspace_size(&m, N, T);
  work = malloc(wb ? wb : 1);
  lp = (asr_real *)malloc(sizeof *lp * ((size_t)N * Tout * m.cfg.vocab + 1));
  out_len = (int *)malloc(sizeof *out_len * (size_t)(N + 1));
  if (!work || !lp || !out_len) r = at_fail("out of memory");
  else if (asr_model_logprobs(&m, lp, out_len, feats, lengths, N, T, work, wb, &err) != ASR_OK)
    r = at_fail("%s", err.msg);
  if (!r) {
    memset(&outs, 0, sizeof outs);
    shape[0] = N, shape[1] = Tout, shape[2] = m.cfg.vocab;
    lshape[0] = N;
    at_out_add(&outs, "logprobs.npy", ASR_DTYPE_REAL, 3, shape, lp);
    at_out_add(&outs, "lengths.npy", ASR_DTYPE_I32, 1, lshape, out_len);
    r = at_out_commit(&outs, pos[2]);
  }
  free(feats), free(lengths), free(work), free(lp), free(out_len);
  asr_model_free(&m);
  return r;
}
