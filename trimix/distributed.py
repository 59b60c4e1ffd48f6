"""Several processes (GPUs) with ``torchrun`` and DistributedDataParallel (docs/design.md, "Several GPUs").

    torchrun --nproc_per_node=4 -m trimix pretrain ...     # 4 GPUs (nccl), or 4 CPU processes (gloo)
    python -m trimix pretrain ...                          # the same loop in one process

``pretrain`` calls ``setup`` first: under ``torchrun`` (which sets RANK, WORLD_SIZE, LOCAL_RANK and the
rendezvous address) it joins the process group, nccl on CUDA (one GPU per process, ``cuda:LOCAL_RANK``)
and gloo on the CPU; otherwise it is one process and nothing here does anything.

What one optimiser step is with N processes:

* **Batch.** ``config.batch_size`` is the *global* batch, the images of one optimiser step over all
  processes; each process takes ``batch_size / N`` of them (it must divide). One epoch is still
  ``len(data) // batch_size`` steps, so a run has the same steps, learning rate and images per step on
  one GPU or on N.
* **Data.** Every epoch one permutation of the training set, drawn from the same seeded generator on every
  process; step k of the epoch takes its rows ``k*B .. (k+1)*B`` and process r the r-th slice of those
  (``shard``). No image is seen twice in an epoch, none by two processes. Each process draws its own
  augmentations (its own generator) and the same lambda (TriMix's seeded CPU generator, one draw per step).
* **Objective, default (per shard).** Each process mixes its own shard with its reverse and scores it:
  the paper's per-batch objective (Algorithm 1) at batch B/N. DDP averages the gradients, so a step
  descends the mean of the N per-shard objectives.
* **Objective, ``gather=True`` (``--gather``).** The embeddings are gathered from every process with an
  autograd-aware all-gather (``gather_batch``) before the loss, so Barlow Twins' cross-correlation, the
  batch standardisation, TriMix's B x B matrices and SimCLR's negatives all see the global batch, and the
  step descends the one-process objective at batch B. The images are still mixed within each process
  (pair m with b-1-m of its shard of b images: no image crosses the network) and the gathered rows are
  ordered so that those pairs sit at rows m and B-1-m of the global batch, where TriMix's ground-truth
  matrix expects them; this needs an even per-process batch. Every process then computes the same loss,
  and the gradient is right because the all-gather's backward sums the gradient of every process's rows
  before DDP averages (a plain all-gather, gradient to the local rows only, would be ``1/N`` too small).
  BYOL's loss is a mean of per-sample terms, so per shard it is already the global objective; it ignores
  ``gather``.
* **BatchNorm.** By default each process normalises with the statistics of its own shard (per shard that
  is exactly the paper's network at batch B/N). ``sync_bn=True`` (``--sync-bn``, on by default with
  ``--gather``) converts every BatchNorm to a synchronised one before DDP wraps the method
  (``trimix.sync_batchnorm``: torch's ``nn.SyncBatchNorm`` on CUDA, the kit's own on the CPU, which
  torch's refuses), so the batch statistics are the global batch's too: with ``--gather --sync-bn`` N
  processes at B/N compute the gradients of one process at batch B (tests/test_distributed.py checks it
  to float tolerance for TriMix and Barlow Twins; without sync-bn they differ). At the start of every
  step DDP copies rank 0's buffers (running statistics, BYOL's target's BatchNorm) to every process, so
  each step starts from the same model everywhere; BYOL's target, moved by the same average from
  identical weights, stays identical.
* **Downloads.** Rank 0 downloads and prepares the dataset while the others wait at a barrier
  (``main_first``), then they read what it wrote: N processes never write the same files at once.
* **Rank 0** alone shows the progress bar, writes checkpoints (holding every process's random states, so
  a resumed run continues each process's streams) and evaluates. Losses in the history are the mean over
  processes, read back every ``log_every`` steps with one all-reduce, so a NaN stops every process at once.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from trimix import sync_batchnorm


@dataclass(frozen=True)
class Processes:
    """Where this process stands: its rank among ``world_size`` processes and its device."""
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, saves checkpoints and evaluates."""
        return self.rank == 0

    def local_batch(self, batch_size: int) -> int:
        """Images per process of a global batch of ``batch_size``."""
        if batch_size % self.world_size:
            raise ValueError(f"batch_size {batch_size} does not split into {self.world_size} processes; "
                             f"use a multiple of {self.world_size}")
        return batch_size // self.world_size


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def is_main_process() -> bool:
    """False only in the processes of rank > 0 under torchrun (they neither print nor save)."""
    return not launched_by_torchrun() or int(os.environ["RANK"]) == 0


