"""Where a run runs and at what precision: the device, the autocast dtype and cuDNN's settings.

Precision (``Config.precision``, ``--precision``), ``auto`` picks by what the hardware does natively:

* **bf16** on a GPU of compute capability 8.0 or more (A100, H100, RTX 30xx and later): bf16 tensor cores,
  and bf16 keeps float32's exponent range, so no gradient scaler is needed.
* **fp16 with a gradient scaler** on compute capability 7.x (Colab's free T4, V100): fp16 tensor cores but
  no bf16 ones. ``torch.cuda.is_bf16_supported()`` answers True there too, because a bf16 tensor *can be
  created* (emulation), so it must not decide: bf16 convolutions below 8.0 are slow or unsupported.
  fp16's small range lets small gradients underflow, which the scaler prevents.
* **fp32** on the CPU (no tensor cores; autocast there is slower than float32 for these networks).

``bf16``, ``fp16`` and ``fp32`` force a choice (``bf16`` is refused on a GPU without bf16 tensor cores,
with what to use instead); forcing fp16 or bf16 on the CPU works, slowly, which is how the tests exercise
the fp16 + scaler path without a GPU. Losses compute in float32 whatever the precision
(``trimix.standardize.full_precision``).

cuDNN: ``benchmark`` is on by default on CUDA (every batch of a run has the same shape, so the fastest
convolution algorithms are found once). ``deterministic=True`` (``--deterministic``) turns it off and asks
torch for deterministic kernels, so that a GPU run, and its resume, is bit-identical from run to run: the
CPU is deterministic already.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
BF16_MIN_CAPABILITY = (8, 0)  # Ampere: the first NVIDIA GPUs with bf16 tensor cores
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` = the GPU when there is one, else the CPU; ``cuda`` without a GPU is refused clearly."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


@dataclass(frozen=True)
class Precision:
    """The precision a run uses, and why (printed in the CLI's run header and the notebooks)."""
    name: str  # "bf16", "fp16" or "fp32"
    reason: str

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype; None for fp32 (no autocast)."""
        return DTYPES[self.name]

    @property
    def needs_scaler(self) -> bool:
        """fp16 only: its narrow range needs the loss scaled so that small gradients do not underflow."""
        return self.name == "fp16"

    def describe(self) -> str:
        scaler = " with a gradient scaler" if self.needs_scaler else ""
        return f"{self.name}{scaler} ({self.reason})"


def _gpu_words(device: torch.device) -> tuple[str, tuple[int, int]]:
    capability = torch.cuda.get_device_capability(device)
    name = torch.cuda.get_device_name(device)
    return f"{name}, compute capability {capability[0]}.{capability[1]}", capability


def choose_precision(device: torch.device, requested: str = "auto") -> Precision:
    """The precision for ``device``: ``auto`` by the hardware (module docstring), else what was asked for."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if device.type != "cuda":
        if requested == "auto":
            return Precision("fp32", f"{device.type}: no tensor cores, and autocast would be slower than fp32")
        return Precision(requested, f"asked for on {device.type}, where it is slower than fp32")
    gpu, capability = _gpu_words(device)
    native_bf16 = capability >= BF16_MIN_CAPABILITY
    if requested == "bf16" and not native_bf16:
        raise ValueError(f"precision bf16 was asked for on {gpu}: bf16 tensor cores need compute capability "
                         "8.0 or more, and below that bf16 is emulated (slow or unsupported); "
                         "use --precision fp16 (what auto picks here) or fp32")
    if requested != "auto":
        return Precision(requested, f"asked for on {gpu}")
    if native_bf16:
        return Precision("bf16", f"{gpu}: bf16 tensor cores")
    return Precision("fp16", f"{gpu}: fp16 tensor cores but no bf16 ones")


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager:
    """``torch.autocast`` at ``precision`` on ``device``, or nothing at fp32."""
    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=precision.dtype)


def configure_backends(device: torch.device, deterministic: bool = False) -> None:
    """cuDNN autotuning on CUDA, or deterministic kernels everywhere (module docstring). Process-wide."""
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic; read when its first handle is made, so set it
        # now (a no-op if CUDA already ran a matmul in this process: torch then warns).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)  # warns, not fails, on an op without one
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = deterministic


def describe(device: torch.device, precision: str = "auto", deterministic: bool = False) -> str:
    """One line for a run's header: 'device cuda:0, precision fp16 with a gradient scaler (Tesla T4, ...)'."""
    chosen = choose_precision(device, precision)
    kernels = ", deterministic kernels" if deterministic else ""
    return f"device {device}, precision {chosen.describe()}{kernels}"


def optimizer_step(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    """Backward and one optimiser step; with fp16's ``scaler`` the loss is scaled first, and a step whose
    gradients overflowed is skipped (the scaler lowers its scale instead)."""
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
        return
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
