"""One set of field rules for both sides of the wire: what the producer accepts, the worker accepts alike."""

from __future__ import annotations

import pytest

from pipeline.processors.validate import _scam_types
from pipeline.producers.records import parse_scam_types
from pipeline.wire.fields import FieldError, scam_type, scam_types
from pipeline.wire.rejected import Rejected

SAMPLES = [
    ["card  fraud"],  # the producer said card-fraud, the worker card--fraud
    ["Card_Fraud", "card fraud", " card-fraud "],
    ["investment", "", "romance"],  # a blank item: skipped by both (the worker used to reject it)
    ["tech__support", "Tech Support"],
    [f"t{i}" for i in range(17)],  # too many: both refuse
    ["bad/type"],  # not a-z 0-9 -: both refuse
    ["x" * 49],  # too long
    [3],  # not a string
]


@pytest.mark.parametrize("raw", SAMPLES)
def test_producer_and_worker_agree_on_scam_types(raw: list[object]) -> None:
    try:
        produced: tuple[str, ...] | None = parse_scam_types(raw)
    except FieldError:
        produced = None
    validated = _scam_types(raw)
    if produced is None:
        assert isinstance(validated, Rejected)
    else:
        assert validated == tuple(sorted(produced))


def test_scam_type_normalisation() -> None:
    assert scam_type(" Card_Fraud ") == "card-fraud"
    assert scam_type("card \t fraud") == "card-fraud"
    assert scam_type("   ") == ""
    assert scam_types(["b", "a", "b"]) == ("b", "a")
    with pytest.raises(FieldError, match="1-48 characters"):
        scam_type("café")
