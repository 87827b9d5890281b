/* examples/asrtool/relattn.c - asrtool rel-attention: the score path of the relative-position
 * self-attention, one head at a time, on given projections (asr_rel_attention_head_forward
 * and _backward; docs/conformer.md sec. 4). What examples/assignments/relpos grades:
 *   asrtool rel-attention [--rel-pos latest|legacy] [--lengths L] [--grad-output DCTX]
 *                         Q K V P POS_BIAS_U POS_BIAS_V OUTDIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "asrtool.h"

int cmd_rel_attention(int argc, char **argv) {
  char *pos[7];
  const char *grad_path = NULL, *len_path = NULL;
  int rel = 0, npos, r, ret = 2, N, T, D, H, dk, P, b, h, i;
  int64_t qs[ASR_MAX_DIMS], ks[ASR_MAX_DIMS], vs[ASR_MAX_DIMS], ps[ASR_MAX_DIMS], us[ASR_MAX_DIMS],
      ws[ASR_MAX_DIMS], gs[ASR_MAX_DIMS], ls[ASR_MAX_DIMS], sh[4];
  asr_real *q = NULL, *k = NULL, *v = NULL, *p = NULL, *pbu = NULL, *pbv = NULL, *g = NULL, *pe = NULL;
  asr_real *ac = NULL, *bdr = NULL, *bd = NULL, *attn = NULL, *ctx = NULL;
  asr_real *dq = NULL, *dkk = NULL, *dv = NULL, *dp = NULL, *dpbu = NULL, *dpbv = NULL;
  int *len = NULL;
  at_outputs outs;
  const at_opt opts[] = {
    {"rel-pos", AT_CHOICE, &rel, 0, 0, "latest|legacy"},
    {"lengths", AT_STR, &len_path, 0, 0, NULL},
    {"grad-output", AT_STR, &grad_path, 0, 0, NULL},
  };
  r = at_parse(argc, argv, opts, 3, pos, 7, 7, &npos,
               "rel-attention [--rel-pos latest|legacy] [--lengths L] [--grad-output DCTX] Q K V P POS_BIAS_U "
               "POS_BIAS_V OUTDIR\n"
               "  the score path of ESPnet's relative-position self-attention [Dai19], head by head, on the\n"
               "  projections Q, K, V (N, T, D) = linear_q/k/v(x), P (P, D) = linear_pos(pos_emb), P = 2T-1\n"
               "  (latest) or T (legacy), and the biases POS_BIAS_U, POS_BIAS_V (H, D/H); lengths L (N,)\n"
               "  (default T). Writes pos_emb.npy (P, D), the encoding for this T and D (legacy: ESPnet's\n"
               "  max_len 5000); ac.npy (N, H, T, T) = (q + pbu) k^T; bd_raw.npy (N, H, T, P) = (q + pbv) p^T;\n"
               "  bd.npy = rel_shift(bd_raw); attn.npy = softmax((ac + bd)/sqrt(D/H)) over keys < length\n"
               "  (padded rows 0); ctx.npy (N, T, D) = attn v per head. With DCTX (N, T, D), the gradient of\n"
               "  sum(DCTX * ctx): grad_q, grad_k, grad_v (N, T, D), grad_p (P, D), grad_pos_bias_u,\n"
               "  grad_pos_bias_v (H, D/H) (asr_rel_attention_head_backward).");
  if (r) return r == 1 ? 0 : r;
  if (at_npy_real(pos[0], 3, qs, &q, 0) || at_npy_real(pos[1], 3, ks, &k, 0) || at_npy_real(pos[2], 3, vs, &v, 0) ||
      at_npy_real(pos[3], 2, ps, &p, 0) || at_npy_real(pos[4], 2, us, &pbu, 0) || at_npy_real(pos[5], 2, ws, &pbv, 0))
    goto done;
  N = (int)qs[0], T = (int)qs[1], D = (int)qs[2], H = (int)us[0], dk = (int)us[1];
  if (T < 1 || D < 2 || D % 2) {
    at_fail("%s: (N, T, D) needs T >= 1 and an even D (the sinusoidal encoding), got T %d, D %d", pos[0], T, D);
    goto done;
  }
  for (i = 1; i <= 2; i++)   /* K and V: Q's shape */
    if ((i == 1 ? ks : vs)[0] != N || (i == 1 ? ks : vs)[1] != T || (i == 1 ? ks : vs)[2] != D) {
      at_fail("%s: shape does not match %s (%d, %d, %d)", pos[i], pos[0], N, T, D);
      goto done;
    }
  P = asr_rel_pos_len((asr_rel_pos_type)rel, T);
  if (ps[0] != P || ps[1] != D) {
    at_fail("%s: expected (%d, %d) for T = %d (%s), got (%d, %d)", pos[3], P, D, T, rel ? "legacy" : "latest",
            (int)ps[0], (int)ps[1]);
    goto done;
  }
  if (H < 1 || (long)H * dk != D || ws[0] != H || ws[1] != dk) {
    at_fail("%s, %s: expected (H, D/H) with H * D/H = %d, got (%d, %d) and (%d, %d)", pos[4], pos[5], D, H, dk,
            (int)ws[0], (int)ws[1]);
    goto done;
  }
  if (len_path) {
    if (at_npy_int(len_path, 1, ls, &len)) goto done;
    if (ls[0] != N) {
      at_fail("%s: %d lengths for %d items", len_path, (int)ls[0], N);
      goto done;
    }
    for (b = 0; b < N; b++)
      if (len[b] < 0 || len[b] > T) {
        at_fail("%s: length %d of item %d is outside [0, %d]", len_path, len[b], b, T);
        goto done;
      }
  }
  if (grad_path) {
    if (at_npy_real(grad_path, 3, gs, &g, 0)) goto done;
    if (gs[0] != N || gs[1] != T || gs[2] != D) {
      at_fail("%s: shape does not match %s", grad_path, pos[0]);
      goto done;
    }
  }
  pe = (asr_real *)calloc((size_t)P * D + 1, sizeof(asr_real));
  ac = (asr_real *)calloc((size_t)N * H * T * T + 1, sizeof(asr_real));
  bd = (asr_real *)calloc((size_t)N * H * T * T + 1, sizeof(asr_real));
  attn = (asr_real *)calloc((size_t)N * H * T * T + 1, sizeof(asr_real));
  bdr = (asr_real *)calloc((size_t)N * H * T * P + 1, sizeof(asr_real));
  ctx = (asr_real *)calloc((size_t)N * T * D + 1, sizeof(asr_real));
  dq = (asr_real *)calloc((size_t)N * T * D + 1, sizeof(asr_real));
  dkk = (asr_real *)calloc((size_t)N * T * D + 1, sizeof(asr_real));
  dv = (asr_real *)calloc((size_t)N * T * D + 1, sizeof(asr_real));
  dp = (asr_real *)calloc((size_t)P * D + 1, sizeof(asr_real));
  dpbu = (asr_real *)calloc((size_t)D + 1, sizeof(asr_real));
  dpbv = (asr_real *)calloc((size_t)D + 1, sizeof(asr_real));
  if (!pe || !ac || !bd || !attn || !bdr || !ctx || !dq || !dkk || !dv || !dp || !dpbu || !dpbv) {
    at_fail("out of memory");
    goto done;
  }
  if ((r = asr_rel_pos_encoding(pe, T, D, (asr_rel_pos_type)rel, 5000)) != ASR_OK) {
    at_fail("pos_emb: %s", asr_result_string((asr_result)r));
    goto done;
  }
  for (b = 0; b < N; b++)
    for (h = 0; h < H; h++) {
      size_t o = (size_t)b * T * D + (size_t)h * dk, a = (size_t)(b * H + h) * T * T;
      int L = len ? len[b] : T;
      r = asr_rel_attention_head_forward(attn + a, ctx + o, ac + a, bdr + (size_t)(b * H + h) * T * P, bd + a, q + o,
                                         k + o, v + o, p + (size_t)h * dk, pbu + (size_t)h * dk, pbv + (size_t)h * dk,
                                         L, T, dk, D, (asr_rel_pos_type)rel);
      if (r == ASR_OK && g)
        r = asr_rel_attention_head_backward(dq + o, dkk + o, dv + o, dp + (size_t)h * dk, dpbu + (size_t)h * dk,
                                            dpbv + (size_t)h * dk, g + o, attn + a, q + o, k + o, v + o,
                                            p + (size_t)h * dk, pbu + (size_t)h * dk, pbv + (size_t)h * dk, L, T, dk,
                                            D, (asr_rel_pos_type)rel);
      if (r != ASR_OK) {
        at_fail("item %d, head %d: %s", b, h, asr_result_string((asr_result)r));
        goto done;
      }
    }
  memset(&outs, 0, sizeof outs);
  sh[0] = P, sh[1] = D;
  at_out_add(&outs, "pos_emb.npy", ASR_DTYPE_REAL, 2, sh, pe);
  sh[0] = N, sh[1] = H, sh[2] = T, sh[3] = T;
  at_out_add(&outs, "ac.npy", ASR_DTYPE_REAL, 4, sh, ac);
  at_out_add(&outs, "bd.npy", ASR_DTYPE_REAL, 4, sh, bd);
  at_out_add(&outs, "attn.npy", ASR_DTYPE_REAL, 4, sh, attn);
  sh[3] = P;
  at_out_add(&outs, "bd_raw.npy", ASR_DTYPE_REAL, 4, sh, bdr);
  at_out_add(&outs, "ctx.npy", ASR_DTYPE_REAL, 3, qs, ctx);
  if (g) {
    at_out_add(&outs, "grad_q.npy", ASR_DTYPE_REAL, 3, qs, dq);
    at_out_add(&outs, "grad_k.npy", ASR_DTYPE_REAL, 3, qs, dkk);
    at_out_add(&outs, "grad_v.npy", ASR_DTYPE_REAL, 3, qs, dv);
    at_out_add(&outs, "grad_p.npy", ASR_DTYPE_REAL, 2, ps, dp);
    at_out_add(&outs, "grad_pos_bias_u.npy", ASR_DTYPE_REAL, 2, us, dpbu);
    at_out_add(&outs, "grad_pos_bias_v.npy", ASR_DTYPE_REAL, 2, us, dpbv);
  }
  if (at_out_commit(&outs, pos[6])) goto done;
  if (at_verbose) printf("rel-attention: N %d T %d D %d H %d (%s)\n", N, T, D, H, rel ? "legacy" : "latest");
  ret = 0;
done:
  free(q), free(k), free(v), free(p), free(pbu), free(pbv), free(g), free(len), free(pe);
  free(ac), free(bdr), free(bd), free(attn), free(ctx), free(dq), free(dkk), free(dv), free(dp), free(dpbu), free(dpbv);
  return ret;
}
