"""What a client receives from each HTTP source for a Lambda response: status, headers (by
lowercase name, every value), cookies (Set-Cookie values) and body bytes."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClientView:
    status: int
    headers: dict[str, list[str]]
    cookies: list[str]
    body: bytes


def client_view(source: str, response: dict[str, Any]) -> ClientView:
    """The response as ``source`` hands it to the client (``source``: a key of SOURCES)."""
    if source == "rest_api":
        headers = _grouped(response.get("headers"))
        # API Gateway merges both maps; a name in multiValueHeaders takes its values from there.
        headers.update(_grouped_multi(response.get("multiValueHeaders")))
        cookies = headers.pop("set-cookie", [])
    elif source in ("http_api", "function_url"):
        headers = _grouped(response.get("headers"))
        cookies = [*headers.pop("set-cookie", []), *response.get("cookies", [])]
    elif source == "alb_multi_value":
        assert "headers" not in response, "multi-value mode answers in multiValueHeaders"
        headers = _grouped_multi(response.get("multiValueHeaders"))
        cookies = headers.pop("set-cookie", [])
    elif source == "alb":
        assert "multiValueHeaders" not in response, "single-value mode answers in headers"
        headers = _grouped(response.get("headers"))
        cookies = headers.pop("set-cookie", [])
    else:
        raise ValueError(f"unknown source {source!r}")
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    return ClientView(response["statusCode"], headers, cookies, raw)


def _grouped(headers: dict[str, str] | None) -> dict[str, list[str]]:
    """One value per name; names that differ only in case are the same header."""
    grouped: dict[str, list[str]] = {}
    for name, value in (headers or {}).items():
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


def _grouped_multi(headers: dict[str, list[str]] | None) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, values in (headers or {}).items():
        grouped.setdefault(name.lower(), []).extend(values)
    return grouped
