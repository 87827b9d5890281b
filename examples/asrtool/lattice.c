/* examples/asrtool/lattice.c - the lattice internals a course grades (sections 5 and 6):
 *
 *   asrtool ctc-lattice [--blank 0] [--input logits|logprobs|probs] [--layout btv|tbv]
 *                       [--beta with-emission|without-emission] [--prob] [--impl naive|ref]
 *                       X TARGETS INPUT_LENGTHS TARGET_LENGTHS OUTDIR
 *   asrtool rnnt-lattice [--blank 0] [--input logits|logprobs|probs] [--layout btv|tbv]
 *                        [--prob] [--impl naive|ref] X TARGETS LOGIT_LENGTHS TARGET_LENGTHS OUTDIR
 *
 * They write, as float64, what asr_ctc_lattice_batch_* / asr_rnnt_lattice_batch_* return
 * (alpha, beta, gamma, the posteriors, log_p), so a course can hand out reference arrays
 * made by one documented command. Inputs are checked by the library; a problem exits 2
 * with one line, and nothing is written. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The options both commands share. */
typedef struct lat_opts {
  int blank, input, layout, beta, prob;
} lat_opts;

/* The options both commands take, into opts (5); the CTC one also --beta. Returns how many. */
static int lat_options(at_opt *opts, lat_opts *o, int ctc) {
  const at_opt all[] = {
    {"blank", AT_INT, &o->blank, 0, 1e9, NULL},
    {"input", AT_CHOICE, &o->input, 0, 0, "logits|logprobs|probs"},
    {"layout", AT_CHOICE, &o->layout, 0, 0, "btv|tbv"},
    {"prob", AT_FLAG, &o->prob, 0, 0, NULL},
    {"beta", AT_CHOICE, &o->beta, 0, 0, "with-emission|without-emission"},
  };
  memcpy(opts, all, sizeof all);
  return ctc ? 5 : 4;
}

/* The joint's outputs as the RNN-T lattice reads them, [Graves12] eqs. (13)-(15), per item:
 * lb[n][t][u] = ln blank(t,u) = ln Pr(blank|t,u), ll[n][t][u] = ln y(t,u) = ln Pr(y_{u+1}|t,u)
 * (N,T,U+1), ln 0 outside the item and at u = U_n (there is no label U_n+1). Logits go
 * through asr_rnnt_lattice (log-softmax); log-probabilities and probabilities are read as
 * given (ln p), as the lattice functions read them. x is (N,T,U+1,V) or, tbv, (T,N,U+1,V).
 * Called after the lattice function accepted the same input (labels and lengths in range). */
static void rnnt_log_probs(double *lb, double *ll, const asr_real *x, const lat_opts *o, const int *targets,
                           const int *il, const int *tl, int N, int T, int U, int V) {
  int n, t, u, U1 = U + 1;
  size_t i, nodes = (size_t)N * T * U1;
  for (i = 0; i < nodes; i++) lb[i] = ll[i] = -INFINITY;
  for (n = 0; n < N; n++) {
    /* node (t,u) of item n: btv ((n T + t) U1 + u) V, tbv ((t N + n) U1 + u) V */
    const size_t tstride = (size_t)(o->layout == ASR_LAYOUT_TBV ? N : 1) * U1;
    const asr_real *base = x + (o->layout == ASR_LAYOUT_TBV ? (size_t)n * U1 : (size_t)n * T * U1) * V;
    double *b = lb + (size_t)n * T * U1, *l = ll + (size_t)n * T * U1;
    const int *y = targets + (size_t)n * U;
    if (o->input == ASR_INPUT_LOGITS) {
      /* asr_rnnt_lattice writes (T_n, U_n+1) rows; spread them to the padded (T, U+1) */
      asr_rnnt_lattice(b, l, NULL, base, y, il[n], tl[n], (int)tstride, V, o->blank);
      for (t = il[n] - 1; t >= 0; t--)
        for (u = U; u >= 0; u--) {
          double vb = u <= tl[n] ? b[(size_t)t * (tl[n] + 1) + u] : -INFINITY;
          double vl = u < tl[n] ? l[(size_t)t * (tl[n] + 1) + u] : -INFINITY;
          b[(size_t)t * U1 + u] = vb, l[(size_t)t * U1 + u] = vl;
        }
      continue;
    }
    for (t = 0; t < il[n]; t++)
      for (u = 0; u <= tl[n]; u++) {
        const asr_real *z = base + ((size_t)t * tstride + u) * V;
        double pb = z[o->blank], pl = u < tl[n] ? z[y[u]] : 0;
        b[(size_t)t * U1 + u] = o->input == ASR_INPUT_PROBS ? log(pb) : pb;
        l[(size_t)t * U1 + u] = u < tl[n] ? (o->input == ASR_INPUT_PROBS ? log(pl) : pl) : -INFINITY;
      }
  }
}

