"""audit.audit_model: the researcher's one call, on a model, its saved outputs, or its labels."""

from functools import partial

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier

import mialab as ml

FACTORY = partial(ml.models.mlp, 30, 2, hidden=(64,))  # the target's architecture
RECIPE = dict(epochs=60, lr=1e-2)  # and its training
COLUMNS = [
    *("attack", "AUC", "AUC low", "AUC high", "TPR@0.1%FPR", "TPR@0.1%FPR low"),
    *("TPR@0.1%FPR high", "TPR@1%FPR", "TPR@1%FPR low", "TPR@1%FPR high", "advantage"),
    *("advantage low", "advantage high"),
]


@pytest.fixture(scope="module")
def biopsies():
    dataset = ml.data.load("breast_cancer")
    return ml.data.membership_split(dataset, n_members=140, seed=0)


@pytest.fixture(scope="module")
def overfit(biopsies):
    return ml.training.fit(FACTORY(seed=0), biopsies.members, seed=0, **RECIPE)


@pytest.fixture(scope="module")
def few_digits():
    """150 digits a scikit-learn model trains on, and 150 it never sees."""
    split = ml.data.membership_split(ml.data.load("digits"), n_members=150, seed=0)
    return split.members, split.nonmembers.subset(range(150))


def test_a_model_and_its_saved_outputs_give_identical_tables(biopsies, overfit):
    members, nonmembers = biopsies.members, biopsies.nonmembers
    report = ml.audit.audit_model(
        overfit, members, nonmembers, train_reference=FACTORY, n_references=4,
        population=biopsies.population, **RECIPE,
    )  # fmt: skip
    assert list(report.table.columns) == [*COLUMNS, "ε heuristic"]
    assert list(report.table.attack) == ["loss", "confidence", "modified entropy", "LiRA", "RMIA"]
    assert report.table.AUC.max() > 0.55  # the overfit model leaks
    assert report.population_logits.shape == (len(biopsies.population), 2)
    assert report.reference_population_logits.shape == (4, len(biopsies.population), 2)
    # RMIA and LiRA from the saved outputs alone: the same table, bounds included.
    again = ml.audit.audit_model(
        member_logits=ml.training.predict_logits(overfit, members.X),
        nonmember_logits=ml.training.predict_logits(overfit, nonmembers.X),
        member_labels=members.y, nonmember_labels=nonmembers.y,
        reference_logits=report.reference_logits, reference_in_mask=report.reference_in_mask,
        population_logits=report.population_logits,
        reference_population_logits=report.reference_population_logits,
        population_labels=report.population_labels,
    )  # fmt: skip
    assert again.table.equals(report.table)
    for saved, trained in zip(again.results, report.results, strict=True):
        np.testing.assert_array_equal(saved.scores, trained.scores)
    # A function returning logits (any framework) audits the same as the torch module.
    as_function = ml.audit.audit_model(
        lambda X: ml.training.predict_logits(overfit, X), members, nonmembers
    )
    threshold_only = report.table[report.table.attack.isin(["loss", "confidence"])]
    measured = COLUMNS  # everything but the bounds, corrected over other numbers of attacks
    assert as_function.table[measured].iloc[:2].equals(threshold_only[measured])
    for audit in (report, as_function):
        assert audit.bound_confidence == pytest.approx(1 - 0.05 / audit.n_distinct_rankings)
        for result, bound in zip(audit.results, audit.table["ε heuristic"], strict=True):
            assert bound == ml.audit.epsilon_lower_bound(
                result.scores, result.is_member, delta=1e-5, confidence=audit.bound_confidence
            )


