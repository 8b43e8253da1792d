"""Label-only attacks: the attacker sees only the predicted label (Choquette-Choo et al. 2021).

Every attack takes ``predict_labels(X) -> labels``, a callable that works on any model, in any
framework, behind any API. Wrap it in :class:`QueryCounter` to count what an attack costs.
:func:`mask_confidences` turns a torch model into such an API: the "confidence masking" defense
that lesson 02 shows failing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from mialab._checks import (
    float_array,
    int_labels,
    positive_int,
    positive_number,
    same_length,
    seed_value,
    to_numpy,
)
from mialab.data import shifted

__all__ = [
    "QueryCounter",
    "mask_confidences",
    "gap_score",
    "augmentation_score",
    "boundary_distance_score",
]


class QueryCounter:
    """Wraps ``predict_labels`` and counts its calls and the rows (queries) it was asked about.

    Example:
        >>> import numpy as np
        >>> counter = QueryCounter(lambda X: np.zeros(len(X), dtype=int))
        >>> _ = counter(np.zeros((5, 2))); _ = counter(np.zeros((3, 2)))
        >>> counter.calls, counter.rows
        (2, 8)
    """

    def __init__(self, predict_labels: Callable):
        if not callable(predict_labels):
            raise TypeError("predict_labels must be callable: predict_labels(X) -> labels")
        self.predict_labels = predict_labels
        self.calls = 0
        self.rows = 0

    def __call__(self, X):
        self.calls += 1
        self.rows += len(X)
        return self.predict_labels(X)


def mask_confidences(model) -> Callable:
    """A labels-only API for a torch model: it answers each query with the argmax label only.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> api = mask_confidences(models.mlp(4, 3))
        >>> api(np.zeros((2, 4))).dtype
        dtype('int64')
    """
    from torch import nn

    from mialab.training import predict_logits  # training is upstream of attacks

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch module, got {type(model).__name__}")

    def predict_labels(X):
        return predict_logits(model, X).argmax(axis=1)

    return predict_labels


def _labels_from(predict_labels, X: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Call ``predict_labels`` and check that it answered one integer label per row."""
    answer = to_numpy(predict_labels(X), "predict_labels(X)")
    if answer.shape != (len(X),):
        raise ValueError(
            f"predict_labels(X) must return one label per row, shape ({len(X)},); "
            f"got shape {answer.shape}"
        )
    return int_labels(answer, "predict_labels(X)", n_classes=n_classes)


def _inputs(predict_labels, X, labels):
    if not callable(predict_labels):
        raise TypeError("predict_labels must be callable: predict_labels(X) -> labels")
    X = float_array(X, "X", ndim=2)
    labels = int_labels(labels, "labels")
    same_length(X=X, labels=labels)
    return X, labels


def gap_score(predicted_labels, labels) -> np.ndarray:
    """The gap attack: 1 where the predicted label is right (member), 0 where it is wrong.

    Its membership advantage equals train accuracy minus test accuracy (Yeom et al. 2018).

    Example:
        >>> import numpy as np
        >>> gap_score(np.array([1, 2, 0]), np.array([1, 0, 0]))
        array([1., 0., 1.])
    """
    predicted = int_labels(predicted_labels, "predicted_labels")
    labels = int_labels(labels, "labels")
    same_length(predicted_labels=predicted, labels=labels)
    return (predicted == labels).astype(np.float64)


