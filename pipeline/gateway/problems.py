"""Errors as data: RFC 9457 problem details, and TAXII 2.1 error objects on the TAXII routes.

Every refusal the gateway makes is a :class:`Problem`; one handler renders it as
``application/problem+json`` or, under ``/taxii2/``, as a TAXII error (``application/taxii+json;version=2.1``)
with the same status. Unexpected exceptions are a 500 problem that says nothing of the internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisClusterException, RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from pipeline.state.redis_errors import redis_unavailable

logger = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"
TAXII_JSON: Final = "application/taxii+json;version=2.1"
TAXII_PREFIX: Final = "/taxii2"
_TYPE_BASE: Final = "https://scamshare.example/problems/"


class Problem(Exception):  # noqa: N818 - RFC 9457 names it so
    """An HTTP error to send as problem details; ``kind`` names the problem type (a stable slug)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def render(request: Request, problem: Problem) -> Response:
    """The problem as the route's error format."""
    if request.url.path.startswith(TAXII_PREFIX):
        body: dict[str, Any] = {"title": problem.title, "http_status": str(problem.status)}
        if problem.detail:
            body["description"] = problem.detail
        body["error_code"] = problem.kind
        media = TAXII_JSON
    else:
        body = {"type": _TYPE_BASE + problem.kind, "title": problem.title, "status": problem.status}
        if problem.detail:
            body["detail"] = problem.detail
        body["instance"] = request.url.path
        body.update(problem.extra)
        media = PROBLEM_JSON
    return Response(orjson.dumps(body), status_code=problem.status, media_type=media, headers=problem.headers)


#: Seconds a client is told to wait (Retry-After) when the state store is unavailable.
STATE_RETRY_AFTER_S: Final = 2

_TITLES: Final = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
    406: "Not acceptable", 413: "Content too large", 415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests", 503: "Service unavailable",
}  # fmt: skip


def install(app: FastAPI) -> None:
    """Route every error through :func:`render`."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return render(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = _TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        headers = dict(exc.headers or {})
        return render(request, Problem(exc.status_code, title, detail, headers=headers))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
            for e in exc.errors()[:50]
        ]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
        return render(request, Problem(422, "Unprocessable content", detail, kind="invalid-request",
                                       extra={"errors": errors}))  # fmt: skip

    async def _redis(request: Request, exc: Exception) -> Response:
        if not redis_unavailable(exc):
            raise exc  # an error of the call: the 500 below
        # Redis away or refusing writes: a 503 the client retries, not a 500 it reports as our bug.
        logger.warning("state store unavailable path=%s: %r", request.url.path, exc)
        detail = "the exchange's state store is unavailable or refusing writes; try again shortly"
        return render(request, Problem(503, "Service unavailable", detail, kind="state-unavailable",
                                       headers={"Retry-After": str(STATE_RETRY_AFTER_S)}))  # fmt: skip

    # Handled where the route runs (not by the catch-all below, which answers and then re-raises).
    app.add_exception_handler(RedisError, _redis)
    app.add_exception_handler(RedisClusterException, _redis)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error path=%s", request.url.path)
        return render(request, Problem(500, "Internal server error", kind="internal"))
