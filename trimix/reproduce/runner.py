"""Pretrain each distinct run of a plan (or reuse it) and compute its scores (or reuse them).

Each run lives in its own folder: ``checkpoint.pt`` (``trimix.train.pretrain``), ``run.json`` (its
configuration, the version of the training code and the git commit it was trained with) and ``scores.json``
(its scores, each under the key of its evaluation: every protocol setting and the evaluation code's version,
``plan.Evaluation.key``). Nothing stale is mixed in:

- a checkpoint trained by other training code (``run.json``'s version differs, or it has none) is refused
  with a ``StaleRunError`` that says to delete the folder and train again;
- a score whose protocol settings or evaluation code changed has another key, so it is computed again, and
  a score of a run that has since trained more steps is dropped.

A finished run whose scores are all cached is not touched; a finished run with a missing score is loaded and
only that score computed; an interrupted run resumes from its checkpoint. Files are written atomically.
"""
from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from trimix.checkpoint import CHECKPOINT_NAME, CheckpointError
from trimix.config import Config, command_options, quick_config
from trimix.data import pretrain_split
from trimix.device import resolve_device
from trimix.provenance import code_version, git_commit
from trimix.reproduce.plan import Column, Evaluation, Run
from trimix.reproduce.scales import STAND_IN, DataCache
from trimix.runs import total_steps
from trimix.train import build_method, pretrain

RUN_RECORD, SCORES_NAME = "run.json", "scores.json"


class StaleRunError(CheckpointError):
    """A run's checkpoint was made by other training code than this checkout's."""


@dataclass
class RunResult:
    run: Run
    scores: dict[str, list[float]]  # evaluation key -> values (one per column of the evaluation)
    steps: int
    train_seconds: float  # pretraining wall time of all its steps, across interruptions
    eval_seconds: dict[str, float]  # evaluation key -> seconds
    trained_steps: int  # steps this invocation trained (0: finished already, or untrained)
    evaluated: int  # scores this invocation computed
    commit: str | None  # the commit the encoder was trained with (None: untrained, or no git)

    def values(self, evaluation: Evaluation, source: str) -> dict[Column, float]:
        return dict(zip(evaluation.columns(source), self.scores[evaluation.key()]))


def train_seconds(history: dict[str, list[float]], batch_size: int) -> float:
    """Wall time of the steps in a run's history: each record covers its steps at its ``images_per_s``.

    Read from the checkpoint's own history, so a run interrupted and resumed counts each kept step once,
    and a reused run reports the time it took when it ran. Data loading and evaluation are not included.
    """
    seconds, before = 0.0, 0.0
    for step, speed in zip(history.get("step", []), history.get("images_per_s", [])):
        seconds += (step - before) * batch_size / speed
        before = step
    return seconds


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:  # a torn write cannot happen (atomic), but a hand edit can
        return {}


def write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(content, indent=1))
    os.replace(tmp, path)


def _check_fresh(run: Run, record: dict) -> None:
    """Refuse a checkpoint that this checkout's training code did not make (module docstring)."""
    if not (run.folder / CHECKPOINT_NAME).exists():
        return
    made_by, now = record.get("training_code"), code_version("training")
    if made_by != now:
        was = f"training code {made_by} (commit {record.get('commit')})" if made_by else "no record of its code"
        raise StaleRunError(f"{run.folder} holds a checkpoint from {was}, but this checkout's training code is "
                            f"{now}: its encoder is not what this code trains. Delete {run.folder} to train it "
                            "again (or run from the commit that made it).")


