"""The pretraining loop: exact resume, NaN stop, atomic checkpoints, clear errors."""
import pytest
import torch

import trimix.checkpoint as checkpoint
import trimix.train as train
from trimix import distributed
from trimix.augment import two_views
from trimix.config import quick_config
from trimix.shapes import make_shapes
from trimix.train import (
    CheckpointError,
    NonFiniteLossError,
    build_method,
    load_checkpoint,
    method_from_checkpoint,
    pretrain,
)


@pytest.fixture(scope="module")
def tiny_data():
    return make_shapes(96, seed=3)


def tiny_config(tmp_path, **changes):
    base = dict(width=4, proj_hidden=32, proj_dim=32, batch_size=16, epochs=2, log_every=2,
                checkpoint_every=1, out_dir=str(tmp_path), device="cpu", seed=5)
    return quick_config(**{**base, **changes})


def weights(result):
    return {k: v.clone() for k, v in result.method.state_dict().items()}


def test_resumed_run_ends_with_the_same_weights(tmp_path, tiny_data):
    straight = pretrain(tiny_config(tmp_path / "a"), data=tiny_data, progress=False)
    # interrupted mid-epoch (step 4 of 6 per epoch), then after the first epoch, then resumed to the end
    pretrain(tiny_config(tmp_path / "b", max_steps=4), data=tiny_data, progress=False)
    pretrain(tiny_config(tmp_path / "b", epochs=1), data=tiny_data, progress=False)
    resumed = pretrain(tiny_config(tmp_path / "b"), data=tiny_data, progress=False)
    assert straight.steps == resumed.steps == 12
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    assert straight.history["total"] == resumed.history["total"]


def test_a_checkpoint_from_another_device_type_resumes_with_a_warning(tmp_path, tiny_data):
    """A CUDA generator's state is 16 bytes (seed, offset), a CPU generator's 5056: a checkpoint written on a
    GPU cannot restore the CPU's augmentation streams (nor the reverse). It resumes with a warning, no traceback."""
    pretrain(tiny_config(tmp_path, max_steps=4), data=tiny_data, progress=False)
    path = tmp_path / train.CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    for randoms in state["random_per_process"]:
        randoms["order"] = randoms["views"] = torch.zeros(16, dtype=torch.uint8)  # as torch.cuda's would be
    state["device_type"] = "cuda"
    torch.save(state, path)
    with pytest.warns(train.ResumeWarning, match="written on cuda and resumes on cpu.*not be bit-identical"):
        resumed = pretrain(tiny_config(tmp_path), data=tiny_data, progress=False)
    assert resumed.steps == 12 and all(torch.isfinite(v).all() for v in weights(resumed).values())


def test_byol_resume_is_exact_with_its_target_network(tmp_path, tiny_data):
    byol = dict(method="byol", byol_predictor_hidden=16)
    straight = pretrain(tiny_config(tmp_path / "a", **byol), data=tiny_data, progress=False)
    # stopped mid-epoch (step 4 of 6), then at step 8, then run to the end; max_steps stops a run early but
    # the momentum schedule still spans the planned 2 epochs, so the pieces add up to the straight run
    for max_steps in (4, 8, None):
        resumed = pretrain(tiny_config(tmp_path / "b", max_steps=max_steps, **byol), data=tiny_data, progress=False)
    a, b = weights(straight), weights(resumed)
    assert any(k.startswith("target.") for k in a) and a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    assert straight.history["byol"] == resumed.history["byol"]
    assert any(not torch.equal(a[f"target.{k}"], v) for k, v in straight.method.net.state_dict().items())
    with pytest.raises(CheckpointError, match="byol_momentum"):
        pretrain(tiny_config(tmp_path / "b", byol_momentum=0.9, **byol), data=tiny_data, progress=False)


def test_a_checkpoint_older_than_a_config_field_resumes_at_its_default(tmp_path, tiny_data):
    pretrain(tiny_config(tmp_path, max_steps=2), data=tiny_data, progress=False)
    state = load_checkpoint(tmp_path)
    del state["config"]["simclr_temperature"]  # as written before SimCLR was added
    torch.save(state, tmp_path / "checkpoint.pt")
    assert pretrain(tiny_config(tmp_path, max_steps=4), data=tiny_data, progress=False).steps == 4
    with pytest.raises(CheckpointError, match="simclr_temperature"):
        pretrain(tiny_config(tmp_path, simclr_temperature=0.5), data=tiny_data, progress=False)


def test_history_has_every_part_and_training_lowers_the_loss(tmp_path, tiny_data):
    config = tiny_config(tmp_path, epochs=3, log_every=3)
    result = pretrain(config, data=tiny_data, progress=False)
    h = result.history
    assert {"step", "epoch", "total", "bt", "vrt", "con", "lr", "images_per_s"} <= set(h)
    assert len(h["total"]) == len(h["step"]) == 6 and h["step"][-1] == 18
    # per-step losses are noisy (new views and a new lambda each step): compare on one fixed batch instead
    x1, x2 = two_views(tiny_data.images, generator=torch.Generator().manual_seed(0))
    before, _ = build_method(config, 32).loss(x1, x2, lam=0.3)
    after, _ = result.method.loss(x1, x2, lam=0.3)
    assert after.item() < before.item()


