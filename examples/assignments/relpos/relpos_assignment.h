/* examples/assignments/relpos/relpos_assignment.h - the functions the relpos assignment asks
 * for (handout: examples/assignments/relpos/README.md). Every array is row-major, double.
 * One head at a time: T frames, d_k values per frame of this head, P = 2T-1 relative
 * positions; q, k, v (T,d_k) are the head's projections, p (P,d_k) its slice of
 * linear_pos(pos_emb), pbu, pbv (d_k) its biases u and v of [Dai19] (ESPnet's pos_bias_u,
 * pos_bias_v). Row r of pos_emb and p is the relative position T-1-r (ESPnet's latest
 * RelPositionalEncoding: T-1, T-2, ..., -(T-1)). Outputs are written, not accumulated. */
#ifndef RELPOS_ASSIGNMENT_H
#define RELPOS_ASSIGNMENT_H

/* Part 1: the sinusoidal encoding of the relative positions, [Vaswani17] Sec. 3.5, pos_emb
 * (2T-1, D), D even:
 *   pos_emb[r][2m]   = sin(pos / 10000^(2m/D)),   pos_emb[r][2m+1] = cos(pos / 10000^(2m/D)),
 *   pos = T-1-r */
void relpos_encoding(double *pos_emb, int T, int D);

/* Part 2: the two score terms of [Dai19] Sec. 3.3, before the shift:
 *   ac[i][j]     = (q_i + pbu) . k_j      (T,T)    terms (a)+(c)
 *   bd_raw[i][r] = (q_i + pbv) . p_r      (T,P)    terms (b)+(d), every embedding row r */
void relpos_scores(double *ac, double *bd_raw, const double *q, const double *k, const double *p,
                   const double *pbu, const double *pbv, int T, int dk);

/* Part 3: rel_shift, [Dai19] Appendix B: bd (T,T) holds, for query i and key j, the entry of
 * bd_raw (T,P) at the embedding row of their relative distance i - j:
 *   bd[i][j] = bd_raw[i][T-1-i+j] */
void rel_shift(double *bd, const double *bd_raw, int T);

/* Part 4: the masked softmax and the weighted sum, keys j >= len being padding:
 *   attn[i][j] = softmax_j((ac[i][j] + bd[i][j]) / sqrt(d_k)) over j < len,  0 for j >= len
 *   ctx_i = sum_j attn[i][j] v_j   (T,d_k)
 * rows i >= len (padded queries) are 0 in attn and ctx. */
void relpos_attention(double *attn, double *ctx, const double *ac, const double *bd, const double *v, int len,
                      int T, int dk);

/* Part 5: the backward of part 2-4's score path from dctx = dL/dctx (T,d_k) (rows i >= len
 * ignored), with attn from part 4:
 *   dattn = dctx v^T;  dv = attn^T dctx
 *   g[i][j] = attn[i][j] (dattn[i][j] - sum_j' attn[i][j'] dattn[i][j']) / sqrt(d_k)
 *   d(q_i+pbu) = sum_j g[i][j] k_j;   dk_j = sum_i g[i][j] (q_i + pbu)
 *   dbd_raw[i][T-1-i+j] = g[i][j]  (rel_shift transposed)
 *   d(q_i+pbv) = sum_r dbd_raw[i][r] p_r;   dp_r = sum_i dbd_raw[i][r] (q_i + pbv)
 *   dq = d(q+pbu) + d(q+pbv);  dpbu = sum_i d(q_i+pbu);  dpbv = sum_i d(q_i+pbv)
 * dq, dk, dv (T,d_k), dp (P,d_k), dpbu, dpbv (d_k), all written. */
void relpos_backward(double *dq, double *dk, double *dv, double *dp, double *dpbu, double *dpbv, const double *dctx,
                     const double *attn, const double *q, const double *k, const double *v, const double *p,
                     const double *pbu, const double *pbv, int len, int T, int d_k);

#endif
