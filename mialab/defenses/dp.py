"""Differentially private training with DP-SGD through Opacus (lesson 05).

DP-SGD (Abadi et al. 2016) clips each example's gradient to ``max_grad_norm`` and adds Gaussian
noise to the sum; Opacus does both, samples each batch by Poisson sampling (each record joins a
step with probability batch_size / n) and finds the noise that reaches ``target_epsilon`` after
``epochs`` with its accountant. The ε returned is the accountant's own figure for the whole run.
"""

from __future__ import annotations

import math
import warnings

import torch
from opacus import PrivacyEngine
from opacus.validators import ModuleValidator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mialab import training
from mialab._checks import fraction, positive_int, positive_number, seed_value

__all__ = ["check_private", "fit_private"]

ACCOUNTANTS = ("prv", "rdp")
GRAD_SAMPLE_MODES = ("hooks", "functorch", "ew")


def check_private(model: nn.Module) -> None:
    """Raise a ValueError naming the first layer Opacus cannot train privately.

    Example:
        >>> check_private(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
        Traceback (most recent call last):
        ...
        ValueError: layer '1' (BatchNorm1d) cannot be trained with DP-SGD: BatchNorm cannot support training with differential privacy. Replace it (opacus.validators.ModuleValidator.fix swaps BatchNorm for GroupNorm) or use a model from mialab.models.
    """  # noqa: E501
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    for name, layer in model.named_modules():
        if any(True for _ in layer.children()):
            continue  # containers: their leaves are checked one by one
        errors = ModuleValidator.validate(layer, strict=False)
        if errors:
            reason = str(errors[0]).split(". ")[0].strip("\"'")
            raise ValueError(
                f"layer {name!r} ({type(layer).__name__}) cannot be trained with DP-SGD: "
                f"{reason}. Replace it (opacus.validators.ModuleValidator.fix swaps BatchNorm "
                "for GroupNorm) or use a model from mialab.models."
            )


def fit_private(
    model: nn.Module,
    data,
    *,
    target_epsilon: float,
    delta: float = 1e-5,
    epochs: int = 30,
    max_grad_norm: float = 1.0,
    batch_size: int = 64,
    lr: float = 1e-3,
    accountant: str = "prv",
    grad_sample_mode: str = "hooks",
    seed: int = 0,
) -> tuple[nn.Module, float]:
    """Train ``model`` in place with DP-SGD (Adam as the update rule) to (ε, δ)-DP.

    ``target_epsilon=math.inf`` trains without privacy, with the same optimiser and epochs
    (:func:`mialab.training.fit`), so an ε sweep can include its non-private end.

    Args:
        model: a torch module Opacus supports (:func:`check_private`).
        data: a :class:`~mialab.data.Dataset` or a tuple ``(X, y)``.
        target_epsilon: ε to reach after ``epochs``.
        delta: δ; keep it below 1/n.
        epochs: passes over the data (in expectation: batches are Poisson-sampled).
        max_grad_norm: C, the bound on each example's gradient norm.
        batch_size: expected batch size; the sampling rate is batch_size / n.
        lr: Adam's learning rate.
        accountant: ``"prv"`` (Gopi et al. 2021, tight) or ``"rdp"`` (Mironov 2017).
        grad_sample_mode: how Opacus gets per-example gradients (``"hooks"``, ``"functorch"``,
            ``"ew"``).
        seed: seeds the batch sampling and the noise; same seed, same model.

    Returns:
        ``(model, epsilon)``: the trained model (the object passed in) and the ε the accountant
        reports for the run.

    Example:
        >>> import mialab as ml
        >>> digits = ml.data.load("digits").subset(range(300))
        >>> model, epsilon = fit_private(ml.models.mlp(64, 10), digits, target_epsilon=2.0,
        ...                              epochs=2)
        >>> round(epsilon, 1)
        2.0
    """
    check_private(model)
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    if grad_sample_mode not in GRAD_SAMPLE_MODES:
        raise ValueError(
            f"grad_sample_mode must be one of {GRAD_SAMPLE_MODES}, got {grad_sample_mode!r}"
        )
    if not (isinstance(target_epsilon, (int, float)) and target_epsilon == math.inf):
        target_epsilon = positive_number(target_epsilon, "target_epsilon")
    delta, epochs = fraction(delta, "delta"), positive_int(epochs, "epochs")
    max_grad_norm = positive_number(max_grad_norm, "max_grad_norm")
    batch_size, lr = positive_int(batch_size, "batch_size"), positive_number(lr, "lr")
    seed = seed_value(seed)
    X, y = training._features_and_labels(data, "data")
    if target_epsilon == math.inf:
        training.fit(model, (X, y), epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                     progress=False)  # fmt: skip
        return model.eval(), math.inf
    X, y = torch.from_numpy(X).float(), torch.from_numpy(y).long()

    with warnings.catch_warnings():
        # Seeded generators are the point here (same seed, same model); Opacus warns that they
        # are not cryptographically secure, which matters for a production release only.
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        sampling, noise = (
            torch.Generator().manual_seed(seed),
            torch.Generator().manual_seed(seed + 1),
        )
        loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, generator=sampling)
        model.train()
        engine = PrivacyEngine(accountant=accountant)
        private, optimizer, loader = engine.make_private_with_epsilon(
            module=model,
            optimizer=torch.optim.Adam(model.parameters(), lr=lr),
            data_loader=loader,
            target_epsilon=target_epsilon,
            target_delta=delta,
            epochs=epochs,
            max_grad_norm=max_grad_norm,
            noise_generator=noise,
            grad_sample_mode=grad_sample_mode,
        )
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(epochs):
            for X_batch, y_batch in loader:
                if len(X_batch) == 0:  # Poisson sampling can draw an empty batch
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss_fn(private(X_batch), y_batch).backward()
                optimizer.step()
        private._close()  # remove Opacus' hooks: the module is an ordinary model again
        epsilon = float(engine.get_epsilon(delta))
    return model.eval(), epsilon
