"""Sample-based attacks on generative models: formulas against brute force and scipy, and
behaviour against simulated generators (one that memorised its members, one that never saw
them). Tests against trained GANs come with the GAN models."""

import numpy as np
import pytest
from scipy.stats import gaussian_kde
from sklearn.decomposition import PCA

import mialab as ml
from mialab.attacks import domias_score, gan_leaks_score, monte_carlo_score


def brute_nearest(X, samples):
    return np.array([min(np.linalg.norm(x - s) for s in samples) for x in X])


def test_gan_leaks_equals_brute_force(rng):
    X, samples, reference = (
        rng.normal(size=(7, 3)),
        rng.normal(size=(20, 3)),
        rng.normal(size=(15, 3)),
    )
    np.testing.assert_allclose(gan_leaks_score(X, samples), -brute_nearest(X, samples))
    np.testing.assert_allclose(
        gan_leaks_score(X, samples, reference_samples=reference),
        -(brute_nearest(X, samples) - brute_nearest(X, reference)),
    )


def test_monte_carlo_equals_brute_force(rng):
    X, samples, held_out = (
        rng.normal(size=(9, 5)),
        rng.normal(size=(30, 5)),
        rng.normal(size=(40, 5)),
    )
    counts = np.array([[np.linalg.norm(x - s) < 1.5 for s in samples] for x in X]).mean(axis=1)
    np.testing.assert_allclose(monte_carlo_score(X, samples, radius=1.5), counts)
    median = np.median(brute_nearest(X, samples))  # the default: the median heuristic
    heuristic = np.array([[np.linalg.norm(x - s) < median for s in samples] for x in X])
    np.testing.assert_allclose(monte_carlo_score(X, samples), heuristic.mean(axis=1))
    pca = PCA(n_components=2).fit(held_out)
    Xp, sp = pca.transform(X), pca.transform(samples)
    in_pca = np.array([[np.linalg.norm(x - s) < 0.8 for s in sp] for x in Xp]).mean(axis=1)
    np.testing.assert_allclose(monte_carlo_score(X, samples, radius=0.8, projection=pca), in_pca)


def test_a_projection_equals_projecting_by_hand_first(rng):
    X, samples, reference, held_out = (rng.normal(size=(n, 6)) for n in (8, 40, 50, 60))
    pca = PCA(n_components=3).fit(held_out)
    Xp, sp, rp = pca.transform(X), pca.transform(samples), pca.transform(reference)
    np.testing.assert_array_equal(
        gan_leaks_score(X, samples, reference_samples=reference, projection=pca),
        gan_leaks_score(Xp, sp, reference_samples=rp),
    )
    np.testing.assert_array_equal(
        monte_carlo_score(X, samples, projection=pca), monte_carlo_score(Xp, sp)
    )
    np.testing.assert_array_equal(
        domias_score(X, samples, reference_samples=reference, projection=pca),
        domias_score(Xp, sp, reference_samples=rp),
    )
    raw, projected = gan_leaks_score(X, samples), gan_leaks_score(X, samples, projection=pca)
    assert not np.allclose(raw, projected)  # the projection did change the distances


class Scaled:
    """A projection that is no scikit-learn object: anything with ``transform`` will do."""

    def __init__(self, factor):
        self.factor = factor

    def transform(self, X):
        return self.factor * np.asarray(X)


