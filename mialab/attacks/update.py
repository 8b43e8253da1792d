"""Attacks on a model update: what a federated server sees (lesson 04).

A server that receives one client's weights after local training holds two models: the global
model it sent (before) and the client's reply (after). Training on a record lowers that record's
loss more than a stranger's, so the loss decrease ranks the client's records first: the passive
server-side attack of Nasr et al. (2019), in its simplest form.
"""

import numpy as np

from mialab._checks import labelled_logits, logits_matrix
from mialab.attacks.threshold import loss_score

__all__ = ["loss_decrease_score"]


def loss_decrease_score(logits_before, logits_after, labels) -> np.ndarray:
    """How much a record's loss fell between two models: ℓ(before; x) − ℓ(after; x).

    Args:
        logits_before: ``(n, n_classes)`` logits of the model before the update (the global
            model the server sent).
        logits_after: ``(n, n_classes)`` logits of the model after it (the client's reply, or
            the next global model).
        labels: ``(n,)`` true class labels.

    Returns:
        float64 scores of shape ``(n,)``; higher = more likely in the update's training data.

    Example:
        >>> import numpy as np
        >>> before = np.array([[0.0, 0.0], [0.0, 0.0]])
        >>> after = np.array([[2.0, 0.0], [0.0, 0.0]])  # learned the first record
        >>> loss_decrease_score(before, after, np.array([0, 0])).round(3)
        array([0.566, 0.   ])
    """
    before, labels = labelled_logits(logits_before, labels, name="logits_before")
    after = logits_matrix(logits_after, "logits_after")
    if before.shape != after.shape:
        raise ValueError(
            "logits_before and logits_after must have the same shape, got "
            f"{before.shape} and {after.shape}"
        )
    return loss_score(after, labels) - loss_score(before, labels)
