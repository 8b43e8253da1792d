# The two commands the README leads with: `make lab` and `make test`.
# Each creates .venv on first use, installs what it needs, and skips that on later runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# Where a CPU-only torch comes from on a machine without a GPU and without a local wheel.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# Root (containers, CI) must pass --allow-root to JupyterLab.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test bench clean

lab: $(VENV)/.course-installed
	$(BIN)/jupyter lab notebooks/ $(ALLOW_ROOT)

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest

# Speed benchmarks (not part of `make test`: timings belong side by side in one run).
bench: $(VENV)/.bench-installed
	$(BIN)/python tests/benchmarks/bench_fit_many.py
	$(BIN)/python tests/benchmarks/bench_boundary_distance.py
	$(BIN)/python tests/benchmarks/bench_dp.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

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

$(VENV)/.course-installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/python -m pip install -e ".[course]"
	@touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/python -m pip install -e ".[dev]"
	@touch $@ $(VENV)/.course-installed

$(VENV)/.bench-installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/python -m pip install -e ".[dev,bench]"
	@touch $@ $(VENV)/.dev-installed $(VENV)/.course-installed

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
