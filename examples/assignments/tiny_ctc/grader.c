/* examples/assignments/tiny_ctc/grader.c - grades a student's tiny CTC recognizer
 * (tiny_ctc_assignment.h) part by part.
 *
 *   build/assignments/tiny_ctc/graded-... REFDIR   (made and run by: make grade A=tiny_ctc STUDENT=...)
 *
 * REFDIR holds the fbank features of toy utterances (train/ and dev/, made by
 * examples/assignments/tiny_ctc/make_refs.sh with asrtool). The reference numbers are
 * computed here with asr.h's layers (tiny_ref.h), from weights drawn with asr_rng at fixed
 * seeds; before grading, the reference gradient is checked against central finite
 * differences of the reference loss (a lecturer's problem if not: exit 2). Each part runs
 * in a child process with a time limit (examples/assignments/grading.h). Built with
 * ASR_REAL=double. Instructor mode (-DASR_ASSIGNMENT_TINY_CTC) removes nothing: the
 * student is meant to build the model from asr.h's public layers.
 * grade.sh: -O1 (the grader object; part 5's training runs on its asr.h) */
#define _POSIX_C_SOURCE 200809L
#define ASR_IMPLEMENTATION
#include "../../../asr.h"
#include "../grading.h"
#include "tiny_ctc_assignment.h"
#include "tiny_ref.h"

#define TIME_LIMIT 120   /* seconds per part: part 5's training takes the reference ~10 s */
#define TOL 1e-9         /* absolute on logits, losses, gradients and weights: the same
                            layers in another order differ by ~1e-13 here */
#define SENTINEL 0.25    /* what grad holds before part 2's call: it must add to it */

/* Part 5's experiment: STEPS Adam steps (lr LR) on batches of BATCH training utterances in
 * a fixed order, from the weights of seed 1. The library (library.c; `grader REFDIR
 * --measure`) ends at a mean training loss of LIB_LOSS and a held-out CER of LIB_CER. The
 * run is deterministic, and barely moves when the initial weights move: with every weight
 * jittered by a relative 1e-3 (`--measure J`, J = 1..5) the loss stays in 12.55-12.57 and
 * the CER in 31.6%-32.9%, so another correct summation order (1e-16 apart) lands on the same
 * numbers. The bounds LOSS_MAX and CER_MAX sit well above that spread (loss +19%, CER +8
 * points, 6 times the jitter's range) and far below the untrained weights (loss 139) and
 * a step that never zeroes its gradient (loss 149, library.c -DBREAK=5). */
#ifndef STEPS
#define STEPS 300
#define BATCH 16
#define LR 3e-3
#endif
#define LIB_LOSS 12.56
#define LIB_CER 0.322
#define LOSS_MAX 15.0
#define CER_MAX 0.40

typedef struct utt {
  int T, U;
  double *feats;   /* (T, TINY_F), every bin's mean and variance normalized */
  int *labels;     /* (U) */
  char text[256];
} utt;

typedef struct refs {
  int ntrain, ndev;
  utt *train, *dev;
} refs;

/* REFDIR/SPLIT/transcripts.tsv and its .npy files; exits 2 on a problem (the lecturer's). */
static utt *read_split(const char *dir, const char *split, int *count) {
  char path[1024], line[1400];
  FILE *f;
  utt *u = NULL;
  int n = 0;
  snprintf(path, sizeof path, "%s/%s/transcripts.tsv", dir, split);
  if (!(f = fopen(path, "r"))) {
    fprintf(stderr, "grader: cannot open %s\n", path);
    exit(2);
  }
  while (fgets(line, sizeof line, f)) {
    char *tab = strchr(line, '\t'), sub[1500];
    int64_t s[2];
    int ids[256];
    asr_error err;
    if (!tab) continue;
    *tab = 0;
    tab[1 + strcspn(tab + 1, "\r\n")] = 0;
    u = (utt *)realloc(u, sizeof(utt) * (size_t)(n + 1));
    snprintf(sub, sizeof sub, "%s/%s", split, line);
    u[n].feats = (double *)grading_load(dir, sub, ASR_DTYPE_F64, 2, s);
    if (s[1] != TINY_F) {
      fprintf(stderr, "grader: %s/%s: %d bins, expected %d\n", dir, sub, (int)s[1], TINY_F);
      exit(2);
    }
    u[n].T = (int)s[0];
    asr_cmvn(u[n].feats, u[n].T, TINY_F, 1);
    u[n].U = asr_text_encode(tab + 1, ids, 256, &err);
    if (u[n].U < 0 || asr_ctc_min_frames(ids, u[n].U) > TINY_FRAMES(u[n].T)) {
      fprintf(stderr, "grader: %s: '%s' %s\n", path, tab + 1, u[n].U < 0 ? err.msg : "does not fit in T' frames");
      exit(2);
    }
    u[n].labels = (int *)malloc(sizeof(int) * (size_t)(u[n].U + 1));
    memcpy(u[n].labels, ids, sizeof(int) * (size_t)u[n].U);
    snprintf(u[n].text, sizeof u[n].text, "%s", tab + 1);
    n++;
  }
  fclose(f);
  if (n == 0) {
    fprintf(stderr, "grader: %s lists no utterance\n", path);
    exit(2);
  }
  *count = n;
  return u;
}

