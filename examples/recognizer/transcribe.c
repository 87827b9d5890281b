/* examples/recognizer/transcribe.c - transcribe audio files with a model trained by build/train.
 *
 *   build/transcribe --model MODEL.npz [--beam N] [--align] FILE...
 *   build/transcribe --model MODEL.npz [--beam N] --data DIR [--takes A-B] [--speakers A,B | --exclude-speakers C]
 *
 * Prints one line per file, in the order given: FILE<TAB>TEXT, TEXT in lower-case words
 * separated by single spaces. Works for every recipe (asr_model_decode): greedy by
 * default (CTC: best path; RNN-T: greedy search); --beam N uses the beam search (CTC:
 * prefix beam search; RNN-T: [Graves12] Algorithm 1) with N hypotheses. --align adds a
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
 * `asrtool ngram-train`) decode CTC models with asr_ctc_lexicon_decode: only labellings
 * made of the lexicon's words (without --lexicon: the LM's words), ranked by
 * ln p(l|x) + W ln P_LM(words) + B |words| with --lm-weight W (default 0.5 with --lm)
 * and --word-bonus B (default 0); --beam N is its beam (default 16 there).
 * A file that cannot be read is reported on stderr and the exit status is 2 (the other
 * files are still transcribed). */
#define _POSIX_C_SOURCE 200809L
#include "asrdata.h"
#include "../outpath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
  fprintf(stderr, "usage: transcribe --model MODEL.npz [--beam N] [--align] [--pad SECONDS] FILE...\n"
                  "       transcribe --model MODEL.npz [--beam N] [--align] [--pad SECONDS] --data DIR [--takes A-B]\n"
                  "                  [--speakers A,B,... | --exclude-speakers A,B,...]\n"
                  "       either, with [--lexicon WORDS.txt] [--lm LM.arpa [--lm-weight W]] [--word-bonus B]\n");
  return 2;
}

/* Word timings from the tokens' frames: a word spans its first character's first frame
 * to its last character's last frame (inclusive), in output frames of frame_seconds,
 * less `offset` seconds of padding (times inside the padding become 0). */
static double at(int frame, double frame_seconds, double offset) {
  double t = frame * frame_seconds - offset;
  return t > 0 ? t : 0;
}

