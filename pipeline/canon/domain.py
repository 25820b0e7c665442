"""Domain names: defang, IDNA 2008 (UTS 46) to ASCII, lower case, Public Suffix List split.

Accepted: ``WWW.Example.COM.``, ``example[.]com``, ``example(dot)com``, ``bücher.de``, ``xn--bcher-kva.de``,
fullwidth and ideographic dots. Rejected with a reason: URLs (use type ``url``), e-mail addresses (use
type ``email``), IP addresses, wildcards, hosts without a known public suffix (``localhost``,
``foo.invalidtld``) and bare public suffixes (``co.uk``).

Underscores are accepted in labels left of the registrable domain (``my_host.example.com``: browsers resolve
them and phishing kits use them) but not in the registrable label or the suffix, which registries forbid.

The Public Suffix List is tldextract's bundled snapshot, loaded with no network and no cache directory, so
the split is the same on every machine running the same tldextract version. ``registrable_domain`` honours
the list's private section (``evil.github.io``, ``foo.blogspot.com``: what the scammer controls);
``registry_domain`` is the ICANN-registered name (``github.io``: what WHOIS knows).

A leading ``www.`` label is dropped: ``www.example.com`` and ``example.com`` are one indicator. By
convention ``www`` is the same site as the name under it, and reports of a scam site come in both forms;
keeping two indicators would split its reports, score and sightings in half. Only that label (repeated
or not), and never down to a public suffix (``www.co.uk`` stays ``www.co.uk``). The fact
``www: "dropped"`` records that the input had it. URLs keep their host as written: a URL is exact.

>>> canonicalize("WWW.Example[.]COM.", None).value
'example.com'
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from dataclasses import dataclass
from typing import Final

import idna

from pipeline.canon.core import Canonical, Invalid, simple
from pipeline.canon.registry import Kind, value_input
from pipeline.canon.suffixes import extractor, public_suffix, suffix_list
from pipeline.errors import ScamshareError

logger = logging.getLogger(__name__)

#: Results memoised per module (the function is pure): repeated reports of one value are the common case.
#: About 1.5 KB per entry, so 8,192 entries cost about 12 MB per kind at most.
CACHE_SIZE = 8192

KIND = "domain"
SCO_TYPE: Final = "domain-name"

# Defanging as seen in threat-intel feeds and scam reports: example[.]com, example(dot)com, example{.}com.
_DEFANG_DOT = re.compile(r"\s*(?:\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\})\s*", re.I)
# IDNA 2008 / UTS 46 label separators besides the ASCII full stop.
_UNICODE_DOTS = re.compile("[\u3002\uff0e\uff61]")
_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_ASCII_HOST_CHARS = re.compile(r"[A-Za-z0-9._-]+")
# A lower-case host whose every label is _ASCII_LABEL (so none is empty), and a label with '--' in 3rd and
# 4th position: one match each instead of one per label.
_LDH_HOST = re.compile(rf"{_ASCII_LABEL.pattern}(?:\.{_ASCII_LABEL.pattern})*")
_RESERVED_HYPHENS = re.compile(r"(?:^|\.)[^.]{2}--")
_IP_CHARS = re.compile(r"\[?[0-9A-Fa-f:.%]+\]?")
_SPACE = re.compile(r"\s")
_NOT_A_HOST = re.compile(r"://|[/?#@*:]|\[@\]|\(at\)", re.I)
# What to_ascii gives: non-empty lower-case ASCII labels, no trailing dot (tldextract would change nothing).
_PLAIN_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")


class HostError(ScamshareError, ValueError):
    """A host name cannot be canonicalised; the message says why, for a person."""


@dataclass(frozen=True, slots=True)
class DomainSplit:
    """A host split with the Public Suffix List (all ASCII, lower case)."""

    registrable: str  #: private-section aware: ``evil.github.io``
    suffix: str  #: private-section aware: ``github.io``
    registry_domain: str  #: ICANN section only: ``github.io``
    registry_suffix: str  #: ICANN section only: ``io``


def refang(text: str) -> str:
    """Undo dot defanging: ``[.]``, ``(.)``, ``{.}``, ``[dot]``, ``(dot)``, ``{dot}`` become ``.``."""
    if "[" in text or "(" in text or "{" in text:
        return _DEFANG_DOT.sub(".", text)
    return text


def _label_to_ascii(label: str) -> str:
    if label.isascii():
        label = label.lower()
        if label.startswith("xn--"):
            try:
                ulabel = idna.decode(label)
            except idna.IDNAError as exc:
                raise HostError(f"label {label!r} is not a valid IDNA A-label ({exc})") from exc
            # Only the canonical A-label of a U-label is accepted, so one name has one spelling.
            if idna.encode(ulabel, uts46=True).decode("ascii") != label:
                raise HostError(f"label {label!r} is not the canonical A-label of {ulabel!r}")
            return label
        if not _ASCII_LABEL.fullmatch(label):
            if len(label) > 63:
                raise HostError(f"label {label[:20]!r}... is longer than 63 characters")
            raise HostError(
                f"label {label!r} has a character other than letters, digits and hyphens, "
                "or starts or ends with a hyphen"
            )
        if label[2:4] == "--":
            raise HostError(f"label {label!r} has '--' in 3rd and 4th position (reserved for IDNA)")
        return label
    try:
        out = idna.encode(label, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise HostError(f"label {label!r} is not a valid internationalised name (IDNA 2008: {exc})") from exc
    if len(out) > 63:
        raise HostError(f"label {label!r} is longer than 63 characters once IDNA-encoded")
    return out


@functools.lru_cache(maxsize=32768)
def to_ascii(host: str) -> str:
    """Lower-case ASCII (IDNA 2008 A-label) form of a host name; raises :class:`HostError`.

    Only syntax is checked here (label rules, lengths); :func:`split_domain` checks the public suffix.

    >>> to_ascii("Bücher.DE.")
    'xn--bcher-kva.de'
    """
    host = _UNICODE_DOTS.sub(".", refang(host.strip()))
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise HostError("empty host name")
    if _ASCII_HOST_CHARS.fullmatch(host):
        lowered = host.lower()
        if _LDH_HOST.fullmatch(lowered) and not _RESERVED_HYPHENS.search(lowered):
            ascii_host = lowered  # fast path: plain LDH names need no IDNA machinery
        else:
            ascii_host = ".".join(_checked_labels(lowered.split(".")))
    else:
        ascii_host = ".".join(_checked_labels(host.split(".")))
    if len(ascii_host) > 253:
        raise HostError(f"host name is {len(ascii_host)} characters long; the limit is 253")
    return ascii_host


def _checked_labels(labels: list[str]) -> list[str]:
    if "" in labels:
        raise HostError("empty label in host name (two dots in a row, or a leading dot)")
    return [_label_to_ascii(x) for x in labels]


@functools.lru_cache(maxsize=32768)
def split_domain(ascii_host: str) -> DomainSplit:
    """Split an ASCII host (from :func:`to_ascii`) with the Public Suffix List; raises :class:`HostError`.

    >>> split_domain("login.evil.github.io").registrable
    'evil.github.io'
    """
    if _PLAIN_HOST.fullmatch(ascii_host):
        # What to_ascii gives: the list's lookup without tldextract's URL parsing (pipeline.canon.suffixes).
        labels = ascii_host.split(".")
        rules = suffix_list()
        private = public_suffix(rules.with_private, labels)
        # A second, ICANN-only lookup is needed only when the private section matched (github.io, ...).
        icann = public_suffix(rules.icann, labels) if private is not None and private[1] else private
        found, icann_found = _top_and_suffix(labels, private), _top_and_suffix(labels, icann)
    else:
        found, icann_found = split_with_tldextract(ascii_host)
    return _split(ascii_host, found, icann_found)


def _top_and_suffix(labels: list[str], found: tuple[int, bool] | None) -> tuple[str, str]:
    """tldextract's ``top_domain_under_public_suffix`` and ``suffix`` of a lookup's result."""
    if found is None:
        return "", ""
    at = found[0]
    suffix = ".".join(labels[at:])
    domain = labels[at - 1] if at > 0 else ""
    return (f"{domain}.{suffix}" if domain and suffix else ""), suffix


def split_with_tldextract(host: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """(registrable, suffix) with the list's private section and without it, by ``extract_str``: for a host
    of any other shape than to_ascii's, and the reference a test holds :func:`split_domain` equal to."""
    extract = extractor()  # the bundled snapshot only: nothing fetched, nothing written
    private = extract.extract_str(host)
    icann = extract.extract_str(host, include_psl_private_domains=False) if private.is_private else private
    return (
        (private.top_domain_under_public_suffix, private.suffix),
        (icann.top_domain_under_public_suffix, icann.suffix),
    )


