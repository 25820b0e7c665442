"""Input limits shared by producers and the worker (defaults: the Settings fields of the same meaning)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import default
from pipeline.stix.tlp import TLP


@dataclass(frozen=True, slots=True)
class Limits:
    """Input limits; every breach is rejected with a reason naming the limit."""

    max_bytes: int = default("max_message_bytes")
    max_objects: int = default("max_objects_per_bundle")
    max_depth: int = default("max_json_depth")
    default_tlp: TLP = TLP.GREEN
