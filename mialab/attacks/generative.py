"""Attacks on generative models and synthetic data, from released samples (lesson 03).

The attacker holds candidate records ``X`` ``(n, d)`` and ``samples`` ``(m, d)`` of the
generator (a published synthetic dataset, or samples it drew); some attacks also use
``reference_samples`` ``(k, d)``: real records from the same distribution, or a reference
generator's samples. A generator that memorised its training records puts samples close to
them, and that is what each score measures, in its own way. Higher score = more likely a member.

Distances and densities lose their meaning in many raw features (and a kernel density is
undefined where features are constant, as digits' blank corner pixels). The sample-based
attacks, :func:`gan_leaks_score`, :func:`monte_carlo_score` and :func:`domias_score`, therefore
take ``projection=``: any fitted object with a ``.transform`` method, such as scikit-learn's
``PCA`` fitted by the caller on held-out records (none of them candidates). It is applied to the
candidates, the samples and the reference samples alike, and the attack runs on its output.
None, the default, compares the raw features.

Example:
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> rng = np.random.default_rng(0)
    >>> X, samples = rng.normal(size=(5, 8)), rng.normal(size=(50, 8))
    >>> pca = PCA(n_components=2).fit(rng.normal(size=(100, 8)))  # held-out records
    >>> scores = gan_leaks_score(X, samples, projection=pca)
    >>> bool(np.allclose(scores, gan_leaks_score(pca.transform(X), pca.transform(samples))))
    True
"""

from __future__ import annotations

import numpy as np
from scipy.stats import gaussian_kde
from sklearn.neighbors import NearestNeighbors

from mialab._checks import float_array, positive_int, positive_number, seed_value, to_numpy

__all__ = [
    "logan_score",
    "gan_leaks_score",
    "latent_reconstruction_score",
    "co_membership_score",
    "monte_carlo_score",
    "domias_score",
]


def _records(X, others: dict, projection=None) -> tuple[np.ndarray, dict]:
    """X and the named sample sets as float64 2-D arrays with one shared feature dimension,
    passed through ``projection.transform`` when a projection is given."""
    X = float_array(X, "X", ndim=2)
    checked = {}
    for name, value in others.items():
        array = float_array(value, name, ndim=2)
        if array.shape[1] != X.shape[1]:
            raise ValueError(
                f"{name} must have the same {X.shape[1]} features as X, got {array.shape[1]}"
            )
        checked[name] = array
    if projection is None:
        return X, checked
    if isinstance(projection, type) or not callable(getattr(projection, "transform", None)):
        raise TypeError(
            "projection must be None or a fitted object with a transform method, e.g. "
            "sklearn.decomposition.PCA(n_components=10).fit(held_out), got "
            f"{projection!r:.80}"
        )
    X = _projected(projection, X, "X")
    checked = {name: _projected(projection, array, name) for name, array in checked.items()}
    for name, array in checked.items():
        if array.shape[1] != X.shape[1]:
            raise ValueError(
                f"projection.transform gave {name} {array.shape[1]} columns and X "
                f"{X.shape[1]}: it must map every set to the same space"
            )
    return X, checked


def _projected(projection, array: np.ndarray, name: str) -> np.ndarray:
    """``projection.transform(array)``, checked: finite, 2-D, one row per row of ``array``."""
    try:
        out = projection.transform(array)
    except (ValueError, TypeError, AttributeError) as error:  # e.g. not fitted, another width
        raise ValueError(f"projection.transform failed on {name}: {error}") from None
    out = float_array(out, f"projection.transform({name})", ndim=2)
    if len(out) != len(array):
        raise ValueError(
            f"projection.transform({name}) must keep one row per row of {name}, "
            f"{len(array)}; got {len(out)}"
        )
    return out


