/* examples/assignments/tiny_ctc/tiny_ref.h - the tiny CTC model of tiny_ctc_assignment.h
 * on asr.h's layers: the grader's reference, and what library.c answers with. Not handed
 * out (make handout copies only *_assignment.h). Include asr.h (ASR_REAL=double) and
 * tiny_ctc_assignment.h first. Every function is static: one copy per program.
 *
 * forward:  x (T', I) = feats rows of 3 frames -> transposed to (I, T') ->
 *           asr_conv1d_forward (K 5, padding 2) -> a (H, T') -> transposed, asr_tanh_forward
 *           -> h (T', H) -> asr_linear_forward -> z (T', V) -> asr_ctc_loss (reduction none)
 * backward: asr_ctc_loss's dL/dz -> asr_linear_backward (dh, dw2, db2) -> asr_tanh_backward
 *           -> transposed to (H, T') -> asr_conv1d_backward (dw1, db1; no dx) */
#ifndef TINY_REF_H
#define TINY_REF_H
#if !ASR_REAL_DOUBLE   /* the model's arrays are double and go to asr.h's layers as they are */
#error "tiny_ref.h: build with -DASR_REAL=double, as the grader"
#endif
#include <stdlib.h>
#include <string.h>

/* One utterance's activations (what the backward pass needs). */
typedef struct tiny_ref_acts {
  int Tp;
  double *xt;   /* (I, T') the stacked frames, channel-first for the conv */
  double *h;    /* (T', H) tanh of the conv */
  double *z;    /* (T', V) the logits */
  asr_conv1d_dims d;
  void *work;   /* the conv's workspace */
  size_t work_bytes;
} tiny_ref_acts;

static void tiny_ref_free(tiny_ref_acts *s) {
  free(s->xt), free(s->h), free(s->z), free(s->work);
  memset(s, 0, sizeof *s);
}

static void tiny_ref_transpose(double *out, const double *in, int rows, int cols) {
  int r, c;
  for (r = 0; r < rows; r++)
    for (c = 0; c < cols; c++) out[(size_t)c * rows + r] = in[(size_t)r * cols + c];
}

/* The forward pass up to the logits s->z; 0, or -1 when T' < 1 or the memory is short. */
static int tiny_ref_forward(tiny_ref_acts *s, const tiny_model *m, const double *feats, int T) {
  const int Tp = TINY_FRAMES(T);
  double *a;
  memset(s, 0, sizeof *s);
  if (Tp < 1) return -1;
  s->Tp = Tp;
  asr_conv1d_dims_init(&s->d, 1, TINY_I, TINY_H, Tp, TINY_K);
  s->d.padding = TINY_K / 2;
  s->work_bytes = asr_conv1d_workspace_size(&s->d);
  s->xt = (double *)malloc(sizeof(double) * (size_t)TINY_I * Tp);
  s->h = (double *)malloc(sizeof(double) * (size_t)TINY_H * Tp);
  s->z = (double *)malloc(sizeof(double) * (size_t)TINY_V * Tp);
  s->work = malloc(s->work_bytes + 1);
  a = (double *)malloc(sizeof(double) * (size_t)TINY_H * Tp);
  if (!s->xt || !s->h || !s->z || !s->work || !a) {
    free(a), tiny_ref_free(s);
    return -1;
  }
  tiny_ref_transpose(s->xt, feats, Tp, TINY_I);          /* (T', I) -> (I, T') */
  asr_conv1d_forward(a, s->xt, m->w1, m->b1, NULL, &s->d, s->work, s->work_bytes);
  tiny_ref_transpose(s->h, a, TINY_H, Tp);               /* (H, T') -> (T', H) */
  asr_tanh_forward(s->h, s->h, (size_t)TINY_H * Tp);
  asr_linear_forward(s->z, s->h, m->w2, m->b2, Tp, TINY_H, TINY_V);
  free(a);
  return 0;
}

