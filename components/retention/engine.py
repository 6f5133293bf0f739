"""Inspect every repository, plan with `plan_repository`, and delete when applying.

Repositories are planned (and applied) one by one, `concurrency` at a time, and each
outcome is handed on and forgotten as soon as it is done: memory is bounded by the largest
repositories, not by the registry.  Within a repository, reads go through a shared pool of
`concurrency` threads, so at most 2 x `concurrency` requests are in flight.

Requests, with R repositories, T tags and D distinct tagged digests:
  catalog pages + tag-list pages (one per repository per `page_size` tags)
  + T manifest GETs (by tag: one request yields both the digest and the body)
  + D config-blob GETs (none for referrers, whose age does not matter); an index without a
    creation annotation costs instead one manifest GET and one config GET per child platform
  + per repository with planned deletions, one manifest GET per in-use digest its tags do
    not show and no earlier repository had (an index a pod runs by digest: its platforms)
  + when applying, per repository with deletions: one tag list and one HEAD per tag (the
    re-check just before deleting), a manifest GET per tag that moved or appeared since
    planning, and per deleted digest one tag list (names only, just before it) and one
    DELETE
  + with Bearer auth, per repository and action (read, delete): one request answered 401
    with the challenge, and one token request.

A repository whose inspection fails in any way -- an HTTP error, a manifest over its limit,
a document that does not parse -- is skipped and reported; it is never planned from partial
data, and it never stops the others.  A config that cannot be read only makes its image's
age unknown (kept).
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from .http import HttpError, MiB, RedirectRefused
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
from .registry import AuthError, Manifest, Registry, UnexpectedResponse

CREATED_LABEL = "org.opencontainers.image.created"
LAST_IMPLAUSIBLE_YEAR = 1980
IMAGE_CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
MAX_INDEX_DEPTH = 4  # an index of indexes of ...: deeper than any real image
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
        # What an in-use digest the tags do not show needs (its platforms, when an index),
        # once it was found in some repository: a digest names the same content everywhere.
        self._in_use_children: dict[str, tuple[str, ...]] = {}
        self._stop = threading.Event()  # set by the first failed DELETE
        self._requests: ThreadPoolExecutor | None = None  # the pool `run` reads through

    def run(self, *, apply: bool, report: Callable[[Outcome], None]) -> None:
        """Plan (and apply) repository by repository; hand each outcome to `report`, in
        catalog order, and forget it.  At most 2 x `concurrency` repositories are held at
        once, so memory does not grow with the registry."""
        window = 2 * self.concurrency
        with (
            ThreadPoolExecutor(self.concurrency) as repositories,
            ThreadPoolExecutor(self.concurrency) as requests,
        ):
            self._requests = requests
            pending: deque[Future[Outcome]] = deque()
            for name in self.registry.repositories():
                pending.append(repositories.submit(self._repository, name, apply))
                if len(pending) >= window:
                    report(pending.popleft().result())
            while pending:
                report(pending.popleft().result())

    def _repository(self, name: str, apply: bool) -> Outcome:
        outcome = Outcome(name)
        try:
            outcome.plan = self._plan(name)
        except Exception as err:  # one odd repository never ends the run
            outcome.error = _describe(err)
            return outcome
        if apply and outcome.plan.delete_digests:
            self._apply(outcome)
        return outcome

    def _plan(self, repository: str) -> RepositoryPlan:
        tags = self.registry.tags(repository)
        manifests = self._map(lambda tag: self.registry.manifest(repository, tag), tags)
        distinct = {m.digest: m for m in manifests}
        # Age matters only for a digest some ordinary (non-referrer) tag points to.
        aged = {
            m.digest
            for tag, m in zip(tags, manifests, strict=True)
            if tag_schema_subject(tag) is None and "subject" not in m.document
        }
        images = dict(
            zip(
                distinct,
                self._map(
                    lambda m: self._image(repository, m, m.digest in aged), distinct.values()
                ),
                strict=True,
            )
        )
        pushed = _latest_push(manifests)
        tagged = {
            tag: replace(images[m.digest], pushed=pushed.get(m.digest))
            for tag, m in zip(tags, manifests, strict=True)
        }
        rule = self.policy.rule_for(repository)
        plan = plan_repository(repository, tagged, rule, self.in_use, self.now)
        if not plan.delete_digests:
            return plan
        needs = self._in_use_needs(repository, images.values())
        return plan_repository(repository, tagged, rule, self.in_use, self.now, needs)

    def _in_use_needs(self, repository: str, images: Iterable[Image]) -> dict[str, str]:
        """Digests that in-use images the tags do not show need: the platforms (and nested
        platforms) of an index a pod runs by digest.  Such an index is found by asking this
        repository for each in-use digest it does not already show; what is found once is
        remembered, as a digest names the same content in every repository."""
        shown = {digest for image in images for digest in (image.digest, *image.children)}
        # Only a well-formed digest can name a manifest; the cluster reports odd ones too.
        unseen = sorted(d for d in self.in_use.digests - shown if _DIGEST.fullmatch(d))
        found = self._map(lambda digest: self._children_of(repository, digest, depth=0), unseen)
        needs: dict[str, str] = {}
        for digest, children in zip(unseen, found, strict=True):
            for child in children:
                needs.setdefault(child, f"index {digest}")
        return needs

    def _children_of(self, repository: str, digest: str, *, depth: int) -> list[str]:
        if digest not in self._in_use_children:
            manifest = self.registry.find_manifest(repository, digest)
            if manifest is None:
                return []  # not in this repository: nothing here to protect for it
            self._in_use_children[digest] = _bare(manifest).children
        found = []
        for child in self._in_use_children[digest]:
            found.append(child)
            if depth < MAX_INDEX_DEPTH:
                found += self._children_of(repository, child, depth=depth + 1)
        return found

    def _apply(self, outcome: Outcome) -> None:
        """Delete planned digests; the first failure stops every deletion not yet started.

        Just before deleting, each repository's tags are checked again (one HEAD per tag):
        a digest that a tag the plan did not delete points to now (a tag pushed or moved
        since planning, even a protected one) is spared, with what it needs and its
        referrers.  Then, right before each DELETE, the tag names are listed again and any
        new name is checked the same way: a tag pushed during the deletions is not lost.
        """
        assert outcome.plan is not None
        plan = outcome.plan
        try:
            names = set(self.registry.tags(outcome.repository))
            moved = self._needs_of(outcome, names, compare=True)
            outcome.spared = spare(plan, moved)
        except Exception as err:
            outcome.error = f"re-checking tags before deleting: {_describe(err)}"
            return
        for digest in plan.delete_digests:
            if digest in outcome.spared:
                continue
            if self._stop.is_set():
                outcome.error = "not attempted: an earlier deletion failed"
                return
            try:
                now = set(self.registry.tags(outcome.repository))
                new = self._needs_of(outcome, now - names, compare=False)
                names |= now
                outcome.spared = spare(plan, {**new, **outcome.spared})
                if digest in outcome.spared:
                    continue
                self.registry.delete_manifest(outcome.repository, digest)
            except Exception as err:
                outcome.error = f"deleting {digest}: {_describe(err)}"
                self._stop.set()
                return
            outcome.deleted.append(digest)

    def _needs_of(self, outcome: Outcome, tags: Iterable[str], *, compare: bool) -> dict[str, str]:
        """Planned digests that these tags need now, which the plan did not foresee; with
        `compare`, a tag still pointing where the plan saw it needs nothing new."""
        assert outcome.plan is not None
        repository, plan = outcome.repository, outcome.plan
        planned = {d.tag: d.image.digest for d in plan.decisions} if compare else {}
        doomed = set(plan.delete_digests)
        found: dict[str, str] = {}
        tags = sorted(tags)
        digests = self._map(lambda tag: self.registry.head_digest(repository, tag), tags)
        for tag, digest in zip(tags, digests, strict=True):
            if digest is None or planned.get(tag) == digest:
                continue  # gone, or as planned: kept tags need nothing doomed, deleted ones go
            image = _bare(self.registry.manifest(repository, digest))
            needs = {digest, *image.children}
            subject = referred_subject(tag, image)
            if subject is not None:
                needs.add(subject)
            for needed in sorted(needs & doomed):
                found.setdefault(needed, f"tag {tag!r} appeared or moved since planning")
        return found

    def _map(self, function: Callable[[K], V], items: Iterable[K]) -> list[V]:
        """`function` over `items` through the shared request pool, in order; the first
        failure raises (the repository is skipped)."""
        assert self._requests is not None, "only while `run` runs"
        return list(self._requests.map(function, items))

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
        """The image's creation time from its config; None (age unknown: kept) when the
        config is not a small image config or cannot be read as one -- a config whose size
        lies, that does not parse, or that the registry will not serve must not make the
        whole repository unplannable, run after run."""
        descriptor = manifest.document.get("config")
        if not isinstance(descriptor, dict):
            return None
        # Anything but a small image config is no image's age: an artifact's config, or a
        # "config" of hundreds of MiB pushed to exhaust the job's memory.
        if descriptor.get("mediaType") not in IMAGE_CONFIG_TYPES:
            return None
        size = descriptor.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_CONFIG:
            return None
        try:
            # Read no more than the descriptor says: a larger body is a lie, not an age.
            config = self.registry.blob_json(repository, descriptor["digest"], limit=size)
            created = parse_created(config.get("created"))
            if created is None:
                labels = (config.get("config") or {}).get("Labels") or {}
                created = parse_created(labels.get(CREATED_LABEL))
        except (AuthError, RedirectRefused):
            raise  # not this image's doing: every read would meet it; the repository is skipped
        except Exception:  # unreadable: the age is unknown, and the image is kept
            return None
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


def _latest_push(manifests: Iterable[Manifest]) -> dict[str, datetime]:
    """Per digest, the latest push of any of its tags, when the registry says."""
    latest: dict[str, datetime] = {}
    for manifest in manifests:
        key = manifest.digest
        if manifest.pushed is not None and (key not in latest or manifest.pushed > latest[key]):
            latest[key] = manifest.pushed
    return latest


def _describe(err: Exception) -> str:
    if isinstance(err, HttpError):
        return str(err)
    return f"cannot read it ({type(err).__name__}: {err})"


K = TypeVar("K")
V = TypeVar("V")
