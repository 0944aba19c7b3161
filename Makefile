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

.PHONY: help venv docker image image-ready browser promtool lint docs lock test test-app test-controller molecule lab lab-down bench clean

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

lint: venv ## yamllint, ansible-lint (production profile), ruff, role READMEs, no unencrypted vault file.
	yamllint --strict .
	ansible-lint --strict
	ruff check .
	ruff format --check .
	$(BIN)/python scripts/role_docs.py --check
	$(BIN)/python scripts/check_vaults.py

docs: venv ## Regenerate each role README's variable table from meta/argument_specs.yml.
	$(BIN)/python scripts/role_docs.py

lock: venv ## Regenerate the app's hash locks (app/requirements.lock, app/requirements-build.lock); commit them.
	scripts/lock-deps

test-app: venv ## The Flask app's pytest suite.
	pytest -q app/tests

promtool: ## Unpack Debian's promtool into .cache/promtool/ for the alert rules' tests (nothing installed).
	scripts/ensure-promtool

test-controller: venv promtool ## Controller-side pytest suite (scripts, inventories, alert rules), one worker per CPU.
	pytest -q -n auto tests

# The Molecule scenarios in two lanes side by side (scripts/lanes.py): the first lane runs
# those of LANE1 that SCENARIOS names, one after the other in LANE1's order (the longest,
# default, alone), or else the first scenario; the second lane the others, one after the other.
# SCENARIOS="app nginx" runs some of them.
SCENARIOS ?= default app nginx acme
LANE1 ?= default
__lane1 := $(or $(filter $(SCENARIOS),$(LANE1)),$(firstword $(SCENARIOS)))
__first := $(addprefix molecule:,$(__lane1))
__rest := $(addprefix molecule:,$(filter-out $(__lane1),$(SCENARIOS)))

molecule: venv image browser ## Molecule scenarios (converge, idempotence, verify), side by side; SCENARIOS="app nginx" for some; logs in artifacts/molecule/.
	$(BIN)/python scripts/lanes.py "$(__first)" "$(__rest)"

# The node image and Chromium are made in the first lane while the second runs lint and the
# pytest suites, which need neither (on a new machine that is about a minute and a half);
# the second lane's image-ready waits for the first lane's build (scripts/node-image holds a lock).
test: docker venv promtool ## Everything CI runs: lint and the pytest suites beside the first scenario, then the others; logs in artifacts/.
	$(BIN)/python scripts/lanes.py "make:image make:browser $(__first)" "make:lint make:test-app make:test-controller make:image-ready $(__rest)"

image-ready: ## The node image, waiting for a build another job runs (make test's second lane).
	scripts/node-image

lab: venv image ## Bring up the lab over SSH and converge it; size APPS=N (>=1), FRONTS=M (>=2), MONITOR=0|1: default 2+2+1 or as it is now.
	$(BIN)/python scripts/lab.py up $(if $(APPS),--apps $(APPS)) $(if $(FRONTS),--fronts $(FRONTS)) $(if $(MONITOR),--monitor $(MONITOR))

bench: venv ## Measure the running lab: req/s, latency, CPU per request per tier, operations; writes artifacts/bench/.
	$(BIN)/python -m bench $(BENCH_ARGS)

lab-down: ## Remove everything `make lab` made.
	@if [ -x $(BIN)/python ]; then $(BIN)/python scripts/lab.py down; else $(PYTHON) scripts/lab.py down; fi

clean: lab-down ## Remove the lab, the venv and caches.
	rm -rf $(VENV) .cache .build artifacts

# --- Day to day: one short command per operation ---------------------------------------------
# Each runs its playbook against INVENTORY and ends with one line that says what it did (the
# playbook's "Say what the run did", or why it failed). Options are make variables, handed to
# the playbook as JSON extra vars (never through a shell unquoted): RELEASE= (deploy,
# rollback), SINCE= GREP= NODES= LINES= NGINX= (logs), NODES= (exec), MESSAGE= ALLOW=
# (maintenance-on); ARGS= adds ansible-playbook options (ARGS=--check, ARGS=-v).
.PHONY: site deploy rollback restart status logs exec maintenance-on maintenance-off
INVENTORY ?= inventory/lab

