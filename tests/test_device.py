"""trimix.device: the precision each GPU gets (proven with a mocked torch.cuda), the fp16 + gradient scaler path
(run for real with CPU autocast), and cuDNN's settings."""
from __future__ import annotations

import os

import pytest
import torch

from trimix import device as dev
from trimix.config import quick_config
from trimix.train import make_views, setup_training, train_step

CUDA = torch.device("cuda", 0)


@pytest.fixture
def fake_gpu(monkeypatch):
    """A pretend GPU of the compute capability the test sets; ``is_bf16_supported`` says True whatever it is, as
    torch's default (``including_emulation=True``) does on a T4 or V100."""
    def install(name: str, capability: tuple[int, int]):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    return install


@pytest.mark.parametrize("name, capability, expected", [
    ("Tesla T4", (7, 5), "fp16"), ("Tesla V100-SXM2-16GB", (7, 0), "fp16"), ("Tesla P100", (6, 0), "fp16"),
    ("NVIDIA A100-SXM4-40GB", (8, 0), "bf16"), ("NVIDIA GeForce RTX 3090", (8, 6), "bf16"),
    ("NVIDIA H100 80GB HBM3", (9, 0), "bf16"),
])
def test_auto_precision_follows_the_compute_capability_not_is_bf16_supported(fake_gpu, name, capability, expected):
    fake_gpu(name, capability)
    precision = dev.choose_precision(CUDA)
    assert precision.name == expected
    assert precision.needs_scaler == (expected == "fp16")
    assert f"{capability[0]}.{capability[1]}" in precision.describe() and name in precision.describe()


def test_forced_precisions_and_bad_requests(fake_gpu):
    fake_gpu("Tesla T4", (7, 5))
    assert dev.choose_precision(CUDA, "fp32").dtype is None
    assert dev.choose_precision(CUDA, "fp16").dtype == torch.float16
    with pytest.raises(ValueError, match="bf16 was asked for on Tesla T4.*use --precision fp16"):
        dev.choose_precision(CUDA, "bf16")
    fake_gpu("NVIDIA A100", (8, 0))
    assert dev.choose_precision(CUDA, "fp16").name == "fp16"  # allowed where bf16 would be picked
    with pytest.raises(ValueError, match="one of auto, bf16, fp16, fp32"):
        dev.choose_precision(CUDA, "half")
    cpu = dev.choose_precision(torch.device("cpu"))
    assert cpu.name == "fp32" and cpu.dtype is None and "cpu" in cpu.reason


def test_fp16_with_a_gradient_scaler_trains_and_skips_a_step_with_an_infinite_gradient():
    """The T4's path, on the CPU: fp16 autocast and ``GradScaler``. A finite step changes the weights; a step
    whose gradient holds an inf changes none of them and halves the scale (GradScaler's backoff factor)."""
    config = quick_config(width=4, proj_hidden=32, proj_dim=32, batch_size=16, device="cpu", precision="fp16")
    method, opt, amp, scaler = setup_training(config, 16, torch.device("cpu"))  # 16 px: CPU fp16 is slow
    assert amp == torch.float16 and isinstance(scaler, torch.amp.GradScaler)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 16, 16), dtype=torch.uint8, generator=gen)
    weights = lambda: [p.detach().clone() for p in method.parameters()]  # noqa: E731

    # GradScaler starts at a scale of 2^16, which overflows fp16 for a loss this size; it skips the step and
    # halves the scale until the scaled gradients fit (a handful of steps, once per run)
    for step in range(30):
        before = weights()
        total, parts = train_step(method, opt, *make_views(images, torch.arange(16), gen), amp, scaler)
        assert torch.isfinite(total) and set(parts) == {"bt", "vrt", "con"}
        if any(not torch.equal(a, b) for a, b in zip(before, weights())):
            break
    else:
        pytest.fail(f"no step was taken in 30 steps; the scale fell to {scaler.get_scale()}")
    assert scaler.get_scale() == 2.0 ** (16 - step)

    before, scale = weights(), scaler.get_scale()
    hook = next(method.parameters()).register_hook(lambda g: torch.full_like(g, float("inf")))
    train_step(method, opt, *make_views(images, torch.arange(16), gen), amp, scaler)
    hook.remove()
    assert all(torch.equal(a, b) for a, b in zip(before, weights())), "the scaler must skip an inf step"
    assert scaler.get_scale() == scale * 0.5


@pytest.fixture
def restore_backends():
    saved = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
             torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    yield
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[:2]
    torch.use_deterministic_algorithms(saved[2], warn_only=saved[3])


def test_cudnn_autotunes_on_cuda_unless_a_deterministic_run_is_asked_for(restore_backends, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.backends.cudnn.benchmark = False
    dev.configure_backends(torch.device("cpu"))
    assert not torch.backends.cudnn.benchmark  # nothing to tune on the CPU
    dev.configure_backends(CUDA)
    assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
    dev.configure_backends(CUDA, deterministic=True)
    assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
    assert torch.are_deterministic_algorithms_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_resolve_device():
    assert dev.resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert dev.resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="no CUDA GPU.*--device cpu"):
            dev.resolve_device("cuda")
