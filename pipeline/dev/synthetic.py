"""Synthetic scam reports with realistic duplication, for the benchmark and the crash and fuzz tests.

Many producers, every indicator kind, and about 30% repeats of an earlier scam written the way another
producer would write it (national vs international phone formats, defanged URLs, upper-case domains,
lower-case EIP-55 addresses, spaced IBANs), so the pipeline's canonicalisation and merging do real work.
Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schwifty import IBAN

from pipeline.canon import Canonical, canonicalize
from pipeline.canon.wallet import eip55
from pipeline.config import Topics
from pipeline.producers.publisher import Submission, build_submission
from pipeline.stix.times import stix_timestamp
from pipeline.stix.tlp import TLP
from pipeline.wire.headers import HEADER_PRODUCER

PRODUCERS = (
    "telco-th", "telco-au", "telco-sg", "bank-sg", "bank-au", "bank-de", "bank-th",
    "platform-socialnet", "platform-market", "police-au", "police-th", "cert-sg",
)  # fmt: skip
SCAM_TYPES = ("investment", "romance", "impersonation-bank", "parcel-delivery", "job", "phishing")
BRANDS = ("kbank", "scb", "thaipost", "dbs", "ocbc", "commbank", "auspost", "kerry", "govpay", "mybank")
WORDS = ("secure", "verify", "login", "update", "refund", "track", "support", "wallet", "rewards")
TLDS = ("com", "net", "xyz", "top", "info", "online", "shop")
KIND_WEIGHTS = {
    "phone": 30,
    "url": 20,
    "domain": 12,
    "email": 8,
    "wallet": 10,
    "bank-account": 10,
    "social": 10,
}

# A scam: (kind, the ways producers write it as (raw value, country hint)).
Scam = tuple[str, list[tuple[str, str | None]]]


def _german_iban(rng: random.Random) -> str:
    """A DE IBAN whose account number passes its bank's national check digits (drawn until one does: about
    one random account number in ten does)."""
    while True:
        iban = str(IBAN.generate("DE", bank_code="37040044", account_code=f"{rng.randrange(10**9):010d}"))
        if isinstance(canonicalize("bank-account", iban), Canonical):
            return iban


@dataclass(frozen=True, slots=True)
class SyntheticReport:
    """One report a producer sends: a raw value as that producer writes it, and its report fields."""

    producer: str
    kind: str
    raw: str
    country: str | None
    confidence: int
    scam_types: tuple[str, ...]
    tlp: TLP


def _new_scam(kind: str, rng: random.Random) -> Scam:
    """A fresh scam of ``kind`` with every spelling of it that canonicalises to one value."""
    if kind == "phone":
        if rng.random() < 0.6:
            d = "8" + rng.choice("124689") + f"{rng.randrange(10**7):07d}"
            forms = [f"+66 {d[:2]} {d[2:5]} {d[5:]}", "0066" + d, f"+66{d}"]
            return kind, [(f, None) for f in forms] + [("0" + d, "TH"), (f"0{d[:2]}-{d[2:5]}-{d[5:]}", "TH")]
        d = "4" + rng.choice("0123") + f"{rng.randrange(10**7):07d}"
        return kind, [(f"+61 {d[:3]} {d[3:6]} {d[6:]}", None), ("0" + d, "AU"), (f"0061{d}", None)]
    domain = f"{rng.choice(BRANDS)}-{rng.choice(WORDS)}{rng.randrange(10, 99999)}.{rng.choice(TLDS)}"
    if kind == "domain":
        return kind, [(domain, None), (domain.upper() + ".", None), (domain.replace(".", "[.]"), None)]
    if kind == "url":
        path = f"{rng.choice(WORDS)}/{rng.randrange(16**6):06x}"
        return kind, [
            (f"https://{domain}/{path}", None),
            (f"hxxps://{domain.replace('.', '[.]')}/{path}", None),
            (f"HTTPS://{domain.upper()}:443/{path}", None),
        ]
    if kind == "email":
        user = f"{rng.choice(WORDS)}.{rng.randrange(10**5)}"
        return kind, [(f"{user}@{domain}", None), (f"{user}@{domain.upper()}", None)]
    if kind == "wallet":
        if rng.random() < 0.5:
            raw = rng.randbytes(20).hex()
            return kind, [("0x" + raw, None), (eip55(raw), None)]
        import base58  # noqa: PLC0415

        return kind, [(base58.b58encode_check(b"\x00" + rng.randbytes(20)).decode(), None)]
    if kind == "bank-account":
        iban = _german_iban(rng)
        spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return kind, [(iban, None), (spaced, None), (spaced.lower(), None)]
    handle = f"{rng.choice(['Crypto', 'Invest', 'Lucky', 'Thai'])}{rng.choice(['Mentor', 'Guru', 'Desk'])}"
    handle += str(rng.randrange(10**6))
    return "social", [(f"telegram:@{handle}", None), (f"https://t.me/{handle}", None)]


def synthetic_reports(
    n: int, *, seed: int = 2026, repeat_fraction: float = 0.3, producers: Sequence[str] = PRODUCERS
) -> list[SyntheticReport]:
    """``n`` reports over every kind; about ``repeat_fraction`` of them re-report an earlier scam, usually
    from another producer and in another spelling (so they merge into an existing indicator)."""
    rng = random.Random(seed)
    kinds = list(KIND_WEIGHTS)
    weights = list(KIND_WEIGHTS.values())
    scams: list[Scam] = []
    out: list[SyntheticReport] = []
    for _ in range(n):
        if scams and rng.random() < repeat_fraction:
            kind, forms = rng.choice(scams)
        else:
            kind, forms = _new_scam(rng.choices(kinds, weights)[0], rng)
            scams.append((kind, forms))
        raw, country = rng.choice(forms)
        tlp = rng.choices([TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED], [5, 70, 18, 5, 2])[0]
        out.append(
            SyntheticReport(
                producer=rng.choice(producers),
                kind=kind,
                raw=raw,
                country=country,
                confidence=rng.choice([50, 60, 70, 80, 90, 100]),
                scam_types=tuple(rng.sample(SCAM_TYPES, k=rng.choice([1, 1, 2]))),
                tlp=tlp,
            )
        )
    return out


def build_messages(reports: Sequence[SyntheticReport], now: datetime) -> list[Submission]:
    """The submission message of each report, stamped ``now`` (see :func:`restamp`)."""
    out: list[Submission] = []
    for r in reports:
        canonical = canonicalize(r.kind, r.raw, country=r.country)
        if not isinstance(canonical, Canonical):
            raise ValueError(f"synthetic {r.kind} {r.raw!r} is invalid: {canonical.reason}")  # noqa: TRY004
        out.append(
            build_submission(
                canonical, producer=r.producer, now=now, tlp=r.tlp, confidence=r.confidence,
                scam_types=list(r.scam_types), country_hint=r.country, raw_value=r.raw,
            )
        )  # fmt: skip
    return out


def restamp(value: bytes, built: datetime, now: datetime) -> bytes:
    """Move a message built at ``built`` to ``now`` (every timestamp in it is that one instant), so latency
    is measured from the real send time while the messages are built before the clock starts."""
    return value.replace(stix_timestamp(built).encode(), stix_timestamp(now).encode())


def submission_topic(topics: Topics, m: Submission) -> str:
    """The producer's own submissions topic, the channel the worker authenticates the message by."""
    return topics.submissions_of(dict(m.headers)[HEADER_PRODUCER].decode())
