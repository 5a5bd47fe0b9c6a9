#!/usr/bin/env bash
# MDM on a GPU: the GPU tests, then the figures, per GPU and with its name.
#
# From a GPU bundle (tools/gpu_bundle.sh; its bin/ lies beside this file),
# against the machine's own PyTorch of the pinned version:
#   BUNDLE/gpu_check.sh [RESULTS]
# From a checkout, on a machine with an NVIDIA driver (580 or later for
# CUDA 13): builds the bundle against the pinned CUDA wheel, then runs it
# against that wheel's torch/lib:
#   tools/setup.sh && tools/gpu_check.sh [RESULTS]
#
# It runs, with --device=$DEVICE (default cuda):
#   1. gpu_test (the model, its process and a run on the GPU against the
#      CPU; the host-device synchronizations of a training step);
#   2. TinyUNet training, batch 128, Learned-3, on Fashion-MNIST's images
#      (steps/s from metrics.csv), then its run's test ELBO (images/s) and
#      EM sampling ($N_SAMPLES, default 1,024, samples x 100 steps; samples/s
#      of the whole process);
#   3. the DDPM U-Net (HO_UNET) training on CIFAR-10 shaped images with the
#      original's CIFAR-10 Learned-3 config, batch $HO_BATCH (default 128);
#   4. the sampler benchmark;
#   5. with two GPUs or more, two data-parallel ranks (NCCL) against one
#      process accumulating two micro-batches (their learned Q and D must
#      agree): one GPU cannot hold two NCCL ranks, so there NCCL is
#      compiled, not run.
# The peak GPU memory (nvidia-smi's, every 0.2 s) closes it. Figures go to
# RESULTS/figures.tsv (what, value). STEPS (default 200) and HO_STEPS
# (default 30) set the training steps; TORCH_LIB the torch/lib to load
# (default: python3's torch). DEVICE=cpu runs the same on the CPU.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() {
  echo "gpu_check: $*" >&2
  exit 1
}
step() {
  echo
  echo "=== gpu_check: $*"
}

if [[ ! -x "$here/bin/train" ]]; then
  # A checkout: make the bundle, then run its copy of this script.
  bundle=$(mktemp -d "${TMPDIR:-/tmp}/mdm-gpu-bundle.XXXXXX")
  "$here/gpu_bundle.sh" "$bundle" >/dev/null
  wheel=$("$here/install_libtorch.sh" cuda | tail -n 1)
  TORCH_LIB=${TORCH_LIB:-$wheel/lib} exec "$bundle/gpu_check.sh" "$@"
fi

device=${DEVICE:-cuda}
steps=${STEPS:-200}
ho_steps=${HO_STEPS:-30}
ho_batch=${HO_BATCH:-128}
n_samples=${N_SAMPLES:-1024}
out=${1:-$(mktemp -d "${TMPDIR:-/tmp}/mdm-gpu-check.XXXXXX")}
mkdir -p "$out"
out=$(cd "$out" && pwd)
figures=$out/figures.tsv
: >"$figures"
figure() {
  printf '%-40s %s\n' "$1" "$2"
  printf '%s\t%s\n' "$1" "$2" >>"$figures"
}

if [[ -z ${TORCH_LIB:-} ]]; then
  TORCH_LIB=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') ||
    die "no TORCH_LIB given and python3 cannot import torch"
fi
[[ -f "$TORCH_LIB/libtorch_cuda.so" ]] ||
  die "TORCH_LIB=$TORCH_LIB has no libtorch_cuda.so: not a CUDA PyTorch's torch/lib"
