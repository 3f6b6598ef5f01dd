"""An httpx and an aiobotocore client made in INIT, end to end in the sandbox.

The function (``tests/clients/functions/warm_clients``) enters an ``httpx.AsyncClient`` (to the
test's keep-alive server) and an aiobotocore SQS client (to moto, through a keep-alive front) in
``yield`` inits, uses each once in INIT, and its async handler GETs ``/request/<n>`` and sends
``message <n>`` to the queue. The servers see each connection's client port, so a reused
connection shows as one port; the test reads the queue with boto3.

What a user sees after a SnapStart restore, in the sandbox:

- **without a recipe** (``warm_clients.plain``) every copy is served: the sandbox cuts the
  snapshot's connections at the checkpoint, so in each copy the restored socket reads as closed,
  httpx's pool drops it before sending (httpcore checks an idle connection for that), aiohttp's
  finds its transport closed, and both open a new connection (aiobotocore's call: no retry). On
  Lambda such a socket may still look open: then httpx fails the first request after the restore
  with ``httpx.ReadError`` (it never retries), and botocore retries the call once; see
  ``test_stale_connections.py``, which plays that peer.
- **with the README's recipes** (``warm_clients.recipes``) the httpx hook closes the transport's
  connections after each restore (``after restore: hooks done``), and every copy is served on a
  connection of its own; aiobotocore needs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import Sandbox
from tests.support.clients import KeepAliveServer, MotoSqs, clients_sandbox
from tests.support.sandboxes import skip_without_snapshots

pytestmark = pytest.mark.e2e

PLAIN = "warm_clients.plain.handler"
RECIPES = "warm_clients.recipes.handler"
CLOSE_WAIT_S = 2.0
RESTORES = 3
INVOCATIONS = 2  # per restored copy


def _serve(sandbox: Sandbox, n: int, lines: list[str]) -> dict[str, Any]:
    result = sandbox.invoke({"n": n})
    assert result.status == "success", (result.payload, lines[-30:])
    answer: dict[str, Any] = result.json()
    return answer


def _runtime_exit(sandbox: Sandbox) -> dict[str, Any]:
    return next(
        r for r in sandbox.records if r["event"] == "process_exit" and r["kind"] == "runtime"
    )


def _restored_copies(sandbox: Sandbox, lines: list[str]) -> list[list[dict[str, Any]]]:
    """``RESTORES`` copies restored from the one snapshot, each sent ``INVOCATIONS`` events."""
    assert sandbox.start().status == "success", lines
    assert sandbox.snapshots, sandbox.snapshot_unavailable
    copies = []
    for copy in range(RESTORES):
        if copy:
            sandbox.discard_environment()
        answers = []
        for i in range(INVOCATIONS):
            result = sandbox.invoke({"n": copy * INVOCATIONS + i})
            assert result.status == "success", (copy + 1, i + 1, result.payload, lines[-30:])
            assert (result.restore_duration_ms is not None) == (i == 0), "one restore per copy"
            answers.append(result.json())
        copies.append(answers)
    return copies


def _assert_each_copy_on_connections_of_its_own(
    copies: list[list[dict[str, Any]]], api: KeepAliveServer, aws: MotoSqs
) -> None:
    """Each copy's requests went out on one connection of its own, none on the snapshot's."""
    (init_http,) = api.ports("/init")
    http = [[a["http"]["port"] for a in answers] for answers in copies]
    assert all(len(set(ports)) == 1 for ports in http), f"httpx: one connection a copy: {http}"
    assert len({ports[0] for ports in http} - {init_http}) == RESTORES, (
        f"httpx: a new connection in each copy, not INIT's (port {init_http}): {http}"
    )
    init_aws, *sends = aws.front.ports()  # INIT read the queue's attributes
    assert len(sends) == RESTORES * INVOCATIONS, f"one call an invocation: {aws.front.requests}"
    calls = [sends[i : i + INVOCATIONS] for i in range(0, len(sends), INVOCATIONS)]
    assert all(len(set(ports)) == 1 for ports in calls), f"aiobotocore: one a copy: {calls}"
    assert len({ports[0] for ports in calls} - {init_aws}) == RESTORES, (
        f"aiobotocore: a new connection in each copy, not INIT's (port {init_aws}): {calls}"
    )


def test_ten_frozen_invocations_reuse_one_connection_of_each_client(
    tmp_path: Path, api: KeepAliveServer, aws: MotoSqs
) -> None:
    lines: list[str] = []
    with clients_sandbox(tmp_path, lines, handler=PLAIN, api=api, aws=aws) as sandbox:
        assert sandbox.start().status == "success", lines
        answers = [_serve(sandbox, n, lines) for n in range(10)]
    (init_http,) = api.ports("/init")
    assert api.ports("/request/") == [init_http] * 10, "httpx: INIT's connection, every time"
    assert [a["http"]["path"] for a in answers] == [f"/request/{n}" for n in range(10)]
    front = aws.front.ports()
    assert len(front) == 11, f"INIT's call and 10 sends: {aws.front.requests}"
    assert len(set(front)) == 1, f"aiobotocore: one connection: {front}"
    assert [a["sqs_retries"] for a in answers] == [0] * 10
    assert len({a["message_id"] for a in answers}) == 10
    assert aws.receive_all(10) == [f"message {n}" for n in range(10)], "each arrived in moto"


def test_shutdown_closes_both_clients_before_the_runtime_exits(
    tmp_path: Path, api: KeepAliveServer, aws: MotoSqs
) -> None:
    lines: list[str] = []
    sandbox = clients_sandbox(tmp_path, lines, handler=PLAIN, api=api, aws=aws)
    with sandbox:
        assert sandbox.start().status == "success", lines
        _serve(sandbox, 0, lines)
        (http_port,) = set(api.ports())
        (aws_port,) = set(aws.front.ports())
        assert http_port not in api.closed_ports
        assert aws_port not in aws.front.closed_ports
    # SHUTDOWN: SIGTERM to the runtime; the inits' teardowns leave their `async with` blocks.
    assert api.wait_closed(http_port, CLOSE_WAIT_S), (
        f"the API server did not see httpx's connection (port {http_port}) closed within "
        f"{CLOSE_WAIT_S} s of the shutdown"
    )
    assert aws.front.wait_closed(aws_port, CLOSE_WAIT_S), (
        f"the AWS front did not see aiobotocore's connection (port {aws_port}) closed within "
        f"{CLOSE_WAIT_S} s of the shutdown"
    )
    done = [
        r["t_ms"]
        for r in sandbox.records
        if r["event"] == "log"
        and r["source"] == "function"
        and any(
            text in r["line"]
            for text in (
                "teardown: aiobotocore client closed",
                "teardown: httpx client closed: True",
                "SIGTERM: shutdown hooks and init teardowns done",
            )
        )
    ]
    assert len(done) == 3, lines[-10:]
    runtime = _runtime_exit(sandbox)
    # At SHUTDOWN (a line's time is when the sandbox read it, which can follow the exit it saw:
    # that the runtime printed them, then ended by its own SIGTERM, says they came first).
    start = next(r["t_ms"] for r in sandbox.records if r["event"] == "shutdown_start")
    assert start < min(done), "the clients were closed at SHUTDOWN"
    assert runtime["returncode"] == -15, "it ended by its SIGTERM, not killed at the deadline"
    assert not any("cut short" in line or "Unclosed" in line for line in lines), lines


def test_snapstart_with_the_recipes_every_copy_is_served_on_new_connections(
    tmp_path: Path, api: KeepAliveServer, aws: MotoSqs
) -> None:
    skip_without_snapshots()
    lines: list[str] = []
    sandbox = clients_sandbox(
        tmp_path, lines, handler=RECIPES, api=api, aws=aws, init_type="snap-start", snapshots=True
    )
    with sandbox:
        copies = _restored_copies(sandbox, lines)
    snapshot = next(r for r in sandbox.records if r["event"] == "snapshot")
    assert len(snapshot["cut_connections"]) == 2, snapshot  # httpx's and aiobotocore's
    _assert_each_copy_on_connections_of_its_own(copies, api, aws)
    assert sum("after restore: hooks done" in line for line in lines) == RESTORES
    retries = [a["sqs_retries"] for answers in copies for a in answers]
    assert all(r <= 1 for r in retries), f"botocore's retries per call: {retries}"
    total = RESTORES * INVOCATIONS
    received = aws.receive_all(total)
    assert received == [f"message {n}" for n in range(total)], (retries, aws.front.requests)


def test_snapstart_without_a_recipe_the_sandbox_serves_every_copy(
    tmp_path: Path, api: KeepAliveServer, aws: MotoSqs
) -> None:
    """See the module's docstring: here the cut socket reads as closed, and both pools replace
    it on their own; on Lambda's stale-but-open socket httpx would fail instead."""
    skip_without_snapshots()
    lines: list[str] = []
    sandbox = clients_sandbox(
        tmp_path, lines, handler=PLAIN, api=api, aws=aws, init_type="snap-start", snapshots=True
    )
    with sandbox:
        copies = _restored_copies(sandbox, lines)
    _assert_each_copy_on_connections_of_its_own(copies, api, aws)
    assert not any("after restore: hooks done" in line for line in lines), "no hook ran"
    retries = [a["sqs_retries"] for answers in copies for a in answers]
    assert all(r <= 1 for r in retries), f"botocore's retries per call: {retries}"
    total = RESTORES * INVOCATIONS
    received = aws.receive_all(total)
    assert received == [f"message {n}" for n in range(total)], (retries, aws.front.requests)
