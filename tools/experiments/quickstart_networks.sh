#!/usr/bin/env bash
# The quick start's network, chosen by measurement: the original's
# unpadded TinyUNet against TINY_UNET_PADDED at equal wall time, each
# taking the steps that fit the quick start's minutes on 2 cores, three
# seeds each. Prints per-run rows and per-network means (test bits/dim with
# the 95% interval of each run, the spread over seeds, wall time of the
# whole train process) and writes them to OUT/report.md.
#
#   tools/experiments/quickstart_networks.sh [OUT]   # default runs/qs_networks
#
# Knobs (environment); the defaults take about 36 minutes on 2 cores:
#   RUNS="TINY_UNET:2000 TINY_UNET_PADDED:1250"   network:steps pairs (the
#                   padded step costs about 1.55x, its evaluation 1.6x)
#   SEEDS="0 1 2"
#   THREADS=0       --num_threads (0: one per core)
#   TRAIN=          a train binary (default: bazel build //mdm/bin:train)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/qs_networks}
runs=${RUNS:-"TINY_UNET:2000 TINY_UNET_PADDED:1250"}
seeds=${SEEDS:-"0 1 2"}
threads=${THREADS:-0}
train=${TRAIN:-}
if [[ -z $train ]]; then
  bazel build //mdm/bin:train >&2
  train=bazel-bin/mdm/bin/train
fi
mkdir -p "$out"
rows=$out/rows.tsv
: >"$rows"
for run in $runs; do
  net=${run%%:*} steps=${run#*:}
  for seed in $seeds; do
    dir=$out/${net}_s$seed
    start=$(date +%s.%N)
    "$train" --config=configs/fashion_mnist/quickstart.textproto \
      --set=score_model.score_model_type="$net" \
      --set=training.max_steps="$steps" --set=seed="$seed" \
      --num_threads="$threads" --output_dir="$dir" --overwrite \
      >"$dir.log" 2>&1
    end=$(date +%s.%N)
    # The last evaluation: step, bits/dim and its 95% interval.
    last=$(tail -n 1 "$dir/eval.csv")
    IFS=, read -r step _ _ bpd ci _ <<<"$last"
    wall=$(echo "$end - $start" | bc)
    printf '%s\t%s\t%s\t%s\t%s\t%.0f\n' "$net" "$seed" "$step" "$bpd" "$ci" \
      "$wall" | tee -a "$rows" >&2
  done
done
{
  echo "| network | seed | steps | test bits/dim | wall time (s) |"
  echo "|---|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %s | %s | %.3f +- %.3f | %s |\n", $1, $2, $3, $4, $5, $6}' "$rows"
  echo
  echo "| network | steps | mean bits/dim | spread over seeds | mean wall time |"
  echo "|---|---|---|---|---|"
  awk -F'\t' '
    { n[$1]++; s[$1] += $4; w[$1] += $6; st[$1] = $3
      if (!($1 in lo) || $4 < lo[$1]) lo[$1] = $4
      if (!($1 in hi) || $4 > hi[$1]) hi[$1] = $4
      if (!($1 in order)) { order[$1] = ++k; names[k] = $1 } }
    END { for (i = 1; i <= k; i++) { m = names[i]
      printf "| %s | %s | %.3f | %.3f - %.3f | %d min %02d s |\n", m, st[m],
        s[m] / n[m], lo[m], hi[m], int(w[m] / n[m] / 60), int(w[m] / n[m]) % 60 } }' "$rows"
} | tee "$out/report.md"
