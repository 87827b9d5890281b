/* examples/recognizer/transcribe.c - transcribe audio files with a model trained by build/train.
 *
 *   build/transcribe --model MODEL.npz [--beam N] [--align] [--chunk SECONDS] FILE...
 *   build/transcribe --model MODEL.npz [--beam N] [--chunk SECONDS] --data DIR [--takes A-B] [--speakers A,B | --exclude-speakers C]
 *   build/transcribe --model MODEL.npz [--ctc-weight W] [--penalty P] [--rescore N] ...   (attention recipes)
 *
 * Prints one line per file, in the order given: FILE<TAB>TEXT, TEXT in lower-case words
 * separated by single spaces. Works for every recipe (asr_model_decode): greedy by
 * default (CTC: best path; RNN-T: greedy search); --beam N uses the beam search (CTC:
 * prefix beam search; RNN-T: [Graves12] Algorithm 1) with N hypotheses. The attention
 * recipes (ctc-attention, las) always run the joint CTC/attention beam search of asr.h
 * section 7.4 (beam 1 by default): --ctc-weight W is its lambda (default: the model's
 * ctc_weight; 0 for las, which has no CTC branch), --penalty P ESPnet's per-token bonus,
 * --rescore N replaces it by attention rescoring of the CTC prefix beam search's N best
 * (asr_model_decode_with). The two-pass recipe rnnt-las ([Sainath19]) decodes with the
 * RNN-T beam search (--beam, default 4 there) and rescores its --rescore N best (default:
 * the beam) with its LAS speller: w ln P_rnnt + (1 - w) ln P_las + P |y| with
 * --first-pass-weight w (default 0: the speller's score alone) and --penalty P;
 * --rescore 0 keeps the first pass's answer (accepted by every recipe). The Neural
 * Transducer nt ([Jaitly16], asr.h section 7.6) decodes block by block with asr_nt_greedy
 * (beam 1) or asr_nt_beam_search (--beam N, ranked by ln p + P |y| with --penalty P); the
 * other options above are refused for it.
 * --nbest prints, below a file's line, the hypotheses that second pass ranked
 * (asr_model_decode_nbest; rnnt-las, or an attention recipe with a CTC branch and
 * --rescore N), one line each in the first pass's order:
 * <TAB>#RANK<TAB>FIRST<TAB>SECOND<TAB>COMBINED<TAB>TOKENS<TAB>MARK<TAB>TEXT: the first
 * pass's ln P, the second's, w FIRST + (1 - w) SECOND + P TOKENS, the hypothesis' token
 * count, "*" on the one kept (the file's answer) and "-" on the others, its text one
 * character a token (spaces as the model emitted them; the file's line normalizes
 * them). --nbest-svg OUT.svg draws that list for one FILE (bars of the three scores;
 * docs/seq2seq.md). Both decode each file whole (--chunk 0), without --align or words.
 * --align adds a
 * third column with each word's start and end time in seconds (word@start-end), from
 * the tokens' frames (CTC: their runs in the best or the Viterbi path; RNN-T: the frames
 * that emit them in the Viterbi alignment on the transducer lattice).
 * With --data, the files are those of a data folder as build/train reads it
 * (transcripts.tsv, or Free Spoken Digit Dataset names, optionally only takes A..B and
 * only the speakers of --speakers or not those of --exclude-speakers), and
 * the character and word error rates against its transcripts are printed at the end, on
 * stderr: "CER 1.32% (7/531), WER 3.36% (4/119)".
 * A model trained with --pad pads every recording as it was trained (the checkpoint's
 * pad_ms; asr_model_features); --pad SECONDS overrides that. --align times are those of
 * the recording itself (the padding subtracted).
 * --lexicon FILE (one word a line) and/or --lm LM.arpa (a word n-gram model, e.g. made by
 * `asrtool ngram-train`) decode CTC and RNN-T models (ctc-contextnet, ctc-conformer, rnnt,
 * rnnt-contextnet) with words (asr_model_decode_with's lexicon: asr_ctc_lexicon_decode or
 * asr_rnnt_lexicon_decode): only labellings made of the lexicon's words (without
 * --lexicon: the LM's words), ranked by ln p(l|x) + W ln P_LM(words) + B |words| with
 * --lm-weight W (default 0.5 with --lm) and --word-bonus B (default 0); --beam N is its
 * beam (default 16 there). --align and --chunk work with words as without.
 * --rtf prints, on stderr after the files, the real-time factor: the seconds spent reading,
 * featurizing and decoding every file (the model's loading excluded) over the seconds of
 * audio they hold (make bench prints it for the joint CTC/attention beam search).
 * A file that cannot be read is reported on stderr and the exit status is 2 (the other
 * files are still transcribed).
 *
 * Long recordings in bounded memory: a file is read as a stream (asr_audio_stream_*) and
 * transcribed in windows of --chunk SECONDS (default 30; 0 reads the whole file at once)
 * with CONTEXT_S = 2 s more audio on each side. Each window goes through the model as a
 * recording of its own (features, per-utterance normalization, decoding) and keeps the
 * tokens that start in its middle SECONDS, at their times in the whole recording, so
 * --align stays absolute. Memory is that of one 34 s window whatever the file's length
 * (docs/training.md has the measured figures). A file no longer than SECONDS is one
 * window: the same transcript as with --chunk 0. A longer one can differ from it near the
 * seams, and wherever the window's own feature normalization (mean and variance over
 * 34 s, not the whole file) tips a decision.
 * A model trained with --cmvn speaker normalizes each voice with its own statistics: before
 * the first file is decoded, the mean and deviation of every mel bin over all the files of
 * each speaker (Kaldi's compute-cmvn-stats --spk2utt; with --data, the speakers of FSDD's
 * {digit}_{speaker}_{take}.wav names; otherwise all the files of the run are taken as one
 * speaker's, which a stderr line says). The files are read twice, the first time in pieces
 * of --chunk SECONDS (ad_file_stats), so memory stays that of one window.
 * --vtln-warp A featurizes every file through the mel bank warped by A (Kaldi's VTLN warp,
 * asr.h section 3, docs/fbank.md step 10a; 1: none). --vtln-search estimates each
 * speaker's warp before decoding (the speakers as per-speaker CMVN takes them): the alpha of
 * Kaldi's grid 0.85..1.25 (step 0.01) under which the model finds its own first-pass
 * transcripts of --vtln-files K (default 20) of the speaker's files most likely ([Lee98],
 * the section "VTLN warp per speaker" below), then decodes all of that speaker's files at
 * it; one stderr line per speaker gives the estimate. CTC and RNN-T models only.
 * --adapt-bn adapts the encoder's BatchNorm layers to each speaker before decoding its
 * files (AdaBN, asr_model_adapt_bn): their running statistics become the mean statistics of
 * the speaker's recordings (featurized as they are decoded, in batches of 16 files), no
 * transcript used; the checkpoint's own statistics are not kept for anyone. Not for
 * las-pblstm (no BatchNorm). A model trained with train --speaker-batches (BatchNorm on one
 * voice at a time) is meant to be decoded with it (docs/training.md).
 * A model trained on a pretrained front end (train --w2v-features W2V.npz [--bert-features
 * BERT.npz]) needs the same options here, with the same files: the checkpoint records
 * which front end it read and a checksum of its weights, and another is refused. */
#define _POSIX_C_SOURCE 200809L
#include "asrdata.h"
#include "../outpath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT_S 2.0

/* --w2v-features / --bert-features: the pretrained front end a model was trained on
 * (train's options of the same names; the checkpoint's front_end and front_end_check say
 * which, and a model is refused with another) */
static ad_frontend g_fe;
static double g_audio_s = 0;   /* --rtf: seconds of audio read, every file */

static int usage(void) {
  fprintf(stderr, "usage: transcribe --model MODEL.npz [--beam N] [--align] [--pad SECONDS] [--chunk SECONDS] FILE...\n"
                  "       transcribe --model MODEL.npz [--beam N] [--align] [--pad SECONDS] [--chunk SECONDS] --data DIR\n"
                  "                  [--takes A-B] [--speakers A,B,... | --exclude-speakers A,B,...]\n"
                  "       either, with [--lexicon WORDS.txt] [--lm LM.arpa [--lm-weight W]] [--word-bonus B]\n"
                  "  a model trained on a pretrained front end: the same --w2v-features W2V.npz [--bert-features BERT.npz]\n"
                  "  attention recipes (ctc-attention, las): [--ctc-weight W (0..1)] [--penalty P] [--rescore N]\n"
                  "  two-pass recipe (rnnt-las): [--first-pass-weight W (0..1)] [--penalty P]\n"
                  "                  [--rescore N (0: first pass)]\n"
                  "  Neural Transducer (nt): [--penalty P] (a length bonus for --beam N > 1)\n"
                  "  a second pass's hypotheses and both scores (rnnt-las; attention recipes with --rescore N):\n"
                  "                  [--nbest] [--nbest-svg OUT.svg (one FILE)]\n"
                  "  [--rtf]: print the real-time factor (decoding time / audio time) on stderr\n"
                  "  a VTLN warp: [--vtln-warp A] or, per speaker (CTC and RNN-T models), [--vtln-search [--vtln-files K]]\n"
                  "  [--adapt-bn]: each speaker's BatchNorm statistics from its files (AdaBN) before decoding them\n");
  return 2;
}

