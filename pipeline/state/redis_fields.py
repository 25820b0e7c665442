"""One indicator's state as a Redis hash: the field layout and its (de)serialisation.

The hash is most of the memory an indicator costs (``make bench`` reports the bytes per indicator), so the
state is written as one compact text, cut into pieces Redis keeps small (``scamshare.indicator/3``):

- ``r``         the revision, in decimal: the compare-and-set reads it alone
- ``0``, ``1``… the rest of the state as one UTF-8 text (below), cut into pieces of at most 63 bytes. Redis
  keeps a hash whose fields and values are all at most 64 bytes (``hash-max-listpack-value``, in Redis 6
  ``hash-max-ziplist-value``) as a compact listpack (ziplist), and a longer one as a hash table about three
  times the size; a string of at most 63 bytes also takes the shortest header there. The value comes first,
  so a short one lies whole in piece ``0``.
- ``d:<subscriber>`` the last version each past recipient received (written by the delivery script)

The text is ``<length of the value>:<value>`` followed by these sections, joined by ``|``: kind, reports,
score, version, contributions, audiences, country, sightings, true-positive organisations, false-positive
organisations, flags (empty sections at the end may be left out; the reader takes a missing one as empty).

- kind: a digit, the index of a kind in :data:`KIND_CODES` (append only), else its name (``~`` first when
  the name starts with a digit or ``~``); reports: empty when it is the sum of the contributions' reports
- contributions, ``;``-joined, each ``org,tlp,first,last,reports,confidence,scam types[,1]``: ``first`` is
  the first contribution's first-seen ms as 8 base64 characters of 6 bytes (``~`` + hex out of that range),
  and for the others the difference from it in hex; ``last`` is last-seen minus first-seen in hex (empty:
  0); ``reports`` is empty for 1; scam types are ``.``-joined, sorted; a trailing ``,1``: withdrawn
- audiences, ``;``-joined, in order, each ``key[=view]``: a key ``<class>:<org>`` is written
  ``<class>@<i>`` when ``org`` is the organisation of contribution ``i`` (the first such); an entry without a
  view has the previous entry's. A view is the fingerprint (10 hex digits as 7 base64 characters, any other
  one as ``~<fingerprint>~``), then its sequence number, then ``.<since>`` unless that equals it
- sightings ``tp,fp,blocked`` (empty: none); organisations ``,``-joined, sorted; flags ``x`` revoked,
  ``a`` allowlisted

Organisation ids, scam types, audience keys, countries, kind names and fingerprints never hold ``|;,=@.~``
(:mod:`pipeline.wire.fields`, the kind registry); the value may hold anything (its length delimits it).
States written by the earlier layouts (one field per contribution and audience, ``scamshare.indicator/2``;
and before TLP per report, ``/1``) are read as they are, and the next commit of one rewrites it in this
layout.
"""

from __future__ import annotations

from binascii import a2b_base64, b2a_base64
from collections.abc import Mapping
from typing import Final

from pipeline.state.indicator import Audience, Contribution, IndicatorState
from pipeline.stix.tlp import TLP

__all__ = ["KIND_CODES", "PIECE_BYTES", "legacy_contributions", "state_from_fields", "state_to_fields"]

#: Kinds written as one digit (their index): append only, a code never changes its meaning.
KIND_CODES: Final = ("phone", "url", "domain", "email", "wallet", "bank-account", "social", "imei")
#: The longest piece of the state text (a listpack string of at most 63 bytes has a one-byte header).
PIECE_BYTES: Final = 63

_KIND_CODE: Final = {k: str(i) for i, k in enumerate(KIND_CODES)}
_TLP: Final = {str(int(t)): t for t in TLP}
_HEX: Final = "0123456789abcdef"
_DIGITS: Final = frozenset("0123456789")
_PIECES: Final = tuple(str(i).encode() for i in range(512))  # hash-max-listpack-entries is 512
_SECTIONS: Final = 11


# -- encoding -----------------------------------------------------------------------------------------
def _first_seen(ms: int) -> str:
    if 0 <= ms < 1 << 48:
        return b2a_base64(ms.to_bytes(6, "big"), newline=False).decode()
    return f"~{ms:x}"


def _contributions(cs: tuple[Contribution, ...]) -> str:
    out: list[str] = []
    base = cs[0].first_ms
    for c in cs:
        first = f"{c.first_ms - base:x}" if out else _first_seen(base)
        span = c.last_ms - c.first_ms
        types = c.scam_types
        text = (
            f"{c.org},{int(c.tlp)},{first},{f'{span:x}' if span else ''},"
            f"{c.reports if c.reports != 1 else ''},{c.confidence},"
            f"{'.'.join(sorted(types)) if len(types) > 1 else next(iter(types), '')}"
        )
        out.append(text + ",1" if c.withdrawn else text)
    return ";".join(out)


