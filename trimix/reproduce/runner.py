"""Run one pretraining run of a plan and score it, reusing whatever a previous invocation finished.

Each run lives in its own folder: ``checkpoint.pt`` (``trimix.train.pretrain``) and ``scores.json``, the
cache of its scores. A finished run whose scores are cached is not touched at all; a finished run with a
missing score is loaded and only that score computed; an interrupted run resumes from its checkpoint
(``pretrain(resume=True)``). The cache is valid only for the same configuration and number of steps, and
each score is stored under a key naming its protocol and settings (``Evaluation.key``), so a change of
either computes it again. Scores are written one by one, so an interruption loses at most the one running.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from trimix.reproduce.plan import Column, Run
from trimix.reproduce.scales import DataCache
from trimix.runs import total_steps
from trimix.device import resolve_device
from trimix.train import CHECKPOINT_NAME, load_checkpoint, pretrain

SCORES_NAME = "scores.json"


@dataclass
class RunResult:
    run: Run
    scores: dict[Column, float]
    steps: int
    train_seconds: float  # pretraining wall time of all its steps, across interruptions (``train_seconds``)
    eval_seconds: float
    trained_steps: int  # steps this invocation trained (0: the checkpoint was finished already)
    evaluated: int  # scores this invocation computed (0 and trained_steps 0: everything was reused)


def train_seconds(history: dict[str, list[float]], batch_size: int) -> float:
    """Wall time of the steps in a run's history: each record covers its steps at its ``images_per_s``.

    Read from the checkpoint's own history, so a run interrupted and resumed counts each kept step once,
    and a reused run reports the time it took when it ran. Data loading and evaluation are not included.
    """
    steps, speeds = history.get("step", []), history.get("images_per_s", [])
    seconds, before = 0.0, 0.0
    for step, speed in zip(steps, speeds):
        seconds += (step - before) * batch_size / speed
        before = step
    return seconds


def _read_cache(run: Run, steps: int) -> dict:
    """The run's cached scores when they belong to this configuration and step count, else an empty cache."""
    path = run.folder / SCORES_NAME
    empty = {"evaluations": {}}
    if not path.exists():
        return empty
    try:
        cache = json.loads(path.read_text())
    except json.JSONDecodeError:  # a torn write cannot happen (atomic), but a hand edit can
        return empty
    if cache.get("config") != run.config.to_dict() or cache.get("steps") != steps:
        return empty
    return cache


def _write_cache(run: Run, cache: dict) -> None:
    """Atomically, as the checkpoints: a temporary file, then a rename."""
    path = run.folder / SCORES_NAME
    path.parent.mkdir(parents=True, exist_ok=True)  # the random encoder's run writes no checkpoint there
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(cache, indent=1))
    os.replace(tmp, path)


def execute(run: Run, data: DataCache, progress: bool = True) -> RunResult:
    """Pretrain ``run`` (or reuse it) and compute its scores (or reuse them)."""
    train = data(run.dataset, "train")
    goal = total_steps(run.config, len(train))
    cache = _read_cache(run, goal)
    missing = [e for e in run.evaluations if e.key not in cache["evaluations"]]
    trained = 0
    if missing or "train_seconds" not in cache:
        checkpoint = run.folder / CHECKPOINT_NAME
        done = load_checkpoint(checkpoint)["step"] if checkpoint.exists() else 0
        result = pretrain(run.config, data=train, resume=True, progress=progress and done < goal)
        trained = result.steps - done
        cache = {"config": run.config.to_dict(), "steps": result.steps,
                 "train_seconds": round(train_seconds(result.history, run.config.batch_size), 2),
                 "evaluations": cache["evaluations"] if result.steps == goal else {}}
        device = resolve_device(run.config.device)
        for evaluation in missing:
            start = time.perf_counter()
            values = evaluation.score(result.method.net, train.image_size, data, device)
            cache["evaluations"][evaluation.key] = {
                "columns": evaluation.columns(run.dataset), "values": values,
                "seconds": round(time.perf_counter() - start, 2)}
            _write_cache(run, cache)
        _write_cache(run, cache)
    scores, eval_seconds = {}, 0.0
    for evaluation in run.evaluations:
        entry = cache["evaluations"][evaluation.key]
        scores.update({tuple(c): v for c, v in zip(entry["columns"], entry["values"])})
        eval_seconds += entry["seconds"]
    return RunResult(run, scores, cache["steps"], cache["train_seconds"], eval_seconds, trained, len(missing))


