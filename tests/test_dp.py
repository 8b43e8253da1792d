"""DP-SGD through Opacus, and an audit of its models (lesson 05)."""

import math
import time

import numpy as np
import pytest
import torch
from opacus.accountants import PRVAccountant
from opacus.accountants.utils import get_noise_multiplier
from torch import nn

import mialab as ml
from mialab import audit
from mialab.defenses import dp


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])

@pytest.fixture(scope="module")
def members(digits):
    return digits.subset(range(300))


def test_fit_private_reaches_the_target_and_reports_opacus_own_epsilon(members):
    model, epsilon = dp.fit_private(ml.models.mlp(64, 10), members, target_epsilon=3.0, epochs=4)
    assert epsilon == pytest.approx(3.0, abs=0.05)
    # The same run accounted from scratch: Poisson rate 64/300 → 1/5, 4 epochs of 5 steps.
    sigma = get_noise_multiplier(
        target_epsilon=3.0, target_delta=1e-5, sample_rate=1 / 5, epochs=4, accountant="prv"
    )
    accountant = PRVAccountant()
    accountant.history = [(sigma, 1 / 5, 20)]
    assert epsilon == pytest.approx(accountant.get_epsilon(1e-5), rel=1e-6)
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())  # unhooked


def test_fit_private_is_seeded(members):
    def run(seed):
        return weights(dp.fit_private(ml.models.mlp(64, 10), members, target_epsilon=2.0,
                                      epochs=2, accountant="rdp", seed=seed)[0])  # fmt: skip

    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))


def test_a_layer_opacus_cannot_train_is_named(members):
    model = nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16), nn.Linear(16, 10))
    with pytest.raises(ValueError, match="layer '1' \\(BatchNorm1d\\) cannot be trained"):
        dp.fit_private(model, members, target_epsilon=1.0)
    with pytest.raises(ValueError, match="target_epsilon must be"):
        dp.fit_private(ml.models.mlp(64, 10), members, target_epsilon=0)
    with pytest.raises(ValueError, match="accountant must be"):
        dp.fit_private(ml.models.mlp(64, 10), members, target_epsilon=1.0, accountant="gdp")


def test_a_large_epsilon_is_refused_at_once_and_delta_must_be_below_one(members):
    # Opacus' noise search for ε = 1e3 or 1e4 ran for minutes with the default PRV accountant.
    for target in (1e3, 1e4, np.float64(101.0)):
        start = time.perf_counter()
        with pytest.raises(ValueError, match="target_epsilon must be at most 100.*math.inf"):
            dp.fit_private(ml.models.mlp(64, 10), members, target_epsilon=target)
        assert time.perf_counter() - start < 1.0
    for delta in (1.0, 2.0, 0.0, math.nan):
        with pytest.raises(ValueError, match=r"delta must lie in \(0, 1\)"):
            dp.fit_private(ml.models.mlp(64, 10), members, target_epsilon=1.0, delta=delta)


def test_float32_infinity_float64_models_and_arrays_train(members):
    model, epsilon = dp.fit_private(
        ml.models.mlp(64, 10), members, target_epsilon=np.float32(np.inf), epochs=1
    )
    assert epsilon == math.inf
    model, epsilon = dp.fit_private(
        ml.models.mlp(64, 10).double(), members, target_epsilon=2.0, epochs=1, accountant="rdp"
    )
    assert next(model.parameters()).dtype == torch.float64 and epsilon <= 2.0
    assert np.isfinite(ml.training.predict_logits(model, members.X)).all()
    with pytest.raises(ValueError, match="data X has 64 features per row, the model takes 5"):
        dp.fit_private(ml.models.mlp(5, 10), members, target_epsilon=2.0)
    g, d = ml.models.gan(64)
    g, d, epsilon = dp.fit_private_gan(
        g, d, members.X, target_epsilon=2.0, epochs=1, accountant="rdp"
    )  # an array, as fit_gan takes
    assert epsilon <= 2.0 and ml.training.sample(g, 2).shape == (2, 64)


def test_the_audit_never_claims_more_than_the_guarantee_and_sees_overfitting(digits):
    split = ml.data.membership_split(digits, n_members=300, seed=2)
    X, y, is_member = split.candidates()
    bounds = {}
    for target in (math.inf, 4.0, 1.0, 0.5):
        model, epsilon = dp.fit_private(
            ml.models.mlp(64, 10, hidden=(256,), seed=0), split.members, target_epsilon=target,
            epochs=200 if target == math.inf else 20, lr=1e-2, accountant="rdp",
        )  # fmt: skip
        scores = ml.attacks.loss_score(ml.training.predict_logits(model, X), y)
        bounds[target] = audit.epsilon_lower_bound(scores, is_member, delta=1e-5)
        assert bounds[target] <= epsilon, (target, bounds[target])
        if target == 0.5:  # within noise of chance (300 per side: s.e. 0.024)
            assert abs(ml.metrics.evaluate(scores, is_member).auc - 0.5) < 0.06
    assert bounds[math.inf] > 0.3, bounds  # an overfit, non-private model: clearly not ε = 0
