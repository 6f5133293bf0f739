"""Command line: `python -m components.retention --registry URL --policy FILE [--apply]`.

Dry run unless `--apply`.  The plan goes to stdout (or `--plan-file`), the summary line to
stderr.  Exit status: 0 when everything was planned (and applied), 1 when a repository was
skipped, a deletion failed or the registry could not be read at all, 2 for bad usage.
The password comes from `--password-file` or `$REGSTACK_REGISTRY_PASSWORD`, never argv.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from .engine import Engine, Outcome
from .http import HttpClient, HttpError, ssl_context
from .inuse import (
    SERVICE_ACCOUNT,
    cluster_api_url,
    fetch_in_use_from_cluster,
    load_in_use_dir,
    load_in_use_file,
    merged,
)
from .metrics import serve_metrics, write_metrics
from .plan import InUse
from .policy import PolicyError, load_policy
from .registry import Registry
from .report import counts, render_plan, summary_line

PASSWORD_ENV = "REGSTACK_REGISTRY_PASSWORD"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m components.retention",
        description="Delete old images from a registry by policy (dry run by default).",
    )
    parser.add_argument("--registry", required=True, help="base URL, e.g. https://reg:5000")
    parser.add_argument("--policy", required=True, help="policy file (JSON; YAML if PyYAML)")
    parser.add_argument("--apply", action="store_true", help="really delete")
    parser.add_argument("--plan-file", help="write the JSON plan here instead of stdout")
    parser.add_argument("--metrics-file", help="write Prometheus text-format metrics here")
    parser.add_argument(
        "--metrics-port", type=_positive_int, help="then serve that file at /metrics on this port"
    )
    parser.add_argument(
        "--metrics-linger", type=float, default=90.0, help="for this many seconds (a Job's pod)"
    )
    parser.add_argument("--username")
    parser.add_argument("--password-file", help=f"else ${PASSWORD_ENV}")
    parser.add_argument("--ca-file", help="CA bundle that signed the registry certificate")
    parser.add_argument(
        "--in-use-file",
        help="image references to keep, one per line; a directory: every file in it",
    )
    parser.add_argument(
        "--in-use-from-cluster",
        action="store_true",
        help="keep images of running Pods (in-cluster ServiceAccount, list pods)",
    )
    parser.add_argument("--kubernetes-api", help="API URL; default from the in-cluster env")
    parser.add_argument("--service-account-dir", default=str(SERVICE_ACCOUNT))
    parser.add_argument("--concurrency", type=_positive_int, default=8)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--retries", type=int, default=4, help="per request, on 429/5xx/resets")
    parser.add_argument("--backoff", type=float, default=0.5, help="first retry delay, seconds")
    parser.add_argument("--page-size", type=_positive_int, default=100)
    parser.add_argument(
        "--max-pages", type=_positive_int, default=10_000, help="per catalog or tag list"
    )
    args = parser.parse_args(argv)
    if args.metrics_port and not args.metrics_file:
        parser.error("--metrics-port serves the --metrics-file: give both")
    return args


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        policy = load_policy(args.policy)
    except (OSError, PolicyError) as err:
        print(f"retention: bad policy: {err}", file=sys.stderr)
        return 2

    def client(ca_file: str | None) -> HttpClient:
        return HttpClient(
            context=ssl_context(ca_file),
            timeout=args.timeout,
            retries=args.retries,
            backoff=args.backoff,
        )

    # Everything that can fail before the first deletion fails here, cleanly: unreadable
    # password or CA file, unreachable or refusing registry, Pods that cannot be listed.
    try:
        http = client(args.ca_file)
        registry = Registry(
            args.registry,
            http,
            username=args.username,
            password=_password(args.password_file),
            page_size=args.page_size,
            max_pages=args.max_pages,
        )
        in_use = _in_use(args, client)
        engine = Engine(registry, policy, in_use=in_use, concurrency=args.concurrency)
        outcomes = engine.plan()
    except (OSError, ValueError, HttpError) as err:
        print(f"retention: cannot plan: {err}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        if outcome.plan is None:
            print(f"retention: skipped {outcome.repository}: {outcome.error}", file=sys.stderr)

    if args.apply:
        engine.apply(outcomes)
        for outcome in outcomes:
            for digest, why in outcome.spared.items():
                print(f"retention: {outcome.repository}: kept {digest}: {why}", file=sys.stderr)
            if outcome.plan is not None and outcome.error is not None:
                print(f"retention: {outcome.repository}: {outcome.error}", file=sys.stderr)

    _publish(args, outcomes, engine.now)
    total = counts(outcomes, applied=args.apply)
    requests = sum(http.requests.values())
    print(summary_line(outcomes, applied=args.apply, requests=requests), file=sys.stderr)
    succeeded = total["skipped"] == 0 and total["failed"] == 0
    if args.metrics_file:
        write_metrics(
            args.metrics_file,
            images=_images_left(outcomes, applied=args.apply),
            deleted=total["digests"] if args.apply else 0,
            skipped=total["skipped"],
            succeeded=succeeded,
            now=time.time(),
        )
        if args.metrics_port:
            serve_metrics(args.metrics_file, args.metrics_port, args.metrics_linger)
    return 0 if succeeded else 1


def _password(path: str | None) -> str | None:
    if path:
        return Path(path).read_text().rstrip("\n")
    return os.environ.get(PASSWORD_ENV)


def _in_use(args: argparse.Namespace, client: Callable[[str | None], HttpClient]) -> InUse:
    references = InUse()
    if args.in_use_file and Path(args.in_use_file).is_dir():
        references = load_in_use_dir(args.in_use_file)
    elif args.in_use_file:
        references = load_in_use_file(args.in_use_file)
    if args.in_use_from_cluster:
        account = Path(args.service_account_dir)
        token = (account / "token").read_text().strip()
        http = client(str(account / "ca.crt"))
        api = args.kubernetes_api or cluster_api_url()
        found = fetch_in_use_from_cluster(http, api, token)
        references = merged(references, found)
    return references


def _publish(args: argparse.Namespace, outcomes: list[Outcome], now: datetime) -> None:
    plan = render_plan(outcomes, registry=args.registry, applied=args.apply, now=now)
    text = json.dumps(plan, indent=2) + "\n"
    if args.plan_file:
        Path(args.plan_file).write_text(text)
    else:
        sys.stdout.write(text)


def _images_left(outcomes: list[Outcome], *, applied: bool) -> dict[str, int]:
    """Distinct tagged images per repository after the run (skipped ones are unknown)."""
    left = {}
    for outcome in outcomes:
        if outcome.plan is None:
            continue
        gone = set(outcome.deleted) if applied else set()
        left[outcome.repository] = len({d.image.digest for d in outcome.plan.decisions} - gone)
    return left
