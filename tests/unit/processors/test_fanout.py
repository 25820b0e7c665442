from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.processors.fanout import IndicatorView, route
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP


def sub(id_: str, **kw) -> Subscription:  # type: ignore[no-untyped-def]
    base = {"name": id_.title(), "sector": "telecom", "organisation": id_}
    return Subscription(id=id_, **{**base, **kw})


def view(**kw) -> IndicatorView:  # type: ignore[no-untyped-def]
    base = {
        "indicator_id": "indicator--1", "version": 1, "kind": "phone", "country": "TH", "score": 60,
        "scam_types": frozenset({"investment"}), "tlp": TLP.GREEN, "reporters": frozenset({"bank-a"}),
        "revoked": False,
    }  # fmt: skip
    return IndicatorView(**{**base, **kw})


SUBS = [
    sub("telco-th", types={"phone"}, countries={"th"}),
    sub("bank-a", sector="bank", types={"phone", "bank-account", "wallet"}, tlp="amber"),
    sub("platform-x", sector="platform", types={"domain", "url"}, min_score=50),
    sub("police", sector="law-enforcement", tlp="amber+strict"),
]


def ids(subs: list[Subscription]) -> list[str]:
    return [s.id for s in subs]


@pytest.mark.parametrize(
    ("tlp", "expected"),
    [
        (TLP.CLEAR, ["telco-th", "bank-a", "police"]),
        (TLP.GREEN, ["telco-th", "bank-a", "police"]),
        (TLP.AMBER, ["bank-a", "police"]),
        (TLP.AMBER_STRICT, ["bank-a"]),  # only the reporting organisation
        (TLP.RED, []),
    ],
)
def test_tlp_matrix(tlp: TLP, expected: list[str]) -> None:
    assert ids(route(view(tlp=tlp), SUBS, {})) == expected


def test_filters_by_type_country_score_and_scam_type() -> None:
    assert ids(route(view(country="MY"), SUBS, {})) == ["bank-a", "police"]
    assert ids(route(view(country=""), SUBS, {})) == ["telco-th", "bank-a", "police"]
    assert ids(route(view(kind="domain", score=40), SUBS, {})) == ["police"]
    assert ids(route(view(kind="domain", score=50), SUBS, {})) == ["platform-x", "police"]
    romance_only = sub("r", scam_types={"romance"})
    assert route(view(), [romance_only], {}) == []


def test_a_version_is_never_delivered_twice() -> None:
    assert ids(route(view(version=2), SUBS, {"telco-th": 2, "bank-a": 1})) == ["bank-a", "police"]


def test_revocation_goes_to_every_past_recipient_and_nobody_else() -> None:
    revoked = view(version=3, revoked=True, tlp=TLP.RED, country="MY")
    assert ids(route(revoked, SUBS, {"telco-th": 1, "platform-x": 2})) == ["telco-th", "platform-x"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"id": "Bad Id"}, "String should match pattern"),
        ({"sector": "bakery"}, "Input should be"),
        ({"countries": ["Thailand"]}, "not an ISO 3166"),
        ({"types": ["ipv4"]}, "unknown indicator type"),
        ({"tlp": "red"}, "RED never leaves"),
        ({"tlp": "purple"}, "not a TLP level"),
        ({"min_score": 101}, "less than or equal to 100"),
        ({"colour": "blue"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_subscriptions_are_refused_precisely(kw: dict, message: str) -> None:
    data = {"id": "ok", "name": "Ok", "sector": "bank", "organisation": "ok", **kw}
    with pytest.raises(ValidationError, match=message):
        Subscription(**data)
