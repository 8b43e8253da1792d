"""Freed tensor memory goes back to the operating system (Linux with glibc; elsewhere a no-op).

glibc serves a large block with ``mmap`` (returned to the system when freed) only above a
threshold that it raises every time such a block is freed, up to 32 MiB. From then on, tensors
of a few MiB come from the heap, which glibc can shrink only down to its highest live block. A
loop whose temporaries grow a little at every step (a language model writing one character at a
time; Opacus' per-example gradients for batches of random size) then leaves hundreds of MB
freed but still resident: lesson 06 peaked at up to 1.9 GB where 0.7 GB were ever in use. A fixed
threshold turns that adjustment off.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 2**20  # blocks of 1 MiB or more: mmap, given back when freed


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Serve blocks of ``threshold`` bytes or more with ``mmap``, so freeing one returns it.

    Leaves an explicit ``MALLOC_MMAP_THRESHOLD_`` in the environment as it is. Returns whether
    the setting took effect (False outside glibc).

    Example:
        >>> from mialab._memory import fix_mmap_threshold
        >>> fix_mmap_threshold() in (True, False)
        True
    """
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):  # musl's mallopt ignores this parameter
            return False
        return bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False
