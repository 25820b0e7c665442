"""Allowlists against poisoning: legitimate numbers, big domains and shorteners are never fanned out. Pure.

Entries are canonicalised on load, so any spelling works. Phone numbers, wallets, bank accounts, e-mail
addresses and social accounts match exactly. Domains match the domain and every subdomain (a report of
``login.paypal.com`` is held when ``paypal.com`` is listed). A URL is held only when it is the bare root of
a listed domain (``https://paypal.com/``): a specific path on a big platform or a shortener link can be a
real scam page and goes through, flagged by enrichment (``shortener``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.canon import KINDS, Canonical, Invalid, canonicalize
from pipeline.errors import ConfigError

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "allowlist.yaml"


@dataclass(frozen=True)
class Allowlist:
    #: indicator id → note, for exact matches
    exact: dict[str, str] = field(default_factory=dict)
    #: registrable (or listed) domain → note
    domains: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.exact) + len(self.domains)

    def match(self, c: Canonical) -> str | None:
        """Why ``c`` is allowlisted (a sentence), or None."""
        note = self.exact.get(c.indicator_id)
        if note is not None:
            return f"{c.kind} {c.value} is on the allowlist" + (f" ({note})" if note else "")
        if c.kind == "domain":
            hit = self._domain(c.value)
        elif c.kind == "url":
            rest = c.value.split("://", 1)[-1]
            bare_root = "/" not in rest.rstrip("/") and "?" not in rest
            hit = self._domain(c.facts.get("host", "")) if bare_root else None
        else:
            hit = None
        if hit is None:
            return None
        domain, note = hit
        return f"{c.kind} {c.value} belongs to allowlisted domain {domain}" + (f" ({note})" if note else "")

    def _domain(self, host: str) -> tuple[str, str] | None:
        labels = host.split(".")
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            if candidate in self.domains:
                return candidate, self.domains[candidate]
        return None


def load_allowlist(path: Path | None = None) -> Allowlist:
    """Load and canonicalise an allowlist file; ConfigError naming the entry when one is invalid."""
    source = path or DEFAULT_FILE
    try:
        doc = yaml.safe_load(source.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: cannot read allowlist: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: an allowlist is a mapping of type → list of entries")
    exact: dict[str, str] = {}
    domains: dict[str, str] = {}
    for kind, entries in doc.items():
        if kind not in KINDS:
            raise ConfigError(f"{source}: unknown type {kind!r}; expected some of {', '.join(KINDS)}")
        for index, entry in enumerate(entries or []):
            value, country, note = _entry(entry, f"{source}: {kind}[{index}]")
            c = canonicalize(kind, value, country=country)
            if isinstance(c, Invalid):
                raise ConfigError(f"{source}: {kind}[{index}] {value!r}: {c.reason}")
            if kind == "domain":
                domains[c.value] = note
            else:
                exact[c.indicator_id] = note
    return Allowlist(exact, domains)


def _entry(entry: Any, where: str) -> tuple[str, str | None, str]:
    if isinstance(entry, str):
        return entry, None, ""
    if isinstance(entry, dict) and isinstance(entry.get("value"), str):
        return entry["value"], entry.get("country"), str(entry.get("note", ""))
    raise ConfigError(f"{where}: an entry is a string or a mapping with 'value' (and optional country, note)")
