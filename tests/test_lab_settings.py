"""`make` installs JupyterLab settings that fetch no news and check for no update."""

import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).parents[1]
LAB = Path(sys.prefix) / "share" / "jupyter" / "lab"
PLUGIN = "@jupyterlab/apputils-extension:notification"


@pytest.fixture
def overrides():
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("the override is installed into the .venv that `make` creates")
    return json.loads((LAB / "settings" / "overrides.json").read_text())


def test_the_venv_has_the_settings_override_and_it_turns_the_requests_off(overrides):
    assert overrides == json.loads((ROOT / "binder" / "overrides.json").read_text())
    assert overrides[PLUGIN]["fetchNews"] == "false"  # "Never"; the default "none" asks
    assert overrides[PLUGIN]["checkForUpdates"] is False


def test_every_overridden_setting_is_one_the_installed_jupyterlab_knows(overrides):
    # The schema forbids unknown keys: a renamed setting fails here instead of being ignored.
    for plugin, settings in overrides.items():
        package, name = plugin.split(":")
        schema = json.loads((LAB / "schemas" / package / f"{name}.json").read_text())
        jsonschema.validate(settings, schema)


def test_the_readme_shows_the_same_override_for_other_environments():
    readme = (ROOT / "README.md").read_text()
    shown = re.findall(r"```json\n(.*?)```", readme, flags=re.S)
    assert [json.loads(block) for block in shown] == [
        json.loads((ROOT / "binder" / "overrides.json").read_text())
    ]