def test_a_model_that_never_saw_the_records_is_at_chance(biopsies):
    population = biopsies.population
    half = len(population) // 2
    stranger = ml.training.fit(FACTORY(seed=1), population.subset(range(half)), seed=1, **RECIPE)
    report = ml.audit.audit_model(
        stranger, biopsies.members, biopsies.nonmembers, train_reference=FACTORY,
        n_references=4, population=population.subset(np.arange(half, len(population))),
        **RECIPE,
    )  # fmt: skip
    assert "RMIA" in set(report.table.attack) and "LiRA" in set(report.table.attack)
    n = len(biopsies.members)
    noise = 2.5 * ml.metrics.chance_auc_std(n, n)
    assert (abs(report.table.AUC - 0.5) < noise).all(), report.table
    assert (report.table["ε heuristic"] == 0).all()


def test_label_only_report_renders_and_saves(tmp_path, biopsies, overfit):
    members, nonmembers = biopsies.members, biopsies.nonmembers
    predict = partial(ml.training.predict_logits, overfit)
    report = ml.audit.audit_model(
        member_predictions=predict(members.X).argmax(1), member_labels=members.y,
        nonmember_predictions=predict(nonmembers.X).argmax(1), nonmember_labels=nonmembers.y,
    )  # fmt: skip
    assert list(report.table.attack) == ["gap (label-only)"]
    train_accuracy = ml.metrics.accuracy(predict(members.X), members.y)
    test_accuracy = ml.metrics.accuracy(predict(nonmembers.X), nonmembers.y)
    assert report.table.advantage[0] == pytest.approx(train_accuracy - test_accuracy)
    markdown = report.to_markdown()
    assert (
        "| attack" in markdown and "95% confidence" in markdown and "gap (label-only)" in markdown
    )
    page = report.to_html()
    assert page.startswith("<p>") and "<table" in page and "label-only" in page
    report.roc_figure().savefig(tmp_path / "roc.png")
    assert (tmp_path / "roc.png").read_bytes().startswith(b"\x89PNG")
    assert len(report.most_exposed) == 10 and set(report.most_exposed.set) <= {
        "member",
        "non-member",
    }


def test_a_scikit_learn_classifier_is_audited_from_its_probabilities(few_digits):
    members, nonmembers = few_digits
    model = LogisticRegression(C=100, max_iter=2000).fit(members.X, members.y)
    report = ml.audit.audit_model(model, members, nonmembers)
    loss = report.table.set_index("attack").loc["loss"]
    assert loss["AUC low"] > 0.5  # it memorised its 150 digits
    outputs = ml.audit.audit_model(
        member_logits=model.predict_log_proba(members.X), member_labels=members.y,
        nonmember_logits=model.predict_log_proba(nonmembers.X), nonmember_labels=nonmembers.y,
    )  # fmt: skip
    assert outputs.table.equals(report.table)
    # A forest predicts probabilities of exactly 0: their log is clipped, not -inf or NaN.
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(members.X, members.y)
    assert (forest.predict_proba(members.X) == 0).any()
    forest_report = ml.audit.audit_model(forest, members, nonmembers)
    assert forest_report.table[COLUMNS[1:]].drop(columns=COLUMNS[4:7]).notna().all().all()
    # References trained by their own fit: LiRA runs on a scikit-learn target too.
    with_references = ml.audit.audit_model(
        model, members, nonmembers, n_references=2,
        train_reference=lambda seed: LogisticRegression(C=100, max_iter=2000),
    )  # fmt: skip
    assert "LiRA" in set(with_references.table.attack)
    assert with_references.reference_logits.shape == (2, 300, 10)
    # Columns that are not the labels 0..n-1 would misalign logits and labels: refused.
    no_zeros = members.y != 0
    skipping = LogisticRegression(max_iter=500).fit(members.X[no_zeros], members.y[no_zeros])
    with pytest.raises(ValueError, match="model was fitted on the classes"):
        ml.audit.audit_model(skipping, members, nonmembers)


