"""Bad-input probe of mialab.attacks, metrics, audit, plots and widgets (see tests/probing.py).

Each public callable gets a ``Spec``: a valid call on tiny data and the arguments to spoil. The
cases are generated from it (every array argument spoiled by ``probing.bad_arrays`` and offered in
``probing.valid_variants``, lengths that disagree, labels that are floats or out of range, a
single class, bad hyperparameters, flags and seeds) and run one by one, so a failure names the
callable, the argument and the case in its test id.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import probing  # noqa: E402

from mialab import attacks, audit, claims, metrics, models, plots, training, widgets  # noqa: E402

rng = np.random.default_rng(0)
N, C, M = 12, 3, 4  # records, classes, reference models
LOGITS = rng.normal(size=(N, C))
LABELS = np.arange(N) % C
IS_MEMBER = (np.arange(N) % 2 == 0).astype(int)
SCORES = rng.normal(size=N)
REF = rng.normal(size=(M, N, C))
MASK = training.balanced_in_mask(M, N, seed=0)
POP, POP_LABELS, POP_TARGET = rng.normal(size=(M, 8, C)), np.arange(8) % C, rng.normal(size=(8, C))
X4 = rng.normal(size=(N, 4))
BINARY = (X4[:, 0] > 0).astype(int)
SAMPLES, REAL = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
PROJECTION = PCA(n_components=2).fit(rng.normal(size=(20, 4)))  # fitted on held-out records
BAD_PROJECTIONS = tuple(
    (f"projection={name}", {"projection": value}, "projection")
    for name, value in (
        ("a string", "pca"),
        ("the class", PCA),
        ("unfitted", PCA(n_components=2)),
        ("fitted on another width", PCA(n_components=2).fit(rng.normal(size=(9, 5)))),
        ("a function", lambda X: X),
    )
)
GENERATOR = models.gan(4, latent_dim=2)[0]
DENOISER = models.denoiser(4, hidden=8, layers=1, steps=10, seed=0)  # the attacks leave it as is
STATISTIC, REF_STATISTICS = rng.normal(size=N), rng.normal(size=(M, N))
SEQUENCES = [np.log([0.5, 0.4, 0.9]), np.log([0.2, 0.3, 0.6])]
CANDIDATES = np.linspace(-40.0, -20.0, 60)
RESULT = metrics.evaluate(SCORES, IS_MEMBER, name="toy", n_bootstrap=50)
OTHER_RESULT = metrics.evaluate(-SCORES, IS_MEMBER, name="inverted", n_bootstrap=50)
SWEEP = metrics.seed_summary(
    pd.DataFrame({"size": [1, 1, 2, 2], "auc": [0.5, 0.6, 0.7, 0.8]}), by="size", value="auc"
)
MANY = 40  # the ε bounds split the records in halves: a few more of them
MANY_SCORES, MANY_MEMBERS = rng.normal(size=MANY), np.arange(MANY) % 2


def _label(value) -> str:
    """The value as a test id, the same in every process (a function's repr holds its address,
    and the test workers must agree on the ids)."""
    return value.__name__ if inspect.isfunction(value) else repr(value)


def right_of_zero(X):
    return (np.asarray(X)[:, 0] > 0).astype(int)


# Values no hyperparameter should take; each spec adds what its range excludes.
NOT_NUMBERS = ("1", None, [1.0], True)
NON_FINITE = (math.nan, math.inf, -math.inf)
POSITIVE_BAD = NOT_NUMBERS + NON_FINITE + (0, -1)
POSITIVE_INT_BAD = NOT_NUMBERS + (math.nan, 0, -1, 1.5)
FRACTION_BAD = NOT_NUMBERS + NON_FINITE + (0, -0.1, 1.5)
BAD_FLAGS = ("no", 1, None, "True")
BAD_SEEDS = (-1, True, 1.5, 2**32, 2**64, "0", None)
GOOD_SEEDS = (np.int64(3), 2**32 - 1)


@dataclass
class Spec:
    """How to call one public callable validly, and which of its arguments to spoil."""

    target: object  # the public callable covered (class or function)
    func: object  # called as func(**valid)
    valid: dict
    arrays: tuple = ()  # numeric array arguments: bad_arrays and valid_variants
    lengths: dict = field(default_factory=dict)  # argument -> axis that must match the others
    labels: dict = field(default_factory=dict)  # class-label argument -> n_classes (or None)
    membership: tuple = ()  # 0/1 membership arguments
    numbers: dict = field(default_factory=dict)  # hyperparameter -> bad values
    scalars: dict = field(default_factory=dict)  # hyperparameter -> valid (numpy) values
    flags: tuple = ()
    seeds: tuple = ()
    accept: tuple = ()  # (argument, bad_arrays case) pairs that are in fact valid
    constant_bad: tuple = ()  # float arrays whose values must not all be equal
    rename: dict = field(default_factory=dict)  # argument -> the name its errors use
    bad: tuple = ()  # (case, overrides, argument named)
    good: tuple = ()  # (case, overrides)


def lira(reference_logits, reference_in_mask, labels, logits, *, online=False, fix_variance=False):
    attack = attacks.LiRA(online=online, fix_variance=fix_variance)
    return attack.fit(reference_logits, reference_in_mask, labels).score_samples(logits)


def rmia(reference_logits, reference_in_mask, labels, population_logits, population_labels,
         logits, target_population_logits, *, online=False, a=0.5, gamma=1.0):  # fmt: skip
    attack = attacks.RMIA(online=online, a=a, gamma=gamma).fit(
        reference_logits, reference_in_mask, labels,
        population_logits=population_logits, population_labels=population_labels,
    )  # fmt: skip
    return attack.score_samples(logits, population_logits=target_population_logits)


def shadow(reference_logits, reference_in_mask, labels, logits, *, per_class=True, top_k=None,
           seed=0, estimator=None):  # fmt: skip
    attack = attacks.ShadowModelAttack(
        per_class=per_class, top_k=top_k, seed=seed,
        estimator=LogisticRegression() if estimator is None else estimator,
    )  # fmt: skip
    return attack.fit(reference_logits, reference_in_mask, labels).score_samples(logits)


def tpr_at(scores, is_member, fpr):
    return metrics.evaluate(scores, is_member).tpr_at(fpr)


def confusion(threshold, true_positives, false_positives, true_negatives, false_negatives):
    counts = metrics.Confusion(
        threshold, true_positives, false_positives, true_negatives, false_negatives
    )
    return counts.tpr, counts.fpr, counts.precision, counts.accuracy


def check_claim(enforce, statement, holds):
    found = claims.Claims(enforce=enforce)
    found.check(statement, holds)
    found.done()


def difference(estimate, low, high, confidence):
    return metrics.Difference(estimate, low, high, confidence).significant


def report_markdown(**kwargs):
    return audit.audit_model(**kwargs).to_markdown()


LOGIT_AUDIT = {
    "member_logits": LOGITS, "nonmember_logits": LOGITS[::-1] * 0.5,
    "member_labels": LABELS, "nonmember_labels": LABELS,
}  # fmt: skip
AUDIT_LENGTHS = {"member_logits": 0, "member_labels": 0}
AUDIT_NUMBERS = {
    "delta": NOT_NUMBERS + NON_FINITE + (-0.1, 1.5),
    "confidence": FRACTION_BAD + (1,),
    "n_exposed": POSITIVE_INT_BAD,
    "n_references": POSITIVE_INT_BAD + (1,),
}
MLP = models.mlp(4, C, seed=0)
AUDIT_POPULATION = {
    "population_logits": POP_TARGET, "reference_population_logits": POP,
    "population_labels": POP_LABELS,
}  # fmt: skip

SPECS = {
    # mialab.attacks: threshold attacks and the update attack
    **{
        f"attacks.{f.__name__}": Spec(
            f,
            f,
            {"logits": LOGITS, "labels": LABELS},
            arrays=("logits", "labels"),
            lengths={"logits": 0, "labels": 0},
            labels={"labels": C},
            bad=(("one class", {"logits": LOGITS[:, :1], "labels": LABELS * 0}, "logits"),),
            good=(("float32 overflow", {"logits": LOGITS * probing.OVERFLOW}),),
        )  # fmt: skip
        for f in (attacks.loss_score, attacks.confidence_score, attacks.modified_entropy_score)
    },
    "attacks.entropy_score": Spec(
        attacks.entropy_score,
        attacks.entropy_score,
        {"logits": LOGITS},
        arrays=("logits",),
        bad=(("one class", {"logits": LOGITS[:, :1]}, "logits"),),
    ),  # fmt: skip
    "attacks.loss_decrease_score": Spec(
        attacks.loss_decrease_score,
        attacks.loss_decrease_score,
        {"logits_before": LOGITS, "logits_after": LOGITS + 1, "labels": LABELS},
        arrays=("logits_before", "logits_after", "labels"),
        lengths={"logits_before": 0, "logits_after": 0, "labels": 0},
        labels={"labels": C},
        bad=(("other classes", {"logits_after": LOGITS[:, :2]}, "logits_after"),),
    ),  # fmt: skip
    # mialab.attacks: reference-model attacks
    "attacks.lira_statistic": Spec(
        attacks.lira_statistic,
        attacks.lira_statistic,
        {"logits": REF, "labels": LABELS},
        arrays=("logits", "labels"),
        lengths={"logits": 1, "labels": 0},
        labels={"labels": C},
        accept=(("logits", "one more dimension"),),  # leading axes are free
        bad=(("one class", {"logits": REF[..., :1], "labels": LABELS * 0}, "logits"),),
    ),  # fmt: skip
    "attacks.LiRA": Spec(
        attacks.LiRA,
        lira,
        {"reference_logits": REF, "reference_in_mask": MASK, "labels": LABELS, "logits": LOGITS},
        arrays=("reference_logits", "reference_in_mask", "labels", "logits"),
        lengths={"reference_logits": 1, "reference_in_mask": 1, "labels": 0, "logits": 0},
        labels={"labels": C},
        flags=("online", "fix_variance"),
        bad=(
            ("every record IN", {"reference_in_mask": MASK | True}, "reference_in_mask"),
            ("other classes", {"logits": LOGITS[:, :2]}, "logits"),
            ("queries", {"logits": np.stack([LOGITS, LOGITS], axis=1)}, "logits"),
        ),
        good=(("online", {"online": True}), ("fixed variance", {"fix_variance": True})),
    ),  # fmt: skip
    "attacks.RMIA": Spec(
        attacks.RMIA,
        rmia,
        {
            "reference_logits": REF,
            "reference_in_mask": MASK,
            "labels": LABELS,
            "population_logits": POP,
            "population_labels": POP_LABELS,
            "logits": LOGITS,
            "target_population_logits": POP_TARGET,
        },
        arrays=(
            "reference_logits",
            "reference_in_mask",
            "labels",
            "population_logits",
            "population_labels",
            "logits",
            "target_population_logits",
        ),
        lengths={
            "reference_logits": 1,
            "reference_in_mask": 1,
            "labels": 0,
            "population_logits": 1,
            "population_labels": 0,
            "logits": 0,
            "target_population_logits": 0,
        },
        labels={"labels": C, "population_labels": C},
        flags=("online",),
        numbers={
            "a": NOT_NUMBERS[:1] + NOT_NUMBERS[2:] + NON_FINITE + (-0.1, 1.5),
            "gamma": POSITIVE_BAD,
        },
        scalars={"a": (np.float32(0.5), 0, 1, np.float64(1.0)), "gamma": (np.float32(2.0),)},
        rename={"target_population_logits": "population_logits"},
        good=(("online", {"online": True}),),
    ),  # fmt: skip
    "attacks.ShadowModelAttack": Spec(
        attacks.ShadowModelAttack,
        shadow,
        {"reference_logits": REF, "reference_in_mask": MASK, "labels": LABELS, "logits": LOGITS},
        arrays=("reference_logits", "reference_in_mask", "labels", "logits"),
        lengths={"reference_logits": 1, "reference_in_mask": 1, "labels": 0, "logits": 0},
        labels={"labels": C},
        flags=("per_class",),
        seeds=("seed",),
        numbers={"top_k": NOT_NUMBERS[:1] + NOT_NUMBERS[2:] + (math.nan, 0, C + 1, 1.5)},
        scalars={"top_k": (np.int64(2), 1, C)},
        bad=(
            ("not a classifier", {"estimator": "mlp"}, "estimator"),
            ("other classes", {"logits": LOGITS[:, :2]}, "logits"),
        ),
        good=(("one classifier", {"per_class": False, "top_k": 2}),),
    ),  # fmt: skip
    # mialab.attacks: label-only
    "attacks.gap_score": Spec(
        attacks.gap_score,
        attacks.gap_score,
        {"predicted_labels": LABELS, "labels": LABELS[::-1].copy()},
        arrays=("predicted_labels", "labels"),
        lengths={"predicted_labels": 0, "labels": 0},
        labels={"predicted_labels": None, "labels": None},
    ),  # fmt: skip
    "attacks.augmentation_score": Spec(
        attacks.augmentation_score,
        attacks.augmentation_score,
        {"predict_labels": right_of_zero, "X": X4, "labels": BINARY, "n_noise": 2},
        arrays=("X", "labels"),
        lengths={"X": 0, "labels": 0},
        labels={"labels": None},
        seeds=("seed",),
        numbers={
            "max_shift": POSITIVE_INT_BAD,
            "n_noise": POSITIVE_INT_BAD,
            "noise_scale": POSITIVE_BAD,
        },
        scalars={"n_noise": (np.int64(3),), "noise_scale": (np.float32(0.5),)},
        bad=(
            ("not callable", {"predict_labels": "model"}, "predict_labels"),
            ("bad image shape", {"image_shape": (3, 3)}, "X"),
            (
                "answers too few",
                {"predict_labels": lambda X: right_of_zero(X)[:-1]},
                "predict_labels",
            ),
        ),
        good=(("images", {"image_shape": (2, 2), "max_shift": np.int64(1)}),),
    ),  # fmt: skip
    "attacks.boundary_distance_score": Spec(
        attacks.boundary_distance_score,
        attacks.boundary_distance_score,
        {
            "predict_labels": right_of_zero,
            "X": X4,
            "labels": BINARY,
            "max_queries": 100,
            "n_directions": 3,
            "n_probes": 4,
            "bisection_steps": 4,
        },
        arrays=("X", "labels"),
        lengths={"X": 0, "labels": 0},
        labels={"labels": None},
        seeds=("seed",),
        numbers={
            "max_queries": POSITIVE_INT_BAD + (10,),
            "n_directions": POSITIVE_INT_BAD,
            "n_probes": POSITIVE_INT_BAD,
            "bisection_steps": POSITIVE_INT_BAD,
            "radius": POSITIVE_BAD,
        },
        scalars={"radius": (np.float32(5.0),), "max_queries": (np.int64(200),)},
        bad=(("not callable", {"predict_labels": None}, "predict_labels"),),
    ),  # fmt: skip
    "attacks.mask_confidences": Spec(
        attacks.mask_confidences,
        attacks.mask_confidences,
        {"model": MLP},
        bad=tuple((_label(v), {"model": v}, "model") for v in ("mlp", None, right_of_zero)),
    ),  # fmt: skip
    "attacks.QueryCounter": Spec(
        attacks.QueryCounter,
        attacks.QueryCounter,
        {"predict_labels": right_of_zero},
        bad=tuple((repr(v), {"predict_labels": v}, "predict_labels") for v in ("f", None, 3)),
    ),  # fmt: skip
    # mialab.attacks: generative models
    "attacks.logan_score": Spec(
        attacks.logan_score,
        attacks.logan_score,
        {"discriminator": lambda X: X.sum(axis=1), "X": X4},
        arrays=("X",),
        bad=(
            ("not callable", {"discriminator": 3}, "discriminator"),
            ("two scores per row", {"discriminator": lambda X: X[:, :2]}, "discriminator"),
            ("other width", {"discriminator": models.mlp(5, 1)}, "X"),
        ),
        good=(("a torch module", {"discriminator": models.mlp(4, 1)}),),
    ),  # fmt: skip
    "attacks.gan_leaks_score": Spec(
        attacks.gan_leaks_score,
        attacks.gan_leaks_score,
        {"X": X4, "samples": SAMPLES, "reference_samples": REAL},
        arrays=("X", "samples", "reference_samples"),
        accept=(("reference_samples", "None"),),
        bad=(("other width", {"samples": SAMPLES[:, :3]}, "samples"), *BAD_PROJECTIONS),
        good=(
            ("no reference", {"reference_samples": None}),
            ("projected", {"projection": PROJECTION}),
        ),
    ),  # fmt: skip
    "attacks.latent_reconstruction_score": Spec(
        attacks.latent_reconstruction_score,
        attacks.latent_reconstruction_score,
        {"generator": GENERATOR, "X": X4, "steps": 2, "restarts": 1},
        arrays=("X",),
        seeds=("seed",),
        numbers={"steps": POSITIVE_INT_BAD, "restarts": POSITIVE_INT_BAD, "lr": POSITIVE_BAD},
        scalars={"steps": (np.int64(2),), "lr": (np.float32(0.1),)},
        bad=(
            ("not a module", {"generator": lambda z: z}, "generator"),
            ("other width", {"X": X4[:, :3]}, "X"),
        ),
    ),  # fmt: skip
    "attacks.co_membership_score": Spec(
        attacks.co_membership_score,
        attacks.co_membership_score,
        {"generator": GENERATOR, "record_sets": X4.reshape(3, 4, 4), "steps": 2, "restarts": 1},
        arrays=("record_sets",),
        seeds=("seed",),
        numbers={"steps": POSITIVE_INT_BAD, "restarts": POSITIVE_INT_BAD, "lr": POSITIVE_BAD},
        bad=(
            ("not a module", {"generator": None}, "generator"),
            ("other width", {"record_sets": X4.reshape(4, 3, 4)[..., :3]}, "record_sets"),
        ),
    ),  # fmt: skip
    "attacks.monte_carlo_score": Spec(
        attacks.monte_carlo_score,
        attacks.monte_carlo_score,
        {"X": X4, "samples": SAMPLES, "projection": PROJECTION},
        arrays=("X", "samples"),
        numbers={"radius": NOT_NUMBERS[:1] + NOT_NUMBERS[2:] + NON_FINITE + (0, -1)},
        scalars={"radius": (np.float32(0.5), 1)},
        bad=(
            ("every candidate copied", {"samples": X4, "projection": None}, "radius"),
            *BAD_PROJECTIONS,
        ),
        good=(("no projection", {"projection": None}),),
    ),  # fmt: skip
    "attacks.domias_score": Spec(
        attacks.domias_score,
        attacks.domias_score,
        {"X": X4, "samples": SAMPLES, "reference_samples": REAL},
        arrays=("X", "samples", "reference_samples"),
        constant_bad=("samples", "reference_samples"),
        numbers={"bandwidth": ("abc", None, [1.0], True, 0, -1) + NON_FINITE},
        scalars={"bandwidth": (np.float32(0.5), "silverman", 1)},
        bad=(("too few samples", {"samples": SAMPLES[:3]}, "samples"), *BAD_PROJECTIONS),
        good=(("projected", {"projection": PROJECTION}),),
    ),  # fmt: skip
    # mialab.attacks: diffusion models
    **{
        f"attacks.{f.__name__}": Spec(
            f,
            f,
            {"model": DENOISER, "X": X4, **valid},
            arrays=("X",),
            seeds=("seed",) if "n_noise" in valid else (),
            numbers=numbers,
            scalars=scalars,
            bad=(
                ("other width", {"X": X4[:, :3]}, "X"),
                ("float32 overflow", {"X": X4 * probing.OVERFLOW}, "X"),
                *((repr(v), {"model": v}, "model") for v in ("model", None, MLP)),
                *((f"device={v!r}", {"device": v}, "device") for v in ("tpu", "cuda:99", 3, None)),
            ),
            good=(
                ("float64 model", {"model": models.denoiser(4, hidden=8, steps=10).double()}),
                ("device auto", {"device": "auto"}),
            ),
        )  # fmt: skip
        for f, valid, numbers, scalars in (
            (
                attacks.diffusion_loss_score,
                {"timesteps": [2, 5], "n_noise": 2},
                {
                    "timesteps": NOT_NUMBERS + (math.nan, -1, 10, 1.5, [], [1, 1.5], [[1, 2]]),
                    "n_noise": POSITIVE_INT_BAD,
                },
                {
                    "timesteps": (np.int64(3), 0, 9, np.array([1, 2]), (1, np.int64(2))),
                    "n_noise": (np.int64(3),),
                },
            ),
            (
                attacks.secmi_score,
                {"timestep": 4, "interval": 2},
                {
                    "timestep": NOT_NUMBERS + (math.nan, -1, 0, 1, 3, 10, 1.5, 4.0),
                    "interval": POSITIVE_INT_BAD + (3,),
                },
                {"timestep": (np.int64(6), 2, 8), "interval": (np.int64(4), 1, 4)},
            ),
            (
                attacks.pia_score,
                {"timestep": 5},
                {"timestep": NOT_NUMBERS + (math.nan, -1, 10, 1.5), "p": POSITIVE_BAD},
                {"timestep": (np.int64(5), 0, 9), "p": (np.float32(2.0), 1, 0.5)},
            ),
        )
    },
    **{
        f"attacks.{f.__name__}": Spec(
            f,
            f,
            {"samples": SAMPLES, "X": REAL, "n_neighbors": 5, **valid},
            arrays=("samples", "X"),
            numbers={
                "n_neighbors": POSITIVE_INT_BAD + (31,),
                "alpha": POSITIVE_BAD,
                **{k: POSITIVE_BAD for k in valid},
            },
            scalars={
                "n_neighbors": (np.int64(3), 1, 30),
                "alpha": (np.float32(0.5), 1),
                **{k: (np.float32(0.5), 2) for k in valid},
            },
            bad=(
                ("other width", {"samples": SAMPLES[:, :3]}, "samples"),
                ("other width", {"X": REAL[:, :3]}, "samples"),
            ),
            good=(("copies of the records", {"samples": REAL[:4]}),),
        )  # fmt: skip
        for f, valid in ((attacks.extraction_ratio, {}), (attacks.extracted, {"threshold": 1.0}))
    },
    "attacks.lira_score": Spec(
        attacks.lira_score,
        attacks.lira_score,
        {"statistic": STATISTIC, "reference_statistics": REF_STATISTICS, "reference_in_mask": MASK},
        arrays=("statistic", "reference_statistics", "reference_in_mask"),
        lengths={"statistic": 0, "reference_statistics": 1, "reference_in_mask": 1},
        flags=("online",),
        bad=(
            ("every record IN", {"reference_in_mask": MASK | True}, "reference_in_mask"),
            ("ints", {"reference_in_mask": MASK.astype(int)}, "reference_in_mask"),
            ("other models", {"reference_statistics": REF_STATISTICS[:3]}, "reference_in_mask"),
            (
                "online, one IN model",
                {
                    "online": True,
                    "reference_statistics": REF_STATISTICS[:3],
                    "reference_in_mask": np.r_[MASK[:1], ~MASK[:1], ~MASK[:1]],
                },
                "reference",
            ),
        ),
        good=(("online", {"online": True}),),
    ),  # fmt: skip
    # mialab.attacks: language models (custom cases below)
    "attacks.exposure": Spec(
        attacks.exposure,
        attacks.exposure,
        {"canary_logprob": CANDIDATES[30], "candidate_logprobs": CANDIDATES[::5]},
        arrays=("candidate_logprobs",),
        constant_bad=("candidate_logprobs",),
        numbers={"canary_logprob": NOT_NUMBERS + NON_FINITE + (0.5,), "rtol": FRACTION_BAD},
        scalars={"canary_logprob": (np.float32(CANDIDATES[30]), float(CANDIDATES[30]))},
        bad=(("canary not a candidate", {"canary_logprob": -31.0}, "candidate_logprobs"),),
    ),  # fmt: skip
    "attacks.exposure_estimate": Spec(
        attacks.exposure_estimate,
        attacks.exposure_estimate,
        {"canary_logprob": -30.0, "sample_logprobs": CANDIDATES, "space_size": 1000},
        arrays=("sample_logprobs",),
        constant_bad=("sample_logprobs",),
        numbers={
            "canary_logprob": NOT_NUMBERS + NON_FINITE + (0.5,),
            "space_size": NOT_NUMBERS + (math.nan, 1.5, 10, -1),
        },
        scalars={"canary_logprob": (np.float32(-30.0),), "space_size": (np.int64(1000),)},
        bad=(
            ("constant sample", {"sample_logprobs": np.full(60, -30.0)}, "sample_logprobs"),
            ("too small a sample", {"sample_logprobs": CANDIDATES[:10]}, "sample_logprobs"),
        ),
    ),  # fmt: skip
    # mialab.metrics
    "metrics.evaluate": Spec(
        metrics.evaluate,
        metrics.evaluate,
        {"scores": SCORES, "is_member": IS_MEMBER},
        arrays=("scores", "is_member"),
        lengths={"scores": 0, "is_member": 0},
        membership=("is_member",),
        numbers={"confidence": FRACTION_BAD + (1.0,), "n_bootstrap": POSITIVE_INT_BAD},
        scalars={"confidence": (np.float32(0.9),), "n_bootstrap": (np.int64(20),)},
        seeds=("seed",),
        bad=tuple((repr(v), {"name": v}, "name") for v in (3, None)),
    ),  # fmt: skip
    "metrics.compare": Spec(
        metrics.compare,
        metrics.compare,
        {"a": RESULT, "b": OTHER_RESULT},
        numbers={"fpr": tuple(v for v in FRACTION_BAD if v is not None)},  # None: the AUC
        scalars={"fpr": (np.float32(0.5), 1)},
        bad=(
            *((repr(v), {"a": v}, "a") for v in (0.7, None, [RESULT])),
            ("not a result", {"b": "LiRA"}, "b"),
            ("other records", {"b": metrics.evaluate(SCORES, 1 - IS_MEMBER)}, "same records"),
        ),
        good=(("unmeasurable fpr", {"fpr": 0.01}),),
    ),  # fmt: skip
    "metrics.Difference": Spec(
        metrics.Difference,
        difference,
        {"estimate": 0.1, "low": 0.05, "high": 0.2, "confidence": 0.95},
        numbers={
            **{k: ("1", None, [1.0], True, math.inf) for k in ("estimate", "low", "high")},
            "confidence": FRACTION_BAD + (1.0,),
        },
        scalars={"estimate": (np.float32(0.1), math.nan)},
        bad=(("low above high", {"low": 0.3}, "low"),),
    ),  # fmt: skip
    "metrics.roc_band": Spec(
        metrics.roc_band,
        metrics.roc_band,
        {"result": RESULT},
        numbers={"points": POSITIVE_INT_BAD},
        scalars={"points": (np.int64(3),)},
        bad=tuple((repr(v), {"result": v}, "result") for v in (None, [RESULT], SCORES)),
    ),  # fmt: skip
    "metrics.show_results": Spec(
        metrics.show_results,
        metrics.show_results,
        {"results": [RESULT, OTHER_RESULT]},
        numbers={"digits": POSITIVE_INT_BAD},
        bad=(
            *((repr(v), {"results": v}, "results") for v in ([], [1], "abc", None)),
            *((repr(v), {"fprs": v}, "fprs") for v in ([0], [1.5], 0.1, [], None)),
        ),
        good=(("one result", {"results": RESULT}), ("unmeasurable fpr", {"fprs": [0.01]})),
    ),  # fmt: skip
    "metrics.seed_summary": Spec(
        metrics.seed_summary,
        metrics.seed_summary,
        {
            "frame": pd.DataFrame({"size": [1, 1, 2], "auc": [0.5, 0.6, 0.7]}),
            "by": "size",
            "value": "auc",
        },
        numbers={"confidence": FRACTION_BAD + (1.0,)},
        bad=(
            *((repr(v), {"frame": v}, "frame") for v in (None, [[1, 0.5]], np.ones((2, 2)))),
            ("empty", {"frame": pd.DataFrame({"size": [], "auc": []})}, "frame"),
            *((repr(v), {"by": v}, "by") for v in (None, 3, [], ["size", 3])),
            ("no such column", {"by": "seed"}, "seed"),
            *((repr(v), {"value": v}, "value") for v in (None, 3, ["auc"])),
            ("text values", {"frame": pd.DataFrame({"size": [1], "auc": ["a"]})}, "auc"),
            ("NaN values", {"frame": pd.DataFrame({"size": [1], "auc": [math.nan]})}, "auc"),
        ),
        good=(("several keys", {"by": ["size"]}),),
    ),  # fmt: skip
    "claims.Claims": Spec(
        claims.Claims,
        check_claim,
        {"enforce": True, "statement": "holds", "holds": True},
        flags=("enforce",),
        bad=(
            *((repr(v), {"statement": v}, "statement") for v in ("", None, 3)),
            *((repr(v), {"holds": v}, "holds") for v in (0.7, "yes", None, 1)),
        ),
        good=(("np.bool_", {"holds": np.bool_(True)}),),
    ),  # fmt: skip
    "metrics.confusion_at": Spec(
        metrics.confusion_at,
        metrics.confusion_at,
        {"scores": SCORES, "is_member": IS_MEMBER, "threshold": 0.0},
        arrays=("scores", "is_member"),
        lengths={"scores": 0, "is_member": 0},
        membership=("is_member",),
        numbers={"threshold": ("1", None, [1.0], True, math.nan)},
        scalars={"threshold": (np.float32(0.5), math.inf, -math.inf, 1)},
    ),  # fmt: skip
    "metrics.threshold_at_fpr": Spec(
        metrics.threshold_at_fpr,
        metrics.threshold_at_fpr,
        {"scores": SCORES, "is_member": IS_MEMBER, "fpr": 0.1},
        arrays=("scores", "is_member"),
        lengths={"scores": 0, "is_member": 0},
        membership=("is_member",),
        numbers={"fpr": FRACTION_BAD},
        scalars={"fpr": (np.float32(0.5), 1)},
    ),  # fmt: skip
    "metrics.AttackResult": Spec(
        metrics.AttackResult,
        tpr_at,
        {"scores": SCORES, "is_member": IS_MEMBER, "fpr": 0.1},
        numbers={"fpr": FRACTION_BAD},
        scalars={"fpr": (np.float32(0.5), 1)},
    ),  # fmt: skip
    "metrics.Confusion": Spec(
        metrics.Confusion,
        confusion,
        {
            "threshold": 0.5,
            "true_positives": 1,
            "false_positives": 2,
            "true_negatives": 3,
            "false_negatives": 4,
        },
        numbers={
            "threshold": ("1", None, True, math.nan),
            **{
                k: ("1", None, True, math.nan, 1.5, -1)
                for k in ("true_positives", "false_positives", "true_negatives", "false_negatives")
            },
        },
        scalars={"threshold": (math.inf, np.float32(0.5)), "true_positives": (np.int64(2),)},
        good=(
            (
                "no records",
                {
                    "true_positives": 0,
                    "false_positives": 0,
                    "true_negatives": 0,
                    "false_negatives": 0,
                },
            ),
        ),
    ),  # fmt: skip
    "metrics.results_table": Spec(
        metrics.results_table,
        metrics.results_table,
        {"results": [RESULT]},
        bad=(
            *((repr(v), {"results": v}, "results") for v in ([], [1], "abc", None, 3)),
            *(
                (repr(v), {"fprs": v}, "fprs")
                for v in ([0], [1.5], 0.1, ["a"], [math.nan], [], None)
            ),
        ),
        flags=("intervals",),
        good=(("one result", {"results": RESULT}), ("a tuple", {"fprs": (np.float32(0.5),)})),
    ),  # fmt: skip
    "metrics.format_results": Spec(
        metrics.format_results,
        metrics.format_results,
        {"table": metrics.results_table([RESULT, OTHER_RESULT])},
        numbers={"digits": POSITIVE_INT_BAD},
        scalars={"digits": (np.int64(2),)},
        bad=tuple((repr(v), {"table": v}, "table") for v in (None, [RESULT], SCORES)),
    ),  # fmt: skip
    "metrics.as_results": Spec(
        metrics.as_results,
        metrics.as_results,
        {"results": [RESULT, OTHER_RESULT]},
        bad=tuple((repr(v), {"results": v}, "results") for v in ([], [1], "abc", None, 3)),
        good=(("one result", {"results": RESULT}), ("a tuple", {"results": (RESULT,)})),
    ),  # fmt: skip
    "metrics.tpr_column": Spec(
        metrics.tpr_column,
        metrics.tpr_column,
        {"fpr": 0.01},
        numbers={"fpr": FRACTION_BAD},
        scalars={"fpr": (np.float32(0.5), 1)},
    ),  # fmt: skip
    "metrics.accuracy": Spec(
        metrics.accuracy,
        metrics.accuracy,
        {"logits": LOGITS, "labels": LABELS},
        arrays=("logits", "labels"),
        lengths={"logits": 0, "labels": 0},
        labels={"labels": C},
        bad=(("one class", {"logits": LOGITS[:, :1], "labels": LABELS * 0}, "logits"),),
    ),  # fmt: skip
    "metrics.chance_auc_std": Spec(
        metrics.chance_auc_std,
        metrics.chance_auc_std,
        {"n_members": 10, "n_nonmembers": 20},
        numbers={"n_members": POSITIVE_INT_BAD, "n_nonmembers": POSITIVE_INT_BAD},
        scalars={"n_members": (np.int64(5),), "n_nonmembers": (np.int64(1),)},
    ),  # fmt: skip
    # mialab.audit
    "audit.clopper_pearson": Spec(
        audit.clopper_pearson,
        audit.clopper_pearson,
        {"successes": 8, "trials": 10, "alpha": 0.05},
        numbers={
            "successes": ("1", None, True, 1.5, -1, 11, math.nan),
            "trials": ("1", None, True, 1.5, 0, 5, math.nan),
            "alpha": FRACTION_BAD + (1,),
        },
        scalars={
            "successes": (np.int64(3), 0, 10),
            "trials": (np.int64(10),),
            "alpha": (np.float32(0.1),),
        },
    ),  # fmt: skip
    "audit.epsilon_lower_bound": Spec(
        audit.epsilon_lower_bound,
        audit.epsilon_lower_bound,
        {"scores": MANY_SCORES, "is_member": MANY_MEMBERS, "delta": 1e-5},
        arrays=("scores", "is_member"),
        lengths={"scores": 0, "is_member": 0},
        membership=("is_member",),
        seeds=("seed",),
        numbers={
            "delta": NOT_NUMBERS + NON_FINITE + (-0.1, 1.5),
            "confidence": FRACTION_BAD + (1,),
            "threshold": ("1", [1.0], True) + NON_FINITE,
        },
        scalars={
            "delta": (np.float32(1e-5), 0),
            "confidence": (np.float32(0.9),),
            "threshold": (np.float32(0.5), 0),
        },
    ),  # fmt: skip
    "audit.canary_epsilon_lower_bound": Spec(
        audit.canary_epsilon_lower_bound,
        audit.canary_epsilon_lower_bound,
        {"scores": MANY_SCORES, "included": MANY_MEMBERS, "delta": 0.0},
        arrays=("scores", "included"),
        lengths={"scores": 0, "included": 0},
        membership=("included",),
        numbers={
            "delta": NOT_NUMBERS + NON_FINITE + (-0.1, 1.5),
            "confidence": FRACTION_BAD + (1,),
            "k_plus": NOT_NUMBERS[:1] + NOT_NUMBERS[2:] + (math.nan, 0, -1, 1.5, MANY),
            "k_minus": NOT_NUMBERS[:1] + NOT_NUMBERS[2:] + (math.nan, 0, -1, 1.5),
            "n_canaries": NOT_NUMBERS[:1] + NOT_NUMBERS[2:] + (math.nan, 0, 1.5, MANY - 1),
        },
        scalars={
            "k_plus": (np.int64(3),),
            "confidence": (np.float32(0.9),),
            "n_canaries": (np.int64(MANY), 10 * MANY),
        },
        seeds=("seed",),
    ),  # fmt: skip
    "audit.audit_model": Spec(
        audit.audit_model,
        audit.audit_model,
        LOGIT_AUDIT,
        arrays=("member_logits", "nonmember_logits", "member_labels", "nonmember_labels"),
        lengths=AUDIT_LENGTHS,
        labels={"member_labels": C, "nonmember_labels": C},
        numbers=AUDIT_NUMBERS,
        flags=("progress", "membership_randomized"),
        seeds=("seed",),
        scalars={"delta": (np.float32(1e-5),), "n_exposed": (np.int64(3),)},
        bad=(
            (
                "labels beyond the model's classes",
                {
                    **{k: None for k in LOGIT_AUDIT},
                    "model": MLP,
                    "members": (X4, LABELS + C),
                    "nonmembers": (X4, LABELS),
                },
                "members",
            ),
            (
                "records wider than the model",
                {
                    **{k: None for k in LOGIT_AUDIT},
                    "model": models.mlp(5, C),
                    "members": (X4, LABELS),
                    "nonmembers": (X4, LABELS),
                },
                "members",
            ),
            (
                "reference logits of other records",
                {"reference_logits": REF, "reference_in_mask": MASK},
                "reference_logits",
            ),
            (
                "reference logits without a mask",
                {"reference_logits": np.concatenate([REF, REF], axis=1)},
                "reference_in_mask",
            ),
            ("a train_reference that is no function", {"train_reference": 3}, "train_reference"),
            *((f"device={v!r}", {"device": v}, "device") for v in ("tpu", "cuda:99", 3, None)),
            ("epochs without train_reference", {"epochs": 2}, "epochs"),
            *(
                (
                    f"population {case}",
                    {
                        "reference_logits": np.concatenate([REF, REF], axis=1),
                        "reference_in_mask": np.concatenate([MASK, ~MASK], axis=1),
                        **AUDIT_POPULATION,
                        argument: value,
                    },
                    argument,
                )
                for case, argument, value in (
                    ("from other models", "reference_population_logits", POP[:2]),
                    ("of other classes", "population_logits", POP_TARGET[:, :2]),
                    ("labels out of range", "population_labels", POP_LABELS + C),
                    ("one row short", "population_labels", POP_LABELS[:-1]),
                )
            ),
            ("half the population outputs", {"population_logits": POP_TARGET}, "population_labels"),
            (
                "population outputs without reference models",
                AUDIT_POPULATION,
                "reference_logits",
            ),
        ),
        good=(
            (
                "a model",
                {
                    **{k: None for k in LOGIT_AUDIT},
                    "model": MLP,
                    "members": (X4, LABELS),
                    "nonmembers": (X4[::-1], LABELS),
                },
            ),
            (
                "reference logits",
                {
                    "reference_logits": np.concatenate([REF, REF], axis=1),
                    "reference_in_mask": np.concatenate([MASK, ~MASK], axis=1),
                },
            ),
            (
                "only predictions",
                {
                    "member_logits": None,
                    "nonmember_logits": None,
                    "member_predictions": LABELS,
                    "nonmember_predictions": LABELS[::-1],
                },
            ),
            (
                "saved population outputs (RMIA)",
                {
                    "reference_logits": np.concatenate([REF, REF], axis=1),
                    "reference_in_mask": np.concatenate([MASK, ~MASK], axis=1),
                    **AUDIT_POPULATION,
                },
            ),
            (
                "a scikit-learn classifier and a reference factory",
                {
                    **{k: None for k in LOGIT_AUDIT},
                    "model": LogisticRegression().fit(X4, LABELS),
                    "members": (X4, LABELS),
                    "nonmembers": (X4[::-1], LABELS),
                    "train_reference": lambda seed: LogisticRegression(),
                    "n_references": 2,
                },
            ),
            (
                "a torch reference factory",
                {
                    **{k: None for k in LOGIT_AUDIT},
                    "model": MLP,
                    "members": (X4, LABELS),
                    "nonmembers": (X4[::-1], LABELS),
                    "train_reference": lambda seed: models.mlp(4, C, seed=seed),
                    "n_references": 2,
                    "epochs": 1,
                    "device": torch.device("cpu"),
                },
            ),
            ("device auto", {"device": "auto"}),
        ),
    ),  # fmt: skip
    "audit.AuditReport": Spec(
        audit.AuditReport,
        report_markdown,
        LOGIT_AUDIT,
        numbers={"n_exposed": POSITIVE_INT_BAD},
    ),  # fmt: skip
    # mialab.plots
    "plots.roc": Spec(
        plots.roc,
        plots.roc,
        {"results": [RESULT]},
        flags=("log", "band"),
        bad=(
            *((repr(v), {"results": v}, "results") for v in ([], [1], "abc", None)),
            ("axes", {"ax": "x"}, "ax"),
            ("title", {"title": 3}, "title"),
        ),
        good=(("one result", {"results": RESULT}), ("linear", {"log": np.bool_(False)})),
    ),  # fmt: skip
    "plots.score_histogram": Spec(
        plots.score_histogram,
        plots.score_histogram,
        {"result": RESULT, "bins": 4},
        numbers={"bins": POSITIVE_INT_BAD, "threshold": ("1", [1.0], True) + NON_FINITE},
        scalars={"bins": (np.int64(3),), "threshold": (np.float32(0.5), 0)},
        bad=(("not a result", {"result": [RESULT]}, "result"), ("axes", {"ax": 1}, "ax")),
    ),  # fmt: skip
    "plots.sweep": Spec(
        plots.sweep,
        plots.sweep,
        {"summary": SWEEP, "x": "size"},
        bad=(
            *((repr(v), {"summary": v}, "summary") for v in (None, [1, 2], SCORES)),
            ("not a summary", {"summary": pd.DataFrame({"size": [1]})}, "summary"),
            *((repr(v), {"x": v}, "x") for v in (None, 3)),
            ("no such column", {"x": "seed"}, "seed"),
            ("axes", {"ax": "x"}, "ax"),
            *((repr(v), {k: v}, k) for v in (3, [1]) for k in ("label", "ylabel")),
        ),
        good=(("labelled", {"label": "LiRA", "ylabel": "AUC"}),),
    ),  # fmt: skip
    # mialab.widgets
    "widgets.threshold_explorer": Spec(
        widgets.threshold_explorer,
        widgets.threshold_explorer,
        {"result": RESULT},
        bad=tuple((repr(v), {"result": v}, "result") for v in (None, [RESULT], SCORES)),
    ),  # fmt: skip
    "widgets.attack_explorer": Spec(
        widgets.attack_explorer,
        widgets.attack_explorer,
        {"results": {("A", 1): RESULT}},
        bad=(
            *(
                (repr(v), {"results": v}, "results")
                for v in ({}, None, [RESULT], {("A", "one"): RESULT}, {"A": RESULT})
            ),
            ("baseline", {"baseline": SCORES}, "baseline"),
            ("unit", {"unit": 3}, "unit"),
        ),
        good=(("numpy budget", {"results": {("A", np.int64(2)): RESULT}, "baseline": RESULT}),),
    ),  # fmt: skip
    "widgets.completion_explorer": Spec(
        widgets.completion_explorer,
        widgets.completion_explorer,
        {
            "model": models.char_lm("\nab "),
            "candidate_logprobs": CANDIDATES,
            "space_size": 1000,
            "prefix": "ab",
        },
        arrays=("candidate_logprobs",),
        constant_bad=("candidate_logprobs",),
        numbers={"space_size": NOT_NUMBERS + (math.nan, 1.5, 10)},
        scalars={"space_size": (np.int64(1000),)},
        bad=(
            ("not a language model", {"model": MLP}, "model"),
            ("prefix", {"prefix": 3}, "prefix"),
            ("constant", {"candidate_logprobs": np.full(60, -3.0)}, "candidate_logprobs"),
        ),
    ),  # fmt: skip
}

# The language scores take a list of per-token log-probability arrays, one per text.
BAD_SEQUENCES = {
    "None": None, "a string": "abc", "empty": [], "one text unwrapped": SEQUENCES[0],
    "an empty text": [np.array([])], "NaN": [np.array([-1.0, np.nan])],
    "inf": [np.array([-np.inf])], "above 0": [np.array([-1.0, 0.5])], "strings": [["a", "b"]],
    "a dict": {"a": SEQUENCES[0]}, "2-d per text": [np.zeros((2, 2)) - 1],
}  # fmt: skip


def containers(sequences):
    """The same per-text arrays in the other containers a user may pass."""
    return {
        "tuple": tuple(sequences), "Series": pd.Series(sequences),
        "object array": np.array(sequences + [np.log([0.5])], dtype=object)[:2],
        "2-d array": np.stack(sequences), "lists": [s.tolist() for s in sequences],
        "tensors": [torch.as_tensor(s) for s in sequences], "2-d tensor": torch.as_tensor(
            np.stack(sequences)), "float32": [s.astype(np.float32) for s in sequences],
    }  # fmt: skip


GOOD_SEQUENCES = containers(SEQUENCES)
TEXTS = ["aab", "abb"]
for f, extra in (
    (attacks.lm_loss_score, {}),
    (attacks.lm_zlib_score, {"texts": TEXTS}),
    (attacks.lm_reference_score, {"reference_token_logprobs": SEQUENCES[::-1]}),
    (attacks.lm_min_k_score, {"k": 0.5}),
):
    sequence_args = ["token_logprobs"] + [k for k in extra if k.endswith("token_logprobs")]
    bad = tuple(
        (f"{case}", {arg: value}, arg)
        for arg in sequence_args
        for case, value in BAD_SEQUENCES.items()
    ) + tuple(
        ("other length", {arg: SEQUENCES[:1]}, arg) for arg in sequence_args[1:]
    )  # fmt: skip
    good = tuple(
        (case, {arg: value}) for arg in sequence_args for case, value in GOOD_SEQUENCES.items()
    )
    if "texts" in extra:
        bad += (
            ("one string", {"texts": "aab"}, "texts"),
            ("numbers", {"texts": [1, 2]}, "texts"),
            ("other length", {"texts": TEXTS[:1]}, "texts"),
            ("None", {"texts": None}, "texts"),
        )
        good += (
            ("text array", {"texts": np.array(TEXTS)}),
            ("text Series", {"texts": pd.Series(TEXTS)}),
            ("text tuple", {"texts": tuple(TEXTS)}),
        )
    SPECS[f"attacks.{f.__name__}"] = Spec(
        f, f, {"token_logprobs": SEQUENCES, **extra}, bad=bad, good=good,
        numbers={"k": FRACTION_BAD} if "k" in extra else {},
        scalars={"k": (np.float32(0.5), 1)} if "k" in extra else {},
    )  # fmt: skip

# Min-K%++: per text, the vocabulary's mean and standard deviation of log p at each token.
MEANS = [np.array([-1.0, -1.2, -0.8]), np.array([-1.5, -1.1, -0.9])]
STDS = [np.array([0.5, 0.8, 0.3]), np.array([1.0, 0.6, 0.4])]
BAD_MOMENTS = {
    "None": None, "a string": "abc", "empty": [], "one text unwrapped": MEANS[0],
    "an empty text": [np.array([]), MEANS[1]], "NaN": [np.array([-1.0, np.nan, -1.0]), MEANS[1]],
    "inf": [np.array([-1.0, -np.inf, -1.0]), MEANS[1]], "strings": [["a", "b", "c"], MEANS[1]],
    "a dict": {"a": MEANS[0], "b": MEANS[1]}, "2-d per text": [np.zeros((3, 3)) - 1, MEANS[1]],
    "other length": MEANS[:1], "one token short": [m[:-1] for m in MEANS],
}  # fmt: skip
SPECS["attacks.lm_min_k_plus_plus_score"] = Spec(
    attacks.lm_min_k_plus_plus_score, attacks.lm_min_k_plus_plus_score,
    {"token_logprobs": SEQUENCES, "vocab_means": MEANS, "vocab_stds": STDS, "k": 0.5},
    numbers={"k": FRACTION_BAD}, scalars={"k": (np.float32(0.5), 1)},
    bad=tuple((case, {"token_logprobs": value}, "token_logprobs")
              for case, value in BAD_SEQUENCES.items())
    + tuple((f"{arg}={case}", {arg: value}, arg) for arg in ("vocab_means", "vocab_stds")
            for case, value in BAD_MOMENTS.items())
    + (
        ("one token more", {"token_logprobs": [np.append(s, -1.0) for s in SEQUENCES]},
         "token_logprobs"),
        ("vocab_means=above 0", {"vocab_means": [-m for m in MEANS]}, "vocab_means"),
        ("stds as means", {"vocab_means": STDS, "vocab_stds": MEANS}, "vocab_means"),
        ("vocab_stds=zero", {"vocab_stds": [np.array([0.5, 0.0, 0.3]), STDS[1]]}, "vocab_stds"),
        ("vocab_stds=negative", {"vocab_stds": [-s for s in STDS]}, "vocab_stds"),
    ),
    good=tuple((f"{arg}={case}", {arg: value})
               for arg, valid in (("token_logprobs", SEQUENCES), ("vocab_means", MEANS),
                                  ("vocab_stds", STDS))
               for case, value in containers(valid).items())
    + (("from a model", dict(zip(("token_logprobs", "vocab_means", "vocab_stds"),
                                 training.token_logprobs(models.char_lm("\nab"), TEXTS,
                                                         return_moments=True), strict=True))),),
)  # fmt: skip

PROBED = {spec.target for spec in SPECS.values()}

ACCEPT = None  # the expected outcome of a valid variant; otherwise the argument to be named


def _shorter(value, axis: int):
    return np.delete(np.asarray(value), -1, axis=axis)


def _cases():
    """(spec name, overrides, expected outcome, test id) for every case of every spec."""
    for name, spec in SPECS.items():

        def named(arg, spec=spec):
            return spec.rename.get(arg, arg)

        for arg in spec.arrays:
            valid = np.asarray(spec.valid[arg])
            for case, value in probing.bad_arrays(valid).items():
                outcome = ACCEPT if (arg, case) in spec.accept else named(arg)
                yield name, {arg: value}, outcome, f"{arg}={case}"
            for case, value in probing.valid_variants(valid).items():
                yield name, {arg: value}, ACCEPT, f"{arg}={case}"
            if np.issubdtype(valid.dtype, np.floating):
                outcome = named(arg) if arg in spec.constant_bad else ACCEPT
                yield name, {arg: np.full_like(valid, -0.25)}, outcome, f"{arg}=all equal"
        for arg, axis in spec.lengths.items():
            shorter = _shorter(spec.valid[arg], axis)
            yield name, {arg: shorter}, named(arg), f"{arg}=one row short"
        for arg, n_classes in spec.labels.items():
            valid = np.asarray(spec.valid[arg])
            yield name, {arg: valid.astype(float)}, arg, f"{arg}=float labels"
            yield name, {arg: np.where(valid == 0, -1, valid)}, arg, f"{arg}=negative labels"
            if n_classes is not None:
                yield name, {arg: valid + n_classes}, arg, f"{arg}=labels out of range"
        for arg in spec.membership:
            valid = np.asarray(spec.valid[arg])
            yield name, {arg: np.ones_like(valid)}, arg, f"{arg}=a single class"
            yield name, {arg: valid * 2}, arg, f"{arg}=values 0 and 2"
            yield name, {arg: valid * 0.5}, arg, f"{arg}=float labels"
            yield name, {arg: valid.astype(bool)}, ACCEPT, f"{arg}=booleans"
            yield name, {arg: valid.astype(np.float32)}, ACCEPT, f"{arg}=float32 0/1"
        for arg, values in spec.numbers.items():
            for value in values:
                yield name, {arg: value}, arg, f"{arg}={_label(value)}"
        for arg, values in spec.scalars.items():
            for value in values:
                yield name, {arg: value}, ACCEPT, f"{arg}={type(value).__name__}({value})"
        for arg in spec.flags:
            for value in BAD_FLAGS:
                # None is progress's default (tqdm decides), a bad value of any other flag
                outcome = ACCEPT if arg == "progress" and value is None else arg
                yield name, {arg: value}, outcome, f"{arg}={_label(value)}"
            yield name, {arg: np.bool_(True)}, ACCEPT, f"{arg}=np.bool_"
        for arg in spec.seeds:
            for value in BAD_SEEDS:
                yield name, {arg: value}, arg, f"{arg}={_label(value)}"
            for value in GOOD_SEEDS:
                yield name, {arg: value}, ACCEPT, f"{arg}={type(value).__name__}({value})"
        for case, overrides, arg in spec.bad:
            yield name, overrides, arg, case
        for case, overrides in spec.good:
            yield name, overrides, ACCEPT, case
        yield name, {}, ACCEPT, "valid"


# Bad input the library does not yet refuse by name, by test id. Each is a strict expected
# failure: once the check exists, the case passes, the run fails, and its entry here must go.
NOT_YET_CHECKED: dict = {}


def _marks(test_id):
    reason = NOT_YET_CHECKED.get(test_id)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


CASES = [pytest.param(name, overrides, outcome, id=f"{name}:{case}", marks=_marks(f"{name}:{case}"))
         for name, overrides, outcome, case in _cases()]  # fmt: skip


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name, overrides, outcome", CASES)
def test_probe(name, overrides, outcome):
    spec = SPECS[name]
    kwargs = {**spec.valid, **overrides}
    if outcome is ACCEPT:
        probing.assert_accepts(spec.func, **kwargs)
    else:
        probing.assert_rejects(spec.func, outcome, **kwargs)


def test_every_public_callable_of_these_modules_has_a_spec():
    wanted = {
        name: getattr(module, name)
        for module in (attacks, audit, claims, metrics, plots, widgets)
        for name in module.__all__
        if inspect.isfunction(getattr(module, name)) or inspect.isclass(getattr(module, name))
    }
    assert len(wanted) >= 40
    assert sorted(name for name, value in wanted.items() if value not in PROBED) == []


FINITE = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 4)), elements=FINITE))
def test_threshold_scores_are_finite_for_any_finite_logits(logits):
    labels = np.arange(len(logits)) % logits.shape[1]
    for score in (
        attacks.loss_score(logits, labels),
        attacks.confidence_score(logits, labels),
        attacks.modified_entropy_score(logits, labels),
        attacks.entropy_score(logits),
        attacks.lira_statistic(logits, labels),
    ):
        assert score.shape == (len(logits),) and np.isfinite(score).all()


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.integers(2, 30), elements=FINITE))
def test_metrics_take_any_finite_scores(scores):
    is_member = np.arange(len(scores)) % 2 == 0
    result = metrics.evaluate(scores, is_member)
    assert 0 <= result.auc <= 1 and 0 <= result.advantage <= 1
    threshold = metrics.threshold_at_fpr(scores, is_member, fpr=0.5)
    assert metrics.confusion_at(scores, is_member, threshold).fpr <= 0.5
