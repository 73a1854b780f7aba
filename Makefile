# Topup — every target a newcomer needs. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install run test check lint format types contracts bench lock messages clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP) ## Create .venv with the locked dependencies and the topup command

run: $(STAMP) ## Migrate var/topup.db, load the sample catalogue and demo lines, serve on http://127.0.0.1:8000
	$(BIN)/topup db upgrade
	$(BIN)/topup catalogue load src/topup/data/catalogue.toml
	$(BIN)/topup demo seed
	$(BIN)/topup serve --host $(HOST) --port $(PORT)

test: $(STAMP) ## Run the whole suite, on SQLite and on PostgreSQL
	$(BIN)/python -m pytest -n 2 -q

check: lint types contracts test ## Lint, types, import contracts and the whole suite

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP) ## Format the code
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

types: $(STAMP) ## mypy --strict
	$(BIN)/mypy

contracts: $(STAMP) ## import-linter: the layers' arrows point inward
	$(BIN)/lint-imports

bench: $(STAMP) ## Benchmarks with ratios against pgbench and raw sqlite3 measured in the same run
	$(BIN)/python -m bench.run

messages: $(STAMP) ## Update the portal's four .po catalogues from its code and templates (then translate the new ones)
	$(BIN)/python -m topup.entrypoints.web.catalogue

lock: ## Re-resolve requirements.lock from pyproject.toml (needs network to PyPI)
	$(PYTHON) -m venv /tmp/topup-lock-venv && /tmp/topup-lock-venv/bin/pip install --quiet uv
	/tmp/topup-lock-venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--no-header --output-file requirements.lock

clean: ## Remove the environment and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
