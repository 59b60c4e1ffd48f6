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
        ("the result equals x: mix x with its reverse, flip(x), not with itself", lambda x, lam: x.clone()),
    ], expect="the same shape as x", forbidden=[mix_batch, trimix.mixed_embeddings],
        hint="Virtual sample m is lam * x[m] + (1 - lam) * x[B-1-m].")


@student_facing
def check_estimate_lambda(fn: Callable) -> None:
    """``my_estimate_lambda(x, x_vrt)``: the lam that mixed ``x_vrt = mix_batch(x, lam)``, a number."""
    g = seeded(6)
    cases, lams = [], {}
    for shape, lam in [((6, 3, 8, 8), 0.2), ((5, 16), 0.65), ((8, 3, 4, 4), 0.9)]:
        x = randn(g, *shape)
        cases.append({"x": x, "x_vrt": mix_batch(x, lam)})
        lams[id(x)] = lam

    def proj(a, b):
        return float((a.flatten() @ b.flatten()) / (b.flatten() @ b.flatten()))

    run_check("estimate_lambda", fn, cases, lambda x, xv: lams[id(x)], [
        ("it returns 1 - lam: project X^vrt - X^r onto X - X^r (the weight of the original batch), not onto "
         "X^r - X", lambda x, xv: 1 - proj(xv - flip(x), x - flip(x))),
        ("it ignores the reversed batch: subtract X^r = flip(X) from both X^vrt and X before projecting",
         lambda x, xv: proj(xv, x)),
        ("it divides by |X^vrt - X^r|^2: divide by |X - X^r|^2", lambda x, xv: 1 / proj(xv - flip(x), x - flip(x))),
    ], expect="one number for the whole batch: a Python float", number_ok=True,
        notes=lambda got, args: (
            "it returned NaN: with an odd batch the middle sample is its own partner, so X - X^r is 0 there; "
            "use one least-squares estimate over all entries, not a division entry by entry"
            if as_tensor(got) is not None and torch.isnan(as_tensor(got)).any() else None),
        hint="lam_hat = <X^vrt - X^r, X - X^r> / |X - X^r|^2 over all entries, with X^r = flip(X).")