/* Reads X (rank `ndim`, (N,T,...) or (T,N,...) by --layout) and the three int arrays, checks
 * that their first dimensions agree, and gives N and T. */
static int lat_read(char **pos, int ndim, const lat_opts *o, int64_t *xs, asr_real **x, int64_t *ts, int **targets,
                    int **il, int **tl, int *N, int *T) {
  int64_t s1[ASR_MAX_DIMS], s2[ASR_MAX_DIMS];
  int d;
  /* log-probabilities may be -inf (probability 0); the library refuses NaN and +inf */
  if (at_npy_real(pos[0], ndim, xs, x, o->input == ASR_INPUT_LOGPROBS)) return 2;
  for (d = 0; d < ndim; d++)
    if (xs[d] > 1000000000) return at_fail("%s: dimension %d (%lld) is too large", pos[0], d, (long long)xs[d]);
  *N = (int)(o->layout == ASR_LAYOUT_TBV ? xs[1] : xs[0]);
  *T = (int)(o->layout == ASR_LAYOUT_TBV ? xs[0] : xs[1]);
  if (at_npy_int(pos[1], 2, ts, targets) || at_npy_int(pos[2], 1, s1, il) || at_npy_int(pos[3], 1, s2, tl)) return 2;
  if (ts[0] != *N) return at_fail("%s: %lld rows of targets for %d items in %s", pos[1], (long long)ts[0], *N, pos[0]);
  if (s1[0] != *N) return at_fail("%s: %lld lengths for %d items in %s", pos[2], (long long)s1[0], *N, pos[0]);
  if (s2[0] != *N) return at_fail("%s: %lld lengths for %d items in %s", pos[3], (long long)s2[0], *N, pos[0]);
  return 0;
}

