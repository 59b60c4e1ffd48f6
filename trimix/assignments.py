"""Course assignments from the notebooks: student copies without solutions, and grading of handed-in work.

``python -m trimix assignments build OUTDIR`` writes the student copies: every instructor notebook with
exercises (code between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, nbgrader's markers) with each
solution replaced by ``raise NotImplementedError("<hint>")``, outputs cleared.

``python -m trimix assignments grade SUBMISSIONS`` grades a folder of completed notebooks, one sub-folder
per student (``SUBMISSIONS/alice/01_barlow_twins.ipynb``, any depth) or one file per student
(``SUBMISSIONS/alice.ipynb``). Each notebook is matched with its instructor notebook, its ``# CHECK``
cells are replaced by the instructor's (so an edited check counts for nothing), it is executed top to bottom
in quick mode (errors allowed), and an exercise scores its points when its CHECK cell ran without error.
Writes ``grades.csv``, ``grades.md`` (scores, then each failed check's message as feedback) and the
executed notebooks, under ``--out``. See ``docs/instructors.md``.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path


BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CHECK = "# CHECK: "
COLAB_PATH = "/blob/main/notebooks/"

# A nudge for each exercise, shown by the stub's NotImplementedError (never the answer itself).
HINTS = {
    "batch_standardize": "take the mean and the std of each column, along dim 0 (the batch); torch.std is unbiased",
    "cross_correlation": "standardise both inputs along the batch, then one matrix product that gives D x D, over B",
    "off_diagonal_sum": "square the entries, then add up those with i != j (a mask from torch.eye helps)",
    "barlow_twins_loss": "sum of (1 - C_ii)^2 over the diagonal, plus alpha times your off-diagonal sum",
    "mix_batch": "torch.flip(x, dims=(0,)) reverses the batch order",
    "estimate_lambda": "least squares: project X^vrt - X^r onto X - X^r, over all entries at once",
    "ground_truth_matrix": "start from torch.eye(batch_size); torch.rot90 turns it into the anti-diagonal",
    "predicted_matrix": "standardise z (batch) and z_vrt (batch, then features); similarities / D / tau; "
                        "a softmax per row",
    "virtual_embedding_loss": "build M and GT with your two functions, then an L1 distance with mean reduction",
    "mixed_embeddings": "batch-standardise z first, then mix it with its reverse",
    "self_consistency_loss": "Z~ from my_mixed_embeddings; v = z_vrt standardised along the batch, then the features",
    "trimix_loss": "parts = the three unweighted losses; total = bt + beta * vrt + gamma * con",
}
DEFAULT_HINT = "write the body of this function, then run the CHECK cell below it"


def _read(path: Path):
    import nbformat  # imported here: `python -m trimix` must start without the notebook tools installed

    return nbformat.read(path, as_version=4)


def _write(nb, path: Path) -> None:
    import nbformat

    nbformat.write(nb, path)


# ------------------------------------------------------------------------------------ student copies
def _is_code(cell) -> bool:
    return cell.cell_type == "code"


def check_name(cell) -> str | None:
    """The exercise a ``# CHECK: <name>`` cell checks, or None for any other cell."""
    first = cell.source.lstrip().partition("\n")[0] if _is_code(cell) else ""
    return first[len(CHECK):].strip() if first.startswith(CHECK) else None


def exercise_names(cell) -> list[str]:
    """The ``my_<name>`` functions a code cell defines (``name`` without the ``my_``)."""
    return re.findall(r"^def my_(\w+)\(", cell.source, re.M) if _is_code(cell) else []


def has_solutions(nb) -> bool:
    return any(_is_code(c) and BEGIN in c.source for c in nb.cells)


def _stub(source: str) -> str:
    """Each solution region -> ``# YOUR CODE HERE`` and ``raise NotImplementedError(<hint>)``, indented alike."""
    out, inside, name = [], False, None
    for line in source.split("\n"):
        found = re.match(r"\s*def my_(\w+)\(", line)
        name = found.group(1) if found else name
        if line.strip() == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN} in:\n{source}")
            inside, indent = True, line[: line.index(BEGIN)]
            hint = f"my_{name}: {HINTS.get(name, DEFAULT_HINT)}" if name else DEFAULT_HINT
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({json.dumps(hint)})"]
        elif line.strip() == END:
            if not inside:
                raise ValueError(f"{END} without {BEGIN} in:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END} in:\n{source}")
    return "\n".join(out)


