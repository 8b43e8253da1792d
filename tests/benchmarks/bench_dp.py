"""Benchmark: DP-SGD (Opacus) vs non-private training, time per epoch, side by side in one run.

    make bench            # or: .venv/bin/python tests/benchmarks/bench_dp.py --epochs 10
    .venv/bin/python tests/benchmarks/bench_dp.py --quick   # a smoke run, seconds

Lesson 05's setups: an MLP on 400 digits and one on 284 breast-cancer rows, Adam, batch 64. The
non-private loop and the private one take the same optimiser and batch size; the private one
adds Poisson sampling, per-example gradients, clipping and noise (the noise multiplier is fixed
at 1.0, so the accountant's search for it is not timed). One row per Opacus per-example
gradient mode that works with these models. Goal: at most 2.5x (Opacus' own CI allows 2.6x).

Each configuration runs once untimed (first-call costs), then ``--repeats`` times; the table
shows the median seconds per epoch and the range (fastest-slowest), and the ratio of medians.
"""

import argparse
import os
import statistics
import time
import warnings
from functools import partial

import torch
from opacus import PrivacyEngine
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import mialab as ml

warnings.filterwarnings("ignore", message="Secure RNG turned off")
warnings.filterwarnings("ignore", message="Full backward hook is firing")


def epoch_seconds(model, X, y, epochs: int, mode: str | None) -> float:
    loader = DataLoader(
        TensorDataset(X, y), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    if mode is not None:
        model, optimizer, loader = PrivacyEngine(accountant="rdp").make_private(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            noise_multiplier=1.0,
            max_grad_norm=1.0,
            grad_sample_mode=mode,
            noise_generator=torch.Generator().manual_seed(1),
        )
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(epochs):
        for X_batch, y_batch in loader:
            optimizer.zero_grad(set_to_none=True)
            if len(X_batch) == 0:  # an empty Poisson draw: the noise-only step mialab takes
                model(X_batch).sum().backward()
            else:
                loss_fn(model(X_batch), y_batch).backward()
            optimizer.step()
    return (time.perf_counter() - start) / epochs


def timed(run, repeats: int) -> list[float]:
    """Seconds per epoch of ``repeats`` runs, after one untimed warm-up run."""
    run()
    return [run() for _ in range(repeats)]


def spread(seconds: list[float]) -> str:
    return f"{statistics.median(seconds):.4f} ({min(seconds):.4f}-{max(seconds):.4f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 epoch, digits only")
    args = parser.parse_args()
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    setups = (("digits", 400), ("breast_cancer", None))
    if args.quick:
        args.epochs, setups = 1, setups[:1]
    print(
        f"median of {args.repeats} runs of {args.epochs} epochs after one warm-up (range in "
        f"brackets); torch threads: {torch.get_num_threads()}, "
        f"usable cores: {len(os.sched_getaffinity(0))}"
    )
    print(f"{'setup':<24} {'mode':<10} {'private s/epoch':>26} {'plain s/epoch':>26} {'ratio':>6}")
    for name, n_members in setups:
        bench(name, n_members, args.epochs, args.repeats)


def bench(name: str, n_members: int | None, epochs: int, repeats: int) -> None:
    """Print one row per per-example gradient mode for one of lesson 05's setups."""
    ds = ml.data.load(name)
    split = ml.data.membership_split(ds, n_members=n_members, seed=0)
    X, y = torch.from_numpy(split.members.X), torch.from_numpy(split.members.y).long()
    factory = partial(ml.models.mlp, ds.n_features, ds.n_classes, seed=0)
    setup = f"{name} ({len(X)} rows)"
    plain = timed(lambda: epoch_seconds(factory(), X, y, epochs, None), repeats)
    for mode in ("hooks", "functorch", "ew"):
        try:
            private = timed(lambda mode=mode: epoch_seconds(factory(), X, y, epochs, mode), repeats)
        except Exception as error:  # a mode Opacus cannot apply to this model
            print(f"{setup:<24} {mode:<10} failed: {error}")
            continue
        ratio = statistics.median(private) / statistics.median(plain)
        print(f"{setup:<24} {mode:<10} {spread(private):>26} {spread(plain):>26} {ratio:>5.1f}x")


if __name__ == "__main__":
    main()
