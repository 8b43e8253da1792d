"""audit.audit_model: the researcher's one call, on a model, its saved outputs, or its labels."""

from functools import partial

import numpy as np
import pytest

import mialab as ml

RECIPE = dict(epochs=60, lr=1e-2, progress=False)


def train(X, y, seed):
    return ml.training.fit(
        ml.models.mlp(30, 2, hidden=(64,), seed=seed), (X, y), seed=seed, **RECIPE
    )


@pytest.fixture(scope="module")
def biopsies():
    dataset = ml.data.load("breast_cancer")
    return ml.data.membership_split(dataset, n_members=140, seed=0)


@pytest.fixture(scope="module")
def overfit(biopsies):
    return train(biopsies.members.X, biopsies.members.y, 0)


def test_a_model_and_its_saved_logits_give_identical_tables(biopsies, overfit):
    members, nonmembers = biopsies.members, biopsies.nonmembers
    report = ml.audit.audit_model(
        overfit, members, nonmembers, train_reference=train, n_references=4,
        population=biopsies.population, progress=False,
    )  # fmt: skip
    assert list(report.table.columns) == [
        "attack", "auc", "auc_low", "auc_high", "tpr_at_0.001", "tpr_at_0.001_low",
        "tpr_at_0.001_high", "tpr_at_0.01", "tpr_at_0.01_low", "tpr_at_0.01_high", "advantage",
        "advantage_low", "advantage_high", "epsilon_heuristic",
    ]  # fmt: skip
    assert list(report.table.attack) == ["loss", "confidence", "modified entropy", "LiRA", "RMIA"]
    assert report.table.auc.max() > 0.55  # the overfit model leaks
    again = ml.audit.audit_model(
        member_logits=ml.training.predict_logits(overfit, members.X),
        nonmember_logits=ml.training.predict_logits(overfit, nonmembers.X),
        member_labels=members.y, nonmember_labels=nonmembers.y,
        reference_logits=report.reference_logits, reference_in_mask=report.reference_in_mask,
        progress=False,
    )  # fmt: skip
    # Everything but the bounds, which are Bonferroni-corrected over 5, 4 and 3 attacks.
    measured = list(report.table.columns[:-1])
    expected = report.table[report.table.attack != "RMIA"].reset_index(drop=True)
    assert again.table[measured].equals(expected[measured])
    # A function returning logits (any framework) audits the same as the torch module.
    as_function = ml.audit.audit_model(
        lambda X: ml.training.predict_logits(overfit, X), members, nonmembers, progress=False
    )
    threshold_only = expected[expected.attack != "LiRA"]
    assert as_function.table[measured].equals(threshold_only[measured])
    for audit, n_attacks in ((report, 5), (again, 4), (as_function, 3)):
        assert audit.bound_confidence == pytest.approx(1 - 0.05 / n_attacks)
        for result, bound in zip(audit.results, audit.table.epsilon_heuristic, strict=True):
            assert bound == ml.audit.epsilon_lower_bound(
                result.scores, result.is_member, delta=1e-5, confidence=1 - 0.05 / n_attacks
            )


def test_a_model_that_never_saw_the_records_is_at_chance(biopsies):
    population = biopsies.population
    half = len(population) // 2
    stranger = train(
        population.X[:half], population.y[:half], 1
    )  # never saw members or non-members
    report = ml.audit.audit_model(
        stranger, biopsies.members, biopsies.nonmembers, train_reference=train, n_references=4,
        population=population.subset(np.arange(half, len(population))), progress=False,
    )  # fmt: skip
    assert "RMIA" in set(report.table.attack) and "LiRA" in set(report.table.attack)
    n = len(biopsies.members)
    noise = 2.5 * np.sqrt((2 * n + 1) / (12 * n * n))  # s.e. of the AUC under no signal
    assert (abs(report.table.auc - 0.5) < noise).all(), report.table
    assert (report.table.epsilon_heuristic == 0).all()


def test_label_only_report_renders_and_saves(tmp_path, biopsies, overfit):
    members, nonmembers = biopsies.members, biopsies.nonmembers
    predict = partial(ml.training.predict_logits, overfit)
    report = ml.audit.audit_model(
        member_predictions=predict(members.X).argmax(1), member_labels=members.y,
        nonmember_predictions=predict(nonmembers.X).argmax(1), nonmember_labels=nonmembers.y,
        progress=False,
    )  # fmt: skip
    assert list(report.table.attack) == ["gap (label-only)"]
    train_accuracy = (predict(members.X).argmax(1) == members.y).mean()
    test_accuracy = (predict(nonmembers.X).argmax(1) == nonmembers.y).mean()
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


