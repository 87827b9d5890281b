/* examples/asrtool/lexicon.c - words for decoding (asr.h section 5, "Words";
 * docs/lexicon_lm.md):
 *   asrtool ngram-train [--order 3] TEXT OUT.arpa        a Witten-Bell word n-gram model, ARPA
 *   asrtool ngram-score LM.arpa TEXT OUTDIR              ln P of each sentence, with </s>
 *   asrtool ctc-lexicon-decode [--blank 0] [--space 1] [--beam 16] [--lm LM.arpa]
 *           [--lm-weight A] [--word-bonus B] [--alphabet CHARS] LOGITS LEXICON OUTDIR
 * TEXT: one sentence per line; a line with a tab (transcripts.tsv) counts what follows
 * its last tab; letters are lower-cased, empty lines skipped. */
#define _POSIX_C_SOURCE 200809L
#include "asrtool.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The sentences of a text file (malloc'ed array of pointers into *buf). 0 or 2. */
static int read_sentences(const char *path, unsigned char **buf, char ***out, int *n) {
  size_t len = 0, i;
  asr_error err;
  int cap = 0;
  char *p, *line;
  *out = NULL;
  *n = 0;
  if (asr_read_file(path, buf, &len, NULL, &err) != ASR_OK) return at_fail("%s", err.msg);
  p = (char *)*buf;
  for (i = 0; i < len; i++) {
    if (p[i] >= 'A' && p[i] <= 'Z') p[i] = (char)(p[i] - 'A' + 'a');
    if (p[i] == '\r') p[i] = ' ';
    if (p[i] == '\0') return at_fail("%s: a NUL byte at offset %lu: not a text file", path, (unsigned long)i);
  }
  line = p;
  for (i = 0; i <= len; i++) {
    if (i < len && p[i] != '\n') continue;
    if (i < len) p[i] = 0;
    else if (line == p + len) break;
    {
      char *tab = strrchr(line, '\t'), *s = tab ? tab + 1 : line;
      if (strspn(s, " ") != strlen(s)) {
        if (*n == cap) {
          char **q = (char **)realloc(*out, sizeof *q * (size_t)(cap = cap ? 2 * cap : 256));
          if (!q) return at_fail("out of memory");
          *out = q;
        }
        (*out)[(*n)++] = s;
      }
    }
    line = p + i + 1;
  }
  if (*n == 0) return at_fail("%s: no sentences", path);
  return 0;
}

int cmd_ngram_train(int argc, char **argv) {
  char *pos[2], **sent = NULL;
  unsigned char *buf = NULL;
  int npos = 0, order = 3, n = 0, r, status = 2;
  asr_ngram lm;
  asr_error err;
  const at_opt opts[] = {{"order", AT_INT, &order, 1, ASR_NGRAM_MAX_ORDER, NULL}};
  r = at_parse(argc, argv, opts, 1, pos, 2, 2, &npos,
               "ngram-train [--order 3] TEXT OUT.arpa\n"
               "  an interpolated Witten-Bell word n-gram model of the sentences of TEXT (one a line;\n"
               "  in a line with a tab, what follows its last tab, as in transcripts.tsv), written as\n"
               "  ARPA text: log10 probabilities and backoff weights (asr_ngram_train).");
  if (r) return r == 1 ? 0 : r;
  if (read_sentences(pos[0], &buf, &sent, &n)) goto done;
  if (asr_ngram_train(&lm, (const char *const *)sent, n, order, &err) != ASR_OK) {
    at_fail("%s", err.msg);
    goto done;
  }
  r = asr_ngram_write_arpa(&lm, pos[1], &err);
  if (r != ASR_OK) at_fail("%s", err.msg);
  else if (at_verbose) printf("ngram-train: %d sentences, %d words, %d n-grams of order <= %d\n", n, lm.n_words - 3,
                              lm.n_entries, order);
  asr_ngram_free(&lm);
  status = r == ASR_OK ? 0 : 2;
done:
  free(sent);
  free(buf);
  return status;
}

int cmd_ngram_score(int argc, char **argv) {
  char *pos[3], **sent = NULL;
  unsigned char *buf = NULL;
  int npos = 0, n = 0, i, r, status = 2;
  asr_real *lp = NULL;
  asr_ngram lm;
  asr_error err;
  at_outputs outs;
  int64_t shape[1];
  r = at_parse(argc, argv, NULL, 0, pos, 3, 3, &npos,
               "ngram-score LM.arpa TEXT OUTDIR\n"
               "  writes logprob.npy (n,): ln P of each sentence of TEXT under the ARPA model, from <s>\n"
               "  to </s> (asr_ngram_sentence_logprob; unknown words are <unk>).");
  if (r) return r == 1 ? 0 : r;
  if (asr_ngram_read_arpa(&lm, pos[0], &err) != ASR_OK) return at_fail("%s", err.msg);
  if (read_sentences(pos[1], &buf, &sent, &n)) goto done;
  lp = (asr_real *)malloc(sizeof *lp * (size_t)n);
  if (!lp) {
    at_fail("out of memory");
    goto done;
  }
  for (i = 0; i < n; i++) lp[i] = (asr_real)asr_ngram_sentence_logprob(&lm, sent[i]);
  shape[0] = n;
  outs.n = 0;
  at_out_add(&outs, "logprob.npy", ASR_DTYPE_REAL, 1, shape, lp);
  if (at_out_commit(&outs, pos[2])) goto done;
  status = 0;
done:
  asr_ngram_free(&lm);
  free(lp);
  free(sent);
  free(buf);
  return status;
}

