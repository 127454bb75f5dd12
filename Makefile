# pixelmill — `make test` on a fresh clone installs everything it needs and runs every check.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help install lint format unit integration infra-tests test lock clean bench openapi

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@

install: $(VENV)/.installed  ## create .venv with the locked dev and runtime libraries

lint: install  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers functions tests infra bench

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: install  ## unit tests: models, transforms, pure logic
	$(BIN)/pytest tests/unit

integration: install  ## handlers called in-process with real-shaped events on moto
	$(BIN)/pytest tests/integration

test: lint unit integration infra-tests  ## everything CI runs

lock: install  ## re-resolve requirements/*.txt from requirements/*.in, then `make install`
	cd requirements && ../$(BIN)/uv pip compile runtime.in --universal --python-version 3.11 --no-header -o runtime.txt
	cd requirements && ../$(BIN)/uv pip compile dev.in --universal --python-version 3.11 --no-header -o dev.txt
	cd requirements && ../$(BIN)/uv pip compile sam.in --python-version 3.11 --no-header -o sam.txt

clean:  ## remove the virtualenvs and build output
	rm -rf $(VENV) .build .aws-sam

include infra/sam.mk

bench: install  ## photo and raster benchmarks: ratios against plain Pillow / rasterio in the same process, raster peak memory
	PYTHONPATH=layers/shared:. $(BIN)/python bench/photo.py
	PYTHONPATH=layers/shared:. $(BIN)/python bench/raster.py

openapi: install  ## rewrite docs/openapi.json from the API's routes and models
	PYTHONPATH=layers/shared:. $(BIN)/python -m infra.openapi
