/* examples/recognizer/train.c - train a tiny speech recognizer with asr.h.
 *
 *   build/train --recipe ctc-contextnet --data data/toy/train --out build/model.npz
 *
 * Recipes (asr.h section 9): ctc-contextnet (ContextNet + CTC), ctc-conformer (ESPnet's
 * Conformer encoder + CTC), rnnt (the same encoder + icefall's stateless prediction
 * network and joiner, RNN-T loss), ctc-attention (the same encoder + a CTC branch and
 * ESPnet's Transformer decoder, the hybrid loss with ctc_weight 0.3), las (the same
 * encoder + the LAS speller, attention loss only), rnnt-las (the two-pass model of
 * [Sainath19]: rnnt's head and las's speller on one encoder, 0.5 L_rnnt + 0.5 L_las),
 * las-pblstm (LAS with [Chan16]'s listener: a BLSTM and 3 pyramidal BLSTMs, 8x fewer
 * frames, then las's speller and loss), nt (the same encoder + the Neural Transducer
 * [Jaitly16] of asr.h section 7.6, trained on its own best alignments; its first
 * --nt-uniform-steps N steps, default 200, on the flat start's uniform alignments).
 *
 * DIR holds transcripts.tsv (path<TAB>text) or Free Spoken Digit Dataset recordings
 * ({digit}_{speaker}_{take}.wav; takes 10-49 train, 5-9 are the dev set, 0-4 are left
 * for testing; --speakers A,B / --exclude-speakers C keep only some speakers' recordings,
 * as tests/eval.sh's leave-one-speaker-out folds do). --splice MIN-MAX joins MIN..MAX
 * recordings of one speaker into one connected-digit utterance, a new set of them every
 * epoch; --speed-perturb plays each at 0.9, 1.0 or 1.1 times its speed. Audio at any
 * sample rate is resampled to the model's.
 * --pad SECONDS makes the model pad every recording with that much of its background
 * noise before and after it (stored in the checkpoint as pad_ms, so build/transcribe
 * does the same).
 * --cmvn global normalizes the features with one mean and deviation per mel bin computed
 * over the training utterances' frames (asr_cmvn_accumulate, asr_cmvn_finish; stored in the
 * checkpoint as normalize.mean, normalize.std, so build/transcribe does the same) instead of
 * each recording's own (--cmvn utterance, the default): a lever of docs/training.md.
 * --cmvn speaker (FSDD folders, whose names give the speakers) normalizes each speaker's
 * utterances with that speaker's statistics, over the frames of the speaker's training and
 * dev recordings as they are (before splicing and augmentation; Kaldi's compute-cmvn-stats
 * --spk2utt); the checkpoint keeps the training set's pooled statistics, and
 * build/transcribe computes a new voice's own over its recordings.
 *
 * The loop: utterances sorted by length and cut into batches of at most --batch-frames
 * padded frames (with --speaker-batches, FSDD folders only, sorted by speaker first and
 * never two speakers in a batch: the BatchNorm layers train on one voice's statistics at a
 * time, what build/transcribe --adapt-bn gives them at test time; docs/training.md);
 * each epoch visits the batches in a new random order; SpecAugment on
 * every batch (two frequency masks of up to n_mels/8 bins, two time masks of up to 20
 * frames and 20% of the utterance, no warp: --freq-masks, --freq-width, --time-masks,
 * --time-width, --time-ratio, --time-warp change them, --no-specaug turns it off);
 * --w2v-features W2V.npz: the input is a frozen wav2vec model's context features instead of
 * the fbank (issue 17's downstream recipe, docs/wav2vec.md); --train-fraction F keeps the
 * first F of a transcripts.tsv folder's recordings (the labelled-data fraction);
 * --bert-features BERT.npz with --w2v-features VQ.npz (a Gumbel vq-wav2vec model): the
 * input is the BERT's features of the recording's units (vq-wav2vec's whole pipeline).
 * --vtlp D: vocal tract length perturbation [Jaitly13], the features of every training
 * utterance computed anew at every step with a VTLN warp factor drawn uniformly from
 * [1 - D, 1 + D] (asr_model_features_warped); --noise-snr LO,HI: white Gaussian noise added
 * to every training utterance's waveform at an SNR drawn uniformly from [LO, HI] dB, anew at
 * every step (asr_add_noise, [Hannun14ds]); --reverb LO,HI: every training utterance played
 * in a simulated room (asr_rir_image, the image method [Allen79]; asr_reverberate) of a
 * reverberation time T60 drawn from [LO, HI] s, before the noise (reverb_wave below);
 * --gain-db D: every training utterance scaled by a gain drawn uniformly from [-D, D] dB,
 * anew at every step, after the noise (asr_apply_gain; Kaldi's volume perturbation);
 * --dropout P, --stoch-depth P: dropout and stochastic depth [Huang16] in the encoder's
 * ContextNet or Conformer blocks (asr_model_set_regularization; docs/training.md), drawn from
 * the loop's generator, not stored in the checkpoint (they only act in training); Adam with
 * linear warm-up and decay; gradient norm clipped at 5.
 * --mwer-steps N (rnnt-las only) then fine-tunes the speller for N more steps with MWER
 * (asr_model_mwer_step: the first pass's 4-best, mle_weight 0.01, no SpecAugment) with a
 * fresh Adam at a constant lr/10, the encoder and the first pass left as they are. Every
 * --eval-every steps the dev set is decoded (greedy) and its character error rate
 * printed. --average-last N [--average-every K (100)]: the model written is the mean of the
 * last N snapshots of the parameters and running statistics taken every K steps and at the
 * last step (asr_model_average, as ESPnet's average_nbest_models averages the last N
 * epochs' checkpoints; fewer when the run is shorter than N K steps). The model is written atomically at the end (and on Ctrl-C), with a loss
 * curve beside it (MODEL.svg). A MODEL.npz.tmpXXXXXXXX (or MODEL.svg.tmp...) left by a
 * run killed while writing, older than 10 minutes, is removed when a run starts.
 * --threads N (make builds train with -fopenmp -DASR_THREADS): asr.h's matrix products
 * split over N OpenMP threads, each output element still computed by one thread in the
 * same order, so the model is byte for byte the one of --threads 1 (the default; the
 * OMP_NUM_THREADS variable is not used; on a machine busy with other jobs run it with
 * OMP_WAIT_POLICY=passive, or the waiting threads spin against them: docs/training.md).
 * A train built without them refuses N > 1.
 * Exit status 0, or 2 with one line naming the problem. */
#define _POSIX_C_SOURCE 200809L
#include "asrdata.h"
#include "../outpath.h"
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#if defined(_OPENMP) && defined(ASR_THREADS)
#include <omp.h>   /* --threads N: built by make with -fopenmp -DASR_THREADS */
#endif

static volatile sig_atomic_t g_stop = 0;
static void on_sigint(int sig) {
  (void)sig;
  g_stop = 1;
}

typedef struct opts {
  const char *recipe, *data, *out, *dev, *speakers, *exclude_speakers;
  long steps, mwer_steps, nt_uniform_steps;
  unsigned long seed;
  int splice_min, splice_max;
  int batch_frames, eval_every, warmup, quiet, speed_perturb;
  int speaker_batches;      /* --speaker-batches: every batch holds one speaker's utterances */
  double lr, time_limit, pad;
  int cmvn;                 /* --cmvn: ASR_CMVN_UTTERANCE (default), _GLOBAL (the training set's
                               statistics) or _SPEAKER (each speaker's) */
  /* SpecAugment [Park19]: m_F, F (-1: n_mels/8), m_T, T, p, W; off with --no-specaug */
  asr_specaug_opts sa;
  int no_specaug, sa_given;
  double vtlp;              /* D: warp factors drawn from [1 - D, 1 + D]; 0 = off */
  int noise;                /* --noise-snr given: white noise at an SNR in [snr_lo, snr_hi] dB */
  double snr_lo, snr_hi;
  double gain_db;           /* --gain-db D: a gain in [-D, D] dB (0: off) */
  int reverb;               /* --reverb given: a simulated room with T60 in [t60_lo, t60_hi] s */
  double t60_lo, t60_hi;
  int threads;              /* --threads N: OpenMP threads for asr.h's GEMM (ASR_THREADS builds) */
  const char *w2v;          /* --w2v-features: a wav2vec model whose context network c is the input */
  const char *bert;         /* --bert-features: a BERT (build/bert) over the units of --w2v-features' model */
  double fraction;          /* --train-fraction: the first fraction of the training transcripts */
  int avg_last, avg_every;  /* --average-last N, --average-every K: the written model averages snapshots */
  int avg_every_given;
  double dropout, stoch_depth;   /* --dropout, --stoch-depth: the encoder blocks' training-mode
                                    regularization (asr_model_set_regularization); 0 = off */
} opts;

/* Waveform-level augmentation needs each training utterance's waveform at every step. */
static int augments_wave(const opts *o) { return o->vtlp > 0 || o->noise || o->reverb || o->gain_db > 0; }
static int g_keep_wave = 0;   /* make_utt keeps the waveform (training utterances, when augmenting) */

/* --cmvn speaker: mean (D) then std (D) of each speaker of the list, and the pooled pair
 * after them (what the checkpoint keeps); NULL otherwise. The model's own statistics stay
 * create's identity while training, so asr_model_features gives unnormalized frames and
 * speaker_norm normalizes them. */
static asr_real *g_spk_stats;

static void speaker_norm(const asr_model *m, asr_real *feats, int T, int speaker) {
  int D = m->cfg.n_mels;
  if (g_spk_stats && speaker >= 0)
    asr_cmvn_apply(feats, T, D, g_spk_stats + (size_t)speaker * 2 * D, g_spk_stats + (size_t)speaker * 2 * D + D);
}

/* --w2v-features / --bert-features (issue 17, the downstream recipe): a frozen pretrained
 * front end instead of the fbank (examples/recognizer/asrdata.h, ad_frontend); the model's
 * n_mels is its width, and the checkpoint records which front end it was (front_end,
 * front_end_check) so that build/transcribe refuses another. */
