import numpy as np
import pytest
import torch

import mialab as ml


def test_fit_learns_and_returns_curves(digits):
    split = ml.data.membership_split(digits, n_members=200, seed=0)
    X, y, is_member = split.candidates()
    seen = []

    def monitor(model):
        seen.append(model.training)
        logits = ml.training.predict_logits(model, split.nonmembers.X)
        return {"test_accuracy": float((logits.argmax(1) == split.nonmembers.y).mean())}

    model, curves = ml.training.fit(
        ml.models.mlp(64, 10),
        split.members,
        epochs=30,
        monitor=monitor,
        return_curves=True,
        progress=False,
    )
    assert list(curves.columns) == ["epoch", "train_loss", "train_accuracy", "test_accuracy"]
    assert list(curves.epoch) == list(range(1, 31))
    assert curves.train_loss.iloc[-1] < curves.train_loss.iloc[0] / 2
    assert curves.test_accuracy.iloc[-1] > 0.8
    assert seen == [False] * 30  # the monitor sees the model in eval mode
    assert not model.training


def test_cnn_trains_on_digits(digits):
    small = digits.subset(range(300))
    model = ml.training.fit(ml.models.cnn(10), small, epochs=15, progress=False)
    logits = ml.training.predict_logits(model, small.X)
    assert (logits.argmax(1) == small.y).mean() > 0.8


def test_same_seed_same_model_and_global_rng_untouched(digits):
    small = digits.subset(range(100))
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = ml.training.fit(ml.models.mlp(64, 10, seed=4), small, epochs=3, seed=9, progress=False)
    after = torch.rand(3)
    b = ml.training.fit(ml.models.mlp(64, 10, seed=4), small, epochs=3, seed=9, progress=False)
    c = ml.training.fit(ml.models.mlp(64, 10, seed=4), small, epochs=3, seed=10, progress=False)
    assert torch.equal(before, after)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(
        torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )


def test_fit_accepts_arrays_and_predict_restores_mode(rng):
    X = rng.normal(size=(40, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = ml.training.fit(ml.models.mlp(5, 2), (X, y), epochs=2, progress=False)
    model.train()
    logits = ml.training.predict_logits(model, X, batch_size=7)
    assert model.training and logits.shape == (40, 2) and logits.dtype == np.float64
    model.eval()
    with torch.no_grad():
        expected = model(torch.tensor(X)).double().numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)  # float32 batching


def test_bad_arguments_are_named(digits):
    model = ml.models.mlp(64, 10)
    small = digits.subset(range(20))
    cases = [
        (lambda: ml.training.fit("model", small), TypeError, "model must be a torch.nn.Module"),
        (lambda: ml.training.fit(model, small.X), TypeError, "data must be a mialab Dataset"),
        (lambda: ml.training.fit(model, small, epochs=0), ValueError, "epochs must be at least 1"),
        (lambda: ml.training.fit(model, small, lr=-1.0), ValueError, "lr must be"),
        (
            lambda: ml.training.fit(model, small, batch_size=2.5),
            TypeError,
            "batch_size must be an int",
        ),
        (
            lambda: ml.training.fit(model, small, epochs=1, progress=False, monitor=lambda m: 1),
            TypeError,
            "monitor must return a dict",
        ),
        (lambda: ml.training.fit(model, (small.X, small.y[:5])), ValueError, "lengths differ"),
        (lambda: ml.training.predict_logits(model, np.zeros(64)), ValueError, "X must have 2"),
        (lambda: ml.models.mlp(64, 0), ValueError, "n_classes must be at least 1"),
        (lambda: ml.models.mlp(64, 10, hidden=64), TypeError, "hidden must be a tuple"),
        (lambda: ml.models.cnn(10, seed=-1), ValueError, r"seed must lie in \[0, 2\*\*32\)"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
