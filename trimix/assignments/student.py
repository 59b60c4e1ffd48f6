"""Student copies: every solution replaced by a stub that raises ``NotImplementedError`` with a hint.

nbgrader's ``ClearSolutions`` does the same replacement, but with one fixed stub for every exercise; ours
puts each exercise's hint (the ``hint`` in its cell's metadata) in the stub, and needs no nbgrader install.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from trimix.assignments.conventions import BEGIN, END, default_source, instructor_notebooks, is_code, read, write

COLAB_PATH = "/blob/main/notebooks/"
DEFAULT_HINT = "write the body of this function, then run the CHECK cell below it"


def stub(source: str, hint: str | None = None) -> str:
    """Each solution region -> ``# YOUR CODE HERE`` and ``raise NotImplementedError("my_<name>: <hint>")``,
    indented like the markers (``name`` from the ``def my_<name>`` above the region)."""
    out, inside, name = [], False, None
    for line in source.split("\n"):
        found = re.match(r"\s*def my_(\w+)\(", line)
        name = found.group(1) if found else name
        if line.strip() == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN} in:\n{source}")
            inside, indent = True, line[: line.index(BEGIN)]
            message = f"my_{name}: {hint or DEFAULT_HINT}" if name else hint or DEFAULT_HINT
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({json.dumps(message)})"]
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

    Solution regions become stubs (their hints move from the metadata into the stub); signatures, docstrings
    and every other cell stay; outputs and execution counts are cleared; the Colab badge points at
    ``notebooks/student/``.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if is_code(cell):
            cell.source = stub(cell.source, cell.metadata.pop("hint", None))
            cell.outputs, cell.execution_count = [], None
        elif COLAB_PATH in cell.source:
            cell.source = re.sub(re.escape(COLAB_PATH) + r"(?!student/)", COLAB_PATH + "student/", cell.source)
    return nb


def build(outdir: Path, source: Path | None = None, names: list[str] | None = None) -> list[Path]:
    """Write the student copy of each instructor notebook to ``outdir``; returns the paths written."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in instructor_notebooks(source, names):
        write(make_student_notebook(read(path)), outdir / path.name)
        written.append(outdir / path.name)
    if not written:
        raise ValueError(f"no notebook with {BEGIN} in {source or default_source()}")
    return written
