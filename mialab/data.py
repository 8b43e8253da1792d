"""Datasets of the course and the membership split every experiment starts from.

Nothing is downloaded: ``digits`` and ``breast_cancer`` ship inside scikit-learn (see
``data/README.md`` for their datasheets). Lesson 00 explains the split.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mialab import _clinical_notes
from mialab._checks import (
    RECORD_DIMS,
    float_array,
    int_labels,
    int_pair,
    positive_int,
    positive_number,
    same_length,
    seed_value,
    to_numpy,
)

if TYPE_CHECKING:
    import pandas

__all__ = [
    "Dataset",
    "MembershipSplit",
    "arrays",
    "features",
    "load",
    "load_notes",
    "membership_labels",
    "membership_split",
    "partition",
    "shifted",
    "DATASETS",
]

#: The names :func:`load` takes.
DATASETS = ("digits", "breast_cancer")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Records ``X`` (float32, one row each) with integer class labels ``y``.

    Example:
        >>> ds = load("digits")
        >>> ds.X.shape, ds.y.shape, ds.n_classes
        ((1797, 64), (1797,), 10)
        >>> len(ds.subset([0, 1, 2]))
        3
    """

    X: np.ndarray
    y: np.ndarray
    name: str
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...] = ()
    description: str = ""
    image_shape: tuple[int, int] | None = None
    n_classes: int = field(init=False)

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {type(self.name).__name__}")
        if not isinstance(self.class_names, (tuple, list)) or not self.class_names:
            raise TypeError(
                f"class_names must be a non-empty tuple of names, got {self.class_names!r}"
            )
        with np.errstate(over="ignore"):  # overflow is refused just below, naming X
            X = float_array(self.X, "X", ndim=2).astype(np.float32)
        if not np.all(np.isfinite(X)):
            raise ValueError(
                "X has values too large for float32 (at most 3.4e38 in absolute value)"
            )
        y = int_labels(self.y, "y", n_classes=len(self.class_names))
        same_length(X=X, y=y)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "n_classes", len(self.class_names))

    @property
    def n_features(self) -> int:
        """The number of features of a record, ``X.shape[1]``."""
        return self.X.shape[1]

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, {len(self)} records, {self.n_features} features, "
            f"{self.n_classes} classes)"
        )

    def subset(self, indices) -> Dataset:
        """The records at ``indices``, as a new Dataset.

        ``indices``: positions in ``[0, len(self))`` (a list, range, array or tensor), a boolean
        mask of length ``len(self)``, or a slice. At least one record must be selected.
        """
        if not isinstance(indices, slice):
            indices = to_numpy(indices, "indices")
            if indices.ndim != 1:
                raise ValueError(f"indices must be 1-D, got shape {indices.shape}")
            if indices.dtype == bool:
                if len(indices) != len(self):
                    raise ValueError(
                        f"indices is a boolean mask of length {len(indices)}, the dataset has "
                        f"{len(self)} records"
                    )
            elif indices.size and not np.issubdtype(indices.dtype, np.integer):
                raise TypeError(f"indices must hold integer positions, got dtype {indices.dtype}")
            elif indices.size and (indices.min() < 0 or indices.max() >= len(self)):
                raise ValueError(
                    f"indices must lie in [0, {len(self)}), got values from {indices.min()} to "
                    f"{indices.max()}"
                )
            indices = indices.astype(bool if indices.dtype == bool else np.int64)
        if len(self.y[indices]) == 0:
            raise ValueError("indices select no records")
        return Dataset(
            self.X[indices],
            self.y[indices],
            name=self.name,
            class_names=self.class_names,
            feature_names=self.feature_names,
            description=self.description,
            image_shape=self.image_shape,
        )


