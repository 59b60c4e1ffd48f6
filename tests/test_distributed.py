"""Several processes (trimix.distributed): DDP gradients against one process, sharding, torchrun end to end.

Two CPU processes with the gloo backend. In the gradient tests BatchNorm runs in eval mode (its running
statistics, fixed), so a sample's embedding does not depend on the rest of its shard: per-shard and
gathered runs then differ in their objective only, and that is what is compared with one process:

* per shard: the mean of the per-shard objectives, each computed on its shard in one process;
* gathered: the objective of the global batch (in ``pair_order``) computed in one process.

A gather whose backward does not sum over processes (the bug a famous library shipped) must give half the
gradient with two processes, and the comparison must see it.

With BatchNorm in training mode (batch statistics) the gathered objective equals one process at the global
batch only when BatchNorm is synchronised too (``--gather --sync-bn``): checked for TriMix and Barlow
Twins, gradients and running statistics, and without sync-bn the gradients must differ.
"""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from trimix import distributed, sync_batchnorm
from trimix.config import quick_config
from trimix.train import build_method, data_generators, load_checkpoint, train_step

WORLD = 2
BATCH = 8  # global; 4 per process
METHODS = ("trimix", "barlow_twins")
MODES = ("shard", "gather", "gather_without_sum")


def tiny_method(name: str):
    config = quick_config(method=name, width=2, proj_hidden=16, proj_dim=16, byol_predictor_hidden=16, seed=7)
    return build_method(config, 8)


def global_views() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(BATCH, 3, 8, 8, generator=g), torch.randn(BATCH, 3, 8, 8, generator=g)


def gather_without_sum(x: torch.Tensor) -> torch.Tensor:
    """The famous mistake: all-gather without autograd, the local rows put back so they carry a gradient."""
    rows = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(rows, x.detach())
    rows[dist.get_rank()] = x
    return distributed.pair_order(torch.stack(rows))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_mode_runs(procs) -> dict:
    """Training-mode BatchNorm, gathered loss, with and without sync-bn: gradients and BatchNorm buffers."""
    x1, x2 = global_views()
    idx = distributed.shard(torch.arange(BATCH), 0, BATCH, procs)
    results = {}
    for name in METHODS:
        for sync in (True, False):
            method = tiny_method(name).train()
            model = distributed.wrap(method, procs, gather=True, sync_bn=sync)
            opt = torch.optim.SGD(method.parameters(), lr=0.0)
            train_step(model, opt, x1[idx], x2[idx])
            results[f"{name}/train/sync={sync}"] = {
                "grads": {n: p.grad.clone() for n, p in method.named_parameters() if p.grad is not None},
                "buffers": {n: b.clone() for n, b in method.named_buffers()},
                "lam": getattr(method, "last_lambda", None),
                "batchnorms": sync_batchnorm.count_batchnorms(method)}
    return results


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(WORLD))
    torch.set_num_threads(1)
    procs = distributed.setup(torch.device("cpu"))
    x1, x2 = global_views()
    idx = distributed.shard(torch.arange(BATCH), 0, BATCH, procs)
    results = {}
    for name in METHODS:
        for mode in MODES:
            method = tiny_method(name).eval()
            model = distributed.wrap(method, procs, gather=mode != "shard")
            if mode == "gather_without_sum":
                method.gather = gather_without_sum
            opt = torch.optim.SGD(method.parameters(), lr=0.0)  # the step leaves the averaged gradients in .grad
            train_step(model, opt, x1[idx], x2[idx])
            results[f"{name}/{mode}"] = {
                "grads": {n: p.grad.clone() for n, p in method.named_parameters() if p.grad is not None},
                "lam": getattr(method, "last_lambda", None)}
    # BYOL in training mode for a few steps: its momentum target must stay the same on every process
    byol = tiny_method("byol")
    model = distributed.wrap(byol, procs)
    opt = torch.optim.Adam(byol.parameters(), lr=1e-2)
    for step in range(3):
        g = torch.Generator().manual_seed(10 * step + rank)  # different data on each process
        train_step(model, opt, torch.randn(4, 3, 8, 8, generator=g), torch.randn(4, 3, 8, 8, generator=g),
                   progress=step / 10)
    results["byol_target"] = {k: v.clone() for k, v in byol.target.named_parameters()}
    # BatchNorm statistics: each process updates its own in a step; DDP copies rank 0's at the next forward
    with torch.no_grad():
        model.eval()(torch.zeros(4, 3, 8, 8), torch.zeros(4, 3, 8, 8))  # eval: this forward changes none
    results["byol_state"] = {k: v.clone() for k, v in byol.state_dict().items()}
    results["order"] = torch.randperm(50, generator=data_generators(3, rank, torch.device("cpu"))["order"])
    results.update(_train_mode_runs(procs))
    results["any_process"] = [distributed.any_process(rank == 1, procs), distributed.any_process(False, procs)]
    everything = distributed.all_gather_objects(results, procs)
    if procs.is_main:
        torch.save(everything, out)
    distributed.shutdown()


