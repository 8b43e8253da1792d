"""Federated learning on Flower (lesson 04): partitions, FedAvg, the server's view, client-level
DP and its accounting, unreliable clients, Flower's Ray engine, separate processes, and the
Flower internals that mialab relies on."""

import ipaddress
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch

import mialab as ml

federated = pytest.importorskip("mialab.defenses.federated")
from flwr.app import Message, RecordDict  # noqa: E402 (Flower is optional)
from flwr.serverapp import Grid  # noqa: E402
from flwr.serverapp.strategy import FedAvg  # noqa: E402

ClientDP, Settings = federated.ClientDP, federated.FederatedSettings
MLP = partial(ml.models.mlp, 64, 10, seed=0)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hospitals(digits):
    """600 member digits among 4 IID hospitals, 400 non-members, and a test set."""
    split = ml.data.membership_split(digits, n_members=600, seed=0)
    test = split.population
    return ml.data.partition(split.members, 4, seed=0), split, test


def accuracy(model, data):
    return float((ml.training.predict_logits(model, data.X).argmax(1) == data.y).mean())


def test_partitions_are_seeded_disjoint_and_cover_the_data(digits):
    indexed = ml.data.Dataset(  # features = the record's index, so shares can be traced back
        np.arange(len(digits), dtype=float)[:, None], digits.y, "indexed", digits.class_names
    )
    for alpha in (None, 0.3, 100.0):
        parts = ml.data.partition(indexed, 5, alpha=alpha, seed=3)
        ids = np.concatenate([p.X[:, 0] for p in parts]).astype(int)
        assert np.array_equal(np.sort(ids), np.arange(len(digits))), alpha  # disjoint, covering
        again = ml.data.partition(indexed, 5, alpha=alpha, seed=3)
        assert all(np.array_equal(a.X, b.X) for a, b in zip(parts, again, strict=True))
        assert min(len(p) for p in parts) >= 10
    iid = [len(p) for p in ml.data.partition(indexed, 5, seed=3)]
    skewed = ml.data.partition(indexed, 5, alpha=0.3, seed=3)
    assert max(iid) - min(iid) <= 1
    assert max(len(p) for p in skewed) > 2 * min(len(p) for p in skewed)  # sizes differ
    mixes = np.array([np.bincount(p.y, minlength=10) / len(p) for p in skewed])
    assert mixes.max() > 0.3  # some hospital sees one class far more than 1 in 10