def logan_score(discriminator, X) -> np.ndarray:
    """LOGAN, white-box (Hayes et al. 2019): the released discriminator's output on each record.

    A discriminator that overfits scores its training records as "more real" than others. (For
    the black-box form, train a GAN of your own on the target's samples and pass its
    discriminator.)

    Args:
        discriminator: a torch module mapping rows to one logit each, or any callable returning
            one score per row.
        X: ``(n, d)`` candidate records.

    Returns:
        float64 scores of shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> logan_score(lambda X: X.sum(axis=1), np.array([[1.0, 2.0], [0.0, 0.0]]))
        array([3., 0.])
    """
    import torch

    X = float_array(X, "X", ndim=2)
    if not callable(discriminator):
        raise TypeError("discriminator must be a torch module or a callable returning scores")
    if isinstance(discriminator, torch.nn.Module):
        dtype = next(discriminator.parameters()).dtype
        was_training = discriminator.training
        discriminator.eval()
        try:
            with torch.no_grad():
                values = discriminator(torch.as_tensor(X, dtype=dtype)).double().numpy()
        except RuntimeError as error:  # e.g. a first layer of another width
            raise ValueError(
                f"discriminator could not be applied to X ({X.shape[1]} features): {error}"
            ) from None
        finally:
            discriminator.train(was_training)
    else:
        values = to_numpy(discriminator(X), "discriminator(X)")
    values = np.asarray(values)
    if values.shape not in ((len(X),), (len(X), 1)):
        raise ValueError(
            f"discriminator(X) must give one score per row, shape ({len(X)},); got {values.shape}"
        )
    return float_array(values.reshape(-1), "discriminator(X)", ndim=1)


def _nearest_distance(X: np.ndarray, samples: np.ndarray) -> np.ndarray:
    return NearestNeighbors(n_neighbors=1).fit(samples).kneighbors(X)[0][:, 0]


def gan_leaks_score(X, samples, *, reference_samples=None, projection=None) -> np.ndarray:
    """GAN-Leaks, full black-box (Chen et al. 2020): minus the distance to the nearest sample.

    L(x) = min_i ‖x - g_i‖₂ over the generated samples g_i; the score is -L(x). Calibrated, with
    samples of a reference generator trained on other data from the same distribution, it is
    -(L_target(x) - L_reference(x)): a record that is close to *every* generator's samples (a
    typical record) no longer looks like a member.

    Args:
        X: ``(n, d)`` candidate records.
        samples: ``(m, d)`` samples of the target generator.
        reference_samples: ``(k, d)`` samples of a reference generator, or None.
        projection: a fitted transformer applied to every set first (any object
            with ``.transform``, e.g. a PCA fitted on held-out records), or None for the raw
            features.

    Returns:
        float64 scores of shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> gan_leaks_score(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[0.0, 1.0]]))
        array([-1.        , -4.24264069])
    """
    others = {"samples": samples}
    if reference_samples is not None:
        others["reference_samples"] = reference_samples
    X, checked = _records(X, others, projection)
    score = -_nearest_distance(X, checked["samples"])
    if reference_samples is not None:
        score += _nearest_distance(X, checked["reference_samples"])
    return score


def _reconstruction_distance(generator, X, *, steps, restarts, lr, seed) -> np.ndarray:
    """min over restarts of ‖x - G(z*)‖₂, z* found by Adam on ‖x - G(z)‖² from random starts."""
    import torch

    from mialab.models import latent_dim  # models are upstream of attacks

    steps = positive_int(steps, "steps")
    restarts = positive_int(restarts, "restarts")
    lr, seed = positive_number(lr, "lr"), seed_value(seed)
    if not isinstance(generator, torch.nn.Module):
        raise TypeError("generator must be a torch module mapping noise to rows")
    noise_width = latent_dim(generator)
    dtype = next(generator.parameters()).dtype
    with torch.no_grad():
        width = tuple(generator(torch.zeros(2, noise_width, dtype=dtype)).shape[1:])
    if width != (X.shape[1],):
        raise ValueError(
            f"the records must have the generator's {width} output features, got "
            f"{X.shape[1]} (X or record_sets)"
        )
    target = torch.as_tensor(X, dtype=dtype).repeat(restarts, 1)  # restart-major rows
    noise = torch.Generator().manual_seed(seed)
    start = torch.randn(len(target), noise_width, generator=noise).to(dtype)
    z = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    was_training = generator.training
    generator.eval()
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    try:
        for _ in range(steps):
            optimizer.zero_grad()
            ((generator(z) - target) ** 2).sum().backward()
            optimizer.step()
        with torch.no_grad():
            distance = torch.linalg.vector_norm(generator(z) - target, dim=1)
    finally:
        for parameter in generator.parameters():
            parameter.requires_grad_(True)
        generator.train(was_training)
    return distance.view(restarts, len(X)).min(dim=0).values.double().numpy()


