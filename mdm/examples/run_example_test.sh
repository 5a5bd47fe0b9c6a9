#!/usr/bin/env bash
# Runs an example binary and fails if it fails or prints nothing.
set -eu
out=$("$1")
[[ -n $out ]] || { echo "example printed nothing"; exit 1; }
echo "$out"