def test_partition_names_bad_input(digits):
    cases = [
        (lambda: ml.data.partition(digits.X, 2), TypeError, "dataset must be"),
        (lambda: ml.data.partition(digits, 0), ValueError, "n_clients must be"),
        (lambda: ml.data.partition(digits, 2, alpha=0), ValueError, "alpha must be"),
        (lambda: ml.data.partition(digits.subset(range(30)), 4, alpha=1), ValueError, "too many"),
        (
            lambda: ml.data.partition(digits.subset(range(100)), 9, alpha=0.01, min_size=10),
            ValueError,
            "no Dirichlet",
        ),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def test_fedavg_on_iid_digits_comes_close_to_central_training(hospitals):
    clients, split, test = hospitals
    update = federated.local_fit(epochs=5, lr=3e-3)
    run = federated.run_federated(
        MLP, clients, settings=Settings(rounds=10), local_update=update, test=test
    )
    # Central training with as many passes over the same 600 records.
    central = ml.training.fit(MLP(), split.members, epochs=50, lr=3e-3, seed=0)
    fed_acc, central_acc = run.history.test_accuracy.iloc[-1], accuracy(central, test)
    assert fed_acc > central_acc - 0.03, (fed_acc, central_acc)  # measured 0.956 vs 0.972
    assert accuracy(run.global_model(), test) == pytest.approx(fed_acc)
    assert run.rounds == 10 and len(run.received) == 40 and not run.rejected


def test_same_seed_same_numbers_also_with_dp_noise(hospitals):
    clients, _, test = hospitals

    def states(seed):
        run = federated.run_federated(
            MLP, clients, settings=Settings(rounds=2, seed=seed), dp=ClientDP(0.1), test=test
        )
        return torch.cat([v.flatten() for v in run.states[-1].values()])

    assert torch.equal(states(0), states(0))
    assert not torch.equal(states(0), states(1))


@pytest.fixture(scope="module")
def small_client(digits):
    """A hospital of 40 digits that trains 40 local epochs, beside one of 300; candidates are
    its 40 records and 200 non-members."""
    split = ml.data.membership_split(digits, n_members=340, seed=1)
    small, large = split.members.subset(range(40)), split.members.subset(range(40, 340))
    X = np.r_[small.X, split.nonmembers.X[:200]]
    y = np.r_[small.y, split.nonmembers.y[:200]]
    is_member = np.r_[np.ones(40, bool), np.zeros(200, bool)]
    return [small, large], X, y, is_member


def update_aucs(run, X, y, is_member):
    """AUC of the loss-decrease attack on client 0's own update (what the server receives) and
    on the round's new global model (what leaves the server), both in round 1."""

    def auc(after):
        before = ml.training.predict_logits(run.global_model(0), X)
        scores = ml.attacks.loss_decrease_score(before, ml.training.predict_logits(after, X), y)
        return ml.metrics.evaluate(scores, is_member).auc

    return auc(run.client_model(1, 0)), auc(run.global_model(1))


def test_the_server_finds_a_small_clients_members_and_dp_hides_them_in_the_aggregate(
    small_client,
):
    clients, X, y, is_member = small_client
    low = 0.5 + 1.96 * np.sqrt((240 + 1) / (12 * 40 * 200))  # the AUC's 95% interval > 0.5
    update = federated.local_fit(epochs=40)
    # Clipping alone (z = 0) averages the two clients uniformly, as client-level DP does.
    runs = {
        z: federated.run_federated(
            MLP,
            clients,
            settings=Settings(rounds=1),
            dp=ClientDP(z, clipping_norm=1.0),
            local_update=update,
        )
        for z in (0, 5.0)
    }
    own, aggregate = update_aucs(runs[0], X, y, is_member)
    assert own > low and aggregate > low, (own, aggregate)  # measured 0.80, 0.74
    own_dp, aggregate_dp = update_aucs(runs[5.0], X, y, is_member)
    assert abs(aggregate_dp - 0.5) < 2.5 * (low - 0.5) / 1.96, aggregate_dp  # measured 0.50
    # Central DP noises what leaves the server, not what reaches it: the raw update still leaks.
    assert own_dp == pytest.approx(own)


def test_epsilon_is_the_total_over_rounds_from_flowers_accountant(hospitals):
    dp_accounting = pytest.importorskip("dp_accounting")
    clients, *_ = hospitals
    runs = {
        rounds: federated.run_federated(
            MLP, clients, settings=Settings(rounds=rounds), dp=ClientDP(2.0)
        )
        for rounds in (1, 3)
    }
    for rounds, run in runs.items():
        direct = dp_accounting.rdp.RdpAccountant()  # every client every round: no sampling
        direct.compose(dp_accounting.GaussianDpEvent(2.0), rounds)
        assert run.epsilon == pytest.approx(direct.get_epsilon(1e-5)) and run.delta == 1e-5
    assert runs[3].epsilon > runs[1].epsilon
    clipped_only = federated.run_federated(
        MLP, clients, settings=Settings(rounds=1), dp=ClientDP(0, delta=1e-6)
    )
    assert clipped_only.epsilon == float("inf") and clipped_only.delta == 1e-6
    assert federated.run_federated(MLP, clients, settings=Settings(rounds=1)).epsilon is None


def test_client_side_clipping_bounds_what_the_server_receives(hospitals):
    clients, *_ = hospitals
    run = federated.run_federated(
        MLP,
        clients,
        settings=Settings(rounds=1),
        dp=ClientDP(0.1, clipping_norm=0.5, on_client=True),
    )
    start = torch.cat([v.flatten() for v in run.states[0].values()]).numpy()
    for weights in run.received.values():
        update = np.concatenate([w.ravel() for w in weights]) - start
        assert np.linalg.norm(update) <= 0.5 + 1e-4


def misbehaving(kind):
    """Local training where client 1 misbehaves in round 2 in the way named by ``kind``."""
    honest = federated.local_fit(epochs=3, lr=3e-3)

    def update(model, data, *, client, server_round):
        model = honest(model, data, client=client, server_round=server_round)
        if client != 1 or server_round != 2:
            return model
        if kind == "raises":
            raise RuntimeError("disk full")
        if kind == "vanishes":
            time.sleep(4)  # longer than the round's timeout
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1e4) if kind == "scaled" else p.fill_(float("nan"))
        return model

    return update


