"""Shared fixtures: one small overfit target model on digits, trained once per test session, and
each lesson run once in smoke mode."""

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import nbformat
import numpy as np
import pytest

import mialab as ml
from mialab.course import run_notebook

sys.path.insert(0, str(Path(__file__).parents[1] / "docs"))
import lessons  # noqa: E402  (docs/lessons.py: the lessons as the course website shows them)


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
    """Each lesson run once, in smoke mode, as the website shows it: every cell in order,
    solutions included (folded on the site), in a fresh kernel.

    The lessons the session will ask for start at once, as many at a time as there are CPUs (up
    to 4; each lesson's torch uses one thread), each in a worker process that measures only its
    own kernel. Calling it with a notebook's path waits for that run and gives its
    :class:`mialab.course.NotebookRun`; the executed copy is then in ``executed / path.name``.
    """

    def __init__(self, folder: Path, paths):
        self.copies, self.executed = folder / "site copies", folder / "executed"
        self.copies.mkdir(parents=True)
        workers = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
        spawn = multiprocessing.get_context("spawn")  # no fork of a process that runs torch
        self._pool = ProcessPoolExecutor(max(1, workers), mp_context=spawn)
        self._runs = {path.name: self._start(path) for path in paths}

    def _start(self, path: Path):
        copy = self.copies / path.name
        nbformat.write(lessons.site_copy(path), copy)
        return self._pool.submit(run_notebook, copy, smoke=True, timeout=300, save_to=self.executed)

    def __call__(self, path: Path):
        if path.name not in self._runs:
            self._runs[path.name] = self._start(path)
        return self._runs[path.name].result()

    def close(self):
        self._pool.shutdown(cancel_futures=True)


@pytest.fixture(scope="session")
def smoke_runs(request, tmp_path_factory):
    """Shared by the notebook tests (each lesson runs) and the website test (built from them)."""
    selected = [item for item in request.session.items if "smoke_runs" in item.fixturenames]
    if any("site" in item.fixturenames for item in selected):
        paths = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
    else:
        params = (getattr(item, "callspec", None) for item in selected)
        paths = sorted({spec.params["path"] for spec in params if spec and "path" in spec.params})
    runs = SmokeRuns(tmp_path_factory.mktemp("lessons"), paths)
    yield runs
    runs.close()
