# The two commands: `make run` (the service) and `make test` (the whole suite). Each sets itself up.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-16)

AXE_VERSION := 4.14.1
AXE := var/npm/node_modules/axe-core/axe.min.js

.PHONY: run test test-fast browser-deps messages lint bench install clean

# Create the virtual environment and install the pinned dependencies when missing or changed.
$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 \
	  | { grep -v '^WARNING: Location' || true; }
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# Web (gunicorn), Celery worker and Celery beat in the foreground; Ctrl-C stops all three.
# Without DJANGO_SECRET_KEY it runs in development mode (DJANGO_DEBUG=1).
run: $(STAMP)
	@mkdir -p $${VAR_DIR:-var}
	@if [ -z "$$DJANGO_SECRET_KEY" ]; then export DJANGO_DEBUG=$${DJANGO_DEBUG:-1}; fi; \
	set -e; \
	$(BIN)/python manage.py migrate --noinput; \
	$(BIN)/python manage.py createcachetable; \
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0; \
	$(BIN)/python manage.py describe_run; \
	exec $(BIN)/honcho --no-prefix -f Procfile start

# The browser tests need Debian's Chromium (Playwright downloads no browser) and axe-core (npm).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "The browser tests need /usr/bin/chromium: run 'sudo apt-get install -y chromium'," \
	      "or skip them with make test-fast"; exit 1; \
	  fi; \
	fi
	@if [ ! -f $(AXE) ]; then \
	  command -v npm >/dev/null || { echo "The browser tests need npm (apt-get install -y npm) for axe-core"; exit 1; }; \
	  npm install --prefix var/npm --no-save --no-audit --no-fund axe-core@$(AXE_VERSION) >/dev/null; \
	fi

# Recompile the subject pages' translations after editing a .po file (needs gettext's msgfmt).
messages: $(STAMP)
	@command -v msgfmt >/dev/null || { echo "Install gettext (apt-get install -y gettext)"; exit 1; }
	cd screening && ../$(BIN)/python ../manage.py compilemessages

# ruff (lint and format), mypy (settings in pyproject.toml) and the migration check.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemigrations --check --dry-run

# `make lint`, then the whole pytest suite against the real PostgreSQL and Redis, browser tests
# included (screenshots in var/screenshots/).
test: $(STAMP) browser-deps
	@$(BIN)/python -m tests.services
	@$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fast loop: every test but those that start processes (workers, servers, `make run`,
# browsers).
test-fast: $(STAMP)
	@$(BIN)/python -m tests.services
	$(BIN)/python -m pytest -m "not worker and not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	@$(BIN)/python -m tests.services
	$(BIN)/python -m tests.benchmarks

clean:
	rm -rf $(VENV) var
