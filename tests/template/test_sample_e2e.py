"""The SAM-built samples in the local sandbox, against moto and the demo's quotes API.

Provisioned concurrency (INIT ahead, then a frozen idle gap) shows the extension's work: with
``WARMING_TIMEOUT`` the first invocation finds every init done; without, it finds them pending
(they sat frozen with the sandbox) and waits for them itself. Each invocation logs and measures
itself with Powertools: a JSON ``quoted`` line, and a ``QuotesServed`` metric (EMF).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo import runner, services
from lambda_sandbox import FunctionSpec
from tests.support.paths import REPO
from tests.support.ports import own_network_namespace
from tests.support.powertools import emf_dimensions, emf_metrics, log_records

pytestmark = pytest.mark.e2e

CATALOG_SIZE = "50000"  # ~0.2 s of catalog; the sample's default takes ~1 s


@pytest.fixture(scope="module")
def local() -> Iterator[services.LocalServices]:
    with services.start() as local:
        yield local


def _spec(built: Path, local: services.LocalServices, function: str, *, hold: bool) -> FunctionSpec:
    spec = runner.function_spec(built, function, local.function_environment(), hold=hold)
    return dataclasses.replace(spec, environment={**spec.environment, "CATALOG_SIZE": CATALOG_SIZE})


def _check_quotes(outcome: runner.Outcome) -> None:
    response = outcome.response
    assert response["query"] == runner.EVENT["query"]
    assert len(response["quotes"]) == 3
    for quote in response["quotes"]:
        assert set(str(runner.EVENT["query"]).split()) <= set(quote["name"].split())
        # The API answered: the token from Secrets Manager and the URL from SSM were right.
        assert quote["price"]["total"] == pytest.approx(quote["price"]["unit"] * 2)


def _check_powertools(outcome: runner.Outcome, function: str, *, cold_start: bool) -> None:
    """Each invocation's Logger line and EMF metrics, as the template names service and
    namespace; with ``cold_start``, the first invocation is one (Logger's flag, the ColdStart
    metric) and no later one is."""
    for n, (invocation, response) in enumerate(
        zip(outcome.invocations, outcome.responses, strict=True)
    ):
        cold = cold_start and n == 0
        (record,) = log_records(invocation.logs, "quoted")
        assert record["level"] == "INFO"
        assert record["service"] == "quotes"
        assert record["cold_start"] is cold
        assert record["function_name"] == function
        assert record["function_request_id"] == invocation.request_id
        assert record["query"] == runner.EVENT["query"]
        assert record["quantity"] == runner.EVENT["quantity"]
        assert record["skus"] == [quote["sku"] for quote in response["quotes"]]
        metrics = emf_metrics(invocation.logs, "LambdaWarmupSamples")
        assert {"QuotesServed": 3.0} in metrics
        assert ({"ColdStart": 1.0} in metrics) is cold
        assert len(metrics) == (2 if cold else 1), metrics
        assert emf_dimensions(invocation.logs, "QuotesServed") == [{"service": "quotes"}]
        if cold:
            assert emf_dimensions(invocation.logs, "ColdStart") == [
                {"service": "quotes", "function_name": function}
            ]


def test_async_sample_provisioned_with_hold_finds_inits_done(
    built: Path, local: services.LocalServices
) -> None:
    scenario = runner.Scenario("QuotesAsyncFunction", "provisioned-concurrency", hold=True)
    spec = _spec(built, local, scenario.function, hold=True)
    assert spec.environment["WARMING_TIMEOUT"] == "10s"  # the template parameter's default
    lines: list[str] = []
    outcome = runner.run(spec, scenario, idle_s=0.2, warm_invocations=2, log=lines.append)
    assert outcome.response["arrival"] == {
        "inits": ["settings", "api", "catalog"],
        "pending_inits": [],
    }
    _check_quotes(outcome)
    held = [line for line in lines if "released after" in line]
    assert len(held) == 1, lines
    assert "report ok" in held[0]
    assert outcome.first_ms < outcome.init_ms
    # Powertools counts no cold start in a provisioned environment: its INIT was ahead of traffic.
    _check_powertools(outcome, scenario.function, cold_start=False)


def test_async_sample_provisioned_without_hold_waits_in_the_first_invocation(
    built: Path, local: services.LocalServices
) -> None:
    scenario = runner.Scenario("QuotesAsyncFunction", "provisioned-concurrency", hold=False)
    spec = _spec(built, local, scenario.function, hold=False)
    assert "WARMING_TIMEOUT" not in spec.environment
    lines: list[str] = []
    outcome = runner.run(spec, scenario, idle_s=0.2, warm_invocations=2, log=lines.append)
    assert outcome.pending_on_arrival, "INIT ended at the runtime's next, before the inits"
    _check_quotes(outcome)
    assert outcome.first_ms > outcome.warm_ms


def test_sync_sample_on_demand_with_hold(built: Path, local: services.LocalServices) -> None:
    scenario = runner.Scenario("QuotesSyncFunction", "on-demand", hold=True)
    spec = _spec(built, local, scenario.function, hold=True)
    outcome = runner.run(spec, scenario, idle_s=0, warm_invocations=1, log=None)
    assert outcome.pending_on_arrival == []
    _check_quotes(outcome)
    _check_powertools(outcome, scenario.function, cold_start=True)


#: ``local invoke`` as a user runs it, with local services of its own: run as ``python -c`` (so
#: its moto holds only its own state), with the template, the env file to write and the event.
_LOCAL_INVOKE = """
import json, subprocess, sys
from pathlib import Path
from demo import services

template, env_file, event = sys.argv[1:]
with services.start() as local:
    Path(env_file).write_text(json.dumps({"Parameters": local.function_environment()}))
    proc = subprocess.run(
        [sys.executable, "-m", "lambda_sandbox", "local", "invoke", "QuotesSyncFunction",
         "-t", template, "-n", env_file, "-e", event],
        capture_output=True, text=True, timeout=50,
    )
sys.stdout.write(proc.stdout)
sys.stderr.write(proc.stderr)
sys.exit(proc.returncode)
"""


def test_cli_local_invoke_of_the_built_template(built: Path, tmp_path: Path) -> None:
    """The README's way by hand: ``local invoke`` with an ``--env-vars`` file, as with SAM."""
    # The template declares no WARMUP_PORT, so (as with SAM) --env-vars cannot set one: the
    # extension listens on the default, 9779. Hence a network namespace of the test's own, where
    # 9779 is free whatever else runs on the machine; the services the function calls are in it
    # too, in the process that runs the CLI.
    with own_network_namespace():
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                _LOCAL_INVOKE,
                built / "template.yaml",
                tmp_path / "env.json",
                REPO / "samples" / "events" / "quote.json",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=55,  # the CLI's own 50 s, and the services' start
        )
    assert proc.returncode == 0, proc.stderr
    response = json.loads(proc.stdout)
    assert len(response["quotes"]) == 3, proc.stderr
    assert "REPORT RequestId" in proc.stderr
    assert "listening for reports on 127.0.0.1:9779" in proc.stderr
    assert "released after" in proc.stderr  # the extension held INIT (WARMING_TIMEOUT=10s)
