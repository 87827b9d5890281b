#!/bin/sh
# examples/assignments/conv_se/make_refs.sh OUTDIR - the conv_se assignment's reference arrays,
# made by asrtool (the double build, build/asrtool-f64) from the inputs in data/course/ (made
# by data/course/make_course.py): what a lecturer hands out and what the grader reads.
#   OUTDIR/conv_*.npy, se_*.npy   the inputs (data/course/make_course.py says what each is)
#   OUTDIR/weights/{dw,pw,se}/    the same weights under the names asrtool layer reads
#   OUTDIR/dw/y.npy               h, the depthwise conv of conv_x (N,C,T): K 3, padding 2,
#                                 dilation 2, stride 1, lengths conv_lengths
#   OUTDIR/pw/                    y (N,C_out,T), the pointwise conv of h; with dL/dy =
#                                 conv_grad_y: grad_x (dL/dh), grad_weight, grad_bias
#   OUTDIR/dw_back/               the depthwise conv's gradients from dL/dh = pw/grad_x.npy:
#                                 grad_x (dL/dx), grad_weight, grad_bias
#   OUTDIR/dw2/                   the depthwise conv's second configuration: stride 2,
#                                 padding 1, dilation 1 (T_out 4): y, and from dL/dh =
#                                 conv_grad_h2: grad_x, grad_weight, grad_bias
#   OUTDIR/se/                    y of SE on se_x (lengths se_lengths); with dL/dy = se_grad_y:
#                                 grad_x, grad_fc1.weight, grad_fc1.bias, grad_fc2.weight,
#                                 grad_fc2.bias
# The gradients are asrtool's from zero; the grader pre-fills the student's buffers and
# compares the increments (the functions accumulate, +=).
set -eu
out=${1:?usage: make_refs.sh OUTDIR}
tool=build/asrtool-f64
in=data/course
mkdir -p "$out/weights/dw" "$out/weights/pw" "$out/weights/se"
for f in conv_x conv_dw_weight conv_dw_bias conv_pw_weight conv_pw_bias conv_grad_y conv_grad_h2 conv_lengths \
         se_x se_fc1_weight se_fc1_bias se_fc2_weight se_fc2_bias se_grad_y se_lengths; do
  cp "$in/$f.npy" "$out/"
done
cp $in/conv_dw_weight.npy "$out/weights/dw/weight.npy"
cp $in/conv_dw_bias.npy "$out/weights/dw/bias.npy"
cp $in/conv_pw_weight.npy "$out/weights/pw/weight.npy"
cp $in/conv_pw_bias.npy "$out/weights/pw/bias.npy"
for k in fc1.weight fc1.bias fc2.weight fc2.bias; do
  cp "$in/se_$(echo $k | tr . _).npy" "$out/weights/se/$k.npy"
done
# the depthwise conv: groups = C = 4 (conv_x's channels), "same" padding P = D (K-1)/2
dw="--groups 4 --padding 2 --dilation 2 --lengths $in/conv_lengths.npy"
$tool layer conv1d --weights "$out/weights/dw" $dw $in/conv_x.npy "$out/dw"
$tool layer conv1d --weights "$out/weights/pw" --lengths $in/conv_lengths.npy --grad-output $in/conv_grad_y.npy \
  "$out/dw/y.npy" "$out/pw"
$tool layer conv1d --weights "$out/weights/dw" $dw --grad-output "$out/pw/grad_x.npy" $in/conv_x.npy "$out/dw_back"
$tool layer conv1d --weights "$out/weights/dw" --groups 4 --stride 2 --padding 1 --lengths $in/conv_lengths.npy \
  --grad-output $in/conv_grad_h2.npy $in/conv_x.npy "$out/dw2"
$tool layer se --weights "$out/weights/se" --lengths $in/se_lengths.npy --grad-output $in/se_grad_y.npy \
  $in/se_x.npy "$out/se"
