#!/usr/bin/env bash
# Runs a four-point grid as a real Slurm array job on a private single-node
# cluster (tools/slurm/local_cluster.sh) and checks every point trained:
#
#   sbatch --array=0-3 --wait tools/slurm/sweep.sbatch tiny_grid.textproto
#
# Each point must leave config.textproto, metrics.csv with rows and
# checkpoints/last.pt in its output directory, a log saying it is done,
# and exit code 0 in `scontrol show job`. The cluster is always stopped.
set -euo pipefail

readonly WAIT_TIMEOUT_S=${MDM_SLURM_WAIT_TIMEOUT_S:-90}
export PATH="/usr/sbin:/sbin:/usr/bin:/bin:$PATH"

runfiles=${TEST_SRCDIR:?run me with bazel test}/${TEST_WORKSPACE:?}
here=$runfiles/tools/slurm
cluster=$here/local_cluster.sh
grid=$here/testdata/tiny_grid.textproto
export MDM_GRID_BIN=$runfiles/mdm/bin/grid

tmp=${TEST_TMPDIR:?}
cluster_dir=$tmp/cluster
work=$tmp/work
mkdir -p "$work"

log() { echo "slurm_grid_test: $*" >&2; }

show_logs() {
  echo "===== scontrol show job =====" >&2
  scontrol -o show job 2>&1 >&2 || true
  local f
  for f in "$work"/slurm-*.out; do
    [[ -e "$f" ]] || continue
    echo "===== $f =====" >&2
    tail -n 60 "$f" >&2
  done
  "$cluster" logs "$cluster_dir" 25 || true
}

fail() {
  log "FAIL: $*"
  show_logs
  exit 1
}

sbatch_pid=
cleanup() {
  local rc=$?
  [[ -n "$sbatch_pid" ]] && kill "$sbatch_pid" 2>/dev/null
  "$cluster" stop "$cluster_dir" || log "stopping the cluster failed"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 143' TERM INT

start=$SECONDS
unset SLURM_CONF
exports=$("$cluster" start "$cluster_dir") || fail "the cluster did not start"
eval "$exports"
[[ -n "${SLURM_CONF:-}" ]] || fail "local_cluster.sh printed no SLURM_CONF"
log "cluster up after $((SECONDS - start))s"

cd "$work"
points=$("$MDM_GRID_BIN" --grid="$grid" --list) || fail "grid --list failed"
n=$(wc -l <<<"$points")
((n == 4)) || fail "expected 4 grid points, got $n:"$'\n'"$points"

# One CPU and a little memory per task, so two points run at once on a
# small machine; a time limit in case a point hangs.
# In the background, so a TERM (bazel's timeout) runs the trap at once;
# --foreground keeps sbatch in this process group, where the TERM reaches it.
timeout --foreground "$WAIT_TIMEOUT_S" \
  sbatch --parsable --wait --array=0-$((n - 1)) \
    --cpus-per-task=1 --mem=1G --time=5 \
    "$here/sweep.sbatch" "$grid" >"$work/sbatch.out" 2>"$work/sbatch.err" &
sbatch_pid=$!
rc=0
wait "$sbatch_pid" || rc=$?
sbatch_pid=
job=$(head -n 1 "$work/sbatch.out" | cut -d';' -f1)
cat "$work/sbatch.err" >&2
((rc != 124)) || fail "array job $job did not finish within ${WAIT_TIMEOUT_S}s"
((rc == 0)) || fail "sbatch --wait exited with $rc (array job $job)"
[[ "$job" =~ ^[0-9]+$ ]] || fail "sbatch printed no job id: $(cat "$work/sbatch.out")"
log "array job $job finished after $((SECONDS - start))s"

# Every task COMPLETED with exit code 0, as the controller saw it.
tasks=$(scontrol -o show job "$job") || fail "scontrol show job $job failed"
for ((i = 0; i < n; i++)); do
  line=$(grep -E "ArrayTaskId=$i( |$)" <<<"$tasks") ||
    fail "task $i of job $job is missing from scontrol"
  [[ "$line" == *"JobState=COMPLETED"* && "$line" == *" ExitCode=0:0"* ]] ||
    fail "task $i did not complete cleanly: $line"
done

# Every point's log and output directory.
while IFS=$'\t' read -r index overrides dir; do
  out="$work/slurm-${job}_${index}.out"
  [[ -f "$out" ]] || fail "no log $out for point $index ($overrides)"
  grep -q "point $index done" "$out" || fail "point $index: no 'done' in $out"
  for f in config.textproto metrics.csv checkpoints/last.pt; do
    [[ -s "$dir/$f" ]] || fail "point $index: missing $dir/$f"
  done
  rows=$(($(wc -l <"$dir/metrics.csv") - 1))
  ((rows >= 1)) || fail "point $index: $dir/metrics.csv has no rows"
  log "point $index ($overrides): $rows metrics rows, last.pt present"
done <<<"$points"

log "PASS in $((SECONDS - start))s"
