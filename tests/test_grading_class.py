"""A class graded end to end: honest work, typical mistakes, each cheat of issue 15, a sabotage, a truncated
file and an endless cell, in one run of ``python -m trimix assignments grade`` (a few minutes: one kernel per
submission). ``build_class`` is also what docs/instructors.md's before/after figures were measured on."""
import copy
import csv
import hashlib
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from trimix import assignments
from trimix.assignments.conventions import check_name, solution_name

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
STUDENT = NOTEBOOKS / "student"
MIX, LAM = "02_mixup_views.ipynb", "estimate_lambda"
CELL_TIMEOUT = 10  # for the cells a student wrote; the instructor's own (the imports) may take longer


def short(path: Path, bodies: dict | None = None, extra: tuple = ()):
    """A notebook cut to its title, set-up cell, ``import torch``, any ``extra`` cells, then its exercise and
    CHECK cells (the rest only makes figures: it would cost each kernel seconds and test nothing more)."""
    nb = copy.deepcopy(nbformat.read(path, as_version=4))
    nb.metadata["trimix_class_notebook"] = path.name
    graded = [c for c in nb.cells if solution_name(c) or check_name(c)]
    nb.cells = nb.cells[:2] + [new_code_cell("import torch\nimport trimix")] + [new_code_cell(e) for e in extra] \
        + graded
    for cell in nb.cells:
        for exercise, body in (bodies or {}).items():
            if f"def my_{exercise}(" in cell.source:
                cell.source = body
    return nb


def stubs(*extra: str, bodies: dict | None = None):
    return short(STUDENT / MIX, bodies, extra)


def solved(name: str = MIX, bodies: dict | None = None, extra: tuple = ()):
    return short(NOTEBOOKS / name, bodies, extra)


STUBS = {e: next(c.source for c in nbformat.read(STUDENT / MIX, as_version=4).cells if f"def my_{e}(" in c.source)
         for e in ("mix_batch", LAM)}
EXEC_SOLUTIONS = ("\n\nimport json, trimix\nfrom pathlib import Path\nsource = Path(trimix.__file__).parent.parent / "
                  f"'notebooks' / {MIX!r}\nfor cell in json.loads(source.read_text())['cells']:\n"
                  "    if 'BEGIN SOLUTION' in ''.join(cell['source']):\n        exec(''.join(cell['source']))")
KIT_WITHOUT_PROFILER = "import sys\nimport trimix\ndef my_mix_batch(x, lam):\n    sys.setprofile(None)\n" \
                       "    return trimix.mix_batch(x, lam)"
CLASS = {  # student -> (notebook, how it is handed in: a folder or a lone file)
    "honest": lambda: solved(),
    "honest_variant": lambda: solved(bodies={
        "mix_batch": "import torch.nn.functional as F\nREVERSED = (0,)\n\ndef _partner(x):\n    return x.flip(REVERSED)"
                     "\n\ndef my_mix_batch(x, lam):\n    return lam * x + (1 - lam) * _partner(x)",
        LAM: "def my_estimate_lambda(x, x_vrt):\n    d = (x - x.flip(0)).reshape(-1)\n    r = (x_vrt - x.flip(0))"
             ".reshape(-1)\n    return (r @ d / (d @ d)).item()"}, extra=["import os\nos.makedirs('figures', "
                                                                          "exist_ok=True)"]),
    "biased_std": lambda: solved("01_barlow_twins.ipynb", {"batch_standardize": "def my_batch_standardize(z):\n"
                                 "    return (z - z.mean(dim=0)) / z.std(dim=0, unbiased=False)"}),
    "no_standardising": lambda: solved("04_self_consistency_and_objective.ipynb", {
        "mixed_embeddings": "def my_mixed_embeddings(z, lam):\n    return lam * z + (1 - lam) * torch.flip(z, dims=(0,))"}),
    "swapped_lam": lambda: solved(bodies={"mix_batch": "def my_mix_batch(x, lam):\n    return (1 - lam) * x + lam * "
                                                       "torch.flip(x, dims=(0,))"}),
    "tensor_lambda": lambda: solved(bodies={LAM: "def my_estimate_lambda(x, x_vrt):\n    d = (x - x.flip(0)).flatten()"
                                                 "\n    return (x_vrt - x.flip(0)).flatten() @ d / (d @ d)"}),
    "per_sample": lambda: solved(bodies={LAM: "def my_estimate_lambda(x, x_vrt):\n    d = (x - x.flip(0)).flatten(1)\n"
                                              "    r = (x_vrt - x.flip(0)).flatten(1)\n"
                                              "    return float(((r * d).sum(1) / (d * d).sum(1)).nanmean())"}),
    "cheat_noop": lambda: stubs("import trimix.checks\nfor name in dir(trimix.checks):\n    if name.startswith('check_')"
                                ":\n        setattr(trimix.checks, name, lambda f: None)"),
    "cheat_modules": lambda: stubs("import sys, types\nfake = types.ModuleType('trimix.checks')\nfake.__getattr__ = "
                                   "lambda name: (lambda f: None)\nsys.modules['trimix.checks'] = fake"),
    "cheat_transformer": lambda: stubs("get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'] if "
                                       "lines and lines[0].startswith('# CHECK') else lines)"),
    "cheat_handler": lambda: stubs("get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"),
    "cheat_profiler": lambda: stubs(bodies={"mix_batch": KIT_WITHOUT_PROFILER}),
    "cheat_exec": lambda: stubs(bodies={e: STUBS[e] + EXEC_SOLUTIONS for e in STUBS}),  # after each stub
    "sabotage": lambda: solved(extra=["import glob\nfor path in glob.glob('../*/02_mixup_views.ipynb') + glob.glob("
                                      "'../../*/*/02_mixup_views.ipynb'):\n    open(path, 'w').write('{}')"]),
    "endless": lambda: solved(extra=["while True:\n    pass"]),
}
ALONE = {"honest_variant", "swapped_lam"}  # handed in as <student>.ipynb rather than <student>/<notebook>


