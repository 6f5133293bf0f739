"""Image references and tag conventions: examples first, then properties checked by hypothesis."""

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from components.images import (
    ALIAS_TAGS,
    ImageReference,
    InvalidImageReference,
    TagKind,
    branch_tag,
    build_tag,
    classify_tag,
    is_release_semver,
    main,
    pipeline_tags,
    semver_tag,
    sha_tag,
    timestamp_tag,
    validate_tag,
)

SHA256 = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "0123456789abcdef" * 8


# --- Parsing valid references -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", None, None),
        ("nginx:1.25", "docker.io", "library/nginx", "1.25", None),
        ("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", None),
        ("docker.io/nginx", "docker.io", "library/nginx", None, None),
        ("localhost/app", "localhost", "app", None, None),
        ("localhost:5000/team/app:v1.2.3", "localhost:5000", "team/app", "v1.2.3", None),
        ("registry.example.com/a/b/c:build-42", "registry.example.com", "a/b/c", "build-42", None),
        ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", None, None),
        ("[::1]:5000/app:dev", "[::1]:5000", "app", "dev", None),
        ("[2001:db8::1]/team/app", "[2001:db8::1]", "team/app", None, None),
        ("Registry.Example.COM/app", "Registry.Example.COM", "app", None, None),
        ("MyHost/app", "MyHost", "app", None, None),
        (f"reg.io/a/b@{SHA256}", "reg.io", "a/b", None, SHA256),
        (f"reg.io/a:v1@{SHA256}", "reg.io", "a", "v1", SHA256),
        (f"reg.io/a@{SHA512}", "reg.io", "a", None, SHA512),
        ("reg.io/a__b/c-----d/e.f_g", "reg.io", "a__b/c-----d/e.f_g", None, None),
        ("reg.io/app:_private", "reg.io", "app", "_private", None),
        ("reg.io/app:" + "x" * 128, "reg.io", "app", "x" * 128, None),
    ],
)
def test_a_valid_reference_is_split_into_its_canonical_parts(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    assert ImageReference.parse(text) == ImageReference(registry, repository, tag, digest)


def test_a_single_name_with_a_port_like_suffix_is_a_docker_hub_name_with_a_tag() -> None:
    # The grammar's own quirk: without a '/', nothing can be a registry.
    assert str(ImageReference.parse("localhost:5000")) == "docker.io/library/localhost:5000"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("nginx", "docker.io/library/nginx"),
        ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"),
        ("[::1]:5000/app:dev", "[::1]:5000/app:dev"),
        (f"reg.io/a:v1@{SHA256}", f"reg.io/a:v1@{SHA256}"),
        (f"reg.io/a@{SHA256}", f"reg.io/a@{SHA256}"),
    ],
)
def test_a_reference_prints_as_its_canonical_string(text: str, canonical: str) -> None:
    assert str(ImageReference.parse(text)) == canonical


def test_the_name_is_registry_and_repository_without_tag_or_digest() -> None:
    assert ImageReference.parse(f"reg.io:5000/a/b:v1@{SHA256}").name == "reg.io:5000/a/b"


