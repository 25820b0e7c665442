"""The subscriber's SDK call that sends one sighting (true positive, false positive, blocked)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import orjson

from pipeline.config import Settings
from pipeline.identity.channel import speaking_for
from pipeline.kafka.clients import DeliveryTracker, build_producer, produce, wait_delivered
from pipeline.stix.ids import SIGHTING_EXTENSION_ID
from pipeline.wire.sighting import build_sighting, sighting_headers

logger = logging.getLogger(__name__)


def report_sighting(
    settings: Settings,
    *,
    subscriber: str,
    indicator_id: str,
    kind: str,
    count: int = 1,
    now: datetime,
    timeout_s: float = 30.0,
    org: str | None = None,
) -> dict[str, Any]:
    """Publish one sighting to the organisation's ``<prefix>sightings.<org>``; wait for the broker's ack.

    ``org`` owns the subscription: by default the settings' organisation (credentials file or ``org``),
    else the subscriber id. Returns the envelope sent. Raises SightingError on bad arguments, ConfigError
    when the credentials are another organisation's, DeliveryError if not acknowledged.
    """
    owner = speaking_for(settings, org) if org or settings.org_id else subscriber
    envelope = build_sighting(
        subscriber=subscriber, indicator_id=indicator_id, kind=kind, count=count, now=now, org=owner
    )
    tracker = DeliveryTracker()
    producer = build_producer(settings, on_delivery=tracker)
    headers = sighting_headers(envelope, now)
    produce(
        producer,
        settings.topics.sightings_of(owner),
        indicator_id.encode(),
        orjson.dumps(envelope),
        headers=headers,
    )
    wait_delivered(producer, timeout_s, tracker=tracker)
    logger.info(
        "sighting sent subscriber=%s indicator=%s kind=%s id=%s",
        subscriber, indicator_id, envelope["sighting"]["extensions"][SIGHTING_EXTENSION_ID]["kind"],
        envelope["sighting_id"],
    )  # fmt: skip
    return envelope
