# regstack — every task a developer or CI runs. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: help setup system-deps test unit lint bench
help:
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

setup: $(VENV)/.installed ## virtualenv with the pinned dependencies (nothing outside the project)

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[dev]'
	@# Installed, the package is `regstack`; the program and the engine tests' copies of it
	@# (in other directories) import this checkout's `components`: the checkout is on the path.
	$(PY) -c 'import pathlib, site; pathlib.Path(site.getsitepackages()[0], "regstack-checkout.pth").write_text("$(CURDIR)\n")'
	touch $@

system-deps: ## Debian packages the tests drive, if their commands are missing (services left as they are)
	@bash scripts/system-deps.sh

LINTED := components policy devkit scripts benchmarks tests __main__.py
lint: $(VENV)/.installed ## ruff and mypy (the tests are linted, not type-checked)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy components
	$(VENV)/bin/mypy devkit scripts benchmarks

# The unit tier: mocks only, no servers, no PyPI (mk/ranges.mk runs it on the newest SDKs too).
UNIT_TIER := not e2e and not servers and not node and not pypi
unit: $(VENV)/.installed ## unit tests only (no servers, no PyPI)
	$(PY) -m pytest -q -m "$(UNIT_TIER)" tests

test: setup system-deps lint ## everything CI runs: lint, unit, real-server, policy, scan and end-to-end tests, at both ends of the version ranges
	bash scripts/checkov.sh --install
	bash scripts/toolchain.sh
	bash scripts/language-nodejs.sh
	bash scripts/npm-parts.sh
	bash scripts/s3-server.sh
	bash scripts/registry-server.sh
	bash scripts/token-server.sh
	bash scripts/node-build.sh
	bash scripts/harbor-images.sh >/dev/null
	bash scripts/language-yaml.sh
	$(PY) -m pytest -q --durations=25 tests
	$(MAKE) --no-print-directory test-newest test-newest-engine

bench: $(VENV)/.installed ## benchmarks; prints figures, asserts nothing
	$(PY) benchmarks/bench_program.py
	$(PY) benchmarks/bench_retention.py
	bash scripts/toolchain.sh >/dev/null && $(PY) benchmarks/bench_engine.py
	bash scripts/registry-server.sh >/dev/null && $(PY) benchmarks/bench_gc_matrix.py

# Capability-specific targets (toolchain, cluster, rules, ...) live in mk/.
-include mk/*.mk
