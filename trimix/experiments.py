"""Experiment helpers for notebooks 05-08: reuse a run, estimate its time, ablations, an offline target.

    method, history = load_or_pretrain(config)            # notebook 05's run, loaded again by 06-08
    print(describe_estimate(estimate_pretrain_time(config, data)))
    rows = run_variants(config, TABLE_VI_VARIANTS, train, test)   # paper Table VI at any scale
    print(format_table(rows))

The ablation variants are plain ``Config`` changes (paper Tables VI, VII and Fig. 4), so the same dicts
drive a few dozen steps on a CPU and the paper's 200-epoch GPU runs. ``shapes_stand_in`` is an offline
stand-in for a MedMNIST target: it only demonstrates the mechanics of transfer, never a medical result.
"""
from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import torch
from matplotlib.figure import Figure

from trimix.config import Config
from trimix.data import DatasetCorruptError, DatasetNotFoundError, ImageData, load_dataset, make_shapes
from trimix.evaluate import balanced_subset, score_encoder
from trimix.train import CHECKPOINT_NAME, build_model, load_checkpoint, pretrain, resolve_device, time_steps

QUICK_PRETRAIN_STEPS = 100  # notebook 05's run in quick mode (under a minute on a 2-core CPU)


def pretrain_run_config(config: Config, quick_steps: int = QUICK_PRETRAIN_STEPS) -> Config:
    """The configuration of notebook 05's run; 06-08 call this too, so they find its checkpoint.

    Paper mode: ``config`` for 200 epochs, the dataset downloaded when missing, saved in ``runs/notebook05``.
    Quick mode: stopped after ``quick_steps`` steps, saved in ``runs/notebook05-quick`` (a separate folder:
    the two cannot be mixed).
    """
    if config.quick:
        return config.replace(max_steps=quick_steps, out_dir="runs/notebook05-quick")
    return config.replace(download=True, out_dir="runs/notebook05")


