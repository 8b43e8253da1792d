"""The course website (``make site``), built as `make site` builds it, in smoke mode: Sphinx
warnings are errors, and the built HTML is checked page by page.

The lessons come from the session's smoke runs (``smoke_runs``, shared with the notebook tests),
put into the build's jupyter-cache as MyST-NB would have cached them, so the build executes
nothing twice; one lesson is left out of the cache, so that MyST-NB's own execution, in the
environment ``docs/conf.py`` gives the kernel, is built and checked too.
"""

import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import lessons  # docs/lessons.py (tests/conftest.py puts docs/ on the path)
import nbformat
import pytest
from jupyter_cache import get_cache

from mialab.course import BINDER_REPO

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXECUTED_BY_THE_BUILD = "07_audit_your_model.ipynb"  # the quickest lesson with a figure
pytestmark = pytest.mark.xdist_group("lessons")  # in the worker that holds the smoke runs


class Page(HTMLParser):
    """The parts of an HTML page these tests read: ids, links, what it loads, classes, text."""

    def __init__(self, path: Path):
        super().__init__()
        self.ids, self.links, self.images, self.loads, self.classes, self.text = (
            set(), [], [], [], [], [],
        )  # fmt: skip
        self._hidden = 0  # inside <script> or <style>: not text a reader sees
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        self._hidden += tag in ("script", "style")
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        elif tag in ("script", "link") and (attrs.get("src") or attrs.get("href")):
            self.loads.append(attrs.get("src") or attrs["href"])
        self.classes.append(attrs.get("class") or "")

    def handle_endtag(self, tag):
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)


def _cache_the_smoke_runs(smoke_runs, cache: Path):
    """Each lesson but one, executed by the smoke run, into the cache MyST-NB will look in."""
    store = get_cache(str(cache))
    for path in NOTEBOOKS:
        run = smoke_runs(path)
        assert run.error is None, f"{path.name}: {run.error}"
        if path.name == EXECUTED_BY_THE_BUILD:
            continue
        executed = nbformat.read(smoke_runs.executed / path.name, as_version=4)
        for cell in executed.cells:  # the runner's per-cell timings are not part of the cell
            cell.metadata.pop("execution", None)
        copy = cache.parent / "executed" / path.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(executed, copy)
        store.cache_notebook_file(str(copy), uri=path.name, check_validity=False)


@pytest.fixture(scope="session")  # a worker may interleave other modules' tests
def site(smoke_runs, tmp_path_factory):
    """The site, built from a copy of what it is made of: nothing is written into the clone."""
    work = tmp_path_factory.mktemp("site")
    source = work / "source"
    shutil.copytree(
        ROOT / "docs", source / "docs", ignore=shutil.ignore_patterns("notebooks", "api")
    )
    shutil.copytree(ROOT / "notebooks", source / "notebooks")
    (source / "data").mkdir()
    for name in ("README.md", "data/README.md"):
        shutil.copy(ROOT / name, source / name)
    cache = work / "cache" / "smoke"
    _cache_the_smoke_runs(smoke_runs, cache)
    html = work / "build" / "site"
    env = {**os.environ, "MIALAB_SMOKE": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         "-D", f"nb_execution_cache_path={cache}", str(source / "docs"), str(html)],
        capture_output=True, text=True, env=env, timeout=540,
    )  # fmt: skip
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-5000:]
    return html, log


def test_the_build_executes_only_the_lesson_left_out_of_the_cache(site):
    _, log = site
    executed = set(re.findall(r"(\d\d_\w+)\.ipynb: Executing notebook", log))
    cached = set(re.findall(r"(\d\d_\w+)\.ipynb: Using cached notebook", log))
    assert executed == {Path(EXECUTED_BY_THE_BUILD).stem}
    assert cached == {p.stem for p in NOTEBOOKS} - executed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_lesson_page_has_its_figures_folded_solutions_and_no_error(site, path):
    html, _ = site
    page = Page(html / "notebooks" / f"{path.stem}.html")
    nb = nbformat.read(path, as_version=4)
    title = next(c for c in nb.cells if c.cell_type == "markdown").source
    assert re.search(r"^# (.+)$", title, re.M).group(1).strip() in "".join(page.text)
    figures = [src for src in page.images if "_images/" in src or src.startswith("data:image")]
    assert figures, "no figure on the page"
    assert not any("traceback" in c or "output error" in c for c in page.classes)
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    folded = [c for c in page.classes if "tag_solution" in c and "tag_hide-cell" in c]
    text = "".join(page.text)
    assert len(folded) == len(solutions) >= 2
    assert text.count("Show the solution") == len(solutions)
    assert text.count("Show the code that checks each claim") == 1
    # A widget shows as its still or not at all: no progress bar or widget repr as text, and
    # Markdown output (tables) rendered, not shown as its source.
    assert not re.search(r"\d+%\|.*\|\s*\d+/\d+|interactive\(children=|HBox\(children=", text)
    assert not re.search(r"\|\s*:?-{3,}", text)
    assert "widget-state+json" not in (html / "notebooks" / f"{path.stem}.html").read_text()
    binder = f"https://mybinder.org/v2/gh/{BINDER_REPO}/HEAD?urlpath=lab/tree/notebooks/"
    assert binder + path.name in page.links  # launch on Binder
    assert f"../_sources/notebooks/{path.name}" in page.links  # download
    downloaded = nbformat.read(html / "_sources" / "notebooks" / path.name, as_version=4)
    assert [c.source for c in downloaded.cells] == [c.source for c in nb.cells]