static ad_frontend g_fe;

/* nt: the steps trained on the flat start's uniform alignments before the model's own
 * (asr_model_set_nt_uniform; docs/training.md, Head "nt"): from random weights, the
 * program's own alignments put every character in the first block (measured: 1000 steps
 * without a flat start, toy test CER 52.92%, every word at 0.00-0.32 s) */
#define NT_UNIFORM_DEFAULT 200
#define NT_STR_(x) #x
#define NT_STR(x) NT_STR_(x)

static int usage(void) {
  fprintf(stderr,
          "usage: train --recipe ctc-contextnet|ctc-conformer|rnnt|rnnt-contextnet|ctc-attention|las|rnnt-las|las-pblstm|nt\n"
          "             --data DIR --out MODEL.npz\n"
          "             [--steps N] [--seed S] [--mwer-steps N (rnnt-las)] [--nt-uniform-steps N (nt: " NT_STR(NT_UNIFORM_DEFAULT) ")]\n"
          "             [--splice MIN-MAX [--speed-perturb]] [--pad SECONDS] [--dev DIR] [--batch-frames F]\n"
          "             [--cmvn utterance|global|speaker (utterance: each recording's own mean and variance)]\n"
          "             [--speakers A,B,... | --exclude-speakers A,B,...]\n"
          "             [--speaker-batches (FSDD: every batch one speaker's; BatchNorm on one voice, as transcribe --adapt-bn)]\n"
          "             [--lr X (3e-3; Conformer, pBLSTM 2e-3)] [--warmup N (steps/10, at most 500; ctc-attention at least 300)]\n"
          "             [--eval-every N] [--time-limit SECONDS] [--quiet]\n"
          "             [--freq-masks 2] [--freq-width F (n_mels/8)] [--time-masks 2] [--time-width 20]\n"
          "             [--time-ratio 0.2] [--time-warp 0] | [--no-specaug]\n"
          "             [--vtlp D (0: off; warp factors in [1-D, 1+D], D <= 0.3)]\n"
          "             [--noise-snr LO,HI (white noise at an SNR uniform in [LO, HI] dB, -20 <= LO <= HI <= 100)]\n"
          "             [--reverb LO,HI (a simulated room, T60 uniform in [LO, HI] s, 0.1 <= LO <= HI <= 1)]\n"
          "             [--gain-db D (0: off; a gain uniform in [-D, D] dB, D <= 20)]\n"
          "             [--dropout P] [--stoch-depth P] (ContextNet and Conformer blocks, P in [0, 1); 0: off)\n"
          "             [--threads N (1; N > 1: the matrix products on N threads, the same bits as 1;\n"
          "              on a busy machine set OMP_WAIT_POLICY=passive)]\n"
          "             [--w2v-features W2V.npz (a wav2vec model's context features instead of fbank)]\n"
          "             [--bert-features BERT.npz (with --w2v-features VQ.npz: the BERT's features of its units)]\n"
          "             [--train-fraction F (the first F of the training transcripts, 0 < F <= 1)]\n"
          "             [--average-last N [--average-every K (100)] (write the mean of the last N snapshots\n"
          "              taken every K steps and at the end, N <= 50)]\n");
  return 2;
}

static int parse_args(int argc, char **argv, opts *o) {
  int i;
  long v;
  memset(o, 0, sizeof *o);
  o->steps = 2000;
  o->seed = 1;
  o->threads = 1;
  o->batch_frames = 4000;
  o->eval_every = 250;
  o->avg_every = 100;
  o->warmup = -1;
  o->nt_uniform_steps = -1;
  o->lr = -1;                               /* the recipe's default, below */
  o->sa = asr_specaug_opts_default();       /* then the recipes' settings (docs/training.md) */
  o->sa.num_freq_masks = 2;
  o->sa.freq_mask_param = -1;               /* n_mels/8, once the model is known */
  o->sa.num_time_masks = 2;
  o->sa.time_mask_param = 20;
  o->sa.time_mask_ratio = 0.2;
  o->sa.time_warp = 0;
  o->fraction = 1;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--quiet")) {
      o->quiet = 1;
      continue;
    }
    if (!strcmp(a, "--speed-perturb")) {
      o->speed_perturb = 1;
      continue;
    }
    if (!strcmp(a, "--no-specaug")) {
      o->no_specaug = 1;
      continue;
    }
    if (!strcmp(a, "--speaker-batches")) {
      o->speaker_batches = 1;
      continue;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage();
      exit(0);
    }
    if (!val || strncmp(a, "--", 2) != 0) {
      fprintf(stderr, "train: %s\n", val ? "unexpected argument" : "option without a value");
      return usage();
    }
    i++;
    if (!strcmp(a, "--recipe")) o->recipe = val;
    else if (!strcmp(a, "--data")) o->data = val;
    else if (!strcmp(a, "--out")) o->out = val;
    else if (!strcmp(a, "--dev")) o->dev = val;
    else if (!strcmp(a, "--speakers")) o->speakers = val;
    else if (!strcmp(a, "--exclude-speakers")) o->exclude_speakers = val;
    else if (!strcmp(a, "--steps")) { if (ad_parse_long("train", "steps", val, 1, 100000000, &v)) return 2; o->steps = v; }
    else if (!strcmp(a, "--nt-uniform-steps")) { if (ad_parse_long("train", "nt-uniform-steps", val, 0, 100000000, &v)) return 2; o->nt_uniform_steps = v; }
    else if (!strcmp(a, "--mwer-steps")) { if (ad_parse_long("train", "mwer-steps", val, 0, 100000000, &v)) return 2; o->mwer_steps = v; }
    else if (!strcmp(a, "--threads")) { if (ad_parse_long("train", "threads", val, 1, 256, &v)) return 2; o->threads = (int)v; }
    else if (!strcmp(a, "--seed")) { if (ad_parse_long("train", "seed", val, 0, 2147483647, &v)) return 2; o->seed = (unsigned long)v; }
    else if (!strcmp(a, "--batch-frames")) { if (ad_parse_long("train", "batch-frames", val, 100, 10000000, &v)) return 2; o->batch_frames = (int)v; }
    else if (!strcmp(a, "--eval-every")) { if (ad_parse_long("train", "eval-every", val, 0, 100000000, &v)) return 2; o->eval_every = (int)v; }
    else if (!strcmp(a, "--average-last")) { if (ad_parse_long("train", "average-last", val, 1, 50, &v)) return 2; o->avg_last = (int)v; }
    else if (!strcmp(a, "--average-every")) { if (ad_parse_long("train", "average-every", val, 1, 100000000, &v)) return 2; o->avg_every = (int)v; o->avg_every_given = 1; }
    else if (!strcmp(a, "--warmup")) { if (ad_parse_long("train", "warmup", val, 0, 100000000, &v)) return 2; o->warmup = (int)v; }
    else if (!strcmp(a, "--freq-masks")) { if (ad_parse_long("train", "freq-masks", val, 0, 20, &v)) return 2; o->sa.num_freq_masks = (int)v; o->sa_given = 1; }
    else if (!strcmp(a, "--freq-width")) { if (ad_parse_long("train", "freq-width", val, 0, 1000, &v)) return 2; o->sa.freq_mask_param = (int)v; o->sa_given = 1; }
    else if (!strcmp(a, "--time-masks")) { if (ad_parse_long("train", "time-masks", val, 0, 20, &v)) return 2; o->sa.num_time_masks = (int)v; o->sa_given = 1; }
    else if (!strcmp(a, "--time-width")) { if (ad_parse_long("train", "time-width", val, 0, 100000, &v)) return 2; o->sa.time_mask_param = (int)v; o->sa_given = 1; }
    else if (!strcmp(a, "--time-warp")) { if (ad_parse_long("train", "time-warp", val, 0, 1000, &v)) return 2; o->sa.time_warp = (int)v; o->sa_given = 1; }
    else if (!strcmp(a, "--noise-snr")) {
      int used = 0;
      if (sscanf(val, "%lf,%lf%n", &o->snr_lo, &o->snr_hi, &used) != 2 || val[used] || !(o->snr_lo >= -20) ||
          !(o->snr_hi <= 100) || !(o->snr_lo <= o->snr_hi)) {
        fprintf(stderr, "train: --noise-snr: '%s' is not LO,HI in dB with -20 <= LO <= HI <= 100\n", val);
        return 2;
      }
      o->noise = 1;
    }
    else if (!strcmp(a, "--gain-db")) { if (ad_parse_double("train", "gain-db", val, 0, 20, &o->gain_db)) return 2; }
    else if (!strcmp(a, "--reverb")) {
      int used = 0;
      if (sscanf(val, "%lf,%lf%n", &o->t60_lo, &o->t60_hi, &used) != 2 || val[used] || !(o->t60_lo >= 0.1) ||
          !(o->t60_hi <= 1) || !(o->t60_lo <= o->t60_hi)) {
        fprintf(stderr, "train: --reverb: '%s' is not LO,HI in seconds with 0.1 <= LO <= HI <= 1\n", val);
        return 2;
      }
      o->reverb = 1;
    }
    else if (!strcmp(a, "--w2v-features")) o->w2v = val;
    else if (!strcmp(a, "--bert-features")) o->bert = val;
    else if (!strcmp(a, "--train-fraction")) { if (ad_parse_double("train", "train-fraction", val, 1e-6, 1, &o->fraction)) return 2; }
    else if (!strcmp(a, "--dropout") || !strcmp(a, "--stoch-depth")) {   /* a rate in [0, 1) */
      double *rate = !strcmp(a, "--dropout") ? &o->dropout : &o->stoch_depth;
      char *end;
      *rate = strtod(val, &end);
      if (end == val || *end || !(*rate >= 0 && *rate < 1)) {
        fprintf(stderr, "train: %s: '%s' is not a rate in [0, 1)\n", a, val);
        return 2;
      }
    }
    else if (!strcmp(a, "--vtlp")) { if (ad_parse_double("train", "vtlp", val, 0, 0.3, &o->vtlp)) return 2; }
    else if (!strcmp(a, "--time-ratio")) { if (ad_parse_double("train", "time-ratio", val, 0, 1, &o->sa.time_mask_ratio)) return 2; o->sa_given = 1; }
    else if (!strcmp(a, "--cmvn")) {
      if (strcmp(val, "utterance") && strcmp(val, "global") && strcmp(val, "speaker")) {
        fprintf(stderr, "train: --cmvn: '%s' is not 'utterance', 'global' or 'speaker'\n", val);
        return 2;
      }
      o->cmvn = !strcmp(val, "global")    ? ASR_CMVN_GLOBAL
                : !strcmp(val, "speaker") ? ASR_CMVN_SPEAKER
                                          : ASR_CMVN_UTTERANCE;
    } else if (!strcmp(a, "--pad")) {
      char *end;
      double d = strtod(val, &end);
      if (end == val || *end || !(d >= 0) || d > 1) {
        fprintf(stderr, "train: --pad: '%s' is not a number of seconds in [0, 1]\n", val);
        return 2;
      }
      o->pad = d;
    } else if (!strcmp(a, "--lr") || !strcmp(a, "--time-limit")) {
      char *end;
      double d = strtod(val, &end);
      if (end == val || *end || !(d > 0) || d > 1e9) {
        fprintf(stderr, "train: %s: '%s' is not a number in (0, 1e9]\n", a, val);
        return 2;
      }
      if (!strcmp(a, "--lr")) o->lr = d;
      else o->time_limit = d;
    } else if (!strcmp(a, "--splice")) {
      int n = 0;
      if (sscanf(val, "%d-%d%n", &o->splice_min, &o->splice_max, &n) != 2 || val[n] || o->splice_min < 1 ||
          o->splice_max < o->splice_min || o->splice_max > 20) {
        fprintf(stderr, "train: --splice: '%s' is not MIN-MAX with 1 <= MIN <= MAX <= 20\n", val);
        return 2;
      }
    } else {
      fprintf(stderr, "train: unknown option %s\n", a);
      return usage();
    }
  }
  if (!o->recipe || !o->data || !o->out) {
    fprintf(stderr, "train: --recipe, --data and --out are required\n");
    return usage();
  }
  if (o->speed_perturb && !o->splice_min) {
    fprintf(stderr, "train: --speed-perturb works on spliced utterances: give --splice MIN-MAX too\n");
    return 2;
  }
  if (o->no_specaug && o->sa_given) {
    fprintf(stderr, "train: --no-specaug turns SpecAugment off: give it without --freq-*/--time-* options\n");
    return 2;
  }
  if (o->bert && !o->w2v) {
    fprintf(stderr, "train: --bert-features needs --w2v-features VQ.npz: the vq-wav2vec model whose units the BERT read\n");
    return 2;
  }
  if (o->w2v && (o->splice_min || o->vtlp > 0 || o->noise || o->reverb || o->gain_db > 0 || o->pad > 0 || o->cmvn)) {
    fprintf(stderr, "train: --w2v-features computes its own features: not with --splice, --vtlp, --noise-snr, --reverb, --gain-db, --pad or --cmvn global/speaker\n");
    return 2;
  }
  if (o->avg_every_given && !o->avg_last) {
    fprintf(stderr, "train: --average-every K sets the spacing of --average-last N's snapshots: give --average-last too\n");
    return 2;
  }
  if (o->avg_last && o->mwer_steps) {
    fprintf(stderr, "train: --average-last averages the main training's snapshots: not with --mwer-steps\n");
    return 2;
  }
  if (o->fraction < 1 && o->splice_min) {
    fprintf(stderr, "train: --train-fraction keeps whole recordings: not with --splice\n");
    return 2;
  }
