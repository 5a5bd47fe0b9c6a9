#!/usr/bin/env bash
# MDM on two LibTorchs, and optionally the original on two PyTorchs, side by
# side in one run on this machine: the figures of docs/benchmarks.md.
#
#   tools/bench/side_by_side.sh OUT [THREADS...]     # default threads: 1 2
#
# Builds -c opt, each in an output base of its own (so neither rebuilds the
# other): MDM against Debian's LibTorch and against the pinned wheel's
# (tools/install_libtorch.sh cpu). For each thread count it then alternates
# the two builds, REPS times (default 3), on
#   - train_step_bench: TinyUNet (batch 128), MLP (512), HoUNet (8) steps,
#     TinyUNet's GFLOP/s against an SGEMM of the same BLAS;
#   - peak RSS of `train` on the CIFAR-10 Learned-3 config (HoUNet) for 3
#     steps at batch 8;
#   - peak RSS of `train` on the Fashion-MNIST Learned-3 config for 40
#     steps (its test evaluation and picture included);
#   - the whole `sample` process, 64 samples x 100 EM steps, of that run;
#   - `eval --metric=elbo` of that run (test images/s).
# Every figure is a line of OUT/results.tsv: what, build, threads, value.
#
# The original, when ORIGINAL_SRC names a copy of its source (outside the
# checkout; never committed) and ORIGINAL_BENCH the folder of ref_bench.py
# and its shims: ref_bench.py under /usr/bin/python3 (Debian's 1.13) and,
# with ORIGINAL_PYTHON_2X, under that Python (a torch 2.x venv), alternating
# with ours, at each thread count.
#
# One thread for everything: OMP_NUM_THREADS, MKL_NUM_THREADS and
# OPENBLAS_NUM_THREADS are set to the count on both sides; MDM's
# --num_threads decides its own.
set -euo pipefail
cd "$(dirname "$0")/../.."

