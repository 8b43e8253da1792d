"""Small models that train in seconds on a CPU.

The classifiers, the GAN and the diffusion denoiser take flat feature vectors, so they are called
the same way; the language model takes characters. None uses BatchNorm or in-place activations,
so DP-SGD (Opacus) can train every one of them unchanged (lessons 05, 06 and 08).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

from mialab._checks import boolean, hf_tokenizer, int_pair, positive_int, seed_value

__all__ = [
    "CharLM",
    "Denoiser",
    "alpha_bar_of",
    "char_lm",
    "cnn",
    "denoiser",
    "denoising_loss",
    "gan",
    "latent_dim",
    "mlp",
    "noise_schedule",
    "sequence_loss",
    "tiny_gpt2",
]


def _seeded(build, seed: int) -> nn.Module:
    """Build a module with initial weights drawn from ``seed``; torch's RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_value(seed))
        return build()


def mlp(
    n_features: int, n_classes: int, *, hidden: tuple[int, ...] = (128,), seed: int = 0
) -> nn.Sequential:
    """A multilayer perceptron with ReLU hidden layers; outputs logits.

    Args:
        n_features: input width.
        n_classes: number of output logits.
        hidden: width of each hidden layer; ``()`` gives logistic regression.
        seed: seed of the initial weights.

    Returns:
        An ``nn.Sequential`` mapping ``(n, n_features)`` to ``(n, n_classes)``.

    Example:
        >>> import torch
        >>> model = mlp(64, 10, hidden=(32,))
        >>> model(torch.zeros(5, 64)).shape
        torch.Size([5, 10])
    """
    widths = [positive_int(n_features, "n_features")]
    if not isinstance(hidden, (tuple, list)):
        raise TypeError(f"hidden must be a tuple of layer widths, got {type(hidden).__name__}")
    widths += [positive_int(w, "hidden") for w in hidden]
    n_classes = positive_int(n_classes, "n_classes")

    def build():
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], n_classes))
        return nn.Sequential(*layers)

    return _seeded(build, seed)


def cnn(
    n_classes: int,
    *,
    image_shape: tuple[int, int] = (8, 8),
    channels: tuple[int, int] = (16, 32),
    seed: int = 0,
) -> nn.Sequential:
    """A two-layer convolutional network for small grey images: rows or ``(h, w)`` images.

    Args:
        n_classes: number of output logits.
        image_shape: ``(height, width)`` of the images; rows have ``height * width`` features.
        channels: channels of the two 3×3 convolutions.
        seed: seed of the initial weights.

    Returns:
        An ``nn.Sequential`` mapping ``(n, height * width)``, ``(n, height, width)`` or
        ``(n, 1, height, width)`` to ``(n, n_classes)``.

    Example:
        >>> import torch
        >>> model = cnn(10)
        >>> model(torch.zeros(5, 64)).shape, model(torch.zeros(5, 8, 8)).shape
        (torch.Size([5, 10]), torch.Size([5, 10]))
    """
    n_classes = positive_int(n_classes, "n_classes")
    height, width = int_pair(image_shape, "image_shape")
    c1, c2 = int_pair(channels, "channels")

    def build():
        return nn.Sequential(
            nn.Flatten(),  # rows and images alike
            nn.Unflatten(1, (1, height, width)),
            nn.Conv2d(1, c1, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(4 * c2, n_classes),
        )

    return _seeded(build, seed)


def gan(
    n_features: int,
    *,
    latent_dim: int = 16,
    hidden: int = 128,
    bounded: bool = True,
    seed: int = 0,
) -> tuple[nn.Sequential, nn.Sequential]:
    """A small GAN: a generator and a discriminator, for images in [0, 1] or standardised rows.

    The generator maps ``latent_dim`` Gaussian noise to ``n_features`` values, squashed into
    (0, 1) by a sigmoid when ``bounded`` (digits) and left free otherwise (standardised tabular
    data such as breast_cancer); the discriminator maps a row to one logit (high = "real").
    Both are MLPs with one hidden layer of ``hidden`` LeakyReLU units; train them with
    :func:`mialab.training.fit_gan` (lesson 03).

    Args:
        n_features: width of a record.
        latent_dim: width of the generator's noise input.
        hidden: hidden units of each network.
        bounded: end the generator with a sigmoid (outputs in (0, 1)).
        seed: seed of the initial weights.

    Returns:
        ``(generator, discriminator)``.

    Example:
        >>> import torch
        >>> generator, discriminator = gan(64)
        >>> discriminator(generator(torch.zeros(3, 16))).shape
        torch.Size([3, 1])
    """
    n_features = positive_int(n_features, "n_features")
    latent_dim = positive_int(latent_dim, "latent_dim")
    hidden = positive_int(hidden, "hidden")
    bounded = boolean(bounded, "bounded")

    def build():
        generator = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, n_features),
            *([nn.Sigmoid()] if bounded else []),
        )
        discriminator = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )
        return generator, discriminator

    return _seeded(build, seed)


