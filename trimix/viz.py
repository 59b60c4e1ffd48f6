"""Figures for the notebooks: images, matrices (paper Fig. 5), training curves (Fig. 2), UMAP (Fig. 3).

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so nothing is left open in
pyplot's global list and nothing shows twice. In a notebook, make the figure the last expression of a
cell (or call ``display(fig)``) to see it; ``fig.savefig("name.png")`` writes a PNG.

Inputs may be torch tensors or numpy arrays. Images are (N, 3, H, W): uint8, or float normalised as
``trimix.augment.prepare`` leaves them (pass ``normalized=False`` for floats already in [0, 1]).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import seaborn as sns
import torch
from matplotlib.figure import Figure

from trimix.config import paper_config

PARTS = ("total", "bt", "vrt", "con")  # the loss parts of trimix_loss, in the order the paper plots them
PART_TITLES = {"total": "total (eq 11)", "bt": "Barlow Twins L_BT (eq 1)", "vrt": "virtual embeddings L_vrt (eq 8)",
               "con": "self-consistency L_con (eq 10)"}


def _np(x) -> np.ndarray:
    """A float numpy array from a tensor or array (detached, on the CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def to_displayable(images, normalized: bool = True) -> np.ndarray:
    """(N, 3, H, W) images -> (N, H, W, 3) floats in [0, 1] for ``imshow``."""
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 3, H, W) or (N, 1, H, W), got shape {tuple(x.shape)}")
    x = x.detach().cpu().expand(-1, 3, -1, -1)  # grayscale served as RGB
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    elif normalized:
        from trimix.augment import denormalize

        x = denormalize(x.float())
    return x.float().clamp(0.0, 1.0).permute(0, 2, 3, 1).numpy()


def _image_axis(ax, image: np.ndarray, title: str | None = None) -> None:
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)


