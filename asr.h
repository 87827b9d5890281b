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
 *     asr_<op>         the fastest path built: AVX2+FMA kernels (float builds on x86-64
 *                      compiled with -mavx2 -mfma), else the _ref code. On ARM the
 *                      NEON path is detected but has no kernels yet: it runs _ref.
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
 *    2. Audio       WAV read/write, Ogg Vorbis (stb_vorbis), windowed-sinc resampling,
 *                   the background level of a recording
 *    3. Features    Kaldi fbank [Kaldi]: framing, windows, DFT/FFT, mel banks, CMVN,
 *                   SpecAugment [Park19]
 *    4. Layers      4.1 linear, embedding, activations, dropout, layer/batch norm,
 *                       cross-entropy with label smoothing [Szegedy16]
 *                   4.2 conv1d, depthwise-separable conv [Howard17], Squeeze-and-
 *                       Excitation and the ContextNet block [Han20]
 *                   4.3 Conformer [Gulati20]: Conv2dSubsampling, relative positions
 *                       [Dai19], rel-pos self-attention, conv module, block
 *                   4.4 LSTM (uni, bi, pyramidal [Chan16]), attention: dot [Luong15],
 *                       additive [Bahdanau15], location-aware [Chorowski15]
 *                   4.5 SGD, Adam [Kingma15], AdamW [Loshchilov19], Noam [Vaswani17]
 *                       and warmup schedules, gradient clipping
 *    5. CTC         loss, gradients, greedy / prefix beam search / Viterbi [Graves06]
 *    6. RNN-T       lattice loss, joint network, prediction network, decoders [Graves12]
 *    7. Seq2seq     reserved for the LAS / joint CTC-attention decoder [Watanabe17]
 *                   (not written yet: the attention and LSTM pieces are in 4.4)
 *    8. Quantizers  Gumbel-softmax [Jang17], k-means VQ and the Gumbel quantizer
 *                   [Baevski20vq], diversity penalty [Baevski20w2v], Lloyd / k-means++
 *    9. Training    characters, CER/WER, parameters, checkpoints, recipes
 *   10. Checkers    asr_check_<component>(): the conformance cases for any implementation
 *
 * REFERENCES
 *   [Kaldi]       D. Povey et al., "The Kaldi Speech Recognition Toolkit", ASRU 2011;
 *                 src/feat/feature-window.cc, mel-computations.cc, feature-fbank.cc.
 *   [Lloyd82]     S. Lloyd, "Least Squares Quantization in PCM", IEEE Trans. Inf.
 *                 Theory 28(2), 1982.
 *   [Werbos90]    P. Werbos, "Backpropagation Through Time: What It Does and How to Do
 *                 It", Proc. IEEE 78(10), 1990.
 *   [Graves06]    A. Graves, S. Fernandez, F. Gomez, J. Schmidhuber, "Connectionist
 *                 Temporal Classification", ICML 2006.
 *   [Arthur07]    D. Arthur, S. Vassilvitskii, "k-means++: The Advantages of Careful
 *                 Seeding", SODA 2007.
 *   [Graves12]    A. Graves, "Sequence Transduction with Recurrent Neural Networks",
 *                 arXiv:1211.3711, 2012.
 *   [Graves13]    A. Graves, A. Mohamed, G. Hinton, "Speech Recognition with Deep
 *                 Recurrent Neural Networks", ICASSP 2013.
 *   [Hannun14]    A. Hannun et al., "First-Pass Large Vocabulary Continuous Speech
 *                 Recognition using Bi-Directional Recurrent DNNs", arXiv:1408.2873.
 *   [Bahdanau15]  D. Bahdanau, K. Cho, Y. Bengio, "Neural Machine Translation by Jointly
 *                 Learning to Align and Translate", ICLR 2015.
 *   [Chorowski15] J. Chorowski et al., "Attention-Based Models for Speech Recognition",
 *                 NeurIPS 2015.
 *   [Ioffe15]     S. Ioffe, C. Szegedy, "Batch Normalization", ICML 2015.
 *   [Kingma15]    D. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization",
 *                 ICLR 2015.
 *   [Luong15]     T. Luong, H. Pham, C. Manning, "Effective Approaches to Attention-based
 *                 Neural Machine Translation", EMNLP 2015.
 *   [Ba16]        J. Ba, J. Kiros, G. Hinton, "Layer Normalization", arXiv:1607.06450.
 *   [Chan16]      W. Chan et al., "Listen, Attend and Spell", ICASSP 2016.
 *   [Szegedy16]   C. Szegedy et al., "Rethinking the Inception Architecture for Computer
 *                 Vision", CVPR 2016 (label smoothing).
 *   [Dauphin17]   Y. Dauphin et al., "Language Modeling with Gated Convolutional
 *                 Networks", ICML 2017 (GLU).
 *   [Howard17]    A. Howard et al., "MobileNets", arXiv:1704.04861 (depthwise-separable
 *                 convolution).
 *   [vdOord17]    A. van den Oord, O. Vinyals, K. Kavukcuoglu, "Neural Discrete
 *                 Representation Learning" (VQ-VAE), NeurIPS 2017.
 *   [Jang17]      E. Jang, S. Gu, B. Poole, "Categorical Reparameterization with
 *                 Gumbel-Softmax", ICLR 2017, arXiv:1611.01144.
 *   [Ramachandran17] P. Ramachandran, B. Zoph, Q. Le, "Searching for Activation
 *                 Functions", arXiv:1710.05941 (swish).
 *   [Vaswani17]   A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
 *   [Watanabe17]  S. Watanabe et al., "Hybrid CTC/Attention Architecture for End-to-End
 *                 Speech Recognition", IEEE JSTSP 2017.
 *   [Hu18]        J. Hu, L. Shen, G. Sun, "Squeeze-and-Excitation Networks", CVPR 2018.
 *   [Dai19]       Z. Dai et al., "Transformer-XL", ACL 2019 (relative positions).
 *   [Loshchilov19] I. Loshchilov, F. Hutter, "Decoupled Weight Decay Regularization",
 *                 ICLR 2019.
 *   [Park19]      D. Park et al., "SpecAugment", Interspeech 2019.
 *   [Baevski20vq] A. Baevski, S. Schneider, M. Auli, "vq-wav2vec", ICLR 2020,
 *                 arXiv:1910.05453.
 *   [Baevski20w2v] A. Baevski et al., "wav2vec 2.0", NeurIPS 2020, arXiv:2006.11477
 *                 (the diversity penalty).
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
/* Reads a .npy file into an array of the dtype it holds: the header, then the data
 * straight into the array's one allocation (a pipe, whose size is unknown, is read whole
 * first). Errors name the file. Free with asr_array_free. */
ASRDEF asr_result asr_npy_read(const char *path, asr_array *out, void *user, asr_error *err);
/* Reads a .npy and converts its elements to `dtype` on the way, in the one buffer the
 * data is read into (max(stored, converted) bytes; no other copy of the file is held): the
 * cheapest way to load an input. Every element is checked before any is converted. To
 * float32/float64, NaN and infinity are refused (ASR_ERR_NONFINITE) unless
 * allow_nonfinite, and so are float64 values beyond float32's range (ASR_ERR_RANGE); to an
 * integer dtype, values that are not integers or do not fit (ASR_ERR_RANGE). The message
 * names the file and the first element refused. *stored (may be NULL) receives the dtype
 * the file holds. On failure out->data is NULL. */
ASRDEF asr_result asr_npy_read_as(const char *path, asr_dtype dtype, int allow_nonfinite,
                                  asr_array *out, asr_dtype *stored, void *user, asr_error *err);
/* Writes header + data of a .npy into `buf` (cap bytes); *len gets the size needed.
 * Pass buf = NULL to query the size. */
ASRDEF asr_result asr_npy_encode(void *buf, size_t cap, size_t *len, asr_dtype dtype, int ndim,
                                 const int64_t *shape, const void *data);
/* Writes a .npy atomically: header and data are streamed from `data` (no copy of it is
 * made) into a temporary file beside path, renamed over path only when all was written;
 * on failure path is untouched and the temporary file removed. */
ASRDEF asr_result asr_npy_write(const char *path, asr_dtype dtype, int ndim,
                                const int64_t *shape, const void *data, asr_error *err);
/* Allocates a zeroed array (data through ASR_MALLOC). */
ASRDEF asr_result asr_array_alloc(asr_array *a, asr_dtype dtype, int ndim, const int64_t *shape,
                                  void *user);
ASRDEF void asr_array_free(asr_array *a, void *user);
/* Converts every element to asr_real / int. to_int refuses non-integral or out-of-int
 * values; to_real refuses NaN and infinity unless allow_nonfinite, and (float build) a
 * float64 beyond float32's range (ASR_ERR_RANGE) rather than making it infinite. */
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

/* ---- Files: read a whole file, and write one atomically (temporary file + rename).
 * asr_read_file allocates size + 1 bytes once for a regular file (a pipe grows a buffer);
 * *data is freed with ASR_FREE(*data, user). */
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

/* Decoded audio is always one channel of asr_real samples. Two scales are offered:
 *   ASR_SCALE_INT16  Kaldi's convention: the range of 16-bit integers. A 16-bit PCM sample
 *                    is its integer value (-32768..32767); every other format is mapped
 *                    onto the same range, x = u * 32768 with u the sample in [-1, 1]
 *                    (8-bit: (b - 128) * 256, 24-bit: v / 256, 32-bit: v / 65536).
 *   ASR_SCALE_UNIT   [-1, 1]: integer PCM divided by 2^(bits-1) (8-bit: (b - 128) / 128),
 *                    float samples as stored, as torchaudio.load and soundfile return them.
 * The channel argument of the readers picks what "one channel" means:
 *   ASR_CHANNEL_MIX (-1)  the mean of all channels (sum / channels), in double;
 *   0 .. channels-1       that channel alone (ASR_ERR_RANGE if the file has fewer). */
typedef enum asr_audio_scale { ASR_SCALE_INT16 = 0, ASR_SCALE_UNIT = 1 } asr_audio_scale;
#define ASR_CHANNEL_MIX (-1)

typedef enum asr_audio_codec { ASR_CODEC_WAV_PCM = 0, ASR_CODEC_WAV_FLOAT, ASR_CODEC_VORBIS } asr_audio_codec;

typedef struct asr_audio {
  asr_real *samples;      /* (n) one channel, allocated with ASR_MALLOC; asr_audio_free() */
  int n;                  /* samples (frames) per channel */
  int sample_rate;        /* Hz */
  int channels;           /* channels in the file, before mixing or selection */
  int bits;               /* bits per stored sample (8/16/24/32/64); 0 for Ogg Vorbis */
  asr_audio_codec codec;
} asr_audio;

/* ---- WAV (RIFF WAVE), read. Understood: WAVE_FORMAT_PCM (1) with 8-bit unsigned or 16-,
 * 24-, 32-bit signed little-endian samples; WAVE_FORMAT_IEEE_FLOAT (3) with 32- or 64-bit
 * samples; WAVE_FORMAT_EXTENSIBLE (0xFFFE) whose sub-format GUID is PCM or IEEE float
 * (valid bits below the container size are fine: the container is read); any channel
 * count. Chunks other than "fmt " and "data" (LIST, fact, cue, bext, ...) are skipped;
 * a chunk of odd size is followed by one pad byte, as RIFF requires (a missing pad at
 * the very end is tolerated). A data chunk whose size field is 0xFFFFFFFF (a stream
 * written before its length was known) runs to the end of the file; any other size
 * that runs past the end is ASR_ERR_FORMAT (a truncated file). Trailing bytes that do
 * not fill a whole sample frame are ignored. Errors name the problem in `err`:
 * ASR_ERR_FORMAT (not RIFF/WAVE, truncated, no fmt or data chunk, zero channels or
 * sample rate, block_align inconsistent with the sample size), ASR_ERR_UNSUPPORTED
 * (RIFX/RF64, A-law, mu-law, ADPCM, other bit depths), ASR_ERR_NONFINITE (NaN or
 * infinity in a float file), ASR_ERR_RANGE (channel), ASR_ERR_TOO_LARGE (more than
 * INT_MAX samples). On error *out is zeroed and nothing is allocated. */
ASRDEF asr_result asr_wav_parse(const void *buf, size_t len, int channel, asr_audio_scale scale,
                                asr_audio *out, void *user, asr_error *err);
ASRDEF asr_result asr_wav_read(const char *path, int channel, asr_audio_scale scale,
                               asr_audio *out, void *user, asr_error *err);

/* ---- WAV, write. samples (frames, channels) interleaved, in the given scale. format is
 * one asr_wav_format, optionally OR-ed with ASR_WAV_EXTENSIBLE to write the
 * WAVE_FORMAT_EXTENSIBLE header (channel mask 0: no speaker positions). PCM values are
 * rounded to the nearest integer and saturated at the format's range; NaN or infinity
 * is ASR_ERR_NONFINITE. asr_wav_encode writes into buf (cap bytes; buf = NULL queries
 * the size in *len); asr_wav_write writes a file atomically (temporary file + rename). */
typedef enum asr_wav_format {
  ASR_WAV_PCM8 = 0, ASR_WAV_PCM16, ASR_WAV_PCM24, ASR_WAV_PCM32, ASR_WAV_FLOAT32, ASR_WAV_FLOAT64
} asr_wav_format;
#define ASR_WAV_EXTENSIBLE 0x100
ASRDEF asr_result asr_wav_encode(void *buf, size_t cap, size_t *len, const asr_real *samples,
                                 int frames, int channels, int sample_rate, int format,
                                 asr_audio_scale scale);
ASRDEF asr_result asr_wav_write(const char *path, const asr_real *samples, int frames,
                                int channels, int sample_rate, int format,
                                asr_audio_scale scale, asr_error *err);

/* ---- Ogg Vorbis, read through stb_vorbis (Debian's libstb-dev). Only with
 * ASR_USE_STB_VORBIS defined where the implementation is compiled (and -lstb at link
 * time); without it these return ASR_ERR_UNSUPPORTED with a message saying so.
 * stb_vorbis decodes to floats in [-1, 1]; ASR_SCALE_INT16 multiplies them by 32768.
 * stb_vorbis works in one buffer allocated here with ASR_MALLOC (256 KiB, grown when a
 * stream's setup needs more, up to 64 MiB). */
ASRDEF asr_result asr_ogg_parse(const void *buf, size_t len, int channel, asr_audio_scale scale,
                                asr_audio *out, void *user, asr_error *err);
ASRDEF asr_result asr_ogg_read(const char *path, int channel, asr_audio_scale scale,
                               asr_audio *out, void *user, asr_error *err);

/* ---- Either format, told apart by the first bytes ("RIFF" or "OggS"), not the name. */
ASRDEF asr_result asr_audio_parse(const void *buf, size_t len, int channel, asr_audio_scale scale,
                                  asr_audio *out, void *user, asr_error *err);
ASRDEF asr_result asr_audio_read(const char *path, int channel, asr_audio_scale scale,
                                 asr_audio *out, void *user, asr_error *err);
ASRDEF void asr_audio_free(asr_audio *a, void *user);

/* ---- Resampling by windowed-sinc interpolation, the filter of
 * torchaudio.functional.resample(resampling_method="sinc_interpolation"):
 * with the rates reduced by their gcd to integers F (orig_freq) and F' (new_freq),
 *     fc = rolloff * min(F, F')                      (cutoff, in the reduced units)
 *     y[j] = sum_i x[i] h(i/F - j/F'),   j = 0 .. ceil(n F' / F) - 1
 *     h(tau) = (fc/F) sinc(fc tau) w(fc tau),   sinc(u) = sin(pi u) / (pi u)
 *     w(u) = cos^2(pi u / (2 Z)) for |u| <= Z, 0 beyond  (a Hann window of Z zero
 *            crossings on each side; Z = lowpass_filter_width)
 * x is 0 outside 0..n-1. fc/F = 1 (no filtering) when upsampling with rolloff 1;
 * rolloff < 1 leaves room for the transition band below the lower Nyquist rate.
 * torchaudio's defaults: Z = 6, rolloff = 0.99. The sum runs in double.
 * y (asr_resample_length(n, orig, new)); x (n). Equal rates copy x.
 * _naive computes every tap's sin and cos where it is used, the formula as written;
 * asr_resample computes them once per phase (F' (2 width + 2) of them, when that fits a
 * small table on the stack; else it is the naive loop) and gives the same bits. */
ASRDEF int asr_resample_length(int n, int orig_freq, int new_freq);   /* -1 if invalid */
ASRDEF asr_result asr_resample_naive(asr_real *y, const asr_real *x, int n, int orig_freq, int new_freq,
                                     int lowpass_filter_width, double rolloff);
ASRDEF asr_result asr_resample(asr_real *y, const asr_real *x, int n, int orig_freq, int new_freq,
                               int lowpass_filter_width, double rolloff);

/* ---- The background level of a recording: the RMS of its quietest 10 ms frame,
 *     level = min_k sqrt( (1/L) sum_{i = kL}^{kL+L-1} x[i]^2 ),   L = sample_rate / 100
 * over the whole frames k = 0 .. floor(n / L) - 1 (a partial last frame is not looked at;
 * 0 when there is no whole frame). Sums in double. Used for noise that should sound like
 * the room a recording was made in (asr_model_features' pad_ms, the training pauses). */
ASRDEF double asr_noise_floor(const asr_real *x, int n, int sample_rate);

/* ========================================================================================
 * 3. Features
 * ======================================================================================== */

/* Kaldi's log-mel filterbank [Kaldi] (compute-fbank-feats), option for option the same as
 * torchaudio.compliance.kaldi.fbank. For each frame t of the signal s (n samples):
 *
 *   framing     x_t[j] = s[start_t + j], j = 0..L-1, L = int(fs * frame_length * 0.001),
 *               shift M = int(fs * frame_shift * 0.001) (both truncated, fs in Hz, ms)
 *               snip_edges = 1: start_t = t M;       T = 0 if n < L, else 1 + (n - L) / M
 *               snip_edges = 0: start_t = t M + M/2 - L/2;   T = (n + M/2) / M
 *               (integer division throughout; Kaldi's NumFrames() and FirstSampleOfFrame(),
 *               feature-window.cc). Outside 0..n-1 the signal is mirrored: index -1 -> 0,
 *               -2 -> 1, n -> n-1, n+1 -> n-2 (repeatedly if needed).
 *   dither      x[j] += dither * g_j,   g_j ~ N(0, 1) from the caller's asr_rng
 *   DC offset   x[j] -= (1/L) sum_k x[k]                        (remove_dc_offset)
 *   raw energy  E = log(max(sum_j x[j]^2, eps)),  eps = FLT_EPSILON = 1.1920929e-07
 *   pre-emph.   x[j] -= p x[j-1] for j = L-1 down to 1;  x[0] -= p x[0]
 *   window      x[j] *= w[j]  (a = 2 pi / (L - 1)):
 *                 hanning      w = 0.5 - 0.5 cos(a j)
 *                 hamming      w = 0.54 - 0.46 cos(a j)
 *                 povey        w = (0.5 - 0.5 cos(a j))^0.85
 *                 rectangular  w = 1
 *                 blackman     w = b - 0.5 cos(a j) + (0.5 - b) cos(2 a j),  b = blackman_coeff
 *   energy      (raw_energy = 0) E = log(max(sum_j x[j]^2, eps)) after the window
 *               then E = max(E, log(energy_floor)) when energy_floor > 0
 *   FFT         X[k] = sum_{j<N} x[j] exp(-2 pi i j k / N),  x zero-padded to N samples,
 *               N = the next power of two >= L if round_to_power_of_two, else L (even)
 *   power       P[k] = |X[k]|^2 (use_power), or |X[k]| (magnitude), k = 0..N/2
 *   mel banks   mel(f) = 1127 ln(1 + f / 700)    (the HTK / Kaldi mel scale)
 *               f_lo = low_freq; f_hi = high_freq if > 0, else fs/2 + high_freq
 *               delta = (mel(f_hi) - mel(f_lo)) / (B + 1); for bin m = 0..B-1
 *               l_m = mel(f_lo) + m delta, c_m = l_m + delta, r_m = l_m + 2 delta;
 *               W[m][k] = (mel(k fs/N) - l_m) / (c_m - l_m)  if l_m < mel(k fs/N) <= c_m
 *                         (r_m - mel(k fs/N)) / (r_m - c_m)  if c_m < mel(k fs/N) < r_m
 *                         0 otherwise,               k = 0..N/2-1 (Nyquist bin unused)
 *               e_m = sum_k W[m][k] P[k]
 *   log         y_m = log(max(e_m, eps))  (use_log_fbank; else y_m = e_m)
 *   output      row t = [E, y_0..y_{B-1}] with use_energy, [y.., E] with use_energy and
 *               htk_compat, [y..] without use_energy
 *   CMS         subtract_mean: every column minus its mean over the utterance
 *
 * NOTE: the defaults are torchaudio's (dither 0, energy_floor 1). Kaldi's own defaults are
 * dither 1 and energy_floor 0: pass those to reproduce compute-fbank-feats without flags.
 * NOTE: a signal shorter than one frame (n < L with snip_edges) gives T = 0 frames, as
 * compute-fbank-feats does; torchaudio raises an error instead.
 * NOTE: everything is computed in double inside and rounded to asr_real on output;
 * Kaldi computes in float (docs/fbank.md shows what that changes). */
typedef enum asr_window_type {
  ASR_WINDOW_POVEY = 0, ASR_WINDOW_HAMMING, ASR_WINDOW_HANNING, ASR_WINDOW_RECTANGULAR,
  ASR_WINDOW_BLACKMAN
} asr_window_type;

typedef struct asr_fbank_opts {        /* names as in torchaudio; defaults in comments */
  double sample_frequency;              /* 16000 Hz */
  double frame_length;                  /* 25 ms */
  double frame_shift;                   /* 10 ms */
  double dither;                        /* 0 (Kaldi: 1); needs an asr_rng when > 0 */
  double preemphasis_coefficient;       /* 0.97, in [0, 1] */
  int remove_dc_offset;                 /* 1 */
  asr_window_type window_type;          /* povey */
  double blackman_coeff;                /* 0.42 */
  int round_to_power_of_two;            /* 1 */
  int snip_edges;                       /* 1 */
  int num_mel_bins;                     /* 23, at least 3 */
  double low_freq;                      /* 20 Hz */
  double high_freq;                     /* 0: Nyquist; negative: offset from Nyquist */
  int use_energy;                       /* 0 */
  int raw_energy;                       /* 1: energy before pre-emphasis and window */
  double energy_floor;                  /* 1 (Kaldi: 0); 0 = no floor */
  int use_log_fbank;                    /* 1 */
  int use_power;                        /* 1: power spectrum; 0: magnitude */
  int htk_compat;                       /* 0: energy first; 1: energy last */
  int subtract_mean;                    /* 0 */
} asr_fbank_opts;

ASRDEF asr_fbank_opts asr_fbank_opts_default(void);
ASRDEF const char *asr_window_name(asr_window_type w);    /* "povey", ... */
/* Checks every option (ranges, window sizes, that each mel bin holds at least one FFT bin,
 * as Kaldi's MelBanks asserts). ASR_ERR_RANGE / ASR_ERR_INVALID_ARG with one line. */
ASRDEF asr_result asr_fbank_check_opts(const asr_fbank_opts *o, asr_error *err);
ASRDEF int asr_fbank_window_size(const asr_fbank_opts *o);   /* L in samples */
ASRDEF int asr_fbank_window_shift(const asr_fbank_opts *o);  /* M in samples */
ASRDEF int asr_fbank_padded_size(const asr_fbank_opts *o);   /* N, the FFT size */
/* Frames of an n-sample signal (formulas above); -1 if the options are invalid. */
ASRDEF int asr_fbank_num_frames(int n, const asr_fbank_opts *o);
/* Columns of the output: num_mel_bins + use_energy. */
ASRDEF int asr_fbank_dim(const asr_fbank_opts *o);
/* Bytes of workspace every tier needs for these options (independent of n); 0 if invalid. */
ASRDEF size_t asr_fbank_workspace_size(const asr_fbank_opts *o);

/* asr_fbank_naive - the formulas above one by one: the window and the triangle weights
 *   evaluated per sample, and the DFT summed directly, O(N^2) per frame (cos/sin read
 *   from a table of the N roots of unity). Refuses N > 8192 with ASR_ERR_TOO_LARGE.
 * asr_fbank_ref - the same, with the window and mel banks tabulated once and a radix-2
 *   FFT of the real frame (an N/2-point complex FFT; Bluestein's algorithm when N/2 is
 *   not a power of two, i.e. round_to_power_of_two = 0).
 * asr_fbank - the fastest built (for now, _ref).
 *   feats (T, dim) with T = asr_fbank_num_frames(n, o), dim = asr_fbank_dim(o);
 *   wave (n) samples (Kaldi's scale: 16-bit integer range); rng: dither noise (may be
 *   NULL when dither == 0); work (asr_fbank_workspace_size(o) bytes).
 * All tiers draw the dither noise in the same order (frame by frame, sample by sample),
 * so the same seed gives the same features in each. Non-finite samples: ASR_ERR_NONFINITE. */
typedef asr_result (*asr_fbank_fn)(asr_real *feats, const asr_real *wave, int n,
                                   const asr_fbank_opts *o, asr_rng *rng, void *work,
                                   size_t work_bytes, asr_error *err);
ASRDEF asr_result asr_fbank_naive(asr_real *feats, const asr_real *wave, int n,
                                  const asr_fbank_opts *o, asr_rng *rng, void *work,
                                  size_t work_bytes, asr_error *err);
ASRDEF asr_result asr_fbank_ref(asr_real *feats, const asr_real *wave, int n,
                                const asr_fbank_opts *o, asr_rng *rng, void *work,
                                size_t work_bytes, asr_error *err);
ASRDEF asr_result asr_fbank(asr_real *feats, const asr_real *wave, int n, const asr_fbank_opts *o,
                            asr_rng *rng, void *work, size_t work_bytes, asr_error *err);

/* The analysis window on its own: w (L), L = asr_fbank_window_size(o). */
ASRDEF asr_result asr_fbank_window(asr_real *w, const asr_fbank_opts *o, asr_error *err);

/* The mel filterbank on its own: W (num_mel_bins, N/2 + 1), row-major (last column, the
 * Nyquist bin, is 0), and the centre frequencies in Hz (num_mel_bins; may be NULL).
 * Same numbers the fbank uses; handy for plots and for checking against
 * torchaudio.compliance.kaldi.get_mel_banks. */
ASRDEF asr_result asr_fbank_mel_banks(asr_real *W, asr_real *centre_hz, const asr_fbank_opts *o,
                                      asr_error *err);

/* ---- Per-utterance cepstral mean (and variance) normalization, in place.
 *   x[t][d] -= mu_d,  mu_d = (1/T) sum_t x[t][d]
 *   norm_vars: x[t][d] /= sigma_d,  sigma_d^2 = (1/T) sum_t x[t][d]^2 - mu_d^2, floored at
 *   1e-20 as Kaldi's apply-cmvn does (a constant column stays finite).
 * feats (T, D); sums in double. T = 0 does nothing. */
ASRDEF void asr_cmvn(asr_real *feats, int T, int D, int norm_vars);

/* ---- SpecAugment [Park19] section 2, in place on features (T, D) (time steps tau = T,
 * mel channels nu = D). Quoting the paper's policy:
 *   frequency mask: "f consecutive mel frequency channels [f0, f0 + f) are masked, where
 *     f is first chosen from a uniform distribution from 0 to the frequency mask
 *     parameter F, and f0 is chosen from [0, nu - f)"; applied num_freq_masks (m_F) times.
 *   time mask: "t consecutive time steps [t0, t0 + t) are masked, where t is first chosen
 *     from a uniform distribution from 0 to the time mask parameter T, and t0 is chosen
 *     from [0, tau - t)", with "an upper bound on the time mask so that a time mask
 *     cannot be wider than p times the number of time steps"; num_time_masks (m_T) times.
 *   time warp: "A random point along the horizontal line passing through the center of
 *     the image within the time steps (W, tau - W) is to be warped either to the left or
 *     right by a distance w chosen from a uniform distribution from 0 to the time warp
 *     parameter W along that line."
 * NOTE: integers are drawn inclusively: f uniform on {0..F} (capped at nu), f0 on
 *   {0..nu-f}; t on {0..min(T, floor(p tau))}, t0 on {0..tau-t}. Masked values are set to
 *   mask_value (the paper uses 0 on mean-normalized features).
 * NOTE: time warp (optional; time_warp = W = 0 turns it off, as many recipes do) is the
 *   piecewise-linear warp along time: the point w0 moves to w0 + w, the two sides are
 *   stretched linearly and each column is interpolated linearly between its two nearest
 *   frames. [Park19] used TensorFlow's sparse_image_warp (a polyharmonic spline), which
 *   bends the whole picture smoothly; the linear warp is the common simpler stand-in.
 * Order: warp, then frequency masks, then time masks. work: T*D asr_real when W > 0
 * (asr_specaugment_workspace_size), else may be NULL. */
typedef struct asr_specaug_opts {
  int num_freq_masks;     /* m_F, e.g. 2 */
  int freq_mask_param;    /* F, e.g. 27 (LibriSpeech, 80 bins) */
  int num_time_masks;     /* m_T, e.g. 2 */
  int time_mask_param;    /* T, e.g. 100 */
  double time_mask_ratio; /* p, e.g. 1.0 (no bound) or 0.2 */
  int time_warp;          /* W, e.g. 80; 0 = no warp */
  asr_real mask_value;    /* 0 */
} asr_specaug_opts;
ASRDEF asr_specaug_opts asr_specaug_opts_default(void);   /* LibriSpeech basic (LB): m_F 1,
                                                              F 27, m_T 1, T 100, p 1, W 80 */
ASRDEF size_t asr_specaugment_workspace_size(int T, int D, const asr_specaug_opts *o);
ASRDEF asr_result asr_specaugment(asr_real *feats, int T, int D, const asr_specaug_opts *o,
                                  asr_rng *rng, void *work, size_t work_bytes);

/* ========================================================================================
 * 4. Layers
 * ======================================================================================== */

/* ---------------------------------------------------------------------------------------
 * 4.1 Basic layers: linear, embedding, activations, dropout, norms, cross-entropy
 * --------------------------------------------------------------------------------------- */
/* References of sections 4.1, 4.2 and 4.5 besides those listed at the top:
 *   [Ioffe15]       S. Ioffe, C. Szegedy, "Batch Normalization", ICML 2015.
 *   [Ba16]          J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer Normalization", 2016.
 *   [Szegedy16]     C. Szegedy et al., "Rethinking the Inception Architecture for Computer
 *                   Vision", CVPR 2016 (sec. 7: label smoothing).
 *   [Dauphin17]     Y. Dauphin et al., "Language Modeling with Gated Convolutional
 *                   Networks", ICML 2017 (GLU).
 *   [Howard17]      A. Howard et al., "MobileNets", arXiv:1704.04861 (depthwise-separable).
 *   [Hu18]          J. Hu, L. Shen, G. Sun, "Squeeze-and-Excitation Networks", CVPR 2018.
 *   [Ramachandran17] P. Ramachandran, B. Zoph, Q. Le, "Searching for Activation
 *                   Functions", arXiv:1710.05941 (swish).
 *   [Kingma15]      D. Kingma, J. Ba, "Adam", ICLR 2015.
 *   [Loshchilov19]  I. Loshchilov, F. Hutter, "Decoupled Weight Decay Regularization",
 *                   ICLR 2019 (AdamW).
 *   [Vaswani17]     A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017. */
/* Conventions of section 4 (docs/layers.md derives every backward pass):
 *   - Layouts are those of the PyTorch module each function mirrors: weights exactly as
 *     its state_dict stores them, activations batch-first. Leading dimensions that a
 *     layer does not look at are flattened into a row count M.
 *   - forward(y, saved..., x, params..., sizes) writes y and the saved activations;
 *     backward(dx, dparams..., dy, saved..., x, params..., sizes) ADDS into dx and each
 *     dparam; any gradient pointer may be NULL ("not needed").
 *   - Sequence layers take `lengths` (N) or NULL (= every frame valid). Frames t >=
 *     lengths[n] are padding: they are read as zeros, their outputs are written as 0
 *     and they receive no gradient, so the valid outputs do not depend on the padding.
 *   - Sizes are validated first: a negative size or a NULL required pointer gives
 *     ASR_ERR_INVALID_ARG and nothing is written. */

/* ---- linear (torch.nn.Linear)
 *   y_mo = sum_i x_mi W_oi + b_o,      i.e.  Y = X W^T + b
 * symbols: x (M,I) M rows of I inputs, W (O,I) as torch stores it, b (O) or NULL,
 * y (M,O). _ref runs on asr_gemm_ref, the unsuffixed name on asr_gemm (the fastest).
 * backward (from dL/dy_mo = dy_mo):
 *   dx_mi += sum_o dy_mo W_oi    (dX += dY W)
 *   dW_oi += sum_m dy_mo x_mi    (dW += dY^T X)
 *   db_o  += sum_m dy_mo                                                  */
ASRDEF asr_result asr_linear_forward_ref(asr_real *y, const asr_real *x, const asr_real *W,
                                         const asr_real *b, int M, int I, int O);
ASRDEF asr_result asr_linear_forward(asr_real *y, const asr_real *x, const asr_real *W,
                                     const asr_real *b, int M, int I, int O);
ASRDEF asr_result asr_linear_backward_ref(asr_real *dx, asr_real *dW, asr_real *db,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *W, int M, int I, int O);
ASRDEF asr_result asr_linear_backward(asr_real *dx, asr_real *dW, asr_real *db,
                                      const asr_real *dy, const asr_real *x, const asr_real *W,
                                      int M, int I, int O);

/* ---- embedding (torch.nn.Embedding)
 *   y_m = W[ids_m]          ids (M) in [0, V), W (V,D), y (M,D)
 * backward: dW[ids_m] += dy_m, except for rows whose id is padding_idx (-1: none),
 * which torch also leaves without gradient. An id outside [0,V): ASR_ERR_RANGE. */
ASRDEF asr_result asr_embedding_forward(asr_real *y, const int *ids, const asr_real *W, int M,
                                        int V, int D);
ASRDEF asr_result asr_embedding_backward(asr_real *dW, const asr_real *dy, const int *ids, int M,
                                         int V, int D, int padding_idx);

/* ---- element-wise activations over n elements (y may alias x in forward).
 *   relu(x)    = max(x, 0)                 d/dx = [x > 0]   (0 at x = 0, as torch)
 *   sigmoid(x) = 1 / (1 + e^-x)            d/dx = y (1 - y)
 *   tanh(x)                                d/dx = 1 - y^2
 *   swish(x)   = x sigmoid(x)  (SiLU)      d/dx = s + x s (1 - s),  s = sigmoid(x)
 * Swish is [Ramachandran17] with beta = 1, the "Swish" of [Gulati20] and [Han20]
 * (torch.nn.SiLU). Each backward names what it needs: relu and swish the input x,
 * sigmoid and tanh the output y. They accumulate dx += f'(.) dy. */
ASRDEF void asr_relu_forward(asr_real *y, const asr_real *x, size_t n);
ASRDEF void asr_relu_backward(asr_real *dx, const asr_real *dy, const asr_real *x, size_t n);
ASRDEF void asr_sigmoid_forward(asr_real *y, const asr_real *x, size_t n);
ASRDEF void asr_sigmoid_backward(asr_real *dx, const asr_real *dy, const asr_real *y, size_t n);
ASRDEF void asr_tanh_forward(asr_real *y, const asr_real *x, size_t n);
ASRDEF void asr_tanh_backward(asr_real *dx, const asr_real *dy, const asr_real *y, size_t n);
ASRDEF void asr_swish_forward(asr_real *y, const asr_real *x, size_t n);
ASRDEF void asr_swish_backward(asr_real *dx, const asr_real *dy, const asr_real *x, size_t n);

/* ---- GLU, gated linear unit (torch.nn.functional.glu(x, dim)) [Dauphin17]
 *   x = [a ; b] split in halves along one axis,   y = a * sigmoid(b)
 * The split axis is the middle one of x viewed as (outer, 2C, inner): for x (N,2C,T)
 * and dim = 1, outer = N, inner = T; for x (M,2C) and dim = -1, outer = M, inner = 1.
 * y (outer, C, inner).  backward: da += dy sigmoid(b),  db += dy a s (1 - s). */
ASRDEF asr_result asr_glu_forward(asr_real *y, const asr_real *x, int outer, int C, int inner);
ASRDEF asr_result asr_glu_backward(asr_real *dx, const asr_real *dy, const asr_real *x, int outer,
                                   int C, int inner);

/* ---- dropout (torch.nn.Dropout in training mode), inverted scaling:
 *   keep_i ~ Bernoulli(1 - p),   y_i = keep_i x_i / (1 - p)
 * so that E[y] = x and evaluation needs no rescaling. mask (n) saves keep_i as 0/1 for
 * backward: dx_i += keep_i dy_i / (1 - p). Draws one asr_rng_uniform per element
 * (keep iff u >= p), in order. p in [0,1]; p = 1 drops everything (y = 0, as torch). */
ASRDEF asr_result asr_dropout_forward(asr_real *y, unsigned char *mask, const asr_real *x, size_t n,
                                      double p, asr_rng *rng);
ASRDEF asr_result asr_dropout_backward(asr_real *dx, const asr_real *dy, const unsigned char *mask,
                                       size_t n, double p);

/* ---- layer norm over the last dimension (torch.nn.LayerNorm(C)) [Ba16]
 *   mu_m = (1/C) sum_c x_mc,   var_m = (1/C) sum_c (x_mc - mu_m)^2   (biased, as torch)
 *   xhat_mc = (x_mc - mu_m) / sqrt(var_m + eps),   y_mc = gamma_c xhat_mc + beta_c
 * symbols: x (M,C), gamma/beta (C) or NULL (= 1 / 0, elementwise_affine=False),
 * saved mean (M) and rstd (M) = 1/sqrt(var+eps). Statistics are summed in double.
 * backward, with g_c = gamma_c dy_mc:
 *   dx_mc += rstd_m (g_c - mean_c'(g_c') - xhat_mc mean_c'(g_c' xhat_mc'))
 *   dgamma_c += sum_m dy_mc xhat_mc,   dbeta_c += sum_m dy_mc                     */
ASRDEF asr_result asr_layer_norm_forward(asr_real *y, asr_real *mean, asr_real *rstd,
                                         const asr_real *x, const asr_real *gamma,
                                         const asr_real *beta, int M, int C, double eps);
ASRDEF asr_result asr_layer_norm_backward(asr_real *dx, asr_real *dgamma, asr_real *dbeta,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *mean, const asr_real *rstd,
                                          const asr_real *gamma, int M, int C);

/* ---- batch norm over (N,C,T), per channel c (torch.nn.BatchNorm1d) [Ioffe15]
 * Training (`training` = 1): statistics of the batch, over the n = sum of valid frames
 * of channel c (all N*T frames when lengths is NULL):
 *   mu_c = (1/n) sum x,   var_c = (1/n) sum (x - mu_c)^2             (biased: normalize)
 *   running_mean_c = (1 - momentum) running_mean_c + momentum mu_c
 *   running_var_c  = (1 - momentum) running_var_c  + momentum var_c n/(n-1)  (unbiased)
 * exactly as torch updates them (running pointers may be NULL: no update). n < 2 in
 * training is ASR_ERR_SHAPE (torch: "Expected more than 1 value per channel").
 * Evaluation (`training` = 0): mu_c = running_mean_c, var_c = running_var_c.
 * Both:  xhat = (x - mu_c) / sqrt(var_c + eps),   y = gamma_c xhat + beta_c.
 * x, y (N,C,T) as torch's (batch, channels, time); a (M,C) input is (M,C,1); a
 * channels-last (N,T,C) input is (N*T, C, 1) without lengths. gamma/beta (C) or NULL.
 * Saved: mean (C) and rstd (C) = 1/sqrt(var_c + eps) of the statistics used.
 * lengths (N) or NULL: frames t >= lengths[n] do not enter the statistics and their
 * output is 0. NOTE: torch and ESPnet have no lengths: their statistics include the
 * padded frames; pass NULL to get exactly that.
 * backward, training, with g = gamma_c dy over the valid frames of channel c:
 *   dx += rstd_c (g - mean(g) - xhat mean(g xhat))
 * evaluation (the statistics are constants):  dx += rstd_c g.
 * Both: dgamma_c += sum dy xhat, dbeta_c += sum dy. */
ASRDEF asr_result asr_batch_norm_forward(asr_real *y, asr_real *mean, asr_real *rstd,
                                         asr_real *running_mean, asr_real *running_var,
                                         const asr_real *x, const asr_real *gamma,
                                         const asr_real *beta, const int *lengths, int N, int C,
                                         int T, int training, double momentum, double eps);
ASRDEF asr_result asr_batch_norm_backward(asr_real *dx, asr_real *dgamma, asr_real *dbeta,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *mean, const asr_real *rstd,
                                          const asr_real *gamma, const int *lengths, int N, int C,
                                          int T, int training);

/* ---- softmax cross-entropy with label smoothing and an ignore index, per row, as
 * torch.nn.CrossEntropyLoss(label_smoothing=eps, ignore_index=ig, reduction='none'):
 *   logp_mv = logits_mv - logsumexp_v' logits_mv'
 *   loss_m  = -(1 - eps) logp_m,y_m - (eps / V) sum_v logp_mv       (y_m != ig)
 *   loss_m  = 0                                                     (y_m == ig)
 * i.e. the cross-entropy against q = (1 - eps) onehot(y_m) + eps / V (uniform mass on
 * every class, the target included: [Szegedy16] sec. 7 with u(k) = 1/K).
 * Reductions as torch: 'sum' adds the loss_m; 'mean' divides that sum by the number of
 * non-ignored rows (*count). NOTE: ESPnet's LabelSmoothingLoss spreads eps over the
 * V-1 other classes and normalizes by batch size or tokens: a different number.
 * Saved: logp (M,V). backward, given dloss (M) (1/count each for 'mean'):
 *   dlogits_mv += dloss_m (softmax_mv - q_mv)      (nothing for ignored rows)
 * A target outside [0,V) that is not ignore_index: ASR_ERR_RANGE. */
ASRDEF asr_result asr_cross_entropy_forward(asr_real *loss, asr_real *logp, int *count,
                                            const asr_real *logits, const int *targets, int M,
                                            int V, double label_smoothing, int ignore_index);
ASRDEF asr_result asr_cross_entropy_backward(asr_real *dlogits, const asr_real *dloss,
                                             const asr_real *logp, const int *targets, int M,
                                             int V, double label_smoothing, int ignore_index);

/* ---------------------------------------------------------------------------------------
 * 4.2 Convolutions: conv1d, depthwise, pointwise, depthwise-separable; SE; ContextNet
 * --------------------------------------------------------------------------------------- */
/* ---- conv1d (torch.nn.Conv1d), channels first: x (N, C_in, T_in), y (N, C_out, T_out),
 * w (C_out, C_in/G, K), b (C_out) or NULL. With S = stride, P = padding, D = dilation,
 * G = groups, Cg_in = C_in/G, Cg_out = C_out/G, g(o) = o / Cg_out the group of output o:
 *   y[n,o,t] = b[o] + sum_{c<Cg_in} sum_{k<K} w[o,c,k] x[n, g(o) Cg_in + c, t S + k D - P]
 *   T_out = floor((T_in + 2P - D (K-1) - 1) / S) + 1           (as torch.nn.Conv1d)
 * where x is 0 outside [0, T_in) (the zero padding).
 * Lengths (N) or NULL: item n has L = lengths[n] valid frames. x is read as 0 at
 * t >= L, and the valid outputs are the first L_out = asr_conv1d_out_frames(L, ...) (0
 * when L = 0); outputs t >= L_out are written as 0 and their dy is ignored. So the valid
 * outputs equal the convolution of the unpadded L-frame sequence: the result does not
 * depend on the padding's contents or on T_in.
 * Tiers (all take the same arguments, so asr_check_conv1d can test any of them):
 *   _naive  the sum above, one loop per index; refuses more than 1e8 multiply-adds.
 *   _ref    im2col + GEMM per (item, group): the (Cg_in K, L_out) matrix of input
 *           patches col[c K + k][t] = x[., c, t S + k D - P] turns the sum into
 *           Y_g = W_g col  with W_g the (Cg_out, Cg_in K) rows of w. Depthwise-like
 *           convolutions (Cg_in = 1) skip the copy and loop directly.
 *   (none)  the same with asr_gemm (SIMD) and an AVX2 depthwise loop.
 * backward (dy (N, C_out, T_out) -> dx, dw, db; derivation in docs/convolutions.md):
 *   dx[n, g Cg_in + c, s] += sum_{o in g} sum_{t,k: tS + kD - P = s} w[o,c,k] dy[n,o,t]
 *   dw[o,c,k]             += sum_{n,t} dy[n,o,t] x[n, g(o) Cg_in + c, t S + k D - P]
 *   db[o]                 += sum_{n,t} dy[n,o,t]
 * i.e. dcol = W_g^T dY_g scattered back (col2im) and dW_g += dY_g col^T.
 * Errors: sizes that do not fit (C_in or C_out not divisible by G, K, S, D < 1, P < 0)
 * are ASR_ERR_INVALID_ARG; a kernel wider than the padded input, D (K-1) + 1 >
 * T_in + 2P, is ASR_ERR_SHAPE (torch: "Kernel size can't be greater than actual input
 * size"); asr_conv1d_validate() says which in words. */
typedef struct asr_conv1d_dims {
  int N;            /* batch */
  int C_in, C_out;  /* channels */
  int T_in;         /* input frames (the padded length of the batch) */
  int K;            /* kernel size */
  int stride, padding, dilation, groups;
} asr_conv1d_dims;
/* Fills d with the torch defaults stride 1, padding 0, dilation 1, groups 1. */
ASRDEF void asr_conv1d_dims_init(asr_conv1d_dims *d, int N, int C_in, int C_out, int T_in, int K);
/* floor((T + 2P - D(K-1) - 1) / S) + 1, or 0 when the kernel does not fit or T = 0. */
ASRDEF int asr_conv1d_out_frames(int T, int K, int stride, int padding, int dilation);
/* out (N) = the valid output frames of each item (T_out for all when lengths is NULL). */
ASRDEF void asr_conv1d_out_lengths(int *out, const int *lengths, const asr_conv1d_dims *d);
ASRDEF asr_result asr_conv1d_validate(const asr_conv1d_dims *d, asr_error *err);
/* Bytes of `work` the forward and backward of every tier need (0 for depthwise-like). */
ASRDEF size_t asr_conv1d_workspace_size(const asr_conv1d_dims *d);
typedef asr_result (*asr_conv1d_forward_fn)(asr_real *y, const asr_real *x, const asr_real *w,
                                            const asr_real *b, const int *lengths,
                                            const asr_conv1d_dims *d, void *work,
                                            size_t work_bytes);
typedef asr_result (*asr_conv1d_backward_fn)(asr_real *dx, asr_real *dw, asr_real *db,
                                             const asr_real *dy, const asr_real *x,
                                             const asr_real *w, const int *lengths,
                                             const asr_conv1d_dims *d, void *work,
                                             size_t work_bytes);
ASRDEF asr_result asr_conv1d_forward_naive(asr_real *y, const asr_real *x, const asr_real *w,
                                           const asr_real *b, const int *lengths,
                                           const asr_conv1d_dims *d, void *work, size_t work_bytes);
ASRDEF asr_result asr_conv1d_forward_ref(asr_real *y, const asr_real *x, const asr_real *w,
                                         const asr_real *b, const int *lengths,
                                         const asr_conv1d_dims *d, void *work, size_t work_bytes);
ASRDEF asr_result asr_conv1d_forward(asr_real *y, const asr_real *x, const asr_real *w,
                                     const asr_real *b, const int *lengths,
                                     const asr_conv1d_dims *d, void *work, size_t work_bytes);
ASRDEF asr_result asr_conv1d_backward_naive(asr_real *dx, asr_real *dw, asr_real *db,
                                            const asr_real *dy, const asr_real *x,
                                            const asr_real *w, const int *lengths,
                                            const asr_conv1d_dims *d, void *work,
                                            size_t work_bytes);
ASRDEF asr_result asr_conv1d_backward_ref(asr_real *dx, asr_real *dw, asr_real *db,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *w, const int *lengths,
                                          const asr_conv1d_dims *d, void *work,
                                          size_t work_bytes);
ASRDEF asr_result asr_conv1d_backward(asr_real *dx, asr_real *dw, asr_real *db,
                                      const asr_real *dy, const asr_real *x, const asr_real *w,
                                      const int *lengths, const asr_conv1d_dims *d, void *work,
                                      size_t work_bytes);

/* ---- depthwise conv1d: groups = channels = C, one filter per channel [Howard17]
 *   y[n,c,t] = b[c] + sum_k w[c,0,k] x[n, c, t S + k D - P]      w (C,1,K), b (C) or NULL
 * The fastest conv1d tier with C_in = C_out = groups = C; needs no workspace. The
 * Conformer convolution module uses it with P = (K-1)/2, S = D = 1. */
ASRDEF asr_result asr_depthwise_conv1d_forward(asr_real *y, const asr_real *x, const asr_real *w,
                                               const asr_real *b, const int *lengths, int N,
                                               int C, int T, int K, int stride, int padding,
                                               int dilation);
ASRDEF asr_result asr_depthwise_conv1d_backward(asr_real *dx, asr_real *dw, asr_real *db,
                                                const asr_real *dy, const asr_real *x,
                                                const asr_real *w, const int *lengths, int N,
                                                int C, int T, int K, int stride, int padding,
                                                int dilation);
/* ---- pointwise conv1d: kernel 1, a per-frame linear map of the channels
 *   y[n,o,t] = b[o] + sum_c w[o,c,0] x[n,c,t]       w (C_out,C_in,1), b (C_out) or NULL
 * one GEMM per item, Y_n = W X_n; no workspace. */
ASRDEF asr_result asr_pointwise_conv1d_forward(asr_real *y, const asr_real *x, const asr_real *w,
                                               const asr_real *b, const int *lengths, int N,
                                               int C_in, int C_out, int T);
ASRDEF asr_result asr_pointwise_conv1d_backward(asr_real *dx, asr_real *dw, asr_real *db,
                                                const asr_real *dy, const asr_real *x,
                                                const asr_real *w, const int *lengths, int N,
                                                int C_in, int C_out, int T);

/* ---- depthwise-separable conv1d [Howard17] (sec. 3.1), as in ContextNet [Han20]:
 * a depthwise conv (C -> C, kernel K, stride S, padding P, dilation D) then a pointwise
 * conv (C -> C_out):
 *   h = depthwise(x; dw_w (C,1,K), dw_b (C)),   y = pointwise(h; pw_w (C_out,C,1), pw_b)
 * Parameters C K + C C_out (+ biases) instead of C_out C K for the full conv; see the
 * table in docs/convolutions.md. d describes the depthwise stage: C_in = C, groups must
 * be C (ASR_ERR_INVALID_ARG otherwise), C_out the pointwise output channels.
 * Saved: h (N, C, T_out), the depthwise output. Lengths as in conv1d (the pointwise
 * stage keeps L_out). backward: dh = pointwise backward, then depthwise backward.
 * Workspace: asr_dwsep_conv1d_workspace_size(d) bytes (the dh of one item). */
ASRDEF size_t asr_dwsep_conv1d_workspace_size(const asr_conv1d_dims *d);
typedef asr_result (*asr_dwsep_conv1d_forward_fn)(asr_real *y, asr_real *h, const asr_real *x,
                                                  const asr_real *dw_w, const asr_real *dw_b,
                                                  const asr_real *pw_w, const asr_real *pw_b,
                                                  const int *lengths, const asr_conv1d_dims *d,
                                                  void *work, size_t work_bytes);
typedef asr_result (*asr_dwsep_conv1d_backward_fn)(
    asr_real *dx, asr_real *d_dw_w, asr_real *d_dw_b, asr_real *d_pw_w, asr_real *d_pw_b,
    const asr_real *dy, const asr_real *h, const asr_real *x, const asr_real *dw_w,
    const asr_real *pw_w, const int *lengths, const asr_conv1d_dims *d, void *work,
    size_t work_bytes);
ASRDEF asr_result asr_dwsep_conv1d_forward_naive(asr_real *y, asr_real *h, const asr_real *x,
                                                 const asr_real *dw_w, const asr_real *dw_b,
                                                 const asr_real *pw_w, const asr_real *pw_b,
                                                 const int *lengths, const asr_conv1d_dims *d,
                                                 void *work, size_t work_bytes);
ASRDEF asr_result asr_dwsep_conv1d_forward_ref(asr_real *y, asr_real *h, const asr_real *x,
                                               const asr_real *dw_w, const asr_real *dw_b,
                                               const asr_real *pw_w, const asr_real *pw_b,
                                               const int *lengths, const asr_conv1d_dims *d,
                                               void *work, size_t work_bytes);
ASRDEF asr_result asr_dwsep_conv1d_forward(asr_real *y, asr_real *h, const asr_real *x,
                                           const asr_real *dw_w, const asr_real *dw_b,
                                           const asr_real *pw_w, const asr_real *pw_b,
                                           const int *lengths, const asr_conv1d_dims *d,
                                           void *work, size_t work_bytes);
ASRDEF asr_result asr_dwsep_conv1d_backward_naive(
    asr_real *dx, asr_real *d_dw_w, asr_real *d_dw_b, asr_real *d_pw_w, asr_real *d_pw_b,
    const asr_real *dy, const asr_real *h, const asr_real *x, const asr_real *dw_w,
    const asr_real *pw_w, const int *lengths, const asr_conv1d_dims *d, void *work,
    size_t work_bytes);
ASRDEF asr_result asr_dwsep_conv1d_backward_ref(
    asr_real *dx, asr_real *d_dw_w, asr_real *d_dw_b, asr_real *d_pw_w, asr_real *d_pw_b,
    const asr_real *dy, const asr_real *h, const asr_real *x, const asr_real *dw_w,
    const asr_real *pw_w, const int *lengths, const asr_conv1d_dims *d, void *work,
    size_t work_bytes);
ASRDEF asr_result asr_dwsep_conv1d_backward(
    asr_real *dx, asr_real *d_dw_w, asr_real *d_dw_b, asr_real *d_pw_w, asr_real *d_pw_b,
    const asr_real *dy, const asr_real *h, const asr_real *x, const asr_real *dw_w,
    const asr_real *pw_w, const int *lengths, const asr_conv1d_dims *d, void *work,
    size_t work_bytes);

/* ---- Squeeze-and-Excitation over time, as in ContextNet [Han20] (sec. 2, "Squeeze-and-
 * excitation"; after [Hu18]):
 *   xbar_c  = (1/L) sum_{t<L} x_c,t                      global average over valid frames
 *   theta   = sigmoid(W2 swish(W1 xbar + b1) + b2)        the channel gate
 *   y_c,t   = theta_c x_c,t                               channel-wise scale
 * symbols: x, y (N,C,T) channels first (as the convolutions), W1 = fc1.weight (R,C),
 * b1 (R), W2 = fc2.weight (C,R), b2 (C), R = C / reduction (ContextNet: 8 in the public
 * reimplementations). Saved: mean (N,C) = xbar, z (N,R) = W1 xbar + b1, gate (N,C) = theta.
 * NOTE: [Han20] averages over all T frames of an unpadded utterance; with padding the
 * average must skip the padded frames (lengths (N), each >= 1, or NULL) or the gate
 * would depend on how much padding the batch has. Padded outputs are 0.
 * backward (u = W2 swish(z) + b2, s(.) the sigmoid):
 *   dtheta_c = sum_{t<L} dy_c,t x_c,t;   du = dtheta theta (1 - theta)
 *   dW2 += du swish(z)^T, db2 += du;     dz = (W2^T du) swish'(z)
 *   dW1 += dz xbar^T,     db1 += dz;     dxbar = W1^T dz
 *   dx_c,t += theta_c dy_c,t + dxbar_c / L                     (t < L)
 * _naive loops over every index, _ref runs the two FCs as GEMMs over the batch, the
 * unsuffixed one as _ref with asr_gemm. Workspace asr_se_workspace_size(N, C, R). */
ASRDEF size_t asr_se_workspace_size(int N, int C, int R);
typedef asr_result (*asr_se_forward_fn)(asr_real *y, asr_real *mean, asr_real *z, asr_real *gate,
                                        const asr_real *x, const asr_real *w1, const asr_real *b1,
                                        const asr_real *w2, const asr_real *b2, const int *lengths,
                                        int N, int C, int R, int T, void *work, size_t work_bytes);
typedef asr_result (*asr_se_backward_fn)(asr_real *dx, asr_real *dw1, asr_real *db1, asr_real *dw2,
                                         asr_real *db2, const asr_real *dy, const asr_real *x,
                                         const asr_real *mean, const asr_real *z,
                                         const asr_real *gate, const asr_real *w1,
                                         const asr_real *w2, const int *lengths, int N, int C, int R,
                                         int T, void *work, size_t work_bytes);
ASRDEF asr_result asr_se_forward_naive(asr_real *y, asr_real *mean, asr_real *z, asr_real *gate,
                                       const asr_real *x, const asr_real *w1, const asr_real *b1,
                                       const asr_real *w2, const asr_real *b2, const int *lengths,
                                       int N, int C, int R, int T, void *work, size_t work_bytes);
ASRDEF asr_result asr_se_forward_ref(asr_real *y, asr_real *mean, asr_real *z, asr_real *gate,
                                     const asr_real *x, const asr_real *w1, const asr_real *b1,
                                     const asr_real *w2, const asr_real *b2, const int *lengths,
                                     int N, int C, int R, int T, void *work, size_t work_bytes);
ASRDEF asr_result asr_se_forward(asr_real *y, asr_real *mean, asr_real *z, asr_real *gate,
                                 const asr_real *x, const asr_real *w1, const asr_real *b1,
                                 const asr_real *w2, const asr_real *b2, const int *lengths, int N,
                                 int C, int R, int T, void *work, size_t work_bytes);
ASRDEF asr_result asr_se_backward_naive(asr_real *dx, asr_real *dw1, asr_real *db1, asr_real *dw2,
                                        asr_real *db2, const asr_real *dy, const asr_real *x,
                                        const asr_real *mean, const asr_real *z,
                                        const asr_real *gate, const asr_real *w1,
                                        const asr_real *w2, const int *lengths, int N, int C, int R,
                                        int T, void *work, size_t work_bytes);
ASRDEF asr_result asr_se_backward_ref(asr_real *dx, asr_real *dw1, asr_real *db1, asr_real *dw2,
                                      asr_real *db2, const asr_real *dy, const asr_real *x,
                                      const asr_real *mean, const asr_real *z, const asr_real *gate,
                                      const asr_real *w1, const asr_real *w2, const int *lengths,
                                      int N, int C, int R, int T, void *work, size_t work_bytes);
ASRDEF asr_result asr_se_backward(asr_real *dx, asr_real *dw1, asr_real *db1, asr_real *dw2,
                                  asr_real *db2, const asr_real *dy, const asr_real *x,
                                  const asr_real *mean, const asr_real *z, const asr_real *gate,
                                  const asr_real *w1, const asr_real *w2, const int *lengths, int N,
                                  int C, int R, int T, void *work, size_t work_bytes);

/* ---- ContextNet convolution block [Han20] (sec. 2, Fig. 1):
 *   f(x)  = swish(BN(dwsep(x)))                          one conv layer
 *   C(x)  = swish(SE(f^m(x)) + P(x))                     the block, m layers
 * f^m stacks m layers: layer 0 maps C_in -> C_out, the others C_out -> C_out, every
 * depthwise stage has kernel K (odd) with padding (K-1)/2, and the LAST layer has the
 * block's stride (1, or 2 for the downsampling blocks C3, C7, C14). P is the residual
 * projection: a pointwise conv C_in -> C_out with the same stride, then a BN; a block
 * without residual (C0 and C22) drops it: C(x) = swish(SE(f^m(x))).
 * NOTE: [Han20] names P "a pointwise projection"; the BN after it is this library's
 * choice (the main path is normalized, so the two summands have comparable scales);
 * other reimplementations use a full kernel-K conv there. The convolutions need no
 * bias (BN follows) but accept one. docs/contextnet.md has the picture.
 * Layout (N, C, T); lengths (N) or NULL; every layer keeps lengths as conv1d does
 * (ceil(L / stride) through the strided layer). BN: evaluation mode with the running
 * statistics, or training mode (batch statistics over the valid frames, running
 * statistics updated with momentum; pass cfg.training = 1).
 * Parameters by pointer in asr_contextnet_block_params (all (C)-vectors of one BN in
 * an asr_bn_params); gradients in the same structure (NULL members: not needed).
 * Saved activations live in one caller buffer of asr_contextnet_block_saved_size()
 * bytes handed to forward and then to backward unchanged; the workspace of
 * asr_contextnet_block_workspace_size() bytes is scratch for either. */
#define ASR_CONTEXTNET_MAX_LAYERS 8
typedef struct asr_bn_params {
  const asr_real *weight, *bias;      /* gamma, beta (C) or NULL */
  asr_real *running_mean, *running_var;   /* (C): read in evaluation, updated in training */
} asr_bn_params;
typedef struct asr_bn_grads {
  asr_real *weight, *bias;            /* (C) or NULL */
} asr_bn_grads;
typedef struct asr_contextnet_layer_params {
  const asr_real *dw_w, *dw_b;        /* depthwise (C_in_i,1,K), bias (C_in_i) or NULL */
  const asr_real *pw_w, *pw_b;        /* pointwise (C_out,C_in_i,1), bias (C_out) or NULL */
  asr_bn_params bn;
} asr_contextnet_layer_params;
typedef struct asr_contextnet_layer_grads {
  asr_real *dw_w, *dw_b, *pw_w, *pw_b;
  asr_bn_grads bn;
} asr_contextnet_layer_grads;
typedef struct asr_contextnet_block_params {
  asr_contextnet_layer_params layer[ASR_CONTEXTNET_MAX_LAYERS];
  const asr_real *se_w1, *se_b1, *se_w2, *se_b2;   /* (R,C_out), (R), (C_out,R), (C_out) */
  const asr_real *res_w, *res_b;      /* pointwise (C_out,C_in,1), (C_out); res_w NULL: none */
  asr_bn_params res_bn;
} asr_contextnet_block_params;
typedef struct asr_contextnet_block_grads {
  asr_contextnet_layer_grads layer[ASR_CONTEXTNET_MAX_LAYERS];
  asr_real *se_w1, *se_b1, *se_w2, *se_b2, *res_w, *res_b;
  asr_bn_grads res_bn;
} asr_contextnet_block_grads;
typedef struct asr_contextnet_block_config {
  int N, C_in, C_out, T;              /* x (N,C_in,T) */
  int num_layers;                     /* m, 1..ASR_CONTEXTNET_MAX_LAYERS */
  int kernel, stride;                 /* K odd; stride of the last layer and of P */
  int se_channels;                    /* R */
  int residual;                       /* 1: with P */
  int training;                       /* BN mode */
  double bn_eps, bn_momentum;         /* torch defaults 1e-5 and 0.1 */
} asr_contextnet_block_config;
/* Fills cfg with K 5, stride 1, m 5, R = C_out/8, residual, evaluation, eps 1e-5, 0.1. */
ASRDEF void asr_contextnet_block_config_init(asr_contextnet_block_config *cfg, int N, int C_in,
                                             int C_out, int T);
ASRDEF asr_result asr_contextnet_block_validate(const asr_contextnet_block_config *cfg,
                                                asr_error *err);
/* T_out = the output frames: ceil(T / stride) (0 for T = 0). */
ASRDEF int asr_contextnet_block_out_frames(const asr_contextnet_block_config *cfg);
ASRDEF size_t asr_contextnet_block_saved_size(const asr_contextnet_block_config *cfg);
ASRDEF size_t asr_contextnet_block_workspace_size(const asr_contextnet_block_config *cfg);
/* y (N, C_out, T_out). lengths: each >= 1 (the SE average needs a frame). */
ASRDEF asr_result asr_contextnet_block_forward_ref(asr_real *y, void *saved, size_t saved_bytes,
                                                  const asr_real *x,
                                                  const asr_contextnet_block_params *p,
                                                  const int *lengths,
                                                  const asr_contextnet_block_config *cfg,
                                                  void *work, size_t work_bytes);
ASRDEF asr_result asr_contextnet_block_forward(asr_real *y, void *saved, size_t saved_bytes,
                                              const asr_real *x,
                                              const asr_contextnet_block_params *p,
                                              const int *lengths,
                                              const asr_contextnet_block_config *cfg, void *work,
                                              size_t work_bytes);
ASRDEF asr_result asr_contextnet_block_backward_ref(asr_real *dx,
                                                   const asr_contextnet_block_grads *g,
                                                   const asr_real *dy, const void *saved,
                                                   size_t saved_bytes, const asr_real *x,
                                                   const asr_contextnet_block_params *p,
                                                   const int *lengths,
                                                   const asr_contextnet_block_config *cfg,
                                                   void *work, size_t work_bytes);
ASRDEF asr_result asr_contextnet_block_backward(asr_real *dx, const asr_contextnet_block_grads *g,
                                               const asr_real *dy, const void *saved,
                                               size_t saved_bytes, const asr_real *x,
                                               const asr_contextnet_block_params *p,
                                               const int *lengths,
                                               const asr_contextnet_block_config *cfg, void *work,
                                               size_t work_bytes);

/* ---- The ContextNet encoder as a table of blocks C0..C22 ([Han20] Table 1, as the
 * public reimplementations read it): layers, kernel, stride, channels = round(alpha *
 * base), residual. Returns 0 and fills *spec for i in 0..22, -1 otherwise.
 *   C0 1 layer 256a, no residual | C1-C2 5 layers 256a | C3 stride 2 | C4-C6 | C7
 *   stride 2 | C8-C10 256a | C11-C13 512a | C14 stride 2 | C15-C21 512a |
 *   C22 1 layer 640a, no residual; kernel 5 everywhere; 8x downsampling overall. */
typedef struct asr_contextnet_block_spec {
  int num_layers, kernel, stride, channels, residual;
} asr_contextnet_block_spec;
ASRDEF int asr_contextnet_table(int block, double alpha, asr_contextnet_block_spec *spec);

/* ---------------------------------------------------------------------------------------
 * 4.3 Conformer: Conv2dSubsampling, relative positions, rel-pos MHSA, conv module, block
 * --------------------------------------------------------------------------------------- */

/* The ESPnet Conformer encoder [Gulati20] piece by piece, as espnet/nets/pytorch_backend/
 * {transformer,conformer}/ defines it (the implementation the seed post walks through):
 * Conv2dSubsampling, the relative positional encodings, the relative-position multi-head
 * self-attention [Dai19], the macaron feed-forward, the convolution module and the
 * EncoderLayer. Layouts are batch-first (N,T,D) as ESPnet's, weights as its state_dict.
 * Every sequence function takes lengths (N) or NULL; frames t >= lengths[b] are padding:
 * their outputs are written as 0 and they receive no gradient.
 *
 * ESPnet has two variants of the relative positions, chosen by `rel_pos_type` of the
 * espnet2 ConformerEncoder (the legacy one was the default of ESPnet's early Conformer
 * recipes, "latest" since; a recipe config says `rel_pos_type: latest` together with
 * `pos_enc_layer_type: rel_pos` and `selfattention_layer_type: rel_selfattn`):
 *   ASR_REL_POS_LATEST  RelPositionalEncoding + RelPositionMultiHeadedAttention: 2T-1
 *                       embeddings for the relative positions T-1 .. -(T-1).
 *   ASR_REL_POS_LEGACY  LegacyRelPositionalEncoding + LegacyRelPositionMultiHeadedAttention:
 *                       T embeddings of the absolute positions max_len-1, max_len-2, ...
 *                       (a reversed sinusoid table of max_len = 5000 rows, as ESPnet
 *                       builds it), and the Transformer-XL shift without zero_triu. */
typedef enum asr_rel_pos_type { ASR_REL_POS_LATEST = 0, ASR_REL_POS_LEGACY = 1 } asr_rel_pos_type;

/* ---- sinusoidal relative positional encoding [Vaswani17] Sec. 3.5, as used by
 * [Dai19] Sec. 3.3 for the relative distances:
 *   PE(pos, 2m) = sin(pos / 10000^(2m/D)),   PE(pos, 2m+1) = cos(pos / 10000^(2m/D))
 * pos_emb (P,D) with P = asr_rel_pos_len(type, T) rows:
 *   latest: row r has pos = T-1-r, r = 0..2T-2  (relative positions T-1 down to -(T-1))
 *   legacy: row r has pos = Lt-1-r, r = 0..T-1, Lt = max(max_len, T) (ESPnet's table is
 *           built for max_len = 5000 positions and only grows when T exceeds it)
 * D must be even (ESPnet's table cannot be built otherwise). The angles are computed in
 * double. NOTE: ESPnet computes pos * 10000^(-2m/D) in float32; at the legacy positions
 * near 5000 that rounding alone moves the angle by up to ~3e-4 rad, so its table differs
 * from the exact one by that much (the latest table's positions are small: ~1e-5).
 * [Vaswani17] A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017. */
ASRDEF int asr_rel_pos_len(asr_rel_pos_type type, int T);
ASRDEF asr_result asr_rel_pos_encoding(asr_real *pos_emb, int T, int D, asr_rel_pos_type type,
                                       int max_len);

/* ---- rel_shift, the index trick of [Dai19] Appendix B as ESPnet writes it. For one
 * head, x (T,P) holds x[i][k] = (q_i + v) . p_k for every query i and embedding row k,
 * and out (T,T) must hold, for query i and key j, the entry of the embedding at their
 * relative distance. ESPnet gets it without an index: prepend a zero column (T,P+1),
 * view the same memory as (P+1,T), drop the first row, view the rest as (T,P) and keep
 * the first T columns. Working that out (docs/conformer.md draws it):
 *   latest (P = 2T-1):  out[i][j] = x[i][T-1-i+j]                 (row T-1-i+j: pos i-j)
 *   legacy (P = T):     out[i][j] = x[i][T-1-i+j]     for j <= i
 *                       out[i][j] = 0                 for j == i+1
 *                       out[i][j] = x[i+1][j-i-2]     for j >= i+2
 * NOTE: the legacy upper triangle reads the NEXT query's row: Transformer-XL meant it to
 * be masked (causal) or zeroed (zero_triu), ESPnet's encoder uses it as it is.
 * _naive does the pad / view / slice on a flat buffer, literally; _ref uses the closed
 * form through asr_rel_shift_index(), which returns 0 for an entry that is a structural
 * zero, else 1 with *row, *col the entry of x that out[i][j] copies. backward (the
 * transpose): dx[row][col] += dout[i][j]. */
ASRDEF int asr_rel_shift_index(asr_rel_pos_type type, int T, int i, int j, int *row, int *col);
ASRDEF asr_result asr_rel_shift_naive(asr_real *out, const asr_real *x, int T,
                                      asr_rel_pos_type type);
ASRDEF asr_result asr_rel_shift_ref(asr_real *out, const asr_real *x, int T,
                                    asr_rel_pos_type type);
ASRDEF asr_result asr_rel_shift_backward(asr_real *dx, const asr_real *dout, int T,
                                         asr_rel_pos_type type);

/* ---- relative-position multi-head self-attention, ESPnet's RelPositionMultiHeadedAttention
 * (latest) and LegacyRelPositionMultiHeadedAttention (legacy), self-attention (query =
 * key = value = x), evaluation (no dropout). With d_k = D/H and heads h:
 *   q = x Wq^T + bq,  k = x Wk^T + bk,  v = x Wv^T + bv       (linear_q/k/v)  (N,T,D)
 *   p = pos_emb Wpos^T                                        (linear_pos, no bias) (P,D)
 *   ac[h][i][j] = (q_ih + u_h) . k_jh                         [Dai19] Sec. 3.3 terms (a)+(c)
 *   bd[h][i][.] = rel_shift((q_ih + v_h) . p_.h)              terms (b)+(d)
 *   s = (ac + bd) / sqrt(d_k);  s[i][j] = -inf for keys j >= length (masked)
 *   attn = softmax_j(s)                                       (0 at masked keys)
 *   ctx_ih = sum_j attn[h][i][j] v_jh;   y = ctx Wo^T + bo    (linear_out)
 * where x_ih is the h-th d_k-slice of row i, u = pos_bias_u (H,d_k), v_h = pos_bias_v.
 * NOTE: ESPnet computes the rows of padded queries too (it masks keys only) and leaves
 * them for later layers to ignore; here their output is 0 and they get no gradient.
 * The legacy variant's bd reads query i+1 above the diagonal (see rel_shift); for a valid
 * key j of a valid query i that query is valid too, so no padding leaks either way. The
 * latest variant is also invariant to the AMOUNT of padding (an item alone gives the same
 * output); the legacy one is not, since its positions depend on the padded T (as ESPnet).
 * Saved for backward (asr_rel_mhsa_saved, carved from one caller buffer of
 * asr_rel_mhsa_saved_size() bytes by asr_rel_mhsa_saved_init()):
 *   q, k, v, ctx (N,T,D), p (P,D), attn (N,H,T,T). */
typedef struct asr_rel_mhsa_params {
  const asr_real *wq, *bq;     /* linear_q.weight (D,D), linear_q.bias (D) */
  const asr_real *wk, *bk;     /* linear_k */
  const asr_real *wv, *bv;     /* linear_v */
  const asr_real *wo, *bo;     /* linear_out */
  const asr_real *wpos;        /* linear_pos.weight (D,D) */
  const asr_real *pos_bias_u;  /* (H, D/H) */
  const asr_real *pos_bias_v;  /* (H, D/H) */
} asr_rel_mhsa_params;
typedef struct asr_rel_mhsa_grads {   /* same shapes; NULL = not needed; accumulated */
  asr_real *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo, *wpos, *pos_bias_u, *pos_bias_v;
} asr_rel_mhsa_grads;
typedef struct asr_rel_mhsa_saved {
  asr_real *q, *k, *v, *ctx;   /* (N,T,D) */
  asr_real *p;                 /* (P,D) linear_pos(pos_emb) */
  asr_real *attn;              /* (N,H,T,T) */
} asr_rel_mhsa_saved;
ASRDEF size_t asr_rel_mhsa_saved_size(int N, int T, int D, int H, asr_rel_pos_type type);
ASRDEF asr_result asr_rel_mhsa_saved_init(asr_rel_mhsa_saved *s, void *buf, size_t bytes, int N,
                                          int T, int D, int H, asr_rel_pos_type type);
ASRDEF size_t asr_rel_mhsa_forward_workspace_size(int N, int T, int D, int H,
                                                  asr_rel_pos_type type);
ASRDEF size_t asr_rel_mhsa_backward_workspace_size(int N, int T, int D, int H,
                                                   asr_rel_pos_type type);
/* y (N,T,D); x (N,T,D); pos_emb (P,D) from asr_rel_pos_encoding(type) for this T.
 * D % H != 0 is ASR_ERR_SHAPE. _naive loops over every index of the equations above and
 * shifts with asr_rel_shift_naive (it refuses T > 32, D > 64 in backward, or
 * N H T^2 D > 2^26); _ref runs the products as GEMMs and shifts by the index map. */
ASRDEF asr_result asr_rel_mhsa_forward_naive(asr_real *y, const asr_rel_mhsa_saved *s,
                                             const asr_real *x, const asr_real *pos_emb,
                                             const int *lengths, const asr_rel_mhsa_params *p,
                                             int N, int T, int D, int H, asr_rel_pos_type type);
ASRDEF asr_result asr_rel_mhsa_forward_ref(asr_real *y, const asr_rel_mhsa_saved *s,
                                           const asr_real *x, const asr_real *pos_emb,
                                           const int *lengths, const asr_rel_mhsa_params *p,
                                           int N, int T, int D, int H, asr_rel_pos_type type,
                                           void *work, size_t work_bytes);
ASRDEF asr_result asr_rel_mhsa_forward(asr_real *y, const asr_rel_mhsa_saved *s,
                                       const asr_real *x, const asr_real *pos_emb,
                                       const int *lengths, const asr_rel_mhsa_params *p, int N,
                                       int T, int D, int H, asr_rel_pos_type type, void *work,
                                       size_t work_bytes);
/* backward, from dy (N,T,D) (padded rows ignored), accumulating into dx (N,T,D),
 * d_pos_emb (P,D) and *g (each may be NULL). With g = dL/ds / sqrt(d_k) (the softmax
 * backward of dattn = dctx v^T):
 *   dctx = dy Wo;  dWo += dy^T ctx;  dbo += sum dy;  dv_j += sum_i attn_ij dctx_i
 *   d(q_i+u) += sum_j g_ij k_j;   dk_j += sum_i g_ij (q_i + u);   du = sum_i d(q_i+u)
 *   dbd_raw = rel_shift^T(g);  d(q_r+v) += sum_k dbd_raw_rk p_k;  dp_k += sum_r dbd_raw_rk (q_r+v)
 *   dWpos += dp^T pos_emb;  d_pos_emb += dp Wpos;  dq = d(q+u) + d(q+v)
 *   dW{q,k,v} += d{q,k,v}^T x;  db{q,k,v} += sum d{q,k,v};  dx += dq Wq + dk Wk + dv Wv */
ASRDEF asr_result asr_rel_mhsa_backward_naive(asr_real *dx, asr_real *d_pos_emb,
                                              const asr_rel_mhsa_grads *g, const asr_real *dy,
                                              const asr_rel_mhsa_saved *s, const asr_real *x,
                                              const asr_real *pos_emb, const int *lengths,
                                              const asr_rel_mhsa_params *p, int N, int T, int D,
                                              int H, asr_rel_pos_type type);
ASRDEF asr_result asr_rel_mhsa_backward_ref(asr_real *dx, asr_real *d_pos_emb,
                                            const asr_rel_mhsa_grads *g, const asr_real *dy,
                                            const asr_rel_mhsa_saved *s, const asr_real *x,
                                            const asr_real *pos_emb, const int *lengths,
                                            const asr_rel_mhsa_params *p, int N, int T, int D,
                                            int H, asr_rel_pos_type type, void *work,
                                            size_t work_bytes);
ASRDEF asr_result asr_rel_mhsa_backward(asr_real *dx, asr_real *d_pos_emb,
                                        const asr_rel_mhsa_grads *g, const asr_real *dy,
                                        const asr_rel_mhsa_saved *s, const asr_real *x,
                                        const asr_real *pos_emb, const int *lengths,
                                        const asr_rel_mhsa_params *p, int N, int T, int D, int H,
                                        asr_rel_pos_type type, void *work, size_t work_bytes);

/* ---- conv2d (torch.nn.Conv2d with padding 0, square kernel K, stride S, one group),
 * channels first, with a length mask on the first spatial axis (time):
 *   y[n,o,i,j] = b[o] + sum_c sum_{a<K} sum_{e<K} w[o,c,a,e] x[n, c, iS+a, jS+e]
 *   Ho = (Hh - K)/S + 1,   Wo = (Ww - K)/S + 1           (floor; Hh, Ww >= K)
 * x (N,C,Hh,Ww), w (O,C,K,K), b (O) or NULL, y (N,O,Ho,Wo). lengths (N) or NULL: rows
 * i >= lengths[n] of x are read as 0, and output rows i >= (lengths[n]-K)/S+1 (0 when
 * lengths[n] < K) are written as 0 and get no gradient: the valid rows are those whose
 * window lies inside the valid input. K > Hh or K > Ww is ASR_ERR_SHAPE.
 * _naive: the sum, one loop per index (refuses more than 2^26 multiply-adds); _ref:
 * im2col + GEMM per item, col[(c K + a) K + e][i Wo + j] = x[c, iS+a, jS+e], Y = W col,
 * on asr_gemm_ref; the unsuffixed the same on asr_gemm (SIMD).
 * backward: dcol = W^T dY scattered back (col2im) into dx, dW += dY col^T, db += sum dY. */
ASRDEF size_t asr_conv2d_workspace_size(int C, int Hh, int Ww, int O, int K, int S);
ASRDEF asr_result asr_conv2d_forward_naive(asr_real *y, const asr_real *x, const asr_real *w,
                                           const asr_real *b, const int *lengths, int N, int C,
                                           int Hh, int Ww, int O, int K, int S);
ASRDEF asr_result asr_conv2d_forward_ref(asr_real *y, const asr_real *x, const asr_real *w,
                                         const asr_real *b, const int *lengths, int N, int C,
                                         int Hh, int Ww, int O, int K, int S, void *work,
                                         size_t work_bytes);
ASRDEF asr_result asr_conv2d_backward_naive(asr_real *dx, asr_real *dw, asr_real *db,
                                            const asr_real *dy, const asr_real *x,
                                            const asr_real *w, const int *lengths, int N, int C,
                                            int Hh, int Ww, int O, int K, int S);
ASRDEF asr_result asr_conv2d_backward_ref(asr_real *dx, asr_real *dw, asr_real *db,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *w, const int *lengths, int N, int C,
                                          int Hh, int Ww, int O, int K, int S, void *work,
                                          size_t work_bytes);
ASRDEF asr_result asr_conv2d_forward(asr_real *y, const asr_real *x, const asr_real *w,
                                     const asr_real *b, const int *lengths, int N, int C, int Hh,
                                     int Ww, int O, int K, int S, void *work, size_t work_bytes);
ASRDEF asr_result asr_conv2d_backward(asr_real *dx, asr_real *dw, asr_real *db,
                                      const asr_real *dy, const asr_real *x, const asr_real *w,
                                      const int *lengths, int N, int C, int Hh, int Ww, int O,
                                      int K, int S, void *work, size_t work_bytes);

/* ---- Conv2dSubsampling, ESPnet's 4x subsampling front end [Gulati20] Fig. 1:
 *   h1 = relu(conv.0(x))     Conv2d(1, D, 3, stride 2):  (N,1,T,F) -> (N,D,T1,F1)
 *   h2 = relu(conv.2(h1))    Conv2d(D, D, 3, stride 2):  -> (N,D,T2,F2)
 *   y  = out.0(h2 as (N, T2, D*F2)) * sqrt(D)             Linear(D*F2, D)
 * T1 = (T-1)/2, T2 = (T1-1)/2 (so T2 = ((T-1)//2-1)//2, the issue's formula), same for F.
 * x (N,T,F) (ESPnet's (batch, time, idim), seen as one input channel), y (N,T2,D).
 * The sqrt(D) is the x * xscale of ESPnet's RelPositionalEncoding, the last element of
 * its `out` Sequential; the embeddings for the block come from asr_rel_pos_encoding(T2).
 * Weights: conv.0.weight (D,1,3,3), conv.0.bias (D), conv.2.weight (D,D,3,3),
 * conv.2.bias (D), out.0.weight (D, D*F2), out.0.bias (D); the features of the linear's
 * input are ordered (channel, frequency): z[t][d F2 + f] = h2[d][t][f], as ESPnet's
 * x.transpose(1, 2).contiguous().view(b, t, c * f).
 * Lengths: lengths_out[b] = asr_conv2d_subsampling_out_len(lengths[b]), the frames whose
 * receptive field lies inside the valid input; output frames past it are 0.
 * NOTE: ESPnet subsamples the mask as x_mask[:, :, :-2:2][:, :, :-2:2], which keeps
 * ceil(L/2) (then ceil of half that) frames of a padded item: one or two more than an
 * unpadded utterance of length L gets, and those extra frames see the padding. T < 7 or
 * F < 7 is ASR_ERR_SHAPE (ESPnet's check_short_utt refuses T < 7 too).
 * Saved: h1 (N,D,T1,F1) and z (N,T2,D*F2), relu outputs (0 where not valid). */
typedef struct asr_conv2d_subsampling_params {
  const asr_real *conv0_w, *conv0_b;   /* conv.0.weight (D,1,3,3), conv.0.bias (D) */
  const asr_real *conv2_w, *conv2_b;   /* conv.2.weight (D,D,3,3), conv.2.bias (D) */
  const asr_real *out_w, *out_b;       /* out.0.weight (D,D*F2), out.0.bias (D) */
} asr_conv2d_subsampling_params;
typedef struct asr_conv2d_subsampling_grads {   /* NULL = not needed; accumulated */
  asr_real *conv0_w, *conv0_b, *conv2_w, *conv2_b, *out_w, *out_b;
} asr_conv2d_subsampling_grads;
typedef struct asr_conv2d_subsampling_saved {
  asr_real *h1;    /* (N,D,T1,F1) */
  asr_real *z;     /* (N,T2,D*F2) */
} asr_conv2d_subsampling_saved;
/* ((L-1)/2-1)/2, and 0 for L < 7. */
ASRDEF int asr_conv2d_subsampling_out_len(int L);
ASRDEF size_t asr_conv2d_subsampling_saved_size(int N, int T, int F, int D);
ASRDEF asr_result asr_conv2d_subsampling_saved_init(asr_conv2d_subsampling_saved *s, void *buf,
                                                    size_t bytes, int N, int T, int F, int D);
ASRDEF size_t asr_conv2d_subsampling_workspace_size(int N, int T, int F, int D);
/* _naive uses the conv2d _naive tier and loops for the linear; _ref the GEMM tiers.
 * Both take asr_conv2d_subsampling_workspace_size() bytes of work. */
ASRDEF asr_result asr_conv2d_subsampling_forward_naive(asr_real *y, int *lengths_out,
                                                       const asr_conv2d_subsampling_saved *s,
                                                       const asr_real *x, const int *lengths,
                                                       const asr_conv2d_subsampling_params *p,
                                                       int N, int T, int F, int D, void *work,
                                                       size_t work_bytes);
ASRDEF asr_result asr_conv2d_subsampling_forward_ref(asr_real *y, int *lengths_out,
                                                     const asr_conv2d_subsampling_saved *s,
                                                     const asr_real *x, const int *lengths,
                                                     const asr_conv2d_subsampling_params *p,
                                                     int N, int T, int F, int D, void *work,
                                                     size_t work_bytes);
ASRDEF asr_result asr_conv2d_subsampling_forward(asr_real *y, int *lengths_out,
                                                 const asr_conv2d_subsampling_saved *s,
                                                 const asr_real *x, const int *lengths,
                                                 const asr_conv2d_subsampling_params *p, int N,
                                                 int T, int F, int D, void *work,
                                                 size_t work_bytes);
/* backward from dy (N,T2,D) (frames past lengths_out ignored) into dx (N,T,F) and *g. */
ASRDEF asr_result asr_conv2d_subsampling_backward_ref(asr_real *dx,
                                                      const asr_conv2d_subsampling_grads *g,
                                                      const asr_real *dy,
                                                      const asr_conv2d_subsampling_saved *s,
                                                      const asr_real *x, const int *lengths,
                                                      const asr_conv2d_subsampling_params *p,
                                                      int N, int T, int F, int D, void *work,
                                                      size_t work_bytes);
ASRDEF asr_result asr_conv2d_subsampling_backward(asr_real *dx,
                                                  const asr_conv2d_subsampling_grads *g,
                                                  const asr_real *dy,
                                                  const asr_conv2d_subsampling_saved *s,
                                                  const asr_real *x, const int *lengths,
                                                  const asr_conv2d_subsampling_params *p, int N,
                                                  int T, int F, int D, void *work,
                                                  size_t work_bytes);


/* ---- The Conformer block's configuration (ESPnet's EncoderLayer with macaron-style
 * feed-forward, the convolution module, swish, normalize_before = True, concat_after =
 * False, in evaluation: no dropout). */
typedef struct asr_conformer_config {
  int d_model;            /* D, ESPnet's output_size / attention_dim */
  int heads;              /* H, attention_heads; must divide D */
  int ff_dim;             /* F, linear_units of both feed-forward modules */
  int kernel;             /* K, cnn_module_kernel; odd (padding (K-1)/2 keeps T) */
  asr_rel_pos_type rel_pos;
  int training;           /* batch norm of the conv module: batch statistics of the valid
                             frames (1, the running ones are updated) or running ones (0) */
  double bn_momentum;     /* 0.1 (nn.BatchNorm1d) */
  double bn_eps;          /* 1e-5 (nn.BatchNorm1d) */
  double ln_eps;          /* 1e-12: ESPnet's LayerNorm, not torch's default 1e-5 */
} asr_conformer_config;
/* Fills c with ESPnet's defaults for these sizes (latest rel_pos, evaluation). */
ASRDEF void asr_conformer_config_init(asr_conformer_config *c, int d_model, int heads, int ff_dim,
                                      int kernel);

/* ---- Feed-forward module, ESPnet's PositionwiseFeedForward with swish [Gulati20] Sec. 2.3:
 *   y = W2 swish(W1 x + b1) + b2          w_1 (F,D), w_2 (D,F)
 * per frame, over M = N*T rows of x (M,D). Saved h (M,F) = W1 x + b1 and s (M,F) =
 * swish(h). backward: ds = dy W2, dW2 += dy^T s, db2 += sum dy, dh = swish'(h) ds,
 * dW1 += dh^T x, db1 += sum dh, dx += dh W1. The block applies it with the macaron 1/2
 * residual weight [Gulati20] eq. (1): x + 1/2 FFN(x). */
typedef struct asr_conformer_ff_params {
  const asr_real *w1, *b1;   /* w_1.weight (F,D), w_1.bias (F) */
  const asr_real *w2, *b2;   /* w_2.weight (D,F), w_2.bias (D) */
} asr_conformer_ff_params;
typedef struct asr_conformer_ff_grads {
  asr_real *w1, *b1, *w2, *b2;
} asr_conformer_ff_grads;
typedef struct asr_conformer_ff_saved {
  asr_real *h, *s;           /* (M,F) */
} asr_conformer_ff_saved;
ASRDEF asr_result asr_conformer_ff_forward(asr_real *y, const asr_conformer_ff_saved *s,
                                           const asr_real *x, const asr_conformer_ff_params *p,
                                           int M, int D, int F);
/* work: 2 M F reals (asr_conformer_ff_workspace_size). */
ASRDEF size_t asr_conformer_ff_workspace_size(int M, int F);
ASRDEF asr_result asr_conformer_ff_backward(asr_real *dx, const asr_conformer_ff_grads *g,
                                            const asr_real *dy, const asr_conformer_ff_saved *s,
                                            const asr_real *x, const asr_conformer_ff_params *p,
                                            int M, int D, int F, void *work, size_t work_bytes);

/* ---- Convolution module, ESPnet's ConvolutionModule [Gulati20] Sec. 2.2:
 *   a = pointwise_conv1(x)            (2D,D,1) + bias: per frame, D -> 2D
 *   u = GLU(a) = a[:D] * sigmoid(a[D:])   over channels
 *   c = depthwise_conv(u)             (D,1,K), padding (K-1)/2, + bias
 *   n = BatchNorm1d(c)                norm.weight/bias/running_mean/running_var (D)
 *   s = swish(n)
 *   y = pointwise_conv2(s)            (D,D,1) + bias
 * x, y (N,T,D) channels last as the block holds them; the depthwise conv and the batch
 * norm run channels first on (N,D,T). Padding is masked: the depthwise conv reads the
 * padded frames as 0 (asr_depthwise_conv1d_forward with lengths), so a valid output
 * frame sees exactly the zero padding an unpadded utterance would have at its ends:
 * the valid outputs do not depend on the padding (neither its contents nor its
 * amount); padded outputs are 0. In training the batch statistics are those of the
 * valid frames. NOTE: ESPnet's ConvolutionModule takes no mask: its depthwise conv
 * reads whatever the padded frames hold and its BatchNorm1d averages them too; WeNet
 * zeroes the module's input at padded frames, which still lets pointwise_conv1's bias
 * through GLU into the valid frames near the end. Masking after GLU is what makes a
 * padded item equal to the same item alone.
 * Saved (asr_conformer_conv_saved over one buffer of asr_conformer_conv_saved_size()):
 *   a (N,T,2D), u (N,D,T), c (N,D,T), bn_mean, bn_rstd (D), n (N,D,T), s (N,T,D).
 * backward: through each step in reverse, each by its section-4 function. */
typedef struct asr_conformer_conv_params {
  const asr_real *pw1_w, *pw1_b;        /* pointwise_conv1.weight (2D,D,1), .bias (2D) */
  const asr_real *dw_w, *dw_b;          /* depthwise_conv.weight (D,1,K), .bias (D) */
  const asr_real *bn_w, *bn_b;          /* norm.weight (D), norm.bias (D) */
  asr_real *bn_mean, *bn_var;           /* norm.running_mean, norm.running_var (D); updated
                                           in place by a training-mode forward */
  const asr_real *pw2_w, *pw2_b;        /* pointwise_conv2.weight (D,D,1), .bias (D) */
} asr_conformer_conv_params;
typedef struct asr_conformer_conv_grads {
  asr_real *pw1_w, *pw1_b, *dw_w, *dw_b, *bn_w, *bn_b, *pw2_w, *pw2_b;
} asr_conformer_conv_grads;
typedef struct asr_conformer_conv_saved {
  asr_real *a;                  /* (N,T,2D) */
  asr_real *u, *c, *n;          /* (N,D,T) */
  asr_real *bn_mean, *bn_rstd;  /* (D) the statistics the batch norm used */
  asr_real *s;                  /* (N,T,D) */
} asr_conformer_conv_saved;
ASRDEF size_t asr_conformer_conv_saved_size(int N, int T, int D);
ASRDEF asr_result asr_conformer_conv_saved_init(asr_conformer_conv_saved *s, void *buf, size_t bytes,
                                                int N, int T, int D);
/* forward and backward both take this many bytes of work */
ASRDEF size_t asr_conformer_conv_workspace_size(int N, int T, int D);
/* _ref runs the pointwise convolutions on asr_linear_*_ref, the unsuffixed on the fastest. */
ASRDEF asr_result asr_conformer_conv_forward_ref(asr_real *y, const asr_conformer_conv_saved *s,
                                                 const asr_real *x, const int *lengths,
                                                 const asr_conformer_conv_params *p,
                                                 const asr_conformer_config *cfg, int N, int T,
                                                 void *work, size_t work_bytes);
ASRDEF asr_result asr_conformer_conv_forward(asr_real *y, const asr_conformer_conv_saved *s,
                                             const asr_real *x, const int *lengths,
                                             const asr_conformer_conv_params *p,
                                             const asr_conformer_config *cfg, int N, int T,
                                             void *work, size_t work_bytes);
ASRDEF asr_result asr_conformer_conv_backward_ref(asr_real *dx, const asr_conformer_conv_grads *g,
                                                  const asr_real *dy,
                                                  const asr_conformer_conv_saved *s,
                                                  const asr_real *x, const int *lengths,
                                                  const asr_conformer_conv_params *p,
                                                  const asr_conformer_config *cfg, int N, int T,
                                                  void *work, size_t work_bytes);
ASRDEF asr_result asr_conformer_conv_backward(asr_real *dx, const asr_conformer_conv_grads *g,
                                              const asr_real *dy, const asr_conformer_conv_saved *s,
                                              const asr_real *x, const int *lengths,
                                              const asr_conformer_conv_params *p,
                                              const asr_conformer_config *cfg, int N, int T,
                                              void *work, size_t work_bytes);

/* ---- The Conformer block, ESPnet's EncoderLayer [Gulati20] Sec. 2.4, eq. (1), with
 * pre-norm residual units (normalize_before) and the final layer norm:
 *   x1 = x  + 1/2 FFN_macaron(LN_ff_macaron(x))
 *   x2 = x1 + MHSA(LN_mha(x1), pos_emb, mask)
 *   x3 = x2 + Conv(LN_conv(x2))
 *   x4 = x3 + 1/2 FFN(LN_ff(x3))
 *   y  = LN_final(x4)
 * x, y (N,T,D); pos_emb (P,D) from asr_rel_pos_encoding(cfg->rel_pos, T) (ESPnet makes
 * it once per utterance and hands it to every block). Layer norms are ESPnet's (eps
 * 1e-12). Padded frames: y is 0 there, and dy there is ignored. backward: the residual
 * streams add, each module's backward in reverse, dx accumulated. Weights (ESPnet's
 * state_dict keys under the block): feed_forward_macaron.w_1/w_2, self_attn.*,
 * conv_module.*, feed_forward.w_1/w_2, norm_ff_macaron, norm_mha, norm_conv, norm_ff,
 * norm_final (.weight, .bias). */
typedef struct asr_conformer_norm {
  const asr_real *weight, *bias;   /* (D) */
} asr_conformer_norm;
typedef struct asr_conformer_block_params {
  asr_conformer_ff_params ff_macaron, ff;
  asr_rel_mhsa_params mhsa;
  asr_conformer_conv_params conv;
  asr_conformer_norm norm_ff_macaron, norm_mha, norm_conv, norm_ff, norm_final;
} asr_conformer_block_params;
typedef struct asr_conformer_block_grads {
  asr_conformer_ff_grads ff_macaron, ff;
  asr_rel_mhsa_grads mhsa;
  asr_conformer_conv_grads conv;
  asr_real *norm_w[5], *norm_b[5];   /* ff_macaron, mha, conv, ff, final */
} asr_conformer_block_grads;
typedef struct asr_conformer_block_saved {
  asr_real *x1, *x2, *x3, *x4;       /* (N,T,D) the residual stream after each module */
  asr_real *ln[4];                   /* (N,T,D) the inputs of the four modules */
  asr_real *ln_mean[5], *ln_rstd[5]; /* (N*T) the statistics of the five layer norms */
  asr_conformer_ff_saved ff_macaron, ff;
  asr_rel_mhsa_saved mhsa;
  asr_conformer_conv_saved conv;
} asr_conformer_block_saved;
ASRDEF size_t asr_conformer_block_saved_size(const asr_conformer_config *cfg, int N, int T);
ASRDEF asr_result asr_conformer_block_saved_init(asr_conformer_block_saved *s, void *buf,
                                                 size_t bytes, const asr_conformer_config *cfg,
                                                 int N, int T);
ASRDEF size_t asr_conformer_block_forward_workspace_size(const asr_conformer_config *cfg, int N,
                                                         int T);
ASRDEF size_t asr_conformer_block_backward_workspace_size(const asr_conformer_config *cfg, int N,
                                                          int T);
/* _ref composes the _ref tiers of every part; the unsuffixed the fastest ones. Errors:
 * D % H != 0 and odd D are ASR_ERR_SHAPE; an even kernel ASR_ERR_INVALID_ARG. */
ASRDEF asr_result asr_conformer_block_forward_ref(asr_real *y, const asr_conformer_block_saved *s,
                                                  const asr_real *x, const asr_real *pos_emb,
                                                  const int *lengths,
                                                  const asr_conformer_block_params *p,
                                                  const asr_conformer_config *cfg, int N, int T,
                                                  void *work, size_t work_bytes);
ASRDEF asr_result asr_conformer_block_forward(asr_real *y, const asr_conformer_block_saved *s,
                                              const asr_real *x, const asr_real *pos_emb,
                                              const int *lengths,
                                              const asr_conformer_block_params *p,
                                              const asr_conformer_config *cfg, int N, int T,
                                              void *work, size_t work_bytes);
/* d_pos_emb (P,D) may be NULL. */
ASRDEF asr_result asr_conformer_block_backward_ref(asr_real *dx, asr_real *d_pos_emb,
                                                   const asr_conformer_block_grads *g,
                                                   const asr_real *dy,
                                                   const asr_conformer_block_saved *s,
                                                   const asr_real *x, const asr_real *pos_emb,
                                                   const int *lengths,
                                                   const asr_conformer_block_params *p,
                                                   const asr_conformer_config *cfg, int N, int T,
                                                   void *work, size_t work_bytes);
ASRDEF asr_result asr_conformer_block_backward(asr_real *dx, asr_real *d_pos_emb,
                                               const asr_conformer_block_grads *g,
                                               const asr_real *dy,
                                               const asr_conformer_block_saved *s,
                                               const asr_real *x, const asr_real *pos_emb,
                                               const int *lengths,
                                               const asr_conformer_block_params *p,
                                               const asr_conformer_config *cfg, int N, int T,
                                               void *work, size_t work_bytes);

/* ---------------------------------------------------------------------------------------
 * 4.4 Recurrent and attention: LSTM (uni, bi, pyramidal), dot / additive / location-aware
 * --------------------------------------------------------------------------------------- */

/* ---- LSTM, as torch.nn.LSTM computes it (one layer, one direction per call).
 *   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh            (4H), split into a_i a_f a_g a_o
 *   i_t = sigmoid(a_i)   f_t = sigmoid(a_f)   g_t = tanh(a_g)   o_t = sigmoid(a_o)
 *   c_t = f_t * c_{t-1} + i_t * g_t
 *   h_t = o_t * tanh(c_t)
 * These are the LSTM equations of [Graves13] Sec. 2 without the peephole weights
 * (W_ci, W_cf, W_co), which nn.LSTM does not have, and with PyTorch's two bias vectors.
 * symbols: x (N,T,I) input, h (N,T,H) the output y, W_ih = weight_ih_l0 (4H,I),
 *   W_hh = weight_hh_l0 (4H,H), b_ih = bias_ih_l0 (4H), b_hh = bias_hh_l0 (4H); rows of
 *   every weight are in PyTorch's gate order i, f, g, o (i = rows 0..H-1, and so on).
 * Lengths: item b has lengths[b] valid steps (NULL: all T). Past its length the state is
 *   frozen and the output is 0, as nn.LSTM on a PackedSequence then pad_packed_sequence.
 * reverse = 1 runs the backward direction of a bidirectional LSTM: item b is read from
 *   step lengths[b]-1 down to 0 (its padding is never seen), starting from h0/c0.
 *   A bidirectional layer is two calls: forward into y[..., 0:H] and reverse into
 *   y[..., H:2H] of a (N,T,2H) output, with ldy = 2H (the `_reverse` weights of
 *   nn.LSTM(bidirectional=True) go to the reverse call).
 * Saved for the backward pass (the caller owns them): gates (N,T,4H) the activated
 *   i, f, g, o of every step, cell (N,T,H) the c_t of every step; padded steps hold 0.
 * [Graves13] A. Graves, A. Mohamed, G. Hinton, "Speech Recognition with Deep Recurrent
 *   Neural Networks", ICASSP 2013. */
typedef struct asr_lstm_params {
  const asr_real *w_ih;   /* (4H,I) weight_ih_l0 */
  const asr_real *w_hh;   /* (4H,H) weight_hh_l0 */
  const asr_real *b_ih;   /* (4H) bias_ih_l0, or NULL (nn.LSTM(bias=False)) */
  const asr_real *b_hh;   /* (4H) bias_hh_l0, or NULL */
} asr_lstm_params;
/* Gradients, same shapes; each pointer may be NULL (not needed). Accumulated (+=). */
typedef struct asr_lstm_grads {
  asr_real *w_ih, *w_hh, *b_ih, *b_hh;
} asr_lstm_grads;

/* Workspace bytes of asr_lstm_forward*_ and asr_lstm_backward* for these sizes
 * (SIZE_MAX if the count overflows). _naive needs none. */
ASRDEF size_t asr_lstm_forward_workspace_size(int N, int T, int I, int H);
ASRDEF size_t asr_lstm_backward_workspace_size(int N, int T, int I, int H);

/* Forward. y (N,T,ldy): h_t is written to y[(b*T+t)*ldy + 0..H-1] (0 at padded steps),
 * h_n, c_n (N,H) the final state of each item (may be NULL), gates (N,T,4H) and
 * cell (N,T,H) saved; x (N,T,I); h0, c0 (N,H) the initial state (NULL: zeros).
 * _naive: one loop per index of the equations (refuses N*T*4H*(I+H) > 2^26 with
 * ASR_ERR_TOO_LARGE); _ref: the input projection of all steps as one GEMM, then one
 * (N,H)x(H,4H) GEMM per step. */
ASRDEF asr_result asr_lstm_forward_naive(asr_real *y, int ldy, asr_real *h_n, asr_real *c_n,
                                         asr_real *gates, asr_real *cell, const asr_real *x,
                                         const asr_real *h0, const asr_real *c0,
                                         const asr_lstm_params *p, int N, int T, int I, int H,
                                         const int *lengths, int reverse);
ASRDEF asr_result asr_lstm_forward_ref(asr_real *y, int ldy, asr_real *h_n, asr_real *c_n,
                                       asr_real *gates, asr_real *cell, const asr_real *x,
                                       const asr_real *h0, const asr_real *c0,
                                       const asr_lstm_params *p, int N, int T, int I, int H,
                                       const int *lengths, int reverse, void *work,
                                       size_t work_bytes);
ASRDEF asr_result asr_lstm_forward(asr_real *y, int ldy, asr_real *h_n, asr_real *c_n,
                                   asr_real *gates, asr_real *cell, const asr_real *x,
                                   const asr_real *h0, const asr_real *c0,
                                   const asr_lstm_params *p, int N, int T, int I, int H,
                                   const int *lengths, int reverse, void *work,
                                   size_t work_bytes);

/* Backpropagation through time [Werbos90]. Given dy (N,T,lddy) (the gradient of the
 * loss w.r.t. y; its padded steps are ignored, since those outputs are constant 0) and
 * optionally dh_n, dc_n (N,H) (gradients w.r.t. the final state; NULL: 0), accumulates
 * into dx (N,T,I), dh0, dc0 (N,H) and *g (any pointer may be NULL). Needs the forward's
 * y, gates, cell, and its inputs. With
 *   dh = dh_{t} (from step t+1) + dy_t,    dc = dc_t (from step t+1) + dh o (1 - tanh^2 c_t)
 *   da_i = dc g i (1-i)   da_f = dc c_{t-1} f (1-f)   da_g = dc i (1-g^2)
 *   da_o = dh tanh(c_t) o (1-o)
 *   dh_{t-1} = W_hh^T da    dc_{t-1} = dc f    dx_t = W_ih^T da
 *   dW_ih += da x_t^T   dW_hh += da h_{t-1}^T   db_ih += da   db_hh += da
 * [Werbos90] P. Werbos, "Backpropagation Through Time: What It Does and How to Do It",
 *   Proc. IEEE 78(10), 1990. */
ASRDEF asr_result asr_lstm_backward_naive(asr_real *dx, asr_real *dh0, asr_real *dc0,
                                          const asr_lstm_grads *g, const asr_real *dy, int lddy,
                                          const asr_real *dh_n, const asr_real *dc_n,
                                          const asr_real *y, int ldy, const asr_real *gates,
                                          const asr_real *cell, const asr_real *x,
                                          const asr_real *h0, const asr_real *c0,
                                          const asr_lstm_params *p, int N, int T, int I, int H,
                                          const int *lengths, int reverse);
ASRDEF asr_result asr_lstm_backward_ref(asr_real *dx, asr_real *dh0, asr_real *dc0,
                                        const asr_lstm_grads *g, const asr_real *dy, int lddy,
                                        const asr_real *dh_n, const asr_real *dc_n,
                                        const asr_real *y, int ldy, const asr_real *gates,
                                        const asr_real *cell, const asr_real *x,
                                        const asr_real *h0, const asr_real *c0,
                                        const asr_lstm_params *p, int N, int T, int I, int H,
                                        const int *lengths, int reverse, void *work,
                                        size_t work_bytes);
ASRDEF asr_result asr_lstm_backward(asr_real *dx, asr_real *dh0, asr_real *dc0,
                                    const asr_lstm_grads *g, const asr_real *dy, int lddy,
                                    const asr_real *dh_n, const asr_real *dc_n,
                                    const asr_real *y, int ldy, const asr_real *gates,
                                    const asr_real *cell, const asr_real *x,
                                    const asr_real *h0, const asr_real *c0,
                                    const asr_lstm_params *p, int N, int T, int I, int H,
                                    const int *lengths, int reverse, void *work,
                                    size_t work_bytes);

/* ---- Pyramidal reduction of the Listen, Attend and Spell listener [Chan16] Sec. 3.1:
 *   h^j_i = pBLSTM(h^j_{i-1}, [h^{j-1}_{2i}, h^{j-1}_{2i+1}])
 * i.e. before each pBLSTM layer, the outputs of consecutive steps 2i and 2i+1 of the
 * layer below are concatenated, halving the time resolution. This is that concatenation:
 *   y[b, i, 0:C] = x[b, 2i, :],   y[b, i, C:2C] = x[b, 2i+1, :]
 * x (N,T,C), y (N,T/2,2C). NOTE: an odd last step is dropped (T/2 and lengths[b]/2 round
 * down), as most LAS implementations do; [Chan16] does not say. Output steps at or past
 * lengths_out[b] = lengths[b]/2 are 0. lengths may be NULL (all T); lengths_out may be
 * NULL. A pyramidal BLSTM layer is this followed by a bidirectional asr_lstm_forward. */
ASRDEF asr_result asr_pyramid_concat_forward(asr_real *y, int *lengths_out, const asr_real *x,
                                             int N, int T, int C, const int *lengths);
/* dx (N,T,C) += the gradient routed back from dy (N,T/2,2C); padded outputs ignored. */
ASRDEF asr_result asr_pyramid_concat_backward(asr_real *dx, const asr_real *dy, int N, int T,
                                              int C, const int *lengths);


/* ---- Attention of a seq2seq decoder over the encoder output, one decoder step.
 * Given the decoder state s (the query, N items of Dq), the encoder output h (N,T,E)
 * with lengths, and (location-aware only) the previous step's alignment alpha_prev:
 *   dot       [Luong15] Sec. 3.1 "dot":  e_j = s . h_j                 (needs Dq == E)
 *   additive  [Bahdanau15] Appendix A.1.2: e_j = w^T tanh(W s + V h_j + b)
 *   location  [Chorowski15] Sec. 2.2:   f = F * alpha_prev   (a 1-D convolution, C filters
 *             of width 2F+1, zero padded: f_{j,c} = sum_k F_{c,k} alpha_prev_{j+k-F})
 *                                        e_j = w^T tanh(W s + V h_j + U f_j + b)
 *   alpha = softmax_j(scaling * e_j) over the valid frames j < lengths[b] (0 elsewhere)
 *   context = sum_j alpha_j h_j                          [Bahdanau15] eq. (5)
 * The weights are named and laid out as ESPnet's AttAdd / AttLoc (espnet/nets/
 * pytorch_backend/rnn/attentions.py), so their state_dicts load as they are:
 *   V = mlp_enc.weight (A,E), b = mlp_enc.bias (A), W = mlp_dec.weight (A,Dq) (no bias),
 *   U = mlp_att.weight (A,C) (no bias), F = loc_conv.weight (C,1,1,2F+1) (no bias),
 *   w = gvec.weight (1,A), and gvec.bias (1), a constant added to every e_j: it cancels
 *   in the softmax, so its gradient is exactly 0 (ESPnet has it; the papers do not).
 * NOTE: `scaling` sharpens the softmax as ESPnet's forward(..., scaling=2.0) does; 1 gives
 * the papers' softmax. ESPnet's dot attention (AttDot) is a different, projected form;
 * this "dot" is Luong's plain one, with no weights. The location-aware attention reads
 * alpha_prev only at valid frames (ESPnet's alignments are 0 there anyway); items with
 * length 0 get alpha = 0 and context = 0 (ESPnet would produce NaN).
 * [Bahdanau15] D. Bahdanau, K. Cho, Y. Bengio, "Neural Machine Translation by Jointly
 *   Learning to Align and Translate", ICLR 2015, arXiv:1409.0473.
 * [Luong15] M.-T. Luong, H. Pham, C. Manning, "Effective Approaches to Attention-based
 *   Neural Machine Translation", EMNLP 2015. */
typedef enum asr_attention_type {
  ASR_ATTENTION_DOT = 0,
  ASR_ATTENTION_ADDITIVE = 1,
  ASR_ATTENTION_LOCATION = 2
} asr_attention_type;
typedef struct asr_attention_config {
  asr_attention_type type;
  int enc_dim;          /* E, ESPnet's eprojs */
  int dec_dim;          /* Dq, ESPnet's dunits */
  int att_dim;          /* A (additive, location) */
  int conv_chans;       /* C (location) */
  int conv_filts;       /* F: the filters have 2F+1 taps (location) */
  double scaling;       /* alpha = softmax(scaling * e); ESPnet's default is 2.0 */
} asr_attention_config;
typedef struct asr_attention_params {
  const asr_real *enc_w, *enc_b;   /* mlp_enc.weight (A,E), mlp_enc.bias (A) */
  const asr_real *dec_w;           /* mlp_dec.weight (A,Dq) */
  const asr_real *att_w;           /* mlp_att.weight (A,C)          (location only) */
  const asr_real *conv_w;          /* loc_conv.weight (C,1,1,2F+1)  (location only) */
  const asr_real *gvec_w, *gvec_b; /* gvec.weight (1,A), gvec.bias (1) (may be NULL) */
} asr_attention_params;
typedef struct asr_attention_grads {   /* same shapes; NULL = not needed; accumulated */
  asr_real *enc_w, *enc_b, *dec_w, *att_w, *conv_w, *gvec_w, *gvec_b;
} asr_attention_grads;

/* alpha_prev for the first decoder step as ESPnet's AttLoc makes it: 1/lengths[b] at the
 * valid frames, 0 at the padding. prev (N,T); lengths NULL means all T. */
ASRDEF asr_result asr_attention_uniform(asr_real *prev, int N, int T, const int *lengths);

ASRDEF size_t asr_attention_forward_workspace_size(const asr_attention_config *cfg, int N, int T);
ASRDEF size_t asr_attention_backward_workspace_size(const asr_attention_config *cfg, int N, int T);

/* Forward. context (N,E), alpha (N,T) the attention weights (also saved for backward),
 * act (N,T,A) the saved tanh(...) (additive, location; NULL for dot), feat (N,T,C) the
 * saved location features f (location; else NULL); enc (N,T,E), query (N,Dq),
 * prev (N,T) alpha_prev (location; else NULL). ASR_ERR_SHAPE for dot with Dq != E. */
ASRDEF asr_result asr_attention_forward_naive(asr_real *context, asr_real *alpha, asr_real *act,
                                              asr_real *feat, const asr_real *enc,
                                              const int *lengths, const asr_real *query,
                                              const asr_real *prev, const asr_attention_params *p,
                                              const asr_attention_config *cfg, int N, int T);
ASRDEF asr_result asr_attention_forward_ref(asr_real *context, asr_real *alpha, asr_real *act,
                                            asr_real *feat, const asr_real *enc,
                                            const int *lengths, const asr_real *query,
                                            const asr_real *prev, const asr_attention_params *p,
                                            const asr_attention_config *cfg, int N, int T,
                                            void *work, size_t work_bytes);
ASRDEF asr_result asr_attention_forward(asr_real *context, asr_real *alpha, asr_real *act,
                                        asr_real *feat, const asr_real *enc, const int *lengths,
                                        const asr_real *query, const asr_real *prev,
                                        const asr_attention_params *p,
                                        const asr_attention_config *cfg, int N, int T,
                                        void *work, size_t work_bytes);
/* Backward: from d_context (N,E) and optionally d_alpha (N,T) (when the loss also uses
 * the weights, e.g. through the next step's location features), accumulates into
 * d_enc (N,T,E), d_query (N,Dq), d_prev (N,T) and *g (each may be NULL):
 *   dalpha_j = d_context . h_j + d_alpha_j         dh_j += alpha_j d_context
 *   de_j = scaling alpha_j (dalpha_j - sum_k alpha_k dalpha_k)       (softmax backward)
 *   dot:        d_query += sum_j de_j h_j,   dh_j += de_j s
 *   add / loc:  dz_j = de_j w (1 - act_j^2)  (A),  dw += sum_j de_j act_j,  dV += dz_j h_j^T,
 *               db += dz_j,  dh_j += V^T dz_j,  dW += (sum_j dz_j) s^T,  d_query += W^T sum_j dz_j
 *   loc:        dU += dz_j f_j^T,  df_j = U^T dz_j,  dF_{c,k} += sum_j df_{j,c} alpha_prev_{j+k-F},
 *               d_prev_{j+k-F} += sum_c df_{j,c} F_{c,k}   (valid frames only) */
ASRDEF asr_result asr_attention_backward_naive(asr_real *d_enc, asr_real *d_query, asr_real *d_prev,
                                               const asr_attention_grads *g,
                                               const asr_real *d_context, const asr_real *d_alpha,
                                               const asr_real *alpha, const asr_real *act,
                                               const asr_real *feat, const asr_real *enc,
                                               const int *lengths, const asr_real *query,
                                               const asr_real *prev, const asr_attention_params *p,
                                               const asr_attention_config *cfg, int N, int T);
ASRDEF asr_result asr_attention_backward_ref(asr_real *d_enc, asr_real *d_query, asr_real *d_prev,
                                             const asr_attention_grads *g,
                                             const asr_real *d_context, const asr_real *d_alpha,
                                             const asr_real *alpha, const asr_real *act,
                                             const asr_real *feat, const asr_real *enc,
                                             const int *lengths, const asr_real *query,
                                             const asr_real *prev, const asr_attention_params *p,
                                             const asr_attention_config *cfg, int N, int T,
                                             void *work, size_t work_bytes);
ASRDEF asr_result asr_attention_backward(asr_real *d_enc, asr_real *d_query, asr_real *d_prev,
                                         const asr_attention_grads *g, const asr_real *d_context,
                                         const asr_real *d_alpha, const asr_real *alpha,
                                         const asr_real *act, const asr_real *feat,
                                         const asr_real *enc, const int *lengths,
                                         const asr_real *query, const asr_real *prev,
                                         const asr_attention_params *p,
                                         const asr_attention_config *cfg, int N, int T,
                                         void *work, size_t work_bytes);

/* ---------------------------------------------------------------------------------------
 * 4.5 Optimizers and schedules: SGD, Adam, AdamW, warmup, gradient clipping
 * --------------------------------------------------------------------------------------- */
/* Each optimizer updates one parameter array in place from its gradient, with its state
 * arrays (zeroed by the caller before the first step) and the 1-based step count t.
 * The arithmetic is done in double per element and stored back in asr_real; the rules
 * are exactly those of torch.optim (1.13, single-tensor path), including where eps goes
 * and how weight decay enters: tests/torch/test_layers.py runs both side by side. */

/* ---- SGD with momentum (torch.optim.SGD):
 *   g  = grad + weight_decay p                      (L2 penalty in the gradient)
 *   b  = g                               at t = 1   (the buffer starts at the gradient)
 *   b  = momentum b + (1 - dampening) g  at t > 1
 *   d  = g + momentum b  (nesterov)   or   d = b   (momentum != 0)   or   d = g
 *   p -= lr d
 * buf (n) is the momentum buffer (unused when momentum = 0). */
typedef struct asr_sgd_opts {
  double lr, momentum, dampening, weight_decay;
  int nesterov;
} asr_sgd_opts;
ASRDEF void asr_sgd_opts_init(asr_sgd_opts *o, double lr);   /* torch defaults: 0, 0, 0, off */
ASRDEF asr_result asr_sgd_step(asr_real *param, asr_real *buf, const asr_real *grad, size_t n,
                               const asr_sgd_opts *o, long t);

/* ---- Adam [Kingma15] Algorithm 1 and AdamW [Loshchilov19] Algorithm 2 (torch.optim.Adam,
 * torch.optim.AdamW):
 *   AdamW first decays the weights:  p *= 1 - lr weight_decay       (decoupled)
 *   Adam adds the L2 term instead:   g  = grad + weight_decay p
 *   m = beta1 m + (1 - beta1) g,      v = beta2 v + (1 - beta2) g^2
 *   vmax = max(vmax, v) with amsgrad (then vmax replaces v below)
 *   p -= (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * NOTE: eps is added to the bias-corrected sqrt(v_hat) = sqrt(v) / sqrt(1 - beta2^t), as
 * in [Kingma15] and torch; some implementations add it to sqrt(v) before correcting,
 * which is a different number early in training. m, v (n) and vmax (n, amsgrad only)
 * are the state arrays. */
typedef struct asr_adam_opts {
  double lr, beta1, beta2, eps, weight_decay;
  int decoupled;                 /* 1: AdamW */
  int amsgrad;
} asr_adam_opts;
ASRDEF void asr_adam_opts_init(asr_adam_opts *o, double lr);    /* 0.9, 0.999, 1e-8, wd 0 */
ASRDEF void asr_adamw_opts_init(asr_adam_opts *o, double lr);   /* same, wd 1e-2, decoupled */
ASRDEF asr_result asr_adam_step(asr_real *param, asr_real *m, asr_real *v, asr_real *vmax,
                                const asr_real *grad, size_t n, const asr_adam_opts *o, long t);

/* ---- Learning-rate schedules, functions of the 1-based step t:
 * Noam, [Vaswani17] eq. (3):
 *   lr(t) = factor d_model^-0.5 min(t^-0.5, t warmup^-1.5)
 * warmup (ESPnet's WarmupLR): the same curve scaled to peak at base_lr when t = warmup:
 *   lr(t) = base_lr warmup^0.5 min(t^-0.5, t warmup^-1.5)
 * linear warmup then linear decay to 0 at t = total (as transformers'
 * get_linear_schedule_with_warmup, with t counted from 1 here):
 *   lr(t) = base_lr t / warmup  (t < warmup),  base_lr (total - t) / (total - warmup)
 * (clamped at 0). warmup <= 0 means no warmup. */
ASRDEF double asr_lr_noam(long t, int d_model, long warmup, double factor);
ASRDEF double asr_lr_warmup(long t, double base_lr, long warmup);
ASRDEF double asr_lr_linear_warmup(long t, double base_lr, long warmup, long total);

/* ---- Gradient-norm clipping (torch.nn.utils.clip_grad_norm_): over all `count` arrays
 * grads[i] (sizes[i]) together,
 *   total = (sum_i sum_j |g_ij|^q)^(1/q)      (q = norm_type; q = INFINITY: max |g_ij|)
 *   coef  = max_norm / (total + 1e-6);  if coef < 1, every g *= coef
 * *total_norm receives total (before clipping). Sums run in double.
 * NOTE: a NaN or infinite total is ASR_ERR_NONFINITE and the gradients are left as they
 * are (torch's default multiplies them by NaN; its error_if_nonfinite=True raises). */
ASRDEF asr_result asr_clip_grad_norm(asr_real *const *grads, const size_t *sizes, int count,
                                     double max_norm, double norm_type, double *total_norm);

/* ========================================================================================
 * 5. CTC
 * ======================================================================================== */

/* Connectionist Temporal Classification [Graves06]: the loss of a labelling given
 * per-frame label distributions, its gradient, and the decoders that read labellings off
 * those distributions. Derivations and pictures: docs/ctc.md.
 *
 * The paper in four lines. The network emits, at each frame t, a distribution y^t over
 * the labels plus one extra "blank". A path pi is one label (or blank) per frame; the
 * many-to-one map B merges repeated labels and then drops the blanks,
 * B(c-aa-t-) = B(cc--a-tt) = "cat"; the probability of a labelling l sums over every
 * path that B maps to it:
 *   [Graves06] eq. (2):  p(pi|x) = prod_{t=1..T} y^t_{pi_t}
 *   [Graves06] eq. (3):  p(l|x)  = sum_{pi in B^-1(l)} p(pi|x)
 * and the loss is O = -ln p(l|x) ([Graves06] eq. (12)). _naive computes eq. (3) by
 * enumerating V^T paths; _ref and the fast path use the forward-backward recursions over
 * l', the labelling with blanks interleaved (eqs. (5)-(11)), in log space.
 *
 * Symbols, paper -> C (0-based everywhere: the paper's t = 1..T, s = 1..|l'| are
 * t = 0..T-1, s = 0..2S here):
 *   T, frames of item n                -> input_lengths[n]  (<= T, the padded width)
 *   l, |l|                             -> targets + n*S, target_lengths[n] (<= S)
 *   L' = L + {blank}, |L'|             -> {0..V-1}, any index may be the blank (`blank`)
 *   u^t_k, unnormalized outputs        -> logits[((size_t)n*T + t)*V + k]
 *   y^t_k = softmax(u^t)_k             -> exp(logits - logsumexp_k logits), never stored
 *   l'_s (s = 0..2|l|)                 -> blank for even s, l_{(s-1)/2} for odd s
 *   alpha_t(s), beta_t(s)              -> log_alpha, log_beta: NATURAL LOGS, (T, 2S+1)
 *   p(l|x)                             -> exp(-loss)
 *
 * Two gradient contracts, side by side (users of PyTorch and warp-ctc mix them up):
 *   asr_ctc_loss*           input: logits u (log-softmax is applied inside); grad is
 *                           dO/du^t_k = y^t_k - gamma_t(k)            ([Graves06] eq. (16))
 *   asr_ctc_loss_logprobs*  input: log-probabilities z^t_k (used as they are, not
 *                           renormalized); grad is the true partial derivative
 *                           dO/dz^t_k = -gamma_t(k)           (eqs. (13), (15), z = ln y)
 * where gamma_t(k) = sum_{s: l'_s = k} alpha_t(s) beta_t(s) / (y^t_k p(l|x)) is the
 * posterior probability that frame t emits k (eq. (14) divided by p(l|x)).
 * NOTE: torch.nn.functional.ctc_loss takes log-probabilities but returns, for them,
 * exp(z) - gamma, i.e. the LOGITS gradient, which equals the true -gamma only after
 * log_softmax's backward (they differ by exp(z^t_k) sum_k' grad_k', which that backward
 * removes). warp-ctc takes logits, like asr_ctc_loss. docs/ctc.md has the derivations.
 *
 * Batches: logits (N,T,V) batch-first, padded targets (N,S), per-item lengths. Frames
 * t >= input_lengths[n] and target entries j >= target_lengths[n] are ignored (their
 * gradient is not touched). Reductions, as PyTorch's ctc_loss:
 *   ASR_REDUCTION_NONE  loss (N): loss[n] = -ln p(l_n|x_n)
 *   ASR_REDUCTION_SUM   loss (1): sum_n loss_n
 *   ASR_REDUCTION_MEAN  loss (1): (1/N) sum_n loss_n / max(target_lengths[n], 1)
 * grad (N,T,V) receives += the gradient of that reduced loss (with NONE: of sum_n loss_n,
 * i.e. each item's slice is the gradient of its own loss). With N = 0 the sum and the
 * mean are 0 (PyTorch's mean of nothing is NaN).
 *
 * Infeasible targets. A path needs one frame per label plus one blank between each pair
 * of equal neighbours, so l can be emitted only if
 *   T >= |l| + #{j : l_j = l_{j-1}}                       (asr_ctc_min_frames)
 * (or, with log-probability inputs, when every path has probability 0). Such an item
 * gets loss +inf (0 with zero_infinity), a zero gradient, and the call returns
 * ASR_INFEASIBLE (a success code: everything else was computed). Nothing is ever NaN.
 *
 * Errors (negative result, nothing written, `err` names the argument and index):
 * a label outside [0,V) or equal to the blank, a negative length, a target length above
 * S, an input length above T, NaN or infinite logits (ASR_ERR_NONFINITE; log-probability
 * inputs may be -inf, never NaN or +inf), blank outside [0,V), an unknown reduction,
 * a workspace smaller than asr_ctc_loss_workspace_size() (ASR_ERR_WORKSPACE), and for
 * _naive more than ASR_CTC_NAIVE_MAX_PATHS paths in one item (ASR_ERR_TOO_LARGE). */

/* _naive enumerates V^T paths per item; it refuses items with more than this many. */
#define ASR_CTC_NAIVE_MAX_PATHS 1048576

/* The fewest frames that can carry the labelling l (S labels): S + the number of
 * neighbours that repeat (l_j = l_{j-1}), which each need a blank between them. */
ASRDEF int asr_ctc_min_frames(const int *target, int S);

/* Bytes of workspace every CTC loss tier needs for padded sizes T, V, S (the items are
 * processed one after the other and share it). (size_t)-1 if the sizes overflow. */
ASRDEF size_t asr_ctc_loss_workspace_size(int T, int V, int S);

/* The signature all CTC loss tiers share (and asr_check_ctc() accepts):
 *   loss    (N) with ASR_REDUCTION_NONE, else (1): written
 *   grad    (N,T,V) or NULL: += gradient of the reduced loss w.r.t. x
 *   x       (N,T,V) logits (asr_ctc_loss*) or log-probabilities (asr_ctc_loss_logprobs*)
 *   targets (N,S) padded labels; input_lengths (N); target_lengths (N)
 *   blank in [0,V); reduction; zero_infinity (0 or 1)
 *   work, work_bytes: asr_ctc_loss_workspace_size(T, V, S) bytes, any alignment
 *   err: optional, receives one line on error
 * Returns ASR_OK, ASR_INFEASIBLE (some item), or a negative error. */
typedef asr_result (*asr_ctc_loss_fn)(asr_real *loss, asr_real *grad, const asr_real *x,
                                      const int *targets, const int *input_lengths,
                                      const int *target_lengths, int N, int T, int V, int S,
                                      int blank, asr_reduction reduction, int zero_infinity,
                                      void *work, size_t work_bytes, asr_error *err);

/* asr_ctc_loss_naive - the definition, eqs. (2)-(3): every path pi in L'^T is enumerated
 * (a base-V counter over T digits), B(pi) is compared with l, and p(pi|x) is summed over
 * the matches (in log space, so tiny probabilities do not vanish). The gradient comes
 * from the same enumeration: gamma_t(k) = sum_{pi in B^-1(l), pi_t = k} p(pi|x) / p(l|x),
 * then the log-softmax Jacobian, written out. Tiny sizes only (ASR_CTC_NAIVE_MAX_PATHS). */
ASRDEF asr_result asr_ctc_loss_naive(asr_real *loss, asr_real *grad, const asr_real *logits,
                                     const int *targets, const int *input_lengths,
                                     const int *target_lengths, int N, int T, int V, int S,
                                     int blank, asr_reduction reduction, int zero_infinity,
                                     void *work, size_t work_bytes, asr_error *err);
/* asr_ctc_loss_ref - the forward-backward algorithm of [Graves06] sec. 4.1 over l' in
 * log space (asr_ctc_alpha_ref, asr_ctc_beta_ref), gradient by eq. (16). */
ASRDEF asr_result asr_ctc_loss_ref(asr_real *loss, asr_real *grad, const asr_real *logits,
                                   const int *targets, const int *input_lengths,
                                   const int *target_lengths, int N, int T, int V, int S,
                                   int blank, asr_reduction reduction, int zero_infinity,
                                   void *work, size_t work_bytes, asr_error *err);
/* asr_ctc_loss - the fastest built: with AVX2+FMA in the float build, the same
 * recursions with the blank and label states in separate rows (so that neighbours are
 * contiguous) and 8 states per instruction; otherwise asr_ctc_loss_ref. */
ASRDEF asr_result asr_ctc_loss(asr_real *loss, asr_real *grad, const asr_real *logits,
                               const int *targets, const int *input_lengths,
                               const int *target_lengths, int N, int T, int V, int S, int blank,
                               asr_reduction reduction, int zero_infinity, void *work,
                               size_t work_bytes, asr_error *err);
/* The same three tiers with log-probabilities in and dO/d(log-probabilities) out. */
ASRDEF asr_result asr_ctc_loss_logprobs_naive(asr_real *loss, asr_real *grad,
                                              const asr_real *logprobs, const int *targets,
                                              const int *input_lengths,
                                              const int *target_lengths, int N, int T, int V,
                                              int S, int blank, asr_reduction reduction,
                                              int zero_infinity, void *work, size_t work_bytes,
                                              asr_error *err);
ASRDEF asr_result asr_ctc_loss_logprobs_ref(asr_real *loss, asr_real *grad,
                                            const asr_real *logprobs, const int *targets,
                                            const int *input_lengths, const int *target_lengths,
                                            int N, int T, int V, int S, int blank,
                                            asr_reduction reduction, int zero_infinity,
                                            void *work, size_t work_bytes, asr_error *err);
ASRDEF asr_result asr_ctc_loss_logprobs(asr_real *loss, asr_real *grad, const asr_real *logprobs,
                                        const int *targets, const int *input_lengths,
                                        const int *target_lengths, int N, int T, int V, int S,
                                        int blank, asr_reduction reduction, int zero_infinity,
                                        void *work, size_t work_bytes, asr_error *err);

/* ---- The lattice of one sequence, for study and pictures (examples/ctc_align.c).
 * logprobs (T,V) are log y^t_k; target (S) the labelling l; L = 2S+1 states.
 * asr_ctc_alpha_ref fills log_alpha (T,L) by eqs. (5)-(7) and *log_p by eq. (8);
 * asr_ctc_beta_ref fills log_beta (T,L) by eqs. (9)-(11) and *log_p from beta_1.
 * Both are the paper's variables, so both include the emission y^t_{l'_s} of frame t and
 *   [Graves06] eq. (14):  p(l|x) = sum_s alpha_t(s) beta_t(s) / y^t_{l'_s}   for every t.
 * Unreachable states hold -INFINITY. Doubles: they are long sums. Returns ASR_INFEASIBLE
 * when p(l|x) = 0 (then *log_p = -INFINITY). */
ASRDEF asr_result asr_ctc_alpha_ref(double *log_alpha, double *log_p, const asr_real *logprobs,
                                    const int *target, int T, int V, int S, int blank);
ASRDEF asr_result asr_ctc_beta_ref(double *log_beta, double *log_p, const asr_real *logprobs,
                                   const int *target, int T, int V, int S, int blank);

/* ---- Decoders. They read log-probabilities (T,V) of one sequence (asr_log_softmax of
 * each frame of the logits); V includes the blank.
 *
 * asr_ctc_greedy_decode - best path decoding [Graves06] sec. 3.2:
 *   pi*_t = argmax_k y^t_k,  h(x) ~ B(pi*)       (eq. (4) approximated by the best path)
 * tokens (T) receives B(pi*) and *n_tokens its length; frame_path (T), optional, pi*;
 * *score (optional) = ln p(pi*|x) = sum_t logprobs[t][pi*_t]. Ties go to the lower
 * index. */
ASRDEF asr_result asr_ctc_greedy_decode(int *tokens, int *n_tokens, double *score,
                                        int *frame_path, const asr_real *logprobs, int T, int V,
                                        int blank);

/* asr_ctc_prefix_beam_search - prefix beam search ([Hannun14] A. Hannun, A. Maas,
 * D. Jurafsky, A. Ng, "First-Pass Large Vocabulary Continuous Speech Recognition using
 * Bi-Directional Recurrent DNNs", arXiv:1408.2873, Algorithm 1). Each prefix l keeps two
 * probabilities, p_b(l) (its paths end in a blank) and p_nb(l) (they end in l's last
 * label), so that paths which B maps to the same prefix are summed, not competed:
 *   blank:               p_b'(l)   += (p_b(l) + p_nb(l)) y^t_blank
 *   repeat last c:       p_nb'(l)  += p_nb(l) y^t_c              (merged by B)
 *   extend by c != last: p_nb'(l+c) += (p_b(l) + p_nb(l)) y^t_c P(c|l)^lm_weight
 *   extend by c == last: p_nb'(l+c) += p_b(l) y^t_c P(c|l)^lm_weight  (needs a blank)
 * Prefixes are ranked by ln(p_b + p_nb) + insertion_bonus |l| and the best `beam` kept.
 * P(c|l) comes from the optional scorer (e.g. a language model): it returns ln P, is
 * called once per extension, and may return 0 for "no opinion" (word LMs score at word
 * boundaries only). With no scorer, weight and bonus 0, and a beam wide enough never to
 * prune, the score of a prefix is exactly ln p(l|x) of eq. (3).
 * NOTE: beam 1 is NOT best-path decoding in general: it ranks prefixes by their summed
 * probability, best path by one path's. They agree when every frame's top label has
 * probability >= 3/4 (docs/ctc.md proves it and gives a counterexample otherwise).
 * Outputs: up to opts->nbest hypotheses, best first: tokens (nbest,T), n_tokens (nbest),
 * scores (nbest, may be NULL); *n_hyps how many were found (<= nbest). */
typedef double (*asr_ctc_scorer_fn)(void *user, const int *prefix, int len, int token);
typedef struct asr_ctc_beam_opts {
  int beam;                    /* beam width, >= 1 */
  int nbest;                   /* hypotheses returned, 1 <= nbest <= beam */
  int blank;
  asr_ctc_scorer_fn scorer;    /* NULL: none */
  void *scorer_user;
  double lm_weight;            /* the exponent of P(c|l) (alpha in [Hannun14]) */
  double insertion_bonus;      /* added per token to the ranking score (beta) */
  double prune_logprob;        /* skip labels whose logprob at a frame is below this;
                                  -INFINITY (the default) skips none */
} asr_ctc_beam_opts;
ASRDEF asr_ctc_beam_opts asr_ctc_beam_opts_default(int beam, int blank);
ASRDEF size_t asr_ctc_beam_workspace_size(int T, int V, int beam);
ASRDEF asr_result asr_ctc_prefix_beam_search(int *tokens, int *n_tokens, double *scores,
                                             int *n_hyps, const asr_real *logprobs, int T,
                                             int V, const asr_ctc_beam_opts *opts, void *work,
                                             size_t work_bytes);

/* asr_ctc_align - Viterbi forced alignment: the single most probable path of B^-1(l),
 * the alpha recursion of eqs. (6)-(8) with max in place of sum:
 *   delta_t(s) = y^t_{l'_s} max(delta_{t-1}(s), delta_{t-1}(s-1), [delta_{t-1}(s-2)])
 * then backtracking from the better of the two final states. frame_labels (T) receive
 * pi*_t (a label or the blank), frame_states (T, optional) the state s of l' at each
 * frame, *score (optional) ln p(pi*|x). Ties prefer staying (s), then s-1, then s-2.
 * Infeasible: ASR_INFEASIBLE, *score = -INFINITY, outputs filled with the blank / -1. */
ASRDEF size_t asr_ctc_align_workspace_size(int T, int S);
ASRDEF asr_result asr_ctc_align(int *frame_labels, int *frame_states, double *score,
                                const asr_real *logprobs, const int *target, int T, int V,
                                int S, int blank, void *work, size_t work_bytes);

/* asr_ctc_token_spans - the tokens B(pi) of a frame path pi (T) and, for each, its first
 * and last frame (inclusive): every maximal run of one non-blank label is one token.
 * tokens, starts, ends (T each, any may be NULL). Returns the number of tokens. */
ASRDEF int asr_ctc_token_spans(int *tokens, int *starts, int *ends, const int *frame_path,
                               int T, int blank);

/* ========================================================================================
 * 6. RNN-T
 * ======================================================================================== */

/* The transducer of [Graves12] on the output lattice of its Fig. 1. Symbols, paper -> C:
 *   T, U            frames and target labels of one utterance      T, U (per item: logit_lengths[b],
 *                                                                  target_lengths[b]); the padded
 *                                                                  batch sizes are also called T, U
 *   K+1 = |Y u {0}| the extended output space, labels + blank       V (the blank is opts->blank)
 *   y_1..y_U        the target                                      labels[0..U-1] (0-based!)
 *   f_t^k + g_u^k   the joint's input to the softmax, eq. (12)      logits[t][u][k] (N,T,U+1,V)
 *   Pr(k|t,u)       eq. (13): softmax over k of the logits         exp(log_softmax(logits[t][u]))
 *   y(t,u)          eq. (14): Pr(y_{u+1}|t,u)                      exp(log_label[t][u])
 *   0(t,u)          eq. (15): Pr(blank|t,u)                        exp(log_blank[t][u])
 *   alpha, beta     eqs. (16), (18)                                 log_alpha, log_beta (T,U+1)
 * NOTE: the paper counts frames t = 1..T; the code counts t = 0..T-1 and u = 0..U, so the
 * paper's alpha(1,0) = 1 is log_alpha[0][0] = 0 and its alpha(T,U) is log_alpha[T-1][U].
 * NOTE: everything on the lattice is kept in log space, in double: alpha(t,u) is a product of
 * t+u probabilities and underflows double after a few hundred frames, where the log does not.
 *
 * Two gradient contracts (both exact, both tested):
 *   asr_rnnt_loss_naive/_ref/asr_rnnt_loss   take unnormalized joint LOGITS z and return
 *       dL/dz, the log-softmax of eq. (13) folded in: every entry of a node gets the softmax
 *       term Pr(k|t,u) gamma(t,u), and only the blank and the next label subtract the lattice
 *       term ("function merging", Li et al., "Improving RNN transducer modeling for end-to-end
 *       speech recognition", ASRU 2019). This is torchaudio.functional.rnnt_loss's contract.
 *   asr_rnnt_loss_logprobs_ref/asr_rnnt_loss_logprobs take LOG-PROBABILITIES and return
 *       dL/d(log Pr): nonzero only at the blank and the next label of each node.
 *   warp-transducer had both at once: its CPU kernel took log-probabilities (its Python
 *   binding applied log_softmax first, "NOTE manually done log_softmax for CPU version")
 *   while its GPU kernel took raw activations and folded the softmax in. Whoever called the
 *   kernels directly, or fed log-probabilities to the GPU path, got the wrong gradient. */

/* ---- 6.1 Options, workspace, the lattice ------------------------------------------------ */

typedef struct asr_rnnt_opts {
  int blank;           /* the blank's index in 0..V-1; negative counts from the end, as
                          torchaudio's blank=-1 means V-1 */
  double clamp;        /* > 0: every entry of each item's gradient is clamped to
                          [-clamp, clamp] BEFORE the reduction's 1/N (torchaudio's clamp);
                          <= 0: no clamping */
  asr_reduction reduction;   /* NONE: loss (N), one per item, gradient of their sum;
                                SUM: loss (1) = sum_b loss_b;  MEAN: loss (1) = (1/N) sum_b
                                loss_b, the plain batch mean of torchaudio's rnnt_loss (NOT
                                divided by target lengths, unlike torch's ctc_loss) */
} asr_rnnt_opts;

/* blank 0, no clamp, mean. */
ASRDEF asr_rnnt_opts asr_rnnt_default_opts(void);

/* Bytes of workspace every asr_rnnt_loss* function needs for a batch padded to (T, U+1, V)
 * (items are processed one after the other, so N does not enter). SIZE_MAX on overflow. */
ASRDEF size_t asr_rnnt_loss_workspace_size(int T, int U, int V);

/* The lattice of one utterance, [Graves12] eqs. (13)-(15), in log space:
 *   log_norm[t][u]  = log sum_k exp(z[t][u][k])                  (the softmax denominator)
 *   log_blank[t][u] = z[t][u][blank]  - log_norm[t][u]           = log 0(t,u),  eq. (15)
 *   log_label[t][u] = z[t][u][y_{u+1}] - log_norm[t][u]          = log y(t,u),  eq. (14)
 * for 0 <= t < T, 0 <= u <= U; log_label[t][U] = -inf (there is no label U+1).
 * logits: the item's (T', u_stride, V) block, T' >= T, u_stride >= U+1 (the padded batch
 * layout: node (t,u) is at logits + (t*u_stride + u)*V). labels (U). Outputs (T,U+1);
 * log_norm may be NULL. */
ASRDEF void asr_rnnt_lattice(double *log_blank, double *log_label, double *log_norm,
                             const asr_real *logits, const int *labels, int T, int U,
                             int u_stride, int V, int blank);

/* Forward variables, [Graves12] eq. (16), and the total probability, eq. (17):
 *   alpha(t,u) = alpha(t-1,u) 0(t-1,u) + alpha(t,u-1) y(t,u-1),   alpha(1,0) = 1
 *   Pr(y*|x)   = alpha(T,U) 0(T,U)
 * log_alpha (T,U+1) out; log_blank, log_label (T,U+1) from asr_rnnt_lattice. Returns
 * ln Pr(y*|x). T >= 1. */
ASRDEF double asr_rnnt_alpha(double *log_alpha, const double *log_blank, const double *log_label,
                             int T, int U);

/* Backward variables, [Graves12] eq. (18):
 *   beta(t,u) = beta(t+1,u) 0(t,u) + beta(t,u+1) y(t,u),   beta(T,U) = 0(T,U)
 * log_beta (T,U+1) out. Returns ln beta(1,0), which is ln Pr(y*|x) again (the two agree to
 * rounding; the tests check it). T >= 1. */
ASRDEF double asr_rnnt_beta(double *log_beta, const double *log_blank, const double *log_label,
                            int T, int U);

/* ---- 6.2 The loss: three tiers, two contracts -------------------------------------------
 * Every asr_rnnt_loss* function has this signature (so asr_check_rnnt can test any of them,
 * and a student's too):
 *   loss    (N) with reduction NONE, else (1): L_b = -ln Pr(y*_b | x_b), reduced.
 *   grad    (N,T,U+1,V) or NULL: the gradient of the (reduced) loss. It is WRITTEN, not
 *           accumulated (a loss starts the backward pass), and every padded entry
 *           (t >= logit_lengths[b] or u > target_lengths[b]) is set to 0.
 *   logits  (N,T,U+1,V): joint-network outputs (for the _logprobs functions: log-probs).
 *   targets (N,U): labels in 0..V-1, never the blank; entries past target_lengths[b] are
 *           not read (any padding value). May be NULL when U == 0.
 *   logit_lengths (N) in 0..T, target_lengths (N) in 0..U. An item with
 *           logit_lengths[b] == 0 must have target_lengths[b] == 0; its loss is 0 (the empty
 *           alignment emits the empty sequence with probability 1).
 *   work    at least asr_rnnt_loss_workspace_size(T, U, V) bytes.
 * Errors (nothing written): ASR_ERR_INVALID_ARG (NULL, negative size, bad option),
 * ASR_ERR_RANGE (a length or label out of range, a label equal to the blank, U > 0 with
 * T = 0), ASR_ERR_NONFINITE (NaN or inf in a valid region of logits), ASR_ERR_WORKSPACE,
 * ASR_ERR_TOO_LARGE (_naive only). err (may be NULL) gets one line naming the item. */
typedef asr_result (*asr_rnnt_loss_fn)(asr_real *loss, asr_real *grad, const asr_real *logits,
                                       const int *targets, const int *logit_lengths,
                                       const int *target_lengths, int N, int T, int U, int V,
                                       const asr_rnnt_opts *opts, void *work, size_t work_bytes,
                                       asr_error *err);

/* The largest number of alignments asr_rnnt_loss_naive enumerates for one item: an item has
 * C(T+U-1, U) of them (T-1 blanks and U labels in any order, then the final blank), e.g.
 * 92378 for T = U = 10. Bigger items are refused with ASR_ERR_TOO_LARGE. */
#define ASR_RNNT_NAIVE_MAX_PATHS 100000

/* _naive: [Graves12] eq. (1) literally. Every alignment a (a monotone path through the
 * lattice) is enumerated, Pr(a|x) is the product of its transition probabilities (eq. (13)
 * computed afresh at each step), and Pr(y*|x) = sum_a Pr(a|x). The gradient is the
 * definition too: dL/dz[t][u][k] = sum_a Pr(a|x)/Pr(y*|x) * [a visits (t,u)] *
 * (Pr(k|t,u) - [a leaves (t,u) by k]). No alpha, no beta. */
ASRDEF asr_result asr_rnnt_loss_naive(asr_real *loss, asr_real *grad, const asr_real *logits,
                                      const int *targets, const int *logit_lengths,
                                      const int *target_lengths, int N, int T, int U, int V,
                                      const asr_rnnt_opts *opts, void *work, size_t work_bytes,
                                      asr_error *err);
/* _ref: the forward-backward algorithm, eqs. (16)-(18), and the gradient of eqs. (20)-(23)
 * with the softmax folded in (see asr_rnnt_loss_ref's implementation for the derivation). */
ASRDEF asr_result asr_rnnt_loss_ref(asr_real *loss, asr_real *grad, const asr_real *logits,
                                    const int *targets, const int *logit_lengths,
                                    const int *target_lengths, int N, int T, int U, int V,
                                    const asr_rnnt_opts *opts, void *work, size_t work_bytes,
                                    asr_error *err);
/* The fastest built: the same algorithm with the two passes over (T,U+1,V) (the softmax
 * denominators and the gradient) in AVX2 with a polynomial exp; _ref without AVX2 and in
 * the double build. */
ASRDEF asr_result asr_rnnt_loss(asr_real *loss, asr_real *grad, const asr_real *logits,
                                const int *targets, const int *logit_lengths,
                                const int *target_lengths, int N, int T, int U, int V,
                                const asr_rnnt_opts *opts, void *work, size_t work_bytes,
                                asr_error *err);
/* The other contract: `logits` are taken as log-probabilities log Pr(k|t,u) as they are
 * (no log-softmax inside), and grad is dL/d(log Pr(k|t,u)), eq. (20) times Pr(k|t,u):
 *   dL/dlog Pr(k|t,u) = -alpha(t,u) Pr(k|t,u) beta(next) / Pr(y*|x)  for k = blank, y_{u+1}
 * and 0 for every other k. Chain it through asr_log_softmax_backward to get the logits
 * gradient of asr_rnnt_loss_ref. */
ASRDEF asr_result asr_rnnt_loss_logprobs_ref(asr_real *loss, asr_real *grad, const asr_real *logprobs,
                                             const int *targets, const int *logit_lengths,
                                             const int *target_lengths, int N, int T, int U, int V,
                                             const asr_rnnt_opts *opts, void *work,
                                             size_t work_bytes, asr_error *err);
ASRDEF asr_result asr_rnnt_loss_logprobs(asr_real *loss, asr_real *grad, const asr_real *logprobs,
                                         const int *targets, const int *logit_lengths,
                                         const int *target_lengths, int N, int T, int U, int V,
                                         const asr_rnnt_opts *opts, void *work, size_t work_bytes,
                                         asr_error *err);

/* ---- 6.3 The joint network ---------------------------------------------------------------
 *   z_{t,u} = W_out act(W_enc f_t + W_pred g_u + b) + b_out           for 0<=t<T, 0<=u<=U
 * [Graves12] eq. (12) is the special case act = identity, W_enc = W_pred = W_out = I,
 * b = b_out = 0: z = f_t + g_u (the "factored" joint of awni/transducer's tests). Modern
 * recipes (ESPnet, icefall, torchaudio's RNNTJoiner) put a tanh or relu in between so the
 * joint is a one-hidden-layer network. Symbols: f (T,E) transcription (encoder) vectors,
 * g (U+1,P) prediction vectors, hid (T,U+1,H) the saved activations act(.), z (T,U+1,V).
 * NOTE: the (T,U+1,V) output is the memory problem of RNN-T training: see
 * asr_rnnt_joint_loss_rowwise below and docs/rnnt.md. */
typedef enum asr_rnnt_act {
  ASR_RNNT_ACT_TANH = 0,
  ASR_RNNT_ACT_RELU = 1,
  ASR_RNNT_ACT_IDENTITY = 2
} asr_rnnt_act;

typedef struct asr_rnnt_joint {
  int E, P, H, V;              /* encoder dim, prediction dim, hidden dim, vocabulary (+blank) */
  asr_rnnt_act act;
  const asr_real *W_enc;       /* (H,E) */
  const asr_real *W_pred;      /* (H,P) */
  const asr_real *b;           /* (H), or NULL for none */
  const asr_real *W_out;       /* (V,H) */
  const asr_real *b_out;       /* (V), or NULL for none */
} asr_rnnt_joint;

/* Gradient buffers of the joint's parameters, same shapes; any may be NULL (not needed). */
typedef struct asr_rnnt_joint_grad {
  asr_real *W_enc, *W_pred, *b, *W_out, *b_out;
} asr_rnnt_joint_grad;

/* Workspace bytes of asr_rnnt_joint_forward / _backward for T frames and U+1 = U1 rows. */
ASRDEF size_t asr_rnnt_joint_workspace_size(const asr_rnnt_joint *J, int T, int U1);

/* z (T,U1,V) out; hid (T,U1,H) out (saved for backward; may be NULL when no backward
 * follows); f (T,E), g (U1,P) in. */
ASRDEF asr_result asr_rnnt_joint_forward(asr_real *z, asr_real *hid, const asr_real *f,
                                         const asr_real *g, const asr_rnnt_joint *J, int T, int U1,
                                         void *work, size_t work_bytes);

/* Backward of the joint, accumulating (+=): with d = dz (T,U1,V),
 *   dW_out += sum_{t,u} d_{t,u} hid_{t,u}^T      db_out += sum_{t,u} d_{t,u}
 *   e_{t,u}  = (W_out^T d_{t,u}) * act'(.)        (tanh' = 1 - hid^2, relu' = [hid > 0])
 *   df_t    += W_enc^T  sum_u e_{t,u}             dW_enc  += sum_t (sum_u e_{t,u}) f_t^T
 *   dg_u    += W_pred^T sum_t e_{t,u}             dW_pred += sum_u (sum_t e_{t,u}) g_u^T
 *   db      += sum_{t,u} e_{t,u}
 * df (T,E), dg (U1,P) and the fields of dJ may each be NULL. */
ASRDEF asr_result asr_rnnt_joint_backward(asr_real *df, asr_real *dg, const asr_rnnt_joint_grad *dJ,
                                          const asr_real *dz, const asr_real *hid, const asr_real *f,
                                          const asr_real *g, const asr_rnnt_joint *J, int T, int U1,
                                          void *work, size_t work_bytes);

/* Loss and gradient of one utterance through the joint, ONE FRAME ROW AT A TIME, so the
 * (T,U+1,V) logits and the (T,U+1,H) activations never exist: memory O(T U + (U+1)(H+V))
 * instead of O(T U (H+V)). Pass 1 computes row t's logits (U+1,V), keeps only its lattice
 * numbers (eqs. (13)-(15)) and drops the row; alpha and beta run on the (T,U+1) lattice;
 * pass 2 recomputes row t, forms its gradient (as asr_rnnt_loss_ref) and backpropagates it
 * at once through the joint. Twice the joint's forward FLOPs, for a memory that no longer
 * grows with T*U*V. Accumulates (+=) into df (T,E), dg (U+1,P), dJ (each may be NULL);
 * writes -ln Pr(y*|x) to *loss. labels (U); opts->blank and opts->clamp apply
 * (opts->reduction is ignored: one utterance; multiply yourself). */
ASRDEF size_t asr_rnnt_joint_loss_rowwise_workspace_size(const asr_rnnt_joint *J, int T, int U);
ASRDEF asr_result asr_rnnt_joint_loss_rowwise(double *loss, asr_real *df, asr_real *dg,
                                              const asr_rnnt_joint_grad *dJ, const asr_real *f,
                                              const asr_real *g, const asr_rnnt_joint *J,
                                              const int *labels, int T, int U,
                                              const asr_rnnt_opts *opts, void *work,
                                              size_t work_bytes, asr_error *err);

/* ---- 6.4 The prediction network: stateless (embedding + causal conv) -------------------
 * [Graves12] eqs. (2)-(3) use an RNN over yhat = (blank, y_1, ..., y_U). Modern recipes
 * (Ghodsi et al., "RNN-transducer with stateless prediction network", ICASSP 2020; k2/icefall's
 * Decoder) replace it by the last C labels only:
 *   e_u = Emb[yhat_u]                          yhat_0 = blank (the start symbol), (U+1,D)
 *   c_u = sum_{j=0}^{C-1} w[:,j] * e_{u-C+1+j}  depthwise causal conv, e_{<0} = 0 (left pad)
 *   g_u = relu(c_u)                            (U+1,D), the joint's g input (P = D)
 * as icefall's Decoder(vocab_size=V, decoder_dim=D, blank_id, context_size=C): Embedding
 * (padding_idx=blank), Conv1d(D, D, C, groups=D, bias=False) on the left-padded sequence,
 * relu. C = 1 has no conv (c_u = e_u). The LSTM prediction network of eqs. (2)-(8) is the
 * LSTM of section 4.4 run over yhat.
 * NOTE: conv weights are torch's (D,1,C) layout; the blank row of Emb gets no gradient
 * (padding_idx), so it keeps its initial value (0 in torch). */
typedef struct asr_rnnt_stateless {
  int V, D, C, blank;          /* vocabulary (+blank), embedding dim, context size >= 1, blank */
  const asr_real *embedding;   /* (V,D) */
  const asr_real *conv;        /* (D,1,C); ignored (may be NULL) when C == 1 */
} asr_rnnt_stateless;
typedef struct asr_rnnt_stateless_grad {
  asr_real *embedding, *conv;  /* same shapes; NULL = not needed */
} asr_rnnt_stateless_grad;

/* g (U+1,D) out, emb (U+1,D) out (saved for backward, may be NULL), labels (U). */
ASRDEF asr_result asr_rnnt_stateless_forward(asr_real *g, asr_real *emb, const int *labels, int U,
                                             const asr_rnnt_stateless *P);
/* One output for decoding: g (D) from the last C symbols of yhat, context (C) oldest first,
 * -1 for "before the start" (a zero embedding, the left padding). */
ASRDEF asr_result asr_rnnt_stateless_step(asr_real *g, const int *context, const asr_rnnt_stateless *P);
/* Backward, accumulating into dP's buffers: dc = dg * [g > 0];
 *   dconv[d][j] += sum_u dc_u[d] e_{u-C+1+j}[d],   de_{u-C+1+j}[d] += conv[d][j] dc_u[d],
 *   dEmb[yhat_u] += de_u (except the blank's row). work: asr_rnnt_stateless_workspace_size. */
ASRDEF size_t asr_rnnt_stateless_workspace_size(const asr_rnnt_stateless *P, int U);
ASRDEF asr_result asr_rnnt_stateless_backward(const asr_rnnt_stateless_grad *dP, const asr_real *dg,
                                              const asr_real *g, const asr_real *emb,
                                              const int *labels, int U,
                                              const asr_rnnt_stateless *P, void *work,
                                              size_t work_bytes);

/* ---- 6.5 Decoding: greedy and the beam search of [Graves12] section 2.6 -------------------
 * A decoder needs one thing from the model: log Pr(k | t, y) over k (V), the output
 * distribution (eq. (13)) at frame t after the emitted prefix y (n labels). Any model fits
 * this callback; asr_rnnt_model_scorer below is the library's joint + stateless network. */
typedef asr_result (*asr_rnnt_scorer_fn)(void *ctx, asr_real *logp, int t, const int *prefix, int n);

/* The library's transducer as a scorer: f (T,E) encoder output of one utterance, the joint,
 * the stateless prediction network, and scratch of asr_rnnt_model_scratch_size(J, P) bytes. */
typedef struct asr_rnnt_model {
  const asr_rnnt_joint *joint;
  const asr_rnnt_stateless *pred;
  const asr_real *f;           /* (T,E) */
  int T;
  void *scratch;
  size_t scratch_bytes;
} asr_rnnt_model;
ASRDEF size_t asr_rnnt_model_scratch_size(const asr_rnnt_joint *J, const asr_rnnt_stateless *P);
ASRDEF asr_result asr_rnnt_model_scorer(void *model, asr_real *logp, int t, const int *prefix, int n);

/* Greedy: at each frame take the most probable symbol; a label is emitted and the frame
 * is scored again, a blank moves on to the next frame; after max_symbols labels on one
 * frame the decoder moves on anyway (the cap of torchaudio/icefall greedy search: without
 * it a model whose blank never wins loops forever). tokens (max_tokens) out, *n_tokens out,
 * *logp = the log-probability of the alignment taken (every frame closed by its blank, the
 * forced ones included). work: V asr_reals (V * sizeof(asr_real) bytes). */
ASRDEF asr_result asr_rnnt_greedy_decode(int *tokens, int *n_tokens, double *logp, int max_tokens,
                                         asr_rnnt_scorer_fn scorer, void *ctx, int T, int V,
                                         int blank, int max_symbols, void *work, size_t work_bytes);

typedef struct asr_rnnt_beam_opts {
  int beam;                    /* W >= 1. W = 1 runs asr_rnnt_greedy_decode (see the NOTE) */
  int max_symbols;             /* labels one hypothesis may emit on one frame, >= 1 */
  int prefix_merge;            /* 1: the paper's "Pr(y) += sum over prefixes" step */
  int length_norm;             /* 1: return the y of B with the highest ln Pr(y) / |y| (the
                                  paper's last line; |y| = 0 counts as 1); 0: highest ln Pr(y) */
} asr_rnnt_beam_opts;
ASRDEF asr_rnnt_beam_opts asr_rnnt_default_beam_opts(void);   /* W 4, 3 symbols, merge, norm */
ASRDEF size_t asr_rnnt_beam_workspace_size(int V, int max_tokens, const asr_rnnt_beam_opts *o);
/* [Graves12] Algorithm 1 (section 2.6), in log space:
 *   B = {empty}, Pr(empty) = 1
 *   for t = 1..T:
 *     A = B; B = {}
 *     for y in A: Pr(y) += sum_{yhat in pref(y) & A} Pr(yhat) Pr(y | yhat, t)    (prefix merge)
 *     while B has fewer than W elements more probable than the most probable in A:
 *       y* = most probable in A; remove y* from A
 *       Pr(y*) = Pr(y*) Pr(blank | y*, t); add y* to B
 *       for k in Y: Pr(y* + k) = Pr(y*) Pr(k | y*, t); add y* + k to A
 *     remove all but the W most probable from B
 *   return the y in B with the highest log Pr(y) / |y|
 * NOTE: (1) the merge uses each Pr(yhat) as it stood at the start of the frame (updating in
 * place would count the paths through an intermediate prefix twice), and with merging on an
 * extension y* + k that was itself in the frame's starting A is not added again (the merge
 * already counted it). (2) the line "Pr(y* + k) = Pr(y*) Pr(k|y*,t)" uses Pr(y*) before the
 * blank factor of the line above it (the extension does not end the frame). (3) like ESPnet's
 * default beam search, only the W most probable labels extend y*, a hypothesis emits at
 * most max_symbols labels per frame, at most W (max_symbols + 1) hypotheses are popped per
 * frame, and equal sequences reaching B are merged (log-add). (4) with W = 1 Algorithm 1 is
 * a best-first search within each frame and can pick a different path than greedy (e.g.
 * Pr(blank) = 0.3, Pr(a) = 0.35 then Pr(blank|a) = 0.5: 0.3 > 0.175 keeps the empty prefix
 * where greedy emits a); as in ESPnet, beam 1 therefore runs the greedy decoder, so that
 * beam 1 == greedy holds by definition. */
ASRDEF asr_result asr_rnnt_beam_search(int *tokens, int *n_tokens, double *logp, int max_tokens,
                                       asr_rnnt_scorer_fn scorer, void *ctx, int T, int V, int blank,
                                       const asr_rnnt_beam_opts *o, void *work, size_t work_bytes);

/* ========================================================================================
 * 7. Seq2seq
 * ======================================================================================== */

/* ========================================================================================
 * 8. Quantizers
 * ======================================================================================== */

/* Section 8 collects the two quantizers of vq-wav2vec [Baevski20vq] and what surrounds
 * them in training: Gumbel noise, the Gumbel-softmax [Jang17] (soft and straight-through
 * hard), the temperature schedule, code perplexity and the wav2vec 2.0 diversity penalty
 * [Baevski20w2v], the Gumbel quantizer module (linear -> ReLU -> linear -> Gumbel-softmax
 * per group -> codebook lookup), k-means VQ with the straight-through output and the
 * codebook/commitment losses [vdOord17], and Lloyd's algorithm with k-means++ [Arthur07]
 * to fit a codebook offline. docs/vq.md derives every backward pass.
 *
 * References of this section beyond the list on top of the file:
 *   [Baevski20w2v] A. Baevski, H. Zhou, A. Mohamed, M. Auli, "wav2vec 2.0: A Framework for
 *                  Self-Supervised Learning of Speech Representations", NeurIPS 2020,
 *                  arXiv:2006.11477. Eq. (1) Gumbel-softmax per group, eq. (4) diversity.
 *   [vdOord17]     A. van den Oord, O. Vinyals, K. Kavukcuoglu, "Neural Discrete
 *                  Representation Learning" (VQ-VAE), NeurIPS 2017, arXiv:1711.00937.
 *   [Arthur07]     D. Arthur, S. Vassilvitskii, "k-means++: The Advantages of Careful
 *                  Seeding", SODA 2007.
 *   [Lloyd82]      S. Lloyd, "Least squares quantization in PCM", IEEE Trans. IT 28(2), 1982.
 *   [fairseq]      fairseq/modules/gumbel_vector_quantizer.py, kmeans_vector_quantizer.py
 *                  and models/wav2vec/wav2vec2.py: the implementation the papers ran.
 *
 * Shapes used throughout: N vectors (frames), G groups, V entries per group (Gumbel) or
 * K codewords per group (k-means), D = G * E features per vector, E per group. A batch
 * (B,T,D) is N = B*T rows. Logits of G groups are (N,G,V) = N*G rows of V. */

/* ---- 8.1 Gumbel noise
 * [Jang17] eq. (1), the Gumbel-max trick: with g_i ~ Gumbel(0,1) drawn independently,
 *     z = one_hot(argmax_i [g_i + log pi_i])   is a sample of Categorical(pi),
 * and a Gumbel(0,1) draw is the inverse CDF of a uniform draw:
 *     v = -log(-log(u)),   u ~ U(0,1)                          ([Baevski20vq] below eq. (2))
 * symbols: u -> u, v -> v (the paper's v_j / wav2vec 2.0's n_v), pi -> softmax(logits).
 * CLAMP: none, and none is needed. u = 0 or u = 1 (or outside, or NaN) is refused with
 * ASR_ERR_RANGE, naming the index; for every u strictly inside (0,1) the double-precision
 * formula is finite: the extreme representable values give v in [-6.61, 36.7] for double
 * u (u = 4.9e-324 and 1 - 2^-53) and [-4.64, 16.6] for float u (1.4e-45 and 1 - 2^-24).
 * (PyTorch draws -log(E) with E ~ Exp(1), the same distribution; E = -log(u).)
 * asr_gumbel_noise draws u with asr_rng_uniform, whose centred 53-bit value rounds to
 * exactly 1.0 when all 53 bits are ones (probability 2^-53; (2^53 - 1) + 0.5 is a tie
 * that rounds to 2^53); such a draw is discarded and redrawn, so v is in [-3.62, 36.7].
 * NOTE: a double u in (0,1) may round to 0 or 1 when stored as float: compute the noise
 * from the double value (asr_gumbel_from_uniform) rather than from a rounded copy. */
ASRDEF double asr_gumbel_from_uniform(double u);          /* -log(-log(u)); u in (0,1) */
ASRDEF void asr_gumbel_noise(asr_real *v, size_t n, asr_rng *rng);          /* v (n) */
ASRDEF asr_result asr_gumbel_noise_from_uniform(asr_real *v, const asr_real *u, size_t n,
                                                asr_error *err);            /* v, u (n) */

/* ---- 8.2 Temperature schedule
 * [Baevski20w2v] sec. 4.2 and fairseq's GumbelVectorQuantizer.set_num_updates:
 *     tau(step) = max(tau_max * decay^step, tau_min)
 * with tau_max = 2, tau_min = 0.5 (BASE; 0.1 for LARGE), decay = 0.999995 per update: tau
 * reaches tau_min after log(tau_min/tau_max)/log(decay) = 277,258 updates.
 * NOTE: the vq-wav2vec paper itself ([Baevski20vq] sec. 5.2) anneals tau LINEARLY from 2
 * to 0.5 over the first 70% of updates, then holds it; its released code and README use
 * the exponential rule above with (2, 0.5, 0.999995). Both are here:
 *     asr_gumbel_tau_linear: tau = tau_max + (tau_min - tau_max) * min(step/anneal_steps, 1) */
#define ASR_GUMBEL_TAU_MAX 2.0
#define ASR_GUMBEL_TAU_MIN 0.5
#define ASR_GUMBEL_TAU_DECAY 0.999995
ASRDEF double asr_gumbel_tau(double tau_max, double tau_min, double decay, long step);
ASRDEF double asr_gumbel_tau_linear(double tau_max, double tau_min, long step, long anneal_steps);

/* ---- 8.3 Gumbel-softmax, soft and straight-through hard
 * Forward, one row of V logits l with noise v and temperature tau:
 *   [Baevski20vq] eq. (2) (= [Jang17] eq. (2) with log pi_j -> l_j, g_j -> v_j):
 *     p_j = exp((l_j + v_j) / tau) / sum_k exp((l_k + v_k) / tau)
 *   (the paper prints exp(l_j + v_j)/tau; the parentheses above are what [Jang17] and
 *   the code compute.) Soft: y = p. Hard (straight-through, [Jang17] sec. 2.2): the
 *   forward value is the one-hot y = e_i, i = argmax_j p_j (= argmax_j l_j + v_j), "and
 *   in the backward pass, the true gradient of the Gumbel softmax outputs is used".
 * Backward (derived in docs/vq.md), with g = dL/dy:
 *     dL/dl_k = (1/tau) p_k (g_k - sum_j g_j p_j)          (softmax Jacobian over tau)
 *   and this SAME formula is the hard sample's backward. In PyTorch the hard sample is
 *   written  y = (y_hard - p).detach() + p : the forward value is y_hard (the detached
 *   difference cancels p), and since d(detach(.))/d(.) = 0 the backward sees only "+ p":
 *   dL/dl = J_p^T g with g the gradient that arrived at the one-hot y. So the backward
 *   takes no `hard` flag: give it the soft sample p saved by the forward, in both modes.
 * symbols: l -> logits, v -> noise, tau -> tau, p -> p (saved), y -> y, i -> index.
 * Arguments:
 *   y      (n,V) output sample (one-hot if hard)
 *   p      (n,V) the soft sample, saved for the backward (may be y itself when !hard)
 *   index  (n)   argmax_j (l_j + v_j) of each row (first on ties); may be NULL
 *   logits (n,V) l, finite;  noise (n,V) v, finite, or NULL for no noise (then p is
 *          softmax(l / tau) and the hard sample is argmax l: vq-wav2vec's inference)
 *   tau > 0;  hard: 0 or 1;  n >= 0 rows (n = N*G for G groups), V >= 1.
 * Errors (nothing written): ASR_ERR_INVALID_ARG (tau <= 0 or not finite, NULL pointer,
 * n < 0, V < 1), ASR_ERR_NONFINITE (NaN/inf in logits or noise).
 * _naive: the formula literally in double, without the max shift; refuses with
 *         ASR_ERR_TOO_LARGE when it overflows ((l+v)/tau beyond ~709) and when
 *         n * V * V > 4e9 (its backward forms each Jacobian entry).
 * _ref:   shifted by the row max (log-sum-exp), sums in double, backward O(V) per row.
 * fast:   AVX2+FMA (float): 8-wide exp (Cephes-style polynomial, ~2 ulp), row sums in
 *         double; else _ref. Backward accumulates (+=) into grad_logits. */
typedef asr_result (*asr_gumbel_softmax_forward_fn)(asr_real *y, asr_real *p, int *index,
                                                    const asr_real *logits, const asr_real *noise,
                                                    double tau, int hard, int n, int V);
typedef asr_result (*asr_gumbel_softmax_backward_fn)(asr_real *grad_logits, const asr_real *p,
                                                     const asr_real *grad_y, double tau, int n,
                                                     int V);
ASRDEF asr_result asr_gumbel_softmax_forward_naive(asr_real *y, asr_real *p, int *index,
                                                   const asr_real *logits, const asr_real *noise,
                                                   double tau, int hard, int n, int V);
ASRDEF asr_result asr_gumbel_softmax_forward_ref(asr_real *y, asr_real *p, int *index,
                                                 const asr_real *logits, const asr_real *noise,
                                                 double tau, int hard, int n, int V);
ASRDEF asr_result asr_gumbel_softmax_forward(asr_real *y, asr_real *p, int *index,
                                             const asr_real *logits, const asr_real *noise,
                                             double tau, int hard, int n, int V);
ASRDEF asr_result asr_gumbel_softmax_backward_naive(asr_real *grad_logits, const asr_real *p,
                                                    const asr_real *grad_y, double tau, int n, int V);
ASRDEF asr_result asr_gumbel_softmax_backward_ref(asr_real *grad_logits, const asr_real *p,
                                                  const asr_real *grad_y, double tau, int n, int V);
ASRDEF asr_result asr_gumbel_softmax_backward(asr_real *grad_logits, const asr_real *p,
                                              const asr_real *grad_y, double tau, int n, int V);

/* ---- 8.4 Code perplexity and the diversity penalty
 * Code perplexity (fairseq "code_perplexity", a statistic, not differentiable): with
 * q_g(v) = (1/N) #{n : index[n,g] = v}, the fraction of frames that chose entry v,
 *     PPL_code = sum_g exp(-sum_v q_g(v) log(q_g(v) + eps))
 * between G (every frame of a group uses one entry) and G*V (all entries equally used).
 * Returns the sum over groups (fairseq's convention); per_group (G) may be NULL.
 * eps = 0 gives the exact entropy (0 log 0 = 0); fairseq uses eps = 1e-7.
 *
 * Diversity penalty, on the averaged softmax of the logits (no noise, no temperature):
 *     pbar_g(v) = (1/N) sum_n softmax(l_{n,g,:})_v
 *   [Baevski20w2v] eq. (4):  L_d = 1/(GV) sum_g -H(pbar_g) = 1/(GV) sum_g sum_v pbar_gv log pbar_gv
 *   its footnote 2 and fairseq (what was trained):
 *     L_d = (GV - sum_g exp(H(pbar_g))) / (GV),   H(p) = -sum_v p_v log(p_v + eps)
 *   i.e. (GV - prob_perplexity)/(GV): 0 when every group uses all V entries evenly, and
 *   (GV - G)/(GV) = (V - 1)/V when each group collapses to one entry. Both forms have the
 *   same minimiser but not the same gradient; ASR_DIVERSITY_PERPLEXITY (default, fairseq)
 *   or ASR_DIVERSITY_ENTROPY (the paper's eq. (4)). The denominator is GV, not V: with
 *   one group this is (V - perplexity)/V.
 * Backward (docs/vq.md): a_gv = dL/dpbar_gv,
 *     entropy form:     a_gv = (1/GV) (log(pbar_gv + eps) + pbar_gv/(pbar_gv + eps))
 *     perplexity form:  a_gv = (1/GV) exp(H_g) (log(pbar_gv + eps) + pbar_gv/(pbar_gv + eps))
 *   (with eps = 0 the bracket is log pbar_gv + 1)
 *   then dL/dl_{n,g,k} = (1/N) s_k (a_gk - sum_v a_gv s_v),  s = softmax(l_{n,g,:}),
 *   accumulated (+=) times grad_loss. In the entropy form with eps = 0 an entry with
 *   pbar = 0 has s = 0 in every row and contributes 0 (the limit s log pbar -> 0).
 * Arguments: loss (scalar), prob_perplexity (scalar, sum_g exp(H_g); may be NULL),
 *   probs (N,G,V) the softmax s, saved for the backward, avg_probs (G,V) pbar (a
 *   statistic: the backward recomputes pbar in double from probs), logits (N,G,V)
 *   finite, N >= 1, G >= 1, V >= 1, eps >= 0. Backward workspace (2GV doubles):
 *   asr_diversity_workspace_size(G, V); it accumulates grad_loss * dL/dl into grad_logits. */
typedef enum asr_diversity_form {
  ASR_DIVERSITY_PERPLEXITY = 0,   /* (GV - sum_g exp(H_g)) / GV, fairseq / wav2vec 2.0 code */
  ASR_DIVERSITY_ENTROPY = 1       /* (1/GV) sum_g -H_g, [Baevski20w2v] eq. (4) */
} asr_diversity_form;
ASRDEF double asr_code_perplexity(double *per_group, const int *index, int N, int G, int V,
                                  double eps);
ASRDEF asr_result asr_diversity_forward(double *loss, double *prob_perplexity, asr_real *probs,
                                        asr_real *avg_probs, const asr_real *logits, int N, int G,
                                        int V, double eps, asr_diversity_form form);
ASRDEF size_t asr_diversity_workspace_size(int G, int V);
ASRDEF asr_result asr_diversity_backward(asr_real *grad_logits, const asr_real *probs,
                                         double grad_loss, int N, int G, int V, double eps,
                                         asr_diversity_form form, void *work, size_t work_bytes);

/* ---- 8.5 The Gumbel quantizer module [Baevski20vq] sec. 3.1 and 3.3
 *     h = ReLU(z W1^T + b1)                   (N,H)   "a linear layer, followed by a ReLU
 *     l = h W2^T + b2                         (N,G*V)  and another linear which outputs
 *     p_{n,g} = gumbel_softmax(l_{n,g}, v_{n,g}, tau)   logits for the Gumbel softmax"
 *     y_{n,g} = hard ? one_hot(argmax p_{n,g}) : p_{n,g}
 *     q_{n,g} = sum_v y_{n,g,v} e_{g,v}       (E)     the codebook lookup z^ = e_i
 *     q_n = [q_{n,1}, ..., q_{n,G}]           (G*E)   groups concatenated (sec. 3.3)
 * Backward (docs/vq.md), with dq = dL/dq:
 *     dy_{n,g,v} = <e_{g,v}, dq_{n,g}>        for EVERY v (straight-through: the one-hot is
 *                                             treated as p, so all logits get gradient)
 *     de_{g,v}  += sum_n y_{n,g,v} dq_{n,g}   (hard: only the chosen entries move)
 *     dl = gumbel_softmax_backward(p, dy, tau) + dlogits_extra (e.g. the diversity loss)
 *     dW2 += dl^T h, db2 += sum_n dl, dh = (dl W2) * [h > 0], dW1 += dh^T z, db1 += sum_n dh,
 *     dz += dh W1.
 * Parameters follow PyTorch: w1 (H,D) b1 (H) as nn.Linear(D,H); w2 (G*V,H) b2 (G*V);
 * codebook (G,V,E), or (V,E) shared by all groups when cfg->shared (fairseq's
 * combine_groups; its `vars` tensor is (1, G*V, E), the same memory as (G,V,E)).
 * noise (N,G*V) Gumbel draws, or NULL for inference (argmax of the logits, as the paper
 * does "at inference"). Saved for the backward: h (N,H), logits (N,G*V), p (N,G*V), index
 * (N,G). The module composes the fastest paths (asr_gemm, asr_gumbel_softmax_*).
 * NOTE: fairseq's module with weight_proj_depth = 1 is a single linear; vq-wav2vec's
 * --vq-depth 2 is linear -> activation -> linear, as here with ReLU as in the paper. */
typedef struct asr_gumbel_quantizer {
  int in_dim;      /* D: size of z */
  int hidden;      /* H: inner size of the first linear */
  int groups;      /* G */
  int vars;        /* V entries per group */
  int entry_dim;   /* E: size of one codebook entry; the output q has G*E values */
  int shared;      /* 1: one (V,E) codebook for all groups; 0: (G,V,E) */
  int hard;        /* 1: straight-through one-hot (vq-wav2vec training); 0: soft */
  double tau;      /* current temperature (asr_gumbel_tau) */
} asr_gumbel_quantizer;
typedef struct asr_gumbel_quantizer_params {
  asr_real *w1;        /* (H,D) */
  asr_real *b1;        /* (H) */
  asr_real *w2;        /* (G*V,H) */
  asr_real *b2;        /* (G*V) */
  asr_real *codebook;  /* (G,V,E) or (V,E) if shared */
} asr_gumbel_quantizer_params;
/* Element counts of w1, b1, w2, b2, codebook (in that order) into counts[5]. */
ASRDEF asr_result asr_gumbel_quantizer_sizes(const asr_gumbel_quantizer *cfg, size_t counts[5]);
/* PyTorch-like initialisation: weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as
 * nn.Linear, codebook U(0,1) as fairseq (nn.init.uniform_). */
ASRDEF asr_result asr_gumbel_quantizer_init(const asr_gumbel_quantizer_params *w,
                                            const asr_gumbel_quantizer *cfg, asr_rng *rng);
ASRDEF asr_result asr_gumbel_quantizer_forward(asr_real *q, int *index, asr_real *h,
                                               asr_real *logits, asr_real *p, const asr_real *z,
                                               const asr_real *noise,
                                               const asr_gumbel_quantizer_params *w,
                                               const asr_gumbel_quantizer *cfg, int N);
ASRDEF size_t asr_gumbel_quantizer_workspace_size(const asr_gumbel_quantizer *cfg, int N);
/* grad: gradient buffers with the shapes of the parameters, accumulated (+=); any field
 * (and dz) may be NULL. dq (N,G*E); dlogits_extra (N,G*V) or NULL. */
ASRDEF asr_result asr_gumbel_quantizer_backward(asr_real *dz, const asr_gumbel_quantizer_params *grad,
                                                const asr_real *dq, const asr_real *dlogits_extra,
                                                const asr_real *z, const asr_real *h,
                                                const asr_real *p, const int *index,
                                                const asr_gumbel_quantizer_params *w,
                                                const asr_gumbel_quantizer *cfg, int N, void *work,
                                                size_t work_bytes);

/* ---- 8.6 k-means vector quantization [Baevski20vq] sec. 3.2 and 3.3
 * Forward, per vector z (one group's E values) and codebook e (K,E):
 *     i = argmin_j ||z - e_j||_2^2                         (Euclidean distance)
 *     z^ = e_i   ("during the forward pass, we select z^ = e_i")
 * Output zq = z + sg(e_i - z): its value is e_i (written exactly), its gradient w.r.t. z
 * is the identity and w.r.t. the codebook zero: the straight-through estimator of
 * [vdOord17] ("we obtain gradients for the encoder network by back-propagating
 * dL/dz^"); fairseq writes it zq.detach() + (z - z.detach()).
 * Loss, [Baevski20vq] eq. (3) without the wav2vec term:
 *     L = ||sg(z) - z^||^2 + gamma ||z - sg(z^)||^2,     gamma = 0.25
 * as fairseq's KmeansVectorQuantizer computes it: MSELoss(reduction="mean") over all N*D
 * elements of each term,
 *     codebook   = (1/(N D)) sum_{n,d} (z^_{n,d} - z_{n,d})^2    (moves codewords to data)
 *     commitment = (1/(N D)) sum_{n,d} (z_{n,d} - z^_{n,d})^2    (keeps z near its codeword)
 *     total      = codebook + gamma * commitment
 * The two terms have the same VALUE; sg makes their GRADIENTS differ.
 * Backward of  sum(dzq * zq) + dloss * total:
 *     dz[n]     += dzq[n] + dloss * gamma * 2 (z_n - e_{i_n}) / (N D)
 *     de[j]     += dloss * sum_{n : i_n = j} 2 (e_j - z_n) / (N D)
 * Groups: z (N,D) is read as (N,G,E), E = D/G; each group is quantized on its own with
 * codebook (G,K,E), or (K,E) shared by all groups; index (N,G); the loss still averages
 * over all N*D elements, as fairseq's does.
 * NOTE: fairseq stores its k-means codebook as (K,G,E) (`embedding`); transpose it to
 * (G,K,E) (or take [:,0,:] with combine_groups) to use it here.
 * Errors (nothing written): ASR_ERR_SHAPE (D % G != 0, K < 1: empty codebook, N < 0),
 * ASR_ERR_INVALID_ARG (NULL, gamma < 0 or not finite), ASR_ERR_NONFINITE (NaN/inf in z or
 * the codebook), ASR_ERR_WORKSPACE (fast path only).
 * Tiers: _naive the definitions literally (distances with a square root like fairseq's
 *   .norm(), both loss terms summed separately, the codebook gradient as a sum over every
 *   codeword of an indicator); _ref direct distances in double; fast: the distances
 *   ||e_j||^2 - 2 <z, e_j> (+ ||z||^2) from asr_gemm over blocks of 64 rows, then every
 *   codeword within a rounding bound of the best is re-measured directly in double, so
 *   the choice is _ref's (the expansion alone loses digits to cancellation when ||z|| is
 *   large). The backward is O(N D): the fast name calls _ref.
 * loss may be NULL; zq may be NULL; index is required (the backward needs it). */
typedef struct asr_vq_loss {
  double total;        /* codebook + gamma * commitment */
  double codebook;     /* (1/(N D)) sum (sg(z) - z^)^2 */
  double commitment;   /* (1/(N D)) sum (z - sg(z^))^2, before gamma */
} asr_vq_loss;
#define ASR_VQ_GAMMA 0.25
typedef asr_result (*asr_vq_forward_fn)(int *index, asr_real *zq, asr_vq_loss *loss,
                                        const asr_real *z, const asr_real *codebook, int N, int D,
                                        int G, int K, int shared, double gamma, void *work,
                                        size_t work_bytes);
typedef asr_result (*asr_vq_backward_fn)(asr_real *dz, asr_real *dcodebook, const asr_real *dzq,
                                         double dloss, const int *index, const asr_real *z,
                                         const asr_real *codebook, int N, int D, int G, int K,
                                         int shared, double gamma);
ASRDEF size_t asr_vq_workspace_size(int K);   /* bytes for the fast forward (0 is fine for the others) */
ASRDEF asr_result asr_vq_forward_naive(int *index, asr_real *zq, asr_vq_loss *loss,
                                       const asr_real *z, const asr_real *codebook, int N, int D,
                                       int G, int K, int shared, double gamma, void *work,
                                       size_t work_bytes);
ASRDEF asr_result asr_vq_forward_ref(int *index, asr_real *zq, asr_vq_loss *loss,
                                     const asr_real *z, const asr_real *codebook, int N, int D,
                                     int G, int K, int shared, double gamma, void *work,
                                     size_t work_bytes);
ASRDEF asr_result asr_vq_forward(int *index, asr_real *zq, asr_vq_loss *loss, const asr_real *z,
                                 const asr_real *codebook, int N, int D, int G, int K, int shared,
                                 double gamma, void *work, size_t work_bytes);
ASRDEF asr_result asr_vq_backward_naive(asr_real *dz, asr_real *dcodebook, const asr_real *dzq,
                                        double dloss, const int *index, const asr_real *z,
                                        const asr_real *codebook, int N, int D, int G, int K,
                                        int shared, double gamma);
ASRDEF asr_result asr_vq_backward_ref(asr_real *dz, asr_real *dcodebook, const asr_real *dzq,
                                      double dloss, const int *index, const asr_real *z,
                                      const asr_real *codebook, int N, int D, int G, int K,
                                      int shared, double gamma);
ASRDEF asr_result asr_vq_backward(asr_real *dz, asr_real *dcodebook, const asr_real *dzq,
                                  double dloss, const int *index, const asr_real *z,
                                  const asr_real *codebook, int N, int D, int G, int K, int shared,
                                  double gamma);

/* ---- 8.7 Fitting a codebook offline: Lloyd's algorithm [Lloyd82] with k-means++ [Arthur07]
 * Objective:  J(c) = sum_n min_k ||x_n - c_k||^2   (in double)
 * k-means++ seeding: c_1 = a uniformly drawn point; then each next centre is the point
 * x_n drawn with probability D(x_n)^2 / sum_m D(x_m)^2, D = distance to the nearest
 * centre chosen so far (if every D is 0, a uniform draw).
 * Lloyd iteration t: assign every point to its nearest centre (ties: lowest index),
 * record J_t; re-seed empty clusters; move every centre to the mean of its points.
 * Empty clusters: a centre with no points is moved onto the point that is farthest from
 * its own centre among clusters with two or more points, and that point joins it. This
 * lowers J by that distance, so J never increases from one iteration to the next.
 * Stops when no assignment changes (a fixed point), after opts->max_iter iterations, or
 * when the relative decrease (J_{t-1} - J_t) / J_{t-1} < opts->tol.
 * x (N rows, stride ldx >= D): pass x + g*E, D = E, ldx = G*E to fit group g of (N,G*E).
 * asr_kmeans_fit allocates its work (N ints + N doubles + K*D doubles + K ints) through
 * ASR_MALLOC(size, user); codebook (K,D) receives the centres (with ASR_KMEANS_INIT_GIVEN
 * it holds the initial centres on entry); assign (N) may be NULL.
 * Errors: ASR_ERR_SHAPE (K < 1, N < K, D < 1, ldx < D), ASR_ERR_NONFINITE, ASR_ERR_OUT_OF_MEMORY. */
enum { ASR_KMEANS_INIT_PLUSPLUS = 0, ASR_KMEANS_INIT_RANDOM = 1, ASR_KMEANS_INIT_GIVEN = 2 };
typedef struct asr_kmeans_opts {
  int max_iter;        /* 0 picks 100 */
  double tol;          /* 0: iterate to a fixed point (or max_iter) */
  int init;            /* ASR_KMEANS_INIT_*: k-means++ (default), K distinct random points, given */
  int restarts;        /* keep the best of this many seeded runs; 0 picks 1 */
  double *history;     /* (max_iter + 1): J after each assignment step, or NULL */
} asr_kmeans_opts;
typedef struct asr_kmeans_report {
  int iterations;      /* assignment steps of the returned run (history holds that many) */
  int converged;       /* 1: stopped at a fixed point or by tol; 0: hit max_iter */
  int reseeded;        /* empty clusters re-seeded */
  double objective;    /* J of the returned centres with their final assignment */
} asr_kmeans_report;
/* J and the nearest centre of every point (assign (N) may be NULL). */
ASRDEF double asr_kmeans_objective(int *assign, const asr_real *x, int N, int D, int ldx,
                                   const asr_real *codebook, int K);
ASRDEF size_t asr_kmeans_plusplus_workspace_size(int N);
ASRDEF asr_result asr_kmeans_plusplus(asr_real *codebook, const asr_real *x, int N, int D, int ldx,
                                      int K, asr_rng *rng, void *work, size_t work_bytes);
ASRDEF asr_result asr_kmeans_fit(asr_real *codebook, int *assign, asr_kmeans_report *rep,
                                 const asr_real *x, int N, int D, int ldx, int K,
                                 const asr_kmeans_opts *opts, asr_rng *rng, void *user,
                                 asr_error *err);

/* ========================================================================================
 * 9. Training
 * ======================================================================================== */

/* ---- Characters. The toy recipes recognize lower-case English letters, space and the
 * apostrophe. Token 0 is the CTC/RNN-T blank; token k >= 1 is ASR_CHARSET[k]. */
#define ASR_CHARSET "_ 'abcdefghijklmnopqrstuvwxyz"
#define ASR_CHARSET_SIZE 29
/* Normalizes text (ASCII upper case to lower, runs of blanks to one space, no leading or
 * trailing space) and writes its token ids (cap of them at most). Returns the count, or a
 * negative asr_result: ASR_ERR_RANGE for a character outside the set (err names it and
 * its position), ASR_ERR_TOO_LARGE if cap is too small. */
ASRDEF int asr_text_encode(const char *text, int *ids, int cap, asr_error *err);
/* Writes the characters of ids (blank ids are skipped) as a C string, normalized as
 * asr_text_encode normalizes a transcript: a model's space tokens at the start, at the
 * end or after another space are dropped. Returns its length, or -1 if an id is out of
 * range or the text does not fit in cap bytes. */
ASRDEF int asr_text_decode(const int *ids, int n, char *out, size_t cap);

/* ---- Error rates. Levenshtein distance: the fewest substitutions, insertions and
 * deletions turning ref into hyp,
 *     D(i,j) = min(D(i-1,j) + 1, D(i,j-1) + 1, D(i-1,j-1) + [ref_i != hyp_j]),
 * D(i,0) = i, D(0,j) = j, computed one row at a time in work (nh + 1 ints).
 * CER counts characters of the normalized texts; WER counts space-separated words. */
ASRDEF int asr_edit_distance(const int *ref, int nr, const int *hyp, int nh, int *work);
/* Adds the edit distance and the reference length (in characters or words) to *errors
 * and *ref_len. work holds 3 * (strlen(ref) + strlen(hyp) + 2) ints. */
ASRDEF void asr_cer_counts(const char *ref, const char *hyp, int *work, long *errors, long *ref_len);
ASRDEF void asr_wer_counts(const char *ref, const char *hyp, int *work, long *errors, long *ref_len);

/* ---- Parameters: named tensors in one contiguous buffer, with gradients beside them.
 * Names are the PyTorch state_dict keys of the equivalent module, so a checkpoint opens
 * in PyTorch as model.load_state_dict({k: torch.from_numpy(v) for k, v in npz.items()}).
 * Build: asr_params_add() each tensor (the returned index is stable), then
 * asr_params_alloc() makes data and grad (zeroed); asr_params_ptr()/grad_ptr() give the
 * arrays. Non-trained state (BatchNorm running statistics) lives in a second asr_params
 * whose grad is unused. */
typedef struct asr_param {
  char name[96];
  int ndim;
  int64_t shape[4];
  size_t offset, count;        /* in elements, into data/grad */
} asr_param;
typedef struct asr_params {
  int count, cap;
  asr_param *items;
  size_t total;                /* elements over all tensors */
  asr_real *data, *grad;       /* (total) each, after asr_params_alloc */
  void *user;
} asr_params;
ASRDEF void asr_params_init(asr_params *p, void *user);
/* Returns the index of the new tensor, or a negative asr_result. */
ASRDEF int asr_params_add(asr_params *p, const char *name, int ndim, const int64_t *shape);
ASRDEF asr_result asr_params_alloc(asr_params *p);
ASRDEF void asr_params_free(asr_params *p);
ASRDEF asr_real *asr_params_ptr(const asr_params *p, int index);
ASRDEF asr_real *asr_params_grad_ptr(const asr_params *p, int index);
ASRDEF int asr_params_find(const asr_params *p, const char *name);   /* -1 if absent */
ASRDEF void asr_params_zero_grad(asr_params *p);
/* Fills each tensor with uniform values in [-bound, bound], bound = 1/sqrt(fan_in), where
 * fan_in is the product of all dimensions but the first (PyTorch's default for Linear
 * and Conv biases and weights up to the constant); 1-D tensors are left as they are. */
ASRDEF void asr_params_init_uniform(asr_params *p, asr_rng *rng);
/* Checkpoints: every tensor of each store (trained, then buffers; either may be NULL) as
 * a float32 .npz member named by its key, plus a uint8 member "config" holding the given
 * JSON text (NULL for none). Written atomically: the file appears whole or not at all.
 * Loading checks that every tensor is present with its shape (extra members other than
 * "config" are an error naming the key) and returns the config text in a malloc'ed
 * string (*config, may be NULL to ignore; free with ASR_FREE(.., user)). */
ASRDEF asr_result asr_checkpoint_save(const char *path, const asr_params *params,
                                      const asr_params *buffers, const char *config_json,
                                      asr_error *err);
ASRDEF asr_result asr_checkpoint_load(const char *path, asr_params *params, asr_params *buffers,
                                      char **config_json, void *user, asr_error *err);

/* ---- Recipes: tiny end-to-end recognizers built from the sections above.
 * A recipe is a named default config: an ENCODER (features -> (T', E) vectors) and a HEAD
 * (the output layer and its loss and decoders). Each encoder and each head has one
 * layout, one forward and one backward in the implementation; a recipe is one row of a
 * table (asr_model_recipe_name lists them).
 *
 *   "ctc-contextnet"  fbank -> ContextNet [Han20] (C0, then `blocks` residual blocks of
 *                     `layers` depthwise-separable conv + BN + swish layers with SE; the
 *                     first two blocks have stride 2, 4x fewer frames) -> linear -> CTC
 *                     keys: encoder.blocks.{b}.*, output.{weight,bias}
 *   "ctc-conformer"   fbank -> Conv2dSubsampling (4x) -> `blocks` Conformer blocks [Gulati20]
 *                     (ESPnet's EncoderLayer, latest rel-pos) -> after_norm -> linear -> CTC
 *                     keys: ESPnet's ConformerEncoder + CTC state_dict: encoder.embed.*,
 *                     encoder.encoders.{b}.*, encoder.after_norm.*, ctc.ctc_lo.{weight,bias}
 *   "rnnt"            the ctc-conformer encoder -> transducer head [Graves12]: icefall's
 *                     stateless prediction network (decoder.embedding.weight,
 *                     decoder.conv.weight) and joiner (joiner.encoder_proj, joiner.decoder_proj,
 *                     tanh, joiner.output_linear), trained with the RNN-T loss one frame row
 *                     at a time (asr_rnnt_joint_loss_rowwise), decoded greedily or by the
 *                     [Graves12] beam search
 *
 * Features are computed by the model (asr_model_features): `pad_ms` of noise at the
 * recording's background level before and after it (when pad_ms > 0), resampling to the
 * model's rate, Kaldi fbank with `n_mels` bins (other options at their defaults, no
 * dither), then per-utterance mean and variance normalization. Tokens: ASR_CHARSET, blank 0.
 * Parameter names are the state_dict keys of the PyTorch modules in
 * tests/torch/test_recipes.py, so a checkpoint loads there and gives the same outputs. */
#define ASR_MODEL_MAX_BLOCKS 16
typedef enum asr_model_encoder {
  ASR_ENCODER_CONTEXTNET = 0,   /* "contextnet" */
  ASR_ENCODER_CONFORMER = 1     /* "conformer" */
} asr_model_encoder;
typedef enum asr_model_head {
  ASR_HEAD_CTC = 0,             /* "ctc": linear + CTC */
  ASR_HEAD_RNNT = 1             /* "rnnt": stateless prediction network + joiner + RNN-T */
} asr_model_head;
typedef struct asr_model_config {
  char recipe[32];        /* "ctc-contextnet", "ctc-conformer", "rnnt" */
  asr_model_encoder encoder;
  asr_model_head head;
  int sample_rate;        /* 16000 */
  int n_mels;             /* fbank bins, 80 */
  int vocab;              /* ASR_CHARSET_SIZE */
  /* the encoder */
  int channels;           /* ContextNet width C / Conformer d_model D (= the output dim E) */
  int blocks;             /* ContextNet residual blocks after C0 / Conformer blocks */
  int layers;             /* ContextNet: conv layers per residual block */
  int kernel;             /* the depthwise kernel of both, odd */
  int heads;              /* Conformer: attention heads (divides channels) */
  int ff_dim;             /* Conformer: feed-forward units */
  /* the transducer head */
  int pred_dim;           /* decoder_dim: the prediction network's embedding size */
  int context;            /* context_size: labels the prediction network sees, >= 1 */
  int joint_dim;          /* joiner_dim */
  /* the front end */
  int pad_ms;             /* noise before and after every waveform, in ms (0: none); see
                             asr_model_features. Stored in checkpoints when not 0. */
} asr_model_config;

/* The i-th known recipe name (i = 0, 1, ...), NULL past the last. */
ASRDEF const char *asr_model_recipe_name(int i);
/* The defaults of a recipe (ASR_ERR_INVALID_ARG for an unknown name). Every field is
 * filled, also those the recipe's encoder and head do not use. */
ASRDEF asr_result asr_model_config_default(asr_model_config *c, const char *recipe);
/* The config as a JSON object (stored in checkpoints under "config"), and back: the
 * recipe, "encoder" and "head" as names, then the integer fields its encoder and head
 * use. Unknown keys are an error; missing keys keep the recipe's defaults (so a
 * checkpoint written before a field existed still loads). Returns the length written
 * (or needed), like snprintf. */
ASRDEF int asr_model_config_to_json(const asr_model_config *c, char *buf, size_t cap);
ASRDEF asr_result asr_model_config_from_json(asr_model_config *c, const char *json, asr_error *err);

/* Indices of one ContextNet block's tensors in the model's stores (private). */
typedef struct asr__cn_block {
  int cin, cout, layers, stride, residual, se;
  int dw[ASR_CONTEXTNET_MAX_LAYERS], pw[ASR_CONTEXTNET_MAX_LAYERS];
  int bn_w[ASR_CONTEXTNET_MAX_LAYERS], bn_b[ASR_CONTEXTNET_MAX_LAYERS];
  int bn_m[ASR_CONTEXTNET_MAX_LAYERS], bn_v[ASR_CONTEXTNET_MAX_LAYERS];
  int se_w1, se_b1, se_w2, se_b2, res_w, res_bn_w, res_bn_b, res_bn_m, res_bn_v;
} asr__cn_block;

/* Indices of one Conformer block's tensors (private): the two feed-forward modules
 * (w1, b1, w2, b2), the attention (q, k, v, out weight and bias, pos, u, v), the
 * convolution module (pw1 w/b, dw w/b, bn w/b, running mean/var, pw2 w/b), the five
 * layer norms (w, b). */
typedef struct asr__cf_block {
  int ffm[4], ff[4];
  int att[11];
  int conv[10];
  int norm_w[5], norm_b[5];
} asr__cf_block;

typedef struct asr_model {
  asr_model_config cfg;
  asr_params params;      /* trained tensors, with their gradients */
  asr_params buffers;     /* BatchNorm running statistics */
  /* encoder "contextnet" */
  int n_blocks;
  asr__cn_block cn[ASR_MODEL_MAX_BLOCKS];
  /* encoder "conformer": Conv2dSubsampling (conv.0 w/b, conv.2 w/b, out.0 w/b), the
   * blocks, after_norm */
  int sub[6];
  asr__cf_block cf[ASR_MODEL_MAX_BLOCKS];
  int after_w, after_b;
  /* head "ctc": the output linear layer; head "rnnt": joiner.output_linear */
  int out_w, out_b;
  /* head "rnnt": decoder.embedding, decoder.conv (-1 for context 1), joiner.encoder_proj
   * and joiner.decoder_proj (weight, bias) */
  int emb, pconv, enc_w, enc_b, dec_w, dec_b;
  void *user;
} asr_model;

/* Builds the model of a config with freshly initialized parameters (PyTorch's default
 * uniform initialization, from rng; norms gamma 1, beta 0, running var 1; the prediction
 * network's embedding N(0,1) with the blank's row 0, as nn.Embedding with padding_idx). */
ASRDEF asr_result asr_model_create(asr_model *m, const asr_model_config *cfg, asr_rng *rng,
                                   void *user, asr_error *err);
ASRDEF void asr_model_free(asr_model *m);
/* Checkpoints (atomic .npz with the config as JSON); load builds the model from the
 * checkpoint's own config. */
ASRDEF asr_result asr_model_save(const asr_model *m, const char *path, asr_error *err);
ASRDEF asr_result asr_model_load(asr_model *m, const char *path, void *user, asr_error *err);

/* Features of a waveform of n samples at sample_rate Hz in Kaldi's 16-bit scale:
 * feats (asr_model_num_frames(m, n, sample_rate), n_mels).
 * With cfg.pad_ms > 0 the waveform first gets P = round(pad_ms * sample_rate / 1000)
 * samples of Gaussian noise before and after it, at its background level
 * (asr_noise_floor), drawn from an asr_rng with a fixed seed: the features stay a
 * function of the waveform. Recordings trimmed to the speech (the Free Spoken Digit
 * Dataset's are) leave a CTC model at 40 ms frames no room for a fast word's letters
 * ("eight" in 0.23 s is 5 output frames for 5 letters); the padding gives it back. The
 * noise is made at the recording's rate and resampled with it, so it fills the same band. */
ASRDEF int asr_model_num_frames(const asr_model *m, int n, int sample_rate);
ASRDEF size_t asr_model_features_workspace_size(const asr_model *m, int n, int sample_rate);
ASRDEF asr_result asr_model_features(const asr_model *m, asr_real *feats, const asr_real *wave,
                                     int n, int sample_rate, void *work, size_t work_bytes,
                                     asr_error *err);

/* Frames of the encoder output for T input frames (ContextNet: ceil(T/4); Conformer:
 * ((T-1)/2-1)/2, 0 for T < 7), the encoder's subsampling factor (input frames per output
 * frame), the encoder's output size E, and the fewest input frames an utterance needs. */
ASRDEF int asr_model_out_frames(const asr_model *m, int T);
ASRDEF int asr_model_subsampling(const asr_model *m);
ASRDEF int asr_model_encoder_dim(const asr_model *m);
ASRDEF int asr_model_min_frames(const asr_model *m);

/* One training step on a batch: feats (N,T,n_mels) padded, lengths (N), targets (N,S)
 * padded token ids, target_lengths (N). Runs the forward pass in training mode (batch
 * statistics; running statistics updated), the loss, and the backward pass, ADDING the
 * gradient of the batch loss into m->params.grad. *loss receives the batch loss, the
 * mean over the utterances of -ln p(y|x) (CTC or RNN-T); an utterance whose transcript
 * cannot fit its frames counts 0 and gives no gradient (and the call returns
 * ASR_INFEASIBLE). work: asr_model_train_workspace_size(m, N, T, S) bytes. */
ASRDEF size_t asr_model_train_workspace_size(const asr_model *m, int N, int T, int S);
ASRDEF asr_result asr_model_train_step(asr_model *m, double *loss, const asr_real *feats,
                                       const int *lengths, const int *targets,
                                       const int *target_lengths, int N, int T, int S,
                                       void *work, size_t work_bytes, asr_error *err);
/* The same loss in evaluation mode, one value per utterance, losses (N) (+inf where the
 * transcript cannot fit), nothing learned. work: asr_model_train_workspace_size bytes. */
ASRDEF asr_result asr_model_loss(asr_model *m, double *losses, const asr_real *feats,
                                 const int *lengths, const int *targets, const int *target_lengths,
                                 int N, int T, int S, void *work, size_t work_bytes, asr_error *err);

/* Inference (evaluation mode). work: asr_model_infer_workspace_size(m, N, T) bytes.
 * encode: the encoder output enc (N, asr_model_out_frames(m, T), E) and out_lengths (N).
 * logprobs (CTC heads only; ASR_ERR_UNSUPPORTED otherwise): per-frame log-probabilities
 * of the tokens, logprobs (N, asr_model_out_frames(m, T), vocab), and out_lengths (N). */
ASRDEF size_t asr_model_infer_workspace_size(const asr_model *m, int N, int T);
ASRDEF asr_result asr_model_encode(asr_model *m, asr_real *enc, int *out_lengths,
                                   const asr_real *feats, const int *lengths, int N, int T,
                                   void *work, size_t work_bytes, asr_error *err);
ASRDEF asr_result asr_model_logprobs(asr_model *m, asr_real *logprobs, int *out_lengths,
                                     const asr_real *feats, const int *lengths, int N, int T,
                                     void *work, size_t work_bytes, asr_error *err);

/* Transcribes one utterance, feats (T, n_mels), with the head's decoder: beam 1 greedy
 * (CTC: best path; RNN-T: asr_rnnt_greedy_decode), beam > 1 the beam search (CTC: prefix
 * beam search; RNN-T: [Graves12] Algorithm 1). tokens (max_tokens) out, *n_tokens their
 * count (ASR_ERR_TOO_LARGE if more than max_tokens). starts, ends (max_tokens each, may
 * be NULL): the output frames where each token begins and ends (inclusive): CTC: its run
 * in the best path (for beam > 1 in the Viterbi path of the beam's text, asr_ctc_align);
 * RNN-T: the frame that emits it (start = end) in the most probable alignment of the
 * decoded text on its transducer lattice ([Graves12] eq. (16) with max for the sum).
 * RNN-T greedy decoding emits at most 3 labels per frame (asr_rnnt_default_beam_opts).
 * Evaluation mode. work: asr_model_decode_workspace_size(m, T, beam) bytes. */
ASRDEF size_t asr_model_decode_workspace_size(const asr_model *m, int T, int beam);
ASRDEF asr_result asr_model_decode(asr_model *m, int *tokens, int *n_tokens, int *starts,
                                   int *ends, int max_tokens, const asr_real *feats, int T,
                                   int beam, void *work, size_t work_bytes, asr_error *err);

/* ========================================================================================
 * 10. Checkers
 * ======================================================================================== */

/* ---------------------------------------------------------------------------------------
 * 10.1 Features checkers
 * --------------------------------------------------------------------------------------- */

/* asr_check_fbank - the conformance cases of a filterbank implementation `impl` (any
 * function with asr_fbank's signature: yours, or asr_fbank_naive/_ref/asr_fbank).
 * Draws random signals (white noise, sums of sinusoids with a DC offset, silence with a
 * click; 0 to ~4000 samples, so also shorter than one frame) and random option sets
 * (every window type, snip_edges both ways, energy raw or windowed, first or last,
 * power or magnitude, log or linear, FFT sizes that are not powers of two, pre-emphasis
 * and DC removal off, dither with a shared seed, negative high_freq, 8/16/22.05 kHz,
 * subtract_mean), runs impl, asr_fbank_naive and asr_fbank_ref on each and compares
 * impl with both. Error of a case: the largest |a - b| over log outputs (log-mel,
 * log-energy) and |a - b| / max_row |b| over linear mel energies. A case passes when
 * its error is <= tol; tol = 0 picks 1e-4 for float (a few float roundings of values
 * up to ~40: 1e-5; room for a float FFT on these well-conditioned signals) or 1e-9 for
 * double. `cases` = 0 picks 48. Each case is reported through rep (its log hook, if
 * any, gets one line per case). Returns ASR_OK, or an error if a buffer could not be
 * allocated (the only allocation in section 3, through ASR_MALLOC). */
ASRDEF asr_result asr_check_fbank(asr_fbank_fn impl, const char *name, uint64_t seed, int cases,
                                  double tol, asr_check_report *rep);

/* ---------------------------------------------------------------------------------------
 * 10.2 Layers checkers: conv1d, depthwise-separable conv, SE
 * --------------------------------------------------------------------------------------- */

/* The checkers of this subsection work as those of 10.3 (see the comment there; the
 * tolerances are the same): asr_check_<layer>(fwd, bwd, seed, rep) runs
 *   - agreement with the _naive tier (forward output and every gradient; relative to
 *     the largest entry of each array, 1e-9 in double, 2e-4 in float),
 *   - finite differences of sum(W * y) w.r.t. the input and every parameter against
 *     the backward under test (asr_gradcheck, 1e-6 in double, 5e-2 in float),
 *   - padding invariance: each item alone and unpadded gives the valid outputs and the
 *     gradients it gets inside a padded batch whose padding holds garbage; padded
 *     outputs are 0 and padded inputs get no gradient,
 *   - refusal of bad arguments (a length > T_in; a kernel wider than the padded input)
 *     with a negative result and nothing else,
 * on stride, padding, dilation and groups combinations, with and without lengths.
 * fwd or bwd may be NULL (then only the other one is checked; bwd checks use the
 * library's own forward). rep is accumulated into (zero it first). Returns ASR_OK when
 * the checker could run, or ASR_ERR_OUT_OF_MEMORY.
 * asr_gradcheck_<layer>() is the finite-difference case of one random instance. */
ASRDEF asr_result asr_check_conv1d(asr_conv1d_forward_fn fwd, asr_conv1d_backward_fn bwd,
                                   uint64_t seed, asr_check_report *rep);
/* Objective sum(W * y) of one random instance with sizes d (and lengths if with_lengths:
 * item n has T_in - n mod (T_in + 1) frames); checks x, w and b. */
ASRDEF asr_result asr_gradcheck_conv1d(asr_conv1d_forward_fn fwd, asr_conv1d_backward_fn bwd,
                                       const asr_conv1d_dims *d, int with_lengths,
                                       uint64_t seed, asr_gradcheck_report *report);
ASRDEF asr_result asr_check_dwsep_conv1d(asr_dwsep_conv1d_forward_fn fwd,
                                         asr_dwsep_conv1d_backward_fn bwd, uint64_t seed,
                                         asr_check_report *rep);
/* d as for asr_dwsep_conv1d_forward (groups = C_in); checks x and the four parameters. */
ASRDEF asr_result asr_gradcheck_dwsep_conv1d(asr_dwsep_conv1d_forward_fn fwd,
                                             asr_dwsep_conv1d_backward_fn bwd,
                                             const asr_conv1d_dims *d, int with_lengths,
                                             uint64_t seed, asr_gradcheck_report *report);
ASRDEF asr_result asr_check_se(asr_se_forward_fn fwd, asr_se_backward_fn bwd, uint64_t seed,
                               asr_check_report *rep);
/* N items of T frames (lengths T, T-1, ..., at least 1 if with_lengths), C channels, R
 * hidden units; checks x, fc1.weight/bias and fc2.weight/bias. */
ASRDEF asr_result asr_gradcheck_se(asr_se_forward_fn fwd, asr_se_backward_fn bwd, int N, int C, int R,
                                   int T, int with_lengths, uint64_t seed,
                                   asr_gradcheck_report *report);
/* Objective sum(W * y) of one random ContextNet block with sizes cfg (lengths T, T-1, ...
 * if with_lengths; BN mode cfg->training); checks x and every parameter of every layer,
 * the SE and the residual projection. */
typedef asr_result (*asr_contextnet_block_forward_fn)(asr_real *y, void *saved, size_t saved_bytes,
                                                      const asr_real *x,
                                                      const asr_contextnet_block_params *p,
                                                      const int *lengths,
                                                      const asr_contextnet_block_config *cfg,
                                                      void *work, size_t work_bytes);
typedef asr_result (*asr_contextnet_block_backward_fn)(asr_real *dx,
                                                       const asr_contextnet_block_grads *g,
                                                       const asr_real *dy, const void *saved,
                                                       size_t saved_bytes, const asr_real *x,
                                                       const asr_contextnet_block_params *p,
                                                       const int *lengths,
                                                       const asr_contextnet_block_config *cfg,
                                                       void *work, size_t work_bytes);
ASRDEF asr_result asr_gradcheck_contextnet_block(asr_contextnet_block_forward_fn fwd,
                                                 asr_contextnet_block_backward_fn bwd,
                                                 const asr_contextnet_block_config *cfg,
                                                 int with_lengths, uint64_t seed,
                                                 asr_gradcheck_report *report);

/* ---------------------------------------------------------------------------------------
 * 10.3 Conformer, LSTM and attention checkers
 * --------------------------------------------------------------------------------------- */

/* How the conformance checkers of this subsection work. Each asr_check_<layer>() takes
 * the forward and backward functions under test (any function with the signature of
 * the library's own, e.g. a student's) and runs its cases, one line each through
 * rep->log:
 *   - agreement with the _naive tier (the definition written out) on small random
 *     cases, forward outputs and every gradient (tolerance 1e-9 in the double build,
 *     2e-4 in float, relative to the largest entry of each array, or absolute when
 *     that entry is below 1);
 *   - finite differences: asr_gradcheck() of sum(W * outputs) w.r.t. every input and
 *     parameter, against the backward under test (tolerance 1e-6 in double, 5e-2 in
 *     float, where differences of rounded values cannot do better);
 *   - padding invariance: each item computed alone, unpadded, gives the outputs and
 *     gradients it gets inside a padded batch, and the padded outputs are 0;
 *   - refusal of bad arguments (a length out of range) with a negative result.
 * The function under test gets workspaces of the size the library's own
 * *_workspace_size() asks for. rep is accumulated into (zero it first). Returns ASR_OK
 * when the checker itself could run (then rep->failed counts the failures), or
 * ASR_ERR_OUT_OF_MEMORY.
 * The asr_gradcheck_<layer>() functions are the finite-difference case alone on one
 * random instance (drawn from seed), for `asrtool gradcheck` and the tests. */

/* ---- LSTM */
typedef asr_result (*asr_lstm_forward_fn)(asr_real *y, int ldy, asr_real *h_n, asr_real *c_n,
                                          asr_real *gates, asr_real *cell, const asr_real *x,
                                          const asr_real *h0, const asr_real *c0,
                                          const asr_lstm_params *p, int N, int T, int I, int H,
                                          const int *lengths, int reverse, void *work,
                                          size_t work_bytes);
typedef asr_result (*asr_lstm_backward_fn)(asr_real *dx, asr_real *dh0, asr_real *dc0,
                                           const asr_lstm_grads *g, const asr_real *dy, int lddy,
                                           const asr_real *dh_n, const asr_real *dc_n,
                                           const asr_real *y, int ldy, const asr_real *gates,
                                           const asr_real *cell, const asr_real *x,
                                           const asr_real *h0, const asr_real *c0,
                                           const asr_lstm_params *p, int N, int T, int I, int H,
                                           const int *lengths, int reverse, void *work,
                                           size_t work_bytes);
ASRDEF asr_result asr_check_lstm(asr_lstm_forward_fn fwd, asr_lstm_backward_fn bwd,
                                 uint64_t seed, asr_check_report *rep);
/* Objective sum(Wy*y) + sum(Wh*h_n) + sum(Wc*c_n) of a (N,T,I)->(N,T,H) LSTM with random
 * weights, inputs, initial state and lengths (if with_lengths, item b has length
 * T - b mod (T+1), so one item may be empty); checks x, h0, c0 and all four weights. */
ASRDEF asr_result asr_gradcheck_lstm(asr_lstm_forward_fn fwd, asr_lstm_backward_fn bwd, int N,
                                     int T, int I, int H, int reverse, int with_lengths,
                                     uint64_t seed, asr_gradcheck_report *report);


/* ---- attention (dot, additive, location-aware) */
typedef asr_result (*asr_attention_forward_fn)(asr_real *context, asr_real *alpha, asr_real *act,
                                               asr_real *feat, const asr_real *enc,
                                               const int *lengths, const asr_real *query,
                                               const asr_real *prev, const asr_attention_params *p,
                                               const asr_attention_config *cfg, int N, int T,
                                               void *work, size_t work_bytes);
typedef asr_result (*asr_attention_backward_fn)(asr_real *d_enc, asr_real *d_query, asr_real *d_prev,
                                                const asr_attention_grads *g,
                                                const asr_real *d_context, const asr_real *d_alpha,
                                                const asr_real *alpha, const asr_real *act,
                                                const asr_real *feat, const asr_real *enc,
                                                const int *lengths, const asr_real *query,
                                                const asr_real *prev, const asr_attention_params *p,
                                                const asr_attention_config *cfg, int N, int T,
                                                void *work, size_t work_bytes);
/* Runs the cases for each of the three types. */
ASRDEF asr_result asr_check_attention(asr_attention_forward_fn fwd, asr_attention_backward_fn bwd,
                                      uint64_t seed, asr_check_report *rep);
/* Objective sum(Wc*context) + sum(Wa*alpha) of one random instance of `type` with
 * N items of T frames (lengths T, T-1, ..., at least 1), E = 5, Dq = 4 (5 for dot),
 * A = 6, C = 3, F = 2, scaling 2; checks enc, query, prev and every weight. */
ASRDEF asr_result asr_gradcheck_attention(asr_attention_forward_fn fwd,
                                          asr_attention_backward_fn bwd, asr_attention_type type,
                                          int N, int T, uint64_t seed,
                                          asr_gradcheck_report *report);


/* ---- relative-position multi-head self-attention (both ESPnet variants) */
typedef asr_result (*asr_rel_mhsa_forward_fn)(asr_real *y, const asr_rel_mhsa_saved *s,
                                              const asr_real *x, const asr_real *pos_emb,
                                              const int *lengths, const asr_rel_mhsa_params *p,
                                              int N, int T, int D, int H, asr_rel_pos_type type,
                                              void *work, size_t work_bytes);
typedef asr_result (*asr_rel_mhsa_backward_fn)(asr_real *dx, asr_real *d_pos_emb,
                                               const asr_rel_mhsa_grads *g, const asr_real *dy,
                                               const asr_rel_mhsa_saved *s, const asr_real *x,
                                               const asr_real *pos_emb, const int *lengths,
                                               const asr_rel_mhsa_params *p, int N, int T, int D,
                                               int H, asr_rel_pos_type type, void *work,
                                               size_t work_bytes);
/* Cases for both variants: agreement with _naive (forward, every gradient), finite
 * differences, padding invariance (the padding's contents never matter; for the latest
 * variant an item alone, unpadded, also gives its row of the batch), and refusal of
 * D % H != 0 and of a length past T. */
ASRDEF asr_result asr_check_rel_pos_mhsa(asr_rel_mhsa_forward_fn fwd, asr_rel_mhsa_backward_fn bwd,
                                         uint64_t seed, asr_check_report *rep);
/* Objective sum(W*y) of one random instance, items of lengths T, T-1, ... (at least 1),
 * pos_emb from asr_rel_pos_encoding(type, max_len 5000); checks x, pos_emb and all 11
 * weights (linear_q/k/v/out weight and bias, linear_pos.weight, pos_bias_u, pos_bias_v). */
ASRDEF asr_result asr_gradcheck_rel_pos_mhsa(asr_rel_mhsa_forward_fn fwd,
                                             asr_rel_mhsa_backward_fn bwd, asr_rel_pos_type type,
                                             int N, int T, int D, int H, uint64_t seed,
                                             asr_gradcheck_report *report);

/* ---- Conv2dSubsampling: finite differences of the library's own forward/backward,
 * objective sum(W*y), items of lengths T, T-3, T-6, ... (at least 7); checks x and the
 * six weights. */
ASRDEF asr_result asr_gradcheck_conv2d_subsampling(int N, int T, int F, int D, uint64_t seed,
                                                   asr_gradcheck_report *report);


/* ---- Conformer modules and block: finite differences of the library's own tiers
 * (fast = 0: _ref, 1: unsuffixed), objective sum(W*y), items of lengths T, T-1, ... (at
 * least 1), every input and parameter (for the block: x, pos_emb and all of
 * ESPnet's EncoderLayer weights). training = 1 uses batch statistics in the conv
 * module's batch norm. D 8, 2 heads, F 12, kernel 5. */
ASRDEF asr_result asr_gradcheck_conformer_ff(int fast, uint64_t seed, asr_gradcheck_report *report);
ASRDEF asr_result asr_gradcheck_conformer_conv(int fast, int training, int N, int T, uint64_t seed,
                                               asr_gradcheck_report *report);
ASRDEF asr_result asr_gradcheck_conformer_block(int fast, asr_rel_pos_type type, int training, int N,
                                                int T, uint64_t seed, asr_gradcheck_report *report);

/* ---------------------------------------------------------------------------------------
 * 10.4 CTC checkers
 * --------------------------------------------------------------------------------------- */

/* Published CTC test cases, embedded so that the checker works without any data files.
 * Each keeps the upstream layout (see `time_major` and `probs`) and cites its source;
 * tests/test_ctc.c checks that these numbers equal ../shared/data/known_answers/
 * ctc_rnnt_known_answers.json whenever that file is present. */
typedef struct asr_ctc_known_answer {
  const char *name;
  const char *source;
  int N, T, V, S, blank;
  const int *targets;            /* (N,S) padded with -1 */
  const int *input_lengths;      /* (N) */
  const int *target_lengths;     /* (N) */
  const double *activations;     /* (T,N,V) if time_major else (N,T,V) */
  int time_major;
  int probs;                     /* 1: activations are probabilities, logits = ln(probs) */
  const double *expected_loss;   /* (N) -ln p(l|x) per item */
  const double *expected_grad;   /* d(sum of losses)/d(logits), same layout as
                                    activations; NULL when nothing was published */
  double loss_tol, grad_tol;     /* absolute, with the reason in `note` */
  const char *note;
} asr_ctc_known_answer;
ASRDEF const asr_ctc_known_answer *asr_ctc_known_answers(int *count);

/* asr_check_ctc - runs the conformance cases on `impl`, any function with the
 * asr_ctc_loss_fn signature: the library's tiers or a student's own.
 *   logprobs_contract = 0: impl takes logits, its gradient is w.r.t. logits (asr_ctc_loss*)
 *   logprobs_contract = 1: impl takes log-probabilities and returns -gamma
 *                          (asr_ctc_loss_logprobs*)
 * The cases (one report line each):
 *   tiny/...     every labelling with S <= 3 over V = 2..4 (blank first and last, so with
 *                repeats) for every T <= 6, as ragged batches, against _naive (the
 *                enumeration of eq. (3)), with reductions none/sum/mean and zero_infinity
 *   random/...   random ragged batches (T <= 60, V <= 12, S <= 12, random blank, some
 *                items infeasible) against _ref, every reduction, zero_infinity
 *   long         T = 2000, S = 60: a finite loss (no underflow) equal to _ref's
 *   gradcheck/.. fourth-order central differences (asr_gradcheck) of each reduction
 *   known/...    the published warp-ctc cases (asr_ctc_known_answers)
 *   infeasible   T < min frames: ASR_INFEASIBLE, +inf (or 0 with zero_infinity), zero
 *                gradient, and the other items of the batch unaffected
 *   badinput/... each invalid argument: a negative result and nothing written
 *   workspace    one byte short: ASR_ERR_WORKSPACE
 * Tolerances: against _naive and _ref 1e-10 (double build) or 1e-5 (float build),
 * relative to max(1, |loss|) for losses and absolute for gradients; finite differences
 * 1e-6 (double) or 5e-2 (float) relative error as asr_gradcheck measures it; known
 * answers as each case states. report->worst is the largest error / tolerance ratio
 * (pass <= 1). An impl may refuse a case with ASR_ERR_TOO_LARGE except the tiny ones
 * (as _naive does): that case is logged as skipped and not counted.
 * Allocates its buffers with ASR_MALLOC. Returns ASR_OK when the cases could run (read
 * report->failed), ASR_ERR_OUT_OF_MEMORY otherwise. */
ASRDEF asr_result asr_check_ctc(asr_ctc_loss_fn impl, int logprobs_contract, uint64_t seed,
                                asr_check_report *report);

/* ---------------------------------------------------------------------------------------
 * 10.5 RNN-T checkers
 * --------------------------------------------------------------------------------------- */

/* The published RNN-T cases, embedded so that no data folder is needed. Each cites where
 * its numbers were printed; tests/test_rnnt.c checks that they equal
 * ../shared/data/known_answers/ctc_rnnt_known_answers.json when that file is present. */
typedef struct asr_rnnt_known_case {
  const char *name;             /* the case's key in ctc_rnnt_known_answers.json */
  const char *source;           /* where the numbers were published, and the licence */
  int N, T, U, V, blank;        /* logits (N,T,U+1,V); U is the padded target length */
  const int *targets;           /* (N,U) */
  const int *logit_lengths;     /* (N) */
  const int *target_lengths;    /* (N) */
  const double *logits;         /* (N,T,U+1,V), or NULL for the factored case */
  const double *emissions;      /* factored case (N = 1): f (T,V); logits[t][u] = f_t + g_u */
  const double *predictions;    /* factored case: g (U+1,V) */
  const double *cost;           /* (N) -ln Pr(y*|x) per item */
  const double *grad_logits;    /* (N,T,U+1,V) dL/dlogits, or NULL */
  const double *grad_logprobs;  /* (N,T,U+1,V) dL/dlog-probs, or NULL */
  const double *grad_emissions; /* factored case: (T,V) dL/df = sum_u dL/dlogits[t][u] */
  const double *grad_predictions; /* factored case: (U+1,V) dL/dg = sum_t dL/dlogits[t][u] */
  double tol_cost, tol_grad;    /* absolute tolerances from the printed precision */
} asr_rnnt_known_case;
ASRDEF const asr_rnnt_known_case *asr_rnnt_known_cases(int *count);

/* asr_check_rnnt - the RNN-T conformance cases for any function with the asr_rnnt_loss_fn
 * signature (the library's three tiers, or a student's):
 *   1. every tiny lattice (T = 1..4, U = 0..3, blank first and last) against
 *      asr_rnnt_loss_naive, the sum over every alignment;
 *   2. random ragged batches (every reduction, a clamp, an empty item, any blank) against
 *      asr_rnnt_loss_ref, with the padded gradient entries checked to be 0;
 *   3. finite differences of the loss (asr_gradcheck) against the returned gradient;
 *   4. the published cases of asr_rnnt_known_cases() (costs and gradients), the factored
 *      awni/transducer case through asr_rnnt_joint_forward/backward.
 * Tolerances: 1e-10 in the double build for 1-2 (the same sums in another order), 1e-5 in
 * float (asr_real rounding of losses up to ~10 and of unit-size gradients, with room for an
 * implementation that sums in float); 3. uses asr_gradcheck's tolerances (1e-6 relative in
 * double, 5e-2 in float); 4. the printed precision of each case.
 * rep gets one line per case; returns ASR_OK when it could run (failures are counted in
 * rep), ASR_ERR_OUT_OF_MEMORY otherwise. */
ASRDEF asr_result asr_check_rnnt(asr_rnnt_loss_fn impl, uint64_t seed, asr_check_report *rep);

/* ---------------------------------------------------------------------------------------
 * 10.6 Quantizers checkers
 * --------------------------------------------------------------------------------------- */

/* The conformance cases of section 8, for any function with the signature of a tier:
 *     asr_check_report rep = {0};
 *     asr_check_gumbel_softmax(my_forward, my_backward, &rep);   (either may be NULL)
 * Each case is one line through rep->log (if set); rep->failed counts the failures and
 * rep->worst holds the largest error relative to its tolerance (<= 1 passes).
 * The expected values come from code inside the checker that shares nothing with the
 * tiers: the Gumbel-softmax as p_j = 1 / sum_k exp(s_k - s_j) (a different formula that
 * cannot overflow), its backward from the full Jacobian, the nearest codeword by brute
 * force, the VQ gradients from their closed forms, and finite differences (asr_gradcheck)
 * of the function's own forward. Tolerances are tight in the double build (1e-10 relative
 * to the values' scale) and float-sized in the float build (1e-5; 2e-2 for finite
 * differences, which carry the rounding error of f over h).
 * asr_check_gumbel_softmax: soft and hard samples (n, V, tau) from (1,1,1) to (3,320,0.1),
 *   the hard one-hot at argmax(l + v), p identical in both modes, the backward against
 *   the Jacobian, accumulation, finite differences, tau -> 0, and refusals (tau <= 0,
 *   NaN, V = 0) that leave the outputs untouched.
 * asr_check_vq: G = 1..3, shared and separate codebooks: indices, zq = e_i, both loss
 *   terms, both gradients, finite differences of each loss term with its stop-gradient
 *   argument held, shared == separate with equal codebooks, and refusals (D % G, K = 0,
 *   NaN, gamma < 0, index out of range).
 * asr_check_quantizer_module: the Gumbel quantizer module and the diversity penalty
 *   against finite differences (soft samples, fixed noise), and the straight-through
 *   module's gradients equal to the soft module's except for the codebook. */
ASRDEF void asr_check_gumbel_softmax(asr_gumbel_softmax_forward_fn fwd, asr_gumbel_softmax_backward_fn bwd,
                                     asr_check_report *rep);
ASRDEF void asr_check_vq(asr_vq_forward_fn fwd, asr_vq_backward_fn bwd, asr_check_report *rep);
ASRDEF void asr_check_quantizer_module(asr_check_report *rep);

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

/* A bump allocator over a caller's workspace, for functions that cut one buffer into
 * many pieces. With base == NULL it only counts, which is how a *_workspace_size()
 * function can measure exactly the layout its kernel uses: lay the pieces out with
 * base NULL and return `used`. Pieces are 64-byte aligned; an overflowing size makes
 * `used` SIZE_MAX, so the workspace check fails. */
typedef struct asr__bump {
  unsigned char *base;
  size_t cap, used;
} asr__bump;
ASR__PRIVATE void *asr__bump_take(asr__bump *a, size_t bytes) {
  size_t off = (a->used + 63) & ~(size_t)63;
  if (off < a->used || off + bytes < off) {
    a->used = (size_t)-1;
    return NULL;
  }
  a->used = off + bytes;
  return a->base && a->used <= a->cap ? a->base + off : NULL;
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
/* Prefixes an error message with the file's path. */
ASR__PRIVATE asr_result asr__fail_path(asr_error *err, asr_result r, const char *path) {
  if (r != ASR_OK && err) {
    char m[sizeof err->msg];
    snprintf(m, sizeof m, "%s", err->msg);
    asr__fail(err, r, "%s: %s", path, m);
  }
  return r;
}

/* Reading sizes the buffer once: fseek/ftell give the size of a regular file, and one
 * allocation of size + 1 bytes takes it whole (the extra byte lets fread see the end
 * without growing). Streams that cannot seek (pipes) and files that grow while being read
 * fall back to a buffer that doubles. One byte is read before trusting the size, so a
 * directory (whose "size" may be anything) fails as a read error, not as a huge malloc.
 * asr__file_size returns the size of an open file, -1 when it cannot seek (stream it) or
 * -2 when it cannot be read; the next byte read is the file's first. */
ASR__PRIVATE long asr__file_size(FILE *fp) {
  long size = -1;
  int c;
  if (fseek(fp, 0, SEEK_END) == 0) {
    size = ftell(fp);
    if (fseek(fp, 0, SEEK_SET) != 0) return -2;
  }
  clearerr(fp);                                   /* a pipe: streamed from where it is */
  c = fgetc(fp);
  if (c == EOF) return ferror(fp) ? -2 : 0;       /* -2: unreadable (a directory?) */
  if (ungetc(c, fp) == EOF) return -2;
  return size;                                    /* -1: unknown, stream it */
}

ASR__PRIVATE asr_result asr__read_stream(FILE *fp, size_t first_cap, unsigned char **data,
                                         size_t *len, void *user, asr_error *err) {
  unsigned char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    size_t got;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : (first_cap ? first_cap : 65536);
      unsigned char *nb;
      if (ncap < 65536 && cap) ncap = 65536;
      nb = ncap > cap ? ASR__ALLOC(unsigned char, ncap, user) : NULL;
      if (!nb) {
        ASR_FREE(buf, user);
        return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
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
    return asr__fail(err, ASR_ERR_IO, "read error (is it a directory?)");
  }
  *data = buf;
  *len = n;
  return ASR_OK;
}

ASRDEF asr_result asr_read_file(const char *path, unsigned char **data, size_t *len, void *user,
                                asr_error *err) {
  FILE *fp;
  long size;
  asr_result r;
  *data = NULL;
  *len = 0;
  fp = fopen(path, "rb");
  if (!fp) return asr__fail(err, ASR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size = asr__file_size(fp);
  if (size == -2) {
    fclose(fp);
    return asr__fail(err, ASR_ERR_IO, "%s: read error (is it a directory?)", path);
  }
  /* size + 1: the whole file in the first fread, its end seen by the second */
  r = asr__read_stream(fp, size >= 0 ? (size_t)size + 1 : 0, data, len, user, err);
  fclose(fp);
  return asr__fail_path(err, r, path);
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

/* The end of an atomic write: close the temporary file and rename it over `path` if
 * everything went well (ok), else remove it. */
ASR__PRIVATE asr_result asr__close_temp(FILE *fp, const char *tmp, const char *path, int ok,
                                        asr_error *err) {
  int e = errno;
  if (fclose(fp) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (ok && rename(tmp, path) != 0) {
    ok = 0;
    e = errno;
  }
  if (!ok) {
    remove(tmp);
    return asr__fail(err, ASR_ERR_IO, "%s: cannot write: %s", path, strerror(e));
  }
  return ASR_OK;
}

ASRDEF asr_result asr_write_file_atomic(const char *path, const void *data, size_t len,
                                        asr_error *err) {
  char tmp[4096];
  FILE *fp = asr__open_temp(path, tmp, sizeof tmp);
  if (!fp) return asr__fail(err, ASR_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  return asr__close_temp(fp, tmp, path, len == 0 || fwrite(data, 1, len, fp) == len, err);
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

/* What a .npy header says: the prefix (magic, version, header length) and the dict. */
typedef struct asr__npy_info {
  size_t hstart, hlen;            /* the dict is bytes [hstart, hstart + hlen) */
  asr_dtype dtype;
  int ndim;
  int64_t shape[ASR_MAX_DIMS];
  size_t count, esize, nbytes;    /* elements, bytes per element, data bytes */
  int swap;                       /* the data is in the other byte order */
} asr__npy_info;

/* The fixed prefix: "\x93NUMPY", major and minor version, and the header length in 2
 * (version 1.0) or 4 (2.0, 3.0) little-endian bytes. len may cover just the prefix. */
ASR__PRIVATE asr_result asr__npy_prefix(const unsigned char *b, size_t len, asr__npy_info *h,
                                        asr_error *err) {
  if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
    return asr__fail(err, ASR_ERR_FORMAT, "not a .npy file (no \\x93NUMPY magic)");
  if (b[6] == 1) {
    h->hlen = (size_t)b[8] | ((size_t)b[9] << 8);
    h->hstart = 10;
  } else if (b[6] == 2 || b[6] == 3) {
    if (len < 12) return asr__fail(err, ASR_ERR_FORMAT, "truncated .npy header");
    h->hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
    h->hstart = 12;
  } else {
    return asr__fail(err, ASR_ERR_UNSUPPORTED, ".npy format version %d.%d is not supported",
                     b[6], b[7]);
  }
  return ASR_OK;
}

/* The header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), },
 * hlen bytes at p: fills dtype, shape, count, esize, nbytes and swap of h. */
ASR__PRIVATE asr_result asr__npy_dict(const char *p, size_t hlen, asr__npy_info *h,
                                      asr_error *err) {
  asr__scan s;
  char key[32], descr[16];
  int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0, big_endian = 0, d;
  asr_dtype dtype = ASR_DTYPE_F32;
  h->ndim = 0;
  s.p = p;
  s.end = p + hlen;
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
        if (h->ndim == ASR_MAX_DIMS)
          return asr__fail(err, ASR_ERR_UNSUPPORTED, ".npy has more than %d dimensions", ASR_MAX_DIMS);
        h->shape[h->ndim++] = v;
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
  if (fortran && h->ndim > 1)
    return asr__fail(err, ASR_ERR_UNSUPPORTED,
                     "Fortran-ordered .npy is not supported (save np.ascontiguousarray(x))");
  h->dtype = dtype;
  h->count = 1;
  for (d = 0; d < h->ndim; d++)
    if (asr_size_mul(h->count, (size_t)h->shape[d], &h->count) != ASR_OK)
      return asr__fail(err, ASR_ERR_TOO_LARGE, ".npy shape too large");
  h->esize = asr_dtype_size(dtype);
  if (asr_size_mul(h->count, h->esize, &h->nbytes) != ASR_OK)
    return asr__fail(err, ASR_ERR_TOO_LARGE, ".npy shape too large");
  h->swap = big_endian == asr__host_is_little_endian();
  return ASR_OK;
}

/* The array an asr__npy_info describes, with its data (taken over). */
ASR__PRIVATE void asr__npy_out(asr_array *out, const asr__npy_info *h, asr_dtype dtype, void *data) {
  int d;
  memset(out, 0, sizeof *out);
  out->dtype = dtype;
  out->ndim = h->ndim;
  for (d = 0; d < h->ndim; d++) out->shape[d] = h->shape[d];
  out->count = h->count;
  out->data = data;
}

ASR__PRIVATE asr_result asr__npy_size_mismatch(asr_error *err, size_t have, size_t want) {
  return asr__fail(err, ASR_ERR_FORMAT, ".npy data is %lu bytes, the header promises %lu",
                   (unsigned long)have, (unsigned long)want);
}

ASRDEF asr_result asr_npy_parse(const void *buf, size_t len, asr_array *out, void *user,
                                asr_error *err) {
  const unsigned char *b = (const unsigned char *)buf;
  asr__npy_info h;
  asr_result r;
  void *data;
  memset(out, 0, sizeof *out);
  if (!buf && len) return asr__fail(err, ASR_ERR_INVALID_ARG, "no buffer");
  if ((r = asr__npy_prefix(b, len, &h, err)) != ASR_OK) return r;
  if (h.hlen > len - h.hstart) return asr__fail(err, ASR_ERR_FORMAT, "truncated .npy header");
  if ((r = asr__npy_dict((const char *)b + h.hstart, h.hlen, &h, err)) != ASR_OK) return r;
  if (h.nbytes != len - h.hstart - h.hlen)
    return asr__npy_size_mismatch(err, len - h.hstart - h.hlen, h.nbytes);
  data = ASR_MALLOC(h.nbytes ? h.nbytes : 1, user);
  if (!data) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory for .npy data");
  if (h.nbytes) memcpy(data, b + h.hstart + h.hlen, h.nbytes);
  if (h.swap) asr__byteswap(data, h.count, h.esize);
  asr__npy_out(out, &h, h.dtype, data);
  return ASR_OK;
}

/* One element of any dtype, stored at p (which may be unaligned or overlap others: read
 * through memcpy), as a double, or exactly as an int64 for int64 data. */
ASR__PRIVATE double asr__elem_f(const unsigned char *p, asr_dtype t) {
  float f;
  double d;
  int32_t i;
  int64_t l;
  switch (t) {
    case ASR_DTYPE_F32: memcpy(&f, p, 4); return f;
    case ASR_DTYPE_F64: memcpy(&d, p, 8); return d;
    case ASR_DTYPE_I32: memcpy(&i, p, 4); return i;
    case ASR_DTYPE_I64: memcpy(&l, p, 8); return (double)l;
    case ASR_DTYPE_U8: return *p;
  }
  return 0;
}

/* The first element of float data (n elements of 4 or 8 bytes) that is NaN or infinite
 * (exponent bits all ones), or n. A branch-free OR over blocks keeps the common case (all
 * finite) a fast vectorizable scan. */
ASR__PRIVATE size_t asr__first_nonfinite(const unsigned char *p, size_t n, size_t esize) {
  size_t i0, i;
  for (i0 = 0; i0 < n; i0 += 1024) {
    size_t i1 = ASR__MIN(n, i0 + 1024);
    unsigned bad = 0;
    if (esize == 4) {
      for (i = i0; i < i1; i++) {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
      }
    } else {
      for (i = i0; i < i1; i++) {
        uint64_t u;
        memcpy(&u, p + 8 * i, 8);
        bad |= (u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
      }
    }
    if (bad)
      for (i = i0; i < i1; i++)
        if (!isfinite(asr__elem_f(p + esize * i, esize == 4 ? ASR_DTYPE_F32 : ASR_DTYPE_F64))) return i;
  }
  return n;
}

/* Checks that every one of `count` elements of dtype `from` (at buf) can be converted to
 * dtype `to`, and names the first that cannot: to a float type, NaN/inf unless
 * allow_nonfinite (ASR_ERR_NONFINITE), and a finite float64 beyond float32's range, which
 * is refused rather than turned into inf (ASR_ERR_RANGE); to an integer type, a value that
 * is not an integer or does not fit (ASR_ERR_RANGE; int64 data is compared exactly, the
 * other types through a double, which holds each of their values exactly). Read only: a
 * conversion is validated whole before any byte of it is written. */
ASR__PRIVATE asr_result asr__convert_check(const unsigned char *buf, size_t count, asr_dtype from,
                                           asr_dtype to, int allow_nonfinite, asr_error *err) {
  size_t fs = asr_dtype_size(from), i;
  int from_float = from == ASR_DTYPE_F32 || from == ASR_DTYPE_F64;
  if (from == to && (!from_float || allow_nonfinite)) return ASR_OK;   /* nothing to check */
  if (to == ASR_DTYPE_F32 || to == ASR_DTYPE_F64) {
    if (!from_float || allow_nonfinite) return ASR_OK;   /* every integer is a finite float */
    i = asr__first_nonfinite(buf, count, fs);
    if (i < count) {
      double v = asr__elem_f(buf + fs * i, from);
      return asr__fail(err, ASR_ERR_NONFINITE, "element %lu is %s", (unsigned long)i,
                       v != v ? "NaN" : "infinite");
    }
    if (from == ASR_DTYPE_F64 && to == ASR_DTYPE_F32)
      for (i = 0; i < count; i++) {
        double v = asr__elem_f(buf + 8 * i, from);
        if (!isfinite((float)v))
          return asr__fail(err, ASR_ERR_RANGE, "element %lu (%g) is outside the float32 range",
                           (unsigned long)i, v);
      }
    return ASR_OK;
  }
  if (from == ASR_DTYPE_I64) {
    /* exact comparisons: an int64 may not be exactly a double */
    int64_t lo = to == ASR_DTYPE_U8 ? 0 : to == ASR_DTYPE_I32 ? INT32_MIN : INT64_MIN;
    int64_t hi = to == ASR_DTYPE_U8 ? 255 : to == ASR_DTYPE_I32 ? INT32_MAX : INT64_MAX;
    for (i = 0; i < count; i++) {
      int64_t l;
      memcpy(&l, buf + 8 * i, 8);
      if (l < lo || l > hi)
        return asr__fail(err, ASR_ERR_RANGE, "element %lu (%lld) does not fit in %s",
                         (unsigned long)i, (long long)l, to == ASR_DTYPE_I32 ? "int" : "uint8");
    }
    return ASR_OK;
  }
  {
    /* [lo, hi): hi is a power of two, exact in a double (INT64_MAX is not) */
    double lo = to == ASR_DTYPE_U8 ? 0.0 : to == ASR_DTYPE_I32 ? -2147483648.0 : -9223372036854775808.0;
    double hi = to == ASR_DTYPE_U8 ? 256.0 : to == ASR_DTYPE_I32 ? 2147483648.0 : 9223372036854775808.0;
    for (i = 0; i < count; i++) {
      double v = asr__elem_f(buf + fs * i, from);
      if (!isfinite(v) || v != floor(v))
        return asr__fail(err, ASR_ERR_RANGE, "element %lu (%g) is not an integer", (unsigned long)i, v);
      if (v < lo || v >= hi)
        return asr__fail(err, ASR_ERR_RANGE, "element %lu (%g) does not fit in %s", (unsigned long)i,
                         v, to == ASR_DTYPE_I32 ? "int" : to == ASR_DTYPE_U8 ? "uint8" : "int64");
    }
  }
  return ASR_OK;
}

/* Converts `count` elements of dtype `from` to dtype `to` in place, after
 * asr__convert_check() accepted them. buf holds count elements of the larger of the two
 * types. The loop runs forward when the element shrinks or keeps its size (element i is
 * written over bytes of elements <= i, which are already read) and backward when it grows
 * (element i is written over bytes of elements >= i, likewise). Elements go through memcpy
 * because the two types share bytes. */
ASR__PRIVATE void asr__convert_inplace(unsigned char *buf, size_t count, asr_dtype from, asr_dtype to) {
  size_t fs = asr_dtype_size(from), ts = asr_dtype_size(to), k;
  if (from == to) return;
  for (k = 0; k < count; k++) {
    size_t i = ts <= fs ? k : count - 1 - k;     /* forward when shrinking, else backward */
    const unsigned char *src = buf + fs * i;
    unsigned char *dst = buf + ts * i;
    int64_t l;
    if (to == ASR_DTYPE_F32) {
      float f = (float)asr__elem_f(src, from);
      memcpy(dst, &f, 4);
    } else if (to == ASR_DTYPE_F64) {
      double v = asr__elem_f(src, from);
      memcpy(dst, &v, 8);
    } else {
      /* an integer: int64 data exactly, the rest through a double (checked integral) */
      if (from == ASR_DTYPE_I64) memcpy(&l, src, 8);
      else l = (int64_t)asr__elem_f(src, from);
      if (to == ASR_DTYPE_I64) {
        memcpy(dst, &l, 8);
      } else if (to == ASR_DTYPE_I32) {
        int32_t x = (int32_t)l;
        memcpy(dst, &x, 4);
      } else {
        *dst = (unsigned char)l;
      }
    }
  }
}

/* Converts a parsed array to dtype `to` (want >= 0), growing its buffer first when the
 * element grows. Frees the array on failure. */
ASR__PRIVATE asr_result asr__npy_array_as(asr_array *a, int want, int allow_nonfinite, void *user,
                                          asr_error *err) {
  size_t ts, fs = asr_dtype_size(a->dtype), bytes;
  asr_result r;
  if (want < 0) return ASR_OK;
  ts = asr_dtype_size((asr_dtype)want);
  if ((r = asr__convert_check((const unsigned char *)a->data, a->count, a->dtype, (asr_dtype)want,
                              allow_nonfinite, err)) != ASR_OK) {
    asr_array_free(a, user);
    return r;
  }
  if (ts > fs) {   /* the backward loop of asr__convert_inplace needs the room */
    unsigned char *big = asr_size_mul(a->count, ts, &bytes) == ASR_OK
                             ? ASR__ALLOC(unsigned char, bytes ? bytes : 1, user) : NULL;
    if (!big) {
      asr_array_free(a, user);
      return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory for .npy data");
    }
    if (a->count) memcpy(big, a->data, a->count * fs);
    ASR_FREE(a->data, user);
    a->data = big;
  }
  asr__convert_inplace((unsigned char *)a->data, a->count, a->dtype, (asr_dtype)want);
  a->dtype = (asr_dtype)want;
  return ASR_OK;
}

/* Reads a .npy from an open stream into one buffer. A file of known size (from
 * asr__file_size) is read in place: the prefix, then the dict, then the data straight
 * into one allocation of max(stored, converted) bytes, converted there when want >= 0 (a
 * dtype). A stream that cannot seek (a pipe) is read whole and handed to asr_npy_parse,
 * which holds two copies for a moment. Messages carry no path (the caller adds it). */
ASR__PRIVATE asr_result asr__npy_read_fp(FILE *fp, int want, int allow_nonfinite,
                                         asr_array *out, asr_dtype *stored, void *user,
                                         asr_error *err) {
  asr__npy_info h;
  unsigned char pre[12], *data = NULL;
  char *dict;
  size_t n, cap, size, rest;
  long probe = asr__file_size(fp);
  asr_dtype to;
  asr_result r;
  memset(out, 0, sizeof *out);
  if (probe == -2) return asr__fail(err, ASR_ERR_IO, "read error (is it a directory?)");
  if (probe == -1) {
    /* a pipe: the whole stream, the buffer parser, then the conversion */
    if ((r = asr__read_stream(fp, 0, &data, &n, user, err)) != ASR_OK) return r;
    r = asr_npy_parse(data, n, out, user, err);
    ASR_FREE(data, user);
    if (r != ASR_OK) return r;
    if (stored) *stored = out->dtype;
    return asr__npy_array_as(out, want, allow_nonfinite, user, err);
  }
  size = (size_t)probe;
  /* the prefix: magic, version, header length (10 or 12 bytes; a short file gives n < 12) */
  n = fread(pre, 1, sizeof pre, fp);
  if (ferror(fp)) return asr__fail(err, ASR_ERR_IO, "read error");
  if ((r = asr__npy_prefix(pre, n, &h, err)) != ASR_OK) return r;
  if (size < h.hstart || h.hlen > size - h.hstart)
    return asr__fail(err, ASR_ERR_FORMAT, "truncated .npy header");
  /* the dict (its first bytes may be in pre already: seek back to where it starts) */
  dict = ASR__ALLOC(char, h.hlen ? h.hlen : 1, user);
  if (!dict) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory for the .npy header");
  if (fseek(fp, (long)h.hstart, SEEK_SET) != 0 || fread(dict, 1, h.hlen, fp) != h.hlen) {
    ASR_FREE(dict, user);
    return asr__fail(err, ASR_ERR_IO, "read error in the .npy header");
  }
  r = asr__npy_dict(dict, h.hlen, &h, err);
  ASR_FREE(dict, user);
  if (r != ASR_OK) return r;
  rest = size - h.hstart - h.hlen;
  if (h.nbytes != rest) return asr__npy_size_mismatch(err, rest, h.nbytes);
  /* the data, in a buffer big enough for the stored and the converted elements */
  to = want >= 0 ? (asr_dtype)want : h.dtype;
  cap = h.nbytes;
  if (asr_dtype_size(to) > h.esize && asr_size_mul(h.count, asr_dtype_size(to), &cap) != ASR_OK)
    return asr__fail(err, ASR_ERR_TOO_LARGE, ".npy shape too large");
  data = ASR__ALLOC(unsigned char, cap ? cap : 1, user);
  if (!data) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory for .npy data");
  if (fread(data, 1, h.nbytes, fp) != h.nbytes) {
    ASR_FREE(data, user);
    return asr__fail(err, ASR_ERR_IO, "read error in the .npy data (did the file change?)");
  }
  if (h.swap) asr__byteswap(data, h.count, h.esize);
  if ((r = asr__convert_check(data, h.count, h.dtype, to, allow_nonfinite || want < 0, err)) != ASR_OK) {
    ASR_FREE(data, user);
    return r;
  }
  asr__convert_inplace(data, h.count, h.dtype, to);
  if (stored) *stored = h.dtype;
  asr__npy_out(out, &h, to, data);
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__npy_read_path(const char *path, int want, int allow_nonfinite,
                                           asr_array *out, asr_dtype *stored, void *user,
                                           asr_error *err) {
  FILE *fp;
  asr_result r;
  memset(out, 0, sizeof *out);
  fp = fopen(path, "rb");
  if (!fp) return asr__fail(err, ASR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  r = asr__npy_read_fp(fp, want, allow_nonfinite, out, stored, user, err);
  fclose(fp);
  return asr__fail_path(err, r, path);
}

ASRDEF asr_result asr_npy_read(const char *path, asr_array *out, void *user, asr_error *err) {
  return asr__npy_read_path(path, -1, 1, out, NULL, user, err);
}

ASRDEF asr_result asr_npy_read_as(const char *path, asr_dtype dtype, int allow_nonfinite,
                                  asr_array *out, asr_dtype *stored, void *user, asr_error *err) {
  if (asr_dtype_size(dtype) == 0) {
    memset(out, 0, sizeof *out);
    return asr__fail(err, ASR_ERR_INVALID_ARG, "%s: unknown dtype", path);
  }
  return asr__npy_read_path(path, (int)dtype, allow_nonfinite, out, stored, user, err);
}

/* The header of a version 1.0 .npy: magic, version, 2-byte length, and the dict padded
 * with spaces and a newline so that the data starts at a multiple of 64 bytes (as numpy
 * writes it). head has room for ASR__NPY_HEAD bytes; *hn gets the header's size and
 * *nbytes the data's. */
enum { ASR__NPY_HEAD = 512 };
ASR__PRIVATE asr_result asr__npy_head(unsigned char *head, size_t *hn, size_t *nbytes,
                                      asr_dtype dtype, int ndim, const int64_t *shape) {
  char *h = (char *)head + 10;
  size_t cap = ASR__NPY_HEAD - 10, count = 1, esize = asr_dtype_size(dtype);
  int n, d;
  if (ndim < 0 || ndim > ASR_MAX_DIMS || esize == 0) return ASR_ERR_INVALID_ARG;
  n = snprintf(h, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (",
               asr__dtype_descr(dtype));
  for (d = 0; d < ndim; d++) {
    if (shape[d] < 0) return ASR_ERR_INVALID_ARG;
    if (asr_size_mul(count, (size_t)shape[d], &count) != ASR_OK) return ASR_ERR_TOO_LARGE;
    n += snprintf(h + n, cap - (size_t)n, ndim == 1 ? "%lld," : (d ? ", %lld" : "%lld"),
                  (long long)shape[d]);
  }
  n += snprintf(h + n, cap - (size_t)n, "), }");
  while ((10 + n + 1) % 64 != 0) h[n++] = ' ';   /* at most 8 dims of 19 digits: fits */
  h[n++] = '\n';
  memcpy(head, "\x93NUMPY\x01\x00", 8);
  head[8] = (unsigned char)(n & 0xff);
  head[9] = (unsigned char)(n >> 8);
  if (asr_size_mul(count, esize, nbytes) != ASR_OK) return ASR_ERR_TOO_LARGE;
  *hn = 10 + (size_t)n;
  return ASR_OK;
}

ASRDEF asr_result asr_npy_encode(void *buf, size_t cap, size_t *len, asr_dtype dtype, int ndim,
                                 const int64_t *shape, const void *data) {
  unsigned char head[ASR__NPY_HEAD];
  size_t hn, nbytes;
  asr_result r = asr__npy_head(head, &hn, &nbytes, dtype, ndim, shape);
  if (r != ASR_OK) return r;
  if (hn + nbytes < nbytes) return ASR_ERR_TOO_LARGE;
  *len = hn + nbytes;
  if (!buf) return ASR_OK;
  if (cap < *len) return ASR_ERR_WORKSPACE;
  memcpy(buf, head, hn);
  if (nbytes) memcpy((unsigned char *)buf + hn, data, nbytes);
  if (!asr__host_is_little_endian())
    asr__byteswap((unsigned char *)buf + hn, nbytes / asr_dtype_size(dtype), asr_dtype_size(dtype));
  return ASR_OK;
}

/* Writes count elements of esize bytes in little-endian order: straight from the
 * caller's memory on a little-endian host, through a small swapped copy otherwise. */
ASR__PRIVATE int asr__fwrite_le(FILE *fp, const void *data, size_t count, size_t esize) {
  const unsigned char *p = (const unsigned char *)data;
  unsigned char chunk[4096];
  size_t per = sizeof chunk / (esize ? esize : 1), done = 0;
  if (count == 0) return 1;
  if (asr__host_is_little_endian() || esize <= 1) return fwrite(p, esize, count, fp) == count;
  while (done < count) {
    size_t k = ASR__MIN(per, count - done);
    memcpy(chunk, p + done * esize, k * esize);
    asr__byteswap(chunk, k, esize);
    if (fwrite(chunk, esize, k, fp) != k) return 0;
    done += k;
  }
  return 1;
}

ASRDEF asr_result asr_npy_write(const char *path, asr_dtype dtype, int ndim,
                                const int64_t *shape, const void *data, asr_error *err) {
  unsigned char head[ASR__NPY_HEAD];
  char tmp[4096];
  size_t hn, nbytes, esize = asr_dtype_size(dtype);
  FILE *fp;
  int ok;
  asr_result r = asr__npy_head(head, &hn, &nbytes, dtype, ndim, shape);
  if (r != ASR_OK) return asr__fail(err, r, "%s: %s", path, asr_result_string(r));
  /* header, then the data streamed from the caller's array: no copy of it in memory */
  fp = asr__open_temp(path, tmp, sizeof tmp);
  if (!fp) return asr__fail(err, ASR_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  ok = fwrite(head, 1, hn, fp) == hn && asr__fwrite_le(fp, data, nbytes / esize, esize);
  return asr__close_temp(fp, tmp, path, ok, err);
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
  if (a->dtype == ASR_DTYPE_REAL) {
    /* the same type: one scan for NaN/inf, then a copy */
    size_t bad = allow_nonfinite ? a->count
                                 : asr__first_nonfinite((const unsigned char *)a->data, a->count,
                                                        sizeof(asr_real));
    if (bad < a->count)
      return asr__fail(err, ASR_ERR_NONFINITE, "element %lu is %s", (unsigned long)bad,
                       ((const asr_real *)a->data)[bad] != ((const asr_real *)a->data)[bad]
                           ? "NaN" : "infinite");
    if (a->count) memcpy(dst, a->data, sizeof(asr_real) * a->count);
    return ASR_OK;
  }
  for (i = 0; i < a->count; i++) {
    double v = asr__array_get(a, i);
    if (!allow_nonfinite && !isfinite(v))
      return asr__fail(err, ASR_ERR_NONFINITE, "element %lu is %s", (unsigned long)i,
                       v != v ? "NaN" : "infinite");
    dst[i] = (asr_real)v;
    if (!allow_nonfinite && !isfinite(dst[i]))   /* a float64 beyond float32's range */
      return asr__fail(err, ASR_ERR_RANGE, "element %lu (%g) is outside the float32 range",
                       (unsigned long)i, v);
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
      if (!isfinite(v) || v != floor(v))
        return asr__fail(err, ASR_ERR_RANGE, "element %lu (%g) is not an integer",
                         (unsigned long)i, v);
      if (!(v >= INT32_MIN && v <= INT32_MAX))
        return asr__fail(err, ASR_ERR_RANGE, "element %lu (%g) does not fit in int",
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

/* ---- e^x and ln x of 8 floats (AVX2+FMA), for the log-space kernels of the losses
 * (sections 5 and 6). Accurate to a few ulp over the whole float range; no tables.
 *   asr__exp_avx2: e^x = 2^n e^r with n = round(x / ln 2) and r = x - n ln 2 in
 *     [-ln2/2, ln2/2], ln 2 split in a part whose products with n are exact and a
 *     remainder (Cody and Waite's reduction); e^r by its Taylor polynomial to r^7 (the
 *     first term left out is below 2^-27 there); 2^n in two halves so that n = -126 and
 *     n = 128 stay representable. x < ln(2^-126) gives 0 (no subnormals), x > ln(FLT_MAX)
 *     +inf, NaN stays NaN; e^0 is exactly 1.
 *   asr__log_avx2: x = 2^e m with m in [sqrt(1/2), sqrt(2)), ln x = e ln 2 + 2 atanh(z),
 *     z = (m-1)/(m+1) in [-0.172, 0.172], 2 atanh(z) = 2 (z + z^3/3 + ... + z^9/9) (the
 *     next term is below 2^-31 relative). Subnormal x are scaled by 2^23 first. ln 0 is
 *     -inf, ln of a negative number or NaN is NaN, ln(+inf) = +inf. */
#if defined(ASR_SIMD_AVX2)
ASR__PRIVATE __m256 asr__exp_avx2(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654475f), hi = _mm256_set1_ps(88.72283905f);
  const __m256 ln2_hi = _mm256_set1_ps(0.693359375f), ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
  __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, ln2_hi, xc), p;
  __m256i ni, n1, n2;
  r = _mm256_fnmadd_ps(n, ln2_lo, r);
  /* 1 + r + r^2/2! + ... + r^7/7!, by Horner */
  p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  /* times 2^n = 2^(n/2) 2^(n - n/2), each factor a normal float */
  ni = _mm256_cvtps_epi32(n);
  n1 = _mm256_srai_epi32(ni, 1);
  n2 = _mm256_sub_epi32(ni, n1);
  p = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23)));
  p = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23)));
  p = _mm256_blendv_ps(p, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
  p = _mm256_blendv_ps(p, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
  return _mm256_blendv_ps(p, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));   /* NaN in, NaN out */
}

ASR__PRIVATE __m256 asr__log_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 sub = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
  __m256 xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), sub);
  __m256i bits = _mm256_castps_si256(xs);
  __m256i ei = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                                 _mm256_set1_epi32(0x3f800000)));
  __m256 e = _mm256_cvtepi32_ps(ei), big, z, z2, p, r;
  e = _mm256_sub_ps(e, _mm256_and_ps(sub, _mm256_set1_ps(23.0f)));
  /* m in [1, 2): fold [sqrt 2, 2) onto [sqrt(1/2), 1) */
  big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_add_ps(e, _mm256_and_ps(big, one));
  z = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  z2 = _mm256_mul_ps(z, z);
  /* 2 atanh z = 2z + 2z (z^2/3 + z^4/5 + z^6/7 + z^8/9) */
  p = _mm256_set1_ps(1.0f / 9);
  p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(1.0f / 7));
  p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(1.0f / 5));
  p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(1.0f / 3));
  p = _mm256_mul_ps(p, z2);
  z = _mm256_add_ps(z, z);
  r = _mm256_fmadd_ps(z, p, z);
  /* + e ln 2, with ln 2 in two parts (e ln2_hi is exact) */
  r = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), r);
  r = _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), r);
  r = _mm256_blendv_ps(r, _mm256_set1_ps(-INFINITY), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(INFINITY), _CMP_EQ_OQ));
  /* negative or NaN: NaN */
  return _mm256_blendv_ps(r, _mm256_set1_ps(NAN), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NGE_UQ));
}
#endif

/* ========================================================================================
 * 2. Audio (implementation)
 * ======================================================================================== */

ASRDEF void asr_audio_free(asr_audio *a, void *user) {
  if (!a) return;
  ASR_FREE(a->samples, user);
  memset(a, 0, sizeof *a);
}

/* Prefixes err->msg with "path: " after a parser failed on a file's contents. */
ASR__PRIVATE void asr__prefix_path(asr_error *err, asr_result r, const char *path) {
  if (err) {
    char m[sizeof err->msg];
    snprintf(m, sizeof m, "%s", err->msg);
    asr__fail(err, r, "%s: %s", path, m);
  }
}

/* One stored WAV sample -> the [-1, 1] scale. p points at its little-endian bytes. */
ASR__PRIVATE double asr__wav_sample(const unsigned char *p, int bits, int is_float) {
  if (is_float) {
    if (bits == 32) {
      uint32_t u = asr__rd32(p);
      float f;
      memcpy(&f, &u, 4);
      return f;
    } else {
      uint64_t u = asr__rd64(p);
      double d;
      memcpy(&d, &u, 8);
      return d;
    }
  }
  switch (bits) {
    case 8: return ((int)p[0] - 128) / 128.0;                 /* 8-bit WAV is unsigned */
    case 16: return (double)(int16_t)asr__rd16(p) / 32768.0;
    case 24: {
      int32_t v = (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16));
      if (v & 0x800000) v -= 0x1000000;                      /* sign-extend 24 bits */
      return v / 8388608.0;
    }
    default: return (double)(int32_t)asr__rd32(p) / 2147483648.0;
  }
}

ASRDEF asr_result asr_wav_parse(const void *buf, size_t len, int channel, asr_audio_scale scale,
                                asr_audio *out, void *user, asr_error *err) {
  static const unsigned char guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                              0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
  const unsigned char *b = (const unsigned char *)buf;
  const unsigned char *fmt = NULL, *data = NULL;
  size_t pos = 12, fmt_len = 0, data_len = 0, frames, bytes_per_sample, i;
  uint32_t tag;
  int channels, rate, block_align, bits, is_float;
  double to_scale;
  asr_audio a;
  memset(out, 0, sizeof *out);
  memset(&a, 0, sizeof a);
  if (!buf && len) return asr__fail(err, ASR_ERR_INVALID_ARG, "no buffer");
  if (len < 12) return asr__fail(err, ASR_ERR_FORMAT, "not a WAV file (%lu bytes, too short)", (unsigned long)len);
  if (memcmp(b, "RIFX", 4) == 0 || memcmp(b, "RF64", 4) == 0)
    return asr__fail(err, ASR_ERR_UNSUPPORTED, "%.4s WAV files are not supported (only little-endian RIFF)", (const char *)b);
  if (memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WAVE", 4) != 0)
    return asr__fail(err, ASR_ERR_FORMAT, "not a WAV file (no RIFF/WAVE header)");
  /* The chunks: id (4 bytes), size (4), body (size), one pad byte if size is odd. The RIFF
   * size field is not trusted (streams leave it 0 or wrong): we walk to the end of buf. */
  while (pos < len) {
    const unsigned char *c = b + pos;
    size_t size, avail;
    if (len - pos < 8)
      return asr__fail(err, ASR_ERR_FORMAT, "truncated chunk header at byte %lu", (unsigned long)pos);
    size = asr__rd32(c + 4);
    avail = len - pos - 8;
    if (memcmp(c, "data", 4) == 0) {
      if (size == 0xFFFFFFFFu) size = avail;          /* length unknown when written */
      if (size > avail)
        return asr__fail(err, ASR_ERR_FORMAT,
                         "data chunk claims %lu bytes but only %lu remain (truncated file?)",
                         (unsigned long)size, (unsigned long)avail);
      if (!data) {
        data = c + 8;
        data_len = size;
      }
    } else {
      if (size > avail)
        return asr__fail(err, ASR_ERR_FORMAT, "chunk '%.4s' claims %lu bytes but only %lu remain",
                         (const char *)c, (unsigned long)size, (unsigned long)avail);
      if (memcmp(c, "fmt ", 4) == 0 && !fmt) {
        fmt = c + 8;
        fmt_len = size;
      }
    }
    pos += 8 + size;
    if ((size & 1u) && pos < len) pos++;              /* the RIFF pad byte */
    if (fmt && data) break;       /* what follows the audio (LIST, id3, junk) is not read */
  }
  if (!fmt) return asr__fail(err, ASR_ERR_FORMAT, "WAV file has no 'fmt ' chunk");
  if (!data) return asr__fail(err, ASR_ERR_FORMAT, "WAV file has no 'data' chunk");
  if (fmt_len < 16) return asr__fail(err, ASR_ERR_FORMAT, "'fmt ' chunk is %lu bytes, needs 16", (unsigned long)fmt_len);
  /* WAVEFORMATEX: tag, channels, sample rate, byte rate, block align, bits per sample */
  tag = asr__rd16(fmt);
  channels = (int)asr__rd16(fmt + 2);
  rate = (int)ASR__MIN(asr__rd32(fmt + 4), 0x7FFFFFFFu);
  block_align = (int)asr__rd16(fmt + 12);
  bits = (int)asr__rd16(fmt + 14);
  if (tag == 0xFFFEu) {
    /* WAVE_FORMAT_EXTENSIBLE: cbSize (22), valid bits, channel mask, sub-format GUID whose
     * first two bytes are the real format tag and whose other 14 are fixed */
    if (fmt_len < 40 || asr__rd16(fmt + 16) < 22)
      return asr__fail(err, ASR_ERR_FORMAT, "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is too short");
    if (memcmp(fmt + 24 + 2, guid_tail, 14) != 0)
      return asr__fail(err, ASR_ERR_UNSUPPORTED, "WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID");
    tag = asr__rd16(fmt + 24);
  }
  if (tag != 1 && tag != 3)
    return asr__fail(err, ASR_ERR_UNSUPPORTED,
                     "WAV format tag %u is not supported (only PCM = 1 and IEEE float = 3%s)",
                     (unsigned)tag, tag == 6 || tag == 7 ? "; A-law/mu-law are not" : "");
  is_float = (tag == 3);
  if (channels == 0) return asr__fail(err, ASR_ERR_FORMAT, "WAV file has 0 channels");
  if (rate == 0) return asr__fail(err, ASR_ERR_FORMAT, "WAV file has sample rate 0");
  if (is_float ? (bits != 32 && bits != 64) : (bits != 8 && bits != 16 && bits != 24 && bits != 32))
    return asr__fail(err, ASR_ERR_UNSUPPORTED, "%d-bit %s samples are not supported", bits,
                     is_float ? "float" : "PCM");
  bytes_per_sample = (size_t)bits / 8;
  if ((size_t)block_align != bytes_per_sample * (size_t)channels)
    return asr__fail(err, ASR_ERR_FORMAT, "block_align %d does not match %d channels of %d bits",
                     block_align, channels, bits);
  if (channel < ASR_CHANNEL_MIX || channel >= channels)
    return asr__fail(err, ASR_ERR_RANGE, "channel %d requested, the file has %d", channel, channels);
  frames = data_len / (size_t)block_align;              /* a partial last frame is ignored */
  if (frames > 0x7FFFFFFF) return asr__fail(err, ASR_ERR_TOO_LARGE, "more than 2^31-1 samples");
  a.n = (int)frames;
  a.sample_rate = rate;
  a.channels = channels;
  a.bits = bits;
  a.codec = is_float ? ASR_CODEC_WAV_FLOAT : ASR_CODEC_WAV_PCM;
  a.samples = ASR__ALLOC(asr_real, frames ? frames : 1, user);
  if (!a.samples) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory for %lu samples", (unsigned long)frames);
  to_scale = scale == ASR_SCALE_INT16 ? 32768.0 : 1.0;
  for (i = 0; i < frames; i++) {
    const unsigned char *f = data + i * (size_t)block_align;
    double v;
    if (channel >= 0) {
      v = asr__wav_sample(f + (size_t)channel * bytes_per_sample, bits, is_float);
    } else {
      int ch;
      v = 0;
      for (ch = 0; ch < channels; ch++) v += asr__wav_sample(f + (size_t)ch * bytes_per_sample, bits, is_float);
      v /= channels;                                  /* the mean of the channels */
    }
    a.samples[i] = (asr_real)(v * to_scale);
    if (!isfinite(a.samples[i])) {     /* NaN, infinity, or a float64 beyond asr_real's range */
      ASR_FREE(a.samples, user);
      return asr__fail(err, ASR_ERR_NONFINITE, "sample %lu (%g) is not a finite number%s", (unsigned long)i, v,
                       isfinite(v) ? " in asr_real" : "");
    }
  }
  *out = a;
  return ASR_OK;
}

ASRDEF asr_result asr_wav_read(const char *path, int channel, asr_audio_scale scale,
                               asr_audio *out, void *user, asr_error *err) {
  unsigned char *buf;
  size_t len;
  asr_result r;
  memset(out, 0, sizeof *out);
  r = asr_read_file(path, &buf, &len, user, err);
  if (r != ASR_OK) return r;
  r = asr_wav_parse(buf, len, channel, scale, out, user, err);
  ASR_FREE(buf, user);
  if (r != ASR_OK) asr__prefix_path(err, r, path);
  return r;
}

ASRDEF asr_result asr_wav_encode(void *buf, size_t cap, size_t *len, const asr_real *samples,
                                 int frames, int channels, int sample_rate, int format,
                                 asr_audio_scale scale) {
  static const unsigned char guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                              0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
  int ext = (format & ASR_WAV_EXTENSIBLE) != 0, f = format & 0xFF;
  int bits, is_float, tag;
  size_t bps, count, data_bytes, header, total, i;
  unsigned char *p;
  double from_scale = scale == ASR_SCALE_INT16 ? 1.0 / 32768.0 : 1.0;
  if (frames < 0 || channels < 1 || channels > 0xFFFF || sample_rate < 1 || f > ASR_WAV_FLOAT64 ||
      (format & ~(ASR_WAV_EXTENSIBLE | 0xFF)) != 0 || (frames > 0 && !samples))
    return ASR_ERR_INVALID_ARG;
  switch (f) {
    case ASR_WAV_PCM8: bits = 8; break;
    case ASR_WAV_PCM16: bits = 16; break;
    case ASR_WAV_PCM24: bits = 24; break;
    case ASR_WAV_PCM32: case ASR_WAV_FLOAT32: bits = 32; break;
    default: bits = 64; break;
  }
  is_float = f >= ASR_WAV_FLOAT32;
  tag = is_float ? 3 : 1;
  bps = (size_t)bits / 8;
  if (bps * (size_t)channels > 0xFFFF) return ASR_ERR_TOO_LARGE;
  if (asr_size_mul((size_t)frames, (size_t)channels, &count) != ASR_OK ||
      asr_size_mul(count, bps, &data_bytes) != ASR_OK)
    return ASR_ERR_TOO_LARGE;
  /* RIFF header 12, fmt chunk 8 + 16 (or 8 + 40 extensible), data chunk 8 + data + pad */
  header = 12 + 8 + (ext ? 40 : 16) + 8;
  total = header + data_bytes + (data_bytes & 1u);
  if (total < data_bytes || total - 8 > 0xFFFFFFFFu) return ASR_ERR_TOO_LARGE;
  for (i = 0; i < count; i++)
    if (!isfinite(samples[i])) return ASR_ERR_NONFINITE;
  *len = total;
  if (!buf) return ASR_OK;
  if (cap < total) return ASR_ERR_WORKSPACE;
  p = (unsigned char *)buf;
  memcpy(p, "RIFF", 4);
  asr__wr32(p + 4, (uint32_t)(total - 8));
  memcpy(p + 8, "WAVEfmt ", 8);
  asr__wr32(p + 16, ext ? 40u : 16u);
  asr__wr16(p + 20, ext ? 0xFFFEu : (uint32_t)tag);
  asr__wr16(p + 22, (uint32_t)channels);
  asr__wr32(p + 24, (uint32_t)sample_rate);
  asr__wr32(p + 28, (uint32_t)((uint64_t)sample_rate * bps * (uint64_t)channels)); /* byte rate */
  asr__wr16(p + 32, (uint32_t)(bps * (size_t)channels));                           /* block align */
  asr__wr16(p + 34, (uint32_t)bits);
  p += 36;
  if (ext) {
    asr__wr16(p, 22);                 /* cbSize */
    asr__wr16(p + 2, (uint32_t)bits); /* valid bits per sample */
    asr__wr32(p + 4, 0);              /* channel mask: no speaker positions */
    asr__wr16(p + 8, (uint32_t)tag);  /* sub-format GUID: the tag, then the fixed tail */
    memcpy(p + 10, guid_tail, 14);
    p += 24;
  }
  memcpy(p, "data", 4);
  asr__wr32(p + 4, (uint32_t)data_bytes);
  p += 8;
  for (i = 0; i < count; i++, p += bps) {
    double u = (double)samples[i] * from_scale;        /* in [-1, 1] */
    if (f == ASR_WAV_FLOAT32) {
      float x = (float)u;
      uint32_t w;
      memcpy(&w, &x, 4);
      asr__wr32(p, w);
    } else if (f == ASR_WAV_FLOAT64) {
      uint64_t w;
      memcpy(&w, &u, 8);
      asr__wr32(p, (uint32_t)w);
      asr__wr32(p + 4, (uint32_t)(w >> 32));
    } else {
      /* round to nearest and saturate at [-2^(bits-1), 2^(bits-1) - 1] */
      double full = ldexp(1.0, bits - 1), v = floor(u * full + 0.5);
      int64_t q;
      if (v > full - 1) v = full - 1;
      if (v < -full) v = -full;
      q = (int64_t)v;
      if (bits == 8) p[0] = (unsigned char)(q + 128);
      else if (bits == 16) asr__wr16(p, (uint32_t)(q & 0xFFFF));
      else if (bits == 24) {
        p[0] = (unsigned char)(q & 0xFF);
        p[1] = (unsigned char)((q >> 8) & 0xFF);
        p[2] = (unsigned char)((q >> 16) & 0xFF);
      } else {
        asr__wr32(p, (uint32_t)(q & 0xFFFFFFFF));
      }
    }
  }
  if (data_bytes & 1u) *p = 0;                          /* pad byte */
  return ASR_OK;
}

ASRDEF asr_result asr_wav_write(const char *path, const asr_real *samples, int frames,
                                int channels, int sample_rate, int format,
                                asr_audio_scale scale, asr_error *err) {
  size_t len;
  void *buf;
  asr_result r = asr_wav_encode(NULL, 0, &len, samples, frames, channels, sample_rate, format, scale);
  if (r != ASR_OK) return asr__fail(err, r, "%s: %s", path, asr_result_string(r));
  buf = ASR_MALLOC(len, NULL);
  if (!buf) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  r = asr_wav_encode(buf, len, &len, samples, frames, channels, sample_rate, format, scale);
  if (r == ASR_OK) r = asr_write_file_atomic(path, buf, len, err);
  ASR_FREE(buf, NULL);
  return r;
}

#ifdef ASR_USE_STB_VORBIS
/* Checks the Vorbis comment header before stb_vorbis reads it. stb_vorbis 1.22 (Debian's)
 * trusts the 32-bit lengths in that header: a vendor or comment length near 2^31, or a
 * comment count near 2^29, overflows its int size arithmetic and it writes outside its
 * buffer (found by tests/fuzz/fuzz_ogg.c). We reassemble the second packet from the Ogg
 * pages (header 27 bytes + segment table; a segment of 255 bytes continues the packet)
 * and require every length to fit in the bytes that are there. */
/* Copies (pkt != NULL) or measures the packet that starts on the second Ogg page. */
ASR__PRIVATE size_t asr__ogg_second_packet(const unsigned char *b, size_t len, unsigned char *pkt) {
  size_t pos = 0, total = 0;
  int page = 0, done = 0;
  while (!done && pos + 27 <= len && memcmp(b + pos, "OggS", 4) == 0) {
    size_t nseg = b[pos + 26], body = pos + 27 + nseg, k;
    if (body > len) break;
    for (k = 0; k < nseg && !done; k++) {
      size_t seg = b[pos + 27 + k];
      if (page >= 1) {                       /* the comment packet starts on the second page */
        size_t avail = body + seg <= len ? seg : (body < len ? len - body : 0);
        if (pkt) memcpy(pkt + total, b + body, avail);
        total += avail;
        if (seg < 255) done = 1;             /* a segment under 255 bytes ends the packet */
      }
      body += seg;
    }
    pos = body;
    page++;
  }
  return total;
}

ASR__PRIVATE asr_result asr__vorbis_check_comments(const unsigned char *b, size_t len, void *user,
                                                   asr_error *err) {
  size_t total = asr__ogg_second_packet(b, len, NULL), off = 7;
  unsigned char *pkt;
  uint32_t n, i;
  asr_result r = ASR_OK;
  if (total < 7) return ASR_OK;              /* stb_vorbis rejects this itself */
  pkt = ASR__ALLOC(unsigned char, total, user);
  if (!pkt) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
  asr__ogg_second_packet(b, len, pkt);
  /* packet type 3, "vorbis", vendor length + vendor, comment count, each length + comment */
  if (off + 4 <= total) {
    n = asr__rd32(pkt + off);
    off += 4;
    if ((size_t)n > total - off || total - off - n < 4) {
      r = asr__fail(err, ASR_ERR_FORMAT, "malformed Vorbis comment header (vendor length %lu)", (unsigned long)n);
    } else {
      off += n;
      n = asr__rd32(pkt + off);
      off += 4;
      if ((size_t)n > (total - off) / 4)
        r = asr__fail(err, ASR_ERR_FORMAT, "malformed Vorbis comment header (%lu comments)", (unsigned long)n);
      for (i = 0; i < n && r == ASR_OK; i++) {
        uint32_t c = off + 4 <= total ? asr__rd32(pkt + off) : 0xFFFFFFFFu;
        off += 4;
        if (off > total || (size_t)c > total - off)
          r = asr__fail(err, ASR_ERR_FORMAT, "malformed Vorbis comment header (comment %lu of length %lu)",
                        (unsigned long)i, (unsigned long)c);
        else off += c;
      }
    }
  }
  ASR_FREE(pkt, user);
  return r;
}

ASRDEF asr_result asr_ogg_parse(const void *buf, size_t len, int channel, asr_audio_scale scale,
                                asr_audio *out, void *user, asr_error *err) {
  stb_vorbis *v;
  stb_vorbis_info info;
  char *mem;
  size_t mem_cap;
  int verr = 0, chans;
  size_t cap, n = 0;
  double to_scale = scale == ASR_SCALE_INT16 ? 32768.0 : 1.0;
  asr_audio a;
  memset(out, 0, sizeof *out);
  memset(&a, 0, sizeof a);
  if (!buf && len) return asr__fail(err, ASR_ERR_INVALID_ARG, "no buffer");
  if (len < 4 || memcmp(buf, "OggS", 4) != 0)
    return asr__fail(err, ASR_ERR_FORMAT, "not an Ogg file (no OggS capture pattern)");
  if (len > 0x7FFFFFFF) return asr__fail(err, ASR_ERR_TOO_LARGE, "Ogg file over 2 GiB");
  {
    asr_result rc = asr__vorbis_check_comments((const unsigned char *)buf, len, user, err);
    if (rc != ASR_OK) return rc;
  }
  /* stb_vorbis takes all its memory from one buffer we give it (so it goes through
   * ASR_MALLOC and nothing can leak on its error paths); "open" says VORBIS_outofmem when
   * the stream's codebooks need more, and we try again with four times the room */
  for (mem_cap = (size_t)256 << 10;; mem_cap *= 4) {
    stb_vorbis_alloc alloc;
    mem = (char *)ASR_MALLOC(mem_cap, user);
    if (!mem) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory for the Vorbis decoder");
    alloc.alloc_buffer = mem;
    alloc.alloc_buffer_length_in_bytes = (int)mem_cap;
    v = stb_vorbis_open_memory((const unsigned char *)buf, (int)len, &verr, &alloc);
    if (v) break;
    ASR_FREE(mem, user);
    if (verr != VORBIS_outofmem || mem_cap >= ((size_t)64 << 20)) {
      if (verr == VORBIS_outofmem)
        return asr__fail(err, ASR_ERR_TOO_LARGE, "the Vorbis stream's setup needs more than 64 MiB");
      return asr__fail(err, ASR_ERR_FORMAT, "not a readable Ogg Vorbis stream (stb_vorbis error %d)", verr);
    }
  }
  info = stb_vorbis_get_info(v);
  chans = info.channels;
  if (chans < 1 || info.sample_rate < 1 || info.sample_rate > 0x7FFFFFFFu) {
    stb_vorbis_close(v), ASR_FREE(mem, user);
    return asr__fail(err, ASR_ERR_FORMAT, "Ogg Vorbis stream with %d channels at %u Hz", chans, info.sample_rate);
  }
  if (channel < ASR_CHANNEL_MIX || channel >= chans) {
    stb_vorbis_close(v), ASR_FREE(mem, user);
    return asr__fail(err, ASR_ERR_RANGE, "channel %d requested, the file has %d", channel, chans);
  }
  a.sample_rate = (int)info.sample_rate;
  a.channels = chans;
  a.bits = 0;
  a.codec = ASR_CODEC_VORBIS;
  cap = 0;
  for (;;) {
    float **pcm = NULL;
    int got, ch, k;
    got = stb_vorbis_get_frame_float(v, &ch, &pcm);   /* one packet: got samples per channel */
    if (got <= 0) break;
    if (ch != chans) break;                           /* a chained stream changed layout: stop */
    if ((size_t)got > (size_t)0x7FFFFFFF - n) {
      stb_vorbis_close(v), ASR_FREE(mem, user);
      ASR_FREE(a.samples, user);
      return asr__fail(err, ASR_ERR_TOO_LARGE, "more than 2^31-1 samples");
    }
    if (n + (size_t)got > cap) {                      /* grow geometrically */
      size_t ncap = ASR__MAX(cap * 2, n + (size_t)got + 4096);
      asr_real *ns;
      if (ncap > 0x7FFFFFFF) ncap = 0x7FFFFFFF;
      ns = ASR__ALLOC(asr_real, ncap, user);
      if (!ns) {
        stb_vorbis_close(v), ASR_FREE(mem, user);
        ASR_FREE(a.samples, user);
        return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory decoding Ogg Vorbis");
      }
      if (n) memcpy(ns, a.samples, sizeof(asr_real) * n);
      ASR_FREE(a.samples, user);
      a.samples = ns;
      cap = ncap;
    }
    for (k = 0; k < got; k++) {
      double s;
      if (channel >= 0) {
        s = pcm[channel][k];
      } else {
        int c;
        s = 0;
        for (c = 0; c < chans; c++) s += pcm[c][k];
        s /= chans;                                   /* the mean of the channels */
      }
      a.samples[n + (size_t)k] = (asr_real)(s * to_scale);
      if (!isfinite(a.samples[n + (size_t)k])) {
        stb_vorbis_close(v), ASR_FREE(mem, user);
        ASR_FREE(a.samples, user);
        return asr__fail(err, ASR_ERR_NONFINITE, "the decoder produced a non-finite sample at %lu", (unsigned long)(n + (size_t)k));
      }
    }
    n += (size_t)got;
  }
  stb_vorbis_close(v), ASR_FREE(mem, user);
  if (!a.samples) {
    a.samples = ASR__ALLOC(asr_real, 1, user);
    if (!a.samples) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
  }
  a.n = (int)n;
  *out = a;
  return ASR_OK;
}
#else
ASRDEF asr_result asr_ogg_parse(const void *buf, size_t len, int channel, asr_audio_scale scale,
                                asr_audio *out, void *user, asr_error *err) {
  (void)buf, (void)len, (void)channel, (void)scale, (void)user;
  memset(out, 0, sizeof *out);
  return asr__fail(err, ASR_ERR_UNSUPPORTED,
                   "Ogg Vorbis support is not compiled in (define ASR_USE_STB_VORBIS where the "
                   "implementation is built and link with -lstb; Debian package libstb-dev)");
}
#endif

ASRDEF asr_result asr_ogg_read(const char *path, int channel, asr_audio_scale scale,
                               asr_audio *out, void *user, asr_error *err) {
  unsigned char *buf;
  size_t len;
  asr_result r;
  memset(out, 0, sizeof *out);
  r = asr_read_file(path, &buf, &len, user, err);
  if (r != ASR_OK) return r;
  r = asr_ogg_parse(buf, len, channel, scale, out, user, err);
  ASR_FREE(buf, user);
  if (r != ASR_OK) asr__prefix_path(err, r, path);
  return r;
}

ASRDEF asr_result asr_audio_parse(const void *buf, size_t len, int channel, asr_audio_scale scale,
                                  asr_audio *out, void *user, asr_error *err) {
  const unsigned char *b = (const unsigned char *)buf;
  memset(out, 0, sizeof *out);
  if (len == 0) return asr__fail(err, ASR_ERR_FORMAT, "empty file");
  if (!buf) return asr__fail(err, ASR_ERR_INVALID_ARG, "no buffer");
  if (len >= 4 && memcmp(b, "OggS", 4) == 0) return asr_ogg_parse(buf, len, channel, scale, out, user, err);
  if (len >= 4 && (memcmp(b, "RIFF", 4) == 0 || memcmp(b, "RIFX", 4) == 0 || memcmp(b, "RF64", 4) == 0))
    return asr_wav_parse(buf, len, channel, scale, out, user, err);
  return asr__fail(err, ASR_ERR_FORMAT, "not a WAV or Ogg Vorbis file");
}

ASRDEF asr_result asr_audio_read(const char *path, int channel, asr_audio_scale scale,
                                 asr_audio *out, void *user, asr_error *err) {
  unsigned char *buf;
  size_t len;
  asr_result r;
  memset(out, 0, sizeof *out);
  r = asr_read_file(path, &buf, &len, user, err);
  if (r != ASR_OK) return r;
  r = asr_audio_parse(buf, len, channel, scale, out, user, err);
  ASR_FREE(buf, user);
  if (r != ASR_OK) asr__prefix_path(err, r, path);
  return r;
}

/* ---- resampling */
ASR__PRIVATE int64_t asr__gcd(int64_t a, int64_t b) {
  while (b) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

ASRDEF int asr_resample_length(int n, int orig_freq, int new_freq) {
  int64_t g, F, Fp, len;
  if (n < 0 || orig_freq < 1 || new_freq < 1) return -1;
  if (orig_freq == new_freq) return n;
  g = asr__gcd(orig_freq, new_freq);
  F = orig_freq / g;
  Fp = new_freq / g;
  len = ((int64_t)n * Fp + F - 1) / F;                  /* ceil(n F' / F) */
  return len > 0x7FFFFFFF ? -1 : (int)len;
}

#define ASR__RESAMPLE_TABLE 512   /* per-phase taps kept on the stack by asr_resample */

ASRDEF double asr_noise_floor(const asr_real *x, int n, int sample_rate) {
  int f = sample_rate / 100 > 0 ? sample_rate / 100 : 1, i, j;
  double best = -1;
  for (i = 0; x && i + f <= n; i += f) {
    double e = 0;
    for (j = 0; j < f; j++) e += (double)x[i + j] * x[i + j];
    e = sqrt(e / f);
    if (best < 0 || e < best) best = e;
  }
  return best < 0 ? 0 : best;
}

/* What both tiers of the resampler share: the checks, the equal-rate copy (returns 1),
 * and the reduced rates F, F', the cutoff fc and the half-width of the window in input
 * samples. Returns 0 to go on, 1 when done, or a negative asr_result. */
typedef struct asr__resampler {
  int64_t F, Fp, width;
  double fc;
  int m;
} asr__resampler;
ASR__PRIVATE int asr__resample_setup(asr__resampler *r, asr_real *y, const asr_real *x, int n, int orig_freq,
                                     int new_freq, int lowpass_filter_width, double rolloff) {
  int64_t g;
  r->m = asr_resample_length(n, orig_freq, new_freq);
  if (r->m < 0 || lowpass_filter_width < 1 || !(rolloff > 0 && rolloff <= 1) || (n > 0 && (!x || !y)))
    return ASR_ERR_INVALID_ARG;
  if (orig_freq == new_freq) {
    if (n) memmove(y, x, sizeof(asr_real) * (size_t)n);
    return 1;
  }
  g = asr__gcd(orig_freq, new_freq);
  r->F = orig_freq / g;
  r->Fp = new_freq / g;
  r->fc = rolloff * (double)ASR__MIN(r->F, r->Fp);
  /* h(tau) vanishes for |fc tau| >= Z, i.e. |i - j F/F'| >= Z F / fc: `width` input samples
   * on each side of the output instant j F / F' (torchaudio's width, same ceiling) */
  r->width = (int64_t)ceil(lowpass_filter_width * (double)r->F / r->fc);
  return 0;
}

ASRDEF asr_result asr_resample_naive(asr_real *y, const asr_real *x, int n, int orig_freq, int new_freq,
                                     int lowpass_filter_width, double rolloff) {
  asr__resampler r;
  int64_t F, Fp, j, width;
  double fc;
  const double pi = 3.14159265358979323846;
  int s = asr__resample_setup(&r, y, x, n, orig_freq, new_freq, lowpass_filter_width, rolloff);
  if (s) return s < 0 ? (asr_result)s : ASR_OK;
  F = r.F, Fp = r.Fp, width = r.width, fc = r.fc;
  for (j = 0; j < r.m; j++) {
    /* output instant in input samples: j F / F'; the window covers i in [lo, hi] */
    int64_t centre = (j * F) / Fp, lo = centre - width, hi = centre + width + 1, i;
    double acc = 0;
    if (lo < 0) lo = 0;
    if (hi > n - 1) hi = n - 1;
    for (i = lo; i <= hi; i++) {
      /* tau = i/F - j/F' as an exact rational (i F' - j F) / (F F'); u = fc tau */
      double u = fc * (double)(i * Fp - j * F) / ((double)F * (double)Fp), h, w;
      if (fabs(u) >= lowpass_filter_width) continue;          /* outside the window */
      w = cos(pi * u / (2.0 * lowpass_filter_width));
      w *= w;                                                   /* Hann: cos^2 */
      h = u == 0 ? 1.0 : sin(pi * u) / (pi * u);               /* sinc(u) */
      acc += (double)x[i] * (fc / (double)F) * h * w;
    }
    y[j] = (asr_real)acc;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_resample(asr_real *y, const asr_real *x, int n, int orig_freq, int new_freq,
                               int lowpass_filter_width, double rolloff) {
  /* The same sum with h and w looked up: for j = q F' + p the taps i = centre + k see
   * i F' - j F = (floor(p F / F') + k) F' - p F, which depends on the phase p and on k
   * only, so F' (2 width + 2) values of each serve every output (torchaudio also computes
   * its kernel once per phase). w < 0 marks a tap outside the window. Rates whose tables
   * do not fit ASR__RESAMPLE_TABLE go to the naive loop. */
  double th[ASR__RESAMPLE_TABLE], tw[ASR__RESAMPLE_TABLE], fc;
  const double pi = 3.14159265358979323846;
  asr__resampler r;
  int64_t F, Fp, j, width, p, k, K;
  int s = asr__resample_setup(&r, y, x, n, orig_freq, new_freq, lowpass_filter_width, rolloff);
  if (s) return s < 0 ? (asr_result)s : ASR_OK;
  F = r.F, Fp = r.Fp, width = r.width, fc = r.fc, K = 2 * width + 2;
  if (Fp * K > ASR__RESAMPLE_TABLE)
    return asr_resample_naive(y, x, n, orig_freq, new_freq, lowpass_filter_width, rolloff);
  for (p = 0; p < Fp; p++)
    for (k = 0; k < K; k++) {
      double u = fc * (double)(((p * F) / Fp + k - width) * Fp - p * F) / ((double)F * (double)Fp), w;
      if (fabs(u) >= lowpass_filter_width) {
        th[p * K + k] = 0, tw[p * K + k] = -1;
        continue;
      }
      w = cos(pi * u / (2.0 * lowpass_filter_width));
      tw[p * K + k] = w * w;
      th[p * K + k] = u == 0 ? 1.0 : sin(pi * u) / (pi * u);
    }
  for (j = 0; j < r.m; j++) {
    int64_t centre = (j * F) / Fp, lo = centre - width, hi = centre + width + 1, i;
    const double *h = th + (j % Fp) * K, *w = tw + (j % Fp) * K;   /* tap k: input centre - width + k */
    double acc = 0;
    if (lo < 0) lo = 0;
    if (hi > n - 1) hi = n - 1;
    for (i = lo; i <= hi; i++) {
      k = i - (centre - width);
      if (w[k] >= 0) acc += (double)x[i] * (fc / (double)F) * h[k] * w[k];
    }
    y[j] = (asr_real)acc;
  }
  return ASR_OK;
}

/* ========================================================================================
 * 3. Features (implementation)
 * ======================================================================================== */

/* Smallest float eps, Kaldi's and torchaudio's floor under every log:
 * std::numeric_limits<float>::epsilon() = 2^-23. */
#define ASR__FLT_EPS 1.1920928955078125e-07
#define ASR__FBANK_MAX_WINDOW (1 << 20)   /* frames beyond 2^20 samples are refused */
#define ASR__FBANK_NAIVE_MAX_N 8192        /* the O(N^2) DFT of _naive stops here */

ASRDEF asr_fbank_opts asr_fbank_opts_default(void) {
  asr_fbank_opts o;
  memset(&o, 0, sizeof o);
  o.sample_frequency = 16000;
  o.frame_length = 25;
  o.frame_shift = 10;
  o.dither = 0;
  o.preemphasis_coefficient = 0.97;
  o.remove_dc_offset = 1;
  o.window_type = ASR_WINDOW_POVEY;
  o.blackman_coeff = 0.42;
  o.round_to_power_of_two = 1;
  o.snip_edges = 1;
  o.num_mel_bins = 23;
  o.low_freq = 20;
  o.high_freq = 0;
  o.use_energy = 0;
  o.raw_energy = 1;
  o.energy_floor = 1;
  o.use_log_fbank = 1;
  o.use_power = 1;
  o.htk_compat = 0;
  o.subtract_mean = 0;
  return o;
}

ASRDEF const char *asr_window_name(asr_window_type w) {
  switch (w) {
    case ASR_WINDOW_POVEY: return "povey";
    case ASR_WINDOW_HAMMING: return "hamming";
    case ASR_WINDOW_HANNING: return "hanning";
    case ASR_WINDOW_RECTANGULAR: return "rectangular";
    case ASR_WINDOW_BLACKMAN: return "blackman";
  }
  return "?";
}

/* mel(f) = 1127 ln(1 + f / 700): the mel scale of HTK and Kaldi (mel-computations.h) */
ASR__PRIVATE double asr__mel(double f) { return 1127.0 * log(1.0 + f / 700.0); }
/* its inverse, f = 700 (exp(mel / 1127) - 1) */
ASR__PRIVATE double asr__mel_inv(double m) { return 700.0 * (exp(m / 1127.0) - 1.0); }

/* Window size and shift in samples: int(fs * ms * 0.001), truncated, as torchaudio computes
 * it in double. (Kaldi computes the same product in float; for the usual rates and frame
 * lengths both give the same integers.) Returns 0 if out of range. */
ASR__PRIVATE int asr__ms_to_samples(double fs, double ms) {
  double v = fs * ms * 0.001;
  if (!(v >= 0) || v > ASR__FBANK_MAX_WINDOW) return -1;
  return (int)v;
}

ASRDEF int asr_fbank_window_size(const asr_fbank_opts *o) {
  return asr__ms_to_samples(o->sample_frequency, o->frame_length);
}
ASRDEF int asr_fbank_window_shift(const asr_fbank_opts *o) {
  return asr__ms_to_samples(o->sample_frequency, o->frame_shift);
}
ASRDEF int asr_fbank_padded_size(const asr_fbank_opts *o) {
  int L = asr_fbank_window_size(o), N = 1;
  if (L < 1) return L;
  if (!o->round_to_power_of_two) return L;
  while (N < L) N *= 2;                   /* the smallest power of two >= L */
  return N;
}
ASRDEF int asr_fbank_dim(const asr_fbank_opts *o) { return o->num_mel_bins + (o->use_energy ? 1 : 0); }

/* high_freq as Kaldi reads it: > 0 is absolute, <= 0 is an offset below Nyquist */
ASR__PRIVATE double asr__fbank_high(const asr_fbank_opts *o) {
  return o->high_freq > 0 ? o->high_freq : 0.5 * o->sample_frequency + o->high_freq;
}

ASRDEF asr_result asr_fbank_check_opts(const asr_fbank_opts *o, asr_error *err) {
  double nyq, hi, mlo, mhi, delta, bin_hz;
  int L, M, N, half, m, k;
  if (!o) return asr__fail(err, ASR_ERR_INVALID_ARG, "no options");
  if (!(o->sample_frequency > 0) || !isfinite(o->sample_frequency))
    return asr__fail(err, ASR_ERR_RANGE, "sample_frequency %g must be positive", o->sample_frequency);
  if (!(o->frame_length > 0) || !isfinite(o->frame_length))
    return asr__fail(err, ASR_ERR_RANGE, "frame_length %g ms must be positive", o->frame_length);
  if (!(o->frame_shift > 0) || !isfinite(o->frame_shift))
    return asr__fail(err, ASR_ERR_RANGE, "frame_shift %g ms must be positive", o->frame_shift);
  L = asr_fbank_window_size(o);
  M = asr_fbank_window_shift(o);
  if (L < 0 || M < 0)
    return asr__fail(err, ASR_ERR_TOO_LARGE, "frames longer than %d samples are not supported", ASR__FBANK_MAX_WINDOW);
  if (L < 2)
    return asr__fail(err, ASR_ERR_RANGE, "frame_length %g ms at %g Hz is %d sample%s; need at least 2",
                     o->frame_length, o->sample_frequency, L, L == 1 ? "" : "s");
  if (M < 1)
    return asr__fail(err, ASR_ERR_RANGE, "frame_shift %g ms at %g Hz is 0 samples", o->frame_shift, o->sample_frequency);
  N = asr_fbank_padded_size(o);
  if (N % 2 != 0)
    return asr__fail(err, ASR_ERR_RANGE,
                     "the FFT size must be even: frame_length %g ms is %d samples "
                     "(set round_to_power_of_two or change frame_length)", o->frame_length, N);
  if (!(o->dither >= 0) || !isfinite(o->dither))
    return asr__fail(err, ASR_ERR_RANGE, "dither %g must be >= 0", o->dither);
  if (!(o->preemphasis_coefficient >= 0 && o->preemphasis_coefficient <= 1))
    return asr__fail(err, ASR_ERR_RANGE, "preemphasis_coefficient %g must be in [0, 1]", o->preemphasis_coefficient);
  if ((int)o->window_type < 0 || (int)o->window_type > (int)ASR_WINDOW_BLACKMAN)
    return asr__fail(err, ASR_ERR_RANGE, "window_type %d is not a window", (int)o->window_type);
  if (!isfinite(o->blackman_coeff))
    return asr__fail(err, ASR_ERR_RANGE, "blackman_coeff must be finite");
  if (!(o->energy_floor >= 0) || !isfinite(o->energy_floor))
    return asr__fail(err, ASR_ERR_RANGE, "energy_floor %g must be >= 0 (0: no floor)", o->energy_floor);
  if (o->num_mel_bins < 3)
    return asr__fail(err, ASR_ERR_RANGE, "num_mel_bins %d: need at least 3 mel bins", o->num_mel_bins);
  half = N / 2;
  if (o->num_mel_bins > half)
    return asr__fail(err, ASR_ERR_RANGE, "num_mel_bins %d is more than the %d FFT bins of a %d-point FFT",
                     o->num_mel_bins, half, N);
  nyq = 0.5 * o->sample_frequency;
  hi = asr__fbank_high(o);
  if (!isfinite(o->low_freq) || !isfinite(o->high_freq) || !(o->low_freq >= 0 && o->low_freq < nyq) ||
      !(hi > 0 && hi <= nyq) || !(o->low_freq < hi))
    return asr__fail(err, ASR_ERR_RANGE,
                     "bad frequency range: low_freq %g and high_freq %g (= %g Hz) with Nyquist %g Hz "
                     "(need 0 <= low < high <= Nyquist)", o->low_freq, o->high_freq, hi, nyq);
  /* Kaldi's MelBanks asserts that every triangle holds at least one FFT bin strictly
   * inside (l_m, r_m); otherwise that output would be log(eps) forever */
  mlo = asr__mel(o->low_freq);
  mhi = asr__mel(hi);
  delta = (mhi - mlo) / (o->num_mel_bins + 1);
  bin_hz = o->sample_frequency / N;
  k = 0;
  for (m = 0; m < o->num_mel_bins; m++) {
    double l = mlo + m * delta, r = mlo + (m + 2) * delta;
    while (k < half && asr__mel(bin_hz * k) <= l) k++;
    if (k >= half || !(asr__mel(bin_hz * k) < r))
      return asr__fail(err, ASR_ERR_RANGE,
                       "num_mel_bins %d is too many for a %d-point FFT between %g and %g Hz: "
                       "mel bin %d holds no FFT bin", o->num_mel_bins, N, o->low_freq, hi, m);
  }
  return ASR_OK;
}

ASRDEF int asr_fbank_num_frames(int n, const asr_fbank_opts *o) {
  int L, M;
  if (n < 0 || asr_fbank_check_opts(o, NULL) != ASR_OK) return -1;
  L = asr_fbank_window_size(o);
  M = asr_fbank_window_shift(o);
  if (o->snip_edges) return n < L ? 0 : 1 + (n - L) / M;   /* only whole frames */
  return (int)(((int64_t)n + M / 2) / M);                 /* frames centred on t M + M/2 */
}

/* ---- the workspace: one layout that serves every tier */
typedef struct asr__fbank_plan {
  int L, M, N, half, B, dim;      /* window, shift, FFT size, N/2, mel bins, columns */
  int Lb;                         /* Bluestein convolution size (0 when N/2 is a power of 2) */
  double *frame;                  /* (N) the current frame */
  double *cbuf;                   /* (N/2 complex) FFT data */
  double *spec;                   /* (N/2 + 1) power or magnitude spectrum */
  double *win;                    /* (L) window */
  double *melw;                   /* (<= N) packed triangle weights */
  double *tw;                     /* (N/2 complex) exp(-2 pi i k / N) */
  double *dft_cos, *dft_sin;      /* (N) cos, sin (2 pi j / N) for _naive */
  double *chirp, *bfft, *abuf, *twb;  /* Bluestein: (N/2), (Lb), (Lb) complex, (Lb/2) complex */
  double *colsum;                 /* (dim) column sums for subtract_mean */
  int *mel_first, *mel_len;       /* (B) first FFT bin and count of each triangle */
} asr__fbank_plan;

ASR__PRIVATE int asr__is_pow2(int x) { return x > 0 && (x & (x - 1)) == 0; }

/* Fills the plan's pointers from base (NULL: just counts) and returns the bytes needed. */
ASR__PRIVATE size_t asr__fbank_layout(const asr_fbank_opts *o, asr__fbank_plan *p, void *base) {
  size_t nd = 0, off;
  unsigned char *b = (unsigned char *)base;
  memset(p, 0, sizeof *p);
  p->L = asr_fbank_window_size(o);
  p->M = asr_fbank_window_shift(o);
  p->N = asr_fbank_padded_size(o);
  p->half = p->N / 2;
  p->B = o->num_mel_bins;
  p->dim = asr_fbank_dim(o);
  if (!asr__is_pow2(p->half)) {
    p->Lb = 1;
    while (p->Lb < 2 * p->half - 1) p->Lb *= 2;          /* circular convolution >= 2M-1 */
  }
  if (b) b += (64 - (size_t)((uintptr_t)b % 64)) % 64;   /* align the doubles */
#define ASR__TAKE(ptr, count) (p->ptr = b ? (double *)(void *)b + nd : NULL, nd += (size_t)(count))
  ASR__TAKE(frame, p->N);
  ASR__TAKE(cbuf, p->N);
  ASR__TAKE(spec, p->half + 1);
  ASR__TAKE(win, p->L);
  ASR__TAKE(melw, p->N);
  ASR__TAKE(tw, p->N);
  ASR__TAKE(dft_cos, p->N);
  ASR__TAKE(dft_sin, p->N);
  ASR__TAKE(chirp, p->Lb ? p->N : 0);
  ASR__TAKE(bfft, 2 * (size_t)p->Lb);
  ASR__TAKE(abuf, 2 * (size_t)p->Lb);
  ASR__TAKE(twb, p->Lb);
  ASR__TAKE(colsum, p->dim);
#undef ASR__TAKE
  off = nd * sizeof(double);
  p->mel_first = b ? (int *)(void *)(b + off) : NULL;
  p->mel_len = b ? (int *)(void *)(b + off) + p->B : NULL;
  return 64 + off + 2 * (size_t)p->B * sizeof(int);
}

ASRDEF size_t asr_fbank_workspace_size(const asr_fbank_opts *o) {
  asr__fbank_plan p;
  if (asr_fbank_check_opts(o, NULL) != ASR_OK) return 0;
  return asr__fbank_layout(o, &p, NULL);
}

/* The argument checks every tier makes before it writes anything. */
ASR__PRIVATE asr_result asr__fbank_args(asr_real *feats, const asr_real *wave, int n,
                                        const asr_fbank_opts *o, asr_rng *rng, void *work,
                                        size_t work_bytes, asr_error *err, asr__fbank_plan *p) {
  asr_result r = asr_fbank_check_opts(o, err);
  int i;
  if (r != ASR_OK) return r;
  if (n < 0 || (n > 0 && !wave)) return asr__fail(err, ASR_ERR_INVALID_ARG, "bad signal (n = %d)", n);
  if (o->dither > 0 && !rng) return asr__fail(err, ASR_ERR_INVALID_ARG, "dither %g needs an asr_rng", o->dither);
  if (!work || work_bytes < asr__fbank_layout(o, p, NULL))
    return asr__fail(err, ASR_ERR_WORKSPACE, "workspace of %lu bytes, %lu needed", (unsigned long)work_bytes,
                     (unsigned long)asr__fbank_layout(o, p, NULL));
  if (asr_fbank_num_frames(n, o) > 0 && !feats) return asr__fail(err, ASR_ERR_INVALID_ARG, "no output buffer");
  for (i = 0; i < n; i++)
    if (!isfinite(wave[i])) return asr__fail(err, ASR_ERR_NONFINITE, "sample %d is not finite", i);
  asr__fbank_layout(o, p, work);
  return ASR_OK;
}

/* Kaldi's mirror at the edges (ExtractWindow): -1 -> 0, -2 -> 1, n -> n-1, repeatedly. */
ASR__PRIVATE int64_t asr__reflect(int64_t s, int64_t n) {
  while (s < 0 || s >= n) s = s < 0 ? -s - 1 : 2 * n - 1 - s;
  return s;
}

/* First sample of frame t (FirstSampleOfFrame in feature-window.cc). */
ASR__PRIVATE int64_t asr__frame_start(int64_t t, const asr__fbank_plan *p, int snip_edges) {
  return snip_edges ? t * p->M : t * p->M + p->M / 2 - p->L / 2;
}

/* Steps shared by the tiers up to the windowing: framing, dither, DC offset, raw energy,
 * pre-emphasis. Returns the raw log-energy (before any floor) or 0 if not asked for. */
ASR__PRIVATE double asr__fbank_prepare_frame(double *x, const asr_real *wave, int n, int64_t t,
                                             const asr_fbank_opts *o, const asr__fbank_plan *p,
                                             asr_rng *rng) {
  int j, L = p->L;
  int64_t start = asr__frame_start(t, p, o->snip_edges);
  double energy = 0;
  for (j = 0; j < L; j++) x[j] = wave[asr__reflect(start + j, n)];        /* framing */
  if (o->dither > 0)
    for (j = 0; j < L; j++) x[j] += o->dither * asr_rng_normal(rng);     /* dither */
  if (o->remove_dc_offset) {
    double mean = 0;
    for (j = 0; j < L; j++) mean += x[j];
    mean /= L;
    for (j = 0; j < L; j++) x[j] -= mean;                                 /* DC offset */
  }
  if (o->use_energy && o->raw_energy) {
    for (j = 0; j < L; j++) energy += x[j] * x[j];                        /* raw energy */
    energy = log(ASR__MAX(energy, ASR__FLT_EPS));
  }
  if (o->preemphasis_coefficient != 0) {
    for (j = L - 1; j > 0; j--) x[j] -= o->preemphasis_coefficient * x[j - 1];
    x[0] -= o->preemphasis_coefficient * x[0];                            /* x[-1] := x[0] */
  }
  return energy;
}

/* Window value w[j] of length L (the formulas of the header, feature-window.cc). */
ASR__PRIVATE double asr__window_value(const asr_fbank_opts *o, int j, int L) {
  double a = 2.0 * 3.14159265358979323846 / (L - 1);
  switch (o->window_type) {
    case ASR_WINDOW_HANNING: return 0.5 - 0.5 * cos(a * j);
    case ASR_WINDOW_HAMMING: return 0.54 - 0.46 * cos(a * j);
    case ASR_WINDOW_POVEY: return pow(0.5 - 0.5 * cos(a * j), 0.85);
    case ASR_WINDOW_RECTANGULAR: return 1.0;
    case ASR_WINDOW_BLACKMAN:
      return o->blackman_coeff - 0.5 * cos(a * j) + (0.5 - o->blackman_coeff) * cos(2 * a * j);
  }
  return 1.0;
}

/* Energy floor, then writes one output row from the mel energies e (B) and log-energy E. */
ASR__PRIVATE void asr__fbank_emit(asr_real *row, const double *e, double E, const asr_fbank_opts *o) {
  int m, off = (o->use_energy && !o->htk_compat) ? 1 : 0;
  for (m = 0; m < o->num_mel_bins; m++)
    row[off + m] = (asr_real)(o->use_log_fbank ? log(ASR__MAX(e[m], ASR__FLT_EPS)) : e[m]);
  if (o->use_energy) {
    if (o->energy_floor > 0 && E < log(o->energy_floor)) E = log(o->energy_floor);
    row[o->htk_compat ? o->num_mel_bins : 0] = (asr_real)E;          /* energy first or last */
  }
}

/* subtract_mean: each column minus its mean over the T frames, sums in double. */
ASR__PRIVATE void asr__subtract_column_mean(asr_real *feats, int T, int dim, double *colsum) {
  int t, d;
  if (T == 0) return;
  for (d = 0; d < dim; d++) colsum[d] = 0;
  for (t = 0; t < T; t++)
    for (d = 0; d < dim; d++) colsum[d] += feats[(size_t)t * dim + d];
  for (t = 0; t < T; t++)
    for (d = 0; d < dim; d++) feats[(size_t)t * dim + d] = (asr_real)(feats[(size_t)t * dim + d] - colsum[d] / T);
}

ASRDEF asr_result asr_fbank_naive(asr_real *feats, const asr_real *wave, int n,
                                  const asr_fbank_opts *o, asr_rng *rng, void *work,
                                  size_t work_bytes, asr_error *err) {
  asr__fbank_plan p;
  asr_result r = asr__fbank_args(feats, wave, n, o, rng, work, work_bytes, err, &p);
  const double two_pi = 2.0 * 3.14159265358979323846;
  double mlo, delta, bin_hz;
  int T, t, j, k, m;
  if (r != ASR_OK) return r;
  if (p.N > ASR__FBANK_NAIVE_MAX_N)
    return asr__fail(err, ASR_ERR_TOO_LARGE, "asr_fbank_naive: a %d-point DFT is too large (max %d)",
                     p.N, ASR__FBANK_NAIVE_MAX_N);
  T = asr_fbank_num_frames(n, o);
  for (j = 0; j < p.N; j++) {        /* the N-th roots of unity, exp(-2 pi i j / N) = cos - i sin */
    p.dft_cos[j] = cos(two_pi * j / p.N);
    p.dft_sin[j] = sin(two_pi * j / p.N);
  }
  mlo = asr__mel(o->low_freq);
  delta = (asr__mel(asr__fbank_high(o)) - mlo) / (p.B + 1);
  bin_hz = o->sample_frequency / p.N;
  for (t = 0; t < T; t++) {
    double *x = p.frame, E = asr__fbank_prepare_frame(x, wave, n, t, o, &p, rng);
    double *e = p.cbuf;                                     /* (B) mel energies */
    for (j = 0; j < p.L; j++) x[j] *= asr__window_value(o, j, p.L);   /* window */
    for (j = p.L; j < p.N; j++) x[j] = 0;                             /* zero padding */
    if (o->use_energy && !o->raw_energy) {
      E = 0;
      for (j = 0; j < p.N; j++) E += x[j] * x[j];
      E = log(ASR__MAX(E, ASR__FLT_EPS));
    }
    for (k = 0; k <= p.half; k++) {
      /* X[k] = sum_j x[j] exp(-2 pi i j k / N), the DFT by its definition */
      double re = 0, im = 0;
      int idx = 0;                                          /* (j k) mod N */
      for (j = 0; j < p.N; j++) {
        re += x[j] * p.dft_cos[idx];
        im -= x[j] * p.dft_sin[idx];
        idx += k;
        if (idx >= p.N) idx -= p.N;
      }
      p.spec[k] = re * re + im * im;                        /* |X[k]|^2 */
      if (!o->use_power) p.spec[k] = sqrt(p.spec[k]);       /* |X[k]| */
    }
    for (k = 0; k < p.half; k++) p.melw[k] = asr__mel(bin_hz * k);   /* mel of FFT bin k */
    for (m = 0; m < p.B; m++) {
      /* e_m = sum_k W[m][k] P[k], each triangle weight computed from its definition */
      double l = mlo + m * delta, c = mlo + (m + 1) * delta, rr = mlo + (m + 2) * delta, s = 0;
      for (k = 0; k < p.half; k++) {
        double mel = p.melw[k], w = 0;
        if (mel > l && mel <= c) w = (mel - l) / (c - l);            /* rising edge */
        else if (mel > c && mel < rr) w = (rr - mel) / (rr - c);     /* falling edge */
        s += w * p.spec[k];
      }
      e[m] = s;
    }
    asr__fbank_emit(feats + (size_t)t * p.dim, e, E, o);
  }
  if (o->subtract_mean) asr__subtract_column_mean(feats, T, p.dim, p.colsum);
  return ASR_OK;
}

/* ---- FFT helpers of _ref.
 * asr__fft_pow2: in-place radix-2 decimation-in-time FFT of m complex numbers z (2m
 * doubles, re/im interleaved), m a power of two, sign -1 (forward). tw holds
 * exp(-2 pi i k / (m stride)) at tw[2k], tw[2k+1] for k < m stride / 2.
 *   Z[k] = sum_j z[j] exp(-2 pi i j k / m)
 * Bit-reversed reordering, then log2(m) passes of butterflies
 *   (a, b) -> (a + w b, a - w b),   w = exp(-2 pi i j / len). */
ASR__PRIVATE void asr__fft_pow2(double *z, int m, const double *tw, int stride) {
  int i, j, len, bit;
  for (i = 1, j = 0; i < m; i++) {              /* bit-reversal permutation */
    for (bit = m >> 1; j & bit; bit >>= 1) j ^= bit;
    j |= bit;
    if (i < j) {
      double tr = z[2 * i], ti = z[2 * i + 1];
      z[2 * i] = z[2 * j];
      z[2 * i + 1] = z[2 * j + 1];
      z[2 * j] = tr;
      z[2 * j + 1] = ti;
    }
  }
  for (len = 2; len <= m; len <<= 1) {
    int half = len >> 1, step = (m / len) * stride;
    for (i = 0; i < m; i += len)
      for (j = 0; j < half; j++) {
        const double wr = tw[2 * j * step], wi = tw[2 * j * step + 1];
        double *a = z + 2 * (i + j), *b = z + 2 * (i + j + half);
        double vr = b[0] * wr - b[1] * wi, vi = b[0] * wi + b[1] * wr;   /* w b */
        b[0] = a[0] - vr;
        b[1] = a[1] - vi;
        a[0] += vr;
        a[1] += vi;
      }
  }
}

/* Bluestein's algorithm for an m-point complex DFT, m any size, through power-of-two FFTs
 * of size Lb >= 2m - 1. With jk = (j^2 + k^2 - (k - j)^2) / 2 and c_j = exp(-pi i j^2 / m):
 *   Z[k] = c_k sum_j (z_j c_j) conj(c_{k-j})      a convolution with the chirp conj(c).
 * chirp (m complex) = c; bfft (Lb complex) = FFT of conj(c) wrapped around; twb the
 * twiddles of size Lb. The inverse FFT is conj(FFT(conj(.))) / Lb. */
ASR__PRIVATE void asr__fft_bluestein(double *z, int m, const asr__fbank_plan *p) {
  int j, Lb = p->Lb;
  double *a = p->abuf;
  for (j = 0; j < 2 * Lb; j++) a[j] = 0;
  for (j = 0; j < m; j++) {                                 /* a_j = z_j c_j */
    double cr = p->chirp[2 * j], ci = p->chirp[2 * j + 1];
    a[2 * j] = z[2 * j] * cr - z[2 * j + 1] * ci;
    a[2 * j + 1] = z[2 * j] * ci + z[2 * j + 1] * cr;
  }
  asr__fft_pow2(a, Lb, p->twb, 1);
  for (j = 0; j < Lb; j++) {                               /* times FFT(conj c), conjugated */
    double ar = a[2 * j], ai = a[2 * j + 1], br = p->bfft[2 * j], bi = p->bfft[2 * j + 1];
    a[2 * j] = ar * br - ai * bi;
    a[2 * j + 1] = -(ar * bi + ai * br);
  }
  asr__fft_pow2(a, Lb, p->twb, 1);                          /* conj of the inverse, times Lb */
  for (j = 0; j < m; j++) {                                 /* Z_k = c_k conv_k */
    double vr = a[2 * j] / Lb, vi = -a[2 * j + 1] / Lb, cr = p->chirp[2 * j], ci = p->chirp[2 * j + 1];
    z[2 * j] = vr * cr - vi * ci;
    z[2 * j + 1] = vr * ci + vi * cr;
  }
}

/* Tables of _ref: window, packed mel triangles, twiddles, Bluestein chirp. */
ASR__PRIVATE void asr__fbank_ref_tables(const asr_fbank_opts *o, asr__fbank_plan *p) {
  const double pi = 3.14159265358979323846;
  double mlo = asr__mel(o->low_freq), delta = (asr__mel(asr__fbank_high(o)) - mlo) / (p->B + 1);
  double bin_hz = o->sample_frequency / p->N;
  int j, k, m, used = 0, M2 = p->half;
  for (j = 0; j < p->L; j++) p->win[j] = asr__window_value(o, j, p->L);
  for (k = 0; k < p->half; k++) {                         /* exp(-2 pi i k / N) */
    p->tw[2 * k] = cos(2 * pi * k / p->N);
    p->tw[2 * k + 1] = -sin(2 * pi * k / p->N);
  }
  for (m = 0; m < p->B; m++) {
    double l = mlo + m * delta, c = mlo + (m + 1) * delta, r = mlo + (m + 2) * delta;
    p->mel_first[m] = -1;
    p->mel_len[m] = 0;
    for (k = 0; k < p->half; k++) {
      double mel = asr__mel(bin_hz * k);
      if (mel > l && mel < r) {              /* inside the triangle: a contiguous run of k */
        if (p->mel_first[m] < 0) p->mel_first[m] = k;
        p->melw[used + p->mel_len[m]++] = mel <= c ? (mel - l) / (c - l) : (r - mel) / (r - c);
      }
    }
    used += p->mel_len[m];                   /* each k lies in at most two triangles: <= N */
  }
  if (p->Lb) {
    for (k = 0; k < p->Lb / 2; k++) {
      p->twb[2 * k] = cos(2 * pi * k / p->Lb);
      p->twb[2 * k + 1] = -sin(2 * pi * k / p->Lb);
    }
    for (j = 0; j < M2; j++) {
      /* c_j = exp(-pi i j^2 / m), with j^2 reduced mod 2m so the angle stays accurate */
      double ang = pi * (double)(((int64_t)j * j) % (2 * (int64_t)M2)) / M2;
      p->chirp[2 * j] = cos(ang);
      p->chirp[2 * j + 1] = -sin(ang);
    }
    for (j = 0; j < 2 * p->Lb; j++) p->bfft[j] = 0;
    for (j = 0; j < M2; j++) {               /* conj(c) at j and, wrapped, at Lb - j */
      p->bfft[2 * j] = p->chirp[2 * j];
      p->bfft[2 * j + 1] = -p->chirp[2 * j + 1];
      if (j > 0) {
        p->bfft[2 * (p->Lb - j)] = p->chirp[2 * j];
        p->bfft[2 * (p->Lb - j) + 1] = -p->chirp[2 * j + 1];
      }
    }
    asr__fft_pow2(p->bfft, p->Lb, p->twb, 1);
  }
}

/* Power spectrum of the real frame x (N) into spec (N/2 + 1), through one N/2-point
 * complex FFT: z_j = x_{2j} + i x_{2j+1}, Z = FFT(z); then with E, O the transforms of the
 * even and odd samples,
 *   E_k = (Z_k + conj Z_{M-k}) / 2,   O_k = (Z_k - conj Z_{M-k}) / (2i),
 *   X_k = E_k + exp(-2 pi i k / N) O_k,   k = 0..M   (M = N/2, Z_M = Z_0, X_M = E_0 - O_0). */
ASR__PRIVATE void asr__real_fft_power(const double *x, const asr__fbank_plan *p, int use_power) {
  int k, M2 = p->half;
  double *z = p->cbuf;
  for (k = 0; k < p->N; k++) z[k] = x[k];                   /* pairs (x_2j, x_2j+1) = z_j */
  if (p->Lb) asr__fft_bluestein(z, M2, p);
  else asr__fft_pow2(z, M2, p->tw, 2);                      /* exp(-2 pi i k / M) = tw[2k] */
  for (k = 0; k <= M2; k++) {
    int a = k % M2, b = (M2 - k) % M2;
    double zr = z[2 * a], zi = z[2 * a + 1], cr = z[2 * b], ci = -z[2 * b + 1];   /* Z_k, conj Z_{M-k} */
    double er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci);      /* E_k */
    double orr = 0.5 * (zi - ci), oi = -0.5 * (zr - cr);    /* O_k = (Z_k - conj Z_{M-k}) / 2i */
    double wr = k < M2 ? p->tw[2 * k] : -1.0, wi = k < M2 ? p->tw[2 * k + 1] : 0.0;
    double xr = er + wr * orr - wi * oi, xi = ei + wr * oi + wi * orr;
    p->spec[k] = xr * xr + xi * xi;
    if (!use_power) p->spec[k] = sqrt(p->spec[k]);
  }
}

ASRDEF asr_result asr_fbank_ref(asr_real *feats, const asr_real *wave, int n,
                                const asr_fbank_opts *o, asr_rng *rng, void *work,
                                size_t work_bytes, asr_error *err) {
  asr__fbank_plan p;
  asr_result r = asr__fbank_args(feats, wave, n, o, rng, work, work_bytes, err, &p);
  int T, t, j, m;
  if (r != ASR_OK) return r;
  T = asr_fbank_num_frames(n, o);
  asr__fbank_ref_tables(o, &p);
  for (t = 0; t < T; t++) {
    double *x = p.frame, E = asr__fbank_prepare_frame(x, wave, n, t, o, &p, rng);
    const double *w = p.melw;
    for (j = 0; j < p.L; j++) x[j] *= p.win[j];             /* window */
    for (j = p.L; j < p.N; j++) x[j] = 0;                   /* zero padding */
    if (o->use_energy && !o->raw_energy) {
      E = 0;
      for (j = 0; j < p.L; j++) E += x[j] * x[j];
      E = log(ASR__MAX(E, ASR__FLT_EPS));
    }
    asr__real_fft_power(x, &p, o->use_power);
    for (m = 0; m < p.B; m++) {                             /* e_m = sum_k W[m][k] P[k] */
      const double *P = p.spec + p.mel_first[m];
      double s = 0;
      int k;
      for (k = 0; k < p.mel_len[m]; k++) s += w[k] * P[k];
      w += p.mel_len[m];
      p.frame[m] = s;      /* the frame is no longer needed: reuse it for e (B <= N/2) */
    }
    asr__fbank_emit(feats + (size_t)t * p.dim, p.frame, E, o);
  }
  if (o->subtract_mean) asr__subtract_column_mean(feats, T, p.dim, p.colsum);
  return ASR_OK;
}

ASRDEF asr_result asr_fbank(asr_real *feats, const asr_real *wave, int n, const asr_fbank_opts *o,
                            asr_rng *rng, void *work, size_t work_bytes, asr_error *err) {
  return asr_fbank_ref(feats, wave, n, o, rng, work, work_bytes, err);
}

ASRDEF asr_result asr_fbank_window(asr_real *w, const asr_fbank_opts *o, asr_error *err) {
  int j, L;
  asr_result r = asr_fbank_check_opts(o, err);
  if (r != ASR_OK) return r;
  if (!w) return asr__fail(err, ASR_ERR_INVALID_ARG, "no output buffer");
  L = asr_fbank_window_size(o);
  for (j = 0; j < L; j++) w[j] = (asr_real)asr__window_value(o, j, L);
  return ASR_OK;
}

ASRDEF asr_result asr_fbank_mel_banks(asr_real *W, asr_real *centre_hz, const asr_fbank_opts *o,
                                      asr_error *err) {
  double mlo, delta, bin_hz;
  int N, half, m, k;
  asr_result r = asr_fbank_check_opts(o, err);
  if (r != ASR_OK) return r;
  if (!W) return asr__fail(err, ASR_ERR_INVALID_ARG, "no output buffer");
  N = asr_fbank_padded_size(o);
  half = N / 2;
  mlo = asr__mel(o->low_freq);
  delta = (asr__mel(asr__fbank_high(o)) - mlo) / (o->num_mel_bins + 1);
  bin_hz = o->sample_frequency / N;
  for (m = 0; m < o->num_mel_bins; m++) {
    double l = mlo + m * delta, c = l + delta, rr = mlo + (m + 2) * delta;
    asr_real *row = W + (size_t)m * (half + 1);
    for (k = 0; k <= half; k++) {
      double mel = asr__mel(bin_hz * k), w = 0;
      if (k < half && mel > l && mel <= c) w = (mel - l) / (c - l);
      else if (k < half && mel > c && mel < rr) w = (rr - mel) / (rr - c);
      row[k] = (asr_real)w;
    }
    if (centre_hz) centre_hz[m] = (asr_real)asr__mel_inv(mlo + (m + 1) * delta);
  }
  return ASR_OK;
}

/* ---- CMVN */
ASRDEF void asr_cmvn(asr_real *feats, int T, int D, int norm_vars) {
  int t, d;
  if (T <= 0 || D <= 0 || !feats) return;
  for (d = 0; d < D; d++) {
    double s = 0, s2 = 0, mu, var, inv = 1;
    for (t = 0; t < T; t++) {
      double v = feats[(size_t)t * D + d];
      s += v;
      s2 += v * v;
    }
    mu = s / T;                                           /* mu_d */
    if (norm_vars) {
      var = s2 / T - mu * mu;                             /* sigma_d^2 = E[x^2] - mu^2 */
      if (var < 1e-20) var = 1e-20;                       /* Kaldi's floor */
      inv = 1.0 / sqrt(var);
    }
    for (t = 0; t < T; t++) {
      asr_real *v = &feats[(size_t)t * D + d];
      *v = (asr_real)(((double)*v - mu) * inv);
    }
  }
}

/* ---- SpecAugment */
ASRDEF asr_specaug_opts asr_specaug_opts_default(void) {
  asr_specaug_opts o;
  o.num_freq_masks = 1;
  o.freq_mask_param = 27;
  o.num_time_masks = 1;
  o.time_mask_param = 100;
  o.time_mask_ratio = 1.0;
  o.time_warp = 80;
  o.mask_value = 0;
  return o;
}

ASRDEF size_t asr_specaugment_workspace_size(int T, int D, const asr_specaug_opts *o) {
  size_t n;
  if (!o || o->time_warp <= 0 || T <= 0 || D <= 0) return 0;
  if (asr_size_mul((size_t)T, (size_t)D, &n) != ASR_OK || asr_size_mul(n, sizeof(asr_real), &n) != ASR_OK)
    return 0;
  return n;
}

ASRDEF asr_result asr_specaugment(asr_real *feats, int T, int D, const asr_specaug_opts *o,
                                  asr_rng *rng, void *work, size_t work_bytes) {
  int i, t, d;
  if (!o || T < 0 || D < 1 || (T > 0 && !feats) || o->num_freq_masks < 0 || o->freq_mask_param < 0 ||
      o->num_time_masks < 0 || o->time_mask_param < 0 || o->time_warp < 0 ||
      !(o->time_mask_ratio >= 0 && o->time_mask_ratio <= 1) || !rng)
    return ASR_ERR_INVALID_ARG;
  if (T == 0) return ASR_OK;
  /* time warp: [0, w0] -> [0, w0 + w] and [w0, T-1] -> [w0 + w, T-1], linearly; needs
   * room for w0 in (W, T - W), i.e. T >= 2W + 2 (shorter inputs are left unwarped) */
  if (o->time_warp > 0 && T >= 2 * o->time_warp + 2) {
    int W = o->time_warp;
    int w0 = W + 1 + asr_rng_int(rng, T - 2 * W - 1);        /* w0 in {W+1 .. T-W-1} */
    int w = asr_rng_int(rng, 2 * W + 1) - W;                  /* w in {-W .. W} */
    asr_real *src = (asr_real *)work;
    if (!work || work_bytes < asr_specaugment_workspace_size(T, D, o)) return ASR_ERR_WORKSPACE;
    memcpy(src, feats, sizeof(asr_real) * (size_t)T * D);
    for (t = 0; t < T; t++) {
      double s, a;
      int s0;
      if (t <= w0 + w) s = (double)t * w0 / (w0 + w);                 /* left part */
      else s = w0 + (double)(t - w0 - w) * (T - 1 - w0) / (T - 1 - w0 - w);  /* right */
      s0 = (int)floor(s);
      if (s0 >= T - 1) s0 = T - 2;
      a = s - s0;                                                      /* interpolate */
      for (d = 0; d < D; d++)
        feats[(size_t)t * D + d] = (asr_real)((1 - a) * src[(size_t)s0 * D + d] + a * src[(size_t)(s0 + 1) * D + d]);
    }
  }
  for (i = 0; i < o->num_freq_masks; i++) {
    int f = asr_rng_int(rng, ASR__MIN(o->freq_mask_param, D) + 1);   /* f in {0..F} */
    int f0 = asr_rng_int(rng, D - f + 1);                              /* f0 in {0..nu-f} */
    for (t = 0; t < T; t++)
      for (d = f0; d < f0 + f; d++) feats[(size_t)t * D + d] = o->mask_value;
  }
  for (i = 0; i < o->num_time_masks; i++) {
    int bound = ASR__MIN(o->time_mask_param, (int)floor(o->time_mask_ratio * T));  /* min(T, p tau) */
    int len = asr_rng_int(rng, bound + 1);                             /* t in {0..bound} */
    int t0 = asr_rng_int(rng, T - len + 1);                            /* t0 in {0..tau-t} */
    for (t = t0; t < t0 + len; t++)
      for (d = 0; d < D; d++) feats[(size_t)t * D + d] = o->mask_value;
  }
  return ASR_OK;
}

/* ========================================================================================
 * 4. Layers (implementation)
 * ======================================================================================== */

/* ---------------------------------------------------------------------------------------
 * 4.1 Basic layers (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---- linear */
ASR__PRIVATE asr_result asr__linear_check(const void *out, const void *x, const void *W, int M,
                                          int I, int O) {
  if (!out || !x || !W || M < 0 || I < 0 || O < 0) return ASR_ERR_INVALID_ARG;
  return ASR_OK;
}

/* Y = X W^T (+ b): one GEMM with op(B) = W^T, then the bias row added to every row. */
ASR__PRIVATE asr_result asr__linear_forward(asr_real *y, const asr_real *x, const asr_real *W,
                                            const asr_real *b, int M, int I, int O, int fast) {
  int m, o;
  asr_result r = asr__linear_check(y, x, W, M, I, O);
  if (r != ASR_OK) return r;
  if (M == 0 || O == 0) return ASR_OK;
  if (fast) asr_gemm(0, 1, M, O, I, 1, x, I, W, I, 0, y, O);
  else asr_gemm_ref(0, 1, M, O, I, 1, x, I, W, I, 0, y, O);
  if (b)
    for (m = 0; m < M; m++)
      for (o = 0; o < O; o++) y[(size_t)m * O + o] += b[o];   /* + b_o */
  return ASR_OK;
}

ASRDEF asr_result asr_linear_forward_ref(asr_real *y, const asr_real *x, const asr_real *W,
                                         const asr_real *b, int M, int I, int O) {
  return asr__linear_forward(y, x, W, b, M, I, O, 0);
}
ASRDEF asr_result asr_linear_forward(asr_real *y, const asr_real *x, const asr_real *W,
                                     const asr_real *b, int M, int I, int O) {
  return asr__linear_forward(y, x, W, b, M, I, O, 1);
}

ASR__PRIVATE asr_result asr__linear_backward(asr_real *dx, asr_real *dW, asr_real *db,
                                             const asr_real *dy, const asr_real *x,
                                             const asr_real *W, int M, int I, int O, int fast) {
  void (*gemm)(int, int, int, int, int, asr_real, const asr_real *, int, const asr_real *, int,
               asr_real, asr_real *, int) = fast ? asr_gemm : asr_gemm_ref;
  int m, o;
  asr_result r = asr__linear_check(dy, x, W, M, I, O);
  if (r != ASR_OK) return r;
  if (M == 0) return ASR_OK;
  if (dx && I > 0 && O > 0) gemm(0, 0, M, I, O, 1, dy, O, W, I, 1, dx, I);     /* dX += dY W */
  if (dW && I > 0 && O > 0) gemm(1, 0, O, I, M, 1, dy, O, x, I, 1, dW, I);     /* dW += dY^T X */
  if (db)
    for (o = 0; o < O; o++) {
      double s = 0;                                    /* db_o += sum_m dy_mo, in double */
      for (m = 0; m < M; m++) s += dy[(size_t)m * O + o];
      db[o] += (asr_real)s;
    }
  return ASR_OK;
}

ASRDEF asr_result asr_linear_backward_ref(asr_real *dx, asr_real *dW, asr_real *db,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *W, int M, int I, int O) {
  return asr__linear_backward(dx, dW, db, dy, x, W, M, I, O, 0);
}
ASRDEF asr_result asr_linear_backward(asr_real *dx, asr_real *dW, asr_real *db,
                                      const asr_real *dy, const asr_real *x, const asr_real *W,
                                      int M, int I, int O) {
  return asr__linear_backward(dx, dW, db, dy, x, W, M, I, O, 1);
}

/* ---- embedding */
ASRDEF asr_result asr_embedding_forward(asr_real *y, const int *ids, const asr_real *W, int M,
                                        int V, int D) {
  int m;
  if (!y || !ids || !W || M < 0 || V < 0 || D < 0) return ASR_ERR_INVALID_ARG;
  for (m = 0; m < M; m++)                    /* validate every id before writing anything */
    if (ids[m] < 0 || ids[m] >= V) return ASR_ERR_RANGE;
  for (m = 0; m < M; m++)                    /* y_m = W[ids_m]: a row copy */
    memcpy(y + (size_t)m * D, W + (size_t)ids[m] * D, sizeof(asr_real) * (size_t)D);
  return ASR_OK;
}

ASRDEF asr_result asr_embedding_backward(asr_real *dW, const asr_real *dy, const int *ids, int M,
                                         int V, int D, int padding_idx) {
  int m, d;
  if (!dy || !ids || M < 0 || V < 0 || D < 0) return ASR_ERR_INVALID_ARG;
  for (m = 0; m < M; m++)
    if (ids[m] < 0 || ids[m] >= V) return ASR_ERR_RANGE;
  if (!dW) return ASR_OK;
  for (m = 0; m < M; m++) {
    asr_real *g = dW + (size_t)ids[m] * D;
    const asr_real *e = dy + (size_t)m * D;
    if (ids[m] == padding_idx) continue;     /* torch: the padding row gets no gradient */
    for (d = 0; d < D; d++) g[d] += e[d];    /* a scatter-add: repeated ids accumulate */
  }
  return ASR_OK;
}

/* ---- activations */
/* sigmoid in double without overflow: for x < 0 use e^x / (1 + e^x) */
ASR__PRIVATE double asr__sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  {
    double e = exp(x);
    return e / (1.0 + e);
  }
}

ASRDEF void asr_relu_forward(asr_real *y, const asr_real *x, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : (asr_real)0;
}
ASRDEF void asr_relu_backward(asr_real *dx, const asr_real *dy, const asr_real *x, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (x[i] > 0) dx[i] += dy[i];            /* the subgradient at 0 is taken as 0 */
}
ASRDEF void asr_sigmoid_forward(asr_real *y, const asr_real *x, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) y[i] = (asr_real)asr__sigmoid(x[i]);
}
ASRDEF void asr_sigmoid_backward(asr_real *dx, const asr_real *dy, const asr_real *y, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1 - y[i]);   /* s' = s (1 - s) */
}
ASRDEF void asr_tanh_forward(asr_real *y, const asr_real *x, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) y[i] = (asr_real)tanh((double)x[i]);
}
ASRDEF void asr_tanh_backward(asr_real *dx, const asr_real *dy, const asr_real *y, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) dx[i] += dy[i] * (1 - y[i] * y[i]);   /* tanh' = 1 - tanh^2 */
}
ASRDEF void asr_swish_forward(asr_real *y, const asr_real *x, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) y[i] = (asr_real)((double)x[i] * asr__sigmoid(x[i]));
}
ASRDEF void asr_swish_backward(asr_real *dx, const asr_real *dy, const asr_real *x, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    double s = asr__sigmoid(x[i]);
    /* d/dx x s(x) = s + x s (1 - s) */
    dx[i] += (asr_real)((double)dy[i] * (s + (double)x[i] * s * (1 - s)));
  }
}

/* ---- GLU: x viewed as (outer, 2C, inner); a = first C channels, b = the last C */
ASRDEF asr_result asr_glu_forward(asr_real *y, const asr_real *x, int outer, int C, int inner) {
  int o, c, i;
  if (!y || !x || outer < 0 || C < 0 || inner < 0) return ASR_ERR_INVALID_ARG;
  for (o = 0; o < outer; o++)
    for (c = 0; c < C; c++) {
      const asr_real *a = x + ((size_t)o * 2 * C + c) * inner;       /* a = x[o, c, :] */
      const asr_real *b = a + (size_t)C * inner;                      /* b = x[o, C + c, :] */
      asr_real *yy = y + ((size_t)o * C + c) * inner;
      for (i = 0; i < inner; i++) yy[i] = (asr_real)(a[i] * asr__sigmoid(b[i]));
    }
  return ASR_OK;
}

ASRDEF asr_result asr_glu_backward(asr_real *dx, const asr_real *dy, const asr_real *x, int outer,
                                   int C, int inner) {
  int o, c, i;
  if (!dy || !x || outer < 0 || C < 0 || inner < 0) return ASR_ERR_INVALID_ARG;
  if (!dx) return ASR_OK;
  for (o = 0; o < outer; o++)
    for (c = 0; c < C; c++) {
      size_t ia = ((size_t)o * 2 * C + c) * inner, ib = ia + (size_t)C * inner;
      const asr_real *g = dy + ((size_t)o * C + c) * inner;
      for (i = 0; i < inner; i++) {
        double s = asr__sigmoid(x[ib + i]);
        dx[ia + i] += (asr_real)(g[i] * s);                          /* dy/da = s(b) */
        dx[ib + i] += (asr_real)(g[i] * x[ia + i] * s * (1 - s));   /* dy/db = a s (1 - s) */
      }
    }
  return ASR_OK;
}

/* ---- dropout */
ASRDEF asr_result asr_dropout_forward(asr_real *y, unsigned char *mask, const asr_real *x, size_t n,
                                      double p, asr_rng *rng) {
  size_t i;
  double scale;
  if (!y || !mask || !x || !rng || !(p >= 0 && p <= 1)) return ASR_ERR_INVALID_ARG;
  scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;       /* inverted dropout: E[y] = x */
  for (i = 0; i < n; i++) {
    mask[i] = (unsigned char)(asr_rng_uniform(rng) >= p);   /* keep with probability 1 - p */
    y[i] = mask[i] ? (asr_real)(x[i] * scale) : (asr_real)0;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_dropout_backward(asr_real *dx, const asr_real *dy, const unsigned char *mask,
                                       size_t n, double p) {
  size_t i;
  double scale;
  if (!dy || !mask || !(p >= 0 && p <= 1)) return ASR_ERR_INVALID_ARG;
  if (!dx) return ASR_OK;
  scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
  for (i = 0; i < n; i++)
    if (mask[i]) dx[i] += (asr_real)(dy[i] * scale);         /* the same mask, the same scale */
  return ASR_OK;
}

/* ---- layer norm */
ASRDEF asr_result asr_layer_norm_forward(asr_real *y, asr_real *mean, asr_real *rstd,
                                         const asr_real *x, const asr_real *gamma,
                                         const asr_real *beta, int M, int C, double eps) {
  int m, c;
  if (!y || !mean || !rstd || !x || M < 0 || C <= 0 || !(eps >= 0)) return ASR_ERR_INVALID_ARG;
  for (m = 0; m < M; m++) {
    const asr_real *xr = x + (size_t)m * C;
    asr_real *yr = y + (size_t)m * C;
    double mu = 0, var = 0, rs;
    for (c = 0; c < C; c++) mu += xr[c];
    mu /= C;                                                  /* mu_m */
    for (c = 0; c < C; c++) var += ((double)xr[c] - mu) * ((double)xr[c] - mu);
    var /= C;                                                 /* biased variance, as torch */
    rs = 1.0 / sqrt(var + eps);
    mean[m] = (asr_real)mu;
    rstd[m] = (asr_real)rs;
    for (c = 0; c < C; c++) {
      double xh = ((double)xr[c] - mu) * rs;                  /* xhat */
      yr[c] = (asr_real)((gamma ? gamma[c] : 1) * xh + (beta ? beta[c] : 0));
    }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_layer_norm_backward(asr_real *dx, asr_real *dgamma, asr_real *dbeta,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *mean, const asr_real *rstd,
                                          const asr_real *gamma, int M, int C) {
  int m, c;
  if (!dy || !x || !mean || !rstd || M < 0 || C <= 0) return ASR_ERR_INVALID_ARG;
  for (m = 0; m < M; m++) {
    const asr_real *xr = x + (size_t)m * C, *g = dy + (size_t)m * C;
    double mu = mean[m], rs = rstd[m], sg = 0, sgx = 0;
    for (c = 0; c < C; c++) {
      double xh = ((double)xr[c] - mu) * rs, gc = (double)g[c] * (gamma ? gamma[c] : 1);
      sg += gc;                                               /* sum_c g_c */
      sgx += gc * xh;                                         /* sum_c g_c xhat_c */
      if (dgamma) dgamma[c] += (asr_real)(g[c] * xh);
      if (dbeta) dbeta[c] += g[c];
    }
    if (dx) {
      asr_real *d = dx + (size_t)m * C;
      sg /= C;
      sgx /= C;
      for (c = 0; c < C; c++) {
        double xh = ((double)xr[c] - mu) * rs, gc = (double)g[c] * (gamma ? gamma[c] : 1);
        d[c] += (asr_real)(rs * (gc - sg - xh * sgx));        /* the projected gradient */
      }
    }
  }
  return ASR_OK;
}

/* ---- batch norm over (N,C,T) */
ASRDEF asr_result asr_batch_norm_forward(asr_real *y, asr_real *mean, asr_real *rstd,
                                         asr_real *running_mean, asr_real *running_var,
                                         const asr_real *x, const asr_real *gamma,
                                         const asr_real *beta, const int *lengths, int N, int C,
                                         int T, int training, double momentum, double eps) {
  int n, c, t;
  if (!y || !mean || !rstd || !x || N < 0 || C <= 0 || T < 0 || !(eps >= 0) ||
      !(momentum >= 0 && momentum <= 1))
    return ASR_ERR_INVALID_ARG;
  if (!training && (!running_mean || !running_var)) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (n = 0; n < N; n++)
      if (lengths[n] < 0 || lengths[n] > T) return ASR_ERR_RANGE;
  if (training) {
    long cnt = 0;                        /* n of the equations: valid frames per channel */
    for (n = 0; n < N; n++) cnt += lengths ? lengths[n] : T;
    if (cnt < 2) return ASR_ERR_SHAPE;   /* torch: "Expected more than 1 value per channel" */
    for (c = 0; c < C; c++) {
      double mu = 0, var = 0;
      for (n = 0; n < N; n++) {
        const asr_real *xr = x + ((size_t)n * C + c) * T;
        int L = lengths ? lengths[n] : T;
        for (t = 0; t < L; t++) mu += xr[t];
      }
      mu /= (double)cnt;                                      /* mu_c */
      for (n = 0; n < N; n++) {
        const asr_real *xr = x + ((size_t)n * C + c) * T;
        int L = lengths ? lengths[n] : T;
        for (t = 0; t < L; t++) var += ((double)xr[t] - mu) * ((double)xr[t] - mu);
      }
      var /= (double)cnt;                                     /* biased: used to normalize */
      mean[c] = (asr_real)mu;
      rstd[c] = (asr_real)(1.0 / sqrt(var + eps));
      if (running_mean)                                       /* torch's momentum update */
        running_mean[c] = (asr_real)((1 - momentum) * running_mean[c] + momentum * mu);
      if (running_var)                                        /* ... with the unbiased var */
        running_var[c] = (asr_real)((1 - momentum) * running_var[c] +
                                    momentum * var * (double)cnt / (double)(cnt - 1));
    }
  } else {
    for (c = 0; c < C; c++) {
      if (!(running_var[c] + eps > 0)) return ASR_ERR_RANGE;  /* would divide by zero */
      mean[c] = running_mean[c];
      rstd[c] = (asr_real)(1.0 / sqrt((double)running_var[c] + eps));
    }
  }
  for (n = 0; n < N; n++)
    for (c = 0; c < C; c++) {
      const asr_real *xr = x + ((size_t)n * C + c) * T;
      asr_real *yr = y + ((size_t)n * C + c) * T;
      int L = lengths ? lengths[n] : T;
      double g = gamma ? gamma[c] : 1, b = beta ? beta[c] : 0;
      for (t = 0; t < L; t++) yr[t] = (asr_real)(g * (((double)xr[t] - mean[c]) * rstd[c]) + b);
      for (t = L; t < T; t++) yr[t] = 0;                      /* padding stays 0 */
    }
  return ASR_OK;
}

ASRDEF asr_result asr_batch_norm_backward(asr_real *dx, asr_real *dgamma, asr_real *dbeta,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *mean, const asr_real *rstd,
                                          const asr_real *gamma, const int *lengths, int N, int C,
                                          int T, int training) {
  int n, c, t;
  long cnt = 0;
  if (!dy || !x || !mean || !rstd || N < 0 || C <= 0 || T < 0) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (n = 0; n < N; n++)
      if (lengths[n] < 0 || lengths[n] > T) return ASR_ERR_RANGE;
  for (n = 0; n < N; n++) cnt += lengths ? lengths[n] : T;
  for (c = 0; c < C; c++) {
    double mu = mean[c], rs = rstd[c], gm = gamma ? gamma[c] : 1, sg = 0, sgx = 0;
    for (n = 0; n < N; n++) {
      const asr_real *xr = x + ((size_t)n * C + c) * T, *g = dy + ((size_t)n * C + c) * T;
      int L = lengths ? lengths[n] : T;
      for (t = 0; t < L; t++) {
        double xh = ((double)xr[t] - mu) * rs;
        sg += g[t];                                           /* sum dy */
        sgx += g[t] * xh;                                     /* sum dy xhat */
      }
    }
    if (dgamma) dgamma[c] += (asr_real)sgx;
    if (dbeta) dbeta[c] += (asr_real)sg;
    if (!dx || cnt == 0) continue;
    sg /= (double)cnt;                                        /* mean(dy) */
    sgx /= (double)cnt;                                       /* mean(dy xhat) */
    for (n = 0; n < N; n++) {
      const asr_real *xr = x + ((size_t)n * C + c) * T, *g = dy + ((size_t)n * C + c) * T;
      asr_real *d = dx + ((size_t)n * C + c) * T;
      int L = lengths ? lengths[n] : T;
      for (t = 0; t < L; t++) {
        double xh = ((double)xr[t] - mu) * rs;
        if (training)   /* mu and var depend on x: subtract their share of the gradient */
          d[t] += (asr_real)(gm * rs * ((double)g[t] - sg - xh * sgx));
        else            /* running statistics are constants */
          d[t] += (asr_real)(gm * rs * (double)g[t]);
      }
    }
  }
  return ASR_OK;
}

/* ---- softmax cross-entropy with label smoothing */
ASRDEF asr_result asr_cross_entropy_forward(asr_real *loss, asr_real *logp, int *count,
                                            const asr_real *logits, const int *targets, int M,
                                            int V, double label_smoothing, int ignore_index) {
  int m, v, cnt = 0;
  double eps = label_smoothing;
  if (!loss || !logp || !logits || !targets || M < 0 || V <= 0 || !(eps >= 0 && eps <= 1))
    return ASR_ERR_INVALID_ARG;
  for (m = 0; m < M; m++)
    if (targets[m] != ignore_index && (targets[m] < 0 || targets[m] >= V)) return ASR_ERR_RANGE;
  if (!asr_all_finite(logits, (size_t)M * V)) return ASR_ERR_NONFINITE;
  for (m = 0; m < M; m++) {
    asr_real *lp = logp + (size_t)m * V;
    double sum = 0;
    asr_log_softmax(lp, logits + (size_t)m * V, V);           /* logp = x - logsumexp(x) */
    if (targets[m] == ignore_index) {
      loss[m] = 0;                                            /* ignored: no loss */
      continue;
    }
    for (v = 0; v < V; v++) sum += lp[v];
    /* -(1 - eps) logp_y - (eps / V) sum_v logp_v */
    loss[m] = (asr_real)(-(1 - eps) * lp[targets[m]] - eps / V * sum);
    cnt++;
  }
  if (count) *count = cnt;
  return ASR_OK;
}

ASRDEF asr_result asr_cross_entropy_backward(asr_real *dlogits, const asr_real *dloss,
                                             const asr_real *logp, const int *targets, int M,
                                             int V, double label_smoothing, int ignore_index) {
  int m, v;
  double eps = label_smoothing;
  if (!dloss || !logp || !targets || M < 0 || V <= 0 || !(eps >= 0 && eps <= 1))
    return ASR_ERR_INVALID_ARG;
  for (m = 0; m < M; m++)
    if (targets[m] != ignore_index && (targets[m] < 0 || targets[m] >= V)) return ASR_ERR_RANGE;
  if (!dlogits) return ASR_OK;
  for (m = 0; m < M; m++) {
    const asr_real *lp = logp + (size_t)m * V;
    asr_real *d = dlogits + (size_t)m * V;
    if (targets[m] == ignore_index) continue;
    for (v = 0; v < V; v++) {
      /* q_v = (1 - eps) [v == y] + eps / V;  dloss/dlogit_v = softmax_v - q_v */
      double q = (v == targets[m] ? 1 - eps : 0) + eps / V;
      d[v] += (asr_real)(dloss[m] * (exp((double)lp[v]) - q));
    }
  }
  return ASR_OK;
}

/* ---------------------------------------------------------------------------------------
 * 4.2 Convolutions, SE, ContextNet (implementation)
 * --------------------------------------------------------------------------------------- */

/* ---- conv1d: sizes */
ASRDEF void asr_conv1d_dims_init(asr_conv1d_dims *d, int N, int C_in, int C_out, int T_in, int K) {
  d->N = N;
  d->C_in = C_in;
  d->C_out = C_out;
  d->T_in = T_in;
  d->K = K;
  d->stride = 1;
  d->padding = 0;
  d->dilation = 1;
  d->groups = 1;
}

ASRDEF int asr_conv1d_out_frames(int T, int K, int stride, int padding, int dilation) {
  /* the receptive field of one output spans D (K-1) + 1 input frames */
  long span = (long)dilation * (K - 1) + 1, avail = (long)T + 2L * padding;
  if (T <= 0 || stride < 1 || span > avail) return 0;
  return (int)((avail - span) / stride + 1);
}

ASRDEF void asr_conv1d_out_lengths(int *out, const int *lengths, const asr_conv1d_dims *d) {
  int n, T_out = asr_conv1d_out_frames(d->T_in, d->K, d->stride, d->padding, d->dilation);
  for (n = 0; n < d->N; n++) {
    int L = lengths ? lengths[n] : d->T_in;
    int Lo = asr_conv1d_out_frames(L, d->K, d->stride, d->padding, d->dilation);
    out[n] = Lo < T_out ? Lo : T_out;
  }
}

ASRDEF asr_result asr_conv1d_validate(const asr_conv1d_dims *d, asr_error *err) {
  if (!d) return asr__fail(err, ASR_ERR_INVALID_ARG, "conv1d: no sizes given");
  if (d->N < 0 || d->T_in < 0)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "conv1d: negative batch (%d) or frames (%d)", d->N, d->T_in);
  if (d->C_in < 1 || d->C_out < 1)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "conv1d: channels must be >= 1 (in %d, out %d)", d->C_in, d->C_out);
  if (d->K < 1 || d->stride < 1 || d->dilation < 1 || d->padding < 0)
    return asr__fail(err, ASR_ERR_INVALID_ARG,
                     "conv1d: kernel %d, stride %d, dilation %d must be >= 1 and padding %d >= 0",
                     d->K, d->stride, d->dilation, d->padding);
  if (d->groups < 1 || d->C_in % d->groups || d->C_out % d->groups)
    return asr__fail(err, ASR_ERR_INVALID_ARG,
                     "conv1d: groups %d must divide both in_channels %d and out_channels %d",
                     d->groups, d->C_in, d->C_out);
  if ((long)d->dilation * (d->K - 1) + 1 > (long)d->T_in + 2L * d->padding)
    return asr__fail(err, ASR_ERR_SHAPE,
                     "conv1d: kernel size %d (dilation %d: %ld frames) is larger than the padded "
                     "input (%d frames + 2 x padding %d)", d->K, d->dilation,
                     (long)d->dilation * (d->K - 1) + 1, d->T_in, d->padding);
  return ASR_OK;
}

/* Checks pointers and sizes, returns T_out in *T_out. */
ASR__PRIVATE asr_result asr__conv1d_args(const void *out, const void *x, const asr_real *w,
                                         const int *lengths, const asr_conv1d_dims *d,
                                         int *T_out) {
  asr_result r = asr_conv1d_validate(d, NULL);
  int n;
  if (r != ASR_OK) return r;
  if (!out || !x || !w) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (n = 0; n < d->N; n++)
      if (lengths[n] < 0 || lengths[n] > d->T_in) return ASR_ERR_RANGE;
  *T_out = asr_conv1d_out_frames(d->T_in, d->K, d->stride, d->padding, d->dilation);
  return ASR_OK;
}

ASRDEF size_t asr_conv1d_workspace_size(const asr_conv1d_dims *d) {
  size_t rows, n;
  int T_out;
  if (asr_conv1d_validate(d, NULL) != ASR_OK) return 0;
  if (d->C_in / d->groups == 1) return 0;                   /* direct loops, no im2col */
  T_out = asr_conv1d_out_frames(d->T_in, d->K, d->stride, d->padding, d->dilation);
  /* col and dcol, (Cg_in K, T_out) each */
  if (asr_size_mul((size_t)(d->C_in / d->groups), (size_t)d->K, &rows) != ASR_OK ||
      asr_size_mul(rows, (size_t)T_out, &n) != ASR_OK || asr_size_mul(n, 2 * sizeof(asr_real), &n) != ASR_OK)
    return (size_t)-1;
  return n;
}

/* ---- conv1d: _naive, the definition one index at a time */
ASRDEF asr_result asr_conv1d_forward_naive(asr_real *y, const asr_real *x, const asr_real *w,
                                           const asr_real *b, const int *lengths,
                                           const asr_conv1d_dims *d, void *work, size_t work_bytes) {
  int n, o, c, k, t, T_out, Cgi, Cgo;
  asr_result r = asr__conv1d_args(y, x, w, lengths, d, &T_out);
  (void)work;
  (void)work_bytes;
  if (r != ASR_OK) return r;
  Cgi = d->C_in / d->groups;
  Cgo = d->C_out / d->groups;
  if ((double)d->N * d->C_out * T_out * Cgi * d->K > 1e8) return ASR_ERR_TOO_LARGE;
  for (n = 0; n < d->N; n++) {
    int L = lengths ? lengths[n] : d->T_in;
    int Lo = asr_conv1d_out_frames(L, d->K, d->stride, d->padding, d->dilation);
    for (o = 0; o < d->C_out; o++) {
      int g = o / Cgo;                                        /* the group of output o */
      for (t = 0; t < T_out; t++) {
        double s = b ? b[o] : 0;
        if (t >= Lo) {                                        /* a padded output: 0 */
          y[((size_t)n * d->C_out + o) * T_out + t] = 0;
          continue;
        }
        for (c = 0; c < Cgi; c++)
          for (k = 0; k < d->K; k++) {
            long s_in = (long)t * d->stride + (long)k * d->dilation - d->padding;
            if (s_in < 0 || s_in >= L) continue;              /* zero padding / length mask */
            s += (double)w[((size_t)o * Cgi + c) * d->K + k] *
                 x[((size_t)n * d->C_in + (size_t)g * Cgi + c) * d->T_in + s_in];
          }
        y[((size_t)n * d->C_out + o) * T_out + t] = (asr_real)s;
      }
    }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_conv1d_backward_naive(asr_real *dx, asr_real *dw, asr_real *db,
                                            const asr_real *dy, const asr_real *x,
                                            const asr_real *w, const int *lengths,
                                            const asr_conv1d_dims *d, void *work,
                                            size_t work_bytes) {
  int n, o, c, k, t, T_out, Cgi, Cgo;
  asr_result r = asr__conv1d_args(dy, x, w, lengths, d, &T_out);
  (void)work;
  (void)work_bytes;
  if (r != ASR_OK) return r;
  Cgi = d->C_in / d->groups;
  Cgo = d->C_out / d->groups;
  if ((double)d->N * d->C_out * T_out * Cgi * d->K > 1e8) return ASR_ERR_TOO_LARGE;
  /* every term w[o,c,k] x[n,gc,s] dy[n,o,t] of the forward sum, differentiated twice */
  for (n = 0; n < d->N; n++) {
    int L = lengths ? lengths[n] : d->T_in;
    int Lo = asr_conv1d_out_frames(L, d->K, d->stride, d->padding, d->dilation);
    for (o = 0; o < d->C_out; o++) {
      int g = o / Cgo;
      for (t = 0; t < Lo && t < T_out; t++) {                /* padded outputs: no gradient */
        asr_real gy = dy[((size_t)n * d->C_out + o) * T_out + t];
        if (db) db[o] += gy;                                  /* d y / d b[o] = 1 */
        for (c = 0; c < Cgi; c++)
          for (k = 0; k < d->K; k++) {
            long s_in = (long)t * d->stride + (long)k * d->dilation - d->padding;
            size_t xi = ((size_t)n * d->C_in + (size_t)g * Cgi + c) * d->T_in + (size_t)s_in;
            size_t wi = ((size_t)o * Cgi + c) * d->K + k;
            if (s_in < 0 || s_in >= L) continue;
            if (dw) dw[wi] += gy * x[xi];                     /* d y / d w = x */
            if (dx) dx[xi] += gy * w[wi];                     /* d y / d x = w */
          }
      }
    }
  }
  return ASR_OK;
}

/* ---- conv1d: _ref and fast */
/* Depthwise-like direct loops (Cg_in = 1): y[o,t] = b[o] + sum_k w[o,k] x[g(o), tS + kD - P].
 * The valid t range of tap k is where 0 <= tS + kD - P < L; computing it once per tap
 * keeps the inner loop free of branches (and lets the compiler vectorize it). */
ASR__PRIVATE void asr__conv1d_tap_range(int k, int Lo, int L, const asr_conv1d_dims *d,
                                        int *t0, int *t1) {
  long off = (long)k * d->dilation - d->padding;    /* input index of output 0 */
  long a = off >= 0 ? 0 : (-off + d->stride - 1) / d->stride;   /* first t with s >= 0 */
  long e = L - off <= 0 ? 0 : (L - off + d->stride - 1) / d->stride;  /* first t with s >= L */
  if (e > Lo) e = Lo;
  if (a > e) a = e;
  *t0 = (int)a;
  *t1 = (int)e;
}

ASR__PRIVATE void asr__dw_forward_row(asr_real *yr, const asr_real *xr, const asr_real *wr, asr_real bias,
                                      int Lo, int L, const asr_conv1d_dims *d, int fast) {
  int t, k;
  for (t = 0; t < Lo; t++) yr[t] = bias;
  for (k = 0; k < d->K; k++) {
    int t0, t1;
    long off = (long)k * d->dilation - d->padding;
    asr_real wk = wr[k];
    asr__conv1d_tap_range(k, Lo, L, d, &t0, &t1);
#if defined(ASR_SIMD_AVX2) && !ASR_REAL_DOUBLE
    if (fast && d->stride == 1) {
      __m256 vw = _mm256_set1_ps(wk);
      for (t = t0; t + 8 <= t1; t += 8)   /* 8 frames: y[t..t+7] += w_k x[t+off..t+off+7] */
        _mm256_storeu_ps(yr + t, _mm256_fmadd_ps(vw, _mm256_loadu_ps(xr + (t + off)), _mm256_loadu_ps(yr + t)));
      for (; t < t1; t++) yr[t] += wk * xr[t + off];
      continue;
    }
#else
    (void)fast;
#endif
    for (t = t0; t < t1; t++) yr[t] += wk * xr[(long)t * d->stride + off];   /* tap k */
  }
}

ASR__PRIVATE void asr__dw_backward_row(asr_real *dxr, asr_real *dwr, asr_real *dbo, const asr_real *gy,
                                       const asr_real *xr, const asr_real *wr, int Lo, int L,
                                       const asr_conv1d_dims *d, int fast) {
  int t, k;
  if (dbo) {
    double s = 0;
    for (t = 0; t < Lo; t++) s += gy[t];
    *dbo += (asr_real)s;
  }
  for (k = 0; k < d->K; k++) {
    int t0, t1;
    long off = (long)k * d->dilation - d->padding;
    asr__conv1d_tap_range(k, Lo, L, d, &t0, &t1);
#if defined(ASR_SIMD_AVX2) && !ASR_REAL_DOUBLE
    if (fast && d->stride == 1) {
      __m256 vw = _mm256_set1_ps(wr[k]), acc = _mm256_setzero_ps();
      float lanes[8], s;
      for (t = t0; t + 8 <= t1; t += 8) {
        __m256 g = _mm256_loadu_ps(gy + t);
        if (dwr) acc = _mm256_fmadd_ps(g, _mm256_loadu_ps(xr + (t + off)), acc);
        if (dxr) _mm256_storeu_ps(dxr + (t + off), _mm256_fmadd_ps(vw, g, _mm256_loadu_ps(dxr + (t + off))));
      }
      _mm256_storeu_ps(lanes, acc);
      s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
      for (; t < t1; t++) {
        if (dwr) s += gy[t] * xr[t + off];
        if (dxr) dxr[t + off] += wr[k] * gy[t];
      }
      if (dwr) dwr[k] += s;
      continue;
    }
#else
    (void)fast;
#endif
    {
      double s = 0;
      for (t = t0; t < t1; t++) {
        long si = (long)t * d->stride + off;
        s += (double)gy[t] * xr[si];                          /* dw[k] += dy[t] x[s] */
        if (dxr) dxr[si] += wr[k] * gy[t];                    /* dx[s] += w[k] dy[t] */
      }
      if (dwr) dwr[k] += (asr_real)s;
    }
  }
}

/* col (Cg_in K, Lo): col[c K + k][t] = x[c, t S + k D - P], 0 outside [0, L) */
ASR__PRIVATE void asr__im2col(asr_real *col, const asr_real *xg, int Cgi, int Lo, int L,
                              const asr_conv1d_dims *d) {
  int c, k, t;
  for (c = 0; c < Cgi; c++)
    for (k = 0; k < d->K; k++) {
      asr_real *row = col + ((size_t)c * d->K + k) * Lo;
      const asr_real *xr = xg + (size_t)c * d->T_in;
      long off = (long)k * d->dilation - d->padding;
      int t0, t1;
      asr__conv1d_tap_range(k, Lo, L, d, &t0, &t1);
      for (t = 0; t < t0; t++) row[t] = 0;
      for (t = t0; t < t1; t++) row[t] = xr[(long)t * d->stride + off];
      for (t = t1; t < Lo; t++) row[t] = 0;
    }
}

/* the transpose: dx[c, t S + k D - P] += dcol[c K + k][t] inside [0, L) */
ASR__PRIVATE void asr__col2im(asr_real *dxg, const asr_real *dcol, int Cgi, int Lo, int L,
                              const asr_conv1d_dims *d) {
  int c, k, t;
  for (c = 0; c < Cgi; c++)
    for (k = 0; k < d->K; k++) {
      const asr_real *row = dcol + ((size_t)c * d->K + k) * Lo;
      asr_real *dr = dxg + (size_t)c * d->T_in;
      long off = (long)k * d->dilation - d->padding;
      int t0, t1;
      asr__conv1d_tap_range(k, Lo, L, d, &t0, &t1);
      for (t = t0; t < t1; t++) dr[(long)t * d->stride + off] += row[t];
    }
}

typedef void (*asr__gemm_fn)(int, int, int, int, int, asr_real, const asr_real *, int,
                             const asr_real *, int, asr_real, asr_real *, int);

ASR__PRIVATE asr_result asr__conv1d_forward(asr_real *y, const asr_real *x, const asr_real *w,
                                            const asr_real *b, const int *lengths,
                                            const asr_conv1d_dims *d, void *work,
                                            size_t work_bytes, int fast) {
  asr__gemm_fn gemm = fast ? asr_gemm : asr_gemm_ref;
  int n, g, o, t, T_out, Cgi, Cgo;
  asr_result r = asr__conv1d_args(y, x, w, lengths, d, &T_out);
  if (r != ASR_OK) return r;
  if (work_bytes < asr_conv1d_workspace_size(d) || (asr_conv1d_workspace_size(d) && !work))
    return ASR_ERR_WORKSPACE;
  Cgi = d->C_in / d->groups;
  Cgo = d->C_out / d->groups;
  for (n = 0; n < d->N; n++) {
    int L = lengths ? lengths[n] : d->T_in;
    int Lo = asr_conv1d_out_frames(L, d->K, d->stride, d->padding, d->dilation);
    if (Lo > T_out) Lo = T_out;
    for (g = 0; g < d->groups; g++) {
      const asr_real *xg = x + ((size_t)n * d->C_in + (size_t)g * Cgi) * d->T_in;
      asr_real *yg = y + ((size_t)n * d->C_out + (size_t)g * Cgo) * T_out;
      const asr_real *wg = w + (size_t)g * Cgo * Cgi * d->K;
      if (Cgi == 1) {                                         /* depthwise-like: direct */
        for (o = 0; o < Cgo; o++)
          asr__dw_forward_row(yg + (size_t)o * T_out, xg, wg + (size_t)o * d->K,
                              b ? b[g * Cgo + o] : 0, Lo, L, d, fast);
      } else if (Lo > 0) {
        /* Y_g (Cg_out, Lo) = W_g (Cg_out, Cg_in K) col (Cg_in K, Lo), rows T_out apart */
        asr_real *col = (asr_real *)work;
        asr__im2col(col, xg, Cgi, Lo, L, d);
        gemm(0, 0, Cgo, Lo, Cgi * d->K, 1, wg, Cgi * d->K, col, Lo, 0, yg, T_out);
        if (b)
          for (o = 0; o < Cgo; o++)
            for (t = 0; t < Lo; t++) yg[(size_t)o * T_out + t] += b[g * Cgo + o];
      }
      for (o = 0; o < Cgo; o++)                               /* padded outputs are 0 */
        for (t = Lo; t < T_out; t++) yg[(size_t)o * T_out + t] = 0;
    }
  }
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__conv1d_backward(asr_real *dx, asr_real *dw, asr_real *db,
                                             const asr_real *dy, const asr_real *x,
                                             const asr_real *w, const int *lengths,
                                             const asr_conv1d_dims *d, void *work,
                                             size_t work_bytes, int fast) {
  asr__gemm_fn gemm = fast ? asr_gemm : asr_gemm_ref;
  int n, g, o, t, T_out, Cgi, Cgo;
  asr_result r = asr__conv1d_args(dy, x, w, lengths, d, &T_out);
  if (r != ASR_OK) return r;
  if (work_bytes < asr_conv1d_workspace_size(d) || (asr_conv1d_workspace_size(d) && !work))
    return ASR_ERR_WORKSPACE;
  Cgi = d->C_in / d->groups;
  Cgo = d->C_out / d->groups;
  for (n = 0; n < d->N; n++) {
    int L = lengths ? lengths[n] : d->T_in;
    int Lo = asr_conv1d_out_frames(L, d->K, d->stride, d->padding, d->dilation);
    if (Lo > T_out) Lo = T_out;
    for (g = 0; g < d->groups; g++) {
      const asr_real *xg = x + ((size_t)n * d->C_in + (size_t)g * Cgi) * d->T_in;
      asr_real *dxg = dx ? dx + ((size_t)n * d->C_in + (size_t)g * Cgi) * d->T_in : NULL;
      const asr_real *gy = dy + ((size_t)n * d->C_out + (size_t)g * Cgo) * T_out;
      const asr_real *wg = w + (size_t)g * Cgo * Cgi * d->K;
      asr_real *dwg = dw ? dw + (size_t)g * Cgo * Cgi * d->K : NULL;
      if (Cgi == 1) {
        for (o = 0; o < Cgo; o++)
          asr__dw_backward_row(dxg, dwg ? dwg + (size_t)o * d->K : NULL, db ? db + g * Cgo + o : NULL,
                               gy + (size_t)o * T_out, xg, wg + (size_t)o * d->K, Lo, L, d, fast);
        continue;
      }
      if (Lo == 0) continue;
      if (db)
        for (o = 0; o < Cgo; o++) {
          double s = 0;
          for (t = 0; t < Lo; t++) s += gy[(size_t)o * T_out + t];
          db[g * Cgo + o] += (asr_real)s;
        }
      {
        asr_real *col = (asr_real *)work;
        asr_real *dcol = col + (size_t)Cgi * d->K * T_out;
        if (dwg) {                          /* dW_g += dY_g (Cg_out, Lo) col^T (Lo, Cg_in K) */
          asr__im2col(col, xg, Cgi, Lo, L, d);
          gemm(0, 1, Cgo, Cgi * d->K, Lo, 1, gy, T_out, col, Lo, 1, dwg, Cgi * d->K);
        }
        if (dxg) {                          /* dcol = W_g^T dY_g, then scattered back */
          gemm(1, 0, Cgi * d->K, Lo, Cgo, 1, wg, Cgi * d->K, gy, T_out, 0, dcol, Lo);
          asr__col2im(dxg, dcol, Cgi, Lo, L, d);
        }
      }
    }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_conv1d_forward_ref(asr_real *y, const asr_real *x, const asr_real *w,
                                         const asr_real *b, const int *lengths,
                                         const asr_conv1d_dims *d, void *work, size_t work_bytes) {
  return asr__conv1d_forward(y, x, w, b, lengths, d, work, work_bytes, 0);
}
ASRDEF asr_result asr_conv1d_forward(asr_real *y, const asr_real *x, const asr_real *w,
                                     const asr_real *b, const int *lengths,
                                     const asr_conv1d_dims *d, void *work, size_t work_bytes) {
  return asr__conv1d_forward(y, x, w, b, lengths, d, work, work_bytes, 1);
}
ASRDEF asr_result asr_conv1d_backward_ref(asr_real *dx, asr_real *dw, asr_real *db,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *w, const int *lengths,
                                          const asr_conv1d_dims *d, void *work,
                                          size_t work_bytes) {
  return asr__conv1d_backward(dx, dw, db, dy, x, w, lengths, d, work, work_bytes, 0);
}
ASRDEF asr_result asr_conv1d_backward(asr_real *dx, asr_real *dw, asr_real *db,
                                      const asr_real *dy, const asr_real *x, const asr_real *w,
                                      const int *lengths, const asr_conv1d_dims *d, void *work,
                                      size_t work_bytes) {
  return asr__conv1d_backward(dx, dw, db, dy, x, w, lengths, d, work, work_bytes, 1);
}

/* ---- depthwise and pointwise: thin entry points to the fast conv1d */
ASRDEF asr_result asr_depthwise_conv1d_forward(asr_real *y, const asr_real *x, const asr_real *w,
                                               const asr_real *b, const int *lengths, int N,
                                               int C, int T, int K, int stride, int padding,
                                               int dilation) {
  asr_conv1d_dims d;
  asr_conv1d_dims_init(&d, N, C, C, T, K);
  d.stride = stride, d.padding = padding, d.dilation = dilation, d.groups = C;
  return asr_conv1d_forward(y, x, w, b, lengths, &d, NULL, 0);   /* Cg_in = 1: no workspace */
}
ASRDEF asr_result asr_depthwise_conv1d_backward(asr_real *dx, asr_real *dw, asr_real *db,
                                                const asr_real *dy, const asr_real *x,
                                                const asr_real *w, const int *lengths, int N,
                                                int C, int T, int K, int stride, int padding,
                                                int dilation) {
  asr_conv1d_dims d;
  asr_conv1d_dims_init(&d, N, C, C, T, K);
  d.stride = stride, d.padding = padding, d.dilation = dilation, d.groups = C;
  return asr_conv1d_backward(dx, dw, db, dy, x, w, lengths, &d, NULL, 0);
}

ASR__PRIVATE asr_result asr__pointwise_forward(asr_real *y, const asr_real *x, const asr_real *w,
                                               const asr_real *b, const int *lengths, int N,
                                               int C_in, int C_out, int T, int fast) {
  asr__gemm_fn gemm = fast ? asr_gemm : asr_gemm_ref;
  int n, o, t;
  if (!y || !x || !w || N < 0 || C_in < 1 || C_out < 1 || T < 0) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (n = 0; n < N; n++)
      if (lengths[n] < 0 || lengths[n] > T) return ASR_ERR_RANGE;
  for (n = 0; n < N; n++) {
    int L = lengths ? lengths[n] : T;
    asr_real *yn = y + (size_t)n * C_out * T;
    /* Y_n (C_out, L) = W (C_out, C_in) X_n (C_in, L), rows T apart: padded frames untouched */
    if (L > 0) gemm(0, 0, C_out, L, C_in, 1, w, C_in, x + (size_t)n * C_in * T, T, 0, yn, T);
    for (o = 0; o < C_out; o++) {
      asr_real bo = b ? b[o] : 0;
      for (t = 0; t < L; t++) yn[(size_t)o * T + t] += bo;
      for (t = L; t < T; t++) yn[(size_t)o * T + t] = 0;
    }
  }
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__pointwise_backward(asr_real *dx, asr_real *dw, asr_real *db,
                                                const asr_real *dy, const asr_real *x,
                                                const asr_real *w, const int *lengths, int N,
                                                int C_in, int C_out, int T, int fast) {
  asr__gemm_fn gemm = fast ? asr_gemm : asr_gemm_ref;
  int n, o, t;
  if (!dy || !x || !w || N < 0 || C_in < 1 || C_out < 1 || T < 0) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (n = 0; n < N; n++)
      if (lengths[n] < 0 || lengths[n] > T) return ASR_ERR_RANGE;
  for (n = 0; n < N; n++) {
    int L = lengths ? lengths[n] : T;
    const asr_real *gy = dy + (size_t)n * C_out * T, *xn = x + (size_t)n * C_in * T;
    if (L == 0) continue;
    if (dw) gemm(0, 1, C_out, C_in, L, 1, gy, T, xn, T, 1, dw, C_in);          /* dW += dY X^T */
    if (dx) gemm(1, 0, C_in, L, C_out, 1, w, C_in, gy, T, 1, dx + (size_t)n * C_in * T, T); /* dX += W^T dY */
    if (db)
      for (o = 0; o < C_out; o++) {
        double s = 0;
        for (t = 0; t < L; t++) s += gy[(size_t)o * T + t];
        db[o] += (asr_real)s;
      }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_pointwise_conv1d_forward(asr_real *y, const asr_real *x, const asr_real *w,
                                               const asr_real *b, const int *lengths, int N,
                                               int C_in, int C_out, int T) {
  return asr__pointwise_forward(y, x, w, b, lengths, N, C_in, C_out, T, 1);
}
ASRDEF asr_result asr_pointwise_conv1d_backward(asr_real *dx, asr_real *dw, asr_real *db,
                                                const asr_real *dy, const asr_real *x,
                                                const asr_real *w, const int *lengths, int N,
                                                int C_in, int C_out, int T) {
  return asr__pointwise_backward(dx, dw, db, dy, x, w, lengths, N, C_in, C_out, T, 1);
}

/* ---- depthwise-separable conv1d */
/* L_out of an item with L valid input frames, at most T_out */
ASR__PRIVATE int asr__conv1d_valid_out(int L, const asr_conv1d_dims *d, int T_out) {
  int Lo = asr_conv1d_out_frames(L, d->K, d->stride, d->padding, d->dilation);
  return Lo < T_out ? Lo : T_out;
}

ASR__PRIVATE asr_result asr__dwsep_args(const asr_conv1d_dims *d, asr_conv1d_dims *dw_d,
                                        asr_conv1d_dims *pw_d, int *T_out) {
  asr_result r;
  if (!d) return ASR_ERR_INVALID_ARG;
  if (d->groups != d->C_in || d->C_out < 1) return ASR_ERR_INVALID_ARG;
  *dw_d = *d;
  dw_d->C_out = d->C_in;               /* the depthwise stage: C -> C, one filter each */
  r = asr_conv1d_validate(dw_d, NULL);
  if (r != ASR_OK) return r;
  *T_out = asr_conv1d_out_frames(d->T_in, d->K, d->stride, d->padding, d->dilation);
  asr_conv1d_dims_init(pw_d, d->N, d->C_in, d->C_out, *T_out, 1);   /* C -> C_out, K = 1 */
  return ASR_OK;
}

ASRDEF size_t asr_dwsep_conv1d_workspace_size(const asr_conv1d_dims *d) {
  asr_conv1d_dims a, p;
  int T_out;
  size_t n;
  if (asr__dwsep_args(d, &a, &p, &T_out) != ASR_OK) return 0;
  if (asr_size_mul((size_t)d->C_in, (size_t)T_out, &n) != ASR_OK ||
      asr_size_mul(n, sizeof(asr_real), &n) != ASR_OK)
    return (size_t)-1;
  return n;                                                 /* dh of one item (C, T_out) */
}

/* tier 0 naive, 1 ref, 2 fast */
ASR__PRIVATE asr_result asr__dwsep_forward(asr_real *y, asr_real *h, const asr_real *x,
                                           const asr_real *dw_w, const asr_real *dw_b,
                                           const asr_real *pw_w, const asr_real *pw_b,
                                           const int *lengths, const asr_conv1d_dims *d, int tier) {
  asr_conv1d_dims a, p;
  int T_out, n;
  int lo[1];
  asr_result r = asr__dwsep_args(d, &a, &p, &T_out);
  if (r != ASR_OK) return r;
  if (!y || !h || !x || !dw_w || !pw_w) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (n = 0; n < d->N; n++)
      if (lengths[n] < 0 || lengths[n] > d->T_in) return ASR_ERR_RANGE;
  /* h = depthwise(x): the stage that sees time (kernel, stride, padding) */
  r = tier == 0 ? asr_conv1d_forward_naive(h, x, dw_w, dw_b, lengths, &a, NULL, 0)
                : asr__conv1d_forward(h, x, dw_w, dw_b, lengths, &a, NULL, 0, tier == 2);
  if (r != ASR_OK) return r;
  /* y = pointwise(h) on each item's L_out valid frames */
  for (n = 0; n < d->N; n++) {
    asr_real *yn = y + (size_t)n * d->C_out * T_out;
    const asr_real *hn = h + (size_t)n * d->C_in * T_out;
    asr_conv1d_dims one = p;
    lo[0] = asr__conv1d_valid_out(lengths ? lengths[n] : d->T_in, d, T_out);
    one.N = 1;
    r = tier == 0 ? asr_conv1d_forward_naive(yn, hn, pw_w, pw_b, lo, &one, NULL, 0)
                  : asr__pointwise_forward(yn, hn, pw_w, pw_b, lo, 1, d->C_in, d->C_out, T_out, tier == 2);
    if (r != ASR_OK) return r;
  }
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__dwsep_backward(asr_real *dx, asr_real *d_dw_w, asr_real *d_dw_b,
                                            asr_real *d_pw_w, asr_real *d_pw_b,
                                            const asr_real *dy, const asr_real *h,
                                            const asr_real *x, const asr_real *dw_w,
                                            const asr_real *pw_w, const int *lengths,
                                            const asr_conv1d_dims *d, void *work,
                                            size_t work_bytes, int tier) {
  asr_conv1d_dims a, p;
  int T_out, n;
  asr_result r = asr__dwsep_args(d, &a, &p, &T_out);
  if (r != ASR_OK) return r;
  if (!dy || !h || !x || !dw_w || !pw_w) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (n = 0; n < d->N; n++)
      if (lengths[n] < 0 || lengths[n] > d->T_in) return ASR_ERR_RANGE;
  if (work_bytes < asr_dwsep_conv1d_workspace_size(d) || !work) return ASR_ERR_WORKSPACE;
  for (n = 0; n < d->N; n++) {
    asr_real *dh = (asr_real *)work;                         /* (C, T_out) of this item */
    const asr_real *gy = dy + (size_t)n * d->C_out * T_out;
    const asr_real *hn = h + (size_t)n * d->C_in * T_out;
    const asr_real *xn = x + (size_t)n * d->C_in * d->T_in;
    asr_conv1d_dims one_a = a, one_p = p;
    int L = lengths ? lengths[n] : d->T_in, lo = asr__conv1d_valid_out(L, d, T_out);
    one_a.N = one_p.N = 1;
    memset(dh, 0, sizeof(asr_real) * (size_t)d->C_in * T_out);
    /* pointwise backward: dh = W_pw^T dy, dW_pw += dy h^T, db_pw += sum dy */
    r = tier == 0 ? asr_conv1d_backward_naive(dh, d_pw_w, d_pw_b, gy, hn, pw_w, &lo, &one_p, NULL, 0)
                  : asr__pointwise_backward(dh, d_pw_w, d_pw_b, gy, hn, pw_w, &lo, 1, d->C_in,
                                            d->C_out, T_out, tier == 2);
    if (r != ASR_OK) return r;
    /* depthwise backward from dh */
    r = tier == 0 ? asr_conv1d_backward_naive(dx ? dx + (size_t)n * d->C_in * d->T_in : NULL, d_dw_w,
                                              d_dw_b, dh, xn, dw_w, &L, &one_a, NULL, 0)
                  : asr__conv1d_backward(dx ? dx + (size_t)n * d->C_in * d->T_in : NULL, d_dw_w, d_dw_b,
                                         dh, xn, dw_w, &L, &one_a, NULL, 0, tier == 2);
    if (r != ASR_OK) return r;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_dwsep_conv1d_forward_naive(asr_real *y, asr_real *h, const asr_real *x,
                                                 const asr_real *dw_w, const asr_real *dw_b,
                                                 const asr_real *pw_w, const asr_real *pw_b,
                                                 const int *lengths, const asr_conv1d_dims *d,
                                                 void *work, size_t work_bytes) {
  (void)work;
  (void)work_bytes;
  return asr__dwsep_forward(y, h, x, dw_w, dw_b, pw_w, pw_b, lengths, d, 0);
}
ASRDEF asr_result asr_dwsep_conv1d_forward_ref(asr_real *y, asr_real *h, const asr_real *x,
                                               const asr_real *dw_w, const asr_real *dw_b,
                                               const asr_real *pw_w, const asr_real *pw_b,
                                               const int *lengths, const asr_conv1d_dims *d,
                                               void *work, size_t work_bytes) {
  (void)work;
  (void)work_bytes;
  return asr__dwsep_forward(y, h, x, dw_w, dw_b, pw_w, pw_b, lengths, d, 1);
}
ASRDEF asr_result asr_dwsep_conv1d_forward(asr_real *y, asr_real *h, const asr_real *x,
                                           const asr_real *dw_w, const asr_real *dw_b,
                                           const asr_real *pw_w, const asr_real *pw_b,
                                           const int *lengths, const asr_conv1d_dims *d,
                                           void *work, size_t work_bytes) {
  (void)work;
  (void)work_bytes;
  return asr__dwsep_forward(y, h, x, dw_w, dw_b, pw_w, pw_b, lengths, d, 2);
}
ASRDEF asr_result asr_dwsep_conv1d_backward_naive(
    asr_real *dx, asr_real *d_dw_w, asr_real *d_dw_b, asr_real *d_pw_w, asr_real *d_pw_b,
    const asr_real *dy, const asr_real *h, const asr_real *x, const asr_real *dw_w,
    const asr_real *pw_w, const int *lengths, const asr_conv1d_dims *d, void *work,
    size_t work_bytes) {
  return asr__dwsep_backward(dx, d_dw_w, d_dw_b, d_pw_w, d_pw_b, dy, h, x, dw_w, pw_w, lengths, d,
                             work, work_bytes, 0);
}
ASRDEF asr_result asr_dwsep_conv1d_backward_ref(
    asr_real *dx, asr_real *d_dw_w, asr_real *d_dw_b, asr_real *d_pw_w, asr_real *d_pw_b,
    const asr_real *dy, const asr_real *h, const asr_real *x, const asr_real *dw_w,
    const asr_real *pw_w, const int *lengths, const asr_conv1d_dims *d, void *work,
    size_t work_bytes) {
  return asr__dwsep_backward(dx, d_dw_w, d_dw_b, d_pw_w, d_pw_b, dy, h, x, dw_w, pw_w, lengths, d,
                             work, work_bytes, 1);
}
ASRDEF asr_result asr_dwsep_conv1d_backward(
    asr_real *dx, asr_real *d_dw_w, asr_real *d_dw_b, asr_real *d_pw_w, asr_real *d_pw_b,
    const asr_real *dy, const asr_real *h, const asr_real *x, const asr_real *dw_w,
    const asr_real *pw_w, const int *lengths, const asr_conv1d_dims *d, void *work,
    size_t work_bytes) {
  return asr__dwsep_backward(dx, d_dw_w, d_dw_b, d_pw_w, d_pw_b, dy, h, x, dw_w, pw_w, lengths, d,
                             work, work_bytes, 2);
}

/* ---- Squeeze-and-Excitation */
ASRDEF size_t asr_se_workspace_size(int N, int C, int R) {
  /* dgate/du (N,C), dxbar (N,C), swish(z) (N,R), dz (N,R) */
  size_t a, b;
  if (N < 0 || C < 0 || R < 0) return 0;
  if (asr_size_mul((size_t)N, 2 * (size_t)C + 2 * (size_t)R, &a) != ASR_OK ||
      asr_size_mul(a, sizeof(asr_real), &b) != ASR_OK)
    return (size_t)-1;
  return b;
}

ASR__PRIVATE asr_result asr__se_args(const void *out, const asr_real *x, const asr_real *w1,
                                     const asr_real *w2, const int *lengths, int N, int C, int R,
                                     int T, size_t work_bytes, const void *work) {
  int n;
  if (!out || !x || !w1 || !w2 || N < 0 || C < 1 || R < 1 || T < 1) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (n = 0; n < N; n++)
      if (lengths[n] < 1 || lengths[n] > T) return ASR_ERR_RANGE;   /* the mean needs a frame */
  if (work_bytes < asr_se_workspace_size(N, C, R) || !work) return ASR_ERR_WORKSPACE;
  return ASR_OK;
}

/* swish and its derivative at one point, in double */
ASR__PRIVATE double asr__swish1(double z) { return z * asr__sigmoid(z); }
ASR__PRIVATE double asr__dswish1(double z) {
  double s = asr__sigmoid(z);
  return s + z * s * (1 - s);
}

ASRDEF asr_result asr_se_forward_naive(asr_real *y, asr_real *mean, asr_real *z, asr_real *gate,
                                       const asr_real *x, const asr_real *w1, const asr_real *b1,
                                       const asr_real *w2, const asr_real *b2, const int *lengths,
                                       int N, int C, int R, int T, void *work, size_t work_bytes) {
  int n, c, r, t;
  asr_result res = asr__se_args(y, x, w1, w2, lengths, N, C, R, T, work_bytes, work);
  if (res != ASR_OK) return res;
  if (!mean || !z || !gate) return ASR_ERR_INVALID_ARG;
  for (n = 0; n < N; n++) {
    int L = lengths ? lengths[n] : T;
    for (c = 0; c < C; c++) {                       /* xbar_c = (1/L) sum_{t<L} x_c,t */
      double s = 0;
      for (t = 0; t < L; t++) s += x[((size_t)n * C + c) * T + t];
      mean[(size_t)n * C + c] = (asr_real)(s / L);
    }
    for (r = 0; r < R; r++) {                       /* z = W1 xbar + b1 */
      double s = b1 ? b1[r] : 0;
      for (c = 0; c < C; c++) s += (double)w1[(size_t)r * C + c] * mean[(size_t)n * C + c];
      z[(size_t)n * R + r] = (asr_real)s;
    }
    for (c = 0; c < C; c++) {                       /* theta = sigmoid(W2 swish(z) + b2) */
      double s = b2 ? b2[c] : 0;
      for (r = 0; r < R; r++) s += (double)w2[(size_t)c * R + r] * asr__swish1(z[(size_t)n * R + r]);
      gate[(size_t)n * C + c] = (asr_real)asr__sigmoid(s);
    }
    for (c = 0; c < C; c++)                         /* y = theta x, padding 0 */
      for (t = 0; t < T; t++)
        y[((size_t)n * C + c) * T + t] =
            t < L ? (asr_real)((double)gate[(size_t)n * C + c] * x[((size_t)n * C + c) * T + t]) : (asr_real)0;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_se_backward_naive(asr_real *dx, asr_real *dw1, asr_real *db1, asr_real *dw2,
                                        asr_real *db2, const asr_real *dy, const asr_real *x,
                                        const asr_real *mean, const asr_real *z,
                                        const asr_real *gate, const asr_real *w1,
                                        const asr_real *w2, const int *lengths, int N, int C, int R,
                                        int T, void *work, size_t work_bytes) {
  int n, c, r, t;
  asr_real *du, *dxbar, *dz;
  asr_result res = asr__se_args(dy, x, w1, w2, lengths, N, C, R, T, work_bytes, work);
  if (res != ASR_OK) return res;
  if (!mean || !z || !gate) return ASR_ERR_INVALID_ARG;
  du = (asr_real *)work;                          /* (C) of one item at a time */
  dxbar = du + C;
  dz = dxbar + C;
  for (n = 0; n < N; n++) {
    int L = lengths ? lengths[n] : T;
    const asr_real *g = gate + (size_t)n * C, *zn = z + (size_t)n * R, *xb = mean + (size_t)n * C;
    for (c = 0; c < C; c++) {
      double s = 0;                               /* dtheta_c = sum_t dy x */
      for (t = 0; t < L; t++) s += (double)dy[((size_t)n * C + c) * T + t] * x[((size_t)n * C + c) * T + t];
      du[c] = (asr_real)(s * g[c] * (1 - g[c]));  /* through the sigmoid */
      if (db2) db2[c] += du[c];
    }
    for (r = 0; r < R; r++) {
      double s = 0;                               /* (W2^T du)_r */
      for (c = 0; c < C; c++) {
        s += (double)w2[(size_t)c * R + r] * du[c];
        if (dw2) dw2[(size_t)c * R + r] += (asr_real)(du[c] * asr__swish1(zn[r]));
      }
      dz[r] = (asr_real)(s * asr__dswish1(zn[r]));  /* through the swish */
      if (db1) db1[r] += dz[r];
    }
    for (c = 0; c < C; c++) {
      double s = 0;                               /* dxbar = W1^T dz */
      for (r = 0; r < R; r++) {
        s += (double)w1[(size_t)r * C + c] * dz[r];
        if (dw1) dw1[(size_t)r * C + c] += dz[r] * xb[c];
      }
      dxbar[c] = (asr_real)s;
    }
    if (dx)
      for (c = 0; c < C; c++)                     /* the scale and the mean's share */
        for (t = 0; t < L; t++)
          dx[((size_t)n * C + c) * T + t] +=
              (asr_real)((double)g[c] * dy[((size_t)n * C + c) * T + t] + (double)dxbar[c] / L);
  }
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__se_forward(asr_real *y, asr_real *mean, asr_real *z, asr_real *gate,
                                        const asr_real *x, const asr_real *w1, const asr_real *b1,
                                        const asr_real *w2, const asr_real *b2, const int *lengths,
                                        int N, int C, int R, int T, void *work, size_t work_bytes,
                                        int fast) {
  int n, c, t;
  asr_real *sz;
  asr_result res = asr__se_args(y, x, w1, w2, lengths, N, C, R, T, work_bytes, work);
  if (res != ASR_OK) return res;
  if (!mean || !z || !gate) return ASR_ERR_INVALID_ARG;
  sz = (asr_real *)work;                                       /* swish(z) (N,R) */
  for (n = 0; n < N; n++) {                                    /* the squeeze */
    int L = lengths ? lengths[n] : T;
    for (c = 0; c < C; c++) {
      const asr_real *xr = x + ((size_t)n * C + c) * T;
      double s = 0;
      for (t = 0; t < L; t++) s += xr[t];
      mean[(size_t)n * C + c] = (asr_real)(s / L);
    }
  }
  /* the excitation: two fully connected layers over the batch of N means */
  (fast ? asr_linear_forward : asr_linear_forward_ref)(z, mean, w1, b1, N, C, R);
  asr_swish_forward(sz, z, (size_t)N * R);
  (fast ? asr_linear_forward : asr_linear_forward_ref)(gate, sz, w2, b2, N, R, C);
  asr_sigmoid_forward(gate, gate, (size_t)N * C);
  for (n = 0; n < N; n++) {                                    /* the scale */
    int L = lengths ? lengths[n] : T;
    for (c = 0; c < C; c++) {
      asr_real g = gate[(size_t)n * C + c], *yr = y + ((size_t)n * C + c) * T;
      const asr_real *xr = x + ((size_t)n * C + c) * T;
      for (t = 0; t < L; t++) yr[t] = g * xr[t];
      for (t = L; t < T; t++) yr[t] = 0;
    }
  }
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__se_backward(asr_real *dx, asr_real *dw1, asr_real *db1, asr_real *dw2,
                                         asr_real *db2, const asr_real *dy, const asr_real *x,
                                         const asr_real *mean, const asr_real *z,
                                         const asr_real *gate, const asr_real *w1,
                                         const asr_real *w2, const int *lengths, int N, int C, int R,
                                         int T, void *work, size_t work_bytes, int fast) {
  int n, c, t;
  size_t i;
  asr_real *du, *dxbar, *sz, *dz;
  asr_result res = asr__se_args(dy, x, w1, w2, lengths, N, C, R, T, work_bytes, work);
  if (res != ASR_OK) return res;
  if (!mean || !z || !gate) return ASR_ERR_INVALID_ARG;
  du = (asr_real *)work;                                        /* (N,C) */
  dxbar = du + (size_t)N * C;                                   /* (N,C) */
  sz = dxbar + (size_t)N * C;                                   /* (N,R) */
  dz = sz + (size_t)N * R;                                      /* (N,R) */
  for (n = 0; n < N; n++) {
    int L = lengths ? lengths[n] : T;
    for (c = 0; c < C; c++) {
      const asr_real *g = dy + ((size_t)n * C + c) * T, *xr = x + ((size_t)n * C + c) * T;
      asr_real th = gate[(size_t)n * C + c];
      double s = 0;
      for (t = 0; t < L; t++) s += (double)g[t] * xr[t];      /* dtheta */
      du[(size_t)n * C + c] = (asr_real)(s * th * (1 - th));   /* du = dtheta s' */
    }
  }
  asr_swish_forward(sz, z, (size_t)N * R);
  memset(dz, 0, sizeof(asr_real) * (size_t)N * R);
  memset(dxbar, 0, sizeof(asr_real) * (size_t)N * C);
  /* fc2 backward: ds = du W2 into dz (then times swish'(z)), dW2 += du^T swish(z) */
  (fast ? asr_linear_backward : asr_linear_backward_ref)(dz, dw2, db2, du, sz, w2, N, R, C);
  for (i = 0; i < (size_t)N * R; i++) dz[i] = (asr_real)(dz[i] * asr__dswish1(z[i]));
  /* fc1 backward: dxbar = dz W1, dW1 += dz^T xbar */
  (fast ? asr_linear_backward : asr_linear_backward_ref)(dxbar, dw1, db1, dz, mean, w1, N, C, R);
  if (dx)
    for (n = 0; n < N; n++) {
      int L = lengths ? lengths[n] : T;
      for (c = 0; c < C; c++) {
        const asr_real *g = dy + ((size_t)n * C + c) * T;
        asr_real *d = dx + ((size_t)n * C + c) * T;
        asr_real th = gate[(size_t)n * C + c], share = (asr_real)(dxbar[(size_t)n * C + c] / (double)L);
        for (t = 0; t < L; t++) d[t] += th * g[t] + share;   /* scale + mean's share */
      }
    }
  return ASR_OK;
}

ASRDEF asr_result asr_se_forward_ref(asr_real *y, asr_real *mean, asr_real *z, asr_real *gate,
                                     const asr_real *x, const asr_real *w1, const asr_real *b1,
                                     const asr_real *w2, const asr_real *b2, const int *lengths,
                                     int N, int C, int R, int T, void *work, size_t work_bytes) {
  return asr__se_forward(y, mean, z, gate, x, w1, b1, w2, b2, lengths, N, C, R, T, work, work_bytes, 0);
}
ASRDEF asr_result asr_se_forward(asr_real *y, asr_real *mean, asr_real *z, asr_real *gate,
                                 const asr_real *x, const asr_real *w1, const asr_real *b1,
                                 const asr_real *w2, const asr_real *b2, const int *lengths, int N,
                                 int C, int R, int T, void *work, size_t work_bytes) {
  return asr__se_forward(y, mean, z, gate, x, w1, b1, w2, b2, lengths, N, C, R, T, work, work_bytes, 1);
}
ASRDEF asr_result asr_se_backward_ref(asr_real *dx, asr_real *dw1, asr_real *db1, asr_real *dw2,
                                      asr_real *db2, const asr_real *dy, const asr_real *x,
                                      const asr_real *mean, const asr_real *z, const asr_real *gate,
                                      const asr_real *w1, const asr_real *w2, const int *lengths,
                                      int N, int C, int R, int T, void *work, size_t work_bytes) {
  return asr__se_backward(dx, dw1, db1, dw2, db2, dy, x, mean, z, gate, w1, w2, lengths, N, C, R, T, work,
                          work_bytes, 0);
}
ASRDEF asr_result asr_se_backward(asr_real *dx, asr_real *dw1, asr_real *db1, asr_real *dw2,
                                  asr_real *db2, const asr_real *dy, const asr_real *x,
                                  const asr_real *mean, const asr_real *z, const asr_real *gate,
                                  const asr_real *w1, const asr_real *w2, const int *lengths, int N,
                                  int C, int R, int T, void *work, size_t work_bytes) {
  return asr__se_backward(dx, dw1, db1, dw2, db2, dy, x, mean, z, gate, w1, w2, lengths, N, C, R, T, work,
                          work_bytes, 1);
}

/* ---- ContextNet block */
ASRDEF void asr_contextnet_block_config_init(asr_contextnet_block_config *cfg, int N, int C_in,
                                             int C_out, int T) {
  cfg->N = N;
  cfg->C_in = C_in;
  cfg->C_out = C_out;
  cfg->T = T;
  cfg->num_layers = 5;
  cfg->kernel = 5;
  cfg->stride = 1;
  cfg->se_channels = C_out / 8 > 0 ? C_out / 8 : 1;
  cfg->residual = 1;
  cfg->training = 0;
  cfg->bn_eps = 1e-5;
  cfg->bn_momentum = 0.1;
}

ASRDEF asr_result asr_contextnet_block_validate(const asr_contextnet_block_config *cfg,
                                                asr_error *err) {
  if (!cfg) return asr__fail(err, ASR_ERR_INVALID_ARG, "contextnet_block: no config");
  if (cfg->N < 0 || cfg->C_in < 1 || cfg->C_out < 1 || cfg->T < 1)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "contextnet_block: sizes N %d, C_in %d, C_out %d, T %d",
                     cfg->N, cfg->C_in, cfg->C_out, cfg->T);
  if (cfg->num_layers < 1 || cfg->num_layers > ASR_CONTEXTNET_MAX_LAYERS)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "contextnet_block: num_layers %d is not in [1, %d]",
                     cfg->num_layers, ASR_CONTEXTNET_MAX_LAYERS);
  if (cfg->kernel < 1 || cfg->kernel % 2 == 0)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "contextnet_block: kernel %d must be odd (padding (K-1)/2)",
                     cfg->kernel);
  if (cfg->stride < 1 || cfg->se_channels < 1)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "contextnet_block: stride %d and se_channels %d must be >= 1",
                     cfg->stride, cfg->se_channels);
  if (!(cfg->bn_eps >= 0) || !(cfg->bn_momentum >= 0 && cfg->bn_momentum <= 1))
    return asr__fail(err, ASR_ERR_INVALID_ARG, "contextnet_block: bn eps %g / momentum %g out of range",
                     cfg->bn_eps, cfg->bn_momentum);
  return ASR_OK;
}

ASRDEF int asr_contextnet_block_out_frames(const asr_contextnet_block_config *cfg) {
  return asr_conv1d_out_frames(cfg->T, cfg->kernel, cfg->stride, (cfg->kernel - 1) / 2, 1);
}

/* The saved activations, carved out of the caller's buffer in this order. */
typedef struct asr__cn_saved {
  asr_real *dwh[ASR_CONTEXTNET_MAX_LAYERS];   /* (N, C_in_i, T_i+1) depthwise outputs */
  asr_real *a[ASR_CONTEXTNET_MAX_LAYERS];     /* (N, C_out, T_i+1) dwsep outputs */
  asr_real *b[ASR_CONTEXTNET_MAX_LAYERS];     /* (N, C_out, T_i+1) BN outputs */
  asr_real *h[ASR_CONTEXTNET_MAX_LAYERS];     /* (N, C_out, T_i+1) swish(b): layer outputs */
  asr_real *bn_mean[ASR_CONTEXTNET_MAX_LAYERS], *bn_rstd[ASR_CONTEXTNET_MAX_LAYERS];  /* (C_out) */
  asr_real *se_y, *se_mean, *se_z, *se_gate;   /* (N,C_out,T_m), (N,C_out), (N,R), (N,C_out) */
  asr_real *p, *res_mean, *res_rstd;           /* (N,C_out,T_m) projection, (C_out) x 2 */
  asr_real *zsum;                              /* (N,C_out,T_m) SE + P, before the swish */
  int *len[ASR_CONTEXTNET_MAX_LAYERS + 1];     /* (N) valid frames into layer i, and out */
} asr__cn_saved;

/* Assigns the pointers from base (if not NULL) and returns the bytes needed, or
 * (size_t)-1 on overflow. Every piece starts on a 64-byte boundary. */
ASR__PRIVATE size_t asr__cn_layout(const asr_contextnet_block_config *c, void *base, asr__cn_saved *s) {
  size_t off = 0, NT, NTm, NC = (size_t)c->N * c->C_out;
  int i, m = c->num_layers, Tm = asr_contextnet_block_out_frames(c);
  unsigned char *b = (unsigned char *)base;
#define ASR__CN_TAKE(ptr, type, count)                                                 \
  do {                                                                                 \
    size_t cnt_ = (count), by_;                                                        \
    if (asr_size_mul(cnt_, sizeof(type), &by_) != ASR_OK || off + by_ + 64 < off) return (size_t)-1; \
    (ptr) = b ? (type *)(void *)(b + off) : (type *)NULL;                              \
    off += (by_ + 63) / 64 * 64;                                                       \
  } while (0)
  if (asr_size_mul((size_t)c->N * c->C_out, (size_t)c->T, &NT) != ASR_OK ||
      asr_size_mul((size_t)c->N * c->C_out, (size_t)Tm, &NTm) != ASR_OK)
    return (size_t)-1;
  for (i = 0; i < m; i++) {
    size_t Ti = (size_t)(i == m - 1 ? Tm : c->T), Cin = (size_t)(i == 0 ? c->C_in : c->C_out);
    ASR__CN_TAKE(s->dwh[i], asr_real, (size_t)c->N * Cin * Ti);
    ASR__CN_TAKE(s->a[i], asr_real, NC * Ti);
    ASR__CN_TAKE(s->b[i], asr_real, NC * Ti);
    ASR__CN_TAKE(s->h[i], asr_real, NC * Ti);
    ASR__CN_TAKE(s->bn_mean[i], asr_real, (size_t)c->C_out);
    ASR__CN_TAKE(s->bn_rstd[i], asr_real, (size_t)c->C_out);
  }
  ASR__CN_TAKE(s->se_y, asr_real, NTm);
  ASR__CN_TAKE(s->se_mean, asr_real, NC);
  ASR__CN_TAKE(s->se_z, asr_real, (size_t)c->N * c->se_channels);
  ASR__CN_TAKE(s->se_gate, asr_real, NC);
  ASR__CN_TAKE(s->p, asr_real, NTm);
  ASR__CN_TAKE(s->res_mean, asr_real, (size_t)c->C_out);
  ASR__CN_TAKE(s->res_rstd, asr_real, (size_t)c->C_out);
  ASR__CN_TAKE(s->zsum, asr_real, NTm);
  for (i = 0; i <= m; i++) ASR__CN_TAKE(s->len[i], int, (size_t)(c->N ? c->N : 1));
#undef ASR__CN_TAKE
  (void)NT;
  return off;
}

ASRDEF size_t asr_contextnet_block_saved_size(const asr_contextnet_block_config *cfg) {
  asr__cn_saved s;
  if (asr_contextnet_block_validate(cfg, NULL) != ASR_OK) return 0;
  return asr__cn_layout(cfg, NULL, &s);
}

/* the dims of layer i's depthwise-separable conv */
ASR__PRIVATE void asr__cn_dims(const asr_contextnet_block_config *c, int i, asr_conv1d_dims *d) {
  int Cin = i == 0 ? c->C_in : c->C_out;
  asr_conv1d_dims_init(d, c->N, Cin, c->C_out, c->T, c->kernel);
  d->padding = (c->kernel - 1) / 2;
  d->stride = i == c->num_layers - 1 ? c->stride : 1;   /* the last layer downsamples */
  d->groups = Cin;
}
/* the residual projection: kernel 1, the block's stride */
ASR__PRIVATE void asr__cn_res_dims(const asr_contextnet_block_config *c, asr_conv1d_dims *d) {
  asr_conv1d_dims_init(d, c->N, c->C_in, c->C_out, c->T, 1);
  d->stride = c->stride;
}

ASRDEF size_t asr_contextnet_block_workspace_size(const asr_contextnet_block_config *cfg) {
  size_t scratch = 0, act, w, total;
  int i, Cmax;
  asr_conv1d_dims d;
  if (asr_contextnet_block_validate(cfg, NULL) != ASR_OK) return 0;
  for (i = 0; i < cfg->num_layers; i++) {
    asr__cn_dims(cfg, i, &d);
    w = asr_dwsep_conv1d_workspace_size(&d);
    if (w == (size_t)-1) return w;
    scratch = ASR__MAX(scratch, w);
  }
  asr__cn_res_dims(cfg, &d);
  w = asr_conv1d_workspace_size(&d);
  if (w == (size_t)-1) return w;
  scratch = ASR__MAX(scratch, w);
  w = asr_se_workspace_size(cfg->N, cfg->C_out, cfg->se_channels);
  if (w == (size_t)-1) return w;
  scratch = ASR__MAX(scratch, w);
  /* backward: three activation-gradient buffers of (N, max(C_in, C_out), T) */
  Cmax = ASR__MAX(cfg->C_in, cfg->C_out);
  if (asr_size_mul((size_t)cfg->N * (size_t)Cmax, (size_t)cfg->T, &act) != ASR_OK ||
      asr_size_mul(act, 3 * sizeof(asr_real), &act) != ASR_OK)
    return (size_t)-1;
  total = act + scratch + 64;
  return total < act ? (size_t)-1 : total;
}

/* Checks everything forward and backward need; fills s and the per-layer lengths. */
ASR__PRIVATE asr_result asr__cn_prepare(const asr_contextnet_block_config *c, const asr_contextnet_block_params *p,
                                        const int *lengths, const void *saved, size_t saved_bytes,
                                        size_t work_bytes, const void *work, asr__cn_saved *s) {
  int i, n;
  size_t need;
  asr_result r = asr_contextnet_block_validate(c, NULL);
  if (r != ASR_OK) return r;
  if (!p || !saved) return ASR_ERR_INVALID_ARG;
  for (i = 0; i < c->num_layers; i++) {
    const asr_contextnet_layer_params *l = &p->layer[i];
    if (!l->dw_w || !l->pw_w) return ASR_ERR_INVALID_ARG;
    if (!c->training && (!l->bn.running_mean || !l->bn.running_var)) return ASR_ERR_INVALID_ARG;
  }
  if (!p->se_w1 || !p->se_w2) return ASR_ERR_INVALID_ARG;
  if (c->residual && (!p->res_w || (!c->training && (!p->res_bn.running_mean || !p->res_bn.running_var))))
    return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (n = 0; n < c->N; n++)
      if (lengths[n] < 1 || lengths[n] > c->T) return ASR_ERR_RANGE;
  need = asr__cn_layout(c, NULL, s);
  if (need == (size_t)-1) return ASR_ERR_TOO_LARGE;
  if (saved_bytes < need) return ASR_ERR_WORKSPACE;
  if (work_bytes < asr_contextnet_block_workspace_size(c) || !work) return ASR_ERR_WORKSPACE;
  asr__cn_layout(c, (void *)saved, s);
  return ASR_OK;
}

ASR__PRIVATE void asr__cn_lengths(const asr_contextnet_block_config *c, const int *lengths, asr__cn_saved *s) {
  int i, n;
  for (n = 0; n < c->N; n++) s->len[0][n] = lengths ? lengths[n] : c->T;
  for (i = 0; i < c->num_layers; i++) {
    asr_conv1d_dims d;
    asr__cn_dims(c, i, &d);
    asr_conv1d_out_lengths(s->len[i + 1], s->len[i], &d);
  }
}

ASR__PRIVATE asr_result asr__cn_forward(asr_real *y, void *saved, size_t saved_bytes, const asr_real *x,
                                        const asr_contextnet_block_params *p, const int *lengths,
                                        const asr_contextnet_block_config *c, void *work,
                                        size_t work_bytes, int fast) {
  asr__cn_saved s;
  int i, m = c ? c->num_layers : 0, Tm, n, ch, t;
  unsigned char *scratch;
  size_t sbytes, act;
  const asr_real *h;
  asr_result r;
  if (!y || !x) return ASR_ERR_INVALID_ARG;
  r = asr__cn_prepare(c, p, lengths, saved, saved_bytes, work_bytes, work, &s);
  if (r != ASR_OK) return r;
  Tm = asr_contextnet_block_out_frames(c);
  act = (size_t)c->N * ASR__MAX(c->C_in, c->C_out) * c->T * 3 * sizeof(asr_real);
  scratch = (unsigned char *)work + act;
  sbytes = work_bytes - act;
  asr__cn_lengths(c, lengths, &s);
  h = x;
  for (i = 0; i < m; i++) {
    const asr_contextnet_layer_params *l = &p->layer[i];
    asr_conv1d_dims d;
    int Ti;
    asr__cn_dims(c, i, &d);
    Ti = i == m - 1 ? Tm : c->T;
    /* f(h) = swish(BN(dwsep(h))) */
    r = (fast ? asr_dwsep_conv1d_forward : asr_dwsep_conv1d_forward_ref)(s.a[i], s.dwh[i], h, l->dw_w, l->dw_b,
                                                                         l->pw_w, l->pw_b, s.len[i], &d,
                                                                         scratch, sbytes);
    if (r != ASR_OK) return r;
    r = asr_batch_norm_forward(s.b[i], s.bn_mean[i], s.bn_rstd[i], l->bn.running_mean, l->bn.running_var, s.a[i],
                               l->bn.weight, l->bn.bias, s.len[i + 1], c->N, c->C_out, Ti, c->training,
                               c->bn_momentum, c->bn_eps);
    if (r != ASR_OK) return r;
    asr_swish_forward(s.h[i], s.b[i], (size_t)c->N * c->C_out * Ti);   /* padding: swish(0) = 0 */
    h = s.h[i];
  }
  /* SE over the valid frames of the last layer's output */
  r = (fast ? asr_se_forward : asr_se_forward_ref)(s.se_y, s.se_mean, s.se_z, s.se_gate, h, p->se_w1, p->se_b1,
                                                   p->se_w2, p->se_b2, s.len[m], c->N, c->C_out,
                                                   c->se_channels, Tm, scratch, sbytes);
  if (r != ASR_OK) return r;
  if (c->residual) {
    /* P(x) = BN(pointwise conv of x with the block's stride), added to SE(f^m(x)) */
    asr_conv1d_dims d;
    asr__cn_res_dims(c, &d);
    r = (fast ? asr_conv1d_forward : asr_conv1d_forward_ref)(s.p, x, p->res_w, p->res_b, s.len[0], &d, scratch,
                                                             sbytes);
    if (r != ASR_OK) return r;
    r = asr_batch_norm_forward(s.zsum, s.res_mean, s.res_rstd, p->res_bn.running_mean, p->res_bn.running_var,
                               s.p, p->res_bn.weight, p->res_bn.bias, s.len[m], c->N, c->C_out, Tm,
                               c->training, c->bn_momentum, c->bn_eps);
    if (r != ASR_OK) return r;
    for (n = 0; n < c->N; n++)
      for (ch = 0; ch < c->C_out; ch++) {
        size_t o = ((size_t)n * c->C_out + ch) * Tm;
        for (t = 0; t < s.len[m][n]; t++) s.zsum[o + t] += s.se_y[o + t];
      }
  } else {
    memcpy(s.zsum, s.se_y, sizeof(asr_real) * (size_t)c->N * c->C_out * Tm);
  }
  asr_swish_forward(y, s.zsum, (size_t)c->N * c->C_out * Tm);        /* C(x) = swish(...) */
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__cn_backward(asr_real *dx, const asr_contextnet_block_grads *g, const asr_real *dy,
                                         const void *saved, size_t saved_bytes, const asr_real *x,
                                         const asr_contextnet_block_params *p, const int *lengths,
                                         const asr_contextnet_block_config *c, void *work,
                                         size_t work_bytes, int fast) {
  asr__cn_saved s;
  asr_contextnet_block_grads none;
  int i, m = c ? c->num_layers : 0, Tm, n, ch, t;
  unsigned char *scratch;
  size_t sbytes, act1, NTm;
  asr_real *G1, *G2, *DZ;
  asr_result r;
  if (!dy || !x) return ASR_ERR_INVALID_ARG;
  r = asr__cn_prepare(c, p, lengths, saved, saved_bytes, work_bytes, work, &s);
  if (r != ASR_OK) return r;
  if (!g) {
    memset(&none, 0, sizeof none);
    g = &none;
  }
  Tm = asr_contextnet_block_out_frames(c);
  NTm = (size_t)c->N * c->C_out * Tm;
  act1 = (size_t)c->N * ASR__MAX(c->C_in, c->C_out) * c->T;
  G1 = (asr_real *)work;                  /* dh_{i+1}, then db_i, then dh_i */
  G2 = G1 + act1;                         /* da_i and dp */
  DZ = G2 + act1;                         /* d(SE + P) */
  scratch = (unsigned char *)(DZ + act1);
  sbytes = work_bytes - 3 * act1 * sizeof(asr_real);
  /* through the final swish, valid frames only (padded dy is ignored) */
  memset(DZ, 0, sizeof(asr_real) * NTm);
  for (n = 0; n < c->N; n++)
    for (ch = 0; ch < c->C_out; ch++) {
      size_t o = ((size_t)n * c->C_out + ch) * Tm;
      for (t = 0; t < s.len[m][n]; t++) DZ[o + t] = (asr_real)(dy[o + t] * asr__dswish1(s.zsum[o + t]));
    }
  if (c->residual) {
    /* the residual branch: dP = BN backward of dZ, then the strided pointwise conv's
     * backward adds its share into dx (the main path adds the rest below) */
    asr_conv1d_dims d;
    asr__cn_res_dims(c, &d);
    memset(G2, 0, sizeof(asr_real) * NTm);
    r = asr_batch_norm_backward(G2, g->res_bn.weight, g->res_bn.bias, DZ, s.p, s.res_mean, s.res_rstd,
                                p->res_bn.weight, s.len[m], c->N, c->C_out, Tm, c->training);
    if (r != ASR_OK) return r;
    r = (fast ? asr_conv1d_backward : asr_conv1d_backward_ref)(dx, g->res_w, g->res_b, G2, x, p->res_w, s.len[0],
                                                               &d, scratch, sbytes);
    if (r != ASR_OK) return r;
  }
  /* the main branch: SE backward turns dZ into dh_m, the gradient of the last layer's
   * output (including the share every frame has through the SE mean) */
  memset(G1, 0, sizeof(asr_real) * NTm);
  r = (fast ? asr_se_backward : asr_se_backward_ref)(G1, g->se_w1, g->se_b1, g->se_w2, g->se_b2, DZ, s.h[m - 1],
                                                     s.se_mean, s.se_z, s.se_gate, p->se_w1, p->se_w2, s.len[m],
                                                     c->N, c->C_out, c->se_channels, Tm, scratch, sbytes);
  if (r != ASR_OK) return r;
  for (i = m - 1; i >= 0; i--) {
    const asr_contextnet_layer_params *l = &p->layer[i];
    const asr_contextnet_layer_grads *gl = &g->layer[i];
    asr_conv1d_dims d;
    int Ti = i == m - 1 ? Tm : c->T;
    size_t cnt = (size_t)c->N * c->C_out * Ti, k;
    asr__cn_dims(c, i, &d);
    /* layer i backwards: h = swish(b), b = BN(a), a = dwsep(h_prev) */
    for (k = 0; k < cnt; k++) G1[k] = (asr_real)(G1[k] * asr__dswish1(s.b[i][k]));   /* db = dh swish'(b) */
    memset(G2, 0, sizeof(asr_real) * cnt);
    r = asr_batch_norm_backward(G2, gl->bn.weight, gl->bn.bias, G1, s.a[i], s.bn_mean[i], s.bn_rstd[i],
                                l->bn.weight, s.len[i + 1], c->N, c->C_out, Ti, c->training);
    if (r != ASR_OK) return r;
    /* da is in G2: G1 is free again and receives dh_prev (layer 0 writes into dx) */
    if (i > 0) memset(G1, 0, sizeof(asr_real) * (size_t)c->N * c->C_out * c->T);
    r = (fast ? asr_dwsep_conv1d_backward : asr_dwsep_conv1d_backward_ref)(
        i > 0 ? G1 : dx, gl->dw_w, gl->dw_b, gl->pw_w, gl->pw_b, G2, s.dwh[i], i > 0 ? s.h[i - 1] : x, l->dw_w,
        l->pw_w, s.len[i], &d, scratch, sbytes);
    if (r != ASR_OK) return r;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_contextnet_block_forward_ref(asr_real *y, void *saved, size_t saved_bytes,
                                                  const asr_real *x,
                                                  const asr_contextnet_block_params *p,
                                                  const int *lengths,
                                                  const asr_contextnet_block_config *cfg,
                                                  void *work, size_t work_bytes) {
  return asr__cn_forward(y, saved, saved_bytes, x, p, lengths, cfg, work, work_bytes, 0);
}
ASRDEF asr_result asr_contextnet_block_forward(asr_real *y, void *saved, size_t saved_bytes,
                                              const asr_real *x,
                                              const asr_contextnet_block_params *p,
                                              const int *lengths,
                                              const asr_contextnet_block_config *cfg, void *work,
                                              size_t work_bytes) {
  return asr__cn_forward(y, saved, saved_bytes, x, p, lengths, cfg, work, work_bytes, 1);
}
ASRDEF asr_result asr_contextnet_block_backward_ref(asr_real *dx,
                                                   const asr_contextnet_block_grads *g,
                                                   const asr_real *dy, const void *saved,
                                                   size_t saved_bytes, const asr_real *x,
                                                   const asr_contextnet_block_params *p,
                                                   const int *lengths,
                                                   const asr_contextnet_block_config *cfg,
                                                   void *work, size_t work_bytes) {
  return asr__cn_backward(dx, g, dy, saved, saved_bytes, x, p, lengths, cfg, work, work_bytes, 0);
}
ASRDEF asr_result asr_contextnet_block_backward(asr_real *dx, const asr_contextnet_block_grads *g,
                                               const asr_real *dy, const void *saved,
                                               size_t saved_bytes, const asr_real *x,
                                               const asr_contextnet_block_params *p,
                                               const int *lengths,
                                               const asr_contextnet_block_config *cfg, void *work,
                                               size_t work_bytes) {
  return asr__cn_backward(dx, g, dy, saved, saved_bytes, x, p, lengths, cfg, work, work_bytes, 1);
}

ASRDEF int asr_contextnet_table(int block, double alpha, asr_contextnet_block_spec *spec) {
  int base;
  if (block < 0 || block > 22 || !spec || !(alpha > 0)) return -1;
  spec->kernel = 5;
  spec->num_layers = (block == 0 || block == 22) ? 1 : 5;
  spec->stride = (block == 3 || block == 7 || block == 14) ? 2 : 1;   /* 8x in time */
  spec->residual = !(block == 0 || block == 22);
  base = block <= 10 ? 256 : block <= 21 ? 512 : 640;
  spec->channels = (int)floor(alpha * base + 0.5);
  if (spec->channels < 1) spec->channels = 1;
  return 0;
}

/* ---------------------------------------------------------------------------------------
 * 4.3 Conformer (implementation)
 * --------------------------------------------------------------------------------------- */

/* The GEMM of a tier: asr_gemm_ref for the _ref tiers, asr_gemm (SIMD) for the fast ones. */
ASR__PRIVATE void asr__c3_gemm(int fast, int trans_a, int trans_b, int M, int N, int K, asr_real alpha,
                               const asr_real *A, int lda, const asr_real *B, int ldb, asr_real beta,
                               asr_real *C, int ldc) {
  if (fast) asr_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else asr_gemm_ref(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Byte counts of sections 4.3 and 4.4: a*b*c*d elements of asr_real, in bytes; SIZE_MAX if that overflows. */
ASR__PRIVATE size_t asr__rnn_bytes(size_t a, size_t b, size_t c, size_t d) {
  size_t n;
  if (asr_size_mul(a, b, &n) || asr_size_mul(n, c, &n) || asr_size_mul(n, d, &n) ||
      asr_size_mul(n, sizeof(asr_real), &n))
    return (size_t)-1;
  return n;
}
/* x + y for byte counts, saturating at SIZE_MAX. */
ASR__PRIVATE size_t asr__rnn_add(size_t x, size_t y) {
  return x > (size_t)-1 - y ? (size_t)-1 : x + y;
}

/* ---- relative positions */
ASRDEF int asr_rel_pos_len(asr_rel_pos_type type, int T) {
  if (T < 1) return 0;
  return type == ASR_REL_POS_LEGACY ? T : 2 * T - 1;
}

ASRDEF asr_result asr_rel_pos_encoding(asr_real *pos_emb, int T, int D, asr_rel_pos_type type,
                                       int max_len) {
  int P = asr_rel_pos_len(type, T), r, m;
  double top;
  if (T < 0 || D < 2 || D % 2 || (type != ASR_REL_POS_LATEST && type != ASR_REL_POS_LEGACY) ||
      (P > 0 && !pos_emb))
    return ASR_ERR_INVALID_ARG;
  if ((double)P * D > 2147483647.0) return ASR_ERR_TOO_LARGE;
  /* the position of row 0: T-1 (latest), or the top of ESPnet's reversed table (legacy) */
  top = type == ASR_REL_POS_LEGACY ? (double)ASR__MAX(max_len, T) - 1 : (double)T - 1;
  for (r = 0; r < P; r++) {
    double pos = top - r;
    asr_real *row = pos_emb + (size_t)r * D;
    for (m = 0; m < D / 2; m++) {
      /* 1/10000^(2m/D) = exp(-2m ln(10000)/D), the frequency of the pair (2m, 2m+1) */
      double w = exp(-(2.0 * m) * log(10000.0) / D);
      row[2 * m] = (asr_real)sin(pos * w);
      row[2 * m + 1] = (asr_real)cos(pos * w);
    }
  }
  return ASR_OK;
}

/* ---- rel_shift */
ASRDEF int asr_rel_shift_index(asr_rel_pos_type type, int T, int i, int j, int *row, int *col) {
  if (type == ASR_REL_POS_LEGACY && j > i) {
    if (j == i + 1) return 0;     /* the zero column, now on the superdiagonal */
    *row = i + 1;                 /* the next query's row, wrapped around */
    *col = j - i - 2;
    return 1;
  }
  *row = i;                       /* both: column T-1-i+j, position (T-1) - col = i-j */
  *col = T - 1 - i + j;
  return 1;
}

ASRDEF asr_result asr_rel_shift_naive(asr_real *out, const asr_real *x, int T,
                                      asr_rel_pos_type type) {
  /* ESPnet's steps on one flat buffer, for one (batch, head):
   *   x_padded = cat([zeros(T,1), x], -1)     (T, P+1)
   *   x_padded = x_padded.view(P+1, T)        the same T(P+1) numbers, re-cut
   *   x = x_padded[1:].view(T, P)             skip the first T numbers, re-cut
   *   x = x[:, :T]                            (latest: keep the first T columns)    */
  asr_real padded[64 * 128];
  int P = asr_rel_pos_len(type, T), i, j, c;
  if (T < 1 || !out || !x) return ASR_ERR_INVALID_ARG;
  if ((size_t)T * (P + 1) > sizeof padded / sizeof padded[0]) return ASR_ERR_TOO_LARGE;
  for (i = 0; i < T; i++)                       /* the zero column in front of each row */
    for (c = 0; c <= P; c++) padded[(size_t)i * (P + 1) + c] = c == 0 ? 0 : x[(size_t)i * P + c - 1];
  for (i = 0; i < T; i++)
    for (j = 0; j < T; j++)                     /* flat index T + i*P + j, after the first row */
      out[(size_t)i * T + j] = padded[(size_t)T + (size_t)i * P + j];
  return ASR_OK;
}

ASRDEF asr_result asr_rel_shift_ref(asr_real *out, const asr_real *x, int T,
                                    asr_rel_pos_type type) {
  int P = asr_rel_pos_len(type, T), i, j, r, c;
  if (T < 1 || !out || !x) return ASR_ERR_INVALID_ARG;
  for (i = 0; i < T; i++)
    for (j = 0; j < T; j++)
      out[(size_t)i * T + j] = asr_rel_shift_index(type, T, i, j, &r, &c) ? x[(size_t)r * P + c] : 0;
  return ASR_OK;
}

ASRDEF asr_result asr_rel_shift_backward(asr_real *dx, const asr_real *dout, int T,
                                         asr_rel_pos_type type) {
  int P = asr_rel_pos_len(type, T), i, j, r, c;
  if (T < 1 || !dx || !dout) return ASR_ERR_INVALID_ARG;
  for (i = 0; i < T; i++)
    for (j = 0; j < T; j++)
      if (asr_rel_shift_index(type, T, i, j, &r, &c)) dx[(size_t)r * P + c] += dout[(size_t)i * T + j];
  return ASR_OK;
}

/* ---- relative-position multi-head self-attention */
ASR__PRIVATE asr_result asr__mhsa_check(const asr_rel_mhsa_saved *s, const void *x,
                                        const asr_real *pos_emb, const int *lengths,
                                        const asr_rel_mhsa_params *p, int N, int T, int D, int H,
                                        asr_rel_pos_type type) {
  int b;
  if (!s || !p || N < 0 || T < 0 || D < 1 || H < 1 ||
      (type != ASR_REL_POS_LATEST && type != ASR_REL_POS_LEGACY))
    return ASR_ERR_INVALID_ARG;
  if (D % H) return ASR_ERR_SHAPE;
  if (!p->wq || !p->wk || !p->wv || !p->wo || !p->wpos || !p->pos_bias_u || !p->pos_bias_v)
    return ASR_ERR_INVALID_ARG;
  if ((size_t)N * T > 0 && (!x || !pos_emb || !s->q || !s->k || !s->v || !s->ctx || !s->p || !s->attn))
    return ASR_ERR_INVALID_ARG;
  if ((double)N * H * T * T > 2147483647.0 || (double)N * T * D > 2147483647.0 ||
      (double)2 * T * D > 2147483647.0)
    return ASR_ERR_TOO_LARGE;
  if (lengths)
    for (b = 0; b < N; b++)
      if (lengths[b] < 0 || lengths[b] > T) return ASR_ERR_RANGE;
  return ASR_OK;
}

ASRDEF size_t asr_rel_mhsa_saved_size(int N, int T, int D, int H, asr_rel_pos_type type) {
  size_t n;
  int P = asr_rel_pos_len(type, T);
  if (N < 0 || T < 0 || D < 0 || H < 1) return (size_t)-1;
  n = asr__rnn_bytes((size_t)N, (size_t)T, (size_t)D, 4);                 /* q, k, v, ctx */
  n = asr__rnn_add(n, asr__rnn_bytes((size_t)P, (size_t)D, 1, 1));        /* p */
  return asr__rnn_add(n, asr__rnn_bytes((size_t)N, (size_t)H, (size_t)T, (size_t)T));
}

ASRDEF asr_result asr_rel_mhsa_saved_init(asr_rel_mhsa_saved *s, void *buf, size_t bytes, int N,
                                          int T, int D, int H, asr_rel_pos_type type) {
  size_t need = asr_rel_mhsa_saved_size(N, T, D, H, type), ntd = (size_t)N * T * D;
  asr_real *r = (asr_real *)buf;
  if (!s || need == (size_t)-1) return ASR_ERR_INVALID_ARG;
  if (bytes < need || (!buf && need > 0)) return ASR_ERR_WORKSPACE;
  s->q = r, s->k = r + ntd, s->v = r + 2 * ntd, s->ctx = r + 3 * ntd;
  s->p = r + 4 * ntd;
  s->attn = s->p + (size_t)asr_rel_pos_len(type, T) * D;
  return ASR_OK;
}

ASRDEF size_t asr_rel_mhsa_forward_workspace_size(int N, int T, int D, int H,
                                                  asr_rel_pos_type type) {
  int P = asr_rel_pos_len(type, T);
  (void)N;
  if (T < 0 || D < 0 || H < 1) return (size_t)-1;
  /* per item: q+u and q+v (T,d_k) each, ac (T,T), bd_raw (T,P) */
  return asr__rnn_add(asr__rnn_bytes((size_t)T, (size_t)(D / H), 2, 1),
                      asr__rnn_bytes((size_t)T, (size_t)T + (size_t)P, 1, 1));
}

ASRDEF size_t asr_rel_mhsa_backward_workspace_size(int N, int T, int D, int H,
                                                   asr_rel_pos_type type) {
  int P = asr_rel_pos_len(type, T);
  size_t n;
  if (N < 0 || T < 0 || D < 0 || H < 1) return (size_t)-1;
  n = asr__rnn_bytes((size_t)N, (size_t)T, (size_t)D, 4);                 /* dq dk dv dctx */
  n = asr__rnn_add(n, asr__rnn_bytes((size_t)P, (size_t)D, 1, 1));        /* dp */
  /* per head: q+u, q+v, d(q+u), d(q+v) (T,d_k); dattn (T,T); dbd_raw (T,P) */
  n = asr__rnn_add(n, asr__rnn_bytes((size_t)T, (size_t)(D / H), 4, 1));
  return asr__rnn_add(n, asr__rnn_bytes((size_t)T, (size_t)T + (size_t)P, 1, 1));
}

ASRDEF asr_result asr_rel_mhsa_forward_naive(asr_real *y, const asr_rel_mhsa_saved *s,
                                             const asr_real *x, const asr_real *pos_emb,
                                             const int *lengths, const asr_rel_mhsa_params *p,
                                             int N, int T, int D, int H, asr_rel_pos_type type) {
  asr_real bdraw[32 * 63], bd[32 * 32];
  int P = asr_rel_pos_len(type, T), dk, b, h, i, j, k, c;
  asr_result r = asr__mhsa_check(s, x, pos_emb, lengths, p, N, T, D, H, type);
  if (r) return r;
  if (T > 32 || (double)N * H * T * T * D > 67108864.0) return ASR_ERR_TOO_LARGE;
  if ((size_t)N * T > 0 && !y) return ASR_ERR_INVALID_ARG;
  dk = D / H;
  /* the projections, one sum per output entry */
  for (i = 0; i < N * T; i++)
    for (c = 0; c < D; c++) {
      double aq = p->bq ? p->bq[c] : 0, ak = p->bk ? p->bk[c] : 0, av = p->bv ? p->bv[c] : 0;
      for (k = 0; k < D; k++) {
        double xv = x[(size_t)i * D + k];
        aq += (double)p->wq[(size_t)c * D + k] * xv;       /* q = x Wq^T + bq */
        ak += (double)p->wk[(size_t)c * D + k] * xv;
        av += (double)p->wv[(size_t)c * D + k] * xv;
      }
      s->q[(size_t)i * D + c] = (asr_real)aq;
      s->k[(size_t)i * D + c] = (asr_real)ak;
      s->v[(size_t)i * D + c] = (asr_real)av;
    }
  for (i = 0; i < P; i++)                                   /* p = pos_emb Wpos^T */
    for (c = 0; c < D; c++) {
      double a = 0;
      for (k = 0; k < D; k++) a += (double)p->wpos[(size_t)c * D + k] * pos_emb[(size_t)i * D + k];
      s->p[(size_t)i * D + c] = (asr_real)a;
    }
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    for (h = 0; h < H; h++) {
      asr_real *at = s->attn + ((size_t)b * H + h) * T * T;
      const asr_real *u = p->pos_bias_u + (size_t)h * dk, *vb = p->pos_bias_v + (size_t)h * dk;
      /* terms (b)+(d) for every (query, embedding row), then shifted into place */
      for (i = 0; i < T; i++)
        for (k = 0; k < P; k++) {
          double a = 0;
          for (c = 0; c < dk; c++)
            a += ((double)s->q[((size_t)b * T + i) * D + h * dk + c] + vb[c]) * s->p[(size_t)k * D + h * dk + c];
          bdraw[i * P + k] = (asr_real)a;
        }
      r = asr_rel_shift_naive(bd, bdraw, T, type);
      if (r) return r;
      for (i = 0; i < T; i++) {
        if (i >= len) {                                     /* a padded query: no row */
          for (j = 0; j < T; j++) at[(size_t)i * T + j] = 0;
          continue;
        }
        for (j = 0; j < T; j++) {
          double a = 0;                                     /* terms (a)+(c) */
          if (j >= len) {
            at[(size_t)i * T + j] = 0;
            continue;
          }
          for (c = 0; c < dk; c++)
            a += ((double)s->q[((size_t)b * T + i) * D + h * dk + c] + u[c]) * s->k[((size_t)b * T + j) * D + h * dk + c];
          at[(size_t)i * T + j] = (asr_real)((a + bd[i * T + j]) / sqrt((double)dk));
        }
        if (len > 0) asr_softmax(at + (size_t)i * T, at + (size_t)i * T, len);  /* masked keys stay 0 */
      }
      for (i = 0; i < T; i++)                               /* ctx_ih = sum_j attn_ij v_jh */
        for (c = 0; c < dk; c++) {
          double a = 0;
          for (j = 0; j < len; j++) a += (double)at[(size_t)i * T + j] * s->v[((size_t)b * T + j) * D + h * dk + c];
          s->ctx[((size_t)b * T + i) * D + h * dk + c] = (asr_real)a;
        }
    }
    for (i = 0; i < T; i++)                                 /* y = ctx Wo^T + bo */
      for (c = 0; c < D; c++) {
        double a = p->bo ? p->bo[c] : 0;
        if (i >= len) {
          y[((size_t)b * T + i) * D + c] = 0;
          continue;
        }
        for (k = 0; k < D; k++) a += (double)p->wo[(size_t)c * D + k] * s->ctx[((size_t)b * T + i) * D + k];
        y[((size_t)b * T + i) * D + c] = (asr_real)a;
      }
  }
  return ASR_OK;
}

/* y (M,O) = x (M,I) W^T + b, rows strided. */
ASR__PRIVATE void asr__conf_affine(asr_real *y, const asr_real *x, const asr_real *W,
                                   const asr_real *b, int M, int I, int O, int fast) {
  int m, o;
  if (M <= 0) return;
  asr__c3_gemm(fast, 0, 1, M, O, I, 1, x, I, W, I, 0, y, O);
  if (b)
    for (m = 0; m < M; m++)
      for (o = 0; o < O; o++) y[(size_t)m * O + o] += b[o];
}

ASR__PRIVATE asr_result asr__rel_mhsa_forward_impl(asr_real *y, const asr_rel_mhsa_saved *s,
                                           const asr_real *x, const asr_real *pos_emb,
                                           const int *lengths, const asr_rel_mhsa_params *p,
                                           int N, int T, int D, int H, asr_rel_pos_type type,
                                           void *work, size_t work_bytes, int fast) {
  int P = asr_rel_pos_len(type, T), dk, b, h, i, j, c, rr, cc;
  asr_real *qu, *qv, *ac, *bdr;
  double scale;
  asr_result r = asr__mhsa_check(s, x, pos_emb, lengths, p, N, T, D, H, type);
  if (r) return r;
  if ((size_t)N * T == 0) return ASR_OK;
  if (!y) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_rel_mhsa_forward_workspace_size(N, T, D, H, type) || !work)
    return ASR_ERR_WORKSPACE;
  dk = D / H;
  scale = 1.0 / sqrt((double)dk);
  qu = (asr_real *)work;            /* (T,d_k) q + u of one head */
  qv = qu + (size_t)T * dk;         /* (T,d_k) q + v */
  ac = qv + (size_t)T * dk;         /* (T,T) terms (a)+(c) */
  bdr = ac + (size_t)T * T;         /* (T,P) terms (b)+(d) before the shift */
  /* the projections of every frame of the batch, and of the embeddings */
  asr__conf_affine(s->q, x, p->wq, p->bq, N * T, D, D, fast);
  asr__conf_affine(s->k, x, p->wk, p->bk, N * T, D, D, fast);
  asr__conf_affine(s->v, x, p->wv, p->bv, N * T, D, D, fast);
  asr__conf_affine(s->p, pos_emb, p->wpos, NULL, P, D, D, fast);
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    const asr_real *qb = s->q + (size_t)b * T * D, *kb = s->k + (size_t)b * T * D;
    const asr_real *vb = s->v + (size_t)b * T * D;
    asr_real *cb = s->ctx + (size_t)b * T * D;
    memset(s->attn + (size_t)b * H * T * T, 0, sizeof(asr_real) * (size_t)H * T * T);
    memset(cb, 0, sizeof(asr_real) * (size_t)T * D);
    if (len == 0) continue;
    for (h = 0; h < H; h++) {
      asr_real *at = s->attn + ((size_t)b * H + h) * T * T;
      for (i = 0; i < len; i++)
        for (c = 0; c < dk; c++) {
          qu[(size_t)i * dk + c] = qb[(size_t)i * D + h * dk + c] + p->pos_bias_u[(size_t)h * dk + c];
          qv[(size_t)i * dk + c] = qb[(size_t)i * D + h * dk + c] + p->pos_bias_v[(size_t)h * dk + c];
        }
      /* ac = (q+u) k^T over the valid block; bd_raw = (q+v) p^T for the valid queries */
      asr__c3_gemm(fast, 0, 1, len, len, dk, 1, qu, dk, kb + h * dk, D, 0, ac, T);
      asr__c3_gemm(fast, 0, 1, len, P, dk, 1, qv, dk, s->p + h * dk, D, 0, bdr, P);
      for (i = 0; i < len; i++) {
        asr_real *row = at + (size_t)i * T;
        for (j = 0; j < len; j++) {
          /* rel_shift by its index map: a valid (i,j) reads row i or i+1 < len */
          asr_real bd = asr_rel_shift_index(type, T, i, j, &rr, &cc) ? bdr[(size_t)rr * P + cc] : 0;
          row[j] = (asr_real)((ac[(size_t)i * T + j] + bd) * scale);
        }
        asr_softmax(row, row, len);
      }
      /* ctx_h = attn v_h over the valid block */
      asr__c3_gemm(fast, 0, 0, len, dk, len, 1, at, T, vb + h * dk, D, 0, cb + h * dk, D);
    }
  }
  asr__conf_affine(y, s->ctx, p->wo, p->bo, N * T, D, D, fast);
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    if (len < T) memset(y + ((size_t)b * T + len) * D, 0, sizeof(asr_real) * (size_t)(T - len) * D);
  }
  return ASR_OK;
}

ASRDEF asr_result asr_rel_mhsa_forward_ref(asr_real *y, const asr_rel_mhsa_saved *s,
                                           const asr_real *x, const asr_real *pos_emb,
                                           const int *lengths, const asr_rel_mhsa_params *p,
                                           int N, int T, int D, int H, asr_rel_pos_type type,
                                           void *work, size_t work_bytes) {
  return asr__rel_mhsa_forward_impl(y, s, x, pos_emb, lengths, p, N, T, D, H, type, work, work_bytes, 0);
}

ASRDEF asr_result asr_rel_mhsa_forward(asr_real *y, const asr_rel_mhsa_saved *s,
                                       const asr_real *x, const asr_real *pos_emb,
                                       const int *lengths, const asr_rel_mhsa_params *p, int N,
                                       int T, int D, int H, asr_rel_pos_type type, void *work,
                                       size_t work_bytes) {
  return asr__rel_mhsa_forward_impl(y, s, x, pos_emb, lengths, p, N, T, D, H, type, work, work_bytes, 1);
}

ASRDEF asr_result asr_rel_mhsa_backward_naive(asr_real *dx, asr_real *d_pos_emb,
                                              const asr_rel_mhsa_grads *g, const asr_real *dy,
                                              const asr_rel_mhsa_saved *s, const asr_real *x,
                                              const asr_real *pos_emb, const int *lengths,
                                              const asr_rel_mhsa_params *p, int N, int T, int D,
                                              int H, asr_rel_pos_type type) {
  /* scratch for one (item, head) and the whole small problem, on the stack */
  asr_real idx[32 * 63], where[32 * 32];
  double dctx[32 * 64], dq[32 * 64], dk_[32 * 64], dv[32 * 64], dp[63 * 64], gs[32 * 32];
  int P = asr_rel_pos_len(type, T), dk, b, h, i, j, k, c;
  asr_result r = asr__mhsa_check(s, x, pos_emb, lengths, p, N, T, D, H, type);
  if (r) return r;
  if (T > 32 || D > 64 || (double)N * H * T * T * D > 67108864.0) return ASR_ERR_TOO_LARGE;
  if ((size_t)N * T > 0 && !dy) return ASR_ERR_INVALID_ARG;
  dk = D / H;
  /* the transpose of the literal shift: shift a matrix of entry numbers and read back
   * which entry of bd_raw each out[i][j] came from (0: none) */
  for (i = 0; i < T * P; i++) idx[i] = (asr_real)(i + 1);
  if (T > 0 && (r = asr_rel_shift_naive(where, idx, T, type)) != ASR_OK) return r;
  for (i = 0; i < P * D; i++) dp[i] = 0;
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    for (i = 0; i < T * D; i++) dctx[i] = dq[i] = dk_[i] = dv[i] = 0;
    for (i = 0; i < len; i++)                       /* y = ctx Wo^T + bo */
      for (c = 0; c < D; c++) {
        double d = dy[((size_t)b * T + i) * D + c];
        if (g && g->bo) g->bo[c] += (asr_real)d;
        for (k = 0; k < D; k++) {
          dctx[i * D + k] += d * p->wo[(size_t)c * D + k];
          if (g && g->wo) g->wo[(size_t)c * D + k] += (asr_real)(d * s->ctx[((size_t)b * T + i) * D + k]);
        }
      }
    for (h = 0; h < H; h++) {
      const asr_real *at = s->attn + ((size_t)b * H + h) * T * T;
      const asr_real *u = p->pos_bias_u + (size_t)h * dk, *vb = p->pos_bias_v + (size_t)h * dk;
      for (i = 0; i < len; i++) {
        double da[32], dot = 0;
        for (j = 0; j < len; j++) {                 /* dattn_ij = dctx_i . v_j */
          double a = 0;
          for (c = 0; c < dk; c++) a += dctx[i * D + h * dk + c] * s->v[((size_t)b * T + j) * D + h * dk + c];
          da[j] = a;
          dot += a * at[(size_t)i * T + j];
          for (c = 0; c < dk; c++) dv[j * D + h * dk + c] += (double)at[(size_t)i * T + j] * dctx[i * D + h * dk + c];
        }
        for (j = 0; j < len; j++)                   /* softmax backward, then / sqrt(d_k) */
          gs[i * T + j] = at[(size_t)i * T + j] * (da[j] - dot) / sqrt((double)dk);
      }
      for (i = 0; i < len; i++)
        for (j = 0; j < len; j++) {
          double gij = gs[i * T + j];
          int e = (int)where[i * T + j];
          for (c = 0; c < dk; c++) {                /* ac_ij = (q_i + u) . k_j */
            double qi = s->q[((size_t)b * T + i) * D + h * dk + c];
            dq[i * D + h * dk + c] += gij * s->k[((size_t)b * T + j) * D + h * dk + c];
            dk_[j * D + h * dk + c] += gij * (qi + u[c]);
            if (g && g->pos_bias_u) g->pos_bias_u[(size_t)h * dk + c] += (asr_real)(gij * s->k[((size_t)b * T + j) * D + h * dk + c]);
          }
          if (e == 0) continue;                     /* a structural zero of the shift */
          {
            int rr = (e - 1) / P, kk = (e - 1) % P;  /* bd_ij = (q_rr + v) . p_kk */
            for (c = 0; c < dk; c++) {
              double qr = s->q[((size_t)b * T + rr) * D + h * dk + c];
              dq[rr * D + h * dk + c] += gij * s->p[(size_t)kk * D + h * dk + c];
              dp[kk * D + h * dk + c] += gij * (qr + vb[c]);
              if (g && g->pos_bias_v) g->pos_bias_v[(size_t)h * dk + c] += (asr_real)(gij * s->p[(size_t)kk * D + h * dk + c]);
            }
          }
        }
    }
    /* back through the three input projections */
    for (i = 0; i < T; i++)
      for (c = 0; c < D; c++) {
        const asr_real *xi = x + ((size_t)b * T + i) * D;
        if (g && g->bq) g->bq[c] += (asr_real)dq[i * D + c];
        if (g && g->bk) g->bk[c] += (asr_real)dk_[i * D + c];
        if (g && g->bv) g->bv[c] += (asr_real)dv[i * D + c];
        for (k = 0; k < D; k++) {
          if (g && g->wq) g->wq[(size_t)c * D + k] += (asr_real)(dq[i * D + c] * xi[k]);
          if (g && g->wk) g->wk[(size_t)c * D + k] += (asr_real)(dk_[i * D + c] * xi[k]);
          if (g && g->wv) g->wv[(size_t)c * D + k] += (asr_real)(dv[i * D + c] * xi[k]);
          if (dx)
            dx[((size_t)b * T + i) * D + k] += (asr_real)(dq[i * D + c] * p->wq[(size_t)c * D + k] +
                                                          dk_[i * D + c] * p->wk[(size_t)c * D + k] +
                                                          dv[i * D + c] * p->wv[(size_t)c * D + k]);
        }
      }
  }
  for (k = 0; k < P; k++)                           /* p = pos_emb Wpos^T */
    for (c = 0; c < D; c++)
      for (j = 0; j < D; j++) {
        if (g && g->wpos) g->wpos[(size_t)c * D + j] += (asr_real)(dp[k * D + c] * pos_emb[(size_t)k * D + j]);
        if (d_pos_emb) d_pos_emb[(size_t)k * D + j] += (asr_real)(dp[k * D + c] * p->wpos[(size_t)c * D + j]);
      }
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__rel_mhsa_backward_impl(asr_real *dx, asr_real *d_pos_emb,
                                            const asr_rel_mhsa_grads *g, const asr_real *dy,
                                            const asr_rel_mhsa_saved *s, const asr_real *x,
                                            const asr_real *pos_emb, const int *lengths,
                                            const asr_rel_mhsa_params *p, int N, int T, int D,
                                            int H, asr_rel_pos_type type, void *work,
                                            size_t work_bytes, int fast) {
  int P = asr_rel_pos_len(type, T), dk, b, h, i, j, c, rr, cc;
  size_t ntd = (size_t)N * T * D;
  asr_real *dq, *dk_, *dv, *dctx, *dp, *qu, *qv, *dqu, *dqv, *da, *dbd;
  double scale;
  asr_result r = asr__mhsa_check(s, x, pos_emb, lengths, p, N, T, D, H, type);
  if (r) return r;
  if (ntd == 0) return ASR_OK;
  if (!dy) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_rel_mhsa_backward_workspace_size(N, T, D, H, type) || !work)
    return ASR_ERR_WORKSPACE;
  dk = D / H;
  scale = 1.0 / sqrt((double)dk);
  dq = (asr_real *)work, dk_ = dq + ntd, dv = dk_ + ntd, dctx = dv + ntd;   /* (N,T,D) */
  dp = dctx + ntd;                                                         /* (P,D) */
  qu = dp + (size_t)P * D, qv = qu + (size_t)T * dk;                       /* (T,d_k) */
  dqu = qv + (size_t)T * dk, dqv = dqu + (size_t)T * dk;                   /* (T,d_k) */
  da = dqv + (size_t)T * dk;                                               /* (T,T) */
  dbd = da + (size_t)T * T;                                                /* (T,P) */
  memset(dq, 0, sizeof(asr_real) * 3 * ntd);
  memset(dp, 0, sizeof(asr_real) * (size_t)P * D);
  /* 1. y = ctx Wo^T + bo: dctx = dy Wo (padded rows of dy never reach a valid row) */
  asr__c3_gemm(fast, 0, 0, N * T, D, D, 1, dy, D, p->wo, D, 0, dctx, D);
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    const asr_real *dyb = dy + (size_t)b * T * D;
    if (len == 0) continue;
    if (g && g->wo) asr__c3_gemm(fast, 1, 0, D, D, len, 1, dyb, D, s->ctx + (size_t)b * T * D, D, 1, g->wo, D);
    if (g && g->bo)
      for (i = 0; i < len; i++)
        for (c = 0; c < D; c++) g->bo[c] += dyb[(size_t)i * D + c];
  }
  /* 2. per item and head: through the attention, the softmax and the two score terms */
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    const asr_real *qb = s->q + (size_t)b * T * D, *kb = s->k + (size_t)b * T * D;
    const asr_real *vb = s->v + (size_t)b * T * D, *dcb = dctx + (size_t)b * T * D;
    if (len == 0) continue;
    for (h = 0; h < H; h++) {
      const asr_real *at = s->attn + ((size_t)b * H + h) * T * T;
      for (i = 0; i < len; i++)
        for (c = 0; c < dk; c++) {
          qu[(size_t)i * dk + c] = qb[(size_t)i * D + h * dk + c] + p->pos_bias_u[(size_t)h * dk + c];
          qv[(size_t)i * dk + c] = qb[(size_t)i * D + h * dk + c] + p->pos_bias_v[(size_t)h * dk + c];
        }
      /* dattn = dctx_h v_h^T;  dv_h += attn^T dctx_h */
      asr__c3_gemm(fast, 0, 1, len, len, dk, 1, dcb + h * dk, D, vb + h * dk, D, 0, da, T);
      asr__c3_gemm(fast, 1, 0, len, dk, len, 1, at, T, dcb + h * dk, D, 1, dv + (size_t)b * T * D + h * dk, D);
      /* softmax backward, scaled: g_ij = attn_ij (dattn_ij - sum_j' attn_ij' dattn_ij') / sqrt(d_k) */
      for (i = 0; i < len; i++) {
        double dot = 0;
        for (j = 0; j < len; j++) dot += (double)at[(size_t)i * T + j] * da[(size_t)i * T + j];
        for (j = 0; j < len; j++)
          da[(size_t)i * T + j] = (asr_real)(at[(size_t)i * T + j] * (da[(size_t)i * T + j] - dot) * scale);
      }
      /* terms (a)+(c): d(q+u) = g k_h,  dk_h += g^T (q+u) */
      asr__c3_gemm(fast, 0, 0, len, dk, len, 1, da, T, kb + h * dk, D, 0, dqu, dk);
      asr__c3_gemm(fast, 1, 0, len, dk, len, 1, da, T, qu, dk, 1, dk_ + (size_t)b * T * D + h * dk, D);
      /* terms (b)+(d): scatter g back through the shift, then d(q+v) = dbd p_h,
       * dp_h += dbd^T (q+v) */
      memset(dbd, 0, sizeof(asr_real) * (size_t)len * P);
      for (i = 0; i < len; i++)
        for (j = 0; j < len; j++)
          if (asr_rel_shift_index(type, T, i, j, &rr, &cc)) dbd[(size_t)rr * P + cc] += da[(size_t)i * T + j];
      asr__c3_gemm(fast, 0, 0, len, dk, P, 1, dbd, P, s->p + h * dk, D, 0, dqv, dk);
      asr__c3_gemm(fast, 1, 0, P, dk, len, 1, dbd, P, qv, dk, 1, dp + h * dk, D);
      for (i = 0; i < len; i++)
        for (c = 0; c < dk; c++) {
          asr_real a = dqu[(size_t)i * dk + c], v = dqv[(size_t)i * dk + c];
          dq[((size_t)b * T + i) * D + h * dk + c] += a + v;
          if (g && g->pos_bias_u) g->pos_bias_u[(size_t)h * dk + c] += a;
          if (g && g->pos_bias_v) g->pos_bias_v[(size_t)h * dk + c] += v;
        }
    }
  }
  /* 3. the projections: weights, biases and the input */
  if (g && g->wq) asr__c3_gemm(fast, 1, 0, D, D, N * T, 1, dq, D, x, D, 1, g->wq, D);
  if (g && g->wk) asr__c3_gemm(fast, 1, 0, D, D, N * T, 1, dk_, D, x, D, 1, g->wk, D);
  if (g && g->wv) asr__c3_gemm(fast, 1, 0, D, D, N * T, 1, dv, D, x, D, 1, g->wv, D);
  for (i = 0; i < N * T; i++)
    for (c = 0; c < D; c++) {
      if (g && g->bq) g->bq[c] += dq[(size_t)i * D + c];
      if (g && g->bk) g->bk[c] += dk_[(size_t)i * D + c];
      if (g && g->bv) g->bv[c] += dv[(size_t)i * D + c];
    }
  if (dx) {
    asr__c3_gemm(fast, 0, 0, N * T, D, D, 1, dq, D, p->wq, D, 1, dx, D);
    asr__c3_gemm(fast, 0, 0, N * T, D, D, 1, dk_, D, p->wk, D, 1, dx, D);
    asr__c3_gemm(fast, 0, 0, N * T, D, D, 1, dv, D, p->wv, D, 1, dx, D);
  }
  if (g && g->wpos && P > 0) asr__c3_gemm(fast, 1, 0, D, D, P, 1, dp, D, pos_emb, D, 1, g->wpos, D);
  if (d_pos_emb && P > 0) asr__c3_gemm(fast, 0, 0, P, D, D, 1, dp, D, p->wpos, D, 1, d_pos_emb, D);
  return ASR_OK;
}

ASRDEF asr_result asr_rel_mhsa_backward_ref(asr_real *dx, asr_real *d_pos_emb,
                                            const asr_rel_mhsa_grads *g, const asr_real *dy,
                                            const asr_rel_mhsa_saved *s, const asr_real *x,
                                            const asr_real *pos_emb, const int *lengths,
                                            const asr_rel_mhsa_params *p, int N, int T, int D,
                                            int H, asr_rel_pos_type type, void *work,
                                            size_t work_bytes) {
  return asr__rel_mhsa_backward_impl(dx, d_pos_emb, g, dy, s, x, pos_emb, lengths, p, N, T, D, H, type, work, work_bytes, 0);
}

ASRDEF asr_result asr_rel_mhsa_backward(asr_real *dx, asr_real *d_pos_emb,
                                        const asr_rel_mhsa_grads *g, const asr_real *dy,
                                        const asr_rel_mhsa_saved *s, const asr_real *x,
                                        const asr_real *pos_emb, const int *lengths,
                                        const asr_rel_mhsa_params *p, int N, int T, int D, int H,
                                        asr_rel_pos_type type, void *work, size_t work_bytes) {
  return asr__rel_mhsa_backward_impl(dx, d_pos_emb, g, dy, s, x, pos_emb, lengths, p, N, T, D, H, type, work, work_bytes, 1);
}

/* ---- conv2d */
ASR__PRIVATE asr_result asr__conv2d_check(const void *y, const void *x, const asr_real *w,
                                          const int *lengths, int N, int C, int Hh, int Ww,
                                          int O, int K, int S) {
  int n;
  if (N < 0 || C < 1 || Hh < 0 || Ww < 0 || O < 1 || K < 1 || S < 1 || !w) return ASR_ERR_INVALID_ARG;
  if (K > Hh || K > Ww) return ASR_ERR_SHAPE;
  if (N > 0 && (!x || !y)) return ASR_ERR_INVALID_ARG;
  if ((double)N * C * Hh * Ww > 2147483647.0 || (double)N * O * Hh * Ww > 2147483647.0 ||
      (double)C * K * K * Hh * Ww > 2147483647.0)
    return ASR_ERR_TOO_LARGE;
  if (lengths)
    for (n = 0; n < N; n++)
      if (lengths[n] < 0 || lengths[n] > Hh) return ASR_ERR_RANGE;
  return ASR_OK;
}
/* The valid output rows of an input with `len` valid rows. */
ASR__PRIVATE int asr__conv2d_rows(int len, int K, int S) { return len < K ? 0 : (len - K) / S + 1; }

ASRDEF size_t asr_conv2d_workspace_size(int C, int Hh, int Ww, int O, int K, int S) {
  int Ho, Wo;
  if (C < 1 || K < 1 || S < 1 || O < 1 || Hh < K || Ww < K) return 0;
  Ho = (Hh - K) / S + 1, Wo = (Ww - K) / S + 1;
  /* col and dcol (C K K, Ho Wo), the masked dY (O, Ho Wo) */
  return asr__rnn_add(asr__rnn_bytes((size_t)C * K * K, (size_t)Ho * Wo, 2, 1),
                      asr__rnn_bytes((size_t)O, (size_t)Ho * Wo, 1, 1));
}

ASRDEF asr_result asr_conv2d_forward_naive(asr_real *y, const asr_real *x, const asr_real *w,
                                           const asr_real *b, const int *lengths, int N, int C,
                                           int Hh, int Ww, int O, int K, int S) {
  int n, o, i, j, c, a, e, Ho, Wo;
  asr_result r = asr__conv2d_check(y, x, w, lengths, N, C, Hh, Ww, O, K, S);
  if (r) return r;
  Ho = (Hh - K) / S + 1, Wo = (Ww - K) / S + 1;
  if ((double)N * O * Ho * Wo * C * K * K > 67108864.0) return ASR_ERR_TOO_LARGE;
  for (n = 0; n < N; n++) {
    int rows = asr__conv2d_rows(lengths ? lengths[n] : Hh, K, S);
    for (o = 0; o < O; o++)
      for (i = 0; i < Ho; i++)
        for (j = 0; j < Wo; j++) {
          double acc = b ? b[o] : 0;
          if (i >= rows) acc = 0;          /* a window that reaches into the padding */
          else
            for (c = 0; c < C; c++)
              for (a = 0; a < K; a++)
                for (e = 0; e < K; e++)
                  acc += (double)w[(((size_t)o * C + c) * K + a) * K + e] *
                         x[(((size_t)n * C + c) * Hh + (size_t)i * S + a) * Ww + (size_t)j * S + e];
          y[(((size_t)n * O + o) * Ho + i) * Wo + j] = (asr_real)acc;
        }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_conv2d_backward_naive(asr_real *dx, asr_real *dw, asr_real *db,
                                            const asr_real *dy, const asr_real *x,
                                            const asr_real *w, const int *lengths, int N, int C,
                                            int Hh, int Ww, int O, int K, int S) {
  int n, o, i, j, c, a, e, Ho, Wo;
  asr_result r = asr__conv2d_check(dy, x, w, lengths, N, C, Hh, Ww, O, K, S);
  if (r) return r;
  Ho = (Hh - K) / S + 1, Wo = (Ww - K) / S + 1;
  if ((double)N * O * Ho * Wo * C * K * K > 67108864.0) return ASR_ERR_TOO_LARGE;
  for (n = 0; n < N; n++) {
    int rows = asr__conv2d_rows(lengths ? lengths[n] : Hh, K, S);
    for (o = 0; o < O; o++)
      for (i = 0; i < rows; i++)           /* padded output rows carry no gradient */
        for (j = 0; j < Wo; j++) {
          double d = dy[(((size_t)n * O + o) * Ho + i) * Wo + j];
          if (db) db[o] += (asr_real)d;
          for (c = 0; c < C; c++)
            for (a = 0; a < K; a++)
              for (e = 0; e < K; e++) {
                size_t wi = (((size_t)o * C + c) * K + a) * K + e;
                size_t xi = (((size_t)n * C + c) * Hh + (size_t)i * S + a) * Ww + (size_t)j * S + e;
                if (dw) dw[wi] += (asr_real)(d * x[xi]);     /* dw = dy * x */
                if (dx) dx[xi] += (asr_real)(d * w[wi]);     /* dx = dy * w */
              }
        }
  }
  return ASR_OK;
}

/* col (C K K, Ho Wo) of item xn (C,Hh,Ww), rows at or past `len` read as 0. */
ASR__PRIVATE void asr__conv2d_im2col(asr_real *col, const asr_real *xn, int C, int Hh, int Ww, int K,
                              int S, int Ho, int Wo, int len) {
  int c, a, e, i, j;
  for (c = 0; c < C; c++)
    for (a = 0; a < K; a++)
      for (e = 0; e < K; e++) {
        asr_real *cr = col + (((size_t)c * K + a) * K + e) * Ho * Wo;
        for (i = 0; i < Ho; i++) {
          int row = i * S + a;
          const asr_real *xr = xn + ((size_t)c * Hh + row) * Ww + e;
          for (j = 0; j < Wo; j++) cr[(size_t)i * Wo + j] = row < len ? xr[(size_t)j * S] : 0;
        }
      }
}

ASR__PRIVATE asr_result asr__conv2d_forward_impl(asr_real *y, const asr_real *x, const asr_real *w,
                                         const asr_real *b, const int *lengths, int N, int C,
                                         int Hh, int Ww, int O, int K, int S, void *work,
                                         size_t work_bytes, int fast) {
  int n, o, Ho, Wo;
  size_t HW;
  asr_real *col;
  asr_result r = asr__conv2d_check(y, x, w, lengths, N, C, Hh, Ww, O, K, S);
  if (r) return r;
  if (N == 0) return ASR_OK;
  if (work_bytes < asr_conv2d_workspace_size(C, Hh, Ww, O, K, S) || !work) return ASR_ERR_WORKSPACE;
  Ho = (Hh - K) / S + 1, Wo = (Ww - K) / S + 1;
  HW = (size_t)Ho * Wo;
  col = (asr_real *)work;
  for (n = 0; n < N; n++) {
    int len = lengths ? lengths[n] : Hh, rows = asr__conv2d_rows(len, K, S);
    asr_real *yn = y + (size_t)n * O * HW;
    asr__conv2d_im2col(col, x + (size_t)n * C * Hh * Ww, C, Hh, Ww, K, S, Ho, Wo, len);
    asr__c3_gemm(fast, 0, 0, O, (int)HW, C * K * K, 1, w, C * K * K, col, (int)HW, 0, yn, (int)HW);  /* Y = W col */
    for (o = 0; o < O; o++) {
      asr_real *yo = yn + (size_t)o * HW;
      size_t k;
      if (b)
        for (k = 0; k < (size_t)rows * Wo; k++) yo[k] += b[o];
      for (k = (size_t)rows * Wo; k < HW; k++) yo[k] = 0;   /* windows into the padding */
    }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_conv2d_forward_ref(asr_real *y, const asr_real *x, const asr_real *w,
                                         const asr_real *b, const int *lengths, int N, int C,
                                         int Hh, int Ww, int O, int K, int S, void *work,
                                         size_t work_bytes) {
  return asr__conv2d_forward_impl(y, x, w, b, lengths, N, C, Hh, Ww, O, K, S, work, work_bytes, 0);
}

ASR__PRIVATE asr_result asr__conv2d_backward_impl(asr_real *dx, asr_real *dw, asr_real *db,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *w, const int *lengths, int N, int C,
                                          int Hh, int Ww, int O, int K, int S, void *work,
                                          size_t work_bytes, int fast) {
  int n, o, c, a, e, i, j, Ho, Wo;
  size_t HW, CKK;
  asr_real *col, *dcol, *dyn;
  asr_result r = asr__conv2d_check(dy, x, w, lengths, N, C, Hh, Ww, O, K, S);
  if (r) return r;
  if (N == 0) return ASR_OK;
  if (work_bytes < asr_conv2d_workspace_size(C, Hh, Ww, O, K, S) || !work) return ASR_ERR_WORKSPACE;
  Ho = (Hh - K) / S + 1, Wo = (Ww - K) / S + 1;
  HW = (size_t)Ho * Wo, CKK = (size_t)C * K * K;
  col = (asr_real *)work, dcol = col + CKK * HW, dyn = dcol + CKK * HW;
  for (n = 0; n < N; n++) {
    int len = lengths ? lengths[n] : Hh, rows = asr__conv2d_rows(len, K, S);
    /* dY of this item with the padded rows zeroed */
    for (o = 0; o < O; o++) {
      const asr_real *src = dy + ((size_t)n * O + o) * HW;
      asr_real *dst = dyn + (size_t)o * HW;
      size_t k;
      for (k = 0; k < HW; k++) dst[k] = k < (size_t)rows * Wo ? src[k] : 0;
      if (db)
        for (k = 0; k < (size_t)rows * Wo; k++) db[o] += dst[k];
    }
    if (dw) {                                  /* dW += dY col^T */
      asr__conv2d_im2col(col, x + (size_t)n * C * Hh * Ww, C, Hh, Ww, K, S, Ho, Wo, len);
      asr__c3_gemm(fast, 0, 1, O, (int)CKK, (int)HW, 1, dyn, (int)HW, col, (int)HW, 1, dw, (int)CKK);
    }
    if (dx) {                                  /* dcol = W^T dY, then col2im */
      asr_real *dxn = dx + (size_t)n * C * Hh * Ww;
      asr__c3_gemm(fast, 1, 0, (int)CKK, (int)HW, O, 1, w, (int)CKK, dyn, (int)HW, 0, dcol, (int)HW);
      for (c = 0; c < C; c++)
        for (a = 0; a < K; a++)
          for (e = 0; e < K; e++) {
            const asr_real *cr = dcol + (((size_t)c * K + a) * K + e) * HW;
            for (i = 0; i < rows; i++) {
              asr_real *xr = dxn + ((size_t)c * Hh + (size_t)i * S + a) * Ww + e;
              for (j = 0; j < Wo; j++) xr[(size_t)j * S] += cr[(size_t)i * Wo + j];
            }
          }
    }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_conv2d_backward_ref(asr_real *dx, asr_real *dw, asr_real *db,
                                          const asr_real *dy, const asr_real *x,
                                          const asr_real *w, const int *lengths, int N, int C,
                                          int Hh, int Ww, int O, int K, int S, void *work,
                                          size_t work_bytes) {
  return asr__conv2d_backward_impl(dx, dw, db, dy, x, w, lengths, N, C, Hh, Ww, O, K, S, work, work_bytes, 0);
}

ASRDEF asr_result asr_conv2d_forward(asr_real *y, const asr_real *x, const asr_real *w,
                                     const asr_real *b, const int *lengths, int N, int C, int Hh,
                                     int Ww, int O, int K, int S, void *work, size_t work_bytes) {
  return asr__conv2d_forward_impl(y, x, w, b, lengths, N, C, Hh, Ww, O, K, S, work, work_bytes, 1);
}
ASRDEF asr_result asr_conv2d_backward(asr_real *dx, asr_real *dw, asr_real *db,
                                      const asr_real *dy, const asr_real *x, const asr_real *w,
                                      const int *lengths, int N, int C, int Hh, int Ww, int O,
                                      int K, int S, void *work, size_t work_bytes) {
  return asr__conv2d_backward_impl(dx, dw, db, dy, x, w, lengths, N, C, Hh, Ww, O, K, S, work, work_bytes, 1);
}

/* ---- Conv2dSubsampling */
ASRDEF int asr_conv2d_subsampling_out_len(int L) { return L < 7 ? 0 : ((L - 1) / 2 - 1) / 2; }

ASR__PRIVATE asr_result asr__sub_check(const void *y, const void *s, const void *x,
                                       const int *lengths, const asr_conv2d_subsampling_params *p,
                                       int N, int T, int F, int D) {
  int b;
  if (!p || !s || N < 0 || T < 0 || F < 0 || D < 1 || !p->conv0_w || !p->conv2_w || !p->out_w)
    return ASR_ERR_INVALID_ARG;
  if (T < 7 || F < 7) return ASR_ERR_SHAPE;
  if (N > 0 && (!x || !y)) return ASR_ERR_INVALID_ARG;
  if ((double)N * T * F * D > 2147483647.0 || (double)D * D * 9 * T * F / 4 > 2147483647.0)
    return ASR_ERR_TOO_LARGE;
  if (lengths)
    for (b = 0; b < N; b++)
      if (lengths[b] < 0 || lengths[b] > T) return ASR_ERR_RANGE;
  return ASR_OK;
}

ASRDEF size_t asr_conv2d_subsampling_saved_size(int N, int T, int F, int D) {
  int T1 = (T - 1) / 2, F1 = (F - 1) / 2, T2 = (T1 - 1) / 2, F2 = (F1 - 1) / 2;
  if (N < 0 || T < 7 || F < 7 || D < 1) return (size_t)-1;
  return asr__rnn_add(asr__rnn_bytes((size_t)N, (size_t)D, (size_t)T1, (size_t)F1),
                      asr__rnn_bytes((size_t)N, (size_t)T2, (size_t)D, (size_t)F2));
}

ASRDEF asr_result asr_conv2d_subsampling_saved_init(asr_conv2d_subsampling_saved *s, void *buf,
                                                    size_t bytes, int N, int T, int F, int D) {
  size_t need = asr_conv2d_subsampling_saved_size(N, T, F, D);
  if (!s) return ASR_ERR_INVALID_ARG;
  if (need == (size_t)-1) return T < 7 || F < 7 ? ASR_ERR_SHAPE : ASR_ERR_INVALID_ARG;
  if (bytes < need || !buf) return ASR_ERR_WORKSPACE;
  s->h1 = (asr_real *)buf;
  s->z = s->h1 + (size_t)N * D * ((T - 1) / 2) * ((F - 1) / 2);
  return ASR_OK;
}

ASRDEF size_t asr_conv2d_subsampling_workspace_size(int N, int T, int F, int D) {
  int T1 = (T - 1) / 2, F1 = (F - 1) / 2, T2 = (T1 - 1) / 2, F2 = (F1 - 1) / 2;
  size_t c0, c2, n;
  (void)N;
  if (T < 7 || F < 7 || D < 1) return (size_t)-1;
  c0 = asr_conv2d_workspace_size(1, T, F, D, 3, 2);
  c2 = asr_conv2d_workspace_size(D, T1, F1, D, 3, 2);
  /* one item's h2 (D,T2,F2) and dh1 (D,T1,F1), a row buffer, and the larger conv workspace */
  n = asr__rnn_add(asr__rnn_bytes((size_t)D, (size_t)T2, (size_t)F2, 1),
                   asr__rnn_bytes((size_t)D, (size_t)T1, (size_t)F1, 1));
  n = asr__rnn_add(n, asr__rnn_bytes((size_t)T2, (size_t)D, (size_t)F2, 1));
  return asr__rnn_add(n, c0 > c2 ? c0 : c2);
}

/* The shared part of the two forward tiers; `naive` picks the conv2d tier. */
ASR__PRIVATE asr_result asr__sub_forward(asr_real *y, int *lengths_out,
                                         const asr_conv2d_subsampling_saved *s, const asr_real *x,
                                         const int *lengths, const asr_conv2d_subsampling_params *p,
                                         int N, int T, int F, int D, void *work, size_t work_bytes,
                                         int naive, int fast) {
  int T1 = (T - 1) / 2, F1 = (F - 1) / 2, T2 = (T1 - 1) / 2, F2 = (F1 - 1) / 2, b, d, t, f;
  size_t n1 = (size_t)D * T1 * F1, k;
  double xscale = sqrt((double)D);
  asr_real *h2, *cw;
  size_t cwb;
  asr_result r = asr__sub_check(y, s, x, lengths, p, N, T, F, D);
  if (r) return r;
  if (!s->h1 || !s->z) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_conv2d_subsampling_workspace_size(N, T, F, D) || !work)
    return ASR_ERR_WORKSPACE;
  h2 = (asr_real *)work;                                       /* (D,T2,F2) of one item */
  cw = h2 + (size_t)D * T2 * F2 + n1 + (size_t)T2 * D * F2;    /* the conv2d workspace */
  cwb = work_bytes - sizeof(asr_real) * ((size_t)D * T2 * F2 + n1 + (size_t)T2 * D * F2);
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    int L1 = asr__conv2d_rows(len, 3, 2), L2 = asr__conv2d_rows(L1, 3, 2);
    asr_real *h1 = s->h1 + (size_t)b * n1, *z = s->z + (size_t)b * T2 * D * F2;
    /* h1 = relu(conv.0(x)): x (T,F) is one input channel */
    r = naive ? asr_conv2d_forward_naive(h1, x + (size_t)b * T * F, p->conv0_w, p->conv0_b, &len, 1, 1, T, F, D, 3, 2)
              : asr__conv2d_forward_impl(h1, x + (size_t)b * T * F, p->conv0_w, p->conv0_b, &len, 1, 1, T, F, D, 3, 2, cw, cwb, fast);
    if (r) break;
    for (k = 0; k < n1; k++) h1[k] = h1[k] > 0 ? h1[k] : 0;
    /* h2 = relu(conv.2(h1)), then laid out as z[t][d F2 + f] for the linear */
    r = naive ? asr_conv2d_forward_naive(h2, h1, p->conv2_w, p->conv2_b, &L1, 1, D, T1, F1, D, 3, 2)
              : asr__conv2d_forward_impl(h2, h1, p->conv2_w, p->conv2_b, &L1, 1, D, T1, F1, D, 3, 2, cw, cwb, fast);
    if (r) break;
    for (t = 0; t < T2; t++)
      for (d = 0; d < D; d++)
        for (f = 0; f < F2; f++) {
          asr_real v = h2[((size_t)d * T2 + t) * F2 + f];
          z[((size_t)t * D + d) * F2 + f] = v > 0 ? v : 0;
        }
    /* y = (z W^T + b) sqrt(D) on the valid frames */
    if (naive) {
      int o;
      for (t = 0; t < T2; t++)
        for (o = 0; o < D; o++) {
          double acc = p->out_b ? p->out_b[o] : 0;
          for (k = 0; k < (size_t)D * F2; k++) acc += (double)p->out_w[(size_t)o * D * F2 + k] * z[(size_t)t * D * F2 + k];
          y[((size_t)b * T2 + t) * D + o] = t < L2 ? (asr_real)(acc * xscale) : 0;
        }
    } else {
      asr_real *yb = y + (size_t)b * T2 * D;
      if (L2 > 0) asr__c3_gemm(fast, 0, 1, L2, D, D * F2, (asr_real)xscale, z, D * F2, p->out_w, D * F2, 0, yb, D);
      for (t = 0; t < L2; t++)
        if (p->out_b)
          for (d = 0; d < D; d++) yb[(size_t)t * D + d] += (asr_real)(xscale * p->out_b[d]);
      for (k = (size_t)L2 * D; k < (size_t)T2 * D; k++) yb[k] = 0;
    }
    if (lengths_out) lengths_out[b] = L2;
  }
  return r;
}

ASRDEF asr_result asr_conv2d_subsampling_forward_naive(asr_real *y, int *lengths_out,
                                                       const asr_conv2d_subsampling_saved *s,
                                                       const asr_real *x, const int *lengths,
                                                       const asr_conv2d_subsampling_params *p,
                                                       int N, int T, int F, int D, void *work,
                                                       size_t work_bytes) {
  return asr__sub_forward(y, lengths_out, s, x, lengths, p, N, T, F, D, work, work_bytes, 1, 0);
}
ASRDEF asr_result asr_conv2d_subsampling_forward_ref(asr_real *y, int *lengths_out,
                                                     const asr_conv2d_subsampling_saved *s,
                                                     const asr_real *x, const int *lengths,
                                                     const asr_conv2d_subsampling_params *p,
                                                     int N, int T, int F, int D, void *work,
                                                     size_t work_bytes) {
  return asr__sub_forward(y, lengths_out, s, x, lengths, p, N, T, F, D, work, work_bytes, 0, 0);
}
ASRDEF asr_result asr_conv2d_subsampling_forward(asr_real *y, int *lengths_out,
                                                 const asr_conv2d_subsampling_saved *s,
                                                 const asr_real *x, const int *lengths,
                                                 const asr_conv2d_subsampling_params *p, int N,
                                                 int T, int F, int D, void *work,
                                                 size_t work_bytes) {
  return asr__sub_forward(y, lengths_out, s, x, lengths, p, N, T, F, D, work, work_bytes, 0, 1);
}

ASR__PRIVATE asr_result asr__conv2d_subsampling_backward_impl(asr_real *dx,
                                                      const asr_conv2d_subsampling_grads *g,
                                                      const asr_real *dy,
                                                      const asr_conv2d_subsampling_saved *s,
                                                      const asr_real *x, const int *lengths,
                                                      const asr_conv2d_subsampling_params *p,
                                                      int N, int T, int F, int D, void *work,
                                                      size_t work_bytes, int fast) {
  int T1 = (T - 1) / 2, F1 = (F - 1) / 2, T2 = (T1 - 1) / 2, F2 = (F1 - 1) / 2, b, d, t, f;
  size_t n1 = (size_t)D * T1 * F1, k;
  asr_real xscale = (asr_real)sqrt((double)D);
  asr_real *dh2, *dh1, *dz, *cw;
  size_t cwb;
  asr_result r = asr__sub_check(dy, s, x, lengths, p, N, T, F, D);
  if (r) return r;
  if (!s->h1 || !s->z) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_conv2d_subsampling_workspace_size(N, T, F, D) || !work) return ASR_ERR_WORKSPACE;
  dh2 = (asr_real *)work;                         /* (D,T2,F2) */
  dh1 = dh2 + (size_t)D * T2 * F2;                /* (D,T1,F1) */
  dz = dh1 + n1;                                  /* (T2, D F2) */
  cw = dz + (size_t)T2 * D * F2;
  cwb = work_bytes - sizeof(asr_real) * ((size_t)D * T2 * F2 + n1 + (size_t)T2 * D * F2);
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    int L1 = asr__conv2d_rows(len, 3, 2), L2 = asr__conv2d_rows(L1, 3, 2);
    const asr_real *dyb = dy + (size_t)b * T2 * D, *z = s->z + (size_t)b * T2 * D * F2;
    const asr_real *h1 = s->h1 + (size_t)b * n1;
    if (L2 == 0) continue;                        /* no valid output: no gradient */
    /* the linear (scaled by sqrt(D)): dz = sqrt(D) dy W, dW += sqrt(D) dy^T z */
    asr__c3_gemm(fast, 0, 0, L2, D * F2, D, xscale, dyb, D, p->out_w, D * F2, 0, dz, D * F2);
    if (g && g->out_w) asr__c3_gemm(fast, 1, 0, D, D * F2, L2, xscale, dyb, D, z, D * F2, 1, g->out_w, D * F2);
    if (g && g->out_b)
      for (t = 0; t < L2; t++)
        for (d = 0; d < D; d++) g->out_b[d] += xscale * dyb[(size_t)t * D + d];
    /* relu' and the layout back to (D,T2,F2); rows past L2 get nothing */
    memset(dh2, 0, sizeof(asr_real) * (size_t)D * T2 * F2);
    for (t = 0; t < L2; t++)
      for (d = 0; d < D; d++)
        for (f = 0; f < F2; f++) {
          size_t zi = ((size_t)t * D + d) * F2 + f;
          dh2[((size_t)d * T2 + t) * F2 + f] = z[zi] > 0 ? dz[zi] : 0;
        }
    /* conv.2 backward into dh1, then relu' with h1 > 0, then conv.0 backward */
    memset(dh1, 0, sizeof(asr_real) * n1);
    r = asr__conv2d_backward_impl(dh1, g ? g->conv2_w : NULL, g ? g->conv2_b : NULL, dh2, h1,
                                  p->conv2_w, &L1, 1, D, T1, F1, D, 3, 2, cw, cwb, fast);
    if (r) return r;
    for (k = 0; k < n1; k++)
      if (!(h1[k] > 0)) dh1[k] = 0;
    r = asr__conv2d_backward_impl(dx ? dx + (size_t)b * T * F : NULL, g ? g->conv0_w : NULL,
                                  g ? g->conv0_b : NULL, dh1, x + (size_t)b * T * F, p->conv0_w, &len,
                                  1, 1, T, F, D, 3, 2, cw, cwb, fast);
    if (r) return r;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_conv2d_subsampling_backward_ref(asr_real *dx,
                                                      const asr_conv2d_subsampling_grads *g,
                                                      const asr_real *dy,
                                                      const asr_conv2d_subsampling_saved *s,
                                                      const asr_real *x, const int *lengths,
                                                      const asr_conv2d_subsampling_params *p,
                                                      int N, int T, int F, int D, void *work,
                                                      size_t work_bytes) {
  return asr__conv2d_subsampling_backward_impl(dx, g, dy, s, x, lengths, p, N, T, F, D, work, work_bytes, 0);
}

ASRDEF asr_result asr_conv2d_subsampling_backward(asr_real *dx,
                                                  const asr_conv2d_subsampling_grads *g,
                                                  const asr_real *dy,
                                                  const asr_conv2d_subsampling_saved *s,
                                                  const asr_real *x, const int *lengths,
                                                  const asr_conv2d_subsampling_params *p, int N,
                                                  int T, int F, int D, void *work,
                                                  size_t work_bytes) {
  return asr__conv2d_subsampling_backward_impl(dx, g, dy, s, x, lengths, p, N, T, F, D, work, work_bytes, 1);
}


/* ---- the Conformer block and its modules */
ASRDEF void asr_conformer_config_init(asr_conformer_config *c, int d_model, int heads, int ff_dim,
                                      int kernel) {
  memset(c, 0, sizeof *c);
  c->d_model = d_model, c->heads = heads, c->ff_dim = ff_dim, c->kernel = kernel;
  c->rel_pos = ASR_REL_POS_LATEST;
  c->training = 0;
  c->bn_momentum = 0.1, c->bn_eps = 1e-5, c->ln_eps = 1e-12;
}

/* Transposes each item: dst (N,C,T) <- src (N,T,C), zeroing frames t >= lengths[n]
 * (channels_first = 1), or dst (N,T,C) <- src (N,C,T) likewise (channels_first = 0). */
ASR__PRIVATE void asr__conf_transpose(asr_real *dst, const asr_real *src, const int *lengths, int N,
                                      int T, int C, int channels_first) {
  int n, t, c;
  for (n = 0; n < N; n++) {
    int len = lengths ? lengths[n] : T;
    const asr_real *s = src + (size_t)n * T * C;
    asr_real *d = dst + (size_t)n * T * C;
    for (t = 0; t < T; t++)
      for (c = 0; c < C; c++) {
        asr_real v = t < len ? (channels_first ? s[(size_t)t * C + c] : s[(size_t)c * T + t]) : 0;
        if (channels_first) d[(size_t)c * T + t] = v;
        else d[(size_t)t * C + c] = v;
      }
  }
}
/* Zeroes the frames t >= lengths[n] of x (N,T,C). */
ASR__PRIVATE void asr__conf_mask_rows(asr_real *x, const int *lengths, int N, int T, int C) {
  int n;
  if (!lengths) return;
  for (n = 0; n < N; n++)
    if (lengths[n] < T) memset(x + ((size_t)n * T + lengths[n]) * C, 0, sizeof(asr_real) * (size_t)(T - lengths[n]) * C);
}

/* -- feed-forward */
ASRDEF size_t asr_conformer_ff_workspace_size(int M, int F) {
  if (M < 0 || F < 0) return (size_t)-1;
  return asr__rnn_bytes((size_t)M, (size_t)F, 2, 1);
}

ASR__PRIVATE asr_result asr__conf_ff_forward(asr_real *y, const asr_conformer_ff_saved *s,
                                             const asr_real *x, const asr_conformer_ff_params *p,
                                             int M, int D, int F, int fast) {
  asr_result r;
  if (!s || !p || !p->w1 || !p->w2 || M < 0 || D < 1 || F < 1) return ASR_ERR_INVALID_ARG;
  if (M == 0) return ASR_OK;
  if (!y || !x || !s->h || !s->s) return ASR_ERR_INVALID_ARG;
  /* h = x W1^T + b1, s = swish(h), y = s W2^T + b2 */
  r = fast ? asr_linear_forward(s->h, x, p->w1, p->b1, M, D, F) : asr_linear_forward_ref(s->h, x, p->w1, p->b1, M, D, F);
  if (r) return r;
  asr_swish_forward(s->s, s->h, (size_t)M * F);
  return fast ? asr_linear_forward(y, s->s, p->w2, p->b2, M, F, D) : asr_linear_forward_ref(y, s->s, p->w2, p->b2, M, F, D);
}

ASRDEF asr_result asr_conformer_ff_forward(asr_real *y, const asr_conformer_ff_saved *s,
                                           const asr_real *x, const asr_conformer_ff_params *p,
                                           int M, int D, int F) {
  return asr__conf_ff_forward(y, s, x, p, M, D, F, 1);
}

ASR__PRIVATE asr_result asr__conf_ff_backward(asr_real *dx, const asr_conformer_ff_grads *g,
                                              const asr_real *dy, const asr_conformer_ff_saved *s,
                                              const asr_real *x, const asr_conformer_ff_params *p,
                                              int M, int D, int F, void *work, size_t work_bytes,
                                              int fast) {
  asr_real *ds, *dh;
  asr_result r;
  if (!s || !p || !p->w1 || !p->w2 || M < 0 || D < 1 || F < 1) return ASR_ERR_INVALID_ARG;
  if (M == 0) return ASR_OK;
  if (!dy || !x) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_conformer_ff_workspace_size(M, F) || !work) return ASR_ERR_WORKSPACE;
  ds = (asr_real *)work;
  dh = ds + (size_t)M * F;
  memset(ds, 0, sizeof(asr_real) * (size_t)M * F * 2);
  /* through W2: ds = dy W2 (and dW2, db2); through swish; through W1 */
  r = (fast ? asr_linear_backward : asr_linear_backward_ref)(ds, g ? g->w2 : NULL, g ? g->b2 : NULL, dy, s->s,
                                                              p->w2, M, F, D);
  if (r) return r;
  asr_swish_backward(dh, ds, s->h, (size_t)M * F);
  return (fast ? asr_linear_backward : asr_linear_backward_ref)(dx, g ? g->w1 : NULL, g ? g->b1 : NULL, dh, x,
                                                                 p->w1, M, D, F);
}

ASRDEF asr_result asr_conformer_ff_backward(asr_real *dx, const asr_conformer_ff_grads *g,
                                            const asr_real *dy, const asr_conformer_ff_saved *s,
                                            const asr_real *x, const asr_conformer_ff_params *p,
                                            int M, int D, int F, void *work, size_t work_bytes) {
  return asr__conf_ff_backward(dx, g, dy, s, x, p, M, D, F, work, work_bytes, 1);
}

/* -- convolution module */
ASRDEF size_t asr_conformer_conv_saved_size(int N, int T, int D) {
  size_t n;
  if (N < 0 || T < 0 || D < 1) return (size_t)-1;
  n = asr__rnn_bytes((size_t)N, (size_t)T, (size_t)D, 6);             /* a (2), u, c, n, s */
  return asr__rnn_add(n, asr__rnn_bytes((size_t)D, 2, 1, 1));        /* bn_mean, bn_rstd */
}

ASRDEF asr_result asr_conformer_conv_saved_init(asr_conformer_conv_saved *s, void *buf, size_t bytes,
                                                int N, int T, int D) {
  size_t need = asr_conformer_conv_saved_size(N, T, D), ntd = (size_t)N * T * D;
  asr_real *r = (asr_real *)buf;
  if (!s || need == (size_t)-1) return ASR_ERR_INVALID_ARG;
  if (bytes < need || !buf) return ASR_ERR_WORKSPACE;
  s->a = r, s->u = r + 2 * ntd, s->c = r + 3 * ntd, s->n = r + 4 * ntd, s->s = r + 5 * ntd;
  s->bn_mean = r + 6 * ntd, s->bn_rstd = s->bn_mean + D;
  return ASR_OK;
}

ASRDEF size_t asr_conformer_conv_workspace_size(int N, int T, int D) {
  if (N < 0 || T < 0 || D < 1) return (size_t)-1;
  return asr__rnn_bytes((size_t)N, (size_t)T, (size_t)D, 4);
}

ASR__PRIVATE asr_result asr__conf_conv_check(const asr_conformer_conv_saved *s, const void *x,
                                             const int *lengths, const asr_conformer_conv_params *p,
                                             const asr_conformer_config *cfg, int N, int T) {
  int b;
  if (!s || !p || !cfg || N < 0 || T < 0 || cfg->d_model < 1 || cfg->kernel < 1) return ASR_ERR_INVALID_ARG;
  if (cfg->kernel % 2 == 0) return ASR_ERR_INVALID_ARG;   /* ESPnet asserts (K-1) % 2 == 0 */
  if (!p->pw1_w || !p->dw_w || !p->pw2_w || !p->bn_mean || !p->bn_var) return ASR_ERR_INVALID_ARG;
  if ((size_t)N * T > 0 && !x) return ASR_ERR_INVALID_ARG;
  if ((double)N * T * cfg->d_model * 2 > 2147483647.0) return ASR_ERR_TOO_LARGE;
  if (lengths)
    for (b = 0; b < N; b++)
      if (lengths[b] < 0 || lengths[b] > T) return ASR_ERR_RANGE;
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__conf_conv_forward(asr_real *y, const asr_conformer_conv_saved *s,
                                               const asr_real *x, const int *lengths,
                                               const asr_conformer_conv_params *p,
                                               const asr_conformer_config *cfg, int N, int T,
                                               void *work, size_t work_bytes, int fast) {
  int D, K, M = N * T;
  asr_real *tmp;
  asr_result r = asr__conf_conv_check(s, x, lengths, p, cfg, N, T);
  if (r) return r;
  if (M == 0) return ASR_OK;
  if (!y) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_conformer_conv_workspace_size(N, T, cfg->d_model) || !work) return ASR_ERR_WORKSPACE;
  D = cfg->d_model, K = cfg->kernel;
  tmp = (asr_real *)work;                      /* (N,T,D) channels-last scratch */
  /* a = pointwise_conv1(x): a (2D,D,1) kernel is a per-frame linear map */
  r = fast ? asr_linear_forward(s->a, x, p->pw1_w, p->pw1_b, M, D, 2 * D)
           : asr_linear_forward_ref(s->a, x, p->pw1_w, p->pw1_b, M, D, 2 * D);
  if (r) return r;
  /* u = GLU over the channels, then channels first with the padded frames zeroed */
  r = asr_glu_forward(tmp, s->a, M, D, 1);
  if (r) return r;
  asr__conf_transpose(s->u, tmp, lengths, N, T, D, 1);
  /* c = depthwise conv (padding (K-1)/2 keeps T); padded frames are read as 0 */
  r = asr_depthwise_conv1d_forward(s->c, s->u, p->dw_w, p->dw_b, lengths, N, D, T, K, 1, (K - 1) / 2, 1);
  if (r) return r;
  /* n = batch norm, s = swish */
  r = asr_batch_norm_forward(s->n, s->bn_mean, s->bn_rstd, p->bn_mean, p->bn_var, s->c, p->bn_w, p->bn_b,
                             lengths, N, D, T, cfg->training, cfg->bn_momentum, cfg->bn_eps);
  if (r) return r;
  asr_swish_forward(tmp, s->n, (size_t)M * D);   /* tmp as (N,D,T) */
  asr__conf_transpose(s->s, tmp, lengths, N, T, D, 0);
  /* y = pointwise_conv2(s), 0 at padded frames */
  r = fast ? asr_linear_forward(y, s->s, p->pw2_w, p->pw2_b, M, D, D)
           : asr_linear_forward_ref(y, s->s, p->pw2_w, p->pw2_b, M, D, D);
  if (r) return r;
  asr__conf_mask_rows(y, lengths, N, T, D);
  return ASR_OK;
}

ASRDEF asr_result asr_conformer_conv_forward_ref(asr_real *y, const asr_conformer_conv_saved *s,
                                                 const asr_real *x, const int *lengths,
                                                 const asr_conformer_conv_params *p,
                                                 const asr_conformer_config *cfg, int N, int T,
                                                 void *work, size_t work_bytes) {
  return asr__conf_conv_forward(y, s, x, lengths, p, cfg, N, T, work, work_bytes, 0);
}
ASRDEF asr_result asr_conformer_conv_forward(asr_real *y, const asr_conformer_conv_saved *s,
                                             const asr_real *x, const int *lengths,
                                             const asr_conformer_conv_params *p,
                                             const asr_conformer_config *cfg, int N, int T,
                                             void *work, size_t work_bytes) {
  return asr__conf_conv_forward(y, s, x, lengths, p, cfg, N, T, work, work_bytes, 1);
}

ASR__PRIVATE asr_result asr__conf_conv_backward(asr_real *dx, const asr_conformer_conv_grads *g,
                                                const asr_real *dy, const asr_conformer_conv_saved *s,
                                                const asr_real *x, const int *lengths,
                                                const asr_conformer_conv_params *p,
                                                const asr_conformer_config *cfg, int N, int T,
                                                void *work, size_t work_bytes, int fast) {
  int D, K, M = N * T;
  size_t ntd;
  asr_real *b1, *b2, *da;
  asr_result r = asr__conf_conv_check(s, x, lengths, p, cfg, N, T);
  if (r) return r;
  if (M == 0) return ASR_OK;
  if (!dy) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_conformer_conv_workspace_size(N, T, cfg->d_model) || !work) return ASR_ERR_WORKSPACE;
  D = cfg->d_model, K = cfg->kernel, ntd = (size_t)M * D;
  b1 = (asr_real *)work, b2 = b1 + ntd, da = b2 + ntd;   /* two (N,T,D) and one (N,T,2D) */
  /* dy at padded frames: their outputs are constant 0 */
  memcpy(b2, dy, sizeof(asr_real) * ntd);
  asr__conf_mask_rows(b2, lengths, N, T, D);
  /* pointwise_conv2: ds (b1) = dy W2, dW2 += dy^T s */
  memset(b1, 0, sizeof(asr_real) * ntd);
  r = (fast ? asr_linear_backward : asr_linear_backward_ref)(b1, g ? g->pw2_w : NULL, g ? g->pw2_b : NULL, b2,
                                                              s->s, p->pw2_w, M, D, D);
  if (r) return r;
  /* channels first (b2), swish backward into b1 */
  asr__conf_transpose(b2, b1, lengths, N, T, D, 1);
  memset(b1, 0, sizeof(asr_real) * ntd);
  asr_swish_backward(b1, b2, s->n, ntd);
  /* batch norm backward into b2 */
  memset(b2, 0, sizeof(asr_real) * ntd);
  r = asr_batch_norm_backward(b2, g ? g->bn_w : NULL, g ? g->bn_b : NULL, b1, s->c, s->bn_mean, s->bn_rstd,
                              p->bn_w, lengths, N, D, T, cfg->training);
  if (r) return r;
  /* depthwise conv backward into b1 (padded frames get nothing) */
  memset(b1, 0, sizeof(asr_real) * ntd);
  r = asr_depthwise_conv1d_backward(b1, g ? g->dw_w : NULL, g ? g->dw_b : NULL, b2, s->u, p->dw_w, lengths, N,
                                    D, T, K, 1, (K - 1) / 2, 1);
  if (r) return r;
  /* channels last (b2), GLU backward into da, pointwise_conv1 backward into dx */
  asr__conf_transpose(b2, b1, lengths, N, T, D, 0);
  memset(da, 0, sizeof(asr_real) * 2 * ntd);
  r = asr_glu_backward(da, b2, s->a, M, D, 1);
  if (r) return r;
  return (fast ? asr_linear_backward : asr_linear_backward_ref)(dx, g ? g->pw1_w : NULL, g ? g->pw1_b : NULL, da,
                                                                 x, p->pw1_w, M, D, 2 * D);
}

ASRDEF asr_result asr_conformer_conv_backward_ref(asr_real *dx, const asr_conformer_conv_grads *g,
                                                  const asr_real *dy,
                                                  const asr_conformer_conv_saved *s,
                                                  const asr_real *x, const int *lengths,
                                                  const asr_conformer_conv_params *p,
                                                  const asr_conformer_config *cfg, int N, int T,
                                                  void *work, size_t work_bytes) {
  return asr__conf_conv_backward(dx, g, dy, s, x, lengths, p, cfg, N, T, work, work_bytes, 0);
}
ASRDEF asr_result asr_conformer_conv_backward(asr_real *dx, const asr_conformer_conv_grads *g,
                                              const asr_real *dy, const asr_conformer_conv_saved *s,
                                              const asr_real *x, const int *lengths,
                                              const asr_conformer_conv_params *p,
                                              const asr_conformer_config *cfg, int N, int T,
                                              void *work, size_t work_bytes) {
  return asr__conf_conv_backward(dx, g, dy, s, x, lengths, p, cfg, N, T, work, work_bytes, 1);
}

/* -- the block */
ASR__PRIVATE asr_result asr__conf_block_check(const asr_conformer_config *cfg, int N, int T) {
  if (!cfg || N < 0 || T < 0 || cfg->d_model < 1 || cfg->heads < 1 || cfg->ff_dim < 1 || cfg->kernel < 1)
    return ASR_ERR_INVALID_ARG;
  if (cfg->d_model % 2 || cfg->d_model % cfg->heads) return ASR_ERR_SHAPE;
  if (cfg->kernel % 2 == 0) return ASR_ERR_INVALID_ARG;
  if ((double)N * T * ASR__MAX(cfg->ff_dim, 2 * cfg->d_model) > 2147483647.0) return ASR_ERR_TOO_LARGE;
  return ASR_OK;
}

ASRDEF size_t asr_conformer_block_saved_size(const asr_conformer_config *cfg, int N, int T) {
  size_t n;
  if (asr__conf_block_check(cfg, N, T)) return (size_t)-1;
  n = asr__rnn_bytes((size_t)N, (size_t)T, (size_t)cfg->d_model, 8);          /* x1..x4, ln[4] */
  n = asr__rnn_add(n, asr__rnn_bytes((size_t)N, (size_t)T, 10, 1));           /* ln stats */
  n = asr__rnn_add(n, asr__rnn_bytes((size_t)N, (size_t)T, (size_t)cfg->ff_dim, 4));  /* 2 x (h, s) */
  n = asr__rnn_add(n, asr_rel_mhsa_saved_size(N, T, cfg->d_model, cfg->heads, cfg->rel_pos));
  return asr__rnn_add(n, asr_conformer_conv_saved_size(N, T, cfg->d_model));
}

ASRDEF asr_result asr_conformer_block_saved_init(asr_conformer_block_saved *s, void *buf,
                                                 size_t bytes, const asr_conformer_config *cfg,
                                                 int N, int T) {
  size_t need = asr_conformer_block_saved_size(cfg, N, T), ntd, nt, ntf, mb;
  asr_real *r = (asr_real *)buf;
  int i;
  asr_result e;
  if (!s || need == (size_t)-1) return cfg ? asr__conf_block_check(cfg, N, T) : ASR_ERR_INVALID_ARG;
  if (bytes < need || !buf) return ASR_ERR_WORKSPACE;
  nt = (size_t)N * T, ntd = nt * cfg->d_model, ntf = nt * cfg->ff_dim;
  s->x1 = r, s->x2 = r + ntd, s->x3 = r + 2 * ntd, s->x4 = r + 3 * ntd;
  for (i = 0; i < 4; i++) s->ln[i] = r + (4 + (size_t)i) * ntd;
  r += 8 * ntd;
  for (i = 0; i < 5; i++) s->ln_mean[i] = r + (2 * (size_t)i) * nt, s->ln_rstd[i] = r + (2 * (size_t)i + 1) * nt;
  r += 10 * nt;
  s->ff_macaron.h = r, s->ff_macaron.s = r + ntf, s->ff.h = r + 2 * ntf, s->ff.s = r + 3 * ntf;
  r += 4 * ntf;
  mb = asr_rel_mhsa_saved_size(N, T, cfg->d_model, cfg->heads, cfg->rel_pos);
  e = asr_rel_mhsa_saved_init(&s->mhsa, r, mb, N, T, cfg->d_model, cfg->heads, cfg->rel_pos);
  if (e) return e;
  r += mb / sizeof(asr_real);
  return asr_conformer_conv_saved_init(&s->conv, r, asr_conformer_conv_saved_size(N, T, cfg->d_model), N, T,
                                       cfg->d_model);
}

ASRDEF size_t asr_conformer_block_forward_workspace_size(const asr_conformer_config *cfg, int N,
                                                         int T) {
  size_t a, b, n;
  if (asr__conf_block_check(cfg, N, T)) return (size_t)-1;
  /* one (N,T,D) module output, then the larger of the modules' own workspaces */
  n = asr__rnn_bytes((size_t)N, (size_t)T, (size_t)cfg->d_model, 1);
  a = asr_rel_mhsa_forward_workspace_size(N, T, cfg->d_model, cfg->heads, cfg->rel_pos);
  b = asr_conformer_conv_workspace_size(N, T, cfg->d_model);
  return asr__rnn_add(n, a > b ? a : b);
}

ASRDEF size_t asr_conformer_block_backward_workspace_size(const asr_conformer_config *cfg, int N,
                                                          int T) {
  size_t a, b, c, n;
  if (asr__conf_block_check(cfg, N, T)) return (size_t)-1;
  /* the stream gradient, a module-input gradient, a scaled copy: three (N,T,D) */
  n = asr__rnn_bytes((size_t)N, (size_t)T, (size_t)cfg->d_model, 3);
  a = asr_rel_mhsa_backward_workspace_size(N, T, cfg->d_model, cfg->heads, cfg->rel_pos);
  b = asr_conformer_conv_workspace_size(N, T, cfg->d_model);
  c = asr_conformer_ff_workspace_size(N * T, cfg->ff_dim);
  if (b > a) a = b;
  if (c > a) a = c;
  return asr__rnn_add(n, a);
}

/* out = a + alpha * b over n entries */
ASR__PRIVATE void asr__conf_axpy(asr_real *out, const asr_real *a, asr_real alpha, const asr_real *b,
                                 size_t n) {
  size_t i;
  for (i = 0; i < n; i++) out[i] = a[i] + alpha * b[i];
}

ASR__PRIVATE asr_result asr__conf_block_forward(asr_real *y, const asr_conformer_block_saved *s,
                                                const asr_real *x, const asr_real *pos_emb,
                                                const int *lengths, const asr_conformer_block_params *p,
                                                const asr_conformer_config *cfg, int N, int T,
                                                void *work, size_t work_bytes, int fast) {
  int D, F, M = N * T, b;
  size_t ntd;
  asr_real *o, *mw;
  size_t mwb;
  asr_result r = asr__conf_block_check(cfg, N, T);
  if (r) return r;
  if (!s || !p) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (b = 0; b < N; b++)
      if (lengths[b] < 0 || lengths[b] > T) return ASR_ERR_RANGE;
  if (M == 0) return ASR_OK;
  if (!y || !x || !pos_emb) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_conformer_block_forward_workspace_size(cfg, N, T) || !work) return ASR_ERR_WORKSPACE;
  D = cfg->d_model, F = cfg->ff_dim, ntd = (size_t)M * D;
  o = (asr_real *)work;                       /* (N,T,D) the current module's output */
  mw = o + ntd;                               /* the modules' workspace */
  mwb = work_bytes - sizeof(asr_real) * ntd;
#define ASR__TRY(call) do { r = (call); if (r) return r; } while (0)
  /* x1 = x + 1/2 FFN_macaron(LN(x)) */
  ASR__TRY(asr_layer_norm_forward(s->ln[0], s->ln_mean[0], s->ln_rstd[0], x, p->norm_ff_macaron.weight,
                                  p->norm_ff_macaron.bias, M, D, cfg->ln_eps));
  ASR__TRY(asr__conf_ff_forward(o, &s->ff_macaron, s->ln[0], &p->ff_macaron, M, D, F, fast));
  asr__conf_axpy(s->x1, x, (asr_real)0.5, o, ntd);
  /* x2 = x1 + MHSA(LN(x1)) */
  ASR__TRY(asr_layer_norm_forward(s->ln[1], s->ln_mean[1], s->ln_rstd[1], s->x1, p->norm_mha.weight,
                                  p->norm_mha.bias, M, D, cfg->ln_eps));
  ASR__TRY((fast ? asr_rel_mhsa_forward : asr_rel_mhsa_forward_ref)(o, &s->mhsa, s->ln[1], pos_emb, lengths, &p->mhsa,
                                                                   N, T, D, cfg->heads, cfg->rel_pos, mw, mwb));
  asr__conf_axpy(s->x2, s->x1, 1, o, ntd);
  /* x3 = x2 + Conv(LN(x2)) */
  ASR__TRY(asr_layer_norm_forward(s->ln[2], s->ln_mean[2], s->ln_rstd[2], s->x2, p->norm_conv.weight,
                                  p->norm_conv.bias, M, D, cfg->ln_eps));
  ASR__TRY(asr__conf_conv_forward(o, &s->conv, s->ln[2], lengths, &p->conv, cfg, N, T, mw, mwb, fast));
  asr__conf_axpy(s->x3, s->x2, 1, o, ntd);
  /* x4 = x3 + 1/2 FFN(LN(x3)) */
  ASR__TRY(asr_layer_norm_forward(s->ln[3], s->ln_mean[3], s->ln_rstd[3], s->x3, p->norm_ff.weight,
                                  p->norm_ff.bias, M, D, cfg->ln_eps));
  ASR__TRY(asr__conf_ff_forward(o, &s->ff, s->ln[3], &p->ff, M, D, F, fast));
  asr__conf_axpy(s->x4, s->x3, (asr_real)0.5, o, ntd);
  /* y = LN_final(x4), 0 at padded frames */
  ASR__TRY(asr_layer_norm_forward(y, s->ln_mean[4], s->ln_rstd[4], s->x4, p->norm_final.weight,
                                  p->norm_final.bias, M, D, cfg->ln_eps));
  asr__conf_mask_rows(y, lengths, N, T, D);
  return ASR_OK;
}

ASRDEF asr_result asr_conformer_block_forward_ref(asr_real *y, const asr_conformer_block_saved *s,
                                                  const asr_real *x, const asr_real *pos_emb,
                                                  const int *lengths,
                                                  const asr_conformer_block_params *p,
                                                  const asr_conformer_config *cfg, int N, int T,
                                                  void *work, size_t work_bytes) {
  return asr__conf_block_forward(y, s, x, pos_emb, lengths, p, cfg, N, T, work, work_bytes, 0);
}
ASRDEF asr_result asr_conformer_block_forward(asr_real *y, const asr_conformer_block_saved *s,
                                              const asr_real *x, const asr_real *pos_emb,
                                              const int *lengths,
                                              const asr_conformer_block_params *p,
                                              const asr_conformer_config *cfg, int N, int T,
                                              void *work, size_t work_bytes) {
  return asr__conf_block_forward(y, s, x, pos_emb, lengths, p, cfg, N, T, work, work_bytes, 1);
}

ASR__PRIVATE asr_result asr__conf_block_backward(asr_real *dx, asr_real *d_pos_emb,
                                                 const asr_conformer_block_grads *g, const asr_real *dy,
                                                 const asr_conformer_block_saved *s, const asr_real *x,
                                                 const asr_real *pos_emb, const int *lengths,
                                                 const asr_conformer_block_params *p,
                                                 const asr_conformer_config *cfg, int N, int T,
                                                 void *work, size_t work_bytes, int fast) {
  int D, F, M = N * T, b;
  size_t ntd, i, mwb;
  asr_real *dst, *dl, *half, *mw;
  asr_result r = asr__conf_block_check(cfg, N, T);
  if (r) return r;
  if (!s || !p) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (b = 0; b < N; b++)
      if (lengths[b] < 0 || lengths[b] > T) return ASR_ERR_RANGE;
  if (M == 0) return ASR_OK;
  if (!dy || !x || !pos_emb) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_conformer_block_backward_workspace_size(cfg, N, T) || !work) return ASR_ERR_WORKSPACE;
  D = cfg->d_model, F = cfg->ff_dim, ntd = (size_t)M * D;
  dst = (asr_real *)work;                   /* (N,T,D) dL/d(residual stream) */
  dl = dst + ntd;                           /* (N,T,D) dL/d(a module's input, the LN output) */
  half = dl + ntd;                          /* (N,T,D) scratch */
  mw = half + ntd;
  mwb = work_bytes - 3 * sizeof(asr_real) * ntd;
  /* y = LN_final(x4): dy (padded frames dropped) back to dL/dx4 */
  memcpy(half, dy, sizeof(asr_real) * ntd);
  asr__conf_mask_rows(half, lengths, N, T, D);
  memset(dst, 0, sizeof(asr_real) * ntd);
  ASR__TRY(asr_layer_norm_backward(dst, g ? g->norm_w[4] : NULL, g ? g->norm_b[4] : NULL, half, s->x4,
                                   s->ln_mean[4], s->ln_rstd[4], p->norm_final.weight, M, D));
  /* x4 = x3 + 1/2 FFN(LN_ff(x3)): the stream passes dst on, the branch gets dst / 2 */
  for (i = 0; i < ntd; i++) half[i] = (asr_real)0.5 * dst[i];
  memset(dl, 0, sizeof(asr_real) * ntd);
  ASR__TRY(asr__conf_ff_backward(dl, g ? &g->ff : NULL, half, &s->ff, s->ln[3], &p->ff, M, D, F, mw, mwb, fast));
  ASR__TRY(asr_layer_norm_backward(dst, g ? g->norm_w[3] : NULL, g ? g->norm_b[3] : NULL, dl, s->x3, s->ln_mean[3],
                                   s->ln_rstd[3], p->norm_ff.weight, M, D));
  /* x3 = x2 + Conv(LN_conv(x2)) */
  memset(dl, 0, sizeof(asr_real) * ntd);
  ASR__TRY(asr__conf_conv_backward(dl, g ? &g->conv : NULL, dst, &s->conv, s->ln[2], lengths, &p->conv, cfg, N, T,
                                   mw, mwb, fast));
  ASR__TRY(asr_layer_norm_backward(dst, g ? g->norm_w[2] : NULL, g ? g->norm_b[2] : NULL, dl, s->x2, s->ln_mean[2],
                                   s->ln_rstd[2], p->norm_conv.weight, M, D));
  /* x2 = x1 + MHSA(LN_mha(x1)) */
  memset(dl, 0, sizeof(asr_real) * ntd);
  ASR__TRY((fast ? asr_rel_mhsa_backward : asr_rel_mhsa_backward_ref)(
      dl, d_pos_emb, g ? &g->mhsa : NULL, dst, &s->mhsa, s->ln[1], pos_emb, lengths, &p->mhsa, N, T, D, cfg->heads,
      cfg->rel_pos, mw, mwb));
  ASR__TRY(asr_layer_norm_backward(dst, g ? g->norm_w[1] : NULL, g ? g->norm_b[1] : NULL, dl, s->x1, s->ln_mean[1],
                                   s->ln_rstd[1], p->norm_mha.weight, M, D));
  /* x1 = x + 1/2 FFN_macaron(LN_ff_macaron(x)) */
  for (i = 0; i < ntd; i++) half[i] = (asr_real)0.5 * dst[i];
  memset(dl, 0, sizeof(asr_real) * ntd);
  ASR__TRY(asr__conf_ff_backward(dl, g ? &g->ff_macaron : NULL, half, &s->ff_macaron, s->ln[0], &p->ff_macaron, M, D,
                                 F, mw, mwb, fast));
  ASR__TRY(asr_layer_norm_backward(dst, g ? g->norm_w[0] : NULL, g ? g->norm_b[0] : NULL, dl, x, s->ln_mean[0],
                                   s->ln_rstd[0], p->norm_ff_macaron.weight, M, D));
  /* dL/dx is what the stream carries at the input; padded frames received nothing */
  if (dx) {
    asr__conf_mask_rows(dst, lengths, N, T, D);
    for (i = 0; i < ntd; i++) dx[i] += dst[i];
  }
  return ASR_OK;
#undef ASR__TRY
}

ASRDEF asr_result asr_conformer_block_backward_ref(asr_real *dx, asr_real *d_pos_emb,
                                                   const asr_conformer_block_grads *g,
                                                   const asr_real *dy,
                                                   const asr_conformer_block_saved *s,
                                                   const asr_real *x, const asr_real *pos_emb,
                                                   const int *lengths,
                                                   const asr_conformer_block_params *p,
                                                   const asr_conformer_config *cfg, int N, int T,
                                                   void *work, size_t work_bytes) {
  return asr__conf_block_backward(dx, d_pos_emb, g, dy, s, x, pos_emb, lengths, p, cfg, N, T, work, work_bytes, 0);
}
ASRDEF asr_result asr_conformer_block_backward(asr_real *dx, asr_real *d_pos_emb,
                                               const asr_conformer_block_grads *g,
                                               const asr_real *dy,
                                               const asr_conformer_block_saved *s,
                                               const asr_real *x, const asr_real *pos_emb,
                                               const int *lengths,
                                               const asr_conformer_block_params *p,
                                               const asr_conformer_config *cfg, int N, int T,
                                               void *work, size_t work_bytes) {
  return asr__conf_block_backward(dx, d_pos_emb, g, dy, s, x, pos_emb, lengths, p, cfg, N, T, work, work_bytes, 1);
}

/* ---------------------------------------------------------------------------------------
 * 4.4 Recurrent and attention (implementation)
 * --------------------------------------------------------------------------------------- */

ASR__PRIVATE double asr__rnn_sigmoid(double a) { return 1.0 / (1.0 + exp(-a)); }

/* The shared argument checks of the LSTM entry points. */
ASR__PRIVATE asr_result asr__lstm_check(const void *y, int ldy, const void *x,
                                        const asr_lstm_params *p, int N, int T, int I, int H,
                                        const int *lengths) {
  int b;
  if (!p || !p->w_ih || !p->w_hh || N < 0 || T < 0 || I < 1 || H < 1 || ldy < H)
    return ASR_ERR_INVALID_ARG;
  if ((size_t)N * (size_t)T > 0 && (!x || !y)) return ASR_ERR_INVALID_ARG;
  if (asr__rnn_bytes((size_t)N, (size_t)T, (size_t)ldy, 4) == (size_t)-1 ||
      asr__rnn_bytes((size_t)N, (size_t)T, (size_t)I + (size_t)H, 4) == (size_t)-1 ||
      (double)N * T * 4.0 * H > 2147483647.0 || (double)N * T * I > 2147483647.0)
    return ASR_ERR_TOO_LARGE;
  if (lengths)
    for (b = 0; b < N; b++)
      if (lengths[b] < 0 || lengths[b] > T) return ASR_ERR_RANGE;
  return ASR_OK;
}

/* Which step precedes step t of an item of length len in processing order, or -1 for
 * "the initial state": t-1 forward; t+1 in reverse, where the item starts at len-1. */
ASR__PRIVATE int asr__lstm_prev(int t, int len, int reverse) {
  if (!reverse) return t - 1;
  return t + 1 < len ? t + 1 : -1;
}

ASRDEF size_t asr_lstm_forward_workspace_size(int N, int T, int I, int H) {
  (void)T;
  (void)I;
  if (N < 0 || H < 0) return (size_t)-1;
  /* running h and c (N,H) each, the recurrent term W_hh h (N,4H) */
  return asr__rnn_bytes((size_t)N, (size_t)H, 6, 1);
}

ASRDEF size_t asr_lstm_backward_workspace_size(int N, int T, int I, int H) {
  size_t n;
  (void)I;
  if (N < 0 || T < 0 || H < 0) return (size_t)-1;
  /* da (N,T,4H) and h_{t-1} (N,T,H) of every step, then dh, dc, dh_prev (N,H) */
  n = asr__rnn_bytes((size_t)N, (size_t)T, (size_t)H, 5);
  return asr__rnn_add(n, asr__rnn_bytes((size_t)N, (size_t)H, 3, 1));
}

ASRDEF asr_result asr_lstm_forward_naive(asr_real *y, int ldy, asr_real *h_n, asr_real *c_n,
                                         asr_real *gates, asr_real *cell, const asr_real *x,
                                         const asr_real *h0, const asr_real *c0,
                                         const asr_lstm_params *p, int N, int T, int I, int H,
                                         const int *lengths, int reverse) {
  int b, s, u, q, k;
  asr_result r = asr__lstm_check(y, ldy, x, p, N, T, I, H, lengths);
  if (r) return r;
  if ((double)N * T * 4.0 * H * ((double)I + H) > 67108864.0) return ASR_ERR_TOO_LARGE;
  if ((size_t)N * (size_t)T > 0 && (!gates || !cell)) return ASR_ERR_INVALID_ARG;
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    /* padded steps: output 0, nothing saved */
    for (s = len; s < T; s++) {
      for (u = 0; u < H; u++) y[((size_t)b * T + s) * ldy + u] = 0;
      for (u = 0; u < 4 * H; u++) gates[((size_t)b * T + s) * 4 * H + u] = 0;
      for (u = 0; u < H; u++) cell[((size_t)b * T + s) * H + u] = 0;
    }
    for (s = 0; s < len; s++) {
      int t = reverse ? len - 1 - s : s;          /* the step being computed */
      int tp = asr__lstm_prev(t, len, reverse);   /* the step whose state it reads */
      asr_real *gt = gates + ((size_t)b * T + t) * 4 * H;
      for (u = 0; u < H; u++) {
        double a[4];
        for (q = 0; q < 4; q++) {
          size_t row = (size_t)q * H + u;         /* gate q of unit u: row qH+u */
          double acc = 0;
          if (p->b_ih) acc += p->b_ih[row];
          if (p->b_hh) acc += p->b_hh[row];
          for (k = 0; k < I; k++)                 /* W_ih x_t */
            acc += (double)p->w_ih[row * I + k] * x[((size_t)b * T + t) * I + k];
          for (k = 0; k < H; k++) {               /* W_hh h_{t-1} */
            double hp = tp >= 0 ? y[((size_t)b * T + tp) * ldy + k] : (h0 ? h0[(size_t)b * H + k] : 0);
            acc += (double)p->w_hh[row * H + k] * hp;
          }
          a[q] = acc;
        }
        gt[u] = (asr_real)asr__rnn_sigmoid(a[0]);          /* i */
        gt[H + u] = (asr_real)asr__rnn_sigmoid(a[1]);      /* f */
        gt[2 * H + u] = (asr_real)tanh(a[2]);              /* g */
        gt[3 * H + u] = (asr_real)asr__rnn_sigmoid(a[3]);  /* o */
      }
      for (u = 0; u < H; u++) {
        double cp = tp >= 0 ? cell[((size_t)b * T + tp) * H + u] : (c0 ? c0[(size_t)b * H + u] : 0);
        double c = (double)gt[H + u] * cp + (double)gt[u] * gt[2 * H + u];  /* c_t */
        cell[((size_t)b * T + t) * H + u] = (asr_real)c;
        y[((size_t)b * T + t) * ldy + u] = (asr_real)(gt[3 * H + u] * tanh(c));  /* h_t */
      }
    }
    /* the final state: the last step computed, or the initial state if there was none */
    for (u = 0; u < H; u++) {
      int tl = len == 0 ? -1 : (reverse ? 0 : len - 1);
      if (h_n) h_n[(size_t)b * H + u] = tl >= 0 ? y[((size_t)b * T + tl) * ldy + u] : (h0 ? h0[(size_t)b * H + u] : 0);
      if (c_n) c_n[(size_t)b * H + u] = tl >= 0 ? cell[((size_t)b * T + tl) * H + u] : (c0 ? c0[(size_t)b * H + u] : 0);
    }
  }
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__lstm_forward_impl(asr_real *y, int ldy, asr_real *h_n, asr_real *c_n,
                                       asr_real *gates, asr_real *cell, const asr_real *x,
                                       const asr_real *h0, const asr_real *c0,
                                       const asr_lstm_params *p, int N, int T, int I, int H,
                                       const int *lengths, int reverse, void *work,
                                       size_t work_bytes, int fast) {
  asr_real *hs, *cs, *rec;
  size_t G = (size_t)4 * H, NT = (size_t)N * T, i;
  int b, s, u;
  asr_result r = asr__lstm_check(y, ldy, x, p, N, T, I, H, lengths);
  if (r) return r;
  if (NT > 0 && (!gates || !cell)) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_lstm_forward_workspace_size(N, T, I, H) || (!work && N > 0))
    return ASR_ERR_WORKSPACE;
  hs = (asr_real *)work;                 /* (N,H) the running h of every item */
  cs = hs + (size_t)N * H;               /* (N,H) the running c */
  rec = cs + (size_t)N * H;              /* (N,4H) W_hh h for the current step */
  /* 1. The input projection of every step at once, into `gates` (as preactivations):
   *    gates[b,t] = W_ih x[b,t] + b_ih + b_hh                                        */
  if (NT > 0) asr__c3_gemm(fast, 0, 1, (int)NT, (int)G, I, 1, x, I, p->w_ih, I, 0, gates, (int)G);
  for (i = 0; i < NT; i++) {
    asr_real *gr = gates + i * G;
    size_t k;
    if (p->b_ih) for (k = 0; k < G; k++) gr[k] += p->b_ih[k];
    if (p->b_hh) for (k = 0; k < G; k++) gr[k] += p->b_hh[k];
  }
  for (i = 0; i < (size_t)N * H; i++) {
    hs[i] = h0 ? h0[i] : 0;
    cs[i] = c0 ? c0[i] : 0;
  }
  /* 2. The recurrence, one step for the whole batch at a time. In reverse, item b
   *    joins at step lengths[b]-1 with its initial state, which hs/cs still hold. */
  for (s = 0; s < T; s++) {
    int t = reverse ? T - 1 - s : s;
    if (N > 0) asr__c3_gemm(fast, 0, 1, N, (int)G, H, 1, hs, H, p->w_hh, H, 0, rec, (int)G);  /* W_hh h */
    for (b = 0; b < N; b++) {
      int len = lengths ? lengths[b] : T;
      size_t row = (size_t)b * T + t;
      asr_real *gt = gates + row * G, *rt = rec + (size_t)b * G;
      if (t >= len) {                    /* padded step: state frozen, output 0 */
        for (u = 0; u < H; u++) y[row * ldy + u] = 0;
        for (u = 0; u < 4 * H; u++) gt[u] = 0;
        for (u = 0; u < H; u++) cell[row * H + u] = 0;
        continue;
      }
      for (u = 0; u < H; u++) {
        size_t k = (size_t)b * H + u;
        double ig = asr__rnn_sigmoid((double)gt[u] + rt[u]);
        double fg = asr__rnn_sigmoid((double)gt[H + u] + rt[H + u]);
        double gg = tanh((double)gt[2 * H + u] + rt[2 * H + u]);
        double og = asr__rnn_sigmoid((double)gt[3 * H + u] + rt[3 * H + u]);
        double c = fg * cs[k] + ig * gg;             /* c_t = f c_{t-1} + i g */
        asr_real h = (asr_real)(og * tanh(c));        /* h_t = o tanh(c_t) */
        gt[u] = (asr_real)ig;
        gt[H + u] = (asr_real)fg;
        gt[2 * H + u] = (asr_real)gg;
        gt[3 * H + u] = (asr_real)og;
        cs[k] = cell[row * H + u] = (asr_real)c;
        hs[k] = y[row * ldy + u] = h;
      }
    }
  }
  if (h_n && N > 0) memcpy(h_n, hs, sizeof(asr_real) * (size_t)N * H);
  if (c_n && N > 0) memcpy(c_n, cs, sizeof(asr_real) * (size_t)N * H);
  return ASR_OK;
}

ASRDEF asr_result asr_lstm_forward_ref(asr_real *y, int ldy, asr_real *h_n, asr_real *c_n,
                                       asr_real *gates, asr_real *cell, const asr_real *x,
                                       const asr_real *h0, const asr_real *c0,
                                       const asr_lstm_params *p, int N, int T, int I, int H,
                                       const int *lengths, int reverse, void *work,
                                       size_t work_bytes) {
  return asr__lstm_forward_impl(y, ldy, h_n, c_n, gates, cell, x, h0, c0, p, N, T, I, H, lengths, reverse, work, work_bytes, 0);
}

ASRDEF asr_result asr_lstm_forward(asr_real *y, int ldy, asr_real *h_n, asr_real *c_n,
                                   asr_real *gates, asr_real *cell, const asr_real *x,
                                   const asr_real *h0, const asr_real *c0,
                                   const asr_lstm_params *p, int N, int T, int I, int H,
                                   const int *lengths, int reverse, void *work,
                                   size_t work_bytes) {
  return asr__lstm_forward_impl(y, ldy, h_n, c_n, gates, cell, x, h0, c0, p, N, T, I, H, lengths, reverse, work, work_bytes, 1);
}

/* The backward of the gate nonlinearities and the cell update at one (item, step):
 * from dh (total gradient of h_t) and dc (gradient of c_t arriving from step t+1),
 * writes da (4H) and returns through dc the gradient of c_{t-1}. gt (4H) the saved
 * gates, ct (H) the saved c_t, cprev (H) c_{t-1} (NULL: zeros). */
ASR__PRIVATE void asr__lstm_cell_backward(asr_real *da, asr_real *dc, const asr_real *dh,
                                          const asr_real *gt, const asr_real *ct,
                                          const asr_real *cprev, int H) {
  int u;
  for (u = 0; u < H; u++) {
    double ig = gt[u], fg = gt[H + u], gg = gt[2 * H + u], og = gt[3 * H + u];
    double tc = tanh((double)ct[u]);
    double cp = cprev ? cprev[u] : 0;
    double dct = dc[u] + dh[u] * og * (1 - tc * tc);       /* through h_t = o tanh(c_t) */
    da[u] = (asr_real)(dct * gg * ig * (1 - ig));           /* i: sigmoid' = i (1-i) */
    da[H + u] = (asr_real)(dct * cp * fg * (1 - fg));       /* f */
    da[2 * H + u] = (asr_real)(dct * ig * (1 - gg * gg));   /* g: tanh' = 1 - g^2 */
    da[3 * H + u] = (asr_real)(dh[u] * tc * og * (1 - og)); /* o */
    dc[u] = (asr_real)(dct * fg);                           /* dc_{t-1} = dc_t f */
  }
}

ASRDEF asr_result asr_lstm_backward_naive(asr_real *dx, asr_real *dh0, asr_real *dc0,
                                          const asr_lstm_grads *g, const asr_real *dy, int lddy,
                                          const asr_real *dh_n, const asr_real *dc_n,
                                          const asr_real *y, int ldy, const asr_real *gates,
                                          const asr_real *cell, const asr_real *x,
                                          const asr_real *h0, const asr_real *c0,
                                          const asr_lstm_params *p, int N, int T, int I, int H,
                                          const int *lengths, int reverse) {
  /* the naive tier keeps one item's running gradients on the stack */
  double dh[64], dc[64], da[256], dhp[64];
  int b, s, u, k, q;
  asr_result r = asr__lstm_check(y, ldy, x, p, N, T, I, H, lengths);
  if (r) return r;
  if (H > 64 || (double)N * T * 4.0 * H * ((double)I + H) > 67108864.0) return ASR_ERR_TOO_LARGE;
  if ((size_t)N * (size_t)T > 0 && (!gates || !cell || !dy || lddy < H)) return ASR_ERR_INVALID_ARG;
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    for (u = 0; u < H; u++) {
      dh[u] = dh_n ? dh_n[(size_t)b * H + u] : 0;   /* the gradient arriving at the end */
      dc[u] = dc_n ? dc_n[(size_t)b * H + u] : 0;
    }
    /* walk the steps in the opposite order to the forward pass */
    for (s = len - 1; s >= 0; s--) {
      int t = reverse ? len - 1 - s : s;
      int tp = asr__lstm_prev(t, len, reverse);
      size_t row = (size_t)b * T + t;
      const asr_real *gt = gates + row * 4 * H;
      for (u = 0; u < H; u++) {
        double ig = gt[u], fg = gt[H + u], gg = gt[2 * H + u], og = gt[3 * H + u];
        double tc = tanh((double)cell[row * H + u]);
        double cp = tp >= 0 ? cell[((size_t)b * T + tp) * H + u] : (c0 ? c0[(size_t)b * H + u] : 0);
        double dht = dh[u] + dy[row * lddy + u];          /* dh_t = dy_t + from step t+1 */
        double dct = dc[u] + dht * og * (1 - tc * tc);    /* h_t = o tanh(c_t) */
        da[u] = dct * gg * ig * (1 - ig);                 /* i = sigmoid(a_i) */
        da[H + u] = dct * cp * fg * (1 - fg);             /* f = sigmoid(a_f) */
        da[2 * H + u] = dct * ig * (1 - gg * gg);         /* g = tanh(a_g) */
        da[3 * H + u] = dht * tc * og * (1 - og);         /* o = sigmoid(a_o) */
        dc[u] = dct * fg;                                 /* dc_{t-1} = dc_t f */
      }
      for (k = 0; k < H; k++) {                           /* dh_{t-1} = W_hh^T da */
        double acc = 0;
        for (q = 0; q < 4 * H; q++) acc += p->w_hh[(size_t)q * H + k] * da[q];
        dhp[k] = acc;
      }
      for (k = 0; k < H; k++) dh[k] = dhp[k];
      if (dx)                                             /* dx_t = W_ih^T da */
        for (k = 0; k < I; k++) {
          double acc = 0;
          for (q = 0; q < 4 * H; q++) acc += p->w_ih[(size_t)q * I + k] * da[q];
          dx[row * I + k] += (asr_real)acc;
        }
      if (g)
        for (q = 0; q < 4 * H; q++) {
          if (g->w_ih)                                    /* dW_ih += da x_t^T */
            for (k = 0; k < I; k++) g->w_ih[(size_t)q * I + k] += (asr_real)(da[q] * x[row * I + k]);
          if (g->w_hh)                                    /* dW_hh += da h_{t-1}^T */
            for (k = 0; k < H; k++) {
              double hp = tp >= 0 ? y[((size_t)b * T + tp) * ldy + k] : (h0 ? h0[(size_t)b * H + k] : 0);
              g->w_hh[(size_t)q * H + k] += (asr_real)(da[q] * hp);
            }
          if (g->b_ih) g->b_ih[q] += (asr_real)da[q];
          if (g->b_hh) g->b_hh[q] += (asr_real)da[q];
        }
    }
    /* what is left is the gradient of the initial state */
    for (u = 0; u < H; u++) {
      if (dh0) dh0[(size_t)b * H + u] += (asr_real)dh[u];
      if (dc0) dc0[(size_t)b * H + u] += (asr_real)dc[u];
    }
  }
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__lstm_backward_impl(asr_real *dx, asr_real *dh0, asr_real *dc0,
                                        const asr_lstm_grads *g, const asr_real *dy, int lddy,
                                        const asr_real *dh_n, const asr_real *dc_n,
                                        const asr_real *y, int ldy, const asr_real *gates,
                                        const asr_real *cell, const asr_real *x,
                                        const asr_real *h0, const asr_real *c0,
                                        const asr_lstm_params *p, int N, int T, int I, int H,
                                        const int *lengths, int reverse, void *work,
                                        size_t work_bytes, int fast) {
  asr_real *da, *hp, *dh, *dc, *dhp;
  size_t G = (size_t)4 * H, NT = (size_t)N * T, i;
  int b, s, u;
  asr_result r = asr__lstm_check(y, ldy, x, p, N, T, I, H, lengths);
  if (r) return r;
  if (NT > 0 && (!gates || !cell || !dy || lddy < H)) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_lstm_backward_workspace_size(N, T, I, H) || (!work && N > 0))
    return ASR_ERR_WORKSPACE;
  da = (asr_real *)work;             /* (N,T,4H) gradient of the gate preactivations */
  hp = da + NT * G;                  /* (N,T,H) h_{t-1} of every step (0 at padded steps) */
  dh = hp + NT * H;                  /* (N,H) gradient arriving at h of the current step */
  dc = dh + (size_t)N * H;           /* (N,H) gradient arriving at c */
  dhp = dc + (size_t)N * H;          /* (N,H) W_hh^T da of the current step */
  for (i = 0; i < (size_t)N * H; i++) {
    dh[i] = dh_n ? dh_n[i] : 0;
    dc[i] = dc_n ? dc_n[i] : 0;
  }
  /* 1. Through time, in the opposite order to the forward pass, one batched step at a
   *    time: the elementwise cell backward, then dh_{t-1} = W_hh^T da as one GEMM. */
  for (s = T - 1; s >= 0; s--) {
    int t = reverse ? T - 1 - s : s;
    for (b = 0; b < N; b++) {
      int len = lengths ? lengths[b] : T;
      size_t row = (size_t)b * T + t;
      asr_real *dat = da + row * G, *hpt = hp + row * H;
      int tp;
      if (t >= len) {                /* padded: no gradient, the state passes through */
        memset(dat, 0, sizeof(asr_real) * G);
        memset(hpt, 0, sizeof(asr_real) * (size_t)H);
        continue;
      }
      tp = asr__lstm_prev(t, len, reverse);
      for (u = 0; u < H; u++) {
        dh[(size_t)b * H + u] += dy[row * lddy + u];                    /* + dy_t */
        hpt[u] = tp >= 0 ? y[((size_t)b * T + tp) * ldy + u] : (h0 ? h0[(size_t)b * H + u] : 0);
      }
      asr__lstm_cell_backward(dat, dc + (size_t)b * H, dh + (size_t)b * H, gates + row * G,
                              cell + row * H,
                              tp >= 0 ? cell + ((size_t)b * T + tp) * H : (c0 ? c0 + (size_t)b * H : NULL),
                              H);
    }
    asr__c3_gemm(fast, 0, 0, N, H, (int)G, 1, da + (size_t)t * G, (int)(T * G), p->w_hh, H, 0, dhp, H);
    for (b = 0; b < N; b++) {
      int len = lengths ? lengths[b] : T;
      if (t < len) memcpy(dh + (size_t)b * H, dhp + (size_t)b * H, sizeof(asr_real) * (size_t)H);
    }
  }
  for (i = 0; i < (size_t)N * H; i++) {
    if (dh0) dh0[i] += dh[i];
    if (dc0) dc0[i] += dc[i];
  }
  /* 2. The weight and input gradients of all steps at once. */
  if (NT > 0) {
    if (dx) asr__c3_gemm(fast, 0, 0, (int)NT, I, (int)G, 1, da, (int)G, p->w_ih, I, 1, dx, I);
    if (g && g->w_ih) asr__c3_gemm(fast, 1, 0, (int)G, I, (int)NT, 1, da, (int)G, x, I, 1, g->w_ih, I);
    if (g && g->w_hh) asr__c3_gemm(fast, 1, 0, (int)G, H, (int)NT, 1, da, (int)G, hp, H, 1, g->w_hh, H);
    if (g && (g->b_ih || g->b_hh))
      for (i = 0; i < NT; i++) {
        size_t k;
        for (k = 0; k < G; k++) {
          if (g->b_ih) g->b_ih[k] += da[i * G + k];
          if (g->b_hh) g->b_hh[k] += da[i * G + k];
        }
      }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_lstm_backward_ref(asr_real *dx, asr_real *dh0, asr_real *dc0,
                                        const asr_lstm_grads *g, const asr_real *dy, int lddy,
                                        const asr_real *dh_n, const asr_real *dc_n,
                                        const asr_real *y, int ldy, const asr_real *gates,
                                        const asr_real *cell, const asr_real *x,
                                        const asr_real *h0, const asr_real *c0,
                                        const asr_lstm_params *p, int N, int T, int I, int H,
                                        const int *lengths, int reverse, void *work,
                                        size_t work_bytes) {
  return asr__lstm_backward_impl(dx, dh0, dc0, g, dy, lddy, dh_n, dc_n, y, ldy, gates, cell, x, h0, c0, p, N, T, I, H, lengths, reverse, work, work_bytes, 0);
}

ASRDEF asr_result asr_lstm_backward(asr_real *dx, asr_real *dh0, asr_real *dc0,
                                    const asr_lstm_grads *g, const asr_real *dy, int lddy,
                                    const asr_real *dh_n, const asr_real *dc_n,
                                    const asr_real *y, int ldy, const asr_real *gates,
                                    const asr_real *cell, const asr_real *x,
                                    const asr_real *h0, const asr_real *c0,
                                    const asr_lstm_params *p, int N, int T, int I, int H,
                                    const int *lengths, int reverse, void *work,
                                    size_t work_bytes) {
  return asr__lstm_backward_impl(dx, dh0, dc0, g, dy, lddy, dh_n, dc_n, y, ldy, gates, cell, x, h0, c0, p, N, T, I, H, lengths, reverse, work, work_bytes, 1);
}

ASRDEF asr_result asr_pyramid_concat_forward(asr_real *y, int *lengths_out, const asr_real *x,
                                             int N, int T, int C, const int *lengths) {
  int b, i, T2 = T / 2;
  if (N < 0 || T < 0 || C < 1 || (N > 0 && T2 > 0 && (!x || !y))) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (b = 0; b < N; b++)
      if (lengths[b] < 0 || lengths[b] > T) return ASR_ERR_RANGE;
  for (b = 0; b < N; b++) {
    int len2 = (lengths ? lengths[b] : T) / 2;   /* an odd last step is dropped */
    if (lengths_out) lengths_out[b] = len2;
    for (i = 0; i < T2; i++) {
      asr_real *yr = y + ((size_t)b * T2 + i) * 2 * C;
      if (i < len2) /* [x_{2i}, x_{2i+1}]: two consecutive rows are one row of twice the width */
        memcpy(yr, x + ((size_t)b * T + 2 * (size_t)i) * C, sizeof(asr_real) * 2 * (size_t)C);
      else
        memset(yr, 0, sizeof(asr_real) * 2 * (size_t)C);
    }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_pyramid_concat_backward(asr_real *dx, const asr_real *dy, int N, int T,
                                              int C, const int *lengths) {
  int b, i, k, T2 = T / 2;
  if (N < 0 || T < 0 || C < 1 || (N > 0 && T2 > 0 && (!dx || !dy))) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (b = 0; b < N; b++)
      if (lengths[b] < 0 || lengths[b] > T) return ASR_ERR_RANGE;
  for (b = 0; b < N; b++) {
    int len2 = (lengths ? lengths[b] : T) / 2;
    for (i = 0; i < len2; i++) {
      const asr_real *dr = dy + ((size_t)b * T2 + i) * 2 * C;
      asr_real *dxr = dx + ((size_t)b * T + 2 * (size_t)i) * C;
      for (k = 0; k < 2 * C; k++) dxr[k] += dr[k];   /* the same two rows, read back */
    }
  }
  return ASR_OK;
}



/* ---- attention */
ASR__PRIVATE asr_result asr__att_check(const asr_attention_config *cfg, const asr_attention_params *p,
                                       int N, int T, const int *lengths, const void *enc,
                                       const void *query, const void *prev) {
  int b;
  if (!cfg || !p || N < 0 || T < 0 || cfg->enc_dim < 1 || cfg->dec_dim < 1 ||
      !(cfg->scaling == cfg->scaling))
    return ASR_ERR_INVALID_ARG;
  if (N > 0 && (!query || (T > 0 && !enc))) return ASR_ERR_INVALID_ARG;
  if (cfg->type == ASR_ATTENTION_DOT) {
    if (cfg->dec_dim != cfg->enc_dim) return ASR_ERR_SHAPE;
  } else if (cfg->type == ASR_ATTENTION_ADDITIVE || cfg->type == ASR_ATTENTION_LOCATION) {
    if (cfg->att_dim < 1 || !p->enc_w || !p->dec_w || !p->gvec_w) return ASR_ERR_INVALID_ARG;
    if (cfg->type == ASR_ATTENTION_LOCATION &&
        (cfg->conv_chans < 1 || cfg->conv_filts < 0 || !p->att_w || !p->conv_w ||
         (N > 0 && T > 0 && !prev)))
      return ASR_ERR_INVALID_ARG;
  } else {
    return ASR_ERR_INVALID_ARG;
  }
  if ((double)N * T * ASR__MAX(cfg->enc_dim, ASR__MAX(cfg->att_dim, cfg->conv_chans)) > 2147483647.0 ||
      (double)cfg->att_dim * ASR__MAX(cfg->enc_dim, cfg->dec_dim) > 2147483647.0 ||
      cfg->conv_filts > 1000000)
    return ASR_ERR_TOO_LARGE;
  if (lengths)
    for (b = 0; b < N; b++)
      if (lengths[b] < 0 || lengths[b] > T) return ASR_ERR_RANGE;
  return ASR_OK;
}

ASRDEF asr_result asr_attention_uniform(asr_real *prev, int N, int T, const int *lengths) {
  int b, j;
  if (N < 0 || T < 0 || (N > 0 && T > 0 && !prev)) return ASR_ERR_INVALID_ARG;
  if (lengths)
    for (b = 0; b < N; b++)
      if (lengths[b] < 0 || lengths[b] > T) return ASR_ERR_RANGE;
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    for (j = 0; j < T; j++) prev[(size_t)b * T + j] = j < len ? (asr_real)(1.0 / len) : 0;
  }
  return ASR_OK;
}

ASRDEF size_t asr_attention_forward_workspace_size(const asr_attention_config *cfg, int N, int T) {
  (void)T;
  if (!cfg || N < 0) return (size_t)-1;
  if (cfg->type == ASR_ATTENTION_DOT) return 0;
  return asr__rnn_bytes((size_t)N, (size_t)ASR__MAX(cfg->att_dim, 0), 1, 1);   /* W s (N,A) */
}

ASRDEF size_t asr_attention_backward_workspace_size(const asr_attention_config *cfg, int N, int T) {
  size_t n;
  if (!cfg || N < 0 || T < 0) return (size_t)-1;
  n = asr__rnn_bytes((size_t)N, (size_t)T, 1, 1);                     /* de (N,T) */
  if (cfg->type == ASR_ATTENTION_DOT) return n;
  n = asr__rnn_add(n, asr__rnn_bytes((size_t)N, (size_t)T, (size_t)ASR__MAX(cfg->att_dim, 0), 1));
  n = asr__rnn_add(n, asr__rnn_bytes((size_t)N, (size_t)ASR__MAX(cfg->att_dim, 0), 1, 1));
  if (cfg->type == ASR_ATTENTION_LOCATION)                            /* df (N,T,C) */
    n = asr__rnn_add(n, asr__rnn_bytes((size_t)N, (size_t)T, (size_t)ASR__MAX(cfg->conv_chans, 0), 1));
  return n;
}

/* alpha_b = softmax(scaling * e_b) over the first len entries, 0 after; e is overwritten.
 * An empty item gets no weights at all. */
ASR__PRIVATE void asr__att_softmax(asr_real *alpha, int len, int T, double scaling) {
  int j;
  for (j = 0; j < len; j++) alpha[j] = (asr_real)(scaling * alpha[j]);
  if (len > 0) asr_softmax(alpha, alpha, len);
  for (j = len; j < T; j++) alpha[j] = 0;
}

ASRDEF asr_result asr_attention_forward_naive(asr_real *context, asr_real *alpha, asr_real *act,
                                              asr_real *feat, const asr_real *enc,
                                              const int *lengths, const asr_real *query,
                                              const asr_real *prev, const asr_attention_params *p,
                                              const asr_attention_config *cfg, int N, int T) {
  int b, j, a, k, c, E, Dq, A, C, F, loc, dot;
  asr_result r = asr__att_check(cfg, p, N, T, lengths, enc, query, prev);
  if (r) return r;
  E = cfg->enc_dim, Dq = cfg->dec_dim, A = cfg->att_dim, C = cfg->conv_chans, F = cfg->conv_filts;
  dot = cfg->type == ASR_ATTENTION_DOT;
  loc = cfg->type == ASR_ATTENTION_LOCATION;
  if ((double)N * T * (dot ? E : (double)A * (E + Dq + (loc ? C * (2.0 * F + 2) : 0))) > 67108864.0)
    return ASR_ERR_TOO_LARGE;
  if (N > 0 && T > 0 && (!alpha || (!dot && !act) || (loc && !feat))) return ASR_ERR_INVALID_ARG;
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    const asr_real *s = query + (size_t)b * Dq;
    asr_real *al = alpha + (size_t)b * T;
    for (j = 0; j < T; j++) {
      const asr_real *h = enc + ((size_t)b * T + j) * E;
      double e = 0;
      if (j >= len) {                              /* padding: no energy, no features */
        al[j] = 0;
        if (!dot) for (a = 0; a < A; a++) act[((size_t)b * T + j) * A + a] = 0;
        if (loc) for (c = 0; c < C; c++) feat[((size_t)b * T + j) * C + c] = 0;
        continue;
      }
      if (loc)                                     /* f_j = F * alpha_prev, zero padded */
        for (c = 0; c < C; c++) {
          double fc = 0;
          for (k = 0; k < 2 * F + 1; k++) {
            int jj = j + k - F;
            if (jj >= 0 && jj < len) fc += (double)p->conv_w[(size_t)c * (2 * F + 1) + k] * prev[(size_t)b * T + jj];
          }
          feat[((size_t)b * T + j) * C + c] = (asr_real)fc;
        }
      if (dot) {
        for (k = 0; k < E; k++) e += (double)s[k] * h[k];          /* e_j = s . h_j */
      } else {
        for (a = 0; a < A; a++) {
          double z = p->enc_b ? p->enc_b[a] : 0;                   /* b */
          for (k = 0; k < E; k++) z += (double)p->enc_w[(size_t)a * E + k] * h[k];    /* V h_j */
          for (k = 0; k < Dq; k++) z += (double)p->dec_w[(size_t)a * Dq + k] * s[k];  /* W s */
          if (loc)
            for (c = 0; c < C; c++) z += (double)p->att_w[(size_t)a * C + c] * feat[((size_t)b * T + j) * C + c];
          act[((size_t)b * T + j) * A + a] = (asr_real)tanh(z);
          e += (double)p->gvec_w[a] * tanh(z);                     /* w^T tanh(.) */
        }
        if (p->gvec_b) e += p->gvec_b[0];
      }
      al[j] = (asr_real)e;
    }
    asr__att_softmax(al, len, T, cfg->scaling);
    for (k = 0; k < E; k++) {                      /* context = sum_j alpha_j h_j */
      double acc = 0;
      for (j = 0; j < len; j++) acc += (double)al[j] * enc[((size_t)b * T + j) * E + k];
      context[(size_t)b * E + k] = (asr_real)acc;
    }
  }
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__attention_forward_impl(asr_real *context, asr_real *alpha, asr_real *act,
                                            asr_real *feat, const asr_real *enc,
                                            const int *lengths, const asr_real *query,
                                            const asr_real *prev, const asr_attention_params *p,
                                            const asr_attention_config *cfg, int N, int T,
                                            void *work, size_t work_bytes, int fast) {
  int b, j, a, k, E, Dq, A, C, F, loc, dot;
  asr_real *ws;
  asr_result r = asr__att_check(cfg, p, N, T, lengths, enc, query, prev);
  if (r) return r;
  E = cfg->enc_dim, Dq = cfg->dec_dim, A = cfg->att_dim, C = cfg->conv_chans, F = cfg->conv_filts;
  dot = cfg->type == ASR_ATTENTION_DOT;
  loc = cfg->type == ASR_ATTENTION_LOCATION;
  if (N > 0 && T > 0 && (!alpha || (!dot && !act) || (loc && !feat))) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_attention_forward_workspace_size(cfg, N, T) || (!dot && N > 0 && !work))
    return ASR_ERR_WORKSPACE;
  ws = (asr_real *)work;                             /* (N,A) W s of every item */
  if (!dot && N > 0) asr__c3_gemm(fast, 0, 1, N, A, Dq, 1, query, Dq, p->dec_w, Dq, 0, ws, A);
  if (!dot && N > 0 && T > 0)                        /* act = V h + b, every frame at once */
    asr__c3_gemm(fast, 0, 1, N * T, A, E, 1, enc, E, p->enc_w, E, 0, act, A);
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    const asr_real *s = query + (size_t)b * Dq;
    asr_real *al = alpha + (size_t)b * T;
    if (loc) {
      /* f_j = F * alpha_prev (a cross-correlation, as torch's conv), then act += U f_j */
      const asr_real *pv = prev + (size_t)b * T;
      asr_real *fb = feat + (size_t)b * T * C;
      int c;
      memset(fb, 0, sizeof(asr_real) * (size_t)T * C);
      for (j = 0; j < len; j++)
        for (c = 0; c < C; c++) {
          const asr_real *fw = p->conv_w + (size_t)c * (2 * F + 1);
          int k0 = ASR__MAX(0, F - j), k1 = ASR__MIN(2 * F, len - 1 - j + F);
          asr_real acc = 0;
          for (k = k0; k <= k1; k++) acc += fw[k] * pv[j + k - F];
          fb[(size_t)j * C + c] = acc;
        }
      if (len > 0) asr__c3_gemm(fast, 0, 1, len, A, C, 1, fb, C, p->att_w, C, 1, act + (size_t)b * T * A, A);
    }
    for (j = 0; j < T; j++) {
      asr_real *z = dot ? NULL : act + ((size_t)b * T + j) * A;
      double e = 0;
      if (j >= len) {
        if (z) memset(z, 0, sizeof(asr_real) * (size_t)A);
        al[j] = 0;
        continue;
      }
      if (dot) {
        const asr_real *h = enc + ((size_t)b * T + j) * E;
        for (k = 0; k < E; k++) e += (double)s[k] * h[k];
      } else {
        for (a = 0; a < A; a++) {
          z[a] = (asr_real)tanh((double)z[a] + ws[(size_t)b * A + a] + (p->enc_b ? p->enc_b[a] : 0));
          e += (double)p->gvec_w[a] * z[a];
        }
        if (p->gvec_b) e += p->gvec_b[0];
      }
      al[j] = (asr_real)e;
    }
    asr__att_softmax(al, len, T, cfg->scaling);
    /* context = alpha^T h: a (1,len) x (len,E) product */
    if (len > 0) asr__c3_gemm(fast, 0, 0, 1, E, len, 1, al, len, enc + (size_t)b * T * E, E, 0, context + (size_t)b * E, E);
    else memset(context + (size_t)b * E, 0, sizeof(asr_real) * (size_t)E);
  }
  return ASR_OK;
}

ASRDEF asr_result asr_attention_forward_ref(asr_real *context, asr_real *alpha, asr_real *act,
                                            asr_real *feat, const asr_real *enc,
                                            const int *lengths, const asr_real *query,
                                            const asr_real *prev, const asr_attention_params *p,
                                            const asr_attention_config *cfg, int N, int T,
                                            void *work, size_t work_bytes) {
  return asr__attention_forward_impl(context, alpha, act, feat, enc, lengths, query, prev, p, cfg, N, T, work, work_bytes, 0);
}

ASRDEF asr_result asr_attention_forward(asr_real *context, asr_real *alpha, asr_real *act,
                                        asr_real *feat, const asr_real *enc, const int *lengths,
                                        const asr_real *query, const asr_real *prev,
                                        const asr_attention_params *p,
                                        const asr_attention_config *cfg, int N, int T,
                                        void *work, size_t work_bytes) {
  return asr__attention_forward_impl(context, alpha, act, feat, enc, lengths, query, prev, p, cfg, N, T, work, work_bytes, 1);
}

ASRDEF asr_result asr_attention_backward_naive(asr_real *d_enc, asr_real *d_query, asr_real *d_prev,
                                               const asr_attention_grads *g,
                                               const asr_real *d_context, const asr_real *d_alpha,
                                               const asr_real *alpha, const asr_real *act,
                                               const asr_real *feat, const asr_real *enc,
                                               const int *lengths, const asr_real *query,
                                               const asr_real *prev, const asr_attention_params *p,
                                               const asr_attention_config *cfg, int N, int T) {
  int b, j, a, k, c, E, Dq, A, C, F, loc, dot;
  asr_result r = asr__att_check(cfg, p, N, T, lengths, enc, query, prev);
  if (r) return r;
  E = cfg->enc_dim, Dq = cfg->dec_dim, A = cfg->att_dim, C = cfg->conv_chans, F = cfg->conv_filts;
  dot = cfg->type == ASR_ATTENTION_DOT;
  loc = cfg->type == ASR_ATTENTION_LOCATION;
  if ((double)N * T * (dot ? E : (double)A * (E + Dq + (loc ? C * (2.0 * F + 2) : 0))) > 67108864.0)
    return ASR_ERR_TOO_LARGE;
  if (T > 512 || (!dot && A > 512)) return ASR_ERR_TOO_LARGE;   /* the stack buffers below */
  if (N > 0 && T > 0 && (!alpha || !d_context || (!dot && !act) || (loc && !feat)))
    return ASR_ERR_INVALID_ARG;
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    const asr_real *s = query + (size_t)b * Dq, *al = alpha + (size_t)b * T;
    const asr_real *dctx = d_context + (size_t)b * E;
    double dal[512], de[512], dzsum[512], sum = 0;
    for (j = 0; j < len; j++) {
      const asr_real *h = enc + ((size_t)b * T + j) * E;
      double acc = d_alpha ? d_alpha[(size_t)b * T + j] : 0;
      for (k = 0; k < E; k++) acc += (double)dctx[k] * h[k];     /* dalpha_j = dctx . h_j */
      dal[j] = acc;
      sum += (double)al[j] * acc;
      if (d_enc)                                                  /* dh_j += alpha_j dctx */
        for (k = 0; k < E; k++) d_enc[((size_t)b * T + j) * E + k] += (asr_real)(al[j] * dctx[k]);
    }
    for (j = 0; j < len; j++) de[j] = cfg->scaling * al[j] * (dal[j] - sum);  /* softmax' */
    if (dot) {
      for (j = 0; j < len; j++)
        for (k = 0; k < E; k++) {
          if (d_query) d_query[(size_t)b * Dq + k] += (asr_real)(de[j] * enc[((size_t)b * T + j) * E + k]);
          if (d_enc) d_enc[((size_t)b * T + j) * E + k] += (asr_real)(de[j] * s[k]);
        }
      continue;
    }
    for (a = 0; a < A; a++) dzsum[a] = 0;
    for (j = 0; j < len; j++) {
      const asr_real *h = enc + ((size_t)b * T + j) * E, *z = act + ((size_t)b * T + j) * A;
      if (g && g->gvec_b) g->gvec_b[0] += (asr_real)de[j];       /* its gradient: sum_j de_j = 0 */
      for (a = 0; a < A; a++) {
        double dz = de[j] * p->gvec_w[a] * (1 - (double)z[a] * z[a]);  /* through tanh */
        if (g && g->gvec_w) g->gvec_w[a] += (asr_real)(de[j] * z[a]);
        if (g && g->enc_b) g->enc_b[a] += (asr_real)dz;
        if (g && g->enc_w)
          for (k = 0; k < E; k++) g->enc_w[(size_t)a * E + k] += (asr_real)(dz * h[k]);
        if (d_enc)
          for (k = 0; k < E; k++) d_enc[((size_t)b * T + j) * E + k] += (asr_real)(dz * p->enc_w[(size_t)a * E + k]);
        dzsum[a] += dz;
        if (loc)
          for (c = 0; c < C; c++) {
            double fc = feat[((size_t)b * T + j) * C + c];
            double dfc = dz * p->att_w[(size_t)a * C + c];         /* df_j = U^T dz_j */
            if (g && g->att_w) g->att_w[(size_t)a * C + c] += (asr_real)(dz * fc);
            for (k = 0; k < 2 * F + 1; k++) {
              int jj = j + k - F;
              if (jj < 0 || jj >= len) continue;
              if (g && g->conv_w) g->conv_w[(size_t)c * (2 * F + 1) + k] += (asr_real)(dfc * prev[(size_t)b * T + jj]);
              if (d_prev) d_prev[(size_t)b * T + jj] += (asr_real)(dfc * p->conv_w[(size_t)c * (2 * F + 1) + k]);
            }
          }
      }
    }
    for (a = 0; a < A; a++) {                                     /* W s is shared by all j */
      if (g && g->dec_w)
        for (k = 0; k < Dq; k++) g->dec_w[(size_t)a * Dq + k] += (asr_real)(dzsum[a] * s[k]);
      if (d_query)
        for (k = 0; k < Dq; k++) d_query[(size_t)b * Dq + k] += (asr_real)(dzsum[a] * p->dec_w[(size_t)a * Dq + k]);
    }
  }
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__attention_backward_impl(asr_real *d_enc, asr_real *d_query, asr_real *d_prev,
                                             const asr_attention_grads *g,
                                             const asr_real *d_context, const asr_real *d_alpha,
                                             const asr_real *alpha, const asr_real *act,
                                             const asr_real *feat, const asr_real *enc,
                                             const int *lengths, const asr_real *query,
                                             const asr_real *prev, const asr_attention_params *p,
                                             const asr_attention_config *cfg, int N, int T,
                                             void *work, size_t work_bytes, int fast) {
  int b, j, a, k, E, Dq, A, C, F, loc, dot;
  asr_real *de, *dz = NULL, *dzs = NULL, *df = NULL;
  asr_result r = asr__att_check(cfg, p, N, T, lengths, enc, query, prev);
  if (r) return r;
  E = cfg->enc_dim, Dq = cfg->dec_dim, A = cfg->att_dim, C = cfg->conv_chans, F = cfg->conv_filts;
  dot = cfg->type == ASR_ATTENTION_DOT;
  loc = cfg->type == ASR_ATTENTION_LOCATION;
  if (N > 0 && T > 0 && (!alpha || !d_context || (!dot && !act) || (loc && !feat)))
    return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_attention_backward_workspace_size(cfg, N, T) || (N > 0 && T > 0 && !work))
    return ASR_ERR_WORKSPACE;
  de = (asr_real *)work;                           /* (N,T) dL/de */
  if (!dot) {
    dz = de + (size_t)N * T;                       /* (N,T,A) dL/dz, z the tanh argument */
    dzs = dz + (size_t)N * T * A;                  /* (N,A) sum_j dz_j */
    if (loc) df = dzs + (size_t)N * A;             /* (N,T,C) dL/df */
  }
  /* 1. Through the context and the softmax, item by item. */
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T;
    const asr_real *al = alpha + (size_t)b * T, *dctx = d_context + (size_t)b * E;
    const asr_real *hb = enc + (size_t)b * T * E;
    asr_real *deb = de + (size_t)b * T;
    double sum = 0;
    for (j = 0; j < T; j++) deb[j] = 0;
    if (len == 0) continue;
    /* dalpha = h dctx (+ d_alpha): (len,E) x (E,1) */
    asr__c3_gemm(fast, 0, 0, len, 1, E, 1, hb, E, dctx, 1, 0, deb, 1);
    for (j = 0; j < len; j++) {
      if (d_alpha) deb[j] += d_alpha[(size_t)b * T + j];
      sum += (double)al[j] * deb[j];
    }
    for (j = 0; j < len; j++) deb[j] = (asr_real)(cfg->scaling * al[j] * (deb[j] - sum));
    /* dh += alpha dctx^T: the rank-one (len,1) x (1,E) */
    if (d_enc) asr__c3_gemm(fast, 0, 0, len, E, 1, 1, al, 1, dctx, E, 1, d_enc + (size_t)b * T * E, E);
    if (dot) {
      const asr_real *s = query + (size_t)b * Dq;
      if (d_query) asr__c3_gemm(fast, 0, 0, 1, E, len, 1, deb, len, hb, E, 1, d_query + (size_t)b * Dq, E);
      if (d_enc) asr__c3_gemm(fast, 0, 0, len, E, 1, 1, deb, 1, s, E, 1, d_enc + (size_t)b * T * E, E);
    }
  }
  if (dot) return ASR_OK;
  /* 2. Through w^T tanh(z): dz = de w (1 - act^2), zero at padded frames (de = 0 there). */
  for (b = 0; b < N; b++)
    for (j = 0; j < T; j++) {
      size_t row = (size_t)b * T + j;
      const asr_real *z = act + row * A;
      for (a = 0; a < A; a++) dz[row * A + a] = de[row] * p->gvec_w[a] * (1 - z[a] * z[a]);
      if (g && g->gvec_w)
        for (a = 0; a < A; a++) g->gvec_w[a] += de[row] * z[a];
      if (g && g->gvec_b) g->gvec_b[0] += de[row];
    }
  /* 3. The three (or four) linear maps that met inside the tanh. */
  if (N > 0 && T > 0) {
    if (g && g->enc_w) asr__c3_gemm(fast, 1, 0, A, E, N * T, 1, dz, A, enc, E, 1, g->enc_w, E);   /* dV */
    if (d_enc) asr__c3_gemm(fast, 0, 0, N * T, E, A, 1, dz, A, p->enc_w, E, 1, d_enc, E);        /* V^T dz */
  }
  for (b = 0; b < N; b++) {
    asr_real *dsb = dzs + (size_t)b * A;
    for (a = 0; a < A; a++) dsb[a] = 0;
    for (j = 0; j < T; j++)
      for (a = 0; a < A; a++) dsb[a] += dz[((size_t)b * T + j) * A + a];
    if (g && g->enc_b)
      for (a = 0; a < A; a++) g->enc_b[a] += dsb[a];
  }
  if (N > 0) {
    if (g && g->dec_w) asr__c3_gemm(fast, 1, 0, A, Dq, N, 1, dzs, A, query, Dq, 1, g->dec_w, Dq);  /* dW */
    if (d_query) asr__c3_gemm(fast, 0, 0, N, Dq, A, 1, dzs, A, p->dec_w, Dq, 1, d_query, Dq);
  }
  if (!loc) return ASR_OK;
  /* 4. Location features: dU = dz^T f, df = dz U, then the convolution's transpose. */
  if (N > 0 && T > 0) {
    if (g && g->att_w) asr__c3_gemm(fast, 1, 0, A, C, N * T, 1, dz, A, feat, C, 1, g->att_w, C);
    asr__c3_gemm(fast, 0, 0, N * T, C, A, 1, dz, A, p->att_w, C, 0, df, C);
  }
  for (b = 0; b < N; b++) {
    int len = lengths ? lengths[b] : T, c;
    const asr_real *pv = prev + (size_t)b * T;
    for (j = 0; j < len; j++)
      for (c = 0; c < C; c++) {
        asr_real d = df[((size_t)b * T + j) * C + c];
        const asr_real *fw = p->conv_w + (size_t)c * (2 * F + 1);
        int k0 = ASR__MAX(0, F - j), k1 = ASR__MIN(2 * F, len - 1 - j + F);
        if (g && g->conv_w)
          for (k = k0; k <= k1; k++) g->conv_w[(size_t)c * (2 * F + 1) + k] += d * pv[j + k - F];
        if (d_prev)
          for (k = k0; k <= k1; k++) d_prev[(size_t)b * T + j + k - F] += d * fw[k];
      }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_attention_backward_ref(asr_real *d_enc, asr_real *d_query, asr_real *d_prev,
                                             const asr_attention_grads *g,
                                             const asr_real *d_context, const asr_real *d_alpha,
                                             const asr_real *alpha, const asr_real *act,
                                             const asr_real *feat, const asr_real *enc,
                                             const int *lengths, const asr_real *query,
                                             const asr_real *prev, const asr_attention_params *p,
                                             const asr_attention_config *cfg, int N, int T,
                                             void *work, size_t work_bytes) {
  return asr__attention_backward_impl(d_enc, d_query, d_prev, g, d_context, d_alpha, alpha, act, feat, enc, lengths, query, prev, p, cfg, N, T, work, work_bytes, 0);
}

ASRDEF asr_result asr_attention_backward(asr_real *d_enc, asr_real *d_query, asr_real *d_prev,
                                         const asr_attention_grads *g, const asr_real *d_context,
                                         const asr_real *d_alpha, const asr_real *alpha,
                                         const asr_real *act, const asr_real *feat,
                                         const asr_real *enc, const int *lengths,
                                         const asr_real *query, const asr_real *prev,
                                         const asr_attention_params *p,
                                         const asr_attention_config *cfg, int N, int T,
                                         void *work, size_t work_bytes) {
  return asr__attention_backward_impl(d_enc, d_query, d_prev, g, d_context, d_alpha, alpha, act, feat, enc, lengths, query, prev, p, cfg, N, T, work, work_bytes, 1);
}

/* ---------------------------------------------------------------------------------------
 * 4.5 Optimizers and schedules (implementation)
 * --------------------------------------------------------------------------------------- */

ASRDEF void asr_sgd_opts_init(asr_sgd_opts *o, double lr) {
  o->lr = lr;
  o->momentum = 0;
  o->dampening = 0;
  o->weight_decay = 0;
  o->nesterov = 0;
}

ASRDEF asr_result asr_sgd_step(asr_real *param, asr_real *buf, const asr_real *grad, size_t n,
                               const asr_sgd_opts *o, long t) {
  size_t i;
  if (!param || !grad || !o || t < 1 || (o->momentum != 0 && !buf)) return ASR_ERR_INVALID_ARG;
  if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
    return ASR_ERR_INVALID_ARG;   /* torch: "Nesterov momentum requires a momentum and zero dampening" */
  for (i = 0; i < n; i++) {
    double g = (double)grad[i] + o->weight_decay * param[i];      /* L2 term in the gradient */
    double d = g;
    if (o->momentum != 0) {
      double b = t == 1 ? g : o->momentum * buf[i] + (1 - o->dampening) * g;
      buf[i] = (asr_real)b;
      d = o->nesterov ? g + o->momentum * (double)buf[i] : (double)buf[i];
    }
    param[i] = (asr_real)((double)param[i] - o->lr * d);
  }
  return ASR_OK;
}

ASRDEF void asr_adam_opts_init(asr_adam_opts *o, double lr) {
  o->lr = lr;
  o->beta1 = 0.9;
  o->beta2 = 0.999;
  o->eps = 1e-8;
  o->weight_decay = 0;
  o->decoupled = 0;
  o->amsgrad = 0;
}
ASRDEF void asr_adamw_opts_init(asr_adam_opts *o, double lr) {
  asr_adam_opts_init(o, lr);
  o->weight_decay = 1e-2;
  o->decoupled = 1;
}

ASRDEF asr_result asr_adam_step(asr_real *param, asr_real *m, asr_real *v, asr_real *vmax,
                                const asr_real *grad, size_t n, const asr_adam_opts *o, long t) {
  size_t i;
  double bc1, bc2s, step_size;
  if (!param || !m || !v || !grad || !o || t < 1 || (o->amsgrad && !vmax)) return ASR_ERR_INVALID_ARG;
  if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps >= 0))
    return ASR_ERR_INVALID_ARG;
  bc1 = 1 - pow(o->beta1, (double)t);                 /* bias corrections of step t */
  bc2s = sqrt(1 - pow(o->beta2, (double)t));
  step_size = o->lr / bc1;
  for (i = 0; i < n; i++) {
    double p = param[i], g = grad[i], mi, vi, denom;
    if (o->decoupled) p *= 1 - o->lr * o->weight_decay;   /* AdamW: decay the weight */
    else g += o->weight_decay * p;                         /* Adam: L2 in the gradient */
    mi = o->beta1 * m[i] + (1 - o->beta1) * g;            /* first moment */
    vi = o->beta2 * v[i] + (1 - o->beta2) * g * g;        /* second moment */
    m[i] = (asr_real)mi;
    v[i] = (asr_real)vi;
    if (o->amsgrad) {
      if (v[i] > vmax[i]) vmax[i] = v[i];                 /* the running maximum */
      vi = vmax[i];
    } else {
      vi = v[i];
    }
    mi = m[i];
    denom = sqrt(vi) / bc2s + o->eps;                     /* sqrt(v_hat) + eps */
    param[i] = (asr_real)(p - step_size * mi / denom);
  }
  return ASR_OK;
}

ASRDEF double asr_lr_noam(long t, int d_model, long warmup, double factor) {
  double s = t < 1 ? 1.0 : (double)t, w = warmup > 0 ? (double)warmup : 1.0;
  double a = 1.0 / sqrt(s), b = s * pow(w, -1.5);
  return factor / sqrt((double)(d_model > 0 ? d_model : 1)) * (warmup > 0 && b < a ? b : a);   /* eq. (3) */
}

ASRDEF double asr_lr_warmup(long t, double base_lr, long warmup) {
  double s = t < 1 ? 1.0 : (double)t, w = warmup > 0 ? (double)warmup : 1.0;
  double a = 1.0 / sqrt(s), b = s * pow(w, -1.5);
  if (warmup <= 0) return base_lr;
  return base_lr * sqrt(w) * (b < a ? b : a);     /* = base_lr at t = warmup */
}

ASRDEF double asr_lr_linear_warmup(long t, double base_lr, long warmup, long total) {
  double lr;
  if (warmup > 0 && t < warmup) return base_lr * (double)t / (double)warmup;   /* ramp up */
  if (total <= warmup) return base_lr;
  lr = base_lr * (double)(total - t) / (double)(total - warmup);              /* ramp down */
  return lr > 0 ? lr : 0;
}

ASRDEF asr_result asr_clip_grad_norm(asr_real *const *grads, const size_t *sizes, int count,
                                     double max_norm, double norm_type, double *total_norm) {
  double total = 0, coef;
  int k;
  size_t i;
  if ((!grads || !sizes) && count > 0) return ASR_ERR_INVALID_ARG;
  if (count < 0 || !(norm_type > 0) || !(max_norm >= 0)) return ASR_ERR_INVALID_ARG;
  for (k = 0; k < count; k++)
    if (!grads[k] && sizes[k]) return ASR_ERR_INVALID_ARG;
  for (k = 0; k < count; k++)
    for (i = 0; i < sizes[k]; i++) {
      double a = fabs((double)grads[k][i]);
      if (isinf(norm_type)) total = a > total || a != a ? a : total;   /* max |g| */
      else if (norm_type == 2) total += a * a;
      else total += pow(a, norm_type);
    }
  if (!isinf(norm_type)) total = norm_type == 2 ? sqrt(total) : pow(total, 1.0 / norm_type);
  if (total_norm) *total_norm = total;
  if (!isfinite(total)) return ASR_ERR_NONFINITE;
  coef = max_norm / (total + 1e-6);                        /* torch's 1e-6 guard */
  if (coef < 1)
    for (k = 0; k < count; k++)
      for (i = 0; i < sizes[k]; i++) grads[k][i] = (asr_real)(grads[k][i] * coef);
  return ASR_OK;
}

/* ========================================================================================
 * 5. CTC (implementation)
 * ======================================================================================== */

/* l'_s, the label of state s of the extended labelling: blanks at even s, l_{(s-1)/2} at
 * odd s ([Graves06] sec. 4.1: "blanks added to the beginning and the end and inserted
 * between every pair of labels"). */
#define ASR__CTC_LABEL(l, s, blank) (((s) & 1) ? (l)[(s) >> 1] : (blank))
/* ln y^t_k: the logit minus its frame's log-normalizer, or a log-probability as given
 * (lse == NULL). Computed in double so that the long sums below lose nothing. */
#define ASR__CTC_EMIT(x, lse, V, t, k) \
  ((double)(x)[(size_t)(t) * (size_t)(V) + (size_t)(k)] - ((lse) ? (lse)[t] : 0.0))

/* ln(e^a + e^b + e^c), -inf if all three are -inf. */
ASR__PRIVATE double asr__lse3(double a, double b, double c) {
  double m = a > b ? a : b;
  if (c > m) m = c;
  if (m == -INFINITY) return -INFINITY;
  return m + log(exp(a - m) + exp(b - m) + exp(c - m));
}

ASRDEF int asr_ctc_min_frames(const int *target, int S) {
  int j, n = S;
  for (j = 1; j < S; j++)
    if (target[j] == target[j - 1]) n++;   /* equal neighbours need a blank between them */
  return n;
}

/* ---- workspace: one caller buffer cut into 64-byte aligned pieces */
typedef struct asr__arena {
  unsigned char *p;
  size_t left;
  int overflow;
} asr__arena;

/* Size of a piece of `count` elements of `size` bytes, rounded up to 64; sets *ovf. */
ASR__PRIVATE size_t asr__piece(size_t count, size_t size, int *ovf) {
  size_t b;
  if (asr_size_mul(count, size, &b) != ASR_OK || b > (size_t)-1 - 128) {
    *ovf = 1;
    return 0;
  }
  return (b + 63) & ~(size_t)63;
}
ASR__PRIVATE size_t asr__add_size(size_t a, size_t b, int *ovf) {
  if (a > (size_t)-1 - b) {
    *ovf = 1;
    return 0;
  }
  return a + b;
}
ASR__PRIVATE void asr__arena_init(asr__arena *a, void *work, size_t bytes) {
  uintptr_t p = (uintptr_t)work, q = (p + 63) & ~(uintptr_t)63;
  a->overflow = 0;
  if (!work || bytes < (size_t)(q - p)) {
    a->p = NULL;
    a->left = 0;
    return;
  }
  a->p = (unsigned char *)q;
  a->left = bytes - (size_t)(q - p);
}
ASR__PRIVATE void *asr__arena_take(asr__arena *a, size_t count, size_t size) {
  size_t b = asr__piece(count, size, &a->overflow);
  void *r;
  if (a->overflow || b > a->left) {
    a->overflow = 1;
    return NULL;
  }
  r = a->p;
  a->p += b;
  a->left -= b;
  return r;
}

/* What each tier cuts from the workspace, in this order (the size query mirrors it). */
ASR__PRIVATE size_t asr__ctc_tier_bytes(int tier, int T, int V, int S, int *ovf) {
  size_t L = 2 * (size_t)S + 1, b = 64;    /* 64: room to align the start */
  b = asr__add_size(b, asr__piece((size_t)T, sizeof(double), ovf), ovf);        /* lse */
  if (tier == 0) {                                                               /* naive */
    b = asr__add_size(b, asr__piece((size_t)T, sizeof(int), ovf), ovf);          /* pi */
    b = asr__add_size(b, asr__piece((size_t)T * (size_t)V, sizeof(double), ovf), ovf);
  } else if (tier == 1) {                                                        /* ref */
    size_t TL = 0;
    if (asr_size_mul((size_t)T, L, &TL) != ASR_OK) *ovf = 1;
    b = asr__add_size(b, asr__piece(TL, sizeof(double), ovf), ovf);              /* alpha */
    b = asr__add_size(b, asr__piece(TL, sizeof(double), ovf), ovf);              /* beta */
    b = asr__add_size(b, asr__piece((size_t)V, sizeof(double), ovf), ovf);       /* gamma */
  } else {                                                                       /* fast */
    size_t R = (((size_t)S + 1 + 7) & ~(size_t)7) + 16, TR = 0;   /* padded row, see below */
    if (asr_size_mul((size_t)T, R, &TR) != ASR_OK) *ovf = 1;
    b = asr__add_size(b, asr__piece(TR, sizeof(double), ovf), ovf);              /* alpha_b */
    b = asr__add_size(b, asr__piece(TR, sizeof(double), ovf), ovf);              /* alpha_l */
    b = asr__add_size(b, asr__piece(8 * R, sizeof(double), ovf), ovf);           /* rows */
    b = asr__add_size(b, asr__piece((size_t)V, sizeof(double), ovf), ovf);       /* gamma */
  }
  return b;
}

ASRDEF size_t asr_ctc_loss_workspace_size(int T, int V, int S) {
  int ovf = 0, tier;
  size_t m = 0;
  if (T < 0 || V < 0 || S < 0) return (size_t)-1;
  for (tier = 0; tier < 3; tier++) {
    size_t b = asr__ctc_tier_bytes(tier, T, V, S, &ovf);
    if (b > m) m = b;
  }
  return ovf ? (size_t)-1 : m;
}

/* Every argument check of the loss, before anything is written. */
ASR__PRIVATE asr_result asr__ctc_validate(int tier, int logprobs_in, const asr_real *loss,
                                          const asr_real *x, const int *targets,
                                          const int *input_lengths, const int *target_lengths,
                                          int N, int T, int V, int S, int blank,
                                          asr_reduction reduction, const void *work,
                                          size_t work_bytes, asr_error *err) {
  int n, j, t, k, ovf = 0;
  size_t need, ntv;
  const char *xname = logprobs_in ? "logprobs" : "logits";
  if (N < 0 || T < 0 || S < 0 || V < 1)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "sizes N=%d T=%d V=%d S=%d: need N, T, S >= 0 and V >= 1",
                     N, T, V, S);
  if (blank < 0 || blank >= V)
    return asr__fail(err, ASR_ERR_RANGE, "blank = %d is outside [0, V=%d)", blank, V);
  if (reduction != ASR_REDUCTION_NONE && reduction != ASR_REDUCTION_SUM &&
      reduction != ASR_REDUCTION_MEAN)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "unknown reduction %d", (int)reduction);
  if (!loss) return asr__fail(err, ASR_ERR_INVALID_ARG, "loss is NULL");
  if (asr_size_mul((size_t)N, (size_t)T, &ntv) != ASR_OK ||
      asr_size_mul(ntv, (size_t)V, &ntv) != ASR_OK)
    return asr__fail(err, ASR_ERR_TOO_LARGE, "N*T*V overflows");
  if (N > 0 && (!input_lengths || !target_lengths || (T > 0 && !x) || (S > 0 && !targets)))
    return asr__fail(err, ASR_ERR_INVALID_ARG, "a NULL input array");
  for (n = 0; n < N; n++) {
    int Tn = input_lengths[n], Sn = target_lengths[n];
    if (Tn < 0) return asr__fail(err, ASR_ERR_RANGE, "input_lengths[%d] = %d is negative", n, Tn);
    if (Tn > T)
      return asr__fail(err, ASR_ERR_RANGE, "input_lengths[%d] = %d is above T = %d", n, Tn, T);
    if (Sn < 0) return asr__fail(err, ASR_ERR_RANGE, "target_lengths[%d] = %d is negative", n, Sn);
    if (Sn > S)
      return asr__fail(err, ASR_ERR_RANGE,
                       "target_lengths[%d] = %d is above the padded width S = %d", n, Sn, S);
    for (j = 0; j < Sn; j++) {
      int c = targets[(size_t)n * S + j];
      if (c < 0 || c >= V)
        return asr__fail(err, ASR_ERR_RANGE, "targets[%d][%d] = %d is outside [0, V=%d)", n, j, c, V);
      if (c == blank)
        return asr__fail(err, ASR_ERR_RANGE, "targets[%d][%d] = %d is the blank", n, j, c);
    }
    for (t = 0; t < Tn; t++) {
      const asr_real *row = x + ((size_t)n * T + t) * (size_t)V;
      for (k = 0; k < V; k++) {
        double v = row[k];
        if (v != v || v == INFINITY || (!logprobs_in && v == -INFINITY))
          return asr__fail(err, ASR_ERR_NONFINITE, "%s[%d][%d][%d] is %s", xname, n, t, k,
                           v != v ? "NaN" : (v > 0 ? "+inf" : "-inf"));
      }
    }
    if (tier == 0) {
      /* _naive enumerates V^Tn paths */
      double paths = 1;
      for (t = 0; t < Tn && paths <= ASR_CTC_NAIVE_MAX_PATHS; t++) paths *= V;
      if (paths > ASR_CTC_NAIVE_MAX_PATHS)
        return asr__fail(err, ASR_ERR_TOO_LARGE,
                         "item %d: V^T = %d^%d paths is beyond _naive's limit of %d", n, V, Tn,
                         ASR_CTC_NAIVE_MAX_PATHS);
    }
  }
  /* every tier asks for the same asr_ctc_loss_workspace_size(), the largest need */
  (void)tier;
  need = asr_ctc_loss_workspace_size(T, V, S);
  if (need == (size_t)-1 || ovf) return asr__fail(err, ASR_ERR_TOO_LARGE, "workspace size overflows");
  if (!work || work_bytes < need)
    return asr__fail(err, ASR_ERR_WORKSPACE, "workspace is %lu bytes, %lu needed",
                     (unsigned long)(work ? work_bytes : 0), (unsigned long)need);
  return ASR_OK;
}

/* lse (T): the log-normalizer ln sum_k e^{u^t_k} of each frame, in double. */
ASR__PRIVATE void asr__ctc_frame_lse(double *lse, const asr_real *x, int T, int V) {
  int t;
  for (t = 0; t < T; t++) lse[t] = asr_logsumexp(x + (size_t)t * V, V);
}

/* ---- _naive: eqs. (2)-(3) by enumeration.
 * Adds scale * d(-ln p)/dx into g (Tn,V) when g != NULL; returns -ln p(l|x) (+inf when no
 * path maps to l). occ (Tn,V) and pi (Tn) are scratch. */
ASR__PRIVATE double asr__ctc_item_naive(asr_real *g, double scale, const asr_real *x,
                                        const double *lse, const int *l, int Tn, int V, int Sn,
                                        int blank, int *pi, double *occ) {
  double logp = -INFINITY;
  int t, k;
  for (t = 0; t < Tn; t++) pi[t] = 0;
  for (t = 0; t < Tn * V; t++) occ[t] = -INFINITY;  /* ln sum of p(pi) over pi with pi_t = k */
  for (;;) {
    /* B(pi): merge repeated labels, then drop blanks; compare with l as we go */
    int j = 0, ok = 1;
    for (t = 0; t < Tn && ok; t++) {
      int c = pi[t];
      if (c != blank && (t == 0 || c != pi[t - 1])) {
        if (j < Sn && l[j] == c) j++;
        else ok = 0;
      }
    }
    if (ok && j == Sn) {
      /* pi is in B^-1(l): ln p(pi|x) = sum_t ln y^t_{pi_t}   (eq. (2)) */
      double lpi = 0;
      for (t = 0; t < Tn; t++) lpi += ASR__CTC_EMIT(x, lse, V, t, pi[t]);
      logp = asr_logaddexp(logp, lpi);                                 /* eq. (3) */
      for (t = 0; t < Tn; t++) occ[(size_t)t * V + pi[t]] = asr_logaddexp(occ[(size_t)t * V + pi[t]], lpi);
    }
    /* the next path: a base-V counter over the frames, last frame fastest */
    for (t = Tn - 1; t >= 0; t--) {
      if (++pi[t] < V) break;
      pi[t] = 0;
    }
    if (t < 0) break;   /* wrapped around: every path seen (Tn = 0: the one empty path) */
  }
  if (logp == -INFINITY) return INFINITY;
  if (g) {
    for (t = 0; t < Tn; t++) {
      const double *o = occ + (size_t)t * V;
      asr_real *gt = g + (size_t)t * V;
      /* dO/dz^t_k = -(1/p) sum_{pi in B^-1(l): pi_t = k} p(pi|x) = -gamma_t(k) */
      if (!lse) {
        for (k = 0; k < V; k++) gt[k] += (asr_real)(scale * -exp(o[k] - logp));
      } else {
        /* through log-softmax, literally: dO/du_k = sum_j dO/dz_j (delta_jk - y_k) */
        double sum_dz = 0;
        for (k = 0; k < V; k++) sum_dz += -exp(o[k] - logp);
        for (k = 0; k < V; k++) {
          double y = exp(ASR__CTC_EMIT(x, lse, V, t, k));
          gt[k] += (asr_real)(scale * (-exp(o[k] - logp) - y * sum_dz));
        }
      }
    }
  }
  return -logp;
}

/* ---- _ref: the forward-backward recursions of [Graves06] sec. 4.1, in log space.
 * NOTE: log space instead of the paper's rescaling (sec. 4.1, after eq. (11): divide
 * alpha_t by C_t = sum_s alpha_t(s), beta_t by D_t, and ln p = sum_t ln C_t). Rescaling
 * keeps each time step in range, but within one step the states still span e^-700 and
 * more: an untrained, blank-dominated network makes alpha of the states far along l
 * underflow against the all-blank state although their alpha*beta carries the whole
 * probability. Logarithms (with log-sum-exp) never underflow. */

/* log_alpha (T, 2S+1) by eqs. (5)-(7); returns ln p(l|x) by eq. (8). */
ASR__PRIVATE double asr__ctc_alpha(double *la, const asr_real *x, const double *lse, const int *l,
                                   int T, int V, int S, int blank) {
  const int L = 2 * S + 1;
  int t, s;
  if (T == 0) return S == 0 ? 0.0 : -INFINITY;   /* no frames: only the empty labelling */
  /* initialisation: a path starts with a blank or with the first label
   *   alpha_1(1) = y^1_b,  alpha_1(2) = y^1_{l_1},  alpha_1(s) = 0 for s > 2 */
  for (s = 0; s < L; s++) la[s] = -INFINITY;
  la[0] = ASR__CTC_EMIT(x, lse, V, 0, blank);
  if (S > 0) la[1] = ASR__CTC_EMIT(x, lse, V, 0, l[0]);
  for (t = 1; t < T; t++) {
    const double *prev = la + (size_t)(t - 1) * L;
    double *cur = la + (size_t)t * L;
    for (s = 0; s < L; s++) {
      int k = ASR__CTC_LABEL(l, s, blank);
      /* eq. (7): alpha-bar_t(s) = alpha_{t-1}(s) + alpha_{t-1}(s-1) */
      double a = prev[s], b = s >= 1 ? prev[s - 1] : -INFINITY, c = -INFINITY;
      /* eq. (6): the skip s-2 -> s only onto a label that differs from l'_{s-2}; a blank,
       * or a repeated label (which needs the blank between), is reached from s, s-1 only */
      if (s >= 2 && k != blank && k != ASR__CTC_LABEL(l, s - 2, blank)) c = prev[s - 2];
      cur[s] = asr__lse3(a, b, c) + ASR__CTC_EMIT(x, lse, V, t, k);   /* times y^t_{l'_s} */
    }
  }
  /* eq. (8): p(l|x) = alpha_T(|l'|) + alpha_T(|l'|-1), ending in the last blank or label */
  return asr_logaddexp(la[(size_t)(T - 1) * L + L - 1],
                       S > 0 ? la[(size_t)(T - 1) * L + L - 2] : -INFINITY);
}

/* log_beta (T, 2S+1) by eqs. (9)-(11); returns ln p(l|x) = ln(beta_1(1) + beta_1(2)). */
ASR__PRIVATE double asr__ctc_beta(double *lb, const asr_real *x, const double *lse, const int *l,
                                  int T, int V, int S, int blank) {
  const int L = 2 * S + 1;
  int t, s;
  if (T == 0) return S == 0 ? 0.0 : -INFINITY;
  /* initialisation: a path ends with the last blank or the last label
   *   beta_T(|l'|) = y^T_b,  beta_T(|l'|-1) = y^T_{l_|l|},  beta_T(s) = 0 for s < |l'|-1 */
  for (s = 0; s < L; s++) lb[(size_t)(T - 1) * L + s] = -INFINITY;
  lb[(size_t)(T - 1) * L + L - 1] = ASR__CTC_EMIT(x, lse, V, T - 1, blank);
  if (S > 0) lb[(size_t)(T - 1) * L + L - 2] = ASR__CTC_EMIT(x, lse, V, T - 1, l[S - 1]);
  for (t = T - 2; t >= 0; t--) {
    const double *next = lb + (size_t)(t + 1) * L;
    double *cur = lb + (size_t)t * L;
    for (s = 0; s < L; s++) {
      int k = ASR__CTC_LABEL(l, s, blank);
      /* eq. (11): beta-bar_t(s) = beta_{t+1}(s) + beta_{t+1}(s+1) */
      double a = next[s], b = s + 1 < L ? next[s + 1] : -INFINITY, c = -INFINITY;
      /* eq. (10): the skip s -> s+2 under the same rule as alpha's, mirrored */
      if (s + 2 < L && k != blank && k != ASR__CTC_LABEL(l, s + 2, blank)) c = next[s + 2];
      cur[s] = asr__lse3(a, b, c) + ASR__CTC_EMIT(x, lse, V, t, k);
    }
  }
  return asr_logaddexp(lb[0], S > 0 ? lb[1] : -INFINITY);
}

/* One item by forward-backward. Adds scale * gradient into g (Tn,V) (w.r.t. logits when
 * lse != NULL, else w.r.t. the log-probabilities); returns -ln p(l|x), +inf if p = 0. */
ASR__PRIVATE double asr__ctc_item_ref(asr_real *g, double scale, const asr_real *x,
                                      const double *lse, const int *l, int Tn, int V, int Sn,
                                      int blank, double *la, double *lb, double *gamma) {
  const int L = 2 * Sn + 1;
  int t, s, k;
  double logp = asr__ctc_alpha(la, x, lse, l, Tn, V, Sn, blank);
  if (logp == -INFINITY) return INFINITY;   /* infeasible: no gradient at all */
  if (!g) return -logp;
  asr__ctc_beta(lb, x, lse, l, Tn, V, Sn, blank);
  for (t = 0; t < Tn; t++) {
    const double *a = la + (size_t)t * L, *b = lb + (size_t)t * L;
    asr_real *gt = g + (size_t)t * V;
    for (k = 0; k < V; k++) gamma[k] = 0;
    /* gamma_t(k) = (1 / (y^t_k p(l|x))) sum_{s in lab(l,k)} alpha_t(s) beta_t(s):
     * eq. (14) says alpha_t(s) beta_t(s) / y^t_{l'_s} sums, over s, to p(l|x); each term is
     * the probability of the paths through state s at frame t. */
    for (s = 0; s < L; s++) {
      if (a[s] == -INFINITY || b[s] == -INFINITY) continue;   /* no path through (t,s) */
      k = ASR__CTC_LABEL(l, s, blank);
      gamma[k] += exp(a[s] + b[s] - ASR__CTC_EMIT(x, lse, V, t, k) - logp);
    }
    if (lse) {
      /* eq. (16): dO/du^t_k = y^t_k - gamma_t(k); the paper's Z_t and hats are the
       * rescaled form of p(l|x) and alpha, beta: in log space they are logp, a, b */
      for (k = 0; k < V; k++)
        gt[k] += (asr_real)(scale * (exp(ASR__CTC_EMIT(x, lse, V, t, k)) - gamma[k]));
    } else {
      /* eqs. (13), (15): dO/dy^t_k = -(1/(p (y^t_k)^2)) sum alpha beta, and d/dln y = y d/dy */
      for (k = 0; k < V; k++) gt[k] += (asr_real)(scale * -gamma[k]);
    }
  }
  return -logp;
}

ASR__PRIVATE double asr__ctc_item_fast(asr_real *g, double scale, const asr_real *x,
                                       const double *lse, const int *l, int Tn, int V, int Sn,
                                       int blank, asr__arena *ar);
ASR__PRIVATE void asr__ctc_frame_lse_fast(double *lse, const asr_real *x, int T, int V);

/* The batch driver all tiers share: validate, then one item after the other. */
ASR__PRIVATE asr_result asr__ctc_loss(int tier, int logprobs_in, asr_real *loss, asr_real *grad,
                                      const asr_real *x, const int *targets,
                                      const int *input_lengths, const int *target_lengths, int N,
                                      int T, int V, int S, int blank, asr_reduction reduction,
                                      int zero_infinity, void *work, size_t work_bytes,
                                      asr_error *err) {
  asr__arena ar;
  double total = 0;
  int n, infeasible = 0;
  double *lse;
  asr_result r = asr__ctc_validate(tier, logprobs_in, loss, x, targets, input_lengths,
                                   target_lengths, N, T, V, S, blank, reduction, work,
                                   work_bytes, err);
  if (r != ASR_OK) return r;
  asr__arena_init(&ar, work, work_bytes);
  lse = (double *)asr__arena_take(&ar, (size_t)T, sizeof(double));
  for (n = 0; n < N; n++) {
    const int Tn = input_lengths[n], Sn = target_lengths[n];
    const asr_real *xn = x ? x + (size_t)n * T * V : NULL;
    const int *ln = targets ? targets + (size_t)n * S : NULL;
    asr_real *gn = grad ? grad + (size_t)n * T * V : NULL;
    /* the mean divides each loss by its target length (at least 1) and by N */
    double scale = reduction == ASR_REDUCTION_MEAN ? 1.0 / ((double)N * (Sn > 0 ? Sn : 1)) : 1.0;
    double nll, v;
    asr__arena sub = ar;   /* each item cuts its scratch from the same place */
    if (!logprobs_in) (tier == 2 ? asr__ctc_frame_lse_fast : asr__ctc_frame_lse)(lse, xn, Tn, V);
    if (tier == 0) {
      int *pi = (int *)asr__arena_take(&sub, (size_t)T, sizeof(int));
      double *occ = (double *)asr__arena_take(&sub, (size_t)T * V, sizeof(double));
      nll = asr__ctc_item_naive(gn, scale, xn, logprobs_in ? NULL : lse, ln, Tn, V, Sn, blank, pi, occ);
    } else if (tier == 1) {
      double *la = (double *)asr__arena_take(&sub, (size_t)T * (2 * (size_t)S + 1), sizeof(double));
      double *lb = (double *)asr__arena_take(&sub, (size_t)T * (2 * (size_t)S + 1), sizeof(double));
      double *gamma = (double *)asr__arena_take(&sub, (size_t)V, sizeof(double));
      nll = asr__ctc_item_ref(gn, scale, xn, logprobs_in ? NULL : lse, ln, Tn, V, Sn, blank, la, lb, gamma);
    } else {
      nll = asr__ctc_item_fast(gn, scale, xn, logprobs_in ? NULL : lse, ln, Tn, V, Sn, blank, &sub);
    }
    if (nll == INFINITY) infeasible = 1;
    v = nll == INFINITY && zero_infinity ? 0.0 : nll;
    if (reduction == ASR_REDUCTION_NONE) loss[n] = (asr_real)v;
    else total += reduction == ASR_REDUCTION_MEAN ? v / (Sn > 0 ? Sn : 1) : v;
  }
  if (reduction == ASR_REDUCTION_SUM) loss[0] = (asr_real)total;
  if (reduction == ASR_REDUCTION_MEAN) loss[0] = (asr_real)(N > 0 ? total / N : 0.0);
  return infeasible ? ASR_INFEASIBLE : ASR_OK;
}

#define ASR__CTC_ARGS                                                                     \
  asr_real *loss, asr_real *grad, const asr_real *x, const int *targets,                  \
      const int *input_lengths, const int *target_lengths, int N, int T, int V, int S,    \
      int blank, asr_reduction reduction, int zero_infinity, void *work, size_t work_bytes, \
      asr_error *err
#define ASR__CTC_PASS                                                                     \
  loss, grad, x, targets, input_lengths, target_lengths, N, T, V, S, blank, reduction,    \
      zero_infinity, work, work_bytes, err
/* The fast tier is the AVX2 kernel in the float build, _ref everywhere else. */
#if defined(ASR_SIMD_AVX2) && !ASR_REAL_DOUBLE
#define ASR__CTC_FAST_TIER 2
#else
#define ASR__CTC_FAST_TIER 1
#endif

ASRDEF asr_result asr_ctc_loss_naive(ASR__CTC_ARGS) { return asr__ctc_loss(0, 0, ASR__CTC_PASS); }
ASRDEF asr_result asr_ctc_loss_ref(ASR__CTC_ARGS) { return asr__ctc_loss(1, 0, ASR__CTC_PASS); }
ASRDEF asr_result asr_ctc_loss(ASR__CTC_ARGS) {
  return asr__ctc_loss(ASR__CTC_FAST_TIER, 0, ASR__CTC_PASS);
}
ASRDEF asr_result asr_ctc_loss_logprobs_naive(ASR__CTC_ARGS) {
  return asr__ctc_loss(0, 1, ASR__CTC_PASS);
}
ASRDEF asr_result asr_ctc_loss_logprobs_ref(ASR__CTC_ARGS) {
  return asr__ctc_loss(1, 1, ASR__CTC_PASS);
}
ASRDEF asr_result asr_ctc_loss_logprobs(ASR__CTC_ARGS) {
  return asr__ctc_loss(ASR__CTC_FAST_TIER, 1, ASR__CTC_PASS);
}
#undef ASR__CTC_ARGS
#undef ASR__CTC_PASS

/* Checks of the single-sequence functions (lattice, alignment, decoders). */
ASR__PRIVATE asr_result asr__ctc_check_seq(const asr_real *logprobs, const int *target, int T,
                                           int V, int S, int blank) {
  int j;
  size_t t;
  if (T < 0 || V < 1 || S < 0 || blank < 0 || blank >= V) return ASR_ERR_INVALID_ARG;
  if ((T > 0 && !logprobs) || (S > 0 && !target)) return ASR_ERR_INVALID_ARG;
  for (j = 0; j < S; j++)
    if (target[j] < 0 || target[j] >= V || target[j] == blank) return ASR_ERR_RANGE;
  for (t = 0; t < (size_t)T * V; t++)
    if (logprobs[t] != logprobs[t] || logprobs[t] == INFINITY) return ASR_ERR_NONFINITE;
  return ASR_OK;
}

ASRDEF asr_result asr_ctc_alpha_ref(double *log_alpha, double *log_p, const asr_real *logprobs,
                                    const int *target, int T, int V, int S, int blank) {
  double lp;
  asr_result r = asr__ctc_check_seq(logprobs, target, T, V, S, blank);
  if (r != ASR_OK) return r;
  if (!log_alpha && T > 0) return ASR_ERR_INVALID_ARG;
  lp = asr__ctc_alpha(log_alpha, logprobs, NULL, target, T, V, S, blank);
  if (log_p) *log_p = lp;
  return lp == -INFINITY ? ASR_INFEASIBLE : ASR_OK;
}

ASRDEF asr_result asr_ctc_beta_ref(double *log_beta, double *log_p, const asr_real *logprobs,
                                   const int *target, int T, int V, int S, int blank) {
  double lp;
  asr_result r = asr__ctc_check_seq(logprobs, target, T, V, S, blank);
  if (r != ASR_OK) return r;
  if (!log_beta && T > 0) return ASR_ERR_INVALID_ARG;
  lp = asr__ctc_beta(log_beta, logprobs, NULL, target, T, V, S, blank);
  if (log_p) *log_p = lp;
  return lp == -INFINITY ? ASR_INFEASIBLE : ASR_OK;
}

/* ---- decoders */
ASRDEF asr_result asr_ctc_greedy_decode(int *tokens, int *n_tokens, double *score,
                                        int *frame_path, const asr_real *logprobs, int T, int V,
                                        int blank) {
  int t, k, n = 0, prev = -1;
  double sc = 0;
  asr_result r = asr__ctc_check_seq(logprobs, NULL, T, V, 0, blank);
  if (r != ASR_OK) return r;
  if (!tokens || !n_tokens) return ASR_ERR_INVALID_ARG;
  for (t = 0; t < T; t++) {
    const asr_real *y = logprobs + (size_t)t * V;
    int best = 0;
    for (k = 1; k < V; k++)
      if (y[k] > y[best]) best = k;          /* pi*_t = argmax_k y^t_k, first on ties */
    sc += y[best];
    if (frame_path) frame_path[t] = best;
    if (best != blank && best != prev) tokens[n++] = best;   /* B: merge, drop blanks */
    prev = best;
  }
  *n_tokens = n;
  if (score) *score = sc;
  return ASR_OK;
}

/* Prefix beam search. A prefix is a node of a tree (parent, token); the root is the
 * empty prefix. A hash map from (parent, token) to node makes every prefix one node, so
 * "is l+c in the beam?" is a node lookup. Each frame creates at most `beam` nodes, so
 * T*beam + 1 nodes suffice. */
typedef struct asr__ctc_node {
  int parent, token;
} asr__ctc_node;
typedef struct asr__ctc_hyp {
  int node, len, last;        /* last: the prefix's last token, -1 when empty */
  double pb, pnb;             /* ln p_b, ln p_nb (with the scorer's weighted terms) */
} asr__ctc_hyp;
typedef struct asr__ctc_cand {
  int from, token;            /* token -1: hypothesis `from` itself (its paths stay) */
  int node;                   /* the prefix's node, or -1 for an extension not yet made */
  int len, last;
  double pb, pnb, rank;
} asr__ctc_cand;

ASRDEF asr_ctc_beam_opts asr_ctc_beam_opts_default(int beam, int blank) {
  asr_ctc_beam_opts o;
  memset(&o, 0, sizeof o);
  o.beam = beam;
  o.nbest = 1;
  o.blank = blank;
  o.prune_logprob = -INFINITY;
  return o;
}

/* Slots of the node hash map: a power of two at least twice the number of nodes. */
ASR__PRIVATE size_t asr__ctc_hash_slots(size_t nodes) {
  size_t h = 16;
  while (h < 2 * nodes && h < ((size_t)-1 >> 2)) h <<= 1;
  return h;
}

ASR__PRIVATE size_t asr__ctc_beam_bytes(int T, int V, int beam, int *ovf) {
  size_t b = 64, BV = 0, nodes = 0;
  if (asr_size_mul((size_t)beam, (size_t)V, &BV) != ASR_OK) *ovf = 1;
  if (asr_size_mul((size_t)T, (size_t)beam, &nodes) != ASR_OK) *ovf = 1;
  nodes = asr__add_size(nodes, 1, ovf);
  b = asr__add_size(b, asr__piece(nodes, sizeof(asr__ctc_node), ovf), ovf);
  b = asr__add_size(b, asr__piece(asr__ctc_hash_slots(nodes), sizeof(int), ovf), ovf);
  b = asr__add_size(b, asr__piece(nodes, sizeof(int), ovf), ovf);            /* in_beam */
  b = asr__add_size(b, asr__piece(2 * (size_t)beam, sizeof(asr__ctc_hyp), ovf), ovf);
  b = asr__add_size(b, asr__piece(asr__add_size(BV, (size_t)beam, ovf), sizeof(asr__ctc_cand), ovf), ovf);
  b = asr__add_size(b, asr__piece((size_t)beam, sizeof(int), ovf), ovf);     /* top */
  b = asr__add_size(b, asr__piece((size_t)T + 1, sizeof(int), ovf), ovf);    /* prefix */
  return b;
}

ASRDEF size_t asr_ctc_beam_workspace_size(int T, int V, int beam) {
  int ovf = 0;
  size_t b;
  if (T < 0 || V < 1 || beam < 1) return (size_t)-1;
  b = asr__ctc_beam_bytes(T, V, beam, &ovf);
  return ovf ? (size_t)-1 : b;
}

/* Writes the tokens of `node` (len of them) into out, first token first. */
ASR__PRIVATE void asr__ctc_prefix(int *out, const asr__ctc_node *nodes, int node, int len) {
  while (len > 0) {
    out[--len] = nodes[node].token;
    node = nodes[node].parent;
  }
}

/* The slot of (parent, token) in the hash map: the node there, or an empty slot (-1). */
ASR__PRIVATE size_t asr__ctc_hash_find(const int *hash, size_t mask, const asr__ctc_node *nodes,
                                       int parent, int token) {
  size_t i = (((size_t)(unsigned)parent * 2654435761u) ^ ((size_t)(unsigned)token * 40503u)) & mask;
  while (hash[i] >= 0 && (nodes[hash[i]].parent != parent || nodes[hash[i]].token != token))
    i = (i + 1) & mask;
  return i;
}

ASRDEF asr_result asr_ctc_prefix_beam_search(int *tokens, int *n_tokens, double *scores,
                                             int *n_hyps, const asr_real *logprobs, int T,
                                             int V, const asr_ctc_beam_opts *opts, void *work,
                                             size_t work_bytes) {
  asr__arena ar;
  asr__ctc_node *nodes;
  asr__ctc_hyp *hyp, *nxt;
  asr__ctc_cand *cand;
  int *hash, *in_beam, *top, *prefix;
  int B, blank, nh, nn, t, h, c, i;
  size_t need, nslots, mask, max_nodes;
  int ovf = 0;
  asr_result r;
  if (!opts || opts->beam < 1 || opts->nbest < 1 || opts->nbest > opts->beam)
    return ASR_ERR_INVALID_ARG;
  B = opts->beam;
  blank = opts->blank;
  r = asr__ctc_check_seq(logprobs, NULL, T, V, 0, blank);
  if (r != ASR_OK) return r;
  if (!tokens || !n_tokens || !n_hyps) return ASR_ERR_INVALID_ARG;
  if (!isfinite(opts->lm_weight) || !isfinite(opts->insertion_bonus) ||
      opts->prune_logprob != opts->prune_logprob)
    return ASR_ERR_NONFINITE;
  need = asr__ctc_beam_bytes(T, V, B, &ovf);
  if (ovf || (size_t)T * B + 1 > (size_t)0x7fffffff) return ASR_ERR_TOO_LARGE;
  if (!work || work_bytes < need) return ASR_ERR_WORKSPACE;
  max_nodes = (size_t)T * B + 1;
  nslots = asr__ctc_hash_slots(max_nodes);
  mask = nslots - 1;
  asr__arena_init(&ar, work, work_bytes);
  nodes = (asr__ctc_node *)asr__arena_take(&ar, max_nodes, sizeof(asr__ctc_node));
  hash = (int *)asr__arena_take(&ar, nslots, sizeof(int));
  in_beam = (int *)asr__arena_take(&ar, max_nodes, sizeof(int));
  hyp = (asr__ctc_hyp *)asr__arena_take(&ar, 2 * (size_t)B, sizeof(asr__ctc_hyp));
  cand = (asr__ctc_cand *)asr__arena_take(&ar, (size_t)B * V + B, sizeof(asr__ctc_cand));
  top = (int *)asr__arena_take(&ar, (size_t)B, sizeof(int));
  prefix = (int *)asr__arena_take(&ar, (size_t)T + 1, sizeof(int));
  nxt = hyp + B;
  for (i = 0; i < (int)nslots; i++) hash[i] = -1;
  for (i = 0; i < (int)max_nodes; i++) in_beam[i] = -1;
  /* the empty prefix, all of whose (zero) paths "end in a blank": p_b = 1, p_nb = 0 */
  nodes[0].parent = -1;
  nodes[0].token = -1;
  nn = 1;
  hyp[0].node = 0;
  hyp[0].len = 0;
  hyp[0].last = -1;
  hyp[0].pb = 0;
  hyp[0].pnb = -INFINITY;
  nh = 1;
  for (t = 0; t < T; t++) {
    const asr_real *y = logprobs + (size_t)t * V;
    int nc = nh, ntop = 0, scored = -1;
    /* the hypotheses themselves come first: candidate h is prefix h after this frame */
    for (h = 0; h < nh; h++) {
      cand[h].from = h;
      cand[h].token = -1;
      cand[h].node = hyp[h].node;
      cand[h].len = hyp[h].len;
      cand[h].last = hyp[h].last;
      cand[h].pb = cand[h].pnb = -INFINITY;
      in_beam[hyp[h].node] = h;
    }
    for (h = 0; h < nh; h++) {
      const asr__ctc_hyp *hp = &hyp[h];
      double ptot = asr_logaddexp(hp->pb, hp->pnb);
      /* blank: every path of l may emit a blank and stay l, now ending in a blank */
      cand[h].pb = asr_logaddexp(cand[h].pb, ptot + y[blank]);
      /* repeating the last label: B merges it, l stays, still ending in that label */
      if (hp->len > 0) cand[h].pnb = asr_logaddexp(cand[h].pnb, hp->pnb + y[hp->last]);
      for (c = 0; c < V; c++) {
        double base, sc;
        size_t slot;
        int nd;
        if (c == blank || y[c] == -INFINITY || y[c] < opts->prune_logprob) continue;
        /* extending by the last label needs a blank in between: only p_b's paths can */
        base = c == hp->last ? hp->pb : ptot;
        if (base == -INFINITY) continue;
        sc = base + y[c];
        if (opts->scorer) {
          if (scored != h) {
            asr__ctc_prefix(prefix, nodes, hp->node, hp->len);
            scored = h;
          }
          sc += opts->lm_weight * opts->scorer(opts->scorer_user, prefix, hp->len, c);
        }
        slot = asr__ctc_hash_find(hash, mask, nodes, hp->node, c);
        nd = hash[slot];
        if (nd >= 0 && in_beam[nd] >= 0) {
          /* l+c is already a hypothesis: its paths and these are one prefix, so add */
          cand[in_beam[nd]].pnb = asr_logaddexp(cand[in_beam[nd]].pnb, sc);
        } else {
          asr__ctc_cand *cd = &cand[nc++];
          cd->from = h;
          cd->token = c;
          cd->node = nd;       /* a node made at an earlier frame, or -1 */
          cd->len = hp->len + 1;
          cd->last = c;
          cd->pb = -INFINITY;
          cd->pnb = sc;
        }
      }
    }
    for (h = 0; h < nh; h++) in_beam[hyp[h].node] = -1;
    /* rank ln(p_b + p_nb) + bonus |l| and keep the best B (the first seen wins ties) */
    for (i = 0; i < nc; i++) {
      int pos;
      cand[i].rank = asr_logaddexp(cand[i].pb, cand[i].pnb) + opts->insertion_bonus * cand[i].len;
      if (cand[i].rank != cand[i].rank || cand[i].rank == -INFINITY) continue;
      if (ntop == B && !(cand[i].rank > cand[top[B - 1]].rank)) continue;
      pos = ntop < B ? ntop++ : B - 1;
      while (pos > 0 && cand[top[pos - 1]].rank < cand[i].rank) {
        top[pos] = top[pos - 1];
        pos--;
      }
      top[pos] = i;
    }
    for (i = 0; i < ntop; i++) {
      const asr__ctc_cand *cd = &cand[top[i]];
      asr__ctc_hyp *nx = &nxt[i];
      nx->node = cd->node;
      if (nx->node < 0) {
        /* a new prefix: its node, registered under (parent, token) */
        size_t slot = asr__ctc_hash_find(hash, mask, nodes, hyp[cd->from].node, cd->token);
        nodes[nn].parent = hyp[cd->from].node;
        nodes[nn].token = cd->token;
        hash[slot] = nn;
        nx->node = nn++;
      }
      nx->len = cd->len;
      nx->last = cd->last;
      nx->pb = cd->pb;
      nx->pnb = cd->pnb;
    }
    nh = ntop;
    {
      asr__ctc_hyp *tmp = hyp;
      hyp = nxt;
      nxt = tmp;
    }
    if (nh == 0) break;   /* every label pruned and the blank impossible: nothing left */
  }
  /* the beam is sorted by rank after every frame; with T = 0 it holds the empty prefix */
  *n_hyps = nh < opts->nbest ? nh : opts->nbest;
  for (i = 0; i < *n_hyps; i++) {
    asr__ctc_prefix(tokens + (size_t)i * T, nodes, hyp[i].node, hyp[i].len);
    n_tokens[i] = hyp[i].len;
    if (scores) scores[i] = asr_logaddexp(hyp[i].pb, hyp[i].pnb) + opts->insertion_bonus * hyp[i].len;
  }
  return nh == 0 ? ASR_INFEASIBLE : ASR_OK;
}

ASRDEF size_t asr_ctc_align_workspace_size(int T, int S) {
  int ovf = 0;
  size_t L = 2 * (size_t)S + 1, TL = 0, b = 64;
  if (T < 0 || S < 0) return (size_t)-1;
  if (asr_size_mul((size_t)T, L, &TL) != ASR_OK) return (size_t)-1;
  b = asr__add_size(b, asr__piece(2 * L, sizeof(double), &ovf), &ovf);
  b = asr__add_size(b, asr__piece(TL, 1, &ovf), &ovf);
  return ovf ? (size_t)-1 : b;
}

ASRDEF asr_result asr_ctc_align(int *frame_labels, int *frame_states, double *score,
                                const asr_real *logprobs, const int *target, int T, int V,
                                int S, int blank, void *work, size_t work_bytes) {
  const int L = 2 * S + 1;
  asr__arena ar;
  double *d0, *d1, best;
  unsigned char *bp;
  int t, s, end;
  size_t need;
  asr_result r = asr__ctc_check_seq(logprobs, target, T, V, S, blank);
  if (r != ASR_OK) return r;
  if (!frame_labels && T > 0) return ASR_ERR_INVALID_ARG;
  need = asr_ctc_align_workspace_size(T, S);
  if (need == (size_t)-1) return ASR_ERR_TOO_LARGE;
  if (!work || work_bytes < need) return ASR_ERR_WORKSPACE;
  asr__arena_init(&ar, work, work_bytes);
  d0 = (double *)asr__arena_take(&ar, 2 * (size_t)L, sizeof(double));
  d1 = d0 + L;
  bp = (unsigned char *)asr__arena_take(&ar, (size_t)T * L, 1);
  if (T == 0) {
    if (score) *score = S == 0 ? 0.0 : -INFINITY;
    return S == 0 ? ASR_OK : ASR_INFEASIBLE;
  }
  /* delta_1: the same two starting states as alpha */
  for (s = 0; s < L; s++) d0[s] = -INFINITY;
  d0[0] = logprobs[blank];
  if (S > 0) d0[1] = logprobs[target[0]];
  for (t = 1; t < T; t++) {
    const asr_real *y = logprobs + (size_t)t * V;
    for (s = 0; s < L; s++) {
      int k = ASR__CTC_LABEL(target, s, blank);
      double m = d0[s];
      unsigned char from = 0;
      if (s >= 1 && d0[s - 1] > m) {
        m = d0[s - 1];
        from = 1;
      }
      if (s >= 2 && k != blank && k != ASR__CTC_LABEL(target, s - 2, blank) && d0[s - 2] > m) {
        m = d0[s - 2];
        from = 2;
      }
      d1[s] = m + y[k];                       /* max over the transitions eq. (6) allows */
      bp[(size_t)t * L + s] = from;
    }
    {
      double *tmp = d0;
      d0 = d1;
      d1 = tmp;
    }
  }
  end = L - 1;
  best = d0[L - 1];
  if (S > 0 && d0[L - 2] > best) {
    best = d0[L - 2];
    end = L - 2;
  }
  if (score) *score = best;
  if (best == -INFINITY) {
    for (t = 0; t < T; t++) {
      frame_labels[t] = blank;
      if (frame_states) frame_states[t] = -1;
    }
    return ASR_INFEASIBLE;
  }
  for (t = T - 1, s = end; t >= 0; t--) {
    frame_labels[t] = ASR__CTC_LABEL(target, s, blank);
    if (frame_states) frame_states[t] = s;
    if (t > 0) s -= bp[(size_t)t * L + s];
  }
  return ASR_OK;
}

ASRDEF int asr_ctc_token_spans(int *tokens, int *starts, int *ends, const int *frame_path,
                               int T, int blank) {
  int t, n = 0;
  for (t = 0; t < T; t++) {
    int c = frame_path[t];
    if (c == blank) continue;
    if (t > 0 && frame_path[t - 1] == c) {
      if (ends) ends[n - 1] = t;    /* the run of c goes on: same token */
      continue;
    }
    if (tokens) tokens[n] = c;
    if (starts) starts[n] = t;
    if (ends) ends[n] = t;
    n++;
  }
  return n;
}

/* ---- the fast path (AVX2+FMA, float build).
 * The same recursions as _ref, rearranged for 8 states per instruction:
 *   - the blank states of l' (even s, S+1 of them) and the label states (odd s, S of
 *     them) live in two rows, blank j = state 2j and label j = state 2j+1, so that every
 *     predecessor is the same index or the one before it:
 *       blank_t(j) = lse(blank_{t-1}(j), label_{t-1}(j-1))                 + ln y^t_b
 *       label_t(j) = lse(label_{t-1}(j), blank_{t-1}(j), label_{t-1}(j-1) [if l_j != l_{j-1}])
 *                                                                          + ln y^t_{l_j}
 *     and beta mirrored; rows are padded to a multiple of 8 with -inf around them, so no
 *     scalar tail is needed (a -inf state stays -inf);
 *   - alpha and beta are kept in double (they reach -10^4 and must not lose the 1e-7
 *     that matters in alpha + beta - ln p); only the log-sum-exp correction, a number in
 *     [0, ln 3] computed from differences <= 0, is evaluated in float with
 *     asr__exp_avx2 / asr__log_avx2: each step adds an error of about 1e-7 absolute in
 *     ln alpha, i.e. 1e-7 relative in alpha, whatever the magnitudes. The largest term
 *     is e^0 = 1 exactly, so lse(a,b,c) = max + ln(1 + e^(mid-max) + e^(min-max)) takes
 *     two exponentials, lse(a,b) one;
 *   - only the band of states that lie on a complete path is computed: at frame t (of
 *     T_n) label j needs t >= j (it must be reached) and T_n - 1 - t >= S_n - 1 - j (the
 *     rest must fit), the paper's remark after eq. (8) ("alpha_t(s) = 0 for
 *     s < |l'| - 2(T - t) - 1") and its mirror for beta; the states outside it are set
 *     to -inf, which changes neither p(l|x) nor the gradient (their alpha*beta is 0);
 *   - beta is kept for two frames only: the gradient of frame t is made as soon as
 *     beta_t is known, from the stored alpha_t.
 * Like _ref, beta includes the emission of frame t (the paper's beta). */
#if ASR__CTC_FAST_TIER == 2
/* Inlined in the hot loops (the call overhead is a third of the work otherwise). */
#if defined(__GNUC__) || defined(__clang__)
#define ASR__CTC_INLINE static inline __attribute__((always_inline, unused))
#else
#define ASR__CTC_INLINE static inline
#endif
/* e^x for x <= 0 (or -inf): asr__exp_avx2 without the overflow and NaN cases, which
 * cannot occur here; below ln(2^-126) it gives 0, so e^-inf = 0. */
ASR__CTC_INLINE __m256 asr__ctc_exp_le0(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654475f);
  __m256 xc = _mm256_max_ps(x, lo), p, r;
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  /* n in [-126, 0]: 2^n is one normal float */
  p = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(
                           _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23)));
  return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), p);
}
/* ln x for x in [1, 3] (1 + at most two exponentials of numbers <= 0): asr__log_avx2
 * without its zero, negative, infinite and subnormal cases. */
ASR__CTC_INLINE __m256 asr__ctc_log_1to3(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256i bits = _mm256_castps_si256(x);
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                                 _mm256_set1_epi32(0x3f800000)));
  __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ), z, z2, p;
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_add_ps(e, _mm256_and_ps(big, one));
  z = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  z2 = _mm256_mul_ps(z, z);
  p = _mm256_set1_ps(1.0f / 9);
  p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(1.0f / 7));
  p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(1.0f / 5));
  p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(1.0f / 3));
  p = _mm256_mul_ps(p, z2);
  z = _mm256_add_ps(z, z);
  return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693147181f), _mm256_fmadd_ps(z, p, z));
}

/* 8 doubles -> 8 floats and back */
ASR__CTC_INLINE __m256 asr__ctc_to_f8(__m256d lo, __m256d hi) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
}
ASR__CTC_INLINE double asr__ctc_hsum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* out[0..8) = m + ln(1 + sum of e^(d - m) over the other terms) + e, with m the largest
 * of the (two or three) terms; -inf when they all are. lo/mid: the other terms. */
ASR__CTC_INLINE void asr__ctc_lse_tail(double *out, __m256d m0, __m256d m1, __m256d d0, __m256d d1, __m256d mid0,
                                    __m256d mid1, int have_mid, __m256d e0, __m256d e1) {
  const __m256d ninf = _mm256_set1_pd(-INFINITY);
  __m256d dead0 = _mm256_cmp_pd(m0, ninf, _CMP_EQ_OQ), dead1 = _mm256_cmp_pd(m1, ninf, _CMP_EQ_OQ);
  __m256 s, lf;
  __m256d l0, l1;
  /* where all are -inf, subtract 0 instead (the result is replaced by -inf below) */
  m0 = _mm256_blendv_pd(m0, _mm256_setzero_pd(), dead0);
  m1 = _mm256_blendv_pd(m1, _mm256_setzero_pd(), dead1);
  s = _mm256_add_ps(_mm256_set1_ps(1.0f),
                    asr__ctc_exp_le0(asr__ctc_to_f8(_mm256_sub_pd(d0, m0), _mm256_sub_pd(d1, m1))));
  if (have_mid)
    s = _mm256_add_ps(s, asr__ctc_exp_le0(asr__ctc_to_f8(_mm256_sub_pd(mid0, m0), _mm256_sub_pd(mid1, m1))));
  lf = asr__ctc_log_1to3(s);
  l0 = _mm256_add_pd(_mm256_add_pd(m0, _mm256_cvtps_pd(_mm256_castps256_ps128(lf))), e0);
  l1 = _mm256_add_pd(_mm256_add_pd(m1, _mm256_cvtps_pd(_mm256_extractf128_ps(lf, 1))), e1);
  _mm256_storeu_pd(out, _mm256_blendv_pd(l0, ninf, dead0));
  _mm256_storeu_pd(out + 4, _mm256_blendv_pd(l1, ninf, dead1));
}

/* out = ln(e^a + e^b) + e for 8 states (e: 8 values, or one for all when e == NULL) */
ASR__CTC_INLINE void asr__ctc_lse2_8(double *out, const double *a, const double *b, const double *e, __m256d e_all) {
  __m256d a0 = _mm256_loadu_pd(a), a1 = _mm256_loadu_pd(a + 4);
  __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
  asr__ctc_lse_tail(out, _mm256_max_pd(a0, b0), _mm256_max_pd(a1, b1), _mm256_min_pd(a0, b0), _mm256_min_pd(a1, b1),
                    a0, a1, 0, e ? _mm256_loadu_pd(e) : e_all, e ? _mm256_loadu_pd(e + 4) : e_all);
}

/* out = ln(e^a + e^b + e^(c + cadd)) + e for 8 states; cadd is 0 or -inf (a skip) */
ASR__CTC_INLINE void asr__ctc_lse3_8(double *out, const double *a, const double *b, const double *c,
                                  const double *cadd, const double *e) {
  __m256d a0 = _mm256_loadu_pd(a), a1 = _mm256_loadu_pd(a + 4);
  __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
  __m256d c0 = _mm256_add_pd(_mm256_loadu_pd(c), _mm256_loadu_pd(cadd));
  __m256d c1 = _mm256_add_pd(_mm256_loadu_pd(c + 4), _mm256_loadu_pd(cadd + 4));
  __m256d hi0 = _mm256_max_pd(a0, b0), hi1 = _mm256_max_pd(a1, b1);
  __m256d lo0 = _mm256_min_pd(a0, b0), lo1 = _mm256_min_pd(a1, b1);
  /* max, min and the middle one of (a, b, c) */
  __m256d m0 = _mm256_max_pd(hi0, c0), m1 = _mm256_max_pd(hi1, c1);
  __m256d mid0 = _mm256_max_pd(lo0, _mm256_min_pd(hi0, c0)), mid1 = _mm256_max_pd(lo1, _mm256_min_pd(hi1, c1));
  __m256d mn0 = _mm256_min_pd(lo0, c0), mn1 = _mm256_min_pd(lo1, c1);
  asr__ctc_lse_tail(out, m0, m1, mn0, mn1, mid0, mid1, 1, _mm256_loadu_pd(e), _mm256_loadu_pd(e + 4));
}

/* e^(a + b - e - lp) of 8 states, 0 where that is NaN (a state no path reaches whose
 * emission is -inf); returns them as two vectors of doubles */
ASR__CTC_INLINE void asr__ctc_post8(__m256d *g0, __m256d *g1, const double *a, const double *b,
                                 const double *e, __m256d e_all, __m256d lp) {
  __m256d v0 = _mm256_add_pd(_mm256_loadu_pd(a), _mm256_loadu_pd(b));
  __m256d v1 = _mm256_add_pd(_mm256_loadu_pd(a + 4), _mm256_loadu_pd(b + 4));
  __m256 f;
  v0 = _mm256_sub_pd(v0, _mm256_add_pd(e ? _mm256_loadu_pd(e) : e_all, lp));
  v1 = _mm256_sub_pd(v1, _mm256_add_pd(e ? _mm256_loadu_pd(e + 4) : e_all, lp));
  /* NaN compares false, so NaN lanes become 0; the rest are <= 0 up to rounding */
  f = asr__ctc_to_f8(v0, v1);
  f = _mm256_and_ps(asr__ctc_exp_le0(_mm256_min_ps(f, _mm256_setzero_ps())), _mm256_cmp_ps(f, f, _CMP_ORD_Q));
  *g0 = _mm256_cvtps_pd(_mm256_castps256_ps128(f));
  *g1 = _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1));
}

ASR__PRIVATE void asr__ctc_fill(double *p, ptrdiff_t n, double v) {
  ptrdiff_t i;
  for (i = 0; i < n; i++) p[i] = v;
}

/* lse (T): ln sum_k e^{u^t_k} per frame, 8 logits at a time (float exponentials of
 * x - max, summed in double). An error here is the same for every path through the
 * frame, so it moves the loss by about 1e-7 per frame and the posteriors not at all. */
ASR__PRIVATE void asr__ctc_frame_lse_fast(double *lse, const asr_real *x, int T, int V) {
  int t, k;
  for (t = 0; t < T; t++) {
    const asr_real *row = x + (size_t)t * V;
    float m = row[0];
    double s = 0;
    k = 0;
    if (V >= 8) {
      __m256 vm = _mm256_loadu_ps(row), vs = _mm256_setzero_ps();
      __m128 h;
      for (k = 8; k + 8 <= V; k += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(row + k));
      h = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
      h = _mm_max_ps(h, _mm_movehl_ps(h, h));
      h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
      m = _mm_cvtss_f32(h);
      for (; k < V; k++) m = row[k] > m ? row[k] : m;
      vm = _mm256_set1_ps(m);
      for (k = 0; k + 8 <= V; k += 8) vs = _mm256_add_ps(vs, asr__exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(row + k), vm)));
      s = asr__ctc_hsum(_mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(vs)),
                                      _mm256_cvtps_pd(_mm256_extractf128_ps(vs, 1))));
    } else {
      for (k = 1; k < V; k++) m = row[k] > m ? row[k] : m;
      k = 0;
    }
    for (; k < V; k++) s += exp((double)row[k] - m);
    lse[t] = m + log(s);
  }
}

/* The emissions of the label states at frame t: el[j] = ln y^t_{l_j} for j < S, by a
 * gather of 8 labels at a time (lab is padded with valid indices up to J). */
ASR__CTC_INLINE void asr__ctc_emit_labels(double *el, const asr_real *xt, const double *lse_t, const int *lab, int S,
                                       int J) {
  const __m256d sub = _mm256_set1_pd(lse_t ? *lse_t : 0.0);
  int j;
  for (j = 0; j < J; j += 8) {
    __m256 v = _mm256_i32gather_ps(xt, _mm256_loadu_si256((const __m256i *)(lab + j)), 4);
    _mm256_storeu_pd(el + j, _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), sub));
    _mm256_storeu_pd(el + j + 4, _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), sub));
  }
  for (j = S; j < J; j++) el[j] = -INFINITY;      /* padding emits nothing */
}

ASR__PRIVATE double asr__ctc_item_fast(asr_real *g, double scale, const asr_real *x,
                                       const double *lse, const int *l, int Tn, int V, int Sn,
                                       int blank, asr__arena *ar) {
  const int J = (Sn + 1 + 7) & ~7;          /* states per row, a multiple of 8 */
  const size_t R = (size_t)J + 16;          /* row: 8 -inf, J states, 8 -inf */
  double *ab, *al, *rows, *occ, *bb[2], *bl[2], *el, *skip, *gl;
  int *lab;
  double logp, eb;
  int t, j, k, cur = 0;
  if (Tn == 0) return Sn == 0 ? 0.0 : INFINITY;   /* no frames: only the empty labelling */
  ab = (double *)asr__arena_take(ar, (size_t)Tn * R, sizeof(double));
  al = (double *)asr__arena_take(ar, (size_t)Tn * R, sizeof(double));
  rows = (double *)asr__arena_take(ar, 8 * R, sizeof(double));
  occ = (double *)asr__arena_take(ar, (size_t)V, sizeof(double));
  bb[0] = rows + 8;
  bl[0] = rows + R + 8;
  bb[1] = rows + 2 * R + 8;
  bl[1] = rows + 3 * R + 8;
  el = rows + 4 * R + 8;
  skip = rows + 5 * R + 8;
  gl = rows + 6 * R + 8;
  lab = (int *)(rows + 7 * R);               /* J ints fit in R doubles */
  for (j = 0; j < J; j++) lab[j] = j < Sn ? l[j] : blank;
  /* skip[j] = 0 when label j may be entered from label j-1 (they differ), else -inf */
  asr__ctc_fill(skip - 8, (ptrdiff_t)R, -INFINITY);
  for (j = 1; j < Sn; j++) skip[j] = l[j] != l[j - 1] ? 0.0 : -INFINITY;
  asr__ctc_fill(el - 8, (ptrdiff_t)R, -INFINITY);
  /* alpha at t = 0: the first blank or the first label */
  asr__ctc_fill(ab, (ptrdiff_t)R, -INFINITY);
  asr__ctc_fill(al, (ptrdiff_t)R, -INFINITY);
  ab[8] = ASR__CTC_EMIT(x, lse, V, 0, blank);
  if (Sn > 0) al[8] = ASR__CTC_EMIT(x, lse, V, 0, l[0]);
  for (t = 1; t < Tn; t++) {
    const double *pb = ab + (size_t)(t - 1) * R + 8, *pl = al + (size_t)(t - 1) * R + 8;
    double *cb = ab + (size_t)t * R + 8, *cl = al + (size_t)t * R + 8;
    /* the band: t >= j and T_n - 1 - t >= S_n - 1 - j, in whole chunks of 8 */
    int lo = Sn - Tn + t, hi = t < Sn ? t : Sn, c0, c1;
    __m256d veb;
    lo = lo < 0 ? 0 : lo;
    c0 = lo & ~7;
    c1 = lo > hi ? c0 : ((hi >> 3) + 1) << 3;
    eb = ASR__CTC_EMIT(x, lse, V, t, blank);
    veb = _mm256_set1_pd(eb);
    asr__ctc_emit_labels(el, x + (size_t)t * V, lse ? lse + t : NULL, lab, Sn, J);
    asr__ctc_fill(cb - 8, 8 + c0, -INFINITY);
    asr__ctc_fill(cl - 8, 8 + c0, -INFINITY);
    asr__ctc_fill(cb + c1, J + 8 - c1, -INFINITY);
    asr__ctc_fill(cl + c1, J + 8 - c1, -INFINITY);
    for (j = c0; j < c1; j += 8) {
      asr__ctc_lse2_8(cb + j, pb + j, pl + j - 1, NULL, veb);
      asr__ctc_lse3_8(cl + j, pl + j, pb + j, pl + j - 1, skip + j, el + j);
    }
  }
  logp = asr_logaddexp(ab[(size_t)(Tn - 1) * R + 8 + Sn],
                       Sn > 0 ? al[(size_t)(Tn - 1) * R + 8 + Sn - 1] : -INFINITY);
  if (logp == -INFINITY) return INFINITY;
  if (!g) return -logp;
  asr__ctc_fill(bb[0] - 8, (ptrdiff_t)R, -INFINITY);
  asr__ctc_fill(bl[0] - 8, (ptrdiff_t)R, -INFINITY);
  for (t = Tn - 1; t >= 0; t--) {
    const double *a_b = ab + (size_t)t * R + 8, *a_l = al + (size_t)t * R + 8;
    asr_real *gt = g + (size_t)t * V;
    int lo = Sn - Tn + t, hi = t < Sn ? t : Sn, c0, c1;
    __m256d veb, acc = _mm256_setzero_pd(), vlp = _mm256_set1_pd(logp);
    lo = lo < 0 ? 0 : lo;
    c0 = lo & ~7;
    c1 = lo > hi ? c0 : ((hi >> 3) + 1) << 3;
    eb = ASR__CTC_EMIT(x, lse, V, t, blank);
    veb = _mm256_set1_pd(eb);
    asr__ctc_emit_labels(el, x + (size_t)t * V, lse ? lse + t : NULL, lab, Sn, J);
    if (t == Tn - 1) {
      /* beta at T-1: the last blank or the last label */
      bb[cur][Sn] = eb;
      if (Sn > 0) bl[cur][Sn - 1] = el[Sn - 1];
    } else {
      const double *nb = bb[cur], *nl = bl[cur];
      cur ^= 1;
      asr__ctc_fill(bb[cur] - 8, 8 + c0, -INFINITY);
      asr__ctc_fill(bl[cur] - 8, 8 + c0, -INFINITY);
      asr__ctc_fill(bb[cur] + c1, J + 8 - c1, -INFINITY);
      asr__ctc_fill(bl[cur] + c1, J + 8 - c1, -INFINITY);
      for (j = c0; j < c1; j += 8) {
        asr__ctc_lse2_8(bb[cur] + j, nb + j, nl + j, NULL, veb);
        asr__ctc_lse3_8(bl[cur] + j, nl + j, nb + j + 1, nl + j + 1, skip + j + 1, el + j);
      }
    }
    /* posteriors: blank j and label j, e^(alpha + beta - emission - ln p) */
    for (k = 0; k < V; k++) occ[k] = 0;
    for (j = c0; j < c1; j += 8) {
      __m256d g0, g1;
      asr__ctc_post8(&g0, &g1, a_b + j, bb[cur] + j, NULL, veb, vlp);
      acc = _mm256_add_pd(acc, _mm256_add_pd(g0, g1));
      asr__ctc_post8(&g0, &g1, a_l + j, bl[cur] + j, el + j, veb, vlp);
      _mm256_storeu_pd(gl + j, g0);
      _mm256_storeu_pd(gl + j + 4, g1);
    }
    occ[blank] = asr__ctc_hsum(acc);
    for (j = c0; j < c1 && j < Sn; j++) occ[l[j]] += gl[j];
    /* the gradient of frame t: y - gamma (logits) or -gamma (log-probabilities) */
    k = 0;
    if (lse) {
      const asr_real *xt = x + (size_t)t * V;
      __m256d vl = _mm256_set1_pd(lse[t]), vs = _mm256_set1_pd(scale);
      for (; k + 8 <= V; k += 8) {
        __m256 xf = _mm256_loadu_ps(xt + k), y;
        __m256d y0, y1;
        y = asr__exp_avx2(asr__ctc_to_f8(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(xf)), vl),
                                         _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(xf, 1)), vl)));
        y0 = _mm256_mul_pd(vs, _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(y)), _mm256_loadu_pd(occ + k)));
        y1 = _mm256_mul_pd(vs, _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(y, 1)), _mm256_loadu_pd(occ + k + 4)));
        _mm256_storeu_ps(gt + k, _mm256_add_ps(_mm256_loadu_ps(gt + k), asr__ctc_to_f8(y0, y1)));
      }
      for (; k < V; k++) gt[k] += (asr_real)(scale * (exp(ASR__CTC_EMIT(x, lse, V, t, k)) - occ[k]));
    } else {
      for (; k < V; k++) gt[k] += (asr_real)(scale * -occ[k]);
    }
  }
  return -logp;
}
#else
ASR__PRIVATE double asr__ctc_item_fast(asr_real *g, double scale, const asr_real *x,
                                       const double *lse, const int *l, int Tn, int V, int Sn,
                                       int blank, asr__arena *ar) {
  /* never called: ASR__CTC_FAST_TIER is 1 in this build */
  (void)g, (void)scale, (void)x, (void)lse, (void)l, (void)Tn, (void)V, (void)Sn, (void)blank, (void)ar;
  return INFINITY;
}
ASR__PRIVATE void asr__ctc_frame_lse_fast(double *lse, const asr_real *x, int T, int V) {
  asr__ctc_frame_lse(lse, x, T, V);
}
#endif

/* ========================================================================================
 * 6. RNN-T (implementation)
 * ======================================================================================== */

/* ---- 6.1 Options, workspace, the lattice (implementation) */
ASRDEF asr_rnnt_opts asr_rnnt_default_opts(void) {
  asr_rnnt_opts o;
  o.blank = 0;
  o.clamp = -1;
  o.reduction = ASR_REDUCTION_MEAN;
  return o;
}

ASRDEF size_t asr_rnnt_loss_workspace_size(int T, int U, int V) {
  size_t nodes, bytes, ints;
  (void)V;
  if (T < 0 || U < 0) return (size_t)-1;
  /* five (T,U+1) double arrays: log_blank, log_label, log_norm, log_alpha, log_beta
   * (_naive uses three of them for its path weights) + (T+2U+2) ints for _naive's path */
  if (asr_size_mul((size_t)T, (size_t)U + 1, &nodes) != ASR_OK) return (size_t)-1;
  if (asr_size_mul(nodes, 5 * sizeof(double), &bytes) != ASR_OK) return (size_t)-1;
  ints = ((size_t)T + 2 * (size_t)U + 2) * sizeof(int);
  if (bytes + ints < bytes) return (size_t)-1;
  return bytes + ints + 64;   /* + slack for alignment */
}

/* log Pr(k|t,u) = z_k - log sum_j exp(z_j), eq. (13) in log space, for one node (V). */
ASR__PRIVATE double asr__rnnt_node_lse(const asr_real *z, int V) {
  double m = -INFINITY, s = 0;
  int k;
  for (k = 0; k < V; k++)
    if (z[k] > m) m = z[k];
  for (k = 0; k < V; k++) s += exp((double)z[k] - m);   /* every term in (0,1]: no overflow */
  return m + log(s);
}

ASRDEF void asr_rnnt_lattice(double *log_blank, double *log_label, double *log_norm,
                             const asr_real *logits, const int *labels, int T, int U,
                             int u_stride, int V, int blank) {
  int t, u;
  for (t = 0; t < T; t++)
    for (u = 0; u <= U; u++) {
      const asr_real *z = logits + ((size_t)t * u_stride + u) * V;
      size_t n = (size_t)t * (U + 1) + u;
      double lse = asr__rnnt_node_lse(z, V);                  /* eq. (13)'s denominator */
      if (log_norm) log_norm[n] = lse;
      log_blank[n] = (double)z[blank] - lse;                  /* eq. (15) */
      log_label[n] = u < U ? (double)z[labels[u]] - lse       /* eq. (14): y_{u+1} is labels[u] */
                           : -INFINITY;                       /* no label after the last */
    }
}

ASRDEF double asr_rnnt_alpha(double *log_alpha, const double *log_blank, const double *log_label,
                             int T, int U) {
  const int W = U + 1;   /* lattice row length */
  int t, u;
  for (t = 0; t < T; t++)
    for (u = 0; u <= U; u++) {
      double a;
      if (t == 0 && u == 0) {
        a = 0;                                                 /* alpha(1,0) = 1 */
      } else {
        /* eq. (16): arrive from the left by a blank, or from below by label y_u */
        double from_left = t > 0 ? log_alpha[(t - 1) * W + u] + log_blank[(t - 1) * W + u] : -INFINITY;
        double from_below = u > 0 ? log_alpha[t * W + u - 1] + log_label[t * W + u - 1] : -INFINITY;
        a = asr_logaddexp(from_left, from_below);
      }
      log_alpha[t * W + u] = a;
    }
  /* eq. (17): the last step of every alignment is the blank at (T,U) */
  return log_alpha[(T - 1) * W + U] + log_blank[(T - 1) * W + U];
}

ASRDEF double asr_rnnt_beta(double *log_beta, const double *log_blank, const double *log_label,
                            int T, int U) {
  const int W = U + 1;
  int t, u;
  for (t = T - 1; t >= 0; t--)
    for (u = U; u >= 0; u--) {
      double b;
      if (t == T - 1 && u == U) {
        b = log_blank[t * W + u];                              /* beta(T,U) = 0(T,U) */
      } else {
        /* eq. (18): leave by a blank to the right, or by label y_{u+1} upwards. A blank
         * from the last frame with labels still owed leaves the lattice: probability 0. */
        double right = t + 1 < T ? log_beta[(t + 1) * W + u] + log_blank[t * W + u] : -INFINITY;
        double up = u < U ? log_beta[t * W + u + 1] + log_label[t * W + u] : -INFINITY;
        b = asr_logaddexp(right, up);
      }
      log_beta[t * W + u] = b;
    }
  return log_beta[0];                                          /* beta(1,0) = Pr(y*|x) */
}

/* ---- 6.2 The loss (implementation) */

/* Checks every argument before anything is written. Returns the blank index in *blank. */
ASR__PRIVATE asr_result asr__rnnt_check(const asr_real *loss, const asr_real *logits, const int *targets,
                                        const int *logit_lengths, const int *target_lengths, int N,
                                        int T, int U, int V, const asr_rnnt_opts *opts, int check_finite,
                                        void *work, size_t work_bytes, int *blank, asr_error *err) {
  int b, i, t, u;
  if (!loss || !opts || !logit_lengths || !target_lengths || (!logits && N > 0 && T > 0))
    return asr__fail(err, ASR_ERR_INVALID_ARG, "rnnt: a required pointer is NULL");
  if (N < 0 || T < 0 || U < 0 || V < 1)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "rnnt: sizes N=%d T=%d U=%d V=%d are invalid", N, T, U, V);
  if (opts->reduction != ASR_REDUCTION_NONE && opts->reduction != ASR_REDUCTION_SUM && opts->reduction != ASR_REDUCTION_MEAN)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "rnnt: unknown reduction %d", (int)opts->reduction);
  if (opts->clamp != opts->clamp)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "rnnt: clamp is NaN");
  *blank = opts->blank < 0 ? V + opts->blank : opts->blank;
  if (*blank < 0 || *blank >= V)
    return asr__fail(err, ASR_ERR_RANGE, "rnnt: blank %d is outside 0..%d", opts->blank, V - 1);
  if (work_bytes < asr_rnnt_loss_workspace_size(T, U, V) || (!work && work_bytes))
    return asr__fail(err, ASR_ERR_WORKSPACE, "rnnt: workspace of %lu bytes, %lu needed",
                     (unsigned long)work_bytes, (unsigned long)asr_rnnt_loss_workspace_size(T, U, V));
  for (b = 0; b < N; b++) {
    int Tb = logit_lengths[b], Ub = target_lengths[b];
    if (Tb < 0 || Tb > T)
      return asr__fail(err, ASR_ERR_RANGE, "rnnt: logit_lengths[%d] = %d is outside 0..%d", b, Tb, T);
    if (Ub < 0 || Ub > U)
      return asr__fail(err, ASR_ERR_RANGE, "rnnt: target_lengths[%d] = %d is outside 0..%d", b, Ub, U);
    if (Tb == 0 && Ub > 0)
      return asr__fail(err, ASR_ERR_RANGE,
                       "rnnt: item %d has %d target labels but no frames (logit_lengths[%d] = 0)", b, Ub, b);
    if (Ub > 0 && !targets) return asr__fail(err, ASR_ERR_INVALID_ARG, "rnnt: targets is NULL");
    for (i = 0; i < Ub; i++) {
      int y = targets[(size_t)b * U + i];
      if (y < 0 || y >= V)
        return asr__fail(err, ASR_ERR_RANGE, "rnnt: targets[%d][%d] = %d is outside 0..%d", b, i, y, V - 1);
      if (y == *blank)
        return asr__fail(err, ASR_ERR_RANGE, "rnnt: targets[%d][%d] = %d is the blank", b, i, y);
    }
    if (check_finite)
      for (t = 0; t < Tb; t++)
        for (u = 0; u <= Ub; u++) {
          const asr_real *z = logits + (((size_t)b * T + t) * (U + 1) + u) * V;
          if (!asr_all_finite(z, (size_t)V))
            return asr__fail(err, ASR_ERR_NONFINITE, "rnnt: logits[%d][%d][%d] holds NaN or inf", b, t, u);
        }
  }
  return ASR_OK;
}

/* Carves the workspace into five (T,U+1) double arrays and (T+2U+2) ints. */
ASR__PRIVATE void asr__rnnt_carve(void *work, int T, int U, double **a, int **ints) {
  size_t nodes = (size_t)T * (U + 1);
  uintptr_t p = ((uintptr_t)work + 63u) & ~(uintptr_t)63u;   /* 64-byte aligned */
  int i;
  for (i = 0; i < 5; i++) a[i] = (double *)p + (size_t)i * nodes;
  *ints = (int *)((double *)p + 5 * nodes);
}

/* clamp (when > 0), then scale: torchaudio clamps the item's gradient inside the kernel and
 * autograd multiplies by the reduction's factor afterwards. */
ASR__PRIVATE asr_real asr__rnnt_clamp_scale(double g, double clamp, double scale) {
  if (clamp > 0) g = g > clamp ? clamp : (g < -clamp ? -clamp : g);
  return (asr_real)(g * scale);
}

/* Zeroes the padded part of one item's gradient: u > Ub in the valid rows, and t >= Tb. */
ASR__PRIVATE void asr__rnnt_zero_padding(asr_real *g, int Tb, int Ub, int T, int U, int V) {
  int t;
  for (t = 0; t < Tb; t++)
    if (Ub < U)
      memset(g + ((size_t)t * (U + 1) + Ub + 1) * V, 0, sizeof(asr_real) * (size_t)(U - Ub) * V);
  if (Tb < T) memset(g + (size_t)Tb * (U + 1) * V, 0, sizeof(asr_real) * (size_t)(T - Tb) * (U + 1) * V);
}

/* C(n, k) in double (exact for the sizes _naive accepts). */
ASR__PRIVATE double asr__rnnt_binom(int n, int k) {
  double c = 1;
  int i;
  if (k < 0 || k > n) return 0;
  for (i = 1; i <= k; i++) c = c * (n - k + i) / i;
  return c;
}

/* One alignment of _naive: moves[s] = 1 if step s emits a label, 0 if it emits a blank, for
 * the T-1+U steps before the final blank. Returns ln Pr(a|x), each factor being eq. (13)
 * evaluated from scratch at the node the step leaves. If w_occ != NULL, adds `weight` to
 * the node occupancy and to the weight of the arrow taken (the definition of the
 * gradient). */
ASR__PRIVATE double asr__rnnt_naive_path(const int *moves, const asr_real *z, const int *labels, int Tb,
                                         int Ub, int U, int V, int blank, double weight, double *w_occ,
                                         double *w_blank, double *w_label) {
  double lp = 0;
  int s, t = 0, u = 0, W = Ub + 1;
  for (s = 0; s <= Tb - 1 + Ub; s++) {
    const asr_real *node = z + ((size_t)t * (U + 1) + u) * V;
    int last = (s == Tb - 1 + Ub);        /* the final blank, from (T,U) out of the lattice */
    int emit = !last && moves[s];
    int k = emit ? labels[u] : blank;
    lp += (double)node[k] - asr__rnnt_node_lse(node, V);      /* log Pr(k|t,u), eq. (13) */
    if (w_occ) {
      w_occ[t * W + u] += weight;
      if (emit) w_label[t * W + u] += weight;
      else w_blank[t * W + u] += weight;
    }
    if (emit) u++;                         /* a label moves up the lattice ... */
    else t++;                              /* ... a blank moves right, to the next frame */
  }
  return lp;
}

/* Next combination of k positions out of n (pos ascending); 0 when exhausted. */
ASR__PRIVATE int asr__rnnt_next_comb(int *pos, int k, int n) {
  int i = k - 1;
  while (i >= 0 && pos[i] == n - k + i) i--;
  if (i < 0) return 0;
  pos[i]++;
  for (i = i + 1; i < k; i++) pos[i] = pos[i - 1] + 1;
  return 1;
}

ASRDEF asr_result asr_rnnt_loss_naive(asr_real *loss, asr_real *grad, const asr_real *logits,
                                      const int *targets, const int *logit_lengths,
                                      const int *target_lengths, int N, int T, int U, int V,
                                      const asr_rnnt_opts *opts, void *work, size_t work_bytes,
                                      asr_error *err) {
  int b, blank, *ints;
  double *arr[5], scale, total = 0;
  asr_result r = asr__rnnt_check(loss, logits, targets, logit_lengths, target_lengths, N, T, U, V,
                                 opts, 1, work, work_bytes, &blank, err);
  if (r != ASR_OK) return r;
  for (b = 0; b < N; b++) {   /* refuse before anything is written */
    int Tb = logit_lengths[b], Ub = target_lengths[b];
    if (Tb > 0 && asr__rnnt_binom(Tb - 1 + Ub, Ub) > ASR_RNNT_NAIVE_MAX_PATHS)
      return asr__fail(err, ASR_ERR_TOO_LARGE, "rnnt naive: item %d has %.0f alignments (T=%d, U=%d), "
                       "more than ASR_RNNT_NAIVE_MAX_PATHS = %d", b, asr__rnnt_binom(Tb - 1 + Ub, Ub), Tb, Ub,
                       ASR_RNNT_NAIVE_MAX_PATHS);
  }
  asr__rnnt_carve(work, T, U, arr, &ints);
  scale = opts->reduction == ASR_REDUCTION_MEAN && N > 0 ? 1.0 / N : 1.0;
  for (b = 0; b < N; b++) {
    int Tb = logit_lengths[b], Ub = target_lengths[b], L = Tb - 1 + Ub, i, more, t, u, k;
    const asr_real *z = logits + (size_t)b * T * (U + 1) * V;
    const int *y = targets ? targets + (size_t)b * U : NULL;
    int *moves = ints, *pos = ints + T + U;   /* L <= T+U-1 moves, Ub <= U positions */
    double logP = -INFINITY;
    if (Tb == 0) {                          /* the empty alignment: Pr = 1, loss 0 */
      if (opts->reduction == ASR_REDUCTION_NONE) loss[b] = 0;
      if (grad) memset(grad + (size_t)b * T * (U + 1) * V, 0, sizeof(asr_real) * (size_t)T * (U + 1) * V);
      continue;
    }
    /* eq. (1): Pr(y*|x) = sum over the C(L, U) alignments; pos[] = the steps that emit */
    for (i = 0; i < Ub; i++) pos[i] = i;
    do {
      for (i = 0; i < L; i++) moves[i] = 0;
      for (i = 0; i < Ub; i++) moves[pos[i]] = 1;
      logP = asr_logaddexp(logP, asr__rnnt_naive_path(moves, z, y, Tb, Ub, U, V, blank, 0, NULL, NULL, NULL));
      more = Ub > 0 && asr__rnnt_next_comb(pos, Ub, L);
    } while (more);
    if (opts->reduction == ASR_REDUCTION_NONE) loss[b] = (asr_real)-logP;
    total += -logP;
    if (!grad) continue;
    /* the gradient, by definition: each alignment's share Pr(a|x)/Pr(y*|x) of the total,
     * added to every node it visits and to the arrow it leaves by */
    for (i = 0; i < Tb * (Ub + 1); i++) arr[0][i] = arr[1][i] = arr[2][i] = 0;
    for (i = 0; i < Ub; i++) pos[i] = i;
    do {
      double lp;
      for (i = 0; i < L; i++) moves[i] = 0;
      for (i = 0; i < Ub; i++) moves[pos[i]] = 1;
      lp = asr__rnnt_naive_path(moves, z, y, Tb, Ub, U, V, blank, 0, NULL, NULL, NULL);
      asr__rnnt_naive_path(moves, z, y, Tb, Ub, U, V, blank, exp(lp - logP), arr[0], arr[1], arr[2]);
      more = Ub > 0 && asr__rnnt_next_comb(pos, Ub, L);
    } while (more);
    {
      asr_real *g = grad + (size_t)b * T * (U + 1) * V;
      for (t = 0; t < Tb; t++)
        for (u = 0; u <= Ub; u++) {
          const asr_real *node = z + ((size_t)t * (U + 1) + u) * V;
          asr_real *gn = g + ((size_t)t * (U + 1) + u) * V;
          double lse = asr__rnnt_node_lse(node, V), occ = arr[0][t * (Ub + 1) + u];
          for (k = 0; k < V; k++) {
            /* dL/dz_k = sum_a share(a) [a at (t,u)] (Pr(k|t,u) - [a leaves by k]) */
            double gk = occ * exp((double)node[k] - lse);
            if (k == blank) gk -= arr[1][t * (Ub + 1) + u];
            if (u < Ub && k == y[u]) gk -= arr[2][t * (Ub + 1) + u];
            gn[k] = asr__rnnt_clamp_scale(gk, opts->clamp, scale);
          }
        }
      asr__rnnt_zero_padding(g, Tb, Ub, T, U, V);
    }
  }
  if (opts->reduction == ASR_REDUCTION_SUM) loss[0] = (asr_real)total;
  if (opts->reduction == ASR_REDUCTION_MEAN) loss[0] = (asr_real)(N ? total / N : 0.0);
  return ASR_OK;
}

/* One node of the logits-contract gradient (gn may equal node: element-wise):
 *   gn[k] = clamp_scale(Pr(k|t,u) gamma - [k = blank] e_blank - [k = label] e_label)
 * with Pr(k|t,u) = exp(node[k] - log_norm), eq. (13); label = -1 at u = U. */
ASR__PRIVATE void asr__rnnt_node_grad(asr_real *gn, const asr_real *node, int V, int blank, int label,
                                      double log_norm, double gamma, double e_blank, double e_label,
                                      double clamp, double scale) {
  int k;
  for (k = 0; k < V; k++) {
    double gk = exp((double)node[k] - log_norm) * gamma;          /* softmax term, eq. (23) */
    if (k == blank) gk -= e_blank;                                 /* lattice terms, eq. (20) */
    if (k == label) gk -= e_label;
    gn[k] = asr__rnnt_clamp_scale(gk, clamp, scale);
  }
}

/* One item of _ref / _logprobs_ref. The gradient, from [Graves12]:
 *   eq. (20)  dL/dPr(k|t,u) = -(alpha(t,u)/Pr(y*|x)) * { beta(t,u+1) if k = y_{u+1};
 *                                                       beta(t+1,u) if k = blank; 0 else }
 *   eq. (23)  dPr(k'|t,u)/dz_k = Pr(k'|t,u) (delta_kk' - Pr(k|t,u))    (the softmax, eq. (13))
 * Summing eq. (20) times eq. (23) over k' (eqs. (21)-(22) do it for f_t and g_u) gives
 *   dL/dz_k = Pr(k|t,u) gamma(t,u) - [k = blank] e_blank(t,u) - [k = y_{u+1}] e_label(t,u)
 * with the arrow occupancies (the share of Pr(y*|x) flowing along each arrow)
 *   e_blank(t,u) = alpha(t,u) 0(t,u) beta(t+1,u) / Pr,   e_label(t,u) = alpha(t,u) y(t,u) beta(t,u+1) / Pr
 * and the node occupancy gamma = e_blank + e_label = alpha(t,u) beta(t,u) / Pr (eq. (18)).
 * So every entry gets the softmax term and only two entries per node get the lattice terms
 * (Li et al. 2019's "function merging": the log-softmax never has to be materialized).
 * For the _logprobs contract dL/dlog Pr(k|t,u) = Pr(k|t,u) dL/dPr(k|t,u) = -e_k.
 * NOTE: the blank from the terminal node (T,U) leaves the lattice with beta(T+1,U) = 1
 * (eq. (18)'s initial condition beta(T,U) = 0(T,U)); a blank from any other node of the last
 * frame has beta(T+1,u) = 0. */
ASR__PRIVATE double asr__rnnt_item_ref(asr_real *g, const asr_real *z, const int *y, int Tb, int Ub, int U,
                                       int V, int blank, int logprobs, double clamp, double scale, double **arr) {
  double *lb = arr[0], *ll = arr[1], *ln = arr[2], *la = arr[3], *lbeta = arr[4], logP;
  const int W = Ub + 1;
  int t, u, k;
  if (logprobs) {            /* the inputs are log Pr(k|t,u) already */
    for (t = 0; t < Tb; t++)
      for (u = 0; u <= Ub; u++) {
        const asr_real *node = z + ((size_t)t * (U + 1) + u) * V;
        lb[t * W + u] = node[blank];
        ll[t * W + u] = u < Ub ? (double)node[y[u]] : -INFINITY;
      }
  } else {
    asr_rnnt_lattice(lb, ll, ln, z, y, Tb, Ub, U + 1, V, blank);   /* eqs. (13)-(15) */
  }
  logP = asr_rnnt_alpha(la, lb, ll, Tb, Ub);                       /* eqs. (16)-(17) */
  if (!g) return -logP;
  asr_rnnt_beta(lbeta, lb, ll, Tb, Ub);                            /* eq. (18) */
  for (t = 0; t < Tb; t++)
    for (u = 0; u <= Ub; u++) {
      const asr_real *node = z + ((size_t)t * (U + 1) + u) * V;
      asr_real *gn = g + ((size_t)t * (U + 1) + u) * V;
      int n = t * W + u;
      /* beta after each arrow: right (t+1,u) and up (t,u+1), with the NOTE's edge cases */
      double b_right = t + 1 < Tb ? lbeta[n + W] : (u == Ub ? 0.0 : -INFINITY);
      double b_up = u < Ub ? lbeta[n + 1] : -INFINITY;
      double e_blank = exp(la[n] + lb[n] + b_right - logP);        /* eq. (20), k = blank */
      double e_label = exp(la[n] + ll[n] + b_up - logP);           /* eq. (20), k = y_{u+1} */
      if (logprobs) {
        for (k = 0; k < V; k++) gn[k] = 0;
        gn[blank] = asr__rnnt_clamp_scale(-e_blank, clamp, scale);
        if (u < Ub) gn[y[u]] = asr__rnnt_clamp_scale(-e_label, clamp, scale);
      } else {
        asr__rnnt_node_grad(gn, node, V, blank, u < Ub ? y[u] : -1, ln[n],
                            exp(la[n] + lbeta[n] - logP),          /* node occupancy gamma */
                            e_blank, e_label, clamp, scale);
      }
    }
  return -logP;
}

#if defined(ASR_SIMD_AVX2) && !ASR_REAL_DOUBLE
#define ASR__RNNT_HAVE_FAST 1
/* exp of 8 floats: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-5 polynomial (the
 * Cephes expf coefficients), 2^n by building the exponent bits. Relative error ~1.5 ulp;
 * inputs below -87.3 give exactly 0 (exp would be subnormal), above 88.3 are clamped. */
ASR__PRIVATE __m256 asr__rnnt_exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.3762626647949f);
  __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  __m256 fx, r, y, r2;
  __m256i n;
  x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  /* r = x - n ln2, ln2 split in two parts so that n*C1 is exact */
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  r2 = _mm256_mul_ps(r, r);
  y = _mm256_set1_ps(1.9875691500E-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507E-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073E-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894E-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459E-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201E-1f));
  y = _mm256_fmadd_ps(y, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(n));
  return _mm256_andnot_ps(under, y);
}

/* log sum_k exp(z_k) of one node, 8 lanes at a time, the sum finished in double. */
ASR__PRIVATE double asr__rnnt_node_lse_avx2(const float *z, int V) {
  __m256 vm = _mm256_set1_ps(-INFINITY), vs = _mm256_setzero_ps();
  float m = -INFINITY, lanes[8];
  double s = 0;
  int k = 0, i;
  for (; k + 8 <= V; k += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(z + k));
  _mm256_storeu_ps(lanes, vm);
  for (i = 0; i < 8; i++) m = lanes[i] > m ? lanes[i] : m;
  for (; k < V; k++) m = z[k] > m ? z[k] : m;
  vm = _mm256_set1_ps(m);
  for (k = 0; k + 8 <= V; k += 8) vs = _mm256_add_ps(vs, asr__rnnt_exp8(_mm256_sub_ps(_mm256_loadu_ps(z + k), vm)));
  _mm256_storeu_ps(lanes, vs);
  for (i = 0; i < 8; i++) s += lanes[i];
  for (; k < V; k++) s += exp((double)z[k] - m);
  return (double)m + log(s);
}

/* The fast item: the same algorithm as asr__rnnt_item_ref, with the two passes over the
 * (T,U+1,V) block in AVX2: the denominators, and gk = exp(z_k - lse + ln gamma) (the
 * softmax term; the two lattice terms are subtracted in double afterwards). */
ASR__PRIVATE double asr__rnnt_item_fast(asr_real *g, const asr_real *z, const int *y, int Tb, int Ub, int U, int V,
                                        int blank, double clamp, double scale, double **arr) {
  double *lb = arr[0], *ll = arr[1], *ln = arr[2], *la = arr[3], *lbeta = arr[4], logP;
  const int W = Ub + 1;
  int t, u, k;
  for (t = 0; t < Tb; t++)
    for (u = 0; u <= Ub; u++) {
      const float *node = z + ((size_t)t * (U + 1) + u) * V;
      int n = t * W + u;
      ln[n] = asr__rnnt_node_lse_avx2(node, V);
      lb[n] = (double)node[blank] - ln[n];
      ll[n] = u < Ub ? (double)node[y[u]] - ln[n] : -INFINITY;
    }
  logP = asr_rnnt_alpha(la, lb, ll, Tb, Ub);
  if (!g) return -logP;
  asr_rnnt_beta(lbeta, lb, ll, Tb, Ub);
  for (t = 0; t < Tb; t++)
    for (u = 0; u <= Ub; u++) {
      const float *node = z + ((size_t)t * (U + 1) + u) * V;
      float *gn = g + ((size_t)t * (U + 1) + u) * V;
      int n = t * W + u;
      double b_right = t + 1 < Tb ? lbeta[n + W] : (u == Ub ? 0.0 : -INFINITY);
      double b_up = u < Ub ? lbeta[n + 1] : -INFINITY;
      double e_blank = exp(la[n] + lb[n] + b_right - logP), e_label = exp(la[n] + ll[n] + b_up - logP);
      double shift = la[n] + lbeta[n] - logP - ln[n];       /* ln gamma - lse */
      __m256 vsh = _mm256_set1_ps((float)ASR__MAX(shift, -1e30));
      __m256 vsc = _mm256_set1_ps((float)scale), vc = _mm256_set1_ps((float)clamp);
      for (k = 0; k + 8 <= V; k += 8)
        _mm256_storeu_ps(gn + k, asr__rnnt_exp8(_mm256_add_ps(_mm256_loadu_ps(node + k), vsh)));
      for (; k < V; k++) gn[k] = (float)exp((double)node[k] + shift);
      /* the two lattice terms, in double from the exact softmax value */
      gn[blank] = (float)(exp((double)node[blank] + shift) - e_blank);
      if (u < Ub) gn[y[u]] = (float)(exp((double)node[y[u]] + shift) - e_label);
      if (clamp > 0 || scale != 1.0) {
        for (k = 0; k + 8 <= V; k += 8) {
          __m256 v = _mm256_loadu_ps(gn + k);
          if (clamp > 0)
            v = _mm256_max_ps(_mm256_min_ps(v, vc), _mm256_sub_ps(_mm256_setzero_ps(), vc));
          _mm256_storeu_ps(gn + k, _mm256_mul_ps(v, vsc));
        }
        for (; k < V; k++) gn[k] = asr__rnnt_clamp_scale(gn[k], clamp, scale);
      }
    }
  return -logP;
}
#endif

ASR__PRIVATE asr_result asr__rnnt_loss_driver(asr_real *loss, asr_real *grad, const asr_real *logits,
                                              const int *targets, const int *logit_lengths,
                                              const int *target_lengths, int N, int T, int U, int V,
                                              const asr_rnnt_opts *opts, void *work, size_t work_bytes,
                                              asr_error *err, int logprobs, int fast) {
  int b, blank, *ints;
  double *arr[5], scale, total = 0;
  asr_result r = asr__rnnt_check(loss, logits, targets, logit_lengths, target_lengths, N, T, U, V,
                                 opts, 1, work, work_bytes, &blank, err);
  if (r != ASR_OK) return r;
  asr__rnnt_carve(work, T, U, arr, &ints);
  scale = opts->reduction == ASR_REDUCTION_MEAN && N > 0 ? 1.0 / N : 1.0;
  for (b = 0; b < N; b++) {
    int Tb = logit_lengths[b], Ub = target_lengths[b];
    const asr_real *z = logits + (size_t)b * T * (U + 1) * V;
    asr_real *g = grad ? grad + (size_t)b * T * (U + 1) * V : NULL;
    double l = 0;
    if (Tb > 0) {
#ifdef ASR__RNNT_HAVE_FAST
      if (fast && !logprobs) l = asr__rnnt_item_fast(g, z, targets + (size_t)b * U, Tb, Ub, U, V, blank,
                                                     opts->clamp, scale, arr);
      else
#endif
        l = asr__rnnt_item_ref(g, z, targets ? targets + (size_t)b * U : NULL, Tb, Ub, U, V, blank,
                               logprobs, opts->clamp, scale, arr);
    }
    if (g) asr__rnnt_zero_padding(g, Tb, Ub, T, U, V);
    if (opts->reduction == ASR_REDUCTION_NONE) loss[b] = (asr_real)l;
    total += l;
  }
  (void)fast;
  if (opts->reduction == ASR_REDUCTION_SUM) loss[0] = (asr_real)total;
  if (opts->reduction == ASR_REDUCTION_MEAN) loss[0] = (asr_real)(N ? total / N : 0.0);
  return ASR_OK;
}

ASRDEF asr_result asr_rnnt_loss_ref(asr_real *loss, asr_real *grad, const asr_real *logits,
                                    const int *targets, const int *logit_lengths,
                                    const int *target_lengths, int N, int T, int U, int V,
                                    const asr_rnnt_opts *opts, void *work, size_t work_bytes,
                                    asr_error *err) {
  return asr__rnnt_loss_driver(loss, grad, logits, targets, logit_lengths, target_lengths, N, T, U, V,
                               opts, work, work_bytes, err, 0, 0);
}

ASRDEF asr_result asr_rnnt_loss_logprobs_ref(asr_real *loss, asr_real *grad, const asr_real *logprobs,
                                             const int *targets, const int *logit_lengths,
                                             const int *target_lengths, int N, int T, int U, int V,
                                             const asr_rnnt_opts *opts, void *work,
                                             size_t work_bytes, asr_error *err) {
  return asr__rnnt_loss_driver(loss, grad, logprobs, targets, logit_lengths, target_lengths, N, T, U, V,
                               opts, work, work_bytes, err, 1, 0);
}

ASRDEF asr_result asr_rnnt_loss_logprobs(asr_real *loss, asr_real *grad, const asr_real *logprobs,
                                         const int *targets, const int *logit_lengths,
                                         const int *target_lengths, int N, int T, int U, int V,
                                         const asr_rnnt_opts *opts, void *work, size_t work_bytes,
                                         asr_error *err) {
  /* two entries per node: nothing for SIMD to win */
  return asr_rnnt_loss_logprobs_ref(loss, grad, logprobs, targets, logit_lengths, target_lengths, N, T,
                                    U, V, opts, work, work_bytes, err);
}

ASRDEF asr_result asr_rnnt_loss(asr_real *loss, asr_real *grad, const asr_real *logits,
                                const int *targets, const int *logit_lengths,
                                const int *target_lengths, int N, int T, int U, int V,
                                const asr_rnnt_opts *opts, void *work, size_t work_bytes,
                                asr_error *err) {
  return asr__rnnt_loss_driver(loss, grad, logits, targets, logit_lengths, target_lengths, N, T, U, V,
                               opts, work, work_bytes, err, 0, 1);
}

/* ---- 6.3 The joint network (implementation) */
ASRDEF size_t asr_rnnt_joint_workspace_size(const asr_rnnt_joint *J, int T, int U1) {
  size_t rows = (size_t)T + 2 * (size_t)U1, n;
  if (!J || T < 0 || U1 < 0 || J->H < 1) return (size_t)-1;
  /* forward: A (T,H), C (U1,H), one activation row (U1,H); backward: dA, dC, E row */
  if (asr_size_mul(rows, (size_t)J->H, &n) != ASR_OK || asr_size_mul(n, sizeof(asr_real), &n) != ASR_OK)
    return (size_t)-1;
  return n;
}

/* act(x) and act'(x) written through the output y = act(x) */
ASR__PRIVATE asr_real asr__rnnt_act(asr_rnnt_act a, asr_real x) {
  if (a == ASR_RNNT_ACT_TANH) return (asr_real)tanh(x);
  if (a == ASR_RNNT_ACT_RELU) return x > 0 ? x : 0;
  return x;
}
ASR__PRIVATE asr_real asr__rnnt_act_grad(asr_rnnt_act a, asr_real y) {
  if (a == ASR_RNNT_ACT_TANH) return 1 - y * y;     /* tanh' = 1 - tanh^2 */
  if (a == ASR_RNNT_ACT_RELU) return y > 0 ? 1 : 0; /* relu' = [x > 0] = [y > 0] */
  return 1;
}

/* One frame row: hrow (U1,H) = act(A_t + C_u), zrow (U1,V) = hrow W_out^T + b_out. */
ASR__PRIVATE void asr__rnnt_joint_row(asr_real *zrow, asr_real *hrow, const asr_real *A_t, const asr_real *C,
                                      const asr_rnnt_joint *J, int U1) {
  int u, i, H = J->H, V = J->V;
  for (u = 0; u < U1; u++)
    for (i = 0; i < H; i++)   /* act(W_enc f_t + W_pred g_u + b): the two halves meet here */
      hrow[(size_t)u * H + i] = asr__rnnt_act(J->act, A_t[i] + C[(size_t)u * H + i]);
  asr_gemm(0, 1, U1, V, H, 1, hrow, H, J->W_out, H, 0, zrow, V);   /* W_out act(.) */
  if (J->b_out)
    for (u = 0; u < U1; u++)
      for (i = 0; i < V; i++) zrow[(size_t)u * V + i] += J->b_out[i];
}

/* A (T,H) = f W_enc^T and C (U1,H) = g W_pred^T + b: computed once, shared by every node. */
ASR__PRIVATE void asr__rnnt_joint_halves(asr_real *A, asr_real *C, const asr_real *f, const asr_real *g,
                                         const asr_rnnt_joint *J, int T, int U1) {
  int u, i;
  asr_gemm(0, 1, T, J->H, J->E, 1, f, J->E, J->W_enc, J->E, 0, A, J->H);
  asr_gemm(0, 1, U1, J->H, J->P, 1, g, J->P, J->W_pred, J->P, 0, C, J->H);
  if (J->b)
    for (u = 0; u < U1; u++)
      for (i = 0; i < J->H; i++) C[(size_t)u * J->H + i] += J->b[i];
}

/* Backward of one row: dW_out, db_out; Erow = (dzrow W_out) * act'; dA_t = sum_u Erow;
 * dC += Erow. */
ASR__PRIVATE void asr__rnnt_joint_row_back(asr_real *Erow, asr_real *dA_t, asr_real *dC,
                                           const asr_rnnt_joint_grad *dJ, const asr_real *dzrow,
                                           const asr_real *hrow, const asr_rnnt_joint *J, int U1) {
  int u, i, H = J->H, V = J->V;
  if (dJ && dJ->W_out) asr_gemm(1, 0, V, H, U1, 1, dzrow, V, hrow, H, 1, dJ->W_out, H);
  if (dJ && dJ->b_out)
    for (u = 0; u < U1; u++)
      for (i = 0; i < V; i++) dJ->b_out[i] += dzrow[(size_t)u * V + i];
  asr_gemm(0, 0, U1, H, V, 1, dzrow, V, J->W_out, H, 0, Erow, H);   /* W_out^T d */
  for (i = 0; i < H; i++) dA_t[i] = 0;
  for (u = 0; u < U1; u++)
    for (i = 0; i < H; i++) {
      size_t n = (size_t)u * H + i;
      Erow[n] *= asr__rnnt_act_grad(J->act, hrow[n]);              /* through act */
      dA_t[i] += Erow[n];                                           /* f_t is shared by the row */
      dC[n] += Erow[n];                                             /* g_u is shared by the column */
    }
}

/* The input side: df += dA W_enc, dW_enc += dA^T f, dg += dC W_pred, dW_pred += dC^T g, db. */
ASR__PRIVATE void asr__rnnt_joint_inputs_back(asr_real *df, asr_real *dg, const asr_rnnt_joint_grad *dJ,
                                              const asr_real *dA, const asr_real *dC, const asr_real *f,
                                              const asr_real *g, const asr_rnnt_joint *J, int T, int U1) {
  int u, i;
  if (df) asr_gemm(0, 0, T, J->E, J->H, 1, dA, J->H, J->W_enc, J->E, 1, df, J->E);
  if (dJ && dJ->W_enc) asr_gemm(1, 0, J->H, J->E, T, 1, dA, J->H, f, J->E, 1, dJ->W_enc, J->E);
  if (dg) asr_gemm(0, 0, U1, J->P, J->H, 1, dC, J->H, J->W_pred, J->P, 1, dg, J->P);
  if (dJ && dJ->W_pred) asr_gemm(1, 0, J->H, J->P, U1, 1, dC, J->H, g, J->P, 1, dJ->W_pred, J->P);
  if (dJ && dJ->b)
    for (u = 0; u < U1; u++)
      for (i = 0; i < J->H; i++) dJ->b[i] += dC[(size_t)u * J->H + i];
}

ASR__PRIVATE int asr__rnnt_joint_bad(const asr_rnnt_joint *J) {
  return !J || J->E < 1 || J->P < 1 || J->H < 1 || J->V < 1 || !J->W_enc || !J->W_pred || !J->W_out ||
         (J->act != ASR_RNNT_ACT_TANH && J->act != ASR_RNNT_ACT_RELU && J->act != ASR_RNNT_ACT_IDENTITY);
}

ASRDEF asr_result asr_rnnt_joint_forward(asr_real *z, asr_real *hid, const asr_real *f,
                                         const asr_real *g, const asr_rnnt_joint *J, int T, int U1,
                                         void *work, size_t work_bytes) {
  asr_real *A, *C, *hrow;
  int t;
  if (asr__rnnt_joint_bad(J) || T < 0 || U1 < 0 || !z || (T && !f) || (U1 && !g)) return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_rnnt_joint_workspace_size(J, T, U1) || !work) return ASR_ERR_WORKSPACE;
  A = (asr_real *)work;
  C = A + (size_t)T * J->H;
  hrow = C + (size_t)U1 * J->H;
  asr__rnnt_joint_halves(A, C, f, g, J, T, U1);
  for (t = 0; t < T; t++) {
    asr_real *h = hid ? hid + (size_t)t * U1 * J->H : hrow;
    asr__rnnt_joint_row(z + (size_t)t * U1 * J->V, h, A + (size_t)t * J->H, C, J, U1);
  }
  return ASR_OK;
}

ASRDEF asr_result asr_rnnt_joint_backward(asr_real *df, asr_real *dg, const asr_rnnt_joint_grad *dJ,
                                          const asr_real *dz, const asr_real *hid, const asr_real *f,
                                          const asr_real *g, const asr_rnnt_joint *J, int T, int U1,
                                          void *work, size_t work_bytes) {
  asr_real *dA, *dC, *Erow;
  int t;
  size_t i;
  if (asr__rnnt_joint_bad(J) || T < 0 || U1 < 0 || !dz || !hid || (T && !f) || (U1 && !g))
    return ASR_ERR_INVALID_ARG;
  if (work_bytes < asr_rnnt_joint_workspace_size(J, T, U1) || !work) return ASR_ERR_WORKSPACE;
  dA = (asr_real *)work;
  dC = dA + (size_t)T * J->H;
  Erow = dC + (size_t)U1 * J->H;
  for (i = 0; i < (size_t)U1 * J->H; i++) dC[i] = 0;
  for (t = 0; t < T; t++)
    asr__rnnt_joint_row_back(Erow, dA + (size_t)t * J->H, dC, dJ, dz + (size_t)t * U1 * J->V,
                             hid + (size_t)t * U1 * J->H, J, U1);
  asr__rnnt_joint_inputs_back(df, dg, dJ, dA, dC, f, g, J, T, U1);
  return ASR_OK;
}

ASRDEF size_t asr_rnnt_joint_loss_rowwise_workspace_size(const asr_rnnt_joint *J, int T, int U) {
  size_t lat = asr_rnnt_loss_workspace_size(T, U, 1), reals, n;
  if (!J || T < 0 || U < 0 || lat == (size_t)-1) return (size_t)-1;
  /* A, dA (T,H); C, dC, hrow, Erow (U+1,H); zrow (U+1,V) */
  if (asr_size_mul((size_t)T, (size_t)J->H, &reals) != ASR_OK) return (size_t)-1;
  reals *= 2;
  if (asr_size_mul((size_t)U + 1, 4 * (size_t)J->H + (size_t)J->V, &n) != ASR_OK) return (size_t)-1;
  reals += n;
  if (asr_size_mul(reals, sizeof(asr_real), &n) != ASR_OK || n + lat < n) return (size_t)-1;
  return n + lat;
}

ASRDEF asr_result asr_rnnt_joint_loss_rowwise(double *loss, asr_real *df, asr_real *dg,
                                              const asr_rnnt_joint_grad *dJ, const asr_real *f,
                                              const asr_real *g, const asr_rnnt_joint *J,
                                              const int *labels, int T, int U,
                                              const asr_rnnt_opts *opts, void *work,
                                              size_t work_bytes, asr_error *err) {
  const int U1 = U + 1, W = U + 1;
  int t, u, i, blank, *ints, V;
  double *arr[5], logP;
  asr_real *A, *dA, *C, *dC, *hrow, *Erow, *zrow;
  if (asr__rnnt_joint_bad(J) || !loss || !opts || T < 1 || U < 0 || !f || !g || (U && !labels))
    return asr__fail(err, ASR_ERR_INVALID_ARG, "rnnt rowwise: bad arguments (T must be >= 1)");
  V = J->V;
  blank = opts->blank < 0 ? V + opts->blank : opts->blank;
  if (blank < 0 || blank >= V) return asr__fail(err, ASR_ERR_RANGE, "rnnt rowwise: blank %d out of range", opts->blank);
  for (i = 0; i < U; i++)
    if (labels[i] < 0 || labels[i] >= V || labels[i] == blank)
      return asr__fail(err, ASR_ERR_RANGE, "rnnt rowwise: labels[%d] = %d is out of range or the blank", i, labels[i]);
  if (!work || work_bytes < asr_rnnt_joint_loss_rowwise_workspace_size(J, T, U))
    return asr__fail(err, ASR_ERR_WORKSPACE, "rnnt rowwise: workspace too small");
  asr__rnnt_carve(work, T, U, arr, &ints);
  A = (asr_real *)((char *)work + asr_rnnt_loss_workspace_size(T, U, 1));
  dA = A + (size_t)T * J->H;
  C = dA + (size_t)T * J->H;
  dC = C + (size_t)U1 * J->H;
  hrow = dC + (size_t)U1 * J->H;
  Erow = hrow + (size_t)U1 * J->H;
  zrow = Erow + (size_t)U1 * J->H;
  asr__rnnt_joint_halves(A, C, f, g, J, T, U1);
  /* pass 1: each row's lattice numbers, eqs. (13)-(15); the row itself is dropped */
  for (t = 0; t < T; t++) {
    asr__rnnt_joint_row(zrow, hrow, A + (size_t)t * J->H, C, J, U1);
    if (!asr_all_finite(zrow, (size_t)U1 * V))
      return asr__fail(err, ASR_ERR_NONFINITE, "rnnt rowwise: the joint's output at frame %d is not finite", t);
    asr_rnnt_lattice(arr[0] + (size_t)t * W, arr[1] + (size_t)t * W, arr[2] + (size_t)t * W, zrow, labels, 1,
                     U, U1, V, blank);
  }
  logP = asr_rnnt_alpha(arr[3], arr[0], arr[1], T, U);    /* eqs. (16)-(17) */
  *loss = -logP;
  if (!df && !dg && !dJ) return ASR_OK;
  asr_rnnt_beta(arr[4], arr[0], arr[1], T, U);            /* eq. (18) */
  for (i = 0; i < U1 * J->H; i++) dC[i] = 0;
  /* pass 2: recompute row t, its gradient in place, and push it through the joint */
  for (t = 0; t < T; t++) {
    asr__rnnt_joint_row(zrow, hrow, A + (size_t)t * J->H, C, J, U1);
    for (u = 0; u <= U; u++) {
      int n = t * W + u;
      double b_right = t + 1 < T ? arr[4][n + W] : (u == U ? 0.0 : -INFINITY);
      double b_up = u < U ? arr[4][n + 1] : -INFINITY;
      asr__rnnt_node_grad(zrow + (size_t)u * V, zrow + (size_t)u * V, V, blank, u < U ? labels[u] : -1,
                          arr[2][n], exp(arr[3][n] + arr[4][n] - logP),
                          exp(arr[3][n] + arr[0][n] + b_right - logP), exp(arr[3][n] + arr[1][n] + b_up - logP),
                          opts->clamp, 1.0);
    }
    asr__rnnt_joint_row_back(Erow, dA + (size_t)t * J->H, dC, dJ, zrow, hrow, J, U1);
  }
  asr__rnnt_joint_inputs_back(df, dg, dJ, dA, dC, f, g, J, T, U1);
  return ASR_OK;
}

/* ---- 6.4 The stateless prediction network (implementation) */
ASR__PRIVATE int asr__rnnt_pred_bad(const asr_rnnt_stateless *P) {
  return !P || P->V < 1 || P->D < 1 || P->C < 1 || P->blank < 0 || P->blank >= P->V || !P->embedding ||
         (P->C > 1 && !P->conv);
}

/* c (D) = sum_j conv[:,j] * e_{u-C+1+j} for the embeddings rows[0..C-1] (NULL = zero row). */
ASR__PRIVATE void asr__rnnt_causal_conv(asr_real *c, const asr_real *const *rows, const asr_rnnt_stateless *P) {
  int d, j;
  for (d = 0; d < P->D; d++) {
    double s = 0;
    if (P->C == 1) {
      s = rows[0] ? rows[0][d] : 0;                 /* C = 1: no conv (icefall's Identity) */
    } else {
      for (j = 0; j < P->C; j++)
        if (rows[j]) s += (double)P->conv[(size_t)d * P->C + j] * rows[j][d];
    }
    c[d] = (asr_real)s;
  }
}

ASRDEF asr_result asr_rnnt_stateless_step(asr_real *g, const int *context, const asr_rnnt_stateless *P) {
  const asr_real *rows[64];
  int j;
  if (asr__rnnt_pred_bad(P) || P->C > 64 || !g || !context) return ASR_ERR_INVALID_ARG;
  for (j = 0; j < P->C; j++) {
    if (context[j] >= P->V || context[j] < -1) return ASR_ERR_RANGE;
    rows[j] = context[j] < 0 ? NULL : P->embedding + (size_t)context[j] * P->D;   /* e = Emb[y] */
  }
  asr__rnnt_causal_conv(g, rows, P);
  asr_relu_forward(g, g, (size_t)P->D);                                        /* g = relu(c) */
  return ASR_OK;
}

ASRDEF asr_result asr_rnnt_stateless_forward(asr_real *g, asr_real *emb, const int *labels, int U,
                                             const asr_rnnt_stateless *P) {
  const asr_real *rows[64];
  int u, j;
  if (asr__rnnt_pred_bad(P) || P->C > 64 || !g || U < 0 || (U && !labels)) return ASR_ERR_INVALID_ARG;
  for (u = 0; u < U; u++)
    if (labels[u] < 0 || labels[u] >= P->V) return ASR_ERR_RANGE;
  for (u = 0; u <= U; u++) {
    /* yhat = (blank, y_1..y_U): position v of yhat is labels[v-1], position 0 the blank */
    for (j = 0; j < P->C; j++) {
      int v = u - P->C + 1 + j;
      int id = v < 0 ? -1 : (v == 0 ? P->blank : labels[v - 1]);
      rows[j] = id < 0 ? NULL : P->embedding + (size_t)id * P->D;
    }
    if (emb) {
      int id = u == 0 ? P->blank : labels[u - 1];
      memcpy(emb + (size_t)u * P->D, P->embedding + (size_t)id * P->D, sizeof(asr_real) * (size_t)P->D);
    }
    asr__rnnt_causal_conv(g + (size_t)u * P->D, rows, P);
  }
  asr_relu_forward(g, g, (size_t)(U + 1) * P->D);
  return ASR_OK;
}

ASRDEF size_t asr_rnnt_stateless_workspace_size(const asr_rnnt_stateless *P, int U) {
  size_t n;
  if (!P || U < 0 || asr_size_mul((size_t)U + 1, 2 * (size_t)P->D, &n) != ASR_OK) return (size_t)-1;
  return n * sizeof(asr_real) + ((size_t)U + 1) * sizeof(int) + 16;
}

ASRDEF asr_result asr_rnnt_stateless_backward(const asr_rnnt_stateless_grad *dP, const asr_real *dg,
                                              const asr_real *g, const asr_real *emb,
                                              const int *labels, int U,
                                              const asr_rnnt_stateless *P, void *work,
                                              size_t work_bytes) {
  asr_real *dc, *de;
  int *ids, u, j, d, D;
  size_t n;
  if (asr__rnnt_pred_bad(P) || !dP || !dg || !g || !emb || U < 0 || (U && !labels)) return ASR_ERR_INVALID_ARG;
  if (!work || work_bytes < asr_rnnt_stateless_workspace_size(P, U)) return ASR_ERR_WORKSPACE;
  D = P->D;
  n = (size_t)(U + 1) * D;
  dc = (asr_real *)work;
  de = dc + n;
  ids = (int *)(de + n);
  memset(dc, 0, sizeof(asr_real) * n);
  memset(de, 0, sizeof(asr_real) * n);
  asr_relu_backward(dc, dg, g, n);     /* dc = dg [c > 0]; [c > 0] = [g > 0] for g = relu(c) */
  for (u = 0; u <= U; u++) {
    ids[u] = u == 0 ? P->blank : labels[u - 1];
    for (j = 0; j < P->C; j++) {
      int v = u - P->C + 1 + j;        /* the yhat position tap j of output u reads */
      if (v < 0) continue;             /* left padding: no embedding, no gradient */
      for (d = 0; d < D; d++) {
        asr_real w = P->C == 1 ? 1 : P->conv[(size_t)d * P->C + j];
        if (dP->conv && P->C > 1) dP->conv[(size_t)d * P->C + j] += dc[(size_t)u * D + d] * emb[(size_t)v * D + d];
        de[(size_t)v * D + d] += w * dc[(size_t)u * D + d];
      }
    }
  }
  if (dP->embedding) return asr_embedding_backward(dP->embedding, de, ids, U + 1, P->V, D, P->blank);
  return ASR_OK;
}

/* ---- 6.5 Decoding (implementation) */
ASRDEF size_t asr_rnnt_model_scratch_size(const asr_rnnt_joint *J, const asr_rnnt_stateless *P) {
  if (!J || !P) return (size_t)-1;
  /* g (D), A (H), C (H), hid (H), z (V), context (C ints) */
  return sizeof(asr_real) * ((size_t)P->D + 3 * (size_t)J->H + (size_t)J->V) + sizeof(int) * (size_t)P->C + 16;
}

ASRDEF asr_result asr_rnnt_model_scorer(void *model, asr_real *logp, int t, const int *prefix, int n) {
  asr_rnnt_model *m = (asr_rnnt_model *)model;
  const asr_rnnt_joint *J = m->joint;
  const asr_rnnt_stateless *P = m->pred;
  asr_real *g, *A, *C, *hid;
  int *ctx, j;
  asr_result r;
  if (!m || !J || !P || t < 0 || t >= m->T || n < 0 || J->P != P->D || J->V != P->V) return ASR_ERR_INVALID_ARG;
  if (!m->scratch || m->scratch_bytes < asr_rnnt_model_scratch_size(J, P)) return ASR_ERR_WORKSPACE;
  g = (asr_real *)m->scratch;
  A = g + P->D;
  C = A + J->H;
  hid = C + J->H;
  ctx = (int *)(hid + J->H + J->V);
  for (j = 0; j < P->C; j++) {          /* the last C symbols of yhat = (blank, prefix) */
    int v = n - P->C + 1 + j;
    ctx[j] = v < 0 ? -1 : (v == 0 ? P->blank : prefix[v - 1]);
  }
  r = asr_rnnt_stateless_step(g, ctx, P);
  if (r != ASR_OK) return r;
  asr__rnnt_joint_halves(A, C, m->f + (size_t)t * J->E, g, J, 1, 1);
  asr__rnnt_joint_row(logp, hid, A, C, J, 1);         /* z (V) */
  asr_log_softmax(logp, logp, J->V);                  /* eq. (13) in log space */
  return ASR_OK;
}

ASR__PRIVATE int asr__rnnt_argmax(const asr_real *x, int n) {
  int k, best = 0;
  for (k = 1; k < n; k++)
    if (x[k] > x[best]) best = k;
  return best;
}

ASRDEF asr_result asr_rnnt_greedy_decode(int *tokens, int *n_tokens, double *logp, int max_tokens,
                                         asr_rnnt_scorer_fn scorer, void *ctx, int T, int V,
                                         int blank, int max_symbols, void *work, size_t work_bytes) {
  asr_real *lp = (asr_real *)work;
  int t, n = 0;
  double score = 0;
  if (!tokens || !n_tokens || !scorer || T < 0 || V < 1 || blank < 0 || blank >= V || max_symbols < 1 ||
      max_tokens < 0)
    return ASR_ERR_INVALID_ARG;
  if (!work || work_bytes < sizeof(asr_real) * (size_t)V) return ASR_ERR_WORKSPACE;
  for (t = 0; t < T; t++) {
    int s;
    for (s = 0;; s++) {
      int k;
      asr_result r = scorer(ctx, lp, t, tokens, n);     /* log Pr(. | t, y) */
      if (r != ASR_OK) return r;
      k = s < max_symbols ? asr__rnnt_argmax(lp, V) : blank;   /* the cap forces the blank */
      score += lp[k];
      if (k == blank) break;                            /* blank: next frame */
      if (n == max_tokens) return ASR_ERR_TOO_LARGE;
      tokens[n++] = k;                                  /* label: stay on this frame */
    }
  }
  *n_tokens = n;
  if (logp) *logp = score;
  return ASR_OK;
}

ASRDEF asr_rnnt_beam_opts asr_rnnt_default_beam_opts(void) {
  asr_rnnt_beam_opts o;
  o.beam = 4;
  o.max_symbols = 3;
  o.prefix_merge = 1;
  o.length_norm = 1;
  return o;
}

/* A hypothesis store: slot i holds len[i] tokens at tok + i*L, its log-probability lp[i]
 * and the labels it emitted on the current frame. */
typedef struct asr__rnnt_hyps {
  int *tok, *len, *sym, L, cap, n;
  double *lp;
} asr__rnnt_hyps;

ASR__PRIVATE int asr__rnnt_beam_cap(const asr_rnnt_beam_opts *o) {
  int pops = o->beam * (o->max_symbols + 1);
  return o->beam + pops * (ASR__MIN(o->beam, 1 << 20) + 1);
}

ASRDEF size_t asr_rnnt_beam_workspace_size(int V, int max_tokens, const asr_rnnt_beam_opts *o) {
  size_t cap, per, n;
  if (!o || o->beam < 1 || o->beam > 4096 || o->max_symbols < 1 || o->max_symbols > 4096 || V < 1 ||
      max_tokens < 0)
    return (size_t)-1;
  cap = (size_t)asr__rnnt_beam_cap(o);
  /* two stores (this frame, next frame) of cap slots: L + 2 ints and a double each */
  per = ((size_t)max_tokens + 2) * sizeof(int) + sizeof(double);
  if (asr_size_mul(cap, per, &n) != ASR_OK || asr_size_mul(n, 2, &n) != ASR_OK) return (size_t)-1;
  /* + V log-probs, V order indices, the flags of A and B */
  return n + (size_t)V * (sizeof(asr_real) + sizeof(int)) + cap * 2 * sizeof(int) + 64;
}

ASR__PRIVATE void asr__rnnt_hyps_carve(asr__rnnt_hyps *h, char **p, int cap, int L) {
  h->cap = cap, h->L = L, h->n = 0;
  h->lp = (double *)*p;
  *p += sizeof(double) * (size_t)cap;
  h->len = (int *)*p;
  h->sym = h->len + cap;
  h->tok = h->sym + cap;
  *p += sizeof(int) * (size_t)cap * ((size_t)L + 2);
}

/* Index of the slot holding the same sequence as (tok, len) among `idx` (m), or -1. */
ASR__PRIVATE int asr__rnnt_find(const asr__rnnt_hyps *h, const int *idx, int m, const int *tok, int len) {
  int i;
  for (i = 0; i < m; i++)
    if (h->len[idx[i]] == len && (len == 0 || !memcmp(h->tok + (size_t)idx[i] * h->L, tok, sizeof(int) * (size_t)len)))
      return idx[i];
  return -1;
}

ASRDEF asr_result asr_rnnt_beam_search(int *tokens, int *n_tokens, double *logp, int max_tokens,
                                       asr_rnnt_scorer_fn scorer, void *ctx, int T, int V, int blank,
                                       const asr_rnnt_beam_opts *o, void *work, size_t work_bytes) {
  asr__rnnt_hyps H;            /* every hypothesis of the current frame lives here */
  asr__rnnt_hyps N;            /* B, carried to the next frame */
  asr_real *lpk;
  int *order, *A, *B, nA, nB, n0, cap, t, i, W;
  double *old_lp;
  char *p;
  if (!o || !tokens || !n_tokens || !scorer || T < 0 || V < 1 || blank < 0 || blank >= V || o->beam < 1 ||
      o->max_symbols < 1 || max_tokens < 0)
    return ASR_ERR_INVALID_ARG;
  if (o->beam == 1)             /* NOTE (4): beam 1 is greedy */
    return asr_rnnt_greedy_decode(tokens, n_tokens, logp, max_tokens, scorer, ctx, T, V, blank, o->max_symbols,
                                  work, work_bytes);
  if (!work || work_bytes < asr_rnnt_beam_workspace_size(V, max_tokens, o)) return ASR_ERR_WORKSPACE;
  W = o->beam;
  cap = asr__rnnt_beam_cap(o);
  p = (char *)(((uintptr_t)work + 15u) & ~(uintptr_t)15u);
  asr__rnnt_hyps_carve(&H, &p, cap, max_tokens);
  asr__rnnt_hyps_carve(&N, &p, cap, max_tokens);
  lpk = (asr_real *)p;
  order = (int *)(lpk + V);
  A = order + V;
  B = A + cap;
  old_lp = N.lp;                /* N's doubles hold the frame-start values during the merge */
  N.n = 1;                      /* B = {empty}, Pr(empty) = 1 */
  N.len[0] = 0;
  N.lp[0] = 0;
  for (t = 0; t < T; t++) {
    int pops = 0;
    /* A = B: copy the carried hypotheses into this frame's store */
    H.n = N.n;
    for (i = 0; i < N.n; i++) {
      H.len[i] = N.len[i], H.sym[i] = 0, H.lp[i] = N.lp[i];
      memcpy(H.tok + (size_t)i * H.L, N.tok + (size_t)i * N.L, sizeof(int) * (size_t)N.len[i]);
      A[i] = i;
    }
    nA = n0 = H.n;
    nB = 0;
    if (o->prefix_merge) {
      /* Pr(y) += sum_{yhat in pref(y) & A} Pr(yhat) Pr(y | yhat, t), with frame-start values */
      for (i = 0; i < n0; i++) old_lp[i] = H.lp[i];
      for (i = 0; i < n0; i++) {
        int j;
        for (j = 0; j < n0; j++) {
          int u, ok = H.len[j] < H.len[i];
          double acc;
          if (!ok || memcmp(H.tok + (size_t)j * H.L, H.tok + (size_t)i * H.L, sizeof(int) * (size_t)H.len[j]))
            continue;                                   /* yhat = H[j] is a proper prefix of y = H[i] */
          acc = old_lp[j];
          for (u = H.len[j]; u < H.len[i]; u++) {       /* Pr(y | yhat, t) = prod Pr(y_{u+1} | y[0:u], t) */
            asr_result r = scorer(ctx, lpk, t, H.tok + (size_t)i * H.L, u);
            if (r != ASR_OK) return r;
            acc += lpk[H.tok[(size_t)i * H.L + u]];
          }
          H.lp[i] = asr_logaddexp(H.lp[i], acc);
        }
      }
    }
    for (;;) {
      int best = -1, better = 0, ystar, k, nk;
      double base;
      asr_result r;
      for (i = 0; i < nA; i++)
        if (best < 0 || H.lp[A[i]] > H.lp[A[best]]) best = i;
      if (best < 0) break;
      for (i = 0; i < nB; i++) better += H.lp[B[i]] > H.lp[A[best]];
      if (better >= W || pops >= W * (o->max_symbols + 1)) break;   /* B has W better ones */
      ystar = A[best];
      A[best] = A[--nA];                                /* remove y* from A */
      pops++;
      r = scorer(ctx, lpk, t, H.tok + (size_t)ystar * H.L, H.len[ystar]);
      if (r != ASR_OK) return r;
      base = H.lp[ystar];                               /* NOTE (2): before the blank factor */
      H.lp[ystar] += lpk[blank];                        /* Pr(y*) Pr(blank | y*, t) */
      {
        int same = asr__rnnt_find(&H, B, nB, H.tok + (size_t)ystar * H.L, H.len[ystar]);
        if (same >= 0) H.lp[same] = asr_logaddexp(H.lp[same], H.lp[ystar]);   /* NOTE (3) */
        else B[nB++] = ystar;                           /* add y* to B */
      }
      if (H.sym[ystar] >= o->max_symbols || H.len[ystar] >= max_tokens) continue;
      /* the W most probable labels k extend y* */
      nk = 0;
      for (k = 0; k < V; k++)
        if (k != blank) order[nk++] = k;
      for (i = 0; i < ASR__MIN(W, nk); i++) {           /* partial selection sort */
        int j, m = i;
        for (j = i + 1; j < nk; j++)
          if (lpk[order[j]] > lpk[order[m]]) m = j;
        k = order[i], order[i] = order[m], order[m] = k;
      }
      for (i = 0; i < ASR__MIN(W, nk); i++) {
        int s = H.n, *dst;
        if (s >= H.cap) break;
        dst = H.tok + (size_t)s * H.L;
        memcpy(dst, H.tok + (size_t)ystar * H.L, sizeof(int) * (size_t)H.len[ystar]);
        dst[H.len[ystar]] = order[i];
        if (o->prefix_merge) {                          /* NOTE (1): already merged in */
          int a;
          for (a = 0; a < n0; a++)
            if (H.len[a] == H.len[ystar] + 1 && !memcmp(H.tok + (size_t)a * H.L, dst, sizeof(int) * (size_t)H.len[a]))
              break;
          if (a < n0) continue;
        }
        H.len[s] = H.len[ystar] + 1;
        H.sym[s] = H.sym[ystar] + 1;
        H.lp[s] = base + lpk[order[i]];                 /* Pr(y* + k) = Pr(y*) Pr(k | y*, t) */
        H.n++;
        A[nA++] = s;                                    /* add y* + k to A */
      }
    }
    /* remove all but the W most probable from B, and carry them to the next frame */
    for (i = 0; i < nB; i++) {
      int j, m = i, tmp;
      for (j = i + 1; j < nB; j++)
        if (H.lp[B[j]] > H.lp[B[m]]) m = j;
      tmp = B[i], B[i] = B[m], B[m] = tmp;
    }
    N.n = ASR__MIN(nB, W);
    for (i = 0; i < N.n; i++) {
      N.len[i] = H.len[B[i]], N.lp[i] = H.lp[B[i]];
      memcpy(N.tok + (size_t)i * N.L, H.tok + (size_t)B[i] * H.L, sizeof(int) * (size_t)N.len[i]);
    }
  }
  {
    /* return the y with the highest ln Pr(y) / |y| (or ln Pr(y)) */
    int best = 0;
    for (i = 1; i < N.n; i++) {
      double si = o->length_norm ? N.lp[i] / ASR__MAX(1, N.len[i]) : N.lp[i];
      double sb = o->length_norm ? N.lp[best] / ASR__MAX(1, N.len[best]) : N.lp[best];
      if (si > sb) best = i;
    }
    *n_tokens = N.n ? N.len[best] : 0;
    if (N.n) memcpy(tokens, N.tok + (size_t)best * N.L, sizeof(int) * (size_t)N.len[best]);
    if (logp) *logp = N.n ? N.lp[best] : -INFINITY;
  }
  return ASR_OK;
}

/* ========================================================================================
 * 7. Seq2seq (implementation)
 * ======================================================================================== */

/* ========================================================================================
 * 8. Quantizers (implementation)
 * ======================================================================================== */

/* ---- 8.1 Gumbel noise */
ASRDEF double asr_gumbel_from_uniform(double u) {
  /* the inverse CDF of Gumbel(0,1): F(v) = exp(-exp(-v)) = u  <=>  v = -log(-log u) */
  return -log(-log(u));
}

ASRDEF void asr_gumbel_noise(asr_real *v, size_t n, asr_rng *rng) {
  size_t i;
  for (i = 0; i < n; i++) {
    /* u in [2^-54, 1): a draw that rounded up to exactly 1 (probability 2^-53) would give
     * v = +inf; it is redrawn (a rejection, not a clamp: the distribution is unchanged) */
    double u = asr_rng_uniform(rng);
    while (!(u < 1)) u = asr_rng_uniform(rng);
    v[i] = (asr_real)asr_gumbel_from_uniform(u);
  }
}

ASRDEF asr_result asr_gumbel_noise_from_uniform(asr_real *v, const asr_real *u, size_t n,
                                                asr_error *err) {
  size_t i;
  if (n && (!v || !u)) return asr__fail(err, ASR_ERR_INVALID_ARG, "NULL pointer");
  /* validate every draw first: nothing is written when one is outside (0,1) */
  for (i = 0; i < n; i++)
    if (!(u[i] > 0 && u[i] < 1))
      return asr__fail(err, ASR_ERR_RANGE, "uniform draw %lu is %.9g, outside the open interval (0,1)",
                       (unsigned long)i, (double)u[i]);
  for (i = 0; i < n; i++) v[i] = (asr_real)asr_gumbel_from_uniform((double)u[i]);
  return ASR_OK;
}

/* ---- 8.2 Temperature schedule */
ASRDEF double asr_gumbel_tau(double tau_max, double tau_min, double decay, long step) {
  double t;
  if (step < 0) step = 0;
  t = tau_max * pow(decay, (double)step);       /* tau_max * decay^step */
  return t > tau_min ? t : tau_min;             /* ... floored at tau_min */
}

ASRDEF double asr_gumbel_tau_linear(double tau_max, double tau_min, long step, long anneal_steps) {
  double f = anneal_steps > 0 ? (double)step / (double)anneal_steps : 1.0;
  if (f < 0) f = 0;
  if (f > 1) f = 1;                             /* held at tau_min after the anneal */
  return tau_max + (tau_min - tau_max) * f;
}

/* ---- 8.3 Gumbel-softmax */

/* The checks every tier of the forward makes before writing anything. */
ASR__PRIVATE asr_result asr__gumbel_check(const asr_real *y, const asr_real *p, const asr_real *logits,
                                          const asr_real *noise, double tau, int hard, int n, int V) {
  size_t count;
  if (n < 0 || V < 1 || !(tau > 0) || !isfinite(tau) || (hard != 0 && hard != 1))
    return ASR_ERR_INVALID_ARG;
  if (asr_size_mul((size_t)n, (size_t)V, &count) != ASR_OK) return ASR_ERR_TOO_LARGE;
  if (n == 0) return ASR_OK;
  if (!y || !p || !logits || (hard && y == p)) return ASR_ERR_INVALID_ARG;
  if (!asr_all_finite(logits, count) || (noise && !asr_all_finite(noise, count)))
    return ASR_ERR_NONFINITE;
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__gumbel_check_backward(const asr_real *grad_logits, const asr_real *p,
                                                   const asr_real *grad_y, double tau, int n, int V) {
  size_t count;
  if (n < 0 || V < 1 || !(tau > 0) || !isfinite(tau)) return ASR_ERR_INVALID_ARG;
  if (asr_size_mul((size_t)n, (size_t)V, &count) != ASR_OK) return ASR_ERR_TOO_LARGE;
  if (n == 0) return ASR_OK;
  if (!grad_logits || !p || !grad_y) return ASR_ERR_INVALID_ARG;
  if (!asr_all_finite(p, count) || !asr_all_finite(grad_y, count)) return ASR_ERR_NONFINITE;
  return ASR_OK;
}

/* s_j = (l_j + v_j) / tau in double: the tempered, perturbed logit */
#define ASR__GUMBEL_S(l, v, j, tau) (((double)(l)[j] + ((v) ? (double)(v)[j] : 0.0)) / (tau))

ASRDEF asr_result asr_gumbel_softmax_forward_naive(asr_real *y, asr_real *p, int *index,
                                                   const asr_real *logits, const asr_real *noise,
                                                   double tau, int hard, int n, int V) {
  int r, j;
  asr_result res = asr__gumbel_check(y, p, logits, noise, tau, hard, n, V);
  if (res != ASR_OK || n == 0) return res;
  if ((double)n * V * V > 4e9) return ASR_ERR_TOO_LARGE;
  /* The literal eq. (2) has no max shift: exp((l+v)/tau) overflows past ~709. Check every
   * row's denominator first, so that a refusal writes nothing. */
  for (r = 0; r < n; r++) {
    const asr_real *l = logits + (size_t)r * V, *v = noise ? noise + (size_t)r * V : NULL;
    double sum = 0;
    for (j = 0; j < V; j++) sum += exp(ASR__GUMBEL_S(l, v, j, tau));
    if (!(sum > 0) || !isfinite(sum)) return ASR_ERR_TOO_LARGE;
  }
  for (r = 0; r < n; r++) {
    const asr_real *l = logits + (size_t)r * V, *v = noise ? noise + (size_t)r * V : NULL;
    asr_real *pr = p + (size_t)r * V, *yr = y + (size_t)r * V;
    double sum = 0, best = -1;
    int i = 0;
    /* denominator: sum_k exp((l_k + v_k) / tau) */
    for (j = 0; j < V; j++) sum += exp(ASR__GUMBEL_S(l, v, j, tau));
    for (j = 0; j < V; j++) {
      /* eq. (2): p_j = exp((l_j + v_j) / tau) / sum_k exp((l_k + v_k) / tau) */
      double pj = exp(ASR__GUMBEL_S(l, v, j, tau)) / sum;
      pr[j] = (asr_real)pj;
      if (pj > best) {            /* "i = argmax_j p_j", the first on ties */
        best = pj;
        i = j;
      }
    }
    /* hard: the one-hot of i; soft: y = p */
    for (j = 0; j < V; j++) yr[j] = hard ? (asr_real)(j == i) : pr[j];
    if (index) index[r] = i;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_gumbel_softmax_forward_ref(asr_real *y, asr_real *p, int *index,
                                                 const asr_real *logits, const asr_real *noise,
                                                 double tau, int hard, int n, int V) {
  int r, j;
  asr_result res = asr__gumbel_check(y, p, logits, noise, tau, hard, n, V);
  if (res != ASR_OK || n == 0) return res;
  for (r = 0; r < n; r++) {
    const asr_real *l = logits + (size_t)r * V, *v = noise ? noise + (size_t)r * V : NULL;
    asr_real *pr = p + (size_t)r * V, *yr = y + (size_t)r * V;
    double m = -INFINITY, sum = 0;
    int i = 0;
    /* m = max_j s_j, and its position: argmax p = argmax s since exp is increasing */
    for (j = 0; j < V; j++) {
      double s = ASR__GUMBEL_S(l, v, j, tau);
      if (s > m) {
        m = s;
        i = j;
      }
    }
    /* sum_k exp(s_k - m): every term is in (0,1] and the largest is 1, so no overflow */
    for (j = 0; j < V; j++) sum += exp(ASR__GUMBEL_S(l, v, j, tau) - m);
    /* p_j = exp(s_j - m) / sum_k exp(s_k - m): eq. (2) with e^-m cancelled */
    for (j = 0; j < V; j++) pr[j] = (asr_real)(exp(ASR__GUMBEL_S(l, v, j, tau) - m) / sum);
    for (j = 0; j < V; j++) yr[j] = hard ? (asr_real)(j == i) : pr[j];
    if (index) index[r] = i;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_gumbel_softmax_backward_naive(asr_real *grad_logits, const asr_real *p,
                                                    const asr_real *grad_y, double tau, int n, int V) {
  int r, j, k;
  asr_result res = asr__gumbel_check_backward(grad_logits, p, grad_y, tau, n, V);
  if (res != ASR_OK || n == 0) return res;
  if ((double)n * V * V > 4e9) return ASR_ERR_TOO_LARGE;
  for (r = 0; r < n; r++) {
    const asr_real *pr = p + (size_t)r * V, *g = grad_y + (size_t)r * V;
    asr_real *dl = grad_logits + (size_t)r * V;
    for (k = 0; k < V; k++) {
      double acc = 0;
      /* dL/dl_k = sum_j g_j dp_j/dl_k,  dp_j/dl_k = (1/tau) p_j ([j = k] - p_k) */
      for (j = 0; j < V; j++) acc += (double)g[j] * pr[j] * ((j == k ? 1.0 : 0.0) - pr[k]) / tau;
      dl[k] += (asr_real)acc;
    }
  }
  return ASR_OK;
}

ASRDEF asr_result asr_gumbel_softmax_backward_ref(asr_real *grad_logits, const asr_real *p,
                                                  const asr_real *grad_y, double tau, int n, int V) {
  int r, j;
  asr_result res = asr__gumbel_check_backward(grad_logits, p, grad_y, tau, n, V);
  if (res != ASR_OK || n == 0) return res;
  for (r = 0; r < n; r++) {
    const asr_real *pr = p + (size_t)r * V, *g = grad_y + (size_t)r * V;
    asr_real *dl = grad_logits + (size_t)r * V;
    double dot = 0;
    /* the Jacobian-vector product in O(V): dot = sum_j g_j p_j ... */
    for (j = 0; j < V; j++) dot += (double)g[j] * pr[j];
    /* ... dL/dl_k = p_k (g_k - dot) / tau */
    for (j = 0; j < V; j++) dl[j] += (asr_real)((double)pr[j] * ((double)g[j] - dot) / tau);
  }
  return ASR_OK;
}

#if defined(ASR_SIMD_AVX2) && !ASR_REAL_DOUBLE
/* exp(x) for 8 floats, the Cephes expf scheme: x = n ln2 + r with n = round(x / ln2) and
 * |r| <= ln2/2 (ln2 split in two constants so that n ln2 is exact), exp(r) by a degree-5
 * polynomial, 2^n placed in the exponent bits. About 2 ulp; returns 0 below about -87.7
 * (the true value is a denormal), exactly 1 at x = 0. */
ASR__PRIVATE __m256 asr__vq_exp_avx2(__m256 x) {
  __m256 fx, r, z, y;
  __m256i e;
  x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
  x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
  fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);       /* x - n * ln2_hi */
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);    /*   - n * ln2_lo */
  z = _mm256_mul_ps(r, r);
  y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_add_ps(_mm256_fmadd_ps(y, z, r), _mm256_set1_ps(1.0f));   /* 1 + r + r^2 P(r) */
  e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));                      /* times 2^n */
}

/* The sum of 8 floats in double. */
ASR__PRIVATE double asr__vq_hsum_pd_avx2(__m256d a) {
  double t[4];
  _mm256_storeu_pd(t, a);
  return (t[0] + t[1]) + (t[2] + t[3]);
}

ASR__PRIVATE void asr__gumbel_forward_avx2(asr_real *y, asr_real *p, int *index, const float *logits,
                                           const float *noise, double tau, int hard, int n, int V) {
  const float inv_tau = (float)(1.0 / tau);
  int r, j;
  for (r = 0; r < n; r++) {
    const float *l = logits + (size_t)r * V, *v = noise ? noise + (size_t)r * V : NULL;
    float *pr = p + (size_t)r * V, *yr = y + (size_t)r * V, m, scale;
    __m256 vmax = _mm256_set1_ps(-INFINITY), vinv = _mm256_set1_ps(inv_tau);
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    double sum;
    int i = 0;
    /* pass 1: s = (l + v) / tau into p, and its max */
    for (j = 0; j + 8 <= V; j += 8) {
      __m256 s = _mm256_loadu_ps(l + j);
      if (v) s = _mm256_add_ps(s, _mm256_loadu_ps(v + j));
      s = _mm256_mul_ps(s, vinv);
      _mm256_storeu_ps(pr + j, s);
      vmax = _mm256_max_ps(vmax, s);
    }
    {
      float t[8];
      _mm256_storeu_ps(t, vmax);
      m = t[0];
      for (i = 1; i < 8; i++) m = t[i] > m ? t[i] : m;
    }
    for (; j < V; j++) {
      pr[j] = (l[j] + (v ? v[j] : 0.0f)) * inv_tau;
      if (pr[j] > m) m = pr[j];
    }
    for (i = 0; i < V && pr[i] != m; i++) {}     /* the first position of the max */
    /* pass 2: exp(s - m), summed in double */
    {
      __m256 vm = _mm256_set1_ps(m);
      for (j = 0; j + 8 <= V; j += 8) {
        __m256 e = asr__vq_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(pr + j), vm));
        _mm256_storeu_ps(pr + j, e);
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
      }
      sum = asr__vq_hsum_pd_avx2(_mm256_add_pd(acc0, acc1));
      for (; j < V; j++) {
        pr[j] = (float)exp((double)pr[j] - m);
        sum += pr[j];
      }
    }
    /* pass 3: normalise */
    scale = (float)(1.0 / sum);
    {
      __m256 vs = _mm256_set1_ps(scale);
      for (j = 0; j + 8 <= V; j += 8) _mm256_storeu_ps(pr + j, _mm256_mul_ps(_mm256_loadu_ps(pr + j), vs));
      for (; j < V; j++) pr[j] *= scale;
    }
    if (hard) {
      for (j = 0; j < V; j++) yr[j] = 0;
      yr[i] = 1;
    } else if (yr != pr) {
      memcpy(yr, pr, sizeof(float) * (size_t)V);
    }
    if (index) index[r] = i;
  }
}

ASR__PRIVATE void asr__gumbel_backward_avx2(float *grad_logits, const float *p, const float *grad_y,
                                            double tau, int n, int V) {
  int r, j;
  for (r = 0; r < n; r++) {
    const float *pr = p + (size_t)r * V, *g = grad_y + (size_t)r * V;
    float *dl = grad_logits + (size_t)r * V;
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    __m256 vdot, vinv;
    double dot;
    for (j = 0; j + 8 <= V; j += 8) {
      __m256 gp = _mm256_mul_ps(_mm256_loadu_ps(g + j), _mm256_loadu_ps(pr + j));
      acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(gp)));
      acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(gp, 1)));
    }
    dot = asr__vq_hsum_pd_avx2(_mm256_add_pd(acc0, acc1));
    for (; j < V; j++) dot += (double)g[j] * pr[j];
    /* dl += p (g - dot) / tau */
    vdot = _mm256_set1_ps((float)dot);
    vinv = _mm256_set1_ps((float)(1.0 / tau));
    for (j = 0; j + 8 <= V; j += 8) {
      __m256 t = _mm256_mul_ps(_mm256_loadu_ps(pr + j), _mm256_sub_ps(_mm256_loadu_ps(g + j), vdot));
      _mm256_storeu_ps(dl + j, _mm256_fmadd_ps(t, vinv, _mm256_loadu_ps(dl + j)));
    }
    for (; j < V; j++) dl[j] += (float)((double)pr[j] * ((double)g[j] - dot) / tau);
  }
}
#endif

ASRDEF asr_result asr_gumbel_softmax_forward(asr_real *y, asr_real *p, int *index,
                                             const asr_real *logits, const asr_real *noise,
                                             double tau, int hard, int n, int V) {
#if defined(ASR_SIMD_AVX2) && !ASR_REAL_DOUBLE
  asr_result res = asr__gumbel_check(y, p, logits, noise, tau, hard, n, V);
  if (res != ASR_OK || n == 0) return res;
  asr__gumbel_forward_avx2(y, p, index, logits, noise, tau, hard, n, V);
  return ASR_OK;
#else
  return asr_gumbel_softmax_forward_ref(y, p, index, logits, noise, tau, hard, n, V);
#endif
}

ASRDEF asr_result asr_gumbel_softmax_backward(asr_real *grad_logits, const asr_real *p,
                                              const asr_real *grad_y, double tau, int n, int V) {
#if defined(ASR_SIMD_AVX2) && !ASR_REAL_DOUBLE
  asr_result res = asr__gumbel_check_backward(grad_logits, p, grad_y, tau, n, V);
  if (res != ASR_OK || n == 0) return res;
  asr__gumbel_backward_avx2(grad_logits, p, grad_y, tau, n, V);
  return ASR_OK;
#else
  return asr_gumbel_softmax_backward_ref(grad_logits, p, grad_y, tau, n, V);
#endif
}

/* ---- 8.4 Code perplexity and diversity */

/* -sum_v p_v log(p_v + eps), with 0 log 0 = 0 */
ASR__PRIVATE double asr__entropy(const double *pv, int V, double eps) {
  double h = 0;
  int v;
  for (v = 0; v < V; v++)
    if (pv[v] > 0 || eps > 0) h -= pv[v] * log(pv[v] + eps);
  return h;
}

ASRDEF double asr_code_perplexity(double *per_group, const int *index, int N, int G, int V,
                                  double eps) {
  double total = 0;
  int g, n, v;
  if (N < 1 || G < 1 || V < 1 || !index) return 0;
  for (g = 0; g < G; g++) {
    double h = 0;
    /* q_g(v) = (1/N) #{n : index[n,g] = v}; H = -sum_v q log(q + eps); out-of-range
     * indices are not counted */
    for (v = 0; v < V; v++) {
      double q;
      int count = 0;
      for (n = 0; n < N; n++) count += index[(size_t)n * G + g] == v;
      q = (double)count / N;
      if (q > 0 || eps > 0) h -= q * log(q + eps);
    }
    if (per_group) per_group[g] = exp(h);       /* perplexity exp(H) */
    total += exp(h);
  }
  return total;
}

ASR__PRIVATE asr_result asr__diversity_check(const asr_real *logits_or_probs, int N, int G, int V,
                                             double eps, asr_diversity_form form, size_t *count) {
  size_t gv;
  if (N < 1 || G < 1 || V < 1) return ASR_ERR_SHAPE;
  if (!(eps >= 0) || !isfinite(eps) || (form != ASR_DIVERSITY_PERPLEXITY && form != ASR_DIVERSITY_ENTROPY))
    return ASR_ERR_INVALID_ARG;
  if (asr_size_mul((size_t)G, (size_t)V, &gv) != ASR_OK || asr_size_mul(gv, (size_t)N, count) != ASR_OK)
    return ASR_ERR_TOO_LARGE;
  if (!logits_or_probs) return ASR_ERR_INVALID_ARG;
  if (!asr_all_finite(logits_or_probs, *count)) return ASR_ERR_NONFINITE;
  return ASR_OK;
}

ASRDEF asr_result asr_diversity_forward(double *loss, double *prob_perplexity, asr_real *probs,
                                        asr_real *avg_probs, const asr_real *logits, int N, int G,
                                        int V, double eps, asr_diversity_form form) {
  size_t count, r;
  double ppl = 0, negent = 0, gv;
  int g, v, n;
  asr_result res = asr__diversity_check(logits, N, G, V, eps, form, &count);
  if (res != ASR_OK) return res;
  if (!loss || !probs || !avg_probs) return ASR_ERR_INVALID_ARG;
  gv = (double)G * V;
  /* s = softmax of every (frame, group) row: no noise, no temperature */
  for (r = 0; r < (size_t)N * G; r++) asr_softmax(probs + r * V, logits + r * V, V);
  for (g = 0; g < G; g++) {
    double h = 0;
    for (v = 0; v < V; v++) {
      /* pbar_gv = (1/N) sum_n s_{n,g,v}, in double */
      double sum = 0, pb;
      for (n = 0; n < N; n++) sum += probs[((size_t)n * G + g) * V + v];
      pb = sum / N;
      avg_probs[(size_t)g * V + v] = (asr_real)pb;
      if (pb > 0 || eps > 0) h -= pb * log(pb + eps);     /* H(pbar_g) */
    }
    ppl += exp(h);           /* prob_perplexity = sum_g exp(H_g) */
    negent -= h;
  }
  /* fairseq: (GV - ppl)/GV;  [Baevski20w2v] eq. (4): (1/GV) sum_g -H_g */
  *loss = form == ASR_DIVERSITY_PERPLEXITY ? (gv - ppl) / gv : negent / gv;
  if (prob_perplexity) *prob_perplexity = ppl;
  return ASR_OK;
}

ASRDEF size_t asr_diversity_workspace_size(int G, int V) {
  if (G < 1 || V < 1) return 0;
  return 2 * sizeof(double) * (size_t)G * (size_t)V;
}

ASRDEF asr_result asr_diversity_backward(asr_real *grad_logits, const asr_real *probs,
                                         double grad_loss, int N, int G, int V, double eps,
                                         asr_diversity_form form, void *work, size_t work_bytes) {
  size_t count;
  double *pbar = (double *)work, *a, gv;
  int g, v, n;
  asr_result res = asr__diversity_check(probs, N, G, V, eps, form, &count);
  if (res != ASR_OK) return res;
  if (!grad_logits || !isfinite(grad_loss)) return ASR_ERR_INVALID_ARG;
  if (!work || work_bytes < asr_diversity_workspace_size(G, V)) return ASR_ERR_WORKSPACE;
  a = pbar + (size_t)G * V;
  gv = (double)G * V;
  /* pbar again, in double from the saved probs (a float copy could round a tiny
   * average to 0 and make its log infinite) */
  for (g = 0; g < G; g++)
    for (v = 0; v < V; v++) {
      double sum = 0;
      for (n = 0; n < N; n++) sum += probs[((size_t)n * G + g) * V + v];
      pbar[(size_t)g * V + v] = sum / N;
    }
  for (g = 0; g < G; g++) {
    const double *pb = pbar + (size_t)g * V;
    double scale = 1.0 / gv;
    /* perplexity form: L = (GV - sum_g exp(H_g))/GV, so dL/dpbar = -(exp(H_g)/GV) dH/dpbar
     * with dH/dpbar = -(log(pbar + eps) + pbar/(pbar + eps)); entropy form: exp(H_g) -> 1 */
    if (form == ASR_DIVERSITY_PERPLEXITY) scale *= exp(asr__entropy(pb, V, eps));
    for (v = 0; v < V; v++)
      a[(size_t)g * V + v] = pb[v] > 0 || eps > 0 ? scale * (log(pb[v] + eps) + pb[v] / (pb[v] + eps)) : 0;
  }
  for (n = 0; n < N; n++)
    for (g = 0; g < G; g++) {
      const asr_real *s = probs + ((size_t)n * G + g) * V;
      const double *ag = a + (size_t)g * V;
      asr_real *dl = grad_logits + ((size_t)n * G + g) * V;
      double dot = 0;
      /* dL/ds_v = a_gv / N; softmax backward: dl_k = s_k (dL/ds_k - sum_v s_v dL/ds_v).
       * Entries with s = 0 contribute 0 (this also skips a = log 0 when eps = 0). */
      for (v = 0; v < V; v++)
        if (s[v] != 0) dot += (double)s[v] * ag[v];
      for (v = 0; v < V; v++)
        if (s[v] != 0) dl[v] += (asr_real)(grad_loss * (double)s[v] * (ag[v] - dot) / N);
    }
  return ASR_OK;
}

/* ---- 8.5 The Gumbel quantizer module */
ASR__PRIVATE asr_result asr__gq_check(const asr_gumbel_quantizer *c) {
  size_t t;
  if (!c) return ASR_ERR_INVALID_ARG;
  if (c->in_dim < 1 || c->hidden < 1 || c->groups < 1 || c->vars < 1 || c->entry_dim < 1)
    return ASR_ERR_SHAPE;
  if ((c->shared != 0 && c->shared != 1) || (c->hard != 0 && c->hard != 1) || !(c->tau > 0) ||
      !isfinite(c->tau))
    return ASR_ERR_INVALID_ARG;
  /* every size product must fit: G*V*H, H*D, G*V*E */
  if (asr_size_mul((size_t)c->groups * (size_t)c->vars, (size_t)c->hidden, &t) != ASR_OK ||
      asr_size_mul((size_t)c->hidden, (size_t)c->in_dim, &t) != ASR_OK ||
      asr_size_mul((size_t)c->groups * (size_t)c->vars, (size_t)c->entry_dim, &t) != ASR_OK ||
      (size_t)c->groups * (size_t)c->vars > (size_t)0x7fffffff ||
      (size_t)c->groups * (size_t)c->entry_dim > (size_t)0x7fffffff)
    return ASR_ERR_TOO_LARGE;
  return ASR_OK;
}

ASRDEF asr_result asr_gumbel_quantizer_sizes(const asr_gumbel_quantizer *cfg, size_t counts[5]) {
  asr_result r = asr__gq_check(cfg);
  size_t gv;
  if (r != ASR_OK) return r;
  gv = (size_t)cfg->groups * (size_t)cfg->vars;
  counts[0] = (size_t)cfg->hidden * (size_t)cfg->in_dim;                  /* w1 (H,D) */
  counts[1] = (size_t)cfg->hidden;                                         /* b1 (H) */
  counts[2] = gv * (size_t)cfg->hidden;                                    /* w2 (GV,H) */
  counts[3] = gv;                                                          /* b2 (GV) */
  counts[4] = (cfg->shared ? (size_t)cfg->vars : gv) * (size_t)cfg->entry_dim;  /* codebook */
  return ASR_OK;
}

ASRDEF asr_result asr_gumbel_quantizer_init(const asr_gumbel_quantizer_params *w,
                                            const asr_gumbel_quantizer *cfg, asr_rng *rng) {
  size_t c[5], i;
  double b1 = 0, b2 = 0;
  asr_result r = asr_gumbel_quantizer_sizes(cfg, c);
  if (r != ASR_OK) return r;
  if (!w || !w->w1 || !w->b1 || !w->w2 || !w->b2 || !w->codebook || !rng) return ASR_ERR_INVALID_ARG;
  b1 = 1.0 / sqrt((double)cfg->in_dim);     /* nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
  b2 = 1.0 / sqrt((double)cfg->hidden);
  for (i = 0; i < c[0]; i++) w->w1[i] = (asr_real)(b1 * (2 * asr_rng_uniform(rng) - 1));
  for (i = 0; i < c[1]; i++) w->b1[i] = (asr_real)(b1 * (2 * asr_rng_uniform(rng) - 1));
  for (i = 0; i < c[2]; i++) w->w2[i] = (asr_real)(b2 * (2 * asr_rng_uniform(rng) - 1));
  for (i = 0; i < c[3]; i++) w->b2[i] = (asr_real)(b2 * (2 * asr_rng_uniform(rng) - 1));
  for (i = 0; i < c[4]; i++) w->codebook[i] = (asr_real)asr_rng_uniform(rng);   /* fairseq: U(0,1) */
  return ASR_OK;
}

ASRDEF asr_result asr_gumbel_quantizer_forward(asr_real *q, int *index, asr_real *h,
                                               asr_real *logits, asr_real *p, const asr_real *z,
                                               const asr_real *noise,
                                               const asr_gumbel_quantizer_params *w,
                                               const asr_gumbel_quantizer *cfg, int N) {
  size_t c[5], nd, nh, ngv;
  int D, H, G, V, E, GV, n, g, j;
  asr_result r = asr_gumbel_quantizer_sizes(cfg, c);
  if (r != ASR_OK) return r;
  if (N < 0 || !w || !w->w1 || !w->b1 || !w->w2 || !w->b2 || !w->codebook) return ASR_ERR_INVALID_ARG;
  if (N == 0) return ASR_OK;
  if (!q || !index || !h || !logits || !p || !z) return ASR_ERR_INVALID_ARG;
  D = cfg->in_dim, H = cfg->hidden, G = cfg->groups, V = cfg->vars, E = cfg->entry_dim, GV = G * V;
  if (asr_size_mul((size_t)N, (size_t)D, &nd) != ASR_OK || asr_size_mul((size_t)N, (size_t)H, &nh) != ASR_OK ||
      asr_size_mul((size_t)N, (size_t)GV, &ngv) != ASR_OK || (size_t)N * G > (size_t)0x7fffffff)
    return ASR_ERR_TOO_LARGE;
  if (!asr_all_finite(z, nd) || (noise && !asr_all_finite(noise, ngv)) || !asr_all_finite(w->w1, c[0]) ||
      !asr_all_finite(w->b1, c[1]) || !asr_all_finite(w->w2, c[2]) || !asr_all_finite(w->b2, c[3]) ||
      !asr_all_finite(w->codebook, c[4]))
    return ASR_ERR_NONFINITE;
  /* h = ReLU(z W1^T + b1) */
  asr_gemm(0, 1, N, H, D, 1, z, D, w->w1, D, 0, h, H);
  for (n = 0; n < N; n++)
    for (j = 0; j < H; j++) {
      asr_real *hv = h + (size_t)n * H + j;
      *hv += w->b1[j];
      if (!(*hv > 0)) *hv = 0;
    }
  /* l = h W2^T + b2, (N, G*V) = N*G rows of V logits */
  asr_gemm(0, 1, N, GV, H, 1, h, H, w->w2, H, 0, logits, GV);
  for (n = 0; n < N; n++)
    for (j = 0; j < GV; j++) logits[(size_t)n * GV + j] += w->b2[j];
  /* p = Gumbel-softmax of every row, index = argmax (l + v). The module keeps p and
   * builds the one-hot from the index itself, so the soft call serves both modes. */
  r = asr_gumbel_softmax_forward(p, p, index, logits, noise, cfg->tau, 0, N * G, V);
  if (r != ASR_OK) return r;         /* logits overflowed to inf: reported, nothing else */
  for (g = 0; g < G; g++) {
    const asr_real *cb = w->codebook + (cfg->shared ? 0 : (size_t)g * V * E);
    if (cfg->hard) {
      /* q_{n,g} = e_{g, i_{n,g}}: the codebook lookup of the one-hot */
      for (n = 0; n < N; n++)
        memcpy(q + (size_t)n * G * E + (size_t)g * E, cb + (size_t)index[(size_t)n * G + g] * E,
               sizeof(asr_real) * (size_t)E);
    } else {
      /* q_{n,g} = sum_v p_{n,g,v} e_{g,v}: (N,V) x (V,E) */
      asr_gemm(0, 0, N, E, V, 1, p + (size_t)g * V, GV, cb, E, 0, q + (size_t)g * E, G * E);
    }
  }
  return ASR_OK;
}

ASRDEF size_t asr_gumbel_quantizer_workspace_size(const asr_gumbel_quantizer *cfg, int N) {
  size_t per_row, total;
  if (asr__gq_check(cfg) != ASR_OK || N < 0) return 0;
  /* dy (N,GV) + dl (N,GV) + dh (N,H) */
  per_row = 2 * (size_t)cfg->groups * (size_t)cfg->vars + (size_t)cfg->hidden;
  if (asr_size_mul(per_row, (size_t)N, &total) != ASR_OK ||
      asr_size_mul(total, sizeof(asr_real), &total) != ASR_OK)
    return (size_t)-1;
  return total;
}

/* column sums of a (N,C) matrix, added into b (C), in double */
ASR__PRIVATE void asr__colsum_add(asr_real *b, const asr_real *a, int N, int C) {
  int n, j;
  for (j = 0; j < C; j++) {
    double s = 0;
    for (n = 0; n < N; n++) s += a[(size_t)n * C + j];
    b[j] += (asr_real)s;
  }
}

ASRDEF asr_result asr_gumbel_quantizer_backward(asr_real *dz, const asr_gumbel_quantizer_params *grad,
                                                const asr_real *dq, const asr_real *dlogits_extra,
                                                const asr_real *z, const asr_real *h,
                                                const asr_real *p, const int *index,
                                                const asr_gumbel_quantizer_params *w,
                                                const asr_gumbel_quantizer *cfg, int N, void *work,
                                                size_t work_bytes) {
  size_t c[5], ngv, nge, t;
  int D, H, G, V, E, GV, n, g, j;
  asr_real *dy, *dl, *dh;
  asr_result r = asr_gumbel_quantizer_sizes(cfg, c);
  if (r != ASR_OK) return r;
  if (N < 0 || !w || !w->w1 || !w->w2 || !w->codebook) return ASR_ERR_INVALID_ARG;
  if (N == 0) return ASR_OK;
  if (!dq || !z || !h || !p || !index) return ASR_ERR_INVALID_ARG;
  if (!work || work_bytes < asr_gumbel_quantizer_workspace_size(cfg, N)) return ASR_ERR_WORKSPACE;
  D = cfg->in_dim, H = cfg->hidden, G = cfg->groups, V = cfg->vars, E = cfg->entry_dim, GV = G * V;
  ngv = (size_t)N * GV;
  nge = (size_t)N * G * E;
  if (!asr_all_finite(dq, nge) || (dlogits_extra && !asr_all_finite(dlogits_extra, ngv)))
    return ASR_ERR_NONFINITE;
  for (t = 0; t < (size_t)N * G; t++)
    if (index[t] < 0 || index[t] >= V) return ASR_ERR_RANGE;
  dy = (asr_real *)work;
  dl = dy + ngv;
  dh = dl + ngv;
  for (g = 0; g < G; g++) {
    const asr_real *cb = w->codebook + (cfg->shared ? 0 : (size_t)g * V * E);
    asr_real *dcb = grad && grad->codebook ? grad->codebook + (cfg->shared ? 0 : (size_t)g * V * E) : NULL;
    /* dy_{n,g,v} = <e_{g,v}, dq_{n,g}> for every v: (N,E) x (E,V) */
    asr_gemm(0, 1, N, V, E, 1, dq + (size_t)g * E, G * E, cb, E, 0, dy + (size_t)g * V, GV);
    if (!dcb) continue;
    if (cfg->hard) {
      /* de_{g,i} += dq_{n,g}: the one-hot selects one entry per frame */
      for (n = 0; n < N; n++) {
        asr_real *d = dcb + (size_t)index[(size_t)n * G + g] * E;
        const asr_real *s = dq + (size_t)n * G * E + (size_t)g * E;
        for (j = 0; j < E; j++) d[j] += s[j];
      }
    } else {
      /* de_g += P_g^T dq_g: (V,N) x (N,E) */
      asr_gemm(1, 0, V, E, N, 1, p + (size_t)g * V, GV, dq + (size_t)g * E, G * E, 1, dcb, E);
    }
  }
  /* dl = J_p^T dy (the same for the soft and the straight-through hard sample) + extra */
  memset(dl, 0, sizeof(asr_real) * ngv);
  r = asr_gumbel_softmax_backward(dl, p, dy, cfg->tau, N * G, V);
  if (r != ASR_OK) return r;
  if (dlogits_extra)
    for (t = 0; t < ngv; t++) dl[t] += dlogits_extra[t];
  /* second linear: dW2 += dl^T h, db2 += sum_n dl */
  if (grad && grad->w2) asr_gemm(1, 0, GV, H, N, 1, dl, GV, h, H, 1, grad->w2, H);
  if (grad && grad->b2) asr__colsum_add(grad->b2, dl, N, GV);
  if (!dz && !(grad && (grad->w1 || grad->b1))) return ASR_OK;
  /* dh = (dl W2) * [h > 0]: the ReLU passes gradient where it was active */
  asr_gemm(0, 0, N, H, GV, 1, dl, GV, w->w2, H, 0, dh, H);
  for (t = 0; t < (size_t)N * H; t++)
    if (!(h[t] > 0)) dh[t] = 0;
  /* first linear: dW1 += dh^T z, db1 += sum_n dh, dz += dh W1 */
  if (grad && grad->w1) asr_gemm(1, 0, H, D, N, 1, dh, H, z, D, 1, grad->w1, D);
  if (grad && grad->b1) asr__colsum_add(grad->b1, dh, N, H);
  if (dz) asr_gemm(0, 0, N, D, H, 1, dh, H, w->w1, D, 1, dz, D);
  return ASR_OK;
}

/* ---- 8.6 k-means VQ */
enum { ASR__VQ_ROWS = 64 };   /* rows per GEMM block of the fast path */

ASR__PRIVATE asr_result asr__vq_check(const int *index, const asr_real *z, const asr_real *codebook,
                                      int N, int D, int G, int K, int shared, double gamma) {
  size_t nd, ck;
  if (N < 0 || D < 1 || G < 1 || K < 1 || D % G != 0) return ASR_ERR_SHAPE;
  if (!(gamma >= 0) || !isfinite(gamma) || (shared != 0 && shared != 1)) return ASR_ERR_INVALID_ARG;
  if (asr_size_mul((size_t)N, (size_t)D, &nd) != ASR_OK ||
      asr_size_mul((size_t)(shared ? 1 : G) * (size_t)K, (size_t)(D / G), &ck) != ASR_OK ||
      (size_t)N * G > (size_t)0x7fffffff)
    return ASR_ERR_TOO_LARGE;
  if (!codebook || (N > 0 && (!z || !index))) return ASR_ERR_INVALID_ARG;
  if (!asr_all_finite(codebook, ck) || (N > 0 && !asr_all_finite(z, nd))) return ASR_ERR_NONFINITE;
  return ASR_OK;
}

/* ||a - b||^2 over E values, summed in double in index order (the _ref distance; the
 * fast path re-measures its candidates with this same function). */
ASR__PRIVATE double asr__sqdist(const asr_real *a, const asr_real *b, int E) {
  double s = 0;
  int e;
  for (e = 0; e < E; e++) {
    double d = (double)a[e] - (double)b[e];
    s += d * d;
  }
  return s;
}

/* Writes zq and the loss once every index is known; sum_sq = sum_{n,g} ||z - e_i||^2. */
ASR__PRIVATE void asr__vq_finish(asr_real *zq, asr_vq_loss *loss, const int *index, const asr_real *codebook,
                                 int N, int D, int G, int K, int shared, double gamma, double sum_sq) {
  int E = D / G, n, g;
  if (zq)
    for (n = 0; n < N; n++)
      for (g = 0; g < G; g++) {
        const asr_real *cb = codebook + (shared ? 0 : (size_t)g * K * E);
        /* the forward value of z + sg(e_i - z) is e_i, written exactly */
        memcpy(zq + (size_t)n * D + (size_t)g * E, cb + (size_t)index[(size_t)n * G + g] * E,
               sizeof(asr_real) * (size_t)E);
      }
  if (loss) {
    double m = N > 0 ? sum_sq / ((double)N * D) : 0;   /* MSE mean over N*D elements */
    loss->codebook = m;
    loss->commitment = m;
    loss->total = m + gamma * m;
  }
}

ASRDEF size_t asr_vq_workspace_size(int K) {
  if (K < 1) return 0;
  return sizeof(asr_real) * ((size_t)ASR__VQ_ROWS * (size_t)K + (size_t)K);
}

ASRDEF asr_result asr_vq_forward_naive(int *index, asr_real *zq, asr_vq_loss *loss,
                                       const asr_real *z, const asr_real *codebook, int N, int D,
                                       int G, int K, int shared, double gamma, void *work,
                                       size_t work_bytes) {
  int E, n, g, j, d;
  double cb_term = 0, commit_term = 0;
  asr_result r = asr__vq_check(index, z, codebook, N, D, G, K, shared, gamma);
  (void)work;
  (void)work_bytes;
  if (r != ASR_OK) return r;
  if ((double)N * G * K * (D / G) > 268435456.0) return ASR_ERR_TOO_LARGE;
  E = D / G;
  for (n = 0; n < N; n++)
    for (g = 0; g < G; g++) {
      const asr_real *zg = z + (size_t)n * D + (size_t)g * E;
      const asr_real *cb = codebook + (shared ? 0 : (size_t)g * K * E);
      double best = INFINITY;
      int i = 0;
      /* i = argmin_j ||z - e_j||_2, the distance with its square root as fairseq's .norm() */
      for (j = 0; j < K; j++) {
        double s = 0;
        for (d = 0; d < E; d++) s += ((double)zg[d] - cb[(size_t)j * E + d]) * ((double)zg[d] - cb[(size_t)j * E + d]);
        if (sqrt(s) < best) {
          best = sqrt(s);
          i = j;
        }
      }
      index[(size_t)n * G + g] = i;
      /* the two terms of eq. (3) one element at a time: ||sg(z) - z^||^2 and ||z - sg(z^)||^2 */
      for (d = 0; d < E; d++) {
        double zhat = cb[(size_t)i * E + d], zv = zg[d];
        cb_term += (zv - zhat) * (zv - zhat);
        commit_term += (zv - zhat) * (zv - zhat);
      }
    }
  if (zq) asr__vq_finish(zq, NULL, index, codebook, N, D, G, K, shared, gamma, 0);
  if (loss) {
    loss->codebook = N > 0 ? cb_term / ((double)N * D) : 0;
    loss->commitment = N > 0 ? commit_term / ((double)N * D) : 0;
    loss->total = loss->codebook + gamma * loss->commitment;
  }
  return ASR_OK;
}

ASRDEF asr_result asr_vq_forward_ref(int *index, asr_real *zq, asr_vq_loss *loss,
                                     const asr_real *z, const asr_real *codebook, int N, int D,
                                     int G, int K, int shared, double gamma, void *work,
                                     size_t work_bytes) {
  int E, n, g, j;
  double sum_sq = 0;
  asr_result r = asr__vq_check(index, z, codebook, N, D, G, K, shared, gamma);
  (void)work;
  (void)work_bytes;
  if (r != ASR_OK) return r;
  E = D / G;
  for (n = 0; n < N; n++)
    for (g = 0; g < G; g++) {
      const asr_real *zg = z + (size_t)n * D + (size_t)g * E;
      const asr_real *cb = codebook + (shared ? 0 : (size_t)g * K * E);
      double best = INFINITY;
      int i = 0;
      /* i = argmin_j ||z - e_j||^2 (the first on ties) */
      for (j = 0; j < K; j++) {
        double s = asr__sqdist(zg, cb + (size_t)j * E, E);
        if (s < best) {
          best = s;
          i = j;
        }
      }
      index[(size_t)n * G + g] = i;
      sum_sq += best;            /* ||z - e_i||^2: both loss terms have this value */
    }
  asr__vq_finish(zq, loss, index, codebook, N, D, G, K, shared, gamma, sum_sq);
  return ASR_OK;
}

ASRDEF asr_result asr_vq_forward(int *index, asr_real *zq, asr_vq_loss *loss, const asr_real *z,
                                 const asr_real *codebook, int N, int D, int G, int K, int shared,
                                 double gamma, void *work, size_t work_bytes) {
#if defined(ASR_SIMD_AVX2) && !ASR_REAL_DOUBLE
  int E, n0, n, g, j;
  double sum_sq = 0;
  asr_real *dots, *norms;
  const double u = 5.9604644775390625e-8;    /* float unit roundoff 2^-24 */
  asr_result r = asr__vq_check(index, z, codebook, N, D, G, K, shared, gamma);
  if (r != ASR_OK) return r;
  if (!work || work_bytes < asr_vq_workspace_size(K)) return ASR_ERR_WORKSPACE;
  E = D / G;
  dots = (asr_real *)work;
  norms = dots + (size_t)ASR__VQ_ROWS * K;
  for (g = 0; g < G; g++) {
    const asr_real *cb = codebook + (shared ? 0 : (size_t)g * K * E);
    for (j = 0; j < K; j++) {
      double s = 0;
      int e;
      for (e = 0; e < E; e++) s += (double)cb[(size_t)j * E + e] * cb[(size_t)j * E + e];
      norms[j] = (asr_real)s;                                  /* ||e_j||^2 */
    }
    for (n0 = 0; n0 < N; n0 += ASR__VQ_ROWS) {
      int rows = ASR__MIN(ASR__VQ_ROWS, N - n0);
      /* dots[r][j] = <z_{n0+r}, e_j> for a block of rows: the GEMM does the O(N K E) work */
      asr_gemm(0, 1, rows, K, E, 1, z + (size_t)n0 * D + (size_t)g * E, D, cb, E, 0, dots, K);
      for (n = 0; n < rows; n++) {
        const asr_real *zg = z + (size_t)(n0 + n) * D + (size_t)g * E;
        const asr_real *dr = dots + (size_t)n * K;
        double zz = 0, best = INFINITY, amin = INFINITY, bmin = 0;
        int e, i = 0;
        for (e = 0; e < E; e++) zz += (double)zg[e] * zg[e];   /* ||z||^2 */
        /* approximate ||z - e_j||^2 - ||z||^2 = ||e_j||^2 - 2 <z, e_j>, and its minimum */
        for (j = 0; j < K; j++) {
          double a = (double)norms[j] - 2.0 * dr[j];
          if (a < amin) {
            amin = a;
            bmin = (E + 4) * u * (zz + norms[j]);
          }
        }
        /* every j whose approximation is within the rounding bounds of the minimum may be
         * the true nearest: |error| <= (E + 4) u (||z||^2 + ||e_j||^2) for a float dot of
         * length E. Re-measure those directly, in double, in index order. */
        for (j = 0; j < K; j++) {
          double a = (double)norms[j] - 2.0 * dr[j];
          if (a - (E + 4) * u * (zz + norms[j]) <= amin + bmin) {
            double s = asr__sqdist(zg, cb + (size_t)j * E, E);
            if (s < best) {
              best = s;
              i = j;
            }
          }
        }
        index[(size_t)(n0 + n) * G + g] = i;
      }
    }
  }
  /* the loss sums the same per-vector distances in the same (n, g) order as _ref */
  if (loss) {
    for (n = 0; n < N; n++)
      for (g = 0; g < G; g++) {
        const asr_real *cb = codebook + (shared ? 0 : (size_t)g * K * E);
        sum_sq += asr__sqdist(z + (size_t)n * D + (size_t)g * E, cb + (size_t)index[(size_t)n * G + g] * E, E);
      }
  }
  asr__vq_finish(zq, loss, index, codebook, N, D, G, K, shared, gamma, sum_sq);
  return ASR_OK;
#else
  return asr_vq_forward_ref(index, zq, loss, z, codebook, N, D, G, K, shared, gamma, work, work_bytes);
#endif
}

ASR__PRIVATE asr_result asr__vq_check_backward(const int *index, const asr_real *z, const asr_real *codebook,
                                               const asr_real *dzq, double dloss, int N, int D, int G,
                                               int K, int shared, double gamma) {
  asr_result r = asr__vq_check(index, z, codebook, N, D, G, K, shared, gamma);
  size_t j;
  if (r != ASR_OK) return r;
  if (!isfinite(dloss)) return ASR_ERR_INVALID_ARG;
  if (dzq && !asr_all_finite(dzq, (size_t)N * D)) return ASR_ERR_NONFINITE;
  for (j = 0; j < (size_t)N * G; j++)
    if (index[j] < 0 || index[j] >= K) return ASR_ERR_RANGE;
  return ASR_OK;
}

ASRDEF asr_result asr_vq_backward_naive(asr_real *dz, asr_real *dcodebook, const asr_real *dzq,
                                        double dloss, const int *index, const asr_real *z,
                                        const asr_real *codebook, int N, int D, int G, int K,
                                        int shared, double gamma) {
  int E, n, g, j, d;
  double nd;
  asr_result r = asr__vq_check_backward(index, z, codebook, dzq, dloss, N, D, G, K, shared, gamma);
  if (r != ASR_OK || N == 0) return r;
  if ((double)N * G * K * (D / G) > 268435456.0) return ASR_ERR_TOO_LARGE;
  E = D / G;
  nd = (double)N * D;
  for (n = 0; n < N; n++)
    for (g = 0; g < G; g++) {
      const asr_real *cb = codebook + (shared ? 0 : (size_t)g * K * E);
      int i = index[(size_t)n * G + g];
      for (d = 0; d < E; d++) {
        size_t at = (size_t)n * D + (size_t)g * E + d;
        double zv = z[at], zhat = cb[(size_t)i * E + d];
        if (dz) {
          /* d/dz of z + sg(e - z) is 1: the output gradient passes straight through */
          double v = dzq ? (double)dzq[at] : 0.0;
          /* d/dz of gamma (1/ND) sum (z - sg(z^))^2 */
          v += dloss * gamma * 2.0 * (zv - zhat) / nd;
          /* (d/dz of (1/ND) sum (sg(z) - z^)^2 is 0) */
          dz[at] += (asr_real)v;
        }
        if (dcodebook)
          /* d/de_j of (1/ND) sum (sg(z) - z^)^2 with z^ = e_i: only j = i has a term
           * (d/de of z + sg(e - z) and of the commitment term are 0) */
          for (j = 0; j < K; j++) {
            asr_real *de = dcodebook + (shared ? 0 : (size_t)g * K * E) + (size_t)j * E + d;
            double ind = (j == i) ? 1.0 : 0.0;
            *de += (asr_real)(ind * dloss * 2.0 * (zhat - zv) / nd);
          }
      }
    }
  return ASR_OK;
}

ASRDEF asr_result asr_vq_backward_ref(asr_real *dz, asr_real *dcodebook, const asr_real *dzq,
                                      double dloss, const int *index, const asr_real *z,
                                      const asr_real *codebook, int N, int D, int G, int K,
                                      int shared, double gamma) {
  int E, n, g, d;
  double cz, ce;
  asr_result r = asr__vq_check_backward(index, z, codebook, dzq, dloss, N, D, G, K, shared, gamma);
  if (r != ASR_OK || N == 0) return r;
  E = D / G;
  cz = dloss * gamma * 2.0 / ((double)N * D);     /* commitment: 2 gamma (z - e) / (N D) */
  ce = dloss * 2.0 / ((double)N * D);             /* codebook:   2 (e - z) / (N D) */
  for (n = 0; n < N; n++)
    for (g = 0; g < G; g++) {
      size_t off = (size_t)(shared ? 0 : g) * K * E + (size_t)index[(size_t)n * G + g] * E;
      const asr_real *e = codebook + off, *zg = z + (size_t)n * D + (size_t)g * E;
      const asr_real *dq = dzq ? dzq + (size_t)n * D + (size_t)g * E : NULL;
      if (dz) {
        asr_real *dzg = dz + (size_t)n * D + (size_t)g * E;
        for (d = 0; d < E; d++) dzg[d] += (asr_real)((dq ? (double)dq[d] : 0.0) + cz * ((double)zg[d] - e[d]));
      }
      if (dcodebook) {
        asr_real *de = dcodebook + off;
        for (d = 0; d < E; d++) de[d] += (asr_real)(ce * ((double)e[d] - zg[d]));
      }
    }
  return ASR_OK;
}

ASRDEF asr_result asr_vq_backward(asr_real *dz, asr_real *dcodebook, const asr_real *dzq,
                                  double dloss, const int *index, const asr_real *z,
                                  const asr_real *codebook, int N, int D, int G, int K, int shared,
                                  double gamma) {
  return asr_vq_backward_ref(dz, dcodebook, dzq, dloss, index, z, codebook, N, D, G, K, shared, gamma);
}

/* ---- 8.7 k-means fitting */
ASRDEF double asr_kmeans_objective(int *assign, const asr_real *x, int N, int D, int ldx,
                                   const asr_real *codebook, int K) {
  double J = 0;
  int n, k;
  if (N < 1 || K < 1 || D < 1 || !x || !codebook) return 0;
  for (n = 0; n < N; n++) {
    double best = INFINITY;
    int bi = 0;
    for (k = 0; k < K; k++) {
      double d = asr__sqdist(x + (size_t)n * ldx, codebook + (size_t)k * D, D);
      if (d < best) {          /* nearest centre, the first on ties */
        best = d;
        bi = k;
      }
    }
    if (assign) assign[n] = bi;
    J += best;                 /* J = sum_n min_k ||x_n - c_k||^2 */
  }
  return J;
}

ASR__PRIVATE asr_result asr__kmeans_check(const asr_real *codebook, const asr_real *x, int N, int D,
                                          int ldx, int K) {
  size_t i, nx;
  int n;
  if (K < 1 || D < 1 || ldx < D || N < K) return ASR_ERR_SHAPE;
  if (!codebook || !x) return ASR_ERR_INVALID_ARG;
  if (asr_size_mul((size_t)N, (size_t)ldx, &nx) != ASR_OK || asr_size_mul((size_t)K, (size_t)D, &i) != ASR_OK)
    return ASR_ERR_TOO_LARGE;
  for (n = 0; n < N; n++)
    if (!asr_all_finite(x + (size_t)n * ldx, (size_t)D)) return ASR_ERR_NONFINITE;
  return ASR_OK;
}

ASRDEF size_t asr_kmeans_plusplus_workspace_size(int N) {
  return N > 0 ? sizeof(double) * (size_t)N : 0;
}

ASRDEF asr_result asr_kmeans_plusplus(asr_real *codebook, const asr_real *x, int N, int D, int ldx,
                                      int K, asr_rng *rng, void *work, size_t work_bytes) {
  double *d2 = (double *)work;
  int n, k, pick;
  asr_result r = asr__kmeans_check(codebook, x, N, D, ldx, K);
  if (r != ASR_OK) return r;
  if (!rng) return ASR_ERR_INVALID_ARG;
  if (!work || work_bytes < asr_kmeans_plusplus_workspace_size(N)) return ASR_ERR_WORKSPACE;
  /* c_1: a point drawn uniformly */
  pick = asr_rng_int(rng, N);
  memcpy(codebook, x + (size_t)pick * ldx, sizeof(asr_real) * (size_t)D);
  for (n = 0; n < N; n++) d2[n] = asr__sqdist(x + (size_t)n * ldx, codebook, D);
  for (k = 1; k < K; k++) {
    double total = 0, target, cum = 0;
    for (n = 0; n < N; n++) total += d2[n];
    if (total > 0) {
      /* D^2 sampling: P(x_n) = D(x_n)^2 / sum_m D(x_m)^2, by inverting the cumulative sum */
      target = asr_rng_uniform(rng) * total;
      pick = -1;
      for (n = 0; n < N; n++) {
        if (d2[n] > 0) pick = n;         /* the last candidate, should rounding run past */
        cum += d2[n];
        if (cum > target && d2[n] > 0) break;
      }
    } else {
      pick = asr_rng_int(rng, N);        /* every point sits on a centre: any will do */
    }
    memcpy(codebook + (size_t)k * D, x + (size_t)pick * ldx, sizeof(asr_real) * (size_t)D);
    /* D(x)^2 = distance to the nearest centre chosen so far */
    for (n = 0; n < N; n++) {
      double d = asr__sqdist(x + (size_t)n * ldx, codebook + (size_t)k * D, D);
      if (d < d2[n]) d2[n] = d;
    }
  }
  return ASR_OK;
}

/* One Lloyd run from the centres in c; fills cur (N), returns J and the counts. */
ASR__PRIVATE double asr__kmeans_run(asr_real *c, int *cur, double *dist, double *sums, int *counts,
                                    const asr_real *x, int N, int D, int ldx, int K, int max_iter,
                                    double tol, double *history, int *iterations, int *converged,
                                    int *reseeded) {
  int t, n, k, d;
  double J = 0, Jprev = INFINITY;
  *converged = 0;
  *reseeded = 0;
  for (t = 0;; t++) {
    int changed = 0;
    /* assignment step: every point to its nearest centre */
    J = 0;
    for (k = 0; k < K; k++) counts[k] = 0;
    for (n = 0; n < N; n++) {
      double best = INFINITY;
      int bi = 0;
      for (k = 0; k < K; k++) {
        double dd = asr__sqdist(x + (size_t)n * ldx, c + (size_t)k * D, D);
        if (dd < best) {
          best = dd;
          bi = k;
        }
      }
      if (t == 0 || cur[n] != bi) changed++;
      cur[n] = bi;
      dist[n] = best;
      counts[bi]++;
      J += best;
    }
    /* empty clusters: move the centre onto the point farthest from its own centre, taken
     * from a cluster that keeps at least one point; J drops by that point's distance */
    for (k = 0; k < K; k++) {
      int far = -1;
      if (counts[k] > 0) continue;
      for (n = 0; n < N; n++)
        if (counts[cur[n]] >= 2 && (far < 0 || dist[n] > dist[far])) far = n;
      if (far < 0) break;                /* cannot happen with N >= K */
      J -= dist[far];
      counts[cur[far]]--;
      cur[far] = k;
      counts[k] = 1;
      dist[far] = 0;
      memcpy(c + (size_t)k * D, x + (size_t)far * ldx, sizeof(asr_real) * (size_t)D);
      changed++;
      (*reseeded)++;
    }
    if (history) history[t] = J;
    *iterations = t + 1;
    /* stop at a fixed point (the means would not move), by tol, or at max_iter */
    if (t > 0 && changed == 0) {
      *converged = 1;
      break;
    }
    if (t > 0 && tol > 0 && Jprev - J <= tol * Jprev) {
      *converged = 1;
      break;
    }
    if (t == max_iter) break;
    Jprev = J;
    /* update step: c_k = mean of its points (sums in double) */
    for (k = 0; k < K * D; k++) sums[k] = 0;
    for (n = 0; n < N; n++)
      for (d = 0; d < D; d++) sums[(size_t)cur[n] * D + d] += x[(size_t)n * ldx + d];
    for (k = 0; k < K; k++)
      for (d = 0; d < D; d++) c[(size_t)k * D + d] = (asr_real)(sums[(size_t)k * D + d] / counts[k]);
  }
  return J;
}

ASRDEF asr_result asr_kmeans_fit(asr_real *codebook, int *assign, asr_kmeans_report *rep,
                                 const asr_real *x, int N, int D, int ldx, int K,
                                 const asr_kmeans_opts *opts, asr_rng *rng, void *user,
                                 asr_error *err) {
  int max_iter = opts && opts->max_iter > 0 ? opts->max_iter : 100;
  int init = opts ? opts->init : ASR_KMEANS_INIT_PLUSPLUS;
  int restarts = opts && opts->restarts > 0 ? opts->restarts : 1;
  double tol = opts && opts->tol > 0 ? opts->tol : 0;
  double *history = opts ? opts->history : NULL;
  int *cur = NULL, *counts = NULL, *best_assign = NULL, run;
  double *dist = NULL, *sums = NULL, *hist = NULL, best_J = INFINITY;
  asr_real *c = NULL;
  asr_kmeans_report best;
  asr_result r = asr__kmeans_check(codebook, x, N, D, ldx, K);
  if (r == ASR_ERR_SHAPE)
    return asr__fail(err, r, "k-means: need K >= 1, D >= 1, ldx >= D and at least K points (N %d, K %d, D %d, ldx %d)",
                     N, K, D, ldx);
  if (r == ASR_ERR_NONFINITE) return asr__fail(err, r, "k-means: NaN or infinity in the data");
  if (r != ASR_OK) return asr__fail(err, r, "k-means: %s", asr_result_string(r));
  if (init < ASR_KMEANS_INIT_PLUSPLUS || init > ASR_KMEANS_INIT_GIVEN)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "k-means: unknown init %d", init);
  if (init != ASR_KMEANS_INIT_GIVEN && !rng)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "k-means: random seeding needs an asr_rng");
  if (init == ASR_KMEANS_INIT_GIVEN) {
    if (!asr_all_finite(codebook, (size_t)K * D))
      return asr__fail(err, ASR_ERR_NONFINITE, "k-means: NaN or infinity in the given centres");
    restarts = 1;                        /* a given start is a single run */
  }
  memset(&best, 0, sizeof best);
  cur = ASR__ALLOC(int, N, user);
  best_assign = ASR__ALLOC(int, N, user);
  counts = ASR__ALLOC(int, K, user);
  dist = ASR__ALLOC(double, N, user);
  sums = ASR__ALLOC(double, (size_t)K * D, user);
  c = ASR__ALLOC(asr_real, (size_t)K * D, user);
  hist = ASR__ALLOC(double, (size_t)max_iter + 1, user);
  if (!cur || !best_assign || !counts || !dist || !sums || !c || !hist) {
    r = asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "k-means: out of memory");
    goto done;
  }
  for (run = 0; run < restarts; run++) {
    asr_kmeans_report rr;
    double J;
    int k;
    memset(&rr, 0, sizeof rr);
    if (init == ASR_KMEANS_INIT_GIVEN) {
      memcpy(c, codebook, sizeof(asr_real) * (size_t)K * D);
    } else if (init == ASR_KMEANS_INIT_PLUSPLUS) {
      r = asr_kmeans_plusplus(c, x, N, D, ldx, K, rng, dist, sizeof(double) * (size_t)N);
      if (r != ASR_OK) goto done;
    } else {
      /* K distinct points: the first K of a partial Fisher-Yates shuffle of 0..N-1 */
      int n;
      for (n = 0; n < N; n++) cur[n] = n;
      for (k = 0; k < K; k++) {
        int j = k + asr_rng_int(rng, N - k), t = cur[k];
        cur[k] = cur[j];
        cur[j] = t;
        memcpy(c + (size_t)k * D, x + (size_t)cur[k] * ldx, sizeof(asr_real) * (size_t)D);
      }
    }
    J = asr__kmeans_run(c, cur, dist, sums, counts, x, N, D, ldx, K, max_iter, tol, hist, &rr.iterations,
                        &rr.converged, &rr.reseeded);
    rr.objective = J;
    if (run == 0 || J < best_J) {
      best_J = J;
      best = rr;
      memcpy(codebook, c, sizeof(asr_real) * (size_t)K * D);
      memcpy(best_assign, cur, sizeof(int) * (size_t)N);
      if (history) memcpy(history, hist, sizeof(double) * (size_t)rr.iterations);
    }
  }
  if (assign) memcpy(assign, best_assign, sizeof(int) * (size_t)N);
  if (rep) *rep = best;
  r = ASR_OK;
done:
  ASR_FREE(cur, user);
  ASR_FREE(best_assign, user);
  ASR_FREE(counts, user);
  ASR_FREE(dist, user);
  ASR_FREE(sums, user);
  ASR_FREE(c, user);
  ASR_FREE(hist, user);
  return r;
}

/* ========================================================================================
 * 9. Training (implementation)
 * ======================================================================================== */

ASRDEF int asr_text_encode(const char *text, int *ids, int cap, asr_error *err) {
  int n = 0, pos = 0, pending_space = 0;
  for (; *text; text++, pos++) {
    unsigned char c = (unsigned char)*text;
    const char *hit;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      pending_space = n > 0;        /* a space only between two characters */
      continue;
    }
    if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
    hit = c && c != '_' ? strchr(ASR_CHARSET, c) : NULL;
    if (!hit)
      return (int)asr__fail(err, ASR_ERR_RANGE, "character '%c' (byte 0x%02x) at position %d is not in the "
                            "character set (a-z, space, apostrophe)", c >= 32 && c < 127 ? c : '?', c, pos);
    if (n + pending_space + 1 > cap) return (int)asr__fail(err, ASR_ERR_TOO_LARGE, "text longer than %d tokens", cap);
    if (pending_space) ids[n++] = 1;
    pending_space = 0;
    ids[n++] = (int)(hit - ASR_CHARSET);
  }
  return n;
}

ASRDEF int asr_text_decode(const int *ids, int n, char *out, size_t cap) {
  size_t len = 0;
  int i;
  if (cap == 0) return -1;
  for (i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= ASR_CHARSET_SIZE) return -1;
    if (ids[i] == 0) continue;
    if (ids[i] == 1 && (len == 0 || out[len - 1] == ' ')) continue;   /* leading or doubled space */
    if (len + 1 >= cap) return -1;
    out[len++] = ASR_CHARSET[ids[i]];
  }
  if (len && out[len - 1] == ' ') len--;                              /* trailing space */
  out[len] = 0;
  return (int)len;
}

ASRDEF int asr_edit_distance(const int *ref, int nr, const int *hyp, int nh, int *work) {
  int i, j;
  for (j = 0; j <= nh; j++) work[j] = j;                 /* D(0,j) = j */
  for (i = 1; i <= nr; i++) {
    int diag = work[0];                                  /* D(i-1,j-1) */
    work[0] = i;                                         /* D(i,0) = i */
    for (j = 1; j <= nh; j++) {
      int up = work[j];                                  /* D(i-1,j) */
      int best = ASR__MIN(up + 1, work[j - 1] + 1);
      best = ASR__MIN(best, diag + (ref[i - 1] != hyp[j - 1]));
      diag = up;
      work[j] = best;
    }
  }
  return work[nh];
}

/* Edit distance over tokens given by (start, length) pairs, compared as strings. */
ASR__PRIVATE int asr__token_distance(const char *ref, const int *rs, const int *rl, int nr, const char *hyp,
                                     const int *hs, const int *hl, int nh, int *work) {
  int i, j;
  for (j = 0; j <= nh; j++) work[j] = j;
  for (i = 1; i <= nr; i++) {
    int diag = work[0];
    work[0] = i;
    for (j = 1; j <= nh; j++) {
      int up = work[j];
      int same = rl[i - 1] == hl[j - 1] && memcmp(ref + rs[i - 1], hyp + hs[j - 1], (size_t)rl[i - 1]) == 0;
      int best = ASR__MIN(up + 1, work[j - 1] + 1);
      best = ASR__MIN(best, diag + !same);
      diag = up;
      work[j] = best;
    }
  }
  return work[nh];
}

/* Splits s into tokens: characters (words = 0) or space-separated words (words = 1).
 * Writes starts and lengths; returns the count. */
ASR__PRIVATE int asr__tokens(const char *s, int words, int *start, int *len) {
  int n = 0, i = 0;
  while (s[i]) {
    if (words && s[i] == ' ') {
      i++;
      continue;
    }
    start[n] = i;
    if (words)
      while (s[i] && s[i] != ' ') i++;
    else
      i++;
    len[n] = i - start[n];
    n++;
  }
  return n;
}

ASR__PRIVATE void asr__error_counts(const char *ref, const char *hyp, int words, int *work, long *errors,
                                    long *ref_len) {
  int lr = (int)strlen(ref), lh = (int)strlen(hyp), nr, nh;
  int *rs = work, *rl = rs + lr + 1, *hs = rl + lr + 1, *hl = hs + lh + 1, *row = hl + lh + 1;
  nr = asr__tokens(ref, words, rs, rl);
  nh = asr__tokens(hyp, words, hs, hl);
  *errors += asr__token_distance(ref, rs, rl, nr, hyp, hs, hl, nh, row);
  *ref_len += nr;
}

ASRDEF void asr_cer_counts(const char *ref, const char *hyp, int *work, long *errors, long *ref_len) {
  asr__error_counts(ref, hyp, 0, work, errors, ref_len);
}

ASRDEF void asr_wer_counts(const char *ref, const char *hyp, int *work, long *errors, long *ref_len) {
  asr__error_counts(ref, hyp, 1, work, errors, ref_len);
}

/* ---- parameters */
ASRDEF void asr_params_init(asr_params *p, void *user) {
  memset(p, 0, sizeof *p);
  p->user = user;
}

ASRDEF int asr_params_add(asr_params *p, const char *name, int ndim, const int64_t *shape) {
  asr_param *it;
  size_t count = 1;
  int d;
  if (p->data || ndim < 0 || ndim > 4 || strlen(name) >= sizeof p->items[0].name) return ASR_ERR_INVALID_ARG;
  if (asr_params_find(p, name) >= 0) return ASR_ERR_INVALID_ARG;
  for (d = 0; d < ndim; d++) {
    if (shape[d] < 0) return ASR_ERR_INVALID_ARG;
    if (asr_size_mul(count, (size_t)shape[d], &count) != ASR_OK) return ASR_ERR_TOO_LARGE;
  }
  if (p->count == p->cap) {
    int ncap = p->cap ? 2 * p->cap : 32;
    asr_param *ni = ASR__ALLOC(asr_param, ncap, p->user);
    if (!ni) return ASR_ERR_OUT_OF_MEMORY;
    if (p->count) memcpy(ni, p->items, sizeof *ni * (size_t)p->count);
    ASR_FREE(p->items, p->user);
    p->items = ni;
    p->cap = ncap;
  }
  it = &p->items[p->count];
  memset(it, 0, sizeof *it);
  strcpy(it->name, name);
  it->ndim = ndim;
  for (d = 0; d < ndim; d++) it->shape[d] = shape[d];
  it->offset = p->total;
  it->count = count;
  if (p->total + count < p->total) return ASR_ERR_TOO_LARGE;
  p->total += count;
  return p->count++;
}

ASRDEF asr_result asr_params_alloc(asr_params *p) {
  size_t bytes;
  if (asr_size_mul(p->total ? p->total : 1, sizeof(asr_real), &bytes) != ASR_OK) return ASR_ERR_TOO_LARGE;
  p->data = (asr_real *)ASR_MALLOC(bytes, p->user);
  p->grad = (asr_real *)ASR_MALLOC(bytes, p->user);
  if (!p->data || !p->grad) {
    ASR_FREE(p->data, p->user);
    ASR_FREE(p->grad, p->user);
    p->data = p->grad = NULL;
    return ASR_ERR_OUT_OF_MEMORY;
  }
  memset(p->data, 0, bytes);
  memset(p->grad, 0, bytes);
  return ASR_OK;
}

ASRDEF void asr_params_free(asr_params *p) {
  ASR_FREE(p->items, p->user);
  ASR_FREE(p->data, p->user);
  ASR_FREE(p->grad, p->user);
  asr_params_init(p, p->user);
}

ASRDEF asr_real *asr_params_ptr(const asr_params *p, int index) {
  return p->data && index >= 0 && index < p->count ? p->data + p->items[index].offset : NULL;
}

ASRDEF asr_real *asr_params_grad_ptr(const asr_params *p, int index) {
  return p->grad && index >= 0 && index < p->count ? p->grad + p->items[index].offset : NULL;
}

ASRDEF int asr_params_find(const asr_params *p, const char *name) {
  int i;
  for (i = 0; i < p->count; i++)
    if (strcmp(p->items[i].name, name) == 0) return i;
  return -1;
}

ASRDEF void asr_params_zero_grad(asr_params *p) {
  if (p->grad) memset(p->grad, 0, sizeof(asr_real) * p->total);
}

ASRDEF void asr_params_init_uniform(asr_params *p, asr_rng *rng) {
  int i;
  for (i = 0; i < p->count; i++) {
    const asr_param *it = &p->items[i];
    double fan_in = 1, bound;
    size_t k;
    int d;
    if (it->ndim < 2) continue;
    for (d = 1; d < it->ndim; d++) fan_in *= (double)it->shape[d];
    bound = 1.0 / sqrt(fan_in > 0 ? fan_in : 1);
    for (k = 0; k < it->count; k++)
      p->data[it->offset + k] = (asr_real)(bound * (2 * asr_rng_uniform(rng) - 1));
  }
}

ASRDEF asr_result asr_checkpoint_save(const char *path, const asr_params *params,
                                      const asr_params *buffers, const char *config_json,
                                      asr_error *err) {
  const asr_params *stores[2];
  asr_npz_writer w;
  asr_result r;
  float *tmp = NULL;
  size_t tmp_cap = 0;
  int s, i;
  stores[0] = params;
  stores[1] = buffers;
  r = asr_npz_writer_open(&w, path, NULL, err);
  if (r != ASR_OK) return r;
  for (s = 0; s < 2; s++) {
    const asr_params *p = stores[s];
    if (!p) continue;
    for (i = 0; i < p->count; i++) {
      const asr_param *it = &p->items[i];
      size_t k;
      /* tensors are stored as float32 whatever asr_real is, like a PyTorch state_dict */
      if (it->count > tmp_cap) {
        ASR_FREE(tmp, NULL);
        tmp_cap = it->count;
        tmp = ASR__ALLOC(float, tmp_cap, NULL);
        if (!tmp) {
          asr_npz_writer_abort(&w);
          return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        }
      }
      for (k = 0; k < it->count; k++) tmp[k] = (float)p->data[it->offset + k];
      r = asr_npz_writer_add(&w, it->name, ASR_DTYPE_F32, it->ndim, it->shape, tmp, err);
      if (r != ASR_OK) {
        ASR_FREE(tmp, NULL);
        asr_npz_writer_abort(&w);
        return r;
      }
    }
  }
  ASR_FREE(tmp, NULL);
  if (config_json) {
    int64_t n = (int64_t)strlen(config_json);
    r = asr_npz_writer_add(&w, "config", ASR_DTYPE_U8, 1, &n, config_json, err);
    if (r != ASR_OK) {
      asr_npz_writer_abort(&w);
      return r;
    }
  }
  return asr_npz_writer_close(&w, err);
}

ASRDEF asr_result asr_checkpoint_load(const char *path, asr_params *params, asr_params *buffers,
                                      char **config_json, void *user, asr_error *err) {
  asr_params *stores[2];
  asr_npz z;
  asr_result r;
  int s, i;
  stores[0] = params;
  stores[1] = buffers;
  if (config_json) *config_json = NULL;
  r = asr_npz_read(path, &z, user, err);
  if (r != ASR_OK) return r;
  /* check everything first: nothing is changed unless the whole checkpoint fits */
  for (s = 0; s < 2; s++) {
    const asr_params *p = stores[s];
    if (!p) continue;
    for (i = 0; i < p->count; i++) {
      const asr_param *it = &p->items[i];
      const asr_array *a = asr_npz_get(&z, it->name);
      int d, same = a && a->ndim == it->ndim && (a->dtype == ASR_DTYPE_F32 || a->dtype == ASR_DTYPE_F64);
      for (d = 0; same && d < it->ndim; d++) same = a->shape[d] == it->shape[d];
      if (!a || !same) {
        asr_npz_free(&z, user);
        return asr__fail(err, a ? ASR_ERR_SHAPE : ASR_ERR_FORMAT, "%s: %s '%s'", path,
                         a ? "wrong shape or dtype for" : "missing tensor", it->name);
      }
    }
  }
  for (i = 0; i < z.count; i++) {
    int known = strcmp(z.names[i], "config") == 0;
    for (s = 0; s < 2 && !known; s++) known = stores[s] && asr_params_find(stores[s], z.names[i]) >= 0;
    if (!known) {
      r = asr__fail(err, ASR_ERR_FORMAT, "%s: unexpected tensor '%s' (not part of this model)", path, z.names[i]);
      asr_npz_free(&z, user);
      return r;
    }
  }
  for (s = 0; s < 2; s++) {
    asr_params *p = stores[s];
    if (!p) continue;
    for (i = 0; i < p->count; i++) {
      const asr_param *it = &p->items[i];
      asr_array_to_real(asr_npz_get(&z, it->name), p->data + it->offset, 1, NULL);
    }
  }
  if (config_json) {
    const asr_array *c = asr_npz_get(&z, "config");
    if (c && c->dtype == ASR_DTYPE_U8) {
      *config_json = ASR__ALLOC(char, c->count + 1, user);
      if (!*config_json) {
        asr_npz_free(&z, user);
        return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
      }
      memcpy(*config_json, c->data, c->count);
      (*config_json)[c->count] = 0;
    }
  }
  asr_npz_free(&z, user);
  return ASR_OK;
}

/* ---- recipes */

/* The recipe table. A recipe is a name, an encoder, a head and the default sizes; the
 * encoders and the heads are written once each below, so a new recipe is a new row.
 * Sizes: ctc-contextnet 310k parameters, ctc-conformer 421k, rnnt 432k. */
typedef struct asr__recipe_row {
  const char *name;
  asr_model_encoder encoder;
  asr_model_head head;
  int channels, blocks, layers, kernel, heads, ff_dim, pred_dim, context, joint_dim;
} asr__recipe_row;
static const asr__recipe_row asr__recipes[] = {
  /* name            encoder                 head           C    blk lay K   H  FF   P   ctx J */
  {"ctc-contextnet", ASR_ENCODER_CONTEXTNET, ASR_HEAD_CTC,  128, 4,  3,  5,  4, 256, 64, 2, 64},
  {"ctc-conformer",  ASR_ENCODER_CONFORMER,  ASR_HEAD_CTC,  64,  3,  3,  15, 4, 256, 64, 2, 64},
  {"rnnt",           ASR_ENCODER_CONFORMER,  ASR_HEAD_RNNT, 64,  3,  3,  15, 4, 256, 64, 2, 64},
};
#define ASR__N_RECIPES (int)(sizeof asr__recipes / sizeof asr__recipes[0])
static const char *const asr__encoder_names[2] = {"contextnet", "conformer"};
static const char *const asr__head_names[2] = {"ctc", "rnnt"};

ASRDEF const char *asr_model_recipe_name(int i) {
  return i >= 0 && i < ASR__N_RECIPES ? asr__recipes[i].name : NULL;
}

ASRDEF asr_result asr_model_config_default(asr_model_config *c, const char *recipe) {
  const asr__recipe_row *r = NULL;
  int i;
  memset(c, 0, sizeof *c);
  for (i = 0; i < ASR__N_RECIPES; i++)
    if (recipe && strcmp(recipe, asr__recipes[i].name) == 0) r = &asr__recipes[i];
  if (!r) return ASR_ERR_INVALID_ARG;
  strcpy(c->recipe, r->name);
  c->encoder = r->encoder;
  c->head = r->head;
  c->sample_rate = 16000;
  c->n_mels = 80;
  c->vocab = ASR_CHARSET_SIZE;
  c->channels = r->channels;
  c->blocks = r->blocks;
  c->layers = r->layers;
  c->kernel = r->kernel;
  c->heads = r->heads;
  c->ff_dim = r->ff_dim;
  c->pred_dim = r->pred_dim;
  c->context = r->context;
  c->joint_dim = r->joint_dim;
  return ASR_OK;
}

/* The integer fields of asr_model_config by name, for the JSON text, and who uses them:
 * every model (-1), one encoder (ASR__CFG_ENC + the encoder), or one head (ASR__CFG_HEAD
 * + the head); -2: every model, written only when not 0 (so checkpoints from before the
 * field existed are byte for byte what they were). Only the fields the model uses are
 * written. */
#define ASR__CFG_ENC 10
#define ASR__CFG_HEAD 20
typedef struct asr__cfg_field {
  const char *name;
  size_t offset;
  int used_by;
} asr__cfg_field;
static const asr__cfg_field asr__cfg_fields[] = {
  {"sample_rate", offsetof(asr_model_config, sample_rate), -1},
  {"n_mels", offsetof(asr_model_config, n_mels), -1},
  {"vocab", offsetof(asr_model_config, vocab), -1},
  {"channels", offsetof(asr_model_config, channels), -1},
  {"blocks", offsetof(asr_model_config, blocks), -1},
  {"layers", offsetof(asr_model_config, layers), ASR__CFG_ENC + ASR_ENCODER_CONTEXTNET},
  {"kernel", offsetof(asr_model_config, kernel), -1},
  {"heads", offsetof(asr_model_config, heads), ASR__CFG_ENC + ASR_ENCODER_CONFORMER},
  {"ff_dim", offsetof(asr_model_config, ff_dim), ASR__CFG_ENC + ASR_ENCODER_CONFORMER},
  {"pred_dim", offsetof(asr_model_config, pred_dim), ASR__CFG_HEAD + ASR_HEAD_RNNT},
  {"context", offsetof(asr_model_config, context), ASR__CFG_HEAD + ASR_HEAD_RNNT},
  {"joint_dim", offsetof(asr_model_config, joint_dim), ASR__CFG_HEAD + ASR_HEAD_RNNT},
  {"pad_ms", offsetof(asr_model_config, pad_ms), -2},
};
#define ASR__CFG_NFIELDS (int)(sizeof asr__cfg_fields / sizeof asr__cfg_fields[0])

ASRDEF int asr_model_config_to_json(const asr_model_config *c, char *buf, size_t cap) {
  size_t n = 0;
  int i, w, enc = c->encoder == ASR_ENCODER_CONFORMER, head = c->head == ASR_HEAD_RNNT;
  w = snprintf(buf, cap, "{\"recipe\": \"%s\", \"encoder\": \"%s\", \"head\": \"%s\"", c->recipe,
               asr__encoder_names[enc], asr__head_names[head]);
  n += (size_t)(w > 0 ? w : 0);
  for (i = 0; i < ASR__CFG_NFIELDS; i++) {
    const int *v = (const int *)(const void *)((const char *)c + asr__cfg_fields[i].offset);
    int u = asr__cfg_fields[i].used_by;
    if (u >= ASR__CFG_HEAD ? u - ASR__CFG_HEAD != (int)c->head : u >= ASR__CFG_ENC && u - ASR__CFG_ENC != (int)c->encoder)
      continue;
    if (u == -2 && *v == 0) continue;
    w = snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, ", \"%s\": %d", asr__cfg_fields[i].name, *v);
    n += (size_t)(w > 0 ? w : 0);
  }
  w = snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "}");
  n += (size_t)(w > 0 ? w : 0);
  return (int)n;
}

ASRDEF asr_result asr_model_config_from_json(asr_model_config *c, const char *json, asr_error *err) {
  asr__scan sc;
  char key[64], recipe[32], name[32];
  asr_model_config out;
  int have_recipe = 0;
  /* two passes: the recipe's defaults first, then every key over them */
  sc.p = json;
  sc.end = json + strlen(json);
  if (!asr__scan_char(&sc, '{')) return asr__fail(err, ASR_ERR_FORMAT, "model config: not a JSON object");
  while (!have_recipe && asr__scan_string(&sc, key, sizeof key) && asr__scan_char(&sc, ':')) {
    if (strcmp(key, "recipe") == 0) {
      if (!asr__scan_string(&sc, recipe, sizeof recipe))
        return asr__fail(err, ASR_ERR_FORMAT, "model config: recipe is not a string");
      have_recipe = 1;
    } else {
      while (sc.p < sc.end && *sc.p != ',' && *sc.p != '}') sc.p++;
    }
    asr__scan_char(&sc, ',');
  }
  if (!have_recipe) return asr__fail(err, ASR_ERR_FORMAT, "model config: no \"recipe\"");
  if (asr_model_config_default(&out, recipe) != ASR_OK)
    return asr__fail(err, ASR_ERR_UNSUPPORTED, "model config: unknown recipe '%s'", recipe);
  sc.p = json;
  asr__scan_char(&sc, '{');
  while (!asr__scan_char(&sc, '}')) {
    int i;
    if (!asr__scan_string(&sc, key, sizeof key) || !asr__scan_char(&sc, ':'))
      return asr__fail(err, ASR_ERR_FORMAT, "model config: expected \"key\": value");
    if (strcmp(key, "recipe") == 0) {
      asr__scan_string(&sc, recipe, sizeof recipe);
    } else if (strcmp(key, "encoder") == 0 || strcmp(key, "head") == 0) {
      int is_enc = key[0] == 'e';
      const char *const *names = is_enc ? asr__encoder_names : asr__head_names;
      if (!asr__scan_string(&sc, name, sizeof name))
        return asr__fail(err, ASR_ERR_FORMAT, "model config: '%s' is not a string", key);
      for (i = 0; i < 2; i++)
        if (strcmp(name, names[i]) == 0) break;
      if (i == 2) return asr__fail(err, ASR_ERR_UNSUPPORTED, "model config: unknown %s '%s'", key, name);
      if (is_enc) out.encoder = (asr_model_encoder)i;
      else out.head = (asr_model_head)i;
    } else {
      long v;
      char *end;
      for (i = 0; i < ASR__CFG_NFIELDS; i++)
        if (strcmp(key, asr__cfg_fields[i].name) == 0) break;
      if (i == ASR__CFG_NFIELDS) return asr__fail(err, ASR_ERR_FORMAT, "model config: unknown key '%s'", key);
      asr__scan_ws(&sc);
      v = strtol(sc.p, &end, 10);
      if (end == sc.p || end > sc.end || v < 0 || v > 1000000)
        return asr__fail(err, ASR_ERR_FORMAT, "model config: '%s' is not a small non-negative integer", key);
      sc.p = end;
      *(int *)(void *)((char *)&out + asr__cfg_fields[i].offset) = (int)v;
    }
    if (!asr__scan_char(&sc, ',')) {
      if (!asr__scan_char(&sc, '}')) return asr__fail(err, ASR_ERR_FORMAT, "model config: expected ',' or '}'");
      break;
    }
  }
  *c = out;
  return ASR_OK;
}

/* Registers a tensor "<prefix><name>" of up to 4 dimensions in a store; returns its index
 * (negative: error). */
ASR__PRIVATE int asr__reg(asr_params *p, const char *prefix, const char *name, int ndim, int64_t d0,
                          int64_t d1, int64_t d2, int64_t d3) {
  char key[256];
  int64_t shape[4];
  shape[0] = d0;
  shape[1] = d1;
  shape[2] = d2;
  shape[3] = d3;
  if ((size_t)snprintf(key, sizeof key, "%s%s", prefix, name) >= sizeof key) return ASR_ERR_INVALID_ARG;
  return asr_params_add(p, key, ndim, shape);
}

/* The tensors of one ContextNet block, with the keys of tests/torch's ContextNetBlock. */
ASR__PRIVATE int asr__reg_cn_block(asr_model *m, asr__cn_block *b, const char *prefix) {
  char key[160];
  int i, bad = 0;
  for (i = 0; i < b->layers; i++) {
    int cin = i == 0 ? b->cin : b->cout;
    snprintf(key, sizeof key, "%slayers.%d.", prefix, i);
    bad |= (b->dw[i] = asr__reg(&m->params, key, "conv.depthwise.weight", 3, cin, 1, m->cfg.kernel, 0)) < 0;
    bad |= (b->pw[i] = asr__reg(&m->params, key, "conv.pointwise.weight", 3, b->cout, cin, 1, 0)) < 0;
    bad |= (b->bn_w[i] = asr__reg(&m->params, key, "bn.weight", 1, b->cout, 0, 0, 0)) < 0;
    bad |= (b->bn_b[i] = asr__reg(&m->params, key, "bn.bias", 1, b->cout, 0, 0, 0)) < 0;
    bad |= (b->bn_m[i] = asr__reg(&m->buffers, key, "bn.running_mean", 1, b->cout, 0, 0, 0)) < 0;
    bad |= (b->bn_v[i] = asr__reg(&m->buffers, key, "bn.running_var", 1, b->cout, 0, 0, 0)) < 0;
  }
  bad |= (b->se_w1 = asr__reg(&m->params, prefix, "se.fc1.weight", 2, b->se, b->cout, 0, 0)) < 0;
  bad |= (b->se_b1 = asr__reg(&m->params, prefix, "se.fc1.bias", 1, b->se, 0, 0, 0)) < 0;
  bad |= (b->se_w2 = asr__reg(&m->params, prefix, "se.fc2.weight", 2, b->cout, b->se, 0, 0)) < 0;
  bad |= (b->se_b2 = asr__reg(&m->params, prefix, "se.fc2.bias", 1, b->cout, 0, 0, 0)) < 0;
  b->res_w = b->res_bn_w = b->res_bn_b = b->res_bn_m = b->res_bn_v = -1;
  if (b->residual) {
    bad |= (b->res_w = asr__reg(&m->params, prefix, "residual.conv.weight", 3, b->cout, b->cin, 1, 0)) < 0;
    bad |= (b->res_bn_w = asr__reg(&m->params, prefix, "residual.bn.weight", 1, b->cout, 0, 0, 0)) < 0;
    bad |= (b->res_bn_b = asr__reg(&m->params, prefix, "residual.bn.bias", 1, b->cout, 0, 0, 0)) < 0;
    bad |= (b->res_bn_m = asr__reg(&m->buffers, prefix, "residual.bn.running_mean", 1, b->cout, 0, 0, 0)) < 0;
    bad |= (b->res_bn_v = asr__reg(&m->buffers, prefix, "residual.bn.running_var", 1, b->cout, 0, 0, 0)) < 0;
  }
  return bad ? -1 : 0;
}

/* The tensors of one Conformer block under `prefix` ("encoder.encoders.{b}."), with the
 * state_dict keys of ESPnet's EncoderLayer (asr_conformer_block_params names them). */
ASR__PRIVATE int asr__reg_cf_block(asr_model *m, asr__cf_block *b, const char *prefix) {
  static const char *const ffs[2] = {"feed_forward_macaron.", "feed_forward."};
  static const char *const lins[4] = {"linear_q.", "linear_k.", "linear_v.", "linear_out."};
  static const char *const norms[5] = {"norm_ff_macaron.", "norm_mha.", "norm_conv.", "norm_ff.", "norm_final."};
  const asr_model_config *c = &m->cfg;
  int D = c->channels, F = c->ff_dim, H = c->heads, K = c->kernel, i, bad = 0;
  char key[200];
  asr_params *P = &m->params;
  for (i = 0; i < 2; i++) {
    int *f = i == 0 ? b->ffm : b->ff;
    snprintf(key, sizeof key, "%s%s", prefix, ffs[i]);
    bad |= (f[0] = asr__reg(P, key, "w_1.weight", 2, F, D, 0, 0)) < 0;
    bad |= (f[1] = asr__reg(P, key, "w_1.bias", 1, F, 0, 0, 0)) < 0;
    bad |= (f[2] = asr__reg(P, key, "w_2.weight", 2, D, F, 0, 0)) < 0;
    bad |= (f[3] = asr__reg(P, key, "w_2.bias", 1, D, 0, 0, 0)) < 0;
  }
  for (i = 0; i < 4; i++) {
    snprintf(key, sizeof key, "%sself_attn.%s", prefix, lins[i]);
    bad |= (b->att[2 * i] = asr__reg(P, key, "weight", 2, D, D, 0, 0)) < 0;
    bad |= (b->att[2 * i + 1] = asr__reg(P, key, "bias", 1, D, 0, 0, 0)) < 0;
  }
  snprintf(key, sizeof key, "%sself_attn.", prefix);
  bad |= (b->att[8] = asr__reg(P, key, "linear_pos.weight", 2, D, D, 0, 0)) < 0;
  bad |= (b->att[9] = asr__reg(P, key, "pos_bias_u", 2, H, D / H, 0, 0)) < 0;
  bad |= (b->att[10] = asr__reg(P, key, "pos_bias_v", 2, H, D / H, 0, 0)) < 0;
  snprintf(key, sizeof key, "%sconv_module.", prefix);
  bad |= (b->conv[0] = asr__reg(P, key, "pointwise_conv1.weight", 3, 2 * D, D, 1, 0)) < 0;
  bad |= (b->conv[1] = asr__reg(P, key, "pointwise_conv1.bias", 1, 2 * D, 0, 0, 0)) < 0;
  bad |= (b->conv[2] = asr__reg(P, key, "depthwise_conv.weight", 3, D, 1, K, 0)) < 0;
  bad |= (b->conv[3] = asr__reg(P, key, "depthwise_conv.bias", 1, D, 0, 0, 0)) < 0;
  bad |= (b->conv[4] = asr__reg(P, key, "norm.weight", 1, D, 0, 0, 0)) < 0;
  bad |= (b->conv[5] = asr__reg(P, key, "norm.bias", 1, D, 0, 0, 0)) < 0;
  bad |= (b->conv[6] = asr__reg(&m->buffers, key, "norm.running_mean", 1, D, 0, 0, 0)) < 0;
  bad |= (b->conv[7] = asr__reg(&m->buffers, key, "norm.running_var", 1, D, 0, 0, 0)) < 0;
  bad |= (b->conv[8] = asr__reg(P, key, "pointwise_conv2.weight", 3, D, D, 1, 0)) < 0;
  bad |= (b->conv[9] = asr__reg(P, key, "pointwise_conv2.bias", 1, D, 0, 0, 0)) < 0;
  for (i = 0; i < 5; i++) {
    snprintf(key, sizeof key, "%s%s", prefix, norms[i]);
    bad |= (b->norm_w[i] = asr__reg(P, key, "weight", 1, D, 0, 0, 0)) < 0;
    bad |= (b->norm_b[i] = asr__reg(P, key, "bias", 1, D, 0, 0, 0)) < 0;
  }
  return bad ? -1 : 0;
}

ASR__PRIVATE void asr__fill(asr_params *p, int index, asr_real v) {
  size_t k;
  for (k = 0; k < p->items[index].count; k++) p->data[p->items[index].offset + k] = v;
}

/* The sizes a config must have; names the first field out of range. */
ASR__PRIVATE asr_result asr__model_check_config(const asr_model_config *c, asr_error *err) {
  const char *bad = NULL;
  int cf = c->encoder == ASR_ENCODER_CONFORMER;
  if ((int)c->encoder < 0 || (int)c->encoder > 1) bad = "encoder";
  else if ((int)c->head < 0 || (int)c->head > 1) bad = "head";
  else if (c->sample_rate < 1000) bad = "sample_rate";
  else if (c->n_mels < (cf ? 7 : 3)) bad = "n_mels";   /* Conv2dSubsampling needs F >= 7 */
  else if (c->vocab != ASR_CHARSET_SIZE) bad = "vocab";
  else if (c->channels < 8 || (cf && (c->channels % 2 || c->heads < 1 || c->channels % c->heads))) bad = "channels";
  else if (c->blocks < (cf ? 1 : 0) || c->blocks + 1 > ASR_MODEL_MAX_BLOCKS) bad = "blocks";
  else if (!cf && (c->layers < 1 || c->layers > ASR_CONTEXTNET_MAX_LAYERS)) bad = "layers";
  else if (c->kernel < 1 || c->kernel % 2 == 0) bad = "kernel";
  else if (cf && c->ff_dim < 1) bad = "ff_dim";
  else if (c->head == ASR_HEAD_RNNT && c->pred_dim < 1) bad = "pred_dim";
  else if (c->head == ASR_HEAD_RNNT && (c->context < 1 || c->context > 16)) bad = "context";
  else if (c->head == ASR_HEAD_RNNT && c->joint_dim < 1) bad = "joint_dim";
  else if (c->pad_ms < 0 || c->pad_ms > 1000) bad = "pad_ms";
  if (bad) return asr__fail(err, ASR_ERR_INVALID_ARG, "model config: '%s' out of range (recipe %s)", bad, c->recipe);
  return ASR_OK;
}

ASR__PRIVATE asr_result asr__model_build(asr_model *m, const asr_model_config *cfg, void *user,
                                         asr_error *err) {
  int b, bad = 0, C = cfg->channels, V = cfg->vocab;
  asr_params *P = &m->params;
  asr_result r;
  memset(m, 0, sizeof *m);
  m->cfg = *cfg;
  m->user = user;
  asr_params_init(&m->params, user);
  asr_params_init(&m->buffers, user);
  r = asr__model_check_config(cfg, err);
  if (r != ASR_OK) return r;
  m->emb = m->pconv = m->enc_w = m->enc_b = m->dec_w = m->dec_b = m->after_w = m->after_b = -1;
  if (cfg->encoder == ASR_ENCODER_CONTEXTNET) {
    /* C0: one layer, n_mels -> C, no residual; then the residual blocks, the first two
     * with stride 2 ([Han20] downsamples in C3, C7 and C14; two are enough here) */
    m->n_blocks = 1 + cfg->blocks;
    for (b = 0; b < m->n_blocks; b++) {
      asr__cn_block *blk = &m->cn[b];
      char prefix[64];
      blk->cin = b == 0 ? cfg->n_mels : C;
      blk->cout = C;
      blk->layers = b == 0 ? 1 : cfg->layers;
      blk->stride = (b == 1 || b == 2) ? 2 : 1;
      blk->residual = b > 0;
      blk->se = C / 8;
      snprintf(prefix, sizeof prefix, "encoder.blocks.%d.", b);
      bad |= asr__reg_cn_block(m, blk, prefix) != 0;
    }
  } else {
    /* ESPnet's ConformerEncoder: embed (Conv2dSubsampling), encoders.{b}, after_norm */
    int F2 = ((cfg->n_mels - 1) / 2 - 1) / 2;
    m->n_blocks = cfg->blocks;
    bad |= (m->sub[0] = asr__reg(P, "encoder.embed.", "conv.0.weight", 4, C, 1, 3, 3)) < 0;
    bad |= (m->sub[1] = asr__reg(P, "encoder.embed.", "conv.0.bias", 1, C, 0, 0, 0)) < 0;
    bad |= (m->sub[2] = asr__reg(P, "encoder.embed.", "conv.2.weight", 4, C, C, 3, 3)) < 0;
    bad |= (m->sub[3] = asr__reg(P, "encoder.embed.", "conv.2.bias", 1, C, 0, 0, 0)) < 0;
    bad |= (m->sub[4] = asr__reg(P, "encoder.embed.", "out.0.weight", 2, C, (int64_t)C * F2, 0, 0)) < 0;
    bad |= (m->sub[5] = asr__reg(P, "encoder.embed.", "out.0.bias", 1, C, 0, 0, 0)) < 0;
    for (b = 0; b < m->n_blocks; b++) {
      char prefix[64];
      snprintf(prefix, sizeof prefix, "encoder.encoders.%d.", b);
      bad |= asr__reg_cf_block(m, &m->cf[b], prefix) != 0;
    }
    bad |= (m->after_w = asr__reg(P, "encoder.", "after_norm.weight", 1, C, 0, 0, 0)) < 0;
    bad |= (m->after_b = asr__reg(P, "encoder.", "after_norm.bias", 1, C, 0, 0, 0)) < 0;
  }
  if (cfg->head == ASR_HEAD_CTC) {
    /* the output layer: "output" (the first recipe's name) after ContextNet, ESPnet's
     * CTC module "ctc.ctc_lo" after the Conformer */
    const char *pre = cfg->encoder == ASR_ENCODER_CONTEXTNET ? "output." : "ctc.ctc_lo.";
    bad |= (m->out_w = asr__reg(P, pre, "weight", 2, V, C, 0, 0)) < 0;
    bad |= (m->out_b = asr__reg(P, pre, "bias", 1, V, 0, 0, 0)) < 0;
  } else {
    /* icefall's Decoder (embedding, conv) and Joiner (encoder_proj, decoder_proj,
     * output_linear) */
    int Pd = cfg->pred_dim, J = cfg->joint_dim;
    bad |= (m->emb = asr__reg(P, "decoder.", "embedding.weight", 2, V, Pd, 0, 0)) < 0;
    if (cfg->context > 1) bad |= (m->pconv = asr__reg(P, "decoder.", "conv.weight", 3, Pd, 1, cfg->context, 0)) < 0;
    bad |= (m->enc_w = asr__reg(P, "joiner.", "encoder_proj.weight", 2, J, C, 0, 0)) < 0;
    bad |= (m->enc_b = asr__reg(P, "joiner.", "encoder_proj.bias", 1, J, 0, 0, 0)) < 0;
    bad |= (m->dec_w = asr__reg(P, "joiner.", "decoder_proj.weight", 2, J, Pd, 0, 0)) < 0;
    bad |= (m->dec_b = asr__reg(P, "joiner.", "decoder_proj.bias", 1, J, 0, 0, 0)) < 0;
    bad |= (m->out_w = asr__reg(P, "joiner.", "output_linear.weight", 2, V, J, 0, 0)) < 0;
    bad |= (m->out_b = asr__reg(P, "joiner.", "output_linear.bias", 1, V, 0, 0, 0)) < 0;
  }
  if (bad || asr_params_alloc(&m->params) != ASR_OK || asr_params_alloc(&m->buffers) != ASR_OK) {
    asr_model_free(m);
    return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory for the model");
  }
  return ASR_OK;
}

ASRDEF asr_result asr_model_create(asr_model *m, const asr_model_config *cfg, asr_rng *rng,
                                   void *user, asr_error *err) {
  int b, i;
  asr_result r = asr__model_build(m, cfg, user, err);
  if (r != ASR_OK) return r;
  asr_params_init_uniform(&m->params, rng);
  if (cfg->encoder == ASR_ENCODER_CONTEXTNET) {
    for (b = 0; b < m->n_blocks; b++) {
      const asr__cn_block *blk = &m->cn[b];
      for (i = 0; i < blk->layers; i++) {
        asr__fill(&m->params, blk->bn_w[i], 1);
        asr__fill(&m->buffers, blk->bn_v[i], 1);
      }
      if (blk->residual) {
        asr__fill(&m->params, blk->res_bn_w, 1);
        asr__fill(&m->buffers, blk->res_bn_v, 1);
      }
    }
  } else {
    for (b = 0; b < m->n_blocks; b++) {
      const asr__cf_block *blk = &m->cf[b];
      for (i = 0; i < 5; i++) asr__fill(&m->params, blk->norm_w[i], 1);
      asr__fill(&m->params, blk->conv[4], 1);        /* batch norm gamma */
      asr__fill(&m->buffers, blk->conv[7], 1);       /* running variance */
    }
    asr__fill(&m->params, m->after_w, 1);
  }
  if (cfg->encoder != ASR_ENCODER_CONTEXTNET || cfg->head != ASR_HEAD_CTC) {
    /* the biases of linear and conv layers as PyTorch draws them, U(-1/sqrt(fan_in),
     * 1/sqrt(fan_in)) with the fan_in of their weight. It matters: with zero biases a
     * frame whose Conv2dSubsampling features are all 0 (every relu off) is a constant
     * row, and the next layer norm (eps 1e-12, ESPnet's) turns it into a gradient of
     * ~1e11. ("ctc-contextnet" keeps the zero biases it was published with.) */
    for (i = 0; i < m->params.count; i++) {
      const asr_param *it = &m->params.items[i];
      size_t nl = strlen(it->name), k;
      char wname[sizeof it->name];
      int w;
      if (nl < 5 || strcmp(it->name + nl - 5, ".bias") != 0) continue;
      memcpy(wname, it->name, nl - 5);
      strcpy(wname + nl - 5, ".weight");
      w = asr_params_find(&m->params, wname);
      if (w >= 0 && m->params.items[w].ndim >= 2) {
        const asr_param *wt = &m->params.items[w];
        double fan_in = 1, bound;
        int d;
        for (d = 1; d < wt->ndim; d++) fan_in *= (double)wt->shape[d];
        bound = 1.0 / sqrt(fan_in);
        for (k = 0; k < it->count; k++) m->params.data[it->offset + k] = (asr_real)(bound * (2 * asr_rng_uniform(rng) - 1));
      }
    }
  }
  if (cfg->head == ASR_HEAD_RNNT) {
    /* nn.Embedding: N(0,1), the padding_idx (blank) row 0 */
    asr_real *e = asr_params_ptr(&m->params, m->emb);
    size_t k, n = (size_t)cfg->vocab * cfg->pred_dim;
    for (k = 0; k < n; k++) e[k] = k < (size_t)cfg->pred_dim ? 0 : (asr_real)asr_rng_normal(rng);
  }
  return ASR_OK;
}

ASRDEF void asr_model_free(asr_model *m) {
  asr_params_free(&m->params);
  asr_params_free(&m->buffers);
}

ASRDEF asr_result asr_model_save(const asr_model *m, const char *path, asr_error *err) {
  char json[1024];
  if (asr_model_config_to_json(&m->cfg, json, sizeof json) >= (int)sizeof json)
    return asr__fail(err, ASR_ERR_TOO_LARGE, "model config too long");
  return asr_checkpoint_save(path, &m->params, &m->buffers, json, err);
}

ASRDEF asr_result asr_model_load(asr_model *m, const char *path, void *user, asr_error *err) {
  asr_npz z;
  const asr_array *c;
  char *json;
  asr_model_config cfg;
  asr_result r;
  /* the config first, to know what to build */
  r = asr_npz_read(path, &z, user, err);
  if (r != ASR_OK) return r;
  c = asr_npz_get(&z, "config");
  if (!c || c->dtype != ASR_DTYPE_U8) {
    asr_npz_free(&z, user);
    return asr__fail(err, ASR_ERR_FORMAT, "%s: no model config (a \"config\" uint8 member): not an asr.h model", path);
  }
  json = ASR__ALLOC(char, c->count + 1, user);
  if (!json) {
    asr_npz_free(&z, user);
    return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
  }
  memcpy(json, c->data, c->count);
  json[c->count] = 0;
  asr_npz_free(&z, user);
  r = asr_model_config_from_json(&cfg, json, err);
  ASR_FREE(json, user);
  if (r != ASR_OK) return r;
  r = asr__model_build(m, &cfg, user, err);
  if (r != ASR_OK) return r;
  r = asr_checkpoint_load(path, &m->params, &m->buffers, NULL, user, err);
  if (r != ASR_OK) asr_model_free(m);
  return r;
}

/* ---- features */
ASR__PRIVATE asr_fbank_opts asr__model_fbank_opts(const asr_model *m) {
  asr_fbank_opts o = asr_fbank_opts_default();
  o.sample_frequency = m->cfg.sample_rate;
  o.num_mel_bins = m->cfg.n_mels;
  return o;
}

/* The padding of asr_model_features in samples at sample_rate (0 when pad_ms is 0), and
 * the padded length (-1 when n or the rate is invalid or it does not fit an int). */
ASR__PRIVATE int asr__model_pad(const asr_model *m, int sample_rate) {
  return sample_rate > 0 ? (int)(((int64_t)m->cfg.pad_ms * sample_rate + 500) / 1000) : 0;
}
ASR__PRIVATE int asr__model_padded(const asr_model *m, int n, int sample_rate) {
  int64_t np = (int64_t)n + 2 * (int64_t)asr__model_pad(m, sample_rate);
  return n < 0 || sample_rate < 1 || np > 0x7FFFFFFF ? -1 : (int)np;
}

ASRDEF int asr_model_num_frames(const asr_model *m, int n, int sample_rate) {
  asr_fbank_opts o = asr__model_fbank_opts(m);
  int np = asr__model_padded(m, n, sample_rate);
  int len = np < 0 ? -1 : asr_resample_length(np, sample_rate, m->cfg.sample_rate);
  return len < 0 ? -1 : asr_fbank_num_frames(len, &o);
}

ASRDEF size_t asr_model_features_workspace_size(const asr_model *m, int n, int sample_rate) {
  asr_fbank_opts o = asr__model_fbank_opts(m);
  int np = asr__model_padded(m, n, sample_rate);
  int len = np < 0 ? -1 : asr_resample_length(np, sample_rate, m->cfg.sample_rate);
  if (len < 0) return 0;
  return asr_fbank_workspace_size(&o) + 128 + sizeof(asr_real) * (size_t)len +
         (np > n ? sizeof(asr_real) * (size_t)np : 0);
}

ASRDEF asr_result asr_model_features(const asr_model *m, asr_real *feats, const asr_real *wave,
                                     int n, int sample_rate, void *work, size_t work_bytes,
                                     asr_error *err) {
  asr_fbank_opts o = asr__model_fbank_opts(m);
  int P = asr__model_pad(m, sample_rate), np = asr__model_padded(m, n, sample_rate);
  int len = np < 0 ? -1 : asr_resample_length(np, sample_rate, m->cfg.sample_rate), T, i;
  size_t need = asr_model_features_workspace_size(m, n, sample_rate), head;
  asr_real *x;
  asr_result r;
  if (len < 0)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "invalid waveform: %d samples at sample rate %d", n, sample_rate);
  if (!work || work_bytes < need) return asr__fail(err, ASR_ERR_WORKSPACE, "features: workspace too small");
  head = (sizeof(asr_real) * (size_t)len + 63) & ~(size_t)63;
  x = (asr_real *)work;
  if (P) {                       /* [noise (P), wave (n), noise (P)] after the resampled x */
    asr_real *y = (asr_real *)(void *)((unsigned char *)work + head);
    double level = asr_noise_floor(wave, n, sample_rate);
    asr_rng rng;
    asr_rng_seed(&rng, 0x706164, 0);                 /* fixed: features are a function of the wave */
    for (i = 0; i < P; i++) y[i] = (asr_real)(level * asr_rng_normal(&rng));
    if (n) memcpy(y + P, wave, sizeof(asr_real) * (size_t)n);
    for (i = 0; i < P; i++) y[P + n + i] = (asr_real)(level * asr_rng_normal(&rng));
    wave = y;
    head += (sizeof(asr_real) * (size_t)np + 63) & ~(size_t)63;
  }
  r = asr_resample(x, wave, np, sample_rate, m->cfg.sample_rate, 6, 0.99);
  if (r != ASR_OK) return asr__fail(err, r, "resampling failed: %s", asr_result_string(r));
  r = asr_fbank(feats, x, len, &o, NULL, (unsigned char *)work + head, work_bytes - head, err);
  if (r != ASR_OK) return r;
  T = asr_fbank_num_frames(len, &o);
  asr_cmvn(feats, T, o.num_mel_bins, 1);
  return ASR_OK;
}

/* ---- the encoders and the heads
 *
 * One pass of a model runs ENCODER then HEAD:
 *   encoder  feats (N,T,n_mels), lengths (N)  ->  enc (N,T',E), len_out (N)
 *   head     CTC:   logits = enc W^T + b (N,T',V), the CTC loss on them
 *            RNN-T: per utterance g = stateless(labels) (U+1,P) and the joint's loss,
 *                   one frame row at a time (asr_rnnt_joint_loss_rowwise)
 * and backward the reverse: head -> denc (N,T',E) -> encoder parameter gradients.
 * Everything one pass keeps is carved from the caller's workspace by asr__model_layout,
 * which also measures it (a bump allocator over a NULL base counts the bytes). */
ASRDEF int asr_model_out_frames(const asr_model *m, int T) {
  int b;
  if (m->cfg.encoder == ASR_ENCODER_CONFORMER) return asr_conv2d_subsampling_out_len(T);
  for (b = 0; b < m->n_blocks; b++) T = (T + m->cn[b].stride - 1) / m->cn[b].stride;
  return T;
}

ASRDEF int asr_model_subsampling(const asr_model *m) {
  int b, f = 1;
  if (m->cfg.encoder == ASR_ENCODER_CONFORMER) return 4;
  for (b = 0; b < m->n_blocks; b++) f *= m->cn[b].stride;
  return f;
}

ASRDEF int asr_model_encoder_dim(const asr_model *m) { return m->cfg.channels; }

ASRDEF int asr_model_min_frames(const asr_model *m) {
  return m->cfg.encoder == ASR_ENCODER_CONFORMER ? 7 : 1;   /* ((7-1)/2-1)/2 = 1 */
}

enum { ASR__PASS_INFER = 0, ASR__PASS_LOSS = 1, ASR__PASS_TRAIN = 2 };

typedef struct asr__model_plan {
  int mode, N, T, S, Tout;
  int *len_out;                            /* (N) encoder output lengths */
  asr_real *enc, *denc;                    /* (N,Tout,E) the encoder output, its gradient */
  void *work;                              /* scratch of the encoder's and head's functions */
  size_t work_bytes;
  /* encoder "contextnet": per block its config, input lengths, output, saved activations */
  asr_contextnet_block_config bcfg[ASR_MODEL_MAX_BLOCKS];
  int *len[ASR_MODEL_MAX_BLOCKS + 1];      /* lengths into block b; len[n_blocks] = len_out */
  asr_real *y[ASR_MODEL_MAX_BLOCKS];       /* block outputs (N,C,T_b+1) */
  void *saved[ASR_MODEL_MAX_BLOCKS];
  size_t saved_bytes[ASR_MODEL_MAX_BLOCKS];
  asr_real *xt;                            /* (N,n_mels,T) */
  asr_real *dy0, *dy1;                     /* gradient ping-pong, both encoders */
  /* encoder "conformer" */
  asr_conformer_config ccfg;
  void *sub_buf, *blk_buf[ASR_MODEL_MAX_BLOCKS];
  size_t sub_bytes, blk_bytes;
  asr_real *sub_y;                         /* (N,Tout,D) Conv2dSubsampling output */
  asr_real *pos_emb;                       /* (2 Tout - 1, D) */
  asr_real *cy[ASR_MODEL_MAX_BLOCKS];      /* (N,Tout,D) block outputs */
  asr_real *an_mean, *an_rstd;             /* (N Tout) after_norm statistics */
  /* head "ctc" */
  asr_real *logits, *dlogits, *losses;     /* (N,Tout,V), (N,Tout,V), (N) */
  /* head "rnnt" */
  asr_real *jbias, *jgrad;                 /* (H) joint bias; the joint's gradients */
  asr_real *g, *emb, *dg;                  /* (S+1,P) each */
} asr__model_plan;

ASR__PRIVATE void asr__take_max(size_t *mx, size_t v) {
  if (v > *mx) *mx = v;
}

/* The joint of the RNN-T head: icefall's Joiner, output_linear(tanh(encoder_proj(f) +
 * decoder_proj(g))), is asr_rnnt_joint with b = encoder_proj.bias + decoder_proj.bias
 * (bias must hold that sum, (H)); the stateless prediction network is icefall's Decoder. */
ASR__PRIVATE void asr__rnnt_head(const asr_model *m, asr_rnnt_joint *J, asr_rnnt_stateless *Ps, asr_real *bias) {
  const asr_params *P = &m->params;
  int h;
  J->E = m->cfg.channels;
  J->P = m->cfg.pred_dim;
  J->H = m->cfg.joint_dim;
  J->V = m->cfg.vocab;
  J->act = ASR_RNNT_ACT_TANH;
  J->W_enc = asr_params_ptr(P, m->enc_w);
  J->W_pred = asr_params_ptr(P, m->dec_w);
  J->W_out = asr_params_ptr(P, m->out_w);
  J->b_out = asr_params_ptr(P, m->out_b);
  J->b = bias;
  if (bias)
    for (h = 0; h < J->H; h++) bias[h] = asr_params_ptr(P, m->enc_b)[h] + asr_params_ptr(P, m->dec_b)[h];
  Ps->V = m->cfg.vocab;
  Ps->D = m->cfg.pred_dim;
  Ps->C = m->cfg.context;
  Ps->blank = 0;
  Ps->embedding = asr_params_ptr(P, m->emb);
  Ps->conv = m->pconv >= 0 ? asr_params_ptr(P, m->pconv) : NULL;
}

ASR__PRIVATE void asr__model_layout(const asr_model *m, asr__model_plan *P, asr__bump *a, int N,
                                    int T, int S, int mode) {
  int b, Tb = T, C = m->cfg.channels, V = m->cfg.vocab, F = m->cfg.n_mels, Tout;
  size_t R = sizeof(asr_real), maxy = 0, ws = 0;
  memset(P, 0, sizeof *P);
  P->mode = mode, P->N = N, P->T = T, P->S = S;
  P->Tout = Tout = asr_model_out_frames(m, T);
  P->len_out = (int *)asr__bump_take(a, sizeof(int) * (size_t)(N ? N : 1));
  P->enc = (asr_real *)asr__bump_take(a, R * (size_t)N * Tout * C);
  if (m->cfg.encoder == ASR_ENCODER_CONTEXTNET) {
    P->xt = (asr_real *)asr__bump_take(a, R * (size_t)N * F * (size_t)T);
    for (b = 0; b < m->n_blocks; b++) {
      asr_contextnet_block_config *c = &P->bcfg[b];
      size_t ny;
      asr_contextnet_block_config_init(c, N, m->cn[b].cin, m->cn[b].cout, Tb);
      c->num_layers = m->cn[b].layers;
      c->kernel = m->cfg.kernel;
      c->stride = m->cn[b].stride;
      c->se_channels = m->cn[b].se;
      c->residual = m->cn[b].residual;
      c->training = mode == ASR__PASS_TRAIN;
      P->len[b] = (int *)asr__bump_take(a, sizeof(int) * (size_t)(N ? N : 1));
      Tb = asr_contextnet_block_out_frames(c);
      ny = (size_t)N * m->cn[b].cout * (size_t)Tb;
      asr__take_max(&maxy, ny);
      P->y[b] = (asr_real *)asr__bump_take(a, R * ny);
      P->saved_bytes[b] = asr_contextnet_block_saved_size(c);
      P->saved[b] = asr__bump_take(a, P->saved_bytes[b]);
      asr__take_max(&ws, asr_contextnet_block_workspace_size(c));
    }
    P->len[m->n_blocks] = P->len_out;
  } else {
    size_t ntd = (size_t)N * Tout * C;
    asr_conformer_config_init(&P->ccfg, C, m->cfg.heads, m->cfg.ff_dim, m->cfg.kernel);
    P->ccfg.training = mode == ASR__PASS_TRAIN;
    P->sub_bytes = asr_conv2d_subsampling_saved_size(N, T, F, C);
    P->sub_buf = asr__bump_take(a, P->sub_bytes);
    P->sub_y = (asr_real *)asr__bump_take(a, R * ntd);
    P->pos_emb = (asr_real *)asr__bump_take(a, R * (size_t)(2 * Tout + 1) * C);
    P->blk_bytes = asr_conformer_block_saved_size(&P->ccfg, N, Tout);
    for (b = 0; b < m->n_blocks; b++) {
      /* inference keeps nothing for backward: every block shares one saved buffer */
      P->blk_buf[b] = b == 0 || mode != ASR__PASS_INFER ? asr__bump_take(a, P->blk_bytes) : P->blk_buf[0];
      P->cy[b] = (asr_real *)asr__bump_take(a, R * ntd);
    }
    P->an_mean = (asr_real *)asr__bump_take(a, R * (size_t)(N * Tout + 1));
    P->an_rstd = (asr_real *)asr__bump_take(a, R * (size_t)(N * Tout + 1));
    maxy = ntd;
    asr__take_max(&ws, asr_conv2d_subsampling_workspace_size(N, T, F, C));
    if (Tout > 0) {
      asr__take_max(&ws, asr_conformer_block_forward_workspace_size(&P->ccfg, N, Tout));
      if (mode == ASR__PASS_TRAIN) asr__take_max(&ws, asr_conformer_block_backward_workspace_size(&P->ccfg, N, Tout));
    }
  }
  if (m->cfg.head == ASR_HEAD_CTC) {
    P->logits = (asr_real *)asr__bump_take(a, R * (size_t)N * Tout * V);
    if (mode != ASR__PASS_INFER) {
      P->losses = (asr_real *)asr__bump_take(a, R * (size_t)(N ? N : 1));
      asr__take_max(&ws, asr_ctc_loss_workspace_size(Tout, V, S));
    }
    if (mode == ASR__PASS_TRAIN) P->dlogits = (asr_real *)asr__bump_take(a, R * (size_t)N * Tout * V);
  } else if (mode != ASR__PASS_INFER) {
    asr_rnnt_joint J;
    asr_rnnt_stateless Ps;
    int H = m->cfg.joint_dim, Pd = m->cfg.pred_dim;
    asr__rnnt_head(m, &J, &Ps, NULL);
    P->jbias = (asr_real *)asr__bump_take(a, R * (size_t)H);
    P->g = (asr_real *)asr__bump_take(a, R * (size_t)(S + 1) * Pd);
    P->emb = (asr_real *)asr__bump_take(a, R * (size_t)(S + 1) * Pd);
    asr__take_max(&ws, asr_rnnt_joint_loss_rowwise_workspace_size(&J, Tout, S));
    if (mode == ASR__PASS_TRAIN) {
      P->dg = (asr_real *)asr__bump_take(a, R * (size_t)(S + 1) * Pd);
      P->jgrad = (asr_real *)asr__bump_take(a, R * ((size_t)H * C + (size_t)H * Pd + (size_t)V * H + V + H));
      asr__take_max(&ws, asr_rnnt_stateless_workspace_size(&Ps, S));
    }
  }
  if (mode == ASR__PASS_TRAIN) {
    P->denc = (asr_real *)asr__bump_take(a, R * (size_t)N * Tout * C);
    P->dy0 = (asr_real *)asr__bump_take(a, R * maxy);
    P->dy1 = (asr_real *)asr__bump_take(a, R * maxy);
  }
  P->work_bytes = ws;
  P->work = asr__bump_take(a, ws);
}

/* Lays the plan out over work; ASR_ERR_WORKSPACE (named) if it does not fit. */
ASR__PRIVATE asr_result asr__model_plan_over(const asr_model *m, asr__model_plan *P, void *work, size_t work_bytes,
                                             int N, int T, int S, int mode, const char *what, asr_error *err) {
  asr__bump a;
  a.base = (unsigned char *)work;
  a.cap = work_bytes;
  a.used = 0;
  asr__model_layout(m, P, &a, N, T, S, mode);
  if (!work || a.used > work_bytes)
    return asr__fail(err, ASR_ERR_WORKSPACE, "%s: workspace too small (%lu bytes, %lu needed)", what,
                     (unsigned long)work_bytes, (unsigned long)a.used);
  return ASR_OK;
}

ASR__PRIVATE size_t asr__model_bytes(const asr_model *m, int N, int T, int S, int mode) {
  asr__model_plan P;
  asr__bump a;
  a.base = NULL;
  a.cap = a.used = 0;
  asr__model_layout(m, &P, &a, N, T, S, mode);
  return a.used;
}

ASRDEF size_t asr_model_train_workspace_size(const asr_model *m, int N, int T, int S) {
  return asr__model_bytes(m, N, T, S, ASR__PASS_TRAIN);
}

ASRDEF size_t asr_model_infer_workspace_size(const asr_model *m, int N, int T) {
  return asr__model_bytes(m, N, T, 0, ASR__PASS_INFER);
}

/* x (N, A, B) -> y (N, B, A) */
ASR__PRIVATE void asr__transpose12(asr_real *y, const asr_real *x, int N, int A, int B) {
  int n, i, j;
  for (n = 0; n < N; n++) {
    const asr_real *xs = x + (size_t)n * A * B;
    asr_real *ys = y + (size_t)n * A * B;
    for (i = 0; i < A; i++)
      for (j = 0; j < B; j++) ys[(size_t)j * A + i] = xs[(size_t)i * B + j];
  }
}

/* The parameters of ContextNet block b as the ContextNet block functions take them. */
ASR__PRIVATE void asr__cn_params(asr_model *m, int b, asr_contextnet_block_params *p,
                                 asr_contextnet_block_grads *g) {
  const asr__cn_block *blk = &m->cn[b];
  asr_params *P = &m->params, *B = &m->buffers;
  int i;
  memset(p, 0, sizeof *p);
  if (g) memset(g, 0, sizeof *g);
  for (i = 0; i < blk->layers; i++) {
    p->layer[i].dw_w = asr_params_ptr(P, blk->dw[i]);
    p->layer[i].pw_w = asr_params_ptr(P, blk->pw[i]);
    p->layer[i].bn.weight = asr_params_ptr(P, blk->bn_w[i]);
    p->layer[i].bn.bias = asr_params_ptr(P, blk->bn_b[i]);
    p->layer[i].bn.running_mean = asr_params_ptr(B, blk->bn_m[i]);
    p->layer[i].bn.running_var = asr_params_ptr(B, blk->bn_v[i]);
    if (g) {
      g->layer[i].dw_w = asr_params_grad_ptr(P, blk->dw[i]);
      g->layer[i].pw_w = asr_params_grad_ptr(P, blk->pw[i]);
      g->layer[i].bn.weight = asr_params_grad_ptr(P, blk->bn_w[i]);
      g->layer[i].bn.bias = asr_params_grad_ptr(P, blk->bn_b[i]);
    }
  }
  p->se_w1 = asr_params_ptr(P, blk->se_w1);
  p->se_b1 = asr_params_ptr(P, blk->se_b1);
  p->se_w2 = asr_params_ptr(P, blk->se_w2);
  p->se_b2 = asr_params_ptr(P, blk->se_b2);
  if (g) {
    g->se_w1 = asr_params_grad_ptr(P, blk->se_w1);
    g->se_b1 = asr_params_grad_ptr(P, blk->se_b1);
    g->se_w2 = asr_params_grad_ptr(P, blk->se_w2);
    g->se_b2 = asr_params_grad_ptr(P, blk->se_b2);
  }
  if (blk->residual) {
    p->res_w = asr_params_ptr(P, blk->res_w);
    p->res_bn.weight = asr_params_ptr(P, blk->res_bn_w);
    p->res_bn.bias = asr_params_ptr(P, blk->res_bn_b);
    p->res_bn.running_mean = asr_params_ptr(B, blk->res_bn_m);
    p->res_bn.running_var = asr_params_ptr(B, blk->res_bn_v);
    if (g) {
      g->res_w = asr_params_grad_ptr(P, blk->res_w);
      g->res_bn.weight = asr_params_grad_ptr(P, blk->res_bn_w);
      g->res_bn.bias = asr_params_grad_ptr(P, blk->res_bn_b);
    }
  }
}

/* The parameters (and gradients, g may be NULL) of Conformer block b, and of the
 * Conv2dSubsampling front end. */
ASR__PRIVATE void asr__cf_params(asr_model *m, int b, asr_conformer_block_params *p, asr_conformer_block_grads *g) {
  const asr__cf_block *k = &m->cf[b];
  asr_params *P = &m->params, *B = &m->buffers;
  int i;
#define ASR__PP(i) asr_params_ptr(P, (i))
#define ASR__PG(i) asr_params_grad_ptr(P, (i))
  p->ff_macaron.w1 = ASR__PP(k->ffm[0]), p->ff_macaron.b1 = ASR__PP(k->ffm[1]);
  p->ff_macaron.w2 = ASR__PP(k->ffm[2]), p->ff_macaron.b2 = ASR__PP(k->ffm[3]);
  p->ff.w1 = ASR__PP(k->ff[0]), p->ff.b1 = ASR__PP(k->ff[1]), p->ff.w2 = ASR__PP(k->ff[2]), p->ff.b2 = ASR__PP(k->ff[3]);
  p->mhsa.wq = ASR__PP(k->att[0]), p->mhsa.bq = ASR__PP(k->att[1]);
  p->mhsa.wk = ASR__PP(k->att[2]), p->mhsa.bk = ASR__PP(k->att[3]);
  p->mhsa.wv = ASR__PP(k->att[4]), p->mhsa.bv = ASR__PP(k->att[5]);
  p->mhsa.wo = ASR__PP(k->att[6]), p->mhsa.bo = ASR__PP(k->att[7]);
  p->mhsa.wpos = ASR__PP(k->att[8]), p->mhsa.pos_bias_u = ASR__PP(k->att[9]), p->mhsa.pos_bias_v = ASR__PP(k->att[10]);
  p->conv.pw1_w = ASR__PP(k->conv[0]), p->conv.pw1_b = ASR__PP(k->conv[1]);
  p->conv.dw_w = ASR__PP(k->conv[2]), p->conv.dw_b = ASR__PP(k->conv[3]);
  p->conv.bn_w = ASR__PP(k->conv[4]), p->conv.bn_b = ASR__PP(k->conv[5]);
  p->conv.bn_mean = asr_params_ptr(B, k->conv[6]), p->conv.bn_var = asr_params_ptr(B, k->conv[7]);
  p->conv.pw2_w = ASR__PP(k->conv[8]), p->conv.pw2_b = ASR__PP(k->conv[9]);
  p->norm_ff_macaron.weight = ASR__PP(k->norm_w[0]), p->norm_ff_macaron.bias = ASR__PP(k->norm_b[0]);
  p->norm_mha.weight = ASR__PP(k->norm_w[1]), p->norm_mha.bias = ASR__PP(k->norm_b[1]);
  p->norm_conv.weight = ASR__PP(k->norm_w[2]), p->norm_conv.bias = ASR__PP(k->norm_b[2]);
  p->norm_ff.weight = ASR__PP(k->norm_w[3]), p->norm_ff.bias = ASR__PP(k->norm_b[3]);
  p->norm_final.weight = ASR__PP(k->norm_w[4]), p->norm_final.bias = ASR__PP(k->norm_b[4]);
  if (!g) return;
  g->ff_macaron.w1 = ASR__PG(k->ffm[0]), g->ff_macaron.b1 = ASR__PG(k->ffm[1]);
  g->ff_macaron.w2 = ASR__PG(k->ffm[2]), g->ff_macaron.b2 = ASR__PG(k->ffm[3]);
  g->ff.w1 = ASR__PG(k->ff[0]), g->ff.b1 = ASR__PG(k->ff[1]), g->ff.w2 = ASR__PG(k->ff[2]), g->ff.b2 = ASR__PG(k->ff[3]);
  g->mhsa.wq = ASR__PG(k->att[0]), g->mhsa.bq = ASR__PG(k->att[1]);
  g->mhsa.wk = ASR__PG(k->att[2]), g->mhsa.bk = ASR__PG(k->att[3]);
  g->mhsa.wv = ASR__PG(k->att[4]), g->mhsa.bv = ASR__PG(k->att[5]);
  g->mhsa.wo = ASR__PG(k->att[6]), g->mhsa.bo = ASR__PG(k->att[7]);
  g->mhsa.wpos = ASR__PG(k->att[8]), g->mhsa.pos_bias_u = ASR__PG(k->att[9]), g->mhsa.pos_bias_v = ASR__PG(k->att[10]);
  g->conv.pw1_w = ASR__PG(k->conv[0]), g->conv.pw1_b = ASR__PG(k->conv[1]);
  g->conv.dw_w = ASR__PG(k->conv[2]), g->conv.dw_b = ASR__PG(k->conv[3]);
  g->conv.bn_w = ASR__PG(k->conv[4]), g->conv.bn_b = ASR__PG(k->conv[5]);
  g->conv.pw2_w = ASR__PG(k->conv[8]), g->conv.pw2_b = ASR__PG(k->conv[9]);
  for (i = 0; i < 5; i++) g->norm_w[i] = ASR__PG(k->norm_w[i]), g->norm_b[i] = ASR__PG(k->norm_b[i]);
}

ASR__PRIVATE void asr__sub_params(asr_model *m, asr_conv2d_subsampling_params *p, asr_conv2d_subsampling_grads *g) {
  asr_params *P = &m->params;
  p->conv0_w = ASR__PP(m->sub[0]), p->conv0_b = ASR__PP(m->sub[1]);
  p->conv2_w = ASR__PP(m->sub[2]), p->conv2_b = ASR__PP(m->sub[3]);
  p->out_w = ASR__PP(m->sub[4]), p->out_b = ASR__PP(m->sub[5]);
  if (!g) return;
  g->conv0_w = ASR__PG(m->sub[0]), g->conv0_b = ASR__PG(m->sub[1]);
  g->conv2_w = ASR__PG(m->sub[2]), g->conv2_b = ASR__PG(m->sub[3]);
  g->out_w = ASR__PG(m->sub[4]), g->out_b = ASR__PG(m->sub[5]);
#undef ASR__PP
#undef ASR__PG
}

/* Zeroes rows t >= lengths[n] of x (N,T,C). */
ASR__PRIVATE void asr__model_mask(asr_real *x, const int *lengths, int N, int T, int C) {
  int n;
  for (n = 0; n < N; n++)
    if (lengths[n] < T)
      memset(x + ((size_t)n * T + lengths[n]) * C, 0, sizeof(asr_real) * (size_t)(T - lengths[n]) * C);
}

/* ENCODER forward: feats (N,T,n_mels) -> P->enc (N,Tout,E), P->len_out (N); padded
 * output frames are 0. */
ASR__PRIVATE asr_result asr__model_encode(asr_model *m, asr__model_plan *P, const asr_real *feats,
                                          const int *lengths, asr_error *err) {
  int b, n, N = P->N, T = P->T, C = m->cfg.channels, F = m->cfg.n_mels, lo = asr_model_min_frames(m);
  asr_result r;
  for (n = 0; n < N; n++)
    if (lengths[n] < lo || lengths[n] > T)
      return asr__fail(err, ASR_ERR_RANGE, "lengths[%d] = %d is outside [%d, %d]%s", n, lengths[n], lo, T,
                       lengths[n] < lo && lengths[n] >= 1 ? " (too short for the encoder's subsampling)" : "");
  if (!asr_all_finite(feats, (size_t)N * T * F)) return asr__fail(err, ASR_ERR_NONFINITE, "features hold NaN or infinity");
  if (m->cfg.encoder == ASR_ENCODER_CONTEXTNET) {
    const asr_real *x;
    for (n = 0; n < N; n++) P->len[0][n] = lengths[n];
    asr__transpose12(P->xt, feats, N, T, F);      /* (N,T,F) -> (N,F,T) */
    x = P->xt;
    for (b = 0; b < m->n_blocks; b++) {
      asr_contextnet_block_params p;
      asr__cn_params(m, b, &p, NULL);
      r = asr_contextnet_block_forward(P->y[b], P->saved[b], P->saved_bytes[b], x, &p, P->len[b], &P->bcfg[b],
                                       P->work, P->work_bytes);
      if (r != ASR_OK) return asr__fail(err, r, "encoder block %d: %s", b, asr_result_string(r));
      for (n = 0; n < N; n++) P->len[b + 1][n] = (P->len[b][n] + m->cn[b].stride - 1) / m->cn[b].stride;
      x = P->y[b];
    }
    asr__transpose12(P->enc, x, N, C, P->Tout);   /* (N,C,T') -> (N,T',C) */
    asr__model_mask(P->enc, P->len_out, N, P->Tout, C);
  } else {
    /* ESPnet's ConformerEncoder.forward: embed (with x * sqrt(D) and the relative
     * positions), the blocks, after_norm */
    asr_conv2d_subsampling_params sp;
    asr_conv2d_subsampling_saved ss;
    const asr_real *x;
    int To = P->Tout;
    asr__sub_params(m, &sp, NULL);
    asr_conv2d_subsampling_saved_init(&ss, P->sub_buf, P->sub_bytes, N, T, F, C);
    r = asr_conv2d_subsampling_forward(P->sub_y, P->len_out, &ss, feats, lengths, &sp, N, T, F, C, P->work,
                                       P->work_bytes);
    if (r != ASR_OK) return asr__fail(err, r, "Conv2dSubsampling: %s", asr_result_string(r));
    r = asr_rel_pos_encoding(P->pos_emb, To, C, ASR_REL_POS_LATEST, 5000);
    if (r != ASR_OK) return asr__fail(err, r, "positional encoding: %s", asr_result_string(r));
    x = P->sub_y;
    for (b = 0; b < m->n_blocks; b++) {
      asr_conformer_block_params p;
      asr_conformer_block_saved s;
      asr__cf_params(m, b, &p, NULL);
      asr_conformer_block_saved_init(&s, P->blk_buf[b], P->blk_bytes, &P->ccfg, N, To);
      r = asr_conformer_block_forward(P->cy[b], &s, x, P->pos_emb, P->len_out, &p, &P->ccfg, N, To, P->work,
                                      P->work_bytes);
      if (r != ASR_OK) return asr__fail(err, r, "encoder block %d: %s", b, asr_result_string(r));
      x = P->cy[b];
    }
    r = asr_layer_norm_forward(P->enc, P->an_mean, P->an_rstd, x, asr_params_ptr(&m->params, m->after_w),
                               asr_params_ptr(&m->params, m->after_b), N * To, C, P->ccfg.ln_eps);
    if (r != ASR_OK) return asr__fail(err, r, "after_norm: %s", asr_result_string(r));
    asr__model_mask(P->enc, P->len_out, N, To, C);
  }
  return ASR_OK;
}

/* ENCODER backward: P->denc (N,Tout,E) -> the encoder's parameter gradients (+=). */
ASR__PRIVATE asr_result asr__model_encode_backward(asr_model *m, asr__model_plan *P, const asr_real *feats,
                                                   const int *lengths, asr_error *err) {
  int b, N = P->N, T = P->T, C = m->cfg.channels, To = P->Tout;
  asr_real *t;
  asr_result r;
  asr__model_mask(P->denc, P->len_out, N, To, C);
  if (m->cfg.encoder == ASR_ENCODER_CONTEXTNET) {
    asr__transpose12(P->dy0, P->denc, N, To, C);
    for (b = m->n_blocks - 1; b >= 0; b--) {
      asr_contextnet_block_params p;
      asr_contextnet_block_grads g;
      asr_real *dx = b > 0 ? P->dy1 : NULL;
      const asr_real *x = b > 0 ? P->y[b - 1] : P->xt;
      asr__cn_params(m, b, &p, &g);
      if (dx) memset(dx, 0, sizeof(asr_real) * (size_t)N * m->cn[b].cin * P->bcfg[b].T);
      r = asr_contextnet_block_backward(dx, &g, P->dy0, P->saved[b], P->saved_bytes[b], x, &p, P->len[b],
                                        &P->bcfg[b], P->work, P->work_bytes);
      if (r != ASR_OK) return asr__fail(err, r, "encoder block %d backward: %s", b, asr_result_string(r));
      t = P->dy0, P->dy0 = P->dy1, P->dy1 = t;
    }
  } else {
    asr_conv2d_subsampling_params sp;
    asr_conv2d_subsampling_grads sg;
    asr_conv2d_subsampling_saved ss;
    size_t ntd = (size_t)N * To * C;
    const asr_real *x = m->n_blocks ? P->cy[m->n_blocks - 1] : P->sub_y;
    memset(P->dy0, 0, sizeof(asr_real) * ntd);
    r = asr_layer_norm_backward(P->dy0, asr_params_grad_ptr(&m->params, m->after_w),
                                asr_params_grad_ptr(&m->params, m->after_b), P->denc, x, P->an_mean, P->an_rstd,
                                asr_params_ptr(&m->params, m->after_w), N * To, C);
    if (r != ASR_OK) return asr__fail(err, r, "after_norm backward: %s", asr_result_string(r));
    for (b = m->n_blocks - 1; b >= 0; b--) {
      asr_conformer_block_params p;
      asr_conformer_block_grads g;
      asr_conformer_block_saved s;
      asr__cf_params(m, b, &p, &g);
      asr_conformer_block_saved_init(&s, P->blk_buf[b], P->blk_bytes, &P->ccfg, N, To);
      memset(P->dy1, 0, sizeof(asr_real) * ntd);
      r = asr_conformer_block_backward(P->dy1, NULL, &g, P->dy0, &s, b > 0 ? P->cy[b - 1] : P->sub_y, P->pos_emb,
                                       P->len_out, &p, &P->ccfg, N, To, P->work, P->work_bytes);
      if (r != ASR_OK) return asr__fail(err, r, "encoder block %d backward: %s", b, asr_result_string(r));
      t = P->dy0, P->dy0 = P->dy1, P->dy1 = t;
    }
    /* dy0 = dL/d(embed output); the features need no gradient */
    asr__sub_params(m, &sp, &sg);
    asr_conv2d_subsampling_saved_init(&ss, P->sub_buf, P->sub_bytes, N, T, m->cfg.n_mels, C);
    r = asr_conv2d_subsampling_backward(NULL, &sg, P->dy0, &ss, feats, lengths, &sp, N, T, m->cfg.n_mels, C, P->work,
                                        P->work_bytes);
    if (r != ASR_OK) return asr__fail(err, r, "Conv2dSubsampling backward: %s", asr_result_string(r));
  }
  return ASR_OK;
}

/* HEAD "ctc": logits = enc W^T + b on every frame. */
ASR__PRIVATE asr_result asr__ctc_head_forward(asr_model *m, asr__model_plan *P) {
  return asr_linear_forward(P->logits, P->enc, asr_params_ptr(&m->params, m->out_w),
                            asr_params_ptr(&m->params, m->out_b), P->N * P->Tout, m->cfg.channels, m->cfg.vocab);
}

/* HEAD loss, one value per utterance in losses (N): -ln p(y|x). With P->mode TRAIN the
 * gradient of the batch mean (1/N) sum_n losses[n] is backpropagated through the head:
 * the head's parameter gradients (+=) and P->denc (written). zero_inf: an infeasible
 * utterance counts 0 and gives no gradient (training); else its loss is +inf. */
ASR__PRIVATE asr_result asr__model_head_loss(asr_model *m, asr__model_plan *P, double *losses, const int *targets,
                                             const int *target_lengths, int zero_inf, asr_error *err) {
  int n, N = P->N, To = P->Tout, S = P->S, V = m->cfg.vocab, C = m->cfg.channels, train = P->mode == ASR__PASS_TRAIN;
  asr_result r, rc = ASR_OK;
  if (m->cfg.head == ASR_HEAD_CTC) {
    size_t k, nl = (size_t)N * To * V;
    r = asr__ctc_head_forward(m, P);
    if (r != ASR_OK) return asr__fail(err, r, "output layer: %s", asr_result_string(r));
    if (train) memset(P->dlogits, 0, sizeof(asr_real) * nl);
    rc = asr_ctc_loss(P->losses, train ? P->dlogits : NULL, P->logits, targets, P->len_out, target_lengths, N, To, V,
                      S, 0, ASR_REDUCTION_NONE, zero_inf, P->work, P->work_bytes, err);
    if (rc < 0) return rc;
    for (n = 0; n < N; n++) losses[n] = P->losses[n];
    if (!train) return rc;
    for (k = 0; k < nl; k++) P->dlogits[k] /= (asr_real)N;        /* d(mean)/d(each) */
    memset(P->denc, 0, sizeof(asr_real) * (size_t)N * To * C);
    r = asr_linear_backward(P->denc, asr_params_grad_ptr(&m->params, m->out_w),
                            asr_params_grad_ptr(&m->params, m->out_b), P->dlogits, P->enc,
                            asr_params_ptr(&m->params, m->out_w), N * To, C, V);
    if (r != ASR_OK) return asr__fail(err, r, "output layer backward: %s", asr_result_string(r));
    return rc;
  } else {
    /* RNN-T, one utterance at a time: g = stateless(labels), then the joint and the loss
     * row by row; the joint's gradients go to jgrad first, scaled by 1/N at the end */
    asr_rnnt_joint J;
    asr_rnnt_stateless Ps;
    asr_rnnt_joint_grad dJ;
    asr_rnnt_stateless_grad dP;
    asr_rnnt_opts o = asr_rnnt_default_opts();
    int H = m->cfg.joint_dim, Pd = m->cfg.pred_dim, h;
    size_t nj = (size_t)H * C + (size_t)H * Pd + (size_t)V * H + V + H, k;
    asr_real inv = (asr_real)1 / (asr_real)N, *jg = P->jgrad;
    memset(&dJ, 0, sizeof dJ);
    memset(&dP, 0, sizeof dP);
    asr__rnnt_head(m, &J, &Ps, P->jbias);
    if (train) {
      memset(jg, 0, sizeof(asr_real) * nj);
      memset(P->denc, 0, sizeof(asr_real) * (size_t)N * To * C);
      dJ.W_enc = jg, dJ.W_pred = jg + (size_t)H * C, dJ.W_out = dJ.W_pred + (size_t)H * Pd;
      dJ.b_out = dJ.W_out + (size_t)V * H, dJ.b = dJ.b_out + V;
      dP.embedding = asr_params_grad_ptr(&m->params, m->emb);
      dP.conv = m->pconv >= 0 ? asr_params_grad_ptr(&m->params, m->pconv) : NULL;
    }
    for (n = 0; n < N; n++) {
      const int *y = targets + (size_t)n * S;
      int U = target_lengths[n];
      if (U < 0 || U > S) return asr__fail(err, ASR_ERR_RANGE, "target_lengths[%d] = %d is outside [0, %d]", n, U, S);
      for (h = 0; h < U; h++)
        if (y[h] < 1 || y[h] >= V)
          return asr__fail(err, ASR_ERR_RANGE, "targets[%d][%d] = %d is not a label in [1, %d)", n, h, y[h], V);
      r = asr_rnnt_stateless_forward(P->g, P->emb, y, U, &Ps);
      if (r != ASR_OK) return asr__fail(err, r, "prediction network, utterance %d: %s", n, asr_result_string(r));
      if (train) memset(P->dg, 0, sizeof(asr_real) * (size_t)(U + 1) * Pd);
      r = asr_rnnt_joint_loss_rowwise(&losses[n], train ? P->denc + (size_t)n * To * C : NULL, train ? P->dg : NULL,
                                      train ? &dJ : NULL, P->enc + (size_t)n * To * C, P->g, &J, y, P->len_out[n], U, &o,
                                      P->work, P->work_bytes, err);
      if (r < 0) return r;
      if (!train) continue;
      for (k = 0; k < (size_t)(U + 1) * Pd; k++) P->dg[k] *= inv;
      r = asr_rnnt_stateless_backward(&dP, P->dg, P->g, P->emb, y, U, &Ps, P->work, P->work_bytes);
      if (r != ASR_OK) return asr__fail(err, r, "prediction network backward: %s", asr_result_string(r));
    }
    if (!train) return ASR_OK;
    for (k = 0; k < (size_t)N * To * C; k++) P->denc[k] *= inv;
    {
      /* the joint's gradients, 1/N of them, into the parameters; the bias b is the sum of
       * the two projections' biases, so each gets all of db */
      asr_params *Pm = &m->params;
      asr_real *dst[4];
      const asr_real *src[4];
      size_t cnt[4];
      int i;
      dst[0] = asr_params_grad_ptr(Pm, m->enc_w), src[0] = dJ.W_enc, cnt[0] = (size_t)H * C;
      dst[1] = asr_params_grad_ptr(Pm, m->dec_w), src[1] = dJ.W_pred, cnt[1] = (size_t)H * Pd;
      dst[2] = asr_params_grad_ptr(Pm, m->out_w), src[2] = dJ.W_out, cnt[2] = (size_t)V * H;
      dst[3] = asr_params_grad_ptr(Pm, m->out_b), src[3] = dJ.b_out, cnt[3] = (size_t)V;
      for (i = 0; i < 4; i++)
        for (k = 0; k < cnt[i]; k++) dst[i][k] += inv * src[i][k];
      for (h = 0; h < H; h++) {
        asr_params_grad_ptr(Pm, m->enc_b)[h] += inv * dJ.b[h];
        asr_params_grad_ptr(Pm, m->dec_b)[h] += inv * dJ.b[h];
      }
    }
    return ASR_OK;
  }
}

ASRDEF asr_result asr_model_train_step(asr_model *m, double *loss, const asr_real *feats,
                                       const int *lengths, const int *targets,
                                       const int *target_lengths, int N, int T, int S,
                                       void *work, size_t work_bytes, asr_error *err) {
  asr__model_plan P;
  asr_result r, rc;
  double sum = 0, *losses;
  int n;
  if (N < 1 || T < 1 || S < 0 || !loss || !feats || !lengths || !target_lengths || (S > 0 && !targets))
    return asr__fail(err, ASR_ERR_INVALID_ARG, "train step: bad sizes or NULL arguments");
  r = asr__model_plan_over(m, &P, work, work_bytes, N, T, S, ASR__PASS_TRAIN, "train step", err);
  if (r != ASR_OK) return r;
  losses = (double *)ASR_MALLOC(sizeof(double) * (size_t)N, m->user);
  if (!losses) return asr__fail(err, ASR_ERR_OUT_OF_MEMORY, "out of memory");
  r = asr__model_encode(m, &P, feats, lengths, err);
  rc = r == ASR_OK ? asr__model_head_loss(m, &P, losses, targets, target_lengths, 1, err) : r;
  if (rc >= 0) {
    for (n = 0; n < N; n++) sum += losses[n];
    *loss = sum / N;
    r = asr__model_encode_backward(m, &P, feats, lengths, err);
    if (r != ASR_OK) rc = r;
  }
  ASR_FREE(losses, m->user);
  return rc;
}

ASRDEF asr_result asr_model_loss(asr_model *m, double *losses, const asr_real *feats,
                                 const int *lengths, const int *targets, const int *target_lengths,
                                 int N, int T, int S, void *work, size_t work_bytes, asr_error *err) {
  asr__model_plan P;
  asr_result r;
  if (N < 1 || T < 1 || S < 0 || !losses || !feats || !lengths || !target_lengths || (S > 0 && !targets))
    return asr__fail(err, ASR_ERR_INVALID_ARG, "loss: bad sizes or NULL arguments");
  /* the training layout (the loss buffers), evaluation mode */
  r = asr__model_plan_over(m, &P, work, work_bytes, N, T, S, ASR__PASS_TRAIN, "loss", err);
  if (r != ASR_OK) return r;
  P.mode = ASR__PASS_LOSS;
  P.ccfg.training = 0;
  {
    int b;
    for (b = 0; b < m->n_blocks && m->cfg.encoder == ASR_ENCODER_CONTEXTNET; b++) P.bcfg[b].training = 0;
  }
  r = asr__model_encode(m, &P, feats, lengths, err);
  if (r != ASR_OK) return r;
  return asr__model_head_loss(m, &P, losses, targets, target_lengths, 0, err);
}

ASRDEF asr_result asr_model_encode(asr_model *m, asr_real *enc, int *out_lengths,
                                   const asr_real *feats, const int *lengths, int N, int T,
                                   void *work, size_t work_bytes, asr_error *err) {
  asr__model_plan P;
  asr_result r;
  if (N < 1 || T < 1 || !enc || !out_lengths || !feats || !lengths)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "encode: bad sizes or NULL arguments");
  r = asr__model_plan_over(m, &P, work, work_bytes, N, T, 0, ASR__PASS_INFER, "encode", err);
  if (r == ASR_OK) r = asr__model_encode(m, &P, feats, lengths, err);
  if (r != ASR_OK) return r;
  memcpy(enc, P.enc, sizeof(asr_real) * (size_t)N * P.Tout * m->cfg.channels);
  memcpy(out_lengths, P.len_out, sizeof(int) * (size_t)N);
  return ASR_OK;
}

ASRDEF asr_result asr_model_logprobs(asr_model *m, asr_real *logprobs, int *out_lengths,
                                     const asr_real *feats, const int *lengths, int N, int T,
                                     void *work, size_t work_bytes, asr_error *err) {
  asr__model_plan P;
  asr_result r;
  size_t f, V = (size_t)m->cfg.vocab;
  if (m->cfg.head != ASR_HEAD_CTC)
    return asr__fail(err, ASR_ERR_UNSUPPORTED, "recipe %s: per-frame log-probabilities need a CTC head", m->cfg.recipe);
  if (N < 1 || T < 1 || !logprobs || !out_lengths || !feats || !lengths)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "logprobs: bad sizes or NULL arguments");
  r = asr__model_plan_over(m, &P, work, work_bytes, N, T, 0, ASR__PASS_INFER, "inference", err);
  if (r == ASR_OK) r = asr__model_encode(m, &P, feats, lengths, err);
  if (r != ASR_OK) return r;
  r = asr__ctc_head_forward(m, &P);
  if (r != ASR_OK) return asr__fail(err, r, "output layer: %s", asr_result_string(r));
  for (f = 0; f < (size_t)N * P.Tout; f++) asr_log_softmax(logprobs + f * V, P.logits + f * V, (int)V);
  memcpy(out_lengths, P.len_out, sizeof(int) * (size_t)N);
  return ASR_OK;
}

/* ---- decoding one utterance */

/* [Graves12]'s lattice with max in place of the sum of eq. (16): the most probable
 * alignment of labels (U) with T frames,
 *   delta(t,u) = max(delta(t-1,u) + log 0(t-1,u), delta(t,u-1) + log y(t,u-1)),
 * delta(0,0) = 0; then backtracking from (T-1,U) writes the frame at which each label
 * is emitted (the step (t,u-1) -> (t,u) emits label u at frame t). log_blank, log_label
 * (T,U+1) from asr_rnnt_lattice; delta (T,U+1) scratch. Ties prefer the blank. */
ASR__PRIVATE void asr__rnnt_viterbi(int *frames, double *delta, const double *log_blank, const double *log_label,
                                    int T, int U) {
  int t, u, U1 = U + 1;
  for (t = 0; t < T; t++)
    for (u = 0; u <= U; u++) {
      double best = t == 0 && u == 0 ? 0 : -INFINITY;
      if (t > 0) best = delta[(size_t)(t - 1) * U1 + u] + log_blank[(size_t)(t - 1) * U1 + u];
      if (u > 0) {
        double e = delta[(size_t)t * U1 + u - 1] + log_label[(size_t)t * U1 + u - 1];
        if (e > best) best = e;
      }
      delta[(size_t)t * U1 + u] = best;
    }
  t = T - 1, u = U;
  while (u > 0) {
    double from_label = delta[(size_t)t * U1 + u - 1] + log_label[(size_t)t * U1 + u - 1];
    double from_blank = t > 0 ? delta[(size_t)(t - 1) * U1 + u] + log_blank[(size_t)(t - 1) * U1 + u] : -INFINITY;
    if (from_blank >= from_label && t > 0) {
      t--;
    } else {
      frames[--u] = t;
    }
  }
}

/* Everything asr_model_decode needs beyond the encoder's inference plan. */
typedef struct asr__decode_plan {
  asr__model_plan P;
  int L, max_hyp;                          /* output frames; the most tokens a decoder returns */
  int *tok, *path;                         /* (max_hyp + 1), (L + 1) */
  asr_real *lp;                            /* CTC: (L,V) log-probabilities */
  asr_real *jbias, *g, *z;                 /* RNN-T: (H), (max_hyp+1, P), (L, max_hyp+1, V) */
  double *lb, *ll, *delta;                 /* RNN-T: (L, max_hyp+1) each */
  void *dwork;
  size_t dwork_bytes;
} asr__decode_plan;

ASR__PRIVATE void asr__decode_layout(const asr_model *m, asr__decode_plan *D, asr__bump *a, int T, int beam) {
  int V = m->cfg.vocab, L, K;
  size_t R = sizeof(asr_real), ws = 0;
  asr__model_layout(m, &D->P, a, 1, T, 0, ASR__PASS_INFER);
  D->L = L = D->P.Tout;
  if (m->cfg.head == ASR_HEAD_CTC) {
    D->max_hyp = K = L;
    D->lp = (asr_real *)asr__bump_take(a, R * (size_t)(L ? L : 1) * V);
    asr__take_max(&ws, asr_ctc_beam_workspace_size(L, V, beam));
    asr__take_max(&ws, asr_ctc_align_workspace_size(L, L));
  } else {
    asr_rnnt_joint J;
    asr_rnnt_stateless Ps;
    asr_rnnt_beam_opts bo = asr_rnnt_default_beam_opts();
    size_t nodes;
    bo.beam = beam;
    asr__rnnt_head(m, &J, &Ps, NULL);
    D->max_hyp = K = L * bo.max_symbols;
    nodes = (size_t)(L ? L : 1) * (K + 1);
    D->jbias = (asr_real *)asr__bump_take(a, R * (size_t)m->cfg.joint_dim);
    D->g = (asr_real *)asr__bump_take(a, R * (size_t)(K + 1) * m->cfg.pred_dim);
    D->z = (asr_real *)asr__bump_take(a, R * nodes * V);
    D->lb = (double *)asr__bump_take(a, sizeof(double) * nodes);
    D->ll = (double *)asr__bump_take(a, sizeof(double) * nodes);
    D->delta = (double *)asr__bump_take(a, sizeof(double) * nodes);
    asr__take_max(&ws, asr_rnnt_model_scratch_size(&J, &Ps) + R * (size_t)V + 64);
    asr__take_max(&ws, asr_rnnt_beam_workspace_size(V, K, &bo) + asr_rnnt_model_scratch_size(&J, &Ps) + 64);
    asr__take_max(&ws, asr_rnnt_joint_workspace_size(&J, L, K + 1));
  }
  D->tok = (int *)asr__bump_take(a, sizeof(int) * (size_t)(K + 1));
  D->path = (int *)asr__bump_take(a, sizeof(int) * (size_t)((K > L ? K : L) + 1));
  D->dwork_bytes = ws;
  D->dwork = asr__bump_take(a, ws);
}

ASRDEF size_t asr_model_decode_workspace_size(const asr_model *m, int T, int beam) {
  asr__decode_plan D;
  asr__bump a;
  a.base = NULL;
  a.cap = a.used = 0;
  asr__decode_layout(m, &D, &a, T, beam < 1 ? 1 : beam);
  return a.used;
}

ASRDEF asr_result asr_model_decode(asr_model *m, int *tokens, int *n_tokens, int *starts,
                                   int *ends, int max_tokens, const asr_real *feats, int T,
                                   int beam, void *work, size_t work_bytes, asr_error *err) {
  asr__decode_plan D;
  asr__bump a;
  asr_result r;
  int n = 0, i, L, V = m->cfg.vocab;
  if (!tokens || !n_tokens || !feats || T < 1 || beam < 1 || max_tokens < 0)
    return asr__fail(err, ASR_ERR_INVALID_ARG, "decode: bad sizes or NULL arguments");
  a.base = (unsigned char *)work;
  a.cap = work_bytes;
  a.used = 0;
  asr__decode_layout(m, &D, &a, T, beam);
  if (!work || a.used > work_bytes)
    return asr__fail(err, ASR_ERR_WORKSPACE, "decode: workspace too small (%lu bytes, %lu needed)",
                     (unsigned long)work_bytes, (unsigned long)a.used);
  r = asr__model_encode(m, &D.P, feats, &T, err);
  if (r != ASR_OK) return r;
  L = D.P.len_out[0];
  if (m->cfg.head == ASR_HEAD_CTC) {
    r = asr__ctc_head_forward(m, &D.P);
    if (r != ASR_OK) return asr__fail(err, r, "output layer: %s", asr_result_string(r));
    for (i = 0; i < L; i++) asr_log_softmax(D.lp + (size_t)i * V, D.P.logits + (size_t)i * V, V);
    /* best path; the beam's text instead when beam > 1, then its Viterbi path */
    r = asr_ctc_greedy_decode(D.tok, &n, NULL, D.path, D.lp, L, V, 0);
    if (r == ASR_OK && beam > 1) {
      asr_ctc_beam_opts bo = asr_ctc_beam_opts_default(beam, 0);
      int nh = 0;
      r = asr_ctc_prefix_beam_search(D.tok, &n, NULL, &nh, D.lp, L, V, &bo, D.dwork, D.dwork_bytes);
      if (r == ASR_OK && nh < 1) n = 0;
      if (r == ASR_OK && (starts || ends))
        r = asr_ctc_align(D.path, NULL, NULL, D.lp, D.tok, L, V, n, 0, D.dwork, D.dwork_bytes);
    }
    if (r < 0) return asr__fail(err, r, "CTC decoding: %s", asr_result_string(r));
    r = ASR_OK;
    if (n > max_tokens) return asr__fail(err, ASR_ERR_TOO_LARGE, "decode: %d tokens, room for %d", n, max_tokens);
    if (starts || ends) {
      /* each token's run of frames in the path (B maps the path to exactly these tokens) */
      int cnt = asr_ctc_token_spans(NULL, starts, ends, D.path, L, 0);
      if (cnt != n) return asr__fail(err, ASR_ERR_INVALID_ARG, "decode: alignment has %d tokens, text %d", cnt, n);
    }
  } else {
    asr_rnnt_joint J;
    asr_rnnt_stateless Ps;
    asr_rnnt_model rm;
    asr_rnnt_beam_opts bo = asr_rnnt_default_beam_opts();
    size_t scratch;
    double logp;
    asr__rnnt_head(m, &J, &Ps, D.jbias);
    scratch = asr_rnnt_model_scratch_size(&J, &Ps);
    rm.joint = &J;
    rm.pred = &Ps;
    rm.f = D.P.enc;
    rm.T = L;
    rm.scratch = D.dwork;
    rm.scratch_bytes = scratch;
    /* the decoders' own workspace after the scorer's scratch (64-byte aligned) */
    scratch = (scratch + 63) & ~(size_t)63;
    bo.beam = beam;
    if (beam == 1)
      r = asr_rnnt_greedy_decode(D.tok, &n, &logp, D.max_hyp, asr_rnnt_model_scorer, &rm, L, V, 0, bo.max_symbols,
                                 (unsigned char *)D.dwork + scratch, D.dwork_bytes - scratch);
    else
      r = asr_rnnt_beam_search(D.tok, &n, &logp, D.max_hyp, asr_rnnt_model_scorer, &rm, L, V, 0, &bo,
                               (unsigned char *)D.dwork + scratch, D.dwork_bytes - scratch);
    if (r != ASR_OK) return asr__fail(err, r, "RNN-T decoding: %s", asr_result_string(r));
    if (n > max_tokens) return asr__fail(err, ASR_ERR_TOO_LARGE, "decode: %d tokens, room for %d", n, max_tokens);
    if (starts || ends) {
      /* the Viterbi alignment of the text on its (L, n+1) lattice */
      r = asr_rnnt_stateless_forward(D.g, NULL, D.tok, n, &Ps);
      if (r == ASR_OK) r = asr_rnnt_joint_forward(D.z, NULL, D.P.enc, D.g, &J, L, n + 1, D.dwork, D.dwork_bytes);
      if (r != ASR_OK) return asr__fail(err, r, "RNN-T alignment: %s", asr_result_string(r));
      asr_rnnt_lattice(D.lb, D.ll, NULL, D.z, D.tok, L, n, n + 1, V, 0);
      asr__rnnt_viterbi(D.path, D.delta, D.lb, D.ll, L, n);
      for (i = 0; i < n; i++) {
        if (starts) starts[i] = D.path[i];
        if (ends) ends[i] = D.path[i];
      }
    }
  }
  memcpy(tokens, D.tok, sizeof(int) * (size_t)n);
  *n_tokens = n;
  return ASR_OK;
}

/* ========================================================================================
 * 10. Checkers (implementation)
 * ======================================================================================== */

/* ---------------------------------------------------------------------------------------
 * 10.1 Features checkers (implementation)
 * --------------------------------------------------------------------------------------- */

/* A random option set for case `c` of the checker (see asr_check_fbank). */
ASR__PRIVATE asr_fbank_opts asr__check_fbank_opts(asr_rng *rng, int c) {
  static const double rates[3] = {16000, 8000, 22050};
  asr_fbank_opts o = asr_fbank_opts_default();
  o.window_type = (asr_window_type)(c % 5);                 /* every window in turn */
  o.sample_frequency = rates[asr_rng_int(rng, 3)];
  o.snip_edges = asr_rng_int(rng, 2);
  o.use_energy = asr_rng_int(rng, 2);
  o.raw_energy = asr_rng_int(rng, 2);
  o.htk_compat = asr_rng_int(rng, 2);
  o.use_power = asr_rng_int(rng, 4) != 0;
  o.use_log_fbank = asr_rng_int(rng, 4) != 0;
  o.remove_dc_offset = asr_rng_int(rng, 4) != 0;
  o.preemphasis_coefficient = asr_rng_int(rng, 4) ? 0.97 : 0.0;
  o.subtract_mean = asr_rng_int(rng, 4) == 0;
  o.dither = asr_rng_int(rng, 4) == 0 ? 1.0 : 0.0;
  o.energy_floor = asr_rng_int(rng, 2) ? 0.0 : 1.0;
  o.blackman_coeff = 0.42 + 0.05 * (asr_rng_uniform(rng) - 0.5);
  o.num_mel_bins = 10 + asr_rng_int(rng, 20);
  o.low_freq = asr_rng_int(rng, 2) ? 20 : 60;
  o.high_freq = asr_rng_int(rng, 3) == 0 ? -400 : (asr_rng_int(rng, 2) ? 0 : 0.4 * o.sample_frequency);
  if (asr_rng_int(rng, 4) == 0) {
    /* not a power of two: 25 ms at 16 kHz = 400 (Bluestein on 200), 20 ms at 8 kHz = 160 */
    o.round_to_power_of_two = 0;
    o.frame_length = o.sample_frequency == 8000 ? 20 : (o.sample_frequency == 22050 ? 40 : 25);
    /* the FFT size must be even: add half a sample's worth until L is */
    while (asr_fbank_window_size(&o) % 2) o.frame_length += 500.0 / o.sample_frequency;
  }
  if (asr_rng_int(rng, 3) == 0) o.frame_shift = 12.5;
  return o;
}

/* One test signal of n samples, in the 16-bit scale: kind 0 white noise, 1 sinusoids +
 * DC + a little noise, 2 near-silence with one click. */
ASR__PRIVATE void asr__check_fbank_signal(asr_real *x, int n, int kind, double fs, asr_rng *rng) {
  int i;
  double f1 = 100 + 3000 * asr_rng_uniform(rng), f2 = 50 + 0.45 * fs * asr_rng_uniform(rng);
  double dc = 500 * (asr_rng_uniform(rng) - 0.5);
  for (i = 0; i < n; i++) {
    double v;
    if (kind == 0) v = 1000 * asr_rng_normal(rng);
    else if (kind == 1)
      v = dc + 3000 * sin(6.283185307179586 * f1 * i / fs) + 800 * cos(6.283185307179586 * f2 * i / fs) +
          30 * asr_rng_normal(rng);
    else v = (i == n / 3 ? 20000.0 : 0.0) + 3 * asr_rng_normal(rng);
    x[i] = (asr_real)v;
  }
}

ASRDEF asr_result asr_check_fbank(asr_fbank_fn impl, const char *name, uint64_t seed, int cases,
                                  double tol, asr_check_report *rep) {
  asr_rng rng;
  int c;
  if (!impl || !rep) return ASR_ERR_INVALID_ARG;
  if (!name) name = "fbank";
  if (tol <= 0) tol = ASR_REAL_DOUBLE ? 1e-9 : 1e-4;
  if (cases <= 0) cases = 48;
  asr_rng_seed(&rng, seed, 0xfba4);
  for (c = 0; c < cases; c++) {
    asr_fbank_opts o = asr__check_fbank_opts(&rng, c);
    int kind = c % 3, n, T, D, t, d, tier;
    size_t wb, cells;
    asr_real *x, *got, *want;
    void *work;
    double worst = 0;
    asr_error err;
    asr_result r1;
    uint64_t dseed = (uint64_t)asr_rng_u32(&rng);
    /* lengths: mostly a few hundred ms, sometimes shorter than one frame */
    n = asr_rng_int(&rng, 8) == 0 ? asr_rng_int(&rng, asr_fbank_window_size(&o) + 1)
                                  : asr_rng_int(&rng, (int)(0.15 * o.sample_frequency));
    if (asr_fbank_check_opts(&o, &err) != ASR_OK) {
      asr__check_case(rep, 0, INFINITY, "%s case %d: the checker drew bad options: %s", name, c, err.msg);
      continue;
    }
    T = asr_fbank_num_frames(n, &o);
    D = asr_fbank_dim(&o);
    cells = (size_t)T * (size_t)D + 1;
    wb = asr_fbank_workspace_size(&o);
    x = ASR__ALLOC(asr_real, n + 1, NULL);
    got = ASR__ALLOC(asr_real, cells, NULL);
    want = ASR__ALLOC(asr_real, cells, NULL);
    work = ASR_MALLOC(wb, NULL);
    if (!x || !got || !want || !work) {
      ASR_FREE(x, NULL), ASR_FREE(got, NULL), ASR_FREE(want, NULL), ASR_FREE(work, NULL);
      return ASR_ERR_OUT_OF_MEMORY;
    }
    asr__check_fbank_signal(x, n, kind, o.sample_frequency, &rng);
    {
      asr_rng d1;
      asr_rng_seed(&d1, dseed, 1);
      r1 = impl(got, x, n, &o, &d1, work, wb, &err);
    }
    for (tier = 0; tier < 2 && r1 == ASR_OK; tier++) {
      asr_rng d2;
      asr_rng_seed(&d2, dseed, 1);                   /* the same dither noise */
      if ((tier == 0 ? asr_fbank_naive : asr_fbank_ref)(want, x, n, &o, &d2, work, wb, &err) != ASR_OK) {
        worst = INFINITY;
        break;
      }
      double allmax = 0;
      int e_col = !o.use_energy ? -1 : (o.htk_compat ? D - 1 : 0);
      for (t = 0; t < T; t++)
        for (d = 0; d < D; d++)
          if (d != e_col && fabs((double)want[(size_t)t * D + d]) > allmax) allmax = fabs((double)want[(size_t)t * D + d]);
      for (t = 0; t < T; t++) {
        const asr_real *g = got + (size_t)t * D, *w = want + (size_t)t * D;
        double rowmax = 0;
        for (d = 0; d < D; d++)
          if (d != e_col && fabs((double)w[d]) > rowmax) rowmax = fabs((double)w[d]);
        if (o.subtract_mean) rowmax = allmax;   /* means removed: scale of the whole matrix */
        for (d = 0; d < D; d++) {
          double diff = fabs((double)g[d] - (double)w[d]);
          /* log outputs: absolute; linear mel energies: relative to the row's largest */
          if (d != e_col && !o.use_log_fbank) diff /= ASR__MAX(rowmax, 1e-30);
          if (diff > worst || diff != diff) worst = diff;
        }
      }
    }
    asr__check_case(rep, r1 == ASR_OK && worst <= tol, r1 == ASR_OK ? worst : INFINITY,
                    "%s case %d: n %d at %g Hz, %s window, N %d, %s%s%s%s%s%s: %s %.3g (tol %.3g)",
                    name, c, n, o.sample_frequency, asr_window_name(o.window_type), asr_fbank_padded_size(&o),
                    o.snip_edges ? "snip" : "no-snip", o.use_energy ? (o.raw_energy ? ", raw energy" : ", energy") : "",
                    o.use_energy && o.htk_compat ? " last" : "", o.use_log_fbank ? "" : ", linear",
                    o.use_power ? "" : ", magnitude", o.dither > 0 ? ", dither" : "",
                    r1 == ASR_OK ? "max error" : "impl failed:", r1 == ASR_OK ? worst : (double)r1, tol);
    ASR_FREE(x, NULL), ASR_FREE(got, NULL), ASR_FREE(want, NULL), ASR_FREE(work, NULL);
  }
  return ASR_OK;
}

/* ---------------------------------------------------------------------------------------
 * 10.2 Layers checkers: conv1d, depthwise-separable conv, SE (implementation)
 * --------------------------------------------------------------------------------------- */

/* Memory of one checker run: every array through ASR_MALLOC, freed at the end. */
typedef struct asr__chk2_mem {
  void *p[256];
  int n, failed;
} asr__chk2_mem;
ASR__PRIVATE void *asr__chk2_bytes(asr__chk2_mem *m, size_t bytes) {
  void *p;
  if (m->n >= 256 || bytes == (size_t)-1) {
    m->failed = 1;
    return NULL;
  }
  p = ASR_MALLOC(bytes ? bytes : 1, NULL);
  if (!p) {
    m->failed = 1;
    return NULL;
  }
  memset(p, 0, bytes ? bytes : 1);
  m->p[m->n++] = p;
  return p;
}
ASR__PRIVATE asr_real *asr__chk2_new(asr__chk2_mem *m, size_t n) {
  if (n > ((size_t)-1) / sizeof(asr_real) / 2) {
    m->failed = 1;
    return NULL;
  }
  return (asr_real *)asr__chk2_bytes(m, n * sizeof(asr_real));
}
ASR__PRIVATE void asr__chk2_free(asr__chk2_mem *m) {
  int i;
  for (i = 0; i < m->n; i++) ASR_FREE(m->p[i], NULL);
  m->n = 0;
}
ASR__PRIVATE void asr__chk2_randn(asr_rng *rng, asr_real *x, size_t n, double scale) {
  size_t i;
  for (i = 0; i < n; i++) x[i] = (asr_real)(scale * asr_rng_normal(rng));
}
ASR__PRIVATE double asr__chk2_dot(const asr_real *a, const asr_real *b, size_t n) {
  double s = 0;
  size_t i;
  for (i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}
/* max |a - b| relative to max(1, max |b|): the measure of the tier comparisons */
ASR__PRIVATE double asr__chk2_err(const asr_real *a, const asr_real *b, size_t n) {
  double m = 1, e = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
    if (d > e || d != d) e = d;
  }
  return e / m;
}
#define ASR__CHK2_TIER_TOL (ASR_REAL_DOUBLE ? 1e-9 : 2e-4)
#define ASR__CHK2_FD_TOL (ASR_REAL_DOUBLE ? 1e-6 : 5e-2)

/* lengths of a with_lengths instance: T, T-1, ..., wrapping to 0 */
ASR__PRIVATE void asr__chk2_lengths(int *lens, int N, int T) {
  int n;
  for (n = 0; n < N; n++) lens[n] = T - n % (T + 1);
}

/* ---- conv1d */
typedef struct asr__chk2_conv {
  asr_conv1d_forward_fn fwd;
  const asr_conv1d_dims *d;
  const int *lengths;
  asr_real *x, *w, *b, *y, *W;
  size_t ny;
  void *work;
  size_t wbytes;
  asr_result status;
} asr__chk2_conv;

ASR__PRIVATE double asr__chk2_conv_f(void *vc) {
  asr__chk2_conv *c = (asr__chk2_conv *)vc;
  asr_result r = c->fwd(c->y, c->x, c->w, c->b, c->lengths, c->d, c->work, c->wbytes);
  if (r < 0) c->status = r;
  return asr__chk2_dot(c->W, c->y, c->ny);
}

ASRDEF asr_result asr_gradcheck_conv1d(asr_conv1d_forward_fn fwd, asr_conv1d_backward_fn bwd,
                                       const asr_conv1d_dims *d, int with_lengths,
                                       uint64_t seed, asr_gradcheck_report *report) {
  asr__chk2_mem m;
  asr__chk2_conv c;
  asr_rng rng;
  int lens[64], T_out;
  size_t nx, nw;
  asr_real *gx, *gw, *gb;
  asr_gradcheck_param prm[3];
  asr_result r;
  memset(report, 0, sizeof *report);
  if (!bwd || asr_conv1d_validate(d, NULL) != ASR_OK || d->N > 64) return ASR_ERR_INVALID_ARG;
  memset(&m, 0, sizeof m);
  memset(&c, 0, sizeof c);
  asr_rng_seed(&rng, seed, 21);
  c.fwd = fwd ? fwd : asr_conv1d_forward;
  c.d = d;
  asr__chk2_lengths(lens, d->N, d->T_in);
  c.lengths = with_lengths ? lens : NULL;
  T_out = asr_conv1d_out_frames(d->T_in, d->K, d->stride, d->padding, d->dilation);
  nx = (size_t)d->N * d->C_in * d->T_in;
  nw = (size_t)d->C_out * (d->C_in / d->groups) * d->K;
  c.ny = (size_t)d->N * d->C_out * T_out;
  c.x = asr__chk2_new(&m, nx), c.w = asr__chk2_new(&m, nw), c.b = asr__chk2_new(&m, (size_t)d->C_out);
  c.y = asr__chk2_new(&m, c.ny), c.W = asr__chk2_new(&m, c.ny);
  gx = asr__chk2_new(&m, nx), gw = asr__chk2_new(&m, nw), gb = asr__chk2_new(&m, (size_t)d->C_out);
  c.wbytes = asr_conv1d_workspace_size(d);
  c.work = asr__chk2_bytes(&m, c.wbytes);
  if (m.failed) {
    asr__chk2_free(&m);
    return ASR_ERR_OUT_OF_MEMORY;
  }
  asr__chk2_randn(&rng, c.x, nx, 1.0);
  asr__chk2_randn(&rng, c.w, nw, 0.5);
  asr__chk2_randn(&rng, c.b, (size_t)d->C_out, 0.5);
  asr__chk2_randn(&rng, c.W, c.ny, 1.0);
  asr__chk2_conv_f(&c);
  r = c.status;
  if (r >= 0) r = bwd(gx, gw, gb, c.W, c.x, c.w, c.lengths, d, c.work, c.wbytes);
  if (r >= 0) {
    prm[0].name = "x", prm[0].x = c.x, prm[0].grad = gx, prm[0].n = nx;
    prm[1].name = "weight", prm[1].x = c.w, prm[1].grad = gw, prm[1].n = nw;
    prm[2].name = "bias", prm[2].x = c.b, prm[2].grad = gb, prm[2].n = (size_t)d->C_out;
    r = asr_gradcheck(asr__chk2_conv_f, &c, prm, 3, NULL, &rng, report);
    if (r >= 0 && c.status < 0) r = c.status;
  }
  asr__chk2_free(&m);
  return r;
}

/* The conv1d cases: N, C_in, C_out, T_in, K, stride, padding, dilation, groups. */
static const int asr__chk2_conv_cases[7][9] = {
  {2, 4, 6, 9, 3, 1, 1, 1, 1},     /* "same" padding */
  {2, 4, 6, 11, 5, 2, 2, 1, 2},    /* stride 2, two groups */
  {3, 6, 6, 10, 3, 1, 2, 2, 6},    /* depthwise, dilated */
  {2, 3, 5, 7, 1, 1, 0, 1, 1},     /* pointwise */
  {3, 4, 8, 17, 4, 3, 0, 2, 4},    /* depthwise with multiplier 2, stride 3, no padding */
  {3, 2, 3, 6, 6, 1, 0, 1, 1},     /* kernel = T: one output frame */
  {2, 3, 2, 5, 3, 2, 3, 1, 1},     /* padding wider than the kernel's half */
};

ASRDEF asr_result asr_check_conv1d(asr_conv1d_forward_fn fwd, asr_conv1d_backward_fn bwd,
                                   uint64_t seed, asr_check_report *rep) {
  asr_conv1d_forward_fn f = fwd ? fwd : asr_conv1d_forward;
  asr_rng rng;
  int ci, wl;
  asr_rng_seed(&rng, seed, 22);
  for (ci = 0; ci < 7; ci++)
    for (wl = 0; wl < 2; wl++) {
      const int *cs = asr__chk2_conv_cases[ci];
      asr__chk2_mem m;
      asr_conv1d_dims d;
      int lens[8], T_out, n, Lo[8];
      size_t nx, nw, ny, wb;
      asr_real *x, *w, *b, *ya, *yb, *dy, *dxa, *dxb, *dwa, *dwb, *dba, *dbb;
      void *work;
      const int *L;
      asr_conv1d_dims_init(&d, cs[0], cs[1], cs[2], cs[3], cs[4]);
      d.stride = cs[5], d.padding = cs[6], d.dilation = cs[7], d.groups = cs[8];
      asr__chk2_lengths(lens, d.N, d.T_in);
      L = wl ? lens : NULL;
      T_out = asr_conv1d_out_frames(d.T_in, d.K, d.stride, d.padding, d.dilation);
      asr_conv1d_out_lengths(Lo, L, &d);
      nx = (size_t)d.N * d.C_in * d.T_in;
      nw = (size_t)d.C_out * (d.C_in / d.groups) * d.K;
      ny = (size_t)d.N * d.C_out * T_out;
      wb = asr_conv1d_workspace_size(&d);
      memset(&m, 0, sizeof m);
      x = asr__chk2_new(&m, nx), w = asr__chk2_new(&m, nw), b = asr__chk2_new(&m, (size_t)d.C_out);
      ya = asr__chk2_new(&m, ny), yb = asr__chk2_new(&m, ny), dy = asr__chk2_new(&m, ny);
      dxa = asr__chk2_new(&m, nx), dxb = asr__chk2_new(&m, nx);
      dwa = asr__chk2_new(&m, nw), dwb = asr__chk2_new(&m, nw);
      dba = asr__chk2_new(&m, (size_t)d.C_out), dbb = asr__chk2_new(&m, (size_t)d.C_out);
      work = asr__chk2_bytes(&m, wb);
      if (m.failed) {
        asr__chk2_free(&m);
        return ASR_ERR_OUT_OF_MEMORY;
      }
      asr__chk2_randn(&rng, x, nx, 1.0);   /* the padding holds random garbage too */
      asr__chk2_randn(&rng, w, nw, 0.5);
      asr__chk2_randn(&rng, b, (size_t)d.C_out, 0.5);
      asr__chk2_randn(&rng, dy, ny, 1.0);  /* dy of padded outputs must be ignored */
      /* 1. forward against the definition */
      if (fwd) {
        asr_result r1 = fwd(ya, x, w, b, L, &d, work, wb);
        asr_result r2 = asr_conv1d_forward_naive(yb, x, w, b, L, &d, NULL, 0);
        double e = asr__chk2_err(ya, yb, ny);
        asr__check_case(rep, r1 == ASR_OK && r2 == ASR_OK && e <= ASR__CHK2_TIER_TOL, e,
                        "conv1d case %d%s: forward vs naive, rel. err %.3g", ci, wl ? " lengths" : "", e);
      }
      /* 2. backward against the definition, and finite differences */
      if (bwd) {
        asr_result r1 = bwd(dxa, dwa, dba, dy, x, w, L, &d, work, wb);
        asr_result r2 = asr_conv1d_backward_naive(dxb, dwb, dbb, dy, x, w, L, &d, NULL, 0);
        double e = asr__chk2_err(dxa, dxb, nx);
        asr_gradcheck_report gr;
        asr_result r3;
        e = ASR__MAX(e, asr__chk2_err(dwa, dwb, nw));
        e = ASR__MAX(e, asr__chk2_err(dba, dbb, (size_t)d.C_out));
        asr__check_case(rep, r1 == ASR_OK && r2 == ASR_OK && e <= ASR__CHK2_TIER_TOL, e,
                        "conv1d case %d%s: backward (dx, dw, db) vs naive, rel. err %.3g", ci,
                        wl ? " lengths" : "", e);
        r3 = asr_gradcheck_conv1d(fwd, bwd, &d, wl, seed + (uint64_t)ci, &gr);
        if (r3 == ASR_ERR_OUT_OF_MEMORY) {
          asr__chk2_free(&m);
          return r3;
        }
        asr__check_case(rep, r3 == ASR_OK && gr.max_rel_err <= ASR__CHK2_FD_TOL, gr.max_rel_err,
                        "conv1d case %d%s: finite differences, max rel. err %.3g (%s)", ci,
                        wl ? " lengths" : "", gr.max_rel_err, gr.worst_param ? gr.worst_param : "-");
      }
      /* 3. padding invariance: each item alone, unpadded, against its place in the batch */
      if (wl) {
        int ok = 1;
        double e = 0;
        asr_result r = f(ya, x, w, b, L, &d, work, wb);
        if (bwd) {
          memset(dxa, 0, sizeof(asr_real) * nx);
          memset(dwa, 0, sizeof(asr_real) * nw);
          memset(dwb, 0, sizeof(asr_real) * nw);
          if (r == ASR_OK) r = bwd(dxa, dwa, NULL, dy, x, w, L, &d, work, wb);
        }
        ok = r == ASR_OK;
        for (n = 0; n < d.N && ok; n++) {
          asr_conv1d_dims one = d;
          int o, t, c, Tn = lens[n];
          size_t nxn = (size_t)d.C_in * Tn, nyn = (size_t)d.C_out * Lo[n];
          asr_real *xn = asr__chk2_new(&m, nxn ? nxn : 1), *yn = asr__chk2_new(&m, nyn ? nyn : 1);
          asr_real *dyn = asr__chk2_new(&m, nyn ? nyn : 1), *dxn = asr__chk2_new(&m, nxn ? nxn : 1);
          void *wn;
          one.N = 1;
          one.T_in = Tn;
          wn = asr__chk2_bytes(&m, asr_conv1d_workspace_size(&one));
          if (m.failed) {
            asr__chk2_free(&m);
            return ASR_ERR_OUT_OF_MEMORY;
          }
          for (c = 0; c < d.C_in; c++)
            for (t = 0; t < Tn; t++) xn[(size_t)c * Tn + t] = x[((size_t)n * d.C_in + c) * d.T_in + t];
          for (o = 0; o < d.C_out; o++) {
            for (t = 0; t < Lo[n]; t++) dyn[(size_t)o * Lo[n] + t] = dy[((size_t)n * d.C_out + o) * T_out + t];
            for (t = Lo[n]; t < T_out; t++)       /* padded outputs are exactly 0 */
              if (ya[((size_t)n * d.C_out + o) * T_out + t] != 0) ok = 0;
          }
          if (Lo[n] == 0) continue;               /* nothing valid: all zeros was checked */
          if (f(yn, xn, w, b, NULL, &one, wn, asr_conv1d_workspace_size(&one)) != ASR_OK) ok = 0;
          for (o = 0; o < d.C_out && ok; o++)
            for (t = 0; t < Lo[n]; t++)
              e = ASR__MAX(e, fabs((double)yn[(size_t)o * Lo[n] + t] -
                                   ya[((size_t)n * d.C_out + o) * T_out + t]));
          if (bwd && ok) {
            if (bwd(dxn, dwb, NULL, dyn, xn, w, NULL, &one, wn, asr_conv1d_workspace_size(&one)) != ASR_OK)
              ok = 0;
            for (c = 0; c < d.C_in; c++) {
              for (t = 0; t < Tn; t++)
                e = ASR__MAX(e, fabs((double)dxn[(size_t)c * Tn + t] - dxa[((size_t)n * d.C_in + c) * d.T_in + t]));
              for (t = Tn; t < d.T_in; t++)        /* padded inputs get no gradient */
                if (dxa[((size_t)n * d.C_in + c) * d.T_in + t] != 0) ok = 0;
            }
          }
        }
        if (bwd && ok) e = ASR__MAX(e, asr__chk2_err(dwb, dwa, nw));   /* sum over items */
        asr__check_case(rep, ok && e <= ASR__CHK2_TIER_TOL * 10, e,
                        "conv1d case %d: padding invariance (items alone vs padded batch), err %.3g", ci, e);
      }
      asr__chk2_free(&m);
    }
  /* 4. bad arguments are refused and nothing is written */
  {
    asr_conv1d_dims d;
    asr_real x[12], w[10], y[12];
    int bad_len[2] = {4, 7}, i, untouched = 1;
    asr_result r1, r2 = ASR_OK;
    for (i = 0; i < 12; i++) x[i] = 1, y[i] = 7;
    for (i = 0; i < 10; i++) w[i] = 1;
    asr_conv1d_dims_init(&d, 2, 1, 2, 6, 3);
    r1 = f(y, x, w, NULL, bad_len, &d, NULL, 0);             /* a length > T_in */
    d.K = 5;
    d.T_in = 2;                                                /* kernel 5 > 2 frames */
    if (fwd) r2 = fwd(y, x, w, NULL, NULL, &d, NULL, 0);
    for (i = 0; i < 12; i++)
      if (y[i] != 7) untouched = 0;
    asr__check_case(rep, r1 < 0 && (!fwd || r2 < 0) && untouched, 0,
                    "conv1d: refuses a length > T_in (%d) and a kernel wider than the padded input (%d), "
                    "writing nothing", (int)r1, (int)r2);
  }
  return ASR_OK;
}

/* ---- depthwise-separable conv1d */
typedef struct asr__chk2_dws {
  asr_dwsep_conv1d_forward_fn fwd;
  const asr_conv1d_dims *d;
  const int *lengths;
  asr_real *x, *dw_w, *dw_b, *pw_w, *pw_b, *y, *h, *W;
  size_t ny;
  void *work;
  size_t wbytes;
  asr_result status;
} asr__chk2_dws;

ASR__PRIVATE double asr__chk2_dws_f(void *vc) {
  asr__chk2_dws *c = (asr__chk2_dws *)vc;
  asr_result r = c->fwd(c->y, c->h, c->x, c->dw_w, c->dw_b, c->pw_w, c->pw_b, c->lengths, c->d,
                        c->work, c->wbytes);
  if (r < 0) c->status = r;
  return asr__chk2_dot(c->W, c->y, c->ny);
}

/* sizes of a dwsep instance: x, dw_w, pw_w, h, y */
ASR__PRIVATE void asr__chk2_dws_sizes(const asr_conv1d_dims *d, size_t *nx, size_t *ndw, size_t *npw,
                                      size_t *nh, size_t *ny, int *T_out) {
  *T_out = asr_conv1d_out_frames(d->T_in, d->K, d->stride, d->padding, d->dilation);
  *nx = (size_t)d->N * d->C_in * d->T_in;
  *ndw = (size_t)d->C_in * d->K;
  *npw = (size_t)d->C_out * d->C_in;
  *nh = (size_t)d->N * d->C_in * *T_out;
  *ny = (size_t)d->N * d->C_out * *T_out;
}

ASRDEF asr_result asr_gradcheck_dwsep_conv1d(asr_dwsep_conv1d_forward_fn fwd,
                                             asr_dwsep_conv1d_backward_fn bwd,
                                             const asr_conv1d_dims *d, int with_lengths,
                                             uint64_t seed, asr_gradcheck_report *report) {
  asr__chk2_mem m;
  asr__chk2_dws c;
  asr_rng rng;
  int lens[64], T_out;
  size_t nx, ndw, npw, nh;
  asr_real *gx, *gdw, *gdb, *gpw, *gpb;
  asr_gradcheck_param prm[5];
  asr_result r;
  memset(report, 0, sizeof *report);
  if (!bwd || !d || d->N > 64 || asr_dwsep_conv1d_workspace_size(d) == 0) return ASR_ERR_INVALID_ARG;
  memset(&m, 0, sizeof m);
  memset(&c, 0, sizeof c);
  asr_rng_seed(&rng, seed, 23);
  c.fwd = fwd ? fwd : asr_dwsep_conv1d_forward;
  c.d = d;
  asr__chk2_lengths(lens, d->N, d->T_in);
  c.lengths = with_lengths ? lens : NULL;
  asr__chk2_dws_sizes(d, &nx, &ndw, &npw, &nh, &c.ny, &T_out);
  c.x = asr__chk2_new(&m, nx), c.dw_w = asr__chk2_new(&m, ndw), c.dw_b = asr__chk2_new(&m, (size_t)d->C_in);
  c.pw_w = asr__chk2_new(&m, npw), c.pw_b = asr__chk2_new(&m, (size_t)d->C_out);
  c.h = asr__chk2_new(&m, nh), c.y = asr__chk2_new(&m, c.ny), c.W = asr__chk2_new(&m, c.ny);
  gx = asr__chk2_new(&m, nx), gdw = asr__chk2_new(&m, ndw), gdb = asr__chk2_new(&m, (size_t)d->C_in);
  gpw = asr__chk2_new(&m, npw), gpb = asr__chk2_new(&m, (size_t)d->C_out);
  c.wbytes = asr_dwsep_conv1d_workspace_size(d);
  c.work = asr__chk2_bytes(&m, c.wbytes);
  if (m.failed) {
    asr__chk2_free(&m);
    return ASR_ERR_OUT_OF_MEMORY;
  }
  asr__chk2_randn(&rng, c.x, nx, 1.0);
  asr__chk2_randn(&rng, c.dw_w, ndw, 0.5);
  asr__chk2_randn(&rng, c.dw_b, (size_t)d->C_in, 0.5);
  asr__chk2_randn(&rng, c.pw_w, npw, 0.5);
  asr__chk2_randn(&rng, c.pw_b, (size_t)d->C_out, 0.5);
  asr__chk2_randn(&rng, c.W, c.ny, 1.0);
  asr__chk2_dws_f(&c);
  r = c.status;
  if (r >= 0)
    r = bwd(gx, gdw, gdb, gpw, gpb, c.W, c.h, c.x, c.dw_w, c.pw_w, c.lengths, d, c.work, c.wbytes);
  if (r >= 0) {
    prm[0].name = "x", prm[0].x = c.x, prm[0].grad = gx, prm[0].n = nx;
    prm[1].name = "depthwise.weight", prm[1].x = c.dw_w, prm[1].grad = gdw, prm[1].n = ndw;
    prm[2].name = "depthwise.bias", prm[2].x = c.dw_b, prm[2].grad = gdb, prm[2].n = (size_t)d->C_in;
    prm[3].name = "pointwise.weight", prm[3].x = c.pw_w, prm[3].grad = gpw, prm[3].n = npw;
    prm[4].name = "pointwise.bias", prm[4].x = c.pw_b, prm[4].grad = gpb, prm[4].n = (size_t)d->C_out;
    r = asr_gradcheck(asr__chk2_dws_f, &c, prm, 5, NULL, &rng, report);
    if (r >= 0 && c.status < 0) r = c.status;
  }
  asr__chk2_free(&m);
  return r;
}

/* N, C, C_out, T_in, K, stride, padding, dilation */
static const int asr__chk2_dws_cases[4][8] = {
  {2, 5, 7, 10, 3, 1, 1, 1},
  {3, 4, 3, 21, 5, 2, 2, 1},       /* ContextNet's downsampling layer */
  {2, 6, 4, 12, 3, 1, 2, 2},       /* dilated */
  {3, 3, 6, 8, 5, 3, 0, 1},        /* no padding, stride 3 */
};

ASRDEF asr_result asr_check_dwsep_conv1d(asr_dwsep_conv1d_forward_fn fwd,
                                         asr_dwsep_conv1d_backward_fn bwd, uint64_t seed,
                                         asr_check_report *rep) {
  asr_dwsep_conv1d_forward_fn f = fwd ? fwd : asr_dwsep_conv1d_forward;
  asr_rng rng;
  int ci, wl;
  asr_rng_seed(&rng, seed, 24);
  for (ci = 0; ci < 4; ci++)
    for (wl = 0; wl < 2; wl++) {
      const int *cs = asr__chk2_dws_cases[ci];
      asr__chk2_mem m;
      asr_conv1d_dims d;
      int lens[8], T_out, n, Lo[8];
      size_t nx, ndw, npw, nh, ny, wb;
      asr_real *x, *dw_w, *dw_b, *pw_w, *pw_b, *ya, *yb, *ha, *hb, *dy;
      asr_real *g[2][5];
      void *work;
      const int *L;
      int k, s;
      asr_conv1d_dims_init(&d, cs[0], cs[1], cs[2], cs[3], cs[4]);
      d.stride = cs[5], d.padding = cs[6], d.dilation = cs[7], d.groups = cs[1];
      asr__chk2_lengths(lens, d.N, d.T_in);
      L = wl ? lens : NULL;
      asr__chk2_dws_sizes(&d, &nx, &ndw, &npw, &nh, &ny, &T_out);
      asr_conv1d_out_lengths(Lo, L, &d);
      wb = asr_dwsep_conv1d_workspace_size(&d);
      memset(&m, 0, sizeof m);
      x = asr__chk2_new(&m, nx), dw_w = asr__chk2_new(&m, ndw), dw_b = asr__chk2_new(&m, (size_t)d.C_in);
      pw_w = asr__chk2_new(&m, npw), pw_b = asr__chk2_new(&m, (size_t)d.C_out);
      ya = asr__chk2_new(&m, ny), yb = asr__chk2_new(&m, ny), dy = asr__chk2_new(&m, ny);
      ha = asr__chk2_new(&m, nh), hb = asr__chk2_new(&m, nh);
      for (s = 0; s < 2; s++) {
        g[s][0] = asr__chk2_new(&m, nx), g[s][1] = asr__chk2_new(&m, ndw);
        g[s][2] = asr__chk2_new(&m, (size_t)d.C_in), g[s][3] = asr__chk2_new(&m, npw);
        g[s][4] = asr__chk2_new(&m, (size_t)d.C_out);
      }
      work = asr__chk2_bytes(&m, wb);
      if (m.failed) {
        asr__chk2_free(&m);
        return ASR_ERR_OUT_OF_MEMORY;
      }
      asr__chk2_randn(&rng, x, nx, 1.0);
      asr__chk2_randn(&rng, dw_w, ndw, 0.5);
      asr__chk2_randn(&rng, dw_b, (size_t)d.C_in, 0.5);
      asr__chk2_randn(&rng, pw_w, npw, 0.5);
      asr__chk2_randn(&rng, pw_b, (size_t)d.C_out, 0.5);
      asr__chk2_randn(&rng, dy, ny, 1.0);
      if (fwd) {
        asr_result r1 = fwd(ya, ha, x, dw_w, dw_b, pw_w, pw_b, L, &d, work, wb);
        asr_result r2 = asr_dwsep_conv1d_forward_naive(yb, hb, x, dw_w, dw_b, pw_w, pw_b, L, &d, NULL, 0);
        double e = ASR__MAX(asr__chk2_err(ya, yb, ny), asr__chk2_err(ha, hb, nh));
        asr__check_case(rep, r1 == ASR_OK && r2 == ASR_OK && e <= ASR__CHK2_TIER_TOL, e,
                        "dwsep_conv1d case %d%s: forward (y, h) vs naive, rel. err %.3g", ci,
                        wl ? " lengths" : "", e);
      }
      if (bwd) {
        asr_result r0 = asr_dwsep_conv1d_forward_naive(yb, hb, x, dw_w, dw_b, pw_w, pw_b, L, &d, NULL, 0);
        asr_result r1 = bwd(g[0][0], g[0][1], g[0][2], g[0][3], g[0][4], dy, hb, x, dw_w, pw_w, L, &d, work, wb);
        asr_result r2 = asr_dwsep_conv1d_backward_naive(g[1][0], g[1][1], g[1][2], g[1][3], g[1][4], dy, hb, x,
                                                        dw_w, pw_w, L, &d, work, wb);
        size_t sz[5];
        double e = 0;
        asr_gradcheck_report gr;
        asr_result r3;
        sz[0] = nx, sz[1] = ndw, sz[2] = (size_t)d.C_in, sz[3] = npw, sz[4] = (size_t)d.C_out;
        for (k = 0; k < 5; k++) e = ASR__MAX(e, asr__chk2_err(g[0][k], g[1][k], sz[k]));
        asr__check_case(rep, r0 == ASR_OK && r1 == ASR_OK && r2 == ASR_OK && e <= ASR__CHK2_TIER_TOL, e,
                        "dwsep_conv1d case %d%s: backward (dx and 4 parameters) vs naive, rel. err %.3g", ci,
                        wl ? " lengths" : "", e);
        r3 = asr_gradcheck_dwsep_conv1d(fwd, bwd, &d, wl, seed + (uint64_t)ci, &gr);
        if (r3 == ASR_ERR_OUT_OF_MEMORY) {
          asr__chk2_free(&m);
          return r3;
        }
        asr__check_case(rep, r3 == ASR_OK && gr.max_rel_err <= ASR__CHK2_FD_TOL, gr.max_rel_err,
                        "dwsep_conv1d case %d%s: finite differences, max rel. err %.3g (%s)", ci,
                        wl ? " lengths" : "", gr.max_rel_err, gr.worst_param ? gr.worst_param : "-");
      }
      if (wl) {   /* padding invariance of the forward: each item alone */
        int ok = f(ya, ha, x, dw_w, dw_b, pw_w, pw_b, L, &d, work, wb) == ASR_OK;
        double e = 0;
        for (n = 0; n < d.N && ok; n++) {
          asr_conv1d_dims one = d;
          int o, t, c, Tn = lens[n];
          asr_real *xn = asr__chk2_new(&m, (size_t)d.C_in * (Tn ? Tn : 1));
          asr_real *yn = asr__chk2_new(&m, (size_t)d.C_out * (Lo[n] ? Lo[n] : 1));
          asr_real *hn = asr__chk2_new(&m, (size_t)d.C_in * (Lo[n] ? Lo[n] : 1));
          one.N = 1, one.T_in = Tn;
          if (m.failed) {
            asr__chk2_free(&m);
            return ASR_ERR_OUT_OF_MEMORY;
          }
          for (o = 0; o < d.C_out; o++)
            for (t = Lo[n]; t < T_out; t++)
              if (ya[((size_t)n * d.C_out + o) * T_out + t] != 0) ok = 0;
          if (Lo[n] == 0) continue;
          for (c = 0; c < d.C_in; c++)
            for (t = 0; t < Tn; t++) xn[(size_t)c * Tn + t] = x[((size_t)n * d.C_in + c) * d.T_in + t];
          if (f(yn, hn, xn, dw_w, dw_b, pw_w, pw_b, NULL, &one, work, wb) != ASR_OK) ok = 0;
          for (o = 0; o < d.C_out && ok; o++)
            for (t = 0; t < Lo[n]; t++)
              e = ASR__MAX(e, fabs((double)yn[(size_t)o * Lo[n] + t] - ya[((size_t)n * d.C_out + o) * T_out + t]));
        }
        asr__check_case(rep, ok && e <= ASR__CHK2_TIER_TOL * 10, e,
                        "dwsep_conv1d case %d: padding invariance (items alone vs padded batch), err %.3g", ci, e);
      }
      asr__chk2_free(&m);
    }
  {
    asr_conv1d_dims d;
    asr_real x[12], w[6], y[12], h[12];
    int bad_len[2] = {4, 7}, i, untouched = 1;
    asr_result r1;
    for (i = 0; i < 12; i++) x[i] = 1, y[i] = 7, h[i] = 7;
    for (i = 0; i < 6; i++) w[i] = 1;
    asr_conv1d_dims_init(&d, 2, 1, 2, 6, 3);
    d.groups = 1;
    r1 = f(y, h, x, w, NULL, w, NULL, bad_len, &d, NULL, 0);
    for (i = 0; i < 12; i++)
      if (y[i] != 7 || h[i] != 7) untouched = 0;
    asr__check_case(rep, r1 < 0 && untouched, 0, "dwsep_conv1d: refuses a length > T_in (%d), writing nothing",
                    (int)r1);
  }
  return ASR_OK;
}

/* ---- Squeeze-and-Excitation */
typedef struct asr__chk2_se {
  asr_se_forward_fn fwd;
  int N, C, R, T;
  const int *lengths;
  asr_real *x, *w1, *b1, *w2, *b2, *y, *mean, *z, *gate, *W;
  void *work;
  size_t wbytes;
  asr_result status;
} asr__chk2_se;

ASR__PRIVATE double asr__chk2_se_f(void *vc) {
  asr__chk2_se *c = (asr__chk2_se *)vc;
  asr_result r = c->fwd(c->y, c->mean, c->z, c->gate, c->x, c->w1, c->b1, c->w2, c->b2, c->lengths, c->N, c->C,
                        c->R, c->T, c->work, c->wbytes);
  if (r < 0) c->status = r;
  return asr__chk2_dot(c->W, c->y, (size_t)c->N * c->C * c->T);
}

/* lengths of an SE instance: T, T-1, ..., at least 1 */
ASR__PRIVATE void asr__chk2_se_lengths(int *lens, int N, int T) {
  int n;
  for (n = 0; n < N; n++) lens[n] = T - n % T;
}

ASRDEF asr_result asr_gradcheck_se(asr_se_forward_fn fwd, asr_se_backward_fn bwd, int N, int C, int R,
                                   int T, int with_lengths, uint64_t seed,
                                   asr_gradcheck_report *report) {
  asr__chk2_mem m;
  asr__chk2_se c;
  asr_rng rng;
  int lens[64];
  size_t nx;
  asr_real *gx, *gw1, *gb1, *gw2, *gb2;
  asr_gradcheck_param prm[5];
  asr_result r;
  memset(report, 0, sizeof *report);
  if (!bwd || N < 1 || N > 64 || C < 1 || R < 1 || T < 1) return ASR_ERR_INVALID_ARG;
  memset(&m, 0, sizeof m);
  memset(&c, 0, sizeof c);
  asr_rng_seed(&rng, seed, 25);
  c.fwd = fwd ? fwd : asr_se_forward;
  c.N = N, c.C = C, c.R = R, c.T = T;
  asr__chk2_se_lengths(lens, N, T);
  c.lengths = with_lengths ? lens : NULL;
  nx = (size_t)N * C * T;
  c.x = asr__chk2_new(&m, nx), c.y = asr__chk2_new(&m, nx), c.W = asr__chk2_new(&m, nx);
  c.w1 = asr__chk2_new(&m, (size_t)R * C), c.b1 = asr__chk2_new(&m, (size_t)R);
  c.w2 = asr__chk2_new(&m, (size_t)C * R), c.b2 = asr__chk2_new(&m, (size_t)C);
  c.mean = asr__chk2_new(&m, (size_t)N * C), c.gate = asr__chk2_new(&m, (size_t)N * C);
  c.z = asr__chk2_new(&m, (size_t)N * R);
  gx = asr__chk2_new(&m, nx), gw1 = asr__chk2_new(&m, (size_t)R * C), gb1 = asr__chk2_new(&m, (size_t)R);
  gw2 = asr__chk2_new(&m, (size_t)C * R), gb2 = asr__chk2_new(&m, (size_t)C);
  c.wbytes = asr_se_workspace_size(N, C, R);
  c.work = asr__chk2_bytes(&m, c.wbytes);
  if (m.failed) {
    asr__chk2_free(&m);
    return ASR_ERR_OUT_OF_MEMORY;
  }
  asr__chk2_randn(&rng, c.x, nx, 1.0);
  asr__chk2_randn(&rng, c.w1, (size_t)R * C, 0.7);
  asr__chk2_randn(&rng, c.b1, (size_t)R, 0.3);
  asr__chk2_randn(&rng, c.w2, (size_t)C * R, 0.7);
  asr__chk2_randn(&rng, c.b2, (size_t)C, 0.3);
  asr__chk2_randn(&rng, c.W, nx, 1.0);
  asr__chk2_se_f(&c);
  r = c.status;
  if (r >= 0)
    r = bwd(gx, gw1, gb1, gw2, gb2, c.W, c.x, c.mean, c.z, c.gate, c.w1, c.w2, c.lengths, N, C, R, T, c.work,
            c.wbytes);
  if (r >= 0) {
    prm[0].name = "x", prm[0].x = c.x, prm[0].grad = gx, prm[0].n = nx;
    prm[1].name = "fc1.weight", prm[1].x = c.w1, prm[1].grad = gw1, prm[1].n = (size_t)R * C;
    prm[2].name = "fc1.bias", prm[2].x = c.b1, prm[2].grad = gb1, prm[2].n = (size_t)R;
    prm[3].name = "fc2.weight", prm[3].x = c.w2, prm[3].grad = gw2, prm[3].n = (size_t)C * R;
    prm[4].name = "fc2.bias", prm[4].x = c.b2, prm[4].grad = gb2, prm[4].n = (size_t)C;
    r = asr_gradcheck(asr__chk2_se_f, &c, prm, 5, NULL, &rng, report);
    if (r >= 0 && c.status < 0) r = c.status;
  }
  asr__chk2_free(&m);
  return r;
}

ASRDEF asr_result asr_check_se(asr_se_forward_fn fwd, asr_se_backward_fn bwd, uint64_t seed,
                               asr_check_report *rep) {
  static const int cases[3][4] = {{2, 8, 2, 6}, {3, 5, 3, 9}, {1, 16, 4, 4}};   /* N, C, R, T */
  asr_se_forward_fn f = fwd ? fwd : asr_se_forward;
  asr_rng rng;
  int ci, wl;
  asr_rng_seed(&rng, seed, 26);
  for (ci = 0; ci < 3; ci++)
    for (wl = 0; wl < 2; wl++) {
      int N = cases[ci][0], C = cases[ci][1], R = cases[ci][2], T = cases[ci][3], lens[8], n, k, s;
      size_t nx = (size_t)N * C * T, NC = (size_t)N * C, NR = (size_t)N * R, wb = asr_se_workspace_size(N, C, R);
      size_t sz[5];
      asr__chk2_mem m;
      asr_real *x, *w1, *b1, *w2, *b2, *y[2], *mean[2], *z[2], *gate[2], *dy, *g[2][5];
      void *work;
      const int *L;
      asr__chk2_se_lengths(lens, N, T);
      L = wl ? lens : NULL;
      sz[0] = nx, sz[1] = (size_t)R * C, sz[2] = (size_t)R, sz[3] = (size_t)C * R, sz[4] = (size_t)C;
      memset(&m, 0, sizeof m);
      x = asr__chk2_new(&m, nx), dy = asr__chk2_new(&m, nx);
      w1 = asr__chk2_new(&m, sz[1]), b1 = asr__chk2_new(&m, sz[2]), w2 = asr__chk2_new(&m, sz[3]);
      b2 = asr__chk2_new(&m, sz[4]);
      for (s = 0; s < 2; s++) {
        y[s] = asr__chk2_new(&m, nx), mean[s] = asr__chk2_new(&m, NC), z[s] = asr__chk2_new(&m, NR);
        gate[s] = asr__chk2_new(&m, NC);
        for (k = 0; k < 5; k++) g[s][k] = asr__chk2_new(&m, sz[k]);
      }
      work = asr__chk2_bytes(&m, wb);
      if (m.failed) {
        asr__chk2_free(&m);
        return ASR_ERR_OUT_OF_MEMORY;
      }
      asr__chk2_randn(&rng, x, nx, 1.0);
      asr__chk2_randn(&rng, w1, sz[1], 0.7);
      asr__chk2_randn(&rng, b1, sz[2], 0.3);
      asr__chk2_randn(&rng, w2, sz[3], 0.7);
      asr__chk2_randn(&rng, b2, sz[4], 0.3);
      asr__chk2_randn(&rng, dy, nx, 1.0);
      if (fwd) {
        asr_result r1 = fwd(y[0], mean[0], z[0], gate[0], x, w1, b1, w2, b2, L, N, C, R, T, work, wb);
        asr_result r2 = asr_se_forward_naive(y[1], mean[1], z[1], gate[1], x, w1, b1, w2, b2, L, N, C, R, T, work, wb);
        double e = asr__chk2_err(y[0], y[1], nx);
        e = ASR__MAX(e, asr__chk2_err(mean[0], mean[1], NC));
        e = ASR__MAX(e, asr__chk2_err(z[0], z[1], NR));
        e = ASR__MAX(e, asr__chk2_err(gate[0], gate[1], NC));
        asr__check_case(rep, r1 == ASR_OK && r2 == ASR_OK && e <= ASR__CHK2_TIER_TOL, e,
                        "se case %d%s: forward (y, mean, z, gate) vs naive, rel. err %.3g", ci,
                        wl ? " lengths" : "", e);
      }
      if (bwd) {
        asr_result r0 = asr_se_forward_naive(y[1], mean[1], z[1], gate[1], x, w1, b1, w2, b2, L, N, C, R, T, work, wb);
        asr_result r1 = bwd(g[0][0], g[0][1], g[0][2], g[0][3], g[0][4], dy, x, mean[1], z[1], gate[1], w1, w2, L, N,
                            C, R, T, work, wb);
        asr_result r2 = asr_se_backward_naive(g[1][0], g[1][1], g[1][2], g[1][3], g[1][4], dy, x, mean[1], z[1],
                                              gate[1], w1, w2, L, N, C, R, T, work, wb);
        double e = 0;
        asr_gradcheck_report gr;
        asr_result r3;
        for (k = 0; k < 5; k++) e = ASR__MAX(e, asr__chk2_err(g[0][k], g[1][k], sz[k]));
        asr__check_case(rep, r0 == ASR_OK && r1 == ASR_OK && r2 == ASR_OK && e <= ASR__CHK2_TIER_TOL, e,
                        "se case %d%s: backward (dx, fc1, fc2) vs naive, rel. err %.3g", ci, wl ? " lengths" : "", e);
        r3 = asr_gradcheck_se(fwd, bwd, N, C, R, T, wl, seed + (uint64_t)ci, &gr);
        if (r3 == ASR_ERR_OUT_OF_MEMORY) {
          asr__chk2_free(&m);
          return r3;
        }
        asr__check_case(rep, r3 == ASR_OK && gr.max_rel_err <= ASR__CHK2_FD_TOL, gr.max_rel_err,
                        "se case %d%s: finite differences, max rel. err %.3g (%s)", ci, wl ? " lengths" : "",
                        gr.max_rel_err, gr.worst_param ? gr.worst_param : "-");
      }
      if (wl) {   /* padding invariance: every item alone, forward and backward */
        int ok = f(y[0], mean[0], z[0], gate[0], x, w1, b1, w2, b2, L, N, C, R, T, work, wb) == ASR_OK;
        double e = 0;
        for (k = 0; k < 5; k++) memset(g[0][k], 0, sizeof(asr_real) * sz[k]);
        for (k = 1; k < 5; k++) memset(g[1][k], 0, sizeof(asr_real) * sz[k]);
        if (ok && bwd)
          ok = bwd(g[0][0], g[0][1], g[0][2], g[0][3], g[0][4], dy, x, mean[0], z[0], gate[0], w1, w2, L, N, C, R, T,
                   work, wb) == ASR_OK;
        for (n = 0; n < N && ok; n++) {
          int c, t, Ln = lens[n];
          asr_real *xn = asr__chk2_new(&m, (size_t)C * Ln), *yn = asr__chk2_new(&m, (size_t)C * Ln);
          asr_real *dyn = asr__chk2_new(&m, (size_t)C * Ln), *dxn = asr__chk2_new(&m, (size_t)C * Ln);
          asr_real *mn = asr__chk2_new(&m, (size_t)C), *zn = asr__chk2_new(&m, (size_t)R);
          asr_real *gn = asr__chk2_new(&m, (size_t)C);
          if (m.failed) {
            asr__chk2_free(&m);
            return ASR_ERR_OUT_OF_MEMORY;
          }
          for (c = 0; c < C; c++) {
            for (t = 0; t < Ln; t++) {
              xn[(size_t)c * Ln + t] = x[((size_t)n * C + c) * T + t];
              dyn[(size_t)c * Ln + t] = dy[((size_t)n * C + c) * T + t];
            }
            for (t = Ln; t < T; t++)
              if (y[0][((size_t)n * C + c) * T + t] != 0 || g[0][0][((size_t)n * C + c) * T + t] != 0) ok = 0;
          }
          if (f(yn, mn, zn, gn, xn, w1, b1, w2, b2, NULL, 1, C, R, Ln, work, wb) != ASR_OK) ok = 0;
          if (bwd && ok &&
              bwd(dxn, g[1][1], g[1][2], g[1][3], g[1][4], dyn, xn, mn, zn, gn, w1, w2, NULL, 1, C, R, Ln, work, wb) !=
                  ASR_OK)
            ok = 0;
          for (c = 0; c < C && ok; c++)
            for (t = 0; t < Ln; t++) {
              e = ASR__MAX(e, fabs((double)yn[(size_t)c * Ln + t] - y[0][((size_t)n * C + c) * T + t]));
              if (bwd) e = ASR__MAX(e, fabs((double)dxn[(size_t)c * Ln + t] - g[0][0][((size_t)n * C + c) * T + t]));
            }
        }
        if (bwd && ok)
          for (k = 1; k < 5; k++) e = ASR__MAX(e, asr__chk2_err(g[1][k], g[0][k], sz[k]));
        asr__check_case(rep, ok && e <= ASR__CHK2_TIER_TOL * 10, e,
                        "se case %d: padding invariance (items alone vs padded batch), err %.3g", ci, e);
      }
      asr__chk2_free(&m);
    }
  {
    /* a length of 0 (no frame to average) and a length > T are refused, nothing written */
    asr_real x[8], w[4], y[8], mean[2], z[2], gate[2], work[64];
    int zero[2] = {4, 0}, big[2] = {5, 1}, i, untouched = 1;
    asr_result r1, r2;
    for (i = 0; i < 8; i++) x[i] = 1, y[i] = 7;
    for (i = 0; i < 4; i++) w[i] = 1;
    r1 = f(y, mean, z, gate, x, w, NULL, w, NULL, zero, 2, 1, 1, 4, work, sizeof work);
    r2 = f(y, mean, z, gate, x, w, NULL, w, NULL, big, 2, 1, 1, 4, work, sizeof work);
    for (i = 0; i < 8; i++)
      if (y[i] != 7) untouched = 0;
    asr__check_case(rep, r1 < 0 && r2 < 0 && untouched, 0,
                    "se: refuses a length of 0 (%d) and a length > T (%d), writing nothing", (int)r1, (int)r2);
  }
  return ASR_OK;
}

/* ---- ContextNet block */
typedef struct asr__chk2_cn {
  asr_contextnet_block_forward_fn fwd;
  const asr_contextnet_block_config *cfg;
  const asr_contextnet_block_params *p;
  const int *lengths;
  asr_real *x, *y, *W;
  size_t ny;
  void *saved, *work;
  size_t sbytes, wbytes;
  asr_result status;
} asr__chk2_cn;

ASR__PRIVATE double asr__chk2_cn_f(void *vc) {
  asr__chk2_cn *c = (asr__chk2_cn *)vc;
  asr_result r = c->fwd(c->y, c->saved, c->sbytes, c->x, c->p, c->lengths, c->cfg, c->work, c->wbytes);
  if (r < 0) c->status = r;
  return asr__chk2_dot(c->W, c->y, c->ny);
}

ASRDEF asr_result asr_gradcheck_contextnet_block(asr_contextnet_block_forward_fn fwd,
                                                 asr_contextnet_block_backward_fn bwd,
                                                 const asr_contextnet_block_config *cfg,
                                                 int with_lengths, uint64_t seed,
                                                 asr_gradcheck_report *report) {
  asr__chk2_mem m;
  asr__chk2_cn c;
  asr_contextnet_block_params p;
  asr_contextnet_block_grads g;
  asr_rng rng;
  asr_gradcheck_param prm[6 * ASR_CONTEXTNET_MAX_LAYERS + 8];
  static const char *const lnames[6] = {"depthwise.weight", "depthwise.bias", "pointwise.weight",
                                        "pointwise.bias", "bn.weight", "bn.bias"};
  int lens[64], i, k, np = 0, Tm;
  size_t nx, R, Co, j;
  void *bwork;
  asr_result r;
  memset(report, 0, sizeof *report);
  if (!bwd || asr_contextnet_block_validate(cfg, NULL) != ASR_OK || cfg->N > 64 || cfg->N < 1)
    return ASR_ERR_INVALID_ARG;
  memset(&m, 0, sizeof m);
  memset(&c, 0, sizeof c);
  memset(&p, 0, sizeof p);
  memset(&g, 0, sizeof g);
  asr_rng_seed(&rng, seed, 27);
  c.fwd = fwd ? fwd : asr_contextnet_block_forward;
  c.cfg = cfg;
  c.p = &p;
  asr__chk2_se_lengths(lens, cfg->N, cfg->T);
  c.lengths = with_lengths ? lens : NULL;
  Tm = asr_contextnet_block_out_frames(cfg);
  nx = (size_t)cfg->N * cfg->C_in * cfg->T;
  Co = (size_t)cfg->C_out;
  R = (size_t)cfg->se_channels;
  c.ny = (size_t)cfg->N * Co * Tm;
  c.x = asr__chk2_new(&m, nx), c.y = asr__chk2_new(&m, c.ny), c.W = asr__chk2_new(&m, c.ny);
  if (c.x && c.W) {
    asr__chk2_randn(&rng, c.x, nx, 1.0);
    asr__chk2_randn(&rng, c.W, c.ny, 1.0);
  }
  prm[np].name = "x", prm[np].x = c.x, prm[np].grad = asr__chk2_new(&m, nx), prm[np].n = nx, np++;
  for (i = 0; i < cfg->num_layers; i++) {
    size_t Ci = (size_t)(i == 0 ? cfg->C_in : cfg->C_out);
    size_t sizes[6];
    asr_real *vals[6], *grads[6];
    sizes[0] = Ci * cfg->kernel, sizes[1] = Ci, sizes[2] = Co * Ci, sizes[3] = Co, sizes[4] = Co, sizes[5] = Co;
    for (k = 0; k < 6; k++) {
      vals[k] = asr__chk2_new(&m, sizes[k]);
      grads[k] = asr__chk2_new(&m, sizes[k]);
      if (vals[k]) asr__chk2_randn(&rng, vals[k], sizes[k], k == 4 ? 0.3 : 0.5);
      if (vals[k] && k == 4)
        for (j = 0; j < sizes[k]; j++) vals[k][j] += 1;    /* gamma near 1 */
      prm[np].name = lnames[k], prm[np].x = vals[k], prm[np].grad = grads[k], prm[np].n = sizes[k], np++;
    }
    p.layer[i].dw_w = vals[0], p.layer[i].dw_b = vals[1], p.layer[i].pw_w = vals[2], p.layer[i].pw_b = vals[3];
    p.layer[i].bn.weight = vals[4], p.layer[i].bn.bias = vals[5];
    g.layer[i].dw_w = grads[0], g.layer[i].dw_b = grads[1], g.layer[i].pw_w = grads[2], g.layer[i].pw_b = grads[3];
    g.layer[i].bn.weight = grads[4], g.layer[i].bn.bias = grads[5];
    p.layer[i].bn.running_mean = asr__chk2_new(&m, Co);
    p.layer[i].bn.running_var = asr__chk2_new(&m, Co);
    if (p.layer[i].bn.running_mean && p.layer[i].bn.running_var)
      for (k = 0; k < (int)Co; k++) {
        p.layer[i].bn.running_mean[k] = (asr_real)(0.2 * asr_rng_normal(&rng));
        p.layer[i].bn.running_var[k] = (asr_real)(0.5 + asr_rng_uniform(&rng));
      }
  }
  {
    static const char *const snames[4] = {"se.fc1.weight", "se.fc1.bias", "se.fc2.weight", "se.fc2.bias"};
    size_t sizes[4];
    asr_real *vals[4], *grads[4];
    sizes[0] = R * Co, sizes[1] = R, sizes[2] = Co * R, sizes[3] = Co;
    for (k = 0; k < 4; k++) {
      vals[k] = asr__chk2_new(&m, sizes[k]);
      grads[k] = asr__chk2_new(&m, sizes[k]);
      if (vals[k]) asr__chk2_randn(&rng, vals[k], sizes[k], 0.5);
      prm[np].name = snames[k], prm[np].x = vals[k], prm[np].grad = grads[k], prm[np].n = sizes[k], np++;
    }
    p.se_w1 = vals[0], p.se_b1 = vals[1], p.se_w2 = vals[2], p.se_b2 = vals[3];
    g.se_w1 = grads[0], g.se_b1 = grads[1], g.se_w2 = grads[2], g.se_b2 = grads[3];
  }
  if (cfg->residual) {
    static const char *const rnames[3] = {"residual.conv.weight", "residual.bn.weight", "residual.bn.bias"};
    size_t sizes[3];
    asr_real *vals[3], *grads[3];
    sizes[0] = Co * cfg->C_in, sizes[1] = Co, sizes[2] = Co;
    for (k = 0; k < 3; k++) {
      vals[k] = asr__chk2_new(&m, sizes[k]);
      grads[k] = asr__chk2_new(&m, sizes[k]);
      if (vals[k]) asr__chk2_randn(&rng, vals[k], sizes[k], k == 1 ? 0.3 : 0.5);
      prm[np].name = rnames[k], prm[np].x = vals[k], prm[np].grad = grads[k], prm[np].n = sizes[k], np++;
    }
    p.res_w = vals[0], p.res_bn.weight = vals[1], p.res_bn.bias = vals[2];
    g.res_w = grads[0], g.res_bn.weight = grads[1], g.res_bn.bias = grads[2];
    p.res_bn.running_mean = asr__chk2_new(&m, Co);
    p.res_bn.running_var = asr__chk2_new(&m, Co);
    if (p.res_bn.running_var)
      for (k = 0; k < (int)Co; k++) p.res_bn.running_var[k] = (asr_real)(0.5 + asr_rng_uniform(&rng));
  }
  c.sbytes = asr_contextnet_block_saved_size(cfg);
  c.wbytes = asr_contextnet_block_workspace_size(cfg);
  c.saved = asr__chk2_bytes(&m, c.sbytes);
  c.work = asr__chk2_bytes(&m, c.wbytes);
  bwork = asr__chk2_bytes(&m, c.wbytes);
  if (m.failed) {
    asr__chk2_free(&m);
    return ASR_ERR_OUT_OF_MEMORY;
  }
  asr__chk2_cn_f(&c);
  r = c.status;
  if (r >= 0) r = bwd((asr_real *)prm[0].grad, &g, c.W, c.saved, c.sbytes, c.x, &p, c.lengths, cfg, bwork, c.wbytes);
  if (r >= 0) {
    r = asr_gradcheck(asr__chk2_cn_f, &c, prm, np, NULL, &rng, report);
    if (r >= 0 && c.status < 0) r = c.status;
  }
  asr__chk2_free(&m);
  return r;
}

/* ---------------------------------------------------------------------------------------
 * 10.3 Conformer, LSTM and attention checkers (implementation)
 * --------------------------------------------------------------------------------------- */

/* Allocation bookkeeping of the checkers of this subsection: every buffer is zeroed and
 * remembered, and freed together at the end. */
typedef struct asr__chk3_mem {
  void *p[128];
  int n, failed;
} asr__chk3_mem;
ASR__PRIVATE asr_real *asr__chk3_new(asr__chk3_mem *m, size_t n) {
  asr_real *p;
  if (m->n == 128 || n > ((size_t)-1) / sizeof(asr_real) - 1) {
    m->failed = 1;
    return NULL;
  }
  p = ASR__ALLOC(asr_real, n ? n : 1, NULL);
  if (!p) {
    m->failed = 1;
    return NULL;
  }
  memset(p, 0, sizeof(asr_real) * (n ? n : 1));
  m->p[m->n++] = p;
  return p;
}
ASR__PRIVATE void *asr__chk3_bytes(asr__chk3_mem *m, size_t bytes) {
  return (void *)asr__chk3_new(m, bytes / sizeof(asr_real) + 1);
}
ASR__PRIVATE void asr__chk3_free(asr__chk3_mem *m) {
  int i;
  for (i = 0; i < m->n; i++) ASR_FREE(m->p[i], NULL);
  m->n = 0;
}
ASR__PRIVATE void asr__chk3_randn(asr_rng *rng, asr_real *x, size_t n, double scale) {
  size_t i;
  for (i = 0; i < n; i++) x[i] = (asr_real)(scale * asr_rng_normal(rng));
}
/* max_i |a_i - b_i| / max(1, max_i |b_i|), b the reference: relative for arrays of
 * large entries, absolute for small ones (a gradient that should be 0, like gvec.bias's,
 * is two roundings of 0 and has no meaningful relative error). */
ASR__PRIVATE double asr__chk3_rel(const asr_real *a, const asr_real *b, size_t n) {
  double d = 0, m = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    double e = fabs((double)a[i] - (double)b[i]);
    if (e > d || e != e) d = e;
    if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
  }
  return d / (m > 1 ? m : 1);
}
ASR__PRIVATE double asr__chk3_dot(const asr_real *a, const asr_real *b, size_t n) {
  double s = 0;
  size_t i;
  for (i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}
/* The tolerances of the checkers (see the comment above asr_check_lstm). */
#define ASR__CHK3_TIER_TOL (ASR_REAL_DOUBLE ? 1e-9 : 2e-4)
#define ASR__CHK3_FD_TOL (ASR_REAL_DOUBLE ? 1e-6 : 5e-2)

/* ---- LSTM checkers */
typedef struct asr__chk3_lstm {
  asr_lstm_forward_fn fwd;
  int N, T, I, H, reverse;
  const int *lengths;
  asr_lstm_params p;
  asr_real *x, *h0, *c0, *y, *hn, *cn, *gates, *cell, *wy, *wh, *wc;
  void *work;
  size_t wbytes;
  asr_result status;
} asr__chk3_lstm;

ASR__PRIVATE double asr__chk3_lstm_f(void *vc) {
  asr__chk3_lstm *c = (asr__chk3_lstm *)vc;
  size_t NT = (size_t)c->N * c->T, NH = (size_t)c->N * c->H;
  asr_result r = c->fwd(c->y, c->H, c->hn, c->cn, c->gates, c->cell, c->x, c->h0, c->c0, &c->p,
                        c->N, c->T, c->I, c->H, c->lengths, c->reverse, c->work, c->wbytes);
  if (r < 0) c->status = r;
  return asr__chk3_dot(c->wy, c->y, NT * c->H) + asr__chk3_dot(c->wh, c->hn, NH) +
         asr__chk3_dot(c->wc, c->cn, NH);
}

ASRDEF asr_result asr_gradcheck_lstm(asr_lstm_forward_fn fwd, asr_lstm_backward_fn bwd, int N,
                                     int T, int I, int H, int reverse, int with_lengths,
                                     uint64_t seed, asr_gradcheck_report *report) {
  asr__chk3_mem m;
  asr__chk3_lstm c;
  asr_rng rng;
  int lens[64], b;
  size_t NT = (size_t)N * T, G = (size_t)4 * H;
  asr_real *gx, *gh0, *gc0, *gwih, *gwhh, *gbih, *gbhh;
  asr_lstm_grads g;
  asr_gradcheck_param prm[7];
  void *bwork;
  size_t bbytes;
  asr_result r;
  memset(report, 0, sizeof *report);
  if (N < 1 || N > 64 || T < 1 || I < 1 || H < 1) return ASR_ERR_INVALID_ARG;
  memset(&m, 0, sizeof m);
  memset(&c, 0, sizeof c);
  asr_rng_seed(&rng, seed, 41);
  c.fwd = fwd;
  c.N = N, c.T = T, c.I = I, c.H = H, c.reverse = reverse;
  for (b = 0; b < N; b++) lens[b] = T - b % (T + 1);
  c.lengths = with_lengths ? lens : NULL;
  c.x = asr__chk3_new(&m, NT * I);
  c.h0 = asr__chk3_new(&m, (size_t)N * H);
  c.c0 = asr__chk3_new(&m, (size_t)N * H);
  c.y = asr__chk3_new(&m, NT * H);
  c.hn = asr__chk3_new(&m, (size_t)N * H);
  c.cn = asr__chk3_new(&m, (size_t)N * H);
  c.gates = asr__chk3_new(&m, NT * G);
  c.cell = asr__chk3_new(&m, NT * H);
  c.wy = asr__chk3_new(&m, NT * H);
  c.wh = asr__chk3_new(&m, (size_t)N * H);
  c.wc = asr__chk3_new(&m, (size_t)N * H);
  c.p.w_ih = asr__chk3_new(&m, G * I);
  c.p.w_hh = asr__chk3_new(&m, G * H);
  c.p.b_ih = asr__chk3_new(&m, G);
  c.p.b_hh = asr__chk3_new(&m, G);
  c.wbytes = asr_lstm_forward_workspace_size(N, T, I, H);
  bbytes = asr_lstm_backward_workspace_size(N, T, I, H);
  c.work = asr__chk3_bytes(&m, c.wbytes);
  bwork = asr__chk3_bytes(&m, bbytes);
  gx = asr__chk3_new(&m, NT * I);
  gh0 = asr__chk3_new(&m, (size_t)N * H);
  gc0 = asr__chk3_new(&m, (size_t)N * H);
  gwih = asr__chk3_new(&m, G * I);
  gwhh = asr__chk3_new(&m, G * H);
  gbih = asr__chk3_new(&m, G);
  gbhh = asr__chk3_new(&m, G);
  if (m.failed) {
    asr__chk3_free(&m);
    return ASR_ERR_OUT_OF_MEMORY;
  }
  /* weights at the scale of PyTorch's init U(-1/sqrt(H), 1/sqrt(H)), a bit larger */
  asr__chk3_randn(&rng, (asr_real *)c.p.w_ih, G * I, 0.6);
  asr__chk3_randn(&rng, (asr_real *)c.p.w_hh, G * H, 0.6);
  asr__chk3_randn(&rng, (asr_real *)c.p.b_ih, G, 0.3);
  asr__chk3_randn(&rng, (asr_real *)c.p.b_hh, G, 0.3);
  asr__chk3_randn(&rng, c.x, NT * I, 1.0);
  asr__chk3_randn(&rng, c.h0, (size_t)N * H, 0.5);
  asr__chk3_randn(&rng, c.c0, (size_t)N * H, 0.5);
  asr__chk3_randn(&rng, c.wy, NT * H, 1.0);
  asr__chk3_randn(&rng, c.wh, (size_t)N * H, 1.0);
  asr__chk3_randn(&rng, c.wc, (size_t)N * H, 1.0);
  asr__chk3_lstm_f(&c);
  g.w_ih = gwih, g.w_hh = gwhh, g.b_ih = gbih, g.b_hh = gbhh;
  r = c.status;
  if (r >= 0)
    r = bwd(gx, gh0, gc0, &g, c.wy, H, c.wh, c.wc, c.y, H, c.gates, c.cell, c.x, c.h0, c.c0, &c.p,
            N, T, I, H, c.lengths, reverse, bwork, bbytes);
  if (r >= 0) {
    prm[0].name = "x", prm[0].x = c.x, prm[0].grad = gx, prm[0].n = NT * I;
    prm[1].name = "h0", prm[1].x = c.h0, prm[1].grad = gh0, prm[1].n = (size_t)N * H;
    prm[2].name = "c0", prm[2].x = c.c0, prm[2].grad = gc0, prm[2].n = (size_t)N * H;
    prm[3].name = "weight_ih", prm[3].x = (asr_real *)c.p.w_ih, prm[3].grad = gwih, prm[3].n = G * I;
    prm[4].name = "weight_hh", prm[4].x = (asr_real *)c.p.w_hh, prm[4].grad = gwhh, prm[4].n = G * H;
    prm[5].name = "bias_ih", prm[5].x = (asr_real *)c.p.b_ih, prm[5].grad = gbih, prm[5].n = G;
    prm[6].name = "bias_hh", prm[6].x = (asr_real *)c.p.b_hh, prm[6].grad = gbhh, prm[6].n = G;
    r = asr_gradcheck(asr__chk3_lstm_f, &c, prm, 7, NULL, &rng, report);
    if (r >= 0 && c.status < 0) r = c.status;
  }
  asr__chk3_free(&m);
  return r;
}

ASRDEF asr_result asr_check_lstm(asr_lstm_forward_fn fwd, asr_lstm_backward_fn bwd,
                                 uint64_t seed, asr_check_report *rep) {
  static const int lens_a[3] = {5, 3, 0};
  asr_rng rng;
  int rev, init, cfg;
  asr_result r;
  asr_rng_seed(&rng, seed, 42);
  /* 1. agreement with the _naive tier, forward and backward */
  for (cfg = 0; cfg < 4; cfg++) {
    asr__chk3_mem m;
    const int N = 3, T = 5, I = 4, H = 3;
    size_t NT = (size_t)N * T, G = (size_t)4 * H;
    asr_lstm_params p;
    asr_lstm_grads ga, gb;
    asr_real *x, *h0, *c0, *ya, *yb, *hna, *hnb, *cna, *cnb, *gta, *gtb, *cla, *clb, *dy, *dhn, *dcn;
    asr_real *dxa, *dxb, *dh0a, *dh0b, *dc0a, *dc0b;
    void *fw, *bw;
    size_t fwb = asr_lstm_forward_workspace_size(N, T, I, H);
    size_t bwb = asr_lstm_backward_workspace_size(N, T, I, H);
    double e = 0;
    rev = cfg & 1;
    init = cfg >> 1;
    memset(&m, 0, sizeof m);
    x = asr__chk3_new(&m, NT * I), h0 = asr__chk3_new(&m, (size_t)N * H);
    c0 = asr__chk3_new(&m, (size_t)N * H);
    ya = asr__chk3_new(&m, NT * H), yb = asr__chk3_new(&m, NT * H);
    hna = asr__chk3_new(&m, (size_t)N * H), hnb = asr__chk3_new(&m, (size_t)N * H);
    cna = asr__chk3_new(&m, (size_t)N * H), cnb = asr__chk3_new(&m, (size_t)N * H);
    gta = asr__chk3_new(&m, NT * G), gtb = asr__chk3_new(&m, NT * G);
    cla = asr__chk3_new(&m, NT * H), clb = asr__chk3_new(&m, NT * H);
    dy = asr__chk3_new(&m, NT * H), dhn = asr__chk3_new(&m, (size_t)N * H);
    dcn = asr__chk3_new(&m, (size_t)N * H);
    dxa = asr__chk3_new(&m, NT * I), dxb = asr__chk3_new(&m, NT * I);
    dh0a = asr__chk3_new(&m, (size_t)N * H), dh0b = asr__chk3_new(&m, (size_t)N * H);
    dc0a = asr__chk3_new(&m, (size_t)N * H), dc0b = asr__chk3_new(&m, (size_t)N * H);
    p.w_ih = asr__chk3_new(&m, G * I), p.w_hh = asr__chk3_new(&m, G * H);
    p.b_ih = asr__chk3_new(&m, G), p.b_hh = asr__chk3_new(&m, G);
    ga.w_ih = asr__chk3_new(&m, G * I), gb.w_ih = asr__chk3_new(&m, G * I);
    ga.w_hh = asr__chk3_new(&m, G * H), gb.w_hh = asr__chk3_new(&m, G * H);
    ga.b_ih = asr__chk3_new(&m, G), gb.b_ih = asr__chk3_new(&m, G);
    ga.b_hh = asr__chk3_new(&m, G), gb.b_hh = asr__chk3_new(&m, G);
    fw = asr__chk3_bytes(&m, fwb);
    bw = asr__chk3_bytes(&m, bwb);
    if (m.failed) {
      asr__chk3_free(&m);
      return ASR_ERR_OUT_OF_MEMORY;
    }
    asr__chk3_randn(&rng, (asr_real *)p.w_ih, G * I, 0.6);
    asr__chk3_randn(&rng, (asr_real *)p.w_hh, G * H, 0.6);
    asr__chk3_randn(&rng, (asr_real *)p.b_ih, G, 0.3);
    asr__chk3_randn(&rng, (asr_real *)p.b_hh, G, 0.3);
    asr__chk3_randn(&rng, x, NT * I, 1);
    asr__chk3_randn(&rng, h0, (size_t)N * H, 0.5);
    asr__chk3_randn(&rng, c0, (size_t)N * H, 0.5);
    asr__chk3_randn(&rng, dy, NT * H, 1);
    asr__chk3_randn(&rng, dhn, (size_t)N * H, 1);
    asr__chk3_randn(&rng, dcn, (size_t)N * H, 1);
    r = asr_lstm_forward_naive(yb, H, hnb, cnb, gtb, clb, x, init ? h0 : NULL, init ? c0 : NULL,
                               &p, N, T, I, H, lens_a, rev);
    if (r == ASR_OK)
      r = asr_lstm_backward_naive(dxb, init ? dh0b : NULL, init ? dc0b : NULL, &gb, dy, H, dhn, dcn,
                                  yb, H, gtb, clb, x, init ? h0 : NULL, init ? c0 : NULL, &p, N, T,
                                  I, H, lens_a, rev);
    if (r != ASR_OK) {
      asr__chk3_free(&m);
      return r;
    }
    r = fwd(ya, H, hna, cna, gta, cla, x, init ? h0 : NULL, init ? c0 : NULL, &p, N, T, I, H,
            lens_a, rev, fw, fwb);
    if (r >= 0) {
      e = ASR__MAX(asr__chk3_rel(ya, yb, NT * H), asr__chk3_rel(hna, hnb, (size_t)N * H));
      e = ASR__MAX(e, asr__chk3_rel(cna, cnb, (size_t)N * H));
    }
    asr__check_case(rep, r >= 0 && e <= ASR__CHK3_TIER_TOL, r >= 0 ? e : 1,
                    "lstm forward vs naive (%s, %s initial state, lengths 5,3,0): rel. error %.3g",
                    rev ? "reverse" : "forward", init ? "given" : "zero", e);
    if (r >= 0)
      r = bwd(dxa, init ? dh0a : NULL, init ? dc0a : NULL, &ga, dy, H, dhn, dcn, ya, H, gta, cla,
              x, init ? h0 : NULL, init ? c0 : NULL, &p, N, T, I, H, lens_a, rev, bw, bwb);
    e = 0;
    if (r >= 0) {
      e = asr__chk3_rel(dxa, dxb, NT * I);
      e = ASR__MAX(e, asr__chk3_rel(dh0a, dh0b, (size_t)N * H));
      e = ASR__MAX(e, asr__chk3_rel(dc0a, dc0b, (size_t)N * H));
      e = ASR__MAX(e, asr__chk3_rel(ga.w_ih, gb.w_ih, G * I));
      e = ASR__MAX(e, asr__chk3_rel(ga.w_hh, gb.w_hh, G * H));
      e = ASR__MAX(e, asr__chk3_rel(ga.b_ih, gb.b_ih, G));
      e = ASR__MAX(e, asr__chk3_rel(ga.b_hh, gb.b_hh, G));
    }
    asr__check_case(rep, r >= 0 && e <= ASR__CHK3_TIER_TOL, r >= 0 ? e : 1,
                    "lstm backward vs naive (%s, %s initial state): rel. error %.3g",
                    rev ? "reverse" : "forward", init ? "given" : "zero", e);
    asr__chk3_free(&m);
  }
  /* 2. finite differences, with and without lengths, both directions */
  for (cfg = 0; cfg < 4; cfg++) {
    asr_gradcheck_report gr;
    r = asr_gradcheck_lstm(fwd, bwd, 3, 4, 3, 2, cfg & 1, cfg >> 1, seed + (uint64_t)cfg, &gr);
    if (r == ASR_ERR_OUT_OF_MEMORY) return r;
    asr__check_case(rep, r >= 0 && gr.max_rel_err <= ASR__CHK3_FD_TOL, r >= 0 ? gr.max_rel_err : 1,
                    "lstm finite differences (%s, %s): max rel. error %.3g at %s[%ld]",
                    cfg & 1 ? "reverse" : "forward", cfg >> 1 ? "lengths 4,3,2" : "no lengths",
                    gr.max_rel_err, gr.worst_param ? gr.worst_param : "-", gr.worst_index);
  }
  /* 3. padding invariance: each item alone equals its row of the padded batch */
  for (rev = 0; rev < 2; rev++) {
    asr__chk3_mem m;
    static const int lens[3] = {6, 2, 4};
    const int N = 3, T = 6, I = 2, H = 3;
    size_t NT = (size_t)N * T, G = (size_t)4 * H;
    asr_lstm_params p;
    asr_lstm_grads gb, g1;
    asr_real *x, *y, *hn, *cn, *gt, *cl, *dy, *dx, *y1, *hn1, *cn1, *gt1, *cl1, *dx1;
    void *fw, *bw;
    size_t fwb = asr_lstm_forward_workspace_size(N, T, I, H);
    size_t bwb = asr_lstm_backward_workspace_size(N, T, I, H);
    double e = 0;
    int b, ok = 1;
    memset(&m, 0, sizeof m);
    x = asr__chk3_new(&m, NT * I), y = asr__chk3_new(&m, NT * H), dy = asr__chk3_new(&m, NT * H);
    hn = asr__chk3_new(&m, (size_t)N * H), cn = asr__chk3_new(&m, (size_t)N * H);
    gt = asr__chk3_new(&m, NT * G), cl = asr__chk3_new(&m, NT * H), dx = asr__chk3_new(&m, NT * I);
    y1 = asr__chk3_new(&m, (size_t)T * H), hn1 = asr__chk3_new(&m, (size_t)H);
    cn1 = asr__chk3_new(&m, (size_t)H), gt1 = asr__chk3_new(&m, (size_t)T * G);
    cl1 = asr__chk3_new(&m, (size_t)T * H), dx1 = asr__chk3_new(&m, (size_t)T * I);
    p.w_ih = asr__chk3_new(&m, G * I), p.w_hh = asr__chk3_new(&m, G * H);
    p.b_ih = asr__chk3_new(&m, G), p.b_hh = asr__chk3_new(&m, G);
    gb.w_ih = asr__chk3_new(&m, G * I), g1.w_ih = asr__chk3_new(&m, G * I);
    gb.w_hh = asr__chk3_new(&m, G * H), g1.w_hh = asr__chk3_new(&m, G * H);
    gb.b_ih = gb.b_hh = g1.b_ih = g1.b_hh = NULL;
    fw = asr__chk3_bytes(&m, fwb);
    bw = asr__chk3_bytes(&m, bwb);
    if (m.failed) {
      asr__chk3_free(&m);
      return ASR_ERR_OUT_OF_MEMORY;
    }
    asr__chk3_randn(&rng, (asr_real *)p.w_ih, G * I, 0.6);
    asr__chk3_randn(&rng, (asr_real *)p.w_hh, G * H, 0.6);
    asr__chk3_randn(&rng, (asr_real *)p.b_ih, G, 0.3);
    asr__chk3_randn(&rng, (asr_real *)p.b_hh, G, 0.3);
    asr__chk3_randn(&rng, x, NT * I, 1);   /* the padding holds garbage too */
    asr__chk3_randn(&rng, dy, NT * H, 1);
    r = fwd(y, H, hn, cn, gt, cl, x, NULL, NULL, &p, N, T, I, H, lens, rev, fw, fwb);
    if (r >= 0)
      r = bwd(dx, NULL, NULL, &gb, dy, H, NULL, NULL, y, H, gt, cl, x, NULL, NULL, &p, N, T, I, H,
              lens, rev, bw, bwb);
    for (b = 0; b < N && r >= 0; b++) {
      size_t k;
      int L = lens[b];
      r = fwd(y1, H, hn1, cn1, gt1, cl1, x + (size_t)b * T * I, NULL, NULL, &p, 1, L, I, H, NULL,
              rev, fw, fwb);
      if (r >= 0) {
        memset(dx1, 0, sizeof(asr_real) * (size_t)T * I);
        r = bwd(dx1, NULL, NULL, &g1, dy + (size_t)b * T * H, H, NULL, NULL, y1, H, gt1, cl1,
                x + (size_t)b * T * I, NULL, NULL, &p, 1, L, I, H, NULL, rev, bw, bwb);
      }
      if (r < 0) break;
      e = ASR__MAX(e, asr__chk3_rel(y1, y + (size_t)b * T * H, (size_t)L * H));
      e = ASR__MAX(e, asr__chk3_rel(hn1, hn + (size_t)b * H, (size_t)H));
      e = ASR__MAX(e, asr__chk3_rel(cn1, cn + (size_t)b * H, (size_t)H));
      e = ASR__MAX(e, asr__chk3_rel(dx1, dx + (size_t)b * T * I, (size_t)L * I));
      for (k = (size_t)L * H; k < (size_t)T * H; k++) ok = ok && y[(size_t)b * T * H + k] == 0;
      for (k = (size_t)L * I; k < (size_t)T * I; k++) ok = ok && dx[(size_t)b * T * I + k] == 0;
    }
    /* the weight gradients of the batch are the sums of the items' */
    if (r >= 0) {
      e = ASR__MAX(e, asr__chk3_rel(g1.w_ih, gb.w_ih, G * I));
      e = ASR__MAX(e, asr__chk3_rel(g1.w_hh, gb.w_hh, G * H));
    }
    asr__check_case(rep, r >= 0 && ok && e <= ASR__CHK3_TIER_TOL, r >= 0 ? e : 1,
                    "lstm padding invariance (%s, lengths 6,2,4): rel. error %.3g, padded outputs "
                    "and input gradients %s", rev ? "reverse" : "forward", e, ok ? "0" : "NOT 0");
    asr__chk3_free(&m);
  }
  /* 4. a length out of range is refused and nothing is written */
  {
    asr_real y[8], hn[2], cn[2], gt[32], cl[8], x[4], w_ih[8], w_hh[16];
    asr_lstm_params p;
    int bad = 3, k, untouched = 1;
    memset(x, 0, sizeof x), memset(w_ih, 0, sizeof w_ih), memset(w_hh, 0, sizeof w_hh);
    for (k = 0; k < 8; k++) y[k] = 7;
    p.w_ih = w_ih, p.w_hh = w_hh, p.b_ih = p.b_hh = NULL;
    {
      size_t fwb = asr_lstm_forward_workspace_size(1, 2, 2, 2);
      asr__chk3_mem m;
      void *fw;
      memset(&m, 0, sizeof m);
      fw = asr__chk3_bytes(&m, fwb);
      if (m.failed) return ASR_ERR_OUT_OF_MEMORY;
      r = fwd(y, 2, hn, cn, gt, cl, x, NULL, NULL, &p, 1, 2, 2, 2, &bad, 0, fw, fwb);
      asr__chk3_free(&m);
    }
    for (k = 0; k < 8; k++) untouched = untouched && y[k] == 7;
    asr__check_case(rep, r < 0 && untouched, 0,
                    "lstm refuses length 3 > T = 2 (result %d, output %s)", (int)r,
                    untouched ? "untouched" : "WRITTEN");
  }
  return ASR_OK;
}


/* ---- attention checkers */
typedef struct asr__chk3_att {
  asr_attention_forward_fn fwd;
  asr_attention_config cfg;
  asr_attention_params p;
  int N, T;
  const int *lengths;
  asr_real *enc, *query, *prev, *ctx, *alpha, *act, *feat, *wc, *wa;
  asr_real *w[7];      /* enc_w enc_b dec_w att_w conv_w gvec_w gvec_b */
  asr_real *gw[7];
  size_t n[7];         /* their sizes */
  void *work;
  size_t wbytes;
  asr_result status;
} asr__chk3_att;

ASR__PRIVATE double asr__chk3_att_f(void *vc) {
  asr__chk3_att *c = (asr__chk3_att *)vc;
  asr_result r = c->fwd(c->ctx, c->alpha, c->act, c->feat, c->enc, c->lengths, c->query, c->prev,
                        &c->p, &c->cfg, c->N, c->T, c->work, c->wbytes);
  if (r < 0) c->status = r;
  return asr__chk3_dot(c->wc, c->ctx, (size_t)c->N * c->cfg.enc_dim) +
         asr__chk3_dot(c->wa, c->alpha, (size_t)c->N * c->T);
}

/* Allocates and fills a random instance (sizes of asr_gradcheck_attention). */
ASR__PRIVATE int asr__chk3_att_make(asr__chk3_att *c, asr__chk3_mem *m, asr_rng *rng,
                                    asr_attention_type type, int N, int T, int *lens) {
  int b, i;
  size_t *n = c->n;
  memset(c, 0, sizeof *c);
  c->cfg.type = type;
  c->cfg.enc_dim = 5;
  c->cfg.dec_dim = type == ASR_ATTENTION_DOT ? 5 : 4;
  c->cfg.att_dim = 6;
  c->cfg.conv_chans = 3;
  c->cfg.conv_filts = 2;
  c->cfg.scaling = 2.0;
  c->N = N, c->T = T;
  for (b = 0; b < N; b++) lens[b] = ASR__MAX(1, T - b);
  c->lengths = lens;
  n[0] = 6 * 5, n[1] = 6, n[2] = (size_t)6 * c->cfg.dec_dim, n[3] = 6 * 3, n[4] = 3 * 5, n[5] = 6, n[6] = 1;
  c->enc = asr__chk3_new(m, (size_t)N * T * 5);
  c->query = asr__chk3_new(m, (size_t)N * c->cfg.dec_dim);
  c->prev = asr__chk3_new(m, (size_t)N * T);
  c->ctx = asr__chk3_new(m, (size_t)N * 5);
  c->alpha = asr__chk3_new(m, (size_t)N * T);
  c->act = asr__chk3_new(m, (size_t)N * T * 6);
  c->feat = asr__chk3_new(m, (size_t)N * T * 3);
  c->wc = asr__chk3_new(m, (size_t)N * 5);
  c->wa = asr__chk3_new(m, (size_t)N * T);
  for (i = 0; i < 7; i++) {
    c->w[i] = asr__chk3_new(m, n[i]);
    c->gw[i] = asr__chk3_new(m, n[i]);
  }
  c->wbytes = asr_attention_forward_workspace_size(&c->cfg, N, T);
  c->work = asr__chk3_bytes(m, c->wbytes);
  if (m->failed) return 0;
  for (i = 0; i < 7; i++) asr__chk3_randn(rng, c->w[i], n[i], 0.5);
  c->p.enc_w = c->w[0], c->p.enc_b = c->w[1], c->p.dec_w = c->w[2], c->p.att_w = c->w[3];
  c->p.conv_w = c->w[4], c->p.gvec_w = c->w[5], c->p.gvec_b = c->w[6];
  asr__chk3_randn(rng, c->enc, (size_t)N * T * 5, 1);
  asr__chk3_randn(rng, c->query, (size_t)N * c->cfg.dec_dim, 1);
  for (i = 0; i < N * T; i++) c->prev[i] = (asr_real)asr_rng_uniform(rng);
  asr__chk3_randn(rng, c->wc, (size_t)N * 5, 1);
  asr__chk3_randn(rng, c->wa, (size_t)N * T, 1);
  return 1;
}

ASRDEF asr_result asr_gradcheck_attention(asr_attention_forward_fn fwd,
                                          asr_attention_backward_fn bwd, asr_attention_type type,
                                          int N, int T, uint64_t seed,
                                          asr_gradcheck_report *report) {
  static const char *names[7] = {"mlp_enc.weight", "mlp_enc.bias", "mlp_dec.weight", "mlp_att.weight",
                                 "loc_conv.weight", "gvec.weight", "gvec.bias"};
  asr__chk3_mem m;
  asr__chk3_att c;
  asr_rng rng;
  int lens[64], i, np = 0;
  asr_real *denc, *dq, *dprev;
  asr_attention_grads g;
  asr_gradcheck_param prm[10];
  void *bwork;
  size_t bbytes;
  asr_result r;
  memset(report, 0, sizeof *report);
  if (N < 1 || N > 64 || T < 1) return ASR_ERR_INVALID_ARG;
  memset(&m, 0, sizeof m);
  asr_rng_seed(&rng, seed, 43);
  if (!asr__chk3_att_make(&c, &m, &rng, type, N, T, lens)) {
    asr__chk3_free(&m);
    return ASR_ERR_OUT_OF_MEMORY;
  }
  c.fwd = fwd;
  bbytes = asr_attention_backward_workspace_size(&c.cfg, N, T);
  bwork = asr__chk3_bytes(&m, bbytes);
  denc = asr__chk3_new(&m, (size_t)N * T * 5);
  dq = asr__chk3_new(&m, (size_t)N * c.cfg.dec_dim);
  dprev = asr__chk3_new(&m, (size_t)N * T);
  if (m.failed) {
    asr__chk3_free(&m);
    return ASR_ERR_OUT_OF_MEMORY;
  }
  asr__chk3_att_f(&c);
  g.enc_w = c.gw[0], g.enc_b = c.gw[1], g.dec_w = c.gw[2], g.att_w = c.gw[3];
  g.conv_w = c.gw[4], g.gvec_w = c.gw[5], g.gvec_b = c.gw[6];
  r = c.status;
  if (r >= 0)
    r = bwd(denc, dq, type == ASR_ATTENTION_LOCATION ? dprev : NULL, &g, c.wc, c.wa, c.alpha, c.act,
            c.feat, c.enc, c.lengths, c.query, c.prev, &c.p, &c.cfg, N, T, bwork, bbytes);
  if (r >= 0) {
    prm[np].name = "enc", prm[np].x = c.enc, prm[np].grad = denc, prm[np++].n = (size_t)N * T * 5;
    prm[np].name = "query", prm[np].x = c.query, prm[np].grad = dq, prm[np++].n = (size_t)N * c.cfg.dec_dim;
    if (type == ASR_ATTENTION_LOCATION) {
      prm[np].name = "prev", prm[np].x = c.prev, prm[np].grad = dprev, prm[np++].n = (size_t)N * T;
    }
    for (i = 0; i < 7 && type != ASR_ATTENTION_DOT; i++) {
      if ((i == 3 || i == 4) && type != ASR_ATTENTION_LOCATION) continue;
      prm[np].name = names[i], prm[np].x = c.w[i], prm[np].grad = c.gw[i];
      prm[np++].n = c.n[i];
    }
    r = asr_gradcheck(asr__chk3_att_f, &c, prm, np, NULL, &rng, report);
    if (r >= 0 && c.status < 0) r = c.status;
  }
  asr__chk3_free(&m);
  return r;
}

ASRDEF asr_result asr_check_attention(asr_attention_forward_fn fwd, asr_attention_backward_fn bwd,
                                      uint64_t seed, asr_check_report *rep) {
  static const char *tname[3] = {"dot", "additive", "location-aware"};
  asr_rng rng;
  int ty;
  asr_result r;
  asr_rng_seed(&rng, seed, 44);
  for (ty = 0; ty < 3; ty++) {
    asr_attention_type type = (asr_attention_type)ty;
    /* 1. forward and backward against _naive, with lengths 5,4,3 and a given d_alpha */
    {
      asr__chk3_mem m;
      asr__chk3_att c;
      int lens[3], i;
      const int N = 3, T = 5;
      asr_real *ctxb, *alb, *actb, *featb, *dea, *deb, *dqa, *dqb, *dpa, *dpb, *gb[7];
      asr_attention_grads ga, gbn;
      void *bw;
      size_t bwb;
      double e = 0;
      memset(&m, 0, sizeof m);
      if (!asr__chk3_att_make(&c, &m, &rng, type, N, T, lens)) {
        asr__chk3_free(&m);
        return ASR_ERR_OUT_OF_MEMORY;
      }
      ctxb = asr__chk3_new(&m, (size_t)N * 5), alb = asr__chk3_new(&m, (size_t)N * T);
      actb = asr__chk3_new(&m, (size_t)N * T * 6), featb = asr__chk3_new(&m, (size_t)N * T * 3);
      dea = asr__chk3_new(&m, (size_t)N * T * 5), deb = asr__chk3_new(&m, (size_t)N * T * 5);
      dqa = asr__chk3_new(&m, (size_t)N * 5), dqb = asr__chk3_new(&m, (size_t)N * 5);
      dpa = asr__chk3_new(&m, (size_t)N * T), dpb = asr__chk3_new(&m, (size_t)N * T);
      for (i = 0; i < 7; i++) gb[i] = asr__chk3_new(&m, c.n[i]);
      bwb = asr_attention_backward_workspace_size(&c.cfg, N, T);
      bw = asr__chk3_bytes(&m, bwb);
      if (m.failed) {
        asr__chk3_free(&m);
        return ASR_ERR_OUT_OF_MEMORY;
      }
      r = asr_attention_forward_naive(ctxb, alb, actb, featb, c.enc, c.lengths, c.query, c.prev, &c.p,
                                      &c.cfg, N, T);
      gbn.enc_w = gb[0], gbn.enc_b = gb[1], gbn.dec_w = gb[2], gbn.att_w = gb[3];
      gbn.conv_w = gb[4], gbn.gvec_w = gb[5], gbn.gvec_b = gb[6];
      if (r == ASR_OK)
        r = asr_attention_backward_naive(deb, dqb, dpb, &gbn, c.wc, c.wa, alb, actb, featb, c.enc,
                                         c.lengths, c.query, c.prev, &c.p, &c.cfg, N, T);
      if (r != ASR_OK) {
        asr__chk3_free(&m);
        return r;
      }
      r = fwd(c.ctx, c.alpha, c.act, c.feat, c.enc, c.lengths, c.query, c.prev, &c.p, &c.cfg, N, T,
              c.work, c.wbytes);
      if (r >= 0)
        e = ASR__MAX(asr__chk3_rel(c.ctx, ctxb, (size_t)N * 5), asr__chk3_rel(c.alpha, alb, (size_t)N * T));
      asr__check_case(rep, r >= 0 && e <= ASR__CHK3_TIER_TOL, r >= 0 ? e : 1,
                      "attention %s forward vs naive: rel. error %.3g", tname[ty], e);
      ga.enc_w = c.gw[0], ga.enc_b = c.gw[1], ga.dec_w = c.gw[2], ga.att_w = c.gw[3];
      ga.conv_w = c.gw[4], ga.gvec_w = c.gw[5], ga.gvec_b = c.gw[6];
      if (r >= 0)
        r = bwd(dea, dqa, dpa, &ga, c.wc, c.wa, c.alpha, c.act, c.feat, c.enc, c.lengths, c.query,
                c.prev, &c.p, &c.cfg, N, T, bw, bwb);
      e = 0;
      if (r >= 0) {
        e = ASR__MAX(asr__chk3_rel(dea, deb, (size_t)N * T * 5), asr__chk3_rel(dqa, dqb, (size_t)N * c.cfg.dec_dim));
        e = ASR__MAX(e, asr__chk3_rel(dpa, dpb, (size_t)N * T));
        for (i = 0; i < 7; i++) e = ASR__MAX(e, asr__chk3_rel(c.gw[i], gb[i], c.n[i]));
      }
      asr__check_case(rep, r >= 0 && e <= ASR__CHK3_TIER_TOL, r >= 0 ? e : 1,
                      "attention %s backward vs naive: rel. error %.3g", tname[ty], e);
      /* 3. padding invariance: item 2 (length 3) alone, unpadded, and its padded row */
      if (r >= 0) {
        asr_real ctx1[5], al1[5], act1[30], feat1[15], de1[25], dq1[5], dp1[5];
        const int b = 2, L = lens[2];
        int ok = 1, k;
        double e2;
        memset(de1, 0, sizeof de1), memset(dq1, 0, sizeof dq1), memset(dp1, 0, sizeof dp1);
        r = fwd(ctx1, al1, act1, feat1, c.enc + (size_t)b * T * 5, NULL, c.query + (size_t)b * c.cfg.dec_dim,
                c.prev + (size_t)b * T, &c.p, &c.cfg, 1, L, c.work, c.wbytes);
        if (r >= 0)
          r = bwd(de1, dq1, dp1, NULL, c.wc + (size_t)b * 5, c.wa + (size_t)b * T, al1, act1, feat1,
                  c.enc + (size_t)b * T * 5, NULL, c.query + (size_t)b * c.cfg.dec_dim, c.prev + (size_t)b * T,
                  &c.p, &c.cfg, 1, L, bw, bwb);
        e2 = r >= 0 ? asr__chk3_rel(ctx1, c.ctx + (size_t)b * 5, 5) : 1;
        if (r >= 0) {
          e2 = ASR__MAX(e2, asr__chk3_rel(al1, c.alpha + (size_t)b * T, (size_t)L));
          e2 = ASR__MAX(e2, asr__chk3_rel(de1, dea + (size_t)b * T * 5, (size_t)L * 5));
          e2 = ASR__MAX(e2, asr__chk3_rel(dq1, dqa + (size_t)b * c.cfg.dec_dim, (size_t)c.cfg.dec_dim));
          e2 = ASR__MAX(e2, asr__chk3_rel(dp1, dpa + (size_t)b * T, (size_t)L));
          for (k = L; k < T; k++) ok = ok && c.alpha[(size_t)b * T + k] == 0 && dpa[(size_t)b * T + k] == 0;
          for (k = L * 5; k < T * 5; k++) ok = ok && dea[(size_t)b * T * 5 + k] == 0;
        }
        asr__check_case(rep, r >= 0 && ok && e2 <= ASR__CHK3_TIER_TOL, r >= 0 ? e2 : 1,
                        "attention %s padding invariance (length 3 of 5): rel. error %.3g, padded "
                        "weights and gradients %s", tname[ty], e2, ok ? "0" : "NOT 0");
      }
      /* 4. bad input: a length out of range is refused, nothing written */
      {
        int bad[3];
        asr_real keep = c.ctx[0] = (asr_real)12345;
        bad[0] = 5, bad[1] = 6, bad[2] = 1;
        r = fwd(c.ctx, c.alpha, c.act, c.feat, c.enc, bad, c.query, c.prev, &c.p, &c.cfg, N, T,
                c.work, c.wbytes);
        asr__check_case(rep, r < 0 && c.ctx[0] == keep, 0,
                        "attention %s refuses length 6 > T = 5 (result %d)", tname[ty], (int)r);
      }
      asr__chk3_free(&m);
    }
    /* 2. finite differences */
    {
      asr_gradcheck_report gr;
      r = asr_gradcheck_attention(fwd, bwd, type, 3, 5, seed + 7 * (uint64_t)ty, &gr);
      if (r == ASR_ERR_OUT_OF_MEMORY) return r;
      asr__check_case(rep, r >= 0 && gr.max_rel_err <= ASR__CHK3_FD_TOL, r >= 0 ? gr.max_rel_err : 1,
                      "attention %s finite differences: max rel. error %.3g at %s[%ld]", tname[ty],
                      gr.max_rel_err, gr.worst_param ? gr.worst_param : "-", gr.worst_index);
    }
  }
  /* dot attention needs Dq == E */
  {
    asr_attention_config cfg;
    asr_attention_params p;
    asr_real x[4] = {0, 0, 0, 0}, ctx[2], al[2];
    memset(&cfg, 0, sizeof cfg);
    memset(&p, 0, sizeof p);
    cfg.type = ASR_ATTENTION_DOT, cfg.enc_dim = 2, cfg.dec_dim = 3, cfg.scaling = 1;
    r = fwd(ctx, al, NULL, NULL, x, NULL, x, NULL, &p, &cfg, 1, 2, NULL, 0);
    asr__check_case(rep, r == ASR_ERR_SHAPE, 0, "dot attention refuses Dq = 3 != E = 2 (result %d)", (int)r);
  }
  return ASR_OK;
}


/* ---- rel-pos MHSA checkers */
typedef struct asr__chk3_mhsa {
  asr_rel_mhsa_forward_fn fwd;
  asr_rel_pos_type type;
  int N, T, D, H, P;
  const int *lengths;
  asr_rel_mhsa_params p;
  asr_rel_mhsa_saved s;
  asr_real *w[11], *gw[11];   /* wq bq wk bk wv bv wo bo wpos u v */
  size_t n[11];
  asr_real *x, *pe, *y, *wy;
  void *work;
  size_t wbytes;
  asr_result status;
} asr__chk3_mhsa;

ASR__PRIVATE double asr__chk3_mhsa_f(void *vc) {
  asr__chk3_mhsa *c = (asr__chk3_mhsa *)vc;
  asr_result r = c->fwd(c->y, &c->s, c->x, c->pe, c->lengths, &c->p, c->N, c->T, c->D, c->H,
                        c->type, c->work, c->wbytes);
  if (r < 0) c->status = r;
  return asr__chk3_dot(c->wy, c->y, (size_t)c->N * c->T * c->D);
}

/* Allocates and fills a random instance; 0 when out of memory. */
ASR__PRIVATE int asr__chk3_mhsa_make(asr__chk3_mhsa *c, asr__chk3_mem *m, asr_rng *rng,
                                     asr_rel_pos_type type, int N, int T, int D, int H,
                                     const int *lengths) {
  int i, dk = D / H;
  size_t ntd = (size_t)N * T * D, sb;
  memset(c, 0, sizeof *c);
  c->type = type, c->N = N, c->T = T, c->D = D, c->H = H, c->lengths = lengths;
  c->P = asr_rel_pos_len(type, T);
  for (i = 0; i < 11; i++) c->n[i] = i < 9 ? ((i % 2 == 0 || i == 8) ? (size_t)D * D : (size_t)D) : (size_t)H * dk;
  for (i = 0; i < 11; i++) {
    c->w[i] = asr__chk3_new(m, c->n[i]);
    c->gw[i] = asr__chk3_new(m, c->n[i]);
  }
  c->x = asr__chk3_new(m, ntd), c->y = asr__chk3_new(m, ntd), c->wy = asr__chk3_new(m, ntd);
  c->pe = asr__chk3_new(m, (size_t)c->P * D);
  sb = asr_rel_mhsa_saved_size(N, T, D, H, type);
  c->wbytes = asr_rel_mhsa_forward_workspace_size(N, T, D, H, type);
  c->work = asr__chk3_bytes(m, c->wbytes);
  {
    void *sbuf = asr__chk3_bytes(m, sb);
    if (m->failed) return 0;
    asr_rel_mhsa_saved_init(&c->s, sbuf, sb, N, T, D, H, type);
  }
  /* weights at nn.Linear's scale 1/sqrt(D), pos biases as ESPnet's xavier init */
  for (i = 0; i < 11; i++) asr__chk3_randn(rng, c->w[i], c->n[i], i < 9 ? 1.0 / sqrt((double)D) : 0.3);
  c->p.wq = c->w[0], c->p.bq = c->w[1], c->p.wk = c->w[2], c->p.bk = c->w[3];
  c->p.wv = c->w[4], c->p.bv = c->w[5], c->p.wo = c->w[6], c->p.bo = c->w[7];
  c->p.wpos = c->w[8], c->p.pos_bias_u = c->w[9], c->p.pos_bias_v = c->w[10];
  asr__chk3_randn(rng, c->x, ntd, 1);
  asr__chk3_randn(rng, c->wy, ntd, 1);
  asr_rel_pos_encoding(c->pe, T, D, type, 5000);
  return 1;
}

ASR__PRIVATE asr_rel_mhsa_grads asr__chk3_mhsa_grads(asr_real *const *gw) {
  asr_rel_mhsa_grads g;
  g.wq = gw[0], g.bq = gw[1], g.wk = gw[2], g.bk = gw[3], g.wv = gw[4], g.bv = gw[5];
  g.wo = gw[6], g.bo = gw[7], g.wpos = gw[8], g.pos_bias_u = gw[9], g.pos_bias_v = gw[10];
  return g;
}

ASRDEF asr_result asr_gradcheck_rel_pos_mhsa(asr_rel_mhsa_forward_fn fwd,
                                             asr_rel_mhsa_backward_fn bwd, asr_rel_pos_type type,
                                             int N, int T, int D, int H, uint64_t seed,
                                             asr_gradcheck_report *report) {
  static const char *names[11] = {"linear_q.weight", "linear_q.bias", "linear_k.weight", "linear_k.bias",
                                  "linear_v.weight", "linear_v.bias", "linear_out.weight",
                                  "linear_out.bias", "linear_pos.weight", "pos_bias_u", "pos_bias_v"};
  asr__chk3_mem m;
  asr__chk3_mhsa c;
  asr_rng rng;
  int lens[64], b, i;
  asr_real *dx, *dpe;
  asr_rel_mhsa_grads g;
  asr_gradcheck_param prm[13];
  void *bw;
  size_t bwb;
  asr_result r;
  memset(report, 0, sizeof *report);
  if (N < 1 || N > 64 || T < 1 || D < 2 || D % 2 || H < 1 || D % H) return ASR_ERR_INVALID_ARG;
  memset(&m, 0, sizeof m);
  asr_rng_seed(&rng, seed, 45);
  for (b = 0; b < N; b++) lens[b] = ASR__MAX(1, T - b);
  if (!asr__chk3_mhsa_make(&c, &m, &rng, type, N, T, D, H, lens)) {
    asr__chk3_free(&m);
    return ASR_ERR_OUT_OF_MEMORY;
  }
  c.fwd = fwd;
  dx = asr__chk3_new(&m, (size_t)N * T * D);
  dpe = asr__chk3_new(&m, (size_t)c.P * D);
  bwb = asr_rel_mhsa_backward_workspace_size(N, T, D, H, type);
  bw = asr__chk3_bytes(&m, bwb);
  if (m.failed) {
    asr__chk3_free(&m);
    return ASR_ERR_OUT_OF_MEMORY;
  }
  asr__chk3_mhsa_f(&c);
  g = asr__chk3_mhsa_grads(c.gw);
  r = c.status;
  if (r >= 0) r = bwd(dx, dpe, &g, c.wy, &c.s, c.x, c.pe, c.lengths, &c.p, N, T, D, H, type, bw, bwb);
  if (r >= 0) {
    prm[0].name = "x", prm[0].x = c.x, prm[0].grad = dx, prm[0].n = (size_t)N * T * D;
    prm[1].name = "pos_emb", prm[1].x = c.pe, prm[1].grad = dpe, prm[1].n = (size_t)c.P * D;
    for (i = 0; i < 11; i++)
      prm[2 + i].name = names[i], prm[2 + i].x = c.w[i], prm[2 + i].grad = c.gw[i], prm[2 + i].n = c.n[i];
    r = asr_gradcheck(asr__chk3_mhsa_f, &c, prm, 13, NULL, &rng, report);
    if (r >= 0 && c.status < 0) r = c.status;
  }
  asr__chk3_free(&m);
  return r;
}

ASRDEF asr_result asr_check_rel_pos_mhsa(asr_rel_mhsa_forward_fn fwd, asr_rel_mhsa_backward_fn bwd,
                                         uint64_t seed, asr_check_report *rep) {
  static const char *tname[2] = {"latest", "legacy"};
  asr_rng rng;
  int ty;
  asr_result r;
  asr_rng_seed(&rng, seed, 46);
  for (ty = 0; ty < 2; ty++) {
    asr_rel_pos_type type = (asr_rel_pos_type)ty;
    const int N = 2, T = 6, D = 8, H = 2;
    static const int lens[2] = {6, 4};
    size_t ntd = (size_t)N * T * D;
    asr__chk3_mem m;
    asr__chk3_mhsa c;
    asr_real *yb, *dxa, *dxb, *dpa, *dpb, *gb[11], *sbuf_b;
    asr_rel_mhsa_saved sb;
    asr_rel_mhsa_grads ga, gbn;
    void *bw;
    size_t bwb = asr_rel_mhsa_backward_workspace_size(N, T, D, H, type);
    size_t sbb = asr_rel_mhsa_saved_size(N, T, D, H, type);
    double e = 0;
    int i;
    memset(&m, 0, sizeof m);
    if (!asr__chk3_mhsa_make(&c, &m, &rng, type, N, T, D, H, lens)) {
      asr__chk3_free(&m);
      return ASR_ERR_OUT_OF_MEMORY;
    }
    yb = asr__chk3_new(&m, ntd), dxa = asr__chk3_new(&m, ntd), dxb = asr__chk3_new(&m, ntd);
    dpa = asr__chk3_new(&m, (size_t)c.P * D), dpb = asr__chk3_new(&m, (size_t)c.P * D);
    for (i = 0; i < 11; i++) gb[i] = asr__chk3_new(&m, c.n[i]);
    sbuf_b = (asr_real *)asr__chk3_bytes(&m, sbb);
    bw = asr__chk3_bytes(&m, bwb);
    if (m.failed) {
      asr__chk3_free(&m);
      return ASR_ERR_OUT_OF_MEMORY;
    }
    asr_rel_mhsa_saved_init(&sb, sbuf_b, sbb, N, T, D, H, type);
    /* 1. against _naive */
    r = asr_rel_mhsa_forward_naive(yb, &sb, c.x, c.pe, lens, &c.p, N, T, D, H, type);
    gbn = asr__chk3_mhsa_grads(gb);
    if (r == ASR_OK)
      r = asr_rel_mhsa_backward_naive(dxb, dpb, &gbn, c.wy, &sb, c.x, c.pe, lens, &c.p, N, T, D, H, type);
    if (r != ASR_OK) {
      asr__chk3_free(&m);
      return r;
    }
    r = fwd(c.y, &c.s, c.x, c.pe, lens, &c.p, N, T, D, H, type, c.work, c.wbytes);
    e = r >= 0 ? asr__chk3_rel(c.y, yb, ntd) : 1;
    asr__check_case(rep, r >= 0 && e <= ASR__CHK3_TIER_TOL, e,
                    "rel_pos_mhsa %s forward vs naive (lengths 6,4): rel. error %.3g", tname[ty], e);
    ga = asr__chk3_mhsa_grads(c.gw);
    if (r >= 0) r = bwd(dxa, dpa, &ga, c.wy, &c.s, c.x, c.pe, lens, &c.p, N, T, D, H, type, bw, bwb);
    e = 0;
    if (r >= 0) {
      e = ASR__MAX(asr__chk3_rel(dxa, dxb, ntd), asr__chk3_rel(dpa, dpb, (size_t)c.P * D));
      for (i = 0; i < 11; i++) e = ASR__MAX(e, asr__chk3_rel(c.gw[i], gb[i], c.n[i]));
    }
    asr__check_case(rep, r >= 0 && e <= ASR__CHK3_TIER_TOL, r >= 0 ? e : 1,
                    "rel_pos_mhsa %s backward vs naive: rel. error %.3g", tname[ty], e);
    /* 3a. the padding's contents: new garbage in item 1's padding changes nothing */
    if (r >= 0) {
      int k, ok = 1;
      memset(dxb, 0, sizeof(asr_real) * ntd);
      for (k = (T + lens[1]) * D; k < 2 * T * D; k++) c.x[k] = (asr_real)(100 * asr_rng_normal(&rng));
      r = fwd(yb, &c.s, c.x, c.pe, lens, &c.p, N, T, D, H, type, c.work, c.wbytes);
      if (r >= 0) r = bwd(dxb, NULL, NULL, c.wy, &c.s, c.x, c.pe, lens, &c.p, N, T, D, H, type, bw, bwb);
      e = r >= 0 ? ASR__MAX(asr__chk3_rel(yb, c.y, ntd), asr__chk3_rel(dxb, dxa, ntd)) : 1;
      for (k = (T + lens[1]) * D; k < 2 * T * D && r >= 0; k++) ok = ok && yb[k] == 0 && dxb[k] == 0;
      asr__check_case(rep, r >= 0 && ok && e <= ASR__CHK3_TIER_TOL, e,
                      "rel_pos_mhsa %s: the padding's contents change nothing (rel. error %.3g), "
                      "padded outputs and gradients %s", tname[ty], e, ok ? "0" : "NOT 0");
    }
    /* 3b. latest only: item 1 alone, unpadded (T = 4, its own 7 embeddings) */
    if (r >= 0 && type == ASR_REL_POS_LATEST) {
      const int L = lens[1];
      asr_real y1[4 * 8], dx1[4 * 8], pe1[7 * 8];
      asr_rel_mhsa_saved s1;
      size_t s1b = asr_rel_mhsa_saved_size(1, L, D, H, type);
      asr_real *s1buf = (asr_real *)asr__chk3_bytes(&m, s1b);
      if (m.failed) {
        asr__chk3_free(&m);
        return ASR_ERR_OUT_OF_MEMORY;
      }
      memset(dx1, 0, sizeof dx1);
      asr_rel_mhsa_saved_init(&s1, s1buf, s1b, 1, L, D, H, type);
      asr_rel_pos_encoding(pe1, L, D, type, 5000);
      r = fwd(y1, &s1, c.x + (size_t)T * D, pe1, NULL, &c.p, 1, L, D, H, type, c.work, c.wbytes);
      if (r >= 0)
        r = bwd(dx1, NULL, NULL, c.wy + (size_t)T * D, &s1, c.x + (size_t)T * D, pe1, NULL, &c.p, 1, L, D, H,
                type, bw, bwb);
      e = r >= 0 ? ASR__MAX(asr__chk3_rel(y1, c.y + (size_t)T * D, (size_t)L * D),
                            asr__chk3_rel(dx1, dxa + (size_t)T * D, (size_t)L * D)) : 1;
      asr__check_case(rep, r >= 0 && e <= ASR__CHK3_TIER_TOL, e,
                      "rel_pos_mhsa latest: an item alone (T = 4) equals its padded row (T = 6): "
                      "rel. error %.3g", e);
    }
    /* 4. bad arguments */
    {
      int bad[2];
      asr_real keep = c.y[0] = (asr_real)4321;
      bad[0] = 6, bad[1] = 7;
      r = fwd(c.y, &c.s, c.x, c.pe, bad, &c.p, N, T, D, H, type, c.work, c.wbytes);
      asr__check_case(rep, r < 0 && c.y[0] == keep, 0, "rel_pos_mhsa %s refuses length 7 > T = 6 (result %d)",
                      tname[ty], (int)r);
      r = fwd(c.y, &c.s, c.x, c.pe, NULL, &c.p, N, T, D, 3, type, c.work, c.wbytes);
      asr__check_case(rep, r == ASR_ERR_SHAPE && c.y[0] == keep, 0,
                      "rel_pos_mhsa %s refuses 3 heads for D = 8 (result %d)", tname[ty], (int)r);
    }
    asr__chk3_free(&m);
    /* 2. finite differences */
    {
      asr_gradcheck_report gr;
      r = asr_gradcheck_rel_pos_mhsa(fwd, bwd, type, 2, 5, 8, 2, seed + 3 + (uint64_t)ty, &gr);
      if (r == ASR_ERR_OUT_OF_MEMORY) return r;
      asr__check_case(rep, r >= 0 && gr.max_rel_err <= ASR__CHK3_FD_TOL, r >= 0 ? gr.max_rel_err : 1,
                      "rel_pos_mhsa %s finite differences: max rel. error %.3g at %s[%ld]", tname[ty],
                      gr.max_rel_err, gr.worst_param ? gr.worst_param : "-", gr.worst_index);
    }
  }
  return ASR_OK;
}

/* ---- Conv2dSubsampling finite differences */
typedef struct asr__chk3_sub {
  int N, T, F, D;
  const int *lengths;
  asr_conv2d_subsampling_params p;
  asr_conv2d_subsampling_saved s;
  asr_real *x, *y, *wy;
  void *work;
  size_t wbytes;
  asr_result status;
} asr__chk3_sub;

ASR__PRIVATE double asr__chk3_sub_f(void *vc) {
  asr__chk3_sub *c = (asr__chk3_sub *)vc;
  int T2 = asr_conv2d_subsampling_out_len(c->T);
  asr_result r = asr_conv2d_subsampling_forward(c->y, NULL, &c->s, c->x, c->lengths, &c->p, c->N, c->T,
                                                c->F, c->D, c->work, c->wbytes);
  if (r < 0) c->status = r;
  return asr__chk3_dot(c->wy, c->y, (size_t)c->N * T2 * c->D);
}

ASRDEF asr_result asr_gradcheck_conv2d_subsampling(int N, int T, int F, int D, uint64_t seed,
                                                   asr_gradcheck_report *report) {
  static const char *names[6] = {"conv.0.weight", "conv.0.bias", "conv.2.weight", "conv.2.bias",
                                 "out.0.weight", "out.0.bias"};
  asr__chk3_mem m;
  asr__chk3_sub c;
  asr_rng rng;
  int lens[64], b, i, T2, F2;
  size_t n[6], sb;
  asr_real *w[6], *gw[6], *dx;
  asr_conv2d_subsampling_grads g;
  asr_gradcheck_param prm[7];
  asr_result r;
  memset(report, 0, sizeof *report);
  if (N < 1 || N > 64 || T < 7 || F < 7 || D < 1) return ASR_ERR_INVALID_ARG;
  memset(&m, 0, sizeof m);
  memset(&c, 0, sizeof c);
  asr_rng_seed(&rng, seed, 47);
  T2 = asr_conv2d_subsampling_out_len(T), F2 = asr_conv2d_subsampling_out_len(F);
  c.N = N, c.T = T, c.F = F, c.D = D;
  for (b = 0; b < N; b++) lens[b] = ASR__MAX(7, T - 3 * b);
  c.lengths = lens;
  n[0] = (size_t)D * 9, n[1] = (size_t)D, n[2] = (size_t)D * D * 9, n[3] = (size_t)D;
  n[4] = (size_t)D * D * F2, n[5] = (size_t)D;
  for (i = 0; i < 6; i++) w[i] = asr__chk3_new(&m, n[i]), gw[i] = asr__chk3_new(&m, n[i]);
  c.x = asr__chk3_new(&m, (size_t)N * T * F);
  dx = asr__chk3_new(&m, (size_t)N * T * F);
  c.y = asr__chk3_new(&m, (size_t)N * T2 * D);
  c.wy = asr__chk3_new(&m, (size_t)N * T2 * D);
  sb = asr_conv2d_subsampling_saved_size(N, T, F, D);
  c.wbytes = asr_conv2d_subsampling_workspace_size(N, T, F, D);
  c.work = asr__chk3_bytes(&m, c.wbytes);
  {
    void *sbuf = asr__chk3_bytes(&m, sb);
    if (m.failed) {
      asr__chk3_free(&m);
      return ASR_ERR_OUT_OF_MEMORY;
    }
    asr_conv2d_subsampling_saved_init(&c.s, sbuf, sb, N, T, F, D);
  }
  /* conv weights at torch's init scale (1/sqrt(fan_in)) */
  asr__chk3_randn(&rng, w[0], n[0], 1.0 / 3);
  asr__chk3_randn(&rng, w[1], n[1], 0.3);
  asr__chk3_randn(&rng, w[2], n[2], 1.0 / sqrt(9.0 * D));
  asr__chk3_randn(&rng, w[3], n[3], 0.3);
  asr__chk3_randn(&rng, w[4], n[4], 1.0 / sqrt((double)D * F2));
  asr__chk3_randn(&rng, w[5], n[5], 0.3);
  c.p.conv0_w = w[0], c.p.conv0_b = w[1], c.p.conv2_w = w[2], c.p.conv2_b = w[3];
  c.p.out_w = w[4], c.p.out_b = w[5];
  asr__chk3_randn(&rng, c.x, (size_t)N * T * F, 1);
  asr__chk3_randn(&rng, c.wy, (size_t)N * T2 * D, 1);
  asr__chk3_sub_f(&c);
  g.conv0_w = gw[0], g.conv0_b = gw[1], g.conv2_w = gw[2], g.conv2_b = gw[3], g.out_w = gw[4], g.out_b = gw[5];
  r = c.status;
  if (r >= 0)
    r = asr_conv2d_subsampling_backward(dx, &g, c.wy, &c.s, c.x, c.lengths, &c.p, N, T, F, D, c.work, c.wbytes);
  if (r >= 0) {
    prm[0].name = "x", prm[0].x = c.x, prm[0].grad = dx, prm[0].n = (size_t)N * T * F;
    asr_gradcheck_opts o;
    for (i = 0; i < 6; i++) prm[1 + i].name = names[i], prm[1 + i].x = w[i], prm[1 + i].grad = gw[i], prm[1 + i].n = n[i];
    /* The ReLUs make the objective piecewise smooth: a step that carries a
     * preactivation across 0 measures the wrong slope. The default steps (1e-3 double,
     * 3e-2 float) do that now and then (1 seed in 60 with 1e-4 in double); 1e-5 and
     * 3e-3 rarely, at the price of rounding noise: ~5e-7 relative at worst in double. */
    memset(&o, 0, sizeof o);
    o.h = ASR_REAL_DOUBLE ? 1e-5 : 3e-3;
    r = asr_gradcheck(asr__chk3_sub_f, &c, prm, 7, &o, &rng, report);
    if (r >= 0 && c.status < 0) r = c.status;
  }
  asr__chk3_free(&m);
  return r;
}


/* ---- Conformer module and block finite differences */
typedef struct asr__chk3_blk {
  int what;               /* 0 ff, 1 conv module, 2 block */
  int fast, N, T;
  const int *lengths;
  asr_conformer_config cfg;
  asr_conformer_block_params p;
  asr_conformer_block_saved s;
  asr_real *x, *pe, *y, *wy;
  void *work;
  size_t wbytes;
  asr_result status;
  /* the parameter registry: name, values, gradient, size */
  const char *name[64];
  asr_real *val[64], *grad[64];
  size_t n[64];
  int np;
} asr__chk3_blk;

ASR__PRIVATE double asr__chk3_blk_f(void *vc) {
  asr__chk3_blk *c = (asr__chk3_blk *)vc;
  int M = c->N * c->T, D = c->cfg.d_model;
  asr_result r;
  if (c->what == 0)
    r = asr__conf_ff_forward(c->y, &c->s.ff, c->x, &c->p.ff, M, D, c->cfg.ff_dim, c->fast);
  else if (c->what == 1)
    r = asr__conf_conv_forward(c->y, &c->s.conv, c->x, c->lengths, &c->p.conv, &c->cfg, c->N, c->T, c->work,
                               c->wbytes, c->fast);
  else
    r = asr__conf_block_forward(c->y, &c->s, c->x, c->pe, c->lengths, &c->p, &c->cfg, c->N, c->T, c->work,
                                c->wbytes, c->fast);
  if (r < 0) c->status = r;
  return asr__chk3_dot(c->wy, c->y, (size_t)M * D);
}

/* A new parameter of n entries (scale: its random normal scale; offset: added). */
ASR__PRIVATE asr_real *asr__chk3_blk_param(asr__chk3_blk *c, asr__chk3_mem *m, asr_rng *rng,
                                           const char *name, size_t n, double scale, double offset,
                                           asr_real **grad) {
  asr_real *v = asr__chk3_new(m, n), *g = asr__chk3_new(m, n);
  size_t i;
  if (!v || !g || c->np == 64) {
    m->failed = 1;
    return NULL;
  }
  asr__chk3_randn(rng, v, n, scale);
  for (i = 0; i < n; i++) v[i] += (asr_real)offset;
  c->name[c->np] = name, c->val[c->np] = v, c->grad[c->np] = g, c->n[c->np] = n, c->np++;
  *grad = g;
  return v;
}

ASR__PRIVATE asr_result asr__chk3_blk_run(int what, int fast, asr_rel_pos_type type, int training, int N,
                                          int T, uint64_t seed, asr_gradcheck_report *report) {
  asr__chk3_mem m;
  asr__chk3_blk c;
  asr_rng rng;
  asr_conformer_block_grads g;
  asr_gradcheck_param prm[66];
  int lens[64], b, D, F, H, K, dk, P, i, np = 0;
  size_t ntd, sb, bwb;
  asr_real *dx, *dpe = NULL, *mean0, *var0;
  void *bw;
  asr_result r;
  double sd;
  memset(report, 0, sizeof *report);
  if (N < 1 || N > 64 || T < 1) return ASR_ERR_INVALID_ARG;
  memset(&m, 0, sizeof m);
  memset(&c, 0, sizeof c);
  memset(&g, 0, sizeof g);
  asr_rng_seed(&rng, seed, 48);
  asr_conformer_config_init(&c.cfg, 8, 2, 12, 5);
  c.cfg.rel_pos = type;
  c.cfg.training = training;
  c.what = what, c.fast = fast, c.N = N, c.T = T;
  for (b = 0; b < N; b++) lens[b] = ASR__MAX(1, T - b);
  c.lengths = lens;
  D = c.cfg.d_model, F = c.cfg.ff_dim, H = c.cfg.heads, K = c.cfg.kernel, dk = D / H;
  P = asr_rel_pos_len(type, T);
  ntd = (size_t)N * T * D;
  sd = 1.0 / sqrt((double)D);
  /* the weights, at about nn.Linear's init scale */
  if (what != 1) {
    c.p.ff.w1 = asr__chk3_blk_param(&c, &m, &rng, "feed_forward.w_1.weight", (size_t)F * D, sd, 0, &g.ff.w1);
    c.p.ff.b1 = asr__chk3_blk_param(&c, &m, &rng, "feed_forward.w_1.bias", (size_t)F, 0.3, 0, &g.ff.b1);
    c.p.ff.w2 = asr__chk3_blk_param(&c, &m, &rng, "feed_forward.w_2.weight", (size_t)D * F, 1 / sqrt((double)F), 0, &g.ff.w2);
    c.p.ff.b2 = asr__chk3_blk_param(&c, &m, &rng, "feed_forward.w_2.bias", (size_t)D, 0.3, 0, &g.ff.b2);
  }
  if (what != 0) {
    c.p.conv.pw1_w = asr__chk3_blk_param(&c, &m, &rng, "conv_module.pointwise_conv1.weight", (size_t)2 * D * D, sd, 0, &g.conv.pw1_w);
    c.p.conv.pw1_b = asr__chk3_blk_param(&c, &m, &rng, "conv_module.pointwise_conv1.bias", (size_t)2 * D, 0.3, 0, &g.conv.pw1_b);
    c.p.conv.dw_w = asr__chk3_blk_param(&c, &m, &rng, "conv_module.depthwise_conv.weight", (size_t)D * K, 1 / sqrt((double)K), 0, &g.conv.dw_w);
    c.p.conv.dw_b = asr__chk3_blk_param(&c, &m, &rng, "conv_module.depthwise_conv.bias", (size_t)D, 0.3, 0, &g.conv.dw_b);
    c.p.conv.bn_w = asr__chk3_blk_param(&c, &m, &rng, "conv_module.norm.weight", (size_t)D, 0.2, 1, &g.conv.bn_w);
    c.p.conv.bn_b = asr__chk3_blk_param(&c, &m, &rng, "conv_module.norm.bias", (size_t)D, 0.2, 0, &g.conv.bn_b);
    c.p.conv.pw2_w = asr__chk3_blk_param(&c, &m, &rng, "conv_module.pointwise_conv2.weight", (size_t)D * D, sd, 0, &g.conv.pw2_w);
    c.p.conv.pw2_b = asr__chk3_blk_param(&c, &m, &rng, "conv_module.pointwise_conv2.bias", (size_t)D, 0.3, 0, &g.conv.pw2_b);
    /* running statistics: not parameters (no gradient) */
    c.p.conv.bn_mean = mean0 = asr__chk3_new(&m, (size_t)D);
    c.p.conv.bn_var = var0 = asr__chk3_new(&m, (size_t)D);
    if (mean0 && var0)
      for (i = 0; i < D; i++) mean0[i] = (asr_real)(0.2 * asr_rng_normal(&rng)), var0[i] = (asr_real)(0.5 + asr_rng_uniform(&rng));
  }
  if (what == 2) {
    static const char *lin[4][2] = {{"self_attn.linear_q.weight", "self_attn.linear_q.bias"},
                                    {"self_attn.linear_k.weight", "self_attn.linear_k.bias"},
                                    {"self_attn.linear_v.weight", "self_attn.linear_v.bias"},
                                    {"self_attn.linear_out.weight", "self_attn.linear_out.bias"}};
    static const char *norms[5][2] = {{"norm_ff_macaron.weight", "norm_ff_macaron.bias"},
                                      {"norm_mha.weight", "norm_mha.bias"}, {"norm_conv.weight", "norm_conv.bias"},
                                      {"norm_ff.weight", "norm_ff.bias"}, {"norm_final.weight", "norm_final.bias"}};
    const asr_real **mw[4], **mb[4];
    asr_real **gw[4], **gb[4];
    const asr_real **nw[5], **nb[5];
    mw[0] = &c.p.mhsa.wq, mw[1] = &c.p.mhsa.wk, mw[2] = &c.p.mhsa.wv, mw[3] = &c.p.mhsa.wo;
    mb[0] = &c.p.mhsa.bq, mb[1] = &c.p.mhsa.bk, mb[2] = &c.p.mhsa.bv, mb[3] = &c.p.mhsa.bo;
    gw[0] = &g.mhsa.wq, gw[1] = &g.mhsa.wk, gw[2] = &g.mhsa.wv, gw[3] = &g.mhsa.wo;
    gb[0] = &g.mhsa.bq, gb[1] = &g.mhsa.bk, gb[2] = &g.mhsa.bv, gb[3] = &g.mhsa.bo;
    for (i = 0; i < 4; i++) {
      *mw[i] = asr__chk3_blk_param(&c, &m, &rng, lin[i][0], (size_t)D * D, sd, 0, gw[i]);
      *mb[i] = asr__chk3_blk_param(&c, &m, &rng, lin[i][1], (size_t)D, 0.3, 0, gb[i]);
    }
    c.p.mhsa.wpos = asr__chk3_blk_param(&c, &m, &rng, "self_attn.linear_pos.weight", (size_t)D * D, sd, 0, &g.mhsa.wpos);
    c.p.mhsa.pos_bias_u = asr__chk3_blk_param(&c, &m, &rng, "self_attn.pos_bias_u", (size_t)H * dk, 0.3, 0, &g.mhsa.pos_bias_u);
    c.p.mhsa.pos_bias_v = asr__chk3_blk_param(&c, &m, &rng, "self_attn.pos_bias_v", (size_t)H * dk, 0.3, 0, &g.mhsa.pos_bias_v);
    c.p.ff_macaron.w1 = asr__chk3_blk_param(&c, &m, &rng, "feed_forward_macaron.w_1.weight", (size_t)F * D, sd, 0, &g.ff_macaron.w1);
    c.p.ff_macaron.b1 = asr__chk3_blk_param(&c, &m, &rng, "feed_forward_macaron.w_1.bias", (size_t)F, 0.3, 0, &g.ff_macaron.b1);
    c.p.ff_macaron.w2 = asr__chk3_blk_param(&c, &m, &rng, "feed_forward_macaron.w_2.weight", (size_t)D * F, 1 / sqrt((double)F), 0, &g.ff_macaron.w2);
    c.p.ff_macaron.b2 = asr__chk3_blk_param(&c, &m, &rng, "feed_forward_macaron.w_2.bias", (size_t)D, 0.3, 0, &g.ff_macaron.b2);
    nw[0] = &c.p.norm_ff_macaron.weight, nb[0] = &c.p.norm_ff_macaron.bias;
    nw[1] = &c.p.norm_mha.weight, nb[1] = &c.p.norm_mha.bias;
    nw[2] = &c.p.norm_conv.weight, nb[2] = &c.p.norm_conv.bias;
    nw[3] = &c.p.norm_ff.weight, nb[3] = &c.p.norm_ff.bias;
    nw[4] = &c.p.norm_final.weight, nb[4] = &c.p.norm_final.bias;
    for (i = 0; i < 5; i++) {
      *nw[i] = asr__chk3_blk_param(&c, &m, &rng, norms[i][0], (size_t)D, 0.2, 1, &g.norm_w[i]);
      *nb[i] = asr__chk3_blk_param(&c, &m, &rng, norms[i][1], (size_t)D, 0.2, 0, &g.norm_b[i]);
    }
  }
  c.x = asr__chk3_new(&m, ntd), dx = asr__chk3_new(&m, ntd);
  c.y = asr__chk3_new(&m, ntd), c.wy = asr__chk3_new(&m, ntd);
  if (what == 2) c.pe = asr__chk3_new(&m, (size_t)P * D), dpe = asr__chk3_new(&m, (size_t)P * D);
  if (what == 2) {
    sb = asr_conformer_block_saved_size(&c.cfg, N, T);
    c.wbytes = asr_conformer_block_forward_workspace_size(&c.cfg, N, T);
    bwb = asr_conformer_block_backward_workspace_size(&c.cfg, N, T);
  } else {
    sb = (what == 1 ? asr_conformer_conv_saved_size(N, T, D) : asr__rnn_bytes((size_t)N * T, (size_t)F, 2, 1));
    c.wbytes = asr_conformer_conv_workspace_size(N, T, D);
    bwb = what == 1 ? c.wbytes : asr_conformer_ff_workspace_size(N * T, F);
  }
  c.work = asr__chk3_bytes(&m, c.wbytes);
  bw = asr__chk3_bytes(&m, bwb);
  {
    asr_real *sbuf = (asr_real *)asr__chk3_bytes(&m, sb);
    if (m.failed) {
      asr__chk3_free(&m);
      return ASR_ERR_OUT_OF_MEMORY;
    }
    if (what == 2) r = asr_conformer_block_saved_init(&c.s, sbuf, sb, &c.cfg, N, T);
    else if (what == 1) r = asr_conformer_conv_saved_init(&c.s.conv, sbuf, sb, N, T, D);
    else c.s.ff.h = sbuf, c.s.ff.s = sbuf + (size_t)N * T * F, r = ASR_OK;
    if (r) {
      asr__chk3_free(&m);
      return r;
    }
  }
  asr__chk3_randn(&rng, c.x, ntd, 1);
  asr__chk3_randn(&rng, c.wy, ntd, 1);
  if (what == 2) asr_rel_pos_encoding(c.pe, T, D, type, 5000);
  asr__chk3_blk_f(&c);
  r = c.status;
  if (r >= 0) {
    if (what == 0)
      r = asr__conf_ff_backward(dx, &g.ff, c.wy, &c.s.ff, c.x, &c.p.ff, N * T, D, F, bw, bwb, fast);
    else if (what == 1)
      r = asr__conf_conv_backward(dx, &g.conv, c.wy, &c.s.conv, c.x, c.lengths, &c.p.conv, &c.cfg, N, T, bw, bwb,
                                  fast);
    else
      r = asr__conf_block_backward(dx, dpe, &g, c.wy, &c.s, c.x, c.pe, c.lengths, &c.p, &c.cfg, N, T, bw, bwb, fast);
  }
  if (r >= 0) {
    prm[np].name = "x", prm[np].x = c.x, prm[np].grad = dx, prm[np++].n = ntd;
    if (what == 2) prm[np].name = "pos_emb", prm[np].x = c.pe, prm[np].grad = dpe, prm[np++].n = (size_t)P * D;
    for (i = 0; i < c.np; i++)
      prm[np].name = c.name[i], prm[np].x = c.val[i], prm[np].grad = c.grad[i], prm[np++].n = c.n[i];
    r = asr_gradcheck(asr__chk3_blk_f, &c, prm, np, NULL, &rng, report);
    if (r >= 0 && c.status < 0) r = c.status;
  }
  asr__chk3_free(&m);
  return r;
}

ASRDEF asr_result asr_gradcheck_conformer_ff(int fast, uint64_t seed, asr_gradcheck_report *report) {
  return asr__chk3_blk_run(0, fast, ASR_REL_POS_LATEST, 0, 2, 3, seed, report);
}
ASRDEF asr_result asr_gradcheck_conformer_conv(int fast, int training, int N, int T, uint64_t seed,
                                               asr_gradcheck_report *report) {
  return asr__chk3_blk_run(1, fast, ASR_REL_POS_LATEST, training, N, T, seed, report);
}
ASRDEF asr_result asr_gradcheck_conformer_block(int fast, asr_rel_pos_type type, int training, int N,
                                                int T, uint64_t seed, asr_gradcheck_report *report) {
  return asr__chk3_blk_run(2, fast, type, training, N, T, seed, report);
}

/* ---------------------------------------------------------------------------------------
 * 10.4 CTC checkers (implementation)
 * --------------------------------------------------------------------------------------- */

/* The published cases. Numbers restated from ../shared/data/known_answers/
 * ctc_rnnt_known_answers.json (tests/test_ctc.c checks they are equal), which cites:
 *  - small: baidu-research/warp-ctc @ 94b2fa178347cf02757bdc7329dc2f1b46f5d094,
 *    tests/test_cpu.cpp small_test (Apache-2.0). T=2, V=5, blank 0, labels {1, 2}: the
 *    only path is (1, 2), so warp-ctc asserts exp(-loss) = softmax(a_0)_1 softmax(a_1)_2
 *    (eps 1e-6). The loss and gradient below were derived from that in float64 by the
 *    data's collector; warp-ctc itself publishes no gradient for this case.
 *  - options: warp-ctc tests/test_cpu.cpp options_test, gradients "from tensorflow";
 *    the same costs [3.34211, 5.42262] are in TensorFlow/Keras test_ctc_batch_cost.
 *    Time-major (T=5, N=2, V=6), blank 5, probabilities (logits = ln probs). cost[0] is
 *    analytic (one path), cost[1] TensorFlow's printed value. */
static const double asr__ctc_ka_small_act[10] = {
    0.1, 0.6, 0.1, 0.1, 0.1,
    0.1, 0.1, 0.6, 0.1, 0.1
};
static const double asr__ctc_ka_small_loss[1] = {
    2.462858391546743
};
static const double asr__ctc_ka_small_grad[10] = {
    0.177031, -0.708125, 0.177031, 0.177031, 0.177031,
    0.177031, 0.177031, -0.708125, 0.177031, 0.177031
};
static const int asr__ctc_ka_small_targets[2] = {1, 2};
static const int asr__ctc_ka_small_il[1] = {2};
static const int asr__ctc_ka_small_tl[1] = {2};
static const double asr__ctc_ka_opt_probs[60] = {
    0.633766, 0.221185, 0.0917319, 0.0129757, 0.0142857, 0.0260553,
    0.30176, 0.28562, 0.0831517, 0.0862751, 0.0816851, 0.161508,
    0.111121, 0.588392, 0.278779, 0.0055756, 0.00569609, 0.010436,
    0.24082, 0.397533, 0.0557226, 0.0546814, 0.0557528, 0.19549,
    0.0357786, 0.633813, 0.321418, 0.00249248, 0.00272882, 0.0037688,
    0.230246, 0.450868, 0.0389607, 0.038309, 0.0391602, 0.202456,
    0.0663296, 0.643849, 0.280111, 0.00283995, 0.0035545, 0.00331533,
    0.280884, 0.429522, 0.0326593, 0.0339046, 0.0326856, 0.190345,
    0.458235, 0.396634, 0.123377, 0.00648837, 0.00903441, 0.00623107,
    0.423286, 0.315517, 0.0338439, 0.0393744, 0.0339315, 0.154046
};
static const double asr__ctc_ka_opt_loss[2] = {
    3.3421125850984374, 5.42262
};
static const double asr__ctc_ka_opt_grad[60] = {
    -0.366234, 0.221185, 0.0917319, 0.0129757, 0.0142857, 0.0260553,
    -0.69824, 0.28562, 0.0831517, 0.0862751, 0.0816851, 0.161508,
    0.111121, -0.411608, 0.278779, 0.0055756, 0.00569609, 0.010436,
    0.24082, -0.602467, 0.0557226, 0.0546814, 0.0557528, 0.19549,
    0.0357786, 0.633813, -0.678582, 0.00249248, 0.00272882, 0.0037688,
    0.230246, 0.450868, 0.0389607, 0.038309, 0.0391602, -0.797544,
    0.0663296, -0.356151, 0.280111, 0.00283995, 0.0035545, 0.00331533,
    0.280884, -0.570478, 0.0326593, 0.0339046, 0.0326856, 0.190345,
    -0.541765, 0.396634, 0.123377, 0.00648837, 0.00903441, 0.00623107,
    -0.576714, 0.315517, 0.0338439, 0.0393744, 0.0339315, 0.154046
};
static const int asr__ctc_ka_opt_targets[10] = {0, 1, 2, 1, 0, 0, 1, 1, 0, -1};
static const int asr__ctc_ka_opt_il[2] = {5, 5};
static const int asr__ctc_ka_opt_tl[2] = {5, 4};

static const asr_ctc_known_answer asr__ctc_known[2] = {
  {"warp-ctc small_test",
   "baidu-research/warp-ctc @ 94b2fa17 tests/test_cpu.cpp small_test (Apache-2.0)",
   1, 2, 5, 2, 0, asr__ctc_ka_small_targets, asr__ctc_ka_small_il, asr__ctc_ka_small_tl,
   asr__ctc_ka_small_act, 0, 0, asr__ctc_ka_small_loss, asr__ctc_ka_small_grad, 1e-6, 1e-6,
   "published: exp(-loss) = softmax(a0)[1] softmax(a1)[2] (eps 1e-6); the loss (exact) and the "
   "gradient (6 decimals, so 1e-6) were derived from it in float64, not published"},
  {"warp-ctc options_test",
   "baidu-research/warp-ctc tests/test_cpu.cpp options_test, gradients from TensorFlow "
   "(costs also in TensorFlow/Keras test_ctc_batch_cost)",
   2, 5, 6, 5, 5, asr__ctc_ka_opt_targets, asr__ctc_ka_opt_il, asr__ctc_ka_opt_tl,
   asr__ctc_ka_opt_probs, 1, 1, asr__ctc_ka_opt_loss, asr__ctc_ka_opt_grad, 1e-5, 1e-5,
   "cost[1] is printed to 6 digits (5.42262: 5e-6); the gradients are TensorFlow's float32 "
   "results printed to 6 digits (<= 5e-7 each) and warp-ctc's test allows them 1e-4; 1e-5 "
   "here"},
};

ASRDEF const asr_ctc_known_answer *asr_ctc_known_answers(int *count) {
  if (count) *count = (int)(sizeof asr__ctc_known / sizeof asr__ctc_known[0]);
  return asr__ctc_known;
}

/* ---- asr_check_ctc */
#if ASR_REAL_DOUBLE
#define ASR__CTC_TOL 1e-10       /* both sides sum in double: 1e-10 leaves 1e4 ulp */
#define ASR__CTC_FD_TOL 1e-6     /* fourth-order differences with h = 1e-3 in double */
#else
#define ASR__CTC_TOL 1e-5        /* float outputs (6e-8) and the fast path's float exp/log */
#define ASR__CTC_FD_TOL 5e-2     /* central differences in float: 1e-3 is all they give */
#endif

typedef struct asr__ctc_chk {
  asr_ctc_loss_fn impl;
  int lp;                          /* 1: log-probability contract */
  asr_check_report *rep;
  int oom;
} asr__ctc_chk;

/* One batch through impl and a reference, compared. Returns 0, or -1 out of memory. */
ASR__PRIVATE void asr__ctc_chk_compare(asr__ctc_chk *c, const char *name, asr_ctc_loss_fn reference,
                                       const asr_real *x, const int *targets, const int *il,
                                       const int *tl, int N, int T, int V, int S, int blank,
                                       asr_reduction red, int zi, int allow_refuse) {
  size_t ntv = (size_t)N * T * V, nl = red == ASR_REDUCTION_NONE ? (size_t)N : 1, i;
  size_t wb = asr_ctc_loss_workspace_size(T, V, S);
  asr_real *la = ASR__ALLOC(asr_real, nl + 1, NULL), *lb = ASR__ALLOC(asr_real, nl + 1, NULL);
  asr_real *ga = ASR__ALLOC(asr_real, ntv + 1, NULL), *gb = ASR__ALLOC(asr_real, ntv + 1, NULL);
  void *work = ASR_MALLOC(wb, NULL);
  asr_result ra, rb;
  asr_error err;
  double el = 0, eg = 0;
  int ok;
  if (!la || !lb || !ga || !gb || !work) {
    c->oom = 1;
    goto done;
  }
  memset(ga, 0, sizeof(asr_real) * ntv);
  memset(gb, 0, sizeof(asr_real) * ntv);
  err.msg[0] = 0;
  ra = c->impl(la, ga, x, targets, il, tl, N, T, V, S, blank, red, zi, work, wb, &err);
  if (ra == ASR_ERR_TOO_LARGE && allow_refuse) {
    if (c->rep->log) {
      char line[300];
      snprintf(line, sizeof line, "[SKIP] %s: refused as too large (allowed)", name);
      c->rep->log(c->rep->log_user, line);
    }
    goto done;
  }
  rb = reference(lb, gb, x, targets, il, tl, N, T, V, S, blank, red, zi, work, wb, NULL);
  if (ra != rb) {
    asr__check_case(c->rep, 0, INFINITY, "%s: result %d (%s), the reference's %d %s", name, (int)ra,
                    ra < 0 ? err.msg : asr_result_string(ra), (int)rb, asr_result_string(rb));
    goto done;
  }
  for (i = 0; i < nl; i++) {
    double a = la[i], b = lb[i], e;
    if (a == b) continue;                              /* equal, infinities included */
    e = (a != a || b != b || !isfinite(a) || !isfinite(b)) ? INFINITY : fabs(a - b) / ASR__MAX(1.0, fabs(b));
    if (e > el) el = e;
  }
  for (i = 0; i < ntv; i++) {
    double e = fabs((double)ga[i] - (double)gb[i]);
    if (e != e) e = INFINITY;
    if (e > eg) eg = e;
  }
  ok = el <= ASR__CTC_TOL && eg <= ASR__CTC_TOL;
  asr__check_case(c->rep, ok, ASR__MAX(el, eg) / ASR__CTC_TOL, "%s: loss rel err %.2g, grad abs err %.2g (tol %.0g)",
                  name, el, eg, ASR__CTC_TOL);
done:
  ASR_FREE(la, NULL);
  ASR_FREE(lb, NULL);
  ASR_FREE(ga, NULL);
  ASR_FREE(gb, NULL);
  ASR_FREE(work, NULL);
}

/* Inputs of the check: logits, or log-probabilities (normalized for even items,
 * shifted for odd ones: the log-probability contract takes any values). */
ASR__PRIVATE void asr__ctc_chk_inputs(asr_real *x, int lp, asr_rng *rng, int N, int T, int V, double scale) {
  int n, t, k;
  for (n = 0; n < N; n++)
    for (t = 0; t < T; t++) {
      asr_real *row = x + ((size_t)n * T + t) * V;
      for (k = 0; k < V; k++) row[k] = (asr_real)(scale * asr_rng_normal(rng));
      if (lp) {
        asr_log_softmax(row, row, V);
        if (n & 1)
          for (k = 0; k < V; k++) row[k] = (asr_real)(row[k] + asr_rng_uniform(rng) - 0.5);
      }
    }
}

/* Every labelling of length 0..3 over the V-1 labels, for every T_n = 1..6, one batch. */
ASR__PRIVATE void asr__ctc_chk_tiny(asr__ctc_chk *c, asr_rng *rng, int V, int blank) {
  const int T = 6, S = 3;
  int labels[3], nlab = 0, N = 0, n, len, code, j, k, total = 0;
  int *targets, *il, *tl;
  asr_real *x;
  char name[96];
  for (k = 0; k < V; k++)
    if (k != blank) labels[nlab++] = k;
  for (len = 0, code = 1; len <= S; len++, code *= nlab) total += code;
  N = T * total;
  targets = ASR__ALLOC(int, (size_t)N * S, NULL);
  il = ASR__ALLOC(int, N, NULL);
  tl = ASR__ALLOC(int, N, NULL);
  x = ASR__ALLOC(asr_real, (size_t)N * T * V, NULL);
  if (!targets || !il || !tl || !x) {
    c->oom = 1;
    goto done;
  }
  n = 0;
  for (k = 1; k <= T; k++)
    for (len = 0; len <= S; len++) {
      int count = 1;
      for (j = 0; j < len; j++) count *= nlab;
      for (code = 0; code < count; code++, n++) {
        int rest = code;
        il[n] = k;
        tl[n] = len;
        for (j = 0; j < S; j++) {
          /* label j of this labelling; the padding holds an invalid label on purpose */
          targets[(size_t)n * S + j] = j < len ? labels[rest % nlab] : V + 7;
          if (j < len) rest /= nlab;
        }
      }
    }
  /* logits of mixed scales: flat (0.3) to peaked (4), frames past T_n included */
  for (n = 0; n < N; n++)
    asr__ctc_chk_inputs(x + (size_t)n * T * V, c->lp, rng, 1, T, V, n % 3 == 0 ? 0.3 : (n % 3 == 1 ? 1.5 : 4.0));
  {
    asr_ctc_loss_fn naive = c->lp ? asr_ctc_loss_logprobs_naive : asr_ctc_loss_naive;
    snprintf(name, sizeof name, "tiny/V%d blank %d: %d items, none", V, blank, N);
    asr__ctc_chk_compare(c, name, naive, x, targets, il, tl, N, T, V, S, blank, ASR_REDUCTION_NONE, 0, 0);
    snprintf(name, sizeof name, "tiny/V%d blank %d: none, zero_infinity", V, blank);
    asr__ctc_chk_compare(c, name, naive, x, targets, il, tl, N, T, V, S, blank, ASR_REDUCTION_NONE, 1, 0);
    snprintf(name, sizeof name, "tiny/V%d blank %d: sum", V, blank);
    asr__ctc_chk_compare(c, name, naive, x, targets, il, tl, N, T, V, S, blank, ASR_REDUCTION_SUM, 0, 0);
    snprintf(name, sizeof name, "tiny/V%d blank %d: mean, zero_infinity", V, blank);
    asr__ctc_chk_compare(c, name, naive, x, targets, il, tl, N, T, V, S, blank, ASR_REDUCTION_MEAN, 1, 0);
  }
done:
  ASR_FREE(targets, NULL);
  ASR_FREE(il, NULL);
  ASR_FREE(tl, NULL);
  ASR_FREE(x, NULL);
}

/* A random ragged batch: labels from a small pool (so repeats happen), some items
 * infeasible when `infeasible`. */
ASR__PRIVATE void asr__ctc_chk_random(asr__ctc_chk *c, asr_rng *rng, const char *name, int N, int T,
                                      int V, int S, int blank, asr_reduction red, int zi,
                                      double scale, double blank_bias) {
  int *targets = ASR__ALLOC(int, (size_t)N * S + 1, NULL), *il = ASR__ALLOC(int, N, NULL);
  int *tl = ASR__ALLOC(int, N, NULL), n, j, t;
  asr_real *x = ASR__ALLOC(asr_real, (size_t)N * T * V + 1, NULL);
  if (!targets || !il || !tl || !x) {
    c->oom = 1;
    goto done;
  }
  asr__ctc_chk_inputs(x, c->lp, rng, N, T, V, scale);
  for (n = 0; n < N; n++) {
    int pool[3];
    for (j = 0; j < 3; j++) {
      pool[j] = asr_rng_int(rng, V - 1);
      if (pool[j] >= blank) pool[j]++;            /* any label but the blank */
    }
    il[n] = n == 0 ? T : 1 + asr_rng_int(rng, T);
    tl[n] = n == 0 ? S : asr_rng_int(rng, S + 1);
    for (j = 0; j < S; j++) targets[(size_t)n * S + j] = j < tl[n] ? pool[asr_rng_int(rng, 3)] : -5;
    for (t = 0; t < il[n] && blank_bias != 0; t++) x[((size_t)n * T + t) * V + blank] += (asr_real)blank_bias;
  }
  asr__ctc_chk_compare(c, name, c->lp ? asr_ctc_loss_logprobs_ref : asr_ctc_loss_ref, x, targets, il, tl, N, T,
                       V, S, blank, red, zi, 1);
done:
  ASR_FREE(targets, NULL);
  ASR_FREE(il, NULL);
  ASR_FREE(tl, NULL);
  ASR_FREE(x, NULL);
}

/* Finite differences of the reduced loss. */
typedef struct asr__ctc_fd {
  asr_ctc_loss_fn impl;
  asr_real *x, loss[4];
  const int *targets, *il, *tl;
  int N, T, V, S, blank;
  asr_reduction red;
  void *work;
  size_t wb;
} asr__ctc_fd;
ASR__PRIVATE double asr__ctc_fd_f(void *v) {
  asr__ctc_fd *f = (asr__ctc_fd *)v;
  int n;
  double s = 0;
  f->impl(f->loss, NULL, f->x, f->targets, f->il, f->tl, f->N, f->T, f->V, f->S, f->blank, f->red, 0,
          f->work, f->wb, NULL);
  if (f->red != ASR_REDUCTION_NONE) return f->loss[0];
  for (n = 0; n < f->N; n++) s += f->loss[n];       /* none: the gradient is of the sum */
  return s;
}
ASR__PRIVATE void asr__ctc_chk_gradcheck(asr__ctc_chk *c, asr_rng *rng, asr_reduction red) {
  static const int targets[6] = {1, 1, 2, 2, 0, 0}, il[2] = {5, 4}, tl[2] = {3, 1};
  asr_real x[2 * 5 * 4], grad[2 * 5 * 4];
  asr__ctc_fd f;
  asr_gradcheck_param p;
  asr_gradcheck_report gr;
  asr_gradcheck_opts o;
  asr_result r;
  int i;
  f.impl = c->impl;
  f.x = x;
  f.targets = targets;
  f.il = il;
  f.tl = tl;
  f.N = 2;
  f.T = 5;
  f.V = 4;
  f.S = 3;
  f.blank = 3;
  f.red = red;
  f.wb = asr_ctc_loss_workspace_size(5, 4, 3);
  f.work = ASR_MALLOC(f.wb, NULL);
  if (!f.work) {
    c->oom = 1;
    return;
  }
  asr__ctc_chk_inputs(x, c->lp, rng, 2, 5, 4, 1.5);
  for (i = 0; i < 40; i++) grad[i] = 0;
  r = c->impl(f.loss, grad, x, targets, il, tl, 2, 5, 4, 3, 3, red, 0, f.work, f.wb, NULL);
  if (r != ASR_OK) {
    asr__check_case(c->rep, 0, INFINITY, "gradcheck/%s: the loss returned %d", asr_reduction_name(red), (int)r);
  } else {
    memset(&o, 0, sizeof o);
    o.max_elements = 40;                      /* every element */
    p.name = c->lp ? "logprobs" : "logits";
    p.x = x;
    p.grad = grad;
    p.n = 40;
    r = asr_gradcheck(asr__ctc_fd_f, &f, &p, 1, &o, rng, &gr);
    if (r != ASR_OK) c->oom = 1;
    else
      asr__check_case(c->rep, gr.max_rel_err <= ASR__CTC_FD_TOL, gr.max_rel_err / ASR__CTC_FD_TOL,
                      "gradcheck/%s: max rel err %.2g over %d elements (tol %.0g)", asr_reduction_name(red),
                      gr.max_rel_err, gr.checks, ASR__CTC_FD_TOL);
  }
  ASR_FREE(f.work, NULL);
}

/* The published cases, in the impl's contract. */
ASR__PRIVATE void asr__ctc_chk_known(asr__ctc_chk *c, const asr_ctc_known_answer *ka) {
  size_t ntv = (size_t)ka->N * ka->T * ka->V, wb = asr_ctc_loss_workspace_size(ka->T, ka->V, ka->S);
  asr_real *x = ASR__ALLOC(asr_real, ntv, NULL), *g = ASR__ALLOC(asr_real, ntv, NULL), loss[8];
  double *u = ASR__ALLOC(double, ntv, NULL), el = 0, eg = 0;
  void *work = ASR_MALLOC(wb, NULL);
  int n, t, k;
  asr_result r;
  if (!x || !g || !u || !work) {
    c->oom = 1;
    goto done;
  }
  /* batch-first logits u (double), then the impl's input */
  for (n = 0; n < ka->N; n++)
    for (t = 0; t < ka->T; t++)
      for (k = 0; k < ka->V; k++) {
        size_t src = ka->time_major ? ((size_t)t * ka->N + n) * ka->V + k : ((size_t)n * ka->T + t) * ka->V + k;
        double a = ka->activations[src];
        u[((size_t)n * ka->T + t) * ka->V + k] = ka->probs ? log(a) : a;
      }
  for (n = 0; n < ka->N * ka->T; n++) {
    double *row = u + (size_t)n * ka->V, m = row[0], s = 0;
    for (k = 1; k < ka->V; k++) m = ASR__MAX(m, row[k]);
    for (k = 0; k < ka->V; k++) s += exp(row[k] - m);
    for (k = 0; k < ka->V; k++) {
      /* log-probability contract: z = log_softmax(u), expected grad = grad_u - softmax(u) */
      x[(size_t)n * ka->V + k] = (asr_real)(c->lp ? row[k] - m - log(s) : row[k]);
      g[(size_t)n * ka->V + k] = 0;
    }
  }
  r = c->impl(loss, g, x, ka->targets, ka->input_lengths, ka->target_lengths, ka->N, ka->T, ka->V, ka->S,
              ka->blank, ASR_REDUCTION_NONE, 0, work, wb, NULL);
  if (r != ASR_OK) {
    asr__check_case(c->rep, 0, INFINITY, "known/%s: returned %d (%s)", ka->name, (int)r, asr_result_string(r));
    goto done;
  }
  for (n = 0; n < ka->N; n++) el = ASR__MAX(el, fabs(loss[n] - ka->expected_loss[n]));
  if (ka->expected_grad) {
    for (n = 0; n < ka->N; n++)
      for (t = 0; t < ka->T; t++) {
        const double *row = u + ((size_t)n * ka->T + t) * ka->V;
        double m = row[0], s = 0;
        for (k = 1; k < ka->V; k++) m = ASR__MAX(m, row[k]);
        for (k = 0; k < ka->V; k++) s += exp(row[k] - m);
        for (k = 0; k < ka->V; k++) {
          size_t src = ka->time_major ? ((size_t)t * ka->N + n) * ka->V + k : ((size_t)n * ka->T + t) * ka->V + k;
          double want = ka->expected_grad[src] - (c->lp ? exp(row[k] - m) / s : 0.0);
          double e = fabs(g[((size_t)n * ka->T + t) * ka->V + k] - want);
          eg = e > eg || e != e ? e : eg;
        }
      }
  }
  asr__check_case(c->rep, el <= ka->loss_tol && eg <= ka->grad_tol,
                  ASR__MAX(el / ka->loss_tol, eg / ka->grad_tol),
                  "known/%s: loss err %.2g (tol %.0g), grad err %.2g (tol %.0g)", ka->name, el, ka->loss_tol, eg,
                  ka->grad_tol);
done:
  ASR_FREE(x, NULL);
  ASR_FREE(g, NULL);
  ASR_FREE(u, NULL);
  ASR_FREE(work, NULL);
}

/* Infeasible items: inf (or 0), zero gradient, ASR_INFEASIBLE, the rest unaffected. */
ASR__PRIVATE void asr__ctc_chk_infeasible(asr__ctc_chk *c, asr_rng *rng) {
  /* item 1 has T = 2 frames for [1, 1], which needs 3 */
  static const int targets[9] = {1, 2, 0, 1, 1, 0, 2, 0, 0}, il[3] = {4, 2, 4}, tl[3] = {2, 2, 1};
  static const int t2[6] = {1, 2, 0, 2, 0, 0}, il2[2] = {4, 4}, tl2[2] = {2, 1};
  asr_real x[3 * 4 * 4], x2[2 * 4 * 4], g[3 * 4 * 4], g2[2 * 4 * 4], loss[3], loss2[2];
  size_t wb = asr_ctc_loss_workspace_size(4, 4, 3);
  void *work = ASR_MALLOC(wb, NULL);
  int i, zi, ok;
  asr_result r, r2;
  if (!work) {
    c->oom = 1;
    return;
  }
  asr__ctc_chk_inputs(x, c->lp, rng, 3, 4, 4, 1.0);
  memcpy(x2, x, sizeof(asr_real) * 16);
  memcpy(x2 + 16, x + 32, sizeof(asr_real) * 16);
  for (zi = 0; zi <= 1; zi++) {
    double worst = 0;
    for (i = 0; i < 48; i++) g[i] = 0;
    for (i = 0; i < 32; i++) g2[i] = 0;
    r = c->impl(loss, g, x, targets, il, tl, 3, 4, 4, 3, 0, ASR_REDUCTION_NONE, zi, work, wb, NULL);
    r2 = c->impl(loss2, g2, x2, t2, il2, tl2, 2, 4, 4, 3, 0, ASR_REDUCTION_NONE, zi, work, wb, NULL);
    ok = r == ASR_INFEASIBLE && r2 == ASR_OK && loss[1] == (zi ? 0 : INFINITY) && loss[0] == loss2[0] &&
         loss[2] == loss2[1];
    for (i = 0; i < 16; i++) {
      ok = ok && g[16 + i] == 0;                        /* exactly zero, never NaN */
      worst = ASR__MAX(worst, fabs(g[i] - g2[i]));
      worst = ASR__MAX(worst, fabs(g[32 + i] - g2[16 + i]));
    }
    ok = ok && worst == 0;
    asr__check_case(c->rep, ok, ok ? 0 : INFINITY,
                    "infeasible%s: result %d, loss %g, zero gradient, other items unchanged: %s",
                    zi ? " (zero_infinity)" : "", (int)r, (double)loss[1], ok ? "yes" : "NO");
  }
  /* reduced: inf (sum) or finite with zero_infinity (mean) */
  r = c->impl(loss, NULL, x, targets, il, tl, 3, 4, 4, 3, 0, ASR_REDUCTION_SUM, 0, work, wb, NULL);
  ok = r == ASR_INFEASIBLE && loss[0] == INFINITY;
  r = c->impl(loss, NULL, x, targets, il, tl, 3, 4, 4, 3, 0, ASR_REDUCTION_MEAN, 1, work, wb, NULL);
  ok = ok && r == ASR_INFEASIBLE && isfinite(loss[0]);
  asr__check_case(c->rep, ok, ok ? 0 : INFINITY, "infeasible/reduced: sum is inf, mean with zero_infinity finite");
  ASR_FREE(work, NULL);
}

/* Each invalid argument: a negative result, and the outputs untouched. */
ASR__PRIVATE void asr__ctc_chk_badinput(asr__ctc_chk *c, asr_rng *rng) {
  int targets[6] = {1, 2, 1, 1, 0, 0}, il[2] = {4, 3}, tl[2] = {3, 1};
  asr_real x[2 * 4 * 3], g[24], loss[2];
  size_t wb = asr_ctc_loss_workspace_size(4, 3, 3);
  void *work = ASR_MALLOC(wb + 64, NULL);
  int kase;
  if (!work) {
    c->oom = 1;
    return;
  }
  asr__ctc_chk_inputs(x, c->lp, rng, 2, 4, 3, 1.0);
  for (kase = 0; kase < 14; kase++) {
    static const char *what[14] = {
        "label = V", "label < 0", "label = blank", "input length < 0", "target length < 0",
        "target length > S", "input length > T", "NaN input", "+inf input", "-inf logit",
        "blank = V", "unknown reduction", "N < 0", "workspace one byte short"};
    int bad_t[6], bad_il[2], bad_tl[2], N = 2, blank = 0, i, untouched;
    asr_reduction red = ASR_REDUCTION_NONE;
    asr_real bx[24];
    size_t bwb = wb;
    asr_result r;
    memcpy(bad_t, targets, sizeof bad_t);
    memcpy(bad_il, il, sizeof bad_il);
    memcpy(bad_tl, tl, sizeof bad_tl);
    memcpy(bx, x, sizeof bx);
    switch (kase) {
      case 0: bad_t[1] = 3; break;
      case 1: bad_t[3] = -1; break;
      case 2: bad_t[0] = 0; break;
      case 3: bad_il[1] = -1; break;
      case 4: bad_tl[1] = -2; break;
      case 5: bad_tl[0] = 4; break;
      case 6: bad_il[0] = 5; break;
      case 7: bx[13] = (asr_real)NAN; break;
      case 8: bx[2] = (asr_real)INFINITY; break;
      case 9: bx[5] = (asr_real)-INFINITY; break;
      case 10: blank = 3; break;
      case 11: red = (asr_reduction)7; break;
      case 12: N = -1; break;
      case 13: bwb = wb - 1; break;
    }
    if (kase == 9 && c->lp) continue;          /* -inf is a valid log-probability */
    for (i = 0; i < 24; i++) g[i] = 12345;
    loss[0] = loss[1] = 12345;
    r = c->impl(loss, g, bx, bad_t, bad_il, bad_tl, N, 4, 3, 3, blank, red, 0, work, bwb, NULL);
    untouched = loss[0] == 12345 && loss[1] == 12345;
    for (i = 0; i < 24; i++) untouched = untouched && g[i] == 12345;
    asr__check_case(c->rep, r < 0 && untouched, r < 0 && untouched ? 0 : INFINITY,
                    "badinput/%s: result %d, outputs %s", what[kase], (int)r, untouched ? "untouched" : "WRITTEN");
  }
  ASR_FREE(work, NULL);
}

ASRDEF asr_result asr_check_ctc(asr_ctc_loss_fn impl, int logprobs_contract, uint64_t seed,
                                asr_check_report *report) {
  asr__ctc_chk c;
  asr_rng rng;
  int V, i, count;
  const asr_ctc_known_answer *ka = asr_ctc_known_answers(&count);
  c.impl = impl;
  c.lp = logprobs_contract ? 1 : 0;
  c.rep = report;
  c.oom = 0;
  report->passed = report->failed = 0;
  report->worst = 0;
  report->first_failure[0] = 0;
  asr_rng_seed(&rng, seed, 4);
  for (V = 2; V <= 4; V++) {
    asr__ctc_chk_tiny(&c, &rng, V, 0);
    asr__ctc_chk_tiny(&c, &rng, V, V - 1);
  }
  for (i = 0; i < 9; i++) {
    char name[96];
    int N = 1 + asr_rng_int(&rng, 5), T = 1 + asr_rng_int(&rng, 60), V2 = 2 + asr_rng_int(&rng, 11);
    int S = asr_rng_int(&rng, 13), blank = asr_rng_int(&rng, V2);
    asr_reduction red = (asr_reduction)(i % 3);
    snprintf(name, sizeof name, "random/N%d T%d V%d S%d blank %d %s%s", N, T, V2, S, blank,
             asr_reduction_name(red), i % 2 ? " zero_infinity" : "");
    asr__ctc_chk_random(&c, &rng, name, N, T, V2, S, blank, red, i % 2, 0.5 + i * 0.5, 0);
  }
  /* long, and blank-dominated: the states far along l' lag the all-blank state by
   * e^-1000s, so anything but log space loses them */
  asr__ctc_chk_random(&c, &rng, "long/T2000 S60, blank-dominated", 2, 2000, 8, 60, 0, ASR_REDUCTION_SUM, 0,
                      2.0, 6.0);
  asr__ctc_chk_gradcheck(&c, &rng, ASR_REDUCTION_NONE);
  asr__ctc_chk_gradcheck(&c, &rng, ASR_REDUCTION_SUM);
  asr__ctc_chk_gradcheck(&c, &rng, ASR_REDUCTION_MEAN);
  for (i = 0; i < count; i++) asr__ctc_chk_known(&c, &ka[i]);
  asr__ctc_chk_infeasible(&c, &rng);
  asr__ctc_chk_badinput(&c, &rng);
  return c.oom ? ASR_ERR_OUT_OF_MEMORY : ASR_OK;
}
#undef ASR__CTC_TOL
#undef ASR__CTC_FD_TOL

/* ---------------------------------------------------------------------------------------
 * 10.5 RNN-T checkers (implementation)
 * --------------------------------------------------------------------------------------- */

/* The published cases (see asr_rnnt_known_case). Numbers restated from the cited tests.
 * Tolerances: the gradients are printed to 6-8 decimals (half a unit of the 6th: 5e-7),
 * computed upstream in float32; 1e-6 covers both. */
static const double asr__rnnt_ka_small_logits[30] = {
  0.1, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.6, 0.1, 0.1, 0.1, 0.1, 0.2, 0.8, 0.1, 0.1, 0.6, 0.1,
  0.1, 0.1, 0.1, 0.1, 0.2, 0.1, 0.1, 0.7, 0.1, 0.2, 0.1, 0.1};
static const double asr__rnnt_ka_small_cost0[1] = {
  4.495666};
static const double asr__rnnt_ka_small_grad0[30] = {
  -0.13116688, -0.3999269, 0.17703125, 0.17703125, 0.17703125, -0.18572757, 0.12247056,
  -0.18168412, 0.12247056, 0.12247056, -0.32091254, 0.06269141, 0.06928472, 0.12624499,
  0.06269141, 0.05456069, -0.21824276, 0.05456069, 0.05456069, 0.05456069, 0.12073959,
  0.12073959, -0.48295835, 0.12073959, 0.12073959, -0.6925882, 0.16871116, 0.18645467,
  0.16871116, 0.16871116};
static const double asr__rnnt_ka_small_cost4[1] = {
  5.09566688538};
static const double asr__rnnt_ka_small_grad4[30] = {
  0.17703132, -0.39992708, 0.17703132, 0.17703132, -0.13116692, 0.12247062, 0.12247062,
  -0.181684, 0.12247062, -0.1857276, 0.06269141, 0.06269141, 0.06928471, 0.12624498,
  -0.32091248, 0.05456069, -0.2182428, 0.05456069, 0.05456069, 0.05456069, 0.12073967,
  0.12073967, -0.48295838, 0.12073967, 0.12073967, 0.30741188, 0.16871123, 0.18645471,
  0.16871123, -0.83128875};
static const double asr__rnnt_ka_b2_logits[72] = {
  0.065357, 0.78753, 0.081592, 0.529716, 0.750675, 0.754135, 0.609764, 0.86814, 0.622532,
  0.668522, 0.858039, 0.164539, 0.98978, 0.944298, 0.603168, 0.946783, 0.666203, 0.286882,
  0.094184, 0.366674, 0.736168, 0.16668, 0.714154, 0.3994, 0.535982, 0.291821, 0.612642,
  0.324241, 0.800764, 0.524106, 0.779195, 0.183314, 0.113745, 0.240222, 0.33947, 0.13416,
  0.505562, 0.051597, 0.64029, 0.430733, 0.829473, 0.177467, 0.3207, 0.042883, 0.302803,
  0.675178, 0.569537, 0.558474, 0.083132, 0.060165, 0.107958, 0.748615, 0.943918, 0.486356,
  0.418199, 0.652408, 0.024243, 0.134582, 0.366342, 0.29583, 0.92367, 0.689929, 0.741898,
  0.250005, 0.60343, 0.987289, 0.592606, 0.884672, 0.54345, 0.66077, 0.377128, 0.358021};
static const double asr__rnnt_ka_b2_cost[2] = {
  4.280652859089074, 3.938436982250359};
static const double asr__rnnt_ka_b2_grad[72] = {
  -0.186844, -0.062555, 0.249399, -0.203377, 0.202399, 0.000977, -0.141016, 0.079123, 0.061893,
  -0.011552, -0.08128, 0.092832, -0.154257, 0.229433, -0.075176, -0.246593, 0.146405, 0.100188,
  -0.012918, -0.061593, 0.074512, -0.055986, 0.219831, -0.163845, -0.497627, 0.20924, 0.288387,
  0.013605, -0.03022, 0.016615, 0.113925, 0.062781, -0.176706, -0.667078, 0.367659, 0.299419,
  -0.356344, -0.055347, 0.411691, -0.096922, 0.029459, 0.067463, -0.063518, 0.027654, 0.035863,
  -0.154499, -0.073942, 0.228441, -0.16679, -8.8e-05, 0.166878, -0.17237, 0.105565, 0.066804,
  0.023875, -0.118256, 0.094381, -0.104707, -0.108934, 0.213642, -0.369844, 0.180118, 0.189726,
  0.025714, -0.079462, 0.053748, 0.122328, -0.238789, 0.11646, -0.598687, 0.302203, 0.296484};
static const double asr__rnnt_ka_b2_grad_lp[72] = {
  -0.432226, -0.567774, 0.0, -0.36565, 0.0, -0.202123, -0.202123, 0.0, 0.0, -0.165217,
  -0.26701, 0.0, -0.394365, 0.0, -0.238294, -0.440418, 0.0, 0.0, -0.05213, -0.113087, 0.0,
  -0.183138, 0.0, -0.324314, -0.764732, 0.0, 0.0, 0.0, -0.05213, 0.0, 0.0, 0.0, -0.235268,
  -1.0, 0.0, 0.0, -0.716142, -0.283858, 0.0, -0.183829, -0.100028, 0.0, -0.100028, 0.0, 0.0,
  -0.411218, -0.304924, 0.0, -0.329576, -0.159178, 0.0, -0.259206, 0.0, 0.0, -0.116076,
  -0.295142, 0.0, -0.286533, -0.338184, 0.0, -0.59739, 0.0, 0.0, 0.0, -0.116076, 0.0, 0.0,
  -0.40261, 0.0, -1.0, 0.0, 0.0};
static const double asr__rnnt_ka_awni_f[10] = {
  0.1, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.1, 0.1};
static const double asr__rnnt_ka_awni_g[15] = {
  0.1, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.6, 0.1, 0.1, 0.1, 0.1, 0.2, 0.8, 0.1};
static const double asr__rnnt_ka_awni_cost[1] = {
  4.843925};
static const double asr__rnnt_ka_awni_df[10] = {
  -0.6884234547615051, -0.05528555065393448, 0.0728120282292366, 0.3593204915523529,
  0.3115764856338501, -0.6753658056259155, 0.08346927165985107, -0.21995842456817627,
  0.48722079396247864, 0.3246341943740845};
static const double asr__rnnt_ka_awni_dg[15] = {
  -0.07572315633296967, -0.5175057649612427, 0.2010551244020462, 0.19608692824840546,
  0.19608692824840546, -0.1768123358488083, 0.30765989422798157, -0.5961406826972961,
  0.23264653980731964, 0.23264653980731964, -1.1112537384033203, 0.2380295693874359,
  0.24793916940689087, 0.41780781745910645, 0.20747721195220947};
static const int asr__rnnt_ka_small_targets[2] = {1, 2};
static const int asr__rnnt_ka_small_T[1] = {2};
static const int asr__rnnt_ka_small_U[1] = {2};
static const int asr__rnnt_ka_b2_targets[4] = {1, 2, 1, 1};
static const int asr__rnnt_ka_b2_T[2] = {4, 4};
static const int asr__rnnt_ka_b2_U[2] = {2, 2};

static const asr_rnnt_known_case asr__rnnt_known[4] = {
  {"rnnt_small_blank0",
   "HawkAaron/warp-transducer @ f546575, pytorch_binding/test/test.py small_test (cost also in "
   "tests/test_cpu.cpp small_test); Apache-2.0",
   1, 2, 2, 5, 0, asr__rnnt_ka_small_targets, asr__rnnt_ka_small_T, asr__rnnt_ka_small_U,
   asr__rnnt_ka_small_logits, NULL, NULL, asr__rnnt_ka_small_cost0, asr__rnnt_ka_small_grad0, NULL,
   NULL, NULL, 2e-6, 1e-6},   /* cost: 6 decimals of a float32 run (a float64 evaluation differs
                                 by 7.7e-7) + asr_real rounding (2.4e-7 in float) */
  {"rnnt_small_blankLast",
   "pytorch/audio test/torchaudio_unittest/common_utils/rnnt_utils.py get_B1_T2_U3_D5_data "
   "(blank = -1, i.e. 4); BSD-2-Clause",
   1, 2, 2, 5, 4, asr__rnnt_ka_small_targets, asr__rnnt_ka_small_T, asr__rnnt_ka_small_U,
   asr__rnnt_ka_small_logits, NULL, NULL, asr__rnnt_ka_small_cost4, asr__rnnt_ka_small_grad4, NULL,
   NULL, NULL, 1e-6, 1e-6},
  {"rnnt_big_B2_T4_U3_V3_blank0",
   "pytorch/audio rnnt_utils.py get_B2_T4_U3_D3_data (grad_logits, 6 d.p.); the same case is "
   "HawkAaron/warp-transducer tests/test_cpu.cpp options_test (grad_logprobs); BSD-2-Clause / Apache-2.0",
   2, 4, 2, 3, 0, asr__rnnt_ka_b2_targets, asr__rnnt_ka_b2_T, asr__rnnt_ka_b2_U, asr__rnnt_ka_b2_logits,
   NULL, NULL, asr__rnnt_ka_b2_cost, asr__rnnt_ka_b2_grad, asr__rnnt_ka_b2_grad_lp, NULL, NULL, 1e-6, 1e-6},
  {"rnnt_awni_factored_small",
   "awni/transducer @ e90c6f4, transducer/test.cpp smallTest (logits[t][u] = emissions[t] + "
   "predictions[u]); Apache-2.0",
   1, 2, 2, 5, 0, asr__rnnt_ka_small_targets, asr__rnnt_ka_small_T, asr__rnnt_ka_small_U, NULL,
   asr__rnnt_ka_awni_f, asr__rnnt_ka_awni_g, asr__rnnt_ka_awni_cost, NULL, NULL, asr__rnnt_ka_awni_df,
   asr__rnnt_ka_awni_dg, 1e-6, 1e-6},
};

ASRDEF const asr_rnnt_known_case *asr_rnnt_known_cases(int *count) {
  if (count) *count = (int)(sizeof asr__rnnt_known / sizeof asr__rnnt_known[0]);
  return asr__rnnt_known;
}

/* ---- the checker */
typedef struct asr__rnnt_fd_ctx {
  asr_rnnt_loss_fn impl;
  const int *targets, *Tl, *Ul;
  int N, T, U, V;
  asr_rnnt_opts opts;
  asr_real *logits, loss[64];
  void *work;
  size_t work_bytes;
} asr__rnnt_fd_ctx;

ASR__PRIVATE double asr__rnnt_fd_objective(void *vctx) {
  asr__rnnt_fd_ctx *c = (asr__rnnt_fd_ctx *)vctx;
  if (c->impl(c->loss, NULL, c->logits, c->targets, c->Tl, c->Ul, c->N, c->T, c->U, c->V, &c->opts, c->work,
              c->work_bytes, NULL) != ASR_OK)
    return NAN;
  return c->loss[0];
}

/* Compares impl with a reference function on one batch. Returns the worst error: relative
 * (to max(1,|loss|)) on the losses, absolute on the gradient; and checks that impl writes 0
 * into every padded gradient entry (the buffer is filled with NaN first). */
ASR__PRIVATE double asr__rnnt_compare(asr_rnnt_loss_fn impl, asr_rnnt_loss_fn ref, const asr_real *logits,
                                      const int *targets, const int *Tl, const int *Ul, int N, int T, int U,
                                      int V, const asr_rnnt_opts *o, asr_real *g1, asr_real *g2, void *work,
                                      size_t wb, int *status) {
  asr_real l1[64], l2[64];
  size_t n = (size_t)N * T * (U + 1) * V, i;
  double worst = 0;
  int nl = o->reduction == ASR_REDUCTION_NONE ? N : 1, b;
  asr_result r1, r2;
  for (i = 0; i < n; i++) g1[i] = (asr_real)NAN;
  r1 = impl(l1, g1, logits, targets, Tl, Ul, N, T, U, V, o, work, wb, NULL);
  r2 = ref(l2, g2, logits, targets, Tl, Ul, N, T, U, V, o, work, wb, NULL);
  *status = r1 != ASR_OK ? (int)r1 : (int)r2;
  if (r1 != ASR_OK || r2 != ASR_OK) return INFINITY;
  for (b = 0; b < nl; b++) {
    double e = fabs((double)l1[b] - l2[b]) / ASR__MAX(1.0, fabs((double)l2[b]));
    if (e > worst || e != e) worst = e;
  }
  for (i = 0; i < n; i++) {
    double e = fabs((double)g1[i] - g2[i]);
    if (e > worst || e != e) worst = e;
  }
  return worst;
}

ASRDEF asr_result asr_check_rnnt(asr_rnnt_loss_fn impl, uint64_t seed, asr_check_report *rep) {
  /* sizes: tiny lattices up to T=4, U=3, V=5; random batches N=4, T<=7, U<=4, V<=21
   * (V >= 8 reaches the 8-lane SIMD loops, V = 8k+r their scalar tails) */
  enum { MAXN = 4, MAXT = 7, MAXU = 4, MAXV = 21 };
  const double tol = ASR_REAL_DOUBLE ? 1e-10 : 1e-5;
  const size_t cap = (size_t)MAXN * MAXT * (MAXU + 1) * MAXV;
  size_t wb = asr_rnnt_loss_workspace_size(MAXT, MAXU, MAXV);
  asr_real *logits = ASR__ALLOC(asr_real, cap, NULL), *g1 = ASR__ALLOC(asr_real, cap, NULL);
  asr_real *g2 = ASR__ALLOC(asr_real, cap, NULL);
  void *work = ASR_MALLOC(wb, NULL);
  asr_rng rng;
  int targets[MAXN * MAXU], Tl[MAXN], Ul[MAXN], T, U, V, b, i, status, c, nk;
  size_t n;
  const asr_rnnt_known_case *ka = asr_rnnt_known_cases(&nk);
  if (!logits || !g1 || !g2 || !work) {
    ASR_FREE(logits, NULL), ASR_FREE(g1, NULL), ASR_FREE(g2, NULL), ASR_FREE(work, NULL);
    return ASR_ERR_OUT_OF_MEMORY;
  }
  asr_rng_seed(&rng, seed, 0x5254);
  /* 1. every tiny lattice against the sum over alignments */
  for (T = 1; T <= 4; T++)
    for (U = 0; U <= 3; U++) {
      double worst = 0;
      int bad = 0, pass;
      for (pass = 0; pass < 2; pass++) {           /* blank first, then blank last */
        asr_rnnt_opts o = asr_rnnt_default_opts();
        V = 5;
        o.blank = pass ? V - 1 : 0;
        o.reduction = ASR_REDUCTION_NONE;
        Tl[0] = T;
        Ul[0] = U;
        for (i = 0; i < U; i++) targets[i] = (pass ? 0 : 1) + asr_rng_int(&rng, V - 1);  /* never the blank */
        n = (size_t)T * (U + 1) * V;
        for (i = 0; i < (int)n; i++) logits[i] = (asr_real)(2 * asr_rng_normal(&rng));
        {
          double e = asr__rnnt_compare(impl, asr_rnnt_loss_naive, logits, targets, Tl, Ul, 1, T, U, V, &o, g1, g2,
                                       work, wb, &status);
          if (status != ASR_OK) bad = 1;
          if (e > worst || e != e) worst = e;
        }
      }
      asr__check_case(rep, !bad && worst <= tol, worst, "rnnt/naive T=%d U=%d (blank first and last): "
                      "worst error %.3g (tolerance %.0e)%s", T, U, worst, tol, bad ? ", returned an error" : "");
    }
  /* 2. random ragged batches against _ref: every reduction, clamp, an empty item */
  for (c = 0; c < 6; c++) {
    asr_rnnt_opts o = asr_rnnt_default_opts();
    double e;
    int N = MAXN;
    T = 2 + asr_rng_int(&rng, MAXT - 1);
    U = asr_rng_int(&rng, MAXU + 1);
    V = c < 2 ? 2 + asr_rng_int(&rng, 6) : 8 + asr_rng_int(&rng, MAXV - 7);
    o.blank = asr_rng_int(&rng, V) - (c & 1 ? V : 0);         /* also negative (from the end) */
    o.reduction = (asr_reduction)(c % 3);
    o.clamp = c >= 3 ? 0.05 + 0.2 * asr_rng_uniform(&rng) : -1;
    for (b = 0; b < N; b++) {
      int blank = o.blank < 0 ? V + o.blank : o.blank;
      Tl[b] = b == 0 ? T : 1 + asr_rng_int(&rng, T);
      Ul[b] = b == 0 ? U : asr_rng_int(&rng, U + 1);
      if (c == 5 && b == N - 1) Tl[b] = Ul[b] = 0;           /* an empty item: loss 0 */
      for (i = 0; i < U; i++) {
        int y = asr_rng_int(&rng, V - 1);
        targets[b * U + i] = y >= blank ? y + 1 : y;           /* any label but the blank */
      }
    }
    n = (size_t)N * T * (U + 1) * V;
    for (i = 0; i < (int)n; i++) logits[i] = (asr_real)(3 * asr_rng_normal(&rng));
    e = asr__rnnt_compare(impl, asr_rnnt_loss_ref, logits, targets, Tl, Ul, N, T, U, V, &o, g1, g2, work, wb,
                          &status);
    asr__check_case(rep, status == ASR_OK && e <= tol, e,
                    "rnnt/ref batch %d: N=%d T=%d U=%d V=%d blank=%d reduction=%s clamp=%.3g: worst error %.3g "
                    "(tolerance %.0e)", c, N, T, U, V, o.blank,
                    o.reduction == ASR_REDUCTION_NONE ? "none" : o.reduction == ASR_REDUCTION_SUM ? "sum" : "mean", o.clamp,
                    e, tol);
  }
  /* 3. finite differences of the loss against impl's own gradient */
  for (c = 0; c < 2; c++) {
    asr__rnnt_fd_ctx fc;
    asr_gradcheck_param p;
    asr_gradcheck_report gr;
    asr_gradcheck_opts go;
    double gtol = ASR_REAL_DOUBLE ? 1e-6 : 5e-2;
    memset(&fc, 0, sizeof fc);
    memset(&go, 0, sizeof go);
    go.max_elements = 4096;                  /* every element */
    fc.impl = impl;
    fc.N = 2;
    fc.T = 3;
    fc.U = 2;
    fc.V = 4;
    fc.opts = asr_rnnt_default_opts();
    fc.opts.reduction = c ? ASR_REDUCTION_MEAN : ASR_REDUCTION_SUM;
    fc.opts.blank = c ? 3 : 0;
    Tl[0] = 3, Ul[0] = 2, Tl[1] = 2, Ul[1] = 1;
    for (i = 0; i < 4; i++) targets[i] = 1 + (c ? -1 : 0) + asr_rng_int(&rng, 3);
    fc.targets = targets, fc.Tl = Tl, fc.Ul = Ul;
    fc.logits = logits, fc.work = work, fc.work_bytes = wb;
    n = (size_t)fc.N * fc.T * (fc.U + 1) * fc.V;
    for (i = 0; i < (int)n; i++) logits[i] = (asr_real)asr_rng_normal(&rng);
    status = impl(fc.loss, g1, logits, targets, Tl, Ul, fc.N, fc.T, fc.U, fc.V, &fc.opts, work, wb, NULL);
    p.name = "logits";
    p.x = logits;
    p.grad = g1;
    p.n = n;
    if (status == ASR_OK) status = asr_gradcheck(asr__rnnt_fd_objective, &fc, &p, 1, &go, &rng, &gr);
    asr__check_case(rep, status == ASR_OK && gr.max_rel_err <= gtol, status == ASR_OK ? gr.max_rel_err : INFINITY,
                    "rnnt/finite differences (%s, blank %d): max relative error %.3g over %d entries (tolerance %.0e)",
                    c ? "mean" : "sum", fc.opts.blank, status == ASR_OK ? gr.max_rel_err : INFINITY,
                    status == ASR_OK ? gr.checks : 0, gtol);
  }
  /* 4. the published cases */
  for (c = 0; c < nk; c++) {
    const asr_rnnt_known_case *k = &ka[c];
    asr_rnnt_opts o = asr_rnnt_default_opts();
    asr_real loss[4], df[32], dg[32];
    double ec = 0, eg = 0;
    size_t m = (size_t)k->N * k->T * (k->U + 1) * k->V;
    o.blank = k->blank;
    o.reduction = ASR_REDUCTION_NONE;
    if (k->logits) {
      for (n = 0; n < m; n++) logits[n] = (asr_real)k->logits[n];
    } else {
      /* the factored joint z = f_t + g_u, through asr_rnnt_joint_forward: E = P = H = V,
       * identity weights and activation */
      asr_rnnt_joint J;
      asr_rnnt_joint_grad dJ;
      asr_real eye[25], f[16], g[16], hid[64];
      char jw[1024];
      int r;
      for (i = 0; i < 25; i++) eye[i] = (asr_real)(i % 6 == 0);
      for (i = 0; i < k->T * k->V; i++) f[i] = (asr_real)k->emissions[i];
      for (i = 0; i < (k->U + 1) * k->V; i++) g[i] = (asr_real)k->predictions[i];
      J.E = J.P = J.H = J.V = k->V;
      J.act = ASR_RNNT_ACT_IDENTITY;
      J.W_enc = J.W_pred = J.W_out = eye;
      J.b = J.b_out = NULL;
      memset(&dJ, 0, sizeof dJ);
      r = asr_rnnt_joint_forward(logits, hid, f, g, &J, k->T, k->U + 1, jw, sizeof jw);
      if (r == ASR_OK) r = impl(loss, g1, logits, k->targets, k->logit_lengths, k->target_lengths, k->N, k->T,
                                k->U, k->V, &o, work, wb, NULL);
      for (i = 0; i < 32; i++) df[i] = dg[i] = 0;
      if (r == ASR_OK)
        r = asr_rnnt_joint_backward(df, dg, &dJ, g1, hid, f, g, &J, k->T, k->U + 1, jw, sizeof jw);
      if (r != ASR_OK) ec = INFINITY;
      else {
        ec = fabs((double)loss[0] - k->cost[0]);
        for (i = 0; i < k->T * k->V; i++) eg = ASR__MAX(eg, fabs((double)df[i] - k->grad_emissions[i]));
        for (i = 0; i < (k->U + 1) * k->V; i++) eg = ASR__MAX(eg, fabs((double)dg[i] - k->grad_predictions[i]));
      }
      asr__check_case(rep, ec <= k->tol_cost && eg <= k->tol_grad, ASR__MAX(ec, eg),
                      "rnnt/known %s through the joint network: cost error %.3g, df/dg error %.3g (tolerances "
                      "%.0e, %.0e)", k->name, ec, eg, k->tol_cost, k->tol_grad);
      continue;
    }
    if (impl(loss, g1, logits, k->targets, k->logit_lengths, k->target_lengths, k->N, k->T, k->U, k->V, &o, work,
             wb, NULL) != ASR_OK) {
      ec = INFINITY;
    } else {
      for (b = 0; b < k->N; b++) ec = ASR__MAX(ec, fabs((double)loss[b] - k->cost[b]));
      for (n = 0; n < m; n++) eg = ASR__MAX(eg, fabs((double)g1[n] - k->grad_logits[n]));
    }
    asr__check_case(rep, ec <= k->tol_cost && eg <= k->tol_grad, ASR__MAX(ec, eg),
                    "rnnt/known %s: cost error %.3g, gradient error %.3g (tolerances %.0e, %.0e)", k->name, ec, eg,
                    k->tol_cost, k->tol_grad);
  }
  ASR_FREE(logits, NULL);
  ASR_FREE(g1, NULL);
  ASR_FREE(g2, NULL);
  ASR_FREE(work, NULL);
  return ASR_OK;
}

/* ---------------------------------------------------------------------------------------
 * 10.6 Quantizers checkers (implementation)
 * --------------------------------------------------------------------------------------- */

/* Tolerances: values are compared relative to their scale (see the 10.6 declarations). */
#define ASR__QTOL (ASR_REAL_DOUBLE ? 1e-10 : 1e-5)
#define ASR__QFD (ASR_REAL_DOUBLE ? 1e-6 : 2e-2)

/* The checker's own Gumbel-softmax, shared with no tier: p_j = 1 / sum_k exp(s_k - s_j),
 * s = (l + v)/tau. A term can only overflow to +inf when p_j underflows to 0 anyway. */
ASR__PRIVATE void asr__chk_gumbel(double *p, int *imax, const asr_real *l, const asr_real *v, double tau,
                                  int V) {
  int j, k;
  double best = -INFINITY;
  *imax = 0;
  for (j = 0; j < V; j++) {
    double sj = ((double)l[j] + (v ? (double)v[j] : 0.0)) / tau, sum = 0;
    for (k = 0; k < V; k++) sum += exp(((double)l[k] + (v ? (double)v[k] : 0.0)) / tau - sj);
    p[j] = 1.0 / sum;
    if (sj > best) {
      best = sj;
      *imax = j;
    }
  }
}

typedef struct asr__chk_gs_ctx {
  asr_gumbel_softmax_forward_fn fwd;
  asr_real *l, *v, *y, *p, *w;
  double tau;
  int n, V;
} asr__chk_gs_ctx;

ASR__PRIVATE double asr__chk_gs_f(void *vc) {
  asr__chk_gs_ctx *c = (asr__chk_gs_ctx *)vc;
  double f = 0;
  int i;
  if (c->fwd(c->y, c->p, NULL, c->l, c->v, c->tau, 0, c->n, c->V) != ASR_OK) return NAN;
  for (i = 0; i < c->n * c->V; i++) f += (double)c->w[i] * c->y[i];    /* f = sum w . y */
  return f;
}

ASRDEF void asr_check_gumbel_softmax(asr_gumbel_softmax_forward_fn fwd, asr_gumbel_softmax_backward_fn bwd,
                                     asr_check_report *rep) {
  static const int shapes[5][2] = {{1, 1}, {5, 7}, {4, 33}, {3, 320}, {6, 8}};
  static const double taus[5] = {1.0, 0.5, 2.0, 0.1, 0.7};
  enum { MAXN = 6 * 320 };
  asr_real *l = ASR__ALLOC(asr_real, MAXN, NULL), *v = ASR__ALLOC(asr_real, MAXN, NULL);
  asr_real *y = ASR__ALLOC(asr_real, MAXN, NULL), *p = ASR__ALLOC(asr_real, MAXN, NULL);
  asr_real *p2 = ASR__ALLOC(asr_real, MAXN, NULL), *g = ASR__ALLOC(asr_real, MAXN, NULL);
  asr_real *dl = ASR__ALLOC(asr_real, MAXN, NULL), *dl2 = ASR__ALLOC(asr_real, MAXN, NULL);
  double *pe = ASR__ALLOC(double, MAXN, NULL);
  int *idx = ASR__ALLOC(int, 6, NULL), ie[6], c, i, r, hard;
  asr_rng rng;
  asr_rng_seed(&rng, 2020, 6);
  if (!l || !v || !y || !p || !p2 || !g || !dl || !dl2 || !pe || !idx) {
    asr__check_case(rep, 0, INFINITY, "gumbel: out of memory in the checker");
    goto done;
  }
  for (c = 0; c < 5; c++) {
    int n = shapes[c][0], V = shapes[c][1], cnt = n * V;
    double tau = taus[c], gmax = 0;
    for (i = 0; i < cnt; i++) {
      l[i] = (asr_real)(3 * asr_rng_normal(&rng));
      v[i] = (asr_real)asr_rng_gumbel(&rng);
      g[i] = (asr_real)asr_rng_normal(&rng);
      if (fabs((double)g[i]) > gmax) gmax = fabs((double)g[i]);
    }
    for (r = 0; r < n; r++) asr__chk_gumbel(pe + (size_t)r * V, &ie[r], l + (size_t)r * V, v + (size_t)r * V, tau, V);
    for (hard = 0; hard <= 1 && fwd; hard++) {
      double err = 0;
      int ok = 1;
      asr_result res = fwd(y, hard ? p2 : y, idx, l, v, tau, hard, n, V);
      const asr_real *ps = hard ? p2 : y;
      if (res != ASR_OK) {
        asr__check_case(rep, 0, INFINITY, "gumbel forward n=%d V=%d tau=%g hard=%d: returned %d", n, V, tau,
                        hard, (int)res);
        continue;
      }
      /* the soft sample against p_j = 1/sum_k exp(s_k - s_j); p is in [0,1] */
      for (i = 0; i < cnt; i++) err = ASR__MAX(err, fabs((double)ps[i] - pe[i]) / ASR__QTOL);
      /* hard: exactly the one-hot of argmax(l + v), and the index */
      for (r = 0; r < n && hard; r++) {
        if (idx[r] != ie[r]) ok = 0;
        for (i = 0; i < V; i++)
          if (y[(size_t)r * V + i] != (asr_real)(i == ie[r])) ok = 0;
      }
      for (r = 0; r < n && !hard; r++)
        if (idx[r] != ie[r]) ok = 0;
      if (!hard) memcpy(p, y, sizeof(asr_real) * (size_t)cnt);
      asr__check_case(rep, ok && err <= 1, err, "gumbel forward n=%d V=%d tau=%g %s: max |p - p_ref| = %.3g x tol%s",
                      n, V, tau, hard ? "hard" : "soft", err, ok ? "" : ", wrong one-hot/index");
    }
    if (fwd) {
      /* the soft sample must not depend on `hard`: the straight-through backward uses it */
      double d = 0;
      for (i = 0; i < cnt; i++) d = ASR__MAX(d, fabs((double)p[i] - p2[i]));
      asr__check_case(rep, d == 0, d / ASR__QTOL, "gumbel n=%d V=%d: p of the hard call == p of the soft call (max diff %.3g)",
                      n, V, d);
    } else {
      for (i = 0; i < cnt; i++) p[i] = p2[i] = (asr_real)pe[i];
    }
    if (bwd) {
      double err = 0, scale = (1 + gmax) / tau, err_st = 0;
      asr_result res;
      /* dl_k = 1 + sum_j g_j p_j ([j = k] - p_k) / tau: the Jacobian product, from the same p
       * the backward is given, plus 1 to check that it accumulates */
      for (i = 0; i < cnt; i++) dl[i] = dl2[i] = 1;
      res = bwd(dl, p, g, tau, n, V);
      if (res == ASR_OK) res = bwd(dl2, p2, g, tau, n, V);
      if (res != ASR_OK) {
        asr__check_case(rep, 0, INFINITY, "gumbel backward n=%d V=%d: returned %d", n, V, (int)res);
        continue;
      }
      for (r = 0; r < n; r++) {
        const asr_real *pr = p + (size_t)r * V, *gr = g + (size_t)r * V;
        int k, j;
        for (k = 0; k < V; k++) {
          double want = 1;
          for (j = 0; j < V; j++) want += (double)gr[j] * pr[j] * ((j == k) - (double)pr[k]) / tau;
          err = ASR__MAX(err, fabs((double)dl[(size_t)r * V + k] - want) / (ASR__QTOL * scale));
        }
      }
      for (i = 0; i < cnt; i++) err_st = ASR__MAX(err_st, fabs((double)dl[i] - dl2[i]) / (ASR__QTOL * scale));
      asr__check_case(rep, err <= 1, err, "gumbel backward n=%d V=%d tau=%g: vs the Jacobian (accumulating), %.3g x tol",
                      n, V, tau, err);
      asr__check_case(rep, err_st <= 1, err_st, "gumbel backward n=%d V=%d: straight-through (hard p) == soft, %.3g x tol",
                      n, V, err_st);
    }
  }
  if (fwd && bwd) {
    /* finite differences of f = sum w . y(l) with the noise fixed */
    asr__chk_gs_ctx cx;
    asr_gradcheck_param prm;
    asr_gradcheck_report gr;
    cx.fwd = fwd;
    cx.l = l, cx.v = v, cx.y = y, cx.p = y, cx.w = g;
    cx.tau = 0.7, cx.n = 3, cx.V = 6;
    for (i = 0; i < 18; i++) {
      l[i] = (asr_real)asr_rng_normal(&rng);
      v[i] = (asr_real)asr_rng_gumbel(&rng);
      g[i] = (asr_real)asr_rng_normal(&rng);
      dl[i] = 0;
    }
    fwd(y, y, NULL, l, v, cx.tau, 0, 3, 6);
    memcpy(p, y, sizeof(asr_real) * 18);
    bwd(dl, p, g, cx.tau, 3, 6);
    prm.name = "logits";
    prm.x = l;
    prm.grad = dl;
    prm.n = 18;
    if (asr_gradcheck(asr__chk_gs_f, &cx, &prm, 1, NULL, &rng, &gr) == ASR_OK)
      asr__check_case(rep, gr.max_rel_err <= ASR__QFD, gr.max_rel_err / ASR__QFD,
                      "gumbel soft sample vs finite differences (fixed noise): max rel err %.3g (tol %.0e)",
                      gr.max_rel_err, ASR__QFD);
  }
  if (fwd) {
    /* tau -> 0: the soft sample tends to the one-hot of argmax(l + v) (here v = 0, so NULL
     * noise is exercised); the gap 0.6 between the two best gives p_other <= 4 e^{-0.6/tau} */
    static const asr_real l5[5] = {0.0f, 0.3f, -0.2f, 0.9f, 0.1f};
    static const double ts[4] = {1.0, 0.1, 0.01, 0.001};
    double prev = INFINITY, d = 0, bound = 0, last = 0;
    int ok = 1, t;
    for (t = 0; t < 4; t++) {
      asr_result res = fwd(y, y, idx, l5, NULL, ts[t], 0, 1, 5);
      if (res == ASR_ERR_TOO_LARGE && t >= 3) break;   /* _naive's literal exp overflows */
      if (res != ASR_OK || idx[0] != 3) ok = 0;
      d = 0;
      for (i = 0; i < 5; i++) d = ASR__MAX(d, fabs((double)y[i] - (i == 3)));
      if (d > prev) ok = 0;
      prev = d;
      last = ts[t];
      /* p_other <= exp(-0.6/tau) each, plus the rounding of p_max near 1 */
      bound = 4 * exp(-0.6 / ts[t]) + (ASR_REAL_DOUBLE ? 1e-15 : 1.2e-7);
    }
    asr__check_case(rep, ok && d <= bound, d / bound,
                    "gumbel tau -> 0: max |p - one_hot| shrinks to %.3g at tau = %g (bound %.2g)", d, last, bound);
  }
  if (fwd) {
    /* refusals write nothing */
    static const double bad_tau[4] = {0.0, -1.0, NAN, INFINITY};
    int ok = 1, t;
    for (i = 0; i < 8; i++) {
      l[i] = (asr_real)i;
      y[i] = 7;
      p[i] = 7;
    }
    for (t = 0; t < 4; t++)
      if (fwd(y, p, NULL, l, NULL, bad_tau[t], 1, 2, 4) >= 0) ok = 0;
    if (fwd(y, p, NULL, l, NULL, 1.0, 0, 2, 0) >= 0) ok = 0;        /* V = 0 */
    l[5] = (asr_real)NAN;
    if (fwd(y, p, NULL, l, NULL, 1.0, 0, 2, 4) != ASR_ERR_NONFINITE) ok = 0;
    for (i = 0; i < 8; i++)
      if (y[i] != 7 || p[i] != 7) ok = 0;
    asr__check_case(rep, ok, ok ? 0 : INFINITY, "gumbel forward refuses tau <= 0, tau NaN/inf, V = 0, NaN logits; writes nothing");
  }
  if (bwd) {
    int ok = 1;
    for (i = 0; i < 8; i++) dl[i] = 7, p[i] = 0.25f, g[i] = 1;
    if (bwd(dl, p, g, 0.0, 2, 4) >= 0 || bwd(dl, p, g, -2.0, 2, 4) >= 0) ok = 0;
    g[3] = (asr_real)NAN;
    if (bwd(dl, p, g, 1.0, 2, 4) != ASR_ERR_NONFINITE) ok = 0;
    for (i = 0; i < 8; i++)
      if (dl[i] != 7) ok = 0;
    asr__check_case(rep, ok, ok ? 0 : INFINITY, "gumbel backward refuses tau <= 0 and NaN gradients; writes nothing");
  }
done:
  ASR_FREE(l, NULL), ASR_FREE(v, NULL), ASR_FREE(y, NULL), ASR_FREE(p, NULL), ASR_FREE(p2, NULL);
  ASR_FREE(g, NULL), ASR_FREE(dl, NULL), ASR_FREE(dl2, NULL), ASR_FREE(pe, NULL), ASR_FREE(idx, NULL);
}

/* ---- k-means VQ */
typedef struct asr__chk_vq_ctx {
  asr_vq_forward_fn fwd;
  const asr_real *w;           /* (N,D) weights of sum w . z */
  asr_real *z, *cb, *zq;
  int *idx;
  int N, D, G, K, shared, which;     /* which: 0 the codebook term, 1 sum w.z + gamma commitment */
  double gamma;
  void *work;
  size_t work_bytes;
} asr__chk_vq_ctx;

ASR__PRIVATE double asr__chk_vq_f(void *vc) {
  asr__chk_vq_ctx *c = (asr__chk_vq_ctx *)vc;
  asr_vq_loss loss;
  double f = 0;
  int i;
  if (c->fwd(c->idx, c->zq, &loss, c->z, c->cb, c->N, c->D, c->G, c->K, c->shared, c->gamma, c->work,
             c->work_bytes) != ASR_OK)
    return NAN;
  if (c->which == 0) return loss.codebook;     /* ||sg(z) - e||^2 / ND, a function of e */
  /* sum w . (z + sg(e - z)) + gamma ||z - sg(e)||^2 / ND, as a function of z */
  for (i = 0; i < c->N * c->D; i++) f += (double)c->w[i] * c->z[i];
  return f + c->gamma * loss.commitment;
}

ASRDEF void asr_check_vq(asr_vq_forward_fn fwd, asr_vq_backward_fn bwd, asr_check_report *rep) {
  static const int cases[6][5] = {{1, 1, 1, 1, 1}, {7, 6, 1, 5, 1}, {9, 8, 2, 4, 1},
                                  {9, 8, 2, 4, 0}, {13, 12, 3, 16, 0}, {70, 32, 2, 40, 1}};
  enum { MAXZ = 70 * 32, MAXC = 3 * 16 * 4 + 40 * 16, MAXI = 70 * 3 };
  const double gamma = 0.25, dloss = 0.7;
  asr_real *z = ASR__ALLOC(asr_real, MAXZ, NULL), *zq = ASR__ALLOC(asr_real, MAXZ, NULL);
  asr_real *dzq = ASR__ALLOC(asr_real, MAXZ, NULL), *dz = ASR__ALLOC(asr_real, MAXZ, NULL);
  asr_real *cb = ASR__ALLOC(asr_real, MAXC, NULL), *dcb = ASR__ALLOC(asr_real, MAXC, NULL);
  asr_real *cb2 = ASR__ALLOC(asr_real, MAXC, NULL), *dcb2 = ASR__ALLOC(asr_real, MAXC, NULL);
  double *want = ASR__ALLOC(double, MAXC > MAXZ ? MAXC : MAXZ, NULL);
  int *idx = ASR__ALLOC(int, MAXI, NULL), *ie = ASR__ALLOC(int, MAXI, NULL), c, i;
  size_t wsz = asr_vq_workspace_size(40);
  void *work = ASR_MALLOC(wsz, NULL);
  asr_rng rng;
  asr_rng_seed(&rng, 1910, 5453);
  if (!z || !zq || !dzq || !dz || !cb || !dcb || !cb2 || !dcb2 || !want || !idx || !ie || !work) {
    asr__check_case(rep, 0, INFINITY, "vq: out of memory in the checker");
    goto done;
  }
  for (c = 0; c < 6; c++) {
    int N = cases[c][0], D = cases[c][1], G = cases[c][2], K = cases[c][3], shared = cases[c][4];
    int E = D / G, ncb = (shared ? 1 : G) * K * E, n, g, j, d;
    double S = 0, nd = (double)N * D;
    asr_vq_loss loss;
    for (i = 0; i < ncb; i++) cb[i] = (asr_real)(3 * asr_rng_normal(&rng));
    for (n = 0; n < N; n++)
      for (g = 0; g < G; g++) {
        /* z near a random codeword of its group, so that the nearest one is clear */
        const asr_real *e = cb + (size_t)(shared ? 0 : g) * K * E + (size_t)asr_rng_int(&rng, K) * E;
        for (d = 0; d < E; d++) z[(size_t)n * D + g * E + d] = (asr_real)(e[d] + 0.5 * asr_rng_normal(&rng));
      }
    /* brute force: the nearest codeword of every (n, g) and sum of squared distances */
    for (n = 0; n < N; n++)
      for (g = 0; g < G; g++) {
        double best = INFINITY;
        for (j = 0; j < K; j++) {
          double s = 0;
          for (d = 0; d < E; d++) {
            double t = (double)z[(size_t)n * D + g * E + d] - cb[(size_t)(shared ? 0 : g) * K * E + (size_t)j * E + d];
            s += t * t;
          }
          if (s < best) best = s, ie[n * G + g] = j;
        }
        S += best;
      }
    if (fwd) {
      int ok = 1;
      double err;
      asr_result res = fwd(idx, zq, &loss, z, cb, N, D, G, K, shared, gamma, work, wsz);
      if (res != ASR_OK) {
        asr__check_case(rep, 0, INFINITY, "vq forward N=%d D=%d G=%d K=%d: returned %d", N, D, G, K, (int)res);
        continue;
      }
      for (i = 0; i < N * G; i++)
        if (idx[i] != ie[i]) ok = 0;
      /* zq is the codeword itself, bit for bit */
      for (n = 0; n < N && ok; n++)
        for (g = 0; g < G; g++)
          for (d = 0; d < E; d++)
            if (zq[(size_t)n * D + g * E + d] != cb[(size_t)(shared ? 0 : g) * K * E + (size_t)idx[n * G + g] * E + d])
              ok = 0;
      err = fabs(loss.codebook - S / nd) / (ASR__QTOL * (S / nd + 1e-300));
      err = ASR__MAX(err, fabs(loss.commitment - S / nd) / (ASR__QTOL * (S / nd + 1e-300)));
      err = ASR__MAX(err, fabs(loss.total - (1 + gamma) * S / nd) / (ASR__QTOL * ((1 + gamma) * S / nd + 1e-300)));
      asr__check_case(rep, ok && err <= 1, err,
                      "vq forward N=%d D=%d G=%d K=%d %s: nearest codewords%s, zq = e_i, loss %.3g x tol", N, D, G,
                      K, shared ? "shared" : "separate", ok ? "" : " WRONG", err);
    }
    if (bwd) {
      double err = 0, scale = 1;
      asr_result res;
      for (i = 0; i < N * D; i++) dzq[i] = (asr_real)asr_rng_normal(&rng), dz[i] = 1;
      for (i = 0; i < ncb; i++) dcb[i] = 1;
      res = bwd(dz, dcb, dzq, dloss, ie, z, cb, N, D, G, K, shared, gamma);
      if (res != ASR_OK) {
        asr__check_case(rep, 0, INFINITY, "vq backward N=%d D=%d G=%d K=%d: returned %d", N, D, G, K, (int)res);
        continue;
      }
      /* dz = 1 + dzq + dloss gamma 2 (z - e)/ND;  de_j = 1 + sum_{i_n = j} dloss 2 (e_j - z_n)/ND */
      for (i = 0; i < ncb; i++) want[i] = 1;
      for (n = 0; n < N; n++)
        for (g = 0; g < G; g++) {
          size_t off = (size_t)(shared ? 0 : g) * K * E + (size_t)ie[n * G + g] * E;
          for (d = 0; d < E; d++) {
            size_t at = (size_t)n * D + g * E + d;
            double dzw = 1 + dzq[at] + dloss * gamma * 2 * ((double)z[at] - cb[off + d]) / nd;
            want[off + d] += dloss * 2 * ((double)cb[off + d] - z[at]) / nd;
            scale = ASR__MAX(scale, fabs(dzw));
            err = ASR__MAX(err, fabs((double)dz[at] - dzw));
          }
        }
      for (i = 0; i < ncb; i++) {
        scale = ASR__MAX(scale, fabs(want[i]));
        err = ASR__MAX(err, fabs((double)dcb[i] - want[i]));
      }
      err /= ASR__QTOL * scale;
      asr__check_case(rep, err <= 1, err, "vq backward N=%d D=%d G=%d K=%d %s: closed forms (accumulating), %.3g x tol",
                      N, D, G, K, shared ? "shared" : "separate", err);
    }
  }
  if (fwd && bwd) {
    /* finite differences of each loss term, its stop-gradient argument held fixed:
     * d/de of ||sg(z) - e||^2/ND (the codebook term), and d/dz of
     * sum w . (z + sg(e - z)) + gamma ||z - sg(e)||^2/ND. Codewords 3 apart and z within
     * 0.05 of one keep the argmin fixed under the probes. */
    asr__chk_vq_ctx cx;
    asr_gradcheck_param prm;
    asr_gradcheck_report gr;
    int N = 6, D = 4, G = 2, K = 3, E = 2, n, g, d, which;
    for (i = 0; i < G * K * E; i++) cb[i] = (asr_real)(3 * asr_rng_normal(&rng));
    for (n = 0; n < N; n++)
      for (g = 0; g < G; g++) {
        int k = asr_rng_int(&rng, K);
        for (d = 0; d < E; d++)
          z[n * D + g * E + d] = (asr_real)(cb[(g * K + k) * E + d] + 0.05 * asr_rng_normal(&rng));
      }
    for (i = 0; i < N * D; i++) dzq[i] = (asr_real)asr_rng_normal(&rng);
    cx.fwd = fwd, cx.w = dzq, cx.z = z, cx.cb = cb, cx.zq = zq, cx.idx = idx;
    cx.N = N, cx.D = D, cx.G = G, cx.K = K, cx.shared = 0, cx.gamma = gamma;
    cx.work = work, cx.work_bytes = wsz;
    fwd(idx, zq, NULL, z, cb, N, D, G, K, 0, gamma, work, wsz);
    memcpy(ie, idx, sizeof(int) * (size_t)(N * G));
    for (which = 0; which < 2; which++) {
      for (i = 0; i < N * D; i++) dz[i] = 0;
      for (i = 0; i < G * K * E; i++) dcb[i] = 0;
      if (which == 0) bwd(NULL, dcb, NULL, 1.0, ie, z, cb, N, D, G, K, 0, gamma);
      else bwd(dz, NULL, dzq, 1.0, ie, z, cb, N, D, G, K, 0, gamma);
      cx.which = which;
      prm.name = which ? "z" : "codebook";
      prm.x = which ? z : cb;
      prm.grad = which ? dz : dcb;
      prm.n = (size_t)(which ? N * D : G * K * E);
      if (asr_gradcheck(asr__chk_vq_f, &cx, &prm, 1, NULL, &rng, &gr) == ASR_OK)
        asr__check_case(rep, gr.max_rel_err <= ASR__QFD, gr.max_rel_err / ASR__QFD,
                        "vq %s vs finite differences (stop-gradient arguments held): max rel err %.3g (tol %.0e)",
                        which ? "d/dz of sum w.zq + gamma*commitment" : "d/de of the codebook term",
                        gr.max_rel_err, ASR__QFD);
    }
  }
  if (fwd && bwd) {
    /* a separate codebook holding G copies of a shared one gives the same results, and
     * its gradients summed over groups equal the shared codebook's */
    int N = 9, D = 8, G = 2, K = 4, E = 4, ok = 1, g;
    int *idx2 = ie;
    asr_vq_loss l1, l2;
    double err = 0;
    for (i = 0; i < K * E; i++) cb[i] = (asr_real)asr_rng_normal(&rng);
    for (g = 0; g < G; g++) memcpy(cb2 + g * K * E, cb, sizeof(asr_real) * (size_t)(K * E));
    for (i = 0; i < N * D; i++) z[i] = (asr_real)asr_rng_normal(&rng);
    fwd(idx, zq, &l1, z, cb, N, D, G, K, 1, gamma, work, wsz);
    fwd(idx2, dz, &l2, z, cb2, N, D, G, K, 0, gamma, work, wsz);
    for (i = 0; i < N * G; i++)
      if (idx[i] != idx2[i]) ok = 0;
    for (i = 0; i < N * D; i++)
      if (zq[i] != dz[i]) ok = 0;
    for (i = 0; i < G * K * E; i++) dcb[i] = dcb2[i] = 0;
    bwd(NULL, dcb, NULL, 1.0, idx, z, cb, N, D, G, K, 1, gamma);
    bwd(NULL, dcb2, NULL, 1.0, idx, z, cb2, N, D, G, K, 0, gamma);
    for (i = 0; i < K * E; i++) err = ASR__MAX(err, fabs((double)dcb[i] - dcb2[i] - dcb2[K * E + i]) / ASR__QTOL);
    asr__check_case(rep, ok && err <= 1 && l1.total == l2.total, err,
                    "vq shared codebook == separate codebooks holding copies (gradients summed: %.3g x tol)", err);
  }
  if (fwd) {
    /* refusals write nothing */
    int ok = 1;
    asr_vq_loss loss;
    loss.total = loss.codebook = loss.commitment = 7;
    for (i = 0; i < 16; i++) z[i] = (asr_real)i, cb[i] = (asr_real)i, zq[i] = 7, idx[i] = 7;
    if (fwd(idx, zq, &loss, z, cb, 2, 5, 2, 3, 1, gamma, work, wsz) != ASR_ERR_SHAPE) ok = 0;   /* D % G */
    if (fwd(idx, zq, &loss, z, cb, 2, 4, 1, 0, 1, gamma, work, wsz) != ASR_ERR_SHAPE) ok = 0;   /* K = 0 */
    if (fwd(idx, zq, &loss, z, cb, 2, 4, 1, 2, 1, -1.0, work, wsz) >= 0) ok = 0;               /* gamma < 0 */
    z[3] = (asr_real)NAN;
    if (fwd(idx, zq, &loss, z, cb, 2, 4, 1, 2, 1, gamma, work, wsz) != ASR_ERR_NONFINITE) ok = 0;
    z[3] = 3;
    cb[1] = (asr_real)INFINITY;
    if (fwd(idx, zq, &loss, z, cb, 2, 4, 1, 2, 1, gamma, work, wsz) != ASR_ERR_NONFINITE) ok = 0;
    for (i = 0; i < 16; i++)
      if (zq[i] != 7 || idx[i] != 7) ok = 0;
    if (loss.total != 7) ok = 0;
    asr__check_case(rep, ok, ok ? 0 : INFINITY,
                    "vq forward refuses D %% G != 0, an empty codebook, gamma < 0, NaN/inf; writes nothing");
  }
  if (bwd) {
    int ok = 1;
    for (i = 0; i < 8; i++) z[i] = (asr_real)i, cb[i] = (asr_real)i, dz[i] = 7, dcb[i] = 7;
    idx[0] = 0, idx[1] = 2;     /* 2 is out of range for K = 2 */
    if (bwd(dz, dcb, NULL, 1.0, idx, z, cb, 2, 4, 1, 2, 1, gamma) != ASR_ERR_RANGE) ok = 0;
    for (i = 0; i < 8; i++)
      if (dz[i] != 7 || dcb[i] != 7) ok = 0;
    asr__check_case(rep, ok, ok ? 0 : INFINITY, "vq backward refuses an index out of range; writes nothing");
  }
done:
  ASR_FREE(z, NULL), ASR_FREE(zq, NULL), ASR_FREE(dzq, NULL), ASR_FREE(dz, NULL), ASR_FREE(cb, NULL);
  ASR_FREE(dcb, NULL), ASR_FREE(cb2, NULL), ASR_FREE(dcb2, NULL), ASR_FREE(want, NULL);
  ASR_FREE(idx, NULL), ASR_FREE(ie, NULL), ASR_FREE(work, NULL);
}

/* ---- the Gumbel quantizer module and the diversity penalty */
typedef struct asr__chk_gq_ctx {
  asr_gumbel_quantizer cfg;
  asr_gumbel_quantizer_params w;
  asr_real *z, *noise, *q, *h, *logits, *p, *probs, *avg, *W;
  int *index;
  int N;
  double alpha;
  asr_diversity_form form;
} asr__chk_gq_ctx;

/* f = sum W . q + alpha L_d(logits) */
ASR__PRIVATE double asr__chk_gq_f(void *vc) {
  asr__chk_gq_ctx *c = (asr__chk_gq_ctx *)vc;
  double f = 0, ld = 0;
  int i, nq = c->N * c->cfg.groups * c->cfg.entry_dim;
  if (asr_gumbel_quantizer_forward(c->q, c->index, c->h, c->logits, c->p, c->z, c->noise, &c->w, &c->cfg, c->N) !=
      ASR_OK)
    return NAN;
  for (i = 0; i < nq; i++) f += (double)c->W[i] * c->q[i];
  if (c->alpha != 0 && asr_diversity_forward(&ld, NULL, c->probs, c->avg, c->logits, c->N, c->cfg.groups,
                                             c->cfg.vars, 0.0, c->form) != ASR_OK)
    return NAN;
  return f + c->alpha * ld;
}

ASRDEF void asr_check_quantizer_module(asr_check_report *rep) {
  asr__chk_gq_ctx c;
  asr_gumbel_quantizer_params gr, gr2;
  size_t cnt[5], nbuf = 0, off = 0, wsz;
  asr_real *buf = NULL, *dz, *dz2, *dl;
  void *work = NULL, *dwork = NULL;
  asr_rng rng;
  int shared, i, n, j, k;
  asr_rng_seed(&rng, 2006, 11477);
  for (shared = 0; shared <= 1; shared++) {
    asr_gradcheck_param prm[6];
    asr_gradcheck_report rr;
    int N = 6, GV, GE, ok;
    double err = 0;
    memset(&c, 0, sizeof c);
    c.cfg.in_dim = 5, c.cfg.hidden = 7, c.cfg.groups = 2, c.cfg.vars = 4, c.cfg.entry_dim = 3;
    c.cfg.shared = shared, c.cfg.hard = 0, c.cfg.tau = 0.8;
    c.N = N, c.alpha = 0.3, c.form = shared ? ASR_DIVERSITY_ENTROPY : ASR_DIVERSITY_PERPLEXITY;
    GV = 8, GE = 6;
    if (asr_gumbel_quantizer_sizes(&c.cfg, cnt) != ASR_OK) {
      asr__check_case(rep, 0, INFINITY, "quantizer module: sizes refused");
      break;
    }
    /* parameters, their two gradient sets, and the activations, in one block */
    nbuf = 3 * (cnt[0] + cnt[1] + cnt[2] + cnt[3] + cnt[4]) + (size_t)N * (5 + 5 + 5 + GV + 7 + 3 * GV + GV + GE + GE) + GV;
    buf = ASR__ALLOC(asr_real, nbuf, NULL);
    wsz = asr_gumbel_quantizer_workspace_size(&c.cfg, N);
    work = ASR_MALLOC(wsz, NULL);
    dwork = ASR_MALLOC(asr_diversity_workspace_size(2, 4), NULL);
    if (!buf || !work || !dwork) {
      asr__check_case(rep, 0, INFINITY, "quantizer module: out of memory in the checker");
      break;
    }
    memset(buf, 0, sizeof(asr_real) * nbuf);
    off = 0;
#define ASR__TAKE(cnt_) (off += (cnt_), buf + off - (cnt_))
    c.w.w1 = ASR__TAKE(cnt[0]), c.w.b1 = ASR__TAKE(cnt[1]), c.w.w2 = ASR__TAKE(cnt[2]);
    c.w.b2 = ASR__TAKE(cnt[3]), c.w.codebook = ASR__TAKE(cnt[4]);
    gr.w1 = ASR__TAKE(cnt[0]), gr.b1 = ASR__TAKE(cnt[1]), gr.w2 = ASR__TAKE(cnt[2]);
    gr.b2 = ASR__TAKE(cnt[3]), gr.codebook = ASR__TAKE(cnt[4]);
    gr2.w1 = ASR__TAKE(cnt[0]), gr2.b1 = ASR__TAKE(cnt[1]), gr2.w2 = ASR__TAKE(cnt[2]);
    gr2.b2 = ASR__TAKE(cnt[3]), gr2.codebook = ASR__TAKE(cnt[4]);
    c.z = ASR__TAKE((size_t)N * 5), dz = ASR__TAKE((size_t)N * 5), dz2 = ASR__TAKE((size_t)N * 5);
    c.noise = ASR__TAKE((size_t)N * GV), c.h = ASR__TAKE((size_t)N * 7), c.logits = ASR__TAKE((size_t)N * GV);
    c.p = ASR__TAKE((size_t)N * GV), c.probs = ASR__TAKE((size_t)N * GV), c.avg = ASR__TAKE((size_t)GV);
    dl = ASR__TAKE((size_t)N * GV), c.q = ASR__TAKE((size_t)N * GE), c.W = ASR__TAKE((size_t)N * GE);
#undef ASR__TAKE
    c.index = (int *)ASR_MALLOC(sizeof(int) * (size_t)N * 2, NULL);
    if (!c.index) break;
    asr_gumbel_quantizer_init(&c.w, &c.cfg, &rng);
    asr_gumbel_noise(c.noise, (size_t)N * GV, &rng);
    for (i = 0; i < N * GE; i++) c.W[i] = (asr_real)asr_rng_normal(&rng);
    /* z with every ReLU input at least 0.3 from its kink, so that the probes (at most
     * 2h |z| with |z| <= 2.5) never cross it */
    for (n = 0; n < N; n++) {
      int tries;
      for (tries = 0; tries < 10000; tries++) {
        int good = 1;
        for (k = 0; k < 5; k++) c.z[n * 5 + k] = (asr_real)ASR__MAX(-2.5, ASR__MIN(2.5, asr_rng_normal(&rng)));
        for (j = 0; j < 7 && good; j++) {
          double s = c.w.b1[j];
          for (k = 0; k < 5; k++) s += (double)c.w.w1[j * 5 + k] * c.z[n * 5 + k];
          if (fabs(s) < 0.3) good = 0;
        }
        if (good) break;
      }
    }
    /* analytic: forward, diversity backward into dl, module backward with dq = W */
    asr__chk_gq_f(&c);
    memset(dl, 0, sizeof(asr_real) * (size_t)N * GV);
    asr_diversity_backward(dl, c.probs, c.alpha, N, 2, 4, 0.0, c.form, dwork, asr_diversity_workspace_size(2, 4));
    if (asr_gumbel_quantizer_backward(dz, &gr, c.W, dl, c.z, c.h, c.p, c.index, &c.w, &c.cfg, N, work, wsz) != ASR_OK) {
      asr__check_case(rep, 0, INFINITY, "quantizer module backward refused its instance");
      break;
    }
    prm[0].name = "z", prm[0].x = c.z, prm[0].grad = dz, prm[0].n = (size_t)N * 5;
    prm[1].name = "w1", prm[1].x = c.w.w1, prm[1].grad = gr.w1, prm[1].n = cnt[0];
    prm[2].name = "b1", prm[2].x = c.w.b1, prm[2].grad = gr.b1, prm[2].n = cnt[1];
    prm[3].name = "w2", prm[3].x = c.w.w2, prm[3].grad = gr.w2, prm[3].n = cnt[2];
    prm[4].name = "b2", prm[4].x = c.w.b2, prm[4].grad = gr.b2, prm[4].n = cnt[3];
    prm[5].name = "codebook", prm[5].x = c.w.codebook, prm[5].grad = gr.codebook, prm[5].n = cnt[4];
    if (asr_gradcheck(asr__chk_gq_f, &c, prm, 6, NULL, &rng, &rr) == ASR_OK)
      asr__check_case(rep, rr.max_rel_err <= ASR__QFD, rr.max_rel_err / ASR__QFD,
                      "Gumbel quantizer module (soft, %s codebook) + %g * diversity (%s form) vs finite "
                      "differences: max rel err %.3g at %s[%ld] (tol %.0e)",
                      shared ? "shared" : "separate", c.alpha, shared ? "entropy" : "perplexity", rr.max_rel_err,
                      rr.worst_param ? rr.worst_param : "-", rr.worst_index, ASR__QFD);
    /* straight-through: the hard module's gradients equal the soft module's except the
     * codebook's, which is sum_n one_hot(i_n) dq_n */
    asr__chk_gq_f(&c);
    memset(gr.w1, 0, sizeof(asr_real) * (cnt[0] + cnt[1] + cnt[2] + cnt[3] + cnt[4]));
    memset(gr2.w1, 0, sizeof(asr_real) * (cnt[0] + cnt[1] + cnt[2] + cnt[3] + cnt[4]));
    memset(dz, 0, sizeof(asr_real) * (size_t)N * 5);
    memset(dz2, 0, sizeof(asr_real) * (size_t)N * 5);
    asr_gumbel_quantizer_backward(dz, &gr, c.W, NULL, c.z, c.h, c.p, c.index, &c.w, &c.cfg, N, work, wsz);
    c.cfg.hard = 1;
    asr__chk_gq_f(&c);
    asr_gumbel_quantizer_backward(dz2, &gr2, c.W, NULL, c.z, c.h, c.p, c.index, &c.w, &c.cfg, N, work, wsz);
    /* the same memory block holds w1 b1 w2 b2 of each gradient set, back to back */
    for (i = 0; i < (int)(cnt[0] + cnt[1] + cnt[2] + cnt[3]); i++)
      err = ASR__MAX(err, fabs((double)gr.w1[i] - gr2.w1[i]));
    for (i = 0; i < N * 5; i++) err = ASR__MAX(err, fabs((double)dz[i] - dz2[i]));
    ok = 1;
    {
      /* the hard codebook gradient: de_{g,i} += dq_{n,g} for the entry i each frame chose
       * (all groups into the one codebook when shared) */
      double wantc[24];
      int g, e;
      for (i = 0; i < (int)cnt[4]; i++) wantc[i] = 0;
      for (n = 0; n < N; n++)
        for (g = 0; g < 2; g++)
          for (e = 0; e < 3; e++) wantc[(shared ? 0 : g * 12) + c.index[n * 2 + g] * 3 + e] += c.W[n * 6 + g * 3 + e];
      for (i = 0; i < (int)cnt[4]; i++)
        if (fabs((double)gr2.codebook[i] - wantc[i]) > ASR__QTOL * (1 + fabs(wantc[i]))) ok = 0;
    }
    asr__check_case(rep, ok && err <= ASR__QTOL, err / ASR__QTOL,
                    "Gumbel quantizer module, %s codebook: straight-through gradients == soft ones (max diff %.3g) "
                    "except the codebook's, which is one_hot^T dq%s",
                    shared ? "shared" : "separate", err, ok ? "" : " (WRONG)");
    ASR_FREE(c.index, NULL);
    ASR_FREE(buf, NULL);
    ASR_FREE(work, NULL);
    ASR_FREE(dwork, NULL);
    buf = NULL, work = NULL, dwork = NULL;
  }
  ASR_FREE(buf, NULL);
  ASR_FREE(work, NULL);
  ASR_FREE(dwork, NULL);
}

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
