"""Container image references, and the tag conventions of the private-registry chapter.

A reference is ``[host[:port]/]path[:tag][@digest]``. Parsing follows the grammar of
github.com/distribution/reference (the one Docker, containerd and the registry itself use), so
whatever this module accepts, a container runtime accepts too. Errors say which part is wrong
and what that part may contain, because they end up in Pulumi policy reports read by people who
did not write the reference.

The tag builders produce the chapter's conventions (``v1.2.3``, ``v1.2.3-rc1``, ``sha-1a2b3c4``,
``build-42``, ``20240131-0915``, sanitised branch names, environment aliases), and
`classify_tag` tells them apart again for the policy pack and the retention engine.

Standard library only, like the retention engine: the retention Job mounts this file beside the
engine (`components/retention_job.py`), and the policy pack imports it too. Where the three
readers differ, the difference is a named option here, not a second parser:
- `split_reference(default_registry=None)`: the retention engine matches pods' images against
  the registry whatever host they were pulled by, so a name without a host stays as written;
- `split_reference(legacy_hub=True)`: the policy pack reads `index.docker.io` as Docker Hub;
- `is_release_tag(bare=True, variants=True)`: the policy pack also accepts third-party releases
  (`2.8.3`, `1.27.3-alpine`), where the chapter's own convention is `v1.2.3`;
- `PROTECTED_ALIASES`: the aliases retention keeps by default (not `dev`, which moves with
  every push and so pins nothing worth keeping).

``python -m components.images tags --sha SHA --ref REF [--build N] [--time ISO] [--image NAME]
[--environment dev|staging|prod]`` prints the tags (or full references) that the application
pipeline pushes for one commit.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

# Limits and names from the distribution reference grammar.
MAX_NAME_LENGTH = 255
MAX_TAG_LENGTH = 128
DOCKER_HUB = "docker.io"
OFFICIAL_NAMESPACE = "library"

LEGACY_DOCKER_HUB = "index.docker.io"

# Tags that name an environment or a moving release rather than one build.
ALIAS_TAGS = frozenset({"dev", "staging", "prod", "latest", "stable"})
PROTECTED_ALIASES = ALIAS_TAGS - {"dev"}

_DOMAIN_COMPONENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
# Deliberately as loose as upstream: brackets around hex digits and colons, no zone index and
# no embedded IPv4, so we accept exactly the IPv6 hosts a container runtime accepts.
_IPV6_HOST = re.compile(r"\[[A-Fa-f0-9:]+\]")
_PORT = re.compile(r"[0-9]+")
_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_PATH_SEPARATOR = re.compile(r"[._]|__|-+")
_TAG_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
# Upstream's grammar allows any algorithm name and upper-case hex, but the digest library behind
# it only accepts registered algorithms with lower-case hex of their exact length; we do the same.
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX = frozenset("0123456789abcdef")
# A bare 64-hex string is an image ID; upstream refuses to read it as a repository name.
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")

_HOST_RULE = "a host component is letters, digits and '-', and cannot start or end with '-'"
_PATH_RULE = (
    "a path component is lowercase letters and digits, joined by one '.', one or two '_', "
    "or a run of '-'"
)
_TAG_RULE = "a tag is 1\N{EN DASH}128 of [A-Za-z0-9_.-] and cannot start with '.' or '-'"
_DIGEST_RULE = "a digest is algorithm:hex, as in sha256:<64 lowercase hex digits>"

# Tag conventions. Numbers have no leading zeros, as in semantic versioning.
_NUMBER = r"(?:0|[1-9][0-9]*)"
_RELEASE = re.compile(rf"v{_NUMBER}\.{_NUMBER}\.{_NUMBER}")
_PRE_RELEASE_LABEL = re.compile(rf"(?:alpha|beta|rc)(?:\.?{_NUMBER})?")
_PRERELEASE = re.compile(rf"{_RELEASE.pattern}-{_PRE_RELEASE_LABEL.pattern}")
RELEASE_PATTERN = _RELEASE.pattern
"""The chapter's release tag (`v1.2.3`) as a regular expression, for pattern lists."""
# Third-party releases: X.Y.Z or vX.Y.Z, maybe with an image variant as official images tag them
# (-alpine3.21, -bookworm, -slim): a variant names the base image of the same release.
_ANY_RELEASE = re.compile(
    rf"(?P<v>v?){_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-(?P<variant>[a-z][a-z0-9.]*))?"
)
_ANY_PRERELEASE = re.compile(r"(alpha|beta|rc|pre|preview|dev|snapshot|nightly)([0-9.]*)")
_SHA = re.compile(r"sha-[0-9a-f]{7,40}")
_BUILD = re.compile(rf"build-{_NUMBER}")
_TIMESTAMP = re.compile(r"[0-9]{8}-[0-9]{4}")
_TIMESTAMP_FORMAT = "%Y%m%d-%H%M"
_BRANCH_PREFIX = "branch-"


