#!/usr/bin/python3
"""tests/programs.py - what the programs promise a user about their files (make test runs it).

    /usr/bin/python3 tests/programs.py [-v] [FILTER...]

Standard library only. Runs the built programs (build/asrtool, train, transcribe,
posteriorgram, fbank_png, ctc_align) in a fresh temporary folder, one test line each,
"[ OK ] NAME" or "[FAIL] NAME" with the detail indented below, then "N passed, N failed";
exit status 1 on any failure. FILTER keeps the tests whose name contains it.

outpath/*  No program writes over one of its inputs (examples/outpath.h): an output that is
           an input by the same path, through a symbolic link or a hard link, or that lies
           inside an input data folder, is refused before any work with one line on stderr
           and exit status 2, and the input is left byte for byte as it was. Each family
           also has a control: the same command with a harmless output succeeds, so the
           refusal is the guard's and not some other error. asrtool-verbs: every asrtool
           command that writes, over each of its inputs by path, "./", symbolic link and
           hard link, over its input options' files, with --svg/--grads over an input, OUTDIR
           inside --weights; downstream: pretrain, units and bert; train, transcribe (its
           standard output, also with --data) and posteriorgram also over a recording of the
           data folder through a symbolic or hard link made outside it.
stale/*    A temporary MODEL.npz.tmpXXXXXXXX older than 10 minutes, left by a train killed
           while writing, is removed by the next run; a fresh one (a writer at work), names
           of another pattern, and another output's temporaries are left alone. The same
           for every other program that writes (stale/programs): asrtool (an output file,
           and OUTDIR/.NAME.partial.tmpXXXXXXXX of an OUTDIR command), posteriorgram,
           fbank_png, ctc_align, pretrain and units; a stale one that is a symbolic link is
           left alone too.
checkpoint/*  A model file is checked against its own header before the model is allocated:
           a 292-byte .npz whose config claims a 408 MB ContextNet (channels 1712) and holds
           no tensor is refused by transcribe, posteriorgram and asrtool model with exit 2
           and one line naming the first missing tensor, under a 256 MB address-space
           limit and with a peak resident set under 40 MB (the loader that allocated first
           said "out of memory for the model" there); a config above asr.h's caps
           (ASR_MODEL_MAX_WIDTH) is refused by name.
long/*     build/transcribe reads a long recording as a stream and in 30 s windows: a
           3-minute and a 30-minute WAV (noise and tone bursts, made here, never stored)
           are transcribed with a peak resident set under RSS_BOUND_MB, the 30-minute one
           within RSS_GROWTH_MB of the 3-minute one, measured with getrusage (os.wait4)
           for that one process; a recording shorter than one window
           gives the same output (words and --align times) with --chunk 30 and --chunk 0.
rates/*    Sample rates outside asr.h's 4-384 kHz (ASR_SAMPLE_RATE_MIN..MAX): every program
           that reads audio refuses a 1 Hz or 3 Hz WAV with one line naming the range and
           exit status 2 (it used to upsample 1000 samples at 1 Hz to 16 million), train,
           transcribe --data and pretrain a data folder holding one, asrtool fbank
           --sample-frequency outside the range on a .npy waveform, and asrtool resample
           a rate ratio above 96; 4 kHz itself is read.
messages/* What a user reads where issue 18 found the messages misleading: a WAV 'fmt '
           chunk of 14 bytes with 8 left names the chunk and both sizes; a garbled .npy
           header is "malformed"; train --lr 1e30 names the range; a 1-sample file gives
           asrtool fbank's empty (0, 80) matrix (exit 0, as Kaldi) and transcribe's "too
           short to recognize", which says what asrtool fbank does (docs/fbank.md).
augment/*  build/train's augmentation options (issue 16): bad values (out of range, not a
           number, a mask wider than the recipe's mel bins, --no-specaug with a mask
           option) are refused with one line and exit 2 before any training; a few steps on
           four toy clips give byte-identical models for the same options and seed, the
           recipes' SpecAugment settings spelled out give the model of no options, and
           turning an augmentation off (--no-specaug) gives another model, the same twice;
           --vtlp 0.1 gives another model, the same twice, and --vtlp 0 the default one;
           so does --noise-snr 10,30 (white noise at a random SNR), also with --vtlp, and
           --reverb 0.2,0.6 (a simulated room), also with --noise-snr; --dropout 0.1
           --stoch-depth 0.3 the same twice (ctc-contextnet, ctc-conformer), another model
           than none, and --dropout 0 --stoch-depth 0 the default one; either option for
           las-pblstm (no ContextNet or Conformer blocks) or a rate outside [0, 1) refused.
           --average-last 1 gives the default model byte for byte, --average-last 3
           --average-every 1 another one (the mean of steps 1-3, which it says), the same
           twice; bad --average-last / --average-every values and combinations refused.
           --cmvn global (the training set's mean and deviation per bin, stored in the
           checkpoint as normalize.mean / normalize.std) gives another model, the same
           twice, which build/transcribe reads; --cmvn utterance the default one; --cmvn x refused.
           --gain-db 6 (a random gain per utterance and step) another model, the same twice,
           --gain-db 0 the default one; a gain range outside [0, 20] dB refused.
words/*    build/transcribe --lexicon (asr.h 5.7 and 6.6): the bundled ctc-contextnet model and an
           rnnt-contextnet model trained here for 3 steps, each on four toy test clips with
           a lexicon of four words: exit 0, every word of every line one of the lexicon's,
           --align gives each word a time, --lm alone uses the LM's words; a las model is
           refused with one line and exit 2. words/rtf: --rtf prints the real-time factor
           (the decoding time over the audio's seconds) of two clips in one line.
nbest/*    build/transcribe --nbest and --nbest-svg on an rnnt-las model trained here for 20
           steps on four toy clips (and a ctc-attention one with --rescore N): each file's
           n-best lines (first pass, second pass,
           combined, tokens, mark, text) obey combined = w first + (1 - w) second + P tokens
           for four (--first-pass-weight, --penalty, --beam) settings, one "*" on the largest
           combined, its text the file's answer, which is the answer without --nbest; the
           picture has one row per hypothesis and one "(kept)"; a recipe without a second
           pass, --rescore 0, two files or --data, --align, --ctc-weight on rnnt-las are
           refused with one line and exit 2 and nothing written, and the picture over the
           model or the recording is refused by the output guard.
agree/*    build/posteriorgram writes build/transcribe's answer above its attention rows
           (las and ctc-attention trained here for 20 steps; seven clips; the defaults and
           --beam 4 [--ctc-weight 0.5] in both): they decoded at beam 4 and beam 1.
threads/*  build/train --threads N (built with -fopenmp -DASR_THREADS): 0, negative, 257 and
           non-integers are refused with one line and exit 2; three steps on the four toy
           clips give the same model byte for byte with no option, --threads 1, 2 and 3.
           The sanitizer build of train has no OpenMP: it refuses --threads 2 (san/train).
san/*      The programs built with AddressSanitizer and UndefinedBehaviorSanitizer (make
           san-programs: build/san/) on bad input - missing, garbled or too short files,
           bad options, a bad data folder, an output over an input - exit 2 with one line
           and no sanitizer report: every error path frees what it made (LeakSanitizer)
           and touches no memory it should not. Each program also on a normal run: train
           one step, transcribe a clip, a chunked clip with --align and a --data folder,
           posteriorgram a clip, pretrain one step on ten toy recordings, units (also with
           a CTC alignment picture), bert one step on a units folder: exit 0, no report. units --item: a transcript too long to align and a clip
           too short for the CTC model's subsampling are named (they exited 2 without a
           word, or said "cannot align").
"""
import io
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import wave
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
MODEL = os.path.join(ROOT, "data", "models", "ctc-contextnet.npz")
VERBOSE = "-v" in sys.argv
FILTERS = [a for a in sys.argv[1:] if a != "-v"]
RESULTS = []


def prog(name):
    return os.path.join(BUILD, name)


