"""Every course notebook: committed clean, with its parameters cell and Binder badge, and runs
top to bottom in a fresh kernel in smoke mode (MIALAB_SMOKE=1)."""

from pathlib import Path

import nbformat
import pytest

from mialab.course import binder_badge, run_notebook, structure_problems

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_the_course_has_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_structure(path):
    assert structure_problems(path) == []


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_in_smoke_mode(path):
    run = run_notebook(path, smoke=True, timeout=300)
    assert run.error is None, run.error
    print(f"{path.name}: {run.wall_s:.1f} s, peak {run.peak_mb:.0f} MB (smoke mode)")


def _notebook(tmp_path, cells, name="99_toy.ipynb"):
    nb = nbformat.v4.new_notebook(cells=cells)
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_structure_check_catches_each_problem(tmp_path):
    badge = nbformat.v4.new_markdown_cell(binder_badge("99_toy.ipynb"))
    params = nbformat.v4.new_code_cell("SMOKE = False", metadata={"tags": ["parameters"]})
    assert structure_problems(_notebook(tmp_path, [badge, params])) == []

    untagged = nbformat.v4.new_code_cell("SMOKE = False")
    assert (
        "not tagged 'parameters'" in structure_problems(_notebook(tmp_path, [badge, untagged]))[0]
    )
    wrong_badge = nbformat.v4.new_markdown_cell(binder_badge("00_other.ipynb"))
    assert "Binder badge" in structure_problems(_notebook(tmp_path, [wrong_badge, params]))[0]
    ran = nbformat.v4.new_code_cell("1", execution_count=1, metadata={"tags": ["parameters"]})
    assert "has outputs" in structure_problems(_notebook(tmp_path, [badge, ran]))[0]


def test_runner_reports_errors_time_and_memory(tmp_path):
    ok = _notebook(
        tmp_path,
        [
            nbformat.v4.new_code_cell(
                "import os\n"
                "assert os.environ['MIALAB_SMOKE'] == '1'\n"
                "block = b'x' * (200 * 2**20)  # written to, so it is resident\n"
                "import time; time.sleep(1)  # long enough for several memory samples"
            )
        ],
        name="ok.ipynb",
    )
    run = run_notebook(ok, smoke=True)
    assert run.error is None and run.wall_s > 0
    assert run.peak_mb > 200  # the kernel held the 200 MB block
    broken = _notebook(tmp_path, [nbformat.v4.new_code_cell("1 / 0")], name="broken.ipynb")
    assert "ZeroDivisionError" in run_notebook(broken, smoke=False).error