def arrays(data, name: str = "data") -> tuple[np.ndarray, np.ndarray]:
    """Features and labels ``(X, labels)`` of a :class:`Dataset` or of a tuple ``(X, labels)``.

    A Dataset's arrays are returned as they are (already checked when it was built); a tuple's
    are checked: ``X`` finite float64 of shape ``(n, d)`` (or images, ``(n, h, w)`` or
    ``(n, c, h, w)``, for a convolutional model), ``labels`` ints ≥ 0 of shape ``(n,)``.
    Errors name ``"<name> X"`` or ``"<name> labels"``.

    Args:
        data: a :class:`Dataset` or a tuple ``(X, labels)`` of arrays, lists or tensors.
        name: what to call ``data`` in error messages.

    Returns:
        ``(X, labels)`` as numpy arrays.

    Example:
        >>> X, labels = arrays(([[0.0, 1.0], [2.0, 3.0]], [1, 0]))
        >>> X.shape, labels.tolist()
        ((2, 2), [1, 0])
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if isinstance(data, Dataset):
        return data.X, data.y
    if not (isinstance(data, tuple) and len(data) == 2):
        raise TypeError(f"{name} must be a mialab Dataset or a tuple (X, labels)")
    X = float_array(data[0], f"{name} X", ndim=RECORD_DIMS)
    labels = int_labels(data[1], f"{name} labels")
    same_length(**{f"{name} X": X, f"{name} labels": labels})
    return X, labels


def features(data, name: str = "data") -> np.ndarray:
    """Rows ``X`` of a :class:`Dataset`, of a tuple ``(X, labels)`` (labels checked, unused) or
    of an array ``X`` (checked as in :func:`arrays`).

    Example:
        >>> features([[0.0, 1.0]]).shape
        (1, 2)
    """
    if isinstance(data, (Dataset, tuple)):
        return arrays(data, name)[0]
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    return float_array(data, name, ndim=2)


def membership_labels(n_members: int, n_nonmembers: int) -> np.ndarray:
    """``is_member`` of a challenge set listing its members first: ``n_members`` Trues, then
    ``n_nonmembers`` Falses.

    Example:
        >>> membership_labels(2, 1)
        array([ True,  True, False])
    """
    n_members = positive_int(n_members, "n_members")
    n_nonmembers = positive_int(n_nonmembers, "n_nonmembers")
    return np.r_[np.ones(n_members, bool), np.zeros(n_nonmembers, bool)]


def load(name: str) -> Dataset:
    """Load one of the course's datasets, scaled for a small neural network.

    ``digits``: 1,797 handwritten digits, 8×8 pixels scaled from 0–16 to [0, 1].
    ``breast_cancer``: 569 patients (Wisconsin diagnostic), 30 features standardised to mean 0
    and variance 1; label 0 = malignant, 1 = benign. The standardisation uses all 569 records,
    as a data owner publishing a preprocessed table would.

    Args:
        name: ``"digits"`` or ``"breast_cancer"``.

    Returns:
        A :class:`Dataset`.

    Example:
        >>> load("breast_cancer")
        Dataset('breast_cancer', 569 records, 30 features, 2 classes)
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    from sklearn import datasets as sk_datasets  # here: scikit-learn takes seconds to import

    if name == "digits":
        raw = sk_datasets.load_digits()
        return Dataset(
            raw.data / 16.0,
            raw.target,
            name="digits",
            class_names=tuple(str(c) for c in raw.target_names),
            feature_names=tuple(raw.feature_names),
            description="Handwritten digits 0-9, 8x8 grey-level images (UCI / scikit-learn).",
            image_shape=(8, 8),
        )
    if name == "breast_cancer":
        raw = sk_datasets.load_breast_cancer()
        X = (raw.data - raw.data.mean(axis=0)) / raw.data.std(axis=0)
        return Dataset(
            X,
            raw.target,
            name="breast_cancer",
            class_names=tuple(str(c) for c in raw.target_names),
            feature_names=tuple(raw.feature_names),
            description=(
                "Breast tumour biopsies (Wisconsin diagnostic, UCI / scikit-learn): 30 features "
                "of cell nuclei; malignant or benign."
            ),
        )
    raise ValueError(f"name must be one of {DATASETS}, got {name!r}")


NOTES_SHA256 = "186aa5b7227937a5731f15244da8e3ac1eb4311918519cee44dc8ee2b6783824"