def test_the_landing_page_is_the_readme_and_links_every_lesson(site):
    html, _ = site
    page = Page(html / "index.html")
    text = " ".join("".join(page.text).split())
    assert "mialab: membership inference, hands on" in text and "Course map" in text
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}.html" in page.links, path.name
    for name in ("API.html", "reference.html", "datasheet.html", "search.html"):
        assert (html / name).exists()


def _public_modules():
    """mialab and every module reachable through ``__all__`` from it, optional ones included."""
    import mialab

    found, todo = {}, ["mialab", *(f"mialab.{name}" for name in mialab._OPTIONAL)]
    while todo:
        name = todo.pop()
        module = found[name] = importlib.import_module(name)
        todo += [
            f"{name}.{member}"
            for member in getattr(module, "__all__", [])
            if inspect.ismodule(getattr(module, member))
        ]
    return found


def test_every_public_name_of_mialab_is_in_the_api_reference(site):
    html, _ = site
    modules = _public_modules()
    assert len(modules) >= 15 and "mialab.defenses.dp" in modules and "mialab.course" in modules
    missing = []
    for name, module in modules.items():
        page_path = html / "api" / f"{name}.html"
        if not page_path.exists():  # a submodule without a page must be named on its parent's
            parent, _, short = name.rpartition(".")
            if short not in "".join(Page(html / "api" / f"{parent}.html").text):
                missing.append(name)
            continue
        page = Page(page_path)
        for member in module.__all__:
            if not inspect.ismodule(getattr(module, member)) and f"{name}.{member}" not in page.ids:
                missing.append(f"{name}.{member}")
    assert not missing, f"not in the API reference: {missing}"
    documented = Page(html / "api" / "mialab.metrics.html")
    assert "Example" in "".join(documented.text) and ">>>" in "".join(documented.text)


def _pages(html: Path):
    """The site's pages (the theme also leaves HTML templates in _static/)."""
    return [path for path in html.rglob("*.html") if "_static" not in path.relative_to(html).parts]


def test_every_internal_link_resolves(site):
    html, _ = site
    pages = {path: Page(path) for path in _pages(html)}
    broken = []
    for path, page in pages.items():
        for target in page.links + page.images + page.loads:
            parts = urlsplit(target)
            if parts.scheme or target.startswith("//"):
                continue  # http(s), mailto, data: not this site's
            file = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not file.exists():
                broken.append(f"{path.relative_to(html)} -> {target}")
            elif parts.fragment and file.suffix == ".html":
                if parts.fragment not in (pages[file] if file in pages else Page(file)).ids:
                    broken.append(f"{path.relative_to(html)} -> {target} (no such anchor)")
    assert len(pages) > 25 and not broken, broken[:20]


def test_pages_load_nothing_from_elsewhere_but_the_binder_badge(site):
    html, _ = site
    hosts = set()
    for path in _pages(html):
        page = Page(path)
        hosts |= {urlsplit(target).netloc for target in page.loads + page.images}
    assert hosts - {""} == {"mybinder.org"}, hosts
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()  # formulas typeset offline


def test_the_code_fingerprint_ignores_docstrings_and_comments_only(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    module = package / "module.py"
    module.write_text('"""Doc."""\n\n\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    before = lessons.code_fingerprint(package)
    module.write_text('"""Other doc."""\n\n\ndef f(x):  # a comment\n    return x + 1\n')
    assert lessons.code_fingerprint(package) == before
    module.write_text('"""Doc."""\n\n\ndef f(x):\n    return x + 2\n')
    assert lessons.code_fingerprint(package) != before
    assert lessons.cache_folder(smoke=True, cache=tmp_path) != lessons.cache_folder(
        smoke=False, cache=tmp_path
    )


def test_staging_folds_solutions_and_rewrites_only_what_changed(tmp_path):
    sources, staged = tmp_path / "notebooks", tmp_path / "staged"
    sources.mkdir()
    for source in NOTEBOOKS[:2]:
        shutil.copy(source, sources / source.name)
    first, second = lessons.stage(sources, staged)
    nb = nbformat.read(first, as_version=4)
    folded = [c for c in nb.cells if "hide-cell" in c.metadata.get("tags", [])]
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert folded == solutions and "Show the solution" in folded[0].metadata["mystnb"].values()
    os.utime(first, (0, 0))
    (sources / NOTEBOOKS[1].name).unlink()
    assert lessons.stage(sources, staged) == [first]
    assert first.stat().st_mtime == 0 and not second.exists()  # unchanged: left alone