static void print_alignment(const int *tok, const int *st, const int *en, int n, double frame_seconds, double offset) {
  int i, ws = -1, wl = 0, words = 0;
  char word[256];
  printf("\t");
  for (i = 0; i <= n; i++) {
    if (i == n || tok[i] == 1) {               /* a space or the end closes a word */
      if (wl) {
        word[wl] = 0;
        printf("%s%s@%.2f-%.2f", words++ ? " " : "", word, at(st[ws], frame_seconds, offset),
               at(en[i - 1] + 1, frame_seconds, offset));
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
static int words_open(const asr_model *m, const char *lexicon_path, const char *lm_path, double *lm_weight, int align,
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
  if (m->cfg.head != ASR_HEAD_CTC || align) {
    fprintf(stderr, "transcribe: --lexicon and --lm decode CTC models only, without --align\n");
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

/* The log-probabilities' buffer, then the decoder's workspace. */
static size_t words_workspace_size(const asr_model *m, int T, int beam) {
  int Tout = asr_model_out_frames(m, T);
  size_t a = asr_model_infer_workspace_size(m, 1, T), b = asr_ctc_lexicon_workspace_size(Tout, m->cfg.vocab, beam);
  size_t lp = sizeof(asr_real) * ((size_t)Tout * m->cfg.vocab + 1);
  if (a == (size_t)-1 || b == (size_t)-1) return (size_t)-1;
  return lp + (a > b ? a : b) + 64;
}

static asr_result words_decode(asr_model *m, const asr_lexicon *lex, const asr_ngram *lm, double lm_weight,
                               double word_bonus, int *tok, int *ntok, const asr_real *feats, int T, int beam,
                               void *work, size_t wb, asr_error *err) {
  int Tout = asr_model_out_frames(m, T), len = 0;
  size_t lp_bytes = (sizeof(asr_real) * ((size_t)Tout * m->cfg.vocab + 1) + 63) & ~(size_t)63;
  asr_real *lp = (asr_real *)work;
  void *rest = (char *)work + lp_bytes;
  asr_ctc_lexicon_opts o = asr_ctc_lexicon_opts_default(lex, beam, 0, 1);
  asr_result r = asr_model_logprobs(m, lp, &len, feats, &T, 1, T, rest, wb - lp_bytes, err);
  if (r != ASR_OK) return r;
  o.lm = lm;
  o.lm_weight = lm_weight;
  o.word_bonus = word_bonus;
  r = asr_ctc_lexicon_decode(tok, ntok, NULL, lp, len, m->cfg.vocab, &o, rest, wb - lp_bytes);
  if (r == ASR_INFEASIBLE) {
    *ntok = 0;                               /* no labelling of words survived: an empty line */
    return ASR_OK;
  }
  if (r != ASR_OK) snprintf(err->msg, sizeof err->msg, "lexicon decoding: %s", asr_result_string(r));
  return r;
}

int main(int argc, char **argv) {
  const char *model_path = NULL, *data = NULL, *speakers = NULL, *exclude_speakers = NULL;
  const char *lexicon_path = NULL, *lm_path = NULL;
  double lm_weight = -1, word_bonus = 0;
  asr_lexicon lex;
  asr_ngram lm;
  double pad = -1;
  int beam = 0, align = 0, i, status = 0, first_file = -1, take_lo = -1, take_hi = -1, nfiles;
  long errors = 0, ref_len = 0, werrors = 0, wref_len = 0;
  asr_model m;
  asr_error err;
  ad_list list;
  const char **files = NULL, **refs = NULL;
  memset(&list, 0, sizeof list);
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
    else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!strcmp(argv[i], "--speakers") && i + 1 < argc) speakers = argv[++i];
    else if (!strcmp(argv[i], "--lexicon") && i + 1 < argc) lexicon_path = argv[++i];
    else if (!strcmp(argv[i], "--lm") && i + 1 < argc) lm_path = argv[++i];
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
    } else if (!strcmp(argv[i], "--align")) align = 1;
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
  /* stdout redirected onto the model or a recording (">>" would append to it) */
  if (op_check_fd("transcribe", 1, "the standard output", (const char *const *)&model_path, 1) ||
      (first_file > 0 && op_check_fd("transcribe", 1, "the standard output", (const char *const *)argv + first_file,
                                     argc - first_file)))
    return 2;
  if (asr_model_load(&m, model_path, NULL, &err) != ASR_OK) {
    fprintf(stderr, "transcribe: %s\n", err.msg);
    return 2;
  }
  if (words_open(&m, lexicon_path, lm_path, &lm_weight, align, &lex, &lm)) return 2;
  if (beam == 0) beam = lexicon_path || lm_path ? 16 : 1;
  if (pad >= 0) m.cfg.pad_ms = (int)lround(pad * 1000);
  pad = m.cfg.pad_ms / 1000.0;
  /* the files: the arguments, or a data folder's recordings with their transcripts */
  nfiles = 0;
  if (data) {
    if (ad_list_read(&list, data) || ad_list_select_speakers(&list, speakers, exclude_speakers, "transcribe")) {
      status = 2;
      goto done;
    }
    files = (const char **)malloc(sizeof *files * (size_t)(list.count + 1));
    refs = (const char **)malloc(sizeof *refs * (size_t)(list.count + 1));
    if (!files || !refs) {
      fprintf(stderr, "transcribe: out of memory\n");
      status = 2;
      goto done;
    }
    for (i = 0; i < list.count; i++)
      if (take_lo < 0 || (list.items[i].take >= take_lo && list.items[i].take <= take_hi)) {
        files[nfiles] = list.items[i].path;
        refs[nfiles++] = list.items[i].text;
      }
  } else {
    files = (const char **)malloc(sizeof *files * (size_t)(argc + 1));
    refs = (const char **)malloc(sizeof *refs * (size_t)(argc + 1));
    if (!files || !refs) {
      fprintf(stderr, "transcribe: out of memory\n");
      status = 2;
      goto done;
    }
    for (i = first_file; i < argc; i++) files[nfiles++] = argv[i];
  }
  for (i = 0; i < nfiles; i++) {
    asr_audio a;
    asr_real *feats = NULL;
    int T, Tout, maxtok, ntok = 0, *tok = NULL, *st = NULL, *en = NULL, r;
    size_t wb;
    void *work = NULL;
    char text[4096];
    if (ad_audio_read(files[i], &a)) {
      status = 2;
      continue;
    }
    r = ad_features(&m, a.samples, a.n, a.sample_rate, files[i], &feats, &T);
    asr_audio_free(&a, NULL);
    if (r) {
      status = 2;
      continue;
    }
    Tout = asr_model_out_frames(&m, T);
    maxtok = 4 * Tout + 1;                      /* RNN-T may emit several tokens a frame */
    wb = lexicon_path || lm_path ? words_workspace_size(&m, T, beam) : asr_model_decode_workspace_size(&m, T, beam);
    work = malloc(wb);
    tok = (int *)malloc(sizeof *tok * (size_t)maxtok);
    st = (int *)malloc(sizeof *st * (size_t)maxtok);
    en = (int *)malloc(sizeof *en * (size_t)maxtok);
    if (!work || !tok || !st || !en ||
        (lexicon_path || lm_path
             ? words_decode(&m, &lex, lm_path ? &lm : NULL, lm_weight, word_bonus, tok, &ntok, feats, T, beam, work,
                            wb, &err)
             : asr_model_decode(&m, tok, &ntok, align ? st : NULL, align ? en : NULL, maxtok, feats, T, beam, work,
                                wb, &err)) != ASR_OK) {
      fprintf(stderr, "%s: %s\n", files[i], work && tok && st && en ? err.msg : "out of memory");
      status = 2;
    } else {
      if (asr_text_decode(tok, ntok, text, sizeof text) < 0) text[0] = 0;
      printf("%s\t%s", files[i], text);
      if (data) {
        int *w = (int *)malloc(sizeof(int) * 3 * (strlen(refs[i]) + strlen(text) + 2));
        if (w) {
          asr_cer_counts(refs[i], text, w, &errors, &ref_len);
          asr_wer_counts(refs[i], text, w, &werrors, &wref_len);
        }
        free(w);
      }
      /* output frames are 10 ms fbank frames times the encoder's subsampling */
      if (align) print_alignment(tok, st, en, ntok, 0.010 * asr_model_subsampling(&m), pad);
      printf("\n");
      fflush(stdout);
    }
    free(feats), free(tok), free(st), free(en), free(work);
  }
  if (data)
    fprintf(stderr, "CER %.2f%% (%ld/%ld), WER %.2f%% (%ld/%ld), %d files\n", ref_len ? 100.0 * errors / ref_len : 0.0,
            errors, ref_len, wref_len ? 100.0 * werrors / wref_len : 0.0, werrors, wref_len, nfiles);
done:
  free(files), free(refs);
  ad_list_free(&list);
  asr_lexicon_free(&lex);
  asr_ngram_free(&lm);
  asr_model_free(&m);
  return status;
}
