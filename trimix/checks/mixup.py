"""Checks of the exercises on mixup views (eq 5): mixing a batch with its reverse, and recovering lambda."""
from __future__ import annotations

from typing import Callable

import torch

import trimix
from trimix.checks._core import as_tensor, randn, run_check, seeded, student_facing
from trimix.mixing import flip, mix_batch


@student_facing
def check_mix_batch(fn: Callable) -> None:
    """``my_mix_batch(x, lam)``: (B, ...) -> (B, ...), ``lam * x + (1 - lam) * flip(x)`` (eq 5)."""
    g = seeded(5)
    cases = [{"x": randn(g, *shape), "lam": lam}
             for shape, lam in [((6, 3, 4, 4), 0.3), ((5, 7), 0.8), ((4, 2), 0.0), ((3, 5), 1.0)]]
    wrong_dim = ("it reverses the wrong dimension: reverse the order of the batch only, dim 0 "
                 "(torch.flip(x, dims=(0,))), not the pixels or features")
    run_check("mix_batch", fn, cases, mix_batch, [
        ("lam and 1 - lam are swapped: the original batch x gets the weight lam, its reverse 1 - lam",
         lambda x, lam: (1 - lam) * x + lam * flip(x)),
        (wrong_dim, lambda x, lam: lam * x + (1 - lam) * torch.flip(x, dims=(-1,))),
        (wrong_dim, lambda x, lam: lam * x + (1 - lam) * torch.flip(x, dims=(1,))),
        (wrong_dim, lambda x, lam: lam * x + (1 - lam) * torch.flip(x, dims=tuple(range(x.dim())))),
        ("it mixes each sample with its neighbour (torch.roll): the partner of sample m is sample B-1-m, from "
         "the reversed batch", lambda x, lam: lam * x + (1 - lam) * torch.roll(x, 1, 0)),
        ("it mixes each sample with its neighbour (torch.roll): the partner of sample m is sample B-1-m, from "
         "the reversed batch", lambda x, lam: lam * x + (1 - lam) * torch.roll(x, -1, 0)),
        ("the result equals x: mix x with its reverse, flip(x), not with itself", lambda x, lam: x.clone()),
        ("both parts get the weight lam: the reversed batch gets 1 - lam", lambda x, lam: lam * (x + flip(x))),
        ("it ignores lam (an even mix, 1/2 each): weigh x by lam and its reverse by 1 - lam",
         lambda x, lam: (x + flip(x)) / 2),
    ], expect="the same shape as x", forbidden=[mix_batch, trimix.mixed_embeddings],
        hint="Virtual sample m is lam * x[m] + (1 - lam) * x[B-1-m].")


def _proj(a, b) -> float:
    return float((a.flatten() @ b.flatten()) / (b.flatten() @ b.flatten()))


def _per_sample(x, xv):
    """One least-squares estimate per sample (a (B,) tensor); NaN for the middle sample of an odd batch."""
    d, r = (x - flip(x)).flatten(1), (xv - flip(x)).flatten(1)
    return (r * d).sum(1) / d.pow(2).sum(1)


@student_facing
def check_estimate_lambda(fn: Callable) -> None:
    """``my_estimate_lambda(x, x_vrt)``: the least-squares lam of ``x_vrt ~ mix_batch(x, lam)``, a Python float.

    Exact mixes first, then mixes with noise added (as the embeddings of a network are): there one
    estimate over all entries differs from an average of per-sample estimates."""
    g = seeded(6)
    cases = []
    for shape, lam, noise in [((6, 3, 8, 8), 0.2, 0.0), ((5, 16), 0.65, 0.0), ((8, 3, 4, 4), 0.9, 0.0),
                              ((8, 12), 0.35, 0.5), ((7, 10), 0.7, 0.5)]:
        x = randn(g, *shape)
        cases.append({"x": x, "x_vrt": mix_batch(x, lam) + noise * randn(g, *shape)})
    per_sample = ("it averages one estimate per sample: when X^vrt is not an exact mix (noise here, embeddings in "
                  "the notebook) that differs from the least-squares estimate; take one estimate over all entries "
                  "at once")
    run_check("estimate_lambda", fn, cases, lambda x, xv: _proj(xv - flip(x), x - flip(x)), [
        ("it returns 1 - lam: project X^vrt - X^r onto X - X^r (the weight of the original batch), not onto "
         "X^r - X", lambda x, xv: 1 - _proj(xv - flip(x), x - flip(x))),
        ("it ignores the reversed batch: subtract X^r = flip(X) from both X^vrt and X before projecting",
         lambda x, xv: _proj(xv, x)),
        ("it divides by |X^vrt - X^r|^2: divide by |X - X^r|^2", lambda x, xv: 1 / _proj(xv - flip(x), x - flip(x))),
        (per_sample, lambda x, xv: float(_per_sample(x, xv).mean())),
        (per_sample, lambda x, xv: float(_per_sample(x, xv).nanmean())),
        (per_sample, lambda x, xv: float(_per_sample(x, xv).nanmedian())),
        ("it uses the first sample only: take one estimate over all the entries of the batch",
         lambda x, xv: float(_per_sample(x, xv)[0])),
        ("it averages the ratios (X^vrt - X^r) / (X - X^r) entry by entry: take one least-squares estimate over "
         "all entries, <X^vrt - X^r, X - X^r> / |X - X^r|^2",
         lambda x, xv: float(((xv - flip(x)) / (x - flip(x))).mean())),
    ], expect="one number for the whole batch: a Python float", number_only=True,
        notes=lambda got, args: (
            "it returned NaN: with an odd batch the middle sample is its own partner, so X - X^r is 0 there; "
            "use one least-squares estimate over all entries, not a division entry by entry"
            if as_tensor(got) is not None and torch.isnan(as_tensor(got)).any() else None),
        hint="lam_hat = <X^vrt - X^r, X - X^r> / |X - X^r|^2 over all entries, with X^r = flip(X).")
