"""Does the main job learn on every seed? Runs ``python -m trimix pretrain --quick`` per seed and method.

    python bench/quick_seeds.py                                  # seeds 0-9, TriMix and Barlow Twins
    python bench/quick_seeds.py --seeds 0 1 2 --methods trimix   # a few
    python bench/quick_seeds.py -- --max-steps 200               # anything after -- goes to pretrain
    python bench/quick_seeds.py --cpu-capability avx2 --jobs 2   # another CPU's kernels, two runs at once

Each run is the command a student types, in its own process (so its wall time is what a student waits,
start-up, data, training and the three kNN scores included), one after the other by default so that the
times are comparable (``--jobs 2`` runs two at once: faster in all, slower per run).

The table gives, per run: the trained encoder's kNN accuracy on the built-in test split, the
random encoder's (same seed, same initialisation, untrained), raw pixels', the gap trained - random, and
the seconds. A summary per method gives the mean and standard deviation of the trained accuracy and the
smallest and median gap. Everything is also written to ``--out`` (Markdown and CSV).

Another CPU trains the same seed to a different network: its kernels round differently, and a few hundred
steps of training amplify that into several points of kNN. ``--cpu-capability ISA`` sets
``ATEN_CPU_CAPABILITY`` (``default``, ``avx2``, ``avx512`` on x86) in every run's environment, so torch's
own kernels take that instruction set's code path; ``--env KEY=VALUE`` sets anything else, e.g.
``MKL_CBWR=COMPATIBLE`` for MKL's matrix products, which ``ATEN_CPU_CAPABILITY`` does not reach. The claim
"every seed learns" has to hold under each of them, not on one machine's kernels.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

COLUMNS = ("method", "seed", "trained", "random", "raw_pixels", "gap", "gap_raw", "seconds")


def run_one(method: str, seed: int, out_dir: Path, extra: list[str], env: dict | None = None) -> dict:
    """One main-job run in a fresh process (with environment ``env``, else this one's); returns its row."""
    run_dir = out_dir / "runs" / f"{method}-seed{seed}"
    cmd = [sys.executable, "-m", "trimix", "pretrain", "--quick", "--method", method, "--seed", str(seed),
           "--out-dir", str(run_dir), "--no-resume", "--no-progress", *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {done.returncode}:\n{done.stderr[-2000:]}")
    results = json.loads((run_dir / "results.json").read_text())
    trained, random = results["knn_trained"], results["knn_random"]
    return {"method": method, "seed": seed, "trained": trained, "random": random,
            "raw_pixels": results["knn_raw_pixels"], "gap": trained - random,
            "gap_raw": trained - results["knn_raw_pixels"], "seconds": seconds}


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
                    "gap_raw_min": min(r["gap_raw"] for r in mine),
                    "seconds_max": max(r["seconds"] for r in mine)})
    return out


def markdown(rows: list[dict], summary: list[dict]) -> str:
    lines = ["| method | seed | trained kNN % | random kNN % | raw-pixel kNN % | gap | gap over raw | seconds |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['method']} | {r['seed']} | {r['trained']:.1f} | {r['random']:.1f} | {r['raw_pixels']:.1f} | "
              f"{r['gap']:+.1f} | {r['gap_raw']:+.1f} | {r['seconds']:.0f} |" for r in rows]
    lines += ["", "| method | runs | trained kNN %, mean ± std | random, mean | raw pixels | smallest gap | "
              "median gap | smallest gap over raw | slowest run, s |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {s['method']} | {s['runs']} | {s['trained_mean']:.1f} ± {s['trained_std']:.1f} | "
              f"{s['random_mean']:.1f} | {s['raw_pixels']:.1f} | {s['gap_min']:+.1f} | {s['gap_median']:+.1f} | "
              f"{s['gap_raw_min']:+.1f} | {s['seconds_max']:.0f} |" for s in summary]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--methods", nargs="+", default=["trimix", "barlow_twins"])
    p.add_argument("--out", type=Path, default=Path("results/quick_seeds"), help="folder for the table and runs")
    p.add_argument("--cpu-capability", metavar="ISA",
                   help="ATEN_CPU_CAPABILITY for every run: default, avx2, avx512 (x86) ... (default: native)")
    p.add_argument("--env", metavar="KEY=VALUE", nargs="+", default=[],
                   help="more environment for every run, e.g. MKL_CBWR=COMPATIBLE")
    p.add_argument("--jobs", type=int, default=1, help="runs at once, one torch thread each (default 1)")
    args = p.parse_args(own)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # what the kit's tests and notebooks use on a small CPU
    if args.cpu_capability:
        env["ATEN_CPU_CAPABILITY"] = args.cpu_capability
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            p.error(f"--env takes KEY=VALUE, got {item!r}")
        env[key] = value
    kernels = f"ATEN_CPU_CAPABILITY {env.get('ATEN_CPU_CAPABILITY') or 'native'}" + "".join(f", {e}" for e in args.env)
    print(f"{kernels}; {args.jobs} run(s) at once", flush=True)

    def one(job: tuple[str, int]) -> dict:
        method, seed = job
        r = run_one(method, seed, args.out, extra, env)
        print(f"{method:>13} seed {seed}: trained {r['trained']:5.1f}  random {r['random']:5.1f}  "
              f"raw {r['raw_pixels']:5.1f}  gap {r['gap']:+5.1f}  over raw {r['gap_raw']:+5.1f}  "
              f"{r['seconds']:4.0f} s", flush=True)
        return r

    jobs = [(method, seed) for method in args.methods for seed in args.seeds]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(one, jobs))  # in the order of ``jobs``, whichever finishes first
    wall = time.perf_counter() - start
    summary = summarise(rows)
    table = markdown(rows, summary)
    table += (f"\n{kernels}, {args.jobs} run(s) at once, "
              f"{len(rows)} runs in {wall / 60:.1f} min wall time.\n")
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
