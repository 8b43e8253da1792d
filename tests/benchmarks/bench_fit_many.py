"""Benchmark: 16 reference models with fit_many vs a loop of fit, side by side in one run.

    make bench            # or: .venv/bin/python tests/benchmarks/bench_fit_many.py --epochs 300
    .venv/bin/python tests/benchmarks/bench_fit_many.py --quick   # a smoke run, seconds

The setup is lesson 01's: digits, a pool of 800 candidate records, each model on 400 of them,
Adam, batch 64. Both ways train the same models (same seeds, same halves), so their test
accuracies must agree within noise; the goal is a speed-up of at least 4x on 2 cores for the
lesson's MLP (64 hidden units). Wider MLPs are listed too: the larger the model, the more of the
time is arithmetic rather than per-step overhead, and the smaller the gain.

Each configuration runs once untimed (imports, first-call costs, allocator warm-up), then
``--repeats`` times; the table shows the median time and the range (fastest-slowest), and the
speed-up of the medians.
"""

import argparse
import os
import statistics
import time
from functools import partial

import numpy as np
import torch

import mialab as ml


def timed(run, repeats: int) -> tuple[list[float], object]:
    """Seconds of each of ``repeats`` runs after one untimed warm-up, and the last result."""
    result = run()  # warm-up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def spread(seconds: list[float]) -> str:
    return f"{statistics.median(seconds):6.2f} s ({min(seconds):.2f}-{max(seconds):.2f})"


def bench(hidden: int, n_models: int, epochs: int, repeats: int) -> dict:
    digits = ml.data.load("digits")
    split = ml.data.membership_split(digits, n_members=400, seed=0)
    X, y, _ = split.candidates()
    test = split.population
    factory = partial(ml.models.mlp, 64, 10, hidden=(hidden,))

    many_s, (stacked, in_mask) = timed(
        lambda: ml.training.fit_many(factory, (X, y), n_models, epochs=epochs, seed=0), repeats
    )
    rng = np.random.default_rng(0)
    rng.integers(2**31)  # fit_many draws the in-mask seed first, then one seed per model
    seeds = [int(s) for s in rng.integers(2**31, size=n_models)]
    loop_s, looped = timed(
        lambda: [
            ml.training.fit(factory(seed=s), (X[in_mask[m]], y[in_mask[m]]), epochs=epochs, seed=s)
            for m, s in enumerate(seeds)
        ],
        repeats,
    )

    def accuracies(models):
        return (ml.training.predict_logits(models, test.X).argmax(axis=2) == test.y).mean(axis=1)

    acc_many, acc_loop = accuracies(stacked), accuracies(looped)
    return {
        "hidden": hidden,
        "loop_s": loop_s,
        "many_s": many_s,
        "speedup": statistics.median(loop_s) / statistics.median(many_s),
        "acc_loop": acc_loop.mean(),
        "acc_many": acc_many.mean(),
        "acc_spread": acc_loop.std(),
        "max_acc_diff": np.abs(acc_many - acc_loop).max(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="4 models, 2 epochs, 64 hidden")
    args = parser.parse_args()
    if args.quick:
        args.models, args.epochs, args.hidden = 4, 2, [64]
    print(
        f"{args.models} reference models, {args.epochs} epochs, median of {args.repeats} runs "
        f"after one warm-up (range in brackets); torch threads: {torch.get_num_threads()}, "
        f"usable cores: {len(os.sched_getaffinity(0))}"
    )
    print(
        f"{'hidden':>6} {'loop of fit':>21} {'fit_many':>21} {'speed-up':>9} "
        f"{'test acc loop':>14} {'fit_many':>9} {'spread':>7} {'max diff':>9}"
    )
    for hidden in args.hidden:
        r = bench(hidden, args.models, args.epochs, args.repeats)
        print(
            f"{r['hidden']:>6} {spread(r['loop_s']):>21} {spread(r['many_s']):>21} "
            f"{r['speedup']:>8.1f}x {r['acc_loop']:>14.3f} {r['acc_many']:>9.3f} "
            f"{r['acc_spread']:>7.3f} {r['max_acc_diff']:>9.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
