"""regstack: validate the stack's config, build the Registry component, export its endpoints.

The program is one client of the public component (components/registry.py): it checks the
stack's config itself, with the sections the engine holds encrypted, before any resource.
"""

import os
from pathlib import Path

import pulumi

from components.config import ConfigError, load_config
from components.data_guard import OUTPUT, after_the_data_claim_check, created_claim
from components.lab_passphrase import published_passphrase_problem
from components.registry import Registry
from components.stack_config import program_secret_sections, read_program_config

try:
    config = load_config(read_program_config(), secret_sections=program_secret_sections())
except ConfigError as error:
    # RunError ends the program with these lines only: no traceback, no resource registered.
    raise pulumi.RunError(f"invalid stack configuration:\n{error}") from None
# The engine runs the program in the project's directory, beside the stack's file.
stack_file = Path(f"Pulumi.{pulumi.get_stack()}.yaml")
if problem := published_passphrase_problem(config.profile, stack_file, os.environ):
    raise pulumi.RunError(f"invalid stack configuration:\n{problem}")

# Registry and everything under it wait for the data guard's check (components/data_guard.py).
registry = Registry("regstack", config, after_the_data_claim_check(config))

pulumi.export("backend", registry.backend)
pulumi.export(OUTPUT, created_claim(config))
pulumi.export("endpoint", registry.endpoint)
pulumi.export("in_cluster_endpoint", registry.in_cluster_endpoint)
pulumi.export("pull_secret_names", registry.pull_secret_names)
pulumi.export("ca_secret_name", registry.ca_secret_name)
pulumi.export("tls_secret_name", registry.tls_secret_name)
pulumi.export("docker_login", registry.docker_login)
# Development only, as the chapter insists: unset for TLS registries and the prod profile.
pulumi.export("docker_daemon_json_dev_only", registry.docker_daemon_json)
