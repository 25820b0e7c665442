"""scamshare: a cross-border exchange for scam indicators (STIX 2.1 over Kafka, faust-streaming, Redis)."""

from pipeline.canon import KINDS, Canonical, Invalid, canonicalize
from pipeline.config import Settings, Topics
from pipeline.errors import ScamshareError
from pipeline.stix.tlp import TLP

__all__ = [
    "KINDS",
    "TLP",
    "Canonical",
    "Invalid",
    "ScamshareError",
    "Settings",
    "Topics",
    "canonicalize",
]
