"""The registry's Distribution release decides what config.yml says and which settings are safe:
3.1.2 by default (the version the real-registry tests build), 2.x still rendered for 2.x pins,
and the combinations known to lose images refused with the reason and the fix."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.config import load_config
from components.distribution_config import (
    RedisSettings,
    RenderSettings,
    plain_env,
    registry_config,
    release,
)
from devkit.gc_matrix import gc_script
from devkit.pulumi_mocks import ROOT
from tests.unit.test_config import problems_of

V2 = {"registry": {"version": "2.8.3"}, "gc": {"delete_untagged": False}}
RETENTION = {"enabled": True, "rules": [{"repositories": ["*"], "keep_last": 3}]}


def on_s3(version: str) -> dict[str, Any]:
    return {"registry": {"version": version, "storage": {"type": "s3", "s3": {"bucket": "images"}}},
            "retention": RETENTION}  # fmt: skip


def test_the_default_registry_is_the_version_the_tests_build() -> None:
    pinned = dict(line.split("=", 1) for line in (ROOT / "scripts/registry-server.env").read_text()
                  .splitlines() if line and not line.startswith("#"))  # fmt: skip
    assert f"v{load_config({}).registry.version}" == pinned["DISTRIBUTION_VERSION"] == "v3.1.2"


@pytest.mark.parametrize(("tag", "numbers"), [("3.1.2", (3, 1, 2)), ("v2.8", (2, 8)),
                                              ("3.1.2-alpine", (3, 1, 2)), ("edge", None)])  # fmt: skip
def test_a_tag_names_its_release(tag: str, numbers: tuple[int, ...] | None) -> None:
    assert release(tag) == numbers


def test_3x_reads_redis_addresses_as_a_list_and_2x_as_one_address() -> None:
    redis = RedisSettings(address="cache:6379")
    assert registry_config(RenderSettings(redis=redis))["redis"]["addrs"] == ["cache:6379"]
    assert registry_config(RenderSettings(line=2, redis=redis))["redis"]["addr"] == "cache:6379"


def test_3x_runs_without_tracing_and_2x_has_none_to_turn_off() -> None:
    assert plain_env(RenderSettings())["OTEL_TRACES_EXPORTER"] == "none"
    assert "OTEL_TRACES_EXPORTER" not in plain_env(RenderSettings(line=2))


def test_a_2x_pin_renders_the_2x_config_and_a_gc_without_delete_untagged() -> None:
    from devkit.pulumi_mocks import platform

    rec = platform({**V2, "registry": {**V2["registry"], "cache": {"redis": "deploy"}}})
    config = yaml.safe_load(rec.named("rs-registry-config").inputs["data"]["config.yml"])
    assert "addr" in config["redis"] and "addrs" not in config["redis"]
    assert "--delete-untagged" not in gc_script(V2)


def test_delete_untagged_with_a_2x_registry_is_refused_with_the_reason_and_the_fix() -> None:
    message = problems_of({"registry": {"version": "2.8.3"}})["gc.delete_untagged"]
    assert "#3178" in message and "gc.delete_untagged: false" in message


def test_a_2x_registry_without_gc_needs_no_gc_setting() -> None:
    assert load_config({"registry": {"version": "2.8.3"}, "gc": {"enabled": False}})


@pytest.mark.parametrize("version", ["3.0.0", "3.0"])
def test_distribution_3_0_is_refused_because_it_loses_the_redis_password(version: str) -> None:
    assert "REGISTRY_REDIS_" in problems_of({"registry": {"version": version}})["registry.version"]


@pytest.mark.parametrize("version", ["3.1.0", "3.1.1", "3.1", "3"])
def test_retention_on_s3_is_refused_with_a_registry_that_hides_tags(version: str) -> None:
    message = problems_of(on_s3(version))["registry.version"]
    assert "0.1.20" in message and "3.1.2" in message


def test_retention_on_s3_runs_with_3_1_2_and_3_1_1_on_a_filesystem() -> None:
    assert load_config(on_s3("3.1.2"))
    assert load_config({"registry": {"version": "3.1.1"}, "retention": RETENTION})


@pytest.mark.parametrize("version", ["edge", "4.0.0", "1.0"])
def test_a_version_regstack_cannot_render_for_is_refused(version: str) -> None:
    assert "3.1.2" in problems_of({"registry": {"version": version}})["registry.version"]
