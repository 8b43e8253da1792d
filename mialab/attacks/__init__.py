"""Membership inference attacks. Every attack yields scores: higher = more likely a member.

Stateless attacks are functions ``<idea>_score(...)`` of a model's outputs; attacks that learn
from reference or shadow models are classes with ``fit(reference_logits, reference_in_mask,
labels)`` (returns the attack) and ``score_samples(logits)`` (the per-record scores).

Each name is imported from its submodule on first use, so the NumPy-only attacks (threshold,
reference, shadow, label-only scores, language) load without torch.

Example:
    >>> import numpy as np
    >>> from mialab import attacks
    >>> attacks.loss_score(np.array([[3.0, 0.0]]), np.array([0])).shape
    (1,)
"""

import importlib

# Every public name, and the submodule (one per family of attacks) that defines it.
_SUBMODULE_OF = {
    "loss_score": "threshold",
    "confidence_score": "threshold",
    "entropy_score": "threshold",
    "modified_entropy_score": "threshold",
    "LiRA": "reference",
    "RMIA": "reference",
    "lira_statistic": "reference",
    "lira_score": "reference",
    "ShadowModelAttack": "shadow",
    "gap_score": "label_only",
    "augmentation_score": "label_only",
    "boundary_distance_score": "label_only",
    "mask_confidences": "label_only",
    "QueryCounter": "label_only",
    "logan_score": "generative",
    "gan_leaks_score": "generative",
    "latent_reconstruction_score": "generative",
    "co_membership_score": "generative",
    "monte_carlo_score": "generative",
    "domias_score": "generative",
    "diffusion_loss_score": "diffusion",
    "secmi_score": "diffusion",
    "pia_score": "diffusion",
    "extraction_ratio": "extraction",
    "extracted": "extraction",
    "loss_decrease_score": "update",
    "lm_loss_score": "language",
    "lm_zlib_score": "language",
    "lm_reference_score": "language",
    "lm_min_k_score": "language",
    "lm_min_k_plus_plus_score": "language",
    "exposure": "language",
    "exposure_estimate": "language",
}
_SUBMODULES = frozenset(_SUBMODULE_OF.values())

__all__ = list(_SUBMODULE_OF)


def __getattr__(name: str):
    if name in _SUBMODULE_OF:
        module = importlib.import_module(f"{__name__}.{_SUBMODULE_OF[name]}")
        value = getattr(module, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
