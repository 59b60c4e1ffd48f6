"""Self-checks for the exercises of notebooks 01-04: ``check_<name>(my_<name>)`` for each exercise.

A check calls the student's function on random inputs of several shapes (even and odd batches), compares
the result with the kit's reference implementation and, when they differ, recomputes the mistakes students
commonly make (biased std, a transpose, softmax over the wrong dim, a sum for a mean, ...) to say which one
it is. It raises :class:`CheckFailed` (an ``AssertionError``) with a message a student can act on, and
returns quietly when the function is right. The notebooks' ``# CHECK: <name>`` cells call these, and so do
the grading command (``python -m trimix assignments grade``) and nbgrader's autograder.
"""
from __future__ import annotations

import functools
import inspect
import sys
from typing import Any, Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

import trimix
from trimix.losses import invariance_term, off_diagonal, redundancy_term
from trimix.mixing import flip, ground_truth_matrix, mix_batch, predicted_matrix
from trimix.standardize import batch_standardize as s
from trimix.standardize import feature_standardize as fs

# exercise name -> the notebook it is in, in the order the notebooks ask for them
EXERCISES = {
    "batch_standardize": "01_barlow_twins.ipynb",
    "cross_correlation": "01_barlow_twins.ipynb",
    "off_diagonal_sum": "01_barlow_twins.ipynb",
    "barlow_twins_loss": "01_barlow_twins.ipynb",
    "mix_batch": "02_mixup_views.ipynb",
    "estimate_lambda": "02_mixup_views.ipynb",
    "ground_truth_matrix": "03_ground_truth_and_predicted.ipynb",
    "predicted_matrix": "03_ground_truth_and_predicted.ipynb",
    "virtual_embedding_loss": "03_ground_truth_and_predicted.ipynb",
    "mixed_embeddings": "04_self_consistency_and_objective.ipynb",
    "self_consistency_loss": "04_self_consistency_and_objective.ipynb",
    "trimix_loss": "04_self_consistency_and_objective.ipynb",
}
ATOL = RTOL = 1e-4
Mistakes = Sequence[tuple[str, Callable[..., Any]]]


class CheckFailed(AssertionError):
    """The student's function is wrong (or not written yet); the message says what to change."""


# ------------------------------------------------------------------------------------------ machinery
def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(gen: torch.Generator, *shape: int, scale: float = 1.0, shift: float = 0.0) -> Tensor:
    return torch.randn(shape, generator=gen) * scale + shift


def _describe(args: dict) -> str:
    """{"z1": (8, 5) tensor, "z2": (8, 5) tensor, "lam": 0.3} -> 'z1, z2 of shape (8, 5), lam=0.3'."""
    groups: dict[tuple, list[str]] = {}
    words = []
    for name, value in args.items():
        if isinstance(value, Tensor):
            groups.setdefault(tuple(value.shape), []).append(name)
        else:
            words.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
    shapes = [f"{', '.join(names)} of shape {shape}" for shape, names in groups.items()]
    return "; ".join(shapes + [", ".join(words)] if words else shapes)


def _copies(args: dict, grad: bool = False) -> dict:
    return {k: v.detach().clone().requires_grad_(grad) if isinstance(v, Tensor) else v for k, v in args.items()}


class _Spy:
    """Notices, via ``sys.setprofile``, a call to any of the kit's own answers (whatever name it goes by)."""

    def __init__(self, forbidden: Iterable[Callable]):
        self.codes = {inspect.unwrap(f).__code__: f.__name__ for f in forbidden}
        self.seen: str | None = None

    def __enter__(self):
        self.previous = sys.getprofile()
        if self.codes:
            sys.setprofile(self._profile)
        return self

    def _profile(self, frame, event, arg):
        if event == "call" and self.seen is None and frame.f_code in self.codes:
            self.seen = self.codes[frame.f_code]

    def __exit__(self, *exc):
        sys.setprofile(self.previous)


