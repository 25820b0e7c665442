"""The consumer's eager first wait answers as mode's ``wait_first`` does, with no task when none is needed."""

from __future__ import annotations

import asyncio
from typing import Any

import mode
import pytest

from pipeline.kafka.eager_wait import EagerFirstWait, first_step


class Eager(EagerFirstWait, mode.Service):
    """A service with the consumer's wait_first (faust's consumer is one of these, with Kafka behind it)."""


def tasks_now() -> int:
    return len(asyncio.all_tasks())


async def test_a_callback_that_does_not_suspend_is_the_whole_wait_without_a_task() -> None:
    service = Eager()
    suspended = asyncio.Event()
    seen: list[int] = []

    async def callback(n: int) -> int:
        seen.append(n)
        return n * 2

    before = tasks_now()
    result = await service.wait_first(callback(21), suspended.wait())
    assert result.results == [42] and len(result.done) == 1 and not result.stopped
    assert seen == [21] and tasks_now() == before


async def test_a_callback_that_suspends_finishes_in_wait_first_with_its_result() -> None:
    service = Eager()
    suspended = asyncio.Event()
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def callback() -> str:
        got = await gate  # a full queue, say
        await asyncio.sleep(0)  # and a bare yield after it
        return got + "!"

    waiting = asyncio.ensure_future(service.wait_first(callback(), suspended.wait()))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    gate.set_result("room")
    result = await asyncio.wait_for(waiting, 1)
    assert result.results == ["room!"] and not result.stopped


async def test_a_suspension_while_the_callback_waits_cancels_it_as_wait_first_does() -> None:
    service = Eager()
    suspended = asyncio.Event()
    cleaned: list[str] = []

    async def callback() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.append("callback saw its cancellation")

    waiting = asyncio.ensure_future(service.wait_first(callback(), suspended.wait()))
    await asyncio.sleep(0.01)
    suspended.set()  # faust suspends the flow for a rebalance
    result = await asyncio.wait_for(waiting, 1)
    await asyncio.sleep(0)
    assert len(result.done) == 1 and not result.stopped
    assert cleaned == ["callback saw its cancellation"]


async def test_an_error_in_the_first_step_or_later_propagates() -> None:
    service = Eager()

    async def at_once() -> None:
        raise ValueError("bad message")

    async def later() -> None:
        await asyncio.sleep(0)
        raise KeyError("later")

    with pytest.raises(ValueError, match="bad message"):
        await service.wait_first(at_once(), asyncio.Event().wait())
    with pytest.raises(KeyError):
        await service.wait_first(later(), asyncio.Event().wait())


async def test_a_stopped_service_waits_as_mode_does() -> None:
    service = Eager()
    service._stopped.set()
    ran: list[bool] = []

    async def callback() -> None:
        ran.append(True)

    result = await service.wait_first(callback(), asyncio.Event().wait())
    assert result.stopped and result.done == []
    assert ran == [True]  # mode's wait_first started it in a task of its own, as before


def test_first_step_hands_back_the_rest_of_a_coroutine_that_suspends() -> None:
    async def two_steps(box: list[Any]) -> str:
        await asyncio.sleep(0)
        box.append("second step")
        return "done"

    async def main() -> tuple[bool, Any, list[Any]]:
        box: list[Any] = []
        finished, rest = first_step(two_steps(box))
        assert not finished and box == []
        return finished, await rest, box

    assert asyncio.run(main()) == (False, "done", ["second step"])
