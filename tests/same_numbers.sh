#!/bin/sh
# tests/same_numbers.sh [REV] - are asrtool's numbers bit-identical to those of revision REV?
#
#   sh tests/same_numbers.sh [REV]      or   make same-numbers [REV=...]   (REV: a64d765)
#
# The guard for refactors that must not change any number: moving sections of asr.h into
# reading order, renaming helpers. REV defaults to a64d765, the commit before the reordering.
#   1. builds REV's build/asrtool, build/asrtool-f64 and build/test_double in a temporary
#      git worktree under build/tmp/ with REV's own Makefile, and the working tree's (edits
#      not yet committed included) with its Makefile; the worktree goes at the end, also on
#      failure or interrupt;
#   2. writes one fixed set of inputs (seeded numpy, small sizes) to build/same-numbers/in/;
#   3. runs every asrtool command that computes numbers on them (fbank, decode, resample,
#      ctc, ctc-decode, ctc-align, rnnt, every layer, optim, gumbel, vq, model, info), with
#      --impl naive|ref|simd wherever the command has the tier, through BOTH revisions'
#      float and double builds, each into its own folder (build/same-numbers/{rev,cur}/);
#      also the stdout of `asrtool-f64 gradcheck NAME` for every NAME REV knows (measured
#      errors) and of build/test_double (timing lines, if any, dropped);
#   4. compares each output file byte for byte with cmp, and the exit status, stdout and
#      stderr of each run.
# Prints one line per case and precision, "[same] layer conformer_block latest ref f64" or
# "[DIFF] ... : the first differing array and its max |diff|", then "N same, N differ".
# Exit 1 if anything differs or a command failed in one revision only (a command that fails
# identically in both, same exit status and message, counts as same and says so; a crash
# counts as a difference even when both crash); exit 2 if REV or the working tree cannot
# be built. Everything but the worktree stays in build/same-numbers/ for a closer look; the
# next run replaces it.
set -u
set -f                         # the case arguments are split on blanks, never globbed
unset MAKEFLAGS MFLAGS         # our own make calls, not the jobserver of `make same-numbers`
REV=${1:-a64d765}
PY=/usr/bin/python3
ROOT=$(git rev-parse --show-toplevel) || exit 2
cd "$ROOT" || exit 2
start=$(date +%s)

if ! rev=$(git rev-parse --verify -q "$REV^{commit}"); then
  echo "same_numbers: '$REV' is not a commit of this repository"; exit 2
fi
if ! "$PY" -c 'import numpy' 2>/dev/null; then
  echo "same_numbers: $PY with numpy is needed (sudo apt-get install python3-numpy)"; exit 2
fi

