"""Before a long run: the projection, notebook 05's run choice (quick / short / full), and the CLI's question.

Step times are faked (``trimix.runs.time_steps`` replaced), never measured against a clock: what is
checked is the decision and the words, for a given step time.
"""
import pytest
import torch

from trimix import runs
from trimix.__main__ import main
from trimix.config import Config, quick_config
from trimix.data import load_dataset
from trimix.shapes import make_shapes
from trimix.train import CHECKPOINT_NAME, load_checkpoint, pretrain

TINY = ["--dataset", "shapes", "--width", "4", "--proj-hidden", "32", "--proj-dim", "32", "--batch-size", "16",
        "--no-eval", "--no-progress", "--device", "cpu"]  # not quick: the CLI times steps first


@pytest.fixture
def seconds_per_step(monkeypatch):
    """Fake step times: set ``fake["seconds"]``; ``fake["batches"]`` lists the batch of every timing."""
    fake = {"seconds": 1.0, "batches": []}

    def time_steps(config, data, steps=5, warmup=2):
        fake["batches"].append(config.batch_size)
        return fake["seconds"]

    monkeypatch.setattr(runs, "time_steps", time_steps)
    return fake


@pytest.fixture
def paper_data(monkeypatch):
    """Paper mode without CIFAR-10: the dataset the projection loads is 2,560 shapes (10 steps of 256)."""
    data = make_shapes(2560, seed=1)
    monkeypatch.setattr(runs, "load_dataset", lambda *args, **kwargs: data)
    return data


def test_quick_mode_never_asks_or_times(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runs, "time_steps", None)  # any timing would fail
    config = runs.pretrain_run_config(quick_config())
    assert config.quick and config.out_dir == runs.RUN_DIRS["quick"] and config.max_steps == runs.QUICK_PRETRAIN_STEPS
    assert runs.pretrain_run_config(quick_config(), "full") == config
    assert "RUN = 'full' is ignored" in capsys.readouterr().out


def test_no_run_and_a_long_full_run_ask_in_one_sentence_with_three_choices(tmp_path, monkeypatch, seconds_per_step,
                                                                           paper_data):
    monkeypatch.chdir(tmp_path)
    seconds_per_step["seconds"] = 2.0 * runs.CPU_TIMING_BATCH / 256  # at batch 16: 2 s/step at 256
    # 10 steps per epoch x 200 epochs x 2 s = 1 h 6 min 40 s
    with pytest.raises(runs.ChooseRun) as info:
        runs.pretrain_run_config(Config())
    lines = str(info.value).splitlines()
    assert lines[0].startswith("Notebook 05's run is not in") and "about 1 h 6 min" in lines[0]
    assert [line.split()[2] for line in lines[1:]] == ['"quick"', '"short"', '"full"']
    assert "about 6 min 40 s" in lines[2]  # 20 epochs
    assert info.value._render_traceback_() == lines  # what IPython shows instead of a traceback
    assert seconds_per_step["batches"] == [runs.CPU_TIMING_BATCH]  # the CPU: timed at a small batch


def test_ipython_shows_the_choice_as_its_message_alone(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.user_ns["ChooseRun"] = runs.ChooseRun
        result = shell.run_cell('raise ChooseRun("No run yet.\\n  RUN = \\"quick\\"   a few minutes")')
    finally:
        InteractiveShell.clear_instance()
    out = capsys.readouterr().out
    assert isinstance(result.error_in_exec, runs.ChooseRun)
    assert out.splitlines() == ["No run yet.", '  RUN = "quick"   a few minutes'] and "Traceback" not in out


def test_a_full_run_within_the_hour_starts_without_asking(tmp_path, monkeypatch, seconds_per_step, paper_data, capsys):
    monkeypatch.chdir(tmp_path)
    seconds_per_step["seconds"] = 0.1 * runs.CPU_TIMING_BATCH / 256  # 2000 steps of 0.1 s: 3 min 20 s
    config = runs.pretrain_run_config(Config())
    assert config.out_dir == runs.RUN_DIRS["full"] and config.epochs == 200
    assert "the full run, projected" in capsys.readouterr().out


def test_each_choice_and_a_wrong_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runs, "time_steps", None)  # a chosen run is not timed again
    short = runs.pretrain_run_config(Config(seed=3), "short")
    assert (short.epochs, short.out_dir, short.seed, short.width) == (runs.SHORT_EPOCHS, runs.RUN_DIRS["short"], 3, 64)
    quick = runs.pretrain_run_config(Config(seed=3), "quick")
    assert quick.quick and quick.seed == 3 and quick.out_dir == runs.RUN_DIRS["quick"]
    assert quick == runs.pretrain_run_config(quick_config(seed=3))  # the same run as quick mode's: one checkpoint
    with pytest.raises(ValueError, match="RUN must be one of 'quick', 'short', 'full'"):
        runs.pretrain_run_config(Config(), "long")


