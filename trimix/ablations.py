"""The paper's ablations (Tables VI, VII and Fig. 4) as ``Config`` changes, run and scored at any scale.

    rows = run_variants(config, TABLE_VI_VARIANTS, train, test)   # paper Table VI
    print(format_table(rows))

The same dicts drive a few dozen steps on a CPU and the paper's 200-epoch GPU runs.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from trimix.config import Config
from trimix.imagedata import ImageData
from trimix.evaluate import score_encoder
from trimix.protocols import KNN, LinearProbe
from trimix.device import resolve_device
from trimix.train import build_method, pretrain

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
        return score_encoder(net, train_data, test_data, protocols, KNN(k=knn_k), LinearProbe(epochs=max(1, linear_epochs)))

    rows = []
    if random_baseline:
        net = build_method(base_config, train_data.image_size).net.to(resolve_device(base_config.device))
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
