"""Empirical privacy audits: lower bounds on ε (``mialab.audit.bounds``) and the one-call
audit of a model (``mialab.audit.report``).

Example:
    >>> import mialab as ml
    >>> ml.audit.clopper_pearson(0, 10, alpha=0.05)[0]
    0.0
"""

from mialab.audit.bounds import canary_epsilon_lower_bound, clopper_pearson, epsilon_lower_bound
from mialab.audit.report import AuditReport, audit_model

__all__ = [
    "AuditReport",
    "audit_model",
    "canary_epsilon_lower_bound",
    "clopper_pearson",
    "epsilon_lower_bound",
]
