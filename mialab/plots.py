"""Figures every lesson draws: log-log ROC curves and member/non-member score histograms."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from mialab._checks import boolean, positive_int, real_number
from mialab.metrics import AttackResult, as_results, roc_band

__all__ = ["roc", "score_histogram", "sweep"]


def _axes(ax, figsize):
    """The axes to draw on: ``ax``, or those of a new figure when it is None."""
    if ax is None:
        return plt.subplots(figsize=figsize)[1]
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be matplotlib axes or None, got {type(ax).__name__}")
    return ax


def roc(results, *, ax=None, log: bool = True, title: str | None = None, band: bool = False):
    """ROC curves of several attacks with the chance line, log-log by default.

    On log axes the low-FPR corner, where an attack is confident, takes up most of the plot
    (Carlini et al. 2022). The x-axis starts at the smallest FPR the data can measure,
    1/n_nonmembers: nothing to its left is measured.

    Args:
        results: an :class:`~mialab.metrics.AttackResult` or a sequence of them.
        ax: matplotlib axes to draw on; a new figure when None.
        log: log-log axes (True) or linear (False).
        title: axes title.
        band: shade each curve's pointwise bootstrap interval of the TPR at each FPR (at the
            result's confidence; see :func:`mialab.metrics.roc_band`).

    Returns:
        The matplotlib axes.

    Example:
        >>> from mialab.metrics import evaluate
        >>> ax = roc(evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], name="toy"))
        >>> ax.get_xscale()
        'log'
    """
    results = as_results(results)
    log, band = boolean(log, "log"), boolean(band, "band")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None, got {type(title).__name__}")
    ax = _axes(ax, (4.5, 4.5))
    # The x-axis starts at the smallest FPR the non-members can measure, 1/n_nonmembers: the
    # curve's zero-FPR points are drawn on that edge. A TPR of 0 is drawn along the bottom edge.
    low = min(r.min_fpr for r in results) if log else 0.0
    bottom = min(1 / r.n_members for r in results) / 2 if log else 0.0
    for result in results:
        fpr, tpr = np.maximum(result.fpr, low), np.maximum(result.tpr, bottom)
        (line,) = ax.plot(fpr, tpr, label=f"{result.name} (AUC {result.auc:.3f})")
        if band:
            grid, low_tpr, high_tpr = roc_band(result)
            ax.fill_between(
                grid, np.maximum(low_tpr, bottom), np.maximum(high_tpr, bottom), step="post",
                color=line.get_color(), alpha=0.2, lw=0,
            )  # fmt: skip
    ax.plot(
        [min(low, bottom), 1], [min(low, bottom), 1], ls="--", color="grey", lw=1, label="chance"
    )
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlim(low, 1)
    ax.set_ylim(bottom, 1.02)
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


def sweep(summary, *, x: str, ax=None, label: str | None = None, ylabel: str | None = None):
    """Means over seeds as points, their intervals as error bars.

    Args:
        summary: the output of :func:`~mialab.metrics.seed_summary` (``mean``, ``low``, ``high``,
            ``n``).
        x: the column on the horizontal axis (one of its ``by`` columns).
        ax: matplotlib axes to draw on; a new figure when None.
        label: legend label of this series.
        ylabel: label of the vertical axis.

    Returns:
        The matplotlib axes.

    Example:
        >>> import pandas as pd
        >>> from mialab.metrics import seed_summary
        >>> runs = pd.DataFrame({"size": [10, 10, 20, 20], "auc": [0.6, 0.7, 0.8, 0.8]})
        >>> ax = sweep(seed_summary(runs, by="size", value="auc"), x="size", ylabel="AUC")
        >>> ax.get_ylabel()
        'AUC'
    """
    if not isinstance(summary, pd.DataFrame):
        raise TypeError(
            f"summary must be a DataFrame from seed_summary, got {type(summary).__name__}"
        )
    if not isinstance(x, str):
        raise TypeError(f"x must be a column name, got {x!r}")
    missing = [c for c in (x, "mean", "low", "high", "n") if c not in summary.columns]
    if missing:
        raise ValueError(f"summary has no column {missing[0]!r}: pass the output of seed_summary")
    for name, text in (("label", label), ("ylabel", ylabel)):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{name} must be a string or None, got {type(text).__name__}")
    ax = _axes(ax, (5, 3.5))
    mean = summary["mean"].to_numpy(float)
    # A setting run once has no interval: draw its mean without a bar.
    below = np.nan_to_num(mean - summary["low"].to_numpy(float))
    above = np.nan_to_num(summary["high"].to_numpy(float) - mean)
    if label is None:
        level = summary.attrs.get("confidence", 0.95)
        label = f"mean of {summary['n'].min()} seeds, {level:.0%} interval"
    ax.errorbar(summary[x], mean, yerr=[below, above], marker="o", capsize=3, label=label)
    ax.set_xlabel(x)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    return ax