int cmd_ctc_lattice(int argc, char **argv) {
  char *pos[5];
  int npos, r, N = 0, T = 0, V, S, L, n, s, flags;
  lat_opts o = {0, 0, 0, 0, 0};
  int64_t xs[ASR_MAX_DIMS], ts[ASR_MAX_DIMS], sh[3];
  asr_real *x = NULL;
  int *targets = NULL, *il = NULL, *tl = NULL, *lprime = NULL, *skip = NULL;
  double *a = NULL, *b = NULL, *g = NULL, *po = NULL, *lp = NULL;
  void *work = NULL;
  size_t wb, nl;
  asr_error err;
  asr_result res;
  at_outputs outs;
  at_opt opts[5];
  r = at_parse(argc, argv, opts, lat_options(opts, &o, 1), pos, 5, 5, &npos,
               "ctc-lattice [--blank 0] [--input logits|logprobs|probs] [--layout btv|tbv]\n"
               "            [--beta with-emission|without-emission] [--prob] [--impl naive|ref]\n"
               "            X TARGETS INPUT_LENGTHS TARGET_LENGTHS OUTDIR\n"
               "  The CTC lattice [Graves06] of a batch: X (N,T,V), or (T,N,V) with --layout tbv,\n"
               "  holds logits (softmax inside), log-probabilities or probabilities (used as given),\n"
               "  per --input; padded int targets (N,S), lengths (N,). Writes float64, natural logs\n"
               "  (probabilities with --prob): alpha.npy, beta.npy, gamma.npy (N,T,2S+1), alpha_t(s),\n"
               "  beta_t(s) (with frame t's emission as [Graves06], or without it), the state\n"
               "  posterior gamma_t(s); posterior.npy (N,T,V), the symbol posterior; log_p.npy (N,),\n"
               "  ln p(l|x); lprime.npy (N,2S+1) the extended labelling l' (-1 past 2|l|+1) and\n"
               "  can_skip.npy (N,2S+1), 1 where s may be entered from s-2. Outside an item: log 0.\n"
               "  --impl naive enumerates every prefix and suffix (the definitions); ref (the\n"
               "  default, also for simd) runs the recursions.");
  if (r) return r == 1 ? 0 : r;
  if (lat_read(pos, 3, &o, xs, &x, ts, &targets, &il, &tl, &N, &T)) goto fail;
  V = (int)xs[2];
  S = (int)ts[1];
  L = 2 * S + 1;
  nl = (size_t)N * T * L;
  wb = asr_ctc_lattice_workspace_size(N, T, V > 0 ? V : 1, S);
  a = (double *)malloc(sizeof(double) * (nl ? nl : 1));
  b = (double *)malloc(sizeof(double) * (nl ? nl : 1));
  g = (double *)malloc(sizeof(double) * (nl ? nl : 1));
  po = (double *)malloc(sizeof(double) * ((size_t)N * T * V + 1));
  lp = (double *)malloc(sizeof(double) * (N + 1));
  lprime = (int *)malloc(sizeof(int) * ((size_t)N * L + 1));
  skip = (int *)malloc(sizeof(int) * ((size_t)N * L + 1));
  work = wb != (size_t)-1 ? malloc(wb) : NULL;
  if (!a || !b || !g || !po || !lp || !lprime || !skip || !work) {
    at_fail("out of memory (N=%d T=%d V=%d S=%d)", N, T, V, S);
    goto fail;
  }
  flags = (o.prob ? ASR_LATTICE_PROB : 0) | (o.beta ? ASR_LATTICE_BETA_EXCL : 0);
  res = (at_impl == AT_IMPL_NAIVE ? asr_ctc_lattice_batch_naive : asr_ctc_lattice_batch_ref)(
      a, b, g, po, lp, x, asr_loss_input_make((asr_input_domain)o.input, (asr_input_layout)o.layout), targets, il, tl,
      N, T, V, S, o.blank, flags, work, wb, &err);
  if (res < 0) {
    at_fail("%s", err.msg);
    goto fail;
  }
  for (n = 0; n < N; n++) {   /* l' and its skips, per item, -1 / 0 past the item's 2|l|+1 */
    for (s = 0; s < L; s++) lprime[(size_t)n * L + s] = -1, skip[(size_t)n * L + s] = 0;
    asr_ctc_extended_labels(lprime + (size_t)n * L, targets + (size_t)n * S, tl[n], o.blank);
    for (s = 0; s < 2 * tl[n] + 1; s++) skip[(size_t)n * L + s] = asr_ctc_can_skip(targets + (size_t)n * S, tl[n], o.blank, s);
  }
  memset(&outs, 0, sizeof outs);
  sh[0] = N, sh[1] = T, sh[2] = L;
  at_out_add(&outs, "alpha.npy", ASR_DTYPE_F64, 3, sh, a);
  at_out_add(&outs, "beta.npy", ASR_DTYPE_F64, 3, sh, b);
  at_out_add(&outs, "gamma.npy", ASR_DTYPE_F64, 3, sh, g);
  sh[2] = V;
  at_out_add(&outs, "posterior.npy", ASR_DTYPE_F64, 3, sh, po);
  at_out_add(&outs, "log_p.npy", ASR_DTYPE_F64, 1, sh, lp);
  sh[1] = L;
  at_out_add(&outs, "lprime.npy", ASR_DTYPE_I32, 2, sh, lprime);
  at_out_add(&outs, "can_skip.npy", ASR_DTYPE_I32, 2, sh, skip);
  if (at_out_commit(&outs, pos[4])) goto fail;
  if (at_verbose)
    printf("ctc-lattice: N=%d T=%d V=%d S=%d: log_p[0] = %.12g%s\n", N, T, V, S, N ? lp[0] : 0.0,
           res == ASR_INFEASIBLE ? " (some item is infeasible)" : "");
  r = 0;
  goto done;
fail:
  r = 2;
done:
  free(x), free(targets), free(il), free(tl), free(lprime), free(skip);
  free(a), free(b), free(g), free(po), free(lp), free(work);
  return r;
}