def latent_dim(generator: nn.Module) -> int:
    """The width of a generator's noise input: its first ``nn.Linear`` layer's ``in_features``.

    Example:
        >>> generator, _ = gan(64, latent_dim=8)
        >>> latent_dim(generator)
        8
    """
    if not isinstance(generator, nn.Module):
        raise TypeError(f"generator must be a torch.nn.Module, got {type(generator).__name__}")
    first = next((m for m in generator.modules() if isinstance(m, nn.Linear)), None)
    if first is None:
        raise TypeError("generator must start with an nn.Linear layer (its input is the noise)")
    return first.in_features


class _Block(nn.Module):
    """One pre-norm transformer block: causal self-attention, then a two-layer MLP."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = (
            t.reshape(batch, length, self.heads, width // self.heads).transpose(1, 2)
            for t in self.qkv(self.norm1(x)).split(width, dim=2)
        )
        attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, length, width))
        return x + self.mlp(self.norm2(x))


class CharLM(nn.Module):
    """A character-level language model: a small GPT-style transformer.

    Character and position embeddings, ``layers`` causal transformer blocks, a linear read-out.
    Its weights live in ``Embedding``, ``Linear`` and ``LayerNorm`` layers only (attention itself
    is the parameter-free ``scaled_dot_product_attention``), all of which Opacus computes
    per-example gradients for, so the same model trains with or without DP-SGD (lesson 06); and
    every position is computed at once, which a CPU does far faster than a recurrent network's
    character-by-character loop. Characters are numbered by their place in ``alphabet``; index
    ``len(alphabet)`` is padding. A newline marks both the start and the end of a text, so it
    must be in the alphabet. Texts longer than ``context`` characters are refused.
    """

    def __init__(self, alphabet: str, width: int, layers: int, heads: int, context: int):
        if (
            not isinstance(alphabet, str)
            or "\n" not in alphabet
            or len(set(alphabet)) != len(alphabet)
        ):
            raise ValueError("alphabet must be a string of distinct characters including a newline")
        width, layers = positive_int(width, "width"), positive_int(layers, "layers")
        heads, context = positive_int(heads, "heads"), positive_int(context, "context")
        if width % heads:
            raise ValueError(f"width ({width}) must be a multiple of heads ({heads})")
        super().__init__()
        self.alphabet, self.pad, self.context = alphabet, len(alphabet), context
        self.embed = nn.Embedding(len(alphabet) + 1, width)
        self.position = nn.Embedding(context, width)
        self.blocks = nn.Sequential(*(_Block(width, heads) for _ in range(layers)))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, len(alphabet))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(batch, length)`` character indices → ``(batch, length, len(alphabet))`` logits."""
        batch, length = tokens.shape
        if length > self.context:
            raise ValueError(f"tokens has {length} positions, more than context={self.context}")
        # Positions per row (not one shared row), so Opacus sees a batch dimension here too.
        positions = torch.arange(length, device=tokens.device).expand(batch, length)
        hidden = self.blocks(self.embed(tokens) + self.position(positions))
        return self.out(self.norm(hidden))

    def encode(self, texts, name: str = "texts") -> tuple[torch.Tensor, torch.Tensor]:
        """Texts as padded ``(tokens, targets)``: ``"\\n" + text + "\\n"``, targets shifted by one.

        ``tokens`` holds character indices (``pad`` after a text's end); ``targets`` the next
        character at each position, -100 (ignored by :func:`sequence_loss`) after the end.

        Args:
            texts: a non-empty list (tuple, 1-D array, pandas Series) of strings over the
                alphabet, each at most ``context - 1`` characters long.
            name: what to call ``texts`` in error messages.

        Example:
            >>> tokens, targets = char_lm("\\nab").encode(["ab", "b"])
            >>> tokens.tolist(), targets.tolist()
            ([[0, 1, 2], [0, 2, 3]], [[1, 2, 0], [2, 0, -100]])
        """
        if getattr(texts, "ndim", None) == 1:  # a numpy array or a pandas Series
            texts = list(texts)
        if isinstance(texts, str) or not isinstance(texts, Sequence) or not len(texts):
            raise TypeError(f"{name} must be a non-empty list of strings")
        index = {c: i for i, c in enumerate(self.alphabet)}
        rows = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{name}[{i}] must be a string, got {type(text).__name__}")
            unknown = set(text) - set(index)
            if unknown:
                raise ValueError(
                    f"{name}[{i}] has characters outside the alphabet: {sorted(unknown)}"
                )
            rows.append([index["\n"], *(index[c] for c in text), index["\n"]])
            if len(text) + 1 > self.context:
                raise ValueError(
                    f"{name}[{i}] has {len(text)} characters; the model reads at most "
                    f"{self.context - 1} (its context)"
                )
        width = max(len(r) for r in rows) - 1
        tokens = torch.full((len(rows), width), self.pad, dtype=torch.long)
        targets = torch.full((len(rows), width), -100, dtype=torch.long)
        for i, row in enumerate(rows):
            tokens[i, : len(row) - 1] = torch.tensor(row[:-1])
            targets[i, : len(row) - 1] = torch.tensor(row[1:])
        return tokens, targets


