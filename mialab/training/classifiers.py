"""Classifiers: train one (``fit``, ``learning_curves``) or many at once (``fit_many``), and read
their logits (``predict_logits``): the target and the reference models of every attack.

``fit`` trains one model (lesson 00); ``fit_many`` trains many reference models at once, each on
its own half of a data pool (lesson 01). A researcher's own model needs neither, only its logits.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from mialab._checks import (
    RECORD_DIMS,
    float_array,
    positive_int,
    positive_number,
    real_number,
    seed_value,
)
from mialab.data import arrays
from mialab.training.checks import (
    check_labels_fit,
    logits_of,
    not_a_language_model,
    rows_for,
    two_columns,
)
from mialab.training.loop import (
    batches,
    check_finite,
    check_weights,
    evaluating,
    learning_rate,
    model_dtype,
    on_device,
    resolve_device,
    seeded,
    step,
    tqdm_disable,
)

if TYPE_CHECKING:
    import pandas

__all__ = ["balanced_in_mask", "fit", "fit_many", "learning_curves", "predict_logits"]


def fit(
    model: nn.Module,
    data,
    *,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
) -> nn.Module:
    """Train ``model`` in place with Adam and cross-entropy, seeded.

    Args:
        model: a torch module mapping a batch of rows to logits.
        data: a :class:`~mialab.data.Dataset` or a tuple ``(X, labels)``.
        epochs: passes over the data.
        batch_size: rows per step; the order is reshuffled every epoch from ``seed``.
        lr: Adam's learning rate.
        weight_decay: L2 penalty (Adam's ``weight_decay``).
        seed: seed of the shuffling and of any randomness in the model (dropout); torch's global
            random state is left as it was.
        device: where to train (see :func:`resolve_device`); the model comes back on the CPU.
        progress: show a progress bar (None: on a terminal or in a notebook only).

    Returns:
        The trained model (the object passed in), on the CPU, in eval mode.

    Example:
        >>> from mialab import data, models
        >>> model = fit(models.mlp(64, 10), data.load("digits").subset(range(200)), epochs=3)
        >>> model.training
        False
    """
    return _train(
        model, data, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        seed=seed, device=device, progress=progress,
    )  # fmt: skip


def learning_curves(
    model: nn.Module,
    data,
    *,
    monitor: Callable[[nn.Module], dict] | None = None,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
) -> pandas.DataFrame:
    """Train ``model`` in place exactly as :func:`fit` does, and return its per-epoch curves.

    Args:
        model, data, epochs, batch_size, lr, weight_decay, seed, device, progress: as in
            :func:`fit` (the same arguments train the same model).
        monitor: called as ``monitor(model)`` after every epoch, the model in eval mode on
            ``device``; the dict it returns joins that epoch's row, e.g. an attack's AUC as
            training goes on (give ``device=`` to the predictions it makes).

    Returns:
        A DataFrame with one row per epoch, with the columns ``epoch``, ``train_loss``,
        ``train_accuracy`` (measured after the epoch, on all of ``data``) and the monitor's
        values.

    Example:
        >>> from mialab import data, models
        >>> model = models.mlp(64, 10)
        >>> curves = learning_curves(model, data.load("digits").subset(range(200)), epochs=3)
        >>> list(curves.columns), len(curves)
        (['epoch', 'train_loss', 'train_accuracy'], 3)
    """
    if monitor is not None and not callable(monitor):
        raise TypeError("monitor must be callable or None")
    rows = []

    def record(epoch, X_t, labels_t, loss_fn):
        model.eval()
        with torch.no_grad():
            logits = two_columns(model(X_t))
        row = {
            "epoch": epoch,
            "train_loss": loss_fn(logits, labels_t).item(),
            "train_accuracy": (logits.argmax(1) == labels_t).float().mean().item(),
        }
        if monitor is not None:
            extra = monitor(model)
            if not isinstance(extra, dict):
                raise TypeError(f"monitor must return a dict, got {type(extra).__name__}")
            row.update(extra)
        rows.append(row)

    _train(model, data, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
           seed=seed, device=device, progress=progress, after_epoch=record)  # fmt: skip
    import pandas  # here: pandas takes a while to import

    return pandas.DataFrame(rows)


def _train(model, data, *, epochs, batch_size, lr, weight_decay, seed, device, progress,
           after_epoch=None) -> nn.Module:  # fmt: skip
    """The loop of :func:`fit`; ``after_epoch(epoch, X_t, labels_t, loss_fn)`` after each epoch."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    not_a_language_model(model)
    X, labels = arrays(data, "data")
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    lr = learning_rate(lr, model)
    weight_decay = real_number(weight_decay, "weight_decay", low=0.0)
    seed = seed_value(seed)
    device = resolve_device(device)
    disable = tqdm_disable(progress)

    X_t = rows_for(model, X, "data X")
    with on_device(device, model):
        check_labels_fit(model, X_t, labels, "data")
        X_t, labels_t = X_t.to(device), torch.as_tensor(labels, dtype=torch.long, device=device)
        optimizer = torch.optim.Adam(
            model.parameters(), lr=lr, weight_decay=weight_decay, fused=True
        )
        loss_fn = nn.CrossEntropyLoss()
        order = torch.Generator().manual_seed(seed)
        with seeded(seed, device):
            for epoch in tqdm(range(1, epochs + 1), desc="training", disable=disable, leave=False):
                model.train()
                for batch in batches(len(labels_t), batch_size, generator=order):
                    batch = batch.to(device)
                    optimizer.zero_grad()
                    loss = loss_fn(two_columns(model(X_t[batch])), labels_t[batch])
                    check_finite(loss, lr)
                    loss.backward()
                    step(optimizer, lr)
                check_weights(model.parameters(), lr)
                if after_epoch is not None:
                    after_epoch(epoch, X_t, labels_t, loss_fn)
    return model.eval()


def balanced_in_mask(n_models: int, n: int, *, seed: int = 0) -> np.ndarray:
    """Which of ``n`` pool records each of ``n_models`` models trains on: a balanced design.

    Models come in complementary pairs: one takes a random half of the pool, its partner the
    other half. So every model trains on exactly ``n // 2`` records and every record is IN for
    half the models (with ``n`` odd, each pair leaves one random record out of both; with
    ``n_models`` odd, the last model takes a random half of its own). LiRA needs both IN and OUT
    models for every record, and this design gives each record as many of one as of the other.

    Args:
        n_models: number of models (rows).
        n: pool size (columns); at least 2.
        seed: random seed.

    Returns:
        Boolean array of shape ``(n_models, n)``; True = the model trains on that record.

    Example:
        >>> mask = balanced_in_mask(4, 6, seed=0)
        >>> mask.sum(axis=1), mask.sum(axis=0)
        (array([3, 3, 3, 3]), array([2, 2, 2, 2, 2, 2]))
    """
    n_models = positive_int(n_models, "n_models")
    n = positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be at least 2 to split the pool in halves, got {n}")
    rng = np.random.default_rng(seed_value(seed))
    half = n // 2
    mask = np.zeros((n_models, n), dtype=bool)
    for first in range(0, n_models, 2):
        order = rng.permutation(n)
        mask[first, order[:half]] = True
        if first + 1 < n_models:
            mask[first + 1, order[half : 2 * half]] = True
    return mask


FACTORY = (
    "a function called as model_factory(seed=s) that returns a fresh model, e.g. "
    "functools.partial(mialab.models.mlp, 64, 10)"
)


def fit_many(
    model_factory: Callable[..., nn.Module],
    pool,
    n_models: int,
    *,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    device="cpu",
    progress: bool | None = None,
) -> tuple[list[nn.Module], np.ndarray]:
    """Train ``n_models`` reference models at once, each on its own half of ``pool``.

    The models are stacked (``torch.func.stack_module_state``) and trained together with
    ``vmap``: one batched forward and backward pass per step instead of one per model. Each model
    gets exactly what :func:`fit` would give it: its own initial weights, its own shuffling, its
    own Adam state (Adam works element by element, so one Adam over the stacked weights is
    ``n_models`` independent ones). Model ``m`` equals, up to float rounding,
    ``fit(model_factory(seed=s), pool[in_mask[m]], seed=s)`` for a seed ``s`` drawn from ``seed``.

    Args:
        model_factory: a function called as ``model_factory(seed=s)`` that returns a fresh model,
            e.g. ``functools.partial(mialab.models.mlp, 64, 10)`` (not a model itself). Must be
            picklable (no lambda) when an ``executor`` runs in other processes.
        pool: a :class:`~mialab.data.Dataset` or ``(X, labels)``.
        n_models: number of models; see :func:`balanced_in_mask` for who trains on what.
        epochs, batch_size, lr, weight_decay: as in :func:`fit`.
        seed: seed of the in-mask, the models' initial weights and their shuffling.
        executor: a ``concurrent.futures.Executor`` (a process pool, or one backed by Ray or
            Dask) that trains the chunks in parallel, one job per chunk; None trains in this
            process. Give a process pool the "spawn" context: a forked child of a process running
            torch can hang.
        chunk_size: models stacked in one chunk (bounds memory); default all of them. Required
            with an ``executor``: e.g. ``n_models // workers`` gives each worker one job.
        device: where to train the stacked models (in each worker too); the models come back on
            the CPU.
        progress: show a progress bar (None: on a terminal or in a notebook only).

    Returns:
        ``(models, in_mask)``, a list of trained models on the CPU in eval mode, and the boolean
        in-mask of shape ``(n_models, len(pool))``.

    Example:
        >>> from functools import partial
        >>> from mialab import data, models
        >>> pool = data.load("digits").subset(range(100))
        >>> refs, in_mask = fit_many(partial(models.mlp, 64, 10), pool, 4, epochs=2)
        >>> len(refs), in_mask.shape, int(in_mask.sum(axis=0).min())
        (4, (4, 100), 2)
    """
    if isinstance(model_factory, nn.Module):
        raise TypeError(
            f"model_factory must be {FACTORY}; got a model ({type(model_factory).__name__} "
            "instance): pass the function that builds it instead"
        )
    if not callable(model_factory):
        raise TypeError(f"model_factory must be {FACTORY}; got {type(model_factory).__name__}")
    try:
        inspect.signature(model_factory).bind(seed=0)
    except TypeError:
        raise TypeError(f"model_factory must take a keyword argument seed: {FACTORY}") from None
    except ValueError:
        pass  # no signature to read (some built-in callables): trust it
    X, labels = arrays(pool, "pool")
    n_models = positive_int(n_models, "n_models")
    settings = {
        "epochs": positive_int(epochs, "epochs"),
        "batch_size": positive_int(batch_size, "batch_size"),
        "lr": positive_number(lr, "lr"),  # and, below, against the models' dtype
        "weight_decay": real_number(weight_decay, "weight_decay", low=0.0),
        "device": resolve_device(device),
    }
    disable = tqdm_disable(progress)
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {executor!r}")
    if executor is not None and chunk_size is None:
        raise ValueError(
            "chunk_size is required with an executor: models per job, e.g. n_models // workers"
        )
    chunk_size = n_models if chunk_size is None else positive_int(chunk_size, "chunk_size")
    rng = np.random.default_rng(seed_value(seed))
    in_mask = balanced_in_mask(n_models, len(labels), seed=int(rng.integers(2**31)))
    seeds = [int(s) for s in rng.integers(2**31, size=n_models)]
    models = [model_factory(seed=s) for s in seeds]
    if not all(isinstance(m, nn.Module) for m in models):
        raise TypeError(f"model_factory must return torch.nn.Module instances: {FACTORY}")
    not_a_language_model(models[0], "model_factory's model")
    check_labels_fit(models[0], rows_for(models[0], X, "pool X"), labels, "pool")
    learning_rate(settings["lr"], models[0])

    chunks = [range(i, min(i + chunk_size, n_models)) for i in range(0, n_models, chunk_size)]
    if executor is None:
        for chunk in tqdm(chunks, desc="training reference models", disable=disable, leave=False):
            chunk_models = [models[m] for m in chunk]
            chunk_seeds = [seeds[m] for m in chunk]
            _train_stacked(chunk_models, X, labels, in_mask[chunk], chunk_seeds, settings)
    else:
        jobs = [
            executor.submit(
                _train_chunk,
                model_factory,
                X,
                labels,
                in_mask[chunk],
                [seeds[m] for m in chunk],
                settings,
            )  # fmt: skip
            for chunk in chunks
        ]
        for chunk, job in zip(
            chunks, tqdm(jobs, desc="chunks", disable=disable, leave=False), strict=True
        ):
            for m, state in zip(chunk, job.result(), strict=True):
                models[m].load_state_dict(state)
    for model in models:
        model.eval()
    return models, in_mask


def _train_chunk(model_factory, X, labels, in_mask, seeds, settings) -> list[dict]:
    """Train one chunk of models (in a worker process) and return their weights."""
    models = [model_factory(seed=s) for s in seeds]
    _train_stacked(models, X, labels, in_mask, seeds, settings)
    return [m.state_dict() for m in models]


def _train_stacked(models, X, labels, in_mask, seeds, settings) -> None:
    """Train ``models`` in place, model m on the records in_mask[m], all in one vmapped loop on
    ``settings["device"]``; the models stay on the CPU (their trained weights are copied back).

    Every model trains on the same number of records (see :func:`balanced_in_mask`), so each
    step gives every model a batch of the same size and no model ever sits a step out.
    """
    device, lr = settings["device"], settings["lr"]
    sizes = in_mask.sum(axis=1)
    if np.any(sizes != sizes[0]):
        raise ValueError("every model must train on the same number of records")
    rows = torch.as_tensor(np.stack([np.flatnonzero(row) for row in in_mask]))  # (M, k)
    X_models = torch.as_tensor(X, dtype=model_dtype(models[0]))[rows].to(device)  # (M, k, d)
    labels_models = torch.as_tensor(labels, dtype=torch.long)[rows].to(device)  # (M, k)
    n_models, k = rows.shape

    stacked, stacked_buffers = stack_module_state(models)
    params = {name: t.detach().to(device).requires_grad_() for name, t in stacked.items()}
    buffers = {name: t.to(device) for name, t in stacked_buffers.items()}
    template = copy.deepcopy(models[0]).to("meta").train()

    def forward(p, b, x):
        return functional_call(template, (p, b), (x,))

    batched_forward = vmap(forward, randomness="different")
    optimizer = torch.optim.Adam(
        params.values(), lr=lr, weight_decay=settings["weight_decay"], fused=True
    )
    # The same shuffling as fit(model, ..., seed=s): one generator per model, seeded with s.
    orders = [torch.Generator().manual_seed(s) for s in seeds]
    model_index = torch.arange(n_models, device=device)[:, None]
    with seeded(seeds[0], device):  # randomness inside the models (dropout), if any
        for _ in range(settings["epochs"]):
            epoch = [batches(k, settings["batch_size"], generator=g) for g in orders]
            for per_model in zip(*epoch, strict=True):
                batch = torch.stack(per_model).to(device)  # (M, batch_size)
                logits = two_columns(batched_forward(params, buffers, X_models[model_index, batch]))
                losses = nn.functional.cross_entropy(
                    logits.flatten(0, 1),
                    labels_models[model_index, batch].flatten(),
                    reduction="none",
                )
                optimizer.zero_grad()
                # Summing the models' mean losses gives each model the gradient of its own loss.
                total = losses.view(n_models, -1).mean(dim=1).sum()
                check_finite(total, lr)
                total.backward()
                step(optimizer, lr)
            check_weights(params.values(), lr)
    with torch.no_grad():
        for m, model in enumerate(models):
            for name, tensor in model.named_parameters():
                tensor.copy_(params[name][m])
            for name, tensor in model.named_buffers():
                tensor.copy_(buffers[name][m])


def predict_logits(model, X, *, batch_size: int = 4096, device="cpu") -> np.ndarray:
    """Logits for rows ``X``, from one model or from each of a sequence of models.

    Eval mode, no gradients, in batches, on ``device``; each model is left where it was (moved
    back after) and in the train/eval mode it was in. ``X`` is cast to each model's dtype
    (float32 or float64). A binary model with one output ``z`` gets the two logits ``[0, z]``,
    whose softmax is ``[1 - sigmoid(z), sigmoid(z)]``.

    Args:
        model: a torch module mapping rows to logits, or a sequence of them (e.g. the reference
            models of :func:`fit_many`).
        X: array or tensor of shape ``(n, n_features)``.
        batch_size: rows per forward pass (bounds memory).
        device: where to compute (see :func:`resolve_device`).

    Returns:
        float64 NumPy array of shape ``(n, n_classes)``, or ``(n_models, n, n_classes)`` for a
        sequence.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> predict_logits(models.mlp(4, 3), np.zeros((2, 4))).shape
        (2, 3)
        >>> predict_logits([models.mlp(4, 3), models.mlp(4, 3)], np.zeros((2, 4))).shape
        (2, 2, 3)
    """
    X = float_array(X, "X", ndim=RECORD_DIMS)
    batch_size = positive_int(batch_size, "batch_size")
    device = resolve_device(device)
    if isinstance(model, Sequence) and not isinstance(model, nn.Module):
        if not model:
            raise ValueError("model is an empty sequence")
        return np.stack([_logits(m, X, batch_size, device) for m in model])
    return _logits(model, X, batch_size, device)


def _logits(model, X: np.ndarray, batch_size: int, device: torch.device) -> np.ndarray:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    not_a_language_model(model)
    X_t = rows_for(model, X, "X")
    with on_device(device, model, back_home=True), evaluating(model):
        logits = torch.cat(
            [logits_of(model, batch.to(device), "X") for batch in X_t.split(batch_size)]
        )
        return logits.double().cpu().numpy()
