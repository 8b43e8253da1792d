"""Membership inference on language models, from per-token log-probabilities (lesson 06).

Every score takes a list of 1-d arrays, one per text: the log-probability the model gave to each
token given the tokens before it (natural log); a tuple, a pandas Series or a numpy array of such
arrays (a 2-d array when every text has the same number of tokens) works too. Any language model
can produce them, including a Hugging Face model the reader has locally, so the same functions
audit a character model trained in the lesson and a large pretrained one. Scores are float64,
higher = more likely a member.

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

from mialab._checks import float_array, fraction, is_number, to_numpy

__all__ = [
    "exposure",
    "exposure_estimate",
    "lm_loss_score",
    "lm_min_k_plus_plus_score",
    "lm_min_k_score",
    "lm_reference_score",
    "lm_zlib_score",
]


def _as_list(value, name: str, what: str) -> list:
    """A list, tuple, pandas Series, numpy array or torch tensor as a list of its rows."""
    if hasattr(value, "detach") or (hasattr(value, "tolist") and not isinstance(value, np.ndarray)):
        value = to_numpy(value, name) if hasattr(value, "detach") else list(value)  # tensor, Series
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            raise TypeError(f"{name} must be a list of {what}, got a single value")
        value = list(value)
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of {what}, got {type(value).__name__}")
    if len(value) == 0:
        raise ValueError(f"{name} is empty")
    return list(value)


def _sequences(token_logprobs, name: str = "token_logprobs") -> list[np.ndarray]:
    """A non-empty list of non-empty 1-d float64 arrays of log-probabilities (all ≤ 0)."""
    token_logprobs = _as_list(token_logprobs, name, "1-d arrays, one per text")
    if all(np.ndim(s) == 0 for s in token_logprobs):
        raise TypeError(
            f"{name} must be a list of 1-d arrays, one per text, got a list of numbers: wrap "
            f"one text's log-probabilities in a list, [{name}]"
        )
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
        >>> import numpy as np
        >>> lm_loss_score([np.log([0.5, 0.5])]).round(4)
        array([-0.6931])
    """
    return np.array([s.mean() for s in _sequences(token_logprobs)])


def lm_zlib_score(token_logprobs, texts) -> np.ndarray:
    """Loss relative to how compressible the text is (Carlini et al. 2021).

    score = −NLL / zlib_bytes, with NLL the mean negative log-likelihood per token and zlib_bytes
    the length of ``zlib.compress`` of the UTF-8 text. Repetitive text is easy for any model;
    dividing by its zlib length rewards texts the model finds easier than a compressor does.

    Example:
        >>> import numpy as np
        >>> lm_zlib_score([np.log([0.5, 0.5])], ["ab"]).round(4)
        array([-0.0693])
    """
    sequences = _sequences(token_logprobs)
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a list of strings, one per sequence, got a single string")
    texts = _as_list(texts, "texts", "strings, one per sequence")
    if len(texts) != len(sequences):
        raise ValueError(f"texts must hold one text per sequence: {len(texts)} vs {len(sequences)}")
    lengths = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be a string, got {type(text).__name__}")
        lengths.append(len(zlib.compress(text.encode("utf-8"))))
    return np.array([s.mean() / n for s, n in zip(sequences, lengths, strict=True)])


