"""Keep what the cluster uses out of `registry garbage-collect --delete-untagged`.

GC deletes every manifest no tag points to, and a manifest loses its last tag as soon as the
tag is pushed again (`latest`, `1.2`, a digest pin moved by an image updater), while Pods go on
running it by digest.  Distribution has no "keep this" mark besides a tag, so before the window
closes (the registry still takes writes) every in-use manifest, and every child of an in-use
index, gets a reserved tag: `regstack-gc-<hex of its digest>`, its exact bytes put again under
that name (the digest cannot change).  After the window reopens, `release` removes every
reserved tag the registry holds (Distribution 3.x deletes a tag without its manifest), so a tag
left by a run that was killed goes with the next run.

Every in-use manifest is tagged, tagged or not: a tag moved between this step and the window
closing would otherwise leave it bare.  What is in use comes from the shared inventory
(components/retention/inuse.py: Pods, every pod template, in-use files); when it cannot be read,
or any tag cannot be put, `protect` raises and GC does not run.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..retention.inuse import resolve
from ..retention.plan import InUse
from ..retention.registry import Registry

RESERVED = "regstack-gc-"
_RESERVED_TAG = re.compile(re.escape(RESERVED) + r"[0-9a-f]{64}")


def reserved_tag(digest: str) -> str:
    return RESERVED + digest.removeprefix("sha256:")


def is_reserved(tag: str) -> bool:
    return _RESERVED_TAG.fullmatch(tag) is not None


def protect(registry: Registry, in_use: InUse) -> int:
    """Put a reserved tag on every in-use manifest this registry holds; how many."""
    found = resolve(in_use, registry)
    for (repository, digest), manifest in sorted(found.items()):
        registry.put_manifest(repository, reserved_tag(digest), manifest)
    return len(found)


def release(registry: Registry, stopping: Callable[[], bool] = lambda: False) -> int:
    """Remove every reserved tag in the registry; how many.  Stops early (the next run finishes
    the sweep) when `stopping` says so, e.g. on SIGTERM."""
    removed = 0
    for repository in registry.repositories():
        for tag in registry.tags(repository):
            if stopping():
                return removed
            if is_reserved(tag):
                removed += registry.delete_tag(repository, tag)
    return removed
