# The two commands of README: `make demo` (the whole pipeline with sample data) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: help prereqs venv assets runtime test test-sql test-cli test-e2e test-faults demo stop bench

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

prereqs:  ## install missing system prerequisites (PostgreSQL, Java 17, Maven) with apt-get when root
	@bash .ci/install-prereqs

venv: $(BIN)/whctl assets  ## the virtualenv with whctl and the test dependencies, and the dashboard's assets

VENDOR := cli/whctl/web/static/vendor
assets: $(VENDOR)/uPlot.iife.min.js  ## the dashboard's charting library (uPlot), from npm with the committed lock file

$(VENDOR)/uPlot.iife.min.js: web-assets/package-lock.json
	npm ci --prefix web-assets --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp web-assets/node_modules/uplot/dist/uPlot.iife.min.js web-assets/node_modules/uplot/dist/uPlot.min.css web-assets/node_modules/uplot/LICENSE $(VENDOR)/

$(BIN)/whctl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

runtime: venv  ## resolve Kafka, Connect and Debezium jars from Maven Central into the state folder
	$(BIN)/whctl stack fetch

test: prereqs venv runtime  ## run every test suite (SQL, CLI, end-to-end on the real stack)
	$(BIN)/pytest tests

test-sql: prereqs venv  ## the SQL-level tests of the engine only (PostgreSQL, no Kafka)
	$(BIN)/pytest tests/sql

test-cli: prereqs venv
	$(BIN)/pytest tests/cli

test-e2e: prereqs venv runtime
	$(BIN)/pytest tests/e2e

test-faults: prereqs venv runtime  ## the fault suite alone: kill -9 of each component under load, then only `whctl stack up`
	$(BIN)/pytest -m faults tests/e2e

demo: prereqs venv runtime  ## bring the stack up, deploy, seed, play the three scenarios, show status and KPIs, start the dashboard
	$(BIN)/whctl stack up
	$(BIN)/whctl deploy
	$(BIN)/whctl seed
	$(BIN)/whctl demo all
	@echo; echo "== whctl status =="
	-@$(BIN)/whctl status
	@echo; echo "== the proposal's KPI queries (whctl kpi --sql shows them) =="
	@$(BIN)/whctl kpi --limit 5
	@$(BIN)/whctl verify --wait 60 >/dev/null || echo "whctl verify found problems: see the dashboard's data quality"
	@echo; echo "== the dashboard (whctl serve, in the background; make stop stops it) =="
	@$(BIN)/whctl serve --background
	@echo
	@echo "Next:"
	@echo "  - the SCD notebook, run headless into .whctl/SCD_Demo.html (charts included):"
	@echo "      $(BIN)/pip install nbconvert && $(BIN)/jupyter nbconvert --to html --execute notebooks/SCD_Demo.ipynb --output-dir .whctl"
	@echo "    (on a desktop: $(BIN)/pip install jupyterlab && $(BIN)/jupyter lab notebooks/SCD_Demo.ipynb)"
	@echo "  - more changes:      $(BIN)/whctl demo customer-move   (or price-change, new-order)"
	@echo "  - health:            $(BIN)/whctl status --watch"
	@echo "  - stop everything:   make stop"

stop:  ## stop every process of the local stack
	@if [ -x $(BIN)/whctl ]; then $(BIN)/whctl stack down; fi
