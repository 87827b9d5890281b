/* examples/assignments/vq/grader.c - grades a student's quantizers (vq_assignment.h) part by
 * part.
 *
 *   build/assignments/vq/graded-... REFDIR    (made and run by: make grade A=vq STUDENT=...)
 *
 * REFDIR holds the inputs (data/course/gumbel_*.npy, vq_*.npy) and the reference arrays that
 * examples/assignments/vq/make_refs.sh made with asrtool (never typed by hand). The Gumbel
 * noise comes from the uniform draws u the grader hands over, so every sample is fixed.
 * Part 2 starts from the reference p, parts 4 and 5 from the reference indices, so a wrong
 * part fails alone. Each part runs in a child process with a time limit
 * (examples/assignments/grading.h). A failing part prints the equation, the array and
 * index of the first wrong element, the expected and the got value and a hint. Built with
 * ASR_REAL=double; instructor mode (-DASR_ASSIGNMENT_VQ) leaves the student no quantizer of
 * asr.h's to call. */
#define _POSIX_C_SOURCE 200809L
#define ASR_IMPLEMENTATION
#include "../../../asr.h"
#include "../grading.h"
#include "vq_assignment.h"

#define TIME_LIMIT 10   /* seconds per part: the reference needs microseconds */
#define TOL 1e-9        /* absolute: two correct double implementations differ by ~1e-16 here */
#define TAU 0.7         /* make_refs.sh's --tau */
#define GAMMA 0.25      /* make_refs.sh's --gamma */

/* The reference data, read before any part runs. */
typedef struct refs {
  int n, V, N, D, G, K, E;
  double *logits, *u, *grad_y;       /* (n,V) */
  double *p, *y_hard, *grad_logits;  /* (n,V): soft y = p; hard y; the backward of grad_y */
  int *index_gs;                     /* (n) */
  double *z, *codebook, *grad_zq;    /* (N,D), (G,K,E), (N,D) */
  int *index;                        /* (N,G) */
  double *zq, *terms, *grad_z, *grad_codebook;   /* (N,D), (3), (N,D), (G,K,E) */
} refs;

static void read_refs(refs *r, const char *dir) {
  int64_t s[3];
  r->logits = (double *)grading_load(dir, "gumbel_logits.npy", ASR_DTYPE_F64, 2, s);
  r->n = (int)s[0], r->V = (int)s[1];
  r->u = (double *)grading_load(dir, "gumbel_u.npy", ASR_DTYPE_F64, 2, s);
  r->grad_y = (double *)grading_load(dir, "gumbel_grad_y.npy", ASR_DTYPE_F64, 2, s);
  r->p = (double *)grading_load(dir, "soft/y.npy", ASR_DTYPE_F64, 2, s);
  r->y_hard = (double *)grading_load(dir, "hard/y.npy", ASR_DTYPE_F64, 2, s);
  r->index_gs = (int *)grading_load(dir, "hard/index.npy", ASR_DTYPE_I32, 1, s);
  r->grad_logits = (double *)grading_load(dir, "hard/grad_logits.npy", ASR_DTYPE_F64, 2, s);
  r->z = (double *)grading_load(dir, "vq_z.npy", ASR_DTYPE_F64, 2, s);
  r->N = (int)s[0], r->D = (int)s[1];
  r->codebook = (double *)grading_load(dir, "vq_codebook.npy", ASR_DTYPE_F64, 3, s);
  r->G = (int)s[0], r->K = (int)s[1], r->E = (int)s[2];
  r->grad_zq = (double *)grading_load(dir, "vq_grad_zq.npy", ASR_DTYPE_F64, 2, s);
  r->index = (int *)grading_load(dir, "vq/index.npy", ASR_DTYPE_I32, 2, s);
  r->zq = (double *)grading_load(dir, "vq/zq.npy", ASR_DTYPE_F64, 2, s);
  r->terms = (double *)grading_load(dir, "vq/loss_terms.npy", ASR_DTYPE_F64, 1, s);
  r->grad_z = (double *)grading_load(dir, "vq/grad_z.npy", ASR_DTYPE_F64, 2, s);
  r->grad_codebook = (double *)grading_load(dir, "vq/grad_codebook.npy", ASR_DTYPE_F64, 3, s);
}

static double *alloc_d(size_t n) { return (double *)calloc(n + 1, sizeof(double)); }

