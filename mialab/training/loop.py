"""What every training loop of mialab shares: the device, the seeded batches, the safety checks.

The classifier, GAN and language-model loops (and DP-SGD's, in :mod:`mialab.defenses.dp`) all
run on a device chosen by :func:`resolve_device`, draw their batches with :func:`batches`, and
stop with an error naming ``lr`` as soon as training diverges.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from mialab._checks import positive_int, positive_number

__all__ = [
    "batches",
    "check_finite",
    "check_weights",
    "evaluating",
    "learning_rate",
    "model_device",
    "model_dtype",
    "on_device",
    "resolve_device",
    "seeded",
    "step",
    "tqdm_disable",
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


def model_device(model: nn.Module) -> torch.device:
    """Where the model's weights are (the CPU for a model without any)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def on_device(device: torch.device, *models: nn.Module, back_home: bool = False):
    """Run the block with ``models`` on ``device``; afterwards, even after an error, move them to
    the CPU, or with ``back_home`` to where each one was."""
    homes = [model_device(model) if back_home else torch.device("cpu") for model in models]
    for model in models:
        model.to(device)
    try:
        yield
    finally:
        for model, home in zip(models, homes, strict=True):
            model.to(home)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """torch's global random state seeded with ``seed`` for the block (randomness inside a model,
    such as dropout), then restored: the caller's random numbers are left as they were."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def batches(n: int, batch_size: int, *, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """One epoch of batches: the indices ``0..n-1`` in an order drawn from ``generator``, in
    chunks of ``batch_size`` (the last one may be smaller). Each index comes exactly once.

    Every training loop of mialab draws its batches here, from a generator seeded with its
    ``seed``, so the same seed gives the same batches, on any device.

    Args:
        n: number of records.
        batch_size: records per batch.
        generator: a CPU ``torch.Generator``; each call advances it (a new order every epoch).

    Returns:
        A tuple of 1-D int64 CPU tensors.

    Example:
        >>> import torch
        >>> generator = torch.Generator().manual_seed(0)
        >>> [b.tolist() for b in batches(5, 2, generator=generator)]
        [[4, 0], [1, 3], [2]]
    """
    n, batch_size = positive_int(n, "n"), positive_int(batch_size, "batch_size")
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise TypeError(f"generator must be a CPU torch.Generator, got {generator!r}")
    return torch.randperm(n, generator=generator).split(batch_size)


def tqdm_disable(progress) -> bool | None:
    """tqdm's ``disable`` for ``progress``: None (a bar on a terminal or in a notebook, tqdm's
    choice), True (always a bar) or False (never)."""
    if progress is None:
        return None
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be None, True or False, got {progress!r}")
    return not progress


@contextlib.contextmanager
def evaluating(*models: nn.Module):
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


def model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's weights (float32 for a model without any)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def learning_rate(lr, model: nn.Module) -> float:
    """A positive, finite learning rate that the model's dtype can hold."""
    lr = positive_number(lr, "lr")
    if lr > torch.finfo(model_dtype(model)).max:
        raise ValueError(f"lr={lr:g} overflows the model's {model_dtype(model)}")
    return lr


def check_finite(loss: torch.Tensor, lr: float) -> None:
    """Stop as soon as training diverges, instead of returning a model with NaN weights."""
    if not torch.isfinite(loss).all():
        raise ValueError(
            f"training diverged (the loss became {loss.detach().flatten()[0].item()}): "
            f"lower lr (got lr={lr:g})"
        )


def step(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """``optimizer.step()``; a step too large for the weights' dtype names ``lr``."""
    try:
        optimizer.step()
    except RuntimeError as error:
        if "overflow" not in str(error):
            raise
        raise ValueError(f"training diverged ({error}): lower lr (got lr={lr:g})") from None


def check_weights(tensors, lr: float) -> None:
    """Refuse weights that became NaN or infinite (after an epoch), naming ``lr``."""
    if not all(torch.isfinite(t).all() for t in tensors):
        raise ValueError(
            f"training diverged (the weights became NaN or inf): lower lr (got lr={lr:g})"
        )
