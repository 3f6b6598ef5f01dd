# One command per job: `make test` (README's test command, called by .ci/run), `make check`,
# `make build` (sam build), `make demo` (README's first command), `make bench` (benchmarks).
SHELL := /bin/bash
PYTHON_VERSION ?= 3.13
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test check lint typecheck unit sandbox clean build demo lock lock-check exports dist

# Every environment is made from uv.lock, exactly (`--locked` also fails when pyproject.toml
# changed without `make lock`), so a release published later cannot change what a clone installs.
# uv itself is pinned here; it never downloads a Python (UV_PYTHON_DOWNLOADS=never).
UV_VERSION := 0.13.9
UV := .venv-uv/bin/uv
UV_ENV = UV_PYTHON_DOWNLOADS=never UV_PYTHON="$$(scripts/find-python $(PYTHON_VERSION))"
LOCK_INPUTS := uv.lock pyproject.toml sandbox/pyproject.toml

# With the machine's python3 and its pip: a Python that scripts/find-python downloaded has no
# ensurepip, so no `-m venv` with pip. uv's binary lands in .venv-uv/bin.
$(UV):
	python3 -m pip install -q --disable-pip-version-check --no-warn-script-location \
	  --target .venv-uv uv==$(UV_VERSION)

$(BIN)/.installed: $(LOCK_INPUTS) | $(UV)
	$(UV_ENV) $(UV) sync --locked --quiet --group dev
	@touch $@

# SAM CLI and cfn-lint live in their own venv: ~340 MB and pins that clash with ours (the lock
# resolves the two groups apart: [tool.uv] conflicts).
.venv-sam/.installed: $(LOCK_INPUTS) | $(UV)
	$(UV_ENV) UV_PROJECT_ENVIRONMENT=.venv-sam $(UV) sync --locked --quiet --only-group sam
	@touch $@

# The one command that changes versions: re-resolve every group to today's releases, then write
# the files other tools read from the lock (the layer's, the samples' and the runtime's pins).
lock: | $(UV)
	$(UV_ENV) $(UV) lock --upgrade
	$(MAKE) --no-print-directory exports

# Fails when pyproject.toml changed without `make lock` (what `sync --locked` would refuse).
lock-check: | $(UV)
	$(UV_ENV) $(UV) lock --check --quiet

# Files made from uv.lock for the tools that install without uv (sam build, the sandbox's runtime
# venv). tests/template/test_lock.py writes them under EXPORTS_TO and compares them with ours.
EXPORTS_TO ?= .
EXPORT = $(UV_ENV) $(UV) export --locked --quiet --no-emit-project --no-emit-workspace --no-annotate
exports: | $(UV)
	@mkdir -p $(EXPORTS_TO)/layer $(EXPORTS_TO)/samples/quotes $(EXPORTS_TO)/samples/orders $(EXPORTS_TO)/samples/web $(EXPORTS_TO)/sandbox/lambda_sandbox
	{ echo "# Made from uv.lock by 'make exports': the library's runtime dependencies, shipped in the layer."; \
	  $(EXPORT) --no-default-groups --no-header; } > $(EXPORTS_TO)/layer/requirements.txt
	{ echo "# Made from uv.lock by 'make exports': installed into the sample functions by sam build."; \
	  echo "# lambda_warmup, anyio and httpx come from the layer."; \
	  $(EXPORT) --only-group samples --no-header; } > $(EXPORTS_TO)/samples/quotes/requirements.txt
	{ echo "# Made from uv.lock by 'make exports': installed into the sample functions by sam build."; \
	  echo "# lambda_warmup, anyio and httpx come from the layer."; \
	  $(EXPORT) --only-group orders --no-header; } > $(EXPORTS_TO)/samples/orders/requirements.txt
	{ echo "# Made from uv.lock by 'make exports': installed into the sample functions by sam build."; \
	  echo "# lambda_warmup, anyio and httpx come from the layer."; \
	  $(EXPORT) --only-group web --no-header; } > $(EXPORTS_TO)/samples/web/requirements.txt
	{ echo "# Made from uv.lock by 'make exports': the sandbox's runtime venv (what Lambda's runtime has)."; \
	  $(EXPORT) --only-group runtime --no-header; } > $(EXPORTS_TO)/sandbox/lambda_sandbox/runtime-requirements.txt

