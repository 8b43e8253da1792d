"""Diffusion models: train a DDPM denoiser (``fit_diffusion``), sample from it
(``diffusion_sample``, ancestral DDPM or deterministic DDIM), and its deterministic step
(``ddim_step``), which DDIM sampling, DDIM inversion and SecMI share (lesson 08).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from mialab._checks import positive_int, positive_number, seed_value
from mialab.data import features
from mialab.models import alpha_bar_of, check_denoiser_input, denoising_loss
from mialab.training.checks import input_width, rows_for
from mialab.training.loop import (
    batches,
    check_finite,
    check_weights,
    evaluating,
    learning_rate,
    model_dtype,
    on_device,
    resolve_device,
    step,
    tqdm_disable,
)

__all__ = [
    "SAMPLERS",
    "check_timestep",
    "ddim_step",
    "diffusion_sample",
    "fit_diffusion",
]

SAMPLERS = ("ddpm", "ddim")


def timesteps_and_noise(
    x0: torch.Tensor, steps: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """DDPM's training draw for a batch ``x0``: a timestep per record, uniform on
    ``0..steps-1``, and Gaussian noise shaped as ``x0``; drawn on the CPU from ``generator`` (in
    that order), moved to ``x0``'s device. Plain and DP-SGD training share it."""
    t = torch.randint(0, steps, (len(x0),), generator=generator)
    noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    return t.to(x0.device), noise.to(x0.device)


