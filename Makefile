# Two commands matter on a fresh machine: `make run` and `make test` (see README.md).
# Everything they need is installed from here: a virtualenv from PyPI, Debian tools via apt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format check-python venv clean system-deps test-snapshot-update

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

# Debian tools the tests call: pdftoppm + pdfsig (poppler-utils), certutil (libnss3-tools,
# an NSS trust store for pdfsig) and SoftHSM2 (softhsm2, a PKCS#11 token for the Kepala
# Dinas key on a token) for the KK document and TTE tests; chromium, which Playwright drives
# for the staff page tests (never a browser downloaded by `playwright install`). Installed
# only when missing; the tests fail (never skip) without them.
system-deps:
	@if command -v pdftoppm >/dev/null && command -v pdfsig >/dev/null && command -v certutil >/dev/null \
		&& command -v softhsm2-util >/dev/null && [ -x /usr/bin/chromium ]; then \
		true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && apt-get install -y --no-install-recommends poppler-utils libnss3-tools softhsm2 chromium; \
	else \
		echo "pdftoppm/pdfsig/certutil/softhsm2-util/chromium missing: run as root or install poppler-utils, libnss3-tools, softhsm2 and chromium" >&2; \
		exit 1; \
	fi

test: lint system-deps
	$(BIN)/python -m pytest

# Accept intended changes to the counter's screens (then look at the SVGs before committing).
test-snapshot-update: $(STAMP)
	$(BIN)/python -m pytest tests/snapshots --snapshot-update

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
