"""The README's after-restore recipes for httpx and aiobotocore, on a connection that looks open.

A connection an init opened is dead after a SnapStart restore (hours pass between the snapshot
and the restore). The sandbox cuts it at the checkpoint, so the restored socket reads as closed,
and both clients notice that on their own (``test_sandbox.py``). On Lambda the socket may still
look open, and the client learns that it is dead only when it sends: the peer answers with a
reset. :meth:`KeepAliveServer.forget` plays that peer, and these tests show what each client
does then, with the README's code run as it is written (loaded from README.md):

- **httpx** sends the request on the pooled connection and never retries it: without the recipe
  the first request fails (``httpx.ReadError``). The recipe's hook closes the transport's
  connections after the restore, and the first request opens a new one.
- **aiobotocore**: aiohttp sends the call on the pooled connection, gets the reset, and botocore
  retries the call on a new connection (``RetryAttempts`` 1): no recipe is needed.

Each README block is also the code of the sandbox's function (checked here).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiobotocore.client import AioBaseClient  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]

from lambda_warmup import InitHandle, Settings, Warmup
from tests.support.clients import FUNCTIONS, REGION, KeepAliveServer, MotoSqs
from tests.support.paths import REPO

RECIPES_HEADING = "#### After a restore: recipes"


def _recipe(client: str) -> str:
    """The python block of README.md's recipe for ``client`` (its bold name), dedented."""
    readme = (REPO / "README.md").read_text()
    assert RECIPES_HEADING in readme, f"README.md has no '{RECIPES_HEADING}' subsection"
    section = re.split(r"\n#{2,4} ", readme.split(RECIPES_HEADING, 1)[1], maxsplit=1)[0]
    found = re.search(
        rf"\*\*{re.escape(client)}\*\*.*?```python\n(.*?)\n *```", section, flags=re.DOTALL
    )
    assert found, f"README.md's recipes have no python block for **{client}**"
    return textwrap.dedent(found.group(1))


def _declare(block: str, warmup: Warmup, **names: Any) -> dict[str, Any]:
    """Run a README block as a module would, its ``@warm_init`` bound to ``warmup``."""
    namespace: dict[str, Any] = {"warm_init": warmup.init, "AsyncIterator": AsyncIterator}
    namespace.update(names)
    exec(compile(block, "README.md", "exec"), namespace)
    return namespace


def _restore(warmup: Warmup) -> None:
    """What the library does around a SnapStart snapshot and restore (its runtime hooks)."""
    warmup._before_snapshot()
    warmup._after_restore()


@pytest.mark.parametrize(
    ("client", "source"),
    [("httpx", "warm_clients/recipes.py"), ("aiobotocore", "warm_clients/common.py")],
)
def test_each_readme_recipe_is_the_sandbox_functions_code(client: str, source: str) -> None:
    code = (FUNCTIONS / source).read_text()
    assert _recipe(client) in code, f"README.md's {client} recipe is not the code of {source}"


@pytest.mark.asyncio
async def test_httpx_without_the_recipe_fails_the_first_request_on_a_stale_connection(
    api: KeepAliveServer,
) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=5.0) as client:
        (await client.get("/init")).raise_for_status()
        api.forget()  # the snapshot's connection: open here, unknown to the peer
        with pytest.raises(httpx.TransportError) as failed:
            await client.get("/after")
        (await client.get("/again")).raise_for_status()  # the failed one left the pool
    assert issubclass(failed.type, (httpx.ReadError, httpx.RemoteProtocolError)), failed.type
    (init,) = api.ports("/init")
    assert init in api.closed_ports, "the request was sent on the pooled connection: reset"
    assert api.ports("/after") == [], "and not sent again"
    assert api.ports("/again") != [init], "the next request opened a new connection"


def test_httpx_recipe_closes_the_snapshots_connections_after_a_restore(
    api: KeepAliveServer,
) -> None:
    warmup = Warmup(settings=Settings())
    try:
        declared = _declare(_recipe("httpx"), warmup, httpx=httpx, API_URL=api.url)
        handle: InitHandle[httpx.AsyncClient] = declared["api"]

        @warmup.handler
        async def get(event: dict[str, str], context: Any) -> int:
            client = await handle
            response = await client.get(event["path"])
            response.raise_for_status()
            port: int = response.json()["port"]
            return port

        first = get({"path": "/init"}, None)
        api.forget()
        _restore(warmup)  # the recipe's hook
        after = [get({"path": "/after"}, None) for _ in range(2)]
    finally:
        warmup.close()
    assert api.ports() == [first, *after]
    assert after[0] != first, "the request after the restore opened a new connection"
    assert after[1] == after[0], "which the pool then keeps"
    assert api.wait_closed(first, timeout_s=2.0), "the hook closed the snapshot's connection"


def test_aiobotocore_retries_a_call_whose_pooled_connection_is_stale(
    aws: MotoSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.front.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    warmup = Warmup(settings=Settings())
    try:
        declared = _declare(
            _recipe("aiobotocore"), warmup, get_session=get_session, AioBaseClient=AioBaseClient
        )
        handle: InitHandle[Any] = declared["sqs"]

        @warmup.handler
        async def send(event: dict[str, str], context: Any) -> int:
            client = await handle
            sent = await client.send_message(QueueUrl=aws.queue_url, MessageBody=event["body"])
            retries: int = sent["ResponseMetadata"]["RetryAttempts"]
            return retries

        retries = [send({"body": "before"}, None)]
        aws.front.forget()
        _restore(warmup)  # no hook: nothing runs
        retries += [send({"body": "after"}, None), send({"body": "again"}, None)]
    finally:
        warmup.close()
    assert retries == [0, 1, 0], "one retry, for the call the stale connection failed"
    before, retried, again = aws.front.ports()  # the reset call is not answered, not counted
    assert before in aws.front.closed_ports, "the call after the restore went out on the old one"
    assert retried == again != before, "its retry and the next call: one new connection"
    assert aws.receive_all(3) == ["before", "after", "again"], "each call's message arrived once"
