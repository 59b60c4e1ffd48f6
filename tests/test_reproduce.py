"""``python -m trimix reproduce``: the paper's numbers, the records, the plan (shared encoders), honest caches,
every experiment end to end, reuse, resume, errors.

The end-to-end tests shrink the quick scale with the command's smoke-test knobs (``--max-steps 2
--eval-epochs 1 --max-images 200``), which write into their own results folder.
"""
import csv
import dataclasses
import io
import json
import re
import shlex
from pathlib import Path

import pytest
import torch

import trimix.config
import trimix.provenance
from trimix.__main__ import _config_from_args, main, make_parser
from trimix.checkpoint import CHECKPOINT_NAME
from trimix.config import must_match_fields, quick_config
from trimix.protocols import LinearProbe
from trimix.reproduce import paper_tables as pt
from trimix.reproduce.cli import scale_label
from trimix.reproduce.engine import execute_plan, run_experiments
from trimix.reproduce.plan import make_plan, parse_seeds
from trimix.reproduce.records import EXPERIMENTS, FROZEN, UNTRAINED, Experiment, get_experiments, row
from trimix.reproduce.report import table_csv, table_markdown
from trimix.reproduce.runner import RUN_RECORD, SCORES_NAME, RunResult, StaleRunError, execute, train_seconds
from trimix.reproduce.scales import SCALES, STAND_IN, DataCache, dataset_label, paper_dataset
from trimix.runs import total_steps
from trimix.train import build_method

KNOBS = ["--max-steps", "2", "--eval-epochs", "1", "--max-images", "200"]
LABEL = scale_label("quick", 2, 1, 200)
PAPER_TEXT = Path(__file__).resolve().parents[2] / "shared" / "paper" / "trimix-paper.txt"


def plan_of(*names, scale="quick", **kwargs):
    return make_plan([EXPERIMENTS[n] for n in names], SCALES[scale], **kwargs)


# ---- the paper's numbers and the records ----

@pytest.mark.parametrize("name", list(pt.PAPER_TABLES))
def test_paper_tables_are_well_formed_and_keyed_by_the_records_rows(name):
    table, record = pt.PAPER_TABLES[name], EXPERIMENTS[name]
    assert len(set(table.columns)) == len(table.columns) > 0
    for label, values in table.rows.items():
        assert len(values) == len(table.columns), label
        assert all(isinstance(v, float) and 0 < v < 100 for v in values), label
    assert list(table.rows) == [r.label for r in record.rows if r.pretrained]  # every row, in the paper's order
    if name not in ("table6", "table7"):
        datasets = {d for c in table.columns for d in c if d in pt.DATASET_NAMES}
        assert datasets == set(pt.MEDICAL if name in ("table3", "table4") else
                               pt.NATURAL + pt.MEDICAL if name == "table5" else pt.NATURAL)
    assert table.value("no such row", table.columns[0]) is None


def test_a_few_cells_read_as_the_paper_prints_them():
    assert pt.TABLE_I.value("TriMix", ("Linear", "cifar10")) == 88.39
    assert pt.TABLE_II.value("SimCLR", ("10%", "tinyimagenet")) == 35.5
    assert pt.TABLE_III.value("Barlow Twins", ("Linear", "octmnist")) == 77.50
    assert pt.TABLE_IV.value("BYOL", ("100%", "bloodmnist")) == 96.11
    assert pt.TABLE_V.value("VICReg", ("cifar100", "octmnist")) == 65.10
    assert pt.TABLE_VI.value("TriMix: self-consistency loss only", ("Linear", "cifar10")) == 87.32


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


def test_rows_change_only_real_config_fields():
    for record in EXPERIMENTS.values():
        for r in record.rows if isinstance(record.rows, tuple) else ():
            quick_config().replace(**r.change_dict)  # an unknown field would raise


def test_datasets_are_matched_to_the_paper_s():
    assert paper_dataset("cifar10") == "cifar10" and paper_dataset("folder:data/cifar10-jpeg") == "cifar10"
    assert paper_dataset("folder:/x/cifar100_png") == "cifar100" and paper_dataset("shapes") is None
    assert dataset_label("folder:data/cifar10-jpeg") == "CIFAR10 (folder:data/cifar10-jpeg)"
    assert "NOT medical" in dataset_label(STAND_IN)


# ---- plans: shared encoders, equal budgets ----

