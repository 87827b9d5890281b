/* examples/recognizer/posteriorgram.c - what a model sees and says about one utterance.
 *
 *   build/posteriorgram --model MODEL.npz [--beam N] [--ctc-weight W] FILE OUT.svg
 *
 * Draws, one above the other on a common time axis: the log-mel features of FILE, then
 * for a CTC model its posteriorgram (the probability of every token at every output
 * frame, white 0 to black 1; the blank row on top) and the best path: each non-blank token
 * is written at the frames where it is emitted; for an attention model (ctc-attention,
 * las, las-pblstm) the attention panel instead: the decoded text, one row per token and
 * <eos>, each row the weights over the encoder frames with which
 * the decoder reads the input at that step (asr_model_attention; white 0 to black 1).
 * A model that has learned to align draws a monotonic, near-diagonal band. The text is
 * build/transcribe's answer for the same file and options: the same decoding call
 * (asr_model_decode_with, the defaults of asr_model_decode_opts_default with
 * ad_default_beam: the joint search at beam 1 with the model's ctc_weight), changed by
 * --beam N and --ctc-weight W as transcribe's options of those names (attention models
 * only). (Until 2026-12-07 it decoded at beam 4 while transcribe's default is beam 1, and
 * the two could print other words for the same file.) The picture is
 * an SVG with the heat maps as
 * embedded PNG images (ad_svg_png, examples/recognizer/asrdata.c). */
#define _POSIX_C_SOURCE 200809L
#include "asrdata.h"
#include "../outpath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The name of token k for a label: the character, or blank / space. */
static const char *token_name(int k, char *buf) {
  if (k == 0) return "blank";
  if (k == 1) return "space";
  buf[0] = ASR_CHARSET[k];
  buf[1] = 0;
  return buf;
}

/* The features panel: log-mel features, low bins at the bottom. img: room for T * n_mels pixels. */
static void features_panel(FILE *fp, const asr_model *m, const asr_real *feats, int T, unsigned char *img, double x0,
                           double W) {
  double lo = INFINITY, hi = -INFINITY;
  int t, k;
  for (t = 0; t < T * m->cfg.n_mels; t++) {
    if (feats[t] < lo) lo = feats[t];
    if (feats[t] > hi) hi = feats[t];
  }
  for (k = 0; k < m->cfg.n_mels; k++)
    for (t = 0; t < T; t++)
      ad_ramp((feats[(size_t)t * m->cfg.n_mels + k] - lo) / (hi - lo + 1e-9),
           img + 3 * ((size_t)(m->cfg.n_mels - 1 - k) * T + t));
  ad_svg_png(fp, img, T, m->cfg.n_mels, x0, 32, W, 160);
  fprintf(fp, "<text x=\"%.0f\" y=\"115\" text-anchor=\"end\">%d mel</text>\n", x0 - 6, m->cfg.n_mels);
}

