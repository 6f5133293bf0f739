"""Small parsers the engine's safety rests on: challenges, links, times, references, metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from components.retention.engine import parse_created
from components.retention.inuse import load_in_use_file, parse_reference
from components.retention.metrics import write_metrics
from components.retention.registry import next_link, parse_challenge


def test_bearer_challenge_keeps_commas_inside_quoted_scopes() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry",'
        'scope="repository:team/app:pull,delete"'
    )
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.example/token",
        "service": "registry",
        "scope": "repository:team/app:pull,delete",
    }


def test_basic_challenge_is_recognised() -> None:
    assert parse_challenge('Basic realm="Registry Realm"').scheme == "basic"


def test_next_link_is_read_from_a_link_header() -> None:
    assert next_link('</v2/_catalog?last=b&n=2>; rel="next"') == "/v2/_catalog?last=b&n=2"
    assert next_link('<https://x/a>; rel="prev"') is None
    assert next_link(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-04T05:06:07Z", datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2024-03-04T05:06:07.123456789Z", datetime(2024, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)),
        ("2024-03-04T07:06:07+02:00", datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)),
    ],
)
def test_created_times_parse_as_rfc3339_down_to_nanoseconds(text: str, expected: datetime) -> None:
    assert parse_created(text) == expected


@pytest.mark.parametrize("text", [None, "", "yesterday", "2024-13-01T00:00:00Z", 42])
def test_unparseable_created_times_are_unknown(text: object) -> None:
    assert parse_created(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "1970-01-01T00:00:00Z",  # Jib, ko, Nix dockerTools, rules_oci
        "0001-01-01T00:00:00Z",  # Go's zero time
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: OverflowError
        "1980-12-31T23:59:59Z",
        "1981-01-01T00:30:00+01:00",  # still 1980 in UTC
    ],
)
def test_implausibly_early_created_times_are_unknown(text: str) -> None:
    assert parse_created(text) is None


def test_the_first_plausible_year_is_1981() -> None:
    assert parse_created("1981-01-01T00:00:00Z") == datetime(1981, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("reg.example:5000/team/app:1.0", ("team/app", "1.0", None)),
        ("team/app", ("team/app", "latest", None)),
        ("localhost/app@sha256:ab", ("app", None, "sha256:ab")),
        ("docker-pullable://reg.example/team/app@sha256:cd", ("team/app", None, "sha256:cd")),
        ("sha256:ef", (None, None, "sha256:ef")),
    ],
)
def test_image_references_parse_to_repository_tag_and_digest(
    reference: str, expected: tuple[str | None, str | None, str | None]
) -> None:
    assert parse_reference(reference) == expected


def test_in_use_files_may_be_lines_with_comments_or_a_json_list(tmp_path: Path) -> None:
    (tmp_path / "lines").write_text("# pods\nreg.example/team/app:1\n\nreg.example/x@sha256:aa\n")
    (tmp_path / "json").write_text('["reg.example/team/app:1", "reg.example/x@sha256:aa"]')
    from_lines = load_in_use_file(tmp_path / "lines")
    assert from_lines == load_in_use_file(tmp_path / "json")
    assert from_lines.tags == {("team/app", "1")}
    assert from_lines.digests == {"sha256:aa"}


def test_metrics_keep_the_last_success_time_when_a_run_fails(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    write_metrics(path, images={"a": 2}, deleted=3, skipped=0, succeeded=True, now=100.0)
    write_metrics(path, images={"a": 1}, deleted=1, skipped=1, succeeded=False, now=200.0)
    text = path.read_text()
    assert "regstack_retention_last_success_timestamp_seconds 100.000\n" in text
    assert "regstack_retention_deleted_total 4\n" in text  # a counter: it accumulates
    assert 'regstack_retention_images{repository="a"} 1\n' in text
