"""Diffusion models (lesson 08): the denoiser's noise schedules, DDIM's step, sampling and
training, checked against the formulas computed by hand on a tiny fixed model; the loss, SecMI
and PIA attacks, LiRA on a statistic and the extraction criterion the same way; then the attacks
against trained models: one that memorised its 64 members (they beat chance) and one trained on
other records (they do not), and extraction of a record the training set repeats."""

import math

import numpy as np
import pytest
import torch
from opacus.optimizers import DPOptimizer
from scipy.stats import norm
from torch import nn

from mialab import attacks, metrics, models, training
from mialab.defenses import dp
from mialab.defenses.dp import DPSettings

T = 100  # noise levels of the tiny models


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these models are small enough that more threads only wait on each
    other (several times slower on a busy machine), and the numbers do not depend on the
    machine's core count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.fixture
def tiny():
    """A fixed untrained denoiser of 4 features: its weights come from the seed."""
    return models.denoiser(4, hidden=8, layers=2, steps=T, schedule="linear", seed=3)


@pytest.fixture
def records(rng):
    return rng.uniform(-1, 1, size=(6, 4))


def at(t, n):
    return torch.full((n,), t, dtype=torch.long)


def alpha_bar(model, t):
    return model.alpha_bar[t] if t >= 0 else torch.tensor(1.0)


@torch.no_grad()
def step_by_hand(model, x, t, t_next, clip=None):
    """x̂₀ = (x − √(1−ᾱ_t)·ε̂)/√ᾱ_t, then √ᾱ_next·x̂₀ + √(1−ᾱ_next)·ε̂ (ε̂ implied by a clamped x̂₀)."""
    a_t, a_next = alpha_bar(model, t), alpha_bar(model, t_next)
    noise = model(x, at(t, len(x)))
    x0 = (x - torch.sqrt(1 - a_t) * noise) / torch.sqrt(a_t)
    if clip is not None:
        x0 = torch.clamp(x0, -clip, clip)
        noise = (x - torch.sqrt(a_t) * x0) / torch.sqrt(1 - a_t)
    return torch.sqrt(a_next) * x0 + torch.sqrt(1 - a_next) * noise


def close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-5, atol=1e-6)


# The formulas, on a tiny fixed model


def test_noise_schedules_are_those_of_the_papers():
    beta = np.linspace(1e-4, 0.02, 1000)  # Ho et al. (2020)
    np.testing.assert_allclose(models.noise_schedule(1000, "linear"), np.cumprod(1 - beta))
    s = 0.008  # Nichol & Dhariwal (2021): ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s)·π/2)

    def f(t):
        return math.cos((t / 1000 + s) / (1 + s) * math.pi / 2) ** 2

    beta = [min(1 - f(t + 1) / f(t), 0.999) for t in range(1000)]
    cosine = models.noise_schedule(1000, "cosine")
    np.testing.assert_allclose(cosine, np.cumprod(1 - np.array(beta)), rtol=1e-10)
    unclipped = np.array(beta) < 0.999  # all but the last levels: the closed form
    closed = np.array([f(t + 1) / f(0) for t in range(1000)])
    np.testing.assert_allclose(cosine[unclipped], closed[unclipped], rtol=1e-10)
    assert unclipped[:990].all()
    for kind in ("linear", "cosine"):
        schedule = models.noise_schedule(T, kind)
        assert schedule.dtype == torch.float64 and schedule.shape == (T,)
        assert (torch.diff(schedule) < 0).all() and 0 < schedule[-1] < 0.01 < 0.99 < schedule[0]
    # fewer levels, the same curve: β scaled by 1000/T
    np.testing.assert_allclose(
        models.noise_schedule(T, "linear"), np.cumprod(1 - np.linspace(1e-3, 0.2, T))
    )
    assert torch.equal(models.denoiser(4, steps=T, schedule="cosine").alpha_bar,
                       models.noise_schedule(T, "cosine").float())  # fmt: skip