def latent_reconstruction_score(
    generator, X, *, steps: int = 300, restarts: int = 3, lr: float = 0.05, seed: int = 0
) -> np.ndarray:
    """GAN-Leaks, partial black-box (Chen et al. 2020): how well the generator can reproduce x.

    With access to the generator's input, the attacker searches the latent space for the code
    that reconstructs x best, z* = argmin_z ‖x - G(z)‖² (gradient descent from ``restarts``
    random starts), and scores -‖x - G(z*)‖₂. A generator reproduces its training records more
    faithfully than unseen ones.

    Args:
        generator: a torch module mapping ``(batch, latent_dim)`` noise to rows.
        X: ``(n, d)`` candidate records.
        steps, restarts, lr: the latent search (Adam).
        seed: seed of the starting codes.

    Returns:
        float64 scores of shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> generator, _ = models.gan(4, latent_dim=2)
        >>> latent_reconstruction_score(generator, np.zeros((3, 4)), steps=5).shape
        (3,)
    """
    X = float_array(X, "X", ndim=2)
    return -_reconstruction_distance(generator, X, steps=steps, restarts=restarts, lr=lr, seed=seed)


def co_membership_score(
    generator, record_sets, *, steps: int = 300, restarts: int = 3, lr: float = 0.05, seed: int = 0
) -> np.ndarray:
    """Co-membership (Liu et al. 2019): judge a set of records that are all in or all out at once.

    Each record is reconstructed through the generator's latent space, as in
    :func:`latent_reconstruction_score`, and the set's score is minus the mean reconstruction
    distance of its records. Averaging k records' evidence shrinks the noise by about √k, so
    set-level inference is much more reliable than judging records one by one.

    Args:
        generator: a torch module mapping noise to rows.
        record_sets: ``(n_sets, set_size, d)`` records; each set is all members or all not.
        steps, restarts, lr, seed: the latent search.

    Returns:
        float64 scores of shape ``(n_sets,)``; higher = more likely a set of members.

    Example:
        >>> import numpy as np
        >>> from mialab import models
        >>> generator, _ = models.gan(4, latent_dim=2)
        >>> co_membership_score(generator, np.zeros((2, 5, 4)), steps=5).shape
        (2,)
    """
    sets = float_array(record_sets, "record_sets", ndim=3)
    n_sets, size, d = sets.shape
    distance = _reconstruction_distance(
        generator, sets.reshape(n_sets * size, d), steps=steps, restarts=restarts, lr=lr, seed=seed
    )
    return -distance.reshape(n_sets, size).mean(axis=1)


