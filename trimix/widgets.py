"""Interactive views of the mixing factor lambda and the softmax temperature tau (notebooks 02-03).

The work is done by pure functions that return figures, numbers and text (``lambda_view``, ``tau_values``,
``tau_view``, ``tau_report``; pytest calls them directly). ``lambda_widget`` and ``tau_widget`` only wire them to
sliders with ``ipywidgets.interactive``: the widget's ``.result`` holds what the last redraw returned.

A numerical note the tau widget makes visible (docs/design.md, "The objective"). Before the softmax, eq 6 divides
by D, so every entry of ``s(z) @ v.T / D`` is a correlation-like number of size at most about 1. With
the paper's tau = 2 the logits of each row differ by at most about 1, and ``exp`` of numbers that close
are nearly equal: M is almost uniform (entries near 1/B) and L_vrt stays near 2/B, however good the
encoder (a uniform M gives exactly 2/B - 4/B^2 when B is even and 1/B <= lam <= 1 - 1/B). A smaller
tau sharpens M: its largest entries grow towards the lam and 1 - lam of GT.
"""
from __future__ import annotations

import copy
import io

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from trimix.config import paper_config
from trimix.losses import virtual_embedding_loss
from trimix.mixing import check_lambda, check_tau, ground_truth_matrix, mix_batch, predicted_matrix, similarity_matrix
from trimix.viz import one_over_b, plot_ground_truth_vs_predicted, plot_mixing_grid

PAPER_TAU = paper_config().tau  # where the tau slider starts


def _as_batch(images: Tensor) -> Tensor:
    """uint8 images -> the normalised floats the network sees; floats pass through."""
    if images.dtype == torch.uint8:
        from trimix.augment import prepare

        return prepare(images)
    return images.float()


# ---- pure functions ----

def lambda_view(images: Tensor, lam: float, highlight: int | None = 0) -> tuple[Figure, Tensor]:
    """Mix ``images`` with their reverse (eq 5) and draw them around GT (eq 8), as paper Fig. 5 A.

    Args:
        images: (B, 3, H, W) uint8 or normalised float.
        lam: the mixing factor in [0, 1].
    Returns:
        (figure, GT) with GT the (B, B) ground-truth matrix for this lam.
    """
    lam = check_lambda(lam)
    x = _as_batch(images)
    fig = plot_mixing_grid(x, mix_batch(x, lam), lam, highlight=highlight)
    return fig, ground_truth_matrix(x.shape[0], lam)


def uniform_l_vrt(batch_size: int, lam: float) -> float:
    """L_vrt of a perfectly uniform M (every entry 1/B): 2/B - 4/B^2 for an even B and 1/B <= lam <= 1 - 1/B,
    so about 2/B for a large batch. This is the value tau = 2 keeps L_vrt close to.

    It is eq 8 for an encoder that gives every image the same embedding: every similarity is then 0.
    """
    same = torch.zeros(batch_size, 2)
    return float(virtual_embedding_loss(same, same, lam))


def tau_values(z: Tensor, z_vrt: Tensor, lam: float, tau: float) -> dict:
    """Everything the tau view shows, as numbers: no network is run, so this is cheap.

    Args:
        z, z_vrt: (B, D) raw projector outputs of a batch and of its virtual batch ``mix_batch(x, lam)``.
    Returns:
        dict with ``similarity`` (eq 6), ``predicted`` M (eq 7), ``gt`` (eq 8), ``l_vrt`` (float, eq 8),
        ``max_entry`` (largest entry of M) and ``uniform_l_vrt`` (L_vrt of a uniform M).
    """
    lam, tau = check_lambda(lam), check_tau(tau)
    with torch.no_grad():
        sim = similarity_matrix(z, z_vrt)
        m = predicted_matrix(z, z_vrt, tau)
        l_vrt = float(virtual_embedding_loss(z, z_vrt, lam, tau))
    return {"tau": tau, "lam": lam, "similarity": sim, "predicted": m, "gt": ground_truth_matrix(z.shape[0], lam),
            "l_vrt": l_vrt, "max_entry": float(m.max()), "uniform_l_vrt": uniform_l_vrt(z.shape[0], lam)}