/* -ln p(l|x) of the logits z (T', V); dz (T', V) or NULL receives dL/dz (written). */
static double tiny_ref_ctc(double *dz, const double *z, int Tp, const int *labels, int U) {
  size_t wb = asr_ctc_loss_workspace_size(Tp, TINY_V, U > 0 ? U : 1);
  void *work = malloc(wb + 1);
  double loss = 0;
  if (dz) memset(dz, 0, sizeof(double) * (size_t)Tp * TINY_V);
  asr_ctc_loss(&loss, dz, z, labels, &Tp, &U, 1, Tp, TINY_V, U > 0 ? U : 1, 0, ASR_REDUCTION_NONE, 0, work, wb, NULL);
  free(work);
  return loss;
}

/* The loss; logits (T', V) or NULL receives the logits. */
static double tiny_ref_loss(double *logits, const tiny_model *m, const double *feats, int T, const int *labels, int U) {
  tiny_ref_acts s;
  double loss;
  if (tiny_ref_forward(&s, m, feats, T)) return NAN;
  loss = tiny_ref_ctc(NULL, s.z, s.Tp, labels, U);
  if (logits) memcpy(logits, s.z, sizeof(double) * (size_t)s.Tp * TINY_V);
  tiny_ref_free(&s);
  return loss;
}

/* The loss, and its gradient added into g. */
static double tiny_ref_loss_grad(tiny_model *g, const tiny_model *m, const double *feats, int T, const int *labels,
                                 int U) {
  tiny_ref_acts s;
  double loss, *dz, *dh, *da_t, *da;
  size_t n;
  if (tiny_ref_forward(&s, m, feats, T)) return NAN;
  n = (size_t)s.Tp * TINY_H;
  dz = (double *)malloc(sizeof(double) * (size_t)s.Tp * TINY_V);
  dh = (double *)calloc(n, sizeof(double));
  da_t = (double *)calloc(n, sizeof(double));
  da = (double *)malloc(sizeof(double) * n);
  loss = tiny_ref_ctc(dz, s.z, s.Tp, labels, U);
  asr_linear_backward(dh, g->w2, g->b2, dz, s.h, m->w2, s.Tp, TINY_H, TINY_V);   /* dh, dw2, db2 */
  asr_tanh_backward(da_t, dh, s.h, n);                                           /* da = dh (1 - h^2) */
  tiny_ref_transpose(da, da_t, s.Tp, TINY_H);                                     /* (T', H) -> (H, T') */
  asr_conv1d_backward(NULL, g->w1, g->b1, da, s.xt, m->w1, NULL, &s.d, s.work, s.work_bytes);
  free(dz), free(dh), free(da_t), free(da);
  tiny_ref_free(&s);
  return loss;
}

/* torch.optim.Adam's step over every parameter (asr_adam_step, defaults). */
static void tiny_ref_adam_step(tiny_model *model, tiny_model *m, tiny_model *v, const tiny_model *grad, long t, double lr) {
  asr_adam_opts o;
  asr_adam_opts_init(&o, lr);
  asr_adam_step((double *)model, (double *)m, (double *)v, NULL, (const double *)grad, (size_t)TINY_PARAMS, &o, t);
}

/* Best path decoding of the model's logits: the tokens' count, tokens (T'). */
static int tiny_ref_greedy(int *tokens, const tiny_model *m, const double *feats, int T) {
  tiny_ref_acts s;
  int t, n = 0;
  if (tiny_ref_forward(&s, m, feats, T)) return 0;
  for (t = 0; t < s.Tp; t++) asr_log_softmax(s.z + (size_t)t * TINY_V, s.z + (size_t)t * TINY_V, TINY_V);
  asr_ctc_greedy_decode(tokens, &n, NULL, NULL, s.z, s.Tp, TINY_V, 0);
  tiny_ref_free(&s);
  return n;
}

/* One training step: the batch's mean loss (returned) and one Adam step on its gradient. */
static double tiny_ref_train_step(tiny_model *model, tiny_model *m, tiny_model *v, long t, double lr,
                                  const double *const *feats, const int *T, const int *const *labels, const int *U,
                                  int B) {
  tiny_model *g = (tiny_model *)calloc(1, sizeof(tiny_model));
  double loss = 0, *gp = (double *)g;
  int b, i;
  for (b = 0; b < B; b++) loss += tiny_ref_loss_grad(g, model, feats[b], T[b], labels[b], U[b]);
  for (i = 0; i < TINY_PARAMS; i++) gp[i] /= B;
  tiny_ref_adam_step(model, m, v, g, t, lr);
  free(g);
  return loss / B;
}

#endif
