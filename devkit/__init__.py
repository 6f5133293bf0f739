"""What the tests, `scripts/` and `benchmarks/` share: the stack catalogue, the Pulumi mock
harness, the renderers, the checkov runner and the launchers of real servers (registry, S3,
Redis, containerd). Development only: the installed package is `regstack`, never this."""
