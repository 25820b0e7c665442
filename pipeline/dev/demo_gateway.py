"""The demo's last step: the gateway, asked what each subscriber would ask it.

After the worker has fanned out, the demo serves the gateway in its own event loop
(:func:`pipeline.dev.gateway.serving`), gives each subscribing organisation a demo API key, and as that
organisation looks up one sample value (``081-536-0060`` in Thailand, reported GREEN by telco-th) and pages
through each of its TAXII collections, counting the objects and pages. The keys are revoked at the end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from pipeline.config import Settings
from pipeline.dev.gateway import serving
from pipeline.state.apikeys import RedisApiKeys
from pipeline.state.redis_store import RedisStore
from pipeline.state.subscription import Subscription

#: (kind, value, country) the demo looks up: a telco-th sample row, spelled as a national number.
DEMO_LOOKUP: Final = ("phone", "081-536-0060", "TH")
TAXII_ACCEPT: Final = "application/taxii+json;version=2.1"
PAGE: Final = 1000


@dataclass
class GatewayDemo:
    lookup: dict[str, str] = field(default_factory=dict)
    #: subscription → its organisation's answer for DEMO_LOOKUP
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: subscription → {"objects": n, "pages": k} of its TAXII collection
    collections: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"lookup": self.lookup, "answers": self.answers, "collections": self.collections}


async def _count(http: httpx.AsyncClient, sub: Subscription, headers: dict[str, str]) -> dict[str, int]:
    from pipeline.gateway.taxii_common import collection_id  # noqa: PLC0415

    url = f"/taxii2/api/collections/{collection_id(sub.id)}/objects/"
    objects = pages = 0
    params = {"limit": str(PAGE)}
    while True:
        r = await http.get(url, params=params, headers={**headers, "Accept": TAXII_ACCEPT})
        r.raise_for_status()
        body = r.json()
        pages += 1
        objects += len(body.get("objects", []))
        if not body.get("more"):
            return {"objects": objects, "pages": pages}
        params = {"limit": str(PAGE), "next": body["next"]}


async def demo_gateway(settings: Settings, store: RedisStore, subs: Sequence[Subscription]) -> GatewayDemo:
    keys = RedisApiKeys(store.client, settings.redis_key_prefix)
    now_ms = int(time.time() * 1000)
    tokens: dict[str, tuple[str, str]] = {}
    for org in dict.fromkeys(s.organisation for s in subs):
        token, key = await keys.create(org, "demo", now_ms)
        tokens[org] = (token, key.key_id)
    kind, value, country = DEMO_LOOKUP
    result = GatewayDemo(lookup={"kind": kind, "value": value, "country": country})
    try:
        async with serving(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            for sub in subs:
                headers = {"Authorization": f"Bearer {tokens[sub.organisation][0]}"}
                r = await http.get(f"/v1/lookup/{kind}/{value}", params={"country": country}, headers=headers)
                r.raise_for_status()
                result.answers[sub.id] = r.json()
                result.collections[sub.id] = await _count(http, sub, headers)
    finally:
        for org, (_token, key_id) in tokens.items():
            await keys.revoke(org, key_id, int(time.time() * 1000))
    return result