# The options as typed: make expands nothing in them ('$$' and '$(...)' reach the node's shell
# in CMD, a '$' ends a GREP regex).
__OPS_VARS := RELEASE SINCE GREP NODES LINES NGINX CMD MESSAGE ALLOW
$(foreach v,$(__OPS_VARS),$(if $(filter command line,$(origin $(v))),$(eval override $(v) := $$(value $(v)))$(eval export $(v))))

# {"key": value} for each key=NAME whose environment variable NAME is set and not empty.
export __OPS_JSON := import json, os, sys; print(json.dumps({k: os.environ[n] for k, _, n in (a.partition("=") for a in sys.argv[1:]) if os.environ.get(n)}))
# The last "Say what the run did" message of a run, or its first failure.
export __OPS_SAY := \
  function unquote(s) { sub(/^[|>]-? */, "", s); \
    if (s ~ /^'.*'$$/) { s = substr(s, 2, length(s) - 2); gsub(/''/, "'", s) } \
    else if (s ~ /^".*"$$/) { s = substr(s, 2, length(s) - 2); gsub(/\\"/, "\"", s) } \
    gsub(/^ +| +$$/, "", s); return s } \
  /^TASK \[/ { say = index($$0, "TASK [Say what the run did]") == 1; fatal = 0; cont = 0; next } \
  /^(fatal|failed): \[/ { fatal = 1; cont = 0; next } \
  /^\.\.\.ignoring/ { if (from_fatal) { f = ""; from_fatal = 0 } next } \
  /^\[ERROR\]: / && e == "" { e = substr($$0, 10); next } \
  /^    msg: / { cont = 0; v = substr($$0, 10); \
    if (say) { m = v; which = "m"; cont = 1 } else if (fatal && f == "") { f = v; which = "f"; cont = 1; from_fatal = 1 } next } \
  /^[^ ]+ +: ok=[0-9]+ / && $$1 != "localhost" { hosts = hosts (hosts == "" ? "" : ", ") $$1 } \
  cont && /^        / { sub(/^ +/, " "); if (which == "m") m = m $$0; else f = f $$0; next } \
  { cont = 0 } \
  END { if (rc == 0) print "==> " (m != "" ? unquote(m) : "make " op ": done on " (hosts != "" ? hosts : "no node") "."); \
        else print "==> make " op " failed (ansible-playbook exit " rc ")" (f != "" ? ": " unquote(f) : e != "" ? ": " e : "; see above.") }

# $(call __ops_run,<playbook>,<key=NAME ...>,<more ansible-playbook arguments>)
define __ops_run
	@set +e; log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	extra=$$($(BIN)/python -c "$$__OPS_JSON" $(2)); \
	ansible-playbook -i $(INVENTORY) playbooks/$(1).yml -e "$$extra" $(3) $(ARGS) 2>&1 | tee "$$log"; rc=$${PIPESTATUS[0]}; \
	awk -v rc=$$rc -v op='$@' "$$__OPS_SAY" "$$log"; exit $$rc
endef

site: venv ## Converge the whole stack on INVENTORY (default inventory/lab), one app node at a time.
	$(call __ops_run,site)

deploy: venv ## Ship a new release, one app node at a time without a failed request; RELEASE=<id> names it.
	$(call __ops_run,deploy,release=RELEASE)

rollback: venv ## Go back to the previous release (RELEASE=<id> for another one the nodes keep).
	$(call __ops_run,rollback,release=RELEASE)

restart: venv ## Restart the app on every app node, one at a time, each drained first.
	$(call __ops_run,restart)

status: venv ## One line per node: service, release, health, limits, certificate days; the deploy lock.
	$(call __ops_run,status)

logs: venv ## Every node's logs merged by time; SINCE='10 min ago' GREP=<regex> NODES=app1,front2 LINES=200 NGINX=true.
	$(call __ops_run,logs,since=SINCE grep=GREP nodes=NODES lines=LINES nginx=NGINX)

exec: venv ## Run CMD='...' as the app (its venv, environment, user) on every app node, or NODES=app1; prints each exit code.
	$(call __ops_run,exec,cmd=CMD nodes=NODES)

maintenance-on: venv ## Maintenance page (503) on every front; MESSAGE='Back at 14:00 UTC.' ALLOW=<networks that still get the app>.
	$(call __ops_run,maintenance,message=MESSAGE allow=ALLOW,-e state=on)

maintenance-off: venv ## Serve the app again on every front.
	$(call __ops_run,maintenance,,-e state=off)
