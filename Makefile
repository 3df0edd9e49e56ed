# Régua — two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test setup migrate demo worker lint format messages clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo --if-empty

## Embedded mode: SQLite (WAL), Celery worker + beat on the filesystem broker, console providers.
run: demo
	@echo ""
	@echo "  Régua is starting on http://127.0.0.1:8000/"
	@echo "  Demo login: demo@regua.local / demo-regua-2026"
	@echo "  (messages go to the console and to var/outbox.jsonl; nothing leaves this machine)"
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
	$(VENV)/bin/celery -A config worker --beat --pool=threads --concurrency=4 --loglevel=INFO & \
	$(PY) manage.py runserver 127.0.0.1:8000

## The whole suite; SQLite unless DATABASE_URL is set.
test: setup
	$(PY) -m pytest -q

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
