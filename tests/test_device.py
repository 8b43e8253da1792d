"""device=: resolved and checked by one function, used by every training and inference call;
models come back on the CPU (inference leaves them where they were), arrays are NumPy."""

import contextlib
import math
from functools import partial

import numpy as np
import pytest
import torch

import mialab as ml
from mialab.defenses import dp
from mialab.training import classifiers, gans, huggingface, language, loop

TEXTS = ["ab", "ba", "aab", "bab"] * 4
HF_TEXTS = ["the cat sat", "a dog ran", "the dog sat on the mat"] * 4


@pytest.fixture(scope="module")
def tokenizer():
    return ml.training.train_tokenizer(HF_TEXTS, vocab_size=280)


def tiny_gpt2(tokenizer):
    return ml.models.tiny_gpt2(tokenizer, width=16, layers=1, heads=2, context=32)


def weights(*models):
    return torch.cat([p.detach().flatten().cpu() for m in models for p in m.parameters()])


@pytest.fixture(scope="module")
def small(digits):
    return digits.subset(range(96))


def test_auto_is_cuda_when_available_else_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ml.training.resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ml.training.resolve_device("auto") == torch.device("cuda")
    assert ml.training.resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert isinstance(ml.training.resolve_device("cpu"), torch.device)


def test_bad_devices_are_refused_by_name(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:0", torch.device("cuda"), "gpu", "meta", "cpu ", ""):
        with pytest.raises(ValueError, match="device"):
            ml.training.resolve_device(device)
    for device in (None, 0, 1.5, ["cpu"]):
        with pytest.raises(TypeError, match="device must be a string"):
            ml.training.resolve_device(device)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"device='cuda:1', but this machine has 1 CUDA"):
        ml.training.resolve_device("cuda:1")
    with pytest.raises(ValueError, match="device"):
        ml.training.fit(ml.models.mlp(64, 10), (np.zeros((4, 64)), np.arange(4)), device="cuda:1")


def test_cpu_as_a_string_or_a_torch_device_gives_identical_results(small):
    results = []
    for device in ("cpu", torch.device("cpu")):
        model = ml.training.fit(ml.models.mlp(64, 10), small, epochs=2, device=device)
        refs, _ = ml.training.fit_many(
            partial(ml.models.mlp, 64, 10), small, 2, epochs=2, device=device
        )
        g, d = ml.training.fit_gan(*ml.models.gan(64), small, epochs=2, device=device)
        lm = ml.training.fit_lm(ml.models.char_lm("\nab", width=16), TEXTS, epochs=2,
                                device=device)  # fmt: skip
        private, _ = dp.fit_private(
            ml.models.mlp(64, 10), small, privacy=dp.DPSettings(noise_multiplier=1.0),
            epochs=1, device=device,
        )  # fmt: skip
        results.append([
            weights(model), weights(*refs), weights(g, d), weights(lm), weights(private),
            ml.training.predict_logits(model, small.X, device=device),
            ml.training.sample(g, 5, device=device),
            ml.training.total_logprobs(lm, TEXTS, device=device),
            ml.training.generate(lm, 3, max_chars=5, device=device),
        ])  # fmt: skip
    for a, b in zip(*results, strict=True):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b)
        elif isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


