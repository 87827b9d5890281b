/* examples/assignments/relpos/grader.c - grades a student's relative-position self-attention
 * (relpos_assignment.h) part by part, head by head.
 *
 *   build/assignments/relpos/graded-... REFDIR   (made and run by: make grade A=relpos STUDENT=...)
 *
 * REFDIR holds the inputs (data/course/relpos_*.npy) and the reference arrays that
 * examples/assignments/relpos/make_refs.sh made with asrtool rel-attention (never typed by
 * hand). Every part starts from reference inputs (part 3 from the reference bd_raw, part 4
 * from the reference ac and bd, part 5 from the reference attn), so a wrong part fails
 * alone. Each part runs in a child process with a time limit
 * (examples/assignments/grading.h). A failing part prints the equation, the array, item,
 * head and index of the first wrong element, the expected and the got value and a hint.
 * Built with ASR_REAL=double; instructor mode (-DASR_ASSIGNMENT_RELPOS) leaves the student
 * no relative attention of asr.h's to call. */
#define _POSIX_C_SOURCE 200809L
#define ASR_IMPLEMENTATION
#include "../../../asr.h"
#include "../grading.h"
#include "relpos_assignment.h"

#define TIME_LIMIT 10   /* seconds per part: the reference needs microseconds */
#define TOL 1e-9        /* absolute: two correct double implementations differ by ~1e-15 here */

/* The reference data, read before any part runs. */
typedef struct refs {
  int N, T, D, H, dk, P;
  double *q, *k, *v, *dctx;          /* (N,T,D) */
  double *p, *pos_emb;               /* (P,D) */
  double *pbu, *pbv;                 /* (H,d_k) */
  int *len;                          /* (N) */
  double *ac, *bd, *attn, *bd_raw;   /* (N,H,T,T), bd_raw (N,H,T,P) */
  double *ctx, *gq, *gk, *gv;        /* (N,T,D) */
  double *gp, *gpbu, *gpbv;          /* (P,D), (H,d_k) */
} refs;

static void read_refs(refs *r, const char *dir) {
  int64_t s[4];
  r->q = (double *)grading_load(dir, "relpos_q.npy", ASR_DTYPE_F64, 3, s);
  r->N = (int)s[0], r->T = (int)s[1], r->D = (int)s[2], r->P = 2 * r->T - 1;
  r->k = (double *)grading_load(dir, "relpos_k.npy", ASR_DTYPE_F64, 3, s);
  r->v = (double *)grading_load(dir, "relpos_v.npy", ASR_DTYPE_F64, 3, s);
  r->dctx = (double *)grading_load(dir, "relpos_grad_ctx.npy", ASR_DTYPE_F64, 3, s);
  r->p = (double *)grading_load(dir, "relpos_p.npy", ASR_DTYPE_F64, 2, s);
  r->pbu = (double *)grading_load(dir, "relpos_pos_bias_u.npy", ASR_DTYPE_F64, 2, s);
  r->H = (int)s[0], r->dk = (int)s[1];
  r->pbv = (double *)grading_load(dir, "relpos_pos_bias_v.npy", ASR_DTYPE_F64, 2, s);
  r->len = (int *)grading_load(dir, "relpos_lengths.npy", ASR_DTYPE_I32, 1, s);
  r->pos_emb = (double *)grading_load(dir, "attn/pos_emb.npy", ASR_DTYPE_F64, 2, s);
  r->ac = (double *)grading_load(dir, "attn/ac.npy", ASR_DTYPE_F64, 4, s);
  r->bd = (double *)grading_load(dir, "attn/bd.npy", ASR_DTYPE_F64, 4, s);
  r->attn = (double *)grading_load(dir, "attn/attn.npy", ASR_DTYPE_F64, 4, s);
  r->bd_raw = (double *)grading_load(dir, "attn/bd_raw.npy", ASR_DTYPE_F64, 4, s);
  r->ctx = (double *)grading_load(dir, "attn/ctx.npy", ASR_DTYPE_F64, 3, s);
  r->gq = (double *)grading_load(dir, "attn/grad_q.npy", ASR_DTYPE_F64, 3, s);
  r->gk = (double *)grading_load(dir, "attn/grad_k.npy", ASR_DTYPE_F64, 3, s);
  r->gv = (double *)grading_load(dir, "attn/grad_v.npy", ASR_DTYPE_F64, 3, s);
  r->gp = (double *)grading_load(dir, "attn/grad_p.npy", ASR_DTYPE_F64, 2, s);
  r->gpbu = (double *)grading_load(dir, "attn/grad_pos_bias_u.npy", ASR_DTYPE_F64, 2, s);
  r->gpbv = (double *)grading_load(dir, "attn/grad_pos_bias_v.npy", ASR_DTYPE_F64, 2, s);
}

