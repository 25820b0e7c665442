"""Registry definitions (organisations, subscriptions) from YAML, with errors that name file, line and field.

Pure: no Redis. A definitions file holds ``<key>:`` followed by a list of entries (a top-level list is
accepted too). Every problem names the file, the line and the entry
(``orgs.yaml:9: entry 2 (bank-sg): field 'trust': Input should be less than or equal to 1``).
Nothing is returned unless every entry is valid, and ids must be unique within the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.errors import InputError, ScamshareError

M = TypeVar("M", bound=BaseModel)


class DefinitionError(ScamshareError):
    """A definition is invalid, or names an entry that does (not) exist."""


def describe_errors(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem, naming the field: ``field 'tlp': 'purple' is not a TLP level``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "entry"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field (known: {', '.join(model.model_fields)})"
        elif err["type"] == "missing":
            msg = "is required"
        parts.append(f"field {loc!r}: {msg}")
    return "; ".join(parts)


def parse_definition(model: type[M], data: Any, error: type[DefinitionError] = DefinitionError) -> M:
    """Validate one definition (a mapping); raises ``error`` naming each bad field."""
    if not isinstance(data, Mapping):
        raise error(f"a {model.__name__.lower()} must be a mapping of fields, not {type(data).__name__}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise error(describe_errors(exc, model)) from None


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), None, f"cannot read: {exc.strerror or exc}") from None


def parse_yaml_definitions(
    text: str, name: str, *, key: str, parse: Callable[[Any], M], id_of: Callable[[M], str]
) -> list[M]:
    """Every entry under ``key`` in YAML ``text``; raises InputError naming ``name``, line, entry, field."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(name, line, f"not valid YAML: {problem}") from None
    entries, seq = _entries(doc, node, name, key)
    out: list[M] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        line = seq.value[index].start_mark.line + 1 if seq is not None else None
        label = f"entry {index + 1}"
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            label += f" ({entry['id']})"
        try:
            item = parse(entry)
        except DefinitionError as exc:
            raise InputError(name, line, f"{label}: {exc}") from None
        ident = id_of(item)
        if ident in seen:
            raise InputError(name, line, f"{label}: id {ident!r} is already defined by entry {seen[ident]}")
        seen[ident] = index + 1
        out.append(item)
    return out


def _entries(doc: Any, node: Any, name: str, key: str) -> tuple[list[Any], yaml.SequenceNode | None]:
    if isinstance(doc, Mapping) and key in doc:
        entries = doc[key]
        seq = next((v for k, v in node.value if k.value == key), None)
    else:
        entries, seq = doc, node
    if not isinstance(entries, list):
        raise InputError(name, None, f"expected `{key}:` followed by a list of entries")
    return entries, seq if isinstance(seq, yaml.SequenceNode) else None
