"""Trains a toy model with the installed PyTorch Lightning and saves real
Lightning checkpoints shaped like the original MDM implementation's
(sde_type learned, n_vars 3, d_full False, score_model_type MLP, 2-D data):

  state_dict: deep_model.net.{0,2,4,6,8}.{weight,bias}, qmodule.q [3, 3],
              dmodule.d [3]
  hyper_parameters: {"config": argparse.Namespace(<the original's keys>)}
                    (the original calls save_hyperparameters() in an
                    __init__(self, config, q_fixed=None, d_fixed=None))

Writes, into OUT_DIR:
  pl_<version>.ckpt              trainer.save_checkpoint after fit
  pl_<version>_callback.ckpt     ModelCheckpoint's file from the end of the
                                 2nd of 3 epochs (mid-training)
  pl_<version>.txt               top-level keys, counters, loop state,
                                 pickled globals of each file
and WORK_DIR/manifest, the MANIFEST.txt lines for this version.

Usage: python make_checkpoint.py YAML OUT_DIR WORK_DIR
  YAML: testdata/original/yaml/mnist/learned_3.yaml; WORK_DIR: scratch
  folder outside the checkout for the Trainer (its path is stored in the
  callback's state).
"""
import argparse
import os
import pickletools
import shutil
import sys
import zipfile

import torch
import yaml
from torch import nn

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

K = 3  # n_vars
DIM = 2  # data dimension
HIDDEN = 128
BATCH_SIZE = 8
BATCHES_PER_EPOCH = 7
MAX_EPOCHS = 3
CALLBACK_EPOCH = 1  # index of the epoch whose end-of-epoch file we keep


def read_config(path):
    with open(path) as f:
        config = yaml.safe_load(f)
    config.update(score_model_type="MLP", is_image=False, dim=DIM,
                  n_vars=K, sde_type="learned")
    return argparse.Namespace(**config)


class ScoreMLP(nn.Module):
    """The original's MLP layout: input [u, t], K*dim outputs."""

    def __init__(self, width, hidden=HIDDEN):
        super().__init__()
        layers = [nn.Linear(width + 1, hidden), nn.SiLU()]
        for _ in range(3):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, width))
        self.net = nn.Sequential(*layers)

    def forward(self, u, t):
        return self.net(torch.cat([u, t[:, None]], dim=1))


class QParam(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.q = nn.Parameter(torch.randn(k, k) * 0.3)


class DParam(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.d = nn.Parameter(torch.randn(k) * 0.3)


class ToyMDM(pl.LightningModule):
    def __init__(self, config, q_fixed=None, d_fixed=None):
        super().__init__()
        self.config = config
        self.deep_model = ScoreMLP(config.n_vars * config.dim)
        self.qmodule = QParam(config.n_vars)
        self.dmodule = DParam(config.n_vars)
        self.save_hyperparameters(ignore=["q_fixed", "d_fixed"])

    def training_step(self, batch, batch_idx):
        u, t = batch
        out = self.deep_model(u, t)
        q, d = self.qmodule.q, self.dmodule.d
        return out.pow(2).mean() + 1e-3 * ((q - q.t()).pow(2).sum() + d.pow(2).sum())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.config.lr)


def dataloader():
    generator = torch.Generator().manual_seed(1)
    n = BATCH_SIZE * BATCHES_PER_EPOCH
    u = torch.randn(n, K * DIM, generator=generator)
    t = torch.rand(n, generator=generator)
    return torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(u, t), batch_size=BATCH_SIZE,
        shuffle=False, num_workers=0)


def pickled_globals(path):
    """module.name of every class or function the checkpoint's pickle names."""
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
        data = z.read(name)
    found, strings, memo = set(), [], {}
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            found.add(arg.replace(" ", "."))
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "MEMOIZE" and strings:
            memo[len(memo)] = strings[-1]
        elif op.name in ("BINGET", "LONG_BINGET") and arg in memo:
            strings.append(memo[arg])
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            found.add(strings[-2] + "." + strings[-1])
    return sorted(found)


