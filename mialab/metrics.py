"""How strong is an attack? ROC, AUC, TPR at a low FPR, membership advantage (lesson 00).

Carlini et al. (2022) argue that an attack matters when it identifies *some* members with near
certainty, so we report the true-positive rate at fixed low false-positive rates next to the AUC,
and plot ROC curves on log-log axes. ROC and AUC come from scikit-learn.

Every estimate carries its uncertainty: a percentile interval from a stratified bootstrap that
resamples members and non-members separately, so each resample keeps the challenge set's sizes.
With n non-members no FPR below 1/n can be measured: a TPR there is NaN, never a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

from mialab._checks import (
    float_array,
    fraction,
    int_labels,
    is_number,
    membership_labels,
    positive_int,
    same_length,
    seed_value,
    to_numpy,
)

__all__ = [
    "AttackResult",
    "Confusion",
    "Difference",
    "accuracy",
    "as_results",
    "chance_auc_std",
    "compare",
    "confusion_at",
    "evaluate",
    "format_results",
    "results_table",
    "roc_band",
    "seed_summary",
    "show_results",
    "threshold_at_fpr",
    "tpr_column",
]

DEFAULT_FPRS = (0.001, 0.01, 0.1)
_CHUNK_CELLS = 2_000_000  # bootstrap resamples are processed in blocks of about this many cells


def tpr_column(fpr: float) -> str:
    """The name of the column of the TPR at ``fpr`` in every table of results.

    Example:
        >>> tpr_column(0.01), tpr_column(0.001)
        ('TPR@1%FPR', 'TPR@0.1%FPR')
    """
    return f"TPR@{100 * fraction(fpr, 'fpr'):.3g}%FPR"


def accuracy(logits, labels) -> float:
    """Fraction of records whose largest logit is their true class (the model's accuracy).

    Args:
        logits: ``(n, n_classes)`` logits, log-probabilities or probabilities.
        labels: ``(n,)`` true classes.

    Example:
        >>> accuracy([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.5, 0.2]], [0, 1, 1, 0])
        0.75
    """
    logits = float_array(logits, "logits", ndim=2)
    if logits.shape[1] < 2:
        raise ValueError(f"logits must have at least 2 classes (columns), got {logits.shape[1]}")
    labels = int_labels(labels, "labels", n_classes=logits.shape[1])
    same_length(logits=logits, labels=labels)
    return float(np.mean(logits.argmax(axis=1) == labels))


def chance_auc_std(n_members: int, n_nonmembers: int) -> float:
    """Standard deviation of the AUC of a score that ignores membership (no ties).

    sqrt((n₁ + n₀ + 1) / (12 n₁ n₀)): the AUC is the Mann-Whitney U statistic over n₁ n₀, and
    under no signal U has variance n₁ n₀ (n₁ + n₀ + 1) / 12 (Hanley & McNeil 1982). An AUC
    within about 2 of these of 0.5 is what chance alone gives.

    Example:
        >>> round(chance_auc_std(100, 100), 4)
        0.0409
    """
    n1, n0 = positive_int(n_members, "n_members"), positive_int(n_nonmembers, "n_nonmembers")
    return math.sqrt((n1 + n0 + 1) / (12 * n1 * n0))


def _allowed_false_positives(fpr: float, n_nonmembers: int) -> int:
    """The most false positives k with k / n_nonmembers <= fpr, compared as scikit-learn does."""
    k = min(int(math.floor(fpr * n_nonmembers)), n_nonmembers)
    while k < n_nonmembers and (k + 1) / n_nonmembers <= fpr:
        k += 1
    while k > 0 and k / n_nonmembers > fpr:
        k -= 1
    return k


class _Sorted:
    """One attack's member and non-member scores, sorted, for statistics under record weights.

    A bootstrap resample is a vector of counts (weights) per record; each statistic below is
    computed from prefix sums of the weights, so no resampled array is ever sorted. scikit-learn
    has no weighted-resample ROC, which is why this is written out here.
    """

    def __init__(self, scores: np.ndarray, is_member: np.ndarray):
        self.member_order = np.argsort(scores[is_member], kind="stable")
        self.nonmember_order = np.argsort(scores[~is_member], kind="stable")
        self.members = scores[is_member][self.member_order]
        self.nonmembers = scores[~is_member][self.nonmember_order]
        self.below = np.searchsorted(self.nonmembers, self.members, side="left")
        self.up_to = np.searchsorted(self.nonmembers, self.members, side="right")
        values = np.unique(scores)
        self.members_from = np.searchsorted(self.members, values, side="left")
        self.nonmembers_from = np.searchsorted(self.nonmembers, values, side="left")

    def _prefix(self, w_members, w_nonmembers):
        w1, w0 = w_members[:, self.member_order], w_nonmembers[:, self.nonmember_order]
        zero = np.zeros((len(w1), 1))
        return w1, np.hstack([zero, np.cumsum(w1, 1)]), np.hstack([zero, np.cumsum(w0, 1)])

    def auc(self, w_members, w_nonmembers) -> np.ndarray:
        """P(member score > non-member score) + ½ P(tie), per row of weights."""
        w1, _, p0 = self._prefix(w_members, w_nonmembers)
        wins = p0[:, self.below] + 0.5 * (p0[:, self.up_to] - p0[:, self.below])
        return (w1 * wins).sum(1) / (len(self.members) * len(self.nonmembers))

    def tpr_at(self, ks, w_members, w_nonmembers) -> np.ndarray:
        """TPR of the best threshold that flags at most k non-members, per row and k in ``ks``."""
        n1, n0 = len(self.members), len(self.nonmembers)
        ks = np.atleast_1d(ks)
        _, p1, p0 = self._prefix(w_members, w_nonmembers)
        # Resampled non-members scoring at or above each sorted position, read from the top: the
        # (k+1)-th highest non-member score v is the last position where it reaches k + 1, and
        # every threshold above v flags at most k.
        from_top = n0 - p0[:, n0 - 1 :: -1]
        rows = np.arange(len(p0))[:, None]
        needed = np.minimum(ks, n0 - 1) + 1
        v = self.nonmembers[n0 - 1 - np.array([np.searchsorted(r, needed) for r in from_top])]
        above_v = n1 - p1[rows, np.searchsorted(self.members, v, side="right")]
        above_v[:, ks >= n0] = n1  # every threshold allowed: flag all
        return above_v / n1

    def advantage(self, w_members, w_nonmembers) -> np.ndarray:
        """max over thresholds of TPR − FPR (0 for the threshold that flags nothing)."""
        n1, n0 = len(self.members), len(self.nonmembers)
        _, p1, p0 = self._prefix(w_members, w_nonmembers)
        gap = (n1 - p1[:, self.members_from]) / n1 - (n0 - p0[:, self.nonmembers_from]) / n0
        return np.maximum(gap.max(1), 0.0)


def _resamples(is_member: np.ndarray, n_bootstrap: int, seed: int):
    """Stratified bootstrap weights in blocks: (member weights, non-member weights) per block."""
    n1, n0 = int(is_member.sum()), int((~is_member).sum())
    rng = np.random.default_rng(seed)
    block = max(1, _CHUNK_CELLS // (n1 + n0))
    for start in range(0, n_bootstrap, block):
        rows = min(block, n_bootstrap - start)
        weights = []
        for n in (n1, n0):
            drawn = rng.integers(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
            weights.append(np.bincount(drawn.ravel(), minlength=rows * n).reshape(rows, n))
        yield weights[0].astype(float), weights[1].astype(float)


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(samples, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True, eq=False, repr=False)
class AttackResult:
    """Scores of one attack on a challenge set, with its ROC curve. Made by :func:`evaluate`.

    Point estimates (``auc``, ``tpr_at``, ``advantage``) equal scikit-learn's; each has an
    interval (``auc_ci``, ``tpr_ci``, ``advantage_ci``) from ``n_bootstrap`` stratified
    resamples seeded by ``seed``, computed when first asked for.
    """

    name: str
    scores: np.ndarray
    is_member: np.ndarray
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float
    confidence: float = 0.95
    n_bootstrap: int = 1000
    seed: int = 0
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def n_members(self) -> int:
        """The number of members in the challenge set."""
        return int(self.is_member.sum())

    @property
    def n_nonmembers(self) -> int:
        """The number of non-members in the challenge set."""
        return int((~self.is_member).sum())

    @property
    def min_fpr(self) -> float:
        """The smallest non-zero FPR this challenge set can measure, one non-member in all."""
        return 1.0 / self.n_nonmembers

    def measurable(self, fpr: float) -> bool:
        """Whether TPR at ``fpr`` can be measured: at least one false positive is allowed."""
        return _allowed_false_positives(fraction(fpr, "fpr"), self.n_nonmembers) > 0

    def tpr_at(self, fpr: float) -> float:
        """The highest TPR among thresholds whose FPR does not exceed ``fpr`` (no interpolation).

        NaN when ``fpr`` is below :attr:`min_fpr`: with n non-members, a rate below 1/n is not
        measured, and the TPR at zero false positives says nothing about it.
        """
        if not self.measurable(fpr):
            return float("nan")
        return float(self.tpr[self.fpr <= fpr].max())

    @property
    def advantage(self) -> float:
        """Membership advantage (Yeom et al. 2018), the maximum over thresholds of TPR - FPR.

        The best threshold is chosen on the records it is measured on, so on a finite sample
        the advantage is biased upward: an attack at chance scores about 0.06 on 200 members
        and 200 non-members. Judge it against a control (a model that never saw the records),
        not against 0; the AUC and TPR at a fixed FPR have no such bias.
        """
        return float(np.max(self.tpr - self.fpr))

    @property
    def _ordered(self) -> _Sorted:
        """The scores sorted once, for every bootstrap statistic of this result."""
        if "ordered" not in self._cache:
            self._cache["ordered"] = _Sorted(self.scores, self.is_member)
        return self._cache["ordered"]

    def _bootstrap(self, key, statistic) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = np.concatenate(
                [
                    statistic(self._ordered, w1, w0)
                    for w1, w0 in _resamples(self.is_member, self.n_bootstrap, self.seed)
                ]
            )
        return self._cache[key]

    @property
    def auc_ci(self) -> tuple[float, float]:
        """Bootstrap interval of the AUC at level ``confidence``."""
        return _interval(self._bootstrap("auc", _Sorted.auc), self.confidence)

    def tpr_ci(self, fpr: float) -> tuple[float, float]:
        """Interval of :meth:`tpr_at`: the bootstrap's (the threshold re-chosen in every
        resample), widened where needed to the exact (Clopper-Pearson) interval of the members
        found at the chosen threshold, so that 0 found out of n is not reported as certain.

        (NaN, NaN) where the TPR is not measurable.
        """
        k = _allowed_false_positives(fraction(fpr, "fpr"), self.n_nonmembers)
        if k == 0:
            return float("nan"), float("nan")
        samples = self._bootstrap(("tpr", k), lambda s, w1, w0: s.tpr_at(k, w1, w0)[:, 0])
        low, high = _interval(samples, self.confidence)
        # A bootstrap cannot resample its way out of 0 (or all) members found: [0, 0] would
        # claim certainty. The exact binomial interval of the count at the chosen threshold
        # is never narrower than the data allow, so the reported interval covers both.
        found = round(self.tpr_at(fpr) * self.n_members)
        exact = stats.binomtest(found, self.n_members).proportion_ci(self.confidence)
        return min(low, float(exact.low)), max(high, float(exact.high))

    @property
    def advantage_ci(self) -> tuple[float, float]:
        """Bootstrap interval of the membership advantage."""
        return _interval(self._bootstrap("advantage", _Sorted.advantage), self.confidence)

    def summary(self, fprs=DEFAULT_FPRS, *, intervals: bool = True) -> dict:
        """AUC, TPR at each of ``fprs`` and the advantage (each with ``low``/``high``)."""
        row = {}
        estimates = [("AUC", self.auc, lambda: self.auc_ci)]
        estimates += [(tpr_column(f), self.tpr_at(f), lambda f=f: self.tpr_ci(f)) for f in fprs]
        estimates.append(("advantage", self.advantage, lambda: self.advantage_ci))
        for column, value, interval in estimates:
            row[column] = value
            if intervals:
                row[f"{column} low"], row[f"{column} high"] = interval()
        return row

    def __repr__(self) -> str:
        def shown(value, interval) -> str:
            return "—" if np.isnan(value) else f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"

        rates = ", ".join(
            f"{tpr_column(f)}={shown(self.tpr_at(f), self.tpr_ci(f))}" for f in DEFAULT_FPRS
        )
        return (
            f"AttackResult({self.name!r}: AUC={shown(self.auc, self.auc_ci)}, {rates}, "
            f"advantage={shown(self.advantage, self.advantage_ci)}, members={self.n_members}, "
            f"nonmembers={self.n_nonmembers}, {self.confidence:.0%} bootstrap intervals)"
        )


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


def evaluate(
    scores,
    is_member,
    *,
    name: str = "attack",
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> AttackResult:
    """Evaluate attack scores against the truth.

    Args:
        scores: ``(n,)`` scores, higher = more likely a member.
        is_member: ``(n,)`` 1/True for members, 0/False for non-members; both must occur.
        name: label used in tables and plot legends.
        confidence: level of the intervals (``auc_ci``, ``tpr_ci``, ``advantage_ci``).
        n_bootstrap: stratified bootstrap resamples behind the intervals.
        seed: seeds the resampling (an int: same seed, same intervals).

    Returns:
        An :class:`AttackResult` with ``.auc``, ``.tpr_at(fpr)``, ``.advantage``, their
        intervals, and the ROC.

    Example:
        >>> result = evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], name="toy")
        >>> result.auc, result.tpr_at(0.5), result.advantage
        (0.75, 1.0, 0.5)
        >>> result.tpr_at(0.25)  # with 2 non-members, an FPR below 1/2 is not measurable
        nan
        >>> result.auc_ci
        (0.0, 1.0)
    """
    scores = _scores(scores)
    is_member = membership_labels(is_member)
    same_length(scores=scores, is_member=is_member)
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    confidence = fraction(confidence, "confidence")
    if confidence == 1:
        raise ValueError("confidence must be below 1")
    fpr, tpr, thresholds = roc_curve(is_member, scores, drop_intermediate=False)
    return AttackResult(
        name=name,
        scores=scores,
        is_member=is_member,
        fpr=fpr,
        tpr=tpr,
        thresholds=thresholds,
        auc=float(roc_auc_score(is_member, scores)),
        confidence=confidence,
        n_bootstrap=positive_int(n_bootstrap, "n_bootstrap"),
        seed=seed_value(seed),
    )


def roc_band(result: AttackResult, *, points: int = 60) -> tuple[np.ndarray, ...]:
    """Pointwise bootstrap interval of a ROC curve's TPR, at up to ``points`` measurable FPRs.

    Returns:
        ``(fpr, low, high)``, FPRs k/n_nonmembers spread evenly on a log scale from the smallest
        measurable one to 1, and the interval of the TPR at each, at ``result.confidence``.

    Example:
        >>> fpr, low, high = roc_band(evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0]))
        >>> fpr.tolist(), low.tolist(), high.tolist()
        ([0.5, 1.0], [0.0, 1.0], [1.0, 1.0])
    """
    if not isinstance(result, AttackResult):
        raise TypeError(f"result must be an AttackResult, got {type(result).__name__}")
    points = positive_int(points, "points")
    n0 = result.n_nonmembers
    ks = np.unique(np.round(np.geomspace(1, n0, points)).astype(int))
    samples = np.concatenate(
        [
            result._ordered.tpr_at(ks, w1, w0)
            for w1, w0 in _resamples(result.is_member, result.n_bootstrap, result.seed)
        ]
    )
    tail = (1 - result.confidence) / 2
    low, high = np.quantile(samples, [tail, 1 - tail], axis=0)
    return ks / n0, low, high


def as_results(results) -> list[AttackResult]:
    """An :class:`AttackResult` or a non-empty sequence of them, as a list (checked).

    Example:
        >>> as_results(evaluate([0.9, 0.1], [1, 0], name="toy"))[0].name
        'toy'
    """
    if isinstance(results, AttackResult):
        return [results]
    expected = "results must be an AttackResult or a non-empty sequence of them"
    if isinstance(results, (str, bytes)) or not hasattr(results, "__iter__"):
        raise TypeError(f"{expected}, got {type(results).__name__}")
    results = list(results)
    if not results or not all(isinstance(r, AttackResult) for r in results):
        raise TypeError(expected)
    return results


def _fprs(fprs) -> tuple:
    if isinstance(fprs, (str, bytes)) or not hasattr(fprs, "__iter__"):
        raise TypeError(f"fprs must be a sequence of false-positive rates, got {fprs!r}")
    fprs = tuple(fraction(f, "fprs") for f in fprs)
    if not fprs:
        raise ValueError("fprs is empty")
    return fprs


def results_table(results, *, fprs=DEFAULT_FPRS, intervals: bool = True) -> pd.DataFrame:
    """One row per attack: AUC, TPR at each of ``fprs``, advantage, each with its interval.

    Columns ``"attack"``, ``"AUC"``, ``"AUC low"``, ``"AUC high"``, ``"TPR@1%FPR"``, ... (NaN
    where a TPR is not measurable; :func:`tpr_column` names them); ``intervals=False`` keeps
    the point estimates only. For display, see :func:`show_results`.

    Example:
        >>> a = evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], name="a")
        >>> results_table([a], fprs=[0.5], intervals=False)
          attack   AUC  TPR@50%FPR  advantage
        0      a  0.75         1.0        0.5
    """
    results, fprs = as_results(results), _fprs(fprs)
    if not isinstance(intervals, (bool, np.bool_)):
        raise TypeError(f"intervals must be True or False, got {intervals!r}")
    return pd.DataFrame(
        [{"attack": r.name, **r.summary(fprs, intervals=bool(intervals))} for r in results]
    )


def format_results(table: pd.DataFrame, *, digits: int = 3) -> pd.DataFrame:
    """A table of results as text: "estimate [low, high]" where a column has its ``low`` and
    ``high`` companions, "—" where it is not measurable (NaN), other numbers to ``digits``
    significant digits, text as it is.

    Example:
        >>> a = evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], name="a")
        >>> format_results(results_table(a, fprs=[0.01, 0.5])).iloc[0].tolist()
        ['a', '0.750 [0.000, 1.000]', '—', '1.000 [0.000, 1.000]', '0.500 [0.000, 1.000]']
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    digits = positive_int(digits, "digits")
    shown = {}
    for column in table.columns:
        base, _, side = str(column).rpartition(" ")
        if side in ("low", "high") and base in table.columns:
            continue  # shown in its estimate's cell
        values = table[column]
        if {f"{column} low", f"{column} high"} <= set(table.columns):
            shown[column] = [
                "—" if np.isnan(v) else f"{v:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
                for v, low, high in zip(
                    values, table[f"{column} low"], table[f"{column} high"], strict=True
                )
            ]
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            shown[column] = ["—" if np.isnan(v) else f"{v:.{digits}g}" for v in values]
        else:
            shown[column] = values.tolist()
    return pd.DataFrame(shown, index=table.index)


