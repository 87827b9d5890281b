/* examples/assignments/rnnt/rnnt_assignment.h - the functions the RNN-T assignment asks for
 * (handout: examples/assignments/rnnt/README.md). Every array is row-major, double, natural
 * logs where it says log; T frames, U target labels y_1..y_U (labels[0..U-1]), V symbols
 * (the blank included). 0-based: the paper's frames t = 1..T are t = 0..T-1 here, its
 * u = 0..U stays u = 0..U; a node (t,u) is row t, column u of a (T, U+1) array. */
#ifndef RNNT_ASSIGNMENT_H
#define RNNT_ASSIGNMENT_H

/* Part 1: the joint's outputs as the lattice reads them, [Graves12] eqs. (13)-(15), from
 * the logits z (T, U+1, V):
 *   log_blank[t][u] = ln Pr(blank|t,u) = ln blank(t,u)                 eqs. (13), (15)
 *   log_label[t][u] = ln Pr(y_{u+1}|t,u) = ln y(t,u), y_{u+1} = labels[u]  eqs. (13), (14)
 * both (T, U+1); log_label[t][U] = -INFINITY (there is no label U+1). */
void rnnt_log_probs(double *log_blank, double *log_label, const double *logits, const int *labels, int T, int U,
                    int V, int blank);

/* Part 2: log alpha (T, U+1), [Graves12] eq. (16), from part 1's arrays:
 *   alpha(t,u) = alpha(t-1,u) blank(t-1,u) + alpha(t,u-1) y(t,u-1),   alpha(1,0) = 1 */
void rnnt_alpha(double *log_alpha, const double *log_blank, const double *log_label, int T, int U);

/* Part 3: the loss -ln Pr(y*|x) of the logits (T, U+1, V), eq. (17):
 *   Pr(y*|x) = alpha(T,U) blank(T,U) */
double rnnt_loss(const double *logits, const int *labels, int T, int U, int V, int blank);

/* Part 4: log beta (T, U+1), [Graves12] eq. (18), from part 1's arrays:
 *   beta(t,u) = beta(t+1,u) blank(t,u) + beta(t,u+1) y(t,u),   beta(T,U) = blank(T,U) */
void rnnt_beta(double *log_beta, const double *log_blank, const double *log_label, int T, int U);

/* Part 5: the loss (returned) and its gradient w.r.t. the LOGITS, grad (T, U+1, V), written
 * (not accumulated): eqs. (20)-(23) with L = -ln Pr(y*|x). */
double rnnt_loss_grad(double *grad, const double *logits, const int *labels, int T, int U, int V, int blank);

#endif
