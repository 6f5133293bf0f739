# Pulumi's Node.js language host and the npm packages of the TypeScript programs (the smoke
# program in tests/e2e/typescript, the component package's example in docs/examples/typescript):
# the host built from the vendored source (scripts/language-nodejs.sh), the packages fetched into
# regstack's npm cache from the committed lockfiles (scripts/npm-parts.sh).
.PHONY: language-nodejs
language-nodejs: ## build pulumi-language-nodejs and fetch the TypeScript programs' npm packages (cached)
	@bash scripts/language-nodejs.sh
	@bash scripts/npm-parts.sh
