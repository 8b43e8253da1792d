"""Benchmark: our label-only boundary distance vs IBM ART's LabelOnlyDecisionBoundary.

    make bench     # or: .venv/bin/python tests/benchmarks/bench_boundary_distance.py

Same target (an MLP overfit to 100 digits), same 200 candidates (100 members, 100 non-members),
one run. ART's attack runs HopSkipJump one record at a time; ours searches for all records at
once in a fixed budget of label queries. ART's `infer(..., probabilities=True)` returns a
sigmoid of the distance, a monotone transform, so its AUC is that of its distances. ART runs with
max_iter=10, max_eval=1000, init_eval=100 (its defaults, 50 and 10,000, take far longer); pass
--art-max-iter and --art-max-eval to change that.
"""

import argparse
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-queries", type=int, default=1000, help="ours, per record")
    parser.add_argument("--art-max-iter", type=int, default=10)
    parser.add_argument("--art-max-eval", type=int, default=1000)
    args = parser.parse_args()

    digits = ml.data.load("digits")
    split = ml.data.membership_split(digits, n_members=100, seed=0)
    X, y, is_member = split.candidates()
    target = ml.models.mlp(64, 10, hidden=(256,), seed=0)
    ml.training.fit(target, split.members, epochs=300, seed=0)

    ours = ml.attacks.QueryCounter(ml.attacks.mask_confidences(target))
    start = time.perf_counter()
    distances = ml.attacks.boundary_distance_score(ours, X, y, max_queries=args.max_queries, seed=0)
    ours_s = time.perf_counter() - start

    art_model = PyTorchClassifier(
        model=Float32(target),
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(64,),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    art_rows = [0]
    predict = art_model.predict

    def counted_predict(x, *rest, **options):  # every label ART asks for
        art_rows[0] += len(x)
        return predict(x, *rest, **options)

    art_model.predict = counted_predict
    attack = LabelOnlyDecisionBoundary(art_model, distance_threshold_tau=1.0)
    start = time.perf_counter()
    art_scores = attack.infer(
        X.astype(np.float32),
        y,
        probabilities=True,
        max_iter=args.art_max_iter,
        max_eval=args.art_max_eval,
        init_eval=100,
        verbose=False,
    )[:, 1]
    art_s = time.perf_counter() - start

    rows = [
        ("mialab boundary_distance_score", distances, ours.rows, ours_s),
        ("ART LabelOnlyDecisionBoundary", art_scores, art_rows[0], art_s),
    ]
    print(
        f"{len(X)} candidates; target train/test accuracy "
        f"{(ours.predict_labels(split.members.X) == split.members.y).mean():.2f}/"
        f"{(ours.predict_labels(split.nonmembers.X) == split.nonmembers.y).mean():.2f}"
    )
    print(f"{'attack':<30} {'AUC':>6} {'TPR@1%FPR':>10} {'queries/record':>15} {'wall':>9}")
    for name, scores, queries, seconds in rows:
        result = ml.metrics.evaluate(scores, is_member, name=name)
        print(
            f"{name:<30} {result.auc:>6.3f} {result.tpr_at(0.01):>10.1%} "
            f"{queries / len(X):>15.0f} {seconds:>7.1f} s"
        )
    print(f"wall-time ratio ART / mialab: {art_s / ours_s:.0f}x")


if __name__ == "__main__":
    main()
