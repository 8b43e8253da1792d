"""Label-only attacks: exact query counts, the boundary search against a known geometry, and
behaviour on real models (above chance when there is membership to find, chance when not)."""

import numpy as np
import pytest

import mialab as ml
from mialab.attacks import (
    QueryCounter,
    augmentation_score,
    boundary_distance_score,
    gap_score,
    mask_confidences,
)


def linear_classifier(weights, bias):
    weights = np.asarray(weights, dtype=np.float64)
    return lambda X: (np.asarray(X) @ weights + bias > 0).astype(int)


def test_query_counts_are_exact(rng):
    calls = []
    counter = QueryCounter(lambda X: calls.append(len(X)) or np.zeros(len(X), dtype=int))
    X, y = rng.normal(size=(7, 3)), np.zeros(7, dtype=int)
    augmentation_score(counter, X, y, n_noise=4)
    assert counter.calls == len(calls) == 1 and counter.rows == sum(calls) == 7 * 5
    counter = QueryCounter(linear_classifier([1.0, 0, 0], 0.0))
    y = (X[:, 0] > 0).astype(int)
    boundary_distance_score(counter, X, y, max_queries=400, n_directions=5, bisection_steps=8)
    assert counter.rows <= 7 * 400
    assert counter.rows >= 7 + 7 * 5 * 9  # at least the start: one check, 5 rays of 1 + 8 steps


def test_boundary_distance_matches_a_linear_model_and_is_zero_when_wrong(rng):
    for dim in (2, 10):
        weights = rng.normal(size=dim)
        weights /= np.linalg.norm(weights)
        classify = linear_classifier(weights, 0.3)
        X = rng.normal(size=(30, dim))
        y = classify(X)
        true = np.abs(X @ weights + 0.3)
        found = boundary_distance_score(classify, X, y, max_queries=3000, seed=1)
        tolerance = 10.0 / 2**10  # radius / 2^bisection_steps
        assert np.all(found >= true - tolerance)  # never closer than the boundary really is
        assert np.median(found - true) < 0.05 * np.median(true) + tolerance, dim
    wrong = boundary_distance_score(classify, X, 1 - y, max_queries=300)
    np.testing.assert_array_equal(wrong, np.zeros(len(X)))


def test_gap_and_augmentation_scores_by_hand():
    np.testing.assert_array_equal(gap_score([0, 1, 2], [0, 2, 2]), [1.0, 0.0, 1.0])
    right_half = linear_classifier([1.0, 0.0], 0.0)
    X = np.array([[3.0, 0.0], [0.01, 0.0]])  # far from and next to the boundary x0 = 0
    scores = augmentation_score(right_half, X, [1, 1], noise_scale=0.5, n_noise=200)
    assert scores[0] == 1.0 and 0.3 < scores[1] < 0.7
    image = np.zeros((1, 4))
    image[0, 0] = 1.0  # a 2x2 image with one lit corner pixel
    lit_corner = lambda X: (X[:, 0] > 0.5).astype(int)  # noqa: E731
    # 9 shifts by up to one pixel; only the unshifted and (0, 0)-preserving ones keep it lit
    assert augmentation_score(lit_corner, image, [1], image_shape=(2, 2)) == pytest.approx(1 / 9)


@pytest.fixture(scope="module")
def label_only_scores(overfit_target, outsider):
    target, _, X, y, is_member = overfit_target
    scores = {}
    for name, model in (("target", target), ("outsider", outsider)):
        api = mask_confidences(model)
        scores[name] = {
            "gap": gap_score(api(X), y),
            # pixel noise: shifts tell little about a model never trained on shifted digits
            "augmentation": augmentation_score(api, X, y, noise_scale=0.3, n_noise=32),
            "boundary": boundary_distance_score(api, X, y, max_queries=600, seed=0),
        }
    return scores, is_member, ml.training.predict_logits(target, X), y


def test_label_only_attacks_beat_chance_on_an_overfit_model(label_only_scores):
    scores, is_member, logits, y = label_only_scores
    correct = logits.argmax(axis=1) == y
    gap_advantage = correct[is_member].mean() - correct[~is_member].mean()
    gap = ml.metrics.evaluate(scores["target"]["gap"], is_member)
    assert gap.advantage == pytest.approx(gap_advantage)
    assert ml.metrics.evaluate(scores["target"]["boundary"], is_member).auc > 0.6
    assert ml.metrics.evaluate(scores["target"]["augmentation"], is_member).auc > 0.6


def test_label_only_attacks_are_at_chance_on_a_model_that_never_saw_the_data(label_only_scores):
    scores, is_member, *_ = label_only_scores
    for name, s in scores["outsider"].items():
        auc = ml.metrics.evaluate(s, is_member).auc
        assert abs(auc - 0.5) < 0.1, f"{name}: AUC {auc:.3f}"


def test_bad_input_and_bad_answers_are_named(rng):
    X, y = rng.normal(size=(4, 2)), np.zeros(4, dtype=int)
    ok = linear_classifier([1.0, 0.0], 0.0)
    cases = [
        (
            lambda: boundary_distance_score("model", X, y),
            TypeError,
            "predict_labels must be callable",
        ),
        (lambda: boundary_distance_score(ok, X, y[:3]), ValueError, "labels has 3"),
        (lambda: boundary_distance_score(ok, X[0], y), ValueError, "X must have 2"),
        (
            lambda: boundary_distance_score(ok, X, y, max_queries=10),
            ValueError,
            "max_queries must be",
        ),
        (
            lambda: boundary_distance_score(lambda X: np.zeros(3, int), X, y),
            ValueError,
            r"one label per row, shape \(4,\)",
        ),
        (
            lambda: boundary_distance_score(lambda X: np.zeros(len(X)), X, y),
            TypeError,
            r"predict_labels\(X\) must hold integer",
        ),
        (lambda: augmentation_score(ok, X, y, noise_scale=0), ValueError, "noise_scale"),
        (lambda: augmentation_score(ok, X, y, image_shape=(3, 3)), ValueError, "X must have 9"),
        (lambda: gap_score([0, 1], [0]), ValueError, "lengths differ"),
        (lambda: QueryCounter(3), TypeError, "predict_labels must be callable"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def test_boundary_distance_warns_how_many_records_hit_the_search_radius():
    right_of_zero = lambda X: (X[:, 0] > 0).astype(int)  # noqa: E731
    X = np.array([[0.5, 0.0], [50.0, 0.0], [80.0, 0.0]])  # the last two lie beyond radius 10
    with pytest.warns(UserWarning, match="within radius=10 for 2 of the 3"):
        distances = boundary_distance_score(right_of_zero, X, [1, 1, 1], max_queries=300, seed=0)
    assert distances[0] == pytest.approx(0.5, abs=0.05)
    np.testing.assert_array_equal(distances[1:], [10.0, 10.0])
