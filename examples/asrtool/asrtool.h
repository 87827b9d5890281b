/* examples/asrtool/asrtool.h - what the asrtool command files share (see ../shared/asrtool.md of
 * the project, and docs/asrtool.md).
 *
 * A command is `int cmd_NAME(int argc, char **argv)` returning the exit status:
 * 0 success, 1 a check failed (gradcheck), 2 bad input (one line on stderr, no output
 * written). Commands parse their options with at_parse(), read inputs with at_npy_*(),
 * collect every output with at_out_add() and write them all at the end with
 * at_out_commit(), which renames them into place only when every one was written. */
#ifndef ASRTOOL_H
#define ASRTOOL_H
#include "../../asr.h"

/* ---- options */
typedef enum at_opt_type {
  AT_INT,     /* int *dst, range [lo, hi] */
  AT_REAL,    /* double *dst, range [lo, hi] */
  AT_BOOL,    /* int *dst; "--name true|false|1|0" */
  AT_FLAG,    /* int *dst set to 1 by "--name" alone */
  AT_STR,     /* const char **dst */
  AT_CHOICE   /* int *dst = index of the value in choices, "a|b|c" */
} at_opt_type;

typedef struct at_opt {
  const char *name;          /* without the leading dashes */
  at_opt_type type;
  void *dst;
  double lo, hi;             /* AT_INT / AT_REAL: allowed range (inclusive) */
  const char *choices;       /* AT_CHOICE */
} at_opt;

/* The options every command accepts: --verbose, --impl naive|ref|simd, --help. */
extern int at_verbose;
extern int at_impl;          /* AT_IMPL_* */
enum { AT_IMPL_NAIVE = 0, AT_IMPL_REF = 1, AT_IMPL_SIMD = 2 };
extern const char *at_cmd;   /* the command being run, for messages */
extern const char *at_argv0; /* how asrtool was started (gradcheck finds asrtool-f64 beside it) */

/* Parses argv[1..] (argv[0] is the command name). Positional arguments go to pos[],
 * between min_pos and max_pos of them. Returns 0, or 1 after printing usage (--help),
 * or 2 after printing the problem. `usage` is the synopsis printed with --help. */
int at_parse(int argc, char **argv, const at_opt *opts, int nopts, char **pos, int min_pos,
             int max_pos, int *npos, const char *usage);

/* One line "asrtool CMD: message" on stderr; returns 2. */
int at_fail(const char *fmt, ...) ASR__PRINTF(1, 2);

/* ---- inputs. ndim = -1 accepts any rank; shape (ASR_MAX_DIMS) receives the shape.
 * Real arrays refuse NaN/inf unless allow_nonfinite; int arrays refuse non-integers.
 * Return 0 or 2 (message printed). *data is malloc'ed: free() it. */
int at_npy_real(const char *path, int ndim, int64_t *shape, asr_real **data, int allow_nonfinite);
int at_npy_int(const char *path, int ndim, int64_t *shape, int **data);

/* ---- outputs: collected, then written together. Data must stay alive until commit. */
typedef struct at_output {
  char name[96];
  asr_dtype dtype;
  int ndim;
  int64_t shape[ASR_MAX_DIMS];
  const void *data;
} at_output;
typedef struct at_outputs {
  int n;
  at_output o[32];
} at_outputs;
void at_out_add(at_outputs *outs, const char *name, asr_dtype dtype, int ndim,
                const int64_t *shape, const void *data);
/* Creates outdir (and its parents), writes each output to a temporary file, then renames
 * all of them into place. On any failure removes what it wrote; returns 0 or 2. */
int at_out_commit(const at_outputs *outs, const char *outdir);
/* 0 when PATH is none of the command's inputs (nor inside an input folder), else 2 with
 * one line (examples/outpath.h); at_parse and at_out_commit call it. */
int at_out_check(const char *path);

/* Seconds from a monotonic clock, for bench. */
double at_now(void);

