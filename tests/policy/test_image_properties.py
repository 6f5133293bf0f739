"""Properties of the conventions Kubernetes has no check for: image origin, release tags in prod,
the namespace layout. References are generated from the distribution/reference grammar (what
Docker and containerd accept): registry hosts as names, IPv4 and IPv6 literals, `localhost`,
upper case, ports; paths with every separator; tags; digests.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from policy.rules import (
    NAMESPACE_LAYOUT,
    Settings,
    is_release_tag,
    namespace_layout,
    parse_image,
    prod_image_tags,
    registry_images,
)
from tests.policy.manifests import DEPLOYMENT, container, deployment

SEEDED = settings(max_examples=200, derandomize=True, database=None, deadline=None)

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
WORD = st.text(ALNUM, min_size=1, max_size=6)
LABEL = st.tuples(WORD, st.sampled_from(["", "-", "--"]), WORD).map(
    lambda t: t[0] + t[1] + t[2] if t[1] else t[0]
)
DOMAIN = st.lists(LABEL, min_size=2, max_size=4).map(".".join)
HOST = st.one_of(
    DOMAIN,
    DOMAIN.map(str.upper),
    st.just("localhost"),
    WORD.map(lambda w: "R" + w),  # upper case alone makes a host
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    st.sampled_from(["[::1]", "[fe80::1]", "[2001:db8::5]", "[::ffff:a00:1]"]),
)
PORT = st.none() | st.integers(1, 65535)
SEPARATOR = st.sampled_from([".", "_", "__", "-", "---"])
PATH_COMPONENT = st.tuples(WORD, st.none() | st.tuples(SEPARATOR, WORD)).map(
    lambda t: t[0] + ("".join(t[1]) if t[1] else "")
)
PATH = st.lists(PATH_COMPONENT, min_size=1, max_size=3).map("/".join)
TAG = st.tuples(st.sampled_from(ALNUM + "ABC_"), st.text(ALNUM + "XYZ_.-", max_size=12)).map(
    "".join
)
DIGEST = st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256:{h}")


def _docker_hub_path(path: str) -> bool:
    """Without a host, a first component that looks like one would be read as one."""
    first, slash, _ = path.partition("/")
    return not slash or not ("." in first or first == "localhost")


@st.composite
def references(draw: Any) -> tuple[str, tuple[str, str, str | None, str | None]]:
    """(reference, what a container runtime reads from it: registry, repository, tag, digest)."""
    host, port = draw(st.none() | HOST), draw(PORT)
    path = draw(PATH if host else PATH.filter(_docker_hub_path))
    tag, digest = draw(st.none() | TAG), draw(st.none() | DIGEST)
    registry = None if host is None else host + (f":{port}" if port else "")
    text = (f"{registry}/" if registry else "") + path
    text += (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    if registry is None:
        registry = "docker.io"
        path = path if "/" in path else f"library/{path}"
    return text, (registry, path, tag, digest)


@SEEDED
@given(references())
def test_a_reference_is_read_as_a_container_runtime_reads_it(
    case: tuple[str, tuple[str, str, str | None, str | None]],
) -> None:
    text, expected = case
    assert tuple(parse_image(text)) == expected


def test_docker_hubs_legacy_host_is_docker_hub() -> None:
    assert parse_image("index.docker.io/nginx:1.27.3") == ("docker.io", "library/nginx",
                                                            "1.27.3", None)  # fmt: skip


@SEEDED
@given(references(), st.sampled_from([str.lower, str.upper, str.title]))
def test_an_image_from_a_registry_host_passes_whatever_the_hosts_case(
    case: tuple[str, tuple[str, str, str | None, str | None]], case_of: Any
) -> None:
    text, (registry, *_) = case
    hosts = Settings(registry_hosts=(case_of(registry),), allowed_image_prefixes=())
    assert registry_images(DEPLOYMENT, deployment(container(text)), hosts) == []


@SEEDED
@given(references(), st.sampled_from(["registry.example.com", "localhost:32000", "[::1]:5000"]))
def test_an_image_from_anywhere_else_is_refused_once(
    case: tuple[str, tuple[str, str, str | None, str | None]], host: str
) -> None:
    text, (registry, *_) = case
    settings = Settings(registry_hosts=(host,), allowed_image_prefixes=())
    found = registry_images(DEPLOYMENT, deployment(container(text)), settings)
    assert len(found) == (0 if registry.lower() == host else 1)


@SEEDED
@given(PATH, st.sampled_from(["registry.example.com.evil.io", "evil.io/registry.example.com",
                              "registry.example.com.", "registry-example.com"]))  # fmt: skip
def test_a_lookalike_of_the_registry_host_is_refused(path: str, lookalike: str) -> None:
    settings = Settings(registry_hosts=("registry.example.com",), allowed_image_prefixes=())
    image = f"{lookalike}/{path}:1.0.0"
    assert len(registry_images(DEPLOYMENT, deployment(container(image)), settings)) == 1


@SEEDED
@given(references())
def test_in_prod_an_image_passes_iff_it_has_a_digest_or_a_release_tag(
    case: tuple[str, tuple[str, str, str | None, str | None]],
) -> None:
    text, (_, _, tag, digest) = case
    found = prod_image_tags(DEPLOYMENT, deployment(container(text)), Settings(profile="prod"))
    assert (found == []) == bool(digest or (tag and is_release_tag(tag)))


NUMBER = st.integers(0, 10_000).map(str)
VERSION = st.tuples(st.sampled_from(["", "v"]), NUMBER, NUMBER, NUMBER)


@SEEDED
@given(VERSION, st.none() | st.sampled_from(["alpine3.21", "bookworm", "slim"]))
def test_three_numbers_are_a_release_with_or_without_v_and_variant(
    version: tuple[str, ...], variant: str | None
) -> None:
    v, x, y, z = version
    assert is_release_tag(f"{v}{x}.{y}.{z}" + (f"-{variant}" if variant else ""))


@SEEDED
@given(VERSION, st.sampled_from(["rc", "alpha", "beta", "pre", "dev", "nightly"]),
       st.sampled_from(["", "1", ".2", "10"]))  # fmt: skip
def test_a_pre_release_is_not_a_release(version: tuple[str, ...], label: str, number: str) -> None:
    v, x, y, z = version
    assert not is_release_tag(f"{v}{x}.{y}.{z}-{label}{number}")


@SEEDED
@given(VERSION, st.integers(0, 2))
def test_a_number_with_a_leading_zero_is_not_a_release(version: tuple[str, ...], at: int) -> None:
    parts = list(version[1:])
    parts[at] = "0" + parts[at]
    assert not is_release_tag(version[0] + ".".join(parts))


@SEEDED
@given(LABEL)
def test_a_namespace_passes_iff_it_is_in_the_layout(name: str) -> None:
    found = namespace_layout("kubernetes:core/v1:Namespace", {"metadata": {"name": name}},
                             Settings())  # fmt: skip
    assert (found == []) == (name in NAMESPACE_LAYOUT)
