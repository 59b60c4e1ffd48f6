"""Checks of the exercises on a pretraining run (notebook 05): projecting a run's time from timed steps, and
reading the weighted loss parts (eq 11) out of a run's history.

Both exercises take plain Python numbers and lists, as ``trimix.train`` logs them, so each check builds its
own random inputs: it never needs a trained network, and runs in a fraction of a second.
"""
from __future__ import annotations

import math
import random
import statistics
from typing import Any, Callable

from trimix.checks._core import CheckFailed, call_student, student_facing

PARTS = ("bt", "vrt", "con")


def _number(got: Any) -> float | None:
    """``got`` as a float when it is one real number (a Python number or a 0-d tensor), else None."""
    if isinstance(got, bool):
        return None
    try:
        value = float(got)
    except (TypeError, ValueError, RuntimeError):
        return None
    return value if math.isfinite(value) else None


def _close(a: float | None, b: float, rel: float = 1e-6) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def projected_seconds(step_seconds: list[float], warmup: int, total_steps: int) -> float:
    """What ``trimix.runs.estimate_pretrain_time`` does with ``trimix.train.time_steps``: the mean time of the
    steps after the first ``warmup`` ones, times the number of steps of the run."""
    # One statement, so the grader's review never takes a student's natural two-line answer for a copy of it.
    return statistics.fmean(step_seconds[warmup:]) * total_steps


@student_facing
def check_projected_seconds(fn: Callable) -> None:
    """``my_projected_seconds(step_seconds, warmup, total_steps)``: mean of the timed steps x total steps."""
    rng = random.Random(5)
    cases = []
    for n, warmup, total in [(7, 2, 300), (10, 3, 39_000), (5, 1, 150), (6, 0, 78)]:
        slow = [rng.uniform(3.0, 6.0) for _ in range(warmup)]  # warm-up steps: allocations, first calls
        steady = [rng.uniform(0.2, 0.4) for _ in range(n - warmup)]
        cases.append({"step_seconds": slow + steady, "warmup": warmup, "total_steps": total})
    for args in cases:
        times, warmup, total = args["step_seconds"], args["warmup"], args["total_steps"]
        where = f"my_projected_seconds is wrong on {len(times)} step times, warmup={warmup}, total_steps={total}"
        got = call_student("projected_seconds", fn, {k: list(v) if isinstance(v, list) else v
                                                     for k, v in args.items()})
        value, want = _number(got), projected_seconds(times, warmup, total)
        if got is None:
            raise CheckFailed(f"{where}: it returned None: did you forget the `return` statement?")
        if value is None:
            raise CheckFailed(f"{where}: it returned a {type(got).__name__}; return one number, the projected "
                              "seconds of the whole run")
        if _close(value, want):
            continue
        timed = times[warmup:]
        mistakes = [
            ("it counts the warm-up steps: drop the first `warmup` times (step_seconds[warmup:]), which are slow "
             "for reasons a long run does not repeat", statistics.mean(times) * total),
            ("it drops the last steps instead of the first: the warm-up steps are the first ones, "
             "step_seconds[warmup:]", statistics.mean(times[:len(times) - warmup]) * total),
            ("it divides the timed steps' sum by the number of all the steps: divide by the number of timed "
             "steps, len(step_seconds) - warmup", sum(timed) / len(times) * total),
            ("it takes the median of the timed steps: take their mean (the run's time is a sum of steps)",
             statistics.median(timed) * total),
            ("it takes the fastest timed step: take their mean", min(timed) * total),
            ("it returns the seconds per step: multiply by total_steps", statistics.mean(timed)),
            ("it returns minutes: the answer is in seconds", statistics.mean(timed) * total / 60),
            ("it returns the timed steps' sum: divide by their number to get the seconds per step, then "
             "multiply by total_steps", sum(timed) * total),
        ]
        for message, wrong in mistakes:
            if _close(value, wrong) and not _close(wrong, want):
                raise CheckFailed(f"{where}: {message}")
        raise CheckFailed(f"{where}: it returned {value:.6g}, expected {want:.6g}. Mean seconds of the steps after "
                          "the warm-up, times total_steps.")


def weighted_parts(history: dict, beta: float, gamma: float) -> dict[str, float]:
    """The last logged L_BT, beta * L_vrt and gamma * L_con (eq 11)."""
    return {"bt": history["bt"][-1], "vrt": beta * history["vrt"][-1], "con": gamma * history["con"][-1]}


