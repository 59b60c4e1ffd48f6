"""The command line, end to end in quick mode, and its errors."""
import json
import subprocess
import sys

import pytest

from trimix.__main__ import main

TINY = ["--quick", "--width", "4", "--proj-dim", "32", "--proj-hidden", "32", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    assert main(["pretrain", *TINY, "--max-steps", "6", "--out-dir", str(out), "--knn-k", "20"]) == 0
    return out


def test_pretrain_writes_results_with_trained_and_random_knn(run_dir, capsys):
    results = json.loads((run_dir / "results.json").read_text())
    assert results["steps"] == 6 and results["config"]["dataset"] == "shapes"
    assert (run_dir / "checkpoint.pt").exists()
    # each reported kNN is the kNN of that encoder, recomputed here from the checkpoint and the seed
    from trimix.data import load_dataset
    from trimix.evaluate import score_encoder
    from trimix.protocols import KNN
    from trimix.train import build_method, method_from_checkpoint

    method, config, _ = method_from_checkpoint(run_dir)
    train, test = load_dataset("shapes", "train"), load_dataset("shapes", "test")
    for key, net in (("knn_trained", method.net), ("knn_random", build_method(config, 32).net)):
        assert results[key] == score_encoder(net, train, test, ("knn",), KNN(k=20))["knn"], key
    assert results["knn_trained"] != results["knn_random"]


def test_raw_pixel_knn_is_the_knn_of_the_centred_pixels(run_dir):
    from trimix.augment import prepare
    from trimix.data import load_dataset
    from trimix.evaluate import knn_accuracy

    train, test = load_dataset("shapes", "train"), load_dataset("shapes", "test")
    pixels = [prepare(d.images).flatten(1).double() for d in (train, test)]
    mean = pixels[0].mean(0)  # centred on the training set's mean image
    pixels = [(p - mean).float() for p in pixels]
    expected = knn_accuracy(pixels[0], train.labels, pixels[1], test.labels, k=20, temperature=0.1)
    assert json.loads((run_dir / "results.json").read_text())["knn_raw_pixels"] == pytest.approx(expected)


def test_max_steps_wins_over_quick_modes_epochs_and_a_conflict_is_said(capsys):
    from trimix.__main__ import _fit_epochs_to_max_steps
    from trimix.config import quick_config

    config = quick_config(epochs=2, batch_size=100, max_steps=450)  # 2 epochs of 50 steps on 5000 images
    longer = _fit_epochs_to_max_steps(config, 5000, epochs_given=False)
    assert longer.epochs == 9 and longer.max_steps == 450  # 9 epochs of 50 steps hold 450 steps
    assert "needs 9 epochs" in capsys.readouterr().out
    assert _fit_epochs_to_max_steps(config, 5000, epochs_given=True) == config  # both given: epochs stops first
    assert "end the run at step 100, before --max-steps 450" in capsys.readouterr().out
    fits = config.replace(max_steps=80)
    assert _fit_epochs_to_max_steps(fits, 5000, epochs_given=False) == fits and capsys.readouterr().out == ""


@pytest.mark.parametrize("method", ["simclr", "byol", "vicreg"])
def test_pretrain_runs_every_baseline(method, tmp_path):
    argv = ["pretrain", *TINY, "--method", method, "--byol-predictor-hidden", "32", "--max-steps", "3",
            "--out-dir", str(tmp_path), "--no-eval"]
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["steps"] == 3 and results["config"]["method"] == method
    assert set(results["final_loss"]) >= {"total", method}


def test_evaluate_writes_json(run_dir):
    code = main(["evaluate", str(run_dir / "checkpoint.pt"), "--protocols", "knn", "linear", "--knn-k", "10",
                 "--linear-epochs", "2", "--random-baseline", "--device", "cpu"])
    assert code == 0
    results = json.loads((run_dir / "evaluation.json").read_text())
    assert {"trained/knn", "trained/linear", "random/knn", "random/linear"} <= set(results)


def test_help_reads_well():
    out = subprocess.run([sys.executable, "-m", "trimix", "pretrain", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "--beta" in out.stdout and "virtual embeddings" in out.stdout and "1000" in out.stdout
    assert "barlow_twins, byol, simclr, trimix, vicreg" in " ".join(out.stdout.split())
    assert "--simclr-temperature" in out.stdout and "--byol-momentum" in out.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["pretrain", *TINY, "--method", "moco"], "unknown method"),
        (["pretrain", *TINY, "--dataset", "imagenet"], "unknown dataset"),
        (["pretrain", *TINY, "--batch-size", "1"], "at least 2"),
        (["evaluate", "no/such/checkpoint.pt"], "no checkpoint"),
    ],
)
def test_bad_arguments_give_clear_errors(argv, message, tmp_path, capsys):
    argv = [*argv, "--out-dir", str(tmp_path)] if argv[0] == "pretrain" else argv
    assert main(argv) == 2
    assert message in capsys.readouterr().err.lower()


def test_corrupt_checkpoint_is_refused(tmp_path, capsys):
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00" * 10)
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_a_corrupt_image_is_one_line_naming_the_file(tmp_path, capsys):
    from PIL import Image

    good = tmp_path / "data" / "train" / "cat"
    good.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(good / "ok.png")
    (good / "bad.png").write_bytes(b"\x89PNG not really")
    argv = ["pretrain", *TINY, "--dataset", f"folder:{tmp_path / 'data'}", "--out-dir", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "bad.png" in err and "Traceback" not in err


def test_raw_pixels_are_skipped_for_a_large_training_set(tmp_path, monkeypatch):
    import trimix.__main__ as cli

    monkeypatch.setattr(cli, "RAW_PIXELS_MAX", 1000)  # the built-in set counts as large
    argv = ["pretrain", *TINY, "--max-steps", "1", "--out-dir", str(tmp_path), "--knn-k", "20"]
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert "knn_raw_pixels" not in results and "knn_random" in results
