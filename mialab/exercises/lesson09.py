"""Exercises of lesson 09 (fine-tuned language models on Hugging Face).

Example:
    >>> from mialab.exercises import lesson09
    >>> lesson09.q1.check(lesson09.min_k_plus_plus_solution).correct
    True
    >>> lesson09.q3.check("a").correct
    True
"""

from __future__ import annotations

import math

import numpy as np

from mialab.exercises.framework import Exercise, call_for_number

__all__ = ["q1", "q2", "q3"]


# q1: Min-K%++ from a model's logits ------------------------------------------------------------


def min_k_plus_plus_solution(logits, token_ids, k):
    logits = np.asarray(logits, dtype=np.float64)  # (n_tokens, vocabulary)
    # log-softmax, shifted by the row's maximum so that large logits do not overflow.
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    # μ and σ of log p(z) over the vocabulary z, each z weighted by its probability p(z).
    mu = (p * logp).sum(axis=1)
    sigma = np.sqrt((p * (logp - mu[:, None]) ** 2).sum(axis=1))
    z = (logp[np.arange(len(logp)), token_ids] - mu) / sigma
    count = max(1, math.floor(k * len(z)))  # the k% lowest, at least one token
    return float(np.sort(z)[:count].mean())


def _variants(logits, token_ids, k):
    """What typical slips compute instead, with the message each deserves."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    picked = logp[np.arange(len(logp)), token_ids]
    mu = (p * logp).sum(axis=1)
    var = (p * (logp - mu[:, None]) ** 2).sum(axis=1)
    count = max(1, math.floor(k * len(picked)))

    def lowest(values, n=count):
        return float(np.sort(values)[:n].mean())

    plain_mu, plain_sd = logp.mean(axis=1), logp.std(axis=1)
    return [
        (lowest((picked - mu) / var), "divide by σ, the square root of the variance."),
        (
            lowest((picked - plain_mu) / plain_sd),
            "μ and σ are the mean and standard deviation of log p(z) *under the model*: weight "
            "each z of the vocabulary by its probability p(z), not equally.",
        ),
        (lowest(picked), "that is Min-K% (the raw log-probabilities); standardise each first."),
        (
            float(np.sort((picked - mu) / np.sqrt(var))[-count:].mean()),
            "average the k% *lowest* standardised values: a non-member's surprising tokens.",
        ),
        (
            lowest((picked - mu) / np.sqrt(var), math.ceil(k * len(picked))),
            "count the k% as ⌊k·n⌋ tokens (rounded down, at least one), as in Min-K%.",
        ),
    ]


def _check_min_k_plus_plus(function):
    rng = np.random.default_rng(9)
    for n, vocabulary, k in ((10, 7, 0.2), (7, 5, 0.5), (3, 4, 0.1)):
        logits = rng.normal(scale=2.0, size=(n, vocabulary)) + 1000.0  # large: exp overflows
        token_ids = rng.integers(0, vocabulary, n)
        value, problem = call_for_number(function, logits.copy(), token_ids.copy(), k)
        if problem:
            return problem
        expected = min_k_plus_plus_solution(logits, token_ids, k)
        if math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):  # float32 work passes
            continue
        if not math.isfinite(value) and math.floor(k * n) == 0:
            return (
                f"with n = {n} tokens and k = {k}, ⌊k·n⌋ = 0: average at least one token, "
                "max(1, ⌊k·n⌋), as in Min-K%."
            )
        if not math.isfinite(value):
            return (
                f"your score is {value}: exp of a logit near 1000 overflows in the softmax; "
                "subtract each row's maximum first (it cancels)."
            )
        for wrong, message in _variants(logits, token_ids, k):
            if math.isclose(value, wrong, rel_tol=1e-4, abs_tol=1e-6):
                return message
        return f"not yet: {n} tokens, k = {k}; expected {expected:.4f}, got {value:.4f}."
    return None


q1 = Exercise(
    "q1",
    _check_min_k_plus_plus,
    hint="Turn each row of logits into log-probabilities (log-softmax); μ is the sum over the "
    "vocabulary of p·log p, σ² the sum of p·(log p − μ)². Standardise each token's own log p, "
    "then average the lowest ⌊k·n⌋ of them.",
    solution=min_k_plus_plus_solution,
)


# q2: which non-member sets make a fair test? ----------------------------------------------------

_NONMEMBER_SETS = {
    "a": (
        "notes the hospital wrote in 2023, after the model was fine-tuned",
        "their dates alone tell them from the members (all written before 2022): a blind "
        "classifier separates the sets without the model, as in section 7.",
    ),
    "b": ("a random half of the hospital's notes, set aside before fine-tuning", None),
    "c": (
        "a partner hospital's notes, written in its shorthand template",
        "their template alone tells them from the members: the test would measure the "
        "template, not membership.",
    ),
    "d": (
        "notes the fine-tuned model generates",
        "a model's own samples are texts it finds likely: their loss is low because the model "
        "wrote them, which biases the test against finding members (and they may copy members).",
    ),
    "e": (
        "a random sample of the same years' notes, drawn by the hospital before it sent the rest "
        "to the developer",
        None,
    ),
    "f": (
        "notes of the same years and templates that the hospital published, on which the public "
        "base model was pretrained",
        "no blind classifier tells them from the members, but the base model was trained on "
        "them: their loss under the base is low, which pushes the reference attack's score down "
        "and the loss attack's up. Non-members must be outside every model the attack queries.",
    ),
}
FAIR = frozenset(letter for letter, (_, why) in _NONMEMBER_SETS.items() if why is None)


# Fair: drawn from the members' distribution (source, dates, template), never trained on.
fair_nonmembers_solution = {"b", "e"}


def _check_fair(value):
    if isinstance(value, str):
        value = {value}
    if not isinstance(value, (set, frozenset, list, tuple)) or not all(
        isinstance(v, str) for v in value
    ):
        return 'answer with a set of letters, such as {"a", "c"}.'
    chosen = {v.strip().lower() for v in value}
    unknown = chosen - set(_NONMEMBER_SETS)
    if unknown:
        return f"the sets are lettered a to f; {sorted(unknown)} is not one of them."
    for letter in sorted(chosen - FAIR):
        return f"not ({letter}): {_NONMEMBER_SETS[letter][1]}"
    missing = FAIR - chosen
    if missing:
        letter = sorted(missing)[0]
        return (
            f"({letter}) is fair too: {_NONMEMBER_SETS[letter][0]}: drawn from the members' "
            "distribution, and never trained on."
        )
    return None


q2 = Exercise(
    "q2",
    _check_fair,
    hint="A fair non-member set could have been a member set: same source, same dates, same "
    "templates, and only chance decided it was left out. Ask of each set whether a classifier "
    "that never sees the model could tell it from the members.",
    solution=(
        '{"b", "e"}: both come from the members\' distribution (same hospital, dates and '
        "templates), chosen at random, and were never trained on. (a) differs by date and (c) by "
        "template: a blind classifier tells them from the members without the model. (d) is the "
        "model's own output: its loss is low because the model wrote it. (f) looks like the "
        "members, but the base model was trained on it, which biases every attack that uses the "
        "base or inherits from it."
    ),
)


# q3: which reference model for the fine-tuned target? --------------------------------------------

_REFERENCES = {
    "a": None,
    "b": (
        "a copy of the target fine-tuned once more on all the candidates has seen members and "
        "non-members alike: it lowers every candidate's loss and cancels the very signal the "
        "attack looks for."
    ),
    "c": (
        "a model trained from scratch on the shifted notes (2022 on, other templates) knows a "
        "different distribution: it calibrates each note's difficulty poorly, and its loss on "
        "the candidates mostly measures the shift."
    ),
    "e": (
        "a model of the same architecture pretrained on the same public corpus with another seed "
        "is a fair reference when the exact base is unknown (it saw no candidate), but it is not "
        "the target's starting point: it calibrates each note less precisely. Prefer the base "
        "itself when it is public, as here."
    ),
    "d": (
        "the target's own checkpoint after 2 epochs has already seen the members (the loss and "
        "reference attacks beat chance at 2 epochs, section 3): subtracting it removes part of "
        "the signal. And an outside attacker would not have that checkpoint."
    ),
}


def _check_reference(answer):
    if not isinstance(answer, str) or answer.strip().lower() not in _REFERENCES:
        return 'answer with one letter, "a" to "e".'
    return _REFERENCES[answer.strip().lower()]


reference_solution = "a"

q3 = Exercise(
    "q3",
    _check_reference,
    hint="The reference should find a note as easy or as hard as the target would if the note "
    "had not been in the fine-tuning data: same language and style, and never trained on any "
    "candidate.",
    solution=(
        '"a", the base model the target was fine-tuned from (Mireshghallah et al. 2022). It '
        "knows the language as the target did before fine-tuning and has seen no candidate, so "
        "NLL_base − NLL_target isolates what fine-tuning added to each note."
    ),
)
