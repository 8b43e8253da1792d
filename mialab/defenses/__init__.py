"""Defenses that wrap training: federated learning (lesson 04), differential privacy (lesson 05).

Each is imported on first use (``federated`` needs Flower, the ``federated`` extra):
``ml.defenses.dp.fit_private(...)``, ``ml.defenses.federated.run_federated(...)``.
"""

import importlib

__all__ = ["dp", "federated"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"mialab.defenses.{name}")
    raise AttributeError(f"module 'mialab.defenses' has no attribute {name!r}")
