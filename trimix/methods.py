"""One small module per self-supervised method. Each wraps an ``SSLNet`` and has
``loss(x1, x2) -> (total, parts)`` taking the two augmented views (N, 3, H, W).

The paper's other baselines (SimCLR, BYOL, VICReg) follow the same pattern and are registered in
``METHODS`` when they are added.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from trimix.config import ALPHA, BETA, GAMMA, TAU
from trimix.losses import barlow_twins_loss, trimix_loss
from trimix.mixing import check_tau, mix_batch, sample_lambda
from trimix.models import SSLNet


class BarlowTwins(nn.Module):
    """Barlow Twins (paper eq 1): the baseline TriMix builds on."""

    def __init__(self, net: SSLNet, alpha: float = ALPHA):
        super().__init__()
        self.net, self.alpha = net, alpha

    def loss(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        _, z1 = self.net(x1)
        _, z2 = self.net(x2)
        bt = barlow_twins_loss(z1, z2, self.alpha)
        return bt, {"bt": bt}


class TriMix(nn.Module):
    """TriMix (paper eq 11, Algorithm 1): Barlow Twins + beta * L_vrt + gamma * L_con.

    Each call of ``loss`` draws one lam ~ U(0, 1), mixes the first view with its reverse (eq 5) and runs
    the network a third time on the virtual batch.

    Ablation switches (paper Tables VI-VII): ``beta=0`` or ``gamma=0`` drops a term;
    ``feature_norm=False`` drops the row standardisation of the virtual embeddings; ``vrt_on`` and
    ``con_on`` choose the embeddings ``"z"`` (projector output, the paper's choice) or the backbone
    features ``"y"`` for each extra term.
    """

    def __init__(
        self,
        net: SSLNet,
        alpha: float = ALPHA,
        beta: float = BETA,
        gamma: float = GAMMA,
        tau: float = TAU,
        feature_norm: bool = True,
        vrt_on: str = "z",
        con_on: str = "z",
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        for name, value in (("vrt_on", vrt_on), ("con_on", con_on)):
            if value not in ("y", "z"):
                raise ValueError(f"{name} must be 'z' (embeddings) or 'y' (backbone features), got {value!r}")
        self.net = net
        self.alpha, self.beta, self.gamma, self.tau = alpha, beta, gamma, check_tau(tau)
        self.feature_norm, self.vrt_on, self.con_on = feature_norm, vrt_on, con_on
        self.generator = generator  # CPU generator for lam: seeded runs repeat, no GPU sync
        self.last_lambda: float | None = None

    def loss(self, x1: Tensor, x2: Tensor, lam: float | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        lam = sample_lambda(self.generator) if lam is None else lam
        y1, z1 = self.net(x1)
        _, z2 = self.net(x2)
        y_vrt, z_vrt = self.net(mix_batch(x1, lam))
        pick = {"y": (y1, y_vrt), "z": (z1, z_vrt)}  # Table VII: the extra terms on y or on z
        total, parts = trimix_loss(
            z1, z2, z_vrt, lam, self.alpha, self.beta, self.gamma, self.tau, feature_norm=self.feature_norm,
            vrt_inputs=pick[self.vrt_on], con_inputs=pick[self.con_on],
        )
        self.last_lambda = lam  # a float, for plots; kept out of parts so the step stays on the device
        return total, parts


METHODS: dict[str, type[nn.Module]] = {"trimix": TriMix, "barlow_twins": BarlowTwins}


def build_method(name: str, net: SSLNet, **kwargs) -> nn.Module:
    """Look up a method by name (``METHODS``) and wrap ``net`` with it."""
    key = name.lower().replace("-", "_")
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(sorted(METHODS))}")
    return METHODS[key](net, **kwargs)
