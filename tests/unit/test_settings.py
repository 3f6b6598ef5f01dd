"""Settings: every form accepted, every bad value one clear line and the default."""

import logging

import pytest

from lambda_warmup import Settings, SettingsError
from lambda_warmup._settings import parse_duration, parse_port


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("2500", 2.5),
        ("2500ms", 2.5),
        ("2.5s", 2.5),
        ("1m", 60.0),
        ("  3s ", 3.0),
        ("0", 0.0),
        ("150 ms", 0.15),
    ],
)
def test_duration_forms(raw, seconds):
    assert parse_duration("WARMUP_INIT_TIMEOUT", raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["abc", "-5", "1e4", "3 sec", "s", "1.5.2", "inf", "٣s", "2.5S"])
def test_bad_duration_names_the_setting_and_the_forms(raw):
    with pytest.raises(SettingsError) as caught:
        parse_duration("WARMUP_INIT_TIMEOUT", raw)
    message = str(caught.value)
    assert "WARMUP_INIT_TIMEOUT" in message
    assert repr(raw) in message
    assert "2500ms" in message
    assert "\n" not in message


@pytest.mark.parametrize("raw", ["0", "65536", "http", "-1", "80.5", "²", "٩٠٠٠"])
def test_bad_port(raw):
    with pytest.raises(SettingsError, match=r"WARMUP_PORT.*1 to 65535"):
        parse_port("WARMUP_PORT", raw)


def test_from_env_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.port == 9779
    assert settings.init_timeout is None
    assert not settings.extension_expected
    assert settings.workers == 1


def test_from_env_reads_every_variable():
    settings = Settings.from_env(
        {
            "WARMUP_PORT": "9100",
            "WARMUP_INIT_TIMEOUT": "5s",
            "WARMUP_REPORT_TIMEOUT": "250ms",
            "WARMING_TIMEOUT": "4000",
            "_HANDLER": "app.handler",
        }
    )
    assert settings == Settings(
        port=9100,
        init_timeout=5.0,
        report_timeout=0.25,
        extension_expected=True,
        handler="app.handler",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", False), ("0", False), ("0ms", False), ("1", True), ("3s", True), ("junk", True)],
)
def test_extension_expected_follows_warming_timeout(raw, expected):
    assert Settings.from_env({"WARMING_TIMEOUT": raw}).extension_expected is expected


def test_workers_on_managed_instances():
    env = {
        "AWS_LAMBDA_INITIALIZATION_TYPE": "lambda-managed-instances",
        "AWS_LAMBDA_MAX_CONCURRENCY": "4",
    }
    assert Settings.from_env(env).workers == 4
    # Elsewhere the variable does not mean worker processes.
    assert Settings.from_env({"AWS_LAMBDA_MAX_CONCURRENCY": "4"}).workers == 1


def test_bad_value_is_one_error_line_and_the_default(caplog):
    with caplog.at_level(logging.ERROR, logger="lambda_warmup"):
        settings = Settings.from_env({"WARMUP_PORT": "70000", "WARMUP_INIT_TIMEOUT": "soon"})
    assert settings.port == 9779
    assert settings.init_timeout is None
    lines = sorted(r.getMessage() for r in caplog.records)
    assert len(lines) == 2
    assert "WARMUP_INIT_TIMEOUT='soon'" in lines[0]
    assert "WARMUP_PORT='70000'" in lines[1]
    assert "using the default, 9779" in lines[1]
    assert all("\n" not in line for line in lines)


def test_telemetry_settings_are_off_unless_asked_for(caplog):
    off = Settings.from_env({})
    assert (off.metrics, off.tracing) == (False, "auto")
    assert (off.metrics_namespace, off.service) == ("lambda-warmup", "service_undefined")
    on = Settings.from_env(
        {
            "WARMUP_METRICS": "EMF",
            "WARMUP_TRACING": " xray ",
            "POWERTOOLS_METRICS_NAMESPACE": "Shop",
            "POWERTOOLS_SERVICE_NAME": "orders",
        }
    )
    assert (on.metrics, on.tracing, on.metrics_namespace, on.service) == (
        True,
        "xray",
        "Shop",
        "orders",
    )
    quiet = Settings.from_env({"WARMUP_METRICS": "off", "WARMUP_TRACING": "0"})
    assert (quiet.metrics, quiet.tracing) == (False, "off")
    with caplog.at_level(logging.ERROR, logger="lambda_warmup"):
        bad = Settings.from_env({"WARMUP_METRICS": "cloudwatch", "WARMUP_TRACING": "yes"})
    assert (bad.metrics, bad.tracing) == (False, "auto")
    assert [r.getMessage() for r in caplog.records] == [
        "lambda-warmup: WARMUP_METRICS='cloudwatch' is not one of emf, off; using the default, off",
        "lambda-warmup: WARMUP_TRACING='yes' is not one of auto, xray, off; "
        "using the default, auto",
    ]
