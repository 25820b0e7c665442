"""What the TAXII 2.1 routes share: collection ids and descriptions, timestamps, the ``next`` cursor, checks.

Collection ids are stable UUIDv5s of the subscription (``taxii-collection:feed:<subscription>``) and of the
caller's organisation (``taxii-collection:submissions:<org>``), so they survive restarts and are the same on
every gateway process. ``next`` is ``n1.<microseconds>``: the date_added of the last object a page returned.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
from fastapi import Request
from starlette.responses import Response

from pipeline.state.subscription import Subscription
from pipeline.stix.ids import SCAMSHARE_NAMESPACE, uuid5

from .problems import TAXII_JSON, Problem
from .services import Services

API_ROOT: Final = "api"
STIX_MEDIA: Final = "application/stix+json;version=2.1"

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NEXT_RE: Final = re.compile(r"^n1\.(\d{1,17})$")


# -- identifiers, times, cursors --------------------------------------------------------------------
def collection_id(subscription_id: str) -> str:
    return uuid5(SCAMSHARE_NAMESPACE, f"taxii-collection:feed:{subscription_id}")


def submissions_id(org: str) -> str:
    return uuid5(SCAMSHARE_NAMESPACE, f"taxii-collection:submissions:{org}")


def stamp(us: int) -> str:
    """A TAXII timestamp with microseconds: ``2026-12-02T09:00:00.123456Z``."""
    return (EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> int:
    """Microseconds since the epoch of an RFC 3339 UTC timestamp; Problem 400 otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise Problem(400, "Bad request", f"added_after {text!r} is not an RFC 3339 timestamp with a zone",
                      kind="bad-timestamp")  # fmt: skip
    return (moment - EPOCH) // timedelta(microseconds=1)


def encode_next(us: int) -> str:
    return f"n1.{us}"


def decode_next(token: str) -> int:
    found = _NEXT_RE.match(token)
    if found is None:
        raise Problem(400, "Bad request", "next is not a cursor this server issued", kind="bad-next")
    return int(found.group(1))


# -- the caller's collections ---------------------------------------------------------------------
def describe_feed(sub: Subscription) -> dict[str, Any]:
    return {
        "id": collection_id(sub.id),
        "title": f"{sub.name} ({sub.id})",
        "description": f"The feed of subscription {sub.id}: what fan-out delivers to it, TLP-filtered.",
        "can_read": True,
        "can_write": False,
        "media_types": [STIX_MEDIA],
    }


def describe_submissions(org: str) -> dict[str, Any]:
    return {
        "id": submissions_id(org),
        "title": "submissions",
        "alias": "submissions",
        "description": f"Reports posted here are published as {org}'s submissions.",
        "can_read": False,
        "can_write": True,
        "media_types": [STIX_MEDIA],
    }


async def feeds_of(svc: Services, org: str) -> dict[str, Subscription]:
    subs = await svc.registry.subscriptions()
    return {collection_id(s.id): s for s in subs.values() if s.organisation == org and s.taxii}


def not_found(what: str = "collection") -> Problem:
    return Problem(404, "Not found", f"no such {what} for this caller", kind="not-found")


def check_root(api_root: str) -> None:
    if api_root != API_ROOT:
        raise not_found("API root")


def check_accept(request: Request) -> None:
    accept = request.headers.get("accept", "*/*").lower()
    wanted = [part.split(";")[0].strip() for part in accept.split(",")]
    ok = {"*/*", "application/*", "application/json", "application/taxii+json"}
    if not any(w in ok for w in wanted):
        raise Problem(406, "Not acceptable", f"this server answers {TAXII_JSON}", kind="not-acceptable")
    if "version=" in accept and "version=2.1" not in accept:
        raise Problem(406, "Not acceptable", "only TAXII 2.1 is served", kind="not-acceptable")


def taxii_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=TAXII_JSON, headers=headers)
