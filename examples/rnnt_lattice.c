/* examples/rnnt_lattice.c - a picture of the RNN-T output lattice of [Graves12] Fig. 1-2.
 *
 *   build/rnnt_lattice [OUT.png]          (default docs/img/rnnt_lattice.png)
 *
 * Builds a synthetic joint-network output for T = 64 frames and a 12-label target whose
 * labels are "spoken" at evenly spaced times (logit +4 for label y_{u+1} near frame
 * (u + 0.5) T / U, +2 for the blank elsewhere, noise on top), runs the forward-backward
 * algorithm of asr.h and draws, for every lattice node (t,u), the occupancy
 *     gamma(t,u) = alpha(t,u) beta(t,u) / Pr(y*|x)
 * (the probability that an alignment passes through the node; each anti-diagonal
 * t + u = n sums to 1, [Graves12] eq. (19)) on a log scale, time to the right, labels up.
 * The most probable alignment (Viterbi: the forward recursion with max instead of sum,
 * then back-tracking) is drawn in red. The PNG goes through Debian's stb_image_write,
 * written at once (op_write_png, examples/outpath.h). */
#include "../asr.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "outpath.h"

enum { T = 64, U = 12, V = 8, CELL = 10, BLANK = 0 };

/* A blue-to-yellow colour ramp for v in [0,1]. */
static void ramp(double v, unsigned char *rgb) {
  double r = 0.27 + v * (0.99 - 0.27), g = 0.00 + v * 0.91, b = 0.33 + v * (0.15 - 0.33);
  if (v < 0.5) g = 0.00 + 2 * v * 0.55, r = 0.27 - 2 * v * 0.15, b = 0.33 + 2 * v * 0.22;
  else g = 0.55 + 2 * (v - 0.5) * 0.36, r = 0.12 + 2 * (v - 0.5) * 0.87, b = 0.55 - 2 * (v - 0.5) * 0.40;
  rgb[0] = (unsigned char)(255 * r), rgb[1] = (unsigned char)(255 * g), rgb[2] = (unsigned char)(255 * b);
}

int main(int argc, char **argv) {
  const char *out = argc > 1 ? argv[1] : "docs/img/rnnt_lattice.png";
  static asr_real z[T * (U + 1) * V];
  static double lb[T * (U + 1)], ll[T * (U + 1)], la[T * (U + 1)], lbeta[T * (U + 1)], vit[T * (U + 1)];
  static int from[T * (U + 1)];
  static unsigned char img[(U + 1) * CELL * T * CELL * 3];
  int y[U], t, u, k, W = U + 1, width = T * CELL, height = (U + 1) * CELL;
  double logP, lpath;
  asr_rng rng;
  asr_rng_seed(&rng, 2012, 0);
  for (u = 0; u < U; u++) y[u] = 1 + u % (V - 1);
  for (t = 0; t < T; t++)
    for (u = 0; u <= U; u++) {
      asr_real *node = z + ((size_t)t * W + u) * V;
      double when = u < U ? (u + 0.5) * T / U : 1e9;      /* label y_{u+1} is spoken near here */
      for (k = 0; k < V; k++) node[k] = (asr_real)(0.7 * asr_rng_normal(&rng));
      if (fabs(t - when) < 2.5) node[y[u]] += 4;
      else node[BLANK] += 2;
    }
  asr_rnnt_lattice(lb, ll, NULL, z, y, T, U, W, V, BLANK);
  logP = asr_rnnt_alpha(la, lb, ll, T, U);
  asr_rnnt_beta(lbeta, lb, ll, T, U);
  /* Viterbi: eq. (16) with max for sum, remembering where each best arrival came from */
  for (t = 0; t < T; t++)
    for (u = 0; u <= U; u++) {
      double left = t > 0 ? vit[(t - 1) * W + u] + lb[(t - 1) * W + u] : -INFINITY;
      double below = u > 0 ? vit[t * W + u - 1] + ll[t * W + u - 1] : -INFINITY;
      if (t == 0 && u == 0) vit[0] = 0, from[0] = -1;
      else if (left >= below) vit[t * W + u] = left, from[t * W + u] = 0;
      else vit[t * W + u] = below, from[t * W + u] = 1;
    }
  lpath = vit[(T - 1) * W + U] + lb[(T - 1) * W + U];
  /* occupancy on a log scale: ln gamma in [-12, 0] -> [0, 1] */
  for (t = 0; t < T; t++)
    for (u = 0; u <= U; u++) {
      double lg = la[t * W + u] + lbeta[t * W + u] - logP, v = (lg + 12) / 12;
      unsigned char rgb[3];
      int px, py;
      ramp(v < 0 ? 0 : v > 1 ? 1 : v, rgb);
      for (py = 0; py < CELL; py++)
        for (px = 0; px < CELL; px++) {
          unsigned char *p = img + (((size_t)(U - u) * CELL + py) * width + (size_t)t * CELL + px) * 3;
          int edge = px == 0 || py == 0;   /* thin grid lines */
          p[0] = edge ? (unsigned char)(rgb[0] * 3 / 4) : rgb[0];
          p[1] = edge ? (unsigned char)(rgb[1] * 3 / 4) : rgb[1];
          p[2] = edge ? (unsigned char)(rgb[2] * 3 / 4) : rgb[2];
        }
    }
  /* the Viterbi path, back from (T,U): a red dot in the middle of every node it visits */
  for (t = T - 1, u = U; t >= 0 && u >= 0;) {
    int px, py, f = from[t * W + u];
    for (py = CELL / 2 - 2; py <= CELL / 2 + 2; py++)
      for (px = CELL / 2 - 2; px <= CELL / 2 + 2; px++) {
        unsigned char *p = img + (((size_t)(U - u) * CELL + py) * width + (size_t)t * CELL + px) * 3;
        p[0] = 230, p[1] = 20, p[2] = 20;
      }
    if (f < 0) break;
    if (f == 0) t--;
    else u--;
  }
  if (op_write_png("rnnt_lattice", out, img, width, height)) return 2;   /* written at once */
  printf("%s: T=%d U=%d, ln Pr(y*|x) = %.4f, best alignment ln Pr = %.4f (%.1f%% of the mass)\n", out, T, U, logP,
         lpath, 100 * exp(lpath - logP));
  return 0;
}
