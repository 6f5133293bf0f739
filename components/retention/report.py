"""The JSON plan (what was decided and why, and what was done) and the summary line."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from .engine import Outcome


def render_plan(
    outcomes: list[Outcome], *, registry: str, applied: bool, now: datetime
) -> dict[str, Any]:
    return {
        "registry": registry,
        "mode": "apply" if applied else "dry-run",
        "generated_at": now.isoformat(),
        "repositories": [_repository(o) for o in sorted(outcomes, key=lambda o: o.repository)],
    }


def _repository(outcome: Outcome) -> dict[str, Any]:
    entry: dict[str, Any] = {"repository": outcome.repository, "status": outcome.status}
    if outcome.error is not None:
        entry["error"] = outcome.error
    if outcome.plan is None:
        return entry
    entry["rule"] = outcome.plan.rule.describe() if outcome.plan.rule else None
    entry["tags"] = [
        {
            "tag": d.tag,
            "digest": d.image.digest,
            "created": d.image.created.isoformat() if d.image.created else None,
            "action": "keep" if d.keep else "delete",
            "reason": d.reason,
            **({"referrer_of": d.subject} if d.subject else {}),
        }
        for d in outcome.plan.decisions
    ]
    entry["delete_digests"] = list(outcome.plan.delete_digests)
    entry["deleted_digests"] = outcome.deleted
    entry["spared_digests"] = outcome.spared
    return entry


def counts(outcomes: list[Outcome], *, applied: bool) -> Counter[str]:
    """Tags kept and deleted (planned, or really deleted when applying), digests, skips,
    and digests spared by the re-check before deleting."""
    total: Counter[str] = Counter(repositories=len(outcomes))
    for outcome in outcomes:
        if outcome.plan is None:
            total["skipped"] += 1
            continue
        gone = set(outcome.deleted if applied else outcome.plan.delete_digests)
        total["kept"] += len(outcome.plan.kept)
        total["deleted"] += sum(d.image.digest in gone for d in outcome.plan.deleted)
        total["digests"] += len(gone)
        total["spared"] += len(outcome.spared)
        total["failed"] += outcome.error is not None
    return total


def summary_line(outcomes: list[Outcome], *, applied: bool, requests: int) -> str:
    c = counts(outcomes, applied=applied)
    line = (
        f"retention: {c['repositories']} repositories, {c['kept']} kept, {c['deleted']} deleted, "
        f"{c['skipped']} skipped, {c['digests']} digests, {requests} requests"
    )
    if not applied:
        return line + " (dry run: nothing was deleted; pass --apply to delete)"
    if c["spared"]:
        line += f", {c['spared']} spared (tags changed since planning)"
    if c["failed"]:
        return line + f" (stopped: {c['failed']} repositories not fully cleaned)"
    return line
