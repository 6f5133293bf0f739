# Scale-out: registry replicas sharing one S3 bucket (SeaweedFS, built from the Go module
# proxy by scripts/s3-server.sh), a Redis blob-descriptor cache and an http secret.
.PHONY: seaweedfs test-scaleout bench-scaleout

seaweedfs: ## build the pinned SeaweedFS S3 server for the scale-out tests (cached)
	@bash scripts/s3-server.sh

test-scaleout: $(VENV)/.installed seaweedfs ## two registries on one S3 bucket + Redis: push/pull, chunked uploads, retention, GC
	$(PY) -m pytest -q tests/scaleout

bench-scaleout: $(VENV)/.installed seaweedfs ## one filesystem registry vs two replicas on S3 + Redis: throughput, GET latency, GC
	$(PY) benchmarks/bench_scaleout.py
