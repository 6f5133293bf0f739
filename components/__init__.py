"""regstack: Pulumi components for a private container-image registry."""