static double *alloc_d(size_t n) { return (double *)calloc(n + 1, sizeof(double)); }

/* Head h's d_k columns of rows (rows, D) starting at src, in a new (rows, d_k) buffer. */
static double *head_cols(const refs *r, const double *src, int rows, int h) {
  double *o = alloc_d((size_t)rows * r->dk);
  int i;
  for (i = 0; i < rows; i++) memcpy(o + (size_t)i * r->dk, src + (size_t)i * r->D + h * r->dk, sizeof(double) * r->dk);
  return o;
}
#define ITEM(r, a, b) ((a) + (size_t)(b) * (r)->T * (r)->D)                    /* item b of (N,T,D) */
#define BLOCK(r, a, b, h, cols) ((a) + ((size_t)(b) * (r)->H + (h)) * (r)->T * (cols))   /* (N,H,T,cols) */

/* "WHAT of item b, head h at ROW=i, COL=j: expected E, got G" on the first difference. */
static int cmp_head(grading_verdict *v, const char *what, const char *row, const char *col, const double *got,
                    const double *want, int rows, int cols, int b, int h, int *bi, int *bj) {
  char name[160];
  if (b >= 0) snprintf(name, sizeof name, "%s of item %d, head %d", what, b, h);
  else snprintf(name, sizeof name, "%s of head %d (summed over the items)", what, h);
  return grading_compare_2d(v, name, row, col, got, want, rows, cols, TOL, bi, bj);
}

static void part1(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  const int T = r->T, D = r->D, P = r->P;
  double *pe = alloc_d((size_t)P * D);
  int br, bc;
  relpos_encoding(pe, T, D);
  v->ok = grading_compare_2d(v, "pos_emb", "r", "c", pe, r->pos_emb, P, D, TOL, &br, &bc);
  if (!v->ok) {
    double got = pe[(size_t)br * D + bc], pos = T - 1 - br, m = bc / 2;
    double ang = pos / pow(10000.0, 2 * m / D);
    if (grading_same(got, r->pos_emb[(size_t)(P - 1 - br) * D + bc], 1e-12))
      grading_hint(v, "that is the row of position r-(T-1): row r holds position T-1-r, from T-1 down to -(T-1)");
    else if (grading_same(got, bc % 2 ? sin(ang) : cos(ang), 1e-12))
      grading_hint(v, "sin and cos swapped: sin at the even columns 2m, cos at the odd 2m+1");
    else if (grading_same(got, (bc % 2 ? cos : sin)(pos / pow(10000.0, 2.0 * bc / D)), 1e-12))
      grading_hint(v, "the exponent is 2m/D with m = c/2, the index of the (sin, cos) pair, not the column c");
    else
      grading_hint(v, "PE(pos, 2m) = sin(pos / 10000^(2m/D)), PE(pos, 2m+1) = cos(...), pos = T-1-r "
                      "([Vaswani17] Sec. 3.5)");
  }
  free(pe);
}

