"""Train a model and read its logits: the target (and later the reference models) of every attack.

Lesson 00 uses both functions; a researcher's own model needs neither, only its logits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from mialab._checks import float_array, int_labels, positive_int, same_length, seed_value
from mialab.data import Dataset

__all__ = ["fit", "predict_logits"]


def _features_and_labels(data, name: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(data, Dataset):
        return data.X, data.y
    if not (isinstance(data, tuple) and len(data) == 2):
        raise TypeError(f"{name} must be a mialab Dataset or a tuple (X, y)")
    X = float_array(data[0], f"{name} X", ndim=2)
    y = int_labels(data[1], f"{name} y")
    same_length(**{f"{name} X": X, f"{name} y": y})
    return X, y


def _positive_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value}")
    return float(value)


def fit(
    model: nn.Module,
    data,
    *,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    monitor: Callable[[nn.Module], dict] | None = None,
    return_curves: bool = False,
    progress: bool = True,
):
    """Train ``model`` in place with Adam and cross-entropy, seeded, on a CPU.

    Args:
        model: a torch module mapping a batch of rows to logits.
        data: a :class:`~mialab.data.Dataset` or a tuple ``(X, y)``.
        epochs: passes over the data.
        batch_size: rows per step; the order is reshuffled every epoch from ``seed``.
        lr: Adam's learning rate.
        weight_decay: L2 penalty (Adam's ``weight_decay``).
        seed: seed of the shuffling and of any randomness in the model (dropout); torch's global
            random state is left as it was.
        monitor: called as ``monitor(model)`` after every epoch (model in eval mode); the dict it
            returns joins that epoch's row of the curves, e.g. an attack's AUC as training goes on.
        return_curves: also return a DataFrame with one row per epoch: ``epoch``, ``train_loss``,
            ``train_accuracy`` (measured after the epoch) and the monitor's values.
        progress: show a progress bar.

    Returns:
        The trained model (in eval mode), or ``(model, curves)`` when ``return_curves``.

    Example:
        >>> from mialab import data, models
        >>> ds = data.load("digits")
        >>> model, curves = fit(models.mlp(64, 10), ds.subset(range(200)), epochs=3,
        ...                     return_curves=True, progress=False)
        >>> list(curves.columns)
        ['epoch', 'train_loss', 'train_accuracy']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    X, y = _features_and_labels(data, "data")
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    lr = _positive_float(lr, "lr")
    weight_decay = _positive_float(weight_decay, "weight_decay")
    seed = seed_value(seed)
    if monitor is not None and not callable(monitor):
        raise TypeError("monitor must be callable or None")

    X_t = torch.as_tensor(X, dtype=torch.float32)
    y_t = torch.as_tensor(y, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for epoch in tqdm(range(1, epochs + 1), desc="training", disable=not progress):
            model.train()
            for batch in torch.randperm(len(y_t)).split(batch_size):
                optimizer.zero_grad()
                loss_fn(model(X_t[batch]), y_t[batch]).backward()
                optimizer.step()
            if return_curves or monitor is not None:
                rows.append({"epoch": epoch, **_epoch_row(model, X_t, y_t, loss_fn, monitor)})
    model.eval()
    if return_curves:
        return model, pd.DataFrame(rows)
    return model


def _epoch_row(model, X_t, y_t, loss_fn, monitor) -> dict:
    model.eval()
    with torch.no_grad():
        logits = model(X_t)
    row = {
        "train_loss": loss_fn(logits, y_t).item(),
        "train_accuracy": (logits.argmax(1) == y_t).float().mean().item(),
    }
    if monitor is not None:
        extra = monitor(model)
        if not isinstance(extra, dict):
            raise TypeError(f"monitor must return a dict, got {type(extra).__name__}")
        row.update(extra)
    return row


def predict_logits(model: nn.Module, X, *, batch_size: int = 4096) -> np.ndarray:
    """The model's logits for rows ``X``: eval mode, no gradients, in batches.

    Args:
        model: a torch module mapping rows to logits.
        X: array or tensor of shape ``(n, n_features)``.
        batch_size: rows per forward pass (bounds memory).

    Returns:
        float64 array of shape ``(n, n_classes)``. The model's train/eval mode is restored.

    Example:
        >>> from mialab import models
        >>> predict_logits(models.mlp(4, 3), np.zeros((2, 4))).shape
        (2, 3)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    X_t = torch.as_tensor(float_array(X, "X", ndim=2), dtype=torch.float32)
    batch_size = positive_int(batch_size, "batch_size")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = torch.cat([model(batch) for batch in X_t.split(batch_size)])
    finally:
        model.train(was_training)
    return logits.double().numpy()