/* torch's default initialization of Conv1d and Linear: weights and biases uniform on
 * (-1/sqrt(fan_in), 1/sqrt(fan_in)), times scale; seeded, so the same on every machine. */
static tiny_model *init_model(uint64_t seed, double scale) {
  tiny_model *m = (tiny_model *)malloc(sizeof(tiny_model));
  asr_rng rng;
  const double a1 = scale / sqrt((double)TINY_I * TINY_K), a2 = scale / sqrt((double)TINY_H);
  int i;
  asr_rng_seed(&rng, seed, 0);
  for (i = 0; i < TINY_H * TINY_I * TINY_K; i++) m->w1[i] = a1 * (2 * asr_rng_uniform(&rng) - 1);
  for (i = 0; i < TINY_H; i++) m->b1[i] = a1 * (2 * asr_rng_uniform(&rng) - 1);
  for (i = 0; i < TINY_V * TINY_H; i++) m->w2[i] = a2 * (2 * asr_rng_uniform(&rng) - 1);
  for (i = 0; i < TINY_V; i++) m->b2[i] = a2 * (2 * asr_rng_uniform(&rng) - 1);
  return m;
}

/* The name of parameter i of the flat tiny_model, with its indices. */
static void param_name(char *out, size_t cap, int i) {
  const int n1 = TINY_H * TINY_I * TINY_K, n2 = n1 + TINY_H, n3 = n2 + TINY_V * TINY_H;
  if (i < n1)
    snprintf(out, cap, "w1[o=%d][i=%d][k=%d]", i / (TINY_I * TINY_K), i / TINY_K % TINY_I, i % TINY_K);
  else if (i < n2)
    snprintf(out, cap, "b1[o=%d]", i - n1);
  else if (i < n3)
    snprintf(out, cap, "w2[v=%d][o=%d]", (i - n2) / TINY_H, (i - n2) % TINY_H);
  else
    snprintf(out, cap, "b2[v=%d]", i - n3);
}

/* dL/dθ_i by central differences of the reference loss (step 1e-5: the error, h^2 L'''/6
 * + 1e-16 L / h, is ~1e-9 on these losses). */
static double finite_difference(const tiny_model *m, const utt *u, int i) {
  tiny_model *p = (tiny_model *)malloc(sizeof(tiny_model));
  const double h = 1e-5;
  double lp, lm;
  memcpy(p, m, sizeof *p);
  ((double *)p)[i] += h;
  lp = tiny_ref_loss(NULL, p, u->feats, u->T, u->labels, u->U);
  ((double *)p)[i] -= 2 * h;
  lm = tiny_ref_loss(NULL, p, u->feats, u->T, u->labels, u->U);
  free(p);
  return (lp - lm) / (2 * h);
}

#define N_FWD 4   /* utterances of parts 1 and 2 */

