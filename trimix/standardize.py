"""The two standardisations TriMix uses (paper section III-A/B, Algorithm 1 lines 12-13 and 29-30).

Both divide by the *unbiased* standard deviation, as ``torch.std`` does in Algorithm 1. A small ``eps``
inside the square root keeps a constant column (zero variance) finite in the forward *and* backward
pass: ``(z - mean) / sqrt(var + eps)`` is 0 there, and its gradient is finite.
"""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

import torch
from torch import Tensor

EPS = 1e-6
AUTOCAST_DEVICES = ("cuda", "cpu")
F = TypeVar("F", bound=Callable)


def full_precision(fn: F) -> F:
    """Run ``fn`` with autocast off, so its matmuls stay float32 inside a bf16/fp16 training step.

    (Autocast would otherwise cast a matmul's inputs back to half precision, whatever their dtype.)
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        device = next((a.device.type for a in args if isinstance(a, torch.Tensor)), "cpu")
        if device not in AUTOCAST_DEVICES or not torch.is_autocast_enabled(device):
            return fn(*args, **kwargs)  # nothing to turn off (and the meta device has no autocast)
        with torch.autocast(device_type=device, enabled=False):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def check_embeddings(z: Tensor, name: str = "z") -> None:
    """Refuse what the losses cannot use: a tensor that is not B x D, or a batch of fewer than 2."""
    if not isinstance(z, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (B, D), got {type(z).__name__}")
    if z.dim() != 2:
        raise ValueError(
            f"{name} must be 2-D (batch B x embedding dim D), got shape {tuple(z.shape)}; "
            "flatten the projector output with z.flatten(1) first"
        )
    if z.shape[0] < 2:
        raise ValueError(
            f"{name} has batch size {z.shape[0]}: the batch statistics need B >= 2; use a larger batch"
        )


def check_same_shape(a: Tensor, b: Tensor, names: str = "z1, z2") -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def batch_standardize(z: Tensor, eps: float = EPS) -> Tensor:
    """Standardise each feature along the batch: ``(z - z.mean(0)) / z.std(0)``.

    Args:
        z: (B, D) embeddings.
    Returns:
        (B, D), every column with mean 0 and unbiased std 1 (0 for a constant column).
    """
    check_embeddings(z)
    z = z.float()  # statistics in fp32 even under autocast
    centred = z - z.mean(dim=0, keepdim=True)
    return centred / torch.sqrt(z.var(dim=0, unbiased=True, keepdim=True) + eps)


def feature_standardize(z: Tensor, eps: float = EPS) -> Tensor:
    """Standardise each sample along the features (Algorithm 1 line 30): rows get mean 0, unbiased std 1.

    Args:
        z: (B, D) embeddings (already batch-standardised in TriMix).
    Returns:
        (B, D).
    """
    check_embeddings(z)
    z = z.float()
    centred = z - z.mean(dim=1, keepdim=True)
    return centred / torch.sqrt(z.var(dim=1, unbiased=True, keepdim=True) + eps)


def virtual_standardize(z_vrt: Tensor, feature_norm: bool = True) -> Tensor:
    """The virtual embeddings as TriMix compares them: along the batch, then (optionally) along the features.

    ``feature_norm=False`` drops the second step: the "feature norms" row of the paper's Table VI.
    """
    v = batch_standardize(z_vrt)
    return feature_standardize(v) if feature_norm else v