/* The hint for a wrong score q_i . x with the right bias: no bias at all, or the other one. */
static void score_hint(grading_verdict *v, double got, const double *qi, const double *x, const double *other, int dk,
                       const char *no_bias, const char *swapped, const char *generic) {
  double plain = 0, wrong = 0;
  int c;
  for (c = 0; c < dk; c++) plain += qi[c] * x[c], wrong += (qi[c] + other[c]) * x[c];
  grading_hint(v, grading_same(got, plain, 1e-12) ? no_bias : grading_same(got, wrong, 1e-12) ? swapped : generic);
}

static void part2(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  const int T = r->T, P = r->P, dk = r->dk;
  int b, h, bi, bj;
  v->ok = 1;
  for (b = 0; b < r->N && v->ok; b++)
    for (h = 0; h < r->H && v->ok; h++) {
      double *q = head_cols(r, ITEM(r, r->q, b), T, h), *k = head_cols(r, ITEM(r, r->k, b), T, h);
      double *p = head_cols(r, r->p, P, h), *ac = alloc_d((size_t)T * T), *bdr = alloc_d((size_t)T * P);
      const double *pbu = r->pbu + h * dk, *pbv = r->pbv + h * dk;
      relpos_scores(ac, bdr, q, k, p, pbu, pbv, T, dk);
      if (!cmp_head(v, "ac", "i", "j", ac, BLOCK(r, r->ac, b, h, T), T, T, b, h, &bi, &bj)) {
        score_hint(v, ac[bi * T + bj], q + bi * dk, k + bj * dk, pbv, dk,
                   "the content term adds u (pos_bias_u) to the query: (q_i + u) . k_j, terms (a)+(c) of [Dai19] "
                   "Sec. 3.3",
                   "the biases are swapped: u (pos_bias_u) goes with the keys, v (pos_bias_v) with the positions",
                   "ac[i][j] = (q_i + u) . k_j ([Dai19] Sec. 3.3, (a)+(c))");
        v->ok = 0;
      } else if (!cmp_head(v, "bd_raw", "i", "r", bdr, BLOCK(r, r->bd_raw, b, h, P), T, P, b, h, &bi, &bj)) {
        score_hint(v, bdr[bi * P + bj], q + bi * dk, p + bj * dk, pbu, dk,
                   "the position term adds v (pos_bias_v) to the query: (q_i + v) . p_r, terms (b)+(d) of [Dai19] "
                   "Sec. 3.3",
                   "the biases are swapped: v (pos_bias_v) goes with the positions, u (pos_bias_u) with the keys",
                   "bd_raw[i][r] = (q_i + v) . p_r for EVERY row r of p");
        v->ok = 0;
      }
      free(q), free(k), free(p), free(ac), free(bdr);
    }
}

static void part3(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  const int T = r->T, P = r->P;
  int b, h, bi, bj;
  v->ok = 1;
  for (b = 0; b < r->N && v->ok; b++)
    for (h = 0; h < r->H && v->ok; h++) {
      const double *x = BLOCK(r, r->bd_raw, b, h, P);
      double *in = alloc_d((size_t)T * P), *bd = alloc_d((size_t)T * T);
      memcpy(in, x, sizeof(double) * T * P);
      rel_shift(bd, in, T);
      if (!cmp_head(v, "bd = rel_shift(bd_raw)", "i", "j", bd, BLOCK(r, r->bd, b, h, T), T, T, b, h, &bi, &bj)) {
        double got = bd[bi * T + bj];
        int off1 = T - bi + bj, off2 = T - 2 - bi + bj;
        if (grading_same(got, x[bi * P + T - 1 + bi - bj], 1e-12))
          grading_hint(v, "that is bd_raw[i][T-1+i-j], the distance j-i: the other half of the table; row "
                          "T-1-i+j holds the distance i-j");
        else if ((off1 < P && grading_same(got, x[bi * P + off1], 1e-12)) ||
                 (off2 >= 0 && grading_same(got, x[bi * P + off2], 1e-12)))
          grading_hint(v, "off by one in the shift: bd[i][j] = bd_raw[i][T-1-i+j] (the zero column of [Dai19] "
                          "Appendix B's padding moves every row by one)");
        else
          grading_hint(v, "bd[i][j] = bd_raw[i][T-1-i+j]: row T-1-i+j of the table has position i-j");
        v->ok = 0;
      }
      free(in), free(bd);
    }
}