static void part1(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  tiny_model *m = init_model(1, 1.0);
  int n, t, k;
  for (n = 0; n < N_FWD; n++) {
    const utt *u = &r->train[n];
    const int Tp = TINY_FRAMES(u->T);
    double *want = (double *)malloc(sizeof(double) * (size_t)Tp * TINY_V);
    double *got = (double *)malloc(sizeof(double) * (size_t)Tp * TINY_V);
    double lw = tiny_ref_loss(want, m, u->feats, u->T, u->labels, u->U), lg;
    int bt, bk;
    for (k = 0; k < Tp * TINY_V; k++) got[k] = NAN;   /* an unwritten logit reads as nan */
    lg = tiny_forward_loss(got, m, u->feats, u->T, u->labels, u->U);
    if (!grading_compare(v, "logits z[t][v]", "t", "v", got, want, Tp, TINY_V, TINY_V, n, TOL, &bt, &bk)) {
      /* what the usual slips give at that row */
      double lse = asr_logsumexp(want + (size_t)bt * TINY_V, TINY_V), worst_inner = 0;
      int softmaxed = 1;
      for (k = 0; k < TINY_V; k++)
        if (fabs(got[(size_t)bt * TINY_V + k] - (want[(size_t)bt * TINY_V + k] - lse)) > 1e-9) softmaxed = 0;
      for (t = TINY_K / 2; t < Tp - TINY_K / 2; t++)
        for (k = 0; k < TINY_V; k++)
          worst_inner = fmax(worst_inner, fabs(got[(size_t)t * TINY_V + k] - want[(size_t)t * TINY_V + k]));
      grading_hint(v, softmaxed ? "those are log-probabilities: the logits are the linear layer's output z; the "
                                  "CTC loss (asr_ctc_loss) takes the log-softmax itself"
                      : worst_inner <= TOL
                          ? "only the edge frames are wrong: the conv pads TINY_K/2 = 2 zero rows at each end "
                            "(padding 2), so T' frames come out"
                          : "z = w2 tanh(conv(x)) + b2: row t of x is frames 3t..3t+2; asr_conv1d_forward reads "
                            "channel-first (TINY_I, T') and writes (TINY_H, T')");
      free(want), free(got), free(m);
      return;
    }
    if (!grading_same(lg, lw, TOL)) {
      snprintf(v->msg, sizeof v->msg, "the loss -ln p(l|x) of item %d: expected %.9g, got %.9g", n, lw, lg);
      grading_hint(v, grading_same(lg, -lw, TOL) ? "the loss is MINUS ln p(l|x)"
                                                 : "asr_ctc_loss on the logits (T', V), blank 0, the labels of "
                                                   "asr_text_encode, reduction none ([Graves06] eq. (12))");
      free(want), free(got), free(m);
      return;
    }
    free(want), free(got);
  }
  free(m);
  v->ok = 1;
}

static void part2(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  tiny_model *m = init_model(1, 1.0), *want = (tiny_model *)calloc(1, sizeof(tiny_model)),
             *got = (tiny_model *)malloc(sizeof(tiny_model));
  int n, i;
  for (n = 0; n < N_FWD; n++) {
    const utt *u = &r->train[n];
    double lw, lg, *gw = (double *)want, *gg = (double *)got;
    memset(want, 0, sizeof *want);
    for (i = 0; i < TINY_PARAMS; i++) gg[i] = SENTINEL;
    lw = tiny_ref_loss_grad(want, m, u->feats, u->T, u->labels, u->U);
    lg = tiny_loss_grad(got, m, u->feats, u->T, u->labels, u->U);
    if (!grading_same(lg, lw, TOL)) {
      snprintf(v->msg, sizeof v->msg, "the loss returned for item %d: expected %.9g, got %.9g (part 1's loss)", n, lw,
               lg);
      break;
    }
    for (i = 0; i < TINY_PARAMS; i++) {
      const double inc = gg[i] - SENTINEL;
      if (!grading_same(inc, gw[i], TOL)) {
        char name[64];
        param_name(name, sizeof name, i);
        snprintf(v->msg, sizeof v->msg,
                 "dL/d%s at item %d: expected %.6g (central differences: %.6g), got %.6g added to grad", name, n,
                 gw[i], finite_difference(m, u, i), inc);
        grading_hint(v, grading_same(gg[i], gw[i], TOL)
                            ? "grad held 0.25 before the call and now holds just the gradient: ADD into it (+=), "
                              "as asr.h's backward functions do"
                        : i >= TINY_H * TINY_I * TINY_K + TINY_H
                            ? "dL/dz is asr_ctc_loss's gradient w.r.t. the logits; dw2 = dz^T h, db2 = sum_t dz[t]"
                            : "through the tanh: da = dh (1 - h^2) with dh = dz w2, transposed to (TINY_H, T') for "
                              "asr_conv1d_backward");
        break;
      }
    }
    if (i < TINY_PARAMS) break;
  }
  v->ok = n == N_FWD;
  free(m), free(want), free(got);
}

