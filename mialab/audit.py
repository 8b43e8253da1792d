"""Empirical lower bounds on ε: what an attack proves about a training run (lesson 05).

(ε, δ)-DP implies, for every attack and threshold, TPR ≤ e^ε · FPR + δ and, swapping the roles
of members and non-members, TNR ≤ e^ε · FNR + δ, where the rates are probabilities over the
training's randomness for one pair of neighbouring datasets. An attack that does better than
that refutes the guarantee; how much better gives a lower bound on the ε the training really has.

Two bounds, with different assumptions:

* :func:`epsilon_lower_bound` counts true and false positives and bounds the rates with
  Clopper-Pearson intervals, so it treats every (score, membership) pair as an independent
  trial. That is what the rates mean when each trial retrains a model with or without the
  record (Jagielski et al. 2020; Nasr et al. 2021): then the bound is rigorous. Over the records
  of **one** trained model the trials are neither independent nor draws of the DP game, so the
  same number is a heuristic per-record ε estimate, not a proof.
* :func:`canary_epsilon_lower_bound` is the one-run audit of Steinke, Nasr & Jagielski (2023):
  rigorous from a single training run, provided each audited record ("canary") was put in the
  training data independently with probability ½.

A bound is only valid if its threshold (or its numbers of guesses) was chosen without looking at
the records it is computed on: :func:`epsilon_lower_bound` chooses it on a seeded half and counts
on the other; :func:`canary_epsilon_lower_bound` takes its numbers of guesses fixed in advance.

:func:`audit_model` is the researcher's entry point (lesson 07): every attack that fits what it
is given, each with its bound (the heuristic, or the one-run bound when the audited records'
membership was randomised), Bonferroni-corrected over the attacks, in one :class:`AuditReport`.
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
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
    """A lower bound on ε from an attack's scores, if the records are independent trials.

    ε_lb = max(ln((TPR_lo − δ) / FPR_hi), ln((1 − FPR_hi − δ) / FNR_hi), 0), with one-sided
    Clopper-Pearson bounds at level 1 − (1 − confidence)/2 each, so both hold together with
    probability ``confidence`` (a union bound). A record is guessed a member when its score is
    at least the threshold.

    What it assumes: each (score, membership) pair is an independent trial of the DP game, one
    training run per trial with the record in or out (Jagielski et al. 2020; Nasr et al. 2021).
    Then the bound holds with probability ``confidence``. Over the records of **one** trained
    model it is a heuristic per-record ε estimate, not a proof: the records share one training
    run, and DP bounds rates over that run's randomness, not over a population of records. For
    a rigorous bound from one run, randomise the audited records' membership and use
    :func:`canary_epsilon_lower_bound`.

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
        ε_lb ≥ 0; 0 means the attack found nothing at this sample size.

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
    """P[≥ ``correct`` right guesses out of ``guesses``] under (ε, δ)-DP with m canaries.

    Steinke, Nasr & Jagielski (2023), Theorem 5.2 and their Appendix D: with
    q = e^ε / (1 + e^ε) and B ~ Binomial(guesses, q), the p-value is
    P[B ≥ v] + 2 m δ · max_{1 ≤ i ≤ v} P[v − i ≤ B < v] / i, capped at 1 (v = ``correct``).
    """
    q = 1 / (1 + math.exp(-epsilon))  # the accuracy of ε-DP randomised response
    tail = float(stats.binom.sf(correct - 1, guesses, q))
    if delta == 0 or correct == 0:
        return min(1.0, tail)
    shortfall = np.arange(1, correct + 1)
    below = np.cumsum(stats.binom.pmf(correct - shortfall, guesses, q))  # P[v − i ≤ B < v]
    return min(1.0, tail + 2 * m * delta * float(np.max(below / shortfall)))


def _one_run_bound(scores, included, *, m, delta, alpha, k_plus, k_minus, seed) -> float:
    """The one-run bound on checked inputs; ``m`` (≥ len(scores)) canaries for the δ term."""
    n = len(scores)
    # Ties are broken in a seeded random order, never by the records' order (which may follow
    # membership: with members first, constant scores would "guess" them all).
    shuffled = np.random.default_rng(seed).permutation(n)
    order = shuffled[np.argsort(scores[shuffled], kind="stable")]
    correct = int(included[order[n - k_plus :]].sum() + (~included[order[:k_minus]]).sum())
    guesses = k_plus + k_minus

    def rejected(epsilon: float) -> bool:  # (ε, δ)-DP is rejected at level alpha
        return _audit_p_value(m, guesses, correct, epsilon, delta) <= alpha

    if not rejected(0.0):
        return 0.0
    low, high = 0.0, 1.0  # rejected(low) holds throughout; rejected(high) does not
    while rejected(high):
        low, high = high, 2 * high
    while high - low > 1e-9 * max(1.0, high):  # bisection, as in the paper's Appendix D
        middle = (low + high) / 2
        low, high = (middle, high) if rejected(middle) else (low, middle)
    return low


