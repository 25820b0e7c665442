"""TAXII 2.1 (``/taxii2/``): each subscription's feed as a read-only collection, and ``submissions``.

A caller sees one collection per subscription its organisation owns (``can_read``; the feed fan-out
materialised, TLP-filtered, :mod:`pipeline.subscribers.taxii_channel`) and one write-only ``submissions``
collection. Any other collection id is a 404, whether or not it exists: a caller cannot tell.

Paging never loses or repeats an object. ``date_added`` is unique and strictly increasing per collection
(microseconds, assigned in Redis by the same script that stores the object), so ``added_after`` is an exact
cursor. ``next`` is that cursor encoded (``n1.<microseconds>``): stateless, valid on any gateway process
and after restarts, and the pages it gives are the pages a poller gets with
``added_after = X-TAXII-Date-Added-Last``. A new version of an object (a revocation, a withdrawal) moves it
to the tail; only the latest version is kept (``versions`` says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from pipeline.state.collections import Entry, Page
from pipeline.state.subscription import Subscription

from .auth import CallerDep, services
from .problems import TAXII_JSON, Problem
from .services import Services
from .taxii_common import (
    API_ROOT,
    check_accept,
    check_root,
    decode_next,
    describe_feed,
    describe_submissions,
    encode_next,
    feeds_of,
    not_found,
    parse_stamp,
    stamp,
    submissions_id,
    taxii_response,
)

router = APIRouter(prefix="/taxii2", tags=["taxii"])


async def _readable(svc: Services, caller_org: str, api_root: str, cid: str) -> Subscription:
    check_root(api_root)
    feeds = await feeds_of(svc, caller_org)
    if cid in feeds:
        return feeds[cid]
    if cid == submissions_id(caller_org):
        raise Problem(
            403, "Forbidden", "the submissions collection can be written, not read", kind="write-only"
        )
    raise not_found()


# -- discovery, API root, collections -------------------------------------------------------------
@router.get("/", summary="TAXII discovery")
async def discovery(request: Request, who: CallerDep) -> Response:
    check_accept(request)
    public = services(request).settings.gateway_public_url
    if public:
        root = f"{public.rstrip('/')}/taxii2/{API_ROOT}/"
    else:  # as the client reached this process (behind a TLS proxy, set gateway_public_url)
        root = str(request.url_for("api_root", api_root=API_ROOT))
    return taxii_response({
        "title": "scamshare", "description": "Scam indicators shared by organisations, per subscription.",
        "default": root, "api_roots": [root],
    })  # fmt: skip


@router.get("/{api_root}/", name="api_root", summary="API root")
async def api_root(request: Request, api_root: str, who: CallerDep) -> Response:
    check_accept(request)
    check_root(api_root)
    svc = services(request)
    return taxii_response({
        "title": "scamshare feeds", "versions": [TAXII_JSON],
        "max_content_length": svc.settings.gateway_max_body_bytes,
    })  # fmt: skip


@router.get("/{api_root}/collections/", summary="The caller's collections")
async def collections(request: Request, api_root: str, who: CallerDep) -> Response:
    check_accept(request)
    check_root(api_root)
    feeds = await feeds_of(services(request), who.org.id)
    listed = [describe_feed(s) for s in sorted(feeds.values(), key=lambda s: s.id)]
    if "producer" in who.org.roles:
        listed.append(describe_submissions(who.org.id))
    return taxii_response({"collections": listed})


@router.get("/{api_root}/collections/{collection_id}/", summary="One collection")
async def collection(request: Request, api_root: str, collection_id: str, who: CallerDep) -> Response:
    check_accept(request)
    check_root(api_root)
    feeds = await feeds_of(services(request), who.org.id)
    if collection_id in feeds:
        return taxii_response(describe_feed(feeds[collection_id]))
    if collection_id == submissions_id(who.org.id) and "producer" in who.org.roles:
        return taxii_response(describe_submissions(who.org.id))
    raise not_found()


# -- objects and manifests ------------------------------------------------------------------------
def _set(values: list[str] | None) -> frozenset[str] | None:
    if not values:
        return None
    return frozenset(v.strip() for value in values for v in value.split(",") if v.strip())


@dataclass(frozen=True, slots=True)
class Filters:
    """The query parameters of objects and manifest requests."""

    added_after: str | None
    limit: int | None
    next: str | None
    match_id: list[str] | None
    match_type: list[str] | None
    match_version: list[str] | None
    match_spec_version: list[str] | None


def filters(
    added_after: Annotated[str | None, Query(description="Only objects added after this time")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Most objects (capped by the server)")] = None,
    next: Annotated[str | None, Query(description="The cursor of the previous page")] = None,  # noqa: A002
    match_id: Annotated[list[str] | None, Query(alias="match[id]")] = None,
    match_type: Annotated[list[str] | None, Query(alias="match[type]")] = None,
    match_version: Annotated[list[str] | None, Query(alias="match[version]")] = None,
    match_spec_version: Annotated[list[str] | None, Query(alias="match[spec_version]")] = None,
) -> Filters:
    return Filters(added_after, limit, next, match_id, match_type, match_version, match_spec_version)


FiltersDep = Annotated[Filters, Depends(filters)]


async def _page(
    request: Request, svc: Services, sub: Subscription, f: Filters
) -> tuple[Page, int | None, dict[str, str]]:
    """The page, the cursor its ``next`` encodes (the last entry read, before any ``match[version]``
    filtering, so a page that filter emptied still moves on), and its X-TAXII headers."""
    check_accept(request)
    after = decode_next(f.next) if f.next else None
    if f.added_after:
        since = parse_stamp(f.added_after)
        after = since if after is None else max(after, since)
    cap = svc.settings.gateway_page_limit
    size = cap if f.limit is None else max(1, min(f.limit, cap))
    page = await svc.collections.page(
        sub.id, after_us=after, limit=size, types=_set(f.match_type), ids=_set(f.match_id),
        spec_versions=_set(f.match_spec_version),
    )  # fmt: skip
    cursor = page.entries[-1].date_added_us if page.entries else None
    versions = _set(f.match_version)
    if versions and not versions & {"last", "first", "all"}:
        page = Page([e for e in page.entries if e.version in versions], page.more)
    headers: dict[str, str] = {}
    if page.entries:
        headers["X-TAXII-Date-Added-First"] = stamp(page.entries[0].date_added_us)
        headers["X-TAXII-Date-Added-Last"] = stamp(page.entries[-1].date_added_us)
    return page, cursor, headers


def _head(page: Page, cursor: int | None) -> dict[str, Any]:
    """``more``, and ``next`` when there is more (both envelope and manifest)."""
    head: dict[str, Any] = {"more": page.more}
    if page.more and cursor is not None:
        head["next"] = encode_next(cursor)
    return head


def _envelope(page: Page, *, cursor: int | None) -> bytes:
    head = _head(page, cursor)
    # The objects are served as stored, bytes joined, never parsed again.
    prefix = orjson.dumps(head)[:-1]
    return prefix + b',"objects":[' + b",".join(e.raw for e in page.entries) + b"]}"


@router.get("/{api_root}/collections/{collection_id}/objects/", summary="Objects of a collection")
async def get_objects(
    request: Request, api_root: str, collection_id: str, who: CallerDep, f: FiltersDep
) -> Response:
    svc = services(request)
    sub = await _readable(svc, who.org.id, api_root, collection_id)
    page, cursor, headers = await _page(request, svc, sub, f)
    return Response(_envelope(page, cursor=cursor), media_type=TAXII_JSON, headers=headers)


def _manifest_record(e: Entry) -> dict[str, Any]:
    return {"id": e.id, "date_added": stamp(e.date_added_us), "version": e.version or stamp(e.date_added_us),
            "media_type": e.media_type}  # fmt: skip


@router.get("/{api_root}/collections/{collection_id}/manifest/", summary="Manifest of a collection")
async def get_manifest(
    request: Request, api_root: str, collection_id: str, who: CallerDep, f: FiltersDep
) -> Response:
    svc = services(request)
    sub = await _readable(svc, who.org.id, api_root, collection_id)
    page, cursor, headers = await _page(request, svc, sub, f)
    body = _head(page, cursor)
    body["objects"] = [_manifest_record(e) for e in page.entries]
    return taxii_response(body, headers=headers)


@router.get("/{api_root}/collections/{collection_id}/objects/{object_id}/", summary="One object")
async def get_object(
    request: Request, api_root: str, collection_id: str, object_id: str, who: CallerDep, f: FiltersDep
) -> Response:
    check_accept(request)
    svc = services(request)
    sub = await _readable(svc, who.org.id, api_root, collection_id)
    entry = await svc.collections.get(sub.id, object_id)
    if entry is None:
        raise not_found("object")
    entries = [entry]
    if f.added_after and entry.date_added_us <= parse_stamp(f.added_after):
        entries = []
    versions = _set(f.match_version)
    if versions and not versions & {"last", "first", "all"}:
        entries = [e for e in entries if e.version in versions]
    spec = _set(f.match_spec_version)
    if spec and entry.spec_version not in spec:
        entries = []
    headers = {}
    if entries:
        headers["X-TAXII-Date-Added-First"] = headers["X-TAXII-Date-Added-Last"] = stamp(entry.date_added_us)
    return Response(_envelope(Page(entries, False), cursor=None), media_type=TAXII_JSON, headers=headers)


@router.get("/{api_root}/collections/{collection_id}/objects/{object_id}/versions/", summary="Versions")
async def get_versions(
    request: Request, api_root: str, collection_id: str, object_id: str, who: CallerDep
) -> Response:
    """Only the latest version of each object is kept: this lists that one."""
    check_accept(request)
    svc = services(request)
    sub = await _readable(svc, who.org.id, api_root, collection_id)
    entry = await svc.collections.get(sub.id, object_id)
    if entry is None:
        raise not_found("object")
    version = entry.version or stamp(entry.date_added_us)
    stamp_ = stamp(entry.date_added_us)
    headers = {"X-TAXII-Date-Added-First": stamp_, "X-TAXII-Date-Added-Last": stamp_}
    return taxii_response({"more": False, "versions": [version]}, headers=headers)
