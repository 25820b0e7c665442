"""MISP objects are mapped once: at most one report per object, its other attributes context."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.producers.misp_input import read_misp
from pipeline.producers.records import (
    Accepted,
    ReadItem,
    ReadOptions,
    Rejected,
    ReportInput,
    Skipped,
    to_canonical_report,
)
from pipeline.stix.tlp import TLP


def _attr(
    relation: str, misp_type: str, value: Any, to_ids: bool | None = None, **extra: Any
) -> dict[str, Any]:
    attr = {"object_relation": relation, "type": misp_type, "value": value, "category": "Other", **extra}
    if to_ids is not None:
        attr["to_ids"] = to_ids
    return attr


def _read(
    name: str, *attrs: dict[str, Any], options: ReadOptions | None = None, **obj: Any
) -> list[ReadItem]:
    event = {"Event": {"info": "event info", "Object": [{"name": name, "Attribute": list(attrs), **obj}]}}
    return list(read_misp(event, "e.json", options or ReadOptions()))


def _rows(items: list[ReadItem]) -> list[tuple[str, str, str]]:
    rows = []
    for item in items:
        where = item.source.removeprefix("e.json:Object[0]")
        if isinstance(item, ReportInput):
            rows.append(("report", where, f"{item.kind}={item.value}"))
        elif isinstance(item, Skipped):
            rows.append(("skipped", where, item.category))
        else:
            rows.append(("rejected", where, item.reason))
    return rows


def _report(items: list[ReadItem]) -> ReportInput:
    reports = [i for i in items if isinstance(i, ReportInput)]
    assert len(reports) == 1, items
    return reports[0]


# --- social accounts: one report, the handle first -------------------------------------------------------


def test_twitter_account_with_username_and_id_gives_one_report() -> None:
    items = _read(
        "twitter-account",
        _attr("name", "text", "ScamDesk_X", to_ids=False),
        _attr("id", "text", "1459876543210987520", to_ids=False),
        _attr("displayed-name", "text", "Support Desk", to_ids=False),
        _attr("link", "link", "https://x.com/ScamDesk_X", to_ids=False),
    )
    assert _rows(items) == [("report", ".Attribute[0]", "social=x:ScamDesk_X")]
    accepted = to_canonical_report(_report(items))
    assert isinstance(accepted, Accepted)
    assert accepted.canonical.value == "x:scamdesk_x"


def test_numeric_id_when_there_is_no_handle() -> None:
    items = _read("twitter-account", _attr("id", "text", "1459876543210987520"))
    assert _rows(items) == [("report", ".Attribute[0]", "social=x:id:1459876543210987520")]
    items = _read("telegram-account", _attr("id", "text", 777000), _attr("phone", "text", "+44 20 7946 0958"))
    assert _rows(items) == [("report", ".Attribute[0]", "social=telegram:id:777000")]


def test_a_non_numeric_id_alone_is_rejected() -> None:
    items = _read("reddit-account", _attr("account-id", "text", "t2_abc"))
    assert _rows(items) == [
        ("rejected", ".Attribute[0]", "account-id 't2_abc' is not a numeric id and the object has no "
         "account-name: add the account-name"),
    ]  # fmt: skip


def test_the_profile_link_when_there_is_neither_handle_nor_id() -> None:
    items = _read("facebook-account", _attr("link", "link", "https://www.facebook.com/scam.page.99"))
    assert _rows(items) == [("report", ".Attribute[0]", "social=https://www.facebook.com/scam.page.99")]


def test_a_social_object_naming_no_account_is_skipped() -> None:
    items = _read("instagram-account", _attr("description", "text", "posts fake giveaways"))
    assert [(i.category, i.source) for i in items if isinstance(i, Skipped)] == [
        ("object:instagram-account", "e.json:Object[0]")
    ]


@pytest.mark.parametrize(
    ("template", "relation", "value"),
    [
        ("facebook-account", "account-name", "facebook:scam.page.99"),
        ("instagram-account", "account-name", "instagram:giveaway.desk"),
        ("reddit-account", "account-name", "reddit:crypto_doubler"),
        ("parler-account", "account-name", "parler:doubler"),
        ("telegram-account", "username", "telegram:refund_support_bot"),
        ("tiktok-account", "username", "tiktok:giveaway.desk"),
        ("github-user", "username", "github:wallet-drainer"),
        ("gitlab-user", "username", "gitlab:wallet-drainer"),
    ],
)
def test_social_templates(template: str, relation: str, value: str) -> None:
    handle = value.split(":", 1)[1]
    id_relation = "account-id" if relation == "account-name" else "id"
    items = _read(template, _attr(id_relation, "text", "4242"), _attr(relation, "text", handle))
    assert _rows(items) == [("report", ".Attribute[1]", f"social={value}")]


# --- user-account: a platform account, or a system credential ----------------------------------------------


@pytest.mark.parametrize(
    "account_type", ["unix", "windows-local", "windows-domain", "ldap", "nis", "radius", "tacacs"]
)
def test_system_user_accounts_are_skipped_as_credentials(account_type: str) -> None:
    items = _read(
        "user-account",
        _attr("account-type", "text", account_type),
        _attr("username", "text", "margaret"),
        _attr("password", "text", "hunter2"),
    )
    (item,) = items
    assert isinstance(item, Skipped)
    assert (item.source, item.category) == ("e.json:Object[0]", f"user-account:{account_type}")
    assert "a credential, typically a victim's" in item.reason


def test_user_account_on_a_platform_is_a_social_report() -> None:
    items = _read(
        "user-account",
        _attr("account-type", "text", "Telegram"),
        _attr("user-id", "text", "5550001"),
        _attr("username", "text", "@Refund_Support_Bot"),
    )
    assert _rows(items) == [("report", ".Attribute[2]", "social=telegram:@Refund_Support_Bot")]
    items = _read("user-account", _attr("account-type", "text", "skype"), _attr("user-id", "text", "5550001"))
    assert _rows(items) == [("report", ".Attribute[1]", "social=skype:id:5550001")]


def test_user_account_without_account_type_is_skipped() -> None:
    (item,) = _read("user-account", _attr("username", "text", "margaret"))
    assert isinstance(item, Skipped)
    assert item.category == "user-account:untyped"


# --- bank accounts ----------------------------------------------------------------------------------------


def test_bank_account_iban_with_swift_is_one_report() -> None:
    items = _read(
        "bank-account",
        _attr("swift", "bic", "COBADEFF", to_ids=True),
        _attr("iban", "iban", "DE89 3704 0044 0532 0130 00", to_ids=True),
        _attr("account-name", "text", "J. Doe", to_ids=False),
    )
    assert _rows(items) == [("report", ".Attribute[1]", "bank-account=DE89 3704 0044 0532 0130 00")]
    report = _report(items)
    assert report.bic == "COBADEFF"


@pytest.mark.parametrize(
    ("context", "country", "canonical"),
    [
        ([_attr("swift", "bic", "BKKBTHBK")], "TH", "TH:1234567890 BKKBTHBKXXX"),  # the BIC's country
        (  # a country attribute wins over the BIC's
            [_attr("swift", "bic", "BKKBTHBK"), _attr("country", "text", "SG")],
            "SG",
            "SG:1234567890 BKKBTHBKXXX",
        ),
        ([_attr("aba-rtn", "aba-rtn", "021000021")], "US", "US:1234567890"),
        ([], "AU", "AU:1234567890"),  # the --country option
    ],
)
def test_bank_account_number_takes_the_objects_country(
    context: list[dict[str, Any]], country: str, canonical: str
) -> None:
    items = _read(
        "bank-account",
        _attr("account", "bank-account-nr", "123-4-56789-0"),
        *context,
        options=ReadOptions(country="AU"),
    )
    report = _report(items)
    assert report.country == country
    accepted = to_canonical_report(report)
    assert isinstance(accepted, Accepted)
    assert accepted.canonical.value == canonical


def test_bank_account_without_iban_or_account_is_rejected() -> None:
    assert _rows(_read("bank-account", _attr("swift", "bic", "NWBKGB2L"))) == [
        (
            "rejected",
            ".Attribute[0]",
            "a BIC alone is not a report, and this object holds no IBAN to attach it",
        )
    ]
    assert _rows(_read("bank-account", _attr("institution-name", "text", "Some Bank"))) == [
        ("rejected", "", "a bank-account object needs an iban or an account number")
    ]


def test_bank_account_with_two_different_bics() -> None:
    items = _read(
        "bank-account",
        _attr("iban", "iban", "DE89370400440532013000"),
        _attr("swift", "bic", "COBADEFF"),
        _attr("swift", "bic", "DEUTDEFF"),
    )
    assert _rows(items) == [
        ("rejected", ".Attribute[2]", "second BIC 'DEUTDEFF' in one object; attached only 'COBADEFF'"),
        ("report", ".Attribute[0]", "bank-account=DE89370400440532013000"),
    ]


# --- wallets: the symbol names the chain ------------------------------------------------------------------

_ETH = "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae"
_BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


@pytest.mark.parametrize(
    ("symbol", "address", "chain"),
    [
        ("BTC", _BTC, "bitcoin"),
        ("ETH", _ETH, "ethereum"),
        ("eth", _ETH, "ethereum"),
        (
            "XMR",
            "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A",
            "monero",
        ),
        ("USDT", _ETH, None),  # a token on several chains: a plain wallet, the chain from the address
        ("DOGE", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L", "dogecoin"),
    ],
)
def test_coin_address_symbol(symbol: str, address: str, chain: str | None) -> None:
    items = _read("coin-address", _attr("address", "btc", address), _attr("symbol", "text", symbol))
    report = _report(items)
    assert (report.kind, report.value, report.chain) == ("wallet", address, chain)


def test_coin_address_without_symbol_follows_the_attribute_type() -> None:
    assert _report(_read("coin-address", _attr("address", "btc", _BTC))).chain == "bitcoin"
    assert _report(_read("coin-address", _attr("address-crypto", "text", _ETH))).chain is None
    assert _report(_read("btc-wallet", _attr("wallet-address", "btc", _BTC))).chain == "bitcoin"
    assert _rows(_read("coin-address", _attr("symbol", "text", "BTC"))) == [
        ("rejected", "", "a coin-address object needs an address")
    ]


# --- network objects --------------------------------------------------------------------------------------


def test_url_object_reports_the_url_its_parts_are_context() -> None:
    items = _read(
        "url",
        _attr("domain", "domain", "login.bank-verify.example.com", to_ids=True),
        _attr("url", "url", "https://login.bank-verify.example.com/otp", to_ids=True),
        _attr("host", "hostname", "login.bank-verify.example.com", to_ids=True),
        _attr("scheme", "text", "https", to_ids=False),
    )
    assert _rows(items) == [("report", ".Attribute[1]", "url=https://login.bank-verify.example.com/otp")]
    assert _rows(_read("url", _attr("domain", "domain", "a.example.com"))) == [
        ("rejected", "", "a url object needs its url attribute")
    ]


def test_phishing_object_redirect_is_counted_as_context() -> None:
    items = _read(
        "phishing",
        _attr("url", "url", "https://bank-verify.example.com/", to_ids=True),
        _attr("url-redirect", "url", "https://other.example.net/land", to_ids=True),
    )
    assert _rows(items) == [
        ("report", ".Attribute[0]", "url=https://bank-verify.example.com/"),
        ("skipped", ".Attribute[1]", "phishing:url-redirect"),
    ]


def test_domain_ip_reports_the_domain_else_the_hostname() -> None:
    items = _read(
        "domain-ip",
        _attr("ip", "ip-dst", "203.0.113.7", to_ids=True),
        _attr("hostname", "hostname", "pay.bank-verify.example.com", to_ids=True),
        _attr("port", "port", "8443", to_ids=False),
    )
    assert _rows(items) == [
        ("report", ".Attribute[1]", "domain=pay.bank-verify.example.com"),
        ("skipped", ".Attribute[0]", "ip-dst"),
    ]
    assert _rows(_read("domain-ip", _attr("ip", "ip-dst", "203.0.113.7", to_ids=True))) == [
        ("skipped", "", "object:domain-ip")
    ]


def test_whois_reports_the_domain_not_its_nameservers() -> None:
    items = _read(
        "whois",
        _attr("nameserver", "hostname", "ns1.dns-host.example", to_ids=False),
        _attr("domain", "domain", "bank-verify.example.com", to_ids=True),
        _attr("registrant-email", "whois-registrant-email", "privacy@registrar.example", to_ids=True),
    )
    assert _rows(items) == [
        ("report", ".Attribute[1]", "domain=bank-verify.example.com"),
        ("skipped", ".Attribute[2]", "whois-registrant-email"),
    ]


# --- e-mail and messages: the sender, never the recipients ------------------------------------------------


def test_email_sender_from_when_there_is_no_reply_to() -> None:
    items = _read(
        "email",
        _attr("to", "email-dst", "victim@mail.example.org", to_ids=True),
        _attr("cc", "email-dst", "other.victim@mail.example.org", to_ids=True),
        _attr("from", "email-src", "refunds@secure-refund.example.net", to_ids=True),
    )
    assert _rows(items) == [
        ("report", ".Attribute[2]", "email=refunds@secure-refund.example.net"),
        ("skipped", ".Attribute[0]", "recipient"),
        ("skipped", ".Attribute[1]", "recipient"),
    ]


def test_email_without_a_sender_is_skipped() -> None:
    items = _read(
        "email",
        _attr("to", "email-dst", "victim@mail.example.org", to_ids=True),
        _attr("subject", "email-subject", "Your refund", to_ids=False),
    )
    assert _rows(items) == [("skipped", "", "object:email")]


def test_instant_message_reports_the_sending_number() -> None:
    items = _read(
        "instant-message",
        _attr("to-number", "phone-number", "+61 491 570 006", to_ids=False),
        _attr("from-number", "phone-number", "+44 20 7946 0958", to_ids=True),
        _attr("body", "text", "pay the fee", to_ids=False),
    )
    assert _rows(items) == [("report", ".Attribute[1]", "phone=+44 20 7946 0958")]


def test_phone_object_reports_the_msisdn_else_the_imei() -> None:
    msisdn = _attr("msisdn", "text", "+44 20 7946 0958")
    imei = _attr("imei", "text", "35-209900-176148-1")
    assert _rows(_read("phone", imei, msisdn)) == [("report", ".Attribute[1]", "phone=+44 20 7946 0958")]
    assert _rows(_read("phone", imei)) == [("report", ".Attribute[0]", "imei=35-209900-176148-1")]
    assert _rows(_read("phone", _attr("brand", "text", "X"))) == [("skipped", "", "object:phone")]


def test_phone_number_object_without_its_number_is_rejected() -> None:
    assert _rows(_read("phone-number", _attr("country-code", "text", "GB"))) == [
        ("rejected", "", "a phone-number object needs its phone-number attribute")
    ]


# --- to_ids, deletion, TLP, unmapped templates ------------------------------------------------------------


def test_to_ids_false_on_the_reported_attribute_skips_the_object_unless_included() -> None:
    number = _attr("phone-number", "phone-number", "+44 20 7946 0958", to_ids=False)
    assert _rows(_read("phone-number", number)) == [("skipped", ".Attribute[0]", "to_ids-false")]
    items = _read("phone-number", number, options=ReadOptions(include_non_ids=True))
    assert _rows(items) == [("report", ".Attribute[0]", "phone=+44 20 7946 0958")]


def test_deleted_object_and_deleted_attributes() -> None:
    assert _rows(_read("url", _attr("url", "url", "https://a.example.com/"), deleted=True)) == [
        ("skipped", "", "deleted")
    ]
    items = _read(
        "domain-ip",
        _attr("domain", "domain", "old.example.com", deleted=True),
        _attr("domain", "domain", "new.example.com"),
    )
    assert _rows(items) == [("report", ".Attribute[1]", "domain=new.example.com")]


def test_tlp_is_the_most_restrictive_of_event_object_and_attribute() -> None:
    url = _attr("url", "url", "https://a.example.com/", Tag=[{"name": "tlp:amber"}])
    obj: dict[str, Any] = {"name": "url", "Attribute": [url]}
    event = {"Event": {"Tag": [{"name": "tlp:green"}], "Object": [obj]}}
    (item,) = read_misp(event, "e.json")
    assert isinstance(item, ReportInput)
    assert item.tlp is TLP.AMBER
    obj["Tag"] = [{"name": "tlp:red"}]
    (item,) = read_misp(event, "e.json")
    assert isinstance(item, ReportInput)
    assert item.tlp is TLP.RED


def test_descriptions_and_dates_come_from_the_object_when_the_attribute_has_none() -> None:
    url = _attr("url", "url", "https://a.example.com/")
    report = _report(_read("url", url, comment="landing page", first_seen="2026-03-04T05:06:07+00:00"))
    assert report.description == "landing page"
    assert report.first_seen is not None
    assert report.first_seen.isoformat() == "2026-03-04T05:06:07+00:00"
    assert _report(_read("url", url)).description == "event info"


@pytest.mark.parametrize(
    "template", ["file", "person", "victim", "x509", "ip-port", "yara", "youtube-channel"]
)
def test_unmapped_templates_are_skipped_whole(template: str) -> None:
    items = _read(
        template,
        _attr("phone-number", "phone-number", "+44 20 7946 0958", to_ids=True),
        _attr("email", "email-src", "someone@mail.example.org", to_ids=True),
    )
    (item,) = items
    assert isinstance(item, Skipped)
    assert (item.source, item.category) == ("e.json:Object[0]", f"object:{template}")


def test_malformed_attribute_in_a_mapped_object_is_rejected() -> None:
    items = _read("url", "nonsense", _attr("url", "url", "https://a.example.com/"))  # type: ignore[arg-type]
    assert _rows(items) == [
        ("rejected", ".Attribute[0]", "a MISP attribute must be a JSON object"),
        ("report", ".Attribute[1]", "url=https://a.example.com/"),
    ]


def test_a_bad_field_is_rejected_not_skipped() -> None:
    items = _read(
        "phone-number", _attr("phone-number", "phone-number", "+1 555"), _attr("country-code", "text", "+1")
    )
    (item,) = items
    assert isinstance(item, Rejected)
    assert "country '+1' must be an ISO 3166-1 alpha-2 code" in item.reason
