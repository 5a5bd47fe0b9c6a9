"""LibTorch's two CPU convolution paths, pass by pass, on the paper's
network's 3x3 convolution shapes: its default (aten::conv2d and
aten::convolution_backward: oneDNN on these shapes, as the network runs
them; train_step_bench --profile_by_shape shows the kernel) and the
im2col + BLAS GEMM path (aten::_slow_conv2d_*), for the forward, the input
gradient and the weight gradient of each, best of --reps, in ms and GFLOP/s.
Whether a per-shape choice of path could speed up the HoUNet step
(docs/benchmarks.md, "The paper's network"); runs on any PyTorch:

  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
      python3 tools/bench/conv_paths.py --threads 1
"""
import argparse
import time

import torch
import torch.nn.functional as F

# (input channels, output channels, side) of HoUNet's 3x3 stride-1
# convolutions on CIFAR-10 (ch 128, ch_mult 1, 2, 2, 2): the encoder's and
# decoder's, whose inputs concatenate skips.
SHAPES = [(128, 128, 32), (256, 128, 32), (384, 128, 32), (128, 256, 16),
          (256, 256, 16), (384, 256, 16), (512, 256, 16), (256, 256, 8),
          (512, 256, 8), (256, 256, 4), (512, 256, 4)]

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--reps", type=int, default=5)
a = p.parse_args()
torch.set_num_threads(a.threads)
aten = torch.ops.aten


def best_ms(f):
    f()
    best = float("inf")
    for _ in range(a.reps):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return 1e3 * best


def default_backward(g, x, w, mask):
    return lambda: aten.convolution_backward(
        g, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)


def gemm_backward(g, x, w, mask):
    return lambda: aten._slow_conv2d_backward(
        g, x, w, [3, 3], [1, 1], [1, 1], mask)


print(f"torch {torch.__version__}, {a.threads} thread(s), batch {a.batch}; "
      "ms (GFLOP/s), default | GEMM")
print(f"{'in -> out, side':>18} {'forward':>24} {'input gradient':>24} "
      f"{'weight gradient':>24}")
for cin, cout, side in SHAPES:
    x = torch.randn(a.batch, cin, side, side)
    w = torch.randn(cout, cin, 3, 3)
    g = torch.randn(a.batch, cout, side, side)
    gflop = 2.0 * a.batch * cout * side * side * cin * 9 / 1e9
    passes = [
        (lambda: F.conv2d(x, w, None, 1, 1),
         lambda: aten._slow_conv2d_forward(x, w, [3, 3], None, [1, 1],
                                           [1, 1])),
        (default_backward(g, x, w, [True, False, False]),
         gemm_backward(g, x, w, [True, False, False])),
        (default_backward(g, x, w, [False, True, False]),
         gemm_backward(g, x, w, [False, True, False])),
    ]
    cells = []
    for default, gemm in passes:
        t1, t2 = best_ms(default), best_ms(gemm)
        cells.append(f"{t1:6.1f} ({gflop / t1 * 1e3:3.0f}) | "
                     f"{t2:6.1f} ({gflop / t2 * 1e3:3.0f})")
    print(f"{f'{cin} -> {cout}, {side}':>18} " + " ".join(cells))
