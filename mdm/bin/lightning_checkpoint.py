"""Reads a checkpoint of the original MDM implementation (a PyTorch Lightning
torch.save file) and writes what //mdm/bin:import_original needs as a plain
dict of tensors, which LibTorch reads:

  state_dict.<name>         the model's tensors
  optimizer.<index>.<slot>  optimizer state of parameter <index> (step,
                            exp_avg, exp_avg_sq, exp_inf, ...)
  param_order               uint8: JSON list of state_dict names in parameter
                            order (the optimizer's indices)
  hyper_parameters          uint8: JSON of the stored config's keys, if any
  global_step, epoch        int64 [1]
  epochs_processed          int64 [1]: the fit loop's
                            epoch_progress.current.processed (Lightning 1.6
                            and later), -1 where the checkpoint has none
  lightning_version         uint8: its pytorch-lightning_version, if any

A checkpoint is data, never code. Unpickling resolves only the globals in
_ALLOWED (torch's tensor and storage rebuilds, the containers and plain
types Lightning stores); every other global, whatever it names (Lightning's
AttributeDict and callback states, or os.system in a crafted file), becomes
an inert stand-in that keeps what unpickling gives it and never runs.
TorchScript archives, which torch.load would hand to torch.jit.load, are
refused. Only tensors and plain values are kept. Needs only Debian's
python3-torch.

Usage: python3 lightning_checkpoint.py IN OUT
"""
import argparse
import json
import pickle
import sys
import zipfile

import torch

# (module, name) pairs resolved to the real object: calling any of them
# builds a value and does nothing else.
_ALLOWED = {
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("argparse", "Namespace"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("builtins", "complex"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
} | {("torch", f"{kind}Storage") for kind in (
    "Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char",
    "Byte", "Bool", "ComplexFloat", "ComplexDouble")} | {
    ("torch", dtype) for dtype in (
        "float32", "float64", "float16", "bfloat16", "int64", "int32",
        "int16", "int8", "uint8", "bool")}


class _StandIn(dict):
    """Any global not allowed: keeps what unpickling gives it."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __setstate__(self, state):
        self.__dict__["_state"] = state


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        return type(name, (_StandIn,), {"__module__": module})


def _load(file, **kwargs):
    return _Unpickler(file, **kwargs).load()


# torch.load unpickles with pickle.Unpickler and, for the legacy format's
# headers, pickle.load (Debian's 1.13 ignores its pickle_module argument),
# so this short-lived process swaps both.
pickle.Unpickler = _Unpickler
pickle.load = _load


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _config(hyper_parameters):
    """The config's keys from Lightning's hparams (a Namespace under
    'config', or the keys themselves)."""
    if hyper_parameters is None:
        return None
    config = hyper_parameters
    if isinstance(hyper_parameters, dict) and "config" in hyper_parameters:
        config = hyper_parameters["config"]
    if isinstance(config, argparse.Namespace):
        config = vars(config)
    if not isinstance(config, dict):
        return None
    return {str(k): _plain(v) for k, v in config.items()
            if not isinstance(v, torch.Tensor)}


def _bytes(text):
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8)


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: lightning_checkpoint.py IN OUT")
    if zipfile.is_zipfile(argv[1]):
        names = zipfile.ZipFile(argv[1]).namelist()
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            sys.exit(f"{argv[1]} is a TorchScript archive (code), not a "
                     "checkpoint: refused")
    checkpoint = torch.load(argv[1], map_location="cpu")
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        sys.exit(f"{argv[1]} has no state_dict: not a Lightning checkpoint")
    out = {}
    state_dict = checkpoint["state_dict"]
    for name, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            sys.exit(f"{argv[1]}: state_dict entry {name} is not a tensor")
        out[f"state_dict.{name}"] = tensor
    out["param_order"] = _bytes(json.dumps(list(state_dict.keys())))
    for optimizer in checkpoint.get("optimizer_states") or []:
        for index, slots in optimizer.get("state", {}).items():
            for slot, value in slots.items():
                if not isinstance(value, torch.Tensor):
                    value = torch.tensor(float(value))
                if slot == "step":
                    value = value.to(torch.float64).reshape(1)
                out[f"optimizer.{index}.{slot}"] = value
        break  # The original has one optimizer.
    config = _config(checkpoint.get("hyper_parameters"))
    if config is not None:
        out["hyper_parameters"] = _bytes(json.dumps(config))
    for key in ("global_step", "epoch"):
        out[key] = torch.tensor([int(checkpoint.get(key, 0) or 0)])
    processed = -1
    try:
        progress = checkpoint["loops"]["fit_loop"]["epoch_progress"]
        processed = int(progress["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        pass
    out["epochs_processed"] = torch.tensor([processed])
    version = checkpoint.get("pytorch-lightning_version")
    if isinstance(version, str):
        out["lightning_version"] = _bytes(version)
    torch.save(out, argv[2])


if __name__ == "__main__":
    main(sys.argv)
