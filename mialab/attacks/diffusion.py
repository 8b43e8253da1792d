"""Attacks on diffusion models with access to the denoiser ε_θ (lesson 08).

A DDPM is trained to predict the noise ε added to a record at a noise level t; it predicts the
noise of its own training records better. Each attack turns that into one score per record,
higher = more likely a member:

* :func:`diffusion_loss_score` (Matsumoto et al. 2023; Hu & Pang 2023): minus the denoising loss
  at chosen timesteps, averaged over noise draws;
* :func:`secmi_score` (Duan et al. 2023): minus the t-error of one deterministic DDIM round trip
  from the record's deterministic inversion;
* :func:`pia_score` (Kong et al. 2024): the model's own ε̂ at t = 0 as the noise, then minus
  the ℓ_p distance between it and ε_θ at t; two queries per record.

Each takes ``model``, a diffusion denoiser called as ``model(x_t, t)`` with an ``alpha_bar``
buffer (:func:`mialab.models.denoiser`), and the candidates ``X`` ``(n, n_features)`` scaled as
its training data. Timesteps are 0..T−1 (ᾱ_0 ≈ 1, nearly no noise); the papers' T is 1000.
For LiRA with reference diffusion models (Carlini et al. 2023), give the loss score of each
model to :func:`mialab.attacks.lira_score`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from mialab._checks import float_array, positive_int, positive_number, seed_value
from mialab.models import alpha_bar_of, denoising_loss
from mialab.training.checks import rows_for
from mialab.training.diffusion import check_timestep, ddim_step
from mialab.training.loop import evaluating, on_device, resolve_device

__all__ = ["diffusion_loss_score", "pia_score", "secmi_score"]


def _inputs(model, X, device) -> tuple[torch.Tensor, int, torch.device]:
    """X as a tensor in the model's dtype (width checked), T, and the device."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    steps = len(alpha_bar_of(model))
    X = float_array(X, "X", ndim=2)
    return rows_for(model, X, "X"), steps, resolve_device(device)


def _at(t: int, n: int, device) -> torch.Tensor:
    return torch.full((n,), t, dtype=torch.long, device=device)


def diffusion_loss_score(
    model: nn.Module,
    X,
    *,
    timesteps: int | Sequence[int] = 100,
    n_noise: int = 4,
    seed: int = 0,
    device="cpu",
) -> np.ndarray:
    """The loss attack: −L_t(x₀), the denoising loss, averaged over noise draws and timesteps.

    L_t(x₀) = ‖ε − ε_θ(√ᾱ_t·x₀ + √(1−ᾱ_t)·ε, t)‖² / d for ε ~ N(0, I)
    (:func:`mialab.models.denoising_loss`), the quantity training minimises. Members have the
    lower loss, most clearly at small-to-middle timesteps (sweep them; lesson 08). The noise is
    drawn on the CPU from ``seed``: the same seed gives every model the same ε, which removes the
    noise's share of the variance when models are compared (LiRA's reference models).

    Args:
        model: a diffusion denoiser, called as ``model(x_t, t)``, with an ``alpha_bar`` buffer
            (:func:`mialab.models.denoiser`).
        X: ``(n, n_features)`` candidate records.
        timesteps: one timestep, or several whose losses are averaged.
        n_noise: noise draws per record and timestep.
        seed: seed of the noise.
        device: where to compute; the model is left where it was.

    Returns:
        float64 scores of shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> model = models.denoiser(4, hidden=16)
        >>> diffusion_loss_score(model, np.zeros((3, 4)), timesteps=[50, 100]).shape
        (3,)
    """
    X_t, steps, device = _inputs(model, X, device)
    if isinstance(timesteps, (int, np.integer)) and not isinstance(timesteps, bool):
        timesteps = [timesteps]
    if isinstance(timesteps, (str, bytes)) or not isinstance(timesteps, (Sequence, np.ndarray)):
        raise TypeError(f"timesteps must be an int or a list of ints, got {timesteps!r:.60}")
    if not len(timesteps):
        raise ValueError("timesteps is empty: give at least one timestep")
    timesteps = [check_timestep(t, steps, "timesteps") for t in timesteps]
    n_noise = positive_int(n_noise, "n_noise")
    randomness = torch.Generator().manual_seed(seed_value(seed))
    total = torch.zeros(len(X_t), dtype=torch.float64)
    with on_device(device, model, back_home=True), evaluating(model):
        x0 = X_t.to(device)
        for t in timesteps:
            for _ in range(n_noise):
                noise = torch.randn(X_t.shape, generator=randomness, dtype=X_t.dtype)
                loss = denoising_loss(model, x0, _at(t, len(x0), device), noise.to(device))
                total += loss.double().cpu()
    return -(total / (len(timesteps) * n_noise)).numpy()