int cmd_rnnt_lattice(int argc, char **argv) {
  char *pos[5];
  int npos, r, N = 0, T = 0, U, V;
  lat_opts o = {0, 0, 0, 0, 0};
  int64_t xs[ASR_MAX_DIMS], ts[ASR_MAX_DIMS], sh[3];
  asr_real *x = NULL;
  int *targets = NULL, *il = NULL, *tl = NULL;
  double *a = NULL, *b = NULL, *g = NULL, *pb = NULL, *pl = NULL, *lp = NULL, *lb = NULL, *ll = NULL;
  void *work = NULL;
  size_t wb, nodes;
  asr_error err;
  asr_result res;
  at_outputs outs;
  at_opt opts[5];
  r = at_parse(argc, argv, opts, lat_options(opts, &o, 0), pos, 5, 5, &npos,
               "rnnt-lattice [--blank 0] [--input logits|logprobs|probs] [--layout btv|tbv] [--prob]\n"
               "             [--impl naive|ref] X TARGETS LOGIT_LENGTHS TARGET_LENGTHS OUTDIR\n"
               "  The RNN-T lattice [Graves12] of a batch: X (N,T,U+1,V), or (T,N,U+1,V) with\n"
               "  --layout tbv, per --input; padded int targets (N,U), lengths (N,). Writes float64,\n"
               "  natural logs (probabilities with --prob), each (N,T,U+1): alpha.npy, beta.npy\n"
               "  (eqs. (16), (18)), gamma.npy (alpha beta / Pr, the node posterior), post_blank.npy\n"
               "  and post_label.npy (the posteriors of leaving (t,u) by the blank and by y_{u+1});\n"
               "  log_blank.npy and log_label.npy, ln Pr(blank|t,u) and ln Pr(y_{u+1}|t,u) (eqs.\n"
               "  (13)-(15), natural logs even with --prob); log_p.npy (N,). Outside an item: log 0. --impl naive enumerates every partial\n"
               "  alignment; ref (the default, also for simd) runs the recursions.");
  if (r) return r == 1 ? 0 : r;
  if (lat_read(pos, 4, &o, xs, &x, ts, &targets, &il, &tl, &N, &T)) goto fail;
  U = (int)xs[2] - 1;
  V = (int)xs[3];
  if (U < 0 || V < 1) {
    at_fail("%s: no room for U+1 >= 1 nodes and V >= 1 labels", pos[0]);
    goto fail;
  }
  if (ts[1] != U) {
    at_fail("%s: %lld target columns, expected U = %d to match %s", pos[1], (long long)ts[1], U, pos[0]);
    goto fail;
  }
  nodes = (size_t)N * T * (U + 1) + 1;
  wb = asr_rnnt_lattice_workspace_size(N, T, U, V);
  a = (double *)malloc(sizeof(double) * nodes);
  b = (double *)malloc(sizeof(double) * nodes);
  g = (double *)malloc(sizeof(double) * nodes);
  pb = (double *)malloc(sizeof(double) * nodes);
  pl = (double *)malloc(sizeof(double) * nodes);
  lp = (double *)malloc(sizeof(double) * (N + 1));
  lb = (double *)malloc(sizeof(double) * nodes);
  ll = (double *)malloc(sizeof(double) * nodes);
  work = wb != (size_t)-1 ? malloc(wb) : NULL;
  if (!a || !b || !g || !pb || !pl || !lp || !lb || !ll || !work) {
    at_fail("out of memory (N=%d T=%d U=%d V=%d)", N, T, U, V);
    goto fail;
  }
  res = (at_impl == AT_IMPL_NAIVE ? asr_rnnt_lattice_batch_naive : asr_rnnt_lattice_batch_ref)(
      a, b, g, pb, pl, lp, x, asr_loss_input_make((asr_input_domain)o.input, (asr_input_layout)o.layout), targets, il,
      tl, N, T, U, V, o.blank, o.prob ? ASR_LATTICE_PROB : 0, work, wb, &err);
  if (res < 0) {
    at_fail("%s", err.msg);
    goto fail;
  }
  rnnt_log_probs(lb, ll, x, &o, targets, il, tl, N, T, U, V);
  memset(&outs, 0, sizeof outs);
  sh[0] = N, sh[1] = T, sh[2] = U + 1;
  at_out_add(&outs, "alpha.npy", ASR_DTYPE_F64, 3, sh, a);
  at_out_add(&outs, "beta.npy", ASR_DTYPE_F64, 3, sh, b);
  at_out_add(&outs, "gamma.npy", ASR_DTYPE_F64, 3, sh, g);
  at_out_add(&outs, "post_blank.npy", ASR_DTYPE_F64, 3, sh, pb);
  at_out_add(&outs, "post_label.npy", ASR_DTYPE_F64, 3, sh, pl);
  at_out_add(&outs, "log_blank.npy", ASR_DTYPE_F64, 3, sh, lb);
  at_out_add(&outs, "log_label.npy", ASR_DTYPE_F64, 3, sh, ll);
  at_out_add(&outs, "log_p.npy", ASR_DTYPE_F64, 1, sh, lp);
  if (at_out_commit(&outs, pos[4])) goto fail;
  if (at_verbose) printf("rnnt-lattice: N=%d T=%d U=%d V=%d: log_p[0] = %.12g\n", N, T, U, V, N ? lp[0] : 0.0);
  r = 0;
  goto done;
fail:
  r = 2;
done:
  free(x), free(targets), free(il), free(tl), free(a), free(b), free(g), free(pb), free(pl), free(lp), free(lb), free(ll);
  free(work);
  return r;
}

