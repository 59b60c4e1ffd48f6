"""trimix.assignments: student copies (no solutions, in sync, runnable up to their first exercise) and grading."""
import argparse
import asyncio
import copy
import csv
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Empty

import nbformat
import pytest
from jupyter_client.channels import AsyncZMQSocketChannel
from nbformat.v4 import new_code_cell, new_notebook, new_output

from trimix import assignments
from trimix.assignments import grading, student
from trimix.assignments.conventions import BEGIN, END, check_name, exercise_map
from trimix.assignments.execute import POLL_S, PollingChannel, execute
from trimix.assignments.report import write_tables
from trimix.assignments.student import make_student_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
STUDENT = NOTEBOOKS / "student"
NAMES = sorted(p.name for p in STUDENT.glob("*.ipynb"))  # 01-04, the notebooks whose sources ask for a copy
EXERCISES = exercise_map(NOTEBOOKS)


def read(path: Path):
    return nbformat.read(path, as_version=4)


def solution_lines(nb) -> list[str]:
    lines, inside = [], False
    for cell in nb.cells:
        for line in cell.source.split("\n") if cell.cell_type == "code" else []:
            if line.strip() in (BEGIN, END):
                inside = line.strip() == BEGIN
            elif inside and line.strip():
                lines.append(line.strip())
    return lines


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # executed kernels inherit it; this machine is shared


# ------------------------------------------------------------------------------------ student copies
@pytest.mark.parametrize("name", NAMES)
def test_student_copy_has_no_solution_code_and_keeps_everything_else(name):
    instructor = read(NOTEBOOKS / name)
    student = make_student_notebook(instructor)
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert BEGIN not in code and END not in code
    solutions = solution_lines(instructor)
    elsewhere = {line.strip() for c in make_student_notebook(instructor).cells for line in c.source.split("\n")
                 if "exercise" not in c.metadata.get("tags", [])}  # e.g. a later cell that shows v = ...
    leaked = [line for line in solutions if line not in elsewhere and line in {x.strip() for x in code.split("\n")}]
    assert solutions and not leaked
    exercise_code = "\n".join(c.source for c in student.cells if "exercise" in c.metadata.get("tags", []))
    assert not [line for line in solutions if line in {x.strip() for x in exercise_code.split("\n")}]
    exercises = [n for n, nb in EXERCISES.items() if nb == name]
    assert [check_name(c) for c in student.cells if check_name(c)] == exercises
    for exercise in exercises:
        cell = next(c for c in student.cells if f"def my_{exercise}(" in c.source)
        original = next(c for c in instructor.cells if f"def my_{exercise}(" in c.source)
        assert cell.source.split("# YOUR CODE HERE")[0] == original.source.split(BEGIN)[0]  # signature, docstring
        assert f'raise NotImplementedError("my_{exercise}: ' in cell.source and "# YOUR CODE HERE" in cell.source
    assert len(student.cells) == len(instructor.cells)
    for a, b in zip(instructor.cells, student.cells):
        if BEGIN not in a.source:
            assert a.source == b.source or "/notebooks/student/" in b.source
        assert not b.get("outputs") and b.get("execution_count") is None
    assert "/notebooks/student/" + name in student.cells[0].source  # the Colab badge opens the student copy


def test_make_student_notebook_is_pure_and_idempotent():
    instructor = read(NOTEBOOKS / NAMES[0])
    before = copy.deepcopy(instructor)
    student = make_student_notebook(instructor)
    assert instructor == before
    assert make_student_notebook(student) == student


def test_unbalanced_markers_are_refused():
    nb = new_notebook(cells=[new_code_cell(f"def my_f(x):\n    {BEGIN}\n    return x\n")])
    with pytest.raises(ValueError, match="without"):
        make_student_notebook(nb)


def test_the_assignments_command_writes_the_committed_student_copies(tmp_path):
    """`python -m trimix assignments build`, from the instructor notebooks, gives what notebooks/build.py wrote."""
    assert len(NAMES) >= 4
    assert assignments.main(["build", str(tmp_path), "--source", str(NOTEBOOKS), "--notebooks", *NAMES]) == 0
    for name in NAMES:
        assert (tmp_path / name).read_text() == (STUDENT / name).read_text(), name


def test_hints_come_from_the_exercise_cells_metadata():
    nb = new_notebook(cells=[new_code_cell(f"def my_f(x):\n    {BEGIN}\n    return x\n    {END}\n",
                                           metadata={"hint": "return what you get"})])
    cell = make_student_notebook(nb).cells[0]
    assert 'raise NotImplementedError("my_f: return what you get")' in cell.source and "hint" not in cell.metadata
    assert "hint" in nb.cells[0].metadata  # the instructor's notebook keeps it
    nb.cells[0].metadata = {}
    assert f'"my_f: {student.DEFAULT_HINT}"' in make_student_notebook(nb).cells[0].source