def _audiences(state: IndicatorState) -> str:
    orgs: list[str] | None = None
    out = []
    previous: tuple[str, int, int] | None = None
    for name, a in state.audiences:
        key = name
        if ":" in name:
            cls, _, org = name.partition(":")
            if orgs is None:
                orgs = [c.org for c in state.contributions]
            if org in orgs:
                key = f"{cls}@{orgs.index(org)}"
        view = (fp, seq, since) = (a.fingerprint, a.seq, a.since)
        if view == previous:
            out.append(key)
            continue
        previous = view
        # 10 lower-case hex digits (every fingerprint but NO_VIEW) as 7 base64 characters
        if len(fp) == 10 and not fp.strip(_HEX):
            fp = b2a_base64(bytes.fromhex(fp), newline=False)[:7].decode()
        else:
            fp = f"~{fp}~"
        out.append(f"{key}={fp}{seq}" if seq == since else f"{key}={fp}{seq}.{since}")
    return ";".join(out)


def state_text(state: IndicatorState) -> str:
    """The state (all but its id and revision) as the text the hash pieces hold (module docstring)."""
    kind = state.kind
    code = _KIND_CODE.get(kind)
    if code is None:
        code = f"~{kind}" if kind and (kind[0] == "~" or kind[0] in _DIGITS) else kind
    cs = state.contributions
    summed = cs[0].reports if len(cs) == 1 else sum(c.reports for c in cs)
    text = (
        f"{len(state.value)}:{state.value}{code}|{'' if state.reports == summed else state.reports}|"
        f"{state.score}|{state.version}|{_contributions(cs) if cs else ''}|"
        f"{_audiences(state) if state.audiences else ''}"
    )
    if state.sightings != (0, 0, 0) or state.tp_by or state.fp_by or state.revoked or state.allowlisted:
        sightings = "" if state.sightings == (0, 0, 0) else ",".join(str(n) for n in state.sightings)
        flags = ("x" if state.revoked else "") + ("a" if state.allowlisted else "")
        tp, fp = ",".join(sorted(state.tp_by)), ",".join(sorted(state.fp_by))
        return f"{text}|{state.country}|{sightings}|{tp}|{fp}|{flags}"
    return f"{text}|{state.country}" if state.country else text


def state_to_fields(state: IndicatorState) -> list[str | bytes]:
    """Flat field/value list for HSET: ``r`` and the revision first, then the pieces ``0``, ``1``, …

    Every field the layout has is written each time, so an HSET over an earlier state of this layout leaves
    nothing of it but pieces past the new last one (the commit script deletes those).
    """
    text = state_text(state).encode()
    fields: list[str | bytes] = ["r", str(state.rev)]
    for n, start in enumerate(range(0, len(text), PIECE_BYTES)):
        fields += [_PIECES[n], text[start : start + PIECE_BYTES]]
    return fields


# -- decoding -----------------------------------------------------------------------------------------
def _split(text: str, sep: str = ",") -> frozenset[str]:
    return frozenset(text.split(sep)) if text else frozenset()


def _parse_contributions(text: str) -> tuple[Contribution, ...]:
    out = []
    base = 0
    for i, item in enumerate(text.split(";")):
        org, tlp, first, span, reports, confidence, types, *withdrawn = item.split(",")
        if i == 0:
            base = first_ms = int(first[1:], 16) if first[:1] == "~" else int.from_bytes(a2b_base64(first))
        else:
            first_ms = base + int(first, 16)
        out.append(
            Contribution(
                org,
                _TLP[tlp],
                first_ms,
                first_ms + int(span, 16) if span else first_ms,
                int(reports) if reports else 1,
                int(confidence),
                _split(types, "."),
                bool(withdrawn),
            )
        )
    return tuple(out)


def _view(text: str) -> Audience:
    if text[0] == "~":
        end = text.index("~", 1)
        fp, rest = text[1:end], text[end + 1 :]
    else:
        fp, rest = a2b_base64(text[:7] + "=").hex(), text[7:]
    seq, dot, since = rest.partition(".")
    return Audience(fp, int(seq), int(since) if dot else int(seq))


def _parse_audiences(text: str, cs: tuple[Contribution, ...]) -> tuple[tuple[str, Audience], ...]:
    out = []
    view = Audience()
    for item in text.split(";"):
        key, eq, rest = item.partition("=")
        if eq:
            view = _view(rest)
        cls, at, i = key.partition("@")
        out.append((f"{cls}:{cs[int(i)].org}" if at else key, view))
    return tuple(out)


