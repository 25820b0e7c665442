from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from pipeline.canon import Canonical
from pipeline.worker.online import CircuitBreaker, Guarded, RdapEnricher, build_online

from .factories import canonical


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_breaker_opens_after_threshold_and_half_opens_after_reset() -> None:
    clock = FakeClock()
    b = CircuitBreaker(failure_threshold=3, reset_after_s=10, clock=clock)
    for _ in range(2):
        b.failure()
    assert b.state == "closed" and b.allow()
    b.failure()
    assert b.state == "open" and not b.allow()
    clock.t = 10
    assert b.state == "half-open" and b.allow()
    b.failure()  # the trial call failed: open again for another period
    assert b.state == "open"
    clock.t = 20
    b.success()
    assert b.state == "closed" and b.failures == 0


class Slow:
    name = "slow"
    kinds = frozenset({"domain"})

    def __init__(self) -> None:
        self.calls = 0

    async def lookup(self, c: Canonical) -> Mapping[str, Any]:
        self.calls += 1
        await asyncio.sleep(10)
        return {"never": True}


async def test_a_slow_service_times_out_then_is_skipped_while_the_breaker_is_open() -> None:
    slow = Slow()
    guarded = Guarded(slow, timeout_s=0.01, breaker=CircuitBreaker(failure_threshold=2, clock=FakeClock()))
    c = canonical("domain", "example.com")
    assert [await guarded(c) for _ in range(4)] == [{}, {}, {}, {}]
    assert slow.calls == 2  # two timeouts opened the breaker; the other two were skipped at once
    assert await guarded(canonical("phone", "+66812345678")) == {}  # kinds it does not handle


@pytest.fixture
def rdap_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            event = {"eventAction": "registration", "eventDate": "2026-11-01T00:00:00Z"}
            body = json.dumps({"ldhName": self.path.rsplit("/", 1)[-1], "events": [event]})
            self.send_response(200)
            self.send_header("Content-Type", "application/rdap+json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


async def test_rdap_enricher_reads_the_registration_date(rdap_server: str) -> None:
    guarded = Guarded(RdapEnricher(rdap_server), timeout_s=5)
    assert await guarded(canonical("url", "https://login.kbank-verify23.com/x")) == {
        "rdap_registered": "2026-11-01T00:00:00Z"
    }


def test_unknown_online_enrichers_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown online enricher"):
        build_online(["whois"], 1.0, "https://rdap.org/")