def test_tables_ii_v_and_vi_score_table_i_s_encoders():
    plan = plan_of("table1", "table2", "table5", "table6", scale="paper")
    folders = {t.experiment.name: {e.row.label: e.run.folder for e in t.entries if e.source == "cifar10"}
               for t in plan.tables}
    for method in ("SimCLR", "TriMix", "random init (no pretraining)"):
        assert folders["table1"][method] == folders["table2"][method] == folders["table5"][method]
    assert folders["table6"]["TriMix: both losses + feature norms"] == folders["table1"]["TriMix"]
    assert folders["table6"]["Barlow Twins"] == folders["table1"]["Barlow Twins"]
    assert len([r for r in plan.runs if r.pretrained]) == 5 * 4 + 3  # Table VI adds its three variants only
    trimix = next(r for r in plan.runs if r.folder == folders["table1"]["TriMix"])
    assert {e.kind for e in plan.evaluations(trimix)} == {"frozen", "finetune", "transfer"}


def test_all_at_the_paper_scale_trains_each_distinct_encoder_once():
    plan = make_plan(get_experiments("all"), SCALES["paper"])
    pretrained = [r for r in plan.runs if r.pretrained]
    configs = {json.dumps({k: v for k, v in r.config.to_dict().items() if k != "out_dir"}) for r in pretrained}
    assert len(pretrained) == len(configs) == 141  # 20 + 20 (natural, medical) + 3 + 2 (ablations) + 96 (Fig. 4)
    assert len({r.folder for r in plan.runs}) == len(plan.runs)


def test_quick_scale_is_quick_config_whatever_it_holds(monkeypatch):
    plan = plan_of("table1", "fig4")
    assert {r.dataset for r in plan.runs} == {quick_config().dataset}
    monkeypatch.setitem(trimix.config.QUICK_OVERRIDES, "width", 4)  # another recipe: the plan follows it
    monkeypatch.setitem(trimix.config.QUICK_OVERRIDES, "max_steps", 30)
    plan = plan_of("table3", seeds=2)
    assert {r.config.width for r in plan.runs} == {4} and {r.dataset for r in plan.runs} == {STAND_IN}
    assert [r.config.seed for r in plan.runs if not r.pretrained] == [0, 1]
    ignore = {"method", "seed", "out_dir", "dataset"}
    for run in [r for r in plan.runs if r.pretrained]:  # an equal budget: only method, seed, folder differ
        assert {k: v for k, v in run.config.to_dict().items() if k not in ignore} == \
               {k: v for k, v in quick_config().to_dict().items() if k not in ignore}


def test_fig4_gives_every_cell_the_same_number_of_images():
    plan = plan_of("fig4")
    n = len(DataCache()(plan.runs[0].dataset, "train"))
    images = [total_steps(r.config, n) * r.config.batch_size for r in plan.runs]
    largest = max(r.config.batch_size for r in plan.runs)  # rounding: at most one batch per epoch
    assert len(plan.runs) == 9 and max(images) - min(images) <= largest * plan.runs[0].config.epochs
    assert len(plan_of("fig4", scale="paper").runs) == 25 * 4  # the paper's 100 models


def test_method_seeds_give_a_method_s_rows_more_seeds():
    plan = plan_of("table1", "table6", scale="small", seeds=2, method_seeds={"vicreg": 1, "trimix": 3})
    seeds = {t.experiment.name: [e.row.label for e in t.entries] for t in plan.tables}
    assert seeds["table1"].count("VICReg") == 1 and seeds["table1"].count("TriMix") == 3
    assert seeds["table6"].count("TriMix: both losses + feature norms") == 3  # the same encoder as TriMix's
    assert seeds["table6"].count("TriMix: self-consistency loss only") == 2
    assert parse_seeds(["2", "trimix=3"]) == (2, {"trimix": 3}) and parse_seeds(["byol=4"]) == (1, {"byol": 4})


def test_a_new_table_is_a_record_alone(tmp_path):
    """A table the paper does not have, added as data: two rows of a tau sweep, scored frozen, written."""
    record = Experiment("tau", "TriMix's softmax temperature", (row("tau = 0.5", tau=0.5), row("tau = 2"), UNTRAINED),
                        FROZEN)
    plan = make_plan([record], SCALES["quick"].capped(1), results=tmp_path,
                     changes={"max_steps": 2, "device": "cpu", "width": 4, "proj_hidden": 32, "proj_dim": 32})
    assert [r.config.tau for r in plan.runs] == [0.5, 2.0, 2.0] and [r.pretrained for r in plan.runs] == [1, 1, 0]
    results = execute_plan(plan, DataCache(max_images=200), progress=False, log=lambda _: None)
    text = table_markdown(plan.tables[0], plan.scale, results, "test")
    assert "| tau = 0.5 |" in text and "| random init (no pretraining) |" in text and "LinearProbe(epochs=1" in text


