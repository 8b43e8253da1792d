"""Train models and read their logits: the target and the reference models of every attack.

``fit`` trains one model (lesson 00); ``fit_many`` trains many reference models at once, each on
its own half of a data pool (lesson 01). A researcher's own model needs neither, only its logits.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from mialab._checks import (
    boolean,
    float_array,
    is_number,
    positive_int,
    positive_number,
    seed_value,
)
from mialab.data import arrays, features
from mialab.models import CharLM, latent_dim, sequence_loss

__all__ = [
    "resolve_device",
    "fit",
    "fit_many",
    "balanced_in_mask",
    "predict_logits",
    "fit_gan",
    "sample",
    "fit_lm",
    "token_logprobs",
    "generate",
    "complete",
]


def resolve_device(device) -> torch.device:
    """The ``torch.device`` that ``device=`` names, checked to be usable on this machine.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, a ``torch.device``, or ``"auto"``
            (CUDA when available, else the CPU).

    Returns:
        A ``torch.device``.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"device must be a string such as 'cpu', 'cuda' or 'auto', or a torch.device, "
            f"got {type(device).__name__}"
        )
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:<index>', 'mps' or 'auto', got {device!r}"
        ) from None
    if resolved.type == "cuda":
        available = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (resolved.index or 0) >= available:
            raise ValueError(
                f"device={device!r}, but this machine has {available} CUDA device(s); "
                "use device='auto' to fall back to the CPU"
            )
    elif resolved.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device={device!r}, but MPS is not available on this machine")
    elif resolved.type != "cpu":
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:<index>', 'mps' or 'auto', got {device!r}"
        )
    return resolved


def _model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's weights (float32 for a model without any)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _input_width(model: nn.Module) -> int | None:
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


def _rows_for(model: nn.Module, X: np.ndarray, name: str) -> torch.Tensor:
    """Rows ``X`` as a tensor in the model's dtype, checked against the model's input width.

    A float32 model cannot take 1e300 (it becomes inf once cast), so values that overflow the
    model's dtype are refused here rather than turned into infinite logits.
    """
    width = _input_width(model)
    if width is not None and X.shape[1] != width:
        raise ValueError(f"{name} has {X.shape[1]} features per row, the model takes {width}")
    dtype = _model_dtype(model)
    X_t = torch.as_tensor(X, dtype=dtype)
    if not torch.isfinite(X_t).all():
        raise ValueError(
            f"{name} has values too large for the model's {dtype} "
            f"(at most {torch.finfo(dtype).max:.3g} in absolute value)"
        )
    return X_t


def _two_columns(logits: torch.Tensor) -> torch.Tensor:
    """A binary model's single logit z as the two logits [0, z] (softmax = sigmoid).

    For one model's ``(n, 1)`` logits and for stacked models' ``(n_models, n, 1)``.
    """
    if logits.ndim >= 2 and logits.shape[-1] == 1:
        return torch.cat([torch.zeros_like(logits), logits], dim=-1)
    return logits


@contextlib.contextmanager
def _evaluating(*models: nn.Module):
    """Eval mode and no gradients for the block; each model's train/eval mode is restored."""
    modes = [model.training for model in models]
    for model in models:
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for model, mode in zip(models, modes, strict=True):
            model.train(mode)


def _forward(model: nn.Module, X_t: torch.Tensor, name: str) -> torch.Tensor:
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
    return _two_columns(logits)


def _check_labels_fit(model: nn.Module, X_t: torch.Tensor, y: np.ndarray, name: str) -> None:
    """Refuse labels the model has no output for (one forward pass of one row, no gradients)."""
    with _evaluating(model):
        n_classes = _forward(model, X_t[:1], f"{name} X").shape[1]
    if y.max() >= n_classes:
        raise ValueError(
            f"{name} labels include {y.max()}, but the model has {n_classes} classes "
            f"(labels 0..{n_classes - 1})"
        )


def _learning_rate(lr, model: nn.Module) -> float:
    """A positive, finite learning rate that the model's dtype can hold."""
    lr = positive_number(lr, "lr")
    if lr > torch.finfo(_model_dtype(model)).max:
        raise ValueError(f"lr={lr:g} overflows the model's {_model_dtype(model)}")
    return lr


