"""Differentially private training with DP-SGD through Opacus (lesson 05).

DP-SGD (Abadi et al. 2016) clips each example's gradient to ``max_grad_norm`` and adds Gaussian
noise to the sum; Opacus does both, samples each batch by Poisson sampling (each record joins a
step with probability batch_size / n) and finds the noise that reaches ``target_epsilon`` after
``epochs`` with its accountant. The ε returned is the accountant's own figure for the whole run.
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings

import torch
from opacus import PrivacyEngine
from opacus.accountants.utils import get_noise_multiplier
from opacus.validators import ModuleValidator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mialab import training
from mialab._checks import is_number, positive_int, positive_number, seed_value
from mialab.data import arrays, features
from mialab.models import CharLM, latent_dim, sequence_loss
from mialab.training.checks import check_labels_fit, not_a_language_model, rows_for, two_columns
from mialab.training.gans import gan_rows
from mialab.training.loop import check_finite, check_weights, learning_rate, step

__all__ = ["check_private", "fit_private", "fit_private_gan", "fit_private_lm"]

ACCOUNTANTS = ("prv", "rdp")
# Above this ε the guarantee bounds nothing (e^100 ≈ 2.7e43), and Opacus' noise search slows to
# minutes (the PRV accountant's grid grows with ε: 42 s for one step of the search at ε = 1000).
MAX_EPSILON = 100.0
GRAD_SAMPLE_MODES = ("hooks", "functorch", "ew")


@contextlib.contextmanager
def _quiet_opacus():
    # Seeded generators are the point here (same seed, same model); Opacus warns that they are
    # not cryptographically secure, which matters for a production release only.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield


@functools.lru_cache(maxsize=256)
def _noise_multiplier(target_epsilon, delta, sample_rate, epochs, accountant) -> float:
    """Opacus' search for the noise that reaches ε, remembered: reference models repeat it."""
    return get_noise_multiplier(
        target_epsilon=target_epsilon,
        target_delta=delta,
        sample_rate=sample_rate,
        epochs=epochs,
        accountant=accountant,
    )


def _make_private(module, optimizer, dataset, *, target_epsilon, delta, epochs, max_grad_norm,
                  batch_size, accountant, grad_sample_mode, seed):  # fmt: skip
    """Opacus' module, optimiser and Poisson loader for a run that reaches ``target_epsilon``."""
    sampling = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size, generator=sampling)
    module.train()
    engine = PrivacyEngine(accountant=accountant)
    private, optimizer, loader = engine.make_private(
        module=module,
        optimizer=optimizer,
        data_loader=loader,
        # Opacus' own rule (make_private_with_epsilon): Poisson rate 1 / batches per epoch.
        noise_multiplier=_noise_multiplier(
            target_epsilon, delta, 1 / len(loader), epochs, accountant
        ),
        max_grad_norm=max_grad_norm,
        noise_generator=torch.Generator().manual_seed(seed + 1),
        grad_sample_mode=grad_sample_mode,
    )
    return private, optimizer, loader, engine


def _classifier_loss(model, X_batch, y_batch) -> torch.Tensor:
    return nn.functional.cross_entropy(two_columns(model(X_batch)), y_batch)


def _train_private(model, dataset, batch_loss, *, lr, epochs, delta, **privacy) -> float:
    """DP-SGD with Adam: ``batch_loss(private_model, *batch)`` each step; returns the ε spent."""
    with _quiet_opacus():
        private, optimizer, loader, engine = _make_private(
            model, torch.optim.Adam(model.parameters(), lr=lr), dataset, epochs=epochs,
            delta=delta, **privacy,
        )  # fmt: skip
        for _ in range(epochs):
            for batch in loader:
                if len(batch[0]) == 0:  # Poisson sampling can draw an empty batch
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss = batch_loss(private, *batch)
                check_finite(loss, lr)
                loss.backward()
                step(optimizer, lr)
        private._close()  # remove Opacus' hooks: the module is an ordinary model again
        check_weights(model.parameters(), lr)
        return float(engine.get_epsilon(delta))


