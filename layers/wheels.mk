# Shared by layers/core/Makefile and layers/imaging/Makefile, which `sam build` runs (Metadata
# BuildMethod: makefile, ContextPath: layers/<name>) in a scratch copy of requirements/ with
# ARTIFACTS_DIR set: the one runtime lock is ./runtime.txt, and each layer installs its group
# (core.in, imaging.in) by name with that lock as constraints, so both layers together are the lock.
#
# pip fetches the wheels Lambda's python3.13 on Amazon Linux 2023 (glibc 2.34) loads,
# whatever the local interpreter is: no Docker, no local 3.13 (sam build asks for neither
# with BuildMethod: makefile).
# Every manylinux tag up to glibc 2.34 is listed: older pips (23.x) take only the exact
# platforms given, and e.g. pydantic-core ships manylinux_2_17 (manylinux2014) wheels.
# --no-compile: the local interpreter would write *.cpython-311.pyc files Lambda never reads.
#
# ARCHITECTURE is the template's Architecture parameter (x86_64 or arm64). sam's makefile builder
# does not pass it on: `make build ARCHITECTURE=arm64` passes it to both (sam build
# --parameter-overrides Architecture=arm64, and this variable in the environment).

PYTHON ?= python3
LOCK ?= runtime.txt
ARCHITECTURE ?= x86_64
MACHINE := $(if $(filter arm64,$(ARCHITECTURE)),aarch64,$(if $(filter x86_64,$(ARCHITECTURE)),x86_64,$(error ARCHITECTURE is x86_64 or arm64, not $(ARCHITECTURE))))
PLATFORMS := manylinux_2_34_$(MACHINE) manylinux_2_28_$(MACHINE) manylinux_2_17_$(MACHINE) manylinux2014_$(MACHINE)
LAYERS_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

# $(call install_group,<group>.in): that group's packages and their dependencies, at the lock's versions.
define install_group
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is not set: run `sam build`, or pass ARTIFACTS_DIR=<dir>))
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-compile \
		$(addprefix --platform ,$(PLATFORMS)) --implementation cp --python-version 3.13 --abi cp313 \
		--only-binary=:all: --target "$(ARTIFACTS_DIR)/python" -r "$(1)" -c "$(LOCK)"
endef
