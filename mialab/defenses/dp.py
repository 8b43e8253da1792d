"""Differentially private training with DP-SGD through Opacus (lesson 05).

DP-SGD (Abadi et al. 2016) clips each example's gradient to ``max_grad_norm`` and adds Gaussian
noise to the sum; Opacus does both, samples each batch by Poisson sampling (each record joins a
step with probability batch_size / n) and finds the noise that reaches ``target_epsilon`` after
``epochs`` with its accountant. The ε returned is the accountant's own figure for the whole run.
The privacy settings are one :class:`DPSettings`, given as ``privacy=`` to :func:`fit_private`,
:func:`fit_private_gan`, :func:`fit_private_lm` and :func:`fit_private_diffusion`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from dataclasses import dataclass

import torch
from opacus import PrivacyEngine
from opacus.accountants.utils import get_noise_multiplier
from opacus.validators import ModuleValidator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from mialab import training
from mialab._checks import is_number, positive_int, positive_number, real_number, seed_value
from mialab.data import arrays, features
from mialab.models import alpha_bar_of, denoising_loss, latent_dim
from mialab.training.checks import (
    char_lm,
    check_labels_fit,
    not_a_language_model,
    rows_for,
    two_columns,
)
from mialab.training.diffusion import timesteps_and_noise
from mialab.training.gans import gan_rows
from mialab.training.huggingface import (
    encode,
    next_token_logits,
    next_token_targets,
    padded,
    trainable,
)
from mialab.training.loop import (
    check_finite,
    check_weights,
    learning_rate,
    on_device,
    resolve_device,
    step,
    tqdm_disable,
)

__all__ = [
    "DPSettings",
    "check_private",
    "fit_private",
    "fit_private_diffusion",
    "fit_private_gan",
    "fit_private_hf_lm",
    "fit_private_lm",
]

ACCOUNTANTS = ("prv", "rdp")
# Above this ε the guarantee bounds nothing (e^100 ≈ 2.7e43), and Opacus' noise search slows to
# minutes (the PRV accountant's grid grows with ε: 42 s for one step of the search at ε = 1000).
MAX_EPSILON = 100.0
GRAD_SAMPLE_MODES = ("hooks", "functorch", "ew")


@dataclass(frozen=True)
class DPSettings:
    """The privacy of a DP-SGD run: give ``target_epsilon`` or ``noise_multiplier``, not both.

    Args:
        target_epsilon: ε to reach after the run's epochs, in (0, 100]; Opacus finds the noise.
            ``math.inf`` trains without DP at all (the plain loop of :mod:`mialab.training`, with
            the same optimiser and epochs), so an ε sweep can include its non-private end.
        delta: δ in (0, 1); keep it below 1/n.
        max_grad_norm: C, the bound on each example's gradient norm.
        accountant: ``"prv"`` (Gopi et al. 2021, tight) or ``"rdp"`` (Mironov 2017).
        noise_multiplier: σ, the noise's standard deviation in units of C, instead of a target:
            the ε reported is the accountant's for it. ``0`` is the clipped, noise-free twin of a
            DP run (same Poisson batches, same clipping, no noise; ε is infinite), which isolates
            what the noise does.

    Example:
        >>> DPSettings(target_epsilon=2.0)
        DPSettings(target_epsilon=2.0, delta=1e-05, max_grad_norm=1.0, accountant='prv', noise_multiplier=None)
        >>> DPSettings(noise_multiplier=0).private
        False
    """  # noqa: E501

    target_epsilon: float | None = None
    delta: float = 1e-5
    max_grad_norm: float = 1.0
    accountant: str = "prv"
    noise_multiplier: float | None = None

    def __post_init__(self):
        if (self.target_epsilon is None) == (self.noise_multiplier is None):
            raise ValueError("give exactly one of target_epsilon and noise_multiplier")
        if self.target_epsilon is not None:
            self._set("target_epsilon", _target_epsilon(self.target_epsilon))
        else:
            self._set(
                "noise_multiplier", real_number(self.noise_multiplier, "noise_multiplier", low=0.0)
            )
        if not is_number(self.delta):
            raise TypeError(f"delta must be a number, got {type(self.delta).__name__}")
        if not 0 < self.delta < 1:
            raise ValueError(f"delta must lie in (0, 1) (keep it below 1/n), got {self.delta}")
        self._set("delta", float(self.delta))
        self._set("max_grad_norm", positive_number(self.max_grad_norm, "max_grad_norm"))
        if not isinstance(self.accountant, str) or self.accountant not in ACCOUNTANTS:
            raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {self.accountant!r}")

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)

    @property
    def private(self) -> bool:
        """Whether the run is DP at all, i.e. adds noise (a finite ε or a noise multiplier > 0)."""
        if self.target_epsilon is not None:
            return self.target_epsilon != math.inf
        return self.noise_multiplier > 0


def _target_epsilon(value) -> float:
    if is_number(value) and value == math.inf:
        return math.inf  # np.float32(inf) too: train without DP
    value = positive_number(value, "target_epsilon")
    if value > MAX_EPSILON:
        raise ValueError(
            f"target_epsilon must be at most {MAX_EPSILON:g}, got {value:g}: a guarantee of "
            "e^100 bounds nothing, and the noise search for it runs for minutes; "
            "DPSettings(target_epsilon=math.inf) trains without DP (same optimiser and epochs)"
        )
    return value


def _privacy(privacy) -> DPSettings:
    if not isinstance(privacy, DPSettings):
        raise TypeError(
            "privacy must be a mialab.defenses.dp.DPSettings, e.g. DPSettings(target_epsilon=2.0), "
            f"got {type(privacy).__name__}"
        )
    return privacy


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


def _make_private(module, optimizer, dataset, *, privacy: DPSettings, epochs, batch_size,
                  grad_sample_mode, seed, device):  # fmt: skip
    """Opacus' module, optimiser and Poisson loader for a run with ``privacy``'s noise."""
    sampling = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size, generator=sampling)
    if privacy.noise_multiplier is None:
        # Opacus' own rule (make_private_with_epsilon): Poisson rate 1 / batches per epoch.
        sigma = _noise_multiplier(privacy.target_epsilon, privacy.delta, 1 / len(loader), epochs,
                                  privacy.accountant)  # fmt: skip
    else:
        sigma = privacy.noise_multiplier
    module.train()
    engine = PrivacyEngine(accountant=privacy.accountant)
    private, optimizer, loader = engine.make_private(
        module=module,
        optimizer=optimizer,
        data_loader=loader,
        noise_multiplier=sigma,
        max_grad_norm=privacy.max_grad_norm,
        # On the device the gradients are on (Opacus draws the noise there).
        noise_generator=torch.Generator(device=device).manual_seed(seed + 1),
        grad_sample_mode=grad_sample_mode,
    )
    return private, optimizer, loader, engine


def _epsilon(engine: PrivacyEngine, privacy: DPSettings) -> float:
    """The accountant's ε for the run; infinite for the noise-free twin."""
    return float(engine.get_epsilon(privacy.delta)) if privacy.private else math.inf