def test_a_classifier_that_only_predicts_labels_gets_the_gap_attack(few_digits):
    members, nonmembers = few_digits
    model = RidgeClassifier().fit(members.X, members.y)  # predict, no predict_proba
    report = ml.audit.audit_model(model, members, nonmembers)
    assert list(report.table.attack) == ["gap (label-only)"]
    gap = model.score(members.X, members.y) - model.score(nonmembers.X, nonmembers.y)
    assert report.table.advantage[0] == pytest.approx(gap)
    with pytest.raises(ValueError, match="need the target's logits, not only its labels"):
        ml.audit.audit_model(model, members, nonmembers, reference_logits=np.zeros((2, 300, 10)))


def test_images_reach_a_cnn_as_images():
    digits = ml.data.load("digits")
    images = digits.X.reshape(-1, 8, 8)
    members = (images[:100], digits.y[:100])
    nonmembers = (images[100:200], digits.y[100:200])
    factory = partial(ml.models.cnn, 10, channels=(4, 8))
    cnn = ml.training.fit(factory(seed=0), members, epochs=30, seed=0)
    seen = []

    def model(X):
        seen.append(X.shape)
        return ml.training.predict_logits(cnn, X)

    report = ml.audit.audit_model(
        cnn, members, nonmembers, train_reference=factory, n_references=2, epochs=5
    )
    assert list(report.table.attack) == ["loss", "confidence", "modified entropy", "LiRA"]
    as_function = ml.audit.audit_model(model, members, nonmembers)
    assert seen == [(200, 8, 8)]  # neither flattened nor refused
    assert as_function.table[COLUMNS].equals(report.table[COLUMNS].iloc[:3])


def test_the_device_is_checked_and_used(biopsies, overfit):
    members, nonmembers = biopsies.members, biopsies.nonmembers
    on_cpu = ml.audit.audit_model(overfit, members, nonmembers, device=torch.device("cpu"))
    auto = ml.audit.audit_model(overfit, members, nonmembers, device="auto")
    assert on_cpu.table.equals(auto.table)
    with pytest.raises(ValueError, match="device"):
        ml.audit.audit_model(overfit, members, nonmembers, device="tpu")
    with pytest.raises(TypeError, match="device"):
        ml.audit.audit_model(overfit, members, nonmembers, device=0.5)
    assert next(overfit.parameters()).device.type == "cpu"


