"""Inspect every repository, plan with `plan_repository`, and delete when applying.

Requests, with R repositories, T tags and D distinct tagged digests:
  catalog pages + tag-list pages (one per repository per `page_size` tags)
  + T manifest GETs (by tag: one request yields both the digest and the body)
  + D config-blob GETs; an index without a creation annotation costs instead one manifest
    GET and one config GET per child platform
  + one DELETE per deleted digest
  + with Bearer auth, per repository and action (read, delete): one request answered 401
    with the challenge, and one token request.

Phases run one after another, each through one thread pool, so at most `concurrency`
requests are in flight.  A repository whose inspection fails in any way is skipped and
reported; it is never planned from partial data.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from .http import HttpError
from .plan import Image, InUse, RepositoryPlan, plan_repository
from .policy import Policy
from .registry import Manifest, Registry, UnexpectedResponse

CREATED_LABEL = "org.opencontainers.image.created"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)")


@dataclass
class Outcome:
    """One repository's fate: skipped (error, no plan) or planned, and what got deleted."""

    repository: str
    plan: RepositoryPlan | None = None
    error: str | None = None
    deleted: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.plan is None:
            return "skipped"
        return "ok" if self.error is None else "failed"


def parse_created(value: Any) -> datetime | None:
    """An RFC 3339 time (Go writes nanoseconds; Python parses at most microseconds)."""
    match = _RFC3339.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in "Zz" else zone
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}.{(fraction or '0')[:6]:0<6}{zone}")
    except ValueError:
        return None
    return parsed.astimezone(UTC)


class Engine:
    def __init__(
        self,
        registry: Registry,
        policy: Policy,
        *,
        in_use: InUse | None = None,
        concurrency: int = 8,
        now: datetime | None = None,
    ) -> None:
        self.registry = registry
        self.policy = policy
        self.in_use = in_use or InUse()
        self.concurrency = concurrency
        self.now = now or datetime.now(UTC)

    def plan(self) -> list[Outcome]:
        outcomes = {name: Outcome(name) for name in self.registry.repositories()}
        with ThreadPoolExecutor(self.concurrency) as pool:
            tag_lists, failed_lists = _attempt(pool, self.registry.tags, list(outcomes))
            pairs = [(repo, tag) for repo, tags in tag_lists.items() for tag in tags]
            manifests, failed_tags = _attempt(pool, lambda rt: self.registry.manifest(*rt), pairs)
            distinct = {(repo, m.digest): m for (repo, _), m in manifests.items()}
            images, failed_images = _attempt(
                pool, lambda key: self._image(key[0], distinct[key]), list(distinct)
            )

        # A repository's first failure is why it is skipped; the rest would only repeat it.
        failures = [
            *failed_lists.items(),
            *((repo, err) for (repo, _), err in [*failed_tags.items(), *failed_images.items()]),
        ]
        for repo, err in failures:
            outcomes[repo].error = outcomes[repo].error or str(err)
        for repo, outcome in outcomes.items():
            if outcome.error is None:
                tags = {t: images[(repo, manifests[(repo, t)].digest)] for t in tag_lists[repo]}
                rule = self.policy.rule_for(repo)
                outcome.plan = plan_repository(repo, tags, rule, self.in_use, self.now)
        return list(outcomes.values())

    def apply(self, outcomes: list[Outcome]) -> None:
        """Delete planned digests; the first failure stops every deletion not yet started."""
        stop = threading.Event()

        def delete(outcome: Outcome) -> None:
            assert outcome.plan is not None
            for digest in outcome.plan.delete_digests:
                if stop.is_set():
                    outcome.error = "not attempted: an earlier deletion failed"
                    return
                try:
                    self.registry.delete_manifest(outcome.repository, digest)
                except HttpError as err:
                    outcome.error = f"deleting {digest}: {err}"
                    stop.set()
                    return
                outcome.deleted.append(digest)

        work = [o for o in outcomes if o.plan is not None and o.plan.delete_digests]
        with ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(delete, work))

    def _image(self, repository: str, manifest: Manifest) -> Image:
        try:
            if not manifest.is_index:
                return Image(manifest.digest, self._config_created(repository, manifest))
            children = tuple(child["digest"] for child in manifest.document["manifests"])
            # Children become DELETE targets: only well-formed digests may get that far.
            if not all(_DIGEST.fullmatch(child) for child in children):
                raise UnexpectedResponse(f"{manifest.digest}: malformed child digests")
            created = parse_created((manifest.document.get("annotations") or {}).get(CREATED_LABEL))
            if created is None:
                # Age of a multi-arch image: its newest platform image.
                times = [self._child_created(repository, child) for child in children]
                created = max((t for t in times if t is not None), default=None)
            return Image(manifest.digest, created, children)
        except (KeyError, TypeError, AttributeError) as err:
            raise UnexpectedResponse(f"{manifest.digest}: malformed manifest ({err!r})") from err

    def _child_created(self, repository: str, digest: str) -> datetime | None:
        child = self.registry.manifest(repository, digest)
        # A nested index contributes no age; its own tags, if any, are judged on their own.
        return None if child.is_index else self._config_created(repository, child)

    def _config_created(self, repository: str, manifest: Manifest) -> datetime | None:
        config = self.registry.blob_json(repository, manifest.document["config"]["digest"])
        created = parse_created(config.get("created"))
        if created is None:
            labels = (config.get("config") or {}).get("Labels") or {}
            created = parse_created(labels.get(CREATED_LABEL))
        return created


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _attempt(
    pool: ThreadPoolExecutor, function: Callable[[K], V], items: list[K]
) -> tuple[dict[K, V], dict[K, HttpError]]:
    """Run `function` over `items` in the pool; return the successes and the failures."""

    def guarded(item: K) -> V | HttpError:
        try:
            return function(item)
        except HttpError as err:
            return err

    done: dict[K, V] = {}
    failed: dict[K, HttpError] = {}
    for item, result in zip(items, pool.map(guarded, items), strict=True):
        if isinstance(result, HttpError):
            failed[item] = result
        else:
            done[item] = result
    return done, failed
