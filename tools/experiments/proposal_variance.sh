#!/usr/bin/env bash
# The adaptive time proposal against the VP one (objective.time_proposal):
# each process trained on the 2-D checkerboard with either proposal, then
# its test ELBO evaluated with both proposals on the same weights. Reports
# bits/dim, the per-example standard deviation of the ELBO estimate (what
# the proposal controls: the estimate is unbiased under both) and the
# training bits/dim of the last logged steps.
#
#   tools/experiments/proposal_variance.sh [OUT]     # default runs/proposal
#
# Knobs (environment): TOY_EPOCHS=40 (78 steps of 256 each), EXAMPLES=20000
# test points, THREADS=1, PROCESSES="vpsde cld alda malda learned_2
# learned_3". The defaults take ~15 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/proposal}
epochs=${TOY_EPOCHS:-40}
examples=${EXAMPLES:-20000}
threads=${THREADS:-1}
processes=${PROCESSES:-vpsde cld alda malda learned_2 learned_3}

bazel build //mdm/bin:train //mdm/bin:eval
# The build's own folder, not the bazel-bin link (which any later build with
# other flags, e.g. -c opt, repoints while the experiment runs).
bin="$(bazel info bazel-bin)/mdm/bin"

# The diffusion of each process; everything else comes from the base config.
# shellcheck source=tools/experiments/processes.sh
source tools/experiments/processes.sh

mkdir -p "$out"
table=$out/table.md
{
  echo "commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)'), $epochs epochs, $examples test points"
  echo
  echo "| process | trained with | final train bits/dim | test bits/dim (VP draws) | per-example SD, VP draws | test bits/dim (adaptive draws) | per-example SD, adaptive draws |"
  echo "|---|---|---|---|---|---|---|"
} >"$table"
for process in $processes; do
  for proposal in VP ADAPTIVE; do
    run=$out/$process/$proposal
    mkdir -p "$out/$process"
    # shellcheck disable=SC2046
    "$bin/train" --config=configs/toy/checkerboard.textproto --output_dir="$run" \
      --overwrite --num_threads="$threads" $(diffusion_of "$process") \
      --set=training.n_epochs="$epochs" --set=training.eval_every_n_epoch="$epochs" \
      --set=objective.time_proposal="$proposal" 2>"$run.log" || {
        echo "training $process/$proposal failed: $(tail -1 "$run.log")" >&2; exit 1; }
    for draws in vp run; do
      "$bin/eval" --checkpoint="$run/checkpoints/last.pt" --metric=elbo \
        --limit_examples="$examples" --proposal="$draws" --num_threads="$threads" \
        --json="$run/elbo_$draws.json" >/dev/null 2>>"$run.log"
    done
    python3 - "$run" "$process" "$proposal" "$examples" >>"$table" <<'EOF'
import csv, json, math, sys
run, process, proposal, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = list(csv.DictReader(open(f"{run}/metrics.csv")))
train = [float(r["train_bpd"]) for r in rows[-10:]]
cells = [process, proposal, f"{sum(train) / len(train):.3f}"]
for draws in ("vp", "run"):
    e = json.load(open(f"{run}/elbo_{draws}.json"))
    if draws == "run" and e["proposal"] == "vp":
        cells += ["(no adaptive proposal)", ""]
        continue
    # bpd_ci95 = 1.96 SD / sqrt(n): the per-example SD in bits/dim.
    cells += [f"{e['bpd']:.3f} +- {e['bpd_ci95']:.3f}",
              f"{e['bpd_ci95'] / 1.96 * math.sqrt(e['examples']):.2f}"]
print("| " + " | ".join(cells) + " |")
EOF
  done
done
cat "$table"