# ---- the runner: caches keyed by everything, stale results refused or recomputed ----

def tiny_plan(tmp_path, epochs=1, **changes):
    base = {"max_steps": 4, "device": "cpu", "width": 4, "proj_hidden": 32, "proj_dim": 32, **changes}
    return make_plan([EXPERIMENTS["table1"]], SCALES["quick"].capped(epochs), results=tmp_path, changes=base)


def test_an_interrupted_run_resumes_and_scores_are_reused(tmp_path):
    data, plan = DataCache(max_images=200), tiny_plan(tmp_path)
    run = plan.runs[0]
    first = execute(run, plan.evaluations(run), data, progress=False)
    assert (first.trained_steps, first.steps, first.evaluated) == (4, 4, 1) and first.commit is not None
    again = execute(run, plan.evaluations(run), data, progress=False)
    assert (again.trained_steps, again.evaluated) == (0, 0) and again.scores == first.scores
    other = tiny_plan(tmp_path, max_steps=6)  # the same run (same folder), trained further: old scores are stale
    longer = other.runs[0]
    assert longer.folder == run.folder
    resumed = execute(longer, other.evaluations(longer), data, progress=False)
    assert (resumed.trained_steps, resumed.evaluated) == (2, 1)


def test_a_protocol_change_invalidates_cached_scores(tmp_path):
    data, plan = DataCache(max_images=200), tiny_plan(tmp_path)
    run = plan.runs[0]
    execute(run, plan.evaluations(run), data, progress=False)
    other = tiny_plan(tmp_path, epochs=2)  # the linear probe's epochs: another key, scored again, not retrained
    rescored = execute(run, other.evaluations(other.runs[0]), data, progress=False)
    assert (rescored.trained_steps, rescored.evaluated) == (0, 1)
    scale = dataclasses.replace(SCALES["quick"], linear=LinearProbe(epochs=1, lr=0.01))  # any field counts
    plan3 = make_plan([EXPERIMENTS["table1"]], scale, results=tmp_path, changes={
        "max_steps": 4, "device": "cpu", "width": 4, "proj_hidden": 32, "proj_dim": 32})
    assert execute(run, plan3.evaluations(plan3.runs[0]), data, progress=False).evaluated == 1
    assert len(json.loads((run.folder / SCORES_NAME).read_text())) == 3


def test_new_evaluation_code_rescores_and_new_training_code_refuses_the_checkpoint(tmp_path, monkeypatch):
    data, plan = DataCache(max_images=200), tiny_plan(tmp_path)
    run = plan.runs[0]
    execute(run, plan.evaluations(run), data, progress=False)
    versions = {"training": trimix.provenance.code_version("training"), "evaluation": "0.1.0+changedcode"}
    monkeypatch.setattr("trimix.reproduce.plan.code_version", versions.__getitem__)
    monkeypatch.setattr("trimix.reproduce.runner.code_version", versions.__getitem__)
    assert execute(run, plan.evaluations(run), data, progress=False).evaluated == 1
    versions["training"] = "0.1.0+othertrainer"
    with pytest.raises(StaleRunError, match="other|training code.*Delete"):
        execute(run, plan.evaluations(run), data, progress=False)
    (run.folder / RUN_RECORD).unlink()  # a checkpoint with no record of its code is refused too
    with pytest.raises(StaleRunError, match="no record of its code"):
        execute(run, plan.evaluations(run), data, progress=False)


def test_the_untrained_row_is_the_network_evaluate_random_baseline_scores(tmp_path):
    plan = tiny_plan(tmp_path)
    untrained = next(r for r in plan.runs if not r.pretrained)
    result = execute(untrained, plan.evaluations(untrained), DataCache(max_images=200), progress=False)
    assert result.steps == 0 and not (untrained.folder / CHECKPOINT_NAME).exists()
    trimix_run = next(r for r in plan.runs if r.pretrained and r.config.method == "trimix")
    net = build_method(untrained.config, 32).net  # what `evaluate --random-baseline` builds beside trimix_run
    for (name, a), b in zip(net.state_dict().items(), build_method(trimix_run.config, 32).net.state_dict().values()):
        assert torch.equal(a, b), name


def test_train_seconds_adds_up_the_logged_intervals():
    history = {"step": [10.0, 20.0, 25.0], "images_per_s": [100.0, 50.0, 100.0]}
    assert train_seconds(history, batch_size=10) == pytest.approx(1.0 + 2.0 + 0.5)
    assert train_seconds({}, 10) == 0.0


