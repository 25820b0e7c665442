"""Fan-out: which subscribers receive a version of an indicator. Pure.

TLP rules (TLP 2.0): CLEAR and GREEN go to any matching subscriber; AMBER only to subscribers cleared for
AMBER or higher; AMBER+STRICT only to subscribers of a reporting organisation; RED never leaves the pipeline.
A revoked version goes to every past recipient, whatever its filter says now, and to nobody else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.canon import KINDS
from pipeline.stix.tlp import TLP, parse_tlp

Sector = Literal["telecom", "bank", "platform", "law-enforcement", "other"]
_ID_RE = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


class Subscription(BaseModel):
    """One subscriber's feed: who it is, what it wants, and what it is cleared to see."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=_ID_RE, description="lower-case id; the feed is scam.feed.<id>")]
    name: str = Field(min_length=1, max_length=200)
    sector: Sector
    organisation: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] = Field(
        description="the organisation's producer id (AMBER+STRICT goes only to the reporting organisation)"
    )
    countries: frozenset[str] = Field(default=frozenset(), description="ISO alpha-2; empty = every country")
    types: frozenset[str] = Field(default=frozenset(), description="indicator kinds; empty = every kind")
    scam_types: frozenset[str] = Field(default=frozenset(), description="empty = every scam type")
    min_score: int = Field(default=0, ge=0, le=100)
    tlp: TLP = Field(default=TLP.GREEN, description="highest TLP the subscriber is cleared for")
    feed_topic: str | None = None

    @field_validator("countries", mode="before")
    @classmethod
    def _countries(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else list(value or [])
        out = set()
        for item in items:
            code = str(item).strip().upper()
            if not _COUNTRY_RE.match(code):
                raise ValueError(f"{item!r} is not an ISO 3166 alpha-2 country code")
            out.add(code)
        return frozenset(out)

    @field_validator("types", mode="before")
    @classmethod
    def _types(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else list(value or [])
        unknown = [t for t in items if t not in KINDS]
        if unknown:
            raise ValueError(f"unknown indicator type(s) {unknown}; expected some of {list(KINDS)}")
        return frozenset(items)

    @field_validator("tlp", mode="before")
    @classmethod
    def _tlp(cls, value: Any) -> Any:
        if isinstance(value, str):
            level = parse_tlp(value)
            if level is None:
                raise ValueError(f"{value!r} is not a TLP level (clear, green, amber, amber+strict)")
            value = level
        if value == TLP.RED:
            raise ValueError("no subscriber can be cleared for TLP:RED: RED never leaves the pipeline")
        return value

    def topic(self, prefix: str) -> str:
        return self.feed_topic or f"{prefix}feed.{self.id}"

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["tlp"] = TLP(self.tlp).label
        for key in ("countries", "types", "scam_types"):
            data[key] = sorted(data[key])
        return data


@dataclass(frozen=True, slots=True)
class IndicatorView:
    """What routing needs to know of one published version."""

    indicator_id: str
    version: int
    kind: str
    country: str
    score: int
    scam_types: frozenset[str]
    tlp: TLP
    reporters: frozenset[str]
    revoked: bool


def tlp_allows(sub: Subscription, view: IndicatorView) -> bool:
    if view.tlp == TLP.RED:
        return False
    if view.tlp == TLP.AMBER_STRICT:
        return sub.organisation in view.reporters
    return sub.tlp >= view.tlp


def matches(sub: Subscription, view: IndicatorView) -> bool:
    """The subscriber's filter (type, country, scam type, score) — TLP is checked separately.

    The country filter applies to indicators with a known country (phones, IBANs); countryless ones
    (domains, URLs, wallets) pass it, since they reach every country's customers.
    """
    if sub.types and view.kind not in sub.types:
        return False
    if sub.countries and view.country and view.country not in sub.countries:
        return False
    if sub.scam_types and not (sub.scam_types & view.scam_types):
        return False
    return view.score >= sub.min_score


def route(
    view: IndicatorView, subscriptions: Iterable[Subscription], delivered: Mapping[str, int]
) -> list[Subscription]:
    """Subscribers that get this version. ``delivered`` maps subscriber id → last version it received.

    A subscriber never gets the same or an older version twice.
    """
    out = []
    for sub in subscriptions:
        last = delivered.get(sub.id, 0)
        if last >= view.version:
            continue
        if view.revoked:
            if sub.id in delivered:
                out.append(sub)
        elif tlp_allows(sub, view) and matches(sub, view):
            out.append(sub)
    return out
