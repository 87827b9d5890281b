# asr.h - build, test, demo, bench.
#
#   make            the examples and build/asrtool
#   make demo       the main job on the bundled data (see README.md)
#   make test       the C test runner in every configuration (see below), then make docs-check
#                   and tests/programs.py (the programs on their files; error paths under ASan)
#   make san-programs  build/san/: asrtool, train, transcribe, posteriorgram, pretrain, units, bert with ASan
#                   + UBSan
#   make docs-check the docs against the code: tier table, doc blocks, citations, equation
#                   numbers, the docs' commands (tests/docs_check.py, no torch needed)
#   make test-torch live comparisons with PyTorch / torchaudio (tests/torch/)
#   make test-arm   the C test runner cross-compiled for aarch64 (NEON), run under qemu-aarch64
#   make bench      naive / ref / fast / PyTorch timings side by side
#   make fuzz       bounded libFuzzer runs of the file readers (tests/fuzz/)
#   make grade A=ctc|rnnt|tiny_ctc|fbank|conv_se|relpos|vq STUDENT=path.c [DEBUG=1]  a course assignment graded
#                   (examples/assignments/)
#   make handout A=ctc|rnnt|...  build/handout/A/: the handout, stub and asr.h without A's answers
#   make same-numbers [REV=a64d765]  asrtool's outputs, bit for bit, against revision REV's
#
# Missing Debian packages are installed with apt-get when we are root and apt-get exists;
# otherwise the build stops and prints the one command to run.

CC      ?= cc
ifeq ($(origin CC),default)
CC      := gcc
endif
CXX     ?= g++
CLANG   := $(shell command -v clang 2>/dev/null)
PYTHON  := /usr/bin/python3
# never -ffast-math / -Ofast: log(0) = -inf and NaN checks must survive
OPT     := -O2 -g
WARN    := -std=c99 -Wall -Wextra -Wpedantic -Werror
CXXWARN := -std=c++11 -Wall -Wextra -Werror
# SIMD: AVX2+FMA when this CPU has them (the unsuffixed functions then use them), and
# AVX-512 F/BW/DQ/VL when it has those too (the GEMM's AVX-512 micro-kernel)
HAS_FLAGS = $(shell for f in $(1); do grep -qw $$f /proc/cpuinfo 2>/dev/null || exit 0; done; echo yes)
SIMD_AVX2 := $(if $(call HAS_FLAGS,avx2 fma),-mavx2 -mfma)
SIMD    := $(strip $(SIMD_AVX2) $(if $(SIMD_AVX2),$(if $(call HAS_FLAGS,avx512f avx512bw avx512dq avx512vl),-mavx512f -mavx512bw -mavx512dq -mavx512vl)))
LIBS    := -lstb -lm
B       := build

