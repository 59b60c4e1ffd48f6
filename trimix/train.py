"""Pretraining: ``pretrain(config)`` for any method and dataset of the registry (paper section IV-A).

One code path for CPU and GPU, for one process and for several (``torchrun``, see ``trimix.distributed``).
The whole training split sits on the device as uint8 and each batch is augmented there by
``augment.two_views`` (per-image random parameters), which on this project's 2-core machines also measured
faster than a per-sample DataLoader (``python -m trimix bench train``). On a GPU the step runs under bf16
autocast on cards with bf16 tensor cores and fp16 with a gradient scaler on older ones such as Colab's T4
(``trimix.device``), in channels_last, with the fused Adam kernel;
``config.compile`` compiles the network with ``torch.compile``.

The step never waits for the GPU: losses are kept on the device and read back every ``log_every``
steps, when they are written to the history, checked for NaN/inf and shown on the progress bar.

Checkpoints (``trimix.checkpoint``) are written atomically every ``checkpoint_every`` epochs, every
``checkpoint_minutes`` minutes (decided at a log flush) and at the end; a resumed run, even from the middle
of an epoch, ends with the same weights as an uninterrupted one, bit for bit on the CPU and on a GPU with
``config.deterministic`` (``trimix.checkpoint`` says where else it holds only to float rounding).
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from trimix import distributed
from trimix.augment import two_views
from trimix.checkpoint import (  # noqa: F401  (CHECKPOINT_NAME, save_checkpoint: imported from here too)
    CHECKPOINT_NAME,
    CheckpointError,
    CheckpointTimer,
    ResumeWarning,
    check_resumable,
    get_random_states,
    load_checkpoint,
    save_checkpoint,
    set_random_states,
)
from trimix.config import Config
from trimix.data import load_dataset, pretrain_split
from trimix.imagedata import ImageData
from trimix.device import choose_precision, configure_backends, optimizer_step, resolve_device
from trimix.distributed import Processes
from trimix.methods import SSLMethod, method_class
from trimix.models import SSLNet


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the step and the loss parts."""


@dataclass
class PretrainResult:
    method: nn.Module  # the trained method; ``method.net`` is the SSLNet, ``method.net.backbone`` the encoder
    history: dict[str, list[float]]
    checkpoint: Path
    config: Config
    steps: int = 0
    seconds: float = 0.0


def build_method(config: Config, image_size: int) -> SSLMethod:
    """The SSLNet of ``config`` wrapped in its method from the registry (seeded from ``config.seed``)."""
    torch.manual_seed(config.seed)
    net = SSLNet(image_size, config.width, config.proj_hidden, config.proj_dim, config.proj_layers)
    return method_class(config.method).from_config(net, config)


def method_from_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, Config, dict]:
    """Rebuild the trained method from a checkpoint: returns (method, config, checkpoint dict)."""
    state = load_checkpoint(path, map_location)
    config = Config().replace(**state["config"])
    method = build_method(config, state["image_size"])
    method.load_state_dict(state["model"])
    return method, config, state


def make_optimizer(method: nn.Module, config: Config, device: torch.device) -> torch.optim.Optimizer:
    """Adam with the paper's lr and weight decay; on CUDA the fused kernel (one launch for all weights)."""
    return torch.optim.Adam(method.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                            fused=device.type == "cuda")


def setup_training(config: Config, image_size: int, device: torch.device):
    """Method, optimizer, autocast dtype (None = fp32) and gradient scaler (fp16 only), on ``device``.

    The precision is ``choose_precision(device, config.precision)`` (``trimix.device``); cuDNN is set up
    for speed, or for bit-identical runs with ``config.deterministic``.
    """
    configure_backends(device, config.deterministic)
    precision = choose_precision(device, config.precision)
    method = build_method(config, image_size).to(device)
    if device.type == "cuda":
        method = method.to(memory_format=torch.channels_last)
    if config.compile:  # in place: the state_dict keeps its names, evaluation uses the plain backbone
        method.net.compile()
    opt = make_optimizer(method, config, device)
    scaler = torch.amp.GradScaler(device.type) if precision.needs_scaler else None
    return method, opt, precision.dtype, scaler


def data_generators(seed: int, rank: int, device: torch.device) -> dict[str, torch.Generator]:
    """Two generators on ``device``: "order" draws each epoch's permutation, the same on every process;
    "views" draws the augmentations, different on every process."""
    return {"order": torch.Generator(device=device).manual_seed(seed),
            "views": torch.Generator(device=device).manual_seed(seed + 1 + rank)}


