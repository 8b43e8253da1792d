"""GANs: train a generator and its discriminator (``fit_gan``), draw rows (``sample``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from mialab._checks import positive_int, seed_value
from mialab.data import features
from mialab.models import latent_dim
from mialab.training.checks import rows_for
from mialab.training.loop import (
    batches,
    check_finite,
    check_weights,
    evaluating,
    learning_rate,
    model_device,
    model_dtype,
    on_device,
    resolve_device,
    seeded,
    step,
    tqdm_disable,
)

__all__ = ["fit_gan", "gan_rows", "sample"]


def fit_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    data,
    *,
    epochs: int = 200,
    batch_size: int = 64,
    lr: float = 2e-4,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
) -> tuple[nn.Module, nn.Module]:
    """Train a GAN in place (non-saturating loss, Adam with β₁ = 0.5), seeded.

    Each step updates the discriminator on a batch of real rows and as many generated ones, then
    the generator to make its samples look real. Train for more epochs to watch it memorise
    (lesson 03).

    Args:
        generator: maps ``(batch, latent_dim)`` noise to rows; its first layer's ``in_features``
            gives ``latent_dim``.
        discriminator: maps rows to one logit each.
        data: a :class:`~mialab.data.Dataset` or ``(X, labels)`` (labels are ignored), or an
            array X.
        epochs, batch_size, lr: training schedule.
        seed: seed of the shuffling and the noise; torch's global random state is left as it was.
        device: where to train (see :func:`resolve_device`); both come back on the CPU.
        progress: show a progress bar (None: on a terminal or in a notebook only).

    Returns:
        ``(generator, discriminator)``, trained, on the CPU, in eval mode.

    Example:
        >>> from mialab import data, models
        >>> g, d = models.gan(64)
        >>> g, d = fit_gan(g, d, data.load("digits").subset(range(64)), epochs=1)
        >>> sample(g, 2).shape
        (2, 64)
    """
    for name, module in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    X = features(data, "data")
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    lr = learning_rate(lr, generator)
    learning_rate(lr, discriminator)  # the same lr trains both: each dtype must hold it
    seed = seed_value(seed)
    device = resolve_device(device)
    disable = tqdm_disable(progress)
    noise_width = latent_dim(generator)
    X_t = gan_rows(generator, discriminator, X, "data")
    with on_device(device, generator, discriminator):
        X_t = X_t.to(device)
        opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
        bce = nn.BCEWithLogitsLoss()
        generator.train()
        discriminator.train()
        randomness = torch.Generator().manual_seed(seed)  # the batches and the noise
        with seeded(seed, device):
            for _ in tqdm(range(epochs), desc="training GAN", disable=disable, leave=False):
                for batch in batches(len(X_t), batch_size, generator=randomness):
                    real = X_t[batch.to(device)]
                    noise = torch.randn(len(real), noise_width, dtype=real.dtype,
                                        generator=randomness)  # fmt: skip
                    fake = generator(noise.to(device))
                    opt_d.zero_grad()
                    d_loss = bce(discriminator(real), torch.ones_like(real[:, :1])) + bce(
                        discriminator(fake.detach()), torch.zeros_like(real[:, :1])
                    )
                    check_finite(d_loss, lr)
                    d_loss.backward()
                    step(opt_d, lr)
                    opt_g.zero_grad()
                    g_loss = bce(discriminator(fake), torch.ones_like(real[:, :1]))
                    check_finite(g_loss, lr)
                    g_loss.backward()
                    step(opt_g, lr)
                check_weights([*generator.parameters(), *discriminator.parameters()], lr)
    return generator.eval(), discriminator.eval()


def gan_rows(generator: nn.Module, discriminator: nn.Module, X: np.ndarray, name: str):
    """``X`` as a CPU tensor in the discriminator's dtype, checked against both networks: the
    generator makes rows of X's width and the discriminator maps a row to one logit."""
    X_t = rows_for(discriminator, X, f"{name} X")
    noise = torch.zeros(1, latent_dim(generator), dtype=model_dtype(generator))
    try:
        with evaluating(generator, discriminator):
            fake = generator(noise.to(model_device(generator)))
            if fake.shape != (1, X.shape[1]):
                raise ValueError(
                    f"generator makes rows of shape {tuple(fake.shape[1:])}, {name} has "
                    f"{X.shape[1]} features"
                )
            score = discriminator(X_t[:1].to(model_device(discriminator)))
    except RuntimeError as error:
        raise ValueError(f"{name} X does not fit the discriminator: {error}") from None
    if score.shape != (1, 1):
        raise ValueError(
            f"discriminator must map each row to one logit, got shape {tuple(score.shape[1:])}"
        )
    return X_t


def sample(generator: nn.Module, n: int, *, seed: int = 0, device="cpu") -> np.ndarray:
    """``n`` rows from a generator, as a float64 NumPy array (eval mode, no gradients, seeded).

    The noise is drawn on the CPU, so a seed gives the same noise on every ``device``; the
    generator is left where it was.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> g, _ = models.gan(5, latent_dim=3)
        >>> np.array_equal(sample(g, 4, seed=1), sample(g, 4, seed=1))
        True
    """
    if not isinstance(generator, nn.Module):
        raise TypeError(f"generator must be a torch.nn.Module, got {type(generator).__name__}")
    n = positive_int(n, "n")
    device = resolve_device(device)
    noise = torch.randn(
        n,
        latent_dim(generator),
        generator=torch.Generator().manual_seed(seed_value(seed)),
        dtype=model_dtype(generator),
    )
    with on_device(device, generator, back_home=True), evaluating(generator):
        return generator(noise.to(device)).double().cpu().numpy()
