"""Write a stack's alerting rules as a plain Prometheus rule file.

    python scripts/render_rules.py STACK [--out DIR]

Reads `Pulumi.<STACK>.yaml`, validates it like `pulumi up` would, and writes
`<DIR>/<STACK>.rules.yml` (default DIR: build/rules) with exactly the groups the stack's
PrometheusRule carries, for `promtool check rules` or a Prometheus without the Operator.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # devkit lives in the checkout, not in the installed package

from components.alert_rules import AlertSettings, alert_rules  # noqa: E402
from components.config import ConfigError, load_config  # noqa: E402
from components.stack_config import read_stack_file  # noqa: E402
from devkit.stacks import stack_file  # noqa: E402


def render(stack: str, out_dir: Path) -> Path:
    cfg = load_config(read_stack_file(stack_file(stack)))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stack}.rules.yml"
    rules = alert_rules(AlertSettings.from_config(cfg))
    # width: keep each PromQL expression on one line, as people read and grep them.
    path.write_text(yaml.safe_dump(rules, sort_keys=False, width=10_000), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "rules")
    args = parser.parse_args(argv)
    try:
        path = render(args.stack, args.out)
    except ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
