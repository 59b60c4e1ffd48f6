"""``python -m trimix reproduce curve``: staged training equals one run, snapshots at each multiple of the
budget, cached scores, the files it writes."""
import csv
import json

import torch

import pytest

import trimix.reproduce.curve as curve
from trimix.checkpoint import load_checkpoint
from trimix.reproduce.cli import reproduce
from trimix.reproduce.curve import POINTS, curve_runs, score_run, train_run
from trimix.reproduce.runner import StaleRunError
from trimix.reproduce.scales import SCALES, DataCache
from trimix.train import pretrain

KNOBS = dict(max_steps=1, max_images=200)


def one_run(tmp_path, method="trimix"):
    data = DataCache(max_images=200)
    train = data("shapes", "train")
    runs = curve_runs(SCALES["quick"], "shapes", len(train), tmp_path, {method: 1}, {"max_steps": 1})
    return runs[0], data, train


def test_budget_is_the_scale_s_run_and_the_planned_run_covers_the_longest_point(tmp_path):
    run, _, train = one_run(tmp_path)
    assert run.budget == 1  # the quick scale capped at one step, as Table I's run with --max-steps 1
    assert run.config.max_steps is None
    assert run.config.epochs * (len(train) // run.config.batch_size) >= max(POINTS) * run.budget
    assert run.snapshot(4).name == "step-4.pt"


def test_staged_training_keeps_a_snapshot_per_multiple_and_ends_as_one_uninterrupted_run(tmp_path):
    run, _, train = one_run(tmp_path / "staged")
    assert train_run(run, train, progress=False) == max(POINTS)  # stages trained
    for multiple in range(1, max(POINTS) + 1):
        assert load_checkpoint(run.snapshot(multiple))["step"] == multiple * run.budget
    whole = run.config.replace(max_steps=max(POINTS) * run.budget, out_dir=str(tmp_path / "whole"))
    expected = pretrain(whole, data=train, progress=False).method.state_dict()
    staged = load_checkpoint(run.snapshot(max(POINTS)))["model"]
    for name, tensor in expected.items():
        assert torch.equal(staged[name], tensor), name
    assert train_run(run, train, progress=False) == 0  # every snapshot there: nothing trains again


def test_scores_are_cached_and_the_untrained_network_is_scored_too(tmp_path, monkeypatch):
    run, data, train = one_run(tmp_path)
    train_run(run, train, progress=False)
    first = score_run(run, SCALES["quick"], data("shapes", "train"), data("shapes", "test"), "cpu")
    assert list(first) == [0, *POINTS] and all(0 <= v <= 100 for v in first.values())

    def refuse(*args, **kwargs):
        raise AssertionError("a cached score was computed again")

    monkeypatch.setattr(curve, "score_encoder", refuse)
    assert score_run(run, SCALES["quick"], data("shapes", "train"), data("shapes", "test"), "cpu") == first


def test_the_command_writes_a_table_a_csv_and_a_figure(tmp_path):
    written = reproduce("curve", "quick", results=str(tmp_path), progress=False, **KNOBS)
    md, table, png = (tmp_path / "quick-steps1-images200" / "curve" / n for n in ("curve.md", "curve.csv", "curve.png"))
    assert written == {"curve": [str(md), str(table), str(png)]}
    assert png.stat().st_size > 10_000
    text = md.read_text()
    assert "python -m trimix reproduce curve --scale quick" in text
    for name in ("TriMix", "Barlow Twins", "SimCLR"):
        assert f"| {name} |" in text
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 3 * (1 + len(POINTS))
    assert {int(r["multiple"]) for r in rows} == {0, *POINTS}
    record = json.loads((tmp_path / "quick-steps1-images200" / "curve" / "runs" / "shapes" / "simclr-seed0"
                         / "curve_run.json").read_text())
    assert record["config"]["method"] == "simclr" and record["training_code"]


def test_checkpoints_of_other_training_code_are_refused(tmp_path, monkeypatch):
    run, _, train = one_run(tmp_path)
    train_run(run, train, progress=False)
    monkeypatch.setattr(curve, "code_version", lambda part: "0.0+other")
    with pytest.raises(StaleRunError, match="Delete"):
        train_run(run, train, progress=False)


def test_the_paper_scale_curve_on_a_cpu_refuses_without_yes(tmp_path):
    with pytest.raises(ValueError, match="--yes"):
        reproduce("curve", "paper", results=str(tmp_path), device="cpu")
    assert not (tmp_path / "paper").exists()  # nothing trained, nothing written
