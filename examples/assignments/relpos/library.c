/* examples/assignments/relpos/library.c - the relpos assignment answered by asr.h itself:
 * each function hands its arguments to the library's (the grader must give it full marks;
 * make test checks that). Built with ASR_REAL=double, as the grader is.
 * With -DBREAK=k, part k carries a typical student bug instead (make test checks that the
 * grader fails that part with the expected message and passes the others):
 *   1 the table's rows in the wrong order: row r at position r-(T-1)
 *   2 the two biases swapped: pbv in the content term, pbu in the position term
 *   3 the wrong half of the table kept: bd[i][j] = bd_raw[i][T-1+i-j] (distance j-i)
 *   4 the scores not scaled by 1/sqrt(d_k)
 *   5 dq from the content term only (q also enters the position term) */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../../asr.h"
#include "relpos_assignment.h"
#ifndef BREAK
#define BREAK 0
#endif
#if !ASR_REAL_DOUBLE
#error "build with -DASR_REAL=double, as the grader"
#endif

void relpos_encoding(double *pos_emb, int T, int D) {
  int P = 2 * T - 1, r;
  asr_rel_pos_encoding(pos_emb, T, D, ASR_REL_POS_LATEST, 5000);
  if (BREAK == 1)
    for (r = 0; r < P / 2; r++) {   /* row r <-> row P-1-r */
      double *a = pos_emb + (size_t)r * D, *b = pos_emb + (size_t)(P - 1 - r) * D, t;
      int c;
      for (c = 0; c < D; c++) t = a[c], a[c] = b[c], b[c] = t;
    }
}

void relpos_scores(double *ac, double *bd_raw, const double *q, const double *k, const double *p,
                   const double *pbu, const double *pbv, int T, int dk) {
  double *attn = (double *)malloc(sizeof(double) * (size_t)T * T), *ctx = (double *)malloc(sizeof(double) * T * dk);
  asr_rel_attention_head_forward(attn, ctx, ac, bd_raw, NULL, q, k, k, p, BREAK == 2 ? pbv : pbu,
                                 BREAK == 2 ? pbu : pbv, T, T, dk, dk, ASR_REL_POS_LATEST);
  free(attn), free(ctx);
}

void rel_shift(double *bd, const double *bd_raw, int T) {
  int i, j;
  asr_rel_shift_ref(bd, bd_raw, T, ASR_REL_POS_LATEST);
  if (BREAK == 3)
    for (i = 0; i < T; i++)
      for (j = 0; j < T; j++) bd[i * T + j] = bd_raw[(size_t)i * (2 * T - 1) + T - 1 + i - j];
}

void relpos_attention(double *attn, double *ctx, const double *ac, const double *bd, const double *v, int len,
                      int T, int dk) {
  double scale = BREAK == 4 ? 1 : 1 / sqrt((double)dk);
  int i, j, c;
  memset(attn, 0, sizeof(double) * (size_t)T * T);
  memset(ctx, 0, sizeof(double) * (size_t)T * dk);
  for (i = 0; i < len; i++) {
    for (j = 0; j < len; j++) attn[i * T + j] = (ac[i * T + j] + bd[i * T + j]) * scale;
    asr_softmax(attn + (size_t)i * T, attn + (size_t)i * T, len);   /* keys j >= len stay 0 */
    for (j = 0; j < len; j++)
      for (c = 0; c < dk; c++) ctx[i * dk + c] += attn[i * T + j] * v[j * dk + c];
  }
}

void relpos_backward(double *dq, double *dk, double *dv, double *dp, double *dpbu, double *dpbv, const double *dctx,
                     const double *attn, const double *q, const double *k, const double *v, const double *p,
                     const double *pbu, const double *pbv, int len, int T, int d_k) {
  size_t P = (size_t)(2 * T - 1);
  memset(dq, 0, sizeof(double) * T * d_k), memset(dk, 0, sizeof(double) * T * d_k);
  memset(dv, 0, sizeof(double) * T * d_k), memset(dp, 0, sizeof(double) * P * d_k);
  memset(dpbu, 0, sizeof(double) * d_k), memset(dpbv, 0, sizeof(double) * d_k);
  /* the library accumulates: the outputs start at 0 */
  asr_rel_attention_head_backward(BREAK == 5 ? NULL : dq, dk, dv, dp, dpbu, dpbv, dctx, attn, q, k, v, p, pbu, pbv,
                                  len, T, d_k, d_k, ASR_REL_POS_LATEST);
  if (BREAK == 5) {   /* with p = 0 the position term gives q nothing: dq = d(q + pbu) alone */
    double *zero = (double *)calloc(P * d_k, sizeof(double));
    asr_rel_attention_head_backward(dq, NULL, NULL, NULL, NULL, NULL, dctx, attn, q, k, v, zero, pbu, pbv, len, T,
                                    d_k, d_k, ASR_REL_POS_LATEST);
    free(zero);
  }
}
