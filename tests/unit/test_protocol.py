"""The contract between the library and the extension: two processes, one protocol.

``extension_entry/_protocol.py`` holds what both must agree on; the library ships a byte-identical
copy, ``lambda_warmup/_protocol.py`` (on Lambda it cannot import ``extension_entry``). These tests
keep the copy identical, run both processes' settings parsing over one table of values, and
compare every value the two sides share, each as the side itself uses it.
"""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path
from typing import Any

import pytest

import extension_entry._protocol as p
import lambda_warmup._protocol as library_copy
from extension_entry import _budget, _listener
from extension_entry import _settings as ext
from extension_entry._report import parse_report
from lambda_warmup import _constants as c
from lambda_warmup import _report as library_report
from lambda_warmup._settings import Settings, parse_duration
from lambda_warmup.exceptions import SettingsError

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "extension_entry" / "_protocol.py"
COPY = REPO / "lambda_warmup" / "_protocol.py"
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_librarys_copy_is_byte_identical() -> None:
    assert COPY.read_bytes() == SOURCE.read_bytes(), (
        "lambda_warmup/_protocol.py differs from extension_entry/_protocol.py (the source): "
        "cp extension_entry/_protocol.py lambda_warmup/_protocol.py"
    )


def test_both_sides_load_the_same_protocol() -> None:
    names = [name for name in vars(p) if not name.startswith("__")]
    assert [name for name in vars(library_copy) if not name.startswith("__")] == names
    for name in names:
        if not callable(getattr(p, name)):
            assert getattr(library_copy, name) == getattr(p, name), name


# -- Durations: one table, both processes -------------------------------------------------------
#: (value, milliseconds); ``None``: not a duration. Blank values are "unset" on both sides.
DURATIONS: list[tuple[str, float | None]] = [
    ("2500", 2500.0),
    ("2500ms", 2500.0),
    ("2.5s", 2500.0),
    ("1m", 60_000.0),
    ("0.5m", 30_000.0),
    (" 3 s ", 3000.0),
    ("\t300 ms\n", 300.0),
    ("150 ms", 150.0),
    ("2500.5", 2500.5),
    ("007", 7.0),
    ("0", 0.0),
    ("0ms", 0.0),
    ("0.0s", 0.0),
    ("1\u00a0s", 1000.0),  # Unicode space between number and unit, as str.strip() reads it
    ("-1", None),
    ("-1s", None),
    ("+5", None),
    ("1h", None),
    ("2.5S", None),  # units are lower case
    ("1M", None),
    ("fast", None),
    ("abc", None),
    (".5s", None),
    ("5.", None),
    ("1.2.3", None),
    ("1e4", None),
    ("1E4", None),
    ("inf", None),
    ("nan", None),
    ("s", None),
    ("ms", None),
    ("3 sec", None),
    ("3 seconds", None),
    ("1 m s", None),
    ("1_000", None),
    ("٣s", None),  # a non-ASCII digit
    ("2 .5s", None),
]
BLANK = ["", "   ", "\n"]


def _extension_reads(variable: str, raw: str) -> tuple[ext.Settings, list[str]]:
    lines: list[str] = []
    return ext.read_settings({variable: raw}, lines.append), lines


@pytest.mark.parametrize(("raw", "ms"), DURATIONS, ids=repr)
def test_both_parsers_read_a_duration_alike(raw: str, ms: float | None) -> None:
    settings, lines = _extension_reads("WARMING_TIMEOUT", raw)
    if ms is None:
        with pytest.raises(SettingsError, match="is not a duration"):
            parse_duration("WARMUP_INIT_TIMEOUT", raw)
        assert (settings.timeout_valid, settings.timeout_ms, len(lines)) == (False, 0.0, 1)
    else:
        assert parse_duration("WARMUP_INIT_TIMEOUT", raw) == ms / 1000
        assert (settings.timeout_valid, settings.timeout_ms, lines) == (True, ms, [])


@pytest.mark.parametrize("raw", [raw for raw, _ in DURATIONS] + BLANK, ids=repr)
def test_the_library_reports_whenever_the_extension_holds(raw: str) -> None:
    """An extension that holds and a library that does not report would hold INIT in vain; the
    library also reports for a value the extension rejects (it is the extension's to log)."""
    settings, _ = _extension_reads("WARMING_TIMEOUT", raw)
    holds = settings.timeout_valid and settings.timeout_ms > 0
    expected = holds or not settings.timeout_valid
    assert Settings.from_env({"WARMING_TIMEOUT": raw}).extension_expected is expected