def _check_finite(loss: torch.Tensor, lr: float) -> None:
    """Stop as soon as training diverges, instead of returning a model with NaN weights."""
    if not torch.isfinite(loss).all():
        raise ValueError(
            f"training diverged (the loss became {loss.detach().flatten()[0].item()}): "
            f"lower lr (got lr={lr:g})"
        )


def _step(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """``optimizer.step()``; a step too large for the weights' dtype names ``lr``."""
    try:
        optimizer.step()
    except RuntimeError as error:
        if "overflow" not in str(error):
            raise
        raise ValueError(f"training diverged ({error}): lower lr (got lr={lr:g})") from None


def _check_weights(tensors, lr: float) -> None:
    if not all(torch.isfinite(t).all() for t in tensors):
        raise ValueError(
            f"training diverged (the weights became NaN or inf): lower lr (got lr={lr:g})"
        )


def _not_a_language_model(model, name: str = "model") -> None:
    if isinstance(model, CharLM):
        raise TypeError(
            f"{name} is a character language model: train it with fit_lm and read it with "
            "token_logprobs"
        )


def _positive_float(value, name: str) -> float:
    if not is_number(value):
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
    _not_a_language_model(model)
    X, y = arrays(data, "data")
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    lr = _learning_rate(lr, model)
    weight_decay = _positive_float(weight_decay, "weight_decay")
    seed = seed_value(seed)
    if monitor is not None and not callable(monitor):
        raise TypeError("monitor must be callable or None")
    return_curves = boolean(return_curves, "return_curves")
    progress = boolean(progress, "progress")

    X_t = _rows_for(model, X, "data X")
    y_t = torch.as_tensor(y, dtype=torch.long)
    _check_labels_fit(model, X_t, y, "data")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for epoch in tqdm(range(1, epochs + 1), desc="training", disable=not progress):
            model.train()
            for batch in torch.randperm(len(y_t)).split(batch_size):
                optimizer.zero_grad()
                loss = loss_fn(_two_columns(model(X_t[batch])), y_t[batch])
                _check_finite(loss, lr)
                loss.backward()
                _step(optimizer, lr)
            _check_weights(model.parameters(), lr)
            if return_curves or monitor is not None:
                rows.append({"epoch": epoch, **_epoch_row(model, X_t, y_t, loss_fn, monitor)})
    model.eval()
    if return_curves:
        return model, pd.DataFrame(rows)
    return model


def _epoch_row(model, X_t, y_t, loss_fn, monitor) -> dict:
    model.eval()
    with torch.no_grad():
        logits = _two_columns(model(X_t))
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
    progress: bool = True,
) -> tuple[list[nn.Module], np.ndarray]:
    """Train ``n_models`` reference models at once, each on its own half of ``pool``.

    The models are stacked (``torch.func.stack_module_state``) and trained together with
    ``vmap``: one batched forward and backward pass per step instead of one per model. Each model
    gets exactly what :func:`fit` would give it: its own initial weights, its own shuffling, its
    own Adam state (Adam works element by element, so one Adam over the stacked weights is
    ``n_models`` independent ones). Model ``m`` equals, up to float rounding,
    ``fit(model_factory(seed=s), pool[in_mask[m]], seed=s)`` for a seed ``s`` drawn from ``seed``.

    Args:
        model_factory: ``model_factory(seed=s)`` returns a fresh model, e.g.
            ``functools.partial(mialab.models.mlp, 64, 10)``. Must be picklable (no lambda)
            when an ``executor`` runs in other processes.
        pool: a :class:`~mialab.data.Dataset` or ``(X, y)``.
        n_models: number of models; see :func:`balanced_in_mask` for who trains on what.
        epochs, batch_size, lr, weight_decay: as in :func:`fit`.
        seed: seed of the in-mask, the models' initial weights and their shuffling.
        executor: a ``concurrent.futures.Executor`` (a process pool, or one backed by Ray or
            Dask) to train chunks of models in parallel; None trains in this process. Give a
            process pool the "spawn" context: a forked child of a process running torch can hang.
        chunk_size: models per chunk (bounds memory); default all at once, or an even share per
            worker of a pool that reports its ``max_workers`` (give it for other executors).
        progress: show a progress bar.

    Returns:
        ``(models, in_mask)``: a list of trained models in eval mode, and the boolean in-mask of
        shape ``(n_models, len(pool))``.

    Example:
        >>> from functools import partial
        >>> from mialab import data, models
        >>> pool = data.load("digits").subset(range(100))
        >>> refs, in_mask = fit_many(partial(models.mlp, 64, 10), pool, 4, epochs=2, progress=False)
        >>> len(refs), in_mask.shape, int(in_mask.sum(axis=0).min())
        (4, (4, 100), 2)
    """
    expected = (
        "model_factory(seed=s) -> nn.Module, e.g. functools.partial(mialab.models.mlp, 64, 10)"
    )
    if isinstance(model_factory, nn.Module) or not callable(model_factory):
        got = "a model" if isinstance(model_factory, nn.Module) else type(model_factory).__name__
        raise TypeError(f"model_factory must be a function {expected}; got {got}")
    try:
        inspect.signature(model_factory).bind(seed=0)
    except TypeError:
        raise TypeError(f"model_factory must take a keyword argument seed: {expected}") from None
    except ValueError:
        pass  # no signature to read (some built-in callables): trust it
    X, y = arrays(pool, "pool")
    n_models = positive_int(n_models, "n_models")
    settings = {
        "epochs": positive_int(epochs, "epochs"),
        "batch_size": positive_int(batch_size, "batch_size"),
        "lr": positive_number(lr, "lr"),
        "weight_decay": _positive_float(weight_decay, "weight_decay"),
    }
    progress = boolean(progress, "progress")
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {executor!r}")
    rng = np.random.default_rng(seed_value(seed))
    in_mask = balanced_in_mask(n_models, len(y), seed=int(rng.integers(2**31)))
    seeds = [int(s) for s in rng.integers(2**31, size=n_models)]
    models = [model_factory(seed=s) for s in seeds]
    if not all(isinstance(m, nn.Module) for m in models):
        raise TypeError("model_factory must return torch.nn.Module instances")
    _not_a_language_model(models[0], "model_factory's model")
    _check_labels_fit(models[0], _rows_for(models[0], X, "pool X"), y, "pool")
    _learning_rate(settings["lr"], models[0])

    if chunk_size is None:
        workers = getattr(executor, "_max_workers", 1) if executor is not None else 1
        chunk_size = -(-n_models // workers)
    chunk_size = positive_int(chunk_size, "chunk_size")
    chunks = [range(i, min(i + chunk_size, n_models)) for i in range(0, n_models, chunk_size)]
    if executor is None:
        for chunk in tqdm(chunks, desc="training reference models", disable=not progress):
            _train_stacked(
                [models[m] for m in chunk],
                X,
                y,
                in_mask[chunk],
                [seeds[m] for m in chunk],
                settings,
            )
    else:
        jobs = [
            executor.submit(
                _train_chunk,
                model_factory,
                X,
                y,
                in_mask[chunk],
                [seeds[m] for m in chunk],
                settings,
            )
            for chunk in chunks
        ]
        for chunk, job in zip(chunks, tqdm(jobs, desc="chunks", disable=not progress), strict=True):
            for m, state in zip(chunk, job.result(), strict=True):
                models[m].load_state_dict(state)
    for model in models:
        model.eval()
    return models, in_mask


def _train_chunk(model_factory, X, y, in_mask, seeds, settings) -> list[dict]:
    """Train one chunk of models (in a worker process) and return their weights."""
    models = [model_factory(seed=s) for s in seeds]
    _train_stacked(models, X, y, in_mask, seeds, settings)
    return [m.state_dict() for m in models]


def _train_stacked(models, X, y, in_mask, seeds, settings) -> None:
    """Train ``models`` in place, model m on the records in_mask[m], all in one vmapped loop.

    Every model trains on the same number of records (see :func:`balanced_in_mask`), so each
    step gives every model a batch of the same size and no model ever sits a step out.
    """
    sizes = in_mask.sum(axis=1)
    if np.any(sizes != sizes[0]):
        raise ValueError("every model must train on the same number of records")
    rows = torch.as_tensor(np.stack([np.flatnonzero(row) for row in in_mask]))  # (M, k)
    X_models = torch.as_tensor(X, dtype=_model_dtype(models[0]))[rows]  # (M, k, d)
    y_models = torch.as_tensor(y, dtype=torch.long)[rows]  # (M, k)
    n_models, k = rows.shape

    params, buffers = stack_module_state(models)
    template = copy.deepcopy(models[0]).to("meta").train()

    def forward(p, b, x):
        return functional_call(template, (p, b), (x,))

    batched_forward = vmap(forward, randomness="different")
    optimizer = torch.optim.Adam(
        params.values(), lr=settings["lr"], weight_decay=settings["weight_decay"], fused=True
    )
    # The same shuffling as fit(model, ..., seed=s): torch.manual_seed(s), then randperm.
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    model_index = torch.arange(n_models)[:, None]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seeds[0])  # randomness inside the models (dropout), if any
        for _ in range(settings["epochs"]):
            order = torch.stack([torch.randperm(k, generator=g) for g in generators])
            for batch in order.split(settings["batch_size"], dim=1):
                logits = _two_columns(
                    batched_forward(params, buffers, X_models[model_index, batch])
                )
                losses = nn.functional.cross_entropy(
                    logits.flatten(0, 1), y_models[model_index, batch].flatten(), reduction="none"
                )
                optimizer.zero_grad()
                # Summing the models' mean losses gives each model the gradient of its own loss.
                total = losses.view(n_models, -1).mean(dim=1).sum()
                _check_finite(total, settings["lr"])
                total.backward()
                _step(optimizer, settings["lr"])
            _check_weights(params.values(), settings["lr"])
    with torch.no_grad():
        for m, model in enumerate(models):
            for name, tensor in model.named_parameters():
                tensor.copy_(params[name][m])
            for name, tensor in model.named_buffers():
                tensor.copy_(buffers[name][m])


