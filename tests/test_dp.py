"""DP-SGD through Opacus, and an audit of its models (lesson 05)."""

import math
import time

import numpy as np
import pytest
import torch
from opacus.accountants import PRVAccountant, RDPAccountant
from opacus.accountants.utils import get_noise_multiplier
from opacus.optimizers import DPOptimizer
from torch import nn

import mialab as ml
from mialab import audit
from mialab.defenses import dp
from mialab.defenses.dp import DPSettings


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.fixture(scope="module")
def members(digits):
    return digits.subset(range(300))


def test_fit_private_reaches_the_target_and_reports_opacus_own_epsilon(members):
    model, epsilon = dp.fit_private(
        ml.models.mlp(64, 10), members, privacy=DPSettings(target_epsilon=3.0), epochs=4
    )
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
        privacy = DPSettings(target_epsilon=2.0, accountant="rdp")
        return weights(dp.fit_private(ml.models.mlp(64, 10), members, privacy=privacy, epochs=2,
                                      seed=seed)[0])  # fmt: skip

    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))


def test_a_layer_opacus_cannot_train_is_named(members):
    model = nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16), nn.Linear(16, 10))
    with pytest.raises(ValueError, match="layer '1' \\(BatchNorm1d\\) cannot be trained"):
        dp.fit_private(model, members, privacy=DPSettings(target_epsilon=1.0))
    with pytest.raises(TypeError, match="privacy must be a mialab.defenses.dp.DPSettings"):
        dp.fit_private(ml.models.mlp(64, 10), members, privacy=1.0)
    trained = ml.training.fit(ml.models.mlp(64, 10), members, epochs=1)  # in eval mode
    dp.check_private(trained)
    assert not trained.training  # checked, and left in its mode


