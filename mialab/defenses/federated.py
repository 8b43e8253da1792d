"""Federated averaging on Flower, and what an honest-but-curious server sees (lesson 04).

The hospitals are Flower ``ClientApp`` nodes and the server a ``ServerApp`` running FedAvg
(McMahan et al. 2017). :func:`run_federated` runs the two in this process (or in Flower's Ray
simulation, started lean); the same apps run on separate machines with ``flower-superlink``,
``flower-supernode`` and ``flwr run`` (README, and ``mialab.defenses.flower_app``).

Between the clients and FedAvg sits a small strategy wrapper, :class:`ScreenedRecording`: it
keeps a copy of every update as the server received it (so lesson 04 can attack them as a
curious server could) and drops updates that are not finite or are far larger than the
others, before Flower aggregates the rest.

Client-level differential privacy (:class:`ClientDP`, given as ``dp=``) uses Flower's own
wrappers (DP-FedAvg, McMahan et al. 2018): each client's update is clipped to ``clipping_norm``
(by the server or by the client) and the average gets Gaussian noise of standard deviation
z·C/m. Flower's RDP accountant composes every round; the ε reported is the total over all
rounds. The rounds, the screening and the seed are :class:`FederatedSettings` (``settings=``).

Two of Flower's internals have no public route and are used in one small function each:
``_keep_flower_telemetry_off`` and ``_flower_server_task`` (tests/test_federated.py
checks that Flower still works the way they assume).
"""

from __future__ import annotations

# ruff: noqa: E402 (the environment below must be set before flwr is imported)
import os

# Private by default: no telemetry from Flower and no usage statistics from Ray. Flower reads
# FLWR_TELEMETRY_ENABLED once, when flwr is first imported, so it is set before the imports
# below; Ray reads RAY_USAGE_STATS_ENABLED when it starts. A value already set is kept, so
# FLWR_TELEMETRY_ENABLED=1 in the environment turns Flower's telemetry back on.
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import contextlib
import ctypes
import logging
import re
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from flwr.app import ArrayRecord, Context, Error, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.mod import fixedclipping_mod
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.serverapp import (
    Grid,
    NeighboringRelation,
    PrivacyConfig,
    RdpAccountant,
    SamplingMethod,
    ServerApp,
)
from flwr.serverapp.strategy import (
    DifferentialPrivacyClientSideFixedClipping,
    DifferentialPrivacyServerSideFixedClipping,
    FedAvg,
    Strategy,
)
from flwr.simulation import run_simulation
from flwr.supercore import telemetry as flower_telemetry
from flwr.supercore.task_identity import TaskIdentity
from torch import nn

from mialab import training
from mialab._checks import boolean, is_number, positive_int, positive_number, seed_value
from mialab.data import Dataset


def _keep_flower_telemetry_off() -> None:
    """Turn Flower's telemetry off in a process that imported flwr before this module.

    Flower reads ``FLWR_TELEMETRY_ENABLED`` once, when flwr is first imported, into the flag
    ``flwr.supercore.telemetry.FLWR_TELEMETRY_ENABLED``, and has no public switch after that:
    the flag is the only route. Nothing is changed when the environment turns telemetry on.
    """
    if os.environ["FLWR_TELEMETRY_ENABLED"] == "0":
        flower_telemetry.FLWR_TELEMETRY_ENABLED = "0"


_keep_flower_telemetry_off()

__all__ = [
    "ClientDP",
    "FederatedRun",
    "FederatedSettings",
    "LocalGrid",
    "ScreenedRecording",
    "client_app",
    "local_fit",
    "run_federated",
    "server_app",
]

log = logging.getLogger(__name__)

LocalUpdate = Callable[..., nn.Module]


def local_fit(
    *, epochs: int = 1, lr: float = 1e-3, batch_size: int = 32, seed: int = 0, device="cpu"
):
    """The default local training of a client: ``epochs`` of Adam with :func:`~mialab.training.fit`.

    Returns a function ``update(model, data, *, client, server_round)`` that trains the global
    model on the client's data and returns it (on the CPU, whatever ``device`` it trained on:
    ``"cpu"``, ``"cuda"``, ``"auto"``, ...); the seed differs per client and round. Write your
    own with the same signature to make a client misbehave, or to train differently.

    Example:
        >>> import mialab as ml
        >>> update = local_fit(epochs=2, seed=0)
        >>> model = update(ml.models.mlp(64, 10), ml.data.load("digits").subset(range(50)),
        ...                client=0, server_round=1)
    """
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr, seed = positive_number(lr, "lr"), seed_value(seed)
    device = training.resolve_device(device)

    def update(model: nn.Module, data: Dataset, *, client: int, server_round: int) -> nn.Module:
        return training.fit(
            model,
            data,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            seed=(seed + 1000 * server_round + client) % 2**32,
            device=device,
            progress=False,  # a bar per client and round would only clutter a run's output
        )

    return update