class _History(dict):
    """A history dict that prints short, so that a failure message names it without listing every value."""

    def __repr__(self) -> str:
        return f"<a history of {len(self['step'])} logged points>"

    __str__ = __repr__


def _history(rng: random.Random, points: int, beta: float, gamma: float) -> _History:
    """A history as ``trimix.train.pretrain`` logs it: step, total and each part, one float per logged point."""
    h = _History({"step": [], "total": [], "bt": [], "vrt": [], "con": [], "images_per_s": []})
    for i in range(points):
        bt, vrt, con = rng.uniform(5, 60), rng.uniform(0.02, 0.04), rng.uniform(0.2, 1.2)
        for key, value in zip(("step", "bt", "vrt", "con", "images_per_s"), (5.0 * (i + 1), bt, vrt, con, 200.0)):
            h[key].append(value)
        h["total"].append(bt + beta * vrt + gamma * con)
    return h


@student_facing
def check_weighted_parts(fn: Callable) -> None:
    """``my_weighted_parts(history, beta, gamma)``: {"bt", "vrt", "con"} of the last point, as the total adds them."""
    rng = random.Random(7)
    for points, beta, gamma in [(6, 1000.0, 200.0), (4, 300.0, 50.0), (1, 10.0, 2.0)]:
        history = _history(rng, points, beta, gamma)
        where = f"my_weighted_parts is wrong on a history of {points} logged points; beta={beta:g}, gamma={gamma:g}"
        try:
            got = call_student("weighted_parts", fn, {"history": _History({k: list(v) for k, v in history.items()}),
                                                     "beta": beta, "gamma": gamma})
        except CheckFailed as failure:
            if "can't multiply sequence" not in str(failure):
                raise
            raise CheckFailed(f"{failure}: each history[key] is the list of every logged value; take the last "
                              "one, history[key][-1], before weighting it") from None
        if not isinstance(got, dict) or set(got) != set(PARTS):
            found = sorted(got) if isinstance(got, dict) else type(got).__name__
            raise CheckFailed(f"{where}: return a dict with exactly the keys 'bt', 'vrt' and 'con', got {found}")
        want = weighted_parts(history, beta, gamma)
        values = {k: _number(got[k]) for k in PARTS}
        for key in PARTS:
            if values[key] is None:
                what = type(got[key]).__name__
                raise CheckFailed(f"{where}: parts['{key}'] is a {what}, not one number: history['{key}'] is the "
                                  f"list of every logged value; take the last one, history['{key}'][-1]")
        if all(_close(values[k], want[k]) for k in PARTS):
            continue
        last = {k: history[k][-1] for k in PARTS}
        total = history["total"][-1]
        mistakes = [
            ("the parts are not weighted: eq 11 multiplies L_vrt by beta and L_con by gamma before adding them",
             last),
            ("beta and gamma are swapped: beta weighs L_vrt, gamma weighs L_con (eq 11)",
             {"bt": last["bt"], "vrt": gamma * last["vrt"], "con": beta * last["con"]}),
            ("it reads the first logged point: the last one is history[key][-1]",
             weighted_parts({k: v[:1] for k, v in history.items()}, beta, gamma)),
            ("it averages over the whole run: take the last logged point, history[key][-1]",
             {k: statistics.mean(history[k]) * w for k, w in zip(PARTS, (1.0, beta, gamma))}),
            ("parts['bt'] holds the logged total: L_BT is history['bt'][-1], and each part must be its own "
             "term, not a number that makes the sum come out right", {"bt": total, "vrt": 0.0, "con": 0.0}),
        ]
        for message, wrong in mistakes:
            if all(_close(values[k], wrong[k]) for k in PARTS) and not all(_close(wrong[k], want[k]) for k in PARTS):
                raise CheckFailed(f"{where}: {message}")
        bad = next(k for k in PARTS if not _close(values[k], want[k]))
        if bad == "bt" and _close(values["bt"], total):
            raise CheckFailed(f"{where}: parts['bt'] is the logged total: L_BT alone is history['bt'][-1]")
        weight = {"bt": "no weight", "vrt": "beta", "con": "gamma"}[bad]
        raise CheckFailed(f"{where}: parts['{bad}'] is {values[bad]:.6g}, expected {want[bad]:.6g}: the last "
                          f"logged L_{bad} times {weight} (eq 11). The three parts must add up to the logged "
                          "total, and each must be its own term.")
