"""The SAM-built orders sample in the local sandbox, against PostgreSQL, moto's SQS and the prices
API (the demo's local services, with a :class:`lambda_sandbox.LocalPostgres`).

What a team would check before shipping it: an order is stored (read back from PostgreSQL with
``psql``) and announced on the queue (read from moto with boto3), every invocation of one
environment uses the connection the pool opened in INIT (one ``pg_backend_pid()`` across frozen
invocations, and that backend started before the first request), the teardowns close what the
inits opened at SHUTDOWN, and with SnapStart each restored copy has a connection of its own.
And what it tells its team: Powertools' JSON log lines (with the caller's correlation id) and
EMF metrics (``OrdersStored``, ``OrdersRejected``, ``OrdersRead``, ``OrdersNotFound``,
``ColdStart``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo import runner, services
from lambda_sandbox import InitType, InvokeResult, LocalPostgres, Sandbox
from tests.support.database import backend_pids
from tests.support.powertools import emf_dimensions, emf_metrics, log_records
from tests.support.sandboxes import skip_without_snapshots

pytestmark = pytest.mark.e2e

FUNCTION = "OrdersFunction"
NAMESPACE = "LambdaWarmupSamples"


@pytest.fixture(scope="module")
def local() -> Iterator[services.LocalServices]:
    with services.start(database=True) as local:
        yield local


def _db(local: services.LocalServices) -> LocalPostgres:
    assert local.database is not None
    return local.database


def _sandbox(
    built: Path, local: services.LocalServices, lines: list[str], init_type: InitType
) -> Sandbox:
    """The built function with the template's hold, its logs in ``lines``."""
    spec = runner.function_spec(built, FUNCTION, local.function_environment(), hold=True)
    # INFO: the library logs its SIGTERM cleanup (the inits' teardowns) at SHUTDOWN.
    env = {**spec.environment, "AWS_LAMBDA_LOG_LEVEL": "INFO"}
    spec = dataclasses.replace(spec, environment=env)
    return Sandbox(spec, init_type=init_type, shutdown_budget_s=2.0, log=lines.append)


def _connected(db: LocalPostgres, pid: int) -> bool:
    return db.sql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}") == [["1"]]


