"""``python -m trimix reproduce``: the paper's numbers, every experiment end to end, reuse, resume, errors.

The end-to-end tests shrink the quick scale with the command's smoke-test knobs (``--max-steps 2
--eval-epochs 1 --max-images 200``), which write into their own results folder.
"""
import csv
import io
import json
import re
import shlex
from pathlib import Path

import pytest
import torch

import trimix.config
from trimix.__main__ import _config_from_args, main, make_parser
from trimix.ablations import PAPER_TABLE_VI, PAPER_TABLE_VII
from trimix.config import quick_config
from trimix.data import make_shapes
from trimix.reproduce import paper_tables as pt
from trimix.reproduce.cli import scale_label
from trimix.reproduce.plan import EXPERIMENTS, RANDOM_ROW, make_plan, parse_seeds
from trimix.reproduce.report import table_csv, table_markdown
from trimix.reproduce.runner import SCORES_NAME, RunResult, execute, train_seconds
from trimix.reproduce.scales import SCALES, STAND_IN, DataCache, dataset_label, paper_dataset
from trimix.runs import total_steps
from trimix.checkpoint import RESUME_MUST_MATCH
from trimix.train import CHECKPOINT_NAME, build_model, pretrain

KNOBS = ["--max-steps", "2", "--eval-epochs", "1", "--max-images", "200"]
LABEL = scale_label("quick", 2, 1, 200)
PAPER_TEXT = Path(__file__).resolve().parents[2] / "shared" / "paper" / "trimix-paper.txt"


# ---- the paper's numbers ----

@pytest.mark.parametrize("name", list(pt.PAPER_TABLES))
def test_paper_tables_are_well_formed(name):
    table = pt.PAPER_TABLES[name]
    assert len(set(table.columns)) == len(table.columns) > 0
    for row, values in table.rows.items():
        assert len(values) == len(table.columns), row
        assert all(isinstance(v, float) and 0 < v < 100 for v in values), row
    if name in ("table6", "table7"):
        assert table.rows == {k: (v,) for k, v in {"table6": PAPER_TABLE_VI, "table7": PAPER_TABLE_VII}[name].items()}
    else:
        assert list(table.rows) == list(pt.METHOD_NAMES)  # every method, in the paper's order
        datasets = {d for c in table.columns for d in c if d in pt.DATASET_NAMES}
        assert datasets == set(pt.MEDICAL if name in ("table3", "table4") else
                               pt.NATURAL + pt.MEDICAL if name == "table5" else pt.NATURAL)
    assert table.value(next(iter(table.rows)), table.columns[-1]) == next(iter(table.rows.values()))[-1]
    assert table.value("no such row", table.columns[0]) is None


def test_a_few_cells_read_as_the_paper_prints_them():
    assert pt.TABLE_I.value("trimix", ("Linear", "cifar10")) == 88.39
    assert pt.TABLE_II.value("simclr", ("10%", "tinyimagenet")) == 35.5
    assert pt.TABLE_III.value("barlow_twins", ("Linear", "octmnist")) == 77.50
    assert pt.TABLE_IV.value("byol", ("100%", "bloodmnist")) == 96.11
    assert pt.TABLE_V.value("vicreg", ("cifar100", "octmnist")) == 65.10
    assert pt.TABLE_V.value("trimix", ("tinyimagenet", "bloodmnist")) == 72.46


@pytest.mark.skipif(not PAPER_TEXT.exists(), reason="the paper's text (../shared/paper) is not here")
def test_paper_tables_match_the_paper_text():
    lines = PAPER_TEXT.read_text().splitlines()
    printed = [tuple(float(v) for v in line.split("\t")[1:]) for line in lines
               if re.match(r"^(SimCLR|BYOL|Barlow Twins|VICReg|TriMix\(ours\))\t[\d.]+\t", line)]
    ours = [values for t in (pt.TABLE_I, pt.TABLE_II, pt.TABLE_III, pt.TABLE_IV) for values in t.rows.values()]
    ours += [v[:8] for v in pt.TABLE_V.rows.values()] + [v[8:] for v in pt.TABLE_V.rows.values()]
    assert printed == ours

    def block(header: str) -> list[float]:
        start = lines.index(header) + 1
        return [float(line.split("\t")[-1]) for line in lines[start:start + 6] if "\t" in line]

    assert block("Configuration\tCIFAR10") == [v for (v,) in pt.TABLE_VI.rows.values()]
    assert block("Configuration\tAccuracy") == [v for (v,) in pt.TABLE_VII.rows.values()]