def make_student_notebook(nb):
    """The student copy of an instructor notebook (a new notebook; ``nb`` is left as it is).

    Solution regions become ``raise NotImplementedError(<hint>)``; signatures, docstrings and every other
    cell stay; outputs and execution counts are cleared; the Colab badge points at ``notebooks/student/``.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if _is_code(cell):
            cell.source = _stub(cell.source)
            cell.outputs, cell.execution_count = [], None
        elif COLAB_PATH in cell.source:
            cell.source = re.sub(re.escape(COLAB_PATH) + r"(?!student/)", COLAB_PATH + "student/", cell.source)
    return nb


def default_source() -> Path:
    """The instructor notebooks: ``notebooks/`` beside the package (a checkout), else ``./notebooks``."""
    beside = Path(__file__).resolve().parent.parent / "notebooks"
    return beside if beside.is_dir() else Path("notebooks")


def instructor_notebooks(source: Path | None = None, names: list[str] | None = None) -> list[Path]:
    """The notebooks of ``source`` that hold exercises (or those ``names``, e.g. ``01_barlow_twins``)."""
    source = Path(source or default_source())
    if not source.is_dir():
        raise ValueError(f"no folder of instructor notebooks at {source}: pass --source")
    if names:
        paths = [source / (n if n.endswith(".ipynb") else n + ".ipynb") for n in names]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ValueError(f"no such notebook: {', '.join(missing)}")
        return paths
    return [p for p in sorted(source.glob("*.ipynb")) if has_solutions(_read(p))]


def build(outdir: Path, source: Path | None = None, names: list[str] | None = None) -> list[Path]:
    """Write the student copy of each instructor notebook to ``outdir``; returns the paths written."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in instructor_notebooks(source, names):
        _write(make_student_notebook(_read(path)), outdir / path.name)
        written.append(outdir / path.name)
    if not written:
        raise ValueError(f"no notebook with {BEGIN} in {source or default_source()}")
    return written


# ------------------------------------------------------------------------------------------ grading
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
    nb = _read(path)
    return [Exercise(name, path.name, float(c.metadata.get("nbgrader", {}).get("points", 1)), c)
            for c in nb.cells if (name := check_name(c))]


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
        if _is_code(cell):
            cell.outputs, cell.execution_count = [], None
        nb.cells.append(cell)
        nb.cells += [copy.deepcopy(e.cell) for e in placed.get(i, [])]
    nb.cells += [copy.deepcopy(e.cell) for e in exercises if e.name not in last_def]
    return nb


