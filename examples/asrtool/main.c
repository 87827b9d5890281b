/* examples/asrtool/main.c - asr.h on the command line: every component on .npy files.
 *
 *   asrtool                 lists the commands
 *   asrtool CMD --help      usage of one command
 *
 * The contract (names, shapes, exit codes) is in docs/asrtool.md. This file holds main(),
 * the command table and the helpers every command shares: option parsing, reading .npy
 * inputs with their checks, and writing all outputs at once. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include "../outpath.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int at_verbose = 0;
int at_impl = AT_IMPL_SIMD;
const char *at_cmd = "asrtool";
const char *at_argv0 = "asrtool";

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} COMMANDS[] = {
  /* features */
  {"fbank", cmd_fbank, "Kaldi log-mel filterbank of a .wav / .ogg / .npy waveform"},
  {"decode", cmd_decode, "the samples of a WAV or Ogg Vorbis file as .npy"},
  {"resample", cmd_resample, "windowed-sinc resampling (torchaudio's filter)"},
  /* ctc */
  {"ctc", cmd_ctc, "CTC loss and its gradient w.r.t. the logits [Graves06]"},
  {"ctc-decode", cmd_ctc_decode, "CTC greedy / prefix beam search decoding, token frames"},
  {"ctc-align", cmd_ctc_align, "CTC Viterbi forced alignment: frame path, token frames"},
  {"ctc-lexicon-decode", cmd_ctc_lexicon_decode, "CTC decoding to lexicon words, with a word n-gram LM (shallow fusion)"},
  {"ngram-train", cmd_ngram_train, "a Witten-Bell word n-gram model of sentences, as ARPA text"},
  {"ngram-score", cmd_ngram_score, "ln P of sentences under an ARPA word n-gram model"},
  {"ctc-lattice", cmd_ctc_lattice, "CTC lattice of a batch: l', skips, alpha, beta, gamma, posteriors"},
  {"ctc-beam-final", cmd_ctc_beam_final, "CTC prefix beam search: every merged final prefix and its probability"},
  /* rnnt */
  {"rnnt", cmd_rnnt, "RNN-T loss and gradient of joint logits (N,T,U+1,V), as torchaudio's rnnt_loss"},
  {"rnnt-lattice", cmd_rnnt_lattice, "RNN-T lattice of a batch: alpha, beta, gamma, posteriors"},
  /* seq2seq */
  {"seqloss", cmd_seqloss, "ESPnet's label-smoothed loss (LabelSmoothingLoss) and token accuracy of (N,U,V) logits"},
  /* layers */
  {"layer", cmd_layer, "one layer forward/backward with PyTorch state_dict weights"},
  {"rel-attention", cmd_rel_attention, "the score path of rel-pos self-attention, head by head: ac, bd, rel_shift, attn, gradients"},
  {"optim", cmd_optim, "SGD / Adam / AdamW steps with schedules and clipping on .npy files"},
  /* quantizers */
  {"gumbel", cmd_gumbel, "Gumbel-softmax (soft / straight-through hard) with given uniform draws"},
  {"vq", cmd_vq, "k-means vector quantization (vq-wav2vec): nearest codeword, loss, gradients"},
  {"w2v-init", cmd_w2v_init, "a new wav2vec / vq-wav2vec model (fairseq's keys) as .npz"},
  {"w2v", cmd_w2v, "one wav2vec / vq-wav2vec step on audio crops: loss, z, q, c, negatives, gradients"},
  {"bert-init", cmd_bert_init, "a new BERT over discrete units (ESPnet TransformerEncoder keys) as .npz"},
  {"bert", cmd_bert, "one BERT masked-span step on unit tokens: loss, mask, features, gradients"},
  /* hybrid CTC/attention, MWER */
  {"ctc-prefix-score", cmd_ctc_prefix_score, "CTC prefix score of a prefix and candidates [Watanabe17]"},
  {"mwer", cmd_mwer, "MWER loss and gradient over an n-best list [Prabhavalkar18]"},
  {"nt", cmd_nt, "Neural Transducer [Jaitly16]: loss, gradients, best alignment of blocked targets"},
  {"nt-decode", cmd_nt_decode, "Neural Transducer greedy / beam decoding, block by block"},
  /* training */
  {"model", cmd_model, "a trained recipe model on features: encoder output, log-probabilities, losses"},
  {"average", cmd_average, "checkpoint averaging: the mean of N recipe models' parameters (ESPnet)"},
  {"gradcheck", cmd_gradcheck, "finite-difference check of a component's backward pass"},
  {"info", cmd_info, "dtype, shape and summary of the arrays in .npy / .npz files"},
  {"bench", cmd_bench, "times naive, ref and fast paths of every component"},
};
#define N_COMMANDS (int)(sizeof COMMANDS / sizeof COMMANDS[0])

