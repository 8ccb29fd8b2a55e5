"""HTTP around a served model: an optional bearer token, and bad requests answered 4xx, never 500.

ASGI middlewares added to a BentoML service (:func:`protect`), outermost first:

- :class:`BearerAuthMiddleware`: ``Authorization: Bearer <token>`` on the API paths when a token
  is configured (``TWELVE_SERVING_TOKEN``; required in production, see
  :func:`twelve.serving.config.security_of`); probes, metrics and docs stay open;
- :class:`RequestErrorMiddleware`: a body that is not JSON is 415 before BentoML parses it, and
  BentoML's 400 for a pydantic validation error becomes 422 naming each field
  (:func:`map_validation_error`).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from twelve.serving.config import TOKEN_ENV
from twelve.serving.gate import FieldProblem, violation_body


async def _send_json(send, status: int, body: Mapping[str, Any], headers=()) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BearerAuthMiddleware:
    """Refuse API calls without ``Authorization: Bearer <token>`` when a token is configured.

    The token is read from ``$TWELVE_SERVING_TOKEN`` when the middleware is built (in the
    worker); unset or empty means no authentication. Health, metrics and docs stay open (probes
    and scrapers do not carry the token).

    Args:
        app: the ASGI app.
        protected: the API paths (``/predict``...).
        token: the token; default the environment variable.
    """

    def __init__(self, app, protected: Sequence[str], token: str | None = None) -> None:
        self.app = app
        self.protected = set(protected)
        self.token = (token if token is not None else os.environ.get(TOKEN_ENV, "")).strip()

    async def __call__(self, scope, receive, send) -> None:
        """ASGI entry point: a protected path without the token gets 401."""
        if scope["type"] != "http" or not self.token or scope.get("path") not in self.protected:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                given = value
        scheme, _, credential = given.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credential.strip().encode(), self.token.encode()
        ):
            await _send_json(
                send,
                401,
                {"error": "unauthorized: send 'Authorization: Bearer <token>'"},
                headers=[(b"www-authenticate", b'Bearer realm="twelve"')],
            )
            return
        await self.app(scope, receive, send)


def map_validation_error(body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """Status and body for BentoML's answer to a request that failed pydantic validation.

    Unparseable JSON, or JSON that is not an object, is a malformed request (400). Anything else
    is a field that breaks the API's typed contract (a wrong type, a value out of range, a
    missing or unknown field): 422, naming each field (``flights[0].carrier``) and why.

    Args:
        body: BentoML's 400 body (``{"error": ..., "detail": [pydantic errors]}``).

    Returns:
        ``(status, body)``.
    """
    details = body.get("detail") if isinstance(body, Mapping) else None
    if not isinstance(details, list) or not details:
        return 400, {"error": "malformed request", "detail": body}
    malformed = [
        d for d in details if d.get("type") in ("json_invalid", "json_type") or not d.get("loc")
    ]
    if malformed:
        return 400, {
            "error": "malformed JSON: the body must be a JSON object",
            "detail": [d.get("msg", "") for d in malformed],
        }
    problems = []
    for detail in details:
        location = ""
        for part in detail.get("loc", []):
            location += f"[{part}]" if isinstance(part, int) else (f".{part}" if location else part)
        problems.append(
            FieldProblem(location, str(detail.get("type", "invalid")), str(detail.get("msg", "")))
        )
    return 422, violation_body(problems, contract="request schema")


class RequestErrorMiddleware:
    """Bad requests to the API paths get 400 / 415 / 422 with a clear body, never 500.

    - a body that is not JSON (``Content-Type`` other than ``application/json``): 415, before
      BentoML tries to parse it (a multipart body without boundary made it answer 500);
    - BentoML's 400 for a pydantic validation error is rewritten by :func:`map_validation_error`
      (malformed JSON stays 400; field errors become 422 naming the fields).

    Args:
        app: the ASGI app.
        protected: the API paths.
        on_rejection: called with the 422 problems (metrics).
    """

    def __init__(
        self,
        app,
        protected: Sequence[str],
        on_rejection: Callable[[list[dict[str, str]]], None] | None = None,
    ) -> None:
        self.app = app
        self.protected = set(protected)
        self.on_rejection = on_rejection

    async def __call__(self, scope, receive, send) -> None:
        """ASGI entry point: 415 for a body that is not JSON, 422 for a validation error."""
        if scope["type"] != "http" or scope.get("path") not in self.protected:
            await self.app(scope, receive, send)
            return
        content_type = ""
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-type":
                content_type = value.decode("latin-1").split(";")[0].strip().lower()
        if scope.get("method") == "POST" and content_type not in ("", "application/json"):
            await _send_json(
                send,
                415,
                {"error": f"unsupported content type {content_type!r}: send application/json"},
            )
            return
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] != 400:
                    await send(message)
                    return
                started.update(message)
                return
            if message["type"] == "http.response.body" and started:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                try:
                    original = json.loads(b"".join(chunks) or b"{}")
                except ValueError:
                    original = {"error": b"".join(chunks).decode("utf-8", "replace")}
                status, body = map_validation_error(original)
                if status == 422 and self.on_rejection is not None:
                    self.on_rejection(body["problems"])
                await _send_json(send, status, body)
                return
            await send(message)

        await self.app(scope, receive, capture)


def silence_client_error_tracebacks() -> None:
    """Stop BentoML logging a full traceback at ERROR for every refused request (4xx noise).

    BentoML's ``log_exception`` logs every exception raised while handling a request; requests
    refused for bad input are answered 400/422 and counted in the metrics, so their tracebacks
    are only noise. Real server errors keep theirs.
    """

    class _ClientErrors(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            info = record.exc_info
            error = info[1] if info else None
            # pydantic's ValidationError: the request was refused with a 400/422 body.
            return not (
                error is not None
                and type(error).__name__ == "ValidationError"
                and type(error).__module__.startswith("pydantic")
            )

    logger = logging.getLogger("bentoml._internal.server.http_app")
    if not any(type(f).__name__ == "_ClientErrors" for f in logger.filters):
        logger.addFilter(_ClientErrors())


def protect(service: Any, api_paths: Sequence[str]) -> None:
    """Add both middlewares to a BentoML service class (the token is checked first).

    Args:
        service: the ``@bentoml.service`` class.
        api_paths: its API paths (``/predict``...): probes, metrics and docs stay open.
    """
    from twelve.serving.metrics import count_rejections

    service.add_asgi_middleware(BearerAuthMiddleware, protected=tuple(api_paths))
    service.add_asgi_middleware(
        RequestErrorMiddleware, protected=tuple(api_paths), on_rejection=count_rejections
    )
