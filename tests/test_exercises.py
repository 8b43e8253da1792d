"""Each exercise accepts its solution and rejects the wrong answers students typically give."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from mialab.exercises import (
    Exercise,
    lesson00,
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
    lesson08,
    lesson09,
)
from mialab.metrics import evaluate as ml_evaluate


def unfinished(*args): ...  # the template a student starts from


EVERY_EXERCISE = [
    getattr(lesson, name)
    for lesson in (
        lesson00,
        lesson01,
        lesson02,
        lesson03,
        lesson04,
        lesson05,
        lesson06,
        lesson07,
        lesson08,
        lesson09,
    )
    for name in lesson.__all__
]


def crashes(*args):
    raise KeyError("oops")


@pytest.mark.parametrize("exercise", [lesson00.q1, lesson00.q2, lesson00.q3])
def test_placeholders_count_as_not_attempted(exercise):
    assert exercise.check(...).status == "not attempted"
    assert exercise.check(None).status == "not attempted"
    assert exercise.check(unfinished).status == "not attempted"
    feedback = exercise.check(crashes)
    assert feedback.status == "incorrect" and "KeyError" in feedback.message
    assert exercise.check(42).status == "incorrect"  # not a function
    assert exercise.hint().status == "hint" and exercise.hint().message
    assert "def " in exercise.solution().message


@pytest.mark.parametrize("exercise", EVERY_EXERCISE, ids=repr)
def test_every_exercise_accepts_its_solution_and_refuses_a_crash(exercise):
    assert exercise.check(...).status == "not attempted"
    assert exercise.check(crashes).status == "incorrect"
    if callable(exercise._solution):
        assert exercise.check(exercise._solution).correct


def test_q1_loss_score():
    assert lesson00.q1.check(lesson00.loss_score_solution).correct

    def naive(logits, labels):  # right formula, overflows on large logits
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return np.log(p[np.arange(len(labels)), labels])

    def loss_not_score(logits, labels):
        return -lesson00.loss_score_solution(logits, labels)

    def probability(logits, labels):
        return np.exp(lesson00.loss_score_solution(logits, labels))

    def one_number(logits, labels):
        return lesson00.loss_score_solution(logits, labels).mean()

    with np.errstate(all="ignore"):
        assert "subtract each row's maximum" in lesson00.q1.check(naive).message
    assert "minus the loss" in lesson00.q1.check(loss_not_score).message
    assert "probability of the true label" in lesson00.q1.check(probability).message
    assert "one value per row" in lesson00.q1.check(one_number).message


def test_q2_posterior():
    assert lesson00.q2.check(lesson00.posterior_solution).correct

    def article(prior, tpr, fpr):  # Bayes' rule for the non-member event
        return (1 - prior) * fpr / (prior * tpr + (1 - prior) * fpr)

    def ignores_prior(prior, tpr, fpr):
        return tpr / (tpr + fpr)

    assert "seed article's mistake" in lesson00.q2.check(article).message
    assert lesson00.q2.check(ignores_prior).status == "incorrect"
    assert "the TPR" in lesson00.q2.check(lambda prior, tpr, fpr: tpr).message


def test_q3_tpr_at_fpr():
    assert lesson00.q3.check(lesson00.tpr_at_fpr_solution).correct

    def interpolated(scores, is_member, fpr):
        from sklearn.metrics import roc_curve

        fprs, tprs, _ = roc_curve(is_member, scores)
        return np.interp(fpr, fprs, tprs)

    def strict(scores, is_member, fpr):
        from sklearn.metrics import roc_curve

        fprs, tprs, _ = roc_curve(is_member, scores)
        return tprs[fprs < fpr].max()

    def default_roc_curve(scores, is_member, fpr):  # drop_intermediate=True loses thresholds
        from sklearn.metrics import roc_curve

        fprs, tprs, _ = roc_curve(is_member, scores)
        return tprs[fprs <= fpr].max()

    assert lesson00.q3.check(interpolated).status == "incorrect"
    assert lesson00.q3.check(strict).status == "incorrect"
    dropped = lesson00.q3.check(default_roc_curve)
    assert dropped.status == "incorrect" and "drop_intermediate=False" in dropped.message
    assert "drop_intermediate=False" in lesson00.q3.hint().message
    assert "drop_intermediate=False" in lesson00.q3.solution().message


def test_q3_example_of_the_issue():
    """Scores [3,3,2,2,1,1,0,0], members [1,0,1,0,1,0,0,0]: at FPR <= 0.4 the TPR is 2/3."""
    from sklearn.metrics import roc_curve

    scores = np.array([3, 3, 2, 2, 1, 1, 0, 0.0])
    is_member = np.array([1, 0, 1, 0, 1, 0, 0, 0], bool)
    fprs, tprs, _ = roc_curve(is_member, scores)  # the default drops (0.4, 2/3)
    assert tprs[fprs <= 0.4].max() == pytest.approx(1 / 3)
    assert lesson00.tpr_at_fpr_solution(scores, is_member, 0.4) == pytest.approx(2 / 3)
    assert ml_evaluate(scores, is_member).tpr_at(0.4) == pytest.approx(2 / 3)


def test_feedback_renders_in_notebooks():
    q = Exercise("q", lambda answer: None if answer == 1 else "no <b>", hint="h", solution="1")
    html = q.check(2)._repr_html_()
    assert "Incorrect" in html and "&lt;b&gt;" in html  # messages are escaped
    assert str(q.check(1)) == "Correct: well done."


@pytest.mark.parametrize("exercise", [lesson01.q1, lesson01.q2, lesson01.q3])
def test_lesson01_placeholders_and_solutions(exercise):
    assert exercise.check(...).status == "not attempted"
    assert exercise.check(unfinished).status == "not attempted"
    assert exercise.check(crashes).status == "incorrect"
    assert "def " in exercise.solution().message


def test_lesson01_accepts_solutions_and_rejects_typical_mistakes():
    assert lesson01.q1.check(lesson01.phi_solution).correct
    assert lesson01.q2.check(lesson01.offline_lira_solution).correct
    assert lesson01.q3.check(lesson01.rmia_solution).correct

    def phi_with_complement(logits, labels):  # 1 - p_y rounds to 0 for a confident model
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p = (p / p.sum(axis=1, keepdims=True))[np.arange(len(labels)), labels]
        return np.log(p + 1e-45) - np.log(1 - p + 1e-45)

    assert "sum the others" in lesson01.q1.check(phi_with_complement).message

    def two_sided(phi_target, phi_out):
        return norm.logpdf(phi_target, np.mean(phi_out), np.std(phi_out))

    def wrong_tail(phi_target, phi_out):
        return norm.logsf(phi_target, np.mean(phi_out), np.std(phi_out))

    assert "one-sided" in lesson01.q2.check(two_sided).message
    assert "wrong tail" in lesson01.q2.check(wrong_tail).message

    def not_strict(ratio_x, ratio_z, gamma):
        return (np.asarray(ratio_x)[:, None] / np.asarray(ratio_z)[None] >= gamma).mean(axis=1)

    assert "strict" in lesson01.q3.check(not_strict).message


def test_lesson02_accepts_solutions_and_rejects_typical_mistakes():
    for exercise in (lesson02.q1, lesson02.q2):
        assert exercise.check(...).status == "not attempted"
        assert exercise.check(unfinished).status == "not attempted"
        assert exercise.check(crashes).status == "incorrect"
    assert lesson02.q1.check(lesson02.gap_advantage_solution).correct
    assert lesson02.q2.check(lesson02.distance_along_solution).correct
    assert lesson02.q3.check("L2").correct

    def attack_accuracy(predicted, labels, is_member):
        return ((np.asarray(predicted) == np.asarray(labels)) == np.asarray(is_member)).mean()

    def unnormalised(predict_labels, x, label, direction, radius, steps):
        length = np.linalg.norm(direction)
        return length * lesson02.distance_along_solution(
            predict_labels, x, label, direction, radius, steps
        )

    def returns_low(predict_labels, x, label, direction, radius, steps):
        return lesson02.distance_along_solution(predict_labels, x, label, direction, radius, 3) - 1

    assert "TPR - FPR" in lesson02.q1.check(attack_accuracy).message
    assert "normalise" in lesson02.q2.check(unnormalised).message
    assert lesson02.q2.check(returns_low).status == "incorrect"
    assert "label survives" in lesson02.q3.solution().message
    for wrong in ("masking", "rounding"):
        feedback = lesson02.q3.check(wrong)
        assert feedback.status == "incorrect" and "cannot change" in feedback.message
    assert "with intervals" in lesson02.q3.solution().message  # measured, not assumed
    assert "one of" in lesson02.q3.check("dropout").message


def test_lesson03_accepts_solutions_and_rejects_typical_mistakes():
    positive = lambda X, s: -lesson03.gan_leaks_solution(X, s)  # noqa: E731
    closed_ball = lambda d, radius: (np.asarray(d) <= radius).mean(axis=1)  # noqa: E731
    summed = lambda scores, sets: np.asarray(scores)[np.asarray(sets)].sum(axis=1)  # noqa: E731
    assert "minus the distance" in lesson03.q1.check(positive).message
    assert "open" in lesson03.q2.check(closed_ball).message
    assert "mean" in lesson03.q3.check(summed).message


def test_lesson04_accepts_solutions_and_rejects_typical_mistakes():
    plain_mean = lambda w, n: np.mean(w, axis=0)  # noqa: E731
    per_coordinate = lambda u, c: np.clip(u, -c, c)  # noqa: E731
    always_to_c = lambda u, c: np.asarray(u) * c / np.linalg.norm(u)  # noqa: E731
    on_the_sum = lambda z, c, m: z * c  # noqa: E731
    assert "plain mean" in lesson04.q1.check(plain_mean).message
    assert "each coordinate" in lesson04.q2.check(per_coordinate).message
    assert "stays as it is" in lesson04.q2.check(always_to_c).message
    assert "average of m" in lesson04.q3.check(on_the_sum).message


def test_lesson05_accepts_solutions_and_rejects_typical_mistakes():
    uncapped = lambda f, e, d: np.exp(e) * np.asarray(f) + d  # noqa: E731
    no_delta = lambda t, f, d: np.log(t / f)  # noqa: E731
    estimate = lambda k, n, c: k / n  # noqa: E731
    assert "cap the ceiling" in lesson05.q1.check(uncapped).message
    assert "subtract δ" in lesson05.q2.check(no_delta).message
    assert "the estimate" in lesson05.q3.check(estimate).message
    one_sided = lambda f, e, d: np.minimum(1, np.exp(e) * np.asarray(f) + d)  # noqa: E731
    one_sided_epsilon = lambda t, f, d: np.log((t - d) / f)  # noqa: E731
    assert "loose" in lesson05.q1.check(one_sided).message
    assert "swap members" in lesson05.q2.check(one_sided_epsilon).message


def test_lesson06_accepts_solutions_and_rejects_typical_mistakes():
    highest = lambda lp, k: np.sort(lp)[-max(1, int(k * len(lp))) :].mean()  # noqa: E731
    no_floor = lambda lp, k: np.sort(lp)[: int(k * len(lp))].mean()  # noqa: E731
    reversed_rank = lambda c, r: np.log2(len(r)) - np.log2(1 + np.sum(np.asarray(r) < c))  # noqa: E731
    natural = lambda c, r: np.log(len(r)) - np.log(1 + np.sum(np.asarray(r) > c))  # noqa: E731
    ties_ignored = lambda c, r: np.log2(len(r)) - np.log2(1 + np.sum(np.asarray(r) > c))  # noqa: E731
    additive = lambda e, d, k: (k * e, k * d)  # noqa: E731
    assert "least* likely" in lesson06.q1.check(highest).message
    assert "at least one" in lesson06.q1.check(no_floor).message
    assert "likeliest" in lesson06.q2.check(reversed_rank).message
    assert "bits" in lesson06.q2.check(natural).message
    assert "ties" in lesson06.q2.check(ties_ignored).message  # as attacks.exposure counts them
    assert "e^ε" in lesson06.q3.check(additive).message
    assert "k records" in lesson06.q3.check(lambda e, d, k: (e, d)).message
    loose = lambda e, d, k: (k * e, k * np.exp((k - 1) * e) * d)  # noqa: E731
    assert lesson06.q3.check(loose).correct  # the usual, looser bound is right too


def test_lesson07_accepts_solutions_and_rejects_typical_mistakes():

    def one_threshold(scores, is_member):
        return np.mean((scores >= np.median(scores)) == is_member)

    def always_lira(logits, references, population):
        return lesson07.attacks_solution(logits, True, population)

    assert "best over all thresholds" in lesson07.q1.check(one_threshold).message
    assert "references=False" in lesson07.q2.check(always_lira).message
    assert "a set" in lesson07.q2.check(lambda *case: ["loss"]).message


@pytest.mark.parametrize("exercise", [lesson08.q1, lesson08.q2, lesson08.q3], ids=repr)
def test_lesson08_placeholders_and_solutions(exercise):
    assert exercise.check(...).status == "not attempted"
    assert exercise.check(None).status == "not attempted"
    assert exercise.check(unfinished).status == "not attempted"
    assert exercise.check(crashes).status == "incorrect"
    assert exercise.check(42).status == "incorrect"  # not a function
    assert exercise.check(exercise._solution).correct
    assert "def " in exercise.solution().message and exercise.hint().message


def test_lesson08_pia_rejects_typical_mistakes():
    def gap(a, b):
        return np.abs(np.asarray(a) - np.asarray(b))

    positive = lambda a, b, p: (gap(a, b) ** p).sum(axis=1)  # noqa: E731
    root = lambda a, b, p: -((gap(a, b) ** p).sum(axis=1) ** (1 / p))  # noqa: E731
    mean = lambda a, b, p: -(gap(a, b) ** p).mean(axis=1)  # noqa: E731
    squared = lambda a, b, p: -(gap(a, b) ** 2).sum(axis=1)  # noqa: E731
    fourth = lambda a, b, p: -(gap(a, b) ** 4).sum(axis=1)  # noqa: E731
    signed = lambda a, b, p: -((np.asarray(a) - b) ** p).sum(axis=1)  # noqa: E731
    one_number = lambda a, b, p: -(gap(a, b) ** p).sum()  # noqa: E731
    assert "negate" in lesson08.q1.check(positive).message
    assert "p-th root" in lesson08.q1.check(root).message
    feedback = lesson08.q1.check(mean)
    assert "ranks the records exactly as the sum" in feedback.message
    assert "drop the division by d" in feedback.message  # the mean is explained, not accepted
    assert "squared error" in lesson08.q1.check(squared).message
    assert "not the authors' 4" in lesson08.q1.check(fourth).message
    assert "absolute value" in lesson08.q1.check(signed).message
    assert "one value per row" in lesson08.q1.check(one_number).message
    rng = np.random.default_rng(0)  # the solution itself: the papers' sign and sum
    at_0, at_t = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    expected = -np.sum(np.abs(at_0 - at_t) ** 3, axis=1)
    np.testing.assert_allclose(lesson08.pia_solution(at_0, at_t, 3), expected)


def test_lesson08_verdict_explains_the_failed_scenario():
    def ignores_blind(attack, blind):
        return "membership" if attack[0] > 0.5 else "within noise"

    def either_side(attack, blind):
        if blind[0] > 0.5 or blind[1] < 0.5:
            return "distribution shift"
        return ignores_blind(attack, blind)

    def midpoints(attack, blind):
        if sum(blind) / 2 > 0.5:
            return "distribution shift"
        return "membership" if sum(attack) / 2 > 0.5 else "within noise"

    def attack_first(attack, blind):
        if attack[0] <= 0.5:
            return "within noise"
        return lesson08.verdict_solution(attack, blind)

    def subtracts_blind(attack, blind):
        if blind[0] > 0.5 and attack[0] - blind[1] > 0.1:
            return "membership"
        return lesson08.verdict_solution(attack, blind)

    assert "differ without the model" in lesson08.q2.check(ignores_blind).message
    feedback = lesson08.q2.check(either_side)
    assert "(0.38, 0.49)" in feedback.message and "permutation test" in feedback.message
    assert "not their midpoints" in lesson08.q2.check(midpoints).message
    assert "before the attack" in lesson08.q2.check(attack_first).message
    assert "subtracting the blind AUC" in lesson08.q2.check(subtracts_blind).message
    assert "exactly" in lesson08.q2.check(lambda attack, blind: "Membership").message
    assert "exactly" in lesson08.q2.check(lambda attack, blind: np.array([1, 2])).message
    verdict = lesson08.verdict_solution
    assert verdict((0.6, 0.7), (0.55, 0.65)) == "distribution shift"
    assert verdict((0.6, 0.7), (0.38, 0.49)) == "membership"  # below 0.5: no separation
    assert verdict((0.6, 0.7), (0.45, 0.55)) == "membership"
    assert verdict((0.45, 0.7), (0.45, 0.55)) == "within noise"


def test_lesson08_extraction_rejects_typical_mistakes():
    def parts(distances):
        distances = np.asarray(distances)
        return distances[:, 0], distances.mean(axis=1)

    def absolute(distances, alpha=0.5, threshold=1.0):
        return np.asarray(distances)[:, 0] < threshold

    def without_nearest(distances, alpha=0.5, threshold=1.0):
        distances = np.asarray(distances)
        return distances[:, 0] / (alpha * distances[:, 1:].mean(axis=1)) < threshold

    def no_alpha(distances, alpha=0.5, threshold=1.0):
        nearest, mean = parts(distances)
        return nearest / mean < threshold

    def reversed_(distances, alpha=0.5, threshold=1.0):
        nearest, mean = parts(distances)
        return nearest / (alpha * mean) > threshold

    def ratio(distances, alpha=0.5, threshold=1.0):
        nearest, mean = parts(distances)
        return nearest / (alpha * mean)

    def median(distances, alpha=0.5, threshold=1.0):
        distances = np.asarray(distances)
        return distances[:, 0] / (alpha * np.median(distances, axis=1)) < threshold

    def defaults_only(distances, alpha=0.5, threshold=1.0):
        return lesson08.extracted_solution(distances)

    feedback = lesson08.q3.check(absolute)
    assert "absolute threshold" in feedback.message and "blank, typical" in feedback.message
    assert "distances[:, 1:]" in lesson08.q3.check(without_nearest).message
    assert "multiply the mean by alpha" in lesson08.q3.check(no_alpha).message
    assert "*below*" in lesson08.q3.check(reversed_).message
    assert "ℓ itself" in lesson08.q3.check(ratio).message
    as_ints = lambda d, a, t: lesson08.extracted_solution(d, a, t).astype(int)  # noqa: E731
    assert "booleans" in lesson08.q3.check(as_ints).message
    assert "booleans" not in lesson08.q3.check(median).message
    assert "not the median" in lesson08.q3.check(median).message
    assert "you are given" in lesson08.q3.check(defaults_only).message


def test_lesson08_extraction_is_normalised_by_the_neighbourhood():
    blank = [0.05, 0.05, 0.06, 0.06, 0.07]  # close to every record: typical, not a copy
    far_copy = [3.0, 10.0, 11.0, 12.0, 13.0]  # far in absolute terms, close to one record
    assert lesson08.extracted_solution(np.array([blank, far_copy])).tolist() == [False, True]
    assert lesson08.extracted_solution(np.array([far_copy]), alpha=0.5, threshold=0.5).tolist() == [
        False
    ]  # ℓ = 3 / (0.5 · 9.8) ≈ 0.61


def test_lesson09_min_k_plus_plus_accepts_the_solution_and_explains_typical_mistakes():
    q1 = lesson09.q1
    assert q1.check(...).status == "not attempted"
    assert q1.check(unfinished).status == "not attempted"
    assert q1.check(crashes).status == "incorrect"
    assert q1.check(lesson09.min_k_plus_plus_solution).correct

    def log_softmax(logits):
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def standardised(logits, ids, weighted=True, root=True):
        logp = log_softmax(np.asarray(logits, dtype=float))
        p = np.exp(logp) if weighted else np.full_like(logp, 1 / logp.shape[1])
        mu = (p * logp).sum(axis=1)
        var = (p * (logp - mu[:, None]) ** 2).sum(axis=1)
        return (logp[np.arange(len(logp)), ids] - mu) / (np.sqrt(var) if root else var)

    def lowest(values, k, rounding=math.floor):
        return float(np.sort(values)[: max(1, rounding(k * len(values)))].mean())

    def naive_softmax(logits, ids, k):  # overflows on large logits
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        logp = np.log(p)
        mu = (p * logp).sum(axis=1)
        sd = np.sqrt((p * (logp - mu[:, None]) ** 2).sum(axis=1))
        return lowest((logp[np.arange(len(logp)), ids] - mu) / sd, k)

    mistakes = {
        "square root of the variance": lambda lo, ids, k: lowest(
            standardised(lo, ids, root=False), k
        ),
        "weight": lambda lo, ids, k: lowest(standardised(lo, ids, weighted=False), k),
        "that is Min-K%": lambda lo, ids, k: lowest(
            log_softmax(np.asarray(lo, dtype=float))[np.arange(len(ids)), ids], k
        ),
        "*lowest*": lambda lo, ids, k: -lowest(-standardised(lo, ids), k),
        "rounded down": lambda lo, ids, k: lowest(standardised(lo, ids), k, math.ceil),
        "subtract each row's maximum": naive_softmax,
    }
    mistakes["at least one token"] = lambda lo, ids, k: float(
        np.sort(standardised(lo, ids))[: math.floor(k * len(ids))].mean()
    )
    for phrase, mistake in mistakes.items():
        with np.errstate(all="ignore"):
            feedback = q1.check(mistake)
        assert not feedback.correct and phrase in feedback.message, (phrase, feedback.message)

    def in_float32(logits, ids, k):  # a right answer computed in float32 passes
        return lesson09.min_k_plus_plus_solution(np.asarray(logits, dtype=np.float32), ids, k)

    with np.errstate(all="ignore"):
        assert q1.check(in_float32).correct


def test_lesson09_judgement_exercises_accept_the_answers_and_explain_each_wrong_one():
    q2, q3 = lesson09.q2, lesson09.q3
    assert q2.check(...).status == q3.check(...).status == "not attempted"
    assert q2.check({"b", "e"}).correct and q2.check(["e", "b"]).correct
    assert q2.check(lesson09.fair_nonmembers_solution).correct
    assert "dates" in q2.check({"a", "b", "e"}).message
    assert "template" in q2.check({"b", "c", "e"}).message
    assert "wrote them" in q2.check({"b", "d", "e"}).message
    assert "(e) is fair too" in q2.check({"b"}).message
    assert "lettered a to f" in q2.check({"b", "z"}).message
    assert "base model was trained" in q2.check({"b", "e", "f"}).message
    assert "set of letters" in q2.check(3).message
    assert q3.check("a").correct and q3.check(" A ").correct
    assert q3.check(lesson09.reference_solution).correct
    for letter, phrase in (
        ("b", "cancels"),
        ("c", "different distribution"),
        ("d", "2 epochs"),
        ("e", "Prefer the base"),
    ):
        assert phrase in q3.check(letter).message
    assert "one letter" in q3.check("z").message
    assert q2.hint().message and q3.solution().message.startswith('"a"')
