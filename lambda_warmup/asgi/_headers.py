"""Headers between an event's JSON maps and ASGI's lowercase ``(name, value)`` byte pairs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._types import HeaderList


def from_single(headers: Mapping[str, Any] | None) -> HeaderList:
    """A ``{name: value}`` map (one value per name)."""
    return [_pair(name, value) for name, value in (headers or {}).items() if isinstance(value, str)]


def from_multi(headers: Mapping[str, Any] | None) -> HeaderList:
    """A ``{name: [values]}`` map: a repeated header stays repeated, as an HTTP server gives it,
    except ``Cookie``, whose values join into one header with ``; `` (RFC 9113 8.2.3), since
    frameworks read only the first ``Cookie`` header."""
    pairs: HeaderList = []
    for name, values in (headers or {}).items():
        if not isinstance(values, list):
            continue
        texts = [value for value in values if isinstance(value, str)]
        if name.lower() == "cookie" and texts:
            pairs.append(_pair(name, "; ".join(texts)))
        else:
            pairs.extend(_pair(name, value) for value in texts)
    return pairs


def with_cookies(headers: HeaderList, cookies: Iterable[str] | None) -> HeaderList:
    """HTTP API's ``cookies`` list back into one ``Cookie`` header."""
    texts = [cookie for cookie in cookies or () if isinstance(cookie, str)]
    if not texts:
        return headers
    others = [pair for pair in headers if pair[0] != b"cookie"]
    return [*others, (b"cookie", "; ".join(texts).encode())]


def first(headers: HeaderList, name: bytes) -> str | None:
    return next((value.decode() for key, value in headers if key == name), None)


def scheme_of(headers: HeaderList) -> str:
    """``X-Forwarded-Proto`` (what the client used to reach API Gateway or the ALB), or https."""
    return (first(headers, b"x-forwarded-proto") or "https").strip().lower()


def server_of(headers: HeaderList, scheme: str) -> tuple[str, int] | None:
    """``(host, port)`` from ``Host`` and ``X-Forwarded-Port`` (default: the scheme's port)."""
    host = first(headers, b"host")
    if not host:
        return None
    name, colon, port = host.rpartition(":")
    if colon and name and port.isdigit():
        return name, int(port)
    forwarded = (first(headers, b"x-forwarded-port") or "").strip()
    if forwarded.isdigit():
        return host, int(forwarded)
    return host, 443 if scheme == "https" else 80


def _pair(name: str, value: str) -> tuple[bytes, bytes]:
    return name.lower().encode(), value.encode()
