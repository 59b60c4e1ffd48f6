"""Grading handed-in notebooks: match each with its instructor notebook, restore the instructor's CHECK cells,
run it in quick mode and score each exercise whose CHECK cell ran without error (docs/instructors.md).

nbgrader's ``autograde`` restores locked test cells too (its ``OverwriteCells``), but from its gradebook
database; ours takes them from the instructor notebook, and also puts each check back after the cell that
defines the student's function, where the student may have moved it.
"""
from __future__ import annotations

import copy
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
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
from trimix.assignments.execute import execute
from trimix.assignments.report import write_tables


@dataclass
class Exercise:
    name: str
    notebook: str  # file name of the instructor notebook
    points: float
    cell: object  # the instructor's CHECK cell


@dataclass
class Grades:
    exercises: list[Exercise]
    scores: dict = field(default_factory=dict)  # student -> {exercise: points}
    feedback: dict = field(default_factory=dict)  # student -> {exercise: message}
    warnings: list = field(default_factory=list)

    @property
    def max_points(self) -> float:
        return sum(e.points for e in self.exercises)

    def total(self, student: str) -> float:
        return sum(self.scores[student].values())


def read_exercises(path: Path) -> list[Exercise]:
    """The exercises of an instructor notebook, from the nbgrader metadata of its CHECK cells."""
    return [Exercise(name, path.name, float(c.metadata["nbgrader"].get("points", 1)), c)
            for c in read(path).cells if (name := graded_name(c))]


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


def score(nb, exercises: list[Exercise], stopped: str | None = None) -> tuple[dict, dict]:
    """Points for each exercise of an executed notebook (its CHECK cell ran without error), and feedback."""
    cells = {check_name(c): c for c in nb.cells if check_name(c)}
    points, feedback = {}, {}
    for e in exercises:
        cell = cells.get(e.name)
        errors = [o for o in cell.outputs if o.output_type == "error"] if cell else []
        if cell is None or (cell.execution_count is None and not cell.outputs):
            points[e.name], feedback[e.name] = 0.0, f"not run: the notebook stopped before this check ({stopped})"
        elif errors:
            message = f"{errors[0].ename}: {errors[0].evalue}".strip()
            points[e.name], feedback[e.name] = 0.0, message
        else:
            points[e.name] = e.points
    return points, feedback


def grade_notebook(path: Path, instructor: Path, executed: Path, timeout: int = 600, quick: bool = True,
                   kernel: str = "python3") -> tuple[dict, dict]:
    """Prepare, execute and score one submission; the executed notebook is written to ``executed``."""
    exercises = read_exercises(instructor)
    nb = prepare(read(path), exercises)
    stopped = execute(nb, Path(path).parent, timeout=timeout, quick=quick, kernel=kernel)
    executed.parent.mkdir(parents=True, exist_ok=True)
    write(nb, executed)
    return score(nb, exercises, stopped)


def grade(submissions: Path, out: Path, source: Path | None = None, timeout: int = 600, jobs: int = 1,
          quick: bool = True, kernel: str = "python3", log=print) -> Grades:
    """Grade every student's notebooks in ``submissions``; write ``grades.csv``, ``grades.md`` and
    ``executed/<student>/`` under ``out``."""
    out = Path(out)
    by_notebook = {p.name: read_exercises(p) for p in instructor_notebooks(source)}
    students = find_submissions(submissions, skip=out)
    if not students:
        raise ValueError(f"no notebooks (*.ipynb) in {submissions}")
    warnings, tasks = [], {}  # (student, instructor notebook) -> submitted path
    for student, paths in students.items():
        for path in paths:
            key = match_notebook(path, read(path), by_notebook)
            if key is None:
                warnings.append(f"{student}: {path.name} matches no instructor notebook; not graded")
            elif (student, key) in tasks:
                warnings.append(f"{student}: {path.name} and {tasks[student, key].name} are both {key}; "
                                f"graded {tasks[student, key].name}")
            else:
                tasks[student, key] = path
    graded = sorted({key for _, key in tasks})
    result = Grades([e for key in graded for e in by_notebook[key]], warnings=warnings)
    jobs_args = {(s, k): (p, Path(source or default_source()) / k, out / "executed" / s / p.name, timeout, quick,
                          kernel) for (s, k), p in tasks.items()}
    outcomes = {}
    if jobs > 1:  # fresh interpreters (spawn): forking a process that holds torch's thread pools can hang
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {task: pool.submit(grade_notebook, *args) for task, args in jobs_args.items()}
            for task, future in futures.items():
                outcomes[task] = future.result()
                log(f"graded {task[0]}: {task[1]}")
    else:
        for task, args in jobs_args.items():
            outcomes[task] = grade_notebook(*args)
            log(f"graded {task[0]}: {task[1]}")
    for student in students:
        result.scores[student], result.feedback[student] = {}, {}
        for key in graded:
            points, feedback = outcomes.get((student, key), ({}, {}))
            for e in by_notebook[key]:
                result.scores[student][e.name] = points.get(e.name, 0.0)
                if (student, key) not in outcomes:
                    result.feedback[student][e.name] = f"{key} not handed in"
                elif e.name in feedback:
                    result.feedback[student][e.name] = feedback[e.name]
    write_tables(result, out)
    return result
