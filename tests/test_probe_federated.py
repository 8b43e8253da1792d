"""Bad-input probe of mialab.defenses.federated.

Each public callable has a valid call (``CALLS``: a four-feature MLP, two clients of six records,
one round on the in-process engine) and per argument the values to spoil it with; the probe
(``probing``) asserts that bad values raise a ValueError/TypeError naming the argument and that
the valid variants (numpy scalars, tuples, zero noise) are accepted. The settings objects
(``ClientDP``, ``FederatedSettings``) are probed field by field; ``run_federated`` and
``server_app`` are probed for taking nothing else in their place.
"""

from __future__ import annotations

import math
from functools import cache, partial

import numpy as np
import pytest
import torch
from probing import assert_accepts, assert_rejects

from mialab import data, models, training

federated = pytest.importorskip("mialab.defenses.federated")
from flwr.serverapp.strategy import FedAvg  # noqa: E402 (Flower is optional)

PROBED = {
    federated.ClientDP,
    federated.FederatedRun,
    federated.FederatedSettings,
    federated.LocalGrid,
    federated.ScreenedRecording,
    federated.client_app,
    federated.local_fit,
    federated.run_federated,
    federated.server_app,
}

rng = np.random.default_rng(0)
X = rng.normal(size=(12, 4)).astype(np.float32)
Y = np.array([0, 1] * 6)
MLP = partial(models.mlp, 4, 2, hidden=(4,), seed=0)


def dataset(X=X, y=Y, n_classes=2) -> data.Dataset:
    return data.Dataset(X, y, name="tiny", class_names=tuple("abcdefgh"[:n_classes]))


CLIENTS = [dataset(X[:6], Y[:6]), dataset(X[6:], Y[6:])]
UPDATE = federated.local_fit(epochs=1, batch_size=4)
ONE_ROUND = federated.FederatedSettings(rounds=1)


def app(**kw):
    return federated.client_app(
        **{
            "model_fn": lambda context: MLP(),
            "data_fn": lambda context: CLIENTS[int(context.node_config["partition-id"])],
            "local_update": UPDATE,
            **kw,
        }
    )


@cache
def finished_run() -> federated.FederatedRun:
    return federated.run_federated(MLP, CLIENTS, settings=ONE_ROUND, local_update=UPDATE)


CALLS = {
    "run_federated": lambda **kw: federated.run_federated(
        **{"model_fn": MLP, "clients": CLIENTS, "settings": ONE_ROUND, "local_update": UPDATE, **kw}
    ),
    "server_app": lambda **kw: federated.server_app(
        **{
            "model_fn": MLP,
            "run": federated.FederatedRun(model_fn=MLP),
            "n_clients": 2,
            "settings": ONE_ROUND,
            **kw,
        }
    ),
    "client_app": app,
    "ClientDP": lambda **kw: federated.ClientDP(**{"noise_multiplier": 0.5, **kw}),
    "FederatedSettings": lambda **kw: federated.FederatedSettings(**{"rounds": 1, **kw}),
    "local_fit": lambda **kw: federated.local_fit(
        **{"epochs": 1, "lr": 1e-3, "batch_size": 4, "seed": 0, **kw}
    ),
    "ScreenedRecording": lambda **kw: federated.ScreenedRecording(
        **{"strategy": FedAvg(), "reject_factor": 10.0, **kw}
    ),
    "LocalGrid": lambda **kw: federated.LocalGrid(**{"client": app(), "n_nodes": 2, **kw}),
    "FederatedRun": lambda **kw: federated.FederatedRun(**{"model_fn": MLP, **kw}),
    "FederatedRun.global_model": lambda **kw: finished_run().global_model(**kw),
    "FederatedRun.client_model": lambda **kw: finished_run().client_model(
        **{"server_round": 1, "client": 0, **kw}
    ),
}

NOT_NUMBERS = {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf, "str": "1", "None": None,
               "list": [1.0], "bool": True}  # fmt: skip
BAD_COUNTS = {"zero": 0, "negative": -1, "float": 1.5, **NOT_NUMBERS}
BAD_POSITIVE = {"zero": 0, "negative": -1.0, **NOT_NUMBERS}
BAD_SEEDS = {"negative": -1, "bool": True, "float": 1.0, "2**32": 2**32, "2**64": 2**64,
             "str": "0", "None": None}  # fmt: skip