def total_steps(config: Config, num_images: int) -> int:
    """Steps ``pretrain`` runs: full batches per epoch x epochs, capped by ``max_steps``."""
    steps = (num_images // config.batch_size) * config.epochs
    return steps if config.max_steps is None else min(steps, config.max_steps)


def load_or_pretrain(config: Config, data: ImageData | None = None, progress: bool = True):
    """``(method, history)`` of the run in ``config.out_dir``: loaded when it is finished, else trained.

    An unfinished checkpoint (an interrupted run) is resumed from where it stopped; no checkpoint means a
    fresh run. Either way this is ``trimix.train.pretrain(config, resume=True)``, which does no step at all
    when the checkpoint already holds every step. A checkpoint made with another configuration is refused
    (``CheckpointError``) rather than silently mixed in.
    """
    if data is None:
        data = load_dataset(config.dataset, "train", root=config.root, download=config.download)
    path, goal = Path(config.out_dir) / CHECKPOINT_NAME, total_steps(config, len(data))
    done = load_checkpoint(path)["step"] if path.exists() else 0
    if progress:
        print(f"loading the finished run in {path} ({done} steps)" if done >= goal else
              f"resuming {path} at step {done} of {goal}" if done else f"pretraining {goal} steps into {path}")
    result = pretrain(config, data=data, resume=True, progress=progress and done < goal)
    return result.method, result.history


def format_duration(seconds: float) -> str:
    """3725 -> '1 h 2 min', 75 -> '1 min 15 s', 4.2 -> '4.2 s'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, s = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {s} s"


def estimate_pretrain_time(config: Config, data: ImageData, steps: int = 5, warmup: int = 2) -> dict:
    """Time a few training steps (``trimix.train.time_steps``) and project the whole run.

    Returns: seconds_per_step, images_per_second, steps_per_epoch, total_steps (with ``max_steps``),
    epochs (as run, may be fractional) and total_seconds = seconds_per_step * total_steps.
    """
    per_epoch = len(data) // config.batch_size
    if per_epoch == 0:
        raise ValueError(f"batch_size {config.batch_size} is larger than the dataset ({len(data)} images)")
    seconds = time_steps(config, data, steps=steps, warmup=warmup)
    steps_total = total_steps(config, len(data))
    return {"seconds_per_step": seconds, "images_per_second": config.batch_size / seconds,
            "steps_per_epoch": per_epoch, "total_steps": steps_total, "epochs": steps_total / per_epoch,
            "total_seconds": seconds * steps_total}


def describe_estimate(estimate: dict) -> str:
    """One line: '0.31 s/step (206 images/s) x 150 steps (1.9 epochs of 78 steps) = about 46.5 s'."""
    e = estimate
    return (f"{e['seconds_per_step']:.3g} s/step ({e['images_per_second']:.0f} images/s) x {e['total_steps']} steps "
            f"({e['epochs']:.3g} epochs of {e['steps_per_epoch']} steps) = about {format_duration(e['total_seconds'])}")


# ---- ablations: paper Tables VI, VII and Fig. 4 as Config changes ----

TABLE_VI_VARIANTS: dict[str, dict] = {
    "Barlow Twins": {"method": "barlow_twins"},
    "TriMix: virtual embeddings loss only": {"gamma": 0.0},
    "TriMix: self-consistency loss only": {"beta": 0.0},
    "TriMix: both losses, no feature norms": {"feature_norm": False},
    "TriMix: both losses + feature norms": {},
}
PAPER_TABLE_VI = dict(zip(TABLE_VI_VARIANTS, (86.29, 87.16, 87.32, 87.74, 88.39)))  # linear, CIFAR-10

TABLE_VII_VARIANTS: dict[str, dict] = {
    "L_vrt on Y + L_con on Y": {"vrt_on": "y", "con_on": "y"},
    "L_vrt on Z + L_con on Y": {"vrt_on": "z", "con_on": "y"},
    "L_vrt on Z + L_con on Z (paper)": {},
}
PAPER_TABLE_VII = dict(zip(TABLE_VII_VARIANTS, (86.32, 85.37, 88.39)))  # linear, CIFAR-10

FIG4_BATCH_SIZES, FIG4_DIMS = (32, 64, 128, 256, 512), (128, 256, 512, 1024, 2048)


def batch_dim_grid(batch_sizes=FIG4_BATCH_SIZES, dims=FIG4_DIMS) -> dict[str, dict]:
    """Fig. 4's grid as variants: every batch size B with every projector size D (hidden and output)."""
    return {f"B={b}, D={d}": {"batch_size": b, "proj_hidden": d, "proj_dim": d} for b in batch_sizes for d in dims}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "variant"


def run_variants(base_config: Config, variants: dict[str, dict], train_data: ImageData, test_data: ImageData, *,
                 linear_epochs: int = 0, knn_k: int = 200, reference: dict | None = None,
                 random_baseline: bool = False, resume: bool = True, progress: bool = True) -> list[dict]:
    """Pretrain ``base_config.replace(**changes)`` for each variant and score its backbone.

    Each variant runs in ``<base_config.out_dir>/<its changes>``; with ``resume`` a finished run there is
    loaded instead of trained again, so variants with the same changes (Table VI's full TriMix and Table
    VII's baseline) train once. Scores: weighted kNN (%) on ``test_data`` with ``train_data`` as the
    memory bank, and with ``linear_epochs`` > 0 a linear probe (%). ``reference`` (e.g. PAPER_TABLE_VI)
    adds a "paper" column; ``random_baseline`` adds a first row for the untrained network.
    Returns one dict per row: variant, changes, steps, seconds, knn[, linear][, paper], config.
    """
    protocols = ("knn", "linear") if linear_epochs else ("knn",)

    def score(net) -> dict:
        return score_encoder(net, train_data, test_data, protocols, k=knn_k, linear_epochs=linear_epochs)

    rows = []
    if random_baseline:
        net = build_model(base_config, train_data.image_size).net.to(resolve_device(base_config.device))
        rows.append({"variant": "random encoder (no training)", "changes": "-", "steps": 0, "seconds": 0.0,
                     **score(net), "config": base_config})
    for i, (name, changes) in enumerate(variants.items(), 1):
        changes = {k: v for k, v in changes.items() if getattr(base_config, k, None) != v}  # only real changes
        described = ", ".join(f"{k}={v}" for k, v in changes.items()) or "(base)"
        config = base_config.replace(**changes, out_dir=str(Path(base_config.out_dir) / _slug(described)))
        start = time.perf_counter()
        result = pretrain(config, data=train_data, resume=resume, progress=False)
        row = {"variant": name, "changes": described,
               "steps": result.steps, "seconds": round(time.perf_counter() - start, 1),
               **score(result.method.net)}
        if reference and name in reference:
            row["paper"] = reference[name]
        rows.append({**row, "config": config})
        if progress:
            print(f"[{i}/{len(variants)}] {name}: kNN {row['knn']:.1f} %"
                  + (f", linear {row['linear']:.1f} %" if "linear" in row else "") + f" ({row['seconds']} s)")
    return rows


def format_table(rows: list[dict], columns: list[str] | None = None, digits: int = 1) -> str:
    """Rows of dicts as a text table; floats with ``digits`` decimals, non-scalar values left out."""
    if columns is None:
        columns = [k for row in rows for k, v in row.items() if isinstance(v, (str, int, float, bool))]
        columns = list(dict.fromkeys(columns))
    show = lambda v: "" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)  # noqa: E731
    cells = [columns] + [[show(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(columns))]
    lines = ["  ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def plot_variants(rows: list[dict], keys=("knn", "linear"), title: str = "", chance: float | None = None) -> Figure:
    """Horizontal bars, one group per row, one colour per score in ``keys`` present; ``chance`` draws a line."""
    keys = [k for k in keys if any(k in r for r in rows)]
    fig = Figure(figsize=(8, 0.4 * len(rows) * max(1, len(keys)) + 1.0), layout="constrained")
    ax, h = fig.subplots(), 0.8 / max(1, len(keys))
    for j, key in enumerate(keys):
        bars = ax.barh([i + (j - (len(keys) - 1) / 2) * h for i in range(len(rows))],
                       [r.get(key, 0.0) for r in rows], height=h, label=key)
        ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
    if chance is not None:
        ax.axvline(chance, color="black", linestyle="--", linewidth=1, label="chance")
    ax.set_yticks(range(len(rows)), [r["variant"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="top-1 accuracy (%)", title=title)
    ax.margins(x=0.15)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


def plot_batch_dim(rows: list[dict], key: str = "knn", title: str = "") -> Figure:
    """Fig. 4: accuracy against the projector size D, one line per batch size B (rows of ``batch_dim_grid``)."""
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for b in sorted({r["config"].batch_size for r in rows}):
        pts = sorted((r["config"].proj_dim, r[key]) for r in rows if r["config"].batch_size == b)
        ax.plot([d for d, _ in pts], [a for _, a in pts], marker="o", label=f"B = {b}")
    dims = sorted({r["config"].proj_dim for r in rows})
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.set(xlabel="projector size D", ylabel=f"top-1 accuracy (%), {key}", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


# ---- an offline stand-in for a MedMNIST target (notebook 07) ----

STAND_IN_CLASSES = ("circle", "ring", "crescent", "star")  # 4 classes, as many as OCTMNIST
STAND_IN_SPLITS = {"train": (2000, 101), "val": (500, 102), "test": (500, 103)}  # (images, seed)


def shapes_stand_in(split: str = "train", image_size: int = 28, grayscale: bool = True) -> ImageData:
    """An OFFLINE STAND-IN for a MedMNIST dataset: NOT medical data, only a visibly different target.

    Built from the built-in shapes with other seeds than its train/test splits: 4 of its classes,
    drawn at ``image_size`` (28 px, MedMNIST's size), grayscale served as 3 equal channels (as OCTMNIST)
    with multiplicative speckle noise. It shows the *mechanics* of transfer (resizing to the encoder's
    size, channel replication, a linear probe on frozen features); its numbers say nothing about
    medical images. Splits: train 2000, val 500, test 500 images, classes balanced.
    """
    if split not in STAND_IN_SPLITS:
        raise ValueError(f"the stand-in has no split {split!r}; valid splits: {', '.join(STAND_IN_SPLITS)}")
    n, seed = STAND_IN_SPLITS[split]
    shapes = make_shapes(n * 10 // len(STAND_IN_CLASSES), seed=seed, image_size=image_size)
    wanted = [shapes.classes.index(c) for c in STAND_IN_CLASSES]
    keep = torch.isin(shapes.labels, torch.tensor(wanted))
    images, labels = shapes.images[keep].float() / 255, shapes.labels[keep]
    if grayscale:  # luminance, stretched to the full range per image (some colour pairs have equal luma)
        gray = (images * torch.tensor([0.2989, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        low, high = gray.amin((2, 3), keepdim=True), gray.amax((2, 3), keepdim=True)
        gray = (gray - low) / (high - low).clamp_min(1e-3)
        speckle = 1 + 0.15 * torch.randn(gray.shape, generator=torch.Generator().manual_seed(seed))
        images = (gray * speckle).expand(-1, 3, -1, -1)
    images = images.clamp(0, 1).mul(255).round().to(torch.uint8).contiguous()
    remap = torch.full((len(shapes.classes),), -1, dtype=torch.int64)
    remap[wanted] = torch.arange(len(wanted))
    return ImageData(images, remap[labels], list(STAND_IN_CLASSES), f"shapes-stand-in/{split}")


def subset(data: ImageData, n: int | None, seed: int = 0) -> ImageData:
    """A class-balanced subset of about ``n`` images (``evaluate.balanced_subset``); None or n >= N: all."""
    if n is None or n >= len(data):
        return data
    idx = balanced_subset(data.labels, n / len(data), seed)
    return ImageData(data.images[idx], data.labels[idx], data.classes, f"{data.name}[{len(idx)}]")


def load_target_or_stand_in(name: str, split: str, root: str = "data", download: bool = False,
                            max_images: int | None = None) -> tuple[ImageData, bool]:
    """``(data, is_real)``: the real ``name`` when on disk (or downloaded), else ``shapes_stand_in(split)``.

    With ``download`` a missing dataset is fetched; when that fails for want of a network, a warning says
    so and the stand-in is returned. A corrupt file is still an error. ``max_images`` keeps a
    class-balanced subset of a real dataset (quick mode on a CPU).
    """
    try:
        return subset(load_dataset(name, split, root=root), max_images), True
    except DatasetNotFoundError:
        if download:
            try:
                return subset(load_dataset(name, split, root=root, download=True), max_images), True
            except DatasetCorruptError:
                raise
            except (OSError, RuntimeError) as error:  # no network: URLError; medmnist: "download failed"
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                warnings.warn(f"could not download {name} ({first}); using the offline stand-in instead")
    return shapes_stand_in(split), False


def hue_labels(images: torch.Tensor, bins: int = 6) -> torch.Tensor:
    """A nuisance label: the hue of each image's mean colour, cut into ``bins`` equal bins (0 = red).

    uint8 (N, 3, H, W) -> int64 (N,). Scoring features against it (e.g. with kNN) shows how much of a
    representation is colour rather than content (notebook 06).
    """
    rgb = images.float().mean((2, 3)) / 255  # (N, 3)
    top, which = rgb.max(1)
    spread = (top - rgb.min(1).values).clamp_min(1e-6)
    r, g, b = rgb.unbind(1)
    sector = torch.where(which == 0, ((g - b) / spread) % 6,
                         torch.where(which == 1, (b - r) / spread + 2, (r - g) / spread + 4))  # hue x 6, in [0, 6)
    return (sector / 6 * bins).long().clamp(0, bins - 1)
