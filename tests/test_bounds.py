"""The empirical ε lower bounds (lessons 05 and 07)."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from mialab import audit
from mialab.audit import bounds
from mialab.defenses import dp


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_clopper_pearson_and_the_bound_equal_a_hand_computation():
    # 100 members, 200 non-members; at the threshold 40 true and 4 false positives.
    scores = np.r_[np.ones(40), np.zeros(60), np.ones(4), np.zeros(196)]
    is_member = np.r_[np.ones(100, bool), np.zeros(200, bool)]
    alpha = 0.05 / 2  # each one-sided bound at 97.5%: both hold together at 95%
    tpr_low = stats.beta.ppf(alpha, 40, 100 - 40 + 1)
    fpr_high = stats.beta.ppf(1 - alpha, 4 + 1, 200 - 4)
    expected = max(
        math.log((tpr_low - 1e-5) / fpr_high), math.log((1 - fpr_high - 1e-5) / (1 - tpr_low)), 0
    )
    bound = audit.epsilon_lower_bound(scores, is_member, delta=1e-5, threshold=0.5)
    assert bound == pytest.approx(expected, rel=1e-12) and bound > 0.5
    assert audit.clopper_pearson(0, 10, alpha=0.05)[0] == 0.0
    assert audit.clopper_pearson(10, 10, alpha=0.05)[1] == 1.0


def test_the_bound_is_zero_for_a_guess_and_large_for_a_perfect_attack(rng):
    is_member = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]
    assert audit.epsilon_lower_bound(rng.normal(size=2000), is_member, delta=1e-5) < 0.1
    perfect = audit.epsilon_lower_bound(is_member.astype(float), is_member, delta=1e-5)
    assert perfect > 4  # 500 per class: ln(0.993 / 0.0074) ≈ 4.9 at 95%


def test_the_canary_audit_matches_the_binomial_test_when_delta_is_zero(rng):
    included = rng.random(500) < 0.5
    scores = included + rng.normal(0, 0.8, 500)
    bound = audit.canary_epsilon_lower_bound(scores, included, delta=0.0, k_plus=50, k_minus=50)
    order = np.argsort(scores)
    correct = included[order[-50:]].sum() + (~included[order[:50]]).sum()
    # The largest ε at which ≥ `correct` right guesses out of 100 still has probability ≤ 5%.
    tail = stats.binom.sf(correct - 1, 100, 1 / (1 + np.exp(-bound)))
    assert tail == pytest.approx(0.05, abs=1e-4) and bound > 1
    with_delta = audit.canary_epsilon_lower_bound(
        scores, included, delta=1e-5, k_plus=50, k_minus=50
    )
    assert 0 < with_delta <= bound
    assert audit.canary_epsilon_lower_bound(rng.normal(size=500), included, delta=0.0) < 0.5


def paper_p_value(m, r, v, epsilon, delta):
    """Steinke, Nasr & Jagielski (2023), Theorem 5.2, summed term by term with exact binomials:
    P[B >= v] + 2 m δ max_i P[v - i <= B < v] / i, B ~ Binomial(r, e^ε / (1 + e^ε))."""
    q = math.exp(epsilon) / (1 + math.exp(epsilon))

    def pmf(j):
        return math.comb(r, j) * q**j * (1 - q) ** (r - j) if 0 <= j <= r else 0.0

    tail = sum(pmf(j) for j in range(v, r + 1))
    # i runs to m as in the theorem; beyond i = v the sum stops growing and the ratio shrinks.
    worst = max(sum(pmf(j) for j in range(v - i, v)) / i for i in range(1, m + 1))
    return min(1.0, tail + 2 * m * delta * worst)


def test_the_canary_p_value_is_the_papers_formula():
    for m, r, v, epsilon, delta in [
        (20, 8, 7, 0.5, 0.01), (20, 8, 8, 2.0, 0.0), (30, 10, 3, 0.1, 0.05),
        (50, 12, 12, 3.0, 1e-3), (12, 12, 9, 1.0, 0.02), (40, 10, 0, 1.0, 0.01),
    ]:  # fmt: skip
        assert bounds._audit_p_value(m, r, v, epsilon, delta) == pytest.approx(
            paper_p_value(m, r, v, epsilon, delta), rel=1e-9, abs=1e-15
        )
    # The bound is the largest ε the p-value still rejects: 9 right out of 10 guesses, with a
    # δ large enough (2mδ = 0.08 or 0.8) for its term to matter.
    included = np.r_[np.zeros(15, bool), np.ones(10, bool), np.zeros(15, bool)]
    scores = np.r_[np.zeros(15), np.full(10, 2.0), np.ones(15)]
    scores[15] = -1.0  # the lowest score is an included canary: its "out" guess is wrong
    for delta, confidence in ((0.0, 0.95), (1e-3, 0.95), (0.01, 0.8)):
        bound = audit.canary_epsilon_lower_bound(
            scores, included, delta=delta, confidence=confidence, k_plus=5, k_minus=5
        )
        alpha = 1 - confidence
        assert bound > 0 and paper_p_value(40, 10, 9, bound, delta) <= alpha
        assert paper_p_value(40, 10, 9, bound + 1e-6, delta) > alpha
    # Scores for only some of the canaries (an attack abstains on the others): the δ term counts
    # all m of them, so the bound is weaker than with the scored ones alone.
    bound = audit.canary_epsilon_lower_bound(
        scores, included, delta=1e-3, k_plus=5, k_minus=5, n_canaries=80
    )
    assert (
        paper_p_value(80, 10, 9, bound, 1e-3) <= 0.05 < paper_p_value(80, 10, 9, bound + 1e-6, 1e-3)
    )
    assert (
        0
        < bound
        < audit.canary_epsilon_lower_bound(scores, included, delta=1e-3, k_plus=5, k_minus=5)
    )
    with pytest.raises(ValueError, match="n_canaries must be at least the 40 scores"):
        audit.canary_epsilon_lower_bound(scores, included, delta=0.0, n_canaries=39)


def test_tied_scores_are_not_ordered_by_membership():
    # Constant scores carry no information; with the included canaries listed last, ties broken
    # by position "guessed" them all and the bound was 4.2.
    included = np.r_[np.zeros(500, bool), np.ones(500, bool)]
    for order in (included, included[::-1]):
        assert audit.canary_epsilon_lower_bound(np.zeros(1000), order, delta=0.0) == 0.0
    bounds = {audit.canary_epsilon_lower_bound(np.zeros(1000), included, delta=0.0, seed=s)
              for s in range(5)}  # fmt: skip
    assert bounds == {0.0}


def test_the_canary_bound_covers_randomized_response_with_a_known_epsilon():
    # ε-DP randomised response on each canary's membership: the score is the membership bit,
    # flipped with probability 1 / (1 + e^ε). Then the right guesses are exactly
    # Binomial(r, e^ε / (1 + e^ε)), the theorem's worst case: the 95% bound may exceed the true
    # ε in at most 5% of runs.
    epsilon, trials, m = 1.0, 300, 1000
    rng = np.random.default_rng(2023)
    bounds, with_delta = [], []
    for trial in range(trials):
        included = rng.random(m) < 0.5
        flipped = rng.random(m) < 1 / (1 + math.exp(epsilon))
        scores = (included ^ flipped).astype(float)
        bounds.append(audit.canary_epsilon_lower_bound(scores, included, delta=0.0, seed=trial))
        if trial < 30:
            with_delta.append(
                audit.canary_epsilon_lower_bound(scores, included, delta=1e-3, seed=trial)
            )
    bounds = np.array(bounds)
    exceed = (bounds > epsilon).mean()
    assert exceed <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / trials), exceed
    assert np.median(bounds) > 0.4 * epsilon  # not vacuous: it finds most of the ε
    assert (np.array(with_delta) <= bounds[:30]).all()  # δ > 0 only weakens the claim


def test_audit_functions_name_bad_input(rng):
    scores, is_member = rng.normal(size=10), np.r_[np.ones(5, bool), np.zeros(5, bool)]
    cases = [
        (
            lambda: audit.epsilon_lower_bound(scores[:9], is_member, delta=0),
            ValueError,
            "lengths differ",
        ),
        (lambda: audit.epsilon_lower_bound(scores, is_member, delta=2), ValueError, "delta"),
        (
            lambda: audit.epsilon_lower_bound(scores, is_member, delta=0, confidence=1.0),
            ValueError,
            "confidence must be below 1",
        ),
        (
            lambda: audit.canary_epsilon_lower_bound(
                scores, is_member, delta=0, k_plus=8, k_minus=8
            ),
            ValueError,
            "k_plus \\+ k_minus",
        ),
        (
            lambda: audit.canary_epsilon_lower_bound(scores, is_member, delta=0, seed=None),
            TypeError,
            "seed must be an int",
        ),
        (lambda: dp.check_private("model"), TypeError, "model must be"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