def parse_state(indicator_id: str, rev: int, text: str) -> IndicatorState:
    """The state a :func:`state_text` wrote (with the id and revision it was stored under)."""
    colon = text.index(":")
    end = colon + 1 + int(text[:colon])
    value = text[colon + 1 : end]
    sections = text[end:].split("|")
    if len(sections) < _SECTIONS:
        sections += [""] * (_SECTIONS - len(sections))
    kind, reports, score, version, contribs, audiences, country, sightings, tp, fp, flags = sections
    if kind and kind[0] in _DIGITS:
        kind = KIND_CODES[int(kind)]
    elif kind[:1] == "~":
        kind = kind[1:]
    cs = _parse_contributions(contribs) if contribs else ()
    tp_n, fp_n, bl_n = (int(n) for n in sightings.split(",")) if sightings else (0, 0, 0)
    return IndicatorState(
        indicator_id=indicator_id,
        kind=kind,
        value=value,
        contributions=cs,
        reports=int(reports) if reports else cs[0].reports if len(cs) == 1 else sum(c.reports for c in cs),
        sightings=(tp_n, fp_n, bl_n),
        tp_by=_split(tp),
        fp_by=_split(fp),
        revoked="x" in flags,
        allowlisted="a" in flags,
        score=int(score),
        version=int(version),
        rev=rev,
        country=country,
        audiences=_parse_audiences(audiences, cs) if audiences else (),
    )


def state_from_fields(
    indicator_id: str, raw: Mapping[bytes, bytes]
) -> tuple[IndicatorState | None, dict[str, int]]:
    """The state stored in a hash (None: there is none, only delivery marks or nothing) and its delivered
    map (subscriber → version); reads this layout and both earlier ones."""
    delivered = {k[2:].decode(): int(v) for k, v in raw.items() if k[:2] == b"d:"}
    first = raw.get(b"0")
    if first is None:
        return _legacy_state(indicator_id, raw), delivered
    pieces = [first]
    for name in _PIECES[1:]:
        piece = raw.get(name)
        if piece is None:
            break
        pieces.append(piece)
    return parse_state(indicator_id, int(raw[b"r"]), b"".join(pieces).decode()), delivered


# -- the earlier layouts ------------------------------------------------------------------------------
def _legacy_contribution(field: str, text: str) -> Contribution:
    _, org, tlp = field.split(":")
    first, last, n, conf, types, w = text.split("|")
    return Contribution(org, TLP(int(tlp)), int(first), int(last), int(n), int(conf), _split(types), w == "1")


def _legacy_audiences(data: Mapping[str, str]) -> tuple[tuple[str, Audience], ...]:
    out = []
    for field, text in data.items():
        if field.startswith("a:"):
            fp, seq, since = text.split("/")
            out.append((field[2:], Audience(fp, int(seq), int(since))))
    return tuple(sorted(out))


def _legacy_state(indicator_id: str, raw: Mapping[bytes, bytes]) -> IndicatorState | None:
    """A state of ``scamshare.indicator/2`` (a field per contribution ``c:<org>:<tlp>`` and per audience
    ``a:<key>``, the rest in fields ``k val n s v r cc sg tp fp x al``) or ``/1`` (no TLP per report)."""
    data = {k.decode(): v.decode() for k, v in raw.items() if k[:2] != b"d:"}
    if "r" not in data:
        return None
    tp, fp, bl = (int(n) for n in data.get("sg", "0,0,0").split(","))
    parsed = tuple(
        sorted(
            (_legacy_contribution(f, t) for f, t in data.items() if f.startswith("c:")), key=lambda c: c.key
        )
    )
    if not parsed and "tlp" in data and data.get("c", "").isdigit():
        parsed = legacy_contributions(data)
    return IndicatorState(
        indicator_id=indicator_id,
        kind=data["k"],
        value=data["val"],
        contributions=parsed,
        reports=int(data["n"]),
        sightings=(tp, fp, bl),
        tp_by=_split(data.get("tp", "")),
        fp_by=_split(data.get("fp", "")),
        revoked=data.get("x") == "1",
        allowlisted=data.get("al") == "1",
        score=int(data.get("s", "0")),
        version=int(data.get("v", "0")),
        rev=int(data["r"]),
        country=data.get("cc", ""),
        audiences=_legacy_audiences(data),
    )


def legacy_contributions(data: Mapping[str, str]) -> tuple[Contribution, ...]:
    """Contributions of a state written before TLP per report (``scamshare.indicator/1``): one per reporter
    at the merged TLP (the most restrictive, so nothing becomes more visible than it was), with the merged
    confidence, first/last seen and scam types; a retracted reporter's is withdrawn. Its audiences are
    empty, so its next change publishes every audience's view afresh."""
    reporters, retracted = _split(data.get("p", "")), _split(data.get("rt", ""))
    orgs = sorted(reporters | retracted)
    reports = max(1, int(data.get("n", "1")) // max(1, len(orgs)))
    return tuple(
        Contribution(
            org=org,
            tlp=TLP(int(data["tlp"])),
            first_ms=int(data["f"]),
            last_ms=int(data["l"]),
            reports=reports,
            confidence=int(data["c"]),
            scam_types=_split(data.get("t", "")),
            withdrawn=org in retracted,
        )
        for org in orgs
    )
