# pixelmill — `make test` on a fresh clone installs everything it needs and runs every check.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv --no-config
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help install dev lint format unit integration e2e infra-tests test lock clean bench openapi

# `make dev` options: ports, where to listen, keeping the data across restarts.
API_PORT ?= 3000
AWS_PORT ?= 5005
HOST ?= 127.0.0.1
KEEP_DATA ?=
DATA_DIR ?= .local-data

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# uv (its locked version) installs the lock in seconds; pip would take a minute.
	$(BIN)/pip install --quiet --disable-pip-version-check "$$(grep -E '^uv==' requirements/dev.txt)"
	$(UV) pip install --quiet --python $(BIN)/python -r requirements/dev.txt
	# The `pixelmill` command (cli/), editable; its one dependency (requests) is in the lock.
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed  ## create .venv with the locked dev and runtime libraries

dev: install  ## run the whole service locally (moto + local API Gateway + event sources) until Ctrl-C
	PYTHONPATH=layers/shared:. $(BIN)/python -m infra.local --host $(HOST) --api-port $(API_PORT) --aws-port $(AWS_PORT) \
		$(if $(KEEP_DATA),--data-dir $(DATA_DIR))

lint: install  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers functions tests infra bench cli

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: install  ## unit tests: models, transforms, pure logic
	$(BIN)/pytest tests/unit

integration: install  ## handlers called in-process with real-shaped events on moto
	$(BIN)/pytest tests/integration

e2e: install  ## end-to-end: starts the local stack on free ports, real HTTP, the CLI
	$(BIN)/pytest tests/e2e

test: lint unit integration e2e infra-tests  ## everything CI runs

lock: install  ## re-resolve requirements/*.txt from requirements/*.in, then `make install`
	cd requirements && ../$(BIN)/uv pip compile runtime.in --universal --python-version 3.11 --no-header -o runtime.txt
	cd requirements && ../$(BIN)/uv pip compile dev.in --universal --python-version 3.11 --no-header -o dev.txt
	cd requirements && ../$(BIN)/uv pip compile sam.in --python-version 3.11 --no-header -o sam.txt
	cd requirements && ../$(BIN)/uv pip compile checkov.in --python-version 3.11 --no-header -o checkov.txt

clean:  ## remove the virtualenvs and build output
	rm -rf $(VENV) .build .aws-sam

include infra/sam.mk

bench: install  ## photo benchmarks against libvips, raster ones against rasterio, image URLs' overhead and cache hits, cold imports against bare dependencies, the cost of isolating a transform: ratios in one run
	PYTHONPATH=layers/shared:. $(BIN)/python bench/photo.py
	PYTHONPATH=layers/shared:. $(BIN)/python bench/raster.py
	PYTHONPATH=layers/shared:. $(BIN)/python bench/image_urls.py
	PYTHONPATH=layers/shared:. $(BIN)/python bench/imports.py
	PYTHONPATH=layers/shared:. $(BIN)/python bench/isolation.py

openapi: install  ## rewrite docs/openapi.json from the API's routes and models
	PYTHONPATH=layers/shared:. $(BIN)/python -m infra.openapi