def predict_logits(model, X, *, batch_size: int = 4096) -> np.ndarray:
    """Logits for rows ``X``, from one model or from each of a sequence of models.

    Eval mode, no gradients, in batches; each model's train/eval mode is restored afterwards.
    ``X`` is cast to each model's dtype (float32 or float64). A binary model with one output
    ``z`` gets the two logits ``[0, z]``, whose softmax is ``[1 - sigmoid(z), sigmoid(z)]``.

    Args:
        model: a torch module mapping rows to logits, or a sequence of them (e.g. the reference
            models of :func:`fit_many`).
        X: array or tensor of shape ``(n, n_features)``.
        batch_size: rows per forward pass (bounds memory).

    Returns:
        float64 array of shape ``(n, n_classes)``, or ``(n_models, n, n_classes)`` for a sequence.

    Example:
        >>> from mialab import models
        >>> predict_logits(models.mlp(4, 3), np.zeros((2, 4))).shape
        (2, 3)
        >>> predict_logits([models.mlp(4, 3), models.mlp(4, 3)], np.zeros((2, 4))).shape
        (2, 2, 3)
    """
    X = float_array(X, "X", ndim=2)
    batch_size = positive_int(batch_size, "batch_size")
    if isinstance(model, Sequence) and not isinstance(model, nn.Module):
        if not model:
            raise ValueError("model is an empty sequence")
        return np.stack([_logits(m, X, batch_size) for m in model])
    return _logits(model, X, batch_size)