@pytest.fixture(scope="module")
def per_process(tmp_path_factory):
    """What each of two spawned processes computed: [rank 0's results, rank 1's results]."""
    out = tmp_path_factory.mktemp("ddp") / "results.pt"
    mp.spawn(_worker, args=(free_port(), str(out)), nprocs=WORLD, join=True)
    return torch.load(out, weights_only=False)


def one_process_gradient(name: str, mode: str, lam: float | None) -> dict[str, torch.Tensor]:
    """The same objective, computed on the whole batch in one process."""
    method = tiny_method(name).eval()
    x1, x2 = global_views()
    kwargs = {} if lam is None else {"lam": lam}
    if mode == "shard":
        shards = torch.arange(BATCH).view(WORLD, -1)
        loss = sum(method.loss(x1[s], x2[s], **kwargs)[0] for s in shards) / WORLD
    else:  # the global batch, its rows in the order the gather puts them
        loss = method.loss(distributed.pair_order(x1.view(WORLD, -1, 3, 8, 8)),
                           distributed.pair_order(x2.view(WORLD, -1, 3, 8, 8)), **kwargs)[0]
    loss.backward()
    return {n: p.grad for n, p in method.named_parameters() if p.grad is not None}


def assert_same_gradients(got: dict, want: dict, factor: float = 1.0) -> None:
    assert got.keys() == want.keys() and len(want) > 10
    for n in want:
        scale = want[n].abs().max().item() + 1e-12
        torch.testing.assert_close(got[n], factor * want[n], rtol=1e-4, atol=1e-5 * scale, msg=f"gradient of {n}")


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("mode", ["shard", "gather"])
def test_ddp_gradient_equals_one_process_gradient(per_process, name, mode):
    rank0, rank1 = (r[f"{name}/{mode}"] for r in per_process)
    assert rank0["lam"] == rank1["lam"]  # TriMix's lambda: one seeded draw, the same on every process
    for n in rank0["grads"]:  # DDP's average is the same on both processes
        torch.testing.assert_close(rank0["grads"][n], rank1["grads"][n], rtol=0, atol=0)
    assert_same_gradients(rank0["grads"], one_process_gradient(name, mode, rank0["lam"]))


@pytest.mark.parametrize("name", METHODS)
def test_a_gather_without_summed_gradient_is_caught(per_process, name):
    buggy = per_process[0][f"{name}/gather_without_sum"]
    want = one_process_gradient(name, "gather", buggy["lam"])
    with pytest.raises(AssertionError):
        assert_same_gradients(buggy["grads"], want)
    assert_same_gradients(buggy["grads"], want, factor=1 / WORLD)  # exactly 1/world_size too small


def test_per_shard_and_gathered_objectives_differ(per_process):
    shard, gather = (per_process[0][f"barlow_twins/{m}"]["grads"] for m in ("shard", "gather"))
    assert any(not torch.allclose(shard[n], gather[n], rtol=1e-3) for n in shard)


