"""Registry retention engine: plan and delete old images over the registry HTTP API v2.

Standard library only at run time, so it runs as an in-cluster job from a bare Python
image.  Layout: `http` (retries, TLS), `registry` (API v2, auth), `policy`, `plan` (pure
decisions), `engine` (inspection and deletion), `inuse` (Pod images), `report`, `metrics`,
`cli`.
"""
