# Pulumi YAML's language host, for the component package's YAML program (docs/examples/yaml):
# built from the Go module proxy at scripts/language-yaml.env's version (scripts/language-yaml.sh).
.PHONY: language-yaml
language-yaml: ## build pulumi-language-yaml (cached in ~/.cache/regstack/language-yaml/)
	@bash scripts/language-yaml.sh
