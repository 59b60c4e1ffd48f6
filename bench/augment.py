"""Views per second of the two-view recipe (trimix.augment): per-sample torchvision vs batched.

    python bench/augment.py                      # shapes (built-in) or synthetic 32x32, batch 256
    python bench/augment.py --batches 50 --data synthetic

Measures, in one run: (a) the per-sample torchvision path (TwoViewDataset) through a DataLoader with
num_workers = all cores; (b) the batched path (two_views) on the CPU; (c) the batched path on CUDA when
available. Every path makes both views of every image, hue included. Prints a table and the ratios.

The CPU rows use 1 torch thread and all cores: on a shared, oversubscribed CPU torch's intra-op threads
wait for each other at every op and can make the batched path several times slower than one thread.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch.utils.data import DataLoader

from trimix.augment import TwoViewDataset, two_views


def load_images(kind: str, n: int, size: int) -> torch.Tensor:
    """(n, 3, size, size) uint8: the built-in shapes dataset when asked (and 32 px), else random pixels."""
    if kind == "shapes":
        try:
            from trimix.data import load_dataset
            images = load_dataset("shapes").images
            if images.shape[-1] == size:
                return images[:n]
            print(f"shapes images are {images.shape[-1]} px, not {size}: using synthetic data")
        except (ImportError, AttributeError, ValueError) as e:
            print(f"shapes dataset unavailable ({e}): using synthetic data")
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


class Pairs(torch.utils.data.Dataset):
    """(image, label) pairs over a uint8 tensor, as trimix.data's datasets yield them."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], 0


class PerSample:
    """TwoViewDataset through a persistent DataLoader (collation included): views/s of `batches` batches."""

    def __init__(self, images: torch.Tensor, batch_size: int, workers: int):
        self.loader = DataLoader(TwoViewDataset(Pairs(images)), batch_size=batch_size, shuffle=True,
                                 num_workers=workers, persistent_workers=workers > 0, drop_last=True)
        self.batch_size, self.it = batch_size, iter(self.loader)
        self.next()  # starts the workers

    def next(self) -> None:
        try:
            next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            next(self.it)

    def __call__(self, batches: int) -> float:
        # the workers made a few batches ahead while idle (prefetch): take those untimed first
        for _ in range(self.loader.num_workers * (self.loader.prefetch_factor or 0)):
            self.next()
        start = time.perf_counter()
        for _ in range(batches):
            self.next()
        return 2 * self.batch_size * batches / (time.perf_counter() - start)


class Batched:
    """two_views on `device` with the uint8 data already held there (indexing included)."""

    def __init__(self, images: torch.Tensor, batch_size: int, device: torch.device, threads: int | None = None):
        self.data, self.batch_size, self.threads = images.to(device), batch_size, threads
        self.gen = torch.Generator(device=device).manual_seed(0)
        self.order = torch.randperm(len(images), device=device, generator=self.gen)
        self.sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        self.i = 0
        self(3)  # warm-up: allocator, kernels

    def __call__(self, batches: int) -> float:
        saved = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        per_epoch = len(self.data) // self.batch_size
        self.sync()
        start = time.perf_counter()
        for _ in range(batches):
            k, self.i = self.i % per_epoch, self.i + 1
            two_views(self.data[self.order[k * self.batch_size:(k + 1) * self.batch_size]], generator=self.gen)
        self.sync()
        rate = 2 * self.batch_size * batches / (time.perf_counter() - start)
        torch.set_num_threads(saved)
        return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["shapes", "synthetic"], default="shapes",
                    help="built-in shapes dataset (falls back to synthetic) or random uint8 pixels")
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--images", type=int, default=5000, help="images held in memory")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--batches", type=int, default=10, help="timed batches per path and round (x10 on CUDA)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds, alternating between the paths")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="DataLoader workers (default: all cores)")
    ap.add_argument("--no-cuda", action="store_true", help="skip the CUDA row even when a GPU is present")
    args = ap.parse_args()

    images = load_images(args.data, args.images, args.image_size)
    if len(images) < args.batch_size:
        raise SystemExit(f"need at least --batch-size={args.batch_size} images, have {len(images)}")
    print(f"{len(images)} images {tuple(images.shape[1:])} uint8, batch {args.batch_size}, "
          f"{args.rounds} rounds of {args.batches} batches, {os.cpu_count()} cores")

    cores = os.cpu_count() or 1
    paths = {f"per-sample torchvision, DataLoader {args.workers} workers":
             PerSample(images, args.batch_size, args.workers)}
    for t in sorted({1, cores}):
        paths[f"batched two_views, cpu, {t} thread{'s' * (t > 1)}"] = \
            Batched(images, args.batch_size, torch.device("cpu"), t)
    if torch.cuda.is_available() and not args.no_cuda:
        paths[f"batched two_views, cuda ({torch.cuda.get_device_name()})"] = \
            Batched(images, args.batch_size, torch.device("cuda"))
    # Rounds alternate between the paths so that a load that comes and goes (a shared machine) hits
    # them alike; each path's median round is reported.
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.rounds):
        for name, path in paths.items():
            rates[name].append(path(args.batches * (10 if "cuda" in name else 1)))
    median = {name: statistics.median(r) for name, r in rates.items()}

    base = next(iter(median.values()))
    width = max(len(name) for name in median)
    print(f"\n{'path':<{width}}  {'views/s':>10}  {'x per-sample':>12}  (median of {args.rounds} rounds)")
    for name, rate in median.items():
        print(f"{name:<{width}}  {rate:>10,.0f}  {rate / base:>12.1f}")


if __name__ == "__main__":
    main()