class InvalidImageReference(ValueError):
    """An image reference, or a part of one, that the distribution grammar rejects."""


@dataclass(frozen=True)
class ImageReference:
    """A validated image reference in canonical form.

    `registry` is always set: references without one are on Docker Hub, and single-component
    Docker Hub repositories live under ``library/``, exactly as a container runtime reads them.
    `tag` and `digest` are None when absent; a missing tag is not replaced by ``latest`` because
    the policy pack must be able to tell the two apart.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        # Validate here rather than only in parse() so that a reference built directly, or with
        # dataclasses.replace(), is just as trustworthy and prints as something parse() reads back.
        _check_registry(self.registry)
        _check_repository(self.repository)
        if not _names_registry(self.registry):
            raise InvalidImageReference(
                f"registry {self.registry!r} would be read back as a path component; "
                "a registry needs a '.', a ':port', an upper-case letter, or to be 'localhost'"
            )
        if self.registry == DOCKER_HUB and "/" not in self.repository:
            raise InvalidImageReference(
                f"Docker Hub repository {self.repository!r} has no namespace; official images "
                f"are '{OFFICIAL_NAMESPACE}/{self.repository}'"
            )
        if len(self.name) > MAX_NAME_LENGTH:
            raise InvalidImageReference(
                f"name {self.name[:40]!r}... is {len(self.name)} characters; "
                f"registry and repository together are at most {MAX_NAME_LENGTH}"
            )
        if self.tag is not None:
            validate_tag(self.tag)
        if self.digest is not None:
            _check_digest(self.digest)

    @property
    def name(self) -> str:
        """Registry and repository, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Read ``[host[:port]/]path[:tag][@digest]``, raising InvalidImageReference if invalid."""
        try:
            return cls._from_text(text)
        except InvalidImageReference as error:
            raise InvalidImageReference(f"invalid image reference {text!r}: {error}") from None

    @classmethod
    def _from_text(cls, text: str) -> ImageReference:
        if not text:
            raise InvalidImageReference("it is empty; expected [host[:port]/]path[:tag][@digest]")
        if _IMAGE_ID.fullmatch(text):
            raise InvalidImageReference(
                "a 64-hex string is an image ID, not a repository; pin by digest instead, "
                "as in name@sha256:<hex>"
            )
        first, slash, _ = text.partition("@")[0].partition("/")
        if not slash and first.startswith("["):
            raise InvalidImageReference(
                "an IPv6 registry host needs a repository after it, as in [::1]:5000/team/app"
            )
        registry, repository, tag, digest = split_reference(text)
        assert registry is not None
        return cls(registry=registry, repository=repository, tag=tag, digest=digest)

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{self.name}{tag}{digest}"


def split_reference(
    text: str, *, default_registry: str | None = DOCKER_HUB, legacy_hub: bool = False
) -> tuple[str | None, str, str | None, str | None]:
    """(registry, repository, tag, digest) of ``[host[:port]/]path[:tag][@digest]``, as a
    container runtime splits it, without validating the parts (`ImageReference.parse` does).

    A name without a host is on `default_registry`, and on Docker Hub a single component is
    under ``library/``; with `default_registry=None` such a name keeps no registry and stays as
    written. `legacy_hub` reads ``index.docker.io`` as ``docker.io``.
    """
    name_and_tag, at, digest = text.partition("@")
    registry: str | None
    registry, slash, rest = name_and_tag.partition("/")
    if not slash or not _names_registry(registry):
        registry, rest = default_registry, name_and_tag
    if legacy_hub and registry == LEGACY_DOCKER_HUB:
        registry = DOCKER_HUB
    # The tag is whatever follows ':' in the last path segment; a ':' before the last '/'
    # can only be a registry port, which was split off above.
    head, slash, last = rest.rpartition("/")
    last_component, colon, tag = last.partition(":")
    repository = head + slash + last_component
    if registry == DOCKER_HUB and repository and "/" not in repository:
        repository = f"{OFFICIAL_NAMESPACE}/{repository}"
    return registry, repository, tag if colon else None, digest if at else None


def _names_registry(component: str) -> bool:
    """Whether the first component of a name is a registry host rather than a path component.

    This is the rule container runtimes use, so we must use it too: only 'localhost', or
    something with a '.' or ':' (a domain, an IP, a port), or with upper case (which a path
    may not contain), is a registry; anything else is a Docker Hub namespace.
    """
    return (
        component == "localhost"
        or any(c in ".:" for c in component)
        or component.lower() != component
    )


def _check_registry(registry: str) -> None:
    if not registry:
        raise InvalidImageReference("registry is empty; expected host[:port]")
    host, port = _split_port(registry)
    if host.startswith("["):
        if not _IPV6_HOST.fullmatch(host):
            raise InvalidImageReference(
                f"registry IPv6 host {host!r} is malformed; it is hex digits and ':' inside "
                "brackets, as in [::1]"
            )
    else:
        for component in host.split("."):
            if not component:
                raise InvalidImageReference(
                    f"registry host {host!r} has an empty component "
                    "(a leading, trailing or doubled '.')"
                )
            if not _DOMAIN_COMPONENT.fullmatch(component):
                raise InvalidImageReference(
                    f"registry host {host!r} has the component {component!r}; {_HOST_RULE}"
                )
    if port is not None and not _PORT.fullmatch(port):
        raise InvalidImageReference(
            f"registry port {port!r} is not a number; a port is digits, as in host:5000"
        )


def _split_port(registry: str) -> tuple[str, str | None]:
    if registry.startswith("["):
        close = registry.find("]")
        if close == -1:
            raise InvalidImageReference(f"registry {registry!r} opens '[' but never closes it")
        host, rest = registry[: close + 1], registry[close + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidImageReference(
                f"registry {registry!r} has {rest!r} after ']'; only ':port' may follow"
            )
        return host, rest[1:] if rest else None
    if registry.count(":") > 1:
        raise InvalidImageReference(
            f"registry {registry!r} has several ':'; an IPv6 host goes inside brackets, "
            "as in [::1]:5000"
        )
    host, colon, port = registry.partition(":")
    return host, port if colon else None


def _check_repository(repository: str) -> None:
    if not repository:
        raise InvalidImageReference(f"repository path is empty; {_PATH_RULE}")
    for component in repository.split("/"):
        if not component:
            raise InvalidImageReference(
                f"repository {repository!r} has an empty path component "
                "(a leading, trailing or doubled '/')"
            )
        if not _PATH_COMPONENT.fullmatch(component):
            raise InvalidImageReference(f"{_path_component_fault(component)}; {_PATH_RULE}")


def _path_component_fault(component: str) -> str:
    """Say what is wrong with a path component that failed the grammar."""
    bad = next((c for c in component if c not in _PATH_CHARS), None)
    if bad is not None:
        case = "upper-case " if bad.isupper() else ""
        return f"path component {component!r} contains {case}{bad!r}"
    if component[0] in "._-":
        return f"path component {component!r} starts with {component[0]!r}"
    if component[-1] in "._-":
        return f"path component {component!r} ends with {component[-1]!r}"
    separator = next(
        run.group()
        for run in re.finditer(r"[._-]+", component)
        if not _PATH_SEPARATOR.fullmatch(run.group())
    )
    return f"path component {component!r} joins with {separator!r}"


def _check_digest(digest: str) -> None:
    algorithm, colon, value = digest.partition(":")
    if not colon:
        raise InvalidImageReference(f"digest {digest!r} has no ':'; {_DIGEST_RULE}")
    length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None:
        supported = ", ".join(_DIGEST_HEX_LENGTHS)
        raise InvalidImageReference(
            f"digest algorithm {algorithm!r} is not supported; use one of {supported}"
        )
    bad = next((c for c in value if c not in _LOWER_HEX), None)
    if bad is not None:
        raise InvalidImageReference(
            f"{algorithm} digest contains {bad!r}; the value is lowercase hex [0-9a-f]"
        )
    if len(value) != length:
        raise InvalidImageReference(
            f"{algorithm} digest has {len(value)} hex digits; it must have exactly {length}"
        )


def validate_tag(tag: str) -> str:
    """Return `tag` unchanged if it is a valid tag, else raise InvalidImageReference saying why."""
    if not tag:
        raise InvalidImageReference(f"tag is empty; {_TAG_RULE}")
    bad = next((c for c in tag if c not in _TAG_CHARS), None)
    if bad is not None:
        raise InvalidImageReference(f"tag {tag!r} contains {bad!r}; {_TAG_RULE}")
    if tag[0] in ".-":
        raise InvalidImageReference(f"tag {tag!r} starts with {tag[0]!r}; {_TAG_RULE}")
    if len(tag) > MAX_TAG_LENGTH:
        raise InvalidImageReference(
            f"tag {tag[:20]!r}... is {len(tag)} characters long; {_TAG_RULE}"
        )
    return tag


class TagKind(StrEnum):
    """What a tag says about the image, by the chapter's conventions."""

    RELEASE = "release"  # v1.2.3
    PRERELEASE = "prerelease"  # v1.2.3-rc1, v1.2.3-beta.2
    SHA = "sha"  # sha-1a2b3c4: the git commit it was built from
    BUILD = "build"  # build-42: the CI build number
    TIMESTAMP = "timestamp"  # 20240131-0915, UTC
    ALIAS = "alias"  # dev, staging, prod, latest, stable: moved from image to image
    BRANCH = "branch"  # anything else: sanitised branch names and free-form tags