/* softmax_j(s (l_j + sign v_j) / tau) of row r at entry j, v_j = -log(-log u_j): what a
 * slip in part 1 would have given (sign = 0: no noise; tau = 1: no temperature). */
static double slip_p(const refs *r, int row, int j, double sign, double tau) {
  const double *l = r->logits + (size_t)row * r->V, *u = r->u + (size_t)row * r->V;
  double m = -INFINITY, sum = 0;
  int k;
  for (k = 0; k < r->V; k++) {
    double s = (l[k] + sign * -log(-log(u[k]))) / tau;
    if (s > m) m = s;
  }
  for (k = 0; k < r->V; k++) sum += exp((l[k] + sign * -log(-log(u[k]))) / tau - m);
  return exp((l[j] + sign * -log(-log(u[j]))) / tau - m) / sum;
}

static void part1(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  const int n = r->n, V = r->V;
  double *y = alloc_d((size_t)n * V), *p = alloc_d((size_t)n * V), *y2 = alloc_d((size_t)n * V);
  int *index = (int *)calloc((size_t)n + 1, sizeof(int)), *index2 = (int *)calloc((size_t)n + 1, sizeof(int));
  int br, bc, ok = 0;
  gumbel_softmax(y, p, index, r->logits, r->u, TAU, 1, n, V);
  if (!grading_compare_2d(v, "p (the soft sample)", "row", "j", p, r->p, n, V, TOL, &br, &bc)) {
    double got = p[(size_t)br * V + bc];
    grading_hint(v, grading_same(got, slip_p(r, br, bc, 1, 1), 1e-9)
                        ? "that is softmax(l + v): divide by the temperature, p = softmax((l + v) / tau)"
                    : grading_same(got, slip_p(r, br, bc, -1, TAU), 1e-9)
                        ? "the noise has the wrong sign: v = -log(-log u), added to the logits"
                    : grading_same(got, slip_p(r, br, bc, 0, TAU), 1e-9)
                        ? "that is softmax(l / tau): add the Gumbel noise v = -log(-log u) to the logits first"
                        : "p_j = exp((l_j + v_j)/tau) / sum_k exp((l_k + v_k)/tau), v = -log(-log u) "
                          "([Baevski20vq] eq. (2))");
  } else if (!grading_compare_2d(v, "y (the hard sample)", "row", "j", y, r->y_hard, n, V, TOL, &br, &bc)) {
    grading_hint(v, grading_same(y[(size_t)br * V + bc], r->p[(size_t)br * V + bc], 1e-9)
                        ? "hard = 1: y is the one-hot e_i of i = argmax_j (l_j + v_j), not p"
                        : "hard = 1: y = one_hot(argmax_j (l_j + v_j)) ([Jang17] sec. 2.2, straight-through)");
  } else {
    int row;
    ok = 1;
    for (row = 0; row < n && ok; row++)
      if (index[row] != r->index_gs[row]) {
        const double *l = r->logits + (size_t)row * V;
        int k, am = 0;
        for (k = 1; k < V; k++)
          if (l[k] > l[am]) am = k;
        snprintf(v->msg, sizeof v->msg, "index at row=%d: expected %d, got %d", row, r->index_gs[row], index[row]);
        grading_hint(v, index[row] == am ? "that is the argmax of the logits alone: take the argmax of l + v"
                                         : "index = argmax_j (l_j + v_j), the first one on ties");
        ok = 0;
      }
    if (ok) {   /* the soft sample: y = p */
      gumbel_softmax(y2, p, index2, r->logits, r->u, TAU, 0, n, V);
      if (!grading_compare_2d(v, "y (the soft sample, hard = 0)", "row", "j", y2, r->p, n, V, TOL, &br, &bc)) {
        grading_hint(v, "hard = 0: y = p, the soft sample");
        ok = 0;
      }
    }
  }
  v->ok = ok;
  free(y), free(p), free(y2), free(index), free(index2);
}

