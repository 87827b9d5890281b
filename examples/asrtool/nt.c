/* examples/asrtool/nt.c - asr.h section 7.6, the Neural Transducer [Jaitly16], on .npy
 * files, and its `asrtool gradcheck` entry.
 *
 *   asrtool nt --weights DIR --block W [--end-id K] [--lengths L.npy] [--align A.npy]
 *              [--beam 1] [--svg FILE.svg] [--impl naive|ref|simd]
 *              ENC TARGETS TARGET_LENGTHS OUTDIR
 *   asrtool nt-decode --weights DIR --block W [--end-id K] [--lengths L.npy] [--beam 1]
 *              [--penalty 0] [--max-len L] [--max-per-block 8] ENC OUTDIR
 *
 * DIR holds the 17 tensors as <key>.npy, the state_dict keys of the PyTorch module of
 * tests/torch/test_nt.py (embed.weight, rnn_s.weight_ih, ..., output.bias; the biases may
 * be absent); the sizes V, Dy, H, A, H2 come from them and W from --block. Exit status: 0
 * success, 2 bad input (one line naming the file, key or option), nothing written. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NT_MAX(a, b) ((a) > (b) ? (a) : (b))
#define NT_MIN(a, b) ((a) < (b) ? (a) : (b))

/* The model read from DIR: the configuration, the tensors flat in the table's order (the
 * absent biases as zeros, their pointers NULL in p) and which keys were present. */
typedef struct nt_model {
  asr_nt_config cfg;
  asr_nt_params p;
  asr_real *w;
  size_t n;
  int present[ASR_NT_NPARAMS];
} nt_model;

static int nt_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* The shape of DIR/key.npy (2-D), for the sizes; 2 after a message when absent or not 2-D. */
static int nt_shape2(const char *dir, const char *key, int64_t *shape) {
  char path[4200];
  asr_real *x = NULL;
  int r;
  snprintf(path, sizeof path, "%s/%s.npy", dir, key);
  if (!nt_exists(path)) return at_fail("%s: missing (the weight %s)", path, key);
  r = at_npy_real(path, 2, shape, &x, 0);
  free(x);
  return r;
}

/* Reads every tensor of DIR with the shape the table gives it; refuses .npy files in DIR
 * that are no key of the table (a misspelt bias would otherwise be silently absent). */