def _callable(value, name: str, expected: str):
    if not callable(value):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}")
    return value


def _instance(value, cls: type, name: str):
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}, got {type(value).__name__}")
    return value


def _set_checked(settings, **values) -> None:
    """Store a frozen dataclass's checked values (a numpy scalar becomes a Python number)."""
    for name, value in values.items():
        object.__setattr__(settings, name, value)


@dataclass(frozen=True)
class FederatedSettings:
    """How a federated run goes, shared by :func:`run_federated` and :func:`server_app`.

    Attributes:
        rounds: rounds of FedAvg; every client trains in every round.
        reject_factor: an update more than this many times the other clients' median update
            norm is dropped from its round (:class:`ScreenedRecording`).
        round_timeout: seconds the server waits for the clients' replies in a round.
        seed: seeds the DP noise and :func:`run_federated`'s default local training; same
            seed, same numbers.

    Example:
        >>> FederatedSettings(rounds=3)
        FederatedSettings(rounds=3, reject_factor=10.0, round_timeout=600.0, seed=0)
    """

    rounds: int = 5
    reject_factor: float = 10.0
    round_timeout: float = 600.0
    seed: int = 0

    def __post_init__(self):
        _set_checked(
            self,
            rounds=positive_int(self.rounds, "rounds"),
            reject_factor=positive_number(self.reject_factor, "reject_factor"),
            round_timeout=positive_number(self.round_timeout, "round_timeout"),
            seed=seed_value(self.seed),
        )


@dataclass(frozen=True)
class ClientDP:
    """Client-level differential privacy (DP-FedAvg, McMahan et al. 2018), by Flower's wrappers.

    Every client's update is clipped to norm C = ``clipping_norm``, by the server or, with
    ``on_client``, by the client before it leaves; the clients are averaged uniformly (the
    sensitivity C/m holds only for a plain mean of the m clients) and the average gets Gaussian
    noise of standard deviation z·C/m, z = ``noise_multiplier``. Flower's RDP accountant adds
    up ε over all rounds (every client in every round, no sampling amplification), at ``delta``.

    Attributes:
        noise_multiplier: z, at least 0; 0 clips and averages uniformly but adds no noise
            (ε = inf), the noise-free twin of a DP run.
        clipping_norm: C, the bound on each client's update norm.
        on_client: clip on the clients (Flower's client-side wrapper and
            ``fixedclipping_mod``), so that the server never sees an unclipped update.
        delta: the δ at which ε is reported, in (0, 1).

    Example:
        >>> ClientDP(noise_multiplier=1.0, clipping_norm=0.5)
        ClientDP(noise_multiplier=1.0, clipping_norm=0.5, on_client=False, delta=1e-05)
    """

    noise_multiplier: float
    clipping_norm: float = 1.0
    on_client: bool = False
    delta: float = 1e-5

    def __post_init__(self):
        z = self.noise_multiplier
        if not is_number(z):
            raise TypeError(
                f"noise_multiplier must be a number (no DP is dp=None), got {type(z).__name__}"
            )
        if z != 0:
            z = positive_number(z, "noise_multiplier")
        delta = positive_number(self.delta, "delta")
        if delta >= 1:
            raise ValueError(f"delta must lie in (0, 1), got {delta}")
        _set_checked(
            self,
            noise_multiplier=float(z),
            clipping_norm=positive_number(self.clipping_norm, "clipping_norm"),
            on_client=boolean(self.on_client, "on_client"),
            delta=delta,
        )


