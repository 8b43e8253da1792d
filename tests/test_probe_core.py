"""Bad-input probe of mialab.data, mialab.models, mialab.training and mialab.defenses.dp.

Each public callable has a valid call (``CALLS``: fresh tiny models, one epoch, a dozen records)
and per argument the values to spoil it with; the probe (``probing``) asserts that bad values
raise a ValueError/TypeError naming the argument and that the valid variants (lists, float32,
pandas Series, torch tensors, numpy scalars) are accepted.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from probing import OVERFLOW, assert_accepts, assert_rejects, bad_arrays, valid_variants
from torch import nn
from transformers import GPT2Model

from mialab import data, models, training
from mialab.defenses import dp

PROBED = {
    data.Dataset,
    data.MembershipSplit,
    data.arrays,
    data.features,
    data.membership_labels,
    data.load,
    data.load_notes,
    data.membership_split,
    data.partition,
    data.shifted,
    models.CharLM,
    models.char_lm,
    models.cnn,
    models.gan,
    models.latent_dim,
    models.mlp,
    models.sequence_loss,
    models.noise_schedule,
    models.Denoiser,
    models.denoiser,
    models.denoising_loss,
    models.alpha_bar_of,
    models.tiny_gpt2,
    training.resolve_device,
    training.fit,
    training.learning_curves,
    training.batches,
    training.fit_many,
    training.balanced_in_mask,
    training.predict_logits,
    training.fit_gan,
    training.sample,
    training.fit_lm,
    training.token_logprobs,
    training.total_logprobs,
    training.generate,
    training.complete,
    training.fit_diffusion,
    training.diffusion_sample,
    training.ddim_step,
    training.train_tokenizer,
    training.fit_hf_lm,
    training.hf_token_logprobs,
    dp.DPSettings,
    dp.check_private,
    dp.fit_private,
    dp.fit_private_gan,
    dp.fit_private_lm,
    dp.fit_private_diffusion,
    dp.fit_private_hf_lm,
}

rng = np.random.default_rng(0)
X = rng.normal(size=(12, 4))
Y = np.array([0, 1] * 6)
TEXTS = ["ab", "ba", "aab"]
ALPHABET = "\nab"


def tiny() -> data.Dataset:
    return data.Dataset(X, Y, name="tiny", class_names=("a", "b"))


def mlp():
    return models.mlp(4, 2, hidden=(4,))


def lm():
    return models.char_lm(ALPHABET, width=8, layers=1, heads=2, context=16)


# Hugging Face causal LMs: one small byte-level tokenizer, a tiny GPT-2 built afresh per call.
HF_TEXTS = ["the cat sat", "a dog ran", "the dog sat"]
TOKENIZER = training.train_tokenizer(HF_TEXTS, vocab_size=280)
# Another corpus, more merges: ids the 280-token model does not have.
OTHER_TOKENIZER = training.train_tokenizer(
    ["the cat sat on the mat", "a dog ran to the cat"] * 5, vocab_size=320
)


def gpt():
    return models.tiny_gpt2(TOKENIZER, width=16, layers=1, heads=2, context=32)


def frozen_gpt():
    model = gpt()
    for parameter in model.parameters():
        parameter.requires_grad = False
    return model


def gan():
    return models.gan(4, latent_dim=2, hidden=4)


def den():
    return models.denoiser(4, hidden=8, layers=1, steps=10)


class FlatSchedule(nn.Module):
    """A module whose alpha_bar is 2-D: not a diffusion denoiser."""

    def __init__(self):
        super().__init__()
        self.register_buffer("alpha_bar", torch.ones(2, 2))


def _digits(n=40):
    return data.load("digits").subset(range(n))


# A valid call per callable, as a function of keyword overrides. Models are built afresh for
# every call (training changes them). DP calls share one (ε, δ, rate, epochs) so Opacus' noise
# search runs once and is remembered.
DP = {"privacy": dp.DPSettings(target_epsilon=2.0, accountant="rdp"), "epochs": 1}
BAD_PRIVACY = {"number": 2.0, "None": None, "dict": {"target_epsilon": 2.0}}
CALLS = {
    "Dataset": lambda **kw: data.Dataset(
        **{"X": X, "y": Y, "name": "tiny", "class_names": ("a", "b"), **kw}
    ),
    "Dataset.subset": lambda **kw: tiny().subset(**{"indices": [0, 1, 2], **kw}),
    "MembershipSplit": lambda **kw: data.MembershipSplit(
        **{"members": tiny(), "nonmembers": tiny(), "population": tiny(), **kw}
    ),
    "arrays": lambda **kw: data.arrays(**{"data": (X, Y), **kw}),
    "features": lambda **kw: data.features(**{"data": X, **kw}),
    "membership_labels": lambda **kw: data.membership_labels(
        **{"n_members": 3, "n_nonmembers": 2, **kw}
    ),
    "load": lambda **kw: data.load(**{"name": "breast_cancer", **kw}),
    "load_notes": lambda **kw: data.load_notes(**kw),
    "membership_split": lambda **kw: data.membership_split(
        **{"dataset": _digits(100), "n_members": 20, "seed": 0, **kw}
    ),
    "partition": lambda **kw: data.partition(
        **{"dataset": _digits(100), "n_clients": 2, "alpha": 1.0, "min_size": 5, "seed": 0, **kw}
    ),
    "shifted": lambda **kw: data.shifted(**{"X": X, "shift": (1, 0), "image_shape": (2, 2), **kw}),
    "mlp": lambda **kw: models.mlp(**{"n_features": 4, "n_classes": 2, "hidden": (4,), **kw}),
    "cnn": lambda **kw: models.cnn(
        **{"n_classes": 2, "image_shape": (2, 2), "channels": (2, 2), **kw}
    ),
    "gan": lambda **kw: models.gan(**{"n_features": 4, "latent_dim": 2, "hidden": 4, **kw}),
    "char_lm": lambda **kw: models.char_lm(
        **{"alphabet": ALPHABET, "width": 8, "layers": 1, "heads": 2, "context": 16, **kw}
    ),
    "latent_dim": lambda **kw: models.latent_dim(**{"generator": gan()[0], **kw}),
    "sequence_loss": lambda **kw: models.sequence_loss(
        **{"model": lm(), "tokens": lm().encode(TEXTS)[0], "targets": lm().encode(TEXTS)[1], **kw}
    ),
    "resolve_device": lambda **kw: training.resolve_device(**{"device": "cpu", **kw}),
    "batches": lambda **kw: training.batches(
        **{"n": 5, "batch_size": 2, "generator": torch.Generator(), **kw}
    ),
    "CharLM": lambda **kw: models.CharLM(
        **{"alphabet": ALPHABET, "width": 8, "layers": 1, "heads": 2, "context": 16, **kw}
    ),
    "fit": lambda **kw: training.fit(
        **{"model": mlp(), "data": (X, Y), "epochs": 1, "batch_size": 4, **kw}
    ),
    "learning_curves": lambda **kw: training.learning_curves(
        **{"model": mlp(), "data": (X, Y), "epochs": 1, "batch_size": 4, **kw}
    ),
    "fit_many": lambda **kw: training.fit_many(
        **{
            "model_factory": partial(models.mlp, 4, 2, hidden=(4,)),
            "pool": (X, Y),
            "n_models": 2,
            "epochs": 1,
            "batch_size": 4,
            **kw,
        }
    ),
    "balanced_in_mask": lambda **kw: training.balanced_in_mask(**{"n_models": 2, "n": 6, **kw}),
    "predict_logits": lambda **kw: training.predict_logits(**{"model": mlp(), "X": X, **kw}),
    "fit_gan": lambda **kw: training.fit_gan(
        *gan(), **{"data": X, "epochs": 1, "batch_size": 4, **kw}
    ),
    "sample": lambda **kw: training.sample(**{"generator": gan()[0], "n": 3, **kw}),
    "fit_lm": lambda **kw: training.fit_lm(**{"model": lm(), "texts": TEXTS, "epochs": 1, **kw}),
    "token_logprobs": lambda **kw: training.token_logprobs(**{"model": lm(), "texts": TEXTS, **kw}),
    "total_logprobs": lambda **kw: training.total_logprobs(**{"model": lm(), "texts": TEXTS, **kw}),
    "generate": lambda **kw: training.generate(**{"model": lm(), "n": 2, "max_chars": 4, **kw}),
    "complete": lambda **kw: training.complete(
        **{"model": lm(), "prefix": "a", "max_chars": 4, **kw}
    ),
    "noise_schedule": lambda **kw: models.noise_schedule(**{"steps": 10, "kind": "linear", **kw}),
    "Denoiser": lambda **kw: models.Denoiser(
        **{"n_features": 4, "hidden": 8, "layers": 1, "alpha_bar": models.noise_schedule(10), **kw}
    ),
    "denoiser": lambda **kw: models.denoiser(
        **{"n_features": 4, "hidden": 8, "layers": 1, "steps": 10, **kw}
    ),
    "denoising_loss": lambda **kw: models.denoising_loss(
        **{
            "model": den(),
            "x0": torch.zeros(3, 4),
            "t": torch.tensor([0, 5, 9]),
            "noise": torch.ones(3, 4),
            **kw,
        }
    ),  # fmt: skip
    "alpha_bar_of": lambda **kw: models.alpha_bar_of(**{"model": den(), **kw}),
    "fit_diffusion": lambda **kw: training.fit_diffusion(
        **{"model": den(), "data": X, "epochs": 1, "batch_size": 4, **kw}
    ),
    "diffusion_sample": lambda **kw: training.diffusion_sample(
        **{"model": den(), "n": 3, "steps": 5, **kw}
    ),
    "ddim_step": lambda **kw: training.ddim_step(
        **{"model": den(), "x": torch.zeros(3, 4), "t": 5, "t_next": 2, **kw}
    ),
    "fit_private_diffusion": lambda **kw: dp.fit_private_diffusion(
        **{"model": den(), "data": X, "batch_size": 4, **DP, **kw}
    ),
    "DPSettings": lambda **kw: dp.DPSettings(
        **{"target_epsilon": None if "noise_multiplier" in kw else 2.0, **kw}
    ),
    "check_private": lambda **kw: dp.check_private(**{"model": mlp(), **kw}),
    "fit_private": lambda **kw: dp.fit_private(
        **{"model": mlp(), "data": (X, Y), "batch_size": 4, **DP, **kw}
    ),
    "fit_private_gan": lambda **kw: dp.fit_private_gan(
        *gan(), **{"data": X, "batch_size": 4, **DP, **kw}
    ),
    "fit_private_lm": lambda **kw: dp.fit_private_lm(
        **{"model": lm(), "texts": TEXTS, "batch_size": 2, **DP, **kw}
    ),
    "train_tokenizer": lambda **kw: training.train_tokenizer(
        **{"texts": HF_TEXTS, "vocab_size": 280, **kw}
    ),
    "tiny_gpt2": lambda **kw: models.tiny_gpt2(
        **{"tokenizer": TOKENIZER, "width": 16, "layers": 1, "heads": 2, "context": 32, **kw}
    ),
    "fit_hf_lm": lambda **kw: training.fit_hf_lm(
        **{"model": gpt(), "tokenizer": TOKENIZER, "texts": HF_TEXTS, "epochs": 1, **kw}
    ),
    "hf_token_logprobs": lambda **kw: training.hf_token_logprobs(
        **{"model": gpt(), "tokenizer": TOKENIZER, "texts": HF_TEXTS, **kw}
    ),
    "fit_private_hf_lm": lambda **kw: dp.fit_private_hf_lm(
        **{"model": gpt(), "tokenizer": TOKENIZER, "texts": HF_TEXTS, "batch_size": 2, **DP, **kw}
    ),
}

# Spoiled hyperparameters, by kind.
NOT_NUMBERS = {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf, "str": "1", "None": None,
               "list": [1.0], "bool": True}  # fmt: skip
BAD_COUNTS = {"zero": 0, "negative": -1, "float": 1.5, **NOT_NUMBERS}
BAD_POSITIVE = {"zero": 0, "negative": -1.0, **NOT_NUMBERS}
BAD_NONNEGATIVE = {"negative": -1.0, **NOT_NUMBERS}
BAD_SEEDS = {"negative": -1, "bool": True, "float": 1.0, "2**32": 2**32, "2**64": 2**64,
             "str": "0", "None": None}  # fmt: skip
BAD_FLAGS = {"str": "no", "int": 1, "None": None}
BAD_PROGRESS = {"str": "no", "int": 1}  # None: tqdm decides
BAD_DEVICES = {"unknown": "gpu", "meta": "meta", "absent CUDA device": "cuda:99", "int": 0,
               "None": None}  # fmt: skip
BAD_PAIRS = {"one": (2,), "three": (2, 2, 2), "None": None, "str": "ab", "zero": (0, 2),
             "float": (1.5, 2)}  # fmt: skip
NOT_MODULES = {"str": "model", "None": None, "array": X}
NOT_DENOISERS = {**NOT_MODULES, "no alpha_bar": nn.Linear(4, 4), "2-D alpha_bar": FlatSchedule()}
BAD_TIMESTEPS = {"T": 10, "negative": -1, "float": 1.0, "bool": True, "str": "1", "None": None}
BAD_EPSILON = {**BAD_POSITIVE, "inf": "inf", "1e3": 1e3, "1e4": 1e4}  # math.inf is valid
TEXT_VARIANTS = {"tuple": tuple(TEXTS), "array": np.array(TEXTS), "Series": pd.Series(TEXTS)}
HF_TEXT_VARIANTS = {
    "tuple": tuple(HF_TEXTS),
    "array": np.array(HF_TEXTS),
    "Series": pd.Series(HF_TEXTS),
    "unseen characters": ["Zoë ☃", "the cat"],
}
NOT_TOKENIZERS = {
    "str": "gpt2",
    "None": None,
    "int": 3,
    "dict": {"bos_token_id": 0},
    "character model": lm(),
    "tokenizers.Tokenizer": TOKENIZER.backend_tokenizer,
}
NOT_HF_MODELS = {
    **NOT_MODULES,
    "character model": lm(),
    "classifier": mlp(),
    "no language-model head": GPT2Model(gpt().config),
}


def without(cases: dict, *keys: str) -> dict:
    """``cases`` less the ones that are valid for this argument (None as a default, say)."""
    return {case: value for case, value in cases.items() if case not in keys}


LABEL_CASES = {
    **{k: v for k, v in bad_arrays(Y).items() if k != "strings"},
    "strings": np.array(["a", "b"] * 6),
    "float labels": Y.astype(float) + 0.5,
    "whole floats": Y.astype(float),
    "out of range": Y + 5,
    "negative": Y - 1,
    "too short": Y[:5],
    "bools": Y.astype(bool),
}
FEATURE_CASES = {
    **bad_arrays(X),
    "1e300": np.full_like(X, OVERFLOW),
    "too short": X[:5],
    "wrong width": X[:, :3],
    "bools": X > 0,
}
TEXT_CASES = {
    "empty": [],
    "a string": "ab",
    "None": None,
    "numbers": [1, 2],
    "outside alphabet": ["xyz"],
    "too long": ["ab" * 20],
    "2-D array": np.array([TEXTS]),
}
HF_TEXT_CASES = {
    "empty": [],
    "a string": "the cat",
    "None": None,
    "numbers": [1, 2],
    "an empty text": ["the cat", ""],
    "bytes": [b"the cat"],
    "too long": ["the cat " * 40],
    "2-D array": np.array([HF_TEXTS]),
}

# (callable, argument) -> spoiled values. Arguments inside a tuple (X, y) are spoiled there.
BAD = {
    ("Dataset", "X"): {k: v for k, v in FEATURE_CASES.items() if k != "wrong width"},
    ("Dataset", "y"): LABEL_CASES,
    ("Dataset", "name"): {"None": None, "int": 3},
    ("Dataset", "class_names"): {"None": None, "empty": ()},
    ("Dataset.subset", "indices"): {
        "out of range": [0, 99],
        "negative": [-1],
        "floats": [0.0, 1.5],
        "mask of wrong length": np.ones(3, bool),
        "empty": [],
        "empty mask": np.zeros(12, bool),
        "2-D": [[0, 1]],
        "strings": ["a"],
        "None": None,
    },
    ("MembershipSplit", "members"): {"array": X, "None": None},
    ("MembershipSplit", "population"): {"tuple": (X, Y)},
    ("arrays", "data"): {"array": X, "None": None, "list": [X, Y], "triple": (X, Y, Y)},
    ("arrays", "name"): {"int": 3, "None": None},
    ("features", "data"): without(FEATURE_CASES, "1e300", "wrong width", "too short"),
    ("features", "name"): {"int": 3},
    ("membership_labels", "n_members"): BAD_COUNTS,
    ("membership_labels", "n_nonmembers"): BAD_COUNTS,
    ("load", "name"): {"unknown": "mnist", "None": None, "int": 3},
    ("load_notes", "path"): {"int": 3, "list": ["a"]},
    ("membership_split", "dataset"): {"array": X, "tuple": (X, Y), "None": None},
    ("membership_split", "n_members"): {
        **without(BAD_COUNTS, "None"),
        "too many": 60,
        "fewer than classes": 3,
    },
    ("membership_split", "seed"): BAD_SEEDS,
    ("partition", "dataset"): {"array": X, "None": None},
    ("partition", "n_clients"): {**BAD_COUNTS, "too many": 50},
    ("partition", "alpha"): without(BAD_POSITIVE, "None"),
    ("partition", "min_size"): BAD_COUNTS,
    ("partition", "seed"): BAD_SEEDS,
    ("shifted", "X"): {k: v for k, v in FEATURE_CASES.items() if k not in ("1e300", "too short")},
    ("shifted", "shift"): {
        "float": (1.5, 0),
        "too far": (2, 0),
        "None": None,
        "one": (1,),
        "bool": (True, 0),
    },  # fmt: skip
    ("shifted", "image_shape"): BAD_PAIRS,
    ("mlp", "n_features"): BAD_COUNTS,
    ("mlp", "n_classes"): BAD_COUNTS,
    ("mlp", "hidden"): {"int": 4, "zero": (0,), "float": (1.5,), "None": None, "str": "4"},
    ("mlp", "seed"): BAD_SEEDS,
    ("cnn", "n_classes"): BAD_COUNTS,
    ("cnn", "image_shape"): BAD_PAIRS,
    ("cnn", "channels"): BAD_PAIRS,
    ("cnn", "seed"): BAD_SEEDS,
    ("gan", "n_features"): BAD_COUNTS,
    ("gan", "latent_dim"): BAD_COUNTS,
    ("gan", "hidden"): BAD_COUNTS,
    ("gan", "bounded"): BAD_FLAGS,
    ("gan", "seed"): BAD_SEEDS,
    ("char_lm", "alphabet"): {"no newline": "ab", "repeated": "\naa", "None": None, "list": ["\n"]},
    ("char_lm", "width"): {**BAD_COUNTS, "not a multiple of heads": 9},
    ("char_lm", "layers"): BAD_COUNTS,
    ("char_lm", "heads"): BAD_COUNTS,
    ("char_lm", "context"): BAD_COUNTS,
    ("char_lm", "seed"): BAD_SEEDS,
    ("latent_dim", "generator"): {**NOT_MODULES, "no Linear layer": nn.Sequential(nn.ReLU())},
    ("sequence_loss", "tokens"): {
        "None": None,
        "floats": torch.zeros(3, 4),
        "1-D": torch.zeros(3, dtype=torch.long),
    },  # fmt: skip
    ("sequence_loss", "targets"): {"None": None, "short": torch.zeros(1, 2, dtype=torch.long)},
    ("resolve_device", "device"): BAD_DEVICES,
    ("CharLM", "width"): BAD_COUNTS,
    ("CharLM", "context"): BAD_COUNTS,
    ("CharLM", "alphabet"): {"no newline": "ab", "None": None},
    ("fit", "model"): {**NOT_MODULES, "language model": lm(), "wrong width": models.mlp(5, 2)},
    ("fit", "data"): {"array": X, "None": None, "list": [X, Y], "triple": (X, Y, Y)},
    ("fit", "epochs"): BAD_COUNTS,
    ("fit", "batch_size"): BAD_COUNTS,
    ("fit", "lr"): {**BAD_POSITIVE, "1e300": 1e300, "1e38 (diverges)": 1e38},
    ("fit", "weight_decay"): BAD_NONNEGATIVE,
    ("fit", "seed"): BAD_SEEDS,
    ("fit", "progress"): BAD_PROGRESS,
    ("fit", "device"): BAD_DEVICES,
    ("learning_curves", "model"): {**NOT_MODULES, "language model": lm()},
    ("learning_curves", "data"): {"array": X, "None": None},
    ("learning_curves", "epochs"): BAD_COUNTS,
    ("learning_curves", "monitor"): {"str": "auc", "returns a number": lambda model: 1.0},
    ("learning_curves", "progress"): BAD_PROGRESS,
    ("learning_curves", "device"): BAD_DEVICES,
    ("batches", "n"): BAD_COUNTS,
    ("batches", "batch_size"): BAD_COUNTS,
    ("batches", "generator"): {"None": None, "int": 0, "seed": 3},
    ("fit_many", "model_factory"): {
        "a model": mlp(),
        "no seed": lambda: mlp(),
        "str": "mlp",
        "returns a number": lambda seed: 3,
    },  # fmt: skip
    ("fit_many", "pool"): {"array": X, "None": None},
    ("fit_many", "n_models"): BAD_COUNTS,
    ("fit_many", "epochs"): BAD_COUNTS,
    ("fit_many", "batch_size"): BAD_COUNTS,
    ("fit_many", "lr"): {**BAD_POSITIVE, "1e38 (diverges)": 1e38},
    ("fit_many", "weight_decay"): BAD_NONNEGATIVE,
    ("fit_many", "seed"): BAD_SEEDS,
    ("fit_many", "executor"): {"int": 4, "str": "ray"},
    ("fit_many", "chunk_size"): without(BAD_COUNTS, "None"),
    ("fit_many", "progress"): BAD_PROGRESS,
    ("fit_many", "device"): BAD_DEVICES,
    ("balanced_in_mask", "n_models"): BAD_COUNTS,
    ("balanced_in_mask", "n"): {**BAD_COUNTS, "one": 1},
    ("balanced_in_mask", "seed"): BAD_SEEDS,
    ("predict_logits", "model"): {
        **NOT_MODULES,
        "empty list": [],
        "list with a str": [mlp(), "m"],
        "language model": lm(),
    },  # fmt: skip
    ("predict_logits", "X"): {k: v for k, v in FEATURE_CASES.items() if k != "too short"},
    ("predict_logits", "batch_size"): BAD_COUNTS,
    ("predict_logits", "device"): BAD_DEVICES,
    ("fit_gan", "generator"): {**NOT_MODULES, "wrong width": models.gan(5)[0]},
    ("fit_gan", "discriminator"): {**NOT_MODULES, "two logits": mlp()},
    ("fit_gan", "data"): {k: v for k, v in FEATURE_CASES.items() if k != "too short"},
    ("fit_gan", "epochs"): BAD_COUNTS,
    ("fit_gan", "batch_size"): BAD_COUNTS,
    ("fit_gan", "lr"): {**BAD_POSITIVE, "1e38 (diverges)": 1e38},
    ("fit_gan", "seed"): BAD_SEEDS,
    ("fit_gan", "progress"): BAD_PROGRESS,
    ("fit_gan", "device"): BAD_DEVICES,
    ("sample", "generator"): NOT_MODULES,
    ("sample", "n"): BAD_COUNTS,
    ("sample", "seed"): BAD_SEEDS,
    ("sample", "device"): BAD_DEVICES,
    ("fit_lm", "model"): {**NOT_MODULES, "classifier": mlp()},
    ("fit_lm", "texts"): TEXT_CASES,
    ("fit_lm", "epochs"): BAD_COUNTS,
    ("fit_lm", "batch_size"): BAD_COUNTS,
    ("fit_lm", "lr"): {**BAD_POSITIVE, "1e38 (diverges)": 1e38},
    ("fit_lm", "seed"): BAD_SEEDS,
    ("fit_lm", "progress"): BAD_PROGRESS,
    ("fit_lm", "device"): BAD_DEVICES,
    ("token_logprobs", "model"): {**NOT_MODULES, "classifier": mlp()},
    ("token_logprobs", "texts"): TEXT_CASES,
    ("token_logprobs", "batch_size"): BAD_COUNTS,
    ("token_logprobs", "device"): BAD_DEVICES,
    ("total_logprobs", "model"): {**NOT_MODULES, "classifier": mlp()},
    ("total_logprobs", "texts"): TEXT_CASES,
    ("total_logprobs", "batch_size"): BAD_COUNTS,
    ("total_logprobs", "device"): BAD_DEVICES,
    ("generate", "model"): {**NOT_MODULES, "classifier": mlp()},
    ("generate", "n"): BAD_COUNTS,
    ("generate", "prefix"): {"None": None, "int": 3, "outside alphabet": "x", "list": ["a"]},
    ("generate", "temperature"): BAD_NONNEGATIVE,
    ("generate", "max_chars"): BAD_COUNTS,
    ("generate", "seed"): BAD_SEEDS,
    ("generate", "device"): BAD_DEVICES,
    ("complete", "model"): {**NOT_MODULES, "classifier": mlp()},
    ("complete", "prefix"): {"None": None, "int": 3, "outside alphabet": "x"},
    ("complete", "max_chars"): BAD_COUNTS,
    ("complete", "device"): BAD_DEVICES,
    ("noise_schedule", "steps"): BAD_COUNTS,
    ("noise_schedule", "kind"): {"unknown": "quadratic", "None": None, "int": 3},
    ("denoiser", "n_features"): BAD_COUNTS,
    ("denoiser", "hidden"): {**BAD_COUNTS, "odd": 7},
    ("denoiser", "layers"): BAD_COUNTS,
    ("denoiser", "steps"): BAD_COUNTS,
    ("denoiser", "schedule"): {"unknown": "quadratic", "None": None},
    ("denoiser", "seed"): BAD_SEEDS,
    ("Denoiser", "n_features"): BAD_COUNTS,
    ("Denoiser", "hidden"): {**BAD_COUNTS, "odd": 7},
    ("Denoiser", "layers"): BAD_COUNTS,
    ("Denoiser", "alpha_bar"): {
        "list": [0.9, 0.5],
        "None": None,
        "2-D": torch.full((2, 2), 0.5),
        "empty": torch.zeros(0),
        "above one": torch.tensor([1.5, 0.5]),
        "NaN": torch.tensor([0.9, math.nan]),
    },  # fmt: skip
    ("denoising_loss", "model"): NOT_DENOISERS,
    ("denoising_loss", "x0"): {
        "array": np.zeros((3, 4)),
        "wrong width": torch.zeros(3, 3),
        "1-D": torch.zeros(4),
        "None": None,
    },  # fmt: skip
    ("denoising_loss", "t"): {
        "T": torch.tensor([0, 5, 10]),
        "negative": torch.tensor([-1, 0, 1]),
        "floats": torch.tensor([0.0, 1.0, 2.0]),
        "one short": torch.tensor([0, 1]),
        "None": None,
    },  # fmt: skip
    ("denoising_loss", "noise"): {"other shape": torch.zeros(3, 3), "None": None},
    ("alpha_bar_of", "model"): NOT_DENOISERS,
    ("fit_diffusion", "model"): {**NOT_DENOISERS, "wrong width": models.denoiser(5, hidden=8)},
    ("fit_diffusion", "data"): {k: v for k, v in FEATURE_CASES.items() if k != "too short"},
    ("fit_diffusion", "epochs"): BAD_COUNTS,
    ("fit_diffusion", "batch_size"): BAD_COUNTS,
    ("fit_diffusion", "lr"): {**BAD_POSITIVE, "1e38 (diverges)": 1e38},
    ("fit_diffusion", "seed"): BAD_SEEDS,
    ("fit_diffusion", "progress"): BAD_PROGRESS,
    ("fit_diffusion", "device"): BAD_DEVICES,
    ("diffusion_sample", "model"): NOT_DENOISERS,
    ("diffusion_sample", "n"): BAD_COUNTS,
    ("diffusion_sample", "sampler"): {"unknown": "euler", "None": None, "upper case": "DDIM"},
    ("diffusion_sample", "steps"): {**BAD_COUNTS, "more than T": 11},
    ("diffusion_sample", "clip"): without(BAD_POSITIVE, "None"),
    ("diffusion_sample", "seed"): BAD_SEEDS,
    ("diffusion_sample", "device"): BAD_DEVICES,
    ("ddim_step", "model"): NOT_DENOISERS,
    ("ddim_step", "x"): {
        "array": np.zeros((3, 4)),
        "wrong width": torch.zeros(3, 3),
        "1-D": torch.zeros(4),
        "NaN": torch.full((3, 4), math.nan),
        "None": None,
    },  # fmt: skip
    ("ddim_step", "t"): BAD_TIMESTEPS,
    ("ddim_step", "t_next"): {**BAD_TIMESTEPS, "negative": -2},
    ("ddim_step", "clip"): without(BAD_POSITIVE, "None"),
    ("fit_private_diffusion", "model"): {
        **NOT_DENOISERS,
        "wrong width": models.denoiser(5, hidden=8),
    },  # fmt: skip
    ("fit_private_diffusion", "data"): {k: v for k, v in FEATURE_CASES.items() if k != "too short"},
    ("fit_private_diffusion", "privacy"): BAD_PRIVACY,
    ("fit_private_diffusion", "epochs"): BAD_COUNTS,
    ("fit_private_diffusion", "batch_size"): BAD_COUNTS,
    ("fit_private_diffusion", "lr"): BAD_POSITIVE,
    ("fit_private_diffusion", "seed"): BAD_SEEDS,
    ("fit_private_diffusion", "device"): BAD_DEVICES,
    ("fit_private_diffusion", "progress"): BAD_PROGRESS,
    ("check_private", "model"): {**NOT_MODULES, "BatchNorm": nn.Sequential(nn.BatchNorm1d(4))},
    ("fit_private", "model"): {
        **NOT_MODULES,
        "wrong width": models.mlp(5, 2),
        "language model": lm(),
    },  # fmt: skip
    ("fit_private", "data"): {"array": X, "None": None},
    ("DPSettings", "target_epsilon"): BAD_EPSILON,
    ("DPSettings", "noise_multiplier"): {
        "negative": -1.0,
        "NaN": math.nan,
        "inf": math.inf,
        "str": "1",
        "bool": True,
        "None": None,
    },  # fmt: skip
    ("DPSettings", "delta"): {**BAD_POSITIVE, "one": 1.0, "above one": 2.0},
    ("DPSettings", "max_grad_norm"): BAD_POSITIVE,
    ("DPSettings", "accountant"): {"unknown": "gdp", "None": None},
    ("fit_private", "privacy"): BAD_PRIVACY,
    ("fit_private", "epochs"): BAD_COUNTS,
    ("fit_private", "batch_size"): BAD_COUNTS,
    ("fit_private", "lr"): {**BAD_POSITIVE, "1e300": 1e300},
    ("fit_private", "grad_sample_mode"): {"unknown": "x", "None": None},
    ("fit_private", "seed"): BAD_SEEDS,
    ("fit_private", "device"): BAD_DEVICES,
    ("fit_private", "progress"): BAD_PROGRESS,
    ("fit_private_gan", "generator"): NOT_MODULES,
    ("fit_private_gan", "discriminator"): {**NOT_MODULES, "two logits": mlp()},
    ("fit_private_gan", "data"): {k: v for k, v in FEATURE_CASES.items() if k != "too short"},
    ("fit_private_gan", "privacy"): BAD_PRIVACY,
    ("fit_private_gan", "epochs"): BAD_COUNTS,
    ("fit_private_gan", "batch_size"): BAD_COUNTS,
    ("fit_private_gan", "lr"): BAD_POSITIVE,
    ("fit_private_gan", "seed"): BAD_SEEDS,
    ("fit_private_gan", "device"): BAD_DEVICES,
    ("fit_private_gan", "progress"): BAD_PROGRESS,
    ("fit_private_lm", "model"): {**NOT_MODULES, "classifier": mlp()},
    ("fit_private_lm", "texts"): TEXT_CASES,
    ("fit_private_lm", "privacy"): BAD_PRIVACY,
    ("fit_private_lm", "epochs"): BAD_COUNTS,
    ("fit_private_lm", "batch_size"): BAD_COUNTS,
    ("fit_private_lm", "lr"): BAD_POSITIVE,
    ("fit_private_lm", "seed"): BAD_SEEDS,
    ("fit_private_lm", "device"): BAD_DEVICES,
    ("fit_private_lm", "progress"): BAD_PROGRESS,
    ("token_logprobs", "return_moments"): BAD_FLAGS,
    ("train_tokenizer", "texts"): without(HF_TEXT_CASES, "too long"),
    ("train_tokenizer", "vocab_size"): {
        **BAD_COUNTS,
        "below the 257 bytes": 256,
        "2**27 (gigabytes)": 2**27,
        "2**64": 2**64,
    },  # fmt: skip
    ("tiny_gpt2", "tokenizer"): NOT_TOKENIZERS,
    ("tiny_gpt2", "width"): {**BAD_COUNTS, "not a multiple of heads": 15},
    ("tiny_gpt2", "layers"): BAD_COUNTS,
    ("tiny_gpt2", "heads"): BAD_COUNTS,
    ("tiny_gpt2", "context"): BAD_COUNTS,
    ("tiny_gpt2", "seed"): BAD_SEEDS,
    ("fit_hf_lm", "model"): {**NOT_HF_MODELS, "frozen": frozen_gpt()},
    ("fit_hf_lm", "tokenizer"): {**NOT_TOKENIZERS, "another vocabulary": OTHER_TOKENIZER},
    ("fit_hf_lm", "texts"): HF_TEXT_CASES,
    ("fit_hf_lm", "epochs"): BAD_COUNTS,
    ("fit_hf_lm", "batch_size"): BAD_COUNTS,
    ("fit_hf_lm", "lr"): {**BAD_POSITIVE, "1e300": 1e300, "1e38 (diverges)": 1e38},
    ("fit_hf_lm", "seed"): BAD_SEEDS,
    ("fit_hf_lm", "progress"): BAD_PROGRESS,
    ("fit_hf_lm", "device"): BAD_DEVICES,
    ("hf_token_logprobs", "model"): NOT_HF_MODELS,
    ("hf_token_logprobs", "tokenizer"): {**NOT_TOKENIZERS, "another vocabulary": OTHER_TOKENIZER},
    ("hf_token_logprobs", "texts"): HF_TEXT_CASES,
    ("hf_token_logprobs", "batch_size"): BAD_COUNTS,
    ("hf_token_logprobs", "device"): BAD_DEVICES,
    ("hf_token_logprobs", "progress"): BAD_PROGRESS,
    ("hf_token_logprobs", "return_moments"): BAD_FLAGS,
    ("fit_private_hf_lm", "model"): {**NOT_HF_MODELS, "frozen": frozen_gpt()},
    ("fit_private_hf_lm", "tokenizer"): {
        **NOT_TOKENIZERS,
        "another vocabulary": OTHER_TOKENIZER,
    },  # fmt: skip
    ("fit_private_hf_lm", "texts"): HF_TEXT_CASES,
    ("fit_private_hf_lm", "privacy"): BAD_PRIVACY,
    ("fit_private_hf_lm", "epochs"): BAD_COUNTS,
    ("fit_private_hf_lm", "batch_size"): BAD_COUNTS,
    ("fit_private_hf_lm", "lr"): {**BAD_POSITIVE, "1e300": 1e300},
    ("fit_private_hf_lm", "seed"): BAD_SEEDS,
    ("fit_private_hf_lm", "device"): BAD_DEVICES,
    ("fit_private_hf_lm", "progress"): BAD_PROGRESS,
}
# X and labels inside the (X, labels) tuple of the training functions, named
# "<argument> X/labels".
for name, argument in (
    ("arrays", "data"),
    ("fit", "data"),
    ("fit_many", "pool"),
    ("fit_private", "data"),
):
    for case, value in FEATURE_CASES.items():
        if name == "arrays" and case in ("1e300", "wrong width"):
            continue  # bad for a float32 model of width 4 only
        BAD[(name, f"{argument} X")] = BAD.get((name, f"{argument} X"), {})
        BAD[(name, f"{argument} X")][case] = (argument, (value, Y))
    for case, value in LABEL_CASES.items():
        if name == "arrays" and case == "out of range":
            continue  # bad for a model with 2 classes only
        BAD[(name, f"{argument} labels")] = BAD.get((name, f"{argument} labels"), {})
        BAD[(name, f"{argument} labels")][case] = (argument, (X, value))

# Valid variants: other containers and dtypes, numpy scalars, and edge values that must work.
VALID = {
    ("Dataset", "X"): valid_variants(X),
    ("Dataset", "y"): {**valid_variants(Y), "int32": Y.astype(np.int32)},
    ("Dataset.subset", "indices"): {
        **valid_variants(np.array([0, 3, 5])),
        "range": range(4),
        "mask": Y == 1,
        "slice": slice(2, 6),
        "np.int64 list": [np.int64(1), np.int64(2)],
    },
    ("membership_split", "n_members"): {"np.int64": np.int64(20)},
    ("membership_split", "seed"): {"np.int64": np.int64(3), "2**32 - 1": 2**32 - 1},
    ("partition", "alpha"): {"np.float32": np.float32(0.5), "None (IID)": None},
    ("partition", "n_clients"): {"np.int64": np.int64(2)},
    ("shifted", "X"): valid_variants(X),
    ("shifted", "shift"): {"list": [0, -1], "np.int64": (np.int64(1), np.int64(0))},
    ("mlp", "hidden"): {"list": [4, 4], "empty": (), "np.int64": (np.int64(3),)},
    ("mlp", "n_features"): {"np.int64": np.int64(4)},
    ("mlp", "seed"): {"np.uint32 max": np.uint32(2**32 - 1)},
    ("cnn", "image_shape"): {"list": [2, 2]},
    ("gan", "bounded"): {"np.bool_": np.bool_(False)},
    ("fit", "model"): {
        "float64": mlp().double(),
        "single logit": nn.Linear(4, 1),
        "cnn": models.cnn(2, image_shape=(2, 2), channels=(2, 2)),
    },  # fmt: skip
    ("fit", "data"): {
        "Dataset": tiny(),
        "float32": (X.astype(np.float32), Y),
        "list and Series": (X.tolist(), valid_variants(Y)["Series"]),
        "tensors": (torch.as_tensor(X), torch.as_tensor(Y)),
        "one class": (X, np.zeros(12, int)),
    },  # fmt: skip
    ("fit", "lr"): {"np.float32": np.float32(0.01), "int": 1},
    ("fit", "epochs"): {"np.int64": np.int64(2)},
    ("fit", "weight_decay"): {"zero": 0, "np.float32": np.float32(0.1)},
    ("fit", "progress"): {"None": None, "np.bool_": np.bool_(False)},
    ("fit", "device"): {"torch.device": torch.device("cpu"), "auto": "auto"},
    ("fit", "seed"): {"np.int64": np.int64(7)},
    ("fit_many", "model_factory"): {
        "float64": lambda seed: models.mlp(4, 2, seed=seed).double(),
        "single logit": lambda seed: nn.Linear(4, 1),
    },  # fmt: skip
    ("fit_many", "pool"): {"Dataset": tiny(), "tensors": (torch.as_tensor(X), torch.as_tensor(Y))},
    ("fit_many", "n_models"): {"np.int64": np.int64(3)},
    ("predict_logits", "X"): {**valid_variants(X), "1e300 for a float64 model": "float64"},
    ("predict_logits", "model"): {
        "float64": mlp().double(),
        "single logit": nn.Linear(4, 1),
        "tuple": (mlp(), mlp()),
    },  # fmt: skip
    ("fit_gan", "data"): {**valid_variants(X), "Dataset": tiny(), "tuple": (X, Y)},
    ("sample", "n"): {"np.int64": np.int64(2)},
    ("fit_lm", "texts"): TEXT_VARIANTS,
    ("token_logprobs", "texts"): TEXT_VARIANTS,
    ("generate", "temperature"): {
        "zero": 0,
        "1e-300": 1e-300,
        "np.float32": np.float32(0.5),
        "large": 1e300,
    },  # fmt: skip
    ("generate", "prefix"): {"empty": "", "np.str_": np.str_("a")},
    ("DPSettings", "target_epsilon"): {
        "np.float32(inf)": np.float32(np.inf),
        "inf": math.inf,
        "np.float32": np.float32(2.0),
        "int": 2,
    },  # fmt: skip
    ("DPSettings", "delta"): {"np.float32": np.float32(1e-5)},
    ("fit_private", "privacy"): {
        "inf": dp.DPSettings(target_epsilon=np.float32(np.inf)),
        "noise-free twin": dp.DPSettings(noise_multiplier=0),
        "noise multiplier": dp.DPSettings(noise_multiplier=np.float32(1.0), accountant="rdp"),
    },  # fmt: skip
    ("fit_private", "model"): {"float64": mlp().double(), "single logit": nn.Linear(4, 1)},
    ("fit_private", "data"): {
        "Dataset": tiny(),
        "float32": (X.astype(np.float32), Y),
        "Series labels": (X, valid_variants(Y)["Series"]),
    },  # fmt: skip
    ("fit_private", "batch_size"): {"np.int64": np.int64(4)},
    ("fit_private_gan", "data"): {**valid_variants(X), "Dataset": tiny(), "tuple": (X, Y)},
    ("fit_private_gan", "privacy"): {
        "inf": dp.DPSettings(target_epsilon=math.inf),
        "noise-free twin": dp.DPSettings(noise_multiplier=0),
    },  # fmt: skip
    ("fit_private_lm", "privacy"): {
        "inf": dp.DPSettings(target_epsilon=math.inf),
        "noise-free twin": dp.DPSettings(noise_multiplier=0),
    },  # fmt: skip
    ("fit_private_lm", "texts"): TEXT_VARIANTS,
    ("token_logprobs", "return_moments"): {"True": True, "np.bool_": np.bool_(True)},
    ("train_tokenizer", "texts"): HF_TEXT_VARIANTS,
    ("train_tokenizer", "vocab_size"): {"np.int64": np.int64(300), "257": 257},
    ("tiny_gpt2", "width"): {"np.int64": np.int64(8)},
    ("tiny_gpt2", "context"): {"np.int64": np.int64(16)},
    ("tiny_gpt2", "seed"): {"np.uint32 max": np.uint32(2**32 - 1)},
    ("fit_hf_lm", "texts"): HF_TEXT_VARIANTS,
    ("fit_hf_lm", "lr"): {"np.float32": np.float32(0.01)},
    ("fit_hf_lm", "epochs"): {"np.int64": np.int64(2)},
    ("fit_hf_lm", "seed"): {"np.int64": np.int64(7)},
    ("fit_hf_lm", "progress"): {"None": None, "np.bool_": np.bool_(False)},
    ("fit_hf_lm", "device"): {"torch.device": torch.device("cpu"), "auto": "auto"},
    ("hf_token_logprobs", "texts"): HF_TEXT_VARIANTS,
    ("hf_token_logprobs", "batch_size"): {"np.int64": np.int64(1)},
    ("hf_token_logprobs", "return_moments"): {"True": True, "np.bool_": np.bool_(True)},
    ("hf_token_logprobs", "device"): {"torch.device": torch.device("cpu"), "auto": "auto"},
    ("fit_private_hf_lm", "privacy"): {
        "inf": dp.DPSettings(target_epsilon=math.inf),
        "noise-free twin": dp.DPSettings(noise_multiplier=0),
    },  # fmt: skip
    ("fit_private_hf_lm", "texts"): HF_TEXT_VARIANTS,
    ("noise_schedule", "steps"): {"np.int64": np.int64(10), "one": 1},
    ("noise_schedule", "kind"): {"cosine": "cosine", "np.str_": np.str_("linear")},
    ("denoiser", "n_features"): {"np.int64": np.int64(4)},
    ("denoiser", "hidden"): {"np.int64": np.int64(6)},
    ("denoiser", "schedule"): {"cosine": "cosine"},
    ("denoiser", "seed"): {"np.uint32 max": np.uint32(2**32 - 1)},
    ("denoising_loss", "t"): {"int32": torch.tensor([0, 5, 9], dtype=torch.int32)},
    ("fit_diffusion", "model"): {"float64": den().double(), "cosine": models.denoiser(4, hidden=8)},
    ("fit_diffusion", "data"): {**valid_variants(X), "Dataset": tiny(), "tuple": (X, Y)},
    ("fit_diffusion", "lr"): {"np.float32": np.float32(0.01), "int": 1},
    ("fit_diffusion", "epochs"): {"np.int64": np.int64(2)},
    ("fit_diffusion", "seed"): {"np.int64": np.int64(7)},
    ("fit_diffusion", "progress"): {"None": None, "np.bool_": np.bool_(False)},
    ("fit_diffusion", "device"): {"torch.device": torch.device("cpu"), "auto": "auto"},
    ("diffusion_sample", "n"): {"np.int64": np.int64(2)},
    ("diffusion_sample", "steps"): {"np.int64": np.int64(3), "T": 10, "one": 1},
    ("diffusion_sample", "sampler"): {"ddpm": "ddpm"},
    ("diffusion_sample", "clip"): {"np.float32": np.float32(1.0), "int": 1},
    ("diffusion_sample", "model"): {"float64": den().double()},
    ("diffusion_sample", "device"): {"torch.device": torch.device("cpu"), "auto": "auto"},
    ("ddim_step", "t"): {"np.int64": np.int64(5), "zero": 0, "T - 1": 9},
    ("ddim_step", "t_next"): {"np.int64": np.int64(7), "-1 (x0)": -1, "T - 1": 9},
    ("ddim_step", "clip"): {"np.float32": np.float32(1.0), "int": 1},
    ("fit_private_diffusion", "privacy"): {
        "inf": dp.DPSettings(target_epsilon=math.inf),
        "noise-free twin": dp.DPSettings(noise_multiplier=0),
    },  # fmt: skip
    ("fit_private_diffusion", "model"): {"float64": den().double()},
    ("fit_private_diffusion", "data"): {"Dataset": tiny(), "float32": X.astype(np.float32)},
}


def _call(name, argument, value):
    """The valid call with ``argument`` replaced by ``value``, as a zero-argument function."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        argument, value = value  # a spoiled X or y inside the (X, y) tuple
    if name == "predict_logits" and isinstance(value, str) and value == "float64":
        # 1e300 fits a float64 model
        return lambda: CALLS[name](model=mlp().double(), X=np.full_like(X, OVERFLOW))
    return lambda: CALLS[name](**{argument: value})


