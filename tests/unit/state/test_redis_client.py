"""The hiredis packer sends exactly the bytes redis-py's own packer would, for every argument type."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio.connection import Connection, SSLConnection
from redis.exceptions import DataError

from pipeline.state.redis_client import HiredisPackedConnection, HiredisPackedSSLConnection, redis_from_url

ARGS = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["SET", "HSET", "EVALSHA", "CONFIG GET", b"MGET", b"CLIENT SETNAME"]), st.lists(ARGS))
def test_any_command_packs_to_the_same_bytes_as_redis_py(name: str | bytes, args: list[object]) -> None:
    ours = b"".join(HiredisPackedConnection().pack_command(name, *args))
    theirs = b"".join(Connection().pack_command(name, *args))
    assert ours == theirs


def test_booleans_are_refused_as_redis_py_refuses_them() -> None:
    with pytest.raises(DataError):
        HiredisPackedConnection().pack_command("SET", "k", True)
    with pytest.raises(DataError):  # anywhere in a script call's thousands of arguments
        HiredisPackedConnection().pack_command("EVALSHA", "sha", 1, "k", *["a"] * 3000, False)
    # 1 and 0 are ints, not booleans: packed by hiredis like redis-py packs them
    ours = b"".join(HiredisPackedConnection().pack_command("EVALSHA", "sha", 1, "k", 1, 0))
    assert ours == b"".join(Connection().pack_command("EVALSHA", "sha", 1, "k", 1, 0))


def test_the_client_uses_the_packing_connection_of_its_url_kind() -> None:
    assert redis_from_url("redis://127.0.0.1:1/0").connection_pool.connection_class is HiredisPackedConnection
    ssl = redis_from_url("rediss://127.0.0.1:1/0").connection_pool.connection_class
    assert ssl is HiredisPackedSSLConnection and issubclass(ssl, SSLConnection)