def classify_tag(tag: str) -> TagKind:
    """Which convention `tag` follows; raises InvalidImageReference if it is not a valid tag."""
    validate_tag(tag)
    if _RELEASE.fullmatch(tag):
        return TagKind.RELEASE
    if _PRERELEASE.fullmatch(tag):
        return TagKind.PRERELEASE
    if _SHA.fullmatch(tag):
        return TagKind.SHA
    if _BUILD.fullmatch(tag):
        return TagKind.BUILD
    if _TIMESTAMP.fullmatch(tag) and _is_real_time(tag):
        return TagKind.TIMESTAMP
    if tag in ALIAS_TAGS:
        return TagKind.ALIAS
    return TagKind.BRANCH


def _is_real_time(tag: str) -> bool:
    try:
        datetime.strptime(tag, _TIMESTAMP_FORMAT)
    except ValueError:
        return False
    return True


def is_release_semver(tag: str) -> bool:
    """Whether `tag` is a final release such as v1.2.3 (no pre-release); False for invalid tags."""
    return is_release_tag(tag)


def is_release_tag(tag: str, *, bare: bool = False, variants: bool = False) -> bool:
    """Whether `tag` names a final release, never a pre-release (`-rc1`, `-beta`, `-alpha.2`).

    By default only the chapter's `v1.2.3`; `bare` also accepts `1.2.3`, and `variants` an image
    variant after it (`-alpine3.21`, `-bookworm`), as third-party images tag their releases."""
    if not (bare or variants):
        try:
            return classify_tag(tag) is TagKind.RELEASE
        except InvalidImageReference:
            return False
    match = _ANY_RELEASE.fullmatch(tag)
    if match is None or not (bare or match.group("v")):
        return False
    variant = match.group("variant")
    if variant is not None and not variants:
        return False
    return variant is None or _ANY_PRERELEASE.fullmatch(variant) is None


