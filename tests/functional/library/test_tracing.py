"""``WARMUP_TRACING=xray``: one X-Ray subsegment per init, in the first invocation's trace.

Run in a fresh interpreter set up as Lambda's (``LAMBDA_TASK_ROOT`` and the invocation's
``_X_AMZN_TRACE_ID``, read by the X-Ray SDK at import), with the SDK's emitter replaced by one
that keeps what it would send: no network, and no X-Ray state left in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"

SCRIPT = textwrap.dedent(
    """
    import json, time
    from aws_xray_sdk.core import xray_recorder
    import anyio
    from lambda_warmup import Settings, Warmup

    class Kept:
        ip, port = "127.0.0.1", 2000
        def __init__(self):
            self.sent = []
        def send_entity(self, entity):
            self.sent.append(json.loads(entity.serialize()))
        def set_daemon_address(self, address):
            pass

    kept = Kept()
    xray_recorder.configure(emitter=kept)
    warmup = Warmup(settings=Settings(tracing=TRACING))
    calls = []

    @warmup.init
    async def config():
        await anyio.sleep(0.1)
        return "cfg"

    @warmup.init(required=False)
    async def broken():
        raise ConnectionError("down")

    @warmup.handler
    def handler(event, context):
        return config.value

    warmup.run(warmup.wait_inits_settled)
    time.sleep(0.2)  # the summary (and the hook's arming) follows the settling on the loop
    before = len(kept.sent)
    handler({}, None)
    handler({}, None)
    warmup.close()
    print(json.dumps({"before": before, "sent": kept.sent}))
    """
)


def _run(script: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "LAMBDA_TASK_ROOT": str(REPO),
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return out


@pytest.mark.parametrize("tracing", ["xray", "auto"])
def test_one_subsegment_per_init_at_the_first_invocation(tracing: str) -> None:
    """``auto`` (the default) traces as ``xray`` does where the function loaded the X-Ray SDK."""
    out = _run(SCRIPT.replace("TRACING", repr(tracing)))
    assert out["before"] == 0  # nothing during INIT: there is no trace yet
    sent = {entity["name"]: entity for entity in out["sent"]}
    assert sorted(sent) == ["## init broken", "## init config"]  # once, not per invocation
    config, broken = sent["## init config"], sent["## init broken"]
    for entity in (config, broken):
        assert entity["trace_id"] == TRACE_ROOT
        assert entity["parent_id"] == "53995c3f42cd8ad8"
        assert entity["type"] == "subsegment"
    assert config["end_time"] - config["start_time"] >= 0.09
    assert config["annotations"] == {"init": "config", "init_status": "ok", "init_attempts": 1}
    assert "fault" not in config or not config["fault"]
    assert broken["annotations"]["init_status"] == "failed"
    assert broken["fault"] is True
    (exception,) = broken["cause"]["exceptions"]
    assert (exception["type"], exception["message"]) == ("ConnectionError", "down")


def test_auto_traces_nothing_where_the_function_has_no_x_ray_sdk_loaded() -> None:
    script = textwrap.dedent(
        """
        import json, sys, time
        from lambda_warmup import Settings, Warmup

        warmup = Warmup(settings=Settings(tracing="auto"))

        @warmup.init
        async def config():
            return "cfg"

        @warmup.handler
        def handler(event, context):
            return config.value

        warmup.run(warmup.wait_inits_settled)
        time.sleep(0.2)  # the summary (and the hook's arming) follows the settling on the loop
        handler({}, None)
        warmup.close()
        print(json.dumps({"loaded": sorted(
            m for m in ("aws_xray_sdk.core", "lambda_warmup._tracing") if m in sys.modules
        )}))
        """
    )
    assert _run(script) == {"loaded": []}
