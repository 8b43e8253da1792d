"""Exercises of lesson 00 (threat model and metrics).

Example:
    >>> from mialab.exercises import lesson00
    >>> lesson00.q2.check(lesson00.posterior_solution).correct
    True
"""

from __future__ import annotations

import numpy as np

from mialab.attacks import loss_score
from mialab.data import membership_labels
from mialab.exercises.framework import Exercise, call_for_array, call_for_number

__all__ = ["q1", "q2", "q3"]


# q1: the loss attack by hand -----------------------------------------------------------------


def loss_score_solution(logits, labels):
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)  # avoids overflow in exp
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return log_probs[np.arange(len(labels)), labels]  # minus the loss: higher = member


def _check_loss_score(function):
    rng = np.random.default_rng(0)
    cases = [
        ("small logits", rng.normal(size=(50, 10)), rng.integers(0, 10, size=50)),
        ("very large logits", 800 * rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)),
    ]
    for what, logits, labels in cases:
        value, problem = call_for_array(function, labels.shape, logits.copy(), labels.copy())
        if problem:
            return problem
        expected = loss_score(logits, labels)
        if not np.all(np.isfinite(value)):
            return (
                f"on {what} your scores contain NaN or inf. exp() overflows for large logits: "
                "subtract each row's maximum before exponentiating."
            )
        if np.allclose(value, -expected):
            return "you returned the loss itself. Members have *low* loss: return minus the loss."
        if np.allclose(value, np.exp(expected)):
            return "that is the probability of the true label; the loss is minus its logarithm."
        if not np.allclose(value, expected, rtol=1e-6, atol=1e-9):
            return f"on {what} your scores differ from minus the cross-entropy loss."
    return None


q1 = Exercise(
    "q1",
    _check_loss_score,
    hint=(
        "The cross-entropy loss of a row is -log softmax(logits)[label]. Compute log-softmax "
        "stably: subtract the row's maximum, then take log-sum-exp. Return minus the loss."
    ),
    solution=loss_score_solution,
)


# q2: Bayes' rule, done right ------------------------------------------------------------------


def posterior_solution(prior, tpr, fpr):
    flagged_member = prior * tpr  # P(flagged and member)
    flagged_nonmember = (1 - prior) * fpr  # P(flagged and non-member)
    return flagged_member / (flagged_member + flagged_nonmember)


def _check_posterior(function):
    grid = [(0.5, 0.5, 0.1), (0.01, 0.6, 0.01), (0.5, 0.02, 0.001), (0.1, 0.9, 0.3)]
    for prior, tpr, fpr in grid:
        value, problem = call_for_number(function, prior, tpr, fpr)
        if problem:
            return problem
        expected = posterior_solution(prior, tpr, fpr)
        if np.isclose(value, 1 - expected):
            return (
                "that is P(non-member | flagged): the event in the numerator must be the one "
                "you ask about. This is the seed article's mistake."
            )
        if np.isclose(value, tpr) and not np.isclose(tpr, expected):
            return "that is P(flagged | member), the TPR. Bayes' rule also needs the prior and FPR."
        if not np.isclose(value, expected):
            return (
                f"for prior={prior}, TPR={tpr}, FPR={fpr} the answer is not {value:.4g}. "
                "Weigh each kind of flagged record by how common it is."
            )
    return None


q2 = Exercise(
    "q2",
    _check_posterior,
    hint=(
        "Among all flagged records, what fraction are members? A member is flagged with "
        "probability TPR and a non-member with probability FPR; members make up `prior` of all."
    ),
    solution=posterior_solution,
)


# q3: TPR at a fixed FPR ---------------------------------------------------------------------------


def tpr_at_fpr_solution(scores, is_member, fpr):
    from sklearn.metrics import roc_curve

    # drop_intermediate=False keeps every threshold: by default roc_curve drops the points on
    # straight stretches of the curve, and those are real operating points an attacker can use.
    fprs, tprs, _ = roc_curve(is_member, scores, drop_intermediate=False)
    return tprs[fprs <= fpr].max()  # the best threshold that respects the FPR budget


def _tpr_at_fpr_dropped(scores, is_member, fpr):
    """The typical mistake: roc_curve's default drop_intermediate=True loses operating points."""
    from sklearn.metrics import roc_curve

    fprs, tprs, _ = roc_curve(is_member, scores)
    return tprs[fprs <= fpr].max()


def _tpr_at_fpr_cases():
    """(what, scores, is_member, fprs): ties on straight ROC stretches, then a larger random set.

    Every FPR asked for is at least 1/n_nonmembers, so each TPR is measurable.
    """
    # Each tied pair holds one member and one non-member: the ROC climbs in a straight line
    # (0, 0), (0.2, 1/3), (0.4, 2/3), (0.6, 1), whose middle points drop_intermediate removes.
    ties = (np.array([3, 3, 2, 2, 1, 1, 0, 0.0]), np.array([1, 0, 1, 0, 1, 0, 0, 0], bool))
    rng = np.random.default_rng(3)
    is_member = membership_labels(200, 200)
    scores = np.round(rng.normal(size=400) + 0.8 * is_member, 1)  # rounding makes ties
    return [
        ("8 tied scores", *ties, (0.2, 0.4, 0.6)),
        ("400 rounded scores", scores, is_member, (0.005, 0.01, 0.05, 0.1, 0.25)),
    ]


def _check_tpr_at_fpr(function):
    for what, scores, is_member, fprs in _tpr_at_fpr_cases():
        for fpr in fprs:
            value, problem = call_for_number(function, scores.copy(), is_member.copy(), fpr)
            if problem:
                return problem
            expected = tpr_at_fpr_solution(scores, is_member, fpr)
            if np.isclose(value, expected):
                continue
            if np.isclose(value, _tpr_at_fpr_dropped(scores, is_member, fpr)):
                return (
                    f"on {what} at FPR {fpr} you return TPR {value:.4f}, but a threshold "
                    f"reaches {expected:.4f}. roc_curve drops the points on straight stretches "
                    "of the curve unless you pass drop_intermediate=False, and those are real "
                    "thresholds."
                )
            return (
                f"on {what} at FPR {fpr} you return TPR {value:.4f}; the highest TPR whose FPR "
                f"is at most {fpr} is different. Do not interpolate between ROC points, and do "
                "not exceed the FPR budget."
            )
    return None


q3 = Exercise(
    "q3",
    _check_tpr_at_fpr,
    hint=(
        "sklearn.metrics.roc_curve(is_member, scores, drop_intermediate=False) gives the "
        "(FPR, TPR) of every threshold; without drop_intermediate=False it leaves some out. "
        "Keep the points whose FPR is within the budget and take the largest TPR among them."
    ),
    solution=tpr_at_fpr_solution,
)
