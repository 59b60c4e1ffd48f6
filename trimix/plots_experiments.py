"""Figures of the ablation helpers (``trimix.ablations``): bars per variant, and the paper's Fig. 4.

(They belong with the other figures in ``trimix.viz``; they wait here while that module is being reworked.)
"""
from __future__ import annotations

from matplotlib.figure import Figure


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
