/* examples/asrtool/vq.c - the quantizers (asr.h section 8) on the command line:
 *
 *   asrtool gumbel [--tau 1] [--hard] LOGITS U [--grad-output G] OUTDIR
 *   asrtool vq [--gamma 0.25] [--groups G] Z CODEBOOK [--grad-output G] OUTDIR
 *
 * and their rows of `asrtool gradcheck` (gumbel, gumbel_quantizer, vq, diversity) and
 * `asrtool bench` (Gumbel-softmax and k-means VQ forward + backward at wav2vec 2.0 sizes).
 * The contract is ../shared/asrtool.md of the project; docs/vq.md explains the maths. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The three tiers of each component, indexed by at_impl. */
static const asr_gumbel_softmax_forward_fn GUMBEL_FWD[3] = {
    asr_gumbel_softmax_forward_naive, asr_gumbel_softmax_forward_ref, asr_gumbel_softmax_forward};
static const asr_gumbel_softmax_backward_fn GUMBEL_BWD[3] = {
    asr_gumbel_softmax_backward_naive, asr_gumbel_softmax_backward_ref, asr_gumbel_softmax_backward};
static const asr_vq_forward_fn VQ_FWD[3] = {asr_vq_forward_naive, asr_vq_forward_ref, asr_vq_forward};
static const asr_vq_backward_fn VQ_BWD[3] = {asr_vq_backward_naive, asr_vq_backward_ref, asr_vq_backward};
static const char *const IMPL_NAME[3] = {"naive", "ref", "simd"};

/* Reads a real .npy whole: its rank, its shape (padded with 1s) and its values, NaN and
 * infinity refused. Returns 0 or 2 (message printed). */
