#!/usr/bin/env bash
# The kernel binary end to end: it prints a report for a shipped config, and
# every kind of bad input gives exactly one line on stderr and exit code 1.
set -u
kernel=mdm/bin/kernel
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

expect_error() {
  local pattern=$1; shift
  local err rc
  err=$("$kernel" "$@" 2>&1 >/dev/null); rc=$?
  [[ $rc -eq 1 ]] || fail "$* exited $rc, expected 1"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 ]] || fail "$* printed more than one line: $err"
  [[ $err == kernel:* && $err == *"$pattern"* ]] || fail "$*: '$err' lacks '$pattern'"
}

out=$("$kernel" --config=configs/fashion_mnist/cld.textproto --t=0.5 --format=json) \
  || fail "valid config failed"
[[ $out == *'"chol_hybrid"'* ]] || fail "json lacks chol_hybrid"
out=$("$kernel" --config=configs/fashion_mnist/malda.textproto \
        --set=diffusion.n_vars=4 --set diffusion.stationary_aux_var=0.25) \
  || fail "overrides failed"
[[ $out == *"diffusion MALDA, K = 4"* ]] || fail "repeated --set not applied: $out"

expect_error "pass exactly one of --config and --checkpoint"
expect_error "cannot open config file" --config=does/not/exist.textproto
tmp=$(mktemp)
printf 'diffusion {\n  sde_type: CLD\n  n_vars: oops\n}\n' >"$tmp"
expect_error "$tmp:3:" --config="$tmp"
expect_error "outside [0, T_max = 1]" --config=configs/fashion_mnist/cld.textproto --t=3
expect_error "is not a number" --config=configs/fashion_mnist/cld.textproto --t=a,b
expect_error "--format must be text or json" --config=configs/fashion_mnist/cld.textproto --format=xml
expect_error "must be positive semi-definite" --config=configs/fashion_mnist/cld.textproto \
  --set=diffusion.sde_type=CUSTOM --set='diffusion.q=[0,1,-1,0]' --set='diffusion.d=[1,2,2,1]'
expect_error "diffusion.n_vars must be 2 for CLD, got 5" \
  --config=configs/fashion_mnist/cld.textproto --set=diffusion.n_vars=5
expect_error "DiffusionConfig has no field 'gamma'" \
  --config=configs/fashion_mnist/cld.textproto --set=diffusion.gamma=2
rm -f "$tmp"

if [[ $failures -gt 0 ]]; then echo "$failures failures"; exit 1; fi
echo "kernel_cli_test: all checks passed"