def test_exercises_map_to_notebooks_from_their_metadata(tmp_path):
    assert EXERCISES["mix_batch"] == "02_mixup_views.ipynb" and EXERCISES["total_steps"] == "00_setup.ipynb"
    exercise = new_code_cell(f"def my_g():\n    {BEGIN}\n    pass\n    {END}",
                             metadata={"nbgrader": {"solution": True, "grade_id": "my_g"}})
    nbformat.write(new_notebook(cells=[exercise]), tmp_path / "x.ipynb")
    assert exercise_map(tmp_path) == {"g": "x.ipynb"}
    exercise.metadata = {}  # the markers alone do not make an exercise: its metadata does
    nbformat.write(new_notebook(cells=[exercise]), tmp_path / "x.ipynb")
    assert exercise_map(tmp_path) == {}


def test_build_writes_every_notebook_with_exercises_by_default(tmp_path):
    written = student.build(tmp_path, NOTEBOOKS)
    assert {p.name for p in written} >= set(NAMES)
    assert all(BEGIN not in p.read_text() for p in written)
    assert assignments.main(["build", str(tmp_path), "--notebooks", "no_such_notebook"]) == 2


def run_to_first_check(name: str, folder: Path):
    """Execute the student copy ``name`` up to and including its first CHECK cell."""
    nb = read(STUDENT / name)
    first_check = next(i for i, c in enumerate(nb.cells) if check_name(c))
    nb.cells = nb.cells[: first_check + 1]
    folder.mkdir()
    return nb, first_check, execute(nb, folder, timeout=300).stopped


def test_student_copies_run_up_to_their_first_exercise(tmp_path):
    with ThreadPoolExecutor(len(NAMES)) as pool:  # four kernels at once: most of the time goes into starting them
        runs = dict(zip(NAMES, pool.map(lambda n: run_to_first_check(n, tmp_path / n), NAMES)))
    for name, (nb, first_check, stopped) in runs.items():
        assert stopped is None, (name, stopped)
        errors = [(i, o) for i, c in enumerate(nb.cells) for o in c.get("outputs", []) if o.output_type == "error"]
        assert [i for i, _ in errors] == [first_check], (name, errors)  # nothing fails before the first CHECK
        error = errors[0][1]
        assert error.ename == "CheckFailed" and "not implemented yet" in error.evalue, (name, error)


# ------------------------------------------------------------------------------------------ grading
def check_cell(name, points=1):
    cell = new_code_cell(f"# CHECK: {name}\ncheck_{name}(my_{name})")
    cell.metadata["nbgrader"] = {"grade": True, "points": points}
    return cell


def test_prepare_restores_moves_and_adds_the_instructor_checks():
    ex = [grading.Exercise(n, "x.ipynb", 1.0, check_cell(n)) for n in ("a", "b", "c")]
    submitted = new_notebook(cells=[
        new_code_cell("def my_b():\n    pass"),
        new_code_cell("# CHECK: b\nprint('b: correct')"),  # edited by the student
        new_code_cell("def my_a():\n    pass", outputs=[new_output("stream", text="old")], execution_count=3),
    ])
    nb = grading.prepare(submitted, ex)
    assert [c.source.split("\n")[0] for c in nb.cells] == [
        "def my_b():", "# CHECK: b", "def my_a():", "# CHECK: a", "# CHECK: c"]
    assert nb.cells[1].source == "# CHECK: b\ncheck_b(my_b)"
    assert nb.cells[2].outputs == [] and nb.cells[2].execution_count is None


def test_a_cell_over_its_limit_is_interrupted_and_named_and_the_run_goes_on(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("import time\nwhile True:\n    time.sleep(0.1)"),
                             new_code_cell("print('after', x)")])
    run = execute(nb, tmp_path, timeout=3)
    assert [(i, line) for i, line, _ in run.timeouts] == [(1, "import time")] and run.stopped is None
    assert "ran past its 3 s limit" in nb.cells[1].outputs[-1].evalue
    assert nb.cells[2].outputs[0].text == "after 1\n"  # the kernel was interrupted, not lost
    nb = new_notebook(cells=[new_code_cell("import time; time.sleep(4); print('done')")])
    assert execute(nb, tmp_path, timeout=2, total=60, long_cells=frozenset({0})).timeouts == []  # an instructor cell
    assert nb.cells[0].outputs[0].text == "done\n"


def test_the_notebook_limit_leaves_the_last_cells_unrun_and_output_is_capped(tmp_path):
    nb = new_notebook(cells=[new_code_cell("print('x' * 100, end='')\nfor i in range(5000): print(i)"),
                             new_code_cell("import time; time.sleep(60)"), new_code_cell("print('never')")])
    run = execute(nb, tmp_path, timeout=60, total=8, output_limit=2000)
    assert run.capped == [0] and "kept the first 2000 characters" in nb.cells[0].outputs[-1].text
    assert sum(len(o.get("text", "")) for o in nb.cells[0].outputs) < 3000
    assert run.stopped and "cells 2 to 2 did not run" in run.stopped and not nb.cells[2].outputs