def test_a_bad_projection_is_refused_by_name(rng):
    X, samples = rng.normal(size=(4, 3)), rng.normal(size=(10, 3))
    nan = Scaled(np.nan)
    one_row = type("OneRow", (), {"transform": lambda self, X: np.zeros((1, 2))})()
    flat = type("Flat", (), {"transform": lambda self, X: np.zeros(len(X))})()
    cases = [
        ("pca", TypeError, "projection must be None or a fitted object with a transform"),
        (PCA, TypeError, "projection must be None or a fitted object"),  # the class, unfitted
        (PCA(n_components=2), ValueError, "projection.transform failed on X"),  # not fitted
        (PCA(n_components=2).fit(rng.normal(size=(9, 5))), ValueError, "projection.transform"),
        (nan, ValueError, r"projection.transform\(X\) contains NaN"),
        (one_row, ValueError, r"projection.transform\(X\) must keep one row per row of X"),
        (flat, ValueError, r"projection.transform\(X\) must have 2 dimension"),
    ]
    for projection, error, message in cases:
        for attack in (gan_leaks_score, monte_carlo_score, domias_score):
            reference = {"reference_samples": samples} if attack is domias_score else {}
            with pytest.raises(error, match=message):
                attack(X, samples, projection=projection, **reference)
    scaled = gan_leaks_score(X, samples, projection=Scaled(2.0))
    np.testing.assert_allclose(scaled, 2 * gan_leaks_score(X, samples))


def test_domias_equals_scipy(rng):
    X, samples, reference = (
        rng.normal(size=(6, 2)),
        rng.normal(size=(40, 2)),
        rng.normal(size=(50, 2)),
    )
    for bandwidth in ("scott", "silverman", 0.4):
        expected = np.log(gaussian_kde(samples.T, bw_method=bandwidth)(X.T)) - np.log(
            gaussian_kde(reference.T, bw_method=bandwidth)(X.T)
        )
        np.testing.assert_allclose(
            domias_score(X, samples, reference_samples=reference, bandwidth=bandwidth),
            expected,
            rtol=1e-9,
        )


@pytest.fixture(scope="module")
def simulated(digits):
    """Digits in a 10-dimensional PCA space, and two simulated generators' samples."""
    split = ml.data.membership_split(digits, n_members=150, seed=1)
    pca = PCA(n_components=10).fit(split.population.X[:400])
    X, _, is_member = split.candidates()
    rng = np.random.default_rng(0)

    def generator(records, m=600, noise=0.3):  # resamples its records with small noise
        picked = records[rng.integers(0, len(records), size=m)]
        return picked + noise * rng.normal(size=picked.shape)

    to_pca = pca.transform
    return {
        "X": to_pca(X),
        "is_member": is_member,
        "memorising": generator(to_pca(split.members.X)),
        "stranger": generator(to_pca(split.population.X[400:800])),
        "reference": to_pca(split.population.X[800:]),
        "reference_samples": generator(to_pca(split.population.X[800:])),
    }


def sample_attacks(s, samples):
    return {
        "GAN-Leaks": gan_leaks_score(s["X"], samples),
        "GAN-Leaks calibrated": gan_leaks_score(
            s["X"], samples, reference_samples=s["reference_samples"]
        ),
        "Monte-Carlo": monte_carlo_score(s["X"], samples),
        "DOMIAS": domias_score(s["X"], samples, reference_samples=s["reference"]),
    }


def test_attacks_find_the_members_of_a_memorising_generator(simulated):
    for name, scores in sample_attacks(simulated, simulated["memorising"]).items():
        assert ml.metrics.evaluate(scores, simulated["is_member"]).auc > 0.65, name


def test_attacks_are_at_chance_against_a_generator_that_never_saw_the_candidates(simulated):
    for name, scores in sample_attacks(simulated, simulated["stranger"]).items():
        auc = ml.metrics.evaluate(scores, simulated["is_member"]).auc
        assert abs(auc - 0.5) < 0.09, f"{name}: AUC {auc:.3f}"  # 150 + 150 records: s.e. 0.033


