"""Shared by the gateway's integration tests: organisations, keys, synthetic collections, a client auth."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import requests

from pipeline.state.subscription import Subscription
from pipeline.subscribers.channels import Outgoing

TAXII = "application/taxii+json;version=2.1"


class Bearer(requests.auth.AuthBase):
    """An API key for taxii2-client (it speaks requests)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


@dataclass(frozen=True)
class Member:
    org: str
    token: str
    key_id: str
    subscription: Subscription

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def synthetic_bundles(
    sub: Subscription, count: int, *, start: int = 0
) -> Iterator[tuple[Outgoing, set[str]]]:
    """``count`` deliveries of two objects each (an indicator and its SCO), with the ids they carry."""
    for n in range(start, start + count):
        ind = f"indicator--{uuid.UUID(int=n + 1)}"
        sco = f"domain-name--{uuid.UUID(int=(1 << 64) + n + 1)}"
        stamp = f"2026-12-02T00:00:{n % 60:02d}.{n % 1000:03d}Z"
        bundle = {
            "type": "bundle", "id": f"bundle--{uuid.UUID(int=(2 << 64) + n)}",
            "objects": [
                {"type": "indicator", "spec_version": "2.1", "id": ind, "created": stamp, "modified": stamp,
                 "pattern": f"[domain-name:value = 'x{n}.example']", "pattern_type": "stix",
                 "valid_from": stamp},
                {"type": "domain-name", "spec_version": "2.1", "id": sco, "value": f"x{n}.example"},
            ],
        }  # fmt: skip
        yield Outgoing(sub, ind, 1, False, orjson.dumps(bundle)), {ind, sco}
