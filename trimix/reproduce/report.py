"""What a reproduction writes into ``results/<experiment>/<scale>/``.

- ``table.md``: our table laid out like the paper's (rows x (group, dataset) columns), mean ± std over
  seeds and the pretraining wall time, then the paper's own table, then where the orderings differ.
- ``table.csv``: one line per cell: row, group, dataset, mean, std, seeds, the paper's value when the
  dataset is the paper's, the row's mean pretraining seconds per run.
- ``runs.md`` and ``runs.jsonl``: every run with its equivalent commands, its full configuration, steps,
  wall times and scores.
- ``fig4_<dataset>.png`` for Fig. 4.
"""
from __future__ import annotations

import csv
import json
import statistics
from dataclasses import dataclass

from trimix.reproduce.paper_tables import FIG4_CLAIMS, METHOD_NAMES
from trimix.reproduce.plan import EXPERIMENTS, RANDOM_ROW, Column, Plan
from trimix.reproduce.runner import RunResult, evaluate_command, pretrain_command
from trimix.reproduce.scales import STAND_IN, dataset_label, paper_dataset
from trimix.runs import format_duration


@dataclass
class Cell:
    mean: float
    std: float | None  # sample standard deviation over seeds; None for one seed
    seeds: int

    def show(self, bold: bool = False) -> str:
        text = f"{self.mean:.2f}" + (f" ± {self.std:.2f}" if self.std is not None else "")
        return f"**{text}**" if bold else text


def aggregate(plan: Plan, results: list[RunResult]) -> dict[tuple[str, Column], Cell]:
    """Mean and sample std over seeds of each (row, column) cell."""
    values: dict[tuple[str, Column], list[float]] = {}
    for r in results:
        for column, value in r.scores.items():
            values.setdefault((r.run.row, column), []).append(value)
    return {key: Cell(statistics.mean(v), statistics.stdev(v) if len(v) > 1 else None, len(v))
            for key, v in values.items()}


def row_seconds(results: list[RunResult]) -> dict[str, float]:
    """Mean pretraining wall time per run of each row."""
    seconds: dict[str, list[float]] = {}
    for r in results:
        seconds.setdefault(r.run.row, []).append(r.train_seconds)
    return {row: statistics.mean(s) for row, s in seconds.items()}


def _column_label(plan: Plan, column: Column) -> str:
    group, dataset = column
    if plan.experiment == "table5":  # (source, target)
        return f"{dataset_label(group)} → {dataset_label(dataset)}"
    return f"{group} {dataset_label(dataset)}"


def _paper_column(plan: Plan, column: Column) -> Column | None:
    """The paper's column our ``column`` corresponds to, or None (not a paper dataset, or no paper table)."""
    if plan.paper is None:
        return None
    group, dataset = column
    if plan.experiment == "table5":  # the group is the source dataset
        group = paper_dataset(group)
    paper = (group, paper_dataset(dataset))
    return paper if paper in plan.paper.columns else None


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _ordering(names: dict[str, str], values: dict[str, float]) -> str:
    return " > ".join(names[r] for r in sorted(values, key=lambda r: -values[r]))