/* The tokens of a recording so far, with their start and end times in seconds of the
 * recording (a token's start: the start of its first output frame; end: the end of its
 * last; the padding subtracted). */
typedef struct hyp {
  int *tok, n, cap;
  double *t0, *t1;
} hyp;

static int hyp_add(hyp *h, int tok, double t0, double t1) {
  if (tok == 1 && (h->n == 0 || h->tok[h->n - 1] == 1)) return 0;  /* no leading or double space */
  if (h->n == h->cap) {
    int cap = h->cap ? 2 * h->cap : 256;
    int *nt = (int *)realloc(h->tok, sizeof(int) * (size_t)cap);
    double *n0, *n1;
    if (nt) h->tok = nt;
    n0 = (double *)realloc(h->t0, sizeof(double) * (size_t)cap);
    if (n0) h->t0 = n0;
    n1 = (double *)realloc(h->t1, sizeof(double) * (size_t)cap);
    if (n1) h->t1 = n1;
    if (!nt || !n0 || !n1) return 2;
    h->cap = cap;
  }
  h->tok[h->n] = tok, h->t0[h->n] = t0, h->t1[h->n++] = t1;
  return 0;
}

static void hyp_free(hyp *h) {
  free(h->tok), free(h->t0), free(h->t1);
  memset(h, 0, sizeof *h);
}

/* Word timings: a word spans its first character's start to its last character's end;
 * times inside the padding become 0. */
static double at(double t) { return t > 0 ? t : 0; }

static void print_alignment(const hyp *h) {
  const int *tok = h->tok;
  int n = h->n;
  int i, ws = -1, wl = 0, words = 0;
  char word[256];
  printf("\t");
  for (i = 0; i <= n; i++) {
    if (i == n || tok[i] == 1) {               /* a space or the end closes a word */
      if (wl) {
        word[wl] = 0;
        printf("%s%s@%.2f-%.2f", words++ ? " " : "", word, at(h->t0[ws]), at(h->t1[i - 1]));
      }
      wl = 0;
      ws = -1;
      continue;
    }
    if (ws < 0) ws = i;
    if (wl < (int)sizeof word - 1) word[wl++] = ASR_CHARSET[tok[i]];
  }
}

/* ---- decoding with words (--lexicon, --lm): asr.h section 5, "Words" */

/* Reads the lexicon and the LM (either may be absent; without --lexicon the LM's own
 * words are the lexicon). 0, or 2 after one line. */
static int words_open(const asr_model *m, const char *lexicon_path, const char *lm_path, double *lm_weight,
                      asr_lexicon *lex, asr_ngram *lm) {
  asr_error err;
  memset(lex, 0, sizeof *lex);
  memset(lm, 0, sizeof *lm);
  if (!lexicon_path && !lm_path) {
    if (*lm_weight >= 0) {
      fprintf(stderr, "transcribe: --lm-weight needs --lm\n");
      return 2;
    }
    return 0;
  }
  if (m->cfg.head != ASR_HEAD_CTC && m->cfg.head != ASR_HEAD_RNNT) {
    fprintf(stderr, "transcribe: --lexicon and --lm decode CTC and RNN-T models (ctc-contextnet, ctc-conformer, rnnt, "
                    "rnnt-contextnet), not %s\n", m->cfg.recipe);
    return 2;
  }
  if (*lm_weight < 0) *lm_weight = lm_path ? 0.5 : 0;
  if (lm_path && asr_ngram_read_arpa(lm, lm_path, &err) != ASR_OK) {
    fprintf(stderr, "transcribe: %s\n", err.msg);
    return 2;
  }
  if (lexicon_path) {
    if (asr_lexicon_read(lex, lexicon_path, ASR_CHARSET, 0, 1, &err) != ASR_OK) {
      fprintf(stderr, "transcribe: %s\n", err.msg);
      return 2;
    }
  } else {
    /* the LM's words, less <s>, </s> and <unk> (ids 0-2) */
    if (asr_lexicon_build(lex, (const char *const *)lm->words + 3, lm->n_words - 3, ASR_CHARSET, 0, 1, &err) !=
        ASR_OK) {
      fprintf(stderr, "transcribe: %s: %s\n", lm_path, err.msg);
      return 2;
    }
  }
  return 0;
}

/* ---- the n-best of a second pass (--nbest, --nbest-svg): asr_model_decode_nbest */

/* The hypotheses of one recording (rows of `stride` tokens), both passes' scores and the
 * combined one, the index kept. */
typedef struct nblist {
  int n, best, stride;
  int *tok, *len;
  double *first, *second, *comb;
} nblist;

static void nblist_free(nblist *nb) {
  free(nb->tok), free(nb->len), free(nb->first), free(nb->second), free(nb->comb);
  memset(nb, 0, sizeof *nb);
}

/* Decodes feats (T frames) into nb (its rows maxtok tokens long). 0, or 2 after one line. */
static int nbest_decode(asr_model *m, nblist *nb, const asr_real *feats, int T, int maxtok,
                        const asr_model_decode_opts *o, void *work, size_t wb, const char *what) {
  asr_error err;
  int k = o->rescore;
  nblist_free(nb);
  nb->stride = maxtok;
  nb->tok = (int *)malloc(sizeof(int) * (size_t)k * maxtok);
  nb->len = (int *)malloc(sizeof(int) * (size_t)k);
  nb->first = (double *)malloc(sizeof(double) * (size_t)k);
  nb->second = (double *)malloc(sizeof(double) * (size_t)k);
  nb->comb = (double *)malloc(sizeof(double) * (size_t)k);
  if (!nb->tok || !nb->len || !nb->first || !nb->second || !nb->comb) {
    fprintf(stderr, "%s: out of memory\n", what);
    return 2;
  }
  if (asr_model_decode_nbest(m, nb->tok, nb->len, nb->first, nb->second, nb->comb, &nb->n, &nb->best, maxtok, feats,
                             T, o, work, wb, &err) != ASR_OK) {
    fprintf(stderr, "%s: %s\n", what, err.msg);
    return 2;
  }
  if (nb->n < 1) {                             /* an empty CTC n-best: nothing to rank */
    fprintf(stderr, "%s: the first pass gave no hypothesis\n", what);
    return 2;
  }
  return 0;
}

/* Hypothesis i's text, one character a token: its spaces as the model emitted them (two
 * hypotheses may differ only there; asr_text_decode would normalize them away). */
static void nbest_text(const nblist *nb, int i, char *text, size_t cap) {
  int k, n = nb->len[i] < (int)cap - 1 ? nb->len[i] : (int)cap - 1;
  for (k = 0; k < n; k++) {
    int id = nb->tok[(size_t)i * nb->stride + k];
    text[k] = id > 0 && id < ASR_CHARSET_SIZE ? ASR_CHARSET[id] : '?';
  }
  text[n] = 0;
}

/* --nbest: after the file's line, one line per hypothesis in the first pass's order:
 * <TAB>#RANK<TAB>FIRST<TAB>SECOND<TAB>COMBINED<TAB>TOKENS<TAB>MARK<TAB>TEXT, MARK "*" on
 * the hypothesis kept and "-" on the others. */
static void nbest_print(const nblist *nb) {
  char text[4096];
  int i;
  for (i = 0; i < nb->n; i++) {
    nbest_text(nb, i, text, sizeof text);
    printf("\t#%d\t%.6f\t%.6f\t%.6f\t%d\t%s\t%s\n", i + 1, nb->first[i], nb->second[i], nb->comb[i], nb->len[i],
           i == nb->best ? "*" : "-", text);
  }
}

/* --nbest-svg OUT.svg: each hypothesis a row, its text then three horizontal bars on one
 * scale: the first pass's ln P, the second pass's, the combined score; a bar's length is
 * -score (shorter is better), each column's best bar dark, the row kept in bold with a
 * tinted background. 0, or 2 after one line. */
