"""build/train and build/transcribe on bad input: exit status 2, one line on stderr that
names the problem, and no model file written or damaged, also when training is
interrupted (issue 7's "Bad input"). These need no torch; they live here because this
runner already drives the built programs."""
import json
import os
import shutil
import signal
import subprocess
import time
import wave

import numpy as np

import common

TRAIN = os.path.join(common.BUILD, "train")
TRANSCRIBE = os.path.join(common.BUILD, "transcribe")
TOY = os.path.join(common.ROOT, "data", "toy", "test")
MODEL = os.path.join(common.ROOT, "data", "models", "ctc-contextnet.npz")


def write_wav(path, samples, rate=16000):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def refused(argv, must_mention):
    """Runs argv, which must exit 2 with one stderr line containing must_mention."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    if proc.returncode != 2 or len(lines) != 1 or must_mention not in lines[0]:
        raise AssertionError(f"{' '.join(argv[:3])}...: exit {proc.returncode}, stderr {proc.stderr!r}; "
                             f"expected exit 2 and one line naming {must_mention!r}")


def small_corpus(d, n=4):
    """n utterances of the toy test split copied into d with their transcripts."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(TOY, "transcripts.tsv")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()][:n]
    with open(os.path.join(d, "transcripts.tsv"), "w") as f:
        for path, text in rows:
            shutil.copy(os.path.join(TOY, path), os.path.join(d, os.path.basename(path)))
            f.write(f"{os.path.basename(path)}\t{text}\n")


def test_train_bad_input():
    d = common.tmpdir()
    out = os.path.join(d, "model.npz")
    base = [TRAIN, "--recipe", "ctc-contextnet", "--out", out, "--steps", "1", "--data"]
    missing = os.path.join(d, "missing")
    refused(base + [missing], "missing")
    empty = os.path.join(d, "empty")
    os.makedirs(empty)
    refused(base + [empty], "empty")
    chars = os.path.join(d, "chars")
    small_corpus(chars, 1)
    with open(os.path.join(chars, "transcripts.tsv")) as f:
        path = f.read().split("\t")[0]
    with open(os.path.join(chars, "transcripts.tsv"), "w") as f:
        f.write(f"{path}\tseven, eight\n")
    refused(base + [chars], "','")
    short = os.path.join(d, "short")
    os.makedirs(short)
    write_wav(os.path.join(short, "a.wav"), np.zeros(160))
    with open(os.path.join(short, "transcripts.tsv"), "w") as f:
        f.write("a.wav\tone\n")
    refused(base + [short], "a.wav")
    refused([TRAIN, "--recipe", "no-such-recipe", "--data", short, "--out", out], "no-such-recipe")
    if os.path.exists(out):
        raise AssertionError("a refused run wrote the model file")
    return "missing folder, no transcripts, unknown character, 10 ms clip, unknown recipe"


