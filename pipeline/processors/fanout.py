"""Fan-out: which subscriptions receive a version of an indicator, and which view each gets. Pure.

A subscription's view is its audience's (:mod:`pipeline.processors.visibility`): built from the reports it
may see under TLP 2.0, so the TLP rules are applied when the views are built, not here. A subscription gets
a version only when *its* view changed since what it last received (``since``), so a change it cannot see
sends it nothing. An active view goes to every subscription whose filter matches; a view that is not active
(suppressed, withdrawn, expired) and a final revocation go only to past recipients.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipeline.processors.output import IndicatorView, RoutedView
from pipeline.processors.visibility import audience_key, nearest
from pipeline.state.subscription import Subscription

__all__ = ["IndicatorView", "Routed", "matches", "route", "view_for_subscription"]


@dataclass(frozen=True, slots=True)
class Routed:
    """One subscription's delivery: the view it gets (None: the record's final revocation)."""

    subscription: Subscription
    view: RoutedView | None


def view_for_subscription(record: IndicatorView, sub: Subscription) -> RoutedView | None:
    """The view the subscription sees (None: it can see no report of this indicator)."""
    return nearest(record.views, audience_key(sub.tlp, sub.organisation))


def matches(sub: Subscription, record: IndicatorView, view: RoutedView) -> bool:
    """The subscriber's filter (type, country, scam type, score).

    The country filter applies to indicators with a known country (phones, IBANs); countryless ones
    (domains, URLs, wallets) pass it, since they reach every country's customers.
    """
    if sub.types and record.kind not in sub.types:
        return False
    if sub.countries and record.country and record.country not in sub.countries:
        return False
    if sub.scam_types and not (sub.scam_types & view.scam_types):
        return False
    return view.score >= sub.min_score


def route(
    record: IndicatorView, subscriptions: Iterable[Subscription], delivered: Mapping[str, int]
) -> list[Routed]:
    """Deliveries of this record. ``delivered`` maps subscriber id → the global version it last got.

    A subscriber never gets the same or an older version twice, nor a version in which its view did not
    change.
    """
    out: list[Routed] = []
    for sub in subscriptions:
        last = delivered.get(sub.id)
        if last is not None and last >= record.version:
            continue
        if record.revoked:
            if last is not None:
                out.append(Routed(sub, None))
            continue
        view = view_for_subscription(record, sub)
        if view is None or view.since <= (last or 0):
            continue
        if view.status != "active":
            if last is not None:
                out.append(Routed(sub, view))
        elif matches(sub, record, view):
            out.append(Routed(sub, view))
    return out
