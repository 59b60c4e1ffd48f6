"""Checks of the exercises on self-consistency and the full objective (eqs 9-11)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

import trimix
from trimix.checks._core import (
    CheckFailed,
    call_student,
    close,
    describe,
    pair_cases,
    randn,
    run_check,
    seeded,
    student_facing,
    what_is_wrong,
)
from trimix.mixing import mix_batch
from trimix.standardize import batch_standardize as s
from trimix.standardize import feature_standardize as fs


@student_facing
def check_mixed_embeddings(fn: Callable) -> None:
    """``my_mixed_embeddings(z, lam)``: (B, D), ``lam s(z) + (1 - lam) flip(s(z))`` (eq 9)."""
    g = seeded(9)
    cases = [{"z": randn(g, b, d, scale=2, shift=1), "lam": lam}
             for b, d, lam in [(6, 4, 0.3), (9, 16, 0.75), (8, 5, 0.1)]]
    run_check("mixed_embeddings", fn, cases, trimix.mixed_embeddings, [
        ("z is not standardised: eq 9 mixes the batch-standardised embeddings s(z) (Algorithm 1 standardises z "
         "first)", lambda z, lam: mix_batch(z, lam)),
        ("it standardises after mixing: standardise z first, then mix s(z) with its reverse",
         lambda z, lam: s(mix_batch(z, lam))),
        ("lam and 1 - lam are swapped: s(z) gets the weight lam, its reverse 1 - lam",
         lambda z, lam: mix_batch(s(z), 1 - lam)),
        ("it reverses the wrong dimension: reverse the batch order, dim 0",
         lambda z, lam: lam * s(z) + (1 - lam) * s(z).flip(1)),
        ("it also standardises along the features: eq 9 mixes s(z) only (the feature standardisation is for "
         "the virtual embeddings)", lambda z, lam: mix_batch(fs(s(z)), lam)),
        ("it standardises along the features (each row) instead of the batch: s(z) takes the mean and std of "
         "each column, along dim 0", lambda z, lam: mix_batch(fs(z), lam)),
        ("it standardises with the biased std: use the unbiased one (torch.std's default), as Algorithm 1 does",
         lambda z, lam: mix_batch((z - z.mean(0)) / z.std(0, correction=0), lam)),
    ], expect="the same shape as z", forbidden=[trimix.mixed_embeddings],
        hint="Standardise z along the batch, then mix it with its reverse: lam * s + (1 - lam) * flip(s).")


@student_facing
def check_self_consistency_loss(fn: Callable) -> None:
    """``my_self_consistency_loss(z, z_vrt, lam)``: scalar ``mean |Z~ - v|`` (eq 10)."""
    cases = pair_cases(10, [(6, 8), (9, 32), (5, 6)], [{"lam": 0.3}, {"lam": 0.9}, {"lam": 0.6}])
    not_v = ("z_vrt is not normalised as Algorithm 1 does: v is z_vrt standardised along the batch, then each row "
             "along the features: trimix.feature_standardize(trimix.batch_standardize(z_vrt))")

    def l1(f):
        return lambda z, zv, lam: f(mix_batch(s(z), lam), fs(s(zv)))

    run_check("self_consistency_loss", fn, cases, trimix.self_consistency_loss, [
        (not_v, lambda z, zv, lam: (mix_batch(s(z), lam) - s(zv)).abs().mean()),
        (not_v, lambda z, zv, lam: (mix_batch(s(z), lam) - zv).abs().mean()),
        (not_v, lambda z, zv, lam: (mix_batch(s(z), lam) - fs(zv)).abs().mean()),
        ("it takes the sum: eq 10 takes the mean over the B x D entries", l1(lambda a, v: (a - v).abs().sum())),
        ("it squares the differences: eq 10 is an L1 distance, the mean of |Z~ - v|",
         l1(lambda a, v: (a - v).pow(2).mean())),
        ("the absolute value is missing: the mean of Z~ - v is always 0 (both are centred); take the mean of "
         "|Z~ - v|", l1(lambda a, v: (a - v).mean())),
        ("z and z_vrt are swapped: mix the original embeddings z (eq 9) and compare them with the normalised "
         "virtual embeddings v", lambda z, zv, lam: (mix_batch(s(zv), lam) - fs(s(z))).abs().mean()),
        ("lam and 1 - lam are swapped in Z~: s(z) gets the weight lam, its reverse 1 - lam",
         lambda z, zv, lam: (mix_batch(s(z), 1 - lam) - fs(s(zv))).abs().mean()),
        ("z is not standardised before mixing: Z~ mixes s(z) (your my_mixed_embeddings)",
         lambda z, zv, lam: (mix_batch(z, lam) - fs(s(zv))).abs().mean()),
        ("it sums over the features and averages over the batch: eq 10 takes the mean over all B x D entries",
         l1(lambda a, v: (a - v).abs().sum(1).mean())),
        ("it takes a norm of Z~ - v: eq 10 is the L1 loss with mean reduction, (Z~ - v).abs().mean()",
         l1(lambda a, v: torch.linalg.norm(a - v))),
        ("Z~ is also standardised along the features: eq 9 mixes s(z) only; the feature standardisation is for "
         "the virtual embeddings v", lambda z, zv, lam: (mix_batch(fs(s(z)), lam) - fs(s(zv))).abs().mean()),
        ("v is standardised in the wrong order: along the batch first, then each row along the features",
         lambda z, zv, lam: (mix_batch(s(z), lam) - s(fs(zv))).abs().mean()),
        ("it uses the cosine similarity: eq 10 is an L1 distance, the mean of |Z~ - v|",
         lambda z, zv, lam: 1 - F.cosine_similarity(mix_batch(s(z), lam), fs(s(zv))).mean()),
    ], expect="a single number", forbidden=[trimix.self_consistency_loss], loss=True,
        hint="L_con = mean over the B x D entries of |Z~ - v|, Z~ = my_mixed_embeddings(z, lam), "
             "v = feature_standardize(batch_standardize(z_vrt)).")


@student_facing
def check_trimix_loss(fn: Callable) -> None:
    """``my_trimix_loss(z1, z2, z_vrt, lam, alpha, beta, gamma, tau)``: ``(L_BT + beta L_vrt + gamma L_con, parts)``."""
    g = seeded(11)
    name, keys = "trimix_loss", ("bt", "vrt", "con")
    weights = [(0.4, 5e-3, 10.0, 3.0, 2.0), (0.95, 0.1, 1000.0, 200.0, 0.5), (0.2, 5e-3, 1000.0, 200.0, 2.0)]
    for (b, d), (lam, alpha, beta, gamma, tau) in zip([(8, 16), (7, 6), (6, 8)], weights):
        z1 = randn(g, b, d, scale=2, shift=1)
        args = {"z1": z1, "z2": z1 + randn(g, b, d), "z_vrt": mix_batch(z1, lam) + 0.5 * randn(g, b, d), "lam": lam,
                "alpha": alpha, "beta": beta, "gamma": gamma, "tau": tau}
        z1, z2, zv = args["z1"], args["z2"], args["z_vrt"]
        where = f"my_{name} is wrong on {describe(args)}"
        out = call_student(name, fn, args, [trimix.trimix_loss])
        if isinstance(out, Tensor) or not isinstance(out, (tuple, list)) or len(out) != 2:
            raise CheckFailed(f"{where}: it returned a {type(out).__name__}; return a pair (total, parts), with parts "
                              "the dict {'bt': ..., 'vrt': ..., 'con': ...} of the unweighted terms")
        total, parts = out
        if not isinstance(parts, dict) or set(parts) != set(keys):
            found = sorted(parts) if isinstance(parts, dict) else type(parts).__name__
            raise CheckFailed(f"{where}: parts must be a dict with the keys 'bt', 'vrt' and 'con', got {found}")
        ref_total, ref = trimix.trimix_loss(*args.values())
        swapped = {"bt": None, "vrt": trimix.virtual_embedding_loss(z2, zv, lam, tau),
                   "con": trimix.self_consistency_loss(z2, zv, lam)}
        other_lam = {"vrt": trimix.virtual_embedding_loss(z1, zv, 1 - lam, tau),
                     "con": trimix.self_consistency_loss(z1, zv, 1 - lam)}
        # each part as it comes out when alpha or tau is left at its default: "ignores alpha" can only be told
        # where this case's alpha or tau differs from it (L_con has neither)
        defaults = {"bt": trimix.barlow_twins_loss(z1, z2), "vrt": trimix.virtual_embedding_loss(z1, zv, lam),
                    "con": None}
        for key, weight in zip(keys, (1.0, beta, gamma)):
            problem = what_is_wrong(parts[key], ref[key], "a single number", False)
            if not problem:
                continue
            if not isinstance(parts[key], Tensor):
                problem = (f"parts['{key}'] is a {type(parts[key]).__name__}, not a torch.Tensor: keep each part a "
                           "tensor (no .item() or float()); the total is built from them and must be backpropagated")
            elif weight != 1.0 and close(parts[key], weight * ref[key]):
                problem = (f"parts['{key}'] is weighted: parts hold the unweighted terms; beta and gamma only "
                           "enter the total")
            elif key == "bt" and (close(parts[key], trimix.barlow_twins_loss(z1, z1, alpha))
                                  or close(parts[key], trimix.barlow_twins_loss(z2, z2, alpha))):
                problem = "parts['bt'] compares one view with itself: Barlow Twins compares z1 with z2"
            elif key != "bt" and close(parts[key], other_lam[key]):
                problem = (f"parts['{key}'] swaps lam and 1 - lam: pass lam as it is given (check that the function "
                           "computing it passes its own check)")
            elif close(parts[key], swapped[key]):
                problem = (f"parts['{key}'] is computed from z2: the virtual batch was mixed from the first view, "
                           "so L_vrt and L_con compare z1 with z_vrt")
            elif defaults[key] is not None and not close(defaults[key], ref[key]) and close(parts[key], defaults[key]):
                what = "alpha" if key == "bt" else "tau"
                problem = f"parts['{key}'] ignores its argument {what} (it uses the default): pass it on"
            else:
                problem = f"parts['{key}']: {problem}; check that the function computing it passes its own check"
            raise CheckFailed(f"{where}: {problem}")
        if not isinstance(total, Tensor):
            raise CheckFailed(f"{where}: the total is a {type(total).__name__}, not a torch.Tensor: keep it a tensor "
                              "(no .item() or float()), so that it can be backpropagated")
        if what_is_wrong(total, ref_total, "a single number", False):
            p = [parts[k] for k in keys]
            for message, wrong in [
                ("beta and gamma are swapped: beta weighs L_vrt and gamma weighs L_con (eq 11)",
                 p[0] + gamma * p[1] + beta * p[2]),
                ("the total is not weighted: L = L_BT + beta * L_vrt + gamma * L_con", p[0] + p[1] + p[2]),
                ("it ignores the beta and gamma it is given (fixed 1000 and 200?): use its arguments",
                 p[0] + 1000.0 * p[1] + 200.0 * p[2]),
                ("the total leaves out gamma * L_con: L = L_BT + beta * L_vrt + gamma * L_con", p[0] + beta * p[1]),
                ("the total leaves out beta * L_vrt: L = L_BT + beta * L_vrt + gamma * L_con", p[0] + gamma * p[2]),
                ("the total is averaged: eq 11 adds the weighted terms, L = L_BT + beta * L_vrt + gamma * L_con",
                 (p[0] + beta * p[1] + gamma * p[2]) / 3),
            ]:
                if close(total, wrong):
                    raise CheckFailed(f"{where}: {message}")
            raise CheckFailed(f"{where}: the parts are right but the total is not: "
                              f"{what_is_wrong(total, ref_total, 'a single number', False)}. "
                              "total = parts['bt'] + beta * parts['vrt'] + gamma * parts['con']")
        out = call_student(name, fn, args, grad=True)
        if not (isinstance(out[0], Tensor) and out[0].requires_grad):
            raise CheckFailed(f"my_{name} gives the right values, but the total is cut off from its inputs: do not "
                              "use .item(), .detach() or torch.tensor(...) on intermediate results")
