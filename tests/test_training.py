import math

import numpy as np
import pytest
import torch

import mialab as ml


def test_learning_curves_train_as_fit_does_and_record_each_epoch(digits):
    split = ml.data.membership_split(digits, n_members=200, seed=0)
    seen = []

    def monitor(model):
        seen.append(model.training)
        logits = ml.training.predict_logits(model, split.nonmembers.X)
        return {"test_accuracy": float((logits.argmax(1) == split.nonmembers.y).mean())}

    model = ml.models.mlp(64, 10)
    curves = ml.training.learning_curves(model, split.members, monitor=monitor, epochs=30)
    assert list(curves.columns) == ["epoch", "train_loss", "train_accuracy", "test_accuracy"]
    assert list(curves.epoch) == list(range(1, 31))
    assert curves.train_loss.iloc[-1] < curves.train_loss.iloc[0] / 2
    assert curves.test_accuracy.iloc[-1] > 0.8
    assert seen == [False] * 30  # the monitor sees the model in eval mode
    assert not model.training
    # The same arguments train the same model as fit, and the last row measures it.
    fitted = ml.training.fit(ml.models.mlp(64, 10), split.members, epochs=30)
    for a, b in zip(model.parameters(), fitted.parameters(), strict=True):
        assert torch.equal(a, b)
    predicted_labels = ml.training.predict_logits(model, split.members.X).argmax(1)
    accuracy = (predicted_labels == split.members.y).mean()
    assert curves.train_accuracy.iloc[-1] == pytest.approx(accuracy)
    with pytest.raises(TypeError, match="monitor must be callable"):
        ml.training.learning_curves(ml.models.mlp(64, 10), split.members, monitor="auc")


def test_batches_are_seeded_and_take_each_index_once_per_epoch():
    generator = torch.Generator().manual_seed(3)
    epochs = [ml.training.batches(10, 4, generator=generator) for _ in range(3)]
    for epoch in epochs:
        assert [len(b) for b in epoch] == [4, 4, 2]
        assert sorted(torch.cat(epoch).tolist()) == list(range(10))
    assert not torch.equal(torch.cat(epochs[0]), torch.cat(epochs[1]))  # reshuffled each epoch
    again = torch.Generator().manual_seed(3)
    for epoch in epochs:
        assert torch.equal(torch.cat(epoch), torch.cat(ml.training.batches(10, 4, generator=again)))
    with pytest.raises(TypeError, match="generator must be a CPU torch.Generator"):
        ml.training.batches(10, 4, generator=3)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        ml.training.batches(10, 0, generator=generator)


def test_cnn_trains_on_digits(digits):
    small = digits.subset(range(300))
    model = ml.training.fit(ml.models.cnn(10), small, epochs=15)
    logits = ml.training.predict_logits(model, small.X)
    assert (logits.argmax(1) == small.y).mean() > 0.8


def test_a_cnn_takes_images_as_they_are_and_learns_what_it_learns_from_rows(digits):
    rows = digits.subset(range(200))
    images = rows.X.reshape(-1, 8, 8)
    from_rows = ml.training.fit(ml.models.cnn(10, channels=(4, 8)), rows, epochs=3, seed=0)
    from_images = ml.training.fit(
        ml.models.cnn(10, channels=(4, 8)), (images, rows.y), epochs=3, seed=0
    )
    expected = ml.training.predict_logits(from_rows, rows.X)
    np.testing.assert_array_equal(ml.training.predict_logits(from_images, images), expected)
    channel_first = images[:, None]  # (n, 1, 8, 8)
    np.testing.assert_array_equal(ml.training.predict_logits(from_rows, channel_first), expected)
    with pytest.raises(ValueError, match="X has 49 features per record, the model takes 64"):
        ml.training.predict_logits(from_rows, np.zeros((2, 7, 7)))
    with pytest.raises(ValueError, match="X must have 2 or 3 or 4 dimension"):
        ml.training.predict_logits(from_rows, np.zeros((2, 1, 1, 8, 8)))


