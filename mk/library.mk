# regstack as a library in another project (tests/library): the newest SDKs from PyPI, under mocks.
.PHONY: test-library

test-library: $(VENV)/.installed ## install regstack into a project with its own components/ and the newest SDKs
	$(PY) -m pytest -q tests/library