def semver_tag(major: int, minor: int, patch: int, pre: str | None = None) -> str:
    """``v<major>.<minor>.<patch>``, or with ``-<pre>`` a pre-release: alpha, beta, rc1, beta.2."""
    for part in (major, minor, patch):
        _require_count(part, "a version number")
    tag = f"v{major}.{minor}.{patch}"
    if pre is not None:
        if not _PRE_RELEASE_LABEL.fullmatch(pre):
            raise ValueError(
                f"pre-release {pre!r} is not alpha, beta or rc with an optional number "
                "(rc1, beta.2)"
            )
        tag = f"{tag}-{pre}"
    return validate_tag(tag)


def sha_tag(sha: str, length: int = 7) -> str:
    """``sha-<hex>`` from the first `length` (7 to 40) hex digits of a git commit SHA."""
    if not 7 <= length <= 40:
        raise ValueError(f"SHA tag length {length} is outside 7 to 40")
    prefix = sha[:length].lower()
    if len(prefix) < length or not set(prefix) <= _LOWER_HEX:
        raise ValueError(f"git SHA {sha!r} is not at least {length} hex digits")
    return f"sha-{prefix}"


def build_tag(number: int) -> str:
    """``build-<number>`` for a CI build or pipeline number."""
    _require_count(number, "a build number")
    return f"build-{number}"


def timestamp_tag(moment: datetime) -> str:
    """``YYYYMMDD-HHMM`` in UTC, so that tags sort in build order whatever the runner's zone."""
    if moment.utcoffset() is None:
        raise ValueError(
            "timestamp_tag needs a timezone-aware datetime; a naive one means a different "
            "instant on each runner"
        )
    utc = moment.astimezone(UTC)
    # Formatted by hand: strftime's %Y does not zero-pad years before 1000 on every platform.
    return f"{utc.year:04d}{utc.month:02d}{utc.day:02d}-{utc.hour:02d}{utc.minute:02d}"


