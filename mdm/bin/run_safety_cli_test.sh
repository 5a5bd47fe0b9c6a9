#!/usr/bin/env bash
# The binaries end to end as a careless or unlucky user drives them: a run
# directory is never overwritten by accident, resumed only when compatible,
# written by one process at a time, read back only when intact, and every
# bad input is refused with one line on stderr and exit code 1.
set -u
bin=mdm/bin
source mdm/bin/cli_test_lib.sh
tmp=$(mktemp -d)
trap 'kill -9 "${busy_pid:-}" 2>/dev/null; rm -rf "$tmp"' EXIT

toy=configs/toy/checkerboard.textproto
small=(--set=data.limit_examples=512 --set=training.batch_size=64
       --set=training.n_epochs=1 --set=sampling.n_fes=4 --num_threads=1)
train() { "$bin/train" --config=$toy "${small[@]}" "$@" 2>"$tmp/train.log"; }
sum() { md5sum "$1" | cut -d' ' -f1; }

# 1. No silent overwrite.
run=$tmp/run
train --output_dir="$run" || fail "first training failed: $(tail -1 "$tmp/train.log")"
last=$(sum "$run/checkpoints/last.pt")
config=$(sum "$run/config.textproto")
expect_error "already holds a run (config.textproto): --resume continues it, --overwrite replaces it" \
  train --config=$toy "${small[@]}" --output_dir="$run"
[[ $(sum "$run/checkpoints/last.pt") == "$last" ]] || fail "a refused run changed last.pt"
expect_error "--resume and --overwrite exclude each other" \
  train --config=$toy "${small[@]}" --output_dir="$run" --resume --overwrite

# 2. Resume only when compatible; the config is rewritten only after.
expect_error "cannot resume $run/checkpoints/last.pt with score_model.hidden_dim = 64: the run was trained with 128" \
  train --config=$toy "${small[@]}" --output_dir="$run" --resume --set=score_model.hidden_dim=64
expect_error "with diffusion.n_vars = 3: the run was trained with 2" \
  train --config=$toy "${small[@]}" --output_dir="$run" --resume --set=diffusion.n_vars=3
[[ $(sum "$run/config.textproto") == "$config" ]] || fail "a refused resume rewrote config.textproto"
[[ $(sum "$run/checkpoints/last.pt") == "$last" ]] || fail "a refused resume changed last.pt"
# Safe changes resume, and are logged.
touch "$run/checkpoints/last.pt.tmp.99999"  # Left by a crash.
train --output_dir="$run" --resume --set=training.n_epochs=2 --set=optimizer.lr=0.0005 ||
  fail "a compatible resume failed: $(tail -1 "$tmp/train.log")"
grep -q "resuming with training.n_epochs = 2 (was 1)" "$tmp/train.log" || fail "the change was not logged"
grep -q "removed 1 temporary file" "$tmp/train.log" || fail "the stale temporary was not reported"
[[ -e "$run/checkpoints/last.pt.tmp.99999" ]] && fail "the stale temporary is still there"
# --overwrite replaces the run: its eval.csv starts again.
train --output_dir="$run" --overwrite || fail "--overwrite failed: $(tail -1 "$tmp/train.log")"
[[ $(grep -c . "$run/eval.csv") -eq 2 ]] || fail "--overwrite kept old eval.csv rows: $(cat "$run/eval.csv")"

# 3. One writer per run: a second train into a directory in use fails at
# once; a killed holder leaves no lock behind.
busy=$tmp/busy
"$bin/train" --config=$toy --output_dir="$busy" --num_threads=1 \
  --set=training.n_epochs=1000 2>/dev/null &
busy_pid=$!
for _ in $(seq 200); do [[ -s "$busy/.lock" ]] && break; sleep 0.1; done
expect_error "is in use by another run (pid $busy_pid on" \
  train --config=$toy "${small[@]}" --output_dir="$busy" --resume
kill -9 "$busy_pid"; wait "$busy_pid" 2>/dev/null
train --output_dir="$busy" --resume || fail "resuming after kill -9 failed: $(tail -1 "$tmp/train.log")"