def run(args, cwd, stdout=subprocess.PIPE, timeout=120):
    p = subprocess.run(args, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, (p.stdout or b"").decode(errors="replace"), p.stderr.decode(errors="replace")


def report(name, problems):
    RESULTS.append((name, problems))
    print("[ OK ] %s" % name if not problems else "[FAIL] %s" % name)
    for p in problems:
        print("    " + p)
    sys.stdout.flush()


def wanted(name):
    return not FILTERS or any(f in name for f in FILTERS)


# ---- small inputs, written here
def write_wav(path, samples, rate=16000):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", s) for s in samples))


def tone(n, period=40, amp=3000):
    """A triangle wave: speech-free but not silent."""
    return [amp * (abs((i % period) - period // 2) * 4 // period - 1) for i in range(n)]


def write_npy(path, dtype, shape, values):
    """NumPy format 1.0, dtype '<f4' or '<i4'."""
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        dtype, "".join("%d," % d for d in shape) if len(shape) != 1 else "%d," % shape[0])
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    fmt = "<%d%s" % (len(values), "f" if dtype == "<f4" else "i")
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack(fmt, *values))


def snapshot(paths):
    out = {}
    for p in paths:
        with open(p, "rb") as f:
            out[p] = f.read()
    return out


def refused(args, cwd, keep, problems, stdout=subprocess.PIPE):
    """args must exit 2 with one line naming the refusal, leaving `keep` untouched."""
    before = snapshot(keep)
    rc, _, err = run(args, cwd, stdout=stdout)
    lines = err.strip().splitlines()
    if rc != 2 or len(lines) != 1 or "refusing" not in err:
        problems.append("%s: exit %d, stderr %r (expected 2 and one 'refusing' line)" % (" ".join(args), rc, err[-300:]))
    for p, data in before.items():
        if not os.path.exists(p) or open(p, "rb").read() != data:
            problems.append("%s: %s changed" % (" ".join(args), p))
    if VERBOSE:
        print("    ran: %s -> %d %s" % (" ".join(args), rc, err.strip()))


def succeeds(args, cwd, problems, stdout=subprocess.PIPE):
    rc, _, err = run(args, cwd, stdout=stdout)
    if rc != 0:
        problems.append("control %s: exit %d, stderr %r" % (" ".join(args), rc, err[-300:]))


# ---- outpath/*
def outpath_tests(tmp):
    os.makedirs(os.path.join(tmp, "d"))
    x = os.path.join(tmp, "x.wav")
    write_wav(x, tone(16000))
    os.symlink("x.wav", os.path.join(tmp, "sym.wav"))
    os.link(x, os.path.join(tmp, "hard.wav"))
    asrtool = prog("asrtool")

    if wanted("outpath/asrtool-file"):
        p = []
        for out in ["x.wav", "./x.wav", "sym.wav", "hard.wav", os.path.join(tmp, "x.wav")]:
            refused([asrtool, "decode", "x.wav", out], tmp, [x], p)
            refused([asrtool, "fbank", "x.wav", out], tmp, [x], p)
        succeeds([asrtool, "decode", "x.wav", "x.npy"], tmp, p)
        report("outpath/asrtool-file", p)

    if wanted("outpath/asrtool-outdir"):
        # an input named like an output of the command, inside OUTDIR: ctc writes grad.npy
        p = []
        d = os.path.join(tmp, "d")
        write_npy(os.path.join(d, "grad.npy"), "<f4", (1, 4, 3), [0.1 * i for i in range(12)])
        write_npy(os.path.join(d, "t.npy"), "<i4", (1, 2), [1, 2])
        write_npy(os.path.join(d, "il.npy"), "<i4", (1,), [4])
        write_npy(os.path.join(d, "tl.npy"), "<i4", (1,), [2])
        ins = [os.path.join(d, n) for n in ["grad.npy", "t.npy", "il.npy", "tl.npy"]]
        refused([asrtool, "ctc", "d/grad.npy", "d/t.npy", "d/il.npy", "d/tl.npy", "d"], tmp, ins, p)
        if os.path.exists(os.path.join(d, "loss.npy")):
            p.append("ctc wrote d/loss.npy although it refused d/grad.npy")
        succeeds([asrtool, "ctc", "d/grad.npy", "d/t.npy", "d/il.npy", "d/tl.npy", "ctc-out"], tmp, p)
        # OUTDIR is (or is inside) the --weights folder
        w = os.path.join(tmp, "w")
        os.makedirs(w)
        write_npy(os.path.join(w, "weight.npy"), "<f4", (2, 3), [0.5] * 6)
        write_npy(os.path.join(tmp, "lx.npy"), "<f4", (1, 3), [1, 2, 3])
        for out in ["w", "w/sub", "./w/"]:
            refused([asrtool, "layer", "linear", "--weights", "w", "lx.npy", out], tmp, [os.path.join(w, "weight.npy")], p)
        if sorted(os.listdir(w)) != ["weight.npy"]:
            p.append("layer wrote into the weights folder: %s" % sorted(os.listdir(w)))
        succeeds([asrtool, "layer", "linear", "--weights", "w", "lx.npy", "lin-out"], tmp, p)
        report("outpath/asrtool-outdir", p)

    if wanted("outpath/asrtool-verbs"):
        # every command that writes, its inputs stand-ins (the guard runs before any is
        # read): the output by the path of each input, "./" before it, a symbolic link and
        # a hard link to it; the path options that are inputs; the output options (--svg,
        # --grads) over an input; OUTDIR inside a --weights folder
        p = []
        v = os.path.join(tmp, "verbs")
        os.makedirs(os.path.join(v, "wd"))
        ins = []
        for k in range(5):
            path = os.path.join(v, "in%d.npy" % k)
            with open(path, "wb") as f:
                f.write(b"input %d\n" % k)
            os.symlink("in%d.npy" % k, os.path.join(v, "s%d.npy" % k))
            os.link(path, os.path.join(v, "h%d.npy" % k))
            ins.append(path)
        with open(os.path.join(v, "wd", "w.npy"), "wb") as f:
            f.write(b"weights\n")
        keep = ins + [os.path.join(v, "wd", "w.npy")]
        nt = ["--weights", "wd", "--block", "2"]
        verbs = [  # (command and options before the inputs, number of positional inputs, input options, output options)
            (["fbank"], 1, [], []), (["decode"], 1, [], []), (["resample", "--new-freq", "8000"], 1, [], []),
            (["ctc"], 4, [], []), (["ctc-decode"], 2, [], []), (["ctc-align"], 4, [], []),
            (["ctc-lexicon-decode"], 2, ["--lm"], []), (["ngram-train"], 1, [], []), (["ngram-score"], 2, [], []),
            (["ctc-lattice"], 4, [], []), (["ctc-beam-final"], 2, [], []), (["rnnt"], 4, [], []),
            (["rnnt-lattice"], 4, [], []), (["seqloss"], 2, [], []),
            (["layer", "linear", "--weights", "wd"], 1, ["--grad-output", "--lengths"], []),
            (["optim", "--optimizer", "sgd"], 2, [], []), (["gumbel"], 2, ["--grad-output"], []),
            (["vq"], 2, ["--grad-output"], []), (["w2v"], 2, [], []), (["bert"], 2, ["--lengths"], []),
            (["ctc-prefix-score"], 3, [], []), (["mwer"], 2, [], []),
            (["nt"] + nt, 3, ["--lengths", "--align"], ["--svg"]), (["nt-decode"] + nt, 1, ["--lengths"], []),
            (["model", "--model", "in4.npy", "--targets", "in2.npy", "--target-lengths", "in3.npy"], 2, [], ["--grads"])]
        runs = 0
        for cmd, n, in_opts, out_opts in verbs:
            pos = ["in%d.npy" % k for k in range(n)]
            for k in range(n):
                for out in ["in%d.npy" % k, "./in%d.npy" % k, "s%d.npy" % k, "h%d.npy" % k]:
                    refused([asrtool] + cmd + pos + [out], v, keep, p)
                    runs += 1
            for k, opt in enumerate(in_opts):               # an input option's file as the output
                refused([asrtool] + cmd + [opt, "h4.npy"] + pos + ["h4.npy"], v, keep, p)
                runs += 1
            for opt in out_opts:                            # an output option over each input
                for f in pos + [c for c in cmd if c.startswith("in")]:
                    refused([asrtool] + cmd + [opt, "s" + f[2:]] + pos + ["o-%s" % cmd[0]], v, keep, p)
                    runs += 1
            if "wd" in cmd:                                 # OUTDIR in the weights folder
                for out in ["wd", "wd/sub", "./wd/"]:
                    refused([asrtool] + cmd + pos + [out], v, keep, p)
                    runs += 1
                if "--svg" in out_opts:
                    refused([asrtool] + cmd + ["--svg", "wd/a.svg"] + pos + ["o-nt"], v, keep, p)
                    runs += 1
        refused([asrtool, "average", "in0.npy", "in1.npy", "in0.npy"], v, keep, p)
        refused([asrtool, "average", "h1.npy", "in0.npy", "in1.npy"], v, keep, p)
        refused([asrtool, "average", "s0.npy", "in0.npy", "in1.npy"], v, keep, p)
        runs += 3
        if sorted(os.listdir(v)) != sorted(["wd"] + ["%s%d.npy" % (c, k) for c in ["in", "s", "h"] for k in range(5)]) or \
                os.listdir(os.path.join(v, "wd")) != ["w.npy"]:
            p.append("a refused command wrote a file: %s %s" % (sorted(os.listdir(v)), os.listdir(os.path.join(v, "wd"))))
        # --grads is an output, not an input: a second run writes over its own G.npz
        write_npy(os.path.join(v, "f.npy"), "<f4", (1, 20, 80), [0.5] * 1600)
        write_npy(os.path.join(v, "l.npy"), "<i4", (1,), [20])
        write_npy(os.path.join(v, "y.npy"), "<i4", (1, 2), [1, 2])
        write_npy(os.path.join(v, "yl.npy"), "<i4", (1,), [2])
        for _ in range(2):
            succeeds([asrtool, "model", "--model", MODEL, "--targets", "y.npy", "--target-lengths", "yl.npy", "--grads",
                      "g.npz", "f.npy", "l.npy", "mo"], v, p)
        report("outpath/asrtool-verbs (%d commands, %d refusals)" % (len(verbs) + 1, runs), p)

    # a data folder as train reads it: transcripts.tsv and a recording
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    shutil.copy(os.path.join(ROOT, "data", "toy", "train", "0000.ogg"), data)
    with open(os.path.join(data, "transcripts.tsv"), "w") as f:
        f.write("0000.ogg\teight\n")
    keep = [os.path.join(data, "transcripts.tsv"), os.path.join(data, "0000.ogg")]
    os.symlink("data", os.path.join(tmp, "data-link"))
    ext = os.path.join(tmp, "ext")
    os.makedirs(ext)
    with open(os.path.join(ext, "transcripts.tsv"), "w") as f:
        f.write("../x.wav\tone\n")
    os.symlink("data/0000.ogg", os.path.join(tmp, "rec-sym.ogg"))
    os.link(os.path.join(data, "0000.ogg"), os.path.join(tmp, "rec-hard.ogg"))

    if wanted("outpath/train"):
        p = []
        train = [prog("train"), "--recipe", "ctc-contextnet", "--data", "data", "--steps", "1", "--quiet", "--out"]
        for out in ["data/transcripts.tsv", "data/0000.ogg", "data/new.npz", "data/sub/new.npz", "data-link/m.npz",
                    "data"]:
            refused(train + [out], tmp, keep, p)
        # ext/transcripts.tsv names ../x.wav, a recording outside its folder: an input too
        for out in ["x.wav", "sym.wav", "hard.wav"]:
            refused([prog("train"), "--recipe", "ctc-contextnet", "--data", "ext", "--steps", "1", "--out", out], tmp,
                    [x], p)
        # a symbolic link and a hard link, outside the folder, to a recording inside it
        for out in ["rec-sym.ogg", "rec-hard.ogg"]:
            refused(train + [out], tmp, keep, p)
        # the --dev folder, the recordings its list names, the --w2v-features model
        refused(train + ["ext/m.npz", "--dev", "ext"], tmp, [x], p)
        refused(train + ["hard.wav", "--dev", "ext"], tmp, [x], p)
        # the default dev set beside a folder named ...train, and a recording its list names
        # outside it (refused before any work: nothing on the standard output either)
        os.makedirs(os.path.join(tmp, "sib", "train"))
        os.makedirs(os.path.join(tmp, "sib", "dev"))
        shutil.copy(os.path.join(data, "0000.ogg"), os.path.join(tmp, "sib", "train"))
        with open(os.path.join(tmp, "sib", "train", "transcripts.tsv"), "w") as f:
            f.write("0000.ogg\teight\n")
        with open(os.path.join(tmp, "sib", "dev", "transcripts.tsv"), "w") as f:
            f.write("../../x.wav\tone\n")
        sib = [prog("train"), "--recipe", "ctc-contextnet", "--data", "sib/train", "--steps", "1", "--quiet", "--out"]
        for out in ["sib/dev/m.npz", "x.wav", "sym.wav"]:
            refused(sib + [out], tmp, [x], p)
        rc, out_text, _ = run(sib + ["hard.wav"], tmp)
        if out_text.strip():
            p.append("train printed %r before refusing hard.wav" % out_text[:200])
        refused(train + ["rec-hard.ogg", "--w2v-features", "data/0000.ogg"], tmp, keep, p)
        succeeds(train + ["model.npz"], tmp, p)
        report("outpath/train", p)

    if wanted("outpath/downstream"):
        # pretrain --data, units --model/--data/--ctc-model, bert --units: the guard runs
        # before any input is read, so the models are stand-ins (the CTC model for both)
        p = []
        u = os.path.join(tmp, "u")
        os.makedirs(u)
        with open(os.path.join(u, "units.tsv"), "w") as f:
            f.write("0000.ogg\t3\t0.1 1.2 0.1\n")
        os.symlink("u/units.tsv", os.path.join(tmp, "units-sym.tsv"))
        os.link(os.path.join(u, "units.tsv"), os.path.join(tmp, "units-hard.tsv"))
        os.symlink(MODEL, os.path.join(tmp, "model-sym.npz"))
        shutil.copy(MODEL, os.path.join(tmp, "w.npz"))
        os.link(os.path.join(tmp, "w.npz"), os.path.join(tmp, "w-hard.npz"))
        for out in ["data/0000.ogg", "data/p.npz", "data-link/p.npz", "data", "rec-sym.ogg", "rec-hard.ogg"]:
            refused([prog("pretrain"), "--data", "data", "--steps", "1", "--out", out], tmp, keep, p)
        units = [prog("units"), "--model", "w.npz", "--data", "data", "--out"]
        for out in ["data", "data/u", "data-link", "rec-hard.ogg", "w.npz", "w-hard.npz"]:
            refused(units + [out], tmp, keep + [os.path.join(tmp, "w.npz")], p)
        for out, ctc in [(MODEL, MODEL), ("model-sym.npz", MODEL), (MODEL, "model-sym.npz")]:
            refused(units + [out, "--item", "0000.ogg", "--ctc-model", ctc], tmp, keep + [MODEL], p)
        ukeep = [os.path.join(u, "units.tsv")]
        for out in ["u/units.tsv", "u/b.npz", "u", "units-sym.tsv", "units-hard.tsv"]:
            refused([prog("bert"), "--units", "u", "--steps", "1", "--out", out], tmp, ukeep, p)
        report("outpath/downstream", p)

    if wanted("outpath/recognizer"):
        p = []
        ogg = os.path.join(data, "0000.ogg")
        for out in ["data/0000.ogg", MODEL, "rec-sym.ogg", "rec-hard.ogg"]:
            refused([prog("posteriorgram"), "--model", MODEL, "data/0000.ogg", out], tmp, [ogg, MODEL], p)
        succeeds([prog("posteriorgram"), "--model", MODEL, "data/0000.ogg", "pg.svg"], tmp, p)
        # transcribe writes to its standard output: appended onto a recording, refused
        for f in [x, os.path.join(tmp, "hard.wav"), os.path.join(tmp, "sym.wav")]:
            with open(f, "ab") as fp:
                refused([prog("transcribe"), "--model", MODEL, "x.wav"], tmp, [x], p, stdout=fp)
        # with --data: a recording of the folder (by a hard link outside it too), a new file
        # inside it, a recording its list names outside it
        for f, d in [("data/0000.ogg", "data"), ("rec-hard.ogg", "data"), ("data/hyp.txt", "data"), ("x.wav", "ext")]:
            with open(os.path.join(tmp, f), "ab") as fp:
                refused([prog("transcribe"), "--model", MODEL, "--data", d], tmp, keep + [x], p, stdout=fp)
        if os.path.exists(os.path.join(data, "hyp.txt")):
            if os.path.getsize(os.path.join(data, "hyp.txt")):
                p.append("transcribe wrote into data/hyp.txt")
            os.remove(os.path.join(data, "hyp.txt"))
        with open(os.path.join(tmp, "out.txt"), "wb") as fp:
            succeeds([prog("transcribe"), "--model", MODEL, "x.wav"], tmp, p, stdout=fp)
        for out in ["x.wav", "sym.wav", "hard.wav"]:
            refused([prog("fbank_png"), "x.wav", out], tmp, [x], p)
        succeeds([prog("fbank_png"), "x.wav", "x.png"], tmp, p)
        write_npy(os.path.join(tmp, "lg.npy"), "<f4", (4, 3), [0.1 * i for i in range(12)])
        write_npy(os.path.join(tmp, "tg.npy"), "<i4", (2,), [1, 2])
        os.symlink("lg.npy", os.path.join(tmp, "lg-sym.npy"))
        os.link(os.path.join(tmp, "tg.npy"), os.path.join(tmp, "tg-hard.npy"))
        for opt in ["--svg", "--png"]:
            for out in ["lg.npy", "lg-sym.npy", "tg-hard.npy"]:
                refused([prog("ctc_align"), opt, out, "lg.npy", "tg.npy"], tmp,
                        [os.path.join(tmp, "lg.npy"), os.path.join(tmp, "tg.npy")], p)
        succeeds([prog("ctc_align"), "--svg", "al.svg", "lg.npy", "tg.npy"], tmp, p)
        report("outpath/recognizer", p)


# ---- stale/*
def stale_tests(tmp):
    if not wanted("stale/train"):
        return
    p = []
    d = os.path.join(tmp, "stale")
    os.makedirs(d)
    names = {"m.npz.tmp0123abcd": True, "m.svg.tmpffffffff": True, "m.npz.tmp01234567x": False,
             "m.npz.tmpABCDEF0": False, "other.npz.tmp0123abcd": False, "m.npz.tmpfresh000": False,
             "m.npz.tmp9999aaaa": False}
    old = os.path.getmtime(d) - 3600
    for n in names:
        with open(os.path.join(d, n), "w") as f:
            f.write("partial")
        if n != "m.npz.tmp9999aaaa":                  # this one was just written: a writer at work
            os.utime(os.path.join(d, n), (old, old))
    data = os.path.join(tmp, "data")
    if not os.path.exists(data):                      # made by outpath/*, unless filtered out
        os.makedirs(data)
        shutil.copy(os.path.join(ROOT, "data", "toy", "train", "0000.ogg"), data)
        with open(os.path.join(data, "transcripts.tsv"), "w") as f:
            f.write("0000.ogg\teight\n")
    succeeds([prog("train"), "--recipe", "ctc-contextnet", "--data", data, "--steps", "1", "--quiet", "--out",
              os.path.join(d, "m.npz")], tmp, p)
    for n, gone in names.items():
        if os.path.exists(os.path.join(d, n)) == gone:
            p.append("%s: %s" % (n, "left behind" if gone else "removed"))
    report("stale/train", p)


# ---- checkpoint/*
def write_config_npz(path, config):
    """A stored .npz with one member, config.npy: the JSON text as a uint8 array."""
    data = config.encode()
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d,), }" % len(data)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("config.npy", npy)


