/* tests/assignments/relpos_solution.c - a model answer of the relpos assignment written from
 * the handout alone (examples/assignments/relpos/README.md), without asr.h:
 * tests/assignments_check.py grades it in instructor mode (-DASR_ASSIGNMENT_RELPOS) under
 * AddressSanitizer and expects full marks. Kept out of the students' folder. */
#include <math.h>
#include <string.h>
#include "relpos_assignment.h"

void relpos_encoding(double *pos_emb, int T, int D) {
  int r, m;
  for (r = 0; r < 2 * T - 1; r++)
    for (m = 0; 2 * m < D; m++) {
      double a = (T - 1 - r) / pow(10000.0, 2.0 * m / D);
      pos_emb[r * D + 2 * m] = sin(a);
      pos_emb[r * D + 2 * m + 1] = cos(a);
    }
}

static double dot_b(const double *a, const double *bias, const double *b, int n) {
  double s = 0;
  int c;
  for (c = 0; c < n; c++) s += (a[c] + bias[c]) * b[c];
  return s;
}

void relpos_scores(double *ac, double *bd_raw, const double *q, const double *k, const double *p,
                   const double *pbu, const double *pbv, int T, int dk) {
  int i, j, P = 2 * T - 1;
  for (i = 0; i < T; i++) {
    for (j = 0; j < T; j++) ac[i * T + j] = dot_b(q + i * dk, pbu, k + j * dk, dk);
    for (j = 0; j < P; j++) bd_raw[i * P + j] = dot_b(q + i * dk, pbv, p + j * dk, dk);
  }
}

void rel_shift(double *bd, const double *bd_raw, int T) {
  int i, j;
  for (i = 0; i < T; i++)
    for (j = 0; j < T; j++) bd[i * T + j] = bd_raw[i * (2 * T - 1) + T - 1 - i + j];
}

void relpos_attention(double *attn, double *ctx, const double *ac, const double *bd, const double *v, int len,
                      int T, int dk) {
  int i, j, c;
  memset(attn, 0, sizeof(double) * T * T);
  memset(ctx, 0, sizeof(double) * T * dk);
  for (i = 0; i < len; i++) {
    double m = -INFINITY, sum = 0;
    for (j = 0; j < len; j++) {
      attn[i * T + j] = (ac[i * T + j] + bd[i * T + j]) / sqrt((double)dk);
      if (attn[i * T + j] > m) m = attn[i * T + j];
    }
    for (j = 0; j < len; j++) sum += attn[i * T + j] = exp(attn[i * T + j] - m);
    for (j = 0; j < len; j++) {
      attn[i * T + j] /= sum;
      for (c = 0; c < dk; c++) ctx[i * dk + c] += attn[i * T + j] * v[j * dk + c];
    }
  }
}

void relpos_backward(double *dq, double *dk, double *dv, double *dp, double *dpbu, double *dpbv, const double *dctx,
                     const double *attn, const double *q, const double *k, const double *v, const double *p,
                     const double *pbu, const double *pbv, int len, int T, int d_k) {
  int i, j, c, P = 2 * T - 1;
  memset(dq, 0, sizeof(double) * T * d_k), memset(dk, 0, sizeof(double) * T * d_k);
  memset(dv, 0, sizeof(double) * T * d_k), memset(dp, 0, sizeof(double) * P * d_k);
  memset(dpbu, 0, sizeof(double) * d_k), memset(dpbv, 0, sizeof(double) * d_k);
  for (i = 0; i < len; i++) {
    double da[64], s = 0;   /* T <= 64 in the course data */
    for (j = 0; j < len; j++) {
      da[j] = 0;
      for (c = 0; c < d_k; c++) da[j] += dctx[i * d_k + c] * v[j * d_k + c], dv[j * d_k + c] += attn[i * T + j] * dctx[i * d_k + c];
      s += attn[i * T + j] * da[j];
    }
    for (j = 0; j < len; j++) {
      double g = attn[i * T + j] * (da[j] - s) / sqrt((double)d_k);
      int r = T - 1 - i + j;   /* the shift's transpose: bd[i][j] came from bd_raw[i][r] */
      for (c = 0; c < d_k; c++) {
        dq[i * d_k + c] += g * (k[j * d_k + c] + p[r * d_k + c]);
        dpbu[c] += g * k[j * d_k + c];
        dpbv[c] += g * p[r * d_k + c];
        dk[j * d_k + c] += g * (q[i * d_k + c] + pbu[c]);
        dp[r * d_k + c] += g * (q[i * d_k + c] + pbv[c]);
      }
    }
  }
}
