"""The organisation registry as the worker sees it: read from the store, refreshed, shared by the agents.

Every batch asks :meth:`Registry.current`; the store is read again once ``refresh_s`` has passed, so an
organisation added (or removed) with ``scamshare orgs`` counts within that time. The trust of each
organisation is kept in :attr:`Registry.trust`, a dict updated in place that the score model holds by
reference: the registry, not the settings, says how far each reporter is trusted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pipeline.state.org import Organisation, Role, org_of_topic
from pipeline.state.store import Store
from pipeline.state.subscription import Subscription
from pipeline.wire.rejected import Rejected

logger = logging.getLogger(__name__)


@dataclass
class Registry:
    """Organisations and subscriptions by id, at most ``refresh_s`` old."""

    store: Store
    refresh_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    trust: dict[str, float] = field(default_factory=dict)
    #: organisation → (sector, country), for the score's diversity option; updated in place like ``trust``
    profiles: dict[str, tuple[str, str]] = field(default_factory=dict)
    _orgs: dict[str, Organisation] = field(default_factory=dict)
    _subs: dict[str, Subscription] = field(default_factory=dict)
    _loaded_at: float | None = None
    _rev: tuple[int, int] | None = None

    async def current(self) -> Mapping[str, Organisation]:
        """Registered organisations by id."""
        await self._refresh()
        return self._orgs

    async def subscriptions(self) -> Mapping[str, Subscription]:
        """Subscriptions by id."""
        await self._refresh()
        return self._subs

    async def _refresh(self) -> None:
        now = self.clock()
        if self._loaded_at is not None and now - self._loaded_at < self.refresh_s:
            return
        orgs_rev, orgs = await self.store.organisations()
        subs_rev, subs = await self.store.subscriptions()
        self._loaded_at = now
        if self._rev == (orgs_rev, subs_rev):
            return
        self._rev = (orgs_rev, subs_rev)
        self._orgs = {o.id: o for o in orgs}
        self._subs = {s.id: s for s in subs}
        fresh = {o.id: o.trust for o in orgs if o.produces}
        for gone in set(self.trust) - set(fresh):
            del self.trust[gone]
        self.trust.update(fresh)
        profiles = {o.id: (o.sector, o.country or "") for o in orgs}
        for gone in set(self.profiles) - set(profiles):
            del self.profiles[gone]
        self.profiles.update(profiles)
        logger.info("registry revision orgs=%d subscriptions=%d", orgs_rev, subs_rev)

    def producers(self) -> list[str]:
        """Ids of the registered producing organisations (as last loaded)."""
        return sorted(o.id for o in self._orgs.values() if o.produces)

    def subscribers(self) -> list[str]:
        """Ids of the registered subscribing organisations (as last loaded)."""
        return sorted(o.id for o in self._orgs.values() if o.subscribes)


def channel_org(
    topic: str, base: str, orgs: Mapping[str, Organisation], role: Role
) -> Organisation | Rejected:
    """The registered organisation whose own topic ``<base>.<org>`` a message came on, in ``role``; the
    reason otherwise (``no_identity``: the topic is nobody's; ``unregistered_org``)."""
    org_id = org_of_topic(topic, base)
    if org_id is None:
        return Rejected("no_identity", f"topic {topic!r} is no organisation's: each writes {base}.<org>")
    org = orgs.get(org_id)
    if org is None or role not in org.roles:
        return Rejected("unregistered_org", f"{org_id!r} is not a registered {role}", org_id)
    return org
