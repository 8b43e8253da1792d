"""Benchmark: the time ``import mialab`` adds to ``import torch``, median of several fresh runs.

    make bench     # or: .venv/bin/python tests/benchmarks/bench_import.py [--runs 5]

Each import runs in a fresh interpreter (``python -c``), timed inside it, so interpreter start-up
is not counted; the runs of all targets are interleaved, so a busy moment of the machine hits
them alike. ``import mialab`` loads submodules on first use: the lines below it show what the
first use of each costs from a fresh interpreter. The target is ``import mialab`` at most 0.3 s
above ``import torch``.
"""

import argparse
import os
import statistics
import subprocess
import sys

TARGETS = (
    "torch",
    "mialab",
    "mialab.attacks.threshold",
    "mialab.attacks",
    "mialab.metrics",
    "mialab.training",
    "mialab.audit",
)
BUDGET_S = 0.3


def import_seconds(module: str) -> tuple[float, bool]:
    """Seconds ``import module`` takes in a fresh interpreter, and whether torch got loaded."""
    code = (
        "import time; t = time.perf_counter(); "
        f"import {module}; print(time.perf_counter() - t); "
        "import sys; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"import {module} failed:\n{out.stderr}")
    seconds, torch_loaded = out.stdout.split()
    return float(seconds), torch_loaded == "True"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    for module in TARGETS:  # warm-up: the first imports read the files from disk
        import_seconds(module)
    times = {module: [] for module in TARGETS}
    loads_torch = {}
    for _ in range(args.runs):
        for module in TARGETS:
            seconds, loads_torch[module] = import_seconds(module)
            times[module].append(seconds)

    print(f"usable cores: {len(os.sched_getaffinity(0))}; {args.runs} runs after a warm-up")
    print(f"{'import':<28}{'median s':>10}{'range s':>16}{'vs torch':>10}  loads torch")
    torch_s = statistics.median(times["torch"])
    for module in TARGETS:
        median = statistics.median(times[module])
        spread = f"{min(times[module]):.2f}–{max(times[module]):.2f}"
        print(
            f"{module:<28}{median:>10.2f}{spread:>16}{median - torch_s:>+10.2f}  "
            f"{'yes' if loads_torch[module] else 'no'}"
        )
    extra = statistics.median(times["mialab"]) - torch_s
    verdict = "within" if extra <= BUDGET_S else "OVER"
    print(f"import mialab − import torch = {extra:+.2f} s: {verdict} the {BUDGET_S} s budget")


if __name__ == "__main__":
    main()