# --- Rejecting invalid references ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "it is empty"),
        (
            "x:Ab$",
            "tag 'Ab$' contains '$'; a tag is 1\N{EN DASH}128 of [A-Za-z0-9_.-] "
            "and cannot start with '.' or '-'",
        ),
        ("app:", "tag is empty"),
        ("app:.hidden", "tag '.hidden' starts with '.'"),
        ("app:-x", "tag '-x' starts with '-'"),
        ("app:" + "a" * 129, "is 129 characters long"),
        ("app:1:2", "tag '1:2' contains ':'"),
        ("MyApp", "path component 'MyApp' contains upper-case 'M'"),
        ("team/My-App", "path component 'My-App' contains upper-case 'M'"),
        ("reg.io/te am", "path component 'te am' contains ' '"),
        ("team/app:v1/x", "path component 'app:v1' contains ':'"),
        ("team//app", "has an empty path component"),
        ("team/app/", "has an empty path component"),
        ("/app", "has an empty path component"),
        ("localhost/", "repository path is empty"),
        ("team/-app", "path component '-app' starts with '-'"),
        ("team/app-", "path component 'app-' ends with '-'"),
        ("team/a..b", "path component 'a..b' joins with '..'"),
        ("team/a___b", "path component 'a___b' joins with '___'"),
        ("team/a._b", "path component 'a._b' joins with '._'"),
        ("my_reg.io/app", "registry host 'my_reg.io' has the component 'my_reg'"),
        ("-reg.io/app", "registry host '-reg.io' has the component '-reg'"),
        ("reg..io/app", "registry host 'reg..io' has an empty component"),
        ("reg.io:port/app", "registry port 'port' is not a number"),
        ("reg.io:/app", "registry port '' is not a number"),
        ("::1/app", "an IPv6 host goes inside brackets"),
        ("[::1/app", "opens '[' but never closes it"),
        ("[::1]5000/app", "has '5000' after ']'"),
        ("[::g]/app", "registry IPv6 host '[::g]' is malformed"),
        ("[::1]:5000", "an IPv6 registry host needs a repository after it"),
        ("app@sha256:abc", "sha256 digest has 3 hex digits; it must have exactly 64"),
        ("app@md5:" + "a" * 32, "digest algorithm 'md5' is not supported; use one of sha256"),
        ("app@sha256:" + "A" * 64, "sha256 digest contains 'A'; the value is lowercase hex"),
        ("app@" + "a" * 64, "has no ':'"),
        (f"app@{SHA256}@x", "sha256 digest contains '@'"),
        ("a" * 64, "is an image ID, not a repository"),
        ("reg.io/" + "a" * 250, "is 257 characters; registry and repository together are at most"),
    ],
)
def test_an_invalid_reference_is_rejected_with_a_message_saying_what_is_wrong(
    text: str, fragment: str
) -> None:
    with pytest.raises(InvalidImageReference, match=re.escape(fragment)):
        ImageReference.parse(text)


def test_the_error_names_the_whole_reference_it_came_from() -> None:
    with pytest.raises(InvalidImageReference, match=re.escape("invalid image reference 'x:Ab$': ")):
        ImageReference.parse("x:Ab$")


def test_an_invalid_reference_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        ImageReference.parse("team//app")


# --- Building references directly ---------------------------------------------------------------


def test_a_reference_built_directly_is_validated_like_a_parsed_one() -> None:
    with pytest.raises(InvalidImageReference, match=re.escape("tag 'a b' contains ' '")):
        ImageReference("reg.io", "app", tag="a b")


def test_replacing_a_field_validates_the_new_value() -> None:
    reference = ImageReference.parse("reg.io/app:v1")
    with pytest.raises(InvalidImageReference, match="digest"):
        dataclasses.replace(reference, digest="sha256:short")


def test_a_registry_that_would_read_back_as_a_path_component_is_refused() -> None:
    with pytest.raises(InvalidImageReference, match="would be read back as a path component"):
        ImageReference("team", "app")


def test_an_official_docker_hub_image_must_be_written_under_library() -> None:
    with pytest.raises(InvalidImageReference, match=re.escape("are 'library/nginx'")):
        ImageReference("docker.io", "nginx")


def test_a_reference_is_immutable() -> None:
    reference = ImageReference.parse("reg.io/app:v1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        reference.tag = "v2"  # type: ignore[misc]


# --- Tag builders --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pre", "tag"),
    [
        (None, "v1.2.3"),
        ("rc1", "v1.2.3-rc1"),
        ("beta", "v1.2.3-beta"),
        ("alpha", "v1.2.3-alpha"),
        ("beta.2", "v1.2.3-beta.2"),
    ],
)
def test_semver_tags_are_v_prefixed_with_an_optional_pre_release(pre: str | None, tag: str) -> None:
    assert semver_tag(1, 2, 3, pre) == tag


@pytest.mark.parametrize("pre", ["gamma", "-rc1", "rc01", "RC1", ""])
def test_a_pre_release_outside_the_conventions_is_refused(pre: str) -> None:
    with pytest.raises(ValueError, match="is not alpha, beta or rc"):
        semver_tag(1, 2, 3, pre)