def _call(name: str, fn: Callable, args: dict, forbidden: Iterable[Callable] = (), grad: bool = False) -> Any:
    """Call ``fn`` on copies of ``args``; turn what goes wrong into a :class:`CheckFailed`."""
    given = _copies(args, grad)
    try:
        with _Spy(forbidden) as spy:
            out = fn(*given.values())
    except NotImplementedError as e:
        raise CheckFailed(f"my_{name} is not implemented yet, or calls a function that is not: replace "
                          f"`raise NotImplementedError(...)` with your code ({e})") from None
    except Exception as e:
        e.__traceback__ = e.__traceback__.tb_next  # start the student's traceback at their own code
        raise CheckFailed(f"my_{name} raised {type(e).__name__} on {_describe(args)}: {e}") from e
    if spy.seen:
        raise CheckFailed(f"my_{name} calls trimix's {spy.seen}, the kit's own answer to this exercise: "
                          "write it yourself (the kit's version is only there to check yours)")
    for key, value in args.items():
        if isinstance(value, Tensor) and not torch.equal(given[key].detach(), value):
            raise CheckFailed(f"my_{name} changed its argument {key} in place (e.g. `{key} -= ...` or a method "
                              f"ending in _ such as sub_): compute a new tensor instead ({key} = {key} - ...), "
                              "since the caller still needs the original")
    return out


def _as_tensor(x: Any) -> Tensor | None:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return torch.tensor(float(x))
    return None


def _close(a: Any, b: Any) -> bool:
    a, b = _as_tensor(a), _as_tensor(b)
    if a is None or b is None or a.shape != b.shape:
        return False
    return torch.allclose(a.detach().double(), b.detach().double(), atol=ATOL, rtol=RTOL, equal_nan=True)


def _problem(got: Any, want: Any, expect: str, number_ok: bool) -> str | None:
    """What is wrong with ``got`` in general terms, or None if it matches ``want``."""
    if got is None:
        return "it returned None: did you forget the `return` statement?"
    tensor = _as_tensor(got)
    if tensor is None:
        return f"it returned a {type(got).__name__}; expected a torch.Tensor ({expect})"
    if not isinstance(got, Tensor) and not number_ok:
        return ("it returned a Python number: keep the result a torch.Tensor (no .item() or float()), so that "
                "the loss can be backpropagated")
    want = _as_tensor(want)
    if tensor.shape != want.shape:
        if want.dim() == 0:
            return (f"it returned shape {tuple(tensor.shape)}, but the result is a single number (a 0-d tensor, "
                    "shape ()): reduce over every entry")
        return f"it returned shape {tuple(tensor.shape)}, expected {tuple(want.shape)}: {expect}"
    if isinstance(got, Tensor) and isinstance(want, Tensor) and got.dtype != want.dtype and not number_ok:
        return (f"it returned dtype {got.dtype}, expected {want.dtype}: build it from float32 tensors "
                "(torch's default), or convert with .float()")
    if not torch.isfinite(tensor).all() and torch.isfinite(want).all():
        return "it returned NaN or infinite values: look for a division by zero"
    if not _close(tensor, want):
        diff = (tensor.detach().double() - want.double()).abs().max().item()
        return f"its values differ from the kit's (largest difference {diff:.3g})"
    return None


def _diagnose(name: str, got: Any, args: dict, mistakes: Mistakes, want: Any) -> None:
    """Raise the message of the first known mistake that reproduces ``got`` exactly."""
    for message, wrong in mistakes:
        try:
            expected_wrong = wrong(*args.values())
        except Exception:
            continue
        if _close(got, expected_wrong) and not _close(expected_wrong, want):
            raise CheckFailed(f"my_{name} is wrong on {_describe(args)}: {message}")