static int nt_load(nt_model *m, const char *dir, int W, int end_id) {
  int64_t se[ASR_MAX_DIMS], so[ASR_MAX_DIMS], ss[ASR_MAX_DIMS], sa[ASR_MAX_DIMS];
  size_t off = 0;
  int i;
  DIR *dd;
  struct dirent *de;
  memset(m, 0, sizeof *m);
  if (nt_shape2(dir, "embed.weight", se) || nt_shape2(dir, "output.weight", so) ||
      nt_shape2(dir, "rnn_s.weight_hh", ss) || nt_shape2(dir, "att_rnn.weight_hh", sa))
    return 2;
  if (se[0] > 1000000 || se[1] > 100000 || so[1] > 100000 || ss[1] > 100000 || sa[1] > 100000)
    return at_fail("%s: a weight is too large for this tool", dir);
  asr_nt_config_init(&m->cfg, (int)se[0], W, (int)ss[1], (int)se[1], (int)sa[1], (int)so[1]);
  if (end_id >= 0) m->cfg.end_id = end_id;
  if (m->cfg.end_id >= m->cfg.vocab)
    return at_fail("--end-id %d: outside [0, V = %d) (V from embed.weight)", m->cfg.end_id, m->cfg.vocab);
  m->n = asr_nt_param_total(&m->cfg);
  m->w = (asr_real *)calloc(m->n ? m->n : 1, sizeof(asr_real));
  if (!m->w) return at_fail("out of memory");
  for (i = 0; i < ASR_NT_NPARAMS; i++) {
    const char *key;
    int dims[2], nd = asr_nt_param_shape(&m->cfg, i, &key, dims), d;
    size_t cnt = (size_t)dims[0] * (size_t)(nd == 2 ? dims[1] : 1);
    int64_t shape[ASR_MAX_DIMS];
    asr_real *x = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.npy", dir, key);
    if (!nt_exists(path)) {
      if (nd == 1 && strstr(key, "bias")) {   /* an absent bias: bias=False */
        off += cnt;
        continue;
      }
      return at_fail("%s: missing (the weight %s)", path, key);
    }
    if (at_npy_real(path, nd, shape, &x, 0)) return 2;
    for (d = 0; d < nd; d++)
      if (shape[d] != dims[d]) {
        free(x);
        return at_fail("%s: shape (%lld%s%lld), expected (%d%s%d) for V %d, W %d, H %d, Dy %d, A %d, H2 %d", path,
                       (long long)shape[0], nd == 2 ? ", " : ",", nd == 2 ? (long long)shape[1] : 0LL, dims[0],
                       nd == 2 ? ", " : ",", nd == 2 ? dims[1] : 0, m->cfg.vocab, W, m->cfg.hidden, m->cfg.embed,
                       m->cfg.att_hidden, m->cfg.out_hidden);
      }
    memcpy(m->w + off, x, sizeof(asr_real) * cnt);
    free(x);
    m->present[i] = 1;
    off += cnt;
  }
  dd = opendir(dir);
  if (!dd) return at_fail("%s: cannot list the directory", dir);
  while ((de = readdir(dd)) != NULL) {
    size_t len = strlen(de->d_name);
    int known = 0;
    if (len < 5 || strcmp(de->d_name + len - 4, ".npy")) continue;
    for (i = 0; i < ASR_NT_NPARAMS; i++) {
      const char *key;
      asr_nt_param_shape(&m->cfg, i, &key, NULL);
      known |= strlen(key) == len - 4 && !strncmp(de->d_name, key, len - 4);
    }
    if (!known) {
      int r = at_fail("%s/%s: not a weight of the Neural Transducer (asrtool nt --help lists the keys)", dir,
                      de->d_name);
      closedir(dd);
      return r;
    }
  }
  closedir(dd);
  asr_nt_params_bind(&m->p, NULL, m->w, NULL, &m->cfg);
  if (!m->present[3]) m->p.rnn_s.b_ih = NULL;
  if (!m->present[4]) m->p.rnn_s.b_hh = NULL;
  if (!m->present[7]) m->p.att_rnn.b_ih = NULL;
  if (!m->present[8]) m->p.att_rnn.b_hh = NULL;
  if (!m->present[10]) m->p.att_b = NULL;
  if (!m->present[13]) m->p.rnn_h.b_ih = NULL;
  if (!m->present[14]) m->p.rnn_h.b_hh = NULL;
  if (!m->present[16]) m->p.out_b = NULL;
  return 0;
}

/* ENC (N,T,H) and --lengths (N,) in [1,T]. */
static int nt_read_enc(const char *path, const char *lpath, const nt_model *m, asr_real **enc, int **lens, int *N,
                       int *T) {
  int64_t s[ASR_MAX_DIMS], ls[ASR_MAX_DIMS];
  int n;
  if (at_npy_real(path, 3, s, enc, 0)) return 2;
  if (s[2] != m->cfg.hidden)
    return at_fail("%s: %lld features per frame, the model's H is %d (rnn_s.weight_hh)", path, (long long)s[2],
                   m->cfg.hidden);
  if (s[0] < 1 || s[1] < 1 || s[0] > 1000000 || s[1] > 1000000)
    return at_fail("%s: shape (%lld, %lld, %lld): need N >= 1 items of T >= 1 frames", path, (long long)s[0],
                   (long long)s[1], (long long)s[2]);
  *N = (int)s[0], *T = (int)s[1];
  if (!lpath) return 0;
  if (at_npy_int(lpath, 1, ls, lens)) return 2;
  if (ls[0] != *N) return at_fail("%s: %lld lengths for %d items", lpath, (long long)ls[0], *N);
  for (n = 0; n < *N; n++)
    if ((*lens)[n] < 1 || (*lens)[n] > *T)
      return at_fail("%s: lengths[%d] = %d: outside [1, T = %d]", lpath, n, (*lens)[n], *T);
  return 0;
}

