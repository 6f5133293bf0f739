"""The regstack policy pack: each rule of policy.rules as a resource validation policy.

Per-stack settings and enforcement levels come from `--policy-pack-config policy/config/<stack>.json`.
"""

import sys
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

# The engine runs this file from policy/; the rules are imported as the tests import them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policy.rules import RULES, Rule, Settings, config_schema


def _policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        settings = Settings.from_config(args.get_config())
        for message in rule.check(args.resource_type, args.props, settings):
            report(message, None)

    schema = PolicyConfigSchema(config_schema(rule.config_keys)) if rule.config_keys else None
    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel(rule.enforcement),
        config_schema=schema,
    )


PolicyPack("regstack", policies=[_policy(rule) for rule in RULES if rule.in_pack])