def canary_epsilon_lower_bound(
    scores,
    included,
    *,
    delta: float,
    confidence: float = 0.95,
    k_plus: int | None = None,
    k_minus: int | None = None,
    seed: int = 0,
) -> float:
    """One-run audit (Steinke, Nasr & Jagielski 2023): ε lower bound from m canaries.

    Each of m canaries was included in training independently with probability ½; that
    randomisation is what makes the bound rigorous from a single training run (without it, use
    the records as independent trials only with care: see :func:`epsilon_lower_bound`). The
    auditor guesses "in" for the ``k_plus`` highest scores, "out" for the ``k_minus`` lowest,
    and abstains on the rest; tied scores are ordered at random (seeded by ``seed``). Under
    (ε, δ)-DP the number v of right guesses out of r = k_plus + k_minus has p-value
    P[B ≥ v] + 2mδ · max_{1≤i≤v} P[v − i ≤ B < v] / i with B ~ Binomial(r, e^ε / (1 + e^ε))
    (their Theorem 5.2); the bound is the largest ε that this p-value still rejects at level
    1 − ``confidence``. Fix ``k_plus`` and ``k_minus`` before looking at the scores (default
    m/10 each), or the confidence no longer holds.

    Args:
        scores: ``(m,)`` scores of the canaries, higher = more likely included.
        included: ``(m,)`` whether each canary was in the training data.
        delta: the δ of the guarantee being audited.
        confidence: probability that the bound holds.
        k_plus, k_minus: numbers of "in" and "out" guesses.
        seed: seeds the order of tied scores (an int: same seed, same bound).

    Returns:
        ε_lb ≥ 0.

    Example:
        >>> included = np.random.default_rng(0).random(1000) < 0.5
        >>> scores = included + np.random.default_rng(1).normal(0, 0.5, 1000)
        >>> round(canary_epsilon_lower_bound(scores, included, delta=0.0), 2)
        3.44
    """
    scores, included, delta, alpha = _checked(scores, included, "included", delta, confidence)
    m, seed = len(scores), seed_value(seed)
    k_plus = positive_int(k_plus if k_plus is not None else max(m // 10, 1), "k_plus")
    k_minus = positive_int(k_minus if k_minus is not None else max(m // 10, 1), "k_minus")
    if k_plus + k_minus > m:
        raise ValueError(f"k_plus + k_minus must be at most the {m} canaries")
    return _one_run_bound(
        scores, included, m=m, delta=delta, alpha=alpha, k_plus=k_plus, k_minus=k_minus, seed=seed
    )


_FPRS = (0.001, 0.01)  # the report's low false-positive rates


def _tpr_column(fpr: float) -> str:
    return f"tpr_at_{fpr:g}"


def _percent(value: float) -> str:
    return f"{100 * value:.3g}%"


@dataclass(frozen=True, eq=False)
class AuditReport:
    """What :func:`audit_model` found: a table, the attacks' results, the most exposed records.

    Attributes:
        table: one row per attack: ``attack``; ``auc``, ``tpr_at_0.001``, ``tpr_at_0.01`` and
            ``advantage``, each followed by its bootstrap interval (``auc_low``, ``auc_high``,
            ...) at ``confidence``; a TPR is NaN where the non-members are too few to measure
            it (an FPR below 1/n_nonmembers). The last column is the attack's ε bound for the
            given ``delta``, at level :attr:`bound_confidence` (Bonferroni over the attacks):
            ``epsilon_heuristic``, a per-record ε estimate that is not a proof, or, when the
            audited records' membership was randomised, ``epsilon_lb``, the one-run lower bound
            of Steinke et al. (2023).
        results: each attack's :class:`~mialab.metrics.AttackResult` (scores and ROC).
        most_exposed: the records the strongest attack (highest TPR at 1% FPR, then AUC; AUC
            alone where that TPR is not measurable) is surest are members: ``set`` (member /
            non-member), ``index`` in that set, ``score``.
        notes: what was run and what was not, and why.
        confidence: the level of the intervals, and of all the bounds together.
        delta: the δ of the guarantee the bounds are about.
        reference_logits, reference_in_mask: the reference models' outputs on the members then
            the non-members, and which record trained which model; save them to audit the same
            model again from its logits without retraining.
        membership_randomized: whether the bound column is the one-run bound.
    """

    table: pd.DataFrame
    results: tuple
    most_exposed: pd.DataFrame
    notes: tuple
    confidence: float
    delta: float
    reference_logits: np.ndarray | None = None
    reference_in_mask: np.ndarray | None = None
    membership_randomized: bool = False

    @property
    def bound_column(self) -> str:
        """``epsilon_lb`` (one-run, rigorous) or ``epsilon_heuristic`` (per-record estimate)."""
        return "epsilon_lb" if self.membership_randomized else "epsilon_heuristic"

    @property
    def bound_confidence(self) -> float:
        """Each attack's bound level: 1 − (1 − confidence) / n_attacks (Bonferroni)."""
        return 1 - (1 - self.confidence) / len(self.results)

    def roc_figure(self):
        """A log-log ROC of every attack, as a matplotlib figure (``.savefig("roc.png")``)."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 5))
        plots.roc(list(self.results), ax=ax, title="Membership inference audit")
        return fig

    def _caption(self) -> str:
        members, nonmembers = self.results[0].n_members, self.results[0].n_nonmembers
        n, column = len(self.results), self.bound_column
        text = (
            f"Membership inference audit: {members} members, {nonmembers} non-members. "
            f"auc, tpr_at_*, advantage: estimate [{self.confidence:.0%} stratified bootstrap "
            "interval], each attack on its own. "
        )
        if self.membership_randomized:
            text += (
                f"{column}: a lower bound on the ε of (ε, δ = {self.delta:g})-DP, the one-run "
                "audit of Steinke, Nasr & Jagielski (2023) (guesses on the 10% highest and 10% "
                "lowest scores, fixed in advance), rigorous given that each audited record's "
                "membership was randomised independently with probability ½ "
                "(membership_randomized=True). "
            )
        else:
            text += (
                f"{column}: a heuristic per-record ε estimate for (ε, δ = {self.delta:g})-DP, "
                "not a proof: Clopper-Pearson bounds on TPR and FPR (threshold chosen on half "
                "of the records) treat the records of one trained model as independent trials "
                "of the DP game, which they are not. A rigorous bound needs retrained models, "
                "or records whose membership was randomised (membership_randomized=True). "
            )
        if n > 1:
            text += (
                f"Bonferroni over the {n} attacks: each {column} at level "
                f"{_percent(self.bound_confidence)}, so that all {n} hold together with "
                f"{self.confidence:.0%} confidence"
            )
        else:
            text += f"{column} at {self.confidence:.0%} confidence"
        if not self.membership_randomized:
            text += " (if the records were independent trials)"
        return text + "; 0 means the attack found nothing at this sample size."

    def _shown(self) -> pd.DataFrame:
        """The table for reading: "estimate [low, high]" per cell, "—" where not measurable."""

        def interval(row, column: str) -> str:
            value = row[column]
            if np.isnan(value):
                return "—"
            return f"{value:.3f} [{row[f'{column}_low']:.3f}, {row[f'{column}_high']:.3f}]"

        columns = ["auc", *(_tpr_column(f) for f in _FPRS), "advantage"]
        shown = pd.DataFrame({"attack": self.table.attack})
        for column in columns:
            shown[column] = [interval(row, column) for _, row in self.table.iterrows()]
        shown[self.bound_column] = [f"{v:.3g}" for v in self.table[self.bound_column]]
        return shown

    def _unmeasurable_note(self) -> str:
        """What "—" means, when the table has one."""
        parts = []
        for fpr in _FPRS:
            missing = self.table[_tpr_column(fpr)].isna().to_numpy()
            if missing.any():
                pairs = zip(self.results, missing, strict=True)
                have = sorted({result.n_nonmembers for result, gone in pairs if gone})
                needed = math.ceil(1 / fpr - 1e-9)
                parts.append(
                    f"TPR at {_percent(fpr)} FPR needs at least {needed} non-members, this audit "
                    f"has {' or '.join(map(str, have))}"
                )
        if not parts:
            return ""
        return f"— : not measurable ({'; '.join(parts)}). A TPR there is not 0, it is unknown."

    def to_markdown(self) -> str:
        """The report as markdown, for a paper's appendix or a model card."""
        notes = "\n".join(f"- {note}" for note in self.notes)
        unmeasurable = self._unmeasurable_note()
        return (
            f"{self._caption()}\n\n{self._shown().to_markdown(index=False)}\n\n"
            + (f"{unmeasurable}\n\n" if unmeasurable else "")
            + f"{notes}\n\nMost exposed records:\n\n"
            f"{self.most_exposed.to_markdown(index=False, floatfmt='.3g')}\n"
        )

    def to_html(self) -> str:
        """The report as an HTML fragment."""
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes)
        unmeasurable = self._unmeasurable_note()
        return (
            f"<p>{html.escape(self._caption())}</p>"
            f"{self._shown().to_html(index=False)}"
            + (f"<p>{html.escape(unmeasurable)}</p>" if unmeasurable else "")
            + f"<ul>{notes}</ul><p>Most exposed records:</p>"
            f"{self.most_exposed.to_html(index=False, float_format='{:.3g}'.format)}"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        unmeasurable = self._unmeasurable_note()
        return f"AuditReport\n{self._shown().to_string(index=False)}" + (
            f"\n{unmeasurable}" if unmeasurable else ""
        )


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


def _row(result: AttackResult, bound_column: str, bound: float) -> dict:
    row = {"attack": result.name, "auc": result.auc}
    row["auc_low"], row["auc_high"] = result.auc_ci
    for fpr in _FPRS:
        column = _tpr_column(fpr)
        row[column] = result.tpr_at(fpr)
        row[f"{column}_low"], row[f"{column}_high"] = result.tpr_ci(fpr)
    row["advantage"] = result.advantage
    row["advantage_low"], row["advantage_high"] = result.advantage_ci
    row[bound_column] = bound
    return row


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
    membership_randomized: bool = False,
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

    Each attack's row gives its AUC, TPR at 0.1% and 1% FPR and advantage with bootstrap
    intervals at ``confidence``, and an ε bound for ``delta``:

    * by default ``epsilon_heuristic``, :func:`epsilon_lower_bound` over the audited records: a
      per-record ε estimate, **not a proof**, since one trained model's records are not the
      independent trials that bound assumes;
    * with ``membership_randomized=True``, ``epsilon_lb``, the one-run bound of Steinke, Nasr &
      Jagielski (2023) (:func:`canary_epsilon_lower_bound`, guessing on the 10% highest and
      10% lowest scores) over the audited records, a rigorous lower bound. Pass True only if
      each audited record was put in the training data independently with probability ½ (a
      coin per record, e.g. ``rng.random(n) < 0.5``) and the rest of the training data did not
      depend on those coins; a split of fixed size such as :func:`mialab.data.membership_split`
      is not covered by that theorem.

    The bounds are Bonferroni-corrected over the attacks: with n attacks each is computed at
    level 1 − (1 − ``confidence``) / n, so that all hold together with ``confidence``. The
    report's caption says which bound it shows and at what level.

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
    membership_randomized = boolean(membership_randomized, "membership_randomized")
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
    alpha = (1 - confidence) / len(scores)  # Bonferroni: all the bounds hold together
    bound_column = "epsilon_lb" if membership_randomized else "epsilon_heuristic"
    results, rows = [], []
    for name, score in tqdm(scores.items(), desc="attacks", disable=not progress):
        keep = scored[name]
        result = evaluate(score[keep], is_member[keep], name=name, confidence=confidence, seed=seed)
        if membership_randomized:
            k = max(len(keep) // 10, 1)  # fixed by the counts alone, before any score is seen
            bound = _one_run_bound(score[keep], is_member[keep], m=len(y), delta=delta,
                                   alpha=alpha, k_plus=k, k_minus=k, seed=seed)  # fmt: skip
        else:
            bound = epsilon_lower_bound(score[keep], is_member[keep], delta=delta,
                                        confidence=1 - alpha, seed=seed)  # fmt: skip
        results.append(result)
        rows.append(_row(result, bound_column, bound))
    table = pd.DataFrame(rows)
    if membership_randomized:
        notes.append("membership_randomized=True: each audited record was put in the "
                     "training data independently with probability ½, so the one-run bound "
                     "applies.")  # fmt: skip
    low_fpr = table["tpr_at_0.01"].fillna(-1.0)  # not measurable: rank by AUC alone
    strongest = results[int(np.lexsort((table.auc, low_fpr))[-1])]
    top = scored[strongest.name][np.argsort(-strongest.scores, kind="stable")[:n_exposed]]
    most_exposed = pd.DataFrame({
        "set": np.where(is_member[top], "member", "non-member"),
        "index": np.where(is_member[top], top, top - n_members),
        "score": scores[strongest.name][top],
        "attack": strongest.name,
    })  # fmt: skip
    return AuditReport(table, tuple(results), most_exposed, tuple(notes), confidence, delta,
                       reference_logits, reference_in_mask, membership_randomized)  # fmt: skip
