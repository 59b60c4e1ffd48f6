"""Course assignments from the notebooks: student copies without solutions, and grading of handed-in work.

``python -m trimix assignments build OUTDIR`` writes the student copies: every instructor notebook with
exercises (code between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, nbgrader's markers) with each
solution replaced by ``raise NotImplementedError("<hint>")``, outputs cleared.

``python -m trimix assignments grade SUBMISSIONS`` grades a folder of completed notebooks, one sub-folder
per student (``SUBMISSIONS/alice/01_barlow_twins.ipynb``, any depth) or one file per student
(``SUBMISSIONS/alice.ipynb``). Each notebook is matched with its instructor notebook and run in a private
copy, in quick mode, with the instructor's CHECK cells (for its outputs); each exercise is then scored in a
fresh process that loads only the student's function and runs the instructor's check on it, with the
reference solutions standing in for the other exercises. Writes ``grades.csv`` (with a ``review`` column),
``grades.md``, ``feedback/<student>.md`` and the executed notebooks, under ``--out``. See
``docs/instructors.md``.

Modules: ``conventions`` (how a notebook marks its exercises, and which notebook asks for which),
``student`` (student copies); for grading, ``grading`` (the steps, in order), ``workspace`` (private copies),
``guard`` (what graded code may touch), ``execute`` (running a notebook), ``source`` (reading its code
without running it), ``scoring``, ``zygote`` and ``isolate`` (scoring each exercise in a fresh process),
``review`` (what a human should look at), ``feedback``, ``records`` and ``report`` (what is written out).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trimix.assignments import student
from trimix.assignments.conventions import exercise_map
from trimix.assignments.report import counted
from trimix.assignments.student import make_student_notebook

__all__ = ["exercise_map", "main", "make_student_notebook", "register"]


def cmd_build(args: argparse.Namespace) -> int:
    for path in student.build(Path(args.outdir), args.source, args.notebooks):
        print("wrote", path)
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from trimix.assignments.grading import grade  # imported here: it needs the Jupyter client installed

    out = Path(args.out)
    grades = grade(Path(args.submissions), out, args.source, timeout=args.timeout, jobs=args.jobs,
                   quick=not args.full, kernel=args.kernel, notebook_timeout=args.notebook_timeout,
                   check_timeout=args.check_timeout)
    print((out / "grades.md").read_text().split("\n## Feedback")[0].rstrip())
    print(f"\nwritten to {out / 'grades.csv'}, {out / 'grades.md'} and {out / 'feedback'}/ "
          f"({counted(len(grades.scores), 'student')})")
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
    g.add_argument("--out", default="grades",
                   help="folder for grades.csv, grades.md, feedback/ and the executed notebooks")
    g.add_argument("--source", type=Path, default=None,
                   help="folder of instructor notebooks [default: the kit's notebooks/]")
    g.add_argument("--timeout", type=float, default=None,
                   help="seconds allowed per cell the student wrote or changed, and per CHECK cell; the instructor's "
                        "own cells may take what is left of --notebook-timeout [default: 60 in quick mode, 3600 "
                        "with --full]")
    g.add_argument("--notebook-timeout", type=float, default=None,
                   help="seconds allowed per notebook [default: 2700 in quick mode, 172800 with --full]")
    g.add_argument("--check-timeout", type=float, default=None,
                   help="seconds allowed to score one exercise [default: 60 in quick mode, 600 with --full]")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time")
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