def augmentation_score(
    predict_labels,
    X,
    labels,
    *,
    image_shape: tuple[int, int] | None = None,
    max_shift: int = 1,
    noise_scale: float = 0.1,
    n_noise: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """Fraction of augmented copies of each record that get its true label.

    A model is robust around its training records: shifted (images) or slightly noisy (tables)
    copies of a member keep their label more often than copies of a non-member.

    Args:
        predict_labels: ``predict_labels(X) -> labels``.
        X: ``(n, d)`` records.
        labels: ``(n,)`` their true labels.
        image_shape: for images given as rows: every shift by up to ``max_shift`` pixels in each
            direction, the unshifted image included ((2 max_shift + 1)² queries per record).
        max_shift: largest shift, in pixels.
        noise_scale, n_noise: for tables (``image_shape`` None): the record and ``n_noise``
            copies with Gaussian noise of this standard deviation (features should be scaled).
        seed: seed of the noise.

    Returns:
        float64 scores in [0, 1], shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> always_zero = lambda X: np.zeros(len(X), dtype=int)
        >>> augmentation_score(always_zero, np.zeros((2, 3)), np.array([0, 1]))
        array([1., 0.])
    """
    X, labels = _inputs(predict_labels, X, labels)
    d = positive_int(max_shift, "max_shift")
    n_noise = positive_int(n_noise, "n_noise")
    noise_scale = positive_number(noise_scale, "noise_scale")
    seed = seed_value(seed)
    if image_shape is not None:
        variants = [
            shifted(X, (dy, dx), image_shape=image_shape)
            for dy in range(-d, d + 1)
            for dx in range(-d, d + 1)
        ]
    else:
        rng = np.random.default_rng(seed)
        variants = [X] + [X + rng.normal(0, noise_scale, X.shape) for _ in range(n_noise)]
    answers = _labels_from(predict_labels, np.concatenate(variants))
    return (answers.reshape(len(variants), len(X)) == labels).mean(axis=0)


def _bisect(predict_labels, origin, boundary_side, labels, steps):
    """Shrink each segment [origin, boundary_side] to its label change by bisection.

    ``origin`` rows are given ``labels``; ``boundary_side`` rows are not. Returns the points on
    the other side after ``steps`` halvings (within 2^-steps of the segment length of the change).
    """
    low = np.zeros(len(origin))  # fraction of the way: low keeps its label
    high = np.ones(len(origin))  # high is not
    direction = boundary_side - origin
    for _ in range(steps):
        middle = (low + high) / 2
        keeps_label = _labels_from(predict_labels, origin + middle[:, None] * direction) == labels
        low = np.where(keeps_label, middle, low)
        high = np.where(keeps_label, high, middle)
    return origin + high[:, None] * direction


def boundary_distance_score(
    predict_labels,
    X,
    labels,
    *,
    max_queries: int = 1000,
    n_directions: int = 20,
    n_probes: int = 40,
    radius: float = 10.0,
    bisection_steps: int = 10,
    seed: int = 0,
) -> np.ndarray:
    """L2 distance from each record to the nearest point the model labels differently.

    A decision-based search in the spirit of HopSkipJump (Chen et al. 2020), using labels only:

    1. *Start*: along ``n_directions`` random directions, the first label change within
       ``radius`` is found by bisection; the closest is kept.
    2. *Refine*, while queries remain: at the current boundary point, ``n_probes`` small random
       perturbations are labelled, and their mean, signed by whether the label changed, estimates
       the boundary's normal; a step along it, bisected back towards the record, moves the
       boundary point closer (HopSkipJump's update).

    Members sit deeper inside their class, so a larger distance suggests a member
    (Choquette-Choo et al. 2021). Distances are 0 for records already misclassified, and
    ``radius`` (a cap) where no label change was found: a warning says for how many records,
    since capped records all tie (increase ``radius``; it is in the units of X).

    Args:
        predict_labels: ``predict_labels(X) -> labels``.
        X: ``(n, d)`` records.
        labels: ``(n,)`` their true labels.
        max_queries: label queries per record, at most (the search stops before exceeding it).
        n_directions: random directions of the start.
        n_probes: perturbations at the first refinement step; step t uses n_probes·√t.
        radius: farthest distance searched, in the units of X.
        bisection_steps: halvings per bisection; the tolerance is ``radius / 2**bisection_steps``
            at the start and shrinks with the segments.
        seed: seed of the random directions and probes.

    Returns:
        float64 distances of shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> right_of_zero = lambda X: (X[:, 0] > 0).astype(int)  # boundary: the line x0 = 0
        >>> boundary_distance_score(right_of_zero, np.array([[2.0, 0.0], [-1.0, 0.0]]), [1, 1],
        ...                         max_queries=500).round(2)
        array([2., 0.])
    """
    X, labels = _inputs(predict_labels, X, labels)
    max_queries = positive_int(max_queries, "max_queries")
    n_directions = positive_int(n_directions, "n_directions")
    n_probes = positive_int(n_probes, "n_probes")
    steps = positive_int(bisection_steps, "bisection_steps")
    radius = positive_number(radius, "radius")
    start_cost = 1 + n_directions * (1 + steps)
    if max_queries < start_cost:
        raise ValueError(
            f"max_queries must be at least 1 + n_directions * (1 + bisection_steps) = "
            f"{start_cost} to start the search"
        )
    rng = np.random.default_rng(seed_value(seed))
    n, d = X.shape
    distance = np.zeros(n)
    correct = _labels_from(predict_labels, X) == labels
    idx = np.flatnonzero(correct)
    if len(idx) == 0:
        return distance
    x, label = X[idx], labels[idx]

    # 1. Start: the closest label change along random directions.
    directions = rng.normal(size=(n_directions, len(idx), d))
    directions /= np.linalg.norm(directions, axis=2, keepdims=True)
    best = np.full(len(idx), float(radius))
    best_point = np.full_like(x, np.nan)
    for u in directions:
        far = x + radius * u
        changes = _labels_from(predict_labels, far) != label
        point = _bisect(predict_labels, x, far, label, steps)  # queried for all rows alike
        length = np.linalg.norm(point - x, axis=1)
        better = changes & (length < best)
        best = np.where(better, length, best)
        best_point[better] = point[better]
    used = start_cost

    # 2. Refine found boundary points with HopSkipJump's step, while the budget allows.
    found = ~np.isnan(best_point[:, 0])
    iteration = 0
    while found.any():
        iteration += 1
        probes_now = int(n_probes * np.sqrt(iteration))  # more probes as steps get finer
        step_cost = probes_now + steps
        if used + step_cost > max_queries:
            break
        rows = np.flatnonzero(found)
        point, origin, lab = best_point[rows], x[rows], label[rows]
        delta = np.maximum(best[rows], 1e-12)[:, None] * 1e-2
        probes = rng.normal(size=(probes_now, len(rows), d))
        probes /= np.linalg.norm(probes, axis=2, keepdims=True)
        flips = np.stack(
            [_labels_from(predict_labels, point + delta * p) != lab for p in probes]
        )  # (n_probes, rows): True where the probe is on the far side
        signs = np.where(flips, 1.0, -1.0)
        signs -= signs.mean(axis=0, keepdims=True)  # HopSkipJump's baseline reduces variance
        normal = np.einsum("pr,prd->rd", signs, probes)
        norm = np.linalg.norm(normal, axis=1, keepdims=True)
        usable = norm[:, 0] > 0
        normal[usable] /= norm[usable]
        step = best[rows][:, None] / np.sqrt(iteration)  # HopSkipJump's shrinking step
        candidate = point + step * normal
        still_far = _labels_from(predict_labels, candidate) != lab
        used += step_cost
        refined = _bisect(predict_labels, origin, candidate, lab, steps - 1)
        length = np.linalg.norm(refined - origin, axis=1)
        better = usable & still_far & (length < best[rows])
        best[rows[better]] = length[better]
        best_point[rows[better]] = refined[better]

    distance[idx] = best
    capped = int(np.sum(best >= radius))
    if capped:
        warnings.warn(
            f"boundary_distance_score found no label change within radius={radius:g} for "
            f"{capped} of the {len(idx)} correctly classified records: their distance is the "
            "cap, so they tie; increase radius (it is in the units of X)",
            UserWarning,
            stacklevel=2,
        )
    return distance