(($# >= 1)) || { echo "usage: tools/bench/side_by_side.sh OUT [THREADS...]" >&2; exit 1; }
out=$(mkdir -p "$1" && cd "$1" && pwd)
shift
threads=("$@")
((${#threads[@]})) || threads=(1 2)
reps=${REPS:-3}
results=$out/results.tsv
: >"$results"
log() { echo "side_by_side: $*" >&2; }

wheel=$(tools/install_libtorch.sh cpu | tail -n 1)
declare -A base=([debian]="$HOME/.cache/mdm-bench-debian" [wheel]="$HOME/.cache/mdm-bench-wheel")
declare -A env_of=([debian]="" [wheel]="$wheel")
targets=(//mdm/bin:train //mdm/bin:sample //mdm/bin:eval //mdm/train:train_step_bench)
declare -A bin
for build in debian wheel; do
  log "building $build"
  start=$SECONDS
  MDM_LIBTORCH=${env_of[$build]} bazel --output_base="${base[$build]}" \
    build -c opt --symlink_prefix=/ "${targets[@]}" >&2
  echo -e "build_s_warm_cache\t$build\t-\t$((SECONDS - start))" >>"$results"
  bin[$build]=$(MDM_LIBTORCH=${env_of[$build]} bazel --output_base="${base[$build]}" \
    info -c opt --symlink_prefix=/ bazel-bin 2>/dev/null)
done

record() { echo -e "$1\t$2\t$3\t$4" >>"$results"; }

# With CLEAN_BUILD=1: a clean -c opt build of the train binary, no disk
# cache, in a fresh output base, for each LibTorch.
if [[ ${CLEAN_BUILD:-0} == 1 ]]; then
  for build in debian wheel; do
    clean=$(mktemp -d "${TMPDIR:-/tmp}/mdm-clean-build.XXXXXX")
    start=$SECONDS
    MDM_LIBTORCH=${env_of[$build]} bazel --output_base="$clean" build -c opt \
      --disk_cache= --symlink_prefix=/ //mdm/bin:train >&2
    record clean_build_train_s "$build" - $((SECONDS - start))
    bazel --output_base="$clean" shutdown
    chmod -R u+w "$clean"; rm -rf "$clean"
  done
fi

# ours BUILD THREADS: one round of every figure.
ours() {
  local build=$1 n=$2 b=${bin[$1]} run=$out/run_$1_$2
  export OMP_NUM_THREADS=$n MKL_NUM_THREADS=$n OPENBLAS_NUM_THREADS=$n
  (cd "${b}/mdm/train/train_step_bench.runfiles/mdm" &&
    "$b/mdm/train/train_step_bench" --num_threads="$n" \
      --benchmark_filter='BM_TrainStep(TinyUNet|Mlp|HoUNet)/' \
      --benchmark_format=json 2>/dev/null) >"$out/bench_$1_$2.json"
  python3 - "$out/bench_$1_$2.json" "$build" "$n" >>"$results" <<'EOF'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    name = b["name"].split("/")[0].replace("BM_TrainStep", "step_ms_")
    print(f"{name}\t{sys.argv[2]}\t{sys.argv[3]}\t{b['step_ms']:.2f}")
    if "step_gflops" in b:
        for key in ("step_gflops", "sgemm_peak_gflops", "pct_of_sgemm_peak"):
            print(f"tiny_unet_{key}\t{sys.argv[2]}\t{sys.argv[3]}\t{b[key]:.1f}")
EOF
  # HoUNet's peak RSS over 3 training steps of the original's CIFAR-10
  # Learned-3 config at batch 8 (ref_bench.py reports the original's the
  # same way), its closing evaluation and picture kept small (the test
  # data's CIFAR-10 files, 2 sampling steps).
  rm -rf "$run"
  /usr/bin/time -f '%M' -o "$out/rss" "$b/mdm/bin/train" \
    --config=configs/cifar10/learned_3.textproto --set=data.data_dir=testdata/data/cifar \
    --set=training.batch_size=8 --set=training.max_steps=3 --set=sampling.n_fes=2 \
    --num_threads="$n" --output_dir="$run" 2>/dev/null
  record peak_rss_mib_step_ms_HoUNet "$build" "$n" "$(($(cat "$out/rss") / 1024))"
  rm -rf "$run"
  /usr/bin/time -f '%M' -o "$out/rss" "$b/mdm/bin/train" \
    --config=configs/fashion_mnist/learned_3.textproto --set=training.max_steps=40 \
    --num_threads="$n" --output_dir="$run" 2>/dev/null
  record train_peak_rss_mib "$build" "$n" "$(($(cat "$out/rss") / 1024))"
  local start end
  start=$(date +%s.%N)
  "$b/mdm/bin/sample" --checkpoint="$run" --n=64 --steps=100 --sampler=em \
    --num_threads="$n" --out="$out/samples.png" 2>/dev/null
  end=$(date +%s.%N)
  record em_64x100_s "$build" "$n" "$(python3 -c "print(f'{$end - $start:.2f}')")"
  "$b/mdm/bin/eval" --checkpoint="$run" --metric=elbo --num_threads="$n" \
    --json="$out/elbo.json" >/dev/null 2>&1
  record test_elbo_images_per_s "$build" "$n" \
    "$(python3 -c "import json; print(f'{json.load(open(\"$out/elbo.json\"))[\"examples_per_s\"]:.1f}')")"
}

# original PYTHON LABEL THREADS: its train steps, EM sampling and ELBO.
original() {
  local python=$1 label=$2 n=$3
  export OMP_NUM_THREADS=$n MKL_NUM_THREADS=$n OPENBLAS_NUM_THREADS=$n
  local common=(--ref "$ORIGINAL_SRC" --threads "$n")
  local -a works=(
    "step_ms_TinyUNet|--work train --sde learned_3 --model TinyUNet --bs 128 --steps 5"
    "step_ms_Mlp|--work train --sde learned_3 --model MLP --bs 512 --steps 20"
    "step_ms_HoUNet|--work train --sde learned_3 --dataset cifar --model HoUNet --bs 8 --steps 3"
    "em_64x100_s|--work sample --sde learned_3 --model TinyUNet --bs 64 --sample_steps 100 --steps 1"
    "test_elbo_images_per_s|--work eval --sde learned_3 --model TinyUNet --bs 128 --steps 5")
  for work in "${works[@]}"; do
    local name=${work%%|*} args=${work#*|} line
    # shellcheck disable=SC2086
    line=$(PYTHONPATH="$ORIGINAL_BENCH/shims:$ORIGINAL_SRC" "$python" \
      "$ORIGINAL_BENCH/ref_bench.py" "${common[@]}" $args 2>/dev/null | tail -n 1)
    python3 - "$name" "$label" "$n" "$line" >>"$results" <<'EOF'
import json, sys
name, label, n, line = sys.argv[1:]
r = json.loads(line)
if name.startswith("step_ms"):
    value = 1000 * r["median_s"]
elif name == "test_elbo_images_per_s":
    value = r["bs"] / r["median_s"]
else:
    value = r["median_s"]
print(f"{name}\t{label}\t{n}\t{value:.2f}")
print(f"peak_rss_mib_{name}\t{label}\t{n}\t{r['peak_rss_mib']:.0f}")
EOF
  done
}

for n in "${threads[@]}"; do
  for ((rep = 0; rep < reps; ++rep)); do
    log "threads $n, round $((rep + 1))/$reps"
    ours debian "$n"
    ours wheel "$n"
    if [[ -n ${ORIGINAL_SRC:-} ]]; then
      original /usr/bin/python3 original_1.13 "$n"
      [[ -z ${ORIGINAL_PYTHON_2X:-} ]] || original "$ORIGINAL_PYTHON_2X" original_2.x "$n"
    fi
  done
done
log "figures in $results"