#if defined(_OPENMP) && defined(ASR_THREADS)
  omp_set_num_threads(o->threads);            /* 1 unless asked: OMP_NUM_THREADS is not read */
#else
  if (o->threads > 1) {
    fprintf(stderr, "train: --threads %d: this train was built without threads (make builds build/train "
            "with -fopenmp -DASR_THREADS)\n", o->threads);
    return 2;
  }
#endif
  return 0;
}

/* ---- data sets */
typedef struct uset {
  int count;
  ad_utt *u;
} uset;

static void uset_free(uset *s) {
  int i;
  for (i = 0; i < s->count; i++) ad_utt_free(&s->u[i]);
  free(s->u);
  memset(s, 0, sizeof *s);
}

static int make_utt(const asr_model *m, ad_utt *u, const asr_real *wave, int n, int rate, const char *text,
                    int speaker, const char *what) {
  asr_error err;
  int ids[1024];
  memset(u, 0, sizeof *u);
  u->speaker = speaker;
  if (ad_model_features(m, &g_fe, wave, n, rate, what, &u->feats, &u->T))
    return 2;
  speaker_norm(m, u->feats, u->T, speaker);
  if (g_keep_wave) {
    u->wave = (asr_real *)malloc(sizeof(asr_real) * (size_t)(n ? n : 1));
    if (!u->wave) return 2;
    memcpy(u->wave, wave, sizeof(asr_real) * (size_t)n);
    u->n = n, u->rate = rate;
  }
  u->S = asr_text_encode(text, ids, 1024, &err);
  if (u->S < 0) {
    fprintf(stderr, "%s: %s\n", what, err.msg);
    return 2;
  }
  u->tokens = (int *)malloc(sizeof(int) * (size_t)(u->S ? u->S : 1));
  u->text = (char *)malloc(strlen(text) + 1);
  if (!u->tokens || !u->text) return 2;
  memcpy(u->tokens, ids, sizeof(int) * (size_t)u->S);
  strcpy(u->text, text);
  return 0;
}

/* Every item whose take passes keep() as it is. */
static int load_plain(const asr_model *m, const ad_list *l, int (*keep)(const ad_item *), uset *s) {
  int i;
  s->u = (ad_utt *)calloc((size_t)l->count, sizeof *s->u);
  if (!s->u) return 2;
  for (i = 0; i < l->count; i++) {
    asr_audio a;
    int r;
    if (keep && !keep(&l->items[i])) continue;
    if (ad_audio_read(l->items[i].path, &a)) return 2;
    r = make_utt(m, &s->u[s->count], a.samples, a.n, a.sample_rate, l->items[i].text, l->items[i].speaker,
                 l->items[i].path);
    asr_audio_free(&a, NULL);
    if (r) {
      ad_utt_free(&s->u[s->count]);
      return 2;
    }
    s->count++;
  }
  return 0;
}

/* ---- spliced utterances (--splice), drawn again at every epoch
 *
 * An utterance is MIN..MAX recordings of one speaker joined with 0.1-0.3 s of pause
 * between them. The pause is Gaussian noise at the background level of the recording
 * before it (asr_noise_floor), not digital silence: exact zeros give log-mel frames at
 * the floor (about -16), which no single recording has, and after the per-utterance
 * normalization a model trained on such pauses does badly on a recording heard alone.
 * The utterance is made at the recordings' own rate, so the noise fills the band the
 * speech does once the model resamples both.
 *
 * With speed perturbation (--speed-perturb; Ko et al., "Audio augmentation for speech
 * recognition", Interspeech 2015, the 0.9/1.0/1.1 of Kaldi's recipes) every utterance is
 * played at one of the three speeds, tempo and pitch together as sox's `speed` does: a
 * recording read at rate r is resampled from f r to r. Recordings are read once and kept
 * for each speed they are used at, so drawing a new set each epoch costs only the
 * features. */
#define SPEEDS 3
static const double speed_factor[SPEEDS] = {0.9, 1.0, 1.1};

typedef struct clip {
  asr_real *x;               /* at the recording's rate, at speed_factor[s] */
  int n, rate;
  double level;              /* asr_noise_floor of x */
} clip;

typedef struct splicer {
  const asr_model *m;
  const ad_list *l;
  int *pick, n_keep, lo, hi, speed;
  clip *at[SPEEDS];          /* per list item, filled when first used */
} splicer;

static void splicer_free(splicer *sp) {
  int s, i;
  for (s = 0; s < SPEEDS; s++) {
    for (i = 0; sp->at[s] && i < sp->l->count; i++) free(sp->at[s][i].x);
    free(sp->at[s]);
  }
  free(sp->pick);
  memset(sp, 0, sizeof *sp);
}

static int splicer_init(splicer *sp, const asr_model *m, const ad_list *l, int (*keep)(const ad_item *), int lo,
                        int hi, int speed) {
  int i, s;
  memset(sp, 0, sizeof *sp);
  sp->m = m, sp->l = l, sp->lo = lo, sp->hi = hi, sp->speed = speed;
  sp->pick = (int *)malloc(sizeof(int) * (size_t)(l->count ? l->count : 1));
  for (s = 0; s < SPEEDS; s++) sp->at[s] = (clip *)calloc((size_t)(l->count ? l->count : 1), sizeof(clip));
  if (!sp->pick || !sp->at[0] || !sp->at[1] || !sp->at[2]) {
    fprintf(stderr, "train: out of memory\n");
    return 2;
  }
  for (i = 0; i < l->count; i++)
    if (!keep || keep(&l->items[i])) sp->pick[sp->n_keep++] = i;
  return 0;
}

