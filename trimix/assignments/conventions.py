"""How an instructor notebook marks its exercises, read from its cells and their nbgrader metadata.

An exercise ``my_<name>`` is a code cell that defines ``def my_<name>(...)`` with the solution between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers), tagged ``exercise`` and carrying
nbgrader's solution metadata (``grade_id: my_<name>``). The cell right after it is its check: its first line
is ``# CHECK: <name>``, it is tagged ``check`` and carries nbgrader's test metadata (``grade_id: check_<name>``,
``points``). The exercise cell may also carry a ``hint`` for the student copy's stub.
"""
from __future__ import annotations

import re
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CHECK = "# CHECK: "


def read(path: Path):
    import nbformat  # imported here: `python -m trimix` must start without the notebook tools installed

    return nbformat.read(path, as_version=4)


def write(nb, path: Path) -> None:
    import nbformat

    nbformat.write(nb, path)


def is_code(cell) -> bool:
    return cell.cell_type == "code"


def check_name(cell) -> str | None:
    """The exercise a ``# CHECK: <name>`` cell checks, or None for any other cell."""
    first = cell.source.lstrip().partition("\n")[0] if is_code(cell) else ""
    return first[len(CHECK):].strip() if first.startswith(CHECK) else None


def exercise_names(cell) -> list[str]:
    """The ``my_<name>`` functions a code cell defines (``name`` without the ``my_``)."""
    return re.findall(r"^def my_(\w+)\(", cell.source, re.M) if is_code(cell) else []


def has_solutions(nb) -> bool:
    return any(is_code(c) and BEGIN in c.source for c in nb.cells)


def _grade_id(cell, prefix: str, key: str) -> str | None:
    """``name`` when the cell's nbgrader metadata has ``key: true`` and ``grade_id: <prefix><name>``."""
    meta = cell.metadata.get("nbgrader", {})
    grade_id = str(meta.get("grade_id", ""))
    return grade_id[len(prefix):] if meta.get(key) and grade_id.startswith(prefix) else None


def solution_name(cell) -> str | None:
    """The exercise an nbgrader solution cell (``grade_id: my_<name>``) holds, or None."""
    return _grade_id(cell, "my_", "solution")


def graded_name(cell) -> str | None:
    """The exercise an nbgrader autograder test cell (``grade_id: check_<name>``) checks, or None."""
    return _grade_id(cell, "check_", "grade")


def exercises(nb) -> list[str]:
    """The exercises of a notebook, in order, from its cells' nbgrader metadata."""
    return [name for cell in nb.cells if (name := solution_name(cell))]


def convention_problems(nb) -> list[str]:
    """What in ``nb`` breaks the conventions above, in words (an empty list when nothing does)."""
    problems, cells = [], nb.cells
    ids = [c.metadata["nbgrader"]["grade_id"] for c in cells if "grade_id" in c.metadata.get("nbgrader", {})]
    problems += [f"grade_id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for index, cell in enumerate(cells):
        where = f"cell {index}"
        if is_code(cell) and BEGIN in cell.source:
            names = exercise_names(cell)
            if len(names) != 1:
                problems.append(f"{where} has a solution but defines {len(names)} my_<name> functions, not one")
                continue
            name = names[0]
            if solution_name(cell) != name or "exercise" not in cell.metadata.get("tags", []):
                problems.append(f"{where} (my_{name}) needs the tag 'exercise' and nbgrader metadata "
                                f'{{"solution": true, "grade_id": "my_{name}", ...}}')
            after = cells[index + 1] if index + 1 < len(cells) else None
            if after is None or check_name(after) != name:
                problems.append(f"{where} (my_{name}) must be followed by its '{CHECK}{name}' cell")
        elif check_name(cell) is not None:
            name = check_name(cell)
            meta = cell.metadata.get("nbgrader", {})
            if graded_name(cell) != name or "check" not in cell.metadata.get("tags", []) or not meta.get("points"):
                problems.append(f"{where} ({CHECK}{name}) needs the tag 'check' and nbgrader metadata "
                                f'{{"grade": true, "grade_id": "check_{name}", "points": 1, "locked": true, ...}}')
    return problems


def default_source() -> Path:
    """The instructor notebooks: ``notebooks/`` beside the package (a checkout), else ``./notebooks``."""
    beside = Path(__file__).resolve().parents[2] / "notebooks"
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
    return [p for p in sorted(source.glob("*.ipynb")) if has_solutions(read(p))]


def exercise_map(source: Path | None = None) -> dict[str, str]:
    """Exercise name -> the file name of the instructor notebook that asks for it, in notebook order."""
    return {name: path.name for path in instructor_notebooks(source) for name in exercises(read(path))}
