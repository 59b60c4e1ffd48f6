"""What a reproduction writes into ``results/<scale>/<experiment>/``, by the record's layout.

- ``table.md``: our table laid out like the paper's (rows x (group, dataset) columns), mean ± std over
  seeds and the pretraining wall time, the protocols used, then the paper's own table and where the
  orderings differ.
- ``table.csv``: one line per cell: row, group, dataset, mean, std, seeds, the paper's value when the
  dataset is the paper's, the row's mean pretraining seconds per run.
- ``runs.md`` and ``runs.jsonl``: every run with its equivalent commands, configuration, steps, wall times,
  scores and the commit it was trained with.
- ``table.png`` (layout "rows": bars with the seed spread, the paper's value as a marker) or ``grid_<dataset>.png``
  (layout "grid": accuracy against projector size, one line per batch size, as the paper's Fig. 4).
"""
from __future__ import annotations

import csv
import json
import statistics
from dataclasses import dataclass

from trimix import protocols
from trimix.reproduce.plan import Column, Entry, Table
from trimix.reproduce.plots import plot_grid, plot_rows
from trimix.reproduce.runner import RunResult, evaluate_command, pretrain_command
from trimix.reproduce.scales import STAND_IN, Scale, dataset_label, paper_dataset
from trimix.reproduce.paper_tables import FIG4_CLAIMS
from trimix.runs import format_duration

Results = dict  # run folder -> RunResult


@dataclass
class Cell:
    mean: float
    std: float | None  # sample standard deviation over seeds; None for one seed
    values: tuple[float, ...]  # one per seed

    @property
    def seeds(self) -> int:
        return len(self.values)

    def show(self, bold: bool = False) -> str:
        text = f"{self.mean:.2f}" + (f" ± {self.std:.2f}" if self.std is not None else "")
        return f"**{text}**" if bold else text


def entry_scores(entry: Entry, results: Results) -> dict[Column, float]:
    result = results[entry.run.folder]
    return {c: v for e in entry.evaluations for c, v in result.values(e, entry.source).items()}


def aggregate(table: Table, results: Results) -> dict[tuple[str, Column], Cell]:
    """Mean and sample std over seeds of each (row label, column) cell."""
    values: dict[tuple[str, Column], list[float]] = {}
    for entry in table.entries:
        for column, value in entry_scores(entry, results).items():
            values.setdefault((entry.row.label, column), []).append(value)
    return {key: Cell(statistics.mean(v), statistics.stdev(v) if len(v) > 1 else None, tuple(v))
            for key, v in values.items()}


def row_seconds(table: Table, results: Results) -> dict[str, float]:
    """Mean pretraining wall time per run of each row."""
    seconds: dict[str, list[float]] = {}
    for entry in table.entries:
        seconds.setdefault(entry.row.label, []).append(results[entry.run.folder].train_seconds)
    return {label: statistics.mean(s) for label, s in seconds.items()}


def column_label(table: Table, column: Column) -> str:
    group, dataset = column
    if table.experiment.scoring.kind == "transfer":  # (source, target)
        return f"{dataset_label(group)} → {dataset_label(dataset)}"
    return f"{group} {dataset_label(dataset)}"


def paper_column(table: Table, column: Column) -> Column | None:
    """The paper's column our ``column`` corresponds to, or None (not a paper dataset, or no paper table)."""
    paper = table.experiment.paper
    if paper is None:
        return None
    group, dataset = column
    if table.experiment.scoring.kind == "transfer":  # the group is the source dataset
        group = paper_dataset(group)
    mapped = (group, paper_dataset(dataset))
    return mapped if mapped in paper.columns else None


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def budget(table: Table, scale: Scale) -> str:
    """What every run of the table shares (the equal budget), and the protocols that scored it."""
    runs = [e.run for e in table.entries if e.run.pretrained]
    c = (runs or [table.entries[0].run])[0].config
    steps = sorted({r.config.max_steps for r in runs} - {None})
    length = _count(c.epochs, "epoch") + (f", stopped after {', '.join(map(str, steps))} steps" if steps else "")
    sizes = "" if table.experiment.layout == "grid" else f", projector {c.proj_layers} x {c.proj_dim}, batch {c.batch_size}"
    used = dict.fromkeys(protocols.describe(p) for e in table.entries[0].evaluations for p in e.protocols)
    return (f"Every run: ResNet-18 of width {c.width}{sizes}, {length}, Adam (lr {c.lr:g}, weight decay "
            f"{c.weight_decay:g}), the paper's two-view augmentation. Scored by {'; '.join(used)} "
            "(trimix.protocols; docs/design.md gives the reasons).")


