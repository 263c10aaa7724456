# souverain: two commands on a fresh Debian machine.
#   make demo   set up, bring up a lab host, deploy the suite on it, verify, print how to reach it
#   make test   set up and run every check: lint, unit tests and the lab end-to-end tests
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Debian packages on the controller: the lab's (for make demo and the tests), then those only
# the tests use.
LAB_PACKAGES := python3-venv debootstrap systemd-container nftables iproute2 openssh-client gnupg
# chromium: the audit's HTML report is checked in a headless browser.
# chromium-driver, libnss3-tools: tests/e2e/test_browser.py drives chromium through its driver,
# the suite's CA trusted in an NSS database made with certutil.
# nodejs: `node --check` of Jitsi's rendered JavaScript (no lab host has Jitsi to run it).
TEST_PACKAGES := chromium chromium-driver libnss3-tools nodejs
DEMO_DIR ?= demo
DEMO_LAB ?= demo

.PHONY: help setup test-setup debian-packages venv dev lint unit e2e test demo demo-down bench clean

help:
	@echo "make demo   bring up a lab host, deploy the suite, verify it, print its services"
	@echo "make test   lint + unit tests + lab end-to-end tests (the lab needs root)"
	@echo "make bench  print the benchmark figures (render, audit, lab, deploy)"
	@echo "make demo-down  remove the demo lab"

# Installs the packages of $(PACKAGES) that are missing (apt, as root).
debian-packages:
	@missing=""; for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -ne 0 ]; then \
			echo "missing Debian packages:$$missing (run as root or install them)"; exit 2; \
		fi; \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The virtualenv with souverain and what it runs with (make demo)...
$(BIN)/souverain: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@touch $@

# ...and with the tests' tools and clients (make test).
$(VENV)/.dev: $(BIN)/souverain
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(BIN)/souverain

dev: $(VENV)/.dev

setup: venv
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(LAB_PACKAGES)"

test-setup: dev
	@$(MAKE) --no-print-directory debian-packages PACKAGES="$(LAB_PACKAGES) $(TEST_PACKAGES)"

lint: dev
	$(BIN)/ruff check src tests bench roles
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint -q --profile production playbooks roles \
		collections/ansible_collections/souverain/suite/roles

unit: dev
	$(BIN)/pytest tests/unit

e2e: test-setup
	$(BIN)/pytest tests/e2e -m lab

# pytest exits 5 when it collected no test: make fails then, as on any non-zero status.
test: test-setup lint
	$(BIN)/pytest tests --durations=25

demo: setup
	$(BIN)/souverain lab up --name $(DEMO_LAB) --dir $(DEMO_DIR)
	$(BIN)/souverain -C $(DEMO_DIR) up
	$(BIN)/souverain -C $(DEMO_DIR) info
	$(BIN)/souverain -C $(DEMO_DIR) lab welcome
	@echo "The lab is still running: 'souverain lab ssh --name $(DEMO_LAB) HOST', then 'make demo-down'."

demo-down: venv
	$(BIN)/souverain lab down --name $(DEMO_LAB)

bench: test-setup
	$(BIN)/python bench/render.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/lab.py
	$(BIN)/python bench/deploy.py
	$(BIN)/python bench/backup.py
	$(BIN)/python bench/tenants.py
	$(BIN)/python bench/tenant_deploy.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