@pytest.mark.parametrize("bad", [-1, True])
def test_semver_numbers_must_be_non_negative_integers(bad: int) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        semver_tag(1, bad, 3)


def test_a_sha_tag_keeps_seven_lowercase_hex_digits_by_default() -> None:
    assert sha_tag("1A2B3C4D5E6F7A8B9C0D1A2B3C4D5E6F7A8B9C0D") == "sha-1a2b3c4"


def test_a_sha_tag_can_keep_the_whole_commit_sha() -> None:
    sha = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"
    assert sha_tag(sha, length=40) == f"sha-{sha}"


@pytest.mark.parametrize(
    ("sha", "length", "message"),
    [
        ("1a2b3c", 7, "is not at least 7 hex digits"),
        ("1a2b3cz9", 7, "is not at least 7 hex digits"),
        ("1a2b3c4d", 6, "outside 7 to 40"),
        ("1a2b3c4d", 41, "outside 7 to 40"),
    ],
)
def test_a_sha_tag_needs_enough_hex_digits(sha: str, length: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sha_tag(sha, length)


def test_a_build_tag_names_the_ci_build_number() -> None:
    assert build_tag(42) == "build-42"


@pytest.mark.parametrize("bad", [-1, True])
def test_a_build_number_must_be_a_non_negative_integer(bad: int) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        build_tag(bad)


def test_a_timestamp_tag_is_minutes_in_utc() -> None:
    paris_summer = timezone(timedelta(hours=2))
    assert timestamp_tag(datetime(2024, 7, 1, 0, 15, 59, tzinfo=paris_summer)) == "20240630-2215"


def test_a_timestamp_tag_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        timestamp_tag(datetime(2024, 1, 31, 9, 15))


@pytest.mark.parametrize(
    ("branch", "tag"),
    [
        ("feature/Login-Page", "feature-login-page"),
        ("main", "main"),
        ("fix/ÉTÉ 2024", "fix-ete-2024"),
        ("--weird..name--", "weird..name"),
        ("_private", "_private"),
        ("release/v1.2.3", "release-v1.2.3"),
        ("prod", "branch-prod"),
        ("v1.2.3", "branch-v1.2.3"),
        ("sha-abc1234", "branch-sha-abc1234"),
        ("", "branch"),
        ("///", "branch"),
    ],
)
def test_a_branch_name_is_sanitised_into_a_tag(branch: str, tag: str) -> None:
    assert branch_tag(branch) == tag


def test_a_long_branch_name_is_cut_to_128_characters() -> None:
    assert branch_tag("feature/" + "x" * 300) == "feature-" + "x" * 120


# --- Classifying tags ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "kind"),
    [
        ("v1.2.3", TagKind.RELEASE),
        ("v0.0.0", TagKind.RELEASE),
        ("v10.20.30", TagKind.RELEASE),
        ("v1.2.3-rc1", TagKind.PRERELEASE),
        ("v1.2.3-beta", TagKind.PRERELEASE),
        ("v1.2.3-alpha", TagKind.PRERELEASE),
        ("v1.2.3-beta.2", TagKind.PRERELEASE),
        ("sha-abc1234", TagKind.SHA),
        ("build-42", TagKind.BUILD),
        ("20240131-0915", TagKind.TIMESTAMP),
        ("latest", TagKind.ALIAS),
        ("stable", TagKind.ALIAS),
        ("dev", TagKind.ALIAS),
        ("staging", TagKind.ALIAS),
        ("prod", TagKind.ALIAS),
        ("main", TagKind.BRANCH),
        ("1.2.3", TagKind.BRANCH),
        ("v01.2.3", TagKind.BRANCH),
        ("v1.2", TagKind.BRANCH),
        ("v1.2.3-gamma", TagKind.BRANCH),
        ("sha-abc123", TagKind.BRANCH),
        ("sha-ABC1234", TagKind.BRANCH),
        ("build-042", TagKind.BRANCH),
        ("20241331-0915", TagKind.BRANCH),
        ("20240131-2460", TagKind.BRANCH),
        ("Latest", TagKind.BRANCH),
    ],
)
def test_a_tag_is_classified_by_the_convention_it_follows(tag: str, kind: TagKind) -> None:
    assert classify_tag(tag) is kind


