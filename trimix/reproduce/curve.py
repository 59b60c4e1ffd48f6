"""A learning curve, beyond the paper: does one epoch say anything about eight?

    python -m trimix reproduce curve --scale small --dataset folder:data/cifar10-jpeg

Each method of ``CURVE_METHODS`` trains for ``max(points)`` times the scale's budget (Table I's run
length: one epoch at the small scale), one run per method and seed, and keeps a checkpoint at every whole
multiple of the budget (``step-<N>.pt``: at the small scale one per epoch). Each kept checkpoint at a
``points`` multiple is then scored with the scale's kNN protocol, the untrained network beside it, so the
curve costs no training beyond the longest run. The run trains in stages (``max_steps`` raised stage by
stage, resuming from its own checkpoint), which ``trimix.train`` makes bit-identical to one uninterrupted
run on the CPU, and which leaves the length of the planned run (BYOL's momentum schedule) unchanged.

Outputs in ``results/<scale>/curve/``: ``curve.md`` (the command, the table, the seconds), ``curve.csv``
and ``curve.png`` (kNN accuracy against the multiple of the budget, one line per method, each seed a dot).
"""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import statistics
import textwrap
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from trimix.checkpoint import CHECKPOINT_NAME, load_checkpoint
from trimix.config import Config
from trimix.data import pretrain_split
from trimix.device import resolve_device
from trimix.evaluate import score_encoder
from trimix.protocols import key as protocol_key
from trimix.provenance import code_version, git_commit
from trimix.reproduce.paper_tables import METHOD_NAMES
from trimix.reproduce.report import Cell
from trimix.reproduce.runner import StaleRunError, train_seconds, write_json
from trimix.reproduce.scales import DataCache, Scale, dataset_label
from trimix.runs import format_duration, total_steps
from trimix.train import build_method, method_from_checkpoint, pretrain

CURVE_METHODS = ("trimix", "barlow_twins", "simclr")
POINTS = (1, 2, 4, 8)  # multiples of the scale's budget that are scored
SCORES_NAME = "curve_scores.json"
RECORD_NAME = "curve_run.json"  # the configuration, training code and commit that made the run


@dataclass(frozen=True)
class CurveRun:
    """One method and seed: ``config`` trains the longest point; ``budget`` steps make one multiple."""

    method: str
    seed: int
    config: Config
    budget: int

    @property
    def folder(self) -> Path:
        return Path(self.config.out_dir)

    def snapshot(self, multiple: int) -> Path:
        return self.folder / f"step-{multiple * self.budget}.pt"


def curve_runs(scale: Scale, dataset: str, images: int, folder: Path, seeds: dict[str, int],
               changes: dict | None = None) -> list[CurveRun]:
    """The runs of the curve on ``dataset`` (``images`` pretraining images), ``seeds[method]`` each."""
    base = scale.config().replace(**(changes or {}), dataset=dataset)
    budget = total_steps(base, images)
    per_epoch = images // base.batch_size
    if budget == 0:
        raise ValueError(f"{dataset} has {images} images, fewer than one batch of {base.batch_size}")
    epochs = math.ceil(max(POINTS) * budget / per_epoch)  # the planned run: the longest point, whole epochs
    runs = []
    for method, count in seeds.items():
        for seed in range(count):
            out = folder / "runs" / dataset.replace(":", "-").replace("/", "-") / f"{method}-seed{seed}"
            config = base.replace(method=method, seed=seed, epochs=epochs, max_steps=None, out_dir=str(out))
            runs.append(CurveRun(method, seed, config, budget))
    return runs


def _copy_atomic(source: Path, target: Path) -> None:
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def train_run(run: CurveRun, data, progress: bool = True) -> int:
    """Train ``run`` stage by stage to ``max(POINTS)`` budgets, keeping a checkpoint at each whole multiple.
    Returns the number of stages trained now (0 when every snapshot exists)."""
    missing = [m for m in range(1, max(POINTS) + 1) if not run.snapshot(m).exists()]
    record = run.folder / RECORD_NAME
    made_by = json.loads(record.read_text()).get("training_code") if record.exists() else None
    if made_by not in (None, code_version("training")):  # as the engine's runs: never mix two codes' weights
        raise StaleRunError(f"{run.folder} holds checkpoints from training code {made_by}, but this checkout's is "
                            f"{code_version('training')}. Delete {run.folder} to train the curve again.")
    if missing:
        write_json(run.folder / RECORD_NAME, {"config": run.config.to_dict(), "training_code": code_version("training"),
                                              "commit": git_commit()})
    for multiple in missing:
        pretrain(run.config.replace(max_steps=multiple * run.budget), data=data, resume=True, progress=progress)
        _copy_atomic(run.folder / CHECKPOINT_NAME, run.snapshot(multiple))
    return len(missing)


