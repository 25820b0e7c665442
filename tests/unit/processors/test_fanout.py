"""Routing: who gets which version, through merge → record → route (the worker's own functions)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.processors.score import ScoreModel
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP

from .exchange import Exchange, sub
from .factories import report

SUBS = [
    sub("telco-th", types={"phone"}, countries={"th"}),
    sub("bank-a", sector="bank", types={"phone", "bank-account", "wallet"}, tlp="amber"),
    sub("platform-x", sector="platform", types={"domain", "url"}, min_score=50),
    sub("police", sector="law-enforcement", tlp="amber+strict"),
]
MODEL = ScoreModel(trust={"bank-a": 0.9, "other": 0.9, "third": 0.9})


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
    assert Exchange(SUBS, MODEL).report(report(producer="bank-a", tlp=tlp)) == expected


def test_filters_by_type_country_score_and_scam_type() -> None:
    assert Exchange(SUBS, MODEL).report(report(value="+60123456789")) == ["bank-a", "police"]
    assert Exchange(SUBS, MODEL).report(report("wallet", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT")) == [
        "bank-a", "police",
    ]  # fmt: skip
    # A domain from one organisation scores below platform-x's min_score 50; corroborated, it passes.
    ex = Exchange(SUBS, MODEL)
    assert ex.report(report("domain", "kbank-verify23.com", producer="other", confidence=60)) == ["police"]
    assert ex.report(report("domain", "kbank-verify23.com", producer="third", sub="2")) == [
        "platform-x", "police",
    ]  # fmt: skip
    romance_only = sub("r", scam_types={"romance"})
    assert Exchange([romance_only], MODEL).report(report()) == []


def test_a_version_is_never_delivered_twice_nor_one_the_subscriber_cannot_tell_apart() -> None:
    ex = Exchange(SUBS, MODEL)
    ex.report(report(producer="other"))
    assert ex.report(report(producer="other", sub="again")) == []  # nothing changed for anyone
    # An AMBER report changes the AMBER audience only: GREEN-cleared telco-th gets nothing new.
    assert ex.report(report(producer="third", sub="3", tlp=TLP.AMBER)) == ["bank-a", "police"]


def test_revocation_goes_to_every_past_recipient_and_nobody_else() -> None:
    from dataclasses import replace  # noqa: PLC0415

    ex = Exchange([*SUBS, sub("late", tlp="green")], MODEL)
    ex.report(report(producer="other"))
    ex.subs.append(sub("later", tlp="green"))
    assert ex.state is not None
    got = ex.set_state(replace(ex.state, revoked=True, version=ex.state.version + 1))
    assert got == ["telco-th", "bank-a", "police", "late"]
    assert all(ex.inbox[s][-1].status == "revoked" for s in got)


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
