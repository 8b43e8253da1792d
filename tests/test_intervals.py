"""Uncertainty of attack metrics: bootstrap intervals, paired comparisons, seed sweeps, claims.

The fast weighted bootstrap in mialab.metrics is checked against the obvious computation
(materialise each resample, evaluate it with scikit-learn), and its intervals against the truth
of a binormal score model, where the AUC and the TPR at an FPR are known in closed form.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from mialab import plots
from mialab.claims import Claims
from mialab.metrics import (
    _resamples,
    compare,
    evaluate,
    roc_band,
    seed_summary,
    show_results,
)


def _challenge(rng, n_members=60, n_nonmembers=80, shift=0.8, decimals=1):
    is_member = np.r_[np.ones(n_members, bool), np.zeros(n_nonmembers, bool)]
    scores = np.round(rng.normal(size=len(is_member)) + shift * is_member, decimals)  # ties
    return scores, is_member


def _materialised(scores, is_member, n_bootstrap, seed):
    """Each bootstrap resample as explicit arrays, in the order mialab draws them."""
    for w_members, w_nonmembers in _resamples(is_member, n_bootstrap, seed):
        for w1, w0 in zip(w_members.astype(int), w_nonmembers.astype(int), strict=True):
            members, nonmembers = (
                np.repeat(scores[is_member], w1),
                np.repeat(scores[~is_member], w0),
            )
            yield (
                np.r_[members, nonmembers],
                np.r_[np.ones(len(members)), np.zeros(len(nonmembers))],
            )


def test_bootstrap_statistics_equal_scikit_learn_on_each_resample(rng):
    scores, is_member = _challenge(rng)
    result = evaluate(scores, is_member, n_bootstrap=40, seed=3)
    result.auc_ci, result.tpr_ci(0.05), result.advantage_ci  # fill the cache
    brute = [evaluate(s, m) for s, m in _materialised(scores, is_member, 40, 3)]
    np.testing.assert_allclose(
        result._cache["auc"], [roc_auc_score(b.is_member, b.scores) for b in brute]
    )
    k = 4  # 0.05 * 80 non-members
    np.testing.assert_allclose(result._cache[("tpr", k)], [b.tpr_at(0.05) for b in brute])
    np.testing.assert_allclose(result._cache["advantage"], [b.advantage for b in brute])
    low, high = np.quantile([b.auc for b in brute], [0.025, 0.975])
    assert result.auc_ci == pytest.approx((low, high))


def test_intervals_are_seeded_and_contain_the_estimate(rng):
    scores, is_member = _challenge(rng, 200, 300)
    a, b = evaluate(scores, is_member, seed=1), evaluate(scores, is_member, seed=1)
    assert a.auc_ci == b.auc_ci and a.tpr_ci(0.01) == b.tpr_ci(0.01)
    assert evaluate(scores, is_member, seed=2).auc_ci != a.auc_ci
    for estimate, (low, high) in [
        (a.auc, a.auc_ci),
        (a.tpr_at(0.1), a.tpr_ci(0.1)),
        (a.advantage, a.advantage_ci),
    ]:
        assert low <= estimate <= high and low < high
    wide = evaluate(scores, is_member, confidence=0.99)
    assert wide.auc_ci[0] < a.auc_ci[0] and wide.auc_ci[1] > a.auc_ci[1]


def test_unmeasurable_tpr_has_no_interval(rng):
    scores, is_member = _challenge(rng, 50, 50)
    result = evaluate(scores, is_member)
    assert not result.measurable(0.01) and result.measurable(0.02)
    assert np.isnan(result.tpr_at(0.01)) and all(np.isnan(result.tpr_ci(0.01)))
    difference = compare(result, result, fpr=0.01)
    assert np.isnan([difference.estimate, difference.low, difference.high]).all()
    shown = show_results(result, fprs=[0.01, 0.1])
    assert shown.data.loc[0, "TPR@1%FPR"] == "—"
    assert "not measurable" in shown.caption and "1/50" in shown.caption
    assert "—" not in show_results(result, fprs=[0.1]).data.to_numpy()


def _binormal_truth(shift, fpr):
    """AUC and TPR at ``fpr`` of members ~ N(shift, 1) against non-members ~ N(0, 1)."""
    return stats.norm.cdf(shift / np.sqrt(2)), stats.norm.sf(stats.norm.isf(fpr) - shift)


def test_intervals_cover_the_truth_near_their_level():
    """Over 200 seeded binormal challenge sets the 95% intervals hold the true value 90-99% of
    the time (a binomial 95% range around 0.95 for 200 trials is about 0.92-0.98)."""
    shift, fpr = 1.0, 0.1
    true_auc, true_tpr = _binormal_truth(shift, fpr)
    covered_auc = covered_tpr = 0
    trials = 200
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        is_member = np.r_[np.ones(150, bool), np.zeros(150, bool)]
        scores = rng.normal(size=300) + shift * is_member
        result = evaluate(scores, is_member, n_bootstrap=400, seed=seed)
        low, high = result.auc_ci
        covered_auc += low <= true_auc <= high
        low, high = result.tpr_ci(fpr)
        covered_tpr += low <= true_tpr <= high
    assert 0.90 <= covered_auc / trials <= 0.99
    assert 0.88 <= covered_tpr / trials <= 0.99


def test_compare_is_paired(rng):
    scores, is_member = _challenge(rng, 150, 150, decimals=6)
    noise = rng.normal(size=len(scores))
    a = evaluate(scores, is_member, name="a")
    b = evaluate(scores + 0.3 * noise, is_member, name="b")  # a noisier copy of a
    same = compare(a, a)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0) and not same.significant
    difference = compare(a, b)
    assert difference.estimate == pytest.approx(a.auc - b.auc)
    # Paired: much narrower than the two separate intervals suggest.
    assert difference.high - difference.low < 0.5 * (a.auc_ci[1] - a.auc_ci[0])
    # The paired resamples are the same records for both: check against a direct computation.
    direct = [
        roc_auc_score(m, s) - roc_auc_score(m, s2)
        for (s, m), (s2, _) in zip(
            _materialised(scores, is_member, a.n_bootstrap, a.seed),
            _materialised(scores + 0.3 * noise, is_member, a.n_bootstrap, a.seed),
            strict=True,
        )
    ]
    assert (difference.low, difference.high) == pytest.approx(
        tuple(np.quantile(direct, [0.025, 0.975]))
    )
    at_fpr = compare(a, b, fpr=0.1)
    assert at_fpr.estimate == pytest.approx(a.tpr_at(0.1) - b.tpr_at(0.1))


def test_compare_tells_a_real_difference_from_noise():
    rng = np.random.default_rng(0)
    is_member = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    strong = evaluate(is_member + rng.normal(size=600), is_member)
    weak = evaluate(0.2 * is_member + rng.normal(size=600), is_member)
    twin = evaluate(is_member + rng.normal(size=600), is_member)  # as strong, other noise
    assert compare(strong, weak).significant and compare(strong, weak).low > 0
    assert not compare(strong, twin).significant


def test_compare_rejects_different_records(rng):
    scores, is_member = _challenge(rng)
    with pytest.raises(ValueError, match="same records"):
        compare(evaluate(scores, is_member), evaluate(scores, is_member[::-1]))
    with pytest.raises(TypeError, match="b must be an AttackResult"):
        compare(evaluate(scores, is_member), 0.7)


def test_seed_summary_is_a_t_interval_of_the_mean():
    runs = pd.DataFrame(
        {"size": [10, 10, 10, 20, 20, 30], "auc": [0.60, 0.70, 0.65, 0.80, 0.84, 0.9]}
    )
    summary = seed_summary(runs, by="size", value="auc")
    first = summary.iloc[0]
    values = np.array([0.60, 0.70, 0.65])
    low, high = stats.t.interval(0.95, 2, loc=values.mean(), scale=stats.sem(values))
    assert (first["mean"], first["low"], first["high"]) == pytest.approx((values.mean(), low, high))
    assert first["n"] == 3 and summary.iloc[2]["n"] == 1 and np.isnan(summary.iloc[2]["low"])
    with pytest.raises(ValueError, match="no column 'seed'"):
        seed_summary(runs, by="seed", value="auc")
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame"):
        seed_summary(runs.to_numpy(), by="size", value="auc")


def test_roc_band_matches_tpr_ci(rng):
    scores, is_member = _challenge(rng, 100, 200)
    result = evaluate(scores, is_member, n_bootstrap=300)
    fpr, low, high = roc_band(result)
    assert fpr[0] == pytest.approx(1 / 200) and fpr[-1] == 1.0 and np.all(np.diff(fpr) > 0)
    for i in (0, len(fpr) // 2):
        assert (low[i], high[i]) == pytest.approx(result.tpr_ci(fpr[i]))
    assert np.all(low <= high)


def test_plots_draw_bands_and_error_bars(rng):
    scores, is_member = _challenge(rng, 100, 200)
    ax = plots.roc(evaluate(scores, is_member), band=True)
    assert len(ax.collections) == 1  # the shaded band
    plt.close("all")
    runs = pd.DataFrame({"size": [1, 1, 2, 2], "auc": [0.5, 0.6, 0.7, 0.8]})
    ax = plots.sweep(seed_summary(runs, by="size", value="auc"), x="size")
    assert ax.get_legend().get_texts()[0].get_text() == "mean of 2 seeds, 95% interval"
    plt.close("all")
    with pytest.raises(ValueError, match="no column 'mean'"):
        plots.sweep(runs, x="size")


def test_claims_enforce_at_full_size_and_only_report_in_smoke_mode(capsys):
    claims = Claims(enforce=True)
    assert claims.check("holds", np.float64(0.7) > 0.5)
    assert not claims.check("does not hold", 0.4 > 0.5)
    with pytest.raises(AssertionError, match="does not support: does not hold"):
        claims.done()
    smoke = Claims(enforce=False)
    smoke.check("does not hold", False)
    smoke.done()
    assert "FAILED  does not hold" in capsys.readouterr().out
    with pytest.raises(TypeError, match="holds must be a bool"):
        smoke.check("a number is not a verdict", 0.7)
    with pytest.raises(ValueError, match="no claims were checked"):
        Claims().done()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"confidence": 1.0}, ValueError, "confidence must be below 1"),
        ({"confidence": "95%"}, TypeError, "confidence must be a number"),
        ({"n_bootstrap": 0}, ValueError, "n_bootstrap"),
        ({"n_bootstrap": 10.5}, TypeError, "n_bootstrap"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_interval_settings_are_checked(kwargs, error, message):
    with pytest.raises(error, match=message):
        evaluate([1, 0], [1, 0], **kwargs)


def test_no_member_found_is_not_reported_as_certain():
    """0 of 100 members above the threshold: the bootstrap alone says [0, 0]; the exact
    binomial interval of 0 out of 100 reaches about 3.6%."""
    is_member = np.r_[np.ones(100, bool), np.zeros(200, bool)]
    scores = np.r_[np.zeros(100), np.linspace(1, 2, 200)]  # every non-member outscores members
    result = evaluate(scores, is_member)
    assert result.tpr_at(0.01) == 0.0
    low, high = result.tpr_ci(0.01)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 100))
    assert high == pytest.approx(stats.beta.ppf(0.975, 1, 100))


def test_the_advantage_of_a_chance_attack_is_biased_upward_as_documented():
    """The docstring's figure: about 0.06 for 200 + 200 records, although the attack is blind."""
    rng = np.random.default_rng(0)
    is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    advantages = [evaluate(rng.normal(size=400), is_member).advantage for _ in range(200)]
    assert 0.045 < np.mean(advantages) < 0.07
