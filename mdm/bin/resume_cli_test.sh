#!/usr/bin/env bash
# A resumed run is a finished run: whatever cut a run off (kill -9 or a
# stop signal, during training or during its evaluation), resuming it ends
# with exactly the uninterrupted run's eval.csv, best.pt, last.pt and
# sample pictures; a stop signal is acted on within one step (counted in
# batches begun after it, not timed); a run rolls back to its own best.pt;
# and the last loose inputs get one line.
set -u
bin=mdm/bin
source mdm/bin/cli_test_lib.sh
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

toy=configs/toy/checkerboard.textproto
# Two evaluations (epochs 1 and 2) of 50 ELBO repeats each: seconds long,
# so a kill or a signal can land inside one.
run=(--config=$toy --set=data.limit_examples=2048 --set=training.batch_size=64
     --set=training.n_epochs=2 --set=training.eval_every_n_epoch=1
     --set=eval.elbo_mc_samples_eval=50 --set=sampling.n_fes=4 --num_threads=1)
sum() { md5sum "$1" | cut -d' ' -f1; }
# What a finished run leaves: its evaluations, checkpoints and pictures.
outcome() {
  local dir=$1
  cat "$dir/eval.csv"
  for f in "$dir/checkpoints/best.pt" "$dir/checkpoints/last.pt" "$dir"/samples/*; do
    echo "${f#"$dir"/} $(sum "$f")"
  done
}
# wait_for FILE: until FILE exists (at most 60 s).
wait_for() {
  for _ in $(seq 600); do [[ -e $1 ]] && return 0; sleep 0.1; done
  fail "$1 never appeared"
  return 1
}

# The uninterrupted run, moved away: every run compared with it trains in
# the same folder, which its checkpoints' configs name.
"$bin/train" "${run[@]}" --output_dir="$tmp/run" 2>"$tmp/whole.log" ||
  fail "the uninterrupted run failed: $(tail -1 "$tmp/whole.log")"
outcome "$tmp/run" >"$tmp/whole.outcome"
mv "$tmp/run" "$tmp/whole"
[[ $(grep -c . "$tmp/whole/eval.csv") -eq 3 ]] || fail "expected two evaluations: $(cat "$tmp/whole/eval.csv")"

# 1. kill -9 during the first evaluation: last.pt appears as it begins.
"$bin/train" "${run[@]}" --output_dir="$tmp/run" 2>"$tmp/killed.log" &
pid=$!
wait_for "$tmp/run/checkpoints/last.pt" && kill -9 $pid
wait $pid 2>/dev/null
[[ $(grep -c . "$tmp/run/eval.csv") -eq 1 ]] ||
  fail "the kill did not land in the evaluation: $(cat "$tmp/run/eval.csv")"
"$bin/train" "${run[@]}" --output_dir="$tmp/run" --resume 2>"$tmp/killed.log" ||
  fail "resuming the killed run failed: $(tail -1 "$tmp/killed.log")"
grep -q "what a stop cut off at this step comes first" "$tmp/killed.log" ||
  fail "the resume did not say it owes the evaluation"
diff <(outcome "$tmp/run") "$tmp/whole.outcome" >/dev/null ||
  fail "the resumed run differs from the uninterrupted one: $(diff <(outcome "$tmp/run") "$tmp/whole.outcome")"
rm -rf "$tmp/run"

# 2. Each stop signal during training stops after the step in progress:
# no batch begins after the signal but at most the one step's.
for signal in TERM INT USR1 USR2; do
  dir=$tmp/signal_$signal
  "$bin/train" "${run[@]}" --set=training.n_epochs=1000 --set=training.eval_every_n_epoch=1000 \
    --output_dir="$dir" 2>"$dir.log" &
  pid=$!
  for _ in $(seq 600); do (($(grep -c . "$dir/metrics.csv" 2>/dev/null || echo 0) >= 3)) && break; sleep 0.1; done
  kill -s "$signal" $pid
  wait $pid; rc=$?
  [[ $rc -eq 0 ]] || fail "SIG$signal: train exited $rc"
  line=$(grep "stopped by signal" "$dir.log")
  [[ $line =~ \(([0-9]+)\ batches\ begun\ after\ the\ signal\) ]] ||
    fail "SIG$signal: no stop line: $(tail -2 "$dir.log")"
  ((${BASH_REMATCH[1]:-9} <= 1)) || fail "SIG$signal: $line"
  [[ -e $dir/checkpoints/last.pt ]] || fail "SIG$signal: no last.pt"
done

# 3. A stop signal during the evaluation stops it at once (no batch after
# the signal); the resumed run evaluates first and ends as the whole one.
"$bin/train" "${run[@]}" --output_dir="$tmp/run" 2>"$tmp/stopped.log" &
pid=$!
wait_for "$tmp/run/checkpoints/last.pt" && kill -TERM $pid
wait $pid; rc=$?
[[ $rc -eq 0 ]] || fail "a stop during the evaluation exited $rc"
grep -q "stopped by signal 15 during the evaluation at step .* (0 batches begun after the signal); last.pt saved owing this step's evaluation" "$tmp/stopped.log" ||
  fail "no prompt stop during the evaluation: $(grep stopped "$tmp/stopped.log")"
[[ $(grep -c . "$tmp/run/eval.csv") -eq 1 ]] || fail "the stopped evaluation wrote a row"
"$bin/train" "${run[@]}" --output_dir="$tmp/run" --resume 2>"$tmp/stopped.log" ||
  fail "resuming the stopped run failed: $(tail -1 "$tmp/stopped.log")"
diff <(outcome "$tmp/run") "$tmp/whole.outcome" >/dev/null ||
  fail "the run stopped in its evaluation differs once resumed: $(diff <(outcome "$tmp/run") "$tmp/whole.outcome")"
rm -rf "$tmp/run"

# 4. A run rolls back to its own best.pt when last.pt is damaged: the logs
# and pictures after best.pt's step go, and it finishes again.
cp -r "$tmp/whole" "$tmp/rollback"
printf 'damaged' >"$tmp/rollback/checkpoints/last.pt"
"$bin/train" "${run[@]}" --output_dir="$tmp/rollback" --resume \
  --set=training.checkpoint_path="$tmp/rollback/checkpoints/best.pt" 2>"$tmp/rollback.log" ||
  fail "rolling back to best.pt failed: $(tail -1 "$tmp/rollback.log")"
grep -q "rolling $tmp/rollback back to step" "$tmp/rollback.log" || fail "the roll back was not logged"
[[ $(grep -c . "$tmp/rollback/eval.csv") -eq 3 ]] || fail "rolled back eval.csv: $(cat "$tmp/rollback/eval.csv")"

# 5. Extending a finished held-out run: one test row at the end, never two;
# the validation split cannot change under a run.
held=(--set=data.validation_examples=256 --set=training.n_epochs=1)
"$bin/train" "${run[@]}" "${held[@]}" --output_dir="$tmp/held" 2>"$tmp/held.log" ||
  fail "the held-out run failed: $(tail -1 "$tmp/held.log")"
"$bin/train" "${run[@]}" "${held[@]}" --set=training.n_epochs=2 --output_dir="$tmp/held" --resume 2>"$tmp/held.log" ||
  fail "extending the held-out run failed: $(tail -1 "$tmp/held.log")"
[[ $(grep -c ',test,' "$tmp/held/eval.csv") -eq 1 ]] || fail "extended held-out run: $(cat "$tmp/held/eval.csv")"
expect_error "cannot resume $tmp/held/checkpoints/last.pt with data.validation_examples = 128" \
  train "${run[@]}" --set=data.validation_examples=128 --output_dir="$tmp/held" --resume

# 6. A batch size change on resume starts at the same example, or is
# refused where no whole number of new batches gets there (the TERM run
# stopped some batches of 64 into an epoch of 32).
dir=$tmp/signal_TERM
step=$(grep -o 'after a step at step [0-9]*' "$dir.log" | grep -o '[0-9]*$')
into=$(((step % 32) * 64))
if ((into > 0)); then
  for size in 100 112 80; do
    ((into % size != 0)) && break
  done
  expect_error "it stopped $into examples into an epoch, no whole number of such batches (resume with training.batch_size = 64" \
    train "${run[@]}" --set=training.n_epochs=1000 --set=training.batch_size=$size --output_dir="$dir" --resume
fi
"$bin/train" "${run[@]}" --set=training.n_epochs=1000 --set=training.batch_size=32 \
  --set=training.max_steps=$((step + 2)) --output_dir="$dir" --resume 2>"$dir.resumed.log" ||
  fail "resuming with batches of 32 failed: $(tail -1 "$dir.resumed.log")"

# 7. grid --resume=never starts a point over, as its help says.
printf 'base_config: "%s"\noutput_root: "%s"\nbase_overrides: "%s"\nbase_overrides: "%s"\naxis { field: "seed" values: "3" }\n' \
  "$PWD/$toy" "$tmp/grid" "data.limit_examples=512" "training.n_epochs=1" >"$tmp/grid.textproto"
small=(--grid="$tmp/grid.textproto" --index=0 --num_threads=1)
"$bin/grid" "${small[@]}" >/dev/null 2>&1 || fail "the grid point failed"
"$bin/grid" "${small[@]}" --resume=never >/dev/null 2>"$tmp/grid.log" ||
  fail "grid --resume=never on a finished point: $(tail -1 "$tmp/grid.log")"
grep -q "removed the earlier run" "$tmp/grid.log" || fail "grid --resume=never did not start over"

# 8. The last loose inputs: one line each.
expect_error "data.validation_examples must be" train --config=$toy --set=data.validation_examples=-1 --output_dir="$tmp/never"
printf 'axis { field: \n' >"$tmp/bad_grid.textproto"
expect_error "bad_grid.textproto:2:1: " grid --grid="$tmp/bad_grid.textproto" --list
expect_error "unexpected argument 'junk'" eval --checkpoint="$tmp/whole" junk
expect_error "unexpected argument 'extra'" train --config=$toy extra
expect_error "--index must be >= 0, got -2" grid --grid="$tmp/grid.textproto" --index=-2
SLURM_ARRAY_TASK_ID=abc expect_error "SLURM_ARRAY_TASK_ID='abc' is not a grid index" grid --grid="$tmp/grid.textproto"
ln -s "$tmp/nowhere" "$tmp/dangling"
expect_error "$tmp/dangling is a symbolic link to $tmp/nowhere, which does not exist" \
  train --config=$toy --output_dir="$tmp/dangling"
# A run whose eval/ cannot be written: the results are printed, exit 0.
cp -r "$tmp/whole" "$tmp/readonly"
rm -rf "$tmp/readonly/eval"
: >"$tmp/readonly/eval"
"$bin/eval" --checkpoint="$tmp/readonly" --num_threads=1 >"$tmp/eval.out" 2>"$tmp/eval.log" ||
  fail "eval on an unwritable run failed: $(tail -1 "$tmp/eval.log")"
grep -q "bits/dim" "$tmp/eval.out" || fail "eval printed no results"
grep -q "the results are printed, not saved" "$tmp/eval.log" || fail "eval did not say first that it cannot save"

if [[ $failures -gt 0 ]]; then echo "$failures failures"; exit 1; fi
echo "resume_cli_test: all checks passed"
