"""Every course notebook: committed clean, with its parameters cell, Binder badge, exercises and
solutions; it runs top to bottom in a fresh kernel in smoke mode (MIALAB_SMOKE=1) with its
exercises left undone, and its solution cells pass their own checks and bind no name, so that the
student copy (solutions left out) runs as well."""

import importlib
import os
import re
from pathlib import Path

import nbformat
import pytest

from mialab.course import binder_badge, run_notebook, structure_problems, student_copy

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_the_course_has_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_structure(path):
    assert structure_problems(path) == []


@pytest.mark.notebook
@pytest.mark.xdist_group("lessons")  # with the website's tests, which reuse these runs
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_runs_in_smoke_mode_with_its_exercises_left_undone(path, smoke_runs):
    """Exercises left undone must not break later cells. The run is the one the website test
    builds from (solutions included); the student copy differs only by the solution cells,
    which bind no name (below), so it runs too."""
    run = smoke_runs(path)
    assert run.error is None, run.error
    print(f"{path.name}: {run.wall_s:.1f} s, peak {run.peak_mb:.0f} MB (smoke mode)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solution_cells_pass_bind_no_name_and_are_left_out_of_the_student_copy(path):
    cells = nbformat.read(path, as_version=4).cells
    solutions = [c for c in cells if "solution" in c.metadata.get("tags", [])]
    for cell in solutions:  # each needs only its lesson's exercise module
        (lesson,) = set(re.findall(r"\b(lesson\d\d)\.", cell.source))
        namespace = {lesson: importlib.import_module(f"mialab.exercises.{lesson}")}
        exec(cell.source, namespace)
        bound = set(namespace) - {lesson, "__builtins__"}
        assert not bound, f"a solution cell binds {sorted(bound)}, which the student copy lacks"
    student = student_copy(path).cells
    assert len(student) == len(cells) - len(solutions)
    assert not any(re.search(r"\.solution\(\)", c.source) for c in student if c.cell_type == "code")


def _notebook(tmp_path, cells, name="99_toy.ipynb"):
    nb = nbformat.v4.new_notebook(cells=cells)
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_structure_check_catches_each_problem(tmp_path):
    badge = nbformat.v4.new_markdown_cell(binder_badge("99_toy.ipynb"))
    params = nbformat.v4.new_code_cell("SMOKE = False", metadata={"tags": ["parameters"]})
    solution = {"tags": ["solution"]}
    claims = nbformat.v4.new_code_cell("claims.done()", metadata={"tags": ["claims"]})
    exercises = [
        nbformat.v4.new_code_cell("q1.check(my_a)"),
        nbformat.v4.new_code_cell("q1.solution()", metadata=solution),
        nbformat.v4.new_code_cell("q2.check(my_b)"),
        nbformat.v4.new_code_cell("q2.solution()", metadata=solution),
        claims,
    ]
    assert structure_problems(_notebook(tmp_path, [badge, params, *exercises])) == []
    assert (
        "tagged 'claims'"
        in structure_problems(_notebook(tmp_path, [badge, params, *exercises[:-1]]))[0]
    )
    assert structure_problems(_notebook(tmp_path, [badge, params, *exercises[:2], claims])) == [
        "has 1 exercise(s) (`...check(my_...)`); a lesson needs 2"
    ]
    assert structure_problems(_notebook(tmp_path, [badge, params, *exercises[:3], claims])) == [
        "2 exercises but 1 cells tagged 'solution'"
    ]

    untagged = nbformat.v4.new_code_cell("SMOKE = False")
    assert (
        "not tagged 'parameters'"
        in structure_problems(_notebook(tmp_path, [badge, untagged, *exercises]))[0]
    )
    wrong_badge = nbformat.v4.new_markdown_cell(binder_badge("00_other.ipynb"))
    assert (
        "Binder badge"
        in structure_problems(_notebook(tmp_path, [wrong_badge, params, *exercises]))[0]
    )
    ran = nbformat.v4.new_code_cell("1", execution_count=1, metadata={"tags": ["parameters"]})
    assert "has outputs" in structure_problems(_notebook(tmp_path, [badge, ran, *exercises]))[0]


def test_runner_reports_errors_time_and_memory(tmp_path):
    ok = _notebook(
        tmp_path,
        [
            nbformat.v4.new_code_cell(
                "import os\n"
                "assert os.environ['MIALAB_SMOKE'] == '1'\n"
                "block = b'x' * (200 * 2**20)  # written to, so it is resident\n"
                "import time; time.sleep(1)  # long enough for several memory samples\n"
                "import matplotlib.pyplot as plt\n"
                "plt.plot([0, 1])"
            )
        ],
        name="ok.ipynb",
    )
    run = run_notebook(ok, smoke=True, save_to=tmp_path / "executed")
    assert run.error is None and run.wall_s > 0
    (executed,) = nbformat.read(tmp_path / "executed" / "ok.ipynb", as_version=4).cells
    assert any("image/png" in output.get("data", {}) for output in executed.outputs)  # inline
    assert nbformat.read(ok, as_version=4).cells[0].execution_count is None  # left as it was
    assert run.peak_mb > 200  # the kernel held the 200 MB block
    broken = _notebook(tmp_path, [nbformat.v4.new_code_cell("1 / 0")], name="broken.ipynb")
    assert "ZeroDivisionError" in run_notebook(broken, smoke=False).error


def test_a_failed_claim_fails_the_full_size_run_only(tmp_path):
    cell = (
        "import os\n"
        "import mialab as ml\n"
        "SMOKE = os.environ['MIALAB_SMOKE'] == '1'\n"
        "claims = ml.claims.Claims(enforce=not SMOKE)\n"
        "claims.check('the attack beats chance', 0.49 > 0.5)\n"
        "claims.done()"
    )
    path = _notebook(tmp_path, [nbformat.v4.new_code_cell(cell)], name="claims.ipynb")
    assert run_notebook(path, smoke=True).error is None
    error = run_notebook(path, smoke=False).error
    assert "AssertionError" in error and "the attack beats chance" in error


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_runner_pins_the_kernel_and_its_children_to_the_cpus_asked(tmp_path):
    check = (
        "import os, subprocess, sys\n"
        "assert len(os.sched_getaffinity(0)) == 1, os.sched_getaffinity(0)\n"
        "child = 'import os; print(len(os.sched_getaffinity(0)))'\n"
        "assert subprocess.check_output([sys.executable, '-c', child]).strip() == b'1'"
    )
    path = _notebook(tmp_path, [nbformat.v4.new_code_cell(check)], name="pinned.ipynb")
    before = os.sched_getaffinity(0)
    run = run_notebook(path, smoke=True, cpus=1)
    assert run.error is None, run.error
    assert run.cpus == 1 and os.sched_getaffinity(0) == before  # the runner is unpinned after
    if len(before) > 1:  # without cpus, the kernel keeps every CPU the runner has
        assert "AssertionError" in run_notebook(path, smoke=True).error
    with pytest.raises(ValueError, match="cpus"):
        run_notebook(path, smoke=True, cpus=len(before) + 1)
