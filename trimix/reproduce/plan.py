"""What each experiment runs: its rows (methods or variants), datasets, seeds, and how each run is scored.

    plan = make_plan("table1", SCALES["quick"], seeds=1, method_seeds={"trimix": 3}, results="results")
    plan.runs[0].config.out_dir   # results/table1/quick/runs/shapes/simclr-seed0

A table's columns are ``(group, dataset)`` pairs as in the paper (``paper_tables``): ("kNN", "cifar10"),
("10%", "pathmnist"), or for transfer (source, target). Every run of a plan shares the scale's
configuration; only the method or the variant's changes, the dataset and the seed differ.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from trimix import evaluate as ev
from trimix.ablations import TABLE_VI_VARIANTS, TABLE_VII_VARIANTS, _slug, batch_dim_grid
from trimix.config import Config
from trimix.reproduce.paper_tables import METHOD_NAMES, PAPER_TABLES, PaperTable
from trimix.reproduce.scales import DataCache, Scale

Column = tuple[str, str]  # (group, dataset)

EXPERIMENTS = {  # name -> what it reproduces
    "table1": "Table I: kNN and linear evaluation, natural images",
    "table2": "Table II: semi-supervised fine-tuning on 1 %, 10 %, 100 % of the labels, natural images",
    "table3": "Table III: kNN and linear evaluation, medical images (MedMNIST)",
    "table4": "Table IV: semi-supervised fine-tuning, medical images (MedMNIST)",
    "table5": "Table V: transfer from natural to medical images (linear probe on frozen features)",
    "table6": "Table VI: ablation of TriMix's loss terms",
    "table7": "Table VII: TriMix's extra terms on the backbone features Y or the embeddings Z",
    "fig4": "Fig. 4: TriMix with batch size x projector size",
}
FRACTIONS = (0.01, 0.1, 1.0)  # Tables II and IV
# A last row in every table (not Fig. 4): the same network untrained (0 steps, the seed's initialisation),
# scored the same way. Not in the paper; it says whether a short run learned anything at all.
RANDOM_ROW, RANDOM_LABEL = "random", "random init (no pretraining)"


@dataclass(frozen=True)
class Evaluation:
    """One way of scoring a pretrained encoder; ``key`` names everything its numbers depend on (the cache).

    kind "frozen": kNN (k=200, T=0.1) and a linear probe of ``epochs`` epochs on ``dataset``;
    "semi": fine-tuning for ``epochs`` epochs on a class-balanced ``fraction`` of ``dataset``'s labels;
    "transfer": a linear probe of ``epochs`` epochs on the frozen features of the target ``dataset``.
    All use the evaluation seed 0, as ``python -m trimix evaluate`` does.
    """

    kind: str
    dataset: str
    epochs: int
    fraction: float = 1.0

    @property
    def key(self) -> str:
        extra = {"semi": f" fraction={self.fraction:g}", "frozen": " k=200 T=0.1"}.get(self.kind, "")
        return f"{self.kind} on {self.dataset}: epochs={self.epochs}{extra}"

    def columns(self, source: str) -> list[Column]:
        """The table cells this evaluation fills, for an encoder pretrained on ``source``."""
        if self.kind == "frozen":
            return [("kNN", self.dataset), ("Linear", self.dataset)]
        if self.kind == "semi":
            return [(f"{self.fraction:.0%}", self.dataset)]
        return [(source, self.dataset)]

    def score(self, net: nn.Module, image_size: int, data: DataCache, device) -> list[float]:
        """Top-1 accuracies (%), one per ``columns`` entry, of ``net``'s backbone (left unchanged)."""
        train, test = data(self.dataset, "train"), data(self.dataset, "test")
        if self.kind == "frozen":
            s = ev.score_encoder(net, train, test, ("knn", "linear"), linear_epochs=self.epochs, device=device)
            return [s["knn"], s["linear"]]
        if self.kind == "semi":
            return [ev.finetune(net, train, test, self.fraction, epochs=self.epochs, device=device)["accuracy"]]
        return [ev.transfer(net, image_size, train, test, epochs=self.epochs, device=device)["accuracy"]]


@dataclass
class Run:
    """One pretraining run and its evaluations. ``config.out_dir`` is its folder."""

    row: str  # the table row: a method name (``METHODS``) or a variant's name
    dataset: str  # what it pretrains on
    seed: int
    config: Config
    evaluations: tuple[Evaluation, ...]

    @property
    def folder(self) -> Path:
        return Path(self.config.out_dir)


