"""Throughput of canonicalise + deterministic id + SCO serialisation, over a realistic mix of kinds.

    python bench/bench_canon.py [--seconds 3.0] [--per-kind 600]

Prints one JSON object:

- ``indicators_per_s``: the mixed set (``per_kind`` values of every kind, shuffled), looped for about
  ``--seconds``; repeated values hit the canonicalisers' LRU caches, as repeated reports do in production.
- ``cold_indicators_per_s``: the same loop with every cache cleared before each pass, so each value is
  parsed from scratch (the cost of a value seen for the first time). "Every cache" is every bounded
  ``lru_cache`` in ``pipeline.canon``, found by looking (``cold_clears`` names them), so a new one cannot be
  forgotten; set-up that does not depend on the values (loaded metadata, compiled patterns, the Public
  Suffix List) is kept, as a running worker keeps it; and, as the worker does once it has started
  (``pipeline.worker.heap``), that start-up heap is frozen out of the cyclic collector (``gc.freeze()``)
  so full collections do not walk libphonenumber's tables (``heap_frozen`` in the JSON).
- ``cold_passes``: the cold loop's passes one by one (``median``, ``lowest`` and ``highest`` indicators/s of a
  pass, and how many there were). On a shared VM a pass now and then runs up to 1.8x slower than its
  neighbours with no other process busy, which pulls the whole loop's rate down; the median pass is the
  code's speed with those moments left out, the lowest shows how slow they were.
- ``per_kind``: both numbers per kind.
- ``stix2_domain_per_s``: ``stix2.DomainName(value=...)`` (id computed by python-stix2), for comparison.

Compare ratios measured in one run, never absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import pkgutil
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import base58
import orjson
import phonenumbers
import stix2
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from schwifty import IBAN

import pipeline.canon
from pipeline.canon import KINDS, Canonical, canonicalize
from pipeline.canon.imei import luhn_digit
from pipeline.canon.wallet import eip55
from pipeline.worker.heap import freeze_start_up_heap

Case = tuple[str, str, str | None]  # kind, raw value, country hint

_SUFFIXES = [
    "com",
    "net",
    "co.uk",
    "co.th",
    "com.vn",
    "de",
    "xyz",
    "top",
    "shop",
    "github.io",
    "com.au",
    "in",
]
_WORDS = [
    "secure",
    "login",
    "bank",
    "verify",
    "pay",
    "account",
    "update",
    "support",
    "wallet",
    "gift",
    "post",
]


def _host(rng: random.Random) -> str:
    name = "-".join(rng.sample(_WORDS, rng.randint(1, 3))) + str(rng.randint(0, 999))
    sub = rng.choice(["", "www.", "m.", "login."])
    return f"{sub}{name}.{rng.choice(_SUFFIXES)}"


def _phones(rng: random.Random, n: int) -> list[Case]:
    regions = ["TH", "US", "GB", "VN", "SG", "AU", "IN", "DE", "PH", "MY", "ID", "BR"]
    out: list[Case] = []
    while len(out) < n:
        region = rng.choice(regions)
        base = phonenumbers.example_number_for_type(region, rng.choice([PhoneNumberType.MOBILE] * 3 + [1, 0]))
        if base is None:
            continue
        digits = str(base.national_number)
        number = phonenumbers.parse(f"+{base.country_code}{digits[:-3]}{rng.randint(0, 999):03d}")
        if not phonenumbers.is_valid_number(number):
            continue
        style = rng.randrange(4)
        if style == 0:
            out.append(("phone", phonenumbers.format_number(number, PhoneNumberFormat.E164), None))
        elif style == 1:
            out.append(("phone", phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL), None))
        elif style == 2:
            out.append(("phone", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL), region))
        else:
            e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
            out.append(("phone", "00" + e164[1:], None))
    return out


def _wallet(rng: random.Random) -> str:
    payload = rng.randbytes(20)
    style = rng.randrange(6)
    if style == 0:
        return base58.b58encode_check(bytes([rng.choice([0x00, 0x05])]) + payload).decode()
    if style == 1:
        return base58.b58encode_check(b"\x41" + payload).decode()  # TRON, the USDT scam favourite
    if style == 2:
        return "0x" + payload.hex()
    if style == 3:
        return eip55(payload.hex())
    if style == 4:
        return base58.b58encode(rng.randbytes(32)).decode()
    return base58.b58encode_check(b"\x00" + payload, alphabet=base58.XRP_ALPHABET).decode()


def _imeis(rng: random.Random, n: int) -> list[Case]:
    out: list[Case] = []
    for _ in range(n):
        # 8-digit TAC and 6-digit serial number: the 14 digits the check digit covers.
        body = f"{rng.choice(['35', '86', '01', '99'])}{rng.randrange(10**12):012d}"
        imei = body + str(luhn_digit(body))
        style = rng.randrange(5)
        if style == 0:
            out.append(("imei", imei, None))
        elif style == 1:
            out.append(("imei", f"{imei[:2]}-{imei[2:8]}-{imei[8:14]}-{imei[14]}", None))
        elif style == 2:
            out.append(("imei", f"{imei[:6]} {imei[6:12]} {imei[12:]}", None))
        elif style == 3:
            out.append(("imei", f"IMEI: {imei}", None))
        else:
            out.append(("imei", f"{body}{rng.randrange(100):02d}", None))  # IMEISV: software version
    return out


def make_cases(per_kind: int, seed: int = 7) -> list[Case]:
    """``per_kind`` realistic, mostly valid values of every kind, shuffled."""
    rng = random.Random(seed)
    cases = _phones(rng, per_kind)
    for _ in range(per_kind):
        host = _host(rng)
        cases.append(("domain", rng.choice([host, host.upper(), host.replace(".", "[.]"), host + "."]), None))
        path = "/".join(rng.sample(_WORDS, 2))
        cases.append(
            (
                "url",
                rng.choice(["https://", "hxxps://", "http://", ""])
                + f"{host}/{path}?id={rng.randint(1, 9999)}",
                None,
            )
        )
        cases.append(
            ("email", f"{rng.choice(_WORDS)}.{rng.randint(1, 99999)}@{rng.choice([host, 'gmail.com'])}", None)
        )
        cases.append(("wallet", _wallet(rng), None))
        if rng.random() < 0.7:
            iban = str(IBAN.random(country_code=rng.choice(["DE", "GB", "FR", "NL", "ES"]), random=rng))
            cases.append(("bank-account", " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)), None))
        else:
            account = (
                f"{rng.randint(100, 999)}-{rng.randint(1, 9)}-{rng.randint(10000, 99999)}-{rng.randrange(10)}"
            )
            cases.append(("bank-account", account, "TH"))
        handle = rng.choice(_WORDS) + "_" + str(rng.randint(100, 99999))
        template = rng.choice(
            [
                "https://t.me/{}",
                "telegram:@{}",
                "https://x.com/{}",
                "https://www.instagram.com/{}/",
                "tiktok:@{}",
            ]
        )
        cases.append(("social", template.format(handle), None))
    # Its own generator, so adding IMEIs left every other kind's values as they were.
    cases += _imeis(random.Random(seed + 1), per_kind)
    rng.shuffle(cases)
    return cases  # fmt: skip


def value_caches() -> dict[str, Any]:
    """Every bounded ``lru_cache`` in ``pipeline.canon``, by qualified name: the memoised results.

    ``functools.cache`` (unbounded) there holds set-up only (the PSL extractor, the kind declarations).
    """
    found: dict[str, Any] = {}
    for info in pkgutil.iter_modules(pipeline.canon.__path__):
        module = importlib.import_module(f"pipeline.canon.{info.name}")
        for obj in vars(module).values():
            parameters = getattr(obj, "cache_parameters", None)
            if callable(parameters) and parameters()["maxsize"] is not None:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


_VALUE_CACHES = value_caches()


def clear_caches() -> None:
    """Forget every memoised result, so the next pass parses from scratch."""
    for cache in _VALUE_CACHES.values():
        cache.cache_clear()


def process(case: Case) -> bytes:
    """What the validate step does per indicator: canonicalise, id, serialise the SCO."""
    kind, value, country = case
    c = canonicalize(kind, value, country=country)
    if not isinstance(c, Canonical):
        return orjson.dumps({"error": c.reason})
    return orjson.dumps({"type": c.sco_type, "spec_version": "2.1", "id": c.sco_id, **c.props})


def rate(cases: Sequence[Case], seconds: float, *, cold: bool) -> float:
    """Indicators per second over about ``seconds`` (whole passes over ``cases``)."""
    return per_second(len(cases), pass_seconds(cases, seconds, cold=cold))


def per_second(n: int, passes: Sequence[float]) -> float:
    """Indicators per second of passes over ``n`` values each, over all of them together."""
    return n * len(passes) / sum(passes)


def pass_seconds(cases: Sequence[Case], seconds: float, *, cold: bool) -> list[float]:
    """The seconds each whole pass over ``cases`` took, passes made until they add up to ``seconds``."""
    passes: list[float] = []
    busy = 0.0
    while busy < seconds:
        if cold:
            clear_caches()
        start = time.perf_counter()
        for case in cases:
            process(case)
        passes.append(time.perf_counter() - start)
        busy += passes[-1]
    return passes


def pass_spread(n: int, passes: Sequence[float]) -> dict[str, int]:
    """Indicators per second of the median, the slowest and the fastest pass, and how many passes."""
    rates = sorted(n / s for s in passes)
    return {
        "median": round(statistics.median(rates)),
        "lowest": round(rates[0]),
        "highest": round(rates[-1]),
        "passes": len(rates),
    }


def rate_fn(fn: Callable[[int], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            fn(n)
            n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="time for the mixed warm loop")
    parser.add_argument("--per-kind", type=int, default=600)
    args = parser.parse_args()
    cases = make_cases(args.per_kind)
    for case in cases[:50]:  # import lazily-loaded data (PSL, carrier/geocoder prefixes, bank registry)
        process(case)
    rejected = sum(1 for k, v, c in cases if not isinstance(canonicalize(k, v, country=c), Canonical))
    clear_caches()
    freeze_start_up_heap()  # what `scamshare worker` does once started (pipeline/worker/heap.py)
    short = args.seconds / 6
    per_kind = {}
    for kind in KINDS:
        subset = [c for c in cases if c[0] == kind]
        if not subset:  # a kind make_cases does not generate would be reported as 0/s, not measured
            raise SystemExit(f"no {kind} values in the mix: add a generator for it to make_cases")
        per_kind[kind] = {
            "cold_per_s": round(rate(subset, short, cold=True)),
            "warm_per_s": round(rate(subset, short / 2, cold=False)),
        }
    hosts = [c.value for k, v, _ in cases if k == "domain" and isinstance(c := canonicalize(k, v), Canonical)]
    warm = round(rate(cases, args.seconds, cold=False))
    cold = pass_seconds(cases, args.seconds, cold=True)
    result = {
        "bench": "canonicalise",
        "values": len(cases),
        "rejected": rejected,
        "heap_frozen": gc.get_freeze_count(),
        "indicators_per_s": warm,
        "cold_indicators_per_s": round(per_second(len(cases), cold)),
        "cold_passes": pass_spread(len(cases), cold),
        "cold_clears": sorted(_VALUE_CACHES),
        "per_kind": per_kind,
        "stix2_domain_per_s": round(rate_fn(lambda i: stix2.DomainName(value=hosts[i % len(hosts)]), short)),
    }  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