def table_markdown(plan: Plan, results: list[RunResult], command: str) -> str:
    cells, seconds = aggregate(plan, results), row_seconds(results)
    best = {c: max((cells[r, c].mean for r in plan.rows if (r, c) in cells), default=None) for c in plan.columns}
    config = plan.runs[0].config
    lines = [f"# {EXPERIMENTS[plan.experiment]}, reproduced at the {plan.scale.name} scale", "",
             f"Scale `{plan.scale.name}`: {plan.scale.about}. {budget(plan)}", "",
             f"Made by `{command}`; every run, its equivalent commands and configuration: [runs.md](runs.md).",
             ""]
    if any(STAND_IN in c for c in plan.columns):
        lines += ["**The medical columns are the offline STAND-IN** (`trimix.stand_in`: shapes drawn in grey with "
                  "speckle noise), **not MedMNIST**: they show that the pipeline runs, nothing about medical images.",
                  ""]
    lines += ["## This reproduction", ""]
    header = ["Variant" if plan.experiment in ("table6", "table7", "fig4") else "Method"]
    header += [_column_label(plan, c) for c in plan.columns] + ["seeds", "pretraining time per run"]
    seeds = {r: max((cells[r, c].seeds for c in plan.columns if (r, c) in cells), default=0) for r in plan.rows}
    body = [[plan.rows[r]] + [cells[r, c].show(cells[r, c].mean == best[c]) if (r, c) in cells else "-"
                              for c in plan.columns] + [str(seeds[r]), format_duration(seconds.get(r, 0.0))]
            for r in plan.rows]
    lines += _markdown_table(header, body)
    spread = ("mean ± sample std over the row's seeds" if max(seeds.values()) > 1 else
              "one seed (--seeds N for a spread)")
    lines += ["", f"Top-1 accuracy (%), {spread}; the best in each column in bold. Pretraining time: wall time "
              f"of the training steps on {config.device if config.device != 'auto' else 'this machine'}, "
              "mean over the row's runs; evaluation not included."
              + (" The last row, not in the paper, is the same network untrained (each seed's initialisation)."
                 if RANDOM_ROW in plan.rows else ""), ""]
    lines += _paper_section(plan) + _orderings(plan, cells)
    return "\n".join(lines) + "\n"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def budget(plan: Plan) -> str:
    """One sentence: what every run shares (the equal budget)."""
    c = plan.runs[0].config
    steps = sorted({r.config.max_steps for r in plan.runs if r.row != RANDOM_ROW} - {None})  # random: 0
    length = _count(c.epochs, "epoch") + (f", stopped after {', '.join(map(str, steps))} steps" if steps else "")
    sizes = "" if plan.experiment == "fig4" else f", projector {c.proj_layers} x {c.proj_dim}, batch {c.batch_size}"
    e = plan.runs[0].evaluations[0]
    epochs = _count(e.epochs, "epoch")
    scoring = {"frozen": f"kNN (k=200, T=0.1) and a linear probe of {epochs} on frozen backbone features",
               "semi": f"fine-tuning of {epochs} on a class-balanced fraction of the labels",
               "transfer": f"a linear probe of {epochs} on frozen features of each target"}[e.kind]
    return (f"Every run: ResNet-18 of width {c.width}{sizes}, {length}, Adam (lr {c.lr:g}, weight decay "
            f"{c.weight_decay:g}), the paper's two-view augmentation; scored by {scoring}, evaluation seed 0.")


def _paper_section(plan: Plan) -> list[str]:
    if plan.paper is None:
        return ["## The paper", "", FIG4_CLAIMS, ""]
    p = plan.paper
    label = (lambda c: f"{dataset_label(c[0])} → {dataset_label(c[1])}") if plan.experiment == "table5" else \
        (lambda c: f"{c[0]} {dataset_label(c[1])}")
    best = {c: max(v[i] for v in p.rows.values()) for i, c in enumerate(p.columns)}
    body = [[METHOD_NAMES.get(r, r)] + [f"**{v:.2f}**" if v == best[c] else f"{v:.2f}"
                                        for v, c in zip(vals, p.columns)] for r, vals in p.rows.items()]
    first = "Variant" if plan.experiment in ("table6", "table7") else "Method"
    return [f"## The paper (Table {p.number})", "", *_markdown_table([first, *map(label, p.columns)], body), "",
            f"Table {p.number} of the paper: {p.caption}. Best in each column in bold.", ""]


def _orderings(plan: Plan, cells: dict) -> list[str]:
    """Per column the paper also has: the order of the rows here and there, and whether they agree."""
    lines = []
    for column in plan.columns:
        paper_column = _paper_column(plan, column)
        ours = {r: cells[r, column].mean for r in plan.rows if (r, column) in cells}
        if paper_column is None or len(ours) < 2:
            continue
        theirs = {r: plan.paper.value(r, paper_column) for r in ours if plan.paper.value(r, paper_column) is not None}
        ours = {r: v for r, v in ours.items() if r in theirs}
        a, b = _ordering(plan.rows, ours), _ordering(plan.rows, theirs)
        verdict = "the same" if a == b else "DIFFERENT"
        lines.append(f"- {_column_label(plan, column)}: here {a}; paper {b} ({verdict})")
    if not lines:
        return ["No column of this reproduction is on one of the paper's datasets, so no ordering is compared.", ""]
    return ["## Ordering against the paper's", "", *lines, ""]


def table_csv(plan: Plan, results: list[RunResult]) -> list[dict]:
    cells, seconds = aggregate(plan, results), row_seconds(results)
    rows = []
    for r in plan.rows:
        for column in plan.columns:
            if (r, column) not in cells:
                continue
            cell, paper_column = cells[r, column], _paper_column(plan, column)
            rows.append({"experiment": plan.experiment, "scale": plan.scale.name, "row": r, "label": plan.rows[r],
                         "group": column[0], "dataset": column[1], "mean": round(cell.mean, 4),
                         "std": "" if cell.std is None else round(cell.std, 4), "seeds": cell.seeds,
                         "paper": "" if paper_column is None else plan.paper.value(r, paper_column) or "",
                         "pretrain_seconds_per_run": round(seconds[r], 2)})
    return rows


