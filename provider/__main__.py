"""regstack's component package: `Registry` (type `regstack:index:Registry`) for any Pulumi
language. `pulumi package add <this directory>` in a YAML, TypeScript, Go... project; the engine
starts this file with the virtualenv PulumiPlugin.yaml names (see docs/guides/library.md)."""

from regstack.package import serve

serve()
