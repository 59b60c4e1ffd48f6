"""Pretraining: ``pretrain(config)`` for any method and dataset of the registry (paper section IV-A).

One code path for CPU and GPU. The whole training split sits on the device as uint8 and each batch is
augmented there by ``augment.two_views`` (per-image random parameters), which on this project's 2-core
machines also measured faster than a per-sample DataLoader (see bench/augment.py). On a GPU the step runs
under bf16 autocast (fp16 with a gradient scaler on cards without bf16) in channels_last.

The step never waits for the GPU: losses are kept on the device and read back every ``log_every``
steps, when they are written to the history, checked for NaN/inf and shown on the progress bar.

Checkpoints (``<out_dir>/checkpoint.pt``) are written atomically (temporary file, then rename) every
``checkpoint_every`` epochs and at the end. They hold the model, optimizer, history, config and every
random state, so a resumed run ends with the same weights as an uninterrupted one.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from trimix.augment import two_views
from trimix.config import Config
from trimix.data import ImageData, load_dataset
from trimix.methods import SSLMethod, method_class
from trimix.models import SSLNet

CHECKPOINT_NAME = "checkpoint.pt"
# Config fields that must match for a checkpoint to be resumed (epochs, max_steps, logging may change).
RESUME_MUST_MATCH = (
    "method", "dataset", "width", "proj_hidden", "proj_dim", "proj_layers", "batch_size", "lr",
    "weight_decay", "alpha", "beta", "gamma", "tau", "feature_norm", "vrt_on", "con_on", "seed",
    "simclr_temperature", "byol_momentum", "byol_predictor_hidden", "vicreg_sim_coeff", "vicreg_std_coeff",
    "vicreg_cov_coeff",
)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the step and the loss parts."""


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or does not fit the configuration."""


@dataclass
class PretrainResult:
    method: nn.Module  # the trained method; ``method.net`` is the SSLNet, ``method.net.backbone`` the encoder
    history: dict[str, list[float]]
    checkpoint: Path
    config: Config
    steps: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


def build_model(config: Config, image_size: int) -> SSLMethod:
    """The SSLNet of ``config`` wrapped in its method from the registry (seeded from ``config.seed``)."""
    torch.manual_seed(config.seed)
    net = SSLNet(image_size, config.width, config.proj_hidden, config.proj_dim, config.proj_layers)
    return method_class(config.method).from_config(net, config)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU supports it, fp16 (with a scaler) on older GPUs, full precision on the CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


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


def model_from_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, Config, dict]:
    """Rebuild the trained method from a checkpoint: returns (method, config, checkpoint dict)."""
    state = load_checkpoint(path, map_location)
    config = Config().replace(**state["config"])
    method = build_model(config, state["image_size"])
    method.load_state_dict(state["model"])
    return method, config, state


def _check_resumable(saved: dict, config: Config, path: Path) -> None:
    defaults = Config()  # a field newer than the checkpoint was, in effect, at its default there
    for name in RESUME_MUST_MATCH:
        was = saved.get(name, getattr(defaults, name))
        if was != getattr(config, name):
            raise CheckpointError(
                f"{path} was made with {name}={was!r} but this run has {name}={getattr(config, name)!r}; "
                "use another out_dir (--out-dir) or start afresh (--no-resume)"
            )


def _setup(config: Config, image_size: int, device: torch.device):
    """Method, Adam, autocast dtype and (fp16 only) gradient scaler, on ``device``."""
    method = build_model(config, image_size).to(device)
    if device.type == "cuda":
        method = method.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(method.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    amp = autocast_dtype(device)
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    return method, opt, amp, scaler


def _views(images: torch.Tensor, idx: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two augmented views of ``images[idx]``, channels_last on a GPU."""
    x1, x2 = two_views(images[idx], generator=gen)
    if images.device.type == "cuda":
        x1, x2 = (x.contiguous(memory_format=torch.channels_last) for x in (x1, x2))
    return x1, x2


