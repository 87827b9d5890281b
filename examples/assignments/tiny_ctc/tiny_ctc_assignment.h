/* examples/assignments/tiny_ctc/tiny_ctc_assignment.h - the functions the "train a tiny CTC
 * model" assignment asks for (handout: examples/assignments/tiny_ctc/README.md). Everything
 * is double (the grader builds asr.h with ASR_REAL=double, so asr_real is double too).
 *
 * The model, for an utterance of T fbank frames feats (T, TINY_F) (23 log-mel bins, every
 * bin's mean and variance over the utterance normalized by the grader):
 *   stack   x (T', TINY_I): row t is frames 3t, 3t+1, 3t+2 side by side, T' = T / 3
 *           (rounded down; the rows of feats are already laid out this way)
 *   conv    a = Conv1d(TINY_I -> TINY_H, kernel TINY_K, padding TINY_K / 2) over t, as
 *           torch.nn.Conv1d on the (TINY_I, T') transpose of x:
 *           a[o][t] = b1[o] + sum_i sum_k w1[o][i][k] x[t + k - TINY_K/2][i]  (x = 0 outside)
 *   tanh    h[t][o] = tanh(a[o][t])                      (T', TINY_H)
 *   linear  z[t][v] = b2[v] + sum_o w2[v][o] h[t][o]       (T', TINY_V), the logits
 *   CTC     L = -ln p(l|x) of the log-softmax of each z[t] and the labels l (blank 0)
 * Token v >= 1 is character ASR_CHARSET[v] of asr.h (" 'abc...z"), 0 is the blank. */
#ifndef TINY_CTC_ASSIGNMENT_H
#define TINY_CTC_ASSIGNMENT_H

#define TINY_F 23                    /* fbank bins per frame */
#define TINY_STACK 3                 /* frames per input row */
#define TINY_I (TINY_STACK * TINY_F) /* inputs per row: 69 */
#define TINY_K 5                     /* conv kernel; padding TINY_K / 2 keeps T' frames */
#define TINY_H 64                    /* conv channels */
#define TINY_V 29                    /* blank + the 28 characters of ASR_CHARSET */
#define TINY_FRAMES(T) ((T) / TINY_STACK)

/* The parameters, laid out as torch's state_dict: conv.weight (H, I, K), conv.bias (H),
 * out.weight (V, H), out.bias (V). Every member is double, so a tiny_model is also one
 * flat array of TINY_PARAMS doubles (what an optimizer step walks over). */
typedef struct tiny_model {
  double w1[TINY_H * TINY_I * TINY_K];
  double b1[TINY_H];
  double w2[TINY_V * TINY_H];
  double b2[TINY_V];
} tiny_model;
#define TINY_PARAMS ((int)(sizeof(tiny_model) / sizeof(double)))

/* Part 1: the forward pass. Writes the logits z (T', TINY_V) and returns the CTC loss
 * -ln p(l|x) of the labels l = labels[0..U-1] (ids 1..28). */
double tiny_forward_loss(double *logits, const tiny_model *m, const double *feats, int T, const int *labels, int U);

/* Part 2: the backward pass. ADDS dL/dθ of the same loss into every member of grad (+=,
 * the convention of asr.h's backward functions) and returns the loss. */
double tiny_loss_grad(tiny_model *grad, const tiny_model *m, const double *feats, int T, const int *labels, int U);

/* Part 3: one step of Adam [Kingma15] with torch.optim.Adam's defaults (beta1 0.9, beta2
 * 0.999, eps 1e-8, no weight decay) over every parameter: m and v are the moment
 * estimates (zero before step t = 1), t the 1-based step, lr the learning rate. */
void tiny_adam_step(tiny_model *model, tiny_model *m, tiny_model *v, const tiny_model *grad, long t, double lr);

/* Part 4: greedy (best path) decoding: the most probable token per frame of the logits,
 * then B (merge repeats, drop blanks). Writes the tokens (at most T') and returns how many. */
int tiny_greedy_decode(int *tokens, const tiny_model *m, const double *feats, int T);

/* Part 5: one training step on a batch of B utterances (feats[b] (T[b], TINY_F), labels[b]
 * (U[b])): the gradient of the batch's mean loss (1/B) sum_b L_b, then one Adam step t with
 * learning rate lr (parts 2 and 3). Returns the mean loss before the step. The grader
 * runs the steps, then decodes held-out utterances with part 4. */
double tiny_train_step(tiny_model *model, tiny_model *m, tiny_model *v, long t, double lr, const double *const *feats,
                       const int *T, const int *const *labels, const int *U, int B);

#endif
