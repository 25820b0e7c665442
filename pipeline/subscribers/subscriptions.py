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

import yaml
from pydantic import ValidationError

from pipeline.errors import InputError, ScamshareError
from pipeline.state.subscription import Subscription

logger = logging.getLogger(__name__)

#: Fields that hold sets; on update a given value replaces the old set (an empty one means "every").
SET_FIELDS = ("countries", "types", "scam_types")


class SubscriptionError(ScamshareError):
    """A subscription definition is invalid, or names a subscriber that does (not) exist."""


def describe_errors(exc: ValidationError) -> str:
    """One line per problem, naming the field: ``field 'tlp': 'purple' is not a TLP level``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "entry"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field (known: {', '.join(Subscription.model_fields)})"
        elif err["type"] == "missing":
            msg = "is required"
        parts.append(f"field {loc!r}: {msg}")
    return "; ".join(parts)


def parse_subscription(data: Any) -> Subscription:
    """Validate one definition (a mapping); raises SubscriptionError naming each bad field."""
    if not isinstance(data, Mapping):
        raise SubscriptionError(f"a subscription must be a mapping of fields, not {type(data).__name__}")
    try:
        return Subscription.model_validate(dict(data))
    except ValidationError as exc:
        raise SubscriptionError(describe_errors(exc)) from None


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
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(name, None, f"cannot read: {exc.strerror or exc}") from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str = "<yaml>") -> list[Subscription]:
    """Like :func:`load_file`, for YAML text already read (``name`` is used in messages)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(name, line, f"not valid YAML: {problem}") from None
    entries, seq = _entries(doc, node, name)
    out: list[Subscription] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        line = seq.value[index].start_mark.line + 1 if seq is not None else None
        label = f"entry {index + 1}"
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            label += f" ({entry['id']})"
        try:
            sub = parse_subscription(entry)
        except SubscriptionError as exc:
            raise InputError(name, line, f"{label}: {exc}") from None
        if sub.id in seen:
            raise InputError(name, line, f"{label}: id {sub.id!r} is already defined by entry {seen[sub.id]}")
        seen[sub.id] = index + 1
        out.append(sub)
    logger.debug("loaded subscriptions file=%s count=%d", name, len(out))
    return out


def _entries(doc: Any, node: Any, name: str) -> tuple[list[Any], yaml.SequenceNode | None]:
    if isinstance(doc, Mapping) and "subscribers" in doc:
        entries = doc["subscribers"]
        seq = next((v for k, v in node.value if k.value == "subscribers"), None)
    else:
        entries, seq = doc, node
    if not isinstance(entries, list):
        raise InputError(name, None, "expected `subscribers:` followed by a list of subscriptions")
    return entries, seq if isinstance(seq, yaml.SequenceNode) else None