def tau_report(values: dict) -> str:
    """What the tau widget prints under its figure, from ``tau_values``: L_vrt against a uniform M, the
    largest entry of M against 1/B, and a note on why M is flat at this tau, or how sharp it has become."""
    tau, b, top = values["tau"], values["predicted"].shape[0], values["max_entry"]
    sim = values["similarity"]
    spread = float((sim.max(dim=1).values - sim.min(dim=1).values).max()) / tau  # widest row of logits
    numbers = (f"tau = {tau:.3g}: L_vrt = {values['l_vrt']:.4f} (a uniform M gives {values['uniform_l_vrt']:.4f}; "
               f"2/B = {2 / b:.4f} for B = {b}); largest entry of M = {top:.3f} ({one_over_b(b)})")
    if top < 2 / b:  # no entry reaches twice the uniform 1/B
        note = (f"Why is M so flat at tau = {tau:.3g}? Eq 6 divides by D, so the entries before the softmax are "
                f"correlations between about -1 and 1; divided by tau = {tau:.3g}, the logits of a row differ by "
                f"{spread:.2f} at most here, and the softmax of such close numbers is nearly uniform (every entry "
                "near 1/B), so L_vrt sits near the value of a uniform M. Move tau down to sharpen M.")
    else:
        note = (f"At tau = {tau:.3g} M is no longer flat: its largest entry is {top * b:.1f} times 1/B. Divided by "
                f"tau = {tau:.3g}, the logits of a row differ by up to {spread:.2f}, and the softmax favours the "
                "largest. Move tau up to see M flatten towards a uniform matrix.")
    return numbers + "\n" + note


def tau_view(z: Tensor, z_vrt: Tensor, lam: float, tau: float, name: str = "") -> tuple[Figure, float]:
    """GT beside the matrix before and after the softmax at temperature ``tau`` (paper Fig. 5 A-C).

    Returns:
        (figure, L_vrt) with L_vrt = mean |M - GT| (eq 8) at this tau.
    """
    values = tau_values(z, z_vrt, lam, tau)
    return _tau_figure(values, name), values["l_vrt"]


def _tau_figure(v: dict, name: str = "") -> Figure:
    label = f"{name + ', ' if name else ''}lam = {v['lam']:.2f}, tau = {v['tau']:.3g}"
    return plot_ground_truth_vs_predicted(v["gt"], v["similarity"], v["predicted"], suptitle=label,
                                          l_vrt=v["l_vrt"], uniform_l_vrt=v["uniform_l_vrt"])


@torch.no_grad()
def embed_pair(net: nn.Module, images: Tensor, lam: float) -> tuple[Tensor, Tensor]:
    """``z = net(x)`` and ``z_vrt = net(mix_batch(x, lam))``, as the loss sees them.

    ``net`` is an ``SSLNet`` (forward returns ``(y, z)``) or a method that holds one as ``.net``
    (``trimix.TriMix``). BatchNorm uses the batch's statistics, as in training; this runs on a copy of the
    network, so its running statistics (what evaluation uses) are left as they were.
    """
    net = getattr(net, "net", net)
    device = next(net.parameters()).device
    x = _as_batch(images).to(device)
    twin = copy.deepcopy(net).train()
    z = twin(x)[1]
    z_vrt = twin(mix_batch(x, check_lambda(lam)))[1]
    return z.float().cpu(), z_vrt.float().cpu()


# ---- ipywidgets wiring ----

def _display_png(fig: Figure) -> None:
    """Show a figure as a PNG in the current output (works with any matplotlib backend) and free it."""
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    fig.clear()  # the figure is not in pyplot's list: once drawn, nothing keeps it
    display(Image(data=buffer.getvalue(), format="png"))


def lambda_widget(images: Tensor, lam: float = 0.5, highlight: int | None = 0):
    """A lam slider (0..1, step 0.01) redrawing the virtual images and GT; ``.result`` is GT.

    Args:
        images: a small batch (B <= 16 reads best), uint8 or normalised float.
    """
    import ipywidgets as W

    def draw(lam: float) -> Tensor:
        fig, gt = lambda_view(images, lam, highlight)
        _display_png(fig)
        return gt

    slider = W.FloatSlider(value=lam, min=0.0, max=1.0, step=0.01, description="lambda", continuous_update=False)
    return W.interactive(draw, lam=slider)


def tau_widget(source, images: Tensor | None = None, lam: float = 0.7, tau: float = PAPER_TAU, name: str = ""):
    """A tau slider (0.01..10, log scale) redrawing GT, the matrix before and M after the softmax, and L_vrt.

    Args:
        source: a network (``SSLNet`` or a method with ``.net``, random or trained) with ``images``, or the
            pair ``(z, z_vrt)`` already computed.
        images: (B, 3, H, W) batch, needed with a network.
        lam: the mixing factor of the virtual batch, fixed for this widget.
    The network runs once, here; the slider only redoes the softmax. ``.result`` is ``tau_values(...)``.
    """
    import ipywidgets as W

    if isinstance(source, nn.Module):
        if images is None:
            raise ValueError("tau_widget needs the images when given a network")
        z, z_vrt = embed_pair(source, images, lam)
    else:
        z, z_vrt = source

    def draw(tau: float) -> dict:
        values = tau_values(z, z_vrt, lam, tau)
        _display_png(_tau_figure(values, name))
        print(tau_report(values))
        return values

    slider = W.FloatLogSlider(value=tau, base=10, min=-2, max=1, step=0.05, description="tau",
                              continuous_update=False, readout_format=".3g")
    return W.interactive(draw, tau=slider)
