#!/usr/bin/python3
"""A small Fashion-MNIST classifier as a TorchScript feature network for FID.

  /usr/bin/python3 tools/experiments/fmnist_classifier.py OUT.pt [--seed 0]

No Inception weights exist offline, so sample quality is measured with the
features of a classifier trained here, reproducibly: a fixed seed, one
thread, the Fashion-MNIST IDX files of /usr/share/datasets/fashion-mnist,
Debian's python3-torch. Two convolution blocks (32 and 64 channels, 3x3,
batch norm, ReLU, 2x2 max pool) and a 128-wide hidden layer, 4 epochs of
Adam at batch 128; test accuracy ~91%. The saved module maps images
[N, 1, 28, 28] in [0, 1] (what `eval --metric=fid` feeds it) to the 128
features before the last layer, the role Inception's pool features play in
FID. Numbers made with it are "classifier FID", comparable only with each
other (the fingerprint of OUT.pt travels with every MDM FID value).
"""
import argparse
import gzip
import os
import struct

import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:  # Images: count, rows, cols, then bytes.
        rows, cols = struct.unpack(">II", data[8:16])
        pixels = torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8)
        return pixels.view(count, 1, rows, cols).float() / 255.0
    if magic == 2049:  # Labels.
        return torch.frombuffer(bytearray(data[8:]), dtype=torch.uint8).long()
    raise ValueError(f"{name}: not an IDX file (magic {magic})")


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        return self.head(self.features(2 * x - 1))


class Features(nn.Module):
    """Images in [0, 1] -> the classifier's 128 penultimate features."""

    def __init__(self, classifier):
        super().__init__()
        self.features = classifier.features

    def forward(self, x):
        return self.features(2 * x - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    x_train, y_train = read_idx("train-images-idx3-ubyte.gz"), read_idx("train-labels-idx1-ubyte.gz")
    x_test, y_test = read_idx("t10k-images-idx3-ubyte.gz"), read_idx("t10k-labels-idx1-ubyte.gz")
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), 128):
            batch = order[start:start + 128]
            loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = sum((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum().item()
                          for i in range(0, len(x_test), 1000))
        print(f"epoch {epoch + 1}: test accuracy {correct / len(x_test):.4f}", flush=True)
    features = torch.jit.script(Features(model).eval())
    features.save(args.out)
    print(f"wrote {args.out}: images [N, 1, 28, 28] in [0, 1] -> features [N, 128]")


if __name__ == "__main__":
    main()
