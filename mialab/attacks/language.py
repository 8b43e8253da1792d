"""Membership inference on language models, from per-token log-probabilities (lesson 06).

Every score takes a list of 1-d arrays, one per text: the log-probability the model gave to each
token given the tokens before it (natural log). Any language model can produce them, including a
Hugging Face model the reader has locally, so the same functions audit a character model trained
in the lesson and a large pretrained one. Scores are float64, higher = more likely a member.

Example:
    >>> import numpy as np
    >>> member, stranger = np.log([0.9, 0.8, 0.7]), np.log([0.3, 0.2, 0.4])
    >>> lm_loss_score([member, stranger]).round(3)
    array([-0.228, -1.243])
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from scipy import stats

from mialab._checks import float_array, fraction

__all__ = [
    "exposure",
    "exposure_estimate",
    "lm_loss_score",
    "min_k_score",
    "reference_score",
    "zlib_score",
]


def _sequences(token_logprobs, name: str = "token_logprobs") -> list[np.ndarray]:
    """A non-empty list of non-empty 1-d float64 arrays of log-probabilities (all ≤ 0)."""
    if isinstance(token_logprobs, np.ndarray) or not isinstance(token_logprobs, (list, tuple)):
        raise TypeError(f"{name} must be a list of 1-d arrays, one per text")
    if not token_logprobs:
        raise ValueError(f"{name} is empty")
    arrays = []
    for i, sequence in enumerate(token_logprobs):
        array = float_array(sequence, f"{name}[{i}]", ndim=1)  # rejects empty, NaN, inf
        if np.any(array > 1e-9):
            raise ValueError(f"{name}[{i}] holds values above 0: log-probabilities are ≤ 0")
        arrays.append(array)
    return arrays


def lm_loss_score(token_logprobs) -> np.ndarray:
    """Minus the mean negative log-likelihood per token (Yeom et al. 2018, for text).

    Example:
        >>> lm_loss_score([np.log([0.5, 0.5])]).round(4)
        array([-0.6931])
    """
    return np.array([s.mean() for s in _sequences(token_logprobs)])


def zlib_score(token_logprobs, texts) -> np.ndarray:
    """Loss relative to how compressible the text is (Carlini et al. 2021).

    score = −NLL / zlib_bytes, with NLL the mean negative log-likelihood per token and zlib_bytes
    the length of ``zlib.compress`` of the UTF-8 text. Repetitive text is easy for any model;
    dividing by its zlib length rewards texts the model finds easier than a compressor does.

    Example:
        >>> zlib_score([np.log([0.5, 0.5])], ["ab"]).round(4)
        array([-0.0693])
    """
    sequences = _sequences(token_logprobs)
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError("texts must be a list of strings, one per sequence")
    if len(texts) != len(sequences):
        raise ValueError(f"texts must hold one text per sequence: {len(texts)} vs {len(sequences)}")
    lengths = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be a string, got {type(text).__name__}")
        lengths.append(len(zlib.compress(text.encode("utf-8"))))
    return np.array([s.mean() / n for s, n in zip(sequences, lengths, strict=True)])


def reference_score(token_logprobs, reference_token_logprobs) -> np.ndarray:
    """Target loss relative to a reference model's: NLL_reference − NLL_target per token.

    A text that any model finds likely is not evidence of membership; one the target finds much
    likelier than a reference model trained on other data is (Carlini et al. 2021). The two
    models may tokenise differently: each NLL is a mean over its own tokens.

    Example:
        >>> reference_score([np.log([0.9])], [np.log([0.3])]).round(4)
        array([1.0986])
    """
    target = _sequences(token_logprobs)
    reference = _sequences(reference_token_logprobs, "reference_token_logprobs")
    if len(target) != len(reference):
        raise ValueError(
            "token_logprobs and reference_token_logprobs must cover the same texts: "
            f"{len(target)} vs {len(reference)}"
        )
    return np.array([t.mean() - r.mean() for t, r in zip(target, reference, strict=True)])


def min_k_score(token_logprobs, k: float = 0.2) -> np.ndarray:
    """Min-K% Prob (Shi et al. 2024): the mean log-probability of the k% least likely tokens.

    A member rarely has very unlikely tokens; a non-member's rare words stand out. The k% count
    is ⌊k·n⌋ tokens of a text of n, at least one (the paper's rounding down, never empty);
    ties among equal log-probabilities do not change the mean.

    Example:
        >>> min_k_score([np.log([0.9, 0.1, 0.8, 0.7, 0.6])], k=0.4).round(4)  # 2 of 5 tokens
        array([-1.4067])
    """
    k = fraction(k, "k")
    return np.array(
        [np.sort(s)[: max(1, math.floor(k * len(s)))].mean() for s in _sequences(token_logprobs)]
    )


def exposure(canary_logprob: float, candidate_logprobs) -> float:
    """Exposure of a canary (Carlini et al. 2019, "The Secret Sharer"), in bits.

    exposure = log2 |R| − log2 rank, where R is every secret of the canary's format (the canary
    among them) and rank is 1 + the number of candidates the model finds strictly likelier than
    the canary. A canary the model ranks first out of R has exposure log2 R: it can be extracted.

    Args:
        canary_logprob: the model's total log-probability of the inserted canary.
        candidate_logprobs: ``(R,)`` total log-probabilities of every candidate, the canary's
            own value included.

    Returns:
        Exposure in bits, between 0 and log2 R.

    Example:
        >>> exposure(-1.0, np.array([-1.0, -5.0, -6.0, -7.0]))  # ranked first of 4
        2.0
    """
    candidates = float_array(candidate_logprobs, "candidate_logprobs", ndim=1)
    canary = float(float_array([canary_logprob], "canary_logprob", ndim=1)[0])
    if not np.any(candidates == canary):
        raise ValueError(
            "candidate_logprobs must include the canary's own log-probability (R is every "
            "secret of the format, the canary among them)"
        )
    rank = 1 + int(np.sum(candidates > canary))
    return math.log2(len(candidates)) - math.log2(rank)


def exposure_estimate(canary_logprob: float, sample_logprobs, *, space_size: int) -> float:
    """Exposure estimated from a sample of the candidate space (Carlini et al. 2019, §4.3).

    When R is too large to score every candidate, fit a skew-normal distribution to the
    log-probabilities of a random sample of candidates and read the canary's rank off the fit:
    exposure ≈ −log2 P(candidate at least as likely as the canary). Capped at log2
    ``space_size``.

    Args:
        canary_logprob: the canary's total log-probability.
        sample_logprobs: ``(s,)`` total log-probabilities of candidates drawn uniformly from R.
        space_size: |R|, the number of possible secrets.

    Example:
        >>> sample = np.random.default_rng(0).normal(-30, 3, 5000)
        >>> round(exposure_estimate(-30.0, sample, space_size=10**6), 1)  # the median: 1 bit
        1.0
    """
    sample = float_array(sample_logprobs, "sample_logprobs", ndim=1)
    if len(sample) < 50:
        raise ValueError(f"sample_logprobs needs at least 50 candidates to fit, got {len(sample)}")
    if isinstance(space_size, bool) or not isinstance(space_size, (int, np.integer)):
        raise TypeError("space_size must be an integer")
    if space_size < len(sample):
        raise ValueError("space_size must be at least the number of sampled candidates")
    canary = float(float_array([canary_logprob], "canary_logprob", ndim=1)[0])
    fitted = stats.skewnorm(*stats.skewnorm.fit(sample))
    share_likelier = fitted.sf(canary)  # P(a random candidate is at least as likely)
    return float(min(-np.log2(max(share_likelier, 1e-300)), math.log2(space_size)))
