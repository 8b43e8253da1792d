"""Audit a classifier for membership leakage in one call (lesson 07).

:func:`audit_model` runs every attack that fits what it is given, each with its ε bound (the
heuristic, or the one-run bound when the audited records' membership was randomised; see
``mialab.audit.bounds``), Bonferroni-corrected over the attacks, in one :class:`AuditReport`.
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

from mialab import attacks, data, metrics, training
from mialab._checks import (
    boolean,
    float_array,
    fraction,
    int_labels,
    membership_labels,
    positive_int,
    same_length,
    seed_value,
)
from mialab.audit.bounds import canary_epsilon_lower_bound, epsilon_lower_bound

__all__ = ["AuditReport", "audit_model"]

_FPRS = (0.001, 0.01)  # the report's low false-positive rates
_LOG_FLOOR = math.log(np.finfo(float).tiny)  # the log of a predicted probability of exactly 0


@dataclass(frozen=True, eq=False)
class AuditReport:
    """What :func:`audit_model` found: a table, the attacks' results, the most exposed records.

    Attributes:
        table: one row per attack, in :func:`mialab.metrics.results_table`'s columns:
            ``attack``; ``AUC``, ``TPR@0.1%FPR``, ``TPR@1%FPR`` and ``advantage``, each followed
            by its bootstrap interval (``AUC low``, ``AUC high``, ...) at ``confidence``; a TPR
            is NaN where the non-members are too few to measure it (an FPR below
            1/n_nonmembers). The last column, :attr:`bound_column`, is the attack's ε bound for
            the given ``delta``, at level :attr:`bound_confidence` (Bonferroni over the
            attacks): ``ε heuristic``, a per-record ε estimate that is not a proof, or, when
            the audited records' membership was randomised, ``ε lower bound``, the one-run
            lower bound of Steinke et al. (2023).
        results: each attack's :class:`~mialab.metrics.AttackResult` (scores and ROC).
        most_exposed: the records the strongest attack (highest TPR at 1% FPR, then AUC; AUC
            alone where that TPR is not measurable) is surest are members: ``set`` (member /
            non-member), ``index`` in that set, ``score``.
        notes: what was run and what was not, and why.
        confidence: the level of the intervals, and of all the bounds together.
        delta: the δ of the guarantee the bounds are about.
        n_distinct_rankings: how many different orderings of the records the attacks give;
            attacks that rank the records identically make the same guesses and count once in
            the Bonferroni correction.
        reference_logits: the reference models' outputs on the members then the non-members;
            save them, with ``reference_in_mask``, to audit the same model again from its
            logits without retraining.
        reference_in_mask: which record trained which reference model.
        population_logits: the target's outputs on the population records RMIA compared
            against; save them, with the next two, to run RMIA again without the models.
        reference_population_logits: the reference models' outputs on those records.
        population_labels: their labels.
        membership_randomized: whether the bound column is the one-run bound.
    """

    table: pd.DataFrame
    results: tuple
    most_exposed: pd.DataFrame
    notes: tuple
    confidence: float
    delta: float
    n_distinct_rankings: int
    reference_logits: np.ndarray | None = None
    reference_in_mask: np.ndarray | None = None
    population_logits: np.ndarray | None = None
    reference_population_logits: np.ndarray | None = None
    population_labels: np.ndarray | None = None
    membership_randomized: bool = False

    @property
    def bound_column(self) -> str:
        """``ε lower bound`` (one-run, rigorous) or ``ε heuristic`` (per-record estimate)."""
        return _bound_column(self.membership_randomized)

    @property
    def bound_confidence(self) -> float:
        """Each attack's bound level, 1 − (1 − confidence) / n_distinct_rankings (Bonferroni)."""
        return 1 - (1 - self.confidence) / self.n_distinct_rankings

    def roc_figure(self):
        """A log-log ROC of every attack, as a matplotlib figure (``.savefig("roc.png")``)."""
        import matplotlib.pyplot as plt

        from mialab import plots  # matplotlib and seaborn load only for a figure

        fig, ax = plt.subplots(figsize=(5.5, 5))
        plots.roc(list(self.results), ax=ax, title="Membership inference audit")
        return fig

    def _caption(self) -> str:
        members, nonmembers = self.results[0].n_members, self.results[0].n_nonmembers
        n, distinct, column = len(self.results), self.n_distinct_rankings, self.bound_column
        text = (
            f"Membership inference audit: {members} members, {nonmembers} non-members. "
            f"AUC, TPR, advantage: estimate [{self.confidence:.0%} stratified bootstrap "
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
        if distinct < n:
            text += (
                f"The {n} attacks rank the records in {distinct} distinct order(s); attacks "
                "with the same order make the same guesses and count once. "
            )
        if distinct > 1:
            counted = f"the {distinct} attacks" if distinct == n else f"the {distinct} orders"
            text += (
                f"Bonferroni over {counted}: each {column} at level "
                f"{100 * self.bound_confidence:.3g}%, so that all hold together with "
                f"{self.confidence:.0%} confidence"
            )
        else:
            text += f"{column} at {self.confidence:.0%} confidence"
        if not self.membership_randomized:
            text += " (if the records were independent trials)"
        return text + "; 0 means the attack found nothing at this sample size."

    def _unmeasurable_note(self) -> str:
        """What "—" means, when the table has one."""
        parts = []
        for fpr in _FPRS:
            missing = self.table[metrics.tpr_column(fpr)].isna().to_numpy()
            if missing.any():
                pairs = zip(self.results, missing, strict=True)
                have = sorted({result.n_nonmembers for result, gone in pairs if gone})
                needed = math.ceil(1 / fpr - 1e-9)
                parts.append(
                    f"{metrics.tpr_column(fpr)} needs at least {needed} non-members, this audit "
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
            f"{self._caption()}\n\n"
            f"{metrics.format_results(self.table).to_markdown(index=False)}\n\n"
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
            f"{metrics.format_results(self.table).to_html(index=False)}"
            + (f"<p>{html.escape(unmeasurable)}</p>" if unmeasurable else "")
            + f"<ul>{notes}</ul><p>Most exposed records:</p>"
            f"{self.most_exposed.to_html(index=False, float_format='{:.3g}'.format)}"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        unmeasurable = self._unmeasurable_note()
        shown = metrics.format_results(self.table).to_string(index=False)
        return f"AuditReport\n{shown}" + (f"\n{unmeasurable}" if unmeasurable else "")


def _bound_column(membership_randomized: bool) -> str:
    return "ε lower bound" if membership_randomized else "ε heuristic"


def _has_probabilities(model) -> bool:
    """Whether ``model`` is a scikit-learn-style classifier with predicted probabilities."""
    return hasattr(model, "predict_log_proba") or hasattr(model, "predict_proba")


def _label_only(model) -> bool:
    """Whether ``model`` only predicts labels (a scikit-learn-style ``predict``, no proba)."""
    return (
        not isinstance(model, nn.Module)
        and hasattr(model, "predict")
        and not (_has_probabilities(model))
    )


def _applied(method, X: np.ndarray, name: str):
    """``method(X)``, an error while applying it named as the model not fitting the records."""
    try:
        return method(X)
    except (RuntimeError, ValueError) as error:  # e.g. a layer of another input width
        raise ValueError(
            f"{name} could not be applied to the records of members and nonmembers (each of "
            f"shape {X.shape[1:]}): {error}"
        ) from None


def _logits(model, X: np.ndarray, name: str, device) -> np.ndarray:
    """Logits of a torch classifier, log-probabilities of a scikit-learn classifier, or the
    output of any function of the records (logits or log-probabilities)."""
    if isinstance(model, nn.Module):
        return _applied(lambda X: training.predict_logits(model, X, device=device), X, name)
    if _has_probabilities(model):
        classes = getattr(model, "classes_", None)
        if classes is not None and not np.array_equal(classes, np.arange(len(classes))):
            raise ValueError(
                f"{name} was fitted on the classes {list(classes)}: its probability columns "
                "are the labels only for classes 0, 1, ..., n_classes - 1"
            )
        with np.errstate(divide="ignore"):  # a probability of 0: its log is clipped below
            if hasattr(model, "predict_log_proba"):
                log_proba = np.asarray(_applied(model.predict_log_proba, X, name), float)
            else:
                log_proba = np.log(np.asarray(_applied(model.predict_proba, X, name), float))
        # The floor turns log(0) = -inf into a finite log-probability; NaN is still refused.
        logits = float_array(np.maximum(log_proba, _LOG_FLOOR), f"the log-probabilities of {name}",
                             ndim=2)  # fmt: skip
    elif callable(model):
        logits = float_array(_applied(model, X, name), f"the output of {name}", ndim=2)
    else:
        raise TypeError(
            f"{name} must be a torch module, a scikit-learn classifier or a function of the "
            f"records, got {type(model).__name__}"
        )
    if len(logits) != len(X):
        raise ValueError(f"{name} returned {len(logits)} rows for {len(X)} records")
    return logits


def _pair(name: str, member, nonmember) -> bool:
    """Whether a member/non-member pair of arguments was given; half a pair is an error."""
    if (member is None) != (nonmember is None):
        raise ValueError(f"member_{name} needs nonmember_{name}, and the other way round")
    return member is not None


def _target(model, members, nonmembers, member_logits, nonmember_logits, member_labels,
            nonmember_labels, member_predictions, nonmember_predictions, device):  # fmt: skip
    """The audited records ``X`` (or None), ``labels``, member count, and the target's
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
            data.arrays(members, "members"),
            data.arrays(nonmembers, "nonmembers"),
        )
        if X_in.shape[1:] != X_out.shape[1:]:
            raise ValueError(
                f"members and nonmembers must hold records of the same shape, got "
                f"{X_in.shape[1:]} and {X_out.shape[1:]}"
            )
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
    labels = np.concatenate([y_in, y_out])

    logits = predicted = None
    if model is not None:
        if X is None:
            raise ValueError(
                "a model needs the records: give members=(X, labels) and nonmembers=(X, labels)"
            )
        if _label_only(model):
            predicted = int_labels(_applied(model.predict, X, "model"), "the predictions of model")
            same_length(**{"the predictions of model": predicted, "labels": labels})
        else:
            logits = _logits(model, X, "model", device)
    elif has_logits:
        parts = []
        for side, values, side_labels in (
            ("member", member_logits, y_in),
            ("nonmember", nonmember_logits, y_out),
        ):
            parts.append(float_array(values, f"{side}_logits", ndim=2))
            same_length(**{f"{side}_logits": parts[-1], f"{side}_labels": side_labels})
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
        same_length(predictions=predicted, labels=labels)
    else:
        raise ValueError(
            "nothing to audit: give model= with members= and nonmembers=, or member_logits= and "
            "nonmember_logits=, or member_predictions= and nonmember_predictions="
        )
    if logits is not None and (logits.shape[1] < 2 or labels.max() >= logits.shape[1]):
        given = "members and nonmembers" if X is not None else "member_labels and nonmember_labels"
        raise ValueError(
            f"the true labels of {given} must be class indices below the target's "
            f"{logits.shape[1]} logit columns (at least 2), got labels up to {labels.max()}"
        )
    return X, labels, len(y_in), logits, predicted


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


def _checked_population(population_logits, reference_population_logits, population_labels,
                        reference_logits):  # fmt: skip
    """The saved population outputs for RMIA, checked against the reference models' shape."""
    n_models, _, n_classes = reference_logits.shape
    target = float_array(population_logits, "population_logits", ndim=2)
    references = float_array(reference_population_logits, "reference_population_logits", ndim=3)
    labels = int_labels(population_labels, "population_labels", n_classes=n_classes)
    if target.shape != (len(labels), n_classes) or references.shape != (
        n_models,
        len(labels),
        n_classes,
    ):
        raise ValueError(
            f"population_logits must have shape (m, {n_classes}) and "
            f"reference_population_logits ({n_models}, m, {n_classes}) (the reference models of "
            f"reference_logits), with m = len(population_labels) = {len(labels)}; got "
            f"{target.shape} and {references.shape}"
        )
    return target, references, labels


def _reference_models(train_reference, X, labels, n_references, seed, device, progress,
                      settings):  # fmt: skip
    """Reference models from the factory, each trained on a random half of the records, and
    the in-mask saying which."""
    expected = (
        "train_reference(seed=s) must return a fresh model, e.g. "
        "functools.partial(ml.models.mlp, n_features, n_classes)"
    )
    try:
        first = train_reference(seed=seed)
    except TypeError as error:
        raise TypeError(f"{expected}; calling it failed: {error}") from None
    if isinstance(first, nn.Module):
        return training.fit_many(train_reference, (X, labels), n_references, seed=seed,
                                 device=device, progress=progress, **settings)  # fmt: skip
    if not (hasattr(first, "fit") and _has_probabilities(first)):
        raise TypeError(
            f"{expected} (a torch module, or a scikit-learn classifier with predict_proba), "
            f"got {type(first).__name__}"
        )
    if settings:
        raise ValueError(
            f"{', '.join(settings)} train torch reference models; a scikit-learn classifier "
            "trains with its own settings: drop them"
        )
    in_mask = training.balanced_in_mask(n_references, len(labels), seed=seed)
    disable = None if progress is None else not progress
    models = [
        train_reference(seed=seed + i).fit(X[mask], labels[mask])
        for i, mask in enumerate(
            tqdm(in_mask, desc="reference models", disable=disable, leave=False)
        )
    ]
    return models, in_mask


def _distinct_rankings(scores: dict, scored: dict) -> int:
    """How many different orderings of the records the attacks give, ties included.

    Attacks that rank the same records identically (loss, confidence and modified entropy of a
    two-class model) make the same guesses at every threshold, so their bounds hold or fail
    together: one event in the union bound, not several. Rounding that splits a tie in one
    score and not in another makes them count apart, which only makes the correction stricter.
    """
    rankings = {
        (scored[name].tobytes(), stats.rankdata(score[scored[name]]).tobytes())
        for name, score in scores.items()
    }
    return len(rankings)


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
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    reference_logits=None,
    reference_in_mask=None,
    population=None,
    population_logits=None,
    reference_population_logits=None,
    population_labels=None,
    delta: float = 1e-5,
    confidence: float = 0.95,
    membership_randomized: bool = False,
    n_exposed: int = 10,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
) -> AuditReport:
    """Audit a classifier for membership leakage in one call: every attack its inputs allow.

    Give the target in one of three ways:

    * ``model`` with ``members`` and ``nonmembers`` (each a :class:`~mialab.data.Dataset` or
      ``(X, labels)``; ``X`` as the model takes it, images included). The model is a torch
      classifier (run on ``device``), a scikit-learn classifier (its log-probabilities; one
      with ``predict`` only is audited from its predicted labels), or any function from
      records to logits or log-probabilities;
    * its saved outputs: ``member_logits``, ``nonmember_logits`` and the true
      ``member_labels``, ``nonmember_labels`` (any framework; log-probabilities work too);
    * only its predicted labels: ``member_predictions``, ``nonmember_predictions`` and the true
      labels: the label-only gap attack is all that applies.

    With logits, the loss, confidence and modified-entropy threshold attacks always run. LiRA
    (online) runs when reference models are available: trained here, ``n_references`` of
    them, each on a random half of the members and non-members (needs the records), from
    ``train_reference``, a factory called as ``train_reference(seed=s)`` that returns a fresh
    torch model (trained as by :func:`mialab.training.fit_many`, with ``epochs``,
    ``batch_size``, ``lr``, ``weight_decay`` as there: give the target's recipe) or a
    scikit-learn classifier (trained by its ``fit``); or given as ``reference_logits``
    ``(n_references, n_members + n_nonmembers, n_classes)`` with ``reference_in_mask``. RMIA
    (online) also runs against population records no model trained on: ``population=(X,
    labels)`` when the model and the reference models are here, or their saved outputs
    ``population_logits`` ``(m, n_classes)`` (the target's), ``reference_population_logits``
    ``(n_references, m, n_classes)`` and ``population_labels`` with ``reference_logits``.

    Each attack's row gives its AUC, TPR at 0.1% and 1% FPR and advantage with bootstrap
    intervals at ``confidence``, and an ε bound for ``delta``:

    * by default ``ε heuristic``, :func:`~mialab.audit.epsilon_lower_bound` over the audited
      records: a per-record ε estimate, **not a proof**, since one trained model's records are
      not the independent trials that bound assumes;
    * with ``membership_randomized=True``, ``ε lower bound``, the one-run bound of Steinke,
      Nasr & Jagielski (2023) (:func:`~mialab.audit.canary_epsilon_lower_bound`, guessing on
      the 10% highest and 10% lowest scores) over the audited records, a rigorous lower bound.
      Pass True only if each audited record was put in the training data independently with
      probability ½ (a coin per record, e.g. ``rng.random(n) < 0.5``) and the rest of the
      training data did not depend on those coins; a split of fixed size such as
      :func:`mialab.data.membership_split` is not covered by that theorem.

    The bounds are Bonferroni-corrected over the attacks: with n attacks that rank the records
    in n different orders, each is computed at level 1 − (1 − ``confidence``) / n, so that all
    hold together with ``confidence``. Attacks that rank the records identically, ties included,
    make the same guesses and count once: on a two-class model the loss and confidence attacks
    always do; modified entropy does too unless float rounding splits a few near-ties (the
    stricter count then keeps it apart). The report's
    caption says which bound it shows and at what level.

    Returns:
        An :class:`AuditReport`.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> member_logits = rng.normal(size=(200, 3)) + [[2.0, 0.0, 0.0]]  # confident on class 0
        >>> report = audit_model(member_logits=member_logits, member_labels=np.zeros(200, int),
        ...                      nonmember_logits=rng.normal(size=(200, 3)),
        ...                      nonmember_labels=np.zeros(200, int))
        >>> list(report.table.attack), report.bound_column
        (['loss', 'confidence', 'modified entropy'], 'ε heuristic')
        >>> bool(report.table.AUC.min() > 0.8)
        True
    """
    delta = fraction(delta, "delta", low_open=False)
    if fraction(confidence, "confidence") == 1:
        raise ValueError("confidence must be below 1")
    n_exposed, seed = positive_int(n_exposed, "n_exposed"), seed_value(seed)
    if progress is not None:
        progress = boolean(progress, "progress")
    membership_randomized = boolean(membership_randomized, "membership_randomized")
    device = training.resolve_device(device)
    if positive_int(n_references, "n_references") < 2:
        raise ValueError("n_references must be at least 2 (each record IN and OUT of some)")
    if train_reference is not None and not callable(train_reference):
        raise TypeError(
            "train_reference must be a model factory called as train_reference(seed=s), e.g. "
            f"functools.partial(ml.models.mlp, n_features, n_classes); got {train_reference!r}"
        )
    recipe = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay}
    settings = {name: value for name, value in recipe.items() if value is not None}
    if settings and train_reference is None:
        raise ValueError(f"{', '.join(settings)} train the reference models: give train_reference=")
    X, labels, n_members, logits, predicted = _target(
        model, members, nonmembers, member_logits, nonmember_logits, member_labels,
        nonmember_labels, member_predictions, nonmember_predictions, device,
    )  # fmt: skip
    is_member = np.arange(len(labels)) < n_members
    if train_reference is not None and reference_logits is not None:
        raise ValueError("give train_reference or reference_logits, not both")
    if logits is None and (train_reference is not None or reference_logits is not None):
        raise ValueError("reference models need the target's logits, not only its labels")
    if train_reference is not None and X is None:
        raise ValueError("train_reference needs the records: give members= and nonmembers=")
    if population is not None:
        X_population, labels_population = data.arrays(population, "population")
    saved = [population_logits, reference_population_logits, population_labels]
    if any(value is not None for value in saved):
        if any(value is None for value in saved):
            raise ValueError(
                "population_logits, reference_population_logits and population_labels go "
                "together (RMIA's saved outputs): give all three"
            )
        if population is not None:
            raise ValueError(
                "give population=(X, labels) or its saved outputs (population_logits=, ...), "
                "not both"
            )
        if reference_logits is None:
            raise ValueError(
                "reference_population_logits are saved reference models' outputs: give the "
                "same models' reference_logits= and reference_in_mask= too"
            )

    if logits is None:
        scores = {"gap (label-only)": attacks.gap_score(predicted, labels)}
        notes = ["Only predicted labels were given: the label-only gap attack, whose advantage "
                 "is train minus test accuracy (Yeom et al. 2018)."]  # fmt: skip
    else:
        scores = {
            "loss": attacks.loss_score(logits, labels),
            "confidence": attacks.confidence_score(logits, labels),
            "modified entropy": attacks.modified_entropy_score(logits, labels),
        }
        notes = []

    references = []
    if train_reference is not None:
        references, reference_in_mask = _reference_models(
            train_reference, X, labels, n_references, seed, device, progress, settings
        )
        reference_logits = np.stack([_logits(r, X, "a reference model", device)
                                     for r in references])  # fmt: skip
        if population is not None and model is not None:
            population_labels = labels_population
            population_logits = _logits(model, X_population, "model", device)
            reference_population_logits = np.stack(
                [_logits(r, X_population, "a reference model", device) for r in references]
            )
    if reference_logits is not None:
        reference_logits, reference_in_mask = _checked_references(
            reference_logits, reference_in_mask, logits
        )
        n = len(reference_logits)
        with warnings.catch_warnings():  # the note below says what the warning would
            warnings.filterwarnings("ignore", ".*records have no IN or no OUT", UserWarning)
            lira = attacks.LiRA(online=True, fix_variance=n < 64).fit(
                reference_logits, reference_in_mask, labels
            )
        scores["LiRA"] = lira.score_samples(logits)
        how = ("each trained on a random half of the audited records (every record IN for half "
               "of them)" if references else "and the reference_in_mask given")  # fmt: skip
        notes.append(f"LiRA (online{', fixed variance' if n < 64 else ''}) with {n} reference "
                     f"models, {how}.")  # fmt: skip
        if lira.unscored_.any():
            notes.append(f"LiRA could not score {lira.unscored_.sum()} of {len(labels)} records "
                         "(no IN or no OUT reference model): its row covers the others only; "
                         "training.balanced_in_mask gives every record both.")  # fmt: skip
    elif logits is not None:
        notes.append("No reference models: LiRA and RMIA were not run (give train_reference= or "
                     "reference_logits=); the threshold attacks are weaker, so a low score here "
                     "is not evidence of safety.")  # fmt: skip
    if population_logits is not None:
        population_logits, reference_population_logits, population_labels = _checked_population(
            population_logits, reference_population_logits, population_labels, reference_logits
        )
        # Online RMIA needs an IN and an OUT reference model for every record.
        lacking = int((~reference_in_mask.any(0) | reference_in_mask.all(0)).sum())
        if lacking:
            notes.append(
                "RMIA was not run: online RMIA needs an IN and an OUT reference model for every "
                f"record, and reference_in_mask leaves {lacking} without."
            )
        else:
            rmia = attacks.RMIA(online=True).fit(
                reference_logits, reference_in_mask, labels,
                population_logits=reference_population_logits,
                population_labels=population_labels,
            )  # fmt: skip
            scores["RMIA"] = rmia.score_samples(logits, population_logits=population_logits)
            notes.append(f"RMIA (online) against {len(population_labels)} population records.")
    elif logits is not None:
        notes.append("RMIA was not run: it needs population records no model trained on, "
                     "population=(X, labels) with model= and train_reference=, or their saved "
                     "outputs population_logits=, reference_population_logits= and "
                     "population_labels= with reference_logits=.")  # fmt: skip

    scored = {name: np.flatnonzero(np.isfinite(score)) for name, score in scores.items()}
    n_distinct = _distinct_rankings(scores, scored)
    level = 1 - (1 - confidence) / n_distinct  # Bonferroni: all the bounds hold together
    results, bounds = [], []
    disable = None if progress is None else not progress
    for name, score in tqdm(scores.items(), desc="attacks", disable=disable, leave=False):
        keep = scored[name]
        results.append(metrics.evaluate(score[keep], is_member[keep], name=name,
                                        confidence=confidence, seed=seed))  # fmt: skip
        if membership_randomized:
            k = max(len(keep) // 10, 1)  # fixed by the counts alone, before any score is seen
            bounds.append(canary_epsilon_lower_bound(
                score[keep], is_member[keep], delta=delta, confidence=level, k_plus=k,
                k_minus=k, n_canaries=len(labels), seed=seed,
            ))  # fmt: skip
        else:
            bounds.append(epsilon_lower_bound(score[keep], is_member[keep], delta=delta,
                                              confidence=level, seed=seed))  # fmt: skip
    table = metrics.results_table(results, fprs=_FPRS)
    table[_bound_column(membership_randomized)] = bounds
    if membership_randomized:
        notes.append("membership_randomized=True: each audited record was put in the "
                     "training data independently with probability ½, so the one-run bound "
                     "applies.")  # fmt: skip
    low_fpr = table[metrics.tpr_column(0.01)].fillna(-1.0)  # not measurable: rank by AUC alone
    strongest = results[int(np.lexsort((table["AUC"], low_fpr))[-1])]
    top = scored[strongest.name][np.argsort(-strongest.scores, kind="stable")[:n_exposed]]
    most_exposed = pd.DataFrame({
        "set": np.where(is_member[top], "member", "non-member"),
        "index": np.where(is_member[top], top, top - n_members),
        "score": scores[strongest.name][top],
        "attack": strongest.name,
    })  # fmt: skip
    return AuditReport(
        table, tuple(results), most_exposed, tuple(notes), confidence, delta, n_distinct,
        reference_logits, reference_in_mask, population_logits, reference_population_logits,
        population_labels, membership_randomized,
    )  # fmt: skip
