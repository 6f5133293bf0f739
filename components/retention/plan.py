"""The pure planning step: given what a repository holds, decide what to delete and why.

The registry deletes by digest, and deleting a digest removes every tag pointing to it.
So the unit of deletion is the image (digest), and a tag is only deleted when *no* tag
sharing its digest is kept -- otherwise the tag is kept too, with that as its reason.  An
index being deleted takes its child manifests with it, except children still needed by a
kept tag or a kept index; without that, the children and their layers would outlive the
index forever (the registry's garbage collector keeps every manifest that still exists).
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class InUse:
    """Images running in the cluster: (repository, tag) pairs and bare digests."""

    tags: frozenset[tuple[str, str]] = frozenset()
    digests: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TagDecision:
    tag: str
    image: Image
    keep: bool
    reason: str


@dataclass(frozen=True)
class RepositoryPlan:
    repository: str
    rule: Rule | None
    decisions: tuple[TagDecision, ...]
    # Tagged manifests first, then the orphaned children of deleted indexes, so a run
    # stopped half-way never leaves a tag pointing at an index with missing children.
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

    newest = _newest_digests(tags.values(), rule.keep_last or 0)
    reasons = {
        tag: _keep_reason(repository, tag, image, rule, in_use, newest, now)
        for tag, image in tags.items()
    }
    needed = _needed_digests(tags, reasons)
    decisions = [
        TagDecision(tag, image, False, _delete_reason(rule))
        if reasons[tag] is None
        else TagDecision(tag, image, True, str(reasons[tag]))
        for tag, image in sorted(tags.items())
    ]

    tagged = sorted({d.image.digest for d in decisions if not d.keep})
    children = sorted(
        {c for d in decisions if not d.keep for c in d.image.children} - needed.keys() - set(tagged)
    )
    return RepositoryPlan(repository, rule, tuple(decisions), (*tagged, *children))


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


def _newest_digests(images: Iterable[Image], count: int) -> set[str]:
    dated = {(i.created, i.digest) for i in images if i.created is not None}
    return {digest for _, digest in sorted(dated, reverse=True)[:count]}


def _keep_reason(
    repository: str,
    tag: str,
    image: Image,
    rule: Rule,
    in_use: InUse,
    newest: set[str],
    now: datetime,
) -> str | None:
    pattern = rule.protecting_pattern(tag)
    if pattern is not None:
        return f"protected by pattern {pattern!r}"
    if (repository, tag) in in_use.tags or in_use.digests & {image.digest, *image.children}:
        return "referenced by a pod in the cluster"
    if image.created is None:
        return "creation time unknown"
    if image.digest in newest:
        return f"among the newest {rule.keep_last} images"
    if rule.max_age_days is not None and now - image.created < timedelta(days=rule.max_age_days):
        return f"younger than {rule.max_age_days:g} days"
    return None


def _delete_reason(rule: Rule) -> str:
    limits = []
    if rule.max_age_days is not None:
        limits.append(f"older than {rule.max_age_days:g} days")
    if rule.keep_last is not None:
        limits.append(f"not among the newest {rule.keep_last} images")
    return " and ".join(limits)