def sequence_loss(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-character cross-entropy of ``model(tokens)`` over the real (not padded)
    positions of ``targets`` (as :meth:`CharLM.encode` makes them).

    ``model`` is a :class:`CharLM` or anything that calls one (Opacus' wrapper of it).

    Example:
        >>> lm = char_lm("\\nab")
        >>> bool(sequence_loss(lm, *lm.encode(["ab"])) > 0)
        True
    """
    for name, tensor in (("tokens", tokens), ("targets", targets)):
        if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.long or tensor.ndim != 2:
            raise TypeError(f"{name} must be a 2-D tensor of character indices (CharLM.encode)")
    if tokens.shape != targets.shape:
        raise ValueError(f"tokens has shape {tuple(tokens.shape)}, targets {tuple(targets.shape)}")
    logits = model(tokens)
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
    )


def char_lm(
    alphabet: str,
    *,
    width: int = 64,
    layers: int = 2,
    heads: int = 4,
    context: int = 128,
    seed: int = 0,
) -> CharLM:
    """A small character-level transformer language model over ``alphabet`` (see :class:`CharLM`).

    Example:
        >>> import torch
        >>> model = char_lm("\\nab ")
        >>> model(torch.zeros(2, 7, dtype=torch.long)).shape
        torch.Size([2, 7, 4])
    """
    return _seeded(lambda: CharLM(alphabet, width, layers, heads, context), seed)


def tiny_gpt2(
    tokenizer,
    *,
    width: int = 64,
    layers: int = 2,
    heads: int = 4,
    context: int = 64,
    seed: int = 0,
):
    """A small GPT-2 (``transformers.GPT2LMHeadModel``) for ``tokenizer``'s vocabulary, seeded.

    The architecture of GPT-2 at a size a CPU trains in seconds (lesson 09): ``layers`` blocks
    of ``width``-dimensional embeddings, reading up to ``context`` tokens. Dropout is off (the
    course's other models have none either) and the read-out has its own weights rather than
    the embedding's (GPT-2 ties them), so that DP-SGD computes each layer's per-example
    gradients separately. Needs ``transformers`` (``pip install "mialab[hf]"``).

    Args:
        tokenizer: a Hugging Face tokenizer (``training.train_tokenizer`` makes one); its
            length sets the vocabulary, its ``bos``/``eos`` tokens the model's.

    Example:
        >>> import torch
        >>> from mialab.training import train_tokenizer
        >>> tokenizer = train_tokenizer(["ab ab", "ba ba"], vocab_size=260)
        >>> lm = tiny_gpt2(tokenizer)
        >>> lm(torch.zeros(2, 5, dtype=torch.long)).logits.shape[-1] == len(tokenizer)
        True
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    hf_tokenizer(tokenizer)
    width, layers = positive_int(width, "width"), positive_int(layers, "layers")
    heads, context = positive_int(heads, "heads"), positive_int(context, "context")
    if width % heads:
        raise ValueError(f"width ({width}) must be a multiple of heads ({heads})")
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=context,
        n_embd=width,
        n_layer=layers,
        n_head=heads,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=False,
    )
    return _seeded(lambda: GPT2LMHeadModel(config).eval(), seed)


SCHEDULES = ("cosine", "linear")


def noise_schedule(steps: int = 1000, kind: str = "cosine") -> torch.Tensor:
    """ᾱ_t, t = 0..steps-1, of a DDPM: the share of the signal left at noise level t.

    ``x_t = √ᾱ_t·x₀ + √(1-ᾱ_t)·ε``. ``"linear"`` is Ho et al. (2020): β rising linearly from 1e-4
    to 0.02 (scaled to ``steps``: the same curve for any number of steps), ᾱ_t = Π_{s≤t} (1-β_s).
    ``"cosine"`` is Nichol & Dhariwal (2021): ᾱ follows cos², with β capped at 0.999; it destroys
    small images' signal more gradually, so more timesteps carry information.

    Returns:
        A float64 tensor of shape ``(steps,)``, decreasing from near 1 to near 0.

    Example:
        >>> alpha_bar = noise_schedule(1000, "linear")
        >>> round(float(alpha_bar[0]), 4), bool(alpha_bar[-1] < 1e-4)
        (0.9999, True)
    """
    steps = positive_int(steps, "steps")
    if not isinstance(kind, str) or kind not in SCHEDULES:
        raise ValueError(f"kind must be one of {SCHEDULES}, got {kind!r}")
    if kind == "linear":
        scale = 1000 / steps
        beta = torch.linspace(scale * 1e-4, scale * 0.02, steps, dtype=torch.float64)
        return torch.cumprod(1 - beta.clamp(max=0.999), dim=0)
    offset = 0.008
    f = torch.cos((torch.arange(steps + 1, dtype=torch.float64) / steps + offset)
                  / (1 + offset) * math.pi / 2) ** 2  # fmt: skip
    beta = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - beta, dim=0)


class Denoiser(nn.Module):
    """ε_θ(x_t, t): the noise predictor of a DDPM, with its noise schedule.

    An MLP over flat rows (digits' 64 pixels, 30 standardised clinical features): the row goes
    through a linear layer, the timestep's sinusoidal embedding (Vaswani et al. 2017; no
    weights) through another, their sum through ``layers`` residual blocks of SiLU and linear
    layers, and a linear read-out gives the predicted noise, one value per feature. Only
    ``nn.Linear`` layers hold weights, so Opacus trains it with DP-SGD unchanged.

    ``model(x_t, t)``: ``x_t`` ``(n, n_features)``, ``t`` ``(n,)`` integer timesteps in
    ``[0, steps)``. ``alpha_bar`` (a buffer, ``(steps,)``) is ᾱ_t of :func:`noise_schedule`;
    every diffusion function of mialab reads the schedule from it, so a model of your own works
    with them if it is called the same way and has an ``alpha_bar``.
    """

    def __init__(self, n_features: int, hidden: int, layers: int, alpha_bar: torch.Tensor):
        n_features = positive_int(n_features, "n_features")
        hidden, layers = positive_int(hidden, "hidden"), positive_int(layers, "layers")
        if hidden % 2:
            raise ValueError(f"hidden must be even (half sines, half cosines), got {hidden}")
        if not isinstance(alpha_bar, torch.Tensor) or alpha_bar.ndim != 1 or not len(alpha_bar):
            raise TypeError("alpha_bar must be a non-empty 1-D tensor (noise_schedule makes one)")
        if not ((alpha_bar > 0) & (alpha_bar <= 1)).all():  # NaN fails too
            raise ValueError("alpha_bar must lie in (0, 1]: the share of signal left at each t")
        super().__init__()
        self.register_buffer("alpha_bar", alpha_bar.float())
        self.embedding_width = hidden
        self.input = nn.Linear(n_features, hidden)
        self.time = nn.Linear(hidden, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden)) for _ in range(layers)
        )
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, n_features))

    @property
    def steps(self) -> int:
        """The number of noise levels T (timesteps are 0..T-1)."""
        return len(self.alpha_bar)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        half = self.embedding_width // 2
        frequencies = torch.exp(
            -math.log(10_000) * torch.arange(half, device=x.device, dtype=x.dtype) / half
        )
        angles = t.to(x.dtype)[:, None] * frequencies
        embedding = torch.cat([angles.sin(), angles.cos()], dim=1)
        h = self.input(x) + self.time(embedding)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


