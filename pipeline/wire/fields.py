"""Field rules both sides of the wire apply: the producer before it sends, the worker when it validates.

One copy, so a report the CLI or SDK accepts is never rejected by the worker for a rule the two disagree on
(they used to: ``"card  fraud"`` became ``card-fraud`` in the CLI and ``card--fraud`` in the worker).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from pipeline.errors import ScamshareError

#: An organisation's id: lower case, 1-63 characters of a-z 0-9 _ - starting with a letter or digit. No '.':
#: topic names (scam.submissions.<org>) and consumer-group prefixes (<org>.) must not be ambiguous.
PRODUCER_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
PRODUCER_ID_RULE: Final = "1-63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"
#: A subscriber's id (its feed is ``scam.feed.<id>``): 1-63 characters of a-z 0-9 _ -.
SUBSCRIBER_ID_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SUBSCRIBER_ID_RE: Final = re.compile(SUBSCRIBER_ID_PATTERN)
#: A submission's idempotency key.
SUBMISSION_ID_RE: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SCAM_TYPE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
MAX_SCAM_TYPES: Final = 16
COUNTRY_RE: Final = re.compile(r"^[A-Z]{2}$")
BIC_RE: Final = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")


class FieldError(ScamshareError, ValueError):
    """One field of an input record is invalid; the message says which and why."""


def scam_type(item: object) -> str:
    """One scam type, normalised: stripped, lower case, runs of spaces/underscores → ``-``.

    ``""`` for a blank item (callers skip it). Raises FieldError for anything else that is not 1-48
    characters of a-z 0-9 -.

    >>> scam_type(" Card_Fraud ")
    'card-fraud'
    """
    if not isinstance(item, str):
        raise FieldError(f"scam type {item!r} is not a string")
    name = re.sub(r"[\s_]+", "-", item.strip().lower())
    if name and not SCAM_TYPE_RE.match(name):
        raise FieldError(f"scam type {item!r} must be 1-48 characters of a-z, 0-9 and -")
    return name


def scam_types(items: Iterable[object]) -> tuple[str, ...]:
    """Normalised, de-duplicated scam types in first-seen order; blanks skipped; at most 16."""
    out: dict[str, None] = {}
    for item in items:
        name = scam_type(item)
        if name:
            out[name] = None
    if len(out) > MAX_SCAM_TYPES:
        raise FieldError(f"{len(out)} scam types; at most {MAX_SCAM_TYPES} are allowed")
    return tuple(out)