def _split(ascii_host: str, found: tuple[str, str], icann: tuple[str, str]) -> DomainSplit:
    registry_domain, registry_suffix = icann
    if not registry_domain:
        if not registry_suffix:
            raise HostError(f"{ascii_host!r} does not end in a known public suffix (top-level domain)")
        raise HostError(f"{ascii_host!r} is a public suffix, not a domain name")
    registrable = found[0] or registry_domain
    suffix = found[1] if found[0] else registry_suffix
    # Underscores pass in subdomain labels only (see module docstring).
    if "_" in registrable or "_" in registry_domain:
        raise HostError(f"underscore in the registrable domain {registrable!r} is not allowed")
    return DomainSplit(registrable, suffix, registry_domain, registry_suffix)


def is_ip_literal(host: str) -> bool:
    """True for a dotted IPv4 address or an IPv6 address (with or without brackets)."""
    if not _IP_CHARS.fullmatch(host):
        return False  # cheap pre-check: ipaddress raising on every domain name is slow
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def to_unicode(ascii_host: str) -> str:
    """The display (U-label) form of an ASCII host; labels that fail to decode stay as they are."""
    if "xn--" not in ascii_host:
        return ascii_host
    out = []
    for label in ascii_host.split("."):
        try:
            out.append(idna.decode(label) if label.startswith("xn--") else label)
        except idna.IDNAError:
            out.append(label)
    return ".".join(out)


