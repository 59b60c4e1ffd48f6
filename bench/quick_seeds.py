"""Does the main job learn on every seed? Runs ``python -m trimix pretrain --quick`` per seed and method.

    python bench/quick_seeds.py                                  # seeds 0-9, TriMix and Barlow Twins
    python bench/quick_seeds.py --seeds 0 1 2 --methods trimix   # a few
    python bench/quick_seeds.py -- --max-steps 200               # anything after -- goes to pretrain

Each run is the command a student types, in its own process (so its wall time is what a student waits,
start-up, data, training and the three kNN scores included), one after the other so that the times are
comparable. The table gives, per run: the trained encoder's kNN accuracy on the built-in test split, the
random encoder's (same seed, same initialisation, untrained), raw pixels', the gap trained - random, and
the seconds. A summary per method gives the mean and standard deviation of the trained accuracy and the
smallest and median gap. Everything is also written to ``--out`` (Markdown and CSV).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = ("method", "seed", "trained", "random", "raw_pixels", "gap", "seconds")


def run_one(method: str, seed: int, out_dir: Path, extra: list[str]) -> dict:
    """One main-job run in a fresh process; returns its row of the table."""
    run_dir = out_dir / "runs" / f"{method}-seed{seed}"
    cmd = [sys.executable, "-m", "trimix", "pretrain", "--quick", "--method", method, "--seed", str(seed),
           "--out-dir", str(run_dir), "--no-resume", "--no-progress", *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {done.returncode}:\n{done.stderr[-2000:]}")
    results = json.loads((run_dir / "results.json").read_text())
    trained, random = results["knn_trained"], results["knn_random"]
    return {"method": method, "seed": seed, "trained": trained, "random": random,
            "raw_pixels": results["knn_raw_pixels"], "gap": trained - random, "seconds": seconds}


def summarise(rows: list[dict]) -> list[dict]:
    """Per method: mean and standard deviation of the trained accuracy, smallest and median gap, seconds."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        trained, gaps = [r["trained"] for r in mine], [r["gap"] for r in mine]
        out.append({"method": method, "runs": len(mine), "trained_mean": statistics.mean(trained),
                    "trained_std": statistics.stdev(trained) if len(mine) > 1 else 0.0,
                    "random_mean": statistics.mean(r["random"] for r in mine),
                    "raw_pixels": mine[0]["raw_pixels"], "gap_min": min(gaps), "gap_median": statistics.median(gaps),
                    "seconds_max": max(r["seconds"] for r in mine)})
    return out


def markdown(rows: list[dict], summary: list[dict]) -> str:
    lines = ["| method | seed | trained kNN % | random kNN % | raw-pixel kNN % | gap | seconds |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['method']} | {r['seed']} | {r['trained']:.1f} | {r['random']:.1f} | {r['raw_pixels']:.1f} | "
              f"{r['gap']:+.1f} | {r['seconds']:.0f} |" for r in rows]
    lines += ["", "| method | runs | trained kNN %, mean ± std | random, mean | raw pixels | smallest gap | "
              "median gap | slowest run, s |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {s['method']} | {s['runs']} | {s['trained_mean']:.1f} ± {s['trained_std']:.1f} | "
              f"{s['random_mean']:.1f} | {s['raw_pixels']:.1f} | {s['gap_min']:+.1f} | {s['gap_median']:+.1f} | "
              f"{s['seconds_max']:.0f} |" for s in summary]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--methods", nargs="+", default=["trimix", "barlow_twins"])
    p.add_argument("--out", type=Path, default=Path("results/quick_seeds"), help="folder for the table and runs")
    args = p.parse_args(own)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # what the kit's tests and notebooks use on a small CPU
    rows = []
    for method in args.methods:
        for seed in args.seeds:
            rows.append(run_one(method, seed, args.out, extra))
            r = rows[-1]
            print(f"{method:>13} seed {seed}: trained {r['trained']:5.1f}  random {r['random']:5.1f}  "
                  f"raw {r['raw_pixels']:5.1f}  gap {r['gap']:+5.1f}  {r['seconds']:4.0f} s", flush=True)
    summary = summarise(rows)
    table = markdown(rows, summary)
    print("\n" + table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quick_seeds.md").write_text(table)
    with open(args.out / "quick_seeds.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: r[k] for k in COLUMNS} for r in rows)
    print(f"written to {args.out}/quick_seeds.md and .csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
