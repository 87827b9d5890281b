/* asr.h - end-to-end speech recognition building blocks, as the papers write them.
 *                                                         v0.1.0, public domain or MIT
 *
 * WHAT IT IS
 *   One C99 header (it also builds as C++11) with the pieces of an end-to-end speech
 *   recognizer: Kaldi log-mel filterbanks, CTC, the RNN-Transducer lattice, attention
 *   seq2seq, depthwise-separable convolution, Squeeze-and-Excitation, Conformer blocks,
 *   Gumbel-softmax and k-means vector quantization. Each algorithm comes in three tiers
 *   that are all compiled and all checked against each other:
 *
 *     asr_<op>_naive   the definition written out literally (sums over every alignment,
 *                      O(N^2) DFT). Tiny sizes only: bigger ones get ASR_ERR_TOO_LARGE.
 *     asr_<op>_ref     the paper's algorithm in clear scalar C.
 *     asr_<op>         the fastest path built (SIMD with AVX2+FMA or NEON), else _ref.
 *
 *   Every function's comment quotes the equation it computes, with the paper key and
 *   the equation number as printed, and maps the paper's symbols to the C names.
 *   The docs/ folder of the repository derives each backward pass.
 *
 * USAGE
 *   In exactly one C or C++ file:
 *       #define ASR_IMPLEMENTATION
 *       #include "asr.h"
 *   Everywhere else, include "asr.h" as a normal header. Link with -lm.
 *
 * CONFIGURATION (define before including)
 *   ASR_IMPLEMENTATION     emit the implementation in this translation unit
 *   ASR_STATIC             make every function static (implementation private to one file)
 *   ASR_REAL=double        use double for asr_real (default float). The finite-difference
 *                          checks are meant for this build; SIMD kernels are float only.
 *   ASR_NO_SIMD            never use the SIMD kernels; the unsuffixed names call _ref
 *   ASR_USE_STB_VORBIS     decode Ogg Vorbis with stb_vorbis (Debian: libstb-dev, then
 *                          #include <stb/stb_vorbis.h> and link -lstb)
 *   ASR_MALLOC(sz,user) / ASR_FREE(p,user)
 *                          allocation; define both or neither. `user` is the pointer the
 *                          caller handed to the allocating function (may be NULL).
 *   ASR_ASSERT(x)          internal invariant checks (default: assert from <assert.h>)
 *
 * CONVENTIONS
 *   - Arrays are row-major, last index fastest; each pointer's comment gives its shape,
 *     e.g. logits (N,T,V). Sizes are int; byte counts are size_t and overflow-checked.
 *   - Results: every fallible function returns asr_result. 0 is success, a positive code
 *     is success with something to report (ASR_INFEASIBLE), a negative code is an error
 *     and nothing was written. asr_result_string() names each code. Functions with many
 *     ways to fail (file readers, option checks) also fill an optional asr_error with one
 *     line naming the problem. There is no global error state.
 *   - Memory: kernels never allocate. They take a caller buffer `work` of the size their
 *     *_workspace_size() returns. Only functions named *_alloc, *_read or *_fit
 *     allocate, through ASR_MALLOC/ASR_FREE, and a matching *_free releases.
 *   - Backward passes accumulate: they add (+=) into gradients; NULL means "not needed".
 *   - Randomness comes only from an asr_rng the caller seeds: same seed, same numbers.
 *   - No threads, no I/O in kernels, no mutable globals.
 *
 * CONTENTS
 *    1. Core        results, allocation, asr_real, asr_rng, log-sum-exp, softmax, GEMM,
 *                   .npy/.npz read and write, finite-difference gradient check
 *    2. Audio       WAV read/write, Ogg Vorbis (stb_vorbis), windowed-sinc resampling
 *    3. Features    Kaldi fbank [Kaldi]: framing, windows, DFT/FFT, mel banks, CMVN,
 *                   SpecAugment [Park19]
 *    4. Layers      linear, activations, norms, conv1d, depthwise-separable conv,
 *                   Squeeze-and-Excitation [Han20], Conformer [Gulati20] [Dai19],
 *                   ContextNet [Han20], LSTM [Chan16], attention [Chorowski15]
 *    5. CTC         loss, gradients, greedy / prefix beam search / Viterbi [Graves06]
 *    6. RNN-T       lattice loss, joint network, prediction network, decoders [Graves12]
 *    7. Seq2seq     cross-entropy with label smoothing, joint CTC/attention [Watanabe17]
 *    8. Quantizers  Gumbel-softmax [Jang17], k-means VQ [Baevski20vq]
 *    9. Training    optimizers, schedules, checkpoints, recipes
 *   10. Checkers    asr_check_<component>(): the conformance cases for any implementation
 *
 * REFERENCES
 *   [Kaldi]       D. Povey et al., "The Kaldi Speech Recognition Toolkit", ASRU 2011;
 *                 src/feat/feature-window.cc, mel-computations.cc, feature-fbank.cc.
 *   [Graves06]    A. Graves, S. Fernandez, F. Gomez, J. Schmidhuber, "Connectionist
 *                 Temporal Classification", ICML 2006.
 *   [Graves12]    A. Graves, "Sequence Transduction with Recurrent Neural Networks",
 *                 arXiv:1211.3711, 2012.
 *   [Chorowski15] J. Chorowski et al., "Attention-Based Models for Speech Recognition",
 *                 NeurIPS 2015.
 *   [Chan16]      W. Chan et al., "Listen, Attend and Spell", ICASSP 2016.
 *   [Jang17]      E. Jang, S. Gu, B. Poole, "Categorical Reparameterization with
 *                 Gumbel-Softmax", ICLR 2017, arXiv:1611.01144.
 *   [Watanabe17]  S. Watanabe et al., "Hybrid CTC/Attention Architecture for End-to-End
 *                 Speech Recognition", IEEE JSTSP 2017.
 *   [Dai19]       Z. Dai et al., "Transformer-XL", ACL 2019 (relative positions).
 *   [Park19]      D. Park et al., "SpecAugment", Interspeech 2019.
 *   [Baevski20vq] A. Baevski, S. Schneider, M. Auli, "vq-wav2vec", ICLR 2020,
 *                 arXiv:1910.05453.
 *   [Gulati20]    A. Gulati et al., "Conformer", Interspeech 2020, arXiv:2005.08100.
 *   [Han20]       W. Han et al., "ContextNet", Interspeech 2020, arXiv:2005.03191.
 *
 * LICENSE: see the end of the file (public domain or MIT, your choice).
 */
#ifndef ASR_H
#define ASR_H

#define ASR_VERSION_MAJOR 0
#define ASR_VERSION_MINOR 1
#define ASR_VERSION_PATCH 0
#define ASR_VERSION_STRING "0.1.0"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__) || defined(__clang__)
#define ASR__UNUSED __attribute__((unused))
#define ASR__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ASR__UNUSED
#define ASR__PRINTF(f, a)
#endif

#ifdef ASR_STATIC
#define ASRDEF static ASR__UNUSED
#else
#define ASRDEF extern
#endif

/* asr_real: the element type of every tensor. float unless ASR_REAL=double.
 * ASR_REAL_DOUBLE is 1 in the double build, 0 otherwise (usable in #if). */
#ifndef ASR_REAL
#define ASR_REAL float
#endif
typedef ASR_REAL asr_real;
#define ASR__CAT2(a, b) a##b
#define ASR__CAT(a, b) ASR__CAT2(a, b)
#define ASR__REAL_IS_double 1
#if ASR__CAT(ASR__REAL_IS_, ASR_REAL)
#define ASR_REAL_DOUBLE 1
#else
#define ASR_REAL_DOUBLE 0
#endif

/* The SIMD path the unsuffixed functions use. */
#if !defined(ASR_NO_SIMD) && defined(__AVX2__) && defined(__FMA__)
#define ASR_SIMD_AVX2 1
#define ASR_SIMD_NAME "avx2+fma"
#elif !defined(ASR_NO_SIMD) && defined(__ARM_NEON)
#define ASR_SIMD_NEON 1
#define ASR_SIMD_NAME "neon"
#else
#define ASR_SIMD_NAME "none (scalar _ref)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ========================================================================================
 * 1. Core
 * ======================================================================================== */

/* Result codes. Negative: error, nothing was written. Positive: success with a remark. */
typedef enum asr_result {
  ASR_OK = 0,
  ASR_INFEASIBLE = 1,        /* done, but some item's target cannot be aligned to its input:
                                its loss is +inf (or 0 with zero_infinity), its gradient 0 */
  ASR_ERR_INVALID_ARG = -1,  /* a NULL pointer, a negative size, an option out of range */
  ASR_ERR_OUT_OF_MEMORY = -2,
  ASR_ERR_TOO_LARGE = -3,    /* a _naive refuses this size, or a byte count overflows */
  ASR_ERR_SHAPE = -4,        /* sizes that do not fit together */
  ASR_ERR_RANGE = -5,        /* an index or label outside its range */
  ASR_ERR_NONFINITE = -6,    /* NaN or infinity where a finite number is needed */
  ASR_ERR_IO = -7,           /* a file could not be opened, read or written */
  ASR_ERR_FORMAT = -8,       /* a file is malformed */
  ASR_ERR_UNSUPPORTED = -9,  /* well-formed, but a variant this library does not read */
  ASR_ERR_WORKSPACE = -10    /* the caller's workspace is smaller than *_workspace_size() */
} asr_result;

ASRDEF const char *asr_result_string(asr_result r);

/* One line naming what went wrong, for functions with many ways to fail. */
typedef struct asr_error {
  asr_result code;
  char msg[256];
} asr_error;

/* Hooks for conformance checkers (section 10): each case is reported as one line. */
typedef void (*asr_log_fn)(void *user, const char *line);
typedef struct asr_check_report {
  int passed, failed;
  double worst;               /* the largest error seen, in the checker's own measure */
  char first_failure[256];
  asr_log_fn log;             /* optional: called with one line per case */
  void *log_user;
} asr_check_report;