def test_a_missed_wake_up_costs_one_poll_not_the_whole_timeout(monkeypatch):
    """The stall of jupyter/nbclient#312: the first wait sees nothing until its timeout, though the reply is
    there; a fresh poll gets it. The grader's channel polls again after POLL_S seconds."""
    waits = []

    async def stalled_then_ready(self, timeout=None):
        waits.append(timeout)
        if len(waits) == 1:
            await asyncio.sleep(timeout)
            raise Empty
        return {"reply": True}

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", stalled_then_ready)
    channel = PollingChannel.__new__(PollingChannel)  # no socket needed: the parent's get_msg is replaced
    start = time.monotonic()
    assert asyncio.run(channel.get_msg(timeout=30)) == {"reply": True}
    assert time.monotonic() - start < 5 * POLL_S and waits[0] <= POLL_S

    async def never(self, timeout=None):
        await asyncio.sleep(timeout)
        raise Empty

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", never)
    start = time.monotonic()
    with pytest.raises(Empty):  # the caller's timeout still holds
        asyncio.run(channel.get_msg(timeout=3 * POLL_S))
    assert 3 * POLL_S <= time.monotonic() - start < 5 * POLL_S


def test_read_exercises_takes_names_and_points_from_the_check_cells_metadata():
    exercises = grading.read_exercises(NOTEBOOKS / "02_mixup_views.ipynb")
    assert [(e.name, e.points, e.notebook) for e in exercises] == [
        ("mix_batch", 1.0, "02_mixup_views.ipynb"), ("estimate_lambda", 1.0, "02_mixup_views.ipynb")]
    assert all(check_name(e.cell) == e.name for e in exercises)


def test_submissions_by_folder_or_by_file_and_matched_by_content(tmp_path):
    (tmp_path / "alice" / "week1").mkdir(parents=True)
    shutil.copy(STUDENT / NAMES[1], tmp_path / "alice" / "week1" / NAMES[1])
    shutil.copy(STUDENT / NAMES[2], tmp_path / "bob.ipynb")
    (tmp_path / "alice" / ".ipynb_checkpoints").mkdir()
    shutil.copy(STUDENT / NAMES[1], tmp_path / "alice" / ".ipynb_checkpoints" / NAMES[1])
    found = grading.find_submissions(tmp_path)
    assert found == {"alice": [tmp_path / "alice" / "week1" / NAMES[1]], "bob": [tmp_path / "bob.ipynb"]}
    by_notebook = {n: grading.read_exercises(NOTEBOOKS / n) for n in NAMES}
    assert grading.match_notebook(tmp_path / "bob.ipynb", read(tmp_path / "bob.ipynb"), by_notebook) == NAMES[2]
    assert grading.match_notebook(tmp_path / "x.ipynb", new_notebook(), by_notebook) is None


def test_grading_gives_full_marks_to_the_instructor_notebook_and_zero_to_the_student_copy(tmp_path):
    """Notebook 02 (the quickest) handed in twice: the instructor's copy in a student folder, and the untouched
    student copy as a single file (the two layouts the grader reads)."""
    name = "02_mixup_views.ipynb"
    subs = tmp_path / "submitted"
    (subs / "instructor").mkdir(parents=True)
    shutil.copy(NOTEBOOKS / name, subs / "instructor" / name)
    shutil.copy(STUDENT / name, subs / "student.ipynb")
    out = tmp_path / "grades"
    assert assignments.main(["grade", str(subs), "--out", str(out), "--source", str(NOTEBOOKS),
                             "--timeout", "300", "--jobs", "2"]) == 0
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert rows == {
        "instructor": {"student": "instructor", "mix_batch": "1", "estimate_lambda": "1", "total": "2", "max": "2",
                       "review": ""},
        "student": {"student": "student", "mix_batch": "0", "estimate_lambda": "0", "total": "0", "max": "2",
                    "review": ""},
    }
    md = (out / "grades.md").read_text()
    assert "| student | mix_batch | estimate_lambda | total | max | review |" in md
    assert "### instructor: 2 / 2" in md and "every check passes" in md
    assert "### student: 0 / 2" in md and "my_mix_batch is not implemented yet" in md
    assert (out / "executed" / "student" / "student.ipynb").is_file()
    assert "0 / 2" in (out / "feedback" / "student.md").read_text()


def test_a_missing_notebook_scores_zero_with_a_note(tmp_path):
    exercises = grading.read_exercises(NOTEBOOKS / NAMES[1])
    grades = grading.Grades(exercises, scores={"dan": {e.name: 0.0 for e in exercises}},
                                feedback={"dan": {e.name: f"{NAMES[1]} not handed in" for e in exercises}})
    csv_path, md_path = write_tables(grades, tmp_path)
    assert csv_path.read_text().splitlines()[1] == "dan,0,0,0,2,"
    assert "not handed in" in md_path.read_text()


def test_register_adds_the_assignments_command():
    parser = argparse.ArgumentParser(prog="python -m trimix")
    assignments.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["assignments", "grade", "subs", "--jobs", "2", "--check-timeout", "5"])
    assert args.func is assignments.cmd_grade and args.jobs == 2 and args.out == "grades"
    assert args.check_timeout == 5 and args.timeout is None  # None: the quick or --full default
    args = parser.parse_args(["assignments", "build", "out"])
    assert args.func is assignments.cmd_build and args.outdir == "out"
