"""Enrichment: offline, deterministic facts added to each published indicator. Pure.

An enricher is any callable ``(Canonical) -> Mapping[str, object]`` with a ``name`` and the ``kinds`` it
applies to. Which built-in enrichers apply to a kind is declared with the kind
(:attr:`pipeline.canon.registry.Kind.enrichers`). The built-ins:

- ``facts``      what canonicalisation established (phone country, region, carrier and line type;
                 wallet chain, asset and address type; bank country, bank code, bank name and BIC; URL and
                 e-mail host, registrable domain and suffix; social platform; IMEI type allocation code)
- ``lookalike``  domain, url, email: the protected brand the host imitates (``lookalike_of``, ``lookalike``)
- ``host_class`` url: ``shortener`` / ``link_in_bio``; email: ``freemail`` / ``disposable``

More enrichers plug in through the ``scamshare.enrichers`` entry point group (a zero-argument factory
returning an enricher). Online enrichers (RDAP, DNS): :mod:`pipeline.worker.online`, off by default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Protocol

import yaml

from pipeline.canon import REGISTRY, Canonical, KindError
from pipeline.canon.registry import ENRICHERS
from pipeline.processors.lookalike import Brand, find_lookalike

logger = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent.parent / "data"
ENTRY_POINT_GROUP = "scamshare.enrichers"


class Enricher(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> frozenset[str]: ...

    def __call__(self, c: Canonical) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class HostClasses:
    shorteners: frozenset[str] = frozenset()
    link_in_bio: frozenset[str] = frozenset()
    freemail: frozenset[str] = frozenset()
    disposable: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EnrichConfig:
    brands: tuple[Brand, ...] = ()
    hosts: HostClasses = field(default_factory=HostClasses)


def load_config(brands_file: Path | None = None, hosts_file: Path | None = None) -> EnrichConfig:
    """Brands and host classes from YAML (the bundled lists when no file is given)."""
    brands_doc = yaml.safe_load((brands_file or DATA / "brands.yaml").read_text())
    hosts_doc = yaml.safe_load((hosts_file or DATA / "hosts.yaml").read_text())
    brands = tuple(
        Brand(str(b["name"]).lower(), frozenset(str(d).lower() for d in b.get("domains", [])))
        for b in brands_doc.get("brands", [])
    )
    hosts = HostClasses(
        **{
            k: frozenset(str(h).lower() for h in hosts_doc.get(k, []))
            for k in HostClasses.__dataclass_fields__
        }
    )
    return EnrichConfig(brands, hosts)


@dataclass(frozen=True)
class _Fn:
    name: str
    kinds: frozenset[str]
    fn: Callable[[Canonical], Mapping[str, Any]]

    def __call__(self, c: Canonical) -> Mapping[str, Any]:
        return self.fn(c)


def facts_enricher() -> Enricher:
    return _Fn(
        "facts",
        REGISTRY.enriched_by("facts"),
        lambda c: dict(c.facts),
    )


def lookalike_enricher(config: EnrichConfig) -> Enricher:
    def run(c: Canonical) -> Mapping[str, Any]:
        registrable = c.facts.get("registrable_domain") or (c.value if c.kind == "domain" else "")
        if not registrable:
            return {}
        suffix = c.facts.get("suffix", "")
        unicode_host = c.facts.get("domain_unicode") or c.facts.get("unicode") or registrable
        label = unicode_host.removesuffix("." + suffix) if suffix else unicode_host
        label = label.rsplit(".", 1)[-1]
        hit = find_lookalike(registrable, label, config.brands)
        return {"lookalike_of": hit.brand, "lookalike": hit.how} if hit else {}

    return _Fn("lookalike", REGISTRY.enriched_by("lookalike"), run)


def host_class_enricher(config: EnrichConfig) -> Enricher:
    h = config.hosts

    def run(c: Canonical) -> Mapping[str, Any]:
        host = c.facts.get("host") or c.facts.get("domain") or ""
        registrable = c.facts.get("registrable_domain", host)
        if c.kind == "url":
            return {"shortener": registrable in h.shorteners or host in h.shorteners,
                    "link_in_bio": registrable in h.link_in_bio or host in h.link_in_bio}  # fmt: skip
        return {"freemail": registrable in h.freemail, "disposable": registrable in h.disposable}

    return _Fn("host_class", REGISTRY.enriched_by("host_class"), run)


#: The built-in enrichers by the name kinds declare them with, in the order they run.
BUILTIN_ENRICHERS: Final[Mapping[str, Callable[[EnrichConfig], Enricher]]] = {
    "facts": lambda _config: facts_enricher(),
    "lookalike": lookalike_enricher,
    "host_class": host_class_enricher,
}
if set(BUILTIN_ENRICHERS) != set(ENRICHERS):  # a name kinds may declare must have an implementation
    raise KindError(f"enrichers kinds may name {sorted(ENRICHERS)} != built-ins {sorted(BUILTIN_ENRICHERS)}")


def plugin_enrichers() -> list[Enricher]:
    """Enrichers registered by other packages under the ``scamshare.enrichers`` entry point group."""
    found: list[Enricher] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append(ep.load()())
        except Exception:  # a broken plugin must not stop the pipeline; it is logged and skipped
            logger.exception("enricher plugin %s failed to load; skipped", ep.name)
    return found


def default_enrichers(config: EnrichConfig, *, plugins: bool = True) -> list[Enricher]:
    enrichers = [build(config) for build in BUILTIN_ENRICHERS.values()]
    return enrichers + (plugin_enrichers() if plugins else [])


def enrich(c: Canonical, enrichers: Iterable[Enricher]) -> dict[str, Any]:
    """Run every enricher that applies to ``c.kind``; later enrichers may add keys, not remove them."""
    out: dict[str, Any] = {}
    for enricher in enrichers:
        if c.kind in enricher.kinds:
            out.update(enricher(c))
    return dict(sorted(out.items()))
