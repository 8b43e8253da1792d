"""Exercises of lesson 08 (diffusion models: membership inference and extraction).

Example:
    >>> from mialab.exercises import lesson08
    >>> lesson08.q1.check(lesson08.pia_solution).correct
    True
"""

from __future__ import annotations

import numpy as np

from mialab.exercises.framework import Exercise, call_for_array, call_student

__all__ = ["q1", "q2", "q3"]


# q1: PIA's score from the two noise predictions -------------------------------------------------


def pia_solution(predicted_noise_at_0, predicted_noise_at_t, p):
    at_0 = np.asarray(predicted_noise_at_0, dtype=np.float64)  # (n, d)
    at_t = np.asarray(predicted_noise_at_t, dtype=np.float64)
    gap = np.abs(at_0 - at_t)
    # Kong et al. (ICLR 2024): the sum over features of |ε̂₀ − ε̂_t|^p, no p-th root, negated so
    # that the two predictions agreeing (a member) gives the higher score.
    return -(gap**p).sum(axis=1)


def _check_pia(function):
    rng = np.random.default_rng(8)
    at_0 = rng.normal(size=(12, 6))
    at_t = at_0 + rng.normal(scale=0.8, size=(12, 6))
    for p in (4.0, 1.0):  # the authors' p, then one where the absolute value matters
        value, problem = call_for_array(function, (12,), at_0.copy(), at_t.copy(), p)
        if problem:
            return problem
        difference = at_0 - at_t
        powered = (np.abs(difference) ** p).sum(axis=1)
        expected = pia_solution(at_0, at_t, p)
        if np.allclose(value, expected):
            continue
        if np.allclose(value, powered):
            return "higher must mean member: members' two predictions agree, so negate the sum."
        if np.allclose(np.abs(value), powered ** (1 / p)):
            return (
                "that is the ℓ_p norm, with its p-th root; PIA's score is the sum of |ε̂₀ − ε̂_t|^p "
                "itself (the root would not change the ranking, but it is not the score asked for)."
            )
        if np.allclose(np.abs(value), powered / at_0.shape[1]):
            return (
                "the mean over features ranks the records exactly as the sum does (it divides "
                "every score by the same d), so the AUC would not change; but the score is the "
                "authors' sum over features: drop the division by d."
            )
        if p != 2 and np.allclose(np.abs(value), (difference**2).sum(axis=1)):
            return (
                f"that is the squared error; raise |ε̂₀ − ε̂_t| to the power p you are given ({p})."
            )
        if np.allclose(np.abs(value), (np.abs(difference) ** 4).sum(axis=1)):
            return f"use the p you are given (here {p}), not the authors' 4."
        if np.allclose(np.abs(value), np.abs((difference**p).sum(axis=1))):
            return (
                "take the absolute value before the power: with an odd p, (ε̂₀ − ε̂_t)^p is "
                "negative wherever ε̂_t is the larger, and those coordinates would cancel."
            )
        return f"not yet (p = {p}): −Σ_j |ε̂₀ − ε̂_t|^p, one number per row."
    return None


q1 = Exercise(
    "q1",
    _check_pia,
    hint="Work on the (n, d) array of differences; reduce it along the features, one score per "
    "record, and mind the convention: higher = member.",
    solution=pia_solution,
)


# q2: membership, or a distribution shift? -------------------------------------------------------

_VERDICTS = ("distribution shift", "membership", "within noise")


def verdict_solution(attack_auc_interval, blind_auc_interval):
    blind_low, _ = blind_auc_interval
    # A blind classifier that separates the sets shows that members and non-members differ
    # without the model: no attack's AUC on them can be credited to membership until the split is
    # fixed. It learns its direction from the data, so only an AUC above 0.5 is a separation.
    if blind_low > 0.5:
        return "distribution shift"
    attack_low, _ = attack_auc_interval
    if attack_low > 0.5:  # the attack beats chance, and the sets alone do not
        return "membership"
    return "within noise"