def test_every_call_runs_its_models_on_the_resolved_device(monkeypatch, small, tokenizer):
    """Each function asks resolve_device once, then runs each model it uses there: trainers send
    the models back to the CPU, inference back to where they were. A stand-in device (the CPU
    under another object) shows that the resolved device, not the argument, is the one used."""
    resolved = torch.device("cpu")
    calls = []

    def fake_resolve(device):
        assert device == "auto"
        calls.append("resolve")
        return resolved

    real_on_device = loop.on_device

    @contextlib.contextmanager
    def recording_on_device(device, *models, back_home=False):
        assert device is resolved
        calls.append(("on_device", tuple(type(m).__name__ for m in models), back_home))
        with real_on_device(device, *models, back_home=back_home):
            yield

    for module in (classifiers, gans, language, huggingface, dp):
        monkeypatch.setattr(module, "resolve_device", fake_resolve)
        monkeypatch.setattr(module, "on_device", recording_on_device)

    g, d = ml.models.gan(64)
    lm = ml.models.char_lm("\nab", width=16)
    mlp = ml.models.mlp(64, 10)
    gpt = tiny_gpt2(tokenizer)
    cases = [
        (lambda: ml.training.fit(mlp, small, epochs=1, device="auto"), ("Sequential",), False),
        (
            lambda: ml.training.learning_curves(mlp, small, epochs=1, device="auto"),
            ("Sequential",),
            False,
        ),
        (lambda: ml.training.predict_logits(mlp, small.X, device="auto"), ("Sequential",), True),
        (
            lambda: ml.training.fit_gan(g, d, small, epochs=1, device="auto"),
            ("Sequential", "Sequential"),
            False,
        ),
        (lambda: ml.training.sample(g, 3, device="auto"), ("Sequential",), True),
        (lambda: ml.training.fit_lm(lm, TEXTS, epochs=1, device="auto"), ("CharLM",), False),
        (lambda: ml.training.token_logprobs(lm, TEXTS, device="auto"), ("CharLM",), True),
        (lambda: ml.training.total_logprobs(lm, TEXTS, device="auto"), ("CharLM",), True),
        (lambda: ml.training.generate(lm, 2, max_chars=3, device="auto"), ("CharLM",), True),
        (lambda: ml.training.complete(lm, "a", max_chars=3, device="auto"), ("CharLM",), True),
        (
            lambda: dp.fit_private(
                mlp, small, privacy=dp.DPSettings(noise_multiplier=1.0), epochs=1, device="auto"
            ),  # fmt: skip
            ("Sequential",),
            False,
        ),
        (
            lambda: dp.fit_private_gan(
                g, d, small, privacy=dp.DPSettings(noise_multiplier=1.0), epochs=1, device="auto"
            ),  # fmt: skip
            ("Sequential", "Sequential"),
            False,
        ),
        (
            lambda: dp.fit_private_lm(
                lm, TEXTS, privacy=dp.DPSettings(noise_multiplier=1.0), epochs=1, device="auto"
            ),  # fmt: skip
            ("CharLM",),
            False,
        ),
        (
            lambda: ml.training.fit_hf_lm(gpt, tokenizer, HF_TEXTS, epochs=1, device="auto"),
            ("GPT2LMHeadModel",),
            False,
        ),
        (
            lambda: ml.training.hf_token_logprobs(gpt, tokenizer, HF_TEXTS, device="auto"),
            ("GPT2LMHeadModel",),
            True,
        ),
        (
            lambda: dp.fit_private_hf_lm(
                gpt,
                tokenizer,
                HF_TEXTS,
                privacy=dp.DPSettings(noise_multiplier=1.0),
                epochs=1,
                batch_size=4,
                device="auto",
            ),
            ("GPT2LMHeadModel",),
            False,
        ),
    ]
    for call, models, back_home in cases:
        calls.clear()
        call()
        assert calls == ["resolve", ("on_device", models, back_home)], calls