def test_a_paper_dataset_gets_the_paper_s_numbers_and_orderings_beside_ours():
    plan = plan_of("table1", scale="small", seeds=2, method_seeds={"vicreg": 1},
                   datasets=["folder:data/cifar10-jpeg"])
    table = plan.tables[0]
    assert table.columns == [("kNN", "folder:data/cifar10-jpeg"), ("Linear", "folder:data/cifar10-jpeg")]
    knn = {"SimCLR": 50.0, "BYOL": 40.0, "Barlow Twins": 60.0, "VICReg": 30.0, "TriMix": 70.0,
           UNTRAINED.label: 0.0}  # the paper's order; the untrained row is left out of the orderings
    results = {}
    for e in table.entries:
        key = e.evaluations[0].key()
        results[e.run.folder] = RunResult(e.run, {key: [knn[e.row.label] + e.seed, 80.0 - knn[e.row.label]]}, 10,
                                          1.0, {key: 1.0}, 10, 1, "abc")
    text = table_markdown(table, plan.scale, results, "python -m trimix reproduce table1")
    assert "- kNN CIFAR10 (folder:data/cifar10-jpeg): here TriMix > Barlow Twins > SimCLR > BYOL > VICReg; " \
           "paper TriMix > Barlow Twins > SimCLR > BYOL > VICReg (the same)" in text
    assert "- Linear CIFAR10 (folder:data/cifar10-jpeg): here VICReg > BYOL" in text and "(DIFFERENT)" in text
    assert "| TriMix | **70.50 ± 0.71** | 10.00 ± 0.00 | 2 |" in text and "| VICReg | 30.00 | 50.00 | 1 |" in text
    assert "KNN(k=200, temperature=0.1)" in text and "LinearProbe(epochs=100" in text  # the protocol used
    cells = {(c["row"], c["group"]): c for c in table_csv(table, plan.scale, results)}
    assert cells["TriMix", "Linear"]["paper"] == 88.39 and cells["VICReg", "kNN"]["paper"] == 77.73
    assert cells[UNTRAINED.label, "kNN"]["paper"] == ""
    assert cells["TriMix", "kNN"]["mean"] == 70.5 and cells["TriMix", "kNN"]["seeds"] == 2


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
def test_each_experiment_writes_a_well_formed_table_and_figure(reproduced, experiment):
    folder = reproduced / LABEL / experiment
    table = plan_of(experiment).tables[0]
    text = (folder / "table.md").read_text()
    ours = markdown_table(text, "## This reproduction")
    assert [r[0] for r in ours[1:]] == [r.label for r in table.rows] and len(ours[0]) == len(table.columns) + 3
    chance = 100 / (8 if experiment in ("table3", "table4", "table5") else 10)
    for line in ours[1:]:  # every cell a real score: a stand-in or shapes classifier, near or above chance
        assert all(chance / 3 <= float(cell) <= 100 for cell in line[1:-2]) and line[-2] == "1"
    with (folder / "table.csv").open() as f:
        cells = list(csv.DictReader(f))
    assert len(cells) == len(table.rows) * len(table.columns)
    if table.experiment.paper is not None:  # the paper's table beside ours, with its numbers
        theirs = markdown_table(text, f"## The paper (Table {table.experiment.paper.number})")
        assert [[float(v) for v in row[1:]] for row in theirs[1:]] == [list(v) for v in table.experiment.paper.rows.values()]
        assert (folder / "table.png").stat().st_size > 5000
    else:
        assert "curves only" in text and (folder / "grid_shapes.png").stat().st_size > 5000
    if experiment in ("table3", "table4", "table5"):
        assert "STAND-IN" in text and "not MedMNIST" in text
    records = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]
    assert len(records) == len(table.entries)
    assert "python -m trimix reproduce " + experiment in (folder / "runs.md").read_text()


@pytest.mark.slow
def test_pretrain_commands_rebuild_each_run_s_configuration(reproduced):
    records = [json.loads(line) for line in (reproduced / LABEL / "table1" / "runs.jsonl").read_text().splitlines()]
    assert [r["pretrain_command"] for r in records if r["row"] == UNTRAINED.label] == [None]  # it trains nothing
    for record in [r for r in records if r["row"] != UNTRAINED.label]:
        argv = shlex.split(record["pretrain_command"])[3:]  # after "python -m trimix"
        config = _config_from_args(make_parser().parse_args(argv))
        for name in (*must_match_fields(), "epochs", "max_steps", "out_dir"):
            assert getattr(config, name) == record["config"][name], name
    stand_in = json.loads((reproduced / LABEL / "table3" / "runs.jsonl").read_text().splitlines()[0])
    assert stand_in["pretrain_command"] is None and stand_in["evaluate_command"] is None


