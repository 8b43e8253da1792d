"""Training-data extraction from generated samples (Carlini et al., USENIX Security 2023).

A generation x̂ *extracts* a training record x when it is much closer to x than to the rest of
the training data: the paper's normalised distance

    ℓ(x̂, x; S_x̂) = ‖x̂ − x‖₂ / (α · mean_{y ∈ S_x̂} ‖x̂ − y‖₂),

with x the training record nearest to x̂ and S_x̂ its ``n_neighbors`` nearest training records
(the paper: 50 and α = 0.5). Normalising by the local neighbourhood keeps a blank, typical image
(close to many records) from counting as a copy of any one of them. A generation is counted as an
extraction when ℓ < ``threshold``. Give the training set without repeats: a record seen many
times is one record, and its copies would otherwise fill its own neighbourhood.

Example:
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
    >>> ratio, nearest = extraction_ratio(np.array([[0.1, 0.0], [2.0, 2.0]]), X, n_neighbors=3)
    >>> int(nearest[0]), bool(ratio[0] < 1 < ratio[1])  # a near-copy of X[0]; a blend of all
    (0, True)
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from mialab._checks import float_array, positive_int, positive_number

__all__ = ["extracted", "extraction_ratio"]


def extraction_ratio(
    samples, X, *, n_neighbors: int = 50, alpha: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Each generation's normalised distance ℓ to its nearest training record, and that record.

    ℓ(x̂, x) = ‖x̂ − x‖₂ / (α · mean of ‖x̂ − y‖₂ over S_x̂), with x the training record nearest
    to the generation x̂ and S_x̂ its ``n_neighbors`` nearest (Carlini et al. 2023: 50, α = 0.5).

    Args:
        samples: ``(m, d)`` generated records.
        X: ``(n, d)`` training records, each once, with n ≥ ``n_neighbors``.
        n_neighbors: the size of S_x̂, the neighbourhood the distance is measured against.
        alpha: the paper's α.

    Returns:
        ``(ratio, nearest)``, float64 ℓ of shape ``(m,)`` and int64 indices into X of shape
        ``(m,)``.
    """
    samples = float_array(samples, "samples", ndim=2)
    X = float_array(X, "X", ndim=2)
    if samples.shape[1] != X.shape[1]:
        raise ValueError(
            f"samples must have the same {X.shape[1]} features as X, got {samples.shape[1]}"
        )
    n_neighbors = positive_int(n_neighbors, "n_neighbors")
    if n_neighbors > len(X):
        raise ValueError(f"n_neighbors ({n_neighbors}) must be at most the {len(X)} records of X")
    alpha = positive_number(alpha, "alpha")
    distances, indices = NearestNeighbors(n_neighbors=n_neighbors).fit(X).kneighbors(samples)
    scale = alpha * distances.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # a sample on top of its neighbourhood
        ratio = np.where(scale > 0, distances[:, 0] / scale, 0.0)
    return ratio, indices[:, 0]


def extracted(
    samples, X, *, threshold: float = 1.0, n_neighbors: int = 50, alpha: float = 0.5
) -> np.ndarray:
    """How many generations extract each training record: those with ℓ < ``threshold``.

    Args:
        samples, X, n_neighbors, alpha: as in :func:`extraction_ratio`.
        threshold: δ, the largest normalised distance that counts as a copy.

    Returns:
        int64 counts of shape ``(n,)``, one per record of X.

    Example:
        >>> import numpy as np
        >>> X = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
        >>> extracted(np.array([[0.1, 0.0], [0.0, 0.1], [2.0, 2.0]]), X, n_neighbors=3).tolist()
        [2, 0, 0, 0]
    """
    threshold = positive_number(threshold, "threshold")
    ratio, nearest = extraction_ratio(samples, X, n_neighbors=n_neighbors, alpha=alpha)
    X = np.asarray(X)
    return np.bincount(nearest[ratio < threshold], minlength=len(X)).astype(np.int64)