def check_timestep(value, steps: int, name: str = "timestep", *, low: int = 0) -> int:
    """``value`` as an int timestep in ``[low, steps)``, refused by ``name`` otherwise.

    Example:
        >>> import numpy as np
        >>> check_timestep(np.int64(5), 10)
        5
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int timestep, got {type(value).__name__}")
    if not low <= value < steps:
        raise ValueError(f"{name} must lie in [{low}, {steps}) for a model of {steps} steps, "
                         f"got {value}")  # fmt: skip
    return int(value)


def fit_diffusion(
    model: nn.Module,
    data,
    *,
    epochs: int = 300,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
) -> nn.Module:
    """Train a DDPM denoiser in place (Ho et al. 2020), seeded.

    Each step draws, for every record of the batch, a timestep t uniformly and Gaussian noise ε,
    and takes an Adam step on the mean of :func:`mialab.models.denoising_loss`,
    ‖ε − ε_θ(√ᾱ_t·x₀ + √(1−ᾱ_t)·ε, t)‖² / d. Many epochs on few records make it memorise them
    (lesson 08). For DP-SGD, see :func:`mialab.defenses.dp.fit_private_diffusion`.

    Args:
        model: a :func:`mialab.models.denoiser` (or a module called as ``model(x_t, t)`` with an
            ``alpha_bar`` buffer).
        data: an array X ``(n, n_features)``, a :class:`~mialab.data.Dataset` or
            ``(X, labels)`` (labels ignored). Scale it to about unit size first (digits: 2x − 1,
            tabular: standardised), the scale of the noise.
        epochs, batch_size, lr: training schedule.
        seed: seed of the batches, timesteps and noise; same seed, same model.
        device: where to train (see :func:`mialab.training.resolve_device`); the model comes
            back on the CPU.
        progress: show a progress bar (None: on a terminal or in a notebook only).

    Returns:
        The model (the object passed in), on the CPU, in eval mode.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> model = fit_diffusion(models.denoiser(4, hidden=16), np.zeros((8, 4)), epochs=2)
        >>> model.training
        False
    """
    steps = len(alpha_bar_of(model))
    X = features(data, "data")
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    lr = learning_rate(lr, model)
    seed = seed_value(seed)
    device = resolve_device(device)
    disable = tqdm_disable(progress)
    X_t = rows_for(model, X, "data X")
    randomness = torch.Generator().manual_seed(seed)  # batches, timesteps and noise, on the CPU
    with on_device(device, model):
        X_t = X_t.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in tqdm(range(epochs), desc="training diffusion model", disable=disable, leave=False):
            for batch in batches(len(X_t), batch_size, generator=randomness):
                x0 = X_t[batch.to(device)]
                t, noise = timesteps_and_noise(x0, steps, randomness)
                optimizer.zero_grad()
                loss = denoising_loss(model, x0, t, noise).mean()
                check_finite(loss, lr)
                loss.backward()
                step(optimizer, lr)
        check_weights(model.parameters(), lr)
    return model.eval()


def ddim_step(
    model: nn.Module, x: torch.Tensor, t: int, t_next: int, *, clip: float | None = None
) -> torch.Tensor:
    """One deterministic DDIM step (Song et al. 2021, η = 0) from noise level t to t_next.

    With ε̂ = ε_θ(x, t) and x̂₀ = (x − √(1−ᾱ_t)·ε̂) / √ᾱ_t, the step returns
    √ᾱ_{t_next}·x̂₀ + √(1−ᾱ_{t_next})·ε̂. Towards less noise (t_next < t) it denoises (sampling);
    towards more (t_next > t) it is DDIM's inversion. ``t_next = -1`` returns x̂₀ itself (ᾱ = 1).
    At the noisiest levels ᾱ_t is near 0 and x̂₀ is ε̂'s error magnified; ``clip`` clamps x̂₀ to
    [−clip, clip], the data's range (1 for images scaled to [−1, 1]), as DDPM's and DDIM's own
    samplers do.

    Args:
        model: a diffusion denoiser (see :func:`fit_diffusion`), on the device of ``x``.
        x: ``(n, n_features)`` records at noise level t.
        t, t_next: timesteps, ``0 ≤ t < T`` and ``-1 ≤ t_next < T``.
        clip: bound on ``|x̂₀|``, or None (no clamp).

    Returns:
        A tensor shaped as ``x``, computed without gradients.

    Example:
        >>> import torch
        >>> from mialab import models
        >>> model = models.denoiser(4, hidden=16)
        >>> ddim_step(model, torch.zeros(2, 4), 10, 20).shape
        torch.Size([2, 4])
    """
    alpha_bar = alpha_bar_of(model)
    check_denoiser_input(model, x, "x")
    alpha_bar = alpha_bar.to(x.device, x.dtype)
    if clip is not None:
        clip = positive_number(clip, "clip")
    t = check_timestep(t, len(alpha_bar), "t")
    t_next = check_timestep(t_next, len(alpha_bar), "t_next", low=-1)
    with evaluating(model):
        predicted_noise = model(x, torch.full((len(x),), t, device=x.device))
    a_t = alpha_bar[t]
    a_next = alpha_bar[t_next] if t_next >= 0 else torch.ones((), dtype=x.dtype, device=x.device)
    x0 = (x - (1 - a_t).sqrt() * predicted_noise) / a_t.sqrt()
    if clip is not None:  # and the noise that x and the clamped x̂₀ imply, as DDIM's code does
        x0 = x0.clamp(-clip, clip)
        predicted_noise = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
    return a_next.sqrt() * x0 + (1 - a_next).sqrt() * predicted_noise


def diffusion_sample(
    model: nn.Module,
    n: int,
    *,
    sampler: str = "ddim",
    steps: int = 50,
    clip: float | None = None,
    seed: int = 0,
    device="cpu",
) -> np.ndarray:
    """``n`` records generated by a diffusion denoiser, as a float64 NumPy array (seeded).

    ``"ddim"``: deterministic DDIM (Song et al. 2021, :func:`ddim_step`) through ``steps``
    evenly spaced noise levels, so the same starting noise always gives the same record.
    ``"ddpm"``: ancestral sampling (Ho et al. 2020) through all T levels (``steps`` is unused):
    x_{t−1} drawn from N(μ_t, β_t) with μ_t = (√ᾱ_{t−1}·β_t·x̂₀ + √α_t·(1−ᾱ_{t−1})·x_t) / (1−ᾱ_t),
    the posterior mean given the predicted x̂₀ (the same as Ho et al.'s form in ε̂ when x̂₀ is not
    clipped). The noise is drawn on the CPU: a seed gives the same records on every device.

    Args:
        model: a diffusion denoiser (see :func:`fit_diffusion`).
        n: records to generate.
        sampler: ``"ddim"`` or ``"ddpm"``.
        steps: DDIM's number of denoising steps, at most T.
        clip: clamp each predicted x̂₀ to [−clip, clip], the data's range (1 for images in
            [−1, 1]); None for unbounded data such as standardised rows.
        seed: seed of the noise.
        device: where to compute; the model is left where it was.

    Example:
        >>> from mialab import models
        >>> model = models.denoiser(4, hidden=16, steps=100)
        >>> diffusion_sample(model, 3, steps=10, clip=1.0).shape
        (3, 4)
    """
    alpha_bar = alpha_bar_of(model)
    n = positive_int(n, "n")
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    steps = positive_int(steps, "steps")
    if steps > len(alpha_bar):
        raise ValueError(f"steps must be at most the model's {len(alpha_bar)} noise levels")
    if clip is not None:
        clip = positive_number(clip, "clip")
    device = resolve_device(device)
    randomness = torch.Generator().manual_seed(seed_value(seed))
    dtype = model_dtype(model)
    width = input_width(model)
    if width is None:
        raise TypeError("model's first layer must be an nn.Linear taking the records' features")
    x = torch.randn(n, width, generator=randomness, dtype=dtype)
    with on_device(device, model, back_home=True), evaluating(model):
        x = x.to(device)
        if sampler == "ddim":
            levels = np.linspace(len(alpha_bar) - 1, 0, steps).round().astype(int)
            for t, t_next in zip(levels, [*levels[1:], -1], strict=True):
                x = ddim_step(model, x, int(t), int(t_next), clip=clip)
            return x.double().cpu().numpy()
        a_bar = alpha_bar.to(device, dtype)
        a_prev = torch.cat([torch.ones(1, dtype=dtype, device=device), a_bar[:-1]])
        beta = 1 - a_bar / a_prev
        for t in range(len(a_bar) - 1, -1, -1):
            x0 = ddim_step(model, x, t, -1, clip=clip)  # x̂₀
            x = (a_prev[t].sqrt() * beta[t] * x0 + (1 - beta[t]).sqrt() * (1 - a_prev[t]) * x) / (
                1 - a_bar[t]
            )
            if t > 0:
                z = torch.randn(x.shape, generator=randomness, dtype=dtype)
                x = x + beta[t].sqrt() * z.to(device)
        return x.double().cpu().numpy()