def test_checkpoint_is_complete_and_rebuilds_the_model(tmp_path, tiny_data):
    result = pretrain(tiny_config(tmp_path, epochs=1), data=tiny_data, progress=False)
    assert not list(tmp_path.glob("*.tmp"))
    state = load_checkpoint(tmp_path)
    assert {"model", "optimizer", "history", "config", "random_per_process", "step", "device_type"} <= set(state)
    method, config, _ = method_from_checkpoint(tmp_path / "checkpoint.pt")
    x = tiny_data.images[:4].float() / 255
    method.eval(), result.method.eval()
    torch.testing.assert_close(method.net(x)[1], result.method.net(x)[1])
    assert config.width == 4


class PowerCut(Exception):
    """Stands in for a lost Colab session in the middle of a run."""


def test_a_run_cut_off_after_a_timed_checkpoint_mid_epoch_resumes_to_the_same_weights(tmp_path, tiny_data, monkeypatch):
    """checkpoint_minutes: a checkpoint at the first log flush that finds the time passed, mid-epoch too; the
    run cut off after it and resumed ends with exactly the weights and losses of an uninterrupted run."""
    config = dict(checkpoint_every=100, checkpoint_minutes=5)  # no epoch checkpoint before the end
    straight = pretrain(tiny_config(tmp_path / "a", **config), data=tiny_data, progress=False)
    clock = iter(range(0, 10**6, 4 * 60))  # each reading 4 minutes later: due at every second log flush
    monkeypatch.setattr(checkpoint, "now", lambda: next(clock))
    calls, real = {"n": 0}, train.two_views

    def cut_at_step_11(x, generator=None):
        calls["n"] += 1
        if calls["n"] == 11:
            raise PowerCut
        return real(x, generator=generator)

    monkeypatch.setattr(train, "two_views", cut_at_step_11)
    with pytest.raises(PowerCut):
        pretrain(tiny_config(tmp_path / "b", **config), data=tiny_data, progress=False)
    state = load_checkpoint(tmp_path / "b")  # flushes at steps 2, 4, ... (log_every 2); due at 4 and 8
    assert state["step"] == 8 and state["order"] is not None  # step 2 of the second epoch of 6 steps
    monkeypatch.undo()
    resumed = pretrain(tiny_config(tmp_path / "b", **config), data=tiny_data, progress=False)
    assert straight.steps == resumed.steps == 12
    a, b = weights(straight), weights(resumed)
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resuming from a timed checkpoint"
    assert straight.history["total"] == resumed.history["total"]


def test_checkpoint_timer_is_due_after_its_minutes_and_never_at_zero(monkeypatch):
    procs = distributed.Processes(0, 1, torch.device("cpu"))
    clock = {"t": 100.0}
    monkeypatch.setattr(checkpoint, "now", lambda: clock["t"])
    timer, off = checkpoint.CheckpointTimer(2, procs), checkpoint.CheckpointTimer(0, procs)
    clock["t"] += 119
    assert not timer.due()
    clock["t"] += 1
    assert timer.due() and not off.due()
    timer.restart()
    assert not timer.due()


def test_non_finite_loss_stops_the_run_naming_the_step(tmp_path, tiny_data, monkeypatch):
    calls = {"n": 0}
    real = train.two_views

    def poisoned(x, generator=None):
        calls["n"] += 1
        v1, v2 = real(x, generator=generator)
        return (v1 * float("nan"), v2) if calls["n"] == 3 else (v1, v2)

    monkeypatch.setattr(train, "two_views", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"step 3 .*bt=nan"):
        pretrain(tiny_config(tmp_path, log_every=5), data=tiny_data, progress=False)
    assert not (tmp_path / "checkpoint.pt").exists()  # nothing poisoned was saved


def test_bad_checkpoints_and_settings_are_refused(tmp_path, tiny_data):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "bad.pt")
    pretrain(tiny_config(tmp_path / "run", epochs=1), data=tiny_data, progress=False)
    with pytest.raises(CheckpointError, match="batch_size"):
        pretrain(tiny_config(tmp_path / "run", batch_size=8), data=tiny_data, progress=False)
    with pytest.raises(ValueError, match="at least 2"):
        pretrain(tiny_config(tmp_path, batch_size=1), data=tiny_data, progress=False)
    with pytest.raises(ValueError, match="larger than the dataset"):
        pretrain(tiny_config(tmp_path, batch_size=512), data=tiny_data, progress=False)


def test_time_steps_measures_a_positive_duration(tiny_data):
    seconds = train.time_steps(quick_config(width=4, proj_hidden=32, proj_dim=32, batch_size=8, device="cpu"),
                               tiny_data, steps=2, warmup=1)
    assert 0 < seconds < 60


def test_compile_switch_compiles_the_network_in_place_and_adam_is_fused_only_on_a_gpu():
    config = quick_config(width=4, proj_hidden=32, proj_dim=32, compile=True, device="cpu")
    method, opt, _, _ = train.setup_training(config, 32, torch.device("cpu"))
    assert method.net._compiled_call_impl is not None  # nn.Module.compile: compiled on the first call
    assert build_method(config.replace(compile=False), 32).net._compiled_call_impl is None
    assert method.state_dict().keys() == build_method(config, 32).state_dict().keys()  # checkpoints keep names
    assert not opt.defaults["fused"]
