"""Threshold attacks: one number per record from the target's output, no reference models.

Each returns scores where higher means "more likely a member"; thresholding a score is the attack
(lesson 00). Inputs are logits of shape ``(n, n_classes)`` from any model, as numpy arrays or
torch tensors; a model that returns probabilities ``p`` can pass ``np.log(p)``, since the
softmax of log-probabilities gives the probabilities back (rows that look like probabilities
raise a warning). All arithmetic is float64.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, logsumexp

from mialab._checks import labelled_logits, logits_matrix

__all__ = ["loss_score", "confidence_score", "entropy_score", "modified_entropy_score"]


def _log_complement(logits: np.ndarray) -> np.ndarray:
    """log(1 - p_i) for every class i, computed as the log of the other classes' mass.

    Exact where ``log1p(-p)`` would round to log(0): when p_i is within 1e-16 of 1.
    """
    columns = []
    for i in range(logits.shape[1]):
        others = np.delete(logits, i, axis=1)
        columns.append(logsumexp(others, axis=1))
    return np.stack(columns, axis=1) - logsumexp(logits, axis=1, keepdims=True)


def loss_score(logits, labels) -> np.ndarray:
    """Negative cross-entropy loss of the true label (Yeom et al. 2018).

    Members were trained to have low loss, so ``-loss`` is higher for members.

    Args:
        logits: ``(n, n_classes)`` logits.
        labels: ``(n,)`` true class labels.

    Returns:
        float64 scores of shape ``(n,)``, higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> loss_score(np.array([[2.0, 0.0], [0.0, 2.0]]), np.array([0, 0])).round(3)
        array([-0.127, -2.127])
    """
    logits, labels = labelled_logits(logits, labels)
    return log_softmax(logits, axis=1)[np.arange(len(labels)), labels]


def confidence_score(logits, labels) -> np.ndarray:
    """Probability the model gives the true label (Song & Mittal 2021's confidence).

    Args:
        logits: ``(n, n_classes)`` logits.
        labels: ``(n,)`` true class labels.

    Returns:
        float64 scores in [0, 1] of shape ``(n,)``, higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> confidence_score(np.array([[0.0, 0.0]]), np.array([1]))
        array([0.5])
    """
    return np.exp(loss_score(logits, labels))


def entropy_score(logits) -> np.ndarray:
    """Negative entropy of the prediction (Salem et al. 2019): needs no label.

    Models are more certain on their training data, so lower entropy suggests a member.

    Args:
        logits: ``(n, n_classes)`` logits.

    Returns:
        float64 scores of shape ``(n,)`` in [-log(n_classes), 0], higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> entropy_score(np.array([[0.0, 0.0]])).round(4)  # uniform: -log 2
        array([-0.6931])
    """
    logits = logits_matrix(logits)
    log_p = log_softmax(logits, axis=1)
    return np.sum(np.exp(log_p) * log_p, axis=1)


def modified_entropy_score(logits, labels) -> np.ndarray:
    """Negative modified entropy of Song & Mittal (2021), which uses the true label.

    Mentr = -(1 - p_y) log p_y - Σ_{i≠y} p_i log(1 - p_i). It is 0 only for a confident correct
    prediction and grows without bound for a confident wrong one, unlike plain entropy.

    Args:
        logits: ``(n, n_classes)`` logits.
        labels: ``(n,)`` true class labels.

    Returns:
        float64 scores of shape ``(n,)``, at most 0, higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> logits = np.array([[2.0, 0.0], [0.0, 2.0]])
        >>> modified_entropy_score(logits, np.array([0, 0])).round(3)  # right, then wrong
        array([-0.03 , -3.747])
    """
    logits, labels = labelled_logits(logits, labels)
    log_p = log_softmax(logits, axis=1)
    log_not_p = _log_complement(logits)
    rows = np.arange(len(labels))
    p = np.exp(log_p)
    true_term = -np.exp(log_not_p[rows, labels]) * log_p[rows, labels]
    wrong_terms = -p * log_not_p
    wrong_terms[rows, labels] = 0.0
    return -(true_term + wrong_terms.sum(axis=1))
