"""The gateway's ASGI app: ``create_gateway(settings)`` → a FastAPI app with its OpenAPI at ``/openapi.json``.

``/healthz`` (the process serves), ``/readyz`` (Redis answers, and the broker when one is configured) and
``/metrics`` (Prometheus) need no credential; every other route takes the caller from its API key
(:mod:`pipeline.gateway.auth`). Bodies larger than ``gateway_max_body_bytes`` are refused with 413 before
they are read whole.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.config import Settings

from . import lookup, problems, submissions, taxii, taxii_write
from .metrics import GatewayMetrics, MetricsMiddleware
from .problems import Problem, render
from .services import Services, build_services

logger = logging.getLogger(__name__)


class BodyLimit:
    """Refuse a body over ``limit`` bytes: by Content-Length at once, or as soon as the stream passes it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = Problem(413, "Content too large", f"bodies are limited to {self.limit} bytes",
                            kind="too-large")  # fmt: skip
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await render(Request(scope), too_large)(scope, receive, send)
                return
        seen = [0]

        async def limited() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > self.limit:
                    raise too_large
            return message

        await self.app(scope, limited, send)


class RateHeaders:
    """Add the caller's ``RateLimit-*`` headers (set by :func:`pipeline.gateway.auth.caller`) to any answer.

    A plain ASGI middleware, not ``@app.middleware("http")``: that one runs the app in a task group, so a
    :class:`Problem` raised while the body streams in (:class:`BodyLimit`) would escape the error handlers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = scope.get("state", {}).get("rate_headers", {})
                if extra:
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    added = [
                        (k.lower().encode(), v.encode())
                        for k, v in extra.items()
                        if k.lower().encode() not in present
                    ]
                    message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_gateway(settings: Settings, *, services: Services | None = None) -> FastAPI:
    """The gateway for ``settings``; ``services`` replaces the Redis/Kafka ones (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services if services is not None else build_services(settings)
        app.state.services = svc
        try:
            yield
        finally:
            if services is None:
                await svc.close()

    app = FastAPI(
        title="scamshare gateway",
        version="1",
        description="TAXII 2.1 feeds, real-time lookups and submissions for the organisations of a scam "
        "indicator exchange. Authenticate with `Authorization: Bearer <API key>`.",
        lifespan=lifespan,
    )
    metrics = GatewayMetrics()
    app.state.metrics = metrics
    if services is not None:
        app.state.services = services
    problems.install(app)

    app.add_middleware(RateHeaders)
    app.add_middleware(BodyLimit, limit=settings.gateway_max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/healthz", tags=["operations"], summary="The process serves")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Redis and the broker answer",
             responses={503: {"description": "not ready"}})  # fmt: skip
    async def readyz(request: Request) -> Response:
        svc: Services = request.app.state.services
        checks: dict[str, str] = {}
        try:
            await svc.store.stats()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
            checks["redis"] = f"error: {type(exc).__name__}"
        if svc.sender is not None:
            checks["kafka"] = "ok" if await svc.sender.ready() else "error: no metadata"
        ready = all(v == "ok" for v in checks.values())
        body = orjson.dumps({"status": "ready" if ready else "not ready", "checks": checks})
        return Response(body, status_code=200 if ready else 503, media_type="application/json")

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    app.include_router(taxii.router)
    app.include_router(taxii_write.router)
    app.include_router(lookup.router)
    app.include_router(submissions.router)
    return app


def from_environment() -> FastAPI:
    """The app factory of ``scamshare gateway --workers N``: settings from ``SCAMSHARE_*`` variables."""
    return create_gateway(Settings())
