"""Run a plan: every distinct encoder once, every score it is asked for, then each table's numbers.

    outcome = run_experiments(["table6", "table7"], "quick", results="runs/notebook08", changes={"max_steps": 100})
    outcome["table6"].rows()          # [{"row": ..., "kNN shapes": 61.2, "Linear shapes": 60.8, ...}, ...]
    outcome["table6"].figure()        # bars with the seed spread and the paper's value (report.plots)

This is what ``python -m trimix reproduce`` (``trimix.reproduce.cli``) and notebooks 07-08 call.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from trimix.reproduce.plan import Plan, Table, make_plan, parse_seeds
from trimix.reproduce.plots import plot_grid, plot_rows
from trimix.reproduce.records import Experiment, get_experiments
from trimix.reproduce.report import aggregate, column_label, entry_scores, paper_column
from trimix.reproduce.runner import RunResult, execute
from trimix.reproduce.scales import DataCache, get_scale


@dataclass
class TableResult:
    """One table's numbers after a run: ``rows`` for printing, ``figure`` for looking."""
    table: Table
    results: dict[Path, RunResult]

    def rows(self, digits: int = 1) -> list[dict]:
        """One dict per row: its label, each column's mean over seeds (± std when several), and the paper's."""
        cells, out = aggregate(self.table, self.results), []
        for r in self.table.rows:
            line = {"row": r.label}
            for column in self.table.columns:
                cell = cells.get((r.label, column))
                if cell is not None:
                    line[column_label(self.table, column)] = (
                        round(cell.mean, digits) if cell.std is None else f"{cell.mean:.{digits}f} ± {cell.std:.{digits}f}")
                mapped = paper_column(self.table, column)
                paper = self.table.experiment.paper
                if mapped is not None and paper.value(r.label, mapped) is not None:
                    line[f"paper {column_label(self.table, column)}"] = paper.value(r.label, mapped)
            out.append(line)
        return out

    def mean(self, label: str, group: str = "kNN") -> float:
        """The mean over seeds of row ``label`` in the first column of ``group`` ("kNN", "Linear", "10%", ...)."""
        column = next(c for c in self.table.columns if c[0] == group)
        return aggregate(self.table, self.results)[label, column].mean

    def seed_values(self, label: str, group: str = "kNN") -> list[float]:
        """Row ``label``'s value in the first column of ``group``, one per seed, in seed order."""
        column = next(c for c in self.table.columns if c[0] == group)
        entries = sorted((e for e in self.table.entries if e.row.label == label and e.source == column[1]),
                         key=lambda e: e.seed)
        return [entry_scores(e, self.results)[column] for e in entries]

    def figure(self, group: str = "Linear"):
        """Bars per row (layout "rows"), or accuracy in ``group`` against projector size (layout "grid")."""
        cells = aggregate(self.table, self.results)
        if self.table.experiment.layout == "grid":
            dataset = self.table.columns[0][1]
            return plot_grid(self.table, cells, dataset, self.table.experiment.title, group)
        return plot_rows(self.table, cells, column_label, paper_column)


def execute_plan(plan: Plan, data: DataCache, progress: bool = True,
                 log: Callable[[str], None] = print) -> dict[Path, RunResult]:
    """Every distinct run of ``plan`` once, with every evaluation any of its tables asks of it."""
    results, runs = {}, plan.runs
    for i, run in enumerate(runs, 1):
        result = execute(run, plan.evaluations(run), data, progress=progress)
        results[run.folder] = result
        done = (f"trained {result.trained_steps} steps" if result.trained_steps else
                "untrained" if not run.pretrained else
                "reused" + (f", {result.evaluated} score(s) computed" if result.evaluated else ""))
        log(f"[{i}/{len(runs)}] {run.folder.relative_to(plan.folder)}: {done} ({result.steps} steps)")
    return results


def run_experiments(names: list[str | Experiment] | str | Experiment, scale: str = "quick", *,
                    results: str | Path = "results",
                    seeds: list[str] | tuple[str, ...] = ("1",), changes: dict | None = None,
                    data: DataCache | None = None, progress: bool = True,
                    log: Callable[[str], None] = print) -> dict[str, TableResult]:
    """Plan and run the named experiments (or "all"), or records of your own, at ``scale``; returns each
    table's ``TableResult`` by the experiment's name."""
    names = [names] if isinstance(names, (str, Experiment)) else names
    experiments = [e for name in names for e in ([name] if isinstance(name, Experiment) else get_experiments(name))]
    default_seeds, method_seeds = parse_seeds([str(s) for s in seeds])
    plan = make_plan(experiments, get_scale(scale), seeds=default_seeds, method_seeds=method_seeds,
                     results=results, changes=changes)
    outcome = execute_plan(plan, data or DataCache(), progress, log)
    return {t.experiment.name: TableResult(t, outcome) for t in plan.tables}
