"""Scoring a submission: each exercise in its own fresh process, out of reach of the student's other code.

For exercise ``X``, the scorer reads (never runs) the submission's cells and plans a job: the student's
``my_X`` and what it needs (``source.program``), the instructor's CHECK cell of ``X`` and what that needs, and
the instructor's solutions standing in for the other exercises ``my_X`` calls, so that one mistake costs
one point. The job runs in a process forked from a clean interpreter that has imported the kit
(``zygote``), under a ``guard.Policy``; see ``isolate``. An exercise scores when its check passes there, the guard refused
nothing, and the kit, ``torch`` and ``builtins`` are as they were.

A check that needs the notebook's state (a model the notebook trained, say) cannot run apart from it: such
an exercise is scored from its CHECK cell in the executed notebook, as nbgrader does, and the grades say so.
"""
from __future__ import annotations

import ast
import atexit
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from trimix.assignments.conventions import check_name, graded_name, read
from trimix.assignments.source import Code, program, read_code
from trimix.assignments.zygote import Zygote


_local = threading.local()
_started: list[Zygote] = []


def zygote(env: dict | None = None) -> Zygote:
    """This thread's zygote (a clean interpreter that forks one process per job), started on first use."""
    if getattr(_local, "zygote", None) is None:
        _local.zygote = Zygote({**os.environ, **(env or {})})
        _started.append(_local.zygote)
    return _local.zygote


@atexit.register
def close_zygotes() -> None:
    """Stop every zygote started so far (a thread's next job starts a new one)."""
    for z in _started:
        z.close()


def is_check(cell) -> bool:
    return check_name(cell) is not None


@dataclass
class Reference:
    """An instructor notebook as the scorer reads it: its code and the cell of each exercise's check."""

    name: str
    code: Code
    checks: dict[str, int]

    @classmethod
    def read(cls, path: Path) -> Reference:
        nb = read(path)
        checks = {name: i for i, c in enumerate(nb.cells) if (name := graded_name(c) or check_name(c))}
        return cls(Path(path).name, read_code(nb), checks)


@dataclass
class Outcome:
    """How one exercise of one submission fared."""

    passed: bool
    message: str | None = None  # why it scored nothing
    uses: list[str] = field(default_factory=list)  # other exercises it was graded with the reference of
    state: list[str] = field(default_factory=list)  # notebook variables its check needs: scored in the kernel
    violations: list[str] = field(default_factory=list)  # what the guard refused while it ran
    tampered: list[str] = field(default_factory=list)  # what of the kit, torch or builtins it changed
    kit_answer: list[str] = field(default_factory=list)  # the kit's answers it called


def _statements(statements) -> list[tuple[str, str]]:
    return [(f"<{st.where}>", st.source) for st in statements]


def _not_found(exercise: str, student: Code) -> str:
    function = f"my_{exercise}"
    st = student.last_binding(function)
    if st is not None:
        return (f"{function} is defined inside a block in {st.where} (`{st.first_line}`): the grader reads the "
                "functions defined at the top level of a cell; move the def there")
    for cell, error in student.errors.items():
        return f"{function} could not be read: cell {cell} is not valid Python ({error})"
    return f"{function} is not defined: no `def {function}(...)` at the top level of a code cell (renamed or deleted?)"


def definition_only(st) -> bool:
    """An import, def or class, or an assignment that calls nothing: what a check may rely on and still run
    apart from the notebook (``result = pretrain(...)`` is the notebook's state, not a definition)."""
    node = ast.parse(st.source).body[0]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return not any(isinstance(n, ast.Call) for n in ast.walk(node.value))
    return st.loadable


def from_kernel(ran, exercise: str, stopped: str | None = None) -> Outcome:
    """The outcome of an exercise whose check needs the notebook's state: its CHECK cell in the executed
    notebook ``ran`` (the instructor's cell, put there by ``grading.prepare``) ran without error, or not."""
    cell = next((c for c in ran.cells if check_name(c) == exercise), None)
    errors = [o for o in cell.get("outputs", []) if o.output_type == "error"] if cell is not None else []
    if cell is None or cell.get("execution_count") is None and not cell.get("outputs"):
        return Outcome(False, f"not run: the notebook stopped before this check ({stopped})")
    if errors:
        return Outcome(False, f"{errors[0].ename}: {errors[0].evalue}".strip())
    return Outcome(True)