def table_markdown(table: Table, scale: Scale, results: Results, command: str) -> str:
    cells, seconds = aggregate(table, results), row_seconds(table, results)
    labels = [r.label for r in table.rows]
    best = {c: max((cells[r, c].mean for r in labels if (r, c) in cells), default=None) for c in table.columns}
    lines = [f"# {table.experiment.title}, reproduced at the {scale.name} scale", "",
             f"Scale `{scale.name}`: {scale.about}. {budget(table, scale)}", "",
             f"Made by `{command}`; every run, its equivalent commands and configuration: [runs.md](runs.md).", ""]
    if any(STAND_IN in c for c in table.columns):
        lines += ["**The medical columns are the offline STAND-IN** (`trimix.stand_in`), **not MedMNIST**: they "
                  "show that the pipeline runs, nothing about medical images.", ""]
    seeds = {r: max((cells[r, c].seeds for c in table.columns if (r, c) in cells), default=0) for r in labels}
    body = [[r] + [cells[r, c].show(cells[r, c].mean == best[c]) if (r, c) in cells else "-" for c in table.columns]
            + [str(seeds[r]), format_duration(seconds.get(r, 0.0))] for r in labels]
    lines += ["## This reproduction", "",
              *_markdown_table(["Row", *(column_label(table, c) for c in table.columns), "seeds",
                                "pretraining time per run"], body)]
    spread = "mean ± sample std over the row's seeds" if max(seeds.values()) > 1 else "one seed (--seeds N for a spread)"
    untrained = any(not r.pretrained for r in table.rows)
    lines += ["", f"Top-1 accuracy (%), {spread}; the best in each column in bold. Pretraining time: wall time of "
              "the training steps, mean over the row's runs; evaluation not included."
              + (" The untrained row, not in the paper, is the same network at each seed's initialisation."
                 if untrained else ""), ""]
    return "\n".join(lines + _paper_section(table) + _orderings(table, cells)) + "\n"


def _paper_section(table: Table) -> list[str]:
    p = table.experiment.paper
    if p is None:
        return ["## The paper", "", FIG4_CLAIMS, ""]
    label = (lambda c: f"{dataset_label(c[0])} → {dataset_label(c[1])}") \
        if table.experiment.scoring.kind == "transfer" else (lambda c: f"{c[0]} {dataset_label(c[1])}")
    best = {c: max(v[i] for v in p.rows.values()) for i, c in enumerate(p.columns)}
    body = [[r] + [f"**{v:.2f}**" if v == best[c] else f"{v:.2f}" for v, c in zip(vals, p.columns)]
            for r, vals in p.rows.items()]
    return [f"## The paper (Table {p.number})", "", *_markdown_table(["Row", *map(label, p.columns)], body), "",
            f"Table {p.number} of the paper: {p.caption}, after 200 epochs of the full ResNet-18; ours were "
            "measured at the budget above, so read the orderings, not the values. Best in each column in bold.", ""]


def _orderings(table: Table, cells: dict) -> list[str]:
    """Per column the paper also has: the order of the rows here and there, and whether they agree."""
    lines, paper = [], table.experiment.paper
    for column in table.columns:
        mapped = paper_column(table, column)
        ours = {r.label: cells[r.label, column].mean for r in table.rows if (r.label, column) in cells}
        if mapped is None or len(ours) < 2:
            continue
        theirs = {r: paper.value(r, mapped) for r in ours if paper.value(r, mapped) is not None}
        ours = {r: v for r, v in ours.items() if r in theirs}
        a, b = (" > ".join(sorted(d, key=lambda r: -d[r])) for d in (ours, theirs))
        lines.append(f"- {column_label(table, column)}: here {a}; paper {b} ({'the same' if a == b else 'DIFFERENT'})")
    if not lines:
        why = ("the paper prints this figure without numbers" if paper is None else
               "no column of this reproduction is on one of the paper's datasets")
        return [f"No ordering is compared: {why}.", ""]
    return ["## Ordering against the paper's", "", *lines, ""]


