"""HTTP API events (payload format 2.0) and function URL events (the same format)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from . import _headers
from ._bodies import encode_body, request_body
from ._responses import grouped_headers
from ._types import HttpRequest, HttpResponse


def request(event: Mapping[str, Any]) -> HttpRequest:
    context = event["requestContext"]
    http = context["http"]
    headers = _headers.with_cookies(
        _headers.from_single(event.get("headers")), event.get("cookies")
    )
    raw_path = event.get("rawPath") or http.get("path") or "/"
    scheme = _headers.scheme_of(headers)
    source_ip = http.get("sourceIp")
    return HttpRequest(
        method=http["method"],
        path=unquote(raw_path),
        raw_path=raw_path.encode(),
        root_path=_stage_prefix(raw_path, context.get("stage")),
        query_string=(event.get("rawQueryString") or "").encode(),
        headers=headers,
        body=request_body(event),
        scheme=scheme,
        server=_headers.server_of(headers, scheme),
        client=(source_ip, 0) if source_ip else None,
    )


def response(
    event: Mapping[str, Any], answer: HttpResponse, text_types: tuple[str, ...]
) -> dict[str, Any]:
    """Set-Cookie values go in ``cookies``; other repeated headers join with commas (the format
    has one value per name)."""
    grouped = grouped_headers(answer)
    cookies = grouped.pop("set-cookie", [])
    body, is_base64 = encode_body(answer.body, answer.header("content-type"), text_types)
    out: dict[str, Any] = {"statusCode": answer.status, "body": body, "isBase64Encoded": is_base64}
    if grouped:
        out["headers"] = {name: ",".join(values) for name, values in grouped.items()}
    if cookies:
        out["cookies"] = cookies
    return out


def _stage_prefix(raw_path: str, stage: object) -> str:
    """A named stage (not ``$default``) is the first segment of ``rawPath``: the root path."""
    if not isinstance(stage, str) or not stage or stage == "$default":
        return ""
    prefix = f"/{stage}"
    if raw_path == prefix or raw_path.startswith(prefix + "/"):
        return prefix
    return ""