def test_byol_target_and_epoch_order_are_the_same_on_every_process(per_process):
    rank0, rank1 = per_process
    assert len(rank0["byol_target"]) > 10
    for k, v in rank0["byol_target"].items():  # moved from identical online weights after every step
        torch.testing.assert_close(v, rank1["byol_target"][k], rtol=0, atol=0, msg=f"target {k}")
    for k, v in rank0["byol_state"].items():  # and every buffer, as DDP broadcasts them from rank 0
        torch.testing.assert_close(v, rank1["byol_state"][k], rtol=0, atol=0, msg=k)
    assert torch.equal(rank0["order"], rank1["order"])


def one_process_train_mode(name: str, lam: float | None, dtype: torch.dtype = torch.float32) -> tuple[dict, dict]:
    """One process, BatchNorm in training mode, on the global batch in the gathered order: (grads, buffers)
    in float32; with ``dtype=torch.float64`` the same network and inputs in double precision."""
    method = tiny_method(name).to(dtype).train()
    x1, x2 = (x.to(dtype) for x in global_views())
    kwargs = {} if lam is None else {"lam": lam}
    loss = method.loss(distributed.pair_order(x1.view(WORLD, -1, 3, 8, 8)),
                       distributed.pair_order(x2.view(WORLD, -1, 3, 8, 8)), **kwargs)[0]
    loss.backward()
    return ({n: p.grad.float() for n, p in method.named_parameters() if p.grad is not None},
            {n: b for n, b in method.named_buffers()})


def max_abs_difference(got: dict, want: dict) -> float:
    return max((got[n] - want[n]).abs().max().item() for n in want)


def relative_error(got: dict, exact: dict) -> float:
    """The largest error of any tensor, relative to that tensor's largest |gradient|."""
    return max(((got[n] - exact[n]).abs().max() / (exact[n].abs().max() + 1e-12)).item() for n in exact)


@pytest.mark.parametrize("name", METHODS)
def test_gather_with_sync_bn_equals_one_process_at_the_global_batch(per_process, name):
    """--gather --sync-bn on two processes at B/2 each: the gradients (and BatchNorm's running statistics)
    of one process at batch B, BatchNorm in training mode. Without sync-bn they differ.

    Tolerance from the arithmetic: training-mode BatchNorm's backward subtracts batch means of terms far
    larger than the result, so float32 loses digits there, and differently for another order of summation.
    The measure is the exact gradient (float64, one process): two synchronised processes must come as
    close to it as one float32 process does (within 10x, and at least 1e-5 of each tensor's largest
    gradient). On this project's machine both are within 1e-4; without sync-bn the error is 10 or more.
    """
    rank0, rank1 = (r[f"{name}/train/sync=True"] for r in per_process)
    assert set(rank0["batchnorms"]) == {"SyncBatchNorm"} and sum(rank0["batchnorms"].values()) > 10  # every one converted
    for n in rank0["grads"]:  # DDP's average is the same on both processes
        torch.testing.assert_close(rank0["grads"][n], rank1["grads"][n], rtol=0, atol=0)
    one, buffers = one_process_train_mode(name, rank0["lam"])
    exact, _ = one_process_train_mode(name, rank0["lam"], torch.float64)
    assert one.keys() == rank0["grads"].keys() and len(one) > 10
    float32_error = relative_error(one, exact)
    assert relative_error(rank0["grads"], exact) <= max(10 * float32_error, 1e-5)
    for n, b in buffers.items():  # running mean, unbiased running variance, batches tracked
        torch.testing.assert_close(rank0["buffers"][n].to(b.dtype), b, rtol=1e-4, atol=1e-6, msg=n)
    unsynced = per_process[0][f"{name}/train/sync=False"]
    assert unsynced["batchnorms"] and "SyncBatchNorm" not in unsynced["batchnorms"]
    assert relative_error(unsynced["grads"], exact) > 1000 * max(float32_error, 1e-5)
    print(f"\n{name}: max |gradient difference| from one process at batch {BATCH} (largest gradient "
          f"{max(g.abs().max().item() for g in one.values()):.4g}): with sync-bn "
          f"{max_abs_difference(rank0['grads'], one):.3g}, without {max_abs_difference(unsynced['grads'], one):.3g}; "
          f"relative to the float64 gradient: sync-bn {relative_error(rank0['grads'], exact):.2g}, one float32 "
          f"process {float32_error:.2g}, without sync-bn {relative_error(unsynced['grads'], exact):.2g}")


