# The README's first command: the dev stack on a throwaway local control plane.
.PHONY: demo demo-down render
demo: setup system-deps ## Debian tools the node needs, toolchain, local cluster with a node, `pulumi up` of the dev stack, push, pull
	@bash scripts/demo.sh up

demo-down: ## destroy the demo stack and stop the local cluster
	@bash scripts/demo.sh down

render: $(VENV)/.installed cluster-up ## build/manifests/$(STACK)/: the stack's manifests, via the provider's render mode, offline
	$(PY) scripts/render.py $(STACK)
