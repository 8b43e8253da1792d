# The two commands the README leads with: `make lab` and `make test`.
# Each creates .venv on first use, installs what it needs, and skips that on later runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# Where a CPU-only torch comes from on a machine without a GPU and without a local wheel.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# Everything but torch is installed by uv (installed into .venv by pip): the same packages as
# pip resolves, in about a quarter of the time. uv reads none of pip's settings; to install with
# pip instead (e.g. behind a package mirror set up for pip): make test INSTALL="pip".
INSTALL ?= uv
ifeq ($(INSTALL),pip)
PIP_INSTALL := $(BIN)/python -m pip install
else
PIP_INSTALL := $(BIN)/uv pip install --python $(BIN)/python --compile-bytecode
INSTALLER := $(BIN)/uv
endif
# Root (containers, CI) must pass --allow-root to JupyterLab.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test student site bench clean

# JupyterLab that fetches no news, checks for no update and searches no extension index: no
# prompt in a lecture hall without internet, and no request leaves the machine. The settings
# override (also used by Binder's image) keeps the page from asking; the options keep the server
# from fetching.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
LAB_OFFLINE := --LabApp.news_url=None --LabApp.extension_manager=readonly \
	--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate

lab: $(VENV)/.course-installed $(LAB_SETTINGS)
	$(BIN)/jupyter lab notebooks/ $(LAB_OFFLINE) $(ALLOW_ROOT)

test: $(VENV)/.dev-installed $(LAB_SETTINGS)
	$(BIN)/python -m pytest

# Student copies for coursework: the notebooks without their solution cells, in student/.
student: $(VENV)/.course-installed
	$(BIN)/python -m mialab.course --student student

# The course website in build/site/ (open build/site/index.html): every lesson executed at full
# size, once; the executed lessons are cached in build/jupyter_cache/, so a rebuild runs only
# what changed. `make site SMOKE=1`: a quick preview, the lessons run in smoke mode.
site: $(VENV)/.docs-installed
	MIALAB_SMOKE=$(if $(SMOKE),1,0) $(BIN)/python -m sphinx -W --keep-going -b html docs build/site

# Speed benchmarks (not part of `make test`: timings belong side by side in one run).
bench: $(VENV)/.bench-installed
	$(BIN)/python tests/benchmarks/bench_import.py
	$(BIN)/python tests/benchmarks/bench_fit_many.py
	$(BIN)/python tests/benchmarks/bench_boundary_distance.py
	$(BIN)/python tests/benchmarks/bench_dp.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(LAB_SETTINGS): binder/overrides.json | $(BIN)/python
	mkdir -p $(@D)
	cp binder/overrides.json $@

# torch before mialab, so that pip finds `torch>=2.2` satisfied and never pulls a CUDA build.
# Order: already there; a local wheel (pip's find-links; its dependencies then come from the index);
# the default (CUDA) build only where a GPU is; otherwise PyTorch's CPU index.
$(VENV)/.torch-installed: | $(BIN)/python
	@if $(BIN)/python -c "import torch" 2>/dev/null; then \
		echo "torch already installed"; \
	elif $(BIN)/python -m pip install --no-index --no-deps "torch==$(TORCH_VERSION)"; then \
		$(BIN)/python -m pip install "torch==$(TORCH_VERSION)"; \
	elif command -v nvidia-smi >/dev/null 2>&1; then \
		$(BIN)/python -m pip install "torch==$(TORCH_VERSION)"; \
	else \
		$(BIN)/python -m pip install "torch==$(TORCH_VERSION)" --index-url $(TORCH_CPU_INDEX); \
	fi
	@touch $@

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install uv

$(VENV)/.course-installed: pyproject.toml $(VENV)/.torch-installed | $(INSTALLER)
	$(PIP_INSTALL) -e ".[course]"
	@touch $@

$(VENV)/.docs-installed: pyproject.toml $(VENV)/.torch-installed | $(INSTALLER)
	$(PIP_INSTALL) -e ".[docs]"
	@touch $@ $(VENV)/.course-installed

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.torch-installed | $(INSTALLER)
	$(PIP_INSTALL) -e ".[dev]"
	@touch $@ $(VENV)/.docs-installed $(VENV)/.course-installed

$(VENV)/.bench-installed: pyproject.toml $(VENV)/.torch-installed | $(INSTALLER)
	$(PIP_INSTALL) -e ".[dev,bench]"
	@touch $@ $(VENV)/.dev-installed $(VENV)/.docs-installed $(VENV)/.course-installed

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis student build docs/notebooks docs/api