def client_app(
    model_fn: Callable[[Context], nn.Module],
    data_fn: Callable[[Context], Dataset],
    local_update: LocalUpdate,
    *,
    dp: ClientDP | None = None,
) -> ClientApp:
    """A Flower ClientApp: load the global model, train it locally, send the weights back.

    ``model_fn(context)`` builds a model of the run's architecture (its weights are replaced by
    the global model's) and ``data_fn(context)`` returns this node's records; in the simulation
    ``context.node_config["partition-id"]`` says which client a node is. The reply carries the
    new weights and ``num-examples`` (FedAvg's weight), ``client`` and ``unit`` (weight 1, for
    the uniform average that client-level DP needs). A client whose training raises (or returns
    no model) replies with an error that names the client and the reason. Give it the same
    ``dp`` as :func:`server_app`: with ``dp.on_client`` it adds Flower's ``fixedclipping_mod``,
    which clips the update before it leaves the client.

    Example:
        >>> import mialab as ml
        >>> app = client_app(lambda context: ml.models.mlp(64, 10),
        ...                  lambda context: ml.data.load("digits"), local_fit())
    """
    _callable(model_fn, "model_fn", "a callable model_fn(context) -> nn.Module")
    _callable(data_fn, "data_fn", "a callable data_fn(context) -> Dataset")
    _callable(local_update, "local_update", "a callable update(model, data, *, client, round)")
    if dp is not None:
        _instance(dp, ClientDP, "dp")
    app = ClientApp(mods=[fixedclipping_mod] if dp is not None and dp.on_client else None)

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        client = int(context.node_config["partition-id"])
        try:
            data = data_fn(context)
            model = model_fn(context)
            model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
            server_round = int(msg.content["config"]["server-round"])
            model = local_update(model, data, client=client, server_round=server_round)
            if not isinstance(model, nn.Module):
                raise TypeError(
                    f"local_update must return the trained nn.Module, got {type(model).__name__}"
                )
        except Exception as error:  # reported to the server, which drops this client
            return Message(Error(code=1, reason=_failure(client, error)), reply_to=msg)
        metrics = MetricRecord({"num-examples": len(data), "client": client, "unit": 1})
        reply = RecordDict({"arrays": ArrayRecord(model.state_dict()), "metrics": metrics})
        return Message(content=reply, reply_to=msg)

    return app


def _failure(client: int, error: BaseException) -> str:
    return f"client {client} failed: {type(error).__name__}: {error}"


_FAILED_CLIENT = re.compile(r"client (\d+) failed: ")


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in arrays])


class ScreenedRecording(Strategy):
    """A strategy wrapper that records each client's update, then screens it before aggregation.

    Per training round it keeps, for every reply, the weights as received (``received[(round,
    client)]``, a list of numpy arrays in the model's order), then drops replies whose weights
    are not finite, or whose update ‖w_k − w‖ is more than ``reject_factor`` times the median
    update norm of the *other* clients (a leave-one-out median, so one huge update cannot
    raise its own bar). Dropped updates go to ``rejected``; every client that did not count in
    a round (rejected, failed, or no reply within the round's timeout) goes to ``dropped`` with
    the reason, and is logged as a warning. Replies are passed on in client order, so the
    average is the same float sum in every run. Error replies (a client that raised) pass
    through untouched: FedAvg skips them, Flower's DP wrappers skip the round. A round that
    aggregates no update raises ``RuntimeError`` naming every dropped client.

    Example:
        >>> from flwr.serverapp.strategy import FedAvg
        >>> strategy = ScreenedRecording(FedAvg(), reject_factor=10.0)
    """

    def __init__(self, strategy: Strategy, *, reject_factor: float = 10.0):
        if not isinstance(strategy, Strategy):
            raise TypeError(
                "strategy must be a Flower Strategy such as FedAvg(), "
                f"got {type(strategy).__name__}"
            )
        self.strategy = strategy
        self.reject_factor = positive_number(reject_factor, "reject_factor")
        self.received: dict[tuple[int, int], list[np.ndarray]] = {}
        self.rejected: list[tuple[int, int, str]] = []
        self.dropped: list[tuple[int, int | None, str]] = []
        self._global = np.empty(0)  # the global weights sent this round, flattened
        self._sent: list[int] = []  # the nodes asked to train this round
        self._clients: dict[int, int] = {}  # node id -> client (partition id), as learned

    def configure_train(self, server_round, arrays, config, grid) -> Iterable[Message]:
        self._global = _flat(arrays.to_numpy_ndarrays())
        if isinstance(grid, LocalGrid):
            self._clients |= grid.partitions()
        messages = list(self.strategy.configure_train(server_round, arrays, config, grid))
        self._sent = [message.metadata.dst_node_id for message in messages]
        return messages

    def _log_drops(self, server_round: int, drops: list[tuple[int | None, int, str]]) -> None:
        """Record and log the round's dropped clients, in client order."""
        for client, node, reason in sorted(drops, key=lambda d: (d[0] is None, d[0] or 0, d[1])):
            self.dropped.append((server_round, client, reason))
            who = f"client {client}" if client is not None else f"node {node}"
            log.warning("round %d: %s dropped (%s)", server_round, who, reason)

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        clients, norms, drops = {}, {}, []
        for reply in replies:
            node = reply.metadata.src_node_id
            if reply.has_error():
                reason = reply.error.reason
                found = _FAILED_CLIENT.match(reason)
                if found:  # from client_app: "client K failed: <error>"
                    self._clients[node], reason = int(found.group(1)), reason[found.end() :]
                drops.append((self._clients.get(node), node, reason))
                continue
            client = int(reply.content["metrics"]["client"])
            self._clients[node] = client
            weights = reply.content["arrays"].to_numpy_ndarrays()
            self.received[(server_round, client)] = weights
            clients[client] = reply
            update = _flat(weights) - self._global
            norms[client] = float(np.linalg.norm(update)) if np.all(np.isfinite(update)) else None
        answered = {reply.metadata.src_node_id for reply in replies}
        for node in self._sent:
            if node not in answered:
                drops.append((self._clients.get(node), node, "no reply within the round's timeout"))
        kept = []
        for client in sorted(clients):
            if norms[client] is None:
                reason = "not finite"
            else:
                others = [n for c, n in norms.items() if c != client and n is not None]
                too_large = others and norms[client] > self.reject_factor * np.median(others)
                reason = "update too large" if too_large else None
            if reason is None:
                kept.append(clients[client])
            else:
                self.rejected.append((server_round, client, reason))
                drops.append((client, -1, reason))
        self._log_drops(server_round, drops)
        errors = [reply for reply in replies if reply.has_error()]
        arrays, metrics = self.strategy.aggregate_train(server_round, kept + errors)
        if arrays is None:
            raise RuntimeError(_nothing_aggregated(server_round, self.dropped, kept))
        return arrays, metrics

    def configure_evaluate(self, server_round, arrays, config, grid) -> Iterable[Message]:
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(self, server_round, replies):
        return self.strategy.aggregate_evaluate(server_round, replies)

    def summary(self) -> None:
        self.strategy.summary()


