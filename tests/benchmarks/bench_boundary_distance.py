"""Benchmark: our label-only boundary distance vs IBM ART's LabelOnlyDecisionBoundary.

    make bench     # or: .venv/bin/python tests/benchmarks/bench_boundary_distance.py

Same target (an MLP overfit to 100 digits), same 200 candidates (100 members, 100 non-members),
each run ``--repeats`` times after an untimed warm-up. ART's attack runs HopSkipJump one record
at a time; ours searches for all records at once in a fixed budget of label queries. ART's
`infer(..., probabilities=True)` returns a sigmoid of the distance, a monotone transform, so its
AUC is that of its distances. ART runs with
max_iter=10, max_eval=1000, init_eval=100 (its defaults, 50 and 10,000, take far longer); pass
--art-max-iter and --art-max-eval to change that.
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch
from art.attacks.inference.membership_inference import LabelOnlyDecisionBoundary
from art.estimators.classification import PyTorchClassifier

import mialab as ml


class Float32(torch.nn.Module):
    """ART hands the model float64 arrays; the model computes in float32."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x.float())


def timed(run, repeats: int) -> tuple[list[float], list]:
    """Seconds and results of ``repeats`` runs, after one untimed warm-up on a few records."""
    run(slice(0, 4))
    seconds, results = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        results.append(run(slice(None)))
        seconds.append(time.perf_counter() - start)
    return seconds, results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-queries", type=int, default=1000, help="ours, per record")
    parser.add_argument("--art-max-iter", type=int, default=10)
    parser.add_argument("--art-max-eval", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    digits = ml.data.load("digits")
    split = ml.data.membership_split(digits, n_members=100, seed=0)
    X, y, is_member = split.candidates()
    target = ml.models.mlp(64, 10, hidden=(256,), seed=0)
    ml.training.fit(target, split.members, epochs=300, seed=0)
    accuracy = {
        side: ml.metrics.accuracy(ml.training.predict_logits(target, part.X), part.y)
        for side, part in (("train", split.members), ("test", split.nonmembers))
    }

    def ours(rows):
        counter = ml.attacks.QueryCounter(ml.attacks.mask_confidences(target))
        scores = ml.attacks.boundary_distance_score(
            counter, X[rows], y[rows], max_queries=args.max_queries, seed=0
        )
        return scores, counter.rows

    art_model = PyTorchClassifier(
        model=Float32(target),
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(64,),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    predict = art_model.predict
    art_rows = [0]

    def counted_predict(x, *rest, **options):  # every label ART asks for
        art_rows[0] += len(x)
        return predict(x, *rest, **options)

    art_model.predict = counted_predict
    attack = LabelOnlyDecisionBoundary(art_model, distance_threshold_tau=1.0)

    def art(rows):
        art_rows[0] = 0
        scores = attack.infer(
            X[rows].astype(np.float32),
            y[rows],
            probabilities=True,
            max_iter=args.art_max_iter,
            max_eval=args.art_max_eval,
            init_eval=100,
            verbose=False,
        )[:, 1]
        return scores, art_rows[0]

    print(
        f"{len(X)} candidates; target train/test accuracy "
        f"{accuracy['train']:.2f}/{accuracy['test']:.2f}; torch threads "
        f"{torch.get_num_threads()}, usable cores {len(os.sched_getaffinity(0))}; "
        f"{args.repeats} runs each after a warm-up (ART is not seeded: its AUC varies)"
    )
    print(
        f"{'attack':<30} {'AUC (median, range)':>22} {'queries/record':>15} "
        f"{'wall (median, range)':>24}"
    )
    medians = {}
    for name, run in (
        ("mialab boundary_distance_score", ours),
        ("ART LabelOnlyDecisionBoundary", art),
    ):
        seconds, results = timed(run, args.repeats)
        aucs = [ml.metrics.evaluate(scores, is_member).auc for scores, _ in results]
        queries = statistics.median(q for _, q in results) / len(X)
        medians[name] = statistics.median(seconds)
        print(
            f"{name:<30} {statistics.median(aucs):>8.3f} ({min(aucs):.3f}–{max(aucs):.3f}) "
            f"{queries:>15.0f} {medians[name]:>9.1f} s ({min(seconds):.1f}–{max(seconds):.1f} s)"
        )
    ours_s, art_s = medians.values()
    print(f"wall-time ratio of the medians, ART / mialab: {art_s / ours_s:.0f}x")


if __name__ == "__main__":
    main()