def denoiser(
    n_features: int,
    *,
    hidden: int = 256,
    layers: int = 3,
    steps: int = 1000,
    schedule: str = "cosine",
    seed: int = 0,
) -> Denoiser:
    """A small DDPM noise predictor for flat rows (see :class:`Denoiser`); train it with
    :func:`mialab.training.fit_diffusion`, sample with :func:`mialab.training.diffusion_sample`.

    Args:
        n_features: width of a record.
        hidden: width of the hidden layers (even: the timestep embedding is half sines, half
            cosines).
        layers: residual blocks.
        steps: noise levels T; the papers use 1000.
        schedule: ``"cosine"`` or ``"linear"`` (:func:`noise_schedule`).
        seed: seed of the initial weights.

    Example:
        >>> import torch
        >>> model = denoiser(64)
        >>> model(torch.zeros(5, 64), torch.zeros(5, dtype=torch.long)).shape, model.steps
        (torch.Size([5, 64]), 1000)
    """
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    alpha_bar = noise_schedule(steps, schedule)
    return _seeded(lambda: Denoiser(n_features, hidden, layers, alpha_bar), seed)


def denoising_loss(
    model: nn.Module, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """Each record's DDPM loss at its timestep: mean over features of (ε - ε_θ(x_t, t))², with
    x_t = √ᾱ_t·x₀ + √(1-ᾱ_t)·ε (Ho et al. 2020). Training minimises its mean; the loss attack
    reads it record by record.

    Args:
        model: a :class:`Denoiser` (or Opacus' wrapper of one): called as ``model(x_t, t)``, with
            a buffer ``alpha_bar``.
        x0: ``(n, n_features)`` clean records.
        t: ``(n,)`` integer timesteps.
        noise: ε, shaped as x0.

    Returns:
        A tensor of shape ``(n,)``.

    Example:
        >>> import torch
        >>> model = denoiser(4)
        >>> x0, t = torch.zeros(3, 4), torch.tensor([0, 10, 999])
        >>> denoising_loss(model, x0, t, torch.randn(3, 4)).shape
        torch.Size([3])
    """
    alpha_bar = alpha_bar_of(model)
    check_denoiser_input(model, x0, "x0")
    integer = isinstance(t, torch.Tensor) and not (
        t.is_floating_point() or t.is_complex() or t.dtype == torch.bool
    )
    if not integer or t.shape != (len(x0),):
        raise TypeError(f"t must be a 1-D integer tensor of {len(x0)} timesteps, one per row")
    if len(t) and not 0 <= int(t.min()) <= int(t.max()) < len(alpha_bar):
        raise ValueError(f"t must lie in [0, {len(alpha_bar)}), got {int(t.min())}..{int(t.max())}")
    if not isinstance(noise, torch.Tensor) or noise.shape != x0.shape:
        raise ValueError(f"noise must be a tensor shaped as x0, {tuple(x0.shape)}")
    alpha_bar = alpha_bar[t].to(x0.dtype)[:, None]
    x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
    return ((noise - model(x_t, t)) ** 2).mean(dim=1)


def check_denoiser_input(model: nn.Module, x: torch.Tensor, name: str) -> None:
    """Refuse, naming ``name``, records a denoiser cannot read: not a 2-D floating tensor of its
    input width, or not finite.

    Example:
        >>> import torch
        >>> check_denoiser_input(denoiser(4), torch.zeros(2, 3), "x")
        Traceback (most recent call last):
        ...
        ValueError: x has 3 features per record, the denoiser takes 4
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or not x.is_floating_point():
        raise TypeError(f"{name} must be a 2-D floating tensor (n, n_features)")
    inner = getattr(model, "_module", model)
    width = getattr(getattr(inner, "input", None), "in_features", None)
    if width is not None and x.shape[1] != width:
        raise ValueError(f"{name} has {x.shape[1]} features per record, the denoiser takes {width}")
    dtype = next(inner.parameters()).dtype
    if x.dtype != dtype:
        raise TypeError(f"{name} is {x.dtype}, the denoiser's weights are {dtype}: convert one")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} has NaN or infinite values")


def alpha_bar_of(model: nn.Module) -> torch.Tensor:
    """The ᾱ_t buffer of a diffusion denoiser (through Opacus' wrapper too), checked to be 1-D.

    Example:
        >>> alpha_bar_of(denoiser(4, steps=10)).shape
        torch.Size([10])
    """
    inner = getattr(model, "_module", model)
    alpha_bar = getattr(inner, "alpha_bar", None)
    if (
        not isinstance(model, nn.Module)
        or not isinstance(alpha_bar, torch.Tensor)
        or alpha_bar.ndim != 1
    ):
        raise TypeError(
            "model must be a diffusion denoiser (a torch module with a 1-D alpha_bar buffer), "
            f"as mialab.models.denoiser makes; got {type(model).__name__}"
        )
    return alpha_bar
