"""`regstack:gc` and `regstack:retention`: garbage collection and tag retention."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..retention.policy import PolicyError, TagPattern, glob_regex, parse_policy
from .types import (
    CronSchedule,
    PinnedImage,
    RepositoryGlob,
    Section,
    UserName,
)


class GcConfig(Section):
    """Registry garbage collection: `registry garbage-collect` on a schedule, writes held out."""

    enabled: bool = Field(True, description="Run `registry garbage-collect` on a schedule.")
    schedule: CronSchedule = Field("0 2 * * 0", description="CronJob schedule (Sunday 02:00).")
    delete_untagged: bool = Field(
        True,
        description="Also remove untagged manifests (`--delete-untagged`); refused with a 2.x "
        "registry.version, whose GC then deletes the platform manifests of tagged indexes.",
    )
    window: Literal["auto", "read-only", "stop"] = Field(
        "auto",
        description="How GC holds pushes out: `read-only` pods keep serving pulls, `stop` "
        "scales to zero; `auto`: `stop` for a pull-through cache, else `read-only`.",
    )
    helper_image: PinnedImage = Field(
        "docker.io/library/python:3.13.1-alpine3.21",
        description="Pinned Python image that closes and reopens the registry around GC.",
    )


class RetentionRule(Section):
    """One retention rule; the first rule whose `repositories` glob matches a repository wins."""

    repositories: list[RepositoryGlob] = Field(
        description="Repository globs as in Harbor: `team/*` is `team/app` only, `team/**` also "
        "`team/x/y`, `**` every repository."
    )
    keep_last: int | None = Field(None, ge=0, description="Keep the newest N tags by created time.")
    max_age_days: int | None = Field(None, ge=0, description="Keep tags younger than this.")
    protected: list[str] = Field(
        default_factory=list, description="Tag globs (or `re:` regexes) never deleted."
    )
    default_protected: bool = Field(
        True, description="Also protect latest, stable, prod, staging and vX.Y.Z tags."
    )

    @field_validator("repositories")
    @classmethod
    def _globs_parse(cls, globs: list[str]) -> list[str]:
        for glob in globs:
            _engine_check(glob_regex, glob)
        return globs

    @field_validator("protected")
    @classmethod
    def _patterns_parse(cls, patterns: list[str]) -> list[str]:
        # Named at the field: the message says which pattern and why (an unbounded regex).
        for pattern in patterns:
            _engine_check(TagPattern.parse, pattern)
        return patterns

    @model_validator(mode="after")
    def _the_engine_accepts_it(self) -> RetentionRule:
        # The in-cluster engine parses the same document on every run: its own parser here
        # refuses now what it would refuse there.
        try:
            parse_policy({"rules": [self.model_dump(exclude_none=True)]})
        except PolicyError as err:
            raise ValueError(str(err).removeprefix("rule 0: ")) from None
        return self


def _engine_check(parse: Callable[[str], object], text: str) -> None:
    try:
        parse(text)
    except PolicyError as err:
        raise ValueError(str(err)) from None


class RetentionConfig(Section):
    """Tag retention: a CronJob running the retention engine through the registry API."""

    enabled: bool = Field(False, description="Run the retention job on a schedule.")
    schedule: CronSchedule = Field("0 1 * * 0", description="CronJob schedule (before GC).")
    apply: bool = Field(False, description="Really delete; otherwise the job only logs its plan.")
    rules: list[RetentionRule] = Field(default_factory=list, description="Retention rules.")
    protect_in_use: bool = Field(
        True, description="Keep every image a Pod in the cluster uses (lists pods read-only)."
    )
    user: UserName | None = Field(None, description="auth user the job logs in as; the first.")
    concurrency: int = Field(8, ge=1, le=64, description="Parallel registry requests.")
    image: PinnedImage = Field(
        "docker.io/library/python:3.13.1-alpine3.21",
        description="Pinned Python image that runs the (standard-library only) engine.",
    )
