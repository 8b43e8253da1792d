"""Defenses that wrap training: federated learning (lesson 04), differential privacy (lesson 05).

Each module needs an extra (``federated``: Flower), so each is imported on first use:
``ml.defenses.federated.run_federated(...)``.
"""

import importlib

__all__ = ["federated"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"mialab.defenses.{name}")
    raise AttributeError(f"module 'mialab.defenses' has no attribute {name!r}")
