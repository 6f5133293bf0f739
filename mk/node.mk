# A real node for the test cluster (scripts/node.sh): kubelet, kube-proxy, kube-scheduler built at
# the toolchain's Kubernetes version under their own cache key (scripts/node-build.sh).
.PHONY: node-build node-up node-down node-status node-test harbor-images

node-build: ## build kubelet, kube-scheduler, kube-proxy (cached in ~/.cache/regstack/node/)
	@bash scripts/node-build.sh

node-up: toolchain node-build ## the test cluster with a node where pods run (REGSTACK_NODE=1 cluster.sh up)
	@REGSTACK_NODE=1 bash scripts/cluster.sh up

node-down: ## stop the node only (cluster-down stops both)
	@bash scripts/node.sh down

node-status: ## is the node up and Ready?
	@bash scripts/node.sh status

harbor-images: $(VENV)/.installed ## Harbor's stand-in images for the Harbor node test (cached in ~/.cache/regstack/harbor-images/)
	@bash scripts/harbor-images.sh >/dev/null

node-test: $(VENV)/.installed toolchain node-build harbor-images language-yaml language-nodejs ## the node tier: tests that run real pods (-m 'node and not harbor' without Harbor)
	$(PY) -m pytest -q -m node tests