def show_results(results, *, fprs=DEFAULT_FPRS, digits: int = 3):
    """:func:`results_table` for reading (:func:`format_results`), with a caption.

    Returns a pandas ``Styler`` (a notebook shows it as a table; ``.to_html()`` for a page).

    Example:
        >>> a = evaluate([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], name="a")
        >>> show_results(a, fprs=[0.01]).data.loc[0, "AUC"]
        '0.750 [0.000, 1.000]'
    """
    results, fprs = as_results(results), _fprs(fprs)
    shown = format_results(results_table(results, fprs=fprs), digits=digits)
    levels = sorted({r.confidence for r in results})
    caption = (
        f"In brackets: {', '.join(f'{c:.0%}' for c in levels)} intervals from a stratified "
        "bootstrap over members and non-members."
    )
    if (shown == "—").any().any():
        n = min(r.n_nonmembers for r in results)
        caption += (
            f" —: not measurable, an FPR below 1/{n} (one non-member in {n}) needs more "
            "non-members."
        )
    return shown.style.set_caption(caption).hide(axis="index")


@dataclass(frozen=True)
class Difference:
    """A difference between two attacks on the same records, with its paired interval."""

    estimate: float
    low: float
    high: float
    confidence: float

    def __post_init__(self):
        for name in ("estimate", "low", "high"):
            value = getattr(self, name)
            if not is_number(value):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if np.isinf(value):
                raise ValueError(f"{name} must be finite (NaN where not measurable), got {value}")
        if self.low > self.high:
            raise ValueError(f"low must not exceed high, got low={self.low}, high={self.high}")
        if fraction(self.confidence, "confidence") == 1:
            raise ValueError("confidence must be below 1")

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 0 (False when it is not measurable)."""
        return bool(self.low > 0 or self.high < 0)


def compare(a: AttackResult, b: AttackResult, *, fpr: float | None = None) -> Difference:
    """AUC(a) − AUC(b), or TPR(a) − TPR(b) at ``fpr``, with a paired bootstrap interval.

    Both attacks must score the same records in the same order; each resample draws the same
    records for both, so what the records share cancels (a's level, seed and resample count).

    Example:
        >>> import numpy as np
        >>> truth = np.r_[np.ones(50), np.zeros(50)]
        >>> noise = np.random.default_rng(0).normal(size=(2, 100))
        >>> strong = evaluate(truth + noise[0], truth, name="strong")
        >>> weak = evaluate(0.2 * truth + noise[1], truth, name="weak")
        >>> compare(strong, weak).significant
        True
    """
    for name, result in (("a", a), ("b", b)):
        if not isinstance(result, AttackResult):
            raise TypeError(f"{name} must be an AttackResult, got {type(result).__name__}")
    if not np.array_equal(a.is_member, b.is_member):
        raise ValueError(
            "a and b must score the same records in the same order (is_member differs)"
        )
    if fpr is None:
        estimate = a.auc - b.auc

        def statistic(s, w1, w0):
            return s.auc(w1, w0)
    else:
        k = _allowed_false_positives(fraction(fpr, "fpr"), a.n_nonmembers)
        if k == 0:
            return Difference(float("nan"), float("nan"), float("nan"), a.confidence)
        estimate = a.tpr_at(fpr) - b.tpr_at(fpr)

        def statistic(s, w1, w0):
            return s.tpr_at(k, w1, w0)[:, 0]

    differences = np.concatenate(
        [
            statistic(a._ordered, w1, w0) - statistic(b._ordered, w1, w0)
            for w1, w0 in _resamples(a.is_member, a.n_bootstrap, a.seed)
        ]
    )
    return Difference(float(estimate), *_interval(differences, a.confidence), a.confidence)


def seed_summary(frame, *, by, value: str, confidence: float = 0.95) -> pd.DataFrame:
    """Mean of ``value`` over seeds per group, with its standard error and t-interval.

    Args:
        frame: one row per run (e.g. per seed and setting).
        by: the column(s) that name a setting.
        value: the column to summarise.
        confidence: level of the interval of the mean.

    Returns:
        One row per setting, with the ``by`` columns, ``mean``, ``sem``, ``low``, ``high``, ``n``
        (``sem``, ``low``, ``high`` are NaN for a setting run once).

    Example:
        >>> import pandas as pd
        >>> runs = pd.DataFrame({"size": [10, 10, 20, 20], "auc": [0.6, 0.7, 0.8, 0.8]})
        >>> seed_summary(runs, by="size", value="auc").round(3)
           size  mean   sem    low    high  n
        0    10  0.65  0.05  0.015   1.285  2
        1    20  0.80  0.00  0.800   0.800  2
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    keys = [by] if isinstance(by, str) else list(by) if isinstance(by, (list, tuple)) else None
    if not keys or not all(isinstance(k, str) for k in keys):
        raise TypeError(f"by must be a column name or a list of them, got {by!r}")
    if not isinstance(value, str):
        raise TypeError(f"value must be a column name, got {value!r}")
    missing = [c for c in [*keys, value] if c not in frame.columns]
    if missing:
        raise ValueError(f"frame has no column {missing[0]!r}; its columns: {list(frame.columns)}")
    if frame.empty:
        raise ValueError("frame is empty")
    if not pd.api.types.is_numeric_dtype(frame[value]) or frame[value].isna().any():
        raise ValueError(f"column {value!r} must hold numbers, without NaN")
    confidence = fraction(confidence, "confidence")
    if confidence == 1:
        raise ValueError("confidence must be below 1")
    groups = frame.groupby(keys, sort=True)[value]
    out = groups.agg(mean="mean", sem="sem", n="count").reset_index()
    half = out["sem"] * stats.t.ppf((1 + confidence) / 2, np.maximum(out["n"] - 1, 1))
    out.insert(len(keys) + 2, "low", out["mean"] - half)
    out.insert(len(keys) + 3, "high", out["mean"] + half)
    out.attrs["confidence"] = confidence
    return out


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
