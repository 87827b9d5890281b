/* examples/asrtool/layer.c - `asrtool layer NAME ...`: one layer of asr.h section 4 on
 * .npy files, forward and (with --grad-output) backward, with the weights named after the
 * PyTorch state_dict keys of the module it mirrors. docs/layers.md documents every NAME.
 *
 *   asrtool layer NAME --weights DIR [--grad-output G] [--lengths L] [options] X OUTDIR
 *
 * This file holds the framework (declared in asrtool.h: at_layer_*), the table LAYERS,
 * the layers of sections 4.1 and 4.2, their gradient checks for `asrtool gradcheck`, and
 * `asrtool optim` (optimizer steps on .npy files, for the comparison with torch.optim).
 *
 * Exit status: 0 success, 2 bad input (one line on stderr naming the file, key or
 * dimension; nothing written). */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include "../outpath.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ======================================================================================
 * The table: one row per NAME.
 * ====================================================================================== */
static const at_layer_def LAYERS[] = {
  {"linear", "nn.Linear: y = x W^T + b over the last dimension", layer_linear},
  {"layer_norm", "nn.LayerNorm over the last dimension", layer_layer_norm},
  {"batch_norm", "nn.BatchNorm1d on (N, C, T) (eval, or --train with batch statistics)",
   layer_batch_norm},
  {"group_norm", "nn.GroupNorm(G, C) on (N, C, T): --groups G, the _naive/_ref/fast tiers by --impl",
   layer_group_norm},
  {"conv1d", "nn.Conv1d on (N, C_in, T): stride, padding, dilation, groups, lengths", layer_conv1d},
  {"dwsep_conv1d", "depthwise conv1d (groups = C) then pointwise (kernel 1), with lengths",
   layer_dwsep_conv1d},
  {"se", "ContextNet squeeze-and-excitation on (N, C, T): mean over valid frames, gate", layer_se},
  {"contextnet_block", "ContextNet block: m x (dwsep conv, BN, swish), SE, residual projection",
   layer_contextnet_block},
  {"cross_entropy", "CrossEntropyLoss over the last dimension: label smoothing, ignore index",
   layer_cross_entropy},
  /* conformer, lstm, attention */
  {"lstm", "nn.LSTM(batch_first=True), one layer, --bidirectional, --pyramidal (LAS)", layer_lstm},
  {"attention", "seq2seq attention, one decoder step: --type dot|add|loc (ESPnet AttAdd/AttLoc)",
   layer_attention},
  {"conv2d_subsampling", "ESPnet Conv2dSubsampling (4x) + RelPositionalEncoding: y and pos_emb",
   layer_conv2d_subsampling},
  {"rel_pos_mhsa", "ESPnet RelPositionMultiHeadedAttention (--rel-pos latest|legacy), self-attention",
   layer_rel_pos_mhsa},
  {"conformer_block", "ESPnet Conformer EncoderLayer (macaron FF, rel-pos MHSA, conv module, final LN)",
   layer_conformer_block},
  /* seq2seq */
  {"las_speller", "ESPnet's RNN attention decoder (LAS speller), teacher-forced: --targets YS_IN --type dot|add|loc",
   layer_las_speller},
  {"transformer_decoder", "ESPnet TransformerDecoder (teacher-forced): logits, grads of memory and weights", layer_transformer_decoder},
};
#define N_LAYERS (int)(sizeof LAYERS / sizeof LAYERS[0])

/* ======================================================================================
 * The framework.
 * ====================================================================================== */
int at_layer_failed(const at_layer_ctx *L) { return L->failed; }

int at_layer_fail(at_layer_ctx *L, const char *fmt, ...) {
  va_list ap;
  if (L->failed) return 2;
  L->failed = 1;
  fprintf(stderr, "asrtool layer: %s: ", L->name ? L->name : "?");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 2;
}

void *at_layer_alloc(at_layer_ctx *L, size_t bytes) {
  void *p;
  if (L->nalloc == L->capalloc) {
    int ncap = L->capalloc ? 2 * L->capalloc : 64;
    void **na = (void **)realloc(L->allocs, sizeof(void *) * (size_t)ncap);
    if (!na) {
      at_layer_fail(L, "out of memory");
      return NULL;
    }
    L->allocs = na;
    L->capalloc = ncap;
  }
  p = calloc(bytes ? bytes : 1, 1);
  if (!p) {
    at_layer_fail(L, "out of memory (%zu bytes)", bytes);
    return NULL;
  }
  L->allocs[L->nalloc++] = p;
  return p;
}

/* "(3, 4)" into buf */
static const char *dims_str(char *buf, size_t cap, int ndim, const int *dims) {
  size_t n = 0;
  int d;
  n += (size_t)snprintf(buf + n, cap - n, "(");
  for (d = 0; d < ndim && n < cap; d++)
    n += (size_t)snprintf(buf + n, cap - n, d ? ", %d" : "%d", dims[d]);
  if (n < cap) snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
  return buf;
}

/* the d-th comma-separated name of `names`, or "" */
static const char *dim_name(char *buf, size_t cap, const char *names, int d) {
  const char *p = names;
  buf[0] = 0;
  if (!names) return buf;
  while (d > 0 && p) {
    p = strchr(p, ',');
    if (p) p++;
    d--;
  }
  if (p) {
    size_t len = strcspn(p, ",");
    if (len >= cap) len = cap - 1;
    memcpy(buf, p, len);
    buf[len] = 0;
  }
  return buf;
}

/* Reads path as asr_real (ints allowed too) checking ndim and dims (see asrtool.h). */
static asr_real *load_checked(at_layer_ctx *L, const char *path, const char *what, int ndim,
                              int *dims, const char *dim_names, int as_int, int **idata) {
  asr_array a;
  asr_error err;
  int d;
  void *data;
  if (L->failed) return NULL;
  if (asr_npy_read(path, &a, NULL, &err) != ASR_OK) {
    at_layer_fail(L, "%s", err.msg);
    return NULL;
  }
  if (ndim == 0 && a.count == 1) a.ndim = 0;   /* a 0-d or 1-element array is a scalar */
  if (a.ndim != ndim) {
    char b1[128];
    int ad[ASR_MAX_DIMS];
    for (d = 0; d < a.ndim; d++) ad[d] = (int)a.shape[d];
    at_layer_fail(L, "%s: %s has shape %s, expected %d dimension%s", path, what,
                  dims_str(b1, sizeof b1, a.ndim, ad), ndim, ndim == 1 ? "" : "s");
    asr_array_free(&a, NULL);
    return NULL;
  }
  for (d = 0; d < ndim; d++) {
    if (a.shape[d] > 1000000000) {
      at_layer_fail(L, "%s: dimension %d is too large", path, d);
      asr_array_free(&a, NULL);
      return NULL;
    }
    if (dims[d] >= 0 && a.shape[d] != dims[d]) {
      char b1[128], b2[128], nm[64];
      int ad[ASR_MAX_DIMS], k;
      for (k = 0; k < ndim; k++) ad[k] = (int)a.shape[k];
      dims_str(b1, sizeof b1, ndim, ad);
      for (k = 0; k < ndim; k++) ad[k] = dims[k];
      dims_str(b2, sizeof b2, ndim, ad);
      dim_name(nm, sizeof nm, dim_names, d);
      at_layer_fail(L, "%s: %s has shape %s, expected %s: dimension %d%s%s%s is %lld, must be %d",
                    path, what, b1, b2, d, nm[0] ? " (" : "", nm, nm[0] ? ")" : "",
                    (long long)a.shape[d], dims[d]);
      asr_array_free(&a, NULL);
      return NULL;
    }
  }
  for (d = 0; d < ndim; d++) dims[d] = (int)a.shape[d];
  if (as_int) {
    data = at_layer_alloc(L, sizeof(int) * (a.count ? a.count : 1));
    if (data && asr_array_to_int(&a, (int *)data, &err) != ASR_OK) {
      at_layer_fail(L, "%s: %s", path, err.msg);
      data = NULL;
    }
    *idata = (int *)data;
    asr_array_free(&a, NULL);
    return NULL;
  }
  if (a.dtype == ASR_DTYPE_U8) {
    at_layer_fail(L, "%s: expected a float array, got uint8", path);
    asr_array_free(&a, NULL);
    return NULL;
  }
  data = at_layer_alloc(L, sizeof(asr_real) * (a.count ? a.count : 1));
  if (data && asr_array_to_real(&a, (asr_real *)data, 0, &err) != ASR_OK) {
    at_layer_fail(L, "%s: %s", path, err.msg);
    data = NULL;
  }
  asr_array_free(&a, NULL);
  return (asr_real *)data;
}

static asr_real *weight(at_layer_ctx *L, const char *key, int ndim, int *dims,
                        const char *dim_names, int optional) {
  char path[4096], what[160];
  struct stat st;
  asr_real *p;
  int d;
  if (L->failed) return NULL;
  if (L->nw >= (int)(sizeof L->w / sizeof L->w[0]) || strlen(key) >= sizeof L->w[0].key) {
    at_layer_fail(L, "internal limit: too many weights or too long a key (%s)", key);
    return NULL;
  }
  snprintf(path, sizeof path, "%s/%s.npy", L->weights_dir, key);
  if (stat(path, &st) != 0) {
    if (optional) return NULL;
    {
      char b[128];
      int k, shown[ASR_MAX_DIMS];
      for (k = 0; k < ndim; k++) shown[k] = dims[k];
      dims_str(b, sizeof b, ndim, shown);
      at_layer_fail(L, "%s: missing weight '%s' (expected shape %s%s%s%s)", path, key, b,
                    dim_names ? ", (" : "", dim_names ? dim_names : "", dim_names ? ")" : "");
    }
    return NULL;
  }
  snprintf(what, sizeof what, "weight '%s'", key);
  p = load_checked(L, path, what, ndim, dims, dim_names, 0, NULL);
  if (!p) return NULL;
  snprintf(L->w[L->nw].key, sizeof L->w[0].key, "%s", key);
  L->w[L->nw].data = p;
  L->w[L->nw].ndim = ndim;
  for (d = 0; d < ndim; d++) L->w[L->nw].dims[d] = dims[d];
  L->w[L->nw].count = 1;
  for (d = 0; d < ndim; d++) L->w[L->nw].count *= (size_t)dims[d];
  L->nw++;
  return p;
}

asr_real *at_layer_weight(at_layer_ctx *L, const char *key, int ndim, int *dims,
                          const char *dim_names) {
  return weight(L, key, ndim, dims, dim_names, 0);
}
asr_real *at_layer_weight_opt(at_layer_ctx *L, const char *key, int ndim, int *dims,
                              const char *dim_names) {
  return weight(L, key, ndim, dims, dim_names, 1);
}

asr_real *at_layer_input(at_layer_ctx *L, const char *path, int ndim, int *dims,
                         const char *dim_names) {
  return load_checked(L, path, "input", ndim, dims, dim_names, 0, NULL);
}
int *at_layer_input_int(at_layer_ctx *L, const char *path, int ndim, int *dims,
                        const char *dim_names) {
  int *p = NULL;
  load_checked(L, path, "input", ndim, dims, dim_names, 1, &p);
  return p;
}

void at_drop_opts_add(at_opt *opts, at_drop_opts *o) {
  memset(opts, 0, 4 * sizeof *opts);
  o->p = 0, o->coeff = 1, o->skip = 0, o->mask_path = NULL;
  opts[0].name = "dropout", opts[0].type = AT_REAL, opts[0].dst = &o->p, opts[0].lo = 0, opts[0].hi = 0.999999;
  opts[1].name = "drop-mask", opts[1].type = AT_STR, opts[1].dst = &o->mask_path;
  opts[2].name = "stoch-coeff", opts[2].type = AT_REAL, opts[2].dst = &o->coeff, opts[2].lo = 1, opts[2].hi = 1e6;
  opts[3].name = "stoch-skip", opts[3].type = AT_FLAG, opts[3].dst = &o->skip;
}

