# flask-stack: `make lab` brings the lab up (2 fronts + 2 app nodes by default, APPS=/FRONTS= for more); `make test` proves it all.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help venv docker image browser lint docs lock test test-app test-controller molecule lab lab-down bench clean

help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt app/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -e 'app[test]'
	@touch $@

venv: $(STAMP) ## Create .venv with the pinned controller toolchain (installs nothing when up to date).

docker: ## Make sure a Docker engine answers (installs docker.io and starts dockerd if needed).
	scripts/ensure-docker

image: docker ## Build the Debian 12 node image unless it is up to date.
	scripts/node-image

browser: ## Install Debian's Chromium and chromedriver for the browser test.
	scripts/ensure-browser

lint: venv ## yamllint, ansible-lint (production profile) and ruff.
	yamllint --strict .
	ansible-lint --strict
	ruff check .
	ruff format --check .
	$(BIN)/python scripts/role_docs.py --check

docs: venv ## Regenerate each role README's variable table from meta/argument_specs.yml.
	$(BIN)/python scripts/role_docs.py

lock: venv ## Regenerate the app's hash locks (app/requirements.lock, app/requirements-build.lock); commit them.
	scripts/lock-deps

test-app: venv ## The Flask app's pytest suite.
	pytest -q app/tests

test-controller: venv ## Controller-side pytest suite (scripts, inventories), one worker per CPU.
	pytest -q -n auto tests

# The Molecule scenarios; the first (the longest) gets a lane of its own, the others run one
# after the other beside it (scripts/lanes.py). SCENARIOS="app nginx" runs some of them.
SCENARIOS ?= default app common nginx
__first := $(addprefix molecule:,$(firstword $(SCENARIOS)))
__rest := $(addprefix molecule:,$(wordlist 2,$(words $(SCENARIOS)),$(SCENARIOS)))

molecule: venv image browser ## Molecule scenarios (converge, idempotence, verify), side by side; SCENARIOS="app nginx" for some; logs in artifacts/molecule/.
	$(BIN)/python scripts/lanes.py "$(__first)" "$(__rest)"

test: docker image browser venv ## Everything CI runs: lint and the pytest suites beside the first scenario, then the others; logs in artifacts/.
	$(BIN)/python scripts/lanes.py "$(__first)" "make:lint make:test-app make:test-controller $(__rest)"

lab: venv image ## Bring up the lab over SSH and converge it; size APPS=N (>=1), FRONTS=M (>=2): default 2+2 or as it is now.
	$(BIN)/python scripts/lab.py up $(if $(APPS),--apps $(APPS)) $(if $(FRONTS),--fronts $(FRONTS))

bench: venv ## Measure the running lab: req/s, latency, CPU per request per tier, operations; writes artifacts/bench/.
	$(BIN)/python -m bench $(BENCH_ARGS)

lab-down: ## Remove everything `make lab` made.
	@if [ -x $(BIN)/python ]; then $(BIN)/python scripts/lab.py down; else $(PYTHON) scripts/lab.py down; fi

clean: lab-down ## Remove the lab, the venv and caches.
	rm -rf $(VENV) .cache .build artifacts
