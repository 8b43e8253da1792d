import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

from mialab.metrics import (
    AttackResult,
    accuracy,
    as_results,
    chance_auc_std,
    confusion_at,
    evaluate,
    format_results,
    results_table,
    tpr_column,
)


def test_roc_and_auc_equal_scikit_learn(rng):
    is_member = rng.integers(0, 2, size=500)
    scores = np.round(rng.normal(size=500) + is_member, 1)  # with ties
    result = evaluate(scores, is_member)
    fpr, tpr, thresholds = roc_curve(is_member, scores, drop_intermediate=False)
    np.testing.assert_array_equal(result.fpr, fpr)
    np.testing.assert_array_equal(result.tpr, tpr)
    np.testing.assert_array_equal(result.thresholds, thresholds)
    assert result.auc == roc_auc_score(is_member, scores)


def test_tpr_at_fpr_by_hand():
    # members score 10, 9, 7, 4; non-members 8, 6, 5, 3, 2, 1 (no ties).
    scores = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    is_member = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
    result = evaluate(scores, is_member)
    assert np.isnan(result.tpr_at(0.0001))  # below 1/6: not measurable with 6 non-members
    assert np.isnan(result.tpr_at(1 / 6 - 1e-9))
    assert result.tpr_at(1 / 6) == 0.75  # one non-member (8) allowed: flag 10, 9, 8, 7
    assert result.tpr_at(0.3) == 0.75  # still one non-member allowed (2/6 > 0.3)
    assert result.tpr_at(0.5) == 1.0  # 8, 6, 5 flagged with 4
    assert result.tpr_at(1.0) == 1.0
    assert result.advantage == pytest.approx(0.75 - 1 / 6)  # threshold 7 beats 9 and 4
    assert result.min_fpr == pytest.approx(1 / 6)


def test_perfect_and_inverted_attacks():
    perfect = evaluate([3, 2, 1, 0], [1, 1, 0, 0])
    assert perfect.auc == 1.0 and perfect.tpr_at(0.5) == 1.0 and perfect.advantage == 1.0
    inverted = evaluate([0, 1, 2, 3], [1, 1, 0, 0])
    assert inverted.auc == 0.0 and inverted.advantage == 0.0


def test_repr_and_table():
    result = evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], name="toy")
    assert repr(result).startswith("AttackResult('toy': AUC=0.750 [0.000, 1.000], TPR@0.1%FPR=—")
    table = results_table([result, evaluate([1, 0], [1, 0], name="perfect")], fprs=[0.01, 0.5])
    assert list(table.attack) == ["toy", "perfect"]
    assert list(table.columns) == [
        *("attack", "AUC", "AUC low", "AUC high"),
        *("TPR@1%FPR", "TPR@1%FPR low", "TPR@1%FPR high"),
        *("TPR@50%FPR", "TPR@50%FPR low", "TPR@50%FPR high"),
        *("advantage", "advantage low", "advantage high"),
    ]
    assert table.loc[1, "AUC"] == 1.0
    assert table.loc[0, ["TPR@1%FPR", "TPR@1%FPR low", "TPR@1%FPR high"]].isna().all()
    points = results_table(result, intervals=False)
    assert list(points.columns) == [
        *("attack", "AUC", "TPR@0.1%FPR", "TPR@1%FPR", "TPR@10%FPR", "advantage")
    ]
    assert [tpr_column(f) for f in (0.001, 0.01, 0.1, 0.5)] == [
        *("TPR@0.1%FPR", "TPR@1%FPR", "TPR@10%FPR", "TPR@50%FPR")
    ]


def test_format_results_writes_intervals_dashes_and_other_numbers():
    result = evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], name="toy")
    table = results_table(result, fprs=[0.01])
    table["ε heuristic"] = [0.12345]
    shown = format_results(table, digits=2)
    assert list(shown.columns) == ["attack", "AUC", "TPR@1%FPR", "advantage", "ε heuristic"]
    assert shown.iloc[0].tolist() == ["toy", "0.75 [0.00, 1.00]", "—", "0.50 [0.00, 1.00]", "0.12"]
    # A "low" column without its estimate is an ordinary column.
    alone = format_results(pd.DataFrame({"bound low": [0.5]}))
    assert alone["bound low"].tolist() == ["0.5"]
    with pytest.raises(TypeError, match="table must be a pandas DataFrame"):
        format_results(result)


