"""The pure planning step: given what a repository holds, decide what to delete and why.

The registry deletes by digest, and deleting a digest removes every tag pointing to it.
So the unit of deletion is the image (digest), and a tag is only deleted when *no* tag
sharing its digest is kept -- otherwise the tag is kept too, with that as its reason.  An
index being deleted takes its child manifests with it, except children still needed by a
kept tag or a kept index; without that, the children and their layers would outlive the
index forever (the registry's garbage collector keeps every manifest that still exists).

Referrers -- signatures, attestations, SBOMs -- are not aged at all: they live and die with
the image they refer to.  A referrer is a tag of the tag schema (`sha256-<hex>`, and
cosign's `sha256-<hex>.sig`/`.att`/`.sbom`) or a tagged manifest whose `subject` names its
image.  Distribution has no referrers API, so untagged referrers are only found as children
of a tag-schema index, which takes them with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .policy import Rule


@dataclass(frozen=True)
class Image:
    """What a tag points at: a manifest, or an index with child manifests."""

    digest: str
    created: datetime | None  # None when neither config nor label nor annotation says
    children: tuple[str, ...] = ()
    pushed: datetime | None = None  # when the registry says (Last-Modified); most do not
    subject: str | None = None  # the image a referrer manifest refers to


@dataclass(frozen=True)
class InUse:
    """Images running in the cluster: (repository, tag) pairs and bare digests."""

    tags: frozenset[tuple[str, str]] = frozenset()
    digests: frozenset[str] = frozenset()
    pinned: frozenset[tuple[str, str]] = frozenset()
    """(repository, digest) of every digest reference: what GC protects by repository."""


@dataclass(frozen=True)
class TagDecision:
    tag: str
    image: Image
    keep: bool
    reason: str
    subject: str | None = None  # set for a referrer: the image it belongs to


@dataclass(frozen=True)
class RepositoryPlan:
    repository: str
    rule: Rule | None
    decisions: tuple[TagDecision, ...]
    # Referrers first (a run stopped half-way must not leave referrers whose image is gone:
    # nothing would ever delete them), then tagged manifests, then the orphaned children of
    # deleted indexes, so no tag is left pointing at an index with missing children.
    delete_digests: tuple[str, ...]

    @property
    def kept(self) -> list[TagDecision]:
        return [d for d in self.decisions if d.keep]

    @property
    def deleted(self) -> list[TagDecision]:
        return [d for d in self.decisions if not d.keep]


def plan_repository(
    repository: str,
    tags: Mapping[str, Image],
    rule: Rule | None,
    in_use: InUse,
    now: datetime,
) -> RepositoryPlan:
    if rule is None:
        untouched = tuple(
            TagDecision(tag, image, True, "no policy rule matches this repository")
            for tag, image in sorted(tags.items())
        )
        return RepositoryPlan(repository, None, untouched, ())

    subjects = {tag: referred_subject(tag, image) for tag, image in tags.items()}
    ordinary = [image for tag, image in tags.items() if subjects[tag] is None]
    newest = _newest(ordinary, rule.keep_last or 0)
    reasons = {
        tag: _pinned(repository, tag, image, rule, in_use)
        if subjects[tag] is not None
        else _keep_reason(repository, tag, image, rule, in_use, newest, now)
        for tag, image in tags.items()
    }
    doomed = _settle(tags, reasons, subjects)
    decisions = [
        TagDecision(tag, image, False, _delete_reason(rule, subjects[tag]), subjects[tag])
        if reasons[tag] is None
        else TagDecision(tag, image, True, str(reasons[tag]), subjects[tag])
        for tag, image in sorted(tags.items())
    ]
    referrers = sorted({d.image.digest for d in decisions if not d.keep and d.subject})
    tagged = sorted({d.image.digest for d in decisions if not d.keep} - set(referrers))
    children = sorted(doomed - set(tagged) - set(referrers))
    return RepositoryPlan(repository, rule, tuple(decisions), (*referrers, *tagged, *children))


_TAG_SCHEMA = re.compile(r"sha256-([0-9a-f]{64})(?![0-9a-f])")


def tag_schema_subject(tag: str) -> str | None:
    """`sha256:<hex>` for a tag of the referrers tag schema (`sha256-<hex>...`), else None."""
    match = _TAG_SCHEMA.match(tag)
    return f"sha256:{match.group(1)}" if match else None


def referred_subject(tag: str, image: Image) -> str | None:
    """The digest a referrer tag refers to, or None for an ordinary tag."""
    return tag_schema_subject(tag) or image.subject


def _settle(
    tags: Mapping[str, Image], reasons: dict[str, str | None], subjects: dict[str, str | None]
) -> set[str]:
    """Keep every referrer whose image survives; return the digests that go (tagged or not).

    Referrers start out deleted; keeping one can keep others (a signature of a kept SBOM)
    and only ever shrinks what is deleted, so this runs until nothing changes.
    """
    while True:
        needed = _needed_digests(tags, reasons)
        doomed = {i.digest for t, i in tags.items() if reasons[t] is None}
        doomed |= {c for t, i in tags.items() if reasons[t] is None for c in i.children}
        doomed -= needed.keys()
        kept = {
            tag: f"refers to {subject}, which is not deleted"
            for tag, subject in subjects.items()
            if subject is not None and reasons[tag] is None and subject not in doomed
        }
        if not kept:
            return doomed
        reasons.update(kept)


def _needed_digests(tags: Mapping[str, Image], reasons: dict[str, str | None]) -> dict[str, str]:
    """Every digest a kept tag needs, mapped to who needs it; keeps tags on those digests.

    Keeping a tag can make another one needed (its digest is a platform of a kept index,
    and that platform is itself an index), so this runs until nothing changes.  `reasons`
    is updated in place for the tags kept that way.
    """
    needed: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for tag, image in sorted(tags.items()):
            if reasons[tag] is None and image.digest in needed:
                reasons[tag] = f"digest also used by {needed[image.digest]}"
                changed = True
            if reasons[tag] is None:
                continue
            uses = [(image.digest, f"kept tag {tag!r}")]
            uses += [(child, f"kept index tag {tag!r}") for child in image.children]
            for digest, user in uses:
                if digest not in needed:
                    needed[digest] = user
                    changed = True
    return needed


def _newest(images: Iterable[Image], count: int) -> dict[str, str]:
    """The digests of the `count` newest dated images, each with the reason it is kept.

    Images whose times tie at the boundary are ordered by push time when the registry gives
    one for each of them; otherwise all of them are kept.  A digest is no order at all:
    breaking ties by it deleted the newest of five reproducible builds.
    """
    dated = sorted(
        ((i.created, i) for i in {i.digest: i for i in images}.values() if i.created is not None),
        key=lambda pair: pair[0],
        reverse=True,
    )
    if count == 0:
        return {}
    newest = f"among the newest {count} images"
    if len(dated) <= count:
        return {i.digest: newest for _, i in dated}
    boundary = dated[count - 1][0]
    chosen = {i.digest: newest for created, i in dated if created > boundary}
    tied = [i for created, i in dated if created == boundary]
    slots = count - len(chosen)
    pushed = sorted((i.pushed for i in tied if i.pushed is not None), reverse=True)
    if len(tied) <= slots:
        return {**chosen, **{i.digest: newest for i in tied}}
    if len(pushed) < len(tied):
        tie = f"tied for the newest {count} images; push order unknown"
        return {**chosen, **{i.digest: tie for i in tied}}
    last = pushed[slots - 1]
    return {**chosen, **{i.digest: newest for i in tied if i.pushed and i.pushed >= last}}


def _pinned(repository: str, tag: str, image: Image, rule: Rule, in_use: InUse) -> str | None:
    """Why a tag is kept whatever its age or its image: protection or a Pod using it."""
    pattern = rule.protecting_pattern(tag)
    if pattern is not None:
        return f"protected by pattern {pattern!r}"
    if (repository, tag) in in_use.tags or in_use.digests & {image.digest, *image.children}:
        return "referenced by a pod in the cluster"
    return None


def _keep_reason(
    repository: str,
    tag: str,
    image: Image,
    rule: Rule,
    in_use: InUse,
    newest: dict[str, str],
    now: datetime,
) -> str | None:
    pinned = _pinned(repository, tag, image, rule, in_use)
    if pinned is not None:
        return pinned
    if image.created is None:
        return "creation time unknown (missing, unparsable or before 1981)"
    if image.digest in newest:
        return newest[image.digest]
    if rule.max_age_days is not None and now - image.created < timedelta(days=rule.max_age_days):
        return f"younger than {rule.max_age_days:g} days"
    return None


def _delete_reason(rule: Rule, subject: str | None) -> str:
    if subject is not None:
        return f"refers to {subject}, which is deleted"
    limits = []
    if rule.max_age_days is not None:
        limits.append(f"older than {rule.max_age_days:g} days")
    if rule.keep_last is not None:
        limits.append(f"not among the newest {rule.keep_last} images")
    return " and ".join(limits)


def spare(plan: RepositoryPlan, why: Mapping[str, str]) -> dict[str, str]:
    """Planned digests that must not be deleted after all, given some that must not (`why`:
    digest -> reason): also everything a spared index needs and every spared image's
    referrers, so sparing an image never strips it of its platforms or its signatures."""
    spared = dict(why)
    changed = True
    while changed:
        changed = False
        for decision in plan.deleted:
            image = decision.image
            reasons = {}
            if image.digest in spared:
                reasons.update({c: f"needed by spared {image.digest}" for c in image.children})
            if decision.subject in spared:
                reasons[image.digest] = f"refers to spared {decision.subject}"
            for digest, reason in reasons.items():
                if digest in plan.delete_digests and digest not in spared:
                    spared[digest] = reason
                    changed = True
    return spared
