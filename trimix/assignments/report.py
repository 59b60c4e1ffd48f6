"""The grade tables: ``grades.csv`` (one row per student) and ``grades.md`` (the same, then feedback)."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotation: grading imports this module
    from trimix.assignments.grading import Grades


def _num(x: float) -> str:
    return f"{x:g}"


def counted(n: float, word: str) -> str:
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
             f"{counted(len(rows), 'student')}; {counted(len(names), 'exercise')} from {', '.join(notebooks)}; "
             f"{counted(grades.max_points, 'point')}. An exercise scores its points when its CHECK cell runs "
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
