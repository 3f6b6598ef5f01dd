# One command per job: `make test` (README's test command, called by .ci/run), `make check`.
SHELL := /bin/bash
PYTHON_VERSION ?= 3.13
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test check lint typecheck unit clean

$(BIN)/.installed: pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  py="$$(scripts/find-python $(PYTHON_VERSION))" && "$$py" -m venv $(VENV); fi
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

# SAM CLI and cfn-lint live in their own venv: ~340 MB and pins that clash with ours.
.venv-sam/.installed:
	@if [ ! -x .venv-sam/bin/python ]; then \
	  py="$$(scripts/find-python $(PYTHON_VERSION))" && "$$py" -m venv .venv-sam; fi
	.venv-sam/bin/python -m pip install -q --disable-pip-version-check aws-sam-cli cfn-lint
	@touch $@

# Lint, type-check, then every test (unit, functional, e2e).
test: check
	$(BIN)/pytest

check: lint typecheck

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest tests/unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
