/* tests/assignments/tiny_ctc_solution.c - a model answer of the tiny CTC assignment written
 * from its handout (examples/assignments/tiny_ctc/README.md), without the grader's
 * reference (tiny_ref.h): other tiers of asr.h's layers (_ref, _naive) and its own loops for
 * the linear layer's backward, the tanh, Adam, the argmax and B, so its numbers are summed
 * in other orders. make test grades it (tests/assignments_check.py): full marks, part 5
 * included, which shows that the bounds hold for an implementation other than the one
 * they were measured on. Kept out of the students' folder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "asr.h"
#include "tiny_ctc_assignment.h"

/* The activations of one utterance: x^T (I, T'), h (T', H), z (T', V). */
typedef struct fwd {
  int Tp;
  double *xt, *h, *z;
  asr_conv1d_dims d;
} fwd;

static void forward(fwd *f, const tiny_model *m, const double *feats, int T) {
  int t, i, o;
  double *a;
  void *work;
  size_t wb;
  f->Tp = TINY_FRAMES(T);
  f->xt = (double *)malloc(sizeof(double) * TINY_I * f->Tp);
  f->h = (double *)malloc(sizeof(double) * TINY_H * f->Tp);
  f->z = (double *)malloc(sizeof(double) * TINY_V * f->Tp);
  a = (double *)malloc(sizeof(double) * TINY_H * f->Tp);
  for (t = 0; t < f->Tp; t++)   /* row t of x = frames 3t..3t+2 = feats[t*I .. t*I+I-1] */
    for (i = 0; i < TINY_I; i++) f->xt[i * f->Tp + t] = feats[t * TINY_I + i];
  asr_conv1d_dims_init(&f->d, 1, TINY_I, TINY_H, f->Tp, TINY_K);
  f->d.padding = TINY_K / 2;
  wb = asr_conv1d_workspace_size(&f->d);
  work = malloc(wb + 1);
  asr_conv1d_forward_ref(a, f->xt, m->w1, m->b1, NULL, &f->d, work, wb);
  for (o = 0; o < TINY_H; o++)
    for (t = 0; t < f->Tp; t++) f->h[t * TINY_H + o] = tanh(a[o * f->Tp + t]);
  asr_linear_forward_naive(f->z, f->h, m->w2, m->b2, f->Tp, TINY_H, TINY_V);
  free(a), free(work);
}

static void fwd_free(fwd *f) { free(f->xt), free(f->h), free(f->z); }

/* -ln p(l|x) and (dz != NULL) dL/dz, from asr_ctc_loss_ref. */
static double ctc(double *dz, const double *z, int Tp, const int *labels, int U) {
  int S = U > 0 ? U : 1;
  size_t wb = asr_ctc_loss_workspace_size(Tp, TINY_V, S);
  void *work = malloc(wb + 1);
  double loss;
  if (dz) memset(dz, 0, sizeof(double) * Tp * TINY_V);
  asr_ctc_loss_ref(&loss, dz, z, labels, &Tp, &U, 1, Tp, TINY_V, S, 0, ASR_REDUCTION_NONE, 0, work, wb, NULL);
  free(work);
  return loss;
}

double tiny_forward_loss(double *logits, const tiny_model *m, const double *feats, int T, const int *labels, int U) {
  fwd f;
  double loss;
  forward(&f, m, feats, T);
  memcpy(logits, f.z, sizeof(double) * f.Tp * TINY_V);
  loss = ctc(NULL, f.z, f.Tp, labels, U);
  fwd_free(&f);
  return loss;
}

double tiny_loss_grad(tiny_model *grad, const tiny_model *m, const double *feats, int T, const int *labels, int U) {
  fwd f;
  double loss, *dz, *da;
  int t, o, v;
  void *work;
  size_t wb;
  forward(&f, m, feats, T);
  dz = (double *)malloc(sizeof(double) * f.Tp * TINY_V);
  da = (double *)calloc((size_t)TINY_H * f.Tp, sizeof(double));
  loss = ctc(dz, f.z, f.Tp, labels, U);
  for (t = 0; t < f.Tp; t++)
    for (v = 0; v < TINY_V; v++) {
      const double g = dz[t * TINY_V + v];
      grad->b2[v] += g;
      for (o = 0; o < TINY_H; o++) {
        grad->w2[v * TINY_H + o] += g * f.h[t * TINY_H + o];
        da[o * f.Tp + t] += g * m->w2[v * TINY_H + o];   /* dh, transposed */
      }
    }
  for (o = 0; o < TINY_H; o++)
    for (t = 0; t < f.Tp; t++) da[o * f.Tp + t] *= 1 - f.h[t * TINY_H + o] * f.h[t * TINY_H + o];
  wb = asr_conv1d_workspace_size(&f.d);
  work = malloc(wb + 1);
  asr_conv1d_backward_ref(NULL, grad->w1, grad->b1, da, f.xt, m->w1, NULL, &f.d, work, wb);
  free(work), free(dz), free(da);
  fwd_free(&f);
  return loss;
}

void tiny_adam_step(tiny_model *model, tiny_model *m, tiny_model *v, const tiny_model *grad, long t, double lr) {
  double *p = (double *)model, *mm = (double *)m, *vv = (double *)v;
  const double *g = (const double *)grad, c1 = 1 - pow(0.9, (double)t), c2 = 1 - pow(0.999, (double)t);
  int i;
  for (i = 0; i < TINY_PARAMS; i++) {
    mm[i] = 0.9 * mm[i] + 0.1 * g[i];
    vv[i] = 0.999 * vv[i] + 0.001 * g[i] * g[i];
    p[i] -= lr * (mm[i] / c1) / (sqrt(vv[i] / c2) + 1e-8);
  }
}

int tiny_greedy_decode(int *tokens, const tiny_model *m, const double *feats, int T) {
  fwd f;
  int t, k, n = 0, prev = 0;
  forward(&f, m, feats, T);
  for (t = 0; t < f.Tp; t++) {
    int best = 0;
    for (k = 1; k < TINY_V; k++)
      if (f.z[t * TINY_V + k] > f.z[t * TINY_V + best]) best = k;
    if (best != 0 && best != prev) tokens[n++] = best;   /* B: repeats merged, blanks dropped */
    prev = best;
  }
  fwd_free(&f);
  return n;
}

double tiny_train_step(tiny_model *model, tiny_model *m, tiny_model *v, long t, double lr, const double *const *feats,
                       const int *T, const int *const *labels, const int *U, int B) {
  tiny_model *g = (tiny_model *)calloc(1, sizeof(tiny_model));
  double loss = 0;
  int b, i;
  for (b = 0; b < B; b++) loss += tiny_loss_grad(g, model, feats[b], T[b], labels[b], U[b]);
  for (i = 0; i < TINY_PARAMS; i++) ((double *)g)[i] *= 1.0 / B;
  tiny_adam_step(model, m, v, g, t, lr);
  free(g);
  return loss / B;
}
