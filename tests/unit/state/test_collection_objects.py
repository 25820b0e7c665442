"""What the collections store reads off an object's bytes without asking Redis: finality and version order."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.state.collections import is_final, version_key

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["revoked", "a", "b"]), inner)
    ),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(["revoked", "id", "x", "extensions"]), JSON), st.booleans())
def test_an_object_is_final_exactly_when_its_own_revoked_is_true(obj: dict, indent: bool) -> None:
    # Nested "revoked" keys and non-compact JSON (a TAXII client's own formatting) never fool the fast path.
    raw = orjson.dumps(obj, option=orjson.OPT_INDENT_2 if indent else 0)
    assert is_final(raw) is (obj.get("revoked") is True)


def test_versions_order_by_time_and_unreadable_ones_have_no_order() -> None:
    assert version_key("2026-11-22T10:00:00.001Z") - version_key("2026-11-22T10:00:00.000Z") == 1000
    assert version_key("") == version_key("not a time") == 0
    assert version_key("1970-01-01T00:00:00.000001Z") == 1
