"""trimix.assignments grading, without running notebooks: each exercise scored in a fresh process (the
student's function alone, references for the rest), what reaches it and what does not, and the guard."""
import copy
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from trimix.assignments import scoring
from trimix.assignments.conventions import exercise_map, exercises, read
from trimix.assignments.source import program, read_code
from trimix.assignments.workspace import Workspace

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
STUDENT = NOTEBOOKS / "student"
GRADED = sorted({nb for nb in exercise_map(NOTEBOOKS).values()})  # every instructor notebook with exercises


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def references():
    refs = {name: scoring.Reference.read(NOTEBOOKS / name) for name in GRADED}
    owners = {e: refs[nb] for e, nb in exercise_map(NOTEBOOKS).items()}
    return refs, owners


def handed_in(name: str, bodies: dict | None = None, extra: tuple = (), solutions: bool = False):
    """The student copy of ``name`` (or the instructor's, ``solutions``) with some exercise cells rewritten and
    ``extra`` cells put in after the set-up cells, as a student would hand it in."""
    nb = copy.deepcopy(read((NOTEBOOKS if solutions else STUDENT) / name))
    for cell in nb.cells:
        for exercise, body in (bodies or {}).items():
            if f"def my_{exercise}(" in cell.source:
                cell.source = body
    nb.cells[3:3] = [new_code_cell(code) for code in extra]
    return nb


def score(nb, name, references, tmp_path, check_timeout=30):
    refs, owners = references
    with Workspace(tmp_path / "subs", hidden=[NOTEBOOKS]) as ws:
        (tmp_path / "subs").mkdir(exist_ok=True)
        private = ws.root / "1"
        (private / "work").mkdir(parents=True)
        policy = ws.policy(private, scoring=True).to_json()
        return scoring.score(nb, refs[name], owners, exercises(read(NOTEBOOKS / name)), private / "work", private,
                             policy, check_timeout)


# ------------------------------------------------------------------------------------------------ source
def test_a_program_holds_the_function_and_what_it_needs_never_the_other_cells():
    nb = new_notebook(cells=[new_code_cell(c) for c in [
        "import torch\nimport trimix.checks\n%matplotlib inline",
        "EPS = 1e-5\nSCALE = torch.tensor(2.0)\nprint('training...')",
        "trimix.checks.check_f = lambda f: None\nfor k in range(3):\n    K = k",
        "@torch.no_grad()\ndef helper(z):\n    return z / (z.std() + EPS)",
        "%%time\ndef my_f(z):\n    return helper(z) * SCALE + K",
        "def my_f2(z):\n    return my_f(z)",
    ]])
    code = read_code(nb)
    made = program(code, {"my_f"}, until_cell=4)
    assert [st.source.split("\n")[0] for st in made.statements] == [
        "import torch", "EPS = 1e-5", "SCALE = torch.tensor(2.0)", "@torch.no_grad()", "def my_f(z):"]
    assert "cell 2" in made.missing["K"] and "does not run" in made.missing["K"]
    other = program(code, {"my_f2"}, supplied={"my_f"})
    assert other.supplied == {"my_f"} and [st.cell for st in other.statements] == [5]


def test_an_import_is_cut_to_the_names_the_function_needs():
    nb = new_notebook(cells=[new_code_cell("from trimix import viz, widgets, mixing\ndef my_f(x):\n"
                                           "    return mixing.flip(x)")])
    made = program(read_code(nb), {"my_f"})
    assert made.statements[0].source == "from trimix import mixing"


# ------------------------------------------------------------------------------------------------ scoring
@pytest.mark.parametrize("name", GRADED)
def test_the_instructor_notebooks_score_full_marks_and_their_student_copies_none(name, references, tmp_path):
    """Every CHECK cell that needs only the instructor's imports and helpers and my_<name> passes in isolation on
    the solution; one that needs the notebook's state (a trained model...) is recognised as such."""
    outcomes = score(handed_in(name, solutions=True), name, references, tmp_path)
    assert all(o.passed or o.state for o in outcomes.values()), {n: o.message for n, o in outcomes.items()}
    if (STUDENT / name).exists():
        outcomes = score(handed_in(name), name, references, tmp_path)
        assert all("not implemented yet" in o.message for o in outcomes.values() if not o.state)
        assert not any(o.passed for o in outcomes.values())


def test_a_check_that_needs_the_notebooks_state_is_scored_from_the_kernel(references, tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("import trimix\nmodel = trimix.SSLNet(32)\nEPS = 0.5"),
        new_code_cell("def my_f(x):\n    return x", metadata={"nbgrader": {"solution": True, "grade_id": "my_f"}}),
        new_code_cell("# CHECK: f\nassert my_f(model) is model and EPS", metadata={"nbgrader": {
            "grade": True, "grade_id": "check_f", "points": 1}}),
    ])
    ref = scoring.Reference("x.ipynb", read_code(nb), {"f": 2})
    outcome = scoring.plan("f", ref, read_code(nb), {"f": ref})
    assert outcome.state == ["model"] and "only the notebook's run can score it" in outcome.message
    ran = copy.deepcopy(nb)
    ran.cells[2].execution_count = 3
    assert scoring.from_kernel(ran, "f").passed


