"""Hugging Face causal language models: per-token log-probabilities, training, DP-SGD and
Min-K%++ (lesson 09)."""

import copy
import math
import socket
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers.models import WordLevel
from torch import nn
from transformers import PreTrainedTokenizerFast

from mialab import attacks, data, metrics, models, training
from mialab.defenses import dp

TEXTS = ["the cat sat on the mat", "a dog ran", "the cat ran on a mat", "dogs", "x" * 12]


@pytest.fixture(scope="module")
def tokenizer():
    return training.train_tokenizer(TEXTS * 3, vocab_size=300)


@pytest.fixture(scope="module")
def lm(tokenizer):
    return training.fit_hf_lm(
        models.tiny_gpt2(tokenizer, width=32, layers=2, heads=2, context=32), tokenizer, TEXTS,
        epochs=3, lr=3e-3,
    )  # fmt: skip


def one_by_one(model, tokenizer, texts, *, bos=True):
    """Each text alone, unpadded, through the model: the log-probability of each next token."""
    out = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([([tokenizer.bos_token_id] if bos else []) + ids])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
        out.append(logp.gather(1, ids[0, 1:, None])[:, 0].double().numpy())
    return out


@pytest.mark.parametrize("batch_size", [1, 2, 64])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_logprobs_equal_an_unbatched_unpadded_computation(lm, tokenizer, batch_size, padding_side):
    tok = copy.deepcopy(tokenizer)
    tok.padding_side = padding_side
    tok.pad_token = "<|endoftext|>"
    got = training.hf_token_logprobs(lm, tok, TEXTS, batch_size=batch_size)
    expected = one_by_one(lm, tokenizer, TEXTS)
    assert [len(g) for g in got] == [len(e) for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, e, atol=2e-5)


def test_a_tokenizer_without_a_pad_token_gives_the_same_values(lm, tokenizer):
    assert tokenizer.pad_token is None  # like GPT-2's
    padded_tok = copy.deepcopy(tokenizer)
    padded_tok.pad_token = "<|endoftext|>"
    for a, b in zip(
        training.hf_token_logprobs(lm, tokenizer, TEXTS, batch_size=5),
        training.hf_token_logprobs(lm, padded_tok, TEXTS, batch_size=5),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_without_a_bos_token_the_first_token_is_not_scored(lm, tokenizer):
    no_bos = copy.deepcopy(tokenizer)
    no_bos.bos_token = None
    assert no_bos.bos_token_id is None
    got = training.hf_token_logprobs(lm, no_bos, TEXTS[:3])
    expected = one_by_one(lm, tokenizer, TEXTS[:3], bos=False)
    for g, e, text in zip(got, expected, TEXTS[:3], strict=True):
        assert len(g) == len(tokenizer(text)["input_ids"]) - 1
        np.testing.assert_allclose(g, e, atol=2e-5)
    with pytest.raises(ValueError, match=r"texts\[0\] is a single token .* no bos_token"):
        training.hf_token_logprobs(lm, no_bos, ["the"])


class CharLMAsHuggingFace(nn.Module):
    """A mialab character model behind the interface of a Hugging Face causal LM."""

    def __init__(self, char_lm):
        super().__init__()
        self.char_lm = char_lm
        self.config = SimpleNamespace(max_position_embeddings=char_lm.context)

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.char_lm(input_ids))


def character_tokenizer(alphabet):
    """One token per character, numbered as the character model numbers them; "\\n" opens."""
    vocab = {c: i for i, c in enumerate(alphabet)}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="\n"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="\n")


def test_wrapped_around_the_character_model_it_gives_the_character_models_values():
    alphabet = "\nabc "
    char_lm = training.fit_lm(models.char_lm(alphabet), ["abc ab", "ca b"], epochs=2)
    texts = ["abc ab", "ca", "b c a"]
    tokenizer = character_tokenizer(alphabet)
    # The character model scores a text and its closing newline, given an opening one.
    wrapped = training.hf_token_logprobs(
        CharLMAsHuggingFace(char_lm), tokenizer, [t + "\n" for t in texts], return_moments=True
    )
    direct = training.token_logprobs(char_lm, texts, return_moments=True)
    for got, expected in zip(wrapped, direct, strict=True):
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e, atol=1e-5)


