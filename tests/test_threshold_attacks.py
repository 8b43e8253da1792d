import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import mialab as ml
from mialab.attacks import confidence_score, entropy_score, loss_score, modified_entropy_score

LABELLED = [loss_score, confidence_score, modified_entropy_score]


def test_loss_equals_torch_cross_entropy(rng):
    logits = rng.normal(size=(40, 7)) * 5
    labels = rng.integers(0, 7, size=40)
    expected = torch.nn.functional.cross_entropy(
        torch.tensor(logits), torch.tensor(labels), reduction="none"
    ).numpy()
    np.testing.assert_allclose(loss_score(logits, labels), -expected, rtol=1e-12)


def test_confidence_and_entropy_from_probabilities(rng):
    logits = rng.normal(size=(30, 4))
    labels = rng.integers(0, 4, size=30)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(confidence_score(logits, labels), p[np.arange(30), labels])
    np.testing.assert_allclose(entropy_score(logits), np.sum(p * np.log(p), axis=1))


def test_modified_entropy_matches_song_and_mittal_formula(rng):
    logits = rng.normal(size=(30, 5)) * 3
    labels = rng.integers(0, 5, size=30)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    mentr = []
    for row, y in zip(p, labels, strict=True):
        others = np.delete(np.arange(5), y)
        mentr.append(-(1 - row[y]) * np.log(row[y]) - np.sum(row[others] * np.log(1 - row[others])))
    np.testing.assert_allclose(modified_entropy_score(logits, labels), -np.array(mentr))


def test_scores_stay_finite_for_extreme_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]])
    labels = np.array([0, 0])  # confidently right, then confidently wrong
    for attack in LABELLED:
        scores = attack(logits, labels)
        assert np.all(np.isfinite(scores)), attack.__name__
        assert scores[0] > scores[1], attack.__name__
    assert np.all(np.isfinite(entropy_score(logits)))
    # the wrong prediction's modified entropy keeps growing where log1p(-p) would hit log(0)
    assert modified_entropy_score(logits, labels)[1] < -1000


def test_tensors_and_log_probabilities_are_accepted(rng):
    logits = rng.normal(size=(10, 3))
    labels = rng.integers(0, 3, size=10)
    from_tensor = loss_score(torch.tensor(logits), torch.tensor(labels))
    np.testing.assert_allclose(from_tensor, loss_score(logits, labels))
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(loss_score(log_probs, labels), loss_score(logits, labels))
    assert from_tensor.dtype == np.float64


@pytest.mark.parametrize("attack", [*LABELLED, lambda logits, labels: entropy_score(logits)])
def test_attack_beats_chance_on_an_overfit_model(attack, overfit_target):
    model, _, X, y, is_member = overfit_target
    logits = ml.training.predict_logits(model, X)
    result = ml.metrics.evaluate(attack(logits, y), is_member)
    # Measured 0.68 for the loss; sampling noise of the AUC with 100 + 100 records is about 0.03.
    assert result.auc > 0.6
    assert result.advantage > 0.25


@pytest.mark.parametrize("attack", LABELLED)
def test_attack_is_at_chance_on_a_model_that_never_saw_the_data(attack, overfit_target, outsider):
    _, _, X, y, is_member = overfit_target
    result = ml.metrics.evaluate(attack(ml.training.predict_logits(outsider, X), y), is_member)
    assert abs(result.auc - 0.5) < 0.08  # about 2.5 standard errors of the AUC


def test_same_seed_same_scores(digits):
    def run():
        split = ml.data.membership_split(digits, n_members=60, seed=3)
        model = ml.training.fit(ml.models.mlp(64, 10, seed=3), split.members, epochs=5, seed=3)
        X, y, is_member = split.candidates()
        scores = loss_score(ml.training.predict_logits(model, X), y)
        return scores, ml.metrics.evaluate(scores, is_member).summary()

    (scores_a, summary_a), (scores_b, summary_b) = run(), run()
    np.testing.assert_array_equal(scores_a, scores_b)
    np.testing.assert_equal(summary_a, summary_b)  # NaN where not measurable, in both


@pytest.mark.parametrize(
    ("logits", "labels", "error", "message"),
    [
        (np.zeros((3, 2)), np.zeros(4, int), ValueError, "lengths differ"),
        (np.zeros(3), np.zeros(3, int), ValueError, "logits must have 2 dimension"),
        (np.zeros((3, 1)), np.zeros(3, int), ValueError, "at least 2 classes"),
        (np.full((2, 2), np.nan), np.zeros(2, int), ValueError, "logits contains NaN"),
        (np.zeros((2, 2)), np.array([0, 2]), ValueError, r"labels must lie in \[0, 2\)"),
        (np.zeros((2, 2)), np.array([0, -1]), ValueError, "labels must lie in"),
        (np.zeros((2, 2)), np.array([0.0, 1.0]), TypeError, "labels must hold integer"),
        (np.zeros((0, 2)), np.zeros(0, int), ValueError, "logits is empty"),
        ("logits", np.zeros(2, int), TypeError, "logits must be an array"),
    ],
)
def test_bad_input_is_rejected_by_name(logits, labels, error, message):
    for attack in LABELLED:
        with pytest.raises(error, match=message):
            attack(logits, labels)


@settings(max_examples=50, deadline=None)
@given(
    logits=arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.integers(2, 6)),
        elements=st.floats(-500, 500, allow_nan=False),
    ),
    data=st.data(),
)
def test_fuzz_scores_are_finite_and_ordered(logits, data):
    labels = data.draw(arrays(np.int64, len(logits), elements=st.integers(0, logits.shape[1] - 1)))
    loss, confidence = loss_score(logits, labels), confidence_score(logits, labels)
    mentr, entropy = modified_entropy_score(logits, labels), entropy_score(logits)
    for scores in (loss, confidence, mentr, entropy):
        assert scores.shape == (len(logits),) and scores.dtype == np.float64
        assert np.all(np.isfinite(scores))
    assert np.all(loss <= 0) and np.all((confidence >= 0) & (confidence <= 1))
    assert np.all(mentr <= 1e-12)
    assert np.all(entropy >= -np.log(logits.shape[1]) - 1e-9) and np.all(entropy <= 1e-12)


def test_the_numpy_only_attacks_load_without_torch():
    code = (
        "import sys, numpy as np\n"
        "import mialab.attacks.reference, mialab.attacks.shadow, mialab.attacks.language\n"
        "import mialab.attacks.update, mialab.attacks.label_only\n"
        "from mialab.attacks import loss_score, LiRA, lm_loss_score, augmentation_score\n"
        "loss_score(np.zeros((2, 2)), [0, 1])\n"
        "augmentation_score(lambda X: np.zeros(len(X), int), np.zeros((2, 3)), [0, 1])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
