"""Stack-file commands that need no engine:

- `python -m components validate Pulumi.<stack>.yaml`: check a stack file.
- `python -m components retention-policy Pulumi.<stack>.yaml`: print the retention policy the
  stack's CronJob runs, for a dry run from a workstation (`python -m components.retention`).
"""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError, RegstackConfig, load_config
from .retention_job import policy_document
from .stack_config import read_stack_file

EXIT_INVALID = 2


def _load(path: str, check_secrets: bool = True) -> RegstackConfig | None:
    """The stack file's config, or None once its problems are printed."""
    try:
        # Each `secure:` value arrives as a placeholder: any other secret is in plaintext.
        secret_sections = () if check_secrets else None
        return load_config(read_stack_file(path), secret_sections=secret_sections)
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return None


def validate(path: str) -> int:
    cfg = _load(path)
    if cfg is None:
        return EXIT_INVALID
    print(f"{path}: valid ({cfg.profile} profile, {cfg.backend} backend)")
    return 0


def retention_policy(path: str) -> int:
    # The policy needs no secret: a stack whose secrets are not set yet can be tried already.
    cfg = _load(path, check_secrets=False)
    if cfg is None:
        return EXIT_INVALID
    if not cfg.retention.rules:
        print(f"regstack:retention.rules: {path} has no retention rules to print", file=sys.stderr)
        return EXIT_INVALID
    print(policy_document(cfg.retention))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("validate", help="validate a Pulumi.<stack>.yaml file")
    check.add_argument("stack_file")
    policy = commands.add_parser(
        "retention-policy",
        help="print the retention policy (JSON) a Pulumi.<stack>.yaml file's CronJob runs",
    )
    policy.add_argument("stack_file")
    args = parser.parse_args(argv)
    if args.command == "retention-policy":
        return retention_policy(args.stack_file)
    return validate(args.stack_file)


if __name__ == "__main__":
    sys.exit(main())