def _run(name: str, fn: Callable, cases: Iterable[dict], reference: Callable, mistakes: Mistakes = (), *,
         expect: str, hint: str, forbidden: Iterable[Callable] = (), loss: bool = False,
         number_ok: bool = False, notes: Callable[[Any, dict], str | None] | None = None) -> None:
    """The common check: every case must match ``reference``; otherwise name the mistake, or say how it differs."""
    if not callable(fn):
        raise CheckFailed(f"pass the function itself: check_{name}(my_{name}), not {type(fn).__name__}")
    for args in cases:
        got = _call(name, fn, args, forbidden)
        want = reference(*args.values())
        problem = _problem(got, want, expect, number_ok)
        if problem:
            _diagnose(name, got, args, mistakes, want)
            note = notes(got, args) if notes else None
            message = note or problem
            stop = "" if message[-1] in "?." else "."
            raise CheckFailed(f"my_{name} is wrong on {_describe(args)}: {message}{stop} {hint}")
        if loss:
            out = _call(name, fn, args, forbidden, grad=True)
            out = out[0] if isinstance(out, tuple) else out
            if not (isinstance(out, Tensor) and out.requires_grad):
                raise CheckFailed(
                    f"my_{name} gives the right value, but it is cut off from its inputs, so no gradient can "
                    "flow back to the network: do not use .item(), .detach(), .numpy() or torch.tensor(...) "
                    "on intermediate results")


def _student_facing(check: Callable) -> Callable:
    """Raise a check's failure from here, without the check's own frames: a student sees the message, not
    the check's internals (their own code still shows when it raised the error)."""

    @functools.wraps(check)
    def wrapper(fn: Callable) -> None:
        try:
            check(fn)
        except CheckFailed as failure:
            failure.__traceback__ = None
            raise failure from failure.__cause__

    return wrapper


def _mix(x: Tensor, lam: float) -> Tensor:
    return lam * x + (1 - lam) * flip(x)


# ---------------------------------------------------------------------------------- 01 Barlow Twins
@_student_facing
def check_batch_standardize(fn: Callable) -> None:
    """``my_batch_standardize(z)``: (B, D) -> (B, D), each column with mean 0 and unbiased std 1."""
    g = _gen(1)
    cases = [{"z": _randn(g, b, d, scale=3, shift=1)} for b, d in [(8, 5), (7, 16), (64, 32)]]
    _run("batch_standardize", fn, cases, s, [
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
    ], expect="the same shape as z", forbidden=[trimix.batch_standardize],
        hint="Subtract each column's mean and divide by its unbiased std, both taken along dim 0 (the batch).")


def _corr_cases(seed: int) -> list[dict]:
    g = _gen(seed)
    out = []
    for b, d in [(8, 5), (7, 12), (32, 16)]:
        z1 = _randn(g, b, d, scale=2, shift=1)
        out.append({"z1": z1, "z2": z1 @ _randn(g, d, d) + _randn(g, b, d)})
    return out


@_student_facing
def check_cross_correlation(fn: Callable) -> None:
    """``my_cross_correlation(z1, z2)``: (B, D), (B, D) -> (D, D), ``s(z1).T @ s(z2) / B`` (eq 4)."""
    _run("cross_correlation", fn, _corr_cases(2), trimix.cross_correlation, [
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
    ], expect="D x D, features of z1 against features of z2", forbidden=[trimix.cross_correlation],
        hint="C = s(z1).T @ s(z2) / B, with s the batch standardisation (check that my_batch_standardize passes).")


@_student_facing
def check_off_diagonal_sum(fn: Callable) -> None:
    """``my_off_diagonal_sum(c)``: (D, D) -> scalar, ``sum_{i != j} c_ij^2`` (the redundancy term, eq 3)."""
    g = _gen(3)
    cases = [{"c": _randn(g, d, d, scale=0.3) + torch.eye(d)} for d in (4, 3, 16)]
    off = off_diagonal
    _run("off_diagonal_sum", fn, cases, redundancy_term, [
        ("it includes the diagonal: sum only the entries with i != j (mask the diagonal out, e.g. with "
         "~torch.eye(D, dtype=torch.bool))", lambda c: c.pow(2).sum()),
        ("the entries are not squared: eq 3 sums C_ij ** 2", lambda c: off(c).sum()),
        ("it sums absolute values: eq 3 sums the squares C_ij ** 2", lambda c: off(c).abs().sum()),
        ("it takes a mean: eq 3 is a sum over all i != j, not a mean", lambda c: off(c).pow(2).mean()),
        ("it takes a mean: eq 3 is a sum over all i != j, not a mean", lambda c: off(c).pow(2).sum() / c.numel()),
        ("it sums one triangle only: i != j counts both C_ij and C_ji", lambda c: c.triu(1).pow(2).sum()),
        ("it sums one triangle only: i != j counts both C_ij and C_ji", lambda c: c.tril(-1).pow(2).sum()),
    ], expect="a single number", forbidden=[redundancy_term, off_diagonal], loss=True,
        hint="Square every entry and add up those off the diagonal (i != j).")


