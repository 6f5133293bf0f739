"""regstack's policy pack: run with `pulumi preview --policy-pack policy`; rules in policy.rules."""