def process_device(device: torch.device) -> torch.device:
    """This process's device: under torchrun a CUDA device becomes ``cuda:LOCAL_RANK``, one GPU each."""
    if device.type == "cuda" and launched_by_torchrun():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def setup(device: torch.device) -> Processes:
    """Join torchrun's process group (once per process) and pick this process's device.

    ``device`` is what the configuration resolved to in one process (see ``process_device``).
    """
    if not launched_by_torchrun():
        return Processes(0, 1, device)
    device = process_device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), device)


def shutdown() -> None:
    """Leave the process group (the CLI calls this before it exits)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def shard(order: Tensor, step_in_epoch: int, batch_size: int, procs: Processes) -> Tensor:
    """This process's indices for one step: the ``rank``-th slice of the step's ``batch_size`` rows of
    ``order`` (N,), the epoch's permutation, the same on every process. Returns (batch_size / N,)."""
    local = procs.local_batch(batch_size)
    start = step_in_epoch * batch_size + procs.rank * local
    return order[start:start + local]


def wrap(method: nn.Module, procs: Processes, gather: bool = False, sync_bn: bool = False) -> nn.Module:
    """What the training step calls: ``method`` itself in one process, else DDP around the whole method.

    DDP wraps the method, not its network, so its forward (``method.loss``, with TriMix's three network
    passes and BYOL's target pass) is one DDP forward: gradients are all-reduced once per step, and every
    buffer (BatchNorm statistics, BYOL's target) is broadcast from rank 0. ``gather`` sets the method's
    ``gather`` hook; ``sync_bn`` converts its BatchNorm layers in place (see the module docstring).
    """
    if procs.world_size == 1:
        return method
    method.gather = gather_batch if gather else None
    if sync_bn:
        sync_batchnorm.convert(method, procs.device)
    device_ids = [procs.device.index] if procs.device.type == "cuda" else None
    return DistributedDataParallel(method, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The method inside a DDP wrapper (or the method itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


class _AllGather(torch.autograd.Function):
    """(b, ...) on each of N processes -> (N, b, ...) on each, with the gradient summed over processes.

    Every process computes its loss from all N x b rows, so the gradient of a row is the sum of the
    gradients every process's loss sends it; backward all-reduces (sums) and keeps this process's rows.
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        rows = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(rows, x.contiguous())
        return torch.stack(rows)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()  # all_reduce works in place; autograd's tensor is not ours
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[dist.get_rank()]


def pair_order(rows: Tensor) -> Tensor:
    """(N, b, ...) rows of N processes -> (N * b, ...) ordered so that ``flip`` pairs what each process paired.

    Process r's first half (rows 0 .. b/2-1) goes to the front, in process order, and its second half to
    the back in reverse process order, so that the mixing pair (m, b-1-m) of a process lands on global rows
    (p, N*b-1-p): the global batch's reverse pairs what ``mix_batch`` paired within each process, and
    TriMix's ground-truth matrix holds for the global batch. b must be even.
    """
    b = rows.shape[1]
    if b % 2:
        raise ValueError(f"gathering needs an even number of images per process, got {b}; "
                         "use a --batch-size that is an even multiple of the number of processes")
    front = rows[:, : b // 2].reshape(-1, *rows.shape[2:])
    back = rows[:, b // 2:].flip(0).reshape(-1, *rows.shape[2:])
    return torch.cat([front, back])


def gather_batch(x: Tensor) -> Tensor:
    """The global batch: (b, ...) on each of N processes -> (N * b, ...) on each, in ``pair_order``, with
    the gradient of every process's loss reaching each process's rows (``_AllGather``)."""
    return pair_order(_AllGather.apply(x))


def all_mean(x: Tensor, procs: Processes) -> Tensor:
    """The mean of ``x`` over processes (``x`` itself in one process)."""
    if procs.world_size == 1:
        return x
    x = x.clone()
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x / procs.world_size


def all_gather_objects(obj, procs: Processes) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every process (``[obj]`` in one process)."""
    if procs.world_size == 1:
        return [obj]
    out: list = [None] * procs.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(procs: Processes) -> None:
    if procs.world_size > 1:
        dist.barrier()


def any_process(flag: bool, procs: Processes) -> bool:
    """True on every process when ``flag`` is True on any of them (one tiny all-reduce, only with N > 1).

    For a decision every process must take together, such as writing a checkpoint (a collective).
    """
    if procs.world_size == 1:
        return flag
    t = torch.tensor([float(flag)], device=procs.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


@contextmanager
def main_first(procs: Processes) -> Iterator[None]:
    """Rank 0 runs the body first (download, unpack, sort files) while the others wait; then they run it.

        with distributed.main_first(procs):
            data = load_dataset(name, download=download and procs.is_main)

    Rank 0 reaches the barrier even when its body fails, so the others go on to fail with their own
    error (the data is missing) instead of waiting forever. In one process it only runs the body.
    """
    if not procs.is_main:
        barrier(procs)
    try:
        yield
    finally:
        if procs.is_main:
            barrier(procs)