def run_limited(args, cwd, limit_bytes):
    """Runs args under an address-space limit; (exit status, stderr, peak RSS in MB)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    with open(os.path.join(cwd, "limited.err"), "wb") as fe:
        proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=fe, preexec_fn=limit)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
    with open(os.path.join(cwd, "limited.err")) as f:
        err = f.read()
    return os.waitstatus_to_exitcode(status), err, usage.ru_maxrss / 1024.0


def checkpoint_tests(tmp):
    if not wanted("checkpoint/huge-claim"):
        return
    p = []
    d = os.path.join(tmp, "ckpt")
    os.makedirs(d)
    write_wav(os.path.join(d, "x.wav"), tone(16000))
    write_npy(os.path.join(d, "f.npy"), "<f4", (1, 20, 80), [0.5] * 1600)
    write_npy(os.path.join(d, "l.npy"), "<i4", (1,), [20])
    # channels 1712 with the recipe's other defaults: 50,916,379 parameters and 58,208 buffer
    # values, 408 MB with the gradients asr_params_alloc makes beside them
    write_config_npz(os.path.join(d, "huge.npz"), '{"recipe": "ctc-contextnet", "channels": 1712}')
    write_config_npz(os.path.join(d, "cap.npz"), '{"recipe": "ctc-contextnet", "channels": 100000}')
    size = os.path.getsize(os.path.join(d, "huge.npz"))
    if size >= 1024:
        p.append("huge.npz is %d bytes" % size)
    peak = 0.0
    for model, needle in [("huge.npz", "missing tensor 'encoder.blocks.0."), ("cap.npz", "claims channels = 100000")]:
        for args in [[prog("transcribe"), "--model", model, "x.wav"],
                     [prog("posteriorgram"), "--model", model, "x.wav", "o.svg"],
                     [prog("asrtool"), "model", "--model", model, "f.npy", "l.npy", "out"]]:
            rc, err, rss = run_limited(args, d, 256 << 20)
            peak = max(peak, rss)
            if rc != 2 or len(err.strip().splitlines()) != 1 or needle not in err:
                p.append("%s: exit %d, stderr %r (expected 2 and one line with %r)" % (" ".join(args), rc, err[-300:],
                                                                                       needle))
            if rss > 40:
                p.append("%s: peak RSS %.1f MB (bound 40)" % (" ".join(args), rss))
            if VERBOSE:
                print("    ran: %s -> %d %.1f MB %s" % (" ".join(args), rc, rss, err.strip()))
    report("checkpoint/huge-claim (%d-byte file claiming 408 MB; peak RSS %.1f MB)" % (size, peak), p)


def stale_programs_tests(tmp):
    if not wanted("stale/programs"):
        return
    p = []
    d = os.path.join(tmp, "stale-programs")
    os.makedirs(d)
    os.makedirs(os.path.join(d, "data"))
    for i in range(10):                                # pretrain holds out every tenth recording
        shutil.copy(os.path.join(ROOT, "data", "toy", "train", "%04d.ogg" % i), os.path.join(d, "data"))
    with open(os.path.join(d, "data", "transcripts.tsv"), "w") as f:
        f.write("0000.ogg\teight\n")
    write_wav(os.path.join(d, "x.wav"), tone(16000))
    write_npy(os.path.join(d, "g.npy"), "<f4", (1, 4, 3), [0.1 * i for i in range(12)])
    write_npy(os.path.join(d, "t.npy"), "<i4", (1, 2), [1, 2])
    write_npy(os.path.join(d, "il.npy"), "<i4", (1,), [4])
    write_npy(os.path.join(d, "tl.npy"), "<i4", (1,), [2])
    write_npy(os.path.join(d, "lg.npy"), "<f4", (4, 3), [0.1 * i for i in range(12)])
    write_npy(os.path.join(d, "tg.npy"), "<i4", (2,), [1, 2])
    runs = [  # (command, the outputs whose temporaries it must clear)
        ([prog("asrtool"), "decode", "x.wav", "o.npy"], ["o.npy"]),
        ([prog("asrtool"), "ctc", "g.npy", "t.npy", "il.npy", "tl.npy", "co"], ["co/.loss.npy.partial", "co/.grad.npy.partial"]),
        ([prog("asrtool"), "layer", "linear", "--weights", "w", "lx.npy", "lo"], ["lo/.y.npy.partial"]),
        ([prog("posteriorgram"), "--model", MODEL, "x.wav", "pg.svg"], ["pg.svg"]),
        ([prog("fbank_png"), "x.wav", "x.png"], ["x.png"]),
        ([prog("ctc_align"), "--svg", "al.svg", "lg.npy", "tg.npy"], ["al.svg"]),
        ([prog("pretrain"), "--data", "data", "--out", "w.npz", "--steps", "1", "--batch", "1"], ["w.npz"]),
        ([prog("units"), "--model", "w.npz", "--data", "data", "--out", "u"], ["u/units.tsv", "u/usage.tsv"]),
    ]
    os.makedirs(os.path.join(d, "w"))
    write_npy(os.path.join(d, "w", "weight.npy"), "<f4", (2, 3), [0.5] * 6)
    write_npy(os.path.join(d, "lx.npy"), "<f4", (1, 3), [1, 2, 3])
    os.makedirs(os.path.join(d, "lo"))
    os.makedirs(os.path.join(d, "co"))
    os.makedirs(os.path.join(d, "u"))
    old = os.path.getmtime(d) - 3600
    for args, outs in runs:
        made = {}
        for out in outs:
            for suffix, gone in [(".tmp0123abcd", True), (".tmpffffffff", True), (".tmp9999aaaa", False),
                                 (".tmp0123abc", False), (".tmpdeadbeef", False)]:
                path = os.path.join(d, out + suffix)
                if suffix == ".tmpdeadbeef":               # a symbolic link: never removed
                    os.symlink("x.wav", path)
                    os.utime(path, (old, old), follow_symlinks=False)
                else:
                    with open(path, "w") as f:
                        f.write("partial")
                    if suffix != ".tmp9999aaaa":           # this one was just written: a writer at work
                        os.utime(path, (old, old))
                made[path] = gone
        rc, _, err = run(args, d)
        if rc != 0:
            p.append("%s: exit %d, stderr %r" % (" ".join(args), rc, err[-300:]))
        for path, gone in made.items():
            if os.path.lexists(path) == gone:
                p.append("%s: %s %s" % (os.path.basename(args[0]), os.path.relpath(path, d),
                                        "left behind" if gone else "removed"))
            elif not gone:
                os.remove(path)
    report("stale/programs (%d programs)" % len(runs), p)


# ---- long/*
LONG_MINUTES = (3, 30)  # the 30-minute run takes ~15 s of CPU (docs/training.md)
RSS_BOUND_MB = 150      # docs/training.md: about 70 MB measured for 3, 10 and 30 minutes
RSS_GROWTH_MB = 8       # 30 minutes may cost at most this much more than 3 (the transcript itself)


def long_tests(tmp):
    if wanted("long/same-short"):
        p = []
        clips = [os.path.join(ROOT, "data", "toy", "test", n) for n in sorted(os.listdir(os.path.join(ROOT, "data", "toy",
                                                                                                   "test")))
                 if n.endswith(".ogg")][:6] + [os.path.join(ROOT, "data", "demo.ogg")]
        outs = []
        for chunk in ["30", "0"]:
            rc, out, err = run([prog("transcribe"), "--model", MODEL, "--align", "--chunk", chunk] + clips, tmp)
            if rc != 0:
                p.append("--chunk %s: exit %d %s" % (chunk, rc, err[-200:]))
            outs.append(out)
        if outs[0] != outs[1] or not outs[0].strip():
            p.append("--chunk 30 and --chunk 0 differ on short clips:\n%s\n%s" % (outs[0][:300], outs[1][:300]))
        report("long/same-short (%d clips)" % len(clips), p)
    if wanted("long/bounded-memory"):
        p = []
        second = [int(300 * ((i * 7919) % 17 - 8)) + (int(3000 * (((i // 8) % 2) * 2 - 1)) if (i // 1600) % 10 < 3 else 0)
                  for i in range(16000)]
        block = b"".join(struct.pack("<h", v) for v in second) * 60
        rss = {}
        for minutes in LONG_MINUTES:
            path = os.path.join(tmp, "long.wav")
            with wave.open(path, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(16000)
                for _ in range(minutes):
                    w.writeframes(block)
            with open(os.path.join(tmp, "long.txt"), "wb") as fo, open(os.path.join(tmp, "long.err"), "wb") as fe:
                proc = subprocess.Popen([prog("transcribe"), "--model", MODEL, "--chunk", "30", path], stdout=fo,
                                        stderr=fe, cwd=tmp)
                _, status, usage = os.wait4(proc.pid, 0)    # this process's own rusage: ru_maxrss in KiB
                proc.returncode = 0
            os.remove(path)
            rss[minutes] = usage.ru_maxrss / 1024.0
            words = len(open(os.path.join(tmp, "long.txt")).read().split())
            if status != 0:
                p.append("%d min: exit status %d: %s" % (minutes, status, open(os.path.join(tmp, "long.err")).read()[-300:]))
            if rss[minutes] > RSS_BOUND_MB:
                p.append("%d min: peak RSS %.1f MB, above the bound of %d MB" % (minutes, rss[minutes], RSS_BOUND_MB))
            if VERBOSE:
                print("    %d min: peak RSS %.1f MB, CPU %.1f s, %d words" % (minutes, rss[minutes],
                                                                          usage.ru_utime + usage.ru_stime, words))
        short, long_ = LONG_MINUTES
        if rss[long_] - rss[short] > RSS_GROWTH_MB:
            p.append("peak RSS grew by %.1f MB from %d to %d minutes (allowed %d)" % (rss[long_] - rss[short], short,
                                                                                   long_, RSS_GROWTH_MB))
        report("long/bounded-memory: peak RSS %.1f MB at %d min, %.1f MB at %d min (bound %d, growth <= %d)" % (
            rss[short], short, rss[long_], long_, RSS_BOUND_MB, RSS_GROWTH_MB), p)


# ---- rates/*
def expect_fail(args, cwd, needle, problems):
    """args must exit 2 with one line on stderr that contains needle (and, from transcribe
    --data, the score line of what it could read)."""
    rc, _, err = run(args, cwd)
    if rc != 2 or len([l for l in err.strip().splitlines() if not l.startswith("CER ")]) != 1 or needle not in err:
        problems.append("%s: exit %d, stderr %r (expected 2 and one line with %r)" % (" ".join(args), rc, err[-300:],
                                                                                     needle))
    if VERBOSE:
        print("    ran: %s -> %d %s" % (" ".join(args), rc, err.strip()))


def rate_tests(tmp):
    if not wanted("rates/programs"):
        return
    p = []
    os.makedirs(os.path.join(tmp, "rates"))
    for rate in [1, 3]:
        name = "r%d.wav" % rate
        write_wav(os.path.join(tmp, name), tone(1000), rate=rate)
        for args in [[prog("transcribe"), "--model", MODEL, name], [prog("asrtool"), "fbank", name, "o.npy"],
                     [prog("asrtool"), "decode", name, "o.npy"], [prog("posteriorgram"), "--model", MODEL, name, "o.svg"],
                     [prog("fbank_png"), name, "o.png"]]:
            expect_fail(args, tmp, "outside the supported 4000-384000 Hz", p)
        # the programs that read a data folder: a transcripts.tsv naming the file, and a
        # folder of recordings
        d = os.path.join(tmp, "rates", "d%d" % rate)
        os.makedirs(d)
        shutil.copy(os.path.join(tmp, name), d)
        with open(os.path.join(d, "transcripts.tsv"), "w") as f:
            f.write("%s\tone\n" % name)
        for args in [[prog("train"), "--recipe", "ctc-contextnet", "--data", d, "--steps", "1", "--out", "o.npz"],
                     [prog("transcribe"), "--model", MODEL, "--data", d],
                     [prog("pretrain"), "--data", d, "--steps", "1", "--out", "o.npz"]]:
            expect_fail(args, tmp, "outside the supported 4000-384000 Hz", p)
    write_npy(os.path.join(tmp, "w.npy"), "<f4", (100,), [0.0] * 100)
    for hz in ["1", "3999", "384001"]:               # the fbank of a waveform given as .npy
        expect_fail([prog("asrtool"), "fbank", "--sample-frequency", hz, "w.npy", "o.npy"], tmp,
                    "outside the supported 4000-384000 Hz", p)
    expect_fail([prog("asrtool"), "resample", "--orig-freq", "1", "--new-freq", "16000", "w.npy", "o.npy"], tmp,
                "above 96", p)
    write_wav(os.path.join(tmp, "r4k.wav"), tone(4000), rate=4000)
    succeeds([prog("asrtool"), "decode", "r4k.wav", "r4k.npy"], tmp, p)
    succeeds([prog("transcribe"), "--model", MODEL, "r4k.wav"], tmp, p)
    report("rates/programs", p)


# ---- messages/*
def message_tests(tmp):
    """The four messages issue 18 found misleading, as the programs print them."""
    if not wanted("messages/issue18"):
        return
    p = []
    d = os.path.join(tmp, "msg")
    os.makedirs(d)
    # a 'fmt ' chunk of 14 bytes with 8 left: it named an empty chunk claiming 131096948 bytes
    with open(os.path.join(d, "fmt14.wav"), "wb") as f:
        f.write(b"RIFF\x10\x00\x00\x00WAVEfmt \x0e\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00")
    expect_fail([prog("asrtool"), "decode", "fmt14.wav", "o.npy"], d,
                "chunk 'fmt ' at byte 12 claims 14 bytes but only 8 remain", p)
    # a garbled .npy header: it was "unsupported .npy dtype (structured?)"
    header = "{'descr': <f4', 'fortran_order': False, 'shape': (3,), }"
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(os.path.join(d, "garbled.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 12)
    expect_fail([prog("asrtool"), "info", "garbled.npy"], d, "malformed .npy header", p)
    # --lr 1e30: it was "not a positive number"
    os.makedirs(os.path.join(d, "data"))
    write_wav(os.path.join(d, "data", "x.wav"), tone(16000))
    with open(os.path.join(d, "data", "transcripts.tsv"), "w") as f:
        f.write("x.wav\tone\n")
    expect_fail([prog("train"), "--recipe", "ctc-contextnet", "--data", "data", "--lr", "1e30", "--out", "m.npz"], d,
                "--lr: '1e30' is not a number in (0, 1e9]", p)
    # a 1-sample file (docs/fbank.md): asrtool fbank writes Kaldi's empty (0, 80) matrix and
    # exits 0; transcribe refuses it as too short, naming what asrtool fbank does
    write_wav(os.path.join(d, "one.wav"), tone(1))
    rc, _, err = run([prog("asrtool"), "fbank", "--num-mel-bins", "80", "one.wav", "one.npy"], d)
    head = open(os.path.join(d, "one.npy"), "rb").read(128) if rc == 0 else b""
    if rc != 0 or b"'shape': (0, 80)" not in head:
        p.append("asrtool fbank one.wav: exit %d, %r, header %r (expected 0 and shape (0, 80))" % (rc, err, head[:80]))
    expect_fail([prog("transcribe"), "--model", MODEL, "one.wav"], d,
                "one.wav: audio too short to recognize (1 samples at 16000 Hz: no 25 ms feature frame; asrtool fbank "
                "gives such a file Kaldi's empty (0, bins) matrix", p)
    report("messages/issue18", p)


# ---- augment/*
def train_model(tmp, out, extra, problems):
    """A 3-step ctc-contextnet on the four clips of tmp/aug; the bytes of the model, or None."""
    args = [prog("train"), "--recipe", "ctc-contextnet", "--data", "aug", "--steps", "3", "--quiet", "--out", out] + extra
    rc, _, err = run(args, tmp)
    if rc != 0:
        problems.append("%s: exit %d, stderr %r" % (" ".join(args), rc, err[-300:]))
        return None
    with open(os.path.join(tmp, out), "rb") as f:
        return f.read()


def four_clips(d):
    """A data folder d of the first four toy training clips with their transcripts; their paths."""
    os.makedirs(d)
    toy = os.path.join(ROOT, "data", "toy", "train")
    with open(os.path.join(toy, "transcripts.tsv")) as f:
        lines = [l for l in f if not l.startswith("#")][:4]
    for l in lines:
        shutil.copy(os.path.join(toy, l.split("\t")[0]), d)
    with open(os.path.join(d, "transcripts.tsv"), "w") as f:
        f.writelines(lines)
    return [os.path.join(d, l.split("\t")[0]) for l in lines]


def augment_tests(tmp):
    four_clips(os.path.join(tmp, "aug"))
    if wanted("augment/options"):
        p = []
        base = [prog("train"), "--recipe", "ctc-contextnet", "--data", "aug", "--steps", "1", "--out", "bad.npz"]
        for opt, val, needle in [("--freq-masks", "-1", "--freq-masks"), ("--freq-masks", "21", "--freq-masks"),
                                 ("--freq-width", "81", "80 mel bins"), ("--freq-width", "2.5", "--freq-width"),
                                 ("--time-masks", "x", "--time-masks"), ("--time-width", "-3", "--time-width"),
                                 ("--time-ratio", "1.5", "--time-ratio"), ("--time-ratio", "nan", "--time-ratio"),
                                 ("--time-warp", "1001", "--time-warp"), ("--time-warp", "", "--time-warp"),
                                 ("--vtlp", "0.5", "--vtlp"), ("--vtlp", "-0.1", "--vtlp"),
                                 ("--vtlp", "inf", "--vtlp"), ("--noise-snr", "30,10", "--noise-snr"),
                                 ("--noise-snr", "-30,10", "--noise-snr"), ("--noise-snr", "10", "--noise-snr"),
                                 ("--noise-snr", "10,x", "--noise-snr"), ("--reverb", "0.05,0.5", "--reverb"),
                                 ("--reverb", "0.5,0.2", "--reverb"), ("--reverb", "0.2,1.5", "--reverb"),
                                 ("--reverb", "0.3", "--reverb"), ("--reverb", "nan,0.5", "--reverb"),
                                 ("--dropout", "1", "--dropout"), ("--dropout", "-0.1", "--dropout"),
                                 ("--dropout", "x", "--dropout"), ("--stoch-depth", "1.5", "--stoch-depth"),
                                 ("--stoch-depth", "nan", "--stoch-depth"), ("--cmvn", "x", "--cmvn"),
                                 ("--cmvn", "", "--cmvn"), ("--gain-db", "21", "--gain-db"),
                                 ("--gain-db", "-1", "--gain-db"), ("--gain-db", "nan", "--gain-db")]:
            expect_fail(base + [opt, val], tmp, needle, p)
        expect_fail(base + ["--no-specaug", "--time-masks", "1"], tmp, "--no-specaug", p)
        for opt in ("--dropout", "--stoch-depth"):   # an encoder without such blocks
            expect_fail([prog("train"), "--recipe", "las-pblstm", "--data", "aug", "--steps", "1", "--out", "bad.npz",
                         opt, "0.1"], tmp, "las-pblstm", p)
        if os.path.exists(os.path.join(tmp, "bad.npz")):
            p.append("a refused run wrote bad.npz")
        report("augment/options", p)
    if wanted("augment/specaug"):
        p = []
        default = train_model(tmp, "a.npz", [], p)
        spelled = train_model(tmp, "b.npz", ["--freq-masks", "2", "--freq-width", "10", "--time-masks", "2",
                                             "--time-width", "20", "--time-ratio", "0.2", "--time-warp", "0"], p)
        off1 = train_model(tmp, "c.npz", ["--no-specaug"], p)
        off2 = train_model(tmp, "d.npz", ["--no-specaug"], p)
        warp = train_model(tmp, "e.npz", ["--time-warp", "5"], p)
        if None not in (default, spelled, off1, off2, warp):
            if default != spelled:
                p.append("the recipes' SpecAugment settings given as options changed the model")
            if off1 != off2:
                p.append("two --no-specaug runs with the same seed differ")
            if off1 == default:
                p.append("--no-specaug left the model as it was")
            if warp == default:
                p.append("--time-warp 5 left the model as it was")
        report("augment/specaug", p)
    if wanted("augment/vtlp"):
        # VTLP [Jaitly13]: features drawn anew each step with a random VTLN warp; same
        # seed, same model; a different model from no --vtlp; --vtlp 0 is no VTLP
        p = []
        default = train_model(tmp, "va.npz", [], p)
        v1 = train_model(tmp, "vb.npz", ["--vtlp", "0.1"], p)
        v2 = train_model(tmp, "vc.npz", ["--vtlp", "0.1"], p)
        v0 = train_model(tmp, "vd.npz", ["--vtlp", "0"], p)
        if None not in (default, v1, v2, v0):
            if v1 != v2:
                p.append("two --vtlp 0.1 runs with the same seed differ")
            if v1 == default:
                p.append("--vtlp 0.1 left the model as it was")
            if v0 != default:
                p.append("--vtlp 0 changed the model")
        report("augment/vtlp", p)
    if wanted("augment/noise"):
        # additive white noise at a random SNR [Hannun14ds], anew each step; with --vtlp too
        p = []
        default = train_model(tmp, "na.npz", [], p)
        n1 = train_model(tmp, "nb.npz", ["--noise-snr", "10,30"], p)
        n2 = train_model(tmp, "nc.npz", ["--noise-snr", "10,30"], p)
        both = train_model(tmp, "nd.npz", ["--noise-snr", "10,30", "--vtlp", "0.1"], p)
        if None not in (default, n1, n2, both):
            if n1 != n2:
                p.append("two --noise-snr 10,30 runs with the same seed differ")
            if n1 == default:
                p.append("--noise-snr 10,30 left the model as it was")
            if both in (n1, default):
                p.append("--vtlp 0.1 with --noise-snr gave the model of one of them alone")
        report("augment/noise", p)
    if wanted("augment/cmvn"):
        # global CMVN: the statistics of the training frames, in the checkpoint
        p = []
        default = train_model(tmp, "ga.npz", [], p)
        g1 = train_model(tmp, "gb.npz", ["--cmvn", "global"], p)
        g2 = train_model(tmp, "gc.npz", ["--cmvn", "global"], p)
        u = train_model(tmp, "gd.npz", ["--cmvn", "utterance"], p)
        if None not in (default, g1, g2, u):
            if g1 != g2:
                p.append("two --cmvn global runs with the same seed differ")
            if g1 == default:
                p.append("--cmvn global left the model as it was")
            if u != default:
                p.append("--cmvn utterance changed the model")
            rc, out, err = run([prog("transcribe"), "--model", "gb.npz", "--data", "aug"], tmp)
            if rc != 0 or out.count("\n") != 4:
                p.append("transcribe with a --cmvn global model: exit %d, %r" % (rc, err[-200:]))
        report("augment/cmvn", p)
    if wanted("augment/gain"):
        # a random gain per utterance and step (volume perturbation); --gain-db 0 is off
        p = []
        default = train_model(tmp, "ha.npz", [], p)
        g1 = train_model(tmp, "hb.npz", ["--gain-db", "6"], p)
        g2 = train_model(tmp, "hc.npz", ["--gain-db", "6"], p)
        g0 = train_model(tmp, "hd.npz", ["--gain-db", "0"], p)
        if None not in (default, g1, g2, g0):
            if g1 != g2:
                p.append("two --gain-db 6 runs with the same seed differ")
            if g1 == default:
                p.append("--gain-db 6 left the model as it was")
            if g0 != default:
                p.append("--gain-db 0 changed the model")
        report("augment/gain", p)
    if wanted("augment/reverb"):
        # a simulated room [Allen79] per utterance and step, before the noise; same seed,
        # same model
        p = []
        default = train_model(tmp, "ra.npz", [], p)
        r1 = train_model(tmp, "rb.npz", ["--reverb", "0.2,0.6"], p)
        r2 = train_model(tmp, "rc.npz", ["--reverb", "0.2,0.6"], p)
        noise = train_model(tmp, "rd.npz", ["--noise-snr", "10,30"], p)
        both = train_model(tmp, "re.npz", ["--reverb", "0.2,0.6", "--noise-snr", "10,30"], p)
        if None not in (default, r1, r2, noise, both):
            if r1 != r2:
                p.append("two --reverb 0.2,0.6 runs with the same seed differ")
            if r1 == default:
                p.append("--reverb 0.2,0.6 left the model as it was")
            if both in (r1, noise, default):
                p.append("--reverb with --noise-snr gave the model of one of them alone")
        report("augment/reverb", p)
    if wanted("augment/average"):
        # --average-last N: the written model is the mean of the last N snapshots
        # (asr_model_average, checked against NumPy in tests/torch/test_average.py)
        p = []
        base = [prog("train"), "--recipe", "ctc-contextnet", "--data", "aug", "--steps", "1", "--out", "bad.npz"]
        for extra, needle in [(["--average-last", "0"], "--average-last"), (["--average-last", "51"], "--average-last"),
                              (["--average-last", "x"], "--average-last"),
                              (["--average-last", "2", "--average-every", "0"], "--average-every"),
                              (["--average-every", "5"], "--average-last"),
                              (["--average-last", "2", "--mwer-steps", "5"], "--mwer-steps")]:
            expect_fail(base + extra, tmp, needle, p)
        if os.path.exists(os.path.join(tmp, "bad.npz")):
            p.append("a refused run wrote bad.npz")
        default = train_model(tmp, "aa.npz", [], p)
        one = train_model(tmp, "ab.npz", ["--average-last", "1"], p)
        a1 = train_model(tmp, "ac.npz", ["--average-last", "3", "--average-every", "1"], p)
        a2 = train_model(tmp, "ad.npz", ["--average-last", "3", "--average-every", "1"], p)
        rc, out, _ = run([prog("train"), "--recipe", "ctc-contextnet", "--data", "aug", "--steps", "3", "--quiet",
                          "--out", "ae.npz", "--average-last", "5", "--average-every", "2"], tmp)
        if rc != 0 or "averaged 2 snapshots (steps 2 to 3)" not in out:
            p.append("--steps 3 --average-last 5 --average-every 2: exit %d, did not say it averaged steps 2 and 3: %r"
                     % (rc, out[-300:]))
        if None not in (default, one, a1, a2):
            if one != default:
                p.append("--average-last 1 changed the model")
            if a1 != a2:
                p.append("two --average-last 3 runs with the same seed differ")
            if a1 == default:
                p.append("--average-last 3 left the model as it was")
        report("augment/average", p)
    if wanted("augment/drop"):
        # dropout and stochastic depth [Huang16] in the encoder blocks: same seed, same
        # model; another model than none; both 0 the default model; the Conformer too
        p = []
        default = train_model(tmp, "da.npz", [], p)
        d1 = train_model(tmp, "db.npz", ["--dropout", "0.1", "--stoch-depth", "0.3"], p)
        d2 = train_model(tmp, "dc.npz", ["--dropout", "0.1", "--stoch-depth", "0.3"], p)
        d0 = train_model(tmp, "dd.npz", ["--dropout", "0", "--stoch-depth", "0"], p)
        sd = train_model(tmp, "de.npz", ["--stoch-depth", "0.5"], p)
        if None not in (default, d1, d2, d0, sd):
            if d1 != d2:
                p.append("two --dropout 0.1 --stoch-depth 0.3 runs with the same seed differ")
            if d1 == default or sd == default:
                p.append("--dropout/--stoch-depth left the model as it was")
            if d0 != default:
                p.append("--dropout 0 --stoch-depth 0 changed the model")
        c = []
        for i in range(2):
            args = [prog("train"), "--recipe", "ctc-conformer", "--data", "aug", "--steps", "2", "--quiet", "--out",
                    "cf%d.npz" % i, "--dropout", "0.1", "--stoch-depth", "0.3"]
            rc, _, err = run(args, tmp)
            if rc != 0:
                p.append("%s: exit %d, stderr %r" % (" ".join(args), rc, err[-300:]))
            else:
                with open(os.path.join(tmp, "cf%d.npz" % i), "rb") as f:
                    c.append(f.read())
        if len(c) == 2 and c[0] != c[1]:
            p.append("two ctc-conformer runs with --dropout 0.1 --stoch-depth 0.3 and the same seed differ")
        report("augment/drop", p)
    if wanted("augment/speaker-batches"):
        # --speaker-batches: a batch never holds two speakers. With a batch-frames limit
        # that fits everything, two speakers make two batches, and one step (no SpecAugment,
        # so the draws after the batch order do not matter) sees one speaker's utterances
        # alone. That step's learning rate is the schedule's last, 0, so what it changes is
        # every BatchNorm layer's running statistics, which are then its batch's: those of
        # training on that speaker alone, which the default's mixed batch's are not.
        p = []
        d = os.path.join(tmp, "spk")
        os.makedirs(d)
        for s, (speaker, period) in enumerate([("ann", 40), ("bob", 64)]):
            for digit in (0, 1):
                for take in (5, 10, 11):
                    write_wav(os.path.join(d, "%d_%s_%d.wav" % (digit, speaker, take)),
                              tone(4000 + 800 * digit + 160 * take, period + 3 * digit))
        def one_step(out, extra):
            args = [prog("train"), "--recipe", "ctc-contextnet", "--data", "spk", "--steps", "1", "--no-specaug",
                    "--eval-every", "0", "--batch-frames", "100000", "--out", out] + extra
            rc, stdout, err = run(args, tmp)
            if rc != 0:
                p.append("%s: exit %d, stderr %r" % (" ".join(args), rc, err[-300:]))
                return None, ""
            with zipfile.ZipFile(os.path.join(tmp, out)) as z:
                return {n: z.read(n) for n in z.namelist() if n != "config.npy"}, stdout
        by_spk, out1 = one_step("sa.npz", ["--speaker-batches"])
        mixed, out2 = one_step("sb.npz", [])
        ann, _ = one_step("sc.npz", ["--speakers", "ann"])
        bob, _ = one_step("sd.npz", ["--speakers", "bob"])
        if "2 batches of at most 100000 padded frames, one speaker each" not in out1:
            p.append("--speaker-batches on two speakers did not make two batches: %r" % out1[-300:])
        if "transcribe it with --adapt-bn" not in out1 or "--adapt-bn" in out2:
            p.append("the note to transcribe with --adapt-bn is missing with --speaker-batches or there without it")
        if "1 batches of at most 100000 padded frames;" not in out2:
            p.append("the default did not put both speakers in one batch: %r" % out2[-300:])
        if None not in (by_spk, mixed, ann, bob):
            if by_spk not in (ann, bob):
                p.append("one --speaker-batches step is not the step of either speaker alone")
            if mixed in (ann, bob):
                p.append("the default's mixed batch gave one speaker's step: the test cannot tell them apart")
        expect_fail([prog("train"), "--recipe", "ctc-contextnet", "--data", "aug", "--steps", "1", "--out", "bad.npz",
                     "--speaker-batches"], tmp, "FSDD", p)
        expect_fail([prog("train"), "--recipe", "las-pblstm", "--data", "spk", "--steps", "1", "--out", "bad.npz",
                     "--speaker-batches"], tmp, "las-pblstm", p)
        if os.path.exists(os.path.join(tmp, "bad.npz")):
            p.append("a refused run wrote bad.npz")
        report("augment/speaker-batches", p)
    if wanted("threads/options"):
        p = []
        base = [prog("train"), "--recipe", "ctc-contextnet", "--data", "aug", "--steps", "1", "--out", "bad.npz"]
        for val in ["0", "-2", "x", "257", "1.5"]:
            expect_fail(base + ["--threads", val], tmp, "--threads", p)
        if os.path.exists(os.path.join(tmp, "bad.npz")):
            p.append("a refused run wrote bad.npz")
        report("threads/options", p)
    if wanted("threads/bits"):
        # build/train is built with -fopenmp -DASR_THREADS: --threads 2 splits asr.h's
        # matrix products, each element still one thread's fixed sequence of operations
        p = []
        default = train_model(tmp, "ta.npz", [], p)
        t1 = train_model(tmp, "tb.npz", ["--threads", "1"], p)
        t2 = train_model(tmp, "tc.npz", ["--threads", "2"], p)
        t3 = train_model(tmp, "td.npz", ["--threads", "3"], p)
        if None not in (default, t1, t2, t3):
            if t1 != default:
                p.append("--threads 1 is not the default model")
            if t2 != t1:
                p.append("--threads 2 gave another model than --threads 1")
            if t3 != t1:
                p.append("--threads 3 gave another model than --threads 1")
        report("threads/bits", p)


# ---- san/*
SAYS = "says: "   # a bad input's last item "says: TEXT": its one line must contain TEXT


def san_tests(tmp):
    """The programs built with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer
    on, make san-programs) on bad input: exit 2, one line, no sanitizer report."""
    san = os.path.join(BUILD, "san")
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
    d = os.path.join(tmp, "san")
    os.makedirs(d)
    write_wav(os.path.join(d, "x.wav"), tone(16000))
    write_wav(os.path.join(d, "one.wav"), tone(1))
    write_wav(os.path.join(d, "r1.wav"), tone(1000), rate=1)
    with open(os.path.join(d, "garbage.wav"), "wb") as f:
        f.write(b"RIFF\x10\x00\x00\x00WAVEfmt \x0e\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00")
    write_npy(os.path.join(d, "f.npy"), "<f4", (1, 10, 7), [0.5] * 70)      # 7 columns: the model takes 80
    write_npy(os.path.join(d, "l.npy"), "<i4", (1,), [10])
    write_npy(os.path.join(d, "f80.npy"), "<f4", (1, 10, 80), [0.5] * 800)
    with open(os.path.join(d, "garbage.npz"), "w") as f:
        f.write("not a model\n")
    write_config_npz(os.path.join(d, "huge.npz"), '{"recipe": "ctc-contextnet", "channels": 1712}')
    for name, tsv in [("badtsv", "0000.ogg eight\n"), ("missing", "nothere.wav\tone\n"), ("short", "one.wav\tone\n"),
                      ("good", "x.wav\tone\n")]:
        os.makedirs(os.path.join(d, name))
        with open(os.path.join(d, name, "transcripts.tsv"), "w") as f:
            f.write(tsv.replace("one.wav", "../one.wav").replace("x.wav", "../x.wav"))
    # pretrain and units: ten toy recordings (one held out) with 0000.ogg's transcript; a
    # folder with a garbled WAV, one with a 1-sample one; for units --item, 0000.ogg with a
    # transcript of 660 tokens (more than units aligns) and a 6-frame clip (too short for a
    # Conformer: 7 frames); a vq-wav2vec (Gumbel) model, a wav2vec one (no quantizer: no
    # units) and a 1-step ctc-conformer (also for transcribe and posteriorgram on the clip),
    # made by the plain build/pretrain and build/train
    for name in ("w2v", "w2vbad", "w2vshort", "w2vlong", "w2vtiny"):
        os.makedirs(os.path.join(d, name))
    toy = os.path.join(ROOT, "data", "toy", "train")
    for i in range(10):
        shutil.copy(os.path.join(toy, "%04d.ogg" % i), os.path.join(d, "w2v"))
    with open(os.path.join(toy, "transcripts.tsv")) as f, open(os.path.join(d, "w2v", "transcripts.tsv"), "w") as g:
        g.write(next(l for l in f if l.startswith("0000.ogg\t")))
    shutil.copy(os.path.join(d, "garbage.wav"), os.path.join(d, "w2vbad"))
    shutil.copy(os.path.join(d, "one.wav"), os.path.join(d, "w2vshort"))
    shutil.copy(os.path.join(toy, "0000.ogg"), os.path.join(d, "w2vlong"))
    with open(os.path.join(d, "w2vlong", "transcripts.tsv"), "w") as f:
        f.write("0000.ogg\t%s\n" % " ".join(["eight"] * 110))
    write_wav(os.path.join(d, "w2vtiny", "tiny.wav"), tone(1200))
    with open(os.path.join(d, "w2vtiny", "transcripts.tsv"), "w") as f:
        f.write("tiny.wav\tno\n")
    # bert: a units folder of 12 sequences, one with a bad line, one with one sequence
    write_units(os.path.join(d, "un"), 12)
    write_units(os.path.join(d, "unbad"), 3)
    with open(os.path.join(d, "unbad", "units.tsv"), "a") as f:
        f.write("bad.ogg\t3\t1.2 9.9 0.0\n")
    write_units(os.path.join(d, "unone"), 1)
    for args in ([prog("pretrain"), "--recipe", "toy-vq-wav2vec-gumbel", "--data", "w2v", "--out", "vq.npz"],
                 [prog("pretrain"), "--recipe", "toy-wav2vec", "--data", "w2v", "--out", "nq.npz"],
                 [prog("train"), "--recipe", "ctc-conformer", "--data", "w2v", "--out", "cc.npz", "--eval-every", "0",
                  "--quiet"]):
        rc, _, err = run(args + ["--steps", "1"] + (["--batch", "1"] if "pretrain" in args[0] else []), d)
        if rc != 0:
            report("san/setup", ["%s: exit %d, %s" % (" ".join(args), rc, err.strip()[-300:])])
            return
    cases = {
        "transcribe": [
            ["--model", "missing.npz", "x.wav"], ["--model", "garbage.npz", "x.wav"], ["--model", MODEL, "missing.wav"],
            ["--model", MODEL, "garbage.wav"], ["--model", MODEL, "r1.wav"], ["--model", "huge.npz", "x.wav"], ["--model", MODEL, "one.wav"],
            ["--model", MODEL, "--data", "nodir"], ["--model", MODEL, "--data", "badtsv"],
            ["--model", MODEL, "--data", "missing"], ["--model", MODEL, "--beam", "0", "x.wav"],
            ["--model", MODEL, "--bogus", "x.wav"],
            ["--model", MODEL, "--nbest", "x.wav", SAYS + "need a second pass"],
            ["--model", MODEL, "--nbest-svg", "x.wav", "x.wav"],
            ["--model", MODEL, "--data", "good", "--takes", "1-2", SAYS + "good has no recording of those takes"],
            ["--model", "cc.npz", "w2vtiny/tiny.wav", SAYS + "tiny.wav: 6 feature frames are too short"],
            ["--model", MODEL, "--vtln-warp", "1.6", "x.wav", SAYS + "--vtln-warp: '1.6' is not a warp factor"],
            ["--model", MODEL, "--vtln-search", "--vtln-warp", "0.9", "x.wav", SAYS + "one or the other"],
            ["--model", MODEL, "--vtln-files", "0", "--vtln-search", "x.wav", SAYS + "--vtln-files: '0'"]],
        "train": [
            ["--recipe", "nope", "--data", "good", "--out", "m.npz"],
            ["--recipe", "ctc-contextnet", "--data", "nodir", "--out", "m.npz"],
            ["--recipe", "ctc-contextnet", "--data", "badtsv", "--out", "m.npz"],
            ["--recipe", "ctc-contextnet", "--data", "missing", "--out", "m.npz"],
            ["--recipe", "ctc-contextnet", "--data", "short", "--out", "m.npz"],
            ["--recipe", "ctc-conformer", "--data", "good", "--dev", "badtsv", "--out", "m.npz"],
            ["--recipe", "rnnt", "--data", "good", "--dev", "missing", "--out", "m.npz"],
            ["--recipe", "ctc-contextnet", "--data", "good", "--out", "good/m.npz"],
            ["--recipe", "ctc-contextnet", "--data", "good", "--lr", "1e30", "--out", "m.npz",
             SAYS + "--lr: '1e30' is not a number in (0, 1e9]"],
            ["--recipe", "ctc-contextnet", "--data", "good", "--freq-width", "81", "--out", "m.npz"],
            ["--recipe", "ctc-contextnet", "--data", "good", "--threads", "2", "--out", "m.npz"]],
        "posteriorgram": [
            ["--model", "missing.npz", "x.wav", "o.svg"], ["--model", "garbage.npz", "x.wav", "o.svg"],
            ["--model", MODEL, "garbage.wav", "o.svg"], ["--model", MODEL, "one.wav", "o.svg"],
            ["--model", "huge.npz", "x.wav", "o.svg"],
            ["--model", MODEL, "x.wav", "x.wav"], ["--model", MODEL, "x.wav"],
            ["--model", MODEL, "--beam", "2", "x.wav", "o.svg", SAYS + "are for the attention recipes"],
            ["--model", MODEL, "--beam", "0", "x.wav", "o.svg"],
            ["--model", "cc.npz", "w2vtiny/tiny.wav", "o.svg", SAYS + "tiny.wav: 6 feature frames are too short"]],
        "asrtool": [
            ["decode", "garbage.wav", "o.npy"], ["fbank", "r1.wav", "o.npy"], ["model", "--model", "garbage.npz", "f.npy", "l.npy", "out"],
            ["model", "--model", MODEL, "f.npy", "l.npy", "out"],
            ["info", "garbage.npz"], ["decode", "x.wav", "x.wav"], ["model", "--model", "huge.npz", "f.npy", "l.npy", "out"],
            ["w2v", "garbage.npz", "f.npy", "out"], ["bert", "garbage.npz", "l.npy", "out"],
            ["average", "avg.npz", MODEL, "garbage.npz"], ["average", "avg.npz", MODEL, "vq.npz"],
            ["ctc", "f.npy", "l.npy", "l.npy", "l.npy", "out"], ["fbank", "--num-mel-bins", "0", "x.wav", "o.npy"]],
        "pretrain": [
            ["--recipe", "nope", "--data", "w2v", "--out", "p.npz"], ["--data", "nodir", "--out", "p.npz"],
            ["--data", "w2vbad", "--out", "p.npz"], ["--data", "w2vshort", "--out", "p.npz"],
            ["--data", "w2v", "--out", "w2v/p.npz"], ["--data", "w2v", "--out", "p.npz", "--steps", "x"],
            ["--data", "w2v", "--out", "p.npz", "--crop-ms", "30"],
            ["--data", "w2v", "--out", "p.npz", "--bogus", "1"]],
        "units": [
            ["--model", "missing.npz", "--data", "w2v", "--out", "u"],
            ["--model", "garbage.npz", "--data", "w2v", "--out", "u"],
            ["--model", MODEL, "--data", "w2v", "--out", "u"], ["--model", "nq.npz", "--data", "w2v", "--out", "u"],
            ["--model", "vq.npz", "--data", "nodir", "--out", "u"],
            ["--model", "vq.npz", "--data", "w2vbad", "--out", "u"],
            ["--model", "vq.npz", "--data", "w2v", "--out", "w2v"],
            ["--model", "vq.npz", "--data", "w2v", "--out", "u", "--item", "nothere.ogg", "--ctc-model", MODEL],
            ["--model", "vq.npz", "--data", "w2v", "--out", "u", "--item", "0001.ogg", "--ctc-model", MODEL],
            ["--model", "vq.npz", "--data", "w2v", "--out", "u", "--item", "0000.ogg", "--ctc-model", "garbage.npz"],
            ["--model", "vq.npz", "--data", "w2vlong", "--out", "u", "--item", "0000.ogg", "--ctc-model", MODEL,
             SAYS + "longer than 512 tokens"],
            ["--model", "vq.npz", "--data", "w2vtiny", "--out", "u", "--item", "tiny.wav", "--ctc-model", "cc.npz",
             SAYS + "6 feature frames are too short for the encoder's subsampling (ctc-conformer needs 7)"],
            ["--model", "vq.npz", "--data", "w2v", "--out", "u", "--item", "0000.ogg"]],
        "bert": [
            ["--units", "nodir", "--out", "b.npz", SAYS + "cannot open"],
            ["--units", "unbad", "--out", "b.npz", SAYS + "not file<TAB>frames<TAB>codes"],
            ["--units", "unone", "--out", "b.npz", SAYS + "1 sequences: need 2"],
            ["--units", "un", "--out", "un/b.npz", SAYS + "refusing"],
            ["--units", "un", "--out", "b.npz", "--d-model", "8", "--heads", "3"],
            ["--units", "un", "--out", "b.npz", "--steps", "x"], ["--units", "un", "--out", "b.npz", "--bogus", "1"],
            ["--units", "un"]],
    }
    # and a normal run (exit 0, no sanitizer report): a step of pretraining on the toy
    # recordings (each quantizer), their units, and a units picture with a CTC alignment
    tiny_bert = ["--steps", "1", "--batch", "2", "--crop", "20", "--d-model", "8", "--heads", "2", "--ff-dim", "8"]
    clean = {
        "asrtool": [["fbank", "x.wav", "fb.npy"], ["decode", "x.wav", "x.npy"],
                    ["model", "--model", MODEL, "f80.npy", "l.npy", "mo"]],
        "train": [["--recipe", "ctc-contextnet", "--data", "w2v", "--steps", "1", "--eval-every", "0", "--quiet",
                   "--out", "t.npz"]],
        "transcribe": [["--model", MODEL, "x.wav"], ["--model", MODEL, "--align", "--chunk", "1", "w2v/0001.ogg"],
                       ["--model", MODEL, "--data", "w2v"],
                       ["--model", MODEL, "--vtln-search", "--vtln-files", "2", "--chunk", "1", "w2v/0000.ogg",
                        "w2v/0001.ogg"],
                       ["--model", "cc.npz", "--adapt-bn", "--chunk", "1", "w2v/0000.ogg", "w2v/0001.ogg"]],
        "posteriorgram": [["--model", MODEL, "w2v/0000.ogg", "pg.svg"]],
        "bert": [["--units", "un", "--out", "b.npz"] + tiny_bert],
        "pretrain": [["--data", "w2v", "--out", "p.npz", "--steps", "1", "--batch", "1"],
                     ["--recipe", "toy-vq-wav2vec-kmeans", "--data", "w2v", "--out", "k.npz", "--steps", "1",
                      "--batch", "1"]],
        "units": [["--model", "vq.npz", "--data", "w2v", "--out", "uo"],
                  ["--model", "vq.npz", "--data", "w2v", "--out", "ui", "--item", "0000.ogg", "--ctc-model", MODEL]],
    }
    for program, runs in cases.items():
        name = "san/" + program
        if not wanted(name):
            continue
        p = []
        exe = os.path.join(san, program)
        if not os.path.exists(exe):
            report(name, ["%s is not built (make san-programs)" % exe])
            continue
        for args in clean.get(program, []):
            proc = subprocess.run([exe] + args, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=300)
            err = proc.stderr.decode(errors="replace")
            if proc.returncode != 0 or "Sanitizer" in err or "runtime error" in err:
                p.append("%s %s: exit %d (expected 0), stderr:" % (program, " ".join(args), proc.returncode))
                p.extend("  " + l for l in err.strip().splitlines()[:12])
            if VERBOSE:
                print("    ran: %s %s -> %d %s" % (program, " ".join(args), proc.returncode, err.strip()[:200]))
        for args in runs:
            say = args[-1][len(SAYS):] if args[-1].startswith(SAYS) else ""      # what the line must say
            args = args[:-1] if say else args
            proc = subprocess.run([exe] + args, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=300)
            err = proc.stderr.decode(errors="replace")
            # the one line; a usage synopsis after it and transcribe --data's CER line are not problems
            lines = [l for l in err.strip().splitlines()
                     if not l.startswith(("CER ", "usage:", " ")) or "Sanitizer" in l or "runtime error" in l]
            if proc.returncode != 2 or len(lines) > 1 or not err.strip() or "Sanitizer" in err or "runtime error" in err \
                    or say not in err:
                if say not in err:
                    p.append("%s %s: the line should say %r" % (program, " ".join(args), say))
                p.append("%s %s: exit %d, stderr:" % (program, " ".join(args), proc.returncode))
                p.extend("  " + l for l in lines[:12])
            if VERBOSE:
                print("    ran: %s %s -> %d %s" % (program, " ".join(args), proc.returncode, err.strip()[:200]))
        report(name + " (%d bad inputs%s)" % (len(runs), ", %d normal runs" % len(clean[program]) if program in clean
                                              else ""), p)


def write_units(u, n):
    """A folder as build/units writes it: n sequences of 30 frames of 2 groups of 4 codes."""
    os.makedirs(u)
    with open(os.path.join(u, "units.tsv"), "w") as f:
        for k in range(n):
            f.write("%04d.ogg\t%d\t%s\n" % (k, 30, " ".join("%d.%d" % ((t // 5 + k) % 4, t // 10 % 4) for t in range(30))))
    with open(os.path.join(u, "usage.tsv"), "w") as f:
        f.writelines("%d\t%d\t1\n" % (g, v) for g in range(2) for v in range(4))


# ---- downstream/options: build/train --w2v-features, --bert-features, --train-fraction; build/bert
def downstream_tests(tmp):
    if not wanted("downstream/options"):
        return
    p = []
    d = os.path.join(tmp, "ds")
    os.makedirs(d)
    toy = os.path.join(ROOT, "data", "toy", "train")
    with open(os.path.join(toy, "transcripts.tsv")) as f:
        lines = [l for l in f if not l.startswith("#")][:4]
    for l in lines:
        shutil.copy(os.path.join(toy, l.split("\t")[0]), d)
    with open(os.path.join(d, "transcripts.tsv"), "w") as f:
        f.writelines(lines)
    succeeds([prog("asrtool"), "w2v-init", "toy-wav2vec", "w.npz", "--channels", "16"], tmp, p)
    succeeds([prog("asrtool"), "w2v-init", "toy-vq-wav2vec-gumbel", "vq.npz", "--channels", "16"], tmp, p)
    base = [prog("train"), "--recipe", "ctc-contextnet", "--data", "ds", "--steps", "2", "--eval-every", "0", "--quiet"]
    succeeds(base + ["--out", "m1.npz", "--w2v-features", "w.npz"], tmp, p)
    rc, out, _ = run(base + ["--out", "m2.npz", "--train-fraction", "0.5"], tmp)
    if rc != 0 or "first 2 of 4 transcripts" not in out:
        p.append("--train-fraction 0.5: exit %d, stdout %r" % (rc, out[-300:]))
    expect_fail(base + ["--out", "m3.npz", "--w2v-features", "vq.npz"], tmp, "vq-wav2vec model", p)
    expect_fail(base + ["--out", "m3.npz", "--w2v-features", "w.npz", "--splice", "1-2"], tmp, "not with --splice", p)
    expect_fail(base + ["--out", "m3.npz", "--train-fraction", "0"], tmp, "train-fraction", p)
    expect_fail(base + ["--out", "w.npz", "--w2v-features", "w.npz"], tmp, "w.npz", p)
    succeeds([prog("asrtool"), "bert-init", "b64.npz", "--vocab", "64", "--d-model", "8", "--heads", "2", "--ff-dim",
              "8", "--layers", "1"], tmp, p)
    succeeds([prog("asrtool"), "bert-init", "b10.npz", "--vocab", "10", "--d-model", "8", "--heads", "2", "--ff-dim",
              "8", "--layers", "1"], tmp, p)
    succeeds([prog("asrtool"), "w2v-init", "toy-vq-wav2vec-gumbel", "vq8.npz", "--channels", "16", "--vars", "8"], tmp, p)
    succeeds(base + ["--out", "m4.npz", "--w2v-features", "vq8.npz", "--bert-features", "b64.npz"], tmp, p)
    expect_fail(base + ["--out", "m3.npz", "--bert-features", "b64.npz"], tmp, "needs --w2v-features", p)
    expect_fail(base + ["--out", "m3.npz", "--w2v-features", "vq8.npz", "--bert-features", "b10.npz"], tmp,
                "has 10 tokens", p)
    expect_fail(base + ["--out", "m3.npz", "--w2v-features", "w.npz", "--bert-features", "b64.npz"], tmp,
                "has 64 tokens", p)
    if os.path.exists(os.path.join(tmp, "m3.npz")):
        p.append("a refused run wrote m3.npz")
    # the checkpoint records its front end (config front_end, front_end_check): transcribe
    # needs the same files, refuses none, another kind or other weights, and computes the
    # features train computed (the 2-step model's transcript is not checked, only that it runs)
    for k, line in (("m1", '"front_end": 1, "front_end_check": '), ("m4", '"front_end": 2, "front_end_check": ')):
        with zipfile.ZipFile(os.path.join(tmp, k + ".npz")) as z:
            config = z.read("config.npy").decode("latin-1")
        if line not in config:
            p.append("%s.npz's config does not record its front end: %r" % (k, config[-200:]))
    succeeds([prog("asrtool"), "w2v-init", "toy-wav2vec", "w2.npz", "--channels", "16", "--seed", "2"], tmp, p)
    rec = os.path.join("ds", lines[0].split("\t")[0])
    tr = [prog("transcribe"), "--model"]
    succeeds(tr + ["m1.npz", "--w2v-features", "w.npz", rec], tmp, p)
    succeeds(tr + ["m4.npz", "--w2v-features", "vq8.npz", "--bert-features", "b64.npz", "--chunk", "0", rec], tmp, p)
    expect_fail(tr + ["m1.npz", rec], tmp, "trained on a wav2vec model's context features", p)
    expect_fail(tr + ["m1.npz", "--w2v-features", "w2.npz", rec], tmp, "trained on another front end", p)
    expect_fail(tr + ["m1.npz", "--w2v-features", "vq8.npz", "--bert-features", "b64.npz", rec], tmp,
                "--w2v-features with --bert-features are given", p)
    expect_fail(tr + ["m4.npz", "--w2v-features", "vq8.npz", rec], tmp, "is a vq-wav2vec model", p)
    expect_fail(tr + ["m2.npz", "--w2v-features", "w.npz", rec], tmp, "trained on the fbank", p)
    expect_fail(tr + ["m1.npz", "--w2v-features", "w.npz", "--pad", "0.1", rec], tmp, "not with --w2v-features", p)
    expect_fail([prog("posteriorgram"), "--model", "m1.npz", rec, "pg.svg"], tmp, "not the fbank", p)
    u = os.path.join(tmp, "units")
    write_units(u, 12)
    bert = [prog("bert"), "--units", "units", "--steps", "2", "--crop", "20", "--d-model", "8", "--heads", "2",
            "--ff-dim", "8"]
    succeeds(bert + ["--out", "b.npz"], tmp, p)
    expect_fail(bert + ["--out", "units/b.npz"], tmp, "refusing to write there", p)
    with open(os.path.join(u, "units.tsv"), "a") as f:
        f.write("bad.ogg\t3\t1.2 9.9 0.0\n")
    expect_fail(bert + ["--out", "b2.npz"], tmp, "not file<TAB>frames<TAB>codes", p)
    if os.path.exists(os.path.join(tmp, "b2.npz")):
        p.append("a refused build/bert wrote b2.npz")
    report("downstream/options", p)


# ---- nbest/*
def parse_nbest(out):
    """transcribe --nbest's output: [(file, text, [(rank, first, second, combined, tokens, mark, hyp)])]."""
    files = []
    for line in out.split("\n"):
        if not line:
            continue
        if line.startswith("\t#"):
            f = line[1:].split("\t")
            files[-1][2].append((int(f[0][1:]), float(f[1]), float(f[2]), float(f[3]), int(f[4]), f[5], f[6]))
        else:
            name, text = line.split("\t")
            files.append((name, text, []))
    return files


