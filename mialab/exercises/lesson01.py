"""Exercises of lesson 01 (shadow models, LiRA, RMIA).

Example:
    >>> from mialab.exercises import lesson01
    >>> lesson01.q1.check(lesson01.phi_solution).correct
    True
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from mialab.attacks import lira_statistic
from mialab.exercises.framework import Exercise, call_for_array, call_for_number

__all__ = ["q1", "q2", "q3"]


# q1: LiRA's statistic -------------------------------------------------------------------------


def phi_solution(logits, labels):
    from scipy.special import log_softmax

    probs = np.exp(log_softmax(np.asarray(logits, dtype=np.float64), axis=1))
    rows = np.arange(len(labels))
    p_true = probs[rows, labels]
    others = probs.copy()
    others[rows, labels] = 0.0
    p_rest = others.sum(axis=1)  # not 1 - p_true, which rounds to 0 for a confident model
    return np.log(p_true + 1e-45) - np.log(p_rest + 1e-45)


def _check_phi(function):
    rng = np.random.default_rng(1)
    cases = [
        ("ordinary logits", rng.normal(size=(30, 5)), rng.integers(0, 5, size=30)),
        ("a very confident model", np.c_[np.full(4, 60.0), np.zeros((4, 2))], np.zeros(4, int)),
    ]
    for what, logits, labels in cases:
        value, problem = call_for_array(function, labels.shape, logits.copy(), labels.copy())
        if problem:
            return problem
        expected = lira_statistic(logits, labels)
        if not np.all(np.isfinite(value)):
            return f"on {what} your φ is not finite: keep the 1e-45 guards inside both logarithms."
        if np.allclose(value, np.log(np.exp(expected) / (1 + np.exp(expected))), atol=1e-6):
            return "that is log p_y; φ subtracts the log of the other classes' total probability."
        if not np.allclose(value, expected, rtol=1e-6, atol=1e-6):
            hint = (
                " 1 - p_y rounds to 0 for confident models: sum the others instead."
                if (what == "a very confident model")
                else ""
            )
            return f"on {what} your φ differs from log(p_y) - log(sum of the other p).{hint}"
    return None


q1 = Exercise(
    "q1",
    _check_phi,
    hint=(
        "Softmax the logits in float64, take p_y for each row's label and the sum of the other "
        "probabilities, then φ = log(p_y + 1e-45) - log(others + 1e-45)."
    ),
    solution=phi_solution,
)


# q2: offline LiRA for one record ------------------------------------------------------------


def offline_lira_solution(phi_target, phi_out):
    from scipy.stats import norm

    mean, std = np.mean(phi_out), np.std(phi_out)
    return norm.logcdf(phi_target, loc=mean, scale=std)  # log Pr[Z < φ_target], Z ~ OUT Gaussian


def _check_offline(function):
    rng = np.random.default_rng(2)
    for _ in range(5):
        phi_out = rng.normal(rng.normal(), rng.uniform(0.5, 2), size=rng.integers(4, 12))
        phi_target = float(rng.normal(np.mean(phi_out), 2))
        value, problem = call_for_number(function, phi_target, phi_out.copy())
        if problem:
            return problem
        expected = offline_lira_solution(phi_target, phi_out)
        if np.isclose(value, np.exp(expected)):
            return "that is the probability itself; LiRA's score is its logarithm (log-CDF)."
        two_sided = norm.logpdf(phi_target, np.mean(phi_out), np.std(phi_out))
        if np.isclose(value, two_sided) or np.isclose(value, -two_sided):
            return (
                "that is the Gaussian's density: an unusual φ on *either* side would count. "
                "The offline test is one-sided: only a φ *higher* than OUT's suggests a member."
            )
        if np.isclose(value, np.log1p(-np.exp(expected))):
            return "wrong tail: a member has a *higher* φ than OUT models, so use the CDF."
        if not np.isclose(value, expected, rtol=1e-6):
            return "not yet: fit N(mean, std) to φ_out (np.std, ddof 0) and take log Pr[Z < φ]."
    return None


q2 = Exercise(
    "q2",
    _check_offline,
    hint=(
        "Fit a Gaussian to the OUT models' φ (np.mean, np.std), then use "
        "scipy.stats.norm.logcdf(phi_target, loc=..., scale=...)."
    ),
    solution=offline_lira_solution,
)


# q3: RMIA's pairwise likelihood-ratio test -------------------------------------------------------


def rmia_solution(ratio_x, ratio_z, gamma):
    ratio_x = np.asarray(ratio_x, dtype=np.float64)
    ratio_z = np.asarray(ratio_z, dtype=np.float64)
    return (ratio_x[:, None] / ratio_z[None, :] > gamma).mean(axis=1)


def _check_rmia(function):
    rng = np.random.default_rng(3)
    ratio_x = rng.lognormal(size=25)
    ratio_z = np.r_[rng.lognormal(size=40), ratio_x[:5]]  # exact ties with gamma 1
    for gamma in (1.0, 2.0):
        value, problem = call_for_array(
            function, ratio_x.shape, ratio_x.copy(), ratio_z.copy(), gamma
        )
        if problem:
            return problem
        expected = rmia_solution(ratio_x, ratio_z, gamma)
        if np.allclose(value, (ratio_x[:, None] / ratio_z[None, :] >= gamma).mean(axis=1)) and (
            not np.allclose(value, expected)
        ):
            return "the inequality is strict: a pair with ratio exactly γ does not count."
        if np.allclose(value, (ratio_x[:, None] / ratio_z[None, :] > gamma).sum(axis=1)):
            return "return the fraction of population records, not their count."
        if not np.allclose(value, expected):
            return (
                f"for γ = {gamma} your scores differ from the fraction of z with "
                "ratio_x / ratio_z > γ."
            )
    return None


q3 = Exercise(
    "q3",
    _check_rmia,
    hint=(
        "Compare every x with every z: ratio_x[:, None] / ratio_z[None, :] is an (n, m) matrix. "
        "Count where it exceeds γ, as a fraction of m."
    ),
    solution=rmia_solution,
)
