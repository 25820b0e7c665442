"""E-mail addresses: domain part lower case and IDNA-encoded, local part kept exactly as written.

The local part is not case-folded and dots or ``+tags`` are not removed: RFC 5321 leaves it to the
receiving server, and a Gmail rule applied to every provider would merge different mailboxes.

Accepted forms: ``Alice@Example.COM``, ``mailto:alice@example.com?subject=x``, ``Alice <alice@example.com>``,
defanged ``alice[@]example[.]com``, ``alice(at)example(dot)com``, ``alice [at] example [dot] com``,
``alice at example dot com``, and internationalised addresses (``用户@例子.中国``: the local part as UTF-8,
RFC 6531). A quoted local part
(``"john doe"@example.com``) is accepted as written.

>>> canonicalize("Alice.Smith@Example[.]COM", None).value
'Alice.Smith@example.com'
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Final

from pipeline.canon.core import Canonical, Invalid, simple
from pipeline.canon.domain import HostError, host_facts, is_ip_literal, refang, to_ascii
from pipeline.canon.registry import Kind, value_input

logger = logging.getLogger(__name__)

#: Results memoised per module (the function is pure): repeated reports of one value are the common case.
#: About 1.5 KB per entry, so 8,192 entries cost about 12 MB per kind at most.
CACHE_SIZE = 8192

KIND = "email"
SCO_TYPE: Final = "email-addr"

_DEFANG_AT = re.compile(r"\s*(?:\[\s*(?:@|at)\s*\]|\(\s*(?:@|at)\s*\)|\{\s*(?:@|at)\s*\})\s*", re.I)
# "john at example dot com", as people write addresses to dodge scrapers.
_SPELLED = re.compile(r"\S+\s+at\s+\S+(?:\s+dot\s+\S+)+", re.I)
_SPELLED_AT = re.compile(r"\s+at\s+", re.I)
_SPELLED_DOT = re.compile(r"\s+dot\s+", re.I)
_ANGLE = re.compile(r"<([^<>]*)>\s*$")
# RFC 5322 dot-atom text, plus any non-ASCII character (RFC 6531).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_DOT_ATOM = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_QUOTED = re.compile(r'"(?:[^"\\\r\n]|\\.)*"')
_SPACE = re.compile(r"\s")  # what str.isspace() calls white space, found without a Python loop


def _split(text: str) -> tuple[str, str] | str:
    """(local, domain) or a reason."""
    if text.startswith('"'):
        quoted = _QUOTED.match(text)
        if not quoted or text[quoted.end() : quoted.end() + 1] != "@":
            return "unterminated quoted local part"
        return text[: quoted.end()], text[quoted.end() + 1 :]
    count = text.count("@")
    if count == 0:
        return "no @: an e-mail address is local-part@domain"
    if count > 1:
        return "more than one @ (only a quoted local part may contain @)"
    local, _, domain = text.partition("@")
    return local, domain


@functools.lru_cache(maxsize=CACHE_SIZE)
def canonicalize(value: str, country: str | None) -> Canonical | Invalid:
    """Canonical ``email-addr``. ``country`` is ignored."""
    text = value.strip()
    angle = _ANGLE.search(text)
    if angle:
        text = angle.group(1).strip()  # "Display Name <addr>"
    if text[:7].lower() == "mailto:":
        text = text[7:].partition("?")[0]
    if "[" in text or "(" in text or "{" in text:
        text = refang(_DEFANG_AT.sub("@", text))
    elif "@" not in text and _SPELLED.fullmatch(text):
        text = _SPELLED_DOT.sub(".", _SPELLED_AT.sub("@", text, count=1))
    parts = _split(text)
    if isinstance(parts, str):
        return Invalid(KIND, value, parts)
    local, domain = parts
    if not local:
        return Invalid(KIND, value, "empty local part before @")
    if not domain:
        return Invalid(KIND, value, "empty domain after @")
    if not local.startswith('"') and not _DOT_ATOM.fullmatch(local):
        return Invalid(
            KIND, value, f"local part {local!r} has a character not allowed unquoted (space, comma, ...)"
        )
    if len(local.encode("utf-8")) > 64:
        return Invalid(KIND, value, "local part is longer than 64 bytes")
    if domain.startswith("[") or is_ip_literal(domain):
        return Invalid(KIND, value, "IP-address domains are not accepted: the domain must be a host name")
    if _SPACE.search(domain) or "/" in domain or ":" in domain:
        return Invalid(KIND, value, f"domain {domain!r} is not a host name")
    try:
        host = to_ascii(domain)
        facts = host_facts(host)
    except HostError as exc:
        return Invalid(KIND, value, f"bad domain: {exc}")
    address = f"{local}@{host}"
    if len(address.encode("utf-8")) > 254:
        return Invalid(KIND, value, "address is longer than 254 bytes")
    facts["domain_unicode"] = facts.pop("unicode")
    return simple(KIND, address, {"domain": host, **facts})


DECLARATION: Final = Kind(
    name=KIND,
    sco_type=SCO_TYPE,
    canonicalize=canonicalize,
    id_properties=(("value",),),
    pattern_properties=(("value",),),
    half_life_days=90,
    enrichers=("facts", "lookalike", "host_class"),
    stix_input=value_input(SCO_TYPE),
    example="Support <Support@Secure-Login-Bank.com>",
    aliases=(SCO_TYPE, "email-address", "e-mail"),
    # Not email-dst: a message's recipient is its victim, never the scam.
    misp_types={"email-src": KIND, "email": KIND},
)

__all__ = ["DECLARATION", "canonicalize"]