def _checked_settings(target_epsilon, delta, epochs, max_grad_norm, batch_size, lr, accountant,
                      grad_sample_mode, seed) -> tuple:  # fmt: skip
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    if grad_sample_mode not in GRAD_SAMPLE_MODES:
        raise ValueError(
            f"grad_sample_mode must be one of {GRAD_SAMPLE_MODES}, got {grad_sample_mode!r}"
        )
    if is_number(target_epsilon) and target_epsilon == math.inf:
        target_epsilon = math.inf  # np.float32(inf) too: train without noise
    else:
        target_epsilon = positive_number(target_epsilon, "target_epsilon")
        if target_epsilon > MAX_EPSILON:
            raise ValueError(
                f"target_epsilon must be at most {MAX_EPSILON:g}, got {target_epsilon:g}: a "
                "guarantee of e^100 bounds nothing, and the noise search for it runs for minutes; "
                "pass math.inf to train without noise (same optimiser and epochs)"
            )
    if not is_number(delta):
        raise TypeError(f"delta must be a number, got {type(delta).__name__}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must lie in (0, 1) (keep it below 1/n), got {delta}")
    return (
        target_epsilon,
        float(delta),
        positive_int(epochs, "epochs"),
        positive_number(max_grad_norm, "max_grad_norm"),
        positive_int(batch_size, "batch_size"),
        positive_number(lr, "lr"),
        seed_value(seed),
    )


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
    (:func:`mialab.training.fit`), so an ε sweep can include its non-private end. A finite ε may
    be at most ``MAX_EPSILON`` (100): beyond it the guarantee means nothing and Opacus' search
    for the noise takes minutes.

    Args:
        model: a torch module Opacus supports (:func:`check_private`).
        data: a :class:`~mialab.data.Dataset` or a tuple ``(X, y)``.
        target_epsilon: ε to reach after ``epochs``, in (0, 100], or ``math.inf``.
        delta: δ in (0, 1); keep it below 1/n.
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
    target_epsilon, delta, epochs, max_grad_norm, batch_size, lr, seed = _checked_settings(
        target_epsilon, delta, epochs, max_grad_norm, batch_size, lr, accountant,
        grad_sample_mode, seed,
    )  # fmt: skip
    not_a_language_model(model)
    learning_rate(lr, model)
    X, y = arrays(data, "data")
    X_t = rows_for(model, X, "data X")  # in the model's dtype, width checked
    check_labels_fit(model, X_t, y, "data")
    if target_epsilon == math.inf:
        training.fit(model, (X, y), epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                     progress=False)  # fmt: skip
        return model.eval(), math.inf
    X, y = X_t, torch.from_numpy(y).long()
    epsilon = _train_private(
        model, TensorDataset(X, y), _classifier_loss,
        target_epsilon=target_epsilon, delta=delta, epochs=epochs, max_grad_norm=max_grad_norm,
        batch_size=batch_size, lr=lr, accountant=accountant, grad_sample_mode=grad_sample_mode,
        seed=seed,
    )  # fmt: skip
    return model.eval(), epsilon


