"""Reusing a finished pretraining run, projecting how long a run takes, and asking before a long one.

    run_config = pretrain_run_config(config, RUN)          # notebook 05's run; 06-08 find it again
    method, history = load_or_pretrain(run_config)         # loaded, resumed, or trained
    print(describe_estimate(estimate_pretrain_time(config, data)))

Before a run of more than an hour starts (``LONG_RUN_SECONDS``) the kit says so and asks: the CLI's
``pretrain`` with a y/N question (``python -m trimix pretrain``, see ``project_run``), the notebooks with
the variable ``RUN`` that ``pretrain_run_config`` reads (``ChooseRun``): the quick run, a short run of
the paper's configuration, or the full one, each with its projected time.
"""
from __future__ import annotations

from pathlib import Path

import torch

from trimix.checkpoint import check_resumable
from trimix.config import QUICK_OVERRIDES, Config, quick_config
from trimix.data import load_dataset, pretrain_split
from trimix.imagedata import ImageData
from trimix.train import CHECKPOINT_NAME, load_checkpoint, pretrain, time_steps

QUICK_PRETRAIN_STEPS = QUICK_OVERRIDES["max_steps"]  # notebook 05 in quick mode: the main job's run (docs/results.md)
LONG_RUN_SECONDS = 3600  # a run longer than this is not started without asking
SHORT_EPOCHS = 20  # notebook 05's "short" run: a tenth of the paper's 200 epochs
RUN_DIRS = {"full": "runs/notebook05", "short": "runs/notebook05-short", "quick": "runs/notebook05-quick"}
# Timing on a CPU at the paper's batch would cost minutes (one step of ResNet-18 at batch 256 took ~50 s on
# this project's 2-core machine), so the CPU is timed at this batch and the time scaled linearly to the
# run's batch: the network's work per image does not depend on the batch, and the losses' B x B and D x D
# products are small beside it; a small batch uses the cores less well, so the projection errs long.
CPU_TIMING_BATCH = 16


class ChooseRun(Exception):
    """A long run would start: the message says so and how to choose. IPython shows the message alone
    (``_render_traceback_``), not a traceback: it is a question for the student, not a crash."""

    def _render_traceback_(self) -> list[str]:
        return str(self).splitlines()


def run_choices(config: Config, quick_steps: int = QUICK_PRETRAIN_STEPS) -> dict[str, Config]:
    """Notebook 05's three runs of ``config`` (a paper-mode one), each in its own folder of ``RUN_DIRS``.

    quick: quick mode's run (a narrow network, ``quick_steps`` steps on the built-in data); short:
    the paper's configuration for ``SHORT_EPOCHS`` epochs; full: the paper's 200 epochs.
    """
    keep = {k: getattr(config, k) for k in ("method", "seed", "device", "root", "checkpoint_minutes")}
    return {"quick": quick_config(**keep, max_steps=quick_steps, out_dir=RUN_DIRS["quick"]),
            "short": config.replace(epochs=SHORT_EPOCHS, download=True, out_dir=RUN_DIRS["short"]),
            "full": config.replace(download=True, out_dir=RUN_DIRS["full"])}


