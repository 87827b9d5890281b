/* examples/recognizer/units.c - the discrete units of a vq-wav2vec model (build/pretrain's
 * checkpoint): which code every 10 ms frame of every recording gets.
 *
 *   build/units --model W2V.npz --data DIR --out OUTDIR [--item FILE --ctc-model CTC.npz]
 *
 * Runs the encoder f and the quantizer (no noise: the argmax of the Gumbel logits, or the
 * nearest k-means codeword) on every .wav / .ogg of DIR at 16 kHz and writes
 *   OUTDIR/units.tsv   file<TAB>frames<TAB>the codes, "i.j" per frame (one index per group)
 *   OUTDIR/usage.tsv   group<TAB>code<TAB>frames that chose it
 * and prints, per group, how many of the V codes are used and the code perplexity
 * exp(H) of their frequencies (asr.h 8.4). With --item (a file of DIR) and --ctc-model (a
 * CTC recipe of build/train), OUTDIR/units.svg draws that recording's fbank, its units
 * under it on the same time axis (one row per group, a colour per code) and the CTC
 * forced alignment of its transcript (DIR/transcripts.tsv) by the CTC model: does a unit
 * change where a letter does? Recordings shorter than the encoder's receptive field are
 * skipped with a note. Exit status 0, or 2 with one line (nothing written). */
#define _POSIX_C_SOURCE 200809L
#include "asrdata.h"
#include "../outpath.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The codes (T, G) of one waveform: f, then the quantizer without noise. */
static int codes_of(asr_w2v_model *m, const asr_real *x, int n, int *index, asr_error *err) {
  const asr_w2v_config *c = &m->cfg;
  int T = asr_w2v_frames(c, n), C = c->channels, t, k;
  size_t ws = asr_w2v_encoder_workspace_size(c, 1, n), NC = (size_t)T * C;
  asr_real *saved = (asr_real *)malloc(sizeof(asr_real) * asr_w2v_encoder_saved_size(c, 1, n));
  asr_real *z = (asr_real *)malloc(sizeof(asr_real) * NC), *zr = (asr_real *)malloc(sizeof(asr_real) * NC);
  asr_real *q = (asr_real *)malloc(sizeof(asr_real) * NC), *h = NULL, *lg = NULL, *p = NULL;
  void *work = malloc(ws + asr_vq_workspace_size(c->vq_vars));
  asr_result r = ASR_ERR_OUT_OF_MEMORY;
  if (c->quantizer == ASR_W2V_GUMBEL) {
    h = (asr_real *)malloc(sizeof(asr_real) * (size_t)T * m->gq.hidden);
    lg = (asr_real *)malloc(sizeof(asr_real) * (size_t)T * c->vq_groups * c->vq_vars);
    p = (asr_real *)malloc(sizeof(asr_real) * (size_t)T * c->vq_groups * c->vq_vars);
  }
  if (saved && z && zr && q && work && (c->quantizer != ASR_W2V_GUMBEL || (h && lg && p))) {
    r = asr_w2v_encoder_forward(z, saved, x, &m->enc, c, 1, n, work, ws);
    for (t = 0; r == ASR_OK && t < T; t++)                      /* (C, T) -> rows (T, C) */
      for (k = 0; k < C; k++) zr[(size_t)t * C + k] = z[(size_t)k * T + t];
    if (r == ASR_OK && c->quantizer == ASR_W2V_GUMBEL)
      r = asr_gumbel_quantizer_forward(q, index, h, lg, p, zr, NULL, &m->gq_w, &m->gq, T);
    else if (r == ASR_OK)
      r = asr_vq_forward(index, q, NULL, zr, m->codebook, T, C, c->vq_groups, c->vq_vars, 1, c->vq_gamma, work,
                         ws + asr_vq_workspace_size(c->vq_vars));
  }
  if (r != ASR_OK && err) snprintf(err->msg, sizeof err->msg, "%s", asr_result_string(r));
  free(saved), free(z), free(zr), free(q), free(work), free(h), free(lg), free(p);
  return r == ASR_OK ? 0 : 2;
}