# 4. Checkpoints are verified: a flipped byte is "corrupt"; eval falls back
# from a corrupt best.pt to last.pt.
flip() {  # flip FILE: one byte in the middle of the payload.
  local size; size=$(stat -c %s "$1")
  printf '\xff' | dd of="$1" bs=1 seek=$((size / 2)) conv=notrunc status=none
}
cp -r "$run" "$tmp/corrupt"
flip "$tmp/corrupt/checkpoints/best.pt"
"$bin/eval" --checkpoint="$tmp/corrupt" --limit_examples=256 --num_threads=1 \
  >"$tmp/eval.out" 2>"$tmp/eval.log" || fail "eval did not fall back to last.pt: $(tail -1 "$tmp/eval.log")"
grep -q "corrupt" "$tmp/eval.log" || fail "eval did not warn about the corrupt best.pt"
grep -q "last.pt" "$tmp/eval.out" || fail "eval did not use last.pt"
flip "$tmp/corrupt/checkpoints/last.pt"
expect_error "corrupt" eval --checkpoint="$tmp/corrupt/checkpoints/last.pt" --num_threads=1

# 5. Bad input: one line, exit 1.
expect_error "config file $tmp is a directory" train --config="$tmp"
: >"$tmp/empty.textproto"
expect_error "config file $tmp/empty.textproto sets no field" train --config="$tmp/empty.textproto"
printf 'seed: 1\nseed: 2\n' >"$tmp/twice.textproto"
expect_error 'Non-repeated field "seed" is specified multiple times' train --config="$tmp/twice.textproto"
fresh=(--config=$toy "${small[@]}" --output_dir="$tmp/never")
expect_error "diffusion.beta_1 must be finite, got inf" train "${fresh[@]}" --set=diffusion.beta_1=inf
expect_error "optimizer.weight_decay must be finite, got inf" train "${fresh[@]}" --set=optimizer.weight_decay=inf
expect_error "diffusion.d is all zeros for CUSTOM" train "${fresh[@]}" \
  --set=diffusion.sde_type=CUSTOM --set='diffusion.q=[0,1,-1,0]' --set='diffusion.d=[0,0,0,0]'
expect_error "data.num_workers must be at most 64, got 100000" train "${fresh[@]}" --set=data.num_workers=100000
expect_error "objective.elbo_mc_samples_train must be at most 1024, got 1e+09" train "${fresh[@]}" \
  --set=objective.elbo_mc_samples_train=1000000000
[[ -e "$tmp/never" ]] && fail "a refused config created its output directory"
expect_error "--steps and --batch_size must be >= 0" sample --checkpoint="$run" --steps=-3 --out="$tmp/s.png"
expect_error "--steps and --batch_size must be >= 0" sample --checkpoint="$run" --batch_size=-1 --out="$tmp/s.png"
expect_error "--rtol must be positive and finite, got -1" sample --checkpoint="$run" --rtol=-1 --out="$tmp/s.png"
expect_error "--atol must be positive and finite, got 0" eval --checkpoint="$run" --metric=ode --atol=0
expect_error "--rtol must be positive and finite, got nan" eval --checkpoint="$run" --metric=ode --rtol=nan
expect_error "--ode_max_steps must be positive, got 0" sample --checkpoint="$run" --ode_max_steps=0 --out="$tmp/s.png"
expect_error "--ode_max_steps must be positive, got -5" eval --checkpoint="$run" --metric=ode --ode_max_steps=-5
expect_error "raise max_steps (--ode_max_steps" sample --checkpoint="$run" --sampler=ode \
  --ode_max_steps=2 --n=16 --out="$tmp/s.png" --num_threads=1
printf 'base_config: "%s"\naxis { field: "diffusion.n_vars" values: "2" values: "5" }\n' \
  "$PWD/configs/fashion_mnist/cld.textproto" >"$tmp/grid.textproto"
expect_error "point 1 (diffusion.n_vars=5): " grid --grid="$tmp/grid.textproto" --list
# A huge accumulation still takes a step per epoch (Lightning's rule).
train --output_dir="$tmp/accumulate" --set=training.accumulate_grad_batches=1000000000 ||
  fail "a huge accumulate_grad_batches failed: $(tail -1 "$tmp/train.log")"
[[ $(grep -c "finished: 1 steps in" "$tmp/train.log") -eq 1 ]] || fail "accumulate_grad_batches=1e9 took no step"

if [[ $failures -gt 0 ]]; then echo "$failures failures"; exit 1; fi
echo "run_safety_cli_test: all checks passed"