def test_bad_input_is_named(rng):
    X, samples = rng.normal(size=(4, 3)), rng.normal(size=(10, 3))
    cases = [
        (lambda: gan_leaks_score(X, samples[:, :2]), ValueError, "samples must have the same 3"),
        (lambda: gan_leaks_score(X, np.zeros((0, 3))), ValueError, "samples is empty"),
        (
            lambda: gan_leaks_score(X, samples, reference_samples=samples[:, :1]),
            ValueError,
            "reference_samples must have the same",
        ),
        (lambda: monte_carlo_score(np.full((2, 3), np.nan), samples), ValueError, "X contains NaN"),
        (lambda: monte_carlo_score(X, samples, radius=0), ValueError, "radius must be"),
        (
            lambda: monte_carlo_score(X, X),
            ValueError,
            "every candidate in X has an exact copy in samples.*give radius",
        ),
        (
            lambda: domias_score(X, samples[:3], reference_samples=samples),
            ValueError,
            "samples needs more rows",
        ),
        (
            lambda: domias_score(X, samples, reference_samples="reference"),
            TypeError,
            "reference_samples must be an array",
        ),
        (
            lambda: domias_score(X, samples, reference_samples=np.c_[samples[:, :2], np.zeros(10)]),
            ValueError,
            "reference_samples lies in a lower-dimensional subspace.*projection=",
        ),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


@pytest.fixture(scope="module")
def trained_gans(digits):
    """A GAN overfit to 64 member digits, one trained on 64 other digits, and the candidates.

    Candidates are the 64 members and 664 non-members (the split's 64 and 600 population
    records): many non-members narrow the AUC's interval. Records the attacks may use as
    held-out data (PCA, DOMIAS' reference) come from the rest of the population.
    """
    split = ml.data.membership_split(digits, n_members=64, seed=0)
    population = split.population.X
    X = np.r_[split.members.X, split.nonmembers.X, population[200:800]]
    is_member = np.r_[np.ones(64, bool), np.zeros(664, bool)]
    gans = {"split": split, "held_out": population[800:]}
    for name, data, seed in (
        ("overfit", split.members, 0),
        ("stranger", split.population.subset(range(64)), 1),
    ):
        generator, discriminator = ml.models.gan(64, seed=seed)
        ml.training.fit_gan(generator, discriminator, data, epochs=2000, seed=seed)
        gans[name] = (generator, discriminator, ml.training.sample(generator, 2000, seed=seed))
    return gans, X, is_member


def auc_standard_error(is_member):
    m, n = is_member.sum(), (~is_member).sum()
    return np.sqrt((m + n + 1) / (12 * m * n))


def every_gan_attack(gan, X, held_out):
    """Each attack's scores against one trained GAN; Monte-Carlo and DOMIAS in a 20-component
    PCA space."""
    generator, discriminator, samples = gan
    pca = PCA(n_components=20).fit(held_out)  # raw digits have constant pixels: no KDE there
    return {
        "LOGAN": ml.attacks.logan_score(discriminator, X),
        "GAN-Leaks": gan_leaks_score(X, samples),
        "latent": ml.attacks.latent_reconstruction_score(generator, X),
        "Monte-Carlo": monte_carlo_score(X, samples, projection=pca),
        "DOMIAS": domias_score(X, samples, reference_samples=held_out, projection=pca),
    }


def test_gan_attacks_beat_chance_on_an_overfit_gan(trained_gans):
    gans, X, is_member = trained_gans
    samples = gans["overfit"][2]
    assert samples.shape == (2000, 64) and samples.min() >= 0 and samples.max() <= 1
    low = 0.5 + 1.96 * auc_standard_error(is_member)  # the AUC's 95% interval lies above 0.5
    for name, scores in every_gan_attack(gans["overfit"], X, gans["held_out"]).items():
        auc = ml.metrics.evaluate(scores, is_member).auc
        assert auc > low, f"{name}: AUC {auc:.3f}"  # measured 0.67 to 0.70 (low 0.574)


def test_gan_attacks_are_at_chance_on_a_gan_that_never_saw_the_candidates(trained_gans):
    gans, X, is_member = trained_gans
    for name, scores in every_gan_attack(gans["stranger"], X, gans["held_out"]).items():
        auc = ml.metrics.evaluate(scores, is_member).auc
        assert abs(auc - 0.5) < 2.5 * auc_standard_error(is_member), f"{name}: AUC {auc:.3f}"


def test_gan_training_and_sampling_are_seeded(digits):
    def run():
        generator, discriminator = ml.models.gan(64, seed=3)
        ml.training.fit_gan(generator, discriminator, digits.X[:32], epochs=3, seed=4)
        return ml.training.sample(generator, 5, seed=6)

    np.testing.assert_array_equal(run(), run())


def test_gan_functions_name_bad_input(digits):
    generator, discriminator = ml.models.gan(64)
    cases = [
        (lambda: ml.attacks.logan_score(3, digits.X[:4]), TypeError, "discriminator must be"),
        (
            lambda: ml.attacks.logan_score(lambda X: np.zeros((len(X), 2)), digits.X[:4]),
            ValueError,
            "one score per row",
        ),
        (lambda: ml.training.fit_gan(generator, "d", digits), TypeError, "discriminator must be"),
        (
            lambda: ml.training.fit_gan(generator, discriminator, digits, epochs=0),
            ValueError,
            "epochs must be at least 1",
        ),
        (lambda: ml.training.sample(generator, 0), ValueError, "n must be at least 1"),
        (lambda: ml.models.gan(64, latent_dim=0), ValueError, "latent_dim must be at least 1"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def test_co_membership_grows_stronger_with_the_set_size(trained_gans):
    gans, *_ = trained_gans
    split, generator = gans["split"], gans["overfit"][0]
    rng = np.random.default_rng(0)
    truth = np.r_[np.ones(40, bool), np.zeros(40, bool)]

    def auc(size):
        sets = [
            part.X[rng.choice(len(part), size, replace=False)]
            for part in [split.members] * 40 + [split.nonmembers] * 40
        ]
        return ml.metrics.evaluate(
            ml.attacks.co_membership_score(generator, np.stack(sets)), truth
        ).auc

    single, eight = auc(1), auc(8)
    assert eight > single + 0.1 and eight > 0.8  # measured 0.68 and 0.92


def test_a_dp_gan_leaves_the_gan_attacks_at_chance(trained_gans):
    """The overfit GAN's recipe (64 members, 2,000 epochs) with DP-SGD on the discriminator."""
    from mialab.defenses import dp

    gans, X, is_member = trained_gans
    generator, discriminator = ml.models.gan(64, seed=0)
    generator, discriminator, epsilon = dp.fit_private_gan(
        generator, discriminator, gans["split"].members,
        privacy=dp.DPSettings(target_epsilon=1.0, accountant="rdp"), epochs=2000, seed=0,
    )  # fmt: skip
    assert epsilon == pytest.approx(1.0, abs=0.02)
    samples = ml.training.sample(generator, 2000, seed=0)
    for name, scores in {
        "LOGAN": ml.attacks.logan_score(discriminator, X),
        "GAN-Leaks": gan_leaks_score(X, samples),
    }.items():
        auc = ml.metrics.evaluate(scores, is_member).auc  # measured 0.47 and 0.46
        assert abs(auc - 0.5) < 2.5 * auc_standard_error(is_member), f"{name}: AUC {auc:.3f}"


def test_monte_carlo_default_radius_survives_exact_copies(rng):
    # Most candidates were copied verbatim into the samples: the median distance is 0, and a
    # radius of 0 would score every record 0. Copies must still score highest.
    members, strangers = rng.normal(size=(30, 3)), rng.normal(size=(10, 3))
    samples = np.r_[members, members[:5] + 0.01, rng.normal(size=(20, 3))]
    scores = monte_carlo_score(np.r_[members, strangers], samples)
    assert scores[:30].min() > 0
    assert ml.metrics.evaluate(scores, np.r_[np.ones(30), np.zeros(10)]).auc > 0.75  # 0.5 at ε = 0


def test_domias_refuses_a_bandwidth_that_is_not_positive(rng):
    X, samples = rng.normal(size=(5, 2)), rng.normal(size=(50, 2))
    for bandwidth in (-1, 0, np.nan):
        with pytest.raises(ValueError, match="bandwidth must be a positive number"):
            domias_score(X, samples, reference_samples=samples, bandwidth=bandwidth)
    scores = domias_score(X, samples, reference_samples=samples, bandwidth=np.float32(0.5))
    assert np.isfinite(scores).all()