def test_datasets_are_matched_to_the_paper_s():
    assert paper_dataset("cifar10") == "cifar10" and paper_dataset("folder:data/cifar10-jpeg") == "cifar10"
    assert paper_dataset("folder:/x/cifar100_png") == "cifar100" and paper_dataset("shapes") is None
    assert dataset_label("folder:data/cifar10-jpeg") == "CIFAR10 (folder:data/cifar10-jpeg)"
    assert "NOT medical" in dataset_label(STAND_IN)


# ---- plans ----

def test_quick_scale_is_quick_config_whatever_it_holds(monkeypatch):
    for plan in (make_plan("table1", SCALES["quick"]), make_plan("fig4", SCALES["quick"])):
        assert {r.dataset for r in plan.runs} == {quick_config().dataset}
    monkeypatch.setitem(trimix.config.QUICK_OVERRIDES, "width", 4)  # another recipe: the plan follows it
    monkeypatch.setitem(trimix.config.QUICK_OVERRIDES, "max_steps", 30)
    plan = make_plan("table3", SCALES["quick"], seeds=2)
    assert {r.config.width for r in plan.runs} == {4} and {r.dataset for r in plan.runs} == {STAND_IN}
    ignore = {"method", "seed", "out_dir", "dataset"}
    assert [r.config.max_steps for r in plan.runs if r.row == RANDOM_ROW] == [0, 0]  # untrained, seeds 0 and 1
    for run in [r for r in plan.runs if r.row != RANDOM_ROW]:  # an equal budget: only method, seed, folder differ
        assert {k: v for k, v in run.config.to_dict().items() if k not in ignore} == \
               {k: v for k, v in quick_config().to_dict().items() if k not in ignore}


def test_fig4_gives_every_cell_the_same_number_of_images():
    plan = make_plan("fig4", SCALES["quick"])
    n = len(DataCache()(plan.runs[0].dataset, "train"))
    images = [total_steps(r.config, n) * r.config.batch_size for r in plan.runs]
    largest = max(r.config.batch_size for r in plan.runs)  # rounding: at most one batch per epoch
    assert len(plan.runs) == 9 and max(images) - min(images) <= largest * plan.runs[0].config.epochs
    assert len(make_plan("fig4", SCALES["paper"]).runs) == 25 * 4  # the paper's 100 models


def test_paper_scale_is_the_paper_s_configuration():
    plan = make_plan("table1", SCALES["paper"])
    config = plan.runs[0].config
    sizes = (config.width, config.proj_dim, config.proj_layers, config.batch_size, config.epochs)
    assert sizes == (64, 1024, 3, 256, 200)
    assert {r.dataset for r in plan.runs} == set(pt.NATURAL) and len(plan.columns) == 8


def test_a_paper_dataset_gets_the_paper_s_numbers_and_orderings_beside_ours():
    plan = make_plan("table1", SCALES["small"], seeds=2, method_seeds={"vicreg": 1},
                     datasets=["folder:data/cifar10-jpeg"])
    assert [r.row for r in plan.runs].count("vicreg") == 1 and [r.row for r in plan.runs].count("trimix") == 2
    assert plan.columns == [("kNN", "folder:data/cifar10-jpeg"), ("Linear", "folder:data/cifar10-jpeg")]
    knn = {"simclr": 50.0, "byol": 40.0, "barlow_twins": 60.0, "vicreg": 30.0, "trimix": 70.0}  # the paper's order
    knn[RANDOM_ROW] = 0.0  # not in the paper: left out of the orderings
    results = [RunResult(run, {plan.columns[0]: knn[run.row] + run.seed, plan.columns[1]: 80.0 - knn[run.row]},
                         10, 1.0, 1.0, 10, 1) for run in plan.runs]
    text = table_markdown(plan, results, "python -m trimix reproduce table1")
    assert "- kNN CIFAR10 (folder:data/cifar10-jpeg): here TriMix > Barlow Twins > SimCLR > BYOL > VICReg; " \
           "paper TriMix > Barlow Twins > SimCLR > BYOL > VICReg (the same)" in text
    assert "- Linear CIFAR10 (folder:data/cifar10-jpeg): here VICReg > BYOL" in text and "(DIFFERENT)" in text
    assert "| TriMix | **70.50 ± 0.71** | 10.00 ± 0.00 | 2 |" in text and "| VICReg | 30.00 | 50.00 | 1 |" in text
    assert "| random init (no pretraining) | 0.50 ± 0.71 | **80.00 ± 0.00** | 2 |" in text
    cells = {(c["row"], c["group"]): c for c in table_csv(plan, results)}
    assert cells["trimix", "Linear"]["paper"] == 88.39 and cells["vicreg", "kNN"]["paper"] == 77.73
    assert cells[RANDOM_ROW, "kNN"]["paper"] == ""
    assert cells["trimix", "kNN"]["mean"] == 70.5 and cells["trimix", "kNN"]["seeds"] == 2
    assert parse_seeds(["2", "trimix=3"]) == (2, {"trimix": 3}) and parse_seeds(["byol=4"]) == (1, {"byol": 4})


