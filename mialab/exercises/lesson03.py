"""Exercises of lesson 03 (generative models and synthetic data).

Example:
    >>> from mialab.exercises import lesson03
    >>> lesson03.q1.check(lesson03.gan_leaks_solution).correct
    True
"""

from __future__ import annotations

import numpy as np

from mialab.exercises.framework import Exercise, call_for_array

__all__ = ["q1", "q2", "q3"]


def gan_leaks_solution(X, samples):
    X, samples = np.asarray(X, dtype=np.float64), np.asarray(samples, dtype=np.float64)
    distances = np.linalg.norm(X[:, None, :] - samples[None, :, :], axis=2)  # (n, m)
    return -distances.min(axis=1)  # closer to some sample = more likely a member


def _check_gan_leaks(function):
    rng = np.random.default_rng(5)
    X, samples = rng.normal(size=(12, 4)), rng.normal(size=(30, 4))
    value, problem = call_for_array(function, (12,), X.copy(), samples.copy())
    if problem:
        return problem
    expected = gan_leaks_solution(X, samples)
    if np.allclose(value, -expected):
        return "higher must mean member: return minus the distance."
    if np.allclose(value, -(expected**2)):
        return "that is the squared distance; GAN-Leaks uses the Euclidean distance itself."
    if not np.allclose(value, expected):
        return "not yet: for each record, the distance to its nearest sample, negated."
    return None


q1 = Exercise(
    "q1",
    _check_gan_leaks,
    hint="Build the (n, m) matrix of distances with broadcasting, take each row's minimum.",
    solution=gan_leaks_solution,
)


def monte_carlo_solution(distances, radius):
    return (np.asarray(distances) < radius).mean(axis=1)  # share of samples inside the ball


def _check_monte_carlo(function):
    rng = np.random.default_rng(6)
    distances = np.round(rng.uniform(0, 2, size=(10, 25)), 1)  # rounded: some equal the radius
    value, problem = call_for_array(function, (10,), distances.copy(), 1.0)
    if problem:
        return problem
    expected = monte_carlo_solution(distances, 1.0)
    if np.allclose(value, (distances <= 1.0).mean(axis=1)):
        return "the ball is open: a sample at distance exactly the radius does not count."
    if np.allclose(value, (distances < 1.0).sum(axis=1)):
        return "return the share of samples (divide by m), not their count."
    if not np.allclose(value, expected):
        return "not yet: for each record, the fraction of samples closer than the radius."
    return None


q2 = Exercise(
    "q2",
    _check_monte_carlo,
    hint="Compare the (n, m) distance matrix with the radius and average each row.",
    solution=monte_carlo_solution,
)


def set_score_solution(record_scores, sets):
    return np.asarray(record_scores)[np.asarray(sets)].mean(axis=1)  # one score per set


def _check_set_score(function):
    rng = np.random.default_rng(7)
    scores = rng.normal(size=40)
    sets = np.stack([rng.choice(40, 5, replace=False) for _ in range(8)])
    value, problem = call_for_array(function, (8,), scores.copy(), sets.copy())
    if problem:
        return problem
    expected = set_score_solution(scores, sets)
    if np.allclose(value, scores[sets].sum(axis=1)):
        return "the sum ranks equal-sized sets the same way, but the score is the mean."
    if not np.allclose(value, expected):
        return "not yet: average the record scores of each set (sets holds record indices)."
    return None


q3 = Exercise(
    "q3",
    _check_set_score,
    hint="record_scores[sets] has shape (n_sets, set_size); average along the set.",
    solution=set_score_solution,
)
