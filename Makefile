# airflow-provider-tiktok developer commands.
#   make test   lint, type-check and run every test (installs what it needs)
#   make demo   run the snapshot DAG against the local stand-in into SQLite
#   make bench  run the benchmarks and check their targets
#   make screenshots  retake the README's screenshots of the Airflow UI (docs/*.png)
#   make mutate mutation-test the modules that decide behaviour; print the score per module

PYTHON ?= python3
NEWEST_AIRFLOW := 3.3.2
AIRFLOW_VERSION ?= $(NEWEST_AIRFLOW)
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints/airflow-$(AIRFLOW_VERSION).txt
INSTALLED := $(VENV)/.installed-airflow-$(AIRFLOW_VERSION)
SOURCES := airflow_provider_tiktok tests example_dags benchmarks docs mutation

.PHONY: install test lint typecheck pytest postgres-server demo bench screenshots mutate clean

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

lint: install
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

# Type-checking is done against the newest Airflow; the compat module covers older ones.
typecheck: install
ifeq ($(AIRFLOW_VERSION),$(NEWEST_AIRFLOW))
	$(BIN)/mypy --strict airflow_provider_tiktok
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

clean:
	rm -rf .venv .venv-* .demo .pytest_cache .mypy_cache .ruff_cache *.egg-info mutants
