"""Training speed, measured: ``python -m trimix bench train`` (docs/design.md, "Training, devices").

    python -m trimix bench train                   # paper sizes on a GPU; quick-mode sizes on a CPU
    python -m trimix bench train --methods trimix barlow_twins --width 64 --batch-size 256 --compile

For each method, in one run, on the same images and the same ``train.train_step`` that ``pretrain`` runs:

* kit path: uint8 images held on the device, both views made there in batches (``augment.two_views``);
* plain path: a DataLoader over ``augment.TwoViewDataset`` (torchvision's per-sample transforms in
  worker processes, the usual recipe), each batch copied to the device.

Reported: seconds per step and images per second of the whole step (data, augmentation, the forward
passes, backward, optimizer); the data time (views only) and the compute time (``train_step`` on one fixed
batch), each timed on its own so that no sync is put inside a step; the projected time of 200 epochs of
CIFAR-10 (50,000 images); the FLOPs of a step and, on a GPU, the fraction of the card's peak bf16 FLOP/s
(MFU). Then the ratios: kit over plain images/s, and each method's step time over Barlow Twins'. Last, the
projected time of the paper's 200 epochs on a T4 (fp16, Colab's free GPU), an A100 and an H100, from the
FLOPs of a paper-size step and an assumed fraction of peak (``projection``).

FLOPs and peaks come from ``trimix.projection`` (FLOPs counted on the meta device; the peak from its
data-sheet table, or for a card not listed from a large bf16 matrix product timed here, marked "measured").
Each measurement is repeated ``--rounds`` times, the paths alternating; the table shows medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from trimix.augment import TwoViewDataset
from trimix.config import Config, paper_config, quick_config
from trimix.data import load_dataset
from trimix.imagedata import ImageData
from trimix.methods import METHODS
from trimix.device import resolve_device
from trimix.projection import CIFAR10_TRAIN_IMAGES, PAPER_EPOCHS, peak_flops, projection, step_flops
from trimix.train import make_views, setup_training, train_step

def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_per_call(fn: Callable[[], object], steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of ``fn``: ``warmup`` calls, then ``steps`` calls between two syncs."""
    for _ in range(warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return (time.perf_counter() - start) / steps


class PlainPath:
    """torchvision's per-sample views from DataLoader workers, endlessly; ``next()`` is one batch on the device."""

    def __init__(self, data: ImageData, batch_size: int, workers: int, device: torch.device):
        self.loader = DataLoader(TwoViewDataset(data), batch_size=batch_size, shuffle=True, drop_last=True,
                                 num_workers=workers, persistent_workers=workers > 0,
                                 pin_memory=device.type == "cuda")
        self.device, self.it = device, iter(self.loader)
        self.prefetched = workers * (self.loader.prefetch_factor or 0)  # batches made ahead while idle

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            (x1, x2), _ = next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            (x1, x2), _ = next(self.it)
        x1, x2 = (x.to(self.device, non_blocking=True) for x in (x1, x2))
        if self.device.type == "cuda":
            x1, x2 = (x.contiguous(memory_format=torch.channels_last) for x in (x1, x2))
        return x1, x2


def measure(config: Config, data: ImageData, methods: list[str], steps: int, warmup: int, rounds: int,
            workers: int, plain: bool = True) -> dict:
    """Seconds per step of every path and method (medians over ``rounds``), FLOPs and the peak."""
    device = resolve_device(config.device)
    images = data.images.to(device)
    gen = torch.Generator(device=device).manual_seed(config.seed)

    def kit_views() -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(images), (config.batch_size,), device=device, generator=gen)
        return make_views(images, idx, gen)

    plain_path = PlainPath(data, config.batch_size, workers, device) if plain else None
    x1, x2 = kit_views()  # the fixed batch of the compute-only timing
    timers: dict[str, Callable[[], object]] = {"data/kit": kit_views}
    if plain_path is not None:
        timers["data/plain"] = plain_path.next
    flops, first_call, first_loss = {}, {}, {}
    for name in methods:
        cfg = config.replace(method=name)
        method, opt, amp, scaler = setup_training(cfg, data.image_size, device)
        flops[name] = step_flops(cfg, data.image_size)
        start = time.perf_counter()
        total, _ = train_step(method, opt, x1, x2, amp, scaler)  # the first call: compiles with --compile
        first_loss[name] = float(total)  # the same weights, views and lambda with and without --compile
        first_call[name] = time.perf_counter() - start

        def step(views: Callable, method=method, opt=opt, amp=amp, scaler=scaler) -> None:
            train_step(method, opt, *views(), amp, scaler)
        timers[f"compute/{name}"] = lambda step=step: step(lambda: (x1, x2))
        timers[f"kit/{name}"] = lambda step=step: step(kit_views)
        if plain_path is not None:
            timers[f"plain/{name}"] = lambda step=step: step(plain_path.next)
    times: dict[str, list[float]] = {key: [] for key in timers}
    for _ in range(rounds):  # alternate, so that load that comes and goes hits every path alike
        for key, fn in timers.items():
            # the plain path's workers made batches ahead while the others ran: take those untimed first
            ahead = plain_path.prefetched if "plain" in key else 0
            times[key].append(time_per_call(fn, steps, warmup + ahead, device))
    result = {"config": config.to_dict(), "device": str(device), "steps": steps, "rounds": rounds,
              "workers": workers, "threads": torch.get_num_threads(), "flops": flops, "first_call_s": first_call,
              "first_loss": first_loss,
              "seconds": {k: statistics.median(v) for k, v in times.items()},
              "spread": {k: [min(v), max(v)] for k, v in times.items()}}
    if device.type == "cuda":
        result["peak_flops"], result["peak_source"] = peak_flops(device)
    return result


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours}h{rest // 60:02d}" if hours else f"{rest // 60}m{rest % 60:02d}"


def report(result: dict) -> str:
    """The table and the ratios, as text."""
    cfg, sec, batch = result["config"], result["seconds"], result["config"]["batch_size"]
    steps_200 = PAPER_EPOCHS * (CIFAR10_TRAIN_IMAGES // batch)
    peak = result.get("peak_flops")
    lines = [f"device {result['device']}, {result['threads']} CPU thread(s), width {cfg['width']}, batch {batch}, "
             f"projector {cfg['proj_layers']} x {cfg['proj_hidden']}/{cfg['proj_dim']}, compile {cfg['compile']}, "
             f"median of {result['rounds']} rounds of {result['steps']} steps; plain path: "
             f"{result['workers']} DataLoader workers"]
    if peak:
        lines.append(f"peak: {result['peak_source']}")
    head = f"{'method':<13} {'path':<6} {'s/step':>8} {'img/s':>8} {'data s':>7} {'compute s':>9} {'data %':>6} " \
           f"{'200 ep':>7} {'GFLOP':>7} {'MFU':>6} {'spread s/step':>15}"
    lines += ["", head, "-" * len(head)]
    for name in result["flops"]:
        compute = sec[f"compute/{name}"]
        for path in ("kit", "plain"):
            key = f"{path}/{name}"
            if key not in sec:
                continue
            s, data = sec[key], sec[f"data/{path}"]
            mfu = f"{result['flops'][name] / s / peak:6.1%}" if peak else "     -"
            lo, hi = result["spread"][key]
            lines.append(f"{name:<13} {path:<6} {s:>8.4f} {batch / s:>8,.0f} {data:>7.4f} {compute:>9.4f} "
                         f"{data / (data + compute):>6.0%} {_duration(steps_200 * s):>7} "
                         f"{result['flops'][name] / 1e9:>7.1f} {mfu} {f'{lo:.4f}-{hi:.4f}':>15}")
    lines += ["", "MFU: counted FLOPs / s/step / peak. 200 ep: 200 epochs of CIFAR-10's 50,000 images at s/step.",
              "first step (warm-up, compile): "
              + ", ".join(f"{k} {v:.1f} s" for k, v in result["first_call_s"].items()),
              "first-step loss (compare runs with and without --compile): "
              + ", ".join(f"{k} {v:.6g}" for k, v in result["first_loss"].items())]
    ratios = []
    for name in result["flops"]:
        if f"plain/{name}" in sec:
            ratios.append(f"kit path / plain path, images/s, {name}: {sec[f'plain/{name}'] / sec[f'kit/{name}']:.2f}x")
    if "barlow_twins" in result["flops"]:
        for name in result["flops"]:
            ratios.append(f"step time / Barlow Twins', {name}: kit {sec[f'kit/{name}'] / sec['kit/barlow_twins']:.2f}, "
                          f"compute only {sec[f'compute/{name}'] / sec['compute/barlow_twins']:.2f}")
    return "\n".join(lines + [""] + ratios)


def bench_config(args: argparse.Namespace) -> Config:
    """Paper sizes on a GPU (or with --paper), quick-mode sizes on a CPU (or with --quick); flags override."""
    device = resolve_device(args.device)
    paper = args.paper or (device.type == "cuda" and not args.quick)
    config = paper_config() if paper else quick_config()
    given = {k: getattr(args, k) for k in ("width", "batch_size", "proj_hidden", "proj_dim") if getattr(args, k)}
    return config.replace(device=str(device), compile=args.compile, **given)


def bench_data(name: str, num_images: int, image_size: int, root: str) -> ImageData:
    """``synthetic`` (random pixels: augmentation and network cost do not depend on content) or a dataset."""
    if name == "synthetic":
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (num_images, 3, image_size, image_size), dtype=torch.uint8, generator=g)
        return ImageData(images, torch.zeros(num_images, dtype=torch.int64), ["none"], "synthetic")
    data = load_dataset(name, "train", root=root)
    return ImageData(data.images[:num_images], data.labels[:num_images], data.classes, data.name)


def cmd_bench_train(args: argparse.Namespace) -> int:
    config = bench_config(args)
    data = bench_data(args.dataset, max(args.images, 2 * config.batch_size), args.image_size, args.root)
    result = measure(config, data, args.methods, args.steps, args.warmup, args.rounds, args.workers,
                     plain=not args.no_plain)
    print(report(result))
    print("\n" + projection(args.methods))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def register(subparsers) -> None:
    """Add ``bench train`` to the sub-commands of ``python -m trimix``."""
    bench = subparsers.add_parser("bench", help="measure speed (bench train: the training step)")
    actions = bench.add_subparsers(dest="bench", required=True)
    p = actions.add_parser("train", help="images/s of the training step: kit path vs plain DataLoader, per method",
                           description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--paper", action="store_true", help="paper sizes (ResNet-18, batch 256, projector 3 x 1024)")
    p.add_argument("--quick", action="store_true", help="quick-mode sizes (the default on a CPU)")
    p.add_argument("--width", type=int, help="ResNet-18 first-stage channels [paper 64, quick 8]")
    p.add_argument("--batch-size", type=int, help="images per step [paper 256, quick 64]")
    p.add_argument("--proj-hidden", type=int, help="projector hidden size [paper 1024, quick 128]")
    p.add_argument("--proj-dim", type=int, help="projector output size [paper 1024, quick 128]")
    p.add_argument("--compile", action="store_true", help="torch.compile every method's network")
    p.add_argument("--dataset", default="synthetic",
                   help="synthetic, or a dataset name (e.g. folder:data/cifar10-jpeg)")
    p.add_argument("--root", default="data", help="dataset folder")
    p.add_argument("--images", type=int, default=2048, help="images held (at least 2 batches)")
    p.add_argument("--image-size", type=int, default=32, help="side of synthetic images")
    p.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before each measurement")
    p.add_argument("--rounds", type=int, default=3, help="rounds, alternating between the paths")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="DataLoader workers of the plain path")
    p.add_argument("--no-plain", action="store_true", help="skip the plain DataLoader path")
    p.add_argument("--json", help="also write the measurements to this JSON file")
    p.set_defaults(func=cmd_bench_train)
