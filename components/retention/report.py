"""The JSON plan (what was decided and why, and what was done), written one repository at
a time as the engine finishes it, and the running totals behind the summary line."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any, TextIO

from .engine import Outcome


class PlanWriter:
    """Streams `{"registry", "mode", "generated_at", "repositories": [...]}`: nothing of a
    repository is held once its entry is written."""

    def __init__(self, out: TextIO, *, registry: str, applied: bool, now: datetime) -> None:
        self.out = out
        self.first = True
        header = {
            "registry": registry,
            "mode": "apply" if applied else "dry-run",
            "generated_at": now.isoformat(),
        }
        out.write(json.dumps(header)[:-1] + ', "repositories": [\n')

    def add(self, outcome: Outcome) -> None:
        self.out.write(("" if self.first else ",\n") + json.dumps(_repository(outcome)))
        self.first = False

    def close(self) -> None:
        self.out.write("\n]}\n")


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


class Totals:
    """Tags kept and deleted (planned, or really deleted when applying), digests, skips,
    digests spared by the re-check before deleting, and the distinct tagged images left
    per repository (skipped ones are unknown)."""

    def __init__(self, *, applied: bool) -> None:
        self.applied = applied
        self.count: Counter[str] = Counter()
        self.images_left: dict[str, int] = {}

    def add(self, outcome: Outcome) -> None:
        self.count["repositories"] += 1
        if outcome.plan is None:
            self.count["skipped"] += 1
            return
        gone = set(outcome.deleted if self.applied else outcome.plan.delete_digests)
        self.count["kept"] += len(outcome.plan.kept)
        self.count["deleted"] += sum(d.image.digest in gone for d in outcome.plan.deleted)
        self.count["digests"] += len(gone)
        self.count["spared"] += len(outcome.spared)
        self.count["failed"] += outcome.error is not None
        removed = set(outcome.deleted) if self.applied else set()
        images = {d.image.digest for d in outcome.plan.decisions} - removed
        self.images_left[outcome.repository] = len(images)

    def summary_line(self, *, requests: int) -> str:
        c = self.count
        line = (
            f"retention: {c['repositories']} repositories, {c['kept']} kept, "
            f"{c['deleted']} deleted, {c['skipped']} skipped, {c['digests']} digests, "
            f"{requests} requests"
        )
        if not self.applied:
            return line + " (dry run: nothing was deleted; pass --apply to delete)"
        if c["spared"]:
            line += f", {c['spared']} spared (tags changed since planning)"
        if c["failed"]:
            return line + f" (stopped: {c['failed']} repositories not fully cleaned)"
        return line