/* ---- asr_rng: PCG32 (M. O'Neill, "PCG: A Family of Simple Fast Space-Efficient
 * Statistically Good Algorithms for Random Number Generation", 2014), the XSH-RR output
 * function over a 64-bit LCG:
 *     state' = state * 6364136223846793005 + inc          (inc odd, chosen by `stream`)
 *     out    = rotr32(((state ^ (state >> 18)) >> 27), state >> 59)
 * Uniform doubles take 53 bits from two outputs and are in the OPEN interval (0,1):
 *     u = (floor(x / 2^11) + 0.5) / 2^53,   so 2^-54 <= u <= 1 - 2^-54,
 * which keeps log(u) and log(-log(u)) finite without any clamping. Normal draws use
 * Box-Muller (two uniforms per draw, nothing cached); Gumbel draws are -log(-log(u)).
 * The integers are identical on every machine; doubles go through libm's log/cos. */
typedef struct asr_rng {
  uint64_t state;
  uint64_t inc;
} asr_rng;

ASRDEF void asr_rng_seed(asr_rng *rng, uint64_t seed, uint64_t stream);
ASRDEF uint32_t asr_rng_u32(asr_rng *rng);
ASRDEF double asr_rng_uniform(asr_rng *rng);     /* (0,1) open */
ASRDEF double asr_rng_normal(asr_rng *rng);      /* mean 0, variance 1 */
ASRDEF double asr_rng_gumbel(asr_rng *rng);      /* -log(-log(u)), u uniform on (0,1) */
ASRDEF int asr_rng_int(asr_rng *rng, int n);     /* uniform on {0..n-1}, unbiased; n >= 1 */

/* ---- log-sum-exp, softmax, log-softmax.
 *   logsumexp(x) = m + log sum_i exp(x_i - m),   m = max_i x_i
 * Subtracting the maximum keeps every exp() in (0,1]: no overflow, and at least one
 * term is exactly 1 so the log never sees 0. All -inf inputs give -inf (log 0), not NaN.
 * Sums run in double. softmax/log_softmax allow y == x (in place). */
ASRDEF double asr_logaddexp(double a, double b);           /* log(exp(a) + exp(b)) */
ASRDEF double asr_logsumexp(const asr_real *x, int n);     /* x (n) */
ASRDEF void asr_softmax(asr_real *y, const asr_real *x, int n);      /* y_i = exp(x_i - lse) */
ASRDEF void asr_log_softmax(asr_real *y, const asr_real *x, int n);  /* y_i = x_i - lse */
/* Backward passes, given the saved output y (n) and the output gradient dy (n); they
 * accumulate into dx (n):
 *   softmax:      dx_i += y_i (dy_i - sum_j dy_j y_j)        (Jacobian diag(y) - y y^T)
 *   log_softmax:  dx_i += dy_i - exp(y_i) sum_j dy_j         (Jacobian I - 1 softmax^T) */
ASRDEF void asr_softmax_backward(asr_real *dx, const asr_real *y, const asr_real *dy, int n);
ASRDEF void asr_log_softmax_backward(asr_real *dx, const asr_real *y, const asr_real *dy, int n);

/* ---- GEMM, row-major:  C = alpha * op(A) * op(B) + beta * C
 *   op(A) is (M,K): A is (M,K) with row stride lda, or (K,M) if trans_a.
 *   op(B) is (K,N): B is (K,N) with row stride ldb, or (N,K) if trans_b.
 *   C (M,N) with row stride ldc. With beta == 0, C is not read (BLAS semantics).
 * _naive: one loop per index of C_ij = sum_k A_ik B_kj, summed in double.
 * _ref:   blocked for the cache, k-loop outside the j-loop so the inner loop is a
 *         contiguous axpy, summed in asr_real.
 * asr_gemm: the fastest built: with AVX2+FMA (float), a packed 6x16 register-blocked
 *         kernel; otherwise _ref. */
ASRDEF void asr_gemm_naive(int trans_a, int trans_b, int M, int N, int K, asr_real alpha,
                           const asr_real *A, int lda, const asr_real *B, int ldb,
                           asr_real beta, asr_real *C, int ldc);
ASRDEF void asr_gemm_ref(int trans_a, int trans_b, int M, int N, int K, asr_real alpha,
                         const asr_real *A, int lda, const asr_real *B, int ldb,
                         asr_real beta, asr_real *C, int ldc);
ASRDEF void asr_gemm(int trans_a, int trans_b, int M, int N, int K, asr_real alpha,
                     const asr_real *A, int lda, const asr_real *B, int ldb,
                     asr_real beta, asr_real *C, int ldc);

/* ---- Arrays in NumPy's .npy format (versions 1.0, 2.0, 3.0; C order).
 * Read: '<f4' '<f8' '<i4' '<i8' '|u1' (and their big-endian forms, byte-swapped).
 * Write: any of those dtypes, version 1.0, little endian. Writers are atomic: the file
 * appears whole under its name or not at all (a temporary file is renamed into place). */
typedef enum asr_dtype {
  ASR_DTYPE_F32 = 0, ASR_DTYPE_F64, ASR_DTYPE_I32, ASR_DTYPE_I64, ASR_DTYPE_U8
} asr_dtype;
#define ASR_MAX_DIMS 8
typedef struct asr_array {
  asr_dtype dtype;
  int ndim;                       /* 0 for a scalar */
  int64_t shape[ASR_MAX_DIMS];
  size_t count;                   /* product of shape (1 for a scalar) */
  void *data;                     /* count elements of dtype, native byte order */
} asr_array;

/* The dtype of asr_real: ASR_DTYPE_F32 or ASR_DTYPE_F64. */
#define ASR_DTYPE_REAL (ASR_REAL_DOUBLE ? ASR_DTYPE_F64 : ASR_DTYPE_F32)

ASRDEF size_t asr_dtype_size(asr_dtype t);
ASRDEF const char *asr_dtype_name(asr_dtype t);   /* "float32", "int64", ... */
ASRDEF asr_result asr_npy_parse(const void *buf, size_t len, asr_array *out, void *user,
                                asr_error *err);
ASRDEF asr_result asr_npy_read(const char *path, asr_array *out, void *user, asr_error *err);
/* Writes header + data of a .npy into `buf` (cap bytes); *len gets the size needed.
 * Pass buf = NULL to query the size. */
ASRDEF asr_result asr_npy_encode(void *buf, size_t cap, size_t *len, asr_dtype dtype, int ndim,
                                 const int64_t *shape, const void *data);
ASRDEF asr_result asr_npy_write(const char *path, asr_dtype dtype, int ndim,
                                const int64_t *shape, const void *data, asr_error *err);
/* Allocates a zeroed array (data through ASR_MALLOC). */
ASRDEF asr_result asr_array_alloc(asr_array *a, asr_dtype dtype, int ndim, const int64_t *shape,
                                  void *user);
ASRDEF void asr_array_free(asr_array *a, void *user);
/* Converts every element to asr_real / int. to_int refuses non-integral or out-of-int
 * values; to_real refuses NaN and infinity unless allow_nonfinite. */
ASRDEF asr_result asr_array_to_real(const asr_array *a, asr_real *dst, int allow_nonfinite,
                                    asr_error *err);
ASRDEF asr_result asr_array_to_int(const asr_array *a, int *dst, asr_error *err);

/* ---- .npz archives: an uncompressed (stored) zip of .npy members, as numpy.savez
 * writes and numpy.load reads. Member names are given without the ".npy" suffix.
 * Compressed members (numpy.savez_compressed) are ASR_ERR_UNSUPPORTED. */
typedef struct asr_npz {
  int count;
  char **names;                   /* count names, without ".npy" */
  asr_array *arrays;              /* count arrays */
} asr_npz;
ASRDEF asr_result asr_npz_parse(const void *buf, size_t len, asr_npz *out, void *user,
                                asr_error *err);
ASRDEF asr_result asr_npz_read(const char *path, asr_npz *out, void *user, asr_error *err);
ASRDEF const asr_array *asr_npz_get(const asr_npz *z, const char *name);   /* NULL if absent */
ASRDEF void asr_npz_free(asr_npz *z, void *user);

/* Writer: open, add members, close (atomic: the archive appears only at close). */
typedef struct asr_npz_writer {
  FILE *fp;
  char *path, *tmp_path;
  int count, cap;
  struct asr_npz__entry *entries;
  uint64_t offset;
  asr_result status;              /* the first error; close() then discards the file */
  void *user;
} asr_npz_writer;
ASRDEF asr_result asr_npz_writer_open(asr_npz_writer *w, const char *path, void *user,
                                      asr_error *err);
ASRDEF asr_result asr_npz_writer_add(asr_npz_writer *w, const char *name, asr_dtype dtype,
                                     int ndim, const int64_t *shape, const void *data,
                                     asr_error *err);
ASRDEF asr_result asr_npz_writer_close(asr_npz_writer *w, asr_error *err);
ASRDEF void asr_npz_writer_abort(asr_npz_writer *w);

/* ---- Files: read a whole file, and write one atomically (temporary file + rename). */
ASRDEF asr_result asr_read_file(const char *path, unsigned char **data, size_t *len, void *user,
                                asr_error *err);
ASRDEF asr_result asr_write_file_atomic(const char *path, const void *data, size_t len,
                                        asr_error *err);

/* ---- Finite-difference gradient check, in double.
 * f(ctx) evaluates the scalar objective with the current parameter values (it reads the
 * parameters through pointers it holds). Each asr_gradcheck_param names a parameter
 * array x (n) and the analytic gradient grad (n) computed beforehand. For a parameter with
 * n <= opts.max_elements every element is checked by the fourth-order central difference
 *     g_num = (f(x - 2h e_i) - 8 f(x - h e_i) + 8 f(x + h e_i) - f(x + 2h e_i)) / (12 h)
 * (truncation error h^4 f^(5) / 30, against h^2 f''' / 6 for the two-point formula);
 * a larger one is checked the same way along opts.directions random unit directions v
 * (Gaussian, normalized), against the directional derivative sum_i grad_i v_i.
 * Error of one comparison: |g_num - g_ana| / max(|g_num|, |g_ana|, floor), with
 *     floor = opts.abs_floor * max(1, |f(x)|).
 * The report gives the worst one. x is restored exactly after each probe.
 * Why the floor: besides truncation, every difference carries the rounding error of f,
 * about eps_mach |f| / h: with double and h = 1e-3 that is ~1e-13 |f| absolute, so a
 * gradient entry of 1e-12 cannot be checked to 1e-6 relative. Entries below the floor
 * are in effect compared absolutely (to tol * floor). Defaults: h = 1e-3 and abs_floor
 * 1e-5 in double; h = 3e-2 and abs_floor 1e-2 in float, where relative errors around
 * 1e-3 are all one can expect. */
