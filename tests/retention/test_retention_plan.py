"""The pure planner: examples for each rule, then properties over random layouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from components.retention.plan import Image, InUse, RepositoryPlan, plan_repository, spare
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


UNKNOWN = "creation time unknown (missing, unparsable, before 1981 or in the future)"


def test_images_of_unknown_age_are_kept() -> None:
    plan = plan_repository("r", {"x": Image("sha256:1", None)}, rule(max_age_days=1), InUse(), NOW)
    assert plan.decisions[0].keep
    assert plan.decisions[0].reason == UNKNOWN


def test_an_image_created_in_the_future_is_of_unknown_age_and_holds_no_keep_last_slot() -> None:
    tags = {
        "skewed": Image("sha256:1", NOW + timedelta(days=3650)),  # a builder's clock ahead
        "new": Image("sha256:2", days_ago(1)),
        "old": Image("sha256:3", days_ago(400)),
    }
    plan = plan_repository("r", tags, rule(keep_last=1), InUse(), NOW)
    assert actions(plan) == {"skewed": True, "new": True, "old": False}
    assert {d.tag: d.reason for d in plan.decisions}["skewed"] == UNKNOWN


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

HEX = [f"sha256:{n:064x}" for n in range(10)]


def sig(digest: str, suffix: str = ".sig") -> str:
    return digest.replace(":", "-") + suffix


@st.composite
def layouts_with_referrers(draw: st.DrawFn) -> dict[str, Image]:
    """Images, and referrers to some of them (and to each other, and to absent images)."""
    tags = {}
    for n, digest in enumerate(draw(st.sets(st.sampled_from(HEX[:5]), min_size=1))):
        age = draw(st.none() | st.integers(min_value=0, max_value=400))
        tags[f"t{n}"] = Image(digest, None if age is None else days_ago(age))
    for digest in draw(st.lists(st.sampled_from(HEX[5:]), max_size=4, unique=True)):
        subject = draw(st.sampled_from(HEX))
        if draw(st.booleans()):
            tags[sig(subject, draw(st.sampled_from(["", ".sig", ".att"])))] = Image(digest, None)
        else:
            tags[f"artifact-{digest[-1]}"] = Image(digest, None, subject=subject)
    return tags


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
@given(st.one_of(layouts(), layouts_with_referrers()), rules, in_use_sets)
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


# --- referrers -----------------------------------------------------------------------


def test_a_referrer_goes_with_its_image_and_stays_with_a_kept_one() -> None:
    tags = {
        "old": Image(HEX[0], days_ago(90)),
        "new": Image(HEX[1], days_ago(1)),
        sig(HEX[0]): Image(HEX[2], days_ago(90)),
        sig(HEX[1]): Image(HEX[3], days_ago(90)),  # old itself, but its image is kept
        "sbom-old": Image(HEX[4], None, subject=HEX[0]),
    }
    plan = plan_repository("r", tags, rule(keep_last=1), InUse(), NOW)
    assert actions(plan) == {
        "old": False, "new": True, sig(HEX[0]): False, sig(HEX[1]): True, "sbom-old": False
    }  # fmt: skip
    # Referrers first: a run stopped half-way leaves no referrer without its image.
    assert plan.delete_digests == (HEX[2], HEX[4], HEX[0])


def test_a_signature_of_a_kept_referrer_is_kept_too() -> None:
    tags = {
        "new": Image(HEX[1], days_ago(1)),
        "sbom": Image(HEX[2], None, subject=HEX[1]),
        sig(HEX[2]): Image(HEX[3], days_ago(90)),  # signs the SBOM, not the image
    }
    plan = plan_repository("r", tags, rule(max_age_days=30), InUse(), NOW)
    assert all(actions(plan).values())


def test_a_referrer_of_an_image_the_repository_does_not_show_is_kept() -> None:
    plan = plan_repository(
        "r", {sig(HEX[9]): Image(HEX[2], days_ago(90))}, rule(max_age_days=1), InUse(), NOW
    )
    assert actions(plan) == {sig(HEX[9]): True}


def test_sparing_an_image_spares_its_platforms_and_its_referrers() -> None:
    tags = {
        "old": Image(HEX[0], days_ago(90), (HEX[5], HEX[6])),
        sig(HEX[0]): Image(HEX[2], days_ago(90)),
        "new": Image(HEX[1], days_ago(1)),
    }
    plan = plan_repository("r", tags, rule(keep_last=1), InUse(), NOW)
    assert set(plan.delete_digests) == {HEX[0], HEX[2], HEX[5], HEX[6]}
    spared = spare(plan, {HEX[0]: "tag 'stable' appeared"})
    assert set(spared) == {HEX[0], HEX[2], HEX[5], HEX[6]}


@settings(max_examples=100, deadline=None)
@given(layouts_with_referrers(), rules, in_use_sets)
def test_a_referrer_is_deleted_only_with_its_image(
    tags: dict[str, Image], rule: Rule, in_use: InUse
) -> None:
    plan = plan_repository("r", tags, rule, in_use, NOW)
    for decision in plan.deleted:
        if decision.subject is not None:
            assert decision.subject in plan.delete_digests


@settings(max_examples=100, deadline=None)
@given(layouts_with_referrers(), rules, in_use_sets)
def test_referrers_never_count_among_the_newest_images(
    tags: dict[str, Image], rule: Rule, in_use: InUse
) -> None:
    plan = plan_repository("r", tags, rule, in_use, NOW)
    newest = [d for d in plan.decisions if d.reason.startswith("among the newest")]
    assert all(d.subject is None for d in newest)
