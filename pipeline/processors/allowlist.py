"""Allowlists against poisoning: legitimate numbers, big domains and shorteners are never fanned out. Pure.

Entries are canonicalised on load, so any spelling works. Phone numbers, URLs, wallets, bank accounts,
e-mail addresses, social accounts and IMEIs match exactly (by indicator id, so ``DE89 3704 ...`` and
``DE8937...`` are one entry, and a lower-case EVM address holds its EIP-55 mixed-case spelling). E-mail
addresses never match through their domain: ``gmail.com`` on the list does not hold ``scammer@gmail.com``.

Domains match the domain and its subdomains (a report of ``login.paypal.com`` is held when ``paypal.com`` is
listed), except subdomains the Public Suffix List delegates to someone else: ``evil.github.io`` is the
scammer's, not GitHub's, so a listed ``github.io`` does not hold it. An entry's ``subdomains`` narrows or
widens that: ``none`` holds the domain itself only (``t.me``, whose ``name.t.me`` hosts are any user's),
``all`` holds every subdomain (``service.gov.uk``, delegated only to government services). A URL is held only
when it is the bare root of a held domain (``https://paypal.com/``): a specific path on a big platform or a
shortener link can be a real scam page and goes through, flagged by enrichment (``shortener``).

The file maps each kind to a list of entries, or to named lists, and may say where each list comes from::

    sources:
      hotlines: {source: "the banks' contact pages", licence: "facts"}
    phone:
      hotlines:
        - {value: "02 888 8888", country: TH, note: "KBank call centre"}
    domain: [paypal.com, {value: t.me, subdomains: none}]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, get_args

import yaml

from pipeline.canon import KINDS, Canonical, Invalid, canonicalize
from pipeline.errors import ConfigError

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "allowlist.yaml"

Subdomains = Literal["owned", "none", "all"]
_SUBDOMAINS: Final[tuple[str, ...]] = get_args(Subdomains)
_ENTRY_KEYS: Final = frozenset({"value", "country", "note", "subdomains"})


@dataclass(frozen=True)
class Source:
    """Where one list of the file comes from, and under what licence it may be used."""

    source: str
    licence: str


@dataclass(frozen=True)
class Allowlist:
    #: indicator id → note, for exact matches
    exact: dict[str, str] = field(default_factory=dict)
    #: listed domain → note; its subdomains are held as ``subdomains`` says (``owned`` when absent)
    domains: dict[str, str] = field(default_factory=dict)
    #: listed domain → ``none`` or ``all``, for the domains that do not follow the ``owned`` rule
    subdomains: dict[str, Subdomains] = field(default_factory=dict)
    #: entries loaded per kind (informational: duplicates counted once)
    counts: dict[str, int] = field(default_factory=dict)
    #: list name → its source and licence, as the file declares them
    sources: dict[str, Source] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.exact) + len(self.domains)

    def match(self, c: Canonical) -> str | None:
        """Why ``c`` is allowlisted (a sentence), or None."""
        note = self.exact.get(c.indicator_id)
        if note is not None:
            return f"{c.kind} {c.value} is on the allowlist" + (f" ({note})" if note else "")
        if c.kind == "domain":
            hit = self._domain(c.value, c.facts.get("registrable_domain", c.value))
        elif c.kind == "url":
            rest = c.value.split("://", 1)[-1]
            bare_root = "/" not in rest.rstrip("/") and "?" not in rest
            host = c.facts.get("host", "")
            hit = self._domain(host, c.facts.get("registrable_domain", host)) if bare_root else None
        else:
            hit = None  # e-mail included: a listed mail domain must not hold every address at it
        if hit is None:
            return None
        domain, note = hit
        return f"{c.kind} {c.value} belongs to allowlisted domain {domain}" + (f" ({note})" if note else "")

    def _domain(self, host: str, registrable: str) -> tuple[str, str] | None:
        labels = host.split(".")
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            if candidate not in self.domains:
                continue
            if candidate == host or self._holds_subdomain(candidate, registrable):
                return candidate, self.domains[candidate]
        return None

    def _holds_subdomain(self, listed: str, registrable: str) -> bool:
        mode = self.subdomains.get(listed, "owned")
        if mode == "owned":
            # A registrable domain strictly below the listed one sits under a public suffix the PSL
            # delegates (evil.github.io under github.io): its owner is a customer, not the listed owner.
            return not registrable.endswith("." + listed)
        return mode == "all"


def load_allowlist(path: Path | None = None) -> Allowlist:
    """Load and canonicalise an allowlist file (default: the bundled one); ConfigError naming the entry
    when one is invalid.

    >>> len(load_allowlist().domains) > 100
    True
    """
    source = path or DEFAULT_FILE
    try:
        doc = yaml.safe_load(source.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: cannot read allowlist: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: an allowlist is a mapping of type → list of entries")
    sources = _sources(doc.pop("sources", None), source)
    builder = _Builder(source)
    listed: list[str] = []
    for kind, lists in doc.items():
        if kind not in KINDS:
            raise ConfigError(
                f"{source}: unknown type {kind!r}; expected some of {', '.join(KINDS)} (and 'sources')"
            )
        for name, entries in _named_lists(kind, lists, source):
            if name in listed:
                raise ConfigError(f"{source}: list {name!r} appears twice; give each list its own name")
            listed.append(name)
            if entries and sources and name not in sources:
                raise ConfigError(
                    f"{source}: list {name!r} has no entry in 'sources': add its source and licence"
                )
            label = name if name != kind else ""
            for index, entry in enumerate(entries):
                builder.add(kind, entry, f"{kind}.{name}[{index}]" if label else f"{kind}[{index}]", label)
    unknown = sorted(set(sources) - set(listed))
    if unknown:
        raise ConfigError(f"{source}: 'sources' names {unknown}, which are not lists in the file")
    return builder.build(sources)


class _Builder:
    """Accumulates canonical entries; a value's first note wins, and its narrowest subdomain rule."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.exact: dict[str, str] = {}
        self.domains: dict[str, str] = {}
        self.modes: dict[str, Subdomains] = {}
        self.counts: dict[str, int] = {}

    def add(self, kind: str, entry: Any, where: str, label: str) -> None:
        value, country, note, subdomains = _entry(entry, kind, f"{self.source}: {where}")
        c = canonicalize(kind, value, country=country)
        if isinstance(c, Invalid):
            raise ConfigError(f"{self.source}: {where} {value!r}: {c.reason}")
        note = note or label
        if kind == "domain":
            new = c.value not in self.domains
            self.domains.setdefault(c.value, note)
            self._narrow(c.value, subdomains)
        else:
            new = c.indicator_id not in self.exact
            self.exact.setdefault(c.indicator_id, note)
        self.counts[kind] = self.counts.get(kind, 0) + int(new)

    def _narrow(self, domain: str, mode: Subdomains) -> None:
        rank = {"none": 0, "owned": 1, "all": 2}
        current = self.modes.get(domain, mode)
        self.modes[domain] = min(current, mode, key=rank.__getitem__)

    def build(self, sources: dict[str, Source]) -> Allowlist:
        subdomains: dict[str, Subdomains] = {d: m for d, m in self.modes.items() if m != "owned"}
        return Allowlist(self.exact, self.domains, subdomains, self.counts, sources)