def execute(nb, cwd: Path, timeout: int = 600, quick: bool = True, kernel: str = "python3") -> str | None:
    """Run the cells of ``nb`` in order, in place; an error in a cell does not stop the run, but a cell over
    the time limit or a dead kernel does: that cell gets the error as its output, the cells after it stay
    unrun, and the reason is returned (None when every cell ran)."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_output

    env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if quick:
        env["TRIMIX_QUICK"] = "1"
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    cell = None
    try:
        with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):  # the kernel's own log, not the cells'
            for channel in (client.kc.shell_channel, client.kc.iopub_channel):
                _poll_in_slices(channel)
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    except Exception as e:  # a cell over the time limit, a dead kernel, a kernel that did not start
        text = str(e).strip()
        stopped = f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"
        if cell is not None and _is_code(cell):
            error = new_output("error", ename=type(e).__name__, evalue=stopped, traceback=[])
            cell.outputs = [o for o in cell.outputs if o.output_type != "error"] + [error]
        return stopped
    return None


def _poll_in_slices(channel, slice_s: float = 0.5) -> None:
    """Make ``channel.get_msg(timeout)`` poll in short slices until ``timeout``.

    zmq.asyncio sometimes misses the wake-up for a message that has already arrived (seen after widget
    cells, jupyter/nbclient#312); the cell then waits out its whole timeout. A fresh poll sees the message
    at once, so polling again every ``slice_s`` seconds bounds that stall to ``slice_s``."""
    from queue import Empty

    get_msg = channel.get_msg

    async def sliced(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await get_msg(timeout=slice_s if left is None else min(slice_s, left))
            except Empty:
                if left is not None and left <= slice_s:
                    raise

    channel.get_msg = sliced


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
    nb = prepare(_read(path), exercises)
    stopped = execute(nb, Path(path).parent, timeout=timeout, quick=quick, kernel=kernel)
    executed.parent.mkdir(parents=True, exist_ok=True)
    _write(nb, executed)
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
            key = match_notebook(path, _read(path), by_notebook)
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


def _num(x: float) -> str:
    return f"{x:g}"


def _count(n: float, word: str) -> str:
    return f"{_num(n)} {word}{'' if n == 1 else 's'}"


def write_tables(grades: Grades, out: Path) -> tuple[Path, Path]:
    """``grades.csv`` (one row per student, one column per exercise) and ``grades.md`` (the same + feedback)."""
    out.mkdir(parents=True, exist_ok=True)
    names = [e.name for e in grades.exercises]
    header = ["student", *names, "total", "max"]
    rows = [[s, *(_num(grades.scores[s][n]) for n in names), _num(grades.total(s)), _num(grades.max_points)]
            for s in sorted(grades.scores)]
    with open(out / "grades.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    notebooks = sorted({e.notebook for e in grades.exercises})
    lines = ["# Grades", "",
             f"{_count(len(rows), 'student')}; {_count(len(names), 'exercise')} from {', '.join(notebooks)}; "
             f"{_count(grades.max_points, 'point')}. An exercise scores its points when its CHECK cell runs "
             "without error.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if grades.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in grades.warnings]
    lines += ["", "## Feedback", ""]
    for student in sorted(grades.feedback):
        failed = grades.feedback[student]
        lines.append(f"### {student}: {_num(grades.total(student))} / {_num(grades.max_points)}")
        lines.append("")
        lines += [f"- `{n}`: {_short(failed[n])}" for n in names if n in failed] or ["- every check passes"]
        lines.append("")
    (out / "grades.md").write_text("\n".join(lines))
    return out / "grades.csv", out / "grades.md"


def _short(message: str, limit: int = 400) -> str:
    message = " ".join(message.split()).replace("|", "\\|")
    return message if len(message) <= limit else message[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------- commands
def cmd_build(args: argparse.Namespace) -> int:
    for path in build(Path(args.outdir), args.source, args.notebooks):
        print("wrote", path)
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    grades = grade(Path(args.submissions), Path(args.out), args.source, timeout=args.timeout, jobs=args.jobs,
                   quick=not args.full, kernel=args.kernel)
    print((Path(args.out) / "grades.md").read_text().split("\n## Feedback")[0].rstrip())
    print(f"\nwritten to {Path(args.out) / 'grades.csv'} and {Path(args.out) / 'grades.md'} "
          f"({_count(len(grades.scores), 'student')})")
    return 0


def _add_actions(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    b = actions.add_parser("build", help="write the student copies (solutions replaced by NotImplementedError)",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    b.add_argument("outdir", help="folder for the student copies")
    b.add_argument("--source", type=Path, default=None,
                   help="folder of instructor notebooks [default: the kit's notebooks/]")
    b.add_argument("--notebooks", nargs="+", default=None,
                   help="only these notebooks (e.g. 01_barlow_twins) [default: every notebook with exercises]")
    b.set_defaults(func=cmd_build)
    g = actions.add_parser("grade", help="execute handed-in notebooks and write a score table (CSV + Markdown)",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g.add_argument("submissions", help="folder with one sub-folder (or one .ipynb) per student")
    g.add_argument("--out", default="grades", help="folder for grades.csv, grades.md and the executed notebooks")
    g.add_argument("--source", type=Path, default=None,
                   help="folder of instructor notebooks [default: the kit's notebooks/]")
    g.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    g.add_argument("--jobs", type=int, default=1, help="notebooks executed at the same time")
    g.add_argument("--kernel", default="python3", help="Jupyter kernel to run the notebooks with")
    g.add_argument("--full", action="store_true", help="run without TRIMIX_QUICK=1 (the paper's settings)")
    g.set_defaults(func=cmd_grade)


def register(subparsers) -> None:
    """Add ``assignments build|grade`` to the sub-commands of ``python -m trimix``."""
    p = subparsers.add_parser("assignments", help="student copies of the notebooks, and grading of handed-in work",
                              description=__doc__.split("\n\n")[0])
    _add_actions(p)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trimix.assignments", description=__doc__.split("\n\n")[0])
    _add_actions(parser)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
