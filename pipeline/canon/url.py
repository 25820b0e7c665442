"""URLs: refang, then RFC 3986 syntax normalisation with the WHATWG URL Standard's leniencies.

What is done, in order:

- refang: ``hxxp``/``hxxps``/``hxxxp``/``fxp``, ``[:]``, ``[://]``, ``[.]``, ``(dot)``...;
- tabs, newlines and surrounding blanks are removed (browsers do the same);
- scheme must be http, https or ftp; a bare ``example.com/path`` or ``//example.com`` gets ``http://``;
  other schemes (``mailto:``, ``javascript:``, ``data:``) are rejected;
- backslashes before the query count as slashes (browsers treat ``http:\\\\evil.com\\a`` so);
- scheme and host lower case; host IDNA 2008 to ASCII and must have a public suffix; IP literals are
  allowed, IPv4 in browser forms too (``0x7f.1``, ``3232235777`` become dotted decimal), IPv6 compressed;
- user info is kept (``http://bank.com@evil.com/`` is a classic phishing trick and part of the identity);
- default port dropped (80, 443, 21), other ports kept;
- percent-encoding normalised: escapes of unreserved characters decoded, other escapes upper-case hex,
  characters that must be escaped (spaces, non-ASCII, ``"<>``...) escaped as UTF-8;
- dot segments removed, empty path becomes ``/``;
- query kept as is apart from escaping (parameter order is significant to some servers); an empty ``?`` is
  dropped; the fragment is dropped (it never reaches the server).

>>> canonicalize("hxxps://Www.Example[.]COM:443/a/../b%7e?x=1#frag", None).value
'https://www.example.com/b~?x=1'
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from typing import Final

from pipeline.canon.core import Canonical, Invalid, simple
from pipeline.canon.domain import HostError, host_facts, refang, to_ascii
from pipeline.canon.registry import Kind, value_input

logger = logging.getLogger(__name__)

#: Results memoised per module (the function is pure): repeated reports of one value are the common case.
#: About 1.5 KB per entry, so 8,192 entries cost about 12 MB per kind at most.
CACHE_SIZE = 8192

KIND = "url"
SCO_TYPE: Final = "url"

_DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21"}
_FANGED_SCHEME = re.compile(r"^h(?:xx|xxx|\*\*|tt)p(s?)(?=\[?:|\[://\])", re.I)
_FANGED_FTP = re.compile(r"^f[x*]p(?=\[?:|\[://\])", re.I)
_DEFANG_COLON = re.compile(r"\[://\]|\[:\]//|\[:\]|\(:\)")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_WEB_SCHEME = re.compile(r"^(https?|ftp):[/\\]*", re.I)
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_SPACE = re.compile(r"\s")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = b"!$&'()*+,;="
# Bytes left as they are in each component (besides unreserved and '%' of a valid escape).
_PATH_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(b":@/"))
_QUERY_SAFE = frozenset(_PATH_SAFE | set(b"?"))
_USERINFO_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(b":"))
# Each safe set as a regex: "is every character safe" is the common case and one fullmatch answers it.
_SAFE_RUN: Final = {
    safe: re.compile("[" + re.escape("".join(chr(b) for b in sorted(safe))) + "]*")
    for safe in (_PATH_SAFE, _QUERY_SAFE, _USERINFO_SAFE)
}
_PORT = re.compile(r"[0-9]{1,5}")
_IPV4_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]*|[0-9]+")


class _UrlError(HostError):
    """A URL cannot be canonicalised (a HostError so host problems and URL problems share one path)."""


def _normalise_component(text: str, safe: frozenset[int]) -> str:
    """Percent-encoding normalisation of one component (RFC 3986 section 6.2.2.2, plus escaping)."""
    if _SAFE_RUN[safe].fullmatch(text):
        return text  # already canonical (ASCII, no '%', nothing to escape): the common case
    raw = text.encode("utf-8")
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        b = raw[i]
        if b == 0x25:  # '%'
            hexpair = raw[i + 1 : i + 3]
            if len(hexpair) == 2 and _PERCENT.fullmatch("%" + hexpair.decode("latin-1")):
                v = int(hexpair, 16)
                out.append(chr(v) if v in _UNRESERVED else f"%{v:02X}")
                i += 3
                continue
            out.append("%25")  # a stray '%' is escaped itself, as browsers do
        elif b in safe:
            out.append(chr(b))
        else:
            out.append(f"%{b:02X}")
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on an absolute path."""
    if "." not in path:
        return path
    segments = path.split("/")[1:]
    out: list[str] = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        elif seg == ".":
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/" + "/".join(out)


