"""Helpers shared by the canonicaliser tests."""

from __future__ import annotations

from pipeline.canon import Canonical, Invalid, canonicalize


def ok(kind: str, value: str, country: str | None = None) -> Canonical:
    """Canonicalise and insist it worked (with the reason in the failure message if not)."""
    result = canonicalize(kind, value, country=country)
    assert isinstance(result, Canonical), f"{kind} {value!r} rejected: {getattr(result, 'reason', result)}"
    return result


def bad(kind: str, value: str, country: str | None = None) -> Invalid:
    """Canonicalise and insist it was rejected."""
    result = canonicalize(kind, value, country=country)
    assert isinstance(result, Invalid), f"{kind} {value!r} accepted as {getattr(result, 'value', result)!r}"
    return result