def nbest_tests(tmp):
    if not wanted("nbest/"):
        return
    d = os.path.join(tmp, "nb")
    clips = [os.path.relpath(c, d) for c in four_clips(os.path.join(d, "data"))][:2]
    p = []
    for recipe, model in [("rnnt-las", "m.npz"), ("ctc-attention", "ca.npz")]:
        rc, _, err = run([prog("train"), "--recipe", recipe, "--data", "data", "--steps", "20", "--quiet",
                          "--out", model], d)
        if rc != 0:
            report("nbest/list", ["train %s: exit %d %s" % (recipe, rc, err[-300:])])
            return
    if wanted("nbest/list"):
        # the list's numbers: combined = w first + (1 - w) second + P tokens, one "*" on the
        # largest combined (the first of equals), its text the file's answer, which is
        # transcribe's answer without --nbest; rnnt-las (the RNN-T n-best, w
        # --first-pass-weight) and ctc-attention --rescore N (the CTC n-best, w --ctc-weight)
        seen = 0
        for model, w, pen, beam in [("m.npz", "0", "0", "4"), ("m.npz", "0.5", "0.3", "4"), ("m.npz", "1", "0", "3"),
                                    ("m.npz", "0.2", "-1", "6"), ("ca.npz", "0.3", "0", "4"),
                                    ("ca.npz", "0.7", "0.5", "3")]:
            if model == "m.npz":
                opts = ["--first-pass-weight", w, "--penalty", pen, "--beam", beam]
            else:
                opts = ["--ctc-weight", w, "--penalty", pen, "--rescore", beam]
            rc, out, err = run([prog("transcribe"), "--model", model, "--nbest"] + opts + clips, d)
            rc0, out0, err0 = run([prog("transcribe"), "--model", model] + opts + clips, d)
            if rc != 0 or rc0 != 0:
                p.append("%s: exit %d / %d: %s %s" % (" ".join(opts), rc, rc0, err[-200:], err0[-200:]))
                continue
            got = parse_nbest(out)
            plain = [tuple(l.split("\t")) for l in out0.split("\n") if l]
            if [(f, t) for f, t, _ in got] != plain:
                p.append("%s: the files' lines differ with --nbest: %r vs %r" % (" ".join(opts), got, plain))
            for name, text, rows in got:
                seen += len(rows)
                if not 1 <= len(rows) <= int(beam) or [r[0] for r in rows] != list(range(1, len(rows) + 1)):
                    p.append("%s %s: %d rows for beam %s: %r" % (" ".join(opts), name, len(rows), beam, rows))
                    continue
                kept = [i for i, r in enumerate(rows) if r[5] == "*"]
                comb = [r[3] for r in rows]
                top = comb.index(max(comb))
                if kept != [top] or any(r[5] not in "*-" for r in rows):
                    p.append("%s %s: marks %r, the largest combined is row %d" % (" ".join(opts), name,
                                                                                 [r[5] for r in rows], top + 1))
                for r in rows:
                    # printed with 6 decimals: each value within 5e-7 of the decoder's
                    want = float(w) * r[1] + (1 - float(w)) * r[2] + float(pen) * r[4]
                    if abs(r[3] - want) > 2e-6 or r[4] != len(r[6]) or not r[2] < 0:
                        p.append("%s %s: row %r: combined should be %.6f, tokens %d, second < 0" % (
                            " ".join(opts), name, r, want, len(r[6])))
                if kept and " ".join(rows[kept[0]][6].split()) != text:
                    p.append("%s %s: the kept row says %r, the file's line %r" % (" ".join(opts), name,
                                                                                  rows[kept[0]][6], text))
        report("nbest/list (%d hypotheses of rnnt-las and ctc-attention checked)" % seen, p)
    if wanted("nbest/svg"):
        p = []
        rc, out, err = run([prog("transcribe"), "--model", "m.npz", "--nbest", "--nbest-svg", "nb.svg", clips[0]], d)
        if rc != 0 or not os.path.exists(os.path.join(d, "nb.svg")):
            p.append("--nbest-svg: exit %d, %s" % (rc, err[-300:]))
        else:
            svg = open(os.path.join(d, "nb.svg")).read()
            rows = parse_nbest(out)[0][2]
            for r in rows:
                label = '%d. "%s"%s' % (r[0], r[6], " (kept)" if r[5] == "*" else "")
                if label not in svg:
                    p.append("nb.svg has no row %r" % label)
            if not svg.startswith("<svg") or not svg.rstrip().endswith("</svg>") or svg.count("(kept)") != 1:
                p.append("nb.svg is not one picture with one kept row: %r" % svg[:200])
        # refusals: one line, exit 2, nothing written
        for args, needle in [
                (["--model", MODEL, "--nbest", clips[0]], "need a second pass"),
                (["--model", MODEL, "--nbest-svg", "x.svg", clips[0]], "need a second pass"),
                (["--model", "m.npz", "--rescore", "0", "--nbest-svg", "x.svg", clips[0]], "need a second pass"),
                (["--model", "m.npz", "--nbest-svg", "x.svg"] + clips, "one FILE"),
                (["--model", "m.npz", "--nbest-svg", "x.svg", "--data", "data"], "one FILE"),
                (["--model", "m.npz", "--nbest", "--align", clips[0]], "not with --align"),
                (["--model", "m.npz", "--nbest-svg", "x.svg", "--ctc-weight", "0.3", clips[0]], "no CTC branch")]:
            rc, out, err = run([prog("transcribe")] + args, d)
            if rc != 2 or len(err.strip().splitlines()) != 1 or needle not in err or out:
                p.append("%s: exit %d, stdout %r, stderr %r (expected 2, one line with %r)" % (" ".join(args), rc,
                                                                                         out[:100], err, needle))
            if os.path.exists(os.path.join(d, "x.svg")):
                p.append("%s: wrote x.svg" % " ".join(args))
                os.remove(os.path.join(d, "x.svg"))
        for out in ["m.npz", clips[0], "./m.npz"]:       # the picture over an input
            refused([prog("transcribe"), "--model", "m.npz", "--nbest-svg", out, clips[0]], d,
                    [os.path.join(d, "m.npz"), os.path.join(d, clips[0])], p)
        report("nbest/svg", p)


