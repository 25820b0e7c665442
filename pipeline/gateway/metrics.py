"""The gateway's Prometheus metrics, declared once, and the ASGI middleware that records them.

Latency histograms per route template (``/taxii2/{api_root}/collections/{collection_id}/objects/``, never
the raw path: a random path must not create a time series), responses by route and status code, and
rate-limit refusals. Each app has its own registry, so several apps in one process (tests) never clash.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: seconds: lookups are meant to take milliseconds, TAXII pages and submissions longer
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.latency = Histogram(
            "scamshare_gateway_request_seconds", "Time to answer a request, by route template and method.",
            ["route", "method"], buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.responses = Counter(
            "scamshare_gateway_responses", "Responses by route template and HTTP status code.",
            ["route", "status"], registry=self.registry,
        )  # fmt: skip
        self.rate_limited = Counter(
            "scamshare_gateway_rate_limited", "Requests refused by a key's rate limit (429).",
            registry=self.registry,
        )  # fmt: skip

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))


class MetricsMiddleware:
    """Times every HTTP request and counts its status, labelled by the route that matched."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route: Any = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            self.metrics.latency.labels(name, scope.get("method", "")).observe(time.perf_counter() - started)
            self.metrics.responses.labels(name, str(status[0])).inc()
