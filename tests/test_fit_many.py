import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial

import numpy as np
import pytest
import torch

import mialab as ml

FACTORY = partial(ml.models.mlp, 64, 10, hidden=(32,))


@pytest.fixture(scope="module")
def pool(digits):
    return digits.subset(range(120))


def test_in_mask_is_balanced_and_seeded():
    mask = ml.training.balanced_in_mask(8, 50, seed=3)
    assert mask.dtype == bool and mask.shape == (8, 50)
    assert np.all(mask.sum(axis=1) == 25)  # every model trains on half the pool
    assert np.all(mask.sum(axis=0) == 4)  # every record is IN for half the models
    np.testing.assert_array_equal(mask, ml.training.balanced_in_mask(8, 50, seed=3))
    assert not np.array_equal(mask, ml.training.balanced_in_mask(8, 50, seed=4))
    odd = ml.training.balanced_in_mask(5, 11, seed=0)
    assert np.all(odd.sum(axis=1) == 5)
    for first in (0, 2):  # each pair splits the pool, leaving one record (n odd) to neither
        pair = odd[first : first + 2]
        assert not np.any(pair[0] & pair[1]) and np.sum(~(pair[0] | pair[1])) == 1


def test_each_model_equals_fit_on_its_half(pool):
    models, mask = ml.training.fit_many(FACTORY, pool, 4, epochs=5, seed=7)
    rng = np.random.default_rng(7)
    rng.integers(2**31)  # fit_many draws the in-mask seed first, then one seed per model
    seeds = rng.integers(2**31, size=4)
    probe = pool.X[:30]
    for m, seed in enumerate(seeds):
        alone = ml.training.fit(
            FACTORY(seed=int(seed)),
            pool.subset(np.flatnonzero(mask[m])),
            epochs=5,
            seed=int(seed),
        )
        np.testing.assert_allclose(
            ml.training.predict_logits(models[m], probe),
            ml.training.predict_logits(alone, probe),
            atol=1e-4,  # batched and single matrix products round differently in float32
        )


def test_same_seed_same_models_and_scores(pool):
    def run():
        models, mask = ml.training.fit_many(FACTORY, pool, 4, epochs=3, seed=1)
        logits = ml.training.predict_logits(models, pool.X)
        lira = ml.attacks.LiRA(fix_variance=True).fit(logits[1:], mask[1:], pool.y)
        return mask, lira.score_samples(logits[0])

    (mask_a, scores_a), (mask_b, scores_b) = run(), run()
    np.testing.assert_array_equal(mask_a, mask_b)
    np.testing.assert_array_equal(scores_a, scores_b)


def test_process_pool_gives_the_same_models(pool):
    here, mask_here = ml.training.fit_many(FACTORY, pool, 4, epochs=3, seed=2)
    spawn = multiprocessing.get_context("spawn")  # forking a process that runs torch can hang
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as executor:
        there, mask_there = ml.training.fit_many(
            FACTORY, pool, 4, epochs=3, seed=2, executor=executor, chunk_size=2
        )
    np.testing.assert_array_equal(mask_here, mask_there)
    np.testing.assert_allclose(
        ml.training.predict_logits(here, pool.X),
        ml.training.predict_logits(there, pool.X),
        atol=1e-4,  # chunks of 2 instead of 4 stacked models
    )
    assert all(not model.training for model in there)


def test_reference_models_learn(pool, digits):
    models, _ = ml.training.fit_many(FACTORY, pool, 2, epochs=100)
    test = digits.subset(range(1000, 1300))
    logits = ml.training.predict_logits(models, test.X)
    assert logits.shape == (2, 300, 10)
    assert np.all((logits.argmax(axis=2) == test.y).mean(axis=1) > 0.5)  # 60 digits; chance 0.1


def test_bad_arguments_are_named(pool):
    cases = [
        (lambda: ml.training.fit_many("mlp", pool, 2), TypeError, "model_factory must be a func"),
        (
            lambda: ml.training.fit_many(FACTORY(), pool, 2),
            TypeError,
            r"called as model_factory\(seed=s\).*functools.partial.*got a model",
        ),
        (lambda: ml.training.fit_many(lambda: FACTORY(), pool, 2), TypeError, "argument seed"),
        (lambda: ml.training.fit_many(FACTORY, pool.X, 2), TypeError, "pool must be"),
        (lambda: ml.training.fit_many(FACTORY, pool, 0), ValueError, "n_models must be at least"),
        (lambda: ml.training.fit_many(FACTORY, pool, 2, executor=4), TypeError, "executor must"),
        (
            lambda: ml.training.fit_many(FACTORY, pool, 2, executor=ThreadPoolExecutor(1)),
            ValueError,
            "chunk_size is required with an executor",
        ),
        (lambda: ml.training.fit_many(lambda seed: 3, pool, 2), TypeError, "nn.Module instances"),
        (lambda: ml.training.balanced_in_mask(2, 1), ValueError, "n must be at least 2"),
        (lambda: ml.training.predict_logits([], pool.X), ValueError, "empty sequence"),
        (
            lambda: ml.training.predict_logits([torch.nn.Linear(64, 2), "x"], pool.X),
            TypeError,
            "model must be a torch.nn.Module",
        ),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def test_float64_and_single_logit_reference_models(pool):
    X, y = pool.X, (pool.y >= 5).astype(int)
    double, _ = ml.training.fit_many(
        lambda seed: ml.models.mlp(64, 2, hidden=(8,), seed=seed).double(), (X, y), 2,
        epochs=2,
    )  # fmt: skip
    assert all(next(m.parameters()).dtype == torch.float64 for m in double)
    single, _ = ml.training.fit_many(lambda seed: torch.nn.Linear(64, 1), (X, y), 2, epochs=2)
    for refs in (double, single):
        logits = ml.training.predict_logits(refs, X)
        assert logits.shape == (2, len(X), 2) and np.isfinite(logits).all()
    with pytest.raises(ValueError, match="pool labels include 9, but the model has 2 classes"):
        ml.training.fit_many(partial(ml.models.mlp, 64, 2), pool, 2, epochs=1)
