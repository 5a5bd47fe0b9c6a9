#!/usr/bin/env bash
# Every binary's --help opens with what it does, an example and its own
# flags (the libraries' flags only under --helpfull), and a missing
# required flag is one line naming it.
set -u
bin=mdm/bin
source mdm/bin/cli_test_lib.sh

# tool: the binary; flag: one of its own flags.
for pair in train:config sample:checkpoint eval:metric grid:grid \
            kernel:t import_original:yaml; do
  tool=${pair%%:*} flag=${pair#*:}
  help=$("$bin/$tool" --help 2>&1); rc=$?
  [[ $rc -eq 0 ]] || fail "$tool --help exited $rc"
  [[ $(head -n 1 <<<"$help") == "$tool: "* ]] ||
    fail "$tool --help opens with '$(head -n 1 <<<"$help")'"
  [[ $(sed -n 3p <<<"$help") == "Examples:" ]] ||
    fail "$tool --help has no examples on line 3"
  grep -q "^  bazel run //mdm/bin:$tool" <<<"$help" ||
    fail "$tool --help has no example command"
  grep -q "^  --$flag (" <<<"$help" || fail "$tool --help lacks --$flag"
  if grep -qE 'caffe2|logtostderr|flagfile' <<<"$help"; then
    fail "$tool --help shows the libraries' flags"
  fi
  lines=$(wc -l <<<"$help")
  (( lines < 80 )) || fail "$tool --help is $lines lines"
  grep -q -- '--helpfull' <<<"$help" || fail "$tool --help omits --helpfull"
  "$bin/$tool" --helpfull 2>&1 | grep -q logtostderr ||
    fail "$tool --helpfull lacks glog's flags"
done

expect_error "--checkpoint is required" sample
expect_error "--checkpoint is required" eval --metric=elbo
expect_error "--grid is required" grid
expect_error "--output_dir is required" import_original --yaml=x.yaml
expect_error "exactly one of --config and --checkpoint" kernel

if (( failures > 0 )); then echo "$failures failure(s)"; exit 1; fi
echo "PASS"