/* softmax over j < cols of s[j] * scale, entry j. */
static double soft_at(const double *s, int cols, double scale, int j) {
  double m = -INFINITY, sum = 0;
  int c;
  for (c = 0; c < cols; c++) m = fmax(m, s[c] * scale);
  for (c = 0; c < cols; c++) sum += exp(s[c] * scale - m);
  return exp(s[j] * scale - m) / sum;
}

static void part4(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  const int T = r->T, dk = r->dk;
  int b, h, bi, bj, i;
  v->ok = 1;
  for (b = 0; b < r->N && v->ok; b++)
    for (h = 0; h < r->H && v->ok; h++) {
      const int L = r->len[b];
      double *ac = alloc_d((size_t)T * T), *bd = alloc_d((size_t)T * T), *vv = head_cols(r, ITEM(r, r->v, b), T, h);
      double *attn = alloc_d((size_t)T * T), *cx = alloc_d((size_t)T * dk), *s = alloc_d(T);
      double *want_ctx = head_cols(r, ITEM(r, r->ctx, b), T, h);
      memcpy(ac, BLOCK(r, r->ac, b, h, T), sizeof(double) * T * T);
      memcpy(bd, BLOCK(r, r->bd, b, h, T), sizeof(double) * T * T);
      relpos_attention(attn, cx, ac, bd, vv, L, T, dk);
      if (!cmp_head(v, "attn", "i", "j", attn, BLOCK(r, r->attn, b, h, T), T, T, b, h, &bi, &bj)) {
        double got = attn[bi * T + bj];
        for (i = 0; i < T; i++) s[i] = ac[bi * T + i] + bd[bi * T + i];
        if (bi >= L)
          grading_hint(v, "query rows i >= len are padding: their attention row is 0");
        else if (bj >= L)
          grading_hint(v, "keys j >= len are padding: softmax over j < len only, attn[i][j] = 0 beyond");
        else if (grading_same(got, soft_at(s, L, 1, bj), 1e-12))
          grading_hint(v, "scale the scores by 1/sqrt(d_k) before the softmax");
        else if (grading_same(got, soft_at(s, T, 1 / sqrt((double)dk), bj), 1e-12))
          grading_hint(v, "the padded keys j >= len took part in the softmax: mask them (ESPnet: -inf scores)");
        else
          grading_hint(v, "attn[i][j] = softmax_j((ac + bd)[i][j] / sqrt(d_k)) over the keys j < len");
        v->ok = 0;
      } else if (!cmp_head(v, "ctx", "i", "c", cx, want_ctx, T, dk, b, h, &bi, &bj)) {
        grading_hint(v, bi >= L ? "query rows i >= len are padding: ctx_i = 0" : "ctx_i = sum_j attn[i][j] v_j");
        v->ok = 0;
      }
      free(ac), free(bd), free(vv), free(attn), free(cx), free(s), free(want_ctx);
    }
}

/* The grader's own g (T,T) of one (item, head), from the reference attn: the softmax
 * backward of dattn = dctx v^T, scaled by 1/sqrt(d_k); with_sum = 0 drops the row sum. */
static void score_grad(double *g, const refs *r, const double *at, const double *dc, const double *vv, int L,
                       int with_sum) {
  const int T = r->T, dk = r->dk;
  int i, j, c;
  memset(g, 0, sizeof(double) * T * T);
  for (i = 0; i < L; i++) {
    double dot = 0;
    for (j = 0; j < L; j++) {
      double da = 0;
      for (c = 0; c < dk; c++) da += dc[i * dk + c] * vv[j * dk + c];
      g[i * T + j] = da, dot += at[i * T + j] * da;
    }
    for (j = 0; j < L; j++) g[i * T + j] = at[i * T + j] * (g[i * T + j] - (with_sum ? dot : 0)) / sqrt((double)dk);
  }
}