# ---- agree/*
def agree_tests(tmp):
    """build/posteriorgram's words above its attention rows are build/transcribe's answer
    (they decoded at beam 4 and beam 1: a 20-step las model said "t" and "two" for the
    first clip), by default and with the same --beam / --ctc-weight."""
    if not wanted("agree/posteriorgram-transcribe"):
        return
    p = []
    d = os.path.join(tmp, "agree")
    clips = four_clips(os.path.join(d, "data")) + [os.path.join(ROOT, "data", "toy", "test", "%04d.ogg" % i)
                                                   for i in range(3)]
    compared = 0
    for recipe, variants in [("las", [[], ["--beam", "4"]]),
                             ("ctc-attention", [[], ["--beam", "4", "--ctc-weight", "0.5"]])]:
        model = recipe + ".npz"
        rc, _, err = run([prog("train"), "--recipe", recipe, "--data", "data", "--steps", "20", "--quiet", "--out", model],
                         d)
        if rc != 0:
            p.append("train %s: exit %d %s" % (recipe, rc, err[-300:]))
            continue
        for opts in variants:
            rc, out, err = run([prog("transcribe"), "--model", model] + opts + clips, d)
            if rc != 0:
                p.append("transcribe %s %s: exit %d %s" % (recipe, " ".join(opts), rc, err[-300:]))
                continue
            said = dict(l.split("\t") for l in out.split("\n") if l)
            for c in clips:
                rc, _, err = run([prog("posteriorgram"), "--model", model] + opts + [c, "pg.svg"], d)
                svg = open(os.path.join(d, "pg.svg")).read() if rc == 0 else ""
                head = '%s (%s): "%s"' % (c, recipe, said.get(c))
                if rc != 0 or head not in svg:
                    p.append("%s %s %s: posteriorgram (exit %d) does not say transcribe's %r: %s" % (
                        recipe, " ".join(opts), os.path.basename(c), rc, said.get(c),
                        svg[svg.find("<text"):][:160] if svg else err[-200:]))
                compared += 1
    report("agree/posteriorgram-transcribe (%d decodings compared)" % compared, p)


