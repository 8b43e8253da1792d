"""Empirical lower bounds on ε: what an attack proves about a training run (lesson 05).

(ε, δ)-DP implies, for every attack and threshold, TPR ≤ e^ε · FPR + δ and, swapping the roles
of members and non-members, TNR ≤ e^ε · FNR + δ. An attack that does better than that refutes
the guarantee; how much better gives a lower bound on the ε the training really has
(Jagielski et al. 2020; Nasr et al. 2021). With finitely many records the rates are estimates,
so the bound uses Clopper-Pearson confidence bounds: the lowest TPR and the highest FPR
consistent with the counts.

A bound is only valid if its threshold was chosen without looking at the records it is
computed on: :func:`epsilon_lower_bound` chooses it on a seeded half and counts on the other.
:func:`canary_epsilon_lower_bound` is the one-run audit of Steinke, Nasr & Jagielski (2023).

:func:`audit_model` is the researcher's entry point (lesson 07): every attack that fits what it
is given, each with its ε lower bound, in one :class:`AuditReport`.
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats
from torch import nn
from tqdm.auto import tqdm

from mialab import attacks, plots
from mialab._checks import (
    boolean,
    float_array,
    fraction,
    int_labels,
    membership_labels,
    positive_int,
    real_number,
    same_length,
    seed_value,
)
from mialab.metrics import AttackResult, evaluate
from mialab.training import _features_and_labels, balanced_in_mask, predict_logits

__all__ = [
    "AuditReport",
    "audit_model",
    "canary_epsilon_lower_bound",
    "clopper_pearson",
    "epsilon_lower_bound",
]


def clopper_pearson(successes: int, trials: int, *, alpha: float) -> tuple[float, float]:
    """One-sided Clopper-Pearson bounds on a binomial rate, each at level 1 − alpha.

    Example:
        >>> [round(b, 4) for b in clopper_pearson(8, 10, alpha=0.05)]
        [0.4931, 0.9632]
    """
    for name, value in (("successes", successes), ("trials", trials)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= successes <= trials or trials < 1:
        raise ValueError(
            f"successes and trials must satisfy 0 <= successes <= trials and trials >= 1, got "
            f"successes={successes}, trials={trials}"
        )
    alpha = real_number(alpha, "alpha", low=0, high=1)
    if alpha in (0.0, 1.0):
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    low = 0.0 if successes == 0 else stats.beta.ppf(alpha, successes, trials - successes + 1)
    high = (
        1.0 if successes == trials else stats.beta.ppf(1 - alpha, successes + 1, trials - successes)
    )
    return float(low), float(high)


def _checked(scores, labels, labels_name: str, delta, confidence) -> tuple:
    """Scores, their membership labels, δ and α = 1 − confidence, each checked and named."""
    scores = float_array(scores, "scores", ndim=1)
    labels = membership_labels(labels, labels_name)
    same_length(**{"scores": scores, labels_name: labels})
    alpha = 1 - fraction(confidence, "confidence")
    if alpha <= 0:
        raise ValueError("confidence must be below 1")
    return scores, labels, fraction(delta, "delta", low_open=False), alpha


def _bound_at(scores, is_member, threshold, delta, alpha) -> float:
    """ε lower bound at one threshold: both inequalities, each rate bounded at level 1 − alpha/2."""
    guess = scores >= threshold
    positives, negatives = int(is_member.sum()), int((~is_member).sum())
    tpr_low, _ = clopper_pearson(int((guess & is_member).sum()), positives, alpha=alpha / 2)
    _, fpr_high = clopper_pearson(int((guess & ~is_member).sum()), negatives, alpha=alpha / 2)
    bounds = [0.0]
    if tpr_low - delta > 0 and fpr_high > 0:
        bounds.append(math.log((tpr_low - delta) / fpr_high))
    if 1 - fpr_high - delta > 0 and 1 - tpr_low > 0:
        bounds.append(math.log((1 - fpr_high - delta) / (1 - tpr_low)))
    return max(bounds)


def epsilon_lower_bound(
    scores,
    is_member,
    *,
    delta: float,
    confidence: float = 0.95,
    threshold: float | None = None,
    seed: int = 0,
) -> float:
    """A lower bound on ε, at the given confidence, from an attack's scores.

    ε_lb = max(ln((TPR_lo − δ) / FPR_hi), ln((1 − FPR_hi − δ) / FNR_hi), 0), with one-sided
    Clopper-Pearson bounds at level 1 − (1 − confidence)/2 each, so both hold together with
    probability ``confidence`` (a union bound). A record is guessed a member when its score is
    at least the threshold.

    Args:
        scores: ``(n,)`` attack scores, higher = more likely a member.
        is_member: ``(n,)`` membership labels.
        delta: the δ of the guarantee being audited.
        confidence: probability that the bound holds.
        threshold: with a threshold, the bound at that threshold over all the records given;
            without, the threshold maximising the bound on a seeded half of the records, and
            the bound computed on the other half.
        seed: seeds the split when no threshold is given (an int: same seed, same bound).

    Returns:
        ε_lb ≥ 0; 0 means the attack proves nothing.

    Example:
        >>> is_member = np.r_[np.ones(500, bool), np.zeros(500, bool)]
        >>> scores = is_member + np.random.default_rng(0).normal(0, 0.3, 1000)
        >>> round(epsilon_lower_bound(scores, is_member, delta=1e-5), 2)
        3.53
    """
    scores, is_member, delta, alpha = _checked(scores, is_member, "is_member", delta, confidence)
    seed = seed_value(seed)
    if threshold is not None:
        return _bound_at(scores, is_member, real_number(threshold, "threshold"), delta, alpha)
    order = np.random.default_rng(seed).permutation(len(scores))
    choose, count = order[: len(order) // 2], order[len(order) // 2 :]
    for name, part in (("choosing", choose), ("counting", count)):
        if is_member[part].all() or not is_member[part].any():
            raise ValueError(f"the {name} half holds only one class; give more records")
    candidates = np.unique(scores[choose])
    best = max(
        candidates, key=lambda t: _bound_at(scores[choose], is_member[choose], t, delta, alpha)
    )
    return _bound_at(scores[count], is_member[count], best, delta, alpha)


def _audit_p_value(m: int, guesses: int, correct: int, epsilon: float, delta: float) -> float:
    """P[≥ correct right guesses out of ``guesses``] under (ε, δ)-DP: Steinke et al. Thm 5.2."""
    q = 1 / (1 + math.exp(-epsilon))  # the accuracy of ε-DP randomised response
    tail = stats.binom.sf(correct - 1, guesses, q)
    if delta == 0 or correct == 0:
        return float(tail)
    # δ can add mass just below `correct`: the worst ratio of that mass to the shortfall i.
    below = np.cumsum(stats.binom.pmf(correct - np.arange(1, correct + 1), guesses, q))
    slack = np.max(below / np.arange(1, correct + 1))
    return float(min(1.0, tail + 2 * m * delta * slack))


def canary_epsilon_lower_bound(
    scores,
    included,
    *,
    delta: float,
    confidence: float = 0.95,
    k_plus: int | None = None,
    k_minus: int | None = None,
) -> float:
    """One-run audit (Steinke, Nasr & Jagielski 2023): ε lower bound from m canaries.

    Each of m canaries was included in training independently with probability ½. The auditor
    guesses "in" for the ``k_plus`` highest scores, "out" for the ``k_minus`` lowest, and
    abstains on the rest. Under (ε, δ)-DP the number of right guesses is at most a
    Binomial(r, e^ε / (1 + e^ε)) plus a δ term; the bound is the largest ε that this count
    still rejects at the given confidence. Fix ``k_plus`` and ``k_minus`` before looking at the
    scores (default m/10 each), or the confidence no longer holds.

    Args:
        scores: ``(m,)`` scores of the canaries, higher = more likely included.
        included: ``(m,)`` whether each canary was in the training data.
        delta: the δ of the guarantee being audited.
        confidence: probability that the bound holds.
        k_plus, k_minus: numbers of "in" and "out" guesses.

    Returns:
        ε_lb ≥ 0.

    Example:
        >>> included = np.random.default_rng(0).random(1000) < 0.5
        >>> scores = included + np.random.default_rng(1).normal(0, 0.5, 1000)
        >>> round(canary_epsilon_lower_bound(scores, included, delta=0.0), 2)
        3.44
    """
    scores, included, delta, alpha = _checked(scores, included, "included", delta, confidence)
    m = len(scores)
    k_plus = positive_int(k_plus if k_plus is not None else max(m // 10, 1), "k_plus")
    k_minus = positive_int(k_minus if k_minus is not None else max(m // 10, 1), "k_minus")
    if k_plus + k_minus > m:
        raise ValueError(f"k_plus + k_minus must be at most the {m} canaries")
    order = np.argsort(scores, kind="stable")
    correct = int(included[order[m - k_plus :]].sum() + (~included[order[:k_minus]]).sum())
    guesses = k_plus + k_minus

    def rejects(epsilon: float) -> float:  # > 0 while (ε, δ)-DP is still rejected
        return alpha - _audit_p_value(m, guesses, correct, epsilon, delta)

    if rejects(0.0) <= 0:
        return 0.0
    high = 1.0
    while rejects(high) > 0:
        high *= 2
    return float(optimize.brentq(rejects, 0.0, high, xtol=1e-6))


@dataclass(frozen=True, eq=False)
class AuditReport:
    """What :func:`audit_model` found: a table, the attacks' results, the most exposed records.

    Attributes:
        table: one row per attack: ``attack, auc, tpr_at_0.001, tpr_at_0.01, advantage,
            epsilon_lb`` (ε lower bound at ``confidence``, for the given ``delta``).
        results: each attack's :class:`~mialab.metrics.AttackResult` (scores and ROC).
        most_exposed: the records the strongest attack (highest TPR at 1% FPR) is surest are
            members: ``set`` (member / non-member), ``index`` in that set, ``score``.
        notes: what was run and what was not, and why.
        reference_logits, reference_in_mask: the reference models' outputs on the members then
            the non-members, and which record trained which model; save them to audit the same
            model again from its logits without retraining.
    """

    table: pd.DataFrame
    results: tuple
    most_exposed: pd.DataFrame
    notes: tuple
    confidence: float
    delta: float
    reference_logits: np.ndarray | None = None
    reference_in_mask: np.ndarray | None = None

    def roc_figure(self):
        """A log-log ROC of every attack, as a matplotlib figure (``.savefig("roc.png")``)."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 5))
        plots.roc(list(self.results), ax=ax, title="Membership inference audit")
        return fig

    def _caption(self) -> str:
        members, nonmembers = self.results[0].n_members, self.results[0].n_nonmembers
        return (
            f"Membership inference audit: {members} members, {nonmembers} non-members. "
            f"epsilon_lb: a lower bound on the ε of (ε, δ = {self.delta:g})-DP that holds with "
            f"{self.confidence:.0%} confidence (Clopper-Pearson, threshold chosen on half of "
            "the records); 0 means the attack proves nothing."
        )

    def to_markdown(self) -> str:
        """The report as markdown, for a paper's appendix or a model card."""
        notes = "\n".join(f"- {note}" for note in self.notes)
        return (
            f"{self._caption()}\n\n{self.table.to_markdown(index=False, floatfmt='.3g')}\n\n"
            f"{notes}\n\nMost exposed records:\n\n"
            f"{self.most_exposed.to_markdown(index=False, floatfmt='.3g')}\n"
        )

    def to_html(self) -> str:
        """The report as an HTML fragment."""
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes)
        number = "{:.3g}".format
        return (
            f"<p>{html.escape(self._caption())}</p>"
            f"{self.table.to_html(index=False, float_format=number)}<ul>{notes}</ul>"
            "<p>Most exposed records:</p>"
            f"{self.most_exposed.to_html(index=False, float_format=number)}"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return f"AuditReport\n{self.table.to_string(index=False)}"


def _outputs(model, X: np.ndarray, name: str) -> np.ndarray:
    """Logits of a torch classifier, or of any callable mapping rows to logits/log-probs."""
    if isinstance(model, nn.Module):
        try:
            return predict_logits(model, X)
        except (RuntimeError, ValueError) as error:  # e.g. a layer of another input width
            raise ValueError(
                f"{name} could not be applied to the records of members and nonmembers "
                f"({X.shape[1]} features each): {error}"
            ) from None
    if callable(model):
        logits = float_array(model(X), f"the output of {name}", ndim=2)
        if len(logits) != len(X):
            raise ValueError(f"{name} returned {len(logits)} rows for {len(X)} records")
        return logits
    raise TypeError(f"{name} must be a torch module or a function of X, got {type(model).__name__}")


def _pair(name: str, member, nonmember) -> bool:
    """Whether a member/non-member pair of arguments was given; half a pair is an error."""
    if (member is None) != (nonmember is None):
        raise ValueError(f"member_{name} needs nonmember_{name}, and the other way round")
    return member is not None


def _target(model, members, nonmembers, member_logits, nonmember_logits, member_labels,
            nonmember_labels, member_predictions, nonmember_predictions):  # fmt: skip
    """The audited records ``X`` (or None), labels ``y``, member count, and the target's
    ``logits`` or, for a label-only target, its ``predicted`` labels (the other is None)."""
    if (members is None) != (nonmembers is None):
        raise ValueError("members needs its counterpart: give members and nonmembers together")
    has_logits = _pair("logits", member_logits, nonmember_logits)
    has_predictions = _pair("predictions", member_predictions, nonmember_predictions)
    has_labels = _pair("labels", member_labels, nonmember_labels)
    if model is not None and (has_logits or has_predictions):
        raise ValueError("give either model or its outputs (member_logits=...), not both")
    if has_logits and has_predictions:
        raise ValueError("give member_logits or member_predictions, not both")
    if members is not None:
        if has_labels:
            raise ValueError("the true labels come from members and nonmembers: drop member_labels")
        (X_in, y_in), (X_out, y_out) = (
            _features_and_labels(members, "members"),
            _features_and_labels(nonmembers, "nonmembers"),
        )
        if X_in.shape[1] != X_out.shape[1]:
            raise ValueError("members and nonmembers must have the same number of features")
        X = np.concatenate([X_in, X_out])
    elif has_labels:
        X = None
        y_in, y_out = (
            int_labels(member_labels, "member_labels"),
            int_labels(nonmember_labels, "nonmember_labels"),
        )
    else:
        raise ValueError(
            "give the true labels: members=/nonmembers= or member_labels=/nonmember_labels="
        )
    y = np.concatenate([y_in, y_out])

    logits = predicted = None
    if model is not None:
        if X is None:
            raise ValueError("a model needs the records: give members=(X, y) and nonmembers=(X, y)")
        logits = _outputs(model, X, "model")
    elif has_logits:
        parts = []
        for side, values, labels in (
            ("member", member_logits, y_in),
            ("nonmember", nonmember_logits, y_out),
        ):
            parts.append(float_array(values, f"{side}_logits", ndim=2))
            same_length(**{f"{side}_logits": parts[-1], f"{side}_labels": labels})
        if parts[0].shape[1] != parts[1].shape[1]:
            raise ValueError(
                "member_logits and nonmember_logits must have the same number of classes"
            )
        logits = np.concatenate(parts)
    elif has_predictions:
        predicted = np.concatenate(
            [
                int_labels(member_predictions, "member_predictions"),
                int_labels(nonmember_predictions, "nonmember_predictions"),
            ]
        )
        same_length(predictions=predicted, labels=y)
    else:
        raise ValueError(
            "nothing to audit: give model= with members= and nonmembers=, or member_logits= and "
            "nonmember_logits=, or member_predictions= and nonmember_predictions="
        )
    if logits is not None and (logits.shape[1] < 2 or y.max() >= logits.shape[1]):
        given = "members and nonmembers" if X is not None else "member_labels and nonmember_labels"
        raise ValueError(
            f"the true labels of {given} must be class indices below the target's "
            f"{logits.shape[1]} logit columns (at least 2), got labels up to {y.max()}"
        )
    return X, y, len(y_in), logits, predicted


def _checked_references(reference_logits, reference_in_mask, logits):
    reference_logits = float_array(reference_logits, "reference_logits", ndim=3)
    if reference_in_mask is None:
        raise ValueError(
            "reference_logits needs reference_in_mask (which records trained which model)"
        )
    mask = np.asarray(reference_in_mask)
    mask = membership_labels(mask.ravel(), "reference_in_mask").reshape(mask.shape)
    if reference_logits.shape[1:] != logits.shape or mask.shape != reference_logits.shape[:2]:
        raise ValueError(
            f"reference_logits must have shape (n_references, {len(logits)}, {logits.shape[1]}) "
            f"and reference_in_mask (n_references, {len(logits)}): members first, then non-members"
        )
    return reference_logits, mask


def _row(name, score, is_member, *, delta, confidence, seed) -> tuple[AttackResult, dict]:
    result = evaluate(score, is_member, name=name)
    bound = epsilon_lower_bound(score, is_member, delta=delta, confidence=confidence, seed=seed)
    return result, {
        "attack": name, "auc": result.auc, "tpr_at_0.001": result.tpr_at(0.001),
        "tpr_at_0.01": result.tpr_at(0.01), "advantage": result.advantage, "epsilon_lb": bound,
    }  # fmt: skip


def audit_model(
    model=None,
    members=None,
    nonmembers=None,
    *,
    member_logits=None,
    nonmember_logits=None,
    member_labels=None,
    nonmember_labels=None,
    member_predictions=None,
    nonmember_predictions=None,
    train_reference=None,
    n_references: int = 16,
    reference_logits=None,
    reference_in_mask=None,
    population=None,
    delta: float = 1e-5,
    confidence: float = 0.95,
    n_exposed: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> AuditReport:
    """Audit a classifier for membership leakage in one call: every attack its inputs allow.

    Give the target in one of three ways:

    * ``model`` (a torch classifier, or any function from rows to logits or log-probabilities)
      with ``members`` and ``nonmembers`` (each a :class:`~mialab.data.Dataset` or ``(X, y)``);
    * its saved outputs: ``member_logits``, ``nonmember_logits`` and the true
      ``member_labels``, ``nonmember_labels`` (any framework; log-probabilities work too);
    * only its predicted labels: ``member_predictions``, ``nonmember_predictions`` and the true
      labels: the label-only gap attack is all that applies.

    With logits, the loss, confidence and modified-entropy threshold attacks always run. LiRA
    (online) runs when reference models are available: trained here by
    ``train_reference(X, y, seed)`` (returns a model as above), ``n_references`` of them, each
    on a random half of the members and non-members (needs the records); or given as
    ``reference_logits`` ``(n_references, n_members + n_nonmembers, n_classes)`` with
    ``reference_in_mask``. RMIA also runs when references are trained here and ``population``
    records (never used for training) are given.

    Returns:
        An :class:`AuditReport`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> member_logits = rng.normal(size=(200, 2)) + [[2.0, 0.0]]  # confident on class 0
        >>> report = audit_model(member_logits=member_logits, member_labels=np.zeros(200, int),
        ...                      nonmember_logits=rng.normal(size=(200, 2)),
        ...                      nonmember_labels=np.zeros(200, int), progress=False)
        >>> list(report.table.attack)
        ['loss', 'confidence', 'modified entropy']
        >>> bool(report.table.auc.min() > 0.8)
        True
    """
    delta = fraction(delta, "delta", low_open=False)
    if fraction(confidence, "confidence") == 1:
        raise ValueError("confidence must be below 1")
    n_exposed, seed = positive_int(n_exposed, "n_exposed"), seed_value(seed)
    progress = boolean(progress, "progress")
    if positive_int(n_references, "n_references") < 2:
        raise ValueError("n_references must be at least 2 (each record IN and OUT of some)")
    if train_reference is not None and not callable(train_reference):
        raise TypeError("train_reference must be a function train_reference(X, y, seed) -> model")
    X, y, n_members, logits, predicted = _target(
        model, members, nonmembers, member_logits, nonmember_logits, member_labels,
        nonmember_labels, member_predictions, nonmember_predictions,
    )  # fmt: skip
    is_member = np.arange(len(y)) < n_members
    if train_reference is not None and reference_logits is not None:
        raise ValueError("give train_reference or reference_logits, not both")
    if logits is None and (train_reference is not None or reference_logits is not None):
        raise ValueError("reference models need the target's logits, not only its labels")
    if train_reference is not None and X is None:
        raise ValueError("train_reference needs the records: give members= and nonmembers=")

    if logits is None:
        scores = {"gap (label-only)": attacks.gap_score(predicted, y)}
        notes = ["Only predicted labels were given: the label-only gap attack, whose advantage "
                 "is train minus test accuracy (Yeom et al. 2018)."]  # fmt: skip
    else:
        scores = {
            "loss": attacks.loss_score(logits, y),
            "confidence": attacks.confidence_score(logits, y),
            "modified entropy": attacks.modified_entropy_score(logits, y),
        }
        notes = []

    references = []
    if train_reference is not None:
        reference_in_mask = balanced_in_mask(n_references, len(y), seed=seed)
        for i, mask in enumerate(
            tqdm(reference_in_mask, desc="reference models", disable=not progress)
        ):
            references.append(train_reference(X[mask], y[mask], seed + i))
        reference_logits = np.stack([_outputs(r, X, "a reference model") for r in references])
    if reference_logits is not None:
        reference_logits, reference_in_mask = _checked_references(
            reference_logits, reference_in_mask, logits
        )
        n = len(reference_logits)
        with warnings.catch_warnings():  # the note below says what the warning would
            warnings.filterwarnings("ignore", ".*records have no IN or no OUT", UserWarning)
            lira = attacks.LiRA(online=True, fix_variance=n < 64).fit(
                reference_logits, reference_in_mask, y
            )
        scores["LiRA"] = lira.score(logits, y)
        how = ("each trained on a random half of the audited records (every record IN for half "
               "of them)" if references else "and the reference_in_mask given")  # fmt: skip
        notes.append(f"LiRA (online{', fixed variance' if n < 64 else ''}) with {n} reference "
                     f"models, {how}.")  # fmt: skip
        if lira.unscored_.any():
            notes.append(f"LiRA could not score {lira.unscored_.sum()} of {len(y)} records (no IN "
                         "or no OUT reference model): its row covers the others only; "
                         "training.balanced_in_mask gives every record both.")  # fmt: skip
    elif logits is not None:
        notes.append("No reference models: LiRA and RMIA were not run (give train_reference= or "
                     "reference_logits=); the threshold attacks are weaker, so a low score here "
                     "is not evidence of safety.")  # fmt: skip
    if references and population is not None and model is not None:
        X_pop, y_pop = _features_and_labels(population, "population")
        on_population = np.stack([_outputs(r, X_pop, "a reference model") for r in references])
        rmia = attacks.RMIA(online=True).fit(
            reference_logits, reference_in_mask, y,
            population_logits=on_population, population_labels=y_pop,
        )  # fmt: skip
        scores["RMIA"] = rmia.score(logits, y, population_logits=_outputs(model, X_pop, "model"))
        notes.append(f"RMIA (online) against {len(y_pop)} population records.")
    elif logits is not None:
        notes.append("RMIA was not run: it needs model=, train_reference= and population=(X, y), "
                     "records no model trained on.")  # fmt: skip

    scored = {name: np.flatnonzero(np.isfinite(score)) for name, score in scores.items()}
    results, rows = zip(*(
        _row(name, score[scored[name]], is_member[scored[name]], delta=delta,
             confidence=confidence, seed=seed)
        for name, score in tqdm(scores.items(), desc="attacks", disable=not progress)
    ), strict=True)  # fmt: skip
    table = pd.DataFrame(list(rows))
    strongest = results[int(np.lexsort((table.auc, table["tpr_at_0.01"]))[-1])]
    top = scored[strongest.name][np.argsort(-strongest.scores, kind="stable")[:n_exposed]]
    most_exposed = pd.DataFrame({
        "set": np.where(is_member[top], "member", "non-member"),
        "index": np.where(is_member[top], top, top - n_members),
        "score": scores[strongest.name][top],
        "attack": strongest.name,
    })  # fmt: skip
    return AuditReport(table, results, most_exposed, tuple(notes), confidence, delta,
                       reference_logits, reference_in_mask)  # fmt: skip
