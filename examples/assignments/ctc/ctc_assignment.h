/* examples/assignments/ctc/ctc_assignment.h - the functions the CTC assignment asks for
 * (handout: examples/assignments/ctc/README.md). Every array is row-major, double, natural
 * logs where it says log; T frames, V labels (the blank included), S target labels,
 * L = 2S+1 states of the extended labelling l'. 0-based: the paper's t = 1..T, s = 1..|l'|
 * are t = 0..T-1, s = 0..2S here. */
#ifndef CTC_ASSIGNMENT_H
#define CTC_ASSIGNMENT_H

/* Part 1: the extended labelling l' (L): blank at even s, target[(s-1)/2] at odd s;
 * returns L. And may state s be entered from s-2 ([Graves06] eq. (6))? 1 or 0. */
int ctc_extended_labels(int *lprime, const int *target, int S, int blank);
int ctc_can_skip(const int *target, int S, int blank, int s);

/* Part 2: log alpha (T, L), [Graves06] eqs. (6)-(7), from log-probabilities (T, V).
 * Unreachable states hold -INFINITY. */
void ctc_alpha(double *log_alpha, const double *logprobs, const int *target, int T, int V, int S,
               int blank);

/* Part 3: log beta (T, L), [Graves06] eqs. (10)-(11): WITH frame t's emission. */
void ctc_beta(double *log_beta, const double *logprobs, const int *target, int T, int V, int S,
              int blank);

/* Part 4: the posterior of each symbol at each frame (T, V), probabilities:
 *   gamma_t(k) = sum_{s: l'_s = k} alpha_t(s) beta_t(s) / (y^t_k p(l|x))   (eq. (14)) */
void ctc_posterior(double *post, const double *logprobs, const int *target, int T, int V, int S,
                   int blank);

/* Part 5: the loss -ln p(l|x) (returned) and its gradient w.r.t. the LOGITS (T, V),
 * written (not accumulated): eq. (16), dO/du^t_k = y^t_k - gamma_t(k). */
double ctc_loss_grad(double *grad, const double *logits, const int *target, int T, int V, int S,
                     int blank);

/* Part 6: best path decoding (sec. 3.2): tokens (T) receive B(argmax path), ties to the
 * lower index; returns their number. */
int ctc_greedy(int *tokens, const double *logprobs, int T, int V, int blank);

/* Part 7: prefix beam search ([Hannun14] Algorithm 1, no language model) with `beam`
 * prefixes kept after each frame but the last, and EVERY merged prefix reached at the last
 * frame returned, best first: row i of prefixes (max_out, T) holds the lengths[i] labels of
 * prefix i, scores[i] = ln(p_b + p_nb) of it; prefixes of probability 0 are not reached.
 * Returns how many (<= max_out = beam V). */
int ctc_beam_final(int *prefixes, int *lengths, double *scores, int max_out, const double *logprobs, int T, int V,
                   int blank, int beam);

#endif