class FixedLogits(nn.Module):
    """A 'model' that gives the same logits at every position of every text."""

    def __init__(self, logits):
        super().__init__()
        self.register_buffer("logits", torch.tensor(logits, dtype=torch.float32))
        self.config = SimpleNamespace(max_position_embeddings=16)

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.logits.expand(*input_ids.shape, -1))


def test_min_k_plus_plus_equals_its_formula_on_fixed_logits():
    alphabet = "\nabcd"
    logits = np.array([2.0, 0.5, -1.0, 1.0, 0.0])
    tokenizer = character_tokenizer(alphabet)
    text = "abcdab"
    logprobs, means, stds = training.hf_token_logprobs(
        FixedLogits(logits), tokenizer, [text], return_moments=True
    )
    # By hand: the log-softmax, its mean and variance under p, the z of each token of the text.
    logp = logits - np.log(np.exp(logits).sum())
    p = np.exp(logp)
    mu = (p * logp).sum()
    sigma = math.sqrt((p * (logp - mu) ** 2).sum())
    z = np.array([(logp[alphabet.index(c)] - mu) / sigma for c in text])
    np.testing.assert_allclose(logprobs[0], [logp[alphabet.index(c)] for c in text], atol=1e-6)
    np.testing.assert_allclose(means[0], mu, atol=1e-6)
    np.testing.assert_allclose(stds[0], sigma, atol=1e-6)
    for k, lowest in ((0.2, 1), (0.5, 3), (1.0, 6)):
        score = attacks.lm_min_k_plus_plus_score(logprobs, means, stds, k=k)
        np.testing.assert_allclose(score, [np.sort(z)[:lowest].mean()], atol=1e-6)


