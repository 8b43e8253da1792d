"""DP-GAN accounting: one record moves the privatised step by at most C, and the ε reported is
the accountant's for the Poisson rate and the number of steps the training actually took."""

import copy
import math

import pytest
import torch
from opacus.accountants import PRVAccountant, RDPAccountant
from opacus.optimizers import DPOptimizer
from torch import nn

import mialab as ml
from mialab.defenses import dp

C = 0.5  # max_grad_norm
N_FEATURES = 8


def _rows(n, seed, scale=1.0):
    return scale * torch.randn(n, N_FEATURES, generator=torch.Generator().manual_seed(seed))


def _noise_free_step(discriminator, real, fake, n=40, batch_size=10):
    """One `_private_discriminator_step` on a fresh copy of ``discriminator`` without noise.

    Returns the gradient handed to Adam (times the expected batch size, so that it is on the
    scale of the clipped sum) and Opacus' clipped sum of the real rows (``p.summed_grad``).
    """
    module = copy.deepcopy(discriminator)
    with dp._quiet_opacus():
        private, opt_d, _, _ = dp._make_private(
            module, torch.optim.Adam(module.parameters(), lr=1e-3),
            torch.utils.data.TensorDataset(_rows(n, 99)),
            privacy=dp.DPSettings(noise_multiplier=0, max_grad_norm=C), epochs=1,
            batch_size=batch_size, grad_sample_mode="hooks", seed=0, device=torch.device("cpu"),
        )  # fmt: skip
        assert opt_d.noise_multiplier == 0.0 and opt_d.max_grad_norm == C
        dp._private_discriminator_step(private, opt_d, real, fake, lr=1e-3)
    released = torch.cat([p.grad.flatten() for p in opt_d.params]) * opt_d.expected_batch_size
    clipped_sum = torch.cat([p.summed_grad.flatten() for p in opt_d.params])
    return released, clipped_sum


def _flat_norm(vector):
    return float(vector.norm())


@pytest.fixture
def discriminator():
    return ml.models.gan(N_FEATURES, hidden=16, seed=3)[1]


@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_one_added_or_removed_record_moves_the_privatised_step_by_at_most_C(discriminator, scale):
    real = _rows(10, 1)
    fake = _rows(10, 2).sigmoid()
    outlier = _rows(1, 3, scale=scale)  # scale 50: a gradient far above C, so clipping binds
    base, base_sum = _noise_free_step(discriminator, real, fake)
    added, added_sum = _noise_free_step(discriminator, torch.cat([real, outlier]), fake)
    removed, removed_sum = _noise_free_step(discriminator, real[1:], fake)
    for moved in (added - base, removed - base, added_sum - base_sum, removed_sum - base_sum):
        assert _flat_norm(moved) <= C * (1 + 1e-5)
    if scale > 1:  # the bound is reached: the test would see a sensitivity of 2C
        assert _flat_norm(added - base) > 0.99 * C


def test_the_clipped_sum_holds_the_real_rows_only_each_clipped_to_C(discriminator):
    real = torch.cat([_rows(6, 4), _rows(2, 5, scale=50.0)])
    fake = _rows(12, 6).sigmoid()
    _, clipped_sum = _noise_free_step(discriminator, real, fake)
    # Independent per-example gradients: one backward pass per real row, clipped by hand.
    params = list(discriminator.parameters())
    expected = torch.zeros_like(clipped_sum)
    for row in real:
        logit = discriminator(row[None])
        loss = nn.functional.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
        grad = torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])
        expected += grad * min(1.0, C / (float(grad.norm()) + 1e-6))
    torch.testing.assert_close(clipped_sum, expected, rtol=1e-5, atol=1e-6)
    # The generated rows are not in it: other generated rows leave the clipped sum unchanged...
    _, other_fake_sum = _noise_free_step(discriminator, real, _rows(3, 7).sigmoid())
    torch.testing.assert_close(other_fake_sum, clipped_sum)


def test_the_mechanism_this_replaces_had_sensitivity_up_to_2C():
    """Clipping real and generated rows together, as many generated rows as real: adding one
    record also adds one generated row, and the clipped sum moves by up to 2C (here a linear
    discriminator, whose gradients for a real row x and a generated row -x point the same way)."""
    discriminator = nn.Linear(N_FEATURES, 1, bias=False)
    nn.init.zeros_(discriminator.weight)  # logit 0 for every row: no saturation, whatever the seed
    params = list(discriminator.parameters())

    def clipped_sum(real, fake):
        rows, truth = torch.cat([real, fake]), [1.0] * len(real) + [0.0] * len(fake)
        total = 0
        for row, label in zip(rows, truth, strict=True):
            logit = discriminator(row[None])
            loss = nn.functional.binary_cross_entropy_with_logits(
                logit, torch.full_like(logit, label)
            )
            grad = torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])
            total = total + grad * min(1.0, C / (float(grad.norm()) + 1e-6))
        return total

    real, fakes, outlier = _rows(10, 1), _rows(10, 2), _rows(1, 3, scale=50.0)
    moved = clipped_sum(torch.cat([real, outlier]), torch.cat([fakes, -outlier])) - clipped_sum(
        real, fakes
    )
    assert _flat_norm(moved) > 1.99 * C


def test_an_empty_poisson_draw_still_takes_a_noise_only_step(discriminator):
    released, clipped_sum = _noise_free_step(discriminator, _rows(0, 1), _rows(5, 2).sigmoid())
    assert _flat_norm(clipped_sum) == 0 and _flat_norm(released) > 0  # the generated rows' part


@pytest.mark.parametrize("accountant", ["prv", "rdp"])
def test_the_reported_epsilon_is_the_accountants_for_the_steps_taken(monkeypatch, accountant):
    n, batch_size, epochs, delta, target = 96, 16, 3, 1e-4, 2.0
    steps, seen = [], {}
    pre_step = DPOptimizer.pre_step

    def counting_pre_step(self, *args, **kwargs):
        took = pre_step(self, *args, **kwargs)
        steps.append(took)
        seen.update(sigma=self.noise_multiplier, C=self.max_grad_norm)
        return took

    make_private = dp._make_private

    def recording_make_private(*args, **kwargs):
        private, optimizer, loader, engine = make_private(*args, **kwargs)
        seen["sample_rate"] = loader.sample_rate  # the Poisson rate the batches are drawn at
        return private, optimizer, loader, engine

    monkeypatch.setattr(DPOptimizer, "pre_step", counting_pre_step)
    monkeypatch.setattr(dp, "_make_private", recording_make_private)
    g, d = ml.models.gan(N_FEATURES, hidden=16, seed=0)
    privacy = dp.DPSettings(
        target_epsilon=target, delta=delta, max_grad_norm=C, accountant=accountant
    )
    _, _, epsilon = dp.fit_private_gan(
        g, d, _rows(n, 11).sigmoid().numpy(), privacy=privacy, epochs=epochs,
        batch_size=batch_size, seed=5,
    )  # fmt: skip
    assert all(steps) and len(steps) == epochs * n // batch_size
    assert seen["sample_rate"] == pytest.approx(batch_size / n) and seen["C"] == C
    independent = PRVAccountant() if accountant == "prv" else RDPAccountant()
    independent.history = [(seen["sigma"], seen["sample_rate"], len(steps))]
    assert epsilon == pytest.approx(independent.get_epsilon(delta), rel=1e-6)
    assert epsilon <= target * (1 + 1e-3) and epsilon == pytest.approx(target, rel=0.05)
    assert not math.isinf(epsilon)
