"""A plain (non-editable) install of the wheel works without the repository.

The wheel is built from a copy of the package's sources, installed into a target folder, and
imported in a fresh interpreter that sees that folder and the environment's dependencies but not
the checkout (no site hooks, so the editable install's finder stays out; cwd elsewhere).
"""

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import mialab as ml

ROOT = Path(__file__).parents[1]

LOAD = """
import sys
import mialab
from mialab.data import load_notes

assert mialab.__file__.startswith(sys.argv[1]), mialab.__file__
notes = load_notes()
print(len(notes), sorted(notes.split.unique()))
"""
# The first run also imports every module: the wheel holds the whole package.
EVERY_MODULE = """
import importlib, pkgutil
for module in pkgutil.walk_packages(mialab.__path__, "mialab."):
    importlib.import_module(module.name)
"""


def _pip(*args, cwd):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_installed_wheel_loads_the_notes_without_the_repository(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(
        ROOT / "mialab", source / "mialab", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source)
    offline = ("--no-deps", "--no-index")
    _pip("wheel", *offline, "--no-build-isolation", "-w", "dist", "./source", cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("mialab-*.whl")
    _pip("install", *offline, "--target", "site", str(wheel), cwd=tmp_path)
    assert not list((tmp_path / "site").rglob("*.csv")), "the wheel ships data it can generate"

    cache, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MIALAB_DATA")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), sysconfig.get_path("purelib")])
    env["XDG_CACHE_HOME"] = str(cache)
    site = str(tmp_path / "site")
    args = [sys.executable, "-S", "-c", LOAD + EVERY_MODULE, site]
    first = subprocess.run(args, cwd=elsewhere, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "3120 ['canary-reference', 'member', 'nonmember', 'shifted']" in first.stdout
    written = cache / "mialab" / "clinical_notes.csv"
    assert f"generated {written}" in first.stderr  # says what it did, and where
    assert hashlib.sha256(written.read_bytes()).hexdigest() == ml.data.NOTES_SHA256

    args = [sys.executable, "-S", "-c", LOAD, site]
    again = subprocess.run(args, cwd=elsewhere, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "generated" not in again.stderr, again.stderr
