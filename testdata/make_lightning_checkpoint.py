"""Writes a checkpoint shaped like the ones the original MDM implementation
trains and saves with PyTorch Lightning, for import_original_lib_test:
a torch.save zip holding state_dict (deep_model.*, qmodule.q, dmodule.d),
optimizer_states (Adam state by parameter index), hyper_parameters (an
AttributeDict holding the config as an argparse.Namespace), and objects of
Lightning's own classes, which Debian's Python cannot import.

Usage: python3 make_lightning_checkpoint.py NETWORK_FIXTURE YAML OUT [MARKER]
  NETWORK_FIXTURE: testdata/original/tiny_unet_k3_28x28x1.pt (its
  state_dict.* become deep_model.*); YAML: the original's config.
  MARKER: a hostile checkpoint: objects whose unpickling would run
  os.system, builtins.eval and subprocess.Popen, each creating MARKER.<n>,
  hidden in its callback states and hyper_parameters. A reader that runs
  code from a checkpoint leaves those files behind.
"""
import argparse
import collections
import sys
import types

import torch


def install_module(name, **members):
    """A module Python pickles classes from; absent when they are read."""
    module = types.ModuleType(name)
    module.__dict__.update(members)
    for cls in members.values():
        cls.__module__ = name
    sys.modules[name] = module
    parent = name.rpartition(".")[0]
    while parent and parent not in sys.modules:
        sys.modules[parent] = types.ModuleType(parent)
        parent = parent.rpartition(".")[0]


class AttributeDict(dict):
    pass


class ModelCheckpoint:
    def __init__(self):
        self.best_model_score = torch.tensor(3.1)
        self.monitor = "val_weighted_dsm_bpd_no_offset"


install_module("pytorch_lightning.utilities.parsing", AttributeDict=AttributeDict)
install_module("pytorch_lightning.callbacks.model_checkpoint",
               ModelCheckpoint=ModelCheckpoint)


def read_yaml(path):
    """The flat key: value YAML of the original's configs, typed as
    yaml.safe_load types them for these files."""
    config = {}
    for line in open(path):
        line = line.split("#")[0].strip()
        if not line or ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        if value in ("True", "False"):
            config[key] = value == "True"
        else:
            try:
                config[key] = int(value)
            except ValueError:
                try:
                    config[key] = float(value) if "." in value else value
                except ValueError:
                    config[key] = value
    return config


class Hostile:
    """Unpickles as a call of `function` with `args`."""

    def __init__(self, function, *args):
        self.call = (function, args)

    def __reduce__(self):
        return self.call


def hostile_objects(marker):
    import builtins
    import os
    import subprocess
    return [
        Hostile(os.system, f"touch {marker}.1"),
        Hostile(builtins.eval, f"open({marker + '.2'!r}, 'w')"),
        Hostile(subprocess.Popen, ["touch", f"{marker}.3"]),
    ]


def main(fixture_path, yaml_path, out_path, marker=None):
    fixture = torch.load(fixture_path)
    config = read_yaml(yaml_path)
    k = config["n_vars"]
    generator = torch.Generator().manual_seed(5)
    state_dict = collections.OrderedDict()
    for name, tensor in fixture.items():
        if name.startswith("state_dict."):
            state_dict["deep_model." + name[len("state_dict."):]] = tensor
    state_dict["qmodule.q"] = torch.rand(k, k, generator=generator) - 0.5
    state_dict["dmodule.d"] = torch.rand(k, generator=generator) - 0.5
    # Adam state for every trained parameter (the Fourier weights are not).
    state = {}
    for index, name in enumerate(state_dict):
        if name == "deep_model.embed.0.W":
            continue
        tensor = state_dict[name]
        state[index] = {"step": torch.tensor(1407.0),
                        "exp_avg": torch.randn(tensor.shape, generator=generator) * 1e-3,
                        "exp_avg_sq": torch.rand(tensor.shape, generator=generator) * 1e-6}
    checkpoint = {
        "epoch": 2,
        "global_step": 1407,
        "pytorch-lightning_version": "1.8.6",
        "state_dict": state_dict,
        "loops": {"fit_loop": {"epoch_progress": {"current": {"completed": 3}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val'}": ModelCheckpoint()},
        "optimizer_states": [{"state": state,
                              "param_groups": [{"lr": 2e-4, "params": list(range(len(state_dict)))}]}],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": AttributeDict(config=argparse.Namespace(**config)),
    }
    if marker:
        attacks = hostile_objects(marker)
        checkpoint["callbacks"]["Evil"] = attacks[0]
        checkpoint["hyper_parameters"]["evil"] = attacks[1]
        checkpoint["loops"]["evil"] = attacks[2]
    torch.save(checkpoint, out_path)


if __name__ == "__main__":
    main(*sys.argv[1:])
