"""Regenerate the bundled demo data set in pipeline/data/samples/ (deterministic: seed 2026).

Four producers report overlapping scam indicators, each in its own format and its own spelling of the same
values, the way a telecom, a bank, a platform and a police unit really would:

- telco-th            telecom, Thailand     CSV        phone numbers in national format (0812345678), SMS URLs
- bank-sg             bank, Singapore       JSON Lines  international phones (+66 81 234 5678), IBANs, wallets,
                                                        Telegram profile links
- platform-socialnet  platform              MISP event  domains, defanged URLs, e-mails, phone numbers
- police-au           police unit           STIX 2.1    wallets (EIP-55 / lower case), domains, phones (0066...),
                                                        IBANs, Telegram accounts

plus malformed.jsonl: raw messages from a buggy producer, sent as-is so they land in the DLQ.

    python scripts/make_samples.py
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import uuid
from pathlib import Path

import base58
from schwifty import IBAN

from pipeline.canon.wallet import eip55
from pipeline.stix.ids import INDICATOR_EXTENSION_ID, pattern_for, producer_identity_id
from pipeline.stix.tlp import TLP

OUT = Path(__file__).resolve().parent.parent / "pipeline" / "data" / "samples"
rng = random.Random(2026)

SCAM_TYPES = [
    "investment",
    "romance",
    "impersonation-bank",
    "parcel-delivery",
    "job",
    "tech-support",
    "phishing",
]
BRANDS = ["kbank", "scb", "thaipost", "dbs", "ocbc", "commbank", "auspost", "kerry", "mybank", "govpay"]
WORDS = ["secure", "verify", "login", "update", "refund", "track", "support", "wallet", "rewards", "account"]
TLDS = ["com", "net", "xyz", "top", "info", "online", "shop", "co"]


def th_mobile() -> str:
    return "8" + str(rng.choice([1, 2, 4, 6, 8, 9])) + f"{rng.randrange(10**7):07d}"  # 9 digits after +66


def domain() -> str:
    return f"{rng.choice(BRANDS)}-{rng.choice(WORDS)}{rng.randrange(10, 99)}.{rng.choice(TLDS)}"


def btc() -> str:
    return base58.b58encode_check(bytes([rng.choice([0, 5])]) + rng.randbytes(20)).decode()


def tron() -> str:
    return base58.b58encode_check(b"\x41" + rng.randbytes(20)).decode()


def eth() -> str:
    return eip55(rng.randbytes(20).hex())


def iban() -> str:
    if rng.random() < 0.4:
        return str(IBAN.generate("NL", bank_code="ABNA", account_code=f"{rng.randrange(10**9):010d}"))
    return str(IBAN.generate("DE", bank_code="37040044", account_code=f"{rng.randrange(10**9):010d}"))


def spaced_iban(value: str) -> str:
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


# Shared pools: the same scams seen by several organisations.
phones = [th_mobile() for _ in range(60)]
domains = [domain() for _ in range(40)]
wallets = (
    [("btc", btc()) for _ in range(10)]
    + [("eth", eth()) for _ in range(10)]
    + [("trx", tron()) for _ in range(6)]
)
ibans = [iban() for _ in range(14)]
handles = [
    f"{rng.choice(['Crypto', 'Invest', 'Lucky', 'Thai', 'Aus'])}{rng.choice(['Mentor', 'Guru', 'Coach', 'Desk'])}{rng.randrange(100, 999)}"
    for _ in range(12)
]


def scam() -> list[str]:
    return rng.sample(SCAM_TYPES, k=rng.choice([1, 1, 2]))


def telco_csv() -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["type", "value", "country", "scam_type", "confidence", "tlp", "first_seen", "description"])
    for p in phones[:55]:
        national = f"0{p[:2]}-{p[2:5]}-{p[5:]}" if rng.random() < 0.5 else f"0{p}"
        w.writerow(["phone", national, "TH", ";".join(scam()), rng.choice([60, 70, 80, 90]), "green",
                    f"2026-11-{rng.randrange(1, 21):02d}", "reported by subscribers via 1185 SMS spam line"])  # fmt: skip
    for d in domains[:15]:
        w.writerow(["url", f"https://{d}/th/verify?id={rng.randrange(1000, 9999)}", "TH", "phishing", 75, "green",
                    "2026-11-15", "link in smishing SMS"])  # fmt: skip
    return buf.getvalue()


def bank_jsonl() -> str:
    lines = []
    for p in phones[20:45]:  # overlap with the telecom, other format
        spaced = f"+66 {p[:2]} {p[2:5]} {p[5:]}"
        lines.append(
            {
                "type": "phone",
                "value": spaced,
                "scam_types": ["impersonation-bank"],
                "confidence": 85,
                "tlp": "green",
                "description": "caller impersonated the bank's fraud desk",
            }
        )
    for value in ibans:
        lines.append(
            {
                "type": "bank-account",
                "value": spaced_iban(value) if rng.random() < 0.5 else value,
                "scam_types": ["investment"],
                "confidence": 90,
                "tlp": "amber",
                "description": "mule account receiving victim transfers",
            }
        )
    for chain, address in wallets[:16]:
        lines.append(
            {
                "type": "wallet",
                "value": address,
                "scam_types": ["investment"],
                "confidence": 80,
                "tlp": "green",
                "description": f"{chain} deposit address of a fake trading app",
            }
        )
    # A report of the bank's own call centre (a spoofed caller id mistaken for the scammer): the allowlist
    # must hold it back, or every telecom would block a real bank hotline.
    lines.append({"type": "phone", "value": "+66 2 888 8888", "scam_types": ["impersonation-bank"],
                  "confidence": 90, "tlp": "green", "description": "caller id shown to the victim"})  # fmt: skip
    for h in handles:
        lines.append(
            {
                "type": "social",
                "value": f"https://t.me/{h}",
                "scam_types": ["investment"],
                "confidence": 75,
                "tlp": "green",
                "description": "Telegram 'investment mentor'",
            }
        )
    for d in domains[10:15]:
        lines.append(
            {
                "type": "url",
                "value": f"HTTPS://{d.upper()}:443/th/verify?id=1#x",
                "scam_types": ["phishing"],
                "confidence": 70,
                "tlp": "clear",
            }
        )
    return "".join(json.dumps(line) + "\n" for line in lines)


def misp_event() -> str:
    attrs = []
    for d in domains[5:30]:
        defanged = d.replace(".", "[.]", 1) if rng.random() < 0.5 else d.upper() + "."
        attrs.append({"type": "domain", "category": "Network activity", "to_ids": True, "value": defanged})
    attrs.append({"type": "domain", "category": "Network activity", "to_ids": True, "value": "PayPal.com"})
    for d in domains[30:38]:
        attrs.append(
            {
                "type": "url",
                "category": "Network activity",
                "to_ids": True,
                "value": f"hxxps://{d.replace('.', '[.]')}/promo",
            }
        )
    for d in domains[:6]:
        attrs.append(
            {
                "type": "email-src",
                "category": "Payload delivery",
                "to_ids": True,
                "value": f"Support@{d.upper()}",
            }
        )
    for p in phones[50:60]:
        attrs.append({"type": "phone-number", "category": "Person", "to_ids": True, "value": f"+66{p}"})
    event = {"Event": {"info": "Scam pages and accounts seen on socialnet, week 47", "date": "2026-11-20",
                       "Tag": [{"name": "tlp:green"}], "Attribute": attrs}}  # fmt: skip
    return json.dumps(event, indent=1) + "\n"


def stix_bundle() -> str:
    created = "2026-11-21T08:00:00.000Z"
    identity = producer_identity_id("police-au")
    objects: list[dict[str, object]] = [
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": identity,
            "created": created,
            "modified": created,
            "name": "police-au",
            "identity_class": "organization",
        },
        TLP.GREEN.marking_definition(),
        TLP.AMBER.marking_definition(),
    ]

    def indicator(sco_type: str, props: dict[str, str], tlp: TLP, hint: str | None = None) -> None:
        pattern = pattern_for(sco_type, props)
        ext: dict[str, object] = {"extension_type": "property-extension", "scam_types": scam()}
        if hint:
            ext["country_hint"] = hint
        objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.UUID(hashlib.sha256(pattern.encode()).hexdigest()[:32], version=4)}",
                "created": created,
                "modified": created,
                "created_by_ref": identity,
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": created,
                "indicator_types": ["malicious-activity"],
                "confidence": rng.choice([70, 80, 95]),
                "object_marking_refs": [tlp.marking_id],
                "extensions": {INDICATOR_EXTENSION_ID: ext},
            }
        )

    for chain, address in wallets:
        value = address.lower() if chain == "eth" and rng.random() < 0.5 else address
        indicator("cryptocurrency-wallet", {"value": value}, TLP.GREEN)
    for d in domains[25:35]:
        indicator("domain-name", {"value": d.upper()}, TLP.GREEN)
    for p in phones[40:50]:
        indicator("phone-number", {"value": f"0066{p}"}, TLP.AMBER, hint="AU")
    for value in ibans[:4]:
        indicator("bank-account", {"iban": value.lower()}, TLP.AMBER)
    for h in handles[:6]:
        indicator("user-account", {"account_type": "telegram", "account_login": "@" + h.lower()}, TLP.GREEN)
    return json.dumps({"type": "bundle", "id": "bundle--5b9d0c1e-7f43-4b6a-9a0e-2c8d2f6e1a11", "objects": objects},
                      indent=1) + "\n"  # fmt: skip


def malformed() -> str:
    lines = [
        '{"spec": "scamshare.submission/1", "submission_id": "broken-1", "producer": "bank-sg", "bundle": {"type": "bun',
        '{"spec": "scamshare.submission/0", "submission_id": "old-1", "producer": "bank-sg"}',
        json.dumps(
            {
                "spec": "scamshare.submission/1",
                "submission_id": "badphone-1",
                "producer": "telco-th",
                "submitted_at": "2026-11-21T10:00:00.000Z",
                "bundle": {
                    "type": "bundle",
                    "id": "bundle--0d7a4a52-1f0e-4d4a-8f55-7f0b7c5b9f01",
                    "objects": [
                        {
                            "type": "indicator",
                            "spec_version": "2.1",
                            "id": "indicator--0d7a4a52-1f0e-4d4a-8f55-7f0b7c5b9f02",
                            "created": "2026-11-21T10:00:00.000Z",
                            "modified": "2026-11-21T10:00:00.000Z",
                            "pattern": "[phone-number:value = '+66 12']",
                            "pattern_type": "stix",
                            "valid_from": "2026-11-21T10:00:00.000Z",
                        }
                    ],
                },
            }
        ),
    ]
    return "".join(line + "\n" for line in lines)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "telco-th.csv").write_text(telco_csv())
    (OUT / "bank-sg.jsonl").write_text(bank_jsonl())
    (OUT / "platform-socialnet.misp.json").write_text(misp_event())
    (OUT / "police-au.stix.json").write_text(stix_bundle())
    (OUT / "malformed.jsonl").write_text(malformed())


if __name__ == "__main__":
    main()