BAD_FLAGS = {"str": "no", "int": 1, "None": None}
BAD_DELTAS = {**BAD_POSITIVE, "one": 1, "two": 2.0}
NOT_CALLABLES = {"str": "mlp", "None": None, "int": 3}
BAD_MODEL_FNS = {**NOT_CALLABLES, "a model, not a factory": MLP(), "returns no model": lambda: 3}
BAD_ROUNDS = {"out of range": 5, "str": "1", "float": 1.0, "bool": True, "None": None}


def without(cases: dict, *keys: str) -> dict:
    """``cases`` less the ones that are valid for this argument (None as a default, say)."""
    return {case: value for case, value in cases.items() if case not in keys}


BAD_DATA = {
    "array": X,
    "str": "data",
    "wrong width": dataset(X[:, :3]),
    "labels beyond the model's classes": dataset(y=Y * 3, n_classes=4),
}

# What run_federated and server_app take in place of their settings objects.
NOT_SETTINGS = {
    "None": None,
    "dict": {"rounds": 1},
    "the class": federated.FederatedSettings,
    "ClientDP": federated.ClientDP(0.5),
}
NOT_DP = {
    "number": 0.5,
    "dict": {"noise_multiplier": 0.5},
    "the class": federated.ClientDP,
    "FederatedSettings": ONE_ROUND,
}

BAD = {
    ("run_federated", "model_fn"): BAD_MODEL_FNS,
    ("run_federated", "clients"): {
        "empty": [],
        "None": None,
        "one Dataset": CLIENTS[0],
        **{f"[{case}]": [value] for case, value in BAD_DATA.items()},
    },
    ("run_federated", "settings"): NOT_SETTINGS,
    ("run_federated", "dp"): NOT_DP,
    ("run_federated", "local_update"): without(NOT_CALLABLES, "None"),
    ("run_federated", "test"): BAD_DATA,
    ("run_federated", "engine"): {
        "gpu": "gpu",
        "None": None,
        "int": 1,
        "upper": "LOCAL",
        "array": np.array(["local"]),
    },  # fmt: skip
    ("run_federated", "num_cpus"): without(BAD_COUNTS, "None"),
    ("server_app", "model_fn"): BAD_MODEL_FNS,
    ("server_app", "run"): {"None": None, "dict": {}, "a run class": federated.FederatedRun},
    ("server_app", "n_clients"): BAD_COUNTS,
    ("server_app", "settings"): NOT_SETTINGS,
    ("server_app", "dp"): NOT_DP,
    ("server_app", "test"): BAD_DATA,
    ("client_app", "model_fn"): NOT_CALLABLES,
    ("client_app", "data_fn"): NOT_CALLABLES,
    ("client_app", "local_update"): NOT_CALLABLES,
    ("client_app", "dp"): NOT_DP,
    ("ClientDP", "noise_multiplier"): {"negative": -1.0, **NOT_NUMBERS},
    ("ClientDP", "clipping_norm"): BAD_POSITIVE,
    ("ClientDP", "on_client"): BAD_FLAGS,
    ("ClientDP", "delta"): BAD_DELTAS,
    ("FederatedSettings", "rounds"): BAD_COUNTS,
    ("FederatedSettings", "reject_factor"): BAD_POSITIVE,
    ("FederatedSettings", "round_timeout"): BAD_POSITIVE,
    ("FederatedSettings", "seed"): BAD_SEEDS,
    ("local_fit", "epochs"): BAD_COUNTS,
    ("local_fit", "lr"): BAD_POSITIVE,
    ("local_fit", "batch_size"): BAD_COUNTS,
    ("local_fit", "seed"): BAD_SEEDS,
    ("local_fit", "device"): {"str": "gpu", "None": None, "int": 0, "no such CUDA": "cuda:99"},
    ("ScreenedRecording", "strategy"): {"None": None, "str": "fedavg", "class": FedAvg},
    ("ScreenedRecording", "reject_factor"): BAD_POSITIVE,
    ("LocalGrid", "client"): {"None": None, "function": lambda message, context: message},
    ("LocalGrid", "n_nodes"): BAD_COUNTS,
    ("FederatedRun", "model_fn"): NOT_CALLABLES,
    ("FederatedRun.global_model", "server_round"): BAD_ROUNDS,
    ("FederatedRun.client_model", "server_round"): BAD_ROUNDS,
    ("FederatedRun.client_model", "client"): {
        "str": "0",
        "float": 0.0,
        "bool": False,
        "None": None,
        "absent": 7,
    },  # fmt: skip
}

