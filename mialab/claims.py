"""The statements a lesson makes, checked by the run that backs them (every lesson's last cells).

A lesson's text may only claim what its own run measured. Its cell tagged ``claims`` lists each
quantitative statement with the check that supports it; at full size a failed check stops the
run (``python -m mialab.course`` reports it), in smoke mode the experiments are too small to
decide, so the checks are shown but not enforced.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Claims"]


class Claims:
    """A list of statements and whether the run supports each.

    Example:
        >>> claims = Claims(enforce=True)
        >>> claims.check("two is more than one", 2 > 1)
        True
        >>> claims.done()
        ok      two is more than one
        1 of 1 claims hold.
    """

    def __init__(self, *, enforce: bool = True):
        if not isinstance(enforce, (bool, np.bool_)):
            raise TypeError(f"enforce must be True or False, got {enforce!r}")
        self.enforce = bool(enforce)
        self.checked: list[tuple[str, bool]] = []

    def check(self, statement: str, holds) -> bool:
        """Record whether ``statement`` holds; ``holds`` is the result of its test (a bool)."""
        if not isinstance(statement, str) or not statement.strip():
            raise TypeError(f"statement must be a non-empty string, got {statement!r}")
        if not isinstance(holds, (bool, np.bool_)):
            raise TypeError(
                f"holds must be a bool (the result of a comparison), got {type(holds).__name__}: "
                f"{statement!r}"
            )
        self.checked.append((statement, bool(holds)))
        return bool(holds)

    def done(self) -> None:
        """Print every claim; when enforcing, raise ``AssertionError`` naming those that failed."""
        if not self.checked:
            raise ValueError("no claims were checked: call check() for each statement first")
        for statement, holds in self.checked:
            print(f"{'ok' if holds else 'FAILED':<7} {statement}")
        failed = [statement for statement, holds in self.checked if not holds]
        print(f"{len(self.checked) - len(failed)} of {len(self.checked)} claims hold.")
        if failed and self.enforce:
            raise AssertionError("the run does not support: " + "; ".join(failed))
        if failed:
            print("(smoke mode: a small run decides nothing; the full-size run enforces these)")
