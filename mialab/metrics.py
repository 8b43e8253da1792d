"""How strong is an attack? ROC, AUC, TPR at a low FPR, membership advantage (lesson 00).

Carlini et al. (2022) argue that an attack matters when it identifies *some* members with near
certainty, so we report the true-positive rate at fixed low false-positive rates next to the AUC,
and plot ROC curves on log-log axes. ROC and AUC come from scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from mialab._checks import (
    float_array,
    fraction,
    is_number,
    membership_labels,
    same_length,
    to_numpy,
)

__all__ = [
    "AttackResult",
    "Confusion",
    "evaluate",
    "results_table",
    "confusion_at",
    "threshold_at_fpr",
]

DEFAULT_FPRS = (0.001, 0.01, 0.1)


def _percent(value: float) -> str:
    return f"{100 * value:.3g}%"


@dataclass(frozen=True, eq=False, repr=False)
class AttackResult:
    """Scores of one attack on a challenge set, with its ROC curve. Made by :func:`evaluate`."""

    name: str
    scores: np.ndarray
    is_member: np.ndarray
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float

    @property
    def n_members(self) -> int:
        return int(self.is_member.sum())

    @property
    def n_nonmembers(self) -> int:
        return int((~self.is_member).sum())

    @property
    def min_fpr(self) -> float:
        """The smallest non-zero FPR this challenge set can measure: one non-member in all."""
        return 1.0 / self.n_nonmembers

    def tpr_at(self, fpr: float) -> float:
        """The highest TPR among thresholds whose FPR does not exceed ``fpr`` (no interpolation).

        Below :attr:`min_fpr` this is the TPR at an FPR of exactly zero.
        """
        fpr = fraction(fpr, "fpr")
        return float(self.tpr[self.fpr <= fpr].max())

    @property
    def advantage(self) -> float:
        """Membership advantage (Yeom et al. 2018): max over thresholds of TPR - FPR."""
        return float(np.max(self.tpr - self.fpr))

    def summary(self, fprs=DEFAULT_FPRS) -> dict:
        """AUC, TPR at each of ``fprs`` and the advantage, as a dict keyed by column name."""
        row = {"AUC": self.auc}
        row.update({f"TPR@{_percent(f)}FPR": self.tpr_at(f) for f in fprs})
        row["advantage"] = self.advantage
        return row

    def __repr__(self) -> str:
        rates = ", ".join(f"TPR@{_percent(f)}FPR={_percent(self.tpr_at(f))}" for f in DEFAULT_FPRS)
        return (
            f"AttackResult({self.name!r}: AUC={self.auc:.3f}, {rates}, "
            f"advantage={self.advantage:.3f}, members={self.n_members}, "
            f"nonmembers={self.n_nonmembers})"
        )

    def plot(self, ax=None, **kwargs):
        """Log-log ROC curve of this result; see :func:`mialab.plots.roc`."""
        from mialab import plots  # imported here: plots builds on metrics, not the reverse

        return plots.roc([self], ax=ax, **kwargs)


def _scores(scores) -> np.ndarray:
    """Finite float64 scores; NaN gets a message on where it comes from and how to drop it."""
    array = to_numpy(scores, "scores")
    if np.issubdtype(array.dtype, np.floating) and array.ndim == 1 and np.isnan(array).any():
        raise ValueError(
            f"scores holds {np.isnan(array).sum()} NaN value(s): an attack gives NaN to records "
            "it cannot score (LiRA without an IN or OUT reference model for them); evaluate the "
            "others: keep = np.isfinite(scores); evaluate(scores[keep], is_member[keep])"
        )
    return float_array(array, "scores", ndim=1)


def evaluate(scores, is_member, *, name: str = "attack") -> AttackResult:
    """Evaluate attack scores against the truth.

    Args:
        scores: ``(n,)`` scores, higher = more likely a member.
        is_member: ``(n,)`` 1/True for members, 0/False for non-members; both must occur.
        name: label used in tables and plot legends.

    Returns:
        An :class:`AttackResult` with ``.auc``, ``.tpr_at(fpr)``, ``.advantage`` and the ROC.

    Example:
        >>> result = evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], name="toy")
        >>> result.auc, result.tpr_at(0.25), result.tpr_at(0.5), result.advantage
        (0.75, 0.5, 1.0, 0.5)
    """
    scores = _scores(scores)
    is_member = membership_labels(is_member)
    same_length(scores=scores, is_member=is_member)
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    fpr, tpr, thresholds = roc_curve(is_member, scores, drop_intermediate=False)
    return AttackResult(
        name=name,
        scores=scores,
        is_member=is_member,
        fpr=fpr,
        tpr=tpr,
        thresholds=thresholds,
        auc=float(roc_auc_score(is_member, scores)),
    )


def results_table(results, *, fprs=DEFAULT_FPRS) -> pd.DataFrame:
    """One row per attack: AUC, TPR at each of ``fprs``, advantage.

    Example:
        >>> a = evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], name="a")
        >>> results_table([a]).round(2)
            AUC  TPR@0.1%FPR  TPR@1%FPR  TPR@10%FPR  advantage
        a  0.75          0.5        0.5         0.5        0.5
    """
    if isinstance(results, AttackResult):
        results = [results]
    if isinstance(results, (str, bytes)) or not hasattr(results, "__iter__"):
        raise TypeError("results must be a non-empty sequence of AttackResult")
    results = list(results)
    if not results or not all(isinstance(r, AttackResult) for r in results):
        raise TypeError("results must be a non-empty sequence of AttackResult")
    if isinstance(fprs, (str, bytes)) or not hasattr(fprs, "__iter__"):
        raise TypeError(f"fprs must be a sequence of false-positive rates, got {fprs!r}")
    fprs = tuple(fraction(f, "fprs") for f in fprs)
    if not fprs:
        raise ValueError("fprs is empty")
    return pd.DataFrame([r.summary(fprs) for r in results], index=[r.name for r in results])


@dataclass(frozen=True)
class Confusion:
    """What an attack that flags ``score >= threshold`` as a member gets right and wrong."""

    threshold: float
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int

    def __post_init__(self):
        if not is_number(self.threshold):
            raise TypeError(f"threshold must be a number, got {type(self.threshold).__name__}")
        if np.isnan(self.threshold):
            raise ValueError("threshold must not be NaN")
        for name in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            count = getattr(self, name)
            if isinstance(count, (bool, np.bool_)) or not isinstance(count, (int, np.integer)):
                raise TypeError(f"{name} must be an int count, got {type(count).__name__}")
            if count < 0:
                raise ValueError(f"{name} must be a count (>= 0), got {count}")

    @property
    def tpr(self) -> float:
        """Fraction of members flagged (NaN when there are no members)."""
        return _ratio(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def fpr(self) -> float:
        """Fraction of non-members flagged (NaN when there are no non-members)."""
        return _ratio(self.false_positives, self.false_positives + self.true_negatives)

    @property
    def precision(self) -> float:
        """Fraction of flagged records that are members (NaN when nothing is flagged)."""
        return _ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def accuracy(self) -> float:
        """Fraction of records judged right (NaN when there are none)."""
        correct = self.true_positives + self.true_negatives
        return _ratio(correct, correct + self.false_positives + self.false_negatives)


def _ratio(count: int, total: int) -> float:
    return count / total if total else float("nan")


def confusion_at(scores, is_member, threshold: float) -> Confusion:
    """Counts of an attack that flags every record with ``score >= threshold`` as a member.

    The same rule as scikit-learn's ``roc_curve``, so each of its thresholds gives a point on it.

    Example:
        >>> c = confusion_at([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], threshold=0.5)
        >>> c.tpr, c.fpr, c.precision
        (0.5, 0.5, 0.5)
    """
    scores = _scores(scores)
    is_member = membership_labels(is_member)
    same_length(scores=scores, is_member=is_member)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
        raise TypeError(f"threshold must be a number, got {type(threshold).__name__}")
    if np.isnan(threshold):
        raise ValueError("threshold must not be NaN")
    flagged = scores >= threshold
    return Confusion(
        threshold=float(threshold),
        true_positives=int(np.sum(flagged & is_member)),
        false_positives=int(np.sum(flagged & ~is_member)),
        true_negatives=int(np.sum(~flagged & ~is_member)),
        false_negatives=int(np.sum(~flagged & is_member)),
    )


def threshold_at_fpr(scores, is_member, fpr: float) -> float:
    """The threshold that flags the most members while keeping the FPR at or below ``fpr``.

    Choose it on data whose membership the attacker knows (a shadow or reference model), then
    apply it to the target with :func:`confusion_at`: a decision rule, not just a curve. The
    FPR on the target is only expected to be near ``fpr``; lesson 02 measures it.

    Example:
        >>> threshold_at_fpr([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], fpr=0.25)
        0.9
    """
    result = evaluate(scores, is_member)
    fpr = fraction(fpr, "fpr")
    allowed = np.flatnonzero(result.fpr <= fpr)
    best = allowed[np.argmax(result.tpr[allowed])]
    return float(result.thresholds[best])
