"""Checkpoints of ``pretrain``: written atomically, read with errors that say what is wrong, resumed exactly.

A checkpoint (``<out_dir>/checkpoint.pt``) holds the method (network, and BYOL's target), the optimizer,
the gradient scaler (fp16 only), the history, the configuration, the step, the epoch's data order, the
random states of every process and the device type it was written on. ``pretrain`` writes one every
``checkpoint_every`` epochs, every ``checkpoint_minutes`` minutes (``CheckpointTimer``: a Colab session can
end at any time) and at the end.

Where a resumed run is bit-identical to an uninterrupted one: on the CPU, and on a GPU with
``Config.deterministic`` (``--deterministic``). A default GPU run autotunes cuDNN and uses kernels whose
sums run in a varying order, so two GPU runs, resumed or not, agree only to float rounding. A checkpoint
also moves between device types (written on a GPU, resumed on a CPU, or the reverse): weights, optimiser,
data order and lambda carry over, but a CPU generator's state does not fit a CUDA generator, so the
augmentations continue from a new stream, with a one-line ``ResumeWarning``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from torch import nn

from trimix import distributed
from trimix.config import Config, must_match_fields

CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or does not fit the configuration."""


class ResumeWarning(UserWarning):
    """A run resumes, but will not be bit-identical to an uninterrupted one (the message says why)."""


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by ``pretrain``, with an error that says what is wrong."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}; run `python -m trimix pretrain` first or fix the path")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated or not a torch file
        raise CheckpointError(f"checkpoint {path} is corrupt or not a trimix checkpoint ({e}); delete it and pretrain again") from e
    if not isinstance(state, dict) or not {"model", "config", "history"} <= set(state):
        raise CheckpointError(f"{path} is not a trimix checkpoint (missing model/config/history)")
    return state


def check_resumable(state: dict, config: Config, world_size: int, path: Path) -> None:
    """Refuse to resume ``state`` under a ``config`` (or a number of processes) that changes the run: every
    field of ``must_match_fields()`` must agree (epochs, max_steps, logging, precision may change)."""
    saved, defaults = state["config"], Config()  # a field newer than the checkpoint was at its default there
    for name in must_match_fields():
        was = saved.get(name, getattr(defaults, name))
        if was != getattr(config, name):
            raise CheckpointError(
                f"{path} was made with {name}={was!r} but this run has {name}={getattr(config, name)!r}; "
                "use another out_dir (--out-dir) or start afresh (--no-resume)"
            )
    if state.get("world_size", 1) != world_size:
        raise CheckpointError(
            f"{path} was made by {state.get('world_size', 1)} process(es) but this run has {world_size}; "
            "resume with the same torchrun --nproc_per_node, or use another --out-dir"
        )


def get_random_states(method: nn.Module, generators: dict[str, torch.Generator], device: torch.device) -> dict:
    """This process's random states: torch's global ones, the data ``generators`` and TriMix's lambda."""
    states = {"torch": torch.get_rng_state(), **{name: g.get_state() for name, g in generators.items()}}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    if getattr(method, "generator", None) is not None:
        states["lambda"] = method.generator.get_state()
    return states


def set_random_states(states: dict, method: nn.Module, generators: dict[str, torch.Generator],
                      device: torch.device) -> bool:
    """Restore what ``get_random_states`` saved. Returns False when the data generators' states came from
    another device type (a CPU generator's state does not fit a CUDA generator, nor the reverse): those
    generators are then left as they are, and the caller re-seeds them (``train._resume``)."""
    torch.set_rng_state(states["torch"].cpu())
    portable = True
    for name, g in generators.items():
        saved = states[name].cpu()
        if saved.numel() == g.get_state().numel():
            g.set_state(saved)
        else:
            portable = False
    if "cuda" in states and device.type == "cuda":
        torch.cuda.set_rng_state(states["cuda"].cpu(), device)
    if "lambda" in states and getattr(method, "generator", None) is not None:
        method.generator.set_state(states["lambda"].cpu())  # a CPU generator on every device
    return portable


def now() -> float:
    """The clock of ``CheckpointTimer`` (seconds; tests replace it)."""
    return time.monotonic()


class CheckpointTimer:
    """Says when ``minutes`` have passed since the last checkpoint (``minutes <= 0``: never).

    ``pretrain`` asks only at its log flush, the step's one host sync, so asking adds none. With several
    processes each clock differs a little, and writing a checkpoint is a collective (``_save`` gathers
    every process's random states), so the processes agree: one is due, all are (``any_process``).
    """

    def __init__(self, minutes: float, procs: distributed.Processes):
        self.seconds, self.procs = 60.0 * minutes, procs
        self.restart()

    def restart(self) -> None:
        """A checkpoint was just written: count from now."""
        self.last = now()

    def due(self) -> bool:
        """Has the time come? Call it on every process at the same step."""
        if self.seconds <= 0:
            return False
        return distributed.any_process(now() - self.last >= self.seconds, self.procs)