def train_step(
    method: SSLMethod, opt: torch.optim.Optimizer, x1: torch.Tensor, x2: torch.Tensor,
    amp: torch.dtype | None = None, scaler: torch.amp.GradScaler | None = None, progress: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One optimisation step on two views (N, 3, H, W); returns the loss and its parts, still on the device.

    ``progress`` (steps done before this one / steps of the whole run) goes to ``method.after_step``, the
    hook for state the optimiser does not update (BYOL's momentum target).
    """
    with torch.autocast(x1.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        total, parts = method.loss(x1, x2)
    opt.zero_grad(set_to_none=True)
    if scaler is not None:  # fp16 only: scale the loss so small gradients do not underflow
        scaler.scale(total).backward()
        scaler.step(opt)
        scaler.update()
    else:
        total.backward()
        opt.step()
    method.after_step(progress)
    return total.detach(), {k: v.detach() for k, v in parts.items()}


def time_steps(config: Config, data: ImageData, steps: int = 5, warmup: int = 2) -> float:
    """Seconds per training step (augmentation included) at ``config``, measured after ``warmup`` steps.

    Used to estimate how long a full run takes before starting it, and by bench/train.py.
    """
    device = resolve_device(config.device)
    method, opt, amp, scaler = _setup(config, data.image_size, device)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    images = data.images[: config.batch_size * 4].to(device)
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        idx = torch.randint(len(images), (config.batch_size,), device=device, generator=gen)
        train_step(method, opt, *_views(images, idx, gen), amp, scaler)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def pretrain(config: Config, *, data: ImageData | None = None, resume: bool = True, progress: bool = True) -> PretrainResult:
    """Pretrain ``config.method`` on ``config.dataset`` (or on ``data`` when given).

    Returns the trained method, its history (``step``, ``epoch``, ``total`` and each loss part, ``lr``,
    ``images_per_s``, one entry per ``log_every`` steps, averaged over those steps) and the checkpoint path.
    """
    if config.batch_size < 2:
        raise ValueError(f"batch_size must be at least 2 (the losses use batch statistics), got {config.batch_size}")
    device = resolve_device(config.device)
    if data is None:
        data = load_dataset(config.dataset, "train", root=config.root, download=config.download)
    steps_per_epoch = len(data) // config.batch_size  # drop the last partial batch: the losses want a full B
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size {config.batch_size} is larger than the dataset ({len(data)} images); use a smaller --batch-size")
    planned_steps = total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:  # stops early; schedules (BYOL's momentum) still span planned_steps
        total_steps = min(total_steps, config.max_steps)

    method, opt, amp, scaler = _setup(config, data.image_size, device)
    images = data.images.to(device)  # uint8: 4x smaller than float, augmented batch by batch on the device
    gen = torch.Generator(device=device).manual_seed(config.seed)
    history: dict[str, list[float]] = {}
    step, order = 0, None

    path = Path(config.out_dir) / CHECKPOINT_NAME
    if resume and path.exists():
        state = load_checkpoint(path, device)
        _check_resumable(state["config"], config, path)
        method.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        history, step, order = state["history"], state["step"], state.get("order")
        _set_random_states(state["random"], method, gen)
        order = None if order is None else order.to(device)

    def make_state() -> dict:
        return {
            "model": method.state_dict(), "optimizer": opt.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "history": history, "config": config.to_dict(), "step": step, "image_size": data.image_size,
            "order": None if order is None else order.cpu(), "random": _get_random_states(method, gen),
        }

    pending: list[torch.Tensor] = []  # per-step losses, still on the device
    part_names: list[str] = []
    bar = tqdm(total=total_steps, initial=step, disable=not progress, desc=f"{config.method} on {data.name}")
    tick, started = time.perf_counter(), time.perf_counter()

    def flush() -> None:
        nonlocal tick
        if not pending:
            return
        rows = torch.stack(pending).tolist()  # the one host sync every log_every steps
        first = step - len(rows) + 1
        for k, row in enumerate(rows):
            if not all(math.isfinite(v) for v in row):
                parts = ", ".join(f"{n}={v:.4g}" for n, v in zip(part_names, row))
                raise NonFiniteLossError(
                    f"the loss is not finite at step {first + k} ({parts}); the run stopped. "
                    "Try a lower --lr, check the data, or resume from the last checkpoint."
                )
        now = time.perf_counter()
        means = [sum(col) / len(rows) for col in zip(*rows)]
        record = {"step": step, "epoch": step / steps_per_epoch, **dict(zip(part_names, means)),
                  "lr": opt.param_groups[0]["lr"], "images_per_s": len(rows) * config.batch_size / (now - tick)}
        for key, value in record.items():
            history.setdefault(key, []).append(float(value))
        bar.set_postfix(loss=f"{record['total']:.4g}", lr=f"{record['lr']:.1e}", img_s=f"{record['images_per_s']:.0f}")
        pending.clear()
        tick = now

    method.train()
    try:
        while step < total_steps:
            if order is None:  # a new epoch
                order = torch.randperm(len(images), device=device, generator=gen)
            i = step % steps_per_epoch
            x1, x2 = _views(images, order[i * config.batch_size:(i + 1) * config.batch_size], gen)
            total, parts = train_step(method, opt, x1, x2, amp, scaler, progress=step / planned_steps)
            part_names = ["total", *parts]
            pending.append(torch.stack([total.float(), *(p.float() for p in parts.values())]))
            step += 1
            bar.update(1)
            end_of_epoch = step % steps_per_epoch == 0
            if end_of_epoch:
                order = None
            if step % config.log_every == 0 or end_of_epoch or step == total_steps:
                flush()
            epoch_done = step // steps_per_epoch
            if (end_of_epoch and epoch_done % config.checkpoint_every == 0) or step == total_steps:
                save_checkpoint(path, make_state())
    finally:
        bar.close()
    return PretrainResult(method, history, path, config, steps=step, seconds=time.perf_counter() - started)


def _get_random_states(method: nn.Module, gen: torch.Generator) -> dict:
    states = {"torch": torch.get_rng_state(), "data": gen.get_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if getattr(method, "generator", None) is not None:
        states["lambda"] = method.generator.get_state()
    return states


def _set_random_states(states: dict, method: nn.Module, gen: torch.Generator) -> None:
    torch.set_rng_state(states["torch"].cpu())
    gen.set_state(states["data"].cpu())
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])
    if "lambda" in states and getattr(method, "generator", None) is not None:
        method.generator.set_state(states["lambda"].cpu())