@pytest.mark.slow
def test_a_second_invocation_reuses_every_finished_run(reproduced, capsys):
    before = checkpoint_mtimes(reproduced)
    plan = make_plan(get_experiments("all"), SCALES["quick"])
    assert len(before) == len([r for r in plan.runs if r.pretrained])  # one checkpoint per distinct encoder
    assert main(["reproduce", "all", "--scale", "quick", *KNOBS, "--results", str(reproduced), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert ": trained" not in out and "computed" not in out and out.count(": reused (") == len(before)
    assert checkpoint_mtimes(reproduced) == before


def test_plan_prints_each_distinct_run_and_the_projection_without_training(tmp_path, capsys):
    assert main(["reproduce", "table1", "table2", "--scale", "quick", "--plan", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\n5 pretraining runs, projected .+ on cpu\n$", out)
    assert out.count("runs/shapes/") == 5 and "T4 fp16" in out and not list(tmp_path.rglob(CHECKPOINT_NAME))


def test_run_experiments_gives_rows_and_figures_for_notebooks(tmp_path):
    changes = {"max_steps": 2, "device": "cpu", "width": 4, "proj_hidden": 32, "proj_dim": 32}
    out = run_experiments("table7", "quick", results=tmp_path, changes=changes,
                          data=DataCache(max_images=200), progress=False, log=lambda _: None)
    rows = out["table7"].rows()
    assert [r["row"] for r in rows] == [r.label for r in EXPERIMENTS["table7"].rows]
    assert all(set(r) >= {"kNN shapes", "Linear shapes"} for r in rows)
    assert out["table7"].figure().axes


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
    monkeypatch.setattr("trimix.projection.seconds_per_flop", lambda device: (1e-9, "1 GFLOP/s, faked"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    argv = ["reproduce", "table6", "--scale", "paper", "--dataset", "shapes", "--results", str(tmp_path)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "5 pretraining runs, projected to take about" in out and "1 GFLOP/s, faked" in out
    assert "not started" in err and "--yes" in err
    assert not list(tmp_path.rglob(CHECKPOINT_NAME))


def test_cli_options_and_the_resume_check_come_from_config_alone():
    parser = make_parser()
    options = {a.dest for a in parser._subparsers._group_actions[0].choices["pretrain"]._actions}
    fields = {f.name for f in dataclasses.fields(trimix.config.Config) if f.metadata["cli"]}
    assert fields <= options
    assert set(must_match_fields()) >= {"method", "seed", "gather", "sync_bn", "proj_layers"}
    assert not set(must_match_fields()) & {"epochs", "max_steps", "out_dir", "precision", "checkpoint_minutes"}


def test_figure_draws_each_seed_as_a_dot_and_the_paper_as_a_marker():
    from types import SimpleNamespace

    from trimix.reproduce.plots import plot_rows
    from trimix.reproduce.report import Cell

    column = ("kNN", "cifar10")
    paper = SimpleNamespace(value=lambda r, c: {"TriMix": 88.0}.get(r))
    table = SimpleNamespace(columns=[column], rows=[SimpleNamespace(label="TriMix"), SimpleNamespace(label="BYOL")],
                            experiment=SimpleNamespace(paper=paper))
    cells = {("TriMix", column): Cell(40.0, 2.0, (38.0, 40.0, 42.0)), ("BYOL", column): Cell(30.0, None, (30.0,))}
    fig = plot_rows(table, cells, label=lambda t, c: " ".join(c), paper_column=lambda t, c: c)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert sorted(lines["each seed"].get_xdata()) == [30.0, 38.0, 40.0, 42.0]
    assert list(lines["paper (200 epochs)"].get_xdata()) == [88.0]


def test_medical_option_replaces_the_transfer_targets_and_is_in_the_printed_command(monkeypatch):
    import trimix.reproduce.plan as plan_module
    from trimix.reproduce.cli import command_line

    seen = {}

    def capture(records, scale, **kwargs):
        seen["targets"] = [e.dataset for e in plan_module._evaluations(records[0], scale, "cifar10")]
        raise KeyboardInterrupt  # stop before any data is loaded

    monkeypatch.setattr(plan_module, "make_plan", capture)
    with pytest.raises(KeyboardInterrupt):
        main(["reproduce", "table5", "--scale", "small", "--medical", "bloodmnist", "--plan"])
    assert seen["targets"] == ["bloodmnist"]
    command = command_line("table5", "small", ["1"], None, "data", False, None, None, None, ["bloodmnist"])
    assert command.endswith("--medical bloodmnist") and make_parser().parse_args(shlex.split(command)[3:]).medical \
        == ["bloodmnist"]