/* ---- the commands */
int cmd_info(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_bench(int argc, char **argv);
/* features */
int cmd_fbank(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_resample(int argc, char **argv);
struct at_bench;
void bench_fbank(struct at_bench *b);
void bench_resample(struct at_bench *b);

/* ctc */
int cmd_ctc(int argc, char **argv);
int cmd_ctc_decode(int argc, char **argv);
int cmd_ctc_align(int argc, char **argv);
/* words (examples/asrtool/lexicon.c) */
int cmd_ctc_lexicon_decode(int argc, char **argv);
int cmd_ngram_train(int argc, char **argv);
int cmd_ngram_score(int argc, char **argv);
/* the lattice internals (examples/asrtool/lattice.c) */
int cmd_ctc_lattice(int argc, char **argv);
int cmd_rnnt_lattice(int argc, char **argv);
int cmd_ctc_beam_final(int argc, char **argv);
int gc_ctc_logits(uint64_t seed, asr_gradcheck_report *rep);
int gc_ctc_logprobs(uint64_t seed, asr_gradcheck_report *rep);
struct at_bench;
void bench_ctc(struct at_bench *b);

/* rnnt */
int cmd_rnnt(int argc, char **argv);
int gc_rnnt_loss(uint64_t seed, asr_gradcheck_report *rep);
int gc_rnnt_joint(uint64_t seed, asr_gradcheck_report *rep);
struct at_bench;
void bench_rnnt(struct at_bench *b);

/* layers */
int cmd_layer(int argc, char **argv);
int cmd_optim(int argc, char **argv);

/* seq2seq (examples/asrtool/las.c) */
int cmd_seqloss(int argc, char **argv);
int gc_las_speller_loc(uint64_t seed, asr_gradcheck_report *rep);
int gc_las_speller_add(uint64_t seed, asr_gradcheck_report *rep);
int gc_las_speller_dot(uint64_t seed, asr_gradcheck_report *rep);
int gc_seqloss(uint64_t seed, asr_gradcheck_report *rep);
struct at_bench;
void bench_las(struct at_bench *b);

/* quantizers */
int cmd_gumbel(int argc, char **argv);
int cmd_vq(int argc, char **argv);
int cmd_rel_attention(int argc, char **argv);
int gc_vq_gumbel(uint64_t seed, asr_gradcheck_report *rep);
int gc_vq_gumbel_quantizer(uint64_t seed, asr_gradcheck_report *rep);
int gc_vq_kmeans(uint64_t seed, asr_gradcheck_report *rep);
int gc_vq_diversity(uint64_t seed, asr_gradcheck_report *rep);
struct at_bench;
void bench_quantizers(struct at_bench *b);
void bench_w2v(struct at_bench *b);
/* wav2vec / vq-wav2vec (examples/asrtool/w2v.c) */
int cmd_w2v_init(int argc, char **argv);
int cmd_w2v(int argc, char **argv);
/* BERT on the discrete units (examples/asrtool/bert.c) */
int cmd_bert_init(int argc, char **argv);
int cmd_bert(int argc, char **argv);

/* hybrid CTC/attention, MWER */
int cmd_ctc_prefix_score(int argc, char **argv);
int cmd_mwer(int argc, char **argv);
int gc_mwer(uint64_t seed, asr_gradcheck_report *rep);
/* the Neural Transducer (examples/asrtool/nt.c) */
int cmd_nt(int argc, char **argv);
int cmd_nt_decode(int argc, char **argv);
int gc_nt(uint64_t seed, asr_gradcheck_report *rep);
struct at_bench;
void bench_joint(struct at_bench *b);

/* training */
int cmd_model(int argc, char **argv);
int cmd_average(int argc, char **argv);
struct at_bench;
void bench_training(struct at_bench *b);


/* ---- asrtool layer NAME: the framework (examples/asrtool/layer.c) ---------------------
 *
 *   asrtool layer NAME --weights DIR [--grad-output G] [--lengths L] [options] X OUTDIR
 *
 * Every NAME is one row of LAYERS in asrtool/layer.c: {name, summary, run}. run() gets a
 * context, declares its own options with at_layer_parse(), asks for each weight by its
 * PyTorch state_dict key with the shape it expects, computes, and registers its outputs.
 * The framework does the rest: reading X, the weight files DIR/<key>.npy, the checks
 * (missing key, shape mismatch, extra .npy files in DIR that no one asked for, --lengths
 * given to a layer that takes none, G of the wrong shape), and writing every output at
 * once only when run() returned 0. The helpers print the FIRST problem as the one line
 * on stderr and mark the context failed; later helper calls then return NULL quietly.
 * So a run() may load everything and test at_layer_failed(L) once before computing.
 *
 * A run() in outline (see layer_linear in asrtool/layer.c):
 *   r = at_layer_parse(L, opts, nopts, "[--my-option V]", "X (N, ..., in)");
 *   if (r) return r;                                  (1 = --help was printed)
 *   int wd[2] = {-1, L->x_dims[L->x_ndim - 1]};       (-1: any size, filled in)
 *   W = at_layer_weight(L, "weight", 2, wd, "out,in");
 *   b = at_layer_weight_opt(L, "bias", 1, bd, "out"); (NULL without error if absent)
 *   if (at_layer_failed(L)) return 2;
 *   y = at_layer_output(L, "y", ndim, ydims);         (zeroed, written as y.npy)
 *   ... forward ...
 *   if (L->has_grad) {
 *     G  = at_layer_grad_output(L, ndim, ydims);      (checked against y's shape)
 *     dx = at_layer_grad_x(L);                        (grad_x.npy, X's shape, zeroed)
 *     dW = at_layer_grad(L, "weight");                (grad_weight.npy, zeroed)
 *     ... backward, accumulating into dx, dW ...
 *   }
 *   return at_layer_failed(L) ? 2 : 0;
 * Scratch memory: at_layer_alloc(L, bytes) (zeroed, freed by the framework).
 * The conformer/LSTM/attention layers live in their own file and add rows under the
 * marker in LAYERS; their run functions are declared below their marker here. */
typedef struct at_layer_ctx at_layer_ctx;
typedef int (*at_layer_fn)(at_layer_ctx *L);
typedef struct at_layer_def {
  const char *name;
  const char *summary;       /* one line for `asrtool layer --help` */
  at_layer_fn run;
} at_layer_def;

struct at_layer_ctx {
  /* public, valid after at_layer_parse() returned 0 */
  const char *name;          /* the layer NAME */
  const asr_real *x;         /* X, any rank (run() checks it) */
  int x_ndim;
  int x_dims[ASR_MAX_DIMS];
  size_t x_count;
  const char *x_path;
  int has_grad;              /* --grad-output was given */
  int impl;                  /* AT_IMPL_NAIVE / REF / SIMD from --impl */
  /* private to asrtool/layer.c */
  int argc;
  char **argv;
  int failed, parsed, lengths_taken;
  const char *weights_dir, *grad_path, *lengths_path, *outdir;
  struct at_layer__w {
    char key[128];
    asr_real *data;
    int ndim;
    int dims[ASR_MAX_DIMS];
    size_t count;
  } w[192];
  int nw;
  struct at_layer__out {
    char name[160];
    int ndim;
    int64_t shape[ASR_MAX_DIMS];
    asr_real *data;
  } out[256];
  int nout;
  void **allocs;
  int nalloc, capalloc;
};

/* Parses the command line: --weights DIR (required), --grad-output G, --lengths L, the
 * layer's own options `opts`, and the positionals X OUTDIR; reads X. `opt_usage` and
 * `x_usage` complete the --help synopsis. Returns 0, 1 (help printed) or 2. */
int at_layer_parse(at_layer_ctx *L, const at_opt *opts, int nopts, const char *opt_usage,
                   const char *x_usage);
/* One line "asrtool layer: NAME: message" on stderr (only the first one), marks L failed,
 * returns 2. */
int at_layer_fail(at_layer_ctx *L, const char *fmt, ...) ASR__PRINTF(2, 3);
int at_layer_failed(const at_layer_ctx *L);
/* The weight DIR/<key>.npy, which must have `ndim` dimensions; dims[d] >= 0 must match
 * exactly, dims[d] < 0 accepts any size and receives it. dim_names ("out,in", may be NULL)
 * names the dimensions in messages. Missing file: fails naming the key. */
asr_real *at_layer_weight(at_layer_ctx *L, const char *key, int ndim, int *dims,
                          const char *dim_names);
/* The same for a weight that may be absent (e.g. bias=False): NULL, no failure. */
asr_real *at_layer_weight_opt(at_layer_ctx *L, const char *key, int ndim, int *dims,
                              const char *dim_names);
/* --lengths L as (N,) ints in [min_len, T], or NULL when not given. */
const int *at_layer_lengths(at_layer_ctx *L, int N, int T, int min_len);
/* A zeroed output array written as OUTDIR/<name>.npy (name without .npy). */
asr_real *at_layer_output(at_layer_ctx *L, const char *name, int ndim, const int *dims);
/* --grad-output G checked to have this shape; NULL without --grad-output. */
const asr_real *at_layer_grad_output(at_layer_ctx *L, int ndim, const int *dims);
/* grad_x.npy (X's shape) and grad_<key>.npy (the weight's shape), zeroed; NULL without
 * --grad-output (so they can be passed to backward functions as "not needed"). */
asr_real *at_layer_grad_x(at_layer_ctx *L);
asr_real *at_layer_grad(at_layer_ctx *L, const char *key);
/* An output initialized with a copy of weight `key` (e.g. running_mean, updated in
 * place by a training-mode forward and written as OUTDIR/<name>.npy). */
asr_real *at_layer_output_copy(at_layer_ctx *L, const char *name, const char *key);
/* Zeroed scratch memory, freed by the framework; NULL (and failed) when out of memory. */
void *at_layer_alloc(at_layer_ctx *L, size_t bytes);
/* Reads another input file (an option's value) as asr_real with the ndim/dims rules of
 * at_layer_weight, or as ints; freed by the framework. */
asr_real *at_layer_input(at_layer_ctx *L, const char *path, int ndim, int *dims,
                         const char *dim_names);
int *at_layer_input_int(at_layer_ctx *L, const char *path, int ndim, int *dims,
                        const char *dim_names);
/* The block layers' training-mode options (asr_block_drop): --dropout P with --drop-mask
 * M.npy (n keep flags 0/1, ints, in the block's documented order), --stoch-coeff C (the
 * kept branches' scale, >= 1), --stoch-skip (the block dropped). at_layer_drop fills d
 * from them and returns 1 when any was given (then the block runs its _train functions,
 * whose fast tier refuses another --impl), 0 when none, -1 on an error (L failed). */
typedef struct at_drop_opts {
  double p, coeff;
  int skip;
  const char *mask_path;
} at_drop_opts;
void at_drop_opts_add(at_opt *opts, at_drop_opts *o);   /* fills 4 at_opt, sets defaults */
int at_layer_drop(at_layer_ctx *L, const at_drop_opts *o, size_t n, asr_block_drop *d);

/* The layers of section 4.1/4.2 (asrtool/layer.c) */
int layer_linear(at_layer_ctx *L);
int layer_conv1d(at_layer_ctx *L);
int layer_dwsep_conv1d(at_layer_ctx *L);
int layer_se(at_layer_ctx *L);
int layer_layer_norm(at_layer_ctx *L);
int layer_group_norm(at_layer_ctx *L);
int layer_batch_norm(at_layer_ctx *L);
int layer_contextnet_block(at_layer_ctx *L);
int layer_cross_entropy(at_layer_ctx *L);
/* conformer, lstm, attention: their run functions */
int layer_lstm(at_layer_ctx *L);
int layer_attention(at_layer_ctx *L);
int layer_conv2d_subsampling(at_layer_ctx *L);
int layer_rel_pos_mhsa(at_layer_ctx *L);
int layer_conformer_block(at_layer_ctx *L);
int layer_las_speller(at_layer_ctx *L);   /* seq2seq: examples/asrtool/las.c */
int gc_conformer_block(uint64_t seed, asr_gradcheck_report *rep);
int gc_conformer_block_legacy(uint64_t seed, asr_gradcheck_report *rep);
int gc_conformer_block_train(uint64_t seed, asr_gradcheck_report *rep);
int gc_conformer_conv(uint64_t seed, asr_gradcheck_report *rep);
int gc_conformer_ff(uint64_t seed, asr_gradcheck_report *rep);
struct at_bench;
void bench_conformer(struct at_bench *b);
int gc_rel_pos_mhsa(uint64_t seed, asr_gradcheck_report *rep);
int gc_rel_pos_mhsa_legacy(uint64_t seed, asr_gradcheck_report *rep);
int gc_conv2d_subsampling(uint64_t seed, asr_gradcheck_report *rep);
int gc_lstm(uint64_t seed, asr_gradcheck_report *rep);
int gc_lstm_reverse(uint64_t seed, asr_gradcheck_report *rep);
int gc_attention_dot(uint64_t seed, asr_gradcheck_report *rep);
int gc_attention_add(uint64_t seed, asr_gradcheck_report *rep);
int gc_attention_loc(uint64_t seed, asr_gradcheck_report *rep);

/* seq2seq 7.2, the Transformer decoder (asrtool/tdec.c) */
int layer_transformer_decoder(at_layer_ctx *L);
int gc_transformer_decoder(uint64_t seed, asr_gradcheck_report *rep);
int gc_mha(uint64_t seed, asr_gradcheck_report *rep);
struct at_bench;
void bench_tdec(struct at_bench *b);

/* Gradient checks of the layers (asrtool gradcheck NAME), in asrtool/layer.c */
int gc_layer_linear(uint64_t seed, asr_gradcheck_report *rep);
int gc_layer_layer_norm(uint64_t seed, asr_gradcheck_report *rep);
int gc_layer_batch_norm(uint64_t seed, asr_gradcheck_report *rep);
int gc_layer_conv1d(uint64_t seed, asr_gradcheck_report *rep);
int gc_layer_dwsep_conv1d(uint64_t seed, asr_gradcheck_report *rep);
int gc_layer_se(uint64_t seed, asr_gradcheck_report *rep);
int gc_layer_contextnet_block(uint64_t seed, asr_gradcheck_report *rep);
int gc_layer_cross_entropy(uint64_t seed, asr_gradcheck_report *rep);
int gc_layer_glu_swish(uint64_t seed, asr_gradcheck_report *rep);
/* bench of sections 4.1/4.2 (asrtool/layer.c): dwsep conv and ContextNet block */
struct at_bench;
void bench_layers(struct at_bench *b);

/* gradcheck: each component lists its checks in the table of asrtool/gradcheck.c.
 * run() computes the analytic gradient of a random instance (drawn from `seed`) and
 * compares it with asr_gradcheck(); it returns 0, or 2 if the component refused. */
typedef struct at_gradcheck_entry {
  const char *name;
  const char *what;
  int (*run)(uint64_t seed, asr_gradcheck_report *rep);
  double tol_double;           /* pass if max_rel_err <= this in the double build */
} at_gradcheck_entry;

/* bench: each component lists a function in the table of asrtool/bench.c that times its
 * cases and reports each as (case, impl, seconds per call) through at_bench_report(). */
typedef struct at_bench at_bench;
void at_bench_report(at_bench *b, const char *case_name, const char *impl, double seconds);
/* Calls fn(ctx) repeatedly for at least min_seconds (and at least once) and returns the
 * median seconds per call over the repetitions. */
double at_bench_time(void (*fn)(void *ctx), void *ctx, double min_seconds);
/* 1 when this run does not time the tier impl ("naive", "ref", "simd"): with --threads
 * above 1 only "simd" runs. Each component asks before timing a tier. */
int at_bench_skip(const at_bench *b, const char *impl);
#endif
