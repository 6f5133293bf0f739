"""Policy documents: rule order, tag patterns, defaults, and refusing what is ambiguous."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from components.retention.plan import Image, InUse, plan_repository
from components.retention.policy import PolicyError, load_policy, parse_policy


def test_the_first_rule_matching_a_repository_wins() -> None:
    policy = parse_policy(
        {
            "rules": [
                {"repositories": "team/*", "keep_last": 1},
                {"repositories": "**", "keep_last": 9},
            ]
        }
    )
    assert policy.rule_for("team/app").keep_last == 1  # type: ignore[union-attr]
    assert policy.rule_for("other").keep_last == 9  # type: ignore[union-attr]


def test_a_repository_no_rule_matches_has_no_rule() -> None:
    assert (
        parse_policy({"rules": [{"repositories": "team/*", "keep_last": 1}]}).rule_for("x") is None
    )


@pytest.mark.parametrize("tag", ["latest", "stable", "prod", "staging", "v1.2.3", "v10.0.42"])
def test_default_patterns_protect_well_known_and_semver_tags(tag: str) -> None:
    rule = parse_policy({"rules": [{"repositories": "*", "keep_last": 0}]}).rules[0]
    assert rule.protecting_pattern(tag) is not None


@pytest.mark.parametrize("tag", ["v1.2", "v1.2.3-rc1", "latest-1", "dev"])
def test_default_patterns_do_not_protect_lookalikes(tag: str) -> None:
    rule = parse_policy({"rules": [{"repositories": "*", "keep_last": 0}]}).rules[0]
    assert rule.protecting_pattern(tag) is None


def test_protected_patterns_are_globs_or_prefixed_regexes() -> None:
    document = {"repositories": "*", "keep_last": 0, "protected": ["release-*", "re:hf-[0-9]+"]}
    rule = parse_policy({"rules": [document]}).rules[0]
    assert rule.protecting_pattern("release-2024") == "release-*"
    assert rule.protecting_pattern("hf-12") == "re:hf-[0-9]+"
    assert rule.protecting_pattern("hf-12x") is None


def test_default_protection_can_be_switched_off_explicitly() -> None:
    document = {"repositories": "*", "keep_last": 0, "default_protected": False}
    assert parse_policy({"rules": [document]}).rules[0].protecting_pattern("latest") is None


@pytest.mark.parametrize(
    "rule",
    [
        {"repositories": "*"},  # no limit at all would delete every unprotected tag
        {"repositories": "*", "keep-last": 3},  # a typo must not silently mean "no limit"
        {"repositories": "*", "keep_last": -1},
        {"repositories": "*", "keep_last": True},
        {"repositories": "*", "max_age_days": "30"},
        {"repositories": [], "keep_last": 1},
        {"repositories": "*", "keep_last": 1, "protected": ["re:("]},
        {"repositories": "team/[ab", "keep_last": 1},
        {"repositories": "{a,b", "keep_last": 1},
    ],
)
def test_ambiguous_or_malformed_rules_are_refused(rule: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        parse_policy({"rules": [rule]})


@pytest.mark.parametrize(
    ("glob", "governed", "not_governed"),
    [
        ("team/*", ["team/app"], ["team/x/y", "team", "teams/app"]),
        ("team/**", ["team", "team/app", "team/x/y"], ["teams/app", "other/team/app"]),
        ("*", ["app"], ["team/app"]),
        ("**", ["app", "team/app", "a/b/c"], []),
        ("**/cache", ["cache", "x/cache", "x/y/cache"], ["x/cache/y"]),
        ("a/**/b", ["a/b", "a/x/b", "a/x/y/b"], ["a/x/c"]),
        ("{dev,staging}/*", ["dev/app", "staging/app"], ["prod/app", "dev/x/y"]),
        ("app-?", ["app-1"], ["app-12", "app-/"]),
        ("[!x]*/app", ["t/app"], ["x/app"]),
    ],
)
def test_repository_globs_follow_harbors_doublestar(
    glob: str, governed: list[str], not_governed: list[str]
) -> None:
    rule = parse_policy({"rules": [{"repositories": glob, "keep_last": 1}]}).rules[0]
    assert [r for r in governed if not rule.governs(r)] == []
    assert [r for r in not_governed if rule.governs(r)] == []


@pytest.mark.parametrize(
    "pattern",
    [
        "re:(a+)+$",  # hours on 40 a's and a '!'
        "re:(a*)*b",
        "re:(a|aa)+$",
        "re:(?:x(a+))+y",
        r"re:(\w+)-\1",  # a backreference
        "re:(?=(a+)+$)a*",  # inside a lookahead too
    ],
)
def test_a_regex_that_can_backtrack_exponentially_is_refused(pattern: str) -> None:
    with pytest.raises(PolicyError, match=r"hours|backreferences"):
        parse_policy({"rules": [{"repositories": "*", "keep_last": 1, "protected": [pattern]}]})


def test_the_pathological_tag_is_judged_at_once_under_a_bounded_pattern() -> None:
    # The tag that kept `re:(a+)+$` busy for hours, against the bounded way to say it.
    rule = parse_policy(
        {"rules": [{"repositories": "*", "keep_last": 1, "protected": ["re:a+$"]}]}
    ).rules[0]
    assert rule.protecting_pattern("a" * 40 + "!") is None
    assert rule.protecting_pattern("a" * 40) == "re:a+$"


def test_a_tag_longer_than_oci_allows_is_matched_against_no_pattern_and_kept() -> None:
    rule = parse_policy({"rules": [{"repositories": "*", "keep_last": 0}]}).rules[0]
    tag = "v1.2." + "1" * 200
    old = Image("sha256:" + "1" * 64, datetime(2020, 1, 1, tzinfo=UTC))
    plan = plan_repository("app", {tag: old}, rule, InUse(), datetime(2026, 1, 1, tzinfo=UTC))
    assert rule.protecting_pattern(tag) is None
    assert plan.decisions[0].reason == "longer than 128 characters: not an OCI tag"
    assert plan.delete_digests == ()


def test_policy_files_are_json_or_yaml_by_name(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"rules": [{"repositories": "*", "keep_last": 2}]}')
    (tmp_path / "p.yaml").write_text("rules:\n  - repositories: '*'\n    keep_last: 2\n")
    assert load_policy(tmp_path / "p.json") == load_policy(tmp_path / "p.yaml")


def test_without_pyyaml_a_yaml_policy_is_refused_with_a_pointer_to_json(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("rules: []\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        # -S: no site-packages, hence no PyYAML, as in the in-cluster job's image.
        [
            *(sys.executable, "-S", "-m", "components.retention"),
            *("--registry", "http://unused", "--policy", str(tmp_path / "p.yaml")),
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "YAML policies need PyYAML, which is not installed; use JSON" in done.stderr