static int load_real(const char *path, int *rank, int64_t *shape, asr_real **data) {
  asr_array a;
  asr_error err;
  int d;
  *data = NULL;
  if (asr_npy_read(path, &a, NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
  if (a.dtype == ASR_DTYPE_U8) {
    asr_array_free(&a, NULL);
    return at_fail("%s: expected a float array, got uint8", path);
  }
  *rank = a.ndim;
  for (d = 0; d < ASR_MAX_DIMS; d++) shape[d] = d < a.ndim ? a.shape[d] : 1;
  *data = (asr_real *)malloc(sizeof(asr_real) * (a.count ? a.count : 1));
  if (!*data) {
    asr_array_free(&a, NULL);
    return at_fail("%s: out of memory", path);
  }
  if (asr_array_to_real(&a, *data, 0, &err) != ASR_OK) {
    asr_array_free(&a, NULL);
    free(*data);
    *data = NULL;
    return at_fail("%s: %s", path, err.msg);
  }
  asr_array_free(&a, NULL);
  return 0;
}

/* Why a tier refused: one line, in the words a user can act on. */
static int refused(const char *what, asr_result r) {
  if (r == ASR_ERR_TOO_LARGE && at_impl == AT_IMPL_NAIVE)
    return at_fail("%s: --impl naive refuses this input (too large, or its literal exp overflows); use --impl ref",
                   what);
  return at_fail("%s: %s", what, asr_result_string(r));
}

/* ---- asrtool gumbel */
int cmd_gumbel(int argc, char **argv) {
  char *pos[3];
  const char *grad_path = NULL;
  double tau = 1.0;
  int hard = 0, npos, r, d, ret = 2;
  int64_t shape[ASR_MAX_DIMS], gshape[ASR_MAX_DIMS], ishape[ASR_MAX_DIMS];
  asr_real *l = NULL, *v = NULL, *y = NULL, *p = NULL, *g = NULL, *dl = NULL;
  int *index = NULL;
  asr_array ua;
  asr_error err;
  size_t i, count;
  int n, V;
  at_outputs outs;
  const at_opt opts[] = {
    {"tau", AT_REAL, &tau, -1e308, 1e308, NULL},
    {"hard", AT_FLAG, &hard, 0, 0, NULL},
    {"grad-output", AT_STR, &grad_path, 0, 0, NULL},
  };
  memset(&ua, 0, sizeof ua);
  r = at_parse(argc, argv, opts, 3, pos, 3, 3, &npos,
               "gumbel [--tau 1] [--hard] [--impl naive|ref|simd] LOGITS U [--grad-output G] OUTDIR\n"
               "  Gumbel-softmax of LOGITS (..., V) with the uniform draws U (same shape), noise\n"
               "  v = -log(-log(U)) (U strictly inside (0,1); no clamp):\n"
               "    p = softmax((LOGITS + v) / tau) over the last axis;  y = p, or with --hard the\n"
               "    straight-through one-hot of argmax p (its gradient is p's).\n"
               "  Writes y.npy, index.npy (argmax, int32, shape without the last axis) and, with\n"
               "  G (the gradient of some loss w.r.t. y), grad_logits.npy = dL/dLOGITS.");
  if (r) return r == 1 ? 0 : r;
  if (!(tau > 0) || !isfinite(tau)) return at_fail("--tau must be a finite number > 0 (got %g)", tau);
  if (load_real(pos[0], &d, shape, &l)) return 2;
  for (count = 1, r = 0; r < d; r++) count *= (size_t)shape[r];
  if (d < 1) {
    at_fail("%s: expected an array (..., V), got a scalar", pos[0]);
    goto done;
  }
  V = (int)shape[d - 1];
  if (V < 1) {
    at_fail("%s: the last axis (V) is empty", pos[0]);
    goto done;
  }
  if (count / (size_t)V > 0x7fffffff) {
    at_fail("%s: too many rows", pos[0]);
    goto done;
  }
  n = (int)(count / (size_t)V);
  /* U: read in its own precision, so that a double just below 1 is not rounded to 1 */
  if (asr_npy_read(pos[1], &ua, NULL, &err) != ASR_OK) {
    at_fail("%s", err.msg);
    goto done;
  }
  if (ua.ndim != d || memcmp(ua.shape, shape, sizeof(int64_t) * (size_t)d) != 0) {
    at_fail("%s: shape does not match %s", pos[1], pos[0]);
    goto done;
  }
  v = (asr_real *)malloc(sizeof(asr_real) * (count ? count : 1));
  y = (asr_real *)malloc(sizeof(asr_real) * (count ? count : 1));
  p = (asr_real *)malloc(sizeof(asr_real) * (count ? count : 1));
  index = (int *)malloc(sizeof(int) * (n ? (size_t)n : 1));
  if (!v || !y || !p || !index) {
    at_fail("out of memory");
    goto done;
  }
  for (i = 0; i < count; i++) {
    double u;
    switch (ua.dtype) {
      case ASR_DTYPE_F32: u = ((const float *)ua.data)[i]; break;
      case ASR_DTYPE_F64: u = ((const double *)ua.data)[i]; break;
      default:
        at_fail("%s: expected float32 or float64 uniform draws, got %s", pos[1], asr_dtype_name(ua.dtype));
        goto done;
    }
    if (!(u > 0 && u < 1)) {
      at_fail("%s: element %lu is %.17g, outside the open interval (0,1)", pos[1], (unsigned long)i, u);
      goto done;
    }
    v[i] = (asr_real)asr_gumbel_from_uniform(u);
  }
  if (grad_path) {
    if (at_npy_real(grad_path, -1, gshape, &g, 0)) goto done;
    for (r = 0; r < ASR_MAX_DIMS; r++)
      if (gshape[r] != shape[r]) {
        at_fail("%s: shape does not match %s", grad_path, pos[0]);
        goto done;
      }
    dl = (asr_real *)calloc(count ? count : 1, sizeof(asr_real));
    if (!dl) {
      at_fail("out of memory");
      goto done;
    }
  }
  r = GUMBEL_FWD[at_impl](y, hard ? p : y, index, l, v, tau, hard, n, V);
  if (r != ASR_OK) {
    refused("gumbel forward", (asr_result)r);
    goto done;
  }
  if (!hard) memcpy(p, y, sizeof(asr_real) * count);
  if (dl) {
    r = GUMBEL_BWD[at_impl](dl, p, g, tau, n, V);
    if (r != ASR_OK) {
      refused("gumbel backward", (asr_result)r);
      goto done;
    }
  }
  memset(&outs, 0, sizeof outs);
  at_out_add(&outs, "y.npy", ASR_DTYPE_REAL, d, shape, y);
  for (r = 0; r < d - 1; r++) ishape[r] = shape[r];
  at_out_add(&outs, "index.npy", ASR_DTYPE_I32, d - 1, ishape, index);
  if (dl) at_out_add(&outs, "grad_logits.npy", ASR_DTYPE_REAL, d, shape, dl);
  if (at_out_commit(&outs, pos[2])) goto done;
  if (at_verbose)
    printf("gumbel: %d rows of %d, tau %g, %s, impl %s\n", n, V, tau, hard ? "hard (straight-through)" : "soft",
           IMPL_NAME[at_impl]);
  ret = 0;
done:
  asr_array_free(&ua, NULL);
  free(l), free(v), free(y), free(p), free(g), free(dl), free(index);
  return ret;
}

/* ---- asrtool vq */
int cmd_vq(int argc, char **argv) {
  char *pos[3];
  const char *grad_path = NULL;
  double gamma = ASR_VQ_GAMMA;
  int groups = 0, npos, r, ret = 2, cb_rank = 0, shared, N, D, G, K, E;
  int64_t zs[ASR_MAX_DIMS], cs[ASR_MAX_DIMS], gs[ASR_MAX_DIMS], ishape[2], zero[1], three[1] = {3};
  asr_real *z = NULL, *cb = NULL, *g = NULL, *zq = NULL, *dz = NULL, *dcb = NULL;
  int *index = NULL;
  void *work = NULL;
  size_t ws, ncb;
  asr_vq_loss loss;
  asr_real loss_out, terms[3];
  at_outputs outs;
  const at_opt opts[] = {
    {"gamma", AT_REAL, &gamma, -1e308, 1e308, NULL},
    {"groups", AT_INT, &groups, 1, 1 << 20, NULL},
    {"grad-output", AT_STR, &grad_path, 0, 0, NULL},
  };
  r = at_parse(argc, argv, opts, 3, pos, 3, 3, &npos,
               "vq [--gamma 0.25] [--groups G] [--impl naive|ref|simd] Z CODEBOOK [--grad-output G] OUTDIR\n"
               "  k-means vector quantization as in vq-wav2vec: Z (N, D); CODEBOOK (K, D/G) shared by\n"
               "  the G groups (--groups, default 1), or (G, K, D/G), one per group. Each group of each\n"
               "  row is replaced by its nearest codeword (Euclidean). Writes index.npy (N,) or (N, G),\n"
               "  zq.npy (N, D) = z + sg(e - z) (value e, gradient straight through to z), loss.npy\n"
               "  = mean((sg(z) - e)^2) + gamma * mean((z - sg(e))^2) over all N*D elements,\n"
               "  loss_terms.npy (3,) = that total, the codebook and the commitment term, and, with\n"
               "  G (N, D), grad_z.npy and grad_codebook.npy of sum(G * zq) + loss.");
  if (r) return r == 1 ? 0 : r;
  if (!(gamma >= 0) || !isfinite(gamma)) return at_fail("--gamma must be a finite number >= 0 (got %g)", gamma);
  if (at_npy_real(pos[0], 2, zs, &z, 0)) goto done;
  if (load_real(pos[1], &cb_rank, cs, &cb)) goto done;
  if (cb_rank != 2 && cb_rank != 3) {
    at_fail("%s: expected (K, E) or (G, K, E), got %d dimension%s", pos[1], cb_rank, cb_rank == 1 ? "" : "s");
    goto done;
  }
  N = (int)zs[0], D = (int)zs[1];
  shared = cb_rank == 2;
  if (shared) {
    G = groups ? groups : 1;
    K = (int)cs[0], E = (int)cs[1];
  } else {
    G = (int)cs[0], K = (int)cs[1], E = (int)cs[2];
    if (groups && groups != G) {
      at_fail("%s: holds %d group codebooks, but --groups is %d", pos[1], G, groups);
      goto done;
    }
  }
  if (K < 1) {
    at_fail("%s: the codebook is empty (K = 0)", pos[1]);
    goto done;
  }
  if (D < 1 || D % G != 0) {
    at_fail("%s: rows have D = %d values, which %d groups cannot split evenly", pos[0], D, G);
    goto done;
  }
  if (E != D / G) {
    at_fail("%s: codewords have %d values, but %s rows of D = %d in %d group%s need %d", pos[1], E, pos[0], D, G,
            G == 1 ? "" : "s", D / G);
    goto done;
  }
  ncb = (size_t)(shared ? 1 : G) * (size_t)K * (size_t)E;
  if (grad_path) {
    if (at_npy_real(grad_path, 2, gs, &g, 0)) goto done;
    if (gs[0] != zs[0] || gs[1] != zs[1]) {
      at_fail("%s: shape does not match %s", grad_path, pos[0]);
      goto done;
    }
    dz = (asr_real *)calloc((size_t)N * D + 1, sizeof(asr_real));
    dcb = (asr_real *)calloc(ncb, sizeof(asr_real));
    if (!dz || !dcb) {
      at_fail("out of memory");
      goto done;
    }
  }
  zq = (asr_real *)malloc(sizeof(asr_real) * ((size_t)N * D + 1));
  index = (int *)malloc(sizeof(int) * ((size_t)N * G + 1));
  ws = asr_vq_workspace_size(K);
  work = malloc(ws ? ws : 1);
  if (!zq || !index || !work) {
    at_fail("out of memory");
    goto done;
  }
  r = VQ_FWD[at_impl](index, zq, &loss, z, cb, N, D, G, K, shared, gamma, work, ws);
  if (r != ASR_OK) {
    refused("vq forward", (asr_result)r);
    goto done;
  }
  if (g) {
    r = VQ_BWD[at_impl](dz, dcb, g, 1.0, index, z, cb, N, D, G, K, shared, gamma);
    if (r != ASR_OK) {
      refused("vq backward", (asr_result)r);
      goto done;
    }
  }
  memset(&outs, 0, sizeof outs);
  ishape[0] = N, ishape[1] = G;
  zero[0] = 0;
  loss_out = (asr_real)loss.total;
  terms[0] = (asr_real)loss.total, terms[1] = (asr_real)loss.codebook, terms[2] = (asr_real)loss.commitment;
  at_out_add(&outs, "index.npy", ASR_DTYPE_I32, G == 1 ? 1 : 2, ishape, index);
  at_out_add(&outs, "zq.npy", ASR_DTYPE_REAL, 2, zs, zq);
  at_out_add(&outs, "loss.npy", ASR_DTYPE_REAL, 0, zero, &loss_out);
  at_out_add(&outs, "loss_terms.npy", ASR_DTYPE_REAL, 1, three, terms);
  if (g) {
    at_out_add(&outs, "grad_z.npy", ASR_DTYPE_REAL, 2, zs, dz);
    at_out_add(&outs, "grad_codebook.npy", ASR_DTYPE_REAL, cb_rank, cs, dcb);
  }
  if (at_out_commit(&outs, pos[2])) goto done;
  if (at_verbose)
    printf("vq: N %d D %d G %d K %d (%s), loss %.9g (codebook %.9g + %g * commitment %.9g), code perplexity %.4g, impl %s\n",
           N, D, G, K, shared ? "shared" : "separate", loss.total, loss.codebook, gamma, loss.commitment,
           asr_code_perplexity(NULL, index, N, G, K, 0), IMPL_NAME[at_impl]);
  ret = 0;
done:
  free(z), free(cb), free(g), free(zq), free(dz), free(dcb), free(index), free(work);
  return ret;
}

/* ---- gradcheck rows */

/* gumbel: f = sum w . p(l), the soft sample of 5 rows of 11 with fixed noise, tau 0.6 */
typedef struct gc_gumbel {
  asr_real l[55], v[55], y[55], w[55];
} gc_gumbel;
static double gc_gumbel_f(void *vc) {
  gc_gumbel *c = (gc_gumbel *)vc;
  double f = 0;
  int i;
  asr_gumbel_softmax_forward(c->y, c->y, NULL, c->l, c->v, 0.6, 0, 5, 11);
  for (i = 0; i < 55; i++) f += (double)c->w[i] * c->y[i];
  return f;
}
int gc_vq_gumbel(uint64_t seed, asr_gradcheck_report *rep) {
  gc_gumbel c;
  asr_real dl[55];
  asr_rng rng;
  asr_gradcheck_param p;
  int i;
  asr_rng_seed(&rng, seed, 6);
  for (i = 0; i < 55; i++) {
    c.l[i] = (asr_real)(2 * asr_rng_normal(&rng));
    c.v[i] = (asr_real)asr_rng_gumbel(&rng);
    c.w[i] = (asr_real)asr_rng_normal(&rng);
    dl[i] = 0;
  }
  gc_gumbel_f(&c);
  if (asr_gumbel_softmax_backward(dl, c.y, c.w, 0.6, 5, 11) != ASR_OK) return 2;
  p.name = "logits", p.x = c.l, p.grad = dl, p.n = 55;
  return asr_gradcheck(gc_gumbel_f, &c, &p, 1, NULL, &rng, rep) == ASR_OK ? 0 : 2;
}

/* vq: each loss term with its stop-gradient argument held (see asr_check_vq): d/de of the
 * codebook term, and d/dz of sum w . zq + gamma * commitment; the worse of the two. */
typedef struct gc_vqc {
  asr_real z[8 * 6], cb[2 * 4 * 3], zq[8 * 6], w[8 * 6];
  int idx[16], which;
} gc_vqc;
static double gc_vq_f(void *vc) {
  gc_vqc *c = (gc_vqc *)vc;
  asr_vq_loss loss;
  double f = 0;
  int i;
  asr_vq_forward_ref(c->idx, c->zq, &loss, c->z, c->cb, 8, 6, 2, 4, 0, 0.25, NULL, 0);
  if (c->which == 0) return loss.codebook;
  for (i = 0; i < 48; i++) f += (double)c->w[i] * c->z[i];
  return f + 0.25 * loss.commitment;
}
int gc_vq_kmeans(uint64_t seed, asr_gradcheck_report *rep) {
  gc_vqc c;
  asr_real dz[48], dcb[24];
  asr_rng rng;
  asr_gradcheck_param p;
  asr_gradcheck_report r2;
  int i, n, g, d;
  asr_rng_seed(&rng, seed, 5);
  for (i = 0; i < 24; i++) c.cb[i] = (asr_real)(3 * asr_rng_normal(&rng));
  /* z within 0.05 of a codeword: the probes never change the argmin */
  for (n = 0; n < 8; n++)
    for (g = 0; g < 2; g++) {
      int k = asr_rng_int(&rng, 4);
      for (d = 0; d < 3; d++) c.z[n * 6 + g * 3 + d] = (asr_real)(c.cb[(g * 4 + k) * 3 + d] + 0.05 * asr_rng_normal(&rng));
    }
  for (i = 0; i < 48; i++) c.w[i] = (asr_real)asr_rng_normal(&rng), dz[i] = 0;
  for (i = 0; i < 24; i++) dcb[i] = 0;
  if (asr_vq_forward(c.idx, c.zq, NULL, c.z, c.cb, 8, 6, 2, 4, 0, 0.25, NULL, 0) != ASR_OK &&
      asr_vq_forward_ref(c.idx, c.zq, NULL, c.z, c.cb, 8, 6, 2, 4, 0, 0.25, NULL, 0) != ASR_OK)
    return 2;
  if (asr_vq_backward(NULL, dcb, NULL, 1.0, c.idx, c.z, c.cb, 8, 6, 2, 4, 0, 0.25) != ASR_OK) return 2;
  if (asr_vq_backward(dz, NULL, c.w, 1.0, c.idx, c.z, c.cb, 8, 6, 2, 4, 0, 0.25) != ASR_OK) return 2;
  c.which = 0;
  p.name = "codebook", p.x = c.cb, p.grad = dcb, p.n = 24;
  if (asr_gradcheck(gc_vq_f, &c, &p, 1, NULL, &rng, rep) != ASR_OK) return 2;
  c.which = 1;
  p.name = "z", p.x = c.z, p.grad = dz, p.n = 48;
  if (asr_gradcheck(gc_vq_f, &c, &p, 1, NULL, &rng, &r2) != ASR_OK) return 2;
  if (r2.max_rel_err > rep->max_rel_err) {
    r2.checks += rep->checks;
    *rep = r2;
  } else {
    rep->checks += r2.checks;
  }
  return 0;
}

/* diversity: the perplexity form (fairseq's) of 6 frames x 2 groups x 5 entries */
typedef struct gc_div {
  asr_real l[60], probs[60], avg[10];
} gc_div;
static double gc_div_f(void *vc) {
  gc_div *c = (gc_div *)vc;
  double loss = NAN;
  asr_diversity_forward(&loss, NULL, c->probs, c->avg, c->l, 6, 2, 5, 0, ASR_DIVERSITY_PERPLEXITY);
  return loss;
}
int gc_vq_diversity(uint64_t seed, asr_gradcheck_report *rep) {
  gc_div c;
  asr_real dl[60];
  double work[20], loss;
  asr_rng rng;
  asr_gradcheck_param p;
  asr_gradcheck_opts o;
  int i;
  asr_rng_seed(&rng, seed, 7);
  for (i = 0; i < 60; i++) c.l[i] = (asr_real)(1.5 * asr_rng_normal(&rng)), dl[i] = 0;
  if (asr_diversity_forward(&loss, NULL, c.probs, c.avg, c.l, 6, 2, 5, 0, ASR_DIVERSITY_PERPLEXITY) != ASR_OK ||
      asr_diversity_backward(dl, c.probs, 1.0, 6, 2, 5, 0, ASR_DIVERSITY_PERPLEXITY, work, sizeof work) != ASR_OK)
    return 2;
  memset(&o, 0, sizeof o);
  o.abs_floor = ASR_REAL_DOUBLE ? 1e-8 : 0;    /* the gradients are ~1e-3: compare them relatively */
  p.name = "logits", p.x = c.l, p.grad = dl, p.n = 60;
  return asr_gradcheck(gc_div_f, &c, &p, 1, &o, &rng, rep) == ASR_OK ? 0 : 2;
}

/* gumbel_quantizer: the module (soft samples, fixed noise, separate codebooks) with 0.1 x
 * the diversity penalty, every parameter and z; ReLU inputs kept 0.3 from the kink. */
typedef struct gc_gq {
  asr_gumbel_quantizer cfg;
  asr_gumbel_quantizer_params w;
  asr_real w1[7 * 5], b1[7], w2[8 * 7], b2[8], cb[8 * 3];
  asr_real z[6 * 5], noise[6 * 8], q[6 * 6], h[6 * 7], logits[6 * 8], p[6 * 8], probs[6 * 8], avg[8], W[6 * 6];
  int index[12];
} gc_gq;
static double gc_gq_f(void *vc) {
  gc_gq *c = (gc_gq *)vc;
  double f = 0, ld = 0;
  int i;
  if (asr_gumbel_quantizer_forward(c->q, c->index, c->h, c->logits, c->p, c->z, c->noise, &c->w, &c->cfg, 6) != ASR_OK)
    return NAN;
  for (i = 0; i < 36; i++) f += (double)c->W[i] * c->q[i];
  asr_diversity_forward(&ld, NULL, c->probs, c->avg, c->logits, 6, 2, 4, 0, ASR_DIVERSITY_PERPLEXITY);
  return f + 0.1 * ld;
}
int gc_vq_gumbel_quantizer(uint64_t seed, asr_gradcheck_report *rep) {
  static gc_gq c;
  static asr_real g1[35], gb1[7], g2[56], gb2[8], gcb[24], dz[30], dl[48];
  asr_gumbel_quantizer_params gr;
  asr_gradcheck_param p[6];
  double dwork[16];
  char work[4096];
  asr_rng rng;
  int n, j, k, i;
  asr_rng_seed(&rng, seed, 8);
  memset(&c, 0, sizeof c);
  c.cfg.in_dim = 5, c.cfg.hidden = 7, c.cfg.groups = 2, c.cfg.vars = 4, c.cfg.entry_dim = 3;
  c.cfg.shared = 0, c.cfg.hard = 0, c.cfg.tau = 0.9;
  c.w.w1 = c.w1, c.w.b1 = c.b1, c.w.w2 = c.w2, c.w.b2 = c.b2, c.w.codebook = c.cb;
  if (asr_gumbel_quantizer_init(&c.w, &c.cfg, &rng) != ASR_OK) return 2;
  asr_gumbel_noise(c.noise, 48, &rng);
  for (i = 0; i < 36; i++) c.W[i] = (asr_real)asr_rng_normal(&rng);
  for (n = 0; n < 6; n++) {
    int tries, good = 0;
    for (tries = 0; tries < 10000 && !good; tries++) {
      good = 1;
      for (k = 0; k < 5; k++) c.z[n * 5 + k] = (asr_real)fmax(-2.5, fmin(2.5, asr_rng_normal(&rng)));
      for (j = 0; j < 7 && good; j++) {
        double s = c.b1[j];
        for (k = 0; k < 5; k++) s += (double)c.w1[j * 5 + k] * c.z[n * 5 + k];
        if (fabs(s) < 0.3) good = 0;
      }
    }
  }
  memset(g1, 0, sizeof g1), memset(gb1, 0, sizeof gb1), memset(g2, 0, sizeof g2);
  memset(gb2, 0, sizeof gb2), memset(gcb, 0, sizeof gcb), memset(dz, 0, sizeof dz), memset(dl, 0, sizeof dl);
  gc_gq_f(&c);
  if (asr_diversity_backward(dl, c.probs, 0.1, 6, 2, 4, 0, ASR_DIVERSITY_PERPLEXITY, dwork, sizeof dwork) != ASR_OK)
    return 2;
  gr.w1 = g1, gr.b1 = gb1, gr.w2 = g2, gr.b2 = gb2, gr.codebook = gcb;
  if (asr_gumbel_quantizer_workspace_size(&c.cfg, 6) > sizeof work) return 2;
  if (asr_gumbel_quantizer_backward(dz, &gr, c.W, dl, c.z, c.h, c.p, c.index, &c.w, &c.cfg, 6, work, sizeof work) !=
      ASR_OK)
    return 2;
  p[0].name = "z", p[0].x = c.z, p[0].grad = dz, p[0].n = 30;
  p[1].name = "w1", p[1].x = c.w1, p[1].grad = g1, p[1].n = 35;
  p[2].name = "b1", p[2].x = c.b1, p[2].grad = gb1, p[2].n = 7;
  p[3].name = "w2", p[3].x = c.w2, p[3].grad = g2, p[3].n = 56;
  p[4].name = "b2", p[4].x = c.b2, p[4].grad = gb2, p[4].n = 8;
  p[5].name = "codebook", p[5].x = c.cb, p[5].grad = gcb, p[5].n = 24;
  return asr_gradcheck(gc_gq_f, &c, p, 6, NULL, &rng, rep) == ASR_OK ? 0 : 2;
}

/* ---- bench: the wav2vec 2.0 BASE quantizer sizes: 8 utterances x 200 frames, G = 2,
 * V = 320 for the Gumbel-softmax; D = 256 (E = 128) for k-means VQ with K = 320. */
enum { BQ_N = 1600, BQ_G = 2, BQ_V = 320, BQ_D = 256 };
typedef struct bench_q {
  int impl;
  asr_real *l, *v, *y, *p, *gy, *dl;
  asr_real *z, *cb, *zq, *gz, *dz, *dcb;
  int *idx;
  void *work;
  size_t ws;
} bench_q;
static void bench_gumbel_call(void *vc) {
  bench_q *b = (bench_q *)vc;
  GUMBEL_FWD[b->impl](b->y, b->p, b->idx, b->l, b->v, 0.5, 1, BQ_N * BQ_G, BQ_V);
  GUMBEL_BWD[b->impl](b->dl, b->p, b->gy, 0.5, BQ_N * BQ_G, BQ_V);
}
static void bench_vq_call(void *vc) {
  bench_q *b = (bench_q *)vc;
  asr_vq_loss loss;
  VQ_FWD[b->impl](b->idx, b->zq, &loss, b->z, b->cb, BQ_N, BQ_D, BQ_G, BQ_V, 0, 0.25, b->work, b->ws);
  VQ_BWD[b->impl](b->dz, b->dcb, b->gz, 1.0, b->idx, b->z, b->cb, BQ_N, BQ_D, BQ_G, BQ_V, 0, 0.25);
}
void bench_quantizers(at_bench *bench) {
  /* NOTE: at_bench is opaque outside asrtool/bench.c, so --min-time cannot reach here:
   * each case runs for at least the default 0.3 s */
  const double min_time = 0.3;
  bench_q b;
  size_t nl = (size_t)BQ_N * BQ_G * BQ_V, nz = (size_t)BQ_N * BQ_D, nc = (size_t)BQ_G * BQ_V * (BQ_D / BQ_G), i;
  asr_rng rng;
  int k;
  memset(&b, 0, sizeof b);
  b.l = (asr_real *)malloc(sizeof(asr_real) * nl), b.v = (asr_real *)malloc(sizeof(asr_real) * nl);
  b.y = (asr_real *)malloc(sizeof(asr_real) * nl), b.p = (asr_real *)malloc(sizeof(asr_real) * nl);
  b.gy = (asr_real *)malloc(sizeof(asr_real) * nl), b.dl = (asr_real *)calloc(nl, sizeof(asr_real));
  b.z = (asr_real *)malloc(sizeof(asr_real) * nz), b.zq = (asr_real *)malloc(sizeof(asr_real) * nz);
  b.gz = (asr_real *)malloc(sizeof(asr_real) * nz), b.dz = (asr_real *)calloc(nz, sizeof(asr_real));
  b.cb = (asr_real *)malloc(sizeof(asr_real) * nc), b.dcb = (asr_real *)calloc(nc, sizeof(asr_real));
  b.idx = (int *)malloc(sizeof(int) * (size_t)BQ_N * BQ_G);
  b.ws = asr_vq_workspace_size(BQ_V);
  b.work = malloc(b.ws);
  if (b.l && b.v && b.y && b.p && b.gy && b.dl && b.z && b.zq && b.gz && b.dz && b.cb && b.dcb && b.idx && b.work) {
    asr_rng_seed(&rng, 320, 2);
    for (i = 0; i < nl; i++) {
      b.l[i] = (asr_real)asr_rng_normal(&rng);
      b.v[i] = (asr_real)asr_rng_gumbel(&rng);
      b.gy[i] = (asr_real)asr_rng_normal(&rng);
    }
    for (i = 0; i < nz; i++) b.z[i] = (asr_real)asr_rng_normal(&rng), b.gz[i] = (asr_real)asr_rng_normal(&rng);
    for (i = 0; i < nc; i++) b.cb[i] = (asr_real)asr_rng_normal(&rng);
    for (k = 0; k < 3; k++) {
      if (at_bench_skip(bench, IMPL_NAME[k])) continue;
      b.impl = k;
      at_bench_report(bench, "gumbel-softmax hard fwd+bwd 1600x2x320", IMPL_NAME[k],
                      at_bench_time(bench_gumbel_call, &b, min_time));
    }
    for (k = 0; k < 3; k++) {
      if (at_bench_skip(bench, IMPL_NAME[k])) continue;
      b.impl = k;
      at_bench_report(bench, "kmeans-vq fwd+bwd N1600 D256 G2 K320", IMPL_NAME[k],
                      at_bench_time(bench_vq_call, &b, min_time));
    }
  }
  free(b.l), free(b.v), free(b.y), free(b.p), free(b.gy), free(b.dl), free(b.z), free(b.zq), free(b.gz);
  free(b.dz), free(b.cb), free(b.dcb), free(b.idx), free(b.work);
}
