from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.canon import KINDS
from pipeline.errors import ConfigError
from pipeline.processors.allowlist import DEFAULT_FILE, load_allowlist

from .factories import canonical

ALLOW = load_allowlist()
DATA = DEFAULT_FILE.parent


@pytest.mark.parametrize(
    ("kind", "value", "held"),
    [
        ("phone", "+66 2 888 8888", True),
        ("phone", "+66 81 234 5678", False),
        ("domain", "paypal.com", True),
        ("domain", "login.paypal.com", True),
        ("domain", "paypal-login.com", False),
        ("url", "https://www.paypal.com/", True),
        ("url", "https://paypal.com/signin/verify", False),  # a specific page can be a real scam page
        ("url", "https://bit.ly/3xYz", False),  # a specific short link can be a scam
        ("domain", "bit.ly", True),
    ],
)
def test_matching(kind: str, value: str, held: bool) -> None:
    reason = ALLOW.match(canonical(kind, value))
    assert (reason is not None) == held
    if held:
        assert value.lower().split("://")[-1].split("/")[0].removeprefix("www.") in reason or "+66" in reason


def test_bad_entries_are_refused_naming_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "allow.yaml"
    bad.write_text("phone:\n  - '+66 2 888 8888'\n  - '12'\n")
    with pytest.raises(ConfigError, match=r"allow\.yaml: phone\[1\] '12': "):
        load_allowlist(bad)
    bad.write_text("ipv4: [1.2.3.4]\n")
    with pytest.raises(ConfigError, match="unknown type 'ipv4'"):
        load_allowlist(bad)


# --- every kind can be allowlisted: the entry is held, a near miss is not -------------------------------

EVERY_KIND = """
phone:
  - {value: "02 888 8888", country: TH, note: "bank hotline"}
domain:
  - example-bank.com
url:
  - https://example.org/report-scam
email:
  - Fraud.Team@Example-Bank.com
wallet:
  - "0x52908400098527886e0f7030069857d2e4169ee7"
bank-account:
  - DE89 3704 0044 0532 0130 00
social:
  - https://t.me/KBankOfficial
imei:
  - 35-209900-176148-1
"""

# (kind, held spelling, near miss): the held value is spelled differently from the listed one on purpose
PER_KIND = [
    ("phone", "+66 2 888 8888", "+66 2 888 8889"),
    ("domain", "login.example-bank.com", "example-bank.com.evil.net"),
    ("url", "HXXPS://EXAMPLE[.]org/report-scam#top", "https://example.org/report-scam2"),
    ("email", "Fraud.Team@EXAMPLE-BANK.com", "Fraud-Team@example-bank.com"),
    # the EIP-55 mixed-case spelling of the listed lower-case address, and an address one digit away
    ("wallet", "0x52908400098527886E0F7030069857D2E4169EE7", "0x52908400098527886e0f7030069857d2e4169ee8"),
    ("bank-account", "DE89370400440532013000 COBADEFFXXX", "GB82 WEST 1234 5698 7654 32"),
    ("social", "telegram:@kbankofficial", "telegram:kbank_official"),
    ("imei", "3520990017614823", "352099001761499"),  # its IMEISV; another handset
]


