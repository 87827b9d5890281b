/* examples/assignments/conv_se/grader.c - grades a student's depthwise-separable convolution
 * and Squeeze-and-Excitation (conv_se_assignment.h) part by part.
 *
 *   build/assignments/conv_se/graded-... REFDIR   (made and run by: make grade A=conv_se STUDENT=...)
 *
 * REFDIR holds the inputs (data/course/conv_*.npy, se_*.npy) and the reference arrays that
 * examples/assignments/conv_se/make_refs.sh made with asrtool (never typed by hand). Each
 * part starts from reference inputs (part 2 from the reference depthwise output, part 4
 * from the reference dL/dh), so a wrong part fails alone. Gradient buffers are pre-filled
 * with SENTINEL, the weights' gradients are shared by the N items (the student's function
 * is called once per item and must add to them) and the increments are compared with
 * asrtool's: a gradient written with = instead of += fails. Each part runs in a child
 * process with a time limit (examples/assignments/grading.h). Built with ASR_REAL=double;
 * instructor mode (-DASR_ASSIGNMENT_CONV_SE) leaves the student no convolution or SE of
 * asr.h's to call. */
#define _POSIX_C_SOURCE 200809L
#define ASR_IMPLEMENTATION
#include "../../../asr.h"
#include "../grading.h"
#include "conv_se_assignment.h"

#define TIME_LIMIT 10   /* seconds per part: the reference needs microseconds */
#define TOL 1e-9        /* absolute: the values are O(1); two correct double implementations
                           differ by ~1e-16 here (other summation orders) */
