"""The engine holds a bounded number of repositories: each outcome is handed on (and the
plan written) before the engine reads further than 2 x concurrency repositories ahead, so
memory follows the largest repository, not the registry."""

from __future__ import annotations

import pytest

from components.retention.engine import Engine, Outcome
from components.retention.http import HttpClient, ssl_context
from components.retention.policy import parse_policy
from components.retention.registry import Registry
from devkit.oci_registry import RegistryServer, push_image

pytestmark = pytest.mark.servers

REPOSITORIES = [f"team/app-{n}" for n in range(8)]


class RecordingRegistry(Registry):
    def __init__(self, url: str, events: list[str]) -> None:
        super().__init__(url, HttpClient(context=ssl_context(None)))
        self.events = events

    def tags(self, repository: str) -> list[str]:
        self.events.append(f"read {repository}")
        return super().tags(repository)


def test_each_repository_is_reported_before_the_engine_reads_far_ahead(
    registry: RegistryServer,
) -> None:
    for repository in REPOSITORIES:
        push_image(registry, repository, "old", "2020-01-01T00:00:00Z")
    events: list[str] = []
    policy = parse_policy({"rules": [{"repositories": "**", "keep_last": 0}]})
    engine = Engine(RecordingRegistry(registry.url, events), policy, concurrency=1)

    def report(outcome: Outcome) -> None:
        assert outcome.plan is not None, outcome.error
        events.append(f"reported {outcome.repository}")

    engine.run(apply=False, report=report)

    reported = [e.removeprefix("reported ") for e in events if e.startswith("reported")]
    assert reported == REPOSITORIES  # catalog order
    for position, repository in enumerate(REPOSITORIES):
        read_before = events[: events.index(f"reported {repository}")].count
        ahead = sum(read_before(f"read {r}") for r in REPOSITORIES) - (position + 1)
        assert ahead <= 2, f"{ahead} repositories read ahead of reporting {repository}"
