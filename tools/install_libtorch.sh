#!/usr/bin/env bash
# Installs the pinned LibTorch from PyTorch's Linux wheels into a cache
# folder outside the checkout and prints that LibTorch folder (the wheel's
# torch/, laid out like the libtorch zip: include/, lib/) as its last line:
#
#   MDM_LIBTORCH=$(tools/install_libtorch.sh cpu | tail -n 1) bazel test //...
#
#   cpu   the torch wheel without its CUDA libraries (libtorch_cuda*.so,
#         libc10_cuda.so, ... and libtorch.so, which needs them), plus the
#         two CUDA wheels libtorch_cpu.so itself needs to load (the CUDA
#         runtime and CUPTI). With no lib/libtorch_cuda.so in the folder,
#         //:repositories.bzl links LibTorch for the CPU.
#   cuda  the whole torch wheel and every nvidia-* wheel it requires.
#
# Wheels are fetched with `pip download --no-deps` from pip's configured
# index into MDM_WHEELS (default ~/.cache/mdm-wheels) and checked against
# the sha256 pinned below; they are unzipped into
# MDM_CACHE (default ~/.cache/mdm-libtorch)/<version>-<mode>/, where the
# wheels' own $ORIGIN rpaths (torch/lib -> ../../nvidia/*/lib) hold. No
# Python environment is changed. A second run only checks and prints.
set -euo pipefail

# The pins, the one place they are written: LibTorch's version and, per
# wheel, the mode that first needs it (cuda takes cpu's too), its file name
# and its sha256.
readonly VERSION=2.11.0
readonly PYTHON_VERSION=3.11  # The wheels' cp311 tag (C++ use ignores it).
readonly PINS=(
  "cpu torch-2.11.0-cp311-cp311-manylinux_2_28_x86_64.whl 7aa2f9bbc6d4595ba72138026b2074be1233186150e9292865e04b7a63b8c67a"
  "cpu nvidia_cuda_runtime-13.0.96-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl 7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548"
  "cpu nvidia_cuda_cupti-13.0.85-py3-none-manylinux_2_25_x86_64.whl 4eb01c08e859bf924d222250d2e8f8b8ff6d3db4721288cf35d14252a4d933c8"
  "cuda nvidia_cublas-13.1.0.3-py3-none-manylinux_2_27_x86_64.whl ee8722c1f0145ab246bccb9e452153b5e0515fd094c3678df50b2a0888b8b171"
  "cuda nvidia_cuda_nvrtc-13.0.88-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl ad9b6d2ead2435f11cbb6868809d2adeeee302e9bb94bcf0539c7a40d80e8575"
  "cuda nvidia_cudnn_cu13-9.19.0.56-py3-none-manylinux_2_27_x86_64.whl d20e1734305e9d68889a96e3f35094d733ff1f83932ebe462753973e53a572bf"
  "cuda nvidia_cufft-12.0.0.61-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl 6c44f692dce8fd5ffd3e3df134b6cdb9c2f72d99cf40b62c32dde45eea9ddad3"
  "cuda nvidia_cufile-1.15.1.6-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl 08a3ecefae5a01c7f5117351c64f17c7c62efa5fffdbe24fc7d298da19cd0b44"
  "cuda nvidia_curand-10.4.0.35-py3-none-manylinux_2_27_x86_64.whl 1aee33a5da6e1db083fe2b90082def8915f30f3248d5896bcec36a579d941bfc"
  "cuda nvidia_cusolver-12.0.4.66-py3-none-manylinux_2_27_x86_64.whl 0a759da5dea5c0ea10fd307de75cdeb59e7ea4fcb8add0924859b944babf1112"
  "cuda nvidia_cusparse-12.6.3.3-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl 2b3c89c88d01ee0e477cb7f82ef60a11a4bcd57b6b87c33f789350b59759360b"
  "cuda nvidia_cusparselt_cu13-0.8.0-py3-none-manylinux2014_x86_64.whl 25e30a8a7323935d4ad0340b95a0b69926eee755767e8e0b1cf8dd85b197d3fd"
  "cuda nvidia_nccl_cu13-2.28.9-py3-none-manylinux_2_18_x86_64.whl e4553a30f34195f3fa1da02a6da3d6337d28f2003943aa0a3d247bbc25fefc42"
  "cuda nvidia_nvjitlink-13.0.88-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl 13a74f429e23b921c1109976abefacc69835f2f433ebd323d3946e11d804e47b"
  "cuda nvidia_nvshmem_cu13-3.4.5-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl 290f0a2ee94c9f3687a02502f3b9299a9f9fe826e6d0287ee18482e78d495b80"
  "cuda nvidia_nvtx-13.0.85-py3-none-manylinux1_x86_64.manylinux_2_5_x86_64.whl 4936d1d6780fbe68db454f5e72a42ff64d1fd6397df9f363ae786930fd5c1cd4"
)

