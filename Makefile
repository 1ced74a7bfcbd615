# anemia-audit: `make run` runs the whole job on the synthetic cohort, `make test` runs the tests.
# Both install what they need: uv (in .tools/ when not on PATH), then the locked environment.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
RUN := $(VENV)/bin/anemia-audit
DB ?= data/processed/audit.duckdb
PATIENTS ?= 8000
SEED ?= 42
REPORTS ?= reports
SYNTH_OUT ?= data/synthetic
PERIOD_FROM ?=
PERIOD_TO ?=
BY ?= site
PYTEST_ARGS ?=
BENCH_PATIENTS ?= 200000
BENCH_PROFILE ?= default
BENCH_WORK ?=

.DEFAULT_GOAL := help
.PHONY: help setup spark run synth load validate classify audit report lint format test test-fast fuzz bench notebook browser clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	@echo "[setup] uv not found: installing it into .tools/ (a private virtual environment)"
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

# --compile-bytecode: the packages are compiled once here, not by every command (where
# PYTHONDONTWRITEBYTECODE is set, Python would compile Ibis, pandas, DuckDB's wrapper ... from
# source at each start: about 3 s of CPU per command, docs/performance.md).
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet --compile-bytecode
	@touch $@

setup: $(VENV)/.synced ## Install uv (if missing) and the locked environment

# The Spark extra on top of the locked environment (a plain `uv sync` removes it again, so
# this stamp is older than .synced after any re-sync and runs again).
$(VENV)/.spark: $(VENV)/.synced
	$(UV) sync --locked --quiet --compile-bytecode --extra spark
	@touch $@

spark: $(VENV)/.spark ## Install the Spark extra (PySpark) and, when java is missing, a Debian Java runtime
	@bash scripts/ensure-java.sh

run: setup ## Whole job: synthetic cohort (or INPUT=folder [FRESH=1 | APPEND=1]), load, validate, classify, audit, report
	$(RUN) run $(if $(INPUT),--input $(INPUT) $(if $(FRESH),--fresh) $(if $(APPEND),--append),--fresh --patients $(PATIENTS) --seed $(SEED) --synth-out $(SYNTH_OUT)) --db $(DB) --out $(REPORTS) --by $(BY)

synth: setup ## Write the synthetic cohort to data/synthetic (PATIENTS=, SEED=)
	$(RUN) synth --patients $(PATIENTS) --seed $(SEED) --out $(SYNTH_OUT)

load: setup ## Load INPUT= (a folder of canonical CSVs) into the warehouse
	$(RUN) load --source csv --input $(INPUT) --db $(DB)

validate: setup ## Validate raw tables into stg_* and the quarantine
	$(RUN) validate --db $(DB)

classify: setup ## Build episodes, iron_outcomes, failure_causes
	$(RUN) classify --db $(DB)

audit: setup ## Compute the aud_* measure tables
	$(RUN) audit --db $(DB)

report: setup ## Scheduled batch: audit + report for PERIOD_FROM=YYYY-MM-DD PERIOD_TO=YYYY-MM-DD
	$(RUN) audit --db $(DB)
	$(RUN) report --db $(DB) --out $(REPORTS) --by $(BY) $(if $(PERIOD_FROM),--from $(PERIOD_FROM)) $(if $(PERIOD_TO),--to $(PERIOD_TO))

browser: ## Install Debian's chromium for the HTML report tests (needs root or sudo)
	@bash scripts/ensure-chromium.sh

lint: setup ## ruff: lint, import order and format check (configured in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: setup spark browser lint ## Lint, then run the whole test suite (installs PySpark + Java and chromium for their tests)
	$(VENV)/bin/pytest -n 2 $(PYTEST_ARGS)

test-fast: setup ## Run the tests without the slow end-to-end ones
	$(VENV)/bin/pytest -n 2 -m "not slow" $(PYTEST_ARGS)

fuzz: setup ## Long reliability run (not in make test): thousands of hostile files, 10 kills per step (FUZZ_KILLS=)
	RELIABILITY_PROFILE=reliability-fuzz RELIABILITY_KILLS=$(or $(FUZZ_KILLS),10) RELIABILITY_SEED=$(SEED) RELIABILITY_ATTACK_SAMPLE=0 \
		$(VENV)/bin/pytest -n 2 -s -W ignore tests/reliability $(PYTEST_ARGS)

bench: setup ## Bare ingest vs load/validate/classify/audit vs pandas (BENCH_PATIENTS=, BENCH_PROFILE=dense, BENCH_WORK=dir)
	$(RUN) bench --patients $(BENCH_PATIENTS) --profile $(BENCH_PROFILE) $(if $(BENCH_WORK),--work $(BENCH_WORK))

notebook: setup ## Start JupyterLab with the project's environment as the kernel
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

clean: ## Remove generated data, reports and the environment
	rm -rf $(VENV) data/processed data/synthetic $(REPORTS) .pytest_cache
