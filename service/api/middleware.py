"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs every request, the pitch read included)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import secrets
import time
from array import array
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qsl

from asgi_correlation_id import correlation_id
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.metrics import request_metrics
from service.api.problems import problem_response
from service.errors import (
    BadRequest,
    CueCardError,
    Invalid,
    PayloadTooLarge,
    UnsupportedMediaType,
    field_error,
)
from service.fields import NUL, nul_position
from service.logging import access_logger

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# No request CueCard reads nests deeper than a handful of levels. The JSON parsers recurse
# once per level: 100,000 levels raised RecursionError (a 500) after holding the event loop.
MAX_JSON_DEPTH = 64
# Everything but brackets and quotes, deleted before counting.
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'[]{}"')
# '[' and '{' become +1, ']' and '}' become -1 (as signed bytes).
_BRACKET_STEPS = bytes(1 if byte in b"[{" else 0xFF if byte in b"]}" else 0 for byte in range(256))
# Once escapes are gone a string is a quote, non-quotes, a quote: no nested repetition, linear.
_STRING = re.compile(rb'"[^"]*"')


def _media_type(headers: Headers) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def _accepted_media(path: str) -> tuple[str, ...] | None:
    """Body media types a path accepts; None leaves the decision to the endpoint."""
    if path == "/api/v1/auth/token":
        return ("application/x-www-form-urlencoded",)
    if path.startswith("/scim/"):
        return ("application/scim+json", "application/json")
    if path.startswith("/api/"):
        return ("application/json",)
    return None


def json_depth(body: bytes) -> int:
    """How deeply a JSON document nests arrays and objects, in time linear in its length
    (C-level byte operations; brackets inside strings do not count)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot nest deeper than the limit: 0 stands for "within it"
    # Escaped backslashes first, then escaped quotes: what is left of `"` delimits strings.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = _STRING.sub(b"", unescaped.translate(None, _NOT_STRUCTURE))
    brackets = structure.translate(_BRACKET_STEPS)
    return max(accumulate(array("b", brackets)), default=0)


def nul_in_url(scope: Scope) -> list[dict[str, Any]] | None:
    """Validation errors for a NUL character in the query string or the path, or None.

    PostgreSQL text cannot hold U+0000: one in a parameter failed the query with a 500."""
    errors: list[dict[str, Any]] = []
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                field = name.replace("\x00", "\\0")
                errors.append(
                    field_error(
                        field, "must not contain a NUL character", location="query", type_="string_nul"
                    )
                )
    if "\x00" in scope["path"]:
        # The route (and so the parameter's name) is not known yet: the error names the path.
        detail = "the URL path must not contain a NUL character"
        errors.append(field_error("", detail, location="path", type_="string_nul"))
    return errors or None


# A NUL written as a GraphQL string escape (\u0000 or \u{0}), not itself escaped. Linear: only
# the first backslash of a run can start a match.
_GRAPHQL_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u(?:0000|\{0+\})")


def _graphql_nul(body: bytes) -> list[dict[str, Any]] | None:
    """Validation errors for a NUL in a GraphQL request's variables or string literals.

    GraphQL string arguments reach the services without an input model on some fields
    (`product(key:)`); refusing NUL here covers every one of them, now and later."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: GraphQL answers that itself
    errors: list[dict[str, Any]] = []
    for index, operation in enumerate(payload if isinstance(payload, list) else [payload]):
        if not isinstance(operation, dict):
            continue
        prefix = f"{index}." if isinstance(payload, list) else ""
        document = operation.get("query")
        if isinstance(document, str) and (NUL in document or _GRAPHQL_NUL_ESCAPE.search(document)):
            errors.append(
                field_error(f"{prefix}query", "must not contain a NUL character", type_="string_nul")
            )
        where = nul_position(operation.get("variables"))
        if where is not None:
            field = ".".join(filter(None, (f"{prefix}variables", where)))
            errors.append(field_error(field, "must not contain a NUL character", type_="string_nul"))
    return errors or None