def show_images(images, titles: Sequence[str] | None = None, ncols: int | None = None, normalized: bool = True,
                size: float = 1.3, suptitle: str | None = None) -> Figure:
    """A grid of images, one axis per image.

    Args:
        images: (N, 3, H, W) uint8 or normalised float.
        titles: optional, one per image (e.g. class names).
        ncols: images per row (default: all in one row, at most 10).
    """
    pics = to_displayable(images, normalized)
    n = len(pics)
    ncols = min(n, 10) if ncols is None else ncols
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0) + (0.2 * nrows if titles else 0)),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i < n:
            _image_axis(ax, pics[i], None if titles is None else str(titles[i]))
        else:
            ax.remove()
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_matrix(m, title: str = "", ax=None, vmin: float | None = None, vmax: float | None = None,
                annot: bool | None = None, cmap: str = "viridis", cbar: bool = True) -> Figure:
    """A heatmap of one matrix (B x B or D x D); ``annot`` (default: when the side is <= 8) writes the values."""
    a = _np(m)
    if a.ndim != 2:
        raise ValueError(f"plot_matrix needs a 2-D matrix, got shape {a.shape}")
    if ax is None:
        fig = Figure(figsize=(4.2, 3.6), layout="constrained")
        ax = fig.subplots()
    annot = max(a.shape) <= 8 if annot is None else annot
    sns.heatmap(a, ax=ax, vmin=vmin, vmax=vmax, cmap=cmap, annot=annot, fmt=".2f", annot_kws={"fontsize": 7},
                square=True, cbar=cbar, xticklabels=max(1, a.shape[1] // 8), yticklabels=max(1, a.shape[0] // 8))
    ax.set_title(title, fontsize=10)
    return ax.figure


def plot_matrices(mats: Sequence, titles: Sequence[str], suptitle: str | None = None, vmin=None, vmax=None,
                  cmaps: Sequence[str] | str = "viridis", annot: bool | None = None, size: float = 3.6) -> Figure:
    """Several matrices side by side, one heatmap each (``vmin``/``vmax`` shared, or a list per matrix)."""
    n = len(mats)
    fig = Figure(figsize=(size * 1.15 * n, size), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False).ravel()
    per = lambda v, i: v[i] if isinstance(v, (list, tuple)) else v  # noqa: E731
    for i, (m, ax) in enumerate(zip(mats, axes)):
        plot_matrix(m, titles[i], ax=ax, vmin=per(vmin, i), vmax=per(vmax, i), annot=annot, cmap=per(cmaps, i))
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_cross_correlation(c, title="cross-correlation C (eq 4)", ax=None) -> Figure:
    """The D x D cross-correlation matrix of Barlow Twins on a fixed -1..1 scale: the goal is the identity.

    ``c`` may be a list of matrices (with a list of titles): one panel each, e.g. before and after training.
    """
    if isinstance(c, (list, tuple)):
        titles = title if isinstance(title, (list, tuple)) else [title] * len(c)
        fig = Figure(figsize=(4.4 * len(c), 4.0), layout="constrained")
        for m, t, a in zip(c, titles, fig.subplots(1, len(c), squeeze=False).ravel()):
            plot_cross_correlation(m, t, ax=a)
        return fig
    a = _np(c)
    title = f"{title}\nmean C_ii = {np.trace(a) / a.shape[0]:.2f}, mean |C_ij| = {_mean_off_diagonal(a):.2f}"
    return plot_matrix(a, title, ax=ax, vmin=-1, vmax=1, cmap="coolwarm", annot=False)


def plot_correlation_entries(cs: Sequence, titles: Sequence[str]) -> Figure:
    """Histograms of the diagonal entries of each C (the target is 1) and of the off-diagonal ones (target 0)."""
    fig = Figure(figsize=(3.8 * len(cs), 2.8), layout="constrained")
    for c, t, ax in zip(cs, titles, fig.subplots(1, len(cs), squeeze=False, sharey=True).ravel()):
        a = _np(c)
        diag, off = np.diag(a), a[~np.eye(a.shape[0], dtype=bool)]
        bins = np.linspace(-1, 1, 41)
        ax.hist(off, bins=bins, density=True, alpha=0.6, label="off-diagonal C_ij (want 0)")
        ax.hist(diag, bins=bins, density=True, alpha=0.6, label="diagonal C_ii (want 1)")
        ax.set_title(t, fontsize=10)
        ax.set_xlabel("entry of C")
    ax.legend(fontsize=7)
    return fig


def _mean_off_diagonal(a: np.ndarray) -> float:
    d = a.shape[0]
    return float(np.abs(a[~np.eye(d, dtype=bool)]).mean()) if d > 1 else 0.0


def one_over_b(batch_size: int) -> str:
    """``1/B = 0.125``: the value of a uniform M's entries, written the same way in every figure and text."""
    return f"1/B = {1 / batch_size:.3f}"


def plot_ground_truth_vs_predicted(gt, similarity, predicted, suptitle: str | None = None,
                                   annot: bool | None = None, *, l_vrt: float | None = None,
                                   uniform_l_vrt: float | None = None) -> Figure:
    """Paper Fig. 5 A-C side by side: GT (eq 8), the matrix before the softmax (eq 6) and M after it (eq 7).

    GT and M share the 0..1 scale. Given ``l_vrt`` (``trimix.virtual_embedding_loss``, eq 8) and the value of
    a uniform M (``widgets.uniform_l_vrt``), the title shows both.
    """
    gt_a, sim_a, m_a = _np(gt), _np(similarity), _np(predicted)
    b, span = gt_a.shape[0], float(np.abs(sim_a).max()) or 1.0  # (B) on a scale centred at 0
    fig = plot_matrices(
        [gt_a, sim_a, m_a],
        ["(A) ground truth GT (eq 8)", "(B) before softmax (eq 6)",
         f"(C) M after softmax (eq 7)\nmax {m_a.max():.3f}, {one_over_b(b)}"],
        vmin=[0, -span, 0], vmax=[1, span, 1], cmaps=["viridis", "coolwarm", "viridis"], annot=annot)
    title = [suptitle] if suptitle else []
    if l_vrt is not None:
        uniform = "" if uniform_l_vrt is None else f"  (a uniform M gives {uniform_l_vrt:.4f})"
        title.append(f"L_vrt = mean |M - GT| = {l_vrt:.4f}{uniform}")
    if title:
        fig.suptitle(": ".join(title))
    return fig


def plot_mixing_grid(batch, virtual, lam: float, highlight: int | None = 0, normalized: bool = True,
                     size: float = 0.75) -> Figure:
    """Paper Fig. 5 A: the batch along the top, the virtual images down the left, GT in between.

    Virtual image m (red) mixes batch images m and B-1-m (green) as ``lam * x_m + (1 - lam) * x_{B-1-m}``;
    its row of GT holds lam and 1 - lam at exactly those two columns.
    """
    top, left = to_displayable(batch, normalized), to_displayable(virtual, normalized)
    b = len(top)
    if len(left) != b:
        raise ValueError(f"batch and virtual must have the same size, got {b} and {len(left)}")
    from trimix.mixing import ground_truth_matrix

    gt = ground_truth_matrix(b, lam).numpy()
    fig = Figure(figsize=(size * (b + 1) + 1.0, size * (b + 1) + 0.5))
    grid = fig.add_gridspec(b + 1, b + 2, width_ratios=[1] * (b + 1) + [0.25], wspace=0.05, hspace=0.05)
    top_axes = [fig.add_subplot(grid[0, j + 1]) for j in range(b)]
    left_axes = [fig.add_subplot(grid[j + 1, 0]) for j in range(b)]
    for j in range(b):
        _image_axis(top_axes[j], top[j])
        _image_axis(left_axes[j], left[j])
    ax = fig.add_subplot(grid[1:, 1:b + 1])
    sns.heatmap(gt, ax=ax, vmin=0, vmax=1, cmap="viridis", cbar_ax=fig.add_subplot(grid[1:, b + 1]),
                annot=b <= 8, fmt=".2f", annot_kws={"fontsize": 7}, xticklabels=False, yticklabels=False)
    if highlight is not None:
        m = int(highlight)
        for a, colour in [(left_axes[m], "red"), (top_axes[m], "limegreen"), (top_axes[b - 1 - m], "limegreen")]:
            a.spines[:].set(color=colour, linewidth=4)
    fig.suptitle(f"virtual images (left) = {lam:.2f} * batch (top) + {1 - lam:.2f} * reversed batch;  GT (eq 8)")
    return fig


def plot_history(history, keys: Sequence[str] | None = None, weights: Mapping[str, float] | None = None) -> Figure:
    """Training curves, one panel per loss part (paper Fig. 2).

    Args:
        history: ``dict[str, list[float]]`` with a ``"step"`` key (as ``trimix.train.pretrain`` returns),
            or a list of dicts (one per step).
        keys: the parts to plot (default: those of ``"total", "bt", "vrt", "con"`` present).
        weights: optional, e.g. ``{"vrt": 1000, "con": 200}``: plot the weighted part and say so.
    """
    if not isinstance(history, Mapping):
        rows = list(history)
        history = {k: [float(r[k]) for r in rows] for k in rows[0]} if rows else {}
    steps = history.get("step") or list(range(len(next(iter(history.values()), []))))
    keys = [k for k in PARTS if k in history] if keys is None else list(keys)
    if not keys:
        raise ValueError(f"nothing to plot: history has keys {sorted(history)}, expected some of {PARTS}")
    fig = Figure(figsize=(3.2 * len(keys), 2.8), layout="constrained")
    for ax, key in zip(fig.subplots(1, len(keys), squeeze=False).ravel(), keys):
        w = (weights or {}).get(key, 1.0)
        ax.plot(steps, [w * float(v) for v in history[key]], marker="." if len(steps) < 60 else None)
        ax.set_title(PART_TITLES.get(key, key) if w == 1.0 else f"{w:g} x {PART_TITLES.get(key, key)}", fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    return fig


def plot_loss_parts(parts: Mapping[str, float], weights: Mapping[str, float] | None = None,
                    title: str = "the three parts of eq 11") -> Figure:
    """Bars of each loss part, unweighted and multiplied by its weight (default: the paper's beta and gamma;
    alpha is inside L_BT already)."""
    paper = paper_config()
    weights = {"bt": 1.0, "vrt": paper.beta, "con": paper.gamma, **(weights or {})}
    names = [k for k in ("bt", "vrt", "con") if k in parts]
    raw = [float(_np(parts[k])) for k in names]
    weighted = [weights[k] * v for k, v in zip(names, raw)]
    fig = Figure(figsize=(7.5, 2.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for ax, values, sub in [(ax1, raw, "unweighted"), (ax2, weighted, "weighted: 1, beta, gamma")]:
        bars = ax.bar(names, values, color=["tab:blue", "tab:orange", "tab:green"][: len(names)])
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
        ax.set_title(sub, fontsize=9)
        ax.margins(y=0.2)
    fig.suptitle(title)
    return fig


def umap_2d(features, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """Project (N, F) features to (N, 2) with UMAP (paper Fig. 3); ``seed`` makes it repeatable."""
    import umap  # umap-learn; imported here because it is slow to import

    a = _np(features)
    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(a) - 1), min_dist=min_dist,
                        random_state=seed, n_jobs=1, init="spectral" if len(a) > 10 else "random")
    return reducer.fit_transform(a)


def plot_embedding_2d(points, labels, classes: Sequence[str] | None = None, title: str = "", ax=None) -> Figure:
    """A 2-D scatter coloured by class (e.g. the output of ``umap_2d``; paper Fig. 3)."""
    p, y = _np(points), np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).astype(int)
    if ax is None:
        fig = Figure(figsize=(5.5, 4.5), layout="constrained")
        ax = fig.subplots()
    palette = sns.color_palette("tab10" if y.max() < 10 else "husl", int(y.max()) + 1)
    for k in np.unique(y):
        name = classes[k] if classes is not None else str(k)
        ax.scatter(p[y == k, 0], p[y == k, 1], s=6, color=palette[k], label=name)
    ax.legend(markerscale=3, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    return ax.figure


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
