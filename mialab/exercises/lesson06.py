"""Exercises of lesson 06 (language models).

Example:
    >>> from mialab.exercises import lesson06
    >>> lesson06.q2.check(lesson06.exposure_solution).correct
    True
"""

from __future__ import annotations

import math

import numpy as np

from mialab.exercises.framework import Exercise, call_for_number, call_student

__all__ = ["q1", "q2", "q3"]


def min_k_solution(token_logprobs, k):
    logprobs = np.sort(np.asarray(token_logprobs, dtype=np.float64))  # least likely first
    return float(logprobs[: max(1, math.floor(k * len(logprobs)))].mean())


def _check_min_k(function):
    logprobs = np.log([0.9, 0.05, 0.6, 0.3, 0.01, 0.8, 0.7, 0.95, 0.5, 0.2])
    value, problem = call_for_number(function, logprobs.copy(), 0.2)
    if problem:
        return problem
    if np.isclose(value, np.sort(logprobs)[-2:].mean()):
        return (
            "take the k% *least* likely tokens (the lowest log-probabilities), not the likeliest."
        )
    if np.isclose(value, logprobs.mean()):
        return "that is the mean over all tokens (the loss attack); keep only the lowest k%."
    if np.isclose(value, logprobs[:2].mean()):
        return "sort the log-probabilities first: the k% lowest, wherever they are in the text."
    if not np.isclose(value, min_k_solution(logprobs, 0.2)):
        return "not yet: the mean of the ⌊k·n⌋ lowest log-probabilities."
    value, problem = call_for_number(function, logprobs[:4].copy(), 0.2)
    if problem:
        return problem
    if not np.isclose(value, min_k_solution(logprobs[:4], 0.2)):
        return "with 4 tokens and k = 20%, ⌊k·n⌋ = 0: keep at least one token."
    return None


q1 = Exercise(
    "q1",
    _check_min_k,
    hint="np.sort puts the lowest first; keep max(1, floor(k * n)) of them and average.",
    solution=min_k_solution,
)


def exposure_solution(canary_logprob, candidate_logprobs):
    candidates = np.asarray(candidate_logprobs, dtype=np.float64)
    # Ties count against the canary (as in the paper's rank): rank = how many candidates are at
    # least as likely as the canary, the canary itself included.
    rank = int(np.sum(candidates >= canary_logprob))
    return float(np.log2(len(candidates)) - np.log2(rank))


def _check_exposure(function):
    candidates = np.array([-30.0, -25.0, -21.0, -20.0, -18.0, -26.0, -40.0, -22.0])
    value, problem = call_for_number(function, -21.0, candidates.copy())
    if problem:
        return problem
    expected = exposure_solution(-21.0, candidates)  # rank 3 of 8: log2(8/3)
    if np.isclose(value, np.log2(8) - np.log2(6)):
        return "rank 1 is the *likeliest* candidate: count the candidates with a higher log-prob."
    if np.isclose(value, np.log(8) - np.log(3)):
        return "exposure is in bits: use log2."
    if np.isclose(value, np.log2(8) - np.log2(2)):
        return "the rank starts at 1: one plus the number of likelier candidates."
    if not np.isclose(value, expected):
        return "not yet: log2 |R| − log2 rank."
    tied = np.array([-30.0, -21.0, -21.0, -20.0, -18.0, -26.0, -40.0, -22.0])
    value, problem = call_for_number(function, -21.0, tied.copy())
    if problem:
        return problem
    if np.isclose(value, np.log2(8) - np.log2(3)):
        return "a candidate exactly as likely as the canary ranks ahead of it: count ties too."
    if not np.isclose(value, exposure_solution(-21.0, tied)):  # rank 4 of 8: 1 bit
        return "right without ties; with a tie, count every candidate at least as likely."
    return None


q2 = Exercise(
    "q2",
    _check_exposure,
    hint="rank = the number of candidates at least as likely as the canary (itself and ties "
    "included), so the likeliest candidate has rank 1.",
    solution=exposure_solution,
)


def group_privacy_solution(epsilon, delta, k):
    # Chain k neighbouring datasets: each link multiplies by e^ε and adds δ, so
    # δ_k = δ (1 + e^ε + ... + e^((k-1)ε)) ≤ k e^((k-1)ε) δ (either answer is accepted).
    return k * epsilon, delta * sum(math.exp(i * epsilon) for i in range(k))


def _check_group(function):
    value, problem = call_student(function, 0.5, 1e-6, 4)
    if problem:
        return problem
    try:
        eps, delta = (float(v) for v in value)
    except (TypeError, ValueError):
        return "return a pair (ε_k, δ_k)."
    if np.isclose(eps, 0.5) and np.isclose(delta, 1e-6):
        return "a text repeated k times is k records: the guarantee weakens with k."
    if not np.isclose(eps, 4 * 0.5):
        return "ε grows linearly with the size of the group."
    if np.isclose(delta, 4e-6):
        return "δ grows faster than k·δ: each step of the chain multiplies it by e^ε."
    tight, loose = group_privacy_solution(0.5, 1e-6, 4)[1], 4 * math.exp(3 * 0.5) * 1e-6
    if not (np.isclose(delta, tight, rtol=1e-6) or np.isclose(delta, loose, rtol=1e-6)):
        return "not yet: chain the k steps, δ_k = δ (1 + e^ε + … + e^((k−1)ε)) ≤ k e^((k−1)ε) δ."
    return None


q3 = Exercise(
    "q3",
    _check_group,
    hint="Chain k neighbouring datasets: each link multiplies the probability by e^ε and adds δ.",
    solution=group_privacy_solution,
)
