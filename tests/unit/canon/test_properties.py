"""Invariants of canonicalisation, checked with hypothesis.

- Nothing raises, whatever the input.
- Idempotence: canonicalising a canonical value gives an equal Canonical, with the same country hint and
  with none (canonical values are international).
- Every written form of one phone number yields one id.
- Ids are stable across processes (no dependence on hash seeds or process state).
- Our deterministic SCO ids equal python-stix2's for the standard SCO types.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import phonenumbers
import pytest
import stix2
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from pipeline.canon import KINDS, Canonical, canonicalize
from pipeline.canon.imei import luhn_digit
from pipeline.canon.wallet import eip55
from tests.unit.canon.helpers import ok

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COUNTRIES = st.sampled_from([None, "TH", "US", "GB", "DE", "VN", "SG", "AU", "IN", "BR"])


def assert_idempotent(kind: str, result: Canonical, country: str | None) -> None:
    again = canonicalize(kind, result.value, country=country)
    assert again == result, f"{kind} {result.value!r} re-canonicalised to {again!r}"
    bare = canonicalize(kind, result.value)
    assert bare == result, f"{kind} {result.value!r} is not accepted without a country hint: {bare!r}"


# --- arbitrary text: never raises; whatever is accepted is a fixed point --------------------------------
@FAST
@given(kind=st.sampled_from(KINDS), value=st.text(max_size=80), country=COUNTRIES)
def test_arbitrary_text_never_raises_and_accepted_values_are_fixed_points(
    kind: str, value: str, country: str | None
) -> None:
    result = canonicalize(kind, value, country=country)
    if isinstance(result, Canonical):
        assert_idempotent(kind, result, country)
    else:
        assert result.reason


# --- structured strategies that reach the accepting paths -----------------------------------------------
LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
UNICODE_LABEL = st.sampled_from(["bücher", "пример", "例え", "ελλάδα", "faß", "café", "ñandú"])
SUFFIX = st.sampled_from(
    ["com", "co.uk", "co.th", "de", "github.io", "xn--p1ai", "рф", "com.br", "vn", "onion"]
)


@st.composite
def domains(draw: st.DrawFn) -> str:
    labels = draw(st.lists(LABEL | UNICODE_LABEL, min_size=1, max_size=3))
    host = ".".join([*labels, draw(SUFFIX)])
    host = "".join(c.upper() if draw(st.booleans()) else c for c in host)
    if draw(st.booleans()):
        host = host.replace(".", draw(st.sampled_from(["[.]", "(dot)", "{.}", "."])))
    return host + draw(st.sampled_from(["", "."]))


PATH_CHARS = st.text(alphabet="abcXYZ019-._~!$&'()*+,;=:@/%? äé#", max_size=20)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http://", "https://", "HTTPS://", "hxxp://", "hxxps[:]//", "", "ftp://"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    return f"{scheme}{draw(domains())}{port}/{draw(PATH_CHARS)}"


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(
        st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\.[A-Za-z0-9_+-]{1,5}){0,2}", fullmatch=True)
    )
    sep = draw(st.sampled_from(["@", "[@]", "(at)", " [at] "]))
    return f"{local}{sep}{draw(domains())}"


@st.composite
def wallets(draw: st.DrawFn) -> str:
    import base58  # noqa: PLC0415

    payload = draw(st.binary(min_size=20, max_size=20))
    choice = draw(st.sampled_from(["b58", "evm", "evm55", "sol", "xrp", "bech32"]))
    if choice == "b58":
        version = draw(st.sampled_from([0x00, 0x05, 0x30, 0x32, 0x41]))
        return base58.b58encode_check(bytes([version]) + payload).decode()
    if choice == "evm":
        return "0x" + "".join(c.upper() if draw(st.booleans()) else c for c in payload.hex())
    if choice == "evm55":
        return eip55(payload.hex())
    if choice == "sol":
        return base58.b58encode(draw(st.binary(min_size=32, max_size=32))).decode()
    if choice == "xrp":
        raw = b"\x00" + payload
        return base58.b58encode_check(raw, alphabet=base58.XRP_ALPHABET).decode()
    return draw(
        st.sampled_from(
            [
                "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
                "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
                "ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea",
            ]
        )
    )


@st.composite
def bank_accounts(draw: st.DrawFn) -> tuple[str, str | None]:
    from schwifty import IBAN  # noqa: PLC0415

    if draw(st.booleans()):
        iban = str(IBAN.random(country_code=draw(st.sampled_from(["DE", "GB", "FR", "NL", "ES", "IT"]))))
        spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if draw(st.booleans()) else iban
        bic = draw(st.sampled_from(["", " COBADEFF", " / BIC: DEUTDEFFXXX"]))
        return draw(st.sampled_from(["", "IBAN ", "iban: "])) + spaced + bic, None
    number = draw(st.from_regex(r"[0-9]{3}-?[0-9]{1,3}-?[0-9]{3,8}", fullmatch=True))
    country = draw(st.sampled_from(["TH", "VN", "US", "SG"]))
    return (number, country) if draw(st.booleans()) else (f"{country}:{number}", None)


@st.composite
def socials(draw: st.DrawFn) -> str:
    handle = draw(st.from_regex(r"[a-z][a-z0-9]{4,13}", fullmatch=True))  # valid on every platform
    handle = "".join(c.upper() if draw(st.booleans()) else c for c in handle)
    template = draw(
        st.sampled_from(
            [
                "https://t.me/{h}",
                "telegram:@{h}",
                "tg:{h}",
                "https://x.com/{h}",
                "twitter:{h}",
                "https://www.instagram.com/{h}/",
                "https://www.tiktok.com/@{h}",
                "https://www.facebook.com/{h}",
                "fb:{h}",
                "line:{h}",
            ]
        )
    )
    return template.format(h=handle)


@st.composite
def imeis(draw: st.DrawFn) -> tuple[str, str]:
    """(raw form, the IMEI it names): an IMEI or IMEISV, with or without separators."""
    body = draw(st.from_regex(r"[0-9]{14}", fullmatch=True))
    imei = body + str(luhn_digit(body))
    raw = draw(st.sampled_from([imei, body + draw(st.from_regex(r"[0-9]{2}", fullmatch=True))]))
    separator = draw(st.sampled_from(["", " ", "-", "/"]))
    if separator:
        raw = separator.join([raw[:2], raw[2:8], raw[8:14], raw[14:]])
    return raw, imei


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, str | None]:
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    kind = draw(
        st.sampled_from([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE])
    )
    number = phonenumbers.example_number_for_type(region, kind)
    assume(number is not None)
    assert number is not None
    fmt = draw(st.sampled_from(list(_FORMATS)))
    return _FORMATS[fmt](number, region)


def _idd(number: phonenumbers.PhoneNumber, _region: str) -> tuple[str, str | None]:
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return "00" + e164[1:], None


_FORMATS = {
    "e164": lambda n, r: (phonenumbers.format_number(n, PhoneNumberFormat.E164), None),
    "intl": lambda n, r: (phonenumbers.format_number(n, PhoneNumberFormat.INTERNATIONAL), None),
    "national": lambda n, r: (phonenumbers.format_number(n, PhoneNumberFormat.NATIONAL), r),
    "rfc3966": lambda n, r: (phonenumbers.format_number(n, PhoneNumberFormat.RFC3966), None),
    "from_us": lambda n, r: (phonenumbers.format_out_of_country_calling_number(n, "US"), "US"),
    "idd00": _idd,
}


@FAST
@given(value=domains())
def test_domains_are_fixed_points(value: str) -> None:
    result = canonicalize("domain", value)
    if isinstance(result, Canonical):
        assert result.value == result.value.lower()
        assert_idempotent("domain", result, None)


@FAST
@given(value=urls())
def test_urls_are_fixed_points(value: str) -> None:
    result = canonicalize("url", value)
    if isinstance(result, Canonical):
        assert "#" not in result.value
        assert_idempotent("url", result, None)


@FAST
@given(value=emails())
def test_emails_are_fixed_points(value: str) -> None:
    result = canonicalize("email", value)
    if isinstance(result, Canonical):
        assert_idempotent("email", result, None)


@FAST
@given(value=wallets())
def test_wallets_are_accepted_fixed_points(value: str) -> None:
    result = canonicalize("wallet", value)
    if value.startswith("0x") and value[2:] != value[2:].lower() and value[2:] != value[2:].upper():
        # randomly cased hex is accepted only when it happens to be the EIP-55 form
        assume(isinstance(result, Canonical))
    assert isinstance(result, Canonical), getattr(result, "reason", "")
    assert_idempotent("wallet", result, None)


@FAST
@given(case=bank_accounts())
def test_bank_accounts_are_accepted_fixed_points(case: tuple[str, str | None]) -> None:
    value, country = case
    result = canonicalize("bank-account", value, country=country)
    assert isinstance(result, Canonical), getattr(result, "reason", "")
    assert_idempotent("bank-account", result, country)


@FAST
@given(value=socials())
def test_social_accounts_are_accepted_fixed_points(value: str) -> None:
    result = canonicalize("social", value)
    assert isinstance(result, Canonical), getattr(result, "reason", "")
    assert_idempotent("social", result, None)


@FAST
@given(case=phones())
def test_phone_example_numbers_are_accepted_fixed_points(case: tuple[str, str | None]) -> None:
    value, country = case
    result = canonicalize("phone", value, country=country)
    assert isinstance(result, Canonical), f"{value!r} {country}: {getattr(result, 'reason', '')}"
    assert result.value.startswith("+")
    assert_idempotent("phone", result, country)


@FAST
@given(case=imeis())
def test_imeis_are_accepted_fixed_points(case: tuple[str, str]) -> None:
    raw, imei = case
    result = canonicalize("imei", raw)
    assert isinstance(result, Canonical), f"{raw!r}: {getattr(result, 'reason', '')}"
    assert result.value == imei
    assert_idempotent("imei", result, None)


@FAST
@given(body=st.from_regex(r"[0-9]{14}", fullmatch=True), wrong=st.integers(1, 9))
def test_imeis_with_a_wrong_check_digit_are_rejected(body: str, wrong: int) -> None:
    digit = (luhn_digit(body) + wrong) % 10
    result = canonicalize("imei", body + str(digit))
    assert not isinstance(result, Canonical)
    assert result.reason == f"IMEI check digit is {digit}, expected {luhn_digit(body)}"


# --- one number, many spellings, one id ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("region", "variants"),
    [
        (
            "TH",
            [
                ("+66812345678", None),
                ("+66 81 234 5678", None),
                ("+66-81-234-5678", None),
                ("+66 (0) 81 234 5678", None),
                ("0812345678", "TH"),
                ("081-234-5678", "TH"),
                ("081.234.5678", "TH"),
                ("(081) 234 5678", "TH"),
                ("0066812345678", None),
                ("0066812345678", "TH"),
                ("00 66 81 234 5678", "DE"),
                ("011 66 81 234 5678", "US"),
                ("tel:+66-81-234-5678", None),
            ],
        ),
        (
            "US",
            [
                ("+14155552671", None),
                ("+1 (415) 555-2671", None),
                ("(415) 555-2671", "US"),
                ("415-555-2671", "US"),
                ("1 415 555 2671", "US"),
                ("001 415 555 2671", "GB"),
                ("tel:+1-415-555-2671;ext=9", None),
            ],
        ),
    ],
)
def test_every_spelling_of_one_number_has_one_id(region: str, variants: list[tuple[str, str | None]]) -> None:
    results = [ok("phone", raw, country) for raw, country in variants]
    assert len({r.sco_id for r in results}) == 1
    assert len({r.indicator_id for r in results}) == 1
    assert results[0].facts["country"] == region


# --- ids are the same in a fresh process -----------------------------------------------------------------
SAMPLES = [
    ("phone", "081 234 5678", "TH"),
    ("domain", "WWW.Bücher.DE.", None),
    ("url", "hxxps://evil[.]com/a b?x=1#f", None),
    ("email", "Bob <Bob@EXAMPLE.com>", None),
    ("wallet", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None),
    ("bank-account", "DE89 3704 0044 0532 0130 00", None),
    ("social", "https://t.me/ScamBot", None),
    ("imei", "35-209900-176148-1", None),
]

_CHILD = """
import json, sys
from pipeline.canon import canonicalize
out = []
for kind, value, country in json.loads(sys.argv[1]):
    c = canonicalize(kind, value, country=country)
    out.append([c.value, c.sco_id, c.indicator_id, c.pattern])