def test_on_device_moves_back_to_the_cpu_even_after_an_error():
    moves = []

    class Recording(torch.nn.Linear):
        def to(self, *args, **kwargs):
            moves.append(torch.device(args[0]))
            return super().to(*args, **kwargs)

    model = Recording(2, 2)
    with pytest.raises(RuntimeError, match="boom"), loop.on_device(torch.device("cpu"), model):
        raise RuntimeError("boom")
    assert moves == [torch.device("cpu"), torch.device("cpu")]


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@needs_cuda
def test_everything_runs_on_cuda_and_agrees_with_the_cpu(small, tokenizer):
    """Same seeds on "cuda" and on the CPU: the same batches and noise (drawn on the CPU), so
    the results agree up to float rounding; models come back on the CPU, arrays are NumPy."""

    def run(device):
        out = {}
        model = ml.training.fit(ml.models.mlp(64, 10), small, epochs=3, device=device)
        curves = ml.training.learning_curves(ml.models.mlp(64, 10), small, epochs=3, device=device)
        refs, mask = ml.training.fit_many(
            partial(ml.models.mlp, 64, 10), small, 4, epochs=3, device=device
        )
        g, d = ml.training.fit_gan(*ml.models.gan(64), small, epochs=3, device=device)
        lm = ml.training.fit_lm(ml.models.char_lm("\nab", width=16), TEXTS, epochs=3,
                                device=device)  # fmt: skip
        twin, epsilon = dp.fit_private(
            ml.models.mlp(64, 10), small, privacy=dp.DPSettings(noise_multiplier=0), epochs=2,
            device=device,
        )  # fmt: skip
        _, _, gan_epsilon = dp.fit_private_gan(
            *ml.models.gan(64), small, privacy=dp.DPSettings(noise_multiplier=0), epochs=1,
            device=device,
        )  # fmt: skip
        lm_twin, _ = dp.fit_private_lm(
            ml.models.char_lm("\nab", width=16), TEXTS,
            privacy=dp.DPSettings(noise_multiplier=0), epochs=2, device=device,
        )  # fmt: skip
        gpt = ml.training.fit_hf_lm(tiny_gpt2(tokenizer), tokenizer, HF_TEXTS, epochs=3,
                                    batch_size=4, device=device)  # fmt: skip
        gpt_twin, gpt_epsilon = dp.fit_private_hf_lm(
            tiny_gpt2(tokenizer), tokenizer, HF_TEXTS, privacy=dp.DPSettings(noise_multiplier=0),
            epochs=2, batch_size=4, device=device,
        )  # fmt: skip
        for m in (model, *refs, g, d, lm, twin, lm_twin, gpt, gpt_twin):
            assert all(p.device.type == "cpu" for p in m.parameters())
        out["logits"] = ml.training.predict_logits(model, small.X, device=device)
        out["ref logits"] = ml.training.predict_logits(refs, small.X, device=device)
        out["curves"] = curves[["train_loss", "train_accuracy"]].to_numpy()
        out["samples"] = ml.training.sample(g, 8, device=device)
        out["logprobs"] = ml.training.total_logprobs(lm, TEXTS, device=device)
        out["twin logits"] = ml.training.predict_logits(twin, small.X, device=device)
        out["lm twin"] = ml.training.total_logprobs(lm_twin, TEXTS, device=device)
        out["greedy"] = ml.training.complete(lm, "a", max_chars=8, device=device)
        for name, gpt_model in (("gpt", gpt), ("gpt twin", gpt_twin)):
            moments = ml.training.hf_token_logprobs(gpt_model, tokenizer, HF_TEXTS, batch_size=5,
                                                    device=device, return_moments=True)  # fmt: skip
            for what, arrays in zip(("logprobs", "means", "stds"), moments, strict=True):
                out[f"{name} {what}"] = np.concatenate(arrays)
        assert epsilon == math.inf and gan_epsilon == math.inf and gpt_epsilon == math.inf
        assert np.array_equal(mask, ml.training.fit_many(
            partial(ml.models.mlp, 64, 10), small, 4, epochs=1)[1])  # fmt: skip
        return out

    cpu, cuda = run("cpu"), run("cuda")
    for name in cpu:
        if isinstance(cpu[name], np.ndarray):
            assert isinstance(cuda[name], np.ndarray), name
            np.testing.assert_allclose(cuda[name], cpu[name], rtol=1e-3, atol=1e-3, err_msg=name)
    assert isinstance(cuda["greedy"], str)
    # A model on the GPU is read there and left there.
    model = ml.models.mlp(64, 10).cuda()
    ml.training.predict_logits(model, small.X, device="cuda")
    ml.training.predict_logits(model, small.X)  # on the CPU, then back
    assert next(model.parameters()).device.type == "cuda"
    gpt = tiny_gpt2(tokenizer).cuda()
    ml.training.hf_token_logprobs(gpt, tokenizer, HF_TEXTS, device="cuda")
    ml.training.hf_token_logprobs(gpt, tokenizer, HF_TEXTS)  # on the CPU, then back
    assert all(p.device.type == "cuda" for p in gpt.parameters())
    gpt = tiny_gpt2(tokenizer)  # and a model on the CPU, read on the GPU, stays on the CPU
    ml.training.hf_token_logprobs(gpt, tokenizer, HF_TEXTS, device="cuda")
    assert all(p.device.type == "cpu" for p in gpt.parameters())
