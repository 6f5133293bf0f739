# Scale-out: registry replicas sharing one S3 bucket (SeaweedFS, built from the Go module
# proxy by scripts/s3-server.sh), a Redis blob-descriptor cache and an http secret.
.PHONY: seaweedfs

seaweedfs: ## build the pinned SeaweedFS S3 server for the scale-out tests (cached)
	@bash scripts/s3-server.sh
