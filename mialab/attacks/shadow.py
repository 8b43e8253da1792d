"""The shadow-model attack of Shokri et al. (2017), and its one-shadow form from ML-Leaks.

Shadow models are trained like the target on data the attacker owns, so the attacker knows which
records each one trained on. An attack classifier learns to tell a shadow model's prediction
vector on its training records (IN) from its vector on other records (OUT), and is then applied
to the target's prediction vectors (lesson 01).
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier

from mialab._checks import (
    boolean,
    float_array,
    int_labels,
    same_length,
    seed_value,
    warn_if_probabilities,
)
from mialab.attacks.reference import _reference_inputs

__all__ = ["ShadowModelAttack"]


class ShadowModelAttack:
    """Attack classifiers trained on shadow models' prediction vectors (Shokri et al. 2017).

    Shokri et al. train one attack classifier per class on the full probability vector. Salem et
    al. (2019, ML-Leaks) showed one shadow model and one classifier on the three largest
    probabilities (sorted) do as well: ``ShadowModelAttack(per_class=False, top_k=3)`` fitted
    with a single shadow model.

    Args:
        per_class: one classifier per true class (Shokri) or one for all (ML-Leaks).
        top_k: keep the k largest probabilities, sorted; None keeps the full vector in class order.
        estimator: a scikit-learn classifier to clone; default a small MLP (64 hidden units,
            early stopping on a 10% validation split).
        seed: random state of the default estimator.

    Attributes (after ``fit``): ``classifiers_``, one per class (or a single one under key None).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> mask = rng.random((2, 60)) < 0.5
        >>> logits = rng.normal(size=(2, 60, 3)) + 3 * mask[..., None] * np.eye(3)[[0] * 60]
        >>> attack = ShadowModelAttack(per_class=False, top_k=3).fit(logits, mask, [0] * 60)
        >>> attack.score(rng.normal(size=(10, 3)), [0] * 10).shape
        (10,)
    """

    def __init__(
        self, *, per_class: bool = True, top_k: int | None = None, estimator=None, seed: int = 0
    ):
        self.per_class = per_class
        self.top_k = top_k
        self.estimator = estimator
        self.seed = seed

    def _features(self, logits: np.ndarray) -> np.ndarray:
        probs = softmax(logits, axis=-1)
        if self.top_k is None:
            return probs
        return -np.sort(-probs, axis=-1)[..., : self.top_k]

    def fit(self, shadow_logits, shadow_in_mask, labels) -> ShadowModelAttack:
        """Train the attack classifiers.

        Args:
            shadow_logits: ``(n_models, n, n_classes)`` shadow models' logits on n records.
            shadow_in_mask: ``(n_models, n)``, True where the shadow model trained on the record.
            labels: ``(n,)`` true labels of the records.
        """
        per_class, seed = boolean(self.per_class, "per_class"), seed_value(self.seed)
        if self.estimator is not None and not (
            hasattr(self.estimator, "fit") and hasattr(self.estimator, "predict_proba")
        ):
            raise TypeError("estimator must be a scikit-learn classifier with predict_proba")
        try:
            logits, mask, labels = _reference_inputs(shadow_logits, shadow_in_mask, labels)
        except (TypeError, ValueError) as error:  # the shared checks say ref_*; we say shadow_*
            message = str(error).replace("ref_logits", "shadow_logits")
            raise type(error)(message.replace("ref_in_mask", "shadow_in_mask")) from None
        if logits.shape[2] != 1:
            raise ValueError("shadow_logits must have shape (n_models, n, n_classes): no queries")
        if self.top_k is not None and (
            isinstance(self.top_k, (bool, np.bool_))
            or not isinstance(self.top_k, (int, np.integer))
            or not 1 <= self.top_k <= logits.shape[-1]
        ):
            raise ValueError(f"top_k must be None or an int in [1, {logits.shape[-1]}]")
        features = self._features(logits[:, :, 0]).reshape(-1, self._width(logits.shape[-1]))
        membership = mask.reshape(-1)
        classes = np.tile(labels, len(mask))
        estimator = self.estimator or MLPClassifier(
            hidden_layer_sizes=(64,), early_stopping=True, max_iter=300, random_state=seed
        )
        groups = np.unique(labels) if per_class else [None]
        self.classifiers_ = {}
        for group in groups:
            rows = np.ones_like(membership) if group is None else classes == group
            if membership[rows].all() or not membership[rows].any():
                raise ValueError(
                    f"shadow_in_mask has only IN or only OUT records of class {group}; the attack "
                    "classifier needs both"
                )
            self.classifiers_[group] = clone(estimator).fit(features[rows], membership[rows])
        self.n_classes_ = logits.shape[-1]
        return self

    def _width(self, n_classes: int) -> int:
        return n_classes if self.top_k is None else self.top_k

    def score(self, target_logits, labels) -> np.ndarray:
        """The attack classifiers' probability that each record was IN the target's training set."""
        if not hasattr(self, "classifiers_"):
            raise RuntimeError("call fit() before score()")
        logits = float_array(target_logits, "target_logits", ndim=2)
        warn_if_probabilities(logits, "target_logits")
        if logits.shape[1] != self.n_classes_:
            raise ValueError(
                f"target_logits must have {self.n_classes_} classes like the shadow models, "
                f"got {logits.shape[1]}"
            )
        labels = int_labels(labels, "labels", n_classes=self.n_classes_)
        same_length(target_logits=logits, labels=labels)
        unseen = (
            set(np.unique(labels)) - set(self.classifiers_)
            if None not in self.classifiers_
            else set()
        )
        if unseen:
            raise ValueError(f"labels holds classes {sorted(unseen)} that no shadow record had")
        features = self._features(logits)
        scores = np.empty(len(labels))
        for group, classifier in self.classifiers_.items():
            rows = np.ones(len(labels), bool) if group is None else labels == group
            if rows.any():
                member_column = list(classifier.classes_).index(True)
                scores[rows] = classifier.predict_proba(features[rows])[:, member_column]
        return scores

    def __repr__(self) -> str:
        return f"ShadowModelAttack(per_class={self.per_class}, top_k={self.top_k})"