def test_the_random_row_is_the_network_evaluate_random_baseline_scores(tmp_path):
    plan = make_plan("table1", SCALES["quick"], results=tmp_path, changes={"device": "cpu", "width": 4})
    random_run = next(r for r in plan.runs if r.row == RANDOM_ROW)
    data = make_shapes(64, seed=3)
    untrained = pretrain(random_run.config, data=data, progress=False)
    assert untrained.steps == 0 and not (random_run.folder / CHECKPOINT_NAME).exists()
    trimix_run = next(r for r in plan.runs if r.row == "trimix")
    baseline = build_model(trimix_run.config, data.image_size).net  # what `evaluate --random-baseline` builds
    for (name, a), b in zip(untrained.method.net.state_dict().items(), baseline.state_dict().values()):
        assert torch.equal(a, b), name


def test_train_seconds_adds_up_the_logged_intervals():
    history = {"step": [10.0, 20.0, 25.0], "images_per_s": [100.0, 50.0, 100.0]}
    assert train_seconds(history, batch_size=10) == pytest.approx(1.0 + 2.0 + 0.5)
    assert train_seconds({}, 10) == 0.0


def test_an_interrupted_run_resumes_and_a_new_evaluation_reuses_the_checkpoint(tmp_path):
    data = DataCache(max_images=200)
    plan = make_plan("table1", SCALES["quick"], results=tmp_path, changes={"max_steps": 4, "device": "cpu"},
                     eval_epochs=1)
    run = plan.runs[0]
    pretrain(run.config.replace(max_steps=1), data=data(run.dataset, "train"), progress=False)  # "interrupted"
    first = execute(run, data, progress=False)
    assert (first.trained_steps, first.steps, first.evaluated) == (3, 4, 1)
    again = execute(run, data, progress=False)
    assert (again.trained_steps, again.evaluated) == (0, 0) and again.scores == first.scores
    longer = make_plan("table1", SCALES["quick"], results=tmp_path, changes={"max_steps": 4, "device": "cpu"},
                       eval_epochs=2).runs[0]
    rescored = execute(longer, data, progress=False)  # other evaluation settings: scored again, not retrained
    assert (rescored.trained_steps, rescored.evaluated) == (0, 1)
    cache = json.loads((run.folder / SCORES_NAME).read_text())
    assert len(cache["evaluations"]) == 2 and cache["steps"] == 4


# ---- the command, end to end ----

@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    assert main(["reproduce", "all", "--scale", "quick", *KNOBS, "--results", str(results), "--no-progress"]) == 0
    return results


def checkpoint_mtimes(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted(folder.rglob(CHECKPOINT_NAME))}