def table_csv(table: Table, scale: Scale, results: Results) -> list[dict]:
    cells, seconds, rows = aggregate(table, results), row_seconds(table, results), []
    for r in table.rows:
        for column in table.columns:
            if (r.label, column) not in cells:
                continue
            cell, mapped = cells[r.label, column], paper_column(table, column)
            paper = "" if mapped is None else table.experiment.paper.value(r.label, mapped) or ""
            rows.append({"experiment": table.experiment.name, "scale": scale.name, "row": r.label,
                         "group": column[0], "dataset": column[1], "mean": round(cell.mean, 4),
                         "std": "" if cell.std is None else round(cell.std, 4), "seeds": cell.seeds,
                         "paper": paper, "pretrain_seconds_per_run": round(seconds[r.label], 2)})
    return rows


def run_record(table: Table, entry: Entry, result: RunResult) -> dict:
    return {"experiment": table.experiment.name, "row": entry.row.label, "dataset": entry.source,
            "seed": entry.seed, "folder": str(entry.run.folder), "steps": result.steps, "commit": result.commit,
            "pretrain_seconds": result.train_seconds, "scores": {column_label(table, c): v for c, v in
                                                                 entry_scores(entry, {entry.run.folder: result}).items()},
            "pretrain_command": pretrain_command(entry.run),
            "evaluate_command": evaluate_command(entry.run, list(entry.evaluations)),
            "evaluations": [e.key() for e in entry.evaluations], "config": entry.run.config.to_dict()}


def runs_markdown(table: Table, results: Results, command: str, notes: list[str]) -> str:
    lines = [f"# Runs of {table.experiment.name}", "", f"Reproduction: `{command}`", "", *notes,
             "| row | dataset | seed | steps | pretraining | evaluation | commit | scores |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for entry in table.entries:
        r = results[entry.run.folder]
        seconds = sum(r.eval_seconds[e.key()] for e in entry.evaluations)
        scores = ", ".join(f"{column_label(table, c)} {v:.2f}" for c, v in entry_scores(entry, results).items())
        lines.append(f"| {entry.row.label} | {dataset_label(entry.source)} | {entry.seed} | {r.steps} | "
                     f"{format_duration(r.train_seconds)} | {format_duration(seconds)} | {r.commit or '-'} | {scores} |")
    lines += ["", "## Commands", "", "Each run as `python -m trimix` commands (pretraining, then the same scores from "
              "its checkpoint). There are none for data without a command-line name (the offline stand-in) and for "
              "the untrained network, which `python -m trimix evaluate RUN --random-baseline` scores beside a run "
              "RUN of the same configuration and seed.", ""]
    for entry in table.entries:
        lines += [f"### {entry.row.label}, {dataset_label(entry.source)}, seed {entry.seed}", "", "```",
                  pretrain_command(entry.run) or "# no pretrain command (see above)",
                  evaluate_command(entry.run, list(entry.evaluations)) or "# no evaluate command (see above)",
                  "```", ""]
    return "\n".join(lines)


def write_outputs(table: Table, scale: Scale, results: Results, command: str, notes: list[str]) -> list[str]:
    """Write every output file of ``table`` into ``table.folder``; returns their paths."""
    table.folder.mkdir(parents=True, exist_ok=True)
    paths = {name: table.folder / name for name in ("table.md", "table.csv", "runs.md", "runs.jsonl")}
    paths["table.md"].write_text(table_markdown(table, scale, results, command))
    with paths["table.csv"].open("w", newline="") as f:
        rows = table_csv(table, scale, results)
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    paths["runs.md"].write_text(runs_markdown(table, results, command, notes))
    paths["runs.jsonl"].write_text("".join(json.dumps(run_record(table, e, results[e.run.folder])) + "\n"
                                           for e in table.entries))
    cells = aggregate(table, results)
    if table.experiment.layout == "grid":
        for dataset in dict.fromkeys(e.source for e in table.entries):
            name = f"grid_{paper_dataset(dataset) or dataset.replace(':', '-').replace('/', '-')}.png"
            plot_grid(table, cells, dataset, f"{table.experiment.title}: {dataset_label(dataset)}").savefig(
                table.folder / name, dpi=120)
            paths[name] = table.folder / name
    else:
        plot_rows(table, cells, column_label, paper_column).savefig(table.folder / "table.png", dpi=100)
        paths["table.png"] = table.folder / "table.png"
    return [str(p) for p in paths.values()]