/* The start both commands share once their options are parsed: the model and the input. */
static int nt_open(nt_model *m, const char *wdir, int W, int end_id, const char *encpath, const char *lpath,
                   asr_real **enc, int **lens, int *N, int *T) {
  if (!wdir) return at_fail("--weights DIR is required");
  if (W < 1) return at_fail("--block W is required (W >= 1 frames per block)");
  if (nt_load(m, wdir, W, end_id)) return 2;
  return nt_read_enc(encpath, lpath, m, enc, lens, N, T);
}

/* ---- the picture: item 0's alignment as a lattice of (block, symbols emitted) with the
 * path, and its steps (rows: y~_m) against its frames (columns, blocks boxed), each cell
 * shaded by the attention weight alpha_{m,j}. */
static void nt_svg_text(FILE *f, double x, double y, const char *anchor, double size, const char *s) {
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%.0f\">%s</text>\n", x, y, anchor, size, s);
}
static int nt_svg(const char *path, const asr_nt_config *cfg, const int *ytil, int steps, const int *align, int len,
                  const asr_real *alpha, int rowlen) {
  int W = cfg->block, B = asr_nt_blocks(len, W), S = steps - B, b, j, m, k, cum = 0;
  double cx = 34, cy = 26, lx = 50, ly = 56;                   /* the lattice: spacing, origin */
  double px = lx + NT_MAX(B * cx, 200) + 60, py = 56;         /* the steps x frames panel */
  double width = px + NT_MAX(len * 22, 330) + 20;
  double height = NT_MAX(ly + S * cy + 80, py + steps * 22 + 40);
  char buf[64];
  char *mem = NULL;
  size_t mlen = 0;
  asr_error err;
  asr_result r;
  FILE *f = open_memstream(&mem, &mlen);
  if (!f) return at_fail("out of memory");
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", width, height);
  /* the lattice: columns b = 0..B (blocks closed), rows j = 0..S (symbols emitted) */
  nt_svg_text(f, 10, 20, "start", 13, "the alignment: a path through (b, j)");
  for (b = 0; b <= B; b++) {
    snprintf(buf, sizeof buf, "%d", b);
    nt_svg_text(f, lx + b * cx, ly + S * cy + 20, "middle", 11, buf);
    for (j = 0; j <= S; j++)
      fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#bbb\"/>\n", lx + b * cx, ly + (S - j) * cy);
  }
  for (j = 0; j <= S; j++) {
    snprintf(buf, sizeof buf, "%d", j);
    nt_svg_text(f, lx - 12, ly + (S - j) * cy + 4, "end", 11, buf);
  }
  nt_svg_text(f, lx - 34, ly + S * cy / 2 + 4, "middle", 11, "j");
  nt_svg_text(f, lx, ly + S * cy + 38, "start", 11, "b: blocks closed, j: symbols emitted");
  for (b = 0; b < B; b++) {   /* block b: y_{cum+1}..y_{cum+n_b} then <e>, (b, cum) -> (b+1, cum+n_b) */
    double x0 = lx + b * cx, y0 = ly + (S - cum) * cy, y1 = ly + (S - cum - align[b]) * cy;
    if (align[b]) fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c33\" stroke-width=\"3\"/>\n",
                          x0, y0, x0, y1);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#36c\" stroke-width=\"3\"/>\n", x0, y1,
            x0 + cx, y1);
    cum += align[b];
  }
  nt_svg_text(f, lx, ly + S * cy + 54, "start", 10, "red: a symbol y_j in block b");
  nt_svg_text(f, lx, ly + S * cy + 68, "start", 10, "blue: &lt;e&gt;, on to block b+1");
  /* the steps against the frames */
  nt_svg_text(f, px, 20, "start", 13, "steps y~_m: attention alpha over the block");
  for (j = 0; j < len; j++) {
    snprintf(buf, sizeof buf, "%d", j);
    nt_svg_text(f, px + j * 22 + 11, py - 6, "middle", 9, buf);
  }
  for (m = 0, b = 0; m < steps; m++) {
    int Wb = NT_MIN(W, len - b * W);
    if (ytil[m] == cfg->end_id) snprintf(buf, sizeof buf, "&lt;e&gt;");
    else snprintf(buf, sizeof buf, "%d", ytil[m]);
    nt_svg_text(f, px - 8, py + m * 22 + 15, "end", 11, buf);
    for (k = 0; k < Wb; k++) {
      double a = alpha[(size_t)m * rowlen + k];
      int shade = (int)(255 - 200 * (a < 0 ? 0 : a > 1 ? 1 : a));
      fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"21\" height=\"21\" fill=\"rgb(%d,%d,255)\"/>\n",
              px + (b * W + k) * 22, py + m * 22, shade, shade);
    }
    if (ytil[m] == cfg->end_id) b++;
  }
  for (b = 0; b < B; b++)
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
            px + b * W * 22 - 0.5, py - 0.5, NT_MIN(W, len - b * W) * 22.0, steps * 22.0);
  nt_svg_text(f, px, py + steps * 22 + 18, "start", 11, "encoder frames (boxes: blocks of W)");
  fprintf(f, "</svg>\n");
  fclose(f);
  r = asr_write_file_atomic(path, mem, mlen, &err);
  free(mem);
  return r == ASR_OK ? 0 : at_fail("%s", err.msg);
}