def plan(exercise: str, notebook: Reference, student: Code, owners: dict[str, Reference]) -> dict | Outcome:
    """The job that scores ``exercise`` (plain data, for ``isolate.score``), or its outcome when the student's
    function cannot even be found, or an outcome whose ``state`` names the notebook variables its check needs
    (then only the notebook's own run can score it). ``owners``: exercise -> the notebook that asks for it."""
    function = f"my_{exercise}"
    st = student.last_binding(function)
    if st is None or not st.loadable:
        return Outcome(False, _not_found(exercise, student))
    others = {f"my_{e}" for e in owners if e != exercise}
    mine = program(student, {function}, until_cell=st.cell, supplied=others)
    cell = notebook.checks[exercise]
    check = [s for s in notebook.code.statements if s.cell == cell]
    needs = set().union(*(s.uses for s in check)) - set().union(*(s.binds for s in check))
    setup = program(notebook.code, needs - others - {function}, until_cell=cell - 1, supplied=others | {function})
    state = sorted({n for st in setup.statements if not definition_only(st) for n in st.binds} | set(setup.missing))
    if state:
        return Outcome(False, f"its check needs the notebook's own variables ({', '.join(state)}): only the "
                              "notebook's run can score it", state=state)
    wanted = sorted(mine.supplied | (setup.supplied - {function}))
    blocks = {}
    for name in wanted:
        blocks.setdefault(owners[name[3:]].name, (owners[name[3:]], []))[1].append(name)
    stand_ins = [{"statements": _statements(program(ref.code, set(names)).statements), "names": names}
                 for ref, names in blocks.values()]
    return {"exercise": exercise, "student": _statements(mine.statements), "missing": mine.missing,
            "check_setup": _statements(setup.statements), "check": _statements(check), "stand_ins": stand_ins,
            "uses": sorted(n[3:] for n in mine.supplied)}


def run(job: dict, cwd: Path, private: Path, policy: str, timeout: float, env: dict | None = None) -> Outcome:
    """Run one job in a fresh process; at most ``timeout`` seconds."""
    result = zygote(env).run({**job, "cwd": str(cwd), "private": str(private), "policy": policy, "timeout": timeout})
    function = f"my_{job['exercise']}"
    if result.get("error") == "timeout":
        return Outcome(False, f"the check did not finish within {timeout:g} s (an endless loop in {function}, or "
                              "in what it calls?)", job["uses"])
    if "error" in result:
        return Outcome(False, f"the process that ran the check ended without a result ({result['error']}, exit "
                              f"code {result['exitcode']}): does {function} end the interpreter?", job["uses"])
    outcome = Outcome(result["passed"], result["message"], job["uses"], violations=result["violations"],
                      tampered=result["tampered"], kit_answer=result["kit_answer"])
    if outcome.violations:
        outcome.passed = False
        outcome.message = f"while it was graded, the code tried to {outcome.violations[0]}, which was refused"
    elif outcome.tampered:
        outcome.passed = False
        outcome.message = ("while it was graded, the code changed " + ", ".join(outcome.tampered[:3])
                           + ", which the check relies on")
    return outcome


def score(student_nb, notebook: Reference, owners: dict[str, Reference], exercises: list[str], cwd: Path,
          private: Path, policy: str, timeout: float, env: dict | None = None, ran=None,
          stopped: str | None = None) -> dict[str, Outcome]:
    """Score each of ``exercises`` of a submission (its notebook as handed in), each in its own process; an
    exercise whose check needs the notebook's state is read from the executed notebook ``ran``, if given."""
    student = read_code(student_nb, skip=is_check)
    outcomes = {}
    for exercise in exercises:
        job = plan(exercise, notebook, student, owners)
        if isinstance(job, Outcome) and job.state and ran is not None:
            job = Outcome(**{**vars(from_kernel(ran, exercise, stopped)), "state": job.state})
        outcomes[exercise] = job if isinstance(job, Outcome) else run(job, cwd, private, policy, timeout, env)
    return outcomes