def words_tests(tmp):
    if not wanted("words/"):
        return
    d = os.path.join(tmp, "words")
    clips = four_clips(os.path.join(d, "aug"))
    lex = ["one", "two", "three", "stop"]
    with open(os.path.join(d, "lex.txt"), "w") as f:
        f.write("\n".join(lex) + "\n")
    with open(os.path.join(d, "lm.arpa"), "w") as f:   # a unigram model over two of the words
        f.write("\\data\\\nngram 1=4\n\n\\1-grams:\n-0.5\t</s>\n-99\t<s>\n-0.5\tone\n-0.5\ttwo\n\n\\end\\\n")
    models = {"ctc": os.path.join(ROOT, "data", "models", "ctc-contextnet.npz")}
    for recipe in ["rnnt-contextnet", "las"]:
        rc, _, err = run([prog("train"), "--recipe", recipe, "--data", "aug", "--steps", "3", "--quiet", "--out",
                          recipe + ".npz"], d)
        models[recipe] = os.path.join(d, recipe + ".npz") if rc == 0 else None
        if rc != 0:
            report("words/" + recipe, ["train %s: exit %d, %r" % (recipe, rc, err[-300:])])
    for name in ["ctc", "rnnt-contextnet"]:
        test = "words/" + name
        if not wanted(test) or not models[name]:
            continue
        p = []
        for extra, allowed in [(["--lexicon", "lex.txt"], lex), (["--lexicon", "lex.txt", "--align"], lex),
                               (["--lm", "lm.arpa", "--beam", "4"], ["one", "two"])]:
            rc, out, err = run([prog("transcribe"), "--model", models[name]] + extra + clips, d)
            lines = out.splitlines()
            if rc != 0 or len(lines) != 4:
                p.append("%s: exit %d, %d lines, stderr %r" % (" ".join(extra), rc, len(lines), err[-300:]))
                continue
            if not any(len(l.split("\t")) > 1 and l.split("\t")[1] for l in lines):
                p.append("%s: no line has a word: the check would hold for anything" % " ".join(extra))
            for line in lines:
                cols = line.split("\t")
                words = cols[1].split() if len(cols) > 1 else []
                bad = [w for w in words if w not in allowed]
                if bad:
                    p.append("%s: %r has words outside %s" % (" ".join(extra), line, allowed))
                if "--align" in extra:
                    times = cols[2].split() if len(cols) > 2 else []
                    if len(times) != len(words) or not all(re.match(r"^[a-z]+@[0-9.]+-[0-9.]+$", t) for t in times):
                        p.append("--align: %r does not give each word a time" % line)
        report(test, p)
    if wanted("words/rtf"):
        # --rtf: one line on stderr after the files; its factor is its time over its audio
        # (up to the printed digits: time to 0.01 s, audio to 0.1 s)
        p = []
        rc, out, err = run([prog("transcribe"), "--model", models["ctc"], "--rtf"] + clips[:2], d)
        m = re.search(r"real-time factor ([0-9.]+) \(([0-9.]+) s to transcribe ([0-9.]+) s of audio, 2 files, beam 1\)",
                      err)
        if rc != 0 or len(out.splitlines()) != 2 or not m:
            p.append("--rtf: exit %d, stdout %r, stderr %r" % (rc, out[-200:], err[-300:]))
        elif not (float(m.group(3)) > 0.5 and abs(float(m.group(1)) - float(m.group(2)) / float(m.group(3))) <=
                  (0.005 + float(m.group(1)) * 0.05) / float(m.group(3)) + 1e-4):
            p.append("--rtf: %r: the factor is not the time over the audio" % m.group(0))
        report("words/rtf", p)
    if wanted("words/refused") and models["las"]:
        p = []
        expect_fail([prog("transcribe"), "--model", models["las"], "--lexicon", "lex.txt", clips[0]], d,
                    "CTC and RNN-T models", p)
        report("words/refused", p)


def main():
    tmp = tempfile.mkdtemp(prefix="asr-programs-")
    try:
        outpath_tests(tmp)
        rate_tests(tmp)
        checkpoint_tests(tmp)
        stale_tests(tmp)
        stale_programs_tests(tmp)
        long_tests(tmp)
        message_tests(tmp)
        augment_tests(tmp)
        nbest_tests(tmp)
        words_tests(tmp)
        agree_tests(tmp)
        downstream_tests(tmp)
        san_tests(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    failed = sum(1 for _, p in RESULTS if p)
    print("%d passed, %d failed" % (len(RESULTS) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