def test_bad_input_is_named(biopsies, overfit):
    members, nonmembers = biopsies.members, biopsies.nonmembers
    audit = ml.audit.audit_model
    logits, labels = np.zeros((3, 2)), [0, 1, 0]
    with pytest.raises(ValueError, match="nothing to audit"):
        audit(members=members, nonmembers=nonmembers)
    with pytest.raises(ValueError, match="not both"):
        audit(overfit, members, nonmembers, member_logits=logits, nonmember_logits=logits)
    with pytest.raises(ValueError, match="members needs its counterpart"):
        audit(overfit, members)
    with pytest.raises(ValueError, match="train_reference needs the records"):
        audit(member_logits=logits, nonmember_logits=logits, member_labels=labels,
              nonmember_labels=labels, train_reference=FACTORY)  # fmt: skip
    with pytest.raises(ValueError, match="member_logits has 3, member_labels has 2"):
        audit(member_logits=logits, nonmember_logits=logits, member_labels=[0, 1],
              nonmember_labels=labels)  # fmt: skip
    with pytest.raises(ValueError, match="reference_in_mask"):
        audit(overfit, members, nonmembers, reference_logits=np.zeros((2, 280, 2)))
    with pytest.raises(TypeError, match="members must be a mialab Dataset"):
        audit(overfit, members.X, nonmembers)
    with pytest.raises(ValueError, match="member_logits needs nonmember_logits"):
        audit(member_logits=logits, member_labels=labels, nonmember_labels=labels)
    with pytest.raises(ValueError, match="need the target's logits, not only its labels"):
        audit(members=members, nonmembers=nonmembers, train_reference=FACTORY,
              member_predictions=members.y, nonmember_predictions=nonmembers.y)  # fmt: skip
    with pytest.raises(TypeError, match="membership_randomized must be"):
        audit(overfit, members, nonmembers, membership_randomized="yes")
    with pytest.raises(TypeError, match="progress must be"):
        audit(overfit, members, nonmembers, progress="yes")
    # The factory is called as train_reference(seed=s); a recipe train(X, labels, seed) is not.
    with pytest.raises(TypeError, match=r"train_reference\(seed=s\) must return a fresh model"):
        audit(overfit, members, nonmembers, train_reference=lambda X, y, seed: overfit)
    with pytest.raises(TypeError, match=r"train_reference\(seed=s\) must return a fresh model"):
        audit(overfit, members, nonmembers, train_reference=lambda seed: "a model")
    with pytest.raises(ValueError, match="epochs, lr train the reference models"):
        audit(overfit, members, nonmembers, **RECIPE)
    with pytest.raises(ValueError, match="epochs"):
        audit(overfit, members, nonmembers, train_reference=FACTORY, epochs=0)
    # RMIA's saved outputs come as three, with the reference models they belong to.
    saved = {
        "population_logits": np.zeros((5, 2)),
        "reference_population_logits": np.zeros((2, 5, 2)),
        "population_labels": [0, 1, 0, 1, 0],
    }
    with pytest.raises(ValueError, match="go together"):
        audit(overfit, members, nonmembers, population_logits=saved["population_logits"])
    with pytest.raises(ValueError, match="give the same models' reference_logits"):
        audit(overfit, members, nonmembers, **saved)
    with pytest.raises(ValueError, match="or its saved outputs"):
        audit(overfit, members, nonmembers, population=biopsies.population, **saved)
    target = ml.training.predict_logits(overfit, np.concatenate([members.X, nonmembers.X]))
    references = np.stack([target, target])
    mask = np.tile([[True], [False]], (1, 280))
    mask[:, ::2] = ~mask[:, ::2]  # every record IN one model and OUT of the other
    with pytest.raises(ValueError, match=r"reference_population_logits \(2, m, 2\)"):
        audit(overfit, members, nonmembers, reference_logits=references, reference_in_mask=mask,
              **{**saved, "reference_population_logits": np.zeros((3, 5, 2))})  # fmt: skip
    with pytest.raises(ValueError, match="population_labels"):
        audit(overfit, members, nonmembers, reference_logits=references, reference_in_mask=mask,
              **{**saved, "population_labels": [0, 1, 0, 1, 2]})  # fmt: skip


def test_the_bound_functions_refuse_what_would_give_a_silent_number(rng):
    scores, is_member = rng.normal(size=40), np.arange(40) % 2
    with pytest.raises(ValueError, match="successes and trials"):
        ml.audit.clopper_pearson(11, 10, alpha=0.05)  # was (nan, nan)
    with pytest.raises(TypeError, match="seed must be an int"):
        ml.audit.epsilon_lower_bound(scores, is_member, delta=0, seed=None)  # a new bound per call
    with pytest.raises(ValueError, match="threshold"):
        ml.audit.epsilon_lower_bound(scores, is_member, delta=0, threshold=np.nan)  # was 0
    same = [ml.audit.epsilon_lower_bound(scores, is_member, delta=0, seed=3) for _ in range(2)]
    assert same[0] == same[1]


