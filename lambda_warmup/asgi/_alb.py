"""Application Load Balancer target events, in single-value or multi-value header mode; the
response is given in the mode the event came in (the target group's setting)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from . import _headers
from ._bodies import encode_body, request_body
from ._responses import grouped_headers
from ._types import HttpRequest, HttpResponse


def is_multi_value(event: Mapping[str, Any]) -> bool:
    return "multiValueHeaders" in event


def request(event: Mapping[str, Any]) -> HttpRequest:
    if is_multi_value(event):
        headers = _headers.from_multi(event.get("multiValueHeaders"))
        query = _query_string(event.get("multiValueQueryStringParameters"))
    else:
        headers = _headers.from_single(event.get("headers"))
        query = _query_string(event.get("queryStringParameters"))
    path = event.get("path") or "/"
    scheme = _headers.scheme_of(headers)
    return HttpRequest(
        method=event["httpMethod"],
        path=unquote(path),
        raw_path=path.encode(),
        root_path="",
        query_string=query,
        headers=headers,
        body=request_body(event),
        scheme=scheme,
        server=_headers.server_of(headers, scheme),
        client=_client(_headers.first(headers, b"x-forwarded-for")),
    )


def response(
    event: Mapping[str, Any], answer: HttpResponse, text_types: tuple[str, ...]
) -> dict[str, Any]:
    grouped = grouped_headers(answer)
    body, is_base64 = encode_body(answer.body, answer.header("content-type"), text_types)
    out: dict[str, Any] = {
        "statusCode": answer.status,
        "statusDescription": _status_description(answer.status),
        "body": body,
        "isBase64Encoded": is_base64,
    }
    if is_multi_value(event):
        out["multiValueHeaders"] = grouped
    else:
        out["headers"] = _case_varied(grouped)
    return out


def _query_string(params: object) -> bytes:
    """The ALB passes the parameters as the client encoded them: joined again as they came."""
    if not isinstance(params, Mapping):
        return b""
    parts: list[str] = []
    for name, values in params.items():
        for value in values if isinstance(values, list) else [values]:
            parts.append(f"{name}={value}")
    return "&".join(parts).encode()


def _client(forwarded_for: str | None) -> tuple[str, int] | None:
    """The address the ALB saw: the last of ``X-Forwarded-For`` (those before it are claims the
    client itself sent)."""
    if not forwarded_for:
        return None
    last = forwarded_for.rsplit(",", 1)[-1].strip()
    return (last, 0) if last else None


def _case_varied(grouped: dict[str, list[str]]) -> dict[str, str]:
    """Single-value mode has one value per name: a repeated header (several Set-Cookie) is sent
    under names that differ only in case, which HTTP treats as the same header."""
    headers: dict[str, str] = {}
    for name, values in grouped.items():
        for spelling, value in zip(_spellings(name), values, strict=False):
            headers[spelling] = value
    return headers


def _spellings(name: str) -> Iterator[str]:
    """``name`` in every mix of upper and lower case, lowercase first."""
    choices = [(char.lower(), char.upper()) if char.isalpha() else (char,) for char in name]
    for letters in itertools.product(*choices):
        yield "".join(letters)


def _status_description(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