def build_class(folder: Path) -> dict[str, Path]:
    """Write the class into ``folder``; returns student -> the file handed in."""
    handed = {}
    for student, make in CLASS.items():
        nb = make()
        name = nb.metadata["trimix_class_notebook"]
        path = folder / f"{student}.ipynb" if student in ALONE else folder / student / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        handed[student] = path
    truncated = folder / "truncated" / MIX
    truncated.parent.mkdir()
    truncated.write_text(nbformat.writes(solved())[:3000])  # a hand-in cut short
    handed["truncated"] = truncated
    return handed


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    handed = build_class(folder / "submitted")
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in handed.values()}
    out = folder / "grades"
    assert assignments.main(["grade", str(folder / "submitted"), "--out", str(out), "--jobs", "2",
                             "--timeout", str(CELL_TIMEOUT)]) == 0
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    return rows, out, before


EXPECTED = {  # student -> points per exercise, in the order of the columns that student's notebook fills
    "honest": (1, 1), "honest_variant": (1, 1), "biased_std": (0, 1, 1, 1), "no_standardising": (0, 1, 1),
    "swapped_lam": (0, 1), "tensor_lambda": (1, 0), "per_sample": (1, 0), "cheat_noop": (0, 0),
    "cheat_modules": (0, 0), "cheat_transformer": (0, 0), "cheat_handler": (0, 0), "cheat_profiler": (0, 0),
    "cheat_exec": (0, 0), "sabotage": (1, 1), "endless": (1, 1), "truncated": (0, 0),
}
FLAGGED = {"cheat_noop": "trimix.checks", "cheat_modules": "sys.modules", "cheat_transformer": "IPython's shell",
           "cheat_handler": "IPython's shell", "cheat_profiler": "sys.setprofile", "cheat_exec": "__file__",
           "sabotage": "outside the notebook's folder"}


@pytest.mark.slow
def test_each_student_scores_what_their_own_work_is_worth(graded):
    rows, _, _ = graded
    assert set(rows) == set(EXPECTED)
    columns = {"01": ["batch_standardize", "cross_correlation", "off_diagonal_sum", "barlow_twins_loss"],
               "02": ["mix_batch", LAM], "04": ["mixed_embeddings", "self_consistency_loss", "trimix_loss"]}
    for student, points in EXPECTED.items():
        names = next(c for c in columns.values() if len(c) == len(points) and (len(points) != 2 or "mix_batch" in c))
        assert tuple(int(rows[student][n]) for n in names) == points, student
        assert int(rows[student]["total"]) == sum(points), student


@pytest.mark.slow
def test_the_review_column_names_each_cheat_and_nothing_else(graded):
    rows, _, _ = graded
    assert {s for s, r in rows.items() if r["review"]} == set(FLAGGED)
    for student, words in FLAGGED.items():
        assert words in rows[student]["review"], (student, rows[student]["review"])
    assert "my_mix_batch called the kit's mix_batch" in rows["cheat_profiler"]["review"]


@pytest.mark.slow
def test_hand_ins_are_untouched_and_a_broken_one_fails_alone(graded):
    _, out, before = graded
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in before} == before
    md = (out / "grades.md").read_text()
    assert f"truncated: {MIX} is not a notebook that can be read" in md


@pytest.mark.slow
def test_feedback_files_say_what_was_wrong_and_what_stood_in(graded):
    _, out, _ = graded
    feedback = {p.stem: p.read_text() for p in (out / "feedback").glob("*.md")}
    assert set(feedback) == set(EXPECTED)
    assert "graded with the reference batch_standardize; yours is wrong, see exercise 1" in feedback["biased_std"]
    assert "biased std" in feedback["biased_std"] and "## 01_barlow_twins.ipynb: 3 / 4" in feedback["biased_std"]
    assert f"## {MIX}: 0 / 2\n\n- not handed in" in feedback["biased_std"]
    assert "graded with the reference mixed_embeddings" in feedback["no_standardising"]
    assert "not a Python float" in feedback["tensor_lambda"]
    assert "one estimate per sample" in feedback["per_sample"]
    assert "lam and 1 - lam are swapped" in feedback["swapped_lam"]
    assert f"ran past its {CELL_TIMEOUT} s limit" in feedback["endless"] and "`while True:`" in feedback["endless"]
    assert "sys.modules" not in feedback["cheat_modules"]  # the review is for the instructor
