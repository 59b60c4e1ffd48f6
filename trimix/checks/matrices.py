"""Checks of the exercises on the ground-truth and predicted matrices and the virtual embeddings loss
(eqs 6-8)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

import trimix
from trimix.checks._core import as_tensor, pair_cases, run_check, student_facing
from trimix.mixing import ground_truth_matrix, predicted_matrix
from trimix.standardize import batch_standardize as s
from trimix.standardize import feature_standardize as fs


@student_facing
def check_ground_truth_matrix(fn: Callable) -> None:
    """``my_ground_truth_matrix(batch_size, lam)``: (B, B), ``lam I + (1 - lam) rot90(I)`` (eq 8)."""
    cases = [{"batch_size": b, "lam": lam} for b, lam in [(4, 0.3), (5, 0.8), (8, 0.1), (7, 0.6), (2, 1.0)]]

    def anti(b):
        return torch.eye(b).flip(1)

    def middle(value):
        def gt(b, lam):
            if b % 2 == 0:
                return None
            m = ground_truth_matrix(b, lam)
            m[b // 2, b // 2] = value(lam)
            return m
        return gt

    odd = ("the middle row of an odd batch is wrong: the middle sample is its own partner, so its entry is "
           "lam + (1 - lam) = 1 (add the two matrices; do not write one entry over the other)")
    run_check("ground_truth_matrix", fn, cases, ground_truth_matrix, [
        ("lam and 1 - lam are swapped: row m holds lam at column m (the sample itself) and 1 - lam at column "
         "B-1-m (its partner)", lambda b, lam: (1 - lam) * torch.eye(b) + lam * anti(b)),
        ("the anti-diagonal is missing: row m also holds 1 - lam at column B-1-m (torch.rot90 of the "
         "identity)", lambda b, lam: lam * torch.eye(b)),
        ("the diagonal is missing: row m holds lam at column m as well", lambda b, lam: (1 - lam) * anti(b)),
        (odd, middle(lambda lam: lam)),
        (odd, middle(lambda lam: 1 - lam)),
        ("it puts 1 - lam everywhere off the diagonal: only column B-1-m of row m is the partner",
         lambda b, lam: lam * torch.eye(b) + (1 - lam) * (1 - torch.eye(b))),
        ("its second matrix is the identity again (I.T, or I flipped along both dims, is I): the anti-diagonal "
         "is torch.rot90(I) or I.flip(1)", lambda b, lam: torch.eye(b)),
        ("it puts 1 - lam next to the diagonal (torch.roll): the partner of sample m is sample B-1-m, the "
         "anti-diagonal", lambda b, lam: lam * torch.eye(b) + (1 - lam) * torch.eye(b).roll(1, 0)),
        ("it puts 1 - lam next to the diagonal (torch.roll): the partner of sample m is sample B-1-m, the "
         "anti-diagonal", lambda b, lam: lam * torch.eye(b) + (1 - lam) * torch.eye(b).roll(-1, 0)),
    ], expect="B x B", forbidden=[ground_truth_matrix],
        hint="Row m holds lam at column m and 1 - lam at column B-1-m: lam * I + (1 - lam) * torch.rot90(I).")


def _sim(z, v, tau):
    return s(z) @ v.T / z.shape[1] / tau


@student_facing
def check_predicted_matrix(fn: Callable) -> None:
    """``my_predicted_matrix(z, z_vrt, tau)``: (B, B), ``softmax(s(z) @ v.T / D / tau, dim=1)`` (eqs 6-7)."""
    cases = pair_cases(7, [(6, 10), (7, 32), (8, 16)], [{"tau": 0.5}, {"tau": 2.0}, {"tau": 0.1}])
    v = lambda zv: fs(s(zv))  # noqa: E731
    not_v = ("z_vrt is not normalised as Algorithm 1 does: standardise it along the batch, then each row along "
             "the features: v = trimix.feature_standardize(trimix.batch_standardize(z_vrt))")

    def columns_sum_to_one(got, args):
        got = as_tensor(got)
        b = len(args["z"])
        if got is not None and got.shape == (b, b) and torch.allclose(got.detach().sum(0), torch.ones(b), atol=1e-4) \
                and not torch.allclose(got.detach().sum(1), torch.ones(b), atol=1e-4):
            return "its columns sum to 1, not its rows: take the softmax along dim 1"
        return None

    run_check("predicted_matrix", fn, cases, predicted_matrix, [
        ("the softmax runs over dim 0 (the columns sum to 1): take it along dim 1, so that each row (one "
         "original sample) is a distribution over the virtual batch",
         lambda z, zv, tau: torch.softmax(_sim(z, v(zv), tau), 0)),
        ("it is the transpose of M (off by a transpose): rows are the original samples and columns the virtual "
         "ones, s(z) @ v.T, not v @ s(z).T", lambda z, zv, tau: torch.softmax(_sim(z, v(zv), tau).T, 1)),
        (not_v, lambda z, zv, tau: torch.softmax(_sim(z, s(zv), tau), 1)),
        (not_v, lambda z, zv, tau: torch.softmax(_sim(z, zv, tau), 1)),
        (not_v, lambda z, zv, tau: torch.softmax(_sim(z, fs(zv), tau), 1)),
        ("z is not standardised along the batch: use s(z) = trimix.batch_standardize(z)",
         lambda z, zv, tau: torch.softmax(z @ v(zv).T / z.shape[1] / tau, 1)),
        ("the similarities are not divided by D (the embedding size): s(z) @ v.T / D",
         lambda z, zv, tau: torch.softmax(_sim(z, v(zv), tau) * z.shape[1], 1)),
        ("the similarities are not divided by tau: softmax(s(z) @ v.T / D / tau, dim=1)",
         lambda z, zv, tau: torch.softmax(_sim(z, v(zv), tau) * tau, 1)),
        ("the similarities are multiplied by tau: divide by tau",
         lambda z, zv, tau: torch.softmax(_sim(z, v(zv), 1 / tau), 1)),
        ("there is no softmax: apply torch.softmax(..., dim=1) so that every row sums to 1",
         lambda z, zv, tau: _sim(z, v(zv), tau)),
        ("it is the cosine similarity of the rows: compute eq 6 as Algorithm 1 does, standardising z along the "
         "batch and z_vrt along the batch then the features, and dividing by D",
         lambda z, zv, tau: torch.softmax(F.normalize(z, dim=1) @ F.normalize(zv, dim=1).T / tau, 1)),
        ("it returns the transpose of M: rows are the original samples (z), columns the virtual ones (z_vrt)",
         lambda z, zv, tau: torch.softmax(_sim(z, v(zv), tau), 1).T),
        ("the similarities are divided by B (the batch size): divide by D, the embedding size",
         lambda z, zv, tau: torch.softmax(_sim(z, v(zv), tau) * z.shape[1] / z.shape[0], 1)),
        ("z is also standardised along the features: only z_vrt is (v); z is standardised along the batch only",
         lambda z, zv, tau: torch.softmax(fs(s(z)) @ v(zv).T / z.shape[1] / tau, 1)),
        ("it is a log-softmax: eq 7 is a softmax (entries between 0 and 1, rows summing to 1)",
         lambda z, zv, tau: torch.log_softmax(_sim(z, v(zv), tau), 1)),
        ("it applies a sigmoid to each entry: eq 7 is a softmax over each row (dim 1)",
         lambda z, zv, tau: torch.sigmoid(_sim(z, v(zv), tau))),
    ], expect="B x B, original samples against virtual samples", notes=columns_sum_to_one,
        forbidden=[predicted_matrix, trimix.similarity_matrix],
        hint="M = softmax(s(z) @ v.T / D / tau, dim=1) with v = feature_standardize(batch_standardize(z_vrt)).")


@student_facing
def check_virtual_embedding_loss(fn: Callable) -> None:
    """``my_virtual_embedding_loss(z, z_vrt, lam, tau)``: scalar ``mean |M - GT|`` (eq 8)."""
    extra = [{"lam": 0.3, "tau": 0.5}, {"lam": 0.8, "tau": 2.0}, {"lam": 0.2, "tau": 0.1}]
    cases = pair_cases(8, [(6, 10), (9, 16), (8, 12)], extra)

    def l1(f):
        return lambda z, zv, lam, tau: f(predicted_matrix(z, zv, tau), ground_truth_matrix(len(z), lam))

    run_check("virtual_embedding_loss", fn, cases, trimix.virtual_embedding_loss, [
        ("it takes the sum over the B x B entries: eq 8 takes the mean (an L1 loss with mean reduction)",
         l1(lambda m, gt: (m - gt).abs().sum())),
        ("it squares the differences: eq 8 is an L1 distance, the mean of |M - GT|",
         l1(lambda m, gt: (m - gt).pow(2).mean())),
        ("it takes a norm of M - GT: eq 8's ||.|| is the L1 loss with mean reduction, (M - GT).abs().mean()",
         l1(lambda m, gt: torch.linalg.norm(m - gt))),
        ("the absolute value is missing: the mean of M - GT is always 0 (rows of M and of GT both sum to 1); "
         "take the mean of |M - GT|", l1(lambda m, gt: (m - gt).mean())),
        ("lam and 1 - lam are swapped in GT: lam goes on the diagonal, 1 - lam on the anti-diagonal",
         lambda z, zv, lam, tau: (predicted_matrix(z, zv, tau) - ground_truth_matrix(len(z), 1 - lam)).abs().mean()),
        ("it ignores tau (a fixed 2?): pass tau on to the predicted matrix",
         lambda z, zv, lam, tau: trimix.virtual_embedding_loss(z, zv, lam, 2.0)),
        ("z and z_vrt are swapped: M compares the original embeddings z (rows) with the virtual ones z_vrt "
         "(columns), my_predicted_matrix(z, z_vrt, tau)",
         lambda z, zv, lam, tau: (predicted_matrix(zv, z, tau) - ground_truth_matrix(len(z), lam)).abs().mean()),
        ("it sums each row and averages the rows: eq 8 takes the mean over all B x B entries",
         l1(lambda m, gt: (m - gt).abs().sum(1).mean())),
        ("it divides by B once more: the mean over the B x B entries already divides by B * B",
         l1(lambda m, gt: (m - gt).abs().mean() / len(m))),
        ("it uses a cross-entropy: eq 8 is an L1 distance, the mean of |M - GT|",
         l1(lambda m, gt: F.cross_entropy(m, gt))),
        ("the target is the identity: GT also holds 1 - lam on the anti-diagonal (your my_ground_truth_matrix)",
         lambda z, zv, lam, tau: (predicted_matrix(z, zv, tau) - torch.eye(len(z))).abs().mean()),
        ("the target has lam on the diagonal only: GT also holds 1 - lam on the anti-diagonal (your "
         "my_ground_truth_matrix)",
         lambda z, zv, lam, tau: (predicted_matrix(z, zv, tau) - lam * torch.eye(len(z))).abs().mean()),
    ], expect="a single number", forbidden=[trimix.virtual_embedding_loss], loss=True,
        hint="L_vrt = mean over the B x B entries of |M - GT| (check that your two matrices pass their checks).")
