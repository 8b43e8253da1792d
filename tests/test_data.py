import hashlib
from pathlib import Path

import numpy as np
import pytest
import sklearn

import mialab as ml

DATASHEET = Path(__file__).parents[1] / "data" / "README.md"


@pytest.mark.parametrize(
    ("name", "n", "d", "k"), [("digits", 1797, 64, 10), ("breast_cancer", 569, 30, 2)]
)
def test_load(name, n, d, k):
    ds = ml.data.load(name)
    assert ds.X.shape == (n, d) and ds.y.shape == (n,) and ds.n_classes == k
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert len(ds.feature_names) == d and ds.description


def test_scaling():
    digits = ml.data.load("digits")
    assert digits.X.min() == 0.0 and digits.X.max() == 1.0 and digits.image_shape == (8, 8)
    cancer = ml.data.load("breast_cancer")
    np.testing.assert_allclose(cancer.X.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(cancer.X.std(axis=0), 1, atol=1e-4)


def test_split_is_disjoint_stratified_and_seeded(digits):
    split = ml.data.membership_split(digits, n_members=300, seed=7)
    parts = (split.members, split.nonmembers, split.population)
    assert [len(p) for p in parts] == [300, 300, 1197]
    rows = [{r.tobytes() for r in p.X} for p in parts]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    for part in parts:  # every class in proportion, within one record per class
        share = np.bincount(part.y, minlength=10) / len(part)
        np.testing.assert_allclose(share, np.bincount(digits.y) / len(digits), atol=1.5 / 30)
    again = ml.data.membership_split(digits, n_members=300, seed=7)
    np.testing.assert_array_equal(again.members.X, split.members.X)
    other = ml.data.membership_split(digits, n_members=300, seed=8)
    assert not np.array_equal(other.members.X, split.members.X)
    X, y, is_member = split.candidates()
    assert X.shape == (600, 64) and is_member.sum() == 300 and is_member[:300].all()


def test_bad_arguments(digits):
    with pytest.raises(ValueError, match="name must be one of"):
        ml.data.load("mnist")
    with pytest.raises(TypeError, match="name must be a string"):
        ml.data.load(3)
    with pytest.raises(TypeError, match="dataset must be a mialab Dataset"):
        ml.data.membership_split(digits.X)
    with pytest.raises(ValueError, match="n_members must be at least the number of classes"):
        ml.data.membership_split(digits, n_members=5)
    with pytest.raises(ValueError, match="leaves too little population"):
        ml.data.membership_split(digits, n_members=1000)
    with pytest.raises(TypeError, match="seed must be an int"):
        ml.data.membership_split(digits, seed=0.5)
    with pytest.raises(ValueError, match="lengths differ"):
        ml.data.Dataset(np.zeros((3, 2)), np.zeros(2, int), name="x", class_names=("a", "b"))
    with pytest.raises(ValueError, match="y must lie in"):
        ml.data.Dataset(np.zeros((2, 2)), np.array([0, 2]), name="x", class_names=("a", "b"))


def test_datasheet_checksums_match_the_files_scikit_learn_ships():
    """The datasheet's sha256 of each file must match what scikit-learn installs."""
    sheet = DATASHEET.read_text()
    folder = Path(sklearn.__file__).parent / "datasets" / "data"
    for file in ("digits.csv.gz", "breast_cancer.csv"):
        digest = hashlib.sha256((folder / file).read_bytes()).hexdigest()
        assert f"`{digest}`" in sheet, f"{file}: sha256 {digest} is not in data/README.md"


def test_subset_refuses_indices_that_select_nothing_or_out_of_range(digits):
    small = digits.subset(range(10))
    assert len(small.subset(small.y == small.y[0])) == 1
    assert len(small.subset(slice(2, 5))) == 3
    cases = [
        ([10], ValueError, r"indices must lie in \[0, 10\)"),
        ([-1], ValueError, r"indices must lie in \[0, 10\)"),
        ([0.5], TypeError, "indices must hold integer positions"),
        (np.ones(3, bool), ValueError, "boolean mask of length 3, the dataset has 10"),
        ([], ValueError, "indices select no records"),
    ]
    for indices, error, message in cases:
        with pytest.raises(error, match=message):
            small.subset(indices)


def test_arrays_and_features_check_a_tuple_and_pass_a_dataset_through(digits):
    X, labels = ml.data.arrays(digits)
    assert X is digits.X and labels is digits.y
    X, labels = ml.data.arrays(([[0, 1], [2, 3]], np.array([1, 0], dtype=np.int32)), "pool")
    assert X.dtype == np.float64 and labels.dtype == np.int64 and labels.tolist() == [1, 0]
    assert ml.data.features(digits) is digits.X
    np.testing.assert_array_equal(ml.data.features([[0.5, 1.0]]), [[0.5, 1.0]])
    cases = [
        (lambda: ml.data.arrays(digits.X), TypeError, r"data must be a mialab Dataset or a tuple"),
        (lambda: ml.data.arrays((digits.X, digits.y[:3]), "pool"), ValueError, "pool X has"),
        (lambda: ml.data.arrays((digits.X, digits.y * 0.5)), TypeError, "data labels must hold"),
        (lambda: ml.data.features(np.zeros(3), "data"), ValueError, "data must have 2"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def test_membership_labels_are_members_first(digits):
    is_member = ml.data.membership_labels(3, 2)
    assert is_member.dtype == bool and is_member.tolist() == [True, True, True, False, False]
    split = ml.data.membership_split(digits, n_members=100, seed=0)
    np.testing.assert_array_equal(split.candidates()[2], ml.data.membership_labels(100, 100))
    with pytest.raises(ValueError, match="n_nonmembers must be at least 1"):
        ml.data.membership_labels(3, 0)