/* The library's tiers by --impl (naive, ref, simd). */
static const asr_nt_forward_fn NT_FWD[3] = {asr_nt_forward_naive, asr_nt_forward_ref, asr_nt_forward};
static const asr_nt_backward_fn NT_BWD[3] = {asr_nt_backward_naive, asr_nt_backward_ref, asr_nt_backward};

/* ---- asrtool nt */
int cmd_nt(int argc, char **argv) {
  char *pos[4];
  const char *wdir = NULL, *lpath = NULL, *apath = NULL, *svg = NULL;
  int npos, r, W = 0, end_id = -1, beam = 1, N = 0, T = 0, S, NB, n, i, status = 2;
  int *lens = NULL, *y = NULL, *tl = NULL, *al = NULL;
  int64_t ys[ASR_MAX_DIMS], ts[ASR_MAX_DIMS], as[ASR_MAX_DIMS];
  asr_real *enc = NULL, *loss = NULL, *denc = NULL, *gw = NULL;
  void *sbuf = NULL, *work = NULL;
  nt_model m;
  asr_nt_grads g;
  asr_nt_saved s;
  asr_error err;
  asr_result res;
  at_outputs outs;
  const at_opt opts[] = {
    {"weights", AT_STR, &wdir, 0, 0, NULL},       {"block", AT_INT, &W, 1, 1000000, NULL},
    {"end-id", AT_INT, &end_id, 0, 1000000, NULL}, {"lengths", AT_STR, &lpath, 0, 0, NULL},
    {"align", AT_STR, &apath, 0, 0, NULL},         {"beam", AT_INT, &beam, 1, 100000, NULL},
    {"svg", AT_STR, &svg, 0, 0, NULL},
  };
  memset(&m, 0, sizeof m);
  r = at_parse(argc, argv, opts, 7, pos, 4, 4, &npos,
               "nt --weights DIR --block W [--end-id K] [--lengths L.npy] [--align A.npy] [--beam 1]\n"
               "   [--svg FILE.svg] [--impl naive|ref|simd] ENC TARGETS TARGET_LENGTHS OUTDIR\n"
               "  The Neural Transducer of [Jaitly16] (asr.h 7.6, docs/seq2seq_nt.md) on the encoder\n"
               "  output ENC (N,T,H): blocks of W frames; in each, LSTM-attention over the block and\n"
               "  the transducer emit symbols until <e> (--end-id, default V-1). TARGETS (N,S) int,\n"
               "  TARGET_LENGTHS (N,) int; --lengths L (N,) the frames of each item (default T).\n"
               "  With --align A (N, ceil(T/W)) int, the symbols each block emits: the loss of that\n"
               "  alignment. Without: the approximate best alignment, the dynamic program of [Jaitly16]\n"
               "  with --beam K paths per cell (--impl naive: every alignment enumerated).\n"
               "  DIR: the 17 weights as <key>.npy: embed.weight (V,Dy); rnn_s.weight_ih (4H,H+Dy),\n"
               "  rnn_s.weight_hh (4H,H), rnn_s.bias_ih, rnn_s.bias_hh (4H); att_rnn.weight_ih (4A,W),\n"
               "  att_rnn.weight_hh (4A,A), att_rnn.bias_ih, att_rnn.bias_hh (4A); att_out.weight\n"
               "  (W,A), att_out.bias (W); rnn_h.weight_ih (4H2,2H), rnn_h.weight_hh (4H2,H2),\n"
               "  rnn_h.bias_ih, rnn_h.bias_hh (4H2); output.weight (V,H2), output.bias (V) (biases\n"
               "  may be absent: bias=False).\n"
               "  Writes loss.npy (N,) = -ln p(y~|x), align.npy (N, ceil(T/W)), alpha.npy (N, S +\n"
               "  ceil(T/W), W) the attention weights of every step (0 past an item's steps),\n"
               "  grad_enc.npy (N,T,H) and grad_<key>.npy of every weight present: the gradients of\n"
               "  sum(loss). --svg: a picture of item 0's alignment and attention.");
  if (r) return r == 1 ? 0 : r;
  if (nt_open(&m, wdir, W, end_id, pos[0], lpath, &enc, &lens, &N, &T)) goto done;
  if (at_npy_int(pos[1], 2, ys, &y)) goto done;
  if (at_npy_int(pos[2], 1, ts, &tl)) goto done;
  if (ys[0] != N || ts[0] != N) {
    at_fail("%s: %lld rows, %s: %lld lengths, for %d items in %s", pos[1], (long long)ys[0], pos[2], (long long)ts[0],
            N, pos[0]);
    goto done;
  }
  if (ys[1] > 1000000) {
    at_fail("%s: %lld symbols per row: too many", pos[1], (long long)ys[1]);
    goto done;
  }
  S = (int)ys[1], NB = asr_nt_blocks(T, W);
  if (apath) {
    if (at_npy_int(apath, 2, as, &al)) goto done;
    if (as[0] != N || as[1] != NB) {
      at_fail("%s: shape (%lld, %lld), expected (N, ceil(T/W)) = (%d, %d)", apath, (long long)as[0], (long long)as[1],
              N, NB);
      goto done;
    }
  } else if (!(al = (int *)calloc((size_t)N * NB, sizeof(int)))) {
    at_fail("out of memory");
    goto done;
  }
  {
    size_t sb = asr_nt_saved_size(&m.cfg, N, S, T), fb = asr_nt_forward_workspace_size(&m.cfg, N, S, T);
    size_t bb = asr_nt_backward_workspace_size(&m.cfg, N, S, T), ab = asr_nt_align_workspace_size(&m.cfg, N, S, T, beam);
    size_t wb = NT_MAX(NT_MAX(fb, bb), apath ? 0 : ab);
    if (sb == (size_t)-1 || wb == (size_t)-1) {
      at_fail("%s: N %d, S %d, T %d, W %d: too large or invalid", pos[0], N, S, T, W);
      goto done;
    }
    sbuf = malloc(sb), work = malloc(wb);
    loss = (asr_real *)calloc((size_t)N, sizeof(asr_real));
    denc = (asr_real *)calloc((size_t)N * T * m.cfg.hidden, sizeof(asr_real));
    gw = (asr_real *)calloc(m.n ? m.n : 1, sizeof(asr_real));
    if (!sbuf || !work || !loss || !denc || !gw) {
      at_fail("out of memory");
      goto done;
    }
    res = asr_nt_saved_init(&s, sbuf, sb, &m.cfg, N, S, T);
    if (res == ASR_OK && !apath)
      res = (at_impl == AT_IMPL_NAIVE ? asr_nt_best_alignment_naive : asr_nt_best_alignment)(
          al, NULL, y, tl, enc, lens, &m.p, &m.cfg, N, S, T, beam, work, wb, &err);
    if (res == ASR_OK) res = NT_FWD[at_impl](loss, &s, y, tl, al, enc, lens, &m.p, &m.cfg, N, S, T, work, wb, &err);
    asr_nt_params_bind(NULL, &g, NULL, gw, &m.cfg);
    if (res == ASR_OK) res = NT_BWD[at_impl](denc, &g, NULL, &s, y, tl, al, enc, lens, &m.p, &m.cfg, N, S, T, work, wb, &err);
    if (res != ASR_OK) {
      at_fail("%s%s", res == ASR_ERR_TOO_LARGE && at_impl == AT_IMPL_NAIVE ? "--impl naive refuses this input: " : "",
              err.msg);
      goto done;
    }
  }
  {
    int64_t s1[1], s2[2], s3[3];
    size_t off = 0;
    outs.n = 0;
    s1[0] = N;
    at_out_add(&outs, "loss.npy", ASR_DTYPE_REAL, 1, s1, loss);
    s2[0] = N, s2[1] = NB;
    at_out_add(&outs, "align.npy", ASR_DTYPE_I32, 2, s2, al);
    s3[0] = N, s3[1] = S + NB, s3[2] = W;
    at_out_add(&outs, "alpha.npy", ASR_DTYPE_REAL, 3, s3, s.alpha);
    s3[0] = N, s3[1] = T, s3[2] = m.cfg.hidden;
    at_out_add(&outs, "grad_enc.npy", ASR_DTYPE_REAL, 3, s3, denc);
    for (i = 0; i < ASR_NT_NPARAMS; i++) {
      const char *key;
      char name[96];
      int dims[2], nd = asr_nt_param_shape(&m.cfg, i, &key, dims);
      int64_t sh[2];
      sh[0] = dims[0], sh[1] = dims[1];
      if (m.present[i]) {
        snprintf(name, sizeof name, "grad_%s.npy", key);
        at_out_add(&outs, name, ASR_DTYPE_REAL, nd, sh, gw + off);
      }
      off += (size_t)dims[0] * (size_t)(nd == 2 ? dims[1] : 1);
    }
    if (at_out_commit(&outs, pos[3])) goto done;
  }
  if (svg) {
    int *yt = (int *)malloc(sizeof(int) * (size_t)(S + NB)), steps = 0;
    r = yt ? 0 : at_fail("out of memory");
    if (!r && asr_nt_extended_target(yt, &steps, y, tl[0], al, lens ? lens[0] : T, &m.cfg, &err) != ASR_OK)
      r = at_fail("%s", err.msg);
    if (!r) r = nt_svg(svg, &m.cfg, yt, steps, al, lens ? lens[0] : T, s.alpha, W);
    free(yt);
    if (r) {   /* no partial output: take back what was written */
      char path[4200];
      for (i = 0; i < outs.n; i++) {
        snprintf(path, sizeof path, "%s/%s", pos[3], outs.o[i].name);
        remove(path);
      }
      goto done;
    }
  }
  if (at_verbose) {
    double tot = 0;
    for (n = 0; n < N; n++) tot += loss[n];
    printf("nt: N=%d T=%d W=%d S=%d: sum of losses %.9g\n", N, T, W, S, tot);
  }
  status = 0;
done:
  free(m.w), free(enc), free(lens), free(y), free(tl), free(al), free(loss), free(denc), free(gw);
  free(sbuf), free(work);
  return status;
}

