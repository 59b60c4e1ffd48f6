"""A training step never waits for the host: proven without a GPU, on the ``meta`` device.

On a GPU, a tensor made on the host and copied to the device (from pageable memory) makes the host wait for
the device, and reading a value back (``.item()``, ``.tolist()``) waits for every queued kernel: either one in
the step stops the CPU from running ahead. The ``meta`` device runs the same Python with shapes only, and a
``TorchDispatchMode`` sees every ATen op of the step. ``HostWatch`` records each op that takes or makes a host
tensor of one element or more, copies between the host and the device, or reads a device tensor back.

0-dim host tensors are allowed: they are scalars handed to a kernel by value, not copies (Python numbers that
torch wraps, Adam's step counters when it is not fused, TriMix's lambda drawn from its seeded CPU generator).
tests/test_cuda.py checks the same on a real GPU with ``torch.cuda.set_sync_debug_mode("error")``.
"""
from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from trimix import augment
from trimix.config import quick_config
from trimix.methods import METHODS
from trimix.train import LossLog, make_views, setup_training, train_step

META = torch.device("meta")
COPIES = {"aten._to_copy.default", "aten.copy_.default", "aten._copy_from.default"}


def _tensors(tree) -> list[torch.Tensor]:
    return [t for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor)]


class HostWatch(TorchDispatchMode):
    """Records every op of the watched code that involves the host (module docstring) in ``found``."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = _tensors((args, kwargs))
        if str(func) == "aten._local_scalar_dense.default" and inputs[0].device.type != "cpu":
            self.found.append(f"{func}: reads a {inputs[0].device.type} tensor back to the host")
        out = func(*args, **kwargs)
        outputs = _tensors(out)
        host = [tuple(t.shape) for t in inputs + outputs if t.device.type == "cpu" and t.dim() > 0]
        devices = {t.device.type for t in inputs + outputs}
        if str(func) in COPIES and len(devices) > 1:
            self.found.append(f"{func}: copies between {' and '.join(sorted(devices))}")
        elif host:
            self.found.append(f"{func}: host tensor(s) of shape {', '.join(map(str, host))}")
        return out


def one_step(method: str) -> list[str]:
    """Two views of a batch on the device, one optimiser step, the loss parts logged: ``pretrain``'s loop body."""
    config = quick_config(method=method, batch_size=16, device="cpu")
    model, opt, amp, scaler = setup_training(config, 32, META)
    images = torch.empty((32, 3, 32, 32), dtype=torch.uint8, device=META)
    log = LossLog({}, config.batch_size, steps_per_epoch=2, procs=None)
    for _ in range(2):  # the first step builds what is made once (Adam's state, cached constants)
        watch = HostWatch()
        with watch:
            x1, x2 = make_views(images, torch.arange(16, device=META), None)
            log.add(*train_step(model, opt, x1, x2, amp, scaler, progress=0.5))
    return watch.found


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_training_step_makes_no_host_tensor_copy_or_read_back(method):
    found = one_step(method)
    assert not found, f"{method}: {len(found)} op(s) of one training step involve the host:\n" + "\n".join(found)


def test_the_watch_sees_a_host_copy_and_a_read_back():
    """The check can fail: constants made on the host and copied (as augment did before caching them) and a
    value read back are both reported."""
    augment._device_const.cache_clear()
    images = torch.empty((4, 3, 8, 8), dtype=torch.uint8, device=META)
    watch = HostWatch()
    with watch:
        augment.augment_batch(images)
        with pytest.raises(Exception):  # the meta device has no values, so .item() fails after being seen
            images.float().mean().item()
    found = "\n".join(watch.found)
    assert "host tensor(s) of shape (4,)" in found and "copies between cpu and meta" in found
    assert "reads a meta tensor back" in found
