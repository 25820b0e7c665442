from __future__ import annotations

import pytest

from pipeline.processors.enrich import default_enrichers, enrich, load_config
from pipeline.processors.lookalike import Brand, edit_distance_at_most_one, find_lookalike, skeleton

from .factories import canonical

ENRICHERS = default_enrichers(load_config(), plugins=False)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("domain", "kbank-verify23.com", {"lookalike_of": "kbank", "lookalike": "contains"}),
        ("domain", "paypa1.com", {"lookalike_of": "paypal"}),
        ("domain", "xn--pypal-4ve.com", {"lookalike_of": "paypal", "lookalike": "homoglyph"}),  # Cyrillic а
        ("domain", "netflx.com", {"lookalike_of": "netflix", "lookalike": "edit-distance"}),
        ("url", "https://secure-commbank.top/login", {"lookalike_of": "commbank", "shortener": False}),
        ("url", "https://bit.ly/3xYz", {"shortener": True, "link_in_bio": False}),
        ("url", "https://linktr.ee/cryptoguru", {"link_in_bio": True}),
        ("email", "help@mailinator.com", {"disposable": True, "freemail": False}),
        ("email", "someone@gmail.com", {"freemail": True, "disposable": False}),
        ("phone", "+66812345678", {"country": "TH", "line_type": "mobile"}),
        ("bank-account", "DE89370400440532013000", {"country": "DE", "bank_name": "Commerzbank"}),
        ("wallet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", {"chain": "bitcoin", "asset": "BTC"}),
        ("imei", "35-209900-176148-1", {"tac": "35209900"}),
    ],
)
def test_enrichment(kind: str, value: str, expected: dict[str, object]) -> None:
    facts = enrich(canonical(kind, value), ENRICHERS)
    assert {k: facts.get(k) for k in expected} == expected


@pytest.mark.parametrize(
    "value", ["kasikornbank.com", "paypal.com", "describe.com", "example.com", "netflix.com"]
)
def test_brands_own_and_unrelated_domains_are_not_lookalikes(value: str) -> None:
    assert "lookalike_of" not in enrich(canonical("domain", value), ENRICHERS)


def test_skeleton_and_edit_distance() -> None:
    assert skeleton("PаyPa1") == "paypal"
    assert skeleton("rnicrosoft") == "microsoft"
    assert edit_distance_at_most_one("paypal", "paypla")  # transposition
    assert edit_distance_at_most_one("paypal", "papal")
    assert not edit_distance_at_most_one("paypal", "pyapla")
    assert find_lookalike("x.com", "x", [Brand("paypal", frozenset({"paypal.com"}))]) is None