int at_layer_drop(at_layer_ctx *L, const at_drop_opts *o, size_t n, asr_block_drop *d) {
  int dims[1], *flags;
  size_t i;
  memset(d, 0, sizeof *d);
  d->coeff = o->coeff, d->p = o->p, d->skip = o->skip;
  if (!(o->p > 0) && !o->mask_path && o->coeff == 1 && !o->skip) return 0;
  if (L->impl != AT_IMPL_SIMD) {
    at_layer_fail(L, "--dropout/--drop-mask/--stoch-coeff/--stoch-skip run the _train functions (fast tier): not with --impl");
    return -1;
  }
  if ((o->p > 0) != (o->mask_path != NULL)) {
    at_layer_fail(L, "--dropout P and --drop-mask M.npy come together");
    return -1;
  }
  if (!o->mask_path) return 1;
  dims[0] = (int)n;
  flags = at_layer_input_int(L, o->mask_path, 1, dims, "the block's drop mask size");
  d->mask = (unsigned char *)at_layer_alloc(L, n ? n : 1);
  if (!flags || !d->mask) return -1;
  for (i = 0; i < n; i++) {
    if (flags[i] != 0 && flags[i] != 1) {
      at_layer_fail(L, "%s: flag %d at %lu is not 0 or 1", o->mask_path, flags[i], (unsigned long)i);
      return -1;
    }
    d->mask[i] = (unsigned char)flags[i];
  }
  return 1;
}

const int *at_layer_lengths(at_layer_ctx *L, int N, int T, int min_len) {
  int dims[1], *len, n;
  L->lengths_taken = 1;
  if (!L->lengths_path || L->failed) return NULL;
  dims[0] = N;
  len = at_layer_input_int(L, L->lengths_path, 1, dims, "N");
  if (!len) return NULL;
  for (n = 0; n < N; n++)
    if (len[n] < min_len || len[n] > T) {
      at_layer_fail(L, "%s: length %d of item %d is outside [%d, %d] (T = %d)", L->lengths_path,
                    len[n], n, min_len, T, T);
      return NULL;
    }
  return len;
}

static asr_real *add_output(at_layer_ctx *L, const char *name, int ndim, const int *dims,
                            const asr_real *init) {
  struct at_layer__out *o;
  size_t count = 1;
  int d;
  if (L->failed) return NULL;
  if (L->nout >= (int)(sizeof L->out / sizeof L->out[0])) {
    at_layer_fail(L, "internal limit: too many outputs");
    return NULL;
  }
  for (d = 0; d < ndim; d++) count *= (size_t)dims[d];
  o = &L->out[L->nout];
  snprintf(o->name, sizeof o->name, "%s", name);
  o->ndim = ndim;
  for (d = 0; d < ndim; d++) o->shape[d] = dims[d];
  o->data = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (count ? count : 1));
  if (!o->data) return NULL;
  if (init) memcpy(o->data, init, sizeof(asr_real) * count);
  L->nout++;
  return o->data;
}

asr_real *at_layer_output(at_layer_ctx *L, const char *name, int ndim, const int *dims) {
  return add_output(L, name, ndim, dims, NULL);
}

const asr_real *at_layer_grad_output(at_layer_ctx *L, int ndim, const int *dims) {
  int gd[ASR_MAX_DIMS], d;
  if (!L->has_grad || L->failed) return NULL;
  for (d = 0; d < ndim; d++) gd[d] = dims[d];
  return load_checked(L, L->grad_path, "the output gradient (same shape as y)", ndim, gd,
                      NULL, 0, NULL);
}

asr_real *at_layer_grad_x(at_layer_ctx *L) {
  if (!L->has_grad) return NULL;
  return add_output(L, "grad_x", L->x_ndim, L->x_dims, NULL);
}

static struct at_layer__w *find_weight(at_layer_ctx *L, const char *key) {
  int i;
  for (i = 0; i < L->nw; i++)
    if (!strcmp(L->w[i].key, key)) return &L->w[i];
  return NULL;
}

asr_real *at_layer_grad(at_layer_ctx *L, const char *key) {
  char name[160];
  struct at_layer__w *w;
  if (!L->has_grad || L->failed) return NULL;
  w = find_weight(L, key);
  if (!w) return NULL;   /* an optional weight that is absent: no gradient */
  snprintf(name, sizeof name, "grad_%s", key);
  return add_output(L, name, w->ndim, w->dims, NULL);
}

asr_real *at_layer_output_copy(at_layer_ctx *L, const char *name, const char *key) {
  struct at_layer__w *w = find_weight(L, key);
  if (L->failed) return NULL;
  if (!w) {
    at_layer_fail(L, "internal error: output %s copies weight '%s', which was not loaded", name, key);
    return NULL;
  }
  return add_output(L, name, w->ndim, w->dims, w->data);
}

int at_layer_parse(at_layer_ctx *L, const at_opt *opts, int nopts, const char *opt_usage,
                   const char *x_usage) {
  at_opt all[48];
  char usage[2048];
  char *pos[2];
  int npos, r, k, d, n = 0;
  all[n].name = "weights", all[n].type = AT_STR, all[n].dst = &L->weights_dir, n++;
  all[n].name = "grad-output", all[n].type = AT_STR, all[n].dst = &L->grad_path, n++;
  all[n].name = "lengths", all[n].type = AT_STR, all[n].dst = &L->lengths_path, n++;
  for (k = 0; k < n; k++) all[k].lo = all[k].hi = 0, all[k].choices = NULL;
  for (k = 0; k < nopts && n < (int)(sizeof all / sizeof all[0]); k++) all[n++] = opts[k];
  snprintf(usage, sizeof usage,
           "layer %s --weights DIR [--grad-output G.npy] [--lengths L.npy] %s X.npy OUTDIR\n"
           "  X: %s\n  weights: DIR/<state_dict key>.npy (see docs/layers.md)",
           L->name, opt_usage ? opt_usage : "", x_usage ? x_usage : "");
  r = at_parse(L->argc, L->argv, all, n, pos, 2, 2, &npos, usage);
  if (r) {
    L->failed = 1;
    return r;
  }
  L->impl = at_impl;
  if (!L->weights_dir) return at_layer_fail(L, "--weights DIR is required");
  {
    struct stat st;
    if (stat(L->weights_dir, &st) != 0 || !S_ISDIR(st.st_mode))
      return at_layer_fail(L, "%s: --weights is not a directory", L->weights_dir);
  }
  L->x_path = pos[0];
  L->outdir = pos[1];
  L->has_grad = L->grad_path != NULL;
  {
    asr_array a;
    asr_error err;
    asr_real *x;
    if (asr_npy_read(L->x_path, &a, NULL, &err) != ASR_OK) return at_layer_fail(L, "%s", err.msg);
    if (a.ndim < 1 || a.dtype == ASR_DTYPE_U8) {
      asr_array_free(&a, NULL);
      return at_layer_fail(L, "%s: X must be a float array with at least one dimension", L->x_path);
    }
    for (d = 0; d < a.ndim; d++)
      if (a.shape[d] > 1000000000) {
        asr_array_free(&a, NULL);
        return at_layer_fail(L, "%s: dimension %d is too large", L->x_path, d);
      }
    x = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (a.count ? a.count : 1));
    if (!x || asr_array_to_real(&a, x, 0, &err) != ASR_OK) {
      asr_array_free(&a, NULL);
      return x ? at_layer_fail(L, "%s: %s", L->x_path, err.msg) : 2;
    }
    L->x = x;
    L->x_ndim = a.ndim;
    for (d = 0; d < a.ndim; d++) L->x_dims[d] = (int)a.shape[d];
    L->x_count = a.count;
    asr_array_free(&a, NULL);
  }
  L->parsed = 1;
  return 0;
}

/* Every .npy file in DIR must be a key some layer asked for. */
static int check_extra_weights(at_layer_ctx *L) {
  DIR *dir = opendir(L->weights_dir);
  struct dirent *e;
  if (!dir) return at_layer_fail(L, "%s: cannot list: %s", L->weights_dir, strerror(errno));
  while ((e = readdir(dir)) != NULL) {
    size_t n = strlen(e->d_name);
    char key[256];
    if (n <= 4 || strcmp(e->d_name + n - 4, ".npy") != 0 || n - 4 >= sizeof key) continue;
    memcpy(key, e->d_name, n - 4);
    key[n - 4] = 0;
    if (!find_weight(L, key)) {
      closedir(dir);
      return at_layer_fail(L, "%s/%s: unexpected weight '%s' (layer %s does not use it; "
                           "docs/layers.md lists its keys)", L->weights_dir, e->d_name, key, L->name);
    }
  }
  closedir(dir);
  return 0;
}

/* Writes every output as OUTDIR/.<name>.partial, then renames them all into place. */
static int commit(at_layer_ctx *L) {
  at_outputs none;
  char (*tmp)[4200];
  int i, k;
  none.n = 0;
  if (at_out_commit(&none, L->outdir) != 0) return 2;   /* creates OUTDIR (and parents) */
  tmp = (char (*)[4200])at_layer_alloc(L, sizeof *tmp * (size_t)(L->nout ? L->nout : 1));
  if (!tmp) return 2;
  for (i = 0; i < L->nout; i++) {                       /* no output over an input */
    snprintf(tmp[i], sizeof tmp[i], "%s/%s.npy", L->outdir, L->out[i].name);
    if (at_out_check(tmp[i])) return L->failed = 1, 2;
  }
  for (i = 0; i < L->nout; i++) {
    asr_error err;
    snprintf(tmp[i], sizeof tmp[i], "%s/.%s.npy.partial", L->outdir, L->out[i].name);
    op_remove_stale_temps(tmp[i], OP_STALE_AGE);   /* .NAME.npy.partial.tmpXXXXXXXX of a killed run */
    if (asr_npy_write(tmp[i], ASR_DTYPE_REAL, L->out[i].ndim, L->out[i].shape, L->out[i].data,
                      &err) != ASR_OK) {
      for (k = 0; k < i; k++) remove(tmp[k]);
      return at_layer_fail(L, "%s", err.msg);
    }
  }
  for (i = 0; i < L->nout; i++) {
    char dst[4200];
    snprintf(dst, sizeof dst, "%s/%s.npy", L->outdir, L->out[i].name);
    if (rename(tmp[i], dst) != 0) {
      int e = errno;
      for (k = i; k < L->nout; k++) remove(tmp[k]);
      return at_layer_fail(L, "%s: cannot write: %s", dst, strerror(e));
    }
  }
  return 0;
}

static void layer_list(FILE *fp) {
  int i;
  fprintf(fp, "usage: asrtool layer NAME --weights DIR [--grad-output G.npy] [--lengths L.npy] "
              "[options] X.npy OUTDIR\n"
              "  one layer forward (and backward with G); asrtool layer NAME --help for its "
              "options.\n  NAME is one of:\n");
  for (i = 0; i < N_LAYERS; i++) fprintf(fp, "    %-20s %s\n", LAYERS[i].name, LAYERS[i].summary);
}