/* Recording j at speed s, read (and resampled) when first asked for. */
static int splicer_clip(splicer *sp, int j, int s, const clip **out) {
  clip *c = &sp->at[s][j];
  const char *path = sp->l->items[j].path;
  if (!c->x) {
    asr_audio a;
    int from, len;
    if (ad_audio_read(path, &a)) return 2;
    from = (int)lround(a.sample_rate * speed_factor[s]);
    len = asr_resample_length(a.n, from, a.sample_rate);
    c->x = (asr_real *)malloc(sizeof(asr_real) * (size_t)(len > 0 ? len : 1));
    if (len < 0 || !c->x || asr_resample(c->x, a.samples, a.n, from, a.sample_rate, 6, 0.99) != ASR_OK) {
      fprintf(stderr, "%s: cannot play %d samples at speed %g\n", path, a.n, speed_factor[s]);
      asr_audio_free(&a, NULL);
      return 2;
    }
    c->n = len;
    c->rate = a.sample_rate;
    c->level = asr_noise_floor(c->x, c->n, a.sample_rate);
    asr_audio_free(&a, NULL);
  }
  *out = c;
  return 0;
}

/* A new set: as many utterances as there are kept recordings. */
static int splicer_draw(splicer *sp, asr_rng *rng, uset *s) {
  int i, k;
  memset(s, 0, sizeof *s);
  s->u = (ad_utt *)calloc((size_t)(sp->n_keep ? sp->n_keep : 1), sizeof *s->u);
  if (!s->u) return 2;
  for (i = 0; i < sp->n_keep; i++) {
    const ad_item *first = &sp->l->items[sp->pick[asr_rng_int(rng, sp->n_keep)]];
    int count = sp->lo + asr_rng_int(rng, sp->hi - sp->lo + 1), total = 0, pos = 0, rate = 0;
    int speed = sp->speed ? asr_rng_int(rng, SPEEDS) : 1;
    const clip *chosen[20];
    char text[1024] = "", what[64];
    asr_real *wave;
    for (k = 0; k < count; k++) {
      int j, tries = 0;
      do {                                   /* a recording of the same speaker */
        j = sp->pick[asr_rng_int(rng, sp->n_keep)];
      } while (sp->l->items[j].speaker != first->speaker && ++tries < 10000);
      if (splicer_clip(sp, j, speed, &chosen[k])) return 2;
      if (rate && chosen[k]->rate != rate) {
        fprintf(stderr, "%s: sample rate %d differs from the speaker's other recordings (%d)\n",
                sp->l->items[j].path, chosen[k]->rate, rate);
        return 2;
      }
      rate = chosen[k]->rate;
      total += chosen[k]->n + rate * 3 / 10;
      snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", k ? " " : "", sp->l->items[j].text);
    }
    wave = (asr_real *)malloc(sizeof *wave * (size_t)(total ? total : 1));
    if (!wave) return 2;
    for (k = 0; k < count; k++) {
      if (k) {                                               /* 0.1-0.3 s of pause */
        int gap = rate / 10 + asr_rng_int(rng, rate / 5 + 1), g;
        for (g = 0; g < gap; g++) wave[pos + g] = (asr_real)(chosen[k - 1]->level * asr_rng_normal(rng));
        pos += gap;
      }
      memcpy(wave + pos, chosen[k]->x, sizeof *wave * (size_t)chosen[k]->n);
      pos += chosen[k]->n;
    }
    snprintf(what, sizeof what, "spliced utterance %d", i);
    k = make_utt(sp->m, &s->u[s->count], wave, pos, rate, text, first->speaker, what);
    free(wave);
    if (k) {
      ad_utt_free(&s->u[s->count]);
      return 2;
    }
    s->count++;
  }
  return 0;
}

/* ---- waveform-level augmentation: the features of a training utterance drawn anew
 * (additive white noise at an SNR uniform on [LO, HI] dB, asr_add_noise [Hannun14ds]; then
 * VTLP [Jaitly13]: a warp factor alpha uniform on [1 - D, 1 + D] for the fbank's VTLN
 * warp). The frames are those of the stored features (neither changes a length). */
typedef struct augbuf {
  void *work;
  size_t wbytes;
  asr_real *wave;
  size_t wcap;
  void *rwork;              /* --reverb: asr_reverberate's workspace and the impulse response */
  size_t rwbytes;
  asr_real *rir;
  int rircap;
} augbuf;

/* grow *p to at least `need` bytes; 0 on success */
static int grow(void **p, size_t *cap, size_t need) {
  void *q;
  if (need <= *cap) return 0;
  q = realloc(*p, need);
  if (!q) {
    fprintf(stderr, "train: out of memory\n");
    return 2;
  }
  *p = q, *cap = need;
  return 0;
}

/* --reverb: the utterance in a room drawn at random ([Ko17] trains on simulated rooms
 * the same way): the room's size uniform in [3, 8] x [3, 8] x [2.5, 3.5] m, the source and
 * the microphone uniform inside it at least 0.5 m from every wall (redrawn until 0.5 m
 * apart), T60 uniform in [LO, HI] s and the walls' beta from it by Sabine's formula
 * (asr_rir_beta_sabine; every room here can reach 0.1 s), the speed of sound 343 m/s. The
 * impulse response (asr_rir_image) is cut at T60 / 2, where its energy has fallen by
 * 30 dB; asr_reverberate keeps the recording's length and level. x -> y (n samples). */
static int reverb_wave(const opts *o, const ad_utt *u, asr_rng *rng, augbuf *ab, asr_real *y) {
  double room[3], src[3], mic[3], t60, beta, d2;
  int a, tries = 0, nh;
  asr_result r;
  size_t cap;
  room[0] = 3 + 5 * asr_rng_uniform(rng);
  room[1] = 3 + 5 * asr_rng_uniform(rng);
  room[2] = 2.5 + asr_rng_uniform(rng);
  do {
    for (d2 = 0, a = 0; a < 3; a++) {
      src[a] = 0.5 + (room[a] - 1) * asr_rng_uniform(rng);
      mic[a] = 0.5 + (room[a] - 1) * asr_rng_uniform(rng);
      d2 += (src[a] - mic[a]) * (src[a] - mic[a]);
    }
  } while (d2 < 0.25 && ++tries < 100);
  t60 = o->t60_lo + (o->t60_hi - o->t60_lo) * asr_rng_uniform(rng);
  beta = asr_rir_beta_sabine(room, t60);
  nh = (int)ceil(t60 / 2 * u->rate);
  {
    void *p = ab->rir;
    cap = sizeof(asr_real) * (size_t)ab->rircap;
    if (grow(&p, &cap, sizeof(asr_real) * (size_t)nh)) return 2;
    ab->rir = (asr_real *)p, ab->rircap = (int)(cap / sizeof(asr_real));
  }
  if (grow(&ab->rwork, &ab->rwbytes, asr_reverberate_workspace_size(u->n, nh))) return 2;
  r = beta < 0 ? ASR_ERR_RANGE : asr_rir_image(ab->rir, nh, u->rate, room, src, mic, beta, 343.0);
  if (r == ASR_OK) r = asr_reverberate(y, u->wave, u->n, ab->rir, nh, ab->rwork, ab->rwbytes);
  if (r != ASR_OK) {
    fprintf(stderr, "train: \"%s\": reverberation (T60 %.2f s, room %.1f x %.1f x %.1f m): %s\n", u->text, t60,
            room[0], room[1], room[2], asr_result_string(r));
    return 2;
  }
  return 0;
}

static int augment_features(const asr_model *m, const opts *o, const ad_utt *u, asr_rng *rng, augbuf *ab,
                            asr_real *f) {
  asr_error err;
  double alpha = 1.0;
  size_t need = asr_model_features_workspace_size(m, u->n, u->rate);
  const asr_real *wave = u->wave;
  if (grow(&ab->work, &ab->wbytes, need)) return 2;
  if (o->noise || o->reverb || o->gain_db > 0) {
    void *p = ab->wave;
    size_t cap = sizeof(asr_real) * ab->wcap;
    if (grow(&p, &cap, sizeof(asr_real) * (size_t)u->n)) return 2;
    ab->wave = (asr_real *)p, ab->wcap = cap / sizeof(asr_real);
  }
  if (o->reverb) {                                 /* the room first, then the noise in it */
    if (reverb_wave(o, u, rng, ab, ab->wave)) return 2;
    wave = ab->wave;
  }
  if (o->noise) {
    double snr = o->snr_lo + (o->snr_hi - o->snr_lo) * asr_rng_uniform(rng);   /* SNR ~ U[LO, HI] dB */
    asr_result r;
    r = asr_add_noise(ab->wave, wave, u->n, NULL, 0, snr, rng);
    if (r != ASR_OK) {
      fprintf(stderr, "train: \"%s\": noise at %.1f dB: %s\n", u->text, snr,
              r == ASR_ERR_RANGE ? "the recording is silent (no SNR is defined)" : asr_result_string(r));
      return 2;
    }
    wave = ab->wave;
  }
  if (o->gain_db > 0) {                            /* the level: a gain ~ U[-D, D] dB, drawn after the noise's */
    double gain = -o->gain_db + 2.0 * o->gain_db * asr_rng_uniform(rng);
    asr_result r = asr_apply_gain(ab->wave, wave, u->n, gain);
    if (r != ASR_OK) {
      fprintf(stderr, "train: \"%s\": gain %.1f dB: %s\n", u->text, gain, asr_result_string(r));
      return 2;
    }
    wave = ab->wave;
  }
  if (o->vtlp > 0) alpha = 1.0 - o->vtlp + 2.0 * o->vtlp * asr_rng_uniform(rng);   /* alpha ~ U[1-D, 1+D] */
  if (asr_model_num_frames(m, u->n, u->rate) != u->T ||
      asr_model_features_warped(m, f, wave, u->n, u->rate, alpha, ab->work, ab->wbytes, &err) != ASR_OK) {
    fprintf(stderr, "train: \"%s\": features with warp %g: %s\n", u->text, alpha, err.msg);
    return 2;
  }
  speaker_norm(m, f, u->T, u->speaker);
  return 0;
}

/* Refuses, before training, a --vtlp whose extreme warps the recipe's fbank cannot take. */
static int check_augment(const asr_model *m, const opts *o) {
  char what[64];
  if (!(o->vtlp > 0)) return 0;
  snprintf(what, sizeof what, "train: --vtlp %g", o->vtlp);
  return ad_check_warps(m, 1 - o->vtlp, 1 + o->vtlp, what);
}

