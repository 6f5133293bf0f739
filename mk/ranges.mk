# Both ends of pyproject.toml's version ranges. The bottom end is constraints.txt (.venv: every
# other target); the top end is tests/library/newest.txt, in a cached environment built by
# scripts/newest-env.sh, running this checkout's sources (on PYTHONPATH, with `regstack` a link
# to components/ in build/, as the installed package is named).
.PHONY: test-newest test-newest-engine

NEWEST_PATH := $(CURDIR)/build/newest-path
# test_this_environment_runs_the_pinned_versions checks the bottom end's environment.
NEWEST_PYTEST = venv="$$(bash scripts/newest-env.sh $(1))" && \
	PYTHONPATH=$(CURDIR):$(NEWEST_PATH) "$$venv/bin/python" -m pytest -q -p no:cacheprovider \
	--deselect tests/unit/test_packaging.py::test_this_environment_runs_the_pinned_versions

$(NEWEST_PATH)/regstack:
	mkdir -p $(NEWEST_PATH)
	ln -sfn $(CURDIR)/components $@

test-newest: $(NEWEST_PATH)/regstack ## the unit tier on the newest SDKs PyPI serves (tests/library/newest.txt)
	$(call NEWEST_PYTEST,unit) -m "$(UNIT_TIER)" tests

# The engine tests' program run, with the Pulumi CLI scripts/toolchain.sh builds (3.277.0), on the
# newest `pulumi` SDK and pyyaml/pydantic/bcrypt; pulumi-kubernetes and pulumi-command stay at
# the provider plugins built here (scripts/newest-env.sh says why). The subset: the engine's
# smoke test and the dev/prod stacks' lifecycle (up, preview, updates, secrets, destroy).
NEWEST_ENGINE_TESTS := tests/e2e/test_engine_smoke.py tests/e2e/test_stacks_e2e.py
test-newest-engine: $(NEWEST_PATH)/regstack ## engine tests on the newest pulumi SDK (providers at the built versions)
	bash scripts/toolchain.sh >/dev/null
	$(call NEWEST_PYTEST,engine) $(NEWEST_ENGINE_TESTS)
