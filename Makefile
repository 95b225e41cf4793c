# The two everyday commands: `make run` and `make test`. Both set up .venv first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.altflow-installed

.PHONY: setup run test lint ui bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "altflow needs Python >= 3.11 (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

run: setup  ## build the whole warehouse from the embedded snapshot
	$(BIN)/altflow run --source snapshot

test: setup  ## lint, then the test suite (no network)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

ui: setup
	$(BIN)/altflow ui

bench: setup
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_run.py

clean:
	rm -rf $(VENV) data