def _notes_cache() -> Path:
    """Where ``load_notes()`` keeps the corpus: ``$MIALAB_DATA``, else the user's cache."""
    if os.environ.get("MIALAB_DATA"):
        return Path(os.environ["MIALAB_DATA"]).expanduser() / "clinical_notes.csv"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "mialab" / "clinical_notes.csv"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _generate_notes(path: Path) -> None:
    """Write the corpus to ``path`` only if the generator reproduces the pinned sha256."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _clinical_notes.write(partial)
        digest = _sha256(partial)
        if digest != NOTES_SHA256:
            raise RuntimeError(
                f"the generated notes have sha256 {digest}, expected {NOTES_SHA256}: numpy "
                f"{np.__version__} draws other random numbers than the version lesson 06 was "
                "written with; nothing was written (see data/README.md)"
            )
        os.replace(partial, path)  # atomic: a concurrent reader sees no half-written file
    except OSError as error:
        raise OSError(
            f"cannot write lesson 06's notes to {path} ({error}); "
            "set MIALAB_DATA to a folder you can write to"
        ) from error
    finally:
        if partial.exists():
            partial.unlink()
    print(
        f"mialab: generated {path} (lesson 06's synthetic clinical notes, sha256 checked); "
        "set MIALAB_DATA to keep them elsewhere",
        file=sys.stderr,
    )


def load_notes(path: str | os.PathLike | None = None) -> pandas.DataFrame:
    """Lesson 06's synthetic clinical notes, after checking the file's sha256.

    One row per note: ``id, split, template, date, secret, repeats, text``. ``split`` is
    ``member``, ``nonmember``, ``shifted`` (later dates or another template: the distribution
    shift of lesson 06) or ``canary-reference``. See ``data/README.md``. The corpus is generated
    by a seeded generator, not shipped: the first call writes it to
    ``$MIALAB_DATA/clinical_notes.csv`` (default: ``$XDG_CACHE_HOME/mialab``, else
    ``~/.cache/mialab``) and says so on stderr. Every call checks the pinned sha256 and refuses
    a changed file; it never regenerates one.

    Args:
        path: a copy of the corpus to read instead (never written); ``None`` for the cached one.

    Returns:
        A DataFrame of 3,120 rows.

    Example:
        >>> notes = load_notes()
        >>> len(notes), sorted(notes.split.unique())
        (3120, ['canary-reference', 'member', 'nonmember', 'shifted'])
    """
    if path is None:
        path = _notes_cache()
        if not path.exists():
            _generate_notes(path)
    elif isinstance(path, str | os.PathLike):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"path {path} is not a file; load_notes() without a path generates the notes"
            )
    else:
        raise TypeError(f"path must be a str, a Path or None, got {type(path).__name__}")
    digest = _sha256(path)
    if digest != NOTES_SHA256:
        raise ValueError(
            f"{path} has sha256 {digest}, expected {NOTES_SHA256}: the file was changed after it "
            f"was generated, so lesson 06's numbers would not hold. Delete it; load_notes() "
            f"then writes a fresh copy to {_notes_cache()}"
        )
    import pandas  # here: pandas takes a while to import

    return pandas.read_csv(path, keep_default_na=False)


@dataclass(frozen=True, eq=False)
class MembershipSplit:
    """Three disjoint parts of a dataset for a membership-inference experiment.

    ``members`` train the target model; ``nonmembers`` are drawn from the same distribution but
    never seen by it; ``population`` is data the attacker may use (reference models, calibration).
    """

    members: Dataset
    nonmembers: Dataset
    population: Dataset

    def __post_init__(self):
        for name in ("members", "nonmembers", "population"):
            if not isinstance(getattr(self, name), Dataset):
                raise TypeError(
                    f"{name} must be a mialab Dataset, got {type(getattr(self, name)).__name__}"
                )

    def candidates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Members then non-members as ``(X, y, is_member)``: the attacker's challenge set."""
        X = np.concatenate([self.members.X, self.nonmembers.X])
        y = np.concatenate([self.members.y, self.nonmembers.y])
        return X, y, membership_labels(len(self.members), len(self.nonmembers))

    def __repr__(self) -> str:
        return (
            f"MembershipSplit(members={len(self.members)}, nonmembers={len(self.nonmembers)}, "
            f"population={len(self.population)})"
        )


