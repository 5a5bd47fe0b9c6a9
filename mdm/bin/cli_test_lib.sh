# What the binaries' end-to-end shell tests share; source it from the
# runfiles root after setting `bin` (the binaries' folder).

failures=0

# fail MESSAGE...: records a failure and prints it.
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_error PATTERN BINARY ARGS...: exit 1 and exactly one error line
# on stderr, "BINARY: ...PATTERN..." (besides glog's lines).
expect_error() {
  local pattern=$1 program=$2; shift 2
  local err rc
  err=$("$bin/$program" "$@" 2>&1 >/dev/null); rc=$?
  err=$(printf '%s\n' "$err" | grep -Ev '^[IWE][0-9]{8} ')
  [[ $rc -eq 1 ]] || fail "$program $* exited $rc, expected 1: $err"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 ]] ||
    fail "$program $* printed more than one line: $err"
  [[ $err == "$program:"* && $err == *"$pattern"* ]] ||
    fail "$program $*: '$err' lacks '$pattern'"
}
