# One command per job: `make test` (README's test command, called by .ci/run), `make check`,
# `make build` (sam build), `make demo` (README's first command), `make bench` (benchmarks).
SHELL := /bin/bash
PYTHON_VERSION ?= 3.13
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test check lint typecheck unit sandbox clean build demo

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

# Lint, type-check, then every test (unit, functional, e2e; tests/template runs sam and cfn-lint).
# `snapshots` gets CRIU for the sandbox's SnapStart snapshots (a cached download, root only) and
# says whether they work here; where they cannot, their tests skip with that reason.
test: check .venv-sam/.installed
	-$(BIN)/python -m lambda_sandbox snapshots
	$(BIN)/pytest

# sam build (the layer through layer/Makefile, the sample functions) into .aws-sam/build.
# sam needs python$(PYTHON_VERSION) itself on PATH: pyenv's shims refuse versions not selected.
SAM_ENV = SAM_CLI_TELEMETRY=0 PATH="$$(dirname "$$(scripts/find-python $(PYTHON_VERSION))"):$$PATH"
build: .venv-sam/.installed
	$(SAM_ENV) .venv-sam/bin/sam build

# The demo: the built sample in the local sandbox, with and without the extension's hold.
demo: build $(BIN)/.installed
	$(BIN)/python -m demo

# The benchmarks (README's Performance section): the layer as layer/Makefile builds it (what sam
# build runs; no SAM venv needed), into .aws-sam/bench, then every measurement, a few minutes.
BENCH_LAYER := .aws-sam/bench/layer
bench: $(BIN)/.installed
	@mkdir -p $(BENCH_LAYER)
	@$(MAKE) --no-print-directory -f layer/Makefile build-WarmupLayer \
	  ARTIFACTS_DIR=$(CURDIR)/$(BENCH_LAYER) >$(BENCH_LAYER).log 2>&1 || { cat $(BENCH_LAYER).log; exit 1; }
	$(BIN)/python benchmarks/bench.py --layer $(BENCH_LAYER) $(BENCH_ARGS)

check: lint typecheck

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest tests/unit

sandbox: $(BIN)/.installed
	$(BIN)/pytest tests/sandbox

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
