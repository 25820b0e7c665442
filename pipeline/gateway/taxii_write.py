"""TAXII 2.1 writes: POST objects to the caller's ``submissions`` collection, and the status resource.

A POSTed envelope is published exactly as ``POST /v1/submissions`` publishes a STIX bundle: validated with
the producer-side rules, enveloped with the caller's organisation (from its credential), written to that
organisation's submissions topic and acknowledged by the broker before the answer. The status resource is
complete at once (nothing is left pending) and kept a week; only its own organisation can read it.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from pipeline.producers.records import DEFAULT_OPTIONS
from pipeline.stix.ids import SCAMSHARE_NAMESPACE, uuid5

from .auth import CallerDep, services
from .intake import submit
from .problems import TAXII_JSON, Problem
from .taxii_common import (
    EPOCH,
    check_accept,
    check_root,
    feeds_of,
    not_found,
    stamp,
    submissions_id,
    taxii_response,
)

STATUS_TTL_S: Final = 7 * 86_400

router = APIRouter(prefix="/taxii2", tags=["taxii"])


# -- writing: the submissions collection ----------------------------------------------------------
_WRITE_MEDIA: Final = ("application/taxii+json", "application/stix+json", "application/json")


@router.post("/{api_root}/collections/{collection_id}/objects/", status_code=202, summary="Add objects")
async def add_objects(request: Request, api_root: str, collection_id: str, who: CallerDep) -> Response:
    check_accept(request)
    check_root(api_root)
    svc = services(request)
    org = who.org.id
    if collection_id != submissions_id(org) or "producer" not in who.org.roles:
        if collection_id in await feeds_of(svc, org):
            raise Problem(403, "Forbidden", "a feed collection is read-only", kind="read-only")
        raise not_found()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _WRITE_MEDIA:
        raise Problem(415, "Unsupported media type", f"post an envelope as {TAXII_JSON}", kind="media-type")
    body = await request.body()
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "Bad request", f"the body is not JSON: {exc}", kind="bad-json") from exc
    objects = envelope.get("objects") if isinstance(envelope, dict) else None
    if not isinstance(objects, list):
        raise Problem(422, "Unprocessable content", "an envelope has an 'objects' list", kind="no-objects")
    requested = svc.now()
    bundle = {"type": "bundle", "id": f"bundle--{uuid5(SCAMSHARE_NAMESPACE, body.hex()[:4096])}",
              "objects": objects}  # fmt: skip
    intake = await submit(svc, who.org, orjson.dumps(bundle), "stix", DEFAULT_OPTIONS, name="envelope")
    status = _status(intake.summary(), objects, requested)
    await svc.store.cache({_status_key(org, status["id"]): status}, STATUS_TTL_S)
    return taxii_response(status, status=202)


def _object_at(objects: list[Any], source: str) -> str:
    found = re.search(r"objects\[(\d+)\]", source)
    if found and int(found.group(1)) < len(objects):
        obj = objects[int(found.group(1))]
        if isinstance(obj, dict) and isinstance(obj.get("id"), str):
            return str(obj["id"])
    return source


def _status(summary: dict[str, Any], objects: list[Any], requested: datetime) -> dict[str, Any]:
    successes = [{"id": _object_at(objects, a["source"]), "message": f"published as {a['indicator_id']}"}
                 for a in summary["accepted"]]  # fmt: skip
    failures = [{"id": _object_at(objects, r["source"]), "message": r["reason"]} for r in summary["rejected"]]
    failures += [{"id": _object_at(objects, f["source"]), "message": f["error"]} for f in summary["failed"]]
    skipped = [{"id": _object_at(objects, s["source"]), "message": f"not carried: {s['reason']}"}
               for s in summary["skipped"]]  # fmt: skip
    return {
        "id": str(uuid.uuid4()),
        "status": "complete",
        "request_timestamp": stamp((requested - EPOCH) // timedelta(microseconds=1)),
        "total_count": len(successes) + len(failures) + len(skipped),
        "success_count": len(successes),
        "successes": successes,
        "failure_count": len(failures) + len(skipped),
        "failures": failures + skipped,
        "pending_count": 0,
    }


def _status_key(org: str, status_id: str) -> str:
    return f"taxii-status:{org}:{status_id}"


@router.get("/{api_root}/status/{status_id}/", summary="Status of a POST")
async def get_status(request: Request, api_root: str, status_id: str, who: CallerDep) -> Response:
    check_accept(request)
    check_root(api_root)
    found = (await services(request).store.cached([_status_key(who.org.id, status_id)]))[0]
    if found is None:
        raise not_found("status")
    return taxii_response(found)
