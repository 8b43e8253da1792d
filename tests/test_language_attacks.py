"""Language-model scores from per-token log-probabilities, against hand computations."""

import math
import zlib

import numpy as np
import pytest

from mialab.attacks import (
    exposure,
    exposure_estimate,
    lm_loss_score,
    lm_min_k_score,
    lm_reference_score,
    lm_zlib_score,
)

FIXED = [np.log([0.5, 0.25, 0.125, 0.5]), np.log([0.9, 0.9]), np.log([0.2, 0.2, 0.2, 0.9, 0.1])]


def test_loss_and_reference_scores_equal_hand_computations():
    by_hand = [
        (-0.6931 - 1.3863 - 2.0794 - 0.6931) / 4,
        -0.1054,
        (3 * -1.6094 - 0.1054 - 2.3026) / 5,
    ]
    np.testing.assert_allclose(lm_loss_score(FIXED), by_hand, atol=1e-4)
    reference = [np.log([0.5]), np.log([0.5, 0.5, 0.5]), np.log([0.2, 0.2])]
    np.testing.assert_allclose(
        lm_reference_score(FIXED, reference), np.array(by_hand) - np.log([0.5, 0.5, 0.2]), atol=1e-4
    )


def test_lm_zlib_score_divides_by_the_compressed_length_in_bytes():
    texts = ["aaaa", "patient ID 4-7-2-9-1-3", "é"]  # é: two bytes in UTF-8
    lengths = [len(zlib.compress(t.encode("utf-8"))) for t in texts]
    expected = [s.mean() / n for s, n in zip(FIXED, lengths, strict=True)]
    np.testing.assert_allclose(lm_zlib_score(FIXED, texts), expected)
    assert lengths[0] < lengths[1]  # repetitive text compresses


def test_min_k_takes_the_floor_of_k_n_least_likely_tokens_and_at_least_one():
    scores = lm_min_k_score(FIXED, k=0.5)  # ⌊2⌋, ⌊1⌋, ⌊2.5⌋ = 2 tokens
    np.testing.assert_allclose(
        scores, [np.log([0.125, 0.25]).mean(), np.log(0.9), np.log([0.1, 0.2]).mean()]
    )
    tied = [np.log([0.2, 0.2, 0.2, 0.9])]  # ties: any two of the three 0.2s give the same mean
    np.testing.assert_allclose(lm_min_k_score(tied, k=0.5), [np.log(0.2)])
    np.testing.assert_allclose(lm_min_k_score([np.log([0.9, 0.3])], k=0.2), [np.log(0.3)])  # ≥ 1


def test_exposure_of_a_first_ranked_canary_is_log2_r_and_falls_with_rank():
    candidates = -np.arange(1.0, 1001.0)  # 1,000 secrets, the likeliest has log-prob -1
    assert exposure(-1.0, candidates) == pytest.approx(math.log2(1000))
    assert exposure(-500.0, candidates) == pytest.approx(math.log2(1000 / 500))
    assert exposure(-1000.0, candidates) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="must include the canary"):
        exposure(-0.5, candidates)


def test_the_fitted_exposure_agrees_with_the_exact_rank(rng):
    space = rng.normal(-40, 4, 20_000) + rng.gamma(2.0, 1.0, 20_000)  # a skewed candidate space
    sample = rng.choice(space, 2000, replace=False)
    for quantile in (0.5, 0.9, 0.99):
        canary = float(np.quantile(space, quantile))
        exact = exposure(space[np.argmin(abs(space - canary))], space)
        estimate = exposure_estimate(canary, sample, space_size=len(space))
        assert estimate == pytest.approx(exact, abs=0.3), quantile


def test_language_scores_name_bad_input():
    cases = [
        (lambda: lm_loss_score(np.zeros(3)), TypeError, "list of 1-d arrays"),
        (lambda: lm_loss_score([]), ValueError, "is empty"),
        (lambda: lm_loss_score([np.array([])]), ValueError, r"token_logprobs\[0\] is empty"),
        (lambda: lm_loss_score([np.array([0.3])]), ValueError, "above 0"),
        (lambda: lm_loss_score([np.array([np.nan])]), ValueError, "NaN"),
        (lambda: lm_zlib_score(FIXED, ["a"]), ValueError, "one text per sequence"),
        (lambda: lm_zlib_score(FIXED[:1], [3]), TypeError, r"texts\[0\] must be a string"),
        (lambda: lm_reference_score(FIXED, FIXED[:1]), ValueError, "same texts"),
        (lambda: lm_min_k_score(FIXED, k=0), ValueError, "k must lie in"),
        (lambda: exposure_estimate(-1.0, np.zeros(10), space_size=100), ValueError, "at least 50"),
        (
            lambda: exposure_estimate(-1.0, -np.linspace(1, 2, 60), space_size=10),
            ValueError,
            "space_size must be at least",
        ),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def test_exposure_matches_a_canary_scored_in_float32_within_a_tolerance():
    candidates = -np.linspace(10.0, 60.0, 64) - 1e-3 * np.arange(64)  # float64, the canary is 20th
    canary32 = np.float32(candidates[20])  # the same text scored in a separate float32 pass
    assert canary32 != candidates[20]
    assert exposure(canary32, candidates) == pytest.approx(math.log2(64) - math.log2(21))
    with pytest.raises(ValueError, match="within rtol"):
        exposure(canary32, candidates, rtol=1e-12)


def test_exposure_counts_ties_against_the_canary():
    # Secret Sharer's rank: a candidate exactly as likely as the canary is ranked ahead of it.
    candidates = np.array([-1.0, -5.0, -5.0, -5.0, -7.0, -8.0, -9.0, -9.5])
    assert exposure(-5.0, candidates) == pytest.approx(math.log2(8) - math.log2(4))
    assert exposure(-1.0, candidates) == pytest.approx(3.0)  # a unique first place keeps log2 R


def test_language_scores_take_series_and_arrays_of_texts():
    import pandas as pd

    logprobs = [np.log([0.5, 0.4]), np.log([0.2, 0.3, 0.1])]
    texts = ["aa", "abc"]
    expected = lm_zlib_score(logprobs, texts)
    np.testing.assert_array_equal(lm_zlib_score(pd.Series(logprobs), np.array(texts)), expected)
    np.testing.assert_array_equal(lm_zlib_score(tuple(logprobs), pd.Series(texts)), expected)
    assert lm_loss_score(np.log([[0.5, 0.5], [0.25, 0.25]])).round(4).tolist() == [-0.6931, -1.3863]


def test_exposure_estimate_refuses_a_constant_sample():
    with pytest.raises(ValueError, match="sample_logprobs holds one value"):
        exposure_estimate(-3.0, np.full(100, -5.0), space_size=10**6)