CHEATS_AT_THE_TOP = {  # each scored 2/2 with stubs before (issue 15); here the exercises stay stubs
    "no-op checks": "import trimix.checks\nfor n in dir(trimix.checks):\n    if n.startswith('check_'):\n"
                    "        setattr(trimix.checks, n, lambda f: None)",
    "fake module": "import sys, types\nfake = types.ModuleType('trimix.checks')\nfake.__getattr__ = "
                   "lambda name: (lambda f: None)\nsys.modules['trimix.checks'] = fake",
    "input transformer": "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'] if lines and "
                         "lines[0].startswith('# CHECK') else lines)",
    "exception handler": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
    "exec of the solutions": "import json, trimix\nfrom pathlib import Path\nnb = json.loads((Path(trimix.__file__)"
                             ".parent.parent / 'notebooks' / '02_mixup_views.ipynb').read_text())\nfor c in "
                             "nb['cells']:\n    if 'BEGIN SOLUTION' in ''.join(c['source']):\n"
                             "        exec(''.join(c['source']))",
}


@pytest.mark.parametrize("cheat", list(CHEATS_AT_THE_TOP))
def test_top_level_code_cannot_change_a_score(cheat, references, tmp_path):
    outcomes = score(handed_in("02_mixup_views.ipynb", extra=[CHEATS_AT_THE_TOP[cheat]]), "02_mixup_views.ipynb",
                     references, tmp_path)
    assert [o.passed for o in outcomes.values()] == [False, False]
    assert all("not implemented yet" in o.message for o in outcomes.values())


MIX = "def my_mix_batch(x, lam):\n"
CHEATS_IN_THE_BODY = [  # (the body of my_mix_batch, words of the message, what the outcome records)
    ("import sys, trimix\n" + MIX + "    sys.setprofile(None)\n    return trimix.mix_batch(x, lam)",
     "the kit's own answer", "kit_answer"),
    ("import json, trimix\nfrom pathlib import Path\n" + MIX + "    ns = {}\n    nb = json.loads((Path(trimix.__file__)"
     ".parent.parent / 'notebooks' / '02_mixup_views.ipynb').read_text())\n    exec(''.join(nb['cells'][8]['source']),"
     " ns)\n    return ns['my_mix_batch'](x, lam)", "refused", "violations"),
    ("import inspect, trimix\n" + MIX + "    ns = {}\n    exec(inspect.getsource(trimix.mixing), ns)\n"
     "    return ns['mix_batch'](x, lam)", "refused", "violations"),
    ("import trimix.checks._core as core\n" + MIX + "    core.close = lambda a, b: True\n    core.what_is_wrong = "
     "lambda *a, **k: None\n    return x", "which the check relies on", "tampered"),
    ("import trimix.checks._core as core\ndef patch(f):\n    core.what_is_wrong = lambda *a, **k: None\n    return f\n"
     "@patch\n" + MIX + "    return x", "which the check relies on", "tampered"),
    ("import subprocess\n" + MIX + "    subprocess.run(['true'])\n    return lam * x + (1 - lam) * x.flip(0)",
     "start a program", "violations"),
    ("import os\n" + MIX + "    os._exit(0)", "ended without a result", None),
    (MIX + "    while True:\n        pass", "did not finish within 5 s", None),
]


@pytest.mark.parametrize("body, words, record", CHEATS_IN_THE_BODY, ids=[w for _, w, _ in CHEATS_IN_THE_BODY])
def test_what_a_function_does_while_graded_is_seen_and_fails_it(body, words, record, references, tmp_path):
    nb = handed_in("02_mixup_views.ipynb", {"mix_batch": body}, solutions=True)
    outcome = score(nb, "02_mixup_views.ipynb", references, tmp_path, check_timeout=5)["mix_batch"]
    assert not outcome.passed and words in outcome.message, outcome.message
    assert record is None or getattr(outcome, record)


def test_one_slip_costs_one_point_and_the_others_say_whose_version_they_used(references, tmp_path):
    biased = ("def my_batch_standardize(z):\n    return (z - z.mean(dim=0)) / z.std(dim=0, unbiased=False)")
    out = score(handed_in("01_barlow_twins.ipynb", {"batch_standardize": biased}, solutions=True),
                "01_barlow_twins.ipynb", references, tmp_path)
    assert {n: o.passed for n, o in out.items()} == {
        "batch_standardize": False, "cross_correlation": True, "off_diagonal_sum": True, "barlow_twins_loss": True}
    assert "biased std" in out["batch_standardize"].message
    assert out["cross_correlation"].uses == ["batch_standardize"]
    assert out["barlow_twins_loss"].uses == ["cross_correlation", "off_diagonal_sum"]
    unstandardised = "def my_mixed_embeddings(z, lam):\n    return lam * z + (1 - lam) * z.flip(0)"
    out = score(handed_in("04_self_consistency_and_objective.ipynb", {"mixed_embeddings": unstandardised},
                          solutions=True), "04_self_consistency_and_objective.ipynb", references, tmp_path)
    assert [o.passed for o in out.values()] == [False, True, True]


