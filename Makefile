# Build, test and demo entry points. Each part of the workspace adds its own targets in mk/*.mk
# and appends its test target to TEST_TARGETS.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(ROOT)/target

VENV := $(ROOT)/.venv
PYTHON ?= python3
# Pinned: moto's server is the local AWS emulator; it brings cfn-lint with it.
MOTO_VERSION := 5.2.5
CFN_LINT_VERSION := 1.58.0
export MOTO_SERVER := $(VENV)/bin/moto_server
export CFN_LINT := $(VENV)/bin/cfn-lint

TEST_TARGETS := test-workspace

.PHONY: help venv check-tools fmt-check clippy test test-workspace

help:
	@echo "make demo    install, toggle the issuer and tear down the stack on the local sandbox"
	@echo "make test    run every test (needs the venv and the apt packages; see README.md)"
	@echo "make venv    install the pinned moto server and cfn-lint into .venv"

$(VENV)/.installed-$(MOTO_VERSION):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet 'moto[server]==$(MOTO_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)'
	touch $@

venv: $(VENV)/.installed-$(MOTO_VERSION)

# Fails early, with the fix, when a system tool the tests start is missing.
check-tools:
	@PATH="$$PATH:/usr/sbin"; for tool in openssl mosquitto softhsm2-util zip; do \
	  command -v $$tool >/dev/null || { echo "missing $$tool: run 'sudo apt-get install -y mosquitto softhsm2 opensc openssl zip'" >&2; exit 1; }; \
	done

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-workspace: venv
	$(CARGO) test --workspace --no-fail-fast

-include mk/*.mk

test: venv check-tools fmt-check clippy $(TEST_TARGETS)
