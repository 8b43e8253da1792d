"""The lessons as pages of the course website, and where their executions are cached.

``docs/conf.py`` calls :func:`stage` before Sphinx reads anything: it copies ``notebooks/*.ipynb``
into ``docs/notebooks/`` (not in git). It folds each solution cell behind a "Show the solution"
toggle (MyST-NB's ``hide-cell`` tag), so that a student reads the exercise before the answer, and
the code of each claims cell, whose verdicts stay in view. MyST-NB then runs each staged lesson
once and keeps the executed copy in a jupyter-cache folder, :func:`cache_folder`, one per mode
(full size or smoke) and per version of the package's code: a rebuild with nothing changed
executes nothing, a change to a lesson's code runs that lesson again, and a change to mialab's
code runs them all (a change to a docstring or a comment alone runs nothing).
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import nbformat
from docutils import nodes
from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.transforms.post_transforms import SphinxPostTransform

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "notebooks"
STAGED = ROOT / "docs" / "notebooks"
CACHE = ROOT / "build" / "jupyter_cache"
# What the site folds, by the lesson's cell tag: MyST-NB's tag, and its two prompts. A solution
# folds whole, so that a student reads the exercise first; the claims cell shows its verdicts
# and folds its code (up to some 300 lines of checks).
FOLDED = {
    "solution": ("hide-cell", "Show the solution", "Hide the solution"),
    "claims": ("hide-input", "Show the code that checks each claim", "Hide the code"),
}


def site_copy(path) -> nbformat.NotebookNode:
    """The lesson as the site shows it: every cell kept, solutions and the claims' code folded."""
    nb = nbformat.read(Path(path), as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        for tag, (fold, show, hide) in FOLDED.items():
            if tag in tags:
                cell.metadata["tags"] = [*tags, fold]
                cell.metadata["mystnb"] = {"code_prompt_show": show, "code_prompt_hide": hide}
    return nb


def stage(sources=SOURCES, staged=STAGED) -> list[Path]:
    """Write the site copy of every lesson into ``staged``; a file whose content is unchanged is
    left alone (Sphinx then does not read it again), and a copy whose lesson is gone is removed.
    """
    staged = Path(staged)
    staged.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(Path(sources).glob("*.ipynb")):
        target = staged / path.name
        text = nbformat.writes(site_copy(path)) + "\n"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        written.append(target)
    for stale in set(staged.glob("*.ipynb")) - set(written):
        stale.unlink()
    return written


def code_fingerprint(package=ROOT / "mialab") -> str:
    """A hash of the package's code, blind to docstrings, comments and formatting."""
    digest = hashlib.sha256()
    for path in sorted(Path(package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (
                isinstance(body, list)
                and body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]  # the docstring goes, the code stays
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(ast.dump(tree).encode())
    return digest.hexdigest()[:12]


def cache_folder(*, smoke: bool, cache=CACHE) -> Path:
    """The jupyter-cache folder for this mode and this version of the package's code."""
    return Path(cache) / f"{'smoke' if smoke else 'full'}-{code_fingerprint()}"


class WidgetsAsStills(SphinxPostTransform):
    """A widget needs a kernel, which a page has not: an output that is a widget shows as the
    still it carries (the ``text/html`` of ``mialab.widgets``' explorers), or not at all (a
    progress bar, an ``ipywidgets.interact``), never as its text repr."""

    default_priority = 3  # before MyST-NB picks one type per output (4)

    def run(self, **kwargs):
        for bundle in list(self.document.findall(nodes.container)):
            kinds = {child.get("mime_type"): child for child in bundle.children}
            if bundle.get("nb_element") != "mime_bundle" or WIDGET_VIEW not in kinds:
                continue
            bundle.remove(kinds[WIDGET_VIEW])
            if not set(kinds) - {WIDGET_VIEW, "text/plain"}:  # no still: nothing to show
                bundle.parent.remove(bundle)


def drop_widget_state(app, doctree):
    """With no widget JavaScript on the pages, the widgets' saved state (up to 200 kB a lesson,
    which MyST-NB embeds for it) is dead weight: leave it out. Connected to ``doctree-read``."""
    NbMetadataCollector.get_js_files(app.env, app.env.docname).pop("ipywidgets_state", None)