def _classifier_loss(model, X_batch, y_batch) -> torch.Tensor:
    return nn.functional.cross_entropy(two_columns(model(X_batch)), y_batch)


def _empty_loss(private, inputs, *rest) -> torch.Tensor:
    """Zero, with a graph through the model: the loss of an empty batch (no per-example grads)."""
    return private(inputs).sum()


def _train_private(model, dataset, batch_loss, *, privacy, epochs, batch_size, lr,
                   grad_sample_mode, seed, device, desc, disable,
                   empty_loss=_empty_loss) -> float:  # fmt: skip
    """DP-SGD with Adam on ``device``: ``batch_loss(private_model, *batch)`` each step; returns
    the ε spent. An empty Poisson draw still takes its step (``empty_loss``: zero, with a graph
    through the model): the clipped sum of no gradients is zero, so the step adds the noise only
    (skipping it would reveal that the draw was empty)."""
    with _quiet_opacus(), on_device(device, model):
        private, optimizer, loader, engine = _make_private(
            model, torch.optim.Adam(model.parameters(), lr=lr), dataset, privacy=privacy,
            epochs=epochs, batch_size=batch_size, grad_sample_mode=grad_sample_mode, seed=seed,
            device=device,
        )  # fmt: skip
        for _ in tqdm(range(epochs), desc=desc, disable=disable, leave=False):
            for batch in loader:
                batch = [tensor.to(device) for tensor in batch]
                optimizer.zero_grad(set_to_none=True)
                if len(batch[0]):
                    loss = batch_loss(private, *batch)
                else:
                    loss = empty_loss(private, *batch)
                check_finite(loss, lr)
                loss.backward()
                step(optimizer, lr)
        private.to_standard_module()  # Opacus' hooks removed: an ordinary model again
        check_weights(model.parameters(), lr)
        return _epsilon(engine, privacy)


