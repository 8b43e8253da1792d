"""Input checks shared by the public functions: clear errors that name the argument.

Every public function turns its array inputs into plain numpy arrays here, so that a bad shape,
a NaN or a label outside its range fails loudly instead of giving a quietly wrong number.
"""

from __future__ import annotations

import warnings

import numpy as np


def to_numpy(value, name: str) -> np.ndarray:
    """Return ``value`` (a numpy array, torch tensor or list) as a numpy array."""
    if hasattr(value, "detach") and hasattr(
        value, "cpu"
    ):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes, dict, set)) or value is None:
        raise TypeError(f"{name} must be an array, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be an array of numbers: {error}") from None
    if array.dtype == object:
        raise TypeError(f"{name} must be an array of numbers, got ragged or mixed values")
    return array


# Records: rows (n, d), or images (n, h, w) / (n, c, h, w) for a convolutional model.
RECORD_DIMS = (2, 3, 4)


def float_array(value, name: str, *, ndim: int | tuple[int, ...]) -> np.ndarray:
    """A finite float64 array with ``ndim`` dimensions (or one of several) and at least one row."""
    array = to_numpy(value, name)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    allowed = ndim if isinstance(ndim, tuple) else (ndim,)
    if array.ndim not in allowed:
        expected = " or ".join(map(str, allowed))
        raise ValueError(f"{name} must have {expected} dimension(s), got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def int_labels(value, name: str, *, n_classes: int | None = None) -> np.ndarray:
    """A 1-D int64 array of class labels in ``[0, n_classes)``."""
    array = to_numpy(value, name)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        whole = (
            np.issubdtype(array.dtype, np.floating)
            and np.all(np.isfinite(array))
            and np.all(array == np.round(array))
        )
        hint = (
            ".astype(int) keeps these whole numbers"
            if whole
            else "encode the classes as 0..k-1, e.g. with sklearn.preprocessing.LabelEncoder"
        )
        raise TypeError(
            f"{name} must hold integer class labels 0..k-1, got dtype {array.dtype} ({hint})"
        )
    array = array.astype(np.int64)
    if np.any(array < 0) or (n_classes is not None and np.any(array >= n_classes)):
        raise ValueError(
            f"{name} must lie in [0, {n_classes}), got values from {array.min()} to {array.max()}"
        )
    return array


def membership_labels(value, name: str = "is_member") -> np.ndarray:
    """A 1-D bool array from labels in {0, 1} (or booleans) holding both classes."""
    array = to_numpy(value, name)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if array.dtype != bool:
        if not np.issubdtype(array.dtype, np.number):
            raise TypeError(f"{name} must hold 0/1 or booleans, got dtype {array.dtype}")
        if not np.all(np.isin(array, (0, 1))):
            raise ValueError(f"{name} must hold only 0 (non-member) and 1 (member)")
        array = array == 1
    if array.all() or not array.any():
        raise ValueError(f"{name} must hold both members (1) and non-members (0)")
    return array


def same_length(**arrays: np.ndarray) -> None:
    """Raise if the arrays, given by name, do not all have the same first dimension."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"lengths differ: {shown}")


def positive_int(value, name: str) -> int:
    """An int >= 1 (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def is_number(value) -> bool:
    """Whether ``value`` is a real number: Python's or numpy's int or float, never a bool."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(
        value, (int, float, np.integer, np.floating)
    )


def positive_number(value, name: str) -> float:
    """A finite number > 0 (bools and non-numbers rejected with the same ValueError)."""
    if not is_number(value) or not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def seed_value(value, name: str = "seed") -> int:
    """An int seed in [0, 2**32), the range scikit-learn's random_state takes (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value < 2**32:
        raise ValueError(f"{name} must lie in [0, 2**32), got {value}")
    return int(value)


def int_pair(value, name: str, *, positive: bool = True) -> tuple[int, int]:
    """Two ints, such as an image's ``(height, width)``; each at least 1 when ``positive``."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair of ints, got {value!r}")
    if positive:
        return positive_int(value[0], name), positive_int(value[1], name)
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in value):
        raise TypeError(f"{name} must be a pair of ints, got {value!r}")
    return int(value[0]), int(value[1])


def fraction(value, name: str, *, low_open: bool = True) -> float:
    """A float in (0, 1] (or [0, 1] when ``low_open`` is False)."""
    if not is_number(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    low_ok = value > 0 if low_open else value >= 0
    if not (low_ok and value <= 1):
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return value


def logits_with_queries(value, name: str, *, leading: int) -> np.ndarray:
    """Logits with ``leading`` axes before ``(n, [queries,] n_classes)``, always with a query axis.

    For reference logits ``leading`` is 1 (models); for a target's logits it is 0. A missing
    query axis becomes an axis of length 1.
    """
    array = to_numpy(value, name)
    if array.ndim not in (leading + 2, leading + 3):
        shapes = {
            0: "(n, n_classes) or (n, n_queries, n_classes)",
            1: "(n_models, n, n_classes) or (n_models, n, n_queries, n_classes)",
        }[leading]
        raise ValueError(f"{name} must have shape {shapes}, got {array.shape}")
    array = float_array(array, name, ndim=array.ndim)
    if array.ndim == leading + 2:
        array = np.expand_dims(array, axis=-2)
    if array.shape[-1] < 2:
        raise ValueError(f"{name} must have at least 2 classes (last axis), got {array.shape[-1]}")
    if 0 in array.shape:
        raise ValueError(f"{name} is empty: shape {array.shape}")
    return array


def in_mask(value, name: str, *, shape: tuple[int, int]) -> np.ndarray:
    """A boolean (n_models, n) mask of which reference model trained on which record."""
    array = to_numpy(value, name)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (n_models, n), got {array.shape}")
    if array.dtype != bool:
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.isin(array, (0, 1))):
            raise TypeError(f"{name} must hold booleans or 0/1")
        array = array == 1
    return array


def boolean(value, name: str) -> bool:
    """A real bool (numpy's bool too): a truthy string such as "no" is not a flag."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def real_number(value, name: str, *, low: float = -np.inf, high: float = np.inf) -> float:
    """A finite number in [low, high] (numpy scalars accepted, bools rejected)."""
    if not is_number(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (np.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a finite number in [{low}, {high}], got {value!r}")
    return float(value)


def warn_if_probabilities(logits: np.ndarray, name: str) -> None:
    """Warn when every row of ``logits`` (last axis) looks like probabilities, not logits.

    Probabilities are not logits: their softmax flattens the model's confidence, which changes
    every score computed from it. ``np.log(p)`` gives logits with the same softmax ``p``.
    """
    if logits.size and np.all(logits >= 0) and np.allclose(logits.sum(axis=-1), 1.0, atol=1e-4):
        warnings.warn(
            f"{name} looks like probabilities (non-negative rows that sum to 1), not logits; "
            "pass np.log(p) instead, whose softmax gives p back",
            UserWarning,
            stacklevel=3,
        )


def logits_matrix(value, name: str = "logits") -> np.ndarray:
    """Finite float64 logits of shape ``(n, n_classes)`` with at least 2 classes.

    Rows that look like probabilities raise a warning (see :func:`warn_if_probabilities`).
    """
    logits = float_array(value, name, ndim=2)
    if logits.shape[1] < 2:
        raise ValueError(f"{name} must have at least 2 classes (columns), got {logits.shape[1]}")
    warn_if_probabilities(logits, name)
    return logits


def labelled_logits(logits, labels, *, name: str = "logits") -> tuple[np.ndarray, np.ndarray]:
    """:func:`logits_matrix` and the records' class labels, one per row of ``logits``."""
    logits = logits_matrix(logits, name)
    labels = int_labels(labels, "labels", n_classes=logits.shape[1])
    same_length(**{name: logits, "labels": labels})
    return logits, labels


def reference_inputs(
    reference_logits, reference_in_mask, labels
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference (or shadow) models' logits, their in-mask and the records' labels, checked.

    Returns logits shaped ``(n_models, n, n_queries, n_classes)`` (a missing query axis becomes
    one of length 1), a bool mask ``(n_models, n)`` and int labels ``(n,)``.
    """
    logits = logits_with_queries(reference_logits, "reference_logits", leading=1)
    warn_if_probabilities(logits, "reference_logits")
    labels = int_labels(labels, "labels", n_classes=logits.shape[-1])
    n_models, n = logits.shape[:2]
    same_length(**{"reference_logits (axis 1)": logits[0], "labels": labels})
    mask = in_mask(reference_in_mask, "reference_in_mask", shape=(n_models, n))
    return logits, mask, labels


def hf_tokenizer(value, name: str = "tokenizer"):
    """A Hugging Face tokenizer: callable on texts, with a ``bos_token_id`` (None allowed)."""
    if not callable(value) or not hasattr(value, "bos_token_id"):
        raise TypeError(
            f"{name} must be a Hugging Face tokenizer (transformers.AutoTokenizer or "
            f"mialab.training.train_tokenizer), got {type(value).__name__}"
        )
    return value