VALID = {
    ("run_federated", "model_fn"): {"float64 model": lambda: MLP().double()},
    ("run_federated", "clients"): {"tuple": tuple(CLIENTS)},
    ("run_federated", "test"): {"Dataset": dataset()},
    ("run_federated", "dp"): {
        "noise": federated.ClientDP(0.5),
        "zero noise": federated.ClientDP(0),
        "clipped on the clients": federated.ClientDP(0.5, clipping_norm=0.1, on_client=True),
    },
    ("run_federated", "num_cpus"): {"np.int64": np.int64(1)},
    ("server_app", "n_clients"): {"np.int64": np.int64(2)},
    ("server_app", "dp"): {"noise": federated.ClientDP(0.5)},
    ("client_app", "dp"): {"clipped on the client": federated.ClientDP(0.5, on_client=True)},
    ("ClientDP", "noise_multiplier"): {"np.float32": np.float32(0.5), "zero": 0, "int": 1},
    ("ClientDP", "clipping_norm"): {"np.float32": np.float32(0.5), "int": 2},
    ("ClientDP", "on_client"): {"np.bool_": np.bool_(True)},
    ("ClientDP", "delta"): {"np.float32": np.float32(1e-5)},
    ("FederatedSettings", "rounds"): {"np.int64": np.int64(1)},
    ("FederatedSettings", "reject_factor"): {"np.float32": np.float32(5.0), "int": 5},
    ("FederatedSettings", "round_timeout"): {"np.float32": np.float32(60.0), "int": 60},
    ("FederatedSettings", "seed"): {"np.int64": np.int64(3), "largest": 2**32 - 1},
    ("local_fit", "epochs"): {"np.int64": np.int64(2)},
    ("local_fit", "lr"): {"np.float32": np.float32(0.01)},
    ("local_fit", "batch_size"): {"np.int64": np.int64(4)},
    ("local_fit", "seed"): {"np.int64": np.int64(5), "largest": 2**32 - 1},
    ("local_fit", "device"): {"auto": "auto", "torch.device": torch.device("cpu")},
    ("ScreenedRecording", "reject_factor"): {"np.float32": np.float32(5.0), "int": 5},
    ("LocalGrid", "n_nodes"): {"np.int64": np.int64(2)},
    ("FederatedRun.global_model", "server_round"): {"np.int64": np.int64(0), "last": -1},
    ("FederatedRun.client_model", "client"): {"np.int64": np.int64(1)},
}


def _cases(table):
    return [
        pytest.param(name, argument, value, id=f"{name}-{argument}-{case}")
        for (name, argument), cases in table.items()
        for case, value in cases.items()
    ]


@pytest.mark.parametrize(("name", "argument", "value"), _cases(BAD))
def test_bad_input_is_refused_by_name(name, argument, value):
    assert_rejects(lambda: CALLS[name](**{argument: value}), argument)


@pytest.mark.parametrize(("name", "argument", "value"), _cases(VALID))
def test_valid_variants_are_accepted(name, argument, value):
    out = assert_accepts(lambda: CALLS[name](**{argument: value}))
    if name == "run_federated":
        assert out.rounds == 1 and out.history.clients.tolist() == [0, 2]
    if name in ("ClientDP", "FederatedSettings"):  # stored as the Python number it stands for
        stored = getattr(out, argument)
        assert type(stored) in (int, float, bool) and stored == value
    if name == "local_fit":  # the update it returns trains, also from the largest seed
        model = out(MLP(), CLIENTS[0], client=1, server_round=3)
        assert np.isfinite(training.predict_logits(model, X)).all()
        assert {p.device.type for p in model.parameters()} == {"cpu"}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_valid_call_itself_works(name):
    assert_accepts(CALLS[name])


def test_every_probed_callable_has_a_valid_call_and_bad_cases():
    assert {c.__name__ for c in PROBED} <= set(CALLS)
    assert {name for name, _ in BAD} == set(CALLS)
