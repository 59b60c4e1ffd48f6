"""Mixing a batch with its reverse, and the two B x B matrices TriMix compares (paper eqs 5-8).

Shapes: B = batch size, D = embedding dimension.
"""
from __future__ import annotations

import torch
from torch import Tensor

from trimix.config import TAU
from trimix.standardize import (
    batch_standardize,
    check_embeddings,
    check_same_shape,
    full_precision,
    virtual_standardize,
)


def check_lambda(lam: float) -> float:
    lam = float(lam)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam (the mixing factor) must lie in [0, 1], got {lam}")
    return lam


def check_tau(tau: float) -> float:
    tau = float(tau)
    if not tau > 0.0:
        raise ValueError(f"tau (the softmax temperature) must be > 0, got {tau}")
    return tau


def sample_lambda(generator: torch.Generator | None = None) -> float:
    """Draw the mixing factor lam ~ U(0, 1) (paper eq 5; one per training step, Algorithm 1 line 21).

    The draw uses a CPU generator, so it never synchronises with a GPU.
    """
    return float(torch.rand((), generator=generator).item())


def flip(x: Tensor) -> Tensor:
    """Reverse the batch order (dim 0): sample m is paired with sample B-1-m."""
    return torch.flip(x, dims=(0,))


def mix_batch(x: Tensor, lam: float) -> Tensor:
    """Paper eq 5 (and eq 9 on embeddings): ``lam * x + (1 - lam) * flip(x)`` along dim 0.

    Args:
        x: (B, ...) images or embeddings.
        lam: mixing factor in [0, 1].
    Returns:
        (B, ...) the virtual batch; row m mixes sample m with sample B-1-m.
    """
    lam = check_lambda(lam)
    if x.dim() < 1 or x.shape[0] < 2:
        raise ValueError(f"x must be a batch of at least 2 samples along dim 0, got shape {tuple(x.shape)}")
    return lam * x + (1.0 - lam) * flip(x)


def mixed_embeddings(z: Tensor, lam: float) -> Tensor:
    """Paper eq 9: the mixed-up embeddings ``Z~ = lam * s(Z) + (1 - lam) * flip(s(Z))``.

    Args:
        z: (B, D) raw projector outputs of the first view (standardised along the batch here).
    Returns:
        (B, D).
    """
    check_embeddings(z)
    return mix_batch(batch_standardize(z), lam)


def ground_truth_matrix(batch_size: int, lam: float, device: torch.device | str | None = None) -> Tensor:
    """Paper eq 8's target ``GT = lam * I + (1 - lam) * rot90(I)``.

    rot90 turns the identity counter-clockwise into the anti-diagonal, so row m holds lam at column m and
    1 - lam at column B-1-m. With an odd B the middle sample is mixed with itself and GT is 1 there.

    Built on ``device`` (default: the CPU) from nothing but the two numbers, so that on a GPU no tensor
    crosses from the host.

    Returns:
        (B, B) float32; rows sum to 1; symmetric.
    """
    if int(batch_size) != batch_size or batch_size < 2:
        raise ValueError(f"batch_size must be an integer >= 2, got {batch_size}")
    lam = check_lambda(lam)
    eye = torch.eye(int(batch_size), device=device)
    return lam * eye + (1.0 - lam) * torch.rot90(eye, 1, dims=(0, 1))


@full_precision
def similarity_matrix(z: Tensor, z_vrt: Tensor, feature_norm: bool = True) -> Tensor:
    """Paper eq 6 as Algorithm 1 computes it (lines 12, 29-31): ``s(z) @ v.T / D``.

    ``s`` standardises along the batch; ``v`` is the virtual embeddings standardised along the batch and
    then along the features. Entry (m, n) compares original sample m with virtual sample n.

    Args:
        z: (B, D) raw projector outputs of the first view.
        z_vrt: (B, D) raw projector outputs of the virtual batch.
    Returns:
        (B, B) the matrix before the softmax (paper Fig. 5 B).
    """
    check_embeddings(z, "z")
    check_embeddings(z_vrt, "z_vrt")
    check_same_shape(z, z_vrt, "z, z_vrt")
    v = virtual_standardize(z_vrt, feature_norm)
    return batch_standardize(z) @ v.T / z.shape[1]


def predicted_matrix(z: Tensor, z_vrt: Tensor, tau: float = TAU, *, feature_norm: bool = True) -> Tensor:
    """Paper eq 7: ``M = softmax(similarity_matrix(z, z_vrt) / tau, dim=1)``; each row is a distribution.

    Args:
        z: (B, D) raw projector outputs of the first view.
        z_vrt: (B, D) raw projector outputs of the virtual batch.
        tau: softmax temperature (> 0); the paper uses 2.
    Returns:
        (B, B), rows sum to 1 (paper Fig. 5 C).
    """
    tau = check_tau(tau)
    return torch.softmax(similarity_matrix(z, z_vrt, feature_norm) / tau, dim=1)
