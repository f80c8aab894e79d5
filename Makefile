# Every target creates the virtualenv and installs what it needs first.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install system-deps up demo test test-fast lint revision bench load soak clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

system-deps:
	bash scripts/system-deps.sh

## up: train the first model on the built-in flights data if none is in production, then serve on :3000
up: install
	$(VENV)/bin/driftline up

## demo: the whole story on the flights data in a few minutes (drift, retrain, promotion, timeline)
demo: install
	$(VENV)/bin/driftline demo --first-model-rows 3000

## test: lint, types, import contracts, then every test (integration ones start real servers)
test: install system-deps lint
	$(VENV)/bin/pytest -q

## test-fast: unit tests only
test-fast: install
	$(VENV)/bin/pytest -q -m "not integration"

lint: install
	$(VENV)/bin/ruff check driftline service monitoring retrain tests bench
	$(VENV)/bin/ruff format --check driftline service monitoring retrain tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## revision: the next schema migration from what changed in driftline/core/store/tables.py (m="what changed")
revision: install
	$(PY) scripts/new_revision.py "$(m)"

## bench: serving and drift-check benchmarks; results are recorded in docs/BENCHMARKS.md
bench: install system-deps
	$(PY) bench/serving.py
	$(PY) bench/drift.py
	$(PY) bench/monitor_impact.py

## load: 60 s of mixed /predict and /feedback at 32 connections, monitor checking, a promotion under load; nothing lost
load: install system-deps
	$(PY) bench/load.py

## soak: 10 minutes at about 50 requests/s after a warm-up minute; memory of service and monitor must stay flat
soak: install system-deps
	$(PY) bench/soak.py

clean:
	rm -rf $(VENV) .driftline .pytest_cache .mypy_cache .ruff_cache