int at_fail(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "asrtool %s: ", at_cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 2;
}

double at_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- option parsing */
static int parse_bool(const char *s, int *v) {
  if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "True")) *v = 1;
  else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "False")) *v = 0;
  else return 0;
  return 1;
}

static int choice_index(const char *choices, const char *s) {
  int idx = 0;
  size_t n = strlen(s);
  const char *p = choices;
  while (*p) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, s, n) == 0) return idx;
    idx++;
    if (!bar) break;
    p = bar + 1;
  }
  return -1;
}

static const at_opt COMMON_OPTS[] = {
  {"verbose", AT_FLAG, &at_verbose, 0, 0, NULL},
  {"impl", AT_CHOICE, &at_impl, 0, 0, "naive|ref|simd"},
};

/* ---- never write over an input (examples/outpath.h)
 * Every command but info, gradcheck and bench writes to its last positional argument
 * (OUTDIR or OUT.npy); the other positional arguments and the path options (--weights DIR,
 * --grad-output G, ...) are its inputs, except --svg, --json, --grads and --adapt-bn
 * (model's G.npz and A.npz), which are outputs too.
 * at_parse refuses an output that is an input or lies inside an input folder before any
 * work; at_out_check refuses each file at_out_commit is about to write (OUTDIR/grad.npy
 * when grad.npy was an input). */
static const char *g_inputs[64];
static int g_ninputs = 0;

static int writes_last(const char *cmd) {
  /* average writes its FIRST positional argument (OUT.npz IN1.npz ...): it checks it itself */
  return strcmp(cmd, "info") && strcmp(cmd, "gradcheck") && strcmp(cmd, "bench") && strcmp(cmd, "average");
}

static int is_output_opt(const char *name) {
  return !strcmp(name, "svg") || !strcmp(name, "json") || !strcmp(name, "grads") || !strcmp(name, "adapt-bn");
}

int at_out_check(const char *path) {
  char prog[64];
  snprintf(prog, sizeof prog, "asrtool %s", at_cmd);
  return op_check(prog, path, g_inputs, g_ninputs);
}

/* The outputs of at_parse's command line against its inputs. */
static int check_outputs(const at_opt *opts, int nopts, char **pos, int npos) {
  int k;
  g_ninputs = 0;
  for (k = 0; k + 1 < npos && g_ninputs < 64; k++) g_inputs[g_ninputs++] = pos[k];
  for (k = 0; k < nopts && g_ninputs < 64; k++)
    if (opts[k].type == AT_STR && !is_output_opt(opts[k].name) && *(const char **)opts[k].dst)
      g_inputs[g_ninputs++] = *(const char **)opts[k].dst;
  if (npos && writes_last(at_cmd) && at_out_check(pos[npos - 1])) return 2;
  for (k = 0; k < nopts; k++)
    if (opts[k].type == AT_STR && is_output_opt(opts[k].name) && *(const char **)opts[k].dst &&
        at_out_check(*(const char **)opts[k].dst))
      return 2;
  return 0;
}

static int set_option(const at_opt *o, const char *name, const char *value, int *used_value) {
  char *end;
  *used_value = 1;
  switch (o->type) {
    case AT_FLAG:
      *used_value = 0;
      if (value) return at_fail("--%s takes no value", name);
      *(int *)o->dst = 1;
      return 0;
    case AT_BOOL:
      if (!value) return at_fail("--%s needs a value (true or false)", name);
      if (!parse_bool(value, (int *)o->dst))
        return at_fail("--%s: '%s' is not true or false", name, value);
      return 0;
    case AT_INT: {
      long v;
      if (!value) return at_fail("--%s needs a value", name);
      errno = 0;
      v = strtol(value, &end, 10);
      if (end == value || *end || errno) return at_fail("--%s: '%s' is not an integer", name, value);
      if (v < o->lo || v > o->hi)
        return at_fail("--%s: %ld is out of range [%g, %g]", name, v, o->lo, o->hi);
      *(int *)o->dst = (int)v;
      return 0;
    }
    case AT_REAL: {
      double v;
      if (!value) return at_fail("--%s needs a value", name);
      v = strtod(value, &end);
      if (end == value || *end || v != v) return at_fail("--%s: '%s' is not a number", name, value);
      if (v < o->lo || v > o->hi)
        return at_fail("--%s: %g is out of range [%g, %g]", name, v, o->lo, o->hi);
      *(double *)o->dst = v;
      return 0;
    }
    case AT_STR:
      if (!value) return at_fail("--%s needs a value", name);
      *(const char **)o->dst = value;
      return 0;
    case AT_CHOICE: {
      int idx;
      if (!value) return at_fail("--%s needs a value (%s)", name, o->choices);
      idx = choice_index(o->choices, value);
      if (idx < 0) return at_fail("--%s: '%s' is not one of %s", name, value, o->choices);
      *(int *)o->dst = idx;
      return 0;
    }
  }
  return at_fail("internal error: option type");
}