/* The transcript of `item` (a file name of DIR) from DIR/transcripts.tsv, into text. */
static int transcript_of(const char *dir, const char *item, char *text, size_t cap) {
  ad_list l;
  int i, found = 0;
  if (ad_list_read(&l, dir)) return 2;
  for (i = 0; i < l.count && !found; i++) {
    const char *base = strrchr(l.items[i].path, '/');
    if (strcmp(base ? base + 1 : l.items[i].path, item) == 0) {
      snprintf(text, cap, "%s", l.items[i].text);
      found = 1;
    }
  }
  ad_list_free(&l);
  if (!found) fprintf(stderr, "units: %s has no transcript in %s\n", item, dir);
  return found ? 0 : 2;
}

/* units.svg: the fbank, the units (one row per group), the CTC alignment of the transcript. */
static int draw(const char *path, asr_w2v_model *wm, const char *ctc_path, const char *dir, const char *item,
                const asr_real *x, int n, const int *index) {
  asr_model m;
  asr_error err;
  asr_real *wave = NULL, *feats = NULL, *lp = NULL;
  int T = 0, Tu = asr_w2v_frames(&wm->cfg, n), G = wm->cfg.vq_groups, V = wm->cfg.vq_vars, len, S, k, t, g;
  int tokens[512], *labels = NULL, ret = 2;
  unsigned char *img = NULL;
  char text[1024], *buf = NULL;
  size_t blen = 0, wb;
  void *work = NULL;
  double W = 900, x0 = 90, lo = INFINITY, hi = -INFINITY, fps;
  FILE *fp;
  if (transcript_of(dir, item, text, sizeof text)) return 2;
  if (asr_model_load(&m, ctc_path, NULL, &err) != ASR_OK) return fprintf(stderr, "units: %s\n", err.msg), 2;
  if (m.cfg.head != ASR_HEAD_CTC) {
    fprintf(stderr, "units: %s is not a CTC model\n", ctc_path);
    goto done;
  }
  wave = (asr_real *)malloc(sizeof(asr_real) * (size_t)n);
  for (t = 0; wave && t < n; t++) wave[t] = x[t] * 32768;           /* back to Kaldi's scale */
  if (!wave || ad_features(&m, wave, n, 16000, item, &feats, &T)) goto done;
  if (T < asr_model_min_frames(&m)) {   /* before sizing: the workspace sizes are SIZE_MAX then */
    fprintf(stderr, "units: %s: %d feature frames are too short for the encoder's subsampling (%s needs %d)\n", item,
            T, m.cfg.recipe, asr_model_min_frames(&m));
    goto done;
  }
  S = asr_text_encode(text, tokens, 512, &err);
  if (S < 0) {
    fprintf(stderr, "units: the transcript of %s: %s\n", item, err.msg);
    goto done;
  }
  wb = asr_model_infer_workspace_size(&m, 1, T);
  len = asr_model_out_frames(&m, T);
  work = malloc(wb + asr_ctc_align_workspace_size(len, S > 0 ? S : 1));
  lp = (asr_real *)malloc(sizeof(asr_real) * (size_t)len * m.cfg.vocab);
  labels = (int *)malloc(sizeof(int) * (size_t)(len > 0 ? len : 1));
  img = (unsigned char *)malloc(3 * (size_t)T * m.cfg.n_mels + 3 * (size_t)Tu * G + 1);
  if (!work || !lp || !labels || !img) {
    fprintf(stderr, "units: out of memory\n");
    goto done;
  }
  if (asr_model_logprobs(&m, lp, &len, feats, &T, 1, T, work, wb, &err) != ASR_OK ||
      asr_ctc_align(labels, NULL, NULL, lp, tokens, len, m.cfg.vocab, S, 0, work,
                    wb + asr_ctc_align_workspace_size(len, S)) < 0) {
    fprintf(stderr, "units: the CTC model cannot align %s\n", item);
    goto done;
  }
  fp = open_memstream(&buf, &blen);
  if (!fp) {
    fprintf(stderr, "units: out of memory\n");
    goto done;
  }
  fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%d\" font-family=\"sans-serif\" "
              "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W + x0 + 20,
          300 + 30 * G);
  fprintf(fp, "<text x=\"%.0f\" y=\"20\" font-size=\"14\">%s: \"%s\"</text>\n", x0, item, text);
  for (t = 0; t < T * m.cfg.n_mels; t++) lo = feats[t] < lo ? feats[t] : lo, hi = feats[t] > hi ? feats[t] : hi;
  for (k = 0; k < m.cfg.n_mels; k++)                                   /* panel 1: the fbank */
    for (t = 0; t < T; t++)
      ad_ramp((feats[(size_t)t * m.cfg.n_mels + k] - lo) / (hi - lo + 1e-9),
              img + 3 * ((size_t)(m.cfg.n_mels - 1 - k) * T + t));
  ad_svg_png(fp, img, T, m.cfg.n_mels, x0, 32, W, 160);
  fprintf(fp, "<text x=\"%.0f\" y=\"115\" text-anchor=\"end\">fbank</text>\n", x0 - 6);
  fps = W / (T * 0.01);                                   /* pixels per second, 10 ms frames */
  for (g = 0; g < G; g++) {                               /* panel 2: a colour per code */
    double y = 205 + 30 * g;
    for (t = 0; t < Tu; t++) {
      unsigned char rgb[3];
      int code = index[(size_t)t * G + g];
      ad_ramp((double)code / (V > 1 ? V - 1 : 1), rgb);
      fprintf(fp, "<rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"24\" fill=\"#%02x%02x%02x\"/>\n",
              x0 + t * 0.01 * fps, y, 0.01 * fps, rgb[0], rgb[1], rgb[2]);
      if (t == 0 || index[(size_t)(t - 1) * G + g] != code)
        fprintf(fp, "<text x=\"%.2f\" y=\"%.0f\" font-size=\"8\" fill=\"white\">%d</text>\n", x0 + t * 0.01 * fps + 1,
                y + 15, code);
    }
    fprintf(fp, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">units g%d</text>\n", x0 - 6, y + 16, g);
  }
  {                                                       /* panel 3: the CTC alignment */
    double y = 225 + 30 * G, sub = 0.01 * asr_model_subsampling(&m) * fps;
    char name[2] = {0, 0};
    for (t = 0; t < len; t++)
      if (labels[t] != 0 && (t == 0 || labels[t] != labels[t - 1])) {
        name[0] = labels[t] == 1 ? '_' : ASR_CHARSET[labels[t]];
        fprintf(fp, "<line x1=\"%.1f\" y1=\"32\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#d62728\" stroke-width=\"0.6\" "
                    "stroke-dasharray=\"2,2\"/>\n", x0 + t * sub, x0 + t * sub, y - 12);
        fprintf(fp, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#d62728\">%s</text>\n",
                x0 + (t + 0.5) * sub, y, name);
      }
    fprintf(fp, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">CTC alignment</text>\n", x0 - 6, y);
    fprintf(fp, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">time: %.2f s; units every 10 ms, letters "
                "at the CTC model's %d ms frames</text>\n</svg>\n", x0 + W / 2, y + 40, T * 0.01,
            10 * asr_model_subsampling(&m));
  }
  fclose(fp);
  if (asr_write_file_atomic(path, buf, blen, &err) != ASR_OK) {
    fprintf(stderr, "units: %s\n", err.msg);
    goto done;
  }
  ret = 0;
