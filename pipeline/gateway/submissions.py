"""``POST /v1/submissions`` and ``POST /v1/sightings``: the Kafka producers' paths, over HTTP.

Both write to the caller's own topics (``scam.submissions.<org>``, ``scam.sightings.<org>``), so the worker
takes the organisation from the topic exactly as for a Kafka producer; both answer only after the broker
acknowledged every message they accepted (a 503 problem names what was not).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from pipeline.errors import ScamshareError
from pipeline.producers.readers import FORMATS
from pipeline.producers.records import ReadOptions, normalise_kind, parse_country
from pipeline.wire.fields import FieldError
from pipeline.wire.sighting import MAX_COUNT, SIGHTING_KIND_VALUES, build_sighting, sighting_headers

from .auth import CallerDep, services
from .intake import submit
from .problems import Problem

router = APIRouter(prefix="/v1", tags=["submissions"])

#: Content-Type → reader format (None: inferred from the content, as publish does)
MEDIA_FORMATS: Final[dict[str, str | None]] = {
    "text/csv": "csv", "application/csv": "csv",
    "application/x-ndjson": "jsonl", "application/jsonl": "jsonl", "application/jsonlines": "jsonl",
    "application/stix+json": "stix", "application/taxii+json": "stix",
    "text/plain": "list", "application/json": None, "application/octet-stream": None,
}  # fmt: skip


def _options(kind: str | None, country: str | None, include_non_ids: bool) -> ReadOptions:
    normal = None if kind is None else normalise_kind(kind)
    if kind is not None and normal is None:
        raise Problem(422, "Unprocessable content", f"unknown type {kind!r}", kind="bad-option")
    try:
        return ReadOptions(country=parse_country(country), kind=normal, include_non_ids=include_non_ids)
    except FieldError as exc:
        raise Problem(422, "Unprocessable content", str(exc), kind="bad-option") from exc


@router.post(
    "/submissions",
    summary="Submit reports (STIX bundle, CSV, JSON Lines, plain list, MISP)",
    responses={202: {"description": "Read; every record listed as accepted, rejected or skipped"}},
)
async def post_submissions(
    request: Request,
    who: CallerDep,
    format: Annotated[str | None, Query(description=f"one of {', '.join(FORMATS)}")] = None,  # noqa: A002
    type: Annotated[str | None, Query(description="kind of every value of a plain list")] = None,  # noqa: A002
    country: Annotated[str | None, Query(max_length=8)] = None,
    include_non_ids: bool = False,
) -> Response:
    """Read the body like ``scamshare publish`` and publish every good record as the caller's report."""
    media = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if format is not None and format not in FORMATS:
        raise Problem(422, "Unprocessable content", f"format must be one of {', '.join(FORMATS)}",
                      kind="bad-option")  # fmt: skip
    if format is None and media not in MEDIA_FORMATS:
        known = ", ".join(sorted(MEDIA_FORMATS))
        detail = f"send one of {known}, or name ?format="
        raise Problem(415, "Unsupported media type", detail, kind="media-type")
    fmt = format or MEDIA_FORMATS[media]
    if fmt == "list" and type is None:
        fmt = None  # a text body without ?type= may still be CSV; the reader says what it needs
    body = await request.body()
    if not body:
        raise Problem(422, "Unprocessable content", "the body is empty", kind="empty")
    svc = services(request)
    intake = await submit(svc, who.org, body, fmt, _options(type, country, include_non_ids), name="body")
    status = 202 if not intake.failed else 503
    return Response(orjson.dumps(intake.summary()), status_code=status, media_type="application/json")


class SightingItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscriber: str = Field(max_length=64, description="one of the caller's subscriptions")
    indicator_id: str = Field(max_length=64, description="indicator--<uuid>, as delivered")
    kind: str = Field(description=f"one of {', '.join(SIGHTING_KIND_VALUES)}")
    count: int = Field(default=1, ge=1, le=MAX_COUNT)


class SightingsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sightings: list[SightingItem] = Field(max_length=1000)


@router.post("/sightings", status_code=202, summary="Report sightings of delivered indicators")
async def post_sightings(request: Request, who: CallerDep, body: SightingsRequest) -> Response:
    """Each sighting of one of the caller's subscriptions, sent to its organisation's sightings topic."""
    svc = services(request)
    if svc.sender is None:
        raise Problem(503, "Service unavailable", "this gateway has no broker configured", kind="no-broker")
    subs = await svc.registry.subscriptions()
    now = svc.now()
    rejected: list[dict[str, Any]] = []
    ready: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(body.sightings):
        sub = subs.get(item.subscriber)
        if sub is None or sub.organisation != who.org.id:
            rejected.append(
                {"index": index, "reason": f"{item.subscriber!r} is not one of your subscriptions"}
            )
            continue
        try:
            envelope = build_sighting(
                subscriber=item.subscriber, indicator_id=item.indicator_id, kind=item.kind,
                count=item.count, now=now, org=who.org.id,
            )  # fmt: skip
        except ScamshareError as exc:
            rejected.append({"index": index, "reason": str(exc)})
            continue
        ready.append((index, envelope))
    topic = svc.settings.topics.sightings_of(who.org.id)
    errors = await svc.sender.send_all(
        topic,
        [(e["sighting"]["sighting_of_ref"].encode(), orjson.dumps(e), sighting_headers(e, now))
         for _, e in ready],
        timeout_s=svc.settings.gateway_ack_timeout_s,
    )  # fmt: skip
    outcomes = list(zip(ready, errors, strict=True))
    accepted = [{"index": i, "sighting_id": e["sighting_id"]} for (i, e), err in outcomes if err is None]
    failed = [
        {"index": i, "error": err} for (i, _), err in zip(ready, errors, strict=True) if err is not None
    ]
    answer = {"topic": topic, "accepted_total": len(accepted), "accepted": accepted,
              "rejected_total": len(rejected), "rejected": rejected, "failed": failed}  # fmt: skip
    return Response(orjson.dumps(answer), status_code=503 if failed else 202, media_type="application/json")
