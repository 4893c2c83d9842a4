# airflow-provider-tiktok developer commands.
#   make test   lint, type-check and run every test (installs what it needs)
#   make demo   run the snapshot DAG against the local stand-in into SQLite
#   make bench  run the benchmarks and check their targets
#   make screenshots  retake the README's screenshots of the Airflow UI (docs/*.png)
#   make mutate mutation-test the modules that decide behaviour; print the score per module
#   make dist   build the wheel and sdist into dist/ and check them with twine
#   make check-dist  install the wheel in a fresh virtualenv with the constraints, import it
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
SOURCES := airflow_provider_tiktok tests example_dags benchmarks docs mutation deploy
DIST_VENV ?= .venv-dist
CLUSTER_VENV ?= .venv-cluster
CLUSTER_BIN := $(CLUSTER_VENV)/bin
CLUSTER_CONSTRAINTS := constraints/cluster-airflow-$(NEWEST_AIRFLOW).txt
CLUSTER_INSTALLED := $(CLUSTER_VENV)/.installed-cluster-airflow-$(NEWEST_AIRFLOW)
CLUSTER_STATE ?= .cluster

.PHONY: install test lint typecheck pytest postgres-server demo bench screenshots mutate dist \
	check-dist clean cluster-install redis-server cluster cluster-down cluster-status test-deployment

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

# A throwaway api-server and the stand-in on 127.0.0.1, driven by Debian's headless Chromium
# (installed with selenium when missing); writes the PNGs the README shows into docs/.
screenshots: install
	$(BIN)/python docs/screenshots.py --out docs

# Mutation testing on the newest Airflow (about 10 minutes on 2 cores): mutmut mutates the
# modules listed in pyproject.toml's [tool.mutmut] under mutants/, then the score per module
# and every surviving mutant not listed in mutation/equivalent.md are printed.
mutate: install
	$(BIN)/python -m pip install --quiet --constraint $(CONSTRAINTS) \
		--constraint constraints/mutation.txt mutmut
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/python -m mutation

# The release files: a wheel and an sdist, built in an isolated environment, checked by twine.
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# What a user of the wheel gets: a fresh virtualenv, Airflow pinned by the constraints, the
# wheel; the provider must import and Airflow must list it. Then the sdist over it, likewise.
check-dist: dist
	rm -rf $(DIST_VENV)
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DIST_VENV)/bin/python -m pip install --quiet --constraint $(CONSTRAINTS) \
		"apache-airflow==$(AIRFLOW_VERSION)" dist/airflow_provider_tiktok-*.whl
	cd / && AIRFLOW_HOME=$$(mktemp -d) $(abspath $(DIST_VENV))/bin/python -c \
		"import airflow_provider_tiktok.operators.user_info, airflow_provider_tiktok.transfers.tiktok_to_sql; \
		from airflow_provider_tiktok.get_provider_info import get_provider_info; \
		print(get_provider_info()['package-name'], airflow_provider_tiktok.__version__)"
	cd / && AIRFLOW_HOME=$$(mktemp -d) $(abspath $(DIST_VENV))/bin/airflow providers list \
		| grep -q airflow-provider-tiktok && echo "airflow providers list shows airflow-provider-tiktok"
	$(DIST_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall \
		dist/airflow_provider_tiktok-*.tar.gz
	cd / && $(abspath $(DIST_VENV))/bin/python -c \
		"from airflow_provider_tiktok.get_provider_info import get_provider_info; \
		print('from the sdist:', get_provider_info()['package-name'])"

clean:
	rm -rf .venv .venv-* .demo .cluster-test .pytest_cache .mypy_cache .ruff_cache *.egg-info dist build mutants
