"""API Gateway REST API events (payload format 1.0; also an HTTP API's 1.0 format)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode

from . import _headers
from ._bodies import encode_body, request_body
from ._responses import single_and_multi
from ._types import HttpRequest, HttpResponse


def request(event: Mapping[str, Any]) -> HttpRequest:
    if event.get("multiValueHeaders"):
        headers = _headers.from_multi(event["multiValueHeaders"])
    else:
        headers = _headers.from_single(event.get("headers"))
    context = event.get("requestContext") or {}
    path = event.get("path") or "/"
    root_path = _root_path(path, context.get("path"))
    scheme = _headers.scheme_of(headers)
    source_ip = (context.get("identity") or {}).get("sourceIp")
    return HttpRequest(
        method=event["httpMethod"],
        path=unquote(root_path + path),
        raw_path=(root_path + path).encode(),
        root_path=unquote(root_path),
        query_string=_query_string(event),
        headers=headers,
        body=request_body(event),
        scheme=scheme,
        server=_headers.server_of(headers, scheme),
        client=(source_ip, 0) if source_ip else None,
    )


def response(
    event: Mapping[str, Any], answer: HttpResponse, text_types: tuple[str, ...]
) -> dict[str, Any]:
    single, multi = single_and_multi(answer)
    body, is_base64 = encode_body(answer.body, answer.header("content-type"), text_types)
    return {
        "statusCode": answer.status,
        "headers": single,
        "multiValueHeaders": multi,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _root_path(path: str, context_path: object) -> str:
    """What the client's path has before the resource path: the stage on the API's own domain
    (``/prod``), a custom domain's base path mapping, or nothing."""
    if not isinstance(context_path, str) or context_path in ("", path):
        return ""
    if path == "/":
        return context_path.rstrip("/")
    if context_path.endswith(path):
        return context_path[: -len(path)]
    return ""


def _query_string(event: Mapping[str, Any]) -> bytes:
    """API Gateway gives the parameters decoded; encoded again, repeats kept in order."""
    params = event.get("multiValueQueryStringParameters") or event.get("queryStringParameters")
    if not params:
        return b""
    return urlencode(params, doseq=True).encode()
