"""Lesson 04's FedAvg as a Flower app for separate machines: one hospital per SuperNode.

The Flower app project in ``federated_app/`` points ``flwr run`` here. Each SuperNode is started
with ``--node-config "partition-id=K num-partitions=N"``, loads digits and keeps hospital K of
N (an IID, seeded share of the first 1,200 digits); the server evaluates the global model on the
other 597 and, when the run config names a ``result-path``, writes the history there as CSV.
The README's "Beyond one machine" gives the commands; start them with
``FLWR_TELEMETRY_ENABLED=0`` in the environment, since Flower's processes start (and would send
telemetry) before this module is loaded. Loading it (through ``mialab.defenses.federated``)
turns Flower's telemetry off in the process that loads it, unless the environment says
otherwise.
"""

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from mialab import data, models
from mialab.defenses import federated

POOL = 1200  # digits shared out among the hospitals; the rest is the server's test set


def _model(context: Context | None = None):
    """The server calls it with no arguments (its first model is the initial global model),
    the clients with their context."""
    return models.mlp(64, 10, seed=0)


def _hospital(context: Context) -> data.Dataset:
    digits = data.load("digits").subset(range(POOL))
    config = context.node_config
    shares = data.partition(digits, int(config["num-partitions"]), seed=0)
    return shares[int(config["partition-id"])]


client = federated.client_app(_model, _hospital, federated.local_fit(epochs=5, seed=0))

server = ServerApp()


@server.main()
def main(grid: Grid, context: Context) -> None:
    config = context.run_config
    digits = data.load("digits")
    run = federated.FederatedRun(model_fn=_model)
    app = federated.server_app(
        _model,
        run,
        n_clients=int(config["num-clients"]),
        settings=federated.FederatedSettings(rounds=int(config["num-server-rounds"])),
        test=digits.subset(range(POOL, len(digits))),
    )
    app(grid, context)
    if config.get("result-path"):
        run.history.to_csv(str(config["result-path"]), index=False)
