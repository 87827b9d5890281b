/* examples/assignments/vq/vq_assignment.h - the functions the vq assignment asks for
 * (handout: examples/assignments/vq/README.md). Every array is row-major, double, natural
 * logs; n rows of V entries for the Gumbel-softmax; N vectors of D = G E values for k-means
 * VQ, group g of vector n being z[n][g*E .. g*E+E-1], quantized with codebook g (K,E) of
 * codebook (G,K,E). Outputs are written, not accumulated. */
#ifndef VQ_ASSIGNMENT_H
#define VQ_ASSIGNMENT_H

/* Part 1: the Gumbel-softmax of each row of logits l (n,V) with the uniform draws u (n,V),
 * [Baevski20vq] eq. (2) = [Jang17] eqs. (1)-(2):
 *   v_j = -log(-log u_j)                                the Gumbel noise
 *   p_j = exp((l_j + v_j) / tau) / sum_k exp((l_k + v_k) / tau)
 *   index = argmax_j (l_j + v_j)                        (the first one on ties)
 *   y = p (hard = 0), or y = one_hot(index) (hard = 1: the straight-through sample)
 * p (n,V) is written in both modes (the backward needs it); index (n). */
void gumbel_softmax(double *y, double *p, int *index, const double *logits, const double *u, double tau, int hard,
                    int n, int V);

/* Part 2: the backward of part 1 from g = dL/dy (n,V), for the soft AND the hard sample
 * (straight-through: the one-hot's gradient is taken to be p's), [Jang17] sec. 2.2:
 *   dL/dl_k = (1/tau) p_k (g_k - sum_j g_j p_j)
 * grad_logits (n,V), written. */
void gumbel_softmax_backward(double *grad_logits, const double *p, const double *grad_y, double tau, int n, int V);

/* Part 3: k-means VQ, [Baevski20vq] sec. 3.2: per vector n and group g, the nearest codeword
 *   index[n][g] = argmin_j ||z_{n,g} - e_{g,j}||^2     (the first one on ties)
 *   zq_{n,g} = e_{g,index[n][g]}
 * index (N,G), zq (N,D). */
void vq_nearest(int *index, double *zq, const double *z, const double *codebook, int N, int D, int G, int K);

/* Part 4: the loss terms of [Baevski20vq] eq. (3) (without the wav2vec term), each a mean
 * over all N*D elements (PyTorch's MSELoss), from z (N,D) and the codewords part 3 chose,
 * zq_{n,g} = e_{g,index[n][g]} (index (N,G), codebook (G,K,E)):
 *   codebook   = (1/(N D)) sum (sg(z) - zq)^2
 *   commitment = (1/(N D)) sum (z - sg(zq))^2
 * into *codebook_term and *commitment_term; returns codebook + gamma * commitment. */
double vq_loss(double *codebook_term, double *commitment_term, const double *z, const double *codebook,
               const int *index, int N, int D, int G, int K, double gamma);

/* Part 5: the backward of  L = sum(dzq * zq) + dloss * (codebook + gamma * commitment), with
 * zq = z + sg(e_i - z) (straight-through):
 *   dz_n = dzq_n + dloss * gamma * 2 (z_n - e_{i_n}) / (N D)
 *   de_{g,j} = dloss * sum_{n : index[n][g] = j} 2 (e_{g,j} - z_{n,g}) / (N D)
 * dz (N,D), dcodebook (G,K,E), both written. */
void vq_backward(double *dz, double *dcodebook, const double *dzq, double dloss, const int *index, const double *z,
                 const double *codebook, int N, int D, int G, int K, double gamma);

#endif