@pytest.fixture(scope="module")
def every_kind(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("allow") / "every-kind.yaml"
    path.write_text(EVERY_KIND)
    return path


def test_the_per_kind_cases_cover_every_kind() -> None:
    assert sorted(kind for kind, _, _ in PER_KIND) == sorted(KINDS)


@pytest.mark.parametrize(("kind", "held", "near_miss"), PER_KIND, ids=[k for k, _, _ in PER_KIND])
def test_every_kind_can_be_allowlisted(every_kind: Path, kind: str, held: str, near_miss: str) -> None:
    allow = load_allowlist(every_kind)
    assert allow.match(canonical(kind, held)) is not None
    assert allow.match(canonical(kind, near_miss)) is None
    assert allow.counts[kind] == 1


def test_a_listed_mail_domain_does_not_hold_addresses_at_it() -> None:
    assert ALLOW.match(canonical("domain", "gmail.com")) is not None
    assert ALLOW.match(canonical("email", "scammer@gmail.com")) is None
    assert ALLOW.match(canonical("email", "support@paypal.com")) is None  # a brand's domain neither


@pytest.mark.parametrize(
    ("url", "held"),
    [
        ("https://bit.ly/", True),
        ("https://bit.ly/3xYzAbc", False),
        ("https://tinyurl.com/?x=1", False),
        ("https://linktr.ee/", True),
        ("https://linktr.ee/fake_support", False),
        ("https://beacons.ai/crypto.mentor", False),
    ],
)
def test_shorteners_and_link_in_bio_hosts_hold_only_their_bare_root(url: str, held: bool) -> None:
    assert (ALLOW.match(canonical("url", url)) is not None) == held


# --- subdomains ------------------------------------------------------------------------------------------


def test_subdomains_the_public_suffix_list_delegates_are_not_held(tmp_path: Path) -> None:
    path = tmp_path / "allow.yaml"
    path.write_text("domain: [github.io, carrd.co]\n")
    allow = load_allowlist(path)
    assert allow.match(canonical("domain", "github.io")) is not None
    assert allow.match(canonical("domain", "evil.github.io")) is None
    assert allow.match(canonical("domain", "www.evil.github.io")) is None
    assert allow.match(canonical("url", "https://evil.carrd.co/")) is None


def test_subdomain_modes_of_the_shipped_list() -> None:
    assert ALLOW.match(canonical("domain", "t.me")) is not None
    assert ALLOW.match(canonical("domain", "scam-support.t.me")) is None  # any Telegram user's
    assert ALLOW.match(canonical("url", "https://evil-workspace.slack.com/")) is None
    assert ALLOW.match(canonical("domain", "www.tax.service.gov.uk")) is not None  # delegated, trusted
    assert ALLOW.match(canonical("domain", "accounts.google.com")) is not None  # owned


def test_the_narrowest_subdomain_rule_wins_and_notes_default_to_the_list_name(tmp_path: Path) -> None:
    path = tmp_path / "allow.yaml"
    path.write_text(
        "sources:\n  a: {source: x, licence: y}\n  b: {source: x, licence: y}\n"
        "domain:\n  a: [example.com]\n  b: [{value: example.com, subdomains: none}]\n"
    )
    allow = load_allowlist(path)
    assert allow.subdomains == {"example.com": "none"}
    assert allow.match(canonical("domain", "login.example.com")) is None
    assert allow.match(canonical("domain", "www.example.com")) is not None  # www is the name itself
    assert allow.match(canonical("domain", "example.com")) == (
        "domain example.com belongs to allowlisted domain example.com (a)"
    )
    assert allow.counts == {"domain": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("domain:\n  - {value: example.com, subdomains: some}\n", r"domain\[0\]: subdomains is one of"),
        ("phone:\n  - {value: '+66 2 888 8888', subdomains: none}\n", r"domain entries only"),
        ("domain:\n  - {value: example.com, notes: x}\n", r"unknown key\(s\) \['notes'\]"),
        (
            "domain:\n  shops:\n    - example.com\n    - 'not a domain'\n",
            r"domain\.shops\[1\] 'not a domain': ",
        ),
        ("sources:\n  shops: {source: x}\ndomain:\n  shops: [example.com]\n", r"sources\.shops: give both"),
        (
            "sources:\n  other: {source: x, licence: y}\ndomain:\n  shops: [example.com]\n",
            r"'shops' has no entry",
        ),
        ("sources:\n  shops: {source: x, licence: y}\ndomain: []\n", r"names \['shops'\], which are not"),
        ("domain: example.com\n", r"domain: expected a list of entries"),
    ],
)
def test_malformed_files_are_refused_with_the_file_and_the_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "allow.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"allow\.yaml: ") as info:
        load_allowlist(path)
    assert info.match(message)


# --- the shipped list ------------------------------------------------------------------------------------


def test_the_shipped_list_holds_every_brand_domain() -> None:
    brands = yaml.safe_load((DATA / "brands.yaml").read_text())["brands"]
    domains = {d for brand in brands for d in brand["domains"]}
    assert domains <= set(ALLOW.domains)
    for d in domains:
        assert ALLOW.match(canonical("domain", d)) is not None, d


def test_the_shipped_list_holds_the_shortener_link_in_bio_and_freemail_hosts_but_no_disposable_one() -> None:
    hosts = yaml.safe_load((DATA / "hosts.yaml").read_text())
    for group in ("shorteners", "link_in_bio", "freemail"):
        assert set(hosts[group]) <= set(ALLOW.domains), group
    assert not set(hosts["disposable"]) & set(ALLOW.domains)


def test_the_shipped_list_sizes_and_sources() -> None:
    # minimums of what is shipped: a shrinking list is a decision, not an accident
    assert ALLOW.counts["domain"] >= 230
    assert ALLOW.counts["phone"] >= 25
    assert ALLOW.counts["email"] >= 2
    assert set(ALLOW.counts) == {"phone", "domain", "email"}  # wallet, url, ... ship empty (see the file)
    assert {"brands", "platforms", "email-providers", "url-shorteners", "link-in-bio", "hotlines"} <= set(
        ALLOW.sources
    )
    assert all(s.source and s.licence for s in ALLOW.sources.values())
    assert ALLOW.sources["exchange-wallets"].source.startswith("none")  # and says why


def test_every_shipped_phone_entry_names_its_organisation_and_where_it_is_published() -> None:
    doc = yaml.safe_load(DEFAULT_FILE.read_text())
    for entry in doc["phone"]["hotlines"]:
        organisation, _, published = entry["note"].partition(";")
        assert organisation.strip() and published.strip(), entry
