"""scamshare: a cross-border exchange for scam indicators (STIX 2.1 over Kafka, faust-streaming, Redis).

The SDK a producer or subscriber imports::

    from pipeline import FeedConsumer, Publisher, Settings, canonicalize

    settings = Settings()                       # SCAMSHARE_* environment variables
    c = canonicalize("phone", "081-234-5678", country="TH")
    with Publisher(settings, producer_id="telco-th") as pub:
        ...

Everything else is internal. Every name is imported on first use, so ``import pipeline`` (and the CLI's
start-up, which imports it first) loads neither the broker client nor the phone-number metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.canon import KINDS, Canonical, Invalid, canonicalize
    from pipeline.config import Settings, Topics
    from pipeline.errors import ScamshareError
    from pipeline.kafka.emit import ListEmitter
    from pipeline.producers.publisher import DeliveryReport, Publisher, Submission
    from pipeline.state.memory_store import MemoryStore
    from pipeline.stix.tlp import TLP
    from pipeline.subscribers.consumer import FeedConsumer, FeedItem

__all__ = [
    "KINDS",
    "TLP",
    "Canonical",
    "DeliveryReport",
    "FeedConsumer",
    "FeedItem",
    "Invalid",
    "ListEmitter",
    "MemoryStore",
    "Publisher",
    "ScamshareError",
    "Settings",
    "Submission",
    "Topics",
    "canonicalize",
]

_LAZY = {
    "KINDS": "pipeline.canon",
    "TLP": "pipeline.stix.tlp",
    "Canonical": "pipeline.canon",
    "Invalid": "pipeline.canon",
    "canonicalize": "pipeline.canon",
    "Settings": "pipeline.config",
    "Topics": "pipeline.config",
    "ScamshareError": "pipeline.errors",
    "DeliveryReport": "pipeline.producers.publisher",
    "FeedConsumer": "pipeline.subscribers.consumer",
    "FeedItem": "pipeline.subscribers.consumer",
    "ListEmitter": "pipeline.kafka.emit",
    "MemoryStore": "pipeline.state.memory_store",
    "Publisher": "pipeline.producers.publisher",
    "Submission": "pipeline.producers.publisher",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
