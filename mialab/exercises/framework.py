"""Self-checking exercises: ``q.check(answer)``, ``q.hint()``, ``q.solution()``.

In the spirit of Kaggle's learntools: every check answers *not attempted*, *incorrect* (with a
message a student can act on) or *correct*. The answer is passed explicitly, so a check never
reads the notebook's variables behind the student's back.
"""

from __future__ import annotations

import html
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Exercise", "Feedback"]

_COLOURS = {
    "correct": "#2e7d32",
    "incorrect": "#c62828",
    "not attempted": "#6d6d6d",
    "hint": "#1565c0",
    "solution": "#6a1b9a",
}


@dataclass(frozen=True)
class Feedback:
    """What a check, hint or solution says; shows in colour in a notebook, as text elsewhere."""

    status: str
    message: str

    @property
    def correct(self) -> bool:
        """Whether the answer was right."""
        return self.status == "correct"

    def __str__(self) -> str:
        return f"{self.status.capitalize()}: {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = _COLOURS[self.status]
        body = html.escape(self.message)
        if self.status == "solution":
            body = f"<pre>{body}</pre>"
        return (
            f'<div style="border-left: 4px solid {colour}; padding: 0.3em 0.8em;">'
            f'<b style="color: {colour}">{self.status.capitalize()}</b>: {body}</div>'
        )


class NotAttempted(Exception):
    """Raised by a checker when the answer is still the template's placeholder."""


class Exercise:
    """One exercise: a checker, a hint and a reference solution.

    Args:
        name: short name, e.g. ``"q1"``.
        checker: ``checker(answer)`` returns None when the answer is right, a message saying what
            is wrong otherwise; it raises ``NotAttempted`` for a placeholder answer.
        hint: a nudge that does not give the answer away.
        solution: a function (its source is shown) or a text.

    Example:
        >>> q = Exercise("q0", lambda a: None if a == 4 else "2 + 2 is not that.",
        ...              hint="Count.", solution="4")
        >>> q.check(4).correct, q.check(5).status, q.check(...).status
        (True, 'incorrect', 'not attempted')
    """

    def __init__(self, name: str, checker: Callable, *, hint: str, solution):
        self.name = name
        self._checker = checker
        self._hint = hint
        self._solution = solution

    def check(self, answer=...) -> Feedback:
        """Check an answer; ``...`` or ``None`` counts as not attempted."""
        if answer is ... or answer is None:
            return Feedback(
                "not attempted", "replace the placeholder with your answer, then check."
            )
        try:
            problem = self._checker(answer)
        except NotAttempted as unfinished:
            return Feedback("not attempted", str(unfinished))
        if problem is None:
            return Feedback("correct", "well done.")
        return Feedback("incorrect", problem)

    def hint(self) -> Feedback:
        """A nudge towards the answer, without giving it."""
        return Feedback("hint", self._hint)

    def solution(self) -> Feedback:
        """The reference answer (a function's source, or the value)."""
        if callable(self._solution):
            return Feedback("solution", textwrap.dedent(inspect.getsource(self._solution)))
        return Feedback("solution", str(self._solution))

    def __repr__(self) -> str:
        return f"Exercise({self.name!r})"


def call_student(function, *args):
    """Call a student's function; turn its crash into a message, and None into NotAttempted."""
    if not callable(function):
        return None, "the answer must be a function: pass its name, without brackets."
    try:
        value = function(*args)
    except Exception as error:  # a student's bug, reported back in words
        return None, f"your function raised {type(error).__name__}: {error}"
    if value is None:
        raise NotAttempted("your function returns nothing yet: fill in its body and `return`.")
    return value, None


def call_for_number(function, *args):
    """Like :func:`call_student`, for an answer that must be one number."""
    value, problem = call_student(function, *args)
    if problem:
        return None, problem
    try:
        return float(value), None
    except (TypeError, ValueError):
        return None, f"return one number, got {type(value).__name__}."


def call_for_array(function, shape: tuple, *args):
    """Like :func:`call_student`, for an answer that must be a float array of ``shape``."""
    value, problem = call_student(function, *args)
    if problem:
        return None, problem
    try:
        value = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None, "return an array of numbers."
    if value.shape != shape:
        return None, f"expected one value per row, shape {shape}; got shape {value.shape}."
    return value, None