def score_run(run: CurveRun, scale: Scale, train, test, device) -> dict[int, float]:
    """kNN top-1 % of each ``POINTS`` snapshot (0: the untrained network), cached in the run's folder."""
    path = run.folder / SCORES_NAME
    cache = json.loads(path.read_text()) if path.exists() else {}
    scores = {}
    for multiple in (0, *POINTS):
        key = json.dumps({"multiple": multiple, "budget": run.budget, "knn": protocol_key(scale.knn),
                          "code": code_version("evaluation"), "training": code_version("training")}, sort_keys=True)
        if key not in cache:
            if multiple == 0:
                net = build_method(run.config, train.image_size).net
            else:
                net = method_from_checkpoint(run.snapshot(multiple))[0].net
            knn = score_encoder(net, train, test, ("knn",), scale.knn, device=device)["knn"]
            cache[key] = {"knn": knn, "commit": git_commit()}
            write_json(path, cache)
        scores[multiple] = cache[key]["knn"]
    return scores


def plot_curve(scores: dict[str, dict[int, list[float]]], unit: str, title: str) -> Figure:
    """kNN accuracy against the multiple of the budget: a line per method through its means, seeds as dots,
    the untrained network as a dashed line."""
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    untrained = [v for per in scores.values() for v in per.get(0, [])]
    for method, per in scores.items():
        xs = [m for m in POINTS if m in per]
        line = ax.plot(xs, [statistics.fmean(per[m]) for m in xs], marker="o", label=METHOD_NAMES[method])[0]
        dots = [(m, v) for m in xs for v in per[m]]
        ax.plot([m for m, _ in dots], [v for _, v in dots], ".", color=line.get_color(), alpha=0.5)
    if untrained:
        ax.axhline(statistics.fmean(untrained), color="gray", linestyle="--", label="untrained network")
    ax.set_xscale("log", base=2)
    ax.set_xticks(POINTS, [str(m) for m in POINTS])
    ax.set(xlabel=unit, ylabel="kNN top-1 accuracy (%)")
    ax.set_title(textwrap.fill(title, 60), fontsize=9)  # folder:PATH names are long
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def learning_curve(scale: Scale, data: DataCache, folder: Path, command: str, datasets: list[str] | None = None,
                   seeds: dict[str, int] | None = None, changes: dict | None = None,
                   progress: bool = True) -> list[str]:
    """Train and score the curve's runs on the first of ``datasets`` (default: the scale's first natural
    set) and write ``curve.md``, ``curve.csv`` and ``curve.png`` into ``folder``; returns their paths."""
    seeds = seeds or {m: 1 for m in CURVE_METHODS}
    base = scale.config().replace(**(changes or {}))
    dataset = (datasets or scale.natural(base))[0]
    train, test = data(dataset, pretrain_split(dataset)), data(dataset, "test")
    labelled = data(dataset, "train")
    runs = curve_runs(scale, dataset, len(train), folder, seeds, changes)
    device = resolve_device(base.device)
    scores: dict[str, dict[int, list[float]]] = {}
    seconds: dict[str, list[float]] = {}
    for i, run in enumerate(runs, 1):
        print(f"[{i}/{len(runs)}] {run.folder}", flush=True)
        train_run(run, train, progress)
        for multiple, value in score_run(run, scale, labelled, test, device).items():
            scores.setdefault(run.method, {}).setdefault(multiple, []).append(value)
        history = load_checkpoint(run.snapshot(max(POINTS)))["history"]
        seconds.setdefault(run.method, []).append(train_seconds(history, run.config.batch_size))
    per_epoch = len(train) // base.batch_size
    unit = (f"epochs ({runs[0].budget} steps each)" if runs[0].budget == per_epoch
            else f"multiples of the scale's budget ({runs[0].budget} steps each)")
    folder.mkdir(parents=True, exist_ok=True)
    title = f"Learning curve on {dataset_label(dataset)}, {scale.name} scale"
    plot_curve(scores, unit, title).savefig(folder / "curve.png", dpi=110)
    _write_tables(folder, scores, seconds, unit, command, scale, dataset)
    return [str(folder / name) for name in ("curve.md", "curve.csv", "curve.png")]


def _cell(values: list[float]) -> str:
    """Mean ± sample std, and each seed in brackets when there are several."""
    cell = Cell(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None, tuple(values))
    return cell.show() + (f" ({', '.join(f'{v:.2f}' for v in values)})" if len(values) > 1 else "")


def _write_tables(folder: Path, scores: dict, seconds: dict, unit: str, command: str, scale: Scale,
                  dataset: str) -> None:
    header = ["Method", "untrained", *(f"x{m}" for m in POINTS), "seeds", "training per run"]
    lines = [f"# Learning curve: kNN top-1 % on {dataset_label(dataset)} against training length", "",
             f"Command: `{command}`", "", f"Scale: {scale.about}. Columns: {unit}, x1 being Table I's run.", "",
             "| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    rows = []
    for method, per in scores.items():
        cells = [_cell(per[m]) for m in (0, *POINTS)]
        lines.append("| " + " | ".join([METHOD_NAMES[method], *cells, str(len(per[POINTS[0]])),
                                        format_duration(statistics.fmean(seconds[method]))]) + " |")
        rows += [{"method": METHOD_NAMES[method], "multiple": m, "mean": round(statistics.fmean(per[m]), 4),
                  "std": round(statistics.stdev(per[m]), 4) if len(per[m]) > 1 else "", "seeds": len(per[m])}
                 for m in (0, *POINTS)]
    (folder / "curve.md").write_text("\n".join(lines) + "\n")
    with open(folder / "curve.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
