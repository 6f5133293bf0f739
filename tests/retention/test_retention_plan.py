"""The pure planner: examples for each rule, then properties over random layouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from components.retention.plan import Image, InUse, RepositoryPlan, plan_repository
from components.retention.policy import DEFAULT_PROTECTED, Rule, TagPattern

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def rule(keep_last: int | None = None, max_age_days: float | None = None) -> Rule:
    patterns = tuple(TagPattern.parse(p) for p in DEFAULT_PROTECTED)
    return Rule(("*",), keep_last, max_age_days, patterns)


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def actions(plan: RepositoryPlan) -> dict[str, bool]:
    return {d.tag: d.keep for d in plan.decisions}


def test_keep_last_counts_images_not_tags() -> None:
    tags = {
        "a": Image("sha256:new", days_ago(1)),
        "a-alias": Image("sha256:new", days_ago(1)),
        "b": Image("sha256:mid", days_ago(5)),
        "c": Image("sha256:old", days_ago(9)),
    }
    plan = plan_repository("r", tags, rule(keep_last=2), InUse(), NOW)
    assert actions(plan) == {"a": True, "a-alias": True, "b": True, "c": False}


def test_max_age_keeps_younger_images_only() -> None:
    tags = {"young": Image("sha256:1", days_ago(3)), "aged": Image("sha256:2", days_ago(40))}
    plan = plan_repository("r", tags, rule(max_age_days=30), InUse(), NOW)
    assert actions(plan) == {"young": True, "aged": False}
    assert plan.delete_digests == ("sha256:2",)


def test_a_tag_sharing_a_digest_with_a_kept_tag_is_kept() -> None:
    tags = {"stable": Image("sha256:1", days_ago(90)), "build-1": Image("sha256:1", days_ago(90))}
    plan = plan_repository("r", tags, rule(max_age_days=30), InUse(), NOW)
    assert actions(plan) == {"stable": True, "build-1": True}
    assert plan.delete_digests == ()


def test_images_of_unknown_age_are_kept() -> None:
    plan = plan_repository("r", {"x": Image("sha256:1", None)}, rule(max_age_days=1), InUse(), NOW)
    assert plan.decisions[0].keep
    assert plan.decisions[0].reason == "creation time unknown (missing, unparsable or before 1981)"


def test_images_tied_at_the_keep_last_boundary_are_all_kept_without_push_times() -> None:
    tags = {f"b{n}": Image(f"sha256:{n}", days_ago(9)) for n in range(5)}
    tags["newer"] = Image("sha256:newer", days_ago(1))
    plan = plan_repository("r", tags, rule(keep_last=2), InUse(), NOW)
    assert all(actions(plan).values())
    assert {d.reason for d in plan.decisions if d.tag != "newer"} == {
        "tied for the newest 2 images; push order unknown"
    }


def test_push_times_break_ties_at_the_keep_last_boundary() -> None:
    tags = {
        f"b{n}": Image(f"sha256:{9 - n}", days_ago(9), pushed=days_ago(9) + timedelta(hours=n))
        for n in range(5)
    }
    plan = plan_repository("r", tags, rule(keep_last=2), InUse(), NOW)
    assert actions(plan) == {"b0": False, "b1": False, "b2": False, "b3": True, "b4": True}


def test_in_use_tags_and_digests_are_kept() -> None:
    tags = {
        "by-tag": Image("sha256:1", days_ago(90)),
        "by-digest": Image("sha256:2", days_ago(90)),
        "by-platform": Image("sha256:3", days_ago(90), ("sha256:3a", "sha256:3b")),
    }
    in_use = InUse(frozenset({("r", "by-tag")}), frozenset({"sha256:2", "sha256:3b"}))
    plan = plan_repository("r", tags, rule(max_age_days=30), in_use, NOW)
    assert all(actions(plan).values())


def test_deleting_an_index_deletes_its_children_unless_a_kept_index_shares_them() -> None:
    tags = {
        "old": Image("sha256:i1", days_ago(90), ("sha256:a", "sha256:shared")),
        "new": Image("sha256:i2", days_ago(1), ("sha256:b", "sha256:shared")),
    }
    plan = plan_repository("r", tags, rule(max_age_days=30), InUse(), NOW)
    assert plan.delete_digests == ("sha256:i1", "sha256:a")


def test_a_repository_no_rule_governs_is_left_alone() -> None:
    plan = plan_repository("r", {"x": Image("sha256:1", days_ago(999))}, None, InUse(), NOW)
    assert actions(plan) == {"x": True}
    assert plan.delete_digests == ()


# --- properties ----------------------------------------------------------------------

DIGESTS = [f"sha256:{n:02d}" for n in range(12)]
TAG_NAMES = ["latest", "stable", "prod", "v1.2.3", "v2.0.0-rc1", "dev", "build-1", "build-2"]
TAG_NAMES += [f"t{n}" for n in range(12)]


@st.composite
def layouts(draw: st.DrawFn) -> dict[str, Image]:
    """Random tags over a small digest pool, so tags share digests and indexes share children."""
    images = {}
    for digest in draw(st.sets(st.sampled_from(DIGESTS[:8]), min_size=1)):
        age = draw(st.none() | st.integers(min_value=0, max_value=400))
        children = draw(st.lists(st.sampled_from(DIGESTS[6:]), max_size=3, unique=True))
        created = None if age is None else days_ago(age)
        images[digest] = Image(digest, created, tuple(c for c in children if c != digest))
    names = draw(st.sets(st.sampled_from(TAG_NAMES), min_size=1))
    return {name: images[draw(st.sampled_from(sorted(images)))] for name in names}


rules = st.builds(
    lambda keep_last, max_age, extra: Rule(
        ("*",),
        keep_last,
        max_age,
        tuple(TagPattern.parse(p) for p in (*DEFAULT_PROTECTED, *extra)),
    ),
    st.none() | st.integers(min_value=0, max_value=5),
    st.none() | st.integers(min_value=0, max_value=365),
    st.lists(st.sampled_from(["build-*", "re:t[0-3]", "dev"]), max_size=2),
)
in_use_sets = st.builds(
    InUse,
    st.frozensets(st.tuples(st.just("r"), st.sampled_from(TAG_NAMES)), max_size=3),
    st.frozensets(st.sampled_from(DIGESTS), max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(layouts(), rules, in_use_sets)
def test_no_deleted_digest_is_needed_by_a_kept_tag(
    tags: dict[str, Image], rule: Rule, in_use: InUse
) -> None:
    plan = plan_repository("r", tags, rule, in_use, NOW)
    needed = {d for k in plan.kept for d in (k.image.digest, *k.image.children)}
    assert needed.isdisjoint(plan.delete_digests)


@settings(max_examples=150, deadline=None)
@given(layouts(), rules, in_use_sets)
def test_a_tag_is_deleted_exactly_when_its_digest_is(
    tags: dict[str, Image], rule: Rule, in_use: InUse
) -> None:
    plan = plan_repository("r", tags, rule, in_use, NOW)
    for decision in plan.decisions:
        assert decision.keep == (decision.image.digest not in plan.delete_digests)


@settings(max_examples=150, deadline=None)
@given(layouts(), rules, in_use_sets)
def test_protected_and_in_use_tags_are_always_kept(
    tags: dict[str, Image], rule: Rule, in_use: InUse
) -> None:
    plan = plan_repository("r", tags, rule, in_use, NOW)
    for decision in plan.deleted:
        assert rule.protecting_pattern(decision.tag) is None
        assert ("r", decision.tag) not in in_use.tags
        assert in_use.digests.isdisjoint({decision.image.digest, *decision.image.children})


@settings(max_examples=150, deadline=None)
@given(layouts(), rules, in_use_sets)
def test_keep_last_newest_images_and_young_images_are_kept(
    tags: dict[str, Image], rule: Rule, in_use: InUse
) -> None:
    plan = plan_repository("r", tags, rule, in_use, NOW)
    dated = sorted(
        {(i.created, i.digest) for i in tags.values() if i.created is not None}, reverse=True
    )
    newest = {digest for _, digest in dated[: rule.keep_last or 0]}
    for decision in plan.deleted:
        assert decision.image.digest not in newest
        assert decision.image.created is not None
        if rule.max_age_days is not None:
            assert NOW - decision.image.created >= timedelta(days=rule.max_age_days)
