"""natural_batches: a batch is what is ready, never a fixed wait (faust's in-memory channel, no broker)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
import pytest

from pipeline.worker.batching import natural_batches

Batches = list[tuple[list[int], float]]


async def collect(
    tmp_path: Path, feed: Callable[[Any], Awaitable[None]], *, want: int, max_: int, within: float, gap: float
) -> tuple[Batches, Any]:
    """Run ``natural_batches`` over a channel that ``feed`` sends to; (values, seconds since the feed began)
    per batch, until ``want`` values came; and the stream."""
    app = faust.App("t-batches", broker="kafka://127.0.0.1:1", store="memory://", datadir=str(tmp_path))
    channel = app.channel()
    stream = channel.stream()
    app.flow_control.resume()  # a worker's app resumes it once partitions are assigned
    loop = asyncio.get_running_loop()
    began: list[float] = []

    async def feeding() -> None:
        await asyncio.sleep(0.1)  # the stream's drainer subscribes first; a channel keeps nothing for later
        began.append(loop.time())
        await feed(channel)

    feeder = asyncio.ensure_future(feeding())
    got: Batches = []
    batches = natural_batches(stream, max_, within, gap)
    try:
        async with asyncio.timeout(20):
            async for batch in batches:
                got.append(([e.value for e in batch], loop.time() - began[0]))
                if sum(len(values) for values, _ in got) >= want:
                    break
    finally:
        await batches.aclose()
        feeder.cancel()
        close_consumer_loop(app)
    return got, stream


def close_consumer_loop(app: faust.App) -> None:
    """Close the event loop faust's consumer made for its (never started) thread when the stream touched
    ``app.consumer``: left open, a later full collection finalises it and pytest reports an unraisable
    ``BaseEventLoop.__del__`` error against whichever test happened to run then."""
    thread = getattr(app._consumer, "_thread", None) if app._consumer is not None else None
    if thread is not None and not thread.thread_loop.is_closed():
        thread.thread_loop.close()


async def send(channel: Any, values: range) -> None:
    for v in values:
        await channel.send(value=v)


async def test_a_burst_comes_in_full_batches_and_its_rest_without_waiting_for_the_window(
    tmp_path: Path,
) -> None:
    got, _ = await collect(tmp_path, lambda ch: send(ch, range(10)), want=10, max_=4, within=5.0, gap=0.01)
    assert [values for values, _ in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    # take_events would hold the last two for the whole 5 s window; here the gap closes the batch.
    assert got[-1][1] < 2.0


async def test_events_apart_by_more_than_the_gap_are_separate_batches(tmp_path: Path) -> None:
    async def two_bursts(channel: Any) -> None:
        await send(channel, range(3))
        await asyncio.sleep(0.3)
        await send(channel, range(3, 5))

    got, _ = await collect(tmp_path, two_bursts, want=5, max_=100, within=5.0, gap=0.05)
    assert [values for values, _ in got] == [[0, 1, 2], [3, 4]]
    assert got[0][1] < 0.25 <= got[1][1] < 2.0


async def test_a_steady_trickle_is_cut_at_the_window(tmp_path: Path) -> None:
    async def trickle(channel: Any) -> None:
        for v in range(40):
            await channel.send(value=v)
            await asyncio.sleep(0.01)  # always within the gap: only the window closes a batch

    got, _ = await collect(tmp_path, trickle, want=40, max_=1000, within=0.1, gap=0.05)
    assert [v for values, _ in got for v in values] == list(range(40))
    assert len(got) >= 3  # ~0.4 s of trickle in 0.1 s windows
    assert all(len(values) < 40 for values, _ in got)


async def test_the_generator_acks_nothing_and_restores_the_stream_when_closed(tmp_path: Path) -> None:
    got, stream = await collect(
        tmp_path, lambda ch: send(ch, range(3)), want=3, max_=10, within=1.0, gap=0.01
    )
    assert [values for values, _ in got] == [[0, 1, 2]]
    assert stream.enable_acks is True
    assert not stream._processors  # its buffering processor is gone


@pytest.mark.parametrize(("max_", "within", "gap"), [(0, 1.0, 0.1), (10, 1.0, 0.0), (10, 0.1, 0.2)])
async def test_nonsense_limits_are_refused(max_: int, within: float, gap: float) -> None:
    app = faust.App("t-batches-bad", broker="kafka://127.0.0.1:1")
    batches = natural_batches(app.channel().stream(), max_, within, gap)
    with pytest.raises(ValueError, match="gap"):
        await batches.__anext__()