def fit_private_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    data,
    *,
    target_epsilon: float,
    delta: float = 1e-5,
    epochs: int = 200,
    max_grad_norm: float = 1.0,
    batch_size: int = 64,
    lr: float = 2e-4,
    accountant: str = "prv",
    seed: int = 0,
) -> tuple[nn.Module, nn.Module, float]:
    """Train a GAN with DP-SGD on the discriminator only (Xie et al. 2018), in place.

    Only the discriminator sees real records, so only its training needs the noise: the
    generator learns from the discriminator's outputs, and everything computed from a DP model
    is as private as the model (post-processing). Each step takes one Poisson-sampled batch of
    real rows; each real row's gradient is clipped to ``max_grad_norm`` and the sum gets the
    Gaussian noise, so adding or removing one record moves the noised sum by at most C, as the
    accountant assumes. The gradient of a fixed number of generated rows (the expected batch
    size) is then added without clipping or noise: it depends on the data only through the
    discriminator and generator of the previous step, which are already private. Otherwise as
    :func:`mialab.training.fit_gan` (loss on real rows plus loss on generated rows,
    non-saturating generator loss, Adam with β₁ = 0.5).

    ``data`` is a :class:`~mialab.data.Dataset`, ``(X, y)`` (labels ignored) or an array X.

    Returns:
        ``(generator, discriminator, epsilon)``, trained, in eval mode; ε is the accountant's
        figure for the steps taken at the Poisson rate used.

    Example:
        >>> import mialab as ml
        >>> g, d = ml.models.gan(64)
        >>> g, d, epsilon = fit_private_gan(g, d, ml.data.load("digits").subset(range(256)),
        ...                                 target_epsilon=4.0, epochs=2)
        >>> round(epsilon, 1)
        4.0
    """
    for name, module in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be a torch nn.Module, got {type(module).__name__}")
    check_private(discriminator)
    target_epsilon, delta, epochs, max_grad_norm, batch_size, lr, seed = _checked_settings(
        target_epsilon, delta, epochs, max_grad_norm, batch_size, lr, accountant, "hooks", seed
    )
    learning_rate(lr, generator)
    learning_rate(lr, discriminator)
    # An array X, a Dataset or (X, y), as fit_gan takes; X in the discriminator's dtype.
    X = gan_rows(generator, discriminator, features(data, "data"), "data")
    if target_epsilon == math.inf:
        generator, discriminator = training.fit_gan(
            generator, discriminator, data, epochs=epochs, batch_size=batch_size, lr=lr,
            seed=seed, progress=False,
        )  # fmt: skip
        return generator, discriminator, math.inf
    noise_width = latent_dim(generator)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    generator.train()
    with _quiet_opacus(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 2)  # the generator's noise
        private, opt_d, loader, engine = _make_private(
            discriminator,
            torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999)),
            TensorDataset(X), target_epsilon=target_epsilon, delta=delta, epochs=epochs,
            max_grad_norm=max_grad_norm, batch_size=batch_size, accountant=accountant,
            grad_sample_mode="hooks", seed=seed,
        )  # fmt: skip
        # A fixed count, not len(real): how many records the Poisson draw picked is private too.
        n_fake = max(1, opt_d.expected_batch_size)
        for _ in range(epochs):
            for (real,) in loader:  # an empty draw still takes its (noise-only) step
                fake = generator(torch.randn(n_fake, noise_width, dtype=X.dtype))
                _private_discriminator_step(private, opt_d, real, fake.detach(), lr)
                private.disable_hooks()  # the generator's step needs no per-example gradients
                opt_g.zero_grad(set_to_none=True)
                g_loss = _BCE(private(fake), torch.ones_like(fake[:, :1]))
                check_finite(g_loss, lr)
                g_loss.backward()
                step(opt_g, lr)
                private.enable_hooks()
        private._close()
        check_weights([*generator.parameters(), *discriminator.parameters()], lr)
        epsilon = float(engine.get_epsilon(delta))
    return generator.eval(), discriminator.eval(), epsilon


_BCE = nn.BCEWithLogitsLoss()


def _real_rows_loss(private, real) -> torch.Tensor:
    """Mean BCE of the real rows against "real"; 0 (with a graph) for an empty Poisson draw."""
    logits = private(real)
    loss = nn.functional.binary_cross_entropy_with_logits(
        logits, torch.ones_like(logits), reduction="sum"
    )
    return loss / max(len(real), 1)  # Opacus rescales a mean loss to per-example gradients