static void part2(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  const int n = r->n, V = r->V;
  double *g = alloc_d((size_t)n * V);
  int br, bc;
  gumbel_softmax_backward(g, r->p, r->grad_y, TAU, n, V);
  v->ok = grading_compare_2d(v, "dL/dl", "row", "k", g, r->grad_logits, n, V, TOL, &br, &bc);
  if (!v->ok) {
    const double *p = r->p + (size_t)br * V, *gy = r->grad_y + (size_t)br * V;
    double got = g[(size_t)br * V + bc], want = r->grad_logits[(size_t)br * V + bc];
    if (got == 0 && want != 0)
      grading_hint(v, "0 is the gradient through the one-hot y, which is flat: the straight-through backward "
                      "uses the soft sample's Jacobian, (1/tau) p_k (g_k - sum_j g_j p_j), for the hard sample too");
    else if (grading_same(got, want * TAU, 1e-9))
      grading_hint(v, "p = softmax((l + v)/tau): the chain rule brings a factor 1/tau");
    else if (grading_same(got, p[bc] * gy[bc] / TAU, 1e-9))
      grading_hint(v, "the softmax Jacobian is diag(p) - p p^T: subtract sum_j g_j p_j from g_k");
    else
      grading_hint(v, "dL/dl_k = (1/tau) p_k (g_k - sum_j g_j p_j) ([Jang17] eq. (2) differentiated)");
  }
  free(g);
}

static void part3(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  const int N = r->N, D = r->D, G = r->G, K = r->K, E = r->E;
  double *zq = alloc_d((size_t)N * D);
  int *index = (int *)calloc((size_t)N * G + 1, sizeof(int)), n, g, br, bc;
  vq_nearest(index, zq, r->z, r->codebook, N, D, G, K);
  v->ok = 1;
  for (n = 0; n < N && v->ok; n++)
    for (g = 0; g < G && v->ok; g++) {
      int want = r->index[(size_t)n * G + g], got = index[(size_t)n * G + g], j, e, am = 0;
      double best = -INFINITY;
      if (got == want) continue;
      for (j = 0; j < K; j++) {   /* what the largest dot product picks */
        double dot = 0;
        for (e = 0; e < E; e++) dot += r->z[(size_t)n * D + g * E + e] * r->codebook[((size_t)g * K + j) * E + e];
        if (dot > best) best = dot, am = j;
      }
      snprintf(v->msg, sizeof v->msg, "index at n=%d, g=%d: expected %d, got %d", n, g, want, got);
      grading_hint(v, got == am ? "that is the largest dot product <z, e_j>; nearest means the smallest "
                                  "||z - e_j||^2 = ||z||^2 - 2 <z, e_j> + ||e_j||^2, and the codewords' norms differ"
                                : "index = argmin_j ||z_{n,g} - e_{g,j}||^2 over group g's own codebook "
                                  "([Baevski20vq] sec. 3.2)");
      v->ok = 0;
    }
  if (v->ok && !grading_compare_2d(v, "zq", "n", "d", zq, r->zq, N, D, TOL, &br, &bc)) {
    grading_hint(v, "zq_{n,g} = e_{g,index[n][g]}: the chosen codeword itself, group g in columns g*E .. g*E+E-1");
    v->ok = 0;
  }
  free(zq), free(index);
}

static void part4(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  const char *names[3] = {"the loss codebook + gamma commitment", "the codebook term", "the commitment term"};
  double got[3];
  int i;
  got[0] = vq_loss(&got[1], &got[2], r->z, r->codebook, r->index, r->N, r->D, r->G, r->K, GAMMA);
  v->ok = 1;
  for (i = 1; i <= 3 && v->ok; i++) {
    int k = i % 3;   /* the two terms first, then the total */
    if (grading_same(got[k], r->terms[k], TOL)) continue;
    snprintf(v->msg, sizeof v->msg, "%s: expected %.9g, got %.9g", names[k], r->terms[k], got[k]);
    if (k && grading_same(got[k], r->terms[k] * r->D, 1e-9))
      grading_hint(v, "that is a mean over the N vectors of ||z_n - zq_n||^2: MSELoss averages over all N*D "
                      "elements");
    else if (k && grading_same(got[k], r->terms[k] * r->N * r->D, 1e-9))
      grading_hint(v, "that is the sum: each term is a mean over the N*D elements");
    else if (!k && grading_same(got[0], r->terms[1] + r->terms[2], 1e-9))
      grading_hint(v, "gamma = 0.25 weighs the commitment term: codebook + gamma commitment");
    else if (!k && grading_same(got[0], GAMMA * r->terms[1] + r->terms[2], 1e-9))
      grading_hint(v, "gamma weighs the commitment term ||z - sg(zq)||^2, not the codebook term");
    else
      grading_hint(v, "([Baevski20vq] eq. (3)) codebook = mean (sg(z) - zq)^2, commitment = mean (z - sg(zq))^2");
    v->ok = 0;
  }
}