static void part3(const void *ctx, grading_verdict *v) {
  tiny_model *w = init_model(1, 1.0), *g = (tiny_model *)malloc(sizeof(tiny_model));
  tiny_model *mine[3], *ref[3];   /* weights, m, v */
  asr_rng rng;
  long t;
  int i, j;
  (void)ctx;
  for (j = 0; j < 3; j++) {
    mine[j] = (tiny_model *)calloc(1, sizeof(tiny_model));
    ref[j] = (tiny_model *)calloc(1, sizeof(tiny_model));
  }
  memcpy(mine[0], w, sizeof *w), memcpy(ref[0], w, sizeof *w);
  asr_rng_seed(&rng, 3, 0);
  v->ok = 1;
  for (t = 1; t <= 3 && v->ok; t++) {
    double *gp = (double *)g, *a = (double *)mine[0], *b = (double *)ref[0];
    for (i = 0; i < TINY_PARAMS; i++) gp[i] = 0.1 * asr_rng_normal(&rng);
    tiny_adam_step(mine[0], mine[1], mine[2], g, t, 1e-2);
    tiny_ref_adam_step(ref[0], ref[1], ref[2], g, t, 1e-2);
    for (i = 0; i < TINY_PARAMS; i++)
      if (!grading_same(a[i], b[i], TOL)) {
        char name[64];
        const double mt = ((double *)ref[1])[i], vt = ((double *)ref[2])[i], before = a[i];
        /* what the step would give without bias correction, from the reference's moments */
        const double plain = b[i] + 1e-2 * mt / (sqrt(vt) / sqrt(1 - pow(0.999, (double)t)) + 1e-8) /
                                        (1 - pow(0.9, (double)t)) -
                             1e-2 * mt / (sqrt(vt) + 1e-8);
        param_name(name, sizeof name, i);
        snprintf(v->msg, sizeof v->msg, "%s after step t=%ld (lr 0.01): expected %.9g, got %.9g", name, t, b[i], before);
        grading_hint(v, fabs(before - plain) < 1e-9
                            ? "the bias correction: m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t) "
                              "([Kingma15] Algorithm 1)"
                            : "m = 0.9 m + 0.1 g, v = 0.999 v + 0.001 g^2, p -= lr m_hat / (sqrt(v_hat) + 1e-8) "
                              "([Kingma15] Algorithm 1, torch.optim.Adam)");
        v->ok = 0;
        break;
      }
  }
  for (j = 0; j < 3; j++) free(mine[j]), free(ref[j]);
  free(w), free(g);
}

#define N_DEC 12   /* held-out utterances of part 4 */

static void part4(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  /* weights three times the initialization's scale: confident frames, varied paths */
  tiny_model *m = init_model(4, 3.0);
  int n, i;
  for (n = 0; n < N_DEC && n < r->ndev; n++) {
    const utt *u = &r->dev[n];
    const int Tp = TINY_FRAMES(u->T);
    int *want = (int *)malloc(sizeof(int) * (size_t)(Tp + 1)), *got = (int *)malloc(sizeof(int) * (size_t)(Tp + 1));
    int nw = tiny_ref_greedy(want, m, u->feats, u->T), ng = tiny_greedy_decode(got, m, u->feats, u->T);
    if (ng != nw || memcmp(got, want, sizeof(int) * (size_t)nw) != 0) {
      /* the best path, and what B's two usual slips make of it */
      double *z = (double *)malloc(sizeof(double) * (size_t)Tp * TINY_V);
      int *path = (int *)malloc(sizeof(int) * (size_t)Tp), n_keep = 0, n_late = 0, t, k, same_keep, same_late;
      int *keep = (int *)malloc(sizeof(int) * (size_t)Tp), *late = (int *)malloc(sizeof(int) * (size_t)Tp);
      tiny_ref_loss(z, m, u->feats, u->T, u->labels, u->U);
      for (t = 0; t < Tp; t++) {
        for (path[t] = 0, k = 1; k < TINY_V; k++)
          if (z[(size_t)t * TINY_V + k] > z[(size_t)t * TINY_V + path[t]]) path[t] = k;
        if (path[t] != 0) keep[n_keep++] = path[t];                                  /* blanks dropped only */
        if (path[t] != 0 && (n_late == 0 || late[n_late - 1] != path[t])) late[n_late++] = path[t];
      }
      same_keep = ng == n_keep && memcmp(got, keep, sizeof(int) * (size_t)ng) == 0;
      same_late = ng == n_late && memcmp(got, late, sizeof(int) * (size_t)ng) == 0;
      for (i = 0; i < ng && i < nw && got[i] == want[i]; i++) continue;
      snprintf(v->msg, sizeof v->msg, "held-out item %d: %d tokens expected, got %d; first difference at token %d: "
               "expected %d, got %d", n, nw, ng, i, i < nw ? want[i] : -1, i < ng ? got[i] : -1);
      grading_hint(v, same_keep ? "B merges repeated labels first, then drops the blanks"
                      : same_late ? "merge repeats BEFORE dropping blanks: a blank between two equal labels keeps both"
                                  : "the argmax of each frame's logits (ties to the lower index), then B ([Graves06] "
                                    "sec. 3.2)");
      free(z), free(path), free(keep), free(late), free(want), free(got), free(m);
      return;
    }
    free(want), free(got);
  }
  free(m);
  v->ok = 1;
}