def _private_discriminator_step(private, opt_d, real, fake, lr) -> None:
    """One DP-SGD step of the discriminator of :func:`fit_private_gan`.

    Why this is (ε, δ)-DP with the ε the accountant reports: the only quantity of the step that
    reads the real records is ``opt_d.pre_step()``'s output, Σ_i clip_C(∇ℓ(real_i)) + N(0, σ²C²)
    over a Poisson-sampled batch. Adding or removing one record adds or removes one term of
    norm ≤ C, which is the sensitivity Opacus' accountant assumes (sampled Gaussian mechanism).
    The generated rows' gradient (a fixed number of rows, neither clipped nor noised) is a
    function of the current discriminator and generator, themselves outputs of earlier private
    steps, and of noise independent of the data: adding it is post-processing. Clipping the
    generated rows together with the real ones (as this function's earlier version did) lets one
    record move the clipped sum by up to 2C, since it also adds a generated row to the batch.
    """
    params = opt_d.params  # the trainable parameters, as the optimiser holds them
    private.disable_hooks()  # the generated rows' gradient: ordinary, no per-example copies
    fake_logits = private(fake)
    fake_loss = _BCE(fake_logits, torch.zeros_like(fake_logits))
    check_finite(fake_loss, lr)
    fake_grads = torch.autograd.grad(fake_loss, params)
    private.enable_hooks()
    opt_d.zero_grad(set_to_none=True)
    real_loss = _real_rows_loss(private, real)
    check_finite(real_loss, lr)
    real_loss.backward()  # per-example gradients of the real rows only
    if opt_d.pre_step():  # clip each real row to C, sum, add N(0, σ²C²), divide by the batch size
        with torch.no_grad():
            for p, g in zip(params, fake_grads, strict=True):
                p.grad.add_(g)
        step(opt_d.original_optimizer, lr)


def fit_private_lm(
    model: nn.Module,
    texts,
    *,
    target_epsilon: float,
    delta: float = 1e-5,
    epochs: int = 20,
    max_grad_norm: float = 1.0,
    batch_size: int = 32,
    lr: float = 3e-3,
    accountant: str = "prv",
    seed: int = 0,
) -> tuple[nn.Module, float]:
    """Train a character language model (:func:`mialab.models.char_lm`) with DP-SGD.

    A text is the unit of privacy: each text's gradient is clipped to ``max_grad_norm`` and the
    noise is calibrated to ``target_epsilon`` over ``epochs`` (Poisson-sampled batches of texts).
    A canary repeated k times is k texts, so its protection is that of a group of k: about k·ε
    (lesson 06 measures it). ``target_epsilon=math.inf`` trains without noise.

    Returns:
        ``(model, epsilon)``, the model in eval mode.

    Example:
        >>> from mialab import models
        >>> lm, epsilon = fit_private_lm(models.char_lm("\\nab"), ["ab", "ba"] * 20,
        ...                              target_epsilon=4.0, epochs=2)
        >>> round(epsilon, 1)
        4.0
    """
    if not isinstance(model, CharLM):
        raise TypeError(
            f"model must be a mialab CharLM (mialab.models.char_lm), got {type(model).__name__}"
        )
    check_private(model)
    target_epsilon, delta, epochs, max_grad_norm, batch_size, lr, seed = _checked_settings(
        target_epsilon, delta, epochs, max_grad_norm, batch_size, lr, accountant, "hooks", seed
    )
    if target_epsilon == math.inf:
        return training.fit_lm(model, texts, epochs=epochs, batch_size=batch_size, lr=lr,
                               seed=seed, progress=False), math.inf  # fmt: skip
    inputs, targets = model.encode(texts)
    learning_rate(lr, model)
    epsilon = _train_private(
        model, TensorDataset(inputs, targets), sequence_loss,
        target_epsilon=target_epsilon, delta=delta, epochs=epochs, max_grad_norm=max_grad_norm,
        batch_size=batch_size, lr=lr, accountant=accountant, grad_sample_mode="hooks", seed=seed,
    )  # fmt: skip
    return model.eval(), epsilon
