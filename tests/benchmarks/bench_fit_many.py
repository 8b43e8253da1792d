"""Benchmark: 16 reference models with fit_many vs a loop of fit, side by side in one run.

    make bench            # or: .venv/bin/python tests/benchmarks/bench_fit_many.py --epochs 300

The setup is lesson 01's: digits, a pool of 800 candidate records, each model on 400 of them,
Adam, batch 64. Both ways train the same models (same seeds, same halves), so their test
accuracies must agree within noise; the goal is a speed-up of at least 4x on 2 cores for the
lesson's MLP (64 hidden units). Wider MLPs are listed too: the larger the model, the more of the
time is arithmetic rather than per-step overhead, and the smaller the gain.
"""

import argparse
import time
from functools import partial

import numpy as np
import torch

import mialab as ml


def run(hidden: int, n_models: int, epochs: int) -> dict:
    digits = ml.data.load("digits")
    split = ml.data.membership_split(digits, n_members=400, seed=0)
    X, y, _ = split.candidates()
    test = split.population
    factory = partial(ml.models.mlp, 64, 10, hidden=(hidden,))

    start = time.perf_counter()
    stacked, in_mask = ml.training.fit_many(
        factory, (X, y), n_models, epochs=epochs, seed=0, progress=False
    )
    many_s = time.perf_counter() - start

    rng = np.random.default_rng(0)
    rng.integers(2**31)  # fit_many draws the in-mask seed first, then one seed per model
    seeds = [int(s) for s in rng.integers(2**31, size=n_models)]
    start = time.perf_counter()
    looped = [
        ml.training.fit(
            factory(seed=s), (X[in_mask[m]], y[in_mask[m]]), epochs=epochs, seed=s, progress=False
        )
        for m, s in enumerate(seeds)
    ]
    loop_s = time.perf_counter() - start

    def accuracies(models):
        return (ml.training.predict_logits(models, test.X).argmax(axis=2) == test.y).mean(axis=1)

    acc_many, acc_loop = accuracies(stacked), accuracies(looped)
    return {
        "hidden": hidden,
        "loop_s": loop_s,
        "many_s": many_s,
        "speedup": loop_s / many_s,
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
    args = parser.parse_args()
    ml.training.fit_many(
        partial(ml.models.mlp, 64, 10),
        ml.data.load("digits").subset(range(40)),
        2,
        epochs=1,
        progress=False,
    )  # warm-up: imports and first-call costs
    print(
        f"{args.models} reference models, {args.epochs} epochs, torch threads: "
        f"{torch.get_num_threads()}"
    )
    print(
        f"{'hidden':>6} {'loop of fit':>12} {'fit_many':>9} {'speed-up':>9} "
        f"{'test acc loop':>14} {'fit_many':>9} {'spread':>7} {'max diff':>9}"
    )
    for hidden in args.hidden:
        r = run(hidden, args.models, args.epochs)
        print(
            f"{r['hidden']:>6} {r['loop_s']:>10.1f} s {r['many_s']:>7.1f} s {r['speedup']:>8.1f}x "
            f"{r['acc_loop']:>14.3f} {r['acc_many']:>9.3f} {r['acc_spread']:>7.3f} "
            f"{r['max_acc_diff']:>9.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