def execute(run: Run, evaluations: list[Evaluation], data: DataCache, progress: bool = True) -> RunResult:
    """Pretrain ``run`` (or reuse it) and compute the ``evaluations`` it lacks (or reuse them)."""
    train = data(run.dataset, pretrain_split(run.dataset)) if run.pretrained else data(run.dataset, "train")
    goal = total_steps(run.config, len(train)) if run.pretrained else 0
    record = _read(run.folder / RUN_RECORD)
    if run.pretrained:
        _check_fresh(run, record)
    cache = _read(run.folder / SCORES_NAME)
    cache = {k: v for k, v in cache.items() if v.get("steps") == goal}  # scores of a shorter run are stale
    missing = [e for e in evaluations if e.key() not in cache]
    trained, net = 0, None
    if run.pretrained and (missing or record.get("steps") != goal):
        done = record.get("steps", 0)
        write_json(run.folder / RUN_RECORD, {**record, "config": run.config.to_dict(),
                                         "training_code": code_version("training"), "commit": git_commit()})
        result = pretrain(run.config, data=train, resume=True, progress=progress and done < goal)
        trained, net = result.steps - done, result.method.net
        record = {**_read(run.folder / RUN_RECORD), "steps": result.steps,
                  "train_seconds": round(train_seconds(result.history, run.config.batch_size), 2)}
        write_json(run.folder / RUN_RECORD, record)
    elif missing:
        net = build_method(run.config, train.image_size).net  # the untrained network at its seed
    device = resolve_device(run.config.device)
    for evaluation in missing:
        start = time.perf_counter()
        values = evaluation.score(net, train.image_size, data, device)
        cache[evaluation.key()] = {"values": values, "steps": goal, "seconds": round(time.perf_counter() - start, 2),
                                   "evaluation_code": code_version("evaluation"), "commit": git_commit()}
        write_json(run.folder / SCORES_NAME, cache)
    keys = [e.key() for e in evaluations]
    return RunResult(run, {k: cache[k]["values"] for k in keys}, goal, record.get("train_seconds", 0.0),
                     {k: cache[k]["seconds"] for k in keys}, trained, len(missing), record.get("commit"))


def pretrain_command(run: Run) -> str | None:
    """The ``python -m trimix pretrain`` command that trains exactly this run (``--no-eval``: the engine scores
    it itself); None when its data has no command-line name (the offline stand-in) or it is untrained."""
    config = run.config
    if config.dataset == STAND_IN or not run.pretrained:
        return None
    base = quick_config() if config.quick else Config()
    options = command_options(config, base, always=("method", "dataset", "seed", "out_dir"))
    return " ".join(["python -m trimix pretrain", *(["--quick"] if config.quick else []),
                     *map(shlex.quote, options), "--no-eval"])


def evaluate_command(run: Run, evaluations: list[Evaluation]) -> str | None:
    """The ``python -m trimix evaluate`` command that computes the same scores from the run's checkpoint;
    None when a dataset involved has no command-line name, or for an untrained network (whose scores
    ``evaluate RUN --random-baseline`` gives beside any run RUN of the same configuration and seed)."""
    if STAND_IN in {run.dataset, *(e.dataset for e in evaluations)} or not run.pretrained:
        return None
    first = evaluations[0]
    args = ["python -m trimix evaluate", str(run.folder)]
    if first.kind == "frozen":
        args += ["--protocols knn linear", *_protocol_options("knn", first.protocols[0]),
                 *_protocol_options("linear", first.protocols[1])]
    elif first.kind == "finetune":
        args += ["--protocols finetune --fractions", *(f"{e.fraction:g}" for e in evaluations),
                 *_protocol_options("finetune", first.protocols[0])]
    else:  # transfer; evaluate also prints a kNN score on the source, which the table does not use
        args += ["--protocols knn --transfer", *(e.dataset for e in evaluations),
                 *_protocol_options("linear", first.protocols[0].probe)]
    if run.config.root != "data":
        args += ["--root", run.config.root]
    return " ".join(args + ["--device", run.config.device])


def _protocol_options(prefix: str, protocol) -> list[str]:
    """The options that give ``protocol`` where it differs from its defaults (``trimix.protocols``)."""
    default = type(protocol)()
    return [f"--{prefix}-{name.replace('_', '-')} {value}" for name, value in vars(protocol).items()
            if getattr(default, name) != value]


def planned_steps(run: Run, data: DataCache | None = None) -> int:
    """Steps ``run`` trains in all (0 when untrained), from the data when loaded, else the dataset's size."""
    from trimix.data import DATASETS

    if not run.pretrained:
        return 0
    name = run.dataset.lower()
    images = DATASETS[name].pretrain_images if name in DATASETS and data is None else None
    if images is None:
        images = len((data or DataCache(run.config.root))(run.dataset, pretrain_split(run.dataset)))
    return total_steps(run.config, images)
