# AWS SAM: build, validate and deploy template.yaml; the template's tests.
# Included by the root Makefile (VENV, BIN, PYTHON and SAM_CLI_TELEMETRY=0 come from there).
# aws-sam-cli pins its own boto3, click and pydantic, so it lives in its own virtualenv.
SAM_VENV := .build/sam-venv
SAM := $(SAM_VENV)/bin/sam

.PHONY: sam-install build validate deploy infra-tests

$(SAM_VENV)/.installed: requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	touch $@

sam-install: $(SAM_VENV)/.installed  ## create .build/sam-venv with the locked aws-sam-cli

build: $(SAM_VENV)/.installed  ## sam build: functions and layers into .aws-sam/build (no Docker, no local 3.13)
	$(SAM) build

validate: install $(SAM_VENV)/.installed  ## cfn-lint and sam validate --lint on template.yaml
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint

deploy: build  ## sam deploy --guided to your AWS account (needs credentials)
	$(SAM) deploy --guided

infra-tests: install $(SAM_VENV)/.installed  ## the template: content, handlers and settings, lint, a real sam build
	$(BIN)/pytest tests/infrastructure