# The bundle's libraries, then LibTorch's (a bundled library's own needs are
# found through this path, not through the binaries' rpath).
export LD_LIBRARY_PATH="$here/lib:$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin=$here/bin
cd "$here"  # gpu_test and the configs' relative paths.
missing=$(ldd "$bin"/* | grep "not found" | sort -u || true)
[[ -z $missing ]] || die "libraries the bundle lacks here: $missing"

gpus=0
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader |
    sed 's/^/gpu_check: GPU /'
  gpus=$(nvidia-smi -L | grep -c '^GPU' || true)
  # The peak memory in use, per GPU, sampled until this script ends.
  (while sleep 0.2; do
    nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits || exit 0
  done) >"$out/gpu_memory.csv" 2>/dev/null &
  sampler=$!
  trap 'kill $sampler 2>/dev/null || true' EXIT
elif [[ $device == cuda* ]]; then
  echo "gpu_check: no nvidia-smi; LibTorch will say whether it sees a GPU" >&2
fi

# median_rate CSV BATCH: median of metrics.csv's examples_per_s / BATCH.
median_rate() {
  python3 - "$1" "$2" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rates = [float(r["examples_per_s"]) for r in rows[1:]]  # The first: warm-up.
print(f"{statistics.median(rates) / int(sys.argv[2]):.3f}" if rates else "nan")
EOF
}

step "gpu_test on $device"
"$bin/gpu_test" --gtest_brief=1 | tee "$out/gpu_test.log"
syncs=$(sed -n 's/^synchronizations per training step: //p' "$out/gpu_test.log")
if [[ -n $syncs ]]; then figure host_device_syncs_per_step "$syncs"; fi

step "TinyUNet training, batch 128, $steps steps on $device"
"$bin/train" --config=configs/fashion_mnist/learned_3.textproto --device="$device" \
  --set=data.data_dir="$here/data/fashion-mnist" --set=training.batch_size=128 \
  --set=training.max_steps="$steps" --output_dir="$out/tiny_unet" --overwrite
figure tiny_unet_train_steps_per_s "$(median_rate "$out/tiny_unet/metrics.csv" 128)"

step "test ELBO of that run on $device"
"$bin/eval" --checkpoint="$out/tiny_unet" --device="$device" --metric=elbo \
  --json="$out/elbo.json"
figure test_elbo_images_per_s \
  "$(python3 -c "import json; print(round(json.load(open('$out/elbo.json'))['examples_per_s'], 1))")"

step "EM sampling, $n_samples samples x 100 steps, on $device"
start=$(date +%s.%N)
"$bin/sample" --checkpoint="$out/tiny_unet" --device="$device" --sampler=em \
  --steps=100 --n="$n_samples" --out="$out/samples.png"
end=$(date +%s.%N)
figure em_samples_per_s "$(python3 -c "print(round($n_samples / ($end - $start), 1))")"

step "HoUNet training, batch $ho_batch, $ho_steps steps on $device"
"$bin/train" --config=configs/cifar10/learned_3.textproto --device="$device" \
  --set=data.data_dir="$here/data/cifar" --set=training.batch_size="$ho_batch" \
  --set=training.max_steps="$ho_steps" --set=sampling.n_fes=20 \
  --set=eval.test_batch_size="$ho_batch" --output_dir="$out/ho_unet" --overwrite
figure ho_unet_train_steps_per_s "$(median_rate "$out/ho_unet/metrics.csv" "$ho_batch")"

step "sampler benchmark on $device"
"$bin/sampling_bench" --device="$device" --benchmark_min_time=0.2 \
  --benchmark_out="$out/sampling_bench.json" --benchmark_out_format=json

if ((gpus >= 2)); then
  # As data_parallel_test does over Gloo: two ranks equal one process that
  # accumulates two micro-batches; their learned Q and D must agree.
  step "two data-parallel ranks (NCCL) against one process, 50 steps"
  common=(--set=data.data_dir="$here/data/fashion-mnist" --set=training.max_steps=50)
  # A global batch of 64: two halves accumulated, or one half per rank.
  "$bin/train" --device=cuda "${common[@]}" --set=training.batch_size=32 \
    --set=training.accumulate_grad_batches=2 --output_dir="$out/one_process" --overwrite >"$out/one_process.log" 2>&1 ||
    die "the one-process run failed (log: $out/one_process.log)"
  port=$((20000 + RANDOM % 20000))
  pids=()
  for rank in 0 1; do
    RANK=$rank LOCAL_RANK=$rank WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$bin/train" --device=cuda "${common[@]}" --set=training.batch_size=64 \
      --output_dir="$out/ddp" --overwrite \
      --dist_timeout_s=300 >"$out/ddp_rank$rank.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || die "a data-parallel rank failed (logs: $out/ddp_rank*.log)"
  done
  grep -h "joined the" "$out"/ddp_rank*.log
  for run in one_process ddp; do
    "$bin/eval" --checkpoint="$out/$run" --device=cuda --metric=elbo \
      --limit_examples=256 --json="$out/$run.json" >/dev/null
  done
  difference=$(python3 - "$out/one_process.json" "$out/ddp.json" <<'EOF2'
import json, sys
a, b = (json.load(open(path)) for path in sys.argv[1:])
flat = lambda m: [x for row in m for x in row] if isinstance(m[0], list) else m
print(max(abs(x - y) for key in ("Q", "D") for x, y in zip(flat(a[key]), flat(b[key]))))
EOF2
)
  figure nccl_vs_one_process_max_qd_difference "$difference"
  python3 -c "import sys; sys.exit(0 if $difference < 1e-4 else 1)" ||
    die "two NCCL ranks and one process learned different Q, D (max difference $difference)"
else
  echo "gpu_check: $gpus GPU(s): NCCL needs two ranks on two GPUs; compiled, not run"
fi

if [[ -s "$out/gpu_memory.csv" ]]; then
  python3 - "$out/gpu_memory.csv" <<'EOF' | while read -r gpu mib; do figure "peak_gpu_memory_mib_gpu$gpu" "$mib"; done
import collections, sys
peak = collections.defaultdict(int)
for line in open(sys.argv[1]):
    index, used = (field.strip() for field in line.split(","))
    peak[index] = max(peak[index], int(used))
for index in sorted(peak):
    print(index, peak[index])
EOF
fi

step "PASSED: figures in $figures"