/* --cmvn global: the features read so far are unnormalized (the model's statistics are
 * still create's mean 0, std 1); their mean and deviation per bin over the training
 * utterances' frames become the model's, and the training and dev features are normalized
 * with them in place, as asr_model_features normalizes every later one (a new epoch's
 * spliced utterances, the augmented ones, build/transcribe's). 0 or 2. */
static int global_cmvn(asr_model *m, uset *train, uset *dev) {
  int D = m->cfg.n_mels, i, rc = 2;
  long frames = 0;
  double *sum = (double *)calloc((size_t)D * 2, sizeof(double));
  asr_real *mean = (asr_real *)malloc(sizeof(asr_real) * (size_t)D * 2);
  asr_error err;
  if (!sum || !mean) {
    fprintf(stderr, "train: out of memory\n");
  } else {
    for (i = 0; i < train->count; i++) {
      asr_cmvn_accumulate(sum, sum + D, train->u[i].feats, train->u[i].T, D);
      frames += train->u[i].T;
    }
    if (asr_cmvn_finish(mean, mean + D, sum, sum + D, (double)frames, D) != ASR_OK ||
        asr_model_set_cmvn(m, mean, mean + D, &err) != ASR_OK) {
      fprintf(stderr, "train: --cmvn global: no finite statistics over %ld frames\n", frames);
    } else {
      for (i = 0; i < train->count; i++) asr_cmvn_apply(train->u[i].feats, train->u[i].T, D, mean, mean + D);
      for (i = 0; i < dev->count; i++) asr_cmvn_apply(dev->u[i].feats, dev->u[i].T, D, mean, mean + D);
      printf("global CMVN over the %ld training frames\n", frames);
      rc = 0;
    }
  }
  free(sum), free(mean);
  return rc;
}

static int fsdd_train(const ad_item *it) { return it->take >= 10; }
static int fsdd_dev(const ad_item *it);

/* --cmvn speaker: g_spk_stats from the unnormalized features (the model's statistics are
 * still create's mean 0, std 1) of every training and dev recording of each speaker, as
 * read (padded as the model pads; no splicing, no augmentation). 0 or 2. */
static int speaker_cmvn(const asr_model *m, const ad_list *l) {
  int D = m->cfg.n_mels, S = l->n_speakers, i, s, rc = 2;
  double *sum = (double *)calloc((size_t)(S + 1) * 2 * D, sizeof(double));
  long *frames = (long *)calloc((size_t)S + 1, sizeof(long));
  g_spk_stats = (asr_real *)malloc(sizeof(asr_real) * (size_t)(S + 1) * 2 * D);
  if (!sum || !frames || !g_spk_stats) {
    fprintf(stderr, "train: out of memory\n");
    goto done;
  }
  for (i = 0; i < l->count; i++) {
    const ad_item *it = &l->items[i];
    if (!fsdd_train(it) && !fsdd_dev(it)) continue;
    if (ad_file_stats(m, &g_fe, it->path, 0, sum + (size_t)it->speaker * 2 * D, &frames[it->speaker])) goto done;
  }
  for (s = 0; s < S; s++) {                       /* the pooled sums: the speakers' added up */
    for (i = 0; i < 2 * D; i++) sum[(size_t)S * 2 * D + i] += sum[(size_t)s * 2 * D + i];
    frames[S] += frames[s];
  }
  for (s = 0; s <= S; s++) {
    asr_real *mean = g_spk_stats + (size_t)s * 2 * D;
    if (frames[s] == 0 && s < S) {                /* a speaker with test takes only: never used */
      for (i = 0; i < D; i++) mean[i] = 0, mean[D + i] = 1;
      continue;
    }
    if (asr_cmvn_finish(mean, mean + D, sum + (size_t)s * 2 * D, sum + (size_t)s * 2 * D + D, (double)frames[s], D) !=
        ASR_OK) {
      fprintf(stderr, "train: --cmvn speaker: %s: no finite statistics over %ld frames\n",
              s < S ? l->speakers[s] : "the training set", frames[s]);
      goto done;
    }
  }
  printf("per-speaker CMVN: %d speakers, %ld frames\n", S, frames[S]);
  rc = 0;
done:
  free(sum), free(frames);
  return rc;
}
static int fsdd_dev(const ad_item *it) { return it->take >= 5 && it->take <= 9; }

/* ---- batches: utterances sorted by length, cut at batch_frames padded frames */
typedef struct batch {
  int first, count, T, S;
} batch;

static const uset *g_sort_set;
static int g_sort_speaker;    /* --speaker-batches: the speaker first, then the length */
static int cmp_len(const void *a, const void *b) {
  const ad_utt *x = &g_sort_set->u[*(const int *)a], *y = &g_sort_set->u[*(const int *)b];
  if (g_sort_speaker && x->speaker != y->speaker) return x->speaker - y->speaker;
  return x->T != y->T ? x->T - y->T : (int)(x - y);
}

/* by_speaker (--speaker-batches): a batch never holds two speakers' utterances, so that in
 * training every BatchNorm layer normalizes with one voice's statistics, as
 * build/transcribe --adapt-bn does at test time (asr_model_adapt_bn: one speaker's
 * statistics, [Li16]); the default mixes the speakers in every batch. */
static int make_batches(const uset *s, int batch_frames, int by_speaker, int *order, batch **out) {
  int i, n = 0;
  batch *b = (batch *)malloc(sizeof *b * (size_t)(s->count ? s->count : 1));
  if (!b) return -1;
  for (i = 0; i < s->count; i++) order[i] = i;
  g_sort_set = s;
  g_sort_speaker = by_speaker;
  qsort(order, (size_t)s->count, sizeof *order, cmp_len);
  for (i = 0; i < s->count;) {
    batch *c = &b[n++];
    c->first = i;
    c->count = 0;
    c->T = c->S = 0;
    while (i < s->count) {
      const ad_utt *u = &s->u[order[i]];
      int T = u->T > c->T ? u->T : c->T;
      if (c->count && (long)T * (c->count + 1) > batch_frames) break;
      if (c->count && by_speaker && u->speaker != s->u[order[c->first]].speaker) break;
      c->T = T;
      if (u->S > c->S) c->S = u->S;
      c->count++;
      i++;
    }
  }
  *out = b;
  return n;
}

/* What the loop needs for one epoch's batches; grown when a new epoch needs more, never shrunk. */
typedef struct loopbuf {
  int nb, maxN, maxT, maxS, *order, *perm, *lengths, *targets, *tlens;
  batch *batches;
  void *work, *swork;
  size_t wbytes, swbytes;
  asr_real *feats;
} loopbuf;

#define GROW(p, bytes)                                      \
  do {                                                      \
    size_t n_ = (bytes);                                    \
    void *q_ = realloc((p), n_ ? n_ : 1);                   \
    if (!q_) goto oom;                                      \
    (p) = q_;                                               \
  } while (0)

static int prepare_epoch(const asr_model *m, const uset *s, int batch_frames, int by_speaker,
                         const asr_specaug_opts *sa, loopbuf *b) {
  int i, N = 0, T = 0, S = 0, D = m->cfg.n_mels;
  size_t wb = 0, sw;
  free(b->batches);
  b->batches = NULL;
  GROW(b->order, sizeof(int) * (size_t)s->count);
  if ((b->nb = make_batches(s, batch_frames, by_speaker, b->order, &b->batches)) < 0) goto oom;
  GROW(b->perm, sizeof(int) * (size_t)b->nb);
  for (i = 0; i < b->nb; i++) {
    size_t need = asr_model_train_workspace_size(m, b->batches[i].count, b->batches[i].T, b->batches[i].S);
    if (need > wb) wb = need;
    if (b->batches[i].T > T) T = b->batches[i].T;
    if (b->batches[i].S > S) S = b->batches[i].S;
    if (b->batches[i].count > N) N = b->batches[i].count;
  }
  if (wb > b->wbytes) {
    GROW(b->work, wb);
    b->wbytes = wb;
  }
  sw = asr_specaugment_workspace_size(T, D, sa);
  if (sw > b->swbytes || !b->swork) {
    GROW(b->swork, sw);
    b->swbytes = sw;
  }
  if (N > b->maxN || T > b->maxT || S > b->maxS) {
    if (N < b->maxN) N = b->maxN;
    if (T < b->maxT) T = b->maxT;
    if (S < b->maxS) S = b->maxS;
    GROW(b->feats, sizeof(asr_real) * (size_t)N * T * D);
    GROW(b->lengths, sizeof(int) * (size_t)N);
    GROW(b->targets, sizeof(int) * (size_t)N * (S ? S : 1));
    GROW(b->tlens, sizeof(int) * (size_t)N);
    b->maxN = N, b->maxT = T, b->maxS = S;
  }
  return 0;
oom:
  fprintf(stderr, "train: out of memory\n");
  return 2;
}

static void loopbuf_free(loopbuf *b) {
  free(b->order), free(b->perm), free(b->lengths), free(b->targets), free(b->tlens), free(b->batches);
  free(b->work), free(b->swork), free(b->feats);
  memset(b, 0, sizeof *b);
}

/* ---- evaluation: greedy decoding of a set (asr_model_decode), character error rate */
static double evaluate(asr_model *m, const uset *s, void **work, size_t *work_bytes) {
  long errors = 0, ref_len = 0;
  int i;
  for (i = 0; i < s->count; i++) {
    const ad_utt *u = &s->u[i];
    int maxtok = 4 * asr_model_out_frames(m, u->T) + 1, ntok, *tok, *cer_work;
    size_t need = asr_model_decode_workspace_size(m, u->T, 1);
    char hyp[4096];
    asr_error err;
    if (need > *work_bytes) {
      free(*work);
      *work = malloc(need);
      *work_bytes = *work ? need : 0;
      if (!*work) return -1;
    }
    tok = (int *)malloc(sizeof *tok * (size_t)maxtok);
    cer_work = (int *)malloc(sizeof *cer_work * 3 * (strlen(u->text) + sizeof hyp + 2));
    if (!tok || !cer_work ||
        asr_model_decode(m, tok, &ntok, NULL, NULL, maxtok, u->feats, u->T, 1, *work, *work_bytes, &err) != ASR_OK ||
        asr_text_decode(tok, ntok, hyp, sizeof hyp) < 0) {
      free(tok), free(cer_work);
      return -1;
    }
    asr_cer_counts(u->text, hyp, cer_work, &errors, &ref_len);
    free(tok), free(cer_work);
  }
  return ref_len ? (double)errors / ref_len : 0;
}