/* The mean reference loss of the model over the training set. */
static double train_loss(const refs *r, const tiny_model *m) {
  double s = 0;
  int n;
  for (n = 0; n < r->ntrain; n++) s += tiny_ref_loss(NULL, m, r->train[n].feats, r->train[n].T, r->train[n].labels,
                                                     r->train[n].U);
  return s / r->ntrain;
}

static double held_out_cer(const refs *r, const tiny_model *w,
                           int (*decode)(int *, const tiny_model *, const double *, int));

/* Part 5's experiment with the given step and decoder; the final training loss and the
 * held-out CER. */
static void experiment(const refs *r, uint64_t jitter, double (*step)(tiny_model *, tiny_model *, tiny_model *, long, double,
                                                     const double *const *, const int *, const int *const *,
                                                     const int *, int),
                       int (*decode)(int *, const tiny_model *, const double *, int), double *loss, double *cer,
                       double *cer_ref) {
  tiny_model *w = init_model(1, 1.0), *m = (tiny_model *)calloc(1, sizeof(tiny_model)),
             *vv = (tiny_model *)calloc(1, sizeof(tiny_model));
  const double *feats[BATCH];
  const int *labels[BATCH];
  int T[BATCH], U[BATCH], b, n, s;
  if (jitter) {   /* --measure J: every initial weight times 1 + 1e-3 N(0,1), seed J */
    asr_rng rng;
    asr_rng_seed(&rng, jitter, 7);
    for (n = 0; n < TINY_PARAMS; n++) ((double *)w)[n] *= 1 + 1e-3 * asr_rng_normal(&rng);
  }
  for (s = 0; s < STEPS; s++) {
    for (b = 0; b < BATCH; b++) {
      const utt *u = &r->train[(s * BATCH + b) % r->ntrain];
      feats[b] = u->feats, labels[b] = u->labels, T[b] = u->T, U[b] = u->U;
    }
    step(w, m, vv, s + 1, LR, feats, T, labels, U, BATCH);
  }
  *loss = train_loss(r, w);
  *cer = held_out_cer(r, w, decode);
  if (cer_ref) *cer_ref = held_out_cer(r, w, tiny_ref_greedy);
  free(w), free(m), free(vv);
}

/* The held-out CER of the model's transcripts by decode (asr_cer_counts). */
static double held_out_cer(const refs *r, const tiny_model *w, int (*decode)(int *, const tiny_model *, const double *, int)) {
  long errors = 0, ref_len = 0;
  int n;
  for (n = 0; n < r->ndev; n++) {
    const utt *u = &r->dev[n];
    int *tok = (int *)malloc(sizeof(int) * (size_t)(TINY_FRAMES(u->T) + 1)), k = decode(tok, w, u->feats, u->T);
    char hyp[1024];
    int *work = (int *)malloc(sizeof(int) * 3 * (strlen(u->text) + sizeof hyp + 2));
    if (k < 0 || k > TINY_FRAMES(u->T) || asr_text_decode(tok, k, hyp, sizeof hyp) < 0) hyp[0] = 0;
    asr_cer_counts(u->text, hyp, work, &errors, &ref_len);
    free(tok), free(work);
  }
  return ref_len ? (double)errors / ref_len : 1;
}