def test_as_results_accepts_one_result_or_a_sequence():
    a, b = evaluate([1, 0], [1, 0], name="a"), evaluate([0, 1], [1, 0], name="b")
    assert as_results(a) == [a] and as_results((a, b)) == [a, b]
    assert as_results(r for r in (a, b)) == [a, b]
    for bad in ([], [a, 1], "a", None, 3):
        with pytest.raises(TypeError, match="results must be an AttackResult"):
            as_results(bad)


def test_metrics_does_not_load_plots():
    # plots builds on metrics: metrics must not import it back, not even lazily.
    code = "import sys, mialab.metrics; print('mialab.plots' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr
    assert not hasattr(AttackResult, "plot")


def test_accuracy_is_the_argmax_accuracy_and_checks_its_input(rng):
    logits = rng.normal(size=(200, 4))
    labels = rng.integers(0, 4, size=200)
    assert accuracy(logits, labels) == np.mean(logits.argmax(1) == labels)
    assert accuracy(np.eye(3), [0, 1, 2]) == 1.0
    assert accuracy(np.log(np.eye(3)[[1, 2, 0]] + 1e-3), [0, 1, 2]) == 0.0
    cases = [
        ((logits[:5], labels[:4]), ValueError, "lengths differ"),
        ((logits, labels + 4), ValueError, "labels"),
        ((logits[:, :1], labels * 0), ValueError, "at least 2 classes"),
        ((logits[0], labels[:1]), ValueError, "logits must have 2 dimension"),
        ((np.full((2, 2), np.nan), [0, 1]), ValueError, "logits contains NaN"),
        ((logits[:2], [0.5, 1.0]), (TypeError, ValueError), "labels"),
    ]
    for args, error, message in cases:
        with pytest.raises(error, match=message):
            accuracy(*args)


def test_chance_auc_std_is_the_mann_whitney_null():
    for n1, n0 in ((30, 50), (100, 100), (7, 200)):
        expected = math.sqrt((n1 + n0 + 1) / (12 * n1 * n0))
        assert chance_auc_std(n1, n0) == pytest.approx(expected, rel=1e-12)
        # scipy's normal approximation of U (no continuity correction, no ties) divides by the
        # null standard deviation of U; recover it from a p-value.
        x, y = np.arange(n1) + 0.5, np.arange(n0) * 0.77
        test = stats.mannwhitneyu(x, y, use_continuity=False, method="asymptotic")
        z = stats.norm.isf(test.pvalue / 2)
        sigma_u = abs(test.statistic - n1 * n0 / 2) / z
        assert chance_auc_std(n1, n0) == pytest.approx(sigma_u / (n1 * n0), rel=1e-6)
    # A simulation: the AUCs of blind scores spread as predicted.
    rng = np.random.default_rng(0)
    is_member = np.r_[np.ones(30, bool), np.zeros(50, bool)]
    aucs = [roc_auc_score(is_member, rng.normal(size=80)) for _ in range(4000)]
    assert np.std(aucs) == pytest.approx(chance_auc_std(30, 50), rel=0.05)
    for bad, error in ((0, ValueError), (1.5, TypeError), (None, TypeError)):
        with pytest.raises(error, match="n_members"):
            chance_auc_std(bad, 10)
        with pytest.raises(error, match="n_nonmembers"):
            chance_auc_std(10, bad)


def test_confusion_matches_roc_points(rng):
    is_member = rng.integers(0, 2, size=200).astype(bool)
    scores = rng.normal(size=200) + is_member
    result = evaluate(scores, is_member)
    for i in range(1, len(result.thresholds), 17):
        counts = confusion_at(scores, is_member, result.thresholds[i])
        assert counts.tpr == pytest.approx(result.tpr[i])
        assert counts.fpr == pytest.approx(result.fpr[i])
    counts = confusion_at([1.0, 0.0], [1, 0], threshold=2.0)
    assert counts.true_positives == 0 and np.isnan(counts.precision)
    assert counts.accuracy == 0.5


