#!/usr/bin/env bash
# Fails when docs/configs.md's config reference is not what
# mdm/proto/experiment.proto generates, and shows that the check can fail.
set -u
python3 tools/config_reference.py mdm/proto/experiment.proto \
  --check docs/configs.md || exit 1
stale=$(mktemp)
trap 'rm -f "$stale"' EXIT
sed 's/| `data.height` | 28 |/| `data.height` | 32 |/' docs/configs.md >"$stale"
if python3 tools/config_reference.py mdm/proto/experiment.proto \
     --check "$stale" 2>/dev/null; then
  echo "FAIL: a changed default went unnoticed"
  exit 1
fi
echo PASS
