"""mialab: membership inference attacks and defenses, for a course and for real audits.

Submodules load on first use (PEP 562), so ``import mialab`` costs little more than
``import torch``, and the NumPy-only attacks load without torch at all.

Example:
    >>> import mialab as ml
    >>> ds = ml.data.load("digits")
    >>> split = ml.data.membership_split(ds, seed=0)
    >>> len(split.members) == len(split.nonmembers)
    True
"""

import importlib

from mialab._memory import fix_mmap_threshold

fix_mmap_threshold()  # freed tensors go back to the system (see mialab/_memory.py)

__version__ = "0.1.0"
__all__ = [
    "attacks",
    "audit",
    "claims",
    "data",
    "defenses",
    "exercises",
    "metrics",
    "models",
    "plots",
    "training",
]
# Also loaded on first use, but not in __all__: they need the `course` extra (ipywidgets, nbclient).
_OPTIONAL = ("widgets", "course")


def __getattr__(name):
    if name in __all__ or name in _OPTIONAL:
        return importlib.import_module(f"mialab.{name}")
    raise AttributeError(f"module 'mialab' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