def lm_reference_score(token_logprobs, reference_token_logprobs) -> np.ndarray:
    """Target loss relative to a reference model's: NLL_reference − NLL_target per token.

    A text that any model finds likely is not evidence of membership; one the target finds much
    likelier than a reference model trained on other data is (Carlini et al. 2021). The two
    models may tokenise differently: each NLL is a mean over its own tokens.

    Example:
        >>> import numpy as np
        >>> lm_reference_score([np.log([0.9])], [np.log([0.3])]).round(4)
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


def lm_min_k_score(token_logprobs, k: float = 0.2) -> np.ndarray:
    """Min-K% Prob (Shi et al. 2024): the mean log-probability of the k% least likely tokens.

    A member rarely has very unlikely tokens; a non-member's rare words stand out. The k% count
    is ⌊k·n⌋ tokens of a text of n, at least one (the paper's rounding down, never empty);
    ties among equal log-probabilities do not change the mean.

    Example:
        >>> import numpy as np
        >>> lm_min_k_score([np.log([0.9, 0.1, 0.8, 0.7, 0.6])], k=0.4).round(4)  # 2 of 5 tokens
        array([-1.4067])
    """
    k = fraction(k, "k")
    return np.array(
        [np.sort(s)[: max(1, math.floor(k * len(s)))].mean() for s in _sequences(token_logprobs)]
    )


def lm_min_k_plus_plus_score(token_logprobs, vocab_means, vocab_stds, k: float = 0.2) -> np.ndarray:
    """Min-K%++ (Zhang et al. 2024): Min-K% of each token's log-probability standardised by
    the model's own distribution at that position.

    Per token, z = (log p(x_t | x_<t) − μ_t) / σ_t, where μ_t and σ_t² are the mean and variance
    of log p(z | x_<t) over the vocabulary z, weighted by the model's probabilities p(z | x_<t);
    the score is the mean of the ⌊k·n⌋ lowest z (at least one), as in :func:`lm_min_k_score`.
    A training text tends to sit at a mode of the model's distribution (z near or above 0); a
    token that is unlikely merely because the distribution is flat is not held against a text.
    :func:`mialab.training.hf_token_logprobs` and :func:`mialab.training.token_logprobs` return
    μ and σ with ``return_moments=True``.

    Args:
        token_logprobs: per text, the log-probability of each token.
        vocab_means: per text, μ_t at each token (same lengths).
        vocab_stds: per text, σ_t at each token (same lengths, all > 0).
        k: the fraction of lowest tokens averaged.

    Example:
        >>> import numpy as np
        >>> lm_min_k_plus_plus_score([np.log([0.5, 0.1])], [[-0.7, -1.0]], [[0.1, 0.5]], k=0.5)
        array([-2.6052])
    """
    k = fraction(k, "k")
    logprobs = _sequences(token_logprobs)
    means = _as_list(vocab_means, "vocab_means", "1-d arrays, one per text")
    stds = _as_list(vocab_stds, "vocab_stds", "1-d arrays, one per text")
    for name, values in (("vocab_means", means), ("vocab_stds", stds)):
        if len(values) != len(logprobs):
            raise ValueError(
                f"{name} must hold one array per text: {len(values)} vs {len(logprobs)}"
            )
    scores = []
    for i, (lp, mean, std) in enumerate(zip(logprobs, means, stds, strict=True)):
        mean = float_array(mean, f"vocab_means[{i}]", ndim=1)
        std = float_array(std, f"vocab_stds[{i}]", ndim=1)
        if not len(mean) == len(std) == len(lp):
            raise ValueError(
                f"text {i}: token_logprobs, vocab_means and vocab_stds must have one value per "
                f"token: {len(lp)}, {len(mean)}, {len(std)}"
            )
        if np.any(mean > 1e-9):
            raise ValueError(
                f"vocab_means[{i}] holds values above 0: a mean of log-probabilities is ≤ 0"
            )
        if np.any(std <= 0):
            raise ValueError(
                f"vocab_stds[{i}] holds a value ≤ 0: a standard deviation over the vocabulary "
                "is positive (0 only where the model puts all its mass on one token)"
            )
        z = np.sort((lp - mean) / std)
        scores.append(z[: max(1, math.floor(k * len(z)))].mean())
    return np.array(scores)


def exposure(canary_logprob: float, candidate_logprobs, *, rtol: float = 1e-5) -> float:
    """Exposure of a canary (Carlini et al. 2019, "The Secret Sharer"), in bits.

    exposure = log2 ``|R|`` − log2 rank, where R is every secret of the canary's format (the canary
    among them) and rank is the canary's position when the candidates are sorted from likeliest
    down. Ties count against the canary, as in the paper's rank: a candidate exactly as likely is
    ranked ahead of it, so exposure is never overstated. Values within ``rtol`` of the canary's
    count as equal: a canary scored in a separate pass (float32 against float64) differs in the
    last digits. A canary the model ranks first out of R has exposure log2 R: it can be
    extracted.

    Args:
        canary_logprob: the model's total log-probability of the inserted canary.
        candidate_logprobs: ``(R,)`` total log-probabilities of every candidate, the canary's
            own value included (within ``rtol``).
        rtol: relative tolerance within which a candidate equals the canary.

    Returns:
        Exposure in bits, between 0 and log2 R.

    Example:
        >>> import numpy as np
        >>> exposure(-1.0, np.array([-1.0, -5.0, -6.0, -7.0]))  # ranked first of 4
        2.0
        >>> exposure(-5.0, np.array([-1.0, -5.0, -5.0, -7.0]))  # a tie: ranked third, not second
        0.415...
    """
    candidates = float_array(candidate_logprobs, "candidate_logprobs", ndim=1)
    canary = _logprob(canary_logprob, "canary_logprob")
    rtol = fraction(rtol, "rtol")
    equal = np.isclose(candidates, canary, rtol=rtol, atol=0)
    if not equal.any():
        nearest = candidates[np.argmin(np.abs(candidates - canary))]
        raise ValueError(
            "candidate_logprobs must include the canary's own log-probability (R is every "
            f"secret of the format, the canary among them): none is within rtol={rtol:g} of "
            f"{canary!r}, the nearest is {nearest!r}"
        )
    rank = int(np.sum((candidates > canary) | equal))  # the canary last among its equals
    return math.log2(len(candidates)) - math.log2(rank)


def _logprob(value, name: str) -> float:
    """One finite log-probability (a number ≤ 0)."""
    if not is_number(value):
        raise TypeError(f"{name} must be a number (a log-probability), got {type(value).__name__}")
    if not np.isfinite(value) or value > 1e-9:
        raise ValueError(f"{name} must be a finite log-probability (≤ 0), got {value!r}")
    return float(value)


def exposure_estimate(canary_logprob: float, sample_logprobs, *, space_size: int) -> float:
    """Exposure estimated from a sample of the candidate space (Carlini et al. 2019, §4.3).

    When R is too large to score every candidate, fit a skew-normal distribution to the
    log-probabilities of a random sample of candidates and read the canary's rank off the fit:
    exposure ≈ −log2 P(candidate at least as likely as the canary). Capped at log2
    ``space_size``.

    Args:
        canary_logprob: the canary's total log-probability.
        sample_logprobs: ``(s,)`` total log-probabilities of candidates drawn uniformly from R.
        space_size: ``|R|``, the number of possible secrets.

    Example:
        >>> import numpy as np
        >>> sample = np.random.default_rng(0).normal(-30, 3, 5000)
        >>> round(exposure_estimate(-30.0, sample, space_size=10**6), 1)  # the median: 1 bit
        1.0
    """
    sample = float_array(sample_logprobs, "sample_logprobs", ndim=1)
    if len(sample) < 50:
        raise ValueError(f"sample_logprobs needs at least 50 candidates to fit, got {len(sample)}")
    if np.ptp(sample) <= 1e-12 * max(1.0, np.abs(sample).max()):
        raise ValueError(
            "sample_logprobs holds one value only: a distribution cannot be fitted to a constant "
            "sample (were the candidates scored by the same model on different texts?)"
        )
    if isinstance(space_size, (bool, np.bool_)) or not isinstance(space_size, (int, np.integer)):
        raise TypeError(f"space_size must be an integer, got {type(space_size).__name__}")
    if space_size < len(sample):
        raise ValueError("space_size must be at least the number of sampled candidates")
    canary = _logprob(canary_logprob, "canary_logprob")
    fitted = stats.skewnorm(*stats.skewnorm.fit(sample))
    share_likelier = fitted.sf(canary)  # P(a random candidate is at least as likely)
    return float(min(-np.log2(max(share_likelier, 1e-300)), math.log2(space_size)))