def _nothing_aggregated(server_round: int, dropped, kept=()) -> str:
    reasons = [
        f"client {client}: {reason}" if client is not None else reason
        for r, client, reason in dropped
        if r == server_round
    ]
    message = f"round {server_round} aggregated no client update"
    if reasons:
        message += " (dropped: " + "; ".join(reasons) + ")"
    if kept:  # Flower's DP wrappers aggregate only when every client's update arrived
        message += "; with DP, every client must reply in every round"
    return message


class _Stopped(BaseException):
    """Raised inside a client thread that outlived its round's timeout, to stop it."""


class LocalGrid(Grid):
    """A Flower ``Grid`` that hands each message to a ``ClientApp`` in this process.

    Hand-rolled because Flower's only simulation engine is Ray, whose start-up took 30–40 s and
    about 1.4 GB here for a single run: more than lesson 04's whole budget, which needs a dozen
    runs. The ClientApp, the ServerApp and Flower's strategies run unchanged; only the transport
    differs. Node ``i + 1`` gets ``node_config = {"partition-id": i, "num-partitions": n}`` as in
    Flower's simulation. Clients run one after another (so runs are reproducible), each in a
    thread, and whatever a client does to torch's global random state is undone when it ends
    (``torch.random.fork_rng``). A ClientApp that raises gives an error reply (as a SuperNode
    sends); one that has not answered within the round's ``timeout`` gives no reply at all (as a
    node that vanished): its result is discarded and its thread is stopped (at its next Python
    instruction) before the next client starts, so it cannot change later numbers. A thread
    that cannot be stopped within another minute (stuck in one long native call) ends the run
    with an error.

    Example:
        >>> import mialab as ml
        >>> app = client_app(lambda context: ml.models.mlp(64, 10),
        ...                  lambda context: ml.data.load("digits"), local_fit())
        >>> LocalGrid(app, 3).get_node_ids()
        [1, 2, 3]
    """

    def __init__(self, client: ClientApp, n_nodes: int):
        if not isinstance(client, ClientApp):
            raise TypeError(f"client must be a Flower ClientApp, got {type(client).__name__}")
        n_nodes = positive_int(n_nodes, "n_nodes")
        self.client = client
        self.contexts = {
            i + 1: Context(
                run_id=0,
                node_id=i + 1,
                node_config={"partition-id": i, "num-partitions": n_nodes},
                state=RecordDict(),
                run_config={},
            )
            for i in range(n_nodes)
        }
        self._run = None
        self._replies: dict[str, Message] = {}

    def set_run(self, run) -> None:
        self._run = run

    @property
    def run(self):
        return self._run

    def partitions(self) -> dict[int, int]:
        """Node id -> partition id (the client's index)."""
        return {node: int(c.node_config["partition-id"]) for node, c in self.contexts.items()}

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> list[int]:
        return list(self.contexts)

    def _answer(self, message: Message) -> Message:
        try:
            return self.client(message, self.contexts[message.metadata.dst_node_id])
        except Exception as error:  # the node reports it, as Flower's SuperNode does
            return Message(
                Error(code=1, reason=f"{type(error).__name__}: {error}"), reply_to=message
            )

    def _answer_into(self, box: dict, message: Message) -> None:
        with contextlib.suppress(_Stopped), torch.random.fork_rng(devices=[]):
            box["reply"] = self._answer(message)

    def push_messages(self, messages: Iterable[Message], *, timeout: float | None = None):
        ids = []
        for message in messages:
            message_id = uuid.uuid4().hex
            box: dict[str, Message] = {}
            worker = threading.Thread(target=self._answer_into, args=(box, message), daemon=True)
            worker.start()
            worker.join(timeout)
            if worker.is_alive():
                _stop(worker, max(timeout or 0.0, _STOP_GRACE))  # no reply: a vanished node
            elif "reply" in box:
                self._replies[message_id] = box["reply"]
            ids.append(message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> list[Message]:
        return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(self, messages, *, timeout=None) -> list[Message]:
        return self.pull_messages(self.push_messages(messages, timeout=timeout))


_STOP_GRACE = 60.0  # seconds a timed-out client may take to reach its next Python instruction


def _stop(worker: threading.Thread, grace: float) -> None:
    """Stop a client thread that outlived its timeout, and wait until it has stopped."""
    # CPython's way to raise an exception in another thread; it is raised at the thread's next
    # Python instruction (a native call, such as a sleep, finishes first).
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(worker.ident), ctypes.py_object(_Stopped)
    )
    worker.join(grace)
    if worker.is_alive():
        raise RuntimeError(
            f"a client that did not reply within its round's timeout could not be stopped within "
            f"{grace:g} s more: it is stuck in a native call and would change later numbers"
        )


