"""Bodies between Lambda's JSON (text, or base64 for binary) and the app's bytes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from ..exceptions import SettingsError

#: Media types answered as text (the rest base64): an entry ending in ``/`` is a prefix
#: (``text/``), one starting with ``+`` a structured-syntax suffix (``+json``), any other the
#: exact type. Mangum's defaults, plus the ``+json`` and ``+xml`` suffixes (problem+json...).
DEFAULT_TEXT_MEDIA_TYPES: tuple[str, ...] = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/vnd.oai.openapi",
    "+json",
    "+xml",
)

_FORMS = "media types such as 'text/' (a prefix), '+json' (a suffix) or 'application/json'"


def text_media_types(given: Iterable[str] | None) -> tuple[str, ...]:
    """The ``text_media_types`` argument checked: lowercase, non-empty strings."""
    if given is None:
        return DEFAULT_TEXT_MEDIA_TYPES
    if isinstance(given, str | bytes):
        raise SettingsError(
            f"warm_asgi: text_media_types={given!r} is a single string; give a list of {_FORMS}"
        )
    types = tuple(given)
    for entry in types:
        if not isinstance(entry, str) or not entry.strip() or entry.strip() in ("/", "+"):
            raise SettingsError(
                f"warm_asgi: text_media_types holds {entry!r}; give a list of {_FORMS}"
            )
    return tuple(entry.strip().lower() for entry in types)


def is_text(content_type: str | None, text_types: tuple[str, ...]) -> bool:
    """Whether a response of this ``Content-Type`` goes back as text."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    for entry in text_types:
        if entry.endswith("/"):
            if media_type.startswith(entry):
                return True
        elif entry.startswith("+"):
            if media_type.endswith(entry):
                return True
        elif media_type == entry:
            return True
    return False


def encode_body(
    body: bytes, content_type: str | None, text_types: tuple[str, ...]
) -> tuple[str, bool]:
    """``(body, isBase64Encoded)`` for the response: text if its type is text and it is UTF-8
    (Lambda's JSON carries text as UTF-8), else base64."""
    if not body:
        return "", False
    if is_text(content_type, text_types):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def request_body(event: Mapping[str, Any]) -> bytes:
    """The request's body bytes: ``body`` as text, or base64 when ``isBase64Encoded``."""
    body = event.get("body")
    if not body:
        return b""
    if not isinstance(body, str):
        raise TypeError(f"the event's body is a {type(body).__name__}, not a string")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise ValueError(
                f"the event's body is marked isBase64Encoded but is not base64: {error}"
            ) from None
    return body.encode("utf-8")
