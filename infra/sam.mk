# AWS SAM: build, validate and deploy template.yaml; the template's tests.
# Included by the root Makefile (VENV, BIN, PYTHON and SAM_CLI_TELEMETRY=0 come from there).
# aws-sam-cli pins its own boto3, click and pydantic, so it lives in its own virtualenv.
SAM_VENV := .build/sam-venv
SAM := $(SAM_VENV)/bin/sam
# The template's Architecture parameter: x86_64 (default) or arm64 (Graviton). The layers'
# Makefiles read it from the environment to fetch that architecture's wheels.
ARCHITECTURE ?= x86_64
export ARCHITECTURE
# checkov pins its own boto3 (older than the runtime's): it has a virtualenv and a lock of its own too.
CHECKOV_VENV := .build/checkov-venv

# layers/trim.py strips the imaging layer's shared objects with the binutils of the layer's architecture:
# builds for the other one need its cross binutils (Debian bookworm's, pinned; apt as root, else sudo).
# Without apt (not Debian), they are left unstripped and trim.py says so.
OTHER_MACHINE := $(if $(filter aarch64,$(shell uname -m)),x86_64,aarch64)
CROSS_BINUTILS := binutils-$(subst _,-,$(OTHER_MACHINE))-linux-gnu=2.40-2
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o=Dpkg::Use-Pty=0

.PHONY: sam-install checkov-install build-tools build validate deploy infra-tests

$(SAM_VENV)/.installed: requirements/sam.txt $(VENV)/.installed
	$(PYTHON) -m venv $(SAM_VENV)
	$(UV) pip install --quiet --python $(SAM_VENV)/bin/python -r requirements/sam.txt
	touch $@

sam-install: $(SAM_VENV)/.installed  ## create .build/sam-venv with the locked aws-sam-cli

$(CHECKOV_VENV)/.installed: requirements/checkov.txt $(VENV)/.installed
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements/checkov.txt
	touch $@

checkov-install: $(CHECKOV_VENV)/.installed  ## create .build/checkov-venv with the locked checkov

build-tools:  ## the other architecture's binutils (strip), for building its layers
	@command -v $(OTHER_MACHINE)-linux-gnu-strip >/dev/null || ! command -v apt-get >/dev/null \
		|| $(APT) install --no-install-recommends $(CROSS_BINUTILS) \
		|| { $(APT) update && $(APT) install --no-install-recommends $(CROSS_BINUTILS); }

build: $(SAM_VENV)/.installed build-tools  ## sam build: functions and layers into .aws-sam/build (ARCHITECTURE=arm64 for Graviton)
	$(SAM) build --parameter-overrides Architecture=$(ARCHITECTURE)

validate: install $(SAM_VENV)/.installed  ## cfn-lint and sam validate --lint on template.yaml
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint

deploy: build  ## sam deploy --guided to your AWS account (needs credentials)
	$(SAM) deploy --guided --parameter-overrides Architecture=$(ARCHITECTURE)

infra-tests: install $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed build-tools  ## the template: content, handlers and settings, lint, checkov, a real sam build
	$(BIN)/pytest tests/infrastructure

# --- sam local (needs Docker) against the local stack: run `make dev` in another terminal ---
# From inside sam's container the emulator is the host's port 5005 (on Linux Docker Engine,
# also pass SAM_LOCAL_ARGS="--docker-network host" SAM_LOCAL_ENDPOINT=http://127.0.0.1:5005).
SAM_LOCAL_ENDPOINT ?= http://host.docker.internal:5005
SAM_LOCAL_ARGS ?=
SAM_LOCAL_ENV := .build/sam-local-env.json

.PHONY: invoke-api invoke-processor invoke-sweeper invoke-ingest start-api

$(SAM_LOCAL_ENV): template.yaml $(VENV)/.installed
	mkdir -p $(dir $@)
	PYTHONPATH=layers/shared:. $(BIN)/python -m infra.local.sam_env --endpoint $(SAM_LOCAL_ENDPOINT) > $@

invoke-api: build $(SAM_LOCAL_ENV)  ## sam local invoke ApiFunction with events/api-create-task.json (Docker)
	$(SAM) local invoke ApiFunction --event events/api-create-task.json --env-vars $(SAM_LOCAL_ENV) $(SAM_LOCAL_ARGS)

invoke-processor: build $(SAM_LOCAL_ENV)  ## sam local invoke ProcessorFunction with events/sqs-task-batch.json (Docker)
	$(SAM) local invoke ProcessorFunction --event events/sqs-task-batch.json --env-vars $(SAM_LOCAL_ENV) $(SAM_LOCAL_ARGS)

invoke-sweeper: build $(SAM_LOCAL_ENV)  ## sam local invoke SweeperFunction with events/schedule-sweep.json (Docker)
	$(SAM) local invoke SweeperFunction --event events/schedule-sweep.json --env-vars $(SAM_LOCAL_ENV) $(SAM_LOCAL_ARGS)

invoke-ingest: build $(SAM_LOCAL_ENV)  ## sam local invoke IngestFunction with events/s3-incoming-put.json (Docker)
	$(SAM) local invoke IngestFunction --event events/s3-incoming-put.json --env-vars $(SAM_LOCAL_ENV) $(SAM_LOCAL_ARGS)

start-api: build $(SAM_LOCAL_ENV)  ## sam local start-api on port 3001 (Docker); `make dev` needs no Docker
	$(SAM) local start-api --port 3001 --env-vars $(SAM_LOCAL_ENV) $(SAM_LOCAL_ARGS)