/* ---- asrtool nt-decode */
int cmd_nt_decode(int argc, char **argv) {
  char *pos[2];
  const char *wdir = NULL, *lpath = NULL;
  int npos, r, W = 0, end_id = -1, beam = 1, max_len = 0, mpb = 8, N = 0, T = 0, NB, status = 2;
  int *lens = NULL, *tok = NULL, *len = NULL, *al = NULL;
  asr_real *enc = NULL;
  double *sc = NULL, penalty = 0;
  void *work = NULL;
  nt_model m;
  asr_error err;
  at_outputs outs;
  const at_opt opts[] = {
    {"weights", AT_STR, &wdir, 0, 0, NULL},        {"block", AT_INT, &W, 1, 1000000, NULL},
    {"end-id", AT_INT, &end_id, 0, 1000000, NULL},  {"lengths", AT_STR, &lpath, 0, 0, NULL},
    {"beam", AT_INT, &beam, 1, 100000, NULL},       {"max-len", AT_INT, &max_len, 1, 1000000, NULL},
    {"max-per-block", AT_INT, &mpb, 1, 1000000, NULL}, {"penalty", AT_REAL, &penalty, -1000, 1000, NULL},
  };
  memset(&m, 0, sizeof m);
  r = at_parse(argc, argv, opts, 8, pos, 2, 2, &npos,
               "nt-decode --weights DIR --block W [--end-id K] [--lengths L.npy] [--beam 1]\n"
               "   [--penalty 0] [--max-len L] [--max-per-block 8] ENC OUTDIR\n"
               "  Decodes the Neural Transducer (weights as for `asrtool nt`) block by block: in each\n"
               "  block the most probable symbol until <e> (--beam 1: greedy), or a beam of partial\n"
               "  outputs across the block boundaries, ranked by ln p + penalty x (symbols without\n"
               "  the <e>s); at most --max-per-block symbols a block and\n"
               "  --max-len in all (default T), then <e> is the only choice.\n"
               "  Writes tokens.npy (N, max_len) padded with -1, lengths.npy (N,), align.npy (N,\n"
               "  ceil(T/W)) the symbols each block emitted, scores.npy (N,) ln p(y~|x) (float64).");
  if (r) return r == 1 ? 0 : r;
  if (nt_open(&m, wdir, W, end_id, pos[0], lpath, &enc, &lens, &N, &T)) goto done;
  if (max_len < 1) max_len = T;
  NB = asr_nt_blocks(T, W);
  {
    size_t wb = asr_nt_decode_workspace_size(&m.cfg, T, beam, max_len);
    asr_result res;
    if (wb == (size_t)-1) {
      at_fail("--beam %d, --max-len %d: too large", beam, max_len);
      goto done;
    }
    work = malloc(wb);
    tok = (int *)malloc(sizeof(int) * (size_t)N * max_len), len = (int *)malloc(sizeof(int) * (size_t)N);
    al = (int *)malloc(sizeof(int) * (size_t)N * NB), sc = (double *)malloc(sizeof(double) * (size_t)N);
    if (!work || !tok || !len || !al || !sc) {
      at_fail("out of memory");
      goto done;
    }
    res = asr_nt_beam_search(tok, len, al, sc, enc, lens, &m.p, &m.cfg, N, T, beam, penalty, max_len, mpb, work, wb, &err);
    if (res != ASR_OK) {
      at_fail("%s", err.msg);
      goto done;
    }
  }
  {
    int64_t s1[1], s2[2];
    outs.n = 0;
    s2[0] = N, s2[1] = max_len;
    at_out_add(&outs, "tokens.npy", ASR_DTYPE_I32, 2, s2, tok);
    s1[0] = N;
    at_out_add(&outs, "lengths.npy", ASR_DTYPE_I32, 1, s1, len);
    s2[1] = NB;
    at_out_add(&outs, "align.npy", ASR_DTYPE_I32, 2, s2, al);
    at_out_add(&outs, "scores.npy", ASR_DTYPE_F64, 1, s1, sc);
    if (at_out_commit(&outs, pos[1])) goto done;
  }
  if (at_verbose) printf("nt-decode: N=%d T=%d W=%d beam %d: item 0 has %d symbols\n", N, T, W, beam, len[0]);
  status = 0;
done:
  free(m.w), free(enc), free(lens), free(tok), free(len), free(al), free(sc), free(work);
  return status;
}

/* ---- asrtool gradcheck nt: 3 items of 8, 7, 6 frames, W 3, targets of 4, 3, 2 symbols,
 * random alignments; objective sum_n w_n loss_n, w.r.t. enc and all 17 tensors */
int gc_nt(uint64_t seed, asr_gradcheck_report *rep) {
  return asr_gradcheck_nt(asr_nt_forward, asr_nt_backward, 3, 4, 8, 3, seed, rep) < 0 ? 2 : 0;
}