def test_reference_masks_given_by_the_user_are_described_as_such_and_may_miss_records(rng):
    n, n_models = 60, 8
    labels = np.arange(n) % 2
    mask = rng.random((n_models, n)) < 0.5
    mask[:, 0] = True  # record 0 has no OUT model: LiRA cannot score it, nor online RMIA
    shift = 2.0 * np.eye(2)[labels]
    reference_logits = rng.normal(size=(n_models, n, 2)) + mask[..., None] * shift
    logits = rng.normal(size=(n, 2)) + (np.arange(n) < n // 2)[:, None] * shift
    population = {
        "population_logits": rng.normal(size=(20, 2)),
        "reference_population_logits": rng.normal(size=(n_models, 20, 2)),
        "population_labels": np.arange(20) % 2,
    }
    report = ml.audit.audit_model(
        member_logits=logits[: n // 2], nonmember_logits=logits[n // 2 :],
        member_labels=labels[: n // 2], nonmember_labels=labels[n // 2 :],
        reference_logits=reference_logits, reference_in_mask=mask, **population,
    )  # fmt: skip
    notes = " ".join(report.notes)
    assert "random half" not in notes and "reference_in_mask given" in notes
    assert "could not score 1 of 60 records" in notes
    assert "RMIA was not run" in notes and "leaves 1 without" in notes
    lira = report.results[list(report.table.attack).index("LiRA")]
    assert lira.n_members + lira.n_nonmembers == n - 1
    assert report.most_exposed.score.notna().all()


def test_a_model_that_does_not_fit_the_records_is_named(biopsies, overfit):
    members, nonmembers = biopsies.members, biopsies.nonmembers
    narrow = ml.models.mlp(29, 2, seed=0)
    with pytest.raises(ValueError, match="model could not be applied to the records of members"):
        ml.audit.audit_model(narrow, members, nonmembers)
    too_many = (members.X, members.y + 2)
    with pytest.raises(ValueError, match="labels of members and nonmembers must be class"):
        ml.audit.audit_model(overfit, too_many, nonmembers)


def synthetic_logits(rng, is_member, *, shift=1.5, n_classes=2):
    """Logits whose true-class margin is larger for members (true class 0)."""
    n = len(is_member)
    logits = rng.normal(size=(n, n_classes))
    logits[:, 0] += shift * is_member
    return logits, np.zeros(n, int)


def logit_audit(logits, labels, is_member, **kwargs):
    return ml.audit.audit_model(
        member_logits=logits[is_member], nonmember_logits=logits[~is_member],
        member_labels=labels[is_member], nonmember_labels=labels[~is_member], **kwargs,
    )  # fmt: skip


def test_the_bounds_are_bonferroni_corrected_over_distinct_rankings(rng):
    is_member = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    logits, labels = synthetic_logits(rng, is_member, n_classes=3)
    report = logit_audit(logits, labels, is_member, confidence=0.9)
    assert list(report.table.attack) == ["loss", "confidence", "modified entropy"]
    # The confidence is exp(loss): the same ranking, the same guesses, one test. The modified
    # entropy of three classes ranks the records otherwise: two tests in all.
    assert report.n_distinct_rankings == 2
    assert report.bound_column == "ε heuristic" and report.bound_confidence == 1 - 0.1 / 2
    loss, confidence, entropy = (row for _, row in report.table.drop(columns="attack").iterrows())
    assert loss.equals(confidence) and entropy["AUC"] != loss["AUC"]
    for result, bound in zip(report.results, report.table["ε heuristic"], strict=True):
        at_bonferroni_level = ml.audit.epsilon_lower_bound(
            result.scores, result.is_member, delta=1e-5, confidence=report.bound_confidence
        )
        uncorrected = ml.audit.epsilon_lower_bound(
            result.scores, result.is_member, delta=1e-5, confidence=0.9
        )
        assert bound == at_bonferroni_level and 0 < bound < uncorrected
    for text in (report.to_markdown(), report.to_html(), repr(report)):
        assert "ε heuristic" in text and "ε lower bound" not in text
    for text in (report.to_markdown(), report.to_html()):
        assert "not a proof" in text and "independent trials" in text
        assert "3 attacks rank the records in 2 distinct order(s)" in text
        assert "Bonferroni over the 2 orders" in text and "95%" in text
        assert "90% confidence" in text
    # Two classes: the three threshold attacks rank the records identically, so no correction.
    logits, labels = synthetic_logits(rng, is_member)
    binary = logit_audit(logits, labels, is_member)
    assert binary.n_distinct_rankings == 1 and binary.bound_confidence == pytest.approx(0.95)
    assert binary.table["ε heuristic"].nunique() == 1 and binary.table.AUC.nunique() == 1
    markdown = binary.to_markdown()
    assert "Bonferroni" not in markdown and "in 1 distinct order(s)" in markdown
    # One attack: no correction, and the caption does not claim one.
    predicted = logits.argmax(1)
    single = ml.audit.audit_model(
        member_predictions=predicted[is_member], nonmember_predictions=predicted[~is_member],
        member_labels=labels[is_member], nonmember_labels=labels[~is_member],
    )  # fmt: skip
    assert single.bound_confidence == pytest.approx(0.95)
    assert "Bonferroni" not in single.to_markdown() and "95% confidence" in single.to_markdown()
    assert "distinct order" not in single.to_markdown()


def test_randomized_membership_gives_the_one_run_bound(rng):
    is_member = rng.random(600) < 0.5  # a coin per record, as the one-run theorem needs
    logits, labels = synthetic_logits(rng, is_member, shift=3.0, n_classes=3)
    report = logit_audit(logits, labels, is_member, membership_randomized=True, seed=4)
    assert report.bound_column == "ε lower bound" and "ε heuristic" not in report.table
    assert report.n_distinct_rankings == 2
    for result, bound in zip(report.results, report.table["ε lower bound"], strict=True):
        one_run = ml.audit.canary_epsilon_lower_bound(
            result.scores, result.is_member, delta=1e-5, confidence=report.bound_confidence,
            k_plus=60, k_minus=60, seed=4,
        )  # fmt: skip
        assert bound == one_run and bound > 0.5
    markdown = report.to_markdown()
    assert "Steinke" in markdown and "randomised independently" in markdown
    assert "not a proof" not in markdown and "ε lower bound |" in markdown
    assert any("membership_randomized=True" in note for note in report.notes)
    # The same scores without the flag: the heuristic, labelled as such.
    heuristic = logit_audit(logits, labels, is_member, seed=4)
    assert heuristic.bound_column == "ε heuristic"
    assert "not a proof" in heuristic.to_markdown()


def test_unmeasurable_tpr_is_nan_and_shown_as_a_dash(rng):
    is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]  # 200 non-members: FPR ≥ 0.5%
    logits, labels = synthetic_logits(rng, is_member)
    report = logit_audit(logits, labels, is_member)
    table = report.table
    tenth = ["TPR@0.1%FPR", "TPR@0.1%FPR low", "TPR@0.1%FPR high"]
    assert table[tenth].isna().all().all()
    assert table.drop(columns=tenth).notna().all().all()
    for result, (_, row) in zip(report.results, table.iterrows(), strict=True):
        assert (row["AUC low"], row["AUC high"]) == result.auc_ci
        assert (row["TPR@1%FPR low"], row["TPR@1%FPR high"]) == result.tpr_ci(0.01)
        assert row["AUC low"] <= row["AUC"] <= row["AUC high"]
        assert row["TPR@1%FPR low"] <= row["TPR@1%FPR"] <= row["TPR@1%FPR high"]
    markdown, page = report.to_markdown(), report.to_html()
    first = report.results[0]
    shown = f"{first.auc:.3f} [{first.auc_ci[0]:.3f}, {first.auc_ci[1]:.3f}]"
    for text in (markdown, page, repr(report)):
        assert shown in text and "—" in text and "nan" not in text.lower()
        assert "not measurable" in text and "at least 1000 non-members" in text
    # With fewer than 100 non-members the 1% column is not measurable either; the most exposed
    # records then come from the attack with the highest AUC, not from a NaN.
    small = np.r_[np.ones(60, bool), np.zeros(60, bool)]
    logits, labels = synthetic_logits(rng, small, n_classes=3)
    report = logit_audit(logits, labels, small)
    assert report.table["TPR@1%FPR"].isna().all()
    top_auc = report.table.attack[report.table.AUC == report.table.AUC.max()]
    assert report.most_exposed.attack[0] in set(top_auc)
    assert "at least 100 non-members" in report.to_markdown()
