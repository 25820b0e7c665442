"""Online enrichers (DNS, RDAP): slow and fallible, so each runs behind a timeout and a circuit breaker.

Off by default (``SCAMSHARE_ONLINE_ENRICHERS='["dns", "rdap"]'`` turns them on). A lookup that times out or
fails yields nothing and counts against the breaker; after ``failure_threshold`` failures in a row the breaker
opens and lookups are skipped for ``reset_after_s``, then one trial call decides whether it closes again. The
pipeline never waits on a dead service for longer than one timeout per batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pipeline.canon import Canonical

logger = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half-open"]


@dataclass
class CircuitBreaker:
    """Closed → (threshold failures) → open → (reset_after_s) → half-open → one success closes it."""

    failure_threshold: int = 5
    reset_after_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.reset_after_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()


class OnlineEnricher(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> frozenset[str]: ...

    async def lookup(self, c: Canonical) -> Mapping[str, Any]: ...


@dataclass
class Guarded:
    """An online enricher behind a timeout and a circuit breaker; never raises."""

    enricher: OnlineEnricher
    timeout_s: float = 2.0
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)

    async def __call__(self, c: Canonical) -> Mapping[str, Any]:
        if c.kind not in self.enricher.kinds or not self.breaker.allow():
            return {}
        try:
            result = await asyncio.wait_for(self.enricher.lookup(c), self.timeout_s)
        except (TimeoutError, OSError, ValueError, TypeError) as exc:
            self.breaker.failure()
            logger.info(
                "online enricher %s failed (%r); breaker %s", self.enricher.name, exc, self.breaker.state
            )
            return {}
        self.breaker.success()
        return result


def _host(c: Canonical) -> str:
    return c.facts.get("host") or c.facts.get("domain") or (c.value if c.kind == "domain" else "")


@dataclass(frozen=True)
class DnsEnricher:
    """Does the host resolve (A/AAAA), and to what."""

    name: str = "dns"
    kinds: frozenset[str] = frozenset({"domain", "url", "email"})

    async def lookup(self, c: Canonical) -> Mapping[str, Any]:
        host = _host(c)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None)
        except OSError as exc:
            if "not known" in str(exc) or "No address" in str(exc):
                return {"dns_resolves": False}
            raise
        return {"dns_resolves": True, "dns_addresses": sorted({str(i[4][0]) for i in infos})[:8]}


@dataclass(frozen=True)
class RdapEnricher:
    """Domain registration date from an RDAP service (``base_url`` + ``domain/<name>``)."""

    base_url: str = "https://rdap.org/"
    name: str = "rdap"
    kinds: frozenset[str] = frozenset({"domain", "url", "email"})

    async def lookup(self, c: Canonical) -> Mapping[str, Any]:
        registrable = c.facts.get("registrable_domain") or _host(c)
        url = f"{self.base_url.rstrip('/')}/domain/{registrable}"
        doc = await asyncio.get_running_loop().run_in_executor(None, _get_json, url)
        events = {
            e.get("eventAction"): e.get("eventDate") for e in doc.get("events", []) if isinstance(e, dict)
        }
        return {"rdap_registered": events["registration"]} if events.get("registration") else {}


def _get_json(url: str) -> dict[str, Any]:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, headers={"Accept": "application/rdap+json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 — scheme checked above
        doc = json.loads(response.read())
    if not isinstance(doc, dict):
        raise TypeError("RDAP answer is not a JSON object")
    return doc


def build_online(names: list[str], timeout_s: float, rdap_url: str) -> list[Guarded]:
    """Guarded online enrichers by name (``dns``, ``rdap``)."""
    known: dict[str, OnlineEnricher] = {"dns": DnsEnricher(), "rdap": RdapEnricher(rdap_url)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown online enricher(s) {unknown}; known: {sorted(known)}")
    return [Guarded(known[n], timeout_s) for n in names]
