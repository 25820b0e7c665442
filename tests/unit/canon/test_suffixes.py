"""The Public Suffix List lookup of a plain host splits every rule of the list as tldextract does."""

from __future__ import annotations

import random

import idna
import pytest
import tldextract

from pipeline.canon import domain
from pipeline.canon.domain import DomainSplit, HostError, split_with_tldextract
from pipeline.canon.suffixes import SuffixList, public_suffix, suffix_list


def _rules() -> list[str]:
    extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), include_psl_private_domains=True)
    return sorted(extract.tlds)


RULES = _rules()


def _ascii(host: str) -> str | None:
    try:
        return ".".join(
            lab if lab.isascii() else idna.encode(lab, uts46=True).decode() for lab in host.split(".")
        )
    except idna.IDNAError:
        return None


def _hosts_of(rule: str) -> list[str]:
    """Hosts that exercise a rule: the suffix itself, one and two labels under it (a wildcard takes any
    label, an exception names one)."""
    if rule.startswith("!"):
        base = [rule[1:]]
    elif rule.startswith("*."):
        base = ["x" + rule[1:], rule[2:]]
    else:
        base = [rule]
    hosts = []
    for b in base:
        hosts += [b, "scam." + b, "www.login-1.scam." + b, "a_b.scam." + b]
    return [a for h in hosts if (a := _ascii(h)) is not None]


def _reference(host: str) -> DomainSplit | str:
    try:
        return domain._split(host, *split_with_tldextract(host))
    except HostError as exc:
        return f"HostError: {exc}"


def _ours(host: str) -> DomainSplit | str:
    domain.split_domain.cache_clear()
    try:
        return domain.split_domain(host)
    except HostError as exc:
        return f"HostError: {exc}"


def test_the_list_has_both_sections_and_idn_rules() -> None:
    assert len(RULES) > 9000
    assert any(r.startswith("*.") for r in RULES) and any(r.startswith("!") for r in RULES)
    assert any(not r.isascii() for r in RULES)
    rules = suffix_list()
    assert public_suffix(rules.with_private, ["evil", "github", "io"]) == (1, True)
    assert public_suffix(rules.icann, ["evil", "github", "io"]) == (2, False)


@pytest.mark.parametrize("part", range(8))
def test_every_rule_splits_as_tldextract_splits_it(part: int) -> None:
    hosts = [h for rule in RULES[part::8] for h in _hosts_of(rule)]
    assert len(hosts) > 4000
    differ = {h: (ours, ref) for h in hosts if (ours := _ours(h)) != (ref := _reference(h))}
    assert differ == {}


def test_hosts_off_the_list_and_odd_labels_split_as_tldextract_splits_them() -> None:
    rng = random.Random(41)
    hosts = ["localhost", "1.2.3.4", "example.invalidtld", "co.uk", "www.ck", "a.www.ck", "x.bd", "bd",
             "xn--bcher-kva.de", "xn--zz.com", "xn--.com", "a.xn--p1ai", "kyoto.jp", "city.kyoto.jp",
             "x.city.kyoto.jp", "github.io", "a.github.io", "a.b.github.io",
             "_dmarc.example.com"]  # fmt: skip
    alphabet = "abcx-_0."
    hosts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) + "." + rng.choice(RULES)
              for _ in range(2000)]  # fmt: skip
    plain = [h for h in hosts if domain._PLAIN_HOST.fullmatch(h)]
    assert len(plain) > 1000
    assert {h: o for h in plain if (o := _ours(h)) != _reference(h)} == {}


def test_hosts_of_another_shape_go_to_tldextract() -> None:
    # split_domain is public: a host to_ascii would not give is still split, by tldextract as before.
    for host in ["Example.COM", "example.com.", "example.com:443", "[::1]", "a..com"]:
        assert not domain._PLAIN_HOST.fullmatch(host)
        assert _ours(host) == _reference(host)


def test_a_rule_in_both_sections_gives_the_split_either_flag_gives() -> None:
    # tldextract marks such a rule private, which only asks the ICANN rules again: they end on the same rule.
    rules = SuffixList(["com", "example.com"], ["example.com", "app"])
    assert public_suffix(rules.with_private, ["a", "example", "com"]) == (1, False)
    assert public_suffix(rules.icann, ["a", "example", "com"]) == (1, False)
    assert public_suffix(rules.with_private, ["a", "app"]) == (1, True)
    assert public_suffix(rules.icann, ["a", "app"]) is None
