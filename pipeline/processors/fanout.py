"""Fan-out: which subscribers receive a version of an indicator. Pure.

TLP rules (TLP 2.0): CLEAR and GREEN go to any matching subscriber; AMBER only to subscribers cleared for
AMBER or higher; AMBER+STRICT only to subscribers of a reporting organisation; RED never leaves the pipeline.
A revoked version goes to every past recipient, whatever its filter says now, and to nobody else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP


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
