"""The `regstack:monitoring` section: defaults, and what it refuses."""

from __future__ import annotations

import pytest

from components.config import ConfigError, load_config, prometheus_duration_seconds


def problems(monitoring: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config({"monitoring": monitoring})
    return [str(problem) for problem in caught.value.problems]


def test_monitoring_is_off_unless_a_stack_enables_it() -> None:
    assert load_config({}).monitoring.enabled is False


def test_the_default_free_space_threshold_is_the_chapters_ten_percent() -> None:
    assert load_config({}).monitoring.alerts.storage_free_ratio == 0.10


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.1])
def test_a_ratio_outside_zero_to_one_is_refused(ratio: float) -> None:
    assert [p.split(":")[1] for p in problems({"alerts": {"error_ratio_5xx": ratio}})] == [
        "monitoring.alerts.error_ratio_5xx"
    ]


@pytest.mark.parametrize("duration", ["0s", "0m", ""])
def test_a_zero_or_empty_duration_is_refused(duration: str) -> None:
    assert problems({"alerts": {"down_for": duration}})


@pytest.mark.parametrize("duration", ["1.5h", "5 m", "h", "4h1d"])
def test_a_duration_prometheus_cannot_read_is_refused(duration: str) -> None:
    (problem,) = problems({"alerts": {"storage_filling_horizon": duration}})
    assert "not a Prometheus duration" in problem


def test_a_non_positive_latency_threshold_is_refused() -> None:
    assert problems({"alerts": {"latency_p99_seconds": 0}})


def test_a_misspelt_threshold_is_refused_with_the_allowed_keys() -> None:
    (problem,) = problems({"alerts": {"storage_free": 0.2}})
    assert "storage_free_ratio" in problem


@pytest.mark.parametrize(("text", "seconds"), [("8d", 691200), ("1h30m", 5400), ("1w", 604800),
                                               ("250ms", 0.25)])  # fmt: skip
def test_prometheus_durations_convert_to_seconds(text: str, seconds: float) -> None:
    assert prometheus_duration_seconds(text) == seconds
