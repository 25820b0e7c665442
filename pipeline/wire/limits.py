"""Input limits shared by producers and the worker."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.stix.tlp import TLP


@dataclass(frozen=True, slots=True)
class Limits:
    """Input limits; every breach is rejected with a reason naming the limit."""

    max_bytes: int = 1_000_000
    max_objects: int = 1000
    max_depth: int = 32
    default_tlp: TLP = TLP.GREEN
