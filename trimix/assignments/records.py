"""What grading produces, as plain data: the exercises graded, and for each student their points, what to
tell them, and what a human should look at. ``grading`` fills it in, ``report`` writes it out."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Exercise:
    name: str
    notebook: str  # file name of the instructor notebook
    points: float
    cell: object  # the instructor's CHECK cell
    number: int = 1  # its place among its notebook's exercises, from 1


@dataclass
class Grades:
    exercises: list[Exercise]
    scores: dict = field(default_factory=dict)  # student -> {exercise: points}
    feedback: dict = field(default_factory=dict)  # student -> {exercise: why it scored nothing}
    notes: dict = field(default_factory=dict)  # student -> {exercise: [notes, e.g. graded with a reference]}
    runs: dict = field(default_factory=dict)  # student -> [what happened when their notebooks ran]
    review: dict = field(default_factory=dict)  # student -> [what a human should look at]
    warnings: list = field(default_factory=list)

    @property
    def max_points(self) -> float:
        return sum(e.points for e in self.exercises)

    def total(self, student: str) -> float:
        return sum(self.scores[student].values())
