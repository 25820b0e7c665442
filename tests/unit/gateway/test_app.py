"""The gateway's boundaries, on in-memory stores, through httpx (ASGI transport; no broker, no Redis).

An attacker here holds a key of its own (or none) and tries to be someone else, read what it may not, send
more than it may, or make the server fail. The same behaviours over the wire, with Redis, a broker and a
real worker, are in tests/integration/test_gateway.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from pipeline.config import Settings
from pipeline.gateway.app import create_gateway
from pipeline.gateway.auth import subject_cn
from pipeline.gateway.problems import Problem
from pipeline.gateway.services import Services, score_model
from pipeline.gateway.taxii_common import (
    collection_id,
    decode_next,
    encode_next,
    parse_stamp,
    stamp,
    submissions_id,
)
from pipeline.state.apikeys import MemoryApiKeys
from pipeline.state.collections import MemoryCollections
from pipeline.state.memory_store import MemoryStore
from pipeline.state.org import Organisation, Quotas
from pipeline.state.ratelimit import MemoryRateLimiter
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP
from pipeline.worker.registry import Registry

TAXII = "application/taxii+json;version=2.1"
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@dataclass
class Rig:
    http: httpx.AsyncClient
    svc: Services
    tokens: dict[str, str]

    def as_(self, org: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[org]}"}


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    settings = Settings(
        bootstrap=None, redis_url=None, gateway_rate_limit=20, gateway_max_body_bytes=4096,
        gateway_lookup_batch=10, gateway_client_cert_header="ssl-client-subject-dn",
    )  # fmt: skip
    store = MemoryStore()
    for org, auth in (
        ("bank-a", {}),
        ("telco-b", {}),
        ("plat-c", {"auth": "mtls", "cert_cn": "plat-c.example"}),
    ):
        await store.put_organisation(Organisation(
            id=org, name=org, sector="other", roles=frozenset({"producer", "subscriber"}), quotas=Quotas(),
            **auth,
        ))  # fmt: skip
        await store.put_subscription(Subscription(id=f"{org}-feed", name=f"{org} feed", sector="other",
                                                  organisation=org, tlp=TLP.AMBER))  # fmt: skip
    registry = Registry(store, refresh_s=0)
    keys = MemoryApiKeys()
    svc = Services(
        settings=settings, store=store, keys=keys, limiter=MemoryRateLimiter(),
        collections=MemoryCollections(),
        registry=registry, model=score_model(settings, registry), now=lambda: NOW,
    )  # fmt: skip
    tokens = {org: (await keys.create(org, "unit", 0))[0] for org in ("bank-a", "telco-b", "plat-c")}
    app = create_gateway(settings, services=svc)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        yield Rig(http, svc, tokens)


def _objects(n: int, start: int = 0) -> list[tuple[str, str, str, bytes]]:
    out = []
    for i in range(start, start + n):
        oid = f"domain-name--00000000-0000-5000-8000-{i:012d}"
        out.append(
            (
                oid,
                "domain-name",
                "",
                orjson.dumps({"type": "domain-name", "id": oid, "value": f"d{i}.example"}),
            )
        )
    return out


# -- who is calling --------------------------------------------------------------------------------------
async def test_no_key_a_bad_scheme_or_a_forged_key_is_401_problem_details(rig: Rig) -> None:
    token = rig.tokens["bank-a"]
    for headers in ({}, {"Authorization": f"Basic {token}"}, {"Authorization": "Bearer "},
                    {"X-API-Key": token[:-1] + ("A" if token[-1] != "A" else "B")}):  # fmt: skip
        r = await rig.http.get("/v1/lookup/phone/+66812345678", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["status"] == 401 and r.json()["type"].endswith("/unauthorized")


async def test_a_revoked_key_fails_on_the_very_next_request(rig: Rig) -> None:
    assert (
        await rig.http.get("/v1/lookup/domain/example.com", headers=rig.as_("telco-b"))
    ).status_code == 200
    key = (await rig.svc.keys.list("telco-b"))[0]
    assert await rig.svc.keys.revoke("telco-b", key.key_id, 1)
    assert (
        await rig.http.get("/v1/lookup/domain/example.com", headers=rig.as_("telco-b"))
    ).status_code == 401


async def test_a_key_of_an_organisation_removed_from_the_registry_stops_working(rig: Rig) -> None:
    await rig.svc.store.remove_organisation("telco-b")
    r = await rig.http.get("/v1/lookup/domain/example.com", headers=rig.as_("telco-b"))
    assert r.status_code == 401 and "no longer registered" in r.json()["detail"]


async def test_a_client_certificate_counts_only_when_the_proxy_verified_it(rig: Rig) -> None:
    subject = {"ssl-client-subject-dn": "CN=plat-c.example,O=Platform"}
    r = await rig.http.get("/taxii2/api/collections/", headers={**subject, "ssl-client-verify": "SUCCESS"})
    assert r.status_code == 200
    assert sorted(c["title"] for c in r.json()["collections"]) == ["plat-c feed (plat-c-feed)", "submissions"]
    # The header alone (a client setting it itself, or a failed verification) proves nothing.
    for verify in ({}, {"ssl-client-verify": "FAILED:certificate has expired"}):
        assert (
            await rig.http.get("/taxii2/api/collections/", headers={**subject, **verify})
        ).status_code == 401
    unknown = {"ssl-client-subject-dn": "CN=someone-else", "ssl-client-verify": "SUCCESS"}
    assert (await rig.http.get("/taxii2/api/collections/", headers=unknown)).status_code == 401


def test_subject_cn_reads_both_dn_forms() -> None:
    assert subject_cn("CN=bank-sg,O=Bank,C=SG") == "bank-sg"
    assert subject_cn("/C=SG/O=Bank/CN=bank-sg") == "bank-sg"
    assert subject_cn("O=Bank") is None


# -- limits ---------------------------------------------------------------------------------------------
async def test_over_the_rate_limit_is_429_with_retry_after_and_ratelimit_headers(rig: Rig) -> None:
    key = (await rig.svc.keys.list("bank-a"))[0]
    s = rig.svc.settings
    await rig.svc.limiter.hit(
        key.key_id, s.gateway_rate_limit, s.gateway_rate_window_s, rig.svc.now_ms(), cost=15
    )
    seen = [await rig.http.get("/v1/lookup/domain/example.com", headers=rig.as_("bank-a")) for _ in range(6)]
    assert [r.status_code for r in seen] == [200] * 5 + [429]
    assert [r.headers["RateLimit-Remaining"] for r in seen[:5]] == ["4", "3", "2", "1", "0"]
    refused = seen[-1]
    assert int(refused.headers["Retry-After"]) >= 1 and refused.headers["RateLimit-Limit"] == "20"
    assert refused.json()["type"].endswith("/rate-limited")
    assert (
        await rig.http.get("/v1/lookup/domain/example.com", headers=rig.as_("telco-b"))
    ).status_code == 200
    metrics = (await rig.http.get("/metrics")).text
    assert "scamshare_gateway_rate_limited_total 1.0" in metrics


async def test_a_body_over_the_limit_is_413_by_length_and_when_streamed(rig: Rig) -> None:
    big = b"type,value\n" + b"phone,+66812345678\n" * 400
    r = await rig.http.post(
        "/v1/submissions", content=big, headers={**rig.as_("bank-a"), "Content-Type": "text/csv"}
    )
    assert r.status_code == 413 and r.json()["type"].endswith("/too-large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts what arrives
        for _ in range(10):
            yield b"x" * 1000

    streamed = await rig.http.post("/v1/submissions", content=chunks(),
                                   headers={**rig.as_("bank-a"), "Content-Type": "text/csv"})  # fmt: skip
    assert streamed.status_code == 413


async def test_lookups_answer_per_item_and_cap_the_batch(rig: Rig) -> None:
    items = [{"kind": "phone", "value": "+66 81 234 5678"},
             {"kind": "phone", "value": "081-234-5678", "country": "TH"},
             {"kind": "phone", "value": "12"}, {"kind": "telepathy", "value": "x"}]  # fmt: skip
    r = await rig.http.post("/v1/lookup", json={"items": items}, headers=rig.as_("bank-a"))
    assert r.status_code == 200
    results = r.json()["results"]
    assert results[0]["id"] == results[1]["id"] and results[0]["canonical"] == "+66812345678"
    assert [x.get("known") for x in results] == [False, False, None, None]
    assert [x["valid"] for x in results] == [True, True, False, False] and results[3]["error"]
    many = await rig.http.post("/v1/lookup", json={"items": items * 3}, headers=rig.as_("bank-a"))
    assert many.status_code == 413 and many.json()["type"].endswith("/too-many-values")
    extra = await rig.http.post("/v1/lookup", json={"items": [], "org": "telco-b"}, headers=rig.as_("bank-a"))
    assert extra.status_code == 422 and extra.headers["content-type"] == "application/problem+json"


async def test_submissions_without_a_broker_are_503_not_accepted(rig: Rig) -> None:
    r = await rig.http.post("/v1/submissions", content=b"type,value\nphone,+66812345678\n",
                            headers={**rig.as_("bank-a"), "Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"


# -- TAXII ----------------------------------------------------------------------------------------------
async def test_a_caller_lists_its_own_collections_and_another_orgs_is_an_indistinguishable_404(
    rig: Rig,
) -> None:
    h = {**rig.as_("telco-b"), "Accept": TAXII}
    listed = (await rig.http.get("/taxii2/api/collections/", headers=h)).json()["collections"]
    assert {c["id"] for c in listed} == {collection_id("telco-b-feed"), submissions_id("telco-b")}
    other = await rig.http.get(f"/taxii2/api/collections/{collection_id('bank-a-feed')}/objects/", headers=h)
    made_up = await rig.http.get(
        "/taxii2/api/collections/00000000-0000-5000-8000-000000000000/objects/", headers=h
    )
    assert other.status_code == made_up.status_code == 404
    assert other.json() == made_up.json() and other.headers["content-type"] == TAXII
    # Another org's submissions collection is not writable either, and looks the same.
    other_submissions = f"/taxii2/api/collections/{submissions_id('bank-a')}/objects/"
    post = await rig.http.post(other_submissions, json={"objects": []},
                               headers={**h, "Content-Type": TAXII})  # fmt: skip
    assert post.status_code == 404
    own_write_only = await rig.http.get(
        f"/taxii2/api/collections/{submissions_id('telco-b')}/objects/", headers=h
    )
    assert own_write_only.status_code == 403 and own_write_only.json()["http_status"] == "403"


async def test_pages_by_next_and_by_added_after_are_the_same_and_complete(rig: Rig) -> None:
    await rig.svc.collections.add("bank-a-feed", _objects(25), 1_000_000)
    url = f"/taxii2/api/collections/{collection_id('bank-a-feed')}/objects/"
    h = {**rig.as_("bank-a"), "Accept": TAXII}
    by_next: list[list[str]] = []
    params: dict[str, str] = {"limit": "10"}
    while True:
        body = (await rig.http.get(url, params=params, headers=h)).json()
        by_next.append([o["id"] for o in body["objects"]])
        if not body["more"]:
            assert "next" not in body
            break
        params = {"limit": "10", "next": body["next"]}
    by_after: list[list[str]] = []
    params = {"limit": "10"}
    while True:
        r = await rig.http.get(url, params=params, headers=h)
        by_after.append([o["id"] for o in r.json()["objects"]])
        if not r.json()["more"]:
            break
        params = {"limit": "10", "added_after": r.headers["X-TAXII-Date-Added-Last"]}
    assert by_next == by_after and [len(p) for p in by_next] == [10, 10, 5]
    assert [i for page in by_next for i in page] == [o[0] for o in _objects(25)]
    capped = await rig.http.get(url, params={"limit": "100000"}, headers=h)
    assert capped.status_code == 200 and len(capped.json()["objects"]) == 25


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        ({"next": "n1.x"}, "bad-next"),
        ({"next": "../../etc"}, "bad-next"),
        ({"added_after": "yesterday"}, "bad-timestamp"),
        ({"added_after": "2026-12-02T09:00:00"}, "bad-timestamp"),
    ],
)
async def test_a_bad_cursor_is_a_400_taxii_error(rig: Rig, params: dict[str, str], kind: str) -> None:
    url = f"/taxii2/api/collections/{collection_id('bank-a-feed')}/objects/"
    r = await rig.http.get(url, params=params, headers={**rig.as_("bank-a"), "Accept": TAXII})
    assert r.status_code == 400 and r.json()["http_status"] == "400" and r.json()["error_code"] == kind


async def test_an_accept_header_for_another_taxii_version_is_406(rig: Rig) -> None:
    r = await rig.http.get(
        "/taxii2/", headers={**rig.as_("bank-a"), "Accept": "application/taxii+json;version=2.0"}
    )
    assert r.status_code == 406


def test_cursors_and_stamps_round_trip_to_the_microsecond() -> None:
    us = 1_795_000_000_123_457
    assert decode_next(encode_next(us)) == us
    assert parse_stamp(stamp(us)) == us and stamp(us) == "2026-11-18T11:06:40.123457Z"
    assert parse_stamp("2026-11-18T12:06:40.123457+01:00") == us
    with pytest.raises(Problem):
        decode_next("n1." + "9" * 18)


async def test_discovery_advertises_the_public_url_when_one_is_set(rig: Rig) -> None:
    """Behind a TLS proxy the process sees http://: the advertised API root must not send keys over it."""
    h = {**rig.as_("bank-a"), "Accept": TAXII}
    assert (await rig.http.get("/taxii2/", headers=h)).json()["api_roots"] == ["http://gw/taxii2/api/"]
    rig.svc.settings = rig.svc.settings.replace(gateway_public_url="https://gateway.example/")
    found = (await rig.http.get("/taxii2/", headers=h)).json()
    assert found["api_roots"] == ["https://gateway.example/taxii2/api/"] == [found["default"]]


async def test_a_page_emptied_by_match_version_still_moves_on(rig: Rig) -> None:
    """``match[version]`` filters after the store read a page: ``next`` must be the last entry read, not the
    last one kept, or a page the filter emptied would say ``more`` with no way forward."""
    objs = [(oid, kind, "2026-11-01T00:00:00.000Z" if i < 10 else "2026-12-01T00:00:00.000Z", raw)
            for i, (oid, kind, _v, raw) in enumerate(_objects(15))]  # fmt: skip
    await rig.svc.collections.add("bank-a-feed", objs, 1_000_000)
    url = f"/taxii2/api/collections/{collection_id('bank-a-feed')}/objects/"
    h = {**rig.as_("bank-a"), "Accept": TAXII}
    wanted = {"limit": "5", "match[version]": "2026-12-01T00:00:00.000Z"}
    kept: list[str] = []
    params = dict(wanted)
    for _ in range(10):
        body = (await rig.http.get(url, params=params, headers=h)).json()
        kept += [o["id"] for o in body.get("objects", [])]
        if not body["more"]:
            break
        assert "next" in body, body
        params = {**wanted, "next": body["next"]}
    assert kept == [o[0] for o in objs[10:]]