int cmd_ctc_lexicon_decode(int argc, char **argv) {
  char *pos[3];
  const char *lm_path = NULL, *alphabet = ASR_CHARSET;
  int npos = 0, blank = 0, space = 1, beam = 16, T, V, t, n = 0, status = 2, r;
  double lm_weight = 0, word_bonus = 0, sc = 0;
  int64_t shape[ASR_MAX_DIMS], oshape[1];
  asr_real *x = NULL, *lp = NULL, score[1];
  int *tok = NULL;
  void *work = NULL;
  size_t wb;
  asr_lexicon lex;
  asr_ngram lm;
  asr_error err;
  asr_ctc_lexicon_opts o;
  at_outputs outs;
  const at_opt opts[] = {
    {"blank", AT_INT, &blank, 0, 1e9, NULL},         {"space", AT_INT, &space, 0, 1e9, NULL},
    {"beam", AT_INT, &beam, 1, 1e5, NULL},           {"lm", AT_STR, &lm_path, 0, 0, NULL},
    {"lm-weight", AT_REAL, &lm_weight, -1e3, 1e3, NULL}, {"word-bonus", AT_REAL, &word_bonus, -1e3, 1e3, NULL},
    {"alphabet", AT_STR, &alphabet, 0, 0, NULL},
  };
  memset(&lex, 0, sizeof lex);
  memset(&lm, 0, sizeof lm);
  r = at_parse(argc, argv, opts, 7, pos, 3, 3, &npos,
               "ctc-lexicon-decode [--blank 0] [--space 1] [--beam 16] [--lm LM.arpa] [--lm-weight A]\n"
               "                   [--word-bonus B] [--alphabet CHARS] LOGITS LEXICON OUTDIR\n"
               "  the best labelling of logits (T,V) made of LEXICON's words (one a line), by\n"
               "  ln p(l|x) + A ln P_LM(words) + B |words| (asr_ctc_lexicon_decode; --impl naive\n"
               "  enumerates every labelling and path, tiny sizes only). Token k is the k-th\n"
               "  character of CHARS (default: asr.h's ASR_CHARSET, V = 29). Writes tokens.npy (n,)\n"
               "  and score.npy (1,), -inf with no tokens when no labelling of words is possible.");
  if (r) return r == 1 ? 0 : r;
  if (at_npy_real(pos[0], 2, shape, &x, 0)) goto done;
  T = (int)shape[0];
  V = (int)shape[1];
  if ((int)strlen(alphabet) != V) {
    at_fail("%s has V=%d tokens, the alphabet %d characters", pos[0], V, (int)strlen(alphabet));
    goto done;
  }
  if (asr_lexicon_read(&lex, pos[1], alphabet, blank, space, &err) != ASR_OK ||
      (lm_path && asr_ngram_read_arpa(&lm, lm_path, &err) != ASR_OK)) {
    at_fail("%s", err.msg);
    goto done;
  }
  o = asr_ctc_lexicon_opts_default(&lex, beam, blank, space);
  o.lm = lm_path ? &lm : NULL;
  o.lm_weight = lm_weight;
  o.word_bonus = word_bonus;
  wb = asr_ctc_lexicon_workspace_size(T, V, beam);
  lp = (asr_real *)malloc(sizeof *lp * ((size_t)T * V + 1));
  tok = (int *)malloc(sizeof *tok * ((size_t)T + 1));
  work = wb != (size_t)-1 ? malloc(wb) : NULL;
  if (!lp || !tok || !work) {
    at_fail("out of memory (T=%d V=%d beam=%d)", T, V, beam);
    goto done;
  }
  for (t = 0; t < T; t++) asr_log_softmax(lp + (size_t)t * V, x + (size_t)t * V, V);
  r = (at_impl == AT_IMPL_NAIVE ? asr_ctc_lexicon_decode_naive
                                : at_impl == AT_IMPL_REF ? asr_ctc_lexicon_decode_ref : asr_ctc_lexicon_decode)(
      tok, &n, &sc, lp, T, V, &o, work, wb);
  if (r < 0) {
    at_fail("%s (T=%d V=%d)", r == ASR_ERR_TOO_LARGE ? "too large for --impl naive" : asr_result_string((asr_result)r),
            T, V);
    goto done;
  }
  score[0] = (asr_real)sc;
  oshape[0] = n;
  outs.n = 0;
  at_out_add(&outs, "tokens.npy", ASR_DTYPE_I32, 1, oshape, tok);
  oshape[0] = 1;
  at_out_add(&outs, "score.npy", ASR_DTYPE_REAL, 1, oshape, score);
  if (at_out_commit(&outs, pos[2])) goto done;
  if (at_verbose) printf("ctc-lexicon-decode: T=%d V=%d: %d tokens, score %.9g\n", T, V, n, sc);
  status = 0;
done:
  asr_lexicon_free(&lex);
  asr_ngram_free(&lm);
  free(x);
  free(lp);
  free(tok);
  free(work);
  return status;
}
