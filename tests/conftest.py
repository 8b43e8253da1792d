"""Shared fixtures: one small overfit target model on digits, trained once per test session, and
each lesson run once in smoke mode."""

import os
import sys
from functools import partial
from pathlib import Path

import nbformat
import numpy as np
import pytest

import mialab as ml
from mialab.course import run_notebook

sys.path.insert(0, str(Path(__file__).parents[1] / "docs"))
import lessons  # noqa: E402  (docs/lessons.py: the lessons as the course website shows them)


def _workers() -> int:
    """One test worker per core this run may use (``taskset`` counts), at most 4. The lessons
    and the website built from them run in one worker (the ``lessons`` group); the others share
    the rest, which takes about as long again, so more workers would wait for that one."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(4, usable or 1)  # macOS has no sched_getaffinity


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject.toml) means :func:`_workers` (xdist's own count is the machine's,
    not the cores ``taskset`` leaves)."""
    return _workers()


def pytest_configure(config):
    """With several workers, each computes on one thread (and so do the lesson kernels it
    starts): two workers on two cores with two threads each ran the suite slower than one."""
    workers = config.getoption("numprocesses", None)
    workers = _workers() if workers in ("auto", "logical") else workers or 0
    if os.environ.get("PYTEST_XDIST_WORKER") is None and workers > 1:
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, "1")


@pytest.fixture(scope="session")
def digits():
    return ml.data.load("digits")


@pytest.fixture(scope="session")
def overfit_target(digits):
    """An MLP trained to zero loss on 100 digits, with its challenge set (members first)."""
    split = ml.data.membership_split(digits, n_members=100, seed=0)
    model = ml.models.mlp(64, 10, hidden=(256,), seed=0)
    ml.training.fit(model, split.members, epochs=300, seed=0)
    X, y, is_member = split.candidates()
    return model, split, X, y, is_member


@pytest.fixture(scope="session")
def outsider(overfit_target):
    """The same architecture trained only on the population: it saw no candidate record."""
    _, split, *_ = overfit_target
    model = ml.models.mlp(64, 10, hidden=(256,), seed=1)
    return ml.training.fit(model, split.population, epochs=100, seed=1)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def reference_models(overfit_target):
    """16 reference models like the overfit target, each on half of its candidate records."""
    _, split, X, y, _ = overfit_target
    factory = partial(ml.models.mlp, 64, 10, hidden=(256,))
    refs, in_mask = ml.training.fit_many(factory, (X, y), 16, epochs=300, seed=5)
    return {
        "logits": ml.training.predict_logits(refs, X),
        "in_mask": in_mask,
        "population_logits": ml.training.predict_logits(refs, split.population.X),
    }


class SmokeRuns:
    """Runs each lesson at most once per session, in smoke mode, as the website shows it: every
    cell in order, solutions included (folded on the site), in a fresh kernel. Calling it with a
    notebook's path gives the :class:`mialab.course.NotebookRun`; the executed copy is then in
    ``executed / path.name``. The lessons run one after another, in one test worker (the
    ``lessons`` group) while the other workers take the rest of the suite."""

    def __init__(self, folder: Path):
        self.copies, self.executed = folder / "site copies", folder / "executed"
        self.copies.mkdir(parents=True)
        self._runs = {}

    def __call__(self, path: Path):
        if path.name not in self._runs:
            copy = self.copies / path.name
            nbformat.write(lessons.site_copy(path), copy)
            self._runs[path.name] = run_notebook(
                copy, smoke=True, timeout=300, save_to=self.executed
            )
        return self._runs[path.name]


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    """Shared by the notebook tests (each lesson runs) and the website test (built from them)."""
    return SmokeRuns(tmp_path_factory.mktemp("lessons"))
