"""Exercises of lesson 02 (label-only attacks).

Example:
    >>> from mialab.exercises import lesson02
    >>> lesson02.q2.check(lesson02.distance_along_solution).correct
    True
"""

from __future__ import annotations

import numpy as np

from mialab.exercises.framework import Exercise, call_for_number

__all__ = ["q1", "q2", "q3"]


# q1: the gap attack's advantage ---------------------------------------------------------------


def gap_advantage_solution(predicted_labels, labels, is_member):
    correct = np.asarray(predicted_labels) == np.asarray(labels)
    is_member = np.asarray(is_member, dtype=bool)
    return correct[is_member].mean() - correct[~is_member].mean()  # train acc - test acc


def _check_gap(function):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 5, size=300)
    is_member = np.arange(300) < 120  # unequal sizes: a plain accuracy would be wrong
    predicted = np.where(rng.random(300) < np.where(is_member, 0.97, 0.8), labels, (labels + 1) % 5)
    value, problem = call_for_number(function, predicted.copy(), labels.copy(), is_member.copy())
    if problem:
        return problem
    correct = predicted == labels
    expected = gap_advantage_solution(predicted, labels, is_member)
    if np.isclose(value, (correct == is_member).mean()):
        return "that is the attack's accuracy; the advantage is TPR - FPR."
    if np.isclose(value, -expected):
        return "the sign is flipped: members are the ones classified correctly more often."
    if not np.isclose(value, expected):
        return "not yet: TPR is the accuracy on members, FPR the accuracy on non-members."
    return None


q1 = Exercise(
    "q1",
    _check_gap,
    hint="The gap attack flags every correctly classified record. What are its TPR and FPR?",
    solution=gap_advantage_solution,
)


# q2: one ray of the boundary search -------------------------------------------------------------


def distance_along_solution(predict_labels, x, label, direction, radius, steps):
    direction = np.asarray(direction, dtype=np.float64)
    direction = direction / np.linalg.norm(direction)
    low, high = 0.0, float(radius)  # label kept at low, changed at high
    for _ in range(steps):
        middle = (low + high) / 2
        if predict_labels((x + middle * direction)[None])[0] == label:
            low = middle
        else:
            high = middle
    return high


def _check_distance(function):
    weights, bias = np.array([0.6, 0.8]), -1.0  # boundary 0.6 x0 + 0.8 x1 = 1

    def predict_labels(X):
        return (np.asarray(X) @ weights + bias > 0).astype(int)

    x = np.zeros(2)
    for direction, true in (([0.6, 0.8], 1.0), ([1.0, 0.0], 1 / 0.6), ([0.0, 2.0], 1 / 0.8)):
        value, problem = call_for_number(function, predict_labels, x.copy(), 0, direction, 4.0, 30)
        if problem:
            return problem
        if np.isclose(value, true * np.linalg.norm(direction), atol=1e-6) and not np.isclose(
            np.linalg.norm(direction), 1
        ):
            return "normalise the direction first, or the distance is measured in its units."
        if not np.isclose(value, true, atol=1e-6):
            return (
                f"along {direction} the label changes at distance {true:.4f}; you returned "
                f"{value:.4f}. Keep low where the label holds and high where it changed."
            )
    return None


q2 = Exercise(
    "q2",
    _check_distance,
    hint=(
        "Start with low = 0 (label kept) and high = radius (label changed). Query the middle "
        "point x + middle · u; move low or high to it; repeat `steps` times; return high."
    ),
    solution=distance_along_solution,
)


# q3: which defense can matter? ------------------------------------------------------------------


_DEFENSES = {
    "masking": (
        "masking hides the scores but returns the same labels, so a label-only attacker gets "
        "exactly the answers it got before: it cannot change what that attacker learns."
    ),
    "rounding": (
        "rounding the scores leaves every label as it was, and labels are all these attacks "
        "need: it cannot change what a label-only attacker learns."
    ),
    "l2": None,
}


def _check_defense(answer):
    if not isinstance(answer, str) or answer.lower() not in _DEFENSES:
        return f"answer with one of {sorted(_DEFENSES)}."
    return _DEFENSES[answer.lower()]


q3 = Exercise(
    "q3",
    _check_defense,
    hint=(
        "A label-only attacker sees nothing but labels. Which defense can change the labels the "
        "model gives, rather than what the API shows next to them?"
    ),
    solution=(
        '"l2": it is the only one that changes the model itself, and so the labels it gives. '
        "Masking and rounding change only what the API shows next to the label, and the label "
        "survives both: every label-only attack gets the same answers as without them. Whether "
        "L2 reduces the leak by more than the noise of the measurement, and at what cost in "
        "accuracy, is for an experiment to say (section 7 measures it, with intervals)."
    ),
)
