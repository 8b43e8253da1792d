"""Run the course notebooks as a student would and measure each: ``python -m mialab.course``.

Every notebook runs top to bottom in a fresh kernel. One row per notebook reports the wall time
and the peak memory of the kernel and every process it started (proportional set size, so shared
libraries are not counted twice), next to the budget, which holds on 1 CPU core as on 2::

    python -m mialab.course            # full size: 3 minutes and 1.5 GB per notebook
    python -m mialab.course --smoke    # MIALAB_SMOKE=1: 40 seconds per notebook
    python -m mialab.course --cpus 1   # the kernel and its children pinned to one CPU
    python -m mialab.course --save executed/     # keep the executed notebooks, outputs and all
    python -m mialab.course --student student/   # write student copies, run nothing

The test suite uses the same functions for its smoke runs and structure checks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

__all__ = [
    "BUDGETS",
    "NotebookRun",
    "binder_badge",
    "run_notebook",
    "structure_problems",
    "student_copy",
]

BINDER_REPO = "mialab/mialab"
#: The (seconds, MB) a notebook may take, by mode, on 1 CPU core (as on Binder) as on 2.
BUDGETS = {"full": (180.0, 1536.0), "smoke": (40.0, 1536.0)}


def binder_badge(notebook_name: str) -> str:
    """The Markdown of the Binder badge that opens ``notebooks/<notebook_name>`` in JupyterLab."""
    url = (
        f"https://mybinder.org/v2/gh/{BINDER_REPO}/HEAD?urlpath=lab/tree/notebooks/{notebook_name}"
    )
    return f"[![Binder](https://mybinder.org/badge_logo.svg)]({url})"


def structure_problems(path) -> list[str]:
    """What keeps a notebook out of the course: outputs, no parameters cell, no Binder badge,
    fewer than two exercises with their solutions, no cell tagged ``claims``."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    problems = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    if any(c.outputs or c.execution_count for c in code):
        problems.append("has outputs or execution counts (strip them before committing)")
    if not code or "parameters" not in code[0].metadata.get("tags", []):
        problems.append("its first code cell is not tagged 'parameters'")
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    if not markdown or binder_badge(path.name) not in markdown[0].source:
        problems.append(
            f"its first Markdown cell lacks the Binder badge: {binder_badge(path.name)}"
        )
    claims = [c for c in code if "claims" in c.metadata.get("tags", [])]
    if len(claims) != 1 or ".done()" not in claims[0].source:
        problems.append(
            f"has {len(claims)} cell(s) tagged 'claims'; a lesson needs one, ending in "
            "claims.done(), that checks every statement its text makes (mialab.claims)"
        )
    exercises = [c for c in code if re.search(r"\.check\(my_", c.source)]
    if len(exercises) < 2:
        problems.append(f"has {len(exercises)} exercise(s) (`...check(my_...)`); a lesson needs 2")
    solutions = [c for c in code if "solution" in c.metadata.get("tags", [])]
    if len(solutions) != len(exercises):
        problems.append(f"{len(exercises)} exercises but {len(solutions)} cells tagged 'solution'")
    return problems


SOLUTION_LINE = re.compile(r"^# *lesson\d\d\.q\d\.solution\(\)\n?", re.MULTILINE)


