"""LiRA, RMIA and the shadow-model attack: formulas checked against direct computations, then
behaviour on real models (beats chance when there is membership to find, chance when not)."""

import inspect
import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import mialab as ml
from mialab.attacks import RMIA, LiRA, ShadowModelAttack, lira_statistic


def softmax_row(row):
    e = np.exp(row - row.max())
    return e / e.sum()


def phi_direct(row, y):
    p = softmax_row(row)
    return math.log(p[y] + 1e-45) - math.log(sum(p[j] for j in range(len(p)) if j != y) + 1e-45)


def log_normal_pdf(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


def log_normal_cdf(x, mean, std):
    return math.log(0.5 * math.erfc(-(x - mean) / (std * math.sqrt(2))))


def lira_direct(ref, mask, labels, target, *, online, fix_variance):
    """LiRA written out record by record, query by query, from the formulas."""
    n_models, n, n_queries, _ = ref.shape
    phi = np.array(
        [
            [[phi_direct(ref[m, i, q], labels[i]) for q in range(n_queries)] for i in range(n)]
            for m in range(n_models)
        ]
    )
    global_std = {side: np.std(phi[mask == side]) for side in (True, False)}
    scores = []
    for i in range(n):
        per_query = []
        for q in range(n_queries):
            x = phi_direct(target[i, q], labels[i])
            stats = {}
            for side in (True, False):
                values = phi[mask[:, i] == side, i, q]
                std = global_std[side] if fix_variance else np.std(values)
                stats[side] = (np.mean(values), std)
            if online:
                per_query.append(log_normal_pdf(x, *stats[True]) - log_normal_pdf(x, *stats[False]))
            else:
                per_query.append(log_normal_cdf(x, *stats[False]))
        scores.append(np.mean(per_query))
    return np.array(scores)


@pytest.fixture
def small_problem():
    rng = np.random.default_rng(0)
    n_models, n, n_queries, n_classes = 6, 6, 3, 4
    mask = ml.training.balanced_in_mask(n_models, n, seed=0)  # 3 IN and 3 OUT for every record
    return {
        "ref": rng.normal(size=(n_models, n, n_queries, n_classes)) * 3,
        "mask": mask,
        "labels": rng.integers(0, n_classes, size=n),
        "target": rng.normal(size=(n, n_queries, n_classes)) * 3,
        "z_ref": rng.normal(size=(n_models, 7, n_queries, n_classes)) * 3,
        "z_labels": rng.integers(0, n_classes, size=7),
        "z_target": rng.normal(size=(7, n_queries, n_classes)) * 3,
    }


def test_lira_statistic_matches_the_formula():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 6, 4)) * 5
    labels = rng.integers(0, 4, size=6)
    expected = [[phi_direct(logits[m, i], labels[i]) for i in range(6)] for m in range(2)]
    np.testing.assert_allclose(lira_statistic(logits, labels), expected, rtol=1e-12)
    confident = lira_statistic(np.array([[60.0, 0.0, 0.0]]), np.array([0]))
    assert confident[0] == pytest.approx(60 - math.log(2), rel=1e-9)  # not capped by 1 - p_y = 0


@pytest.mark.parametrize("online", [True, False])
@pytest.mark.parametrize("fix_variance", [False, True])
@pytest.mark.parametrize("n_queries", [1, 3])
def test_lira_matches_direct_computation(small_problem, online, fix_variance, n_queries):
    p = small_problem
    ref, target = p["ref"][:, :, :n_queries], p["target"][:, :n_queries]
    attack = LiRA(online=online, fix_variance=fix_variance).fit(ref, p["mask"], p["labels"])
    expected = lira_direct(
        ref, p["mask"], p["labels"], target, online=online, fix_variance=fix_variance
    )
    np.testing.assert_allclose(attack.score_samples(target), expected, rtol=1e-9)
    if n_queries == 1:  # no query axis at all gives the same
        plain = LiRA(online=online, fix_variance=fix_variance).fit(
            ref[:, :, 0], p["mask"], p["labels"]
        )
        np.testing.assert_allclose(plain.score_samples(target[:, 0]), expected, rtol=1e-9)


