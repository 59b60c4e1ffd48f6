"""The TriMix objective, one function per equation of the paper (eqs 1-4, 8, 10, 11).

Every loss takes *raw* projector outputs (B x D) and standardises inside, as Algorithm 1 does, and
computes in float32 (safe under bf16 autocast). No stop-gradient anywhere. Shapes: B batch, D dim.
"""
from __future__ import annotations

import torch
from torch import Tensor

from trimix.config import ALPHA, BETA, GAMMA, TAU
from trimix.mixing import check_lambda, ground_truth_matrix, mixed_embeddings, predicted_matrix
from trimix.standardize import (
    batch_standardize,
    check_embeddings,
    check_same_shape,
    full_precision,
    virtual_standardize,
)


@full_precision
def cross_correlation(z1: Tensor, z2: Tensor) -> Tensor:
    """Paper eq 4 as Algorithm 1 computes it: ``C = s(z1).T @ s(z2) / B``.

    Args:
        z1, z2: (B, D) raw projector outputs of the two views.
    Returns:
        (D, D); entries near 1 on the diagonal mean the views agree feature by feature.
    """
    check_embeddings(z1, "z1")
    check_embeddings(z2, "z2")
    check_same_shape(z1, z2)
    return batch_standardize(z1).T @ batch_standardize(z2) / z1.shape[0]


def off_diagonal(c: Tensor) -> Tensor:
    """The off-diagonal entries of a square matrix, flattened: (D*(D-1),)."""
    d = c.shape[0]
    return c.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()


def invariance_term(c: Tensor) -> Tensor:
    """Paper eq 2: ``L_inv = sum_i (1 - C_ii)^2`` (a sum, not a mean)."""
    return (1.0 - torch.diagonal(c)).pow(2).sum()


def redundancy_term(c: Tensor) -> Tensor:
    """Paper eq 3: ``L_rr = sum_{i != j} C_ij^2``."""
    return off_diagonal(c).pow(2).sum()


def barlow_twins_loss(z1: Tensor, z2: Tensor, alpha: float = ALPHA) -> Tensor:
    """Paper eq 1: ``L_BT = L_inv + alpha * L_rr`` on the cross-correlation of eq 4.

    Args:
        z1, z2: (B, D) raw projector outputs of the two views.
        alpha: weight of the redundancy-reduction term (5e-3 in the paper).
    Returns:
        scalar.
    """
    c = cross_correlation(z1, z2)
    return invariance_term(c) + alpha * redundancy_term(c)


def virtual_embedding_loss(
    z: Tensor, z_vrt: Tensor, lam: float, tau: float = TAU, *, feature_norm: bool = True
) -> Tensor:
    """Paper eq 8: ``L_vrt = mean |M - GT|`` over all B*B entries (L1, mean reduction).

    Args:
        z: (B, D) raw projector outputs of the first view.
        z_vrt: (B, D) raw projector outputs of the virtual batch ``mix_batch(x, lam)``.
        lam: the mixing factor used to build the virtual batch.
        tau: softmax temperature of eq 7.
    Returns:
        scalar; 0 when M equals GT.
    """
    lam = check_lambda(lam)
    m = predicted_matrix(z, z_vrt, tau, feature_norm=feature_norm)
    gt = ground_truth_matrix(z.shape[0], lam, device=m.device)
    return (m - gt).abs().mean()


@full_precision
def self_consistency_loss(z: Tensor, z_vrt: Tensor, lam: float, *, feature_norm: bool = True) -> Tensor:
    """Paper eq 10: ``L_con = mean |Z~ - v|`` over all B*D entries.

    ``Z~ = lam * s(z) + (1 - lam) * flip(s(z))`` is eq 9 (``mixed_embeddings``); ``v`` is the virtual
    embeddings standardised along the batch and then along the features (Algorithm 1 lines 29-30, 38).

    Args:
        z: (B, D) raw projector outputs of the first view.
        z_vrt: (B, D) raw projector outputs of the virtual batch.
        lam: the mixing factor used to build the virtual batch.
    Returns:
        scalar.
    """
    check_embeddings(z, "z")
    check_embeddings(z_vrt, "z_vrt")
    check_same_shape(z, z_vrt, "z, z_vrt")
    return (mixed_embeddings(z, lam) - virtual_standardize(z_vrt, feature_norm)).abs().mean()


def trimix_loss(
    z1: Tensor,
    z2: Tensor,
    z_vrt: Tensor,
    lam: float,
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
    tau: float = TAU,
    *,
    feature_norm: bool = True,
    vrt_inputs: tuple[Tensor, Tensor] | None = None,
    con_inputs: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Paper eq 11: ``L = L_BT + beta * L_vrt + gamma * L_con``.

    Args:
        z1, z2: (B, D) raw projector outputs of the two views.
        z_vrt: (B, D) raw projector outputs of ``mix_batch(x1, lam)``.
        lam: the mixing factor.
        vrt_inputs, con_inputs: the (first view, virtual batch) pair that L_vrt and L_con compare, each
            (B, F); None means ``(z1, z_vrt)``, the paper's choice. The Table VII ablation passes the
            backbone features ``(y1, y_vrt)`` instead.
    Returns:
        (total, parts) with parts ``{"bt", "vrt", "con"}``, each the *unweighted* term.
    """
    check_same_shape(z1, z2)
    vrt_inputs = (z1, z_vrt) if vrt_inputs is None else vrt_inputs
    con_inputs = (z1, z_vrt) if con_inputs is None else con_inputs
    parts = {
        "bt": barlow_twins_loss(z1, z2, alpha),
        "vrt": virtual_embedding_loss(*vrt_inputs, lam, tau, feature_norm=feature_norm),
        "con": self_consistency_loss(*con_inputs, lam, feature_norm=feature_norm),
    }
    total = parts["bt"] + beta * parts["vrt"] + gamma * parts["con"]
    return total, parts