print(json.dumps(out))
"""


def test_ids_are_stable_across_processes() -> None:
    here = [[c.value, c.sco_id, c.indicator_id, c.pattern] for c in (ok(k, v, cc) for k, v, cc in SAMPLES)]
    seen = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(SAMPLES)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
        )
        seen.append(json.loads(proc.stdout))
    assert seen[0] == here
    assert seen[1] == here


# --- our ids are python-stix2's ids ------------------------------------------------------------------------
@FAST
@given(value=domains())
def test_domain_ids_match_stix2(value: str) -> None:
    result = canonicalize("domain", value)
    if isinstance(result, Canonical):
        assert result.sco_id == stix2.DomainName(value=result.value).id


@FAST
@given(value=urls())
def test_url_ids_match_stix2(value: str) -> None:
    result = canonicalize("url", value)
    if isinstance(result, Canonical):
        assert result.sco_id == stix2.URL(value=result.value).id


@pytest.mark.parametrize(
    "value", ["Bob@example.com", "用户@例子.中国", '"john doe"@example.com', "o'neil@example.ie"]
)
def test_email_ids_match_stix2(value: str) -> None:
    result = ok("email", value)
    assert result.sco_id == stix2.EmailAddress(value=result.value).id


@pytest.mark.parametrize("value", ["https://t.me/ScamBot", "x:foo", "fb:john.smith", "line:@ScamShop"])
def test_user_account_ids_match_stix2(value: str) -> None:
    result = ok("social", value)
    assert result.sco_id == stix2.UserAccount(**result.props).id
