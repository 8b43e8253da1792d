"""Empirical lower bounds on ε: what an attack proves about a training run (lesson 05).

(ε, δ)-DP implies, for every attack and threshold, TPR ≤ e^ε · FPR + δ and, swapping the roles
of members and non-members, TNR ≤ e^ε · FNR + δ. An attack that does better than that refutes
the guarantee; how much better gives a lower bound on the ε the training really has
(Jagielski et al. 2020; Nasr et al. 2021). With finitely many records the rates are estimates,
so the bound uses Clopper-Pearson confidence bounds: the lowest TPR and the highest FPR
consistent with the counts.

A bound is only valid if its threshold was chosen without looking at the records it is
computed on: :func:`epsilon_lower_bound` chooses it on a seeded half and counts on the other.
:func:`canary_epsilon_lower_bound` is the one-run audit of Steinke, Nasr & Jagielski (2023).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from mialab._checks import float_array, fraction, membership_labels, positive_int, same_length

__all__ = ["canary_epsilon_lower_bound", "clopper_pearson", "epsilon_lower_bound"]


def clopper_pearson(successes: int, trials: int, *, alpha: float) -> tuple[float, float]:
    """One-sided Clopper-Pearson bounds on a binomial rate, each at level 1 − alpha.

    Example:
        >>> [round(b, 4) for b in clopper_pearson(8, 10, alpha=0.05)]
        [0.4931, 0.9632]
    """
    low = 0.0 if successes == 0 else stats.beta.ppf(alpha, successes, trials - successes + 1)
    high = (
        1.0 if successes == trials else stats.beta.ppf(1 - alpha, successes + 1, trials - successes)
    )
    return float(low), float(high)


def _checked(scores, labels, labels_name: str, delta, confidence) -> tuple:
    """Scores, their membership labels, δ and α = 1 − confidence, each checked and named."""
    scores = float_array(scores, "scores", ndim=1)
    labels = membership_labels(labels, labels_name)
    same_length(**{"scores": scores, labels_name: labels})
    alpha = 1 - fraction(confidence, "confidence")
    if alpha <= 0:
        raise ValueError("confidence must be below 1")
    return scores, labels, fraction(delta, "delta", low_open=False), alpha


def _bound_at(scores, is_member, threshold, delta, alpha) -> float:
    """ε lower bound at one threshold: both inequalities, each rate bounded at level 1 − alpha/2."""
    guess = scores >= threshold
    positives, negatives = int(is_member.sum()), int((~is_member).sum())
    tpr_low, _ = clopper_pearson(int((guess & is_member).sum()), positives, alpha=alpha / 2)
    _, fpr_high = clopper_pearson(int((guess & ~is_member).sum()), negatives, alpha=alpha / 2)
    bounds = [0.0]
    if tpr_low - delta > 0 and fpr_high > 0:
        bounds.append(math.log((tpr_low - delta) / fpr_high))
    if 1 - fpr_high - delta > 0 and 1 - tpr_low > 0:
        bounds.append(math.log((1 - fpr_high - delta) / (1 - tpr_low)))
    return max(bounds)


def epsilon_lower_bound(
    scores,
    is_member,
    *,
    delta: float,
    confidence: float = 0.95,
    threshold: float | None = None,
    seed: int = 0,
) -> float:
    """A lower bound on ε, at the given confidence, from an attack's scores.

    ε_lb = max(ln((TPR_lo − δ) / FPR_hi), ln((1 − FPR_hi − δ) / FNR_hi), 0), with one-sided
    Clopper-Pearson bounds at level 1 − (1 − confidence)/2 each, so both hold together with
    probability ``confidence`` (a union bound). A record is guessed a member when its score is
    at least the threshold.

    Args:
        scores: ``(n,)`` attack scores, higher = more likely a member.
        is_member: ``(n,)`` membership labels.
        delta: the δ of the guarantee being audited.
        confidence: probability that the bound holds.
        threshold: with a threshold, the bound at that threshold over all the records given;
            without, the threshold maximising the bound on a seeded half of the records, and
            the bound computed on the other half.
        seed: seeds the split when no threshold is given.

    Returns:
        ε_lb ≥ 0; 0 means the attack proves nothing.

    Example:
        >>> is_member = np.r_[np.ones(500, bool), np.zeros(500, bool)]
        >>> scores = is_member + np.random.default_rng(0).normal(0, 0.3, 1000)
        >>> round(epsilon_lower_bound(scores, is_member, delta=1e-5), 2)
        3.53
    """
    scores, is_member, delta, alpha = _checked(scores, is_member, "is_member", delta, confidence)
    if threshold is not None:
        return _bound_at(scores, is_member, float(threshold), delta, alpha)
    order = np.random.default_rng(seed).permutation(len(scores))
    choose, count = order[: len(order) // 2], order[len(order) // 2 :]
    for name, part in (("choosing", choose), ("counting", count)):
        if is_member[part].all() or not is_member[part].any():
            raise ValueError(f"the {name} half holds only one class; give more records")
    candidates = np.unique(scores[choose])
    best = max(
        candidates, key=lambda t: _bound_at(scores[choose], is_member[choose], t, delta, alpha)
    )
    return _bound_at(scores[count], is_member[count], best, delta, alpha)


def _audit_p_value(m: int, guesses: int, correct: int, epsilon: float, delta: float) -> float:
    """P[≥ correct right guesses out of ``guesses``] under (ε, δ)-DP: Steinke et al. Thm 5.2."""
    q = 1 / (1 + math.exp(-epsilon))  # the accuracy of ε-DP randomised response
    tail = stats.binom.sf(correct - 1, guesses, q)
    if delta == 0 or correct == 0:
        return float(tail)
    # δ can add mass just below `correct`: the worst ratio of that mass to the shortfall i.
    below = np.cumsum(stats.binom.pmf(correct - np.arange(1, correct + 1), guesses, q))
    slack = np.max(below / np.arange(1, correct + 1))
    return float(min(1.0, tail + 2 * m * delta * slack))


def canary_epsilon_lower_bound(
    scores,
    included,
    *,
    delta: float,
    confidence: float = 0.95,
    k_plus: int | None = None,
    k_minus: int | None = None,
) -> float:
    """One-run audit (Steinke, Nasr & Jagielski 2023): ε lower bound from m canaries.

    Each of m canaries was included in training independently with probability ½. The auditor
    guesses "in" for the ``k_plus`` highest scores, "out" for the ``k_minus`` lowest, and
    abstains on the rest. Under (ε, δ)-DP the number of right guesses is at most a
    Binomial(r, e^ε / (1 + e^ε)) plus a δ term; the bound is the largest ε that this count
    still rejects at the given confidence. Fix ``k_plus`` and ``k_minus`` before looking at the
    scores (default m/10 each), or the confidence no longer holds.

    Args:
        scores: ``(m,)`` scores of the canaries, higher = more likely included.
        included: ``(m,)`` whether each canary was in the training data.
        delta: the δ of the guarantee being audited.
        confidence: probability that the bound holds.
        k_plus, k_minus: numbers of "in" and "out" guesses.

    Returns:
        ε_lb ≥ 0.

    Example:
        >>> included = np.random.default_rng(0).random(1000) < 0.5
        >>> scores = included + np.random.default_rng(1).normal(0, 0.5, 1000)
        >>> round(canary_epsilon_lower_bound(scores, included, delta=0.0), 2)
        3.44
    """
    scores, included, delta, alpha = _checked(scores, included, "included", delta, confidence)
    m = len(scores)
    k_plus = positive_int(k_plus if k_plus is not None else max(m // 10, 1), "k_plus")
    k_minus = positive_int(k_minus if k_minus is not None else max(m // 10, 1), "k_minus")
    if k_plus + k_minus > m:
        raise ValueError(f"k_plus + k_minus must be at most the {m} canaries")
    order = np.argsort(scores, kind="stable")
    correct = int(included[order[m - k_plus :]].sum() + (~included[order[:k_minus]]).sum())
    guesses = k_plus + k_minus

    def rejects(epsilon: float) -> float:  # > 0 while (ε, δ)-DP is still rejected
        return alpha - _audit_p_value(m, guesses, correct, epsilon, delta)

    if rejects(0.0) <= 0:
        return 0.0
    high = 1.0
    while rejects(high) > 0:
        high *= 2
    return float(optimize.brentq(rejects, 0.0, high, xtol=1e-6))