def test_transcribe_bad_model():
    d = common.tmpdir()
    clip = os.path.join(TOY, "0000.ogg")
    with open(MODEL, "rb") as f:
        data = f.read()
    cut = os.path.join(d, "cut.npz")
    with open(cut, "wb") as f:
        f.write(data[: len(data) // 2])
    refused([TRANSCRIBE, "--model", cut, clip], "cut.npz")
    refused([TRANSCRIBE, "--model", os.path.join(common.ROOT, "data", "demo.ogg"), clip], "demo.ogg")
    refused([TRANSCRIBE, "--model", MODEL, os.path.join(d, "missing.wav")], "missing.wav")
    return "truncated .npz, a foreign file as model, a missing recording"


def test_interrupted_training_keeps_the_old_model():
    d = common.tmpdir()
    corpus = os.path.join(d, "corpus")
    small_corpus(corpus)
    out = os.path.join(d, "model.npz")
    shutil.copy(MODEL, out)
    with open(out, "rb") as f:
        before = f.read()
    proc = subprocess.Popen([TRAIN, "--recipe", "ctc-contextnet", "--data", corpus, "--out", out,
                             "--steps", "100000", "--eval-every", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    with open(out, "rb") as f:
        after = f.read()
    if after != before:
        # a checkpoint written whole before the interrupt is allowed; a broken one is not
        check = subprocess.run([common.ASRTOOL, "info", out], capture_output=True, text=True)
        if check.returncode != 0:
            raise AssertionError(f"the interrupted run left a broken model: {check.stderr.strip()}")
    # model.svg is the loss curve train draws next to the model at each evaluation
    left = sorted(set(os.listdir(d)) - {"corpus", "model.npz", "model.svg"})
    if left:
        raise AssertionError(f"the interrupted run left files behind: {left}")
    return f"SIGINT after 4 s (exit {proc.returncode}): model {'unchanged' if after == before else 'whole'}"


def test_killed_training_never_leaves_a_broken_model():
    d = common.tmpdir()
    corpus = os.path.join(d, "corpus")
    small_corpus(corpus)
    out = os.path.join(d, "model.npz")
    notes = []
    for delay in (1.0, 2.5, 4.0):
        shutil.copy(MODEL, out)
        proc = subprocess.Popen([TRAIN, "--recipe", "ctc-contextnet", "--data", corpus, "--out", out,
                                 "--steps", "100000", "--eval-every", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()  # SIGKILL: no handler runs, as in a crash or a power cut
        proc.wait(timeout=60)
        check = subprocess.run([common.ASRTOOL, "info", out], capture_output=True, text=True)
        if check.returncode != 0:
            raise AssertionError(f"killed after {delay} s, the model is broken: {check.stderr.strip()}")
        notes.append(f"{delay:g} s")
    return "SIGKILL after " + ", ".join(notes) + ": the model file always whole"


def fsdd_like(d, speakers=("ann", "bob"), digits=(0, 1, 2), takes=(5, 6, 10, 11, 12)):
    """Recordings named as in the Free Spoken Digit Dataset: 8 kHz, 0.3-0.5 s of noisy tones
    (what they sound like does not matter to these checks)."""
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    for s, speaker in enumerate(speakers):
        for digit in digits:
            for take in takes:
                n = int(8000 * rng.uniform(0.3, 0.5))
                t = np.arange(n) / 8000
                x = 3000 * np.sin(2 * np.pi * (200 + 100 * digit + 30 * s) * t) + 100 * rng.standard_normal(n)
                write_wav(os.path.join(d, f"{digit}_{speaker}_{take}.wav"), x, rate=8000)


def test_splice_is_deterministic():
    d = common.tmpdir()
    corpus = os.path.join(d, "fsdd")
    fsdd_like(corpus)
    runs = []
    for k in range(2):
        out = os.path.join(d, f"model{k}.npz")
        proc = subprocess.run([TRAIN, "--recipe", "ctc-contextnet", "--data", corpus, "--out", out, "--steps", "8",
                               "--splice", "1-3", "--speed-perturb", "--pad", "0.05", "--seed", "3",
                               "--eval-every", "4"],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0 or "spliced anew each epoch, speeds 0.9/1.0/1.1" not in proc.stdout:
            raise AssertionError(f"train --splice --speed-perturb: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
        with open(out, "rb") as f:
            runs.append(f.read())
    if runs[0] != runs[1]:
        raise AssertionError("two runs with the same seed gave different models")
    # --pad is the model's: stored as pad_ms, and transcribe pads as the model was trained
    model = os.path.join(d, "model0.npz")
    cfg = json.loads(bytes(np.load(model)["config"]).decode())
    if cfg.get("pad_ms") != 50:
        raise AssertionError(f"train --pad 0.05 stored pad_ms {cfg.get('pad_ms')!r}")
    outs = [subprocess.run([TRANSCRIBE, "--model", model, "--data", corpus] + extra, capture_output=True,
                           text=True, timeout=120).stdout for extra in ([], ["--pad", "0.05"])]
    if outs[0] != outs[1] or not outs[0]:
        raise AssertionError(f"transcribe did not pad as the model says:\n{outs[0]}\nvs --pad 0.05:\n{outs[1]}")
    refused([TRAIN, "--recipe", "ctc-contextnet", "--data", corpus, "--out", os.path.join(d, "x.npz"),
             "--speed-perturb"], "--splice")
    # one speaker's recordings at two rates cannot be joined into one utterance
    write_wav(os.path.join(corpus, "0_ann_10.wav"), 3000 * np.sin(np.arange(6400) / 9), rate=16000)
    refused([TRAIN, "--recipe", "ctc-contextnet", "--data", corpus, "--out", os.path.join(d, "x.npz"),
             "--splice", "5-5"], "sample rate")
    return "8 steps over 12 recordings (several epochs, re-spliced each): two runs bit-identical; " \
           "pad_ms 50 stored and used by transcribe; --speed-perturb without --splice and " \
           "a speaker at two sample rates refused"


def test_pad():
    """--pad SECONDS: noise at the recording's background level before and after it. The
    bundled model still hears the toy clip's words, and --align reports times of the
    recording itself (the padding subtracted)."""
    clip = os.path.join(TOY, "0002.ogg")
    with open(os.path.join(TOY, "transcripts.tsv")) as f:
        truth = dict(line.rstrip("\n").split("\t") for line in f if line.strip())["0002.ogg"]
    lines = {}
    for pad in ("0", "0.2"):
        proc = subprocess.run([TRANSCRIBE, "--model", MODEL, "--align", "--pad", pad, clip],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise AssertionError(f"transcribe --pad {pad}: exit {proc.returncode}: {proc.stderr}")
        lines[pad] = proc.stdout.rstrip("\n").split("\t")
    if lines["0.2"][1] != truth:
        raise AssertionError(f"with --pad 0.2 the bundled model heard {lines['0.2'][1]!r}, not {truth!r}")
    def times(words):
        return [float(t) for w in words.split() for t in w.split("@")[1].split("-")]
    plain, padded = times(lines["0"][2]), times(lines["0.2"][2])
    worst = max(abs(a - b) for a, b in zip(plain, padded))
    if len(plain) != len(padded) or worst > 0.081:       # two 40 ms output frames
        raise AssertionError(f"--align times moved with --pad: {lines['0'][2]} vs {lines['0.2'][2]}")
    d = common.tmpdir()
    for bad in ("-1", "2", "x"):
        refused([TRANSCRIBE, "--model", MODEL, "--pad", bad, clip], "--pad")
        refused([TRAIN, "--recipe", "ctc-contextnet", "--data", TOY, "--out", os.path.join(d, "m.npz"),
                 "--pad", bad], "--pad")
    return f"{truth!r} heard with 0.2 s of padding; word times within {worst:.2f} s of the unpadded ones; " \
           "--pad -1, 2, x refused by both programs"


def test_speaker_filter():
    """--speakers / --exclude-speakers (the leave-one-speaker-out folds of tests/eval.sh):
    transcribe lists exactly the kept speakers' recordings, train counts only theirs, and
    a name the folder does not have, or a folder without speaker names, is refused."""
    d = common.tmpdir()
    corpus = os.path.join(d, "fsdd")
    fsdd_like(corpus, speakers=("ann", "bob", "cid"))
    def listed(extra):
        proc = subprocess.run([TRANSCRIBE, "--model", MODEL, "--data", corpus] + extra, capture_output=True,
                              text=True, timeout=300)
        if proc.returncode != 0:
            raise AssertionError(f"transcribe {extra}: exit {proc.returncode}: {proc.stderr}")
        return sorted({os.path.basename(line.split("\t")[0]).split("_")[1] for line in proc.stdout.splitlines()}), \
            len(proc.stdout.splitlines())
    per_speaker = 3 * 5                                   # fsdd_like: 3 digits x 5 takes
    cases = {("--speakers", "ann,cid"): ["ann", "cid"], ("--exclude-speakers", "bob"): ["ann", "cid"],
             ("--speakers", "bob"): ["bob"]}
    for extra, want in cases.items():
        got, n = listed(list(extra))
        if got != want or n != per_speaker * len(want):
            raise AssertionError(f"transcribe {' '.join(extra)}: speakers {got}, {n} files; expected {want}, "
                                 f"{per_speaker * len(want)} files")
    got, n = listed(["--speakers", "ann,bob", "--exclude-speakers", "ann", "--takes", "10-12"])
    if got != ["bob"] or n != 9:
        raise AssertionError(f"--speakers ann,bob --exclude-speakers ann --takes 10-12: {got}, {n} files")
    out = os.path.join(d, "m.npz")
    proc = subprocess.run([TRAIN, "--recipe", "ctc-contextnet", "--data", corpus, "--out", out, "--steps", "1",
                           "--speakers", "bob,cid", "--eval-every", "0"], capture_output=True, text=True, timeout=300)
    want = f"{2 * 3 * 3} training utterances"              # takes 10-12 of two speakers, 3 digits
    if proc.returncode != 0 or want not in proc.stdout or ", 12 dev" not in proc.stdout:
        raise AssertionError(f"train --speakers bob,cid: expected '{want}' and 12 dev: {proc.stdout}{proc.stderr}")
    base = ["--model", MODEL, "--data", corpus]
    refused([TRANSCRIBE] + base + ["--speakers", "ann,dan"], "'dan'")
    refused([TRANSCRIBE] + base + ["--exclude-speakers", "ann,bob,cid"], "no speaker")
    refused([TRAIN, "--recipe", "ctc-contextnet", "--data", corpus, "--out", os.path.join(d, "x.npz"),
             "--exclude-speakers", "eve"], "'eve'")
    refused([TRANSCRIBE, "--model", MODEL, "--data", TOY, "--speakers", "ann"], "names no speakers")
    if os.path.exists(os.path.join(d, "x.npz")):
        raise AssertionError("a refused run wrote the model file")
    return "3 speakers: --speakers, --exclude-speakers and both with --takes keep exactly the named recordings " \
           "(transcribe) and train counts 18 training / 12 dev for two of them; an unknown name, no speaker " \
           "left, and a transcripts.tsv folder refused"


def kaldi_stats(paths):
    """Per-bin mean and deviation (Kaldi's compute-cmvn-stats, in double) of torchaudio's Kaldi
    fbank, 80 bins, of 16 kHz WAV files (16-bit scale): what a recipe model's front end computes."""
    import torch
    import torchaudio
    frames = []
    for path in paths:
        with wave.open(path, "rb") as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
        frames.append(torchaudio.compliance.kaldi.fbank(torch.from_numpy(x)[None], num_mel_bins=80).double().numpy())
    f = np.concatenate(frames)
    mean = f.mean(0)
    return mean, np.sqrt(np.maximum((f * f).mean(0) - mean * mean, 1e-20))


def test_speaker_cmvn():
    """--cmvn speaker (issue 16: Kaldi's compute-cmvn-stats --spk2utt, then apply-cmvn
    --utt2spk). build/train: the checkpoint's normalize.mean / .std are the pooled statistics of
    the training speakers' takes 5-49 (not take 0, not the left-out speaker), as torchaudio's
    Kaldi fbank of the same recordings gives them. build/transcribe: each voice normalized with
    its own statistics: the bundled model turned into a per-speaker one transcribes every
    speaker's files exactly as the same weights with global CMVN set to that speaker's
    torchaudio statistics do, and differently with the other speaker's; the same files given
    as arguments are one voice (and read whole, --chunk 0, the same statistics as streamed).
    Refused: a transcripts.tsv folder, --dev, an unknown mode."""
    d = common.tmpdir()
    corpus = os.path.join(d, "fsdd")
    os.makedirs(corpus)
    rng = np.random.default_rng(1)
    toy = sorted(f for f in os.listdir(TOY) if f.endswith(".ogg"))
    gains = {"ann": 1.0, "bob": 0.25, "cid": 3.0}       # three levels: three different statistics
    for s, (speaker, gain) in enumerate(gains.items()):
        for k, take in enumerate((0, 5, 10, 11)):
            for digit in range(3):
                clip = toy[(s * 12 + k * 3 + digit) % len(toy)]
                npy = os.path.join(d, "x.npy")
                subprocess.run([os.path.join(common.BUILD, "asrtool"), "decode", os.path.join(TOY, clip), npy],
                               check=True, capture_output=True)
                x = np.load(npy) * gain * (8 if take == 0 else 1)   # take 0 (a test take) much louder
                x += 20 * rng.standard_normal(len(x))
                write_wav(os.path.join(corpus, f"{digit}_{speaker}_{take}.wav"), np.clip(np.round(x), -32768, 32767))
    def files(speaker, takes):
        return [os.path.join(corpus, f"{g}_{speaker}_{t}.wav") for t in takes for g in range(3)]
    # build/train: the pooled statistics of ann's and bob's takes 5-11
    out = os.path.join(d, "spk.npz")
    subprocess.run([TRAIN, "--recipe", "ctc-contextnet", "--data", corpus, "--exclude-speakers", "cid", "--cmvn",
                    "speaker", "--steps", "1", "--eval-every", "0", "--quiet", "--out", out], check=True,
                   capture_output=True)
    z = np.load(out)
    mean, std = kaldi_stats(files("ann", (5, 10, 11)) + files("bob", (5, 10, 11)))
    worst = max(np.abs(z["normalize.mean"] - mean).max(), np.abs(z["normalize.std"] - std).max())
    if json.loads(bytes(z["config"]).decode()).get("cmvn") != 2 or worst > 1e-3:
        raise AssertionError(f"train --cmvn speaker: config {bytes(z['config']).decode()}, statistics {worst:g} "
                             "from torchaudio's over ann's and bob's takes 5-11")
    # build/transcribe: the bundled weights as a per-speaker model, and as global ones
    base = dict(np.load(MODEL))
    cfg = json.loads(bytes(base["config"]).decode())
    def model(name, cmvn, mean, std):
        m = dict(base)
        m["config"] = np.frombuffer(json.dumps(dict(cfg, cmvn=cmvn)).encode(), dtype=np.uint8)
        m["normalize.mean"], m["normalize.std"] = mean.astype(np.float32), std.astype(np.float32)
        path = os.path.join(d, name)
        np.savez(path, **m)
        return path
    def transcribe(path, args):
        proc = subprocess.run([TRANSCRIBE, "--model", path] + args, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise AssertionError(f"transcribe {' '.join(args[:3])}: exit {proc.returncode}: {proc.stderr}")
        return dict(line.split("\t") for line in proc.stdout.splitlines()), proc.stderr
    spk = model("s.npz", 2, np.zeros(80), np.ones(80))
    per_speaker, _ = transcribe(spk, ["--data", corpus])
    stats = {s: kaldi_stats(files(s, (0, 5, 10, 11))) for s in ("ann", "bob")}
    heard = 0
    for s, other in (("ann", "bob"), ("bob", "ann")):
        own, _ = transcribe(model(f"g-{s}.npz", 1, *stats[s]), ["--data", corpus, "--speakers", s])
        wrong, _ = transcribe(model(f"g-{other}.npz", 1, *stats[other]), ["--data", corpus, "--speakers", s])
        alone, note = transcribe(spk, ["--chunk", "0"] + files(s, (0, 5, 10, 11)))   # whole files, not streamed
        mine = {f: t for f, t in per_speaker.items() if f"_{s}_" in f}
        if own != mine or alone != mine or "one speaker's" not in note:
            raise AssertionError(f"{s}: per-speaker transcripts {mine} differ from global CMVN with {s}'s "
                                 f"statistics {own} or from the files alone {alone} ({note!r})")
        if wrong == mine:
            raise AssertionError(f"{s}: {other}'s statistics gave the same transcripts: they are not used")
        heard += sum(t != "" for t in mine.values())
    if heard == 0:
        raise AssertionError("every per-speaker transcript is empty: the comparison proves nothing")
    # refusals, nothing written
    bad = os.path.join(d, "bad.npz")
    refused([TRAIN, "--recipe", "ctc-contextnet", "--data", TOY, "--out", bad, "--cmvn", "speaker"], "FSDD")
    refused([TRAIN, "--recipe", "ctc-contextnet", "--data", corpus, "--dev", TOY, "--out", bad, "--cmvn",
             "speaker"], "--dev")
    refused([TRAIN, "--recipe", "ctc-contextnet", "--data", corpus, "--out", bad, "--cmvn", "voice"], "--cmvn")
    if os.path.exists(bad):
        raise AssertionError("a refused run wrote the model file")
    return f"checkpoint statistics within {worst:.1e} of torchaudio's; 12 transcripts per speaker = global CMVN " \
           f"with that speaker's statistics ({heard} non-empty), different with the other's; 3 refusals"


def test_transcribe_words():
    """--lexicon / --lm (docs/lexicon_lm.md): every word transcribed is a lexicon word, the
    LM's words serve when there is no lexicon, and bad files or options are refused."""
    d = common.tmpdir()
    lex = os.path.join(d, "words.txt")
    allowed = {"seven", "two", "three", "nine"}
    with open(lex, "w") as f:
        f.write("\n".join(sorted(allowed)) + "\n")
    arpa = os.path.join(d, "toy.arpa")
    subprocess.run([common.ASRTOOL, "ngram-train", "--order", "2", os.path.join(common.ROOT, "data", "toy", "train",
                                                                                 "transcripts.tsv"), arpa], check=True)
    with open(os.path.join(common.ROOT, "data", "toy", "train", "transcripts.tsv")) as f:
        vocab = {w for line in f if "\t" in line for w in line.split("\t")[1].split()}
    for extra, words in ((["--lexicon", lex], allowed), (["--lm", arpa, "--lm-weight", "0.5"], vocab)):
        proc = subprocess.run([TRANSCRIBE, "--model", MODEL, *extra, "--data", TOY], capture_output=True, text=True,
                              timeout=300)
        if proc.returncode != 0:
            raise AssertionError(f"transcribe {' '.join(extra)}: exit {proc.returncode}: {proc.stderr}")
        said = {w for line in proc.stdout.splitlines() for w in line.split("\t")[1].split()}
        if not said or not said <= words:
            raise AssertionError(f"transcribe {' '.join(extra)} said {sorted(said - words)}, not allowed words")
    bad = os.path.join(d, "bad.arpa")
    with open(bad, "w") as f:
        f.write("not an arpa file\n")
    clip = os.path.join(TOY, "0002.ogg")
    refused([TRANSCRIBE, "--model", MODEL, "--lm", bad, clip], "not ARPA")
    with open(lex, "a") as f:
        f.write("b4\n")
    refused([TRANSCRIBE, "--model", MODEL, "--lexicon", lex, clip], "'4'")
    refused([TRANSCRIBE, "--model", MODEL, "--lm-weight", "0.5", clip], "--lm")
    refused([TRANSCRIBE, "--model", MODEL, "--lm", arpa, "--lm-weight", "x", clip], "--lm-weight")
    return "toy test with a 4-word lexicon and with the toy LM's words: only allowed words; a broken ARPA " \
           "file, a word off the character set, --lm-weight without --lm or not a number refused"


def noisy_clips(d, n=6):
    """n toy test clips with white noise at 5 dB SNR (a model unsure of them), as 16-bit WAV in d."""
    paths = []
    rng = np.random.default_rng(3)
    for k, clip in enumerate(sorted(f for f in os.listdir(TOY) if f.endswith(".ogg"))[:n]):
        npy = os.path.join(d, "x.npy")
        subprocess.run([common.ASRTOOL, "decode", os.path.join(TOY, clip), npy], check=True, capture_output=True)
        x = np.load(npy)
        x = x + rng.standard_normal(len(x)) * np.sqrt(np.mean(x * x) / 10 ** 0.5)
        paths.append(os.path.join(d, f"{k}.wav"))
        write_wav(paths[-1], np.clip(np.round(x), -32768, 32767))
    return paths


def kaldi_cmvn_feats(path, **opts):
    """torchaudio's Kaldi fbank (80 bins) of a 16-bit WAV, per-utterance CMVN as asr_cmvn does it."""
    import torch
    import torchaudio
    with wave.open(path, "rb") as w:
        x = torch.from_numpy(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32))[None]
    f = torchaudio.compliance.kaldi.fbank(x, num_mel_bins=80, **opts).double().numpy()
    mu = f.mean(0)
    return (f - mu) / np.sqrt(np.maximum((f * f).mean(0) - mu * mu, 1e-20))


def transcribe_files(args, paths):
    """build/transcribe --model MODEL ARGS PATHS: ({path: text}, stderr); exit 0 required."""
    proc = subprocess.run([TRANSCRIBE, "--model", MODEL] + args + paths, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"transcribe {' '.join(args)}: exit {proc.returncode}: {proc.stderr}")
    return dict(line.split("\t") for line in proc.stdout.splitlines()), proc.stderr


def ctc_model(d, model, f, text=""):
    """`asrtool model` on one utterance's features f (T, 80): (ln p(text|f), the CTC best path's text)."""
    charset = "_ 'abcdefghijklmnopqrstuvwxyz"   # asr.h's ASR_CHARSET
    y = np.array([[charset.index(c) for c in text]], dtype=np.int32)
    out = os.path.join(d, "out")
    common.asrtool("model", "--model", model, "--targets", common.save(d, "y.npy", y.reshape(1, -1)),
                   "--target-lengths", common.save(d, "ul.npy", np.array([y.shape[1]], dtype=np.int32)),
                   common.save(d, "f.npy", f[None].astype(np.float32)),
                   common.save(d, "l.npy", np.array([len(f)], dtype=np.int32)), out)
    path = common.load(out, "logprobs.npy")[0].argmax(-1)
    best = [int(c) for k, c in enumerate(path) if c != 0 and (k == 0 or c != path[k - 1])]
    return -float(common.load(out, "losses.npy")[0]), " ".join("".join(charset[c] for c in best).split())


def test_vtln():
    """build/transcribe --vtln-warp A and --vtln-search (issue 16: a VTLN warp per speaker).
    --vtln-warp 1 is no warp (the same transcripts). --vtln-search estimates the files' warp as
    [Lee98]: the alpha of Kaldi's grid (0.85..1.25, step 0.01) maximizing the sum over K files
    of ln p(first-pass transcript | features warped by alpha); recomputed here with torchaudio's
    Kaldi fbank (vtln_warp=alpha), per-utterance CMVN and `asrtool model`'s losses for the
    same transcripts, the reported scores (at 1.00 and at the warp chosen) match and no alpha
    of the grid scores higher than the chosen one; the search's transcripts are those of
    --vtln-warp at that alpha. Refused before any file is read: a warp out of range, both
    options, --vtln-files alone."""
    d = common.tmpdir()
    paths = noisy_clips(d)
    def transcribe(args):
        return transcribe_files(args, paths)
    plain, _ = transcribe([])
    if transcribe(["--vtln-warp", "1"])[0] != plain:
        raise AssertionError("--vtln-warp 1 changed the transcripts")
    searched, note = transcribe(["--vtln-search", "--vtln-files", "3"])
    import re
    m = re.search(r"warp ([0-9.]+) \(sum of ln p\(first pass \| X\^alpha\) over 3 files: (-?[0-9.]+) at 1\.00, "
                  r"(-?[0-9.]+) at", note)
    if not m:
        raise AssertionError(f"no VTLN estimate on stderr: {note!r}")
    warp, at_one, at_warp = float(m.group(1)), float(m.group(2)), float(m.group(3))
    fixed, _ = transcribe(["--vtln-warp", m.group(1)])
    if fixed != searched:
        raise AssertionError(f"--vtln-search's transcripts {searched} differ from --vtln-warp {warp}'s {fixed}")
    def model(p, alpha, text):
        """ln p(text | torchaudio's features of p warped by alpha) and the CTC best path's text."""
        return ctc_model(d, MODEL, kaldi_cmvn_feats(p, vtln_warp=alpha), text)
    # --vtln-warp 0.9: each file decoded from torchaudio's warped bank
    warped, _ = transcribe(["--vtln-warp", "0.9"])
    want = {p: model(p, 0.9, "")[1] for p in paths}
    if warped != want or warped == plain:
        raise AssertionError(f"--vtln-warp 0.9: {warped}; torchaudio's warped features give {want}; unwarped {plain}")
    # --vtln-search: the first pass's transcripts scored at every alpha of the grid
    picked = [paths[k * 6 // 3] for k in range(3)]   # the (k n / K)-th file, k = 0..K-1
    grid = {round(0.85 + 0.01 * j, 2): sum(model(p, 0.85 + 0.01 * j, plain[p])[0] for p in picked)
            for j in range(41)}
    best = max(grid.values())
    tol = 2e-3 + 1e-4 * abs(best)
    worst = max(abs(grid[1.0] - at_one), abs(grid[round(warp, 2)] - at_warp))
    if worst > tol or best - grid[round(warp, 2)] > tol:
        raise AssertionError(f"warp {warp}: transcribe's ln p {at_one} at 1.00 and {at_warp} at {warp}, torchaudio's "
                             f"{grid[1.0]:.4f} and {grid[round(warp, 2)]:.4f}; the grid's best {best:.4f} at "
                             f"{max(grid, key=grid.get)}")
    if max(grid.values()) - min(grid.values()) < 100 * tol:
        raise AssertionError(f"the grid's scores hardly move ({grid}): the check proves little")
    bad = [[TRANSCRIBE, "--model", MODEL, "--vtln-warp", "2", paths[0]],
           [TRANSCRIBE, "--model", MODEL, "--vtln-warp", "0.9", "--vtln-search", paths[0]],
           [TRANSCRIBE, "--model", MODEL, "--vtln-files", "3", paths[0]]]
    for argv, word in zip(bad, ("--vtln-warp", "one or the other", "--vtln-search")):
        refused(argv, word)
    return f"--vtln-warp 0.9 = greedy on torchaudio's warped bank ({sum(warped[p] != plain[p] for p in paths)} of 6 " \
           f"changed); search chose {warp:.2f}, ln p within {worst:.1e} of torchaudio's over the grid " \
           f"({min(grid.values()):.1f}..{best:.1f}); its transcripts = --vtln-warp {warp:.2f}'s; 3 refusals"


def test_adapt_bn():
    """build/transcribe --adapt-bn (AdaBN [Li16], asr_model_adapt_bn): the files, one voice, go
    through the encoder in one batch (up to 16 files) in training mode and the BatchNorm
    statistics become theirs before they are decoded. Recomputed here: torchaudio's Kaldi
    fbank of each file with per-utterance CMVN, the six as one padded batch through
    `asrtool model --adapt-bn` (its statistics checked against torch by
    torch/recipes/*_adapt_bn), then each file's CTC best path under the adapted model:
    transcribe's transcripts, which differ from those without adaptation. A model without
    BatchNorm (las-pblstm) is refused before any file is read."""
    d = common.tmpdir()
    paths = noisy_clips(d)
    plain, _ = transcribe_files([], paths)
    adapted, note = transcribe_files(["--adapt-bn"], paths)
    if "BatchNorm statistics of 6 files in 1 batch" not in note:
        raise AssertionError(f"no AdaBN line on stderr: {note!r}")
    feats = [kaldi_cmvn_feats(p) for p in paths]
    T = max(len(f) for f in feats)
    batch = np.zeros((len(feats), T, 80), dtype=np.float32)
    for n, f in enumerate(feats):
        batch[n, :len(f)] = f
    lengths = np.array([len(f) for f in feats], dtype=np.int32)
    ada = os.path.join(d, "ada.npz")
    common.asrtool("model", "--model", MODEL, "--adapt-bn", ada, common.save(d, "f.npy", batch),
                   common.save(d, "l.npy", lengths), os.path.join(d, "o1"))
    want = {p: ctc_model(d, ada, f)[1] for p, f in zip(paths, feats)}
    if adapted != want or adapted == plain:
        raise AssertionError(f"--adapt-bn: {adapted}; asrtool model --adapt-bn on torchaudio's features gives {want}; "
                             f"without adaptation {plain}")
    pb = os.path.join(d, "pb.npz")
    subprocess.run([TRAIN, "--recipe", "las-pblstm", "--data", TOY, "--steps", "1", "--eval-every", "0", "--quiet",
                    "--out", pb], check=True, capture_output=True, timeout=300)
    refused([TRANSCRIBE, "--model", pb, "--adapt-bn", paths[0]], "has none")
    return f"6 transcripts = CTC best path of asrtool model --adapt-bn's model on torchaudio's features " \
           f"({sum(adapted[p] != plain[p] for p in paths)} of 6 differ from the unadapted model's); las-pblstm refused"
