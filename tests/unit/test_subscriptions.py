"""Subscription definitions: YAML with errors naming file, line, entry and field; update merge semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.processors.fanout import route
from pipeline.processors.output import IndicatorView, RoutedView
from pipeline.state.subscription import Subscription
from pipeline.stix.tlp import TLP
from pipeline.subscribers.subscriptions import (
    SubscriptionError,
    apply_update,
    load_file,
    parse_subscription,
    parse_yaml,
)

SAMPLES = Path(__file__).resolve().parents[2] / "pipeline" / "data" / "samples" / "subscribers.yaml"

GOOD = """\
subscribers:
  - id: telco-th
    name: Telco
    sector: telecom
    organisation: telco-th
    countries: [th]
    types: [phone]
  - id: bank-sg
    name: Bank
    sector: bank
    organisation: bank-sg
    tlp: amber
"""


def test_sample_file_loads() -> None:
    subs = load_file(SAMPLES)
    assert [s.id for s in subs] == ["telco-th", "bank-sg", "platform-socialnet", "police-au"]
    assert subs[3].tlp == TLP.AMBER_STRICT


def test_parse_good_yaml() -> None:
    telco, bank = parse_yaml(GOOD)
    assert telco.countries == {"TH"}
    assert bank.tlp == TLP.AMBER


def test_types_imei_routes_imeis_only() -> None:
    telco, bank = parse_yaml(
        GOOD.replace("types: [phone]", "types: [phone, imei]").replace("tlp: amber", "types: [bank-account]")
    )
    assert telco.types == {"phone", "imei"}

    def view(kind: str) -> IndicatorView:
        green = RoutedView("1", 1, 1, "active", TLP.GREEN, 50, frozenset({"investment"}))
        return IndicatorView("indicator--1", 1, kind, "", False, {"1": green})

    assert [r.subscription.id for r in route(view("imei"), [telco, bank], {})] == ["telco-th"]
    assert [r.subscription.id for r in route(view("bank-account"), [telco, bank], {})] == ["bank-sg"]


def test_unknown_type_lists_imei_among_the_known() -> None:
    with pytest.raises(InputError, match=r"type\(s\) \['imsi'\]; expected some of .*'imei'"):
        parse_yaml(GOOD.replace("types: [phone]", "types: [imsi]"))


def test_top_level_list_is_accepted() -> None:
    [sub] = parse_yaml("- {id: a, name: A, sector: other, organisation: a}\n")
    assert sub.id == "a"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("tlp: amber", "tlp: purple"),
            "f.yaml:8: entry 2 (bank-sg): field 'tlp': 'purple' is not a TLP",
        ),
        (GOOD.replace("tlp: amber", "tlp: red"), "field 'tlp': no subscriber can be cleared for TLP:RED"),
        (
            GOOD.replace("countries: [th]", "countries: [THA]"),
            "f.yaml:2: entry 1 (telco-th): field 'countries'",
        ),
        (GOOD.replace("types: [phone]", "types: [fax]"), "field 'types': unknown indicator type(s) ['fax']"),
        (GOOD.replace("    sector: bank\n", ""), "entry 2 (bank-sg): field 'sector': is required"),
        (GOOD.replace("tlp: amber", "colour: blue"), "field 'colour': unknown field"),
        (
            GOOD.replace("id: bank-sg", "id: telco-th"),
            "f.yaml:8: entry 2 (telco-th): id 'telco-th' is already",
        ),
        (GOOD.replace("id: bank-sg", "id: Bank SG"), "entry 2 (Bank SG): field 'id'"),
        (GOOD + "  - just a string\n", "f.yaml:13: entry 3: a subscription must be a mapping"),
        ("subscribers: {a: 1}\n", "f.yaml: expected `subscribers:` followed by a list"),
        ("subscribers: [\n", "f.yaml:2: not valid YAML"),
    ],
    ids=lambda v: v[:30] if isinstance(v, str) else v,
)
def test_precise_errors(text: str, expected: str) -> None:
    with pytest.raises(InputError) as info:
        parse_yaml(text, "f.yaml")
    assert expected in str(info.value)


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.yaml: cannot read"):
        load_file(tmp_path / "missing.yaml")


def test_parse_subscription_names_every_bad_field() -> None:
    with pytest.raises(SubscriptionError) as info:
        parse_subscription({"id": "x", "name": "", "sector": "shop", "organisation": "x", "min_score": 101})
    text = str(info.value)
    assert "field 'name'" in text and "field 'sector'" in text and "field 'min_score'" in text


BASE = Subscription(
    id="bank-sg", name="Bank", sector="bank", organisation="bank-sg", countries={"SG"}, types={"phone"}
)


def test_update_replaces_only_given_fields() -> None:
    new = apply_update(BASE, {"min_score": 40, "tlp": "amber", "name": None})
    assert (new.min_score, new.tlp, new.name, new.countries, new.types) == (
        40, TLP.AMBER, "Bank", {"SG"}, {"phone"}
    )  # fmt: skip


def test_update_replaces_and_clears_sets() -> None:
    assert apply_update(BASE, {"types": ["wallet", "bank-account"]}).types == {"wallet", "bank-account"}
    assert apply_update(BASE, {"countries": []}).countries == frozenset()


def test_update_refuses_bad_values_and_id_change() -> None:
    with pytest.raises(SubscriptionError, match="field 'min_score'"):
        apply_update(BASE, {"min_score": -1})
    with pytest.raises(SubscriptionError, match="cannot change"):
        apply_update(BASE, {"id": "other"})
    assert apply_update(BASE, {}) == BASE
