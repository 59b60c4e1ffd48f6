"""Records in, a plan out: the distinct encoders to pretrain, and what each table scores them with.

    plan = make_plan(get_experiments("all"), SCALES["paper"])
    len(plan.runs)                       # distinct pretraining runs (and untrained networks), each trained once
    plan.tables[1].entries[0].run        # Table II's SimCLR, seed 0: the very run Table I scores

A pretraining run is identified by its configuration: its folder, ``results/<scale>/runs/<dataset>/<slug>-seed<k>``,
is named from what differs from the scale's base configuration. Every table that needs that encoder (Table
I's kNN, Table II's fine-tuning, Table V's transfer, Table VI's full TriMix row) finds it there, as the
paper scores one set of pretrained encoders in all its tables. A table's columns are ``(group, dataset)``
pairs as in the paper (``paper_tables``): ("kNN", "cifar10"), ("10%", "pathmnist"), or (source, target).
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from trimix import protocols
from trimix.config import Config
from trimix.finetune import finetune, transfer
from trimix.evaluate import score_encoder
from trimix.provenance import code_version
from trimix.reproduce.paper_tables import METHOD_NAMES
from trimix.reproduce.records import Experiment, Grid, Row, row
from trimix.reproduce.scales import DataCache, Scale

Column = tuple[str, str]  # (group, dataset)


@dataclass(frozen=True)
class Evaluation:
    """One way of scoring an encoder: ``kind`` ("frozen", "finetune", "transfer") on ``dataset`` with
    ``protocols`` (frozen: kNN and a linear probe; finetune: FineTune at ``fraction``; transfer: Transfer)."""

    kind: str
    dataset: str
    protocols: tuple
    fraction: float = 1.0

    def key(self) -> str:
        """Everything the numbers depend on besides the encoder: the cache key of its scores."""
        return json.dumps({"kind": self.kind, "dataset": self.dataset, "fraction": self.fraction,
                           "protocols": [protocols.key(p) for p in self.protocols],
                           "code": code_version("evaluation")}, sort_keys=True)

    def columns(self, source: str) -> list[Column]:
        """The table cells this evaluation fills, for an encoder pretrained on ``source``."""
        if self.kind == "frozen":
            return [("kNN", self.dataset), ("Linear", self.dataset)]
        if self.kind == "finetune":
            return [(f"{self.fraction:.0%}", self.dataset)]
        return [(source, self.dataset)]

    def score(self, net: nn.Module, image_size: int, data: DataCache, device) -> list[float]:
        """Top-1 accuracies (%), one per ``columns`` entry, of ``net``'s backbone (left unchanged)."""
        train, test = data(self.dataset, "train"), data(self.dataset, "test")
        if self.kind == "frozen":
            knn, linear = self.protocols
            s = score_encoder(net, train, test, ("knn", "linear"), knn, linear, device=device)
            return [s["knn"], s["linear"]]
        if self.kind == "finetune":
            tune = dataclasses.asdict(self.protocols[0])
            return [finetune(net, train, test, self.fraction, **tune, device=device)["accuracy"]]
        probe = dataclasses.asdict(self.protocols[0].probe)
        return [transfer(net, image_size, train, test, **probe, device=device)["accuracy"]]


@dataclass(frozen=True)
class Run:
    """A distinct encoder: a pretraining run, or the untrained network of ``config`` (``pretrained`` False).
    ``config.out_dir`` is its folder, shared by every table that scores it."""

    config: Config
    pretrained: bool

    @property
    def folder(self) -> Path:
        return Path(self.config.out_dir)

    @property
    def dataset(self) -> str:
        return self.config.dataset


@dataclass(frozen=True)
class Entry:
    """One cell group of a table: a row, pretrained on ``source`` with ``seed``, scored by ``evaluations``."""

    row: Row
    source: str
    seed: int
    run: Run
    evaluations: tuple[Evaluation, ...]


@dataclass
class Table:
    experiment: Experiment
    folder: Path  # results/<scale>/<experiment>
    rows: list[Row]
    columns: list[Column] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Plan:
    scale: Scale
    folder: Path  # results/<scale label>
    tables: list[Table] = field(default_factory=list)

    @property
    def runs(self) -> list[Run]:
        """Every distinct encoder, once, in the order the tables first need them."""
        return list({e.run.folder: e.run for t in self.tables for e in t.entries}.values())

    def evaluations(self, run: Run) -> list[Evaluation]:
        """Every evaluation any table asks of ``run``, once."""
        wanted = [ev for t in self.tables for e in t.entries if e.run == run for ev in e.evaluations]
        return list({ev.key(): ev for ev in wanted}.values())


