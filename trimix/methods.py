"""The self-supervised methods of the paper's tables, one small class each, in one registry ``METHODS``.

Every method wraps the same ``SSLNet`` (ResNet-18 + the paper's projector), takes the same two augmented
views (N, 3, H, W), and differs only in its objective (docs/design.md, "Defaults": the baselines):

    method = METHODS[name].from_config(net, config)   # what train.build_method does
    total, parts = method.loss(x1, x2)                # parts: each term, unweighted, for the history
    ... optimiser step ...
    method.after_step(progress)                       # per-step state (BYOL's target); a no-op otherwise

Calling the method runs ``loss``, so that DistributedDataParallel can wrap it (``trimix.distributed``);
its ``gather`` hook, set there, turns each process's embeddings into the global batch's.
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
from torch import Tensor, nn

from trimix.baseline_losses import byol_loss, simclr_loss, vicreg_loss
from trimix.config import (
    ALPHA,
    BETA,
    BYOL_MOMENTUM,
    BYOL_PREDICTOR_HIDDEN,
    GAMMA,
    SIMCLR_TEMPERATURE,
    TAU,
    VICREG_COV_COEFF,
    VICREG_SIM_COEFF,
    VICREG_STD_COEFF,
    Config,
)
from trimix.losses import barlow_twins_loss, trimix_loss
from trimix.mixing import check_tau, mix_batch, sample_lambda
from trimix.models import SSLNet, projector


class SSLMethod(nn.Module):
    """What the training loop needs from a method: ``net``, ``loss``, ``from_config`` and ``after_step``."""

    def __init__(self, net: SSLNet):
        super().__init__()
        self.net = net  # the online network; ``net.backbone`` is what evaluation scores
        self.gather: Callable[[Tensor], Tensor] | None = None  # set by trimix.distributed.wrap (--gather)

    @classmethod
    def from_config(cls, net: SSLNet, config: Config) -> "SSLMethod":
        """This method around ``net`` with its own hyperparameters read from ``config``."""
        return cls(net)

    def loss(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        raise NotImplementedError

    def forward(self, x1: Tensor, x2: Tensor, **kwargs) -> tuple[Tensor, dict[str, Tensor]]:
        """``loss``: what DDP calls, and what ``train.train_step`` calls whether DDP wraps the method or not."""
        return self.loss(x1, x2, **kwargs)

    def across_processes(self, *embeddings: Tensor) -> tuple[Tensor, ...]:
        """Each (n, D) -> the global batch's (N * n, D) when ``gather`` is set (several processes), else as given."""
        if self.gather is None:
            return embeddings
        return tuple(self.gather(e) for e in embeddings)

    def embed_views(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        """The embeddings ``(z1, z2)``, each (N, D), of the two views: the projector outputs of ``net``."""
        return self.net(x1)[1], self.net(x2)[1]

    def after_step(self, progress: float) -> None:
        """Called by ``train.train_step`` after every optimiser step, for state the optimiser does not update.

        ``progress`` = k / K in [0, 1): k steps were done before this one, K is the length of the planned run
        (``config.epochs`` epochs; ``max_steps`` stops a run early without shortening it, so a run stopped
        and resumed sees the same values as one that was not). A no-op here; BYOL moves its target.
        """


class BarlowTwins(SSLMethod):
    """Barlow Twins (paper eq 1): the baseline TriMix builds on."""

    def __init__(self, net: SSLNet, alpha: float = ALPHA):
        super().__init__(net)
        self.alpha = alpha

    @classmethod
    def from_config(cls, net: SSLNet, config: Config) -> "BarlowTwins":
        return cls(net, config.alpha)

    def loss(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        bt = barlow_twins_loss(*self.across_processes(*self.embed_views(x1, x2)), self.alpha)
        return bt, {"bt": bt}


class TriMix(SSLMethod):
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
        super().__init__(net)
        for name, value in (("vrt_on", vrt_on), ("con_on", con_on)):
            if value not in ("y", "z"):
                raise ValueError(f"{name} must be 'z' (embeddings) or 'y' (backbone features), got {value!r}")
        self.alpha, self.beta, self.gamma, self.tau = alpha, beta, gamma, check_tau(tau)
        self.feature_norm, self.vrt_on, self.con_on = feature_norm, vrt_on, con_on
        self.generator = generator  # CPU generator for lam: seeded runs repeat, no GPU sync
        self.last_lambda: float | None = None

    @classmethod
    def from_config(cls, net: SSLNet, config: Config) -> "TriMix":
        return cls(net, config.alpha, config.beta, config.gamma, config.tau, config.feature_norm,
                   config.vrt_on, config.con_on, generator=torch.Generator().manual_seed(config.seed))

    def loss(self, x1: Tensor, x2: Tensor, lam: float | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        lam = sample_lambda(self.generator) if lam is None else lam
        y1, z1 = self.net(x1)
        _, z2 = self.net(x2)
        y_vrt, z_vrt = self.net(mix_batch(x1, lam))
        z1, z2, z_vrt = self.across_processes(z1, z2, z_vrt)
        if "y" in (self.vrt_on, self.con_on):
            y1, y_vrt = self.across_processes(y1, y_vrt)
        pick = {"y": (y1, y_vrt), "z": (z1, z_vrt)}  # Table VII: the extra terms on y or on z
        total, parts = trimix_loss(
            z1, z2, z_vrt, lam, self.alpha, self.beta, self.gamma, self.tau, feature_norm=self.feature_norm,
            vrt_inputs=pick[self.vrt_on], con_inputs=pick[self.con_on],
        )
        self.last_lambda = lam  # a float, for plots; kept out of parts so the step stays on the device
        return total, parts


class SimCLR(SSLMethod):
    """SimCLR (Chen et al. 2020): NT-Xent over the 2B embeddings of the two views (``simclr_loss``)."""

    def __init__(self, net: SSLNet, temperature: float = SIMCLR_TEMPERATURE):
        super().__init__(net)
        self.temperature = temperature

    @classmethod
    def from_config(cls, net: SSLNet, config: Config) -> "SimCLR":
        return cls(net, config.simclr_temperature)

    def loss(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        loss = simclr_loss(*self.across_processes(*self.embed_views(x1, x2)), self.temperature)
        return loss, {"simclr": loss}


class VICReg(SSLMethod):
    """VICReg (Bardes et al. 2022): invariance + variance + covariance terms (``vicreg_loss``)."""

    def __init__(self, net: SSLNet, sim_coeff: float = VICREG_SIM_COEFF, std_coeff: float = VICREG_STD_COEFF,
                 cov_coeff: float = VICREG_COV_COEFF):
        super().__init__(net)
        self.sim_coeff, self.std_coeff, self.cov_coeff = sim_coeff, std_coeff, cov_coeff

    @classmethod
    def from_config(cls, net: SSLNet, config: Config) -> "VICReg":
        return cls(net, config.vicreg_sim_coeff, config.vicreg_std_coeff, config.vicreg_cov_coeff)

    def loss(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        loss = vicreg_loss(*self.across_processes(*self.embed_views(x1, x2)), self.sim_coeff, self.std_coeff,
                           self.cov_coeff)
        return loss, {"vicreg": loss}


def cosine_momentum(base: float, progress: float) -> float:
    """BYOL's target decay rate (Grill et al. 2020, section 3.3): ``1 - (1 - base) (cos(pi k / K) + 1) / 2``.

    ``progress`` = k / K in [0, 1]: ``base`` at the start, 1 at the end (as solo-learn's MomentumUpdater).
    """
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must lie in [0, 1], got {progress}")
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


class BYOL(SSLMethod):
    """BYOL (Grill et al. 2020): an online network with a predictor chases a momentum (EMA) target.

    Online: ``predictor(net(x))``, the predictor an MLP ``proj_dim -> predictor_hidden -> proj_dim`` (BN +
    ReLU after the hidden layer, as the paper's projector). Target: a copy of ``net`` (backbone and
    projector) that gets no gradient; after every optimiser step ``after_step`` moves it towards the
    online network, ``target = m * target + (1 - m) * online``, with the momentum m rising from
    ``momentum`` to 1 on a cosine schedule (``cosine_momentum``). m is a Python float computed from step
    counts, so the update never waits for the GPU. The target is a registered submodule: its weights and
    BatchNorm statistics are in ``state_dict`` and so in every checkpoint, and a resumed run is exact.
    The loss is a mean of per-sample terms, so with several processes it needs no ``gather``.
    """

    def __init__(self, net: SSLNet, predictor_hidden: int = BYOL_PREDICTOR_HIDDEN,
                 momentum: float = BYOL_MOMENTUM):
        super().__init__(net)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum (the target's decay rate) must lie in [0, 1], got {momentum}")
        proj_dim = net.projector[-1].out_features
        self.predictor = projector(proj_dim, predictor_hidden, proj_dim, layers=2)
        self.target = copy.deepcopy(net).requires_grad_(False)  # starts equal to the online network
        self.momentum = momentum

    @classmethod
    def from_config(cls, net: SSLNet, config: Config) -> "BYOL":
        return cls(net, config.byol_predictor_hidden, config.byol_momentum)

    def loss(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        z1, z2 = self.embed_views(x1, x2)
        with torch.no_grad():
            _, t1 = self.target(x1)
            _, t2 = self.target(x2)
        loss = byol_loss(self.predictor(z1), self.predictor(z2), t1, t2)
        return loss, {"byol": loss}

    @torch.no_grad()
    def after_step(self, progress: float) -> None:
        m = cosine_momentum(self.momentum, progress)
        # target <- m * target + (1 - m) * online, as one multi-tensor lerp (one kernel launch per group of
        # weights on a GPU, rather than two per weight from a Python loop)
        torch._foreach_lerp_(list(self.target.parameters()), list(self.net.parameters()), 1.0 - m)


METHODS: dict[str, type[SSLMethod]] = {
    "trimix": TriMix, "barlow_twins": BarlowTwins, "simclr": SimCLR, "byol": BYOL, "vicreg": VICReg,
}


def method_class(name: str) -> type[SSLMethod]:
    """The class registered as ``name`` (case and '-' vs '_' do not matter)."""
    key = name.lower().replace("-", "_")
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(sorted(METHODS))}")
    return METHODS[key]
