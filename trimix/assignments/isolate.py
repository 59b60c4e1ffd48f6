"""Inside the fresh process that scores one exercise: load the student's function, run the instructor's check.

The process is forked from a clean interpreter that has imported only the kit (``zygote``), so
nothing the student's notebook did at its top level exists here. It runs, in this order: the instructor's
programs that define the reference stand-ins for the other exercises and what the CHECK cell needs; then,
under a guard (``guard.Policy``) that limits what the code may touch, the student's program (the function
and the imports, helpers and constants it needs, from ``source.program``, each other exercise replaced by
its stand-in) and the instructor's CHECK cell, with the student's function in place. A snapshot of the
kit, ``torch`` and ``builtins`` taken beforehand tells whether the student's code changed the machinery the
check relies on.
"""
from __future__ import annotations

import builtins
import os
import sys
import tempfile
import warnings
from types import ModuleType

WATCHED = ("trimix", "torch", "torch.nn.functional", "torch.linalg", "builtins", "math", "operator")


def _state(value: object) -> tuple[int, int]:
    return id(value), id(getattr(value, "__code__", None))


class Snapshot:
    """Which object each watched module (and ``torch.Tensor``) holds under each name, and its code."""

    def __init__(self) -> None:
        self.modules = {name: (id(m), {k: _state(v) for k, v in vars(m).items()})
                        for name, m in list(sys.modules.items()) if self._watched(name, m)}
        self.tensor = self._tensor()

    @staticmethod
    def _watched(name: str, module: object) -> bool:
        return isinstance(module, ModuleType) and (name in WATCHED or name.startswith("trimix."))

    @staticmethod
    def _tensor() -> dict:
        torch = sys.modules.get("torch")
        return {k: _state(v) for k, v in vars(torch.Tensor).items()} if torch else {}

    def changes(self) -> list[str]:
        """What differs now: ``trimix.checks._core.close`` replaced, a module swapped in ``sys.modules``..."""
        out = []
        for name, (module_id, names) in self.modules.items():
            module = sys.modules.get(name)
            if id(module) != module_id:
                out.append(f"sys.modules[{name!r}]")
                continue
            now = vars(module)
            out += [f"{name}.{k}" for k, state in names.items() if k not in now or _state(now[k]) != state]
            out += [f"{name}.{k}" for k in now.keys() - names.keys() if not isinstance(now[k], ModuleType)
                    and not k.startswith("__")]
        tensor = self._tensor()
        out += [f"torch.Tensor.{k}" for k in tensor.keys() | self.tensor.keys() if tensor.get(k) != self.tensor.get(k)]
        return out


def _run(statements: list[tuple[str, str]], namespace: dict) -> None:
    for filename, source in statements:
        exec(compile(source, filename, "exec"), namespace)


def _message(error: BaseException, missing: dict[str, str]) -> str:
    message = f"{type(error).__name__}: {error}".strip()
    for name, why in missing.items():
        if f"name '{name}' is not defined" in message:  # raised by the function, or reported by the check
            message += f" ({why})"
    return message


def _settle(job: dict) -> None:
    """A quiet, private process: output discarded, the private folder as working and temporary folder."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    os.chdir(job["cwd"])
    tmp = os.path.join(job["private"], ".tmp")
    os.makedirs(tmp, exist_ok=True)
    os.environ.update(TMPDIR=tmp, MPLCONFIGDIR=os.path.join(job["private"], ".matplotlib"), MPLBACKEND="Agg")
    tempfile.tempdir = tmp
    here = {os.path.realpath(p) for p in ("", ".", job["cwd"])}
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") not in here]  # no module of the hand-in
    warnings.simplefilter("ignore")  # showing a warning reads source lines the guard may refuse
    import torch

    torch.set_num_threads(1)


def score(job: dict) -> dict:
    """Run one job (see ``scoring.plan``); returns what the parent needs, as plain data."""
    from trimix.assignments.guard import Policy
    from trimix.checks import _core

    _settle(job)
    snapshot = Snapshot()
    stand_ins: dict = {}
    for block in job["stand_ins"]:  # the instructor's code first, before the guard: it is trusted
        namespace = {"__name__": "__reference__", "__builtins__": builtins}
        _run(block["statements"], namespace)
        stand_ins.update({name: namespace[name] for name in block["names"] if name in namespace})
    check = {"__name__": "__main__", "__builtins__": builtins}
    _run(job["check_setup"], check)
    check.update(stand_ins)
    policy = Policy.from_json(job["policy"]).install()
    result = {"passed": False, "message": None}
    student = {"__name__": "__main__", "__builtins__": builtins, **stand_ins}
    function = "my_" + job["exercise"]
    try:
        _run(job["student"], student)
        if function in student:
            check[function] = student[function]
        _run(job["check"], check)
        result["passed"] = True
    except BaseException as error:  # SystemExit and KeyboardInterrupt from the student's code included
        result["message"] = _message(error, job["missing"])
    policy.active = False
    result["tampered"] = snapshot.changes()
    result["kit_answer"] = list(_core._TRIPPED)
    result["violations"] = list(policy.violations)
    return result
