"""The per-shard batch reads: one script call per shard, replies put back in the callers' order."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from pipeline.state.redis_batch import Batch
from pipeline.state.redis_keys import SHARDS, Keys, shard_tag
from pipeline.state.redis_reads import MAX_FIELDS, queue_reads

SCRIPT: Any = object()  # queued, never run: Batch only records the call
_RNG = random.Random(3)
IDS = [f"indicator--{uuid.UUID(int=_RNG.getrandbits(128))}" for _ in range(500)]


def test_a_batch_of_500_indicators_is_one_call_per_shard() -> None:
    batch = Batch(client=None)
    queue_reads(batch, SCRIPT, Keys("p:"), IDS)
    shards = {shard_tag(i) for i in IDS}
    assert len(batch) == len(shards) <= SHARDS
    for script, (keys, argv), _ in batch._calls:
        assert script is SCRIPT and argv == []  # the whole hash
        half = len(keys) // 2
        assert len({k[2:6] for k in keys}) == 1  # one shard tag, one slot
        assert [k.split(":")[-1] for k in keys[:half]] == [k.split(":")[-1] for k in keys[half:]]
        assert all("}i:" in k for k in keys[:half]) and all("}erased:" in k for k in keys[half:])


def test_the_replies_come_back_in_the_callers_order() -> None:
    ids = IDS[:40]
    batch = Batch(client=None)
    reads = queue_reads(batch, SCRIPT, Keys("p:"), ids)
    replies = []
    for _, (keys, _argv), _ in batch._calls:  # what READ_MANY answers: the hash, then 1 if erased
        n = len(keys) // 2
        replies.append([[[b"k", key.encode()], int(key.endswith(("0", "5")))] for key in keys[:n]])
    rows, erased = reads.take(replies)
    keys = Keys("p:")
    assert rows == [{b"k": keys.state(i).encode()} for i in ids]
    assert erased == [keys.state(i).endswith(("0", "5")) for i in ids]


def test_fields_are_passed_and_left_as_lists() -> None:
    batch = Batch(client=None)
    reads = queue_reads(batch, SCRIPT, Keys("p:"), IDS[:1], ["d:telco", "d:bank"])
    assert batch._calls[0][1][1] == ["d:telco", "d:bank"]
    assert reads.take([[[[b"3", None], 0]]]) == ([[b"3", None]], [False])
    too_many = [f"d:{n}" for n in range(MAX_FIELDS + 1)]
    with pytest.raises(ValueError, match="command by command"):
        queue_reads(Batch(client=None), SCRIPT, Keys("p:"), IDS[:1], too_many)