# Bad input the library does not yet refuse by name, by (callable, argument) or (callable,
# argument, case). Each is a strict expected failure: once the check exists, the case passes,
# the run fails, and its entry here must go.
CONSTRUCTOR_UNCHECKED = "Denoiser's constructor checks none of its arguments"
LOSS_UNCHECKED = "denoising_loss checks its model only"
NOT_YET_CHECKED: dict = {}


def _marks(name, argument, case):
    reason = NOT_YET_CHECKED.get((name, argument, case), NOT_YET_CHECKED.get((name, argument)))
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


BAD_CASES = [
    pytest.param(
        name, argument, value, id=f"{name}-{argument}-{case}", marks=_marks(name, argument, case)
    )
    for (name, argument), cases in BAD.items()
    for case, value in cases.items()
]
VALID_CASES = [
    pytest.param(name, argument, value, id=f"{name}-{argument}-{case}")
    for (name, argument), cases in VALID.items()
    for case, value in cases.items()
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "argument", "value"), BAD_CASES)
def test_bad_input_is_refused_by_name(name, argument, value):
    assert_rejects(_call(name, argument, value), argument)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "argument", "value"), VALID_CASES)
def test_valid_variants_are_accepted(name, argument, value):
    out = assert_accepts(_call(name, argument, value))
    if name in ("fit", "fit_private"):
        model = out[0] if isinstance(out, tuple) else out
        logits = training.predict_logits(model, X)
        assert logits.shape == (12, 2) and np.isfinite(logits).all()


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(set(CALLS) - {"load_notes"}))  # its own tests load it
def test_the_valid_call_itself_works(name):
    assert_accepts(CALLS[name])


