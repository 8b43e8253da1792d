"""Federated averaging on Flower, and what an honest-but-curious server sees (lesson 04).

The hospitals are Flower ``ClientApp`` nodes and the server a ``ServerApp`` running FedAvg
(McMahan et al. 2017). :func:`run_federated` runs the two in Flower's simulation (Ray, started
lean); the same apps run on separate machines with ``flower-superlink``, ``flower-supernode``
and ``flwr run`` (README, and :mod:`mialab.defenses.flower_app`).

Between the clients and FedAvg sits a small strategy wrapper, :class:`ScreenedRecording`: it
keeps a copy of every update as the server received it (so lesson 04 can attack them as a
curious server could) and drops updates that are not finite or are far larger than the
others, before Flower aggregates the rest.

Client-level differential privacy uses Flower's own wrappers (DP-FedAvg, McMahan et al. 2018):
each client's update is clipped to ``clipping_norm`` (by the server or by the client) and the
average gets Gaussian noise of standard deviation z·C/m. Flower's RDP accountant composes every
round; the ε reported is the total over all rounds.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable
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
from flwr.supercore.task_identity import TaskIdentity
from torch import nn

from mialab import training
from mialab._checks import fraction, positive_int, positive_number, seed_value
from mialab.data import Dataset

__all__ = [
    "FederatedRun",
    "LocalGrid",
    "ScreenedRecording",
    "client_app",
    "local_fit",
    "run_federated",
    "server_app",
]

LocalUpdate = Callable[..., nn.Module]


def local_fit(epochs: int = 1, lr: float = 1e-3, batch_size: int = 32, seed: int = 0):
    """The default local training of a client: ``epochs`` of Adam with :func:`~mialab.training.fit`.

    Returns a function ``update(model, data, *, client, server_round)`` that trains the global
    model on the client's data in place and returns it; the seed differs per client and round.
    Write your own with the same signature to make a client misbehave, or to train differently.

    Example:
        >>> import mialab as ml
        >>> update = local_fit(epochs=2, seed=0)
        >>> model = update(ml.models.mlp(64, 10), ml.data.load("digits").subset(range(50)),
        ...                client=0, server_round=1)
    """
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr, seed = positive_number(lr, "lr"), seed_value(seed)

    def update(model: nn.Module, data: Dataset, *, client: int, server_round: int) -> nn.Module:
        return training.fit(
            model,
            data,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            seed=seed + 1000 * server_round + client,
            progress=False,
        )

    return update


def client_app(
    model_fn: Callable[[Context], nn.Module],
    data_fn: Callable[[Context], Dataset],
    local_update: LocalUpdate,
    *,
    clip_on_client: bool = False,
) -> ClientApp:
    """A Flower ClientApp: load the global model, train it locally, send the weights back.

    ``model_fn(context)`` builds the (untrained) model and ``data_fn(context)`` returns this
    node's records; in the simulation ``context.node_config["partition-id"]`` says which client a
    node is. The reply carries the new weights and ``num-examples`` (FedAvg's weight), ``client``
    and ``unit`` (weight 1, for the uniform average that client-level DP needs).
    ``clip_on_client`` adds Flower's ``fixedclipping_mod``, which clips the update before it
    leaves the client (needed with client-side DP clipping).
    """
    app = ClientApp(mods=[fixedclipping_mod] if clip_on_client else None)

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        client = int(context.node_config["partition-id"])
        data = data_fn(context)
        model = model_fn(context)
        model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
        server_round = int(msg.content["config"]["server-round"])
        model = local_update(model, data, client=client, server_round=server_round)
        metrics = MetricRecord({"num-examples": len(data), "client": client, "unit": 1})
        reply = RecordDict({"arrays": ArrayRecord(model.state_dict()), "metrics": metrics})
        return Message(content=reply, reply_to=msg)

    return app


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in arrays])


class ScreenedRecording(Strategy):
    """A strategy wrapper that records each client's update, then screens it before aggregation.

    Per training round it keeps, for every reply, the weights as received (``received[(round,
    client)]``, a list of numpy arrays in the model's order), then drops replies whose weights
    are not finite, or whose update ‖w_k − w‖ is more than ``reject_factor`` times the median
    update norm of the *other* clients (a leave-one-out median, so one huge update cannot
    raise its own bar). Dropped clients go to ``rejected``. Replies are passed on in client
    order, so the average is the same float sum in every run. Error replies (a client that
    raised) pass through untouched: FedAvg skips them, Flower's DP wrappers skip the round.
    """

    def __init__(self, strategy: Strategy, *, reject_factor: float = 10.0):
        self.strategy = strategy
        self.reject_factor = positive_number(reject_factor, "reject_factor")
        self.received: dict[tuple[int, int], list[np.ndarray]] = {}
        self.rejected: list[tuple[int, int, str]] = []
        self._global = np.empty(0)  # the global weights sent this round, flattened

    def configure_train(self, server_round, arrays, config, grid) -> Iterable[Message]:
        self._global = _flat(arrays.to_numpy_ndarrays())
        return self.strategy.configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        errors = [reply for reply in replies if reply.has_error()]
        clients, norms = {}, {}
        for reply in replies:
            if reply.has_error():
                continue
            client = int(reply.content["metrics"]["client"])
            weights = reply.content["arrays"].to_numpy_ndarrays()
            self.received[(server_round, client)] = weights
            clients[client] = reply
            update = _flat(weights) - self._global
            norms[client] = float(np.linalg.norm(update)) if np.all(np.isfinite(update)) else None
        kept = []
        for client in sorted(clients):
            if norms[client] is None:
                self.rejected.append((server_round, client, "not finite"))
                continue
            others = [n for c, n in norms.items() if c != client and n is not None]
            if others and norms[client] > self.reject_factor * np.median(others):
                self.rejected.append((server_round, client, "update too large"))
                continue
            kept.append(clients[client])
        return self.strategy.aggregate_train(server_round, kept + errors)

    def configure_evaluate(self, server_round, arrays, config, grid) -> Iterable[Message]:
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(self, server_round, replies):
        return self.strategy.aggregate_evaluate(server_round, replies)

    def summary(self) -> None:
        self.strategy.summary()


class LocalGrid(Grid):
    """A Flower ``Grid`` that hands each message to a ``ClientApp`` in this process.

    Hand-rolled because Flower's only simulation engine is Ray, whose start-up took 30–40 s and
    about 1.4 GB here for a single run: more than lesson 04's whole budget, which needs a dozen
    runs. The ClientApp, the ServerApp and Flower's strategies run unchanged; only the transport
    differs. Node ``i + 1`` gets ``node_config = {"partition-id": i, "num-partitions": n}`` as in
    Flower's simulation. Clients run one after another (so runs are reproducible), each in a
    thread: a ClientApp that raises gives an error reply (as a SuperNode sends); one that has not
    answered within the round's ``timeout`` gives no reply at all (as a node that vanished).
    """

    def __init__(self, client: ClientApp, n_nodes: int):
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
        box["reply"] = self._answer(message)

    def push_messages(self, messages: Iterable[Message], *, timeout: float | None = None):
        ids = []
        for message in messages:
            message.metadata.__dict__["_message_id"] = uuid.uuid4().hex  # as Flower's grids do
            box: dict[str, Message] = {}
            worker = threading.Thread(target=self._answer_into, args=(box, message), daemon=True)
            worker.start()
            worker.join(timeout)
            if "reply" in box:
                self._replies[message.metadata.message_id] = box["reply"]
            ids.append(message.metadata.message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> list[Message]:
        return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(self, messages, *, timeout=None) -> list[Message]:
        return self.pull_messages(self.push_messages(messages, timeout=timeout))


@dataclass
class FederatedRun:
    """What a federated run produced, and what its server saw.

    Attributes:
        model_fn: builds an untrained model of the run's architecture.
        states: the global model's weights after each round; ``states[0]`` before the first.
        received: ``(round, client) -> weights`` as the server received them (after any
            client-side clipping; before server-side clipping and noise).
        rejected: ``(round, client, reason)`` for every update the server dropped.
        history: one row per round: ``round``, ``clients`` (aggregated), and the global model's
            ``test_accuracy`` and ``test_loss`` when test data was given.
        epsilon: total client-level ε over all rounds at ``delta`` (Flower's RDP accountant,
            every client in every round, no sampling amplification); None without DP, inf
            with clipping but no noise.
        delta: the δ of ``epsilon``.
    """

    model_fn: Callable[[], nn.Module]
    states: list[dict[str, torch.Tensor]] = field(default_factory=list)
    received: dict[tuple[int, int], list[np.ndarray]] = field(default_factory=dict)
    rejected: list[tuple[int, int, str]] = field(default_factory=list)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    epsilon: float | None = None
    delta: float | None = None

    @property
    def rounds(self) -> int:
        return len(self.states) - 1

    def global_model(self, server_round: int = -1) -> nn.Module:
        """The global model after ``server_round`` (0 = initial; default the last)."""
        model = self.model_fn()
        model.load_state_dict(self.states[server_round])
        return model.eval()

    def client_model(self, server_round: int, client: int) -> nn.Module:
        """The model that ``client`` sent in ``server_round``, as the server received it."""
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


def server_app(
    model_fn: Callable[[], nn.Module],
    run: FederatedRun,
    *,
    n_clients: int,
    rounds: int,
    test: Dataset | None = None,
    noise_multiplier: float | None = None,
    clipping_norm: float = 1.0,
    clip_on_client: bool = False,
    delta: float = 1e-5,
    reject_factor: float = 10.0,
    round_timeout: float = 600.0,
    seed: int = 0,
) -> ServerApp:
    """A Flower ServerApp: FedAvg over all ``n_clients`` for ``rounds``, filling ``run``.

    With ``noise_multiplier`` set it wraps FedAvg in Flower's client-level DP (fixed clipping,
    on the server or, with ``clip_on_client``, on the clients) with Flower's RDP accountant,
    and averages the clients uniformly (the sensitivity C/m holds only for a plain mean).
    Arguments are as in :func:`run_federated`.
    """
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        weighted_by = "num-examples" if noise_multiplier is None else "unit"
        strategy = FedAvg(
            fraction_evaluate=0.0,
            min_train_nodes=n_clients,
            min_available_nodes=n_clients,
            weighted_by_key=weighted_by,
            train_metrics_aggr_fn=lambda contents, key: MetricRecord({"clients": len(contents)}),
        )
        dp = None
        if noise_multiplier is not None:
            accountant = None
            if noise_multiplier > 0:
                accountant = RdpAccountant(
                    PrivacyConfig(
                        target_delta=delta,
                        population_size=n_clients,
                        neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
                        sampling_method=SamplingMethod.NO_AMPLIFICATION,
                    )
                )
            wrapper = (
                DifferentialPrivacyClientSideFixedClipping
                if clip_on_client
                else DifferentialPrivacyServerSideFixedClipping
            )
            dp = wrapper(
                strategy, noise_multiplier, clipping_norm, n_clients, accountant=accountant
            )
            strategy = dp
        screened = ScreenedRecording(strategy, reject_factor=reject_factor)

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
        np.random.seed(seed)  # noqa: NPY002
        try:
            result = screened.start(
                grid=grid,
                initial_arrays=ArrayRecord(model_fn().state_dict()),
                num_rounds=rounds,
                timeout=round_timeout,
                evaluate_fn=evaluate,
            )
        finally:
            np.random.set_state(outer_state)  # noqa: NPY002
        history = pd.DataFrame(rows)
        history["clients"] = [0] + [
            int(result.train_metrics_clientapp[r]["clients"])
            if r in result.train_metrics_clientapp
            else 0
            for r in range(1, rounds + 1)
        ]
        run.history = history
        run.received, run.rejected = screened.received, screened.rejected
        if dp is not None:
            spent = dp.privacy_spent()
            run.epsilon = float("inf") if spent is None else spent.epsilon
            run.delta = delta

    return app


def run_federated(
    model_fn: Callable[[], nn.Module],
    clients: list[Dataset],
    *,
    rounds: int = 5,
    local_update: LocalUpdate | None = None,
    test: Dataset | None = None,
    noise_multiplier: float | None = None,
    clipping_norm: float = 1.0,
    clip_on_client: bool = False,
    delta: float = 1e-5,
    reject_factor: float = 10.0,
    round_timeout: float = 600.0,
    engine: str = "local",
    num_cpus: int | None = None,
    seed: int = 0,
) -> FederatedRun:
    """Train ``model_fn()`` with FedAvg over ``clients``: Flower's apps, simulated.

    Every client trains in every round (``local_update``, default :func:`local_fit` with one
    epoch). ``engine="local"`` runs the apps in this process through :class:`LocalGrid` (about a
    second a run); ``engine="ray"`` runs them in Flower's own simulation engine, Ray, started
    lean: ``num_cpus`` (default the machine's, at most one per client), no dashboard, a small
    object store, one CPU per client. Both give the same numbers for the same seed.

    Args:
        model_fn: builds the model, the same initial weights on every call (e.g.
            ``partial(ml.models.mlp, 64, 10, seed=0)``).
        clients: one :class:`~mialab.data.Dataset` per client (:func:`mialab.data.partition`).
        rounds: rounds of FedAvg.
        local_update: ``update(model, data, *, client, server_round) -> model``.
        test: data to evaluate the global model on after every round (on the server).
        noise_multiplier: client-level DP noise z (σ = z·C/m); None for no DP, 0 for clipping
            alone.
        clipping_norm: C, the bound on each client's update norm (with DP).
        clip_on_client: clip on the clients (Flower's client-side wrapper) instead of the server.
        delta: δ at which ε is reported.
        reject_factor: updates more than this many times the others' median norm are dropped.
        round_timeout: seconds the server waits for replies in a round.
        engine: ``"local"`` or ``"ray"``.
        num_cpus: CPUs Ray may use (``engine="ray"`` only).
        seed: seeds the local training and the DP noise; same seed, same numbers.

    Returns:
        A :class:`FederatedRun`.

    Example:
        >>> from functools import partial
        >>> import mialab as ml
        >>> digits = ml.data.load("digits")
        >>> hospitals = ml.data.partition(digits.subset(range(200)), 2, seed=0)
        >>> run = run_federated(partial(ml.models.mlp, 64, 10, seed=0), hospitals, rounds=2,
        ...                     test=digits.subset(range(1000, 1300)))
        >>> run.history.columns.tolist(), run.rounds, sorted(run.received)
        (['round', 'test_accuracy', 'test_loss', 'clients'], 2, [(1, 0), (1, 1), (2, 0), (2, 1)])
    """
    if not callable(model_fn) or not isinstance(model_fn(), nn.Module):
        raise TypeError("model_fn must be a callable returning a torch nn.Module")
    if not isinstance(clients, (list, tuple)) or not clients:
        raise ValueError("clients must be a non-empty list of mialab Datasets")
    for index, data in enumerate(clients):
        if not isinstance(data, Dataset):
            raise TypeError(f"clients[{index}] must be a mialab Dataset, got {type(data).__name__}")
    if test is not None and not isinstance(test, Dataset):
        raise TypeError(f"test must be a mialab Dataset or None, got {type(test).__name__}")
    if local_update is not None and not callable(local_update):
        raise TypeError("local_update must be callable")
    if noise_multiplier is not None and noise_multiplier != 0:
        positive_number(noise_multiplier, "noise_multiplier")
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    n_clients, rounds = len(clients), positive_int(rounds, "rounds")
    run = FederatedRun(model_fn=model_fn)
    server = server_app(
        model_fn,
        run,
        n_clients=n_clients,
        rounds=rounds,
        test=test,
        noise_multiplier=noise_multiplier,
        clipping_norm=positive_number(clipping_norm, "clipping_norm"),
        clip_on_client=bool(clip_on_client),
        delta=fraction(delta, "delta"),
        reject_factor=reject_factor,
        round_timeout=positive_number(round_timeout, "round_timeout"),
        seed=seed_value(seed),
    )
    client = client_app(
        lambda context: model_fn(),
        lambda context: clients[int(context.node_config["partition-id"])],
        local_update or local_fit(seed=seed),
        clip_on_client=clip_on_client and noise_multiplier is not None,
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
    return run


def _run_locally(server: ServerApp, client: ClientApp, n_clients: int) -> None:
    # Flower stamps every message with the sending task's identity, which its runtimes set
    # per process; set it as they do, for this run only.
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 0, SUPERLINK_NODE_ID
    try:
        server(LocalGrid(client, n_clients), Context(0, SUPERLINK_NODE_ID, {}, RecordDict(), {}))
    finally:
        TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


def _run_on_ray(server: ServerApp, client: ClientApp, n_clients: int, num_cpus) -> None:
    num_cpus = positive_int(num_cpus or min(os.cpu_count() or 1, n_clients), "num_cpus")
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
    run_simulation(server, client, num_supernodes=n_clients, backend_config=backend)
