"""From what grading found to what it says: points and messages per exercise, the reference stand-ins a score
relied on, what happened when a notebook ran, and what a human should look at (``records.Grades``)."""
from __future__ import annotations

from trimix.assignments.records import Exercise, Grades

MAX_ERRORS = 5  # cells that raised, listed per notebook


def _stand_in_notes(uses: list[str], scores: dict, feedback: dict, where: dict[str, Exercise], key: str) -> list[str]:
    """"graded with the reference batch_standardize; yours is wrong, see exercise 1" for each exercise a
    score relied on the reference of, where the student's own version failed."""
    notes = []
    for other in uses:
        if other in scores and scores[other] == 0 and other in feedback:
            e = where[other]
            place = f"exercise {e.number}" + ("" if e.notebook == key else f" of {e.notebook}")
            notes.append(f"graded with the reference {other}; yours is wrong, see {place} ({other})")
    return notes


def _run_notes(key: str, run) -> list[str]:
    notes = [f"{key}: cell {i} (`{line}`) ran past its {limit:g} s limit and was interrupted; the cells after it "
             "still ran" for i, line, limit in run.timeouts]
    if run.stopped:
        notes.append(f"{key}: {run.stopped}")
    notes += [f"{key}: cell {i} (`{line}`) raised {message[:300]}" for i, line, message in run.errors[:MAX_ERRORS]]
    if len(run.errors) > MAX_ERRORS:
        notes.append(f"{key}: {len(run.errors) - MAX_ERRORS} more cells raised errors (see the executed copy)")
    if run.capped:
        notes.append(f"{key}: the output of cell(s) {', '.join(map(str, run.capped))} was cut at "
                     f"{run.output_limit} characters in the executed copy")
    return notes


def _flags(key: str, outcome) -> list[str]:
    """The static review, then what the scoring processes saw."""
    flags = [f"{key} {finding}" for finding in outcome.review]
    for name, scored in outcome.scores.items():
        flags += [f"{key}: while graded, my_{name} called the kit's {kit}" for kit in dict.fromkeys(scored.kit_answer)]
        flags += [f"{key}: while graded, my_{name} tried to {v}" for v in scored.violations[:3]]
        if scored.tampered:
            flags.append(f"{key}: while graded, my_{name} changed " + ", ".join(scored.tampered[:5]))
    return flags


def assemble(by_notebook: dict[str, list[Exercise]], graded: list[str], students: dict, tasks: dict,
             outcomes: dict, warnings: list[str]) -> Grades:
    """The grades of every student for the notebooks in ``graded`` (those at least one student handed in).

    ``tasks``: (student, notebook) -> (path, notebook or why it could not be read); ``outcomes``: (student,
    notebook) -> ``grading.Outcome`` for each submission that ran."""
    result = Grades([e for key in graded for e in by_notebook[key]], warnings=warnings)
    where = {e.name: e for exs in by_notebook.values() for e in exs}
    in_kernel = {(key, name): scored.state for (_, key), outcome in outcomes.items()
                 for name, scored in outcome.scores.items() if scored.state}
    warnings += [f"{key}: the check of {name} uses the notebook's own variables ({', '.join(state)}), so it was "
                 "scored from the CHECK cell in the student's kernel, where their code can reach it; a check that "
                 "needs only imports and my_<name> is scored out of reach (docs/instructors.md, section 5)"
                 for (key, name), state in sorted(in_kernel.items())]
    for student in students:
        scores, feedback, notes, runs, flags = {}, {}, {}, [], []
        for key in graded:
            task, outcome = tasks.get((student, key)), outcomes.get((student, key))
            for e in by_notebook[key]:
                scores[e.name] = 0.0
                if task is None:
                    feedback[e.name] = f"{key} not handed in"
                elif outcome is None:
                    feedback[e.name] = f"not graded: {task[1]}"
                elif outcome.scores[e.name].passed:
                    scores[e.name] = e.points
                else:
                    feedback[e.name] = outcome.scores[e.name].message or "its check failed"
            if outcome is not None:
                runs += _run_notes(key, outcome.run)
                flags += _flags(key, outcome)
        for key in graded:  # once every score is known: an exercise may build on another notebook's
            outcome = outcomes.get((student, key))
            for e in by_notebook[key] if outcome is not None else []:
                found = _stand_in_notes(outcome.scores[e.name].uses, scores, feedback, where, key)
                if found:
                    notes[e.name] = found
        result.scores[student], result.feedback[student], result.notes[student] = scores, feedback, notes
        result.runs[student], result.review[student] = runs, flags
    return result