int cmd_layer(int argc, char **argv) {
  at_layer_ctx *L;
  int i, r;
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    layer_list(stdout);
    return 0;
  }
  for (i = 0; i < N_LAYERS; i++)
    if (!strcmp(argv[1], LAYERS[i].name)) break;
  if (i == N_LAYERS) {
    fprintf(stderr, "asrtool layer: unknown layer '%s' (asrtool layer --help lists them)\n", argv[1]);
    return 2;
  }
  L = (at_layer_ctx *)calloc(1, sizeof *L);
  if (!L) return at_fail("out of memory");
  L->name = LAYERS[i].name;
  L->argc = argc - 1;
  L->argv = argv + 1;
  r = LAYERS[i].run(L);
  if (r == 0 && L->failed) r = 2;
  if (r == 0 && !L->parsed) r = at_layer_fail(L, "internal error: the layer did not parse its options");
  if (r == 0 && L->lengths_path && !L->lengths_taken)
    r = at_layer_fail(L, "--lengths: layer %s takes no lengths", L->name);
  if (r == 0) r = check_extra_weights(L);
  if (r == 0) r = commit(L);
  if (r == 1) r = 0;   /* --help */
  if (r == 0 && at_verbose) printf("layer %s: %d outputs written to %s\n", L->name, L->nout, L->outdir);
  for (i = 0; i < L->nalloc; i++) free(L->allocs[i]);
  free(L->allocs);
  free(L);
  return r;
}

/* Reports a negative asr_result of a layer function as the one error line. */
static int check_result(at_layer_ctx *L, asr_result r, const char *what) {
  if (r >= 0) return 0;
  return at_layer_fail(L, "%s: %s", what, asr_result_string(r));
}

/* The product of X's dimensions before the last: the row count M of a "(N, ..., C)" input. */
static int leading_rows(const at_layer_ctx *L) {
  size_t m = 1;
  int d;
  for (d = 0; d + 1 < L->x_ndim; d++) m *= (size_t)L->x_dims[d];
  return m > 2000000000u ? -1 : (int)m;
}

/* ======================================================================================
 * 4.1 layers
 * ====================================================================================== */

/* linear: X (N, ..., in), weight (out, in), bias (out) optional -> y (N, ..., out) */
int layer_linear(at_layer_ctx *L) {
  int wd[2], bd[1], yd[ASR_MAX_DIMS], M, I, O, d, r;
  asr_real *W, *b, *y;
  r = at_layer_parse(L, NULL, 0, "", "(N, ..., in)");
  if (r) return r;
  M = leading_rows(L);
  I = L->x_dims[L->x_ndim - 1];
  if (M < 0) return at_layer_fail(L, "%s: too many rows", L->x_path);
  wd[0] = -1;
  wd[1] = I;
  W = at_layer_weight(L, "weight", 2, wd, "out,in");
  O = wd[0];
  bd[0] = O;
  b = at_layer_weight_opt(L, "bias", 1, bd, "out");
  if (at_layer_failed(L)) return 2;
  for (d = 0; d < L->x_ndim; d++) yd[d] = L->x_dims[d];
  yd[L->x_ndim - 1] = O;
  y = at_layer_output(L, "y", L->x_ndim, yd);
  if (!y) return 2;
  r = check_result(L, (L->impl == AT_IMPL_NAIVE ? asr_linear_forward_naive
                       : L->impl == AT_IMPL_REF ? asr_linear_forward_ref : asr_linear_forward)(y, L->x, W, b, M, I, O),
                   "forward");
  if (r) return r;
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, L->x_ndim, yd);
    asr_real *dx = at_layer_grad_x(L), *dW = at_layer_grad(L, "weight"), *db = at_layer_grad(L, "bias");
    if (at_layer_failed(L)) return 2;
    r = check_result(L, (L->impl == AT_IMPL_NAIVE ? asr_linear_backward_naive
                         : L->impl == AT_IMPL_REF ? asr_linear_backward_ref : asr_linear_backward)(
                            dx, dW, db, G, L->x, W, M, I, O), "backward");
  }
  return r;
}

/* layer_norm: X (N, ..., C), weight (C), bias (C) -> y, normalized over the last dim */
int layer_layer_norm(at_layer_ctx *L) {
  double eps = 1e-5;
  at_opt opts[1];
  int cd[1], M, C, r;
  asr_real *g, *b, *y, *mean, *rstd;
  opts[0].name = "eps", opts[0].type = AT_REAL, opts[0].dst = &eps, opts[0].lo = 0, opts[0].hi = 1;
  opts[0].choices = NULL;
  r = at_layer_parse(L, opts, 1, "[--eps 1e-5]", "(N, ..., C)");
  if (r) return r;
  M = leading_rows(L);
  C = L->x_dims[L->x_ndim - 1];
  if (M < 0) return at_layer_fail(L, "%s: too many rows", L->x_path);
  if (C < 1) return at_layer_fail(L, "%s: the normalized dimension C is 0", L->x_path);
  cd[0] = C;
  g = at_layer_weight_opt(L, "weight", 1, cd, "C");
  b = at_layer_weight_opt(L, "bias", 1, cd, "C");
  if (at_layer_failed(L)) return 2;
  if (!g != !b) return at_layer_fail(L, "%s: weight and bias come together (elementwise_affine)", L->weights_dir);
  y = at_layer_output(L, "y", L->x_ndim, L->x_dims);
  mean = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)(M ? M : 1));
  rstd = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)(M ? M : 1));
  if (at_layer_failed(L)) return 2;
  r = check_result(L, asr_layer_norm_forward(y, mean, rstd, L->x, g, b, M, C, eps), "forward");
  if (r) return r;
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, L->x_ndim, L->x_dims);
    asr_real *dx = at_layer_grad_x(L), *dg = at_layer_grad(L, "weight"), *db = at_layer_grad(L, "bias");
    if (at_layer_failed(L)) return 2;
    r = check_result(L, asr_layer_norm_backward(dx, dg, db, G, L->x, mean, rstd, g, M, C), "backward");
  }
  return r;
}

/* X (N, C, T) or (N, C) (T = 1) into N, C, T; fails unless C >= 1 */
static int nct_shape(at_layer_ctx *L, int *N, int *C, int *T) {
  if (L->x_ndim != 2 && L->x_ndim != 3)
    return at_layer_fail(L, "%s: X must be (N, C, T) or (N, C), got %d dimensions", L->x_path, L->x_ndim);
  *N = L->x_dims[0];
  *C = L->x_dims[1];
  *T = L->x_ndim == 3 ? L->x_dims[2] : 1;
  if (*C < 1) return at_layer_fail(L, "%s: C is 0", L->x_path);
  return 0;
}

/* batch_norm: X (N, C, T) or (N, C); weight, bias, running_mean, running_var (C) */
int layer_batch_norm(at_layer_ctx *L) {
  double eps = 1e-5, momentum = 0.1;
  int train = 0, cd[1], N, C, T, r;
  at_opt opts[3];
  const int *len;
  asr_real *g, *b, *rm, *rv, *y, *mean, *rstd;
  memset(opts, 0, sizeof opts);
  opts[0].name = "eps", opts[0].type = AT_REAL, opts[0].dst = &eps, opts[0].hi = 1;
  opts[1].name = "momentum", opts[1].type = AT_REAL, opts[1].dst = &momentum, opts[1].hi = 1;
  opts[2].name = "train", opts[2].type = AT_FLAG, opts[2].dst = &train;
  r = at_layer_parse(L, opts, 3, "[--eps 1e-5] [--momentum 0.1] [--train]", "(N, C, T) or (N, C)");
  if (r) return r;
  if (nct_shape(L, &N, &C, &T)) return 2;
  len = L->x_ndim == 3 ? at_layer_lengths(L, N, T, 0) : NULL;
  cd[0] = C;
  g = at_layer_weight_opt(L, "weight", 1, cd, "C");
  b = at_layer_weight_opt(L, "bias", 1, cd, "C");
  rm = at_layer_weight(L, "running_mean", 1, cd, "C");
  rv = at_layer_weight(L, "running_var", 1, cd, "C");
  at_layer_weight_opt(L, "num_batches_tracked", 0, cd, NULL);  /* torch saves it; unused */
  if (at_layer_failed(L)) return 2;
  if (!g != !b) return at_layer_fail(L, "%s: weight and bias come together (affine)", L->weights_dir);
  y = at_layer_output(L, "y", L->x_ndim, L->x_dims);
  if (train) {
    /* the updated running statistics are outputs too */
    rm = at_layer_output_copy(L, "running_mean", "running_mean");
    rv = at_layer_output_copy(L, "running_var", "running_var");
  }
  mean = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)C);
  rstd = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)C);
  if (at_layer_failed(L)) return 2;
  {
    long cnt = 0;
    int n;
    for (n = 0; n < N; n++) cnt += len ? len[n] : T;
    if (train && cnt < 2)
      return at_layer_fail(L, "%s: --train needs more than 1 value per channel (got %ld)", L->x_path, cnt);
  }
  r = check_result(L, asr_batch_norm_forward(y, mean, rstd, rm, rv, L->x, g, b, len, N, C, T, train,
                                             momentum, eps), "forward");
  if (r) return r;
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, L->x_ndim, L->x_dims);
    asr_real *dx = at_layer_grad_x(L), *dg = at_layer_grad(L, "weight"), *db = at_layer_grad(L, "bias");
    if (at_layer_failed(L)) return 2;
    r = check_result(L, asr_batch_norm_backward(dx, dg, db, G, L->x, mean, rstd, g, len, N, C, T, train),
                     "backward");
  }
  return r;
}

/* group_norm: X (N, C, T) or (N, C); weight, bias (C) optional; --groups G divides C */
int layer_group_norm(at_layer_ctx *L) {
  double eps = 1e-5;
  int groups = 1, cd[1], N, C, T, r;
  at_opt opts[2];
  asr_real *g, *b, *y, *mean, *rstd;
  memset(opts, 0, sizeof opts);
  opts[0].name = "eps", opts[0].type = AT_REAL, opts[0].dst = &eps, opts[0].hi = 1;
  opts[1].name = "groups", opts[1].type = AT_INT, opts[1].dst = &groups, opts[1].lo = 1, opts[1].hi = 1 << 20;
  r = at_layer_parse(L, opts, 2, "[--groups 1] [--eps 1e-5]", "(N, C, T) or (N, C)");
  if (r) return r;
  if (nct_shape(L, &N, &C, &T)) return 2;
  if (T < 1) return at_layer_fail(L, "%s: T is 0", L->x_path);
  if (C % groups) return at_layer_fail(L, "%s: --groups %d does not divide C = %d", L->x_path, groups, C);
  cd[0] = C;
  g = at_layer_weight_opt(L, "weight", 1, cd, "C");
  b = at_layer_weight_opt(L, "bias", 1, cd, "C");
  if (at_layer_failed(L)) return 2;
  if (!g != !b) return at_layer_fail(L, "%s: weight and bias come together (affine)", L->weights_dir);
  y = at_layer_output(L, "y", L->x_ndim, L->x_dims);
  mean = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)(N ? N : 1) * (size_t)groups);
  rstd = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)(N ? N : 1) * (size_t)groups);
  if (at_layer_failed(L)) return 2;
  r = check_result(L, (L->impl == AT_IMPL_NAIVE ? asr_group_norm_forward_naive
                       : L->impl == AT_IMPL_REF ? asr_group_norm_forward_ref : asr_group_norm_forward)(
                          y, mean, rstd, L->x, g, b, N, C, T, groups, eps), "forward");
  if (r) return r;
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, L->x_ndim, L->x_dims);
    asr_real *dx = at_layer_grad_x(L), *dg = at_layer_grad(L, "weight"), *db = at_layer_grad(L, "bias");
    if (at_layer_failed(L)) return 2;
    r = check_result(L, (L->impl == AT_IMPL_NAIVE ? asr_group_norm_backward_naive
                         : L->impl == AT_IMPL_REF ? asr_group_norm_backward_ref : asr_group_norm_backward)(
                            dx, dg, db, G, L->x, mean, rstd, g, N, C, T, groups), "backward");
  }
  return r;
}