def flatten(value, prefix=""):
    """(dotted key, scalar) pairs of nested dicts; tensors as their values."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif torch.is_tensor(value):
        yield prefix, value.tolist() if value.numel() <= 4 else f"tensor{tuple(value.shape)}"
    elif isinstance(value, (list, tuple)) and len(value) > 8:
        yield prefix, f"{type(value).__name__} of {len(value)}"
    else:
        yield prefix, repr(value)


def describe(path, completed, how):
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    name = os.path.basename(path)
    lines = [f"== {name} ({how}; {completed} epochs completed, "
             f"{BATCHES_PER_EPOCH} batches per epoch, {os.path.getsize(path)} bytes)",
             "top-level keys: " + ", ".join(checkpoint),
             f"pytorch-lightning_version: {checkpoint.get('pytorch-lightning_version')}",
             f"epoch: {checkpoint.get('epoch')}",
             f"global_step: {checkpoint.get('global_step')}",
             f"hparams_name: {checkpoint.get('hparams_name')}",
             "hyper_parameters: " + type(checkpoint["hyper_parameters"]).__module__ + "."
             + type(checkpoint["hyper_parameters"]).__name__ + " keys "
             + str(list(checkpoint["hyper_parameters"])),
             "state_dict: " + ", ".join(f"{k} {tuple(v.shape)}"
                                        for k, v in checkpoint["state_dict"].items()),
             "optimizer_states[0].state steps: " + str(sorted(
                 {float(s["step"]) for s in checkpoint["optimizer_states"][0]["state"].values()})),
             "callbacks: " + ", ".join(checkpoint.get("callbacks", {})),
             "pickled globals: " + ", ".join(pickled_globals(path)),
             "loops: " + ", ".join(checkpoint.get("loops", {})),
             "loops.fit_loop (flattened, its val_loop left out):"]
    for key, value in flatten(checkpoint.get("loops", {}).get("fit_loop", {})):
        if ".val_loop." not in key:
            lines.append(f"  {key} = {value}")
    adam_steps = ",".join(sorted({f"{float(s['step']):g}" for s in
                                  checkpoint["optimizer_states"][0]["state"].values()}))
    progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {})
    summary = " ".join(f"{part}.{field}={progress[part][field]}"
                       for part in ("total", "current") if part in progress
                       for field in ("ready", "started", "processed", "completed")
                       if field in progress[part])
    manifest = (f"{name}\tversion={checkpoint.get('pytorch-lightning_version')}"
                f"\tepoch={checkpoint.get('epoch')}\tglobal_step={checkpoint.get('global_step')}"
                f"\tadam_step={adam_steps}\tbatches_per_epoch={BATCHES_PER_EPOCH}\tepochs_completed={completed}"
                f"\tsaved={how}\tfit_loop.epoch_progress: {summary or 'absent'}")
    return lines, manifest


def main(yaml_path, out_dir, work_dir):
    version = pl.__version__
    pl.seed_everything(0)
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(out_dir, exist_ok=True)
    model = ToyMDM(read_config(yaml_path))
    callback = ModelCheckpoint(dirpath=os.path.join(work_dir, "callback"),
                               filename="{epoch}", every_n_epochs=1,
                               save_top_k=-1, monitor=None)
    trainer = pl.Trainer(max_epochs=MAX_EPOCHS, accelerator="cpu", devices=1,
                         logger=False, enable_checkpointing=True,
                         callbacks=[callback], enable_progress_bar=False,
                         enable_model_summary=False, deterministic=True)
    trainer.fit(model, dataloader())

    after_fit = os.path.join(out_dir, f"pl_{version}.ckpt")
    trainer.save_checkpoint(after_fit)
    mid = os.path.join(out_dir, f"pl_{version}_callback.ckpt")
    shutil.copyfile(os.path.join(work_dir, "callback", f"epoch={CALLBACK_EPOCH}.ckpt"), mid)
    for path in (after_fit, mid):
        os.chmod(path, 0o644)

    report, manifest = [f"pytorch_lightning {version}, torch {torch.__version__}"], []
    for path, completed, how in (
            (after_fit, MAX_EPOCHS, "after fit (trainer.save_checkpoint)"),
            (mid, CALLBACK_EPOCH + 1,
             f"callback (ModelCheckpoint every_n_epochs=1, end of epoch index {CALLBACK_EPOCH})")):
        lines, line = describe(path, completed, how)
        report += [""] + lines
        manifest.append(line)
        print("wrote", path, os.path.getsize(path), "bytes")
    with open(os.path.join(out_dir, f"pl_{version}.txt"), "w") as f:
        f.write("\n".join(report) + "\n")
    with open(os.path.join(work_dir, "manifest"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    print("wrote", os.path.join(out_dir, f"pl_{version}.txt"))


if __name__ == "__main__":
    main(*sys.argv[1:])