@pytest.mark.parametrize("body, words", [
    ("def my_mix_batch_v2(x, lam):\n    return x", "my_mix_batch is not defined"),
    ("def my_mix_batch(x, lam)\n    return x", "is not valid Python"),
    ("if True:\n    def my_mix_batch(x, lam):\n        return lam * x + (1 - lam) * x.flip(0)", "inside a block"),
    ("w = __import__('torch').rand(1).item()\ndef my_mix_batch(x, lam):\n    return lam * x + (1 - lam) * x.flip(0)"
     "\nfor i in range(2):\n    OFFSET = 0\ndef my_mix_batch(x, lam):\n    return lam * x + (1 - lam) * x.flip(0) + "
     "OFFSET", "which the grader does not run"),
])
def test_a_function_the_grader_cannot_load_is_explained(body, words, references, tmp_path):
    nb = handed_in("02_mixup_views.ipynb", {"mix_batch": body}, solutions=True)
    outcome = score(nb, "02_mixup_views.ipynb", references, tmp_path)["mix_batch"]
    assert not outcome.passed and words in outcome.message, outcome.message


def test_helpers_constants_and_aliases_of_honest_work_are_loaded(references, tmp_path):
    body = ("import torch.nn.functional as F\nREVERSE = (0,)\ndef _rev(t):\n    return t.flip(REVERSE)\n\n"
            "def my_mix_batch(x, lam):\n    mixed = lam * x + (1 - lam) * _rev(x)  # eq 5\n    return mixed")
    nb = handed_in("02_mixup_views.ipynb", {"mix_batch": body}, solutions=True)
    assert score(nb, "02_mixup_views.ipynb", references, tmp_path)["mix_batch"].passed


# ------------------------------------------------------------------------------------------------ guard
def test_the_guard_refuses_writes_outside_hidden_reads_and_programs(tmp_path):
    own, other, kit = tmp_path / "1", tmp_path / "2", Path(scoring.__file__).parent
    (own / "work").mkdir(parents=True)
    other.mkdir()
    (other / "x.ipynb").write_text("{}")
    code = f"""
import glob, json, os, subprocess, sys
sys.path.insert(0, {str(kit)!r})
from guard import Policy
Policy(allow=[{str(own)!r}], hidden=[{str(tmp_path)!r}], imports_only=[{str(kit)!r}]).install()
os.chdir({str(own / 'work')!r})
def attempt(f):
    try:
        f()
        return "done"
    except PermissionError as e:
        return "refused"
print(json.dumps([attempt(lambda: open("mine.txt", "w").write("a")),
                  attempt(lambda: open("../private.txt", "w").write("a")),
                  glob.glob("../../*/*.ipynb"),
                  attempt(lambda: open({str(other / 'x.ipynb')!r}).read()),
                  attempt(lambda: open({str(other / 'x.ipynb')!r}, "w")),
                  attempt(lambda: open({str(kit / 'scoring.py')!r}).read()),
                  attempt(lambda: __import__("records")),
                  attempt(lambda: subprocess.run(["true"])),
                  attempt(os.fork),  # %pip's pty fork, refused only at exec, left a second kernel and hung
                  attempt(lambda: open(os.path.expanduser("~/trimix-guard-test"), "w"))]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [
        "done", "done", [], "refused", "refused", "refused", "done", "refused", "refused", "refused"], out.stderr
    assert (other / "x.ipynb").read_text() == "{}"


# ------------------------------------------------------------------------------------------------ workspace
def test_a_private_copy_per_submission_and_the_hand_ins_put_back(tmp_path):
    subs = tmp_path / "subs"
    (subs / "alice" / "week1").mkdir(parents=True)
    notebook, data = subs / "alice" / "week1" / "02.ipynb", subs / "alice" / "week1" / "data.csv"
    notebook.write_text("original")
    data.write_text("1,2")
    (subs / "bob.ipynb").write_text("bob's")
    with Workspace(subs, hidden=[]) as ws:
        private, work = ws.private("alice", notebook)
        assert work.parent == private and (work / "02.ipynb").read_text() == "original"
        assert (work / "data.csv").read_text() == "1,2" and (private / ".tmp").is_dir()
        _, bob = ws.private("bob", subs / "bob.ipynb")
        assert sorted(p.name for p in bob.iterdir()) == ["bob.ipynb"]  # a lone hand-in is copied alone
        notebook.write_text("sabotaged")
        (subs / "bob.ipynb").unlink()
        assert sorted(ws.check_originals()) == sorted([notebook.resolve(), (subs / "bob.ipynb").resolve()])
        assert notebook.read_text() == "original" and (subs / "bob.ipynb").read_text() == "bob's"
        root = ws.root
    assert not root.exists()


def test_cells_of_the_notebooks_read_as_python():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")) + sorted(STUDENT.glob("*.ipynb")):
        assert read_code(nbformat.read(path, as_version=4)).errors == {}, path.name
