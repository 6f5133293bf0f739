"""Inspect every repository, plan with `plan_repository`, and delete when applying.

Requests, with R repositories, T tags and D distinct tagged digests:
  catalog pages + tag-list pages (one per repository per `page_size` tags)
  + T manifest GETs (by tag: one request yields both the digest and the body)
  + D config-blob GETs (none for referrers, whose age does not matter); an index without a
    creation annotation costs instead one manifest GET and one config GET per child platform
  + when applying, per repository with deletions: one tag list and one HEAD per tag (the
    re-check just before deleting), a manifest GET per tag that moved or appeared since
    planning, and one DELETE per deleted digest
  + with Bearer auth, per repository and action (read, delete): one request answered 401
    with the challenge, and one token request.

Phases run one after another, each through one thread pool, so at most `concurrency`
requests are in flight.  A repository whose inspection fails in any way -- an HTTP error,
a body over its limit, a document that does not parse -- is skipped and reported; it is
never planned from partial data, and it never stops the others.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from .http import HttpError, MiB
from .plan import (
    Image,
    InUse,
    RepositoryPlan,
    plan_repository,
    referred_subject,
    spare,
    tag_schema_subject,
)
from .policy import Policy
from .registry import Manifest, Registry, UnexpectedResponse

CREATED_LABEL = "org.opencontainers.image.created"
LAST_IMPLAUSIBLE_YEAR = 1980
IMAGE_CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
MAX_CONFIG = 4 * MiB  # real image configs are a few KiB; 4 MiB is Distribution's manifest cap
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)")


@dataclass
class Outcome:
    """One repository's fate: skipped (error, no plan) or planned, and what got deleted."""

    repository: str
    plan: RepositoryPlan | None = None
    error: str | None = None
    deleted: list[str] = field(default_factory=list)
    # Planned digests left alone after the re-check just before deleting, and why.
    spared: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.plan is None:
            return "skipped"
        return "ok" if self.error is None else "failed"


def parse_created(value: Any) -> datetime | None:
    """An RFC 3339 time (Go writes nanoseconds; Python parses at most microseconds), or None
    when it is missing, unparsable or implausible.

    Reproducible builds (Jib, ko, Nix dockerTools, rules_oci) write 1970-01-01 or year 1:
    such a time says nothing about the image's age, and reading it as "56 years old" would
    delete the newest builds first.  No OCI image predates 1981, so earlier is unknown.
    """
    match = _RFC3339.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in "Zz" else zone
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}.{(fraction or '0')[:6]:0<6}{zone}")
        # Year 1 east of UTC is year 0 in UTC, which `datetime` cannot hold.
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.year > LAST_IMPLAUSIBLE_YEAR else None


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
            # Age matters only for a digest some ordinary (non-referrer) tag points to.
            aged = {
                (repo, m.digest)
                for (repo, tag), m in manifests.items()
                if tag_schema_subject(tag) is None and "subject" not in m.document
            }
            images, failed_images = _attempt(
                pool, lambda key: self._image(key[0], distinct[key], key in aged), list(distinct)
            )

        # A repository's first failure is why it is skipped; the rest would only repeat it.
        failures = [
            *failed_lists.items(),
            *((repo, err) for (repo, _), err in [*failed_tags.items(), *failed_images.items()]),
        ]
        for repo, err in failures:
            outcomes[repo].error = outcomes[repo].error or err
        pushed = _latest_push(manifests)
        for repo, outcome in outcomes.items():
            if outcome.error is not None:
                continue
            try:
                tags = {
                    t: replace(images[key], pushed=pushed.get(key))
                    for t in tag_lists[repo]
                    for key in [(repo, manifests[(repo, t)].digest)]
                }
                rule = self.policy.rule_for(repo)
                outcome.plan = plan_repository(repo, tags, rule, self.in_use, self.now)
            except Exception as err:  # one odd repository never ends the run
                outcome.error = _describe(err)
        return list(outcomes.values())

    def apply(self, outcomes: list[Outcome]) -> None:
        """Delete planned digests; the first failure stops every deletion not yet started.

        Just before deleting, each repository's tags are listed again: a digest that a tag
        the plan did not delete points to now (a tag pushed or moved since planning, even
        a protected one) is spared, with what it needs and its referrers.
        """
        stop = threading.Event()

        def delete(outcome: Outcome) -> None:
            assert outcome.plan is not None
            try:
                outcome.spared = spare(outcome.plan, self._moved_since_planning(outcome))
            except Exception as err:
                outcome.error = f"re-checking tags before deleting: {_describe(err)}"
                return
            for digest in outcome.plan.delete_digests:
                if digest in outcome.spared:
                    continue
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

    def _moved_since_planning(self, outcome: Outcome) -> dict[str, str]:
        """Planned digests that a tag now needs, which the plan did not foresee."""
        assert outcome.plan is not None
        repository, plan = outcome.repository, outcome.plan
        planned = {d.tag: d.image.digest for d in plan.decisions}
        doomed = set(plan.delete_digests)
        found: dict[str, str] = {}
        for tag in self.registry.tags(repository):
            digest = self.registry.head_digest(repository, tag)
            if digest is None or planned.get(tag) == digest:
                continue  # gone, or as planned: kept tags need nothing doomed, deleted ones go
            manifest = self.registry.manifest(repository, digest)
            image = _bare(manifest)
            needs = {digest, *image.children}
            subject = referred_subject(tag, image)
            if subject is not None:
                needs.add(subject)
            for needed in sorted(needs & doomed):
                found.setdefault(needed, f"tag {tag!r} appeared or moved since planning")
        return found

    def _image(self, repository: str, manifest: Manifest, aged: bool) -> Image:
        image = _bare(manifest)
        if not aged:
            return image
        if not manifest.is_index:
            return replace(image, created=self._config_created(repository, manifest))
        created = parse_created((manifest.document.get("annotations") or {}).get(CREATED_LABEL))
        if created is None:
            # Age of a multi-arch image: its newest platform image.
            times = [self._child_created(repository, child) for child in image.children]
            created = max((t for t in times if t is not None), default=None)
        return replace(image, created=created)

    def _child_created(self, repository: str, digest: str) -> datetime | None:
        child = self.registry.manifest(repository, digest)
        # A nested index contributes no age; its own tags, if any, are judged on their own.
        return None if child.is_index else self._config_created(repository, child)

    def _config_created(self, repository: str, manifest: Manifest) -> datetime | None:
        descriptor = manifest.document["config"]
        # Anything but a small image config is no image's age: an artifact's config, or a
        # "config" of hundreds of MiB pushed to exhaust the job's memory.
        if descriptor.get("mediaType") not in IMAGE_CONFIG_TYPES:
            return None
        size = descriptor.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_CONFIG:
            return None
        config = self.registry.blob_json(repository, descriptor["digest"], limit=MAX_CONFIG)
        created = parse_created(config.get("created"))
        if created is None:
            labels = (config.get("config") or {}).get("Labels") or {}
            created = parse_created(labels.get(CREATED_LABEL))
        return created


