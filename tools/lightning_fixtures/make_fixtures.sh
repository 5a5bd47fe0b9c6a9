#!/usr/bin/env bash
# Writes real PyTorch Lightning checkpoints, one pair per pinned Lightning
# version, to testdata/lightning/ (see README.md beside this script).
# Each version gets its own venv under $MDM_LIGHTNING_CACHE (default
# ~/.cache/mdm-lightning/<version>), made once and reused when rerun.
#
# Torch: Debian's python3-torch 1.13 cannot run Lightning on Python 3.11
# (importing torch.distributed._shard fails: "mutable default ... for field
# tensor_properties"), so every version runs on torch 2.11.0 (allowed by the
# original's torch >= 1.13), installed once into $CACHE/torch-2.11.0 with
# pip --target and put on each venv's path by a .pth file.  It is a CUDA
# build; on CPU it imports with CUDA 13's libraries from the system plus the
# three nvidia wheels below (more of torch's nvidia wheels are added only if
# it still will not import).  Every package is pinned and installed with
# --no-deps, so pip never pulls anything not listed here.
set -euo pipefail

# Lightning version and its pinned packages (installed with --no-deps).
# 1.5.10 stands for the 1.4.x/1.5.x line the original allows (>= 1.4.9),
# whose checkpoints count epoch and global_step differently (README.md);
# it imports torch.utils.tensorboard, hence tensorboard and protobuf.
VERSIONS=(
  "1.5.10|pytorch_lightning==1.5.10 torchmetrics==0.7.3 pyDeprecate==0.3.1 tensorboard==2.16.2 protobuf==4.25.3 six==1.16.0 absl-py==2.1.0 packaging==23.1 tqdm==4.66.5 fsspec==2023.6.0 numpy==1.26.4 PyYAML==6.0.2"
  "1.9.5|pytorch_lightning==1.9.5 torchmetrics==0.11.4 lightning-utilities==0.8.0 packaging==23.1 tqdm==4.66.5 fsspec==2023.6.0 numpy==1.26.4 PyYAML==6.0.2"
  "2.0.9.post0|pytorch_lightning==2.0.9.post0 torchmetrics==1.1.2 lightning-utilities==0.9.0 packaging==23.1 tqdm==4.66.5 fsspec==2023.6.0 numpy==1.26.4 PyYAML==6.0.2"
  "2.6.6|pytorch_lightning==2.6.6 torchmetrics==1.8.2 lightning-utilities==0.15.2 packaging==25.0 tqdm==4.67.1 fsspec==2025.3.0 numpy==2.2.6 PyYAML==6.0.2"
)
TORCH_PINS="torch==2.11.0 typing-extensions==4.12.2 sympy==1.14.0 mpmath==1.3.0 networkx==3.4.2 jinja2==3.1.6 MarkupSafe==3.0.2 fsspec==2025.3.0 filelock==3.16.1"
# Libraries torch 2.11 links that a CUDA 13 install may lack.
TORCH_LIBS="nvidia-cufile==1.15.1.6 nvidia-cusparselt-cu13==0.8.0 nvidia-nvshmem-cu13==3.4.5"
# The rest of torch 2.11's nvidia wheels, for a machine without CUDA 13.
TORCH_LIBS_ALL="nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85 nvidia-cuda-nvrtc==13.0.88 nvidia-cublas==13.1.0.3 nvidia-cudnn-cu13==9.19.0.56 nvidia-cufft==12.0.0.61 nvidia-curand==10.4.0.35 nvidia-cusolver==12.0.4.66 nvidia-cusparse==12.6.3.3 nvidia-nccl-cu13==2.28.9 nvidia-nvjitlink==13.0.88 nvidia-nvtx==13.0.85"

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/testdata/lightning"
YAML="$ROOT/testdata/original/yaml/mnist/learned_3.yaml"
CACHE="${MDM_LIGHTNING_CACHE:-$HOME/.cache/mdm-lightning}"
WHEELS="${MDM_WHEELS:-$HOME/.cache/mdm-wheels}"  # cached wheels, if any
PY=/usr/bin/python3
TORCH_DIR="$CACHE/torch-2.11.0"
mkdir -p "$OUT" "$CACHE"

pip_install() {  # python, pip arguments...
  local python="$1"; shift
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --find-links "$WHEELS" "$@"
}

torch_imports() { PYTHONPATH="$TORCH_DIR" "$PY" -c "import torch" 2>/dev/null; }

make_torch() {
  local stamp="$TORCH_DIR/.mdm-pins"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$TORCH_PINS" ]]; then return; fi
  rm -rf "$TORCH_DIR"
  # shellcheck disable=SC2086
  pip_install "$PY" --target "$TORCH_DIR" $TORCH_PINS >&2
  # shellcheck disable=SC2086
  torch_imports || pip_install "$PY" --target "$TORCH_DIR" $TORCH_LIBS >&2
  # shellcheck disable=SC2086
  torch_imports || pip_install "$PY" --target "$TORCH_DIR" $TORCH_LIBS_ALL >&2
  PYTHONPATH="$TORCH_DIR" "$PY" -c "import torch; print('torch', torch.__version__, 'in $TORCH_DIR')" >&2
  echo "$TORCH_PINS" > "$stamp"
}

make_venv() {  # version, pins -> prints the venv's path
  local version="$1" pins="$2"
  local venv="$CACHE/$version" stamp="$CACHE/$version/.mdm-pins"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$pins" ]]; then
    echo "$venv"; return
  fi
  rm -rf "$venv"
  "$PY" -m venv "$venv"
  "$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" |
    { read -r site; echo "$TORCH_DIR" > "$site/mdm-torch.pth"; }
  # shellcheck disable=SC2086
  pip_install "$venv/bin/python" $pins >&2
  "$venv/bin/python" -c "import torch, pytorch_lightning as pl, yaml; \
assert pl.__version__ == '$version', pl.__version__; \
print('venv $venv: torch', torch.__version__, 'pytorch_lightning', pl.__version__)" >&2
  echo "$pins" > "$stamp"
  echo "$venv"
}

make_torch
MANIFEST_LINES=()
for entry in "${VERSIONS[@]}"; do
  IFS='|' read -r version pins <<< "$entry"
  venv="$(make_venv "$version" "$pins")"
  work="$CACHE/run-$version"
  "$venv/bin/python" "$HERE/make_checkpoint.py" "$YAML" "$OUT" "$work"
  while IFS= read -r line; do MANIFEST_LINES+=("$line"); done < "$work/manifest"
done

{
  echo "# Real PyTorch Lightning checkpoints, written by tools/lightning_fixtures/make_fixtures.sh."
  echo "# One line per file, tab-separated: file, stored pytorch-lightning_version, stored epoch,"
  echo "# stored global_step, Adam step count in optimizer_states, batches per epoch, epochs"
  echo "# completed when saved (known from how it was made: 3 epochs of 7 batches), how it was"
  echo "# saved, and the stored loops.fit_loop.epoch_progress counters. pl_<version>.txt has each"
  echo "# file's top-level keys, loop state, hyper_parameters and pickled globals."
  printf '%s\n' "${MANIFEST_LINES[@]}"
} > "$OUT/MANIFEST.txt"
echo "wrote $OUT/MANIFEST.txt"
cat "$OUT/MANIFEST.txt"