def _parse_ipv4(host: str) -> str | None:
    """WHATWG IPv4 parser: ``0x7f.1`` and ``2130706433`` are 127.0.0.1. None if the host is not IPv4-like."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _IPV4_NUMBER.fullmatch(parts[-1]):
        return None  # does not "end in a number": a domain name
    if len(parts) > 4:
        raise _UrlError(f"host {host!r} looks like an IPv4 address but has more than four parts")
    numbers: list[int] = []
    for part in parts:
        if not _IPV4_NUMBER.fullmatch(part):
            raise _UrlError(f"host {host!r} ends in a number but is not a valid IPv4 address")
        try:
            if part[:2] in ("0x", "0X"):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part[0] == "0":
                numbers.append(int(part, 8))
            else:
                numbers.append(int(part))
        except ValueError as exc:
            raise _UrlError(f"host {host!r}: {part!r} is not a valid IPv4 number") from exc
    if any(x > 255 for x in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise _UrlError(f"host {host!r} is out of range for an IPv4 address")
    value = numbers[-1]
    for i, x in enumerate(numbers[:-1]):
        value += x * 256 ** (3 - i)
    return str(ipaddress.IPv4Address(value))


def _host(raw: str) -> tuple[str, dict[str, str]]:
    """Canonical host and its facts."""
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise _UrlError(f"unterminated IPv6 literal {raw!r}")
        try:
            ip6 = ipaddress.IPv6Address(raw[1:-1])
        except ValueError as exc:
            raise _UrlError(f"{raw!r} is not a valid IPv6 address") from exc
        return f"[{ip6.compressed}]", {"host": f"[{ip6.compressed}]", "ip": ip6.compressed}
    if "%" in raw:
        try:
            raw = _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), raw).encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            raise _UrlError(f"host {raw!r} has percent-escapes that are not UTF-8") from None
    if not raw:
        raise _UrlError("URL has no host")
    ip4 = _parse_ipv4(raw.lower()) if raw.isascii() else None
    if ip4 is not None:
        return ip4, {"host": ip4, "ip": ip4}
    host = to_ascii(raw)
    facts = host_facts(host)
    facts["domain_unicode"] = facts.pop("unicode")
    return host, {"host": host, "domain": host, **facts}


def _split_scheme(text: str) -> tuple[str, str]:
    """(scheme, rest after '://'); adds http for scheme-less input; rejects non-web schemes."""
    web = _WEB_SCHEME.match(text)
    if web:
        return web.group(1).lower(), text[web.end() :]
    if text.startswith(("//", "\\\\")):
        return "http", text[2:]
    other = _SCHEME.match(text)
    if other:
        name = other.group(1)
        after = text[other.end() :]
        # 'example.com:8080/x' and 'localhost:80' are host:port, not a scheme.
        if "." not in name and not after[:1].isdigit():
            raise _UrlError(f"scheme {name.lower()!r} is not supported: only http, https and ftp URLs")
    return "http", text


@functools.lru_cache(maxsize=CACHE_SIZE)
def canonicalize(value: str, country: str | None) -> Canonical | Invalid:
    """Canonical ``url`` (see the module docstring). ``country`` is ignored."""
    text = _TAB_NEWLINE.sub("", value).strip()
    text = _FANGED_SCHEME.sub(lambda m: "http" + m.group(1), text, count=1)
    text = _FANGED_FTP.sub("ftp", text, count=1)
    if "[" in text or "(" in text or "{" in text:
        text = refang(_DEFANG_COLON.sub(lambda m: "://" if "//" in m.group(0) else ":", text))
    try:
        return _canonicalize(text, value)
    except HostError as exc:
        return Invalid(KIND, value, str(exc))


def _canonicalize(text: str, value: str) -> Canonical:
    scheme, rest = _split_scheme(text)
    text_end = len(rest)
    for sep in "/?#\\":
        pos = rest.find(sep)
        if pos != -1:
            text_end = min(text_end, pos)
    authority, tail = rest[:text_end], rest[text_end:]
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        userinfo = ""
    if hostport.startswith("["):
        close = hostport.find("]")
        host_raw, port = (hostport[: close + 1], hostport[close + 2 :]) if close != -1 else (hostport, "")
        if close != -1 and hostport[close + 1 : close + 2] not in ("", ":"):
            raise _UrlError(f"unexpected text after IPv6 literal in {hostport!r}")
    else:
        host_raw, _, port = hostport.partition(":")
    if _SPACE.search(host_raw):
        raise _UrlError("the host contains a space")
    host, facts = _host(host_raw)
    if port:
        if not _PORT.fullmatch(port) or int(port) > 65535:
            raise _UrlError(f"port {port!r} is not a number from 0 to 65535")
        port = str(int(port))
        if port == _DEFAULT_PORTS[scheme]:
            port = ""
    tail, _, _fragment = tail.partition("#")
    path, qmark, query = tail.partition("?")
    path = _remove_dot_segments(_normalise_component(path.replace("\\", "/"), _PATH_SAFE)) or "/"
    if not path.startswith("/"):
        path = "/" + path
    query = _normalise_component(query, _QUERY_SAFE) if qmark else ""
    user = _normalise_component(userinfo, _USERINFO_SAFE) + "@" if userinfo else ""
    canonical = f"{scheme}://{user}{host}{':' + port if port else ''}{path}{'?' + query if query else ''}"
    facts["scheme"] = scheme
    return simple(KIND, canonical, facts)


DECLARATION: Final = Kind(
    name=KIND,
    sco_type=SCO_TYPE,
    canonicalize=canonicalize,
    id_properties=(("value",),),
    pattern_properties=(("value",),),
    half_life_days=14,
    enrichers=("facts", "lookalike", "host_class"),
    stix_input=value_input(SCO_TYPE),
    example="hxxps://evil[.]com/login",
    aliases=("uri",),
    misp_types={"url": KIND},
)

__all__ = ["DECLARATION", "canonicalize"]
