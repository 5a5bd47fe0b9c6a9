#!/usr/bin/python3
"""Tables and plots for tools/experiments/compare_processes.sh.

  tools/experiments/compare_report.py runs/compare docs/results

Reads each run's eval/*.json, eval.csv and metrics.csv (written by the C++
tools), prints Markdown tables, copies the sample grids and draws the
training curves with gnuplot. Only the Python standard library and gnuplot
(Debian's gnuplot-nox) are used; all numbers come from the C++ binaries.
"""
import csv
import json
import os
import shutil
import subprocess
import sys

PROCESSES = ["vpsde", "cld", "alda", "malda", "learned_2", "learned_3"]
BASE_NAMES = {"vpsde": "VPSDE", "cld": "CLD", "alda": "ALDA", "malda": "MALDA",
              "learned_2": "Learned-2", "learned_3": "Learned-3"}


def name(p):
    """learned_3_bins4+adaptive -> Learned-3, 4 time bins, adaptive t."""
    adaptive = p.endswith("+adaptive")
    p = p.removesuffix("+adaptive")
    bins = None
    if "_bins" in p:
        p, bins = p.split("_bins")
    text = BASE_NAMES.get(p, p)
    if bins:
        text += f", {bins} time bins"
    if adaptive:
        text += ", adaptive t"
    return text


def variants(out, data):
    """The processes in their usual order, then any other variant run."""
    root = os.path.join(out, data)
    found = sorted(d for d in os.listdir(root)
                   if os.path.isdir(os.path.join(root, d))) if os.path.isdir(root) else []
    return [p for p in PROCESSES if p in found] + [p for p in found if p not in PROCESSES]


def num_vars(Q):
    """K from a [K, K] Q or a per-bin [N, K, K] one."""
    return len(Q[0]) if isinstance(Q[0][0], list) else len(Q)


def load(path):
    with open(path) as f:
        return json.load(f)


def matrix(m):
    return "[" + "; ".join(" ".join(f"{v:+.3f}" for v in row) for row in m) + "]"


def table(out, data):
    rows = ["| process | K | ELBO bits/dim | ELBO bits/dim with offset | ODE bits/dim | ODE examples | steps |",
            "|---|---|---|---|---|---|---|"]
    for p in variants(out, data):
        run = os.path.join(out, data, p)
        try:
            elbo = load(os.path.join(run, "eval", "elbo_test.json"))
            ode = load(os.path.join(run, "eval", "ode_test.json"))
        except FileNotFoundError:
            continue
        rows.append(
            f"| {name(p)} | {num_vars(elbo['Q'])} | {elbo['bpd']:.3f} +- {elbo['bpd_ci95']:.3f} "
            f"| {elbo['bpd_with_offset']:.3f} +- {elbo['bpd_with_offset_ci95']:.3f} "
            f"| {ode['bpd']:.3f} +- {ode['bpd_ci95']:.3f} | {ode['examples']} | {elbo['step']} |")
    return "\n".join(rows)


def learned(out, data):
    lines = []
    for p in [v for v in variants(out, data) if v.startswith("learned")]:
        path = os.path.join(out, data, p, "eval", "elbo_test.json")
        if os.path.exists(path):
            e = load(path)
            if isinstance(e["Q"][0][0], list):  # One Q and D per time bin.
                for k, (Q, D) in enumerate(zip(e["Q"], e["D"])):
                    lines.append(f"- {name(p)}, bin {k}: Q = {matrix(Q)}, D = {matrix(D)}")
            else:
                lines.append(f"- {name(p)}: Q = {matrix(e['Q'])}, D = {matrix(e['D'])}")
    return "\n".join(lines)


FID_RUNS = [("expint_ms", 10), ("expint_ms", 20), ("expint", 20)]


def fid_table(out, data):
    """FID (the script's FID_MODEL features) per process and sampler."""
    header = "| process | " + " | ".join(f"{s} at {n}" for s, n in FID_RUNS) + " |"
    rows = [header, "|---|" + "---|" * len(FID_RUNS)]
    for p in variants(out, data):
        cells = []
        for sampler, steps in FID_RUNS:
            path = os.path.join(out, data, p, "eval", f"fid_{sampler}_{steps}.json")
            cells.append(f"{load(path)['fid']:.1f}" if os.path.exists(path) else "")
        if any(cells):
            rows.append(f"| {name(p)} | " + " | ".join(cells) + " |")
    return "\n".join(rows) if len(rows) > 2 else ""


TITLES = {"fashion_mnist": "Fashion-MNIST", "checkerboard": "Checkerboard"}
# The bits/dim axis of each plot: every process's curve after its first
# steps, and the data's entropy (2.5) for the checkerboard.
YRANGES = {"fashion_mnist": (3, 8), "checkerboard": (2, 8)}


def curves(out, data, png):
    series = []
    for p in variants(out, data):
        run = os.path.join(out, data, p)
        metrics = os.path.join(run, "metrics.csv")
        evals = os.path.join(run, "eval.csv")
        if not os.path.exists(metrics):
            continue
        with open(metrics) as f:
            rows = list(csv.DictReader(f))
        dat = os.path.join(run, "train_bpd.dat")
        with open(dat, "w") as f:
            for r in rows:
                if r.get("train_bpd") not in (None, "", "nan"):
                    f.write(f"{r['step']},{r['train_bpd']}\n")
        series.append((p, dat, evals if os.path.exists(evals) else None))
    if not series or shutil.which("gnuplot") is None:
        return False
    plots = []
    for i, (p, dat, evals) in enumerate(series, start=1):
        plots.append(f"'{dat}' using 1:2 smooth bezier lw 1.5 lc {i} title '{name(p)} (train)'")
        if evals:
            plots.append(f"'{evals}' using 1:4 every ::1 with linespoints pt 7 lw 2 lc {i} "
                         f"dt 2 title '{name(p)} (test)'")
    low, high = YRANGES[data]
    script = f"""
set datafile separator ','
set terminal png size 1100,650
set output '{png}'
set xlabel 'step'
set ylabel 'bits/dim (axis cut at {high})'
set key outside right
set yrange [{low}:{high}]
set grid
set title '{TITLES[data]}: training bits/dim (smoothed) and test bits/dim at evaluations'
plot """ + ", \\\n     ".join(plots) + "\n"
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
    return True


def main():
    out, docs = sys.argv[1], sys.argv[2]
    os.makedirs(docs, exist_ok=True)
    print("## Fashion-MNIST\n")
    print(table(out, "fashion_mnist"))
    print("\nLearned matrices:\n")
    print(learned(out, "fashion_mnist"))
    fids = fid_table(out, "fashion_mnist")
    if fids:
        print("\nFID of 1,000 samples (the script's FID_MODEL features):\n")
        print(fids)
    print("\n## Checkerboard\n")
    print(table(out, "checkerboard"))
    print("\nLearned matrices:\n")
    print(learned(out, "checkerboard"))
    for data in ["fashion_mnist", "checkerboard"]:
        for p in variants(out, data):
            for picture in ["samples", "samples_expint_ms_10", "samples_expint_ms_20",
                            "samples_expint_20"]:
                src = os.path.join(out, data, p, picture + ".png")
                suffix = picture.removeprefix("samples")
                if os.path.exists(src):
                    shutil.copy(src, os.path.join(docs, f"{data}_{p}{suffix}.png"))
    for data in ["fashion_mnist", "checkerboard"]:
        png = os.path.join(docs, f"{data}_curves.png")
        if curves(out, data, png):
            print(f"\ncurves: {png}")


if __name__ == "__main__":
    main()
