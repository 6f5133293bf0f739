"""`python -m components validate Pulumi.<stack>.yaml`: check a stack file without the engine."""

from __future__ import annotations

import argparse
import sys

from components.config import ConfigError, load_config
from components.stack_config import read_stack_file

EXIT_INVALID = 2


def validate(path: str) -> int:
    try:
        # Each `secure:` value arrives as a placeholder: any other secret is in plaintext.
        cfg = load_config(read_stack_file(path), secret_sections=())
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    print(f"{path}: valid ({cfg.profile} profile, {cfg.backend} backend)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("validate", help="validate a Pulumi.<stack>.yaml file")
    check.add_argument("stack_file")
    args = parser.parse_args(argv)
    return validate(args.stack_file)


if __name__ == "__main__":
    sys.exit(main())