def _logits(model, X: np.ndarray, batch_size: int) -> np.ndarray:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _not_a_language_model(model)
    X_t = _rows_for(model, X, "X")
    with _evaluating(model):
        logits = torch.cat([_forward(model, batch, "X") for batch in X_t.split(batch_size)])
    return logits.double().numpy()


def fit_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    data,
    *,
    epochs: int = 200,
    batch_size: int = 64,
    lr: float = 2e-4,
    seed: int = 0,
    progress: bool = True,
) -> tuple[nn.Module, nn.Module]:
    """Train a GAN in place (non-saturating loss, Adam with β₁ = 0.5), seeded, on a CPU.

    Each step updates the discriminator on a batch of real rows and as many generated ones, then
    the generator to make its samples look real. Train for more epochs to watch it memorise
    (lesson 03).

    Args:
        generator: maps ``(batch, latent_dim)`` noise to rows; its first layer's ``in_features``
            gives ``latent_dim``.
        discriminator: maps rows to one logit each.
        data: a :class:`~mialab.data.Dataset` or ``(X, y)`` (labels are ignored), or an array X.
        epochs, batch_size, lr: training schedule.
        seed: seed of the shuffling and the noise; torch's global random state is left as it was.
        progress: show a progress bar.

    Returns:
        ``(generator, discriminator)``, trained, in eval mode.

    Example:
        >>> from mialab import data, models
        >>> g, d = models.gan(64)
        >>> g, d = fit_gan(g, d, data.load("digits").subset(range(64)), epochs=1, progress=False)
        >>> sample(g, 2).shape
        (2, 64)
    """
    for name, module in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    X = features(data, "data")
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    lr = _learning_rate(lr, generator)
    _learning_rate(lr, discriminator)  # the same lr trains both: each dtype must hold it
    progress = boolean(progress, "progress")
    noise_width = latent_dim(generator)
    X_t = _gan_rows(generator, discriminator, X, "data")
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    generator.train()
    discriminator.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_value(seed))
        for _ in tqdm(range(epochs), desc="training GAN", disable=not progress):
            for batch in torch.randperm(len(X_t)).split(batch_size):
                real = X_t[batch]
                fake = generator(torch.randn(len(real), noise_width, dtype=real.dtype))
                opt_d.zero_grad()
                d_loss = bce(discriminator(real), torch.ones_like(real[:, :1])) + bce(
                    discriminator(fake.detach()), torch.zeros_like(real[:, :1])
                )
                _check_finite(d_loss, lr)
                d_loss.backward()
                _step(opt_d, lr)
                opt_g.zero_grad()
                g_loss = bce(discriminator(fake), torch.ones_like(real[:, :1]))
                _check_finite(g_loss, lr)
                g_loss.backward()
                _step(opt_g, lr)
            _check_weights([*generator.parameters(), *discriminator.parameters()], lr)
    return generator.eval(), discriminator.eval()


