"""Lesson 06's notes: generated on first use into a cache, checksum enforced on every load."""

import hashlib
from pathlib import Path

import pytest

import mialab as ml

DATASHEET = Path(__file__).parents[1] / "data" / "README.md"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder that load_notes() writes to."""
    monkeypatch.setenv("MIALAB_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_corpus_matches_its_datasheet():
    notes = ml.data.load_notes()
    assert f"`{ml.data.NOTES_SHA256}`" in DATASHEET.read_text()
    counts = notes.split.value_counts()
    assert counts["member"] == 893 and counts["nonmember"] == 778 and counts["shifted"] == 1434
    canaries = notes[notes.secret != ""]
    inserted = canaries[canaries.split == "member"].groupby("secret").size()
    assert sorted(inserted.value_counts().items()) == [(1, 5), (4, 5), (16, 5)]
    assert (canaries[canaries.split == "canary-reference"].repeats == 0).all()
    assert not set(canaries.secret[canaries.split == "canary-reference"]) & set(inserted.index)
    shifted = notes[notes.split == "shifted"]
    assert ((shifted.date >= "2022") | (shifted.template == 3)).all()


def test_first_use_generates_the_pinned_file_and_says_where(cache, capsys):
    notes = ml.data.load_notes()
    written = cache / "clinical_notes.csv"
    assert sha256(written) == ml.data.NOTES_SHA256 and len(notes) == 3120
    assert f"generated {written}" in capsys.readouterr().err
    assert [p.name for p in cache.iterdir()] == ["clinical_notes.csv"]  # no temporary file left
    before = written.stat().st_mtime_ns
    again = ml.data.load_notes()
    assert written.stat().st_mtime_ns == before and "generated" not in capsys.readouterr().err
    assert again.equals(notes)


def test_the_cache_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv("MIALAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ml.data.load_notes()
    assert sha256(tmp_path / "mialab" / "clinical_notes.csv") == ml.data.NOTES_SHA256


def test_a_changed_file_is_refused_and_never_regenerated(cache):
    ml.data.load_notes()
    written = cache / "clinical_notes.csv"
    written.write_bytes(written.read_bytes().replace(b"Anna", b"Anne", 1))
    with pytest.raises(ValueError, match=r"has sha256 .* expected 186aa5b7.*Delete it"):
        ml.data.load_notes()
    with pytest.raises(ValueError, match="has sha256"):
        ml.data.load_notes(written)
    assert b"Anne" in written.read_bytes()  # left as it was, not regenerated


def test_an_explicit_path_is_read_never_written(cache, tmp_path):
    with pytest.raises(FileNotFoundError, match="load_notes\\(\\) without a path generates"):
        ml.data.load_notes(tmp_path / "absent.csv")
    assert not (tmp_path / "absent.csv").exists() and not cache.exists()
    with pytest.raises(TypeError, match="path must be a str, a Path or None"):
        ml.data.load_notes(3)


def test_a_generator_that_drifts_writes_nothing(cache, monkeypatch):
    monkeypatch.setattr(ml._clinical_notes, "SEED", 2027)
    with pytest.raises(RuntimeError, match="expected 186aa5b7.*nothing was written"):
        ml.data.load_notes()
    assert not cache.exists() or not list(cache.iterdir())


def test_an_unwritable_cache_names_the_variable_to_set(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("MIALAB_DATA", str(tmp_path / "file" / "cache"))
    with pytest.raises(OSError, match="set MIALAB_DATA to a folder you can write to"):
        ml.data.load_notes()
