"""Writing the grades out: ``grades.csv`` (the gradebook an LMS imports: one row per student, one column per
exercise, ``total``, ``max`` and ``review``), ``grades.md`` (the same table, what to review, the class's
feedback) and ``feedback/<student>.md`` (what one student is told: no review, which is for the instructor)."""
from __future__ import annotations

import csv
from pathlib import Path

from trimix.assignments.records import Grades


def _num(x: float) -> str:
    return f"{x:g}"


def counted(n: float, word: str) -> str:
    return f"{_num(n)} {word}{'' if n == 1 else 's'}"


def _cell(text: str) -> str:
    """A CSV field a spreadsheet shows as text: a leading = + - @ would make it a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _short(message: str, limit: int = 400) -> str:
    message = " ".join(message.split()).replace("|", "\\|")
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _file_name(student: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in student).strip(".") or "student"


def student_lines(grades: Grades, student: str) -> list[str]:
    """One student's feedback, in Markdown: per notebook its points, then each exercise's, what went wrong,
    and notes."""
    lines = []
    for notebook in dict.fromkeys(e.notebook for e in grades.exercises):
        exercises = [e for e in grades.exercises if e.notebook == notebook]
        got = sum(grades.scores[student][e.name] for e in exercises)
        lines += ["", f"## {notebook}: {_num(got)} / {_num(sum(e.points for e in exercises))}", ""]
        missing = {grades.feedback[student].get(e.name) for e in exercises}
        if missing == {f"{notebook} not handed in"}:
            lines.append("- not handed in")
            continue
        for e in exercises:
            line = f"- exercise {e.number}, `{e.name}`: {_num(grades.scores[student][e.name])} / {_num(e.points)}"
            if e.name in grades.feedback[student]:
                line += f". {_short(grades.feedback[student][e.name], 600)}"
            lines.append(line)
            lines += [f"  - {note}" for note in grades.notes.get(student, {}).get(e.name, [])]
    return lines


def write_feedback(grades: Grades, folder: Path) -> list[Path]:
    """``feedback/<student>.md``: what each student is told."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for student in sorted(grades.scores):
        lines = [f"# {student}: {_num(grades.total(student))} / {_num(grades.max_points)}", "",
                 "Each exercise was checked on its own, with the reference solution standing in for the other "
                 "exercises it uses, so a mistake costs the points of its own exercise only.",
                 *student_lines(grades, student)]
        if grades.runs.get(student):
            lines += ["", "## Running your notebook", "", *(f"- {_short(n, 600)}" for n in grades.runs[student])]
        path = folder / f"{_file_name(student)}.md"
        path.write_text("\n".join(lines) + "\n")
        written.append(path)
    return written


def write_tables(grades: Grades, out: Path) -> tuple[Path, Path]:
    """``grades.csv``, ``grades.md`` and ``feedback/``, under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    names = [e.name for e in grades.exercises]
    students = sorted(grades.scores)
    review = {s: grades.review.get(s, []) for s in students}
    header = ["student", *names, "total", "max", "review"]
    rows = [[s, *(_num(grades.scores[s][n]) for n in names), _num(grades.total(s)), _num(grades.max_points),
             "; ".join(review[s])] for s in students]
    with open(out / "grades.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *([_cell(c) for c in row] for row in rows)])
    notebooks = sorted({e.notebook for e in grades.exercises})
    flagged = [s for s in students if review[s]]
    lines = ["# Grades", "",
             f"{counted(len(rows), 'student')}; {counted(len(names), 'exercise')} from {', '.join(notebooks)}; "
             f"{counted(grades.max_points, 'point')}. Each exercise is scored in a fresh process that runs its "
             "check on the student's function alone, with the reference solutions standing in for the other "
             "exercises. `review`: how many things a human should look at (listed under Review).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([*r[:-1], str(len(review[r[0]])) if review[r[0]] else ""]) + " |" for r in rows]
    if grades.warnings:
        lines += ["", "## Warnings", ""] + [f"- {_short(w, 600)}" for w in grades.warnings]
    lines += ["", "## Review", ""]
    lines += [f"- **{s}**: " + "; ".join(_short(f, 200) for f in review[s]) for s in flagged] or ["- nothing"]
    lines += ["", "## Feedback", ""]
    for student in students:
        lines += [f"### {student}: {_num(grades.total(student))} / {_num(grades.max_points)}", ""]
        failed = grades.feedback[student]
        lines += [f"- `{n}`: {_short(failed[n])}" for n in names if n in failed] or ["- every check passes"]
        lines += [f"- `{n}`: {note}" for n in names for note in grades.notes.get(student, {}).get(n, [])]
        lines += [f"- {_short(n)}" for n in grades.runs.get(student, [])]
        lines.append("")
    (out / "grades.md").write_text("\n".join(lines))
    write_feedback(grades, out / "feedback")
    return out / "grades.csv", out / "grades.md"