def test_ddim_step_is_the_formula(tiny, records):
    x = torch.as_tensor(records, dtype=torch.float32)
    for t, t_next in ((50, 40), (40, 50), (0, 10), (99, 0)):
        close(training.ddim_step(tiny, x, t, t_next), step_by_hand(tiny, x, t, t_next))
    # t_next = −1: the predicted x̂₀ itself (ᾱ = 1)
    with torch.no_grad():
        x0 = (x - (1 - tiny.alpha_bar[60]).sqrt() * tiny(x, at(60, 6))) / tiny.alpha_bar[60].sqrt()
    close(training.ddim_step(tiny, x, 60, -1), x0)
    assert x0.abs().max() > 0.3  # so that a clip of 0.3 binds
    clipped = training.ddim_step(tiny, x, 60, -1, clip=0.3)
    close(clipped, x0.clamp(-0.3, 0.3))
    close(training.ddim_step(tiny, x, 60, 30, clip=0.3), step_by_hand(tiny, x, 60, 30, clip=0.3))
    assert not torch.allclose(training.ddim_step(tiny, x, 60, 30, clip=0.3),
                              training.ddim_step(tiny, x, 60, 30))  # fmt: skip
    assert not training.ddim_step(tiny, x, 60, 30).requires_grad


def test_the_loss_score_is_minus_the_denoising_loss_averaged_over_draws_and_timesteps(
    tiny, records
):
    x0 = torch.as_tensor(records, dtype=torch.float32)
    draws = torch.Generator().manual_seed(7)
    losses = []
    with torch.no_grad():
        for t in (5, 30, 80):  # timesteps outside, noise draws inside
            for _ in range(3):
                noise = torch.randn(x0.shape, generator=draws, dtype=torch.float32)
                a = tiny.alpha_bar[t]
                x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
                losses.append(((noise - tiny(x_t, at(t, 6))) ** 2).mean(dim=1))
    expected = -torch.stack(losses).double().mean(dim=0)
    scores = attacks.diffusion_loss_score(tiny, records, timesteps=[5, 30, 80], n_noise=3, seed=7)
    assert scores.dtype == np.float64 and scores.shape == (6,)
    close(scores, expected)
    one = attacks.diffusion_loss_score(tiny, records, timesteps=30, n_noise=2, seed=7)
    close(one, attacks.diffusion_loss_score(tiny, records, timesteps=[30], n_noise=2, seed=7))
    assert np.array_equal(
        one, attacks.diffusion_loss_score(tiny, records, timesteps=30, n_noise=2, seed=7)
    )
    assert not np.allclose(
        one, attacks.diffusion_loss_score(tiny, records, timesteps=30, n_noise=2, seed=8)
    )


def test_secmi_is_minus_the_t_error_of_a_ddim_round_trip(tiny, records):
    x = torch.as_tensor(records, dtype=torch.float32)
    for t in range(0, 30, 10):  # DDIM's inversion 0 → 10 → 20 → 30: x̃_30
        x = step_by_hand(tiny, x, t, t + 10)
    renoised = step_by_hand(tiny, step_by_hand(tiny, x, 30, 20), 20, 30)  # x̂_30
    expected = -((x - renoised) ** 2).sum(dim=1)
    close(attacks.secmi_score(tiny, records, timestep=30, interval=10), expected)
    single = step_by_hand(tiny, torch.as_tensor(records, dtype=torch.float32), 0, 20)
    back = step_by_hand(tiny, step_by_hand(tiny, single, 20, 0), 0, 20)
    close(
        attacks.secmi_score(tiny, records, timestep=20, interval=20), -((single - back) ** 2).sum(1)
    )


@pytest.mark.parametrize("p", [4.0, 1.5])
def test_pia_is_minus_the_distance_between_the_noise_read_at_zero_and_at_t(tiny, records, p):
    x0 = torch.as_tensor(records, dtype=torch.float32)
    with torch.no_grad():
        noise = tiny(x0, at(0, 6))  # ε̂ = ε_θ(x₀, 0)
        a = tiny.alpha_bar[40]
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        expected = -((noise - tiny(x_t, at(40, 6))).abs() ** p).sum(dim=1)
    scores = attacks.pia_score(tiny, records, timestep=40, p=p)
    assert scores.dtype == np.float64 and scores.shape == (6,)
    close(scores, expected)


