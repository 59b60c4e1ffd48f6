"""CUDA-only checks of the training step, skipped without a GPU; bench/gpu_check.sh runs them on a lent GPU.

    pytest -o addopts="" -rs -s tests/test_cuda.py tests/test_augment.py -k cuda   # as gpu_check.sh runs them
"""
import pytest
import torch

from trimix.config import paper_config, quick_config
from trimix.evaluate import knn_predict
from trimix.device import choose_precision
from trimix.train import build_method, make_views, setup_training, train_step

CUDA = torch.cuda.is_available()
pytestmark = pytest.mark.skipif(not CUDA, reason="needs a GPU")
METHODS = ["trimix", "barlow_twins", "simclr", "byol", "vicreg"]
BF16_RTOL = 0.02  # bf16 keeps 8 bits of mantissa (~0.4 % per value); the losses are computed in fp32


def cuda_views(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator(device="cuda").manual_seed(seed)
    images = torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8, device="cuda", generator=gen)
    return make_views(images, torch.arange(batch, device="cuda"), gen)


@pytest.mark.parametrize("precision", ["auto", "fp16"])  # fp16 + GradScaler: the T4's path, on any GPU
@pytest.mark.parametrize("method", METHODS)
def test_cuda_step_has_no_host_sync_and_uses_fused_adam(method, precision):
    """No step of either precision waits for the host: fused Adam takes GradScaler's inf flag on the device
    (``_step_supports_amp_scaling``), so even fp16 needs no read-back (tests/test_host_copies.py without a GPU)."""
    config = quick_config(method=method, device="cuda", precision=precision)
    model, opt, amp, scaler = setup_training(config, 32, torch.device("cuda"))
    assert opt.defaults["fused"] and amp is not None and (scaler is not None) == (amp == torch.float16)
    print(f"{method}: {choose_precision(torch.device('cuda'), precision).describe()}")
    x1, x2 = cuda_views(config.batch_size)
    train_step(model, opt, x1, x2, amp, scaler)  # warm-up: the first calls may initialise things
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        total, _ = train_step(model, opt, *cuda_views(config.batch_size, seed=1), amp, scaler, progress=0.5)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(total)


@pytest.mark.parametrize("method", METHODS)
def test_cuda_bf16_loss_matches_float32_at_the_paper_configuration(method):
    """The first step's loss (same weights, views and lambda) under bf16 autocast vs float32, within BF16_RTOL."""
    if choose_precision(torch.device("cuda")).name != "bf16":
        pytest.skip("this GPU has no bf16 tensor cores (the step uses fp16 with a gradient scaler)")
    config = paper_config(method=method, device="cuda")
    x1, x2 = cuda_views(config.batch_size)
    losses = {}
    for dtype in (torch.float32, torch.bfloat16):
        method_ = build_method(config, 32).cuda().to(memory_format=torch.channels_last)
        with torch.no_grad(), torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
            total, parts = method_(x1, x2)
        losses[dtype] = {"total": total.float().item(), **{k: v.float().item() for k, v in parts.items()}}
    for part, fp32 in losses[torch.float32].items():
        bf16 = losses[torch.bfloat16][part]
        relative = abs(bf16 - fp32) / abs(fp32)
        print(f"{method} {part}: float32 {fp32:.6g}, bf16 {bf16:.6g}, relative difference {relative:.2e}")
    assert losses[torch.bfloat16]["total"] == pytest.approx(losses[torch.float32]["total"], rel=BF16_RTOL)


def test_cuda_knn_predicts_as_on_the_cpu():
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(3000, 64, generator=g), torch.randn(500, 64, generator=g)
    labels = torch.randint(0, 10, (3000,), generator=g)
    cpu = knn_predict(train, labels, test, 10, k=50)
    gpu = knn_predict(train.cuda(), labels.cuda(), test.cuda(), 10, k=50)
    assert (gpu.cpu() == cpu).float().mean() > 0.99  # ties in float sums may break differently
