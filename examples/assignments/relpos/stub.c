/* examples/assignments/relpos/stub.c - the student's file of the relpos assignment: fill in
 * the TODOs (handout: examples/assignments/relpos/README.md), then
 *     make grade A=relpos STUDENT=path/to/your.c          (DEBUG=1: under AddressSanitizer)
 * Your code must stand alone: the grader builds asr.h in instructor mode
 * (-DASR_ASSIGNMENT_RELPOS), where the library's relative attention is not there to call. */
#include <math.h>
#include "relpos_assignment.h"

void relpos_encoding(double *pos_emb, int T, int D) {
  /* TODO: row r has position T-1-r; sin at even columns 2m, cos at odd 2m+1 */
  (void)pos_emb, (void)T, (void)D;
}

void relpos_scores(double *ac, double *bd_raw, const double *q, const double *k, const double *p,
                   const double *pbu, const double *pbv, int T, int dk) {
  /* TODO: ac = (q + pbu) k^T (T,T); bd_raw = (q + pbv) p^T (T,2T-1) */
  (void)ac, (void)bd_raw, (void)q, (void)k, (void)p, (void)pbu, (void)pbv, (void)T, (void)dk;
}

void rel_shift(double *bd, const double *bd_raw, int T) {
  /* TODO: bd[i][j] = bd_raw[i][T-1-i+j] */
  (void)bd, (void)bd_raw, (void)T;
}

void relpos_attention(double *attn, double *ctx, const double *ac, const double *bd, const double *v, int len,
                      int T, int dk) {
  /* TODO: scale by 1/sqrt(d_k), softmax over the keys j < len, zeros for padding; ctx = attn v */
  (void)attn, (void)ctx, (void)ac, (void)bd, (void)v, (void)len, (void)T, (void)dk;
}

void relpos_backward(double *dq, double *dk, double *dv, double *dp, double *dpbu, double *dpbv, const double *dctx,
                     const double *attn, const double *q, const double *k, const double *v, const double *p,
                     const double *pbu, const double *pbv, int len, int T, int d_k) {
  /* TODO: dv; the softmax backward g; both score terms (the bd term through the shift's
   * transpose); q gets both */
  (void)dq, (void)dk, (void)dv, (void)dp, (void)dpbu, (void)dpbv, (void)dctx, (void)attn, (void)q, (void)k, (void)v,
      (void)p, (void)pbu, (void)pbv, (void)len, (void)T, (void)d_k;
}
