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
NAMES = {"vpsde": "VPSDE", "cld": "CLD", "alda": "ALDA", "malda": "MALDA",
         "learned_2": "Learned-2", "learned_3": "Learned-3"}


def load(path):
    with open(path) as f:
        return json.load(f)


def matrix(m):
    return "[" + "; ".join(" ".join(f"{v:+.3f}" for v in row) for row in m) + "]"


def table(out, data):
    rows = ["| process | K | ELBO bits/dim | ELBO bits/dim with offset | ODE bits/dim | ODE examples | steps |",
            "|---|---|---|---|---|---|---|"]
    for p in PROCESSES:
        run = os.path.join(out, data, p)
        try:
            elbo = load(os.path.join(run, "eval", "elbo_test.json"))
            ode = load(os.path.join(run, "eval", "ode_test.json"))
        except FileNotFoundError:
            continue
        rows.append(
            f"| {NAMES[p]} | {len(elbo['Q'])} | {elbo['bpd']:.3f} +- {elbo['bpd_ci95']:.3f} "
            f"| {elbo['bpd_with_offset']:.3f} +- {elbo['bpd_with_offset_ci95']:.3f} "
            f"| {ode['bpd']:.3f} +- {ode['bpd_ci95']:.3f} | {ode['examples']} | {elbo['step']} |")
    return "\n".join(rows)


def learned(out, data):
    lines = []
    for p in ["learned_2", "learned_3"]:
        path = os.path.join(out, data, p, "eval", "elbo_test.json")
        if os.path.exists(path):
            e = load(path)
            lines.append(f"- {NAMES[p]}: Q = {matrix(e['Q'])}, D = {matrix(e['D'])}")
    return "\n".join(lines)


TITLES = {"fashion_mnist": "Fashion-MNIST", "checkerboard": "Checkerboard"}
# The bits/dim axis of each plot: every process's curve after its first
# steps, and the data's entropy (2.5) for the checkerboard.
YRANGES = {"fashion_mnist": (3, 8), "checkerboard": (2, 8)}


def curves(out, data, png):
    series = []
    for p in PROCESSES:
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
        plots.append(f"'{dat}' using 1:2 smooth bezier lw 1.5 lc {i} title '{NAMES[p]} (train)'")
        if evals:
            plots.append(f"'{evals}' using 1:3 every ::1 with linespoints pt 7 lw 2 lc {i} "
                         f"dt 2 title '{NAMES[p]} (test)'")
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
    print("\n## Checkerboard\n")
    print(table(out, "checkerboard"))
    print("\nLearned matrices:\n")
    print(learned(out, "checkerboard"))
    for data in ["fashion_mnist", "checkerboard"]:
        for p in PROCESSES:
            src = os.path.join(out, data, p, "samples.png")
            if os.path.exists(src):
                shutil.copy(src, os.path.join(docs, f"{data}_{p}.png"))
    for data in ["fashion_mnist", "checkerboard"]:
        png = os.path.join(docs, f"{data}_curves.png")
        if curves(out, data, png):
            print(f"\ncurves: {png}")


if __name__ == "__main__":
    main()
