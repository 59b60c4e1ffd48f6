"""Reusing a finished pretraining run and estimating how long a run takes (notebooks 05-08).

    method, history = load_or_pretrain(config)            # notebook 05's run, loaded again by 06-08
    print(describe_estimate(estimate_pretrain_time(config, data)))
"""
from __future__ import annotations

from pathlib import Path

from trimix.config import QUICK_OVERRIDES, Config
from trimix.data import ImageData, load_dataset
from trimix.train import CHECKPOINT_NAME, load_checkpoint, pretrain, time_steps

QUICK_PRETRAIN_STEPS = QUICK_OVERRIDES["max_steps"]  # notebook 05 in quick mode: the main job's run (docs/results.md)


def pretrain_run_config(config: Config, quick_steps: int = QUICK_PRETRAIN_STEPS) -> Config:
    """The configuration of notebook 05's run; 06-08 call this too, so they find its checkpoint.

    Paper mode: ``config`` for 200 epochs, the dataset downloaded when missing, saved in ``runs/notebook05``.
    Quick mode: stopped after ``quick_steps`` steps, saved in ``runs/notebook05-quick`` (a separate folder:
    the two cannot be mixed).
    """
    if config.quick:
        return config.replace(max_steps=quick_steps, out_dir="runs/notebook05-quick")
    return config.replace(download=True, out_dir="runs/notebook05")


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
        data = load_dataset(config.dataset, "train", root=config.root, download=config.download)
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


def estimate_pretrain_time(config: Config, data: ImageData, steps: int = 5, warmup: int = 2) -> dict:
    """Time a few training steps (``trimix.train.time_steps``) and project the whole run.

    Returns: seconds_per_step, images_per_second, steps_per_epoch, total_steps (with ``max_steps``),
    epochs (as run, may be fractional) and total_seconds = seconds_per_step * total_steps.
    """
    per_epoch = len(data) // config.batch_size
    if per_epoch == 0:
        raise ValueError(f"batch_size {config.batch_size} is larger than the dataset ({len(data)} images)")
    seconds = time_steps(config, data, steps=steps, warmup=warmup)
    steps_total = total_steps(config, len(data))
    return {"seconds_per_step": seconds, "images_per_second": config.batch_size / seconds,
            "steps_per_epoch": per_epoch, "total_steps": steps_total, "epochs": steps_total / per_epoch,
            "total_seconds": seconds * steps_total}


def describe_estimate(estimate: dict) -> str:
    """One line: '0.31 s/step (206 images/s) x 150 steps (1.9 epochs of 78 steps) = about 46.5 s'."""
    e = estimate
    return (f"{e['seconds_per_step']:.3g} s/step ({e['images_per_second']:.0f} images/s) x {e['total_steps']} steps "
            f"({e['epochs']:.3g} epochs of {e['steps_per_epoch']} steps) = about {format_duration(e['total_seconds'])}")
