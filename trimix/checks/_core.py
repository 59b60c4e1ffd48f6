"""What every exercise check shares: calling the student's function safely, comparing with the kit's answer,
and naming the mistake.

A check (one per exercise, in the modules beside this one) calls the student's function on random inputs of
several shapes (even and odd batches), compares the result with the kit's reference implementation and, when
they differ, recomputes the mistakes students commonly make (biased std, a transpose, softmax over the wrong
dim, a sum for a mean, ...) to say which one it is. It raises :class:`CheckFailed` (an ``AssertionError``)
with a message a student can act on, and returns quietly when the function is right.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
from types import CodeType
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch
from torch import Tensor

from trimix.mixing import mix_batch

ATOL = RTOL = 1e-4
Mistakes = Sequence[tuple[str, Callable[..., Any]]]


class CheckFailed(AssertionError):
    """The student's function is wrong (or not written yet); the message says what to change."""


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(gen: torch.Generator, *shape: int, scale: float = 1.0, shift: float = 0.0) -> Tensor:
    return torch.randn(shape, generator=gen) * scale + shift


def describe(args: dict) -> str:
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


class KitAnswerCalled(BaseException):
    """Raised inside the student's function where it calls one of the kit's answers. Not an ``Exception``,
    so that a bare ``except Exception`` in the student's code does not hide it (and the call is recorded)."""


_TRIPPED: list[str] = []  # the kit's answers called during the current student call


def _tripped(name: str) -> None:
    _TRIPPED.append(name)
    raise KitAnswerCalled(f"the kit's own {name} was called")


@functools.lru_cache(maxsize=None)
def _tripwire(name: str, free: int) -> CodeType:
    """Code that reports a call of the kit's ``name`` instead of computing it, with ``free`` closure cells
    (a function's ``__code__`` may only be replaced by code with as many)."""
    cells = [f"_c{i}" for i in range(free)]
    lines = ["def _outer():", *(f"    {c} = None" for c in cells), "    def _trip(*_a, **_k):",
             *(f"        {c}" for c in cells),
             f"        __import__('trimix.checks._core', fromlist=['_core'])._tripped({name!r})", "    return _trip"]
    namespace: dict = {}
    exec("\n".join(lines), namespace)
    return namespace["_outer"]().__code__


@contextlib.contextmanager
def _tripwires(forbidden: Iterable[Callable]) -> Iterator[None]:
    """While inside, every call of a ``forbidden`` function, by whatever name, thread or route (a profiler
    turned off with ``sys.setprofile(None)`` included), runs a tripwire instead: the function's code object
    itself is swapped, and put back on the way out."""
    functions = {id(f): f for f in map(inspect.unwrap, forbidden) if inspect.isfunction(f)}
    saved = [(f, f.__code__) for f in functions.values()]
    del _TRIPPED[:]
    try:
        for f, code in saved:
            f.__code__ = _tripwire(f.__name__, len(code.co_freevars))
        yield
    finally:
        for f, code in saved:
            f.__code__ = code


def call_student(name: str, fn: Callable, args: dict, forbidden: Iterable[Callable] = (), grad: bool = False) -> Any:
    """Call ``fn`` on copies of ``args``; turn what goes wrong into a :class:`CheckFailed`."""
    given = _copies(args, grad)
    error: BaseException | None = None
    with _tripwires(forbidden):
        try:
            out = fn(*given.values())
        except (Exception, KitAnswerCalled) as e:
            error = e
    if _TRIPPED:
        raise CheckFailed(f"my_{name} calls trimix's {_TRIPPED[0]}, the kit's own answer to this exercise: "
                          "write it yourself (the kit's version is only there to check yours)")
    if isinstance(error, NotImplementedError):
        raise CheckFailed(f"my_{name} is not implemented yet, or calls a function that is not: replace "
                          f"`raise NotImplementedError(...)` with your code ({error})") from None
    if error is not None:
        error.__traceback__ = error.__traceback__.tb_next  # start the student's traceback at their own code
        raise CheckFailed(f"my_{name} raised {type(error).__name__} on {describe(args)}: {error}") from error
    for key, value in args.items():
        if isinstance(value, Tensor) and not torch.equal(given[key].detach(), value):
            raise CheckFailed(f"my_{name} changed its argument {key} in place (e.g. `{key} -= ...` or a method "
                              f"ending in _ such as sub_): compute a new tensor instead ({key} = {key} - ...), "
                              "since the caller still needs the original")
    return out


