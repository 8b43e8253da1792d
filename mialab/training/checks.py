"""Inputs checked against the model that will read them: width, dtype, labels, model kind.

Shared by the training loops here and by DP-SGD (:mod:`mialab.defenses.dp`), so that a private
run refuses bad input with the same message as a plain one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mialab.models import CharLM
from mialab.training.loop import evaluating, model_device, model_dtype

__all__ = [
    "char_lm",
    "check_labels_fit",
    "input_width",
    "logits_of",
    "not_a_language_model",
    "rows_for",
    "two_columns",
]


def input_width(model: nn.Module) -> int | None:
    """The row width the model's first layer takes, where that layer says so."""
    for layer in model.modules():
        if any(True for _ in layer.children()) or isinstance(
            layer, (nn.Flatten, nn.Identity, nn.Dropout)
        ):
            continue
        if isinstance(layer, nn.Linear):
            return layer.in_features
        if isinstance(layer, nn.Unflatten) and layer.dim in (1, -1):
            return int(np.prod(layer.unflattened_size))
        return None
    return None


def rows_for(model: nn.Module, X: np.ndarray, name: str) -> torch.Tensor:
    """Rows ``X`` as a CPU tensor in the model's dtype, checked against the model's input width.

    A float32 model cannot take 1e300 (it becomes inf once cast), so values that overflow the
    model's dtype are refused here rather than turned into infinite logits.
    """
    width, features = input_width(model), int(np.prod(X.shape[1:]))
    if width is not None and features != width:
        raise ValueError(f"{name} has {features} features per record, the model takes {width}")
    dtype = model_dtype(model)
    X_t = torch.as_tensor(X, dtype=dtype)
    if not torch.isfinite(X_t).all():
        raise ValueError(
            f"{name} has values too large for the model's {dtype} "
            f"(at most {torch.finfo(dtype).max:.3g} in absolute value)"
        )
    return X_t


def two_columns(logits: torch.Tensor) -> torch.Tensor:
    """A binary model's single logit z as the two logits [0, z] (softmax = sigmoid).

    For one model's ``(n, 1)`` logits and for stacked models' ``(n_models, n, 1)``.
    """
    if logits.ndim >= 2 and logits.shape[-1] == 1:
        return torch.cat([torch.zeros_like(logits), logits], dim=-1)
    return logits


def logits_of(model: nn.Module, X_t: torch.Tensor, name: str) -> torch.Tensor:
    """``model(X_t)`` as ``(n, n_classes)`` logits; a row the model cannot take names ``name``."""
    try:
        logits = model(X_t)
    except RuntimeError as error:
        raise ValueError(
            f"{name} has rows of shape {tuple(X_t.shape[1:])}, which the model cannot take: {error}"
        ) from None
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"model must map rows to logits of shape (n, n_classes), got {shape}")
    return two_columns(logits)


def check_labels_fit(model: nn.Module, X_t: torch.Tensor, labels: np.ndarray, name: str) -> None:
    """Refuse labels the model has no output for (one forward pass of one row, no gradients)."""
    with evaluating(model):
        n_classes = logits_of(model, X_t[:1].to(model_device(model)), f"{name} X").shape[1]
    if labels.max() >= n_classes:
        raise ValueError(
            f"{name} labels include {labels.max()}, but the model has {n_classes} classes "
            f"(labels 0..{n_classes - 1})"
        )


def not_a_language_model(model, name: str = "model") -> None:
    """Refuse a :class:`~mialab.models.CharLM` where a classifier is expected."""
    if isinstance(model, CharLM):
        raise TypeError(
            f"{name} is a character language model: train it with fit_lm and read it with "
            "token_logprobs"
        )


def char_lm(model) -> CharLM:
    """``model``, checked to be a :class:`~mialab.models.CharLM`."""
    if not isinstance(model, CharLM):
        raise TypeError(
            f"model must be a mialab CharLM (mialab.models.char_lm), got {type(model).__name__}"
        )
    return model
