"""The INIT timeline picture, opened in headless Chromium (Debian's, ``lambda_sandbox._chromium``).

``local invoke --timeline`` on a real sandbox (the layer's extension holding INIT, a function
with two inits, one awaiting the other, one retried; two invocations with frozen gaps), and the
page drawn from records carrying the library's JSON summary line (``tests/support/
timeline_records``), as the library writes it. Each test checks what the browser
laid out: the bars, on their rows, in time order, the critical path outlined.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lambda_sandbox._timeline_html import write_timeline
from tests.support import timeline_records as synthetic
from tests.support.browser import CRITICAL_STROKE, Shown, rendered, screenshot
from tests.support.layers import source_layer
from tests.support.paths import REPO
from tests.support.ports import free_port
from tests.support.sandboxes import FUNCTIONS

# The first run on a machine downloads Chromium (180 MB, 20-60 s) before the page opens.
pytestmark = pytest.mark.timeout(300)

EXT_ROW = "extension lambda-warmup"


def _left(bar: dict[str, object]) -> float:
    return float(bar["x"])  # type: ignore[arg-type]


def _right(bar: dict[str, object]) -> float:
    return float(bar["x"]) + float(bar["width"])  # type: ignore[arg-type]


def _assert_drawn(shown: Shown) -> None:
    """Every bar is inside the chart, on its own row, at least a pixel wide."""
    svg = shown.svg
    for bar in shown.bars:
        assert bar["visible"], bar
        assert bar["width"] >= 1.5, bar
        assert bar["height"] > 0, bar
        assert svg["x"] <= bar["x"], bar
        assert bar["x"] + bar["width"] <= svg["x"] + svg["width"], bar
        assert shown.on_row(bar) == bar["row"], bar


def _assert_critical_outlined(shown: Shown) -> None:
    for bar in shown.bars:
        outlined = bar["stroke"] == CRITICAL_STROKE and float(bar["strokeWidth"][:-2]) >= 2
        assert outlined == bar["critical"], bar


def test_timeline_with_the_inits_detail_in_chromium(tmp_path: Path) -> None:
    page = write_timeline(tmp_path / "held.html", synthetic.held_records(), title="held INIT")
    shown = rendered(page, tmp_path)
    screenshot(page, tmp_path / "held.png")
    assert shown.title == "held INIT"
    assert shown.notes == []
    rows = [r["name"] for r in sorted(shown.rows, key=lambda r: r["y"])]
    assert rows == ["sandbox", EXT_ROW, "runtime", "init config", "init client", "invocations"]
    _assert_drawn(shown)

    register = shown.bar(EXT_ROW, "start → register")
    hold = shown.bar(EXT_ROW, "holds INIT")
    release = shown.bar(EXT_ROW, "report → next")
    runtime = shown.bar("runtime", "start + import")
    config = shown.bar("init config", "config")
    await_config = shown.bar("init client", "awaits config")
    attempt_1 = shown.bar("init client", "attempt 1")
    backoff = shown.bar("init client", "backoff")
    attempt_2 = shown.bar("init client", "attempt 2")
    init = shown.bar("sandbox", "INIT")
    invoke_1 = shown.bar("invocations", "invoke 1")
    invoke_2 = shown.bar("invocations", "invoke 2")
    frozen = sorted((b for b in shown.bars if b["kind"] == "frozen"), key=_left)
    (init_end,) = shown.init_ends

    # In time order: registration, then the runtime; the inits during the import; client's
    # first attempt waits for config, fails, backs off, and its retry ends just before the report.
    assert _right(register) <= _left(runtime) + 1
    assert _left(runtime) < _left(config) < _right(config) <= _right(runtime) + 1
    assert _left(attempt_1) <= _left(await_config)
    assert _right(await_config) <= _right(attempt_1)
    assert abs(_right(await_config) - _right(config)) < 2
    assert _right(attempt_1) <= _left(backoff) + 1
    assert _right(backoff) <= _left(attempt_2) + 1
    assert _right(attempt_2) <= _left(release) + 1
    assert abs(_right(release) - init_end["x"]) < 2
    assert abs(_right(init) - init_end["x"]) < 2
    assert _left(hold) == pytest.approx(_right(register), abs=1)
    # Failed attempts are red, the last one green. Frozen between INIT and each invocation, and
    # after the last one until SHUTDOWN thaws it.
    assert attempt_1["fill"] == "rgb(228, 87, 86)"
    assert attempt_2["fill"] == "rgb(84, 162, 75)"
    assert len(frozen) == 3
    assert init_end["x"] <= _left(frozen[0])
    assert _right(frozen[0]) <= _left(invoke_1) + 1
    assert _right(invoke_1) <= _left(frozen[1]) + 1
    assert _right(frozen[1]) <= _left(invoke_2) + 1

    critical = {(b["row"], b["label"]) for b in shown.bars if b["critical"]}
    assert critical == {
        (EXT_ROW, "start → register"),
        ("runtime", "start + import"),
        ("init config", "config"),
        ("init client", "awaits config"),
        ("init client", "attempt 1"),
        ("init client", "backoff"),
        ("init client", "attempt 2"),
        (EXT_ROW, "report → next"),
    }
    _assert_critical_outlined(shown)
    (report,) = shown.markers
    assert report["label"] == "report"
    assert report["critical"]
    assert report["fill"] == CRITICAL_STROKE
    assert [step.split(",")[0] for step in shown.critical[0]] == [
        f"{EXT_ROW}: start → register",
        "runtime: start + import",
        "init config: config",
        "init client: attempt 1",
        "init client: backoff",
        "init client: attempt 2",
        f"{EXT_ROW}: report (at 398 ms)",
        f"{EXT_ROW}: report → next",
    ]


def test_an_invocation_that_waited_for_an_init_in_chromium(tmp_path: Path) -> None:
    """Without the hold, INIT ends at the runtime's next; the first invocation shows its wait."""
    page = write_timeline(tmp_path / "unheld.html", synthetic.unheld_records(), title="unheld")
    shown = rendered(page, tmp_path)
    _assert_drawn(shown)
    (init_end,) = shown.init_ends
    runtime = shown.bar("runtime", "→ next")
    assert abs(_right(runtime) - init_end["x"]) < 2
    assert runtime["critical"]
    assert not shown.bar(EXT_ROW, "register → next")["critical"]
    handler = shown.bar("runtime", "handler 1")
    waited = shown.bar("runtime", "waited for client")
    invoke = shown.bar("invocations", "invoke 1")
    retry = shown.bar("init client", "attempt 2")
    assert _left(invoke) <= _left(handler) <= _left(waited)
    assert _right(waited) <= _right(handler) + 1
    assert _left(handler) <= _left(retry)
    assert _right(retry) <= _right(waited) + 1
    assert waited["fill"].startswith("url(")  # hatched
    backoff = shown.bar("init client", "backoff")
    frozen = min((b for b in shown.bars if b["kind"] == "frozen"), key=_left)
    assert _left(backoff) < _left(frozen)
    assert _right(frozen) <= _right(backoff) + 1  # the retry's backoff spans the frozen gap