/* Drops the utterances too short for the encoder (a Conformer needs 7 frames), saying so. */
static void drop_short(const asr_model *m, uset *s, const char *what, int say) {
  int i, k = 0, lo = asr_model_min_frames(m);
  for (i = 0; i < s->count; i++) {
    if (s->u[i].T < lo) {
      if (say)
        printf("note: %s utterance \"%s\" has %d frames, fewer than the %d the encoder needs: left out\n", what,
             s->u[i].text, s->u[i].T, lo);
      ad_utt_free(&s->u[i]);
      continue;
    }
    s->u[k++] = s->u[i];
  }
  s->count = k;
}

static void replace_ext(char *dst, size_t cap, const char *path, const char *ext) {
  size_t n = strlen(path);
  if (n > 4 && !strcmp(path + n - 4, ".npz")) n -= 4;
  snprintf(dst, cap, "%.*s%s", (int)n, path, ext);
}

/* The outputs, MODEL.npz and MODEL.svg, are none of the inputs: not inside a data folder
 * (in[0..n_in-1]) and, when the list is given, none of its recordings (a transcripts.tsv
 * may name files outside its folder). 0 or 2 (examples/outpath.h). `clear`: the first
 * check, at the start, also removes the stale temporaries of both outputs (op_check); the
 * later ones, against inputs found on the way, only check (op_check_only). */
static int out_guard(const char *out, const char *const *in, int n_in, const ad_list *l, int clear) {
  int (*check)(const char *, const char *, const char *const *, int) = clear ? op_check : op_check_only;
  char svg[4096];
  const char **all = (const char **)malloc(sizeof *all * (size_t)(n_in + (l ? l->count : 0) + 1));
  int i, n = 0, r;
  if (!all) return 2;
  for (i = 0; i < n_in; i++) all[n++] = in[i];
  for (i = 0; l && i < l->count; i++) all[n++] = l->items[i].path;
  replace_ext(svg, sizeof svg, out, ".svg");
  r = check("train", out, all, n) || check("train", svg, all, n) ? 2 : 0;
  free(all);
  return r;
}

/* data/toy/train -> data/toy/dev: 1, with that folder's path in sib, when it holds a
 * transcripts.tsv (the default dev set of a transcripts.tsv folder named "...train"). */
static int sibling_dev(const char *data, char *sib, size_t cap) {
  size_t n = strlen(data);
  char tsv[4200];
  FILE *probe;
  while (n > 1 && data[n - 1] == '/') n--;
  if (n < 5 || strncmp(data + n - 5, "train", 5) != 0) return 0;
  snprintf(sib, cap, "%.*sdev", (int)(n - 5), data);
  snprintf(tsv, sizeof tsv, "%s/transcripts.tsv", sib);
  if (!(probe = fopen(tsv, "r"))) return 0;
  fclose(probe);
  return 1;
}

/* ---- --average-last N: a ring of the last N snapshots of the parameters and the running
 * statistics, averaged into the model at the end (asr_model_average: summed in double,
 * oldest first, rounded once) */
typedef struct snapring {
  int n, count, next;   /* capacity, snapshots held, the slot the next one takes */
  asr_model *m;
  long *step;           /* the training step of each slot's snapshot */
} snapring;

static int snap_init(snapring *r, const asr_model *like, int n) {
  asr_rng rng;
  asr_error err;
  int i;
  r->m = (asr_model *)calloc((size_t)n, sizeof *r->m);
  r->step = (long *)calloc((size_t)n, sizeof *r->step);
  if (!r->m || !r->step) {
    fprintf(stderr, "train: out of memory for --average-last's %d snapshots\n", n);
    return 2;
  }
  asr_rng_seed(&rng, 0, 1);       /* its own rng: the training's draws stay those of a run without */
  for (i = 0; i < n; i++) {
    if (asr_model_create(&r->m[i], &like->cfg, &rng, NULL, &err) != ASR_OK) {
      fprintf(stderr, "train: --average-last: %s\n", err.msg);
      return 2;
    }
    r->n++;
  }
  return 0;
}

static void snap_take(snapring *r, const asr_model *m, long step) {
  asr_model *s = &r->m[r->next];
  memcpy(s->params.data, m->params.data, sizeof(asr_real) * m->params.total);
  if (m->buffers.total) memcpy(s->buffers.data, m->buffers.data, sizeof(asr_real) * m->buffers.total);
  r->step[r->next] = step;
  r->next = (r->next + 1) % r->n;
  if (r->count < r->n) r->count++;
}

static long snap_newest(const snapring *r) { return r->count ? r->step[(r->next + r->n - 1) % r->n] : 0; }

/* m = the mean of the snapshots held, oldest first */
static int snap_average(const snapring *r, asr_model *m) {
  const asr_model *in[50];
  asr_error err;
  int k, first = (r->next + r->n - r->count) % r->n;
  for (k = 0; k < r->count; k++) in[k] = &r->m[(first + k) % r->n];
  if (asr_model_average(m, in, r->count, &err) != ASR_OK) {
    fprintf(stderr, "train: --average-last: %s\n", err.msg);
    return 2;
  }
  printf("averaged %d snapshot%s (steps %ld to %ld) into the model written\n", r->count, r->count == 1 ? "" : "s",
         r->step[first], snap_newest(r));
  return 0;
}

static void snap_free(snapring *r) {
  int i;
  for (i = 0; i < r->n; i++) asr_model_free(&r->m[i]);
  free(r->m), free(r->step);
  memset(r, 0, sizeof *r);
}