static int nbest_svg(const char *path, const nblist *nb, const asr_model *m, const asr_model_decode_opts *o,
                     const char *file) {
  static const char *const dark[3] = {"#1f77b4", "#d62728", "#2ca02c"}, *const light[3] = {"#aec7e8", "#ff9896",
                                                                                          "#98df8a"};
  int twopass = m->cfg.head == ASR_HEAD_RNNT_LAS, i, c, top[3] = {0, 0, 0};
  const char *head[3];
  double x0 = 20, tw = 300, bw = 200, gap = 30, rh = 26, y0 = 92, scale = 0, W, H;
  char text[4096], *buf = NULL;
  size_t blen = 0;
  asr_error err;
  FILE *fp;
  head[0] = twopass ? "first pass: RNN-T ln P" : "first pass: CTC ln p";
  head[1] = twopass ? "second pass: LAS ln P" : "second pass: attention ln p";
  head[2] = "combined";
  for (i = 0; i < nb->n; i++) {
    const double v[3] = {nb->first[i], nb->second[i], nb->comb[i]};
    for (c = 0; c < 3; c++) {
      const double t[3] = {nb->first[top[0]], nb->second[top[1]], nb->comb[top[2]]};
      if (v[c] > t[c]) top[c] = i;
      if (isfinite(v[c]) && -v[c] > scale) scale = -v[c];
    }
  }
  if (!(scale > 0)) scale = 1;
  W = x0 + tw + 3 * (bw + gap) + 20;
  H = y0 + nb->n * rh + 50;
  fp = open_memstream(&buf, &blen);
  if (!fp) {
    fprintf(stderr, "transcribe: out of memory\n");
    return 2;
  }
  fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
              "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
  fprintf(fp, "<text x=\"%.0f\" y=\"22\" font-size=\"14\">%s (%s): the %d-best of the %s, rescored by the %s</text>\n",
          x0, file, m->cfg.recipe, nb->n, twopass ? "RNN-T beam search" : "CTC prefix beam search",
          twopass ? "LAS speller" : "attention decoder");
  fprintf(fp, "<text x=\"%.0f\" y=\"42\">combined = %g &#215; first + %g &#215; second + %g &#215; tokens "
              "(--first-pass-weight %g, --penalty %g); bars: &#8722;score, one scale, shorter is better</text>\n",
          x0, o->ctc_weight, 1 - o->ctc_weight, o->penalty, o->ctc_weight, o->penalty);
  fprintf(fp, "<text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">hypothesis (first pass's order)</text>\n", x0, y0 - 14);
  for (c = 0; c < 3; c++)
    fprintf(fp, "<text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">%s</text>\n", x0 + tw + c * (bw + gap), y0 - 14,
            head[c]);
  for (i = 0; i < nb->n; i++) {
    const double v[3] = {nb->first[i], nb->second[i], nb->comb[i]};
    double y = y0 + i * rh;
    int kept = i == nb->best;
    nbest_text(nb, i, text, sizeof text);
    if (kept)
      fprintf(fp, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff3c4\"/>\n", x0 - 6, y - 2,
              W - 2 * x0 + 12, rh);
    fprintf(fp, "<text x=\"%.0f\" y=\"%.0f\" xml:space=\"preserve\"%s>%d. \"%s\"%s</text>\n", x0, y + 15,
            kept ? " font-weight=\"bold\"" : "",
            i + 1, text, kept ? " (kept)" : "");
    for (c = 0; c < 3; c++) {
      double bx = x0 + tw + c * (bw + gap), len = isfinite(v[c]) ? -v[c] / scale * (bw - 60) : 0;
      if (len < 0) len = 0;
      if (isfinite(v[c]))
        fprintf(fp, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\"/>\n", bx, y + 3, len,
                rh - 8, i == top[c] ? dark[c] : light[c]);
      fprintf(fp, "<text x=\"%.1f\" y=\"%.0f\">%s%.2f</text>\n", bx + len + 4, y + 15, v[c] < 0 ? "&#8722;" : "",
              fabs(v[c]));
    }
  }
  fprintf(fp, "<text x=\"%.0f\" y=\"%.0f\">dark bar: the best of its column; kept: the best combined score, "
              "transcribe's answer</text>\n</svg>\n", x0, y0 + nb->n * rh + 26);
  fclose(fp);
  if (!buf || asr_write_file_atomic(path, buf, blen, &err) != ASR_OK) {
    fprintf(stderr, "transcribe: %s\n", buf ? err.msg : "out of memory");
    free(buf);
    return 2;
  }
  free(buf);
  return 0;
}

/* One window: wave (n samples at rate) starting `offset` seconds into the recording, as a
 * recording of its own; keeps the tokens that start in [lo, hi) seconds. The decoder is
 * asked for token times only when they are used (--align, or a window that is not the
 * whole recording): an attention model decoded with --ctc-weight 0 can say more than its
 * CTC branch can align. 0 or 2. */
static int decode_window(asr_model *m, const asr_real *wave, int n, int rate, double offset, double lo, double hi,
                         const asr_model_decode_opts *o, int align, const char *what, hyp *h, nblist *nb) {
  asr_real *feats = NULL;
  int T, Tout, maxtok, ntok = 0, *tok = NULL, *st = NULL, *en = NULL, i, r = 2;
  double fs = 0.010 * asr_model_subsampling(m), shift = offset - m->cfg.pad_ms / 1000.0;
  size_t wb;
  void *work = NULL;
  asr_error err;
  int spans = align || lo > -INFINITY || hi < INFINITY;
  if (ad_model_features(m, &g_fe, wave, n, rate, what, &feats, &T)) return 2;
  if (T < asr_model_min_frames(m)) {   /* before sizing: the workspace sizes are SIZE_MAX then */
    fprintf(stderr, "%s: %d feature frames are too short for the encoder's subsampling (%s needs %d)\n", what, T,
            m->cfg.recipe, asr_model_min_frames(m));
    free(feats);
    return 2;
  }
  Tout = asr_model_out_frames(m, T);
  maxtok = 4 * Tout + 1;                      /* RNN-T may emit several tokens a frame */
  wb = asr_model_decode_with_workspace_size(m, T, o);
  work = malloc(wb);
  tok = (int *)malloc(sizeof *tok * (size_t)maxtok);
  st = (int *)malloc(sizeof *st * (size_t)maxtok);
  en = (int *)malloc(sizeof *en * (size_t)maxtok);
  if (!work || !tok || !st || !en) fprintf(stderr, "%s: out of memory\n", what);
  else if (nb) {
    if (nbest_decode(m, nb, feats, T, maxtok, o, work, wb, what) == 0) {
      for (r = 0, i = 0; i < nb->len[nb->best] && !r; i++) r = hyp_add(h, nb->tok[(size_t)nb->best * maxtok + i], 0, 0);
      if (r) fprintf(stderr, "%s: out of memory\n", what);
    }
  } else if (asr_model_decode_with(m, tok, &ntok, spans ? st : NULL, spans ? en : NULL, maxtok, feats, T, o, work,
                                   wb, &err) != ASR_OK)
    fprintf(stderr, "%s: %s\n", what, err.msg);
  else {
    /* output frames are 10 ms fbank frames times the encoder's subsampling */
    for (r = 0, i = 0; i < ntok && !r; i++)
      if (!spans) r = hyp_add(h, tok[i], 0, 0);
      else if (st[i] * fs + shift >= lo && st[i] * fs + shift < hi)
        r = hyp_add(h, tok[i], st[i] * fs + shift, (en[i] + 1) * fs + shift);
    if (r) fprintf(stderr, "%s: out of memory\n", what);
  }
  free(feats), free(tok), free(st), free(en), free(work);
  return r;
}

/* A recording in windows of `chunk` seconds with CONTEXT_S on each side, read as a stream:
 * buf holds samples [b0, b0 + have) of the file. 0 or 2. */
static int transcribe_chunked(asr_model *m, const char *path, double chunk, const asr_model_decode_opts *o, int align,
                              hyp *h) {
  asr_audio_stream s;
  asr_error err;
  asr_real *buf = NULL;
  int64_t L, C, b0 = 0, have = 0, cap, k;
  int eof = 0, r = 2;
  if (asr_audio_stream_open(&s, path, ASR_CHANNEL_MIX, ASR_SCALE_INT16, NULL, &err) != ASR_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 2;
  }
  L = (int64_t)llround(chunk * s.sample_rate);
  C = (int64_t)llround(CONTEXT_S * s.sample_rate);
  cap = L + 2 * C;
  buf = (asr_real *)malloc(sizeof *buf * (size_t)cap);
  if (!buf) fprintf(stderr, "%s: out of memory\n", path);
  for (k = 0; buf; k++) {
    int64_t ws = k * L - C > 0 ? k * L - C : 0, we = (k + 1) * L + C;
    int last;
    if (ws > b0) {                              /* drop what no window needs any more */
      int64_t drop = ws - b0 < have ? ws - b0 : have;
      memmove(buf, buf + drop, sizeof *buf * (size_t)(have - drop));
      have -= drop, b0 += drop;
    }
    while (!eof && b0 + have < we) {            /* read up to the window's end */
      int got = asr_audio_stream_read(&s, buf + have, (int)(cap - have < we - b0 - have ? cap - have : we - b0 - have),
                                      &err);
      if (got < 0) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        goto done;
      }
      if (got == 0) eof = 1;
      have += got;
    }
    last = eof && b0 + have <= (k + 1) * L;
    if (decode_window(m, buf + (ws - b0), (int)(b0 + have - ws), s.sample_rate, (double)ws / s.sample_rate,
                      k ? (double)(k * L) / s.sample_rate : -INFINITY,
                      last ? INFINITY : (double)((k + 1) * L) / s.sample_rate, o, align, path, h, NULL))
      goto done;
    if (last) break;
  }
  r = buf ? 0 : 2;
  g_audio_s += (double)(b0 + have) / s.sample_rate;   /* the whole stream has been read */
done:
  free(buf);
  asr_audio_stream_close(&s);
  return r;
}

/* Per-speaker CMVN (a model with cfg.cmvn ASR_CMVN_SPEAKER): st (2 D, mean then std) of
 * speaker g from its files (group[i] == g), featurized as g_fe says (its VTLN warp too); a
 * speaker without frames gets the identity. The model's statistics must be the identity.
 * A file that cannot be read is reported once and marked in skip (nfiles; files marked
 * there are left out). 0; 1 when a file could not be read (the statistics of the others
 * are complete); 2 on a failure that leaves no statistics. */
static int voice_stats(const asr_model *m, const char **files, const int *group, int nfiles, int g, double chunk,
                       unsigned char *skip, asr_real *st) {
  int D = m->cfg.n_mels, i, d, bad = 0;
  long frames = 0;
  double *sum = (double *)calloc(2 * (size_t)D, sizeof(double));
  if (!sum) {
    fprintf(stderr, "transcribe: out of memory\n");
    return 2;
  }
  for (i = 0; i < nfiles; i++)   /* a file that cannot be read: reported once, left out (and not decoded) */
    if (group[i] == g && !skip[i] && ad_file_stats(m, &g_fe, files[i], chunk, sum, &frames)) bad = skip[i] = 1;
  if (frames == 0) {
    for (d = 0; d < D; d++) st[d] = 0, st[D + d] = 1;
  } else if (asr_cmvn_finish(st, st + D, sum, sum + D, (double)frames, D) != ASR_OK) {
    fprintf(stderr, "transcribe: per-speaker CMVN: no finite statistics over %ld frames\n", frames);
    bad = 2;
  }
  free(sum);
  return bad;
}

/* Sets the model's statistics to the identity (mean 0, std 1: unnormalized frames). 0 or 2. */
static int cmvn_identity(asr_model *m) {
  int D = m->cfg.n_mels, d, r = 0;
  asr_real *id = (asr_real *)malloc(sizeof(asr_real) * 2 * (size_t)D);
  asr_error err;
  if (!id) r = 2;
  for (d = 0; id && d < D; d++) id[d] = 0, id[D + d] = 1;
  if (id && asr_model_set_cmvn(m, id, id + D, &err) != ASR_OK) r = 2;
  if (r) fprintf(stderr, "transcribe: %s\n", id ? err.msg : "out of memory");
  free(id);
  return r;
}

/* The statistics (G x 2 D) of each of the G speakers, at each one's warp (warp[g]; NULL:
 * none). The model's statistics are the identity afterwards. 0, 1 or 2 as voice_stats. */
static int speaker_stats(asr_model *m, const char **files, const int *group, int nfiles, int G, double chunk,
                         const double *warp, unsigned char *skip, asr_real *stats) {
  int g, r, bad = 0;
  if (cmvn_identity(m)) return 2;
  for (g = 0; g < G; g++) {
    g_fe.vtln_warp = warp ? warp[g] : 0;
    r = voice_stats(m, files, group, nfiles, g, chunk, skip, stats + (size_t)g * 2 * m->cfg.n_mels);
    if (r == 2) return 2;
    bad |= r;
  }
  g_fe.vtln_warp = 0;
  return bad;
}

/* ---- VTLN warp per speaker (--vtln-warp A, --vtln-search): asr.h section 3's warped bank
 *
 * --vtln-search estimates each speaker's warp factor by maximum likelihood on a grid, as
 * [Lee98] (L. Lee, R. Rose, "A frequency warping approach to speaker normalization", IEEE
 * Trans. Speech Audio Process. 6(1), 1998) does with an HMM recognizer:
 *     alpha_s = argmax_{alpha in grid} sum_{i in E_s} ln p(W_i | X_i^alpha)
 * W_i the first-pass transcript of recording i (decoded unwarped, alpha = 1), X_i^alpha
 * its features through the bank warped by alpha (asr_model_features_warped), E_s up to
 * --vtln-files K recordings of speaker s spread evenly over its files, and ln p the
 * model's own full-sum log-likelihood of a labelling (asr_model_loss: CTC or RNN-T). A
 * model with per-speaker CMVN has its statistics recomputed at every alpha (the speaker's
 * files warped alike), so each alpha is judged as it would be decoded. The grid is Kaldi's
 * VTLN grid (steps/train_lvtln.sh: min_warp 0.85, max_warp 1.25, warp_step 0.01). Every
 * file of the speaker is then decoded at its alpha_s. A speaker's transcripts do not move
 * the estimate of another's. */
#define VTLN_LO 0.85
#define VTLN_STEP 0.01
#define VTLN_N 41   /* 0.85, 0.86, ..., 1.25 */

/* A recording's samples (malloc), rate. */
typedef struct clip {
  asr_real *x;
  int n, rate;
} clip;

/* The first `secs` seconds (all with secs <= 0) of a recording: bounded memory for a long
 * one. 0 or 2. */
static int read_head(const char *path, double secs, clip *a) {
  asr_audio_stream s;
  asr_error err;
  int64_t cap;
  int got = 0;
  memset(a, 0, sizeof *a);
  if (secs <= 0) {
    asr_audio w;
    if (ad_audio_read(path, &w)) return 2;
    a->x = (asr_real *)malloc(sizeof(asr_real) * ((size_t)w.n + 1));
    if (a->x) memcpy(a->x, w.samples, sizeof(asr_real) * (size_t)w.n), a->n = w.n, a->rate = w.sample_rate;
    else fprintf(stderr, "%s: out of memory\n", path);
    asr_audio_free(&w, NULL);
    return a->x ? 0 : 2;
  }
  if (asr_audio_stream_open(&s, path, ASR_CHANNEL_MIX, ASR_SCALE_INT16, NULL, &err) != ASR_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 2;
  }
  cap = (int64_t)llround(secs * s.sample_rate);
  a->x = (asr_real *)malloc(sizeof(asr_real) * (size_t)cap);
  a->rate = s.sample_rate;
  while (a->x && a->n < cap && (got = asr_audio_stream_read(&s, a->x + a->n, (int)(cap - a->n), &err)) > 0)
    a->n += got;
  asr_audio_stream_close(&s);
  if (!a->x || got < 0) {
    fprintf(stderr, "%s: %s\n", path, a->x ? err.msg : "out of memory");
    free(a->x), a->x = NULL;
    return 2;
  }
  return 0;
}

/* ln p(tok | features of wave at g_fe's warp), the model's -loss; -inf when the labelling
 * cannot fit. 0 or 2. */
static int labelling_lnp(asr_model *m, const clip *a, const int *tok, int ntok, const char *what, double *lnp) {
  asr_real *feats = NULL;
  int T, r = 2;
  double loss;
  void *work = NULL;
  size_t wb;
  asr_error err;
  if (ad_model_features(m, &g_fe, a->x, a->n, a->rate, what, &feats, &T)) return 2;
  wb = asr_model_train_workspace_size(m, 1, T, ntok);
  work = wb == SIZE_MAX ? NULL : malloc(wb);
  if (!work) fprintf(stderr, "%s: out of memory\n", what);
  else if (asr_model_loss(m, &loss, feats, &T, ntok ? tok : NULL, &ntok, 1, T, ntok, work, wb, &err) != ASR_OK)
    fprintf(stderr, "%s: %s\n", what, err.msg);
  else *lnp = -loss, r = 0;
  free(feats), free(work);
  return r;
}

/* The first-pass transcript of a recording at g_fe's warp (the decoding options o), as the
 * file's line would print it: decode_window's tokens (no leading or doubled space), the
 * trailing space dropped. *tok is allocated (also for an empty transcript). 0 or 2. */
static int first_pass(asr_model *m, const clip *a, const asr_model_decode_opts *o, const char *what, int **tok,
                      int *ntok) {
  hyp h;
  memset(&h, 0, sizeof h);
  *tok = NULL, *ntok = 0;
  if (decode_window(m, a->x, a->n, a->rate, 0, -INFINITY, INFINITY, o, 0, what, &h, NULL)) {
    hyp_free(&h);
    return 2;
  }
  while (h.n && h.tok[h.n - 1] == 1) h.n--;   /* no trailing space */
  *tok = h.tok ? h.tok : (int *)malloc(sizeof(int));
  *ntok = h.n;
  free(h.t0), free(h.t1);
  if (!*tok) fprintf(stderr, "%s: out of memory\n", what);
  return *tok ? 0 : 2;
}

/* --vtln-search for speaker g (named `voice`): warp[g] = alpha_s over at most nest of its
 * files (each read up to chunk seconds), and with per-speaker CMVN st (2 D) its statistics
 * at alpha_s. One stderr line gives the estimate. A file that cannot be read or decoded is
 * reported, marked in skip and left out (alpha = 1 when none is left). 0, 1 (a file left
 * out) or 2 (a failure). */
static int vtln_search(asr_model *m, const char **files, const int *group, int nfiles, int g, const char *voice,
                       double chunk, int nest, const asr_model_decode_opts *o, unsigned char *skip, double *warp,
                       asr_real *st) {
  int D = m->cfg.n_mels, n_g = 0, K, k, j, i, rc = 2, best = -1, bad = 0, used = 0;
  int *pick = NULL, **tok = NULL, *ntok = NULL;
  clip *wav = NULL;
  asr_real *cur = NULL;
  double score[VTLN_N];
  asr_error err;
  for (i = 0; i < nfiles; i++) n_g += group[i] == g && !skip[i];
  warp[g] = 1;
  if (n_g == 0) return 0;
  K = n_g < nest ? n_g : nest;
  pick = (int *)malloc(sizeof(int) * (size_t)K);
  tok = (int **)calloc((size_t)K, sizeof(int *));
  ntok = (int *)calloc((size_t)K, sizeof(int));
  wav = (clip *)calloc((size_t)K, sizeof(clip));
  cur = st ? (asr_real *)malloc(sizeof(asr_real) * 2 * (size_t)D) : NULL;
  if (!pick || !tok || !ntok || !wav || (st && !cur)) {
    fprintf(stderr, "transcribe: out of memory\n");
    goto done;
  }
  for (k = 0, j = 0, i = 0; i < nfiles && k < K; i++)   /* the (k n_g / K)-th file of the speaker, k = 0..K-1 */
    if (group[i] == g && !skip[i] && j++ == (int)((long)k * n_g / K)) pick[k++] = i;
  for (k = 0; k < K; k++)
    if (read_head(files[pick[k]], chunk, &wav[k])) bad = skip[pick[k]] = 1;
  /* the first pass, unwarped (and, per-speaker CMVN, the speaker's unwarped statistics) */
  g_fe.vtln_warp = 0;
  if (cur && (cmvn_identity(m) || voice_stats(m, files, group, nfiles, g, chunk, skip, cur) == 2 ||
              asr_model_set_cmvn(m, cur, cur + D, &err) != ASR_OK))
    goto done;
  for (k = 0; k < K; k++)   /* a file too short for the model: reported, left out */
    if (wav[k].x && !skip[pick[k]] && first_pass(m, &wav[k], o, files[pick[k]], &tok[k], &ntok[k]))
      bad = skip[pick[k]] = 1;
  for (k = 0; k < K; k++) used += tok[k] != NULL;
  if (used == 0) {
    fprintf(stderr, "transcribe: VTLN: %s: no file to estimate a warp from: 1.00\n", voice);
    rc = bad;
    goto done;
  }
  for (j = 0; j < VTLN_N; j++) {
    double alpha = VTLN_LO + VTLN_STEP * j;
    g_fe.vtln_warp = alpha;
    if (cur && (cmvn_identity(m) || voice_stats(m, files, group, nfiles, g, chunk, skip, cur) == 2 ||
                asr_model_set_cmvn(m, cur, cur + D, &err) != ASR_OK))
      goto done;
    score[j] = 0;
    for (k = 0; k < K; k++) {
      double lnp;
      if (!tok[k]) continue;
      if (labelling_lnp(m, &wav[k], tok[k], ntok[k], files[pick[k]], &lnp)) goto done;
      score[j] += lnp;
    }
    if (best < 0 || score[j] > score[best]) {
      best = j;
      if (st) memcpy(st, cur, sizeof(asr_real) * 2 * (size_t)D);
    }
  }
  warp[g] = VTLN_LO + VTLN_STEP * best;
  {
    int one = (int)lround((1.0 - VTLN_LO) / VTLN_STEP);   /* the grid's alpha = 1 */
    fprintf(stderr, "transcribe: VTLN: %s: warp %.2f (sum of ln p(first pass | X^alpha) over %d file%s: %.4f at "
                    "1.00, %.4f at %.2f)\n", voice, warp[g], used, used == 1 ? "" : "s", score[one], score[best], warp[g]);
  }
  rc = bad;
done:
  g_fe.vtln_warp = 0;
  for (k = 0; tok && wav && k < K; k++) free(tok[k]), free(wav[k].x);
  free(pick), free(tok), free(ntok), free(wav), free(cur);
  return rc;
}

/* ---- AdaBN per speaker (--adapt-bn): asr_model_adapt_bn [Li16]
 *
 * Each speaker's recordings, featurized as they will be decoded (the speaker's CMVN
 * statistics and warp), go through the encoder in training mode in batches of ADAPT_BATCH
 * files (each file's first --chunk seconds), the k-th batch with momentum 1/k: every
 * BatchNorm layer ends with the mean over the batches of their statistics, an
 * approximation of the speaker's pooled mu_j and sigma_j^2 of [Li16] (asr.h's NOTE on
 * asr_model_adapt_bn). No transcript is used. */
#define ADAPT_BATCH 16

/* One batch of n feature matrices (f[i], T[i] frames) through asr_model_adapt_bn with
 * momentum; frees them. 0 or 2. */
static int adapt_batch(asr_model *m, asr_real **f, const int *T, int n, double momentum) {
  int D = m->cfg.n_mels, i, Tmax = 0, r = 2;
  asr_real *x;
  void *work = NULL;
  size_t wb;
  asr_error err;
  for (i = 0; i < n; i++) Tmax = T[i] > Tmax ? T[i] : Tmax;
  x = (asr_real *)calloc((size_t)n * Tmax * D, sizeof(asr_real));   /* zero padding, masked by the lengths */
  wb = asr_model_train_workspace_size(m, n, Tmax, 0);
  work = wb == SIZE_MAX ? NULL : malloc(wb);
  if (!x || !work) fprintf(stderr, "transcribe: out of memory\n");
  else {
    for (i = 0; i < n; i++) memcpy(x + (size_t)i * Tmax * D, f[i], sizeof(asr_real) * (size_t)T[i] * D);
    if (asr_model_adapt_bn(m, x, T, n, Tmax, momentum, work, wb, &err) != ASR_OK)
      fprintf(stderr, "transcribe: AdaBN: %s\n", err.msg);
    else r = 0;
  }
  for (i = 0; i < n; i++) free(f[i]);
  free(x), free(work);
  return r;
}

/* --adapt-bn for speaker g (named `voice`), the model's CMVN statistics and g_fe's warp
 * already the speaker's: its BatchNorm running statistics become the speaker's. A file
 * that cannot be read is reported and marked in skip; one too short for the encoder is
 * left out. 0, 1 (a file unreadable) or 2. */
static int bn_adapt(asr_model *m, const char **files, const int *group, int nfiles, int g, const char *voice,
                    double chunk, unsigned char *skip) {
  asr_real *f[ADAPT_BATCH];
  int T[ADAPT_BATCH], i, n = 0, k = 0, used = 0, bad = 0;
  for (i = 0; i < nfiles; i++) {
    clip c;
    if (group[i] != g || skip[i]) continue;
    if (read_head(files[i], chunk, &c)) {
      bad = skip[i] = 1;
      continue;
    }
    if (ad_model_features(m, &g_fe, c.x, c.n, c.rate, files[i], &f[n], &T[n])) bad = skip[i] = 1;
    else if (T[n] < asr_model_min_frames(m)) free(f[n]);
    else n++, used++;
    free(c.x);
    if (n == ADAPT_BATCH && adapt_batch(m, f, T, n, 1.0 / ++k)) return 2;
    if (n == ADAPT_BATCH) n = 0;
  }
  if (n > 0 && adapt_batch(m, f, T, n, 1.0 / ++k)) return 2;
  fprintf(stderr, "transcribe: AdaBN: %s: BatchNorm statistics of %d file%s in %d batch%s\n", voice, used,
          used == 1 ? "" : "s", k, k == 1 ? "" : "es");
  return bad;
}

/* The VTLN options against the model, before any file is read: --vtln-warp and
 * --vtln-search not together, only on the fbank, the search only for a model with a
 * likelihood (CTC, RNN-T) and not with --nbest; every warp the run may use accepted by the
 * model's bank (the cut-offs must stay ordered). files: --vtln-files, 0 when not given.
 * 0, or 2 after one line. */
static int vtln_check(const asr_model *m, double warp, int search, int files, int nbest) {
  const char *opt = search ? "--vtln-search" : "--vtln-warp";
  char what[64];
  if (files > 0 && !search) {
    fprintf(stderr, "transcribe: --vtln-files needs --vtln-search\n");
    return 2;
  }
  if (!search && warp == 0) return 0;
  if (search && warp > 0) {
    fprintf(stderr, "transcribe: --vtln-warp A and --vtln-search: one or the other\n");
    return 2;
  }
  if (m->cfg.front_end != ASR_FRONT_END_FBANK) {
    fprintf(stderr, "transcribe: %s warps the fbank: not for a model on a pretrained front end (%s)\n", opt,
            m->cfg.recipe);
    return 2;
  }
  if (search && ((m->cfg.head != ASR_HEAD_CTC && m->cfg.head != ASR_HEAD_RNNT) || nbest)) {
    fprintf(stderr, "transcribe: --vtln-search maximizes a CTC or RNN-T likelihood (ctc-contextnet, ctc-conformer, "
                    "rnnt, rnnt-contextnet), not %s\n", nbest ? "with --nbest" : m->cfg.recipe);
    return 2;
  }
  snprintf(what, sizeof what, "transcribe: %s", opt);   /* the search's two ends, or the one warp */
  return search ? ad_check_warps(m, VTLN_LO, VTLN_LO + VTLN_STEP * (VTLN_N - 1), what)
                : ad_check_warps(m, warp, warp, what);
}

int main(int argc, char **argv) {
  const char *model_path = NULL, *data = NULL, *speakers = NULL, *exclude_speakers = NULL;
  const char *lexicon_path = NULL, *lm_path = NULL, *w2v_path = NULL, *bert_path = NULL, *words_in[6];
  const char *nbest_svg_path = NULL;
  int nbest_list = 0, nbest = 0, rtf = 0;
  double t_decode = 0;
  nblist nb;
  int n_words_in = 0;
  double lm_weight = -1, word_bonus = 0;
  asr_lexicon lex;
  asr_ngram lm;
  double pad = -1, chunk = 30;
  int beam = 0, align = 0, i, status = 0, first_file = -1, take_lo = -1, take_hi = -1, nfiles;
  double ctc_weight = -1, penalty = 0, first_weight = -1;
  int rescore = -1, att_opts = 0, twopass_opts = 0;
  const char *head_opt = NULL;   /* the first of --ctc-weight, --first-pass-weight, --rescore given */
  long errors = 0, ref_len = 0, werrors = 0, wref_len = 0;
  asr_model m;
  asr_model_decode_opts dopts;
  asr_error err;
  ad_list list;
  const char **files = NULL, **refs = NULL;
  int *group = NULL, n_groups = 1;   /* per-speaker CMVN, --vtln-search: each file's speaker */
  asr_real *spk_stats = NULL;
  double vtln_warp = 0, *warps = NULL;   /* --vtln-warp A (0: none); --vtln-search: each speaker's */
  int vtln_search_on = 0, vtln_files = 0, adapt_bn = 0;   /* --vtln-files: 0 = not given (20) */
  asr_real *bn_bufs = NULL;              /* --adapt-bn: each speaker's buffers (CMVN and BatchNorm statistics) */
  unsigned char *skip = NULL;            /* files found unreadable while computing statistics or warps */
  memset(&list, 0, sizeof list);
  memset(&nb, 0, sizeof nb);
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
    else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!strcmp(argv[i], "--speakers") && i + 1 < argc) speakers = argv[++i];
    else if (!strcmp(argv[i], "--lexicon") && i + 1 < argc) lexicon_path = argv[++i];
    else if (!strcmp(argv[i], "--lm") && i + 1 < argc) lm_path = argv[++i];
    else if (!strcmp(argv[i], "--w2v-features") && i + 1 < argc) w2v_path = argv[++i];
    else if (!strcmp(argv[i], "--bert-features") && i + 1 < argc) bert_path = argv[++i];
    else if ((!strcmp(argv[i], "--lm-weight") || !strcmp(argv[i], "--word-bonus")) && i + 1 < argc) {
      char *end;
      double v = strtod(argv[++i], &end);
      if (end == argv[i] || *end || !(fabs(v) <= 100)) {
        fprintf(stderr, "transcribe: %s: '%s' is not a number in [-100, 100]\n", argv[i - 1], argv[i]);
        return 2;
      }
      if (!strcmp(argv[i - 1], "--lm-weight")) lm_weight = v;
      else word_bonus = v;
    }
    else if (!strcmp(argv[i], "--exclude-speakers") && i + 1 < argc) exclude_speakers = argv[++i];
    else if (!strcmp(argv[i], "--vtln-search")) vtln_search_on = 1;
    else if (!strcmp(argv[i], "--adapt-bn")) adapt_bn = 1;
    else if (!strcmp(argv[i], "--vtln-warp") && i + 1 < argc) {
      char *end;
      vtln_warp = strtod(argv[++i], &end);
      if (end == argv[i] || *end || !(vtln_warp >= 0.5 && vtln_warp <= 1.5)) {
        fprintf(stderr, "transcribe: --vtln-warp: '%s' is not a warp factor in [0.5, 1.5]\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(argv[i], "--vtln-files") && i + 1 < argc) {
      char *end;
      long k = strtol(argv[++i], &end, 10);
      if (*end || end == argv[i] || k < 1 || k > 100000) {
        fprintf(stderr, "transcribe: --vtln-files: '%s' is not an integer in [1, 100000]\n", argv[i]);
        return 2;
      }
      vtln_files = (int)k;
    }
    else if (!strcmp(argv[i], "--takes") && i + 1 < argc) {
      int n = 0;
      i++;
      if (sscanf(argv[i], "%d-%d%n", &take_lo, &take_hi, &n) != 2 || argv[i][n] || take_lo < 0 || take_hi < take_lo) {
        fprintf(stderr, "transcribe: --takes: '%s' is not A-B with 0 <= A <= B\n", argv[i]);
        return 2;
      }
    }
    else if (!strcmp(argv[i], "--beam") && i + 1 < argc) {
      char *end;
      long b = strtol(argv[++i], &end, 10);
      if (*end || b < 1 || b > 1000) {
        fprintf(stderr, "transcribe: --beam: '%s' is not an integer in [1, 1000]\n", argv[i]);
        return 2;
      }
      beam = (int)b;
    } else if (!strcmp(argv[i], "--pad") && i + 1 < argc) {
      char *end;
      pad = strtod(argv[++i], &end);
      if (end == argv[i] || *end || !(pad >= 0) || pad > 1) {
        fprintf(stderr, "transcribe: --pad: '%s' is not a number of seconds in [0, 1]\n", argv[i]);
        return 2;
      }
    } else if ((!strcmp(argv[i], "--ctc-weight") || !strcmp(argv[i], "--penalty") ||
                !strcmp(argv[i], "--first-pass-weight")) && i + 1 < argc) {
      const char *name = argv[i];
      char *end;
      double v = strtod(argv[++i], &end);
      if (!head_opt && strcmp(name, "--penalty")) head_opt = name;
      int is_w = strcmp(name, "--penalty") != 0;
      if (end == argv[i] || *end || !(is_w ? v >= 0 && v <= 1 : fabs(v) <= 1000)) {
        fprintf(stderr, "transcribe: %s: '%s' is not a number in %s\n", name, argv[i],
                is_w ? "[0, 1]" : "[-1000, 1000]");
        return 2;
      }
      if (!strcmp(name, "--ctc-weight")) ctc_weight = v, att_opts = 1;
      else if (is_w) first_weight = v, twopass_opts = 1;
      else penalty = v, att_opts = twopass_opts = 1;
    } else if (!strcmp(argv[i], "--rescore") && i + 1 < argc) {
      char *end;
      long b = strtol(argv[++i], &end, 10);
      if (*end || end == argv[i] || b < 0 || b > 1000) {
        fprintf(stderr, "transcribe: --rescore: '%s' is not an integer in [0, 1000]\n", argv[i]);
        return 2;
      }
      rescore = (int)b;
      if (!head_opt && b > 0) head_opt = "--rescore";
    } else if (!strcmp(argv[i], "--chunk") && i + 1 < argc) {
      char *end;
      chunk = strtod(argv[++i], &end);
      if (end == argv[i] || *end || !(chunk == 0 || (chunk >= 1 && chunk <= 3600))) {
        fprintf(stderr, "transcribe: --chunk: '%s' is not 0 or a number of seconds in [1, 3600]\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(argv[i], "--align")) align = 1;
    else if (!strcmp(argv[i], "--nbest")) nbest_list = 1;
    else if (!strcmp(argv[i], "--rtf")) rtf = 1;
    else if (!strcmp(argv[i], "--nbest-svg") && i + 1 < argc) nbest_svg_path = argv[++i];
    else if (!strcmp(argv[i], "--help")) {
      usage();
      return 0;
    } else if (argv[i][0] == '-' && argv[i][1] == '-') {
      fprintf(stderr, "transcribe: unknown option %s\n", argv[i]);
      return usage();
    } else {
      first_file = i;
      break;
    }
  }
  if (!model_path || (first_file < 0) == !data || ((take_lo >= 0 || speakers || exclude_speakers) && !data))
    return usage();
  nbest = nbest_list || nbest_svg_path;
  if (nbest && (align || lexicon_path || lm_path)) {
    fprintf(stderr, "transcribe: --nbest and --nbest-svg list a second pass's hypotheses: not with --align, --lexicon "
                    "or --lm\n");
    return 2;
  }
  if (nbest_svg_path && (data || first_file != argc - 1)) {
    fprintf(stderr, "transcribe: --nbest-svg draws one recording: give one FILE (not --data)\n");
    return 2;
  }
  /* stdout redirected onto the model or a recording (">>" would append to it) */
  words_in[n_words_in++] = model_path;          /* the model, the lexicon and the LM are inputs too */
  if (lexicon_path) words_in[n_words_in++] = lexicon_path;
  if (lm_path) words_in[n_words_in++] = lm_path;
  if (w2v_path) words_in[n_words_in++] = w2v_path;
  if (bert_path) words_in[n_words_in++] = bert_path;
  if (data) words_in[n_words_in++] = data;      /* and nothing inside the data folder */
  /* the picture over an input (the model, the recording, ...); also clears its stale temporaries */
  if (nbest_svg_path && (op_check_only("transcribe", nbest_svg_path, words_in, n_words_in) ||
                         op_check("transcribe", nbest_svg_path, (const char *const *)argv + first_file, 1)))
    return 2;
  if (op_check_fd("transcribe", 1, "the standard output", words_in, n_words_in) ||
      (first_file > 0 && op_check_fd("transcribe", 1, "the standard output", (const char *const *)argv + first_file,
                                     argc - first_file)))
    return 2;
  if (asr_model_load(&m, model_path, NULL, &err) != ASR_OK) {
    fprintf(stderr, "transcribe: %s\n", err.msg);
    return 2;
  }
  if (ad_frontend_load(&g_fe, w2v_path, bert_path, "transcribe")) {
    asr_model_free(&m);
    return 2;
  }
  if (words_open(&m, lexicon_path, lm_path, &lm_weight, &lex, &lm)) {
    status = 2;
    goto done;
  }
  if (ad_frontend_match(&g_fe, &m, model_path, "transcribe") ||
      (g_fe.kind != ASR_FRONT_END_FBANK && pad >= 0 &&
       fprintf(stderr, "transcribe: --pad pads the fbank's waveform: not with --w2v-features\n"))) {
    status = 2;
    goto done;
  }
  if (vtln_check(&m, vtln_warp, vtln_search_on, vtln_files, nbest)) {
    status = 2;
    goto done;
  }
  if (adapt_bn && m.cfg.encoder == ASR_ENCODER_PBLSTM) {
    fprintf(stderr, "transcribe: --adapt-bn adapts BatchNorm layers: %s (%s) has none\n", model_path, m.cfg.recipe);
    status = 2;
    goto done;
  }
  if (beam == 0) beam = lexicon_path || lm_path ? 16 : ad_default_beam(&m);
  if (nbest) chunk = 0;                        /* an n-best: the whole file */
  {
    /* the attention options: only for an attention head; lambda > 0 and rescoring need its CTC branch */
    int att = m.cfg.head == ASR_HEAD_TRANSFORMER || m.cfg.head == ASR_HEAD_LAS;
    int twopass = m.cfg.head == ASR_HEAD_RNNT_LAS;
    if (head_opt && m.cfg.head == ASR_HEAD_NT) {
      /* the Neural Transducer decodes with its own search: greedy, or its beam (--beam N,
       * ranked by ln p + --penalty P per symbol) */
      fprintf(stderr, "transcribe: %s does not apply to %s (%s): the Neural Transducer has no CTC branch or second "
                      "pass; it takes --beam N and --penalty P\n", head_opt, model_path, m.cfg.recipe);
      status = 2;
      goto done;
    }
    if (rescore > 0 && !att && !twopass) att_opts = 1;
    if (ctc_weight >= 0 && twopass) {
      fprintf(stderr, "transcribe: %s (%s) has no CTC branch: its second pass's weight is --first-pass-weight\n",
              model_path, m.cfg.recipe);
      status = 2;
      goto done;
    }
    /* (nt: only --penalty can have set att_opts, the others were refused above) */
    if ((att_opts && !att && !twopass && m.cfg.head != ASR_HEAD_NT) || (twopass_opts && !twopass && first_weight >= 0)) {
      fprintf(stderr, "transcribe: --ctc-weight, --penalty and --rescore N > 0 are for the attention recipes "
                      "(ctc-attention, las, las-pblstm), --first-pass-weight, --penalty and --rescore for rnnt-las; %s is %s\n",
              model_path, m.cfg.recipe);
      status = 2;
      goto done;
    }
    if (att && m.cfg.ctc_weight == 0 && (ctc_weight > 0 || rescore > 0)) {
      fprintf(stderr, "transcribe: %s (%s) has no CTC branch: --ctc-weight must be 0 and --rescore is not available\n",
              model_path, m.cfg.recipe);
      status = 2;
      goto done;
    }
    if (nbest && !(twopass ? rescore != 0 : att && m.cfg.ctc_weight > 0 && rescore > 0)) {
      fprintf(stderr, "transcribe: --nbest and --nbest-svg need a second pass: rnnt-las (--rescore N > 0, the "
                      "default), or an attention recipe with a CTC branch and --rescore N > 0; %s is %s%s\n",
              model_path, m.cfg.recipe, twopass || (att && m.cfg.ctc_weight > 0) ? " with --rescore 0 or none" : "");
      status = 2;
      goto done;
    }
    dopts = asr_model_decode_opts_default(&m, beam);
    if (ctc_weight >= 0) dopts.ctc_weight = ctc_weight;
    if (first_weight >= 0) dopts.ctc_weight = first_weight;   /* rnnt-las: the first pass's weight */
    dopts.penalty = penalty;
    if (rescore >= 0 && (att || twopass)) dopts.rescore = rescore;   /* default: 0; rnnt-las the beam */
    if (lexicon_path || lm_path) {               /* words (asr.h 5.7, 6.6) */
      dopts.lexicon = &lex;
      dopts.lm = lm_path ? &lm : NULL;
      dopts.lm_weight = lm_weight, dopts.word_bonus = word_bonus;
    }
  }
  if (pad >= 0) m.cfg.pad_ms = (int)lround(pad * 1000);
  pad = m.cfg.pad_ms / 1000.0;
  /* the files: the arguments, or a data folder's recordings with their transcripts */
  nfiles = 0;
  if (data) {
    if (ad_list_read(&list, data) || ad_list_select_speakers(&list, speakers, exclude_speakers, "transcribe")) {
      status = 2;
      goto done;
    }
    for (i = 0; i < list.count; i++)              /* a recording the list names outside its folder */
      if (op_check_fd("transcribe", 1, "the standard output", (const char *const *)&list.items[i].path, 1)) {
        status = 2;
        goto done;
      }
    files = (const char **)malloc(sizeof *files * (size_t)(list.count + 1));
    refs = (const char **)malloc(sizeof *refs * (size_t)(list.count + 1));
    group = (int *)malloc(sizeof *group * (size_t)(list.count + 1));
    if (!files || !refs || !group) {
      fprintf(stderr, "transcribe: out of memory\n");
      status = 2;
      goto done;
    }
    for (i = 0; i < list.count; i++)
      if (take_lo < 0 || (list.items[i].take >= take_lo && list.items[i].take <= take_hi)) {
        files[nfiles] = list.items[i].path;
        group[nfiles] = list.items[i].speaker;    /* 0 for a transcripts.tsv folder */
        refs[nfiles++] = list.items[i].text;
      }
    if (nfiles == 0) {                            /* it printed "CER 0.00% (0/0) ... 0 files", exit 0 */
      int tsv = list.count > 0 && list.items[0].take < 0;
      fprintf(stderr, "transcribe: --takes %d-%d: %s has no recording of those takes%s\n", take_lo, take_hi, data,
              tsv ? " (takes come from FSDD's {digit}_{speaker}_{take}.wav names)" : "");
      status = 2;
      goto done;
    }
  } else {
    files = (const char **)malloc(sizeof *files * (size_t)(argc + 1));
    refs = (const char **)malloc(sizeof *refs * (size_t)(argc + 1));
    group = (int *)calloc((size_t)(argc + 1), sizeof *group);   /* one speaker */
    if (!files || !refs || !group) {
      fprintf(stderr, "transcribe: out of memory\n");
      status = 2;
      goto done;
    }
    for (i = first_file; i < argc; i++) files[nfiles++] = argv[i];
  }
  if (m.cfg.cmvn == ASR_CMVN_SPEAKER || vtln_search_on || adapt_bn) {   /* every voice's statistics, warp, BN */
    int r = 0, g, named = data && list.count > 0 && list.items[0].take >= 0;   /* FSDD's names give speakers */
    n_groups = named ? list.n_speakers : 1;
    skip = (unsigned char *)calloc((size_t)nfiles + 1, 1);
    warps = (double *)malloc(sizeof(double) * (size_t)n_groups);
    if (m.cfg.cmvn == ASR_CMVN_SPEAKER)
      spk_stats = (asr_real *)malloc(sizeof(asr_real) * 2 * (size_t)m.cfg.n_mels * (size_t)n_groups);
    t_decode -= ad_now();
    if (!skip || !warps || (m.cfg.cmvn == ASR_CMVN_SPEAKER && !spk_stats)) {
      fprintf(stderr, "transcribe: out of memory\n");
      status = 2;
      goto done;
    }
    for (g = 0; g < n_groups; g++) warps[g] = vtln_warp;
    for (g = 0; g < n_groups && vtln_search_on && r != 2; g++) {
      int q = vtln_search(&m, files, group, nfiles, g, named ? list.speakers[g] : "the files", chunk,
                          vtln_files ? vtln_files : 20,
                          &dopts, skip, warps, spk_stats ? spk_stats + (size_t)g * 2 * m.cfg.n_mels : NULL);
      r = q > r ? q : r;
    }
    if (r != 2 && spk_stats && !vtln_search_on)
      r = speaker_stats(&m, files, group, nfiles, n_groups, chunk, warps, skip, spk_stats);
    if (r != 2 && adapt_bn) {                    /* each speaker's buffers, from the checkpoint's */
      size_t nb = m.buffers.total;
      bn_bufs = (asr_real *)malloc(sizeof(asr_real) * (nb * (size_t)(n_groups + 1) + 1));
      if (!bn_bufs) fprintf(stderr, "transcribe: out of memory\n"), r = 2;
      else memcpy(bn_bufs + nb * (size_t)n_groups, m.buffers.data, sizeof(asr_real) * nb);
      for (g = 0; g < n_groups && r != 2; g++) {
        int q;
        memcpy(m.buffers.data, bn_bufs + nb * (size_t)n_groups, sizeof(asr_real) * nb);
        if (spk_stats && asr_model_set_cmvn(&m, spk_stats + (size_t)g * 2 * m.cfg.n_mels,
                                            spk_stats + ((size_t)g * 2 + 1) * m.cfg.n_mels, &err) != ASR_OK) {
          fprintf(stderr, "transcribe: %s\n", err.msg);
          r = 2;
          break;
        }
        g_fe.vtln_warp = warps[g];
        q = bn_adapt(&m, files, group, nfiles, g, named ? list.speakers[g] : "the files", chunk, skip);
        r = q > r ? q : r;
        memcpy(bn_bufs + nb * (size_t)g, m.buffers.data, sizeof(asr_real) * nb);
      }
      g_fe.vtln_warp = 0;
    }
    if (r == 2) {
      status = 2;
      goto done;
    }
    if (r) status = 2;                           /* an unreadable file: the others are still transcribed */
    t_decode += ad_now();
    if (!named)
      fprintf(stderr, "transcribe: %s: the %d file%s taken as one speaker's\n",
              spk_stats ? "per-speaker CMVN" : vtln_search_on ? "VTLN" : "AdaBN", nfiles, nfiles == 1 ? "" : "s");
  }
  for (i = 0; i < nfiles; i++) {
    hyp h;
    char *text;
    int r;
    memset(&h, 0, sizeof h);
    if (skip && skip[i]) {                      /* unreadable, reported when the statistics or warps were computed */
      status = 2;
      continue;
    }
    g_fe.vtln_warp = warps ? warps[group[i]] : vtln_warp;   /* 0: none */
    if (bn_bufs)                                /* the speaker's CMVN and BatchNorm statistics */
      memcpy(m.buffers.data, bn_bufs + m.buffers.total * (size_t)group[i], sizeof(asr_real) * m.buffers.total);
    else if (spk_stats && asr_model_set_cmvn(&m, spk_stats + (size_t)group[i] * 2 * m.cfg.n_mels,
                                        spk_stats + ((size_t)group[i] * 2 + 1) * m.cfg.n_mels, &err) != ASR_OK) {
      fprintf(stderr, "%s: %s\n", files[i], err.msg);   /* cannot happen: asr_cmvn_finish's are finite, > 0 */
      status = 2;
      goto done;
    }
    t_decode -= ad_now();
    if (chunk > 0) r = transcribe_chunked(&m, files[i], chunk, &dopts, align, &h);
    else {                                      /* the whole recording at once */
      asr_audio a;
      r = ad_audio_read(files[i], &a);
      if (!r) {
        g_audio_s += (double)a.n / a.sample_rate;
        r = decode_window(&m, a.samples, a.n, a.sample_rate, 0, -INFINITY, INFINITY, &dopts, align, files[i], &h,
                          nbest ? &nb : NULL);
        asr_audio_free(&a, NULL);
      }
    }
    t_decode += ad_now();
    while (h.n && h.tok[h.n - 1] == 1) h.n--;   /* no trailing space */
    text = r ? NULL : (char *)malloc((size_t)h.n + 1);
    if (!r && (!text || asr_text_decode(h.tok, h.n, text, (size_t)h.n + 1) < 0)) {
      fprintf(stderr, "%s: out of memory\n", files[i]);
      r = 2;
    }
    if (r) status = 2;
    else {
      printf("%s\t%s", files[i], text);
      if (data) {
        int *w = (int *)malloc(sizeof(int) * 3 * (strlen(refs[i]) + strlen(text) + 2));
        if (w) {
          asr_cer_counts(refs[i], text, w, &errors, &ref_len);
          asr_wer_counts(refs[i], text, w, &werrors, &wref_len);
        }
        free(w);
      }
      if (align) print_alignment(&h);
      printf("\n");
      if (nbest_list) nbest_print(&nb);
      if (nbest_svg_path && nbest_svg(nbest_svg_path, &nb, &m, &dopts, files[i])) status = 2;
      fflush(stdout);
    }
    free(text);
    hyp_free(&h);
    nblist_free(&nb);
  }
  if (rtf)   /* reading, features and decoding of every file; the model's loading excluded */
    fprintf(stderr, "real-time factor %.4f (%.2f s to transcribe %.1f s of audio, %d files, beam %d)\n",
            g_audio_s > 0 ? t_decode / g_audio_s : 0.0, t_decode, g_audio_s, nfiles, dopts.beam);
  if (data)
    fprintf(stderr, "CER %.2f%% (%ld/%ld), WER %.2f%% (%ld/%ld), %d files\n", ref_len ? 100.0 * errors / ref_len : 0.0,
            errors, ref_len, wref_len ? 100.0 * werrors / wref_len : 0.0, werrors, wref_len, nfiles);
done:
  free(files), free(refs), free(group), free(spk_stats), free(warps), free(skip), free(bn_bufs);
  ad_list_free(&list);
  asr_lexicon_free(&lex);
  asr_ngram_free(&lm);
  asr_model_free(&m);
  ad_frontend_free(&g_fe);
  return status;
}
