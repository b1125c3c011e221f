# fundcdp — every target bootstraps .venv itself, so a fresh clone needs only `make run` / `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(abspath $(VENV))/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.spark-installed

export FUNDCDP_DATA_DIR ?= $(abspath data)
export DBT_PROFILES_DIR := $(abspath dbt_project)
export DBT_LOG_PATH ?= $(FUNDCDP_DATA_DIR)/logs/dbt
export DAGSTER_HOME ?= $(FUNDCDP_DATA_DIR)/dagster_home
export PATH := $(BIN):$(PATH)

.PHONY: help bootstrap lock prepare demo-data run test test-spark segments dashboards docs bench bench-spark ui lint clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	# --compile-bytecode: this environment sets PYTHONDONTWRITEBYTECODE, and without
	# precompiled bytecode `import great_expectations` costs 12-14 s on every start.
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode --quiet -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode --quiet --no-deps -e .
	touch $(STAMP)

bootstrap: $(STAMP)  ## create .venv with the locked dependencies

$(SPARK_STAMP): $(STAMP) requirements-spark.lock
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode --quiet -r requirements-spark.lock
	touch $(SPARK_STAMP)

lock:  ## re-resolve requirements.lock and requirements-spark.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra spark --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu -o requirements-spark.lock

prepare: bootstrap  ## parse the dbt project so Dagster can load its manifest
	cd dbt_project && $(BIN)/dbt parse --quiet --target-path target

demo-data: bootstrap  ## generate the demo source systems into $FUNDCDP_DATA_DIR/landing
	$(BIN)/python -m demo_sources.generate --data-dir "$(FUNDCDP_DATA_DIR)"

run: prepare  ## generate demo data if landing/ is empty, run the whole pipeline, print a summary
	$(BIN)/python -m orchestration.cli run

test: prepare segments  ## validate the segment definitions, run the whole test suite (pytest drives dbt and Dagster)
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15 tests/unit tests/security tests/integration

docs: prepare  ## dbt docs (static HTML, every analyst-facing column described) of the built warehouse
	cd dbt_project && $(BIN)/dbt docs generate --static --target-path "$(FUNDCDP_DATA_DIR)/dbt_docs"
	@echo "dbt docs: $(FUNDCDP_DATA_DIR)/dbt_docs/static_index.html"

segments: bootstrap  ## validate every segment definition under segments/ (file, path in the rule, reason)
	$(BIN)/python -m orchestration.cli segments validate

test-spark: prepare $(SPARK_STAMP)  ## build the dbt project with its data and unit tests on a local Spark session
	$(BIN)/python -m pytest tests/spark

bench: prepare  ## benchmarks (print figures): the pipeline at scale factor SF (default 0.1), the dashboards on its data, ID-Mapping vs scipy and networkx, the history import (HISTORY_DAYS, default 546); refreshes bench/README.md
	$(BIN)/python bench/pipeline_bench.py --sf $(or $(SF),0.1)
	$(BIN)/python bench/dashboard_bench.py --label "sf$(or $(SF),0.1)" --data-dir "$$(ls -d \
		$${FUNDCDP_BENCH_DIR:-$(FUNDCDP_DATA_DIR)/bench}/runs/sf$$($(BIN)/python -c 'print(f"{float($(or $(SF),0.1)):g}")')-* | tail -1)"
	$(BIN)/python bench/identity_bench.py --persons $(or $(BENCH_PERSONS),100000)
	$(BIN)/python bench/history_bench.py --days $(or $(HISTORY_DAYS),546)
	$(BIN)/python bench/report.py

bench-spark: prepare $(SPARK_STAMP)  ## the dbt layer on local Spark vs DuckDB on the raw/ layer of the last `make bench SF=…` run
	$(BIN)/python bench/spark_bench.py --sf $(or $(SF),0.1) --as-of 2026-06-30 --run-dir "$$(ls -d \
		$${FUNDCDP_BENCH_DIR:-$(FUNDCDP_DATA_DIR)/bench}/runs/sf$$($(BIN)/python -c 'print(f"{float($(or $(SF),0.1)):g}")')-* | tail -1)"
	$(BIN)/python bench/report.py

dashboards: bootstrap  ## check the boards (dashboards/), then serve the dashboards on http://127.0.0.1:8501 (read-only)
	-$(BIN)/python -m orchestration.cli dashboards validate  # a broken board is listed in the app too
	$(BIN)/python -m orchestration.cli dashboards serve

ui: prepare  ## start the Dagster UI on http://127.0.0.1:3000
	$(BIN)/python -m orchestration.cli ui

lint: bootstrap  ## ruff
	$(BIN)/ruff check orchestration demo_sources tests
	$(BIN)/ruff format --check orchestration demo_sources tests

clean:  ## remove the venv and the default data directory
	rm -rf $(VENV) data data.demo_truth dbt_project/target dbt_project/logs
