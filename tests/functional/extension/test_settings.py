"""Unit tests of the extension's settings parser and hold plan (no processes, no network)."""

from __future__ import annotations

import pytest

from extension_entry import _settings as s
from extension_entry._budget import plan_hold


@pytest.mark.parametrize(
    ("raw", "expected_ms"),
    [
        ("2500", 2500.0),
        ("2500ms", 2500.0),
        ("2.5s", 2500.0),
        ("1m", 60_000.0),
        ("0.5m", 30_000.0),
        ("2500.5", 2500.5),
        ("  4s  ", 4000.0),
        ("4 s", 4000.0),
        ("\t300 ms\n", 300.0),
        ("0", 0.0),
        ("0ms", 0.0),
        ("0.0s", 0.0),
        ("007", 7.0),
    ],
)
def test_duration_forms(raw: str, expected_ms: float) -> None:
    assert s.parse_duration_ms(raw) == expected_ms


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "-1",
        "-1s",
        "+5",
        "1e4",
        "1E4",
        "inf",
        "nan",
        "2.5S",  # units are lower case, as in the library
        "1M",
        "1h",
        "s",
        "ms",
        ".5s",
        "5.",
        "1.2.3",
        "3 seconds",
        "1_000",
        "٣",  # a non-ASCII digit
        "",
        "   ",
    ],
)
def test_duration_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        s.parse_duration_ms(raw)


@pytest.mark.parametrize(("raw", "port"), [("1", 1), ("9779", 9779), (" 65535 ", 65535)])
def test_port_accepts(raw: str, port: int) -> None:
    assert s.parse_port(raw) == port


@pytest.mark.parametrize("raw", ["0", "65536", "-1", "80.0", "http", "0x50", "", "٣"])
def test_port_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="not a port"):
        s.parse_port(raw)


def read(env: dict[str, str]) -> tuple[s.Settings, list[str]]:
    lines: list[str] = []
    return s.read_settings(env, lines.append), lines


def test_defaults_when_unset() -> None:
    settings, lines = read({})
    assert lines == []
    assert settings.port == s.DEFAULT_PORT == 9779
    assert settings.timeout_ms == 0.0
    assert settings.timeout_valid
    assert settings.init_type == "on-demand"
    assert settings.runtime_api is None


def test_bad_timeout_is_one_line_naming_variable_value_forms_and_fallback() -> None:
    settings, lines = read({"WARMING_TIMEOUT": "3 seconds"})
    assert not settings.timeout_valid
    assert settings.timeout_ms == 0.0
    (line,) = lines
    for part in ("WARMING_TIMEOUT", "'3 seconds'", "2500ms", "2.5s", "1m", "no hold instead"):
        assert part in line


def test_bad_port_is_one_line_and_the_default_is_used() -> None:
    settings, lines = read({"WARMUP_PORT": "99999"})
    assert settings.port == 9779
    (line,) = lines
    for part in ("WARMUP_PORT", "'99999'", "1 to 65535", "9779"):
        assert part in line


def test_unknown_initialization_type_gets_the_on_demand_budget() -> None:
    settings, lines = read({"AWS_LAMBDA_INITIALIZATION_TYPE": "warp-speed"})
    assert settings.init_type == "on-demand"
    (line,) = lines
    assert "'warp-speed'" in line
    assert "on-demand" in line


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "WARMING_TIMEOUT is unset"),
        ({"WARMING_TIMEOUT": " "}, "WARMING_TIMEOUT is unset"),
        ({"WARMING_TIMEOUT": "0"}, "WARMING_TIMEOUT=0"),
        ({"WARMING_TIMEOUT": "0s"}, "WARMING_TIMEOUT=0s"),
        ({"WARMING_TIMEOUT": "soon"}, "WARMING_TIMEOUT is invalid"),
    ],
)
def test_no_hold_reasons(env: dict[str, str], reason: str) -> None:
    plan = plan_hold(read(env)[0], listening=True)
    assert not plan.holds
    assert plan.reason is not None
    assert reason in plan.reason


def test_no_hold_without_a_listener() -> None:
    plan = plan_hold(read({"WARMING_TIMEOUT": "4s"})[0], listening=False)
    assert plan.reason == "no report listener (see above)"


@pytest.mark.parametrize(
    ("init_type", "budget_ms"),
    [
        (None, 9500.0),
        ("on-demand", 9500.0),
        ("provisioned-concurrency", 129_500.0),
        ("snap-start", 129_500.0),
        ("lambda-managed-instances", 129_500.0),
    ],
)
def test_budget_by_initialization_type(init_type: str | None, budget_ms: float) -> None:
    env = {"WARMING_TIMEOUT": "200s"}
    if init_type is not None:
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = init_type
    plan = plan_hold(read(env)[0], listening=True)
    assert plan.holds
    assert plan.timeout_ms == 200_000.0
    assert plan.budget_ms == budget_ms


def test_test_only_limit_override_shrinks_the_on_demand_budget_only() -> None:
    on_demand = plan_hold(
        read({"WARMING_TIMEOUT": "5s", "_WARMUP_INIT_LIMIT_MS": "1200"})[0], listening=True
    )
    assert on_demand.budget_ms == 700.0
    env = {
        "WARMING_TIMEOUT": "5s",
        "_WARMUP_INIT_LIMIT_MS": "1200",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency",
    }
    assert plan_hold(read(env)[0], listening=True).budget_ms == 129_500.0


def test_metrics_and_log_settings() -> None:
    settings, lines = read({})
    assert (settings.metrics, settings.metrics_namespace, settings.service) == (
        False,
        "lambda-warmup",
        "service_undefined",
    )
    settings, lines = read(
        {
            "WARMUP_METRICS": "emf",
            "POWERTOOLS_METRICS_NAMESPACE": "Shop",
            "POWERTOOLS_SERVICE_NAME": "orders",
        }
    )
    assert (settings.metrics, settings.metrics_namespace, settings.service) == (
        True,
        "Shop",
        "orders",
    )
    settings, lines = read({"WARMUP_METRICS": "yes"})
    assert not settings.metrics
    assert lines == ["error: WARMUP_METRICS='yes' is not one of emf, off; using off instead"]
    assert s.log_format_json({"AWS_LAMBDA_LOG_FORMAT": "json"})
    assert not s.log_format_json({"AWS_LAMBDA_LOG_FORMAT": "Text"})
    assert [
        s.log_level({"AWS_LAMBDA_LOG_LEVEL": raw})
        for raw in ("warn", "WARNING", "debug", "", "loud", "fatal")
    ] == ["WARN", "WARN", "DEBUG", "TRACE", "TRACE", "FATAL"]
