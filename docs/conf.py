"""Sphinx configuration of the course website (``make site``; the README says more).

The lessons are executed by MyST-NB at full size, or in smoke mode with ``MIALAB_SMOKE=1``,
and cached (see ``lessons.py``). Nothing is fetched while building: no intersphinx inventories,
no downloads.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import lessons  # noqa: E402  (lives beside this file)

import mialab  # noqa: E402

SMOKE = os.environ.get("MIALAB_SMOKE") == "1"
# The kernels that run the lessons inherit this process's environment: say the mode explicitly,
# and draw figures inline as in a student's kernel (MPLBACKEND would override that).
os.environ["MIALAB_SMOKE"] = "1" if SMOKE else "0"
os.environ.pop("MPLBACKEND", None)
lessons.stage()

project = "mialab"
author = "the mialab maintainers"
copyright = "2026, the mialab maintainers"
release = version = mialab.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx-mathjax-offline",  # MathJax 3 copied into the site: formulas typeset offline too
]
exclude_patterns = ["**.ipynb_checkpoints"]
templates_path = ["_templates"]

# Markdown and notebooks (MyST-NB).
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
nb_execution_cache_path = str(lessons.cache_folder(smoke=SMOKE))
nb_execution_timeout = 600  # seconds per cell, as the notebook runner allows
# A failing cell, or at full size a claim the run does not support, stops the build.
nb_execution_raise_on_error = True
nb_execution_show_tb = True
# A widget shows as the still it carries, or not at all (lessons.WidgetsAsStills): no widget
# JavaScript from a CDN, and a page that works offline.
nb_ipywidgets_js = {}
nb_render_markdown_format = "myst"  # Markdown output with tables (lesson 07), no autolinks

# The API reference: one page per public module, from the docstrings (Google style).
autosummary_generate = True
autodoc_default_options = {"members": True, "imported-members": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True  # defaults as written, not as their repr
autodoc_inherit_docstrings = False  # torch's forward() docstring is not ours to show
# Every cross-reference must resolve, except to the libraries we take types from: with no
# intersphinx (nothing is fetched while building), those stay plain text.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:class",
        r"(numpy|torch|nn|pandas|collections|concurrent|os|flwr|ipywidgets|nbformat)\..*",
    ),
]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_param = False  # "a, b: as in fit()" stays one entry, not one copy per name

html_theme = "sphinx_book_theme"
html_title = "mialab"
html_static_path = ["_static"]
html_css_files = ["site.css"]
smartquotes = False  # the texts write their own quotes and dashes
html_theme_options = {
    "repository_url": f"https://github.com/{mialab.course.BINDER_REPO}",
    "repository_branch": "HEAD",
    "path_to_docs": "",  # the staged lessons sit at notebooks/, as in the repository
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
}


def setup(app):
    app.add_post_transform(lessons.WidgetsAsStills)
    app.connect("doctree-read", lessons.drop_widget_state)