def rmia_direct(p, *, online, a, gamma):
    def true_prob(logits, y):
        return np.mean([softmax_row(row)[y] for row in logits])  # averaged over queries

    def prior(ref, i, y, mask_column):
        probs = [true_prob(ref[m, i], y) for m in range(len(ref))]
        if online:
            return np.mean(probs)
        out = [pr for pr, inside in zip(probs, mask_column, strict=True) if not inside]
        return (1 + a) / 2 * np.mean(out) + (1 - a) / 2

    labels, z_labels = p["labels"], p["z_labels"]
    ratio_z = [
        true_prob(p["z_target"][j], z_labels[j])
        / prior(p["z_ref"], j, z_labels[j], np.zeros(len(p["mask"]), bool))
        for j in range(len(z_labels))
    ]
    scores = []
    for i in range(len(labels)):
        ratio_x = true_prob(p["target"][i], labels[i]) / prior(
            p["ref"], i, labels[i], p["mask"][:, i]
        )
        scores.append(np.mean([ratio_x / rz > gamma for rz in ratio_z]))
    return np.array(scores)


@pytest.mark.parametrize(
    ("online", "a", "gamma"),
    [(False, 0.3, 1.0), (False, 1.0, 2.0), (True, None, 1.0), (True, None, 0.5)],
)
def test_rmia_matches_direct_computation(small_problem, online, a, gamma):
    p = small_problem
    attack = RMIA(online=online, a=a, gamma=gamma).fit(
        p["ref"],
        p["mask"],
        p["labels"],
        population_logits=p["z_ref"],
        population_labels=p["z_labels"],
    )
    scores = attack.score_samples(p["target"], population_logits=p["z_target"])
    np.testing.assert_allclose(scores, rmia_direct(p, online=online, a=a, gamma=gamma))


def test_rmia_chooses_a_on_a_held_out_reference_model(reference_models, overfit_target):
    _, split, _, y, _ = overfit_target
    r = reference_models
    a = RMIA.select_a(
        r["logits"],
        r["in_mask"],
        y,
        population_logits=r["population_logits"],
        population_labels=split.population.y,
    )
    assert a in np.round(np.linspace(0, 1, 11), 2)
    fitted = RMIA(a=None).fit(
        r["logits"],
        r["in_mask"],
        y,
        population_logits=r["population_logits"],
        population_labels=split.population.y,
    )
    assert fitted.a_ == a


def all_attacks(reference_models, overfit_target, model):
    """Scores of every attack on the candidates, against ``model`` as the target."""
    _, split, X, y, _ = overfit_target
    target_logits = ml.training.predict_logits(model, X)
    target_population_logits = ml.training.predict_logits(model, split.population.X)
    r = reference_models
    fit_args = (r["logits"], r["in_mask"], y)
    population = {
        "population_logits": r["population_logits"],
        "population_labels": split.population.y,
    }
    return {
        "loss": ml.attacks.loss_score(target_logits, y),
        "LiRA online": LiRA(online=True).fit(*fit_args).score_samples(target_logits),
        "LiRA online, fixed variance": LiRA(online=True, fix_variance=True)
        .fit(*fit_args)
        .score_samples(target_logits),
        "LiRA offline": LiRA().fit(*fit_args).score_samples(target_logits),
        "RMIA offline": RMIA(a=0.5)
        .fit(*fit_args, **population)
        .score_samples(target_logits, population_logits=target_population_logits),
        "RMIA online": RMIA(online=True)
        .fit(*fit_args, **population)
        .score_samples(target_logits, population_logits=target_population_logits),
        "Shokri": ShadowModelAttack().fit(*fit_args).score_samples(target_logits),
        "ML-Leaks": ShadowModelAttack(per_class=False, top_k=3)
        .fit(r["logits"][:1], r["in_mask"][:1], y)
        .score_samples(target_logits),
    }