def markdown_table(text: str, heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading``, header row included, ** removed."""
    lines = text.split(heading, 1)[1].strip().splitlines()
    rows = [line for line in lines[:lines.index("")] if line.startswith("|")]
    return [[c.strip().strip("*") for c in row.strip("|").split("|")] for i, row in enumerate(rows) if i != 1]


@pytest.mark.slow
@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_each_experiment_writes_a_well_formed_table(reproduced, experiment):
    folder = reproduced / experiment / LABEL
    plan = make_plan(experiment, SCALES["quick"])
    text = (folder / "table.md").read_text()
    ours = markdown_table(text, "## This reproduction")
    assert [r[0] for r in ours[1:]] == list(plan.rows.values()) and len(ours[0]) == len(plan.columns) + 3
    for row in ours[1:]:
        assert all(0 <= float(cell) <= 100 for cell in row[1:-2]) and row[-2] == "1" and row[-1].endswith("s")
    with (folder / "table.csv").open() as f:
        cells = list(csv.DictReader(f))
    assert len(cells) == len(plan.rows) * len(plan.columns)
    assert {(c["group"], c["dataset"]) for c in cells} == set(plan.columns)
    assert all(0 <= float(c["mean"]) <= 100 and c["seeds"] == "1" and c["paper"] == "" for c in cells)
    if plan.paper is not None:  # the paper's table beside ours, with its numbers
        theirs = markdown_table(text, f"## The paper (Table {plan.paper.number})")
        assert [[float(v) for v in row[1:]] for row in theirs[1:]] == [list(v) for v in plan.paper.rows.values()]
    else:
        assert "curves only" in text and (folder / "fig4_shapes.png").stat().st_size > 1000
    if experiment in ("table3", "table4", "table5"):
        assert "STAND-IN" in text and "not MedMNIST" in text
    records = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]
    assert len(records) == len(plan.runs)
    for record in records:  # every run trained, but the random encoder
        trained = record["row"] != RANDOM_ROW
        assert (record["steps"] >= 1, record["pretrain_seconds"] > 0) == (trained, trained)
    assert "python -m trimix reproduce " + experiment in (folder / "runs.md").read_text()


@pytest.mark.slow
def test_pretrain_commands_rebuild_each_run_s_configuration(reproduced):
    records = [json.loads(line) for line in (reproduced / "table1" / LABEL / "runs.jsonl").read_text().splitlines()]
    assert [r["pretrain_command"] for r in records if r["row"] == RANDOM_ROW] == [None]  # it trains nothing
    for record in [r for r in records if r["row"] != RANDOM_ROW]:
        argv = shlex.split(record["pretrain_command"])[3:]  # after "python -m trimix"
        config = _config_from_args(make_parser().parse_args(argv))
        for name in (*RESUME_MUST_MATCH, "epochs", "max_steps", "out_dir"):
            assert getattr(config, name) == record["config"][name], name
    stand_in = json.loads((reproduced / "table3" / LABEL / "runs.jsonl").read_text().splitlines()[0])
    assert stand_in["pretrain_command"] is None and stand_in["evaluate_command"] is None


@pytest.mark.slow
def test_a_second_invocation_reuses_every_finished_run(reproduced, capsys):
    before = checkpoint_mtimes(reproduced)
    trained = [r for e in EXPERIMENTS for r in make_plan(e, SCALES["quick"]).runs if r.row != RANDOM_ROW]
    assert len(before) == len(trained)  # the random encoder trains nothing, so it has no checkpoint
    assert main(["reproduce", "all", "--scale", "quick", *KNOBS, "--results", str(reproduced), "--no-progress"]) == 0
    out = capsys.readouterr().out
    runs = sum(len(make_plan(e, SCALES["quick"]).runs) for e in EXPERIMENTS)
    assert "trained" not in out and out.count("reused the finished run") == runs
    assert checkpoint_mtimes(reproduced) == before
    for experiment in EXPERIMENTS:
        for line in (reproduced / experiment / LABEL / "runs.jsonl").read_text().splitlines():
            record = json.loads(line)
            assert record["trained_steps_now"] == 0 and record["scores_computed_now"] == 0


# ---- errors ----

@pytest.mark.parametrize("argv, message", [
    (["table9"], "unknown experiment 'table9'"),
    (["table1", "--scale", "huge"], "unknown scale 'huge'"),
    (["table1", "--seeds", "0"], "--seeds takes N or METHOD=N with N at least 1"),
    (["table1", "--seeds", "1", "moco=3"], "unknown method 'moco'"),
])
def test_bad_input_is_one_clear_line(argv, message, capsys):
    assert main(["reproduce", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_missing_dataset_names_the_download_flag(tmp_path, capsys):
    argv = ["reproduce", "table3", "--scale", "small", "--root", str(tmp_path / "data"), "--results", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "pathmnist not found" in err and "--download" in err and err.count("\n") == 1
    assert not list(tmp_path.rglob(CHECKPOINT_NAME))


def test_paper_scale_on_a_cpu_refuses_without_yes_and_prints_the_projected_time(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("trimix.runs.time_steps", lambda *args, **kwargs: 2.0)  # 2 s per step of 256 images
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    argv = ["reproduce", "table6", "--scale", "paper", "--dataset", "shapes", "--results", str(tmp_path)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    # 5 variants x 200 epochs x (5000 // 256 = 19 steps) x 2 s = 38,000 s
    assert "5 pretraining runs, projected to take about 10 h 33 min" in out
    assert "not started" in err and "--yes" in err and "10 h 33 min" in err
    assert not list(tmp_path.rglob(CHECKPOINT_NAME))