@pytest.mark.parametrize("raw", BLANK, ids=repr)
def test_a_blank_duration_is_unset_on_both_sides(
    raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings, lines = _extension_reads("WARMING_TIMEOUT", raw)
    assert (settings.timeout_raw, settings.timeout_valid, lines) == ("", True, [])
    with caplog.at_level(logging.ERROR, logger="lambda_warmup"):
        assert Settings.from_env({"WARMUP_REPORT_TIMEOUT": raw}) == Settings()
    assert caplog.records == []


EXAMPLES = {"2500": 2500.0, "2500ms": 2500.0, "2.5s": 2500.0, "1m": 60_000.0}


def test_the_examples_both_sides_name_are_read_alike() -> None:
    with pytest.raises(SettingsError) as caught:  # the library names its forms in its error
        parse_duration("WARMUP_INIT_TIMEOUT", "?")
    for forms in (str(caught.value), ext.DURATION_FORMS):
        assert ", ".join(EXAMPLES) in forms
    for example, ms in EXAMPLES.items():
        assert parse_duration("WARMUP_INIT_TIMEOUT", example) == ms / 1000
        assert ext.parse_duration_ms(example) == ms


# -- The port: both must end up on the same one -------------------------------------------------
PORTS: list[tuple[str, int | None]] = [
    ("9779", 9779),
    ("9100", 9100),
    (" 9100 ", 9100),
    ("1", 1),
    ("65535", 65535),
    ("0", None),
    ("65536", None),
    ("-1", None),
    ("+80", None),
    ("80.0", None),
    ("80.5", None),
    ("0x50", None),
    ("1e3", None),
    ("http", None),
    ("²", None),
    ("٩٠٠٠", None),
    ("", None),
    ("  ", None),
]


@pytest.mark.parametrize(("raw", "port"), PORTS, ids=repr)
def test_library_and_extension_use_the_same_port(raw: str, port: int | None) -> None:
    extension, lines = _extension_reads("WARMUP_PORT", raw)
    library = Settings.from_env({"WARMUP_PORT": raw})
    assert library.port == extension.port == (port or p.DEFAULT_PORT)
    assert len(lines) == (1 if port is None and raw.strip() else 0)


# -- Every shared value, as each side uses it ----------------------------------------------------
SHARED: list[tuple[str, object, object, object]] = [
    # (what, the library's, the extension's, the protocol's)
    (
        "report format",
        library_report.build_report([], Settings())["format"],
        p.REPORT_FORMAT,  # what parse_report requires (test_..._largest_report_... sends it)
        "lambda-warmup/1",
    ),
    ("report path", c.REPORT_PATH, p.REPORT_PATH, "/report"),
    ("report host", c.REPORT_HOST, p.REPORT_HOST, "127.0.0.1"),
    ("report size limit", library_report.MAX_REPORT_BYTES, _listener.MAX_BODY_BYTES, 65536),
    ("default port", Settings().port, ext.Settings().port, 9779),
    ("port variable", c.WARMUP_PORT, ext.WARMUP_PORT, "WARMUP_PORT"),
    ("hold variable", c.WARMING_TIMEOUT, ext.WARMING_TIMEOUT, "WARMING_TIMEOUT"),
    (
        "init type variable",
        c.AWS_LAMBDA_INITIALIZATION_TYPE,
        ext.AWS_LAMBDA_INITIALIZATION_TYPE,
        "AWS_LAMBDA_INITIALIZATION_TYPE",
    ),
    ("on-demand type", Settings().init_type, ext.Settings().init_type, "on-demand"),
    ("on-demand INIT limit, s", c.ON_DEMAND_INIT_LIMIT, _budget.ON_DEMAND_INIT_LIMIT_MS / 1000, 10),
    ("long INIT limit, s", c.LONG_INIT_LIMIT, _budget.LONG_INIT_LIMIT_MS / 1000, 130),
]


@pytest.mark.parametrize(
    ("what", "library", "extension", "value"), SHARED, ids=[row[0] for row in SHARED]
)
def test_both_sides_share_the_value(what: str, library: object, extension: object, value: object):
    assert library == extension == value, what


def test_the_init_types_with_the_long_limit() -> None:
    assert ext.LONG_INIT_TYPES == p.LONG_INIT_TYPES
    assert set(p.LONG_INIT_TYPES) == {
        "provisioned-concurrency",
        c.SNAP_START,
        c.LAMBDA_MANAGED_INSTANCES,
    }
    assert c.ON_DEMAND == ext.ON_DEMAND not in p.LONG_INIT_TYPES


def test_the_extension_accepts_the_largest_report_the_library_sends() -> None:
    inits = [
        {
            "name": f"init_{i:04d}",
            "required": True,
            "status": "failed" if i % 7 == 0 else "ok",
            "duration_ms": 1.5,
            "attempts": 1,
            "error": "RuntimeError: " + "x" * 400 if i % 7 == 0 else None,
        }
        for i in range(2000)
    ]
    report: Any = {  # the library's own Report type is not this test's business
        "format": c.REPORT_FORMAT,
        "status": "failed",
        "pid": 4242,
        "workers": 1,
        "duration_ms": 3.0,
        "inits": inits,
    }
    body = library_report.encode_report(report)
    assert len(body) <= p.MAX_REPORT_BYTES < len(json.dumps(report))
    parsed = parse_report(body)
    assert parsed.omitted > 0
    assert len(parsed.inits) + parsed.omitted == 2000


def test_the_readme_states_the_protocols_values() -> None:
    assert f"### The report (`{p.REPORT_FORMAT}`)" in README
    assert f"`POST http://{p.REPORT_HOST}:${p.WARMUP_PORT}{p.REPORT_PATH}`" in README
    assert f"at most {p.MAX_REPORT_BYTES // 1024} KiB" in README
    assert f"| `{p.WARMUP_PORT}` | library and extension | `{p.DEFAULT_PORT}` |" in README
    assert f"the {p.ON_DEMAND_INIT_LIMIT_S} s on-demand INIT limit" in README
    assert f"max({p.LONG_INIT_LIMIT_S} s, function timeout)" in README


# -- What the shared module may import, and who imports whom --------------------------------------
def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_the_protocol_imports_nothing() -> None:
    # typing only under TYPE_CHECKING (mypy's); both sides load it on their critical path.
    assert _imports(SOURCE) == {"__future__", "typing"}
    module = ast.parse(SOURCE.read_text(encoding="utf-8"))
    top_level = [n for n in module.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [n.module for n in top_level if isinstance(n, ast.ImportFrom)] == ["__future__"]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("extension_entry", "lambda_warmup"), ("lambda_warmup", "extension_entry")],
)
def test_neither_side_imports_the_other(package: str, forbidden: str) -> None:
    for path in sorted((REPO / package).glob("*.py")):
        imported = {name.split(".")[0] for name in _imports(path)}
        assert forbidden not in imported, path.name
