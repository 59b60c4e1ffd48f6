"""The objectives of the paper's baselines (Table I): SimCLR, BYOL and VICReg, one pure function each.

Like the TriMix losses (``trimix.losses``) they take raw projector (or predictor) outputs, compute in
float32 even under bf16 autocast, and refuse bad input with the same ``ValueError``s. Barlow Twins, the
fourth baseline, is ``trimix.losses.barlow_twins_loss`` (TriMix paper eq 1). Shapes: B batch, D dim.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from trimix.config import SIMCLR_TEMPERATURE, VICREG_COV_COEFF, VICREG_SIM_COEFF, VICREG_STD_COEFF
from trimix.losses import off_diagonal
from trimix.standardize import check_embeddings, check_same_shape, full_precision

VICREG_EPS = 1e-4  # inside the square root of the variance term, as in the VICReg authors' code


def _check_pair(a: Tensor, b: Tensor, names: str) -> None:
    first, second = names.split(", ")
    check_embeddings(a, first)
    check_embeddings(b, second)
    check_same_shape(a, b, names)


@full_precision
def simclr_loss(z1: Tensor, z2: Tensor, temperature: float = SIMCLR_TEMPERATURE) -> Tensor:
    """SimCLR's NT-Xent (Chen et al. 2020, eq 1), averaged over the 2B anchors of both views.

    With ``sim(u, v) = u.v / (|u| |v|)`` over the 2B embeddings ``[z1; z2]``, anchor i's positive p(i)
    is its other view and the other 2B - 2 embeddings are its negatives:

        l_i = -log( exp(sim(z_i, z_p(i)) / T) / sum_{k != i} exp(sim(z_i, z_k) / T) ),   L = mean_i l_i.

    Args:
        z1, z2: (B, D) projector outputs of the two views; row b of each is the same image.
        temperature: T > 0 (0.2, solo-learn's CIFAR setting).
    Returns:
        scalar; unchanged when any embedding is multiplied by a positive number.
    """
    _check_pair(z1, z2, "z1, z2")
    if not temperature > 0:
        raise ValueError(f"temperature (of the NT-Xent softmax) must be > 0, got {temperature}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)  # (2B, D) unit rows: dot products are cosines
    logits = z @ z.T / temperature  # (2B, 2B)
    logits = logits.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))  # k != i
    positives = torch.arange(2 * b, device=z.device).roll(b)  # anchor i's positive: i + B for i < B, i - B after
    return F.cross_entropy(logits, positives)


@full_precision
def byol_loss(p1: Tensor, p2: Tensor, t1: Tensor, t2: Tensor) -> Tensor:
    """BYOL's loss (Grill et al. 2020, eq 2, symmetrised as in its section 3.1): ``2 - 2 cos(p, t)`` both ways.

        L = mean_b (2 - 2 cos(p1_b, t2_b)) + mean_b (2 - 2 cos(p2_b, t1_b))

    The targets are detached: no gradient flows into the target network.

    Args:
        p1, p2: (B, D) online predictions of views 1 and 2 (predictor(projector(backbone(x)))).
        t1, t2: (B, D) target projections of views 1 and 2 (the momentum network's output).
    Returns:
        scalar in [0, 8]; 0 when each prediction points where the other view's target does.
    """
    _check_pair(p1, p2, "p1, p2")
    _check_pair(t1, t2, "t1, t2")
    check_same_shape(p1, t1, "p1, t1")

    def one_direction(p: Tensor, t: Tensor) -> Tensor:
        return (2 - 2 * F.cosine_similarity(p.float(), t.detach().float(), dim=1)).mean()

    return one_direction(p1, t2) + one_direction(p2, t1)


def vicreg_variance(z: Tensor, eps: float = VICREG_EPS) -> Tensor:
    """VICReg eqs 1-2 with gamma = 1: ``v(z) = mean_j relu(1 - sqrt(var_j(z) + eps))``, unbiased variance.

    (B, D) -> scalar; 0 when every feature's standard deviation along the batch is at least about 1.
    """
    std = torch.sqrt(z.float().var(dim=0, unbiased=True) + eps)
    return F.relu(1 - std).mean()


def vicreg_covariance(z: Tensor) -> Tensor:
    """VICReg eqs 3-4: ``c(z) = sum_{i != j} C(z)_ij^2 / D``, with ``C(z)`` the (D, D) covariance (/ (B - 1)).

    (B, D) -> scalar; 0 when the features are uncorrelated along the batch.
    """
    z = z.float()
    centred = z - z.mean(dim=0)
    cov = centred.T @ centred / (z.shape[0] - 1)
    return off_diagonal(cov).pow(2).sum() / z.shape[1]


@full_precision
def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    sim_coeff: float = VICREG_SIM_COEFF,
    std_coeff: float = VICREG_STD_COEFF,
    cov_coeff: float = VICREG_COV_COEFF,
) -> Tensor:
    """VICReg (Bardes et al. 2022, eqs 1-6) as the authors' code computes it, where 25/25/1 were tuned:

        L = sim_coeff * mse(z1, z2) + std_coeff * (v(z1) + v(z2)) / 2 + cov_coeff * (c(z1) + c(z2))

    ``mse`` is the mean over all B * D entries (eq 5, divided by D as well), ``v`` is ``vicreg_variance``
    and ``c`` is ``vicreg_covariance``. The paper's eq 6 writes ``mu * [v(Z) + v(Z')]`` without the
    halving; the authors' code halves it (``std_loss = mean(relu(1 - std_x)) / 2 + mean(relu(1 - std_y)) / 2``),
    and so does this function. solo-learn adds the two terms without halving, so its variance weight acts
    twice as strongly at the same coefficient.

    Args:
        z1, z2: (B, D) projector outputs of the two views.
    Returns:
        scalar.
    """
    _check_pair(z1, z2, "z1, z2")
    invariance = F.mse_loss(z1.float(), z2.float())
    variance = (vicreg_variance(z1) + vicreg_variance(z2)) / 2
    covariance = vicreg_covariance(z1) + vicreg_covariance(z2)
    return sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