# (attack's interval, blind baseline's interval, why the expected verdict is right)
_SCENARIOS = [
    (
        (0.78, 0.84),
        (0.74, 0.80),
        "a classifier that never queries the model tells the member set from the non-member set "
        "(its interval lies above 0.5): the two sets differ without the model, so the attack's "
        "AUC cannot be credited to membership. Fix the split first.",
    ),
    (
        (0.58, 0.66),
        (0.46, 0.55),
        "the blind baseline's interval contains 0.5 (the records alone do not tell the sets "
        "apart) and the attack's lies above 0.5: that is a membership signal. Compare intervals "
        "with 0.5, not their midpoints.",
    ),
    (
        (0.47, 0.56),
        (0.45, 0.54),
        "the attack's interval contains 0.5: chance is not ruled out. Compare intervals with "
        "0.5, not their midpoints.",
    ),
    (
        (0.49, 0.57),
        (0.70, 0.80),
        "check the split before the attack: on sets that differ without the model, an attack "
        "measures nothing about membership, in either direction. Fix the split first.",
    ),
    (
        (0.90, 0.95),
        (0.52, 0.60),
        "even a small blind advantage means the sets differ; the attack's AUC then mixes "
        "membership with the shift, and subtracting the blind AUC does not separate them. Fix "
        "the split first.",
    ),
    (
        (0.60, 0.70),
        (0.38, 0.49),
        "the blind classifier learns its direction from the data, so on held-out folds it "
        "separates sets that differ with an AUC above 0.5. A little below 0.5 is where a "
        "classifier that learnt nothing lands by chance (its bootstrap interval ignores the "
        "refitting and is too narrow: a permutation test says so, as in section 8), not a "
        "separation; the attack's interval lies above 0.5: membership.",
    ),
]


def _check_verdict(function):
    for attack, blind, why in _SCENARIOS:
        value, problem = call_student(function, attack, blind)
        if problem:
            return problem
        if not isinstance(value, str) or value not in _VERDICTS:
            return f"return one of the strings {list(_VERDICTS)}, exactly; got {value!r:.60}."
        expected = verdict_solution(attack, blind)
        if value != expected:
            return (
                f"attack's AUC in {attack}, blind baseline's in {blind}: the verdict is "
                f"{expected!r}, not {value!r}. {why[0].upper()}{why[1:]}"
            )
    return None


q2 = Exercise(
    "q2",
    _check_verdict,
    hint="Ask first whether the records alone tell the two sets apart (the blind classifier "
    "learnt its direction from the data: which side of 0.5 means it succeeded?); only then "
    "whether the attack beats chance. Use the intervals' ends, not their midpoints.",
    solution=verdict_solution,
)


# q3: Carlini et al.'s extraction criterion ------------------------------------------------------


def extracted_solution(distances, alpha=0.5, threshold=1.0):
    distances = np.asarray(distances, dtype=np.float64)  # (m, k), each row sorted ascending
    # The nearest record's distance, measured against the sample's whole neighbourhood (the
    # nearest included): a sample close to everything is typical, not a copy of one record.
    ratio = distances[:, 0] / (alpha * distances.mean(axis=1))
    return ratio < threshold


