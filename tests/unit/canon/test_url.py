"""URLs: refanging, scheme/host/port/path/query normalisation, rejects with reasons."""

from __future__ import annotations

import pytest

from tests.unit.canon.helpers import bad, ok

ACCEPTED = [
    ("hxxps://Www.Example[.]COM:443/a/../b%7e?x=1#frag", "https://www.example.com/b~?x=1"),
    ("hxxp[:]//evil[.]com/login", "http://evil.com/login"),
    ("hXXps[://]evil(dot)com/a b", "https://evil.com/a%20b"),
    ("example.com", "http://example.com/"),
    ("example.com/path?q", "http://example.com/path?q"),
    ("//example.com", "http://example.com/"),
    ("HTTP://EXAMPLE.COM:80", "http://example.com/"),
    ("https://example.com:8443/", "https://example.com:8443/"),
    ("ftp://files.example.org:21/pub", "ftp://files.example.org/pub"),
    ("http://bücher.de/straße?q=ä", "http://xn--bcher-kva.de/stra%C3%9Fe?q=%C3%A4"),
    ("http://ex%61mple.com/%41%2f%zz", "http://example.com/A%2F%25zz"),
    ("http://example.com/a/./b/../../c/.", "http://example.com/c/"),
    ("http://example.com?", "http://example.com/"),
    ("http://example.com/Path/CASE?Q=Kept", "http://example.com/Path/CASE?Q=Kept"),
    ("https://x.com/ä#top", "https://x.com/%C3%A4"),
    ("http:\\\\evil.com\\a\\b", "http://evil.com/a/b"),
    ("http://paypal.com@evil.com/login", "http://paypal.com@evil.com/login"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://3232235777/admin", "http://192.168.1.1/admin"),
    ("http://[2001:DB8::0:1]:8080/x", "http://[2001:db8::1]:8080/x"),
    ("  https://example.com/a\tb\n ", "https://example.com/ab"),
    ("example.com:8080/x", "http://example.com:8080/x"),
]


@pytest.mark.parametrize(("raw", "value"), ACCEPTED)
def test_accepted(raw: str, value: str) -> None:
    c = ok("url", raw)
    assert c.value == value
    assert c.sco_type == "url"
    assert dict(c.id_props) == {"value": value}


REJECTED = [
    ("javascript:alert(1)", "scheme 'javascript' is not supported"),
    ("mailto:bob@example.com", "scheme 'mailto'"),
    ("data:text/html,hi", "scheme 'data'"),
    ("http://localhost/", "known public suffix"),
    ("http://1.2.3.999/", "out of range"),
    ("http://1.2.3.4.5/", "more than four parts"),
    ("http://example.com:99999/", "port '99999'"),
    ("http://example.com:http/", "port 'http'"),
    ("http://[2001:db8::zz]/", "not a valid IPv6"),
    ("http://exa mple.com/", "space"),
    ("http://-bad-.com/", "hyphen"),
    ("http://co.uk/", "public suffix"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_rejected(raw: str, reason: str) -> None:
    assert reason in bad("url", raw).reason


def test_facts_for_a_domain_host() -> None:
    facts = ok("url", "https://login.evil.github.io/x").facts
    assert facts["domain"] == "login.evil.github.io"
    assert facts["host"] == "login.evil.github.io"
    assert facts["registrable_domain"] == "evil.github.io"
    assert facts["scheme"] == "https"
    assert ok("url", "http://bücher.de/").facts["domain_unicode"] == "bücher.de"


def test_facts_for_an_ip_host() -> None:
    facts = ok("url", "http://192.168.1.1/").facts
    assert facts["ip"] == "192.168.1.1"
    assert "domain" not in facts


def test_query_parameter_order_is_kept() -> None:
    assert ok("url", "http://example.com/?b=2&a=1").value == "http://example.com/?b=2&a=1"
