#!/usr/bin/env bash
# How closely MDM reproduces the original from the original's own YAML:
# configs/fashion_mnist/learned_3.textproto (the original's MNIST Learned-3
# config, imported, on Fashion-MNIST) trained for STEPS steps by MDM, and the
# original's code trained the same steps on the same data in file order by
# original_agreement.py; both then evaluate the full test split as the
# original's validation loop does. Several seeds each, both on one thread, a
# seed's two runs side by side. Prints per-run rows and per-side means and
# spreads, and writes them to OUT/report.md.
#
#   REF=<the original's checkout> tools/experiments/original_agreement.sh [OUT]
#
# The original's checkout stays outside the repository (fetch it, then
# `git --git-dir=<its git directory> archive HEAD | tar -x -C "$REF"`); the
# stand-ins for its Lightning, wandb, click, torchdiffeq and joblib imports
# come from ../shared/tools/original_bench/shims (SHIMS).
#
# Knobs (environment); the defaults take about 30 minutes on 2 cores:
#   STEPS=300  SEEDS="0 1 2"
#   PYTHON=/usr/bin/python3   the original's Python (its torch)
#   TRAIN=                    a train binary (default: bazel build //mdm/bin:train)
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${REF:?set REF to a checkout of the original}"
out=${1:-runs/original_agreement}
steps=${STEPS:-300}
seeds=${SEEDS:-"0 1 2"}
python=${PYTHON:-/usr/bin/python3}
shims=${SHIMS:-../shared/tools/original_bench/shims}
train=${TRAIN:-}
if [[ -z $train ]]; then
  bazel build //mdm/bin:train >&2
  train=bazel-bin/mdm/bin/train
fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$out"
rows=$out/rows.tsv
: >"$rows"
for seed in $seeds; do
  dir=$out/mdm_s$seed
  PYTHONPATH=$shims:$REF "$python" tools/experiments/original_agreement.py \
    --yaml "$REF/configs/mnist/learned_3.yaml" --steps "$steps" \
    --seed "$seed" >"$out/original_s$seed.json" &
  original=$!
  "$train" --config=configs/fashion_mnist/learned_3.textproto \
    --set=training.max_steps="$steps" --set=seed="$seed" --num_threads=1 \
    --output_dir="$dir" --overwrite >"$dir.log" 2>&1
  wait "$original"
  # The original prints its progress first, the JSON line last.
  # eval.csv's last row: step, epoch, split, bpd, bpd_ci95, bpd_with_offset.
  IFS=, read -r _ _ _ bpd _ offset _ <<<"$(tail -n 1 "$dir/eval.csv")"
  printf 'MDM\t%s\t%s\t%s\n' "$seed" "$bpd" "$offset" | tee -a "$rows" >&2
  python3 -c 'import json, sys; r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print("original\t%s\t%s\t%s" % (sys.argv[2], r["bpd_no_offset"], r["bpd_offset"]))' \
    "$out/original_s$seed.json" "$seed" | tee -a "$rows" >&2
done
{
  echo "| implementation | seed | test bits/dim after $steps steps | with the offset term |"
  echo "|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %s | %.3f | %.3f |\n", $1, $2, $3, $4}' "$rows"
  echo
  echo "Bits/dim without the offset term (what both track for the best checkpoint):"
  echo
  echo "| implementation | mean | sample std over seeds | min - max |"
  echo "|---|---|---|---|"
  awk -F'\t' '
    { n[$1]++; s[$1] += $3; ss[$1] += $3 * $3
      if (!($1 in lo) || $3 < lo[$1]) lo[$1] = $3
      if (!($1 in hi) || $3 > hi[$1]) hi[$1] = $3 }
    END { for (m in n) { mean = s[m] / n[m]
      var = n[m] > 1 ? (ss[m] - n[m] * mean * mean) / (n[m] - 1) : 0
      printf "| %s | %.3f | %.3f | %.3f - %.3f |\n", m, mean, sqrt(var > 0 ? var : 0), lo[m], hi[m] } }' "$rows"
} | tee "$out/report.md"
