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

lint: install $(ACTIONLINT_VENV)/.installed ## ruff, mypy, cfn-lint (+ serverless rules), sam validate --lint, checkov, actionlint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml stacks/event-catalogue.yaml stacks/monitoring.yaml --append-rules cfn_lint_serverless.rules --include-checks I
	$(BIN)/sam validate --lint
	for nested in $(NESTED_TEMPLATES); do $(BIN)/sam validate --lint --template $$nested || exit 1; done
	$(CHECKOV_VENV)/bin/checkov --file template.yaml $(addprefix --file ,$(NESTED_TEMPLATES)) --config-file .checkov.yaml
	$(ACTIONLINT_VENV)/bin/actionlint

pre-commit: install ## The pre-commit hooks (ruff, ruff-format, mypy, cfn-lint) on every file, as CI runs them
	$(BIN)/pre-commit run --all-files

test: lint $(CHROMIUM) ## Every linter, then every test on every core with coverage (fails under 90%); the 10 slowest last
	$(BIN)/pytest --numprocesses auto --cov --cov-report=term --durations 10

unit: install ## The tests that need no AWS at all (tests/unit), in seconds
	$(BIN)/pytest tests/unit

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
	ARCHITECTURE=$(LOCAL_ARCHITECTURE) $(BIN)/sam build --build-dir $(LOCAL_BUILD) --cache-dir $(LOCAL_BUILD)-cache \
		--parameter-overrides Architecture=$(LOCAL_ARCHITECTURE)

invoke: local-build lambda-image ## sam local invoke FUNCTION=<LogicalId> EVENT=<events/...json> against make local, or STACK=<deployed stack>
	$(SAM_LOCAL) invoke $(FUNCTION) $(EVENT) $(if $(STACK),--stack $(STACK))

start-api: local-build lambda-image ## sam local start-api on :3003 (SAM_API_PORT) against make local, or STACK=<deployed stack>
	$(SAM_LOCAL) start-api $(if $(STACK),--stack $(STACK))

sam-local: local-build lambda-image ## Every sample event through sam local invoke, then start-api, on the local cloud (ONLY=place_order/)
	$(SAM_LOCAL) check $(if $(ONLY),--only $(ONLY))

bench: build ## Cold init, AWS calls and code size per function; local cloud latency and a 2,000-order soak (ARGS=--profile, --only-local, --local-orders N)
	$(BIN)/python -m scripts.bench $(ARGS)

openapi: install ## Regenerate openapi.json from the API functions' resolvers
	PYTHONPATH=layer $(BIN)/python -m scripts.openapi

schemas: install ## Write the schema registry's stack (stacks/event-catalogue.yaml) from the event records in layer/orders/events.py
	PYTHONPATH=layer $(BIN)/python -m scripts.event_catalogue

seed: install ## Stock the inventory table from seed/inventory.json: STACK=<deployed stack>, or the local cloud
	PYTHONPATH=layer $(BIN)/python -m scripts.seed_inventory $(if $(STACK),--stack $(STACK))

webhook: install ## Sign and send a payment webhook: ORDER=<id> OUTCOME=succeeded|failed [STACK=<deployed stack>]
	PYTHONPATH=layer $(BIN)/python -m scripts.send_webhook --order $(ORDER) --outcome $(OUTCOME) $(if $(STACK),--stack $(STACK))

clean: ## Remove virtualenvs, build output and caches
	rm -rf $(VENV) $(CHECKOV_VENV) $(MINISTACK_VENV) $(ACTIONLINT_VENV) .aws-sam .bench .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
