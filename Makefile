# Two commands: `make run` and `make test`. Both build .venv from the pinned requirements.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint migrations-check format migrate seed browser-test clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "clinops needs Python 3.11 or newer (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

# The demo's extra requirements (time-machine): make run's path only, never production's.
$(VENV)/.demo: requirements.txt requirements-demo.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-demo.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-demo.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@

migrate: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput

seed: migrate $(VENV)/.demo
	$(BIN)/python manage.py seed_demo

# First start: a simulated EHR history (apps/demo; kept on later starts), then a gentle live feed.
DEMO_FEED ?= 15/m

# The start time, for serve_demo's "ready" line (set when make reads this file, before migrate).
run: export CLINOPS_RUN_STARTED := $(shell date +%s)
run: seed
	$(BIN)/python manage.py demo_start
	@echo "clinops is starting on http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	$(BIN)/python manage.py serve_demo 127.0.0.1:$(PORT) --feed-rate $(DEMO_FEED)

# Style, then DESIGN.md's one-direction rule between apps (import-linter, pyproject.toml
# [tool.importlinter]), then types (mypy with django-stubs; cache in .mypy_cache).
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every test in one pytest run on TEST_WORKERS processes (pytest-xdist): tests are handed out one
# at a time to whichever worker is free, except those that share data built once (an
# xdist_group mark: apps/demo's histories), which go to one worker together. Each worker has its
# own test database (SQLite in memory, or <name>_gw0, _gw1 … on PostgreSQL), migrated once per
# run and copied for the others (tests/plugins/db_template.py). Browser tests run on the same workers:
# while one waits for Chromium, the other worker's CPU is busy. TEST_WORKERS=0: one process.
# Python writes its bytecode caches here even where PYTHONDONTWRITEBYTECODE is set (every
# process would otherwise compile apps/ and rewrite every test module again).
TEST_WORKERS ?= 2

# The checks (lint and the migrations check) run beside the tests, at a lower priority: they take
# the CPU the tests leave idle (the second worker waits while the first migrates; a browser test
# waits for Chromium). Their output comes after the tests'; either failing fails `make test`.
test: $(VENV)/.dev
	@log=$$(mktemp); \
	( nice -n 10 $(MAKE) --no-print-directory --keep-going lint migrations-check ) >"$$log" 2>&1 & checks=$$!; \
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS); tests=$$?; \
	wait $$checks; checked=$$?; \
	echo "=== lint and the migrations check"; cat "$$log"; rm -f "$$log"; \
	[ $$checked -eq 0 ] || echo "make test: lint or the migrations check FAILED (above)"; \
	[ $$tests -eq 0 ] && [ $$checked -eq 0 ]

migrations-check: $(VENV)/.dev
	DJANGO_SETTINGS_MODULE=clinops.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

browser-test: $(VENV)/.dev
	$(BIN)/pytest -m browser $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