#define SENTINEL 0.25   /* what every gradient buffer holds before the student's function
                           adds to it (asr.h's checkers pre-fill with the same) */
/* the depthwise conv's two configurations of make_refs.sh: "same" length, and strided */
typedef struct dw_conf {
  int stride, padding, dilation;
} dw_conf;
#define NDW 2
static const dw_conf DW[NDW] = {{1, 2, 2}, {2, 1, 1}};

typedef grading_verdict verdict;

/* The reference data, read before any part runs. */
typedef struct refs {
  int N, C, T, K, Co, SC, R;
  int *len, *slen;                        /* (N) valid frames of the conv and the SE items */
  double *x, *dww, *dwb, *pww, *pwb, *gy; /* conv_x (N,C,T), (C,1,K), (C), (Co,C,1), (Co), (N,Co,T) */
  double *h[NDW], *y;                     /* dw/y, dw2/y (N,C,T_out), pw/y (N,Co,T) */
  double *dh, *pw_gw, *pw_gb;             /* pw/: grad_x (N,C,T), grad_weight, grad_bias */
  double *dhin[NDW];                      /* the depthwise backward's dL/dh: pw/grad_x, conv_grad_h2 */
  double *dx[NDW], *dw_gw[NDW], *dw_gb[NDW];   /* dw_back/, dw2/: grad_x (N,C,T), grad_weight, grad_bias */
  double *sx, *w1, *b1, *w2, *b2, *sgy;   /* se_x (N,SC,T), fc1 (R,SC), (R), fc2 (SC,R), (SC), (N,SC,T) */
  double *sy, *sdx, *sdw1, *sdb1, *sdw2, *sdb2;   /* se/ */
} refs;

static double *load(const char *dir, const char *name, int ndim, int64_t *s) {
  return (double *)grading_load(dir, name, ASR_DTYPE_F64, ndim, s);
}

static void read_refs(refs *r, const char *dir) {
  int64_t s[3];
  r->x = load(dir, "conv_x.npy", 3, s);
  r->N = (int)s[0], r->C = (int)s[1], r->T = (int)s[2];
  r->dww = load(dir, "conv_dw_weight.npy", 3, s);
  r->K = (int)s[2];
  r->dwb = load(dir, "conv_dw_bias.npy", 1, s);
  r->pww = load(dir, "conv_pw_weight.npy", 3, s);
  r->Co = (int)s[0];
  r->pwb = load(dir, "conv_pw_bias.npy", 1, s);
  r->gy = load(dir, "conv_grad_y.npy", 3, s);
  r->len = (int *)grading_load(dir, "conv_lengths.npy", ASR_DTYPE_I32, 1, s);
  r->h[0] = load(dir, "dw/y.npy", 3, s);
  r->h[1] = load(dir, "dw2/y.npy", 3, s);
  r->y = load(dir, "pw/y.npy", 3, s);
  r->dh = load(dir, "pw/grad_x.npy", 3, s);
  r->pw_gw = load(dir, "pw/grad_weight.npy", 3, s);
  r->pw_gb = load(dir, "pw/grad_bias.npy", 1, s);
  r->dhin[0] = r->dh;
  r->dhin[1] = load(dir, "conv_grad_h2.npy", 3, s);
  r->dx[0] = load(dir, "dw_back/grad_x.npy", 3, s);
  r->dw_gw[0] = load(dir, "dw_back/grad_weight.npy", 3, s);
  r->dw_gb[0] = load(dir, "dw_back/grad_bias.npy", 1, s);
  r->dx[1] = load(dir, "dw2/grad_x.npy", 3, s);
  r->dw_gw[1] = load(dir, "dw2/grad_weight.npy", 3, s);
  r->dw_gb[1] = load(dir, "dw2/grad_bias.npy", 1, s);
  r->sx = load(dir, "se_x.npy", 3, s);
  r->SC = (int)s[1];
  r->w1 = load(dir, "se_fc1_weight.npy", 2, s);
  r->R = (int)s[0];
  r->b1 = load(dir, "se_fc1_bias.npy", 1, s);
  r->w2 = load(dir, "se_fc2_weight.npy", 2, s);
  r->b2 = load(dir, "se_fc2_bias.npy", 1, s);
  r->sgy = load(dir, "se_grad_y.npy", 3, s);
  r->slen = (int *)grading_load(dir, "se_lengths.npy", ASR_DTYPE_I32, 1, s);
  r->sy = load(dir, "se/y.npy", 3, s);
  r->sdx = load(dir, "se/grad_x.npy", 3, s);
  r->sdw1 = load(dir, "se/grad_fc1.weight.npy", 2, s);
  r->sdb1 = load(dir, "se/grad_fc1.bias.npy", 1, s);
  r->sdw2 = load(dir, "se/grad_fc2.weight.npy", 2, s);
  r->sdb2 = load(dir, "se/grad_fc2.bias.npy", 1, s);
}

/* floor((T + 2P - D (K-1) - 1) / S) + 1, or 0 */
static int out_frames(int T, int K, const dw_conf *q) {
  int span = T + 2 * q->padding - q->dilation * (K - 1) - 1;
  return T < 1 || span < 0 ? 0 : span / q->stride + 1;
}

/* A new exact-size copy of n doubles (AddressSanitizer sees a read or write past it). */
static double *copy(const double *a, size_t n) {
  double *o = (double *)malloc(sizeof(double) * n + 1);
  memcpy(o, a, sizeof(double) * n);
  return o;
}
/* A new buffer of n doubles, each `value`. */
static double *filled(size_t n, double value) {
  double *o = (double *)malloc(sizeof(double) * n + 1);
  size_t i;
  for (i = 0; i < n; i++) o[i] = value;
  return o;
}

/* Compares got - base with want, (rows, cols) row-major; on the first difference writes
 * "WHAT at item n, R=r, C=c: expected E, got G" (n < 0: "summed over the items"; with
 * base != 0 the values are the increments) into v->msg, the place into *bi, and returns 0. */
static int cmp(verdict *v, const char *what, const char *rn, const char *cn, const double *got, const double *want,
               int rows, int cols, int n, double base, int *bi) {
  int i;
  for (i = 0; i < rows * cols; i++)
    if (!grading_same(got[i] - base, want[i], TOL)) {
      char where[64];
      if (n >= 0) snprintf(where, sizeof where, "at item %d", n);
      else snprintf(where, sizeof where, "(summed over the items)");
      snprintf(v->msg, sizeof v->msg, "%s %s, %s=%d, %s=%d: expected %s%.9g, got %.9g", what, where, rn, i / cols, cn,
               i % cols, base != 0 ? "an increment of " : "", want[i], got[i] - base);
      *bi = i;
      return 0;
    }
  return 1;
}

/* The hint for a wrong gradient element i that says what the buffer shows: untouched, or
 * overwritten (= instead of +=: got equals `alone`, what the function writes into a zeroed
 * buffer for one item; NULL if not known). Returns 1 when it gave one. */
static int accum_hint(verdict *v, const double *got, const double *alone, int i, const double *want) {
  if (got[i] == SENTINEL && want[i] != 0) {
    grading_hint(v, "nothing was added here: the backward ADDS (+=) its gradient to the buffer");
    return 1;
  }
  if (alone && grading_same(got[i], alone[i], TOL) && !grading_same(got[i], SENTINEL + want[i], TOL)) {
    grading_hint(v, "the gradient was written (=), not accumulated (+=): the grader pre-filled the buffer with "
                    "0.25 and sums the items' contributions in it, and your function overwrote them");
    return 1;
  }
  return 0;
}

/* ---- part 1: the depthwise conv */
/* b[c] + sum_k w[c][k] x[c][t S + k D - P] over 0 <= index < upto: the hints' slips */
static double dw_tap_sum(const refs *r, int n, int c, int t, int S, int D, int P, int upto) {
  const double *x = r->x + ((size_t)n * r->C + c) * r->T, *w = r->dww + (size_t)c * r->K;
  double s = r->dwb[c];
  int k;
  for (k = 0; k < r->K; k++) {
    int j = t * S + k * D - P;
    if (j >= 0 && j < upto) s += w[k] * x[j];
  }
  return s;
}

/* appends " (stride S, padding P, dilation D)" to v->msg */
static void conf_note(verdict *v, const dw_conf *q) {
  size_t m = strlen(v->msg);
  snprintf(v->msg + m, sizeof v->msg - m, " (stride %d, padding %d, dilation %d)", q->stride, q->padding, q->dilation);
}

static void part1(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int n, c, t, qi;
  for (qi = 0; qi < NDW; qi++) {
    const dw_conf *q = &DW[qi];
    const int To = out_frames(r->T, r->K, q), S = q->stride, P = q->padding, D = q->dilation;
    for (n = 0; n < r->N; n++) {
      const int L = r->len[n], Lo = out_frames(L, r->K, q);
      double *x = copy(r->x + (size_t)n * r->C * r->T, (size_t)r->C * r->T), *w = copy(r->dww, (size_t)r->C * r->K),
             *b = copy(r->dwb, (size_t)r->C), *y = filled((size_t)r->C * To, NAN);
      depthwise_conv1d(y, x, w, b, r->C, r->T, L, r->K, S, P, D);
      if (!grading_compare(v, "y[c][t]", "c", "t", y, r->h[qi] + (size_t)n * r->C * To, r->C, To, To, n, TOL, &c, &t)) {
        const double got = y[c * To + t];
        conf_note(v, q);
        if (t >= Lo)
          grading_hint(v, "outputs t >= L_out (the padded frames) are 0");
        else if (D != 1 && grading_same(got, dw_tap_sum(r, n, c, t, S, 1, P, L), TOL))
          grading_hint(v, "tap k reads x[c][t S + k D - P]: the dilation D spaces the taps D frames apart");
        else if (S != 1 && grading_same(got, dw_tap_sum(r, n, c, t, 1, D, P, L), TOL))
          grading_hint(v, "the stride S: output t starts at x[c][t S - P], and T_out = floor((T + 2P - D (K-1) - 1) / S) + 1");
        else if (grading_same(got, dw_tap_sum(r, n, c, t, S, D, P, r->T), TOL))
          grading_hint(v, "x is 0 outside [0, L): the padded frames' contents must not be read");
        else if (grading_same(got, dw_tap_sum(r, n, c, t, S, D, 0, L), TOL))
          grading_hint(v, "the zero padding P shifts the taps: tap k of output t reads x[c][t S + k D - P]");
        else
          grading_hint(v, "y[c][t] = b[c] + sum_k w[c][k] x[c][t S + k D - P], x = 0 outside [0, L)");
        free(x), free(w), free(b), free(y);
        return;
      }
      free(x), free(w), free(b), free(y);
    }
  }
  v->ok = 1;
}

/* ---- part 2: the pointwise conv, on the reference depthwise output h */
static void part2(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  int n, c, o, t;
  for (n = 0; n < r->N; n++) {
    const int L = r->len[n], T = r->T, C = r->C, Co = r->Co;
    double *x = copy(r->h[0] + (size_t)n * C * T, (size_t)C * T), *w = copy(r->pww, (size_t)Co * C),
           *b = copy(r->pwb, (size_t)Co), *y = filled((size_t)Co * T, NAN);
    pointwise_conv1d(y, x, w, b, C, Co, T, L);
    if (!grading_compare(v, "y[o][t]", "o", "t", y, r->y + (size_t)n * Co * T, Co, T, T, n, TOL, &o, &t)) {
      const int bi = o * T + t;
      double tr = b[o];
      for (c = 0; c < C; c++) tr += w[(size_t)c * Co + o] * x[(size_t)c * T + t];
      if (t >= L)
        grading_hint(v, "outputs t >= L (the padded frames) are 0");
      else if (grading_same(y[bi], tr, TOL))
        grading_hint(v, "w is (C_out, C_in, 1): row o holds output channel o's weights, w[o][c] = w[o C_in + c]");
      else if (grading_same(y[bi], r->y[(size_t)n * Co * T + bi] - b[o], TOL))
        grading_hint(v, "add the bias b[o]");
      else
        grading_hint(v, "y[o][t] = b[o] + sum_c w[o][c] x[c][t]");
      free(x), free(w), free(b), free(y);
      return;
    }
    free(x), free(w), free(b), free(y);
  }
  v->ok = 1;
}

/* ---- parts 3 and 4: the backward of the pointwise and the depthwise conv */
typedef struct conv_back {
  int pointwise;           /* 1: part 3, 0: part 4 */
  int q;                   /* part 4: the configuration, DW[q] */
  int rows, cols;          /* of dx: (C, T) */
  int nw;                  /* entries of dw: Co C or C K */
  int nb;                  /* of db: Co or C */
} conv_back;

static void conv_back_call(const refs *r, const conv_back *cb, int n, double *dx, double *dw, double *db) {
  const int L = r->len[n], T = r->T, C = r->C;
  if (cb->pointwise) {
    double *dy = copy(r->gy + (size_t)n * r->Co * T, (size_t)r->Co * T), *x = copy(r->h[0] + (size_t)n * C * T, (size_t)C * T),
           *w = copy(r->pww, (size_t)r->Co * C);
    pointwise_conv1d_backward(dx, dw, db, dy, x, w, C, r->Co, T, L);
    free(dy), free(x), free(w);
  } else {
    const dw_conf *q = &DW[cb->q];
    const int To = out_frames(T, r->K, q);
    double *dy = copy(r->dhin[cb->q] + (size_t)n * C * To, (size_t)C * To),
           *x = copy(r->x + (size_t)n * C * T, (size_t)C * T), *w = copy(r->dww, (size_t)C * r->K);
    depthwise_conv1d_backward(dx, dw, db, dy, x, w, C, T, L, r->K, q->stride, q->padding, q->dilation);
    free(dy), free(x), free(w);
  }
}

/* part 4's slip: dw[c][k] also summing dy[c][t] x[c][s] over the padded frames L <= s < T */
static double dw_padding_extra(const refs *r, int qi, int c, int k) {
  const dw_conf *q = &DW[qi];
  double e = 0;
  int n, t;
  const int To = out_frames(r->T, r->K, q);
  for (n = 0; n < r->N; n++)
    for (t = 0; t < out_frames(r->len[n], r->K, q); t++) {
      int s = t * q->stride + k * q->dilation - q->padding;
      if (s >= r->len[n] && s < r->T)
        e += r->dhin[qi][((size_t)n * r->C + c) * To + t] * r->x[((size_t)n * r->C + c) * r->T + s];
    }
  return e;
}

static void part_conv_back(const refs *r, verdict *v, const conv_back *cb) {
  const char *wname = cb->pointwise ? "dL/dw[o][c]" : "dL/dw[c][k]", *bname = cb->pointwise ? "dL/db[o]" : "dL/db[c]";
  const double *want_dx = cb->pointwise ? r->dh : r->dx[cb->q], *want_dw = cb->pointwise ? r->pw_gw : r->dw_gw[cb->q],
               *want_db = cb->pointwise ? r->pw_gb : r->dw_gb[cb->q];
  double *dw = filled((size_t)cb->nw, SENTINEL), *db = filled((size_t)cb->nb, SENTINEL), *aw, *ab, *adx;
  int n, bi, ok = 1;
  for (n = 0; n < r->N && ok; n++) {
    double *dx = filled((size_t)cb->rows * cb->cols, SENTINEL);
    conv_back_call(r, cb, n, dx, dw, db);
    if (!cmp(v, "dL/dx[c][t]", "c", "t", dx, want_dx + (size_t)n * cb->rows * cb->cols, cb->rows, cb->cols, n,
             SENTINEL, &bi)) {
      const double *want = want_dx + (size_t)n * cb->rows * cb->cols;
      if (!accum_hint(v, dx, want, bi, want))
        grading_hint(v, bi % cb->cols >= r->len[n] ? "padded frames t >= L get no gradient (x is 0 there)"
                        : cb->pointwise ? "dx[c][t] += sum_o w[o][c] dy[o][t]: dX = W^T dY"
                                        : "dx[c][s] += w[c][k] dy[c][t] for s = t S + k D - P, t < L_out, 0 <= s < L");
      ok = 0;
    }
    free(dx);
  }
  if (!ok) {
    free(dw), free(db);
    return;
  }
  /* what the function writes for the last item into zeroed buffers: the = slip leaves that */
  adx = filled((size_t)cb->rows * cb->cols, 0), aw = filled((size_t)cb->nw, 0), ab = filled((size_t)cb->nb, 0);
  conv_back_call(r, cb, r->N - 1, adx, aw, ab);
  if (!cmp(v, wname, cb->pointwise ? "o" : "c", cb->pointwise ? "c" : "k", dw, want_dw, cb->pointwise ? r->Co : r->C,
           cb->pointwise ? r->C : r->K, -1, SENTINEL, &bi)) {
    if (!accum_hint(v, dw, aw, bi, want_dw)) {
      if (!cb->pointwise && grading_same(dw[bi] - SENTINEL, want_dw[bi] + dw_padding_extra(r, cb->q, bi / r->K, bi % r->K), TOL))
        grading_hint(v, "x is 0 at the padded frames s >= L: they add nothing to dw");
      else
        grading_hint(v, cb->pointwise ? "dw[o][c] += sum_{t<L} dy[o][t] x[c][t]: dW = dY X^T"
                                      : "dw[c][k] += sum_{t<L_out} dy[c][t] x[c][t S + k D - P] (x = 0 outside [0, L))");
    }
    ok = 0;
  } else if (!cmp(v, bname, cb->pointwise ? "o" : "c", "-", db, want_db, cb->nb, 1, -1, SENTINEL, &bi)) {
    if (!accum_hint(v, db, ab, bi, want_db))
      grading_hint(v, cb->pointwise ? "db[o] += sum_{t<L} dy[o][t]" : "db[c] += sum_{t<L_out} dy[c][t]");
    ok = 0;
  }
  free(dw), free(db), free(adx), free(aw), free(ab);
  v->ok = ok;
}

static void part3(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  conv_back cb;
  cb.pointwise = 1, cb.q = 0, cb.rows = r->C, cb.cols = r->T, cb.nw = r->Co * r->C, cb.nb = r->Co;
  part_conv_back(r, v, &cb);
}

static void part4(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  conv_back cb;
  cb.pointwise = 0, cb.rows = r->C, cb.cols = r->T, cb.nw = r->C * r->K, cb.nb = r->C;
  for (cb.q = 0; cb.q < NDW; cb.q++) {
    part_conv_back(r, v, &cb);
    if (!v->ok) {
      conf_note(v, &DW[cb.q]);
      return;
    }
  }
}

/* ---- parts 5 and 6: SE */
/* theta (SC) of item n with the mean over the first `frames` frames: the hint's slip */
static void se_gate(const refs *r, int n, int frames, double *theta) {
  const int C = r->SC, R = r->R, T = r->T;
  const double *x = r->sx + (size_t)n * C * T;
  double xbar[64], a[64];
  int c, j, t;
  for (c = 0; c < C && c < 64; c++) {
    double s = 0;
    for (t = 0; t < frames; t++) s += x[(size_t)c * T + t];
    xbar[c] = s / frames;
  }
  for (j = 0; j < R && j < 64; j++) {
    double z = r->b1[j];
    for (c = 0; c < C; c++) z += r->w1[(size_t)j * C + c] * xbar[c];
    a[j] = z / (1 + exp(-z));   /* swish */
  }
  for (c = 0; c < C; c++) {
    double u = r->b2[c];
    for (j = 0; j < R; j++) u += r->w2[(size_t)c * R + j] * a[j];
    theta[c] = 1 / (1 + exp(-u));
  }
}

static void part5(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  const int C = r->SC, R = r->R, T = r->T;
  int n, c, t;
  for (n = 0; n < r->N; n++) {
    const int L = r->slen[n];
    double *x = copy(r->sx + (size_t)n * C * T, (size_t)C * T), *w1 = copy(r->w1, (size_t)R * C), *b1 = copy(r->b1, R),
           *w2 = copy(r->w2, (size_t)C * R), *b2 = copy(r->b2, C), *y = filled((size_t)C * T, NAN);
    se_forward(y, x, w1, b1, w2, b2, C, R, T, L);
    if (!grading_compare(v, "y[c][t]", "c", "t", y, r->sy + (size_t)n * C * T, C, T, T, n, TOL, &c, &t)) {
      double th[64];
      const int bi = c * T + t;
      se_gate(r, n, T, th);
      if (t >= L)
        grading_hint(v, "padded outputs t >= L are 0");
      else if (C <= 64 && grading_same(y[bi], th[c] * x[bi], TOL))
        grading_hint(v, "the mean is over the L valid frames only: xbar_c = (1/L) sum_{t<L} x_c,t, not over the "
                        "padding too");
      else
        grading_hint(v, "y = theta x, theta = sigmoid(W2 swish(W1 xbar + b1) + b2), xbar the mean over t < L");
      free(x), free(w1), free(b1), free(w2), free(b2), free(y);
      return;
    }
    free(x), free(w1), free(b1), free(w2), free(b2), free(y);
  }
  v->ok = 1;
}

typedef struct se_grads {
  double *dx, *dw1, *db1, *dw2, *db2;
} se_grads;

static void se_grads_new(se_grads *g, const refs *r, double value) {
  g->dx = filled((size_t)r->SC * r->T, value), g->dw1 = filled((size_t)r->R * r->SC, value);
  g->db1 = filled((size_t)r->R, value), g->dw2 = filled((size_t)r->SC * r->R, value), g->db2 = filled((size_t)r->SC, value);
}
static void se_grads_free(se_grads *g) { free(g->dx), free(g->dw1), free(g->db1), free(g->dw2), free(g->db2); }

static void se_back_call(const refs *r, int n, se_grads *g) {
  const int C = r->SC, R = r->R, T = r->T;
  double *dy = copy(r->sgy + (size_t)n * C * T, (size_t)C * T), *x = copy(r->sx + (size_t)n * C * T, (size_t)C * T),
         *w1 = copy(r->w1, (size_t)R * C), *b1 = copy(r->b1, R), *w2 = copy(r->w2, (size_t)C * R), *b2 = copy(r->b2, C);
  se_backward(g->dx, g->dw1, g->db1, g->dw2, g->db2, dy, x, w1, b1, w2, b2, C, R, T, r->slen[n]);
  free(dy), free(x), free(w1), free(b1), free(w2), free(b2);
}

static void part6(const void *ctx, verdict *v) {
  const refs *r = (const refs *)ctx;
  const int C = r->SC, R = r->R, T = r->T;
  se_grads g, a;
  int n, bi, k, ok = 1;
  se_grads_new(&g, r, SENTINEL);
  for (n = 0; n < r->N && ok; n++) {
    const double *want = r->sdx + (size_t)n * C * T;
    int t;
    for (k = 0; k < C * T; k++) g.dx[k] = SENTINEL;
    se_back_call(r, n, &g);
    if (!cmp(v, "dL/dx[c][t]", "c", "t", g.dx, want, C, T, n, SENTINEL, &bi)) {
      /* the mean's share missing: want - got the same non-zero value over channel c's valid frames */
      const int c = bi / T, L = r->slen[n];
      const double miss = want[(size_t)c * T] - (g.dx[(size_t)c * T] - SENTINEL);
      int flat = fabs(miss) > TOL;
      for (t = 1; t < L; t++) flat &= grading_same(want[(size_t)c * T + t] - (g.dx[(size_t)c * T + t] - SENTINEL), miss, TOL);
      if (!accum_hint(v, g.dx, want, bi, want))
        grading_hint(v, bi % T >= L ? "padded frames t >= L get no gradient"
                        : flat ? "dx misses the mean's share: every valid frame of channel c also gets dxbar_c / L "
                                 "(xbar_c depends on every x_c,t, t < L), dxbar = W1^T dz"
                               : "dx_c,t += theta_c dy_c,t + dxbar_c / L for t < L");
      ok = 0;
    }
  }
  if (ok) {
    static const char *names[4] = {"dL/dW1[j][c]", "dL/db1[j]", "dL/dW2[c][j]", "dL/db2[c]"};
    static const char *hints[4] = {"dW1 += dz xbar^T, dz = (W2^T du) swish'(z)", "db1 += dz, dz = (W2^T du) swish'(z)",
                                   "dW2 += du swish(z)^T, du = dtheta theta (1 - theta), dtheta_c = sum_{t<L} dy_c,t x_c,t",
                                   "db2 += du, du = dtheta theta (1 - theta)"};
    const double *got[4], *alone[4], *want[4];
    const int rows[4] = {R, R, C, C}, cols[4] = {C, 1, R, 1};
    se_grads_new(&a, r, 0);
    se_back_call(r, r->N - 1, &a);
    got[0] = g.dw1, got[1] = g.db1, got[2] = g.dw2, got[3] = g.db2;
    alone[0] = a.dw1, alone[1] = a.db1, alone[2] = a.dw2, alone[3] = a.db2;
    want[0] = r->sdw1, want[1] = r->sdb1, want[2] = r->sdw2, want[3] = r->sdb2;
    for (k = 0; k < 4 && ok; k++)
      if (!cmp(v, names[k], k < 2 ? "j" : "c", k == 0 ? "c" : k == 2 ? "j" : "-", got[k], want[k], rows[k], cols[k], -1,
               SENTINEL, &bi)) {
        if (!accum_hint(v, got[k], alone[k], bi, want[k])) grading_hint(v, hints[k]);
        ok = 0;
      }
    se_grads_free(&a);
  }
  se_grads_free(&g);
  v->ok = ok;
}

static const grading_part PARTS[] = {
  {part1, "depthwise conv: padding, dilation, stride, valid frames"},
  {part2, "pointwise conv"},
  {part3, "pointwise conv backward (+=)"},
  {part4, "depthwise conv backward (+=)"},
  {part5, "Squeeze-and-Excitation forward, the mean over valid frames"},
  {part6, "Squeeze-and-Excitation backward (+=)"},
};
#define NPARTS (int)(sizeof PARTS / sizeof PARTS[0])

int main(int argc, char **argv) {
  refs r;
  if (argc != 2) {
    fprintf(stderr, "usage: grader REFDIR   (make grade A=conv_se STUDENT=path.c runs it)\n");
    return 2;
  }
  read_refs(&r, argv[1]);
  if (r.SC > 64 || r.R > 64) {
    fprintf(stderr, "grader: SE with more than 64 channels or hidden units (the hints' buffers)\n");
    return 2;
  }
  printf("conv_se assignment: %d items, T = %d, C = %d -> %d (K = %d; stride, padding, dilation %d %d %d and %d %d %d), "
         "SE C = %d, R = %d; tolerance %g\n", r.N, r.T, r.C, r.Co, r.K, DW[0].stride, DW[0].padding, DW[0].dilation,
         DW[1].stride, DW[1].padding, DW[1].dilation, r.SC, r.R, TOL);
  return grading_main(&r, PARTS, NPARTS, TIME_LIMIT);
}