def _gan_rows(generator: nn.Module, discriminator: nn.Module, X: np.ndarray, name: str):
    """``X`` in the discriminator's dtype, checked against both networks' widths."""
    X_t = _rows_for(discriminator, X, f"{name} X")
    noise = torch.zeros(1, latent_dim(generator), dtype=_model_dtype(generator))
    try:
        with _evaluating(generator, discriminator):
            fake = generator(noise)
            if fake.shape != (1, X.shape[1]):
                raise ValueError(
                    f"generator makes rows of shape {tuple(fake.shape[1:])}, {name} has "
                    f"{X.shape[1]} features"
                )
            score = discriminator(X_t[:1])
    except RuntimeError as error:
        raise ValueError(f"{name} X does not fit the discriminator: {error}") from None
    if score.shape != (1, 1):
        raise ValueError(
            f"discriminator must map each row to one logit, got shape {tuple(score.shape[1:])}"
        )
    return X_t


def sample(generator: nn.Module, n: int, *, seed: int = 0) -> np.ndarray:
    """``n`` rows from a generator, as a float64 array (eval mode, no gradients, seeded).

    Example:
        >>> from mialab import models
        >>> g, _ = models.gan(5, latent_dim=3)
        >>> np.array_equal(sample(g, 4, seed=1), sample(g, 4, seed=1))
        True
    """
    if not isinstance(generator, nn.Module):
        raise TypeError(f"generator must be a torch.nn.Module, got {type(generator).__name__}")
    n = positive_int(n, "n")
    noise = torch.randn(
        n,
        latent_dim(generator),
        generator=torch.Generator().manual_seed(seed_value(seed)),
        dtype=_model_dtype(generator),
    )
    with _evaluating(generator):
        return generator(noise).double().numpy()


def _char_lm(model) -> CharLM:
    if not isinstance(model, CharLM):
        raise TypeError(
            f"model must be a mialab CharLM (mialab.models.char_lm), got {type(model).__name__}"
        )
    return model