# Each row: one generated sample's distances to its 5 nearest training records, and what it is.
_DISTANCES = np.array(
    [
        [0.05, 0.05, 0.06, 0.06, 0.07],  # blank, typical: close to every record
        [3.0, 10.0, 11.0, 12.0, 13.0],  # far from everything, but far closer to one record
        [4.0, 4.2, 4.5, 4.8, 5.0],  # an ordinary new sample
        [0.2, 3.0, 3.2, 3.5, 4.0],  # a near-copy
        [2.0, 3.0, 3.2, 3.4, 3.6],  # closer to one record, but not by a factor 1/alpha
        [1.0, 1.9, 2.0, 2.2, 2.3],  # a copy only if the nearest is left out of the mean
        [1.0, 1.5, 1.6, 1.7, 6.0],  # a copy by the mean, which one far neighbour pulls up
    ]
)
_ROWS = [
    "a blank, typical sample: its nearest training record is close in absolute terms, but its "
    "whole neighbourhood is as close, so it copies none of them",
    "far from everything in absolute terms, but much closer to one record than to the rest of "
    "its neighbourhood: a copy of that record",
    "an ordinary new sample, about as far from its nearest record as from the others",
    "a near-copy of its nearest record",
    "closer to one record than to the others, but not by the factor 1/alpha the criterion asks",
    "a borderline sample whose neighbourhood's mean includes the nearest record itself",
    "a copy by the paper's criterion: its nearest distance is below alpha times the mean of the "
    "whole row, a mean its one far neighbour pulls up (the mean, not the median or the "
    "second-nearest distance)",
]


def _check_extracted(function):
    m = len(_DISTANCES)
    nearest, mean = _DISTANCES[:, 0], _DISTANCES.mean(axis=1)
    for alpha, threshold in ((0.5, 1.0), (0.25, 3.0)):  # the paper's values, then others
        value, problem = call_student(function, _DISTANCES.copy(), alpha, threshold)
        if problem:
            return problem
        value = np.asarray(value)
        if value.shape != (m,):
            return f"expected one value per sample, shape ({m},); got shape {value.shape}."
        ratio = nearest / (alpha * mean)
        if value.dtype != bool:
            if np.issubdtype(value.dtype, np.number) and np.allclose(value, ratio):
                return "that is ℓ itself; return whether each sample is extracted: ℓ < threshold."
            return f"return booleans, one per sample (ℓ < threshold); got dtype {value.dtype}."
        expected = extracted_solution(_DISTANCES, alpha, threshold)
        if np.array_equal(value, expected):
            continue
        if np.array_equal(value, nearest < threshold) or np.array_equal(
            value, nearest < alpha * threshold
        ):
            return (
                "an absolute threshold on the nearest distance flags a blank, typical sample "
                "(close to every record) and misses a copy far from everything else: divide the "
                "nearest distance by alpha times the mean of the row first."
            )
        if np.array_equal(value, nearest / (alpha * _DISTANCES[:, 1:].mean(axis=1)) < threshold):
            return (
                "S_x̂ is the k nearest training records, the nearest among them: take the mean "
                "of the whole row, distances[:, 0] included, not of distances[:, 1:]."
            )
        if np.array_equal(value, nearest / mean < threshold):
            return "multiply the mean by alpha: ℓ = distances[:, 0] / (alpha · mean of the row)."
        if np.array_equal(value, ratio > threshold):
            return "the other way round: a copy is a sample whose ℓ is *below* the threshold."
        if (alpha, threshold) != (0.5, 1.0) and any(
            np.array_equal(value, extracted_solution(_DISTANCES, a, t))
            for a, t in ((0.5, 1.0), (0.5, threshold), (alpha, 1.0))
        ):
            return (
                f"use the alpha and threshold you are given (here {alpha} and {threshold}); "
                "the paper's 0.5 and 1 are only the defaults."
            )
        wrong = int(np.flatnonzero(value != expected)[0])
        what = f" is {_ROWS[wrong]}" if (alpha, threshold) == (0.5, 1.0) else ""
        return (
            f"with alpha = {alpha} and threshold = {threshold}, sample {wrong} (distances "
            f"{_DISTANCES[wrong].tolist()}){what}; its ℓ is {ratio[wrong]:.2f}, so expected "
            f"{bool(expected[wrong])}, got {bool(value[wrong])}."
        )
    return None


q3 = Exercise(
    "q3",
    _check_extracted,
    hint="Measure the nearest distance against the sample's whole neighbourhood (the row's "
    "mean, nearest included) scaled by alpha; a copy has ℓ below the threshold.",
    solution=extracted_solution,
)
