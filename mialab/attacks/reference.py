"""Attacks calibrated per record with reference models: LiRA and RMIA (lesson 01).

Both learn, for each candidate record, how reference models behave on it when they trained on it
(IN) and when they did not (OUT), then ask which the target resembles. Both are used in
scikit-learn's style: ``fit(reference_logits, reference_in_mask, labels)`` on the reference
models, then ``score_samples(logits)`` on the target's logits for the same records. Inputs, from
any model:

* ``reference_logits``: ``(n_models, n, n_classes)``, or ``(n_models, n, n_queries, n_classes)``
  when each record is queried several times (flips, shifts, noise; see lesson 01);
* ``reference_in_mask``: ``(n_models, n)``, True where the reference model trained on the record;
* ``labels``: ``(n,)`` true labels, given once, to ``fit``;
* ``logits``: the target's ``(n, n_classes)``, or ``(n, n_queries, n_classes)`` with queries.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import log_softmax, logsumexp
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from mialab._checks import (
    boolean,
    float_array,
    int_labels,
    logits_with_queries,
    positive_number,
    real_number,
    reference_inputs,
    same_length,
    to_numpy,
    warn_if_probabilities,
)

__all__ = ["LiRA", "RMIA", "lira_score", "lira_statistic"]

A_GRID = tuple(np.round(np.linspace(0, 1, 11), 2))  # candidate values of RMIA's offline a


def _target_logits(attack, logits) -> np.ndarray:
    """The target's logits for ``score_samples``: the records, queries and classes fit saw."""
    if not hasattr(attack, "labels_"):
        raise RuntimeError("call fit() before score_samples()")
    logits = logits_with_queries(logits, "logits", leading=0)
    warn_if_probabilities(logits, "logits")
    n, n_queries, n_classes = logits.shape
    if n != len(attack.labels_):
        raise ValueError(
            f"logits must have one row per record given to fit(), {len(attack.labels_)}; got {n}"
        )
    if n_queries != attack.n_queries_:
        raise ValueError(
            f"logits has {n_queries} queries per record, the reference logits had "
            f"{attack.n_queries_}"
        )
    if n_classes != attack.n_classes_:
        raise ValueError(
            f"logits must have {attack.n_classes_} classes like the reference logits, got "
            f"{n_classes}"
        )
    return logits


