"""Domain names: defanging, IDNA, Public Suffix List, rejects with reasons."""

from __future__ import annotations

import pytest

from pipeline.canon.domain import HostError, split_domain, to_ascii, to_unicode
from tests.unit.canon.helpers import bad, ok

ACCEPTED = [
    ("WWW.Example.COM.", "example.com", "example.com"),
    ("example[.]com", "example.com", "example.com"),
    ("example(dot)co(dot)uk", "example.co.uk", "example.co.uk"),
    ("login.example{.}co.th", "login.example.co.th", "example.co.th"),
    ("paypal-secure [.] com", "paypal-secure.com", "paypal-secure.com"),
    ("Bücher.DE", "xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("XN--BCHER-KVA.de", "xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("ｅｘａｍｐｌｅ．ｃｏｍ", "example.com", "example.com"),
    ("пример.рф", "xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),
    ("faß.de", "xn--fa-hia.de", "xn--fa-hia.de"),  # IDNA 2008: ß is kept, not mapped to ss
    ("evil.github.io", "evil.github.io", "evil.github.io"),
    ("a.b.evil.blogspot.com", "a.b.evil.blogspot.com", "evil.blogspot.com"),
    ("my_host.example.com", "my_host.example.com", "example.com"),
    ("github.io", "github.io", "github.io"),
    ("abc.onion", "abc.onion", "abc.onion"),
]


@pytest.mark.parametrize(("raw", "value", "registrable"), ACCEPTED)
def test_accepted(raw: str, value: str, registrable: str) -> None:
    c = ok("domain", raw)
    assert c.value == value
    assert c.facts["registrable_domain"] == registrable
    assert c.sco_type == "domain-name"
    assert c.pattern == f"[domain-name:value = '{value}']"


REJECTED = [
    ("http://example.com", "type url"),
    ("hxxp://example[.]com", "type url"),
    ("example.com/login", "type url"),
    ("example.com:8080", "port"),
    ("bob@example.com", "type email"),
    ("*.example.com", "wildcard"),
    ("1.2.3.4", "IP address"),
    ("localhost", "known public suffix"),
    ("foo.invalidtld", "known public suffix"),
    ("co.uk", "public suffix, not a domain"),
    ("a..b.com", "empty label"),
    ("-bad.com", "starts or ends with a hyphen"),
    ("ab--cd.com", "3rd and 4th position"),
    ("xn--zz.com", "not a valid IDNA A-label"),
    ("☃.com", "IDNA 2008"),
    ("a" * 64 + ".com", "longer than 63"),
    (".".join(["a" * 60] * 5) + ".com", "limit is 253"),
    ("my_host.com", "underscore"),
    ("foo bar.com", "spaces"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_rejected(raw: str, reason: str) -> None:
    assert reason in bad("domain", raw).reason


def test_facts() -> None:
    c = ok("domain", "login.evil.github.io")
    assert dict(c.facts) == {
        "registrable_domain": "evil.github.io",
        "suffix": "github.io",
        "registry_domain": "github.io",
        "unicode": "login.evil.github.io",
    }
    assert ok("domain", "bücher.de").facts["unicode"] == "bücher.de"


def test_helpers_for_url_and_email() -> None:
    assert to_ascii("Bücher.DE.") == "xn--bcher-kva.de"
    assert to_unicode("xn--bcher-kva.de") == "bücher.de"
    split = split_domain("www.bbc.co.uk")
    assert (split.registrable, split.suffix, split.registry_suffix) == ("bbc.co.uk", "co.uk", "co.uk")
    with pytest.raises(HostError, match="empty host"):
        to_ascii(" . ")


def test_country_hint_is_ignored() -> None:
    assert ok("domain", "example.com", "TH") == ok("domain", "example.com")


def test_public_suffix_list_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket  # noqa: PLC0415

    from pipeline.canon import domain  # noqa: PLC0415

    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the Public Suffix List must come from the bundled snapshot")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for cache in (domain.extractor, domain.suffix_list, domain.split_domain):
        cache.cache_clear()
    try:
        assert domain.split_domain("www.example.co.th").registrable == "example.co.th"
        # A host of another shape is split by tldextract, whose list must be the snapshot too.
        assert domain.split_with_tldextract("www.example.co.th")[0] == ("example.co.th", "co.th")
    finally:
        for cache in (domain.extractor, domain.suffix_list, domain.split_domain):
            cache.cache_clear()


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("www.example.com", "example.com"),
        ("www.www.example.com", "example.com"),
        ("www.evil.github.io", "evil.github.io"),
        ("www.login.example.co.th", "login.example.co.th"),
        ("login.www.example.com", "login.www.example.com"),
        ("wwwexample.com", "wwwexample.com"),
        ("www.co.uk", "www.co.uk"),  # never down to a public suffix
    ],
)
def test_a_leading_www_is_the_name_under_it(raw: str, value: str) -> None:
    c = ok("domain", raw)
    assert c.value == value
    assert ok("domain", c.value).value == c.value
    assert ok("domain", c.value) == c  # every field, facts included: idempotent
    assert ok("domain", value).indicator_id == c.indicator_id