int at_parse(int argc, char **argv, const at_opt *opts, int nopts, char **pos, int min_pos,
             int max_pos, int *npos, const char *usage) {
  int i;
  *npos = 0;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] == '-' && a[1] == '-' && a[2]) {
      char name[64];
      const char *eq = strchr(a + 2, '='), *value;
      const at_opt *o = NULL;
      size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
      int k, used, r;
      if (len >= sizeof name) return at_fail("unknown option %s", a);
      memcpy(name, a + 2, len);
      name[len] = 0;
      if (!strcmp(name, "help")) {
        printf("usage: asrtool %s\n", usage);
        return 1;
      }
      for (k = 0; k < nopts && !o; k++)
        if (!strcmp(opts[k].name, name)) o = &opts[k];
      for (k = 0; k < (int)(sizeof COMMON_OPTS / sizeof COMMON_OPTS[0]) && !o; k++)
        if (!strcmp(COMMON_OPTS[k].name, name)) o = &COMMON_OPTS[k];
      if (!o) return at_fail("unknown option --%s (see asrtool %s --help)", name, at_cmd);
      value = eq ? eq + 1 : (o->type != AT_FLAG && i + 1 < argc ? argv[i + 1] : NULL);
      r = set_option(o, name, value, &used);
      if (r) return r;
      if (used && !eq) i++;
    } else {
      if (*npos >= max_pos) return at_fail("too many arguments (see asrtool %s --help)", at_cmd);
      pos[(*npos)++] = argv[i];
    }
  }
  if (*npos < min_pos) {
    fprintf(stderr, "usage: asrtool %s\n", usage);
    return at_fail("expected %d argument%s, got %d", min_pos, min_pos == 1 ? "" : "s", *npos);
  }
  return check_outputs(opts, nopts, pos, *npos);
}

/* ---- inputs
 * Each input is read once, straight into the buffer the command keeps: asr_npy_read_as
 * converts the elements to asr_real / int in the buffer they were read into, so the peak
 * memory of a command is its inputs plus its outputs, with no copy of the file in between.
 * (The buffer comes from ASR_MALLOC, which is malloc here: the commands free() it.) */
typedef char at__int_is_int32[sizeof(int) == sizeof(int32_t) ? 1 : -1];   /* int data as int32 */

static int load_as(const char *path, asr_dtype dtype, int allow_nonfinite, int ndim, int64_t *shape,
                   asr_array *a, asr_dtype *stored) {
  asr_error err;
  int d;
  if (asr_npy_read_as(path, dtype, allow_nonfinite, a, stored, NULL, &err) != ASR_OK)
    return at_fail("%s", err.msg);
  if (ndim >= 0 && a->ndim != ndim && !(ndim == 0 && a->count == 1)) {
    int got = a->ndim;   /* asr_array_free clears *a */
    asr_array_free(a, NULL);
    return at_fail("%s: expected %d dimension%s, got %d", path, ndim, ndim == 1 ? "" : "s", got);
  }
  for (d = 0; d < ASR_MAX_DIMS; d++) shape[d] = d < a->ndim ? a->shape[d] : 1;
  return 0;
}

int at_npy_real(const char *path, int ndim, int64_t *shape, asr_real **data, int allow_nonfinite) {
  asr_array a;
  asr_dtype stored;
  int r = load_as(path, ASR_DTYPE_REAL, allow_nonfinite, ndim, shape, &a, &stored);
  *data = NULL;
  if (r) return r;
  if (stored == ASR_DTYPE_U8) {
    asr_array_free(&a, NULL);
    return at_fail("%s: expected a float array, got uint8", path);
  }
  *data = (asr_real *)a.data;
  return 0;
}

int at_npy_int(const char *path, int ndim, int64_t *shape, int **data) {
  asr_array a;
  int r = load_as(path, ASR_DTYPE_I32, 0, ndim, shape, &a, NULL);
  *data = r ? NULL : (int *)a.data;
  return r;
}

/* ---- outputs */
void at_out_add(at_outputs *outs, const char *name, asr_dtype dtype, int ndim,
                const int64_t *shape, const void *data) {
  at_output *o;
  int d;
  if (outs->n >= (int)(sizeof outs->o / sizeof outs->o[0])) return;  /* a programming error */
  o = &outs->o[outs->n++];
  snprintf(o->name, sizeof o->name, "%s", name);
  o->dtype = dtype;
  o->ndim = ndim;
  for (d = 0; d < ndim; d++) o->shape[d] = shape[d];
  o->data = data;
}

static int mkdir_p(const char *dir) {
  char buf[4096];
  size_t i, n = strlen(dir);
  struct stat st;
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, dir, n + 1);
  for (i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == 0) {
      char c = buf[i];
      buf[i] = 0;
      if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
      buf[i] = c;
    }
  }
  return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