typedef double (*asr_objective_fn)(void *ctx);
typedef struct asr_gradcheck_param {
  const char *name;
  asr_real *x;            /* (n) perturbed in place, restored afterwards */
  const asr_real *grad;   /* (n) analytic gradient of f w.r.t. x */
  size_t n;
} asr_gradcheck_param;
typedef struct asr_gradcheck_opts {
  double h;               /* step; 0 picks 1e-3 (double build) or 3e-2 (float build) */
  double abs_floor;       /* floor of the denominator, times max(1,|f|); 0 picks 1e-5
                             (double) or 1e-2 (float) */
  size_t max_elements;    /* per-element check up to this size; 0 picks 64 */
  int directions;         /* random directions for bigger ones; 0 picks 8 */
} asr_gradcheck_opts;
typedef struct asr_gradcheck_report {
  double max_rel_err;
  double max_abs_err;
  const char *worst_param;
  long worst_index;       /* element index, or -1 - direction for a direction check */
  double worst_numeric, worst_analytic;
  int checks;
} asr_gradcheck_report;
ASRDEF asr_result asr_gradcheck(asr_objective_fn f, void *ctx, const asr_gradcheck_param *params,
                                int n_params, const asr_gradcheck_opts *opts, asr_rng *rng,
                                asr_gradcheck_report *report);

/* ---- Small helpers other sections and users share. */
ASRDEF int asr_all_finite(const asr_real *x, size_t n);
/* out = a * b for sizes, ASR_ERR_TOO_LARGE on overflow. */
ASRDEF asr_result asr_size_mul(size_t a, size_t b, size_t *out);

/* ---- How a batch of per-item losses is reduced to one number (sections 5 and 6).
 * The names are PyTorch's; what "mean" divides by is each loss's own business and is
 * documented with it (CTC: by each target length clamped at 1, then the batch mean, as
 * torch.nn.functional.ctc_loss; RNN-T: the plain batch mean, as torchaudio). */
typedef enum asr_reduction {
  ASR_REDUCTION_NONE = 0,    /* one loss per item, (N) */
  ASR_REDUCTION_SUM = 1,     /* their sum, a scalar */
  ASR_REDUCTION_MEAN = 2     /* their mean, a scalar (see each loss) */
} asr_reduction;
ASRDEF const char *asr_reduction_name(asr_reduction r);   /* "none", "sum", "mean" */

/* ========================================================================================
 * 2. Audio
 * ======================================================================================== */

/* ========================================================================================
 * 3. Features
 * ======================================================================================== */

/* ========================================================================================
 * 4. Layers
 * ======================================================================================== */

/* ---------------------------------------------------------------------------------------
 * 4.1 Basic layers: linear, embedding, activations, dropout, norms, cross-entropy
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 4.2 Convolutions: conv1d, depthwise, pointwise, depthwise-separable; SE; ContextNet
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 4.3 Conformer: Conv2dSubsampling, relative positions, rel-pos MHSA, conv module, block
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 4.4 Recurrent and attention: LSTM (uni, bi, pyramidal), dot / additive / location-aware
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 4.5 Optimizers and schedules: SGD, Adam, AdamW, warmup, gradient clipping
 * --------------------------------------------------------------------------------------- */

/* ========================================================================================
 * 5. CTC
 * ======================================================================================== */

/* ========================================================================================
 * 6. RNN-T
 * ======================================================================================== */

/* ========================================================================================
 * 7. Seq2seq
 * ======================================================================================== */

/* ========================================================================================
 * 8. Quantizers
 * ======================================================================================== */

/* ========================================================================================
 * 9. Training
 * ======================================================================================== */

/* ========================================================================================
 * 10. Checkers
 * ======================================================================================== */

/* ---------------------------------------------------------------------------------------
 * 10.1 Features checkers
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 10.2 Layers checkers: conv1d, depthwise-separable conv, SE
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 10.3 Conformer, LSTM and attention checkers
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 10.4 CTC checkers
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 10.5 RNN-T checkers
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 10.6 Quantizers checkers
 * --------------------------------------------------------------------------------------- */

#ifdef __cplusplus
}
#endif
#endif /* ASR_H */

/* ############################################################################################
 *                                     IMPLEMENTATION
 * ############################################################################################ */
#ifdef ASR_IMPLEMENTATION
#ifndef ASR__IMPLEMENTATION_DONE
#define ASR__IMPLEMENTATION_DONE

#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <stdarg.h>
#include <errno.h>

#if defined(ASR_MALLOC) != defined(ASR_FREE)
#error "asr.h: define both ASR_MALLOC and ASR_FREE, or neither"
#endif
#ifndef ASR_MALLOC
#define ASR_MALLOC(sz, user) ((void)(user), malloc(sz))
#define ASR_FREE(p, user) ((void)(user), free(p))
#endif
#ifndef ASR_ASSERT
#include <assert.h>
#define ASR_ASSERT(x) assert(x)
#endif
#ifdef ASR_USE_STB_VORBIS
#define STB_VORBIS_HEADER_ONLY
#include <stb/stb_vorbis.h>
#endif
#if defined(ASR_SIMD_AVX2)
#include <immintrin.h>
#elif defined(ASR_SIMD_NEON)
#include <arm_neon.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define ASR__PRIVATE static ASR__UNUSED   /* private helpers; some builds use only a few */
#define ASR__MIN(a, b) ((a) < (b) ? (a) : (b))
#define ASR__MAX(a, b) ((a) > (b) ? (a) : (b))
/* A typed allocation that reads the same in C and C++. */
#define ASR__ALLOC(type, count, user) ((type *)ASR_MALLOC(sizeof(type) * (size_t)(count), user))

/* ========================================================================================
 * 1. Core (implementation)
 * ======================================================================================== */

ASRDEF const char *asr_result_string(asr_result r) {
  switch (r) {
    case ASR_OK: return "ok";
    case ASR_INFEASIBLE: return "a target cannot be aligned to its input (loss is infinite)";
    case ASR_ERR_INVALID_ARG: return "invalid argument";
    case ASR_ERR_OUT_OF_MEMORY: return "out of memory";
    case ASR_ERR_TOO_LARGE: return "size too large";
    case ASR_ERR_SHAPE: return "shape mismatch";
    case ASR_ERR_RANGE: return "value out of range";
    case ASR_ERR_NONFINITE: return "NaN or infinity in input";
    case ASR_ERR_IO: return "input/output error";
    case ASR_ERR_FORMAT: return "malformed file";
    case ASR_ERR_UNSUPPORTED: return "unsupported format variant";
    case ASR_ERR_WORKSPACE: return "workspace too small";
  }
  return "unknown result code";
}

/* Records the first line of an error in `err` (if any) and returns `code`. */
ASR__PRIVATE asr_result asr__fail(asr_error *err, asr_result code, const char *fmt, ...)
    ASR__PRINTF(3, 4);
ASR__PRIVATE asr_result asr__fail(asr_error *err, asr_result code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

/* Checkers: count one case and report it through the optional log hook. */
ASR__PRIVATE void asr__check_case(asr_check_report *rep, int ok, double errv, const char *fmt, ...)
    ASR__PRINTF(4, 5);
ASR__PRIVATE void asr__check_case(asr_check_report *rep, int ok, double errv, const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (errv > rep->worst || errv != errv) rep->worst = errv;
  if (ok) {
    rep->passed++;
  } else {
    if (rep->failed == 0) snprintf(rep->first_failure, sizeof rep->first_failure, "%s", line);
    rep->failed++;
  }
  if (rep->log) {
    char out[300];
    snprintf(out, sizeof out, "%s %s", ok ? "[ OK ]" : "[FAIL]", line);
    rep->log(rep->log_user, out);
  }
}

ASRDEF asr_result asr_size_mul(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > (size_t)-1 / a) return ASR_ERR_TOO_LARGE;
  *out = a * b;
  return ASR_OK;
}