static void part5(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  double loss, cer, cer_ref;
  experiment(r, 0, tiny_train_step, tiny_greedy_decode, &loss, &cer, &cer_ref);
  if (!(loss <= LOSS_MAX)) {
    snprintf(v->msg, sizeof v->msg, "after %d steps (batch %d, lr %g) the mean training loss is %.4g: at most %.4g "
             "expected (the library ends at %.4g)", STEPS, BATCH, LR, loss, LOSS_MAX, LIB_LOSS);
    grading_hint(v, loss != loss ? "NaN: a log of 0, or a step on an infinite loss"
                                 : "the step: the gradient of the MEAN loss (1/B) sum_b L_b, zeroed before each step, "
                                   "then Adam with t = the step's number");
    return;
  }
  if (!(cer <= CER_MAX)) {
    snprintf(v->msg, sizeof v->msg, "after %d steps the held-out CER is %.1f%%: at most %.1f%% expected (the library "
             "ends at %.1f%%); the training loss is fine (%.4g)", STEPS, 100 * cer, 100 * CER_MAX, 100 * LIB_CER, loss);
    if (cer_ref <= CER_MAX) {
      char h[160];
      snprintf(h, sizeof h, "the weights are fine (the reference decoder reaches %.1f%% with them): check part 4, "
               "argmax per frame, then B", 100 * cer_ref);
      grading_hint(v, h);
    } else {
      grading_hint(v, "the weights fit the training set but do not generalize: the step must follow the "
                      "batches in the order given, with the learning rate given");
    }
    return;
  }
  snprintf(v->msg, sizeof v->msg, "training loss %.4g, held-out CER %.1f%%", loss, 100 * cer);
  v->ok = 1;
}

static const grading_part PARTS[] = {
  {part1, "the forward pass: logits and the CTC loss"},
  {part2, "the backward pass: dL/dw1, db1, dw2, db2"},
  {part3, "one Adam step, [Kingma15] Algorithm 1"},
  {part4, "greedy decoding, [Graves06] sec. 3.2"},
  {part5, "training: the loss falls and held-out utterances are recognized"},
};
#define NPARTS (int)(sizeof PARTS / sizeof PARTS[0])

/* The reference gradient against central differences at 40 parameters of item 0 (every
 * array): the grader's own check, before any student code runs. */
static double selfcheck(const refs *r) {
  tiny_model *m = init_model(1, 1.0), *g = (tiny_model *)calloc(1, sizeof(tiny_model));
  const utt *u = &r->train[0];
  asr_rng rng;
  double worst = 0;
  int j;
  tiny_ref_loss_grad(g, m, u->feats, u->T, u->labels, u->U);
  asr_rng_seed(&rng, 5, 0);
  for (j = 0; j < 40; j++) {
    const int base[4] = {0, TINY_H * TINY_I * TINY_K, TINY_H * TINY_I * TINY_K + TINY_H,
                         TINY_H * TINY_I * TINY_K + TINY_H + TINY_V * TINY_H};
    const int size[4] = {TINY_H * TINY_I * TINY_K, TINY_H, TINY_V * TINY_H, TINY_V};
    const int i = base[j % 4] + asr_rng_int(&rng, size[j % 4]);
    const double fd = finite_difference(m, u, i), an = ((double *)g)[i];
    worst = fmax(worst, fabs(fd - an) / fmax(1e-3, fabs(fd)));
  }
  free(m), free(g);
  return worst;
}

int main(int argc, char **argv) {
  refs r;
  double fd;
  if (argc < 2 || argc > 4) {
    fprintf(stderr, "usage: grader REFDIR [--measure [J]]   (make grade A=tiny_ctc STUDENT=path.c runs it)\n");
    return 2;
  }
  r.train = read_split(argv[1], "train", &r.ntrain);
  r.dev = read_split(argv[1], "dev", &r.ndev);
  if (argc >= 3 && strcmp(argv[2], "--measure") == 0) {
    /* the library's part 5 numbers; with J, from initial weights jittered by 1e-3 */
    double loss, cer;
    uint64_t j = argc == 4 ? (uint64_t)strtoul(argv[3], NULL, 10) : 0;
    experiment(&r, j, tiny_ref_train_step, tiny_ref_greedy, &loss, &cer, NULL);
    printf("reference%s: %d steps, batch %d, lr %g: training loss %.6g, held-out CER %.4f\n", j ? " (jittered)" : "",
           STEPS, BATCH, LR, loss, cer);
    return 0;
  }
  fd = selfcheck(&r);
  if (!(fd < 1e-6)) {
    fprintf(stderr, "grader: the reference gradient is %.2g from central differences (more than 1e-6)\n", fd);
    return 2;
  }
  printf("tiny CTC assignment: %d training and %d held-out utterances, %d parameters; tolerance %g; reference "
         "gradient vs central differences: %.1e\n",
         r.ntrain, r.ndev, TINY_PARAMS, TOL, fd);
  return grading_main(&r, PARTS, NPARTS, TIME_LIMIT);
}
