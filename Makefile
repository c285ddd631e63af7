# Botsite: `make run` starts the whole system (embedded default), `make test` runs every check.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help install install-dev run test lint typecheck fmt migrations-check check clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Botsite needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

install: $(VENV)/.runtime-installed ## Create .venv and install the pinned runtime requirements

install-dev: $(VENV)/.dev-installed ## Also install the pinned test and lint tools

run: install ## Start everything (server, worker, beat) on SQLite, with the demo bot: PORT=8000
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py demo_setup
	exec $(PY) manage.py runembedded $(HOST):$(PORT)

migrations-check: install-dev ## Fail when models changed without a migration
	$(PY) manage.py makemigrations --check --dry-run

lint: install-dev ## ruff (lint and formatting) and the import rules (docs/architecture.md)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install-dev ## mypy, strict on the engine, services, selectors, ports and plugins
	$(VENV)/bin/mypy

fmt: install-dev ## Fix what ruff can fix, and format
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install-dev ## Everything CI runs: system checks, migrations check, ruff, import rules, mypy, pytest
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

check: test ## Alias of test, for CI and laptops alike

clean: ## Remove the virtual environment and the embedded data (var/)
	rm -rf $(VENV) var staticfiles
