"""The public surface: a sorted ``__all__`` whose every name imports, typed (``py.typed`` ships)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pipeline


def _isort_key(name: str) -> tuple[int, str]:
    """The order ruff (RUF022) keeps ``__all__`` in: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_every_name_imports() -> None:
    assert pipeline.__all__ == sorted(pipeline.__all__, key=_isort_key)
    for name in pipeline.__all__:
        assert getattr(pipeline, name) is not None, name


def test_the_sdk_names_a_user_needs_are_public() -> None:
    needed = {"Settings", "Publisher", "FeedConsumer", "canonicalize", "ScamshareError"}
    assert needed <= set(pipeline.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        pipeline.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_does_not_load_kafka_clients() -> None:
    """The CLI imports ``pipeline`` first: the broker client stays unloaded until something needs it."""
    code = "import sys, pipeline; print('confluent_kafka' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_py_typed_ships() -> None:
    assert (Path(pipeline.__file__).parent / "py.typed").is_file()