def pretrain_command(config) -> str | None:
    """The ``python -m trimix pretrain`` command that trains exactly this run (``--no-eval``: the
    reproduction scores it itself); None when its data has no command-line name (the offline stand-in)
    or it trains nothing (the random-encoder row: ``evaluate --random-baseline`` scores that network)."""
    import shlex

    from trimix.__main__ import PRETRAIN_OPTIONS
    from trimix.config import Config, quick_config
    from trimix.reproduce.scales import STAND_IN

    if config.dataset == STAND_IN or config.max_steps == 0:
        return None
    defaults = quick_config() if config.quick else Config()
    always = ("method", "dataset", "seed", "out_dir")
    args = ["python -m trimix pretrain"] + (["--quick"] if config.quick else [])
    for name in PRETRAIN_OPTIONS:
        value = getattr(config, name)
        if name in always or value != getattr(defaults, name):
            args += ["--" + name.replace("_", "-"), shlex.quote(str(value))]
    return " ".join(args + ["--no-eval"])


def evaluate_command(run: Run) -> str | None:
    """The ``python -m trimix evaluate`` command that computes the same scores from the run's checkpoint
    (evaluation seed 0, as here); None when a dataset involved has no command-line name, or for the
    random-encoder row, which has no checkpoint."""
    from trimix.reproduce.scales import STAND_IN

    if STAND_IN in {run.dataset, *(e.dataset for e in run.evaluations)} or run.config.max_steps == 0:
        return None
    kinds = {e.kind for e in run.evaluations}
    epochs = run.evaluations[0].epochs
    args = ["python -m trimix evaluate", str(run.folder)]
    if kinds == {"frozen"}:
        args += ["--protocols knn linear", f"--linear-epochs {epochs}"]
    elif kinds == {"semi"}:
        fractions = " ".join(f"{e.fraction:g}" for e in run.evaluations)
        args += ["--protocols semi", f"--fractions {fractions}", f"--finetune-epochs {epochs}"]
    else:  # transfer; evaluate also prints a kNN score on the source, which the table does not use
        args += ["--protocols knn --transfer", *(e.dataset for e in run.evaluations), f"--linear-epochs {epochs}"]
    if run.config.root != "data":
        args += ["--root", run.config.root]
    return " ".join(args + ["--device", run.config.device])


def projected_seconds(plans, data: DataCache) -> tuple[float, str]:
    """Projected pretraining seconds of every unfinished step of ``plans``, and how it was projected.

    TriMix, the slowest method (three forward passes), is timed for a step on each dataset
    (``runs.estimate_pretrain_time``); each run's remaining steps x batch size x that time per image.
    """
    from trimix.runs import describe_estimate, estimate_pretrain_time

    per_image, described, total = {}, [], 0.0
    for plan in plans:
        for run in plan.runs:
            train = data(run.dataset, "train")
            if run.dataset not in per_image:
                print(f"timing a TriMix step on {run.dataset} ...", flush=True)
                timed = run.config.replace(method="trimix", max_steps=None)
                estimate = estimate_pretrain_time(timed, train, steps=1, warmup=1)
                per_image[run.dataset] = estimate["seconds_per_step"] / timed.batch_size
                described.append(f"{run.dataset}: {describe_estimate(estimate)} per TriMix run")
            checkpoint = run.folder / CHECKPOINT_NAME
            done = load_checkpoint(checkpoint)["step"] if checkpoint.exists() else 0
            total += max(0, total_steps(run.config, len(train)) - done) * run.config.batch_size * per_image[run.dataset]
    return total, "TriMix timed on one step per dataset, " + "; ".join(described)