def test_lira_score_is_a_gaussian_test_per_record(rng):
    n_models, n = 8, 5
    statistic = rng.normal(size=n)
    references = rng.normal(size=(n_models, n)) + np.arange(n)
    mask = np.zeros((n_models, n), bool)
    mask[::2] = True  # 4 IN and 4 OUT models per record
    mask[:, 0] = [True, True, False, False, False, False, False, False]  # 2 IN, 6 OUT
    offline, online = [], []
    for i in range(n):
        out, inside = references[~mask[:, i], i], references[mask[:, i], i]
        offline.append(norm.logcdf(statistic[i], out.mean(), out.std(ddof=0)))
        online.append(norm.logpdf(statistic[i], inside.mean(), inside.std(ddof=0))
                      - norm.logpdf(statistic[i], out.mean(), out.std(ddof=0)))  # fmt: skip
    np.testing.assert_allclose(attacks.lira_score(statistic, references, mask), offline)
    np.testing.assert_allclose(attacks.lira_score(statistic, references, mask, online=True), online)
    everyone_out = attacks.lira_score(statistic, references, np.zeros((n_models, n), bool))
    expected = norm.logcdf(statistic, references.mean(0), references.std(0))
    np.testing.assert_allclose(everyone_out, expected)


def test_the_extraction_ratio_equals_brute_force(rng):
    X, samples = rng.normal(size=(30, 3)), rng.normal(size=(12, 3))
    samples[:3] = X[[4, 9, 9]] + 0.01  # near-copies
    for n_neighbors, alpha in ((10, 0.5), (1, 1.0), (30, 0.25)):
        ratio, nearest = [], []
        for s in samples:
            distances = np.sqrt(((X - s) ** 2).sum(axis=1))
            order = np.argsort(distances)
            nearest.append(order[0])
            ratio.append(distances[order[0]] / (alpha * distances[order[:n_neighbors]].mean()))
        got_ratio, got_nearest = attacks.extraction_ratio(
            samples, X, n_neighbors=n_neighbors, alpha=alpha
        )
        np.testing.assert_allclose(got_ratio, ratio)
        assert got_nearest.dtype == np.int64 and got_nearest.tolist() == nearest
        for threshold in (0.1, 1.0, 3.0):
            counts = np.zeros(len(X), np.int64)
            for r, i in zip(ratio, nearest, strict=True):
                counts[i] += r < threshold
            got = attacks.extracted(
                samples, X, threshold=threshold, n_neighbors=n_neighbors, alpha=alpha
            )
            assert got.dtype == np.int64 and got.tolist() == counts.tolist()
    assert attacks.extracted(samples, X, n_neighbors=10, threshold=0.1)[[4, 9]].tolist() == [1, 2]


# Sampling and training


def test_sampling_is_seeded_and_ddim_is_a_function_of_its_starting_noise(tiny):
    ddim = training.diffusion_sample(tiny, 5, sampler="ddim", steps=10, seed=4)
    assert ddim.shape == (5, 4) and ddim.dtype == np.float64 and np.isfinite(ddim).all()
    assert np.array_equal(
        ddim, training.diffusion_sample(tiny, 5, sampler="ddim", steps=10, seed=4)
    )
    assert not np.allclose(ddim, training.diffusion_sample(tiny, 5, steps=10, seed=5))
    # DDIM: the seed's starting noise, then deterministic steps T−1 → … → 0 → x̂₀
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float32)
    levels = [99, 88, 77, 66, 55, 44, 33, 22, 11, 0]
    assert np.linspace(T - 1, 0, 10).round().astype(int).tolist() == levels
    for t, t_next in zip(levels, [*levels[1:], -1], strict=True):
        x = step_by_hand(tiny, x, t, t_next)
    close(ddim, x.double())
    ddpm = training.diffusion_sample(tiny, 5, sampler="ddpm", seed=4)
    assert ddpm.shape == (5, 4) and ddpm.dtype == np.float64 and np.isfinite(ddpm).all()
    assert np.array_equal(ddpm, training.diffusion_sample(tiny, 5, sampler="ddpm", seed=4))
    assert not np.allclose(ddpm, training.diffusion_sample(tiny, 5, sampler="ddpm", seed=5))
    assert not np.allclose(ddpm, ddim)
    for sampler in ("ddim", "ddpm"):  # the last step returns the clamped x̂₀
        bounded = training.diffusion_sample(tiny, 50, sampler=sampler, steps=20, clip=0.5)
        assert np.abs(bounded).max() <= 0.5 + 1e-6