def monte_carlo_score(X, samples, *, radius: float | None = None, projection=None) -> np.ndarray:
    """Monte-Carlo attack (Hilprecht et al. 2019): the share of samples within a radius of a record.

    f(x) = (1/m) Σ_i 1[d(x, g_i) < r]. Distances are Euclidean, in the projection's space when
    one is given (Hilprecht et al. use a PCA fitted on held-out records), else in the raw
    features. By default r is the median, over the candidates, of the distance to their
    nearest sample (the median heuristic), so about half the candidates have at least one
    sample within r. When more than half the candidates have an exact copy among the samples,
    that median is 0 and would score every record 0: r is then the median over the candidates
    without a copy (copies still count, at distance 0 < r).

    Args:
        X: ``(n, d)`` candidate records.
        samples: ``(m, d)`` generated samples.
        radius: radius r of the ball, in the units of the (projected) features; None for the
            median heuristic.
        projection: a fitted transformer applied to X and samples first (any object
            with ``.transform``, e.g. a PCA fitted on held-out records), or None for the raw
            features.

    Returns:
        float64 scores in [0, 1] of shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> monte_carlo_score(np.array([[0.0], [5.0]]), np.array([[0.1], [0.2], [4.0]]),
        ...                   radius=0.5)
        array([0.66666667, 0.        ])
    """
    if radius is not None:
        radius = positive_number(radius, "radius")
    X, checked = _records(X, {"samples": samples}, projection)
    samples = checked["samples"]
    if radius is None:
        nearest = _nearest_distance(X, samples)
        radius = float(np.median(nearest))
        if radius == 0:  # most candidates have an exact copy among the samples
            if not (nearest > 0).any():
                raise ValueError(
                    "every candidate in X has an exact copy in samples, so no radius can be "
                    "chosen from the data; give radius"
                )
            radius = float(np.median(nearest[nearest > 0]))
    distances = NearestNeighbors().fit(samples).radius_neighbors(X, radius=radius)[0]
    # radius_neighbors includes distances equal to r; the formula counts strictly closer ones.
    return np.array([np.sum(d < radius) for d in distances], dtype=np.float64) / len(samples)


def domias_score(
    X, samples, *, reference_samples, bandwidth="scott", projection=None
) -> np.ndarray:
    """DOMIAS (van Breugel et al. 2023): log of the density ratio p_G(x) / p_R(x).

    p_G is a Gaussian kernel density estimate of the generated samples, p_R one of reference real
    data from the same distribution (not the training data). A ratio above 1 means the generator
    puts more mass at x than the real distribution does: local overfitting, strongest for
    uncommon records. The logarithm ranks records exactly as the ratio does and cannot
    overflow. Both densities use scipy's ``gaussian_kde`` with the same bandwidth rule.

    Args:
        X: ``(n, d)`` candidate records.
        samples: ``(m, d)`` generated samples, more rows than (projected) features.
        reference_samples: ``(k, d)`` reference records, more rows than (projected) features.
        bandwidth: ``gaussian_kde``'s ``bw_method``: "scott" (n^(-1/(d+4)), the default),
            "silverman", or a positive number (the kernel's scale relative to the data's).
        projection: a fitted transformer applied to every set first (any object
            with ``.transform``, e.g. a PCA fitted on held-out records), or None for the raw
            features. Kernel densities need few dimensions.

    Returns:
        float64 scores of shape ``(n,)``; higher = more likely a member.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> reference = rng.normal(size=(200, 2))
        >>> samples = np.r_[rng.normal(size=(150, 2)), 3 + 0.1 * rng.normal(size=(50, 2))]
        >>> X = np.array([[3.0, 3.0], [0.0, 0.0]])
        >>> scores = domias_score(X, samples, reference_samples=reference)
        >>> bool(scores[0] > scores[1])  # the generator over-represents (3, 3)
        True
    """
    if isinstance(bandwidth, str):
        if bandwidth not in ("scott", "silverman"):
            raise ValueError(f'bandwidth must be "scott", "silverman" or a number: {bandwidth!r}')
    else:
        bandwidth = positive_number(bandwidth, "bandwidth")
    X, checked = _records(
        X, {"samples": samples, "reference_samples": reference_samples}, projection
    )
    for name, array in checked.items():
        if len(array) <= X.shape[1]:
            raise ValueError(
                f"{name} needs more rows ({len(array)}) than features ({X.shape[1]}) for a "
                "kernel density estimate; reduce the dimension first with projection= (e.g. a "
                "PCA fitted on held-out records)"
            )
    densities = {}
    for name, array in checked.items():
        try:
            densities[name] = gaussian_kde(array.T, bw_method=bandwidth)
        except np.linalg.LinAlgError as error:  # e.g. digits' always-blank corner pixels
            raise ValueError(
                f"{name} lies in a lower-dimensional subspace (some features are constant or "
                "linearly dependent), so its kernel density is undefined; pass projection= (e.g. "
                "a PCA fitted on held-out records) to compare X, samples and reference_samples "
                "in fewer dimensions"
            ) from error
    return densities["samples"].logpdf(X.T) - densities["reference_samples"].logpdf(X.T)
