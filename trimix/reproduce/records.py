"""Each table and figure of the paper as one declarative record, an ``Experiment``.

A record says which encoders a table compares (its rows, as ``Config`` changes), where they are pretrained,
how they are scored, the paper's numbers and how the table is laid out. The engine (``plan``, ``runner``,
``report``) never asks which experiment it is handling: a new table is a new record.

    EXPERIMENTS["table6"].rows[1]        # Row("TriMix: virtual embeddings loss only", (("gamma", 0.0),))

The rows of Tables VI and VII and the grid of Fig. 4 are the paper's ablations (section IV-C).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from trimix.reproduce.paper_tables import METHOD_NAMES, PAPER_TABLES, PaperTable


@dataclass(frozen=True)
class Row:
    """One row of a table: the ``Config`` changes of its pretraining run, or the untrained network."""
    label: str
    changes: tuple[tuple[str, object], ...] = ()
    pretrained: bool = True  # False: the base network at its seed's initialisation, scored as it is

    @functools.cached_property
    def change_dict(self) -> dict:
        """``changes`` as a dict (one object per row, so a check can tell it from a copy)."""
        return dict(self.changes)


def row(label: str, **changes) -> Row:
    return Row(label, tuple(sorted(changes.items())))


# A last row in every table (not Fig. 4): not in the paper, it says whether a short run learned anything.
UNTRAINED = Row("random init (no pretraining)", pretrained=False)
METHOD_ROWS = tuple(row(name, method=method) for method, name in METHOD_NAMES.items())


@dataclass(frozen=True)
class Grid:
    """Fig. 4's rows: every batch size with every projector size (hidden and output), from the scale
    (``Scale.fig4_grid``). ``equal_images``: a scale that caps its runs at ``max_steps`` scales each cell's cap
    by base batch / its batch, so that every cell sees as many images (the paper trains each 200 epochs)."""
    equal_images: bool = True


@dataclass(frozen=True)
class Scoring:
    """How a table scores its encoders: ``frozen`` (kNN and a linear probe, on the pretraining dataset),
    ``finetune`` (fine-tuning on each of ``fractions`` of its labels), ``transfer`` (a linear probe on each of
    the scale's medical datasets, the encoder frozen)."""
    kind: str
    fractions: tuple[float, ...] = ()


FROZEN = Scoring("frozen")
SEMI = Scoring("finetune", (0.01, 0.1, 1.0))
TRANSFER = Scoring("transfer")


@dataclass(frozen=True)
class Experiment:
    """One table or figure of the paper, as data."""
    name: str  # the command-line name: table1 ... table7, fig4
    title: str
    rows: tuple[Row, ...] | Grid
    scoring: Scoring
    pretrain_on: str = "natural"  # which of the scale's dataset lists: "natural" or "medical"
    first_dataset_only: bool = False  # the paper's ablations use CIFAR10 alone
    paper: PaperTable | None = None
    layout: str = "rows"  # "rows": a table of rows x columns; "grid": a figure, accuracy against projector size


TABLE_VI_ROWS = (
    row("Barlow Twins", method="barlow_twins"),
    row("TriMix: virtual embeddings loss only", gamma=0.0),
    row("TriMix: self-consistency loss only", beta=0.0),
    row("TriMix: both losses, no feature norms", feature_norm=False),
    row("TriMix: both losses + feature norms"),
)
TABLE_VII_ROWS = (
    row("L_vrt on Y + L_con on Y", vrt_on="y", con_on="y"),
    row("L_vrt on Z + L_con on Y", vrt_on="z", con_on="y"),
    row("L_vrt on Z + L_con on Z (paper)"),
)

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment("table1", "Table I: kNN and linear evaluation, natural images", METHOD_ROWS + (UNTRAINED,), FROZEN,
               paper=PAPER_TABLES["table1"]),
    Experiment("table2", "Table II: semi-supervised fine-tuning on 1 %, 10 %, 100 % of the labels, natural images",
               METHOD_ROWS + (UNTRAINED,), SEMI, paper=PAPER_TABLES["table2"]),
    Experiment("table3", "Table III: kNN and linear evaluation, medical images (MedMNIST)",
               METHOD_ROWS + (UNTRAINED,), FROZEN, pretrain_on="medical", paper=PAPER_TABLES["table3"]),
    Experiment("table4", "Table IV: semi-supervised fine-tuning, medical images (MedMNIST)",
               METHOD_ROWS + (UNTRAINED,), SEMI, pretrain_on="medical", paper=PAPER_TABLES["table4"]),
    Experiment("table5", "Table V: transfer from natural to medical images (linear probe on frozen features)",
               METHOD_ROWS + (UNTRAINED,), TRANSFER, paper=PAPER_TABLES["table5"]),
    Experiment("table6", "Table VI: ablation of TriMix's loss terms", TABLE_VI_ROWS + (UNTRAINED,), FROZEN,
               first_dataset_only=True, paper=PAPER_TABLES["table6"]),
    Experiment("table7", "Table VII: TriMix's extra terms on the backbone features Y or the embeddings Z",
               TABLE_VII_ROWS + (UNTRAINED,), FROZEN, first_dataset_only=True, paper=PAPER_TABLES["table7"]),
    Experiment("fig4", "Fig. 4: TriMix with batch size x projector size", Grid(), FROZEN, layout="grid"),
)}


def get_experiments(name: str) -> list[Experiment]:
    """``EXPERIMENTS[name]``, or all of them for "all"; an unknown name is refused with the known ones."""
    if name == "all":
        return list(EXPERIMENTS.values())
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}, all, curve")
    return [EXPERIMENTS[name]]