def branch_tag(name: str) -> str:
    """A valid tag from any branch name: ``feature/Login-Page`` gives ``feature-login-page``.

    Accents are dropped, everything outside [a-z0-9_.] becomes one '-', and the result is at most
    128 characters without a leading or trailing '.' or '-'. A branch whose tag would pass for
    another kind (``prod``, ``v1.2.3``, ``sha-abc1234``) is prefixed with ``branch-``, so a
    branch push can never move an environment alias or fake a release.
    """
    tag = _tidy(_fold_accents(name).lower())
    if not tag or classify_tag(tag) is not TagKind.BRANCH:
        tag = _tidy(_BRANCH_PREFIX + tag)
    return tag


def _fold_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _tidy(text: str) -> str:
    dashed = re.sub(r"[^a-z0-9_.]+", "-", text).lstrip(".-")
    return dashed[:MAX_TAG_LENGTH].rstrip(".-")


def _require_count(value: int, what: str) -> None:
    # bool is an int subclass; True as a build number is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}")


ENVIRONMENTS = ("dev", "staging", "prod")


def _environment_aliases(environment: str, version: str | None) -> list[str]:
    """The alias tags of a build going to `environment`: the chapter's `staging` for a
    pre-release, `prod` with `stable` and `latest` (the newest stable version) for a release."""
    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment {environment!r} is not one of {', '.join(ENVIRONMENTS)}")
    kind = classify_tag(version) if version else None
    if environment == "prod" and kind is not TagKind.RELEASE:
        raise ValueError(
            "only a release version (git tag v1.2.3) goes to prod; "
            "a pre-release goes to staging, a branch to dev"
        )
    if environment == "staging" and kind is None:
        raise ValueError("staging takes a version (git tag v1.2.3-rc1); a branch goes to dev")
    return [environment, "stable", "latest"] if environment == "prod" else [environment]


def pipeline_tags(
    sha: str,
    ref: str,
    build: int | None = None,
    moment: datetime | None = None,
    environment: str | None = None,
) -> list[str]:
    """The tags the application pipeline pushes for commit `sha` built from git `ref`.

    Every image gets its ``sha-`` tag; a version tag push (``refs/tags/v1.2.3``) adds the
    version, a branch push (``refs/heads/...``) adds the sanitised branch name, and the CI build
    number and build time add ``build-`` and timestamp tags when given. With `environment`
    (dev, staging, prod) the environment's alias tags come last (see _environment_aliases).
    """
    tags = [sha_tag(sha)]
    version = None
    if ref.startswith("refs/tags/"):
        version = ref.removeprefix("refs/tags/")
        # A release pipeline must not push an arbitrary git tag as if it were a version.
        if classify_tag(version) not in (TagKind.RELEASE, TagKind.PRERELEASE):
            raise ValueError(
                f"git tag {version!r} is not a version by the conventions (v1.2.3, v1.2.3-rc1)"
            )
        tags.append(version)
    elif ref.startswith("refs/heads/"):
        tags.append(branch_tag(ref.removeprefix("refs/heads/")))
    else:
        raise ValueError(f"git ref {ref!r} is neither refs/heads/<branch> nor refs/tags/<version>")
    if build is not None:
        tags.append(build_tag(build))
    if moment is not None:
        tags.append(timestamp_tag(moment))
    if environment is not None:
        tags += _environment_aliases(environment, version)
    return tags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.images")
    commands = parser.add_subparsers(dest="command", required=True)
    tags = commands.add_parser("tags", help="print the tags to push for a git commit, one a line")
    tags.add_argument("--sha", required=True, help="the commit's git SHA")
    tags.add_argument("--ref", required=True, help="refs/heads/<branch> or refs/tags/<version>")
    tags.add_argument("--build", type=int, help="the CI build or pipeline number")
    tags.add_argument(
        "--time", type=datetime.fromisoformat, help="build time, ISO 8601 with a UTC offset"
    )
    tags.add_argument("--image", help="print full references for this registry/repository")
    tags.add_argument(
        "--environment",
        help="add the alias tags of this environment: dev; staging (a pre-release); "
        "prod (a release: also stable and latest)",
    )
    args = parser.parse_args(argv)
    try:
        lines = pipeline_tags(args.sha, args.ref, args.build, args.time, args.environment)
        if args.image is not None:
            lines = [str(ImageReference.parse(f"{args.image}:{tag}")) for tag in lines]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
