"""What both variants of the function share: where the API and the queue are, the aiobotocore
client (entered in its init, so it is closed at shutdown), the init that reads the queue in INIT
(so a snapshot holds a pooled connection to AWS), and the handler's work.

Environment: ``API_URL`` (the test's keep-alive HTTP server), ``QUEUE_URL`` (an SQS queue in
moto), ``AWS_ENDPOINT_URL`` (where aiobotocore sends every call); the region and the dummy
credentials are the sandbox's, as Lambda sets them.
"""

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
from aiobotocore.client import AioBaseClient  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]

from lambda_warmup import warm_init

API_URL = os.environ["API_URL"]
QUEUE_URL = os.environ["QUEUE_URL"]


@warm_init
async def sqs() -> AsyncIterator[AioBaseClient]:
    async with get_session().create_client("sqs") as client:
        yield client  # no after_restore hook: botocore retries a call whose connection died
    print("teardown: aiobotocore client closed", flush=True)


@warm_init
async def queue() -> dict[str, str]:
    """The queue's attributes, read in INIT (aiobotocore's pool keeps that connection)."""
    client = await sqs
    answer = await client.get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=["All"])
    attributes: dict[str, str] = answer["Attributes"]
    return attributes


async def greet(api: httpx.AsyncClient) -> dict[str, Any]:
    """GET ``/init``: what an init does with the client (its pool keeps that connection)."""
    response = await api.get("/init")
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


async def serve(api: httpx.AsyncClient, event: dict[str, Any]) -> dict[str, Any]:
    """GET ``/request/<n>`` with ``api``, send ``message <n>`` to the queue with aiobotocore."""
    n = event.get("n", 0)
    response = await api.get(f"/request/{n}")
    response.raise_for_status()
    sent = await sqs.value.send_message(QueueUrl=QUEUE_URL, MessageBody=f"message {n}")
    return {
        "http": response.json(),
        "message_id": sent["MessageId"],
        "sqs_retries": sent["ResponseMetadata"]["RetryAttempts"],
        "queue": queue.value["QueueArn"],
    }
