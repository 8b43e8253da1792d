"""Exercises of lesson 07 (auditing your own model).

Example:
    >>> from mialab.exercises import lesson07
    >>> lesson07.q1.check(lesson07.advantage_solution).correct
    True
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from mialab.data import membership_labels
from mialab.exercises.framework import Exercise, call_for_number, call_student

__all__ = ["q1", "q2"]


def advantage_solution(scores, is_member):
    fpr, tpr, _ = roc_curve(is_member, scores)
    return float(np.max(tpr - fpr))  # the best threshold's TPR − FPR (Yeom et al. 2018)


def _check_advantage(function):
    rng = np.random.default_rng(7)
    is_member = membership_labels(50, 50)
    scores = rng.normal(size=100) + is_member
    value, problem = call_for_number(function, scores.copy(), is_member.copy())
    if problem:
        return problem
    fpr, tpr, _ = roc_curve(is_member, scores)
    if np.isclose(value, np.max(tpr + (1 - fpr)) / 2):
        return "that is the best balanced accuracy; the advantage is TPR − FPR."
    if np.isclose(value, np.mean((scores >= np.median(scores)) == is_member)):
        return "one threshold is not enough: take the best over all thresholds."
    if not np.isclose(value, advantage_solution(scores, is_member)):
        return "not yet: the maximum over thresholds of TPR − FPR."
    return None


q1 = Exercise(
    "q1",
    _check_advantage,
    hint="sklearn.metrics.roc_curve gives every threshold's FPR and TPR.",
    solution=advantage_solution,
)


def attacks_solution(has_logits, has_references, has_population):
    if not has_logits:
        return {"gap (label-only)"}
    found = {"loss", "confidence", "modified entropy"}
    if has_references:
        found.add("LiRA")
        if has_population:
            found.add("RMIA")
    return found


def _check_attacks(function):
    for case in [(a, b, c) for a in (True, False) for b in (True, False) for c in (True, False)]:
        value, problem = call_student(function, *case)
        if problem:
            return problem
        expected = attacks_solution(*case)
        if not isinstance(value, (set, frozenset)):
            return "return a set of attack names, as in the report's `attack` column."
        if set(value) != expected:
            logits, references, population = case
            return (
                f"with logits={logits}, references={references}, population={population} "
                f"the audit runs {sorted(expected)}, not {sorted(value)}."
            )
    return None


q2 = Exercise(
    "q2",
    _check_attacks,
    hint="Labels alone allow only the gap attack; LiRA needs reference models; RMIA needs them "
    "and population records.",
    solution=attacks_solution,
)