def parse_seeds(items: list[str]) -> tuple[int, dict[str, int]]:
    """``["1", "trimix=3", "barlow_twins=3"]`` -> ``(1, {"trimix": 3, "barlow_twins": 3})``: seeds per row,
    and per method where a method gets another number (``--seeds 1 trimix=3``)."""
    seeds, per_method = 1, {}
    for item in items:
        name, _, count = item.rpartition("=")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--seeds takes N or METHOD=N with N at least 1, got {item!r}")
        if name and name not in METHOD_NAMES:
            raise ValueError(f"--seeds {item}: unknown method {name!r}; methods: {', '.join(METHOD_NAMES)}")
        if name:
            per_method[name] = int(count)
        else:
            seeds = int(count)
    return seeds, per_method


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-")


def _evaluations(experiment: Experiment, scale: Scale, source: str) -> tuple[Evaluation, ...]:
    scoring = experiment.scoring
    if scoring.kind == "frozen":
        return (Evaluation("frozen", source, (scale.knn, scale.linear)),)
    if scoring.kind == "finetune":
        return tuple(Evaluation("finetune", source, (scale.finetune,), f) for f in scoring.fractions)
    return tuple(Evaluation("transfer", target, (protocols.Transfer(scale.linear),)) for target in scale.medical)


def _grid_rows(grid: Grid, base: Config, scale: Scale) -> tuple[Row, ...]:
    """Fig. 4's cells as rows; with ``equal_images`` and a step cap, each cell's cap makes as many images."""
    batch_sizes, dims = scale.fig4_grid(base)
    rows = []
    for b in batch_sizes:
        for d in dims:
            cap = {}
            if grid.equal_images and base.max_steps is not None:
                cap = {"max_steps": max(1, round(base.max_steps * base.batch_size / b))}
            rows.append(row(f"B={b}, D={d}", batch_size=b, proj_hidden=d, proj_dim=d, **cap))
    return tuple(rows)


def make_plan(experiments: list[Experiment], scale: Scale, *, seeds: int = 1,
              method_seeds: dict[str, int] | None = None, datasets: list[str] | None = None,
              results: str | Path = "results", label: str | None = None, changes: dict | None = None) -> Plan:
    """The tables of ``experiments`` at ``scale`` and the distinct runs they need.

    seeds: pretraining seeds 0..seeds-1 of each row; method_seeds: another number for the rows that are a
    method alone (e.g. ``{"trimix": 3}``). datasets: replace the scale's pretraining datasets. label: the
    folder under ``results`` (default: the scale's name). changes: Config changes for every run (device,
    root, a smoke test's max_steps).
    """
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    base = scale.config().replace(**(changes or {}))
    plan = Plan(scale, Path(results) / (label or scale.name))
    for experiment in experiments:
        sources = list(datasets or (scale.medical if experiment.pretrain_on == "medical" else scale.natural(base)))
        if experiment.first_dataset_only and not datasets:
            sources = sources[:1]
        rows = experiment.rows if isinstance(experiment.rows, tuple) else _grid_rows(experiment.rows, base, scale)
        table = Table(experiment, plan.folder / experiment.name, list(rows))
        for source in sources:
            evaluations = _evaluations(experiment, scale, source)
            table.columns += [c for e in evaluations for c in e.columns(source)]
            for r in rows:
                real = {k: v for k, v in r.changes if getattr(base, k) != v}
                method = real.get("method", base.method)
                count = (method_seeds or {}).get(method, seeds) if set(real) <= {"method"} else seeds
                for seed in range(count):
                    table.entries.append(Entry(r, source, seed, _run(base, real, r.pretrained, source, seed, plan),
                                               evaluations))
        plan.tables.append(table)
    return plan


def _run(base: Config, changes: dict, pretrained: bool, source: str, seed: int, plan: Plan) -> Run:
    """The run of ``base`` with ``changes`` on ``source``, in the folder its configuration names."""
    if pretrained:
        method = changes.get("method", base.method)
        slug = "-".join([method] + [f"{k}-{v}" for k, v in sorted(changes.items()) if k != "method"])
    else:
        slug = "untrained"
    folder = plan.folder / "runs" / _slug(source) / f"{_slug(slug)}-seed{seed}"
    return Run(base.replace(**changes, dataset=source, seed=seed, out_dir=str(folder)), pretrained)