@pytest.mark.parametrize("kind", ["raises", "vanishes", "nan", "scaled"])
def test_a_misbehaving_client_leaves_the_round_to_the_others(hospitals, kind, caplog):
    clients, _, test = hospitals
    run = federated.run_federated(
        MLP,
        clients,
        settings=Settings(rounds=3, round_timeout=2.0 if kind == "vanishes" else 600.0),
        local_update=misbehaving(kind),
        test=test,
    )
    assert run.history.clients.tolist() == [0, 4, 3, 4]
    assert np.isfinite(run.history.test_loss).all()
    assert run.history.test_accuracy.iloc[-1] > 0.85  # measured 0.874; all honest: 0.878
    reason = {
        "raises": "RuntimeError: disk full",
        "vanishes": "no reply within the round's timeout",
        "nan": "not finite",
        "scaled": "update too large",
    }[kind]
    assert run.dropped == [(2, 1, reason)]
    assert [r.getMessage() for r in caplog.records if r.name == federated.__name__] == [
        f"round 2: client 1 dropped ({reason})"
    ]
    if kind in ("nan", "scaled"):
        assert run.rejected == [(2, 1, reason)] and (2, 1) in run.received
    else:
        assert not run.rejected and (2, 1) not in run.received


def failing(kind):
    def update(model, data, *, client, server_round):
        if kind == "raises":
            raise RuntimeError(f"disk {client} full")
        return None

    return update


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("raises", r"client 0: RuntimeError: disk 0 full; client 1: RuntimeError: disk 1 full\)"),
        ("returns None", "client 0: TypeError: local_update must return the trained nn.Module"),
    ],
)
def test_a_round_that_aggregates_no_client_raises_naming_them(hospitals, kind, reason):
    clients, *_ = hospitals
    with pytest.raises(RuntimeError, match=f"round 1 aggregated no client update.*{reason}"):
        federated.run_federated(
            MLP, clients[:2], settings=Settings(rounds=2), local_update=failing(kind)
        )


def test_a_client_with_the_wrong_features_is_refused_before_the_run(hospitals, digits):
    clients, *_ = hospitals
    narrow = ml.data.Dataset(clients[1].X[:, :10], clients[1].y, "narrow", digits.class_names)
    with pytest.raises(ValueError, match=r"clients\[1\] does not fit the model"):
        federated.run_federated(MLP, [clients[0], narrow], settings=Settings(rounds=1))