def test_sampling_and_attacks_leave_the_model_where_and_as_it_was(tiny, records):
    for mode in (True, False):
        tiny.train(mode)
        before = weights(tiny).clone()
        training.diffusion_sample(tiny, 3, sampler="ddpm", device="cpu")
        training.diffusion_sample(tiny, 3, steps=5, device=torch.device("cpu"))
        attacks.diffusion_loss_score(tiny, records, timesteps=10)
        attacks.secmi_score(tiny, records, timestep=20, interval=10)
        attacks.pia_score(tiny, records, timestep=20)
        training.ddim_step(tiny, torch.zeros(2, 4), 10, 20)
        assert all(module.training is mode for module in tiny.modules())
        assert all(p.device.type == "cpu" for p in tiny.parameters())
        assert torch.equal(before, weights(tiny))


def test_fit_diffusion_is_seeded_lowers_the_loss_and_returns_an_eval_model(rng):
    X = rng.uniform(-1, 1, size=(32, 4)) * np.array([1.0, 0.5, 0.2, 0.1])

    def fit(data, seed=0):
        model = models.denoiser(4, hidden=16, steps=T, seed=0).train()
        return model, training.fit_diffusion(model, data, epochs=20, batch_size=8, seed=seed)

    def loss(model):
        return -attacks.diffusion_loss_score(model, X, timesteps=list(range(0, T, 5))).mean()

    model, trained = fit(X)
    assert trained is model and not trained.training
    assert all(p.device.type == "cpu" for p in trained.parameters())
    assert torch.equal(weights(trained), weights(fit(X)[1]))
    assert not torch.equal(weights(trained), weights(fit(X, seed=1)[1]))
    assert loss(trained) < 0.8 * loss(models.denoiser(4, hidden=16, steps=T, seed=0))
    labelled = fit((X, np.zeros(32, int)))[1]
    assert torch.equal(weights(labelled), weights(trained))  # labels are ignored


def test_standardised_clinical_rows_train_and_sample_without_a_clip():
    """Tabular data: breast cancer's 30 standardised features, unbounded, so no clip."""
    from mialab import data

    rows = data.load("breast_cancer").X[:128]
    assert abs(rows.mean()) < 0.5 and rows.max() > 1  # standardised, not in [-1, 1]
    untrained = models.denoiser(30, hidden=32, steps=T, seed=0)
    model = training.fit_diffusion(
        models.denoiser(30, hidden=32, steps=T, seed=0), rows, epochs=30, batch_size=32
    )

    def loss(m):
        return -attacks.diffusion_loss_score(m, rows, timesteps=list(range(0, T, 10))).mean()

    assert loss(model) < 0.8 * loss(untrained)
    for sampler in ("ddim", "ddpm"):
        samples = training.diffusion_sample(model, 50, sampler=sampler, steps=20, seed=1)
        assert samples.shape == (50, 30) and np.isfinite(samples).all()
        assert np.abs(samples).max() > 1  # unclipped: rows beyond [-1, 1] are possible


