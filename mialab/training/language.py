"""Character language models (:func:`mialab.models.char_lm`): train one (``fit_lm``), read its
log-probabilities (``token_logprobs``, ``total_logprobs``) and let it write (``generate``,
``complete``), as lesson 06 does."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from mialab._checks import boolean, positive_int, real_number, seed_value
from mialab.models import sequence_loss
from mialab.training.checks import char_lm
from mialab.training.loop import (
    batches,
    check_finite,
    check_weights,
    evaluating,
    learning_rate,
    on_device,
    resolve_device,
    seeded,
    step,
    tqdm_disable,
)

__all__ = ["complete", "fit_lm", "generate", "token_logprobs", "total_logprobs"]


def fit_lm(
    model: nn.Module,
    texts,
    *,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
) -> nn.Module:
    """Train a character language model (:func:`mialab.models.char_lm`) on ``texts``, seeded.

    Next-character cross-entropy with Adam; each text is read from a leading newline to a
    closing one. Trains on ``device`` (see :func:`resolve_device`) and returns the model on the
    CPU, in eval mode. ``progress``: None shows a bar on a terminal or in a notebook only.

    Example:
        >>> from mialab import models
        >>> lm = fit_lm(models.char_lm("\\nab"), ["abab", "ba"], epochs=2)
        >>> [len(lp) for lp in token_logprobs(lm, ["ab"])]
        [3]
    """
    tokens, targets = char_lm(model).encode(texts)
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr = learning_rate(lr, model)
    seed = seed_value(seed)
    device = resolve_device(device)
    disable = tqdm_disable(progress)
    with on_device(device, model):
        tokens, targets = tokens.to(device), targets.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        order = torch.Generator().manual_seed(seed)
        with seeded(seed, device):
            for _ in tqdm(
                range(epochs), desc="training language model", disable=disable, leave=False
            ):
                for batch in batches(len(tokens), batch_size, generator=order):
                    batch = batch.to(device)
                    optimizer.zero_grad()
                    loss = sequence_loss(model, tokens[batch], targets[batch])
                    check_finite(loss, lr)
                    loss.backward()
                    step(optimizer, lr)
                check_weights(model.parameters(), lr)
    return model.eval()


def token_logprobs(
    model: nn.Module, texts, *, batch_size: int = 256, device="cpu", return_moments: bool = False
):
    """Each text's per-character log-probabilities under ``model`` (its closing newline included).

    The input every language-model score of :mod:`mialab.attacks` takes. Computed on
    ``device``; the model is left where it was, in the mode it was in. With ``return_moments``,
    also the mean and the standard deviation of log p(c | prefix) over the alphabet c under the
    model at each position, which Min-K%++ needs (:func:`mialab.attacks.lm_min_k_plus_plus_score`).

    Returns:
        One float64 NumPy array per text, of length ``len(text) + 1``; with ``return_moments``,
        a tuple ``(token_logprobs, vocab_means, vocab_stds)`` of three such lists.

    Example:
        >>> from mialab import models
        >>> [lp.shape for lp in token_logprobs(models.char_lm("\\nab"), ["ab", "b"])]
        [(3,), (2,)]
    """
    tokens, targets = char_lm(model).encode(texts)
    batch_size = positive_int(batch_size, "batch_size")
    return_moments = boolean(return_moments, "return_moments")
    device = resolve_device(device)
    out, means, stds = [], [], []
    with on_device(device, model, back_home=True), evaluating(model):
        for start in range(0, len(tokens), batch_size):
            logits = model(tokens[start : start + batch_size].to(device))
            logp = torch.log_softmax(logits, dim=-1).cpu()
            tgt = targets[start : start + batch_size]
            picked = logp.gather(2, tgt.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            kept = tgt != -100
            out += [row[mask].double().numpy() for row, mask in zip(picked, kept, strict=True)]
            if return_moments:  # only on request: the vocabulary-wide pass costs a full exp
                mean, std = vocab_moments(logp)
                for mu, sigma, mask in zip(mean, std, kept, strict=True):
                    means.append(mu[mask].double().numpy())
                    stds.append(sigma[mask].double().numpy())
    return (out, means, stds) if return_moments else out


def vocab_moments(logp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and standard deviation of log p over the last dimension (the vocabulary),
    weighted by p: Min-K%++'s μ and σ at every position of ``logp`` (log-probabilities)."""
    p = logp.exp()
    mean = (p * logp).sum(-1)
    # Two passes (deviations from the mean), so the variance is never negative by rounding.
    return mean, (p * (logp - mean.unsqueeze(-1)) ** 2).sum(-1).sqrt()


def total_logprobs(model: nn.Module, texts, *, batch_size: int = 256, device="cpu") -> np.ndarray:
    """Each text's total log-probability under ``model``: the sum of its :func:`token_logprobs`.

    Returns:
        float64 NumPy array of shape ``(len(texts),)``.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> lm = models.char_lm("\\nab")
        >>> bool(np.isclose(total_logprobs(lm, ["ab"])[0], token_logprobs(lm, ["ab"])[0].sum()))
        True
    """
    per_token = token_logprobs(model, texts, batch_size=batch_size, device=device)
    return np.array([logprobs.sum() for logprobs in per_token])


def generate(
    model: nn.Module,
    n: int = 1,
    *,
    prefix: str = "",
    temperature: float = 1.0,
    max_chars: int = 120,
    seed: int = 0,
    device="cpu",
) -> list[str]:
    """``n`` notes written by ``model``, each ``prefix`` and its continuation, seeded.

    Each next character is drawn from the model's distribution sharpened by ``temperature``
    (probabilities ∝ p^(1/temperature)); ``temperature=0`` always takes the likeliest one
    (greedy), and any temperature above 0, however small, approaches it without overflowing. A
    note ends at the model's newline or after ``max_chars`` new characters. The model runs on
    ``device`` and is left where it was; the draws are made on the CPU, so a seed writes the same
    notes on every device (up to float rounding of the probabilities).

    Example:
        >>> from mialab import models
        >>> notes = generate(models.char_lm("\\nab"), 3, max_chars=5, seed=1)
        >>> len(notes), all(set(note) <= set("ab") for note in notes)
        (3, True)
    """
    model = char_lm(model)
    n, max_chars = positive_int(n, "n"), positive_int(max_chars, "max_chars")
    temperature = real_number(temperature, "temperature", low=0.0)  # 0 (greedy) is allowed
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string, got {type(prefix).__name__}")
    sampling = torch.Generator().manual_seed(seed_value(seed))
    device = resolve_device(device)
    encoded, _ = model.encode([prefix], "prefix")
    tokens = encoded[:, : len(prefix) + 1].repeat(n, 1)  # the leading newline and the prefix
    newline = model.alphabet.index("\n")
    ended = torch.zeros(n, dtype=torch.bool)
    with on_device(device, model, back_home=True), evaluating(model):
        for _ in range(max_chars):
            # The last `context` characters in, the next character's logits out.
            logits = model(tokens[:, -model.context :].to(device))[:, -1].double().cpu()
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


def complete(model: nn.Module, prefix: str, *, max_chars: int = 120, device="cpu") -> str:
    """The model's greedy continuation of ``prefix``, up to the end of the note.

    Example:
        >>> from mialab import models
        >>> isinstance(complete(models.char_lm("\\nab"), "a", max_chars=5), str)
        True
    """
    return generate(model, prefix=prefix, temperature=0, max_chars=max_chars, device=device)[0]