/* An attention model: features, then the decoded text's attention weights. 0 or 2. */
static int attention_picture(asr_model *m, const asr_real *feats, int T, const asr_model_decode_opts *o,
                             const char *file, const char *out) {
  int Tout = asr_model_out_frames(m, T), cap = 4 * Tout + 1, ntok = 0, i, t, U, status = 2;
  size_t wb = asr_model_decode_with_workspace_size(m, T, o), ab;
  int *tok = (int *)malloc(sizeof(int) * (size_t)cap);
  void *work = malloc(wb);
  asr_real *alpha = NULL;
  unsigned char *img = NULL;
  double W = 900, x0 = 70, H, amax = 0;
  char *buf = NULL, text[1024], name[8];
  size_t blen = 0;
  asr_error err;
  FILE *fp;
  /* transcribe's call (decode_window): spans are not asked for, as there for a whole file */
  if (!tok || !work || asr_model_decode_with(m, tok, &ntok, NULL, NULL, cap, feats, T, o, work, wb, &err) != ASR_OK) {
    fprintf(stderr, "posteriorgram: %s\n", tok && work ? err.msg : "out of memory");
    goto done;
  }
  free(work);
  U = ntok + 1;
  ab = asr_model_attention_workspace_size(m, T, ntok);
  work = malloc(ab);
  alpha = (asr_real *)malloc(sizeof(asr_real) * (size_t)U * Tout);
  img = (unsigned char *)malloc(3 * (size_t)T * (m->cfg.n_mels > U ? m->cfg.n_mels : U));
  if (!work || !alpha || !img || asr_model_attention(m, alpha, tok, ntok, feats, T, work, ab, &err) != ASR_OK) {
    fprintf(stderr, "posteriorgram: %s\n", work && alpha && img ? err.msg : "out of memory");
    goto done;
  }
  if (asr_text_decode(tok, ntok, text, sizeof text) < 0) text[0] = 0;
  H = U * 14.0 < 232 ? 232 : U * 14.0;
  fp = open_memstream(&buf, &blen);
  if (!fp) {
    fprintf(stderr, "posteriorgram: out of memory\n");
    goto done;
  }
  fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
              "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W + x0 + 20, 270 + H);
  fprintf(fp, "<text x=\"%.0f\" y=\"20\" font-size=\"14\">%s (%s): \"%s\"</text>\n", x0, file, m->cfg.recipe, text);
  features_panel(fp, m, feats, T, img, x0, W);
  /* the attention weights, one row per decoder step, each row scaled to its own maximum */
  for (i = 0; i < U; i++) {
    amax = 0;
    for (t = 0; t < Tout; t++) amax = alpha[(size_t)i * Tout + t] > amax ? alpha[(size_t)i * Tout + t] : amax;
    for (t = 0; t < Tout; t++) {
      int g = 255 - (int)(255 * alpha[(size_t)i * Tout + t] / (amax > 0 ? amax : 1) + 0.5);
      unsigned char *px = img + 3 * ((size_t)i * Tout + t);
      px[0] = px[1] = px[2] = (unsigned char)(g < 0 ? 0 : g);
    }
  }
  ad_svg_png(fp, img, Tout, U, x0, 210, W, H);
  for (i = 0; i < U; i++)
    fprintf(fp, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"9\">%s</text>\n", x0 - 4,
            210 + (i + 0.8) * H / U, i == ntok ? "&lt;eos&gt;" : tok[i] == 1 ? "space" : token_name(tok[i], name));
  fprintf(fp, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">time: %.2f s, %d feature frames, %d encoder frames "
              "(%dx subsampling); rows: decoder steps, each scaled to its largest weight</text>\n</svg>\n",
          x0 + W / 2, 250 + H, T * 0.01, T, Tout, asr_model_subsampling(m));
  fclose(fp);
  if (asr_write_file_atomic(out, buf, blen, &err) != ASR_OK) fprintf(stderr, "posteriorgram: %s\n", err.msg);
  else status = 0;
done:
  free(buf), free(work), free(alpha), free(img), free(tok);
  return status;
}

