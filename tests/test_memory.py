"""Importing mialab makes glibc give freed tensor memory back to the system (mialab/_memory.py):
without it, lesson 06 held 1.3-1.8 GB of freed memory on top of 0.7 GB in use."""

import os
import subprocess
import sys

import pytest

# After a freed 16 MiB block, glibc's default would serve a 4 MiB tensor from the heap.
PROBE = """
import sys
if sys.argv[1] == "mialab":
    import mialab
import torch

def in_heap(address):
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            low, high = (int(x, 16) for x in line.split()[0].split("-"))
            if low <= address < high:
                return True
    return False

freed = torch.ones(2**22)
del freed
block = torch.ones(2**20)
print(in_heap(block.data_ptr()))
"""


def _in_heap(*imports: str) -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *imports], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip() == "True"


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc only",
)
def test_large_tensors_are_mapped_so_freeing_returns_them():
    assert _in_heap("torch only")  # glibc's default: the heap, kept after it is freed
    assert not _in_heap("mialab")  # after import mialab: its own mapping, returned when freed
