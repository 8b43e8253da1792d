"""Hugging Face causal language models: read their per-token log-probabilities, train a small
one from scratch, fine-tune one (lesson 09).

:func:`hf_token_logprobs` takes any causal LM of ``transformers`` (GPT-2, Pythia, Llama, a
``peft`` model) and its tokenizer; its output feeds every language-model score of
:mod:`mialab.attacks` (``lm_...``) unchanged. :func:`train_tokenizer` and
:func:`mialab.models.tiny_gpt2` build a model from the course's own corpus, so nothing is
downloaded; a model from the hub works the same way.

``transformers`` and ``tokenizers`` are an optional extra (``pip install "mialab[hf]"``; the course
extra includes it), imported only when these functions are called.

Conventions, as for the character models of lesson 06: a text is scored from its first token,
given the tokenizer's beginning-of-sequence token (GPT-2's ``<|endoftext|>``); a tokenizer
without one (``bos_token_id`` None) leaves the first token unscored, since nothing predicts it.
No end-of-sequence token is scored (a hub model's texts rarely end with one). Training reads
``bos + text + eos``, so a model learns where texts end.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from mialab._checks import boolean, hf_tokenizer, positive_int, seed_value
from mialab.training.language import vocab_moments
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

__all__ = ["fit_hf_lm", "hf_token_logprobs", "train_tokenizer"]

END_OF_TEXT = "<|endoftext|>"
MAX_VOCAB = 2**20


def _texts(texts, name: str = "texts") -> list[str]:
    """A non-empty list of non-empty strings (a tuple, 1-D array or pandas Series works too)."""
    if getattr(texts, "ndim", None) == 1:  # a numpy array or a pandas Series
        texts = list(texts)
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}")
    if not texts:
        raise ValueError(f"{name} is empty")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{i}] must be a string, got {type(text).__name__}")
        if not text:
            raise ValueError(f"{name}[{i}] is an empty string: it has no token to score")
    return list(texts)


def _check_model(model) -> None:
    if not isinstance(model, nn.Module) or not hasattr(model, "config"):
        raise TypeError(
            "model must be a Hugging Face causal language model (transformers."
            f"AutoModelForCausalLM, models.tiny_gpt2), got {type(model).__name__}"
        )


def context_of(model) -> int | None:
    """The most positions ``model`` reads (its config's ``max_position_embeddings``), or None."""
    return getattr(model.config, "max_position_embeddings", None)


def trainable(model) -> list[nn.Parameter]:
    """The parameters of ``model`` that require gradients; a model with none is refused."""
    trained = [p for p in model.parameters() if p.requires_grad]
    if not trained:
        raise ValueError("model has no parameter that requires gradients: nothing to train")
    return trained


def encode(model, tokenizer, texts, *, name: str = "texts", end: bool = False) -> list[list[int]]:
    """Each text's token ids: ``bos`` (where the tokenizer has one), the text's own tokens, and
    with ``end`` the tokenizer's ``eos``; a text longer than the model's context is refused."""
    _check_model(model)
    hf_tokenizer(tokenizer)
    texts = _texts(texts, name)
    bos = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    eos = [tokenizer.eos_token_id] if end and tokenizer.eos_token_id is not None else []
    context, vocab = context_of(model), getattr(model.config, "vocab_size", None)
    encoded = []
    for i, ids in enumerate(tokenizer(texts, add_special_tokens=False)["input_ids"]):
        row = bos + list(ids) + eos
        if len(row) < 2:
            raise ValueError(
                f"{name}[{i}] is a single token and the tokenizer has no bos_token: nothing "
                "predicts a text's first token, so it has no token to score"
            )
        if context is not None and len(row) > context:
            raise ValueError(
                f"{name}[{i}] has {len(row)} tokens (with bos/eos); the model reads at most "
                f"{context} (config.max_position_embeddings): split the text or score its start"
            )
        if vocab is not None and max(row) >= vocab:
            raise ValueError(
                f"tokenizer gives {name}[{i}] the token id {max(row)}, but the model's vocabulary "
                f"has {vocab} tokens (config.vocab_size): pass the model's own tokenizer"
            )
        encoded.append(row)
    return encoded


def padded(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)``, padded on the right.

    Right padding keeps every token at its own position, so no model needs ``position_ids``;
    the padded places hold token 0 and are masked, in attention and in the loss, so which id
    fills them (the tokenizer's pad token or none) changes nothing.
    """
    width = max(len(row) for row in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return ids, mask


def next_token_logits(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The logits each position gives the token after it: ``(batch, length - 1, vocab)``."""
    output = model(input_ids=ids, attention_mask=mask)
    logits = output[0] if isinstance(output, tuple) else getattr(output, "logits", None)
    if logits is None:
        raise TypeError(
            f"model must be a causal language model, but its output ({type(output).__name__}) "
            "has no logits: load it with AutoModelForCausalLM, not AutoModel"
        )
    return logits[:, :-1]


def next_token_targets(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The token each position predicts, -100 (ignored by the loss) after a text's end."""
    return ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)


def causal_lm_loss(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the real (unpadded) tokens of a right-padded batch."""
    logits = next_token_logits(model, ids, mask)
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        next_token_targets(ids, mask).reshape(-1),
        ignore_index=-100,
    )


def train_tokenizer(texts, *, vocab_size: int = 1000):
    """A byte-level BPE tokenizer (GPT-2's kind) trained on ``texts``, as a ``transformers``
    tokenizer with ``<|endoftext|>`` as its beginning and end of text and no pad token (like
    GPT-2's). Deterministic: the same texts give the same vocabulary.

    Any text can be encoded, whatever characters it holds (byte-level: unseen characters become
    bytes). ``vocab_size`` is an upper bound: a small corpus has fewer merges to learn.

    Example:
        >>> tokenizer = train_tokenizer(["the cat sat", "the cat ran"], vocab_size=300)
        >>> tokenizer.convert_ids_to_tokens(tokenizer("the cat")["input_ids"])
        ['the', 'Ġcat']
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = _texts(texts)
    vocab_size = positive_int(vocab_size, "vocab_size")
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if vocab_size < len(alphabet) + 1:
        raise ValueError(
            f"vocab_size must be at least {len(alphabet) + 1} (the 256 bytes and <|endoftext|>), "
            f"got {vocab_size}"
        )
    if vocab_size > MAX_VOCAB:
        # The trainer reserves memory for the whole bound (2**27 asks for 9 GB; an allocation
        # that fails aborts Python), however few merges the texts have.
        raise ValueError(
            f"vocab_size must be at most {MAX_VOCAB} (2**20; the largest tokenizers in use have "
            f"about 260,000 tokens), got {vocab_size}"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT
    )


def fit_hf_lm(
    model: nn.Module,
    tokenizer,
    texts,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    device="cpu",
    progress: bool | None = None,
) -> nn.Module:
    """Train a Hugging Face causal LM on ``texts`` (pretraining or full fine-tuning), seeded.

    Next-token cross-entropy over ``bos + text + eos``, Adam on the parameters that require
    gradients (so a ``peft`` LoRA model trains its adapters only), batches drawn from ``seed``.
    Trains on ``device`` and returns the model on the CPU, in eval mode.

    Example:
        >>> from mialab import models
        >>> tokenizer = train_tokenizer(["ab ab", "ba ba"], vocab_size=260)
        >>> lm = fit_hf_lm(models.tiny_gpt2(tokenizer), tokenizer, ["ab ab", "ba ba"], epochs=2)
        >>> tokenizer.convert_ids_to_tokens(tokenizer("ab ab")["input_ids"])
        ['ab', 'Ġab']
        >>> [len(lp) for lp in hf_token_logprobs(lm, tokenizer, ["ab ab"])]  # bos → ab → Ġab
        [2]
    """
    rows = encode(model, tokenizer, texts, end=True)
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr, seed = learning_rate(lr, model), seed_value(seed)
    device, disable = resolve_device(device), tqdm_disable(progress)
    trained = trainable(model)
    ids, mask = padded(rows)
    with on_device(device, model):
        ids, mask = ids.to(device), mask.to(device)
        optimizer = torch.optim.Adam(trained, lr=lr)
        model.train()
        order = torch.Generator().manual_seed(seed)
        with seeded(seed, device):
            for _ in tqdm(range(epochs), desc="training language model", disable=disable,
                          leave=False):  # fmt: skip
                for batch in batches(len(ids), batch_size, generator=order):
                    batch = batch.to(device)
                    width = int(mask[batch].sum(1).max())  # no column of padding only
                    optimizer.zero_grad()
                    loss = causal_lm_loss(model, ids[batch, :width], mask[batch, :width])
                    check_finite(loss, lr)
                    loss.backward()
                    step(optimizer, lr)
                check_weights(trained, lr)
    return model.eval()


def hf_token_logprobs(
    model: nn.Module,
    tokenizer,
    texts,
    *,
    batch_size: int = 8,
    device="cpu",
    progress: bool | None = None,
    return_moments: bool = False,
):
    """Each text's per-token log-probabilities under a Hugging Face causal LM.

    The input of every language-model score of :mod:`mialab.attacks`. Texts are tokenised without
    special tokens, preceded by the tokenizer's ``bos_token`` where it has one (otherwise the
    first token is not scored), batched by length and padded on the right, with padded places
    masked and left out; so the values do not depend on ``batch_size``, on the tokenizer's
    padding side or on whether it has a pad token. No gradients; the model runs on ``device``
    and is left where it was, in the mode it was in. A text longer than the model's context
    raises a ``ValueError``.

    Args:
        model: a ``transformers`` causal LM (``AutoModelForCausalLM``, a ``peft`` model, ...).
        tokenizer: its tokenizer.
        texts: a non-empty list of non-empty strings.
        batch_size: texts per forward pass (memory grows with batch × length × vocabulary).
        return_moments: also return, per scored token, the mean and the standard deviation of
            log p(z | prefix) over the vocabulary z under the model, the standardisation of
            Min-K%++ (:func:`mialab.attacks.lm_min_k_plus_plus_score`).

    Returns:
        One float64 NumPy array per text; with ``return_moments``, a tuple ``(token_logprobs,
        vocab_means, vocab_stds)`` of three such lists.

    Example:
        >>> from mialab import models
        >>> tokenizer = train_tokenizer(["ab ab", "ba ba"], vocab_size=260)
        >>> lm = models.tiny_gpt2(tokenizer)
        >>> [lp.shape for lp in hf_token_logprobs(lm, tokenizer, ["ab ab", "ba"])]
        [(2,), (1,)]
    """
    rows = encode(model, tokenizer, texts)
    batch_size = positive_int(batch_size, "batch_size")
    return_moments = boolean(return_moments, "return_moments")
    device, disable = resolve_device(device), tqdm_disable(progress)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # little padding per batch
    logprobs, means, stds = [None] * len(rows), [None] * len(rows), [None] * len(rows)
    with on_device(device, model, back_home=True), evaluating(model):
        for start in tqdm(range(0, len(rows), batch_size), desc="scoring texts",
                          disable=disable, leave=False):  # fmt: skip
            chosen = order[start : start + batch_size]
            ids, mask = (tensor.to(device) for tensor in padded([rows[i] for i in chosen]))
            logp = torch.log_softmax(next_token_logits(model, ids, mask).float(), dim=-1)
            picked = logp.gather(2, ids[:, 1:].unsqueeze(-1)).squeeze(-1).cpu()
            if return_moments:
                mean, std = (moment.cpu() for moment in vocab_moments(logp))
            for j, i in enumerate(chosen):
                n = len(rows[i]) - 1
                logprobs[i] = picked[j, :n].double().numpy()
                if return_moments:
                    means[i], stds[i] = mean[j, :n].double().numpy(), std[j, :n].double().numpy()
    return (logprobs, means, stds) if return_moments else logprobs