def test_every_attack_is_at_chance_on_a_model_that_never_saw_the_candidates(
    reference_models, overfit_target, outsider
):
    is_member = overfit_target[-1]
    scores = all_attacks(reference_models, overfit_target, outsider)
    for name, s in scores.items():
        auc = ml.metrics.evaluate(s, is_member).auc
        assert abs(auc - 0.5) < 0.1, f"{name}: AUC {auc:.3f}"  # 100 + 100 records: s.e. 0.041


def test_calibrated_attacks_beat_the_loss_attack_on_an_overfit_model(
    reference_models, overfit_target
):
    target, is_member = overfit_target[0], overfit_target[-1]
    scores = all_attacks(reference_models, overfit_target, target)
    results = {name: ml.metrics.evaluate(s, is_member) for name, s in scores.items()}
    for name, result in results.items():
        assert result.auc > 0.6, f"{name}: AUC {result.auc:.3f}"
    loss = results["loss"].tpr_at(0.01)
    for name in ("LiRA online", "LiRA online, fixed variance", "RMIA offline"):
        assert results[name].tpr_at(0.01) > loss + 0.05, name


def test_bad_input_names_the_argument(small_problem):
    p = small_problem
    ref, mask, labels = p["ref"][:, :, 0], p["mask"], p["labels"]
    nan_ref = ref.copy()
    nan_ref[0, 0, 0] = np.nan
    population = {"population_logits": p["z_ref"][:, :, 0], "population_labels": p["z_labels"]}
    cases = [
        (lambda: LiRA().fit(ref[0], mask, labels), ValueError, "reference_logits must have"),
        (lambda: LiRA().fit(ref, mask[:, :3], labels), ValueError, "reference_in_mask must have"),
        (lambda: LiRA().fit(ref, mask | True, labels), ValueError, "reference_in_mask gives no"),
        (lambda: LiRA(online="no").fit(ref, mask, labels), TypeError, "online must be True"),
        (lambda: LiRA(fix_variance=1).fit(ref, mask, labels), TypeError, "fix_variance must"),
        (lambda: lira_statistic(ref[0][:, :1], labels * 0), ValueError, "at least 2 classes"),
        (lambda: LiRA().fit(nan_ref, mask, labels), ValueError, "reference_logits contains NaN"),
        (lambda: LiRA().fit(ref, mask, labels + 10), ValueError, "labels must lie in"),
        (lambda: LiRA().fit(ref, mask, labels[:3]), ValueError, "lengths differ"),
        (lambda: LiRA().fit(ref, mask.astype(float) * 2, labels), TypeError, "reference_in_mask"),
        (lambda: LiRA().score_samples(ref[0]), RuntimeError, "call fit"),
        (
            lambda: LiRA().fit(ref, mask, labels).score_samples(ref[0][:2]),
            ValueError,
            "logits must have one row per record given to fit",
        ),
        (
            lambda: LiRA().fit(ref, mask, labels).score_samples(ref[0][:, :2]),
            ValueError,
            "logits must have 4 classes",
        ),
        (
            lambda: LiRA().fit(p["ref"], mask, labels).score_samples(ref[0]),
            ValueError,
            "logits has 1 queries per record, the reference logits had 3",
        ),
        (
            lambda: (
                RMIA(a=0.5)
                .fit(ref, mask, labels, **population)
                .score_samples(ref[0][:2], population_logits=p["z_target"][:, 0])
            ),
            ValueError,
            "logits must have one row per record given to fit",
        ),
        (
            lambda: RMIA(a=2.0).fit(ref, mask, labels, **population),
            ValueError,
            "a must be a finite number in",
        ),
        (
            lambda: RMIA(gamma=0).fit(ref, mask, labels, **population),
            ValueError,
            "gamma must",
        ),
        (
            lambda: RMIA(a=0.5).fit(
                ref, mask, labels, **{**population, "population_logits": p["z_ref"][:2, :, 0]}
            ),
            ValueError,
            "population_logits must come from the same",
        ),
        (lambda: ShadowModelAttack(top_k=9).fit(ref, mask, labels), ValueError, "top_k"),
        (lambda: ShadowModelAttack().score_samples(ref[0]), RuntimeError, "call fit"),
        (
            lambda: (
                ShadowModelAttack(per_class=False).fit(ref, mask, labels).score_samples(ref[0][:2])
            ),
            ValueError,
            r"logits must have shape \(6, 4\)",
        ),
        (lambda: lira_statistic(ref[0], labels[:2]), ValueError, "one row per label"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def bernoulli_problem(n_models=16, n=2000, seed=0):
    """Reference models that each include a record with probability 1/2, and a leaky target."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_models, n)) < 0.5
    labels = rng.integers(0, 3, size=n)
    shift = 2.0 * np.eye(3)[labels]  # IN models are more confident on the true label
    ref = rng.normal(size=(n_models, n, 3)) + mask[..., None] * shift
    is_member = rng.random(n) < 0.5
    target = rng.normal(size=(n, 3)) + is_member[:, None] * shift
    return ref, mask, labels, target, is_member


@pytest.mark.parametrize("online", [True, False])
@pytest.mark.parametrize("seed", [24, 122])  # masks where one record has no IN / no OUT model
def test_lira_with_random_half_masks_scores_every_record_it_can_and_warns(online, seed):
    ref, mask, labels, target, is_member = bernoulli_problem(seed=seed)
    n_in, n_out = mask.sum(axis=0), (~mask).sum(axis=0)
    assert (np.minimum(n_in, n_out) == 0).any() and (np.minimum(n_in, n_out) == 1).any()
    with pytest.warns(UserWarning) as caught:
        attack = LiRA(online=online).fit(ref, mask, labels)
    messages = " ".join(str(w.message) for w in caught)
    expected_unscored = (n_out == 0) | ((n_in == 0) if online else False)
    single = ((n_out == 1) | ((n_in == 1) if online else False)) & ~expected_unscored
    if single.any():  # one model on a side: the global σ of that side, with a warning
        assert "single" in messages
    scores = attack.score_samples(target)
    np.testing.assert_array_equal(np.isnan(scores), expected_unscored)
    np.testing.assert_array_equal(attack.unscored_, expected_unscored)
    if expected_unscored.any():
        assert f"{expected_unscored.sum()} of 2000 records" in messages
        assert "balanced_in_mask" in messages
    keep = ~attack.unscored_
    assert ml.metrics.evaluate(scores[keep], is_member[keep]).auc > 0.75
    if expected_unscored.any():  # NaN scores are refused, never ranked, and the message says why
        with pytest.raises(ValueError, match="scores holds 1 NaN.*np.isfinite"):
            ml.metrics.evaluate(scores, is_member)


def test_lira_fix_variance_works_where_a_side_has_no_model():
    ref, mask, labels, target, _ = bernoulli_problem(n_models=4, n=200)
    with pytest.warns(UserWarning, match="no IN or no OUT"):
        attack = LiRA(online=True, fix_variance=True).fit(ref, mask, labels)
    scores = attack.score_samples(target)
    assert np.isfinite(scores[~attack.unscored_]).all() and attack.unscored_.any()


def test_rmia_stays_informative_when_reference_probabilities_underflow():
    # Reference models so sure of another class that p(true label) underflows float64 to 0 on
    # every model for some records: the ratios must still rank records, not become 0/0.
    rng = np.random.default_rng(0)
    n, m, n_models = 40, 60, 4
    mask = ml.training.balanced_in_mask(n_models, n, seed=0)
    labels, z_labels = np.zeros(n, int), np.zeros(m, int)
    margin = rng.uniform(700, 900, size=n)  # p(label 0) = exp(-margin) < 1e-300
    ref = np.stack([np.c_[np.zeros(n), margin] for _ in range(n_models)])
    z_margin = rng.uniform(700, 900, size=m)
    z_ref = np.stack([np.c_[np.zeros(m), z_margin] for _ in range(n_models)])
    assert np.exp(-margin).max() < 1e-300
    target = np.c_[np.zeros(n), margin - 50 * (np.arange(n) < n // 2)]  # first half: members
    # Online, Pr(x) cancels each record's margin exactly: perfect separation. Offline, the
    # constant (1 - a)/2 dominates the tiny Pr(x), so only the target's own p(x) ranks records.
    for attack, least_auc in ((RMIA(online=True), 0.99), (RMIA(a=0.5), 0.6)):
        attack.fit(ref, mask, labels, population_logits=z_ref, population_labels=z_labels)
        scores = attack.score_samples(target, population_logits=np.c_[np.zeros(m), z_margin])
        assert np.isfinite(scores).all() and len(np.unique(scores)) > 1
        assert ml.metrics.evaluate(scores, np.arange(n) < n // 2).auc > least_auc


def test_numpy_scalars_are_valid_hyperparameters(small_problem):
    p = small_problem
    population = {"population_logits": p["z_ref"], "population_labels": p["z_labels"]}
    attack = RMIA(a=np.float32(0.5), gamma=np.float64(1.0), online=np.bool_(False))
    attack.fit(p["ref"], p["mask"], p["labels"], **population)
    assert attack.a_ == 0.5
    scores = attack.score_samples(p["target"], population_logits=p["z_target"])
    assert scores.shape == (6,)


def test_probabilities_instead_of_logits_warn(small_problem):
    p = small_problem
    probs = np.exp(p["ref"]) / np.exp(p["ref"]).sum(axis=-1, keepdims=True)
    with pytest.warns(UserWarning, match=r"np\.log\(p\)"):
        LiRA().fit(probs, p["mask"], p["labels"])
    with pytest.warns(UserWarning, match=r"np\.log\(p\)"):
        lira_statistic(probs[0, :, 0], p["labels"])


def test_the_classes_follow_scikit_learns_style_and_lira_is_offline_by_default(small_problem):
    p = small_problem
    for attack in (LiRA, RMIA, ShadowModelAttack):
        assert not hasattr(attack, "score")  # scikit-learn's score is one number, not scores
        params = list(inspect.signature(attack.fit).parameters)
        assert params[1:4] == ["reference_logits", "reference_in_mask", "labels"]
    for attack in (LiRA, RMIA):  # per-record statistics: they score the records fit saw
        assert "labels" not in inspect.signature(attack.score_samples).parameters
    # The shadow classifiers score any records, given their labels; by default those of fit.
    assert inspect.signature(ShadowModelAttack.score_samples).parameters["labels"].default is None
    assert LiRA().online is False and RMIA().online is False
    ref, target = p["ref"], p["target"]
    offline = LiRA(online=False).fit(ref, p["mask"], p["labels"]).score_samples(target)
    default = LiRA().fit(ref, p["mask"], p["labels"])
    assert default.mean_in_ is None
    np.testing.assert_array_equal(default.score_samples(target), offline)


def test_the_shadow_attack_scores_records_its_shadow_models_never_saw(small_problem):
    p = small_problem
    ref, target = p["ref"][:, :, 0], p["target"][:, 0]  # one query per record
    attack = ShadowModelAttack(per_class=False).fit(ref, p["mask"], p["labels"])
    fitted = attack.score_samples(target)
    np.testing.assert_array_equal(attack.score_samples(target, p["labels"]), fitted)
    # Other records (here the first three, reversed): the same classifier, row by row.
    rows = [2, 1, 0]
    np.testing.assert_array_equal(
        attack.score_samples(target[rows], p["labels"][rows]), fitted[rows]
    )
    with pytest.raises(ValueError, match="logits"):
        attack.score_samples(target[:2])  # other records need their labels
    per_class = ShadowModelAttack(estimator=LogisticRegression()).fit(ref, p["mask"], p["labels"])
    unseen = sorted(set(range(ref.shape[-1])) - set(p["labels"].tolist()))
    if unseen:  # a class no shadow record had: no classifier for it
        with pytest.raises(ValueError, match="labels has classes fit"):
            per_class.score_samples(target[:1], unseen[:1])