class RequestGuard:
    """Refuses, before any endpoint code runs: a NUL character in the URL (422), oversized
    bodies (413), bodies of the wrong media type (415) and JSON nested deeper than
    MAX_JSON_DEPTH (400). The body is read here once, so a lying or absent Content-Length
    cannot stream past the limit."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_batch_body: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_batch_body = max_batch_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nul = nul_in_url(scope)
        if nul is not None:
            problem: CueCardError = Invalid("The URL contains a NUL character; see `errors`.", errors=nul)
            await self._refuse(problem, scope, receive, send)
            return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = Headers(scope=scope)
        limit = self.max_batch_body if path.endswith("/batch") else self.max_body
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await self._refuse(PayloadTooLarge(f"The body exceeds {limit} bytes."), scope, receive, send)
            return

        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(PayloadTooLarge(f"The body exceeds {limit} bytes."), scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)

        accepted = _accepted_media(path)
        if body and accepted is not None:
            media = _media_type(headers)
            if media not in accepted and not (media.endswith("+json") and "application/json" in accepted):
                problem = UnsupportedMediaType(f"Send the body as {' or '.join(accepted)}.")
                await self._refuse(problem, scope, receive, send)
                return
        media = _media_type(headers)
        json_like = media in ("", "application/json") or media.endswith("+json")
        if body and json_like and json_depth(body) > MAX_JSON_DEPTH:
            problem = BadRequest(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")
            await self._refuse(problem, scope, receive, send)
            return
        if path == "/graphql" and json_like and body:
            nul = _graphql_nul(body)
            if nul is not None:
                problem = Invalid("The GraphQL request contains a NUL character; see `errors`.", errors=nul)
                await self._refuse(problem, scope, receive, send)
                return

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(problem: CueCardError, scope: Scope, receive: Receive, send: Send) -> None:
        # The path decides the format: SCIM clients get a SCIM Error, everyone else a problem.
        await problem_response(problem, scope["path"])(scope, receive, send)


# Pages that run code (Swagger UI, its OAuth2 redirect, GraphiQL) load scripts from this
# service only, plus their inline bootstrap by hash; styles may be inline (both UIs set them).
# Nothing may frame them (clickjacking a page that holds a pasted token).
_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def page_policy(body: bytes) -> str:
    """The Content-Security-Policy of an HTML page of ours: its inline scripts allowed by hash."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(body)
    )
    return _PAGE_POLICY.format(hashes=hashes)


NOSNIFF = (b"x-content-type-options", b"nosniff")


def _valid_request_id(value: bytes) -> bool:
    return 0 < len(value) <= 128 and value.isascii() and value.decode("ascii").isprintable()


class _RequestIds:
    """Request ids made cheaply: a random prefix per process and a counter (unique across
    processes and restarts without 16 random bytes per request; uuid4 cost more than the
    pitch's own work). A forked worker draws a new prefix."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count(1)

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


request_ids = _RequestIds()


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    if route is not None and not template.startswith("/"):
        # A route declared at the root of a router included with a prefix (GraphQL at
        # "/graphql") keeps path "" here; it has no path parameters, so the request path
        # is its template.
        template = scope["path"]
    return template


class Edge:
    """The outermost of our layers, one for four jobs (one wrapped `send`, not four):

    - `X-Request-ID`: the caller's (when valid: ASCII, printable, at most 128 characters) or
      a new one, on every response and in every log line of the request;
    - `X-Content-Type-Options: nosniff` on every response (no body is ever sniffed into HTML
      or script), and a Content-Security-Policy on HTML that does not set its own (the pitch
      card sets a stricter one). Such HTML is buffered to hash its inline scripts: the docs
      pages, small and rare; everything else streams through untouched;
    - Prometheus metrics by route template (service/api/metrics.py);
    - one JSON access-log line per request, built only when INFO is enabled.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value
                break
        if given is not None and _valid_request_id(given):
            request_id = given.decode("ascii")
            raw_id = given
        else:
            request_id = request_ids.new()
            raw_id = request_id.encode()
        correlation_id.set(request_id)
        if kind != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        held: Message | None = None
        chunks: list[bytes] = []

        async def edge_send(message: Message) -> None:
            nonlocal status, held
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), NOSNIFF, (b"x-request-id", raw_id)]
                message = {**message, "headers": headers}
                html = has_policy = False
                for name, value in headers:
                    if name == b"content-type":
                        html = value.startswith(b"text/html")
                    elif name == b"content-security-policy":
                        has_policy = True
                if html and not has_policy:
                    held = message
                    return
                await send(message)
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            policy = (b"content-security-policy", page_policy(body).encode())
            await send({**held, "headers": [*held["headers"], policy]})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        try:
            await self.app(scope, receive, edge_send)
        finally:
            elapsed = time.perf_counter() - start
            template = _route_template(scope)
            method = scope["method"]
            request_metrics.observe(method, template, status, elapsed)
            access_log = access_logger()
            if access_log is not None:
                access_log.request(
                    method, scope["path"], template, status, round(elapsed * 1000, 2), request_id
                )
