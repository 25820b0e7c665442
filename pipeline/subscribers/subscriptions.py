"""Subscription definitions from YAML and from the command line, with precise errors. Pure (no Redis).

A subscribers file (``pipeline/data/samples/subscribers.yaml``)::

    subscribers:
      - id: telco-th
        name: Thai mobile operator
        sector: telecom
        organisation: telco-th
        countries: [TH]
        types: [phone, url]
        tlp: green

A top-level list of entries is accepted too. Every problem names the file, the line and the entry
(``subscribers.yaml:9: entry 2 (bank-sg): field 'tlp': 'purple' is not a TLP level ...``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.state import definitions
from pipeline.state.subscription import Subscription

logger = logging.getLogger(__name__)

#: Fields that hold sets; on update a given value replaces the old set (an empty one means "every").
SET_FIELDS = ("countries", "types", "scam_types")


class SubscriptionError(definitions.DefinitionError):
    """A subscription definition is invalid, or names a subscriber that does (not) exist."""


def describe_errors(exc: ValidationError) -> str:
    """One line per problem, naming the field: ``field 'tlp': 'purple' is not a TLP level``."""
    return definitions.describe_errors(exc, Subscription)


def parse_subscription(data: Any) -> Subscription:
    """Validate one definition (a mapping); raises SubscriptionError naming each bad field."""
    return definitions.parse_definition(Subscription, data, SubscriptionError)


def apply_update(current: Subscription, changes: Mapping[str, Any]) -> Subscription:
    """``current`` with the given fields replaced; ``None`` values mean "not given" and keep the old value.

    Set fields (countries, types, scam types) are replaced as a whole; pass an empty list to clear one
    (= every country / type). The id cannot change. Raises SubscriptionError naming the bad field.
    """
    given = {k: v for k, v in changes.items() if v is not None}
    if "id" in given and given["id"] != current.id:
        raise SubscriptionError(f"field 'id': cannot change {current.id!r} to {given['id']!r}; add a new one")
    return parse_subscription({**current.to_json(), **given})


def load_file(path: Path) -> list[Subscription]:
    """Every subscription in a YAML file; raises InputError naming the file, line, entry and field.

    Nothing is returned unless every entry is valid, and ids must be unique within the file.
    """
    return parse_yaml(definitions.read_text(path), str(path))


def parse_yaml(text: str, name: str = "<yaml>") -> list[Subscription]:
    """Like :func:`load_file`, for YAML text already read (``name`` is used in messages)."""
    out = definitions.parse_yaml_definitions(
        text, name, key="subscribers", parse=parse_subscription, id_of=lambda s: s.id
    )
    logger.debug("loaded subscriptions file=%s count=%d", name, len(out))
    return out
