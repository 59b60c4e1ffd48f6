"""The figures a reproduction writes beside its ``table.md`` (``report.write_outputs``), by the table's layout.

- ``plot_rows``: one panel per column, a bar per row at its mean over seeds, the seed spread (sample std) as
  an error bar, each seed as a dot, and the paper's value as a marker where the paper has the cell.
- ``plot_grid``: accuracy against the projector size, one line per batch size (the paper's Fig. 4).
"""
from __future__ import annotations

import textwrap
from typing import Callable

from matplotlib.figure import Figure

Column = tuple[str, str]


def plot_rows(table, cells: dict, label: Callable, paper_column: Callable, max_panels: int = 8) -> Figure:
    """Bars per row for each of the first ``max_panels`` columns of ``table`` (``cells``: report.aggregate)."""
    columns = table.columns[:max_panels]
    rows = [r.label for r in table.rows]
    fig = Figure(figsize=(3.2 * len(columns), 0.42 * len(rows) + 1.4), layout="constrained")
    axes = fig.subplots(1, len(columns), sharey=True, squeeze=False)[0]
    paper = table.experiment.paper
    for ax, column in zip(axes, columns):
        present = [i for i, r in enumerate(rows) if (r, column) in cells]
        means = [cells[rows[i], column].mean for i in present]
        stds = [cells[rows[i], column].std or 0.0 for i in present]
        ax.barh(present, means, xerr=stds, color="tab:blue", alpha=0.7, capsize=3, label="ours (mean ± std)")
        seeds = [(v, i) for i in present for v in cells[rows[i], column].values]
        ax.plot([v for v, _ in seeds], [i for _, i in seeds], "o", color="black", markersize=3, label="each seed")
        mapped = paper_column(table, column)
        marks = [(i, paper.value(rows[i], mapped)) for i in present] if mapped else []
        marks = [(i, v) for i, v in marks if v is not None]
        if marks:
            ax.plot([v for _, v in marks], [i for i, _ in marks], "D", color="tab:red", label="paper (200 epochs)")
        ax.set_title(textwrap.fill(label(table, column), 32), fontsize=9)  # folder:PATH names are long
        ax.set_xlabel("top-1 accuracy (%)", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(rows)), rows, fontsize=8)
    axes[0].invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="outside lower center", ncols=len(labels))  # clear of the bars
    return fig


def plot_grid(table, cells: dict, dataset: str, title: str, group: str = "Linear") -> Figure:
    """Accuracy in ``group``'s column on ``dataset`` against the projector size, one line per batch size."""
    points: dict[int, list[tuple[int, float]]] = {}
    for entry in table.entries:
        if entry.source == dataset and (entry.row.label, (group, dataset)) in cells:
            c = entry.run.config
            points.setdefault(c.batch_size, []).append((c.proj_dim, cells[entry.row.label, (group, dataset)].mean))
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for b in sorted(points):
        pts = sorted(set(points[b]))
        ax.plot([d for d, _ in pts], [a for _, a in pts], marker="o", label=f"B = {b}")
    dims = sorted({d for pts in points.values() for d, _ in pts})
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.set(xlabel="projector size D", ylabel=f"top-1 accuracy (%), {group.lower()}")
    ax.set_title(textwrap.fill(title, 60), fontsize=9)  # folder:PATH names are long
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
