"""What the app sees of each event in its ASGI scope, and bodies both ways (a bare ASGI app
that records its scope and answers with what it was told to)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from lambda_warmup import SettingsError, Warmup
from lambda_warmup.asgi import DEFAULT_TEXT_MEDIA_TYPES, warm_asgi
from tests.support.http_events import (
    ALB_HOST,
    API_ID,
    REGION,
    URL_ID,
    ClientRequest,
    alb,
    function_url,
    http_api,
    rest_api,
)
from tests.support.library import FakeContext, bounded

API_HOST = f"{API_ID}.execute-api.{REGION}.amazonaws.com"


class Recorder:
    """A bare ASGI app without lifespan support: it records each scope and body, and answers
    with the status, headers and body it is given."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        self.answer: tuple[int, list[tuple[bytes, bytes]], bytes] = (200, [], b"ok")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.scopes.append(dict(scope))
        message = await receive()
        self.bodies.append(message["body"])
        status, headers, body = self.answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def handler(warmup: Warmup, recorder: Recorder) -> Any:
    return warm_asgi(recorder, warmup=warmup)


def call(handler: Any, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    result: dict[str, Any] = bounded(lambda: handler(event, context or FakeContext()))
    return result


QUERY = (("q", "a b"), ("q", "ç"), ("x", "1"))


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            rest_api(ClientRequest(path="/items/42", query=QUERY), stage="prod"),
            {
                "path": "/prod/items/42",
                "root_path": "/prod",
                "server": (API_HOST, 443),
                "query_string": b"q=a+b&q=%C3%A7&x=1",
            },
        ),
        (
            http_api(ClientRequest(path="/items/42", query=QUERY), stage="prod"),
            {
                "path": "/prod/items/42",
                "root_path": "/prod",
                "server": (API_HOST, 443),
                "query_string": b"q=a%20b&q=%C3%A7&x=1",
            },
        ),
        (
            http_api(ClientRequest(path="/items/42", query=QUERY)),
            {"path": "/items/42", "root_path": "", "server": (API_HOST, 443)},
        ),
        (
            function_url(ClientRequest(path="/items/42", query=QUERY)),
            {
                "path": "/items/42",
                "root_path": "",
                "server": (f"{URL_ID}.lambda-url.{REGION}.on.aws", 443),
                "query_string": b"q=a%20b&q=%C3%A7&x=1",
            },
        ),
        (
            alb(ClientRequest(path="/items/42", query=QUERY), multi_value=True),
            {
                "path": "/items/42",
                "root_path": "",
                "server": (ALB_HOST, 443),
                "query_string": b"q=a%20b&q=%C3%A7&x=1",
            },
        ),
        (
            alb(ClientRequest(path="/items/42", query=QUERY)),
            {"path": "/items/42", "query_string": b"q=%C3%A7&x=1"},
        ),
    ],
    ids=["rest_api", "http_api_stage", "http_api_default", "function_url", "alb_multi", "alb"],
)
def test_scope_of_each_source(
    handler: Any, recorder: Recorder, event: dict[str, Any], expected: dict[str, Any]
):
    context = FakeContext()
    assert call(handler, event, context)["statusCode"] == 200
    [scope] = recorder.scopes
    assert {key: scope[key] for key in expected} == expected
    assert (scope["method"], scope["scheme"], scope["client"]) == (
        "GET",
        "https",
        ("203.0.113.7", 0),
    )
    assert scope["aws.event"] is event
    assert scope["aws.context"] is context
    assert scope["state"] == {}


def test_encoded_path_is_decoded_and_raw_path_kept(handler: Any, recorder: Recorder):
    call(handler, http_api(ClientRequest(path="/files/a b/ü")))
    [scope] = recorder.scopes
    assert scope["path"] == "/files/a b/ü"
    assert scope["raw_path"] == b"/files/a%20b/%C3%BC"


def test_headers_are_lowercase_and_cookies_one_header(handler: Any, recorder: Recorder):
    event = alb(ClientRequest(path="/", headers=(("X-Tag", "a"), ("X-Tag", "b"))), multi_value=True)
    event["multiValueHeaders"]["cookie"] = ["a=1", "b=2"]
    call(handler, event)
    headers = recorder.scopes[0]["headers"]
    assert [value for name, value in headers if name == b"x-tag"] == [b"a", b"b"]
    assert [value for name, value in headers if name == b"cookie"] == [b"a=1; b=2"]
    assert all(name == name.lower() for name, _ in headers)


def test_http_api_cookies_become_the_cookie_header(handler: Any, recorder: Recorder):
    call(handler, http_api(ClientRequest(path="/", cookies=("a=1", "b=2"))))
    headers = recorder.scopes[0]["headers"]
    assert [value for name, value in headers if name == b"cookie"] == [b"a=1; b=2"]