def test_bad_input_is_named(biopsies, overfit):
    members, nonmembers = biopsies.members, biopsies.nonmembers
    audit = partial(ml.audit.audit_model, progress=False)
    with pytest.raises(ValueError, match="nothing to audit"):
        audit(members=members, nonmembers=nonmembers)
    with pytest.raises(ValueError, match="not both"):
        audit(overfit, members, nonmembers, member_logits=np.zeros((3, 2)),
              nonmember_logits=np.zeros((3, 2)))  # fmt: skip
    with pytest.raises(ValueError, match="members needs its counterpart"):
        audit(overfit, members)
    with pytest.raises(ValueError, match="train_reference needs the records"):
        audit(member_logits=np.zeros((3, 2)), nonmember_logits=np.zeros((3, 2)),
              member_labels=[0, 1, 0], nonmember_labels=[1, 0, 1],
              train_reference=train)  # fmt: skip
    with pytest.raises(ValueError, match="member_logits has 3, member_labels has 2"):
        audit(member_logits=np.zeros((3, 2)), nonmember_logits=np.zeros((3, 2)),
              member_labels=[0, 1], nonmember_labels=[1, 0, 1])  # fmt: skip
    with pytest.raises(ValueError, match="reference_in_mask"):
        audit(overfit, members, nonmembers, reference_logits=np.zeros((2, 280, 2)))
    with pytest.raises(TypeError, match="members must be a mialab Dataset"):
        audit(overfit, members.X, nonmembers)
    with pytest.raises(ValueError, match="member_logits needs nonmember_logits"):
        audit(member_logits=np.zeros((3, 2)), member_labels=[0, 1, 0], nonmember_labels=[1, 0, 1])
    with pytest.raises(ValueError, match="need the target's logits, not only its labels"):
        audit(members=members, nonmembers=nonmembers, train_reference=train,
              member_predictions=members.y, nonmember_predictions=nonmembers.y)  # fmt: skip
    with pytest.raises(TypeError, match="membership_randomized must be"):
        audit(overfit, members, nonmembers, membership_randomized="yes")


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
    mask[:, 0] = True  # record 0 has no OUT model: LiRA cannot score it
    shift = 2.0 * np.eye(2)[labels]
    reference_logits = rng.normal(size=(n_models, n, 2)) + mask[..., None] * shift
    logits = rng.normal(size=(n, 2)) + (np.arange(n) < n // 2)[:, None] * shift
    report = ml.audit.audit_model(
        member_logits=logits[: n // 2], nonmember_logits=logits[n // 2 :],
        member_labels=labels[: n // 2], nonmember_labels=labels[n // 2 :],
        reference_logits=reference_logits, reference_in_mask=mask, progress=False,
    )  # fmt: skip
    notes = " ".join(report.notes)
    assert "random half" not in notes and "reference_in_mask given" in notes
    assert "could not score 1 of 60 records" in notes
    lira = report.results[list(report.table.attack).index("LiRA")]
    assert lira.n_members + lira.n_nonmembers == n - 1
    assert report.most_exposed.score.notna().all()


def test_a_model_that_does_not_fit_the_records_is_named(biopsies, overfit):
    members, nonmembers = biopsies.members, biopsies.nonmembers
    narrow = ml.models.mlp(29, 2, seed=0)
    with pytest.raises(ValueError, match="model could not be applied to the records of members"):
        ml.audit.audit_model(narrow, members, nonmembers, progress=False)
    too_many = (members.X, members.y + 2)
    with pytest.raises(ValueError, match="labels of members and nonmembers must be class"):
        ml.audit.audit_model(overfit, too_many, nonmembers, progress=False)


def synthetic_logits(rng, is_member, *, shift=1.5):
    """Two-class logits whose true-class margin is larger for members."""
    n = len(is_member)
    logits = rng.normal(size=(n, 2))
    logits[:, 0] += shift * is_member
    return logits, np.zeros(n, int)


def logit_audit(logits, labels, is_member, **kwargs):
    return ml.audit.audit_model(
        member_logits=logits[is_member], nonmember_logits=logits[~is_member],
        member_labels=labels[is_member], nonmember_labels=labels[~is_member],
        progress=False, **kwargs,
    )  # fmt: skip


def test_the_bounds_are_bonferroni_corrected_and_labelled_as_what_they_are(rng):
    is_member = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    logits, labels = synthetic_logits(rng, is_member)
    report = logit_audit(logits, labels, is_member, confidence=0.9)
    assert list(report.table.attack) == ["loss", "confidence", "modified entropy"]
    assert report.bound_column == "epsilon_heuristic" and report.bound_confidence == 1 - 0.1 / 3
    for result, bound in zip(report.results, report.table.epsilon_heuristic, strict=True):
        at_bonferroni_level = ml.audit.epsilon_lower_bound(
            result.scores, result.is_member, delta=1e-5, confidence=1 - 0.1 / 3
        )
        uncorrected = ml.audit.epsilon_lower_bound(
            result.scores, result.is_member, delta=1e-5, confidence=0.9
        )
        assert bound == at_bonferroni_level and 0 < bound < uncorrected
    for text in (report.to_markdown(), report.to_html(), repr(report)):
        assert "epsilon_heuristic" in text and "epsilon_lb" not in text
    for text in (report.to_markdown(), report.to_html()):
        assert "not a proof" in text and "independent trials" in text
        assert "Bonferroni over the 3 attacks" in text and "96.7%" in text
        assert "90% confidence" in text
    # One attack: no correction, and the caption does not claim one.
    predicted = logits.argmax(1)
    single = ml.audit.audit_model(
        member_predictions=predicted[is_member], nonmember_predictions=predicted[~is_member],
        member_labels=labels[is_member], nonmember_labels=labels[~is_member], progress=False,
    )  # fmt: skip
    assert single.bound_confidence == pytest.approx(0.95)
    assert "Bonferroni" not in single.to_markdown() and "95% confidence" in single.to_markdown()


def test_randomized_membership_gives_the_one_run_bound(rng):
    is_member = rng.random(600) < 0.5  # a coin per record, as the one-run theorem needs
    logits, labels = synthetic_logits(rng, is_member, shift=3.0)
    report = logit_audit(logits, labels, is_member, membership_randomized=True, seed=4)
    assert report.bound_column == "epsilon_lb" and "epsilon_heuristic" not in report.table
    for result, bound in zip(report.results, report.table.epsilon_lb, strict=True):
        one_run = ml.audit.canary_epsilon_lower_bound(
            result.scores, result.is_member, delta=1e-5, confidence=1 - 0.05 / 3,
            k_plus=60, k_minus=60, seed=4,
        )  # fmt: skip
        assert bound == one_run and bound > 0.5
    markdown = report.to_markdown()
    assert "Steinke" in markdown and "randomised independently" in markdown
    assert "not a proof" not in markdown and "epsilon_lb |" in markdown
    assert any("membership_randomized=True" in note for note in report.notes)
    # The same scores without the flag: the heuristic, labelled as such.
    heuristic = logit_audit(logits, labels, is_member, seed=4)
    assert heuristic.bound_column == "epsilon_heuristic"
    assert "not a proof" in heuristic.to_markdown()


def test_unmeasurable_tpr_is_nan_and_shown_as_a_dash(rng):
    is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]  # 200 non-members: FPR ≥ 0.5%
    logits, labels = synthetic_logits(rng, is_member)
    report = logit_audit(logits, labels, is_member)
    table = report.table
    assert table[["tpr_at_0.001", "tpr_at_0.001_low", "tpr_at_0.001_high"]].isna().all().all()
    measured = table.drop(columns=["tpr_at_0.001", "tpr_at_0.001_low", "tpr_at_0.001_high"])
    assert measured.notna().all().all()
    for result, (_, row) in zip(report.results, table.iterrows(), strict=True):
        assert (row.auc_low, row.auc_high) == result.auc_ci
        assert (row["tpr_at_0.01_low"], row["tpr_at_0.01_high"]) == result.tpr_ci(0.01)
        assert row.auc_low <= row.auc <= row.auc_high
        assert row["tpr_at_0.01_low"] <= row["tpr_at_0.01"] <= row["tpr_at_0.01_high"]
    markdown, page = report.to_markdown(), report.to_html()
    first = report.results[0]
    shown = f"{first.auc:.3f} [{first.auc_ci[0]:.3f}, {first.auc_ci[1]:.3f}]"
    for text in (markdown, page, repr(report)):
        assert shown in text and "—" in text and "nan" not in text.lower()
        assert "not measurable" in text and "at least 1000 non-members" in text
    # With fewer than 100 non-members the 1% column is not measurable either; the most exposed
    # records then come from the attack with the highest AUC, not from a NaN.
    small = np.r_[np.ones(60, bool), np.zeros(60, bool)]
    logits, labels = synthetic_logits(rng, small)
    report = logit_audit(logits, labels, small)
    assert report.table["tpr_at_0.01"].isna().all()
    top_auc = report.table.attack[report.table.auc == report.table.auc.max()]
    assert report.most_exposed.attack[0] in set(top_auc)
    assert "at least 100 non-members" in report.to_markdown()