def _true_class(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """values[..., i, q, labels[i]] for arrays shaped (..., n, n_queries, n_classes)."""
    index = labels.reshape(-1, 1, 1)
    return np.take_along_axis(values, np.broadcast_to(index, values.shape[:-1] + (1,)), -1)[..., 0]


def _log_true_probability(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log of the mean over queries of p(true label), for logits (..., n, n_queries, classes)."""
    log_p = _true_class(log_softmax(logits, axis=-1), labels)  # (..., n, n_queries)
    return logsumexp(log_p, axis=-1) - np.log(log_p.shape[-1])


def lira_statistic(logits, labels) -> np.ndarray:
    """LiRA's logit-scaled confidence φ = log(p_y + 1e-45) - log(Σ_{y'≠y} p_y' + 1e-45).

    Computed in float64 with the 1e-45 guards of Carlini et al. (2022); the sum runs over the
    other classes' probabilities (never ``1 - p_y``, which rounds to 0 when p_y is near 1).
    Across models φ is close to Gaussian, which is what LiRA's test assumes.

    Args:
        logits: ``(..., n, n_classes)`` logits; any leading axes (models, queries).
        labels: ``(n,)`` true labels of the n records.

    Returns:
        float64 array of shape ``(..., n)``.

    Example:
        >>> import numpy as np
        >>> lira_statistic(np.array([[2.0, 0.0], [0.0, 0.0]]), np.array([0, 0])).round(3)
        array([2., 0.])
    """
    logits = to_numpy(logits, "logits")
    logits = float_array(logits, "logits", ndim=max(logits.ndim, 2))
    if logits.shape[-1] < 2:
        raise ValueError(f"logits must have at least 2 classes (last axis), got {logits.shape}")
    if 0 in logits.shape:
        raise ValueError(f"logits is empty: shape {logits.shape}")
    warn_if_probabilities(logits, "logits")
    labels = int_labels(labels, "labels", n_classes=logits.shape[-1])
    if logits.shape[-2] != len(labels):
        raise ValueError(
            f"logits must have one row per label on its second-to-last axis: {len(labels)} "
            f"labels, logits of shape {logits.shape}"
        )
    return _phi(logits, labels)


def _phi(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """:func:`lira_statistic` on inputs already checked (LiRA checks its own once)."""
    probs = np.exp(log_softmax(logits, axis=-1))
    is_true = np.arange(logits.shape[-1]) == labels[:, None]  # (n, C), broadcast over (..., n, C)
    p_true = np.where(is_true, probs, 0.0).sum(axis=-1)
    p_rest = np.where(is_true, 0.0, probs).sum(axis=-1)
    return np.log(p_true + 1e-45) - np.log(p_rest + 1e-45)


def _masked_mean_std(values: np.ndarray, mask: np.ndarray):
    """Per-record mean and std (ddof 0) of values (M, n, Q) over the models where mask (M, n).

    NaN for a record with no model on the mask's side.
    """
    weights = mask[:, :, None].astype(np.float64)
    count = np.broadcast_to(weights.sum(axis=0), values.shape[1:])
    has = count > 0
    mean = np.divide(
        (weights * values).sum(axis=0), count, out=np.full(count.shape, np.nan), where=has
    )
    squares = (weights * (values - np.nan_to_num(mean)) ** 2).sum(axis=0)
    variance = np.divide(squares, count, out=np.full(count.shape, np.nan), where=has)
    return mean, np.sqrt(variance)


def lira_score(statistic, reference_statistics, reference_in_mask, *, online: bool = False):
    """LiRA on any per-record statistic: a loss, a diffusion model's denoising loss, a score.

    :class:`LiRA` reads classifiers' logits; this is its test on a statistic you computed
    yourself, one number per record and model, higher meaning member-like (minus a loss), as
    Carlini et al. (2023) attack diffusion models with their denoising loss. For each record,
    the reference models' statistics are fitted with a Gaussian on the OUT side (and the IN
    side, online); the score is log Pr[Z < s], Z ~ N(μ_out, σ_out²) offline, and
    log N(s; μ_in, σ_in²) − log N(s; μ_out, σ_out²) online. Standard deviations use ddof 0 and
    a 1e-30 floor, as :class:`LiRA`.

    Args:
        statistic: ``(n,)`` the target model's statistic on the records.
        reference_statistics: ``(n_models, n)`` each reference model's statistic on them.
        reference_in_mask: ``(n_models, n)``, True where a reference model trained on the record.
        online: use IN models too; every record then needs at least two IN and two OUT models
            (a spread needs two), offline at least two OUT models.

    Returns:
        float64 scores of shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> references = np.array([[0.0, 1.0], [0.2, 1.2], [0.4, 0.8]])
        >>> mask = np.zeros((3, 2), bool)  # offline: no reference model saw the records
        >>> lira_score(np.array([0.9, 1.0]), references, mask).round(2)  # record 0 stands out
        array([-0.  , -0.69])
    """
    online = boolean(online, "online")
    statistic = float_array(statistic, "statistic", ndim=1)
    references = float_array(reference_statistics, "reference_statistics", ndim=2)
    mask = np.asarray(reference_in_mask)
    if mask.dtype != bool:
        raise TypeError(f"reference_in_mask must be a bool array, got dtype {mask.dtype}")
    if references.shape[1] != len(statistic) or mask.shape != references.shape:
        raise ValueError(
            f"reference_statistics {references.shape} and reference_in_mask {mask.shape} must "
            f"both be (n_models, n) with n = len(statistic) = {len(statistic)}"
        )
    sides = [~mask, mask] if online else [~mask]
    if any((side.sum(axis=0) < 2).any() for side in sides):
        raise ValueError(
            "reference_in_mask must give every record at least two reference models on each "
            f"side it is tested against ({'IN and OUT' if online else 'OUT'}) to estimate a spread"
        )
    gaussians = [_masked_mean_std(references[:, :, None], side) for side in sides]
    out, *inside = [(m[:, 0], np.maximum(s[:, 0], 1e-30)) for m, s in gaussians]
    return _gaussian_test(statistic, out, inside[0] if online else None)


def _gaussian_test(statistic, out, inside=None) -> np.ndarray:
    """LiRA's test of a statistic against per-record Gaussians ``(mean, std)``: one-sided
    against OUT, log Pr[Z < s] (offline), or log N(s; IN) − log N(s; OUT) (online, ``inside``
    given). A NaN parameter (a record no reference model could fit) gives a NaN score."""
    with np.errstate(invalid="ignore"):
        if inside is None:
            return norm.logcdf(statistic, *out)
        return norm.logpdf(statistic, *inside) - norm.logpdf(statistic, *out)


class LiRA:
    """The Likelihood Ratio Attack of Carlini et al. (2022).

    For each record, φ (:func:`lira_statistic`) of the reference models that trained on it (IN)
    and of those that did not (OUT) is fitted with a Gaussian. Online, the score is the log
    likelihood ratio log N(φ; μ_in, σ_in²) - log N(φ; μ_out, σ_out²); offline (no IN models
    needed), it is one-sided against OUT: log Pr[Z < φ], Z ~ N(μ_out, σ_out²), so a φ higher than
    the OUT models' means member. With several queries per record, the per-query scores are
    averaged. Means are per-record averages (the paper's Algorithm 1; the authors' code uses the
    median); standard deviations use ddof 0 and a 1e-30 floor, as in the authors' code.

    Reference models that each include a record with probability ½ leave some records with few
    models on one side. A record with a single model on a side uses that side's global σ (as
    with ``fix_variance``), with a warning saying for how many records. A record with no OUT
    model (online: no IN or no OUT model) cannot be scored: its score is NaN, a warning says how
    many, and ``unscored_`` marks them; drop them before evaluating (``keep =
    ~attack.unscored_``), or train the references on :func:`mialab.training.balanced_in_mask`,
    which gives every record as many IN as OUT models.

    Args:
        online: use IN models too (stronger; needs IN and OUT models for a record to score it);
            offline by default, like :class:`RMIA`.
        fix_variance: one σ_in and one σ_out for all records: the spread of φ over every record
            and model, as in the authors' code. Better with few reference models.

    Attributes set by ``fit``:

    - ``mean_in_``, ``std_in_``, ``mean_out_``, ``std_out_``: Gaussian parameters, shape
      ``(n, n_queries)``; the standard deviations are scalars with a fixed variance; the IN ones
      are None offline.
    - ``unscored_``: ``(n,)`` bool, True for the records whose score is NaN.
    - ``labels_``, ``n_queries_``, ``n_classes_``: the records' labels and the logits' shape
      ``fit`` saw.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> reference_logits = rng.normal(size=(8, 5, 3))
        >>> mask = np.tile([[True], [False]], (4, 5))  # models 0, 2, .. IN; 1, 3, .. OUT
        >>> attack = LiRA(online=True).fit(reference_logits, mask, [0, 1, 2, 0, 1])
        >>> attack.score_samples(rng.normal(size=(5, 3))).shape
        (5,)
    """

    def __init__(self, *, online: bool = False, fix_variance: bool = False):
        self.online = online
        self.fix_variance = fix_variance

    def fit(self, reference_logits, reference_in_mask, labels) -> LiRA:
        """Fit the per-record Gaussians.

        Args:
            reference_logits: ``(n_models, n, n_classes)``, or ``(n_models, n, n_queries,
                n_classes)`` with several queries per record.
            reference_in_mask: ``(n_models, n)``, True where the model trained on the record.
            labels: ``(n,)`` true labels of the records.
        """
        online = boolean(self.online, "online")
        boolean(self.fix_variance, "fix_variance")
        logits, mask, labels = reference_inputs(reference_logits, reference_in_mask, labels)
        n = mask.shape[1]
        sides = [("OUT", ~mask)] + ([("IN", mask)] if online else [])
        unscored = np.zeros(n, bool)
        for _, side_mask in sides:
            unscored |= side_mask.sum(axis=0) == 0
        needs = "an IN and an OUT" if online else "an OUT"
        if unscored.all():
            raise ValueError(
                f"reference_in_mask gives no record {needs} reference model, so LiRA can score "
                "none; training.balanced_in_mask gives every record as many IN as OUT models"
            )
        if unscored.any():
            warnings.warn(
                f"{unscored.sum()} of {n} records have no {'IN or no OUT' if online else 'OUT'} "
                "reference model: their LiRA scores are NaN (unscored_ marks them; drop them "
                "before evaluating). training.balanced_in_mask gives every record as many IN as "
                "OUT models.",
                UserWarning,
                stacklevel=2,
            )
        phi = np.swapaxes(_phi(np.swapaxes(logits, 1, 2), labels), 1, 2)  # (M, n, Q)
        self.mean_out_, self.std_out_ = self._gaussian(phi, ~mask, "OUT", unscored)
        self.mean_in_, self.std_in_ = (
            self._gaussian(phi, mask, "IN", unscored) if online else (None, None)
        )
        self.labels_ = labels
        self.n_queries_, self.n_classes_ = phi.shape[2], logits.shape[-1]
        self.unscored_ = unscored
        return self

    def _gaussian(self, phi, mask, side, unscored):
        mean, std = _masked_mean_std(phi, mask)
        global_std = np.std(phi[mask]) if mask.any() else np.nan  # every (model, record, query)
        if self.fix_variance:
            std = global_std
        else:
            single = (mask.sum(axis=0) == 1) & ~unscored
            if single.any():
                warnings.warn(
                    f"{single.sum()} of {len(single)} records have a single {side} reference "
                    f"model: their σ_{side.lower()} is the spread over every record and model "
                    "(as with fix_variance=True)",
                    UserWarning,
                    stacklevel=3,
                )
                std = np.where(single[:, None], global_std, std)
        return mean, np.maximum(std, 1e-30)

    def score_samples(self, logits) -> np.ndarray:
        """Scores of the target's logits on the fitted records: higher = more likely a member.

        Args:
            logits: the target's ``(n, n_classes)`` or ``(n, n_queries, n_classes)`` logits on
                the records given to ``fit``, in the same order.

        Returns:
            float64 scores of shape ``(n,)``; NaN for the records in ``unscored_`` (no
            reference model on a side they need).
        """
        logits = _target_logits(self, logits)
        phi = _phi(np.swapaxes(logits, 0, 1), self.labels_).T  # (n, Q)
        inside = None if self.mean_in_ is None else (self.mean_in_, self.std_in_)  # online
        per_query = _gaussian_test(phi, (self.mean_out_, self.std_out_), inside)
        scores = per_query.mean(axis=1)
        scores[self.unscored_] = np.nan
        return scores

    def __repr__(self) -> str:
        return f"LiRA(online={self.online}, fix_variance={self.fix_variance})"


class RMIA:
    """The Robust Membership Inference Attack of Zarifzadeh et al. (2024).

    With p(x|θ) the probability a model gives x's true label (averaged over queries), the
    target's ratio for a record is ratio_x = p(x|θ_target) / Pr(x), where Pr(x) averages the
    reference models: all of them online; offline, from OUT models only, corrected as
    Pr(x) = ((1 + a)/2) mean_OUT p(x|θ) + (1 - a)/2. The same ratio is computed for population
    records z that no model trained on, and the score of x is the fraction of z with
    ratio_x / ratio_z > γ. Instead of comparing every x with every z (an n × m matrix), the z
    ratios are sorted once and each x is placed among them by binary search: same result,
    memory O(n + m). Everything is computed in log space, so a probability that underflows
    float64 (a model very sure of another class) still ranks correctly instead of giving 0/0.

    Args:
        online: average IN and OUT reference models (needs both for every record); offline
            uses OUT models and the correction ``a``.
        a: offline correction in [0, 1]; None chooses it in ``fit`` with :meth:`select_a`.
        gamma: threshold γ > 0 on the likelihood ratio of x against z.

    Attributes (after ``fit``): ``a_`` (offline), ``log_prior_x_`` (n,) and ``log_prior_z_``
    (m,), the logarithms of Pr(x) and Pr(z); ``labels_`` and ``population_labels_``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> mask = np.tile([[True], [False]], (2, 6))
        >>> attack = RMIA(a=0.5).fit(rng.normal(size=(4, 6, 3)), mask, [0, 1, 2, 0, 1, 2],
        ...     population_logits=rng.normal(size=(4, 20, 3)), population_labels=[0, 1] * 10)
        >>> scores = attack.score_samples(rng.normal(size=(6, 3)),
        ...     population_logits=rng.normal(size=(20, 3)))
        >>> bool(np.all((scores >= 0) & (scores <= 1)))
        True
    """

    def __init__(self, *, online: bool = False, a: float | None = None, gamma: float = 1.0):
        self.online = online
        self.a = a
        self.gamma = gamma

    def fit(
        self, reference_logits, reference_in_mask, labels, *, population_logits, population_labels
    ) -> RMIA:
        """Reference models' averages for the records and for the population.

        Args:
            reference_logits, reference_in_mask, labels: the reference models on the candidate
                records, shaped as in :meth:`LiRA.fit`.
            population_logits: ``(n_models, m, [n_queries,] n_classes)``, the same reference
                models on m population records none of them trained on.
            population_labels: ``(m,)`` true labels of the population records.
        """
        online = boolean(self.online, "online")
        logits, mask, labels = reference_inputs(reference_logits, reference_in_mask, labels)
        z_logits = logits_with_queries(population_logits, "population_logits", leading=1)
        z_labels = int_labels(population_labels, "population_labels", n_classes=logits.shape[-1])
        if z_logits.shape[0] != logits.shape[0] or z_logits.shape[2:] != logits.shape[2:]:
            raise ValueError(
                f"population_logits must come from the same {logits.shape[0]} models with the "
                f"same queries and classes: expected shape ({logits.shape[0]}, m, "
                f"{logits.shape[2]}, {logits.shape[3]}), got {z_logits.shape}"
            )
        same_length(**{"population_logits (axis 1)": z_logits[0], "population_labels": z_labels})
        warn_if_probabilities(z_logits, "population_logits")
        positive_number(self.gamma, "gamma")
        log_p_x = _log_true_probability(logits, labels)  # (M, n)
        log_p_z = _log_true_probability(z_logits, z_labels)
        no_in, no_out = int((mask.sum(axis=0) == 0).sum()), int(((~mask).sum(axis=0) == 0).sum())
        balanced = "training.balanced_in_mask gives every record as many IN as OUT models"
        if online:
            if no_in or no_out:
                raise ValueError(
                    f"reference_in_mask gives {no_in} record(s) no IN and {no_out} no OUT "
                    "reference model; online RMIA needs both for every record"
                    + (", or use online=False (OUT models only); " if not no_out else "; ")
                    + balanced
                )
            self.a_ = None
            self.log_prior_x_ = logsumexp(log_p_x, axis=0) - np.log(len(log_p_x))
            self.log_prior_z_ = logsumexp(log_p_z, axis=0) - np.log(len(log_p_z))
        else:
            if no_out:
                raise ValueError(
                    f"reference_in_mask gives {no_out} record(s) no OUT reference model; offline "
                    f"RMIA needs one for every record; {balanced}"
                )
            if self.a is None:
                self.a_ = self.select_a(
                    reference_logits,
                    reference_in_mask,
                    labels,
                    population_logits=population_logits,
                    population_labels=population_labels,
                    gamma=self.gamma,
                )
            else:
                self.a_ = real_number(self.a, "a", low=0, high=1)
            # log of the mean over OUT models of p(x|θ), then of ((1 + a)/2) mean + (1 - a)/2.
            log_mean_out_x = logsumexp(log_p_x, axis=0, b=~mask) - np.log((~mask).sum(axis=0))
            log_mean_z = logsumexp(log_p_z, axis=0) - np.log(len(log_p_z))
            self.log_prior_x_ = self._offline_prior(log_mean_out_x)
            self.log_prior_z_ = self._offline_prior(log_mean_z)
        self.labels_, self.population_labels_ = labels, z_labels
        self.n_queries_, self.n_classes_ = logits.shape[2], logits.shape[3]
        return self

    def _offline_prior(self, log_mean: np.ndarray) -> np.ndarray:
        """log(((1 + a)/2) exp(log_mean) + (1 - a)/2), exact for any a in [0, 1]."""
        with np.errstate(divide="ignore"):  # a = 1 makes the second term log(0) = -inf
            return np.logaddexp(np.log((1 + self.a_) / 2) + log_mean, np.log((1 - self.a_) / 2))

    def score_samples(self, logits, *, population_logits) -> np.ndarray:
        """Fraction of population records the target's ratio on x beats by more than γ.

        Args:
            logits: the target's ``(n, [n_queries,] n_classes)`` logits on the records given to
                ``fit``, in the same order.
            population_logits: the target's ``(m, [n_queries,] n_classes)`` logits on the
                population records given to ``fit``.

        Returns:
            float64 scores in [0, 1] of shape ``(n,)``; higher = more likely a member.
        """
        logits = _target_logits(self, logits)
        z_logits = logits_with_queries(population_logits, "population_logits", leading=0)
        if (
            z_logits.shape[0] != len(self.population_labels_)
            or z_logits.shape[1:] != logits.shape[1:]
        ):
            raise ValueError(
                f"population_logits must have shape ({len(self.population_labels_)}, "
                f"{logits.shape[1]}, {logits.shape[2]}) like the population given to fit(), "
                f"got {z_logits.shape}"
            )
        warn_if_probabilities(z_logits, "population_logits")
        log_p_x = _log_true_probability(logits, self.labels_)
        log_p_z = _log_true_probability(z_logits, self.population_labels_)
        log_ratio_x = log_p_x - self.log_prior_x_
        log_ratio_z = np.sort(log_p_z - self.log_prior_z_)
        # ratio_x / ratio_z > γ  <=>  log ratio_z < log ratio_x - log γ: count the z strictly below.
        below = np.searchsorted(log_ratio_z, log_ratio_x - np.log(self.gamma), side="left")
        return below / len(log_ratio_z)

    @staticmethod
    def select_a(
        reference_logits,
        reference_in_mask,
        labels,
        *,
        population_logits,
        population_labels,
        grid=A_GRID,
        gamma: float = 1.0,
    ) -> float:
        """Choose offline RMIA's ``a`` by attacking a held-out reference model (as the paper does).

        Reference model 0 plays the target, with its in-mask as the truth; the others (except
        any trained on exactly the complementary half, whose mask would mirror the truth) are
        its references. Returns the ``a`` in ``grid`` with the highest AUC; ties go to the
        smallest.
        """
        logits, mask, labels = reference_inputs(reference_logits, reference_in_mask, labels)
        z_logits = logits_with_queries(population_logits, "population_logits", leading=1)
        keep = [m for m in range(1, len(mask)) if not np.array_equal(mask[m], ~mask[0])]
        if not keep or mask[0].all() or not mask[0].any():
            raise ValueError(
                "select_a needs at least 2 reference models (one plays the target) whose "
                "masks are not complementary, and a held-out model with IN and OUT records; "
                "pass a= explicitly otherwise"
            )
        others = mask[keep]
        usable = (~others).any(axis=0)  # records with at least one OUT model among the others
        if mask[0][usable].all() or not mask[0][usable].any():
            raise ValueError("too few reference models to choose a; pass a= explicitly")
        best_a, best_auc = None, -1.0
        for a in grid:
            attack = RMIA(online=False, a=float(a), gamma=gamma).fit(
                logits[keep][:, usable],
                others[:, usable],
                labels[usable],
                population_logits=z_logits[keep],
                population_labels=population_labels,
            )
            scores = attack.score_samples(logits[0][usable], population_logits=z_logits[0])
            auc = roc_auc_score(mask[0][usable], scores)
            if auc > best_auc:
                best_a, best_auc = float(a), auc
        return best_a

    def __repr__(self) -> str:
        return f"RMIA(online={self.online}, a={self.a}, gamma={self.gamma})"
