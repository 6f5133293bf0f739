"""The retention CronJob as rendered (Pulumi mocks): a hung run cannot block later ones."""

from __future__ import annotations

from devkit.pulumi_mocks import platform

RETENTION = {
    "retention": {"enabled": True, "rules": [{"repositories": ["team/*"], "keep_last": 5}]}
}


def test_a_retention_run_ends_within_its_deadline_before_the_default_gc_starts() -> None:
    cron = platform(RETENTION).named("rs-retention-cronjob").inputs["spec"]
    job = cron["jobTemplate"]["spec"]

    assert cron["concurrencyPolicy"] == "Forbid"  # why a hung run would block all later ones
    # Default schedules: retention 01:00 Sunday, GC 02:00 Sunday.
    assert 0 < job["activeDeadlineSeconds"] < 3600