def host_facts(ascii_host: str) -> dict[str, str]:
    """Facts for a validated ASCII host: registrable domain, suffix, registry domain, Unicode form."""
    split = split_domain(ascii_host)
    return {
        "registrable_domain": split.registrable,
        "suffix": split.suffix,
        "registry_domain": split.registry_domain,
        "unicode": to_unicode(ascii_host),
    }


def _not_a_host(text: str) -> str | None:
    """Why ``text`` is a URL, e-mail address, wildcard or host:port rather than a domain name."""
    lowered = text.lower()
    if "://" in text or lowered.startswith(("hxxp", "http:", "https:", "ftp:")):
        return "this is a URL, not a domain name: submit it as type url"
    if "/" in text or "?" in text or "#" in text:
        return "has a path or query; a domain name is a host only: submit it as type url"
    if "@" in text or "[@]" in lowered or "(at)" in lowered:
        return "this is an e-mail address, not a domain name: submit it as type email"
    if "*" in text:
        return "wildcards are not domain names: submit the concrete host"
    if ":" in text and not is_ip_literal(refang(text)):
        return "has a port; a domain name is a host only: submit it as type url"
    return None


@functools.lru_cache(maxsize=CACHE_SIZE)
def canonicalize(value: str, country: str | None) -> Canonical | Invalid:
    """Canonical ``domain-name``: lower-case ASCII, no trailing dot, with a public suffix.

    ``country`` is ignored: domain names are global.
    """
    text = value.strip()
    if _NOT_A_HOST.search(text) or text[:4].lower() == "hxxp":
        reason = _not_a_host(text)
        if reason:
            return Invalid(KIND, value, reason)
    refanged = refang(text)
    if is_ip_literal(refanged):
        return Invalid(KIND, value, "this is an IP address, not a domain name")
    if _SPACE.search(refanged):
        return Invalid(KIND, value, "a domain name cannot contain spaces")
    try:
        host = to_ascii(text)
        facts = host_facts(host)
    except HostError as exc:
        return Invalid(KIND, value, str(exc))
    if host.startswith("www.") and host != "www." + facts["suffix"]:
        # Every leading www label, so that the result canonicalises to itself (www.www.example.com).
        while host.startswith("www.") and host != "www." + facts["suffix"]:
            host = host[4:]
        facts = host_facts(host)
    return simple(KIND, host, facts)


DECLARATION: Final = Kind(
    name=KIND,
    sco_type=SCO_TYPE,
    canonicalize=canonicalize,
    id_properties=(("value",),),
    pattern_properties=(("value",),),
    half_life_days=180,
    enrichers=("facts", "lookalike"),
    stix_input=value_input(SCO_TYPE),
    example="Login-Verify.Example.COM.",
    aliases=(SCO_TYPE, "hostname"),
    misp_types={"domain": KIND, "hostname": KIND, "domain|ip": KIND, "hostname|port": KIND},
)

__all__ = [
    "DECLARATION",
    "DomainSplit",
    "HostError",
    "canonicalize",
    "host_facts",
    "is_ip_literal",
    "refang",
    "split_domain",
    "to_ascii",
    "to_unicode",
]