done:
  free(wave), free(feats), free(lp), free(labels), free(img), free(buf), free(work);
  asr_model_free(&m);
  return ret;
}

int main(int argc, char **argv) {
  const char *model = NULL, *data = NULL, *out = NULL, *item = NULL, *ctc = NULL;
  asr_w2v_model m;
  asr_error err;
  ad_waves w;
  int i, g, G, V, skipped = 0, total = 0, *all = NULL, *idx = NULL, item_i = -1, ret = 2;
  long *count = NULL;
  char *tsv = NULL, *usage = NULL, path[4096];
  size_t tl = 0, ul = 0;
  FILE *ft, *fu;
  double ppl[64];
  for (i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--model")) model = argv[i + 1];
    else if (!strcmp(argv[i], "--data")) data = argv[i + 1];
    else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
    else if (!strcmp(argv[i], "--item")) item = argv[i + 1];
    else if (!strcmp(argv[i], "--ctc-model")) ctc = argv[i + 1];
    else break;
  }
  if (i != argc || !model || !data || !out || !item != !ctc) {
    fprintf(stderr, "usage: units --model W2V.npz --data DIR --out OUTDIR [--item FILE --ctc-model CTC.npz]\n");
    return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
  }
  {                                   /* never write over an input (examples/outpath.h) */
    const char *in[3];
    in[0] = model, in[1] = data, in[2] = ctc;
    if (op_check("units", out, in, 3)) return 2;
  }
  if (asr_w2v_model_load(&m, model, NULL, &err) != ASR_OK) return fprintf(stderr, "units: %s\n", err.msg), 2;
  if (m.cfg.quantizer == ASR_W2V_NONE) {
    fprintf(stderr, "units: %s is a wav2vec model without a quantizer: it has no units\n", model);
    asr_w2v_model_free(&m);
    return 2;
  }
  G = m.cfg.vq_groups, V = m.cfg.vq_vars;
  if (ad_waves_read(&w, data, 16000)) {
    asr_w2v_model_free(&m);
    return 2;
  }
  for (i = 0; i < w.count; i++) total += asr_w2v_frames(&m.cfg, w.n[i]);
  all = (int *)malloc(sizeof(int) * ((size_t)total * G + 1));
  count = (long *)calloc((size_t)G * V, sizeof(long));
  ft = open_memstream(&tsv, &tl), fu = open_memstream(&usage, &ul);
  if (!all || !count || !ft || !fu) goto done;
  total = 0;
  for (i = 0; i < w.count; i++) {
    const char *base = strrchr(w.paths[i], '/');
    int T = asr_w2v_frames(&m.cfg, w.n[i]), t;
    base = base ? base + 1 : w.paths[i];
    if (T < 1) {
      skipped++;
      continue;
    }
    idx = all + (size_t)total * G;
    if (codes_of(&m, w.x[i], w.n[i], idx, &err)) {
      fprintf(stderr, "units: %s: %s\n", w.paths[i], err.msg);
      fclose(ft), fclose(fu);
      goto done;
    }
    if (item && !strcmp(base, item)) item_i = i;
    fprintf(ft, "%s\t%d\t", base, T);
    for (t = 0; t < T; t++)
      for (g = 0; g < G; g++) {
        fprintf(ft, g ? ".%d" : (t ? " %d" : "%d"), idx[(size_t)t * G + g]);
        count[(size_t)g * V + idx[(size_t)t * G + g]]++;
      }
    fputc('\n', ft);
    total += T;
  }
  for (g = 0; g < G; g++)
    for (i = 0; i < V; i++) fprintf(fu, "%d\t%d\t%ld\n", g, i, count[(size_t)g * V + i]);
  fclose(ft), fclose(fu);
  if (item && item_i < 0) {
    fprintf(stderr, "units: --item %s is not a recording of %s (long enough for one frame)\n", item, data);
    goto done;
  }
  if (mkdir(out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "units: cannot create %s (%s)\n", out, strerror(errno));
    goto done;
  }
  {                                   /* temporaries a killed run left (examples/outpath.h) */
    static const char *const names[3] = {"units.svg", "units.tsv", "usage.tsv"};
    for (i = 0; i < 3; i++) {
      snprintf(path, sizeof path, "%s/%s", out, names[i]);
      op_remove_stale_temps(path, OP_STALE_AGE);
    }
  }
  if (item) {                                   /* the picture first: it is what can fail */
    snprintf(path, sizeof path, "%s/units.svg", out);
    idx = all;
    for (i = 0; i < item_i; i++) idx += (size_t)asr_w2v_frames(&m.cfg, w.n[i]) * G;
    if (draw(path, &m, ctc, data, item, w.x[item_i], w.n[item_i], idx)) goto done;
  }
  snprintf(path, sizeof path, "%s/units.tsv", out);
  if (asr_write_file_atomic(path, tsv, tl, &err) != ASR_OK) goto fail;
  snprintf(path, sizeof path, "%s/usage.tsv", out);
  if (asr_write_file_atomic(path, usage, ul, &err) != ASR_OK) goto fail;
  asr_code_perplexity(ppl, all, total, G, V, 0);
  if (skipped) printf("note: skipped %d recordings shorter than %d samples\n", skipped, asr_w2v_receptive_field(&m.cfg));
  printf("%d recordings, %d frames; per group: codes used of %d, perplexity", w.count - skipped, total, V);
  for (g = 0; g < G && g < 64; g++) {
    int used = 0;
    for (i = 0; i < V; i++) used += count[(size_t)g * V + i] > 0;
    printf("%s g%d %d, %.2f", g ? ";" : "", g, used, ppl[g]);
  }
  printf("\nwrote %s/units.tsv, %s/usage.tsv%s\n", out, out, item ? " and units.svg" : "");
  ret = 0;
  goto done;
fail:
  fprintf(stderr, "units: %s\n", err.msg);
done:
  free(all), free(count), free(tsv), free(usage);
  ad_waves_free(&w);
  asr_w2v_model_free(&m);
  return ret;
}
