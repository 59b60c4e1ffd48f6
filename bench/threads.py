"""Why can two torch threads be slower than one on a small, shared CPU? Measures it.

    python bench/threads.py                      # 3 rounds of every condition below
    python bench/threads.py --rounds 5 --seconds 4

Each condition runs in a fresh subprocess (OpenMP reads its environment once, when torch loads):

* torch threads: 1 or 2 (``torch.set_num_threads``, with OMP_NUM_THREADS set to match);
* OMP_WAIT_POLICY: unset (libgomp, which torch's wheels ship, spins a while at every barrier before it
  sleeps) or PASSIVE (threads sleep at once);
* a competing process: none, or one that keeps a core busy (``while True: pass``), as another
  student's notebook or another job on the same 2-core machine does.

Two workloads, both what the kit runs on a CPU: ``augment`` = ``two_views`` of a 256-image 32x32 batch
(views/s), ``step`` = one quick-mode TriMix training step, augmentation included (width 8, batch 64,
images/s). Conditions alternate within each round, so a load that comes and goes hits all of them; the
median over rounds is printed with the spread (min-max), the CPU seconds the process used per second
(2 = both threads busy, spinning or working), and the load average per round. On a shared machine, run it
under ``nice -n -20`` to see the case of an otherwise idle machine (one busy process beside it, or none).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = ("augment", "step")


def worker(workload: str, threads: int, seconds: float) -> tuple[float, float]:
    """(items per second, CPU seconds per second) of ``workload`` for about ``seconds`` after a short
    warm-up (runs in the child). CPU seconds over 1 with a low rate is time spent spinning at barriers."""
    import torch

    torch.set_num_threads(threads)
    if workload == "augment":
        from trimix.augment import two_views

        images = torch.randint(0, 256, (256, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        gen = torch.Generator().manual_seed(0)

        def run() -> int:
            two_views(images, generator=gen)
            return 2 * len(images)
    else:
        from trimix.augment import two_views
        from trimix.config import quick_config
        from trimix.train import build_method, train_step

        config = quick_config(device="cpu")
        method = build_method(config, 32)
        opt = torch.optim.Adam(method.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        images = torch.randint(0, 256, (config.batch_size, 3, 32, 32), dtype=torch.uint8)
        gen = torch.Generator().manual_seed(0)

        def run() -> int:
            train_step(method, opt, *two_views(images, generator=gen))
            return config.batch_size

    for _ in range(3):
        run()
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        done += run()
    wall = time.perf_counter() - start
    return done / wall, (time.process_time() - cpu) / wall


def measure(workload: str, threads: int, passive: bool, seconds: float) -> tuple[float, float]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env.pop("OMP_WAIT_POLICY", None)
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run([sys.executable, __file__, "--worker", workload, "--threads", str(threads),
                          "--seconds", str(seconds)], env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["rate"], result["cpu"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0, help="timed seconds per condition and round")
    ap.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    ap.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        rate, cpu = worker(args.worker, args.threads, args.seconds)
        print(json.dumps({"rate": rate, "cpu": cpu}))
        return

    conditions = [(w, t, p, c) for w in args.workloads for c in (False, True) for p in (False, True) for t in (1, 2)]
    rates: dict[tuple, list[float]] = {cond: [] for cond in conditions}
    cpus: dict[tuple, list[float]] = {cond: [] for cond in conditions}
    print(f"{os.cpu_count()} cores; torch threads x OMP_WAIT_POLICY x competing busy process; "
          f"{args.rounds} rounds of {args.seconds:g} s")
    for r in range(args.rounds):
        print(f"round {r + 1}: load average {os.getloadavg()[0]:.2f}", flush=True)
        for workload, threads, passive, competitor in conditions:
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if competitor else None
            try:
                rate, cpu = measure(workload, threads, passive, args.seconds)
                rates[(workload, threads, passive, competitor)].append(rate)
                cpus[(workload, threads, passive, competitor)].append(cpu)
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
    print(f"\n{'workload':<8} {'competitor':<10} {'wait policy':<11} {'threads':>7} {'rate/s':>9} "
          f"{'min-max':>15} {'x 1 thread':>10} {'CPU s/s':>7}")
    for workload, threads, passive, competitor in conditions:
        r, cpu = rates[(workload, threads, passive, competitor)], cpus[(workload, threads, passive, competitor)]
        one = statistics.median(rates[(workload, 1, passive, competitor)])
        print(f"{workload:<8} {'busy' if competitor else 'none':<10} {'PASSIVE' if passive else 'default':<11} "
              f"{threads:>7} {statistics.median(r):>9,.0f} {f'{min(r):,.0f}-{max(r):,.0f}':>15} "
              f"{statistics.median(r) / one:>10.2f} {statistics.median(cpu):>7.2f}")


if __name__ == "__main__":
    main()