int cmd_ctc_beam_final(int argc, char **argv) {
  char *pos[3];
  int npos, r, blank = 0, beam = 8, input = 0, N, T, V, F, n, t, i;
  int64_t xs[ASR_MAX_DIMS], is[ASR_MAX_DIMS], sh[3];
  asr_real *x = NULL, *lp = NULL;
  int *il = NULL, *tok = NULL, *ntok = NULL, *prefixes = NULL, *lengths = NULL, *count = NULL;
  double *sc = NULL, *scores = NULL;
  void *work = NULL;
  size_t wb;
  at_outputs outs;
  const at_opt opts[] = {
    {"blank", AT_INT, &blank, 0, 1e9, NULL},
    {"beam", AT_INT, &beam, 1, 1e4, NULL},
    {"input", AT_CHOICE, &input, 0, 0, "logits|logprobs"},
  };
  r = at_parse(argc, argv, opts, 3, pos, 3, 3, &npos,
               "ctc-beam-final [--blank 0] [--beam 8] [--input logits|logprobs] X INPUT_LENGTHS OUTDIR\n"
               "  CTC prefix beam search [Hannun14] of X (N,T,V) with every merged final prefix kept\n"
               "  (asr_ctc_beam_opts.all_final: no pruning after the last frame), best first. Writes\n"
               "  prefixes.npy (N,F,T) padded with -1, lengths.npy (N,F) (-1: no prefix), scores.npy\n"
               "  (N,F) float64 ln(p_b + p_nb) of each (-inf: none) and count.npy (N,), F = beam V.\n"
               "  With a beam wide enough never to prune, each score is ln p(l|x) exactly.");
  if (r) return r == 1 ? 0 : r;
  if (at_npy_real(pos[0], 3, xs, &x, input == 1) || at_npy_int(pos[1], 1, is, &il)) goto fail;
  N = (int)xs[0], T = (int)xs[1], V = (int)xs[2];
  if (xs[0] > 100000 || xs[1] > 100000 || xs[2] > 100000 || V < 1) {
    at_fail("%s: shape (%lld, %lld, %lld) is empty or too large", pos[0], (long long)xs[0], (long long)xs[1],
            (long long)xs[2]);
    goto fail;
  }
  if (is[0] != N) {
    at_fail("%s: %lld lengths for %d items in %s", pos[1], (long long)is[0], N, pos[0]);
    goto fail;
  }
  for (n = 0; n < N; n++)
    if (il[n] < 0 || il[n] > T) {
      at_fail("%s: input_lengths[%d] = %d is outside 0..%d", pos[1], n, il[n], T);
      goto fail;
    }
  F = asr_ctc_beam_max_final(beam, V);
  wb = asr_ctc_beam_workspace_size(T, V, beam);
  lp = (asr_real *)malloc(sizeof(asr_real) * ((size_t)T * V + 1));
  tok = (int *)malloc(sizeof(int) * ((size_t)F * T + 1));
  ntok = (int *)malloc(sizeof(int) * ((size_t)F + 1));
  sc = (double *)malloc(sizeof(double) * ((size_t)F + 1));
  prefixes = (int *)malloc(sizeof(int) * ((size_t)N * F * T + 1));
  lengths = (int *)malloc(sizeof(int) * ((size_t)N * F + 1));
  scores = (double *)malloc(sizeof(double) * ((size_t)N * F + 1));
  count = (int *)malloc(sizeof(int) * ((size_t)N + 1));
  work = F > 0 && wb != (size_t)-1 ? malloc(wb) : NULL;
  if (!lp || !tok || !ntok || !sc || !prefixes || !lengths || !scores || !count || !work) {
    at_fail("out of memory (N=%d T=%d V=%d beam=%d)", N, T, V, beam);
    goto fail;
  }
  for (n = 0; n < N; n++) {
    asr_ctc_beam_opts o = asr_ctc_beam_opts_default(beam, blank);
    asr_result res;
    int nh = 0;
    o.all_final = 1;
    o.nbest = F;
    for (t = 0; t < il[n]; t++) {
      const asr_real *row = x + ((size_t)n * T + t) * V;
      if (input == 1) memcpy(lp + (size_t)t * V, row, sizeof(asr_real) * V);
      else asr_log_softmax(lp + (size_t)t * V, row, V);
    }
    res = asr_ctc_prefix_beam_search(tok, ntok, sc, &nh, lp, il[n], V, &o, work, wb);
    if (res < 0) {
      at_fail("%s: item %d: %s", pos[0], n, asr_result_string(res));
      goto fail;
    }
    count[n] = nh;
    for (i = 0; i < F; i++) {
      int *row = prefixes + ((size_t)n * F + i) * T;
      for (t = 0; t < T; t++) row[t] = i < nh && t < ntok[i] ? tok[(size_t)i * il[n] + t] : -1;
      lengths[(size_t)n * F + i] = i < nh ? ntok[i] : -1;
      scores[(size_t)n * F + i] = i < nh ? sc[i] : -INFINITY;
    }
  }
  memset(&outs, 0, sizeof outs);
  sh[0] = N, sh[1] = F, sh[2] = T;
  at_out_add(&outs, "prefixes.npy", ASR_DTYPE_I32, 3, sh, prefixes);
  at_out_add(&outs, "lengths.npy", ASR_DTYPE_I32, 2, sh, lengths);
  at_out_add(&outs, "scores.npy", ASR_DTYPE_F64, 2, sh, scores);
  at_out_add(&outs, "count.npy", ASR_DTYPE_I32, 1, sh, count);
  if (at_out_commit(&outs, pos[2])) goto fail;
  r = 0;
  goto done;
fail:
  r = 2;
done:
  free(x), free(lp), free(il), free(tok), free(ntok), free(sc), free(prefixes), free(lengths), free(scores);
  free(count), free(work);
  return r;
}