def _mean_over_texts(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy averaged over each text's own tokens, then over the texts.

    DP-SGD needs each text's gradient to depend on that text alone: Opacus multiplies the
    gradient of a batch mean by the batch size to get each text's, then clips it. A mean over
    all the batch's tokens would weight a text by its share of them, a share set by the other
    texts, so adding or removing one text would rescale every other text's gradient and the
    sensitivity behind ε would not be the clipping norm. ``targets`` holds -100 after a text's
    end (every text has at least one target).

    Example:
        >>> import torch
        >>> logits = torch.zeros(2, 3, 4)  # two texts, uniform over 4 tokens
        >>> round(float(_mean_over_texts(logits, torch.tensor([[1, 2, -100], [3, 0, 1]]))), 4)
        1.3863
    """
    losses = nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
        ignore_index=-100, reduction="none",
    ).reshape(targets.shape)  # fmt: skip
    return (losses.sum(1) / (targets != -100).sum(1)).mean()


def check_private(model: nn.Module) -> None:
    """Raise a ValueError naming the first layer Opacus cannot train privately.

    Example:
        >>> from torch import nn
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
        mode = layer.training
        layer.train()  # DP-SGD trains in train mode: a model in eval mode is no error here
        try:
            errors = ModuleValidator.validate(layer, strict=False)
        finally:
            layer.train(mode)
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
    privacy: DPSettings,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    grad_sample_mode: str = "hooks",
    device="cpu",
    progress: bool | None = None,
) -> tuple[nn.Module, float]:
    """Train ``model`` in place with DP-SGD (Adam as the update rule) to (ε, δ)-DP.

    Args:
        model: a torch module Opacus supports (:func:`check_private`).
        data: a :class:`~mialab.data.Dataset` or a tuple ``(X, labels)``.
        privacy: the :class:`DPSettings` (ε or noise multiplier, δ, C, accountant).
        epochs: passes over the data (in expectation: batches are Poisson-sampled).
        batch_size: expected batch size; the sampling rate is batch_size / n.
        lr: Adam's learning rate.
        seed: seeds the batch sampling and the noise; same seed, same model.
        grad_sample_mode: how Opacus gets per-example gradients (``"hooks"``, ``"functorch"``,
            ``"ew"``).
        device: where to train (see :func:`mialab.training.resolve_device`); the model comes
            back on the CPU. The noise is drawn on the device, so a seed gives other noise on a
            GPU than on the CPU.
        progress: show a progress bar (None: on a terminal or in a notebook only).

    Returns:
        ``(model, epsilon)``, the trained model (the object passed in), in eval mode, and the ε
        the accountant reports for the run (infinite without noise).

    Example:
        >>> import mialab as ml
        >>> digits = ml.data.load("digits").subset(range(300))
        >>> model, epsilon = fit_private(ml.models.mlp(64, 10), digits,
        ...                              privacy=DPSettings(target_epsilon=2.0), epochs=2)
        >>> round(epsilon, 1)
        2.0
    """
    check_private(model)
    privacy = _privacy(privacy)
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr, seed = positive_number(lr, "lr"), seed_value(seed)
    if grad_sample_mode not in GRAD_SAMPLE_MODES:
        raise ValueError(
            f"grad_sample_mode must be one of {GRAD_SAMPLE_MODES}, got {grad_sample_mode!r}"
        )
    device, disable = resolve_device(device), tqdm_disable(progress)
    not_a_language_model(model)
    learning_rate(lr, model)
    X, labels = arrays(data, "data")
    X_t = rows_for(model, X, "data X")  # in the model's dtype, width checked
    check_labels_fit(model, X_t, labels, "data")
    if privacy.target_epsilon == math.inf:
        training.fit(model, (X, labels), epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                     device=device, progress=progress)  # fmt: skip
        return model, math.inf
    epsilon = _train_private(
        model, TensorDataset(X_t, torch.from_numpy(labels).long()), _classifier_loss,
        privacy=privacy, epochs=epochs, batch_size=batch_size, lr=lr,
        grad_sample_mode=grad_sample_mode, seed=seed, device=device, desc="training with DP-SGD",
        disable=disable,
    )  # fmt: skip
    return model.eval(), epsilon


