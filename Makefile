# orderflow: developer and CI entry points. `make test` works from a fresh clone on a
# machine with python3, java 17 and mvn: it installs uv, the venv, the Kafka jars (cached
# in ~/.cache/orderflow) and, if missing, PostgreSQL; pytest starts Kafka + PostgreSQL.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
UV_HOME ?= $(HOME)/.cache/orderflow/uv-venv
UV := $(UV_HOME)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
CHAOS_ORDERS ?= 10000
CHAOS_ARGS ?=

# uv must use this machine's python3, never download one.
export UV_PYTHON_DOWNLOADS := never

# Workspace members (dirs with a pyproject) and their import packages, for mypy and
# for compiling their bytecode (venv).
MEMBERS := $(patsubst %/pyproject.toml,%,$(wildcard shared/*/pyproject.toml services/*/pyproject.toml cli/pyproject.toml))
MYPY_PACKAGES := $(patsubst %/__init__.py,%,$(wildcard $(addsuffix /*/__init__.py,$(MEMBERS))))
empty :=
space := $(empty) $(empty)

.PHONY: help venv lock test lint demo bench bench-pipe bench-rebuild chaos clean deploy-check docs

help:
	@echo "make venv   - install uv ($(UV_VERSION)) and the workspace venv from uv.lock"
	@echo "make lock   - update uv.lock after changing a pyproject"
	@echo "make test   - the whole test suite (starts Kafka + PostgreSQL itself)"
	@echo "make lint   - ruff check, ruff format --check, mypy (strict)"
	@echo "make demo   - orderflow demo"
	@echo "make bench  - the saga benchmark: whole shop under checkout load (bench/results/latest.json, .png)"
	@echo "make bench-pipe    - the chassis benchmark: store -> relay -> Kafka -> inbox -> store"
	@echo "make bench-rebuild - read-model rebuild rate (orderflow rebuild) on SQLite and PostgreSQL"
	@echo "make chaos  - fault-injection soak, CHAOS_ORDERS=$(CHAOS_ORDERS) orders (chaos/results/latest.json)"
	@echo "make clean  - remove the venv and caches (not the Kafka jars in ~/.cache/orderflow)"

$(UV):
	scripts/bootstrap-uv.sh "$(UV_HOME)" "$(UV_VERSION)"

# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE set (as on these machines)
# Python never caches it, and every service process compiled its imports again at start
# (importing the notification service took 4.6 s of CPU that way, 1.9 s from bytecode).
venv: $(UV)
	$(UV) sync --all-packages --frozen --compile-bytecode
	$(BIN)/python -m compileall -q $(MYPY_PACKAGES) >/dev/null

lock: $(UV)
	$(UV) lock

test: venv
	$(BIN)/python -m orderflow_devinfra fetch
	scripts/install-kustomize.sh >/dev/null
	$(BIN)/pytest $(PYTEST_ARGS)

docs: venv
	$(BIN)/python -m orderflow_events write-schemas
	$(BIN)/python -m orderflow_events asyncapi --out docs/asyncapi.yaml
	$(BIN)/python -m orderflow_events reference --out docs/events.md

deploy-check: venv
	$(BIN)/python -m orderflow_devinfra.compose --check

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	MYPYPATH=$(subst $(space),:,$(MEMBERS)) $(BIN)/mypy $(MYPY_PACKAGES)

demo: venv
	$(BIN)/orderflow demo

bench: venv
	$(BIN)/python -m orderflow_devinfra fetch
	$(BIN)/python bench/saga_benchmark.py $(BENCH_ARGS)

bench-pipe: venv
	$(BIN)/python -m orderflow_devinfra fetch
	$(BIN)/python bench/pipe_benchmark.py

bench-rebuild: venv
	$(BIN)/python -m orderflow_devinfra fetch
	$(BIN)/python bench/rebuild_benchmark.py $(REBUILD_ARGS)

chaos: venv
	$(BIN)/python -m orderflow_devinfra fetch
	$(BIN)/python -m orderflow_devinfra.chaos --orders $(CHAOS_ORDERS) --report chaos/results/latest.json $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