def membership_split(
    dataset: Dataset, *, n_members: int | None = None, seed: int = 0
) -> MembershipSplit:
    """Split a dataset into target members, non-members and an attacker's population pool.

    Members and non-members have the same size (the membership game of Yeom et al. 2018 draws
    each with probability ½) and the same class balance (stratified); the rest is population.

    Args:
        dataset: a :class:`Dataset`.
        n_members: members (and, equally many, non-members); default a quarter of the data.
        seed: the split's random seed.

    Returns:
        A :class:`MembershipSplit`.

    Example:
        >>> membership_split(load("digits"), seed=0)
        MembershipSplit(members=449, nonmembers=449, population=899)
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a mialab Dataset, got {type(dataset).__name__}")
    seed = seed_value(seed)
    n = len(dataset)
    n_members = n // 4 if n_members is None else positive_int(n_members, "n_members")
    if n_members < dataset.n_classes:
        raise ValueError(
            f"n_members must be at least the number of classes ({dataset.n_classes}) for a "
            f"stratified split, got {n_members}"
        )
    if 2 * n_members > n - dataset.n_classes:
        raise ValueError(
            f"n_members={n_members} leaves too little population: at most "
            f"{(n - dataset.n_classes) // 2} for {n} records"
        )
    from sklearn.model_selection import train_test_split  # here: slow to import

    indices = np.arange(n)
    candidates, population = train_test_split(
        indices, train_size=2 * n_members, stratify=dataset.y, random_state=seed
    )
    members, nonmembers = train_test_split(
        candidates, train_size=n_members, stratify=dataset.y[candidates], random_state=seed
    )
    return MembershipSplit(
        dataset.subset(np.sort(members)),
        dataset.subset(np.sort(nonmembers)),
        dataset.subset(np.sort(population)),
    )


def partition(
    dataset: Dataset,
    n_clients: int,
    *,
    alpha: float | None = None,
    min_size: int = 10,
    seed: int = 0,
) -> list[Dataset]:
    """Split a dataset among ``n_clients`` (hospitals in lesson 04), disjoint and covering it.

    ``alpha=None`` deals the records out at random in equal shares (IID). A number draws, for
    each class, the clients' shares from a Dirichlet(alpha) distribution (Hsu et al. 2019): small
    alpha gives clients of different sizes and case mixes, large alpha approaches IID. Draws
    that leave a client with fewer than ``min_size`` records are redrawn (up to 100 times).

    Args:
        dataset: the records to share out.
        n_clients: number of clients, at least 1.
        alpha: Dirichlet concentration, or None for IID.
        min_size: fewest records a client may get (Dirichlet only).
        seed: seed of the shuffling and the Dirichlet draws.

    Returns:
        One :class:`Dataset` per client.

    Example:
        >>> parts = partition(load("digits"), 3, alpha=0.5, seed=0)
        >>> [len(p) for p in parts], sum(len(p) for p in parts)
        ([430, 649, 718], 1797)
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a mialab Dataset, got {type(dataset).__name__}")
    n_clients = positive_int(n_clients, "n_clients")
    min_size = positive_int(min_size, "min_size")
    rng = np.random.default_rng(seed_value(seed))
    if n_clients * (min_size if alpha is not None else 1) > len(dataset):
        raise ValueError(
            f"n_clients={n_clients} is too many for {len(dataset)} records"
            + (f" with min_size={min_size}" if alpha is not None else "")
        )
    if alpha is None:
        shares = np.array_split(rng.permutation(len(dataset)), n_clients)
        return [dataset.subset(np.sort(share)) for share in shares]
    alpha = positive_number(alpha, "alpha")
    for _ in range(100):
        shares = [[] for _ in range(n_clients)]
        for label in range(dataset.n_classes):
            records = rng.permutation(np.flatnonzero(dataset.y == label))
            cuts = np.cumsum(rng.dirichlet(np.full(n_clients, alpha)))[:-1] * len(records)
            for share, part in zip(shares, np.split(records, cuts.astype(int)), strict=True):
                share.extend(part)
        if min(len(share) for share in shares) >= min_size:
            return [dataset.subset(np.sort(share)) for share in shares]
    raise ValueError(
        f"no Dirichlet(alpha={alpha}) draw in 100 gave every client min_size={min_size} "
        "records; raise alpha or lower min_size"
    )


def shifted(X, shift: tuple[int, int], *, image_shape: tuple[int, int] = (8, 8)) -> np.ndarray:
    """Images (given as flat rows) moved by ``shift = (down, right)`` pixels, zero-filled.

    Querying a model on shifted copies of a record is how LiRA averages over several queries
    (lesson 01).

    Example:
        >>> import numpy as np
        >>> shifted(np.arange(4.0).reshape(1, 4), (0, 1), image_shape=(2, 2))
        array([[0., 0., 0., 2.]])
    """
    X = float_array(X, "X", ndim=2)
    height, width = int_pair(image_shape, "image_shape")
    if X.shape[1] != height * width:
        raise ValueError(f"X must have {height * width} columns for images {image_shape}")
    down, right = int_pair(shift, "shift", positive=False)
    if abs(down) >= height or abs(right) >= width:
        raise ValueError(f"shift must be smaller than the image, got {shift} for {image_shape}")
    images = X.reshape(-1, height, width)
    out = np.zeros_like(images)
    out[:, max(down, 0) : height + min(down, 0), max(right, 0) : width + min(right, 0)] = images[
        :, max(-down, 0) : height + min(-down, 0), max(-right, 0) : width + min(-right, 0)
    ]
    return out.reshape(len(X), height * width)
