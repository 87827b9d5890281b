/* examples/recognizer/asrdata.h - what build/train and build/transcribe share: reading a data folder
 * (transcripts.tsv, or recordings named as in the Free Spoken Digit Dataset), decoding
 * audio, turning it into the model's features, and printing progress. */
#ifndef ASRDATA_H
#define ASRDATA_H
#include "../../asr.h"

/* One recording and its transcript. */
typedef struct ad_item {
  char *path;           /* full path */
  char *text;           /* normalized transcript ("" for none) */
  int speaker;          /* index into the speakers of the folder (FSDD), else 0 */
  int take;             /* FSDD take index, else -1 */
} ad_item;

typedef struct ad_list {
  int count, cap;
  ad_item *items;
  int n_speakers;
  char speakers[64][32];
} ad_list;

/* Reads DIR/transcripts.tsv (path<TAB>text per line, paths relative to DIR, '#' starts a
 * comment line), or, without it, every DIR/{digit}_{speaker}_{take}.wav (transcript: the
 * English word of the digit). Texts are normalized and checked against the character
 * set. Returns 0, or 2 after printing one line naming the problem. */
int ad_list_read(ad_list *list, const char *dir);
void ad_list_free(ad_list *list);
/* Keeps only the recordings of some speakers of a Free Spoken Digit Dataset folder: with
 * `only` ("a,b,c", or NULL for all) those speakers, then without those in `except` ("d",
 * or NULL). `what` names the program in messages. Speakers are renumbered in the order
 * they remain. Returns 0, or 2 after printing one line: a folder without speaker names
 * (transcripts.tsv), a name the folder does not have, or no recording left. */
int ad_list_select_speakers(ad_list *list, const char *only, const char *except, const char *what);

/* One utterance ready for the model: features (T, n_mels) and token ids. */
typedef struct ad_utt {
  asr_real *feats;
  int T;
  asr_real *wave;           /* the waveform, kept only for waveform-level augmentation */
  int n, rate;              /* its samples and rate */
  int *tokens;
  int S;
  char *text;
  int speaker;              /* the ad_item's speaker (build/train's --cmvn speaker), else -1 */
} ad_utt;

/* Decodes a WAV or Ogg file into *audio (Kaldi's 16-bit scale, channels mixed). 0 or 2. */
int ad_audio_read(const char *path, asr_audio *audio);
/* Features of a waveform for the model; 0 or 2 (message printed, naming `what`). */
int ad_features(const asr_model *m, const asr_real *wave, int n, int sample_rate, const char *what,
                asr_real **feats, int *T);
void ad_utt_free(ad_utt *u);

/* A frozen pretrained front end instead of the fbank (train --w2v-features W2V.npz, or
 * --w2v-features VQ.npz --bert-features BERT.npz; transcribe the same; docs/wav2vec.md):
 * a wav2vec model's context features c, or a BERT's features of a Gumbel vq-wav2vec
 * model's units, on the 16 kHz waveform scaled to [-1, 1), one frame per 10 ms,
 * normalized per utterance (mean 0, variance 1 in each dimension) as the fbank is. */
typedef struct ad_frontend {
  int kind;                 /* asr_front_end; ASR_FRONT_END_FBANK: none loaded */
  asr_w2v_model w2v;
  asr_bert_model bert;
  double vtln_warp;         /* the fbank's VTLN warp factor alpha (build/transcribe --vtln-*); 0 or 1: none */
} ad_frontend;
/* Loads the front end of the options (both NULL: the fbank, kind 0); 0, or 2 after one
 * line naming PROG (a file that does not load, a BERT without its vq-wav2vec model or
 * with another vocabulary, a vq-wav2vec model given as a wav2vec one). */
int ad_frontend_load(ad_frontend *fe, const char *w2v, const char *bert, const char *prog);
void ad_frontend_free(ad_frontend *fe);
/* The features' width (the recognizer's n_mels), and a checksum of the front end's weights
 * (FNV-1a over every tensor's name and float32 values, as a positive int; 0 for the
 * fbank), which train stores as the model's front_end_check. */
int ad_frontend_width(const ad_frontend *fe);
int ad_frontend_check(const ad_frontend *fe);
/* 0 when model m (file MODEL) was trained on this front end (kind and checksum); else 2
 * after one line saying which front end the model needs. */
int ad_frontend_match(const ad_frontend *fe, const asr_model *m, const char *model, const char *prog);
/* ad_features (warped by fe->vtln_warp when set), or the front end's features when one is
 * loaded (fe may be NULL). */
int ad_model_features(const asr_model *m, ad_frontend *fe, const asr_real *wave, int n, int sample_rate,
                      const char *what, asr_real **feats, int *T);
/* Whether the model's fbank takes the VTLN warps lo and hi (its cut-offs must stay
 * ordered, asr_model_features_warped), probed on 0.1 s of silence before any real work:
 * 0, or 2 after one line "WHAT: warp factor A: why". */
int ad_check_warps(const asr_model *m, double lo, double hi, const char *what);
/* Per-speaker CMVN: adds the unnormalized frames of one file to sum (2 D) and *frames (whole
 * with chunk <= 0, else streamed in pieces of chunk seconds). 0 or 2. */
int ad_file_stats(const asr_model *m, ad_frontend *fe, const char *path, double chunk, double *sum, long *frames);

/* A progress line: on a terminal one line redrawn in place, otherwise a plain line every
 * `every` calls. */
int ad_is_tty(void);
double ad_now(void);

/* The beam build/transcribe and build/posteriorgram decode with when none is given: 4 for
 * rnnt-las (its n-best for the second pass), 1 for every other recipe (CTC best path,
 * RNN-T greedy search, the attention recipes' joint search at beam 1). With
 * asr_model_decode_opts_default(m, beam) and asr_model_decode_with, the decoding both
 * programs share: the words posteriorgram writes above its attention rows are transcribe's
 * answer for the same file, model and options. */
int ad_default_beam(const asr_model *m);

/* Writes a line chart of the points (x_i, y_i) as an SVG file (atomically). */
int ad_svg_curve(const char *path, const char *title, const char *ylabel, const double *x,
                 const double *y, int n, const double *x2, const double *y2, int n2,
                 const char *label1, const char *label2);
/* A "viridis"-like colour ramp, t in [0, 1] -> rgb[3]; and an RGB image (w, h) written into
 * an SVG as an embedded PNG <image> at (x, y) scaled to (W, H) (0, or -1 on failure). */
void ad_ramp(double t, unsigned char *rgb);
int ad_svg_png(FILE *fp, const unsigned char *rgb, int w, int h, double x, double y, double W, double H);

/* Every recording of DIR (.wav and .ogg files, sorted by name; no transcripts needed),
 * decoded, resampled to `rate` Hz and scaled to [-1, 1). Returns 0, or 2 after one line
 * (no audio in DIR, a file that does not decode). */
typedef struct ad_waves {
  int count;
  char **paths;         /* (count) */
  asr_real **x;         /* (count) waveforms */
  int *n;               /* (count) their lengths */
} ad_waves;
int ad_waves_read(ad_waves *w, const char *dir, int rate);
void ad_waves_free(ad_waves *w);

/* An option's value S, for program PROG's option --NAME: an integer (ad_parse_long) or a
 * number (ad_parse_double) in [LO, HI] into *V, 0; otherwise one line ("PROG: --NAME: 'S'
 * is not an integer in [LO, HI]") and 2. S may be NULL (a missing value). */
int ad_parse_long(const char *prog, const char *name, const char *s, long lo, long hi, long *v);
int ad_parse_double(const char *prog, const char *name, const char *s, double lo, double hi, double *v);
#endif
