"""Synchronised BatchNorm for several processes: the batch statistics of the global batch, on any device.

With N processes each BatchNorm layer normally sees only its process's B/N images. ``convert(module,
device)`` swaps every BatchNorm for one that normalises with the mean and variance of all N shards
together, so that N processes at B/N compute what one process computes at B (``--sync-bn``, see
``trimix.distributed``). On CUDA that is torch's ``nn.SyncBatchNorm`` (fused kernels, nccl). torch's
refuses CPU tensors (and ``torch.batch_norm_stats`` has no CPU kernel), so on any other device, gloo
processes included, it is ``SyncBatchNorm`` below: plain tensor arithmetic and all-reduces that autograd
follows. Both keep BatchNorm's parameter and buffer names, so a checkpoint loads into a plain network.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


class _AllReduceSum(torch.autograd.Function):
    """The sum over processes of ``x`` (the same shape on each), with the gradient summed back.

    Every process's output depends on every process's ``x``, so the gradient of this process's ``x`` is
    the sum of the gradients all processes send to the sum: backward is an all-reduce too.
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        x = x.clone()  # all_reduce works in place
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
        return x

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def all_reduce_sum(x: Tensor) -> Tensor:
    """Sum over processes, autograd-aware (``x`` itself in one process)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return x
    return _AllReduceSum.apply(x)


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over the global batch of all processes; for (N, C) and (N, C, *) inputs, any device.

    Training: mean and biased variance per channel over every process's images (two all-reduces: the
    sums, then the squared deviations from the global mean, which is more accurate in float32 than
    E[x^2] - E[x]^2), and the running statistics updated with the *unbiased* global variance, as
    BatchNorm does. Eval (or one process): ``F.batch_norm``, exactly BatchNorm.
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"SyncBatchNorm expects (N, C) or (N, C, ...) input, got shape {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        synced = self.training and dist.is_initialized() and dist.get_world_size() > 1
        if not synced:
            return super().forward(x)
        dims = [0, *range(2, x.dim())]  # every axis but the channels
        shape = [1, -1] + [1] * (x.dim() - 2)  # (C,) -> broadcastable against x
        xf = x.float()  # statistics in float32, also under autocast
        local_count = xf.numel() // xf.shape[1]
        sums = all_reduce_sum(torch.cat([xf.sum(dims), xf.new_full((1,), float(local_count))]))
        count = sums[-1].detach()
        mean = sums[:-1] / count  # (C,)
        var = all_reduce_sum(((xf - mean.view(shape)) ** 2).sum(dims)) / count  # (C,), biased
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), count)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor, count: Tensor) -> None:
        self.num_batches_tracked += 1
        # BatchNorm's factor: ``momentum``, or a cumulative average when momentum is None
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * count / (count - 1).clamp(min=1)
        self.running_mean.mul_(1 - factor).add_(factor * mean.to(self.running_mean.dtype))
        self.running_var.mul_(1 - factor).add_(factor * unbiased.to(self.running_var.dtype))


def _convert_cpu(module: nn.Module) -> nn.Module:
    """``module`` with each BatchNorm replaced by ``SyncBatchNorm`` holding the same parameters and buffers."""
    out = module
    if isinstance(module, _BatchNorm) and not isinstance(module, (SyncBatchNorm, nn.SyncBatchNorm)):
        out = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats)
        if module.affine:  # the same Parameter objects: an optimiser built before keeps working
            out.weight, out.bias = module.weight, module.bias
        if module.track_running_stats:
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, _convert_cpu(child))
    return out


def convert(module: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm of ``module`` synchronised over processes: torch's on CUDA, ours elsewhere.

    Replaces submodules in place (and returns ``module``, or its replacement when it is a BatchNorm
    itself), keeping the parameters, so call it before DDP wraps the module; an optimiser made earlier
    still holds the right tensors.
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert_cpu(module)


def count_batchnorms(module: nn.Module) -> dict[str, int]:
    """How many layers of each BatchNorm kind ``module`` holds (for tests and the run's header)."""
    counts: dict[str, int] = {}
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            counts[type(m).__name__] = counts.get(type(m).__name__, 0) + 1
    return counts

