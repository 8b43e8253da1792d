"""The bad-input probe shared by the `test_probe_*` modules.

Each probe module lists, per public callable, a valid call and the arguments to spoil. The probe
then calls the callable once per bad value and asserts one of two outcomes only: it returns
normally (for the valid variants), or it raises ``ValueError``/``TypeError`` whose message names
the argument. Anything else (an error from deep inside numpy/torch, NaN output, a hang) fails.

Every module also adds the callables it covers to its ``PROBED`` set; ``test_probe_coverage``
checks that together they cover every public callable of mialab.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

# Numbers no hyperparameter should accept (add 0 / negatives where the argument is positive).
BAD_NUMBERS = (math.nan, math.inf, -math.inf, "1", None, [1.0])
# Values that overflow float32: fine as float64 input, but not once cast for a float32 model.
OVERFLOW = 1e300


def bad_arrays(valid: np.ndarray) -> dict[str, object]:
    """Spoiled versions of a valid numeric array, keyed by what is wrong with them."""
    valid = np.asarray(valid)
    spoiled = {
        "empty": valid[:0],
        "one more dimension": valid[None],
        "strings": valid.astype(str),
        "objects": np.array([object()] * len(valid), dtype=object),
        "None": None,
        "a string": "abc",
    }
    if valid.ndim > 1:
        spoiled["one dimension less"] = valid.reshape(len(valid), -1)[:, 0]
    if np.issubdtype(valid.dtype, np.floating):
        for name, value in (("NaN", np.nan), ("inf", np.inf), ("-inf", -np.inf)):
            array = valid.copy()
            array.flat[0] = value
            spoiled[name] = array
    return spoiled


def valid_variants(valid: np.ndarray) -> dict[str, object]:
    """The same values in the other containers and dtypes a user may reasonably pass."""
    valid = np.asarray(valid)
    variants = {"list": valid.tolist(), "tensor": torch.as_tensor(valid)}
    if np.issubdtype(valid.dtype, np.floating):
        variants["float32"] = valid.astype(np.float32)
    if valid.ndim == 1:
        variants["Series"] = pd.Series(valid)
    return variants


def assert_rejects(func, argument: str, *args, **kwargs) -> None:
    """``func(*args, **kwargs)`` raises ValueError or TypeError whose message names ``argument``."""
    with pytest.raises((ValueError, TypeError)) as caught:
        func(*args, **kwargs)
    message = str(caught.value)
    assert argument in message, (
        f"{getattr(func, '__qualname__', func)} rejected bad {argument!r} with a message that "
        f"does not name it: {type(caught.value).__name__}: {message}"
    )


def assert_accepts(func, *args, **kwargs):
    """``func(*args, **kwargs)`` returns, and any float array it returns has no infinities."""
    out = func(*args, **kwargs)
    if isinstance(out, np.ndarray) and np.issubdtype(out.dtype, np.floating):
        assert not np.isinf(out).any(), f"{func.__qualname__} returned infinite values"
    return out
