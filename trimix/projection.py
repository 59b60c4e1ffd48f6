"""How long a run takes, projected from its FLOPs: on the cards students and researchers use, or on this machine.

A step's FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` over one forward and backward of
the method's loss on the meta device (shapes only: seconds on any machine, no GPU needed). Convolutions and
matrix products are counted, where a ResNet's arithmetic is; augmentation, BatchNorm, elementwise ops and the
optimiser are not. ``python -m trimix bench train`` prints ``projection`` for the paper's run, and
``python -m trimix reproduce ... --plan`` projects every planned run with ``seconds_per_flop``.
"""
from __future__ import annotations

import functools
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from trimix.config import Config, paper_config, quick_config

CIFAR10_TRAIN_IMAGES = 50_000
PAPER_EPOCHS = 200
# Dense (not sparse) bf16 tensor-core peak, TFLOP/s, from NVIDIA's data sheets (fp16 for T4 and V100, which
# have no bf16). Matched in this order against torch.cuda.get_device_name(), so specific names come first.
PEAK_TFLOPS: list[tuple[str, float]] = [
    ("H200", 989.0), ("H100 NVL", 835.0), ("H100 PCIe", 756.0), ("H100", 989.0), ("GH200", 989.0),
    ("A100", 312.0), ("L40S", 362.0), ("L40", 181.0), ("L4", 121.0), ("RTX A6000", 155.0),
    ("RTX 4090", 165.0), ("A10", 125.0), ("V100", 125.0), ("T4", 65.0),
]
# The cards a projection is made for: Colab's free T4 (fp16), and the A100 and H100 of a lab (bf16).
PROJECTED_CARDS: list[tuple[str, float]] = [("T4 fp16", 65.0), ("A100 bf16", 312.0), ("H100 bf16", 989.0)]
# An assumption, not a measurement: a V100 trains ResNet-50 with AMP at about 1,150 images/s (batch 128,
# channels_last; a public measurement), about 23 % of its peak; a 32-pixel ResNet-18 has smaller
# convolutions, and augmentation, BatchNorm and Adam (not counted) add time, so we assume less. On the
# fastest cards a batch of 256 small images is bound by kernel launches as well, so their figures are the
# least certain (a lower bound on the time). bench/gpu_check.sh prints the MFU measured on a lent GPU.
ASSUMED_MFU = 0.15


@functools.lru_cache(maxsize=256)
def _flops(method: str, image_size: int, batch_size: int, width: int, proj_hidden: int, proj_dim: int,
           proj_layers: int, byol_predictor_hidden: int, vrt_on: str, con_on: str) -> int:
    from trimix.train import build_method  # here: train imports a great deal that a FLOP count never needs

    config = paper_config(method=method, batch_size=batch_size, width=width, proj_hidden=proj_hidden,
                          proj_dim=proj_dim, proj_layers=proj_layers, byol_predictor_hidden=byol_predictor_hidden,
                          vrt_on=vrt_on, con_on=con_on)
    with torch.device("meta"):
        method_ = build_method(config, image_size)
        x = torch.empty(batch_size, 3, image_size, image_size)
    with FlopCounterMode(display=False) as counter:
        total, _ = method_(x, x)
        total.backward()
    return counter.get_total_flops()


def step_flops(config: Config, image_size: int) -> int:
    """FLOPs of one training step of ``config`` on images of ``image_size`` pixels (cached by shape)."""
    return _flops(config.method, image_size, config.batch_size, config.width, config.proj_hidden, config.proj_dim,
                  config.proj_layers, config.byol_predictor_hidden, config.vrt_on, config.con_on)


def peak_flops(device: torch.device) -> tuple[float, str]:
    """(peak FLOP/s, where it comes from) for a CUDA ``device``: the data-sheet table, else measured."""
    name = torch.cuda.get_device_name(device)
    for key, tflops in PEAK_TFLOPS:
        if key in name:
            return tflops * 1e12, f"{name}, data sheet {tflops:g} TFLOP/s bf16"
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    a @ a
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(10):
        a @ a
    torch.cuda.synchronize(device)
    return 2 * 8192**3 * 10 / (time.perf_counter() - start), f"{name} (not in PEAK_TFLOPS), measured bf16 matmul"


def seconds_per_flop(device: torch.device) -> tuple[float, str]:
    """How long a counted FLOP of training takes on ``device``, and how that was found.

    A GPU: its peak at ``ASSUMED_MFU``. Anything else: a quick-mode TriMix step timed here (one warm-up, then
    two steps), whose FLOPs are counted; a CPU's throughput depends little on the size of the network.
    """
    if device.type == "cuda":
        peak, source = peak_flops(device)
        return 1.0 / (peak * ASSUMED_MFU), f"{source} at an assumed {ASSUMED_MFU:.0%} of it"
    from trimix.shapes import make_shapes  # here, like build_method above
    from trimix.train import time_steps

    config = quick_config(device=str(device))
    seconds = time_steps(config, make_shapes(4 * config.batch_size, seed=0), steps=2, warmup=1)
    flops = step_flops(config, 32)
    return seconds / flops, f"{device.type}: a quick-mode TriMix step timed here, {flops / seconds / 1e9:.1f} GFLOP/s"


def projection(methods: list[str]) -> str:
    """200 epochs of CIFAR-10 at the paper's size on each of PROJECTED_CARDS, at ASSUMED_MFU, as text."""
    steps = PAPER_EPOCHS * (CIFAR10_TRAIN_IMAGES // paper_config().batch_size)
    head = f"{'method':<13} {'TFLOP/step':>10} " + " ".join(f"{card:>10}" for card, _ in PROJECTED_CARDS)
    lines = [f"projected 200 epochs of CIFAR-10 at the paper's size ({steps:,} steps), from each step's FLOPs at "
             f"{ASSUMED_MFU:.0%} of the card's dense fp16/bf16 peak (an assumption: see ASSUMED_MFU)",
             head, "-" * len(head)]
    for name in methods:
        flops = step_flops(paper_config(method=name), 32)
        hours = [steps * flops / (tflops * 1e12 * ASSUMED_MFU) / 3600 for _, tflops in PROJECTED_CARDS]
        lines.append(f"{name:<13} {flops / 1e12:>10.2f} " + " ".join(f"{h:>9.1f}h" for h in hours))
    return "\n".join(lines)
