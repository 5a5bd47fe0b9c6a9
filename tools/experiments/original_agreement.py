"""Trains the original for a fixed number of steps the way its Lightning loop
does, then reports its validation bits/dim, for original_agreement.sh.

Runs with the original's checkout and the benchmark stand-ins on PYTHONPATH
(nothing of the original is in this repository):
  PYTHONPATH=<original_bench>/shims:<original> python3 original_agreement.py \
      --yaml <original>/configs/mnist/learned_3.yaml --steps 400 --seed 0

The loop is Lightning's automatic optimisation as the original configures it
(mdm/bin/train.py): training_step, backward, gradient-norm clipping at
grad_clip_val, the optimizer its configure_optimizers returns, batches in
file order (its MNIST loader does not shuffle). The evaluation is its
validation loop: evaluate_step over the test images, each metric summed over
examples and divided by their number. Data: Fashion-MNIST's IDX files, scaled
to [0, 1] as torchvision's ToTensor does. Prints one JSON line.
"""
import argparse, gzip, json, random, time

import numpy as np
import torch
import pytorch_lightning as pl

p = argparse.ArgumentParser()
p.add_argument("--yaml", required=True, help="one of the original's configs")
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--steps", type=int, default=400)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--eval_limit", type=int, default=0, help="first N test images; 0: all")
a = p.parse_args()

# The stand-in LightningModule has no fit hooks; the original's on_fit_start
# calls its parent's before building its distributions.
if not hasattr(pl.LightningModule, "on_fit_start"):
    pl.LightningModule.on_fit_start = lambda self: None

from mdm.utils.utils import get_config
from mdm.bin.train import get_model

torch.set_num_threads(a.threads)
# What pl.seed_everything seeds.
random.seed(a.seed)
np.random.seed(a.seed)
torch.manual_seed(a.seed)

cfg = get_config(a.yaml)
cfg.seed = a.seed
model, _ = get_model(cfg)
model.on_fit_start()
opt = model.configure_optimizers()
if isinstance(opt, (list, tuple)):
    opt = opt[0][0] if isinstance(opt[0], (list, tuple)) else opt[0]


def images(name):
    with gzip.open(f"{a.data}/{name}", "rb") as f:
        raw = f.read()
    arr = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return torch.from_numpy(arr.astype(np.float32) / 255.0)


train = images("train-images-idx3-ubyte.gz")
test = images("t10k-images-idx3-ubyte.gz")
if a.eval_limit:
    test = test[: a.eval_limit]

start = time.perf_counter()
model.train()
step = 0
while step < a.steps:
    for i in range(0, len(train), cfg.batch_size):
        if step == a.steps:
            break
        x = train[i : i + cfg.batch_size]
        loss = model.training_step((x, torch.zeros(len(x))), step)["loss"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip_val)
        opt.step()
        step += 1
train_s = time.perf_counter() - start

model.eval()
sums, n = {}, 0
with torch.no_grad():
    for i in range(0, len(test), cfg.test_batch_size):
        x = test[i : i + cfg.test_batch_size]
        out = model.evaluate_step((x, torch.zeros(len(x))), i, "val")
        for k, v in out.items():
            if k != "val_batch_size":
                sums[k] = sums.get(k, 0.0) + v
        n += out["val_batch_size"]
print(json.dumps({
    "impl": "original", "torch": torch.__version__, "steps": step, "seed": a.seed,
    "train_s": round(train_s, 1), "eval_examples": n,
    "bpd_offset": sums["val_weighted_dsm_bpd_offset"] / n,
    "bpd_no_offset": sums["val_weighted_dsm_bpd_no_offset"] / n,
}))