def _bare(manifest: Manifest) -> Image:
    """What the manifest alone says: digest, children, subject; no age yet."""
    document = manifest.document
    children: tuple[str, ...] = ()
    if manifest.is_index:
        children = tuple(child["digest"] for child in document["manifests"])
        # Children become DELETE targets: only well-formed digests may get that far.
        if not all(isinstance(c, str) and _DIGEST.fullmatch(c) for c in children):
            raise UnexpectedResponse(f"{manifest.digest}: malformed child digests")
    subject = document.get("subject")
    referred = subject.get("digest") if isinstance(subject, dict) else None
    if subject is not None and not (isinstance(referred, str) and _DIGEST.fullmatch(referred)):
        raise UnexpectedResponse(f"{manifest.digest}: malformed subject")
    return Image(manifest.digest, None, children, subject=referred)


def _latest_push(manifests: dict[tuple[str, str], Manifest]) -> dict[tuple[str, str], datetime]:
    """Per (repository, digest), the latest push of any of its tags, when the registry says."""
    latest: dict[tuple[str, str], datetime] = {}
    for (repo, _), manifest in manifests.items():
        key = (repo, manifest.digest)
        if manifest.pushed is not None and (key not in latest or manifest.pushed > latest[key]):
            latest[key] = manifest.pushed
    return latest


def _describe(err: Exception) -> str:
    if isinstance(err, HttpError):
        return str(err)
    return f"cannot read it ({type(err).__name__}: {err})"


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _attempt(
    pool: ThreadPoolExecutor, function: Callable[[K], V], items: list[K]
) -> tuple[dict[K, V], dict[K, str]]:
    """Run `function` over `items` in the pool; return the successes and why others failed.

    Every exception counts as that item's failure: a malformed document raises KeyError,
    TypeError, RecursionError or worse, and one bad image must never end the run.
    """

    def guarded(item: K) -> V | _Failed:
        try:
            return function(item)
        except Exception as err:
            return _Failed(_describe(err))

    done: dict[K, V] = {}
    failed: dict[K, str] = {}
    for item, result in zip(items, pool.map(guarded, items), strict=True):
        if isinstance(result, _Failed):
            failed[item] = result.why
        else:
            done[item] = result
    return done, failed


@dataclass(frozen=True)
class _Failed:
    why: str