@pytest.mark.parametrize(
    ("scores", "is_member", "error", "names"),
    [
        ([0.1, 0.2], [1, 0, 1], ValueError, "lengths differ"),
        ([0.1, np.nan], [1, 0], ValueError, "scores holds 1 NaN"),
        ([0.1, np.inf], [1, 0], ValueError, "scores contains NaN"),
        ([0.1, 0.2], [1, 2], ValueError, "is_member must hold only 0"),
        ([0.1, 0.2], [1, 1], ValueError, "is_member must hold both"),
        ([], [], ValueError, "scores is empty"),
        ([[0.1], [0.2]], [1, 0], ValueError, "scores must have 1 dimension"),
        ([0.1, 0.2], [[1, 0]], ValueError, "is_member must be 1-D"),
        (["a", "b"], [1, 0], TypeError, "scores must hold numbers"),
        ([0.1, 0.2], ["yes", "no"], TypeError, "is_member must hold 0/1"),
        ("0.1", [1, 0], TypeError, "scores must be an array"),
    ],
)
def test_evaluate_rejects_bad_input(scores, is_member, error, names):
    with pytest.raises(error, match=names):
        evaluate(scores, is_member)


def test_bad_arguments_are_named():
    result = evaluate([1, 0], [1, 0])
    with pytest.raises(ValueError, match="fpr must lie in"):
        result.tpr_at(0)
    with pytest.raises(TypeError, match="fpr must be a number"):
        result.tpr_at("1%")
    with pytest.raises(TypeError, match="name must be a string"):
        evaluate([1, 0], [1, 0], name=3)
    with pytest.raises(TypeError, match="results must be"):
        results_table([])
    with pytest.raises(ValueError, match="threshold must not be NaN"):
        confusion_at([1, 0], [1, 0], float("nan"))


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    scores=arrays(np.float64, st.integers(2, 60), elements=finite),
    data=st.data(),
)
def test_fuzz_evaluate_agrees_with_scikit_learn(scores, data):
    n = len(scores)
    is_member = data.draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    if is_member.min() == is_member.max():
        with pytest.raises(ValueError, match="is_member must hold both"):
            evaluate(scores, is_member)
        return
    result = evaluate(scores, is_member)
    assert isinstance(result, AttackResult)
    assert result.auc == roc_auc_score(is_member, scores)
    assert 0.0 <= result.advantage <= 1.0
    fpr_target = data.draw(st.floats(1e-4, 1.0))
    fprs, tprs, _ = roc_curve(is_member, scores, drop_intermediate=False)
    if fpr_target < 1 / (is_member == 0).sum():
        assert np.isnan(result.tpr_at(fpr_target))
    else:
        assert result.tpr_at(fpr_target) == tprs[fprs <= fpr_target].max()


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.none(), st.text(), st.lists(st.text(), min_size=1), st.dictionaries(st.text(), finite)
    )
)
def test_fuzz_evaluate_rejects_non_numeric(garbage):
    with pytest.raises((TypeError, ValueError)):
        evaluate(garbage, [1, 0])


def test_threshold_at_fpr_reproduces_tpr_at(rng):
    from mialab.metrics import threshold_at_fpr

    is_member = rng.integers(0, 2, size=300).astype(bool)
    scores = np.round(rng.normal(size=300) + is_member, 1)  # ties
    result = evaluate(scores, is_member)
    for target in (0.001, 0.01, 0.1, 0.5):
        threshold = threshold_at_fpr(scores, is_member, target)
        counts = confusion_at(scores, is_member, threshold)
        assert counts.fpr <= target
        if result.measurable(target):
            assert counts.tpr == result.tpr_at(target)
        else:  # the rule still exists (flag no non-member); its TPR is just not a rate at target
            assert counts.false_positives == 0
    assert threshold_at_fpr([1.0, 0.0], [0, 1], 0.1) == np.inf  # nothing can be flagged safely


def test_rates_without_records_are_nan_not_a_crash():
    from mialab.metrics import Confusion

    empty = Confusion(0.5, 0, 0, 0, 0)
    assert all(np.isnan(v) for v in (empty.tpr, empty.fpr, empty.precision, empty.accuracy))
    assert Confusion(0.5, 2, 0, 3, 2).tpr == 0.5
    with pytest.raises(ValueError, match="false_positives must be a count"):
        Confusion(0.5, 1, -1, 1, 1)


def test_nan_scores_are_refused_with_how_to_drop_them():
    with pytest.raises(ValueError, match=r"scores holds 1 NaN.*np\.isfinite"):
        evaluate([0.1, np.nan, 0.3, 0.4], [1, 0, 1, 0])