def _named_lists(kind: str, lists: Any, source: Path) -> list[tuple[str, list[Any]]]:
    """A kind's entries as (list name, entries): a plain list is named after the kind."""
    if lists is None:
        return [(kind, [])]
    if isinstance(lists, list):
        return [(kind, lists)]
    if isinstance(lists, dict):
        out: list[tuple[str, list[Any]]] = []
        for name, entries in lists.items():
            if not isinstance(name, str) or not (entries is None or isinstance(entries, list)):
                raise ConfigError(f"{source}: {kind}.{name}: a named list is a name → list of entries")
            out.append((name, entries or []))
        return out
    raise ConfigError(f"{source}: {kind}: expected a list of entries, or a mapping of list name → entries")


def _sources(raw: Any, source: Path) -> dict[str, Source]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: 'sources' is a mapping of list name → {{source, licence}}")
    out: dict[str, Source] = {}
    for name, info in raw.items():
        fields = info if isinstance(info, Mapping) else {}
        text = {k: fields.get(k) for k in ("source", "licence")}
        if not all(isinstance(v, str) and v.strip() for v in text.values()):
            raise ConfigError(f"{source}: sources.{name}: give both 'source' and 'licence' as text")
        out[str(name)] = Source(str(text["source"]).strip(), str(text["licence"]).strip())
    return out


def _entry(entry: Any, kind: str, where: str) -> tuple[str, str | None, str, Subdomains]:
    if isinstance(entry, str):
        return entry, None, "", "owned"
    if isinstance(entry, dict) and isinstance(entry.get("value"), str):
        extra = sorted(set(entry) - _ENTRY_KEYS)
        if extra:
            raise ConfigError(
                f"{where}: unknown key(s) {extra}; an entry has value, country, note, subdomains"
            )
        subdomains = entry.get("subdomains", "owned")
        if subdomains != "owned" and kind != "domain":
            raise ConfigError(f"{where}: 'subdomains' applies to domain entries only")
        if subdomains not in _SUBDOMAINS:
            raise ConfigError(f"{where}: subdomains is one of {', '.join(_SUBDOMAINS)}, not {subdomains!r}")
        country = entry.get("country")
        if country is not None and not isinstance(country, str):
            raise ConfigError(f"{where}: country is an ISO 3166 alpha-2 code such as TH, not {country!r}")
        return entry["value"], country, str(entry.get("note", "")), subdomains
    raise ConfigError(
        f"{where}: an entry is a string or a mapping with 'value' (and optional country, note, subdomains)"
    )
