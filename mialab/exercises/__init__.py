"""Exercises that check themselves, one module per lesson.

The modules ``lesson00``, ``lesson01``, ``lesson02``, ``lesson03``, ``lesson04``, ``lesson05``,
``lesson06``, ``lesson07``, ``lesson08`` and ``lesson09`` each hold their lesson's exercises,
``q1``, ``q2`` and so on (:class:`Exercise`), which the lesson's notebook poses.
:class:`Exercise` and :class:`Feedback` are here for a lecturer who writes exercises of their
own.

Example:
    >>> from mialab.exercises import lesson00, lesson03, lesson06
    >>> lesson00.q1.check(...).status
    'not attempted'
"""

from mialab.exercises import (
    lesson00,
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
    lesson08,
    lesson09,
)
from mialab.exercises.framework import Exercise, Feedback

__all__ = [
    "Exercise",
    "Feedback",
    "lesson00",
    "lesson01",
    "lesson02",
    "lesson03",
    "lesson04",
    "lesson05",
    "lesson06",
    "lesson07",
    "lesson08",
    "lesson09",
]