int main(int argc, char **argv) {
  asr_model m;
  asr_error err;
  asr_audio a;
  asr_real *feats = NULL, *lp = NULL;
  int T, Tout, len, V, t, k, *path = NULL, ntok, *tok = NULL, status = 2;
  unsigned char *img = NULL;
  double W = 900, x0 = 70, sub;
  FILE *fp;
  char *buf = NULL, text[1024], name[8];
  size_t blen = 0;
  void *work = NULL;
  size_t wb;
  const char *model = NULL, *file, *out, *in[2];
  long beam = 0;
  double ctc_weight = -1;
  asr_model_decode_opts dopts;
  for (k = 1; k + 2 < argc; k += 2) {
    if (!strcmp(argv[k], "--model")) model = argv[k + 1];
    else if (!strcmp(argv[k], "--beam")) {
      if (ad_parse_long("posteriorgram", "beam", argv[k + 1], 1, 1000, &beam)) return 2;
    } else if (!strcmp(argv[k], "--ctc-weight")) {
      if (ad_parse_double("posteriorgram", "ctc-weight", argv[k + 1], 0, 1, &ctc_weight)) return 2;
    } else break;
  }
  if (!model || k + 2 != argc || argv[k][0] == '-') {
    fprintf(stderr, "usage: posteriorgram --model MODEL.npz [--beam N] [--ctc-weight W] FILE OUT.svg\n");
    return 2;
  }
  file = argv[k], out = argv[k + 1], in[0] = model, in[1] = file;
  /* also removes OUT.svg.tmpXXXXXXXX of a run killed while writing */
  if (op_check("posteriorgram", out, in, 2)) return 2;
  if (asr_model_load(&m, model, NULL, &err) != ASR_OK) {
    fprintf(stderr, "posteriorgram: %s\n", err.msg);
    return 2;
  }
  if (m.cfg.head != ASR_HEAD_TRANSFORMER && m.cfg.head != ASR_HEAD_LAS && (beam || ctc_weight >= 0)) {
    fprintf(stderr, "posteriorgram: --beam and --ctc-weight are for the attention recipes (ctc-attention, las, "
                    "las-pblstm); %s is %s\n", model, m.cfg.recipe);
    goto done;
  }
  if (m.cfg.head == ASR_HEAD_LAS && ctc_weight > 0) {
    fprintf(stderr, "posteriorgram: %s (%s) has no CTC branch: --ctc-weight must be 0\n", model, m.cfg.recipe);
    goto done;
  }
  /* build/transcribe's defaults (ad_default_beam) and options */
  dopts = asr_model_decode_opts_default(&m, beam ? (int)beam : ad_default_beam(&m));
  if (ctc_weight >= 0) dopts.ctc_weight = ctc_weight;
  if (ad_audio_read(file, &a)) goto done;
  k = ad_features(&m, a.samples, a.n, a.sample_rate, file, &feats, &T);
  asr_audio_free(&a, NULL);
  if (k) goto done;
  if (T < asr_model_min_frames(&m)) {   /* before sizing: the workspace sizes are SIZE_MAX then */
    fprintf(stderr, "%s: %d feature frames are too short for the encoder's subsampling (%s needs %d)\n", file, T,
            m.cfg.recipe, asr_model_min_frames(&m));
    goto done;
  }
  V = m.cfg.vocab;
  Tout = asr_model_out_frames(&m, T);
  wb = asr_model_infer_workspace_size(&m, 1, T);
  work = malloc(wb);
  lp = (asr_real *)malloc(sizeof *lp * (size_t)Tout * V);
  path = (int *)malloc(sizeof *path * (size_t)Tout);
  tok = (int *)malloc(sizeof *tok * (size_t)Tout);
  img = (unsigned char *)malloc(3 * (size_t)T * (m.cfg.n_mels > V ? m.cfg.n_mels : V));
  if (!work || !lp || !path || !tok || !img) {
    fprintf(stderr, "posteriorgram: out of memory\n");
    goto done;
  }
  if (m.cfg.head == ASR_HEAD_TRANSFORMER || m.cfg.head == ASR_HEAD_LAS) {
    status = attention_picture(&m, feats, T, &dopts, file, out);
    goto done;
  }
  if (asr_model_logprobs(&m, lp, &len, feats, &T, 1, T, work, wb, &err) != ASR_OK) {
    fprintf(stderr, "posteriorgram: %s\n", err.msg);
    goto done;
  }
  asr_ctc_greedy_decode(tok, &ntok, NULL, path, lp, len, V, 0);
  if (asr_text_decode(tok, ntok, text, sizeof text) < 0) text[0] = 0;
  fp = open_memstream(&buf, &blen);
  if (!fp) {
    fprintf(stderr, "posteriorgram: out of memory\n");
    goto done;
  }
  fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"520\" font-family=\"sans-serif\" "
              "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W + x0 + 20);
  fprintf(fp, "<text x=\"%.0f\" y=\"20\" font-size=\"14\">%s: \"%s\"</text>\n", x0, file, text);
  features_panel(fp, &m, feats, T, img, x0, W);
  /* panel 2: the posteriorgram, one row per token, blank on top */
  for (k = 0; k < V; k++)
    for (t = 0; t < len; t++) {
      int g = 255 - (int)(255 * exp(lp[(size_t)t * V + k]) + 0.5);
      unsigned char *px = img + 3 * ((size_t)k * len + t);
      px[0] = px[1] = px[2] = (unsigned char)(g < 0 ? 0 : g);
    }
  ad_svg_png(fp, img, len, V, x0, 210, W, 232);
  for (k = 0; k < V; k++)
    fprintf(fp, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"8\">%s</text>\n", x0 - 4,
            210 + (k + 0.8) * 232.0 / V, token_name(k, name));
  /* panel 3: the best path, each token at its frames */
  sub = W / len;
  for (t = 0; t < len; t++)
    if (path[t] != 0 && (t == 0 || path[t] != path[t - 1]))
      fprintf(fp, "<text x=\"%.1f\" y=\"466\" text-anchor=\"middle\" fill=\"#d62728\">%s</text>\n",
              x0 + (t + 0.5) * sub, path[t] == 1 ? "_" : token_name(path[t], name));
  fprintf(fp, "<text x=\"%.0f\" y=\"466\" text-anchor=\"end\">best path</text>\n", x0 - 6);
  fprintf(fp, "<text x=\"%.0f\" y=\"500\" text-anchor=\"middle\">time: %.2f s, %d feature frames, %d output frames "
              "(%dx subsampling)</text>\n</svg>\n", x0 + W / 2, T * 0.01, T, len, asr_model_subsampling(&m));
  fclose(fp);
  if (asr_write_file_atomic(out, buf, blen, &err) != ASR_OK) {
    fprintf(stderr, "posteriorgram: %s\n", err.msg);
    goto done;
  }
  status = 0;
done:
  free(buf), free(work), free(lp), free(path), free(tok), free(img), free(feats);
  asr_model_free(&m);
  return status;
}