@dataclass
class Plan:
    experiment: str
    scale: Scale
    folder: Path  # results/<experiment>/<scale label>
    rows: dict[str, str]  # row key -> label, in the table's order
    columns: list[Column]
    runs: list[Run] = field(default_factory=list)
    paper: PaperTable | None = None


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


def make_plan(experiment: str, scale: Scale, *, seeds: int = 1, method_seeds: dict[str, int] | None = None,
              datasets: list[str] | None = None, results: str | Path = "results", label: str | None = None,
              changes: dict | None = None, eval_epochs: int | None = None) -> Plan:
    """The runs of ``experiment`` at ``scale``.

    seeds: pretraining seeds 0..seeds-1 of each row; method_seeds: another number for some methods
    (rows of Tables I-V), e.g. more seeds for the two methods a table is about.
    datasets: replace the scale's datasets of the experiment (the pretraining ones; for table5 the sources).
    label: the folder name under results/<experiment>/ (default: the scale's name).
    changes: Config changes for every run (e.g. device, root, max_steps). eval_epochs: caps the linear
    probe and fine-tuning epochs. Unknown experiments are refused with a ValueError.
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of: {', '.join(EXPERIMENTS)}, all")
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    base = scale.config().replace(**(changes or {}))
    medical_table = experiment in ("table3", "table4")
    sources = list(datasets or (scale.medical if medical_table else scale.natural(base)))
    if experiment in ("table6", "table7") and not datasets:
        sources = sources[:1]  # the paper's ablations use CIFAR10 only
    linear = min(scale.linear_epochs, eval_epochs or scale.linear_epochs)
    finetune = min(scale.finetune_epochs, eval_epochs or scale.finetune_epochs)
    plan = Plan(experiment, scale, Path(results) / experiment / (label or scale.name), {}, [],
                paper=PAPER_TABLES.get(experiment))

    def evaluations(source: str) -> tuple[Evaluation, ...]:
        if experiment in ("table2", "table4"):
            return tuple(Evaluation("semi", source, finetune, f) for f in FRACTIONS)
        if experiment == "table5":
            return tuple(Evaluation("transfer", target, linear) for target in scale.medical)
        return (Evaluation("frozen", source, linear),)

    if experiment in ("table6", "table7", "fig4"):
        rows = {"table6": TABLE_VI_VARIANTS, "table7": TABLE_VII_VARIANTS}.get(experiment)
        rows = rows or _fig4_variants(base, *scale.fig4_grid(base))
    else:
        rows = {method: {"method": method} for method in METHOD_NAMES}
    if experiment != "fig4":
        rows = {**rows, RANDOM_ROW: {"max_steps": 0}}
    plan.rows = {name: METHOD_NAMES.get(name, RANDOM_LABEL if name == RANDOM_ROW else name) for name in rows}
    for source in sources:
        plan.columns += [c for e in evaluations(source) for c in e.columns(source)]
        for name, row_changes in rows.items():
            row_changes = {k: v for k, v in row_changes.items() if getattr(base, k) != v}  # only real changes
            slug = _slug(", ".join(f"{k}={v}" for k, v in row_changes.items()) or "base")
            if experiment not in ("table6", "table7", "fig4") or name == RANDOM_ROW:
                slug = name  # tables I-V: runs/<dataset>/<method>-seed<k>
            for seed in range((method_seeds or {}).get(name, seeds)):
                out = plan.folder / "runs" / _slug(source) / f"{slug}-seed{seed}"
                config = base.replace(**row_changes, dataset=source, seed=seed, out_dir=str(out))
                plan.runs.append(Run(name, source, seed, config, evaluations(source)))
    return plan


def _fig4_variants(base: Config, batch_sizes, dims) -> dict[str, dict]:
    """Fig. 4's grid (``ablations.batch_dim_grid``) at an equal number of images per run.

    The paper trains every cell for 200 epochs. A scale that stops runs after ``max_steps`` steps (quick)
    would give larger batches more images; there each cell's step cap is scaled by base batch / its batch.
    """
    grid = batch_dim_grid(batch_sizes, dims)
    if base.max_steps is None:
        return grid
    return {name: {**changes, "max_steps": max(1, round(base.max_steps * base.batch_size / changes["batch_size"]))}
            for name, changes in grid.items()}
