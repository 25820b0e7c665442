"""The canonicalisers' fast paths give what the general paths they skip would give, and caches are bounded.

Each fast path replaces a loop with one regex or one conversion; these tests hold it to the loop it
replaced (written out here as the oracle), so a later edit of either side that lets them drift fails.
"""

from __future__ import annotations

import sys

import base58
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.canon import (
    REGISTRY,
    Canonical,
    Invalid,
    bank,
    bank_iban,
    domain,
    email,
    phone,
    simple,
    url,
    wallet,
)
from pipeline.canon.wallet_base58 import b58decode

FAST = settings(max_examples=300, deadline=None)


@FAST
@given(st.integers(0, 8), st.binary(max_size=40), st.booleans())
def test_b58decode_is_base58s(zeros: int, payload: bytes, xrp: bool) -> None:
    alphabet = base58.XRP_ALPHABET if xrp else base58.BITCOIN_ALPHABET
    text = base58.b58encode(bytes(zeros) + payload, alphabet=alphabet).decode()
    assert b58decode(text, xrp=xrp) == base58.b58decode(text, alphabet=alphabet)


def _ldh_by_label(lowered: str) -> bool:
    labels = lowered.split(".")
    return "" not in labels and all(domain._ASCII_LABEL.fullmatch(x) and x[2:4] != "--" for x in labels)


@FAST
@given(st.text(alphabet="aZ09-_.x", max_size=80))
def test_host_fast_path_accepts_what_the_label_check_accepts(host: str) -> None:
    lowered = host.lower()
    fast = bool(domain._LDH_HOST.fullmatch(lowered)) and not domain._RESERVED_HYPHENS.search(lowered)
    assert fast == _ldh_by_label(lowered)


@pytest.mark.parametrize(
    "host", ["ab--c.com", "a.xn--p1ai", "x.ab--.com", "-a.com", "a-.com", "a..com", "a" * 64 + ".com"]
)
def test_host_fast_path_leaves_the_hard_cases_to_the_label_check(host: str) -> None:
    assert not domain._LDH_HOST.fullmatch(host) or domain._RESERVED_HYPHENS.search(host)


_URL_SAFE_SETS = [url._PATH_SAFE, url._QUERY_SAFE, url._USERINFO_SAFE]
_URL_CHARS = "aZ9-._~!$&'()*+,;=:@/?%#[] \"<>\\\u00e9\u4e2d"


@pytest.mark.parametrize("safe", _URL_SAFE_SETS)
def test_url_safe_regex_is_the_byte_set(safe: frozenset[int]) -> None:
    for code in range(0x300):
        char = chr(code)
        assert bool(url._SAFE_RUN[safe].fullmatch(char)) == (char != "%" and code in safe), char


@FAST
@given(st.text(alphabet=_URL_CHARS, max_size=40), st.sampled_from([0, 1, 2]))
def test_url_component_fast_path_is_the_loop(text: str, which: int) -> None:
    safe = _URL_SAFE_SETS[which]
    by_loop = text.isascii() and "%" not in text and all(ord(c) in safe for c in text)
    assert bool(url._SAFE_RUN[safe].fullmatch(text)) == by_loop


@pytest.mark.parametrize("pattern", [wallet._SPACE, email._SPACE])
def test_space_regex_is_str_isspace(pattern: object) -> None:
    search = pattern.search  # type: ignore[attr-defined]
    assert [c for c in range(sys.maxunicode + 1) if bool(search(chr(c))) != chr(c).isspace()] == []


def test_an_iban_is_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = bank_iban.check_iban

    def counting(compact: str) -> object:
        calls.append(compact)
        return real(compact)

    monkeypatch.setattr(bank, "check_iban", counting)
    for raw in ("DE89 3704 0044 0532 0130 00", "DE:DE89370400440532013000", "DE89370400440532013001"):
        calls.clear()
        bank.canonicalize.__wrapped__(raw, None)
        assert calls == ["DE89370400440532013000" if raw[-1] == "0" else "DE89370400440532013001"]


@pytest.mark.parametrize(
    ("raw", "hint", "parses", "e164"),
    [
        ("0066812345678", "GB", 1, "+66812345678"),  # the hint's own reading (IDD 00) is valid: it alone
        ("0066812345678", "TH", 2, "+66812345678"),  # TH reads 006 as a prefix, invalid: then the '+' one
        ("0066812345678", None, 1, "+66812345678"),  # no hint: only the '+' reading can be a number
        ("0028812345678", None, 2, None),  # ... and the hint-less reading only for a rejection's reason
        ("0812345678", "TH", 1, "+66812345678"),
    ],
)
def test_the_plus_reading_of_00_is_parsed_only_when_needed(
    monkeypatch: pytest.MonkeyPatch, raw: str, hint: str | None, parses: int, e164: str | None
) -> None:
    calls: list[str] = []
    real = phone._parse

    def counting(text: str, region: str | None) -> object:
        calls.append(text)
        return real(text, region)

    monkeypatch.setattr(phone, "_parse", counting)
    result = phone.canonicalize.__wrapped__(raw, hint)
    if e164 is None:
        assert isinstance(result, Invalid)
        assert result.reason.startswith("national number without a country")
    else:
        assert isinstance(result, Canonical)
        assert result.value == e164
    assert len(calls) == parses


def test_every_memo_of_results_is_bounded() -> None:
    caches = [kind.canonicalize for kind in REGISTRY] + [domain.to_ascii, domain.split_domain]
    for cache in caches:
        maxsize = cache.cache_parameters()["maxsize"]  # type: ignore[union-attr]
        assert maxsize is not None, cache
        assert 0 < maxsize <= 32768, cache


@FAST
@given(
    st.sampled_from(["domain", "url", "email", "phone", "wallet", "imei"]),
    st.text(min_size=1, max_size=40),
    st.dictionaries(st.sampled_from(["asset", "chain"]), st.text(max_size=8), max_size=2),
)
def test_simple_builds_what_the_dataclass_constructor_builds(
    kind: str, value: str, extra: dict[str, str]
) -> None:
    built = simple(kind, value, {"country": "TH"}, **extra)
    reference = Canonical(
        kind=kind,
        value=value,
        props={"value": value, **extra},
        id_props={"value": value},
        pattern_props={"value": value},
        facts={"country": "TH"},
    )
    assert built == reference
    assert (built.sco_type, built.sco_id, built.pattern, built.indicator_id) == (
        reference.sco_type, reference.sco_id, reference.pattern, reference.indicator_id,
    )  # fmt: skip
