# airflow-provider-tiktok developer commands.
#   make test   lint, type-check and run every test (installs what it needs)
#   make demo   run the snapshot DAG against the local stand-in into SQLite
#   make bench  run the benchmarks and check their targets
#   make cluster          start a local Airflow deployment (CeleryExecutor) on 127.0.0.1
#   make cluster-down     stop it: every process it started, by its recorded process group
#   make test-deployment  the deployment test suite, on a deployment of its own

PYTHON ?= python3
NEWEST_AIRFLOW := 3.3.2
AIRFLOW_VERSION ?= $(NEWEST_AIRFLOW)
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints/airflow-$(AIRFLOW_VERSION).txt
INSTALLED := $(VENV)/.installed-airflow-$(AIRFLOW_VERSION)
SOURCES := airflow_provider_tiktok tests example_dags benchmarks deploy
CLUSTER_VENV ?= .venv-cluster
CLUSTER_BIN := $(CLUSTER_VENV)/bin
CLUSTER_CONSTRAINTS := constraints/cluster-airflow-$(NEWEST_AIRFLOW).txt
CLUSTER_INSTALLED := $(CLUSTER_VENV)/.installed-cluster-airflow-$(NEWEST_AIRFLOW)
CLUSTER_STATE ?= .cluster

.PHONY: install test lint typecheck pytest postgres-server demo bench clean \
	cluster-install redis-server cluster cluster-down cluster-status test-deployment

install: $(INSTALLED)

$(INSTALLED): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint $(CONSTRAINTS) \
		"apache-airflow==$(AIRFLOW_VERSION)" --editable ".[test]"
	rm -f $(VENV)/.installed-airflow-*
	touch $@

# The PostgreSQL tests start a throwaway server; install Debian's package when it is missing.
postgres-server:
	@if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		echo "Installing the PostgreSQL server from Debian's packages"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

# The local deployment's virtualenv: Airflow with Celery and PostgreSQL, the project editable.
cluster-install: $(CLUSTER_INSTALLED)

$(CLUSTER_INSTALLED): pyproject.toml constraints/airflow-$(NEWEST_AIRFLOW).txt $(CLUSTER_CONSTRAINTS)
	test -x $(CLUSTER_BIN)/python || $(PYTHON) -m venv $(CLUSTER_VENV)
	$(CLUSTER_BIN)/python -m pip install --quiet --upgrade pip
	$(CLUSTER_BIN)/python -m pip install --quiet \
		--constraint constraints/airflow-$(NEWEST_AIRFLOW).txt --constraint $(CLUSTER_CONSTRAINTS) \
		"apache-airflow[celery,postgres]==$(NEWEST_AIRFLOW)" --editable ".[test]"
	touch $@

# The deployment's Celery broker; install Debian's package when it is missing.
redis-server:
	@if ! command -v redis-server >/dev/null 2>&1; then \
		echo "Installing the Redis server from Debian's packages"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	fi

# Starts PostgreSQL, Redis, the stand-in and Airflow (api-server, scheduler, dag-processor,
# triggerer, two Celery workers) on 127.0.0.1, waits until they are ready, prints the UI's URL.
cluster: cluster-install postgres-server redis-server
	$(CLUSTER_BIN)/python -m deploy --state-dir $(CLUSTER_STATE) up

cluster-down:
	@if test -x $(CLUSTER_BIN)/python; then \
		$(CLUSTER_BIN)/python -m deploy --state-dir $(CLUSTER_STATE) down; \
	else $(PYTHON) -m deploy --state-dir $(CLUSTER_STATE) down; fi

cluster-status:
	$(CLUSTER_BIN)/python -m deploy --state-dir $(CLUSTER_STATE) status

# The deployment suite (tests/deployment) on a deployment of its own, in .cluster-test/.
test-deployment: cluster-install postgres-server redis-server
	$(CLUSTER_BIN)/python -m pytest tests/deployment -m deployment -s $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

# Type-checking is done against the newest Airflow; the compat module covers older ones.
typecheck: install
ifeq ($(AIRFLOW_VERSION),$(NEWEST_AIRFLOW))
	$(BIN)/mypy --strict airflow_provider_tiktok deploy
else
	@echo "mypy: skipped on Airflow $(AIRFLOW_VERSION) (type-checked against $(NEWEST_AIRFLOW))"
endif

pytest: install postgres-server
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The main job on the embedded default: the snapshot DAG, both APIs' stand-in, a SQLite table.
demo: install
	$(BIN)/python -m airflow_provider_tiktok.testing.demo --dags-folder example_dags --workdir .demo

# Throughput, rate limit, bulk loading, memory and import cost against the stand-in (50 ms a
# call) and a throwaway PostgreSQL; prints a Markdown table, exits non-zero if a target is missed.
bench: install postgres-server
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf .venv .venv-* .demo .cluster-test .pytest_cache .mypy_cache .ruff_cache *.egg-info
