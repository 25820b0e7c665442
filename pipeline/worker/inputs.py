"""The organisations' own input topics, followed as the registry changes (the ingest and sightings agents).

faust cannot subscribe by pattern, so the worker subscribes to each registered organisation's own topic by
name: :func:`registered_inputs` reads them before the app starts, and :class:`InputTopics` adds (and drops)
topics while it runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import faust

from pipeline.config import Settings, Topics
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import list_topics
from pipeline.state.redis_layout import check_layout
from pipeline.state.redis_store import RedisStore

if TYPE_CHECKING:
    from pipeline.worker.runtime import Runtime

logger = logging.getLogger(__name__)


def wanted(
    topics: Topics, producers: list[str], subscribers: list[str], existing: set[str]
) -> tuple[list[str], list[str]]:
    """The submissions and sightings topics to read: the shared ones and each organisation's that exists."""
    subs = [topics.submissions] + [t for t in map(topics.submissions_of, producers) if t in existing]
    sights = [topics.sightings] + [t for t in map(topics.sightings_of, subscribers) if t in existing]
    return subs, sights


async def registered_inputs(settings: Settings) -> tuple[list[str], list[str]]:
    """The input topics of the organisations registered now (Redis + a topic listing)."""
    store = RedisStore.from_settings(settings)
    try:
        # Every worker start reads this first: it refuses a Redis of an earlier key layout (redis_layout).
        await check_layout(store)
        _rev, orgs = await store.organisations()
    finally:
        await store.close()
    existing = set(list_topics(build_admin(settings), settings.topic_prefix))
    producers = sorted(o.id for o in orgs if o.produces)
    subscribers = sorted(o.id for o in orgs if o.subscribes)
    return wanted(settings.topics, producers, subscribers, existing)


#: How long faust waits after a subscription change before it re-subscribes (faust's default is 45 s).
RESUBSCRIBE_AFTER_S = 1.0


@dataclass
class InputTopics:
    """The ingest and sightings agents' topics: the shared ones plus every registered organisation's own.

    faust cannot subscribe by pattern (its aiokafka driver ignores it), so the topic lists are updated in
    place — the agents' stream channels share these list objects — and faust's conductor re-subscribes,
    which rebalances the group. Only topics that exist are added (``scamshare orgs add`` creates them): the
    embedded broker would auto-create a missing topic, with the wrong partition count, on a named request.
    """

    app: faust.App
    submissions: faust.TopicT
    sightings: faust.TopicT
    topics: Topics
    initial: tuple[list[str], list[str]] | None = None

    def __post_init__(self) -> None:
        # faust's default waits 45 s to coalesce subscription changes; a new organisation should not wait.
        cast(Any, self.app.topics)._resubscribe_sleep_lock_seconds = RESUBSCRIBE_AFTER_S
        # app.topic() keeps a tuple; a list, set before any agent clones the channel, is shared by the clones.
        subs, sights = self.initial or ([], [])
        for channel, extra in ((self.submissions, subs), (self.sightings, sights)):
            cast(Any, channel).topics = [*channel.topics, *(t for t in extra if t not in channel.topics)]

    def current(self) -> list[str]:
        return sorted({*self.submissions.topics, *self.sightings.topics})

    async def follow(self, runtime: Runtime) -> bool:
        """Subscribe to the topics of the organisations registered now; True when the set changed."""
        registry = runtime.registry()
        await registry.current()
        existing = await runtime.existing_topics(self.topics.prefix)
        want_subs, want_sights = wanted(self.topics, registry.producers(), registry.subscribers(), existing)
        changed = False
        for channel, want in ((self.submissions, want_subs), (self.sightings, want_sights)):
            names = cast(list[str], channel.topics)
            if sorted(names) != sorted(want):
                logger.info("subscribing %s", ",".join(sorted(set(want) - set(names))) or "(removals)")
                names[:] = want  # in place: the agent's stream channel holds this same list
                changed = True
        if changed:
            cast(Any, self.app.topics)._flag_changes()
        return changed
