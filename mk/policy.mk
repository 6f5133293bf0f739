# Policy as code: the policy pack's tests, and checkov over each stack's manifests (offline).
.PHONY: policy-test scan
policy-test: $(VENV)/.installed ## policy pack rules, the pack over gRPC, and checkov per stack
	bash scripts/checkov.sh --install
	$(PY) -m pytest -q tests/policy

scan: $(VENV)/.installed cluster-up ## checkov over build/scan/<stack> for dev, prod (with the Harbor chart's objects) and the examples
	$(PY) scripts/scan_manifests.py dev
	$(PY) scripts/scan_manifests.py prod
	$(PY) scripts/scan_manifests.py prod-distribution
	$(PY) scripts/scan_manifests.py prod-s3