def fit_lm(
    model: nn.Module,
    texts,
    *,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
) -> nn.Module:
    """Train a character language model (:func:`mialab.models.char_lm`) on ``texts``, seeded.

    Next-character cross-entropy with Adam; each text is read from a leading newline to a
    closing one. Returns the model in eval mode.

    Example:
        >>> from mialab import models
        >>> lm = fit_lm(models.char_lm("\\nab"), ["abab", "ba"], epochs=2, progress=False)
        >>> [len(lp) for lp in token_logprobs(lm, ["ab"])]
        [3]
    """
    inputs, targets = _char_lm(model).encode(texts)
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr = _learning_rate(lr, model)
    progress = boolean(progress, "progress")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_value(seed))
        for _ in tqdm(range(epochs), desc="training language model", disable=not progress):
            for batch in torch.randperm(len(inputs)).split(batch_size):
                optimizer.zero_grad()
                loss = sequence_loss(model, inputs[batch], targets[batch])
                _check_finite(loss, lr)
                loss.backward()
                _step(optimizer, lr)
            _check_weights(model.parameters(), lr)
    return model.eval()


@torch.no_grad()
def token_logprobs(model: nn.Module, texts, *, batch_size: int = 256) -> list[np.ndarray]:
    """Each text's per-character log-probabilities under ``model`` (its closing newline included).

    The input every score of :mod:`mialab.attacks.language` takes.
    """
    inputs, targets = _char_lm(model).encode(texts)
    batch_size = positive_int(batch_size, "batch_size")
    model.eval()
    out = []
    for start in range(0, len(inputs), batch_size):
        logits = model(inputs[start : start + batch_size])
        logp = torch.log_softmax(logits, dim=-1)
        tgt = targets[start : start + batch_size]
        picked = logp.gather(2, tgt.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        for row, mask in zip(picked, tgt != -100, strict=True):
            out.append(row[mask].double().numpy())
    return out


@torch.no_grad()
def generate(
    model: nn.Module,
    n: int = 1,
    *,
    prefix: str = "",
    temperature: float = 1.0,
    max_chars: int = 120,
    seed: int = 0,
) -> list[str]:
    """``n`` notes written by ``model``, each ``prefix`` and its continuation, seeded.

    Each next character is drawn from the model's distribution sharpened by ``temperature``
    (probabilities ∝ p^(1/temperature)); ``temperature=0`` always takes the likeliest one
    (greedy), and any temperature above 0, however small, approaches it without overflowing. A
    note ends at the model's newline or after ``max_chars`` new characters.

    Example:
        >>> from mialab import models
        >>> notes = generate(models.char_lm("\\nab"), 3, max_chars=5, seed=1)
        >>> len(notes), all(set(note) <= set("ab") for note in notes)
        (3, True)
    """
    model = _char_lm(model)
    n, max_chars = positive_int(n, "n"), positive_int(max_chars, "max_chars")
    temperature = _positive_float(temperature, "temperature")  # 0 (greedy) is allowed
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string, got {type(prefix).__name__}")
    inputs, _ = model.encode([prefix], "prefix")
    tokens = inputs[:, : len(prefix) + 1].repeat(n, 1)  # the leading newline and the prefix
    newline = model.alphabet.index("\n")
    ended = torch.zeros(n, dtype=torch.bool)
    sampling = torch.Generator().manual_seed(seed_value(seed))
    model.eval()
    for _ in range(max_chars):
        logits = model(tokens[:, -model.context :])[:, -1].double()  # the last `context` chars
        if temperature == 0:
            following = logits.argmax(1)
        else:
            # Shifted so the likeliest is 0: a tiny temperature sends the rest to -inf, not NaN.
            shifted = logits - logits.max(dim=1, keepdim=True).values
            probs = torch.softmax(shifted / temperature, dim=1)
            following = torch.multinomial(probs, 1, generator=sampling).squeeze(1)
        following[ended] = newline
        ended |= following == newline
        tokens = torch.cat([tokens, following.unsqueeze(1)], dim=1)
        if ended.all():
            break
    written = []
    for row in tokens[:, len(prefix) + 1 :].tolist():
        text = "".join(model.alphabet[c] for c in row)
        written.append(prefix + text.split("\n")[0])
    return written


def complete(model: nn.Module, prefix: str, *, max_chars: int = 120) -> str:
    """The model's greedy continuation of ``prefix``, up to the end of the note.

    Example:
        >>> from mialab import models
        >>> isinstance(complete(models.char_lm("\\nab"), "a", max_chars=5), str)
        True
    """
    return generate(model, prefix=prefix, temperature=0, max_chars=max_chars)[0]


# TEMPORARY, until mialab/audit.py imports mialab.data.arrays: remove then.
_features_and_labels = arrays
