"""The original's training step, operator by operator: the counterpart of
train_step_bench --profile_top=N for the same work (docs/benchmarks.md).

Runs with the original's checkout and the benchmark stand-ins on PYTHONPATH
(nothing of the original is in this repository):
  PYTHONPATH=<original_bench>/shims:<original> OPENBLAS_NUM_THREADS=1 \\
      python3 original_op_profile.py --ref <original> --dataset cifar \\
      --model HoUNet --bs 8 --threads 1
Builds the model as ref_bench.py does (the original's configs/<dataset>/
learned_3.yaml, random images of its shape), takes two warm-up steps, then
profiles one step (training_step, backward, Adam) with torch.profiler and
prints the top operators by self CPU time (with --by_shape, by operator and
input shapes, with the profiler's FLOP estimates).
"""
import argparse

import torch
import pytorch_lightning as pl

p = argparse.ArgumentParser()
p.add_argument("--ref", required=True, help="the original's checkout")
p.add_argument("--dataset", choices=["mnist", "cifar"], default="cifar")
p.add_argument("--model", default="HoUNet")
p.add_argument("--bs", type=int, default=8)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--top", type=int, default=25)
p.add_argument("--by_shape", action="store_true",
               help="a row per operator and input shapes (the layers), with "
               "the profiler's FLOP estimates: train_step_bench's "
               "--profile_by_shape")
a = p.parse_args()

if not hasattr(pl.LightningModule, "on_fit_start"):
    pl.LightningModule.on_fit_start = lambda self: None

from mdm.utils.utils import get_config
from mdm.bin.train import get_model

torch.set_num_threads(a.threads)
torch.manual_seed(0)
cfg = get_config(f"{a.ref}/configs/{a.dataset}/learned_3.yaml")
cfg.score_model_type = a.model
model, _ = get_model(cfg)
opt = model.configure_optimizers()
if isinstance(opt, (list, tuple)):
    opt = opt[0][0] if isinstance(opt[0], (list, tuple)) else opt[0]
shape = (a.bs, 3, 32, 32) if a.dataset == "cifar" else (a.bs, 1, 28, 28)
x = torch.rand(shape)
y = torch.zeros(a.bs)


def step():
    loss = model.training_step((x, y), 0)["loss"]
    opt.zero_grad()
    loss.backward()
    opt.step()


for _ in range(2):
    step()
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                            record_shapes=a.by_shape,
                            with_flops=a.by_shape) as prof:
    step()
print(f"torch {torch.__version__}, {a.threads} thread(s), {a.model} batch {a.bs}")
print(prof.key_averages(group_by_input_shape=a.by_shape).table(
    sort_by="self_cpu_time_total", row_limit=a.top,
    max_shapes_column_width=60))