@_student_facing
def check_barlow_twins_loss(fn: Callable) -> None:
    """``my_barlow_twins_loss(z1, z2, alpha)``: scalar ``sum_i (1 - C_ii)^2 + alpha sum_{i != j} C_ij^2`` (eqs 1-3)."""
    cases = [dict(case, alpha=alpha) for case, alpha in zip(_corr_cases(4), (5e-3, 0.5, 0.05))]

    def parts(a, b):
        c = trimix.cross_correlation(a, b)
        return c, invariance_term(c), redundancy_term(c)

    def variant(f):
        return lambda a, b, alpha: f(alpha, *parts(a, b))

    _run("barlow_twins_loss", fn, cases, trimix.barlow_twins_loss, [
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
    ], expect="a single number", forbidden=[trimix.barlow_twins_loss], loss=True,
        hint="L_BT = sum_i (1 - C_ii)^2 + alpha * sum_{i != j} C_ij^2 on C = my_cross_correlation(z1, z2).")


# ---------------------------------------------------------------------------------- 02 mixup views
@_student_facing
def check_mix_batch(fn: Callable) -> None:
    """``my_mix_batch(x, lam)``: (B, ...) -> (B, ...), ``lam * x + (1 - lam) * flip(x)`` (eq 5)."""
    g = _gen(5)
    cases = [{"x": _randn(g, *shape), "lam": lam}
             for shape, lam in [((6, 3, 4, 4), 0.3), ((5, 7), 0.8), ((4, 2), 0.0), ((3, 5), 1.0)]]
    wrong_dim = ("it reverses the wrong dimension: reverse the order of the batch only, dim 0 "
                 "(torch.flip(x, dims=(0,))), not the pixels or features")
    _run("mix_batch", fn, cases, mix_batch, [
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


@_student_facing
def check_estimate_lambda(fn: Callable) -> None:
    """``my_estimate_lambda(x, x_vrt)``: the lam that mixed ``x_vrt = mix_batch(x, lam)``, a number."""
    g = _gen(6)
    cases, lams = [], {}
    for shape, lam in [((6, 3, 8, 8), 0.2), ((5, 16), 0.65), ((8, 3, 4, 4), 0.9)]:
        x = _randn(g, *shape)
        cases.append({"x": x, "x_vrt": mix_batch(x, lam)})
        lams[id(x)] = lam

    def proj(a, b):
        return float((a.flatten() @ b.flatten()) / (b.flatten() @ b.flatten()))

    _run("estimate_lambda", fn, cases, lambda x, xv: lams[id(x)], [
        ("it returns 1 - lam: project X^vrt - X^r onto X - X^r (the weight of the original batch), not onto "
         "X^r - X", lambda x, xv: 1 - proj(xv - flip(x), x - flip(x))),
        ("it ignores the reversed batch: subtract X^r = flip(X) from both X^vrt and X before projecting",
         lambda x, xv: proj(xv, x)),
        ("it divides by |X^vrt - X^r|^2: divide by |X - X^r|^2", lambda x, xv: 1 / proj(xv - flip(x), x - flip(x))),
    ], expect="one number for the whole batch: a Python float", number_ok=True,
        notes=lambda got, args: (
            "it returned NaN: with an odd batch the middle sample is its own partner, so X - X^r is 0 there; "
            "use one least-squares estimate over all entries, not a division entry by entry"
            if _as_tensor(got) is not None and torch.isnan(_as_tensor(got)).any() else None),
        hint="lam_hat = <X^vrt - X^r, X - X^r> / |X - X^r|^2 over all entries, with X^r = flip(X).")


# ----------------------------------------------------------------- 03 ground truth and predicted matrix
@_student_facing
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
    _run("ground_truth_matrix", fn, cases, ground_truth_matrix, [
        ("lam and 1 - lam are swapped: row m holds lam at column m (the sample itself) and 1 - lam at column "
         "B-1-m (its partner)", lambda b, lam: (1 - lam) * torch.eye(b) + lam * anti(b)),
        ("the anti-diagonal is missing: row m also holds 1 - lam at column B-1-m (torch.rot90 of the "
         "identity)", lambda b, lam: lam * torch.eye(b)),
        ("the diagonal is missing: row m holds lam at column m as well", lambda b, lam: (1 - lam) * anti(b)),
        (odd, middle(lambda lam: lam)),
        (odd, middle(lambda lam: 1 - lam)),
        ("it puts 1 - lam everywhere off the diagonal: only column B-1-m of row m is the partner",
         lambda b, lam: lam * torch.eye(b) + (1 - lam) * (1 - torch.eye(b))),
    ], expect="B x B", forbidden=[ground_truth_matrix],
        hint="Row m holds lam at column m and 1 - lam at column B-1-m: lam * I + (1 - lam) * torch.rot90(I).")


def _pair_cases(seed: int, shapes: Sequence[tuple], extra: Sequence[dict]) -> list[dict]:
    """z and a z_vrt that resembles mix_batch(z, 0.7) (so that the predicted matrix has some structure)."""
    g = _gen(seed)
    out = []
    for (b, d), more in zip(shapes, extra):
        z = _randn(g, b, d, scale=2, shift=1)
        out.append({"z": z, "z_vrt": _mix(z, 0.7) * 0.5 + _randn(g, b, d), **more})
    return out


def _sim(z, v, tau):
    return s(z) @ v.T / z.shape[1] / tau


@_student_facing
def check_predicted_matrix(fn: Callable) -> None:
    """``my_predicted_matrix(z, z_vrt, tau)``: (B, B), ``softmax(s(z) @ v.T / D / tau, dim=1)`` (eqs 6-7)."""
    cases = _pair_cases(7, [(6, 10), (7, 32), (8, 16)], [{"tau": 0.5}, {"tau": 2.0}, {"tau": 0.1}])
    v = lambda zv: fs(s(zv))  # noqa: E731
    not_v = ("z_vrt is not normalised as Algorithm 1 does: standardise it along the batch, then each row along "
             "the features: v = trimix.feature_standardize(trimix.batch_standardize(z_vrt))")

    def columns_sum_to_one(got, args):
        got = _as_tensor(got)
        b = len(args["z"])
        if got is not None and got.shape == (b, b) and torch.allclose(got.detach().sum(0), torch.ones(b), atol=1e-4) \
                and not torch.allclose(got.detach().sum(1), torch.ones(b), atol=1e-4):
            return "its columns sum to 1, not its rows: take the softmax along dim 1"
        return None

    _run("predicted_matrix", fn, cases, predicted_matrix, [
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
    ], expect="B x B, original samples against virtual samples", notes=columns_sum_to_one,
        forbidden=[predicted_matrix, trimix.similarity_matrix],
        hint="M = softmax(s(z) @ v.T / D / tau, dim=1) with v = feature_standardize(batch_standardize(z_vrt)).")


@_student_facing
def check_virtual_embedding_loss(fn: Callable) -> None:
    """``my_virtual_embedding_loss(z, z_vrt, lam, tau)``: scalar ``mean |M - GT|`` (eq 8)."""
    extra = [{"lam": 0.3, "tau": 0.5}, {"lam": 0.8, "tau": 2.0}, {"lam": 0.2, "tau": 0.1}]
    cases = _pair_cases(8, [(6, 10), (9, 16), (8, 12)], extra)

    def l1(f):
        return lambda z, zv, lam, tau: f(predicted_matrix(z, zv, tau), ground_truth_matrix(len(z), lam))

    _run("virtual_embedding_loss", fn, cases, trimix.virtual_embedding_loss, [
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
    ], expect="a single number", forbidden=[trimix.virtual_embedding_loss], loss=True,
        hint="L_vrt = mean over the B x B entries of |M - GT| (check that your two matrices pass their checks).")


# ------------------------------------------------------------ 04 self-consistency and the full objective
@_student_facing
def check_mixed_embeddings(fn: Callable) -> None:
    """``my_mixed_embeddings(z, lam)``: (B, D), ``lam s(z) + (1 - lam) flip(s(z))`` (eq 9)."""
    g = _gen(9)
    cases = [{"z": _randn(g, b, d, scale=2, shift=1), "lam": lam}
             for b, d, lam in [(6, 4, 0.3), (9, 16, 0.75), (8, 5, 0.1)]]
    _run("mixed_embeddings", fn, cases, trimix.mixed_embeddings, [
        ("z is not standardised: eq 9 mixes the batch-standardised embeddings s(z) (Algorithm 1 standardises z "
         "first)", lambda z, lam: _mix(z, lam)),
        ("it standardises after mixing: standardise z first, then mix s(z) with its reverse",
         lambda z, lam: s(_mix(z, lam))),
        ("lam and 1 - lam are swapped: s(z) gets the weight lam, its reverse 1 - lam",
         lambda z, lam: _mix(s(z), 1 - lam)),
        ("it reverses the wrong dimension: reverse the batch order, dim 0",
         lambda z, lam: lam * s(z) + (1 - lam) * s(z).flip(1)),
        ("it also standardises along the features: eq 9 mixes s(z) only (the feature standardisation is for "
         "the virtual embeddings)", lambda z, lam: _mix(fs(s(z)), lam)),
    ], expect="the same shape as z", forbidden=[trimix.mixed_embeddings],
        hint="Standardise z along the batch, then mix it with its reverse: lam * s + (1 - lam) * flip(s).")


@_student_facing
def check_self_consistency_loss(fn: Callable) -> None:
    """``my_self_consistency_loss(z, z_vrt, lam)``: scalar ``mean |Z~ - v|`` (eq 10)."""
    cases = _pair_cases(10, [(6, 8), (9, 32), (5, 6)], [{"lam": 0.3}, {"lam": 0.9}, {"lam": 0.6}])
    not_v = ("z_vrt is not normalised as Algorithm 1 does: v is z_vrt standardised along the batch, then each row "
             "along the features: trimix.feature_standardize(trimix.batch_standardize(z_vrt))")

    def l1(f):
        return lambda z, zv, lam: f(_mix(s(z), lam), fs(s(zv)))

    _run("self_consistency_loss", fn, cases, trimix.self_consistency_loss, [
        (not_v, lambda z, zv, lam: (_mix(s(z), lam) - s(zv)).abs().mean()),
        (not_v, lambda z, zv, lam: (_mix(s(z), lam) - zv).abs().mean()),
        (not_v, lambda z, zv, lam: (_mix(s(z), lam) - fs(zv)).abs().mean()),
        ("it takes the sum: eq 10 takes the mean over the B x D entries", l1(lambda a, v: (a - v).abs().sum())),
        ("it squares the differences: eq 10 is an L1 distance, the mean of |Z~ - v|",
         l1(lambda a, v: (a - v).pow(2).mean())),
        ("the absolute value is missing: the mean of Z~ - v is always 0 (both are centred); take the mean of "
         "|Z~ - v|", l1(lambda a, v: (a - v).mean())),
        ("z and z_vrt are swapped: mix the original embeddings z (eq 9) and compare them with the normalised "
         "virtual embeddings v", lambda z, zv, lam: (_mix(s(zv), lam) - fs(s(z))).abs().mean()),
        ("lam and 1 - lam are swapped in Z~: s(z) gets the weight lam, its reverse 1 - lam",
         lambda z, zv, lam: (_mix(s(z), 1 - lam) - fs(s(zv))).abs().mean()),
        ("z is not standardised before mixing: Z~ mixes s(z) (your my_mixed_embeddings)",
         lambda z, zv, lam: (_mix(z, lam) - fs(s(zv))).abs().mean()),
    ], expect="a single number", forbidden=[trimix.self_consistency_loss], loss=True,
        hint="L_con = mean over the B x D entries of |Z~ - v|, Z~ = my_mixed_embeddings(z, lam), "
             "v = feature_standardize(batch_standardize(z_vrt)).")


@_student_facing
def check_trimix_loss(fn: Callable) -> None:
    """``my_trimix_loss(z1, z2, z_vrt, lam, alpha, beta, gamma, tau)``: ``(L_BT + beta L_vrt + gamma L_con, parts)``."""
    g = _gen(11)
    name, keys = "trimix_loss", ("bt", "vrt", "con")
    weights = [(0.4, 5e-3, 10.0, 3.0, 2.0), (0.95, 0.1, 1000.0, 200.0, 0.5), (0.2, 5e-3, 1000.0, 200.0, 2.0)]
    for (b, d), (lam, alpha, beta, gamma, tau) in zip([(8, 16), (7, 6), (6, 8)], weights):
        z1 = _randn(g, b, d, scale=2, shift=1)
        args = {"z1": z1, "z2": z1 + _randn(g, b, d), "z_vrt": _mix(z1, lam) + 0.5 * _randn(g, b, d), "lam": lam,
                "alpha": alpha, "beta": beta, "gamma": gamma, "tau": tau}
        z1, z2, zv = args["z1"], args["z2"], args["z_vrt"]
        where = f"my_{name} is wrong on {_describe(args)}"
        out = _call(name, fn, args, [trimix.trimix_loss])
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
        defaults = {"bt": trimix.barlow_twins_loss(z1, z2), "vrt": trimix.virtual_embedding_loss(z1, zv, lam),
                    "con": ref["con"]}
        for key, weight in zip(keys, (1.0, beta, gamma)):
            problem = _problem(parts[key], ref[key], "a single number", False)
            if not problem:
                continue
            if weight != 1.0 and _close(parts[key], weight * ref[key]):
                problem = (f"parts['{key}'] is weighted: parts hold the unweighted terms; beta and gamma only "
                           "enter the total")
            elif _close(parts[key], swapped[key]):
                problem = (f"parts['{key}'] is computed from z2: the virtual batch was mixed from the first view, "
                           "so L_vrt and L_con compare z1 with z_vrt")
            elif _close(parts[key], defaults[key]):
                what = "alpha" if key == "bt" else "tau"
                problem = f"parts['{key}'] ignores its argument {what}: pass it on"
            else:
                problem = f"parts['{key}']: {problem}; check that the function computing it passes its own check"
            raise CheckFailed(f"{where}: {problem}")
        if _problem(total, ref_total, "a single number", False):
            p = [parts[k] for k in keys]
            for message, wrong in [
                ("beta and gamma are swapped: beta weighs L_vrt and gamma weighs L_con (eq 11)",
                 p[0] + gamma * p[1] + beta * p[2]),
                ("the total is not weighted: L = L_BT + beta * L_vrt + gamma * L_con", p[0] + p[1] + p[2]),
                ("it ignores the beta and gamma it is given (fixed 1000 and 200?): use its arguments",
                 p[0] + 1000.0 * p[1] + 200.0 * p[2]),
            ]:
                if _close(total, wrong):
                    raise CheckFailed(f"{where}: {message}")
            raise CheckFailed(f"{where}: the parts are right but the total is not: "
                              f"{_problem(total, ref_total, 'a single number', False)}. "
                              "total = parts['bt'] + beta * parts['vrt'] + gamma * parts['con']")
        out = _call(name, fn, args, grad=True)
        if not (isinstance(out[0], Tensor) and out[0].requires_grad):
            raise CheckFailed(f"my_{name} gives the right values, but the total is cut off from its inputs: do not "
                              "use .item(), .detach() or torch.tensor(...) on intermediate results")


CHECKS = {name: globals()[f"check_{name}"] for name in EXERCISES}
__all__ = ["CHECKS", "CheckFailed", "EXERCISES", *(f"check_{name}" for name in EXERCISES)]
