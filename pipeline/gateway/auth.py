"""Who is calling: the organisation of the request's credential, never of its body.

A request authenticates with an API key (``Authorization: Bearer ssk_…`` or ``X-API-Key: ssk_…``), checked
against the key store on every request, so a revoked key fails on the very next one. Where the gateway sits
behind a TLS proxy that verifies client certificates (``gateway_client_cert_header``), a request without a
key may instead present the subject the proxy verified; its CN is matched to an organisation's registered
``cert_cn``. Then the caller's per-key rate limit is applied (429 with ``Retry-After`` and ``RateLimit-*``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request

from pipeline.state.org import Organisation

from .problems import Problem
from .services import Services

#: ingress-nginx sets this to SUCCESS when it verified the client certificate.
VERIFY_HEADER: Final = "ssl-client-verify"
_CN_RE: Final = re.compile(r"(?:^|[,/])\s*CN\s*=\s*([^,/]+)")


@dataclass(frozen=True, slots=True)
class Caller:
    org: Organisation
    #: the API key id, or ``cert:<CN>`` for a client certificate
    credential: str


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, kind="unauthorized", headers={"WWW-Authenticate": "Bearer"})


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("the Authorization header must be 'Bearer <API key>'")
        return value.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key is not None else None


def subject_cn(subject: str) -> str | None:
    """The CN of a subject DN in RFC 4514 (``CN=bank-sg,O=Bank``) or OpenSSL (``/O=Bank/CN=bank-sg``) form."""
    found = _CN_RE.findall(subject)
    return found[-1].strip() if found else None


async def _organisation(svc: Services, request: Request) -> tuple[Organisation, str]:
    orgs = await svc.registry.current()
    token = _token(request)
    if token is not None:
        key = await svc.keys.verify(token)
        if key is None:
            raise _unauthorized("the API key is not valid (unknown, malformed or revoked)")
        org = orgs.get(key.org)
        if org is None:
            raise _unauthorized("the API key's organisation is no longer registered")
        return org, key.key_id
    header = svc.settings.gateway_client_cert_header
    if header is not None and request.headers.get(VERIFY_HEADER) == "SUCCESS":
        cn = subject_cn(request.headers.get(header, ""))
        matches = [o for o in orgs.values() if cn is not None and o.cert_cn == cn]
        if len(matches) == 1:
            return matches[0], f"cert:{cn}"
        raise _unauthorized("the client certificate belongs to no registered organisation")
    raise _unauthorized("an API key is required (Authorization: Bearer <key>)")


async def caller(request: Request) -> Caller:
    """The FastAPI dependency every authenticated route takes."""
    svc = services(request)
    org, credential = await _organisation(svc, request)
    s = svc.settings
    verdict = await svc.limiter.hit(credential, s.gateway_rate_limit, s.gateway_rate_window_s, svc.now_ms())
    headers = {
        "RateLimit-Limit": str(verdict.limit),
        "RateLimit-Remaining": str(verdict.remaining),
        "RateLimit-Reset": str(verdict.reset_s),
    }
    request.state.rate_headers = headers
    if not verdict.allowed:
        request.app.state.metrics.rate_limited.inc()
        raise Problem(
            429, "Too many requests",
            f"this key may make {verdict.limit} requests per {s.gateway_rate_window_s} s; "
            f"retry in {verdict.retry_after_s} s",
            kind="rate-limited", headers={**headers, "Retry-After": str(verdict.retry_after_s)},
        )  # fmt: skip
    request.state.org = org.id
    return Caller(org, credential)


CallerDep = Annotated[Caller, Depends(caller)]
