#!/usr/bin/env bash
# A relocatable folder of MDM's GPU binaries, for a GPU machine with no
# Bazel, no registry and none of Debian's -dev libraries, only a PyTorch of
# the pinned version (2.11, CUDA 13) whose torch/lib the binaries load:
#
#   tools/gpu_bundle.sh OUT        # here: build, then assemble OUT
#   OUT/gpu_check.sh [RESULTS]     # there: the figures, per GPU
#
# OUT holds
#   bin/       train, sample, eval, sampling_bench, gpu_test (stripped,
#              built against the CUDA wheel's LibTorch; .bazelrc's -O2 as
#              every build), with rpath $ORIGIN/../lib
#   lib/       every shared library they need that is neither LibTorch's
#              (torch/lib and the nvidia-* wheels, found on the GPU machine)
#              nor the C and C++ runtimes (libc, libm, libstdc++, libgcc_s)
#   configs/   MDM's configs; testdata/data/mnist, what gpu_test reads
#   data/      Fashion-MNIST's 10,000 test images, as the training and the
#              test split, and CIFAR-10 shaped random images
#              (1,280 + 256), so that the GPU machine needs no data set
#   gpu_check.sh
# and stays well under 64 MiB. Its objects are .ci/run's CUDA build's and,
# but for the NCCL code, the CPU wheel build's (through the disk cache).
set -euo pipefail
cd "$(dirname "$0")/.."

(($# == 1)) || { echo "usage: tools/gpu_bundle.sh OUT" >&2; exit 1; }
out=$1
log() { echo "gpu_bundle: $*" >&2; }

wheel=$(tools/install_libtorch.sh cuda | tail -n 1)
base="$HOME/.cache/mdm-cuda-ob"
targets=(//mdm/bin:train //mdm/bin:sample //mdm/bin:eval
  //mdm/sampling:sampling_bench //mdm/train:gpu_test)
log "building ${targets[*]} against $wheel"
# shellcheck disable=SC2016  # $ORIGIN is for the dynamic linker.
MDM_LIBTORCH=$wheel bazel --output_base="$base" build --symlink_prefix=/ \
  --strip=always '--linkopt=-Wl,-rpath,$ORIGIN/../lib' "${targets[@]}" >&2
bin=$(MDM_LIBTORCH=$wheel bazel --output_base="$base" info \
  --symlink_prefix=/ bazel-bin 2>/dev/null)

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/data/fashion-mnist" "$out/data/cifar"
for target in "${targets[@]}"; do
  path=${target#//}
  cp "$bin/${path/://}" "$out/bin/"
done
chmod -R u+w "$out/bin"
cp -r configs "$out/configs"
mkdir -p "$out/testdata/data"
cp -r testdata/data/mnist "$out/testdata/data/mnist"  # What gpu_test reads.
cp tools/gpu_check.sh "$out/gpu_check.sh"

# The libraries: what the loader resolves here, less LibTorch's own and the
# runtimes every Linux has.
torch_root=$(dirname "$wheel")
runtime='^(linux-vdso|ld-linux|libc|libm|libdl|librt|libpthread|libutil|libresolv|libstdc\+\+|libgcc_s|libcuda)\.so'
# (ldd on the built binaries, where a test's own libraries, linked
# dynamically from Bazel's _solib folder, still resolve.)
for target in "${targets[@]}"; do
  path=${target#//}
  ldd "$bin/${path/://}" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  [[ $path == "$torch_root"/* || $name =~ $runtime ]] && continue
  cp -L "$path" "$out/lib/$name"
done

# The data: Fashion-MNIST's test set as both splits; CIFAR-10's binary
# format (a label byte, then 3 x 32 x 32 bytes) with random images.
fashion=/usr/share/datasets/fashion-mnist
for kind in images-idx3-ubyte labels-idx1-ubyte; do
  cp "$fashion/t10k-$kind.gz" "$out/data/fashion-mnist/t10k-$kind.gz"
  cp "$fashion/t10k-$kind.gz" "$out/data/fashion-mnist/train-$kind.gz"
done
python3 - "$out/data/cifar" <<'EOF'
import os, random, sys
rng = random.Random(0)
def batch(path, n):
    with open(path, "wb") as f:
        for _ in range(n):
            f.write(bytes([rng.randrange(10)]) + rng.randbytes(3 * 32 * 32))
for i in range(1, 6):
    batch(os.path.join(sys.argv[1], f"data_batch_{i}.bin"), 256)
batch(os.path.join(sys.argv[1], "test_batch.bin"), 256)
EOF

size=$(du -sm "$out" | cut -f1)
((size < 64)) || { log "$out is $size MiB: over the GPU machine's 64 MiB"; exit 1; }
log "$out: $size MiB ($(ls "$out/lib" | wc -l) libraries)"
echo "$out"
