#!/usr/bin/env bash
# The paper's comparison at laptop scale: every process (VPSDE, CLD, ALDA,
# MALDA, Learned-2, Learned-3) trained with the same TinyUNet, optimizer and
# step budget on Fashion-MNIST, then evaluated on the full test set (DSM-ELBO
# bits/dim with and without offset, 95% intervals) and by the probability-flow
# ODE on a subset; and a second table on the 2-D checkerboard with exact
# ODE likelihoods. Writes everything under OUT and a report with
# tools/experiments/compare_report.py.
#
#   tools/experiments/compare_processes.sh [OUT]      # default runs/compare
#
# Knobs (environment); the defaults take ~2 h 15 min on 2 cores (checkerboard
# ~45 min, Fashion-MNIST ~90 min) and are the budget of docs/results.md:
#   STEPS=1500          optimizer steps per Fashion-MNIST run (batch 64)
#   TOY_EPOCHS=200      checkerboard epochs (78 steps of 256 each; the learning
#                       rate decays to zero over them on a cosine)
#   ODE_EXAMPLES=1000   test images for the ODE likelihood
#   ODE_TOL=1e-3        its solver rtol = atol
#   THREADS=2           LibTorch threads per run
#   PROCESSES="vpsde cld alda malda learned_2 learned_3"; also variants
#                       (tools/experiments/processes.sh): learned_3_bins4
#                       for Q(t), D(t) over 4 time bins, +adaptive for the
#                       adaptive time proposal, e.g. learned_2_bins4+adaptive
#   PARTS="checkerboard fashion_mnist"
#   BASE=configs/fashion_mnist/quickstart.textproto
#   FID_MODEL=           a TorchScript feature network for Fashion-MNIST FID
#                       (tools/experiments/fmnist_classifier.py makes one);
#                       when set, FID of FID_SAMPLES=1000 samples at 10 and
#                       20 score evaluations per process
#   EXTRA="--set=..."   more overrides for every Fashion-MNIST run
# Bigger machines scale it up by the same knobs (e.g. STEPS=50000, a bigger
# network through EXTRA, or a CIFAR-10 BASE).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/compare}
steps=${STEPS:-1500}
toy_epochs=${TOY_EPOCHS:-200}
ode_examples=${ODE_EXAMPLES:-1000}
ode_tol=${ODE_TOL:-1e-3}
threads=${THREADS:-2}
processes=${PROCESSES:-vpsde cld alda malda learned_2 learned_3}
parts=${PARTS:-checkerboard fashion_mnist}
base=${BASE:-configs/fashion_mnist/quickstart.textproto}
read -r -a extra <<<"${EXTRA:-}"
fid_model=${FID_MODEL:-}
fid_samples=${FID_SAMPLES:-1000}

bazel build //mdm/bin:train //mdm/bin:eval //mdm/bin:sample
# The build's own folder, not the bazel-bin link (which any later build with
# other flags, e.g. -c opt, repoints while the experiment runs).
bin="$(bazel info bazel-bin)/mdm/bin"

# The diffusion of each process; everything else comes from the base config.
# shellcheck source=tools/experiments/processes.sh
source tools/experiments/processes.sh

# Samples from few score evaluations: the multistep exponential
# integrator at 10 and 20, and the single-step one at 20 for comparison.
few_step_samples() {
  local run=$1 n=$2
  for spec in expint_ms:10 expint_ms:20 expint:20; do
    "$bin/sample" --checkpoint="$run" --n="$n" --sampler="${spec%:*}" \
      --steps="${spec#*:}" --out="$run/samples_${spec%:*}_${spec#*:}.png" \
      --num_threads="$threads"
  done
}

mkdir -p "$out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet || echo ' (dirty)')"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1e6}' /proc/meminfo), $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')"
  echo "steps: $steps, toy_epochs: $toy_epochs, ode_examples: $ode_examples, ode_tol: $ode_tol, threads: $threads"
  echo "base: $base ${extra[*]:-}"
  echo "parts: $parts; processes: $processes"
  if [[ -n $fid_model ]]; then
    echo "fid_model: $fid_model (sha256 $(sha256sum <"$fid_model" | cut -c1-16)), fid_samples: $fid_samples"
  fi
} >>"$out/setup.txt"

# 1. The 2-D checkerboard: every process to convergence in a few minutes. The
# test ELBO averages 16 draws of t per point: one draw leaves intervals of
# +-0.8 bits/dim for the processes whose x gets its noise only through Q.
[[ " $parts " == *" checkerboard "* ]] && for p in $processes; do
  run="$out/checkerboard/$p"
  # shellcheck disable=SC2046
  "$bin/train" --config=configs/toy/checkerboard.textproto --output_dir="$run" \
    $(diffusion_of "$p") --set=training.n_epochs="$toy_epochs" \
    --set=optimizer.lr_scheduling=true \
    --set=optimizer.lr_sched_max_iters=$((toy_epochs * 78)) \
    --set=eval.elbo_mc_samples_eval=16 \
    --set=training.eval_every_n_epoch=$((toy_epochs / 10 > 0 ? toy_epochs / 10 : 1)) \
    --resume --num_threads="$threads"
  "$bin/eval" --checkpoint="$run" --metric=elbo --num_threads="$threads"
  "$bin/eval" --checkpoint="$run" --metric=ode --divergence=exact --v0_draws=16 \
    --limit_examples=2000 --rtol=1e-5 --atol=1e-5 --num_threads="$threads"
  "$bin/sample" --checkpoint="$run" --n=20000 --sampler=expint --steps=100 \
    --out="$run/samples.png" --num_threads="$threads"
  few_step_samples "$run" 20000
done

# 2. Fashion-MNIST: the same network, optimizer and step budget.
[[ " $parts " == *" fashion_mnist "* ]] && for p in $processes; do
  run="$out/fashion_mnist/$p"
  # shellcheck disable=SC2046
  "$bin/train" --config="$base" --output_dir="$run" $(diffusion_of "$p") \
    --set=training.max_steps="$steps" --set=training.n_epochs=100000 \
    "${extra[@]}" --resume --num_threads="$threads"
  "$bin/eval" --checkpoint="$run" --metric=elbo --num_threads="$threads"
  "$bin/eval" --checkpoint="$run" --metric=ode --limit_examples="$ode_examples" \
    --rtol="$ode_tol" --atol="$ode_tol" --batch_size=100 --num_threads="$threads"
  "$bin/sample" --checkpoint="$run" --n=64 --sampler=expint --steps=100 \
    --out="$run/samples.png" --num_threads="$threads"
  few_step_samples "$run" 64
  if [[ -n $fid_model ]]; then
    for spec in expint_ms:10 expint_ms:20 expint:20; do
      "$bin/eval" --checkpoint="$run" --metric=fid --fid_model="$fid_model" \
        --fid_stats="$out/fashion_mnist/fid_reference.stats" \
        --fid_samples="$fid_samples" --sampler="${spec%:*}" --steps="${spec#*:}" \
        --json="$run/eval/fid_${spec%:*}_${spec#*:}.json" --num_threads="$threads"
    done
  fi
done
echo "done: $out"
