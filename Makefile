# Entry points named in the README. Everything a fresh machine needs is installed from here.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP  := $(VENV)/.installed
CATALOG_STAMP := var/catalog/manifest.json
MODEL_STAMP   := var/models/registry.json

.PHONY: install browser java postgres run serve test check lint bench bench-all catalog model train dev-figures clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,spark]'
	touch $(STAMP)

$(CATALOG_STAMP): | $(STAMP)
	$(BIN)/medcode codes import

## install: .venv with every dependency and the code-set catalog built from the data folder
install: $(STAMP) $(CATALOG_STAMP)

BROWSER_PACKAGES := chromium chromium-driver

## browser: Debian's chromium and chromedriver (tests/e2e drive the review pages with them);
## installed with apt-get when running as root, otherwise says what to install
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing $(BROWSER_PACKAGES) (Debian) for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null; }; \
	else \
	  echo "note: the browser tests (tests/e2e/test_review_pages.py) are skipped without Debian's" \
	       "chromium and chromedriver; install them with: sudo apt-get install $(BROWSER_PACKAGES)"; \
	fi

## java: Debian's Java runtime for the Spark engine of `medcode batch` (tests/batch run it on
## local[2]); installed with apt-get when running as root, otherwise says what to install
java:
	@if command -v java >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing openjdk-17-jre-headless (Debian) for the Spark engine's tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q openjdk-17-jre-headless >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q openjdk-17-jre-headless >/dev/null; }; \
	else \
	  echo "note: the Spark engine's tests are skipped without Java;" \
	       "install it with: sudo apt-get install openjdk-17-jre-headless"; \
	fi

## postgres: a PostgreSQL server for the database tests (they start their own on loopback);
## Debian's postgresql installed with apt-get when running as root and none is found
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing postgresql (Debian) for the database tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q postgresql >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }; \
	else \
	  echo "note: the PostgreSQL variants of tests/db are skipped without a PostgreSQL server;" \
	       "install it with: sudo apt-get install postgresql"; \
	fi

catalog: $(STAMP)
	$(BIN)/medcode codes import

$(MODEL_STAMP): | $(CATALOG_STAMP)
	$(BIN)/medcode train $(TRAIN_ARGS)

## model: the default model (CodiEsp train+dev), trained and promoted unless one is promoted;
## TRAIN_ARGS='--data ... --promote' trains another instead (the Dockerfile's build argument)
model: install $(MODEL_STAMP)

## run: install, train the default model if there is none, bring the database's schema up
## to date, then serve
run: model
	$(BIN)/medcode db upgrade
	$(BIN)/medcode serve --host $(HOST) --port $(PORT)

## train: train the default model again and promote it
train: install
	$(BIN)/medcode train

## dev-figures: the README's dev figures: train on CodiEsp train, evaluate on dev, with report
dev-figures: install
	$(BIN)/medcode train --data codiesp:train
	$(BIN)/medcode evaluate --model latest --data codiesp:dev

## test: install, then every test except benchmarks
test: install browser java postgres
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## check: the one gate: format, lint, types, import contracts, tests
check: lint test

## bench: the performance benchmark, bounded to 15 minutes with `make model` on a fresh
## clone: /suggest latency by note length against the tokenizer floor, throughput with 1 and
## 2 workers, memory, start-up, /codes/search, batch and train; a table on stdout, figures
## in var/bench/results.json, plot in var/bench/latency_by_length.png. It reports, never gates
bench: model
	$(BIN)/pytest -m bench -s -p no:cacheprovider tests/bench/test_performance.py

## bench-all: every benchmark in tests/bench: bench's, and quality (candidate recall, the
## ranker on dev, text sources), worst-case notes and 60 s of load from 32 clients
bench-all: model
	$(BIN)/pytest -m bench -s -p no:cacheprovider tests/bench

clean:
	rm -rf $(VENV) var
