# Both ends of pyproject.toml's version ranges. The bottom end is constraints.txt (.venv: every
# other target); the top end is tests/library/newest.txt, in a cached environment built by
# scripts/newest-env.sh, running this checkout's sources (on PYTHONPATH, with `regstack` a link
# to components/ in build/, as the installed package is named).
.PHONY: test-newest

NEWEST_PATH := $(CURDIR)/build/newest-path
# test_this_environment_runs_the_pinned_versions checks the bottom end's environment.
NEWEST_PYTEST = PYTHONPATH=$(CURDIR):$(NEWEST_PATH) "$$(bash scripts/newest-env.sh $(1))/bin/python" \
	-m pytest -q -p no:cacheprovider \
	--deselect tests/unit/test_packaging.py::test_this_environment_runs_the_pinned_versions

$(NEWEST_PATH)/regstack:
	mkdir -p $(NEWEST_PATH)
	ln -sfn $(CURDIR)/components $@

test-newest: $(NEWEST_PATH)/regstack ## the unit tier on the newest SDKs PyPI serves (tests/library/newest.txt)
	$(call NEWEST_PYTEST,unit) -m "$(UNIT_TIER)" tests