ASRDEF int asr_all_finite(const asr_real *x, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* ---- asr_rng: PCG32 XSH-RR */
ASRDEF uint32_t asr_rng_u32(asr_rng *rng) {
  uint64_t old = rng->state;
  uint32_t xorshifted, rot;
  rng->state = old * 6364136223846793005ULL + rng->inc;     /* the LCG step */
  xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);      /* XSH: xorshift high bits */
  rot = (uint32_t)(old >> 59);                             /* RR: random rotation */
  return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

ASRDEF void asr_rng_seed(asr_rng *rng, uint64_t seed, uint64_t stream) {
  rng->state = 0;
  rng->inc = (stream << 1) | 1u;     /* the increment must be odd */
  (void)asr_rng_u32(rng);
  rng->state += seed;
  (void)asr_rng_u32(rng);
}

ASRDEF double asr_rng_uniform(asr_rng *rng) {
  uint64_t hi = asr_rng_u32(rng), lo = asr_rng_u32(rng);
  uint64_t x = (hi << 32) | lo;
  /* 53 random bits, centred in their cell: never exactly 0 or 1 */
  return ((double)(x >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

ASRDEF double asr_rng_normal(asr_rng *rng) {
  /* Box-Muller: z = sqrt(-2 log u1) cos(2 pi u2) */
  double u1 = asr_rng_uniform(rng), u2 = asr_rng_uniform(rng);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

ASRDEF double asr_rng_gumbel(asr_rng *rng) {
  double u = asr_rng_uniform(rng);
  return -log(-log(u));
}

ASRDEF int asr_rng_int(asr_rng *rng, int n) {
  /* rejection sampling on 32 bits: values below `limit` map evenly onto 0..n-1 */
  uint32_t un, limit, x;
  if (n <= 1) return 0;
  un = (uint32_t)n;
  limit = 0xFFFFFFFFu - (0xFFFFFFFFu % un + 1u) % un;  /* largest multiple of n, minus 1 */
  do {
    x = asr_rng_u32(rng);
  } while (x > limit);
  return (int)(x % un);
}

/* ---- log-sum-exp and softmax */
ASRDEF double asr_logaddexp(double a, double b) {
  double m;
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  m = a > b ? a : b;
  /* log(e^a + e^b) = m + log1p(e^-(|a-b|)) */
  return m + log1p(exp(-fabs(a - b)));
}

ASRDEF double asr_logsumexp(const asr_real *x, int n) {
  double m = -INFINITY, s = 0.0;
  int i;
  for (i = 0; i < n; i++)
    if (x[i] > m) m = x[i];
  if (m == -INFINITY || m == INFINITY) return m;
  for (i = 0; i < n; i++) s += exp((double)x[i] - m);
  return m + log(s);
}

ASRDEF void asr_log_softmax(asr_real *y, const asr_real *x, int n) {
  double lse = asr_logsumexp(x, n);
  int i;
  for (i = 0; i < n; i++) y[i] = (asr_real)((double)x[i] - lse);
}

ASRDEF void asr_softmax(asr_real *y, const asr_real *x, int n) {
  double lse = asr_logsumexp(x, n);
  int i;
  for (i = 0; i < n; i++) y[i] = (asr_real)exp((double)x[i] - lse);
}

ASRDEF void asr_softmax_backward(asr_real *dx, const asr_real *y, const asr_real *dy, int n) {
  double dot = 0;
  int i;
  for (i = 0; i < n; i++) dot += (double)dy[i] * y[i];
  for (i = 0; i < n; i++) dx[i] += (asr_real)(y[i] * (dy[i] - dot));
}

ASRDEF void asr_log_softmax_backward(asr_real *dx, const asr_real *y, const asr_real *dy, int n) {
  double sum = 0;
  int i;
  for (i = 0; i < n; i++) sum += dy[i];
  for (i = 0; i < n; i++) dx[i] += (asr_real)(dy[i] - exp((double)y[i]) * sum);
}

/* ---- GEMM */
#define ASR__A(i, k) (trans_a ? A[(size_t)(k) * lda + (i)] : A[(size_t)(i) * lda + (k)])
#define ASR__B(k, j) (trans_b ? B[(size_t)(j) * ldb + (k)] : B[(size_t)(k) * ldb + (j)])

ASRDEF void asr_gemm_naive(int trans_a, int trans_b, int M, int N, int K, asr_real alpha,
                           const asr_real *A, int lda, const asr_real *B, int ldb,
                           asr_real beta, asr_real *C, int ldc) {
  int i, j, k;
  for (i = 0; i < M; i++)
    for (j = 0; j < N; j++) {
      double s = 0.0;                                 /* C_ij = sum_k A_ik B_kj */
      for (k = 0; k < K; k++) s += (double)ASR__A(i, k) * (double)ASR__B(k, j);
      s *= alpha;
      if (beta != 0) s += (double)beta * C[(size_t)i * ldc + j];
      C[(size_t)i * ldc + j] = (asr_real)s;
    }
}

ASRDEF void asr_gemm_ref(int trans_a, int trans_b, int M, int N, int K, asr_real alpha,
                         const asr_real *A, int lda, const asr_real *B, int ldb,
                         asr_real beta, asr_real *C, int ldc) {
  /* Blocks of KB x NB of B stay in cache while every row of A streams past them. */
  enum { KB = 128, NB = 256 };
  int i, j, k, k0, j0;
  for (i = 0; i < M; i++) {
    asr_real *c = C + (size_t)i * ldc;
    if (beta == 0)
      for (j = 0; j < N; j++) c[j] = 0;
    else if (beta != 1)
      for (j = 0; j < N; j++) c[j] *= beta;
  }
  for (k0 = 0; k0 < K; k0 += KB) {
    int k1 = ASR__MIN(K, k0 + KB);
    for (j0 = 0; j0 < N; j0 += NB) {
      int j1 = ASR__MIN(N, j0 + NB);
      for (i = 0; i < M; i++) {
        asr_real *c = C + (size_t)i * ldc;
        for (k = k0; k < k1; k++) {
          asr_real a = alpha * ASR__A(i, k);
          if (a == 0) continue;
          if (!trans_b) {
            const asr_real *b = B + (size_t)k * ldb;
            for (j = j0; j < j1; j++) c[j] += a * b[j];      /* c_i. += a_ik b_k. */
          } else {
            for (j = j0; j < j1; j++) c[j] += a * B[(size_t)j * ldb + k];
          }
        }
      }
    }
  }
}
#undef ASR__A
#undef ASR__B

#if defined(ASR_SIMD_AVX2) && !ASR_REAL_DOUBLE
/* The AVX2+FMA GEMM: a 6x16 register-blocked micro-kernel (the GotoBLAS/BLIS layout).
 *   for each 16-column panel of op(B):  for each block of KC = 256 steps of k:
 *     pack the panel (KC x 16, k-major, zero past N) once;
 *     for each 6-row sliver of op(A): micro-kernel, then C block += alpha * acc.
 * The micro-kernel keeps the 6x16 block of C in 12 ymm accumulators: for each k it
 * broadcasts op(A)[i0..i0+5][k] and multiplies-adds them into two 8-wide loads of the
 * packed row op(B)[k][j0..j0+15]. op(A) is read in place through six row pointers with a
 * step of 1 (A as is) or lda (A transposed); rows past M repeat row i0 and their results
 * are dropped. Packing B (1/(2*rows) of the work) avoids the cache-set conflicts of
 * power-of-two row strides and makes both B layouts one contiguous stream. The pack is
 * on the stack (16 KiB): kernels never allocate. */
enum { ASR__GEMM_MR = 6, ASR__GEMM_NR = 16, ASR__GEMM_KC = 256 };

ASR__PRIVATE void asr__gemm_micro_avx2(int kc, const float *const *a, ptrdiff_t as, const float *bp,
                                       float *acc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps();
  __m256 c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps();
  __m256 c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
  int k;
  for (k = 0; k < kc; k++, bp += ASR__GEMM_NR, a0 += as, a1 += as, a2 += as, a3 += as, a4 += as, a5 += as) {
    __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8), v;
    v = _mm256_broadcast_ss(a0); c00 = _mm256_fmadd_ps(v, b0, c00); c01 = _mm256_fmadd_ps(v, b1, c01);
    v = _mm256_broadcast_ss(a1); c10 = _mm256_fmadd_ps(v, b0, c10); c11 = _mm256_fmadd_ps(v, b1, c11);
    v = _mm256_broadcast_ss(a2); c20 = _mm256_fmadd_ps(v, b0, c20); c21 = _mm256_fmadd_ps(v, b1, c21);
    v = _mm256_broadcast_ss(a3); c30 = _mm256_fmadd_ps(v, b0, c30); c31 = _mm256_fmadd_ps(v, b1, c31);
    v = _mm256_broadcast_ss(a4); c40 = _mm256_fmadd_ps(v, b0, c40); c41 = _mm256_fmadd_ps(v, b1, c41);
    v = _mm256_broadcast_ss(a5); c50 = _mm256_fmadd_ps(v, b0, c50); c51 = _mm256_fmadd_ps(v, b1, c51);
  }
  _mm256_storeu_ps(acc + 0, c00);  _mm256_storeu_ps(acc + 8, c01);
  _mm256_storeu_ps(acc + 16, c10); _mm256_storeu_ps(acc + 24, c11);
  _mm256_storeu_ps(acc + 32, c20); _mm256_storeu_ps(acc + 40, c21);
  _mm256_storeu_ps(acc + 48, c30); _mm256_storeu_ps(acc + 56, c31);
  _mm256_storeu_ps(acc + 64, c40); _mm256_storeu_ps(acc + 72, c41);
  _mm256_storeu_ps(acc + 80, c50); _mm256_storeu_ps(acc + 88, c51);
}

ASR__PRIVATE void asr__gemm_avx2(int trans_a, int trans_b, int M, int N, int K, float alpha,
                                 const float *A, int lda, const float *B, int ldb, float beta,
                                 float *C, int ldc) {
  float bpack[ASR__GEMM_KC * ASR__GEMM_NR], acc[ASR__GEMM_MR * ASR__GEMM_NR];
  int i, j, k, i0, j0, k0;
  /* C = beta C first; the blocks below only add alpha op(A) op(B) */
  for (i = 0; i < M; i++) {
    float *c = C + (size_t)i * ldc;
    if (beta == 0)
      for (j = 0; j < N; j++) c[j] = 0;
    else if (beta != 1)
      for (j = 0; j < N; j++) c[j] *= beta;
  }
  if (alpha == 0) return;
  for (j0 = 0; j0 < N; j0 += ASR__GEMM_NR) {
    int nr = ASR__MIN(ASR__GEMM_NR, N - j0);
    for (k0 = 0; k0 < K; k0 += ASR__GEMM_KC) {
      int kc = ASR__MIN(ASR__GEMM_KC, K - k0);
      /* bpack[k][jj] = op(B)[k0+k][j0+jj], zero past N */
      for (k = 0; k < kc; k++) {
        float *dst = bpack + (size_t)k * ASR__GEMM_NR;
        int jj;
        if (!trans_b) {
          const float *src = B + (size_t)(k0 + k) * ldb + j0;
          for (jj = 0; jj < nr; jj++) dst[jj] = src[jj];
        } else {
          for (jj = 0; jj < nr; jj++) dst[jj] = B[(size_t)(j0 + jj) * ldb + k0 + k];
        }
        for (; jj < ASR__GEMM_NR; jj++) dst[jj] = 0;
      }
      for (i0 = 0; i0 < M; i0 += ASR__GEMM_MR) {
        int mr = ASR__MIN(ASR__GEMM_MR, M - i0), r;
        const float *arow[ASR__GEMM_MR];
        for (r = 0; r < ASR__GEMM_MR; r++) {
          int ir = i0 + (r < mr ? r : 0);       /* rows past M repeat row i0 */
          arow[r] = trans_a ? A + (size_t)k0 * lda + ir : A + (size_t)ir * lda + k0;
        }
        asr__gemm_micro_avx2(kc, arow, trans_a ? (ptrdiff_t)lda : 1, bpack, acc);
        /* C block += alpha * acc, only the valid part */
        for (r = 0; r < mr; r++) {
          float *c = C + (size_t)(i0 + r) * ldc + j0;
          const float *a = acc + r * ASR__GEMM_NR;
          if (nr == ASR__GEMM_NR) {
            __m256 va = _mm256_set1_ps(alpha);
            _mm256_storeu_ps(c, _mm256_fmadd_ps(va, _mm256_loadu_ps(a), _mm256_loadu_ps(c)));
            _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(va, _mm256_loadu_ps(a + 8), _mm256_loadu_ps(c + 8)));
          } else {
            int jj;
            for (jj = 0; jj < nr; jj++) c[jj] += alpha * a[jj];
          }
        }
      }
    }
  }
}
#endif

ASRDEF void asr_gemm(int trans_a, int trans_b, int M, int N, int K, asr_real alpha,
                     const asr_real *A, int lda, const asr_real *B, int ldb,
                     asr_real beta, asr_real *C, int ldc) {
#if defined(ASR_SIMD_AVX2) && !ASR_REAL_DOUBLE
  asr__gemm_avx2(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
  asr_gemm_ref(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

/* ---- files */
ASRDEF asr_result asr_read_file(const char *path, unsigned char **data, size_t *len, void *user,
                                asr_error *err) {
  FILE *fp;
  unsigned char *buf = NULL;
  size_t cap = 0, n = 0;
  *data = NULL;
  *len = 0;
  fp = fopen(path, "rb");
  if (!fp) return asr__fail(err, ASR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  for (;;) {
    size_t got;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      unsigned char *nb = ASR__ALLOC(unsigned char, ncap, user);
      if (!nb || ncap < cap) {
        ASR_FREE(buf, user);
        fclose(fp);
        return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
      }
      if (n) memcpy(nb, buf, n);
      ASR_FREE(buf, user);
      buf = nb;
      cap = ncap;
    }
    got = fread(buf + n, 1, cap - n, fp);
    n += got;
    if (got == 0) break;
  }
  if (ferror(fp)) {
    ASR_FREE(buf, user);
    fclose(fp);
    return asr__fail(err, ASR_ERR_IO, "%s: read error (is it a directory?)", path);
  }
  fclose(fp);
  *data = buf;
  *len = n;
  return ASR_OK;
}

/* "<path>.tmp.<n>" beside the target, so that rename() stays on one file system. */
ASR__PRIVATE FILE *asr__open_temp(const char *path, char *tmp, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  unsigned long salt = (unsigned long)(uintptr_t)tmp ^ (unsigned long)(uintptr_t)&salt;
  int attempt;
  for (attempt = 0; attempt < 16; attempt++) {
    FILE *fp;
    char suffix[16];
    int i;
    unsigned long v = salt + (unsigned long)attempt * 2654435761UL;
    for (i = 0; i < 8; i++) suffix[i] = hex[(v >> (4 * i)) & 15];
    suffix[8] = 0;
    if ((size_t)snprintf(tmp, cap, "%s.tmp%s", path, suffix) >= cap) return NULL;
    fp = fopen(tmp, "wbx");   /* C11 "x": fail if it exists; glibc honours it in C99 too */
    if (fp) return fp;
    if (errno != EEXIST) return NULL;
  }
  return NULL;
}

ASRDEF asr_result asr_write_file_atomic(const char *path, const void *data, size_t len,
                                        asr_error *err) {
  char tmp[4096];
  FILE *fp = asr__open_temp(path, tmp, sizeof tmp);
  int ok;
  if (!fp) return asr__fail(err, ASR_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  ok = (len == 0 || fwrite(data, 1, len, fp) == len);
  ok = (fclose(fp) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return asr__fail(err, ASR_ERR_IO, "%s: cannot write: %s", path, strerror(e));
  }
  return ASR_OK;
}

/* ---- .npy */
ASRDEF size_t asr_dtype_size(asr_dtype t) {
  switch (t) {
    case ASR_DTYPE_F32: case ASR_DTYPE_I32: return 4;
    case ASR_DTYPE_F64: case ASR_DTYPE_I64: return 8;
    case ASR_DTYPE_U8: return 1;
  }
  return 0;
}

ASRDEF const char *asr_dtype_name(asr_dtype t) {
  switch (t) {
    case ASR_DTYPE_F32: return "float32";
    case ASR_DTYPE_F64: return "float64";
    case ASR_DTYPE_I32: return "int32";
    case ASR_DTYPE_I64: return "int64";
    case ASR_DTYPE_U8: return "uint8";
  }
  return "?";
}

ASR__PRIVATE const char *asr__dtype_descr(asr_dtype t) {
  switch (t) {
    case ASR_DTYPE_F32: return "<f4";
    case ASR_DTYPE_F64: return "<f8";
    case ASR_DTYPE_I32: return "<i4";
    case ASR_DTYPE_I64: return "<i8";
    case ASR_DTYPE_U8: return "|u1";
  }
  return "?";
}

ASR__PRIVATE int asr__host_is_little_endian(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

ASR__PRIVATE void asr__byteswap(void *data, size_t count, size_t size) {
  unsigned char *p = (unsigned char *)data;
  size_t i, k;
  if (size <= 1) return;
  for (i = 0; i < count; i++, p += size)
    for (k = 0; k < size / 2; k++) {
      unsigned char t = p[k];
      p[k] = p[size - 1 - k];
      p[size - 1 - k] = t;
    }
}

/* A tiny scanner over the header dict, e.g.
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }                  */
typedef struct asr__scan {
  const char *p, *end;
} asr__scan;

ASR__PRIVATE void asr__scan_ws(asr__scan *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}
ASR__PRIVATE int asr__scan_char(asr__scan *s, char c) {
  asr__scan_ws(s);
  if (s->p < s->end && *s->p == c) {
    s->p++;
    return 1;
  }
  return 0;
}
/* A quoted string ('...' or "..."); copies at most cap-1 characters. */
ASR__PRIVATE int asr__scan_string(asr__scan *s, char *out, size_t cap) {
  char q;
  size_t n = 0;
  asr__scan_ws(s);
  if (s->p >= s->end || (*s->p != '\'' && *s->p != '"')) return 0;
  q = *s->p++;
  while (s->p < s->end && *s->p != q) {
    if (n + 1 < cap) out[n++] = *s->p;
    s->p++;
  }
  if (s->p >= s->end) return 0;
  s->p++;
  out[n] = 0;
  return 1;
}

ASRDEF asr_result asr_npy_parse(const void *buf, size_t len, asr_array *out, void *user,
                                asr_error *err) {
  const unsigned char *b = (const unsigned char *)buf;
  size_t hlen, hstart, nbytes, esize = 0;
  asr__scan s;
  char key[32], descr[16];
  int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0, big_endian = 0;
  asr_dtype dtype = ASR_DTYPE_F32;
  asr_array a;
  memset(out, 0, sizeof *out);
  memset(&a, 0, sizeof a);
  if (!buf && len) return asr__fail(err, ASR_ERR_INVALID_ARG, "no buffer");
  if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
    return asr__fail(err, ASR_ERR_FORMAT, "not a .npy file (no \\x93NUMPY magic)");
  if (b[6] == 1) {
    hlen = (size_t)b[8] | ((size_t)b[9] << 8);
    hstart = 10;
  } else if (b[6] == 2 || b[6] == 3) {
    if (len < 12) return asr__fail(err, ASR_ERR_FORMAT, "truncated .npy header");
    hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
    hstart = 12;
  } else {
    return asr__fail(err, ASR_ERR_UNSUPPORTED, ".npy format version %d.%d is not supported",
                     b[6], b[7]);
  }
  if (hlen > len - hstart) return asr__fail(err, ASR_ERR_FORMAT, "truncated .npy header");
  s.p = (const char *)b + hstart;
  s.end = s.p + hlen;
  if (!asr__scan_char(&s, '{')) return asr__fail(err, ASR_ERR_FORMAT, "malformed .npy header: no '{'");
  while (!asr__scan_char(&s, '}')) {
    if (!asr__scan_string(&s, key, sizeof key) || !asr__scan_char(&s, ':'))
      return asr__fail(err, ASR_ERR_FORMAT, "malformed .npy header: expected 'key':");
    if (strcmp(key, "descr") == 0) {
      if (!asr__scan_string(&s, descr, sizeof descr))
        return asr__fail(err, ASR_ERR_UNSUPPORTED, "unsupported .npy dtype (structured?)");
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      asr__scan_ws(&s);
      if ((size_t)(s.end - s.p) >= 4 && memcmp(s.p, "True", 4) == 0) {
        fortran = 1;
        s.p += 4;
      } else if ((size_t)(s.end - s.p) >= 5 && memcmp(s.p, "False", 5) == 0) {
        s.p += 5;
      } else {
        return asr__fail(err, ASR_ERR_FORMAT, "malformed .npy header: fortran_order");
      }
      have_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (!asr__scan_char(&s, '('))
        return asr__fail(err, ASR_ERR_FORMAT, "malformed .npy header: shape");
      while (!asr__scan_char(&s, ')')) {
        int64_t v = 0;
        int digits = 0;
        asr__scan_ws(&s);
        while (s.p < s.end && *s.p >= '0' && *s.p <= '9') {
          if (v > (INT64_MAX - 9) / 10)
            return asr__fail(err, ASR_ERR_TOO_LARGE, ".npy shape dimension too large");
          v = v * 10 + (*s.p++ - '0');
          digits++;
        }
        asr__scan_ws(&s);
        if (s.p < s.end && *s.p == 'L') s.p++;   /* Python 2 longs */
        if (!digits) return asr__fail(err, ASR_ERR_FORMAT, "malformed .npy header: shape");
        if (a.ndim == ASR_MAX_DIMS)
          return asr__fail(err, ASR_ERR_UNSUPPORTED, ".npy has more than %d dimensions", ASR_MAX_DIMS);
        a.shape[a.ndim++] = v;
        if (!asr__scan_char(&s, ',')) {
          if (!asr__scan_char(&s, ')'))
            return asr__fail(err, ASR_ERR_FORMAT, "malformed .npy header: shape");
          break;
        }
      }
      have_shape = 1;
    } else {
      return asr__fail(err, ASR_ERR_FORMAT, "malformed .npy header: unknown key '%s'", key);
    }
    if (!asr__scan_char(&s, ',')) {
      if (!asr__scan_char(&s, '}'))
        return asr__fail(err, ASR_ERR_FORMAT, "malformed .npy header: expected ',' or '}'");
      break;
    }
  }
  if (!have_descr || !have_order || !have_shape)
    return asr__fail(err, ASR_ERR_FORMAT, "malformed .npy header: missing descr, fortran_order or shape");
  if (descr[0] == '>') big_endian = 1;
  else if (descr[0] != '<' && descr[0] != '|' && descr[0] != '=')
    return asr__fail(err, ASR_ERR_UNSUPPORTED, "unsupported .npy dtype '%s'", descr);
  if (strcmp(descr + 1, "f4") == 0) dtype = ASR_DTYPE_F32;
  else if (strcmp(descr + 1, "f8") == 0) dtype = ASR_DTYPE_F64;
  else if (strcmp(descr + 1, "i4") == 0) dtype = ASR_DTYPE_I32;
  else if (strcmp(descr + 1, "i8") == 0) dtype = ASR_DTYPE_I64;
  else if (strcmp(descr + 1, "u1") == 0) dtype = ASR_DTYPE_U8;
  else
    return asr__fail(err, ASR_ERR_UNSUPPORTED,
                     "unsupported .npy dtype '%s' (use float32, float64, int32, int64 or uint8)",
                     descr);
  if (descr[0] == '=' && !asr__host_is_little_endian()) big_endian = 1;
  if (fortran && a.ndim > 1)
    return asr__fail(err, ASR_ERR_UNSUPPORTED,
                     "Fortran-ordered .npy is not supported (save np.ascontiguousarray(x))");
  a.dtype = dtype;
  a.count = 1;
  {
    int d;
    for (d = 0; d < a.ndim; d++)
      if (asr_size_mul(a.count, (size_t)a.shape[d], &a.count) != ASR_OK)
        return asr__fail(err, ASR_ERR_TOO_LARGE, ".npy shape too large");
  }
  esize = asr_dtype_size(dtype);
  if (asr_size_mul(a.count, esize, &nbytes) != ASR_OK)
    return asr__fail(err, ASR_ERR_TOO_LARGE, ".npy shape too large");
  if (nbytes != len - hstart - hlen)
    return asr__fail(err, ASR_ERR_FORMAT, ".npy data is %lu bytes, the header promises %lu",
                     (unsigned long)(len - hstart - hlen), (unsigned long)nbytes);
  a.data = ASR_MALLOC(nbytes ? nbytes : 1, user);
  if (!a.data) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory for .npy data");
  if (nbytes) memcpy(a.data, b + hstart + hlen, nbytes);
  if (big_endian == asr__host_is_little_endian()) asr__byteswap(a.data, a.count, esize);
  *out = a;
  return ASR_OK;
}

ASRDEF asr_result asr_npy_read(const char *path, asr_array *out, void *user, asr_error *err) {
  unsigned char *buf;
  size_t len;
  asr_result r;
  memset(out, 0, sizeof *out);
  r = asr_read_file(path, &buf, &len, user, err);
  if (r != ASR_OK) return r;
  r = asr_npy_parse(buf, len, out, user, err);
  ASR_FREE(buf, user);
  if (r != ASR_OK && err) {
    char m[sizeof err->msg];
    snprintf(m, sizeof m, "%s", err->msg);
    asr__fail(err, r, "%s: %s", path, m);
  }
  return r;
}

ASRDEF asr_result asr_npy_encode(void *buf, size_t cap, size_t *len, asr_dtype dtype, int ndim,
                                 const int64_t *shape, const void *data) {
  char header[512];
  int n, d;
  size_t count = 1, nbytes, total, esize = asr_dtype_size(dtype);
  if (ndim < 0 || ndim > ASR_MAX_DIMS || esize == 0) return ASR_ERR_INVALID_ARG;
  n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (",
               asr__dtype_descr(dtype));
  for (d = 0; d < ndim; d++) {
    if (shape[d] < 0) return ASR_ERR_INVALID_ARG;
    if (asr_size_mul(count, (size_t)shape[d], &count) != ASR_OK) return ASR_ERR_TOO_LARGE;
    n += snprintf(header + n, sizeof header - (size_t)n, ndim == 1 ? "%lld," : (d ? ", %lld" : "%lld"),
                  (long long)shape[d]);
  }
  n += snprintf(header + n, sizeof header - (size_t)n, "), }");
  /* pad with spaces and a newline so that magic + length + header is a multiple of 64 */
  while ((10 + n + 1) % 64 != 0) header[n++] = ' ';
  header[n++] = '\n';
  if (asr_size_mul(count, esize, &nbytes) != ASR_OK) return ASR_ERR_TOO_LARGE;
  total = 10 + (size_t)n + nbytes;
  if (total < nbytes) return ASR_ERR_TOO_LARGE;
  *len = total;
  if (!buf) return ASR_OK;
  if (cap < total) return ASR_ERR_WORKSPACE;
  {
    unsigned char *b = (unsigned char *)buf;
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(n & 0xff);
    b[9] = (unsigned char)(n >> 8);
    memcpy(b + 10, header, (size_t)n);
    if (nbytes) memcpy(b + 10 + n, data, nbytes);
    if (!asr__host_is_little_endian()) asr__byteswap(b + 10 + n, count, esize);
  }
  return ASR_OK;
}

ASRDEF asr_result asr_npy_write(const char *path, asr_dtype dtype, int ndim,
                                const int64_t *shape, const void *data, asr_error *err) {
  size_t len;
  void *buf;
  asr_result r = asr_npy_encode(NULL, 0, &len, dtype, ndim, shape, data);
  if (r != ASR_OK) return asr__fail(err, r, "%s: %s", path, asr_result_string(r));
  buf = ASR_MALLOC(len, NULL);
  if (!buf) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  r = asr_npy_encode(buf, len, &len, dtype, ndim, shape, data);
  if (r == ASR_OK) r = asr_write_file_atomic(path, buf, len, err);
  ASR_FREE(buf, NULL);
  return r;
}

ASRDEF asr_result asr_array_alloc(asr_array *a, asr_dtype dtype, int ndim, const int64_t *shape,
                                  void *user) {
  size_t nbytes;
  int d;
  memset(a, 0, sizeof *a);
  if (ndim < 0 || ndim > ASR_MAX_DIMS) return ASR_ERR_INVALID_ARG;
  a->dtype = dtype;
  a->ndim = ndim;
  a->count = 1;
  for (d = 0; d < ndim; d++) {
    if (shape[d] < 0) return ASR_ERR_INVALID_ARG;
    a->shape[d] = shape[d];
    if (asr_size_mul(a->count, (size_t)shape[d], &a->count) != ASR_OK) return ASR_ERR_TOO_LARGE;
  }
  if (asr_size_mul(a->count, asr_dtype_size(dtype), &nbytes) != ASR_OK) return ASR_ERR_TOO_LARGE;
  a->data = ASR_MALLOC(nbytes ? nbytes : 1, user);
  if (!a->data) return ASR_ERR_OUT_OF_MEMORY;
  memset(a->data, 0, nbytes);
  return ASR_OK;
}

ASRDEF void asr_array_free(asr_array *a, void *user) {
  if (!a) return;
  ASR_FREE(a->data, user);
  memset(a, 0, sizeof *a);
}

ASR__PRIVATE double asr__array_get(const asr_array *a, size_t i) {
  switch (a->dtype) {
    case ASR_DTYPE_F32: return ((const float *)a->data)[i];
    case ASR_DTYPE_F64: return ((const double *)a->data)[i];
    case ASR_DTYPE_I32: return ((const int32_t *)a->data)[i];
    case ASR_DTYPE_I64: return (double)((const int64_t *)a->data)[i];
    case ASR_DTYPE_U8: return ((const unsigned char *)a->data)[i];
  }
  return 0;
}

ASRDEF asr_result asr_array_to_real(const asr_array *a, asr_real *dst, int allow_nonfinite,
                                    asr_error *err) {
  size_t i;
  for (i = 0; i < a->count; i++) {
    double v = asr__array_get(a, i);
    if (!allow_nonfinite && !isfinite(v))
      return asr__fail(err, ASR_ERR_NONFINITE, "element %lu is %s", (unsigned long)i,
                       v != v ? "NaN" : "infinite");
    dst[i] = (asr_real)v;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_array_to_int(const asr_array *a, int *dst, asr_error *err) {
  size_t i;
  for (i = 0; i < a->count; i++) {
    if (a->dtype == ASR_DTYPE_I64) {
      int64_t v = ((const int64_t *)a->data)[i];
      if (v < INT32_MIN || v > INT32_MAX)
        return asr__fail(err, ASR_ERR_RANGE, "element %lu (%lld) does not fit in int",
                         (unsigned long)i, (long long)v);
      dst[i] = (int)v;
    } else {
      double v = asr__array_get(a, i);
      if (!(v >= INT32_MIN && v <= INT32_MAX) || v != floor(v))
        return asr__fail(err, ASR_ERR_RANGE, "element %lu (%g) is not an integer",
                         (unsigned long)i, v);
      dst[i] = (int)v;
    }
  }
  return ASR_OK;
}

/* ---- .npz: zip archives of .npy members, stored without compression.
 * The layout (PKWARE APPNOTE.TXT): [local header, name, data]* [central header, name,
 * extra]* [zip64 end record, zip64 locator]? end-of-central-directory. numpy writes its
 * members with force_zip64, so zip64 "extra" fields (id 0x0001) must be understood. */
ASR__PRIVATE uint32_t asr__crc32(uint32_t crc, const unsigned char *p, size_t n) {
  /* bitwise CRC-32 (polynomial 0xEDB88320, reflected), 8 steps per byte, table-free */
  size_t i;
  int k;
  crc = ~crc;
  for (i = 0; i < n; i++) {
    crc ^= p[i];
    for (k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}
ASR__PRIVATE uint32_t asr__rd16(const unsigned char *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
ASR__PRIVATE uint32_t asr__rd32(const unsigned char *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
ASR__PRIVATE uint64_t asr__rd64(const unsigned char *p) {
  return (uint64_t)asr__rd32(p) | ((uint64_t)asr__rd32(p + 4) << 32);
}
ASR__PRIVATE void asr__wr16(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
ASR__PRIVATE void asr__wr32(unsigned char *p, uint32_t v) {
  asr__wr16(p, v & 0xffff);
  asr__wr16(p + 2, v >> 16);
}

ASRDEF void asr_npz_free(asr_npz *z, void *user) {
  int i;
  if (!z) return;
  for (i = 0; i < z->count; i++) {
    if (z->names) ASR_FREE(z->names[i], user);
    if (z->arrays) asr_array_free(&z->arrays[i], user);
  }
  ASR_FREE(z->names, user);
  ASR_FREE(z->arrays, user);
  memset(z, 0, sizeof *z);
}

ASRDEF asr_result asr_npz_parse(const void *buf, size_t len, asr_npz *out, void *user,
                                asr_error *err) {
  const unsigned char *b = (const unsigned char *)buf;
  size_t eocd = 0, pos, i;
  uint64_t n_entries, cd_off, cd_size;
  int found = 0;
  asr_result r;
  memset(out, 0, sizeof *out);
  if (len < 22) return asr__fail(err, ASR_ERR_FORMAT, "not a zip/.npz file (too short)");
  /* the end-of-central-directory record sits in the last 22 + 65535 bytes */
  for (pos = len - 22;; pos--) {
    if (asr__rd32(b + pos) == 0x06054b50u && pos + 22 + asr__rd16(b + pos + 20) == len) {
      eocd = pos;
      found = 1;
      break;
    }
    if (pos == 0 || len - pos > 22 + 65535) break;
  }
  if (!found) return asr__fail(err, ASR_ERR_FORMAT, "not a zip/.npz file (no end of central directory)");
  n_entries = asr__rd16(b + eocd + 10);
  cd_size = asr__rd32(b + eocd + 12);
  cd_off = asr__rd32(b + eocd + 16);
  if (eocd >= 20 && asr__rd32(b + eocd - 20) == 0x07064b50u) {   /* zip64 locator */
    uint64_t z64 = asr__rd64(b + eocd - 20 + 8);
    if (z64 > len || len - z64 < 56 || asr__rd32(b + z64) != 0x06064b50u)
      return asr__fail(err, ASR_ERR_FORMAT, "malformed zip64 end record");
    n_entries = asr__rd64(b + z64 + 32);
    cd_size = asr__rd64(b + z64 + 40);
    cd_off = asr__rd64(b + z64 + 48);
  }
  if (cd_off > len || cd_size > len - cd_off)
    return asr__fail(err, ASR_ERR_FORMAT, "zip central directory lies outside the file");
  if (n_entries > cd_size / 46)
    return asr__fail(err, ASR_ERR_FORMAT, "zip central directory too small for %llu entries",
                     (unsigned long long)n_entries);
  out->names = ASR__ALLOC(char *, n_entries ? n_entries : 1, user);
  out->arrays = ASR__ALLOC(asr_array, n_entries ? n_entries : 1, user);
  if (!out->names || !out->arrays) {
    asr_npz_free(out, user);
    return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
  }
  pos = (size_t)cd_off;
  for (i = 0; i < n_entries; i++) {
    const unsigned char *c = b + pos;
    uint32_t flags, method, crc, name_len, extra_len, comment_len;
    uint64_t csize, usize, loff, data_off;
    size_t e, nl;
    char *name;
    if (len - pos < 46 || asr__rd32(c) != 0x02014b50u) {
      asr_npz_free(out, user);
      return asr__fail(err, ASR_ERR_FORMAT, "malformed zip central directory entry %lu", (unsigned long)i);
    }
    flags = asr__rd16(c + 8);
    method = asr__rd16(c + 10);
    crc = asr__rd32(c + 16);
    csize = asr__rd32(c + 20);
    usize = asr__rd32(c + 24);
    name_len = asr__rd16(c + 28);
    extra_len = asr__rd16(c + 30);
    comment_len = asr__rd16(c + 32);
    loff = asr__rd32(c + 42);
    if (len - pos - 46 < (size_t)name_len + extra_len + comment_len) {
      asr_npz_free(out, user);
      return asr__fail(err, ASR_ERR_FORMAT, "zip central directory entry %lu runs past the end", (unsigned long)i);
    }
    /* zip64 extended information: the 64-bit values replace the ones that are 0xFFFFFFFF */
    for (e = 0; e + 4 <= extra_len;) {
      const unsigned char *x = c + 46 + name_len + e;
      uint32_t id = asr__rd16(x), sz = asr__rd16(x + 2), k = 4;
      if (e + 4 + sz > extra_len) break;
      if (id == 0x0001) {
        if (usize == 0xFFFFFFFFu && k + 8 <= 4 + sz) { usize = asr__rd64(x + k); k += 8; }
        if (csize == 0xFFFFFFFFu && k + 8 <= 4 + sz) { csize = asr__rd64(x + k); k += 8; }
        if (loff == 0xFFFFFFFFu && k + 8 <= 4 + sz) { loff = asr__rd64(x + k); k += 8; }
      }
      e += 4 + sz;
    }
    if (flags & 1u) {
      asr_npz_free(out, user);
      return asr__fail(err, ASR_ERR_UNSUPPORTED, "encrypted zip members are not supported");
    }
    if (method != 0) {
      asr_npz_free(out, user);
      return asr__fail(err, ASR_ERR_UNSUPPORTED,
                       "compressed .npz member (method %u): save with numpy.savez, not savez_compressed",
                       (unsigned)method);
    }
    if (csize != usize || loff > len || len - loff < 30 || asr__rd32(b + loff) != 0x04034b50u) {
      asr_npz_free(out, user);
      return asr__fail(err, ASR_ERR_FORMAT, "malformed zip local header for entry %lu", (unsigned long)i);
    }
    data_off = loff + 30 + asr__rd16(b + loff + 26) + asr__rd16(b + loff + 28);
    if (data_off > len || usize > len - data_off) {
      asr_npz_free(out, user);
      return asr__fail(err, ASR_ERR_FORMAT, "zip member %lu runs past the end of the file", (unsigned long)i);
    }
    if (asr__crc32(0, b + data_off, (size_t)usize) != crc) {
      asr_npz_free(out, user);
      return asr__fail(err, ASR_ERR_FORMAT, "zip member %lu fails its CRC-32 check", (unsigned long)i);
    }
    nl = name_len;
    if (nl >= 4 && memcmp(c + 46 + nl - 4, ".npy", 4) == 0) nl -= 4;
    name = ASR__ALLOC(char, nl + 1, user);
    if (!name) {
      asr_npz_free(out, user);
      return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(name, c + 46, nl);
    name[nl] = 0;
    out->names[out->count] = name;
    r = asr_npy_parse(b + data_off, (size_t)usize, &out->arrays[out->count], user, err);
    out->count++;
    if (r != ASR_OK) {
      if (err) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err->msg);
        asr__fail(err, r, "member '%s': %s", name, m);
      }
      asr_npz_free(out, user);
      return r;
    }
    pos += 46 + (size_t)name_len + extra_len + comment_len;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_npz_read(const char *path, asr_npz *out, void *user, asr_error *err) {
  unsigned char *buf;
  size_t len;
  asr_result r;
  memset(out, 0, sizeof *out);
  r = asr_read_file(path, &buf, &len, user, err);
  if (r != ASR_OK) return r;
  r = asr_npz_parse(buf, len, out, user, err);
  ASR_FREE(buf, user);
  if (r != ASR_OK && err) {
    char m[sizeof err->msg];
    snprintf(m, sizeof m, "%s", err->msg);
    asr__fail(err, r, "%s: %s", path, m);
  }
  return r;
}

ASRDEF const asr_array *asr_npz_get(const asr_npz *z, const char *name) {
  int i;
  for (i = 0; i < z->count; i++)
    if (strcmp(z->names[i], name) == 0) return &z->arrays[i];
  return NULL;
}

struct asr_npz__entry {
  char *name;                  /* with ".npy" */
  uint32_t crc, size, offset;
};

ASRDEF asr_result asr_npz_writer_open(asr_npz_writer *w, const char *path, void *user,
                                      asr_error *err) {
  size_t n = strlen(path);
  memset(w, 0, sizeof *w);
  w->user = user;
  w->path = ASR__ALLOC(char, n + 1, user);
  w->tmp_path = ASR__ALLOC(char, n + 32, user);
  if (!w->path || !w->tmp_path) {
    ASR_FREE(w->path, user);
    ASR_FREE(w->tmp_path, user);
    return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
  }
  memcpy(w->path, path, n + 1);
  w->fp = asr__open_temp(path, w->tmp_path, n + 32);
  if (!w->fp) {
    int e = errno;
    ASR_FREE(w->path, user);
    ASR_FREE(w->tmp_path, user);
    return asr__fail(err, ASR_ERR_IO, "%s: cannot create: %s", path, strerror(e));
  }
  return ASR_OK;
}

ASRDEF asr_result asr_npz_writer_add(asr_npz_writer *w, const char *name, asr_dtype dtype,
                                     int ndim, const int64_t *shape, const void *data,
                                     asr_error *err) {
  unsigned char lh[30], *buf;
  size_t len, name_len = strlen(name) + 4;
  struct asr_npz__entry *e;
  asr_result r;
  if (w->status != ASR_OK) return w->status;
  r = asr_npy_encode(NULL, 0, &len, dtype, ndim, shape, data);
  if (r != ASR_OK) return w->status = asr__fail(err, r, "%s: member %s: %s", w->path, name, asr_result_string(r));
  if (len > 0xFFFFFFF0u || w->offset + len + 30 + name_len > 0xFFFFFFF0u || name_len > 0xFFFF)
    return w->status = asr__fail(err, ASR_ERR_TOO_LARGE, "%s: archive over 4 GiB is not supported", w->path);
  if (w->count == w->cap) {
    int ncap = w->cap ? 2 * w->cap : 16;
    struct asr_npz__entry *ne = ASR__ALLOC(struct asr_npz__entry, ncap, w->user);
    if (!ne) return w->status = asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
    if (w->count) memcpy(ne, w->entries, sizeof *ne * (size_t)w->count);
    ASR_FREE(w->entries, w->user);
    w->entries = ne;
    w->cap = ncap;
  }
  buf = ASR__ALLOC(unsigned char, len, w->user);
  e = &w->entries[w->count];
  e->name = ASR__ALLOC(char, name_len + 1, w->user);
  if (!buf || !e->name) {
    ASR_FREE(buf, w->user);
    ASR_FREE(e->name, w->user);
    return w->status = asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
  }
  snprintf(e->name, name_len + 1, "%s.npy", name);
  asr_npy_encode(buf, len, &len, dtype, ndim, shape, data);
  e->crc = asr__crc32(0, buf, len);
  e->size = (uint32_t)len;
  e->offset = (uint32_t)w->offset;
  memset(lh, 0, sizeof lh);
  asr__wr32(lh, 0x04034b50u);     /* local file header signature */
  asr__wr16(lh + 4, 20);          /* version needed: 2.0 */
  asr__wr16(lh + 10, 0);          /* mod time */
  asr__wr16(lh + 12, 0x21);       /* mod date: 1980-01-01 */
  asr__wr32(lh + 14, e->crc);
  asr__wr32(lh + 18, e->size);    /* compressed size = size: stored */
  asr__wr32(lh + 22, e->size);
  asr__wr16(lh + 26, (uint32_t)name_len);
  if (fwrite(lh, 1, 30, w->fp) != 30 || fwrite(e->name, 1, name_len, w->fp) != name_len ||
      fwrite(buf, 1, len, w->fp) != len) {
    ASR_FREE(buf, w->user);
    ASR_FREE(e->name, w->user);
    return w->status = asr__fail(err, ASR_ERR_IO, "%s: write error", w->path);
  }
  ASR_FREE(buf, w->user);
  w->offset += 30 + name_len + len;
  w->count++;
  return ASR_OK;
}

ASR__PRIVATE void asr__npz_writer_release(asr_npz_writer *w) {
  int i;
  for (i = 0; i < w->count; i++) ASR_FREE(w->entries[i].name, w->user);
  ASR_FREE(w->entries, w->user);
  ASR_FREE(w->path, w->user);
  ASR_FREE(w->tmp_path, w->user);
  w->entries = NULL;
  w->path = w->tmp_path = NULL;
  w->fp = NULL;
}

ASRDEF void asr_npz_writer_abort(asr_npz_writer *w) {
  if (w->fp) {
    fclose(w->fp);
    remove(w->tmp_path);
  }
  asr__npz_writer_release(w);
}

ASRDEF asr_result asr_npz_writer_close(asr_npz_writer *w, asr_error *err) {
  unsigned char ch[46], end[22];
  uint64_t cd_start = w->offset, cd_size = 0;
  int i, ok = 1;
  if (!w->fp) return ASR_ERR_INVALID_ARG;
  if (w->status != ASR_OK) {
    asr_result r = w->status;
    asr_npz_writer_abort(w);
    return r;
  }
  for (i = 0; i < w->count && ok; i++) {
    const struct asr_npz__entry *e = &w->entries[i];
    size_t nl = strlen(e->name);
    memset(ch, 0, sizeof ch);
    asr__wr32(ch, 0x02014b50u);   /* central directory header signature */
    asr__wr16(ch + 4, 20);        /* version made by */
    asr__wr16(ch + 6, 20);        /* version needed */
    asr__wr16(ch + 14, 0x21);
    asr__wr32(ch + 16, e->crc);
    asr__wr32(ch + 20, e->size);
    asr__wr32(ch + 24, e->size);
    asr__wr16(ch + 28, (uint32_t)nl);
    asr__wr32(ch + 42, e->offset);
    ok = fwrite(ch, 1, 46, w->fp) == 46 && fwrite(e->name, 1, nl, w->fp) == nl;
    cd_size += 46 + nl;
  }
  memset(end, 0, sizeof end);
  asr__wr32(end, 0x06054b50u);    /* end of central directory */
  asr__wr16(end + 8, (uint32_t)w->count);
  asr__wr16(end + 10, (uint32_t)w->count);
  asr__wr32(end + 12, (uint32_t)cd_size);
  asr__wr32(end + 16, (uint32_t)cd_start);
  ok = ok && w->count <= 0xFFFF && fwrite(end, 1, 22, w->fp) == 22;
  ok = (fclose(w->fp) == 0) && ok;
  w->fp = NULL;
  if (!ok || rename(w->tmp_path, w->path) != 0) {
    remove(w->tmp_path);
    asr__fail(err, ASR_ERR_IO, "%s: cannot write", w->path);
    asr__npz_writer_release(w);
    return ASR_ERR_IO;
  }
  asr__npz_writer_release(w);
  return ASR_OK;
}

/* ---- gradient check */
ASRDEF asr_result asr_gradcheck(asr_objective_fn f, void *ctx, const asr_gradcheck_param *params,
                                int n_params, const asr_gradcheck_opts *opts, asr_rng *rng,
                                asr_gradcheck_report *rep) {
  double h = opts && opts->h > 0 ? opts->h : (ASR_REAL_DOUBLE ? 1e-3 : 3e-2);
  double floor_ = opts && opts->abs_floor > 0 ? opts->abs_floor : (ASR_REAL_DOUBLE ? 1e-5 : 1e-2);
  size_t max_el = opts && opts->max_elements ? opts->max_elements : 64;
  int ndir = opts && opts->directions ? opts->directions : 8;
  int p;
  memset(rep, 0, sizeof *rep);
  rep->worst_index = 0;
  floor_ *= ASR__MAX(1.0, fabs(f(ctx)));
  for (p = 0; p < n_params; p++) {
    const asr_gradcheck_param *P = &params[p];
    size_t i;
    if (P->n <= max_el) {
      for (i = 0; i < P->n; i++) {
        asr_real x0 = P->x[i];
        double f2p, f1p, f1m, f2m, num, ana = P->grad[i], rel, ab;
        /* the step actually taken, after rounding x0 + h to asr_real */
        double hh = (double)(asr_real)(x0 + h) - (double)x0;
        P->x[i] = (asr_real)(x0 + hh);
        f1p = f(ctx);
        P->x[i] = (asr_real)(x0 - hh);
        f1m = f(ctx);
        P->x[i] = (asr_real)(x0 + 2 * hh);
        f2p = f(ctx);
        P->x[i] = (asr_real)(x0 - 2 * hh);
        f2m = f(ctx);
        num = (f2m - 8 * f1m + 8 * f1p - f2p) / (12 * hh);
        P->x[i] = x0;
        ab = fabs(num - ana);
        rel = ab / ASR__MAX(ASR__MAX(fabs(num), fabs(ana)), floor_);
        rep->checks++;
        if (ab > rep->max_abs_err || ab != ab) rep->max_abs_err = ab;
        if (rel > rep->max_rel_err || rel != rel || rep->checks == 1) {
          rep->max_rel_err = rel;
          rep->worst_param = P->name;
          rep->worst_index = (long)i;
          rep->worst_numeric = num;
          rep->worst_analytic = ana;
        }
      }
    } else {
      int d;
      asr_real *x0 = ASR__ALLOC(asr_real, P->n, NULL);
      double *v = ASR__ALLOC(double, P->n, NULL);
      if (!x0 || !v) {
        ASR_FREE(x0, NULL);
        ASR_FREE(v, NULL);
        return ASR_ERR_OUT_OF_MEMORY;
      }
      memcpy(x0, P->x, sizeof(asr_real) * P->n);
      for (d = 0; d < ndir; d++) {
        double norm = 0, f2p, f1p, f1m, f2m, num, ana = 0, rel, ab;
        for (i = 0; i < P->n; i++) {
          v[i] = asr_rng_normal(rng);
          norm += v[i] * v[i];
        }
        norm = sqrt(norm);
        for (i = 0; i < P->n; i++) {
          v[i] /= norm;
          ana += v[i] * (double)P->grad[i];       /* directional derivative g . v */
        }
        for (i = 0; i < P->n; i++) P->x[i] = (asr_real)(x0[i] + h * v[i]);
        f1p = f(ctx);
        for (i = 0; i < P->n; i++) P->x[i] = (asr_real)(x0[i] - h * v[i]);
        f1m = f(ctx);
        for (i = 0; i < P->n; i++) P->x[i] = (asr_real)(x0[i] + 2 * h * v[i]);
        f2p = f(ctx);
        for (i = 0; i < P->n; i++) P->x[i] = (asr_real)(x0[i] - 2 * h * v[i]);
        f2m = f(ctx);
        memcpy(P->x, x0, sizeof(asr_real) * P->n);
        num = (f2m - 8 * f1m + 8 * f1p - f2p) / (12 * h);
        ab = fabs(num - ana);
        rel = ab / ASR__MAX(ASR__MAX(fabs(num), fabs(ana)), floor_);
        rep->checks++;
        if (ab > rep->max_abs_err || ab != ab) rep->max_abs_err = ab;
        if (rel > rep->max_rel_err || rel != rel || rep->checks == 1) {
          rep->max_rel_err = rel;
          rep->worst_param = P->name;
          rep->worst_index = -1 - d;
          rep->worst_numeric = num;
          rep->worst_analytic = ana;
        }
      }
      ASR_FREE(x0, NULL);
      ASR_FREE(v, NULL);
    }
  }
  return ASR_OK;
}

ASRDEF const char *asr_reduction_name(asr_reduction r) {
  switch (r) {
    case ASR_REDUCTION_NONE: return "none";
    case ASR_REDUCTION_SUM: return "sum";
    case ASR_REDUCTION_MEAN: return "mean";
  }
  return "?";
}

/* ========================================================================================
 * 2. Audio (implementation)
 * ======================================================================================== */

/* ========================================================================================
 * 3. Features (implementation)
 * ======================================================================================== */

/* ========================================================================================
 * 4. Layers (implementation)
 * ======================================================================================== */

/* ---------------------------------------------------------------------------------------
 * 4.1 Basic layers (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 4.2 Convolutions, SE, ContextNet (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 4.3 Conformer (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 4.4 Recurrent and attention (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 4.5 Optimizers and schedules (implementation)
 * --------------------------------------------------------------------------------------- */

/* ========================================================================================
 * 5. CTC (implementation)
 * ======================================================================================== */

/* ========================================================================================
 * 6. RNN-T (implementation)
 * ======================================================================================== */

/* ========================================================================================
 * 7. Seq2seq (implementation)
 * ======================================================================================== */

/* ========================================================================================
 * 8. Quantizers (implementation)
 * ======================================================================================== */

/* ========================================================================================
 * 9. Training (implementation)
 * ======================================================================================== */

/* ========================================================================================
 * 10. Checkers (implementation)
 * ======================================================================================== */

/* ---------------------------------------------------------------------------------------
 * 10.1 Features checkers (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 10.2 Layers checkers: conv1d, depthwise-separable conv, SE (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 10.3 Conformer, LSTM and attention checkers (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 10.4 CTC checkers (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 10.5 RNN-T checkers (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------
 * 10.6 Quantizers checkers (implementation)
 * --------------------------------------------------------------------------------------- */

#ifdef __cplusplus
}
#endif
#endif /* ASR__IMPLEMENTATION_DONE */
#endif /* ASR_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the asr.h authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the public
domain. We make this dedication in the spirit of helping development of
software by encouraging experimentation, testing and modification.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
