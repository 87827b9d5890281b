/* tests/assignments/ctc_solution.c - a stand-alone answer to the CTC assignment
 * (examples/assignments/ctc/), written from the handout as a student would: no asr.h.
 * tests/assignments_check.py grades it in instructor mode (-DASR_ASSIGNMENT_CTC) under
 * AddressSanitizer and expects full marks: the handout says enough to match asrtool's
 * references, part 7's beam included. Kept out of the assignment's folder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ctc_assignment.h"

static double lae(double a, double b) {   /* ln(e^a + e^b) */
  double m = a > b ? a : b;
  if (m == -INFINITY) return -INFINITY;
  return m + log(exp(a - m) + exp(b - m));
}

int ctc_extended_labels(int *lprime, const int *target, int S, int blank) {
  int s;
  for (s = 0; s < 2 * S + 1; s++) lprime[s] = s & 1 ? target[s / 2] : blank;
  return 2 * S + 1;
}

int ctc_can_skip(const int *target, int S, int blank, int s) {
  (void)S, (void)blank;
  return (s & 1) && s >= 3 && target[s / 2] != target[s / 2 - 1];
}

void ctc_alpha(double *log_alpha, const double *logprobs, const int *target, int T, int V, int S, int blank) {
  int t, s, L = 2 * S + 1;
  for (s = 0; s < L; s++) log_alpha[s] = -INFINITY;
  log_alpha[0] = logprobs[blank];
  if (S > 0) log_alpha[1] = logprobs[target[0]];
  for (t = 1; t < T; t++)
    for (s = 0; s < L; s++) {
      const double *p = log_alpha + (size_t)(t - 1) * L;
      double a = p[s];
      if (s >= 1) a = lae(a, p[s - 1]);
      if (ctc_can_skip(target, S, blank, s)) a = lae(a, p[s - 2]);
      log_alpha[(size_t)t * L + s] = a + logprobs[(size_t)t * V + (s & 1 ? target[s / 2] : blank)];
    }
}

void ctc_beta(double *log_beta, const double *logprobs, const int *target, int T, int V, int S, int blank) {
  int t, s, L = 2 * S + 1;
  double *last = log_beta + (size_t)(T - 1) * L;
  for (s = 0; s < L; s++) last[s] = -INFINITY;
  last[L - 1] = logprobs[(size_t)(T - 1) * V + blank];
  if (S > 0) last[L - 2] = logprobs[(size_t)(T - 1) * V + target[S - 1]];
  for (t = T - 2; t >= 0; t--)
    for (s = 0; s < L; s++) {
      const double *n = log_beta + (size_t)(t + 1) * L;
      double b = n[s];
      if (s + 1 < L) b = lae(b, n[s + 1]);
      if (s + 2 < L && ctc_can_skip(target, S, blank, s + 2)) b = lae(b, n[s + 2]);
      log_beta[(size_t)t * L + s] = b + logprobs[(size_t)t * V + (s & 1 ? target[s / 2] : blank)];
    }
}

/* ln p(l|x) and the posterior gamma_t(k) (T,V), probabilities */
static double posterior(double *post, const double *lp, const int *target, int T, int V, int S, int blank) {
  int t, s, k, L = 2 * S + 1;
  double *a = malloc(sizeof(double) * (size_t)T * L), *b = malloc(sizeof(double) * (size_t)T * L), logp;
  ctc_alpha(a, lp, target, T, V, S, blank);
  ctc_beta(b, lp, target, T, V, S, blank);
  logp = a[(size_t)(T - 1) * L + L - 1];
  if (S > 0) logp = lae(logp, a[(size_t)(T - 1) * L + L - 2]);
  for (t = 0; t < T; t++) {
    for (k = 0; k < V; k++) post[(size_t)t * V + k] = 0;
    for (s = 0; s < L; s++) {
      k = s & 1 ? target[s / 2] : blank;
      post[(size_t)t * V + k] += exp(a[(size_t)t * L + s] + b[(size_t)t * L + s] - lp[(size_t)t * V + k] - logp);
    }
  }
  free(a), free(b);
  return logp;
}

void ctc_posterior(double *post, const double *logprobs, const int *target, int T, int V, int S, int blank) {
  posterior(post, logprobs, target, T, V, S, blank);
}

double ctc_loss_grad(double *grad, const double *logits, const int *target, int T, int V, int S, int blank) {
  double *lp = malloc(sizeof(double) * (size_t)T * V), logp;
  int t, k;
  for (t = 0; t < T; t++) {
    const double *u = logits + (size_t)t * V;
    double m = u[0], s = 0;
    for (k = 1; k < V; k++) m = u[k] > m ? u[k] : m;
    for (k = 0; k < V; k++) s += exp(u[k] - m);
    for (k = 0; k < V; k++) lp[(size_t)t * V + k] = u[k] - m - log(s);
  }
  logp = posterior(grad, lp, target, T, V, S, blank);
  for (t = 0; t < T * V; t++) grad[t] = exp(lp[t]) - grad[t];   /* y^t_k - gamma_t(k) */
  free(lp);
  return -logp;
}