def test_settings_are_checked_when_built_naming_the_field():
    # Opacus' noise search for ε = 1e3 or 1e4 ran for minutes with the default PRV accountant.
    for target in (1e3, 1e4, np.float64(101.0)):
        start = time.perf_counter()
        with pytest.raises(ValueError, match="target_epsilon must be at most 100.*math.inf"):
            DPSettings(target_epsilon=target)
        assert time.perf_counter() - start < 1.0
    cases = [
        ({}, ValueError, "exactly one of target_epsilon and noise_multiplier"),
        ({"target_epsilon": 1.0, "noise_multiplier": 1.0}, ValueError, "exactly one of"),
        ({"target_epsilon": 0}, ValueError, "target_epsilon must be a positive number"),
        ({"target_epsilon": "1"}, ValueError, "target_epsilon must be a positive number"),
        ({"noise_multiplier": -0.5}, ValueError, "noise_multiplier must be a finite number"),
        ({"noise_multiplier": math.inf}, ValueError, "noise_multiplier must be a finite"),
        ({"noise_multiplier": "1"}, TypeError, "noise_multiplier must be a number"),
        ({"target_epsilon": 1.0, "max_grad_norm": 0}, ValueError, "max_grad_norm must be"),
        ({"target_epsilon": 1.0, "accountant": "gdp"}, ValueError, "accountant must be one of"),
        ({"target_epsilon": 1.0, "delta": None}, TypeError, "delta must be a number"),
    ]
    cases += [
        ({"target_epsilon": 1.0, "delta": delta}, ValueError, r"delta must lie in \(0, 1\)")
        for delta in (1.0, 2.0, 0.0, math.nan)
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            DPSettings(**kwargs)
    settings = DPSettings(target_epsilon=np.float32(2.0), delta=np.float64(1e-6))
    assert type(settings.target_epsilon) is float and type(settings.delta) is float
    assert DPSettings(target_epsilon=np.float32(np.inf)).target_epsilon == math.inf
    assert not DPSettings(target_epsilon=math.inf).private
    assert not DPSettings(noise_multiplier=0).private and DPSettings(noise_multiplier=0.5).private
    with pytest.raises(AttributeError):
        settings.delta = 0.1  # frozen: a checked value cannot be replaced by an unchecked one


def test_the_noise_free_twin_clips_without_noise_and_claims_no_privacy(monkeypatch, members):
    steps = []
    add_noise = DPOptimizer.add_noise

    def recording_add_noise(self):
        summed = torch.cat([p.summed_grad.flatten() for p in self.params])
        norms = torch.stack([g.reshape(len(g), -1).norm(dim=1) for g in self.grad_samples], 1)
        add_noise(self)
        noised = torch.cat([p.grad.flatten() for p in self.params])
        steps.append((summed, noised, norms.norm(dim=1), self.max_grad_norm))

    monkeypatch.setattr(DPOptimizer, "add_noise", recording_add_noise)
    twin = DPSettings(noise_multiplier=0, max_grad_norm=0.1)
    model, epsilon = dp.fit_private(ml.models.mlp(64, 10), members, privacy=twin, epochs=1)
    assert epsilon == math.inf and steps and not model.training
    for summed, noised, raw_norms, max_grad_norm in steps:
        assert max_grad_norm == 0.1
        torch.testing.assert_close(noised, summed)  # nothing added to the clipped sum
        assert float(summed.norm()) <= 0.1 * len(raw_norms) * (1 + 1e-5)  # C per record
        assert float(raw_norms.max()) > 0.1  # the clipping binds: some raw gradients exceed C
    steps.clear()
    noisy = DPSettings(noise_multiplier=1.0, max_grad_norm=0.1, accountant="rdp")
    _, epsilon = dp.fit_private(ml.models.mlp(64, 10), members, privacy=noisy, epochs=1)
    assert math.isfinite(epsilon)
    summed, noised, _, _ = steps[0]
    assert float((noised - summed).norm()) > 0.1  # σC = 0.1 per coordinate: noise was added


def test_an_empty_poisson_draw_takes_a_noise_only_step(monkeypatch, members):
    """Three records, expected batch 1: some draws are empty; each still takes its step (the
    noise only) and counts for the accountant, so ε is the accountant's for every step."""
    sizes = []
    pre_step = DPOptimizer.pre_step

    def recording_pre_step(self, *args, **kwargs):
        sizes.append(len(self.grad_samples[0]))
        return pre_step(self, *args, **kwargs)

    monkeypatch.setattr(DPOptimizer, "pre_step", recording_pre_step)
    privacy = DPSettings(noise_multiplier=1.0, accountant="rdp")
    _, epsilon = dp.fit_private(
        ml.models.mlp(64, 10), members.subset(range(3)), privacy=privacy, epochs=5, batch_size=1
    )
    accountant = RDPAccountant()
    accountant.history = [(1.0, 1 / 3, 15)]  # all 5 × 3 steps, the empty draws included
    assert len(sizes) == 15 and 0 in sizes
    assert epsilon == pytest.approx(accountant.get_epsilon(1e-5), rel=1e-9)
    sizes.clear()
    lm = ml.models.char_lm("\nab", width=8, layers=1, heads=2, context=8)
    before = weights(lm).clone()
    lm, epsilon = dp.fit_private_lm(
        lm, ["ab", "ba", "aab"], privacy=privacy, epochs=5, batch_size=1, seed=1
    )
    assert len(sizes) == 15 and 0 in sizes
    assert epsilon == pytest.approx(accountant.get_epsilon(1e-5), rel=1e-9)
    assert torch.isfinite(weights(lm)).all() and not torch.equal(before, weights(lm))


def test_float32_infinity_float64_models_and_arrays_train(members):
    model, epsilon = dp.fit_private(
        ml.models.mlp(64, 10),
        members,
        privacy=DPSettings(target_epsilon=np.float32(np.inf)),
        epochs=1,
    )
    assert epsilon == math.inf
    two = DPSettings(target_epsilon=2.0, accountant="rdp")
    model, epsilon = dp.fit_private(ml.models.mlp(64, 10).double(), members, privacy=two, epochs=1)
    assert next(model.parameters()).dtype == torch.float64 and epsilon <= 2.0
    assert np.isfinite(ml.training.predict_logits(model, members.X)).all()
    with pytest.raises(ValueError, match="data X has 64 features per record, the model takes 5"):
        dp.fit_private(ml.models.mlp(5, 10), members, privacy=two)
    g, d = ml.models.gan(64)
    g, d, epsilon = dp.fit_private_gan(g, d, members.X, privacy=two, epochs=1)  # an array
    assert epsilon <= 2.0 and ml.training.sample(g, 2).shape == (2, 64)


def test_the_audit_never_claims_more_than_the_guarantee_and_sees_overfitting(digits):
    split = ml.data.membership_split(digits, n_members=300, seed=2)
    X, y, is_member = split.candidates()
    bounds = {}
    for target in (math.inf, 4.0, 1.0, 0.5):
        model, epsilon = dp.fit_private(
            ml.models.mlp(64, 10, hidden=(256,), seed=0), split.members,
            privacy=DPSettings(target_epsilon=target, accountant="rdp"),
            epochs=200 if target == math.inf else 20, lr=1e-2,
        )  # fmt: skip
        scores = ml.attacks.loss_score(ml.training.predict_logits(model, X), y)
        bounds[target] = audit.epsilon_lower_bound(scores, is_member, delta=1e-5)
        assert bounds[target] <= epsilon, (target, bounds[target])
        if target == 0.5:  # within noise of chance (300 per side: s.e. 0.024)
            assert abs(ml.metrics.evaluate(scores, is_member).auc - 0.5) < 0.06
    assert bounds[math.inf] > 0.3, bounds  # an overfit, non-private model: clearly not ε = 0