def test_min_k_plus_plus_refuses_mismatched_or_degenerate_moments():
    lp = [np.log([0.5, 0.2])]
    with pytest.raises(ValueError, match="vocab_means must hold one array per text: 2 vs 1"):
        attacks.lm_min_k_plus_plus_score(lp, [[-1.0, -1.0], [-1.0, -1.0]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="one value per token: 2, 1, 2"):
        attacks.lm_min_k_plus_plus_score(lp, [[-1.0]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match=r"vocab_stds\[0\] holds a value ≤ 0"):
        attacks.lm_min_k_plus_plus_score(lp, [[-1.0, -1.0]], [[1.0, 0.0]])
    with pytest.raises(ValueError, match=r"vocab_means\[0\]"):
        attacks.lm_min_k_plus_plus_score(lp, [[-1.0, np.nan]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="k"):
        attacks.lm_min_k_plus_plus_score(lp, [[-1.0, -1.0]], [[1.0, 1.0]], k=0)


def texts_of_two_difficulties(n, rng):
    """Half the texts are six words of a six-word vocabulary (easy to predict), half six random
    three-letter strings (hard): a loss that ignores difficulty mistakes easy for member."""
    easy = "the cat sat on a mat".split()
    texts = []
    for i in range(n):
        if i % 2:
            texts.append(" ".join("".join(rng.choice(list("bcdfghk"), 3)) for _ in range(6)))
        else:
            texts.append(" ".join(rng.choice(easy, 6)))
    return texts


@pytest.fixture(scope="module")
def fine_tuning():
    """A base model pretrained on population texts, fine-tuned on members (many epochs)."""
    rng = np.random.default_rng(0)
    population, members, nonmembers = (texts_of_two_difficulties(n, rng) for n in (400, 150, 150))
    tokenizer = training.train_tokenizer(population, vocab_size=300)
    small = dict(width=32, layers=1, heads=2, context=32)
    base = training.fit_hf_lm(models.tiny_gpt2(tokenizer, **small), tokenizer, population,
                              epochs=10, lr=3e-3)  # fmt: skip
    target = training.fit_hf_lm(copy.deepcopy(base), tokenizer, members, epochs=20, lr=3e-3,
                                seed=1)  # fmt: skip
    elsewhere = texts_of_two_difficulties(150, rng)  # texts that are neither members nor not
    other = training.fit_hf_lm(copy.deepcopy(base), tokenizer, elsewhere, epochs=20, lr=3e-3,
                               seed=2)  # fmt: skip
    texts = members + nonmembers
    is_member = data.membership_labels(len(members), len(nonmembers))
    return SimpleNamespace(tokenizer=tokenizer, base=base, target=target, other=other,
                           texts=texts, is_member=is_member)  # fmt: skip


def all_scores(model, run):
    logprobs, means, stds = training.hf_token_logprobs(
        model, run.tokenizer, run.texts, batch_size=64, return_moments=True
    )
    reference = training.hf_token_logprobs(run.base, run.tokenizer, run.texts, batch_size=64)
    return {
        "loss": attacks.lm_loss_score(logprobs),
        "zlib": attacks.lm_zlib_score(logprobs, run.texts),
        "min-k": attacks.lm_min_k_score(logprobs),
        "min-k++": attacks.lm_min_k_plus_plus_score(logprobs, means, stds),
        "reference": attacks.lm_reference_score(logprobs, reference),
    }


def test_on_a_fine_tuned_model_the_base_as_reference_beats_the_loss_at_1pct_fpr(fine_tuning):
    scores = all_scores(fine_tuning.target, fine_tuning)
    results = {k: metrics.evaluate(s, fine_tuning.is_member, name=k) for k, s in scores.items()}
    for result in results.values():
        assert result.auc_ci[0] > 0.5, result.name  # every attack sees the fine-tuning
    gain = metrics.compare(results["reference"], results["loss"], fpr=0.01)
    assert gain.low > 0, gain  # paired bootstrap over the same texts


def test_on_models_that_never_saw_the_candidates_every_attack_is_within_noise(fine_tuning):
    # The base (pretrained on other texts) and a model fine-tuned on other texts.
    for model in (fine_tuning.base, fine_tuning.other):
        for name, score in all_scores(model, fine_tuning).items():
            if model is fine_tuning.base and name == "reference":
                continue  # the base against itself: every score is 0
            low, high = metrics.evaluate(score, fine_tuning.is_member).auc_ci
            assert low < 0.5 < high, (name, low, high)


def test_the_same_seed_trains_the_same_weights_and_another_seed_others(tokenizer):
    def trained(seed):
        model = models.tiny_gpt2(tokenizer, width=16, layers=1, heads=2, context=32, seed=seed)
        return training.fit_hf_lm(model, tokenizer, TEXTS, epochs=2, seed=seed).state_dict()

    a, b, c = trained(0), trained(0), trained(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_training_lowers_the_loss_of_the_training_texts(tokenizer):
    model = models.tiny_gpt2(tokenizer, width=32, layers=1, heads=2, context=32)
    before = attacks.lm_loss_score(training.hf_token_logprobs(model, tokenizer, TEXTS))
    training.fit_hf_lm(model, tokenizer, TEXTS, epochs=20, lr=3e-3)
    after = attacks.lm_loss_score(training.hf_token_logprobs(model, tokenizer, TEXTS))
    assert np.all(after > before + 1.0)
    assert not model.training and next(model.parameters()).device.type == "cpu"


def test_only_parameters_that_require_gradients_are_trained(tokenizer):
    model = models.tiny_gpt2(tokenizer, width=16, layers=1, heads=2, context=32)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith("lm_head")
    before = copy.deepcopy(model.state_dict())
    training.fit_hf_lm(model, tokenizer, TEXTS, epochs=2)
    changed = {k for k in before if not torch.equal(before[k], model.state_dict()[k])}
    assert changed == {"lm_head.weight"}
    for parameter in model.parameters():
        parameter.requires_grad = False
    with pytest.raises(ValueError, match="no parameter that requires gradients"):
        training.fit_hf_lm(model, tokenizer, TEXTS, epochs=1)


def test_lora_through_peft_trains_its_adapters_and_is_scored_like_any_model(tokenizer):
    peft = pytest.importorskip("peft")
    model = models.tiny_gpt2(tokenizer, width=16, layers=1, heads=2, context=32)
    frozen = copy.deepcopy(model.state_dict())
    config = peft.LoraConfig(r=4, target_modules=["c_attn"], fan_in_fan_out=True)
    adapted = training.fit_hf_lm(peft.get_peft_model(model, config), tokenizer, TEXTS, epochs=2)
    state = adapted.state_dict()
    lora = [k for k in state if "lora_B" in k]
    assert lora and all(state[k].abs().sum() > 0 for k in lora)  # B starts at zero
    assert all(torch.equal(frozen[k], v) for k, v in model.state_dict().items() if k in frozen)
    assert len(training.hf_token_logprobs(adapted, tokenizer, TEXTS)) == len(TEXTS)


def test_train_tokenizer_is_deterministic_and_encodes_any_text():
    a = training.train_tokenizer(TEXTS, vocab_size=280)
    b = training.train_tokenizer(TEXTS, vocab_size=280)
    assert a.get_vocab() == b.get_vocab()
    assert a.bos_token == a.eos_token == "<|endoftext|>" and a.pad_token is None
    unseen = "Zoë ☃"  # characters the corpus never had: byte-level, so still encoded
    assert a.decode(a(unseen)["input_ids"]) == unseen


def test_tiny_gpt2_is_seeded_and_sized_by_its_tokenizer(tokenizer):
    a, b = models.tiny_gpt2(tokenizer, seed=3), models.tiny_gpt2(tokenizer, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert a.config.vocab_size == len(tokenizer)
    assert a.config.bos_token_id == tokenizer.bos_token_id
    assert a.lm_head.weight.data_ptr() != a.transformer.wte.weight.data_ptr()  # untied


def test_dp_fine_tuning_reports_its_epsilon_and_the_noise_free_twin_is_deterministic(tokenizer):
    def private(settings, seed=0):
        model = models.tiny_gpt2(tokenizer, width=16, layers=1, heads=2, context=32)
        return dp.fit_private_hf_lm(model, tokenizer, TEXTS * 8, privacy=settings, epochs=2,
                                    batch_size=8, seed=seed)  # fmt: skip

    model, epsilon = private(dp.DPSettings(target_epsilon=3.0))
    assert epsilon == pytest.approx(3.0, rel=0.05)
    assert not model.training
    twin = dp.DPSettings(noise_multiplier=0.0)
    (a, _), (b, _) = private(twin), private(twin)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def test_dp_takes_a_noise_only_step_when_a_poisson_draw_is_empty(tokenizer):
    # One text, batches of expected size 0.5: about three draws in five are empty.
    model = models.tiny_gpt2(tokenizer, width=16, layers=1, heads=2, context=32)
    before = copy.deepcopy(model.state_dict())
    model, epsilon = dp.fit_private_hf_lm(
        model, tokenizer, ["the cat"] * 2, privacy=dp.DPSettings(noise_multiplier=1.0),
        epochs=10, batch_size=1, seed=0,
    )  # fmt: skip
    assert np.isfinite(epsilon)
    assert not torch.equal(before["transformer.wte.weight"], model.transformer.wte.weight)


def test_hugging_face_functions_refuse_bad_input_by_name(lm, tokenizer):
    with pytest.raises(ValueError, match="texts is empty"):
        training.hf_token_logprobs(lm, tokenizer, [])
    with pytest.raises(ValueError, match=r"texts\[1\] is an empty string"):
        training.hf_token_logprobs(lm, tokenizer, ["a", ""])
    with pytest.raises(TypeError, match=r"texts\[0\] must be a string"):
        training.hf_token_logprobs(lm, tokenizer, [3])
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        training.hf_token_logprobs(lm, tokenizer, "the cat")
    with pytest.raises(ValueError, match=r"texts\[0\] has \d+ tokens .* at most 32"):
        training.hf_token_logprobs(lm, tokenizer, ["the cat " * 40])
    with pytest.raises(TypeError, match="tokenizer must be a Hugging Face tokenizer"):
        training.hf_token_logprobs(lm, "gpt2", TEXTS)
    with pytest.raises(TypeError, match="model must be a Hugging Face causal language model"):
        training.hf_token_logprobs(models.char_lm("\nab"), tokenizer, TEXTS)
    with pytest.raises(TypeError, match="return_moments must be True or False"):
        training.hf_token_logprobs(lm, tokenizer, TEXTS, return_moments="yes")
    with pytest.raises(ValueError, match="batch_size"):
        training.hf_token_logprobs(lm, tokenizer, TEXTS, batch_size=0)
    with pytest.raises(ValueError, match="vocab_size must be at least 257"):
        training.train_tokenizer(TEXTS, vocab_size=100)
    with pytest.raises(ValueError, match="width .* multiple of heads"):
        models.tiny_gpt2(tokenizer, width=10, heads=4)
    with pytest.raises(TypeError, match="tokenizer must be a Hugging Face tokenizer"):
        models.tiny_gpt2(None)


def test_nothing_leaves_the_machine(monkeypatch):
    # Building, training and scoring read no hub and look up no host.
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    tokenizer = training.train_tokenizer(TEXTS, vocab_size=280)
    model = models.tiny_gpt2(tokenizer, width=16, layers=1, heads=2, context=32)
    training.fit_hf_lm(model, tokenizer, TEXTS, epochs=1)
    training.hf_token_logprobs(model, tokenizer, TEXTS)
    assert not attempts


def per_text_gradients(model, batch_loss, *batch):
    """Opacus' per-example gradients of ``batch_loss`` (a batch mean), flattened per text."""
    from opacus import GradSampleModule

    private = GradSampleModule(copy.deepcopy(model).train())  # Opacus records in train mode
    batch_loss(private, *batch).backward()
    return torch.cat(
        [p.grad_sample.flatten(1) for p in private.parameters() if p.grad_sample is not None], 1
    )


@pytest.mark.parametrize("kind", ["character model", "GPT-2"])
def test_dp_losses_give_each_text_a_gradient_that_depends_on_it_alone(tokenizer, kind):
    # DP-SGD's sensitivity is the clipping norm only if adding a text leaves the others'
    # per-example gradients unchanged: a mean over the batch's tokens would rescale them.
    if kind == "GPT-2":
        model = models.tiny_gpt2(tokenizer, width=16, layers=1, heads=2, context=32)
        ids, mask = training.huggingface.padded(
            training.huggingface.encode(model, tokenizer, ["a dog ran", TEXTS[0]], end=True)
        )

        def loss(private, ids, mask):
            positions = torch.arange(ids.shape[1]).expand_as(ids)
            logits = private(input_ids=ids, attention_mask=mask, position_ids=positions).logits
            targets = training.huggingface.next_token_targets(ids, mask)
            return dp._mean_over_texts(logits[:, :-1], targets)

        short, both = (ids[:1, : int(mask[0].sum())], mask[:1, : int(mask[0].sum())]), (ids, mask)
    else:
        model = models.char_lm("\nabc ", width=16, layers=1, heads=2, context=32)
        tokens, targets = model.encode(["ab", "abc cab ba"])

        def loss(private, tokens, targets):
            return dp._mean_over_texts(private(tokens), targets)

        short, both = (tokens[:1, :3], targets[:1, :3]), (tokens, targets)
    alone = per_text_gradients(model, loss, *short)[0]
    beside_another = per_text_gradients(model, loss, *both)[0]
    torch.testing.assert_close(alone, beside_another, rtol=1e-4, atol=1e-6)