def student_copy(path) -> nbformat.NotebookNode:
    """The notebook without its solutions: cells tagged ``solution`` and the commented
    ``# lessonNN.qK.solution()`` lines are left out; every other cell is kept as it is."""
    nb = nbformat.read(Path(path), as_version=4)
    nb.cells = [c for c in nb.cells if "solution" not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = SOLUTION_LINE.sub("", cell.source).rstrip("\n")
    return nb


@dataclass(frozen=True)
class NotebookRun:
    """Time and memory of one notebook run; ``error`` holds the failure, if any."""

    name: str
    mode: str
    wall_s: float
    peak_mb: float
    error: str | None = None
    cpus: int | None = None  # the CPUs the kernel was pinned to; None: all of the runner's

    @property
    def within_budget(self) -> bool:
        """Whether the run kept to its mode's time and memory (:data:`BUDGETS`)."""
        seconds, megabytes = BUDGETS[self.mode]
        return self.wall_s <= seconds and self.peak_mb <= megabytes


def _memory_mb(process: psutil.Process) -> float:
    """Proportional set size where the OS reports it (Linux), resident set size otherwise."""
    try:
        info = process.memory_full_info()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0
    return getattr(info, "pss", info.rss) / 2**20


def _cpu_set(cpus: int) -> list[int]:
    """The first ``cpus`` of the CPUs this process may run on."""
    if not hasattr(os, "sched_setaffinity"):
        raise ValueError("cpus needs os.sched_setaffinity (Linux); leave it out here")
    available = sorted(os.sched_getaffinity(0))
    if isinstance(cpus, bool) or not isinstance(cpus, int) or not 1 <= cpus <= len(available):
        raise ValueError(f"cpus must be an integer from 1 to {len(available)}, got {cpus!r}")
    return available[:cpus]


@contextlib.contextmanager
def _pinned(cpus: int | None):
    """Within the block, this process and every process it starts run on ``cpus`` CPUs only.

    The CPU affinity is inherited by the kernel and its children, as ``taskset`` would set it;
    OpenMP, MKL and torch read it and start one thread per CPU. ``PYTHON_CPU_COUNT`` makes
    ``os.cpu_count()`` (which ignores the affinity) agree on Python 3.13 and later.
    """
    if cpus is None:
        yield {}
        return
    chosen, before = _cpu_set(cpus), os.sched_getaffinity(0)
    os.sched_setaffinity(0, chosen)
    try:
        yield {"PYTHON_CPU_COUNT": str(cpus)}
    finally:
        os.sched_setaffinity(0, before)


class _PeakMemory(threading.Thread):
    """Samples the summed memory of this process's children (the kernel and its offspring)."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_mb = 0.0
        self._stop_event = threading.Event()

    def run(self):
        me = psutil.Process()
        while not self._stop_event.is_set():
            total = sum(_memory_mb(child) for child in me.children(recursive=True))
            self.peak_mb = max(self.peak_mb, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak_mb


def run_notebook(
    path, *, smoke: bool, timeout: int = 600, cpus: int | None = None, save_to=None
) -> NotebookRun:
    """Execute a notebook in a fresh kernel, in its own folder, and measure it.

    Args:
        path: the ``.ipynb`` file.
        smoke: set ``MIALAB_SMOKE=1`` in the kernel, shrinking every experiment.
        timeout: seconds allowed for any one cell.
        cpus: pin the kernel and its children to this many CPUs (Linux; Binder gives 1);
            None leaves them on every CPU the runner may use.
        save_to: a folder to write the executed notebook to, outputs and all (created if
            needed); None keeps no copy.

    Returns:
        A :class:`NotebookRun`; the notebook file itself is not modified.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    # The kernel draws figures inline, as a student's does (MPLBACKEND would override that).
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["MIALAB_SMOKE"] = "1" if smoke else "0"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    with _pinned(cpus) as cpu_env:
        sampler = _PeakMemory()
        sampler.start()
        start = time.perf_counter()
        error = None
        try:
            client.execute(env={**env, **cpu_env})
        except Exception as failure:  # a cell error, a timeout or a dead kernel: all reported
            error = f"{type(failure).__name__}: {failure}"
        wall = time.perf_counter() - start
        peak = sampler.stop()
    if save_to is not None:
        Path(save_to).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, Path(save_to) / path.name)
    return NotebookRun(path.name, "smoke" if smoke else "full", wall, peak, error, cpus)


def _format_row(run: NotebookRun) -> str:
    seconds, megabytes = BUDGETS[run.mode]
    status = "error" if run.error else ("ok" if run.within_budget else "OVER BUDGET")
    return (
        f"{run.name:<32} {run.mode:<6} {run.cpus or 'all':>4} {run.wall_s:>7.1f} s"
        f" {run.peak_mb:>8.0f} MB"
        f"   {seconds:>4.0f} s {megabytes:>5.0f} MB   {status}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mialab.course", description=__doc__.split("\n")[0]
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--smoke", action="store_true", help="run with MIALAB_SMOKE=1")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument(
        "--cpus",
        type=int,
        metavar="N",
        help="pin each kernel and its children to N CPUs (Binder gives 1); default: all",
    )
    parser.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="write the executed notebooks, with outputs, to DIR",
    )
    parser.add_argument(
        "--student", type=Path, metavar="DIR", help="write student copies into DIR; run nothing"
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(Path("notebooks").glob("*.ipynb"))
    if not paths:
        parser.error("no notebooks found; run from the repository root or name them")
    if args.student:
        args.student.mkdir(parents=True, exist_ok=True)
        for path in paths:
            nbformat.write(student_copy(path), args.student / path.name)
        print(f"{len(paths)} student copies written to {args.student}/")
        return 0
    if args.cpus is not None:
        try:
            _cpu_set(args.cpus)
        except ValueError as problem:
            parser.error(str(problem))
    header = f"{'notebook':<32} {'mode':<6} {'cpus':>4} {'wall':>9} {'peak mem':>11}"
    print(f"{header}   {'budget':>14}   status")
    failed = False
    for path in paths:
        run = run_notebook(
            path, smoke=args.smoke, timeout=args.timeout, cpus=args.cpus, save_to=args.save
        )
        print(_format_row(run), flush=True)
        if run.error:
            last_line = [line for line in run.error.splitlines() if line.strip()][-1]
            print(f"    {last_line[:300]}")
        failed |= bool(run.error) or not run.within_budget
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