HDR     := asr.h
TEST_SRC := tests/test_asr.c $(wildcard tests/test_*.c) tests/test_util.h $(HDR)
# every program that writes files checks its outputs against its inputs (examples/outpath.h)
OUTPATH_SRC := examples/outpath.c examples/outpath.h
ASRTOOL_SRC := $(wildcard examples/asrtool/*.c) examples/asrtool/asrtool.h $(OUTPATH_SRC)
EXAMPLES := $(B)/asrtool $(B)/asrtool-f64 $(B)/hello_ctc
# each component adds its example programs under its own line:
# features
EXAMPLES += $(B)/fbank_png

# ctc
EXAMPLES += $(B)/ctc_align

# rnnt
EXAMPLES += $(B)/rnnt_lattice

# layers

# quantizers
EXAMPLES += $(B)/vq_toy

# wav2vec / vq-wav2vec pretraining
EXAMPLES += $(B)/pretrain $(B)/units $(B)/bert

# training
EXAMPLES += $(B)/train $(B)/transcribe $(B)/posteriorgram


.PHONY: all deps torch-deps demo test test-builds san-programs docs-check test-torch test-arm bench fuzz clean pretrained pretrained-attention eval same-numbers grade handout
all: $(EXAMPLES)

# ---- dependencies from Debian's archive -------------------------------------------
STB_HDR := /usr/include/stb/stb_vorbis.h
define apt_install
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages: $(1)"; \
	  (apt-get install -y -q $(1) || (apt-get update -q && apt-get install -y -q $(1))) >$(B)/apt.log 2>&1 \
	    || { tail -20 $(B)/apt.log; echo "apt-get failed: run  sudo apt-get install $(1)"; exit 1; }; \
	else echo "missing Debian packages: run  sudo apt-get install $(1)"; exit 1; fi
endef

$(B)/.stamp:
	@mkdir -p $(B) $(B)/tmp
	@touch $@

deps: $(B)/.deps-stb
$(B)/.deps-stb: | $(B)/.stamp
	@test -f $(STB_HDR) || { $(MAKE) --no-print-directory _install PKGS="libstb-dev"; }
	@test -f $(STB_HDR)
	@touch $@

torch-deps: $(B)/.deps-torch
$(B)/.deps-torch: | $(B)/.stamp
	@$(PYTHON) -c "import numpy, torch, torchaudio" 2>/dev/null || \
	  { $(MAKE) --no-print-directory _install PKGS="python3-numpy python3-torch python3-torchaudio"; }
	@$(PYTHON) -c "import numpy, torch, torchaudio"
	@touch $@

.PHONY: _install
_install:
	$(call apt_install,$(PKGS))

# ---- the library objects and the examples -------------------------------------------
$(B)/asr_impl.o: examples/asr_impl.c $(HDR) | $(B)/.deps-stb
	$(CC) $(WARN) $(OPT) $(SIMD) -c $< -o $@

$(B)/asrtool: $(ASRTOOL_SRC) $(B)/asr_impl.o
	$(CC) $(WARN) $(OPT) $(SIMD) $(filter %.c,$^) $(B)/asr_impl.o -o $@ $(LIBS)

# the same program with ASR_REAL=double: `asrtool gradcheck` hands over to it
$(B)/asr_impl_f64.o: examples/asr_impl.c $(HDR) | $(B)/.deps-stb
	$(CC) $(WARN) $(OPT) $(SIMD) -DASR_REAL=double -c $< -o $@
$(B)/asrtool-f64: $(ASRTOOL_SRC) $(B)/asr_impl_f64.o
	$(CC) $(WARN) $(OPT) $(SIMD) -DASR_REAL=double $(filter %.c,$^) $(B)/asr_impl_f64.o -o $@ $(LIBS)

# train, transcribe, posteriorgram, pretrain, units and bert share examples/recognizer/asrdata.c
RECOGNIZER_SRC := examples/recognizer/asrdata.c examples/recognizer/asrdata.h $(OUTPATH_SRC)
$(B)/transcribe $(B)/posteriorgram $(B)/pretrain $(B)/units $(B)/bert: $(B)/%: examples/recognizer/%.c $(RECOGNIZER_SRC) $(B)/asr_impl.o
	$(CC) $(WARN) $(OPT) $(SIMD) $< $(filter %.c,$(RECOGNIZER_SRC)) $(B)/asr_impl.o -o $@ $(LIBS)
# train with ASR_THREADS and OpenMP, for --threads N (1 by default; the bits do not depend on N)
$(B)/train: examples/recognizer/train.c $(RECOGNIZER_SRC) $(B)/asr_impl_omp.o
	$(CC) $(WARN) $(OPT) $(SIMD) $(OMP) $< $(filter %.c,$(RECOGNIZER_SRC)) $(B)/asr_impl_omp.o -o $@ $(LIBS)

# hello_ctc is the README's example: one file that defines ASR_IMPLEMENTATION itself
$(B)/hello_ctc: examples/hello_ctc.c $(HDR) | $(B)/.stamp
	$(CC) $(WARN) $(OPT) $(SIMD) $< -o $@ -lm

$(B)/%: examples/%.c $(B)/asr_impl.o $(HDR) $(OUTPATH_SRC)
	$(CC) $(WARN) $(OPT) $(SIMD) $< examples/outpath.c $(B)/asr_impl.o -o $@ $(LIBS)

# ---- make test: the runner in every configuration -----------------------------------
# gcc and clang as C99 with all warnings as errors; ASR_REAL=double; the header as C++11;
# ASR_STATIC; the implementation in its own translation unit; ASR_NO_SIMD (the scalar
# fallbacks of the unsuffixed entry points, as on a machine without AVX2); ASan + UBSan.
TEST_BUILDS := $(B)/test_gcc $(B)/test_double $(B)/test_cxx $(B)/test_static $(B)/test_sep \
  $(B)/test_nosimd
ifneq ($(CLANG),)
TEST_BUILDS += $(B)/test_clang $(B)/test_asan
SAN_CC := clang
else
TEST_BUILDS += $(B)/test_asan
SAN_CC := gcc
endif
TDEF := -DASR_USE_STB_VORBIS
# on an AVX-512 machine, one build without it: the AVX2 kernels other CPUs run
ifneq ($(SIMD),$(SIMD_AVX2))
TEST_BUILDS += $(B)/test_avx2
endif
# ASR_THREADS with OpenMP: every test on threads, and the GEMM's bits against one thread
TEST_BUILDS += $(B)/test_threads
OMP := -fopenmp -DASR_THREADS

$(B)/test_gcc: $(TEST_SRC) | $(B)/.deps-stb
	gcc $(WARN) $(OPT) $(SIMD) $(TDEF) tests/test_asr.c -o $@ $(LIBS)
$(B)/test_clang: $(TEST_SRC) | $(B)/.deps-stb
	clang $(WARN) $(OPT) $(SIMD) $(TDEF) tests/test_asr.c -o $@ $(LIBS)
$(B)/test_double: $(TEST_SRC) | $(B)/.deps-stb
	gcc $(WARN) $(OPT) $(SIMD) $(TDEF) -DASR_REAL=double tests/test_asr.c -o $@ $(LIBS)
$(B)/test_cxx: $(TEST_SRC) | $(B)/.deps-stb
	$(CXX) $(CXXWARN) $(OPT) $(SIMD) $(TDEF) -x c++ tests/test_asr.c -o $@ $(LIBS)
$(B)/test_static: $(TEST_SRC) | $(B)/.deps-stb
	gcc $(WARN) $(OPT) $(SIMD) $(TDEF) -DASR_STATIC tests/test_asr.c -o $@ $(LIBS)
$(B)/test_sep: $(TEST_SRC) tests/impl.c | $(B)/.deps-stb
	gcc $(WARN) $(OPT) $(SIMD) $(TDEF) -DASR_TEST_SEPARATE_IMPL tests/test_asr.c tests/impl.c -o $@ $(LIBS)
$(B)/test_avx2: $(TEST_SRC) | $(B)/.deps-stb
	gcc $(WARN) $(OPT) $(SIMD_AVX2) $(TDEF) tests/test_asr.c -o $@ $(LIBS)
$(B)/test_threads: $(TEST_SRC) | $(B)/.deps-stb
	gcc $(WARN) $(OPT) $(SIMD) $(OMP) $(TDEF) tests/test_asr.c -o $@ $(LIBS)
$(B)/test_nosimd: $(TEST_SRC) | $(B)/.deps-stb
	gcc $(WARN) $(OPT) -DASR_NO_SIMD $(TDEF) tests/test_asr.c -o $@ $(LIBS)
$(B)/test_asan: $(TEST_SRC) | $(B)/.deps-stb
	$(SAN_CC) $(WARN) -O1 -g $(SIMD) $(TDEF) -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -fno-omit-frame-pointer tests/test_asr.c -o $@ $(LIBS)

test-builds: $(TEST_BUILDS)

# ---- make san-programs: the programs under AddressSanitizer + UBSan (LeakSanitizer on) --
# tests/programs.py runs their error paths (san/*): exit 2, one line, no sanitizer report;
# and each a normal run (a step of train, pretrain, bert; transcribe, posteriorgram, units,
# asrtool fbank/decode/model on a clip): exit 0, no report.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_RECOGNIZER := $(B)/san/train $(B)/san/transcribe $(B)/san/posteriorgram $(B)/san/pretrain $(B)/san/units \
  $(B)/san/bert
SAN_PROGRAMS := $(B)/san/asrtool $(SAN_RECOGNIZER)
$(B)/san/asr_impl.o: examples/asr_impl.c $(HDR) | $(B)/.deps-stb
	@mkdir -p $(B)/san
	$(SAN_CC) $(WARN) $(SAN_FLAGS) $(SIMD) -c $< -o $@
$(B)/san/asrtool: $(ASRTOOL_SRC) $(B)/san/asr_impl.o
	$(SAN_CC) $(WARN) $(SAN_FLAGS) $(SIMD) $(filter %.c,$^) $(B)/san/asr_impl.o -o $@ $(LIBS)
$(SAN_RECOGNIZER): $(B)/san/%: examples/recognizer/%.c $(RECOGNIZER_SRC) $(B)/san/asr_impl.o
	$(SAN_CC) $(WARN) $(SAN_FLAGS) $(SIMD) $< $(filter %.c,$(RECOGNIZER_SRC)) $(B)/san/asr_impl.o -o $@ $(LIBS)
san-programs: $(SAN_PROGRAMS)

# ---- make docs-check: the docs against the code ----------------------------------------
# tests/docs_check.py says what it checks; it runs the docs' asrtool and transcribe commands,
# and asks train --help for its options. A few seconds; no torch.
DOCS_BIN := $(B)/asrtool $(B)/asrtool-f64 $(B)/train $(B)/transcribe $(B)/pretrain $(B)/units $(B)/bert
docs-check: $(DOCS_BIN)
	@$(PYTHON) tests/docs_check.py

# tests/programs.py runs the programs on their files: no output over an input, ... (its
# docstring lists the families). Standard library only, well under a minute.
PROGRAMS_BIN := $(DOCS_BIN) $(B)/posteriorgram $(B)/fbank_png $(B)/ctc_align $(SAN_PROGRAMS)

# Runs every build (two at a time), one summary line per build, then the total; the docs
# check and the programs' check count as runners too (one test line per check family).
test: test-builds $(PROGRAMS_BIN)
	@sh tests/run_builds.sh $(TEST_BUILDS) tests/docs_check.py tests/programs.py tests/assignments_check.py \
	  tests/instructor_modes.py

# ---- course assignments (examples/assignments/): grade a student's file part by part
#   make grade A=ctc STUDENT=path/to/student.c [DEBUG=1]    (DEBUG: AddressSanitizer)
#   make grade A=rnnt STUDENT=path/to/student.c [DEBUG=1]
#   make grade A=tiny_ctc STUDENT=path/to/student.c [DEBUG=1]
#   make grade A=conv_se STUDENT=path/to/student.c [DEBUG=1]
#   make grade A=fbank STUDENT=path/to/student.c [DEBUG=1]
#   make grade A=relpos STUDENT=path/to/student.c [DEBUG=1]
#   make grade A=vq STUDENT=path/to/student.c [DEBUG=1]
# The grader is built in instructor mode (-DASR_ASSIGNMENT_<A>); make test runs
# tests/assignments_check.py, which grades the library's own answers and broken ones,
# and tests/instructor_modes.py: asr.h with each ASR_ASSIGNMENT_* (read from asr.h) alone and
# all together, through gcc -std=c99 -Wpedantic -Werror, g++ -std=c++11 and
# aarch64-linux-gnu-gcc when installed.
A ?= ctc
grade: $(B)/asrtool-f64
	@sh examples/assignments/grade.sh $(A) $(STUDENT) $(DEBUG)
# make handout A=ctc: build/handout/A/ holds what the students get: the handout README, the
# *_assignment.h, stub.c and asr.h without the blocks ASR_ASSIGNMENT_<A> compiles out
# (examples/assignments/handout.py cuts them; tests/assignments_check.py checks the cut)
handout:
	@$(PYTHON) examples/assignments/handout.py $(A)

# ---- make test-torch: live comparisons with PyTorch / torchaudio --------------------
test-torch: $(EXAMPLES) | $(B)/.deps-torch
	@$(PYTHON) tests/torch/run.py

# ---- make test-arm: the runner of build/test_gcc (the same sources and warnings) cross-
# compiled for aarch64 with Debian's gcc-aarch64-linux-gnu, so asr.h takes its NEON path
# (ASR_SIMD_NEON), and run under qemu-aarch64 (Debian's qemu-user) with the cross C library.
# stb_vorbis: Debian's libstb-dev ships no arm64 library for -lstb, so its header (which
# holds the implementation too) is compiled for aarch64 as an object of its own.
# -fno-tree-loop-vectorize: Debian 12's aarch64 gcc 12.2 stops with an internal compiler
# error (vect_transform_reduction) on t_resample once asr_resample_ref is inlined into it;
# the NEON kernels are intrinsics, which the option does not touch.
ARM_CC   := aarch64-linux-gnu-gcc
ARM_ROOT := /usr/aarch64-linux-gnu
QEMU_ARM := qemu-aarch64
$(B)/.deps-arm: | $(B)/.stamp
	@command -v $(ARM_CC) >/dev/null && command -v $(QEMU_ARM) >/dev/null || \
	  { $(MAKE) --no-print-directory _install PKGS="gcc-aarch64-linux-gnu qemu-user"; }
	@command -v $(ARM_CC) >/dev/null && command -v $(QEMU_ARM) >/dev/null
	@touch $@
$(B)/arm/stb_vorbis.o: | $(B)/.deps-arm $(B)/.deps-stb
	@mkdir -p $(B)/arm
	$(ARM_CC) -O2 -x c -c $(STB_HDR) -o $@
$(B)/test_arm: $(TEST_SRC) $(B)/arm/stb_vorbis.o | $(B)/.deps-arm
	$(ARM_CC) $(WARN) $(OPT) -fno-tree-loop-vectorize $(TDEF) tests/test_asr.c $(B)/arm/stb_vorbis.o -o $@ -lm
test-arm: $(B)/test_arm
	@QEMU_LD_PREFIX=$(ARM_ROOT) $(QEMU_ARM) $(B)/test_arm $(ARM_FILTER)

# ---- make same-numbers: are the numbers bit-identical to revision REV's? ------------
# The guard for refactors that must not change any number (moving and renaming code in
# asr.h). Not in make test: it builds REV in a temporary git worktree. REV defaults to
# a64d765; tests/same_numbers.sh says what it compares.
same-numbers:
	@sh tests/same_numbers.sh $(REV)

# ---- demo ------------------------------------------------------------------------
demo: $(B)/fbank_png $(B)/asrtool $(B)/train $(B)/transcribe $(B)/posteriorgram
	@sh examples/demo.sh

# ---- the bundled model and the accuracy figures -----------------------------------
# make pretrained: retrains data/models/ctc-contextnet.npz (about 30 min on 2 cores)
pretrained: $(B)/train
	$(B)/train --recipe ctc-contextnet --data data/toy/train --out data/models/ctc-contextnet.npz \
	  --steps 2000 --seed 1 --eval-every 250 | tee data/models/ctc-contextnet.log
# make pretrained-attention: data/models/ctc-attention.npz, the model whose joint CTC/attention
# beam search make bench times (about 5 min on 2 cores)
pretrained-attention: $(B)/train
	$(B)/train --recipe ctc-attention --data data/toy/train --out data/models/ctc-attention.npz \
	  --steps 1000 --seed 1 --eval-every 500 --quiet | tee data/models/ctc-attention.log
# make eval: trains every recipe and prints its error rates (long: see README.md)
eval: $(B)/train $(B)/transcribe $(B)/asrtool
	@sh tests/eval.sh

# ---- bench -----------------------------------------------------------------------
# A fair baseline: torch must do its matrix products on an optimized BLAS. Debian's torch
# links the generic libblas.so.3, and installing OpenBLAS (libopenblas0-pthread) makes the
# BLAS alternatives hand it OpenBLAS; bench/compare.py refuses ratios against netlib's
# reference BLAS. bench/blas_gemm.c times OpenBLAS's cblas_sgemm (libopenblas-dev) at 1 and
# 2 threads and the machine's FMA peak, beside asr.h's GEMM rows of the same run.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
OPENBLAS  := /usr/lib/$(MULTIARCH)/openblas-pthread
OPENBLAS_INC := /usr/include/$(MULTIARCH)/openblas-pthread
$(B)/.deps-openblas: | $(B)/.stamp
	@test -f $(OPENBLAS_INC)/cblas.h -a -f $(OPENBLAS)/libopenblas.so || \
	  { $(MAKE) --no-print-directory _install PKGS="libopenblas0-pthread libopenblas-dev"; }
	@test -f $(OPENBLAS_INC)/cblas.h -a -f $(OPENBLAS)/libopenblas.so
	@touch $@
$(B)/bench_blas: bench/blas_gemm.c | $(B)/.deps-openblas
	$(CC) $(WARN) $(OPT) $(SIMD) -I$(OPENBLAS_INC) $< -o $@ -L$(OPENBLAS) -Wl,-rpath,$(OPENBLAS) -lopenblas -lm
# asrtool-omp: asrtool with ASR_THREADS and OpenMP, for `asrtool bench --threads N`
$(B)/asr_impl_omp.o: examples/asr_impl.c $(HDR) | $(B)/.deps-stb
	$(CC) $(WARN) $(OPT) $(SIMD) $(OMP) -c $< -o $@
$(B)/asrtool-omp: $(ASRTOOL_SRC) $(B)/asr_impl_omp.o
	$(CC) $(WARN) $(OPT) $(SIMD) $(OMP) $(filter %.c,$^) $(B)/asr_impl_omp.o -o $@ $(LIBS)
# The 2-thread rows (BENCH_2T: GEMM, layers, Conformer/attention/LSTM, quantizers, the
# training step): asrtool-omp's simd tier on 2 threads in wall time; bench/compare.py times
# the same cases in torch on 2 threads (torch.set_num_threads(2), OpenBLAS at 2) beside them.
BENCH_2T := core,layers,conformer,quantizers,training
bench: $(EXAMPLES) $(B)/bench_blas $(B)/asrtool-omp | $(B)/.deps-torch
	@$(B)/asrtool bench --json $(B)/bench.json
	@$(B)/asrtool-omp bench --threads 2 --filter $(BENCH_2T) --json $(B)/bench_2t.json
	@$(B)/bench_blas --json $(B)/bench_blas.json
	@$(PYTHON) bench/compare.py $(B)/bench.json $(B)/bench_blas.json $(B)/bench_2t.json
	@echo "joint CTC/attention beam search, beam 10, lambda 0.3 (data/models/ctc-attention.npz on data/toy/test, one thread):"
	@$(B)/transcribe --model data/models/ctc-attention.npz --beam 10 --rtf --data data/toy/test 2>&1 >/dev/null | sed 's/^/  /'

# ---- fuzz ------------------------------------------------------------------------
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := wav ogg npy npz model
fuzz: | $(B)/.deps-stb
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(B)
