"""The notebooks' helpers: notebook 05's run found or trained (trimix.runs), time estimates, the offline
stand-in and the hue label (trimix.stand_in), text tables (trimix.viz)."""
import re
from pathlib import Path

import pytest
import torch

from trimix import runs, stand_in, viz
from trimix.config import Config, quick_config
from trimix.shapes import make_shapes
from trimix.train import CHECKPOINT_NAME, CheckpointError


@pytest.fixture(scope="module")
def tiny_data():
    return make_shapes(64, seed=3), make_shapes(40, seed=4)


def tiny_config(out_dir, **changes):
    base = dict(width=4, proj_hidden=16, proj_dim=16, batch_size=16, epochs=1, log_every=2,
                out_dir=str(out_dir), device="cpu", seed=1)
    return quick_config(**{**base, **changes})


def test_load_or_pretrain_trains_once_then_reuses_the_checkpoint(tmp_path, tiny_data, capsys):
    config = tiny_config(tmp_path)
    method, history = runs.load_or_pretrain(config, data=tiny_data[0], progress=True)
    assert history["step"][-1] == 4 and "pretraining 4 steps" in capsys.readouterr().out
    checkpoint = tmp_path / CHECKPOINT_NAME
    written = checkpoint.stat().st_mtime_ns
    again, history2 = runs.load_or_pretrain(config, data=tiny_data[0], progress=True)
    assert "loading the finished run" in capsys.readouterr().out
    assert checkpoint.stat().st_mtime_ns == written  # no step ran, so no checkpoint was written
    assert history2 == history
    for (k, a), b in zip(method.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k


def test_load_or_pretrain_resumes_an_unfinished_run_and_refuses_another_config(tmp_path, tiny_data, capsys):
    runs.load_or_pretrain(tiny_config(tmp_path, max_steps=2), data=tiny_data[0], progress=False)
    _, history = runs.load_or_pretrain(tiny_config(tmp_path), data=tiny_data[0], progress=True)
    assert "resuming" in capsys.readouterr().out and history["step"][-1] == 4
    with pytest.raises(CheckpointError, match="width"):
        runs.load_or_pretrain(tiny_config(tmp_path, width=8), data=tiny_data[0], progress=False)


def test_pretrain_run_config_separates_quick_and_paper_runs():
    quick = runs.pretrain_run_config(quick_config())
    paper = runs.pretrain_run_config(Config(), "full")  # chosen: no looking for a run, no timing (test_long_runs.py)
    assert quick.max_steps == runs.QUICK_PRETRAIN_STEPS and paper.max_steps is None
    assert quick.out_dir != paper.out_dir


def test_estimate_pretrain_time_is_positive_and_consistent(tiny_data):
    config = tiny_config("unused", epochs=3)
    e = runs.estimate_pretrain_time(config, tiny_data[0], steps=2, warmup=1)
    assert e["seconds_per_step"] > 0 and e["steps_per_epoch"] == 64 // 16
    assert e["total_steps"] == 12 and e["epochs"] == 3
    assert e["total_seconds"] == pytest.approx(e["seconds_per_step"] * 12)
    assert e["images_per_second"] == pytest.approx(16 / e["seconds_per_step"])
    capped = runs.estimate_pretrain_time(config.replace(max_steps=5), tiny_data[0], steps=1, warmup=0)
    assert capped["total_steps"] == 5 and capped["epochs"] == pytest.approx(5 / 4)
    assert "s/step" in runs.describe_estimate(e)


def test_format_duration():
    assert runs.format_duration(4.23) == "4.2 s"
    assert runs.format_duration(75) == "1 min 15 s"
    assert runs.format_duration(3725) == "1 h 2 min"


def test_format_table_aligns_and_fills_missing_values():
    table = viz.format_table([{"a": "x", "b": 1.234}, {"a": "longer", "c": 2}], digits=2)
    lines = table.splitlines()
    assert lines[0].split() == ["a", "b", "c"] and "1.23" in lines[2] and lines[3].startswith("longer")


@pytest.mark.parametrize("split,n", [("train", 2000), ("test", 500)])
def test_stand_in_is_28px_grayscale_as_3_channels(split, n):
    data = stand_in.shapes_stand_in(split)
    assert data.images.shape == (n, 3, 28, 28) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], data.images[:, 1]) and torch.equal(data.images[:, 1], data.images[:, 2])
    assert data.classes == list(stand_in.STAND_IN_CLASSES) and "stand-in" in data.name
    assert torch.bincount(data.labels).tolist() == [n // 4] * 4
    assert torch.equal(data.images, stand_in.shapes_stand_in(split).images)  # deterministic
    colour = stand_in.shapes_stand_in(split, image_size=32, grayscale=False)
    assert colour.images.shape[-1] == 32 and not torch.equal(colour.images[:, 0], colour.images[:, 1])
    with pytest.raises(ValueError, match="split"):
        stand_in.shapes_stand_in("unlabeled")


def test_target_falls_back_to_the_stand_in_offline(tmp_path):
    data, real = stand_in.load_target_or_stand_in("octmnist", "test", root=str(tmp_path))
    assert not real and data.name == "shapes-stand-in/test"
    shapes, real = stand_in.load_target_or_stand_in("shapes", "test", max_images=100)
    assert real and len(shapes) == 100 and torch.bincount(shapes.labels).tolist() == [10] * 10


def test_hue_labels_match_colorsys():
    import colorsys

    images = make_shapes(50, seed=7).images
    mean = images.float().mean((2, 3)) / 255
    want = [min(5, int(colorsys.rgb_to_hsv(*row.tolist())[0] * 6)) for row in mean]
    assert stand_in.hue_labels(images).tolist() == want
    pure = torch.tensor([[255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=torch.uint8).view(3, 3, 1, 1)
    assert stand_in.hue_labels(pure.expand(-1, -1, 4, 4), bins=3).tolist() == [0, 1, 2]


def test_every_helper_a_notebook_uses_is_where_it_names_it():
    notebooks = Path(__file__).resolve().parent.parent / "notebooks" / "src"
    modules = {"runs": runs, "stand_in": stand_in, "viz": viz}
    used = {(module, name) for path in notebooks.glob("*.py")
            for module, name in re.findall(r"\b(runs|stand_in|viz)\.([A-Za-z_]\w*)", path.read_text(encoding="utf-8"))}
    assert ("runs", "load_or_pretrain") in used  # the search found the notebooks
    assert not [f"{m}.{n}" for m, n in used if not hasattr(modules[m], n)]