int ctc_greedy(int *tokens, const double *logprobs, int T, int V, int blank) {
  int t, k, n = 0, prev = -1;
  for (t = 0; t < T; t++) {
    int best = 0;
    for (k = 1; k < V; k++)
      if (logprobs[(size_t)t * V + k] > logprobs[(size_t)t * V + best]) best = k;
    if (best != blank && best != prev) tokens[n++] = best;
    prev = best;
  }
  return n;
}

/* Part 7: prefixes as int arrays of up to T labels, with ln p_b and ln p_nb. */
typedef struct hyp {
  int len, *lab;
  double pb, pnb;
} hyp;

static double total(const hyp *h) { return lae(h->pb, h->pnb); }

/* The index of prefix (lab, len) in hs (n of them), or -1. */
static int find(const hyp *hs, int n, const int *lab, int len) {
  int i;
  for (i = 0; i < n; i++)
    if (hs[i].len == len && (len == 0 || memcmp(hs[i].lab, lab, sizeof(int) * (size_t)len) == 0)) return i;
  return -1;
}

static int cmp(const void *a, const void *b) {
  double x = total((const hyp *)a), y = total((const hyp *)b);
  return x < y ? 1 : x > y ? -1 : 0;
}

int ctc_beam_final(int *prefixes, int *lengths, double *scores, int max_out, const double *logprobs, int T, int V,
                   int blank, int beam) {
  int cap = beam * V + 1, nb = 1, t, i, c, j;
  hyp *cur = malloc(sizeof(hyp) * (size_t)cap), *nxt = malloc(sizeof(hyp) * (size_t)cap);
  int *store = malloc(sizeof(int) * (size_t)cap * 2 * (T + 1)), *tmp = malloc(sizeof(int) * (size_t)(T + 1));
  for (i = 0; i < cap; i++) cur[i].lab = store + (size_t)i * (T + 1), nxt[i].lab = store + (size_t)(cap + i) * (T + 1);
  cur[0].len = 0, cur[0].pb = 0, cur[0].pnb = -INFINITY;
  for (t = 0; t < T; t++) {
    const double *y = logprobs + (size_t)t * V;
    int nn = 0;
    for (i = 0; i < nb; i++) {
      const hyp *h = &cur[i];
      int last = h->len ? h->lab[h->len - 1] : -1;
      for (c = 0; c < V; c++) {
        /* the prefix this symbol leads to and what it adds to p_b or p_nb */
        int len = h->len, to_b = 0;
        double add;
        if (c == blank) add = total(h) + y[c], to_b = 1;
        else if (c == last) add = h->pnb + y[c];   /* repeat: stays l */
        else add = total(h) + y[c], len = h->len + 1;
        memcpy(tmp, h->lab, sizeof(int) * (size_t)h->len);
        if (len > h->len) tmp[h->len] = c;
        j = find(nxt, nn, tmp, len);
        if (j < 0 && add == -INFINITY) j = -2;   /* probability 0: not reached */
        if (j == -1) {
          j = nn++;
          nxt[j].len = len, nxt[j].pb = nxt[j].pnb = -INFINITY;
          memcpy(nxt[j].lab, tmp, sizeof(int) * (size_t)len);
        }
        if (j >= 0 && to_b) nxt[j].pb = lae(nxt[j].pb, add);
        else if (j >= 0) nxt[j].pnb = lae(nxt[j].pnb, add);
        if (c == last && c != blank && h->pb > -INFINITY) {   /* c after a blank: a new label, l + c */
          tmp[h->len] = c;
          j = find(nxt, nn, tmp, h->len + 1);
          if (j < 0) {
            j = nn++;
            nxt[j].len = h->len + 1, nxt[j].pb = nxt[j].pnb = -INFINITY;
            memcpy(nxt[j].lab, tmp, sizeof(int) * (size_t)(h->len + 1));
          }
          nxt[j].pnb = lae(nxt[j].pnb, h->pb + y[c]);
        }
      }
    }
    qsort(nxt, (size_t)nn, sizeof(hyp), cmp);
    nb = t == T - 1 || nn < beam ? nn : beam;
    {   /* swap the two beams (their label buffers go with them) */
      hyp *s = cur;
      cur = nxt, nxt = s;
    }
  }
  if (nb > max_out) nb = max_out;
  for (i = 0; i < nb; i++) {
    memcpy(prefixes + (size_t)i * T, cur[i].lab, sizeof(int) * (size_t)cur[i].len);
    lengths[i] = cur[i].len;
    scores[i] = total(&cur[i]);
  }
  free(cur), free(nxt), free(store), free(tmp);
  return nb;
}