def test_fit_private_diffusion_reaches_its_target_and_is_seeded(rng):
    X = rng.uniform(-1, 1, size=(64, 4))

    def fit(privacy, seed=0):
        model = models.denoiser(4, hidden=16, steps=T, seed=0)
        return dp.fit_private_diffusion(model, X, privacy=privacy, epochs=2, batch_size=16,
                                        seed=seed)  # fmt: skip

    two = DPSettings(target_epsilon=2.0, accountant="rdp")
    model, epsilon = fit(two)
    assert epsilon == pytest.approx(2.0, abs=0.05) and epsilon <= 2.0
    assert not model.training and torch.isfinite(weights(model)).all()
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())
    assert torch.equal(weights(model), weights(fit(two)[0]))
    assert not torch.equal(weights(model), weights(fit(two, seed=1)[0]))
    initial = weights(models.denoiser(4, hidden=16, steps=T, seed=0))
    twin, epsilon = fit(DPSettings(noise_multiplier=0))
    assert epsilon == math.inf and torch.isfinite(weights(twin)).all()
    assert not torch.equal(weights(twin), initial)
    free, epsilon = fit(DPSettings(target_epsilon=math.inf))
    plain = training.fit_diffusion(
        models.denoiser(4, hidden=16, steps=T, seed=0), X, epochs=2, batch_size=16, seed=0
    )
    assert epsilon == math.inf and torch.equal(weights(free), weights(plain))


def test_an_empty_poisson_draw_takes_a_noise_only_step(monkeypatch, rng):
    sizes = []
    pre_step = DPOptimizer.pre_step

    def recording_pre_step(self, *args, **kwargs):
        sizes.append(len(self.grad_samples[0]))
        return pre_step(self, *args, **kwargs)

    monkeypatch.setattr(DPOptimizer, "pre_step", recording_pre_step)
    model = models.denoiser(4, hidden=16, steps=T, seed=0)
    before = weights(model).clone()
    model, epsilon = dp.fit_private_diffusion(
        model, rng.uniform(-1, 1, size=(3, 4)), epochs=5, batch_size=1,
        privacy=DPSettings(noise_multiplier=1.0, accountant="rdp"),
    )  # fmt: skip
    assert len(sizes) == 15 and 0 in sizes and math.isfinite(epsilon)
    assert torch.isfinite(weights(model)).all() and not torch.equal(before, weights(model))


# Behaviour on trained models


@pytest.fixture(scope="module")
def trained(digits):
    """A denoiser trained to memorise 64 digits, one trained on 64 others, and the candidates
    (the 64 members, then 64 non-members); the same architecture, seed and schedule."""
    X = digits.X * 2 - 1
    order = np.random.default_rng(3).permutation(len(X))
    members, nonmembers, others = (X[order[i : i + 64]] for i in (0, 64, 128))

    def fit(data):
        model = models.denoiser(64, hidden=128, steps=1000, schedule="linear", seed=0)
        return training.fit_diffusion(model, data, epochs=300, batch_size=64, lr=3e-3, seed=0)

    is_member = np.r_[np.ones(64, int), np.zeros(64, int)]
    return fit(members), fit(others), np.concatenate([members, nonmembers]), is_member


ATTACKS = {
    "loss": lambda model, X: attacks.diffusion_loss_score(model, X, timesteps=[50, 100]),
    "SecMI": lambda model, X: attacks.secmi_score(model, X, timestep=50, interval=10),
    "PIA": lambda model, X: attacks.pia_score(model, X, timestep=100),
}


@pytest.mark.parametrize("name", ATTACKS)
def test_each_attack_finds_the_members_of_an_overfit_model(trained, name):
    target, _, X, is_member = trained
    result = metrics.evaluate(ATTACKS[name](target, X), is_member, name=name)
    assert result.auc_ci[0] > 0.5, (result.auc, result.auc_ci)


@pytest.mark.parametrize("name", ATTACKS)
def test_each_attack_is_at_chance_on_a_model_trained_on_other_records(trained, name):
    _, outsider, X, is_member = trained
    result = metrics.evaluate(ATTACKS[name](outsider, X), is_member, name=name)
    assert result.auc_ci[0] < 0.5 < result.auc_ci[1], (result.auc, result.auc_ci)