# What the cpu mode leaves out of the torch wheel's lib/: the libraries that
# need CUDA beyond the runtime and CUPTI (cuBLAS, cuDNN, NCCL, NVRTC,
# NVSHMEM, the driver), libtorch.so, which needs libtorch_cuda.so, and the
# Python bindings.
readonly CPU_LEAVES_OUT=(
  libc10_cuda.so
  libcaffe2_nvrtc.so
  libtorch.so
  libtorch_cuda.so
  libtorch_cuda_linalg.so
  libtorch_nvshmem.so
  libtorch_python.so
)

die() {
  echo "install_libtorch: $*" >&2
  exit 1
}
log() {
  echo "install_libtorch: $*" >&2
}

(($# == 1)) || die "usage: tools/install_libtorch.sh cpu|cuda"
mode=$1
[[ $mode == cpu || $mode == cuda ]] || die "unknown mode '$mode': use cpu or cuda"

wheels=${MDM_WHEELS:-$HOME/.cache/mdm-wheels}
cache=${MDM_CACHE:-$HOME/.cache/mdm-libtorch}
dest="$cache/$VERSION-$mode"
libtorch="$dest/torch"

# The pins this mode installs, one "file sha256" line each: also the stamp
# an install leaves behind, so that changed pins make a new install.
wanted=()
for pin in "${PINS[@]}"; do
  read -r pin_mode file sha <<<"$pin"
  [[ $pin_mode == cpu || $mode == cuda ]] && wanted+=("$file $sha")
done
stamp_text=$(printf '%s\n' "${wanted[@]}")

# Every library the install keeps in torch/lib finds its dependencies,
# except the NVIDIA driver (libcuda.so.1), which is the machine's, and finds
# those the install carries in the install (through the wheels' rpaths),
# not in a CUDA toolkit the machine happens to have.
check_libraries() {
  local so deps name arrow path problems=""
  for so in "$libtorch"/lib/*.so*; do
    if ! deps=$(ldd "$so" 2>&1); then
      problems+="${so##*/}: $(tail -n 1 <<<"$deps")"$'\n'
      continue
    fi
    while read -r name arrow path _; do
      [[ $arrow == "=>" && $name != libcuda.so.1 ]] || continue
      if [[ $path == not ]]; then
        problems+="${so##*/}: $name not found"$'\n'
      elif compgen -G "$dest/nvidia/*/lib/$name" >/dev/null && [[ $path != "$dest"/* ]]; then
        problems+="${so##*/}: $name loads from $path, not from $dest"$'\n'
      fi
    done <<<"$deps"
  done
  [[ -z $problems ]] || die "$dest: libraries that cannot load as installed:
${problems%$'\n'}"
}

check_install() {
  [[ -f "$libtorch/include/torch/csrc/api/include/torch/torch.h" ]] ||
    die "$dest has no torch/include/torch/csrc/api/include/torch/torch.h"
  [[ -f "$libtorch/lib/libtorch_cpu.so" ]] || die "$dest has no torch/lib/libtorch_cpu.so"
  if [[ $mode == cpu && -e "$libtorch/lib/libtorch_cuda.so" ]]; then
    die "$dest is a cpu install with lib/libtorch_cuda.so"
  fi
  if [[ $mode == cuda && ! -f "$libtorch/lib/libtorch_cuda.so" ]]; then
    die "$dest is a cuda install without lib/libtorch_cuda.so"
  fi
  grep -qsF "\"$VERSION\"" "$libtorch/include/torch/headeronly/version.h" ||
    die "$libtorch/include/torch/headeronly/version.h does not say $VERSION"
  check_libraries
}

command -v ldd >/dev/null || die "ldd is missing (Debian's libc-bin)"
mkdir -p "$cache"
# One install at a time per cache folder.
exec 9>"$cache/.lock"
flock 9

if [[ -f "$dest/INSTALLED" ]]; then
  [[ "$(cat "$dest/INSTALLED")" == "$stamp_text" ]] ||
    die "$dest was installed from other wheels than tools/install_libtorch.sh pins: remove it and rerun"
  check_install
  log "LibTorch $VERSION ($mode) already installed"
  echo "$libtorch"
  exit 0
fi

command -v unzip >/dev/null || die "unzip is missing: run tools/setup.sh"
python=${PYTHON:-python3}
"$python" -m pip --version >/dev/null 2>&1 ||
  die "$python has no pip: run tools/setup.sh, or set PYTHON to a Python with pip"

# pip download for the wheel's own tags, whatever the running Python is:
# file names are <name>-<version>-<python>-<abi>-<platform[.platform]>.whl.
download() {
  local file=$1 name version platforms=()
  IFS=- read -r name version _ <<<"$file"
  local tags=${file%.whl}
  tags=${tags##*-}
  local platform
  IFS=. read -ra tag_list <<<"$tags"
  for platform in "${tag_list[@]}"; do
    platforms+=(--platform "$platform")
  done
  log "downloading $file"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: \
    --implementation cp --python-version "$PYTHON_VERSION" \
    --abi "cp${PYTHON_VERSION/./}" "${platforms[@]}" \
    --dest "$wheels" "$name==$version" >&2 ||
    die "pip download $name==$version failed"
  [[ -f "$wheels/$file" ]] || die "pip download $name==$version did not give $file"
}

mkdir -p "$wheels"
for line in "${wanted[@]}"; do
  read -r file sha <<<"$line"
  [[ -f "$wheels/$file" ]] || download "$file"
  echo "$sha  $wheels/$file" | sha256sum --check --status ||
    die "$wheels/$file does not match its pinned sha256 $sha"
done

# Unzip next to the destination and rename, so that an interrupted run
# leaves no half install behind.
staging=$(mktemp -d "$cache/.staging.XXXXXX")
trap 'rm -rf "$staging"' EXIT
for line in "${wanted[@]}"; do
  read -r file _ <<<"$line"
  log "unpacking $file"
  if [[ $file == torch-* ]]; then
    members=('torch/include/*' 'torch/lib/*')
    if [[ $mode == cpu ]]; then
      members+=(-x)
      for so in "${CPU_LEAVES_OUT[@]}"; do members+=("torch/lib/$so"); done
    fi
    unzip -q "$wheels/$file" "${members[@]}" -d "$staging" ||
      die "cannot unzip $wheels/$file"
  else
    unzip -q "$wheels/$file" 'nvidia/*' -d "$staging" ||
      die "cannot unzip $wheels/$file"
  fi
done
rm -rf "$dest"
mv "$staging" "$dest"
trap - EXIT
chmod 755 "$dest"
check_install
echo "$stamp_text" >"$dest/INSTALLED"
log "installed LibTorch $VERSION ($mode) in $dest ($(du -sh "$dest" | cut -f1))"
echo "$libtorch"
