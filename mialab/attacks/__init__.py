"""Membership inference attacks. Every attack yields scores: higher = more likely a member.

Stateless attacks are functions of a model's outputs; attacks that learn from reference or
shadow models are classes with ``fit(...)`` (returns the attack) and ``score(...)``.

Example:
    >>> import numpy as np
    >>> from mialab import attacks
    >>> attacks.loss_score(np.array([[3.0, 0.0]]), np.array([0])).shape
    (1,)
"""

from mialab.attacks.generative import (
    co_membership_score,
    domias_score,
    gan_leaks_score,
    latent_reconstruction_score,
    logan_score,
    monte_carlo_score,
)
from mialab.attacks.label_only import (
    QueryCounter,
    augmentation_score,
    boundary_distance,
    gap_score,
    mask_confidences,
)
from mialab.attacks.language import (
    exposure,
    exposure_estimate,
    lm_loss_score,
    min_k_score,
    reference_score,
    zlib_score,
)
from mialab.attacks.reference import RMIA, LiRA, lira_statistic
from mialab.attacks.shadow import ShadowModelAttack
from mialab.attacks.threshold import (
    confidence_score,
    entropy_score,
    loss_score,
    modified_entropy_score,
)
from mialab.attacks.update import loss_decrease_score

__all__ = [
    "loss_score",
    "confidence_score",
    "entropy_score",
    "modified_entropy_score",
    "LiRA",
    "RMIA",
    "lira_statistic",
    "ShadowModelAttack",
    "gap_score",
    "augmentation_score",
    "boundary_distance",
    "mask_confidences",
    "QueryCounter",
    "logan_score",
    "gan_leaks_score",
    "latent_reconstruction_score",
    "co_membership_score",
    "monte_carlo_score",
    "domias_score",
    "loss_decrease_score",
    "lm_loss_score",
    "zlib_score",
    "reference_score",
    "min_k_score",
    "exposure",
    "exposure_estimate",
]
