"""Checks of the exercises on Barlow Twins (eqs 1-4): batch standardisation, cross-correlation, the
off-diagonal sum and the loss."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

import trimix
from trimix.checks._core import randn, run_check, seeded, student_facing
from trimix.losses import invariance_term, off_diagonal, redundancy_term
from trimix.standardize import batch_standardize as s


@student_facing
def check_batch_standardize(fn: Callable) -> None:
    """``my_batch_standardize(z)``: (B, D) -> (B, D), each column with mean 0 and unbiased std 1."""
    g = seeded(1)
    cases = [{"z": randn(g, b, d, scale=3, shift=1)} for b, d in [(8, 5), (7, 16), (64, 32)]]
    run_check("batch_standardize", fn, cases, s, [
        ("it divides by the biased std (over B): use the unbiased one, torch.std's default, which divides by "
         "B - 1, as Algorithm 1 does", lambda z: (z - z.mean(0)) / z.std(0, correction=0)),
        ("it standardises each row (dim 1, the features) instead of each column: take the mean and std along "
         "dim 0, the batch", lambda z: (z - z.mean(1, keepdim=True)) / z.std(1, keepdim=True)),
        ("it uses the mean and std of the whole tensor: take them for each column, along dim 0 "
         "(z.mean(dim=0), z.std(dim=0))", lambda z: (z - z.mean()) / z.std()),
        ("the columns are not centred: subtract z.mean(dim=0) before dividing by the std",
         lambda z: z / z.std(0)),
        ("it does not divide by the std: after centring, divide by z.std(dim=0)", lambda z: z - z.mean(0)),
        ("it divides by the variance: divide by the standard deviation, its square root",
         lambda z: (z - z.mean(0)) / z.var(0)),
        ("it divides each column by its norm (F.normalize or z.norm(dim=0)): centre each column, then divide by "
         "its standard deviation, z.std(dim=0)", lambda z: (z - z.mean(0)) / z.norm(dim=0)),
        ("it divides each column by its norm (F.normalize or z.norm(dim=0)): centre each column, then divide by "
         "its standard deviation, z.std(dim=0)", lambda z: z / z.norm(dim=0)),
        ("it divides every column by one std for the whole tensor: each column has its own, z.std(dim=0)",
         lambda z: (z - z.mean(0)) / z.std(0).mean()),
        ("it divides every column by one std for the whole tensor: each column has its own, z.std(dim=0)",
         lambda z: (z - z.mean(0)) / z.std()),
    ], expect="the same shape as z", forbidden=[trimix.batch_standardize],
        hint="Subtract each column's mean and divide by its unbiased std, both taken along dim 0 (the batch).")


def _corr_cases(seed: int) -> list[dict]:
    g = seeded(seed)
    out = []
    for b, d in [(8, 5), (7, 12), (32, 16)]:
        z1 = randn(g, b, d, scale=2, shift=1)
        out.append({"z1": z1, "z2": z1 @ randn(g, d, d) + randn(g, b, d)})
    return out


@student_facing
def check_cross_correlation(fn: Callable) -> None:
    """``my_cross_correlation(z1, z2)``: (B, D), (B, D) -> (D, D), ``s(z1).T @ s(z2) / B`` (eq 4)."""
    run_check("cross_correlation", fn, _corr_cases(2), trimix.cross_correlation, [
        ("it is B x B, but C compares features, so it is D x D: compute s(z1).T @ s(z2), not s(z1) @ s(z2).T",
         lambda a, b: s(a) @ s(b).T / len(a)),
        ("it is the transpose of C (off by a transpose): C_ij pairs feature i of z1 with feature j of z2, so "
         "compute s(z1).T @ s(z2), not s(z2).T @ s(z1)", lambda a, b: s(b).T @ s(a) / len(a)),
        ("it is not divided by the batch size: divide s(z1).T @ s(z2) by B", lambda a, b: s(a).T @ s(b)),
        ("it is divided by B - 1 overall (a biased std inside s, or dividing the product by B - 1): use the "
         "unbiased std in s and divide the product by B, as Algorithm 1 does",
         lambda a, b: s(a).T @ s(b) / (len(a) - 1)),
        ("the inputs are not standardised: standardise z1 and z2 along the batch first (your "
         "my_batch_standardize)", lambda a, b: a.T @ b / len(a)),
        ("the inputs are centred but not divided by their std: standardise them fully first",
         lambda a, b: (a - a.mean(0)).T @ (b - b.mean(0)) / len(a)),
        ("it divides by D, the number of features: divide by B, the batch size (the sum runs over the batch)",
         lambda a, b: s(a).T @ s(b) / a.shape[1]),
        ("it divides by B * D: divide by B only, the batch size (the sum runs over the batch)",
         lambda a, b: s(a).T @ s(b) / (a.shape[0] * a.shape[1])),
        ("it uses z1 twice: C compares the two views, s(z1).T @ s(z2)", lambda a, b: s(a).T @ s(a) / len(a)),
        ("it uses z2 twice: C compares the two views, s(z1).T @ s(z2)", lambda a, b: s(b).T @ s(b) / len(a)),
        ("it normalises the raw columns to length 1 (cosine of the columns): standardise them along the batch "
         "first (subtract the mean, divide by the unbiased std), then divide the product by B",
         lambda a, b: F.normalize(a, dim=0).T @ F.normalize(b, dim=0)),
    ], expect="D x D, features of z1 against features of z2", forbidden=[trimix.cross_correlation],
        hint="C = s(z1).T @ s(z2) / B, with s the batch standardisation (check that my_batch_standardize passes).")


@student_facing
def check_off_diagonal_sum(fn: Callable) -> None:
    """``my_off_diagonal_sum(c)``: (D, D) -> scalar, ``sum_{i != j} c_ij^2`` (the redundancy term, eq 3)."""
    g = seeded(3)
    cases = [{"c": randn(g, d, d, scale=0.3) + torch.eye(d)} for d in (4, 3, 16)]
    off = off_diagonal
    run_check("off_diagonal_sum", fn, cases, redundancy_term, [
        ("it includes the diagonal: sum only the entries with i != j (mask the diagonal out, e.g. with "
         "~torch.eye(D, dtype=torch.bool))", lambda c: c.pow(2).sum()),
        ("the entries are not squared: eq 3 sums C_ij ** 2", lambda c: off(c).sum()),
        ("it sums absolute values: eq 3 sums the squares C_ij ** 2", lambda c: off(c).abs().sum()),
        ("it takes a mean: eq 3 is a sum over all i != j, not a mean", lambda c: off(c).pow(2).mean()),
        ("it takes a mean: eq 3 is a sum over all i != j, not a mean", lambda c: off(c).pow(2).sum() / c.numel()),
        ("it sums one triangle only: i != j counts both C_ij and C_ji", lambda c: c.triu(1).pow(2).sum()),
        ("it sums one triangle only: i != j counts both C_ij and C_ji", lambda c: c.tril(-1).pow(2).sum()),
        ("it sums one triangle only: i != j counts both C_ij and C_ji", lambda c: off(c).pow(2).sum() / 2),
        ("it subtracts the diagonal without squaring it: remove the diagonal, then square and sum, or subtract "
         "the squared diagonal", lambda c: c.pow(2).sum() - c.diagonal().sum()),
        ("it squares the sum of the entries: eq 3 sums the squares of the entries, sum C_ij ** 2",
         lambda c: off(c).sum() ** 2),
        ("it subtracts the identity (that is the invariance term's target): sum the squares of the off-diagonal "
         "entries only", lambda c: (c - torch.eye(len(c))).pow(2).sum()),
    ], expect="a single number", forbidden=[redundancy_term, off_diagonal], loss=True,
        hint="Square every entry and add up those off the diagonal (i != j).")


@student_facing
def check_barlow_twins_loss(fn: Callable) -> None:
    """``my_barlow_twins_loss(z1, z2, alpha)``: scalar ``sum_i (1 - C_ii)^2 + alpha sum_{i != j} C_ij^2`` (eqs 1-3)."""
    cases = [dict(case, alpha=alpha) for case, alpha in zip(_corr_cases(4), (5e-3, 0.5, 0.05))]

    def parts(a, b):
        c = trimix.cross_correlation(a, b)
        return c, invariance_term(c), redundancy_term(c)

    def variant(f):
        return lambda a, b, alpha: f(alpha, *parts(a, b))

    run_check("barlow_twins_loss", fn, cases, trimix.barlow_twins_loss, [
        ("it takes means: eqs 2 and 3 are sums over the matrix, not means",
         variant(lambda al, c, inv, rr: (1 - c.diagonal()).pow(2).mean() + al * off_diagonal(c).pow(2).mean())),
        ("it takes a mean: eqs 2 and 3 are sums over the matrix, not means",
         variant(lambda al, c, inv, rr: (1 - c.diagonal()).pow(2).mean() + al * rr)),
        ("alpha multiplies the invariance term: L_BT = L_inv + alpha * L_rr, alpha weighs the off-diagonal "
         "(redundancy) term only", variant(lambda al, c, inv, rr: al * inv + rr)),
        ("the redundancy term is not multiplied by alpha: L_BT = L_inv + alpha * L_rr",
         variant(lambda al, c, inv, rr: inv + rr)),
        ("it ignores its alpha argument (a fixed 5e-3?): multiply the redundancy term by the alpha it is given",
         variant(lambda al, c, inv, rr: inv + 5e-3 * rr)),
        ("the redundancy term includes the diagonal: sum C_ij ** 2 over i != j only",
         variant(lambda al, c, inv, rr: inv + al * c.pow(2).sum())),
        ("(1 - C_ii) is not squared: eq 2 is sum_i (1 - C_ii) ** 2",
         variant(lambda al, c, inv, rr: (1 - c.diagonal()).sum() + al * rr)),
        ("it squares C_ii inside the bracket: eq 2 is sum_i (1 - C_ii) ** 2, not sum_i (1 - C_ii ** 2)",
         variant(lambda al, c, inv, rr: (1 - c.diagonal().pow(2)).sum() + al * rr)),
        ("the off-diagonal entries are not squared: eq 3 sums C_ij ** 2 over i != j",
         variant(lambda al, c, inv, rr: inv + al * off_diagonal(c).sum())),
        ("the redundancy term counts one triangle only (or is halved): i != j counts both C_ij and C_ji",
         variant(lambda al, c, inv, rr: inv + al * rr / 2)),
        ("it subtracts the redundancy term: L_BT = L_inv + alpha * L_rr",
         variant(lambda al, c, inv, rr: inv - al * rr)),
    ], expect="a single number", forbidden=[trimix.barlow_twins_loss], loss=True,
        hint="L_BT = sum_i (1 - C_ii)^2 + alpha * sum_{i != j} C_ij^2 on C = my_cross_correlation(z1, z2).")
