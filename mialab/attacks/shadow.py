"""The shadow-model attack of Shokri et al. (2017), and its one-shadow form from ML-Leaks.

Shadow models are trained like the target on data the attacker owns, so the attacker knows which
records each one trained on. An attack classifier learns to tell a shadow model's prediction
vector on its training records (IN) from its vector on other records (OUT), and is then applied
to the target's prediction vectors (lesson 01). As LiRA and RMIA, it is used in scikit-learn's
style: ``fit(reference_logits, reference_in_mask, labels)`` on the shadow models, then
``score_samples(logits)`` on the target's logits for the same records.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier

from mialab._checks import boolean, labelled_logits, logits_matrix, reference_inputs, seed_value

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

    Attributes (after ``fit``): ``classifiers_``, one per class (or a single one under key None);
    ``labels_`` and ``n_classes_``, the records' labels and the logits' classes ``fit`` saw.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> mask = rng.random((2, 60)) < 0.5
        >>> logits = rng.normal(size=(2, 60, 3)) + 3 * mask[..., None] * np.eye(3)[[0] * 60]
        >>> attack = ShadowModelAttack(per_class=False, top_k=3).fit(logits, mask, [0] * 60)
        >>> attack.score_samples(rng.normal(size=(60, 3))).shape
        (60,)
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

    def fit(self, reference_logits, reference_in_mask, labels) -> ShadowModelAttack:
        """Train the attack classifiers.

        Args:
            reference_logits: ``(n_models, n, n_classes)`` shadow models' logits on n records.
            reference_in_mask: ``(n_models, n)``, True where the shadow model trained on the
                record.
            labels: ``(n,)`` true labels of the records.
        """
        per_class, seed = boolean(self.per_class, "per_class"), seed_value(self.seed)
        if self.estimator is not None and not (
            hasattr(self.estimator, "fit") and hasattr(self.estimator, "predict_proba")
        ):
            raise TypeError("estimator must be a scikit-learn classifier with predict_proba")
        logits, mask, labels = reference_inputs(reference_logits, reference_in_mask, labels)
        if logits.shape[2] != 1:
            raise ValueError(
                "reference_logits must have shape (n_models, n, n_classes): no queries"
            )
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
                    f"reference_in_mask has only IN or only OUT records of class {group}; the "
                    "attack classifier needs both"
                )
            self.classifiers_[group] = clone(estimator).fit(features[rows], membership[rows])
        self.labels_, self.n_classes_ = labels, logits.shape[-1]
        return self

    def _width(self, n_classes: int) -> int:
        return n_classes if self.top_k is None else self.top_k

    def score_samples(self, logits, labels=None) -> np.ndarray:
        """The attack classifiers' probability that each record was IN the target's training set.

        The classifiers learned what membership looks like in a model's outputs, so they can
        score any records, not only those given to ``fit`` (Shokri et al. attack records the
        shadow models never saw).

        Args:
            logits: the target's ``(n, n_classes)`` logits on the records to score.
            labels: their true labels; None scores the records given to ``fit``, in order.

        Returns:
            float64 scores in [0, 1] of shape ``(n,)``; higher = more likely a member.
        """
        if not hasattr(self, "classifiers_"):
            raise RuntimeError("call fit() before score_samples()")
        if labels is None:
            logits = logits_matrix(logits)
            if logits.shape != (len(self.labels_), self.n_classes_):
                raise ValueError(
                    f"logits must have shape {(len(self.labels_), self.n_classes_)}, one row per "
                    f"record given to fit() and its classes, or come with their labels; got "
                    f"{logits.shape}"
                )
            labels = self.labels_
        else:
            logits, labels = labelled_logits(logits, labels)
            if logits.shape[1] != self.n_classes_:
                raise ValueError(
                    f"logits must have {self.n_classes_} classes like those given to fit(), "
                    f"got {logits.shape[1]}"
                )
            unseen = sorted(set(labels.tolist()) - set(self.classifiers_)) if self.per_class else []
            if unseen:
                raise ValueError(f"labels has classes fit() never saw: {unseen}")
        features = self._features(logits)
        scores = np.empty(len(logits))
        for group, classifier in self.classifiers_.items():
            rows = np.ones(len(logits), bool) if group is None else labels == group
            member_column = list(classifier.classes_).index(True)
            scores[rows] = classifier.predict_proba(features[rows])[:, member_column]
        return scores

    def __repr__(self) -> str:
        return f"ShadowModelAttack(per_class={self.per_class}, top_k={self.top_k})"