/* ======================================================================================
 * 4.2 layers
 * ====================================================================================== */
static void opt_int(at_opt *o, const char *name, int *dst, double lo, double hi) {
  o->name = name, o->type = AT_INT, o->dst = dst, o->lo = lo, o->hi = hi, o->choices = NULL;
}

/* Validates conv sizes with asr_conv1d_validate's message, naming X. */
static int conv_validate(at_layer_ctx *L, const asr_conv1d_dims *d) {
  asr_error err;
  if (asr_conv1d_validate(d, &err) != ASR_OK) return at_layer_fail(L, "%s: %s", L->x_path, err.msg);
  return 0;
}

/* the conv1d tier --impl picks */
static asr_conv1d_forward_fn conv_fwd(int impl) {
  return impl == AT_IMPL_NAIVE ? asr_conv1d_forward_naive : impl == AT_IMPL_REF ? asr_conv1d_forward_ref
                                                                               : asr_conv1d_forward;
}
static asr_conv1d_backward_fn conv_bwd(int impl) {
  return impl == AT_IMPL_NAIVE ? asr_conv1d_backward_naive : impl == AT_IMPL_REF ? asr_conv1d_backward_ref
                                                                                : asr_conv1d_backward;
}

/* conv1d: X (N, C_in, T), weight (C_out, C_in/groups, K), bias (C_out) optional */
int layer_conv1d(at_layer_ctx *L) {
  int stride = 1, padding = 0, dilation = 1, groups = 1, wd[3], bd[1], yd[3], r;
  at_opt opts[4];
  asr_conv1d_dims d;
  const int *len;
  asr_real *w, *b, *y, *work;
  size_t ws;
  opt_int(&opts[0], "stride", &stride, 1, 1e6);
  opt_int(&opts[1], "padding", &padding, 0, 1e6);
  opt_int(&opts[2], "dilation", &dilation, 1, 1e6);
  opt_int(&opts[3], "groups", &groups, 1, 1e6);
  r = at_layer_parse(L, opts, 4, "[--stride 1] [--padding 0] [--dilation 1] [--groups 1]",
                     "(N, C_in, T)");
  if (r) return r;
  if (L->x_ndim != 3) return at_layer_fail(L, "%s: X must be (N, C_in, T), got %d dimensions", L->x_path, L->x_ndim);
  if (L->x_dims[1] % groups)
    return at_layer_fail(L, "--groups %d does not divide in_channels %d (X dimension 1)", groups, L->x_dims[1]);
  len = at_layer_lengths(L, L->x_dims[0], L->x_dims[2], 0);
  wd[0] = -1, wd[1] = L->x_dims[1] / groups, wd[2] = -1;
  w = at_layer_weight(L, "weight", 3, wd, "out_channels,in_channels/groups,kernel");
  bd[0] = wd[0];
  b = at_layer_weight_opt(L, "bias", 1, bd, "out_channels");
  if (at_layer_failed(L)) return 2;
  asr_conv1d_dims_init(&d, L->x_dims[0], L->x_dims[1], wd[0], L->x_dims[2], wd[2]);
  d.stride = stride, d.padding = padding, d.dilation = dilation, d.groups = groups;
  if (wd[0] % groups)
    return at_layer_fail(L, "%s/weight.npy: out_channels %d is not divisible by --groups %d", L->weights_dir,
                         wd[0], groups);
  if (conv_validate(L, &d)) return 2;
  yd[0] = d.N, yd[1] = d.C_out, yd[2] = asr_conv1d_out_frames(d.T_in, d.K, stride, padding, dilation);
  ws = asr_conv1d_workspace_size(&d);
  y = at_layer_output(L, "y", 3, yd);
  work = (asr_real *)at_layer_alloc(L, ws);
  if (at_layer_failed(L)) return 2;
  r = check_result(L, conv_fwd(L->impl)(y, L->x, w, b, len, &d, work, ws), "forward");
  if (r) return r;
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, 3, yd);
    asr_real *dx = at_layer_grad_x(L), *dw = at_layer_grad(L, "weight"), *db = at_layer_grad(L, "bias");
    if (at_layer_failed(L)) return 2;
    r = check_result(L, conv_bwd(L->impl)(dx, dw, db, G, L->x, w, len, &d, work, ws), "backward");
  }
  return r;
}

/* dwsep_conv1d: depthwise.weight (C,1,K), depthwise.bias (C), pointwise.weight (C_out,C,1),
 * pointwise.bias (C_out); biases optional */
int layer_dwsep_conv1d(at_layer_ctx *L) {
  int stride = 1, padding = 0, dilation = 1, dwd[3], pwd[3], bd[1], hd[3], yd[3], r;
  at_opt opts[3];
  asr_conv1d_dims d;
  const int *len;
  asr_real *dw_w, *dw_b, *pw_w, *pw_b, *y, *h, *work;
  size_t ws;
  opt_int(&opts[0], "stride", &stride, 1, 1e6);
  opt_int(&opts[1], "padding", &padding, 0, 1e6);
  opt_int(&opts[2], "dilation", &dilation, 1, 1e6);
  r = at_layer_parse(L, opts, 3, "[--stride 1] [--padding 0] [--dilation 1]", "(N, C, T)");
  if (r) return r;
  if (L->x_ndim != 3) return at_layer_fail(L, "%s: X must be (N, C, T), got %d dimensions", L->x_path, L->x_ndim);
  len = at_layer_lengths(L, L->x_dims[0], L->x_dims[2], 0);
  dwd[0] = L->x_dims[1], dwd[1] = 1, dwd[2] = -1;
  dw_w = at_layer_weight(L, "depthwise.weight", 3, dwd, "channels,1,kernel");
  bd[0] = L->x_dims[1];
  dw_b = at_layer_weight_opt(L, "depthwise.bias", 1, bd, "channels");
  pwd[0] = -1, pwd[1] = L->x_dims[1], pwd[2] = 1;
  pw_w = at_layer_weight(L, "pointwise.weight", 3, pwd, "out_channels,channels,1");
  bd[0] = pwd[0];
  pw_b = at_layer_weight_opt(L, "pointwise.bias", 1, bd, "out_channels");
  if (at_layer_failed(L)) return 2;
  asr_conv1d_dims_init(&d, L->x_dims[0], L->x_dims[1], pwd[0], L->x_dims[2], dwd[2]);
  d.stride = stride, d.padding = padding, d.dilation = dilation, d.groups = d.C_in;
  {
    asr_conv1d_dims depthwise = d;   /* the stage that sees time: C -> C */
    depthwise.C_out = d.C_in;
    if (conv_validate(L, &depthwise)) return 2;
  }
  yd[0] = hd[0] = d.N, yd[1] = d.C_out, hd[1] = d.C_in;
  yd[2] = hd[2] = asr_conv1d_out_frames(d.T_in, d.K, stride, padding, dilation);
  ws = asr_dwsep_conv1d_workspace_size(&d);
  y = at_layer_output(L, "y", 3, yd);
  h = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)hd[0] * hd[1] * hd[2]);
  work = (asr_real *)at_layer_alloc(L, ws);
  if (at_layer_failed(L)) return 2;
  r = check_result(L, (L->impl == AT_IMPL_NAIVE ? asr_dwsep_conv1d_forward_naive
                       : L->impl == AT_IMPL_REF ? asr_dwsep_conv1d_forward_ref
                                                : asr_dwsep_conv1d_forward)(y, h, L->x, dw_w, dw_b, pw_w, pw_b,
                                                                            len, &d, work, ws),
                   "forward");
  if (r) return r;
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, 3, yd);
    asr_real *dx = at_layer_grad_x(L);
    asr_real *g_dw_w = at_layer_grad(L, "depthwise.weight"), *g_dw_b = at_layer_grad(L, "depthwise.bias");
    asr_real *g_pw_w = at_layer_grad(L, "pointwise.weight"), *g_pw_b = at_layer_grad(L, "pointwise.bias");
    if (at_layer_failed(L)) return 2;
    r = check_result(L, (L->impl == AT_IMPL_NAIVE ? asr_dwsep_conv1d_backward_naive
                         : L->impl == AT_IMPL_REF ? asr_dwsep_conv1d_backward_ref
                                                  : asr_dwsep_conv1d_backward)(dx, g_dw_w, g_dw_b, g_pw_w,
                                                                               g_pw_b, G, h, L->x, dw_w,
                                                                               pw_w, len, &d, work, ws),
                     "backward");
  }
  return r;
}

/* se: X (N, C, T); fc1.weight (R, C), fc1.bias (R), fc2.weight (C, R), fc2.bias (C) */
int layer_se(at_layer_ctx *L) {
  int w1d[2], b1d[1], w2d[2], b2d[1], N, C, R, T, r;
  const int *len;
  asr_real *w1, *b1, *w2, *b2, *y, *mean, *z, *gate, *work;
  size_t ws;
  r = at_layer_parse(L, NULL, 0, "", "(N, C, T)");
  if (r) return r;
  if (L->x_ndim != 3) return at_layer_fail(L, "%s: X must be (N, C, T), got %d dimensions", L->x_path, L->x_ndim);
  N = L->x_dims[0], C = L->x_dims[1], T = L->x_dims[2];
  if (C < 1 || T < 1) return at_layer_fail(L, "%s: C and T must be >= 1", L->x_path);
  len = at_layer_lengths(L, N, T, 1);
  w1d[0] = -1, w1d[1] = C;
  w1 = at_layer_weight(L, "fc1.weight", 2, w1d, "C/r,C");
  R = w1d[0];
  b1d[0] = R;
  b1 = at_layer_weight_opt(L, "fc1.bias", 1, b1d, "C/r");
  w2d[0] = C, w2d[1] = R;
  w2 = at_layer_weight(L, "fc2.weight", 2, w2d, "C,C/r");
  b2d[0] = C;
  b2 = at_layer_weight_opt(L, "fc2.bias", 1, b2d, "C");
  if (at_layer_failed(L)) return 2;
  if (R < 1) return at_layer_fail(L, "%s/fc1.weight.npy: C/r is 0", L->weights_dir);
  ws = asr_se_workspace_size(N, C, R);
  y = at_layer_output(L, "y", 3, L->x_dims);
  mean = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)N * C);
  gate = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)N * C);
  z = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)N * R);
  work = (asr_real *)at_layer_alloc(L, ws);
  if (at_layer_failed(L)) return 2;
  r = check_result(L, (L->impl == AT_IMPL_NAIVE ? asr_se_forward_naive : L->impl == AT_IMPL_REF ? asr_se_forward_ref
                                                                                                 : asr_se_forward)(
                          y, mean, z, gate, L->x, w1, b1, w2, b2, len, N, C, R, T, work, ws),
                   "forward");
  if (r) return r;
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, 3, L->x_dims);
    asr_real *dx = at_layer_grad_x(L), *dw1 = at_layer_grad(L, "fc1.weight"), *db1 = at_layer_grad(L, "fc1.bias");
    asr_real *dw2 = at_layer_grad(L, "fc2.weight"), *db2 = at_layer_grad(L, "fc2.bias");
    if (at_layer_failed(L)) return 2;
    r = check_result(L, (L->impl == AT_IMPL_NAIVE ? asr_se_backward_naive
                         : L->impl == AT_IMPL_REF ? asr_se_backward_ref
                                                  : asr_se_backward)(dx, dw1, db1, dw2, db2, G, L->x, mean, z, gate,
                                                                     w1, w2, len, N, C, R, T, work, ws),
                     "backward");
  }
  return r;
}