def run_record(plan: Plan, result: RunResult) -> dict:
    run = result.run
    return {"experiment": plan.experiment, "scale": plan.scale.name, "row": run.row, "dataset": run.dataset,
            "seed": run.seed, "folder": str(run.folder), "steps": result.steps,
            "pretrain_seconds": result.train_seconds, "eval_seconds": round(result.eval_seconds, 2),
            "trained_steps_now": result.trained_steps, "scores_computed_now": result.evaluated,
            "scores": {_column_label(plan, c): v for c, v in result.scores.items()},
            "pretrain_command": pretrain_command(run.config), "evaluate_command": evaluate_command(run),
            "evaluations": [e.key for e in run.evaluations], "config": run.config.to_dict()}


def runs_markdown(plan: Plan, results: list[RunResult], command: str, notes: list[str]) -> str:
    base = plan.runs[0].config.to_dict()
    lines = [f"# Runs of {plan.experiment} at the {plan.scale.name} scale", "", f"Reproduction: `{command}`", "",
             *notes, "| run | dataset | seed | steps | pretraining | evaluation | this time | scores |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in results:
        now = f"trained {r.trained_steps} steps" if r.trained_steps else "untrained" if r.steps == 0 else "reused"
        now += f", {_count(r.evaluated, 'evaluation')} computed" if r.evaluated else ""
        scores = ", ".join(f"{_column_label(plan, c)} {v:.2f}" for c, v in r.scores.items())
        lines.append(f"| {plan.rows[r.run.row]} | {dataset_label(r.run.dataset)} | {r.run.seed} | {r.steps} | "
                     f"{format_duration(r.train_seconds)} | {format_duration(r.eval_seconds)} | {now} | {scores} |")
    lines += ["", "## Commands", "", "Each run as `python -m trimix` commands (pretraining, then the same scores "
              "from its checkpoint). Where there are none, either the data has no command-line name (the offline "
              "stand-in; in Python: `trimix.train.pretrain(config, data=trimix.stand_in.shapes_stand_in('train'))` "
              "with the configuration in runs.jsonl), or the run is the random encoder, which trains nothing: "
              "`python -m trimix evaluate RUN --random-baseline` scores that same untrained network (same seed) "
              "beside the run RUN.", ""]
    for r in results:
        changes = {k: v for k, v in r.run.config.to_dict().items() if base[k] != v and k != "out_dir"}
        lines += [f"### {plan.rows[r.run.row]}, {dataset_label(r.run.dataset)}, seed {r.run.seed}", "",
                  f"Changes from the first run's configuration: `{json.dumps(changes)}`", "", "```",
                  pretrain_command(r.run.config) or "# no pretrain command (see above)",
                  evaluate_command(r.run) or "# no evaluate command (see above)", "```", ""]
    lines += ["## The first run's full configuration", "", "```json", json.dumps(base, indent=1), "```", ""]
    return "\n".join(lines)


def write_outputs(plan: Plan, results: list[RunResult], command: str, notes: list[str]) -> list[str]:
    """Write every output file of ``plan`` into ``plan.folder``; returns their paths."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    paths = {name: plan.folder / name for name in ("table.md", "table.csv", "runs.md", "runs.jsonl")}
    paths["table.md"].write_text(table_markdown(plan, results, command))
    with paths["table.csv"].open("w", newline="") as f:
        rows = table_csv(plan, results)
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    paths["runs.md"].write_text(runs_markdown(plan, results, command, notes))
    paths["runs.jsonl"].write_text("".join(json.dumps(run_record(plan, r)) + "\n" for r in results))
    if plan.experiment == "fig4":
        paths.update(write_fig4(plan, results))
    return [str(p) for p in paths.values()]


def write_fig4(plan: Plan, results: list[RunResult]) -> dict:
    """One PNG per dataset: linear accuracy against projector size, one line per batch size (Fig. 4)."""
    from trimix.plots_experiments import plot_batch_dim

    cells, written = aggregate(plan, results), {}
    for dataset in dict.fromkeys(r.run.dataset for r in results):
        configs = {r.run.row: r.run.config for r in results if r.run.dataset == dataset}
        rows = [{"config": configs[row], "linear": cells[row, ("Linear", dataset)].mean} for row in configs]
        title = f"Fig. 4 at the {plan.scale.name} scale: {dataset_label(dataset)}"
        fig = plot_batch_dim(rows, key="linear", title=title)
        name = f"fig4_{paper_dataset(dataset) or dataset.replace(':', '-').replace('/', '-')}.png"
        fig.savefig(plan.folder / name, dpi=120)
        written[name] = plan.folder / name
    return written