int main(int argc, char **argv) {
  opts o;
  ad_list list, devlist;
  uset train, dev;
  splicer sp;
  loopbuf lb;
  asr_model m;
  asr_model_config cfg;
  asr_rng rng;
  asr_error err;
  int i, tty, pos;
  long step, epoch = 0;
  size_t ebytes = 0;
  void *ework = NULL;
  asr_real *adam_m = NULL, *adam_v = NULL;
  double *curve_x = NULL, *curve_y = NULL, *dev_x = NULL, *dev_y = NULL, t0, t1, loss_avg = 0;
  int n_dev = 0, status = 2;
  asr_specaug_opts sa;
  asr_adam_opts adam;
  char path[4096];
  splicer sd;
  augbuf ab;
  snapring ring;

  /* every exit after the model exists goes through `done`, which frees what was made */
  memset(&list, 0, sizeof list);
  memset(&devlist, 0, sizeof devlist);
  memset(&train, 0, sizeof train);
  memset(&dev, 0, sizeof dev);
  memset(&sp, 0, sizeof sp);
  memset(&sd, 0, sizeof sd);
  memset(&lb, 0, sizeof lb);
  memset(&ab, 0, sizeof ab);
  memset(&ring, 0, sizeof ring);
  memset(&m, 0, sizeof m);                        /* asr_model_free of a model not made yet: nothing */

  if (parse_args(argc, argv, &o)) return 2;
  {
    const char *dirs[2] = {o.data, o.dev};
    if (out_guard(o.out, dirs, 2, NULL, 1)) return 2;   /* also clears a killed run's temporaries */
  }
  /* the lists, read before any work: the recordings a transcripts.tsv names may lie outside
   * its folder, and the outputs must be none of them either; the dev set's too (--dev, or
   * data/toy/dev beside data/toy/train) */
  if (ad_list_read(&list, o.data) || out_guard(o.out, NULL, 0, &list, 0)) goto done;
  if (o.dev) {
    if (ad_list_read(&devlist, o.dev) || out_guard(o.out, NULL, 0, &devlist, 0)) goto done;
  } else if (list.items[0].take < 0 && sibling_dev(o.data, path, sizeof path)) {
    const char *sibs[1] = {path};
    if (out_guard(o.out, sibs, 1, NULL, 0) || ad_list_read(&devlist, path) || out_guard(o.out, NULL, 0, &devlist, 0))
      goto done;
  }
  if (asr_model_config_default(&cfg, o.recipe) != ASR_OK) {
    fprintf(stderr, "train: unknown recipe '%s' (known:", o.recipe);
    for (i = 0; asr_model_recipe_name(i); i++) fprintf(stderr, " %s", asr_model_recipe_name(i));
    fprintf(stderr, ")\n");
    goto done;
  }
  /* Adam's peak learning rate: 3e-3 for ContextNet, 2e-3 for the Conformer recipes
   * (their attention is less forgiving; 2e-3 is what the measured figures used) and
   * las-pblstm (the las recipe's rate, so the two listeners compare at one setting) */
  if (o.lr < 0) o.lr = cfg.encoder == ASR_ENCODER_CONTEXTNET ? 3e-3 : 2e-3;
  /* the warm-up: a tenth of the steps, at most 500; ctc-attention's Transformer decoder at
   * least 300 (or 3/10 of a shorter run): with 100 (1000 steps) it had 56% dev CER on FSDD
   * at step 500 and answered every single word with two or three, with 300 2.4% at step
   * 500 of a 3000-step run (docs/seq2seq.md; ESPnet warms its Transformers up over 25000) */
  if (o.warmup < 0) {
    o.warmup = (int)(o.steps / 10 < 500 ? o.steps / 10 : 500);
    if (cfg.head == ASR_HEAD_TRANSFORMER && o.warmup < 300) o.warmup = (int)(o.steps * 3 / 10 < 300 ? o.steps * 3 / 10 : 300);
  }
  if (o.nt_uniform_steps >= 0 && cfg.head != ASR_HEAD_NT) {
    fprintf(stderr, "train: --nt-uniform-steps sets the Neural Transducer's first alignments: recipe nt, not %s\n",
            o.recipe);
    goto done;
  }
  if (o.nt_uniform_steps < 0) o.nt_uniform_steps = cfg.head == ASR_HEAD_NT ? NT_UNIFORM_DEFAULT : 0;
  if (o.mwer_steps > 0 && cfg.head != ASR_HEAD_RNNT_LAS) {
    fprintf(stderr, "train: --mwer-steps fine-tunes a second pass: recipe rnnt-las, not %s\n", o.recipe);
    goto done;
  }
  cfg.pad_ms = (int)lround(o.pad * 1000);         /* --pad: the model's front end pads (asr_model_features) */
  cfg.cmvn = o.cmvn;                              /* statistics set when the data is read */
  if (o.sa.freq_mask_param < 0) o.sa.freq_mask_param = cfg.n_mels / 8;
  if (o.sa.freq_mask_param > cfg.n_mels) {
    fprintf(stderr, "train: --freq-width %d is wider than the recipe's %d mel bins\n", o.sa.freq_mask_param,
            cfg.n_mels);
    goto done;
  }
  if (o.w2v) {                                    /* the frozen wav2vec front end */
    const char *ins[2] = {o.w2v, o.bert};
    if (out_guard(o.out, ins, o.bert ? 2 : 1, NULL, 0) || ad_frontend_load(&g_fe, o.w2v, o.bert, "train")) goto done;
    cfg.n_mels = ad_frontend_width(&g_fe);        /* the encoder's input width */
    cfg.front_end = g_fe.kind;                    /* recorded in the checkpoint, with the weights' checksum */
    cfg.front_end_check = ad_frontend_check(&g_fe);
    if (o.sa.freq_mask_param > cfg.n_mels) o.sa.freq_mask_param = cfg.n_mels / 8;
  }
  asr_rng_seed(&rng, o.seed, 1);
  if (asr_model_create(&m, &cfg, &rng, NULL, &err) != ASR_OK) {
    fprintf(stderr, "train: %s\n", err.msg);
    goto done;                                  /* which frees the front end loaded above */
  }
  tty = ad_is_tty() && !o.quiet;
  if (check_augment(&m, &o)) goto done;
  if (o.speaker_batches && m.cfg.encoder == ASR_ENCODER_PBLSTM) {
    fprintf(stderr, "train: --speaker-batches gives BatchNorm layers one speaker's statistics: %s has none\n",
            o.recipe);
    goto done;
  }
  /* --dropout, --stoch-depth: refused here, before any data is read, for a value of 1 or an
   * encoder without ContextNet or Conformer blocks (las-pblstm); drawn from rng */
  if (asr_model_set_regularization(&m, o.dropout, o.stoch_depth, &rng, &err) != ASR_OK) {
    fprintf(stderr, "train: --dropout %g --stoch-depth %g: %s\n", o.dropout, o.stoch_depth, err.msg);
    goto done;
  }

  /* ---- data */
  if (ad_list_select_speakers(&list, o.speakers, o.exclude_speakers, "train")) goto done;
  if (o.fraction < 1) {                           /* the first F of the transcripts (at least one) */
    int keep = (int)ceil(o.fraction * list.count);
    if (list.items[0].take >= 0) {
      fprintf(stderr, "train: --train-fraction reads a transcripts.tsv folder, not FSDD's takes\n");
      goto done;
    }
    if (keep < 1) keep = 1;
    for (i = keep; i < list.count; i++) free(list.items[i].path), free(list.items[i].text);
    printf("training on the first %d of %d transcripts (--train-fraction %g)\n", keep, list.count, o.fraction);
    list.count = keep;
  }
  t0 = ad_now();
  {
    int fsdd = list.items[0].take >= 0;
    int (*keep_train)(const ad_item *) = fsdd ? fsdd_train : NULL;
    /* the options that need each recording's speaker, refused before any utterance's features */
    const char *by_speaker = o.cmvn == ASR_CMVN_SPEAKER ? "--cmvn speaker"
                             : o.speaker_batches        ? "--speaker-batches"
                                                        : NULL;
    if (by_speaker && (!fsdd || (o.cmvn == ASR_CMVN_SPEAKER && (o.dev || devlist.count > 0)))) {
      fprintf(stderr, "train: %s needs each recording's speaker: a folder of FSDD's "
                      "{digit}_{speaker}_{take}.wav names%s\n", by_speaker,
              fsdd ? ", without --dev" : ", not transcripts.tsv");
      goto done;
    }
    if (o.cmvn == ASR_CMVN_SPEAKER && speaker_cmvn(&m, &list)) goto done;
    g_keep_wave = augments_wave(&o);             /* training utterances only, not the dev set */
    if (o.splice_min ? splicer_init(&sp, &m, &list, keep_train, o.splice_min, o.splice_max, o.speed_perturb) ||
                           splicer_draw(&sp, &rng, &train)
                     : load_plain(&m, &list, keep_train, &train))
      goto done;
    g_keep_wave = 0;
    if (o.dev || devlist.count > 0) {            /* --dev, or data/toy/dev (read above) */
      if (load_plain(&m, &devlist, NULL, &dev)) goto done;
    } else if (fsdd) {
      /* the dev set is drawn once, at speed 1 */
      if (o.splice_min ? splicer_init(&sd, &m, &list, fsdd_dev, o.splice_min, o.splice_max, 0) ||
                             splicer_draw(&sd, &rng, &dev)
                       : load_plain(&m, &list, fsdd_dev, &dev))
        goto done;
      splicer_free(&sd);
    }
  }
  drop_short(&m, &train, "training", 1);
  drop_short(&m, &dev, "dev", 1);
  if (train.count == 0) {
    fprintf(stderr, "train: %s: no training utterances\n", o.data);
    goto done;
  }
  {
    long frames = 0;
    for (i = 0; i < train.count; i++) frames += train.u[i].T;
    printf("recipe %s: %lu parameters; %d training utterances (%.1f min%s), %d dev; features in %.1f s\n",
           o.recipe, (unsigned long)m.params.total, train.count, frames / 6000.0,
           o.splice_min ? (o.speed_perturb ? ", spliced anew each epoch, speeds 0.9/1.0/1.1" : ", spliced anew each epoch")
                        : "",
           dev.count, ad_now() - t0);
  }
  if (o.cmvn == ASR_CMVN_GLOBAL && global_cmvn(&m, &train, &dev)) goto done;
  for (i = 0; i < train.count && m.cfg.head == ASR_HEAD_CTC; i++) {
    /* an utterance whose text cannot fit its output frames can never be learned by CTC
     * (a transducer emits any number of labels per frame) */
    if (asr_ctc_min_frames(train.u[i].tokens, train.u[i].S) > asr_model_out_frames(&m, train.u[i].T))
      printf("note: utterance %d (\"%s\") is too short for its transcript at this frame rate\n", i, train.u[i].text);
  }

  /* ---- batches and buffers */
  sa = o.sa;
  if (o.no_specaug) sa.num_freq_masks = sa.num_time_masks = sa.time_warp = 0;  /* and no draws */
  if (prepare_epoch(&m, &train, o.batch_frames, o.speaker_batches, &sa, &lb)) goto done;
  adam_m = (asr_real *)calloc(m.params.total, sizeof(asr_real));
  adam_v = (asr_real *)calloc(m.params.total, sizeof(asr_real));
  curve_x = (double *)malloc(sizeof(double) * (size_t)o.steps);
  curve_y = (double *)malloc(sizeof(double) * (size_t)o.steps);
  dev_x = (double *)malloc(sizeof(double) * (size_t)(o.steps / (o.eval_every ? o.eval_every : 1) + 2));
  dev_y = (double *)malloc(sizeof(double) * (size_t)(o.steps / (o.eval_every ? o.eval_every : 1) + 2));
  if (!adam_m || !adam_v || !curve_x || !curve_y || !dev_x || !dev_y) {
    fprintf(stderr, "train: out of memory\n");
    goto done;
  }
  if (o.avg_last && snap_init(&ring, &m, o.avg_last)) goto done;
  asr_adam_opts_init(&adam, o.lr);
  signal(SIGINT, on_sigint);
  printf("%d batches of at most %d padded frames%s; %ld steps, Adam lr %g, warm-up %d, seed %lu\n", lb.nb,
         o.batch_frames, o.speaker_batches ? ", one speaker each" : "", o.steps, o.lr, o.warmup, o.seed);
  if (o.speaker_batches)   /* docs/training.md: without AdaBN such a model lost up to 14 points on a new voice */
    printf("note: --speaker-batches: the model's running BatchNorm statistics average single voices'; "
           "transcribe it with --adapt-bn\n");

  /* ---- the loop */
  t0 = ad_now();
  pos = lb.nb;
  for (step = 1; step <= o.steps && !g_stop; step++) {
    const batch *bt;
    int n, N, T, S, D = m.cfg.n_mels;
    double loss, gnorm, lr;
    asr_real *gp = m.params.grad;
    size_t gsize = m.params.total;
    asr_result r;
    if (pos == lb.nb) {                          /* a new epoch: new utterances when spliced, a new order */
      if (epoch++ && o.splice_min) {
        int drawn;
        uset_free(&train);
        g_keep_wave = augments_wave(&o);
        drawn = splicer_draw(&sp, &rng, &train);
        g_keep_wave = 0;
        if (drawn) goto done;
        drop_short(&m, &train, "training", 0);
        if (prepare_epoch(&m, &train, o.batch_frames, o.speaker_batches, &sa, &lb)) goto done;
      }
      for (i = 0; i < lb.nb; i++) {
        int j = asr_rng_int(&rng, i + 1);
        lb.perm[i] = lb.perm[j];
        lb.perm[j] = i;
      }
      pos = 0;
    }
    bt = &lb.batches[lb.perm[pos++]];
    N = bt->count, T = bt->T, S = bt->S;
    memset(lb.feats, 0, sizeof(asr_real) * (size_t)N * T * D);
    memset(lb.targets, 0, sizeof(int) * (size_t)N * (S ? S : 1));
    for (n = 0; n < N; n++) {
      const ad_utt *u = &train.u[lb.order[bt->first + n]];
      asr_real *f = lb.feats + (size_t)n * T * D;
      if (augments_wave(&o)) {
        if (augment_features(&m, &o, u, &rng, &ab, f)) goto done;
      } else {
        memcpy(f, u->feats, sizeof(asr_real) * (size_t)u->T * D);
      }
      if (!o.no_specaug && asr_specaugment(f, u->T, D, &sa, &rng, lb.swork, lb.swbytes) != ASR_OK) {
        fprintf(stderr, "train: step %ld: SpecAugment failed\n", step);
        goto done;
      }
      lb.lengths[n] = u->T;
      memcpy(lb.targets + (size_t)n * S, u->tokens, sizeof(int) * (size_t)u->S);
      lb.tlens[n] = u->S;
    }
    asr_params_zero_grad(&m.params);
    /* nt: the flat start's uniform alignments for the first --nt-uniform-steps steps, then
     * the model's own best alignments (asr_model_set_nt_uniform) */
    if (m.cfg.head == ASR_HEAD_NT) asr_model_set_nt_uniform(&m, step <= o.nt_uniform_steps, NULL);
    r = asr_model_train_step(&m, &loss, lb.feats, lb.lengths, lb.targets, lb.tlens, N, T, S, lb.work, lb.wbytes,
                             &err);
    if (r < 0) {
      fprintf(stderr, "train: step %ld: %s\n", step, err.msg);
      goto done;
    }
    if (asr_clip_grad_norm(&gp, &gsize, 1, 5.0, 2.0, &gnorm) != ASR_OK) {
      fprintf(stderr, "train: step %ld: the gradient is not finite (loss %g)\n", step, loss);
      goto done;
    }
    lr = asr_lr_linear_warmup(step, o.lr, o.warmup, o.steps);
    adam.lr = lr;
    asr_adam_step(m.params.data, adam_m, adam_v, NULL, m.params.grad, m.params.total, &adam, step);
    if (o.avg_last && step % o.avg_every == 0) snap_take(&ring, &m, step);
    loss_avg = step == 1 ? loss : 0.95 * loss_avg + 0.05 * loss;
    curve_x[step - 1] = (double)step;
    curve_y[step - 1] = loss;
    {
      double el = ad_now() - t0, eta = el / step * (o.steps - step);
      if (tty) {
        int w = 30, fill = (int)(w * step / o.steps), k;
        printf("\rstep %ld/%ld [", step, o.steps);
        for (k = 0; k < w; k++) putchar(k < fill ? '=' : (k == fill ? '>' : ' '));
        printf("] loss %.3f  %.1f utt/s  ETA %d:%02d ", loss_avg, (double)step * N / el, (int)eta / 60,
               (int)eta % 60);
        fflush(stdout);
      } else if (!o.quiet && (step % 50 == 0 || step == 1)) {
        printf("step %ld/%ld loss %.3f lr %.2e grad-norm %.2f %.1f s\n", step, o.steps, loss_avg, lr, gnorm, el);
        fflush(stdout);
      }
      if (o.time_limit > 0 && el > o.time_limit) {
        printf("%stime limit of %.0f s reached at step %ld\n", tty ? "\n" : "", o.time_limit, step);
        step++;
        break;
      }
    }
    if (o.eval_every && step % o.eval_every == 0 && dev.count) {
      double cer = evaluate(&m, &dev, &ework, &ebytes);
      dev_x[n_dev] = (double)step;
      dev_y[n_dev++] = cer * 100;
      printf("%sstep %ld: dev CER %.2f%% (%d utterances)\n", tty ? "\n" : "", step, cer * 100, dev.count);
    }
  }
  step--;
  if (g_stop) printf("%sinterrupted at step %ld: saving the model\n", tty ? "\n" : "", step);
  else if (tty) printf("\n");
  if (o.avg_last && step > 0) {                  /* the last step is always one of the snapshots */
    if (snap_newest(&ring) != step) snap_take(&ring, &m, step);
    if (snap_average(&ring, &m)) goto done;
    if (n_dev && dev_x[n_dev - 1] == (double)step) n_dev--;   /* the curve's last point: the average's */
  }
  if (o.mwer_steps > 0 && !g_stop) {
    /* MWER fine-tuning of the speller [Prabhavalkar18]: a fresh Adam at lr/10, constant;
     * the batches in order, without SpecAugment (the n-best of the clean features) */
    long ms;
    double mloss = 0, gnorm;
    memset(adam_m, 0, sizeof(asr_real) * m.params.total);
    memset(adam_v, 0, sizeof(asr_real) * m.params.total);
    asr_adam_opts_init(&adam, o.lr / 10);
    t1 = ad_now();
    for (ms = 1; ms <= o.mwer_steps && !g_stop; ms++) {
      const batch *bt = &lb.batches[(ms - 1) % lb.nb];
      int n, N = bt->count, T = bt->T, S = bt->S, D = m.cfg.n_mels;
      asr_real *gp = m.params.grad;
      size_t gsize = m.params.total;
      double l;
      memset(lb.feats, 0, sizeof(asr_real) * (size_t)N * T * D);
      memset(lb.targets, 0, sizeof(int) * (size_t)N * (S ? S : 1));
      for (n = 0; n < N; n++) {
        const ad_utt *u = &train.u[lb.order[bt->first + n]];
        memcpy(lb.feats + (size_t)n * T * D, u->feats, sizeof(asr_real) * (size_t)u->T * D);
        lb.lengths[n] = u->T;
        memcpy(lb.targets + (size_t)n * S, u->tokens, sizeof(int) * (size_t)u->S);
        lb.tlens[n] = u->S;
      }
      asr_params_zero_grad(&m.params);
      if (asr_model_mwer_step(&m, &l, lb.feats, lb.lengths, lb.targets, lb.tlens, N, T, S, 4, 0.01, &err) != ASR_OK) {
        fprintf(stderr, "train: MWER step %ld: %s\n", ms, err.msg);
        goto done;
      }
      if (asr_clip_grad_norm(&gp, &gsize, 1, 5.0, 2.0, &gnorm) != ASR_OK) {
        fprintf(stderr, "train: MWER step %ld: the gradient is not finite (loss %g)\n", ms, l);
        goto done;
      }
      asr_adam_step(m.params.data, adam_m, adam_v, NULL, m.params.grad, m.params.total, &adam, ms);
      mloss = ms == 1 ? l : 0.95 * mloss + 0.05 * l;
      if (!o.quiet && (ms % 50 == 0 || ms == 1)) {
        printf("MWER step %ld/%ld loss %.4f %.1f s\n", ms, o.mwer_steps, mloss, ad_now() - t1);
        fflush(stdout);
      }
    }
    printf("MWER fine-tuning: %ld steps, loss %.4f (running mean), %.1f s\n", ms - 1, mloss, ad_now() - t1);
    if (dev.count) printf("dev CER after MWER %.2f%% (%d utterances)\n", evaluate(&m, &dev, &ework, &ebytes) * 100, dev.count);
  }
  if (dev.count && (n_dev == 0 || dev_x[n_dev - 1] != (double)step)) {
    double cer = evaluate(&m, &dev, &ework, &ebytes);
    dev_x[n_dev] = (double)step;
    dev_y[n_dev++] = cer * 100;
    printf("final dev CER %.2f%% (%d utterances)\n", cer * 100, dev.count);
  }
  if (g_spk_stats) {                              /* the pooled statistics, kept in the checkpoint */
    const asr_real *pooled = g_spk_stats + (size_t)list.n_speakers * 2 * m.cfg.n_mels;
    if (asr_model_set_cmvn(&m, pooled, pooled + m.cfg.n_mels, &err) != ASR_OK) {
      fprintf(stderr, "train: %s\n", err.msg);
      goto done;
    }
  }
  if (asr_model_save(&m, o.out, &err) != ASR_OK) {
    fprintf(stderr, "train: %s\n", err.msg);
    goto done;
  }
  replace_ext(path, sizeof path, o.out, ".svg");
  ad_svg_curve(path, m.cfg.head == ASR_HEAD_CTC    ? "training loss (CTC, per utterance) and dev CER (%)"
               : m.cfg.head == ASR_HEAD_RNNT ? "training loss (RNN-T, per utterance) and dev CER (%)"
               : m.cfg.head == ASR_HEAD_RNNT_LAS ? "training loss (0.5 RNN-T + 0.5 LAS, per utterance) and dev CER (%)"
               : m.cfg.head == ASR_HEAD_NT ? "training loss (Neural Transducer, best alignment, per utterance) and dev CER (%)"
                                             : "training loss (hybrid CTC/attention, per utterance) and dev CER (%)",
               "loss / CER %", curve_x, curve_y,
               (int)step, dev_x, dev_y, n_dev, "training loss", "dev CER %");
  printf("wrote %s (%ld steps, %.1f s) and %s\n", o.out, step, ad_now() - t0, path);
  status = 0;
done:
  ad_frontend_free(&g_fe);
  free(ab.work), free(ab.wave), free(ab.rwork), free(ab.rir);
  free(ework), free(adam_m), free(adam_v), free(curve_x), free(curve_y), free(dev_x), free(dev_y);
  loopbuf_free(&lb);
  snap_free(&ring);
  splicer_free(&sp);
  free(g_spk_stats);
  g_spk_stats = NULL;
  splicer_free(&sd);
  uset_free(&train);
  uset_free(&dev);
  ad_list_free(&list);
  ad_list_free(&devlist);
  asr_model_free(&m);
  return status;
}
