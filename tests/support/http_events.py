"""Lambda events for one HTTP request, as each HTTP source documents them: API Gateway REST API
(payload 1.0), HTTP API (payload 2.0), function URLs, and an ALB target (single- and multi-value
headers). Written from AWS's format descriptions; one ``ClientRequest`` gives every event."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

ACCOUNT = "123456789012"
REGION = "eu-west-1"
API_ID = "a1b2c3d4e5"
URL_ID = "t3stur1ab2c3d4e5f6g7h8i9j0"
ALB_HOST = "web-alb-1234567890.eu-west-1.elb.amazonaws.com"
TARGET_GROUP = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web/6d0ecf831eec9f09"
USER_AGENT = "curl/8.5.0"
REQUEST_TIME = "03/Dec/2026:16:49:17 +0000"
REQUEST_EPOCH_MS = 1796316557000


@dataclass(frozen=True)
class ClientRequest:
    """What a client sent: the same request, whichever source turns it into an event."""

    method: str = "GET"
    path: str = "/"
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[str, ...] = ()
    body: bytes = b""
    #: Whether the source hands the body over base64 (a binary media type for API Gateway REST,
    #: a non-text content type for the ALB; HTTP API and function URLs: anything not text).
    binary: bool = False
    source_ip: str = "203.0.113.7"
    #: Addresses the client itself put in X-Forwarded-For, before the one the source saw.
    forwarded_for: tuple[str, ...] = ()

    def header_values(self, host: str) -> dict[str, list[str]]:
        """Every header as the source forwards it (names as sent), with those it adds."""
        values: dict[str, list[str]] = {}
        for name, value in (("Host", host), ("User-Agent", USER_AGENT), *self.headers):
            values.setdefault(name, []).append(value)
        if self.cookies:
            values["Cookie"] = ["; ".join(self.cookies)]
        if self.body:
            values["Content-Length"] = [str(len(self.body))]
        values["X-Amzn-Trace-Id"] = ["Root=1-6750a1f5-3c0d1e2f4a5b6c7d8e9f0a1b"]
        values["X-Forwarded-For"] = [", ".join((*self.forwarded_for, self.source_ip))]
        values["X-Forwarded-Port"] = ["443"]
        values["X-Forwarded-Proto"] = ["https"]
        return values

    def query_values(self) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for name, value in self.query:
            values.setdefault(name, []).append(value)
        return values

    def body_field(self) -> tuple[str | None, bool]:
        if not self.body:
            return None, False
        if self.binary:
            return base64.b64encode(self.body).decode(), True
        return self.body.decode(), False


def rest_api(request: ClientRequest, stage: str = "prod") -> dict[str, Any]:
    """API Gateway REST API, Lambda proxy integration (payload 1.0) on ``{proxy+}``."""
    host = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    headers = request.header_values(host)
    query = request.query_values()
    body, is_base64 = request.body_field()
    return {
        "resource": "/{proxy+}",
        "path": request.path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in headers.items()},
        "multiValueHeaders": headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": request.path.lstrip("/")} if request.path != "/" else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "x1y2z3",
            "resourcePath": "/{proxy+}",
            "httpMethod": request.method,
            "extendedRequestId": "cJ7xOGr2DoEEHMw=",
            "requestTime": REQUEST_TIME,
            "path": f"/{stage}{request.path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": API_ID,
            "requestTimeEpoch": REQUEST_EPOCH_MS,
            "requestId": str(uuid.uuid4()),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": request.source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": USER_AGENT,
                "user": None,
            },
            "domainName": host,
            "apiId": API_ID,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def http_api(request: ClientRequest, stage: str = "$default") -> dict[str, Any]:
    """API Gateway HTTP API (payload 2.0): lowercase headers, repeats joined with commas,
    cookies apart, the stage in ``rawPath`` unless it is ``$default``."""
    host = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    return _payload_v2(request, host, API_ID, stage, "ANY /{proxy+}", ACCOUNT)


def function_url(request: ClientRequest) -> dict[str, Any]:
    """A Lambda function URL (payload 2.0, stage ``$default``, auth type NONE)."""
    host = f"{URL_ID}.lambda-url.{REGION}.on.aws"
    return _payload_v2(request, host, URL_ID, "$default", "$default", "anonymous")


def _payload_v2(
    request: ClientRequest, host: str, api_id: str, stage: str, route_key: str, account: str
) -> dict[str, Any]:
    headers = {
        name.lower(): ",".join(values)
        for name, values in request.header_values(host).items()
        if name.lower() != "cookie"
    }
    query = request.query_values()
    prefix = "" if stage == "$default" else f"/{stage}"
    raw_path = prefix + quote(request.path)
    body, is_base64 = request.body_field()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": urlencode(request.query, quote_via=quote),
        "headers": headers,
        "requestContext": {
            "accountId": account,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": api_id,
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": USER_AGENT,
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": stage,
            "time": REQUEST_TIME,
            "timeEpoch": REQUEST_EPOCH_MS,
        },
        "isBase64Encoded": is_base64,
    }
    if request.cookies:
        event["cookies"] = list(request.cookies)
    if query:
        event["queryStringParameters"] = {name: ",".join(v) for name, v in query.items()}
    if route_key != "$default" and request.path != "/":
        event["pathParameters"] = {"proxy": request.path.lstrip("/")}
    if body is not None:
        event["body"] = body
    return event


def alb(request: ClientRequest, multi_value: bool = False) -> dict[str, Any]:
    """An ALB target group's event: header names lowercase, the path and query as the client
    encoded them (the ALB does not decode them); one value per name unless the target group has
    multi-value headers on."""
    headers = {name.lower(): values for name, values in request.header_values(ALB_HOST).items()}
    headers["x-forwarded-port"] = ["443"]
    query = {
        quote(name): [quote(value) for value in values]
        for name, values in request.query_values().items()
    }
    body, is_base64 = request.body_field()
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP}},
        "httpMethod": request.method,
        "path": quote(request.path),
        "body": body or "",
        "isBase64Encoded": is_base64,
    }
    if multi_value:
        event["multiValueHeaders"] = headers
        event["multiValueQueryStringParameters"] = query
    else:
        event["headers"] = {name: values[-1] for name, values in headers.items()}
        event["queryStringParameters"] = {name: values[-1] for name, values in query.items()}
    return event


def alb_multi_value(request: ClientRequest) -> dict[str, Any]:
    return alb(request, multi_value=True)


#: Every source, by the name tests print.
SOURCES: dict[str, Callable[[ClientRequest], dict[str, Any]]] = {
    "rest_api": rest_api,
    "http_api": http_api,
    "function_url": function_url,
    "alb": alb,
    "alb_multi_value": alb_multi_value,
}
