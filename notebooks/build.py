"""Build the notebooks from their sources: ``python notebooks/build.py`` (``--check`` only compares).

Each notebook has one source, ``notebooks/src/<name>.py`` in jupytext's percent format: the file people edit,
run and lint. From it this script writes

- ``notebooks/<name>.ipynb``, the instructor's notebook: the source's cells and cell metadata, no outputs, and
  cell ids ``cell-00``, ``cell-01``, ... so that rebuilding an unchanged source changes nothing;
- ``notebooks/student/<name>.ipynb``, the student copy (solutions replaced by stubs with hints), when the
  source's header says ``trimix: student_copy: true``.

It refuses a source whose exercises break the conventions of ``trimix.assignments.conventions`` (see
docs/instructors.md, section 5) and says what to fix. ``--check`` writes nothing and exits 1 when a committed
notebook differs from what its source gives, is missing, or has no source; ``tests/test_notebooks.py`` runs it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

from trimix.assignments.conventions import convention_problems
from trimix.assignments.student import make_student_notebook

HERE = Path(__file__).resolve().parent
SOURCES, STUDENT = HERE / "src", HERE / "student"
# Every notebook's metadata: Python 3, and Colab's key so that Colab opens it without rewriting it.
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
    "colab": {"provenance": []},
}


def notebook_from_source(path: Path) -> nbformat.NotebookNode:
    """The instructor notebook of one source; a ``ValueError`` names what breaks the conventions."""
    nb = jupytext.read(path, fmt="py:percent")
    ours = nb.metadata.get("trimix")  # the header's other keys (jupytext's own) do not go into the notebook
    nb.metadata = {**METADATA, **({"trimix": ours} if ours else {})}
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:02d}"
    problems = convention_problems(nb)
    if problems:
        raise ValueError(f"{path}:\n  " + "\n  ".join(problems))
    nbformat.validate(nb)
    return nb


def generated(sources: Path = SOURCES) -> dict[Path, str]:
    """Every file the sources give (instructor notebooks and student copies), with its text."""
    files = {}
    for path in sorted(sources.glob("*.py")):
        nb = notebook_from_source(path)
        name = path.stem + ".ipynb"
        files[HERE / name] = nbformat.writes(nb) + "\n"
        if nb.metadata.get("trimix", {}).get("student_copy"):
            files[STUDENT / name] = nbformat.writes(make_student_notebook(nb)) + "\n"
    return files


def stale(files: dict[Path, str]) -> list[str]:
    """What is out of date: generated files that differ or are missing, and notebooks with no source."""
    out = [f"{p.relative_to(HERE)}: differs from its source" if p.is_file() else f"{p.relative_to(HERE)}: missing"
           for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    committed = set(HERE.glob("*.ipynb")) | set(STUDENT.glob("*.ipynb"))
    out += [f"{p.relative_to(HERE)}: no source in notebooks/src/ (delete it)" for p in sorted(committed - set(files))]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python notebooks/build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is out of date")
    args = parser.parse_args(argv)
    try:
        files = generated()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    problems = stale(files)
    if args.check:
        print("\n".join(problems) or "every notebook matches its source")
        return 1 if problems else 0
    STUDENT.mkdir(exist_ok=True)
    for path, text in files.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print("wrote", path.relative_to(HERE.parent))
    orphans = [p for p in problems if p.endswith("(delete it)")]
    if orphans:
        print("\n".join(orphans))
    return 1 if orphans else 0


if __name__ == "__main__":
    sys.exit(main())