def test_a_client_that_times_out_cannot_change_later_numbers(hospitals):
    """Client 1 stalls past round 1's timeout, then would reseed torch's global generator
    again and again while the others train: it must be stopped before it resumes, so the run
    is the same as one where client 1 simply failed in round 1."""
    clients, *_ = hospitals
    honest, resumed = federated.local_fit(epochs=2), []

    def update(model, data, *, client, server_round, stall):
        if client == 1 and server_round == 1:
            if not stall:
                raise RuntimeError("gone")
            time.sleep(1.5)  # past the round's timeout
            resumed.append(client)
            end = time.monotonic() + 3
            while time.monotonic() < end:
                torch.manual_seed(7)
        return honest(model, data, client=client, server_round=server_round)

    runs = {
        stall: federated.run_federated(
            MLP,
            clients[:3],
            settings=Settings(rounds=2, round_timeout=1),
            local_update=partial(update, stall=stall),
        )
        for stall in (True, False)
    }
    assert not resumed
    assert runs[True].dropped == [(1, 1, "no reply within the round's timeout")]
    assert runs[True].history.clients.tolist() == [0, 2, 3]
    for a, b in zip(runs[True].states, runs[False].states, strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_run_federated_names_bad_input(hospitals):
    clients, _, test = hospitals
    cases = [
        (lambda: federated.run_federated(lambda: 3, clients), TypeError, "model_fn must be"),
        (lambda: federated.run_federated(MLP, []), ValueError, "clients must be a non-empty"),
        (lambda: federated.run_federated(MLP, [clients[0], "b"]), TypeError, r"clients\[1\]"),
        (lambda: federated.run_federated(MLP, clients, test=test.X), TypeError, "test must"),
        (
            lambda: federated.run_federated(MLP, clients, settings={"rounds": 1}),
            TypeError,
            "settings must be a FederatedSettings, got dict",
        ),
        (
            lambda: federated.run_federated(MLP, clients, dp=0.5),
            TypeError,
            "dp must be a ClientDP, got float",
        ),
        (lambda: federated.run_federated(MLP, clients, engine="gpu"), ValueError, "engine must"),
        (lambda: Settings(rounds=0), ValueError, "rounds must"),
        (lambda: Settings(round_timeout=-1), ValueError, "round_timeout must"),
        (lambda: ClientDP(-1), ValueError, "noise_multiplier must"),
        (lambda: ClientDP(None), TypeError, "noise_multiplier must be a number .no DP is dp=None"),
        (lambda: ClientDP(1.0, delta=2), ValueError, "delta must"),
        (lambda: ClientDP(1.0, on_client="yes"), TypeError, "on_client must"),
        (lambda: federated.local_fit(epochs=0), ValueError, "epochs must"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    run = federated.run_federated(MLP, clients, settings=Settings(rounds=1))
    with pytest.raises(ValueError, match="no update from client 7 in round 1"):
        run.client_model(1, 7)


def test_model_fn_is_called_with_no_arguments_and_builds_the_initial_global_model(hospitals):
    clients, *_ = hospitals
    calls = []

    def model_fn(*args, **kwargs):
        calls.append((args, kwargs))
        return MLP()

    run = federated.run_federated(model_fn, clients[:2], settings=Settings(rounds=1))
    assert calls and all(call == ((), {}) for call in calls)
    assert all(torch.equal(run.states[0][k], v) for k, v in MLP().state_dict().items())


def test_local_training_runs_on_the_device_given_and_the_run_is_the_same(hospitals):
    clients, *_ = hospitals
    runs = [
        federated.run_federated(
            MLP,
            clients[:2],
            settings=Settings(rounds=1),
            local_update=federated.local_fit(device=device),
        )
        for device in ("cpu", torch.device("cpu"))
    ]
    for a, b in zip(runs[0].states, runs[1].states, strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="device"):
        federated.local_fit(device="cuda:99")


class FlowerRecords(logging.Handler):
    """Collects what Flower logs (its logger may not propagate to the root logger)."""

    def __enter__(self):
        self.records = []
        logging.getLogger("flwr").addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger("flwr").removeHandler(self)

    def emit(self, record):
        self.records.append(record)

    def about(self, text: str) -> list[str]:
        return [r.getMessage() for r in self.records if text in r.getMessage()]


def test_a_run_neither_warns_nor_logs_about_fraction_evaluate(hospitals):
    """The server tests the global model itself and asks no client to evaluate; Flower's switch
    for that logs a warning, which run_federated drops (and nothing else)."""
    clients, _, test = hospitals
    with FlowerRecords() as flower, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = federated.run_federated(
            MLP, clients[:2], settings=Settings(rounds=1), dp=ClientDP(0.5), test=test
        )
    assert run.rounds == 1
    assert not flower.about("fraction_evaluate"), flower.about("fraction_evaluate")
    assert not [w for w in caught if "fraction_evaluate" in str(w.message)]
    # The control: Flower does warn when its FedAvg is built so directly, so the test can fail.
    with FlowerRecords() as flower:
        FedAvg(fraction_evaluate=0.0)
    assert flower.about("fraction_evaluate is set to 0.0")


def test_flowers_telemetry_flag_is_turned_off_when_flwr_was_imported_first():
    """Flower reads FLWR_TELEMETRY_ENABLED once, at import, into a module flag that it checks
    before sending each event: the flag mialab turns off when flwr came first."""
    from flwr.supercore import telemetry

    assert "FLWR_TELEMETRY_ENABLED" in telemetry.create_event.__code__.co_names
    code = (
        "import flwr.supercore.telemetry as t; before = t.FLWR_TELEMETRY_ENABLED; "
        "import mialab.defenses.federated; print(before, t.FLWR_TELEMETRY_ENABLED)"
    )
    env = {k: v for k, v in os.environ.items() if k != "FLWR_TELEMETRY_ENABLED"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.split() == ["1", "0"], done.stdout + done.stderr


def test_flowers_messages_carry_the_task_identity_a_local_run_sets():
    """FedAvg's messages take their sender from Flower's TaskIdentity, which a local run sets
    as Flower's start_grid does (node SUPERLINK_NODE_ID, run 0, task 1)."""
    from flwr.common.constant import SUPERLINK_NODE_ID
    from flwr.supercore.task_identity import TaskIdentity

    saved = {}
    for name in ("task_id", "run_id", "node_id"):
        try:
            saved[name] = getattr(TaskIdentity, name)
        except RuntimeError:
            saved[name] = None
    try:
        TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 0, SUPERLINK_NODE_ID
        metadata = Message(RecordDict(), dst_node_id=3, message_type="train").metadata
    finally:
        for name, value in saved.items():
            setattr(TaskIdentity, name, value)
    sender = (metadata.src_task_id, metadata.run_id, metadata.src_node_id)
    assert sender == (1, 0, SUPERLINK_NODE_ID)


def test_local_grid_implements_every_abstract_method_of_flowers_grid():
    own = {name for name in vars(federated.LocalGrid) if not name.startswith("__")}
    assert Grid.__abstractmethods__ <= own, Grid.__abstractmethods__ - own


LOOPBACK_NAMES = {None, "", "localhost", "ip6-localhost"}


def is_loopback(host) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:  # a name other than localhost: a DNS lookup
        return False
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


class NetworkWatch:
    """Watches a block of code for traffic that could leave the machine.

    In this process it intercepts name lookups and connections (refusing any that is not on
    loopback); in every process this one starts it polls the open internet sockets (psutil)
    and reads the environment. Ray's processes talk to each other on loopback, which is fine.
    """

    def __init__(self):
        self.lookups, self.connections, self.environments = [], set(), {}
        self._stop = threading.Event()

    def _lookup(self, original):
        def getaddrinfo(host, *args, **kwargs):
            if not is_loopback(host):
                self.lookups.append(host)
                raise OSError(f"name lookup of {host} blocked by the test")
            return original(host, *args, **kwargs)

        return getaddrinfo

    def _connect(self, original):
        def connect(sock, address, *args):
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
                self.connections.add(("this process", tuple(address)))
                raise OSError(f"connection to {address} blocked by the test")
            return original(sock, address, *args)

        return connect

    def _poll(self):
        me = psutil.Process()
        my_command = me.cmdline()
        while not self._stop.wait(0.2):
            try:
                family = [me, *me.children(recursive=True)]
            except psutil.Error:
                continue
            for process in family:
                try:
                    command = process.cmdline()
                    name = " ".join(command[:2])[-80:]
                    # A child caught between fork and exec still shows this process's command
                    # line and the environment this process was started with (not os.environ as
                    # it is now), so it is read again once it has become its own program.
                    forked_only = command == my_command
                    if (
                        process.pid != me.pid
                        and process.pid not in self.environments
                        and not forked_only
                    ):
                        environment = process.environ()
                        if environment:  # empty while a process is still starting or ending
                            self.environments[process.pid] = (name, environment)
                    for conn in process.net_connections(kind="inet"):
                        if conn.raddr and not is_loopback(conn.raddr.ip):
                            self.connections.add((name, tuple(conn.raddr)))
                except psutil.Error:  # the process ended meanwhile
                    pass

    def __enter__(self):
        self._patch = pytest.MonkeyPatch()
        self._patch.setattr(socket, "getaddrinfo", self._lookup(socket.getaddrinfo))
        for method in ("connect", "connect_ex"):
            original = getattr(socket.socket, method)
            self._patch.setattr(socket.socket, method, self._connect(original))
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._poller.join()
        self._patch.undo()


def ray_sessions() -> set[str]:
    roots = [Path("/tmp/ray"), Path(tempfile.gettempdir()) / "ray"]
    return {str(p) for root in roots if root.is_dir() for p in root.glob("session_2*")}


@pytest.fixture(scope="module")
def ray_run(hospitals):
    """Two clients, two rounds on Flower's Ray engine (one run serves every Ray test: its
    start-up takes most of a minute), watched for network traffic."""
    clients, _, test = hospitals
    sessions, ours = ray_sessions(), set(Path(tempfile.gettempdir()).glob("mialab-ray-*"))
    with NetworkWatch() as watch:
        run = federated.run_federated(
            MLP, clients[:2], settings=Settings(rounds=2), test=test, engine="ray", num_cpus=1
        )
    left = ray_sessions() - sessions, set(Path(tempfile.gettempdir()).glob("mialab-ray-*")) - ours
    return run, watch, left


def test_the_engines_agree_to_float32_rounding(hospitals, ray_run):
    # Ray gives each client one torch thread; in this process torch uses its default, so sums
    # may be added up in another order (a last-bit difference that Adam carries forward).
    clients, _, test = hospitals
    local = federated.run_federated(MLP, clients[:2], settings=Settings(rounds=2), test=test)
    ray, *_ = ray_run
    assert ray.history.clients.tolist() == local.history.clients.tolist() == [0, 2, 2]
    for a, b in zip(local.states, ray.states, strict=True):
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    assert np.allclose(local.history.test_loss, ray.history.test_loss, rtol=1e-4)


def test_the_same_engine_and_threads_give_the_same_bits(hospitals):
    clients, _, test = hospitals
    threads = torch.get_num_threads()
    try:
        for n in sorted({1, threads}):
            torch.set_num_threads(n)
            runs = [
                federated.run_federated(MLP, clients[:2], settings=Settings(rounds=2))
                for _ in range(2)
            ]
            for a, b in zip(runs[0].states, runs[1].states, strict=True):
                assert all(torch.equal(a[k], b[k]) for k in a), n
    finally:
        torch.set_num_threads(threads)


def assert_private(watch):
    assert not watch.lookups, f"name lookups: {watch.lookups}"
    assert not watch.connections, f"connections off loopback: {watch.connections}"
    for name, env in watch.environments.values():
        assert env.get("FLWR_TELEMETRY_ENABLED") == "0", name
        assert env.get("RAY_USAGE_STATS_ENABLED") == "0", name


def test_a_ray_run_stays_on_the_machine_and_cleans_up(ray_run):
    run, watch, (sessions_left, folders_left) = ray_run
    assert len(watch.environments) >= 3, watch.environments  # Ray's processes were watched
    assert_private(watch)
    assert not sessions_left and not folders_left, (sessions_left, folders_left)
    assert run.rounds == 2


def test_a_local_run_stays_on_the_machine(hospitals):
    clients, _, test = hospitals
    with NetworkWatch() as watch:
        federated.run_federated(
            MLP, clients, settings=Settings(rounds=1), dp=ClientDP(0.5), test=test
        )
    assert_private(watch)
    assert os.environ["FLWR_TELEMETRY_ENABLED"] == os.environ["RAY_USAGE_STATS_ENABLED"] == "0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(ready, what: str, *, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < end, f"{what} not ready after {timeout:g} s"
        time.sleep(0.2)


def stop(processes):
    """Stop the given processes and everything they started; return what is still alive."""
    family = []
    for process in processes:
        try:
            family += [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    for member in family:
        try:
            member.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(family, timeout=10)
    for member in alive:
        member.kill()
    _, alive = psutil.wait_procs(alive, timeout=5)
    return alive


@pytest.mark.skipif(
    shutil.which("flower-superlink", path=str(Path(sys.executable).parent)) is None,
    reason="Flower's command-line tools are not installed",
)
def test_a_superlink_and_two_supernodes_on_loopback_run_the_app(tmp_path):
    bin_dir = Path(sys.executable).parent
    link_port = free_port()
    env = os.environ | {
        "FLWR_HOME": str(tmp_path / "flwr"),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FLWR_TELEMETRY_ENABLED": "0",  # as the README's commands set it
    }
    (tmp_path / "flwr").mkdir()
    (tmp_path / "flwr" / "config.toml").write_text(
        f'[superlink]\ndefault = "loopback"\n\n[superlink.loopback]\n'
        f'address = "127.0.0.1:{link_port}"\ninsecure = true\n'
    )
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name, *args):
        with open(logs / f"{name}.log", "w") as log:
            return psutil.Popen(
                [str(bin_dir / args[0]), *args[1:]], env=env, stdout=log, stderr=subprocess.STDOUT
            )

    started = [
        start(
            "superlink",
            "flower-superlink",
            "--insecure",
            "--port",
            str(link_port),
            "--disable-runtime-dependency-installation",
        )
    ]
    history = tmp_path / "history.csv"
    watch = NetworkWatch().__enter__()
    try:
        for k in range(2):
            started.append(
                start(
                    f"supernode{k}",
                    "flower-supernode",
                    "--insecure",
                    "--superlink",
                    f"127.0.0.1:{link_port}",
                    "--port",
                    str(free_port()),
                    "--node-config",
                    f"partition-id={k} num-partitions=2",
                )
            )
        # The SuperLink may take several seconds to start on a busy machine; the ServerApp then
        # waits for both SuperNodes itself.
        wait_until(lambda: listening(link_port), "the SuperLink", timeout=120)
        submit = subprocess.run(
            [
                str(bin_dir / "flwr"),
                "run",
                str(REPO / "federated_app"),
                "loopback",
                "--stream",
                "--run-config",
                f"num-server-rounds=2 result-path='{history}'",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert history.exists(), submit.stdout[-3000:] + submit.stderr[-3000:]
    finally:
        watch.__exit__()
        alive = stop(started)
    assert not alive, f"still running: {alive}"
    assert not watch.lookups and not watch.connections, (watch.lookups, watch.connections)
    assert all(env.get("FLWR_TELEMETRY_ENABLED") == "0" for _, env in watch.environments.values())
    table = np.genfromtxt(history, delimiter=",", names=True)
    assert table["round"].tolist() == [0, 1, 2]
    assert table["test_accuracy"][-1] > table["test_accuracy"][0] + 0.5  # measured 0.10 → 0.88
    assert table["clients"].tolist() == [0, 2, 2]
