# CRM Custody — every entry point. A fresh machine needs only python3 (3.11+), node 20+ and npm;
# everything else is installed from the lock files (uv.lock, package-lock.json).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
TOOLS      := .tools
UV         := $(TOOLS)/bin/uv
PY         := .venv/bin/python
RUN        := $(UV) run --frozen --no-sync
LAMBDA_DEPS := build/lambda-deps
LAMBDA_PYTHON := 3.13
LAMBDA_PLATFORM := aarch64-manylinux_2_28

export CDK_DISABLE_CLI_TELEMETRY := 1
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export UV_PYTHON_DOWNLOADS := never
# Byte-compile at install: imports of moto, botocore and CDK then load .pyc files, even where the
# environment sets PYTHONDONTWRITEBYTECODE (which would otherwise recompile them every run).
export UV_COMPILE_BYTECODE := 1
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help setup test lint web synth preflight deploy diff lambda-deps clean browser posture posture-check soak

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(LAMBDA_DEPS)/.built: $(UV) pyproject.toml uv.lock
	rm -rf $(LAMBDA_DEPS) && mkdir -p $(LAMBDA_DEPS)
	$(UV) export --frozen --no-dev --no-default-groups --no-emit-project --no-hashes --format requirements-txt \
		> $(LAMBDA_DEPS)/requirements.txt
	$(UV) pip install --quiet --target $(LAMBDA_DEPS)/python --python-version $(LAMBDA_PYTHON) \
		--python-platform $(LAMBDA_PLATFORM) --only-binary :all: --no-deps -r $(LAMBDA_DEPS)/requirements.txt
	find $(LAMBDA_DEPS)/python -name '__pycache__' -prune -exec rm -rf {} +
	@touch $@

WEB_SOURCES := $(shell find web -type f 2>/dev/null)

build/web/.built: node_modules/.installed $(WEB_SOURCES) docs/openapi.json
	node web/build.mjs

web: build/web/.built ## Build the privacy center, the staff and auditor console and the API reference into build/web

setup: .venv/.synced node_modules/.installed $(LAMBDA_DEPS)/.built build/web/.built ## Install everything from the lock files

lambda-deps: $(LAMBDA_DEPS)/.built ## Bundle the functions' third-party wheels for Lambda (arm64), no Docker

test: setup ## Run the whole suite (installs the headless browser first when it is missing)
	@command -v chromium >/dev/null 2>&1 || $(MAKE) --no-print-directory browser || \
		echo "make test: no chromium; the HTML report's screenshot test and the browser tier (tests/browser) will skip"
	$(RUN) pytest

browser: ## Install Debian's chromium (the browser tier, tests/browser, and the HTML report's screenshots) when missing
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then echo "browser: no apt-get here; install chromium yourself" >&2; exit 1; \
	else SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; fi

lint: setup synth ## ruff, mypy, cfn-lint and parliament (IAM) on the template, asl-validator on the ASL, checkov (make posture)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) cfn-lint cdk.out/*.template.json
	$(RUN) python -m devstack.iam.lint cdk.out/CrmCustody.template.json
	npx asl-validator --json-path statemachines/erasure.asl.json
	@$(MAKE) --no-print-directory posture-check

# checkov lives in its own pinned environment (tools/checkov: pyproject + uv.lock): its
# dependencies (boto3 1.35 and others) would fight the project's. Offline: --skip-download.
# Skips are per resource, with a reason, in the template's Metadata (infra.nag.checkov_skip).
CHECKOV := $(UV) run --frozen --quiet --project tools/checkov checkov

posture: setup synth posture-check ## checkov (offline, isolated env) on the synthesized template: no failed check

posture-check:
	$(CHECKOV) --skip-download --quiet --compact --framework cloudformation \
		$(foreach template,$(wildcard cdk.out/*.template.json),-f $(template))

soak: setup ## The robustness suite at length (many seeded fault runs, every crash point, more fuzzing); figures in reports/robustness.json
	CUSTODY_ROBUSTNESS_PROFILE=soak $(RUN) pytest tests/robustness -q -p no:cacheprovider

synth: setup ## Synthesize the CloudFormation template into cdk.out/ (no network, no Docker)
	npx cdk synth --quiet

diff: setup ## Show what a deploy would change
	npx cdk diff

preflight: setup ## What your AWS account lacks before a deploy (read-only; `custody preflight -c k=v` to vary)
	$(RUN) custody preflight

deploy: setup ## Deploy to the account of your AWS credentials (run `make preflight` first)
	npx cdk deploy --require-approval broadening

.PHONY: up demo smoke bench

up: setup ## Start the embedded local stack (AWS on 127.0.0.1:5000, API on 127.0.0.1:3000) until Ctrl-C
	$(RUN) custody local up

demo: setup ## Start the local stack, walk the customer journey over HTTP, keep serving until Ctrl-C
	$(RUN) custody local demo

smoke: setup ## The customer journey on a fresh local stack (free ports), non-interactively; exit 0 if it held
	$(RUN) custody local smoke

bench: setup ## Benchmarks as markdown tables; figures in benchmarks/results/latest.json
	$(RUN) python -m benchmarks.run

clean: ## Remove what the build made (not the lock files)
	rm -rf .venv $(TOOLS) node_modules build cdk.out .pytest_cache .mypy_cache .ruff_cache
