# Quick start: `make run` (demo service on http://127.0.0.1:8080) and `make test` (whole suite).
# `make sandbox`: the real CDS Hooks Sandbox (../shared/tools/cds-hooks-sandbox) against the demo, auth ON.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
SANDBOX_DIR ?= ../shared/tools/cds-hooks-sandbox
SANDBOX_PORT ?= 8081

.PHONY: venv install install-test browser fhir-server-deps fhir-server run sandbox test test-long bench clean

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

# The real FHIR R4 server of the integration tests (tools/fhir_server: Medplum's FHIR router from npm).
# Needs Node.js >= 20.19 and npm; installed once into tools/fhir_server/node_modules (gitignored).
FHIR_SERVER_DIR := tools/fhir_server
FHIR_SERVER_PORT ?= 8090

$(FHIR_SERVER_DIR)/node_modules/.package-lock.json: $(FHIR_SERVER_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  (cd $(FHIR_SERVER_DIR) && npm ci --no-audit --no-fund --silent) \
	  || echo "WARNING: npm ci failed in $(FHIR_SERVER_DIR): the real-FHIR-server tests will skip (and fail under CI)"; \
	else echo "WARNING: npm not found: the real-FHIR-server tests will skip (and fail under CI)"; fi

fhir-server-deps: $(FHIR_SERVER_DIR)/node_modules/.package-lock.json

# For a person: start it on 127.0.0.1:$(FHIR_SERVER_PORT), load the demo patients, print the base URL.
fhir-server: install fhir-server-deps
	$(BIN)/python $(FHIR_SERVER_DIR)/launcher.py --port $(FHIR_SERVER_PORT)

run: install
	CDS_DEMO=1 CDS_AUTH=off $(BIN)/omalizumab-cds serve --host $(HOST) --port $(PORT)

# Serves the Sandbox on $(SANDBOX_PORT), the demo service with CDS_AUTH=jwt on $(PORT); prints the URLs to open.
sandbox: install
	$(BIN)/python -m demo.sandbox --sandbox-dir $(SANDBOX_DIR) --host $(HOST) --port $(PORT) --sandbox-port $(SANDBOX_PORT)

test: install-test browser fhir-server-deps
	$(BIN)/python -m pytest

test-long: install-test browser fhir-server-deps
	CDS_LONG=1 $(BIN)/python -m pytest

bench: install-test
	$(BIN)/python bench/run_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache $(FHIR_SERVER_DIR)/node_modules