/* one BatchNorm1d(C) of a state_dict under `prefix` (weight and bias optional together) */
static int load_bn(at_layer_ctx *L, const char *prefix, int C, asr_bn_params *bn) {
  char key[160];
  int cd[1];
  cd[0] = C;
  snprintf(key, sizeof key, "%s.weight", prefix);
  bn->weight = at_layer_weight_opt(L, key, 1, cd, "C");
  snprintf(key, sizeof key, "%s.bias", prefix);
  bn->bias = at_layer_weight_opt(L, key, 1, cd, "C");
  snprintf(key, sizeof key, "%s.running_mean", prefix);
  bn->running_mean = at_layer_weight(L, key, 1, cd, "C");
  snprintf(key, sizeof key, "%s.running_var", prefix);
  bn->running_var = at_layer_weight(L, key, 1, cd, "C");
  snprintf(key, sizeof key, "%s.num_batches_tracked", prefix);
  at_layer_weight_opt(L, key, 0, cd, NULL);
  if (!L->failed && !bn->weight != !bn->bias)
    return at_layer_fail(L, "%s/%s.weight, .bias: present together or not at all", L->weights_dir, prefix);
  return L->failed ? 2 : 0;
}
static void grad_bn(at_layer_ctx *L, const char *prefix, asr_bn_grads *g) {
  char key[160];
  snprintf(key, sizeof key, "%s.weight", prefix);
  g->weight = at_layer_grad(L, key);
  snprintf(key, sizeof key, "%s.bias", prefix);
  g->bias = at_layer_grad(L, key);
}
/* in --train, the running statistics are updated in copies that are written out */
static void train_bn(at_layer_ctx *L, const char *prefix, asr_bn_params *bn) {
  char key[160];
  snprintf(key, sizeof key, "%s.running_mean", prefix);
  bn->running_mean = at_layer_output_copy(L, key, key);
  snprintf(key, sizeof key, "%s.running_var", prefix);
  bn->running_var = at_layer_output_copy(L, key, key);
}

static int key_exists(at_layer_ctx *L, const char *key) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s.npy", L->weights_dir, key);
  return stat(path, &st) == 0;
}

/* contextnet_block: X (N, C_in, T); keys in docs/contextnet.md (tests/torch's
 * ContextNetBlock): layers.{i}.conv.depthwise.weight, layers.{i}.conv.pointwise.weight
 * (+ optional .bias), layers.{i}.bn.*, se.fc1/fc2.*, residual.conv.weight, residual.bn.* */
int layer_contextnet_block(at_layer_ctx *L) {
  int kernel = 5, stride = 1, train = 0, m, i, d3[3], d1[1], d2[2], r, Tm, yd[3], drop;
  double eps = 1e-5, momentum = 0.1;
  at_opt opts[9];
  at_drop_opts dro;
  asr_block_drop d;
  asr_contextnet_block_config cfg;
  asr_contextnet_block_params p;
  const int *len;
  asr_real *y;
  void *saved, *work;
  size_t sb, wb;
  char key[160];
  memset(opts, 0, sizeof opts);
  opt_int(&opts[0], "kernel", &kernel, 1, 1e4);
  opt_int(&opts[1], "stride", &stride, 1, 1e4);
  opts[2].name = "train", opts[2].type = AT_FLAG, opts[2].dst = &train;
  opts[3].name = "eps", opts[3].type = AT_REAL, opts[3].dst = &eps, opts[3].hi = 1;
  opts[4].name = "momentum", opts[4].type = AT_REAL, opts[4].dst = &momentum, opts[4].hi = 1;
  at_drop_opts_add(opts + 5, &dro);
  r = at_layer_parse(L, opts, 9, "[--kernel 5] [--stride 1] [--train] [--eps 1e-5] [--momentum 0.1] "
                     "[--dropout P --drop-mask M.npy] [--stoch-coeff C] [--stoch-skip]",
                     "(N, C_in, T)");
  if (r) return r;
  if (L->x_ndim != 3) return at_layer_fail(L, "%s: X must be (N, C_in, T), got %d dimensions", L->x_path, L->x_ndim);
  memset(&p, 0, sizeof p);
  asr_contextnet_block_config_init(&cfg, L->x_dims[0], L->x_dims[1], 1, L->x_dims[2]);
  cfg.kernel = kernel, cfg.stride = stride, cfg.training = train, cfg.bn_eps = eps, cfg.bn_momentum = momentum;
  /* the number of layers is the number of layers.{i} present */
  for (m = 0; m < ASR_CONTEXTNET_MAX_LAYERS; m++) {
    snprintf(key, sizeof key, "layers.%d.conv.depthwise.weight", m);
    if (!key_exists(L, key)) break;
  }
  if (m == 0) return at_layer_fail(L, "%s: missing weight 'layers.0.conv.depthwise.weight'", L->weights_dir);
  cfg.num_layers = m;
  if (kernel % 2 == 0) return at_layer_fail(L, "--kernel %d: must be odd (the padding is (K-1)/2)", kernel);
  len = at_layer_lengths(L, cfg.N, cfg.T, 1);
  for (i = 0; i < m; i++) {
    int Cin = i == 0 ? cfg.C_in : cfg.C_out;
    snprintf(key, sizeof key, "layers.%d.conv.depthwise.weight", i);
    d3[0] = Cin, d3[1] = 1, d3[2] = kernel;
    p.layer[i].dw_w = at_layer_weight(L, key, 3, d3, "channels,1,kernel");
    snprintf(key, sizeof key, "layers.%d.conv.depthwise.bias", i);
    d1[0] = Cin;
    p.layer[i].dw_b = at_layer_weight_opt(L, key, 1, d1, "channels");
    snprintf(key, sizeof key, "layers.%d.conv.pointwise.weight", i);
    d3[0] = i == 0 ? -1 : cfg.C_out, d3[1] = Cin, d3[2] = 1;
    p.layer[i].pw_w = at_layer_weight(L, key, 3, d3, "out_channels,channels,1");
    if (i == 0) cfg.C_out = d3[0];
    snprintf(key, sizeof key, "layers.%d.conv.pointwise.bias", i);
    d1[0] = cfg.C_out;
    p.layer[i].pw_b = at_layer_weight_opt(L, key, 1, d1, "out_channels");
    snprintf(key, sizeof key, "layers.%d.bn", i);
    if (!L->failed) load_bn(L, key, cfg.C_out, &p.layer[i].bn);
  }
  d2[0] = -1, d2[1] = cfg.C_out;
  p.se_w1 = at_layer_weight(L, "se.fc1.weight", 2, d2, "C/r,C");
  cfg.se_channels = d2[0];
  d1[0] = cfg.se_channels;
  p.se_b1 = at_layer_weight_opt(L, "se.fc1.bias", 1, d1, "C/r");
  d2[0] = cfg.C_out, d2[1] = cfg.se_channels;
  p.se_w2 = at_layer_weight(L, "se.fc2.weight", 2, d2, "C,C/r");
  d1[0] = cfg.C_out;
  p.se_b2 = at_layer_weight_opt(L, "se.fc2.bias", 1, d1, "C");
  cfg.residual = key_exists(L, "residual.conv.weight");
  if (cfg.residual) {
    d3[0] = cfg.C_out, d3[1] = cfg.C_in, d3[2] = 1;
    p.res_w = at_layer_weight(L, "residual.conv.weight", 3, d3, "out_channels,in_channels,1");
    d1[0] = cfg.C_out;
    p.res_b = at_layer_weight_opt(L, "residual.conv.bias", 1, d1, "out_channels");
    if (!L->failed) load_bn(L, "residual.bn", cfg.C_out, &p.res_bn);
  }
  if (at_layer_failed(L)) return 2;
  {
    asr_error err;
    if (asr_contextnet_block_validate(&cfg, &err) != ASR_OK) return at_layer_fail(L, "%s", err.msg);
  }
  if (train) {
    for (i = 0; i < m; i++) {
      snprintf(key, sizeof key, "layers.%d.bn", i);
      train_bn(L, key, &p.layer[i].bn);
    }
    if (cfg.residual) train_bn(L, "residual.bn", &p.res_bn);
    {
      long cnt = 0;
      int n, lo[1];
      for (n = 0; n < cfg.N; n++) {
        asr_contextnet_block_config one = cfg;
        one.T = len ? len[n] : cfg.T;
        lo[0] = asr_contextnet_block_out_frames(&one);
        cnt += lo[0];
      }
      if (cnt < 2) return at_layer_fail(L, "%s: --train needs more than 1 output frame per channel", L->x_path);
    }
  }
  Tm = asr_contextnet_block_out_frames(&cfg);
  yd[0] = cfg.N, yd[1] = cfg.C_out, yd[2] = Tm;
  sb = asr_contextnet_block_saved_size(&cfg);
  wb = asr_contextnet_block_workspace_size(&cfg);
  if (sb == (size_t)-1 || wb == (size_t)-1) return at_layer_fail(L, "%s: too large", L->x_path);
  drop = at_layer_drop(L, &dro, asr_contextnet_block_drop_mask_size(&cfg), &d);
  y = at_layer_output(L, "y", 3, yd);
  saved = at_layer_alloc(L, sb);
  work = at_layer_alloc(L, wb);
  if (at_layer_failed(L) || drop < 0) return 2;
  r = check_result(L, drop ? asr_contextnet_block_forward_train(y, saved, sb, L->x, &p, len, &cfg, &d, work, wb)
                           : (L->impl == AT_IMPL_NAIVE ? asr_contextnet_block_forward_naive
                              : L->impl == AT_IMPL_REF ? asr_contextnet_block_forward_ref
                                                       : asr_contextnet_block_forward)(y, saved, sb, L->x, &p, len,
                                                                                       &cfg, work, wb),
                   "forward");
  if (r) return r;
  if (L->has_grad) {
    asr_contextnet_block_grads g;
    const asr_real *G = at_layer_grad_output(L, 3, yd);
    asr_real *dx = at_layer_grad_x(L);
    memset(&g, 0, sizeof g);
    for (i = 0; i < m; i++) {
      snprintf(key, sizeof key, "layers.%d.conv.depthwise.weight", i);
      g.layer[i].dw_w = at_layer_grad(L, key);
      snprintf(key, sizeof key, "layers.%d.conv.depthwise.bias", i);
      g.layer[i].dw_b = at_layer_grad(L, key);
      snprintf(key, sizeof key, "layers.%d.conv.pointwise.weight", i);
      g.layer[i].pw_w = at_layer_grad(L, key);
      snprintf(key, sizeof key, "layers.%d.conv.pointwise.bias", i);
      g.layer[i].pw_b = at_layer_grad(L, key);
      snprintf(key, sizeof key, "layers.%d.bn", i);
      grad_bn(L, key, &g.layer[i].bn);
    }
    g.se_w1 = at_layer_grad(L, "se.fc1.weight"), g.se_b1 = at_layer_grad(L, "se.fc1.bias");
    g.se_w2 = at_layer_grad(L, "se.fc2.weight"), g.se_b2 = at_layer_grad(L, "se.fc2.bias");
    if (cfg.residual) {
      g.res_w = at_layer_grad(L, "residual.conv.weight"), g.res_b = at_layer_grad(L, "residual.conv.bias");
      grad_bn(L, "residual.bn", &g.res_bn);
    }
    if (at_layer_failed(L)) return 2;
    r = check_result(L, drop ? asr_contextnet_block_backward_train(dx, &g, G, saved, sb, L->x, &p, len, &cfg, &d, work,
                                                                   wb)
                             : (L->impl == AT_IMPL_NAIVE ? asr_contextnet_block_backward_naive
                                : L->impl == AT_IMPL_REF ? asr_contextnet_block_backward_ref
                                                         : asr_contextnet_block_backward)(dx, &g, G, saved, sb, L->x,
                                                                                          &p, len, &cfg, work, wb),
                     "backward");
  }
  return r;
}