@dataclass
class FederatedRun:
    """What a federated run produced, and what its server saw.

    Built as ``FederatedRun(model_fn=...)`` and filled in by :func:`server_app`'s app.

    Attributes:
        model_fn: builds a model of the run's architecture (called with no arguments).
        states: the global model's weights after each round; ``states[0]`` before the first.
        received: ``(round, client) -> weights`` as the server received them (after any
            client-side clipping; before server-side clipping and noise).
        rejected: ``(round, client, reason)`` for every update the server screened out.
        dropped: ``(round, client, reason)`` for every client that did not count in a round:
            the rejected ones, those that failed (the reason says why) and those that sent no
            reply within the round's timeout (client None when the server could not tell
            which client a node was).
        history: one row per round: ``round``, ``clients`` (aggregated), and the global model's
            ``test_accuracy`` and ``test_loss`` when test data was given.
        epsilon: total client-level ε over all rounds at ``delta`` (Flower's RDP accountant,
            every client in every round, no sampling amplification); None without DP, inf
            with clipping but no noise.
        delta: the δ of ``epsilon``.

    Example:
        >>> import mialab as ml
        >>> run = FederatedRun(model_fn=lambda: ml.models.mlp(64, 10))
        >>> run.rounds
        -1
    """

    model_fn: Callable[[], nn.Module]
    # What the run fills in (not arguments of the constructor).
    states: list[dict[str, torch.Tensor]] = field(default_factory=list, init=False)
    received: dict[tuple[int, int], list[np.ndarray]] = field(default_factory=dict, init=False)
    rejected: list[tuple[int, int, str]] = field(default_factory=list, init=False)
    dropped: list[tuple[int, int | None, str]] = field(default_factory=list, init=False)
    history: pd.DataFrame = field(default_factory=pd.DataFrame, init=False)
    epsilon: float | None = field(default=None, init=False)
    delta: float | None = field(default=None, init=False)

    def __post_init__(self):
        _callable(self.model_fn, "model_fn", "a callable returning a torch nn.Module")

    @property
    def rounds(self) -> int:
        """The number of rounds run; ``states`` holds one more, the initial model."""
        return len(self.states) - 1

    def _round(self, server_round, name: str) -> int:
        if isinstance(server_round, (bool, np.bool_)) or not isinstance(
            server_round, (int, np.integer)
        ):
            raise TypeError(f"{name} must be an int, got {type(server_round).__name__}")
        if not -len(self.states) <= server_round <= self.rounds:
            raise ValueError(
                f"{name} must lie in [0, {self.rounds}] (or count from the end), got {server_round}"
            )
        return int(server_round)

    def global_model(self, server_round: int = -1) -> nn.Module:
        """The global model after ``server_round`` (0 = initial; default the last)."""
        model = self.model_fn()
        model.load_state_dict(self.states[self._round(server_round, "server_round")])
        return model.eval()

    def client_model(self, server_round: int, client: int) -> nn.Module:
        """The model that ``client`` sent in ``server_round``, as the server received it."""
        server_round = self._round(server_round, "server_round")
        if isinstance(client, (bool, np.bool_)) or not isinstance(client, (int, np.integer)):
            raise TypeError(f"client must be an int, got {type(client).__name__}")
        if (server_round, client) not in self.received:
            raise ValueError(f"no update from client {client} in round {server_round}")
        model = self.model_fn()
        keys = model.state_dict().keys()
        weights = self.received[(server_round, client)]
        model.load_state_dict(
            {k: torch.from_numpy(np.array(w)) for k, w in zip(keys, weights, strict=True)}
        )
        return model.eval()


