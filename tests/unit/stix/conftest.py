"""Fixtures of the STIX tests."""

from __future__ import annotations

import pytest

from pipeline.canon import Canonical

from .samples import CANONICALS


@pytest.fixture(params=sorted(CANONICALS), ids=str)
def canonical(request: pytest.FixtureRequest) -> Canonical:
    """Each canonical value in turn."""
    return CANONICALS[request.param]
