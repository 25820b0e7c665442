"""A rejected input: data, not an exception (a step returns it; one wrapper sends it to the DLQ)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a submission was rejected. ``code`` is a stable bucket for counting; ``reason`` is for people."""

    code: str
    reason: str
    producer: str | None = None