def _template(tmp_path: Path) -> Path:
    layer = source_layer(tmp_path / "layer", extension=True)
    template = tmp_path / "template.yaml"
    template.write_text(
        textwrap.dedent(
            f"""\
            Transform: AWS::Serverless-2016-10-31
            Resources:
              WarmupLayer:
                Type: AWS::Serverless::LayerVersion
                Properties: {{ContentUri: {layer}}}
              TimelineFunction:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: {FUNCTIONS / "timeline"}
                  Handler: timeline_app.handler
                  Runtime: python3.13
                  Timeout: 5
                  Layers: [!Ref WarmupLayer]
                  Environment:
                    Variables:
                      WARMUP_PORT: "{free_port()}"
                      WARMING_TIMEOUT: 5s
                      AWS_LAMBDA_LOG_LEVEL: INFO
            """
        )
    )
    return template


@pytest.mark.e2e
def test_local_invoke_timeline_of_a_real_sandbox_in_chromium(tmp_path: Path) -> None:
    page, records = tmp_path / "timeline.html", tmp_path / "records.jsonl"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "lambda_sandbox", "local", "invoke", "TimelineFunction"),
            *("-t", str(_template(tmp_path)), "--init-type", "provisioned-concurrency"),
            *("--invocations", "2", "--idle", "0.3", "--timeline", str(page)),
            *("--records", str(records)),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert answers == [{"client": "client for postgres://db.internal/app", "attempts": 2}] * 2
    said = (
        "Timeline: running the function with AWS_LAMBDA_LOG_FORMAT=JSON, AWS_LAMBDA_LOG_LEVEL=INFO"
    )
    assert said in proc.stderr
    assert f"Timeline: {page}" in proc.stderr
    shown = rendered(page, tmp_path)
    screenshot(page, tmp_path / "timeline.png")
    assert shown.title == "TimelineFunction (provisioned-concurrency)"
    _assert_drawn(shown)

    register = shown.bar(EXT_ROW, "start → register")
    held = [b for b in shown.bars if b["row"] == EXT_ROW and b is not register]
    runtime = shown.bar("runtime", "start + import")
    init = shown.bar("sandbox", "INIT")
    frozen = sorted((b for b in shown.bars if b["kind"] == "frozen"), key=_left)
    invokes = [shown.bar("invocations", f"invoke {n}") for n in (1, 2)]
    handlers = [shown.bar("runtime", f"handler {n}") for n in (1, 2)]
    (init_end,) = shown.init_ends
    # The extension registers, then the runtime starts; the extension's next came last (it held
    # INIT until the report), so INIT ends where its bar does.
    assert _right(register) <= _left(runtime) + 1
    assert _right(runtime) < init_end["x"]
    assert abs(max(_right(b) for b in held) - init_end["x"]) < 2
    assert abs(_right(init) - init_end["x"]) < 2
    # Frozen after INIT (the --idle before the first event), between the invocations, and after
    # the last one until SHUTDOWN thaws it.
    assert len(frozen) == 3, frozen
    # (An invocation starts when the sandbox takes the event, and thaws the environment for it:
    # a frozen gap ends inside the invocation's first moments, before the handler has it.)
    assert init_end["x"] <= _left(frozen[0])
    assert _right(frozen[0]) <= _left(handlers[0]) + 1
    assert _right(invokes[0]) <= _left(frozen[1]) + 1
    assert _right(frozen[1]) <= _left(handlers[1]) + 1
    for invoke, handler in zip(invokes, handlers, strict=True):
        assert _left(invoke) <= _left(handler)
        assert _right(handler) <= _right(invoke) + 1
    # The critical path: the extension's registration, and what it waited for after.
    assert register["critical"]
    assert held[-1]["critical"]
    assert not any(b["critical"] for b in invokes + handlers + frozen)
    _assert_critical_outlined(shown)

    lines = [json.loads(line) for line in records.read_text().splitlines()]
    summary = [r for r in lines if r["event"] == "log" and '"inits_settled"' in r["line"]]
    assert summary, "the library's inits_settled line is not in the function's log"
    # From the library's summary: the inits, client's retry and its wait on config, and the
    # report on the critical path.
    assert shown.notes == []
    assert shown.bar("init client", "attempt 1")["kind"] == "attempt-failed"
    assert shown.bar("init client", "attempt 2")["critical"]
    assert shown.bar("init client", "awaits config")["critical"]
    assert shown.bar("init config", "config")["critical"]
    assert [m["label"] for m in shown.markers if m["critical"]] == ["report"]