int at_out_commit(const at_outputs *outs, const char *outdir) {
  char tmp[32][4200], dst[4200];
  int i, k;
  if (mkdir_p(outdir) != 0) return at_fail("%s: cannot create the output directory: %s", outdir, strerror(errno));
  for (i = 0; i < outs->n; i++) {
    snprintf(dst, sizeof dst, "%s/%s", outdir, outs->o[i].name);
    if (at_out_check(dst)) return 2;
  }
  for (i = 0; i < outs->n; i++) {
    const at_output *o = &outs->o[i];
    asr_error err;
    snprintf(tmp[i], sizeof tmp[i], "%s/.%s.partial", outdir, o->name);
    op_remove_stale_temps(tmp[i], OP_STALE_AGE);   /* .NAME.partial.tmpXXXXXXXX of a killed run */
    if (asr_npy_write(tmp[i], o->dtype, o->ndim, o->shape, o->data, &err) != ASR_OK) {
      for (k = 0; k < i; k++) remove(tmp[k]);
      return at_fail("%s", err.msg);
    }
  }
  for (i = 0; i < outs->n; i++) {
    snprintf(dst, sizeof dst, "%s/%s", outdir, outs->o[i].name);
    if (rename(tmp[i], dst) != 0) {
      int e = errno;
      for (k = i; k < outs->n; k++) remove(tmp[k]);
      return at_fail("%s: cannot write: %s", dst, strerror(e));
    }
  }
  return 0;
}

/* ---- asrtool info FILE...: what is in .npy / .npz files */
static void info_line(const char *file, const char *name, const asr_array *a) {
  double s = 0, mn = INFINITY, mx = -INFINITY;
  size_t i;
  int d;
  printf("%s%s%s\t%s\t(", file, name ? ":" : "", name ? name : "", asr_dtype_name(a->dtype));
  for (d = 0; d < a->ndim; d++) printf(d ? ", %lld" : "%lld", (long long)a->shape[d]);
  printf(a->ndim == 1 ? ",)" : ")");
  for (i = 0; i < a->count; i++) {
    double v = 0;
    switch (a->dtype) {
      case ASR_DTYPE_F32: v = ((const float *)a->data)[i]; break;
      case ASR_DTYPE_F64: v = ((const double *)a->data)[i]; break;
      case ASR_DTYPE_I32: v = ((const int32_t *)a->data)[i]; break;
      case ASR_DTYPE_I64: v = (double)((const int64_t *)a->data)[i]; break;
      case ASR_DTYPE_U8: v = ((const unsigned char *)a->data)[i]; break;
    }
    s += v;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  if (a->count) printf("\tsum %.9g\tmin %.9g\tmax %.9g", s, mn, mx);
  printf("\n");
}

int cmd_info(int argc, char **argv) {
  char *pos[256];
  int npos, r, i, j;
  r = at_parse(argc, argv, NULL, 0, pos, 1, 256, &npos,
               "info FILE.npy|FILE.npz...\n"
               "  prints one line per array: file[:member], dtype, shape, sum, min, max");
  if (r) return r == 1 ? 0 : r;
  for (i = 0; i < npos; i++) {
    size_t n = strlen(pos[i]);
    asr_error err;
    if (n > 4 && !strcmp(pos[i] + n - 4, ".npz")) {
      asr_npz z;
      if (asr_npz_read(pos[i], &z, NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
      for (j = 0; j < z.count; j++) info_line(pos[i], z.names[j], &z.arrays[j]);
      asr_npz_free(&z, NULL);
    } else {
      asr_array a;
      if (asr_npy_read(pos[i], &a, NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
      info_line(pos[i], NULL, &a);
      asr_array_free(&a, NULL);
    }
  }
  return 0;
}

static void usage(FILE *fp) {
  int i;
  fprintf(fp, "asrtool %s - asr.h components on .npy files (%s, asr_real = %s, SIMD %s)\n\n"
              "usage: asrtool COMMAND [options] ARGS...   (asrtool COMMAND --help for details)\n\n",
          ASR_VERSION_STRING, "see docs/asrtool.md", ASR_REAL_DOUBLE ? "double" : "float",
          ASR_SIMD_NAME);
  for (i = 0; i < N_COMMANDS; i++) fprintf(fp, "  %-17s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv) {
  int i;
  at_argv0 = argv[0];
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    return 0;
  }
  for (i = 0; i < N_COMMANDS; i++)
    if (!strcmp(argv[1], COMMANDS[i].name)) {
      at_cmd = COMMANDS[i].name;
      return COMMANDS[i].run(argc - 1, argv + 1);
    }
  fprintf(stderr, "asrtool: unknown command '%s' (asrtool --help lists them)\n", argv[1]);
  return 2;
}