/* cross_entropy: X logits (N, ..., V), --targets (N, ...) ints; no weights. y is the loss
 * (reduction none: X's shape without V; sum/mean: a scalar); with G, grad_x. */
int layer_cross_entropy(at_layer_ctx *L) {
  const char *targets_path = NULL;
  double smoothing = 0;
  int ignore_index = -100, reduction = 2, M, V, d, r, cnt, tdims[ASR_MAX_DIMS], yd[ASR_MAX_DIMS], m;
  at_opt opts[4];
  int *tg;
  asr_real *loss, *logp, *y, *dl;
  memset(opts, 0, sizeof opts);
  opts[0].name = "targets", opts[0].type = AT_STR, opts[0].dst = &targets_path;
  opts[1].name = "label-smoothing", opts[1].type = AT_REAL, opts[1].dst = &smoothing, opts[1].hi = 1;
  opt_int(&opts[2], "ignore-index", &ignore_index, -2147483647.0, 2147483647.0);
  opts[3].name = "reduction", opts[3].type = AT_CHOICE, opts[3].dst = &reduction, opts[3].choices = "none|sum|mean";
  r = at_layer_parse(L, opts, 4, "--targets T.npy [--label-smoothing 0] [--ignore-index -100] "
                     "[--reduction none|sum|mean]", "logits (N, ..., V)");
  if (r) return r;
  if (!targets_path) return at_layer_fail(L, "--targets T.npy is required");
  M = leading_rows(L);
  V = L->x_dims[L->x_ndim - 1];
  if (M < 0 || V < 1) return at_layer_fail(L, "%s: bad shape", L->x_path);
  for (d = 0; d + 1 < L->x_ndim; d++) tdims[d] = L->x_dims[d];
  tg = at_layer_input_int(L, targets_path, L->x_ndim - 1, tdims, NULL);
  if (at_layer_failed(L)) return 2;
  for (m = 0; m < M; m++)
    if (tg[m] != ignore_index && (tg[m] < 0 || tg[m] >= V))
      return at_layer_fail(L, "%s: target %d at %d is outside [0, %d) and not --ignore-index %d", targets_path,
                           tg[m], m, V, ignore_index);
  loss = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)(M ? M : 1));
  logp = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * L->x_count);
  dl = (asr_real *)at_layer_alloc(L, sizeof(asr_real) * (size_t)(M ? M : 1));
  if (reduction == 0) {
    for (d = 0; d + 1 < L->x_ndim; d++) yd[d] = L->x_dims[d];
    y = at_layer_output(L, "y", L->x_ndim - 1, yd);
  } else {
    y = at_layer_output(L, "y", 0, yd);
  }
  if (at_layer_failed(L)) return 2;
  r = check_result(L, asr_cross_entropy_forward(loss, logp, &cnt, L->x, tg, M, V, smoothing, ignore_index), "forward");
  if (r) return r;
  if (reduction == 2 && cnt == 0)   /* torch returns 0/0 = NaN; asrtool says why instead */
    return at_layer_fail(L, "%s: every target is --ignore-index %d: the mean over 0 rows is undefined",
                         targets_path, ignore_index);
  if (reduction == 0) {
    memcpy(y, loss, sizeof(asr_real) * (size_t)M);
  } else {
    double s = 0;
    for (m = 0; m < M; m++) s += loss[m];
    /* torch: 'mean' divides by the number of non-ignored rows */
    y[0] = (asr_real)(reduction == 1 ? s : s / cnt);
  }
  if (L->has_grad) {
    const asr_real *G = at_layer_grad_output(L, reduction == 0 ? L->x_ndim - 1 : 0, yd);
    asr_real *dx = at_layer_grad_x(L);
    if (at_layer_failed(L)) return 2;
    for (m = 0; m < M; m++) dl[m] = reduction == 0 ? G[m] : reduction == 1 ? G[0] : (asr_real)(G[0] / cnt);
    r = check_result(L, asr_cross_entropy_backward(dx, dl, logp, tg, M, V, smoothing, ignore_index), "backward");
  }
  return r;
}

/* ======================================================================================
 * Gradient checks (asrtool gradcheck NAME): objective f = sum(G * y(x, params)) with a
 * random G; analytic gradients from the backward functions; asr_gradcheck compares.
 * ====================================================================================== */
