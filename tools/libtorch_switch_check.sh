#!/usr/bin/env bash
# Checks the MDM_LIBTORCH switch of //:repositories.bzl without a second
# LibTorch: lays Debian's LibTorch out as the official libtorch zip is laid
# out (include/ with ATen, c10, caffe2 and torch, torch/csrc/api/include
# inside it, lib/ with the shared libraries), points MDM_LIBTORCH at it, and
# builds and runs one small test in a temporary output base, so that the
# normal build's output base and bazel-* links are left alone. Then checks
# that the test binary loads LibTorch from that folder, and that a folder
# without LibTorch is refused with one clear line.
#
#   tools/libtorch_switch_check.sh [//some:test]   # default //mdm/sde:block_ops_test
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-//mdm/sde:block_ops_test}
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)

work=$(mktemp -d "${TMPDIR:-/tmp}/mdm-libtorch-switch.XXXXXX")
output_base="$work/output_base"
bazel_tmp() {
  bazel --output_base="$output_base" "$@"
}
cleanup() {
  if [[ -d "$output_base" ]]; then
    bazel_tmp shutdown >/dev/null 2>&1 || true
    chmod -R u+w "$work" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "libtorch_switch_check: $*" >&2
  exit 1
}

# The layout: symlinks into Debian's libtorch-dev.
layout="$work/libtorch"
mkdir -p "$layout/include" "$layout/lib"
for dir in ATen c10 caffe2 torch; do
  [[ -d "/usr/include/$dir" ]] || fail "/usr/include/$dir is missing; run tools/setup.sh"
  ln -s "/usr/include/$dir" "$layout/include/$dir"
done
# Every name of each library (libtorch.so, libtorch.so.1.13, ...): binaries
# record the versioned soname and the loader looks for that in the rpath.
for lib in torch torch_cpu c10; do
  found=0
  for file in "/usr/lib/$arch/lib$lib.so"*; do
    [[ -e "$file" ]] || continue
    ln -s "$file" "$layout/lib/"
    found=1
  done
  ((found)) || fail "/usr/lib/$arch/lib$lib.so is missing; run tools/setup.sh"
done

echo "libtorch_switch_check: MDM_LIBTORCH=$layout bazel test $target (output base $output_base)"
# --symlink_prefix=/ : no bazel-* links, which would point the checkout's
# at this temporary output base.
MDM_LIBTORCH="$layout" bazel_tmp test --symlink_prefix=/ "$target" ||
  fail "$target failed with MDM_LIBTORCH=$layout"

generated="$output_base/external/mdm_libtorch/BUILD"
grep -qF "MDM_LIBTORCH=$layout" "$generated" ||
  fail "@mdm_libtorch was not generated from MDM_LIBTORCH ($generated)"

package=${target#//}
package=${package%%:*}
binary="$(MDM_LIBTORCH="$layout" bazel_tmp info --symlink_prefix=/ bazel-bin)/$package/${target##*:}"
[[ -x "$binary" ]] || fail "no test binary at $binary"
loaded=$(ldd "$binary")
for lib in torch_cpu c10; do
  grep -qF "$layout/lib/lib$lib.so" <<<"$loaded" ||
    fail "$binary does not load lib$lib from $layout/lib:
$loaded"
done

# A folder that is not a LibTorch: the repository rule's one-line error.
mkdir -p "$work/not_libtorch"
if errors=$(MDM_LIBTORCH="$work/not_libtorch" bazel_tmp build --nobuild --symlink_prefix=/ "$target" 2>&1); then
  fail "MDM_LIBTORCH=$work/not_libtorch was accepted"
fi
grep -qF "MDM_LIBTORCH=$work/not_libtorch is not a LibTorch folder" <<<"$errors" ||
  fail "unexpected error for a folder without LibTorch:
$errors"

echo "libtorch_switch_check: PASSED ($target built against $layout and loads its libraries)"
