#!/usr/bin/env bash
# Installs every Debian package MDM needs to build, test and run, offline
# except for Debian's own archive. Idempotent: when everything is already
# installed it only checks and returns within a second or two.
set -euo pipefail

packages=(
  # Build system and compilers.
  bazel-bootstrap g++
  # Libraries wrapped under third_party/.
  libtorch-dev libabsl-dev libprotobuf-dev protobuf-compiler
  libgoogle-glog-dev libgflags-dev libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev zlib1g-dev libzip-dev libstb-dev libyaml-cpp-dev
  # A fast BLAS: Debian's LibTorch calls whatever libblas.so.3 points to,
  # and the reference BLAS is ~40x slower on matmul and convolution.
  libopenblas0-pthread
  # tcmalloc, the malloc every binary links (third_party/tcmalloc): less
  # memory and a faster step than glibc's.
  libtcmalloc-minimal4
  # Real data for the quick-start and end-to-end tests.
  dataset-fashion-mnist
  # Debian's PyTorch, only to prove exported weights open in Python.
  python3-torch
  # Gloo headers for c10d's ProcessGroupGloo (data-parallel training).
  libgloo-dev
  # tools/install_libtorch.sh: LibTorch 2.x from PyTorch's wheels.
  python3-pip unzip
  # A real single-node Slurm cluster for the array-job integration test.
  slurm-wlm munge
  # Plots of tools/experiments/compare_report.py.
  gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
  echo "tools/setup.sh: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Point libblas.so.3 at OpenBLAS if the alternatives system left it elsewhere.
arch_dir=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
openblas="$arch_dir/openblas-pthread/libblas.so.3"
if [[ -e "$openblas" ]]; then
  current=$(update-alternatives --query "libblas.so.3-$(basename "$arch_dir")" 2>/dev/null \
              | awk '/^Value:/ {print $2}')
  if [[ "$current" != "$openblas" ]]; then
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo update-alternatives --set "libblas.so.3-$(basename "$arch_dir")" "$openblas" >/dev/null
  fi
fi