@pytest.mark.parametrize("found", ["full", "short", "quick"])
def test_an_existing_run_is_used_without_timing_or_asking(tmp_path, monkeypatch, found):
    """A fresh runtime (in Colab: the same folder on Drive) finds 05's run, finished or cut off."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runs, "time_steps", None)
    folder = tmp_path / runs.RUN_DIRS[found]
    folder.mkdir(parents=True)
    (folder / CHECKPOINT_NAME).write_bytes(b"")
    assert runs.pretrain_run_config(Config()).out_dir == runs.RUN_DIRS[found]


def test_cpu_timing_is_at_a_small_batch_scaled_and_leaves_the_random_streams(tmp_path, seconds_per_step):
    data = make_shapes(64, seed=2)
    seconds_per_step["seconds"] = 0.5
    e = runs.project_run(Config(batch_size=32, device="cpu"), data, done_steps=1)
    assert seconds_per_step["batches"] == [runs.CPU_TIMING_BATCH]
    assert e["seconds_per_step"] == 0.5 * 32 / runs.CPU_TIMING_BATCH  # scaled linearly to the run's batch
    assert (e["total_steps"], e["remaining_steps"]) == (2 * 200, 2 * 200 - 1)
    assert "timed at batch 16 and scaled to 32" in e["device"]


def test_a_real_timing_does_not_move_torch_random_state():
    config = quick_config(width=4, proj_hidden=16, proj_dim=16, batch_size=8, device="cpu")
    before = torch.get_rng_state()
    runs.project_run(config, make_shapes(32, seed=2))
    assert torch.equal(torch.get_rng_state(), before)


def test_confirm_long_run_asks_over_an_hour_unless_go():
    estimate = {"seconds_per_step": 2.0, "total_steps": 1000, "total_seconds": 2000.0, "device": "cpu"}
    runs.confirm_long_run(estimate, go=False)  # 33 min: no question
    with pytest.raises(runs.ChooseRun, match=r"about 1 h 6 min .*2 runs of 1000 steps.*GO = True.*lower max_steps"):
        runs.confirm_long_run(estimate, go=False, runs=2)
    runs.confirm_long_run(estimate, go=True, runs=2)


# ---- the CLI: python -m trimix pretrain (not quick) ----

@pytest.fixture
def not_quick(monkeypatch):
    monkeypatch.delenv("TRIMIX_QUICK", raising=False)


class Terminal:
    """A stdin that is a terminal, for the y/N question."""

    def isatty(self) -> bool:
        return True


def test_cli_without_a_terminal_stops_a_long_run_with_the_alternatives(tmp_path, not_quick, seconds_per_step, capsys):
    seconds_per_step["seconds"] = 1.0  # 200 epochs of 312 steps (5,000 shapes at batch 16): 17 h 20 min
    assert main(["pretrain", *TINY, "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "This run would take about 17 h 20 min: 62400 steps left at 1 s/step (cpu)" in err
    for alternative in ("--quick", "a GPU", "--epochs 11 takes about 57 min", "add --yes"):
        assert alternative in err, alternative
    assert "Traceback" not in err and not (tmp_path / CHECKPOINT_NAME).exists()
    seconds_per_step["seconds"] = 3600.0  # 2 steps: 2 h, and no whole epoch fits in an hour
    assert main(["pretrain", *TINY, "--max-steps", "2", "--out-dir", str(tmp_path)]) == 2
    assert "even one epoch takes about 312 h 0 min; --max-steps N" in capsys.readouterr().err
    assert main(["pretrain", *TINY, "--max-steps", "2", "--out-dir", str(tmp_path), "--yes"]) == 0
    assert load_checkpoint(tmp_path)["step"] == 2


@pytest.mark.parametrize("answer, code", [("n", 2), ("", 2), ("y", 0)])
def test_cli_on_a_terminal_asks_y_or_n(tmp_path, not_quick, seconds_per_step, monkeypatch, capsys, answer, code):
    seconds_per_step["seconds"] = 3600.0
    monkeypatch.setattr("sys.stdin", Terminal())
    questions = []
    monkeypatch.setattr("builtins.input", lambda prompt: questions.append(prompt) or answer)
    assert main(["pretrain", *TINY, "--max-steps", "2", "--out-dir", str(tmp_path)]) == code
    assert questions == ["Start it anyway? [y/N] "] and "Alternatives:" in capsys.readouterr().out
    assert (tmp_path / CHECKPOINT_NAME).exists() == (code == 0)


def test_cli_counts_only_the_steps_left_after_a_resume(tmp_path, not_quick, seconds_per_step, capsys):
    pretrain(Config(dataset="shapes", width=4, proj_hidden=32, proj_dim=32, batch_size=16, max_steps=2,
                    device="cpu", out_dir=str(tmp_path)), data=load_dataset("shapes"), progress=False)
    seconds_per_step["seconds"] = 3000.0  # 1 step left of 3: 50 min, so no question
    assert main(["pretrain", *TINY, "--max-steps", "3", "--out-dir", str(tmp_path)]) == 0
    assert "1 steps left" in capsys.readouterr().out and load_checkpoint(tmp_path)["step"] == 3


def test_cli_quick_mode_is_not_timed(tmp_path, seconds_per_step):
    assert main(["pretrain", "--quick", *TINY, "--max-steps", "1", "--out-dir", str(tmp_path)]) == 0
    assert seconds_per_step["batches"] == []
