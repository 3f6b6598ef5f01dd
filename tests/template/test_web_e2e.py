"""The SAM-built web sample (FastAPI served by ``warm_asgi``) in the local sandbox, against
PostgreSQL, moto (the prices API's settings) and the prices API: the demo's local services.

What a team would check before shipping it: INIT lasts until the app's lifespan is done (the
library's report names ``lifespan``), so the first request of a provisioned environment finds the
pool and the client ready; every request of the environment uses the connection the lifespan
opened (one ``pg_backend_pid()`` across frozen invocations, that backend started before the first
request); at SHUTDOWN the lifespan's exit closes the pool (the server sees the connection go).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo import runner, services
from lambda_sandbox import InvokeResult, LocalPostgres, Sandbox
from tests.support.powertools import log_records

pytestmark = pytest.mark.e2e

FUNCTION = "WebFunction"
INVOCATIONS = 10
SETTLED = re.compile(r"1 init\(s\) settled in [0-9.]+ ms, ok: lifespan ok ([0-9.]+) ms")


@pytest.fixture(scope="module")
def local() -> Iterator[services.LocalServices]:
    with services.start(database=True) as local:
        yield local


def _db(local: services.LocalServices) -> LocalPostgres:
    assert local.database is not None
    return local.database


def _connected(db: LocalPostgres, pid: int) -> bool:
    return db.sql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}") == [["1"]]


def _get(path: str, query: str = "") -> dict[str, Any]:
    """The sample's function URL event, for ``GET path?query``."""
    event: dict[str, Any] = json.loads(json.dumps(runner.WEB_EVENT))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["rawQueryString"] = query
    event.pop("queryStringParameters", None)
    return event


def _ok(result: InvokeResult, lines: list[str]) -> tuple[dict[str, Any], str]:
    """The body of a 200 answer, and the ``x-lifespan-on-arrival`` header."""
    assert result.status == "success", (result.payload, lines[-30:])
    response = result.json()
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    return body, response["headers"]["x-lifespan-on-arrival"]


def test_provisioned_with_hold_runs_the_lifespan_in_init_once_and_closes_it_at_shutdown(
    built: Path, local: services.LocalServices
) -> None:
    db = _db(local)
    lines: list[str] = []
    spec = runner.function_spec(built, FUNCTION, local.function_environment(), hold=True)
    # INFO: the library logs its report (naming the lifespan) and its SIGTERM cleanup.
    spec = dataclasses.replace(
        spec, environment={**spec.environment, "AWS_LAMBDA_LOG_LEVEL": "INFO"}
    )
    checks_before = int(db.sql("SELECT count(*) FROM price_checks")[0][0]) if _has_table(db) else 0
    with Sandbox(
        spec, init_type="provisioned-concurrency", shutdown_budget_s=2.0, log=lines.append
    ) as sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        # INIT held until the lifespan's startup completed: the report, in INIT, names it.
        settled = [line for line in lines if SETTLED.search(line)]
        assert settled, ("no report naming the lifespan during INIT", lines)
        lifespan_ms = float(SETTLED.search(settled[0]).group(1))  # type: ignore[union-attr]
        assert init.duration_ms >= lifespan_ms
        time.sleep(0.3)  # frozen, as a provisioned environment waits for traffic
        first_request_at = time.time()
        first_result = sandbox.invoke(runner.WEB_EVENT)
        first, arrival = _ok(first_result, lines)
        assert arrival == "ready", "the first request found the lifespan done"
        invocations = [sandbox.invoke(_get("/status")) for _ in range(INVOCATIONS)]
        answers = [_ok(result, lines) for result in invocations]
        pid = first["backend_pid"]
        started = db.sql(
            f"SELECT extract(epoch FROM backend_start) FROM pg_stat_activity WHERE pid = {pid}"
        )
        assert float(started[0][0]) < first_request_at, "the pool's connection is from INIT"
    # The first request was served by the pool INIT opened; so were the next ten.
    assert {body["backend_pid"] for body, _ in answers} == {pid}
    assert {arrival for _, arrival in answers} == {"ready"}
    (ready_at,) = {body["lifespan_ready_at"] for body, _ in answers}
    assert ready_at < first_request_at
    assert (first["sku"], first["quantity"], first["currency"]) == ("SKU-000042", 2, "EUR")
    # The route's query went through: the check is stored, by that connection.
    rows = db.sql(
        f"SELECT sku, quantity, unit_price FROM price_checks WHERE id = {first['check_id']}"
    )
    assert rows == [["SKU-000042", "2", first["unit"]]]
    assert int(db.sql("SELECT count(*) FROM price_checks")[0][0]) == checks_before + 1
    # Powertools' Logger: the route's line, with the request's ids (no cold start: provisioned).
    (record,) = log_records(first_result.logs, "price checked")
    assert record["service"] == "web"
    assert record["cold_start"] is False
    assert record["correlation_id"] == runner.WEB_EVENT["requestContext"]["requestId"]
    assert (record["sku"], record["quantity"], record["check_id"]) == (
        "SKU-000042",
        2,
        first["check_id"],
    )
    # SHUTDOWN: the lifespan's exit ran within the budget and closed the pool.
    function_lines = [line.removeprefix("[function] ") for line in lines]
    assert log_records(
        function_lines, "lifespan shutting down: closing the pool and the prices client"
    )
    assert any("shutdown hooks and init teardowns done" in line for line in lines), lines
    assert not any("cut short" in line for line in lines), lines
    deadline = time.monotonic() + 5.0  # the server ends the backend once it read the Terminate
    while _connected(db, pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _connected(db, pid), "the pool's connection outlived the shutdown"


def test_provisioned_without_hold_the_first_request_waits_for_the_lifespan(
    built: Path, local: services.LocalServices
) -> None:
    spec = runner.function_spec(built, FUNCTION, local.function_environment(), hold=False)
    scenario = runner.Scenario(FUNCTION, "provisioned-concurrency", hold=False)
    outcome = runner.run(spec, scenario, idle_s=0.3, warm_invocations=3, log=None)
    assert outcome.pending_on_arrival == ["lifespan"]
    assert runner.backend_pids(outcome) == f"{outcome.response['backend_pid']} in all 4"


def _has_table(db: LocalPostgres) -> bool:
    return db.sql("SELECT to_regclass('price_checks') IS NOT NULL") == [["t"]]
