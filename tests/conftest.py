"""Shared fixtures: one small overfit target model on digits, trained once per test session."""

from functools import partial

import numpy as np
import pytest

import mialab as ml


@pytest.fixture(scope="session")
def digits():
    return ml.data.load("digits")


@pytest.fixture(scope="session")
def overfit_target(digits):
    """An MLP trained to zero loss on 100 digits, with its challenge set (members first)."""
    split = ml.data.membership_split(digits, n_members=100, seed=0)
    model = ml.models.mlp(64, 10, hidden=(256,), seed=0)
    ml.training.fit(model, split.members, epochs=300, seed=0)
    X, y, is_member = split.candidates()
    return model, split, X, y, is_member


@pytest.fixture(scope="session")
def outsider(overfit_target):
    """The same architecture trained only on the population: it saw no candidate record."""
    _, split, *_ = overfit_target
    model = ml.models.mlp(64, 10, hidden=(256,), seed=1)
    return ml.training.fit(model, split.population, epochs=100, seed=1)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def reference_models(overfit_target):
    """16 reference models like the overfit target, each on half of its candidate records."""
    _, split, X, y, _ = overfit_target
    factory = partial(ml.models.mlp, 64, 10, hidden=(256,))
    refs, in_mask = ml.training.fit_many(factory, (X, y), 16, epochs=300, seed=5)
    return {
        "logits": ml.training.predict_logits(refs, X),
        "in_mask": in_mask,
        "population_logits": ml.training.predict_logits(refs, split.population.X),
    }
