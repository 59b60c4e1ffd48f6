"""Grading handed-in notebooks (docs/instructors.md): each submission is matched with its instructor notebook,
run in a private copy for its outputs, scored exercise by exercise out of its reach, and reviewed.

For each submission:

1. its notebook is read once, into memory; a file that is not a notebook fails alone, with its name;
2. a private copy of its folder is made (``workspace``) and the notebook runs there, with the instructor's
   CHECK cells in place of the student's, each cell and the whole notebook within a time limit, behind the
   grader's guard (``execute``); the executed copy is kept for the instructor;
3. each exercise is scored in its own fresh process that loads only the student's function and what it needs,
   with the instructor's solutions standing in for the other exercises (``scoring``);
4. its code is read for what a human should look at (``review``).

nbgrader's ``autograde`` restores locked test cells too (its ``OverwriteCells``), but from its gradebook
database; ours takes them from the instructor notebook, and also puts each check back after the cell that
defines the student's function, where the student may have moved it.
"""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from trimix.assignments.conventions import (
    check_name,
    default_source,
    exercise_names,
    graded_name,
    instructor_notebooks,
    is_code,
    read,
    write,
)
from trimix.assignments.execute import Run, execute
from trimix.assignments.feedback import assemble
from trimix.assignments.records import Exercise, Grades
from trimix.assignments.report import write_tables
from trimix.assignments.review import review
from trimix.assignments.scoring import Reference, close_zygotes, is_check, score
from trimix.assignments.scoring import Outcome as Scored
from trimix.assignments.workspace import Workspace

__all__ = ["Exercise", "Grades", "grade", "prepare", "read_exercises", "find_submissions", "match_notebook"]


@dataclass
class Limits:
    """Seconds: per cell and per notebook when a notebook runs, and per exercise when it is scored. A cell as
    the instructor wrote it (that calls no ``my_`` function) may take what is left of the notebook's limit:
    notebook 05 trains for minutes on a CPU in quick mode. A cell the student wrote or changed, and a CHECK
    cell, get ``cell``: in quick mode the notebooks' own exercise and check cells take well under a second."""

    cell: float = 60
    notebook: float = 2700
    check: float = 60


def long_cells(ran, instructor) -> frozenset[int]:
    """The cells of ``ran`` that are the instructor's own, unchanged, and call no exercise function."""
    theirs = {c.source.strip() for c in instructor.cells if c.cell_type == "code"}
    return frozenset(i for i, c in enumerate(ran.cells) if c.cell_type == "code" and c.source.strip() in theirs
                     and not check_name(c) and "my_" not in c.source)


@dataclass
class Outcome:
    """One submission, graded."""

    scores: dict[str, Scored]
    run: Run
    review: list[str] = field(default_factory=list)


def read_exercises(path: Path) -> list[Exercise]:
    """The exercises of an instructor notebook, from the nbgrader metadata of its CHECK cells."""
    cells = [c for c in read(path).cells if graded_name(c)]
    return [Exercise(graded_name(c), Path(path).name, float(c.metadata["nbgrader"].get("points", 1)), c, number)
            for number, c in enumerate(cells, 1)]


def find_submissions(folder: Path, skip: Path | None = None) -> dict[str, list[Path]]:
    """student -> notebooks: one sub-folder per student (searched at any depth), or one file per student."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"no folder of submissions at {folder}")
    found: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")) or (skip and entry.resolve() == skip.resolve()):
            continue
        if entry.is_dir():
            nbs = [p for p in sorted(entry.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]
        else:
            nbs = [entry] if entry.suffix == ".ipynb" else []
        if nbs:
            found.setdefault(entry.stem if entry.is_file() else entry.name, []).extend(nbs)
    return found


def match_notebook(path: Path, nb, by_notebook: dict[str, list[Exercise]]) -> str | None:
    """The instructor notebook a submission is a copy of: most exercises in common, then the file name."""
    names = {n for c in nb.cells for n in exercise_names(c) + [check_name(c)] if n}
    overlap = {key: len(names & {e.name for e in exs}) for key, exs in by_notebook.items()}
    best = max(overlap.values(), default=0)
    candidates = [k for k, v in overlap.items() if v == best] if best else list(by_notebook)
    named = [k for k in candidates if path.name.endswith(k) or Path(k).stem in path.stem]
    return (named or candidates)[0] if (best or named) else None


def prepare(nb, exercises: list[Exercise]):
    """The submission with its CHECK cells replaced by the instructor's: each one right after the (last) cell
    defining ``my_<name>``, or at the end when the student removed that function. Outputs cleared."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if not check_name(c)]
    last_def = {n: i for i, c in enumerate(cells) for n in exercise_names(c)}
    placed = {i: [e for e in exercises if last_def.get(e.name) == i] for i in set(last_def.values())}
    nb.cells = []
    for i, cell in enumerate(cells):
        if is_code(cell):
            cell.outputs, cell.execution_count = [], None
        nb.cells.append(cell)
        nb.cells += [copy.deepcopy(e.cell) for e in placed.get(i, [])]
    nb.cells += [copy.deepcopy(e.cell) for e in exercises if e.name not in last_def]
    return nb


