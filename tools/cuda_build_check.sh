#!/usr/bin/env bash
# What a CUDA build of MDM must be, checked after `bazel build //...`
# against the CUDA wheel's LibTorch (.ci/run does both):
#
#   tools/cuda_build_check.sh OUTPUT_BASE BAZEL_BIN
#
#   1. the LibTorch rule found CUDA and NCCL, and NCCL's headers are those
#      of the nvidia-nccl wheel the pinned torch was built with;
#   2. every binary and test links libtorch_cuda, and the data-parallel
#      code references c10d's NCCL process group;
#   3. on a machine without a GPU, `train --device=cuda` fails at once with
#      one line naming the missing device (no crash, no hang).
set -euo pipefail
cd "$(dirname "$0")/.."

(($# == 2)) || { echo "usage: tools/cuda_build_check.sh OUTPUT_BASE BAZEL_BIN" >&2; exit 1; }
base=$1
bin=$2
fail() {
  echo "cuda_build_check: $*" >&2
  exit 1
}

features="$base/external/mdm_libtorch/libtorch.bzl"
grep -qx "LIBTORCH_HAS_CUDA = True" "$features" || fail "$features: LIBTORCH_HAS_CUDA is not True"
grep -qx "LIBTORCH_HAS_NCCL = True" "$features" || fail "$features: LIBTORCH_HAS_NCCL is not True"
nccl=$(readlink -f "$base/external/mdm_libtorch/nccl_include")
[[ $nccl == */nvidia/nccl/include && -f $nccl/nccl.h ]] ||
  fail "NCCL's headers come from $nccl, not from the nvidia-nccl wheel"
echo "cuda_build_check: CUDA and NCCL found; nccl.h from $nccl"

# Every executable of MDM's packages that uses LibTorch: binaries, tests
# and benchmarks (runfiles trees, objects and shared libraries left out).
count=0
while IFS= read -r file; do
  header=$(readelf -h "$file" 2>/dev/null) || continue
  [[ $header =~ Type:\ +(EXEC|DYN) ]] || continue
  dynamic=$(readelf -d "$file")
  [[ $dynamic == *"[libtorch_cpu.so]"* ]] || continue
  [[ $dynamic == *"[libtorch_cuda.so]"* ]] || fail "$file does not link libtorch_cuda.so"
  count=$((count + 1))
done < <(find "$bin/mdm" -type f -perm -u+x -not -path '*.runfiles/*' \
  -not -path '*/_objs/*' -not -name '*.so' -not -name '*.o' -not -name '*.a')
((count > 0)) || fail "no executables under $bin/mdm"
echo "cuda_build_check: all $count executables that use LibTorch link libtorch_cuda.so"
symbols=$(nm -DC --undefined-only "$bin/mdm/bin/train")
[[ $symbols == *"c10d::ProcessGroupNCCL::"* ]] ||
  fail "train does not reference c10d::ProcessGroupNCCL"
echo "cuda_build_check: train references c10d::ProcessGroupNCCL"

if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "cuda_build_check: a GPU is here; the refusal without one is not checked"
  exit 0
fi
run=$(mktemp -d "${TMPDIR:-/tmp}/mdm-cuda-check.XXXXXX")
trap 'rm -rf "$run"' EXIT
rc=0
timeout 60 "$bin/mdm/bin/train" --config=configs/toy/checkerboard.textproto \
  --device=cuda --output_dir="$run/out" >"$run/stdout" 2>"$run/stderr" || rc=$?
((rc != 0 && rc != 124 && rc < 128)) ||
  fail "train --device=cuda without a GPU exited $rc (want a plain failure): $(cat "$run/stderr")"
# One error line (glog's informational lines aside) naming the device.
errors=$(grep -v '^I[0-9]\{8\} ' "$run/stderr" || true)
[[ $(grep -c . <<<"$errors") == 1 && $errors == *"no CUDA device is visible"* ]] ||
  fail "train --device=cuda without a GPU said: $(cat "$run/stderr")"
echo "cuda_build_check: without a GPU, train --device=cuda exits $rc saying: $errors"