# Lint, type-check, then every test (unit, functional, e2e; tests/template runs sam and cfn-lint).
# `snapshots` gets CRIU for the sandbox's SnapStart snapshots (a cached download, root only) and
# says whether they work here; where they cannot, their tests skip with that reason. `chromium`
# gets the headless Chromium (a cached download from Debian) that the timeline tests open pages
# in; those tests need it, so a failed download fails here, saying why.
test: check .venv-sam/.installed
	-$(BIN)/python -m lambda_sandbox snapshots
	$(BIN)/python -m lambda_sandbox chromium
	$(BIN)/pytest

# sam build (the layer through layer/Makefile, the sample functions) into .aws-sam/build.
# sam needs python$(PYTHON_VERSION) itself on PATH: pyenv's shims refuse versions not selected.
SAM_ENV = SAM_CLI_TELEMETRY=0 PATH="$$(dirname "$$(scripts/find-python $(PYTHON_VERSION))"):$$PATH"
build: .venv-sam/.installed | $(UV)
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

# Release artifacts (README's Release artifacts), into DIST_DIR: lambda-warmup's wheel and sdist,
# lambda-sandbox's (the local Lambda, its own distribution), one layer zip per Lambda runtime
# (layer/Makefile, then scripts/zip-layer.py), and SHA256SUMS; layers.yaml deploys the zips.
# Every time stored is the last commit's (SOURCE_DATE_EPOCH, which hatchling also reads; 1980
# outside git), so one commit gives the same bytes on every run. Only files of ours are removed
# from DIST_DIR (it may be any directory), stale versions included: SHA256SUMS lists this run's.
# A runtime whose Python scripts/find-python cannot find fails the target: a release has all.
DIST_DIR ?= dist
DIST_RUNTIMES ?= python3.12 python3.13 python3.14
dist: | $(UV)
	@set -euo pipefail; export LC_ALL=C; \
	commit_time="$$(git log -1 --format=%ct 2>/dev/null || echo 315532800)"; \
	export SOURCE_DATE_EPOCH="$${SOURCE_DATE_EPOCH:-$$commit_time}"; \
	out="$(abspath $(DIST_DIR))"; mkdir -p "$$out"; \
	rm -f "$$out"/lambda_warmup-* "$$out"/lambda_sandbox-* "$$out"/lambda-warmup-layer-* \
	  "$$out/SHA256SUMS"; \
	version="$$($(UV_ENV) $(UV) version --short)"; \
	for package in lambda-warmup lambda-sandbox; do \
	  $(UV_ENV) $(UV) build --quiet --no-sources --no-create-gitignore --package $$package \
	    --out-dir "$$out"; \
	done; \
	scratch="$$(mktemp -d)"; trap 'rm -rf "$$scratch"' EXIT; \
	for runtime in $(DIST_RUNTIMES); do \
	  id="Dist$${runtime/python/Python}"; id="$${id//./}"; \
	  $(MAKE) --no-print-directory -f layer/Makefile "build-$$id" \
	    ARTIFACTS_DIR="$$scratch/$$runtime" >"$$scratch/$$runtime.log" 2>&1 \
	    || { cat "$$scratch/$$runtime.log" >&2; exit 1; }; \
	  "$$(scripts/find-python $(PYTHON_VERSION))" scripts/zip-layer.py "$$scratch/$$runtime" \
	    "$$out/lambda-warmup-layer-$$version-$$runtime.zip"; \
	done; \
	cd "$$out" && sha256sum lambda_warmup-* lambda_sandbox-* lambda-warmup-layer-* >SHA256SUMS; \
	ls -l "$$out"

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
	rm -rf $(VENV) .venv-sam .venv-uv .mypy_cache .ruff_cache dist
