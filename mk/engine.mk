# Engine: Pulumi CLI, language host, providers and a throwaway control plane,
# all built from the Go module proxy (scripts/toolchain.sh, scripts/cluster.sh).
.PHONY: toolchain cluster-up cluster-down cluster-status end-to-end bench-engine

toolchain: ## build the pinned pulumi CLI, plugins, etcd and kube-apiserver (cached)
	@bash scripts/toolchain.sh

cluster-up: toolchain ## start etcd + kube-apiserver (+ controller-manager) on 127.0.0.1, kubeconfig in .regstack/
	@bash scripts/cluster.sh up

cluster-down: ## stop the test control plane and delete its state
	@bash scripts/cluster.sh down

cluster-status: ## is the test control plane up?
	@bash scripts/cluster.sh status

end-to-end: $(VENV)/.installed toolchain language-yaml language-nodejs ## end-to-end tests against a throwaway cluster
	$(PY) -m pytest -q -m e2e tests/e2e

bench-engine: $(VENV)/.installed toolchain ## `pulumi preview` time: empty program, one ConfigMap, the dev stack
	$(PY) benchmarks/bench_engine.py