typedef struct gc_buf {
  asr_real *p[16];
  int n;
} gc_buf;
static asr_real *gc_new(gc_buf *B, size_t n, asr_rng *rng, double scale) {
  asr_real *p = (asr_real *)calloc(n ? n : 1, sizeof(asr_real));
  size_t i;
  if (!p) return NULL;
  if (rng)
    for (i = 0; i < n; i++) p[i] = (asr_real)(scale * asr_rng_normal(rng));
  B->p[B->n++] = p;
  return p;
}
static void gc_free(gc_buf *B) {
  int i;
  for (i = 0; i < B->n; i++) free(B->p[i]);
}
static double gc_dot(const asr_real *a, const asr_real *b, size_t n) {
  double s = 0;
  size_t i;
  for (i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

typedef struct gc_lin {
  asr_real *x, *W, *b, *y, *G;
  int M, I, O;
} gc_lin;
static double gc_lin_f(void *v) {
  gc_lin *c = (gc_lin *)v;
  asr_linear_forward(c->y, c->x, c->W, c->b, c->M, c->I, c->O);
  return gc_dot(c->G, c->y, (size_t)c->M * c->O);
}
int gc_layer_linear(uint64_t seed, asr_gradcheck_report *rep) {
  gc_buf B;
  gc_lin c;
  asr_rng rng;
  asr_real *dx, *dW, *db;
  asr_gradcheck_param p[3];
  asr_result r;
  B.n = 0;
  asr_rng_seed(&rng, seed, 11);
  c.M = 6, c.I = 5, c.O = 4;
  c.x = gc_new(&B, 30, &rng, 1);
  c.W = gc_new(&B, 20, &rng, 0.5);
  c.b = gc_new(&B, 4, &rng, 0.5);
  c.G = gc_new(&B, 24, &rng, 1);
  c.y = gc_new(&B, 24, NULL, 0);
  dx = gc_new(&B, 30, NULL, 0);
  dW = gc_new(&B, 20, NULL, 0);
  db = gc_new(&B, 4, NULL, 0);
  if (B.n != 8) return gc_free(&B), 2;
  r = asr_linear_backward(dx, dW, db, c.G, c.x, c.W, c.M, c.I, c.O);
  p[0].name = "x", p[0].x = c.x, p[0].grad = dx, p[0].n = 30;
  p[1].name = "weight", p[1].x = c.W, p[1].grad = dW, p[1].n = 20;
  p[2].name = "bias", p[2].x = c.b, p[2].grad = db, p[2].n = 4;
  if (r == ASR_OK) r = asr_gradcheck(gc_lin_f, &c, p, 3, NULL, &rng, rep);
  gc_free(&B);
  return r == ASR_OK ? 0 : 2;
}

typedef struct gc_ln {
  asr_real *x, *g, *b, *y, *G, *mean, *rstd;
  int M, C;
} gc_ln;
static double gc_ln_f(void *v) {
  gc_ln *c = (gc_ln *)v;
  asr_layer_norm_forward(c->y, c->mean, c->rstd, c->x, c->g, c->b, c->M, c->C, 1e-5);
  return gc_dot(c->G, c->y, (size_t)c->M * c->C);
}
int gc_layer_layer_norm(uint64_t seed, asr_gradcheck_report *rep) {
  gc_buf B;
  gc_ln c;
  asr_rng rng;
  asr_real *dx, *dg, *db;
  asr_gradcheck_param p[3];
  asr_result r;
  B.n = 0;
  asr_rng_seed(&rng, seed, 12);
  c.M = 4, c.C = 7;
  c.x = gc_new(&B, 28, &rng, 2);
  c.g = gc_new(&B, 7, &rng, 1);
  c.b = gc_new(&B, 7, &rng, 1);
  c.G = gc_new(&B, 28, &rng, 1);
  c.y = gc_new(&B, 28, NULL, 0);
  c.mean = gc_new(&B, 4, NULL, 0);
  c.rstd = gc_new(&B, 4, NULL, 0);
  dx = gc_new(&B, 28, NULL, 0);
  dg = gc_new(&B, 7, NULL, 0);
  db = gc_new(&B, 7, NULL, 0);
  if (B.n != 10) return gc_free(&B), 2;
  gc_ln_f(&c);
  r = asr_layer_norm_backward(dx, dg, db, c.G, c.x, c.mean, c.rstd, c.g, c.M, c.C);
  p[0].name = "x", p[0].x = c.x, p[0].grad = dx, p[0].n = 28;
  p[1].name = "weight", p[1].x = c.g, p[1].grad = dg, p[1].n = 7;
  p[2].name = "bias", p[2].x = c.b, p[2].grad = db, p[2].n = 7;
  if (r == ASR_OK) r = asr_gradcheck(gc_ln_f, &c, p, 3, NULL, &rng, rep);
  gc_free(&B);
  return r == ASR_OK ? 0 : 2;
}

typedef struct gc_bn {
  asr_real *x, *g, *b, *y, *G, *mean, *rstd;
  const int *len;
  int N, C, T;
} gc_bn;
static double gc_bn_f(void *v) {
  gc_bn *c = (gc_bn *)v;
  asr_batch_norm_forward(c->y, c->mean, c->rstd, NULL, NULL, c->x, c->g, c->b, c->len, c->N, c->C,
                         c->T, 1, 0.1, 1e-5);
  return gc_dot(c->G, c->y, (size_t)c->N * c->C * c->T);
}
int gc_layer_batch_norm(uint64_t seed, asr_gradcheck_report *rep) {
  static const int len[3] = {5, 3, 4};
  gc_buf B;
  gc_bn c;
  asr_rng rng;
  asr_real *dx, *dg, *db;
  asr_gradcheck_param p[3];
  asr_result r;
  B.n = 0;
  asr_rng_seed(&rng, seed, 13);
  c.N = 3, c.C = 2, c.T = 5, c.len = len;
  c.x = gc_new(&B, 30, &rng, 2);
  c.g = gc_new(&B, 2, &rng, 1);
  c.b = gc_new(&B, 2, &rng, 1);
  c.G = gc_new(&B, 30, &rng, 1);
  c.y = gc_new(&B, 30, NULL, 0);
  c.mean = gc_new(&B, 2, NULL, 0);
  c.rstd = gc_new(&B, 2, NULL, 0);
  dx = gc_new(&B, 30, NULL, 0);
  dg = gc_new(&B, 2, NULL, 0);
  db = gc_new(&B, 2, NULL, 0);
  if (B.n != 10) return gc_free(&B), 2;
  gc_bn_f(&c);
  r = asr_batch_norm_backward(dx, dg, db, c.G, c.x, c.mean, c.rstd, c.g, c.len, c.N, c.C, c.T, 1);
  p[0].name = "x", p[0].x = c.x, p[0].grad = dx, p[0].n = 30;
  p[1].name = "weight", p[1].x = c.g, p[1].grad = dg, p[1].n = 2;
  p[2].name = "bias", p[2].x = c.b, p[2].grad = db, p[2].n = 2;
  if (r == ASR_OK) r = asr_gradcheck(gc_bn_f, &c, p, 3, NULL, &rng, rep);
  gc_free(&B);
  return r == ASR_OK ? 0 : 2;
}

int gc_layer_conv1d(uint64_t seed, asr_gradcheck_report *rep) {
  asr_conv1d_dims d;   /* stride 2, padding 2, dilation 1, 2 groups, with lengths */
  asr_conv1d_dims_init(&d, 3, 4, 6, 11, 5);
  d.stride = 2, d.padding = 2, d.groups = 2;
  return asr_gradcheck_conv1d(asr_conv1d_forward, asr_conv1d_backward, &d, 1, seed, rep) == ASR_OK ? 0 : 2;
}
int gc_layer_dwsep_conv1d(uint64_t seed, asr_gradcheck_report *rep) {
  asr_conv1d_dims d;   /* C 5 -> 7, kernel 5, stride 2, padding 2, with lengths */
  asr_conv1d_dims_init(&d, 3, 5, 7, 13, 5);
  d.stride = 2, d.padding = 2, d.groups = 5;
  return asr_gradcheck_dwsep_conv1d(asr_dwsep_conv1d_forward, asr_dwsep_conv1d_backward, &d, 1, seed, rep) == ASR_OK
             ? 0 : 2;
}
int gc_layer_se(uint64_t seed, asr_gradcheck_report *rep) {
  /* 3 items of 7, 6, 5 frames, C 8, R 3 */
  return asr_gradcheck_se(asr_se_forward, asr_se_backward, 3, 8, 3, 7, 1, seed, rep) == ASR_OK ? 0 : 2;
}
int gc_layer_contextnet_block(uint64_t seed, asr_gradcheck_report *rep) {
  asr_contextnet_block_config cfg;   /* 3 layers 4 -> 8, K 5, stride 2, training BN, lengths */
  asr_contextnet_block_config_init(&cfg, 3, 4, 8, 9);
  cfg.num_layers = 3, cfg.stride = 2, cfg.training = 1, cfg.se_channels = 2;
  return asr_gradcheck_contextnet_block(asr_contextnet_block_forward, asr_contextnet_block_backward, &cfg, 1, seed,
                                        rep) == ASR_OK
             ? 0
             : 2;
}

/* ======================================================================================
 * asrtool optim: optimizer steps on .npy files (section 4.5), for the comparison with
 * torch.optim in tests/torch/test_layers.py.
 * ====================================================================================== */
int cmd_optim(int argc, char **argv) {
  static const char *usage =
      "optim --optimizer sgd|adam|adamw [--lr 0.01] [--momentum 0] [--dampening 0] [--nesterov]\n"
      "      [--weight-decay W] [--beta1 0.9] [--beta2 0.999] [--eps 1e-8] [--amsgrad]\n"
      "      [--clip-norm C [--norm-type 2]] [--schedule none|noam|warmup|linear --warmup W\n"
      "      --d-model D --total T] PARAM.npy GRADS.npy OUTDIR\n"
      "  runs S steps on PARAM (any shape) with GRADS (S, *PARAM.shape), step t using\n"
      "  GRADS[t-1] (clipped first with --clip-norm); writes params.npy (S, *shape) after\n"
      "  each step, lr.npy (S,) and, with --clip-norm, total_norm.npy (S,).\n"
      "  Schedules: noam = lr * d_model^-0.5 min(t^-0.5, t warmup^-1.5) (lr is the factor);\n"
      "  warmup = lr warmup^0.5 min(...); linear = up to lr at warmup, down to 0 at total.";
  char *pos[3];
  int npos, r, opt = 0, nesterov = 0, amsgrad = 0, schedule = 0, d_model = 256, warmup = 0, total = 0, d, S;
  double lr = 0.01, momentum = 0, dampening = 0, wd = -1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, clip = -1,
         norm_type = 2;
  at_opt opts[17];
  int64_t ps[ASR_MAX_DIMS], gs[ASR_MAX_DIMS], os[ASR_MAX_DIMS], one[1];
  asr_array pa;
  asr_error err;
  asr_real *param = NULL, *grads = NULL, *out = NULL, *s1 = NULL, *s2 = NULL, *s3 = NULL, *lrs = NULL, *norms = NULL;
  size_t n = 1, i;
  int pndim;
  long t;
  at_outputs outs;
  memset(opts, 0, sizeof opts);
  opts[0].name = "optimizer", opts[0].type = AT_CHOICE, opts[0].dst = &opt, opts[0].choices = "sgd|adam|adamw";
  opts[1].name = "lr", opts[1].type = AT_REAL, opts[1].dst = &lr, opts[1].hi = 1e6;
  opts[2].name = "momentum", opts[2].type = AT_REAL, opts[2].dst = &momentum, opts[2].hi = 1;
  opts[3].name = "dampening", opts[3].type = AT_REAL, opts[3].dst = &dampening, opts[3].hi = 1;
  opts[4].name = "nesterov", opts[4].type = AT_FLAG, opts[4].dst = &nesterov;
  opts[5].name = "weight-decay", opts[5].type = AT_REAL, opts[5].dst = &wd, opts[5].hi = 1e3;
  opts[6].name = "beta1", opts[6].type = AT_REAL, opts[6].dst = &beta1, opts[6].hi = 0.999999999;
  opts[7].name = "beta2", opts[7].type = AT_REAL, opts[7].dst = &beta2, opts[7].hi = 0.999999999;
  opts[8].name = "eps", opts[8].type = AT_REAL, opts[8].dst = &eps, opts[8].hi = 1;
  opts[9].name = "amsgrad", opts[9].type = AT_FLAG, opts[9].dst = &amsgrad;
  opts[10].name = "clip-norm", opts[10].type = AT_REAL, opts[10].dst = &clip, opts[10].hi = 1e30;
  opts[11].name = "norm-type", opts[11].type = AT_REAL, opts[11].dst = &norm_type, opts[11].lo = 1e-3,
  opts[11].hi = INFINITY;
  opts[12].name = "schedule", opts[12].type = AT_CHOICE, opts[12].dst = &schedule,
  opts[12].choices = "none|noam|warmup|linear";
  opts[13].name = "warmup", opts[13].type = AT_INT, opts[13].dst = &warmup, opts[13].hi = 1e9;
  opts[14].name = "d-model", opts[14].type = AT_INT, opts[14].dst = &d_model, opts[14].lo = 1, opts[14].hi = 1e9;
  opts[15].name = "total", opts[15].type = AT_INT, opts[15].dst = &total, opts[15].hi = 1e9;
  r = at_parse(argc, argv, opts, 16, pos, 3, 3, &npos, usage);
  if (r) return r == 1 ? 0 : r;
  if (opt != 0 && (momentum != 0 || nesterov || dampening != 0))
    return at_fail("--momentum, --dampening and --nesterov are SGD options");
  if (nesterov && (momentum <= 0 || dampening != 0))
    return at_fail("--nesterov needs --momentum > 0 and --dampening 0 (as torch.optim.SGD)");
  if (schedule == 2 && warmup <= 0)
    return at_fail("--schedule warmup needs --warmup > 0");
  if (schedule == 3 && total <= 0) return at_fail("--schedule linear needs --total > 0");
  if (asr_npy_read(pos[0], &pa, NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
  pndim = pa.ndim;
  asr_array_free(&pa, NULL);
  if (pndim >= ASR_MAX_DIMS) return at_fail("%s: too many dimensions", pos[0]);
  if (at_npy_real(pos[0], pndim, ps, &param, 0)) return 2;
  if (at_npy_real(pos[1], pndim + 1, gs, &grads, 0)) {
    free(param);
    return 2;
  }
  for (d = 0; d < pndim; d++) {
    if (gs[d + 1] != ps[d]) {
      free(param), free(grads);
      return at_fail("%s: dimension %d is %lld, expected %lld (GRADS is (S, *PARAM.shape))", pos[1], d + 1,
                     (long long)gs[d + 1], (long long)ps[d]);
    }
    n *= (size_t)ps[d];
  }
  S = (int)gs[0];
  if (S < 1) {
    free(param), free(grads);
    return at_fail("%s: no steps (S = 0)", pos[1]);
  }
  out = (asr_real *)calloc((size_t)S * (n ? n : 1), sizeof(asr_real));
  s1 = (asr_real *)calloc(n ? n : 1, sizeof(asr_real));
  s2 = (asr_real *)calloc(n ? n : 1, sizeof(asr_real));
  s3 = (asr_real *)calloc(n ? n : 1, sizeof(asr_real));
  lrs = (asr_real *)calloc((size_t)S, sizeof(asr_real));
  norms = (asr_real *)calloc((size_t)S, sizeof(asr_real));
  if (!out || !s1 || !s2 || !s3 || !lrs || !norms) {
    r = at_fail("out of memory");
    goto done;
  }
  for (t = 1; t <= S; t++) {
    asr_real *g = grads + (size_t)(t - 1) * n;
    double lr_t = lr;
    asr_result res = ASR_OK;
    if (schedule == 1) lr_t = asr_lr_noam(t, d_model, warmup, lr);
    if (schedule == 2) lr_t = asr_lr_warmup(t, lr, warmup);
    if (schedule == 3) lr_t = asr_lr_linear_warmup(t, lr, warmup, total);
    lrs[t - 1] = (asr_real)lr_t;
    if (clip >= 0) {
      double tn;
      size_t sz = n;
      res = asr_clip_grad_norm(&g, &sz, 1, clip, norm_type, &tn);
      norms[t - 1] = (asr_real)tn;
      if (res != ASR_OK) {
        r = at_fail("%s: step %ld: the gradient norm is not finite", pos[1], t);
        goto done;
      }
    }
    if (opt == 0) {
      asr_sgd_opts o;
      asr_sgd_opts_init(&o, lr_t);
      o.momentum = momentum, o.dampening = dampening, o.nesterov = nesterov, o.weight_decay = wd < 0 ? 0 : wd;
      res = asr_sgd_step(param, s1, g, n, &o, t);
    } else {
      asr_adam_opts o;
      if (opt == 1) asr_adam_opts_init(&o, lr_t);
      else asr_adamw_opts_init(&o, lr_t);
      o.beta1 = beta1, o.beta2 = beta2, o.eps = eps, o.amsgrad = amsgrad;
      if (wd >= 0) o.weight_decay = wd;
      res = asr_adam_step(param, s1, s2, amsgrad ? s3 : NULL, g, n, &o, t);
    }
    if (res != ASR_OK) {
      r = at_fail("step %ld: %s", t, asr_result_string(res));
      goto done;
    }
    for (i = 0; i < n; i++) out[(size_t)(t - 1) * n + i] = param[i];
  }
  outs.n = 0;
  os[0] = S;
  for (d = 0; d < pndim; d++) os[d + 1] = ps[d];
  one[0] = S;
  at_out_add(&outs, "params.npy", ASR_DTYPE_REAL, pndim + 1, os, out);
  at_out_add(&outs, "lr.npy", ASR_DTYPE_REAL, 1, one, lrs);
  if (clip >= 0) at_out_add(&outs, "total_norm.npy", ASR_DTYPE_REAL, 1, one, norms);
  r = at_out_commit(&outs, pos[2]);
done:
  free(param), free(grads), free(out), free(s1), free(s2), free(s3), free(lrs), free(norms);
  return r;
}

/* ======================================================================================
 * bench: one ContextNet block (C 256, kernel 5, T 200, batch 8, 5 layers, stride 1,
 * training-mode BN) forward + backward, and its depthwise-separable conv alone.
 * bench/compare.py times the same PyTorch module on one thread.
 * ====================================================================================== */
typedef struct bench_cn {
  asr_contextnet_block_config cfg;
  asr_contextnet_block_params p;
  asr_contextnet_block_grads g;
  asr_real *x, *y, *dx, *dy, *bufs[80];
  int nbufs, fast;
  void *saved, *work;
  size_t sb, wb;
} bench_cn;

static asr_real *bench_buf(bench_cn *b, size_t n, asr_rng *rng, double scale, double shift) {
  asr_real *p = (asr_real *)calloc(n ? n : 1, sizeof(asr_real));
  size_t i;
  if (!p || b->nbufs >= 80) {
    free(p);
    return NULL;
  }
  if (rng)
    for (i = 0; i < n; i++) p[i] = (asr_real)(shift + scale * asr_rng_normal(rng));
  b->bufs[b->nbufs++] = p;
  return p;
}

static void bench_cn_call(void *v) {
  bench_cn *b = (bench_cn *)v;
  if (b->fast) {
    asr_contextnet_block_forward(b->y, b->saved, b->sb, b->x, &b->p, NULL, &b->cfg, b->work, b->wb);
    asr_contextnet_block_backward(b->dx, &b->g, b->dy, b->saved, b->sb, b->x, &b->p, NULL, &b->cfg, b->work, b->wb);
  } else {
    asr_contextnet_block_forward_ref(b->y, b->saved, b->sb, b->x, &b->p, NULL, &b->cfg, b->work, b->wb);
    asr_contextnet_block_backward_ref(b->dx, &b->g, b->dy, b->saved, b->sb, b->x, &b->p, NULL, &b->cfg, b->work,
                                      b->wb);
  }
}

typedef struct bench_dws {
  asr_conv1d_dims d;
  asr_real *x, *y, *h, *dx, *dy, *dw, *dwg, *pw, *pwg;
  void *work;
  size_t wb;
  int tier;
} bench_dws;
static void bench_dws_call(void *v) {
  bench_dws *b = (bench_dws *)v;
  if (b->tier == 2) {
    asr_dwsep_conv1d_forward(b->y, b->h, b->x, b->dw, NULL, b->pw, NULL, NULL, &b->d, b->work, b->wb);
    asr_dwsep_conv1d_backward(b->dx, b->dwg, NULL, b->pwg, NULL, b->dy, b->h, b->x, b->dw, b->pw, NULL, &b->d,
                              b->work, b->wb);
  } else {
    asr_dwsep_conv1d_forward_ref(b->y, b->h, b->x, b->dw, NULL, b->pw, NULL, NULL, &b->d, b->work, b->wb);
    asr_dwsep_conv1d_backward_ref(b->dx, b->dwg, NULL, b->pwg, NULL, b->dy, b->h, b->x, b->dw, b->pw, NULL, &b->d,
                                  b->work, b->wb);
  }
}

void bench_layers(at_bench *bench) {
  const int N = 8, C = 256, T = 200, K = 5;
  bench_cn b;
  bench_dws d;
  asr_rng rng;
  int i, ok = 1, k;
  size_t n = (size_t)N * C * T;
  memset(&b, 0, sizeof b);
  memset(&d, 0, sizeof d);
  asr_rng_seed(&rng, 5, 0);
  /* the depthwise-separable conv alone */
  asr_conv1d_dims_init(&d.d, N, C, C, T, K);
  d.d.padding = 2, d.d.groups = C;
  d.wb = asr_dwsep_conv1d_workspace_size(&d.d);
  d.x = bench_buf(&b, n, &rng, 1, 0), d.dy = bench_buf(&b, n, &rng, 1, 0);
  d.y = bench_buf(&b, n, NULL, 0, 0), d.h = bench_buf(&b, n, NULL, 0, 0), d.dx = bench_buf(&b, n, NULL, 0, 0);
  d.dw = bench_buf(&b, (size_t)C * K, &rng, 0.3, 0), d.dwg = bench_buf(&b, (size_t)C * K, NULL, 0, 0);
  d.pw = bench_buf(&b, (size_t)C * C, &rng, 0.06, 0), d.pwg = bench_buf(&b, (size_t)C * C, NULL, 0, 0);
  d.work = malloc(d.wb);
  /* the block */
  asr_contextnet_block_config_init(&b.cfg, N, C, C, T);
  b.cfg.training = 1;
  b.sb = asr_contextnet_block_saved_size(&b.cfg);
  b.wb = asr_contextnet_block_workspace_size(&b.cfg);
  b.saved = malloc(b.sb);
  b.work = malloc(b.wb);
  b.x = d.x, b.dy = d.dy, b.y = d.y, b.dx = d.dx;
  for (i = 0; i < 5; i++) {
    asr_contextnet_layer_params *l = &b.p.layer[i];
    asr_contextnet_layer_grads *g = &b.g.layer[i];
    l->dw_w = bench_buf(&b, (size_t)C * K, &rng, 0.3, 0), g->dw_w = bench_buf(&b, (size_t)C * K, NULL, 0, 0);
    l->pw_w = bench_buf(&b, (size_t)C * C, &rng, 0.06, 0), g->pw_w = bench_buf(&b, (size_t)C * C, NULL, 0, 0);
    l->bn.weight = bench_buf(&b, C, &rng, 0.1, 1), l->bn.bias = bench_buf(&b, C, &rng, 0.1, 0);
    l->bn.running_mean = bench_buf(&b, C, NULL, 0, 0), l->bn.running_var = bench_buf(&b, C, NULL, 0, 1);
    g->bn.weight = bench_buf(&b, C, NULL, 0, 0), g->bn.bias = bench_buf(&b, C, NULL, 0, 0);
  }
  b.p.se_w1 = bench_buf(&b, (size_t)32 * C, &rng, 0.06, 0), b.p.se_b1 = bench_buf(&b, 32, NULL, 0, 0);
  b.p.se_w2 = bench_buf(&b, (size_t)32 * C, &rng, 0.17, 0), b.p.se_b2 = bench_buf(&b, C, NULL, 0, 0);
  b.g.se_w1 = bench_buf(&b, (size_t)32 * C, NULL, 0, 0), b.g.se_b1 = bench_buf(&b, 32, NULL, 0, 0);
  b.g.se_w2 = bench_buf(&b, (size_t)32 * C, NULL, 0, 0), b.g.se_b2 = bench_buf(&b, C, NULL, 0, 0);
  b.p.res_w = bench_buf(&b, (size_t)C * C, &rng, 0.06, 0), b.g.res_w = bench_buf(&b, (size_t)C * C, NULL, 0, 0);
  b.p.res_bn.weight = bench_buf(&b, C, &rng, 0.1, 1), b.p.res_bn.bias = bench_buf(&b, C, NULL, 0, 0);
  b.p.res_bn.running_mean = bench_buf(&b, C, NULL, 0, 0), b.p.res_bn.running_var = bench_buf(&b, C, NULL, 0, 1);
  b.g.res_bn.weight = bench_buf(&b, C, NULL, 0, 0), b.g.res_bn.bias = bench_buf(&b, C, NULL, 0, 0);
  for (i = 0; i < b.nbufs; i++)
    if (!b.bufs[i]) ok = 0;
  if (ok && b.nbufs < 80 && b.saved && b.work && d.work) {
    static const char *impls[3] = {"naive", "ref", "simd"};
    for (k = 1; k <= 2; k++) {
      if (at_bench_skip(bench, impls[k])) continue;
      d.tier = k;
      at_bench_report(bench, "dwsep_conv1d C256 K5 T200 N8 fwd+bwd", impls[k],
                      at_bench_time(bench_dws_call, &d, 1.0));
    }
    for (k = 1; k <= 2; k++) {
      if (at_bench_skip(bench, impls[k])) continue;
      b.fast = k == 2;
      at_bench_report(bench, "contextnet_block C256 K5 T200 N8 fwd+bwd", impls[k],
                      at_bench_time(bench_cn_call, &b, 1.0));
    }
  } else {
    fprintf(stderr, "bench layers: out of memory\n");
  }
  for (i = 0; i < b.nbufs; i++) free(b.bufs[i]);
  free(b.saved), free(b.work), free(d.work);
}

/* cross-entropy with label smoothing 0.1 and an ignored row; sum(w * loss) */
typedef struct gc_ce {
  asr_real *x, *loss, *logp, *w;
  const int *y;
} gc_ce;
static double gc_ce_f(void *v) {
  gc_ce *c = (gc_ce *)v;
  int cnt;
  asr_cross_entropy_forward(c->loss, c->logp, &cnt, c->x, c->y, 5, 7, 0.1, -100);
  return gc_dot(c->w, c->loss, 5);
}
int gc_layer_cross_entropy(uint64_t seed, asr_gradcheck_report *rep) {
  static const int y[5] = {2, -100, 0, 6, 3};
  gc_buf B;
  gc_ce c;
  asr_rng rng;
  asr_real *dx;
  asr_gradcheck_param p;
  asr_result r;
  B.n = 0;
  asr_rng_seed(&rng, seed, 14);
  c.y = y;
  c.x = gc_new(&B, 35, &rng, 2), c.w = gc_new(&B, 5, &rng, 1);
  c.loss = gc_new(&B, 5, NULL, 0), c.logp = gc_new(&B, 35, NULL, 0), dx = gc_new(&B, 35, NULL, 0);
  if (B.n != 5) return gc_free(&B), 2;
  gc_ce_f(&c);
  r = asr_cross_entropy_backward(dx, c.w, c.logp, y, 5, 7, 0.1, -100);
  p.name = "logits", p.x = c.x, p.grad = dx, p.n = 35;
  if (r == ASR_OK) r = asr_gradcheck(gc_ce_f, &c, &p, 1, NULL, &rng, rep);
  gc_free(&B);
  return r == ASR_OK ? 0 : 2;
}

/* GLU over the channel axis of (2, 6, 5) followed by swish: sum(G * swish(glu(x))) */
typedef struct gc_glu {
  asr_real *x, *h, *y, *G;
} gc_glu;
static double gc_glu_f(void *v) {
  gc_glu *c = (gc_glu *)v;
  asr_glu_forward(c->h, c->x, 2, 3, 5);
  asr_swish_forward(c->y, c->h, 30);
  return gc_dot(c->G, c->y, 30);
}
int gc_layer_glu_swish(uint64_t seed, asr_gradcheck_report *rep) {
  gc_buf B;
  gc_glu c;
  asr_rng rng;
  asr_real *dh, *dx;
  asr_gradcheck_param p;
  asr_result r;
  B.n = 0;
  asr_rng_seed(&rng, seed, 15);
  c.x = gc_new(&B, 60, &rng, 2), c.G = gc_new(&B, 30, &rng, 1);
  c.h = gc_new(&B, 30, NULL, 0), c.y = gc_new(&B, 30, NULL, 0);
  dh = gc_new(&B, 30, NULL, 0), dx = gc_new(&B, 60, NULL, 0);
  if (B.n != 6) return gc_free(&B), 2;
  gc_glu_f(&c);
  asr_swish_backward(dh, c.G, c.h, 30);
  r = asr_glu_backward(dx, dh, c.x, 2, 3, 5);
  p.name = "x", p.x = c.x, p.grad = dx, p.n = 60;
  if (r == ASR_OK) r = asr_gradcheck(gc_glu_f, &c, &p, 1, NULL, &rng, rep);
  gc_free(&B);
  return r == ASR_OK ? 0 : 2;
}