class Grader:
    """The instructor notebooks, read once, and how to grade one submission against them."""

    def __init__(self, source: Path | None, limits: Limits, quick: bool = True, kernel: str = "python3"):
        self.source = Path(source or default_source())
        paths = instructor_notebooks(self.source)
        self.notebooks = {p.name: read(p) for p in paths}
        self.by_notebook = {p.name: read_exercises(p) for p in paths}
        self.references = {p.name: Reference.read(p) for p in paths}
        self.owners = {e.name: self.references[key] for key, exs in self.by_notebook.items() for e in exs}
        self.limits, self.quick, self.kernel = limits, quick, kernel

    def grade_one(self, workspace: Workspace, student: str, path: Path, key: str, nb, executed: Path) -> Outcome:
        """Run, score and review one submission (``nb``, read from ``path``, a copy of notebook ``key``)."""
        exercises = self.by_notebook[key]
        private, work = workspace.private(student, path)
        ran = prepare(nb, exercises)
        run = execute(ran, work, timeout=self.limits.cell, total=self.limits.notebook, quick=self.quick,
                      kernel=self.kernel, env=workspace.kernel_env(private),
                      long_cells=long_cells(ran, self.notebooks[key]))
        executed.parent.mkdir(parents=True, exist_ok=True)
        write(ran, executed)
        run.errors = [e for e in run.errors if not check_name(ran.cells[e[0]])]  # failed checks: in the scores
        env = {"TRIMIX_QUICK": "1"} if self.quick else {}
        scores = score(nb, self.references[key], self.owners, [e.name for e in exercises], work, private,
                       workspace.policy(private, scoring=True).to_json(), self.limits.check, env, ran, run.stopped)
        return Outcome(scores, run, review(nb, set(self.owners), skip=is_check))


def _read_all(students: dict[str, list[Path]], grader: Grader, workspace: Workspace, warnings: list) -> dict:
    """(student, notebook) -> (path, nb or the reason it could not be read), every file read before any runs."""
    import nbformat

    tasks: dict[tuple[str, str], tuple[Path, object]] = {}
    for student, paths in students.items():
        for path in paths:
            try:
                nb = nbformat.reads(workspace.keep(path).decode("utf-8"), as_version=4)
            except Exception as e:  # truncated JSON, not UTF-8, not a notebook at all
                nb, reason = None, f"{path.name} is not a notebook that can be read ({type(e).__name__}: " \
                                   f"{str(e).strip().splitlines()[0][:160] if str(e).strip() else ''})"
            key = match_notebook(path, nb if nb is not None else nbformat.v4.new_notebook(), grader.by_notebook)
            if nb is None:
                warnings.append(f"{student}: {reason}; not graded")
                nb = reason
            if key is None:
                if not isinstance(nb, str):
                    warnings.append(f"{student}: {path.name} matches no instructor notebook; not graded")
            elif (student, key) in tasks:
                warnings.append(f"{student}: {path.name} and {tasks[student, key][0].name} are both {key}; "
                                f"graded {tasks[student, key][0].name}")
            else:
                tasks[student, key] = (path, nb)
    return tasks


def grade(submissions: Path, out: Path, source: Path | None = None, timeout: float | None = None, jobs: int = 1,
          quick: bool = True, kernel: str = "python3", log=print, notebook_timeout: float | None = None,
          check_timeout: float | None = None) -> Grades:
    """Grade every student's notebooks in ``submissions``; write ``grades.csv``, ``grades.md``,
    ``feedback/<student>.md`` and ``executed/<student>/`` under ``out``."""
    out = Path(out)
    defaults = Limits() if quick else Limits(cell=3600, notebook=48 * 3600, check=600)
    limits = Limits(timeout or defaults.cell, notebook_timeout or defaults.notebook, check_timeout or defaults.check)
    grader = Grader(source, limits, quick, kernel)
    students = find_submissions(submissions, skip=out)
    if not students:
        raise ValueError(f"no notebooks (*.ipynb) in {submissions}")
    warnings: list[str] = []
    with Workspace(submissions, hidden=[out, grader.source]) as workspace:
        tasks = _read_all(students, grader, workspace, warnings)
        runnable = {task: value for task, value in tasks.items() if not isinstance(value[1], str)}

        def one(task):
            (student, key), (path, nb) = task
            outcome = grader.grade_one(workspace, student, path, key, nb, out / "executed" / student / path.name)
            changed = workspace.check_originals()
            if changed:
                warnings.append(f"while {student}'s {key} was graded, hand-ins changed on disk: "
                                + ", ".join(str(p) for p in changed) + " (put back as they were handed in)")
            log(f"graded {student}: {key}")
            return task[0], outcome

        try:
            with ThreadPoolExecutor(max(1, jobs)) as pool:
                outcomes = dict(pool.map(one, runnable.items()))
        finally:
            close_zygotes()
    graded = sorted({key for _, key in tasks})
    result = assemble(grader.by_notebook, graded, students, tasks, outcomes, warnings)
    write_tables(result, out)
    return result
