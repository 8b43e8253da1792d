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
        "attack", "auc", "tpr_at_0.001", "tpr_at_0.01", "advantage", "epsilon_lb",
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
    expected = report.table[report.table.attack != "RMIA"].reset_index(drop=True)
    assert again.table.equals(expected)
    # A function returning logits (any framework) audits the same as the torch module.
    as_function = ml.audit.audit_model(
        lambda X: ml.training.predict_logits(overfit, X), members, nonmembers, progress=False
    )
    assert as_function.table.equals(expected[expected.attack != "LiRA"])


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
    assert (report.table.epsilon_lb == 0).all()


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