def _queued(local: services.LocalServices) -> dict[int, dict[str, Any]]:
    """The messages on the orders queue by order id; received and deleted (bounded)."""
    sqs, found = local.sqs(), {}
    for _ in range(20):
        messages = sqs.receive_message(
            QueueUrl=local.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            body = json.loads(message["Body"])
            found[body["order_id"]] = body
            sqs.delete_message(QueueUrl=local.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _succeeded(result: Any) -> dict[str, Any]:
    assert result.status == "success", result.payload
    answer: dict[str, Any] = result.json()
    return answer


def _check_stored(invocation: InvokeResult, *, cold_start: bool) -> None:
    """The invocation that stored an order logged it (one JSON line with the order's fields, the
    request id and the event's correlation id) and counted it (EMF); ``cold_start``: it was the
    environment's first, as the Logger's flag and the ColdStart metric say."""
    order = invocation.json()
    (record,) = log_records(invocation.logs, "order stored")
    assert record["level"] == "INFO"
    assert record["service"] == "orders"
    assert record["cold_start"] is cold_start
    assert record["function_name"] == FUNCTION
    assert record["function_request_id"] == invocation.request_id
    assert record["correlation_id"] == runner.ORDER_EVENT["correlation_id"]
    assert {k: record[k] for k in ("order_id", "customer", "total", "currency", "items")} == {
        **{k: order[k] for k in ("order_id", "customer", "total", "currency")},
        "items": len(runner.ORDER_EVENT["items"]),
    }
    metrics = emf_metrics(invocation.logs, NAMESPACE)
    assert {"OrdersStored": 1.0} in metrics
    assert ({"ColdStart": 1.0} in metrics) is cold_start
    assert len(metrics) == (2 if cold_start else 1), metrics
    assert emf_dimensions(invocation.logs, "OrdersStored") == [{"service": "orders"}]


def test_provisioned_with_hold_stores_queues_and_reuses_the_connection_from_init(
    built: Path, local: services.LocalServices
) -> None:
    db = _db(local)
    lines: list[str] = []
    with _sandbox(built, local, lines, "provisioned-concurrency") as sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        time.sleep(0.3)  # frozen, as a provisioned environment waits for traffic
        first_request_at = time.time()
        stored = [sandbox.invoke(runner.ORDER_EVENT) for _ in range(3)]
        orders = [_succeeded(invocation) for invocation in stored]
        reading = sandbox.invoke({"order_id": orders[0]["order_id"]})
        read = _succeeded(reading)
        (pid,) = {order["backend_pid"] for order in orders}
        # The pool's one connection, opened in INIT: its backend started before any request.
        started = db.sql(
            f"SELECT extract(epoch FROM backend_start) FROM pg_stat_activity WHERE pid = {pid}"
        )
        assert float(started[0][0]) < first_request_at
        # ... and the only one: asyncpg names none (psql names itself).
        assert backend_pids(db, "") == [pid]
    assert orders[0]["arrival"] == {
        "inits": ["db", "queue", "settings", "pricing"],
        "pending_inits": [],
    }
    assert read["backend_pid"] == pid
    # Logged and counted; Powertools counts no cold start in a provisioned environment.
    for invocation in stored:
        _check_stored(invocation, cold_start=False)
    (record,) = log_records(reading.logs, "order read")
    assert record["order_id"] == orders[0]["order_id"]
    assert record["function_request_id"] == reading.request_id
    assert "correlation_id" not in record  # the read's event carries none
    assert emf_metrics(reading.logs, NAMESPACE) == [{"OrdersRead": 1.0}]

    # Stored: the order and its items, in one transaction, with the prices the API gave.
    ids = [order["order_id"] for order in orders]
    assert len(set(ids)) == 3
    rows = db.sql(
        "SELECT o.id, o.customer, o.total, o.currency, sum(i.unit_price * i.quantity), count(*)"
        " FROM orders o JOIN order_items i ON i.order_id = o.id"
        f" WHERE o.id IN ({', '.join(map(str, ids))}) GROUP BY o.id ORDER BY o.id"
    )
    assert [row[0] for row in rows] == [str(i) for i in ids]
    for row, order in zip(rows, orders, strict=True):
        _, customer, total, currency, items_total, items = row
        assert (customer, total, currency) == ("ada", order["total"], "EUR")
        assert items_total == total
        assert int(items) == len(runner.ORDER_EVENT["items"])
    assert read["total"] == orders[0]["total"]
    assert {(i["sku"], i["quantity"]) for i in read["items"]} == {
        (i["sku"], i["quantity"]) for i in runner.ORDER_EVENT["items"]
    }

    # Announced: one message per order, after its commit.
    queued = _queued(local)
    for order in orders:
        assert queued[order["order_id"]] == {
            k: order[k] for k in ("order_id", "customer", "total", "currency")
        }

    # SHUTDOWN: the teardowns ran (the pool, the SQS and the pricing clients closed), in time.
    assert any("shutdown hooks and init teardowns done" in line for line in lines), lines
    assert not any("cut short" in line for line in lines), lines
    deadline = time.monotonic() + 5.0  # the server ends the backend once it read the Terminate
    while _connected(db, pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _connected(db, pid)


def test_on_demand_without_hold_waits_once_then_keeps_one_connection(
    built: Path, local: services.LocalServices
) -> None:
    scenario = runner.Scenario(FUNCTION, "on-demand", hold=False)
    spec = runner.function_spec(built, FUNCTION, local.function_environment(), hold=False)
    assert "WARMING_TIMEOUT" not in spec.environment
    outcome = runner.run(spec, scenario, idle_s=0, warm_invocations=3, log=None)
    # INIT ended at the import; the inits ran on in the first invocation, which waited for them.
    assert outcome.pending_on_arrival
    pids = [response["backend_pid"] for response in outcome.responses]
    assert len(pids) == 4
    assert len(set(pids)) == 1, pids
    assert runner.backend_pids(outcome) == f"{pids[0]} in all 4"
    for n, invocation in enumerate(outcome.invocations):
        _check_stored(invocation, cold_start=n == 0)
    queued = _queued(local)
    assert {r["order_id"] for r in outcome.responses} <= set(queued)


def test_a_bad_event_fails_alone_and_the_environment_serves_on(
    built: Path, local: services.LocalServices
) -> None:
    db = _db(local)
    lines: list[str] = []
    before = db.sql("SELECT count(*) FROM orders")
    with _sandbox(built, local, lines, "on-demand") as sandbox:
        bad = sandbox.invoke({"customer": "ada", "items": [{"sku": "SKU-1", "quantity": 0}]})
        missing = sandbox.invoke({"order_id": 10**9})
        good = _succeeded(sandbox.invoke(runner.ORDER_EVENT))
    assert bad.status == "error"
    assert bad.json()["errorType"] == "ValueError"
    assert "quantity above 0" in bad.json()["errorMessage"]
    (rejected,) = log_records(bad.logs, "order rejected")
    assert rejected["level"] == "WARNING"
    assert rejected["reason"] == bad.json()["errorMessage"]
    assert rejected["function_request_id"] == bad.request_id
    assert emf_metrics(bad.logs, NAMESPACE) == [{"OrdersRejected": 1.0}]
    assert missing.status == "error"
    assert missing.json()["errorType"] == "LookupError"
    assert emf_metrics(missing.logs, NAMESPACE) == [{"OrdersNotFound": 1.0}]
    assert int(db.sql("SELECT count(*) FROM orders")[0][0]) == int(before[0][0]) + 1
    assert good["order_id"] in _queued(local)


def test_snapstart_copies_each_serve_on_a_connection_of_their_own(
    built: Path, local: services.LocalServices
) -> None:
    """SnapStart: the connection in the snapshot is dead in every restored copy. Each copy opens
    one after its restore (the pool's after-restore hook expires the old one; in the sandbox,
    where CRIU cuts it, asyncpg also sees it closed) and keeps it for its invocations."""
    skip_without_snapshots()
    db = _db(local)
    lines: list[str] = []
    spec = runner.function_spec(built, FUNCTION, local.function_environment(), hold=True)
    copies: list[int] = []
    with Sandbox(
        spec, init_type="snap-start", snapshots=True, shutdown_budget_s=2.0, log=lines.append
    ) as sandbox:
        assert sandbox.start().status == "success", lines
        for _ in range(2):
            restored_at = time.time()
            orders = [_succeeded(sandbox.invoke(runner.ORDER_EVENT)) for _ in range(3)]
            (pid,) = {order["backend_pid"] for order in orders}
            started = db.sql(
                f"SELECT extract(epoch FROM backend_start) FROM pg_stat_activity WHERE pid = {pid}"
            )
            assert float(started[0][0]) > restored_at
            copies.append(pid)
            sandbox.discard_environment()
    assert copies[0] != copies[1]
    assert set(_queued(local)) >= {order["order_id"] for order in orders}