def secmi_score(
    model: nn.Module, X, *, timestep: int = 100, interval: int = 10, device="cpu"
) -> np.ndarray:
    """SecMI_stat (Duan et al., ICML 2023): minus the t-error of a deterministic round trip.

    The record is carried to noise level t by DDIM's deterministic inversion
    (:func:`mialab.training.ddim_step` from 0 up to t in strides of ``interval``), giving x̃_t;
    one deterministic denoising step to t − interval and one deterministic step back to t give
    x̂_t. The t-error ‖x̃_t − x̂_t‖² (summed over features) is smaller for members, whose
    round trip the model has learnt to close. (The authors' code takes the same round trip the
    other way, from t − interval up to t and back; the idea is the same.)

    Args:
        model: a diffusion denoiser, called as ``model(x_t, t)``, with an ``alpha_bar`` buffer
            (:func:`mialab.models.denoiser`).
        X: ``(n, n_features)`` candidate records.
        timestep: t; the paper uses 100 of T = 1000.
        interval: the DDIM stride k; the paper uses 10. ``timestep`` must be a multiple of it.
        device: where to compute; the model is left where it was.

    Returns:
        float64 scores of shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> model = models.denoiser(4, hidden=16)
        >>> secmi_score(model, np.zeros((3, 4)), timestep=20, interval=10).shape
        (3,)
    """
    X_t, steps, device = _inputs(model, X, device)
    interval = positive_int(interval, "interval")
    timestep = check_timestep(timestep, steps, low=interval)
    if timestep % interval:
        raise ValueError(f"timestep ({timestep}) must be a multiple of interval ({interval})")
    with on_device(device, model, back_home=True):
        x = X_t.to(device)
        levels = range(0, timestep + 1, interval)
        for t, t_next in zip(levels, levels[1:], strict=False):  # inversion: x̃_t
            x = ddim_step(model, x, t, t_next)
        denoised = ddim_step(model, x, timestep, timestep - interval)
        renoised = ddim_step(model, denoised, timestep - interval, timestep)
    return -((x - renoised) ** 2).sum(dim=1).double().cpu().numpy()


def pia_score(
    model: nn.Module, X, *, timestep: int = 200, p: float = 4.0, device="cpu"
) -> np.ndarray:
    """PIA (Kong et al., ICLR 2024): proximal initialisation, two queries per record.

    ε̂ = ε_θ(x₀, 0) is taken as the noise ("proximal initialisation"); x_t = √ᾱ_t·x₀ +
    √(1−ᾱ_t)·ε̂; the score is ``−Σ_j |ε̂_j − ε_θ(x_t, t)_j|^p``, summed over features as in the
    authors' code (p = 4 there). A model that memorised x₀ predicts, at t, the same noise it
    read off x₀ at 0: the two queries agree for members.

    Args:
        model: a diffusion denoiser, called as ``model(x_t, t)``, with an ``alpha_bar`` buffer
            (:func:`mialab.models.denoiser`).
        X: ``(n, n_features)`` candidate records.
        timestep: t; the authors sweep 10 to 300 of T = 1000.
        p: the exponent of the distance.
        device: where to compute; the model is left where it was.

    Returns:
        float64 scores of shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> model = models.denoiser(4, hidden=16)
        >>> pia_score(model, np.zeros((3, 4))).shape
        (3,)
    """
    X_t, steps, device = _inputs(model, X, device)
    timestep = check_timestep(timestep, steps)
    p = positive_number(p, "p")
    with on_device(device, model, back_home=True), evaluating(model):
        x0 = X_t.to(device)
        noise = model(x0, _at(0, len(x0), device))
        alpha_bar = alpha_bar_of(model)[timestep].to(device, x0.dtype)
        x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
        error = (noise - model(x_t, _at(timestep, len(x0), device))).abs() ** p
    return -error.sum(dim=1).double().cpu().numpy()
