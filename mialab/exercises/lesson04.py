"""Exercises of lesson 04 (federated learning as a defense).

Example:
    >>> from mialab.exercises import lesson04
    >>> lesson04.q1.check(lesson04.fedavg_solution).correct
    True
"""

from __future__ import annotations

import numpy as np

from mialab.exercises.framework import Exercise, call_for_array, call_for_number

__all__ = ["q1", "q2", "q3"]


def fedavg_solution(client_weights, n_examples):
    weights = np.asarray(client_weights, dtype=np.float64)  # (clients, parameters)
    share = np.asarray(n_examples, dtype=np.float64) / np.sum(n_examples)
    return share @ weights  # each client counts in proportion to its records


def _check_fedavg(function):
    rng = np.random.default_rng(8)
    weights, sizes = rng.normal(size=(3, 6)), np.array([10, 40, 150])
    value, problem = call_for_array(function, (6,), weights.copy(), sizes.copy())
    if problem:
        return problem
    if np.allclose(value, weights.mean(axis=0)):
        return "that is the plain mean; FedAvg weighs each client by its number of records."
    if np.allclose(value, sizes @ weights):
        return "divide by the total number of records: the weights must sum to 1."
    if not np.allclose(value, fedavg_solution(weights, sizes)):
        return "not yet: Σ_k (n_k / n) · w_k over the clients k."
    return None


q1 = Exercise(
    "q1",
    _check_fedavg,
    hint="Turn n_examples into shares that sum to 1, then take the weighted sum of the rows.",
    solution=fedavg_solution,
)


def clip_solution(update, clipping_norm):
    update = np.asarray(update, dtype=np.float64)
    return update * min(1.0, clipping_norm / np.linalg.norm(update))  # shrink, never stretch


def _check_clip(function):
    big, small = np.array([3.0, 4.0, 0.0, 12.0]), np.array([0.3, -0.4, 0.0, 0.0])
    for update in (big, small):
        value, problem = call_for_array(function, (4,), update.copy(), 1.0)
        if problem:
            return problem
        if np.allclose(value, np.clip(update, -1.0, 1.0)) and not np.allclose(
            value, clip_solution(update, 1.0)
        ):
            return "clip the update's norm as a whole, not each coordinate (np.clip)."
        if np.allclose(value, update / np.linalg.norm(update)) and update is small:
            return "an update already shorter than C stays as it is: scale by min(1, C/‖u‖)."
        if not np.allclose(value, clip_solution(update, 1.0)):
            return "not yet: u · min(1, C / ‖u‖₂)."
    return None


q2 = Exercise(
    "q2",
    _check_clip,
    hint="np.linalg.norm(update) is ‖u‖₂; multiply by min(1, C / ‖u‖₂).",
    solution=clip_solution,
)


def noise_std_solution(noise_multiplier, clipping_norm, n_clients):
    return noise_multiplier * clipping_norm / n_clients  # σ of the noise on the average


def _check_noise_std(function):
    value, problem = call_for_number(function, 1.5, 0.5, 10)
    if problem:
        return problem
    if np.isclose(value, 1.5 * 0.5):
        return "that is the noise on the sum; the server adds it to the average of m updates."
    if np.isclose(value, 1.5 * 0.5 / np.sqrt(10)):
        return "one clipped client moves the average by at most C/m, not C/√m."
    if not np.isclose(value, noise_std_solution(1.5, 0.5, 10)):
        return "not yet: the noise scales with z and with one client's largest effect."
    return None


q3 = Exercise(
    "q3",
    _check_noise_std,
    hint="How far can one client, clipped to C, move an average of m updates?",
    solution=noise_std_solution,
)
