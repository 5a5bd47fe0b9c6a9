#!/usr/bin/env python3
"""The tables of docs/benchmarks.md from side_by_side.sh's results.tsv.

  tools/bench/summarize.py OUT/results.tsv

Each figure is the range (min-max) of its rounds; ratios are of medians.
Table 1: MDM on Debian's LibTorch 1.13 against the wheel's 2.x. Table 2:
MDM against the original on the same torch version.
"""
import collections
import statistics
import sys

LABELS = {
    "step_ms_TinyUNet": "TinyUNet train step, batch 128 (ms)",
    "step_ms_Mlp": "MLP train step, batch 512 (ms)",
    "step_ms_HoUNet": "HoUNet train step, batch 8 (ms)",
    "em_64x100_s": "EM sampling, 64 x 100 steps (s)",
    "test_elbo_images_per_s": "test ELBO (images/s)",
    "train_peak_rss_mib": "peak RSS, TinyUNet training (MiB)",
    "peak_rss_mib_step_ms_TinyUNet": "peak RSS, TinyUNet training (MiB)",
    "peak_rss_mib_step_ms_HoUNet": "peak RSS, HoUNet training (MiB)",
    "tiny_unet_step_gflops": "TinyUNet step GFLOP/s",
    "tiny_unet_sgemm_peak_gflops": "SGEMM peak GFLOP/s",
    "tiny_unet_pct_of_sgemm_peak": "TinyUNet step, % of SGEMM peak",
}
ORDER = [
    "step_ms_TinyUNet", "step_ms_Mlp", "step_ms_HoUNet", "em_64x100_s",
    "test_elbo_images_per_s", "train_peak_rss_mib", "peak_rss_mib_step_ms_HoUNet",
    "tiny_unet_step_gflops", "tiny_unet_sgemm_peak_gflops",
    "tiny_unet_pct_of_sgemm_peak",
]


def main(path):
    values = collections.defaultdict(list)
    for line in open(path):
        what, build, threads, value = line.rstrip("\n").split("\t")
        # The original's TinyUNet train-step RSS is its training peak.
        if what == "peak_rss_mib_step_ms_TinyUNet":
            what = "train_peak_rss_mib"
        values[(what, build, threads)].append(float(value))

    def cell(what, build, threads):
        v = values.get((what, build, threads))
        if not v:
            return "", None
        lo, hi = min(v), max(v)
        text = f"{lo:.4g}" if lo == hi else f"{lo:.4g}-{hi:.4g}"
        return text, statistics.median(v)

    threads = sorted({t for (_, _, t) in values if t != "-"})
    for what, build, _ in sorted(values):
        if what.startswith("build") or what.startswith("clean"):
            print(f"{what} {build}: {values[(what, build, '-')]}")
    print()
    for n in threads:
        print(f"### MDM, Debian's LibTorch 1.13 against the wheel's 2.11, {n} thread(s)\n")
        print("| figure | 1.13 | 2.11 | 2.11 / 1.13 |\n|---|---|---|---|")
        for what in ORDER:
            a, am = cell(what, "debian", n)
            b, bm = cell(what, "wheel", n)
            if am is None and bm is None:
                continue
            ratio = f"{bm / am:.2f}x" if am and bm else ""
            print(f"| {LABELS[what]} | {a} | {b} | {ratio} |")
        print()
        print(f"### MDM against the original, same torch, {n} thread(s)\n")
        print("| figure | original 1.13 | MDM 1.13 | ratio | original 2.11 | MDM 2.11 | ratio |")
        print("|---|---|---|---|---|---|---|")
        for what in ORDER[:7]:
            row = [LABELS[what]]
            for original, ours in (("original_1.13", "debian"), ("original_2.x", "wheel")):
                a, am = cell(what, original, n)
                b, bm = cell(what, ours, n)
                row += [a, b, f"{bm / am:.2f}x" if am and bm else ""]
            print("| " + " | ".join(row) + " |")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
