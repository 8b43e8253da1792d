"""Figures every lesson draws: log-log ROC curves and member/non-member score histograms."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from mialab._checks import boolean, positive_int, real_number
from mialab.metrics import AttackResult

__all__ = ["roc", "score_histogram"]


def _results(results) -> list[AttackResult]:
    if isinstance(results, AttackResult):
        return [results]
    if isinstance(results, (str, bytes)) or not hasattr(results, "__iter__"):
        raise TypeError("results must be an AttackResult or a non-empty sequence of them")
    results = list(results)
    if not results or not all(isinstance(r, AttackResult) for r in results):
        raise TypeError("results must be an AttackResult or a non-empty sequence of them")
    return results


def _axes(ax, figsize):
    """The axes to draw on: ``ax``, or those of a new figure when it is None."""
    if ax is None:
        return plt.subplots(figsize=figsize)[1]
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be matplotlib axes or None, got {type(ax).__name__}")
    return ax


def roc(results, *, ax=None, log: bool = True, title: str | None = None):
    """ROC curves of several attacks with the chance line, log-log by default.

    On log axes the low-FPR corner, where an attack is confident, takes up most of the plot
    (Carlini et al. 2022). The axes start at the smallest FPR the data can measure.

    Args:
        results: an :class:`~mialab.metrics.AttackResult` or a sequence of them.
        ax: matplotlib axes to draw on; a new figure when None.
        log: log-log axes (True) or linear (False).
        title: axes title.

    Returns:
        The matplotlib axes.

    Example:
        >>> from mialab.metrics import evaluate
        >>> ax = roc(evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], name="toy"))
        >>> ax.get_xscale()
        'log'
    """
    results = _results(results)
    log = boolean(log, "log")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None, got {type(title).__name__}")
    ax = _axes(ax, (4.5, 4.5))
    low = min(r.min_fpr for r in results) / 2 if log else 0.0
    for result in results:
        # A rate of 0 has no place on a log axis: draw it along the plot's edge instead.
        fpr, tpr = np.maximum(result.fpr, low), np.maximum(result.tpr, low)
        ax.plot(fpr, tpr, label=f"{result.name} (AUC {result.auc:.3f})")
    ax.plot([low, 1], [low, 1], ls="--", color="grey", lw=1, label="chance")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlim(low, 1)
    ax.set_ylim(low, 1.02)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    return ax


def score_histogram(result: AttackResult, *, ax=None, bins: int = 40, threshold=None):
    """Histograms of the scores of members and of non-members, each normalised to density.

    Args:
        result: an :class:`~mialab.metrics.AttackResult`.
        ax: matplotlib axes to draw on; a new figure when None.
        bins: number of bins.
        threshold: draw a vertical line here (the attack flags scores at or above it).

    Returns:
        The matplotlib axes.

    Example:
        >>> from mialab.metrics import evaluate
        >>> ax = score_histogram(evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0]), bins=4)
        >>> ax.get_xlabel()
        'score (higher = more likely a member)'
    """
    if not isinstance(result, AttackResult):
        raise TypeError(f"result must be an AttackResult, got {type(result).__name__}")
    bins = positive_int(bins, "bins")
    if threshold is not None:
        threshold = real_number(threshold, "threshold")
    ax = _axes(ax, (5, 3.5))
    frame = pd.DataFrame(
        {
            "score": result.scores,
            "record": np.where(result.is_member, "member", "non-member"),
        }
    )
    sns.histplot(
        frame,
        x="score",
        hue="record",
        hue_order=["member", "non-member"],
        bins=bins,
        stat="density",
        common_norm=False,
        element="step",
        ax=ax,
    )
    if threshold is not None:
        ax.axvline(threshold, color="black", lw=1.5, ls=":")
    ax.set_xlabel("score (higher = more likely a member)")
    ax.set_title(result.name)
    return ax