def as_tensor(x: Any) -> Tensor | None:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return torch.tensor(float(x))
    return None


def close(a: Any, b: Any) -> bool:
    a, b = as_tensor(a), as_tensor(b)
    if a is None or b is None or a.shape != b.shape:
        return False
    return torch.allclose(a.detach().double(), b.detach().double(), atol=ATOL, rtol=RTOL, equal_nan=True)


def what_is_wrong(got: Any, want: Any, expect: str, number_ok: bool = False, number_only: bool = False) -> str | None:
    """What is wrong with ``got`` in general terms, or None if it matches ``want``. ``number_ok``: a Python number
    will do for a 0-d tensor; ``number_only``: the answer must be a Python number, not a tensor."""
    if got is None:
        return "it returned None: did you forget the `return` statement?"
    if number_only and isinstance(got, Tensor):
        if got.numel() != 1:
            return (f"it returned a tensor of shape {tuple(got.shape)}, but the result is a single number for the "
                    "whole batch (a Python float)")
        return (f"it returned a torch.Tensor ({got.detach().flatten()[0].item():.4g}), not a Python float: convert "
                "the result with float(...) or .item()")
    tensor = as_tensor(got)
    if tensor is None:
        return f"it returned a {type(got).__name__}; expected a torch.Tensor ({expect})"
    if not isinstance(got, Tensor) and not number_ok:
        return ("it returned a Python number: keep the result a torch.Tensor (no .item() or float()), so that "
                "the loss can be backpropagated")
    want = as_tensor(want)
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
    if not close(tensor, want):
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
        wrong_tensor = as_tensor(expected_wrong)
        if wrong_tensor is not None and not torch.isfinite(wrong_tensor).all():
            continue  # a NaN is no fingerprint: many mistakes give one
        if close(got, expected_wrong) and not close(expected_wrong, want):
            raise CheckFailed(f"my_{name} is wrong on {describe(args)}: {message}")


def run_check(name: str, fn: Callable, cases: Iterable[dict], reference: Callable, mistakes: Mistakes = (), *,
         expect: str, hint: str, forbidden: Iterable[Callable] = (), loss: bool = False,
         number_ok: bool = False, number_only: bool = False, notes: Callable[[Any, dict], str | None] | None = None) -> None:
    """The common check: every case must match ``reference``; otherwise name the mistake, or say how it differs."""
    if not callable(fn):
        raise CheckFailed(f"pass the function itself: check_{name}(my_{name}), not {type(fn).__name__}")
    for args in cases:
        got = call_student(name, fn, args, forbidden)
        want = reference(*args.values())
        problem = what_is_wrong(got, want, expect, number_ok or number_only, number_only)
        if problem:
            _diagnose(name, got, args, mistakes, want)
            note = notes(got, args) if notes else None
            message = note or problem
            stop = "" if message[-1] in "?." else "."
            raise CheckFailed(f"my_{name} is wrong on {describe(args)}: {message}{stop} {hint}")
        if loss:
            out = call_student(name, fn, args, forbidden, grad=True)
            out = out[0] if isinstance(out, tuple) else out
            if not (isinstance(out, Tensor) and out.requires_grad):
                raise CheckFailed(
                    f"my_{name} gives the right value, but it is cut off from its inputs, so no gradient can "
                    "flow back to the network: do not use .item(), .detach(), .numpy() or torch.tensor(...) "
                    "on intermediate results")


def student_facing(check: Callable) -> Callable:
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


def pair_cases(seed: int, shapes: Sequence[tuple], extra: Sequence[dict]) -> list[dict]:
    """z and a z_vrt that resembles mix_batch(z, 0.7) (so that the predicted matrix has some structure)."""
    g = seeded(seed)
    out = []
    for (b, d), more in zip(shapes, extra):
        z = randn(g, b, d, scale=2, shift=1)
        out.append({"z": z, "z_vrt": mix_batch(z, 0.7) * 0.5 + randn(g, b, d), **more})
    return out
