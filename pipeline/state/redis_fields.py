"""One indicator's state as a Redis hash: the field layout and its (de)serialisation.

Short field names, since the hash is most of the memory an indicator costs (``make bench`` reports the bytes
per indicator). :mod:`pipeline.state.redis_store` writes and reads these hashes.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.state.indicator import Audience, Contribution, IndicatorState
from pipeline.stix.tlp import TLP

# Redis hash fields of one indicator (short names: this is most of the memory an indicator costs):
# k kind, val value, cc country, n reports, sg sightings, tp/fp sighting organisations, x revoked,
# al allowlisted, s score, v version, r revision; c:<org>:<tlp> one contribution each, a:<audience> one
# audience each, d:<subscriber> deliveries. One field per contribution and audience keeps every value short:
# Redis keeps a hash whose fields and values are all at most 64 bytes (hash-max-listpack-value) as a compact
# listpack, and a longer one as a hash table about three times the size.


def _contribution_text(c: Contribution) -> str:
    types = ",".join(sorted(c.scam_types))
    return f"{c.first_ms}|{c.last_ms}|{c.reports}|{c.confidence}|{types}|{'1' if c.withdrawn else ''}"


def _contribution(field: str, text: str) -> Contribution:
    _, org, tlp = field.split(":")
    first, last, n, conf, types, w = text.split("|")
    return Contribution(org, TLP(int(tlp)), int(first), int(last), int(n), int(conf), _split(types), w == "1")


def state_to_fields(state: IndicatorState) -> list[str]:
    """Flat field/value list for HSET (Redis stores strings).

    Fields that only ever move away from their default (revoked, allowlisted, sightings, sighting
    organisations, country) are left out while they hold it: most indicators never leave the defaults, and
    an HSET that omits a field never needs to reset it (``make bench`` reports the bytes per indicator).
    """
    fields = [
        "k", state.kind,
        "val", state.value,
        "n", str(state.reports),
        "s", str(state.score),
        "v", str(state.version),
        "r", str(state.rev),
    ]  # fmt: skip
    for c in state.contributions:
        fields += [f"c:{c.org}:{int(c.tlp)}", _contribution_text(c)]
    for key, a in state.audiences:
        fields += [f"a:{key}", f"{a.fingerprint}/{a.seq}/{a.since}"]
    optional = (
        ("x", "1" if state.revoked else ""),
        ("sg", "" if state.sightings == (0, 0, 0) else ",".join(str(n) for n in state.sightings)),
        ("tp", ",".join(sorted(state.tp_by))),
        ("fp", ",".join(sorted(state.fp_by))),
        ("cc", state.country),
        ("al", "1" if state.allowlisted else ""),
    )
    for name, value in optional:
        if value:
            fields += [name, value]
    return fields


def _split(text: str) -> frozenset[str]:
    return frozenset(text.split(",")) if text else frozenset()


def _audiences(data: Mapping[str, str]) -> tuple[tuple[str, Audience], ...]:
    out = []
    for field, text in data.items():
        if field.startswith("a:"):
            fp, seq, since = text.split("/")
            out.append((field[2:], Audience(fp, int(seq), int(since))))
    return tuple(sorted(out))


def state_from_fields(
    indicator_id: str, raw: Mapping[bytes, bytes]
) -> tuple[IndicatorState | None, dict[str, int]]:
    data = {k.decode(): v.decode() for k, v in raw.items()}
    delivered = {k[2:]: int(v) for k, v in data.items() if k.startswith("d:")}
    if "r" not in data:
        return None, delivered
    tp, fp, bl = (int(n) for n in data.get("sg", "0,0,0").split(","))
    parsed = tuple(
        sorted((_contribution(f, t) for f, t in data.items() if f.startswith("c:")), key=lambda c: c.key)
    )
    if not parsed and "tlp" in data and data.get("c", "").isdigit():
        parsed = legacy_contributions(data)
    state = IndicatorState(
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
        audiences=_audiences(data),
    )
    return state, delivered


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
