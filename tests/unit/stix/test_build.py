"""The fast dict builders: shapes, ids, markings, clamps, and serialisation."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import stix2
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.canon import NEW_SCO_EXTENSION_IDS, Canonical
from pipeline.stix.build import (
    _timestamp,
    dumps,
    indicator_bundle,
    new_bundle_id,
    producer_identity,
    report_bundle,
    sco_object,
)
from pipeline.stix.ids import (
    INDICATOR_EXTENSION_ID,
    SCAMSHARE_IDENTITY_ID,
    producer_identity_id,
    relationship_id,
)
from pipeline.stix.times import stix_timestamp
from pipeline.stix.tlp import TLP

from .samples import CANONICALS, NOW

LATER = NOW + timedelta(hours=5)


def published(c: Canonical, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "version": 3,
        "created": NOW,
        "modified": LATER,
        "valid_from": NOW,
        "valid_until": NOW + timedelta(days=90),
        "revoked": False,
        "confidence": 70,
        "tlp": TLP.AMBER,
        "scam_types": ["investment", "impersonation"],
        "score": 64,
        "reporter_count": 3,
        "report_count": 5,
        "sightings": {"true_positive": 2, "false_positive": 1, "blocked": 9},
        "first_reported": NOW,
        "last_reported": LATER,
        "enrichment": {"country": "US", "line_type": "mobile"},
    }
    kwargs.update(overrides)
    return indicator_bundle(c, **kwargs)


def by_type(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    objects = {obj["type"]: obj for obj in bundle["objects"]}
    assert len(objects) == len(bundle["objects"]), "one object per type expected"
    return objects


# --- sco_object ---------------------------------------------------------------------------------------


def test_sco_object_carries_props_and_id(canonical: Canonical) -> None:
    sco = sco_object(canonical)
    assert sco["type"] == canonical.sco_type
    assert sco["spec_version"] == "2.1"
    assert sco["id"] == canonical.sco_id
    for key, value in canonical.props.items():
        assert sco[key] == value
    assert "object_marking_refs" not in sco


def test_new_sco_types_carry_their_extension(canonical: Canonical) -> None:
    sco = sco_object(canonical)
    if canonical.sco_type in NEW_SCO_EXTENSION_IDS:
        assert sco["extensions"] == {NEW_SCO_EXTENSION_IDS[canonical.sco_type]: {"extension_type": "new-sco"}}
    else:
        assert "extensions" not in sco


def test_sco_object_with_tlp_is_marked() -> None:
    sco = sco_object(CANONICALS["phone"], tlp=TLP.RED)
    assert sco["object_marking_refs"] == [TLP.RED.marking_id]


@pytest.mark.parametrize("key", ["domain", "url", "email", "social", "social-vocab"])
def test_standard_scos_equal_stix2_objects(key: str) -> None:
    c = CANONICALS[key]
    library = stix2.parse(sco_object(c))
    assert library.id == c.sco_id  # python-stix2 recomputes nothing different from what we send
    cls = {"domain-name": stix2.DomainName, "url": stix2.URL, "email-addr": stix2.EmailAddress}.get(
        c.sco_type, stix2.UserAccount
    )
    assert cls(**dict(c.props)).id == c.sco_id


# --- report_bundle --------------------------------------------------------------------------------------


def test_report_bundle_objects(canonical: Canonical) -> None:
    bundle = report_bundle(
        canonical,
        producer="acme-telco",
        now=NOW,
        tlp=TLP.AMBER_STRICT,
        confidence=80,
        scam_types=["investment"],
        description="Caller claims to be the bank's fraud team.",
        country_hint="US",
        raw_value="(415) 555-2671",
    )
    assert bundle["type"] == "bundle"
    assert uuid.UUID(bundle["id"].removeprefix("bundle--")).version == 4
    objs = by_type(bundle)
    assert set(objs) == {"indicator", canonical.sco_type, "relationship", "identity", "marking-definition"}
    ind = objs["indicator"]
    author = producer_identity_id("acme-telco")
    assert ind["id"] == canonical.indicator_id
    assert ind["pattern"] == canonical.pattern
    assert ind["pattern_type"] == "stix"
    assert ind["indicator_types"] == ["malicious-activity"]
    assert ind["created"] == ind["modified"] == ind["valid_from"] == "2026-11-22T10:00:00.123Z"
    assert ind["created_by_ref"] == author
    assert ind["confidence"] == 80
    assert ind["revoked"] is False
    assert ind["description"] == "Caller claims to be the bank's fraud team."
    assert ind["object_marking_refs"] == [TLP.AMBER_STRICT.marking_id]
    assert ind["extensions"] == {
        INDICATOR_EXTENSION_ID: {
            "extension_type": "property-extension",
            "scam_types": ["investment"],
            "country_hint": "US",
            "raw_value": "(415) 555-2671",
        }
    }
    assert objs[canonical.sco_type]["id"] == canonical.sco_id
    assert objs[canonical.sco_type]["object_marking_refs"] == [TLP.AMBER_STRICT.marking_id]
    rel = objs["relationship"]
    assert rel["id"] == relationship_id(canonical.indicator_id, "based-on", canonical.sco_id)
    assert (rel["source_ref"], rel["relationship_type"], rel["target_ref"]) == (
        canonical.indicator_id,
        "based-on",
        canonical.sco_id,
    )
    assert rel["created_by_ref"] == author
    assert rel["object_marking_refs"] == [TLP.AMBER_STRICT.marking_id]
    assert objs["identity"] == producer_identity("acme-telco", NOW)
    assert objs["marking-definition"] == TLP.AMBER_STRICT.marking_definition()


def test_report_bundle_defaults() -> None:
    bundle = report_bundle(CANONICALS["domain"], producer="acme", now=NOW)
    ind = by_type(bundle)["indicator"]
    assert ind["object_marking_refs"] == [TLP.GREEN.marking_id]
    assert "confidence" not in ind
    assert ind["revoked"] is False
    assert ind["name"]
    assert ind["description"] == "Reported by acme as scam."
    # Optional extension fields are left out, not sent empty.
    assert ind["extensions"][INDICATOR_EXTENSION_ID] == {"extension_type": "property-extension"}


def test_report_bundle_options() -> None:
    valid_from = NOW - timedelta(days=2)
    bundle = report_bundle(
        CANONICALS["url"],
        producer="acme",
        now=NOW,
        valid_from=valid_from,
        revoked=True,
        bundle_id="bundle--11111111-2222-4333-8444-555555555555",
    )
    assert bundle["id"] == "bundle--11111111-2222-4333-8444-555555555555"
    ind = by_type(bundle)["indicator"]
    assert ind["revoked"] is True
    assert ind["valid_from"] == stix_timestamp(valid_from)


def test_report_bundles_of_one_value_share_ids_but_not_bundle_ids() -> None:
    c = CANONICALS["phone"]
    a = report_bundle(c, producer="acme", now=NOW)
    b = report_bundle(c, producer="globex", now=LATER)
    assert a["id"] != b["id"]
    assert by_type(a)["indicator"]["id"] == by_type(b)["indicator"]["id"]
    assert by_type(a)["relationship"]["id"] == by_type(b)["relationship"]["id"]
    assert by_type(a)["identity"]["id"] != by_type(b)["identity"]["id"]


def test_producer_identity() -> None:
    ident = producer_identity("acme-telco", NOW)
    assert ident["id"] == producer_identity_id("acme-telco")
    assert ident["name"] == "acme-telco"
    assert ident["identity_class"] == "organization"
    assert ident["created"] == ident["modified"] == stix_timestamp(NOW)


# --- indicator_bundle ------------------------------------------------------------------------------------


def test_indicator_bundle_objects(canonical: Canonical) -> None:
    bundle = published(canonical)
    objs = by_type(bundle)
    assert set(objs) == {"indicator", canonical.sco_type, "relationship", "marking-definition"}
    ind = objs["indicator"]
    assert ind["id"] == canonical.indicator_id
    assert ind["created_by_ref"] == SCAMSHARE_IDENTITY_ID
    assert ind["created"] == stix_timestamp(NOW)
    assert ind["modified"] == stix_timestamp(LATER)
    assert ind["valid_until"] == stix_timestamp(NOW + timedelta(days=90))
    assert ind["confidence"] == 70
    assert ind["revoked"] is False
    assert ind["object_marking_refs"] == [TLP.AMBER.marking_id]
    assert ind["extensions"][INDICATOR_EXTENSION_ID] == {
        "extension_type": "property-extension",
        "scam_types": ["investment", "impersonation"],
        "version": 3,
        "status": "active",
        "score": 64,
        "reporter_count": 3,
        "report_count": 5,
        "sightings": {"true_positive": 2, "false_positive": 1, "blocked": 9},
        "first_reported": stix_timestamp(NOW),
        "last_reported": stix_timestamp(LATER),
        "allowlisted": False,
        "enrichment": {"country": "US", "line_type": "mobile"},
    }
    rel = objs["relationship"]
    assert rel["created_by_ref"] == SCAMSHARE_IDENTITY_ID
    assert rel["modified"] == ind["modified"]
    assert objs["marking-definition"] == TLP.AMBER.marking_definition()


def test_indicator_bundle_names_no_producer() -> None:
    text = dumps(published(CANONICALS["phone"])).decode()
    assert SCAMSHARE_IDENTITY_ID in text  # the scamshare identity is referenced ...
    assert '"type":"identity"' not in text  # ... but no identity object travels
    assert producer_identity_id("acme-telco") not in text


def test_revoked_version() -> None:
    ind = by_type(published(CANONICALS["wallet"], revoked=True, version=4))["indicator"]
    assert ind["revoked"] is True
    assert ind["extensions"][INDICATOR_EXTENSION_ID]["version"] == 4
    assert "Revoked" in ind["description"]


def test_missing_sighting_counts_are_zero() -> None:
    ind = by_type(published(CANONICALS["phone"], sightings={"blocked": 1}))["indicator"]
    assert ind["extensions"][INDICATOR_EXTENSION_ID]["sightings"] == {
        "true_positive": 0,
        "false_positive": 0,
        "blocked": 1,
    }


def test_no_valid_until_is_left_out() -> None:
    assert "valid_until" not in by_type(published(CANONICALS["phone"], valid_until=None))["indicator"]


@pytest.mark.parametrize(
    "valid_until",
    [NOW, NOW - timedelta(days=1), NOW + timedelta(microseconds=500)],
    ids=["equal", "before", "same-millisecond"],
)
def test_valid_until_is_clamped_after_valid_from(valid_until: datetime) -> None:
    ind = by_type(published(CANONICALS["phone"], valid_until=valid_until))["indicator"]
    assert ind["valid_from"] == "2026-11-22T10:00:00.123Z"
    assert ind["valid_until"] == "2026-11-22T10:00:00.124Z"


def test_modified_is_clamped_to_created() -> None:
    ind = by_type(published(CANONICALS["phone"], modified=NOW - timedelta(hours=1)))["indicator"]
    assert ind["modified"] == ind["created"]


def test_enrichment_is_copied() -> None:
    enrichment = {"country": "US"}
    ind = by_type(published(CANONICALS["phone"], enrichment=enrichment))["indicator"]
    ind["extensions"][INDICATOR_EXTENSION_ID]["enrichment"]["country"] = "XX"
    assert enrichment == {"country": "US"}


def test_empty_scam_types_are_left_out() -> None:
    ind = by_type(published(CANONICALS["phone"], scam_types=[]))["indicator"]
    assert "scam_types" not in ind["extensions"][INDICATOR_EXTENSION_ID]


def test_bundles_share_no_mutable_state() -> None:
    a = published(CANONICALS["phone"])
    by_type(a)["marking-definition"]["name"] = "changed"
    by_type(a)[CANONICALS["phone"].sco_type]["extensions"].clear()
    b = published(CANONICALS["phone"])
    assert by_type(b)["marking-definition"]["name"] == "TLP:AMBER"
    assert by_type(b)["phone-number"]["extensions"]


# --- serialisation and timestamps ------------------------------------------------------------------------


def test_dumps_is_compact_json_that_round_trips(canonical: Canonical) -> None:
    bundle = published(canonical)
    data = dumps(bundle)
    assert isinstance(data, bytes)
    assert b"\n" not in data
    assert b'": ' not in data
    assert orjson.loads(data) == bundle


def test_dumps_keeps_unicode() -> None:
    c = Canonical(
        kind="email",
        value="ü@bücher.example",
        props={"value": "ü@bücher.example"},
        id_props={"value": "ü@bücher.example"},
        pattern_props={"value": "ü@bücher.example"},
    )
    assert "bücher".encode() in dumps(report_bundle(c, producer="acme", now=NOW))


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1971, 1, 2),
        max_value=datetime(9998, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
        ),
    )
)
def test_fast_timestamp_equals_stix_timestamp(moment: datetime) -> None:
    assert _timestamp(moment) == stix_timestamp(moment)


def test_bundle_ids_are_fresh_uuid4s_written_as_the_uuid_module_writes_them() -> None:
    ids = {new_bundle_id() for _ in range(2000)}
    assert len(ids) == 2000
    for bundle_id in ids:
        prefix, _, text = bundle_id.partition("--")
        parsed = uuid.UUID(text)
        assert (prefix, parsed.version, parsed.variant, str(parsed)) == ("bundle", 4, uuid.RFC_4122, text)


def test_a_forked_child_never_hands_out_the_ids_its_parent_drew_ahead() -> None:
    new_bundle_id()  # the parent now holds ids drawn ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids, then straight out (no pytest teardown in the child)
        os.write(write, " ".join(new_bundle_id() for _ in range(8)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {new_bundle_id() for _ in range(300)}  # past the rest of the parent's draw
    assert len(child) == 8 and not child & parent


def test_threads_drawing_bundle_ids_together_never_share_one() -> None:
    def draw(_: int) -> list[str]:
        return [new_bundle_id() for _ in range(3000)]

    with ThreadPoolExecutor(4) as pool:
        ids = [i for chunk in pool.map(draw, range(4)) for i in chunk]
    assert len(set(ids)) == len(ids) == 12000
