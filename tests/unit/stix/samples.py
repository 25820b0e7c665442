"""Canonical values of every kind, built directly (independent of the per-kind canonicalisers)."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.canon import Canonical, simple

NOW = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)


def _same(kind: str, value: str, props: dict[str, str], id_props: dict[str, str] | None = None) -> Canonical:
    ids = id_props if id_props is not None else props
    return Canonical(kind=kind, value=value, props=props, id_props=ids, pattern_props=ids)


#: One canonical value per kind (two for bank accounts: IBAN, and national number + country).
CANONICALS: dict[str, Canonical] = {
    "phone": simple("phone", "+14155552671", facts={"country": "US"}),
    "domain": simple("domain", "secure-login-bank.example"),
    "url": simple("url", "https://secure-login-bank.example/verify?acct=1&next='home'"),
    "email": simple("email", "support@secure-login-bank.example"),
    "wallet": simple("wallet", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", chain="bitcoin", asset="BTC"),
    "bank-iban": _same(
        "bank-account",
        "GB82WEST12345698765432",
        {"iban": "GB82WEST12345698765432", "bic": "WESTGB2L", "country": "GB"},
        {"iban": "GB82WEST12345698765432"},
    ),
    "bank-national": _same(
        "bank-account",
        "AU:062000:12345678",
        {"account_number": "06200012345678", "country": "AU"},
    ),
    "social": _same(
        "social",
        "telegram:scam_support",
        {"account_type": "telegram", "account_login": "scam_support"},
    ),
    "imei": simple("imei", "352099001761481", facts={"tac": "35209900"}),
    # account-type-ov has facebook; telegram above is outside the vocabulary (a validator warning).
    "social-vocab": _same(
        "social",
        "facebook:100004",
        {"account_type": "facebook", "user_id": "100004", "account_login": "fake.bank.help"},
    ),
}