def make_views(images: torch.Tensor, idx: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two augmented views of ``images[idx]``, channels_last on a GPU."""
    x1, x2 = two_views(images[idx], generator=gen)
    if images.device.type == "cuda":
        x1, x2 = (x.contiguous(memory_format=torch.channels_last) for x in (x1, x2))
    return x1, x2


def train_step(
    method: nn.Module, opt: torch.optim.Optimizer, x1: torch.Tensor, x2: torch.Tensor,
    amp: torch.dtype | None = None, scaler: torch.amp.GradScaler | None = None, progress: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One optimisation step on two views (N, 3, H, W); returns the loss and its parts, still on the device.

    ``method`` is an ``SSLMethod``, or DDP around one (``distributed.wrap``); calling it runs its ``loss``.
    ``progress`` (steps done before this one / steps of the whole run) goes to ``method.after_step``, the
    hook for state the optimiser does not update (BYOL's momentum target).
    """
    with torch.autocast(x1.device.type, dtype=amp) if amp is not None else contextlib.nullcontext():
        total, parts = method(x1, x2)
    optimizer_step(total, opt, scaler)
    distributed.unwrap(method).after_step(progress)
    return total.detach(), {k: v.detach() for k, v in parts.items()}


def time_steps(config: Config, data: ImageData, steps: int = 5, warmup: int = 2) -> float:
    """Seconds per training step (augmentation included) at ``config``, measured after ``warmup`` steps.

    Used to estimate how long a full run takes before starting it (``trimix.runs``).
    """
    device = resolve_device(config.device)
    method, opt, amp, scaler = setup_training(config, data.image_size, device)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    images = data.images[: config.batch_size * 4].to(device)
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        idx = torch.randint(len(images), (config.batch_size,), device=device, generator=gen)
        train_step(method, opt, *make_views(images, idx, gen), amp, scaler)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


class LossLog:
    """The loss parts of every step, kept on the device until ``flush`` writes their means to ``history``.

    ``flush`` is the loop's one host sync (every ``log_every`` steps): it averages over processes (one
    all-reduce, so every process sees a NaN at once), stops the run on NaN/inf, and appends one record:
    step, epoch, each part, lr and images_per_s (global batch).
    """

    def __init__(self, history: dict[str, list[float]], batch_size: int, steps_per_epoch: int, procs: Processes):
        self.history, self.batch_size, self.steps_per_epoch, self.procs = history, batch_size, steps_per_epoch, procs
        self.pending: list[torch.Tensor] = []  # one row per step: total and each part, still on the device
        self.names: list[str] = []
        self.tick = time.perf_counter()

    def add(self, total: torch.Tensor, parts: dict[str, torch.Tensor]) -> None:
        self.names = ["total", *parts]
        self.pending.append(torch.stack([total.float(), *(p.float() for p in parts.values())]))

    def flush(self, step: int, lr: float) -> dict[str, float] | None:
        """Write the steps up to ``step`` (the last one done) as one record and return it."""
        if not self.pending:
            return None
        rows = distributed.all_mean(torch.stack(self.pending), self.procs).tolist()
        first = step - len(rows) + 1
        for k, row in enumerate(rows):
            if not all(math.isfinite(v) for v in row):
                parts = ", ".join(f"{n}={v:.4g}" for n, v in zip(self.names, row))
                raise NonFiniteLossError(
                    f"the loss is not finite at step {first + k} ({parts}); the run stopped. "
                    "Try a lower --lr, check the data, or resume from the last checkpoint."
                )
        now = time.perf_counter()
        means = [sum(col) / len(rows) for col in zip(*rows)]
        record = {"step": step, "epoch": step / self.steps_per_epoch, **dict(zip(self.names, means)),
                  "lr": lr, "images_per_s": len(rows) * self.batch_size / (now - self.tick)}
        for key, value in record.items():
            self.history.setdefault(key, []).append(float(value))
        self.pending.clear()
        self.tick = now
        return record


def _resume(path: Path, config: Config, method: SSLMethod, opt: torch.optim.Optimizer,
            scaler: torch.amp.GradScaler | None, gens: dict[str, torch.Generator], procs: Processes):
    """Load a checkpoint into the method, optimizer, scaler and generators: returns (history, step, order)."""
    state = load_checkpoint(path, procs.device)
    check_resumable(state, config, procs.world_size, path)
    method.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    if not set_random_states(state["random_per_process"][procs.rank], method, gens, procs.device):
        for offset, g in enumerate(gens.values()):  # a new stream, but not the one step 0 began with
            g.manual_seed(config.seed + 1_000_003 * (state["step"] + 1) + offset)
        warnings.warn(f"{path} was written on {state.get('device_type', 'another device type')} and resumes on "
                      f"{procs.device.type}: the weights, optimiser, data order and lambda continue, but the "
                      "augmentations draw from a new random stream (generator states do not carry across "
                      "device types), so the run will not be bit-identical to an uninterrupted one",
                      ResumeWarning, stacklevel=3)
    order = state.get("order")
    return state["history"], state["step"], None if order is None else order.to(procs.device)


def _save(path: Path, config: Config, method: SSLMethod, opt: torch.optim.Optimizer,
          scaler: torch.amp.GradScaler | None, gens: dict[str, torch.Generator], procs: Processes,
          history: dict, step: int, image_size: int, order: torch.Tensor | None) -> None:
    """Every process hands rank 0 its random states; rank 0 writes the checkpoint; all wait for it."""
    randoms = distributed.all_gather_objects(get_random_states(method, gens, procs.device), procs)
    if procs.is_main:
        save_checkpoint(path, {
            "model": method.state_dict(), "optimizer": opt.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "history": history, "config": config.to_dict(), "step": step, "image_size": image_size,
            "order": None if order is None else order.cpu(), "random_per_process": randoms,
            "world_size": procs.world_size, "device_type": procs.device.type,
        })
    distributed.barrier(procs)


def pretrain(config: Config, *, data: ImageData | None = None, resume: bool = True, progress: bool = True) -> PretrainResult:
    """Pretrain ``config.method`` on ``config.dataset`` (or on ``data`` when given).

    Returns the trained method, its history (``step``, ``epoch``, ``total`` and each loss part, ``lr``,
    ``images_per_s``, one entry per ``log_every`` steps, averaged over those steps) and the checkpoint path.
    Under ``torchrun`` every process runs this; see ``trimix.distributed`` for what a step then is.
    """
    if config.batch_size < 2:
        raise ValueError(f"batch_size must be at least 2 (the losses use batch statistics), got {config.batch_size}")
    procs = distributed.setup(resolve_device(config.device))
    local_batch = procs.local_batch(config.batch_size)
    if local_batch < 2 or (config.gather and procs.world_size > 1 and local_batch % 2):
        raise ValueError(f"batch_size {config.batch_size} gives {local_batch} images per process; need at least 2"
                         f"{' and an even number with --gather' if config.gather else ''}")
    if data is None:
        with distributed.main_first(procs):  # rank 0 downloads; the others then read what it wrote
            data = load_dataset(config.dataset, pretrain_split(config.dataset), root=config.root, download=config.download and procs.is_main)
    steps_per_epoch = len(data) // config.batch_size  # drop the last partial batch: the losses want a full B
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size {config.batch_size} is larger than the dataset ({len(data)} images); use a smaller --batch-size")
    planned_steps = total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:  # stops early; schedules (BYOL's momentum) still span planned_steps
        total_steps = min(total_steps, config.max_steps)

    method, opt, amp, scaler = setup_training(config, data.image_size, procs.device)
    images = data.images.to(procs.device)  # uint8: 4x smaller than float, augmented batch by batch on the device
    gens = data_generators(config.seed, procs.rank, procs.device)
    history: dict[str, list[float]] = {}
    step, order = 0, None
    path = Path(config.out_dir) / CHECKPOINT_NAME
    if resume and path.exists():
        history, step, order = _resume(path, config, method, opt, scaler, gens, procs)
    wrapped = distributed.wrap(method, procs, config.gather, config.sync_bn)  # the method itself in one process
    log = LossLog(history, config.batch_size, steps_per_epoch, procs)
    bar = tqdm(total=total_steps, initial=step, disable=not (progress and procs.is_main),
               desc=f"{config.method} on {data.name}")
    started = time.perf_counter()
    timer = CheckpointTimer(config.checkpoint_minutes, procs)
    method.train()
    try:
        while step < total_steps:
            if order is None:  # a new epoch
                order = torch.randperm(len(images), device=procs.device, generator=gens["order"])
            idx = distributed.shard(order, step % steps_per_epoch, config.batch_size, procs)
            x1, x2 = make_views(images, idx, gens["views"])
            total, parts = train_step(wrapped, opt, x1, x2, amp, scaler, progress=step / planned_steps)
            log.add(total, parts)
            step += 1
            bar.update(1)
            end_of_epoch = step % steps_per_epoch == 0
            if end_of_epoch:
                order = None
            time_due = False
            if step % config.log_every == 0 or end_of_epoch or step == total_steps:
                record = log.flush(step, opt.param_groups[0]["lr"])
                bar.set_postfix(loss=f"{record['total']:.4g}", lr=f"{record['lr']:.1e}",
                                img_s=f"{record['images_per_s']:.0f}")
                time_due = timer.due()  # here, where the loop syncs anyway; the same answer on every process
            if (time_due or step == total_steps
                    or (end_of_epoch and (step // steps_per_epoch) % config.checkpoint_every == 0)):
                _save(path, config, method, opt, scaler, gens, procs, history, step, data.image_size, order)
                timer.restart()
    finally:
        bar.close()
    return PretrainResult(method, history, path, config, steps=step, seconds=time.perf_counter() - started)
