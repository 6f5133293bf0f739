# cert-manager's controller for the test cluster, built from the vendor directory's sources
# (scripts/cert-manager.sh); scripts/cluster.sh starts it, building it first if missing.
.PHONY: cert-manager
cert-manager: ## build cert-manager's controller for the test cluster (cached)
	@bash scripts/cert-manager.sh build