def fit_private_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    data,
    *,
    privacy: DPSettings,
    epochs: int = 200,
    batch_size: int = 64,
    lr: float = 2e-4,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
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

    ``data`` is a :class:`~mialab.data.Dataset`, ``(X, labels)`` (labels ignored) or an array X;
    ``privacy``, ``device`` and ``progress`` as in :func:`fit_private`.

    Returns:
        ``(generator, discriminator, epsilon)``, trained, on the CPU, in eval mode; ε is the
        accountant's figure for the steps taken at the Poisson rate used.

    Example:
        >>> import mialab as ml
        >>> g, d = ml.models.gan(64)
        >>> g, d, epsilon = fit_private_gan(g, d, ml.data.load("digits").subset(range(256)),
        ...                                 privacy=DPSettings(target_epsilon=4.0), epochs=2)
        >>> round(epsilon, 1)
        4.0
    """
    for name, module in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be a torch nn.Module, got {type(module).__name__}")
    check_private(discriminator)
    privacy = _privacy(privacy)
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr, seed = positive_number(lr, "lr"), seed_value(seed)
    device, disable = resolve_device(device), tqdm_disable(progress)
    learning_rate(lr, generator)
    learning_rate(lr, discriminator)
    # An array X, a Dataset or (X, labels), as fit_gan takes; X in the discriminator's dtype.
    X = gan_rows(generator, discriminator, features(data, "data"), "data")
    if privacy.target_epsilon == math.inf:
        generator, discriminator = training.fit_gan(
            generator, discriminator, data, epochs=epochs, batch_size=batch_size, lr=lr,
            seed=seed, device=device, progress=progress,
        )  # fmt: skip
        return generator, discriminator, math.inf
    noise_width = latent_dim(generator)
    noise = torch.Generator().manual_seed(seed + 2)  # the generator's input, drawn on the CPU
    with _quiet_opacus(), on_device(device, generator, discriminator):
        opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
        generator.train()
        private, opt_d, loader, engine = _make_private(
            discriminator,
            torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999)),
            TensorDataset(X), privacy=privacy, epochs=epochs, batch_size=batch_size,
            grad_sample_mode="hooks", seed=seed, device=device,
        )  # fmt: skip
        # A fixed count, not len(real): how many records the Poisson draw picked is private too.
        n_fake = max(1, opt_d.expected_batch_size)
        for _ in tqdm(range(epochs), desc="training GAN with DP-SGD", disable=disable, leave=False):
            for (real,) in loader:  # an empty draw still takes its (noise-only) step
                latent = torch.randn(n_fake, noise_width, dtype=X.dtype, generator=noise)
                fake = generator(latent.to(device))
                _private_discriminator_step(private, opt_d, real.to(device), fake.detach(), lr)
                private.disable_hooks()  # the generator's step needs no per-example gradients
                opt_g.zero_grad(set_to_none=True)
                g_loss = _BCE(private(fake), torch.ones_like(fake[:, :1]))
                check_finite(g_loss, lr)
                g_loss.backward()
                step(opt_g, lr)
                private.enable_hooks()
        private.to_standard_module()
        check_weights([*generator.parameters(), *discriminator.parameters()], lr)
        epsilon = _epsilon(engine, privacy)
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
    privacy: DPSettings,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
) -> tuple[nn.Module, float]:
    """Train a character language model (:func:`mialab.models.char_lm`) with DP-SGD.

    A text is the unit of privacy: each text's gradient is clipped to ``max_grad_norm`` and the
    noise is calibrated to ``target_epsilon`` over ``epochs`` (Poisson-sampled batches of texts).
    A canary repeated k times is k texts, so its protection is that of a group of k: k·ε, with
    δ grown to δ·(1 + e^ε + … + e^((k−1)ε)), no bound at all once that reaches 1 (as for lesson
    06's repeated canaries at ε = 8; the lesson measures their exposure). ``privacy``,
    ``device`` and ``progress`` as in :func:`fit_private`; ``DPSettings(noise_multiplier=0)``
    gives the clipped, noise-free twin of a DP run.

    Returns:
        ``(model, epsilon)``, the model on the CPU, in eval mode.

    Example:
        >>> from mialab import models
        >>> lm, epsilon = fit_private_lm(models.char_lm("\\nab"), ["ab", "ba"] * 20,
        ...                              privacy=DPSettings(target_epsilon=4.0), epochs=2)
        >>> round(epsilon, 1)
        4.0
    """
    char_lm(model)
    check_private(model)
    privacy = _privacy(privacy)
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr, seed = positive_number(lr, "lr"), seed_value(seed)
    device, disable = resolve_device(device), tqdm_disable(progress)
    if privacy.target_epsilon == math.inf:
        model = training.fit_lm(model, texts, epochs=epochs, batch_size=batch_size, lr=lr,
                                seed=seed, device=device, progress=progress)  # fmt: skip
        return model, math.inf
    tokens, targets = model.encode(texts)
    learning_rate(lr, model)

    def batch_loss(private, tokens, targets):
        return _mean_over_texts(private(tokens), targets)

    epsilon = _train_private(
        model, TensorDataset(tokens, targets), batch_loss, privacy=privacy, epochs=epochs,
        batch_size=batch_size, lr=lr, grad_sample_mode="hooks", seed=seed, device=device,
        desc="training language model with DP-SGD", disable=disable,
    )  # fmt: skip
    return model.eval(), epsilon


def fit_private_hf_lm(
    model: nn.Module,
    tokenizer,
    texts,
    *,
    privacy: DPSettings,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
) -> tuple[nn.Module, float]:
    """Train or fine-tune a Hugging Face causal LM with DP-SGD, a text as the unit of privacy.

    As :func:`mialab.training.fit_hf_lm` (``bos + text + eos``, the parameters that require
    gradients), with each text's gradient clipped to ``max_grad_norm`` and noise calibrated to
    ``target_epsilon`` over ``epochs`` of Poisson-sampled batches; ``privacy``, ``device`` and
    ``progress`` as in :func:`fit_private`. Positions are passed to the model per text
    (``position_ids``), which Opacus needs to give a position embedding per-example gradients;
    a model that takes no ``position_ids`` (BLOOM's ALiBi, say) is refused by its own forward.
    Fine-tuning a pretrained model this way protects the fine-tuning texts only.

    Returns:
        ``(model, epsilon)``, the model on the CPU, in eval mode.

    Example:
        >>> from mialab import models, training
        >>> tokenizer = training.train_tokenizer(["ab ab", "ba ba"], vocab_size=260)
        >>> lm, epsilon = fit_private_hf_lm(models.tiny_gpt2(tokenizer), tokenizer,
        ...                                 ["ab ab", "ba ba"] * 20,
        ...                                 privacy=DPSettings(target_epsilon=4.0), epochs=2)
        >>> round(epsilon, 1)
        4.0
    """
    rows = encode(model, tokenizer, texts, end=True)
    check_private(model)
    trainable(model)
    privacy = _privacy(privacy)
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr, seed = positive_number(lr, "lr"), seed_value(seed)
    device, disable = resolve_device(device), tqdm_disable(progress)
    learning_rate(lr, model)
    if privacy.target_epsilon == math.inf:
        model = training.fit_hf_lm(model, tokenizer, texts, epochs=epochs, batch_size=batch_size,
                                   lr=lr, seed=seed, device=device, progress=progress)  # fmt: skip
        return model, math.inf

    def batch_loss(private, ids, mask):
        width = int(mask.sum(1).max())  # no column of padding only
        ids, mask = ids[:, :width], mask[:, :width]
        logits = next_token_logits(_positioned(private), ids, mask)
        return _mean_over_texts(logits, next_token_targets(ids, mask))

    def empty_loss(private, ids, mask):
        # GPT-2 cannot run an empty batch: one all-zero row whose loss is multiplied by 0
        # contributes a zero per-example gradient, so the step adds the noise only.
        dummy = torch.zeros(1, 2, dtype=torch.long, device=ids.device)
        return batch_loss(private, dummy, torch.ones_like(dummy)) * 0

    epsilon = _train_private(
        model, TensorDataset(*padded(rows)), batch_loss, privacy=privacy, epochs=epochs,
        batch_size=batch_size, lr=lr, grad_sample_mode="hooks", seed=seed, device=device,
        desc="training language model with DP-SGD", disable=disable, empty_loss=empty_loss,
    )  # fmt: skip
    return model.eval(), epsilon


def _positioned(private):
    """``private`` called with a position per token of every row, not one row shared by the
    batch (``position_ids`` of shape ``(batch, length)``)."""

    def forward(input_ids, attention_mask):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return private(input_ids=input_ids, attention_mask=attention_mask,
                       position_ids=positions.expand_as(input_ids))  # fmt: skip

    return forward


def fit_private_diffusion(
    model: nn.Module,
    data,
    *,
    privacy: DPSettings,
    epochs: int = 300,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
) -> tuple[nn.Module, float]:
    """Train a diffusion denoiser (:func:`mialab.models.denoiser`) with DP-SGD, in place.

    A record is the unit of privacy: each step draws, for every record of a Poisson-sampled
    batch, a timestep and noise (from ``seed``, independent of the data), and the record's
    gradient of its denoising loss is clipped to ``max_grad_norm`` before the noise is added;
    otherwise as :func:`mialab.training.fit_diffusion`. ``data``, ``privacy``, ``device`` and
    ``progress`` as in :func:`fit_private`.

    Returns:
        ``(model, epsilon)``, the model on the CPU, in eval mode.

    Example:
        >>> from mialab import models
        >>> model, epsilon = fit_private_diffusion(
        ...     models.denoiser(4, hidden=16), [[0.0] * 4] * 64,
        ...     privacy=DPSettings(target_epsilon=4.0), epochs=2)
        >>> round(epsilon, 1)
        4.0
    """
    check_private(model)
    privacy = _privacy(privacy)
    steps = len(alpha_bar_of(model))
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr, seed = positive_number(lr, "lr"), seed_value(seed)
    device, disable = resolve_device(device), tqdm_disable(progress)
    learning_rate(lr, model)
    X = rows_for(model, features(data, "data"), "data X")
    if privacy.target_epsilon == math.inf:
        model = training.fit_diffusion(model, data, epochs=epochs, batch_size=batch_size, lr=lr,
                                       seed=seed, device=device, progress=progress)  # fmt: skip
        return model, math.inf
    randomness = torch.Generator().manual_seed(seed + 2)  # timesteps and noise, on the CPU

    def batch_loss(private, x0):
        return denoising_loss(private, x0, *timesteps_and_noise(x0, steps, randomness)).mean()

    def empty_loss(private, x0):
        return private(x0, torch.zeros(0, dtype=torch.long, device=x0.device)).sum()

    epsilon = _train_private(
        model, TensorDataset(X), batch_loss, privacy=privacy, epochs=epochs,
        batch_size=batch_size, lr=lr, grad_sample_mode="hooks", seed=seed, device=device,
        desc="training diffusion model with DP-SGD", disable=disable, empty_loss=empty_loss,
    )  # fmt: skip
    return model.eval(), epsilon