def _evaluate(model: nn.Module, test: Dataset) -> dict[str, float]:
    logits = torch.from_numpy(training.predict_logits(model, test.X))
    labels = torch.from_numpy(test.y).long()
    return {
        "test_accuracy": float((logits.argmax(1) == labels).float().mean()),
        "test_loss": float(nn.functional.cross_entropy(logits, labels)),
    }


def _model(model_fn) -> nn.Module:
    """One model from ``model_fn``, checked: a function that builds a model, not a model."""
    if isinstance(model_fn, nn.Module):
        raise TypeError(
            "model_fn must be a function that builds a new model, such as "
            "functools.partial(mialab.models.mlp, 64, 10, seed=0), not a model"
        )
    _callable(model_fn, "model_fn", "a callable returning a torch nn.Module")
    model = model_fn()
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model_fn must be a callable returning a torch nn.Module, got {type(model).__name__}"
        )
    return model


def _fits(model: nn.Module, data, name: str) -> Dataset:
    """``data`` as a Dataset the model can take: its width, labels within its outputs."""
    if not isinstance(data, Dataset):
        raise TypeError(f"{name} must be a mialab Dataset, got {type(data).__name__}")
    try:
        width = training.predict_logits(model, data.X[:1]).shape[1]
    except (ValueError, TypeError, RuntimeError) as error:
        raise ValueError(f"{name} does not fit the model: {error}") from None
    n_classes = max(width, 2)  # a single logit column is a binary model
    if data.y.max() >= n_classes:
        raise ValueError(f"{name} holds label {data.y.max()}; the model has {n_classes} classes")
    return data