static void part5(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  const int T = r->T, P = r->P, dk = r->dk, H = r->H;
  double *sum_dp = alloc_d((size_t)H * P * dk), *sum_pbu = alloc_d((size_t)H * dk), *sum_pbv = alloc_d((size_t)H * dk);
  int b, h, bi, bj, i, j, c;
  v->ok = 1;
  for (b = 0; b < r->N && v->ok; b++)
    for (h = 0; h < H && v->ok; h++) {
      const int L = r->len[b];
      const double *pbu = r->pbu + h * dk, *pbv = r->pbv + h * dk;
      double *q = head_cols(r, ITEM(r, r->q, b), T, h), *k = head_cols(r, ITEM(r, r->k, b), T, h);
      double *vv = head_cols(r, ITEM(r, r->v, b), T, h), *p = head_cols(r, r->p, P, h);
      double *dc = head_cols(r, ITEM(r, r->dctx, b), T, h), *at = alloc_d((size_t)T * T);
      double *dq = alloc_d((size_t)T * dk), *dk_ = alloc_d((size_t)T * dk), *dv = alloc_d((size_t)T * dk);
      double *dp = alloc_d((size_t)P * dk), *dpbu = alloc_d(dk), *dpbv = alloc_d(dk);
      double *wq = head_cols(r, ITEM(r, r->gq, b), T, h), *wk = head_cols(r, ITEM(r, r->gk, b), T, h);
      double *wv = head_cols(r, ITEM(r, r->gv, b), T, h), *g = alloc_d((size_t)T * T), *alt = alloc_d((size_t)T * dk);
      memcpy(at, BLOCK(r, r->attn, b, h, T), sizeof(double) * T * T);
      relpos_backward(dq, dk_, dv, dp, dpbu, dpbv, dc, at, q, k, vv, p, pbu, pbv, L, T, dk);
      if (!cmp_head(v, "dL/dv", "j", "c", dv, wv, T, dk, b, h, &bi, &bj)) {
        grading_hint(v, "dv = attn^T dctx: dv_j = sum_i attn[i][j] dctx_i");
        v->ok = 0;
      } else if (!cmp_head(v, "dL/dk", "j", "c", dk_, wk, T, dk, b, h, &bi, &bj)) {
        score_grad(g, r, at, dc, vv, L, 0);   /* without the softmax's row sum */
        for (j = 0; j < T; j++)
          for (c = 0; c < dk; c++)
            for (alt[j * dk + c] = 0, i = 0; i < T; i++) alt[j * dk + c] += g[i * T + j] * (q[i * dk + c] + pbu[c]);
        grading_hint(v, grading_same(dk_[bi * dk + bj], alt[bi * dk + bj], 1e-12)
                            ? "the softmax Jacobian is diag(a) - a a^T: g[i][j] = attn[i][j] (dattn[i][j] - sum_j' "
                              "attn[i][j'] dattn[i][j']) / sqrt(d_k)"
                            : "dk_j = sum_i g[i][j] (q_i + u), g the score gradient (softmax backward / sqrt(d_k))");
        v->ok = 0;
      } else if (!cmp_head(v, "dL/dq", "i", "c", dq, wq, T, dk, b, h, &bi, &bj)) {
        score_grad(g, r, at, dc, vv, L, 1);
        for (i = 0; i < T; i++)   /* the content term's share: d(q_i + u) = sum_j g[i][j] k_j */
          for (c = 0; c < dk; c++)
            for (alt[i * dk + c] = 0, j = 0; j < T; j++) alt[i * dk + c] += g[i * T + j] * k[j * dk + c];
        grading_hint(v, grading_same(dq[bi * dk + bj], alt[bi * dk + bj], 1e-12)
                            ? "that is d(q + u) alone: q enters both terms, dq = d(q + u) + d(q + v), the position "
                              "term's through the shift's transpose, dbd_raw[i][T-1-i+j] = g[i][j]"
                            : "dq = sum_j g[i][j] k_j + sum_r dbd_raw[i][r] p_r, dbd_raw[i][T-1-i+j] = g[i][j]");
        v->ok = 0;
      }
      for (i = 0; i < P * dk; i++) sum_dp[(size_t)h * P * dk + i] += dp[i];
      for (c = 0; c < dk; c++) sum_pbu[h * dk + c] += dpbu[c], sum_pbv[h * dk + c] += dpbv[c];
      free(q), free(k), free(vv), free(p), free(dc), free(at), free(dq), free(dk_), free(dv), free(dp), free(dpbu);
      free(dpbv), free(wq), free(wk), free(wv), free(g), free(alt);
    }
  for (h = 0; h < H && v->ok; h++) {   /* the sums over the items */
    double *wp = head_cols(r, r->gp, P, h);
    if (!cmp_head(v, "dL/dp", "r", "c", sum_dp + (size_t)h * P * dk, wp, P, dk, -1, h, &bi, &bj)) {
      grading_hint(v, "dp_r = sum_i dbd_raw[i][r] (q_i + v), with dbd_raw[i][T-1-i+j] = g[i][j] (the transpose of "
                      "rel_shift: a scatter, not a second shift)");
      v->ok = 0;
    } else if (!cmp_head(v, "dL/du (pos_bias_u)", "c", NULL, sum_pbu + h * dk, r->gpbu + h * dk, dk, 1, -1, h, &bi,
                         &bj)) {
      grading_hint(v, "du = sum_i d(q_i + u) = sum_i sum_j g[i][j] k_j");
      v->ok = 0;
    } else if (!cmp_head(v, "dL/dv (pos_bias_v)", "c", NULL, sum_pbv + h * dk, r->gpbv + h * dk, dk, 1, -1, h, &bi,
                         &bj)) {
      grading_hint(v, "dv_bias = sum_i d(q_i + v) = sum_i sum_r dbd_raw[i][r] p_r");
      v->ok = 0;
    }
    free(wp);
  }
  free(sum_dp), free(sum_pbu), free(sum_pbv);
}

