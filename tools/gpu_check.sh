#!/usr/bin/env bash
# GPU check, for a Debian 12 machine with an NVIDIA GPU and the official
# CUDA LibTorch unpacked (include/, lib/): builds MDM against that LibTorch
# through the MDM_LIBTORCH switch and runs, with --device=cuda,
#   1. the quick-start training for a few steps (then its evaluation, sample
#      grid and checkpoints, as every run ends),
#   2. sampling and ELBO evaluation of that run,
#   3. the sampler benchmark,
#   4. with two or more GPUs, two data-parallel ranks on one machine (NCCL
#      when the LibTorch has nccl.h; the log says which group they joined).
#
#   tools/setup.sh                                  # Debian's packages, data
#   MDM_LIBTORCH=/opt/libtorch tools/gpu_check.sh [OUTPUT_DIR]
#
# MDM_LIBTORCH defaults to /opt/libtorch. Use the C++11-ABI zip matching the
# LibTorch MDM is written against (1.13.x), e.g.
# libtorch-cxx11-abi-shared-with-deps-1.13.1+cu117.zip. Builds go to the
# workspace's usual output base: switching back to Debian's LibTorch (unset
# MDM_LIBTORCH) rebuilds what depends on LibTorch. STEPS (default 20) sets
# the training steps, DEVICE (default cuda) the device.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "gpu_check: $*" >&2
  exit 1
}
step() {
  echo
  echo "=== gpu_check: $*"
}

MDM_LIBTORCH=${MDM_LIBTORCH:-/opt/libtorch}
export MDM_LIBTORCH=${MDM_LIBTORCH%/}
steps=${STEPS:-20}
device=${DEVICE:-cuda}
out=${1:-$(mktemp -d "${TMPDIR:-/tmp}/mdm-gpu-check.XXXXXX")}
mkdir -p "$out"
out=$(cd "$out" && pwd)

[[ -f "$MDM_LIBTORCH/include/torch/csrc/api/include/torch/torch.h" ]] ||
  die "MDM_LIBTORCH=$MDM_LIBTORCH is not a LibTorch folder (no include/torch/csrc/api/include/torch/torch.h)"
[[ -f "$MDM_LIBTORCH/lib/libtorch_cuda.so" ]] ||
  die "MDM_LIBTORCH=$MDM_LIBTORCH has no lib/libtorch_cuda.so: not a CUDA build of LibTorch"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi -L || die "nvidia-smi sees no GPU"
else
  echo "gpu_check: no nvidia-smi; LibTorch will say whether it sees a GPU" >&2
fi

step "build against MDM_LIBTORCH=$MDM_LIBTORCH"
bazel build -c opt //mdm/bin:train //mdm/bin:sample //mdm/bin:eval \
  //mdm/sampling:sampling_bench
binary="$(bazel info -c opt bazel-bin)/mdm/bin/train"
ldd "$binary" | grep -F "$MDM_LIBTORCH/lib/libtorch_cuda.so" ||
  die "$binary does not load libtorch_cuda.so from $MDM_LIBTORCH/lib"

step "quick-start training, $steps steps on $device (outputs in $out/quickstart)"
bazel run -c opt //mdm/bin:train -- --device="$device" \
  --set=training.max_steps="$steps" --output_dir="$out/quickstart"
[[ -f "$out/quickstart/checkpoints/last.pt" ]] || die "training wrote no checkpoints/last.pt"
rows=$(($(wc -l <"$out/quickstart/metrics.csv") - 1))
((rows > 0)) || die "training logged no metrics (metrics.csv has no rows)"
echo "gpu_check: training wrote $rows metrics rows and checkpoints/last.pt"

step "sampling and ELBO evaluation of that run on $device"
bazel run -c opt //mdm/bin:sample -- --checkpoint="$out/quickstart" \
  --device="$device" --sampler=expint --steps=50 --n=64 --out="$out/samples.png"
[[ -s "$out/samples.png" ]] || die "sample wrote no $out/samples.png"
bazel run -c opt //mdm/bin:eval -- --checkpoint="$out/quickstart" \
  --device="$device" --metric=elbo --limit_examples=1024 \
  --json="$out/eval.json"
[[ -s "$out/eval.json" ]] || die "eval wrote no $out/eval.json"

step "sampler benchmark on $device"
bazel run -c opt //mdm/sampling:sampling_bench -- --device="$device" \
  --benchmark_out="$out/sampling_bench.json" --benchmark_out_format=json

gpus=$( (nvidia-smi -L 2>/dev/null || true) | grep -c '^GPU' || true)
if ((gpus >= 2)); then
  step "two data-parallel ranks, one GPU each, $steps steps"
  port=$((20000 + RANDOM % 20000))
  pids=()
  for rank in 0 1; do
    RANK=$rank LOCAL_RANK=$rank WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$binary" --device=cuda --set=training.max_steps="$steps" \
      --output_dir="$out/ddp" --dist_timeout_s=300 >"$out/ddp_rank$rank.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || die "a data-parallel rank failed (logs: $out/ddp_rank*.log)"
  done
  grep -h "joined the" "$out"/ddp_rank*.log
  [[ -f "$out/ddp/checkpoints/last.pt" ]] || die "the data-parallel run wrote no checkpoint"
else
  echo "gpu_check: one GPU: the data-parallel check needs two (skipped)"
fi

step "PASSED: outputs in $out"