def test_a_duplicated_record_is_extracted_more_often_than_single_ones(digits):
    X = digits.X * 2 - 1
    distinct = X[np.random.default_rng(1).permutation(len(X))[:50]]
    singles, repeated = distinct[:48], distinct[48:]  # 48 records once, 2 records 32 times each
    model = models.denoiser(64, hidden=128, steps=1000, schedule="linear", seed=0)
    training.fit_diffusion(model, np.concatenate([singles, *[repeated] * 32]), epochs=300,
                           batch_size=64, lr=3e-3, seed=0)  # fmt: skip
    samples = training.diffusion_sample(model, 200, steps=50, clip=1.0, seed=0)
    counts = attacks.extracted(samples, distinct)  # the paper's n_neighbors = 50, α = 0.5
    assert counts[48:].min() > max(counts[:48].max(), 2), counts


# Bad input

LINEAR = nn.Linear(4, 4)  # no alpha_bar: not a diffusion denoiser
PRIVATE = DPSettings(target_epsilon=2.0, accountant="rdp")
X_T = torch.zeros(2, 4)
BAD = {
    # wrong widths
    "loss: X too narrow": (lambda m, X: attacks.diffusion_loss_score(m, X[:, :3], timesteps=5),
                           ValueError, "X has 3 features per record, the model takes 4"),
    "SecMI: X too narrow": (lambda m, X: attacks.secmi_score(m, X[:, :3], timestep=20),
                            ValueError, "X has 3 features"),
    "PIA: X too narrow": (lambda m, X: attacks.pia_score(m, X[:, :3], timestep=20), ValueError,
                          "X has 3 features"),
    "fit: X too narrow": (lambda m, X: training.fit_diffusion(m, X[:, :3]), ValueError,
                          "data X has 3 features"),
    "DP fit: X too narrow": (
        lambda m, X: dp.fit_private_diffusion(m, X[:, :3], privacy=PRIVATE), ValueError,
        "data X has 3 features"),
    "extraction: samples too narrow": (
        lambda m, X: attacks.extraction_ratio(X[:, :3], X, n_neighbors=3), ValueError,
        "samples must have the same 4 features as X"),
    # timesteps out of range, or not ints
    "loss: t < 0": (lambda m, X: attacks.diffusion_loss_score(m, X, timesteps=-1), ValueError,
                    r"timesteps must lie in \[0, 100\)"),
    "loss: t = T": (lambda m, X: attacks.diffusion_loss_score(m, X, timesteps=[10, T]),
                    ValueError, r"timesteps must lie in \[0, 100\).*got 100"),
    "loss: the default t beyond T": (lambda m, X: attacks.diffusion_loss_score(m, X),
                                     ValueError, "timesteps must lie in"),
    "loss: float t": (lambda m, X: attacks.diffusion_loss_score(m, X, timesteps=5.0), TypeError,
                      "timesteps must be an int"),
    "loss: a float t in the list": (
        lambda m, X: attacks.diffusion_loss_score(m, X, timesteps=[5, 6.0]), TypeError,
        "timesteps must be an int"),
    "loss: str t": (lambda m, X: attacks.diffusion_loss_score(m, X, timesteps="5"), TypeError,
                    "timesteps must be an int or a list of ints"),
    "loss: bool t": (lambda m, X: attacks.diffusion_loss_score(m, X, timesteps=True), TypeError,
                     "timesteps must be an int or a list of ints"),
    "loss: no t": (lambda m, X: attacks.diffusion_loss_score(m, X, timesteps=[]), ValueError,
                   "timesteps is empty"),
    "SecMI: t = T": (lambda m, X: attacks.secmi_score(m, X, timestep=T, interval=10),
                     ValueError, r"timestep must lie in \[10, 100\)"),
    "SecMI: t < interval": (lambda m, X: attacks.secmi_score(m, X, timestep=5, interval=10),
                            ValueError, r"timestep must lie in \[10, 100\)"),
    "SecMI: float t": (lambda m, X: attacks.secmi_score(m, X, timestep=20.0), TypeError,
                       "timestep must be an int"),
    "PIA: t < 0": (lambda m, X: attacks.pia_score(m, X, timestep=-1), ValueError,
                   r"timestep must lie in \[0, 100\)"),
    "PIA: t = T": (lambda m, X: attacks.pia_score(m, X, timestep=T), ValueError,
                   "timestep must lie in"),
    "PIA: float t": (lambda m, X: attacks.pia_score(m, X, timestep=np.float64(3)), TypeError,
                     "timestep must be an int"),
    "DDIM: t = T": (lambda m, X: training.ddim_step(m, X_T, T, 10), ValueError,
                    r"t must lie in \[0, 100\)"),
    "DDIM: t < 0": (lambda m, X: training.ddim_step(m, X_T, -1, 10), ValueError,
                    r"t must lie in \[0, 100\)"),
    "DDIM: t_next < -1": (lambda m, X: training.ddim_step(m, X_T, 10, -2), ValueError,
                          r"t_next must lie in \[-1, 100\)"),
    "DDIM: t_next = T": (lambda m, X: training.ddim_step(m, X_T, 10, T), ValueError,
                         "t_next must lie in"),
    "DDIM: float t": (lambda m, X: training.ddim_step(m, X_T, 10.0, 5), TypeError,
                      "t must be an int"),
    "DDIM: bool t_next": (lambda m, X: training.ddim_step(m, X_T, 10, True), TypeError,
                          "t_next must be an int"),
    # NaN and empty records
    "loss: NaN": (lambda m, X: attacks.diffusion_loss_score(m, X * np.nan, timesteps=5),
                  ValueError, "X contains NaN"),
    "loss: empty": (lambda m, X: attacks.diffusion_loss_score(m, X[:0], timesteps=5),
                    ValueError, "X is empty"),
    "SecMI: NaN": (lambda m, X: attacks.secmi_score(m, X * np.nan, timestep=20), ValueError,
                   "X contains NaN"),
    "SecMI: empty": (lambda m, X: attacks.secmi_score(m, X[:0], timestep=20), ValueError,
                     "X is empty"),
    "PIA: NaN": (lambda m, X: attacks.pia_score(m, X * np.nan, timestep=5), ValueError,
                 "X contains NaN"),
    "PIA: empty": (lambda m, X: attacks.pia_score(m, X[:0], timestep=5), ValueError,
                   "X is empty"),
    "fit: NaN": (lambda m, X: training.fit_diffusion(m, X * np.nan), ValueError,
                 "data contains NaN"),
    "fit: empty": (lambda m, X: training.fit_diffusion(m, X[:0]), ValueError, "data is empty"),
    "DP fit: NaN": (lambda m, X: dp.fit_private_diffusion(m, X * np.nan, privacy=PRIVATE),
                    ValueError, "data contains NaN"),
    "DP fit: empty": (lambda m, X: dp.fit_private_diffusion(m, X[:0], privacy=PRIVATE),
                      ValueError, "data is empty"),
    "extraction: NaN": (lambda m, X: attacks.extraction_ratio(X, X * np.nan, n_neighbors=2),
                        ValueError, "X contains NaN"),
    "extraction: no samples": (lambda m, X: attacks.extracted(X[:0], X, n_neighbors=2),
                               ValueError, "samples is empty"),
    "LiRA: NaN": (lambda m, X: attacks.lira_score(X[:, 0] * np.nan, np.zeros((4, 6)),
                                                  np.zeros((4, 6), bool)),
                  ValueError, "statistic contains NaN"),
    # the other hyperparameters
    "SecMI: interval does not divide t": (
        lambda m, X: attacks.secmi_score(m, X, timestep=25, interval=10), ValueError,
        r"timestep \(25\) must be a multiple of interval \(10\)"),
    "SecMI: interval 0": (lambda m, X: attacks.secmi_score(m, X, timestep=20, interval=0),
                          ValueError, "interval must be at least 1"),
    "PIA: p = 0": (lambda m, X: attacks.pia_score(m, X, timestep=5, p=0), ValueError,
                   "p must be a positive number"),
    "PIA: p < 0": (lambda m, X: attacks.pia_score(m, X, timestep=5, p=-2.0), ValueError,
                   "p must be a positive number"),
    "loss: no noise draw": (
        lambda m, X: attacks.diffusion_loss_score(m, X, timesteps=5, n_noise=0), ValueError,
        "n_noise must be at least 1"),
    "sampling: unknown sampler": (
        lambda m, X: training.diffusion_sample(m, 3, sampler="euler"), ValueError,
        r"sampler must be one of \('ddpm', 'ddim'\)"),
    "sampling: steps > T": (lambda m, X: training.diffusion_sample(m, 3, steps=T + 1),
                            ValueError, "steps must be at most the model's 100 noise levels"),
    "sampling: clip = 0": (lambda m, X: training.diffusion_sample(m, 3, clip=0), ValueError,
                           "clip must be a positive number"),
    "sampling: clip < 0": (lambda m, X: training.diffusion_sample(m, 3, clip=-1.0), ValueError,
                           "clip must be a positive number"),
    "DDIM: clip = 0": (lambda m, X: training.ddim_step(m, X_T, 10, 5, clip=0.0), ValueError,
                       "clip must be a positive number"),
    "schedule: unknown kind": (lambda m, X: models.noise_schedule(T, "quadratic"), ValueError,
                               r"kind must be one of \('cosine', 'linear'\)"),
    "denoiser: odd width": (lambda m, X: models.denoiser(4, hidden=7), ValueError,
                            "hidden must be even"),
    "extraction: too few records": (
        lambda m, X: attacks.extraction_ratio(X, X, n_neighbors=7), ValueError,
        r"n_neighbors \(7\) must be at most the 6 records of X"),
    "extraction: threshold 0": (
        lambda m, X: attacks.extracted(X, X, threshold=0, n_neighbors=2), ValueError,
        "threshold must be a positive number"),
    "LiRA: int mask": (
        lambda m, X: attacks.lira_score(X[:, 0], np.zeros((4, 6)), np.zeros((4, 6), int)),
        TypeError, "reference_in_mask must be a bool array"),
    "LiRA: online without IN models": (
        lambda m, X: attacks.lira_score(X[:, 0], np.zeros((4, 6)), np.zeros((4, 6), bool),
                                        online=True),
        ValueError, "at least two reference models on each side.*IN and OUT"),
    # a model that is no diffusion denoiser
    "loss: nn.Linear": (lambda m, X: attacks.diffusion_loss_score(LINEAR, X, timesteps=5),
                        TypeError, "model must be a diffusion denoiser"),
    "SecMI: nn.Linear": (lambda m, X: attacks.secmi_score(LINEAR, X), TypeError,
                         "model must be a diffusion denoiser"),
    "PIA: a string": (lambda m, X: attacks.pia_score("model", X), TypeError,
                      "model must be a torch nn.Module"),
    "sampling: nn.Linear": (lambda m, X: training.diffusion_sample(LINEAR, 3), TypeError,
                            "model must be a diffusion denoiser"),
    "DDIM: nn.Linear": (lambda m, X: training.ddim_step(LINEAR, X_T, 10, 5), TypeError,
                        "model must be a diffusion denoiser"),
    "fit: nn.Linear": (lambda m, X: training.fit_diffusion(LINEAR, X), TypeError,
                       "model must be a diffusion denoiser"),
    "DP fit: nn.Linear": (lambda m, X: dp.fit_private_diffusion(LINEAR, X, privacy=PRIVATE),
                          TypeError, "model must be a diffusion denoiser"),
    "alpha_bar_of: nn.Linear": (lambda m, X: models.alpha_bar_of(LINEAR), TypeError,
                                "model must be a diffusion denoiser"),
    "DP fit: privacy a number": (
        lambda m, X: dp.fit_private_diffusion(m, X, privacy=2.0), TypeError,
        "privacy must be a mialab.defenses.dp.DPSettings"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_refused_by_name(tiny, records, case):
    call, error, message = BAD[case]
    with pytest.raises(error, match=message):
        call(tiny, records)