def _fedavg_tested_on_the_server(**kwargs) -> FedAvg:
    """FedAvg that asks no client to evaluate: the server tests the global model itself.

    ``fraction_evaluate=0.0`` is Flower's own switch for that, and FedAvg logs a warning about it
    whenever it is built; that one record is dropped here (any other of Flower's warnings shows).
    """

    def not_this_warning(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("fraction_evaluate is set to 0.0")

    flower_logger = logging.getLogger("flwr")
    flower_logger.addFilter(not_this_warning)
    try:
        return FedAvg(fraction_evaluate=0.0, **kwargs)
    finally:
        flower_logger.removeFilter(not_this_warning)


def server_app(
    model_fn: Callable[[], nn.Module],
    run: FederatedRun,
    *,
    n_clients: int,
    settings: FederatedSettings,
    dp: ClientDP | None = None,
    test: Dataset | None = None,
) -> ServerApp:
    """A Flower ServerApp: FedAvg over all ``n_clients`` for ``settings.rounds``, filling ``run``.

    ``model_fn()`` is called with no arguments: the model it returns now holds the initial global
    weights (later calls only give the architecture, whose weights are replaced). With ``dp``
    it wraps FedAvg in Flower's client-level DP (:class:`ClientDP`: fixed clipping, on the
    server or on the clients, Flower's RDP accountant) and averages the clients uniformly.
    Arguments are as in :func:`run_federated`; a round that aggregates no client update raises
    ``RuntimeError`` (``run`` keeps what the rounds before it produced).

    Example:
        >>> import mialab as ml
        >>> mlp = lambda: ml.models.mlp(64, 10)
        >>> app = server_app(mlp, FederatedRun(model_fn=mlp), n_clients=2,
        ...                  settings=FederatedSettings(rounds=1))
    """
    model = _model(model_fn)
    initial = ArrayRecord(model.state_dict())  # a copy: the run's initial global weights
    _instance(run, FederatedRun, "run")
    n_clients = positive_int(n_clients, "n_clients")
    settings = _instance(settings, FederatedSettings, "settings")
    if dp is not None:
        _instance(dp, ClientDP, "dp")
    if test is not None:
        test = _fits(model, test, "test")
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        strategy = _fedavg_tested_on_the_server(
            min_train_nodes=n_clients,
            min_available_nodes=n_clients,
            weighted_by_key="num-examples" if dp is None else "unit",
            train_metrics_aggr_fn=lambda contents, key: MetricRecord({"clients": len(contents)}),
        )
        private = None
        if dp is not None:
            accountant = None
            if dp.noise_multiplier > 0:
                accountant = RdpAccountant(
                    PrivacyConfig(
                        target_delta=dp.delta,
                        population_size=n_clients,
                        neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
                        sampling_method=SamplingMethod.NO_AMPLIFICATION,
                    )
                )
            wrapper = (
                DifferentialPrivacyClientSideFixedClipping
                if dp.on_client
                else DifferentialPrivacyServerSideFixedClipping
            )
            private = wrapper(
                strategy, dp.noise_multiplier, dp.clipping_norm, n_clients, accountant=accountant
            )
            strategy = private
        screened = ScreenedRecording(strategy, reject_factor=settings.reject_factor)

        rows = []

        def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
            state = arrays.to_torch_state_dict()
            run.states.append({k: v.clone() for k, v in state.items()})
            row = {"round": server_round}
            if test is not None:
                model = model_fn()
                model.load_state_dict(state)
                row |= _evaluate(model, test)
            rows.append(row)
            return MetricRecord({k: v for k, v in row.items() if k != "round"} or {"round": 0})

        # Flower draws the DP noise from numpy's global generator; seed it for this run only.
        outer_state = np.random.get_state()  # noqa: NPY002 (Flower's generator, not ours)
        np.random.seed(settings.seed)  # noqa: NPY002
        try:
            result = screened.start(
                grid=grid,
                initial_arrays=initial,
                num_rounds=settings.rounds,
                timeout=settings.round_timeout,
                evaluate_fn=evaluate,
            )
        finally:
            np.random.set_state(outer_state)  # noqa: NPY002
            run.received, run.rejected = screened.received, screened.rejected
            run.dropped = screened.dropped
            run.history = pd.DataFrame(rows)
        run.history["clients"] = [0] + [
            int(result.train_metrics_clientapp[r]["clients"])
            if r in result.train_metrics_clientapp
            else 0
            for r in range(1, settings.rounds + 1)
        ]
        if private is not None:
            spent = private.privacy_spent()
            run.epsilon = float("inf") if spent is None else spent.epsilon
            run.delta = dp.delta

    return app


def run_federated(
    model_fn: Callable[[], nn.Module],
    clients: list[Dataset],
    *,
    settings: FederatedSettings = FederatedSettings(),
    dp: ClientDP | None = None,
    local_update: LocalUpdate | None = None,
    test: Dataset | None = None,
    engine: str = "local",
    num_cpus: int | None = None,
) -> FederatedRun:
    """Train ``model_fn()`` with FedAvg over ``clients``: Flower's apps, simulated.

    Every client trains in every round (``local_update``, default :func:`local_fit` with one
    epoch). ``engine="local"`` runs the apps in this process through :class:`LocalGrid` (about a
    second a run); ``engine="ray"`` runs them in Flower's own simulation engine, Ray, started
    lean: ``num_cpus`` (default the CPUs this process may use, at most one per client), no
    dashboard, a small object store, one CPU per client, on loopback only, its files in a
    temporary folder that is removed afterwards. The same engine gives the same numbers for the
    same seed (and the same number of torch threads); the two engines agree to float32 rounding,
    not bit for bit, since Ray gives each client one torch thread and a sum over several threads
    is added up in a different order.

    A client that fails, sends a non-finite or far too large update, or does not reply within
    ``settings.round_timeout`` is dropped from its round (``FederatedRun.dropped``, with the
    reason, and a logged warning); a round that aggregates no client raises ``RuntimeError``.

    Neither engine sends anything off the machine: Flower's telemetry and Ray's usage
    statistics are off (``FLWR_TELEMETRY_ENABLED=0`` and ``RAY_USAGE_STATS_ENABLED=0`` are set
    when this module is imported, unless already set).

    Args:
        model_fn: called with no arguments (unlike ``fit_many``'s factory, which gets
            ``seed=``), it builds the initial global model: give it its seed, e.g.
            ``partial(ml.models.mlp, 64, 10, seed=0)``. Later calls only give the architecture
            (the clients' and :class:`FederatedRun`'s models, whose weights are replaced).
        clients: one :class:`~mialab.data.Dataset` per client (:func:`mialab.data.partition`).
        settings: the rounds, the screening of updates, the round timeout and the seed
            (:class:`FederatedSettings`).
        dp: client-level differential privacy (:class:`ClientDP`); None for none.
        local_update: ``update(model, data, *, client, server_round) -> model``; default
            ``local_fit(seed=settings.seed)``.
        test: data to evaluate the global model on after every round (on the server).
        engine: ``"local"`` or ``"ray"``.
        num_cpus: CPUs Ray may use (``engine="ray"`` only).

    Returns:
        A :class:`FederatedRun`.

    Example:
        >>> from functools import partial
        >>> import mialab as ml
        >>> digits = ml.data.load("digits")
        >>> hospitals = ml.data.partition(digits.subset(range(200)), 2, seed=0)
        >>> run = run_federated(partial(ml.models.mlp, 64, 10, seed=0), hospitals,
        ...                     settings=FederatedSettings(rounds=2),
        ...                     test=digits.subset(range(1000, 1300)))
        >>> run.history.columns.tolist(), run.rounds, sorted(run.received)
        (['round', 'test_accuracy', 'test_loss', 'clients'], 2, [(1, 0), (1, 1), (2, 0), (2, 1)])
    """
    model = _model(model_fn)
    if not isinstance(clients, (list, tuple)) or not clients:
        raise ValueError("clients must be a non-empty list of mialab Datasets")
    for index, data in enumerate(clients):
        _fits(model, data, f"clients[{index}]")
    settings = _instance(settings, FederatedSettings, "settings")
    if local_update is not None:
        _callable(local_update, "local_update", "a callable update(model, data, *, client, round)")
    if not isinstance(engine, str) or engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    if num_cpus is not None:
        num_cpus = positive_int(num_cpus, "num_cpus")
    n_clients = len(clients)
    run = FederatedRun(model_fn=model_fn)
    server = server_app(model_fn, run, n_clients=n_clients, settings=settings, dp=dp, test=test)
    client = client_app(
        lambda context: model_fn(),
        lambda context: clients[int(context.node_config["partition-id"])],
        local_update or local_fit(seed=settings.seed),
        dp=dp,
    )
    flower_logger = logging.getLogger("flwr")
    level = flower_logger.level
    flower_logger.setLevel(logging.WARNING)
    try:
        if engine == "local":
            _run_locally(server, client, n_clients)
        else:
            _run_on_ray(server, client, n_clients, num_cpus)
    finally:
        flower_logger.setLevel(level)
    if not run.states:
        raise RuntimeError("the Flower run ended before its first round; see its log")
    if run.rounds < settings.rounds:  # a failed ServerApp that the engine only logged
        raise RuntimeError(_nothing_aggregated(run.rounds + 1, run.dropped))
    return run


@contextlib.contextmanager
def _flower_server_task() -> Iterator[None]:
    """Give this process a ServerApp task's identity, as Flower's runtimes do, for one run.

    Flower's strategies build their messages with ``Message(...)``, which stamps each with the
    sending task's identity, ``flwr.supercore.task_identity.TaskIdentity``. Flower's runtimes
    (SuperLink, simulation, ``start_grid``) set it per process and there is no public route to
    set it: :class:`LocalGrid` is a runtime of its own, so it sets it here as ``start_grid``
    does, and puts back whatever was there before.
    """
    names = ("task_id", "run_id", "node_id")
    saved = {}
    for name in names:
        try:
            saved[name] = getattr(TaskIdentity, name)
        except RuntimeError:  # not set in this process
            saved[name] = None
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 0, SUPERLINK_NODE_ID
    try:
        yield
    finally:
        for name in names:
            setattr(TaskIdentity, name, saved[name])


def _run_locally(server: ServerApp, client: ClientApp, n_clients: int) -> None:
    with _flower_server_task():
        server(LocalGrid(client, n_clients), Context(0, SUPERLINK_NODE_ID, {}, RecordDict(), {}))


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block (and the processes it starts)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _ray_environment(temp_dir: str) -> dict[str, str]:
    """What the processes of a local Ray simulation get, so that none reaches off the machine."""
    closed = "http://127.0.0.1:9"  # a closed loopback port: such a request fails at once
    loopback = "localhost,127.0.0.1,::1"
    return {
        # One node on loopback: Ray then binds and connects to 127.0.0.1 only (and skips its
        # lookup of the machine's outward address, a UDP connect towards 8.8.8.8).
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        # Ray's API server asks the cloud metadata addresses (169.254.169.254 and
        # metadata.google.internal) which cloud it runs on, even with usage statistics off;
        # its plain-HTTP requests go to a closed port on loopback instead. Ray's own traffic
        # is gRPC, which Ray keeps off any proxy.
        "http_proxy": closed,
        "HTTP_PROXY": closed,
        "no_proxy": loopback,
        "NO_PROXY": loopback,
        # Ray's session folders (logs, sockets) go into a folder of this run, removed after it.
        "RAY_TMPDIR": temp_dir,
    }


def _run_on_ray(server: ServerApp, client: ClientApp, n_clients: int, num_cpus) -> None:
    # The CPUs this process may use (taskset, a container's cpuset), not every core of the host.
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    num_cpus = num_cpus or min(usable or 1, n_clients)
    backend = {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": num_cpus,
            "include_dashboard": False,
            "object_store_memory": 80 * 2**20,  # Ray's minimum is 75 MB; models here are KBs
            "logging_level": logging.ERROR,
            "log_to_driver": False,
        },
    }
    # Where Ray would put it; /tmp on macOS, whose temporary folder is too long a path for
    # Ray's Unix sockets (about 100 characters at most).
    parent = os.environ.get("RAY_TMPDIR") or ("/tmp" if sys.platform == "darwin" else None)
    temp_dir = tempfile.mkdtemp(prefix="mialab-ray-", dir=parent)
    try:
        with _environment(**_ray_environment(temp_dir)):
            run_simulation(server, client, num_supernodes=n_clients, backend_config=backend)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