static const grading_part PARTS[] = {
  {part1, "the relative positional encoding, [Vaswani17] Sec. 3.5 at positions T-1 .. -(T-1)"},
  {part2, "the content and position scores with u and v, [Dai19] Sec. 3.3 terms (a)-(d)"},
  {part3, "rel_shift, [Dai19] Appendix B"},
  {part4, "the masked softmax over (ac + bd)/sqrt(d_k) and the weighted sum"},
  {part5, "the backward of the score path: dq, dk, dv, dp, du, dv_bias"},
};
#define NPARTS (int)(sizeof PARTS / sizeof PARTS[0])

int main(int argc, char **argv) {
  refs r;
  (void)grading_compare;   /* grading.h's per-item comparison; these arrays go by item and head */
  if (argc != 2) {
    fprintf(stderr, "usage: grader REFDIR   (make grade A=relpos STUDENT=path.c runs it)\n");
    return 2;
  }
  read_refs(&r, argv[1]);
  if (r.H * r.dk != r.D) {
    fprintf(stderr, "grader: relpos_pos_bias_u.npy (%d, %d) does not split D = %d\n", r.H, r.dk, r.D);
    return 2;
  }
  printf("relpos assignment: N = %d, T = %d, D = %d, %d heads of d_k = %d, lengths %d, %d; tolerance %g\n", r.N, r.T,
         r.D, r.H, r.dk, r.len[0], r.N > 1 ? r.len[1] : r.len[0], TOL);
  return grading_main(&r, PARTS, NPARTS, TIME_LIMIT);
}
