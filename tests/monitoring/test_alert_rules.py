"""alert_rules() as data: what each alert carries, and which alerts a stack gets."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from components.alert_rules import AlertSettings, alert_rules
from components.config import load_config
from devkit.promtool import ROOT
from tests.monitoring.rule_cases import EVERYTHING


def alerts(settings: AlertSettings = EVERYTHING) -> list[dict[str, Any]]:
    return [rule for group in alert_rules(settings)["groups"] for rule in group["rules"]]


def test_every_alert_has_a_severity_summary_description_and_runbook_link() -> None:
    for rule in alerts():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["annotations"]["runbook_url"] == (
            f"https://example.com/runbook.md#{rule['alert'].lower()}"
        )


def test_every_alert_has_a_section_in_the_runbook() -> None:
    headings = re.findall(r"^## (\w+)$", (ROOT / "docs" / "runbook.md").read_text(), re.M)
    assert sorted(headings) == sorted(rule["alert"] for rule in alerts())


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names))


def test_disabled_parts_get_no_alerts() -> None:
    settings = dataclasses.replace(EVERYTHING, gc=False, retention=False, certificate=False)
    names = {rule["alert"] for rule in alerts(settings)}
    assert not {n for n in names if "GarbageCollection" in n or "Retention" in n}
    assert "RegistryCertificateExpiringSoon" not in names


def test_a_registry_on_object_storage_gets_no_volume_alerts() -> None:
    names = {rule["alert"] for rule in alerts(dataclasses.replace(EVERYTHING, claim=None))}
    assert not {n for n in names if n.startswith("RegistryStorage")}
    assert "RegistryDown" in names


def test_annotations_hold_no_templates() -> None:
    """promtool tests compare annotations verbatim; the dashboard shows current values."""
    assert not [r["alert"] for r in alerts() if "{{" in str(r["annotations"])]


def test_a_threshold_appears_in_its_expression_exactly() -> None:
    settings = dataclasses.replace(
        EVERYTHING,
        thresholds=EVERYTHING.thresholds.model_copy(update={"storage_free_ratio": 0.123456789}),
    )
    (rule,) = [r for r in alerts(settings) if r["alert"] == "RegistryStorageAlmostFull"]
    assert rule["expr"].endswith("< 0.123456789")


def test_without_a_runbook_url_the_alerts_link_no_runbook() -> None:
    settings = AlertSettings.from_config(load_config({"monitoring": {"enabled": True}}))
    assert settings.runbook_url is None
    assert not [r["alert"] for r in alerts(settings) if "runbook_url" in r["annotations"]]
