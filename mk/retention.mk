# Retention engine (components/retention): its tests and its benchmark.
.PHONY: test-retention bench-retention

test-retention: $(VENV)/.installed ## retention engine tests (unit, property and real-registry)
	$(PY) -m pytest -q tests/retention

bench-retention: $(VENV)/.installed ## retention engine vs the chapter's curl loop, 50 repos x 40 tags
	$(PY) benchmarks/bench_retention.py
