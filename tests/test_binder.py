"""Binder's start script gives torch one thread per CPU of the session's quota."""

import os
import subprocess
from pathlib import Path

import pytest

START = Path(__file__).parents[1] / "binder" / "start"


def threads_seen(**env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("CPU_LIMIT", "OMP_NUM_THREADS")}
    done = subprocess.run(
        ["bash", str(START), "bash", "-c", 'echo "${OMP_NUM_THREADS:-unset}"'],
        env=clean | env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize(("limit", "threads"), [("1.0", "1"), ("0.5", "1"), ("2.5", "2")])
def test_the_quota_sets_the_thread_count(limit, threads):
    assert threads_seen(CPU_LIMIT=limit) == threads


def test_without_a_quota_or_with_a_choice_made_nothing_changes():
    assert threads_seen() == "unset"
    assert threads_seen(CPU_LIMIT="junk") == "unset"
    assert threads_seen(CPU_LIMIT="1.0", OMP_NUM_THREADS="3") == "3"