def test_classifying_an_invalid_tag_says_why_it_is_invalid() -> None:
    with pytest.raises(InvalidImageReference, match=re.escape("tag 'a b' contains ' '")):
        classify_tag("a b")


@pytest.mark.parametrize(
    ("tag", "release"),
    [
        ("v1.2.3", True),
        ("v1.2.3-rc1", False),
        ("latest", False),
        ("1.2.3", False),
        ("not a tag", False),
        ("", False),
    ],
)
def test_only_a_final_v_prefixed_version_is_a_release_semver(tag: str, release: bool) -> None:
    assert is_release_semver(tag) is release


# --- Pipeline tags and the command line ---------------------------------------------------------

COMMIT = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"


def test_a_branch_push_is_tagged_with_its_sha_and_branch_name() -> None:
    assert pipeline_tags(COMMIT, "refs/heads/feature/Login-Page") == [
        "sha-1a2b3c4",
        "feature-login-page",
    ]


def test_a_version_tag_push_is_tagged_with_its_sha_and_version() -> None:
    assert pipeline_tags(COMMIT, "refs/tags/v1.2.3-rc1") == ["sha-1a2b3c4", "v1.2.3-rc1"]


def test_the_build_number_and_time_add_build_and_timestamp_tags() -> None:
    moment = datetime(2024, 1, 31, 9, 15, tzinfo=UTC)
    assert pipeline_tags(COMMIT, "refs/heads/main", build=42, moment=moment) == [
        "sha-1a2b3c4",
        "main",
        "build-42",
        "20240131-0915",
    ]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("refs/tags/release-1", "is not a version by the conventions"),
        ("refs/pull/7/merge", "is neither refs/heads/<branch> nor refs/tags/<version>"),
    ],
)
def test_a_git_ref_the_pipeline_cannot_tag_is_refused(ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        pipeline_tags(COMMIT, ref)


def test_the_tags_command_prints_full_references_one_a_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["tags", "--sha", COMMIT, "--ref", "refs/tags/v1.2.3", "--image", "reg.io:5000/app"]
    assert main(argv) == 0
    assert capsys.readouterr().out == "reg.io:5000/app:sha-1a2b3c4\nreg.io:5000/app:v1.2.3\n"


def test_the_tags_command_exits_2_with_the_reason_on_bad_input(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tags", "--sha", COMMIT, "--ref", "refs/heads/main", "--time", "2024-01-31"]) == 2
    assert "timezone-aware" in capsys.readouterr().err


# --- Properties ----------------------------------------------------------------------------------

# The upstream grammar, written independently of the module so the two can be compared.
TAG_GRAMMAR = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
PATH_COMPONENT_GRAMMAR = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
DOMAIN_COMPONENT_GRAMMAR = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?"

numbers = st.integers(min_value=0, max_value=10**9)
pre_releases = st.tuples(
    st.sampled_from(["alpha", "beta", "rc"]),
    st.sampled_from(["", "."]),
    st.none() | numbers,
).map(lambda parts: parts[0] if parts[2] is None else f"{parts[0]}{parts[1]}{parts[2]}")
git_shas = st.from_regex(r"[0-9a-fA-F]{40}", fullmatch=True)
utc_offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# A day's margin at either end so that converting to UTC cannot leave datetime's range.
moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=utc_offsets
)

built_tags = st.one_of(
    st.builds(semver_tag, numbers, numbers, numbers).map(lambda t: (t, TagKind.RELEASE)),
    st.builds(semver_tag, numbers, numbers, numbers, pre_releases).map(
        lambda t: (t, TagKind.PRERELEASE)
    ),
    st.builds(sha_tag, git_shas, st.integers(7, 40)).map(lambda t: (t, TagKind.SHA)),
    st.builds(build_tag, st.integers(min_value=0)).map(lambda t: (t, TagKind.BUILD)),
    st.builds(timestamp_tag, moments).map(lambda t: (t, TagKind.TIMESTAMP)),
    st.sampled_from(sorted(ALIAS_TAGS)).map(lambda t: (t, TagKind.ALIAS)),
    st.builds(branch_tag, st.text()).map(lambda t: (t, TagKind.BRANCH)),
)

domain_names = st.lists(
    st.from_regex(DOMAIN_COMPONENT_GRAMMAR, fullmatch=True), min_size=2, max_size=4
).map(".".join)
ports = st.integers(min_value=1, max_value=65535).map(str)
ipv6_hosts = st.ip_addresses(v=6).map(lambda a: f"[{a.compressed}]").filter(lambda h: "." not in h)


def with_port(host: str, port: str | None) -> str:
    return host if port is None else f"{host}:{port}"


# A lone domain component (no '.') only reads as a registry when it has a port.
registries = st.one_of(
    st.builds(with_port, domain_names | ipv6_hosts | st.just("localhost"), st.none() | ports),
    st.builds(with_port, st.from_regex(DOMAIN_COMPONENT_GRAMMAR, fullmatch=True), ports),
)
repositories = st.lists(
    st.from_regex(PATH_COMPONENT_GRAMMAR, fullmatch=True), min_size=1, max_size=4
).map("/".join)
digests = st.one_of(
    st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
    st.from_regex(r"sha512:[0-9a-f]{128}", fullmatch=True),
)


@st.composite
def references(draw: st.DrawFn, tags: st.SearchStrategy[str]) -> ImageReference:
    registry, repository = draw(registries), draw(repositories)
    assume(len(registry) + 1 + len(repository) <= 255)
    assume(not (registry == "docker.io" and "/" not in repository))
    return ImageReference(registry, repository, draw(st.none() | tags), draw(st.none() | digests))


@given(built_tags)
def test_every_built_tag_is_classified_as_the_kind_it_was_built_as(
    tag_and_kind: tuple[str, TagKind],
) -> None:
    tag, kind = tag_and_kind
    assert classify_tag(tag) is kind


@given(references(built_tags.map(lambda tag_and_kind: tag_and_kind[0])))
def test_every_built_tag_reads_back_unchanged_inside_a_reference(
    reference: ImageReference,
) -> None:
    assert ImageReference.parse(str(reference)) == reference


@given(references(st.from_regex(TAG_GRAMMAR, fullmatch=True)))
def test_every_valid_reference_reads_back_from_its_canonical_string(
    reference: ImageReference,
) -> None:
    assert ImageReference.parse(str(reference)) == reference


@given(st.text())
def test_branch_tag_yields_a_valid_tag_for_any_text(name: str) -> None:
    tag = branch_tag(name)
    assert re.fullmatch(TAG_GRAMMAR, tag)
    assert validate_tag(tag) == tag


@given(st.from_regex(PATH_COMPONENT_GRAMMAR, fullmatch=True))
def test_a_familiar_name_is_an_official_docker_hub_image(name: str) -> None:
    assume(len(f"docker.io/library/{name}") <= 255)
    assume(not re.fullmatch(r"[a-f0-9]{64}", name))
    assert ImageReference.parse(name).name == f"docker.io/library/{name}"


@given(st.text(alphabet=st.characters(codec="ascii")) | st.from_regex(TAG_GRAMMAR, fullmatch=True))
def test_tag_validation_agrees_with_the_upstream_grammar(tag: str) -> None:
    valid = re.fullmatch(TAG_GRAMMAR, tag) is not None
    try:
        validate_tag(tag)
    except InvalidImageReference:
        assert not valid
    else:
        assert valid


# Text over the reference's own punctuation reaches far more parser branches than random text.
@given(st.text() | st.text(alphabet="aZ09._-/:@[]"))
def test_any_text_either_parses_and_reads_back_or_is_rejected_as_invalid(text: str) -> None:
    try:
        reference = ImageReference.parse(text)
    except InvalidImageReference:
        return
    assert ImageReference.parse(str(reference)) == reference
