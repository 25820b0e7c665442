"""The real-time lookup API: is this payee, number or link known, and how bad is it — for this caller.

Values are canonicalised with the ingest code (``081-234-5678`` with country TH and ``+66 81 234 5678`` are
one answer), then answered from the indicator state with fan-out's TLP rules for the caller's organisation
(:mod:`pipeline.processors.lookup`): its clearance is the highest of its subscriptions', and it always sees
its own reports. A miss is ``known: false``; an invalid value is an error in its own item, never a failed
request. The same few Redis round trips per request (states, erasure marks), whatever the batch size;
answers are serialised with orjson.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from pipeline.canon import Canonical, canonicalize
from pipeline.processors.lookup import answer, lookup_clearance
from pipeline.producers.records import normalise_kind

from .auth import Caller, CallerDep, services
from .problems import Problem
from .services import Services

router = APIRouter(prefix="/v1", tags=["lookup"])


class LookupItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=64, description="phone, domain, url, wallet, bank, email, social, imei …")
    value: str = Field(max_length=4096)
    country: str | None = Field(default=None, max_length=8, description="ISO alpha-2, for national numbers")


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[LookupItem] = Field(description="Up to gateway_lookup_batch values (1,000 by default).")


def _canonical(item: LookupItem) -> Canonical | dict[str, Any]:
    kind = normalise_kind(item.kind) or item.kind
    c = canonicalize(kind, item.value, country=item.country)
    if isinstance(c, Canonical):
        return c
    return {"kind": item.kind, "value": item.value, "valid": False, "error": c.reason}


async def _answers(svc: Services, who: Caller, items: list[LookupItem]) -> list[dict[str, Any]]:
    canon = [_canonical(i) for i in items]
    ids = list(dict.fromkeys(c.indicator_id for c in canon if isinstance(c, Canonical)))
    states = dict(zip(ids, [s for s, _ in await svc.store.load_states(ids)], strict=True)) if ids else {}
    erased = dict(zip(ids, await svc.store.erased(ids), strict=True)) if ids else {}
    subs = await svc.registry.subscriptions()
    cleared = lookup_clearance(s.tlp for s in subs.values() if s.organisation == who.org.id)
    now_ms = svc.now_ms()
    out: list[dict[str, Any]] = []
    for item, c in zip(items, canon, strict=True):
        if not isinstance(c, Canonical):
            out.append(c)
            continue
        found = answer(
            states[c.indicator_id], c, org=who.org.id, cleared=cleared, model=svc.model, now_ms=now_ms,
            erased=erased[c.indicator_id],
        )  # fmt: skip
        out.append({"value": item.value, "valid": True, **found})
    return out


@router.get("/lookup/{kind}/{value}", summary="Look up one value")
async def lookup_one(
    request: Request,
    who: CallerDep,
    kind: Annotated[str, Path(max_length=64)],
    value: Annotated[str, Path(max_length=4096)],
    country: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """One value's answer (``known: false`` for a miss, ``valid: false`` with the reason for a bad value)."""
    found = await _answers(services(request), who, [LookupItem(kind=kind, value=value, country=country)])
    return Response(orjson.dumps(found[0]), media_type="application/json")


@router.post("/lookup", summary="Look up many values")
async def lookup_many(request: Request, who: CallerDep, body: LookupRequest) -> Response:
    """One answer per item, in order."""
    svc = services(request)
    most = svc.settings.gateway_lookup_batch
    if len(body.items) > most:
        raise Problem(413, "Content too large", f"at most {most} values per lookup, got {len(body.items)}",
                      kind="too-many-values")  # fmt: skip
    results = await _answers(svc, who, body.items)
    return Response(orjson.dumps({"results": results}), media_type="application/json")