def test_same_seed_same_model_and_global_rng_untouched(digits):
    small = digits.subset(range(100))
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = ml.training.fit(ml.models.mlp(64, 10, seed=4), small, epochs=3, seed=9)
    after = torch.rand(3)
    b = ml.training.fit(ml.models.mlp(64, 10, seed=4), small, epochs=3, seed=9)
    c = ml.training.fit(ml.models.mlp(64, 10, seed=4), small, epochs=3, seed=10)
    assert torch.equal(before, after)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(
        torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )


def test_fit_accepts_arrays_and_predict_restores_mode(rng):
    X = rng.normal(size=(40, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = ml.training.fit(ml.models.mlp(5, 2), (X, y), epochs=2)
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
            lambda: ml.training.learning_curves(model, small, epochs=1, monitor=lambda m: 1),
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


def test_a_float64_model_trains_and_predicts_like_a_float32_one(rng):
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    double = ml.training.fit(ml.models.mlp(5, 2).double(), (X, y), epochs=20)
    single = ml.training.fit(ml.models.mlp(5, 2), (X, y), epochs=20)
    assert next(double.parameters()).dtype == torch.float64
    logits = ml.training.predict_logits(double, X)
    np.testing.assert_allclose(logits, ml.training.predict_logits(single, X), atol=1e-4)
    assert (logits.argmax(1) == y).mean() > 0.8
    # float64 holds what float32 cannot: 1e300 is refused only by the float32 model.
    assert np.isfinite(ml.training.predict_logits(double, np.full((1, 5), 1e300))).all()
    with pytest.raises(ValueError, match="X has values too large for the model's torch.float32"):
        ml.training.predict_logits(single, np.full((1, 5), 1e300))


def test_a_binary_model_with_one_logit_reads_as_logits_zero_and_z(rng):
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] > 0).astype(int)
    model = ml.training.fit(torch.nn.Linear(3, 1), (X, y), epochs=100, lr=5e-2)
    logits = ml.training.predict_logits(model, X)
    with torch.no_grad():
        z = model(torch.tensor(X, dtype=torch.float32)).double().numpy()[:, 0]
    np.testing.assert_array_equal(logits[:, 0], 0.0)
    np.testing.assert_allclose(logits[:, 1], z, rtol=1e-6)
    assert (logits.argmax(1) == y).mean() > 0.9  # softmax([0, z]) = sigmoid(z): it learnt y
    with pytest.raises(ValueError, match="data labels include 2, but the model has 2 classes"):
        ml.training.fit(torch.nn.Linear(3, 1), (X, y * 2), epochs=1)


def test_training_that_diverges_or_cannot_start_is_refused_naming_the_cause(rng):
    X, y = rng.normal(size=(40, 5)), np.arange(40) % 3
    for lr in (0, -1e-3, math.nan, math.inf):
        with pytest.raises(ValueError, match="lr must be a positive number"):
            ml.training.fit(ml.models.mlp(5, 3), (X, y), lr=lr)
    for lr in (1e300, 1e38):  # overflows float32; fits it but blows the weights up
        with pytest.raises(ValueError, match="lr"):
            ml.training.fit(ml.models.mlp(5, 3), (X, y), lr=lr, epochs=2)
    cases = [
        ((X, y + 1), ValueError, "data labels include 3, but the model has 3 classes"),
        ((X[:, :4], y), ValueError, "data X has 4 features per record, the model takes 5"),
        ((X * 1e300, y), ValueError, "data X has values too large"),
        ((X, y.astype(str)), TypeError, "LabelEncoder"),
        ((X, y.astype(float)), TypeError, r"\.astype\(int\) keeps these whole numbers"),
    ]
    for data, error, message in cases:
        with pytest.raises(error, match=message):
            ml.training.fit(ml.models.mlp(5, 3), data, epochs=1)
    with pytest.raises(TypeError, match="progress must be None, True or False"):
        ml.training.fit(ml.models.mlp(5, 3), (X, y), epochs=1, progress="no")