OUT=$ROOT/build/same-numbers
mkdir -p build/tmp || exit 2
TREE=$(mktemp -d "$ROOT/build/tmp/same-numbers-rev.XXXXXX") || exit 2
cleanup() {
  git worktree remove --force "$TREE" >/dev/null 2>&1
  rm -rf "$TREE"
  git worktree prune
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
rm -rf "$OUT"
mkdir -p "$OUT/in" || exit 2

# ---- 1. the two builds ------------------------------------------------------------------
short=$(git rev-parse --short "$rev")
dirty=$(git status --porcelain --untracked-files=no | head -n 1)
echo "REV     $short $(git log -1 --format=%s "$rev" | cut -c1-80)"
echo "current $(git rev-parse --short HEAD)${dirty:+ + uncommitted changes} (the working tree $ROOT)"
BINS="build/asrtool build/asrtool-f64 build/test_double"
git worktree add --detach -q "$TREE" "$rev" || { echo "same_numbers: git worktree add failed"; exit 2; }
echo "building $short in $TREE ..."
# shellcheck disable=SC2086
if ! make -C "$TREE" -j2 $BINS >"$OUT/build-rev.log" 2>&1; then
  tail -n 20 "$OUT/build-rev.log"; echo "same_numbers: REV $short does not build (log: $OUT/build-rev.log)"; exit 2
fi
echo "building the working tree ..."
# shellcheck disable=SC2086
if ! make -j2 $BINS >"$OUT/build-cur.log" 2>&1; then
  tail -n 20 "$OUT/build-cur.log"; echo "same_numbers: the working tree does not build (log: $OUT/build-cur.log)"; exit 2
fi

built=$(date +%s)

# ---- 2. the inputs and the cases -------------------------------------------------------
# One case a line: NAME <TAB> PRECISIONS <TAB> asrtool arguments (blank-separated, relative
# to build/same-numbers/, @OUT@ standing for the case's output folder).
cp data/demo.ogg data/models/ctc-contextnet.npz "$OUT/in/" || exit 2
"$PY" - "$OUT" >"$OUT/cases.txt" <<'EOF' || { echo "same_numbers: input generation failed"; exit 2; }
import os, sys, wave
import numpy as np

OUT = sys.argv[1]
IN = os.path.join(OUT, "in")
names = set()
IMPLS = ("naive", "ref", "simd")


def case(name, *args, prec="f32,f64"):
    """One case line; a name is unique, each token has no blank."""
    assert name not in names, name
    names.add(name)
    toks = [str(a) for a in args]
    assert all(t and not any(c.isspace() for c in t) for t in toks), toks
    print(f"{name}\t{prec}\t{' '.join(toks)}")


def arr(name, a, dtype=np.float64):
    """Saves an input (reals as float64: the double build then reads every bit; the float
    build rounds once on reading), returns its path relative to OUT."""
    np.save(os.path.join(IN, name), np.ascontiguousarray(np.asarray(a, dtype=dtype)))
    return "in/" + name


def ints(name, a):
    return arr(name, a, np.int32)


def weights(dirname, w):
    """state_dict-named weights for `asrtool layer`: DIR/<key>.npy."""
    d = os.path.join(IN, dirname)
    os.makedirs(d)
    for k, v in w.items():
        np.save(os.path.join(d, k + ".npy"), np.asarray(v, dtype=np.int64 if k.endswith("tracked") else np.float64))
    return "in/" + dirname


def rnd(rng, *shape, s=0.5):
    return rng.standard_normal(shape) * s


def bn(rng, C):
    return {"weight": 1 + rnd(rng, C, s=0.1), "bias": rnd(rng, C, s=0.1), "running_mean": rnd(rng, C, s=0.2),
            "running_var": 0.5 + rng.random(C), "num_batches_tracked": 7}


def prefixed(prefix, w):
    return {prefix + k: v for k, v in w.items()}


# ---- fbank, decode, resample -----------------------------------------------------------
rng = np.random.default_rng(101)
n = 6400                                     # 0.4 s at 16 kHz
t = np.arange(n) / 16000
x16 = 3000 * np.sin(2 * np.pi * 440 * t) + 700 * rng.standard_normal(n) + 50
x8 = 2000 * np.sin(2 * np.pi * 300 * np.arange(3200) / 8000) + 300 * rng.standard_normal(3200)
quiet = 0.01 * rng.standard_normal(4000)    # log energies below 0: the floors matter
X16, X8, XQ = arr("x16k.npy", x16), arr("x8k.npy", x8), arr("quiet.npy", quiet)
pcm = np.clip(np.round(x16), -32768, 32767).astype("<i2")
with wave.open(os.path.join(IN, "mono.wav"), "wb") as w:
    w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(pcm.tobytes())
stereo = np.stack([pcm, (pcm[::-1] // 2).astype("<i2")], 1)
with wave.open(os.path.join(IN, "stereo.wav"), "wb") as w:
    w.setnchannels(2), w.setsampwidth(2), w.setframerate(16000), w.writeframes(stereo.tobytes())
fb_opts = {
    "default": [],
    "hamming": ["--window-type", "hamming"],
    "hanning": ["--window-type", "hanning"],
    "rectangular": ["--window-type", "rectangular"],
    "blackman": ["--window-type", "blackman", "--blackman-coeff", 0.5],
    "no-snip-edges": ["--snip-edges", "false"],
    "dither-seed3": ["--dither", 1.0, "--seed", 3],
    "energy": ["--use-energy", "true", "--raw-energy", "false", "--energy-floor", 0.5],
    "energy-htk": ["--use-energy", "true", "--htk-compat", "true", "--num-mel-bins", 30],
    "shapes": ["--num-mel-bins", 40, "--frame-length", 20, "--frame-shift", 5, "--round-to-power-of-two", "false",
               "--low-freq", 60, "--high-freq", -400, "--preemphasis-coefficient", 0, "--remove-dc-offset", "false"],
    "linear-magnitude": ["--use-log-fbank", "false", "--use-power", "false"],
    "subtract-mean": ["--subtract-mean", "true", "--snip-edges", "false"],
}
for tag, opts in fb_opts.items():
    for impl in IMPLS:
        case(f"fbank x16k {tag} {impl}", "fbank", "--impl", impl, *opts, X16, "@OUT@/feats.npy")
for impl in IMPLS:
    case(f"fbank x8k sample-frequency-8000 {impl}", "fbank", "--impl", impl, "--sample-frequency", 8000, X8,
         "@OUT@/feats.npy")
    case(f"fbank quiet energy {impl}", "fbank", "--impl", impl, "--use-energy", "true", XQ, "@OUT@/feats.npy")
    case(f"fbank demo.ogg default {impl}", "fbank", "--impl", impl, "in/demo.ogg", "@OUT@/feats.npy")
case("fbank demo.ogg 80-bins", "fbank", "--num-mel-bins", 80, "in/demo.ogg", "@OUT@/feats.npy")
case("fbank mono.wav", "fbank", "in/mono.wav", "@OUT@/feats.npy")
case("fbank stereo.wav mean", "fbank", "in/stereo.wav", "@OUT@/feats.npy")
case("fbank stereo.wav channel-1", "fbank", "--channel", 1, "in/stereo.wav", "@OUT@/feats.npy")
case("decode demo.ogg int16", "decode", "in/demo.ogg", "@OUT@/x.npy")
case("decode demo.ogg unit", "decode", "--scale", "unit", "in/demo.ogg", "@OUT@/x.npy")
case("decode stereo.wav unit channel-0", "decode", "--scale", "unit", "--channel", 0, "in/stereo.wav", "@OUT@/x.npy")
case("resample demo.ogg 8k", "resample", "--new-freq", 8000, "in/demo.ogg", "@OUT@/y.npy")
case("resample x16k 22050 width-4 rolloff-0.9", "resample", "--orig-freq", 16000, "--new-freq", 22050,
     "--lowpass-filter-width", 4, "--rolloff", 0.9, X16, "@OUT@/y.npy")
case("resample x8k 16k", "resample", "--orig-freq", 8000, "--new-freq", 16000, X8, "@OUT@/y.npy")
case("resample x16k 11025 wav", "resample", "--orig-freq", 16000, "--new-freq", 11025, X16, "@OUT@/y.wav")

# ---- CTC -------------------------------------------------------------------------------
rng = np.random.default_rng(202)


def ctc_batch(tag, N, T, V, S, blank, il, tl):
    """Logits (N,T,V), targets (N,S) without blank and without an equal neighbour pair
    except where a repeat is wanted (item 0 repeats one label), lengths."""
    labels = [v for v in range(V) if v != blank]
    tg = np.zeros((N, S), dtype=np.int32)
    for b in range(N):
        tg[b] = rng.choice(labels, S)
    tg[0, 1] = tg[0, 0]                          # a repeat: needs a blank between them
    return (arr(f"ctc-{tag}-x.npy", rnd(rng, N, T, V, s=2.0)), ints(f"ctc-{tag}-t.npy", tg),
            ints(f"ctc-{tag}-il.npy", il), ints(f"ctc-{tag}-tl.npy", tl))


tiny = ctc_batch("tiny", 3, 6, 4, 3, 0, [6, 5, 4], [3, 2, 1])
mid = ctc_batch("mid", 4, 20, 7, 6, 0, [20, 17, 12, 3], [6, 4, 5, 3])    # item 3 infeasible
mid_b = ctc_batch("midb", 4, 20, 7, 6, 6, [20, 17, 12, 9], [6, 4, 5, 0])
for impl in IMPLS:
    for red in ("none", "sum", "mean"):
        case(f"ctc tiny {red} {impl}", "ctc", "--impl", impl, "--reduction", red, *tiny, "@OUT@")
    case(f"ctc tiny logprobs {impl}", "ctc", "--impl", impl, "--logprobs", "--reduction", "sum", *tiny, "@OUT@")
# the literal sum over every alignment refuses this size: the refusal must stay the same too
case("ctc mid naive refused", "ctc", "--impl", "naive", *mid, "@OUT@")
for impl in ("ref", "simd"):
    for red in ("none", "sum", "mean"):
        case(f"ctc mid infeasible {red} {impl}", "ctc", "--impl", impl, "--reduction", red, *mid, "@OUT@")
    case(f"ctc mid zero-infinity {impl}", "ctc", "--impl", impl, "--zero-infinity", *mid, "@OUT@")
    case(f"ctc mid blank-6 {impl}", "ctc", "--impl", impl, "--blank", 6, "--reduction", "none", *mid_b, "@OUT@")
    case(f"ctc mid logprobs {impl}", "ctc", "--impl", impl, "--logprobs", "--reduction", "none", *mid_b[:1],
         *mid[1:], "@OUT@")
dec_x = arr("dec-x.npy", rnd(rng, 3, 15, 6, s=2.5))
dec_il = ints("dec-il.npy", [15, 11, 6])
case("ctc-decode greedy", "ctc-decode", dec_x, dec_il, "@OUT@")
case("ctc-decode greedy blank-2", "ctc-decode", "--blank", 2, dec_x, dec_il, "@OUT@")
case("ctc-decode beam-4", "ctc-decode", "--beam", 4, dec_x, dec_il, "@OUT@")
case("ctc-decode beam-8 prune", "ctc-decode", "--beam", 8, "--prune", -3, "--blank", 5, dec_x, dec_il, "@OUT@")
al_t = ints("align-t.npy", [[1, 2, 2, 4, 3], [5, 1, 3, 0, 0], [2, 2, 2, 0, 0]])
al_tl = ints("align-tl.npy", [5, 3, 3])      # item 2: 3 repeats in 6 frames, feasible (needs 5)
case("ctc-align", "ctc-align", dec_x, al_t, dec_il, al_tl, "@OUT@")
al_t5 = ints("align-t5.npy", [[1, 2, 2, 4, 3], [0, 1, 3, 2, 2], [2, 2, 2, 4, 4]])
al_tl5 = ints("align-tl5.npy", [5, 5, 5])    # item 2 infeasible in 6 frames
case("ctc-align blank-5 infeasible", "ctc-align", "--blank", 5, dec_x, al_t5, dec_il, al_tl5, "@OUT@")

# ---- RNN-T -----------------------------------------------------------------------------
rng = np.random.default_rng(303)


def rnnt_batch(tag, N, T, U, V, blank, Tl, Ul):
    labels = [v for v in range(V) if v != blank % V]
    return (arr(f"rnnt-{tag}-x.npy", rnd(rng, N, T, U + 1, V, s=1.5)),
            ints(f"rnnt-{tag}-y.npy", rng.choice(labels, (N, U))),
            ints(f"rnnt-{tag}-tl.npy", Tl), ints(f"rnnt-{tag}-ul.npy", Ul))


rt_tiny = rnnt_batch("tiny", 3, 4, 2, 5, 2, [4, 3, 2], [2, 1, 2])
rt_mid = rnnt_batch("mid", 3, 9, 4, 8, 0, [9, 6, 4], [4, 2, 3])
rt_last = rnnt_batch("last", 2, 7, 3, 6, -1, [7, 5], [3, 3])
for impl in IMPLS:
    case(f"rnnt tiny blank-2 {impl}", "rnnt", "--impl", impl, "--blank", 2, "--reduction", "none", *rt_tiny, "@OUT@")
for impl in ("ref", "simd"):
    for red in ("none", "sum", "mean"):
        case(f"rnnt mid {red} {impl}", "rnnt", "--impl", impl, "--reduction", red, *rt_mid, "@OUT@")
    case(f"rnnt mid clamp-0.05 {impl}", "rnnt", "--impl", impl, "--clamp", 0.05, *rt_mid, "@OUT@")
    case(f"rnnt blank-minus-1 {impl}", "rnnt", "--impl", impl, "--blank", -1, "--reduction", "sum", *rt_last, "@OUT@")

# ---- layers ----------------------------------------------------------------------------
rng = np.random.default_rng(404)


def layer(name, tag, w, x, impls, *opts, grad):
    """`asrtool layer name` for each tier in impls, with --grad-output G of y's shape (grad)
    so that the backward pass runs too."""
    G = arr(f"g-{name}-{tag}.npy", rnd(rng, *grad, s=1.0))
    for impl in impls:
        case(f"layer {name} {tag} {impl}".replace(" - ", " "), "layer", name, "--weights", w, "--impl", impl,
             "--grad-output", G, *opts, x, "@OUT@")


def lens(tag, L):
    return ints(f"len-{tag}.npy", L)


w = weights("w-linear", {"weight": rnd(rng, 5, 7), "bias": rnd(rng, 5)})
layer("linear", "-", w, arr("x-linear.npy", rnd(rng, 2, 3, 7, s=1)), ("ref", "simd"), grad=(2, 3, 5))
w = weights("w-linear-nobias", {"weight": rnd(rng, 6, 4)})
layer("linear", "no-bias", w, arr("x-linear2.npy", rnd(rng, 5, 4, s=1)), ("ref", "simd"), grad=(5, 6))
w = weights("w-ln", {"weight": 1 + rnd(rng, 9, s=0.1), "bias": rnd(rng, 9, s=0.1)})
x = arr("x-ln.npy", 2 + 3 * rnd(rng, 2, 4, 9, s=1))
layer("layer_norm", "-", w, x, ("simd",), grad=(2, 4, 9))
layer("layer_norm", "eps-1e-3", w, x, ("simd",), "--eps", 1e-3, grad=(2, 4, 9))
w = weights("w-bn", bn(rng, 4))
x = arr("x-bn.npy", 1 + 2 * rnd(rng, 3, 4, 7, s=1))
layer("batch_norm", "eval", w, x, ("simd",), grad=(3, 4, 7))
layer("batch_norm", "train", w, x, ("simd",), "--train", "--momentum", 0.3, grad=(3, 4, 7))
layer("batch_norm", "train-lengths", w, x, ("simd",), "--train", "--lengths", lens("bn", [7, 2, 5]), grad=(3, 4, 7))
layer("batch_norm", "2d-train", w, arr("x-bn2.npy", rnd(rng, 6, 4, s=1)), ("simd",), "--train", "--eps", 1e-3,
      grad=(6, 4))

w = weights("w-conv", {"weight": rnd(rng, 6, 2, 5), "bias": rnd(rng, 6)})     # groups 2: C_in 4
x = arr("x-conv.npy", rnd(rng, 2, 4, 11, s=1))
layer("conv1d", "k5-s2-p2-g2", w, x, IMPLS, "--stride", 2, "--padding", 2, "--groups", 2, grad=(2, 6, 6))
layer("conv1d", "k5-s2-p2-g2-lengths", w, x, IMPLS, "--stride", 2, "--padding", 2, "--groups", 2,
      "--lengths", lens("conv", [11, 6]), grad=(2, 6, 6))
w = weights("w-conv-dw", {"weight": rnd(rng, 6, 1, 3), "bias": rnd(rng, 6)})
layer("conv1d", "depthwise-dilated", w, arr("x-conv-dw.npy", rnd(rng, 2, 6, 10, s=1)), IMPLS, "--padding", 2,
      "--dilation", 2, "--groups", 6, grad=(2, 6, 10))
w = weights("w-dwsep", {"depthwise.weight": rnd(rng, 5, 1, 3), "depthwise.bias": rnd(rng, 5),
                        "pointwise.weight": rnd(rng, 7, 5, 1), "pointwise.bias": rnd(rng, 7)})
x = arr("x-dwsep.npy", rnd(rng, 2, 5, 10, s=1))
layer("dwsep_conv1d", "k3-p1", w, x, IMPLS, "--padding", 1, grad=(2, 7, 10))
layer("dwsep_conv1d", "k3-s2-lengths", w, x, IMPLS, "--stride", 2, "--padding", 1,
      "--lengths", lens("dwsep", [10, 5]), grad=(2, 7, 5))
w = weights("w-se", {"fc1.weight": rnd(rng, 4, 16), "fc1.bias": rnd(rng, 4), "fc2.weight": rnd(rng, 16, 4),
                     "fc2.bias": rnd(rng, 16)})
x = arr("x-se.npy", rnd(rng, 3, 16, 9, s=1))
layer("se", "-", w, x, IMPLS, grad=(3, 16, 9))
layer("se", "lengths", w, x, IMPLS, "--lengths", lens("se", [9, 4, 1]), grad=(3, 16, 9))


def contextnet(rng, C_in, C_out, m, K, residual=True):
    w = {}
    for i in range(m):
        c = C_in if i == 0 else C_out
        w[f"layers.{i}.conv.depthwise.weight"] = rnd(rng, c, 1, K)
        w[f"layers.{i}.conv.pointwise.weight"] = rnd(rng, C_out, c, 1, s=0.4)
        w.update(prefixed(f"layers.{i}.bn.", bn(rng, C_out)))
    R = max(1, C_out // 8)
    w.update({"se.fc1.weight": rnd(rng, R, C_out), "se.fc1.bias": rnd(rng, R), "se.fc2.weight": rnd(rng, C_out, R),
              "se.fc2.bias": rnd(rng, C_out)})
    if residual:
        w["residual.conv.weight"] = rnd(rng, C_out, C_in, 1)
        w.update(prefixed("residual.bn.", bn(rng, C_out)))
    return w


w = weights("w-cn", contextnet(rng, 8, 16, 3, 5))
x = arr("x-cn.npy", rnd(rng, 3, 8, 15, s=1))
layer("contextnet_block", "k5", w, x, ("ref", "simd"), grad=(3, 16, 15))
layer("contextnet_block", "k5-s2-lengths", w, x, ("ref", "simd"), "--stride", 2,
      "--lengths", lens("cn", [15, 8, 3]), grad=(3, 16, 8))
layer("contextnet_block", "k5-s2-lengths-train", w, x, ("ref", "simd"), "--stride", 2, "--train", "--momentum", 0.2,
      "--lengths", lens("cn", [15, 8, 3]), grad=(3, 16, 8))
w = weights("w-cn-nores", contextnet(rng, 8, 16, 1, 3, residual=False))
layer("contextnet_block", "k3-no-residual", w, x, ("ref", "simd"), "--kernel", 3, grad=(3, 16, 15))

w = weights("w-ce", {})
x = arr("x-ce.npy", rnd(rng, 3, 4, 7, s=2))
tg = rng.integers(0, 7, (3, 4))
tg[0, 1] = -100
tg[2, 3] = 2
tgp = arr("t-ce.npy", tg, np.int64)
for red, shape in (("none", (3, 4)), ("sum", ()), ("mean", ())):
    layer("cross_entropy", red, w, x, ("simd",), "--targets", tgp, "--reduction", red, grad=shape)
tg[tg == -100] = 2
layer("cross_entropy", "smoothing-ignore-2", w, x, ("simd",), "--targets", arr("t-ce2.npy", tg, np.int64),
      "--label-smoothing", 0.1, "--ignore-index", 2, grad=())


def lstm_w(rng, I, H, bidirectional):
    w = {}
    for sfx in ("", "_reverse") if bidirectional else ("",):
        w.update({f"weight_ih_l0{sfx}": rnd(rng, 4 * H, I), f"weight_hh_l0{sfx}": rnd(rng, 4 * H, H),
                  f"bias_ih_l0{sfx}": rnd(rng, 4 * H), f"bias_hh_l0{sfx}": rnd(rng, 4 * H)})
    return w


x = arr("x-lstm.npy", rnd(rng, 3, 7, 5, s=1))
L = lens("lstm", [7, 3, 5])
layer("lstm", "lengths", weights("w-lstm", lstm_w(rng, 5, 4, False)), x, IMPLS, "--hidden", 4, "--lengths", L,
      grad=(3, 7, 4))
layer("lstm", "bidirectional-lengths", weights("w-blstm", lstm_w(rng, 5, 3, True)), x, IMPLS, "--hidden", 3,
      "--bidirectional", "--lengths", L, grad=(3, 7, 6))
x = arr("x-plstm.npy", rnd(rng, 3, 9, 3, s=1))
layer("lstm", "pyramidal-bidirectional", weights("w-plstm", lstm_w(rng, 6, 3, True)), x, IMPLS, "--hidden", 3,
      "--bidirectional", "--pyramidal", "--lengths", lens("plstm", [9, 4, 7]), grad=(3, 4, 6))

N, T, E, Dq, A, C, Fw = 3, 7, 5, 4, 6, 3, 2
enc = arr("x-att.npy", rnd(rng, N, T, E, s=1))
L = lens("att", [7, 4, 5])
valid = (np.arange(T)[None] < np.array([7, 4, 5])[:, None])
prev = arr("att-prev.npy", rng.random((N, T)) * valid)
ga = arr("att-ga.npy", rnd(rng, N, T, s=1))
add = {"mlp_enc.weight": rnd(rng, A, E), "mlp_enc.bias": rnd(rng, A), "mlp_dec.weight": rnd(rng, A, Dq),
       "gvec.weight": rnd(rng, 1, A), "gvec.bias": rnd(rng, 1)}
loc = dict(add, **{"mlp_att.weight": rnd(rng, A, C), "loc_conv.weight": rnd(rng, C, 1, 1, 2 * Fw + 1)})
layer("attention", "dot", weights("w-att-dot", {}), enc, IMPLS, "--type", "dot", "--scaling", 1, "--lengths", L,
      "--query", arr("att-q-dot.npy", rnd(rng, N, E, s=1)), "--grad-alpha", ga, grad=(N, E))
q = arr("att-q.npy", rnd(rng, N, Dq, s=1))
layer("attention", "add", weights("w-att-add", add), enc, IMPLS, "--type", "add", "--lengths", L, "--query", q,
      "--grad-alpha", ga, grad=(N, E))
layer("attention", "loc", weights("w-att-loc", loc), enc, IMPLS, "--type", "loc", "--lengths", L, "--query", q,
      "--prev", prev, "--grad-alpha", ga, grad=(N, E))
layer("attention", "loc-first-step", weights("w-att-loc1", loc), enc, IMPLS, "--type", "loc", "--lengths", L,
      "--query", q, grad=(N, E))

N, T, F, D = 3, 23, 11, 6
F2 = ((F - 1) // 2 - 1) // 2
T2 = ((T - 1) // 2 - 1) // 2
w = weights("w-sub", {"conv.0.weight": rnd(rng, D, 1, 3, 3), "conv.0.bias": rnd(rng, D),
                      "conv.2.weight": rnd(rng, D, D, 3, 3, s=0.3), "conv.2.bias": rnd(rng, D),
                      "out.0.weight": rnd(rng, D, D * F2, s=0.3), "out.0.bias": rnd(rng, D)})
x = arr("x-sub.npy", rnd(rng, N, T, F, s=1))
for rel in ("latest", "legacy"):
    layer("conv2d_subsampling", f"{rel}-lengths", w, x, IMPLS, "--odim", D, "--rel-pos", rel,
          "--lengths", lens("sub", [23, 15, 9]), grad=(N, T2, D))


def mhsa(rng, D, H, prefix=""):
    w = {}
    for k in ("q", "k", "v", "out"):
        w[f"linear_{k}.weight"], w[f"linear_{k}.bias"] = rnd(rng, D, D), rnd(rng, D)
    w["linear_pos.weight"] = rnd(rng, D, D)
    w["pos_bias_u"], w["pos_bias_v"] = rnd(rng, H, D // H), rnd(rng, H, D // H)
    return prefixed(prefix, w)


x = arr("x-mhsa.npy", rnd(rng, 3, 9, 12, s=1))
x_small = arr("x-mhsa-small.npy", rnd(rng, 2, 6, 8, s=1))
for rel in ("latest", "legacy"):
    w = weights(f"w-mhsa-{rel}", mhsa(rng, 12, 3))
    layer("rel_pos_mhsa", f"{rel}-lengths", w, x, ("ref", "simd"), "--heads", 3, "--rel-pos", rel,
          "--lengths", lens("mhsa", [9, 6, 1]), grad=(3, 9, 12))
    w = weights(f"w-mhsa-small-{rel}", mhsa(rng, 8, 2))
    layer("rel_pos_mhsa", f"{rel}-small-lengths", w, x_small, IMPLS, "--heads", 2, "--rel-pos", rel,
          "--lengths", lens("mhsa-small", [6, 4]), grad=(2, 6, 8))


def conformer(rng, D, H, U, K):
    w = mhsa(rng, D, H, "self_attn.")
    for ff in ("feed_forward", "feed_forward_macaron"):
        w.update({f"{ff}.w_1.weight": rnd(rng, U, D, s=0.4), f"{ff}.w_1.bias": rnd(rng, U, s=0.4),
                  f"{ff}.w_2.weight": rnd(rng, D, U, s=0.4), f"{ff}.w_2.bias": rnd(rng, D, s=0.4)})
    w.update({"conv_module.pointwise_conv1.weight": rnd(rng, 2 * D, D, 1, s=0.4),
              "conv_module.pointwise_conv1.bias": rnd(rng, 2 * D, s=0.4),
              "conv_module.depthwise_conv.weight": rnd(rng, D, 1, K, s=0.4),
              "conv_module.depthwise_conv.bias": rnd(rng, D, s=0.4),
              "conv_module.pointwise_conv2.weight": rnd(rng, D, D, 1, s=0.4),
              "conv_module.pointwise_conv2.bias": rnd(rng, D, s=0.4)})
    w.update(prefixed("conv_module.norm.", bn(rng, D)))
    for nm in ("norm_ff", "norm_mha", "norm_ff_macaron", "norm_conv", "norm_final"):
        w[f"{nm}.weight"], w[f"{nm}.bias"] = 1 + rnd(rng, D, s=0.1), rnd(rng, D, s=0.1)
    return w


x = arr("x-conformer.npy", rnd(rng, 3, 11, 12, s=1))
L = lens("conformer", [11, 7, 3])
for rel in ("latest", "legacy"):
    w = weights(f"w-conformer-{rel}", conformer(rng, 12, 3, 20, 5))
    layer("conformer_block", f"{rel}-lengths", w, x, ("ref", "simd"), "--heads", 3, "--kernel", 5, "--rel-pos", rel,
          "--lengths", L, grad=(3, 11, 12))
    layer("conformer_block", f"{rel}-train", w, x, ("ref", "simd"), "--heads", 3, "--kernel", 5, "--rel-pos", rel,
          "--train", "--momentum", 0.2, grad=(3, 11, 12))

# ---- optimizers ------------------------------------------------------------------------
rng = np.random.default_rng(505)
P, Gs = arr("optim-p.npy", rnd(rng, 3, 4, s=1)), arr("optim-g.npy", rnd(rng, 8, 3, 4, s=2))
for tag, opts in {
    "sgd": ["--optimizer", "sgd", "--lr", 0.1],
    "sgd-momentum-dampening-wd": ["--optimizer", "sgd", "--lr", 0.05, "--momentum", 0.9, "--dampening", 0.1,
                                  "--weight-decay", 0.01],
    "sgd-nesterov": ["--optimizer", "sgd", "--lr", 0.05, "--momentum", 0.8, "--nesterov"],
    "adam": ["--optimizer", "adam", "--lr", 0.01],
    "adam-betas-eps-wd": ["--optimizer", "adam", "--lr", 0.02, "--beta1", 0.8, "--beta2", 0.99, "--eps", 1e-3,
                          "--weight-decay", 0.1],
    "adam-amsgrad": ["--optimizer", "adam", "--lr", 0.01, "--amsgrad"],
    "adamw": ["--optimizer", "adamw", "--lr", 0.05, "--weight-decay", 0.3, "--eps", 1e-4],
    "adam-noam": ["--optimizer", "adam", "--lr", 5.0, "--beta2", 0.98, "--eps", 1e-9, "--schedule", "noam",
                  "--warmup", 4, "--d-model", 16],
    "sgd-warmup": ["--optimizer", "sgd", "--lr", 0.1, "--schedule", "warmup", "--warmup", 3],
    "adamw-linear": ["--optimizer", "adamw", "--lr", 0.01, "--schedule", "linear", "--warmup", 3, "--total", 8],
    "sgd-clip-2": ["--optimizer", "sgd", "--lr", 0.1, "--momentum", 0.9, "--clip-norm", 1.5],
    "sgd-clip-inf": ["--optimizer", "sgd", "--lr", 0.1, "--clip-norm", 2, "--norm-type", "inf"],
}.items():
    case(f"optim {tag}", "optim", *opts, P, Gs, "@OUT@")

# ---- quantizers ------------------------------------------------------------------------
rng = np.random.default_rng(606)
lg = arr("gumbel-l.npy", rnd(rng, 8, 11, s=2))
u = arr("gumbel-u.npy", rng.uniform(1e-6, 1 - 1e-6, (8, 11)))
g = arr("gumbel-g.npy", rnd(rng, 8, 11, s=1))
lg3 = arr("gumbel-l3.npy", rnd(rng, 2, 3, 7, s=2))
u3 = arr("gumbel-u3.npy", rng.uniform(1e-6, 1 - 1e-6, (2, 3, 7)))
g3 = arr("gumbel-g3.npy", rnd(rng, 2, 3, 7, s=1))
for impl in IMPLS:
    case(f"gumbel soft {impl}", "gumbel", "--impl", impl, lg, u, "--grad-output", g, "@OUT@")
    case(f"gumbel soft tau-0.5 3d {impl}", "gumbel", "--impl", impl, "--tau", 0.5, lg3, u3, "--grad-output", g3,
         "@OUT@")
    case(f"gumbel hard tau-2 {impl}", "gumbel", "--impl", impl, "--hard", "--tau", 2, lg, u, "--grad-output", g,
         "@OUT@")
    case(f"gumbel hard forward-only {impl}", "gumbel", "--impl", impl, "--hard", lg, u, "@OUT@")
z = arr("vq-z.npy", rnd(rng, 10, 8, s=1))
gz = arr("vq-g.npy", rnd(rng, 10, 8, s=1))
cb1 = arr("vq-cb1.npy", rnd(rng, 5, 8, s=1))
cb2 = arr("vq-cb2.npy", rnd(rng, 6, 4, s=1))
cbg = arr("vq-cbg.npy", rnd(rng, 2, 5, 4, s=1))
for impl in IMPLS:
    case(f"vq groups-1 {impl}", "vq", "--impl", impl, z, cb1, "--grad-output", gz, "@OUT@")
    case(f"vq groups-2 shared gamma-0.5 {impl}", "vq", "--impl", impl, "--groups", 2, "--gamma", 0.5, z, cb2,
         "--grad-output", gz, "@OUT@")
    case(f"vq groups-2 per-group {impl}", "vq", "--impl", impl, "--groups", 2, z, cbg, "--grad-output", gz, "@OUT@")
    case(f"vq forward-only {impl}", "vq", "--impl", impl, z, cb1, "@OUT@")

# ---- the bundled model, info -----------------------------------------------------------
rng = np.random.default_rng(707)
feats = rnd(rng, 2, 40, 80, s=1)
feats[1, 27:] = 0
fp, flp = arr("model-feats.npy", feats), ints("model-len.npy", [40, 27])
yp, ylp = ints("model-y.npy", [[3, 8, 13, 4], [5, 9, 0, 0]]), ints("model-yl.npy", [4, 2])
case("model ctc-contextnet", "model", "--model", "in/ctc-contextnet.npz", fp, flp, "@OUT@")
case("model ctc-contextnet targets", "model", "--model", "in/ctc-contextnet.npz", "--targets", yp,
     "--target-lengths", ylp, fp, flp, "@OUT@")
case("info", "info", X16, "in/ctc-contextnet.npz", "in/x-conformer.npy", tgp)
EOF

# gradcheck: every NAME REV knows (double build only: the float build hands it over).
names_of() { "$1" gradcheck --help 2>&1 | awk 'f && NF { print $1 } /NAME is one of/ { f = 1 }'; }
names_of "$TREE/build/asrtool-f64" >"$OUT/gradcheck-rev.txt"
names_of "$ROOT/build/asrtool-f64" >"$OUT/gradcheck-cur.txt"
while read -r name; do
  printf 'gradcheck %s\tf64\tgradcheck %s\n' "$name" "$name" >>"$OUT/cases.txt"
done <"$OUT/gradcheck-rev.txt"
new_names=$(grep -vxF -f "$OUT/gradcheck-rev.txt" "$OUT/gradcheck-cur.txt" | tr '\n' ' ')
# commands and layer names of REV that no case runs (bench only times; a later REV may add
# some): listed at the end, so that the case list above can follow
"$TREE/build/asrtool" --help 2>&1 | awk '/^  [a-z]/ { print $1 }' | grep -vx bench >"$OUT/commands-rev.txt"
"$TREE/build/asrtool" layer --help 2>&1 | awk 'f && NF { print "layer " $1 } /NAME is one of/ { f = 1 }' \
  >>"$OUT/commands-rev.txt"
cut -f3 "$OUT/cases.txt" | awk '{ print $1; if ($1 == "layer") print $1 " " $2 }' | sort -u >"$OUT/commands-run.txt"
uncovered=$(grep -vxF -f "$OUT/commands-run.txt" "$OUT/commands-rev.txt" | tr '\n' ',' | sed 's/,$//; s/,/, /g')

# ---- 3. run every case with both revisions ---------------------------------------------
cd "$OUT" || exit 2
echo "running $(wc -l <cases.txt) cases x 2 precisions where they apply, with both builds ..."
tab=$(printf '\t')
while IFS=$tab read -r name precs args; do
  id=$(printf '%s' "$name" | tr ' /' '__')
  for p in f32 f64; do
    case ",$precs," in *",$p,"*) ;; *) continue ;; esac
    for side in rev cur; do
      if [ $side = rev ]; then top=$TREE; else top=$ROOT; fi
      if [ $p = f32 ]; then bin=$top/build/asrtool; else bin=$top/build/asrtool-f64; fi
      d=$side/$p/$id
      mkdir -p "$d/out"
      # shellcheck disable=SC2046
      set -- $(printf '%s' "$args" | sed "s#@OUT@#$d/out#g")
      "$bin" "$@" >"$d/stdout" 2>"$d/stderr"
      echo $? >"$d/rc"
    done
    printf '%s\t%s\t%s\n' "$name" "$p" "$id" >>runs.txt
  done
done <cases.txt

# build/test_double of each revision, from its own tree (the tests read data/ there), with
# ../shared/data made absolute so that both find it (or both skip the tests that need it).
shared=${ASR_SHARED_DATA:-$ROOT/../shared/data}
[ -d "$shared" ] && shared=$(cd "$shared" && pwd)
for side in rev cur; do
  if [ $side = rev ]; then top=$TREE; else top=$ROOT; fi
  mkdir -p "$side/test_double"
  (cd "$top" && ASR_SHARED_DATA=$shared build/test_double >"$OUT/$side/test_double/stdout.raw" 2>&1)
  echo $? >"$side/test_double/rc"
  # a timing ("12 ms", "3.1s)") would differ from run to run: such lines are dropped
  grep -Ev '[0-9] ?(ms|us|ns|s)([^A-Za-z0-9]|$)' "$side/test_double/stdout.raw" >"$side/test_double/stdout"
done

ran=$(date +%s)

# ---- 4. compare ------------------------------------------------------------------------
# describe A B: one line saying how run folder A (REV) and B (current) differ.
describe() {
  "$PY" - "$1" "$2" <<'EOF'
import os, sys
import numpy as np

a, b = sys.argv[1], sys.argv[2]


def text(p):
    try:
        with open(p, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def first_line_diff(x, y):
    xs, ys = (x or "").splitlines(), (y or "").splitlines()
    for i in range(max(len(xs), len(ys))):
        u = xs[i] if i < len(xs) else "(none)"
        v = ys[i] if i < len(ys) else "(none)"
        if u != v:
            return f"line {i + 1}: '{u.strip()}' -> '{v.strip()}'"
    return "same lines"


def npy_diff(p, q):
    try:
        x, y = np.load(p), np.load(q)
    except Exception as e:                    # not an .npy we can read: say so
        return f"unreadable ({e})"
    if x.dtype != y.dtype or x.shape != y.shape:
        return f"{x.dtype}{x.shape} -> {y.dtype}{y.shape}"
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    bad = ~((xf == yf) | (np.isnan(xf) & np.isnan(yf)))
    if not bad.any():                         # equal values, different bytes (-0 / +0, NaN payload)
        return "same values, different bytes (signed zero or NaN payload)"
    i = np.unravel_index(int(np.flatnonzero(bad)[0]), x.shape) if x.ndim else ()
    with np.errstate(invalid="ignore"):
        d = np.abs(xf - yf)[bad]
    fin = d[np.isfinite(d)]
    worst = f"max |diff| {fin.max():.3g}" if fin.size else "non-finite"
    return (f"{int(bad.sum())} of {x.size} values differ, {worst}; first at {tuple(int(v) for v in i)}: "
            f"{xf[i]!r} -> {yf[i]!r}")


rc_a = (text(os.path.join(a, "rc")) or "?").strip()
rc_b = (text(os.path.join(b, "rc")) or "?").strip()
if rc_a != rc_b:
    err = text(os.path.join(a if rc_a != "0" else b, "stderr")) or ""
    print(f"exit {rc_a} in REV, {rc_b} in current" + (f": {err.strip().splitlines()[0]}" if err.strip() else ""))
    sys.exit(0)
parts = []
for f in ("stdout", "stderr"):
    x, y = text(os.path.join(a, f)), text(os.path.join(b, f))
    if x != y:
        parts.append(f"{f} {first_line_diff(x, y)}")


def files(d):
    out = set()
    for top, _, fs in os.walk(os.path.join(d, "out")):
        out.update(os.path.relpath(os.path.join(top, f), os.path.join(d, "out")) for f in fs)
    return out


fa, fb = files(a), files(b)
for f in sorted(fa - fb):
    parts.append(f"{f} only in REV")
for f in sorted(fb - fa):
    parts.append(f"{f} only in current")
for f in sorted(fa & fb):
    p, q = os.path.join(a, "out", f), os.path.join(b, "out", f)
    with open(p, "rb") as u, open(q, "rb") as v:
        if u.read() == v.read():
            continue
    parts.append(f"{f}: " + (npy_diff(p, q) if f.endswith(".npy") else "bytes differ"))
more = f" (+{len(parts) - 1} more: {', '.join(s.split(':')[0] for s in parts[1:4])}{', ...' if len(parts) > 4 else ''})" \
    if len(parts) > 1 else ""
print((parts[0] if parts else "?") + more)
EOF
}

# same_run A B: 0 when the two run folders hold the same exit status, stdout, stderr and
# output files, byte for byte.
same_run() {
  cmp -s "$1/rc" "$2/rc" && cmp -s "$1/stdout" "$2/stdout" && cmp -s "$1/stderr" "$2/stderr" || return 1
  (cd "$1/out" && find . -type f | sort) >"$OUT/files-a.txt"
  (cd "$2/out" && find . -type f | sort) >"$OUT/files-b.txt"
  cmp -s "$OUT/files-a.txt" "$OUT/files-b.txt" || return 1
  while read -r f; do
    cmp -s "$1/out/$f" "$2/out/$f" || return 1
  done <"$OUT/files-a.txt"
  return 0
}

nsame=0; ndiff=0
while IFS=$tab read -r name p id; do
  a=rev/$p/$id; b=cur/$p/$id
  rc=$(cat "$a/rc")
  if same_run "$a" "$b"; then
    case $rc in
      0) echo "[same] $name $p" ;;
      1 | 2) echo "[same] $name $p (exit $rc in both: $(head -n 1 "$a/stderr"))" ;;
      *) echo "[DIFF] $name $p: crashed (exit $rc) in both revisions"; ndiff=$((ndiff + 1)); continue ;;
    esac
    nsame=$((nsame + 1))
  else
    echo "[DIFF] $name $p: $(describe "$a" "$b")"
    ndiff=$((ndiff + 1))
  fi
done <runs.txt

# test_double: the line of every test both revisions run must be the same; a test only in
# the working tree (added by the change) is listed, a test only in REV counts as a difference.
td=$("$PY" - rev/test_double cur/test_double <<'EOF'
import re, sys


def read(d):
    with open(d + "/stdout", encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    with open(d + "/stdout.raw", encoding="utf-8", errors="replace") as f:
        dropped = len(f.read().splitlines()) - len(lines)
    with open(d + "/rc") as f:
        rc = f.read().strip()
    tests, other = {}, []
    for ln in lines:
        m = re.match(r"^\[[A-Z ]{4}\] ([^: ]+)", ln)
        if m:
            tests[m.group(1)] = ln
        elif not re.match(r"^\d+ passed, \d+ failed", ln):
            other.append(ln)
    return rc, tests, other, dropped


rc_a, ta, oa, da = read(sys.argv[1])
rc_b, tb, ob, db = read(sys.argv[2])
bad = []
if rc_a != rc_b:
    bad.append(f"exit {rc_a} in REV, {rc_b} in current")
if oa != ob:
    bad.append("other lines differ: " + "; ".join(sorted(set(oa) ^ set(ob)))[:200])
for k in ta:
    if k in tb and ta[k] != tb[k]:
        bad.append(f"'{ta[k]}' -> '{tb[k]}'")
gone = [k for k in ta if k not in tb]
if gone:
    bad.append("only in REV: " + ", ".join(gone))
new = [k for k in tb if k not in ta]
note = f"{sum(k in tb for k in ta)} tests in both"
if new:
    note += f"; {len(new)} only in current (not compared): " + ", ".join(new)
if da or db:
    note += f"; {da}/{db} timing lines dropped"
if bad:
    print(f"DIFF {len(bad)} differences, first: {bad[0]} ({note})")
else:
    print(f"same {note}")
EOF
)
case $td in
  same*) echo "[same] test_double f64 (${td#same })"; nsame=$((nsame + 1)) ;;
  *) echo "[DIFF] test_double f64: ${td#DIFF }"; ndiff=$((ndiff + 1)) ;;
esac

[ -n "$new_names" ] && echo "note: gradcheck names only in the working tree (not compared): $new_names"
[ -n "$uncovered" ] && echo "note: no case runs these commands of REV: $uncovered"
echo "builds $((built - start))s, runs $((ran - built))s, comparison $(($(date +%s) - ran))s; outputs in build/same-numbers/"
echo "$nsame same, $ndiff differ  (REV $short against the working tree)"
[ "$ndiff" = 0 ]
