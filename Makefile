# Enclava: two commands on a fresh machine.
#   make demo   bootstrap, start the devnet, run the demo scenario
#   make test   bootstrap, then every test suite (Python + contracts)
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: demo test bootstrap test-python test-contracts compile devnet-down lock clean

bootstrap:
	@bash scripts/bootstrap/all.sh

demo: bootstrap compile
	@$(PY) -m demo

test: bootstrap compile
	@bash scripts/test.sh

compile:
	@bash scripts/brownie.sh compile >/dev/null

test-python:
	@$(PY) -m pytest

test-contracts:
	@bash scripts/brownie.sh test tests/contracts

devnet-down:
	@.venv/bin/enclava devnet down --name $${ENCLAVA_DEVNET:-default}

# Re-resolve the lock files from requirements/*.in (needs the registries).
lock:
	@for f in requirements/*.in; do \
	  $${ENCLAVA_CACHE:-$$HOME/.cache/enclava}/uv-0.13.9/bin/uv pip compile -q --python-version 3.11 "$$f" -o "$${f%.in}.lock"; \
	done

clean:
	-@.venv/bin/enclava devnet down --all 2>/dev/null
	rm -rf build reports .devnet .pytest_cache .hypothesis test-output
