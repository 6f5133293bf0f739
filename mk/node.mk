# A real node for the test cluster (scripts/node.sh): kubelet, kube-proxy, kube-scheduler built at
# the toolchain's Kubernetes version under their own cache key (scripts/node-build.sh).
.PHONY: node-build node-up node-down node-status node-test

node-build: ## build kubelet, kube-scheduler, kube-proxy (cached in ~/.cache/regstack/node/)
	@bash scripts/node-build.sh

node-up: toolchain node-build ## the test cluster with a node where pods run (REGSTACK_NODE=1 cluster.sh up)
	@REGSTACK_NODE=1 bash scripts/cluster.sh up

node-down: ## stop the node only (cluster-down stops both)
	@bash scripts/node.sh down

node-status: ## is the node up and Ready?
	@bash scripts/node.sh status

node-test: $(VENV)/.installed toolchain node-build ## the node tier: tests that run real pods
	$(PY) -m pytest -q -m node tests
