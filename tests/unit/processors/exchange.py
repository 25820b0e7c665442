"""A pure, in-process exchange for tests: merge → record → route, with each subscription's delivered map.

It runs the same functions the worker runs (merge, sightings, build_record, view_of, route), without
Kafka or Redis, so what each subscription would receive can be compared across scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.canon import Canonical
from pipeline.processors.fanout import route
from pipeline.processors.merge import apply_sighting, merge
from pipeline.processors.output import build_record, canonical_of, view_of
from pipeline.processors.score import ScoreModel
from pipeline.processors.validate import Report
from pipeline.state.indicator import IndicatorState
from pipeline.state.subscription import Subscription

from .factories import T0


def sub(id_: str, org: str | None = None, **kw: Any) -> Subscription:
    base: dict[str, Any] = {"name": id_.title(), "sector": "telecom", "organisation": org or id_}
    return Subscription(id=id_, **{**base, **kw})


@dataclass
class Received:
    """One delivery as the subscriber sees it (bundle without its random id and its delivery time)."""

    status: str
    version: int
    indicator: dict[str, Any]

    @property
    def ext(self) -> dict[str, Any]:
        return next(iter(self.indicator["extensions"].values()))  # type: ignore[no-any-return]


def _strip(bundle: dict[str, Any]) -> dict[str, Any]:
    indicator = dict(next(o for o in bundle["objects"] if o["type"] == "indicator"))
    indicator.pop("modified")
    if indicator.get("valid_until") and indicator["extensions"]:
        ext = next(iter(indicator["extensions"].values()))
        if ext.get("status") != "active":
            indicator.pop("valid_until")  # "now": when it stopped
    return indicator


@dataclass
class Exchange:
    subs: list[Subscription]
    model: ScoreModel = field(default_factory=lambda: ScoreModel(default_trust=0.6))
    now_ms: int = T0 + 1000
    state: IndicatorState | None = None
    delivered: dict[str, int] = field(default_factory=dict)
    inbox: dict[str, list[Received]] = field(default_factory=dict)

    def report(self, report: Report) -> list[str]:
        out = merge(self.state, report, self.model, self.now_ms)
        return self._publish(out.state, out.publish)

    def sight(self, kind: str, org: str) -> list[str]:
        assert self.state is not None
        out = apply_sighting(self.state, kind, self.model, self.now_ms, org=org)
        return self._publish(out.state, out.publish)

    def set_state(self, state: IndicatorState) -> list[str]:
        return self._publish(state, True)

    def _publish(self, state: IndicatorState, publish: bool) -> list[str]:
        self.state = state
        if not publish:
            return []
        c: Canonical = canonical_of(state)
        record = build_record(state, c, self.model, self.now_ms)
        view = view_of(record)
        got = []
        for routed in route(view, self.subs, self.delivered):
            sid = routed.subscription.id
            if routed.view is None:
                raw, status, version = record["final"], "revoked", view.version
            else:
                raw = record["views"][routed.view.key]["bundle"]
                status, version = routed.view.status, routed.view.seq
            self.inbox.setdefault(sid, []).append(Received(status, version, _strip(raw)))
            self.delivered[sid] = view.version
            got.append(sid)
        return got

    def last(self, sub_id: str) -> Received | None:
        items = self.inbox.get(sub_id, [])
        return items[-1] if items else None
