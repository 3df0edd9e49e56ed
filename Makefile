# Régua — two commands for a newcomer: `make run` and `make test`.
# The newest supported Python that runs (3.13, 3.12, then 3.11), on PATH or under pyenv;
# `make PYTHON=python3.12 …` chooses one.
PYTHON ?= $(shell for v in 3.13 3.12 3.11; do \
	for p in python$$v $$HOME/.pyenv/versions/$$v*/bin/python$$v; do \
	$$p -c 'import venv' >/dev/null 2>&1 && { echo $$p; exit 0; }; done; done)
PORT ?= 8000
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-days smoke setup migrate demo worker lint format messages clean print-python

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11, 3.12 or 3.13 is required (none found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Test-only JavaScript (axe-core for the browser crawl), pinned in package-lock.json. Without npm
# the crawl's accessibility check skips locally (and fails under CI=true).
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	npm ci --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); \
	else echo "npm is missing (apt-get install npm): the browser crawl will skip axe-core"; fi

setup: $(STAMP) $(NODE_STAMP)

migrate: setup
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo --if-empty

## Embedded mode: SQLite (WAL), Celery worker + beat on the filesystem broker, console providers.
## `make run PORT=8001` serves on another port (links in messages follow it).
run demo: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
run: demo
	@echo ""
	@echo "  Régua is starting on http://127.0.0.1:$(PORT)/"
	@echo "  Demo login: demo@regua.local / demo-regua-2026"
	@echo "  (messages go to the console and to var/outbox.jsonl; nothing leaves this machine)"
	@echo ""
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	$(VENV)/bin/celery -A config worker --beat --pool=threads --concurrency=4 --loglevel=INFO & \
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

## The whole suite; SQLite unless DATABASE_URL is set.
test: setup
	$(PY) -m pytest -q

## The files whose tests read "today", again with the clock on hard days: the last day of the
## year late at night (already the next year in UTC), the Friday before Carnaval, 29 February.
HARD_DAYS ?= 2026-12-31T23:30-03:00 2027-02-05T17:00-03:00 2028-02-29T10:00-03:00
DATE_SENSITIVE ?= \
	tests/collections_app/stats/test_metrics.py \
	tests/collections_app/stats/test_rollups.py \
	tests/collections_app/payments/test_payment_page.py \
	tests/collections_app/payments/test_agreements_and_payments_in.py \
	tests/collections_app/payments/test_pix_and_charges.py \
	tests/collections_app/activity/test_work_queues.py \
	tests/collections_app/web/test_web.py \
	tests/collections_app/engine/test_bank_calendar.py \
	tests/collections_app/engine/test_engine.py \
	tests/tenants/test_commands.py \
	tests/collections_app/imports/test_import.py \
	tests/collections_app/imports/test_import_history.py \
	tests/collections_app/test_seed_demo.py \
	tests/collections_app/payments/test_payments_and_sending.py \
	tests/collections_app/exports/test_lgpd_exports.py
test-days: setup
	@for now in $(HARD_DAYS); do \
	echo "== clock at $$now"; REGUA_TEST_NOW=$$now $(PY) -m pytest -q $(DATE_SENSITIVE) || exit 1; \
	done

SMOKE_ENV = env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL REGUA_VAR_DIR=$(CURDIR)/var/smoke
## On a Python other than the suite's (CI: the newest installed): import everything, migrate a
## fresh embedded database, seed the demo and run a few fast test files.
smoke: setup
	$(PY) -c "import django, sys; print('Python', sys.version.split()[0], 'Django', django.get_version())"
	rm -rf var/smoke
	$(SMOKE_ENV) $(PY) manage.py check
	$(SMOKE_ENV) $(PY) manage.py migrate --noinput -v0
	$(SMOKE_ENV) $(PY) manage.py seed_demo
	$(SMOKE_ENV) $(PY) -m pytest -q \
		tests/collections_app/engine/test_engine.py \
		tests/collections_app/web/test_web.py \
		tests/collections_app/api/test_api_invoices.py \
		tests/collections_app/payments/test_payment_page.py \
		tests/collections_app/imports/test_import.py

print-python:
	@echo $(PYTHON)

worker: setup
	$(VENV)/bin/celery -A config worker --pool=threads --concurrency=8 --loglevel=INFO

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

## Refresh locale/pt_BR from the templates and code, then compile the .mo (commit both).
messages: setup
	$(PY) manage.py makemessages -l pt_BR --ignore=.venv --ignore=var --ignore=tests
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf var/broker var/*.sqlite3* var/outbox.jsonl