static void part5(const void *ctx, grading_verdict *v) {
  const refs *r = (const refs *)ctx;
  const int N = r->N, D = r->D, G = r->G, K = r->K, E = r->E;
  double *dz = alloc_d((size_t)N * D), *dcb = alloc_d((size_t)G * K * E);
  int br, bc;
  vq_backward(dz, dcb, r->grad_zq, 1.0, r->index, r->z, r->codebook, N, D, G, K, GAMMA);
  v->ok = 0;
  if (!grading_compare_2d(v, "dL/dz", "n", "d", dz, r->grad_z, N, D, TOL, &br, &bc)) {
    double got = dz[(size_t)br * D + bc], dzq = r->grad_zq[(size_t)br * D + bc];
    double want = r->grad_z[(size_t)br * D + bc];
    grading_hint(v, grading_same(got, dzq, 1e-9)
                        ? "that is dzq alone: the commitment term gamma ||z - sg(zq)||^2 also reaches z, add "
                          "dloss gamma 2 (z - e) / (N D)"
                    : grading_same(got, want - dzq, 1e-9)
                        ? "straight-through: zq = z + sg(e - z), so dzq passes to z unchanged"
                        : "dz = dzq + dloss gamma 2 (z - e_i) / (N D)");
  } else if (!grading_compare_2d(v, "dL/dcodebook", "g*K+j", "e", dcb, r->grad_codebook, G * K, E, TOL, &br, &bc)) {
    double got = dcb[(size_t)br * E + bc], want = r->grad_codebook[(size_t)br * E + bc], commit = 0;
    int n, g = br / K, j = br % K;
    for (n = 0; n < N; n++)   /* what the commitment term would add to this codeword */
      if (r->index[(size_t)n * G + g] == j)
        commit += GAMMA * 2 * (r->codebook[(size_t)br * E + bc] - r->z[(size_t)n * D + g * E + bc]) / ((double)N * D);
    grading_hint(v, grading_same(got, want + commit, 1e-9)
                        ? "the commitment term holds sg(zq): its gradient must not reach the codebook; only the "
                          "codebook term ||sg(z) - zq||^2 moves the codewords"
                    : got == 0 ? "the codebook term ||sg(z) - zq||^2 moves the chosen codewords: "
                                 "de_j = dloss sum_{n: i_n = j} 2 (e_j - z_n) / (N D)"
                               : "de_{g,j} = dloss sum_{n : i_n = j} 2 (e_{g,j} - z_{n,g}) / (N D); zq = z + sg(e - z) "
                                 "passes nothing to the codebook");
  } else {
    v->ok = 1;
  }
  free(dz), free(dcb);
}

static const grading_part PARTS[] = {
  {part1, "Gumbel-softmax, soft and hard (straight-through) samples, [Baevski20vq] eq. (2)"},
  {part2, "its backward, the same for the hard sample, [Jang17] sec. 2.2"},
  {part3, "k-means VQ: the nearest codeword of each group, [Baevski20vq] sec. 3.2"},
  {part4, "the codebook and commitment terms, [Baevski20vq] eq. (3)"},
  {part5, "the VQ backward: straight-through to z, the codebook term to the codebook"},
};
#define NPARTS (int)(sizeof PARTS / sizeof PARTS[0])

int main(int argc, char **argv) {
  refs r;
  (void)grading_compare;   /* grading.h's per-item comparison: these arrays have no items */
  if (argc != 2) {
    fprintf(stderr, "usage: grader REFDIR   (make grade A=vq STUDENT=path.c runs it)\n");
    return 2;
  }
  read_refs(&r, argv[1]);
  if (r.G * r.E != r.D) {
    fprintf(stderr, "grader: vq_codebook.npy (%d, %d, %d) does not split vq_z.npy's %d columns\n", r.G, r.K, r.E, r.D);
    return 2;
  }
  printf("vq assignment: Gumbel-softmax n = %d, V = %d, tau %g; k-means N = %d, D = %d, G = %d, K = %d, gamma %g; "
         "tolerance %g\n", r.n, r.V, TAU, r.N, r.D, r.G, r.K, GAMMA, TOL);
  return grading_main(&r, PARTS, NPARTS, TIME_LIMIT);
}