def test_any_process_is_true_everywhere_when_true_somewhere(per_process):
    assert [r["any_process"] for r in per_process] == [[True, False], [True, False]]


@pytest.mark.parametrize("world, n", [(1, 20), (2, 20), (2, 24), (3, 30)])
def test_shards_cover_every_image_once_per_epoch(world, n):
    batch = 6
    order = torch.randperm(n, generator=torch.Generator().manual_seed(world))
    seen = torch.cat([distributed.shard(order, step, batch, distributed.Processes(rank, world, torch.device("cpu")))
                      for step in range(n // batch) for rank in range(world)])
    assert len(seen) == len(set(seen.tolist())) == (n // batch) * batch  # no image twice, none by two processes
    assert set(seen.tolist()) == set(order[: (n // batch) * batch].tolist())  # the dropped tail: n % batch images
    with pytest.raises(ValueError, match="split"):
        distributed.Processes(0, 4, torch.device("cpu")).local_batch(batch)


def test_pair_order_puts_each_process_pair_where_flip_pairs_it():
    rows = torch.arange(12).view(3, 4)  # 3 processes, 4 images each; process r pairs (0, 3) and (1, 2)
    batch = distributed.pair_order(rows)
    pairs = {frozenset(p) for p in zip(batch.tolist(), batch.flip(0).tolist())}
    assert pairs == {frozenset((4 * r + m, 4 * r + 3 - m)) for r in range(3) for m in range(2)}
    with pytest.raises(ValueError, match="even"):
        distributed.pair_order(torch.arange(6).view(2, 3))


FAKE = "fakeset"  # a dataset registered in each spawned process, "downloaded" by a counting fake


def _fake_torchvision_loader(key: str, split: str, root, download: bool):
    """Stands in for torchvision's download: writes the data file once when it is missing and ``download``
    is set, and logs each download and each load (with the rank) to ``root/../log.txt``."""
    from pathlib import Path

    from trimix.data import DatasetNotFoundError
    from trimix.imagedata import ImageData

    rank, folder = os.environ["RANK"], Path(root) / key
    log = Path(root).parent / "log.txt"
    log.parent.mkdir(parents=True, exist_ok=True)
    if not (folder / "data.bin").exists():
        if not download:
            with log.open("a") as f:
                f.write(f"missing {rank}\n")
            raise DatasetNotFoundError(f"rank {rank}: {folder} not there yet")
        with log.open("a") as f:
            f.write(f"download {rank}\n")
        folder.mkdir(parents=True)
        (folder / "data.bin").write_bytes(b"fake")
    with log.open("a") as f:
        f.write(f"load {rank}\n")
    images = torch.randint(0, 256, (32, 3, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return ImageData(images, torch.arange(32) % 2, ["a", "b"], key)


def _data_worker(rank: int, port: int, folder: str) -> None:
    from datetime import timedelta

    from trimix import checkpoint, data
    from trimix import train as train_module
    from trimix.__main__ import main

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(WORLD))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=timedelta(seconds=120))  # a deadlock fails the test, not hangs it
    data.DATASETS[FAKE] = data.DatasetInfo(FAKE, 8, 2, "natural", pretrain_images=16)
    data._load_torchvision = _fake_torchvision_loader
    # rank 0's clock runs 10 minutes per reading, rank 1's stands still: a checkpoint is due on rank 0 only
    # at every log flush, and both must write it (``_save`` is a collective), or the run deadlocks
    ticks = iter(range(0, 10**6, 600))
    checkpoint.now = (lambda: next(ticks)) if rank == 0 else (lambda: 0.0)
    saves, real_save = [], train_module._save
    train_module._save = lambda *a, **k: (saves.append(a[-3]), real_save(*a, **k))  # a[-3]: the step
    tiny = dict(width=2, proj_hidden=16, proj_dim=16, batch_size=8, log_every=1, checkpoint_every=100, seed=1,
                device="cpu")
    config = quick_config(dataset=FAKE, root=f"{folder}/a/data", download=True, max_steps=3, out_dir=f"{folder}/a/run",
                          **tiny)
    train_module.pretrain(config, progress=False)  # loads the data itself
    with open(f"{folder}/saves-{rank}.json", "w") as f:
        json.dump(saves, f)
    main(["pretrain", "--quick", "--dataset", FAKE, "--root", f"{folder}/b/data", "--download", "--max-steps", "2",
          "--width", "2", "--proj-hidden", "16", "--proj-dim", "16", "--batch-size", "8", "--device", "cpu",
          "--out-dir", f"{folder}/b/run", "--no-eval", "--no-progress"])  # cmd_pretrain loads it first


def test_rank_0_downloads_while_the_others_wait_and_every_rank_saves_when_one_is_due(tmp_path):
    """pretrain and the CLI's cmd_pretrain under two gloo processes: rank 0 downloads once, the other rank
    reads the data only after that (it asks for no download, so reading too early would fail); a checkpoint
    that only rank 0's clock finds due is written by both together."""
    mp.spawn(_data_worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    for run in ("a", "b"):
        assert (tmp_path / run / "log.txt").read_text().split("\n") == ["download 0", "load 0", "load 1", ""]
        assert load_checkpoint(tmp_path / run / "run")["step"] == (3 if run == "a" else 2)
    for rank in range(WORLD):  # due at every flush (log_every=1) on rank 0: steps 1, 2, and 3 (the end)
        assert json.loads((tmp_path / f"saves-{rank}.json").read_text()) == [1, 2, 3]


TINY = ["--quick", "--width", "4", "--proj-dim", "32", "--proj-hidden", "32", "--no-progress", "--device", "cpu",
        "--log-every", "2"]  # logs at steps 2, 4, 6: a run stopped at 4 and resumed logs as a straight one


def torchrun(*argv: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORLD}",
           "-m", "trimix", "pretrain", *TINY, *argv]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_torchrun_pretrain_writes_one_checkpoint_that_evaluates_and_resumes(tmp_path):
    from trimix.__main__ import main

    run = torchrun("--max-steps", "4", "--out-dir", str(tmp_path / "run"), "--knn-k", "10", "--gather")
    assert run.stdout.count("kNN accuracy, trained encoder") == 1  # rank 0 alone evaluates and prints
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.pt", "results.json"]
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 4 and state["world_size"] == WORLD and len(state["random_per_process"]) == WORLD
    assert main(["evaluate", str(tmp_path / "run"), "--protocols", "knn", "--knn-k", "10", "--device", "cpu"]) == 0
    torchrun("--max-steps", "6", "--out-dir", str(tmp_path / "run"), "--no-eval", "--gather")  # resumes at step 4
    torchrun("--max-steps", "6", "--out-dir", str(tmp_path / "straight"), "--no-eval", "--gather")
    resumed, straight = load_checkpoint(tmp_path / "run"), load_checkpoint(tmp_path / "straight")
    assert resumed["step"] == straight["step"] == 6
    assert json.loads((tmp_path / "run" / "results.json").read_text())["steps"] == 6
    for k, v in straight["model"].items():
        assert torch.equal(resumed["model"][k], v), f"{k} differs after resuming under torchrun"
    assert resumed["history"]["total"] == straight["history"]["total"]
