# 衢州碳普惠 — the two commands: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MO     := backend/translations/zh_Hans_CN/LC_MESSAGES/messages.mo
HOST   ?= 127.0.0.1
PORT   ?= 5000
export FLASK_APP := backend.app:create_app

.PHONY: lock run test lint translations compile-translations bench bench-smoke lighthouse backup restore clean

# Dependencies come from requirements.lock with every file's hash checked (--require-hashes);
# the project itself is installed on top, editable, without resolving anything again.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

## lock: regenerate requirements.lock (pins and hashes) from constraints.txt with pip-tools
lock:
	@test -x $(VENV)-tools/bin/pip-compile || { $(PYTHON) -m venv $(VENV)-tools && \
		$(VENV)-tools/bin/pip install -q pip-tools; }
	grep -v '^#' constraints.txt | grep . > $(VENV)-tools/requirements.in
	$(VENV)-tools/bin/pip-compile -q --generate-hashes --allow-unsafe --no-header \
		--no-annotate --strip-extras -o $(VENV)-tools/requirements.lock $(VENV)-tools/requirements.in
	{ printf '# Every dependency pinned with its hashes (pip --require-hashes): generated from constraints.txt by\n'; \
	  printf '# `make lock` (pip-tools: pip-compile --generate-hashes). Edit constraints.txt, then run `make lock`.\n\n'; \
	  grep -v '^--' $(VENV)-tools/requirements.lock | sed '/./,$$!d'; } > requirements.lock

$(MO): $(STAMP) backend/translations/zh_Hans_CN/LC_MESSAGES/messages.po
	$(BIN)/pybabel -q compile -d backend/translations

compile-translations: $(MO)

## run: the platform on embedded SQLite with demo data (no Redis needed: jobs run inline)
run: $(STAMP) $(MO)
	APP_ENV=development $(BIN)/flask db upgrade
	APP_ENV=development $(BIN)/flask demo load
	@echo ""
	@echo "  Mobile web:     http://$(HOST):$(PORT)/"
	@echo "  Admin console:  http://$(HOST):$(PORT)/admin/"
	@echo "  API docs:       http://$(HOST):$(PORT)/api/v1/docs"
	@echo ""
	APP_ENV=development $(BIN)/flask run --host $(HOST) --port $(PORT)

## test: the whole suite (SQLite by default; PostgreSQL/Redis with TEST_DATABASE_URL/TEST_REDIS_URL)
test: $(STAMP) $(MO)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## translations: extract messages and update the zh_CN catalog (then translate the new entries)
translations: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--omit-header -o backend/translations/messages.pot .
	$(BIN)/pybabel -q update -i backend/translations/messages.pot -d backend/translations \
		--no-fuzzy-matching --ignore-obsolete -w 100

clean:
	rm -rf $(VENV) instance .pytest_cache tools/lighthouse/node_modules

## bench: the benchmark (PostgreSQL + Redis + gunicorn + RQ workers on 127.0.0.1); see loadtests/README.md
## (BENCH_DB, BENCH_WEB_PORT, BENCH_CEILING_PORT, BENCH_REDIS_DB let two benches share a machine)
bench: $(STAMP) $(MO)
	$(BIN)/python loadtests/bench.py $(BENCH_ARGS)

bench-smoke: $(STAMP) $(MO)
	$(BIN)/python loadtests/bench.py --smoke

## lighthouse: Lighthouse (mobile) on /home, /offers and an action page with Debian's chromium;
## fails below performance 90 / accessibility 95 or a home page of 100 KB; results in loadtests/results/
LIGHTHOUSE_STAMP := tools/lighthouse/node_modules/.installed-stamp
$(LIGHTHOUSE_STAMP): tools/lighthouse/package.json tools/lighthouse/package-lock.json
	cd tools/lighthouse && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lighthouse: $(STAMP) $(MO) $(LIGHTHOUSE_STAMP)
	$(BIN)/python tools/lighthouse/run.py

## backup: pg_dump of DATABASE_URL (PostgreSQL) to backups/<UTC timestamp>.dump
backup:
	tools/backup.sh backup $(BACKUP_DIR)

## restore: make restore FILE=backups/<timestamp>.dump (pg_restore --clean --if-exists into
## DATABASE_URL, in one transaction; stop the web and workers first), then reconcile
restore:
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/<timestamp>.dump" >&2; exit 2; }
	tools/backup.sh restore $(FILE)
	$(BIN)/flask ledger reconcile
