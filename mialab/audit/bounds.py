"""Empirical lower bounds on ε: what an attack proves about a training run (lessons 05 and 07).

(ε, δ)-DP implies, for every attack and threshold, TPR ≤ e^ε · FPR + δ and, swapping the roles
of members and non-members, TNR ≤ e^ε · FNR + δ, where the rates are probabilities over the
training's randomness for one pair of neighbouring datasets. An attack that does better than
that refutes the guarantee; how much better gives a lower bound on the ε the training really has.

Two bounds, with different assumptions:

* :func:`epsilon_lower_bound` counts true and false positives and bounds the rates with
  Clopper-Pearson intervals, so it treats every (score, membership) pair as an independent
  trial. That is what the rates mean when each trial retrains a model with or without the
  record (Jagielski et al. 2020; Nasr et al. 2021): then the bound is rigorous. Over the records
  of **one** trained model the trials are neither independent nor draws of the DP game, so the
  same number is a heuristic per-record ε estimate, not a proof.
* :func:`canary_epsilon_lower_bound` is the one-run audit of Steinke, Nasr & Jagielski (2023):
  rigorous from a single training run, provided each audited record ("canary") was put in the
  training data independently with probability ½.

A bound is only valid if its threshold (or its numbers of guesses) was chosen without looking at
the records it is computed on: :func:`epsilon_lower_bound` chooses it on a seeded half and counts
on the other; :func:`canary_epsilon_lower_bound` takes its numbers of guesses fixed in advance.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from mialab._checks import (
    float_array,
    fraction,
    membership_labels,
    positive_int,
    real_number,
    same_length,
    seed_value,
)

__all__ = ["canary_epsilon_lower_bound", "clopper_pearson", "epsilon_lower_bound"]


def clopper_pearson(successes: int, trials: int, *, alpha: float) -> tuple[float, float]:
    """One-sided Clopper-Pearson bounds on a binomial rate, each at level 1 − alpha.

    Example:
        >>> [round(b, 4) for b in clopper_pearson(8, 10, alpha=0.05)]
        [0.4931, 0.9632]
    """
    for name, value in (("successes", successes), ("trials", trials)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= successes <= trials or trials < 1:
        raise ValueError(
            f"successes and trials must satisfy 0 <= successes <= trials and trials >= 1, got "
            f"successes={successes}, trials={trials}"
        )
    alpha = real_number(alpha, "alpha", low=0, high=1)
    if alpha in (0.0, 1.0):
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
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
    """A lower bound on ε from an attack's scores, if the records are independent trials.

    ε_lb = max(ln((TPR_lo − δ) / FPR_hi), ln((1 − FPR_hi − δ) / FNR_hi), 0), with one-sided
    Clopper-Pearson bounds at level 1 − (1 − confidence)/2 each, so both hold together with
    probability ``confidence`` (a union bound). A record is guessed a member when its score is
    at least the threshold.

    What it assumes: each (score, membership) pair is an independent trial of the DP game, one
    training run per trial with the record in or out (Jagielski et al. 2020; Nasr et al. 2021).
    Then the bound holds with probability ``confidence``. Over the records of **one** trained
    model it is a heuristic per-record ε estimate, not a proof: the records share one training
    run, and DP bounds rates over that run's randomness, not over a population of records. For
    a rigorous bound from one run, randomise the audited records' membership and use
    :func:`canary_epsilon_lower_bound`.

    Args:
        scores: ``(n,)`` attack scores, higher = more likely a member.
        is_member: ``(n,)`` membership labels.
        delta: the δ of the guarantee being audited.
        confidence: probability that the bound holds.
        threshold: with a threshold, the bound at that threshold over all the records given;
            without, the threshold maximising the bound on a seeded half of the records, and
            the bound computed on the other half.
        seed: seeds the split when no threshold is given (an int: same seed, same bound).

    Returns:
        ε_lb ≥ 0; 0 means the attack found nothing at this sample size.

    Example:
        >>> import numpy as np
        >>> is_member = np.r_[np.ones(500, bool), np.zeros(500, bool)]
        >>> scores = is_member + np.random.default_rng(0).normal(0, 0.3, 1000)
        >>> round(epsilon_lower_bound(scores, is_member, delta=1e-5), 2)
        3.53
    """
    scores, is_member, delta, alpha = _checked(scores, is_member, "is_member", delta, confidence)
    seed = seed_value(seed)
    if threshold is not None:
        return _bound_at(scores, is_member, real_number(threshold, "threshold"), delta, alpha)
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
    """P[≥ ``correct`` right guesses out of ``guesses``] under (ε, δ)-DP with m canaries.

    Steinke, Nasr & Jagielski (2023), Theorem 5.2 and their Appendix D: with
    q = e^ε / (1 + e^ε) and B ~ Binomial(guesses, q), the p-value is
    P[B ≥ v] + 2 m δ · max_{1 ≤ i ≤ v} P[v − i ≤ B < v] / i, capped at 1 (v = ``correct``).
    """
    q = 1 / (1 + math.exp(-epsilon))  # the accuracy of ε-DP randomised response
    tail = float(stats.binom.sf(correct - 1, guesses, q))
    if delta == 0 or correct == 0:
        return min(1.0, tail)
    shortfall = np.arange(1, correct + 1)
    below = np.cumsum(stats.binom.pmf(correct - shortfall, guesses, q))  # P[v − i ≤ B < v]
    return min(1.0, tail + 2 * m * delta * float(np.max(below / shortfall)))


def canary_epsilon_lower_bound(
    scores,
    included,
    *,
    delta: float,
    confidence: float = 0.95,
    k_plus: int | None = None,
    k_minus: int | None = None,
    n_canaries: int | None = None,
    seed: int = 0,
) -> float:
    """One-run audit (Steinke, Nasr & Jagielski 2023): ε lower bound from m canaries.

    Each of m canaries was included in training independently with probability ½; that
    randomisation is what makes the bound rigorous from a single training run (without it, use
    the records as independent trials only with care: see :func:`epsilon_lower_bound`). The
    auditor guesses "in" for the ``k_plus`` highest scores, "out" for the ``k_minus`` lowest,
    and abstains on the rest; tied scores are ordered at random (seeded by ``seed``). Under
    (ε, δ)-DP the number v of right guesses out of r = k_plus + k_minus has p-value
    P[B ≥ v] + 2mδ · max_{1≤i≤v} P[v − i ≤ B < v] / i with B ~ Binomial(r, e^ε / (1 + e^ε))
    (their Theorem 5.2); the bound is the largest ε that this p-value still rejects at level
    1 − ``confidence``. Fix ``k_plus`` and ``k_minus`` before looking at the scores, or the
    confidence no longer holds.

    Args:
        scores: ``(m,)`` scores of the canaries, higher = more likely included.
        included: ``(m,)`` whether each canary was in the training data.
        delta: the δ of the guarantee being audited.
        confidence: probability that the bound holds.
        k_plus, k_minus: numbers of "in" and "out" guesses (default a tenth of the scores each).
        n_canaries: m, when ``scores`` cover only some of the canaries (an attack that could
            not score the others abstains on them; they still count in the δ term); default
            ``len(scores)``.
        seed: seeds the order of tied scores (an int: same seed, same bound).

    Returns:
        ε_lb ≥ 0.

    Example:
        >>> import numpy as np
        >>> included = np.random.default_rng(0).random(1000) < 0.5
        >>> scores = included + np.random.default_rng(1).normal(0, 0.5, 1000)
        >>> round(canary_epsilon_lower_bound(scores, included, delta=0.0), 2)
        3.44
    """
    scores, included, delta, alpha = _checked(scores, included, "included", delta, confidence)
    n, seed = len(scores), seed_value(seed)
    m = n if n_canaries is None else positive_int(n_canaries, "n_canaries")
    if m < n:
        raise ValueError(f"n_canaries must be at least the {n} scores, got {m}")
    k_plus = positive_int(k_plus if k_plus is not None else max(n // 10, 1), "k_plus")
    k_minus = positive_int(k_minus if k_minus is not None else max(n // 10, 1), "k_minus")
    if k_plus + k_minus > n:
        raise ValueError(f"k_plus + k_minus must be at most the {n} scored canaries")
    # Ties are broken in a seeded random order, never by the records' order (which may follow
    # membership: with members first, constant scores would "guess" them all).
    shuffled = np.random.default_rng(seed).permutation(n)
    order = shuffled[np.argsort(scores[shuffled], kind="stable")]
    correct = int(included[order[n - k_plus :]].sum() + (~included[order[:k_minus]]).sum())
    guesses = k_plus + k_minus

    def rejected(epsilon: float) -> bool:  # (ε, δ)-DP is rejected at level alpha
        return _audit_p_value(m, guesses, correct, epsilon, delta) <= alpha

    if not rejected(0.0):
        return 0.0
    low, high = 0.0, 1.0  # rejected(low) holds throughout; rejected(high) does not
    while rejected(high):
        low, high = high, 2 * high
    while high - low > 1e-9 * max(1.0, high):  # bisection, as in the paper's Appendix D
        middle = (low + high) / 2
        low, high = (middle, high) if rejected(middle) else (low, middle)
    return low
