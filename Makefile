# Two commands matter on a fresh machine: `make run` and `make test` (see README.md).
# Everything they need is installed from here: a virtualenv from PyPI, Debian tools via apt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format check-python venv clean

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0])'

$(STAMP): pyproject.toml | check-python
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The central server on its embedded SQLite plus an enrolled Sekayu counter with a demo
# operator: the sample applications are recorded offline, submitted and synced; the server
# then keeps running until Ctrl+C. State lives in var/ (demo keys are made on first start).
run: $(STAMP)
	$(BIN)/python scripts/run_system.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