def pretrain_run_config(config: Config, run: str | None = None, quick_steps: int = QUICK_PRETRAIN_STEPS,
                        data: ImageData | None = None) -> Config:
    """The configuration of notebook 05's run; 06-08 call this too, so they find its checkpoint.

    Quick mode (no GPU, or ``TRIMIX_QUICK=1``): stopped after ``quick_steps`` steps, saved in
    ``runs/notebook05-quick``; never asks. Paper mode: ``run`` ("quick", "short" or "full", see
    ``run_choices``) picks the run. When it is None, the first run that has a checkpoint (full, short,
    quick: an unfinished one is resumed by ``load_or_pretrain``); with none, the full run when its
    projected time (``project_run``, timed on ``data`` or the downloaded dataset) is at most an hour,
    else ``ChooseRun``: one sentence, and the three choices with their projected times.
    """
    if config.quick:
        if run not in (None, "quick"):
            print(f"quick mode (no GPU, or TRIMIX_QUICK=1): RUN = {run!r} is ignored, this is the quick run")
        return config.replace(max_steps=quick_steps, out_dir=RUN_DIRS["quick"])
    choices = run_choices(config, quick_steps)
    if run is not None:
        if run not in choices:
            raise ValueError(f"RUN must be one of {', '.join(map(repr, choices))} or None, got {run!r}")
        return choices[run]
    for name in ("full", "short", "quick"):
        if (Path(RUN_DIRS[name]) / CHECKPOINT_NAME).exists():
            if name != "full":
                print(f"using notebook 05's {name} run in {RUN_DIRS[name]} (set RUN = \"full\" for the paper's)")
            return choices[name]
    full = choices["full"]
    if data is None:
        data = load_dataset(full.dataset, pretrain_split(full.dataset), root=full.root, download=full.download)
    estimate = project_run(full, data)
    if estimate["remaining_seconds"] <= LONG_RUN_SECONDS:
        print(f"no run of notebook 05 in {RUN_DIRS['full']} yet: the full run, projected "
              f"{describe_estimate(estimate)}")
        return full
    per_epoch = estimate["seconds_per_step"] * estimate["steps_per_epoch"]
    raise ChooseRun(
        f"Notebook 05's run is not in {Path(RUN_DIRS['full']).resolve()} yet, and the full run would take about "
        f"{format_duration(estimate['remaining_seconds'])} here ({estimate['device']}). Set RUN at the top of "
        "this cell to one of these and run the cell again:\n"
        f'  RUN = "quick"   quick mode: {quick_steps} steps of a narrow network on the built-in data, a few '
        "minutes (illustrations, not the paper's numbers)\n"
        f'  RUN = "short"   {SHORT_EPOCHS} epochs of the paper\'s configuration: about '
        f"{format_duration(per_epoch * SHORT_EPOCHS)}\n"
        f'  RUN = "full"    the paper\'s {full.epochs} epochs: about {format_duration(estimate["remaining_seconds"])}, '
        f"with a checkpoint every {full.checkpoint_minutes:g} min: after a disconnect, run the cell again to resume")