@pytest.mark.parametrize("build", [rest_api, http_api, function_url, alb])
def test_binary_body_both_ways(handler: Any, recorder: Recorder, build: Any):
    payload = bytes(range(256))
    recorder.answer = (200, [(b"content-type", b"application/octet-stream")], payload[::-1])
    request = ClientRequest("POST", "/upload", body=payload, binary=True)
    result = call(handler, build(request))
    assert recorder.bodies == [payload]
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == payload[::-1]


def test_text_response_is_text_and_binary_unless_configured(warmup: Warmup, recorder: Recorder):
    answer_json = (200, [(b"content-type", b"application/json")], b'{"a": 1}')
    answer_csv = (200, [(b"content-type", b"text/csv; charset=utf-8")], "é,1".encode())
    answer_svg = (200, [(b"content-type", b"image/svg+xml")], b"<svg/>")
    answer_none: tuple[int, list[tuple[bytes, bytes]], bytes] = (200, [], b"\x00\x01")
    default = warm_asgi(recorder, warmup=warmup)
    only_csv = warm_asgi(recorder, warmup=warmup, text_media_types=["text/csv"], name="second")
    results = []
    for answer in (answer_json, answer_csv, answer_svg, answer_none):
        recorder.answer = answer
        results.append(
            (
                call(default, http_api(ClientRequest()))["isBase64Encoded"],
                call(only_csv, http_api(ClientRequest()))["isBase64Encoded"],
            )
        )
    assert results == [(False, True), (False, False), (False, True), (True, True)]
    assert "text/" in DEFAULT_TEXT_MEDIA_TYPES


def test_text_type_that_is_not_utf8_goes_base64(handler: Any, recorder: Recorder):
    recorder.answer = (
        200,
        [(b"content-type", b"text/plain; charset=latin-1")],
        "é".encode("latin-1"),
    )
    result = call(handler, http_api(ClientRequest()))
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == b"\xe9"


@pytest.mark.parametrize(
    ("build", "key"),
    [(rest_api, "multiValueHeaders"), (http_api, "cookies"), (alb, "headers")],
    ids=["rest_api", "http_api", "alb"],
)
def test_several_set_cookie(handler: Any, recorder: Recorder, build: Any, key: str):
    cookies = [b"a=1; Path=/", b"b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT", b"c=3"]
    recorder.answer = (200, [(b"set-cookie", cookie) for cookie in cookies], b"")
    result = call(handler, build(ClientRequest()))
    found = result[key]
    if key == "multiValueHeaders":
        found = found["set-cookie"]
    elif key == "headers":  # single-value ALB: the same name in different cases
        found = [value for name, value in found.items() if name.lower() == "set-cookie"]
    assert found == [cookie.decode() for cookie in cookies]


def test_alb_answers_in_the_mode_of_its_event(handler: Any, recorder: Recorder):
    recorder.answer = (200, [(b"x-a", b"1"), (b"x-a", b"2")], b"")
    multi = call(handler, alb(ClientRequest(), multi_value=True))
    single = call(handler, alb(ClientRequest()))
    assert multi["multiValueHeaders"] == {"x-a": ["1", "2"]}
    assert "headers" not in multi
    assert single["headers"] == {"x-a": "1", "x-A": "2"}
    assert "multiValueHeaders" not in single


@pytest.mark.parametrize(
    ("argument", "match"),
    [
        ({"lifespan": "yes"}, r"lifespan='yes' is not a lifespan mode; use 'auto', 'on' or 'off'"),
        ({"text_media_types": "text/"}, r"text_media_types='text/' is a single string"),
        ({"text_media_types": ["text/", 3]}, r"text_media_types holds 3"),
    ],
)
def test_bad_arguments_are_one_line_errors(warmup: Warmup, argument: dict[str, Any], match: str):
    with pytest.raises(SettingsError, match=match):
        warm_asgi(Recorder(), warmup=warmup, **argument)


def test_json_body_reaches_the_app_as_text(handler: Any, recorder: Recorder):
    body = json.dumps({"name": "Zoë"}).encode()
    call(handler, rest_api(ClientRequest("POST", "/", body=body)))
    assert recorder.bodies == [body]


def test_utf8_response_header_stays_utf8(handler: Any, recorder: Recorder):
    name = 'attachment; filename="résumé.pdf"'
    recorder.answer = (200, [(b"content-disposition", name.encode())], b"")
    assert call(handler, http_api(ClientRequest()))["headers"] == {"content-disposition": name}
