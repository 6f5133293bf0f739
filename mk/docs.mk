# The documentation site (MkDocs + Material, from the dev extra).
.PHONY: docs
docs: $(VENV)/.installed ## build the docs site into build/site, strict (a broken link fails)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

.PHONY: diagram
diagram: ## render docs/img/architecture.svg from its Graphviz source (needs `dot`: make system-deps)
	dot -Tsvg docs/img/architecture.dot -o docs/img/architecture.svg
