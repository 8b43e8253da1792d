"""The character language model of lesson 06: training, log-probabilities, and canaries."""

import math

import numpy as np
import pytest
import torch

import mialab as ml
from mialab.defenses import dp
from mialab.defenses.dp import DPSettings

TEMPLATE = "Note for patient ID {}: call the family before discharge."


@pytest.fixture(scope="module")
def notes():
    return ml.data.load_notes()


@pytest.fixture(scope="module")
def alphabet(notes):
    return "\n" + "".join(sorted(set("".join(notes.text)) - {"\n"}))


def test_token_logprobs_are_the_models_next_character_probabilities(alphabet):
    model = ml.models.char_lm(alphabet, width=16, seed=3)
    (logprobs,) = ml.training.token_logprobs(model, ["ab c"])
    assert logprobs.shape == (5,) and (logprobs <= 0).all()  # 4 characters and the closing "\n"
    codes = [alphabet.index(c) for c in "\nab c\n"]
    with torch.no_grad():
        by_hand = torch.log_softmax(model(torch.tensor([codes[:-1]])), -1)[0]
    np.testing.assert_allclose(logprobs, [by_hand[i, c].item() for i, c in enumerate(codes[1:])])


def test_language_model_training_is_seeded_and_names_bad_text(alphabet):
    def weights(seed):
        model = ml.training.fit_lm(
            ml.models.char_lm(alphabet, width=16), ["abc", "cab"], epochs=2, seed=seed
        )
        return torch.cat([p.flatten() for p in model.parameters()])

    assert torch.equal(weights(0), weights(0)) and not torch.equal(weights(0), weights(1))
    model = ml.models.char_lm(alphabet, width=16)
    with pytest.raises(ValueError, match="outside the alphabet"):
        ml.training.token_logprobs(model, ["naïve ∑"])
    with pytest.raises(TypeError, match=r"texts\[1\] must be a string"):
        ml.training.token_logprobs(model, ["a", 3])
    with pytest.raises(ValueError, match="including a newline"):
        ml.models.char_lm("abc")


def test_a_canary_seen_16_times_is_exposed_and_dp_sgd_hides_it(notes, alphabet):
    members = notes[notes.split == "member"]
    inserted = members[members.secret != ""]
    texts = inserted.text.tolist() + members[members.secret == ""].text.tolist()[:300]
    rng = np.random.default_rng(0)
    others = ["-".join(map(str, rng.integers(0, 10, 6))) for _ in range(1000)]
    recipe = dict(epochs=8, batch_size=64, lr=1e-2, seed=0)

    def mean_exposure(model, *repeat_counts):
        """Mean estimated exposure (bits) of the secrets inserted k times, for each k given."""
        sample = _total_logprobs(model, others)  # the candidates, scored once per model
        secrets = {k: inserted[inserted.repeats == k].secret.unique() for k in repeat_counts}
        return [
            np.mean([
                ml.attacks.exposure_estimate(logprob, sample, space_size=10**6)
                for logprob in _total_logprobs(model, secrets[k])
            ])
            for k in repeat_counts
        ]  # fmt: skip

    plain, _ = dp.fit_private_lm(
        ml.models.char_lm(alphabet), texts, privacy=DPSettings(target_epsilon=math.inf), **recipe
    )
    private, epsilon = dp.fit_private_lm(
        ml.models.char_lm(alphabet), texts,
        privacy=DPSettings(target_epsilon=1.0, accountant="rdp"), **recipe,
    )  # fmt: skip
    once, sixteen = mean_exposure(plain, 1, 16)
    assert sixteen > once + 4, (once, sixteen)  # measured 1.4 and 11.3 bits
    (hidden,) = mean_exposure(private, 16)
    assert epsilon == pytest.approx(1.0, abs=0.05)
    assert hidden < sixteen - 4 and hidden < 3, (sixteen, hidden)  # measured 1.0 bits


def _total_logprobs(model, secrets):
    """Each secret's canary text, scored whole: its total log-probability under ``model``."""
    return ml.training.total_logprobs(model, [TEMPLATE.format(s) for s in secrets])


def test_generation_is_seeded_and_greedy_at_temperature_zero(alphabet):
    model = ml.training.fit_lm(
        ml.models.char_lm(alphabet), ["Note 1.", "Note 2.", "Note 3."] * 10, epochs=10
    )
    first = ml.training.generate(model, 20, prefix="No", seed=0)
    assert first == ml.training.generate(model, 20, prefix="No", seed=0)
    assert first != ml.training.generate(model, 20, prefix="No", seed=1)
    assert all(text.startswith("No") and "\n" not in text for text in first)
    greedy = ml.training.generate(model, 3, prefix="No", temperature=0)
    assert greedy == [ml.training.complete(model, "No")] * 3
    assert ml.training.complete(model, "No").startswith("Note ")
    # A tiny temperature is greedy in the limit, without overflowing to NaN probabilities.
    assert ml.training.generate(model, 3, prefix="No", temperature=1e-300) == greedy
    with pytest.raises(ValueError, match="temperature"):
        ml.training.generate(model, temperature=-1)
    for call in (ml.training.generate, ml.training.complete, ml.training.token_logprobs):
        with pytest.raises(TypeError, match="model must be a mialab CharLM"):
            call(ml.models.mlp(4, 2), ["No"] if call is ml.training.token_logprobs else "No")
    with pytest.raises(ValueError, match=r"prefix\[0\] has characters outside"):
        ml.training.generate(model, prefix="ü")
    with pytest.raises(ValueError, match="context"):
        ml.training.token_logprobs(model, ["a" * 200])


def test_sequence_loss_is_the_mean_negative_log_probability_of_the_real_characters(alphabet):
    model = ml.models.char_lm(alphabet, width=16, seed=1)
    texts = ["a note", "ab", "Note for patient 7."]
    tokens, targets = model.encode(texts)
    assert tokens.shape == targets.shape == (3, len(texts[2]) + 1)
    assert (targets == -100).sum() == 2 * len(texts[2]) - len(texts[0]) - len(texts[1])
    with torch.no_grad():
        loss = ml.models.sequence_loss(model, tokens, targets)
    by_text = ml.training.token_logprobs(model, texts)
    assert [len(lp) for lp in by_text] == [len(t) + 1 for t in texts]
    np.testing.assert_allclose(float(loss), -np.concatenate(by_text).mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="tokens has shape"):
        ml.models.sequence_loss(model, tokens, targets[:1])
