#!/usr/bin/env bash
# Checkpoints cross LibTorchs both ways: a run trained by MDM built against
# one LibTorch resumes, evaluates and samples with MDM built against the
# other, and back. The two builds are `bazel-bin` folders (of output bases
# of their own, as .ci/run makes them):
#
#   tools/libtorch_cross_check.sh DEBIAN_BAZEL_BIN WHEEL_BAZEL_BIN
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "libtorch_cross_check: $*" >&2
  exit 1
}
(($# == 2)) || fail "usage: tools/libtorch_cross_check.sh DEBIAN_BAZEL_BIN WHEEL_BAZEL_BIN"
declare -A bin=([debian]=$1/mdm/bin [wheel]=$2/mdm/bin)
for build in debian wheel; do
  for tool in train eval sample; do
    [[ -x ${bin[$build]}/$tool ]] || fail "no $tool in ${bin[$build]}"
  done
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mdm-libtorch-cross.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
toy=(--config=configs/toy/checkerboard.textproto --set=data.limit_examples=512
     --set=training.batch_size=64 --set=sampling.n_fes=4 --num_threads=1)

for first in debian wheel; do
  second=$([[ $first == debian ]] && echo wheel || echo debian)
  run=$tmp/$first
  "${bin[$first]}/train" "${toy[@]}" --set=training.n_epochs=1 --output_dir="$run" \
    2>"$tmp/log" || fail "$first: training failed: $(tail -1 "$tmp/log")"
  "${bin[$second]}/train" "${toy[@]}" --set=training.n_epochs=2 --output_dir="$run" --resume \
    2>"$tmp/log" || fail "$second could not resume $first's run: $(tail -1 "$tmp/log")"
  grep -q "resumed from $run/checkpoints/last.pt at step 8" "$tmp/log" ||
    fail "$second did not resume $first's run at its step: $(grep resumed "$tmp/log")"
  "${bin[$first]}/eval" --checkpoint="$run" --num_threads=1 >"$tmp/eval" 2>"$tmp/log" ||
    fail "$first could not evaluate $second's checkpoint: $(tail -1 "$tmp/log")"
  grep -q "step .* 16" "$tmp/eval" || fail "$first evaluated another step: $(head -3 "$tmp/eval")"
  "${bin[$first]}/sample" --checkpoint="$run" --n=16 --steps=4 --out="$tmp/s.png" \
    --num_threads=1 2>"$tmp/log" || fail "$first could not sample $second's checkpoint: $(tail -1 "$tmp/log")"
  echo "libtorch_cross_check: $first -> $second -> $first: resumed, evaluated, sampled"
done
