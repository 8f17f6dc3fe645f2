# Quick start: `make run` (demo service on http://127.0.0.1:8080) and `make test` (whole suite).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: venv install install-test browser run test test-long bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python

install: venv
	$(BIN)/pip install --quiet -e .

install-test: venv
	$(BIN)/pip install --quiet -e '.[test,bench]'

# Debian's chromium for the browser tests (no browser download at run time).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: could not install chromium; browser tests will fail under CI"; }

run: install
	CDS_DEMO=1 CDS_AUTH=off $(BIN)/omalizumab-cds serve --host $(HOST) --port $(PORT)

test: install-test browser
	$(BIN)/python -m pytest

test-long: install-test browser
	CDS_LONG=1 $(BIN)/python -m pytest

bench: install-test
	$(BIN)/python bench/run_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
