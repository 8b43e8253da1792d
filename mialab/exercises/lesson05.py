"""Exercises of lesson 05 (differential privacy, audited).

Example:
    >>> from mialab.exercises import lesson05
    >>> lesson05.q1.check(lesson05.tpr_ceiling_solution).correct
    True
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from mialab.exercises.framework import Exercise, call_for_array, call_for_number

__all__ = ["q1", "q2", "q3"]


def tpr_ceiling_solution(fpr, epsilon, delta):
    fpr = np.asarray(fpr, dtype=np.float64)
    # TPR ≤ e^ε · FPR + δ, and with members and non-members swapped, TNR ≤ e^ε · FNR + δ:
    # 1 − FPR ≤ e^ε (1 − TPR) + δ, that is TPR ≤ 1 − e^-ε (1 − δ − FPR) (Kairouz et al. 2015).
    low_fpr = np.exp(epsilon) * fpr + delta
    high_fpr = 1 - np.exp(-epsilon) * (1 - delta - fpr)
    return np.minimum(1.0, np.minimum(low_fpr, high_fpr))


def _one_sided_ceiling(fpr, epsilon, delta):
    return np.minimum(1.0, np.exp(epsilon) * np.asarray(fpr, dtype=np.float64) + delta)


def _check_ceiling(function):
    fpr = np.array([0.0, 1e-3, 0.01, 0.1, 0.5])
    value, problem = call_for_array(function, (5,), fpr.copy(), 2.0, 1e-3)
    if problem:
        return problem
    expected = tpr_ceiling_solution(fpr, 2.0, 1e-3)
    if np.allclose(value, np.exp(2.0) * fpr + 1e-3):
        return "a rate cannot exceed 1: cap the ceiling at 1."
    if np.allclose(value, np.minimum(1, np.exp(-2.0) * fpr + 1e-3)):
        return "the ceiling is e^ε times the FPR (e^ε ≥ 1), not e^-ε."
    if np.allclose(value, np.minimum(1, np.exp(2.0) * fpr)):
        return "add δ: with δ > 0 even a zero-FPR attack may catch a fraction δ of members."
    if np.allclose(value, _one_sided_ceiling(fpr, 2.0, 1e-3)):
        return (
            "valid but loose at high FPR: swap members and non-members too, "
            "1 − FPR ≤ e^ε · (1 − TPR) + δ, and take the smaller ceiling."
        )
    if not np.allclose(value, expected):
        return "not yet: min(1, e^ε · FPR + δ, 1 − e^-ε · (1 − δ − FPR))."
    return None


q1 = Exercise(
    "q1",
    _check_ceiling,
    hint=(
        "(ε, δ)-DP says TPR ≤ e^ε · FPR + δ, and, swapping members and non-members, "
        "1 − FPR ≤ e^ε · (1 − TPR) + δ; a rate is at most 1."
    ),
    solution=tpr_ceiling_solution,
)


def implied_epsilon_solution(tpr, fpr, delta):
    # The smallest ε ≥ 0 with TPR ≤ e^ε · FPR + δ and 1 − FPR ≤ e^ε · (1 − TPR) + δ.
    bounds = [0.0]
    if tpr > delta:
        bounds.append(np.log((tpr - delta) / fpr) if fpr > 0 else np.inf)
    if 1 - fpr > delta:
        bounds.append(np.log((1 - fpr - delta) / (1 - tpr)) if tpr < 1 else np.inf)
    return float(max(bounds))


def _one_sided_implied(tpr, fpr, delta):
    return float(np.log((tpr - delta) / fpr))


def _check_implied(function):
    value, problem = call_for_number(function, 0.5, 0.01, 0.05)
    if problem:
        return problem
    if np.isclose(value, np.log(0.5 / 0.01)):
        return "subtract δ first: TPR − δ ≤ e^ε · FPR."
    if np.isclose(value, np.log10(0.45 / 0.01)):
        return "ε is a natural logarithm (e^ε), not log10."
    if not np.isclose(value, implied_epsilon_solution(0.5, 0.01, 0.05)):
        return "not yet: solve TPR = e^ε · FPR + δ for ε."
    value, problem = call_for_number(function, 0.99, 0.5, 1e-5)  # nearly every member caught
    if problem:
        return problem
    if np.isclose(value, _one_sided_implied(0.99, 0.5, 1e-5)):
        return (
            "half right: swap members and non-members too, 1 − FPR ≤ e^ε · (1 − TPR) + δ, "
            "and take the larger ε of the two."
        )
    if not np.isclose(value, implied_epsilon_solution(0.99, 0.5, 1e-5)):
        return "not yet: the larger ε of the two inequalities."
    value, problem = call_for_number(function, 0.05, 0.1, 1e-5)  # worse than guessing
    if problem:
        return problem
    if not np.isclose(value, 0.0):
        return "ε is never negative: an attack no better than chance implies ε ≥ 0 only."
    return None


q2 = Exercise(
    "q2",
    _check_implied,
    hint=(
        "Rearrange TPR ≤ e^ε · FPR + δ and 1 − FPR ≤ e^ε · (1 − TPR) + δ into ε ≥ ln(...); "
        "the answer is the larger, and at least 0."
    ),
    solution=implied_epsilon_solution,
)


def fpr_upper_solution(false_positives, negatives, confidence):
    if false_positives == negatives:
        return 1.0
    return float(stats.beta.ppf(confidence, false_positives + 1, negatives - false_positives))


def _check_fpr_upper(function):
    value, problem = call_for_number(function, 2, 500, 0.95)
    if problem:
        return problem
    if np.isclose(value, 2 / 500):
        return "that is the estimate; the audit needs the highest FPR the counts allow."
    if np.isclose(value, stats.beta.ppf(0.975, 3, 498)):
        return "one-sided: only an FPR that is too high would hurt, so use the 95% quantile."
    if not np.isclose(value, fpr_upper_solution(2, 500, 0.95)):
        return "not yet: the Clopper-Pearson upper bound, a Beta(k + 1, n − k) quantile."
    return None


q3 = Exercise(
    "q3",
    _check_fpr_upper,
    hint="scipy.stats.beta.ppf(confidence, k + 1, n - k) for k false positives among n.",
    solution=fpr_upper_solution,
)
