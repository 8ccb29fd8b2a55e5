# twelve: every target bootstraps itself (uv -> .venv from uv.lock -> prepared projects).
# Quick start on a fresh machine: `make demo`, then `make test`.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.SUFFIXES:

PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
UI_PORT ?= 3000
MLFLOW_PORT ?= 5000
PYTEST_ARGS ?=

# The venv's tools first (bentoml build needs a `uv` binary on PATH).
export PATH := $(BIN):$(PATH)
export TWELVE_HOME ?= $(CURDIR)/.twelve
export TWELVE_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(TWELVE_HOME)/dagster_home
export BENTOML_HOME ?= $(TWELVE_HOME)/bentoml
# Nothing calls home (STACK-NOTES: what each tool sends and the switch that stops it).
export DAGSTER_DISABLE_TELEMETRY := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export BENTOML_DO_NOT_TRACK := True
export WHYLOGS_NO_ANALYTICS := True
export DVC_NO_ANALYTICS := 1
# Banners printed on every docs build by mkdocs-material (its end of life, Zensical) and by
# mkdocs-gen-files/literate-nav (ProperDocs): read once, they are noise in make docs and CI logs.
export NO_MKDOCS_2_WARNING := 1
export DISABLE_MKDOCS_2_WARNING := true

# Every project's dbt manifest (dagster-dbt reads it when a code location loads; never parsed then).
DBT_MANIFESTS := $(patsubst %/dbt_project.yml,%/target/manifest.json,$(wildcard projects/*/dbt/dbt_project.yml))
DBT_SOURCES := $(shell find projects/*/dbt \( -name '*.sql' -o -name '*.yml' \) -not -path '*/target/*' 2>/dev/null)
LOCK_INPUTS := uv.lock pyproject.toml platform/pyproject.toml $(wildcard projects/*/pyproject.toml)

.PHONY: help install browser services podman demo demo-drift test test-fresh test-reliability test-container test-fast ui serve image mlflow-ui lint format docs bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: $(LOCK_INPUTS)
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --locked --all-packages --compile-bytecode --quiet
	@touch $@

# dagster-dbt needs the manifests before the code locations load (never parsed at import time).
$(DBT_MANIFESTS) &: $(VENV)/.installed $(DBT_SOURCES)
	$(BIN)/python -m twelve.features.dbt $(patsubst %/dbt/target/manifest.json,%,$(DBT_MANIFESTS))
	@touch $(DBT_MANIFESTS)

$(DAGSTER_HOME)/dagster.yaml: infra/dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp $< $@

install: $(VENV)/.installed $(DBT_MANIFESTS) $(DAGSTER_HOME)/dagster.yaml ## create .venv from uv.lock and prepare the projects

# The demo ends with the audit's evidence per factor and the path of its HTML page. A WARN (never
# served, never reproduced) exits 0; a FAIL fails the demo: the golden path left a factor broken.
demo: install ## run the flight-delay golden path on real data (stale assets only), then audit it
	$(BIN)/twelve run flight_delays
	$(BIN)/twelve audit flight_delays

REPLAY_ARGS ?=
demo-drift: demo ## replay months arriving one by one: traffic, drift, sensor, retraining, gate
	$(BIN)/twelve replay flight_delays $(REPLAY_ARGS)

# The UI test drives Debian's chromium with Playwright (no browser download, STACK-NOTES).
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the UI test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The production-profile tests run real PostgreSQL and Redis from Debian's packages.
services:
	@{ test -x /usr/lib/postgresql/15/bin/pg_ctl && command -v redis-server >/dev/null 2>&1; } || { \
		echo "installing Debian's postgresql and redis-server for the production-profile tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null; }

# The serving image is built and run with Debian's podman (no Docker engine; STACK-NOTES).
podman:
	@{ command -v podman && command -v runc && command -v debootstrap; } >/dev/null 2>&1 || { \
		echo "installing Debian's podman, runc and debootstrap for the serving image"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null; }

test: install browser services ## set up and pass every functional test (under 15 min on 2 cores)
	$(BIN)/pytest -m "not long and not fresh and not reliability and not container" $(PYTEST_ARGS)

test-fresh: install podman ## a newcomer's path on a fresh clone: empty uv cache and HOME (CI runs it too)
	$(BIN)/pytest -m fresh -s tests/fresh $(PYTEST_ARGS)

test-reliability: install services ## faults, load, fuzz and the long loops (replay), with figures
	$(BIN)/pytest -m "reliability or long" -s $(PYTEST_ARGS)

test-container: install podman ## the serving image built and run as Kubernetes would (podman)
	$(BIN)/pytest -m container -s $(PYTEST_ARGS)

test-fast: install ## the tests not marked slow
	$(BIN)/pytest -m "not slow and not long and not fresh and not container" $(PYTEST_ARGS)

ui: install ## the Dagster UI on 127.0.0.1:$(UI_PORT), one code location per project
	$(BIN)/dagster dev -w infra/workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

SERVE_ARGS ?=
IMAGE_ARGS ?=
serve: install ## serve the champion's flight-delay bento on 127.0.0.1:3001 (SERVE_ARGS="--tag T")
	$(BIN)/twelve serve flight_delays --port 3001 $(SERVE_ARGS)

image: install podman ## build the champion bento's OCI image with podman (IMAGE_ARGS="--tag T")
	$(BIN)/twelve image flight_delays $(IMAGE_ARGS)

mlflow-ui: install ## the MLflow UI on 127.0.0.1:$(MLFLOW_PORT) over the embedded store
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(TWELVE_HOME)/mlflow/mlflow.db \
		--default-artifact-root $(TWELVE_HOME)/mlflow/artifacts -h 127.0.0.1 -p $(MLFLOW_PORT)

lint: install ## ruff (lint, docstrings, format), mypy (types of twelve), deptry (declared deps)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd platform && $(BIN)/deptry src

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## benchmarks with their conditions and ratios (not tests)
	PYTHONWARNINGS=ignore::DeprecationWarning $(BIN)/python bench/pipeline.py
	PYTHONWARNINGS=ignore::DeprecationWarning $(BIN)/python bench/compiled.py
	PYTHONWARNINGS=ignore::DeprecationWarning $(BIN)/python bench/online_features.py
	PYTHONWARNINGS=ignore::DeprecationWarning $(BIN)/python bench/serving.py
	PYTHONWARNINGS=ignore::DeprecationWarning $(BIN)/python bench/drift.py

docs: install ## build the docs site strictly into site/ (broken links fail)
	$(BIN)/mkdocs build --strict

clean: ## remove run state and derived data (keeps .venv and DVC-tracked pointers)
	rm -rf $(TWELVE_HOME) data/features data/training projects/*/dbt/target
