# Everything a fresh machine needs: Python 3.11 and make. uv is bootstrapped into .tools/.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

DEMO_ACCOUNTS ?= 2000
DEMO_SEED ?= 42
# Where `make demo` and `make serve` listen, e.g. `make demo PORT=8001` when 8000 is taken.
HOST ?= 127.0.0.1
PORT ?= 8000
BENCH_ARGS ?=

.PHONY: install demo serve test test-fast test-browser lint audit bench clean

install: $(VENV)/.installed

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

## make demo: embedded SQLite, demo world, demo logins, demo revenue plans and playbooks, web UI on http://$(HOST):$(PORT)
demo: install
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo --accounts $(DEMO_ACCOUNTS) --seed $(DEMO_SEED) --if-empty
	$(MANAGE) rescore --rules-only
	$(MANAGE) train --if-none
	$(MANAGE) rescore --backfill-months 6
	$(MANAGE) demo_users --url http://$(HOST):$(PORT)/
	$(MANAGE) demo_plans
	$(MANAGE) demo_playbooks
	$(MANAGE) runserver $(HOST):$(PORT)

serve: install
	$(MANAGE) runserver $(HOST):$(PORT)

## make test: the whole suite, browser tests included (they skip without /usr/bin/chromium
## unless REQUIRE_BROWSER=1, as in CI). All but the browser tests run in TEST_PROCESSES processes
## (pytest-xdist; each its own test database and Redis database); the browser tests in one.
TEST_PROCESSES ?= 2
test: install
	$(PY) -m pytest -q -n $(TEST_PROCESSES) -m "not browser" --durations=25 tests
	$(PY) -m pytest -q -m browser --durations=10 tests/browser

test-fast: install
	$(PY) -m pytest -q -n $(TEST_PROCESSES) -m "not browser" tests

test-browser: install
	$(PY) -m pytest -q -m browser tests/browser

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

## make audit: known vulnerabilities in the locked dependencies (pip-audit, PyPI's database by default).
## Never claims success unless every package was checked; AUDIT_ARGS="--offline-ok" exits 0 when the
## service cannot be reached (CI), AUDIT_ARGS="--service osv" asks OSV instead.
AUDIT_ARGS ?=
audit: install
	$(PY) .ci/audit.py $(AUDIT_ARGS)

## make bench: performance figures as JSON (PostgreSQL: set DATABASE_URL), e.g. BENCH_ARGS="--events 200000"
bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tools db.sqlite3 db.sqlite3-* staticfiles
