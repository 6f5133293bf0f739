# Policy as code: the policy pack's tests, and checkov over each stack's manifests (offline).
.PHONY: policy-test policy-e2e scan
policy-test: $(VENV)/.installed ## policy pack rules, the pack over gRPC, and checkov per stack
	bash scripts/checkov.sh --install
	$(PY) -m pytest -q tests/policy

policy-e2e: $(VENV)/.installed ## the pack under the real engine, and against kube-apiserver's Pod Security Admission
	bash scripts/toolchain.sh
	$(PY) -m pytest -q tests/e2e/test_policy_e2e.py tests/e2e/test_pod_security_e2e.py

scan: $(VENV)/.installed cluster-up ## checkov over build/scan/<stack> for dev, prod (with the Harbor chart's objects) and the examples
	$(PY) scripts/scan_manifests.py dev
	$(PY) scripts/scan_manifests.py prod
	$(PY) scripts/scan_manifests.py prod-distribution
	$(PY) scripts/scan_manifests.py prod-s3