def test_every_probed_callable_has_a_valid_call_and_bad_cases():
    assert {c.__name__ for c in PROBED} <= set(CALLS)
    assert {name for name, _ in BAD} == set(CALLS)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=-(2**70), max_value=2**70))
def test_a_seed_is_either_used_or_refused_by_name(seed):
    if 0 <= seed < 2**32:
        assert isinstance(models.mlp(2, 2, hidden=(), seed=seed), nn.Module)
        assert training.balanced_in_mask(2, 4, seed=seed).shape == (2, 4)
    else:
        assert_rejects(lambda: models.mlp(2, 2, hidden=(), seed=seed), "seed")
        assert_rejects(lambda: training.balanced_in_mask(2, 4, seed=seed), "seed")


@settings(max_examples=60, deadline=None)
@given(indices=st.lists(st.integers(min_value=-20, max_value=20), max_size=6))
def test_subset_takes_exactly_the_positions_in_range(indices):
    ds = tiny()
    if indices and all(0 <= i < len(ds) for i in indices):
        part = ds.subset(indices)
        np.testing.assert_array_equal(part.X, ds.X[indices])
    else:
        assert_rejects(lambda: ds.subset(indices), "indices")


@settings(max_examples=40, deadline=None)
@given(value=st.floats(allow_nan=True, allow_infinity=True, width=64))
def test_one_extreme_feature_gives_finite_logits_or_a_named_refusal(value):
    X_bad = X.copy()
    X_bad[0, 0] = value
    model = mlp()
    if np.isfinite(value) and abs(value) <= float(np.finfo(np.float32).max):
        logits = training.predict_logits(model, X_bad)
        assert logits.shape == (12, 2) and not np.isnan(logits).any()
    else:
        assert_rejects(lambda: training.predict_logits(model, X_bad), "X")