def total_steps(config: Config, num_images: int) -> int:
    """Steps ``pretrain`` runs: full batches per epoch x epochs, capped by ``max_steps``."""
    steps = (num_images // config.batch_size) * config.epochs
    return steps if config.max_steps is None else min(steps, config.max_steps)


def load_or_pretrain(config: Config, data: ImageData | None = None, progress: bool = True):
    """``(method, history)`` of the run in ``config.out_dir``: loaded when it is finished, else trained.

    An unfinished checkpoint (an interrupted run) is resumed from where it stopped; no checkpoint means a
    fresh run. Either way this is ``trimix.train.pretrain(config, resume=True)``, which does no step at all
    when the checkpoint already holds every step. A checkpoint made with another configuration is refused
    (``CheckpointError``) rather than silently mixed in.
    """
    if data is None:
        data = load_dataset(config.dataset, pretrain_split(config.dataset), root=config.root, download=config.download)
    path, goal = Path(config.out_dir) / CHECKPOINT_NAME, total_steps(config, len(data))
    done = load_checkpoint(path)["step"] if path.exists() else 0
    if progress:
        print(f"loading the finished run in {path} ({done} steps)" if done >= goal else
              f"resuming {path} at step {done} of {goal}" if done else f"pretraining {goal} steps into {path}")
    result = pretrain(config, data=data, resume=True, progress=progress and done < goal)
    return result.method, result.history


def format_duration(seconds: float) -> str:
    """3725 -> '1 h 2 min', 75 -> '1 min 15 s', 4.2 -> '4.2 s'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, s = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {s} s"


def estimate_pretrain_time(config: Config, data: ImageData, steps: int = 5, warmup: int = 2,
                           done_steps: int = 0, timing_batch: int | None = None) -> dict:
    """Time a few training steps (``trimix.train.time_steps``) and project the whole run.

    ``timing_batch``: time at this batch instead (when smaller) and scale linearly to ``config.batch_size``
    (see ``CPU_TIMING_BATCH``). ``done_steps``: steps a checkpoint already holds. The timing leaves torch's
    random state as it found it, so it does not change the run that follows.

    Returns: seconds_per_step, images_per_second, steps_per_epoch, total_steps (with ``max_steps``),
    epochs (as run, may be fractional), total_seconds = seconds_per_step * total_steps, remaining_steps and
    remaining_seconds (after ``done_steps``), timed_batch and device (e.g. "cpu, timed at batch 16").
    """
    per_epoch = len(data) // config.batch_size
    if per_epoch == 0:
        raise ValueError(f"batch_size {config.batch_size} is larger than the dataset ({len(data)} images)")
    timed = config
    if timing_batch is not None and timing_batch < config.batch_size:
        timed = config.replace(batch_size=timing_batch)
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
        seconds = time_steps(timed, data, steps=steps, warmup=warmup) * config.batch_size / timed.batch_size
    steps_total = total_steps(config, len(data))
    left = max(steps_total - done_steps, 0)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and config.device != "cpu" else "cpu"
    if timed is not config:
        device += f", timed at batch {timed.batch_size} and scaled to {config.batch_size}"
    return {"seconds_per_step": seconds, "images_per_second": config.batch_size / seconds,
            "steps_per_epoch": per_epoch, "total_steps": steps_total, "epochs": steps_total / per_epoch,
            "total_seconds": seconds * steps_total, "remaining_steps": left, "remaining_seconds": seconds * left,
            "timed_batch": timed.batch_size, "device": device}


def project_run(config: Config, data: ImageData, done_steps: int = 0) -> dict:
    """``estimate_pretrain_time``, cheap enough to run before every long run: on a GPU 5 steps at the run's
    batch (after 2 warm-up steps), on a CPU 2 steps at ``CPU_TIMING_BATCH`` (after 1), scaled."""
    on_gpu = torch.cuda.is_available() and config.device != "cpu"
    if on_gpu:
        return estimate_pretrain_time(config, data, steps=5, warmup=2, done_steps=done_steps)
    return estimate_pretrain_time(config, data, steps=2, warmup=1, done_steps=done_steps,
                                  timing_batch=CPU_TIMING_BATCH)


def steps_done(config: Config) -> int:
    """Steps the checkpoint in ``config.out_dir`` holds (0 without one); ``CheckpointError`` when it was made
    with another configuration, so that a run that would be refused is refused before it is timed."""
    path = Path(config.out_dir) / CHECKPOINT_NAME
    if not path.exists():
        return 0
    state = load_checkpoint(path)
    check_resumable(state, config, 1, path)
    return int(state["step"])


def long_run_message(config: Config, estimate: dict) -> str:
    """What the CLI prints before a run longer than ``LONG_RUN_SECONDS``: the projection and the alternatives."""
    e = estimate
    per_epoch = e["seconds_per_step"] * e["steps_per_epoch"]
    fit = int(LONG_RUN_SECONDS // per_epoch)
    fewer = (f"--epochs {fit} takes about {format_duration(fit * per_epoch)}" if fit >= 1 else
             f"even one epoch takes about {format_duration(per_epoch)}; --max-steps N stops after N steps")
    return (f"This run would take about {format_duration(e['remaining_seconds'])}: {e['remaining_steps']} steps "
            f"left at {e['seconds_per_step']:.3g} s/step ({e['device']}).\n"
            "Alternatives:\n"
            "  --quick        the CPU-sized run on the built-in data (a few minutes on a laptop)\n"
            "  a GPU          the same command on a GPU (Colab's free T4, or the notebooks there)\n"
            f"  fewer epochs   {fewer}")


def confirm_long_run(estimate: dict, go: bool, runs: int = 1, shorter: str = "lower max_steps") -> None:
    """A notebook cell's guard before it trains: ``ChooseRun`` when ``runs`` runs of ``estimate``'s
    remaining steps would take more than ``LONG_RUN_SECONDS`` and the student has not set ``GO = True``.

    ``shorter`` says what else the student can do (it ends the message). Quick mode's runs never get here.
    """
    seconds = runs * estimate.get("remaining_seconds", estimate["total_seconds"])
    if go or seconds <= LONG_RUN_SECONDS:
        return
    what = f"{runs} runs of" if runs > 1 else "a run of"
    raise ChooseRun(
        f"This cell would train for about {format_duration(seconds)} here ({what} "
        f"{estimate.get('remaining_steps', estimate['total_steps'])} steps at {estimate['seconds_per_step']:.3g} "
        f"s/step, {estimate['device']}). To start it, set GO = True at the top of this cell and run it again; "
        f"or {shorter}.")


def describe_estimate(estimate: dict) -> str:
    """One line: '0.31 s/step (206 images/s) x 150 steps (1.9 epochs of 78 steps) = about 46.5 s'."""
    e = estimate
    left = e.get("remaining_steps", e["total_steps"])
    tail = "" if left == e["total_steps"] else f"; {left} steps left: about {format_duration(e['remaining_seconds'])}"
    return (f"{e['seconds_per_step']:.3g} s/step ({e['images_per_second']:.0f} images/s) x {e['total_steps']} steps "
            f"({e['epochs']:.3g} epochs of {e['steps_per_epoch']} steps) = about {format_duration(e['total_seconds'])}"
            + tail)
