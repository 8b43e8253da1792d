"""The character language model of lesson 06: training, log-probabilities, and canaries."""

import numpy as np
import pytest
import torch

import mialab as ml

TEMPLATE = "Note for patient ID {}: call the family before discharge."


@pytest.fixture(scope="module")
def notes():
    return ml.data.load_notes()


@pytest.fixture(scope="module")
def alphabet(notes):
    return "\n" + "".join(sorted(set("".join(notes.text)) - {"\n"}))


def test_token_logprobs_are_the_models_next_character_probabilities(alphabet):
    model = ml.models.char_lm(alphabet, hidden=16, seed=3)
    (logprobs,) = ml.training.token_logprobs(model, ["ab c"])
    assert logprobs.shape == (5,) and (logprobs <= 0).all()  # 4 characters and the closing "\n"
    codes = [alphabet.index(c) for c in "\nab c\n"]
    with torch.no_grad():
        by_hand = torch.log_softmax(model(torch.tensor([codes[:-1]])), -1)[0]
    np.testing.assert_allclose(logprobs, [by_hand[i, c].item() for i, c in enumerate(codes[1:])])


def test_language_model_training_is_seeded_and_names_bad_text(alphabet):
    def weights(seed):
        model = ml.training.fit_lm(
            ml.models.char_lm(alphabet, hidden=16), ["abc", "cab"], epochs=2, seed=seed,
            progress=False,
        )  # fmt: skip
        return torch.cat([p.flatten() for p in model.parameters()])

    assert torch.equal(weights(0), weights(0)) and not torch.equal(weights(0), weights(1))
    model = ml.models.char_lm(alphabet, hidden=16)
    with pytest.raises(ValueError, match="outside the alphabet"):
        ml.training.token_logprobs(model, ["naïve ∑"])
    with pytest.raises(TypeError, match=r"texts\[1\] must be a string"):
        ml.training.token_logprobs(model, ["a", 3])
    with pytest.raises(ValueError, match="including a newline"):
        ml.models.char_lm("abc")


def test_a_canary_seen_16_times_is_more_exposed_than_one_seen_once(notes, alphabet):
    members = notes[notes.split == "member"].text.tolist()
    model = ml.training.fit_lm(
        ml.models.char_lm(alphabet, seed=0), members, epochs=4, seed=0, progress=False
    )
    rng = np.random.default_rng(0)
    secrets = ["-".join(map(str, rng.integers(0, 10, 6))) for _ in range(2000)]
    texts = [TEMPLATE.format(s) for s in secrets]
    sample = np.array([lp.sum() for lp in ml.training.token_logprobs(model, texts)])
    inserted = notes[(notes.split == "member") & (notes.secret != "")].drop_duplicates("secret")

    def mean_exposure(repeats):
        secrets = inserted[inserted.repeats == repeats].secret
        logprobs = ml.training.token_logprobs(model, [TEMPLATE.format(s) for s in secrets])
        return np.mean(
            [ml.attacks.exposure_estimate(lp.sum(), sample, space_size=10**6) for lp in logprobs]
        )

    once, sixteen = mean_exposure(1), mean_exposure(16)
    assert sixteen > once + 2, (once, sixteen)  # measured 0.7 and 6.1 bits after 4 epochs
